#!/bin/sh
# The SSH gateway (issue 12) side by side with OpenSSH, in one run, on
# the network-namespace world of the integration tests (lib-netns.sh: a
# bastion reachable from here, an inner host reachable only through it).
# Three ways to run a command on inner:
#   gateway:  OpenSSH's ssh with `spindle ssh-config`'s block,
#             `ssh inner.spindle CMD` (ProxyCommand `spindle gateway
#             connect`: a socket to spindle-gateway, then route inner,
#             $U_A@bastion+$U_B@inner, held by the daemon);
#   shim:     the fake ssh, `ssh inner CMD`, over the same route;
#   OpenSSH:  a ControlMaster to inner with ProxyJump bastion (as $U_O on
#             both hosts), `ssh -S cm inner CMD`.
# B1: 1 GiB down (`head -c N /dev/zero` there, `wc -c` here), down into
#     a file on tmpfs, and up (`head -c N /dev/zero` here, `wc -c`
#     there), MB/s, with the CPU time of every process on the path and
#     of the client, per GiB; also through a fresh OpenSSH connection
#     (-J, no ControlMaster: the gateway's client code);
# B5: `ssh X true`, each a fresh connection for the gateway (a new SSH
#     connection, KEX included, to the gateway; the route stays up), for
#     OpenSSH fresh through ProxyJump (two KEX), fresh to the bastion
#     alone (one), and through the ControlMaster; and the shim;
# B6: 16 parallel 100 MiB downloads (into tmpfs files) through the
#     gateway (and the shim, and the ControlMaster), the memory peak
#     (VmHWM, reset before) of the gateway, the daemon and the agents.
# Needs root.  docs/performance.md ("SSH gateway (issue 12)") records
# results.
#	sh bench/gateway.sh [--quick] [--rounds N] [--profile]
# --quick: 64 MiB each way, 5 connections, 16 x 8 MiB (a smoke run);
# default: 1 round, 1 GiB, 20 connections, 16 x 100 MiB.  Rounds
# alternate the sides; medians are printed, every round in brackets.
# --profile: one more gateway download with `perf stat` on every process
# of the path.  Everything it starts (namespaces, sshd, users, daemon,
# gateway, ssh masters) is gone when it exits.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
SPINDLE=$top/spindle
SPN_TESTLIB=${SPN_TESTLIB:-$top/tests/integration}
export SPINDLE
[ "$(id -u)" = 0 ] || { echo "bench/gateway.sh: needs root" >&2; exit 1; }
rounds=1 MIB=1024 CONNS=20 PAR=16 PMIB=100 profile=no
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--quick) MIB=64 CONNS=5 PMIB=8; shift ;;
	--profile) profile=yes; shift ;;
	*) echo "usage: sh bench/gateway.sh [--quick] [--rounds N] [--profile]" >&2
	   exit 1 ;;
	esac
done
(cd "$top" && make -s spindle >/dev/null) ||
    { echo "bench/gateway.sh: make failed" >&2; exit 1; }
(cd "$top" && make -s spindle-gateway >/dev/null 2>&1)
GW_BIN=$top/spindle-gateway
BYTES=$((MIB * 1048576)) PBYTES=$((PMIB * 1048576))
SPN_TIMEOUT=600
# ProxyJump needs forwarding on the bastion (lib-sshd.sh turns it off):
# for OpenSSH's user only.
sshd_extra_config() {
	printf 'Match User %s\n\tAllowTcpForwarding yes\n' "$U_O"
}
. "$SPN_TESTLIB/lib-netns.sh"
. "$top/bench/lib.sh"
. "$top/bench/lib-world.sh"
cd "$top"
load0=$(uptime)
t_start=$(date +%s)

# The gateway's host key, known_hosts and ssh_config: this run's own.
XDG_CONFIG_HOME=$TMPD/config HOME=$TMPD/home
export XDG_CONFIG_HOME HOME
mkdir -m 0700 "$XDG_CONFIG_HOME" "$HOME"

# OpenSSH: the master, through the jump.
CM=$TMPD/cm
OSSH="ssh -F $SSHW/ssh_config.ns"
$OSSH -S "$CM" -M -fN -o ControlPersist=no -J "$U_O@bastion" -l "$U_O" \
    inner 2>"$TMPD/ossh.err" || fail "OpenSSH master: $(cat "$TMPD/ossh.err")"
