#!/bin/sh
# The library reaps only its own children (issue 9 point 2, LIBRARY.md §9
# B13): 1000 system("exit 3") all return 3 in the master while another
# thread starts and ends contexts (children of the library there), and in
# a remote function while the master runs EXECs in the same context
# (children of the agent there).  Before pidfd reaping, the loop thread's
# waitpid(-1) took about two thirds of them.
. "$(dirname "$0")/lib.sh"

lib_prog tests/lib/reap
REAP=$PROG

for side in master remote; do
	spn_prog 300 "$REAP" "$side" local 1000 >"$TMPD/out" 2>"$TMPD/err"
	rc=$?
	log "$(cat "$TMPD/out")"
	check_rc "reap $side local 1000" 0 "$rc" "$TMPD/err"
	grep -q "^$side: 1000/1000 returned 3 " "$TMPD/out" ||
	    fail "reap $side: $(cat "$TMPD/out")"
	procs_left "reap $side"
done
pass
