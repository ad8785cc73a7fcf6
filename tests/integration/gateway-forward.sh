#!/bin/sh
# The gateway's tunnels with OpenSSH's own ssh, through `spindle
# ssh-config`'s block: -L and -D (curl --socks5-hostname to a name the
# far end resolves) to a python3 HTTP server, -W to an echo server
# (half-closed: the answer comes after our EOF), -R with a fixed port
# (a connection to the far end's port reaches a server here; gone with
# the ssh), -R 0 refused with OpenSSH's words, a refused target port (the
# local connection closed at once, the daemon log saying why), 50
# connections at once; routes local and local+local.  As root also
# `ssh -J local.spindle` to a real sshd on loopback (lib-sshd.sh).
if [ "$(id -u)" = 0 ]; then
	. "$(dirname "$0")/lib-sshd.sh"
else
	. "$(dirname "$0")/lib.sh"
fi
T0=$(date +%s%N)
ms_since() {	# NS: milliseconds since then
	echo $(( ($(date +%s%N) - $1) / 1000000 ))
}
GW=$(dirname "$SPINDLE")/spindle-gateway
[ -x "$GW" ] || skip "no spindle-gateway (configure found no libssh >= 0.10)"
[ -x /usr/bin/ssh ] || skip "no OpenSSH client at /usr/bin/ssh"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"
PY=$(python3 -c 'import sys; print(sys.executable)') || skip "python3 fails"

# A world of its own: daemon, gateway, host key, known_hosts.
mkdir -p "$TMPD/home" "$TMPD/config" || fail "mkdir"
export SPINDLE_RUNTIME_DIR="$TMPD/rt" SPINDLE_ROUTES="$TMPD/routes" \
    HOME="$TMPD/home" XDG_CONFIG_HOME="$TMPD/config"
: >"$SPINDLE_ROUTES"
DAEMON_LOG=$SPINDLE_RUNTIME_DIR/daemon.log
daemon_stop_on_exit
"$SPINDLE" ssh-config >"$TMPD/spindle_config" 2>"$TMPD/err" ||
    fail "spindle ssh-config: $(cat "$TMPD/err")"
CFG=$TMPD/ssh_config
cp "$TMPD/spindle_config" "$CFG"
# lib-sshd's settings for the rest (ssh takes the first value it sees).
if [ -n "${SSH_CFG:-}" ]; then
	cat "$SSH_CFG" >>"$CFG"
else
	printf 'Host *\n\tBatchMode yes\n\tLogLevel ERROR\n' >>"$CFG"
fi
SSH="/usr/bin/ssh -F $CFG"

NEXT_PORT=$((20000 + ($$ * 17) % 30000))
new_port() {	# sets PORT: one no listener has (any address)
	while :; do
		NEXT_PORT=$((NEXT_PORT + 1))
		[ $NEXT_PORT -gt 60000 ] && NEXT_PORT=20001
		ss -Hltn "sport = :$NEXT_PORT" | grep -q . || break
	done
	PORT=$NEXT_PORT
}
# listening PORT [SECS]: something accepts on 127.0.0.1:PORT.
listening() {
	_end=$(( $(date +%s) + ${2:-0} ))
	while :; do
		curl -s -m 5 -o /dev/null "http://127.0.0.1:$1/"
		[ $? != 7 ] && return 0
		[ "$(date +%s)" -ge $_end ] && return 1
		sleep 0.05
	done
}

# The far side's servers: HTTP on $HP, an echo (until EOF) on $EP.
mkdir "$TMPD/www" || fail "mkdir"
echo "hello-$$" >"$TMPD/www/index.html"
new_port
HP=$PORT
(cd "$TMPD/www" && exec "$PY" -m http.server -b 127.0.0.1 "$HP") \
    >"$TMPD/http.log" 2>&1 &