O_PID=$($OSSH -S "$CM" -O check inner 2>&1 |
    sed -n 's/.*(pid=\([0-9]*\)).*/\1/p')
[ -n "$O_PID" ] || fail "OpenSSH master: no pid"
track "$O_PID"

# spindle: the daemon and route inner (hop 2 without sudo: OpenSSH's
# side has none either), up before anything is timed.
NETNS_ROUTE="$U_A@bastion+$U_B@inner,config=$SSHW/ssh_config.ns"
netns_daemon inner
# B6 opens 16 connections at once: more than the gateway lets wait
# unauthenticated by default (10) before gwcore 21a0de8 (since then
# max-startups counts TCP connections only: a no-op here).
{ echo "gateway-max-startups $PAR"; cat "$SPINDLE_ROUTES"; } >"$TMPD/r" &&
    mv "$TMPD/r" "$SPINDLE_ROUTES"
"$SPINDLE" up inner >/dev/null 2>"$TMPD/up.err" ||
    fail "spindle up inner: $(cat "$TMPD/up.err")"
DPID=$(daemon_pid)
[ -n "$DPID" ] || fail "no daemon"

# The clients, one script each: cl.SIDE CMD runs CMD on inner.
printf '#!/bin/sh\nexec %s -S %s -l %s inner "$@"\n' "$OSSH" "$CM" "$U_O" \
    >"$TMPD/cl.ossh"
printf '#!/bin/sh\nexec %s inner "$@"\n' "$FAKEBIN/ssh" >"$TMPD/cl.shim"
printf '#!/bin/sh\nexec ssh -F %s -o BatchMode=yes inner.spindle "$@"\n' \
    "$TMPD/gw.cfg" >"$TMPD/cl.gw"
# B5's fresh OpenSSH connections: through the jump, and to the bastion.
printf '#!/bin/sh\nexec %s -o ControlPath=none -J %s@bastion -l %s inner "$@"\n' \
    "$OSSH" "$U_O" "$U_O" >"$TMPD/cl.fresh"
printf '#!/bin/sh\nexec %s -o ControlPath=none -l %s bastion "$@"\n' \
    "$OSSH" "$U_O" >"$TMPD/cl.fresh1"
chmod 0755 "$TMPD"/cl.*

# The gateway, if built and working: `spindle ssh-config`'s block as
# the ssh_config of cl.gw (nothing else in it: the pinned known_hosts
# is the only trust there is).
gw_ok=no
gw_why=""
if [ ! -x "$GW_BIN" ]; then
	gw_why="spindle-gateway is not built (libssh >= 0.10 missing?)"
elif ! "$SPINDLE" ssh-config >"$TMPD/gw.cfg" 2>"$TMPD/gw.err"; then
	gw_why="spindle ssh-config: $(cat "$TMPD/gw.err")"
elif ! out=$(timeout 60 "$TMPD/cl.gw" 'echo gw-$((6 * 7))' \
    2>"$TMPD/gw.err" </dev/null) || [ "$out" != gw-42 ]; then
	gw_why="ssh inner.spindle: '$out' $(cat "$TMPD/gw.err")"
else
	gw_ok=yes
fi
[ $gw_ok = yes ] || log "no gateway column: $gw_why"
t_up=$(date +%s)

