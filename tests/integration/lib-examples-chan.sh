#!/bin/sh
# The channel examples (issue 10 point 7) over local routes:
#
#   tail-log  follows a file in a context: its lines, then a line appended
#             there shows up here within 1.5 s; SIGINT (handled by the
#             program) closes the receiver and ends the remote loop
#   ping-pong two siblings pass numbers through senders given to each
#             other; when one is killed the other hears of it (SPN_ELOST)
. "$(dirname "$0")/lib.sh"

lib_prog examples/tail-log
lib_prog examples/ping-pong
EX=${PROG%/*}
start=$(date +%s)

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# tail-log: what is there, then what is added.
printf 'one\ntwo\n' >"$TMPD/log"
spindle=$SPINDLE
SPINDLE=$EX/tail-log
SPN_TIMEOUT=40
spn_bg local "$TMPD/log" >"$TMPD/out" 2>"$TMPD/err"
SPINDLE=$spindle
i=0
until grep -qx two "$TMPD/out"; do
	[ $i -lt 200 ] || fail "tail-log: no lines after 10 s: $(cat "$TMPD/out" "$TMPD/err")"
	sleep 0.05
	i=$((i + 1))
done
for n in 1 2 3; do
	line="appended $n $$"
	t0=$(now_ms)
	echo "$line" >>"$TMPD/log"
	until grep -qx "$line" "$TMPD/out"; do
		[ $(($(now_ms) - t0)) -lt 5000 ] ||
		    fail "tail-log: '$line' did not show up in 5 s"
		sleep 0.02
	done
	ms=$(($(now_ms) - t0))
	log "tail-log: '$line' showed up after $ms ms"
	[ "$ms" -le 1500 ] || fail "tail-log: '$line' took $ms ms (over 1.5 s)"
	sleep 0.3
done
# A line without its newline yet waits for it.
printf 'half' >>"$TMPD/log"
sleep 0.5
grep -q half "$TMPD/out" && fail "tail-log: printed a line before its end"
printf ' line\n' >>"$TMPD/log"
t0=$(now_ms)
until grep -qx "half line" "$TMPD/out"; do
	[ $(($(now_ms) - t0)) -lt 5000 ] || fail "tail-log: 'half line' never came"
	sleep 0.02
done
t0=$(now_ms)
kill -INT "$MASTER"
wait "$BGPID"
rc=$?
log "tail-log: exit status $rc $(($(now_ms) - t0)) ms after SIGINT"
[ "$rc" = 0 ] || fail "tail-log after SIGINT: exit status $rc: $(cat "$TMPD/err")"
grep -q "tail-log: the remote loop ended" "$TMPD/err" ||
    fail "tail-log: the remote loop did not end: $(cat "$TMPD/err")"
check "tail-log: lines" 6 "$(wc -l <"$TMPD/out")"
procs_left "tail-log"

# ping-pong: 100 passes between two local siblings, then between a
# grandchild and a child; each got its half.
for r in "local local" "local+local local"; do
	prog_run ping-pong "$EX/ping-pong" -n 100 $r
	check_rc "ping-pong $r" 0 $? "$TMPD/err"
	grep -q "^context 1 (${r% *}): got 50 numbers, the last 99$" "$TMPD/out" &&
	    grep -q "^context 2 (${r#* }): got 51 numbers, the last 100$" "$TMPD/out" ||
	    fail "ping-pong $r: $(cat "$TMPD/out")"
	procs_left "ping-pong $r"
done
# The context that gets 30 dies: the other's wait ends, naming it.
t0=$(now_ms)
prog_run ping-pong "$EX/ping-pong" -n 100 -k 30
rc=$?
ms=$(($(now_ms) - t0))
check_rc "ping-pong -k 30" 1 $rc "$TMPD/err"
log "ping-pong -k 30: over in $ms ms"
grep -q "^context 1 (local): after 15 numbers: hop 1 (local): agent killed by signal 9" \
    "$TMPD/out" || fail "ping-pong -k 30: $(cat "$TMPD/out")"
[ "$ms" -le 10000 ] || fail "ping-pong -k 30: took $ms ms"
procs_left "ping-pong -k 30"

log "took $(($(date +%s) - start)) s"
pass
