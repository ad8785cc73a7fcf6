#!/bin/sh
# The daemon's forwards (no root): FORWARD requests with passed fds
# (direct with a half-close, stdio as ssh -W, SOCKS5 with a name), a
# refused port (fast, with the far side's words in the daemon log), and
# the routes file's forward L, D and R lines: listeners the daemon holds
# (R: at the far end) while the route is (curl through SOCKS5 and
# SOCKS4a, 100 parallel connections, kill -9 of the middle agent and the
# listeners after it, down closing them, a bind conflict reported by up).
# Servers are python3 on loopback.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no $PY"
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

secs_since() {
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}

# Servers: one answers after EOF (a half-close must reach it), one HTTP.
mkdir "$TMPD/www" && echo "hello through the route" >"$TMPD/www/hi.txt"
$H srv "$TMPD/www" "$TMPD/srv.port" &
track $!
wait_file "$TMPD/srv.port"
read -r EOFP HTTPP <"$TMPD/srv.port"
read -r LPORT DPORT BUSY NOPE RPORT RPORT2 <<EOF
$($H freeport 6)
EOF
# clash: its forward's port is the server's.
cat >"$SPINDLE_ROUTES" <<EOF
route tun local
    forward L $LPORT 127.0.0.1:$EOFP
    forward D $DPORT
    forward R $RPORT 127.0.0.1:$EOFP
route hold local+local
    forward L 127.0.0.1:$BUSY 127.0.0.1:$EOFP
    forward R $RPORT2 127.0.0.1:$EOFP
route clash local
    forward L 127.0.0.1:$EOFP 127.0.0.1:$EOFP
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

# FORWARD requests, one client for all (python starts slowly):
# direct, 1 MiB up, the server answering after our EOF (a FIN, not a
# close); stdio (ssh -W), two pipes, EOF on ours the FIN; SOCKS5 read by
# the daemon on the request's socket, a name resolved at the far end; a
# refused port, direct and through SOCKS5.
t=$(date +%s.%N)
timeout 50 $H fwd "$TMPD/direct" direct local 127.0.0.1 "$EOFP" 1048576 \
    "$TMPD/stdio" stdio local+local 127.0.0.1 "$EOFP" 100000 \
    "$TMPD/socks" socks5 local localhost "$EOFP" 5000 \
    "$TMPD/refused" direct local 127.0.0.1 "$NOPE" 10 \
    "$TMPD/srefused" socks5 local 127.0.0.1 "$NOPE" 10 >"$TMPD/out" 2>&1 ||
    fail "fwd: $(cat "$TMPD/out")"
log "five FORWARD requests: $(secs_since "$t") s"
fwd_check "direct" "$TMPD/direct"
fwd_check "stdio" "$TMPD/stdio"
grep -q '^SOCKS5 reply 0' "$TMPD/socks" || fail "socks5: $(cat "$TMPD/socks")"
fwd_check "socks5" "$TMPD/socks"
contains "$TMPD/socks" "CONNECTED 127.0.0.1:$EOFP localhost:$EOFP" ||
    fail "socks5 target: $(cat "$TMPD/socks")"

# The client hangs up (the shim exits): its forward ends with it.
timeout 30 $H hang local 127.0.0.1 "$EOFP" >"$TMPD/out" 2>&1
grep -q "^CONNECTED 127.0.0.1:$EOFP" "$TMPD/out" || fail "hang: $(cat "$TMPD/out")"
s=$(sed -n 's/^closed after \([0-9.]*\) s/\1/p' "$TMPD/out")
log "the client hung up: its forward closed after $s s"
awk -v s="$s" 'BEGIN { exit !(s < 5) }' || fail "hang: $(cat "$TMPD/out")"

# 100 FORWARD requests at once (each a client of the daemon: its limit
# is an eighth of its fd limit, at most 1024, as daemon status says).
t=$(date +%s.%N)
out=$(timeout 60 $H fwdn 100 local 127.0.0.1 "$EOFP" 16384 2>&1)
check "100 parallel FORWARD requests" "ok 100" "$out"
log "100 parallel FORWARD requests of 16 KiB: $(secs_since "$t") s;" \
    "$(spn daemon status |
    sed -n 's/.*, \([0-9]* clients (at most [0-9]*)\).*/\1/p')"

# The refused port: ERROR with the far side's words, fast, and one line
# in the daemon's log; the SOCKS client hears SOCKS5's "connection
# refused" (5).
s=$(sed -n 's/^ERROR after \([0-9.]*\) s/\1/p' "$TMPD/refused")
contains "$TMPD/refused" "ERROR connect to 127.0.0.1:$NOPE: Connection refused (255)" ||
    fail "refused: $(cat "$TMPD/refused")"
log "refused port: ERROR $s s after the request"
awk -v s="$s" 'BEGIN { exit !(s < 5) }' || fail "refused took $s s"
grep "route local: info: forward to 127.0.0.1:$NOPE (direct, client [0-9]*): connect to 127.0.0.1:$NOPE: Connection refused" "$LOG" >/dev/null ||
    fail "no log line for the refused port: $(grep forward "$LOG")"
grep -q '^SOCKS5 reply 5' "$TMPD/srefused" ||
    fail "socks5 refused: $(cat "$TMPD/srefused")"

