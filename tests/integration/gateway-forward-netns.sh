#!/bin/sh
# The gateway's tunnels through a real route, in lib-netns.sh's world:
# route fwd = bastion+inner+sudo=USER (sudo with a password under
# requiretty), reached by OpenSSH's ssh as fwd.spindle through `spindle
# ssh-config`'s block.  -L and -D to the inner's HTTP server, where
# localhost:PORT must reach the inner's loopback and not the server on
# the same port here (names are resolved at the far end); a refused port
# closes the local connection fast, the daemon log saying why; `ssh -J
# fwd.spindle` to the inner's sshd, which sees the connection come from
# the inner itself; -R: a connection made inside the inner namespace
# reaches a server here, and the far listener goes with the ssh.
T0=$(date +%s%3N)
NETNS_SUDO_PASSWORD=yes
. "$(dirname "$0")/lib-netns.sh"
GW=$(dirname "$SPINDLE")/spindle-gateway
[ -x "$GW" ] || skip "no spindle-gateway (configure found no libssh >= 0.10)"
[ -x /usr/bin/ssh ] || skip "no OpenSSH client at /usr/bin/ssh"
command -v curl >/dev/null || skip "curl is not installed"
unset http_proxy https_proxy all_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY \
    no_proxy NO_PROXY
netns_daemon fwd
mkdir -p "$TMPD/home" "$TMPD/config" || fail "mkdir"
export HOME="$TMPD/home" XDG_CONFIG_HOME="$TMPD/config"
"$SPINDLE" ssh-config >"$TMPD/spindle_config" 2>"$TMPD/err" ||
    fail "spindle ssh-config: $(cat "$TMPD/err")"
# The spindle block first (ssh takes the first value it sees), then the
# world's hosts and keys.
CFG=$TMPD/ssh_config
cat "$TMPD/spindle_config" "$SSHW/ssh_config.ns" >"$CFG"
SSH="/usr/bin/ssh -F $CFG"

# The inner's HTTP server takes the port of one here: only a connection
# made in the inner namespace gets INNER.
ns_serve here - 127.0.0.1 0 http HERE || fail "HTTP server here"
HP=$SRV_PORT
ns_serve http "$NI" 0.0.0.0 "$HP" http INNER || fail "HTTP server in $NI"
log "world and servers up in $(elapsed "$T0") s"

# --- -L, -D and a -L to a refused port on one connection.
LP=$(free_port 300)
DP=$(free_port 310)
XP=$(free_port 320)
$SSH -N -L "$LP:localhost:$HP" -D "$DP" -L "$XP:localhost:1" fwd.spindle \
    2>"$TMPD/l.err" &
LPID=$!
track $LPID
listening "$LP" 15 || fail "-L: nothing listens on $LP: $(cat "$TMPD/l.err")"
t=$(now_ms)
out=$(curl -sS -m 30 "http://127.0.0.1:$LP/" 2>"$TMPD/err")
check_rc "-L: curl" 0 $? "$TMPD/err"
check "-L: curl (localhost is the inner's)" INNER "$out"
log "-L: first curl (the route coming up) took $(elapsed "$t") s"
t=$(now_ms)
out=$(curl -sS -m 30 --socks5-hostname "127.0.0.1:$DP" \
    "http://localhost:$HP/" 2>"$TMPD/err")
check_rc "-D: curl" 0 $? "$TMPD/err"
check "-D: curl --socks5-hostname localhost" INNER "$out"
log "-D: curl took $(elapsed "$t") s"
t=$(now_ms)
curl -sS -m 20 "http://127.0.0.1:$XP/" 2>"$TMPD/x.err" &&
    fail "-L to a refused port: curl got through"
log "-L to a refused port: curl failed in $(elapsed "$t") s:" \
    "$(cat "$TMPD/x.err")"
[ $(($(now_ms) - t)) -lt 10000 ] || fail "-L to a refused port: too slow"
wait_line "$DAEMON_LOG" "Connection refused" 5 ||
    fail "the daemon log says nothing of the refusal"
log "daemon log: $(grep 'Connection refused' "$DAEMON_LOG" | tail -1)"
kill -TERM "$LPID"
wait "$LPID"

# --- ssh -J fwd.spindle inner: the inner's sshd sees the connection
# come from the inner itself.
t=$(now_ms)
out=$(timeout 30 $SSH -J fwd.spindle -l "$U_A" inner id -un \
    2>"$TMPD/err")
check_rc "ssh -J fwd.spindle inner" 0 $? "$TMPD/err"
check "ssh -J fwd.spindle inner" "$U_A" "$out"
grep -q "Accepted publickey for $U_A from $I " "$TMPD/log.$NI" ||
    fail "-J: the inner's sshd did not see a connection from $I"
log "ssh -J fwd.spindle inner took $(elapsed "$t") s"

# --- -R: the inner's 127.0.0.1:RP reaches the server here.
RP=$(free_port 330)
while ip netns exec "$NI" ss -Htln "sport = :$RP" | grep -q .; do
	RP=$((RP + 1))
done
$SSH -N -o ExitOnForwardFailure=yes -R "$RP:127.0.0.1:$HP" fwd.spindle \
    2>"$TMPD/r.err" &
RPID=$!
track $RPID
t=$(now_ms)
i=0
while ! ip netns exec "$NI" ss -Htln "sport = :$RP" | grep -q . &&
    [ $i -lt 200 ]; do
	alive "$RPID" || fail "-R: ssh ended: $(cat "$TMPD/r.err")"
	sleep 0.1
	i=$((i + 1))
done
check "-R: the far listener, on the inner's loopback" "127.0.0.1:$RP" \
    "$(ip netns exec "$NI" ss -Htln "sport = :$RP" | awk '{ print $4 }')"
log "-R: listening in $NI after $(elapsed "$t") s"
out=$(ip netns exec "$NI" curl -sS -m 20 "http://127.0.0.1:$RP/" \
    2>"$TMPD/err")
check_rc "-R: curl in $NI" 0 $? "$TMPD/err"
check "-R: curl in $NI reaches the server here" HERE "$out"
kill -TERM "$RPID"
wait "$RPID"
i=0
while ip netns exec "$NI" ss -Htln "sport = :$RP" | grep -q . &&
    [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
ip netns exec "$NI" ss -Htln "sport = :$RP" | grep -q . &&
    fail "-R: the far listener outlived the ssh"

log "took $(elapsed "$T0") s"
pass
