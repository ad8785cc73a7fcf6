#!/bin/sh
# Secrets leave no residue.  After a route with a password is up, the
# daemon's writable memory (read through /proc/PID/mem) holds no 12 bytes
# of it when it came from the routes file (password-file and
# password-command; answering an ssh prompt, sent in a CONNECT frame for
# a sudo hop), and holds one copy only, in its locked page left out of
# core dumps, when it was given to `spindle up`, until `down`.  The
# agents that received a CONNECT frame, or forwarded one, keep nothing
# either.  The daemon, and a spindle holding a password, are not dumpable:
# another process of their user cannot read them.
. "$(dirname "$0")/lib-fakessh.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no $PY to read the daemon's memory"
command -v runuser >/dev/null || skip "runuser is not installed"
command -v chpasswd >/dev/null || skip "chpasswd is not installed"

# A long random password, for ssh and sudo alike: a chance match of 12 of
# its bytes anywhere is out of the question.
pw="spn-secret-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
echo "$U_A:$pw" | chpasswd || fail "chpasswd $U_A"
printf '%s\n' "$pw" >"$PWFILE"

# An ssh config without keys: the ssh hop (marked for password login)
# needs the password too.
sed '/PasswordAuthentication/d' "$SSH_CFG" >"$TMPD/nokey"
printf '\tPubkeyAuthentication no\n' >>"$TMPD/nokey"
chmod 644 "$TMPD/nokey"
cat >>"$SPINDLE_ROUTES" <<EOF
route both $U_A@127.0.0.1,password+sudo=$U_W
    password-file $PWFILE
route deep local+$U_A@127.0.0.1,password+sudo=$U_W
    password-file $PWFILE
EOF

# scan PID: one line per place in PID's writable memory holding any 12
# bytes of the password in a row: "ADDR LOCKED_KB VMFLAGS MAPPING".
scan() {
	$PY - "$1" "$pw" <<'EOF'
import sys
pid, pw = sys.argv[1], sys.argv[2].encode()
parts = {pw[i:i + 12] for i in range(len(pw) - 11)}
info, cur = {}, None
for line in open("/proc/%s/smaps" % pid):
    f = line.split()
    if "-" in f[0] and len(f) >= 5:
        cur = f[0]
        info[cur] = {"perms": f[1], "name": f[5] if len(f) > 5 else "anon",
                     "locked": "0", "flags": ""}
    elif f[0] == "Locked:":
        info[cur]["locked"] = f[1]
    elif f[0] == "VmFlags:":
        info[cur]["flags"] = ",".join(f[1:])
mem = open("/proc/%s/mem" % pid, "rb", 0)
for rng, m in info.items():
    if "w" not in m["perms"] or m["name"] in ("[vvar]", "[vsyscall]"):
        continue
    lo, hi = (int(x, 16) for x in rng.split("-"))
    try:
        mem.seek(lo)
        data = mem.read(hi - lo)
    except OSError:
        continue
    for part in parts:
        at = data.find(part)
        while at >= 0:
            print("%x %s %s %s" % (lo + at, m["locked"], m["flags"],
                                   m["name"]))
            at = data.find(part, at + 1)
EOF
}

# residue WHAT PID: fail if PID's memory holds the password anywhere.
residue() {
	scan "$2" >"$TMPD/scan" || fail "$1: cannot read the memory of $2"
	[ -s "$TMPD/scan" ] && {
		sed 's/^/  found at /' "$TMPD/scan" >&2
		fail "$1: the password is still in the memory of $2"
	}
	return 0
}

# Routes of the file: the password is read, used and wiped.  Looked for
# as soon as each route is up (later traffic would overwrite what is
# left in freed memory, and hide it).
for r in web webcmd both deep; do
	case $r in both | deep) cfg=$TMPD/nokey ;; *) cfg=$SSH_CFG ;; esac
	SPINDLE_SSH_ARGS="-F $cfg" spn check $r >"$TMPD/out" 2>&1 ||
	    fail "check $r: $(cat "$TMPD/out")"
	residue "route $r of the routes file" "$(daemon_pid)"
done
out=$(SPINDLE_SSH_ARGS="-F $TMPD/nokey" spn run both -- id -un 2>"$TMPD/err")
check_rc "run both (ssh and sudo passwords)" 0 $? "$TMPD/err"
check "run both: user" "$U_W" "$out"
dpid=$(daemon_pid)
# The agents that took the CONNECT frame for sudo (web's hop 1) or passed
# it on (deep's hop 1, to its hop 2) keep nothing of it either.
# pids ROUTE: its agents' pids, hop 1 first.
pids() {
	spn ls --json | $PY -c 'import json, sys
print(" ".join(str(p) for r in json.load(sys.stdin)
               if r["name"] == sys.argv[1] for p in r["pids"]))' "$1"
}
for a in $(pids web | cut -d' ' -f1) $(pids deep | cut -d' ' -f1,2); do
	[ "$a" -gt 0 ] 2>/dev/null || fail "an agent of web or deep has pid '$a'"
	residue "the agent that passed the password on to sudo" "$a"
