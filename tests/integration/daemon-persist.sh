#!/bin/sh
# Idle routes expire, as with ssh's ControlPersist: an inline route, a
# direct route of the shim, a routes-file route and one `up --persist`'d
# close once idle for their persist time, with every process of theirs
# (ssh clients, agents, the remote sshd sessions); a failed route leaves
# ls as late; a command started just before the expiry keeps its route
# until it ends; an `up`'d route and `persist no` stay.
. "$(dirname "$0")/lib-fakessh.sh"
PY=/usr/bin/python3

P=10	# the routes file's global persist
cat >"$SPINDLE_ROUTES" <<EOF
# written by $TEST
persist $P
route short $U_B@127.0.0.1+sudo=$U_W
route keep local
    persist no
EOF
INLINE=$U_B@127.0.0.1
FAILED=$U_O@127.0.0.1+sudo=$U_W

# field NAME N: field N of NAME's line in spindle ls (2 state, 4 idle,
# 5 close-in, 8 commands, 9 pids).
field() {
	spn ls 2>/dev/null | awk -v n="$1" -v f="$2" '$1 == n { print $f }'
}

# secs H:MM:SS: seconds, or -1 for anything else ("-", "never").
secs() {
	echo "$1" | awk -F: 'NF == 3 { print $1 * 3600 + $2 * 60 + $3; next }
	    { print -1 }'
}

# closed NAME SECS: wait until NAME is closed: gone from ls, or for a
# route of the routes file listed down with no pids and no error.
closed() {
	_t=$(($2 * 10))
	while [ "$_t" -gt 0 ]; do
		spn ls >"$TMPD/ls" 2>&1
		awk -v n="$1" '$1 == n { s = $2; p = $9; getline e }
		    END { exit !(s == "" ||
		    (s == "down" && p == "-" && e !~ /last error/)) }' \
		    "$TMPD/ls" && return 0
		_t=$((_t - 1))
		sleep 0.1
	done
	fail "$1 not closed after $2 s: $(cat "$TMPD/ls")"
}

# made NAME PERSIST: right after NAME was used, ls says how long it has
# been idle and when it closes (PERSIST seconds idle, or never).
made() {
	spn ls >"$TMPD/ls" 2>&1 || fail "ls: $(cat "$TMPD/ls")"
	_c=$(awk -v n="$1" '$1 == n { print $5 }' "$TMPD/ls")
	_i=$(awk -v n="$1" '$1 == n { print $4 }' "$TMPD/ls")
	if [ "$2" = never ]; then
		[ "$_c" = never ]
	else
		_c=$(secs "$_c")
		[ "$_c" -ge 0 ] && [ "$_c" -le "$2" ]
	fi || fail "$1: close-in not within $2 s: $(cat "$TMPD/ls")"
	[ "$(secs "$_i")" -ge 0 ] || fail "$1: no idle time: $(cat "$TMPD/ls")"
	[ -x "$PY" ] || return 0
	spn ls --json >"$TMPD/json" || fail "ls --json"
	$PY - "$TMPD/json" "$1" "$2" <<'EOF' || fail "ls --json: $(cat "$TMPD/json")"
import json, sys
r = {r["name"]: r for r in json.load(open(sys.argv[1]))}[sys.argv[2]]
p = None if sys.argv[3] == "never" else int(sys.argv[3])
assert r["persist"] == p, r
assert r["idle"] is not None and r["idle"] >= 0, r
if p is None:
    assert r["closes_in"] is None, r
else:
    assert 0 <= r["closes_in"] <= p, r
EOF
}

# Routes of every kind.
out=$(spn up forever local 2>&1) || fail "up forever: $out"
made forever never
spn up --persist soon x local 2>"$TMPD/err"
check_rc "up --persist soon" 2 $? "$TMPD/err"
contains "$TMPD/err" "bad persist 'soon'" || fail "up --persist soon: $(cat "$TMPD/err")"
out=$(spn run keep -- true 2>&1) || fail "run keep: $out"
made keep never
out=$(spn run "$INLINE" -- id -un 2>"$TMPD/err")
check_rc "inline route" 0 $? "$TMPD/err"
check "inline route user" "$U_B" "$out"
made "$INLINE" "$P"
out=$(fssh -l "$U_O" 127.0.0.1 id -un </dev/null 2>"$TMPD/err")
check_rc "direct route" 0 $? "$TMPD/err"
check "direct route user" "$U_O" "$out"
made "$U_O@127.0.0.1" "$P"
spn run "$FAILED" -- true 2>"$TMPD/err"
check_rc "failing route" 255 $? "$TMPD/err"
made "$FAILED" "$P"
check "failed route listed" down "$(field "$FAILED" 2)"
out=$(spn run short -- id -un 2>"$TMPD/err")
check_rc "routes-file route" 0 $? "$TMPD/err"
check "routes-file route user" "$U_W" "$out"
made short "$P"
out=$(spn up --persist "$P" timed "$U_A@127.0.0.1" 2>&1) || fail "up timed: $out"
made timed "$P"
head -n 1 "$TMPD/ls" | grep -q '^NAME  *STATE  *UPTIME  *IDLE  *CLOSE-IN ' ||
    fail "ls header: $(head -n 1 "$TMPD/ls")"
[ -n "$(sshd_sessions)" ] || fail "no sshd session while the routes are up"

# A command started just before short expires keeps it up as long as it
# runs, past its persist time.
c=$(secs "$(field short 5)")
[ "$c" -ge 0 ] || fail "short has no close-in time: $(spn ls)"
[ "$c" -gt 4 ] && sleep $((c - 4))
pids0=$(field short 9)
# (longer than spn's time limit for one spindle)
timeout -k 3 $((P + 60)) "$SPINDLE" run short -- \
    sh -c "sleep $((P + 10)); echo done" </dev/null \
    >"$TMPD/long" 2>"$TMPD/long.err" &
long=$!
t=300
while [ "$t" -gt 0 ] && [ "$(field short 2) $(field short 8)" != "up 1" ]; do
	t=$((t - 1))
	sleep 0.1
done
[ "$t" -gt 0 ] || fail "the command on short did not start: $(cat "$TMPD/long.err")"
t_long=$(date +%s)
pids1=$(field short 9)
[ "$pids1" = "$pids0" ] ||
    log "note: the command came after short expired (a slow machine)"
# Meanwhile the idle ones close.
closed "$INLINE" 30
closed "$U_O@127.0.0.1" 30
closed timed 30
closed "$FAILED" 30
t=$((t_long + P + 2 - $(date +%s)))
[ "$t" -gt 0 ] && sleep "$t"
check "short, busy past its persist time" up "$(field short 2)"
check "short's pids while the command runs" "$pids1" "$(field short 9)"
check "short's idle time while busy" - "$(field short 4)"
wait $long
check_rc "command across the persist time" 0 $? "$TMPD/long.err"
check "its output" done "$(cat "$TMPD/long")"
# Idle again: it goes too, and nothing of the world is left, remote
# sshd sessions included.
closed short $((P + 30))
no_world_procs 20 "routes closed when idle"

# forever and keep stay, idle all along.
for r in forever keep; do
	check "$r after the others closed" up "$(field "$r" 2)"
	check "$r closes" never "$(field "$r" 5)"
	alive "$(field "$r" 9)" || fail "$r: its agent is gone"
done
i=$(secs "$(field forever 4)")
[ "$i" -ge "$P" ] || fail "forever idle for $i s only: $(spn ls)"
pass
