#!/bin/sh
# The remote command is one short word list that every login shell runs
# the same way: a user whose login shell is bash, dash, tcsh or fish gets
# an agent, and so does a hop after it.
. "$(dirname "$0")/lib-sshd.sh"
for sh in /bin/bash /bin/dash /usr/bin/tcsh /usr/bin/fish; do
	if [ ! -x "$sh" ]; then
		log "skipping $sh: not installed"
		continue
	fi
	usermod -s "$sh" "$U_O" || fail "usermod -s $sh"
	out=$(spn run "$U_O@127.0.0.1" -- sh -c 'id -un; ps -o comm= -p $PPID' \
	    2>"$TMPD/err")
	check_rc "login shell $sh" 0 $? "$TMPD/err"
	check "login shell $sh" "$U_O
spindle" "$out"
	out=$(spn run "$U_O@127.0.0.1+local" -- id -un 2>"$TMPD/err")
	check_rc "login shell $sh, then local" 0 $? "$TMPD/err"
	check "login shell $sh, then local" "$U_O" "$out"
done
command -v tcsh >/dev/null && command -v fish >/dev/null ||
    skip "tcsh or fish is not installed: only some shells were tried"
pass
