#!/bin/sh
# Logs and output of contexts (issue 10 points 3 and 4; LIBRARY.md B8):
# what a context and the commands it starts print, and what spn_log
# records there, reach the master's log handler line by line, tagged
# with the context and the stream, in order, and a handler slower than
# the writers holds them back rather than fill memory anywhere.
# tests/lib/output does the calls and checks what its handler got; here,
# what the default handler printed.
. "$(dirname "$0")/lib.sh"

lib_prog tests/lib/output
OUT=$PROG
T0=$(date +%s)

# case NAME: one run; its "ok" line logged, a failure fatal.
case_() {
	_t=$(date +%s)
	spn_prog 90 "$OUT" "$1" >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	sed 's/^/  /' "$TMPD/out" >&2
	check_rc "output $1" 0 "$_rc" "$TMPD/err"
	grep -q "^ok $1: " "$TMPD/out" || fail "$1: $(cat "$TMPD/out")"
	procs_left "$1"
	log "$1: $(($(date +%s) - _t)) s"
}

# 100,000 printf lines, the handler sleeping 1 ms every 100: every one
# arrives, in order, tagged; the agent's VmHWM <= 8 MiB.
case_ b8
case_ system
case_ levels
case_ discard

# A handler set takes the lines (none on stderr); reset, the default
# prints them, "[web] stdout: text", "[web] warning: text".
case_ handler
contains "$TMPD/err" "custom" &&
    fail "handler: lines of the set handler on stderr: $(cat "$TMPD/err")"
for i in 0 1 2 3 4; do
	grep -qx "\[local\] stdout: default $i" "$TMPD/err" ||
	    fail "handler: line $i not printed: $(cat "$TMPD/err")"
done
grep -qx "\[local\] warning: default-log 0" "$TMPD/err" ||
    fail "handler: the context's record: $(cat "$TMPD/err")"
grep -qx "\[master\] warning: default master" "$TMPD/err" ||
    fail "handler: the master's record: $(cat "$TMPD/err")"

# Two contexts at once, lines of 3000 bytes: each line printed whole.
case_ two
a=$(printf '%3000s' '' | tr ' ' a)
b=$(printf '%3000s' '' | tr ' ' b)
awk -v a="[local] stdout: $a" -v b="[local+local] stdout: $b" '
	/^\[/ { if ($0 == a) na++; else if ($0 == b) nb++; else bad++ }
	END { printf "%d %d %d\n", na, nb, bad }' "$TMPD/err" >"$TMPD/count"
read -r na nb bad <"$TMPD/count"
log "two: $na + $nb whole lines, $bad mixed or cut"
[ "$na" = 2000 ] && [ "$nb" = 2000 ] && [ "$bad" = 0 ] ||
    fail "two: lines mixed, cut or lost"

# A handler that calls exit(): spn_shutdown runs on the log thread.
case_ exit

log "all cases in $(($(date +%s) - T0)) s"
pass
