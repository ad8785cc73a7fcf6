#!/bin/sh
# Tunnels (issue 11) side by side with OpenSSH, in one run, on the
# network-namespace world of the integration tests (lib-netns.sh: a
# bastion reachable from here, an inner host reachable only through it).
# A server in the inner namespace (bench/tcpbench serve, on inner's
# loopback) is reached
#   spindle:  through the shim's `ssh -N -L` and `-D` over route
#             $U_A@bastion+$U_B@inner (the daemon carries every byte);
#   OpenSSH:  through `-L` and `-D` of a ControlMaster to inner with
#             ProxyJump bastion (as $U_O on both hosts; forwarding is
#             allowed for the world's users here, and only here).
# B2: MIB MiB through -L into a sink (MB/s); B3: 1-byte round trips
# through -L (p50, p99); B4: sequential new connections through -L and
# -D, each connect + (SOCKS5) + one request and its answer (B3 and B4 -L
# also through a routes-file `forward L`, the daemon's own listener); the
# memory peak (VmHWM) and CPU time of every process on each path in B2.
# Needs root.  docs/performance.md ("Tunnels (issue 11)") records results.
#	sh bench/forward.sh [--quick] [--rounds N] [MIB]   (1 round, 1024 MiB)
# --quick: 64 MiB, 1000 round trips, 100 connections.  --profile: then
# one more B2 and B3 each, with `perf stat` on every process of the path
# (CPU, context switches, system calls, the bytes each read/write moves).
# --b4: B4 alone (and through the routes file's forward L), 1000
# connections a round.  Rounds alternate OpenSSH and spindle; the
# medians are printed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
SPINDLE=$top/spindle
SPN_TESTLIB=${SPN_TESTLIB:-$top/tests/integration}
export SPINDLE
[ "$(id -u)" = 0 ] || { echo "bench/forward.sh: needs root" >&2; exit 1; }
rounds=1 MIB=1024 RTTS=10000 CONNS=1000 profile=no b4only=no
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--profile) profile=yes; shift ;;
	--quick) MIB=64 RTTS=1000 CONNS=100; shift ;;
	--b4) b4only=yes; shift ;;
	*) MIB=$1; shift ;;
	esac
done
(cd "$top" && make -s spindle bench/tcpbench >/dev/null) ||
    { echo "bench/forward.sh: make failed" >&2; exit 1; }
TCPBENCH=$top/bench/tcpbench
SPN_TIMEOUT=600
# OpenSSH's side needs forwarding (lib-sshd.sh turns it off) on both
# hosts: direct-tcpip to inner:22 on the bastion (ProxyJump), to the
# server on inner.
sshd_extra_config() {
	printf 'Match User %s\n\tAllowTcpForwarding yes\n' "$U_O"
}
. "$SPN_TESTLIB/lib-netns.sh"
. "$top/bench/lib.sh"
. "$top/bench/lib-world.sh"
cd "$top"
load0=$(uptime)
t_start=$(date +%s)

# The far server, on inner's loopback: what both sides' far ends reach.
SP=7001
( ip netns exec "$NI" "$TCPBENCH" serve 127.0.0.1 $SP >"$TMPD/srv" 2>&1 &
  echo $! >"$TMPD/srvpid" )
track "$(cat "$TMPD/srvpid")"

# listen_wait PORT PID: PID listens on 127.0.0.1:PORT within 20 s (0),
# or it died or never did (1).
listen_wait() {
	_t=200
	while [ "$_t" -gt 0 ]; do
		ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return 0
		alive "$2" || return 1
		sleep 0.1
		_t=$((_t - 1))
	done
	return 1
}

# OpenSSH: a master with both forwards, from the start (-fN returns once
# they listen).  The jump ssh gets -F too (ssh passes it on).
CM=$TMPD/cm
O_L=$(free_port 1) O_D=$(free_port 2)
ossh="ssh -F $SSHW/ssh_config.ns -S $CM"
$ossh -M -fN -o ExitOnForwardFailure=yes -o ControlPersist=no \
    -J "$U_O@bastion" -l "$U_O" \
    -L "127.0.0.1:$O_L:127.0.0.1:$SP" -D "127.0.0.1:$O_D" inner \
    2>"$TMPD/ossh.err" || fail "OpenSSH master: $(cat "$TMPD/ossh.err")"
O_PID=$($ossh -O check inner 2>&1 | sed -n 's/.*(pid=\([0-9]*\)).*/\1/p')
[ -n "$O_PID" ] || fail "OpenSSH master: no pid"
track "$O_PID"

