#!/bin/sh
# What a hostile party can do to the gateway's TCP listener.  As root:
# another uid is closed before the banner on 127.0.0.1 and on [::1];
# and so is another uid whose socket was closed before the gateway
# looked (the gateway stopped meanwhile): the kernel keeps such a socket
# as a time-wait one, which sock_diag reports as uid 0 -- root's own --
# and what it had sent would reach libssh's parser.  For anyone: a
# client sending SSH_MSG_USERAUTH_SUCCESS itself (CVE-2018-10933) gets
# no channel; 200 connections leave no fd behind in the gateway; -R
# naming a non-loopback address is bound, and warned about in the log.
. "$(dirname "$0")/lib-gwtcp.sh"
T0=$(date +%s.%N)
V6=""
$PY -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
    2>/dev/null && V6="gateway-listen [::1]:PORT"
gwtcp_up "$V6
route loc local"
GWPID=$(sed -n 's/.*gateway started, pid \([0-9]*\).*/\1/p' "$LOG" | tail -1)
[ -n "$GWPID" ] || fail "no gateway pid in the log: $(cat "$LOG")"

# A raw client, on stdin (another uid cannot read $TMPD): MODE HOST PORT.
# blind: a banner, then gone; else "closed" or "banner" for what came.
cat >"$TMPD/raw.py" <<'EOF'
import socket, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.settimeout(10)
s.connect((host, port))
if mode == "blind":
    s.sendall(b"SSH-2.0-hostile\r\n")
    s.close()
    print("sent")
    sys.exit(0)
got = b""
try:
    while b"\n" not in got:
        b = s.recv(256)
        if not b:
            break
        got += b
except (socket.timeout, ConnectionResetError):
    pass
print("closed" if got == b"" else "banner")
EOF
raw() {
	$PY - "$@" <"$TMPD/raw.py"
}

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	U=spngh$$
	user_add "$U"
	uid=$(id -u "$U")
	asu() {
		setpriv --reuid="$uid" --regid="$(id -g "$U")" \
		    --clear-groups timeout 30 $PY - "$@" <"$TMPD/raw.py"
	}
	for h in 127.0.0.1 ${V6:+::1}; do
		check "uid $uid on $h" closed "$(asu read "$h" "$PORT")"
		check "ours on $h" banner "$(raw read "$h" "$PORT")"
	done
	# Connected, a banner sent and closed while the gateway could not
	# look: when it looks, the kernel has a time-wait socket there.
	n=$(grep -c "tcp: closed" "$LOG")
	kill -STOP "$GWPID"
	check "blind" sent "$(asu blind 127.0.0.1 "$PORT")"
	sleep 1
	kill -CONT "$GWPID"
	w="connection from \[127.0.0.1\]:[0-9]* closed: its owner is unknown"
	wait_line "$LOG" "$w \(sock_diag: the peer's socket is closed\)" 10 ||
	    fail "a closed socket of uid $uid: $(tail -3 "$LOG")"
	[ "$(grep -c "tcp: closed" "$LOG")" = "$n" ] ||
	    fail "a closed socket of uid $uid reached libssh: $(tail -3 "$LOG")"
	log "uid $uid closed on 127.0.0.1${V6:+ and ::1}, and once gone too"
else
	log "not root (or no setpriv): the other-uid cases are skipped"
fi

# Before authentication: "none" is refused on TCP (only the daemon's
# socket gets it), and a client that says USERAUTH_SUCCESS itself gets
# no channel (libssh >= 0.8.4 drops the connection).
cat >"$TMPD/preauth.py" <<'EOF'
import socket, sys, paramiko
port = int(sys.argv[1])


def transport():
    t = paramiko.Transport(socket.create_connection(("127.0.0.1", port), 10))
    t.start_client(timeout=10)
    return t


t = transport()
try:
    t.auth_none("loc")
    sys.exit("auth none taken on TCP")
except paramiko.BadAuthenticationType as e:
    print("none refused, allowed: %s" % ",".join(e.allowed_types))
    if e.allowed_types != ["publickey"]:
        sys.exit("methods offered: %r" % e.allowed_types)
t.close()
t = transport()
m = paramiko.Message()
m.add_byte(paramiko.common.cMSG_USERAUTH_SUCCESS)
t._send_message(m)
try:
    ch = t.open_session(timeout=5)
    ch.exec_command("echo RAN")
    sys.exit("a channel without authentication: %r" % ch.recv(100))
except (paramiko.SSHException, EOFError, OSError) as e:
    print("USERAUTH_SUCCESS from the client: no channel (%s)" %
          type(e).__name__)
