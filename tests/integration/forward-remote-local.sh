#!/bin/sh
# Remote forwards through local+local, no root: the cases the namespace
# test (forward-remote.sh) leaves out.  A UNIX socket at the far end to a
# UNIX socket here (ssh -R /far.sock:/here.sock), unlinked when its
# client goes; "*" binds every address; a target that is neither an
# address nor a name of /etc/hosts is refused before the route is asked
# (the daemon does no DNS); remote dynamic forwarding is refused.
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
out=$("$PY" -c '
import socket, sys
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1])
c.sendall(b"hello")
c.shutdown(socket.SHUT_WR)
print(c.recv(100).decode())
' "$TMPD/far.sock")
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
log "forward-remote-local: $(($(date +%s) - T0)) s"
pass
