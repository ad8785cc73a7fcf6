#!/bin/sh
# Selects (issue 10 point 1, LIBRARY.md §4.3): tests/lib/select on 10
# local contexts: 100 calls gathered through a ONESHOT select (each answer
# once, then ECLOSED), arrival order across receivers and nested selects,
# EBUSY and loops refused, a timeout, a cancel and a closed receiver seen
# through the select, spn_select_free while a thread waits, the fd in the
# program's own poll loop (and, in the glibc build, its own libevent
# loop), EDEADLK on the loop thread, a killed context failing its own
# receivers only (ELOST), and spn_shutdown waking a waiter.
. "$(dirname "$0")/lib.sh"

lib_prog tests/lib/select
SEL=$PROG
DYN=${BUILDDIR:-$(dirname "$SPINDLE")}/tests/lib/select-glibc
[ -x "$DYN" ] || fail "$DYN is not built"
start=$(date +%s)

# run NAME PROG ARGS...: the case must pass, and leave nothing behind.
run() {
	_name=$1
	shift
	spn_prog 60 "$@" >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	sed "s/^/  $_name: /" "$TMPD/out" >&2
	check_rc "$_name" 0 "$_rc" "$TMPD/err"
	procs_left "$_name"
}

run static "$SEL" all
run shutdown "$SEL" shutdown
# The glibc build (the one tools/tsan and tools/sanitize compile) sends
# the static one to its contexts.
SELECT_IMAGE=$SEL
export SELECT_IMAGE
run glibc "$DYN" all
grep -q '^libevent: 20 answers' "$TMPD/out" ||
    fail "glibc: no libevent case: $(cat "$TMPD/out")"
log "took $(($(date +%s) - start)) s"
pass
