# Shared by the shell benchmarks (sourced): timing and ratio helpers.

# median_ms N CMD...: median wall time of N runs, in ms.
median_ms() {
	_n=$1
	shift
	for _i in $(seq "$_n"); do
		_t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 </dev/null
		_t1=$(date +%s%N)
		echo $(((_t1 - _t0) / 1000))
	done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] / 1000 }'
}

# ratio A B: A / B, two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
