#!/bin/sh
# Tunnels through a real route (issue 11 point 5), in lib-netns.sh's
# world: a bastion namespace, an inner one reachable only through it, and
# sudo with a password under requiretty at the end, route
# bastion+inner+sudo=USER, held by the daemon; the servers live in the
# inner namespace.  Through the shim: -L to an HTTP server, an echo server,
# a sink that answers only after EOF (half-close) and a source; -D with
# SOCKS 4, 4a, 5 and 5 with names, where localhost:PORT reaches the
# inner's loopback and not the server on the same port here (names are
# resolved at the far end: the discriminating case); 100 connections at
# once; a refused port fails at once, the daemon log saying why; -N holds
# until SIGTERM; -fN returns once the listener is bound; the shim's -W as
# real OpenSSH's ProxyCommand to the inner's sshd.
T0=$(date +%s%3N)
NETNS_SUDO_PASSWORD=yes
. "$(dirname "$0")/lib-netns.sh"
command -v curl >/dev/null || skip "curl is not installed"
unset http_proxy https_proxy all_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY \
    no_proxy NO_PROXY
netns_daemon fwd

# The servers.  The inner's HTTP server takes the port of one here, so
# that localhost:$HP names a server on both sides (and none on the
# bastion's): only a connection made in the inner namespace gets INNER.
ns_serve here - 127.0.0.1 0 http HERE || fail "HTTP server here"
HP=$SRV_PORT
ns_serve http "$NI" 0.0.0.0 "$HP" http INNER || fail "HTTP server in $NI"
ns_serve echo "$NI" 0.0.0.0 0 echo || fail "echo server in $NI"
EP=$SRV_PORT
ns_serve sink "$NI" 0.0.0.0 0 sink || fail "sink in $NI"
SP=$SRV_PORT
ns_serve source "$NI" 0.0.0.0 0 source 8000000 || fail "source in $NI"
OP=$SRV_PORT
check "the server here" HERE "$(curl -s --max-time 10 "http://localhost:$HP/")"
ip netns exec "$NI" ss -Htln 'sport = :1' | grep -q . &&
    fail "something listens on port 1 in $NI"
log "world and servers up in $(elapsed "$T0") s"

# Every kind of local forward and a dynamic one, in one shim.
t=$(now_ms)
fwd_start main -N -L "@1@:localhost:$HP" -L "@2@:$I:$EP" \
    -L "@3@:localhost:$SP" -L "@4@:localhost:1" -L "127.0.0.1:@5@:$I:$OP" \
    -D @6@
MAIN=$FWD_PID
log "shim -N with 5 -L and a -D listening in $(elapsed "$t") s"

# -L to the inner's HTTP server, by the inner's name for itself; the
# first connection brings the route up.
t=$(now_ms)
out=$(curl -sS --max-time 30 "http://127.0.0.1:$P1/" 2>"$TMPD/err")
check_rc "-L: curl" 0 $? "$TMPD/err"
check "-L: curl" INNER "$out"
log "-L: first curl (the route coming up) took $(elapsed "$t") s"
t=$(now_ms)
out=$(curl -sS --max-time 30 "http://127.0.0.1:$P1/" 2>"$TMPD/err")
check "-L: curl again" INNER "$out"
log "-L: second curl took $(elapsed "$t") s"

# -D: each SOCKS version; localhost and 127.0.0.1 are the inner's own.
for v in socks5-hostname socks5 socks4a socks4; do
	for h in localhost "$I"; do
		out=$(curl -sS --max-time 30 "--$v" "127.0.0.1:$P6" \
		    "http://$h:$HP/" 2>"$TMPD/err")
		check_rc "-D: curl --$v http://$h:$HP/" 0 $? "$TMPD/err"
		check "-D: curl --$v http://$h:$HP/" INNER "$out"
	done
done
out=$(curl -sS --max-time 30 --socks5-hostname "127.0.0.1:$P6" \
    "http://127.0.0.1:$HP/bytes/3000000" 2>"$TMPD/err" | wc -c)
check "-D: 3 MB over HTTP" 3000000 "$out"

# Half-close: the sink answers only after our EOF reached it.
t=$(now_ms)
tcp_client send 127.0.0.1 "$P3" 4000000 >"$TMPD/out" 2>"$TMPD/err"
sent=$(sed -n 's/^sent //p' "$TMPD/out")
[ -n "$sent" ] || fail "half-close: $(cat "$TMPD/out" "$TMPD/err")"
check "half-close: what the sink got, answered after EOF" "$sent" \
    "$(sed -n '2p' "$TMPD/out")"
