#!/bin/sh
# Where run starts its command, as sshd starts a session: in the home of
# the user the last hop runs as (not the directory the agent inherited:
# sudo's caller's), a relative -C from there, an absolute -C as given; a
# home that does not exist leaves it in / with sshd's message.  A -C that
# cannot be entered says so and exits 125 (as env -C does), not 127 as a
# missing command.  Both with spindle alone and through a daemon.
. "$(dirname "$0")/lib-sshd.sh"

R=$U_A@127.0.0.1+sudo=$U_W
WHOME=$SSHW/home/$U_W
mkdir -p "$WHOME/sub" && chown "$U_W:" "$WHOME/sub" || fail "mkdir sub"

places() {
	out=$(spn run $1 "$R" -- pwd 2>"$TMPD/err")
	check_rc "$2: run $R -- pwd" 0 $? "$TMPD/err"
	check "$2: run $R -- pwd" "$WHOME" "$out"
	[ -s "$TMPD/err" ] && fail "$2: run $R -- pwd: stderr: $(cat "$TMPD/err")"
	out=$(spn run $1 -t "$R" -- pwd </dev/null 2>"$TMPD/err" | tr -d '\r')
	check "$2: run -t $R -- pwd" "$WHOME" "$out"
	out=$(spn run $1 -C /tmp "$R" -- pwd 2>"$TMPD/err")
	check_rc "$2: run -C /tmp" 0 $? "$TMPD/err"
	check "$2: run -C /tmp" /tmp "$out"
	out=$(spn run $1 -C sub "$R" -- pwd 2>"$TMPD/err")
	check_rc "$2: run -C sub" 0 $? "$TMPD/err"
	check "$2: run -C sub (from the home)" "$WHOME/sub" "$out"
	out=$(spn run $1 "$U_A@127.0.0.1" -- pwd 2>"$TMPD/err")
	check "$2: run $U_A@127.0.0.1 -- pwd" "$SSHW/home/$U_A" "$out"

	spn run $1 -C /nonexistent "$R" -- pwd >"$TMPD/out" 2>"$TMPD/err"
	check_rc "$2: run -C /nonexistent" 125 $? "$TMPD/err"
	check "$2: run -C /nonexistent says" \
	    "spindle: cannot change to /nonexistent: No such file or directory" \
	    "$(cat "$TMPD/err")"
	[ -s "$TMPD/out" ] && fail "$2: -C /nonexistent ran pwd"
	spn run $1 -C /etc/passwd "$R" -- pwd 2>"$TMPD/err"
	check_rc "$2: run -C /etc/passwd" 125 $? "$TMPD/err"
	check "$2: run -C /etc/passwd says" \
	    "spindle: cannot change to /etc/passwd: Not a directory" \
	    "$(cat "$TMPD/err")"
	spn run $1 "$R" -- no-such-command-here 2>"$TMPD/err"
	check_rc "$2: a missing command" 127 $? "$TMPD/err"
	check "$2: a missing command says" \
	    "spindle: no-such-command-here: No such file or directory" \
	    "$(cat "$TMPD/err")"

	# A home that is not there: / and sshd's words, on stderr.
	mv "$WHOME" "$WHOME.away" || fail "mv $WHOME"
	out=$(spn run $1 "$R" -- pwd 2>"$TMPD/err")
	_rc=$?
	mv "$WHOME.away" "$WHOME" || fail "mv $WHOME back"
	check_rc "$2: run (home gone)" 0 "$_rc" "$TMPD/err"
	check "$2: run (home gone) -- pwd" / "$out"
	check "$2: run (home gone) says" \
	    "Could not chdir to home directory $WHOME: No such file or directory" \
	    "$(cat "$TMPD/err")"
}

places --no-daemon alone
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
spn daemon start >/dev/null || fail "daemon start"
places "" daemon
spn ls | grep -Eq "^$(echo "$R" | sed 's/[.+]/\\&/g')  *up " ||
    fail "the daemon did not run them: $(spn ls)"
timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
no_world_procs 5 "the runs above"
pass
