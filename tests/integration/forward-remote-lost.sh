#!/bin/sh
# A remote forward's route lost under a live connection: the listener
# and the connection end together (the far agent killed), and the daemon
# lives on, its memory sound (the connection freed once, not again after
# its listener freed it: run it under tools/sanitize too).
. "$(dirname "$0")/lib.sh"
T0=$(date +%s)
HOLD=${BUILDDIR:-$(dirname "$SPINDLE")}/tests/integration/listen-hold
[ -x "$HOLD" ] || fail "no $HOLD (make check builds it)"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
export SPINDLE_RUNTIME_DIR="$TMPD/rt" SPINDLE_ROUTES="$TMPD/routes"
: >"$SPINDLE_ROUTES"
daemon_stop_on_exit
spn daemon start >/dev/null || fail "daemon start"
dpid=$("$SPINDLE" daemon status | sed -n 's/^running, pid \([0-9]*\),.*/\1/p')
[ -n "$dpid" ] || fail "no daemon pid"

# A UNIX socket server here that holds each connection open.
"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
held = []
while True:
    c, _ = s.accept()
    c.sendall(b"hi\n")
    held.append(c)
' "$TMPD/here.sock" &
track $!
i=100
while [ ! -S "$TMPD/here.sock" ] && [ $i -gt 0 ]; do sleep 0.05; i=$((i - 1)); done

round=0
while [ $round -lt 4 ]; do
	round=$((round + 1))
	rm -f "$TMPD/far.sock" "$TMPD/c.out"
	mkfifo "$TMPD/a.in.$round"
	"$HOLD" local+local "$TMPD/far.sock" -1 "$TMPD/here.sock" -1 \
	    <"$TMPD/a.in.$round" >"$TMPD/a.out" 2>"$TMPD/a.err" &
	HPID=$!
	track "$HPID"
	exec 7>"$TMPD/a.in.$round"
	i=300
	while [ ! -S "$TMPD/far.sock" ] && [ $i -gt 0 ] &&
	    kill -0 "$HPID" 2>/dev/null; do
		sleep 0.1
		i=$((i - 1))
	done
	[ -S "$TMPD/far.sock" ] || fail "no far socket: $(cat "$TMPD/a.err")"
	# Two connections held open through it.
	for c in 1 2; do
		"$PY" -c '
import socket, sys, time
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1])
sys.stdout.write(c.recv(100).decode()); sys.stdout.flush()
c.recv(100)
' "$TMPD/far.sock" >>"$TMPD/c.out" 2>/dev/null &
		track $!
	done
	i=100
	while [ "$(grep -c hi "$TMPD/c.out" 2>/dev/null)" != 2 ] &&
	    [ $i -gt 0 ]; do
		sleep 0.1
		i=$((i - 1))
	done
	check "round $round: both connections through" 2 \
	    "$(grep -c hi "$TMPD/c.out")"
	# The route's last agent (the daemon's grandchild) killed, or its
	# first (the daemon's child), so that the daemon hears of the loss
	# from the far side or from its own link.
	far=""
	for p in $(ps -o pid= --ppid "$dpid"); do
		if [ $((round % 2)) = 1 ]; then
			far="$far $(ps -o pid= --ppid "$p")"
		else
			far="$far $p"
		fi
	done
	[ -n "$(echo $far)" ] || fail "no far agent"
	kill -9 $far
	wait "$HPID"
	check_rc "round $round: the listener lost" 1 $? "$TMPD/a.err"
	exec 7>&-
	kill -0 "$dpid" 2>/dev/null || fail "round $round: the daemon died"
	spn run local -- true || fail "round $round: the daemon does not run"
done
log "forward-remote-lost: $(($(date +%s) - T0)) s"
pass
