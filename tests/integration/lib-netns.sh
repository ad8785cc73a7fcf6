# The network-namespace world: a "bastion" network namespace reachable
# from here and an "inner" one reachable only from the bastion, each with
# its own sshd (lib-sshd.sh's config, users and keys).  Link-local
# addresses only, so nothing can ever leave this machine.  Each test
# sources this instead of lib-sshd.sh:
#	. "$(dirname "$0")/lib-netns.sh"
#
#   $NB, $NI      the namespaces' names (unique to this run)
#   $B, $I        the bastion's and the inner's addresses (169.254.X.2,
#                 .6); the bastion reaches the inner from 169.254.X.5
#   $TMPD/log.$NB, $TMPD/log.$NI: their sshd's logs
#   $SSHW/ssh_config.ns: Host bastion, Host inner, their known_hosts;
#                 SPINDLE_SSH_ARGS="-F $SSHW/ssh_config.ns", exported
#   $NETNS_ROUTE  $U_A@bastion+$U_B@inner,config=...+sudo=$U_W: hop 2's
#                 ssh runs on the bastion as $U_A, with the world's config
#
# With NETNS_SUDO_PASSWORD=yes set before sourcing this, $U_B has a
# password ($U_B_PW, in $PWFILE) and its sudo to $U_W needs it, under
# `Defaults requiretty` (/etc/sudoers.d/spn-$SFX-pw sorts after
# lib-sshd.sh's NOPASSWD rule, so its rule wins), as in lib-fakessh.sh.
#
# netns_daemon NAME [LINES...] gives the test a daemon of its own and
# route NAME in its routes file, and fwd_start runs the shim on it with
# forwards to free local ports; ns_serve starts python3 servers (HTTP,
# TCP echo, sink, source) here or in a namespace, tcp_client talks to
# them; vmhwm_kb and ns_agents tell what each hop holds.
. "${SPN_TESTLIB:-$(dirname "$0")}/lib-sshd.sh"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
# The system's python3 first: a version manager's shim on PATH may take
# seconds to start each time.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip "python3 is not installed"

n=$(printf '%04x' $(($$ % 65536)))
NB=spnb$n NI=spni$n
x=$(($$ % 200 + 20))
B=169.254.$x.2 I=169.254.$x.6
NS_SSHD=""
SUDOERS_PW=""
netns_cleanup() {
	if [ -n "${SPINDLE_RUNTIME_DIR:-}" ]; then
		_dp=$(daemon_pid)
		timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
		[ -n "$_dp" ] && kill -KILL "$_dp" 2>/dev/null
	fi
	for p in $NS_SSHD; do kill -KILL "$p" 2>/dev/null; done
	ip netns pids "$NB" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip netns pids "$NI" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	ip link del "vb$n" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	ip netns del "$NI" 2>/dev/null
	[ -n "$SUDOERS_PW" ] && rm -f "$SUDOERS_PW"
}
trap '_t=$?; netns_cleanup; (exit $_t); _sshd_cleanup' EXIT
# Names a concurrent run (another pid with the same low bits) holds.
ip netns list 2>/dev/null | grep -q "^$NB\b" &&
    skip "network namespace $NB exists (a concurrent run?)"
ip netns add "$NB" || skip "cannot create network namespaces"
ip netns add "$NI" || fail "ip netns add $NI"
ip link add "vb$n" type veth peer name "vbp$n" || fail "veth"
ip link set "vbp$n" netns "$NB"
ip addr add "169.254.$x.1/30" dev "vb$n"
ip link set "vb$n" up
ip -n "$NB" link set lo up
ip -n "$NB" addr add "$B/30" dev "vbp$n"
ip -n "$NB" link set "vbp$n" up
ip -n "$NB" link add "vi$n" type veth peer name "vip$n" netns "$NI" ||
    fail "inner veth"
ip -n "$NB" addr add "169.254.$x.5/30" dev "vi$n"
ip -n "$NB" link set "vi$n" up
ip -n "$NI" link set lo up
ip -n "$NI" addr add "$I/30" dev "vip$n"
ip -n "$NI" link set "vip$n" up