log "half-close: 4 MB to the sink and its answer in $(elapsed "$t") s"
# And the other way: the source's EOF ends what we read.
out=$(tcp_client recv 127.0.0.1 "$P5" 2>"$TMPD/err")
check "-L from the source" "$(sed -n 's/^sent //p' "$TMPD/srv.source")" "$out"

# 100 connections at once through one -L, each echoed whole.
t=$(now_ms)
out=$(tcp_client par 127.0.0.1 "$P2" 100 2>"$TMPD/err")
check "100 parallel connections" "ok 100" "$out"
log "100 parallel connections (64 KiB echoed each) in $(elapsed "$t") s"
# (It logs each one after its end, which the client may see first.)
for _i in 1 2 3 4 5 6 7 8 9 10; do
	[ "$(grep -c '^echoed ' "$TMPD/srv.echo")" -ge 100 ] && break
	sleep 0.5
done
check "connections the echo server saw" 100 \
    "$(grep -c '^echoed ' "$TMPD/srv.echo")"

# A refused port: the connection fails at once, the daemon says why, and
# the forward stays.
t=$(now_ms)
out=$(curl -sS --max-time 30 "http://127.0.0.1:$P4/" 2>"$TMPD/err")
rc=$?
ms=$(($(now_ms) - t))
[ "$rc" = 0 ] && fail "refused port: curl got '$out'"
[ "$ms" -lt 10000 ] || fail "refused port: curl took $ms ms"
log "refused port: curl failed (status $rc) in $ms ms: $(cat "$TMPD/err")"
wait_line "$DAEMON_LOG" "Connection refused" 5 ||
    fail "the daemon log says nothing of the refusal"
log "daemon log: $(grep 'Connection refused' "$DAEMON_LOG" | tail -1)"
log "shim: $(cat "$TMPD/fwd.main")"
if out=$(curl -sS --max-time 30 --socks5-hostname "127.0.0.1:$P6" \
    "http://localhost:1/" 2>"$TMPD/err"); then
	fail "-D to a refused port: curl got '$out'"
fi
out=$(curl -sS --max-time 30 "http://127.0.0.1:$P1/" 2>"$TMPD/err")
check "-L after a refusal" INNER "$out"

# -N held all along, until SIGTERM.
alive "$MAIN" || fail "-N: the shim ended by itself: $(cat "$TMPD/fwd.main")"
kill -TERM "$MAIN"
wait_gone "$MAIN" 5 || fail "-N: the shim outlived SIGTERM by 5 s"
ss -Htln "sport = :$P1" | grep -q . && fail "-N: port $P1 still listens"

# The shim's -W as real OpenSSH's ProxyCommand to the inner's sshd: it
# connects from the inner itself.
t=$(now_ms)
out=$(timeout 30 ssh -F "$SSHW/ssh_config.ns" -l "$U_A" \
    -o "ProxyCommand=$FAKEBIN/ssh -W %h:%p fwd" inner id -un 2>"$TMPD/err")
check_rc "ssh -o ProxyCommand='ssh -W %h:%p fwd'" 0 $? "$TMPD/err"
check "ssh -o ProxyCommand='ssh -W %h:%p fwd'" "$U_A" "$out"
grep -q "Accepted publickey for $U_A from $I " "$TMPD/log.$NI" ||
    fail "-W: the inner's sshd did not see a connection from $I"
log "ssh with the shim's -W as ProxyCommand took $(elapsed "$t") s"

# -fN: back once the listener is bound; the forward works at once.
p=""
for k in 1 2 3 4 5; do
	p=$(free_port $((200 + k)))
	t=$(now_ms)
	timeout 30 "$FAKEBIN/ssh" -fN -L "$p:localhost:$HP" fwd \
	    </dev/null >/dev/null 2>"$TMPD/err"
	rc=$?
	[ "$rc" = 0 ] && break
	contains "$TMPD/err" 'Address already in use' ||
	    check_rc "-fN" 0 "$rc" "$TMPD/err"
done
# The shim's pid: since ACCEPT the daemon holds the listener too (and
# ss may list it first), and the daemon is not what -fN left behind.
bg=$(pgrep -f "ssh -fN -L $p:localhost:" | head -n 1)
[ -n "$bg" ] || fail "-fN: no shim left in the background for port $p"
ss -Htlnp "sport = :$p" | grep -q "pid=$bg," ||
    fail "-fN returned before port $p listens"
track "$bg"
log "-fN returned after $(elapsed "$t") s, port $p bound by pid $bg"
out=$(curl -sS --max-time 30 "http://127.0.0.1:$p/" 2>"$TMPD/err")
check "-fN: curl" INNER "$out"
kill -TERM "$bg"
wait_gone "$bg" 5 || fail "-fN: the shim outlived SIGTERM by 5 s"

log "took $(elapsed "$T0") s in all"
pass