track $!
new_port
EP=$PORT
"$PY" -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
def echo(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
' "$EP" &
track $!
listening "$HP" 10 || fail "the HTTP server did not start"
listening "$EP" 10 || fail "the echo server did not start"

# --- -W first: a plain exchange, half-closed.
t=$(date +%s%N)
out=$(printf 'ping-%s' $$ | timeout 30 $SSH -W "127.0.0.1:$EP" local.spindle \
    2>"$TMPD/w.err")
check_rc "-W" 0 $? "$TMPD/w.err"
check "-W: the echo after our EOF" "ping-$$" "$out"
log "-W (daemon and gateway starting) took $(ms_since "$t") ms"

# --- -N -L, -D and a -L to a closed port on one connection.
new_port
LP=$PORT
new_port
DP=$PORT
new_port
XP=$PORT
new_port
CLOSED=$PORT
$SSH -N -L "$LP:127.0.0.1:$HP" -D "$DP" -L "$XP:127.0.0.1:$CLOSED" \
    local.spindle 2>"$TMPD/l.err" &
LPID=$!
track $LPID
listening "$LP" 15 || fail "-L: nothing listens on $LP: $(cat "$TMPD/l.err")"
t=$(date +%s%N)
check "-L: curl" "hello-$$" "$(curl -sS -m 10 "http://127.0.0.1:$LP/")"
log "-L: curl took $(ms_since "$t") ms"
# localhost: resolved at the far end (here the same machine).
check "-D: curl --socks5-hostname" "hello-$$" \
    "$(curl -sS -m 10 --socks5-hostname "127.0.0.1:$DP" \
    "http://localhost:$HP/")"
t=$(date +%s%N)
curl -sS -m 20 "http://127.0.0.1:$XP/" 2>"$TMPD/x.err" &&
    fail "-L to a closed port: curl got through"
ms=$(ms_since "$t")
log "-L to a closed port: curl failed in $ms ms: $(cat "$TMPD/x.err")"
[ "$ms" -lt 10000 ] || fail "-L to a closed port: $ms ms to fail"
i=0
while ! grep -q "Connection refused" "$DAEMON_LOG" && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
grep -q "Connection refused" "$DAEMON_LOG" ||
    fail "the daemon log says nothing of the refusal"
log "daemon log: $(grep 'Connection refused' "$DAEMON_LOG" | tail -1)"
alive "$LPID" || fail "-N -L: gone after a failed connection"

# --- 50 connections at once through -L.
t=$(date +%s%N)
i=0
while [ $i -lt 50 ]; do
	curl -sS -m 30 -o "$TMPD/p.$i" "http://127.0.0.1:$LP/" \
	    2>"$TMPD/p.$i.err" &
	i=$((i + 1))
done
wait_curls=$(jobs -p | grep -vx "$LPID")
for p in $wait_curls; do
	wait "$p"
done
i=0
while [ $i -lt 50 ]; do
	check "parallel connection $i" "hello-$$" \
	    "$(cat "$TMPD/p.$i" "$TMPD/p.$i.err")"
	i=$((i + 1))
done
log "50 parallel connections through -L in $(ms_since "$t") ms"
kill -TERM "$LPID"
wait "$LPID"

# --- -R with a fixed port, through local+local; gone with the ssh.
new_port
RP=$PORT
$SSH -N -o ExitOnForwardFailure=yes -R "$RP:127.0.0.1:$HP" \
    local+local.spindle 2>"$TMPD/r.err" &
RPID=$!
track $RPID
t=$(date +%s%N)
listening "$RP" 20 || fail "-R: nothing listens on $RP: $(cat "$TMPD/r.err")"
log "-R: listening at the far end after $(ms_since "$t") ms"
check "-R: curl to the far end's port" "hello-$$" \
    "$(curl -sS -m 10 "http://127.0.0.1:$RP/")"
check "-R: listener bound to loopback" "127.0.0.1:$RP" \
    "$(ss -Hltn "sport = :$RP" | awk '{ print $4 }')"
kill -TERM "$RPID"
wait "$RPID"
t=$(date +%s%N)
i=0
while ss -Hltn "sport = :$RP" | grep -q . && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
ss -Hltn "sport = :$RP" | grep -q . && fail "-R: still listening after ssh"
log "-R: far listener gone $(ms_since "$t") ms after the ssh"

# --- -R 0: refused (its port is not known in time); OpenSSH's words.
timeout 30 $SSH -N -o ExitOnForwardFailure=yes -R "0:127.0.0.1:$HP" \
    local.spindle 2>"$TMPD/r0.err"
check_rc "-R 0" 255 $? "$TMPD/r0.err"
contains "$TMPD/r0.err" "remote port forwarding failed for listen port 0" ||
    fail "-R 0: $(cat "$TMPD/r0.err")"

# --- -L through local+local.
new_port
LP=$PORT
$SSH -N -L "$LP:127.0.0.1:$HP" local+local.spindle 2>"$TMPD/ll.err" &
LPID=$!
track $LPID
listening "$LP" 15 || fail "-L local+local: $(cat "$TMPD/ll.err")"
check "-L local+local: curl" "hello-$$" \
    "$(curl -sS -m 10 "http://127.0.0.1:$LP/")"
kill -TERM "$LPID"
wait "$LPID"

# --- ProxyJump through the gateway to a real sshd (root: lib-sshd.sh).
if [ -n "${SSH_CFG:-}" ]; then
	t=$(date +%s%N)
	out=$(timeout 30 $SSH -J local.spindle -l "$U_A" 127.0.0.1 \
	    'echo jumped; id -un' 2>"$TMPD/j.err")
	check_rc "-J local.spindle" 0 $? "$TMPD/j.err"
	check "-J local.spindle" "jumped
$U_A" "$out"
	log "ssh -J local.spindle to sshd took $(ms_since "$t") ms"
else
	log "ssh -J: not run (needs root for an sshd)"
fi

log "took $(ms_since "$T0") ms"
pass
