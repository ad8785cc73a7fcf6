#!/bin/sh
# The shim's forwards (-L -D -R -W -N -f, ExitOnForwardFailure) and
# `spindle forward` on routes `local` and `local+local`, no root needed:
# python3 servers on loopback, curl through the forwards; OpenSSH 9.2's
# words and exit statuses for bind conflicts and failed forwards; -N held
# until a signal (SIGTERM: 0, as ssh without a session; SIGHUP: 255);
# -fN back only once its listener accepts; a command's forwards living
# while it runs and gone after; -f with a command, held by a connection.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
cleanup() {
	timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
}
trap '_t=$?; cleanup; (exit $_t); _lib_cleanup' EXIT
FAKEBIN=$("$SPINDLE" fakessh-bin) || fail "fakessh-bin"
SSH=$FAKEBIN/ssh
T0=$(date +%s%N)
ms_since() {	# NS: milliseconds since then
	echo $(( ($(date +%s%N) - $1) / 1000000 ))
}

# python3 itself, not a version manager's wrapper (seconds a start).
PY=$(python3 -c 'import sys; print(sys.executable)') || skip "python3 fails"

# The far side's servers: HTTP on $HP, an echo (until EOF, then close)
# on $EP.
mkdir "$TMPD/www" || fail "mkdir"
echo "hello-$$" >"$TMPD/www/index.html"
new_port
HP=$PORT
(cd "$TMPD/www" && exec "$PY" -m http.server -b 127.0.0.1 "$HP") \
    >"$TMPD/http.log" 2>&1 &
track $!
new_port
EP=$PORT
echo_server "$EP"
listening "$HP" 10 || fail "the HTTP server did not start: $(tail -n 2 "$TMPD/http.log")"
listening "$EP" 10 || fail "the echo server did not start"
URL=http://127.0.0.1:$HP/

# --- -N -L: curl through it; SIGTERM ends it with 0, as ssh -N.
# A second -L to a port where nothing listens: ssh's open-failure line
# with the far side's reason, the forward goes on.
new_port
LP=$PORT
new_port
XP=$PORT
new_port
"$SSH" -N -L "$LP:127.0.0.1:$HP" -L "$XP:127.0.0.1:$PORT" local \
    2>"$TMPD/l.err" &
LPID=$!
track $LPID
t=$(date +%s%N)
listening "$LP" 15 || fail "-N -L: nothing listens on $LP: $(cat "$TMPD/l.err")"
log "-N -L: listening after $(ms_since "$t") ms"
check "-L: curl" "hello-$$" "$(curl -sS -m 10 "http://127.0.0.1:$LP/")"
t=$(date +%s%N)
curl -sS -m 10 "http://127.0.0.1:$XP/" 2>/dev/null &&
    fail "-L to a closed port: curl got through"
log "-L to a closed port: curl failed after $(ms_since "$t") ms"
i=0
while ! contains "$TMPD/l.err" "open failed" && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
grep -Eq '^channel [0-9]+: open failed: connect failed: Connection refused' \
    "$TMPD/l.err" || fail "-L to a closed port: $(cat "$TMPD/l.err")"
alive "$LPID" || fail "-N -L: gone after one connection"
t=$(date +%s%N)
kill -TERM "$LPID"
wait "$LPID"
check_rc "-N, SIGTERM" 0 $? "$TMPD/l.err"
log "-N: ended $(ms_since "$t") ms after SIGTERM"
! listening "$LP" || fail "-N -L: still listening after its end"

# -N without forwards holds too; SIGHUP is 255 (SIGINT is ignored in a
# background job of sh, and ssh keeps an ignored one ignored).
"$SSH" -N local 2>"$TMPD/n.err" &
NPID=$!
track $NPID
sleep 1
alive "$NPID" || fail "-N alone did not hold: $(cat "$TMPD/n.err")"
kill -HUP "$NPID"
wait "$NPID"
check_rc "-N, SIGHUP" 255 $? "$TMPD/n.err"