t.close()
EOF
timeout 60 $PY "$TMPD/preauth.py" "$PORT" >"$TMPD/out" 2>&1 ||
    fail "pre-auth: $(cat "$TMPD/out")"
sed 's/^/  /' "$TMPD/out" >&2

# 200 connections (100 dropped after the banner, 100 logged in, some
# running a command): the gateway's fds are what they were.
cat >"$TMPD/many.py" <<'EOF'
import socket, sys, paramiko
port, key, kh = int(sys.argv[1]), sys.argv[2], sys.argv[3]
k = paramiko.Ed25519Key.from_private_key_file(key)
for i in range(100):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.recv(10)
    s.close()
    c = paramiko.SSHClient()
    c.load_host_keys(kh)
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.connect("127.0.0.1", port, "loc", pkey=k, look_for_keys=False,
              allow_agent=False, timeout=10)
    if i % 10 == 0:
        c.exec_command("true")[1].channel.recv_exit_status()
    c.close()
print("200 connections")
EOF
fds() {
	ls "/proc/$GWPID/fd" | wc -l
}
before=$(fds)
t=$(date +%s.%N)
timeout 120 $PY "$TMPD/many.py" "$PORT" "$TMPD/k1" "$KH" >"$TMPD/out" 2>&1 ||
    fail "200 connections: $(cat "$TMPD/out")"
i=100
while [ "$(fds)" -gt "$before" ] && [ "$i" -gt 0 ]; do
	sleep 0.1
	i=$((i - 1))
done
after=$(fds)
[ "$after" -le "$before" ] || fail "the gateway had $before fds," \
    "$after after 200 connections: $(ls -l "/proc/$GWPID/fd")"
log "gateway fds: $before before 200 connections ($(secs_since "$t") s)," \
    "$after after"
# -R naming an address binds that one at the far end (sshd's GatewayPorts
# clientspecified), and says so: others may reach it there.
cat >"$TMPD/fwd.py" <<'EOF'
import socket, sys, paramiko
port, key, kh = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.bind(("0.0.0.0", 0))
rport = s.getsockname()[1]
s.close()
c = paramiko.SSHClient()
c.load_host_keys(kh)
c.set_missing_host_key_policy(paramiko.RejectPolicy())
c.connect("127.0.0.1", port, "loc", key_filename=key, look_for_keys=False,
          allow_agent=False, timeout=10)
t = c.get_transport()
t.request_port_forward("0.0.0.0", rport)
print(rport)
t.cancel_port_forward("0.0.0.0", rport)
c.close()
EOF
timeout 60 $PY "$TMPD/fwd.py" "$PORT" "$TMPD/k1" "$KH" >"$TMPD/out" 2>&1 ||
    fail "-R 0.0.0.0: $(cat "$TMPD/out")"
rport=$(tail -1 "$TMPD/out")
w="remote forward 0.0.0.0:$rport: binds 0.0.0.0 at the far end"
wait_line "$LOG" "$w, not only its loopback" 10 ||
    fail "-R 0.0.0.0:$rport: no warning: $(tail -3 "$LOG")"
log "-R 0.0.0.0:$rport: warned"

# A pty larger than a terminal's 16 bits is the largest, not a wrap
# (70000 would be 4464), at the start and on a window change.
cat >"$TMPD/pty.py" <<'EOF'
import sys, paramiko
port, key, kh = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = paramiko.SSHClient()
c.load_host_keys(kh)
c.set_missing_host_key_policy(paramiko.RejectPolicy())
c.connect("127.0.0.1", port, "loc", key_filename=key, look_for_keys=False,
          allow_agent=False, timeout=10)
for resize in (False, True):
    ch = c.get_transport().open_session(timeout=10)
    ch.get_pty(width=70000 if not resize else 80, height=70000)
    if resize:
        ch.exec_command("echo go; read x; stty size")
        while b"go" not in ch.recv(1024):
            pass
        ch.resize_pty(width=70000, height=2**31 - 1)
        ch.sendall(b"\n")
    else:
        ch.exec_command("stty size")
    out = b""
    while True:
        d = ch.recv(1024)
        if not d:
            break
        out += d
    print(out.decode().split("\n")[-2].strip())
c.close()
EOF
timeout 60 $PY "$TMPD/pty.py" "$PORT" "$TMPD/k1" "$KH" >"$TMPD/out" 2>&1 ||
    fail "pty 70000: $(cat "$TMPD/out")"
check "pty 70000x70000, then resized" "65535 65535
65535 65535" "$(cat "$TMPD/out")"
log "passed in $(secs_since "$T0") s"
