#!/bin/sh
# The daemon under attack and failure: another local user is refused
# (by the directory, and by SO_PEERCRED on the socket itself); random
# bytes and malformed requests get an error and disturb no other client;
# a daemon killed with SIGKILL fails its shims, `spindle run` and rsync at
# once with a clear message (also when rsync stops its ssh with SIGUSR1
# before the shim has noticed), and the next command starts a fresh
# daemon.
. "$(dirname "$0")/lib-fakessh.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "needs $PY to speak to the socket"
RT=$SPINDLE_RUNTIME_DIR

out=$(fssh web id -un </dev/null 2>"$TMPD/err")
check_rc "first use" 0 $? "$TMPD/err"
dpid=$(daemon_pid)
[ -n "$dpid" ] || fail "no daemon"

# Another user: the private directory stops the client...
chmod 0755 "$TMPD"
runuser -u "$U_O" -- env SPINDLE_RUNTIME_DIR="$RT" "$SPINDLE" ls \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "other user's client" 255 $? "$TMPD/err"
contains "$TMPD/err" "$RT belongs to uid 0 (root), not to you" ||
    fail "other user: $(cat "$TMPD/err")"
# ...and with the directory and socket opened up, the daemon itself.
chmod 0711 "$RT"
chmod 0666 "$RT/sock"
cat >"$TMPD/hello.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(struct.pack(">III", 12, 1, 7) + struct.pack(">I", 1))
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
n, t, i = struct.unpack(">III", data[:12])
print(t, data[16:16 + struct.unpack(">I", data[12:16])[0]].decode())
EOF
out=$(runuser -u "$U_O" -- $PY "$TMPD/hello.py" "$RT/sock" 2>&1)
check "other user's hello" "2 this spindle daemon serves its own user only" "$out"
chmod 0700 "$RT"
chmod 0600 "$RT/sock"

# Garbage from a client of ours: an error reply, the connection closed,
# and a command running meanwhile on another connection is untouched.
fssh web 'sleep 2; echo survived' </dev/null >"$TMPD/long" 2>&1 &
long=$!
sleep 0.5
cat >"$TMPD/garbage.py" <<'EOF'
import os, socket, struct, sys
def answer(s):
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    return data
def talk(payload):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(payload)
    return answer(s)
hello = struct.pack(">IIII", 12, 1, 1, 1)
replies = []
for i in range(20):
    replies.append(talk(os.urandom(4096)))
# A hello, then a message of a type nobody knows; then a RUN cut short.
replies.append(talk(hello + struct.pack(">III", 8, 999, 2)))
replies.append(talk(hello + struct.pack(">III", 12, 4, 3) + b"\0\0"))
# A length beyond the limit.
replies.append(talk(struct.pack(">III", 0x7fffffff, 1, 1)))
# A RUN whose fd mask names three fds, with one sent.
def s32(v): return struct.pack(">I", v)
def sstr(t): return s32(len(t)) + t
body = (sstr(b"local") + s32(0) + sstr(b"") + s32(0) + sstr(b"") + sstr(b"") +
        s32(0xffffffff) + s32(0xffffffff) + sstr(b"") +
        s32(0) + s32(1) + sstr(b"true") + s32(0) + sstr(b"") + s32(0) + s32(0) +
        s32(7))
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(hello)
socket.send_fds(s, [struct.pack(">III", 8 + len(body), 4, 5) + body],
                [os.open("/dev/null", os.O_RDONLY)])
replies.append(answer(s))
def types(r):
    while len(r) >= 8:
        n, t = struct.unpack(">II", r[:8])
        yield t
        r = r[4 + n:]
errors = sum(1 for r in replies if 2 in types(r))
print(len(replies), errors)
for i, r in enumerate(replies):
    if 2 not in types(r): print("no error for", i, r[:40], file=sys.stderr)
EOF
out=$($PY "$TMPD/garbage.py" "$RT/sock" 2>&1)
check "every bad client got an error" "24 24" "$out"
wait $long
check_rc "the other client" 0 $? "$TMPD/long"
check "the other client's output" survived "$(cat "$TMPD/long")"
check "same daemon after the garbage" "$dpid" "$(daemon_pid)"
out=$(fssh web echo still fine </dev/null 2>&1)
check "after the garbage" "still fine" "$out"

# SIGKILL to the daemon while shims run: they fail fast and say why.
i=0
while [ $i -lt 4 ]; do
	fssh web 'sleep 30' </dev/null >"$TMPD/k$i" 2>&1 &
	eval "k$i=\$!"
	i=$((i + 1))
done
sleep 1
t0=$(date +%s)
kill -KILL "$dpid"
i=0
while [ $i -lt 4 ]; do
	eval "wait \$k$i"
	check_rc "shim $i after daemon SIGKILL" 255 $? "$TMPD/k$i"
	contains "$TMPD/k$i" "spindle: lost the daemon (connection closed" ||
	    fail "shim $i: $(cat "$TMPD/k$i")"
	i=$((i + 1))
done
[ $(($(date +%s) - t0)) -le 3 ] || fail "shims took $(($(date +%s) - t0)) s to fail"
# The routes die with the daemon: their ssh loses its stdin.
no_world_procs 10 "daemon SIGKILL"

