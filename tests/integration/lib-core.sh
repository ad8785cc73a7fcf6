#!/bin/sh
# The core of libspindle (issue 9 points 6 to 8, LIBRARY.md §4): calls
# over local and local+local, async receivers, a timeout that leaves the
# context usable, cancel, spn_shutdown waking a waiter, spn_ctx_shutdown
# failing the call in flight, 100,000 calls
# within 256 KiB of master RSS, nothing left behind when main returns
# without spn_shutdown or the program is killed, spn_exec, and a dynamic
# (glibc) program whose calls say ENOTSTATIC while exec works, and a
# context calling its parent (SPN_ALLOW_ANY exports only).  In a
# sanitizer build (tools/sanitize) the master is the sanitized glibc
# build, its contexts the static one (CORE_IMAGE: spn_opts.image).
. "$(dirname "$0")/lib.sh"

lib_prog tests/lib/core
CORE=$PROG
DYN=${BUILDDIR:-$(dirname "$SPINDLE")}/tests/lib/core-glibc
[ -x "$DYN" ] || fail "$DYN is not built"
if sanitized; then
	CORE_IMAGE=$CORE
	CORE=$DYN
	export CORE_IMAGE
fi

# run NAME SECS ARGS...: the case must pass, and leave nothing behind.
run() {
	_name=$1
	_secs=$2
	shift 2
	spn_prog "$_secs" "$CORE" "$@" >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	log "$_name: $(cat "$TMPD/out")"
	check_rc "$_name" 0 "$_rc" "$TMPD/err"
	procs_left "$_name"
}

run "call local" 60 call local
run "call local+local" 60 call local+local
run "async" 60 async local
run "timeout" 60 timeout local
run "cancel" 60 cancel local
run "shutdown" 60 shutdown local+local
run "ctx shutdown" 60 ctxdown local+local
run "parent" 60 parent local
run "parent down" 60 parentdown local
# The last references (a closed receiver's, on the loop) close the route.
run "drop" 60 drop local+local
run "exec" 60 exec local
grep -qx 'status 7' "$TMPD/out" || fail "exec: $(cat "$TMPD/out")"
grep -qx 'status 127' "$TMPD/out" || fail "exec not found: $(cat "$TMPD/out")"
grep -q 'context local: spindle-no-such-command: No such file or directory$' \
    "$TMPD/err" || fail "exec not found: no reason given: $(cat "$TMPD/err")"
# A program that passed a password keeps no core file (spindle's rule).
run "password no dump" 60 pwdump local
# A password file is read on the caller's thread: one that blocks (a
# FIFO) stops that spn_connect, not the loop every context needs.
mkfifo "$TMPD/fifo" || fail mkfifo
run "password FIFO" 60 pwfifo local "$TMPD/fifo"

# B4: 100,000 sequential calls, the master's RSS growth after warm-up
# (under ASan, whose RSS says nothing, 10,000 for LeakSanitizer).
if sanitized; then
	run "soak" 900 soak local ${CORE_SOAK:-10000}
else
	run "soak" 900 soak local ${CORE_SOAK:-100000}
	growth=$(cat "$TMPD/out")
	[ "$growth" -le 256 ] ||
	    fail "100,000 calls grew the master by $growth KiB"
fi

# Out of main with a call in flight and no spn_shutdown: the context is
# gone as the program is.
spn_prog 60 "$CORE" leave local+local >"$TMPD/out" 2>"$TMPD/err"
check_rc "leave" 0 "$?" "$TMPD/err"
pid=$(cat "$TMPD/out")
[ -n "$pid" ] || fail "leave: no pid"
wait_gone "$pid" 5 || fail "leave: context $pid outlived its program"
procs_left "leave"

# Killed: no atexit runs; the link's EOF ends the contexts.
timeout -k 3 60 sh -c "$_wrap" "$TMPD/procs" "$CORE" hold local+local \
    >"$TMPD/hold" 2>"$TMPD/err" &
bg=$!
i=0
while ! grep -q . "$TMPD/hold" 2>/dev/null && [ $i -lt 200 ]; do
	sleep 0.1
	i=$((i + 1))
done
pid=$(cat "$TMPD/hold")
[ -n "$pid" ] || fail "hold: no pid ($(cat "$TMPD/err"))"
alive "$pid" || fail "hold: context $pid is not running"
kill -9 "$(last_master)"
wait "$bg"
wait_gone "$pid" 5 || fail "kill -9: context $pid outlived its program"
procs_left "kill -9"

# A dynamic program: calls are refused with the reason, exec works.
spn_prog 60 env -u CORE_IMAGE "$DYN" notstatic local >"$TMPD/out" 2>"$TMPD/err"
check_rc "notstatic" 0 "$?" "$TMPD/err"
grep -q 'not a static image: build it with spindle-cc' "$TMPD/err" ||
    fail "notstatic: $(cat "$TMPD/err")"
procs_left "notstatic"
pass