# --- -fN -L: back once the listener accepts (no wait at all here).
new_port
FP=$PORT
t=$(date +%s%N)
"$SSH" -fN -L "$FP:127.0.0.1:$HP" local+local >"$TMPD/f.out" \
    2>"$TMPD/f.err"
check_rc "-fN -L" 0 $? "$TMPD/f.err"
listening "$FP" || fail "-fN -L: returned before listening on $FP"
log "-fN -L: returned listening after $(ms_since "$t") ms"
# The listener is the shim's, and the daemon's too (ACCEPT): the daemon
# accepts on it, the shim never does.
FPID=$(pgrep -f "ssh -fN -L $FP:" | head -n 1)
[ -n "$FPID" ] || fail "-fN -L: no shim for $FP"
track "$FPID"
DPID=$("$SPINDLE" daemon status | sed -n 's/.*pid \([0-9]*\),.*/\1/p')
ss -Hltnp "sport = :$FP" >"$TMPD/f.ss"
for p in "$FPID" "$DPID"; do
	grep -q "pid=$p," "$TMPD/f.ss" ||
	    fail "-fN -L: pid $p does not hold the listener: $(cat "$TMPD/f.ss")"
done
check "-fN -L: curl" "hello-$$" "$(curl -sS -m 10 "http://127.0.0.1:$FP/")"
check "-fN -L: curl again" "hello-$$" \
    "$(curl -sS -m 10 "http://127.0.0.1:$FP/")"
log "-fN -L: the daemon ($DPID) accepts on the shim's listener"

# --- A bind conflict ($FP is the -fN's, on both loopbacks): ssh's words.
# Without ExitOnForwardFailure ssh goes on (and backgrounds: 0) ...
"$SSH" -fN -L "$FP:127.0.0.1:$HP" local >/dev/null 2>"$TMPD/b.err"
check_rc "conflict, -fN" 0 $? "$TMPD/b.err"
for w in "bind [127.0.0.1]:$FP: Address already in use" \
    "channel_setup_fwd_listener_tcpip: cannot listen to port: $FP" \
    "Could not request local forwarding."; do
	contains "$TMPD/b.err" "$w" ||
	    fail "conflict: no '$w' in: $(cat "$TMPD/b.err")"
done
BPID=$(pgrep -f "ssh -fN -L $FP:" | grep -vx "$FPID" | head -n 1)
[ -n "$BPID" ] && track "$BPID" && kill -TERM "$BPID"
# ... with it, it fails before backgrounding, 255.
t=$(date +%s%N)
"$SSH" -fN -oExitOnForwardFailure=yes -L "$FP:127.0.0.1:$HP" local \
    >/dev/null 2>"$TMPD/b.err"
check_rc "conflict, ExitOnForwardFailure" 255 $? "$TMPD/b.err"
contains "$TMPD/b.err" "Could not request local forwarding." ||
    fail "ExitOnForwardFailure: $(cat "$TMPD/b.err")"
sleep 0.2
pgrep -f "ssh -fN -oExitOnForwardFailure=yes -L $FP:" >/dev/null &&
    fail "ExitOnForwardFailure: a process went to the background"
log "conflict with ExitOnForwardFailure: 255 after $(ms_since "$t") ms"
# Only one forward of two failing is no failure without it.
new_port
"$SSH" -N -L "$FP:127.0.0.1:$HP" -L "$PORT:127.0.0.1:$HP" local \
    2>"$TMPD/b.err" &
track $!
listening "$PORT" 15 || fail "one of two: $(cat "$TMPD/b.err")"
contains "$TMPD/b.err" "Could not request" &&
    fail "one of two failed: $(cat "$TMPD/b.err")"
kill -TERM $!
kill -TERM "$FPID"

# Bad specs: ssh's words, 255.
"$SSH" -L 8080:x local true 2>"$TMPD/e.err"
check_rc "bad -L" 255 $? "$TMPD/e.err"
check "bad -L: stderr" "Bad local forwarding specification '8080:x'" \
    "$(cat "$TMPD/e.err")"
