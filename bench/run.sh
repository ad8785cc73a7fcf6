#!/usr/bin/env bash
# Side-by-side benchmark: spindle (bench/bench-spindle) against Mitogen
# (bench/mitogen_local.py), plus plain-pipe baselines for this machine.
# docs/performance.md explains every figure.
#
# usage: bench/run.sh [--quick] [--runs N] [--mb MIB] [--no-mitogen]
#                     [--no-build] [--keep DIR]
#   --runs N      run every benchmark N times, alternating spindle and
#                 Mitogen, and show the median with the min-max range
#   --mb MIB      MiB moved by the throughput tests (default 512)
#   --keep DIR    leave the raw outputs (stdout and stderr) in DIR
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

quick= runs=1 mb=512 mitogen=1 build=1 keep=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=--quick ;;
	--runs) runs=$2; shift ;;
	--mb) mb=$2; shift ;;
	--no-mitogen) mitogen= ;;
	--no-build) build= ;;
	--keep) keep=$2; shift ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$quick" ] && [ "$mb" = 512 ] && mb=64

if [ -n "$build" ]; then
	make -s bench >/dev/null || { echo "run.sh: make bench failed" >&2; exit 1; }
fi

out=${keep:-$(mktemp -d)}
mkdir -p "$out"
[ -n "$keep" ] || trap 'rm -rf "$out"' EXIT
: >"$out/all.txt"

# --------------------------------------------------------------- header
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
mhz=$(sed -n 's/^cpu MHz[^:]*: //p' /proc/cpuinfo | head -1)
idle=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo '?')
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
mitv=$(/usr/bin/python3 -c 'import mitogen; print(".".join(map(str, mitogen.__version__)))' 2>/dev/null || echo '?')
echo "spindle vs Mitogen, local contexts -- $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host:    $(nproc) CPUs, $cpu${mhz:+ (${mhz%.*} MHz)}, $mem RAM, cpuidle $idle"
echo "kernel:  $(uname -srm)"
echo "spindle: $(git -C "$top" describe --always --dirty 2>/dev/null || echo '?'), Mitogen $mitv, $(/usr/bin/python3 -V 2>&1)"
echo "runs:    $runs${quick:+ (quick)}, throughput ${mb} MiB; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ------------------------------------------------------------ baselines
# The physical ceiling for tput3: the same 4 pipes the bytes cross in
# spindle (head -> hop3 -> hop2 -> hop1 -> master), with `cat` as the relay.
pipe_mbps() {	# $1 = number of cat processes
	local cmd="head -c $((mb * 1048576)) /dev/zero" t0 t1 i
	for i in $(seq "$1"); do cmd="$cmd | cat"; done
	t0=$(date +%s%N)
	eval "$cmd" >/dev/null
	t1=$(date +%s%N)
	awk -v b=$((mb * 1048576)) -v ns=$((t1 - t0)) \
	    'BEGIN { printf "%.1f\n", b / ns * 1000 }'
}

for r in $(seq "$runs"); do
	./bench/bench-spindle $quick --only base 2>>"$out/base.err" |
	    sed 's/^/B /' >>"$out/all.txt"
	echo "B pipe3_MBps $(pipe_mbps 3) MB/s" >>"$out/all.txt"
	echo "B pipe4_MBps $(pipe_mbps 4) MB/s" >>"$out/all.txt"

	# The same pings with every process on CPU 0: no cross-CPU wakeups,
	# which on this kind of VM are the bulk of a round trip (see the doc).
	if command -v taskset >/dev/null; then
		taskset -c 0 ./bench/bench-spindle $quick --only base,ping \
		    2>>"$out/pinned.err" |
		    sed -E 's/^(base_)?(ping[0-9]+)_us/\1\2_1cpu_us/' |
		    awk '{ print ($1 ~ /^base_/ ? "B " : "S ") $0 }' \
		    >>"$out/all.txt"
	fi

	echo "run $r/$runs: spindle..." >&2
	./bench/bench-spindle $quick --mb "$mb" >"$out/spindle.$r.txt" \
	    2>"$out/spindle.$r.err" || {
		echo "run.sh: bench-spindle failed:" >&2
		cat "$out/spindle.$r.err" >&2
		exit 1
	}
	sed 's/^/S /' "$out/spindle.$r.txt" >>"$out/all.txt"
	echo "run $r: load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/load.txt"
	if [ -n "$mitogen" ]; then
		echo "run $r/$runs: Mitogen..." >&2
		python3 bench/mitogen_local.py $quick --mb "$mb" \
		    >"$out/mitogen.$r.txt" 2>"$out/mitogen.$r.err" || {
			echo "run.sh: mitogen_local.py failed:" >&2
			tail "$out/mitogen.$r.err" >&2
			exit 1
		}
		sed 's/^/M /' "$out/mitogen.$r.txt" >>"$out/all.txt"
	fi
