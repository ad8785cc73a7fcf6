#!/bin/sh
# TCP connections made by a context (issue 11 point 1: the TCP service,
# the stream socket mode, tcp-client, spn_tcp_connect) with tests/lib/tcp,
# through `local` and `local+local`: an echo round trip, half-close (a
# server that answers only after our FIN), a UNIX socket target, a
# refused port failing fast with the far side's words, the connect
# timeout (a listener whose queue is full and never accepted: the kernel
# drops our SYNs, as a blackhole would), 64 MiB both ways with a checksum
# and every process under 64 MiB VmHWM, examples/http-get (an HTTP GET
# with its FIN through two contexts), 200 connections at once (and 300:
# the 44 over the bound of one caller refused), and
# kill -9 of the middle context ending every connection through it within
# 2 s.  As root, names, in a mount and network namespace of our own (no
# DNS query leaves it): its resolv.conf names our DNS server on its
# loopback, which knows no name, and its /etc/hosts one name of ours;
# ours and localhost (::1 first, refused there, then 127.0.0.1) connect,
# and ours in capitals, which only getent finds (musl's hosts lookup
# minds case); an unknown name fails with "Name or service not known",
# and so does "-i" (not an option of getent's).  A name our DNS server
# answers 3 s late holds up nothing else: meanwhile the same context
# connects localhost at once and echoes through a hosts name (the test
# fails with the lookup run on the agent's loop: 2.5 s).
. "$(dirname "$0")/lib.sh"

lib_prog examples/http-get
lib_prog tests/lib/tcp
T=$PROG
T0=$(date +%s%N)
command -v python3 >/dev/null || skip "python3 is not installed"

# elapsed: ms since the test started.
elapsed() {
	echo $((($(date +%s%N) - T0) / 1000000))
}

# The servers, in one python (each python3 start may take seconds here):
# echo, "after" (answers "got N" only after our FIN), "full" (a listener
# whose queue is full and never accepted), HTTP (DIR/www), an echo on the
# UNIX socket
# DIR/u.sock, and with a second argument a DNS server on 127.0.0.1:53
# that knows no name (only ever in a network namespace of ours).  Ports
# kernel-picked (nothing to collide with), written to DIR/ports.
cat >"$TMPD/srv.py" <<'EOF'
import functools, http.server, os, socket, sys, threading
d = sys.argv[1]
def serve(s, fn):
    while True:
        c, _ = s.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()
def echo(c):
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.close()
def after(c):
    n = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        n += len(b)
    c.sendall(b'got %d' % n)
    c.close()
def dns(u):
    while True:
        q, a = u.recvfrom(512)
        # NXDOMAIN: the query back with QR RD RA and rcode 3; names with
        # "slow" in them answered 3 s late.
        r = q[:2] + b'\x81\x83' + q[4:6] + b'\0' * 6 + q[12:]
        threading.Timer(3 if b'slow' in q[12:] else 0, u.sendto,
                        args=(r, a)).start()
ports = []
fill = []
for fn in (echo, after, None):
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen(512 if fn else 0)
    ports.append(s.getsockname()[1])
    if fn:
        threading.Thread(target=serve, args=(s, fn), daemon=True).start()
        continue
    fill.append(s)
    for i in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(('127.0.0.1', ports[-1]))
        except BlockingIOError:
            pass
        fill.append(c)
h = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(
    http.server.SimpleHTTPRequestHandler, directory=d + '/www'))
ports.append(h.server_address[1])
threading.Thread(target=h.serve_forever, daemon=True).start()
u = socket.socket(socket.AF_UNIX)
u.bind(d + '/u.sock')
u.listen(16)
threading.Thread(target=serve, args=(u, echo), daemon=True).start()
if len(sys.argv) > 2:
    ud = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ud.bind(('127.0.0.1', 53))
    threading.Thread(target=dns, args=(ud,), daemon=True).start()
open(d + '/ports.tmp', 'w').write(' '.join(map(str, ports)))
os.rename(d + '/ports.tmp', d + '/ports')
threading.Event().wait()
EOF
mkdir "$TMPD/www"
echo "served through the context" >"$TMPD/www/hello.txt"
python3 "$TMPD/srv.py" "$TMPD" >/dev/null 2>&1 &
track $!
n=600
until [ -s "$TMPD/ports" ]; do
	n=$((n - 1))
	[ "$n" -gt 0 ] || fail "the servers did not start"
	sleep 0.05
done
read -r EP HP BP WP <"$TMPD/ports"
log "servers up after $(elapsed) ms"

# t WHAT RC ROUTE STEPS...: run the program (60 s at most); its stderr
# is in $TMPD/err (logged), its stdout in $TMPD/out.
t() {
	_tw=$1 _trc=$2
	shift 2
	spn_prog 60 "$T" "$@" >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	sed "s/^/  $_tw: /" "$TMPD/err" >&2
	log "$_tw: done $(elapsed) ms into the test"
	check_rc "$_tw" "$_trc" "$_rc"
}

