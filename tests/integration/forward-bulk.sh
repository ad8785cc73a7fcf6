#!/bin/sh
# Tunnels through a real route under load (issue 11 point 5), in
# lib-netns.sh's world (route bastion+inner+sudo=USER, sudo with a
# password under requiretty, held by the daemon): 1 GiB through the
# shim's -L arrives whole (sha256) while no process on the path (the
# shim, the daemon, each hop's agent, found in its namespace) ever holds
# 64 MiB resident; kill -9 of the middle agent (the bastion's) closes the
# forwarded connections within 2 s, the -L listener stays, and the next
# connection brings the route up again.
# FORWARD_BULK_MB: how many MiB (1024).
T0=$(date +%s%3N)
NETNS_SUDO_PASSWORD=yes
. "$(dirname "$0")/lib-netns.sh"
MB=${FORWARD_BULK_MB:-1024}
LIMIT_KB=65536
netns_daemon fwd

ns_serve sink "$NI" 0.0.0.0 0 sink || fail "sink in $NI"
SP=$SRV_PORT
ns_serve echo "$NI" 0.0.0.0 0 echo || fail "echo server in $NI"
EP=$SRV_PORT
fwd_start main -N -L "@1@:localhost:$SP" -L "@2@:localhost:$EP"
MAIN=$FWD_PID
log "world, servers and shim up in $(elapsed "$T0") s"

# The bulk, to the sink: it answers what it got once our EOF reached it.
t=$(now_ms)
tcp_client send 127.0.0.1 "$P1" $((MB * 1048576)) >"$TMPD/out" 2>"$TMPD/err"
ms=$(($(now_ms) - t))
sent=$(sed -n 's/^sent //p' "$TMPD/out")
[ -n "$sent" ] || fail "bulk: $(cat "$TMPD/out" "$TMPD/err")"
check "$MB MiB through -L (sha256, as the sink got it)" "$sent" \
    "$(sed -n '2p' "$TMPD/out")"
log "$MB MiB through -L in $ms ms ($((MB * 1000 / (ms + 1))) MiB/s," \
    "the route coming up included)"

# What each process on the path held at most, read while all still run.
nb=$(ns_agents "$NB")
ni=$(ns_agents "$NI")
[ "$(echo $nb | wc -w)" -ge 1 ] || fail "no agent in the bastion's namespace"
[ "$(echo $ni | wc -w)" -ge 2 ] || fail "agents in the inner's: '$ni'"
dp=$(daemon_pid)
[ -n "$dp" ] || fail "no daemon"
over=""
for p in "shim:$MAIN" "daemon:$dp" $(for a in $nb; do echo "bastion:$a"; done) \
    $(for a in $ni; do echo "inner:$a"; done); do
	kb=$(vmhwm_kb "${p#*:}")
	[ -n "$kb" ] || fail "no VmHWM for $p"
	log "VmHWM $p ($(args_of "${p#*:}" | cut -c1-40)): $kb kB"
	[ "$kb" -lt "$LIMIT_KB" ] || over="$over $p:${kb}kB"
done
if [ -n "$over" ]; then
	sanitized && log "over $LIMIT_KB kB (a sanitizer build):$over" ||
	    fail "over $LIMIT_KB kB resident:$over"
fi

# kill -9 of the bastion's agent, the middle of the route: the forwarded
# connection is closed within 2 s; the listener stays.
tcp_client hold 127.0.0.1 "$P2" >"$TMPD/hold" 2>&1 &
hold=$!
_t=300
until grep -q . "$TMPD/hold"; do
	_t=$((_t - 1))
	[ "$_t" -gt 0 ] || fail "hold: no echo in 30 s"
	sleep 0.1
done
check "hold: through -L" up "$(cat "$TMPD/hold")"
mid=$(ns_agents "$NB")
[ "$(echo $mid | wc -w)" = 1 ] || fail "agents in the bastion's namespace: '$mid'"
t=$(now_ms)
kill -KILL "$mid"
wait "$hold"
c=$(sed -n 's/^closed //p' "$TMPD/hold")
[ -n "$c" ] || fail "hold: $(cat "$TMPD/hold")"
ms=$(echo "$c $t" | awk '{ printf "%d", $1 * 1000 - $2 }')
log "kill -9 of the bastion's agent: the connection closed $ms ms later"
[ "$ms" -le 2000 ] || fail "the forwarded connection closed $ms ms after the kill"
alive "$MAIN" || fail "the shim ended with the route: $(cat "$TMPD/fwd.main")"
ss -Htlnp "sport = :$P2" | grep -q "pid=$MAIN," ||
    fail "the -L listener is gone with the route"

# The next connection brings the route up again.
t=$(now_ms)
tcp_client send 127.0.0.1 "$P1" 1000000 >"$TMPD/out" 2>"$TMPD/err"
sent=$(sed -n 's/^sent //p' "$TMPD/out")
[ -n "$sent" ] || fail "after the kill: $(cat "$TMPD/out" "$TMPD/err")"
check "after the kill, through the route again" "$sent" "$(sed -n '2p' "$TMPD/out")"
log "after the kill, the next connection took $(elapsed "$t") s"
[ "$(ns_agents "$NB")" != "$mid" ] || fail "the same bastion agent?"

kill -TERM "$MAIN"
wait_gone "$MAIN" 5 || fail "the shim outlived SIGTERM by 5 s"
log "took $(elapsed "$T0") s in all"
pass
