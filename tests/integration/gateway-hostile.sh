#!/bin/sh
# What a hostile party can do to the gateway's TCP listener.  As root:
# another uid is closed before the banner on 127.0.0.1 and on [::1];
# and so is another uid whose socket was closed before the gateway
# looked (the gateway stopped meanwhile): the kernel keeps such a socket
# as a time-wait one, which sock_diag reports as uid 0 -- root's own --
# and what it had sent would reach libssh's parser.  For anyone: a
# client sending SSH_MSG_USERAUTH_SUCCESS itself (CVE-2018-10933) gets
# no channel; 200 connections leave no fd behind in the gateway; -R
# naming a non-loopback address is bound, and warned about in the log;
# a pty past 16 bits is the largest, not a wrap.  (The clients are
# gateway-tcp.py's modes.)
. "$(dirname "$0")/lib-gwtcp.sh"
T0=$(date +%s.%N)
gwtcp_up "$V6
route loc local"
GWPID=$(sed -n 's/.*gateway started, pid \([0-9]*\).*/\1/p' "$LOG" | tail -1)
[ -n "$GWPID" ] || fail "no gateway pid in the log: $(cat "$LOG")"

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	U=spngh$$
	user_add "$U"
	uid=$(id -u "$U")
	asu() {
		setpriv --reuid="$uid" --regid="$(id -g "$U")" \
		    --clear-groups timeout 30 $GWPY "$@"
	}
	for h in 127.0.0.1 ${V6:+::1}; do
		check "uid $uid on $h" closed "$(asu banner "$PORT" "$h")"
		timeout 30 $GWPY banner "$PORT" "$h" | grep -q '^banner SSH-2.0-' ||
		    fail "our own uid on $h: no banner"
	done
	# Connected, a banner sent and closed while the gateway could not
	# look: when it looks, the kernel has a time-wait socket there.
	n=$(grep -c "tcp: closed" "$LOG")
	kill -STOP "$GWPID"
	check "blind" sent "$(asu blind "$PORT")"
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
timeout 60 $GWPY preauth "$PORT" >"$TMPD/out" 2>&1 ||
    fail "pre-auth: $(cat "$TMPD/out")"
sed 's/^/  /' "$TMPD/out" >&2

# 200 connections: the gateway's fds are what they were.
fds() {
	ls "/proc/$GWPID/fd" | wc -l
}
before=$(fds)
t=$(date +%s.%N)
timeout 120 $GWPY many "$PORT" "$TMPD/k1" "$KH" loc 100 >"$TMPD/out" 2>&1 ||
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
timeout 60 $GWPY rfwd "$PORT" "$TMPD/k1" "$KH" loc >"$TMPD/out" 2>&1 ||
    fail "-R 0.0.0.0: $(cat "$TMPD/out")"
rport=$(tail -1 "$TMPD/out")
w="remote forward 0.0.0.0:$rport: binds 0.0.0.0 at the far end"
wait_line "$LOG" "$w, not only its loopback" 10 ||
    fail "-R 0.0.0.0:$rport: no warning: $(tail -3 "$LOG")"
log "-R 0.0.0.0:$rport: warned"

# A pty larger than a terminal's 16 bits is the largest, not a wrap
# (70000 would be 4464), at the start and on a window change.
timeout 60 $GWPY bigpty "$PORT" "$TMPD/k1" "$KH" loc >"$TMPD/out" 2>&1 ||
    fail "pty 70000: $(cat "$TMPD/out")"
check "pty 70000x70000, then resized" "65535 65535
65535 65535" "$(cat "$TMPD/out")"
log "passed in $(secs_since "$T0") s"
