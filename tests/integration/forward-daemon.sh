#!/bin/sh
# The daemon's forwards (no root): FORWARD requests with passed fds
# (direct with a half-close, stdio as ssh -W, SOCKS5 with a name), a
# refused port (fast, with the far side's words in the daemon log), and
# the routes file's forward L and D lines: listeners the daemon holds
# while the route is (curl through SOCKS5 and SOCKS4a, 100 parallel
# connections, kill -9 of the middle agent, down closing them, a bind
# conflict reported by up).  Servers are python3 on loopback.
. "$(dirname "$0")/lib.sh"
PY=$(command -v python3) || skip "python3 is not installed"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"
H="$PY $(dirname "$0")/forward-daemon.py"
export SPINDLE_RUNTIME_DIR="$TMPD/rt" SPINDLE_ROUTES="$TMPD/routes"
LOG=$SPINDLE_RUNTIME_DIR/daemon.log
T0=$(date +%s.%N)
daemon_stop_on_exit

# wait_file FILE: until it exists (10 s at most).
wait_file() {
	_n=100
	while [ ! -s "$1" ]; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || fail "no $1"
		sleep 0.1
	done
}

# port_free: a port no one listens on now.
port_free() {
	$H freeport
}

secs_since() {
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}

# Servers: one answers after EOF (a half-close must reach it), one HTTP.
$H srv eof "$TMPD/eof.port" &
track $!
mkdir "$TMPD/www" && echo "hello through the route" >"$TMPD/www/hi.txt"
$H srv http "$TMPD/www" "$TMPD/http.port" &
track $!
wait_file "$TMPD/eof.port"
wait_file "$TMPD/http.port"
EOFP=$(cat "$TMPD/eof.port")
HTTPP=$(cat "$TMPD/http.port")
LPORT=$(port_free)
DPORT=$(port_free)
BUSY=$(port_free)
cat >"$SPINDLE_ROUTES" <<EOF
route tun local+local
    forward L $LPORT 127.0.0.1:$EOFP
    forward D $DPORT
route hold local+local
    forward L 127.0.0.1:$BUSY 127.0.0.1:$EOFP
EOF
spn daemon start >/dev/null 2>"$TMPD/err" || fail "start: $(cat "$TMPD/err")"
track "$(daemon_pid)"

# fwd_check WHAT OUT: the client saw CONNECTED, the server's answer to
# all it sent, and DONE.
fwd_check() {
	grep -q '^CONNECTED 127.0.0.1:' "$2" || fail "$1: $(cat "$2")"
	[ "$(sed -n 's/^REPLY //p' "$2")" = "$(sed -n 's/^EXPECT //p' "$2")" ] ||
	    fail "$1: wrong answer: $(cat "$2")"
	grep -q "^DONE in .* why ''" "$2" || fail "$1: no clean DONE: $(cat "$2")"
}

# Direct: 1 MiB up, the server answers after our EOF (a FIN, not a close).
t=$(date +%s.%N)
timeout 30 $H fwd direct local 127.0.0.1 "$EOFP" 1048576 >"$TMPD/out" 2>&1 ||
    fail "fwd direct: $(cat "$TMPD/out")"
fwd_check "direct" "$TMPD/out"
log "direct 1 MiB and half-close: $(secs_since "$t") s"

# Stdio (ssh -W): two pipes, EOF on ours becomes the FIN.
timeout 30 $H fwd stdio local+local 127.0.0.1 "$EOFP" 100000 >"$TMPD/out" 2>&1 ||
    fail "fwd stdio: $(cat "$TMPD/out")"
fwd_check "stdio" "$TMPD/out"

# SOCKS5 in the request's socket, a name resolved at the far end.
timeout 30 $H fwd socks5 local localhost "$EOFP" 5000 >"$TMPD/out" 2>&1 ||
    fail "fwd socks5: $(cat "$TMPD/out")"
grep -q '^SOCKS5 reply 0' "$TMPD/out" || fail "socks5: $(cat "$TMPD/out")"
fwd_check "socks5" "$TMPD/out"
contains "$TMPD/out" "CONNECTED 127.0.0.1:$EOFP localhost:$EOFP" ||
    fail "socks5 target: $(cat "$TMPD/out")"

# A refused port: ERROR with the far side's words, fast, and one line in
# the daemon's log.
NOPE=$(port_free)
t=$(date +%s.%N)
timeout 30 $H fwd direct local 127.0.0.1 "$NOPE" 10 >"$TMPD/out" 2>&1
s=$(secs_since "$t")
contains "$TMPD/out" "ERROR connect to 127.0.0.1:$NOPE: Connection refused (255)" ||
    fail "refused: $(cat "$TMPD/out")"
log "refused port answered in $s s"
awk -v s="$s" 'BEGIN { exit !(s < 5) }' || fail "refused took $s s"
grep "route local: info: forward to 127.0.0.1:$NOPE (direct, client [0-9]*): connect to 127.0.0.1:$NOPE: Connection refused" "$LOG" >/dev/null ||
    fail "no log line for the refused port: $(grep forward "$LOG")"
# The SOCKS client hears it as SOCKS5 "connection refused" (5).
timeout 30 $H fwd socks5 local 127.0.0.1 "$NOPE" 10 >"$TMPD/out" 2>&1
grep -q '^SOCKS5 reply 5' "$TMPD/out" || fail "socks5 refused: $(cat "$TMPD/out")"

# The routes file's forwards: up binds them, ls shows them.
spn up tun >"$TMPD/out" 2>&1 || fail "up tun: $(cat "$TMPD/out")"
spn ls >"$TMPD/ls" 2>&1
grep -q "^  forward L $LPORT:127.0.0.1:$EOFP: listening" "$TMPD/ls" ||
    fail "ls: $(cat "$TMPD/ls")"