# wait_line WHAT LINE FILE: until FILE has LINE (60 s).
wait_line() {
	_n=600
	until grep -qxF -- "$2" "$3"; do
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || fail "$1: no '$2' in 60 s"
		sleep 0.1
	done
}

says() {
	grep -qxF -- "$2" "$TMPD/err" || fail "$1: it did not say '$2'"
}

# The timeout (musl's words: "Operation timed out").
timeout_check() {
	grep -q "^error connect ECALL errno 110: context local: connect to 127.0.0.1:$BP (.* timed out)\$" \
	    "$TMPD/err" || fail "timeout: no ETIMEDOUT"
	ms=$(grep -A1 "connect to 127.0.0.1:$BP " "$TMPD/err" |
	    sed -n 's/^connect failed in \([0-9]*\) ms$/\1/p')
	log "timeout: 1500 ms asked, failed in $ms ms"
	[ "$ms" -ge 1400 ] && [ "$ms" -lt 6000 ] || fail "timeout: $ms ms"
}

# Echo; half-close: the server answers only after our FIN, on the
# connection still open the other way; the UNIX socket; a refused port:
# the far side's words, fast; spn_shutdown ends a live connection.
# Through local, also the timeout.
for r in local local+local; do
	to=
	[ "$r" = local ] && to="-- connect 127.0.0.1 $BP 1500"
	t "$r" 1 "$r" send 127.0.0.1 "$EP" hello -- send 127.0.0.1 "$HP" abc \
	    -- send "$TMPD/u.sock" 0 unix -- connect 127.0.0.1 1 $to \
	    -- shutdown 127.0.0.1 "$EP"
	says "shutdown $r" "ok shutdown"
	check "$r: echo, half-close, unix" "hello
got 3
unix" "$(cat "$TMPD/out")"
	says "refused $r" "error connect ECALL errno 111: context $r: connect to 127.0.0.1:1 (Connection refused)"
	ms=$(grep -A1 'connect to 127.0.0.1:1 ' "$TMPD/err" |
	    sed -n 's/^connect failed in \([0-9]*\) ms$/\1/p')
	log "refused $r: failed in $ms ms"
	[ "$ms" -lt 3000 ] || fail "refused $r: $ms ms"
	[ "$r" = local ] && timeout_check
	procs_left "$r"
done

# 64 MiB each way through two contexts, checksummed; every process of
# the tree under 64 MiB while it is up.
head -c 67108864 /dev/urandom >"$TMPD/big"
want=$(sha256sum <"$TMPD/big" | cut -d' ' -f1)
spn_prog 60 "$T" local+local pipe 127.0.0.1 "$EP" -- pause "$TMPD/go" \
    <"$TMPD/big" 2>"$TMPD/err" | sha256sum >"$TMPD/sum" &
bg=$!
wait_line "64 MiB: pause" paused "$TMPD/err"
master=$(last_master)
for p in $master $(agents_of "$master"); do
	hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$p/status")
	log "64 MiB: pid $p ($(comm_of "$p")) VmHWM $hwm kB"
	sanitized || [ "$hwm" -lt 65536 ] || fail "64 MiB: pid $p used $hwm kB"
done
touch "$TMPD/go"
wait "$bg"
sed 's/^/  64 MiB: /' "$TMPD/err" >&2
grep -q '^ok pipe 67108864 bytes up, 67108864 down' "$TMPD/err" ||
    fail "64 MiB: not all bytes went"
check "64 MiB: checksum" "$want" "$(cut -d' ' -f1 "$TMPD/sum")"
rm -f "$TMPD/big"
log "64 MiB: done $(elapsed) ms into the test"
procs_left "64 MiB"

# examples/http-get: GET through two contexts, with our FIN after it.
EX=${T%/tests/lib/tcp}/examples
spn_prog 60 "$EX/http-get" local+local localhost "$WP" /hello.txt \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "http-get" 0 $? "$TMPD/err"
grep -q '^HTTP/1.0 200 OK' "$TMPD/out" || fail "http-get: $(head -1 "$TMPD/out")"
check "http-get: body" "served through the context" "$(tail -1 "$TMPD/out")"
log "http-get: $(head -1 "$TMPD/out" | tr -d "\r"), body $(tail -1 "$TMPD/out")"
procs_left http-get

# 200 at once.
t many 0 local+local many 127.0.0.1 "$EP" 200
procs_left many
# One caller holds at most 256 connections in a context.
t bound 1 local many 127.0.0.1 "$EP" 300
says bound "error many: 256 of 300 round trips"
check "bound: refused" 44 "$(grep -c '^error many ECALL errno 24: context local: connect to 127.0.0.1:[0-9]*: too many connections from one caller' \
    "$TMPD/err")"
procs_left bound

# kill -9 of the middle context: every connection through it ends, here,
# within 2 s.
spn_prog 60 "$T" local+local hold 127.0.0.1 "$EP" 20 >"$TMPD/out" \
    2>"$TMPD/err" &
