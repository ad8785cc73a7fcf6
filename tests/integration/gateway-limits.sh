#!/bin/sh
# The gateway's limits, over its TCP listener.  Two quiet sessions
# (`ssh ... 'exec sleep N'`) run through it all, one of them stopped
# (SIGSTOP: it answers nothing): with gateway-idle 20 the stopped one is
# closed, its command with it, while the live one answers the gateway's
# keepalives (after a third of it: 6 s) and stays.  Meanwhile: with
# gateway-max-startups 10, ten idle connections get the banner and the
# 11th is closed at once; not authenticated within gateway-login-grace (3 s here), they are
# closed; with gateway-max-connections 13, the two sessions, two more
# logged in and nine idle, the 14th is closed; six keys refused end a
# connection (the right one offered seventh is too late, second it is
# not); 64 channels on one connection (the default) and the 65th is
# refused, then one closed lets the next open; a client killed with -9
# mid-command takes its remote command with it within 2 s, and the
# gateway's connections are back to what they were.
. "$(dirname "$0")/lib-gwtcp.sh"
command -v ss >/dev/null 2>&1 || skip "ss (iproute2) is not installed"
command -v pgrep >/dev/null 2>&1 || skip "pgrep is not installed"
T0=$(date +%s.%N)
GRACE=3
IDLE=20
gwtcp_up "gateway-max-startups 10
gateway-max-connections 13
gateway-login-grace $GRACE
gateway-idle $IDLE
route loc local"

# The gateway's established TCP connections (ss, from outside).
conns() {
	ss -Htn state established "( sport = :$PORT )" | wc -l
}

# wait_conns N SECS: until the gateway has N connections.
wait_conns() {
	_wc=$(($2 * 10))
	while [ "$(conns)" -ne "$1" ]; do
		_wc=$((_wc - 1))
		[ "$_wc" -gt 0 ] || return 1
		sleep 0.1
	done
}

# session NAME SECS: `ssh ... 'exec sleep SECS'` in the background, not
# under a timeout (it is to be killed); sets SSHPID and SLEEP (the
# remote command's pid) once it runs.  SECS: unique to the test.
session() {
	# shellcheck disable=SC2046
	ssh $(gwssh_opts) -i "$TMPD/k1" loc@127.0.0.1 "exec sleep $2" \
	    >"$TMPD/$1.out" 2>"$TMPD/$1.err" &
	SSHPID=$!
	track "$SSHPID"
	_sn=100
	while ! SLEEP=$(pgrep -x -f "sleep $2"); do
		_sn=$((_sn - 1))
		[ "$_sn" -gt 0 ] ||
		    fail "$1: the remote sleep never started: $(cat "$TMPD/$1.err")"
		sleep 0.1
	done
}

# The quiet sessions, checked at the end.
session live "7$$"
LIVE=$SLEEP LIVESSH=$SSHPID
session stopped "8$$"
STOPPED=$SLEEP
kill -STOP "$SSHPID"
TSTOP=$(date +%s.%N)
BASE=2
wait_conns $BASE 5 || fail "$(conns) connections, not the $BASE sessions"

# Idle connections: startups, then the grace time.
t=$(date +%s.%N)
timeout 60 $GWPY idle "$PORT" 10 "$GRACE" >"$TMPD/out" 2>&1 ||
    fail "idle: $(cat "$TMPD/out")"
sed 's/^/  /' "$TMPD/out" >&2
wait_conns $BASE 10 || fail "idle: $(conns) connections left"
log "startups and grace: $(secs_since "$t") s"
contains "$LOG" "connection refused: too many not yet authenticated" ||
    fail "idle: the 11th's refusal is not in the log"

# Connections in all: with the sessions, 4 logged in, then 9 more only.
t=$(date +%s.%N)
timeout 60 $GWPY full "$PORT" "$TMPD/k1" "$KH" loc 2 11 \
    >"$TMPD/out" 2>&1 || fail "full: $(cat "$TMPD/out")"
sed 's/^/  (and the 2 sessions) /' "$TMPD/out" >&2
contains "$LOG" "connection refused: too many connections" ||
    fail "full: the 14th's refusal is not in the log"
wait_conns $BASE 10 || fail "full: $(conns) connections left"
log "connections: $(secs_since "$t") s"

# Authentication tries: six keys refused end the connection, so the
# right one offered seventh does not get in.
for i in 1 2 3 4 5 6; do
	ssh-keygen -q -t ed25519 -N '' -f "$TMPD/w$i" </dev/null ||
	    fail "ssh-keygen"
done
gwssh -i "$TMPD/w1" -i "$TMPD/w2" -i "$TMPD/w3" -i "$TMPD/w4" \
    -i "$TMPD/w5" -i "$TMPD/w6" -i "$TMPD/k1" loc@127.0.0.1 'echo RAN' \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "seven keys, the last one right" 255 $? "$TMPD/err"
[ -s "$TMPD/out" ] && fail "auth tries: the command ran"
wait_line "$LOG" "too many authentication failures" 5 ||
    fail "auth tries: not in the log: $(cat "$TMPD/err")"
gwssh -i "$TMPD/w1" -i "$TMPD/k1" loc@127.0.0.1 'echo ran' \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "two keys, the last one right" 0 $? "$TMPD/err"

# Channels on one connection.
t=$(date +%s.%N)
timeout 60 $GWPY channels "$PORT" "$TMPD/k1" "$KH" loc 64 \
    >"$TMPD/out" 2>&1 || fail "channels: $(cat "$TMPD/out")"
sed 's/^/  /' "$TMPD/out" >&2
log "channels: $(secs_since "$t") s"

# A client killed mid-command: the command goes, so does the connection.
session killed "9$$"
wait_conns $((BASE + 1)) 5 ||
    fail "the gateway has $(conns) connections, not $((BASE + 1))"
t=$(date +%s.%N)
kill -KILL "$SSHPID"
wait_gone "$SLEEP" 2 || fail "the remote command outlived its client by 2 s"
log "remote command gone $(secs_since "$t") s after its client was killed"
wait_conns $BASE 5 || fail "the gateway still has $(conns) connections"
log "gateway connections back to $BASE $(secs_since "$t") s after the kill"

# gateway-idle: the stopped session goes (no input at all), the live
# one stays (it answers the keepalives).
wait_gone "$STOPPED" $((IDLE + 15)) ||
    fail "the stopped session's command outlived gateway-idle $IDLE"
el=$(secs_since "$TSTOP")
log "the stopped session closed $el s after it was stopped (idle $IDLE)"
awk -v e="$el" -v i="$IDLE" 'BEGIN { exit !(e >= i - 2) }' ||
    fail "the stopped session closed before gateway-idle $IDLE"
alive "$LIVE" || fail "the live session's command is gone: $(cat "$TMPD/live.err")"
alive "$LIVESSH" || fail "the live ssh is gone: $(cat "$TMPD/live.err")"
wait_conns 1 5 || fail "$(conns) connections, not the live one"
kill -KILL "$LIVESSH"
wait_gone "$LIVE" 5 || fail "the live session's command outlived its ssh"
wait_conns 0 5 || fail "the gateway still has $(conns) connections"

log "took $(secs_since "$T0") s"
pass