grep -q "^  forward D $DPORT: listening" "$TMPD/ls" || fail "ls: $(cat "$TMPD/ls")"
spn ls --json >"$TMPD/json" 2>&1
$PY - "$TMPD/json" <<'EOF' || fail "ls --json: $(cat "$TMPD/json")"
import json, sys
r = {x["name"]: x for x in json.load(open(sys.argv[1]))}
f = r["tun"]["forwards"]
assert len(f) == 2 and all(x["listening"] for x in f), f
EOF

# curl through D: SOCKS5 with the name resolved at the far end, SOCKS4a.
out=$(curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$DPORT" \
    "http://localhost:$HTTPP/hi.txt" 2>&1)
check "curl --socks5-hostname" "hello through the route" "$out"
out=$(curl -sS --max-time 20 --socks4a "127.0.0.1:$DPORT" \
    "http://localhost:$HTTPP/hi.txt" 2>&1)
check "curl --socks4a" "hello through the route" "$out"
# A refused one, told as SOCKS says it.
t=$(date +%s.%N)
curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$DPORT" \
    "http://localhost:$NOPE/" >"$TMPD/out" 2>&1 && fail "curl to $NOPE worked"
log "curl, refused through SOCKS5: $(secs_since "$t") s: $(cat "$TMPD/out")"
grep "route tun: info: forward to localhost:$NOPE (socks, D $DPORT): connect to localhost:$NOPE: Connection refused" "$LOG" >/dev/null ||
    fail "no log line for the refused SOCKS target: $(grep forward "$LOG" | tail -3)"

# 100 connections at once through L, 64 KiB each, half-closed.
t=$(date +%s.%N)
out=$(timeout 60 $H para "$LPORT" 100 65536 2>&1)
check "100 parallel through forward L" "ok 100" "$out"
log "100 parallel connections of 64 KiB through forward L: $(secs_since "$t") s"

# kill -9 of the middle agent: the forwarded connection (one the server
# holds open until our EOF) closes within 2 s (generous: 5), the listener
# stays, the next connection brings the route up again.
spn up hold >"$TMPD/out" 2>&1 || fail "up hold: $(cat "$TMPD/out")"
timeout 30 $H hold "$BUSY" >"$TMPD/held" 2>&1 &
HP=$!
wait_file "$TMPD/held"
sleep 0.5
spn ls --json >"$TMPD/json"
mid=$($PY -c 'import json,sys; print([r for r in json.load(open(sys.argv[1])) if r["name"] == "hold"][0]["pids"][0])' "$TMPD/json")
[ -n "$mid" ] && [ "$mid" -gt 0 ] || fail "no middle agent: $(cat "$TMPD/json")"
kill -9 "$mid"
wait $HP
grep -q '^eof after' "$TMPD/held" || fail "held connection: $(cat "$TMPD/held")"
s=$(sed -n 's/^eof after \([0-9.]*\) s/\1/p' "$TMPD/held")
log "kill -9 of the middle agent: forwarded connection closed after $s s"
awk -v s="$s" 'BEGIN { exit !(s < 5) }' || fail "closed after $s s"
out=$(timeout 30 $H para "$BUSY" 1 1000 2>&1)
check "a connection after the loss" "ok 1" "$out"
spn ls >"$TMPD/ls"
grep -q '^hold  *up ' "$TMPD/ls" || fail "hold not up again: $(cat "$TMPD/ls")"
timeout 30 $H hold "$BUSY" >"$TMPD/held2" 2>&1 &
HP=$!
wait_file "$TMPD/held2"

# down: the listeners close (the held connection with the route).
spn down hold || fail "down hold"
wait $HP
$PY -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)' "$BUSY" 2>/dev/null &&
    fail "forward L still listens after down"
grep -q '^eof after' "$TMPD/held2" || fail "down left a connection: $(cat "$TMPD/held2")"
contains "$LOG" "route hold: info: forward L 127.0.0.1:$BUSY:127.0.0.1:$EOFP: closed" ||
    fail "no log of the listener closing: $(grep forward "$LOG" | tail -3)"

# A bind conflict: up says it with ssh's words, the route stays up.
$PY -c 'import socket,sys,time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); print("bound", flush=True); time.sleep(60)' "$BUSY" >"$TMPD/busy" &
track $!
wait_file "$TMPD/busy"
spn up hold >"$TMPD/out" 2>&1
check_rc "up with a bind conflict" 1 $? "$TMPD/out"
contains "$TMPD/out" "spindle: forward L 127.0.0.1:$BUSY:127.0.0.1:$EOFP: bind [127.0.0.1]:$BUSY: Address already in use; channel_setup_fwd_listener_tcpip: cannot listen to port: $BUSY" ||
    fail "bind conflict: $(cat "$TMPD/out")"
spn ls >"$TMPD/ls"
grep -q '^hold  *up ' "$TMPD/ls" || fail "hold not up: $(cat "$TMPD/ls")"
contains "$TMPD/ls" "Address already in use" || fail "ls: $(cat "$TMPD/ls")"

# A bad forward line: the file's error, with its line.
printf 'route bad local\n    forward L 5432\n' >"$TMPD/routes2"
SPINDLE_ROUTES="$TMPD/routes2" spn run --no-daemon bad -- true >"$TMPD/out" 2>&1
check_rc "a bad forward line" 255 $? "$TMPD/out"
contains "$TMPD/out" "routes2:2: want 'forward L [bind:]port host:hostport'" ||
    fail "bad forward line: $(cat "$TMPD/out")"

log "whole test: $(secs_since "$T0") s"
pass
