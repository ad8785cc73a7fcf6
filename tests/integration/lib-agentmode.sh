#!/bin/sh
# Agent mode (issue 9 point 3): in a copy of a libspindle program started
# by spindle, the link is off fds 0 and 1 before any export runs (fd 0
# /dev/null, fds 1 and 2 pipes), what the functions print reaches the
# master as lines tagged with the context and the stream, a printf
# flood neither corrupts the link nor loses a line, a hung function
# stops neither other calls nor pings, a crash at hop 2 comes back with
# the signal and the function, and a program is an agent only
# when spindle started it (tests/lib/agentmode does the calls).
. "$(dirname "$0")/lib.sh"

lib_prog tests/lib/agentmode
AM=$PROG

# case NAME ROUTE: one run; its "ok" line logged, a failure fatal.
case_() {
	spn_prog 240 "$AM" "$1" "$2" >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	sed 's/^/  /' "$TMPD/out" >&2
	check_rc "agentmode $1 $2" 0 "$_rc" "$TMPD/err"
	grep -q "^ok $1: " "$TMPD/out" || fail "$1: $(cat "$TMPD/out")"
	procs_left "$1"
}

case_ stdio local
for i in 0 1 2; do
	grep -qx "\[local\] stdout: hello $i" "$TMPD/err" ||
	    fail "stdio: line $i of stdout not logged: $(cat "$TMPD/err")"
done
grep -qx "\[local\] stderr: hello on stderr" "$TMPD/err" ||
    fail "stdio: the stderr line not logged: $(cat "$TMPD/err")"

case_ stdio local+local
grep -qx "\[local+local\] stdout: hello 2" "$TMPD/err" ||
    fail "stdio at hop 2: not logged: $(cat "$TMPD/err")"

# Output is a credit stream: no frame of the flood may reach the link
# itself (the calls after it would fail), and no line is dropped.
case_ flood local
n=$(awk '$0 == "[local] stdout: flood " (e + 0) { e++ } END { print e + 0 }' \
    "$TMPD/err")
[ "$n" = 100000 ] || fail "flood: $n of 100000 lines in order"
grep -q "dropped\|dropping" "$TMPD/err" && fail "flood: records dropped"

case_ hung local
case_ crash local+local
grep -q "hop 2 (local+local): agent killed by signal 11" "$TMPD/out" ||
    fail "crash at hop 2: $(cat "$TMPD/out")"

# Not an agent by accident: named spindle:..., SPN_G set, but fd 0 is
# not a pipe; or fd 0 a pipe but no SPN_G.  spn_init() returns.
command -v perl >/dev/null || skip "no perl to exec under another argv[0]"
out=$(SPN_G=x perl -e 'exec { $ARGV[0] } "spindle:x"' "$AM" </dev/null 2>&1)
[ "$out" = master ] || fail "spindle:x with SPN_G and stdin /dev/null: $out"
out=$(echo | env -u SPN_G perl -e 'exec { $ARGV[0] } "spindle:x"' "$AM" 2>&1)
[ "$out" = master ] || fail "spindle:x on a pipe without SPN_G: $out"
out=$(echo | SPN_G=x perl -e 'exec { $ARGV[0] } "spindle:x", "y"' "$AM" \
    2>&1)
[ "$out" != "" ] || fail "spindle:x with an argument hung or said nothing"

# Nor in a set-user-ID program: whoever runs it chooses argv[0], the
# environment and stdin, and an agent runs the exports and commands its
# link asks for, with the program's privileges.  Run by nobody, a
# set-user-ID-root copy is a master, however it is named.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	SUID=$(mktemp -d /tmp/spindle-suid.XXXXXX) || fail mktemp
	chmod 755 "$SUID"
	cp "$AM" "$SUID/am" && chmod 4755 "$SUID/am" || fail "setuid copy"
	out=$(echo | SPN_G=x setpriv --reuid=65534 --regid=65534 \
	    --clear-groups perl -e 'exec { $ARGV[0] } "spindle:x"' \
	    "$SUID/am" 2>&1)
	rm -rf "$SUID"
	[ "$out" = master ] ||
	    fail "set-user-ID, run as spindle:x with SPN_G on a pipe: '$out'"
else
	log "not root (or no setpriv): set-user-ID case skipped"
fi
pass