# The processes of each path, "PID ROLE" lines.  OpenSSH: procs_ossh
# (bench/lib-world.sh).  spindle: the daemon, its ssh to the bastion,
# the sshd sessions, the agents and the bastion agent's ssh to inner;
# the gateway too for its column.  The remote command (head, wc) is on
# neither side's list.
gw_pid() {
	ps -o pid= -o args= --ppid "$DPID" |
	    awk 'index($2, "spindle-gateway") { print $1; exit }'
}
procs_shim() {
	echo "$DPID daemon"
	for p in $(children "$DPID" ssh); do echo "$p ssh-hop1"; done
	for p in $(sshd_of "$U_A" "$NB"); do echo "$p sshd-bastion"; done
	for p in $(ns_agents "$NB"); do
		echo "$p agent-bastion"
		for c in $(children "$p" ssh); do echo "$c ssh-hop2"; done
	done
	for p in $(sshd_of "$U_B" "$NI"); do echo "$p sshd-inner"; done
	for p in $(ns_agents "$NI"); do echo "$p agent-inner"; done
}
# A fresh connection's sshd sessions come and go with it: its path is
# not measured (the client's CPU, its jump ssh included, is).
procs_fresh() {
	:
}
procs_gw() {
	_g=$(gw_pid)
	[ -n "$_g" ] && echo "$_g gateway"
	procs_shim
}
# hwm_reset SIDE: each process of SIDE's path starts a new memory peak
# (clear_refs 5 sets VmHWM to VmRSS), its list in $TMPD/SIDE.procs.
hwm_reset() {
	procs_$1 >"$TMPD/$1.procs"
	while read -r p r; do
		echo 5 >"/proc/$p/clear_refs" 2>/dev/null
	done <"$TMPD/$1.procs"
}
# cpu_start SIDE / cpu_end SIDE: the CPU time SIDE's path used in
# between, in ms (summed over its processes).
cpu_start() {
	procs_$1 >"$TMPD/$1.procs"
	while read -r p r; do echo "$p $(cpu_ticks "$p")"; done \
	    <"$TMPD/$1.procs" >"$TMPD/$1.cpu0"
}
# (each process's, "ROLE ms", in $TMPD/SIDE.cpu1).
cpu_end() {
	paste -d' ' "$TMPD/$1.cpu0" "$TMPD/$1.procs" | while read -r p c0 _ r; do
		c1=$(cpu_ticks "$p")
		echo "$r $(( (${c1:-${c0:-0}} - ${c0:-0}) * 1000 / TCK ))"
	done >"$TMPD/$1.cpu1"
	awk '{ s += $2 } END { print s + 0 }' "$TMPD/$1.cpu1"
}

# xfer SIDE down|file|up BYTES: one transfer (file: down into a file on
# tmpfs, not a pipe); "DIR_mb_per_s X", "DIR_path_ms X", "DIR_client_ms
# X" (the client's CPU: ssh, wc or head, sh) into $TMPD/SIDE.b1, a line
# for each round; status 1 if the receiving end did not count BYTES.
xfer() {
	_s=$1 _d=$2 _b=$3
	cpu_start "$_s"
	_t0=$(date +%s%N)
	if [ "$_d" = down ]; then
		/usr/bin/time -f '%U %S' -o "$TMPD/time" sh -c \
		    '"$1" "head -c $2 /dev/zero" </dev/null | wc -c' sh \
		    "$TMPD/cl.$_s" "$_b" >"$TMPD/n" 2>"$TMPD/x.err"
	elif [ "$_d" = file ]; then
		/usr/bin/time -f '%U %S' -o "$TMPD/time" sh -c \
		    '"$1" "head -c $2 /dev/zero" </dev/null >"$3"' sh \
		    "$TMPD/cl.$_s" "$_b" "$DLFILE" 2>"$TMPD/x.err"
		stat -c %s "$DLFILE" >"$TMPD/n" 2>/dev/null
		rm -f "$DLFILE"
	else
		/usr/bin/time -f '%U %S' -o "$TMPD/time" sh -c \
		    'head -c "$2" /dev/zero | "$1" "wc -c"' sh \
		    "$TMPD/cl.$_s" "$_b" >"$TMPD/n" 2>"$TMPD/x.err"
	fi
	_t1=$(date +%s%N)
	_cpu=$(cpu_end "$_s")
	_n=$(tr -d ' ' <"$TMPD/n")
	awk '{ ms[$1] += $2 } END { for (r in ms) printf " %s %d", r, ms[r] }' \
	    "$TMPD/$_s.cpu1" >"$TMPD/$_s.cpu.$_d"
	if [ "$_n" != "$_b" ]; then
		log "$_s $_d: $_n bytes, not $_b: $(head -c 300 "$TMPD/x.err")"
		return 1
	fi
	awk -v d="$_d" -v b="$_b" -v ns=$((_t1 - _t0)) -v cpu="$_cpu" \
	    -v tck="$(tail -n1 "$TMPD/time")" 'BEGIN {
	    split(tck, t, " ")
	    printf "%s_mb_per_s %.1f\n%s_path_ms %d\n%s_client_ms %d\n",
		d, b / (ns / 1000), d, cpu, d, (t[1] + t[2]) * 1000 }' \
	    >>"$TMPD/$_s.b1"
}