done

# ---------------------------------------------------------------- table
# all.txt: "<S|M|B> key value unit".  Medians over runs, [min-max] if >1.
awk -v runs="$runs" '
function med(side, key,    n, i, j, t, a) {
	n = cnt[side, key]
	if (n == 0)
		return ""
	for (i = 1; i <= n; i++)
		a[i] = val[side, key, i]
	for (i = 2; i <= n; i++)	# insertion sort, n is small
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	lo[side, key] = a[1]
	hi[side, key] = a[n]
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function fmt(v) {
	if (v == "")
		return "-"
	return v >= 100 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : \
	    sprintf("%.3g", v)
}
function cell(side, key,    m) {
	m = med(side, key)
	if (m == "" || runs == 1 || lo[side, key] == hi[side, key])
		return fmt(m)
	return fmt(m) " [" fmt(lo[side, key]) "-" fmt(hi[side, key]) "]"
}
function row(label, skey, mkey, unit, target,    s, m, ratio, verdict, ok) {
	s = med("S", skey)
	m = mkey == "" ? "" : med("M", mkey)
	ratio = (s != "" && m != "" && m > 0) ? sprintf("%.3f", s / m) : "-"
	verdict = ""
	if (target != "" && s != "") {
		if (target ~ /^ratio<=/)
			ok = ratio != "-" && ratio + 0 <= substr(target, 8) + 0
		else if (target ~ /^<=/)
			ok = s + 0 <= substr(target, 3) + 0
		else
			ok = s + 0 >= substr(target, 3) + 0
		verdict = ok ? "PASS" : "MISS"
		if (target ~ /^ratio<=/ && ratio == "-")
			verdict = "n/a"
		if (target ~ /^ratio<=/)
			target = "<= " substr(target, 8) * 100 "% of Mitogen"
		else
			target = substr(target, 1, 2) " " substr(target, 3) " " unit
	}
	printf "%-32s %-5s %-19s %-19s %-8s %-22s %s\n", label, unit, \
	    cell("S", skey), mkey == "" ? "-" : cell("M", mkey), ratio, \
	    target, verdict
}
{ side = $1; key = $2; cnt[side, key]++; val[side, key, cnt[side, key]] = $3 }
END {
	printf "%-32s %-5s %-19s %-19s %-8s %-22s %s\n", "benchmark", "unit", \
	    "spindle", "Mitogen", "ratio", "target", ""
	row("50 contexts, all at once", "contexts50_s", "contexts50_s", "s", "ratio<=0.05")
	row("50 contexts, one by one", "contexts50_seq_s", "contexts50_s", "s", "ratio<=0.05")
	row("10-deep chain", "chain10_s", "chain10_s", "s", "")
	row("ping, 1 hop (median)", "ping1_us", "ping1_us", "us", "")
	row("ping, 10 hops (median)", "ping10_us", "ping10_us", "us", "<=150")
	row("ping, 1 hop, all on CPU 0", "ping1_1cpu_us", "", "us", "")
	row("ping, 10 hops, all on CPU 0", "ping10_1cpu_us", "", "us", "<=150")
	row("exec true, hop 1 (median)", "exec_true_us", "exec_true_us", "us", "")
	row("exec true + stdio streams", "exec_true_io_us", "", "us", "")
	row("throughput from hop 3", "tput3_MBps", "tput3_MBps", "MB/s", ">=600")
	row("RSS per agent, idle (median)", "rss_kib", "rss_kib", "KiB", "<=2048")
	row("RSS per agent, peak in tput3", "rss_hop_kib", "", "KiB", "<=2048")
	print ""
	print "baselines (no spindle, no Mitogen: the floor on this machine)"
	printf "  %-48s %s us\n", "ping through 1 relay process (pipes + poll)", cell("B", "base_ping1_us")
	printf "  %-48s %s us\n", "ping through 10 relay processes", cell("B", "base_ping10_us")
	printf "  %-48s %s us\n", "ping through 1 relay, all on CPU 0", cell("B", "base_ping1_1cpu_us")
	printf "  %-48s %s us\n", "ping through 10 relays, all on CPU 0", cell("B", "base_ping10_1cpu_us")
	printf "  %-48s %s MB/s\n", "head -c | cat | cat | cat > /dev/null", cell("B", "pipe3_MBps")
	printf "  %-48s %s MB/s\n", "head -c | cat x4 > /dev/null (same 4 pipes)", cell("B", "pipe4_MBps")
}' "$out/all.txt"
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$runs" -gt 1 ] && echo "spindle runs' load: $(cut -d' ' -f4 "$out/load.txt" | paste -sd' ')"
[ -n "$keep" ] && echo "raw outputs in $out"
exit 0