# ns_sshd NS ADDR: the world's sshd, listening on ADDR:22 inside NS.
ns_sshd() {
	( ip netns exec "$1" /usr/sbin/sshd -D -f "$SSHW/sshd/config" \
	    -o "ListenAddress=$2" -o Port=22 -o "PidFile=$TMPD/pid.$1" \
	    -E "$TMPD/log.$1" </dev/null >/dev/null 2>&1 &
	  echo $! >"$TMPD/dpid.$1" )
	NS_SSHD="$NS_SSHD $(cat "$TMPD/dpid.$1")"
	_t=100
	while [ "$_t" -gt 0 ] &&
	    ! grep -q "listening on $2" "$TMPD/log.$1" 2>/dev/null; do
		sleep 0.05
		_t=$((_t - 1))
	done
	grep -q "listening on $2" "$TMPD/log.$1" ||
	    fail "sshd in $1 did not start: $(cat "$TMPD/log.$1")"
}
ns_sshd "$NB" "$B"
ns_sshd "$NI" "$I"

key=$(cut -d' ' -f1,2 "$SSHW/sshd/host_key.pub")
printf '%s %s\n%s %s\n' "$B" "$key" "$I" "$key" >"$SSHW/known_hosts.ns"
chmod 644 "$SSHW/known_hosts.ns"
cat >"$SSHW/ssh_config.ns" <<EOF
Host bastion
	HostName $B
Host inner
	HostName $I
Host *
	Port 22
	IdentityFile $SSHW/keys/%u/id
	IdentitiesOnly yes
	IdentityAgent none
	UserKnownHostsFile $SSHW/known_hosts.ns
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	CheckHostIP no
	BatchMode yes
	ConnectTimeout 3
	LogLevel ERROR
EOF
chmod 644 "$SSHW/ssh_config.ns"
SPINDLE_SSH_ARGS="-F $SSHW/ssh_config.ns"
export SPINDLE_SSH_ARGS
NETNS_ROUTE="$U_A@bastion+$U_B@inner,config=$SSHW/ssh_config.ns+sudo=$U_W"

U_B_PW=""
PWFILE=""
if [ "${NETNS_SUDO_PASSWORD:-no}" = yes ]; then
	U_B_PW="pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' ')"
	echo "$U_B:$U_B_PW" | chpasswd || fail "chpasswd $U_B failed"
	SUDOERS_PW=/etc/sudoers.d/spn-$SFX-pw
	printf 'Defaults:%s requiretty\nDefaults:%s passwd_tries=1\n%s ALL=(%s) ALL\n' \
	    "$U_B" "$U_B" "$U_B" "$U_W" >"$TMPD/sudoers-pw"
	visudo -qcf "$TMPD/sudoers-pw" >/dev/null ||
	    fail "visudo rejects our rule"
	install -m 0440 "$TMPD/sudoers-pw" "$SUDOERS_PW"
	PWFILE=$TMPD/pw
	printf '%s\n' "$U_B_PW" >"$PWFILE"
	chmod 0600 "$PWFILE"
fi

# netns_daemon NAME [LINE...]: a daemon of the test's own
# (SPINDLE_RUNTIME_DIR=$TMPD/rt, log $DAEMON_LOG; stopped, then killed,
# on exit) and a routes file (SPINDLE_ROUTES) with route NAME:
# $NETNS_ROUTE, the world's config for hop 1's ssh, $PWFILE if any, and
# the LINEs (routes-file lines of the route: "forward L ...").  Sets
# $NETNS_NAME (NAME) and $FAKEBIN (the shim's directory), and unsets
# SPINDLE_SSH_ARGS (the routes file says it all).
netns_daemon() {
	NETNS_NAME=$1
	SPINDLE_RUNTIME_DIR=$TMPD/rt
	SPINDLE_ROUTES=$TMPD/routes
	DAEMON_LOG=$SPINDLE_RUNTIME_DIR/daemon.log
	export SPINDLE_RUNTIME_DIR SPINDLE_ROUTES
	unset SPINDLE_SSH_ARGS
	{
		echo "# written by $TEST"
		echo "route $NETNS_NAME $NETNS_ROUTE"
		echo "    ssh-config $SSHW/ssh_config.ns"
		[ -n "$PWFILE" ] && echo "    password-file $PWFILE"
		shift
		for _l in "$@"; do
			echo "    $_l"
		done
	} >"$SPINDLE_ROUTES"
	FAKEBIN=$("$SPINDLE" fakessh-bin) || fail "spindle fakessh-bin failed"
	[ -x "$FAKEBIN/ssh" ] || fail "no ssh in $FAKEBIN"
}

