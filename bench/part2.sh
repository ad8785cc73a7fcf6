#!/bin/sh
# libspindle part 2 (issue 10) side by side with Mitogen, in one run:
# gather rounds, channel throughput, log and output line rates, fan-out
# bytes on a bastion link; ratios against the issue's goals.
# docs/performance.md records the results.
#	bench/part2.sh [--quick] [RUNS]	(RUNS rounds, alternating; default 1)
# On a machine shared with other work, docs/performance.md ran it as
#	(echo -10 >/proc/self/autogroup; sh bench/part2.sh)
# (root: this session's processes, both sides alike, ahead of others').
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
quick=
[ "${1:-}" = --quick ] && { quick=--quick; shift; }
runs=${1:-1}
make -s bench >/dev/null || { echo "part2.sh: make bench failed" >&2; exit 1; }
. "$top/bench/lib.sh"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for r in $(seq "$runs"); do
	echo "run $r: $(uptime)" >>"$out/load"
	bench/bench-part2 $quick >>"$out/spn" 2>>"$out/spn.err" ||
	    { cat "$out/spn.err" >&2; exit 1; }
	/usr/bin/python3 bench/mitogen_part2.py $quick >>"$out/mito" \
	    2>>"$out/mito.err" || { tail "$out/mito.err" >&2; exit 1; }
done
# med FILE KEY: the median of KEY's values over the runs, or "-".
med() {
	awk -v k="$2" '$1 == k { print $2 }' "$out/$1" | sort -n |
	    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'
}
# vs SPINDLE MITOGEN: "N.NN x", or "-" when either is missing.
vs() {
	case "$1$2" in *-*) echo "-" ;; *) echo "$(ratio "$1" "$2") x" ;; esac
}
row() { printf '%-34s %12s %12s %9s  %s\n' "$@"; }
echo "libspindle part 2, $(date -u '+%F %H:%M UTC'), $(nproc) cores, $(uname -r), median of $runs${quick:+ (quick)}"
echo "spindle $(git describe --always --dirty 2>/dev/null), Mitogen $(/usr/bin/python3 -c 'import mitogen; print(".".join(map(str, mitogen.__version__)))' 2>/dev/null)"
cat "$out/load"
# A shared machine's other sessions get the CPU by autogroup, not by
# process: "nice -10" here says this run was given more than its share.
echo "scheduling: $(cat /proc/self/autogroup 2>/dev/null || echo 'no autogroup')"
echo
row "" spindle Mitogen ratio "goal"
m=$(med mito gather_per_s)
for k in gather_per_s gather_select_per_s gather_inline_per_s; do
	s=$(med spn $k)
	row "$k (calls/s)" "$s" "$m" "$(vs "$s" "$m")" \
	    ">= 5 x: $(awk -v s="$s" -v m="$m" 'BEGIN { print (s != "-" && m != "-" && s >= 5 * m) ? "met" : "missed" }')"
done
for k in gather_cs_master gather_cs_context gather_cs_context_forced; do
	row "$k (per call)" "$(med spn $k)" "" "" ""
done
for k in chan_small_msgs_per_s chan_64k_mb_per_s chan_64k_msgs_per_s \
    log_lines_per_s stdio_lines_per_s; do
	s=$(med spn $k) m=$(med mito $k)
	row "$k" "$s" "$m" "$(vs "$s" "$m")" ""
done
s=$(med spn fanout_tree_link_kib) f=$(med spn fanout_flat_link_kib)
m=$(med mito fanout_link_kib)
row "fanout_link_kib, tree (KiB)" "$s" "$m" "$(vs "$s" "$m")" \
    "<= 1229 (1.2 MiB): $(awk -v s="$s" 'BEGIN { print (s != "-" && s <= 1229) ? "met" : "missed" }')"
row "fanout_link_kib, flat (KiB)" "$f" "$m" "$(vs "$f" "$m")" ""