# b5 SIDE: CONNS times `true` through SIDE; the wall times (ms), one a
# line, in $TMPD/SIDE.b5.
b5() {
	for _i in $(seq "$CONNS"); do
		_t0=$(date +%s%N)
		timeout 60 "$TMPD/cl.$1" true </dev/null >/dev/null \
		    2>"$TMPD/b5.err" || {
			log "$1 true failed: $(head -c 300 "$TMPD/b5.err")"
			return 1
		}
		_t1=$(date +%s%N)
		echo $(((_t1 - _t0) / 1000)) |
		    awk '{ printf "%.1f\n", $1 / 1000 }' >>"$TMPD/$1.b5"
	done
}

# b6 SIDE: PAR downloads of PBYTES at once through SIDE, each into a
# file on tmpfs (not a pipe: B1 shows what ssh pays writing into one);
# the wall time, each path process's VmHWM since the reset (SIDE.b6:
# "ROLE PID KiB"), the largest VmRSS of the gateway seen while they ran
# (sampled).
b6() {
	hwm_reset "$1"
	cpu_start "$1"
	_g=$(awk '$2 == "gateway" { print $1 }' "$TMPD/$1.procs")
	_t0=$(date +%s%N)
	_pids=""
	for _i in $(seq "$PAR"); do
		"$TMPD/cl.$1" "head -c $PBYTES /dev/zero" </dev/null \
		    >"$DLFILE.$_i" 2>"$TMPD/par.$_i.err" &
		_pids="$_pids $!"
	done
	_max=0
	while :; do
		_left=0
		for _p in $_pids; do
			alive "$_p" && _left=1
		done
		[ $_left = 0 ] && break
		if [ -n "$_g" ]; then
			_r=$(awk '$1 == "VmRSS:" { print $2 }' \
			    "/proc/$_g/status" 2>/dev/null)
			[ "${_r:-0}" -gt "$_max" ] && _max=$_r
		fi
		sleep 0.2
	done
	wait
	_t1=$(date +%s%N)
	_cpu=$(cpu_end "$1")
	_gcpu=$(awk '$1 == "gateway" { print $2 }' "$TMPD/$1.cpu1")
	_bad=0
	for _i in $(seq "$PAR"); do
		[ "$(stat -c %s "$DLFILE.$_i")" = "$PBYTES" ] || {
			_bad=$((_bad + 1))
			log "$1 B6 $_i: $(head -c 300 "$TMPD/par.$_i.err")"
		}
		rm -f "$DLFILE.$_i"
	done
	{
		echo "secs $(echo $((_t1 - _t0)) | awk '{ printf "%.2f", $1 / 1e9 }')"
		echo "bad $_bad"
		echo "rss_max $_max"
		echo "cpu $_cpu"
		echo "gwcpu $_gcpu"
		while read -r p r; do
			echo "$r $p $(vmhwm_kb "$p")"
		done <"$TMPD/$1.procs"
	} >"$TMPD/$1.b6"
}

# B1's downloads into a file go to tmpfs (never the disk), one file.
DLFILE=$(mktemp /dev/shm/spn-gwbench.XXXXXX) || fail "mktemp /dev/shm"
trap '_t=$?; rm -f "$DLFILE" "$DLFILE".*; netns_cleanup; (exit $_t); _sshd_cleanup' EXIT
SIDES="ossh shim"
[ $gw_ok = yes ] && SIDES="ossh gw shim"
# B1 also through a fresh OpenSSH connection (no ControlMaster): the
# same client code as the gateway's (ssh decrypting, writing stdout).
B1SIDES="$SIDES fresh"

# Warm every side first: a fresh ssh's buffers grow on its first
# transfers (tens of thousands of page faults in a VM), no steady state.
for s in $B1SIDES; do
	xfer "$s" down $((BYTES < 134217728 ? BYTES : 134217728)) &&
	    xfer "$s" up $((BYTES < 134217728 ? BYTES : 134217728)) ||
	    fail "warm-up through $s"
	rm -f "$TMPD/$s.b1"
done

for r in $(seq "$rounds"); do
	echo "round $r: $(uptime)" >>"$TMPD/load"
	# Rotate the order: no side always goes first.
	order=$B1SIDES
	for _k in $(seq $((r - 1))); do
		set -- $order
		_f=$1
		shift
		order="$* $_f"
	done
	for s in $order; do
		hwm_reset "$s"
		xfer "$s" down "$BYTES" && xfer "$s" file "$BYTES" &&
		    xfer "$s" up "$BYTES" || fail "B1 through $s"
		while read -r p role; do echo "$role $p $(vmhwm_kb "$p")"; done \
		    <"$TMPD/$s.procs" >"$TMPD/$s.b1mem"
	done
	for s in $order fresh1; do
		b5 "$s" || fail "B5 through $s"
	done