# The servers and clients, python3 only.  A server prints "listening
# PORT" once it listens (PORT 0: the kernel's choice), then one line per
# connection it served:
#   http TEXT     GET / answers TEXT (a line); GET /bytes/N, N bytes
#   echo          each connection's bytes back, EOF after EOF
#   sink          reads to EOF, and only then answers "SHA256 N" and
#                 closes (the half-close server); logs "got SHA256 N"
#   source N      sends N bytes (a pseudo-random MiB, the same in every
#                 run, repeated), then closes; logs "sent SHA256 N"
# The clients (tcp_client) print one line:
#   send HOST PORT [N]   sends its stdin (or N bytes of the same
#                 pattern, and prints "sent SHA256 N" first),
#                 half-closes, prints what came back
#   recv HOST PORT       prints "SHA256 N" of all it read
#   par HOST PORT K      K connections at once to an echo server, each
#                 sending 64 KiB of its own and checking the echo:
#                 "ok K" or what went wrong
#   hold HOST PORT       one echo round trip ("up"), then waits for the
#                 far end to close: "closed SECS" after "up"
cat >"$TMPD/netns.py" <<'EOF'
import hashlib, random, socket, sys, threading, time

BLOCK = random.Random(11).randbytes(1 << 20)
LOCK = threading.Lock()

def out(*a):
	with LOCK:
		sys.stdout.write(' '.join(str(x) for x in a) + '\n')
		sys.stdout.flush()

def pattern(n):
	while n > 0:
		b = BLOCK if n >= len(BLOCK) else BLOCK[:n]
		n -= len(b)
		yield b

def drain(c):
	h, n = hashlib.sha256(), 0
	while True:
		b = c.recv(1 << 18)
		if not b:
			return h.hexdigest(), n
		h.update(b)
		n += len(b)

def serve(addr, port, handler):
	s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	try:
		s.bind((addr, port))
	except OSError as e:
		out('bind error:', e.strerror)
		sys.exit(2)
	s.listen(256)
	out('listening', s.getsockname()[1])
	while True:
		c, peer = s.accept()
		threading.Thread(target=handler, args=(c, peer),
		    daemon=True).start()

def h_echo(c, peer):
	with c:
		while True:
			b = c.recv(1 << 18)
			if not b:
				break
			c.sendall(b)
		c.shutdown(socket.SHUT_WR)
	out('echoed', peer[0])

def h_sink(c, peer):
	with c:
		d, n = drain(c)
		out('got', d, n)
		c.sendall(('%s %d\n' % (d, n)).encode())

def h_source(n):
	def h(c, peer):
		with c:
			h = hashlib.sha256()
			for b in pattern(n):
				h.update(b)
				c.sendall(b)
		out('sent', h.hexdigest(), n)
	return h

def http(addr, port, text):
	import http.server
	class H(http.server.BaseHTTPRequestHandler):
		def do_GET(self):
			if self.path.startswith('/bytes/'):
				body = b'x' * int(self.path[7:])
			else:
				body = (text + '\n').encode()
			self.send_response(200)
			self.send_header('Content-Length', str(len(body)))
			self.end_headers()
			self.wfile.write(body)
		def log_message(self, *a):
			pass
	class S(http.server.ThreadingHTTPServer):
		address_family = (socket.AF_INET6 if ':' in addr
		    else socket.AF_INET)
		request_queue_size = 256
		daemon_threads = True
	try:
		srv = S((addr, port), H)
	except OSError as e:
		out('bind error:', e.strerror)
		sys.exit(2)
	out('listening', srv.server_address[1])
	srv.serve_forever()

