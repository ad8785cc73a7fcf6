#!/bin/sh
# Remote forwards (ssh -R) end to end, in the network-namespace world of
# ssh-netns.sh: a bastion reachable from here and an inner host reachable
# only through it.  A LISTEN through bastion+inner (tests/integration/
# listen-hold holds it, as the shim's -R does) reports the port the far
# end bound; a connection made inside the inner namespace to 127.0.0.1
# on that port reaches a server on this side, data both ways with a
# half-close; the far listener is bound to 127.0.0.1 only, in the inner
# namespace, as the route's last user (sudo); it goes when its client
# exits; a refused target here is logged as ssh says it; a bind conflict
# is refused with the far side's words; the route's loss ends the client;
# and the shim's `ssh -N -R 0:127.0.0.1:PORT ROUTE` does it all as ssh.
. "$(dirname "$0")/lib-netns.sh"
command -v ss >/dev/null || skip "ss (iproute2) is not installed"
T0=$(date +%s)
HOLD=${BUILDDIR:-$(dirname "$SPINDLE")}/tests/integration/listen-hold
[ -x "$HOLD" ] || fail "no $HOLD (make check builds it)"

SPINDLE_RUNTIME_DIR=$TMPD/rt
SPINDLE_ROUTES=$TMPD/routes
export SPINDLE_RUNTIME_DIR SPINDLE_ROUTES
: >"$SPINDLE_ROUTES"
LOG=$SPINDLE_RUNTIME_DIR/daemon.log
R="$U_A@bastion+$U_B@inner,config=$SSHW/ssh_config.ns"
RS="$R+sudo=$U_W"

# The server on this side: each connection read to its EOF, then
# answered with the sha256 of what came and all of it back.  It takes
# the first free port from one of its own (parallel tests).
cat >"$TMPD/srv.py" <<'EOF'
import hashlib, socket, sys, threading
s = socket.socket()
port = int(sys.argv[1])
while True:
    try:
        s.bind(("127.0.0.1", port))
        break
    except OSError:
        port += 1
s.listen(64)
with open(sys.argv[2], "w") as f:
    f.write("%d\n" % port)
def serve(c):
    b = bytearray()
    while True:
        x = c.recv(1 << 16)
        if not x:
            break
        b += x
    c.sendall(hashlib.sha256(b).hexdigest().encode() + b"\n" + bytes(b))
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
# The client, inside a namespace: PORT FILE -> "SHA-THERE SHA-BACK".
cat >"$TMPD/cli.py" <<'EOF'
import hashlib, socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
c.sendall(open(sys.argv[2], "rb").read())
c.shutdown(socket.SHUT_WR)
b = bytearray()
while True:
    x = c.recv(1 << 16)
    if not x:
        break
    b += x
line, _, rest = bytes(b).partition(b"\n")
print(line.decode() or "-", hashlib.sha256(rest).hexdigest())
EOF
"$PY" "$TMPD/srv.py" $((30000 + $$ % 20000)) "$TMPD/srv.port" &
track $!
i=0
while [ ! -s "$TMPD/srv.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
P=$(cat "$TMPD/srv.port")
[ -n "$P" ] || fail "the server did not start"
head -c 1000000 /dev/urandom >"$TMPD/data"
head -c 100000 "$TMPD/data" >"$TMPD/small"
SMALL=$(sha256sum <"$TMPD/small" | cut -d' ' -f1)
SUM=$(sha256sum <"$TMPD/data" | cut -d' ' -f1)

spn daemon start >/dev/null || fail "daemon start"
log "$(($(date +%s) - T0)) s: world up"

# hold NAME ROUTE BIND PORT HOST HOSTPORT: listen-hold, held until fd 7
# closes ($HPID); sets N to the port it got (60 s at most for the route).
hold() {
	mkfifo "$TMPD/$1.in"
	"$HOLD" "$2" "$3" "$4" "$5" "$6" <"$TMPD/$1.in" >"$TMPD/$1.out" \
	    2>"$TMPD/$1.err" &
	HPID=$!
	track "$HPID"
	exec 7>"$TMPD/$1.in"
	_i=600
	while ! grep -q "^port " "$TMPD/$1.out" && [ $_i -gt 0 ] &&
	    kill -0 "$HPID" 2>/dev/null; do
		sleep 0.1
		_i=$((_i - 1))
	done
	N=$(sed -n 's/^port //p' "$TMPD/$1.out")
	[ -n "$N" ] || fail "$1: no port: $(cat "$TMPD/$1.err")"
}
# gone PORT WHAT: the far listener on PORT goes within 10 s.
gone() {
	_i=100
	while [ -n "$(listening "$NI" "$1")" ] && [ $_i -gt 0 ]; do
		sleep 0.1
		_i=$((_i - 1))
	done
	[ -z "$(listening "$NI" "$1")" ] || fail "far listener still there $2"
}
# listening NS PORT: who listens on PORT in NS ("127.0.0.1:PORT"...).
listening() {
	ip netns exec "$1" ss -Hltn "sport = :$2" | awk '{ print $4 }'
}

# 1. Through bastion+inner, port 0: the far end says which port.
hold a "$R" - 0 127.0.0.1 "$P"
[ "$N" -gt 0 ] || fail "port $N"
log "allocated port $N"
where=$(listening "$NI" "$N")
check "far listener in inner" "127.0.0.1:$N" "$where"
[ -z "$(listening "$NB" "$N")" ] || fail "a listener in the bastion"
# Inside inner, to its loopback: the server here answers.
t1=$(date +%s%N)
out=$(ip netns exec "$NI" "$PY" "$TMPD/cli.py" "$N" "$TMPD/data" \
    2>"$TMPD/err")
t2=$(date +%s%N)
check "1 MB there and back (half-close)" "$SUM $SUM" "$out"
log "1 MB each way: $(( (t2 - t1) / 1000000 )) ms"
log "$(($(date +%s) - T0)) s: one connection"
# Several at once.
for k in 1 2 3 4; do
	ip netns exec "$NI" "$PY" "$TMPD/cli.py" "$N" "$TMPD/small" \
	    >"$TMPD/par.$k" 2>&1 &
	eval "pp$k=\$!"
done
for k in 1 2 3 4; do
	eval "wait \$pp$k"
	check "parallel connection $k" "$SMALL $SMALL" "$(cat "$TMPD/par.$k")"
done

log "$(($(date +%s) - T0)) s: parallel"
# 2. The same port again: refused with the far side's words.
"$HOLD" "$R" - "$N" 127.0.0.1 "$P" </dev/null >"$TMPD/b.out" \
    2>"$TMPD/b.err"
check_rc "a second listener on port $N" 255 $? "$TMPD/b.err"
contains "$TMPD/b.err" "bind [127.0.0.1]:$N: Address" ||
    fail "bind conflict: $(cat "$TMPD/b.err")"

# 3. The client goes: so does the far listener.
exec 7>&-
wait "$HPID"
check_rc "listen-hold after its stdin ended" 0 $? "$TMPD/a.err"
gone "$N" "after its client exited"

log "$(($(date +%s) - T0)) s: listener gone"
# 4. A target that refuses: the far connection is closed, the daemon log
# says it as ssh does.  (Port 1 of our loopback: nothing listens.)
hold c "$R" - 0 127.0.0.1 1
out=$(ip netns exec "$NI" "$PY" "$TMPD/cli.py" "$N" "$TMPD/small" \
    2>&1 | tail -n 1)
case $out in
"- "*|*Error*) ;;
*) fail "refused target: the far connection got: $out" ;;
esac
contains "$LOG" "connect_to 127.0.0.1 port 1: failed." ||
    fail "refused target not logged: $(tail -n 5 "$LOG")"
