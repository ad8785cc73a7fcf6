#!/bin/sh
# A context's death reaches the contexts that talked with it (GONE,
# docs/protocol.md "Disconnect propagation"): A calls its sibling B's
# SPN_ALLOW_ANY export, which sleeps; B's agent is killed with SIGKILL,
# and A's call ends with SPN_ELOST naming B within 2 s, whether A and B
# are children of the master or each below a hop of its own (the GONE
# then goes master -> A's hop -> A).  A hostile context that says its
# siblings died (a GONE, which only a parent may send) is cut off and
# changes nothing.  When A dies instead, B's function is cancelled.
# spn_ctx_shutdown's grace: a call in flight answers
# within it, none starts, the context goes; past it, SPN_ELOST.
. "$(dirname "$0")/lib.sh"
HOSTILE=${BUILDDIR:-$(dirname "$SPINDLE")}/tests/integration/hostile-ssh
[ -x "$HOSTILE" ] || fail "no $HOSTILE (make check builds it)"
lib_prog tests/lib/gone
GONE=$PROG
T0=$(date +%s)

# elost WHAT: the ELOST line of $TMPD/out within 2 s, naming B's hop and
# its signal.
elost() {
	_ms=$(awk '$1 == "elost" { sub(":", "", $2); print $2 }' "$TMPD/out")
	[ -n "$_ms" ] || fail "$1: no ELOST: $(cat "$TMPD/out" "$TMPD/err")"
	[ "$_ms" -le 2000 ] || fail "$1: ELOST after $_ms ms (over 2 s)"
	contains "$TMPD/out" "signal 9" ||
	    fail "$1: the error does not say B was killed: $(cat "$TMPD/out")"
	log "$1: A's call ended with ELOST $_ms ms after B was killed"
}

prog_run siblings "$GONE" sibling local local
check_rc "siblings" 0 $? "$TMPD/err"
elost siblings
procs_left siblings

prog_run subtrees "$GONE" sibling local+local local+local
check_rc "subtrees" 0 $? "$TMPD/err"
elost subtrees
contains "$TMPD/out" "hop 2 (local+local)" ||
    fail "subtrees: B's hop not named: $(cat "$TMPD/out")"
procs_left subtrees

# The other way: A dies while its call runs in B, whose function sees
# spn_cancelled() (its caller is gone, nobody wants the answer).
prog_run caller "$GONE" caller local local
check_rc "caller" 0 $? "$TMPD/err"
_ms=$(awk '$1 == "cancelled" { print $2 }' "$TMPD/out")
[ -n "$_ms" ] && [ "$_ms" -le 2000 ] ||
    fail "caller: B's function not cancelled within 2 s: $(cat "$TMPD/out")"
log "caller: B's function cancelled $_ms ms after A was killed"
procs_left caller

prog_run grace "$GONE" grace local
check_rc "grace" 0 $? "$TMPD/err"
procs_left grace

mkdir "$TMPD/bin" && ln -s "$HOSTILE" "$TMPD/bin/ssh" || fail "mkdir"
export PATH="$TMPD/bin:$PATH"
prog_run hostile "$GONE" sibling local local gone-sibling
check_rc "hostile" 0 $? "$TMPD/err"
contains "$TMPD/out" "answered" || fail "hostile: $(cat "$TMPD/out")"
contains "$TMPD/err" "sent a GONE, which only a parent sends" ||
    fail "hostile: not cut off: $(cat "$TMPD/err")"
procs_left hostile

log "took $(( $(date +%s) - T0 )) s"
pass