def connect(host, port):
	return socket.create_connection((host, int(port)), timeout=60)

def c_send(host, port, n=None):
	c = connect(host, port)
	if n is None:
		while True:
			b = sys.stdin.buffer.read(1 << 18)
			if not b:
				break
			c.sendall(b)
	else:
		h = hashlib.sha256()
		for b in pattern(int(n)):
			h.update(b)
			c.sendall(b)
		out('sent', h.hexdigest(), n)
	c.shutdown(socket.SHUT_WR)
	r = b''
	while True:
		b = c.recv(4096)
		if not b:
			break
		r += b
	out(r.decode(errors='replace').strip())

def c_par(host, port, k):
	k = int(k)
	bad = []
	go = threading.Barrier(k)
	def one(i):
		try:
			msg = (b'%06d' % i) * 10923
			c = connect(host, port)
			go.wait()
			c.sendall(msg)
			c.shutdown(socket.SHUT_WR)
			d, n = drain(c)
			if d != hashlib.sha256(msg).hexdigest():
				bad.append('%d: %d bytes back, not %d' %
				    (i, n, len(msg)))
		except Exception as e:
			bad.append('%d: %s' % (i, e))
			go.abort()
	ts = [threading.Thread(target=one, args=(i,)) for i in range(k)]
	for t in ts:
		t.start()
	for t in ts:
		t.join()
	out('ok %d' % k if not bad else 'failed %d: %s' % (len(bad),
	    '; '.join(bad[:5])))

def c_hold(host, port):
	c = connect(host, port)
	c.settimeout(None)
	try:
		c.sendall(b'ping\n')
		b = c.recv(5)
	except OSError as e:
		b = str(e).encode()
	if b != b'ping\n':
		out('no echo:', b.decode(errors='replace'))
		return
	out('up')
	try:
		while c.recv(4096):
			pass
	except OSError:
		pass
	out('closed %.3f' % time.time())

m, a = sys.argv[1], sys.argv[2:]
if m == 'http':
	http(a[0], int(a[1]), a[2])
elif m in ('echo', 'sink'):
	serve(a[0], int(a[1]), h_echo if m == 'echo' else h_sink)
elif m == 'source':
	serve(a[0], int(a[1]), h_source(int(a[2])))
elif m == 'send':
	c_send(*a)
elif m == 'recv':
	out('%s %d' % drain(connect(*a)))
elif m == 'par':
	c_par(*a)
elif m == 'hold':
	c_hold(*a)
else:
	sys.exit('netns.py: no mode ' + m)
EOF
chmod 0644 "$TMPD/netns.py"

# ns_serve NAME NS ADDR PORT MODE [ARG]: start a server (above) in
# namespace NS ("-": here) on ADDR:PORT (PORT 0: any), its output in
# $TMPD/srv.NAME; waits until it listens; sets SRV_PORT (the port it
# got) and SRV_PID.  Here, the server is killed on exit (track); in a
# namespace, with the namespace.  Status 1 if it could not bind (the
# reason in its output), so that the caller may try another port.
ns_serve() {
	_sn=$1 _ns=$2
	shift 2
	: >"$TMPD/srv.$_sn"
	if [ "$_ns" = - ]; then
		( "$PY" "$TMPD/netns.py" "$3" "$1" "$2" ${4+"$4"} \
		    </dev/null >"$TMPD/srv.$_sn" 2>&1 &
		  echo $! >"$TMPD/srvpid.$_sn" )
	else
		( ip netns exec "$_ns" "$PY" "$TMPD/netns.py" "$3" "$1" "$2" \
		    ${4+"$4"} </dev/null >"$TMPD/srv.$_sn" 2>&1 &
		  echo $! >"$TMPD/srvpid.$_sn" )
	fi
	SRV_PID=$(cat "$TMPD/srvpid.$_sn")
	track "$SRV_PID"
	_t=200
	while [ "$_t" -gt 0 ] && alive "$SRV_PID" &&
	    ! grep -q '^listening ' "$TMPD/srv.$_sn"; do
		sleep 0.05
		_t=$((_t - 1))
	done
	SRV_PORT=$(sed -n 's/^listening //p' "$TMPD/srv.$_sn")
	[ -n "$SRV_PORT" ] && return 0
	alive "$SRV_PID" && fail "server $_sn did not start in 10 s"
	grep -q '^bind error' "$TMPD/srv.$_sn" && return 1
	fail "server $_sn: $(cat "$TMPD/srv.$_sn")"
}

