#!/bin/sh
# Exit status: the command's own, 128+N when it is killed by signal N, 127
# (and a message naming it) when it cannot be run, non-zero and a message
# when -C names a missing directory.
. "$(dirname "$0")/lib.sh"

for r in local local+local+local; do
	for c in 0 1 42; do
		spn run "$r" -- sh -c "exit $c" >"$TMPD/out" 2>"$TMPD/err"
		check_rc "$r: sh -c 'exit $c'" "$c" $? "$TMPD/err"
		[ -s "$TMPD/out" ] && fail "$r: exit $c: unexpected output"
		[ -s "$TMPD/err" ] && fail "$r: exit $c: unexpected stderr: $(cat "$TMPD/err")"
	done
	spn run "$r" -- sh -c 'echo out; echo err >&2; exit 3' \
	    >"$TMPD/out" 2>"$TMPD/err"
	check_rc "$r: output then exit 3" 3 $? "$TMPD/err"
	check "$r: stdout" out "$(cat "$TMPD/out")"
	check "$r: stderr" err "$(cat "$TMPD/err")"

	spn run "$r" -- sh -c 'kill -TERM $$' 2>"$TMPD/err"
	check_rc "$r: command killed by SIGTERM" 143 $? "$TMPD/err"
	spn run "$r" -- sh -c 'kill -KILL $$' 2>"$TMPD/err"
	check_rc "$r: command killed by SIGKILL" 137 $? "$TMPD/err"
	spn run "$r" -- sh -c 'kill -USR1 $$' 2>"$TMPD/err"
	check_rc "$r: command killed by SIGUSR1" 138 $? "$TMPD/err"

	spn run "$r" -- no-such-command-xyzzy 2>"$TMPD/err"
	check_rc "$r: nonexistent command" 127 $? "$TMPD/err"
	contains "$TMPD/err" no-such-command-xyzzy ||
	    fail "$r: no message naming the missing command (stderr: $(cat "$TMPD/err"))"

	spn run -C "$TMPD/no/such/dir" "$r" -- pwd >"$TMPD/out" 2>"$TMPD/err"
	rc=$?
	[ "$rc" -ne 0 ] || fail "$r: -C to a missing directory exited 0"
	case $rc in 124 | 137) fail "$r: -C missing: hung" ;; esac
	[ -s "$TMPD/out" ] && fail "$r: -C missing: the command ran anyway: $(cat "$TMPD/out")"
	contains "$TMPD/err" "$TMPD/no/such/dir" ||
	    fail "$r: -C missing: no message naming the directory (stderr: $(cat "$TMPD/err"))"
done

pass