bg=$!
wait_line "kill: the connections up" held "$TMPD/out"
set -- $(agents_of "$(last_master)")
[ $# = 2 ] || fail "kill: $# agents, not 2"
k=$(date +%s%3N)
kill -KILL "$1"
wait "$bg"
check_rc "kill: the program" 0 $? "$TMPD/err"
e=$(sed -n 's/^ended at //p' "$TMPD/out")
log "kill: 20 connections ended $((e - k)) ms after kill -9 of the middle"
[ $((e - k)) -lt 2000 ] || fail "kill: $((e - k)) ms"
procs_left kill

# Names, in namespaces of ours: our resolv.conf, hosts and DNS server.
rc=3
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
    command -v ip >/dev/null; then
	mkdir "$TMPD/ns"
	echo "nameserver 127.0.0.1" >"$TMPD/ns/resolv.conf"
	# SPN-NSS: a name musl's resolver does not find (its hosts lookup
	# minds case, NSS's does not), which only getent finds: the agent's
	# getent path.
	{ cat /etc/hosts; echo "127.0.0.1 spn-tcp-$$.test spn-nss-$$.test"; } \
	    >"$TMPD/ns/hosts"
	timeout -k 3 60 unshare -m -n --propagation private sh -c '
		d=$1 srv=$2 t=$3 n=$4
		ip link set lo up &&
		mount --bind "$d/resolv.conf" /etc/resolv.conf &&
		mount --bind "$d/hosts" /etc/hosts || exit 3
		python3 "$srv" "$d" dns >/dev/null 2>&1 &
		py=$!
		i=600
		until [ -s "$d/ports" ] || [ "$i" = 0 ]; do
			i=$((i - 1))
			sleep 0.05
		done
		read -r ep x <"$d/ports"
		"$t" local+local connect "spn-tcp-$n.test" "$ep" -- \
		    connect localhost "$ep" -- \
		    connect "SPN-NSS-$n.test" "$ep" -- \
		    connect "no-such-$n.invalid" "$ep"
		rc=$?
		# A name like an option is a name to getent too (not
		# "getent ahosts -i": every host there is).
		"$t" local+local connect -i "$ep" 2>"$d/dash.err"
		echo $? >"$d/dash.rc"
		# A slow DNS answer holds up no other connection or stream
		# of the agent: while it is awaited, an echo through
		# localhost and a hosts name connect.
		"$t" local+local bg "slow-$n.invalid" "$ep" -- sleep 500 -- \
		    connect localhost "$ep" -- \
		    send "spn-tcp-$n.test" "$ep" during -- join \
		    >"$d/slow.out" 2>"$d/slow.err"
		kill $py
		exit $rc' sh "$TMPD/ns" "$TMPD/srv.py" "$T" $$ \
	    >"$TMPD/out" 2>"$TMPD/err"
	rc=$?
	sed 's/^/  names: /' "$TMPD/err" >&2
	log "names: done $(elapsed) ms into the test"
fi
if [ "${rc:-3}" = 3 ]; then
	log "names: skipped (needs root, unshare, ip, and /etc/resolv.conf and /etc/hosts to mount over)"
else
	check_rc names 1 "$rc"
	[ "$(grep -c '^ok connect' "$TMPD/err")" = 3 ] ||
	    fail "names: ours, localhost and the NSS one did not all connect"
	grep -q "^error connect ECALL errno 113: context local+local: connect to no-such-$$.invalid:[0-9]*: Name or service not known (" \
	    "$TMPD/err" || fail "names: the unknown name did not fail so"
	check "names: -i, the status" 1 "$(cat "$TMPD/ns/dash.rc")"
	grep -q "connect to -i:[0-9]*: Name or service not known" \
	    "$TMPD/ns/dash.err" || fail "names: -i: $(cat "$TMPD/ns/dash.err")"
	sed 's/^/  slow name: /' "$TMPD/ns/slow.err" >&2
	check "slow name: the echo meanwhile" during "$(cat "$TMPD/ns/slow.out")"
	# In order: the echo and the connect, then (>= 3 s) the slow name.
	tail -n 1 "$TMPD/ns/slow.err" | grep -q '^bg failed in' ||
	    fail "slow name: did not end last (or connected)"
	grep -q '^ok send$' "$TMPD/ns/slow.err" ||
	    fail "slow name: the echo meanwhile failed"
	ms=$(sed -n 's/^ok connect in \([0-9]*\) ms$/\1/p' "$TMPD/ns/slow.err")
	bg=$(sed -n 's/^bg failed in \([0-9]*\) ms$/\1/p' "$TMPD/ns/slow.err")
	log "slow name: failed after $bg ms; meanwhile a connect took $ms ms"
	[ "${bg:-0}" -ge 2900 ] || fail "slow name: ended after ${bg:-?} ms, not >= 3 s"
	[ "${ms:-9999}" -lt 2000 ] || fail "slow name: a connect meanwhile took ${ms:-?} ms"
fi

log "took $(elapsed) ms"
pass
