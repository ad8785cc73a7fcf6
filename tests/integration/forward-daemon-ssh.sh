#!/bin/sh
# The daemon's forwards over a real route (root: lib-sshd.sh's sshd and
# sudo): a routes file route ssh+sudo with forward L, D and R, brought up
# by `spindle up NAME`; curl through D (a name resolved at the far end),
# a half-closed connection through L, one back through R, a stdio
# FORWARD (ssh -W); the far side's connections are made as the sudo user.
. "$(dirname "$0")/lib-sshd.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no $PY"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"
H="$PY $(dirname "$0")/forward-daemon.py"
export SPINDLE_RUNTIME_DIR="$TMPD/rt" SPINDLE_ROUTES="$TMPD/routes"
T0=$(date +%s)
daemon_stop_on_exit
# The sshd world's cleanup too.
trap '_t=$?; timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
    (exit $_t); _sshd_cleanup' EXIT

mkdir "$TMPD/www" && echo "hello over ssh" >"$TMPD/www/hi.txt"
chmod 755 "$TMPD" "$TMPD/www"
$H srv "$TMPD/www" "$TMPD/srv.port" &
track $!
n=100
while [ ! -s "$TMPD/srv.port" ]; do
	n=$((n - 1))
	[ $n -gt 0 ] || fail "no server"
	sleep 0.1
done
read -r EOFP HTTPP <"$TMPD/srv.port"
read -r LPORT DPORT RPORT <<EOF
$($H freeport 3)
EOF
cat >"$SPINDLE_ROUTES" <<EOF
route web $U_A@127.0.0.1+sudo=$U_W
    forward L $LPORT 127.0.0.1:$EOFP
    forward D $DPORT
    forward R $RPORT 127.0.0.1:$EOFP
EOF
spn up web >"$TMPD/out" 2>&1 || fail "up web: $(cat "$TMPD/out")"
out=$(curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$DPORT" \
    "http://localhost:$HTTPP/hi.txt" 2>&1)
check "curl through forward D over ssh+sudo" "hello over ssh" "$out"
out=$(timeout 30 $H para "$LPORT" 4 200000 2>&1)
check "forward L over ssh+sudo" "ok 4" "$out"
n=100
until spn ls 2>&1 | grep -q "^  forward R $RPORT:127.0.0.1:$EOFP: listening on port $RPORT there"; do
	n=$((n - 1))
	[ $n -gt 0 ] || fail "forward R: $(spn ls 2>&1)"
	sleep 0.1
done
out=$(timeout 30 $H para "$RPORT" 2 1000 2>&1)
check "forward R over ssh+sudo" "ok 2" "$out"
# The far listener is the sudo user's.
ss -ltnpH "sport = :$RPORT" >"$TMPD/ss"
pid=$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' "$TMPD/ss" | head -n 1)
check "forward R's listener's user" "$U_W" "$(ps -o user= -p "$pid")"
timeout 30 $H fwd "$TMPD/stdio" stdio web 127.0.0.1 "$EOFP" 300000 \
    >"$TMPD/out" 2>&1 || fail "stdio: $(cat "$TMPD/out")"
grep -q "^CONNECTED 127.0.0.1:$EOFP" "$TMPD/stdio" || fail "stdio: $(cat "$TMPD/stdio")"
[ "$(sed -n 's/^REPLY //p' "$TMPD/stdio")" = \
    "$(sed -n 's/^EXPECT //p' "$TMPD/stdio")" ] ||
    fail "stdio: $(cat "$TMPD/stdio")"
contains "$SPINDLE_RUNTIME_DIR/daemon.log" "route web: info: forward to localhost:$HTTPP (socks, D $DPORT): connected to 127.0.0.1:$HTTPP" ||
    fail "log: $(grep forward "$SPINDLE_RUNTIME_DIR/daemon.log")"
log "forward-daemon-ssh: $(($(date +%s) - T0)) s"
pass
