#!/bin/sh
# The UNIX sockets a forward listens on are the user's alone (0600), as
# ssh and sshd make them (unix_listener's umask 0177), whatever the umask
# of the daemon or the agent: a group- or world-writable socket would let
# another user into the forward's target, as the user.  Both listeners:
# the daemon's own (routes file's forward L) and the agent's (forward R,
# the far end's LISTEN; a local agent has the daemon's umask).
. "$(dirname "$0")/lib.sh"
T0=$(date +%s)
export SPINDLE_RUNTIME_DIR="$TMPD/rt" SPINDLE_ROUTES="$TMPD/routes"
cat >"$SPINDLE_ROUTES" <<EOR
route web local+local
    forward L $TMPD/l.sock 127.0.0.1:1
    forward R $TMPD/r.sock 127.0.0.1:1
EOR
daemon_stop_on_exit
(umask 000 && spn daemon start >/dev/null) || fail "daemon start"
spn up web >/dev/null 2>"$TMPD/err" || fail "up web: $(cat "$TMPD/err")"
i=100
while { [ ! -S "$TMPD/l.sock" ] || [ ! -S "$TMPD/r.sock" ]; } &&
    [ $i -gt 0 ]; do
	sleep 0.1
	i=$((i - 1))
done
for s in l r; do
	[ -S "$TMPD/$s.sock" ] || fail "forward $s: no socket: $(tail -n 3 \
	    "$SPINDLE_RUNTIME_DIR/daemon.log")"
	check "forward $s: the socket's mode" 600 \
	    "$(stat -c %a "$TMPD/$s.sock")"
done
spn down web >/dev/null 2>&1 || fail "down web"
log "forward-perms: $(($(date +%s) - T0)) s"
pass
