#!/bin/sh
# The trust model (docs/architecture.md, "Trust"), tried as an attacker
# would: a far end that claims contexts it was not asked to create, forges
# sources, calls up and sideways, floods, sends oversized and unknown
# frames or never reads.  Each such route fails with
# "hop N (ROUTE): protocol violation: ..." and nothing else is touched:
# a second route through local+sudo runs commands with stdin throughout,
# with exact output and exit status, and the daemon's memory stays bounded.
# The far end is tests/integration/hostile-ssh, installed as `ssh`.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (a sudo hop to nobody)"
command -v sudo >/dev/null || skip "sudo is not installed"
HOSTILE=${BUILDDIR:-$(dirname "$SPINDLE")}/tests/integration/hostile-ssh
[ -x "$HOSTILE" ] || fail "no $HOSTILE (make check builds it)"

mkdir "$TMPD/bin" && ln -s "$HOSTILE" "$TMPD/bin/ssh" || fail "mkdir"
export PATH="$TMPD/bin:$PATH"
export SPINDLE_RUNTIME_DIR="$TMPD/rt" SPINDLE_ROUTES="$TMPD/routes"
: >"$SPINDLE_ROUTES"
_hostile_cleanup() {
	_rc=$?
	timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
	(exit "$_rc")
	_lib_cleanup
}
trap _hostile_cleanup EXIT
spn daemon start >/dev/null 2>&1 || fail "daemon start"
dpid=$("$SPINDLE" daemon status | sed -n 's/^running, pid \([0-9]*\),.*/\1/p')
[ -n "$dpid" ] || fail "no daemon pid"
track "$dpid"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$dpid/status"; }

GOOD=local+sudo=nobody
# good TAG: one command on the good route; its output and status exact.
good() {
	_out=$(printf 'secret-%s\n' "$1" | spn run "$GOOD" -- \
	    sh -c 'cat; id -un; exit 7' 2>"$TMPD/good.err")
	_rc=$?
	[ "$_rc" = 7 ] && [ "$_out" = "secret-$1
nobody" ] && return 0
	echo "good route ($1): status $_rc, output '$_out'," \
	    "stderr '$(cat "$TMPD/good.err")'"
	return 1
}
good start || fail "$(good start)"
rss0=$(rss)

# A second client keeps using the good route while the attacks go on.
( i=0; while [ $i -lt 40 ] && [ ! -e "$TMPD/stop" ]; do
	good "bg$i" || exit 1
	i=$((i + 1))
done ) >"$TMPD/bg.out" 2>&1 &
BG=$!

# attack ROUTE HOP TEXT: the route fails with exactly that violation.
attack() {
	spn run "$1" -- echo ran >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	if [ "$_rc" != 255 ] || ! contains "$TMPD/err" \
	    "hop $2 ($1): protocol violation: " ||
	    ! contains "$TMPD/err" "$3"; then
		sed 's/^/  stderr: /' "$TMPD/err" >&2
		fail "$1: status $_rc, not the violation '$3'"
	fi
	[ -s "$TMPD/out" ] && fail "$1: a command ran: $(cat "$TMPD/out")"
	good "after-$1" || fail "$(good "after-$1")"
}
attack claim-future 1 "claimed context"
attack claim-past 1 "claimed context"
attack claim-flood 1 "claimed context"
attack forge-src 1 "sent a CALL as context"
attack call-up 1 "sent a CALL to handle 1 of context 1, which it may not call"
spn run local+local -- true || fail "local+local"	# a live neighbour
attack call-sideways 1 "which is not its ancestor"
# What a libspindle program's contexts may send each other (a sibling's
# exports, its dynamic handles) never goes between daemon routes.  Each
# attack's neighbour (its id less one) is a fresh live route.
spn run local+local+local -- true || fail "local+local+local"
attack export-sideways 1 "which is not its ancestor"
spn run local+local+local+local -- true || fail "local+local+local+local"
attack data-sideways 1 "which is not its ancestor"
attack oversized 1 "invalid frame: frame of 104857600 bytes exceeds limit"
attack unknown-kind 1 "invalid frame: unknown frame kind 99"
attack no-read 1 "does not read what it is sent"
# The same rule at every hop: an honest agent cuts off its own child.
attack local+claim-future 2 "claimed context"
attack local+local+call-up 3 "which it may not call"

# Tunnels: a LISTEN "bound" on a port no TCP has is a malformed reply
# (the client hears so), not a listener to tell of.
HOLD=${BUILDDIR:-$(dirname "$SPINDLE")}/tests/integration/listen-hold
"$HOLD" listen-port - 0 127.0.0.1 1 </dev/null >"$TMPD/out" 2>"$TMPD/err"
rc=$?
if [ "$rc" != 255 ] || ! contains "$TMPD/err" "malformed LISTEN reply"; then
	fail "listen-port: status $rc, '$(cat "$TMPD/out" "$TMPD/err")'"
fi
good after-listen-port || fail "$(good after-listen-port)"

# A flood of log records: a bounded number reach the daemon's log, and
# no terminal escape reaches it at all.
t0=$(date +%s)
spn run log-flood -- true >/dev/null 2>&1
t1=$(date +%s)
n=$(grep -c 'flood' "$SPINDLE_RUNTIME_DIR/daemon.log")
max=$((2000 + 200 * (t1 - t0 + 1) + 100))	# burst, then 200/s
[ "$n" -le "$max" ] || fail "log flood: $n records logged in $((t1 - t0)) s"
[ "$n" -ge 100 ] || fail "log flood: only $n records logged (test broken?)"
grep -q "$(printf '\033')" "$SPINDLE_RUNTIME_DIR/daemon.log" &&
    fail "a terminal escape reached the daemon log"

touch "$TMPD/stop"
wait "$BG" || fail "good route under attack: $(cat "$TMPD/bg.out")"
good end || fail "$(good end)"

# ls names the failed route's violation; the good route is up.
spn ls >"$TMPD/ls" 2>&1 || fail "ls: $(cat "$TMPD/ls")"
grep -q "protocol violation" "$TMPD/ls" ||
    fail "ls does not show the violation: $(cat "$TMPD/ls")"
grep -q "^$GOOD  *up " "$TMPD/ls" || fail "good route not up: $(cat "$TMPD/ls")"

rss1=$(rss)
log "daemon RSS ${rss0} KiB before the attacks, ${rss1} KiB after"
[ $((rss1 - rss0)) -lt 32768 ] ||
    fail "daemon RSS grew from $rss0 to $rss1 KiB"
pass
