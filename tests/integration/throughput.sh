#!/bin/sh
# 1 GiB through 3 local hops, each way, arrives intact (sha256), and no
# process on the path (the master, every agent) ever holds more than
# 32 MiB resident: VmHWM, the peak RSS, sampled all along the transfer.
. "$(dirname "$0")/lib.sh"

command -v sha256sum >/dev/null || skip "sha256sum is not installed"
command -v base64 >/dev/null || skip "base64 is not installed"
[ "$SPN_TIMEOUT" -lt 180 ] && SPN_TIMEOUT=180

SIZE=1073741824
LIMIT_KB=32768
R=local+local+local

# Deterministic enough and fast: one random line of base64, repeated.
line=$(head -c 3000 /dev/urandom | base64 | tr -d '\n')
gen() {
	yes "$line" | head -c "$SIZE"
}

# sample: while spindle runs, every 0.2 s, "PID VmHWM-kB" of the master and
# each of its agents.
sample() {
	while alive "$MASTER"; do
		for p in $MASTER $(agents_of "$MASTER"); do
			kb=$(awk '$1 == "VmHWM:" { print $2 }' \
			    "/proc/$p/status" 2>/dev/null)
			[ -n "$kb" ] && echo "$p $kb $(args_of "$p" | cut -c1-40)"
		done
		sleep 0.2
	done
}

# check_rss WHAT SAMPLES: 4 processes seen, none above the limit.
check_rss() {
	awk -v limit="$LIMIT_KB" -v what="$1" '
	{ if ($2 > max[$1]) max[$1] = $2; name[$1] = $3 }
	END {
		for (p in max) {
			n++
			printf "%s: peak RSS %6d kB  %s (pid %s)\n", what,
			    max[p], name[p], p
			if (max[p] > limit)
				over = over " " name[p] "=" max[p] "kB"
		}
		if (n != 4) {
			printf "%s: sampled %d processes, not 4\n", what, n
			exit 1
		}
		if (over != "") {
			printf "%s: over %d kB:%s\n", what, limit, over
			exit 1
		}
	}' "$2" >&2
}

mkfifo "$TMPD/in" "$TMPD/tee" "$TMPD/out"

# Up: the master's stdin to sha256sum at hop 3.
sha256sum <"$TMPD/tee" >"$TMPD/want" &
hasher=$!
gen | tee "$TMPD/tee" >"$TMPD/in" &
track $hasher $!
t0=$(date +%s)
SPN_STDIN="$TMPD/in" spn_bg run "$R" -- sha256sum >"$TMPD/up" 2>"$TMPD/err"
sample >"$TMPD/rss.up"
wait "$BGPID"
check_rc "up: ... | spindle run $R -- sha256sum" 0 $? "$TMPD/err"
t1=$(date +%s)
wait "$hasher"
check "up: sha256 at hop 3" "$(cat "$TMPD/want")" "$(cat "$TMPD/up")"
log "up: 1 GiB in $((t1 - t0)) s"
check_rss up "$TMPD/rss.up" || fail "up: peak RSS"

# Down: hop 3's stdout to the master's.
sha256sum <"$TMPD/out" >"$TMPD/down" &
hasher=$!
track $hasher
t0=$(date +%s)
spn_bg run "$R" -- sh -c "yes '$line' | head -c $SIZE" >"$TMPD/out" \
    2>"$TMPD/err"
sample >"$TMPD/rss.down"
wait "$BGPID"
check_rc "down: spindle run $R -- GENERATOR | ..." 0 $? "$TMPD/err"
t1=$(date +%s)
wait "$hasher"
check "down: sha256 at the master" "$(cat "$TMPD/want")" "$(cat "$TMPD/down")"
log "down: 1 GiB in $((t1 - t0)) s"
check_rss down "$TMPD/rss.down" || fail "down: peak RSS"

pass
