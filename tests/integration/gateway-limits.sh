#!/bin/sh
# The gateway's limits, over its TCP listener: with gateway-max-startups
# 10, ten idle connections get the banner and the 11th is closed at once;
# not authenticated within gateway-login-grace (3 s here), they are
# closed; 64 channels on one connection (the default) and the 65th is
# refused, then one closed lets the next open; a client killed with -9
# mid-command takes its remote command with it within 2 s and leaves
# the gateway no connection.
. "$(dirname "$0")/lib-gwtcp.sh"
command -v ss >/dev/null 2>&1 || skip "ss (iproute2) is not installed"
T0=$(date +%s.%N)
GRACE=3
gwtcp_up "gateway-max-startups 10
gateway-login-grace $GRACE
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

# Idle connections: startups, then the grace time.
t=$(date +%s.%N)
timeout 60 $GWPY idle "$PORT" 10 "$GRACE" >"$TMPD/out" 2>&1 ||
    fail "idle: $(cat "$TMPD/out")"
sed 's/^/  /' "$TMPD/out" >&2
wait_conns 0 10 || fail "idle: $(conns) connections left"
log "startups and grace: $(secs_since "$t") s"

# Channels on one connection.
t=$(date +%s.%N)
timeout 60 $GWPY channels "$PORT" "$TMPD/k1" "$KH" loc 64 \
    >"$TMPD/out" 2>&1 || fail "channels: $(cat "$TMPD/out")"
sed 's/^/  /' "$TMPD/out" >&2
log "channels: $(secs_since "$t") s"

# A client killed mid-command: the command goes, so does the connection.
S=7$$
# shellcheck disable=SC2046
ssh $(gwssh_opts) -i "$TMPD/k1" loc@127.0.0.1 "exec sleep $S" \
    >"$TMPD/out" 2>"$TMPD/err" &
SSHPID=$!
track "$SSHPID"
n=100
while ! SLEEP=$(pgrep -x -f "sleep $S"); do
	n=$((n - 1))
	[ "$n" -gt 0 ] || fail "the remote sleep never started: $(cat "$TMPD/err")"
	sleep 0.1
done
[ "$(conns)" -eq 1 ] || fail "the gateway has $(conns) connections, not 1"
t=$(date +%s.%N)
kill -KILL "$SSHPID"
wait_gone $SLEEP 2 || fail "the remote command outlived its client by 2 s"
log "remote command gone $(secs_since "$t") s after its client was killed"
wait_conns 0 5 || fail "the gateway still has $(conns) connections"
log "gateway connections back to 0 $(secs_since "$t") s after the kill"

log "took $(secs_since "$T0") s"
pass