# The routes file's forwards: up binds them, ls shows them.
spn up tun >"$TMPD/out" 2>&1 || fail "up tun: $(cat "$TMPD/out")"
spn ls >"$TMPD/ls" 2>&1
grep -q "^  forward L $LPORT:127.0.0.1:$EOFP: listening" "$TMPD/ls" ||
    fail "ls: $(cat "$TMPD/ls")"
grep -q "^  forward D $DPORT: listening" "$TMPD/ls" || fail "ls: $(cat "$TMPD/ls")"
spn ls --json >"$TMPD/json" 2>&1
contains "$TMPD/json" '"forwards":[{"forward":"L '"$LPORT:127.0.0.1:$EOFP"'","listening":true,"error":null},{"forward":"D '"$DPORT"'","listening":true,"error":null},{"forward":"R '"$RPORT:127.0.0.1:$EOFP"'","listening":' ||
    fail "ls --json: $(cat "$TMPD/json")"

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

# wait_r PORT: until ls shows forward R listening on PORT there.
wait_r() {
	_n=100
	until grep -q "^  forward R $1:127.0.0.1:$EOFP: listening on port $1 there" "$TMPD/ls"; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || fail "forward R $1: $(cat "$TMPD/ls")"
		sleep 0.1
		spn ls >"$TMPD/ls" 2>&1
	done
}

# R: the far end (here too: the route is local) listens, and each
# connection to it is one to the server, made by the daemon.
wait_r "$RPORT"
out=$(timeout 30 $H para "$RPORT" 10 5000 2>&1)
check "10 connections through forward R" "ok 10" "$out"

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
mid=$(sed 's/},{"name"/\n/g' "$TMPD/json" |
    sed -n 's/^:"hold",.*"pids":\[\([0-9]*\),.*/\1/p')
[ -n "$mid" ] && [ "$mid" -gt 0 ] || fail "no middle agent: $(cat "$TMPD/json")"
t=$(date +%s.%N)
kill -9 "$mid"
wait $HP
grep -q '^eof after' "$TMPD/held" || fail "held connection: $(cat "$TMPD/held")"
s=$(sed -n 's/^eof after .*, at //p' "$TMPD/held" |
    awk -v t="$t" '{ printf "%.2f", $1 - t }')
log "kill -9 of the middle agent: forwarded connection closed after $s s"
awk -v s="$s" 'BEGIN { exit !(s < 5) }' || fail "closed after $s s"
out=$(timeout 30 $H para "$BUSY" 1 1000 2>&1)
check "a connection after the loss" "ok 1" "$out"
spn ls >"$TMPD/ls"
grep -q '^hold  *up ' "$TMPD/ls" || fail "hold not up again: $(cat "$TMPD/ls")"
# ... and its forward R listens again, on the new chain.
wait_r "$RPORT2"
out=$(timeout 30 $H para "$RPORT2" 1 1000 2>&1)
check "forward R after the loss" "ok 1" "$out"
timeout 30 $H hold "$BUSY" >"$TMPD/held2" 2>&1 &
HP=$!
wait_file "$TMPD/held2"

# down: the listeners close (the held connection with the route).
spn down hold || fail "down hold"
wait $HP
curl -s --max-time 5 "telnet://127.0.0.1:$BUSY" </dev/null
check "connect to forward L after down (curl's status)" 7 $?
curl -s --max-time 5 "telnet://127.0.0.1:$RPORT2" </dev/null
check "connect to forward R after down (curl's status)" 7 $?
grep -q '^eof after' "$TMPD/held2" || fail "down left a connection: $(cat "$TMPD/held2")"
contains "$LOG" "route hold: info: forward L 127.0.0.1:$BUSY:127.0.0.1:$EOFP: closed" ||
    fail "no log of the listener closing: $(grep forward "$LOG" | tail -3)"

# A bind conflict (the server has the port): up says it with ssh's
# words, the route stays up.
spn up clash >"$TMPD/out" 2>&1
check_rc "up with a bind conflict" 1 $? "$TMPD/out"
contains "$TMPD/out" "spindle: forward L 127.0.0.1:$EOFP:127.0.0.1:$EOFP: bind [127.0.0.1]:$EOFP: Address already in use; channel_setup_fwd_listener_tcpip: cannot listen to port: $EOFP" ||
    fail "bind conflict: $(cat "$TMPD/out")"
spn ls >"$TMPD/ls"
grep -q '^clash  *up ' "$TMPD/ls" || fail "clash not up: $(cat "$TMPD/ls")"
contains "$TMPD/ls" "Address already in use" || fail "ls: $(cat "$TMPD/ls")"

# A bad forward line: the file's error, with its line.
printf 'route bad local\n    forward L 5432\n' >"$TMPD/routes2"
SPINDLE_ROUTES="$TMPD/routes2" spn run --no-daemon bad -- true >"$TMPD/out" 2>&1
check_rc "a bad forward line" 255 $? "$TMPD/out"
contains "$TMPD/out" "routes2:2: want 'forward L [bind:]port host:hostport'" ||
    fail "bad forward line: $(cat "$TMPD/out")"

log "whole test: $(secs_since "$T0") s"
pass
