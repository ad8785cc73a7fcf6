#!/bin/sh
# Remote forwards through local+local, no root: the cases the namespace
# test (forward-remote.sh) leaves out.  A UNIX socket at the far end to a
# UNIX socket here (ssh -R /far.sock:/here.sock), unlinked when its
# client goes; "*" binds every address; a target that is neither an
# address nor a name of /etc/hosts is refused before the route is asked
# (the daemon does no DNS); remote dynamic forwarding is refused; the
# routes file's `forward R` listens while its route is up; the route lost
# under live connections (kill -9 of its agents) ends them and the
# listener, the daemon sound.
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

# A UNIX socket server here: reads to EOF, answers what it got.
"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(4)
while True:
    c, _ = s.accept()
    b = b""
    while True:
        x = c.recv(65536)
        if not x:
            break
        b += x
    c.sendall(b"got " + b)
    c.close()
' "$TMPD/here.sock" &
track $!
i=100
while [ ! -S "$TMPD/here.sock" ] && [ $i -gt 0 ]; do sleep 0.05; i=$((i - 1)); done

# ucli PATH TEXT: TEXT to the UNIX socket PATH, half-closed; the answer.
ucli() {
	"$PY" -c '
import socket, sys
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1])
c.sendall(sys.argv[2].encode())
c.shutdown(socket.SHUT_WR)
print(c.recv(100).decode())
' "$1" "$2"
}

mkfifo "$TMPD/a.in"
"$HOLD" local+local "$TMPD/far.sock" -1 "$TMPD/here.sock" -1 \
    <"$TMPD/a.in" >"$TMPD/a.out" 2>"$TMPD/a.err" &
HPID=$!
track "$HPID"
exec 7>"$TMPD/a.in"
i=300
while ! grep -q "^port " "$TMPD/a.out" && [ $i -gt 0 ] &&
    kill -0 "$HPID" 2>/dev/null; do
	sleep 0.1
	i=$((i - 1))
done
check "UNIX listener's port" "port 0" "$(cat "$TMPD/a.out")"
[ -S "$TMPD/far.sock" ] || fail "no far socket: $(cat "$TMPD/a.err")"
out=$(ucli "$TMPD/far.sock" hello)
check "UNIX to UNIX, half-closed" "got hello" "$out"
# The path is taken: refused, the far side's words.
"$HOLD" local+local "$TMPD/far.sock" -1 "$TMPD/here.sock" -1 </dev/null \
    >/dev/null 2>"$TMPD/err"
check_rc "a second listener on the path" 255 $? "$TMPD/err"
contains "$TMPD/err" "bind $TMPD/far.sock: Address" ||
    fail "path conflict: $(cat "$TMPD/err")"
exec 7>&-
wait "$HPID"
i=50
while [ -e "$TMPD/far.sock" ] && [ $i -gt 0 ]; do sleep 0.1; i=$((i - 1)); done
[ -e "$TMPD/far.sock" ] && fail "far socket left after its client exited"

# "*": every address (IPv6 and IPv4 on one socket where there is IPv6).
"$HOLD" local+local '*' 0 127.0.0.1 1 </dev/null >"$TMPD/b.out" \
    2>"$TMPD/b.err"
check_rc "listen on *" 0 $? "$TMPD/b.err"
grep -q "^port [1-9]" "$TMPD/b.out" || fail "*: $(cat "$TMPD/b.out")"

# No DNS in the daemon; no remote dynamic forwarding.
"$HOLD" local+local - 0 nosuchhost.invalid 80 </dev/null >/dev/null \
    2>"$TMPD/err"
check_rc "a target by DNS name" 255 $? "$TMPD/err"
contains "$TMPD/err" "not an address, nor a name in /etc/hosts" ||
    fail "DNS name: $(cat "$TMPD/err")"
"$HOLD" local+local - 0 - 0 </dev/null >/dev/null 2>"$TMPD/err"
check_rc "remote dynamic" 255 $? "$TMPD/err"
contains "$TMPD/err" "remote dynamic forwarding is not supported" ||
    fail "remote dynamic: $(cat "$TMPD/err")"
# The routes file's forward R: held by the daemon while the route is up.
cat >"$SPINDLE_ROUTES" <<EOF
route web local+local
    forward R $TMPD/rfar.sock $TMPD/here.sock
EOF
spn up web >/dev/null 2>"$TMPD/err" || fail "up web: $(cat "$TMPD/err")"
i=100
while [ ! -S "$TMPD/rfar.sock" ] && [ $i -gt 0 ]; do sleep 0.1; i=$((i - 1)); done
[ -S "$TMPD/rfar.sock" ] || fail "forward R: no far socket: $(tail -n 3 \
    "$SPINDLE_RUNTIME_DIR/daemon.log")"
out=$(ucli "$TMPD/rfar.sock" "routes file")
check "forward R of the routes file" "got routes file" "$out"
spn down web >/dev/null 2>&1 || fail "down web"
i=50
while [ -e "$TMPD/rfar.sock" ] && [ $i -gt 0 ]; do sleep 0.1; i=$((i - 1)); done
[ -e "$TMPD/rfar.sock" ] && fail "forward R: far socket left after down"

# A remote forward's route lost under live connections: the listener
# and its connections end together (its last agent killed, or its first,
# so that the daemon hears of the loss from the far side or from its own
# link), each connection freed once (tools/sanitize runs this test), and
# the daemon lives on.
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
' "$TMPD/hold.sock" &
track $!
i=100
while [ ! -S "$TMPD/hold.sock" ] && [ $i -gt 0 ]; do sleep 0.05; i=$((i - 1)); done

round=0
while [ $round -lt 4 ]; do
	round=$((round + 1))
	rm -f "$TMPD/lost.sock" "$TMPD/c.out"
	mkfifo "$TMPD/l.in.$round"
	"$HOLD" local+local "$TMPD/lost.sock" -1 "$TMPD/hold.sock" -1 \
	    <"$TMPD/l.in.$round" >"$TMPD/l.out" 2>"$TMPD/l.err" &
	HPID=$!
	track "$HPID"
	exec 7>"$TMPD/l.in.$round"
	i=300
	while [ ! -S "$TMPD/lost.sock" ] && [ $i -gt 0 ] &&
	    kill -0 "$HPID" 2>/dev/null; do
		sleep 0.1
		i=$((i - 1))
	done
	[ -S "$TMPD/lost.sock" ] || fail "no far socket: $(cat "$TMPD/l.err")"
	# Two connections held open through it.
	for c in 1 2; do
		"$PY" -c '
import socket, sys, time
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1])
sys.stdout.write(c.recv(100).decode()); sys.stdout.flush()
c.recv(100)
' "$TMPD/lost.sock" >>"$TMPD/c.out" 2>/dev/null &
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
	check_rc "round $round: the listener lost" 1 $? "$TMPD/l.err"
	exec 7>&-
	kill -0 "$dpid" 2>/dev/null || fail "round $round: the daemon died"
	spn run local -- true || fail "round $round: the daemon does not run"
done
log "forward-remote-local: $(($(date +%s) - T0)) s"
pass