# The next command starts a fresh daemon, on the stale socket's name.
out=$(fssh web id -un </dev/null 2>"$TMPD/err")
check_rc "after the kill" 0 $? "$TMPD/err"
check "after the kill: user" "$U_W" "$out"
new=$(daemon_pid)
[ -n "$new" ] && [ "$new" != "$dpid" ] || fail "no fresh daemon ($new)"

# A second signal stops a client whose command ignores the first: as
# ssh on SIGINT, quietly with 255.
fssh web 'trap "" INT; sleep 30' </dev/null >/dev/null 2>"$TMPD/err" &
sh_pid=$!
sleep 1
c=$(for p in $(pgrep -f "ssh web trap"); do
	[ "$(cat /proc/$p/comm)" = ssh ] && echo $p; done | head -n 1)
[ -n "$c" ] || fail "no shim process"
kill -INT "$c"
sleep 0.3
alive "$c" || fail "one SIGINT stopped the client"
kill -INT "$c"
wait $sh_pid
check_rc "two SIGINTs" 255 $? "$TMPD/err"
[ -s "$TMPD/err" ] && fail "two SIGINTs: the shim said $(cat "$TMPD/err")"

# STOP without HELLO (what a client of another version sends) stops it.
$PY - "$RT/sock" <<'EOF' || fail "raw STOP"
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(struct.pack(">III", 8, 12, 1))
while s.recv(4096):
    pass
EOF
wait_gone "$new" 5 || fail "the daemon did not stop on a raw STOP"

# shim_of PID: the shim started by `fssh ... &` ($! is the subshell).
shim_of() {
	for _p in $(descendants "$1"); do
		[ "$(comm_of "$_p")" = ssh ] && echo "$_p" && return 0
	done
	fail "no shim under $1"
}

# route_up: web up in a (fresh) daemon, so that what follows waits for
# a command only, not for a route too, on a loaded machine.
route_up() {
	fssh web true </dev/null 2>"$TMPD/err" ||
	    fail "web does not come up: $(cat "$TMPD/err")"
}

# shim_sleeping: a shim running `sleep 1000` on web, stderr to
# $TMPD/err; sets BG (to wait for), SHIM and SLEEP.
shim_sleeping() {
	route_up
	fssh web 'sleep 1000' </dev/null >/dev/null 2>"$TMPD/err" &
	BG=$!
	SLEEP=$(user_sleep "$U_W")
	SHIM=$(shim_of "$BG")
}

# lost WHAT FILE STATUS: a client whose daemon was killed ended with
# STATUS and said so.
lost() {
	check_rc "$1" "$3" "$4" "$2"
	contains "$2" "spindle: lost the daemon (connection closed" ||
	    fail "$1: $(cat "$2")"
}

# `spindle run` loses its daemon.
route_up
SPN_STDIN=/dev/null spn_bg run web -- sleep 1000 2>"$TMPD/err"
user_sleep "$U_W" >/dev/null
kill -KILL "$(daemon_pid)"
wait "$BGPID"
lost "run, daemon killed" "$TMPD/err" 255 $?
no_world_procs 10 "run, daemon killed"

# rsync sends its ssh SIGUSR1 as soon as a transfer fails, which it does
# the moment the daemon dies: the shim still says why.  Made certain by
# stopping the shim while the daemon dies and the signal comes.
shim_sleeping
dpid=$(daemon_pid)
kill -STOP "$SHIM"
kill -KILL "$dpid"
wait_gone "$dpid" 5 || fail "the daemon outlived SIGKILL"
kill -USR1 "$SHIM"
kill -CONT "$SHIM"
wait "$BG"
lost "SIGUSR1 after the daemon died" "$TMPD/err" 255 $?
no_world_procs 10 "SIGUSR1 after the daemon died"

# With the daemon alive, SIGUSR1 ends the shim as it ends ssh, and the
# daemon ends the command.
shim_sleeping
kill -USR1 "$SHIM"
wait "$BG"
check_rc "SIGUSR1, daemon alive" 138 $? "$TMPD/err"
wait_gone "$SLEEP" 5 || fail "the command outlived its shim's SIGUSR1"

# rsync pushing through the shim when the daemon is killed: rsync's own
# "Broken pipe" is not all the user sees.
if command -v rsync >/dev/null 2>&1; then
	head -c 200000000 /dev/zero >"$TMPD/big"
	{
		PATH=$FAKEBIN:$PATH timeout -k 3 60 rsync --bwlimit=10000 \
		    "$TMPD/big" web:big </dev/null 2>&1
		echo "rsync status $?"
	} | cat >"$TMPD/rsync" &
	bg=$!
	t=150
	until ps -o args= -u "$U_W" | grep -q '^rsync --server'; do
		[ $t -gt 0 ] || fail "no rsync server: $(cat "$TMPD/rsync")"
		t=$((t - 1))
		sleep 0.1
	done
	kill -KILL "$(daemon_pid)"
	wait "$bg"	# the pipe ends when rsync and the shim both have
	grep -q "^rsync status [1-9]" "$TMPD/rsync" ||
	    fail "rsync did not fail: $(cat "$TMPD/rsync")"
	contains "$TMPD/rsync" "spindle: lost the daemon (connection closed" ||
	    fail "rsync, daemon killed: $(cat "$TMPD/rsync")"
	no_world_procs 10 "rsync, daemon killed"
fi
pass
