#!/bin/sh
# The gateway's tunnels with OpenSSH's own ssh, through `spindle
# ssh-config`'s block, routes local and local+local: -L and -D (curl
# --socks5-hostname to a name the far end resolves) to a python3 HTTP
# server, -W to an echo server (half-closed: the answer comes after our
# EOF), a refused target port (the local connection closed at once, for
# -L and -D, the daemon log saying why; -J sees the connection end
# before the banner), 50 connections at once; -R with a fixed port (a
# connection to the far end's port reaches a server here, 50 at once;
# gone with the ssh), -R added and cancelled through a ControlMaster, a
# port taken at the far end logged, -R 0 refused with OpenSSH's words.
# As root also `ssh -J local.spindle` to a real sshd on loopback
# (lib-sshd.sh).
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

# The far side's servers: HTTP on $HP, an echo (until EOF) on $EP.
mkdir "$TMPD/www" || fail "mkdir"
echo "hello-$$" >"$TMPD/www/index.html"
new_port
HP=$PORT
# http.server's backlog of 5 would drop 50 connections' SYNs (1 s
# retries): room for all of them.
(cd "$TMPD/www" && exec "$PY" -c '
import http.server, sys
class S(http.server.ThreadingHTTPServer):
    request_queue_size = 128
S(("127.0.0.1", int(sys.argv[1])),
    http.server.SimpleHTTPRequestHandler).serve_forever()
' "$HP") >"$TMPD/http.log" 2>&1 &
track $!
new_port
EP=$PORT
echo_server "$EP"
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
t=$(date +%s%N)
curl -sS -m 20 --socks5-hostname "127.0.0.1:$DP" \
    "http://localhost:$CLOSED/" 2>"$TMPD/x.err" &&
    fail "-D to a closed port: curl got through"
ms=$(ms_since "$t")
log "-D to a closed port: curl failed in $ms ms: $(cat "$TMPD/x.err")"
[ "$ms" -lt 10000 ] || fail "-D to a closed port: $ms ms to fail"
alive "$LPID" || fail "-N -L: gone after a failed connection"

# --- 50 connections at once through -L (one python3: 50 curls would
# cost seconds of process starts on a loaded machine).
# parallel N PORT WHAT: N HTTP GETs at once to 127.0.0.1:PORT, each
# of which must get the page.
parallel() {
	_pt=$(date +%s%N)
	_po=$("$PY" -c '
import sys, threading, time, urllib.request
n, url, want = int(sys.argv[1]), sys.argv[2], sys.argv[3]
res = []
def get():
    t = time.time()
    try:
        b = urllib.request.urlopen(url, timeout=30).read().decode().strip()
    except Exception as e:
        b = str(e)
    res.append((b, time.time() - t))
ts = [threading.Thread(target=get) for _ in range(n)]
for x in ts:
    x.start()
for x in ts:
    x.join()
bad = [b for b, _ in res if b != want]
print("%d good, slowest %.2f s%s" % (len(res) - len(bad),
    max(d for _, d in res), (", " + bad[0]) if bad else ""))
' "$1" "http://127.0.0.1:$2/" "hello-$$")
	log "$1 parallel connections through $3: $_po, $(ms_since "$_pt")" \
	    "ms in all"
	case $_po in
	"$1 good"*) ;;
	*) fail "$1 parallel connections through $3: $_po" ;;
	esac
}
parallel 50 "$LP" -L
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
parallel 50 "$RP" -R
kill -TERM "$RPID"
wait "$RPID"
t=$(date +%s%N)
unlistened "$RP" || fail "-R: still listening after ssh"
log "-R: far listener gone $(ms_since "$t") ms after the ssh"

# --- -R 0: refused (its port is not known in time); OpenSSH's words.
timeout 30 $SSH -N -o ExitOnForwardFailure=yes -R "0:127.0.0.1:$HP" \
    local.spindle 2>"$TMPD/r0.err"
check_rc "-R 0" 255 $? "$TMPD/r0.err"
contains "$TMPD/r0.err" "remote port forwarding failed for listen port 0" ||
    fail "-R 0: $(cat "$TMPD/r0.err")"

# --- -R added and cancelled on a live connection (ssh -O forward and
# -O cancel through a ControlMaster: tcpip-forward, cancel-tcpip-forward).
$SSH -M -S "$TMPD/cm" -N local.spindle 2>"$TMPD/cm.err" &
CMPID=$!
track $CMPID
i=0
while [ ! -S "$TMPD/cm" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$TMPD/cm" ] || fail "ControlMaster: $(cat "$TMPD/cm.err")"
new_port
RP=$PORT
$SSH -S "$TMPD/cm" -O forward -R "$RP:127.0.0.1:$HP" local.spindle \
    2>"$TMPD/o.err" || fail "ssh -O forward -R: $(cat "$TMPD/o.err")"
listening "$RP" 20 || fail "-O forward -R: nothing listens on $RP"
check "-O forward -R: curl" "hello-$$" \
    "$(curl -sS -m 10 "http://127.0.0.1:$RP/")"
$SSH -S "$TMPD/cm" -O cancel -R "$RP:127.0.0.1:$HP" local.spindle \
    2>"$TMPD/o.err" || fail "ssh -O cancel -R: $(cat "$TMPD/o.err")"
unlistened "$RP" || fail "-O cancel -R: still listening"
alive "$CMPID" || fail "the ControlMaster went with the cancel"
# A port taken at the far end: ssh was told yes (it had to be, at
# once); the daemon log says why it failed.
$SSH -S "$TMPD/cm" -O forward -R "$HP:127.0.0.1:$HP" local.spindle \
    2>"$TMPD/o.err" || fail "ssh -O forward -R: $(cat "$TMPD/o.err")"
wait_line "$DAEMON_LOG" "remote forward localhost:$HP failed: .*in use" 10 ||
    fail "-R to a taken port: the daemon log says nothing"
log "daemon log: $(grep "remote forward localhost:$HP failed" \
    "$DAEMON_LOG" | tail -1)"
$SSH -S "$TMPD/cm" -O exit local.spindle 2>/dev/null
wait "$CMPID"

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

# --- ProxyJump to a refused port: the channel was accepted, so ssh sees
# the connection end before the banner, as from OpenSSH's sshd.
t=$(date +%s%N)
timeout 30 $SSH -J local.spindle -p "$CLOSED" 127.0.0.1 true 2>"$TMPD/jr.err"
check_rc "-J to a refused port" 255 $? "$TMPD/jr.err"
contains "$TMPD/jr.err" "kex_exchange_identification: Connection closed" ||
    fail "-J to a refused port: $(cat "$TMPD/jr.err")"
log "-J to a refused port: failed in $(ms_since "$t") ms"

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