# spindle: the daemon, route bi with a forward of the routes file (the
# daemon's own listener: no shim, no control connection per connection),
# the shim's forwards.
NETNS_ROUTE="$U_A@bastion+$U_B@inner,config=$SSHW/ssh_config.ns"
R_L=$(free_port 5)
netns_daemon bi "forward L 127.0.0.1:$R_L 127.0.0.1:$SP"
"$SPINDLE" up bi >/dev/null 2>"$TMPD/up.err" ||
    fail "spindle up bi: $(cat "$TMPD/up.err")"
listen_wait "$R_L" "$(daemon_pid)" ||
    fail "the routes file's forward L does not listen: $(tail -3 "$DAEMON_LOG")"
fwd_start bench -N -L "127.0.0.1:@1@:127.0.0.1:$SP" -D "127.0.0.1:@2@"
S_L=$P1 S_D=$P2 S_PID=$FWD_PID
spn_ok=yes
grep -q "$SP" "$TMPD/srv" || fail "far server: $(cat "$TMPD/srv")"
# Both up end to end (spindle: the route comes up on the first
# connection), and the far server answers.
"$TCPBENCH" conns 127.0.0.1 "$O_L" 1 >/dev/null || fail "OpenSSH -L"
"$TCPBENCH" conns 127.0.0.1 "$O_D" 1 127.0.0.1 $SP >/dev/null ||
    fail "OpenSSH -D"
if [ $spn_ok = yes ]; then
	timeout 60 "$TCPBENCH" conns 127.0.0.1 "$S_L" 1 >/dev/null &&
	    timeout 60 "$TCPBENCH" conns 127.0.0.1 "$S_D" 1 127.0.0.1 $SP \
	    >/dev/null || spn_ok=no
fi
if [ $spn_ok = no ]; then
	log "spindle's forwards do not work; OpenSSH's side only:"
	sed 's/^/  shim: /' "$TMPD/fwd.bench" >&2
	[ -f "${DAEMON_LOG:-}" ] && tail -5 "$DAEMON_LOG" | sed 's/^/  daemon: /' >&2
fi
t_up=$(date +%s)

# The processes of each path, "PID ROLE" lines: OpenSSH's is
# procs_ossh (bench/lib-world.sh); spindle's: the shim, the daemon, its
# ssh to the bastion, the sshd sessions, the agents and the agent's ssh
# to inner.
procs_spn() {
	_dp=$(daemon_pid)
	echo "$S_PID shim"
	echo "$_dp daemon"
	for p in $(children "$_dp" ssh); do echo "$p ssh-hop1"; done
	for p in $(sshd_of "$U_A" "$NB"); do echo "$p sshd-bastion"; done
	_h=1
	for p in $(ns_agents "$NB"); do
		echo "$p agent-bastion"
		for c in $(children "$p" ssh); do echo "$c ssh-hop2"; done
	done
	for p in $(sshd_of "$U_B" "$NI"); do echo "$p sshd-inner"; done
	for p in $(ns_agents "$NI"); do echo "$p agent-inner"; done
}

# run SIDE NAME CMD...: run a client, its "key value" lines kept as
# $TMPD/SIDE.NAME (one file per round, appended).
run() {
	_s=$1 _n=$2
	shift 2
	timeout 300 "$@" >"$TMPD/one" 2>"$TMPD/one.err" || {
		log "$_s $_n failed: $(cat "$TMPD/one.err")"
		return 1
	}
	cat "$TMPD/one" >>"$TMPD/$_s.$_n"
}
# b2 SIDE PORT: the bulk run, with each process's CPU time during it
# (SIDE.cpu: "PID ms", summed over the rounds) and its memory peak after
# it (SIDE.mem: "PID ROLE KiB", the last round's).
b2() {
	procs_$1 >"$TMPD/$1.procs"
	while read -r p r; do echo "$p $(cpu_ticks "$p")"; done \
	    <"$TMPD/$1.procs" >"$TMPD/$1.cpu0"
	run "$1" b2 "$TCPBENCH" bulk 127.0.0.1 "$2" "$MIB"
	while read -r p c0; do
		c1=$(cpu_ticks "$p")
		echo "$p $(( (${c1:-${c0:-0}} - ${c0:-0}) * 1000 / TCK ))"
	done <"$TMPD/$1.cpu0" >>"$TMPD/$1.cpu"
	while read -r p r; do echo "$p $r $(vmhwm_kb "$p")"; done \
	    <"$TMPD/$1.procs" >"$TMPD/$1.mem"
}