# tcp_client [NS] MODE HOST PORT [ARG]: one of the clients above (in
# namespace NS if given), under a 60 s timeout.
tcp_client() {
	case $1 in
	send | recv | par | hold)
		timeout 60 "$PY" "$TMPD/netns.py" "$@" ;;
	*)
		_cn=$1
		shift
		timeout 60 ip netns exec "$_cn" "$PY" "$TMPD/netns.py" "$@" ;;
	esac
}

# vmhwm_kb PID: the most that process ever held resident, in KiB.
vmhwm_kb() {
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ns_agents NS: the agents (argv[0] spindle:...) running in namespace NS,
# one pid a line, in start order.
ns_agents() {
	_np=" $(ip netns pids "$1" 2>/dev/null | tr '\n' ' ') "
	ps -e -o pid= -o args= --sort=start_time 2>/dev/null |
	    awk -v np="$_np" '$2 ~ /^spindle:/ && index(np, " " $1 " ") {
		print $1 }'
}

# now_ms: the time in milliseconds.
now_ms() {
	date +%s%3N
}

# elapsed SINCE_MS: seconds since then, to the ms.
elapsed() {
	echo "$(($(now_ms) - $1))" | awk '{ printf "%.3f", $1 / 1000 }'
}

# fwd_start NAME ARGS...: the shim with ARGS, in which @1@ ... @9@ stand
# for local ports, and netns_daemon's route; in the background, its
# stderr in $TMPD/fwd.NAME, until every port listens (by the shim
# itself; 30 s at most).  Sets
# P1 ... P9 (the ports) and FWD_PID.  Another test may take a port
# between our choice and the shim's bind: then other ports.
fwd_start() {
	_fn=$1
	shift
	_tmpl=""
	for _w in "$@"; do
		_tmpl="$_tmpl '$_w'"
	done
	_try=0
	while :; do
		_p=$(free_port $((_try * 10 + 100)))
		for _k in 1 2 3 4 5 6 7 8 9; do
			while ! port_free "$_p"; do
				_p=$((_p + 1))
			done
			eval "P$_k=$_p"
			_p=$((_p + 1))
		done
		eval "set -- $_tmpl"
		_args="" _want=""
		for _w in "$@"; do
			for _k in 1 2 3 4 5 6 7 8 9; do
				case $_w in *@$_k@*)
					eval "_p=\$P$_k"
					_want="$_want $_p"
					_w=$(echo "$_w" | sed "s/@$_k@/$_p/g") ;;
				esac
			done
			_args="$_args '$_w'"
		done
		eval "set -- $_args '$NETNS_NAME'"
		( "$FAKEBIN/ssh" "$@" </dev/null >"$TMPD/fwd.$_fn.out" \
		    2>"$TMPD/fwd.$_fn" & echo $! >"$TMPD/fwdpid" )
		FWD_PID=$(cat "$TMPD/fwdpid")
		track "$FWD_PID"
		_t=300
		while [ "$_t" -gt 0 ] && alive "$FWD_PID"; do
			_up=yes
			for _p in $_want; do
				ss -Htlnp "sport = :$_p" |
				    grep -q "pid=$FWD_PID," || _up=no
			done
			[ "$_up" = yes ] && return 0
			sleep 0.1
			_t=$((_t - 1))
		done
		alive "$FWD_PID" &&
		    fail "$_fn: ports$_want not listening after 30 s"
		if ! grep -q 'Address already in use' "$TMPD/fwd.$_fn" ||
		    [ "$_try" -ge 5 ]; then
			sed 's/^/  shim: /' "$TMPD/fwd.$_fn" >&2
			fail "$_fn: the shim ended: $*"
		fi
		_try=$((_try + 1))
	done
}
