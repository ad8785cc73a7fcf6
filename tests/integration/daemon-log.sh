#!/bin/sh
# The daemon's log: every line with the time (UTC, ms), the daemon's pid,
# and the route it is about; `spindle daemon log` prints it, `-f` follows
# it across the daemon's restart and the log's rotation (past 4 MiB it
# becomes daemon.log.1); -v on a client shows what the daemon logged about
# its route while the request ran (a hop's stderr, say).
. "$(dirname "$0")/lib.sh"
export SPINDLE_RUNTIME_DIR="$TMPD/rt" SPINDLE_ROUTES="$TMPD/routes"
: >"$SPINDLE_ROUTES"
LOG=$SPINDLE_RUNTIME_DIR/daemon.log
# An ssh that says a lot on stderr and fails: its route's lines fill the
# log past its limit once (32000 lines of about 150 bytes).
mkdir "$TMPD/bin" || fail "mkdir"
cat >"$TMPD/bin/ssh" <<'EOF'
#!/bin/sh
yes 'spew: the quick brown fox jumps over the lazy dog, again and again' |
    head -n 32000 >&2
exit 255
EOF
chmod +x "$TMPD/bin/ssh"
export PATH="$TMPD/bin:$PATH"
daemon_stop_on_exit

# wait_for FILE TEXT: until FILE contains TEXT (20 s at most).
wait_for() {
	_n=200
	while ! contains "$1" "$2"; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || return 1
		sleep 0.1
	done
}

# No daemon ever ran: nothing to print, and it says so.
"$SPINDLE" daemon log >"$TMPD/out" 2>"$TMPD/err"
check_rc "daemon log, no daemon ever" 1 $? "$TMPD/err"
contains "$TMPD/err" "no daemon log" || fail "no log: $(cat "$TMPD/err")"

# A follower from before the daemon starts.
"$SPINDLE" daemon log -f >"$TMPD/follow" 2>&1 &
FOLLOW=$!
track "$FOLLOW"

spn up web local+local 2>"$TMPD/err" || fail "up: $(cat "$TMPD/err")"
spn run web -- true || fail "run web"
p=$(daemon_pid)
[ -n "$p" ] || fail "no daemon"
track "$p"
contains "$LOG" "route web: info: up" || fail "no route name: $(cat "$LOG")"

# -v on a client: the daemon's lines about its route, and only those.
spn -v run local+local+local -- true 2>"$TMPD/err"
check_rc "-v run" 0 $? "$TMPD/err"
contains "$TMPD/err" "spindle: daemon.log: " ||
    fail "-v run shows nothing of the log: $(cat "$TMPD/err")"
contains "$TMPD/err" "spindle[$p]: route local+local+local: info: up" ||
    fail "-v run: $(cat "$TMPD/err")"
contains "$TMPD/err" "route web:" && fail "-v run: another route's lines"
# A line about no route (router warnings, a record whose context is gone)
# may carry a far end's text: what in it looks like a route's header is
# not, and no client of that route sees it.
spn -v run local -- sh -c "printf '%s\\n' \"\$(date -u +%Y-%m-%dT%H:%M:%S.000Z) spindle[$p]: warning: from the far end: ]: route local: info: INJECTED\" >>$LOG" \
    2>"$TMPD/err"
check_rc "-v run, injected" 0 $? "$TMPD/err"
contains "$LOG" "INJECTED" || fail "the line did not reach the log"
contains "$TMPD/err" "INJECTED" &&
    fail "-v run shows a line about no route: $(cat "$TMPD/err")"
# The shim's -v too.
FAKEBIN=$("$SPINDLE" fakessh-bin) || fail "fakessh-bin"
timeout 20 "$FAKEBIN/ssh" -v local+local+local+local true 2>"$TMPD/err"
check_rc "ssh -v" 0 $? "$TMPD/err"
contains "$TMPD/err" "spindle: daemon.log: " ||
    fail "ssh -v shows nothing of the log: $(cat "$TMPD/err")"
contains "$TMPD/err" "spindle[$p]: route local+local+local+local: info: up" ||
    fail "ssh -v: $(cat "$TMPD/err")"

# A failure: what the hop said is on the route's lines, and -v shows it.
spn -v run spewhost -- true >/dev/null 2>"$TMPD/err"
check_rc "a failing route" 255 $? "$TMPD/err"
contains "$TMPD/err" "route spewhost: info: hop 1 (spewhost): stderr: spew: the quick" ||
    fail "-v run spewhost: $(head -n 5 "$TMPD/err")"
spn down web || fail "down web"

# Rotated past 4 MiB: the older part in daemon.log.1, the log small
# again, and the daemon writes on in the new one.
[ -f "$LOG.1" ] || fail "no daemon.log.1 after $(wc -c <"$LOG") bytes"
[ "$(wc -c <"$LOG.1")" -ge 4194304 ] || fail "daemon.log.1: $(wc -c <"$LOG.1") bytes"
[ "$(wc -c <"$LOG")" -lt 4194304 ] || fail "daemon.log: $(wc -c <"$LOG") bytes"
spn up web2 local || fail "up web2"
contains "$LOG" "route web2: info: up" || fail "web2 not in the new log"

# Every line has the format, and the daemon's pid.
ts='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]\{3\}Z'
bad=$(cat "$LOG.1" "$LOG" | grep -vc "^$ts spindle\[$p\]: ")
check "lines without time and pid" 0 "$bad"
grep -q "^$ts spindle\[$p\]: info: daemon $p listening on " "$LOG.1" ||
    fail "no start line: $(head -n 1 "$LOG.1")"
grep -q "^$ts spindle\[$p\]: route spewhost: warning: hop 1 (spewhost): " \
    "$LOG" "$LOG.1" || fail "no failure line for spewhost"
# daemon log: both parts, older first.
"$SPINDLE" daemon log >"$TMPD/out" 2>"$TMPD/err"
check_rc "daemon log" 0 $? "$TMPD/err"
cat "$LOG.1" "$LOG" | cmp -s - "$TMPD/out" || fail "daemon log differs from the files"

# A new daemon writes on in the same log; the follower saw it all.
spn daemon stop >/dev/null || fail "daemon stop"
spn up web3 local || fail "up web3"
p3=$(daemon_pid)
track "$p3"
[ "$p3" != "$p" ] || fail "the same daemon after stop"
wait_for "$TMPD/follow" "spindle[$p3]: route web3: info: up" ||
    fail "the follower missed the new daemon: $(tail -n 3 "$TMPD/follow")"
for t in "route web: info: up" "route web: info: taken down" \
    "route web2: info: up" "spindle[$p]: info: daemon stopping"; do
	contains "$TMPD/follow" "$t" || fail "the follower missed '$t'"
done
kill "$FOLLOW"
wait "$FOLLOW" 2>/dev/null
cat "$LOG.1" "$LOG" | cmp -s - "$TMPD/follow" ||
    fail "the follower's copy differs from the log"
pass
