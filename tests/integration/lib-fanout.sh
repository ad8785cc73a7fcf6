#!/bin/sh
# Fan-out (issue 10 point 6, tests/lib/fanout.c): 200 local contexts at
# once with spn_connect_many and spn_call_many, started under a soft fd
# limit they would pass (4 fds each in the master) and that is raised;
# errors of their own for a bad route, a failing hop, a killed context
# and calls past their timeout; and a tree: 20 contexts behind one bastion context
# (spn_connect_from), where one call of a ~1 MiB argument to the bastion,
# which calls all 20 there, writes about 1 MiB on the bastion's link
# against 20 MiB for 20 calls from the master.  Times and bytes measured
# are logged.
. "$(dirname "$0")/lib.sh"

lib_prog tests/lib/fanout
FAN=$PROG

# run NAME ARGS...: the case must pass within 50 s, and leave nothing.
run() {
	_name=$1
	shift
	spn_prog 50 "$FAN" "$@" >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	log "$_name: $(cat "$TMPD/out")"
	check_rc "$_name" 0 "$_rc" "$TMPD/err"
	procs_left "$_name"
}

# 800 fds for 200 contexts: a soft limit of 256 is raised (toward the
# hard one, which stays), else the 60th context would fail.
hard=$(ulimit -H -n)
[ "$hard" = unlimited ] || [ "$hard" -ge 1200 ] ||
    skip "the hard fd limit is $hard, 200 contexts need about 1000"
t0=$(date +%s)
(ulimit -S -n 256 && run "200 contexts" many 200) || exit 1
grep -q '^soft fd limit 256 before, [0-9]* after' "$TMPD/out" ||
    fail "200 contexts: $(cat "$TMPD/out")"
after=$(sed -n 's/^soft fd limit 256 before, \([0-9]*\) after.*/\1/p' \
    "$TMPD/out")
[ "$after" -gt 800 ] || fail "200 contexts: the soft limit is $after"
log "200 contexts: $(($(date +%s) - t0)) s in all"

run "per-context errors" errors
grep -q 'hop 2 (local+su=nosuchuser_fanout)' "$TMPD/err" ||
    fail "errors: $(cat "$TMPD/err")"
grep -q 'context local: no answer within 300 ms' "$TMPD/err" ||
    fail "errors: a call past its timeout: $(cat "$TMPD/err")"
# Its call is lost in flight, or finds its route gone already.
grep -Eq 'context local: (.*agent killed by signal 9|no route to that context)' \
    "$TMPD/err" || fail "errors: the killed context: $(cat "$TMPD/err")"

# The argument is 1 MiB less 4 KiB: a call's frame (1 MiB) holds it with
# the 20 contexts it names.
run "tree fan-out" tree 20 1044480
pass