# Warm both sides first: the first bulk through a fresh ssh takes ~50,000
# page faults in it (its buffers grow; each fault is dear in a VM), which
# is no steady state for either.
for p in "$O_L" "$S_L"; do
	[ "$p" = "$S_L" ] && [ $spn_ok = no ] && continue
	"$TCPBENCH" bulk 127.0.0.1 "$p" 128 >/dev/null &&
	    "$TCPBENCH" rtt 127.0.0.1 "$p" 1000 >/dev/null ||
	    fail "warm-up through 127.0.0.1:$p"
done

for r in $(seq "$rounds"); do
	echo "round $r: $(uptime)" >>"$TMPD/load"
	if [ $b4only = no ]; then
		b2 ossh "$O_L"
		[ $spn_ok = yes ] && b2 spn "$S_L"
		run ossh b3 "$TCPBENCH" rtt 127.0.0.1 "$O_L" $RTTS
		[ $spn_ok = yes ] &&
		    run spn b3 "$TCPBENCH" rtt 127.0.0.1 "$S_L" $RTTS
	fi
	run ossh b4l "$TCPBENCH" conns 127.0.0.1 "$O_L" $CONNS
	[ $spn_ok = yes ] &&
	    run spn b4l "$TCPBENCH" conns 127.0.0.1 "$S_L" $CONNS
	run ossh b4d "$TCPBENCH" conns 127.0.0.1 "$O_D" $CONNS 127.0.0.1 $SP
	[ $spn_ok = yes ] &&
	    run spn b4d "$TCPBENCH" conns 127.0.0.1 "$S_D" $CONNS 127.0.0.1 $SP
	# The same through the daemon's own listener.
	[ $spn_ok = yes ] && { [ $b4only = yes ] ||
	    run spn b3r "$TCPBENCH" rtt 127.0.0.1 "$R_L" $RTTS; } &&
	    run spn b4r "$TCPBENCH" conns 127.0.0.1 "$R_L" $CONNS
done
load1=$(uptime)
t_end=$(date +%s)

# prof SIDE NAME CMD...: the client CMD once more, each process of the
# path under perf stat; "ROLE PID ms switches syscalls io-calls" lines in
# SIDE.prof.NAME, the client's output in SIDE.prof.NAME.out.
PERF_EV=task-clock,context-switches,raw_syscalls:sys_enter
for e in read write readv writev recvfrom sendto recvmsg sendmsg splice; do
	PERF_EV=$PERF_EV,syscalls:sys_enter_$e
done
prof() {
	_s=$1 _n=$2
	shift 2
	procs_$_s >"$TMPD/$_s.procs"
	: >"$TMPD/perfpids"
	while read -r p r; do
		perf stat -x, -e "$PERF_EV" -p "$p" -o "$TMPD/perf.$p" &
		echo $! >>"$TMPD/perfpids"
	done <"$TMPD/$_s.procs"
	sleep 1
	"$@" >"$TMPD/$_s.prof.$_n.out"
	kill -INT $(cat "$TMPD/perfpids")
	wait
	while read -r p r; do
		awk -F, -v p="$p" -v r="$r" '
		    $3 == "task-clock" { ms = $1 }
		    $3 == "context-switches" { cs = $1 }
		    $3 == "raw_syscalls:sys_enter" { sc = $1 }
		    $3 ~ /^syscalls:/ { io += $1 }
		    END { print r, p, int(ms), cs + 0, sc + 0, io + 0 }' \
		    "$TMPD/perf.$p"
	done <"$TMPD/$_s.procs" >"$TMPD/$_s.prof.$_n"
}
if [ $profile = yes ]; then
	command -v perf >/dev/null || fail "--profile: no perf"
	for sp in "ossh $O_L" "spn $S_L"; do
		set -- $sp
		[ "$1" = spn ] && [ $spn_ok = no ] && continue
		prof "$1" b2 "$TCPBENCH" bulk 127.0.0.1 "$2" "$MIB"
		prof "$1" b3 "$TCPBENCH" rtt 127.0.0.1 "$2" "$RTTS"
	done
fi

row() { printf '%-30s %10s %10s %6s  %s\n' "$@"; }
# line NAME KEY UNIT OP LIMIT [SPN-NAME]: one benchmark's row (OP "": no
# goal), spindle's figure from SPN-NAME if given.
line() {
	_s=$(med "spn.${6:-$1}" "$2") _o=$(med "ossh.$1" "$2")
	_r=$(vs "$_s" "$_o")
	row "${6:-$1} $2 ($3)" "$_s" "$_o" "$_r" \
	    "$([ -n "$4" ] && goal "$_r" "$4" "$5")"
}

