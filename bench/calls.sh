#!/bin/sh
# libspindle calls side by side with spindle's own ping and Mitogen's
# call(os.getpid), in one run, with ratios against the issue's goals.
# docs/performance.md records the results.
#	bench/calls.sh [--quick] [RUNS]	(RUNS rounds, alternating; default 3)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
quick=
[ "${1:-}" = --quick ] && { quick=--quick; shift; }
runs=${1:-3}
make -s bench >/dev/null || { echo "calls.sh: make bench failed" >&2; exit 1; }
. "$top/bench/lib.sh"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for r in $(seq "$runs"); do
	bench/bench-spindle $quick --only ping >>"$out/ping" 2>/dev/null
	bench/bench-lib $quick >>"$out/lib" 2>>"$out/lib.err" ||
	    { cat "$out/lib.err" >&2; exit 1; }
	/usr/bin/python3 bench/mitogen_calls.py $quick >>"$out/mito" 2>/dev/null
done
# med FILE KEY: the median of KEY's values over the runs.
med() {
	awk -v k="$2" '$1 == k { print $2 }' "$out/$1" | sort -n |
	    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'
}
row() { printf '%-30s %10s %10s %10s  %s\n' "$@"; }
p1=$(med ping ping1_us) p10=$(med ping ping10_us)
c1=$(med lib call1_us) c10=$(med lib call10_us)
m1=$(med mito call1_us) m10=$(med mito call10_us)
echo "libspindle calls, $(date -u '+%F %H:%M UTC'), $(nproc) cores, $(uname -r), median of $runs${quick:+ (quick)}"
echo "spindle $(git describe --always --dirty 2>/dev/null), Mitogen $(/usr/bin/python3 -c 'import mitogen; print(".".join(map(str, mitogen.__version__)))' 2>/dev/null)"
echo
row "" spindle "its ping" Mitogen "goal: result"
row "call RTT hop 1 (us)" "$c1" "$p1" "$m1" \
    "<= ping+30: $(awk -v c="$c1" -v p="$p1" 'BEGIN { print (c <= p + 30) ? "yes" : "NO" }'), $(ratio "$c1" "$m1") x Mitogen (<= 0.2)"
row "call RTT hop 10 (us)" "$c10" "$p10" "$m10" \
    "<= ping+40: $(awk -v c="$c10" -v p="$p10" 'BEGIN { print (c <= p + 40) ? "yes" : "NO" }'), $(ratio "$c10" "$m10") x Mitogen (<= 0.2)"
row "call RTT hop 1, SPN_INLINE (us)" "$(med lib call1_inline_us)" "$p1" "$m1" \
    "<= ping+15: $(awk -v c="$(med lib call1_inline_us)" -v p="$p1" 'BEGIN { print (c <= p + 15) ? "yes" : "NO" }')"
row "call RTT hop 10, SPN_INLINE (us)" "$(med lib call10_inline_us)" "$p10" "$m10" ""
for k in calls_per_s gather_per_s; do
	s=$(med lib $k) m=$(med mito $k)
	row "$k" "$s" "" "$m" "$(ratio "$s" "$m") x Mitogen (>= 5; calls_per_s >= 20000)"
done
row "calls_per_s, SPN_INLINE" "$(med lib calls_inline_per_s)" "" "$(med mito calls_per_s)" \
    "$(ratio "$(med lib calls_inline_per_s)" "$(med mito calls_per_s)") x Mitogen"
row "master RSS growth, 100k calls" "$(med lib rss_growth_100k_kib) KiB" "" \
    "$(med mito rss_growth_100k_kib) KiB" "<= 256 KiB"