# -O has no master to talk to: refused, not a command run (a marker file
# would be made by one).
"$SSH" -O exit local touch "$TMPD/ran-O" 2>"$TMPD/e.err"
check_rc "-O exit" 255 $? "$TMPD/e.err"
[ ! -e "$TMPD/ran-O" ] || fail "-O exit ran the command"
contains "$TMPD/e.err" "-O exit is not supported" ||
    fail "-O exit: $(cat "$TMPD/e.err")"

# --- -f with a command (`ssh -f -L ... host sleep 1` then a client):
# back at once, the forward listening, and held past the command's end
# while a connection through it is open, as ssh's channels hold it.
new_port
t=$(date +%s%N)
timeout 20 "$SSH" -f -L "$PORT:127.0.0.1:$EP" local sleep 1 \
    2>"$TMPD/f.err"
check_rc "-f with a command" 0 $? "$TMPD/f.err"
log "-f with a command: back in $(ms_since "$t") ms"
out=$("$PY" -c '
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
time.sleep(3)
c.sendall(b"late")
print(c.recv(100).decode())
' "$PORT" 2>&1)
check "-f with a command: a connection outlives it" "late" "$out"

# --- A UNIX socket -L: made 0600 (ssh's StreamLocalBindMask), curl
# through it.
"$SSH" -N -L "$TMPD/l.sock:127.0.0.1:$HP" local 2>"$TMPD/u.err" &
UPID=$!
track $UPID
i=0
while [ ! -S "$TMPD/l.sock" ] && [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -S "$TMPD/l.sock" ] || fail "unix -L: no socket: $(cat "$TMPD/u.err")"
check "unix -L: mode" "srw-------" "$(stat -c %A "$TMPD/l.sock")"
check "unix -L: curl" "hello-$$" \
    "$(curl -sS -m 10 --unix-socket "$TMPD/l.sock" "$URL")"
kill -TERM "$UPID"
wait "$UPID"
check_rc "unix -L, SIGTERM" 0 $? "$TMPD/u.err"

# --- -D: curl --socks5-hostname, "localhost" resolved at the far end.
new_port
DP=$PORT
"$SSH" -N -D "$DP" local 2>"$TMPD/d.err" &
DPID=$!
track $DPID
listening "$DP" 15 || fail "-D: nothing listens: $(cat "$TMPD/d.err")"
# Loopback only without -g (ssh's GatewayPorts=no) ...
addrs=$(ss -Hltn "sport = :$DP" | awk '{ print $4 }' | sort | tr '\n' ' ')
case $addrs in
"127.0.0.1:$DP " | "127.0.0.1:$DP [::1]:$DP " | "[::1]:$DP 127.0.0.1:$DP ") ;;
*) fail "-D: bound to $addrs, not loopback only" ;;
esac
check "-D: curl" "hello-$$" "$(curl -sS -m 10 \
    --socks5-hostname "127.0.0.1:$DP" "http://localhost:$HP/")"
check "-D: curl socks4a" "hello-$$" "$(curl -sS -m 10 \
    --socks4a "127.0.0.1:$DP" "http://localhost:$HP/")"
kill -TERM "$DPID"
# ... every address with -g (only a listener: nothing connects to it).
new_port
"$SSH" -g -N -D "$PORT" local 2>"$TMPD/g.err" &
track $!
listening "$PORT" 15 || fail "-g -D: nothing listens: $(cat "$TMPD/g.err")"
ss -Hltn "sport = :$PORT" | awk '{ print $4 }' |
    grep -Eq '^(0\.0\.0\.0|\*|\[::\]):' ||
    fail "-g: not on every address: $(ss -Hltn "sport = :$PORT")"
kill -TERM $!

# --- -W: stdin and stdout joined to the echo server (through EOF both
# ways); a refused port is ssh's two lines and 255.
t=$(date +%s%N)
out=$(printf 'ping-%s\n' $$ | timeout 20 "$SSH" -W "127.0.0.1:$EP" \
    local 2>"$TMPD/w.err")