echo "spindle tunnels vs OpenSSH, $(date -u '+%F %H:%M UTC'), $(nproc) cores, $(uname -r)"
echo "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1)"
echo "spindle $(git describe --always --dirty 2>/dev/null), $(ssh -V 2>&1 | sed 's/,.*//')"
echo "route $U_A@bastion+$U_B@inner; OpenSSH: ControlMaster, ProxyJump bastion"
echo "$rounds rounds (medians; all rounds in brackets), B2 $MIB MiB, B3 $RTTS round trips, B4 $CONNS connections"
echo "world up in $((t_up - t_start)) s, benchmarks $((t_end - t_up)) s"
echo "before: $load0"
cat "$TMPD/load"
echo "after:  $load1"
echo "scheduling: $(cat /proc/self/autogroup 2>/dev/null || echo 'no autogroup')"
echo
row "" spindle OpenSSH ratio goal
line b2 mb_per_s MB/s ">=" 0.85
line b3 p50_us us "<=" 1.3
line b3 p99_us us "" ""
line b4l p50_us us "<=" 1.3
line b4l p99_us us "" ""
line b4d p50_us us "<=" 1.3
line b4d p99_us us "" ""
echo "routes-file forward L (the daemon listens), against OpenSSH's -L:"
line b3 p50_us us "" "" b3r
line b4l p50_us us "" "" b4r
echo
for k in b2:mb_per_s b3:p50_us b3:p99_us b4l:p50_us b4d:p50_us; do
	echo "${k%%:*} ${k#*:}: spindle [$(all "spn.${k%%:*}" "${k#*:}")]" \
	    "OpenSSH [$(all "ossh.${k%%:*}" "${k#*:}")]"
done
echo "b3r p50_us [$(all spn.b3r p50_us)], b4r p50_us [$(all spn.b4r p50_us)]"
echo
echo "B2: CPU ms per process (sum over $rounds rounds) and memory peak (VmHWM, KiB)"
for s in spn ossh; do
	[ -s "$TMPD/$s.mem" ] || continue
	echo "  $([ $s = spn ] && echo spindle || echo OpenSSH):"
	awk 'NR == FNR { cpu[$1] += $2; next }
	    { printf "    %-14s pid %-7s %8d KiB %8d ms\n", $2, $1, $3, cpu[$1]
	      tc += cpu[$1]; tm += $3 }
	    END { printf "    %-14s %11s %8d KiB %8d ms\n", "total", "", tm, tc }' \
	    "$TMPD/$s.cpu" "$TMPD/$s.mem"
done
# Per process: B2's CPU, switches, system calls, read/write calls and
# the KiB each moves (each byte is read once and written once); B3's per
# round trip (tcpbench rtt makes 100 more, unmeasured, first).
for s in spn ossh; do
	[ -s "$TMPD/$s.prof.b2" ] || continue
	echo
	echo "$([ $s = spn ] && echo spindle || echo OpenSSH) under perf stat:" \
	    "B2 $(sed -n 's/^mb_per_s //p' "$TMPD/$s.prof.b2.out") MB/s," \
	    "B3 p50 $(sed -n 's/^p50_us //p' "$TMPD/$s.prof.b3.out") us"
	printf '    %-14s %7s %7s %7s %7s %6s | %7s %7s %7s %7s\n' "" \
	    "B2 ms" switch sys rw KiB/rw "B3 ms" "sw/rt" "sys/rt" "rw/rt"
	awk -v mib="$MIB" -v n=$((RTTS + 100)) '
	    NR == FNR { ms[$2] = $3; sw[$2] = $4; sy[$2] = $5; rw[$2] = $6
		next }
	    {	kib = $6 ? mib * 1024 * 2 / $6 : 0
		printf "    %-14s %7d %7d %7d %7d %6.1f | %7d %7.2f %7.2f %7.2f\n",
		    $1, $3, $4, $5, $6, kib, ms[$2], sw[$2] / n, sy[$2] / n,
		    rw[$2] / n
		b2 += $3; b3 += ms[$2]; tsw += sw[$2]; tsy += sy[$2]
		trw += rw[$2] }
	    END { printf "    %-14s %7d %31s | %7d %7.2f %7.2f %7.2f\n",
		"total", b2, "", b3, tsw / n, tsy / n, trw / n }' \
	    "$TMPD/$s.prof.b3" "$TMPD/$s.prof.b2"
done
$ossh -O exit inner >/dev/null 2>&1
[ $spn_ok = yes ] || exit 1
exit 0