done
for s in $SIDES; do
	b6 "$s"
done
load1=$(uptime)
t_end=$(date +%s)

# --profile: one more gateway download, every process of its path under
# perf stat: "ROLE PID ms switches syscalls" in $TMPD/gw.prof.
if [ $profile = yes ] && [ $gw_ok = yes ]; then
	command -v perf >/dev/null || fail "--profile: no perf"
	procs_gw >"$TMPD/gw.procs"
	: >"$TMPD/perfpids"
	while read -r p r; do
		perf stat -x, -e task-clock,context-switches,raw_syscalls:sys_enter \
		    -p "$p" -o "$TMPD/perf.$p" &
		echo $! >>"$TMPD/perfpids"
	done <"$TMPD/gw.procs"
	sleep 1
	for f in gw.b1 gw.cpu.down; do mv "$TMPD/$f" "$TMPD/$f.keep"; done
	xfer gw down "$BYTES"
	mv "$TMPD/gw.b1" "$TMPD/gw.prof.out"
	for f in gw.b1 gw.cpu.down; do mv "$TMPD/$f.keep" "$TMPD/$f"; done
	kill -INT $(cat "$TMPD/perfpids")
	wait
	while read -r p r; do
		awk -F, -v p="$p" -v r="$r" '
		    $3 == "task-clock" { ms = $1 }
		    $3 == "context-switches" { cs = $1 }
		    $3 == "raw_syscalls:sys_enter" { sc = $1 }
		    END { print r, p, int(ms), cs + 0, sc + 0 }' "$TMPD/perf.$p"
	done <"$TMPD/gw.procs" >"$TMPD/gw.prof"
fi

# q FILE P: the P-quantile of $TMPD/FILE's lines (med, all, vs, goal:
# bench/lib-world.sh).
q() {
	sort -n "$TMPD/$1" 2>/dev/null | awk -v p="$2" '{ a[NR] = $1 }
	    END { if (!NR) { print "-"; exit }
		  i = int(NR * p + 0.999); if (i < 1) i = 1; print a[i] }'
}
# per_gib SIDE DIR: CPU ms per GiB, path + client, median over rounds.
per_gib() {
	awk -v d="$2" -v mib="$MIB" '
	    $1 == d "_path_ms" { p[++np] = $2 }
	    $1 == d "_client_ms" { c[++nc] = $2 }
	    END { for (i = 1; i <= np; i++) print (p[i] + c[i]) * 1024 / mib }' \
	    "$TMPD/$1.b1" 2>/dev/null | sort -n |
	    awk '{ a[NR] = $1 } END { if (NR) printf "%d", a[int((NR + 1) / 2)]; else print "-" }'
}
row() { printf '%-26s %8s %8s %8s %8s %7s %7s  %s\n' "$@"; }

echo "spindle SSH gateway vs OpenSSH, $(date -u '+%F %H:%M UTC'), $(nproc) cores, $(uname -r)"
echo "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1)"
echo "spindle $(git describe --always --dirty 2>/dev/null), $(ssh -V 2>&1 | sed 's/,.*//'), $(pkg-config --modversion libssh 2>/dev/null | sed 's/^/libssh /')"
echo "route $U_A@bastion+$U_B@inner; OpenSSH: ControlMaster to inner, ProxyJump bastion"
echo "$rounds rounds (medians; all rounds in brackets); B1 $MIB MiB each way, B5 $CONNS connections, B6 $PAR x $PMIB MiB"
echo "world up in $((t_up - t_start)) s, benchmarks $((t_end - t_up)) s"
[ $gw_ok = yes ] || echo "NO GATEWAY COLUMN: $gw_why"
echo "before: $load0"
cat "$TMPD/load"
echo "after:  $load1"
echo
echo "OpenSSH: through the ControlMaster (cm) or a fresh connection (-J)"
row "" gateway shim "ssh cm" "ssh -J" "gw/cm" "gw/-J" "goal (gw/cm)"
for d in down file up; do
	g=$(med gw.b1 ${d}_mb_per_s) s=$(med shim.b1 ${d}_mb_per_s)
	o=$(med ossh.b1 ${d}_mb_per_s) f=$(med fresh.b1 ${d}_mb_per_s)
	rt=$(vs "$g" "$o")
	row "B1 $d (MB/s)" "$g" "$s" "$o" "$f" "$rt" "$(vs "$g" "$f")" \
	    "$(goal "$rt" ">=" 0.85)"