check_rc "-W" 0 $? "$TMPD/w.err"
check "-W: echoed" "ping-$$" "$out"
log "-W: echoed and ended in $(ms_since "$t") ms"
new_port
timeout 20 "$SSH" -W "127.0.0.1:$PORT" local </dev/null \
    2>"$TMPD/w.err"
check_rc "-W refused" 255 $? "$TMPD/w.err"
for w in "channel 0: open failed: connect failed: Connection refused" \
    "stdio forwarding failed"; do
	contains "$TMPD/w.err" "$w" ||
	    fail "-W refused: no '$w' in: $(cat "$TMPD/w.err")"
done

# --- -R 0: ssh's "Allocated port" line, and a connection made at the
# far end to it reaches the server here.
"$SSH" -N -R "0:127.0.0.1:$HP" local 2>"$TMPD/r.err" &
RPID=$!
track $RPID
i=0
while ! contains "$TMPD/r.err" "Allocated port" && [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
RP=$(tr -d '\r' <"$TMPD/r.err" |
    awk -v t="127.0.0.1:$HP" '$1 == "Allocated" && $NF == t { print $3 }')
[ -n "$RP" ] || fail "-R 0: no Allocated port line: $(cat "$TMPD/r.err")"
check "-R: curl" "hello-$$" "$(curl -sS -m 10 "http://127.0.0.1:$RP/")"
# The same port again: ssh's warning, or with ExitOnForwardFailure its
# error and 255.
timeout 20 "$SSH" -oExitOnForwardFailure=yes -N -R "$RP:127.0.0.1:$HP" \
    local 2>"$TMPD/r2.err"
check_rc "-R conflict, ExitOnForwardFailure" 255 $? "$TMPD/r2.err"
contains "$TMPD/r2.err" \
    "Error: remote port forwarding failed for listen port $RP" ||
    fail "-R conflict: $(cat "$TMPD/r2.err")"
kill -TERM "$RPID"
wait "$RPID"
check_rc "-R, SIGTERM" 0 $? "$TMPD/r.err"

# --- A command with -L: the forward lives while it runs (the command,
# on this same machine, goes through it), and is gone after.
new_port
CP=$PORT
out=$(timeout 20 "$SSH" -L "$CP:127.0.0.1:$HP" local \
    "curl -s -m 5 -o /dev/null http://127.0.0.1:$CP/
    [ \$? != 7 ] && echo through" \
    2>"$TMPD/c.err")
check_rc "command with -L" 0 $? "$TMPD/c.err"
check "command with -L: reached its forward" through "$out"
! listening "$CP" || fail "command with -L: still listening after it"
out=$(timeout 20 "$SSH" -L "$CP:127.0.0.1:$HP" local \
    "curl -sS -m 10 http://127.0.0.1:$CP/" 2>"$TMPD/c.err")
check "command with -L: curl" "hello-$$" "$out"

# --- spindle forward: the same specs, held until SIGTERM.
new_port
SP=$PORT
"$SPINDLE" forward local -L "$SP:127.0.0.1:$HP" 2>"$TMPD/s.err" &
SPID=$!
track $SPID
listening "$SP" 15 ||
    fail "spindle forward: not listening: $(cat "$TMPD/s.err")"
check "spindle forward: curl" "hello-$$" \
    "$(curl -sS -m 10 "http://127.0.0.1:$SP/")"
kill -TERM "$SPID"
wait "$SPID"
check_rc "spindle forward, SIGTERM" 0 $? "$TMPD/s.err"
"$SPINDLE" forward local -L 1:x 2>"$TMPD/s.err"
check_rc "spindle forward, bad spec" 2 $? "$TMPD/s.err"
contains "$TMPD/s.err" "Bad local forwarding specification '1:x'" ||
    fail "spindle forward, bad spec: $(cat "$TMPD/s.err")"

log "took $(ms_since "$T0") ms"
pass