exec 7>&-
wait "$HPID"

log "$(($(date +%s) - T0)) s: refused"
# 5. Through sudo: the far listener is the sudo user's, still in inner.
hold d "$RS" - 0 127.0.0.1 "$P"
check "far listener (sudo) in inner" "127.0.0.1:$N" "$(listening "$NI" "$N")"
lpid=$(ip netns exec "$NI" ss -Hltnp "sport = :$N" |
    sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)
owner=$(ps -o user= -p "$lpid" 2>/dev/null)
check "the far listener's user" "$U_W" "$owner"
out=$(ip netns exec "$NI" "$PY" "$TMPD/cli.py" "$N" "$TMPD/data" \
    2>"$TMPD/err")
check "1 MB there and back through sudo" "$SUM $SUM" "$out"

log "$(($(date +%s) - T0)) s: sudo"
# 6. The route lost (its last agent killed): the client hears of it.
kill -KILL "$lpid"
i=100
while kill -0 "$HPID" 2>/dev/null && [ $i -gt 0 ]; do
	sleep 0.1
	i=$((i - 1))
done
kill -0 "$HPID" 2>/dev/null && fail "listen-hold kept on after the route died"
wait "$HPID"
check_rc "listen-hold after the route died" 1 $? "$TMPD/d.err"
contains "$TMPD/d.err" "lost: " || fail "route lost: $(cat "$TMPD/d.err")"
exec 7>&-

log "$(($(date +%s) - T0)) s: route lost"

# 7. The shim's -R through the same route (a name of the routes file):
# ssh's "Allocated port" line, a connection from inside inner, and the
# far listener gone once the shim is.
echo "route rin $R" >"$SPINDLE_ROUTES"
SSH=$("$SPINDLE" fakessh-bin)/ssh || fail "fakessh-bin"
unset SPINDLE_SSH_ARGS		# the routes file's ssh-config says it
echo "    ssh-config $SSHW/ssh_config.ns" >>"$SPINDLE_ROUTES"
"$SSH" -N -R "0:127.0.0.1:$P" rin 2>"$TMPD/r.err" &
SPID=$!
track "$SPID"
i=600
while ! contains "$TMPD/r.err" "Allocated port" && [ $i -gt 0 ] &&
    kill -0 "$SPID" 2>/dev/null; do
	sleep 0.1
	i=$((i - 1))
done
# (ssh ends it with \r\n, as the shim does.)
N=$(tr -d '\r' <"$TMPD/r.err" | sed -n \
    's/^Allocated port \([0-9]*\) for remote forward to 127\.0\.0\.1:'"$P"'$/\1/p')
[ -n "$N" ] || fail "ssh -R 0: no Allocated port line: $(cat "$TMPD/r.err")"
check "ssh -R: far listener in inner" "127.0.0.1:$N" "$(listening "$NI" "$N")"
out=$(ip netns exec "$NI" "$PY" "$TMPD/cli.py" "$N" "$TMPD/data" \
    2>"$TMPD/err")
check "ssh -R: 1 MB there and back" "$SUM $SUM" "$out"
kill -TERM "$SPID"
wait "$SPID"
gone "$N" "after ssh -R exited"

log "forward-remote: $(($(date +%s) - T0)) s"
pass
