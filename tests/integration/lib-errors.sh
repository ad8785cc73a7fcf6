#!/bin/sh
# libspindle's errors come back whole (issue 9 point 7, LIBRARY.md §9 B5):
# each case of the table, run by tests/lib/errors over local routes, gives
# its code and text within a time bound, and leaves nothing running.
#
#   fail      spn_fail(ENOENT): SPN_ECALL, sys_errno, context, file:line fn
#   nofunc    an unknown function: SPN_ENOFUNC, no round trip
#   sig       "si" to an "s->" export: SPN_ESIG before sending
#   nullstr   a NULL string for an s letter: SPN_EINVAL before sending
#   results   one result for "->ss", a map short of pairs: SPN_ESIG
#   kill      kill -9 of the agent mid-call: SPN_ELOST, "killed by signal 9"
#   killhop   kill -9 of hop 1 while calling hop 3: SPN_ELOST naming hop 1
#   timeout   200 ms on a 10 s function: SPN_ETIMEDOUT, the context answers
#   cancel    spn_recv_cancel: SPN_ECANCELLED at once, the function returns
#   crash     a NULL dereference: SPN_ELOST, "Segmentation fault", "crash in"
#   exit      exit(3) in a function: SPN_ELOST "exited with status 3"
#   toolarge  a 2 MiB argument: SPN_ETOOLARGE, nothing sent
#   shutdown  a waiter and a later call: SPN_ESHUTDOWN
#   deadlk    a blocking call from an SPN_INLINE export (on the loop
#             thread): SPN_EDEADLK at once, and the context goes on
#   arch      a remote whose uname -m says aarch64: SPN_EARCH
#   auth      a wrong sudo password (root only): SPN_EAUTH, hop 2, sudo's words
#   nopass    su asking, no password given (root only): SPN_ECONNECT, hop 3,
#             and the hint names spn_connect_opts, not the command's options
. "$(dirname "$0")/lib.sh"

lib_prog tests/lib/errors
ERRORS=$PROG
failed=""

case_() {
	lib_case "$ERRORS" "$@"
}

case_ fail local
case_ nofunc local
case_ sig local
case_ nullstr local
case_ results local
case_ kill local
case_ killhop local+local+local
case_ timeout local
case_ cancel local "$TMPD/cancelled"
case_ crash local
case_ exit local
case_ toolarge local "$TMPD/big-ran"
case_ shutdown local
case_ deadlk local+local

# A "remote" whose uname -m says another architecture: stage 0 refuses.
other=aarch64
[ "$(uname -m)" = aarch64 ] && other=x86_64
mkdir "$TMPD/bin"
printf '#!/bin/sh\necho %s\n' "$other" >"$TMPD/bin/uname"
chmod +x "$TMPD/bin/uname"
opath=$PATH
PATH=$TMPD/bin:$PATH
case_ arch local "$other"
PATH=$opath

# A sudo that wants a password, under requiretty, given a wrong one:
# sudo lets it try again (spindle stops at sudo's "incorrect password"),
# or, with passwd_tries=1, gives up at once ("1 incorrect password
# attempt").
if [ "$(id -u)" = 0 ] && command -v sudo >/dev/null; then
	u="spne$(printf '%04x' $$)"
	sudoers=/etc/sudoers.d/spn-$u
	trap '_t=$?; rm -f "$sudoers"; (exit $_t); _lib_cleanup' EXIT
	user_add "$u" "pw-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
	printf 'wrong\n' >"$TMPD/bad"
	chmod 600 "$TMPD/bad"
	for tries in 3 1; do
		printf 'Defaults:%s requiretty\nDefaults:%s passwd_tries=%s\n%s ALL=(nobody) ALL\n' \
		    "$u" "$u" "$tries" "$u" >"$TMPD/sudoers"
		visudo -cqf "$TMPD/sudoers" || fail "bad sudoers rules"
		install -m 440 "$TMPD/sudoers" "$sudoers"
		case_ auth "sudo=$u+sudo=nobody" "$TMPD/bad"
		# The hop and sudo's words, as `spindle run` says them.
		want="sudo: incorrect password for $u"
		[ "$tries" = 1 ] && want="sudo: 1 incorrect password attempt"
		grep -qF "hop 2 (sudo=$u+sudo=nobody): $want" "$TMPD/out" ||
		    failed="$failed auth(passwd_tries=$tries:text)"
	done
	case_ nopass local+sudo=nobody+su=root
	grep -q -e '--ask-pass' "$TMPD/out" && failed="$failed nopass(hint)"
else
	log "case auth not run: needs root and sudo"
fi

[ -z "$failed" ] || fail "cases failed:$failed"
pass