done
for d in down file up; do
	g=$(per_gib gw $d) s=$(per_gib shim $d) o=$(per_gib ossh $d)
	row "B1 $d CPU (ms/GiB)" "$g" "$s" "$o" "" "$(vs "$g" "$o")" "" \
	    "(path + client)"
done
g=$(q gw.b5 0.5) s=$(q shim.b5 0.5) c=$(q ossh.b5 0.5)
f=$(q fresh.b5 0.5) f1=$(q fresh1.b5 0.5)
row "B5 true p50 (ms)" "$g" "$s" "$c" "$f" "$(vs "$g" "$c")" "$(vs "$g" "$f")" \
    "$(goal "$(vs "$g" "$f")" "<=" 0.25) (gw/-J)"
row "B5 true p90 (ms)" "$(q gw.b5 0.9)" "$(q shim.b5 0.9)" "$(q ossh.b5 0.9)" \
    "$(q fresh.b5 0.9)" "" "" ""
echo "B5 fresh ssh to the bastion alone (one KEX): p50 $f1 ms, p90 $(q fresh1.b5 0.9) ms; gw/that $(vs "$g" "$f1")"
echo "(B1 file: down into a file on tmpfs, not a pipe; the CPU of -J's sshd sessions is not measured)"
echo
for s in $B1SIDES; do
	for d in down file up; do
		echo "B1 $s $d MB/s [$(all "$s.b1" ${d}_mb_per_s)]," \
		    "path ms [$(all "$s.b1" ${d}_path_ms)]," \
		    "client ms [$(all "$s.b1" ${d}_client_ms)]"
	done
done
echo
echo "B1: CPU ms of each path process (by role), last round"
for s in $SIDES; do
	for d in down file up; do
		echo "  $s $d:$(cat "$TMPD/$s.cpu.$d" 2>/dev/null)"
	done
done
echo
echo "B1: memory peak (VmHWM, KiB) of each path process, last round"
for s in $SIDES; do
	printf '  %s:' "$s"
	awk '{ printf " %s %d", $1, $3; t += $3 } END { printf "; total %d\n", t }' \
	    "$TMPD/$s.b1mem"
done
echo
echo "B6: $PAR x $PMIB MiB at once (VmHWM, KiB, reset before)"
for s in $SIDES; do
	[ -s "$TMPD/$s.b6" ] || continue
	awk -v s="$s" -v par="$PAR" -v pb="$PBYTES" '
	    $1 == "secs" { secs = $2; next }
	    $1 == "bad" { bad = $2; next }
	    $1 == "rss_max" { rss = $2; next }
	    $1 == "cpu" { cpu = $2; next }
	    $1 == "gwcpu" { gcpu = $2; next }
	    { m = m sprintf(" %s %d", $1, $3) }
	    END {
		printf "  %s: %.2f s, %.0f MB/s in all, %d of %d short;%s\n",
		    s, secs, par * pb / secs / 1e6, bad, par, m
		printf "  %s: path CPU %d ms", s, cpu
		if (s == "gw")
		    printf " (gateway %d ms); VmRSS sampled every 0.2 s, largest %d KiB", gcpu, rss
		printf "\n"
	    }' "$TMPD/$s.b6"
done
if [ $gw_ok = yes ]; then
	h=$(awk '$1 == "gateway" { print $3 }' "$TMPD/gw.b6")
	echo "  gateway VmHWM $h KiB: $(goal "$(awk -v h="${h:-0}" 'BEGIN { printf "%.1f", h / 1024 }')" "<" 64) (MiB)"
fi
if [ -s "$TMPD/gw.prof" ]; then
	echo
	echo "gateway download under perf stat: $(sed -n 's/^down_mb_per_s //p' "$TMPD/gw.prof.out") MB/s"
	printf '    %-14s %7s %7s %8s %9s\n' "" pid ms switch syscalls
	awk '{ printf "    %-14s %7s %7d %8d %9d\n", $1, $2, $3, $4, $5
	    t += $3 } END { printf "    %-14s %7s %7d\n", "total", "", t }' \
	    "$TMPD/gw.prof"
fi
$OSSH -S "$CM" -O exit inner >/dev/null 2>&1
[ $gw_ok = yes ] || exit 1
exit 0