done

# up with a password: kept for reconnecting, in one locked page left out
# of core dumps, and only there.
spn up --password-file "$PWFILE" kept "$U_A@127.0.0.1+sudo=$U_W" \
    2>"$TMPD/err"
check_rc "up with a password" 0 $? "$TMPD/err"
scan "$dpid" >"$TMPD/scan" || fail "cannot read the daemon's memory"
[ -s "$TMPD/scan" ] || fail "up: the password kept for reconnecting is gone"
awk '$2 == 0 || $3 !~ /(^|,)dd(,|$)/ || $3 !~ /(^|,)lo(,|$)/' \
    "$TMPD/scan" >"$TMPD/bad"
[ -s "$TMPD/bad" ] && {
	sed 's/^/  found at /' "$TMPD/scan" >&2
	fail "up: the password is in memory that is not locked and undumpable"
}
check "up: 12-byte pieces of the password in memory (one copy)" \
    $((${#pw} - 11)) "$(wc -l <"$TMPD/scan" | tr -d ' ')"
out=$(spn run kept -- id -un 2>"$TMPD/err")
check "run on the up route" "$U_W" "$out"
# Reconnecting takes it from there (a hop killed: the route goes down).
kill -KILL "$(spn ls --json | $PY -c 'import json, sys
print([r for r in json.load(sys.stdin) if r["name"] == "kept"][0]["pids"][0])')"
t=50
while [ $t -gt 0 ] && spn ls | grep -q '^kept  *up '; do
	sleep 0.1
	t=$((t - 1))
done
out=$(spn run kept -- id -un 2>"$TMPD/err")
check "run on the up route after it went down" "$U_W" "$out"
spn down kept || fail "down kept"
residue "after down" "$dpid"

# Not dumpable: another process of the same user cannot read the daemon,
# nor a spindle while it holds a password (as $U_O: root reads anything).
od=$SSHW/$TEST-o
mkdir -m 700 "$od" && cp "$PWFILE" "$od/pw" && chown -R "$U_O:" "$od" ||
    fail "cannot make $od"
as_o() {
	runuser -u "$U_O" -- env SPINDLE_RUNTIME_DIR="$od/rt" \
	    SPINDLE_ROUTES=/dev/null "$@"
}
readable() {
	as_o cat "/proc/$1/environ" >/dev/null 2>&1
}
# pid_of PATTERN: the spindle process whose argv matches, waiting up to
# 15 s for it.
pid_of() {
	_t=150
	while [ $_t -gt 0 ]; do
		for _p in $(pgrep -f "$1"); do
			[ "$(comm_of "$_p")" = spindle ] && echo "$_p" &&
			    return 0
		done
		sleep 0.1
		_t=$((_t - 1))
	done
	fail "no spindle process matching '$1'"
}
as_o timeout 20 "$SPINDLE" up lo local >"$TMPD/err" 2>&1 ||
    fail "up as $U_O: $(cat "$TMPD/err")"
odpid=$(as_o "$SPINDLE" daemon status | sed -n 's/^running, pid \([0-9]*\),.*/\1/p')
[ -n "$odpid" ] || fail "no daemon of $U_O"
# Two commands that wait for $od/go: clients with and without a password.
wait_go="while [ ! -e '$od/go' ]; do sleep 0.1; done"
as_o timeout 60 "$SPINDLE" run --password-file "$od/pw" lo -- \
    sh -c "$wait_go; echo with" >"$TMPD/with" 2>"$TMPD/err" &
bg=$!
as_o timeout 60 "$SPINDLE" run lo -- sh -c "$wait_go; echo without" \
    >"$TMPD/without" 2>&1 &
bg2=$!
with=$(pid_of "spindle run --password-file .* echo with")
without=$(pid_of "spindle run lo -- sh -c .* echo without")
readable "$without" || fail "a spindle without a password is not readable"
readable "$with" && fail "a spindle holding a password is dumpable"
readable "$odpid" && fail "the daemon is dumpable"
touch "$od/go"
wait $bg
check_rc "run with a password as $U_O" 0 $? "$TMPD/err"
check "run with a password as $U_O" with "$(cat "$TMPD/with")"
wait $bg2
check "run without a password as $U_O" without "$(cat "$TMPD/without")"
as_o timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
pass
