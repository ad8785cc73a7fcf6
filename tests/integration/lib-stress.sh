#!/bin/sh
# Thread safety (issue 9 point 12, LIBRARY.md §9 B11): 8 threads calling,
# timing out, cancelling, closing receivers and gathering answers through
# selects (issue 10: nested, through the fd, freed under a waiter)
# against 10 contexts (local
# and local+local) for LIB_STRESS_SECS seconds (10).  The master is the
# glibc build of tests/lib/stress.c, the one the sanitizer builds compile
# with their flags (tools/tsan runs this test for 60 s under
# ThreadSanitizer, tools/sanitize under ASan); its contexts run the static
# build of the same file, passed as spn_opts.image.  Every outcome must be
# one the API allows, and answers, timeouts, cancels and answers through
# a select must all happen.
. "$(dirname "$0")/lib.sh"

lib_prog tests/lib/stress
IMAGE=$PROG
STRESS=${BUILDDIR:-$(dirname "$SPINDLE")}/tests/lib/stress-glibc
[ -x "$STRESS" ] || fail "$STRESS is not built"
secs=${LIB_STRESS_SECS:-10}

spn_prog $((secs * 3 + 120)) "$STRESS" "$IMAGE" "$secs" \
    >"$TMPD/out" 2>"$TMPD/err"
rc=$?
log "stress ${secs}s: $(cat "$TMPD/out")"
check_rc "stress" 0 "$rc" "$TMPD/err"
set -- $(cat "$TMPD/out")
[ "${1:-}" = ok ] && [ "${2:-0}" -gt 0 ] && [ "${4:-0}" -gt 0 ] &&
    [ "${6:-0}" -gt 0 ] && [ "${10:-0}" -gt 0 ] ||
    fail "stress: $(cat "$TMPD/out")"
procs_left "stress"

# A file that is no static image is refused at spn_init, with the reason.
spn_prog 60 "$STRESS" "$STRESS" 1 >"$TMPD/out" 2>"$TMPD/err"
check_rc "dynamic image" 1 "$?" "$TMPD/err"
grep -q "image $STRESS: dynamically linked" "$TMPD/err" ||
    fail "dynamic image: $(cat "$TMPD/err")"
pass
