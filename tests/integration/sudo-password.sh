#!/bin/sh
# sudo hops that need a password, on a pty, under `Defaults requiretty`:
# the password comes from a file, an fd, never argv; a wrong one fails at
# the first "try again"; none at all fails at once; a lecture on the tty
# full of "password" and "Permission denied" does not fool the prompt
# detection; the password shows in no log, argv or environment.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (creates a user and sudoers rules)"
command -v sudo >/dev/null || skip "sudo is not installed"

u="spnp$(printf '%04x' $$)"
v="spnq$(printf '%04x' $$)"	# in no sudoers rule
pw="pw-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
sudoers=/etc/sudoers.d/spn-$u
trap '_t=$?; rm -f "$sudoers"; (exit $_t); _lib_cleanup' EXIT
user_add "$u" "$pw"
user_add "$v" "$pw"
printf 'Lecture: your password, Permission denied, Password:\n' \
    >"$TMPD/lecture"
chmod 644 "$TMPD/lecture"
chmod 755 "$TMPD"
cat >"$TMPD/sudoers" <<EOS
Defaults:$u requiretty, lecture=always, lecture_file=$TMPD/lecture
Defaults:$u passwd_tries=3
$u ALL=(nobody) ALL
EOS
visudo -cqf "$TMPD/sudoers" || fail "bad sudoers rules"
install -m 440 "$TMPD/sudoers" "$sudoers"
printf '%s\n' "$pw" >"$TMPD/pw"
printf 'wrong-%s\n' "$pw" >"$TMPD/bad"
chmod 600 "$TMPD/pw" "$TMPD/bad"
r="sudo=$u+sudo=nobody"

# Right password, from a file and from an fd; requiretty is satisfied.
out=$(spn run --password-file "$TMPD/pw" "$r" -- id -un 2>"$TMPD/err")
check_rc "password file" 0 $? "$TMPD/err"
check "password file: user" nobody "$out"
out=$(spn run --password-fd 3 "$r" -- id -un 3<"$TMPD/pw" 2>"$TMPD/err")
check_rc "password fd" 0 $? "$TMPD/err"
check "password fd: user" nobody "$out"

# Wrong password: one try, then a clear error naming user and hop.
t0=$(date +%s)
spn run --password-file "$TMPD/bad" "$r" -- id -un >"$TMPD/out" 2>"$TMPD/err"
check_rc "wrong password" 255 $? "$TMPD/err"
t1=$(date +%s)
contains "$TMPD/err" "hop 2 ($r): sudo: incorrect password for $u" ||
    fail "wrong password: message is: $(cat "$TMPD/err")"
[ $((t1 - t0)) -lt 6 ] ||
    fail "wrong password took $((t1 - t0)) s: sudo was let retry"
[ -s "$TMPD/out" ] && fail "wrong password: the command ran"

# No password given: sudo's own refusal at once, and how to give one.
spn run "$r" -- id -un >"$TMPD/out" 2>"$TMPD/err"
check_rc "no password" 255 $? "$TMPD/err"
contains "$TMPD/err" "hop 2 ($r): sudo: a password is required (give it with --ask-pass" ||
    fail "no password: message is: $(cat "$TMPD/err")"

# Refusals: all spindle says is the hop and sudo's first line, not what
# follows it.
P="--password-file $TMPD/pw"
# A typo in the user: sudo says so, then that its audit plugin failed.
hop_says "unknown user" "sudo=x$u" 1 "sudo: unknown user x$u"
hop_says "unknown user, with a password" "sudo=$u+sudo=x$u" 2 \
    "sudo: unknown user x$u" $P
host=$(hostname)
hop_says "not allowed" "sudo=$u+sudo=root" 2 \
    "Sorry, user $u is not allowed to execute '/bin/sh -c read -r L;eval \"\${L}\"' as root on ${host%%.*}." $P
hop_says "not in sudoers" "sudo=$v+sudo=nobody" 2 \
    "$v is not in the sudoers file." $P
# Without CAP_AUDIT_WRITE (in a container, say) sudo first warns that it
# cannot send its audit message: the reason is the line after.
if command -v setpriv >/dev/null; then
	printf '#!/bin/sh\nexec setpriv --bounding-set -audit_write %s "$@"\n' \
	    "$SPINDLE" >"$TMPD/noaudit"
	chmod 755 "$TMPD/noaudit"
	"$TMPD/noaudit" -v run --no-daemon "sudo=$u" -- true 2>"$TMPD/err"
	contains "$TMPD/err" "sudo: unable to send audit message" ||
	    log "(this sudo does not warn without CAP_AUDIT_WRITE)"
	SPINDLE=$TMPD/noaudit hop_says "not in sudoers, no audit" \
	    "sudo=$v+sudo=nobody" 2 "$v is not in the sudoers file." $P
fi
# An expired account: PAM's account check, then "a password is required".
account_says expired "$u" "expired account" "$r" 2 \
    "sudo: account validation failure, is your account locked?" $P
# A locked one: no password is right.
account_says locked "$u" "locked account" "$r" 2 \
    "sudo: incorrect password for $u" $P

# Never logged, never in argv or the environment of any process.
spn -vv run --password-file "$TMPD/pw" "$r" -- \
    sh -c 'cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null |
        tr "\0" "\n"' >"$TMPD/out" 2>"$TMPD/err"
check_rc "verbose run" 0 $? "$TMPD/err"
contains "$TMPD/err" "$pw" && fail "the password appears in spindle's log"
contains "$TMPD/out" "$pw" &&
    fail "the password appears in some process's argv or environment"
procs=$(tree_of "$(last_master)" orphans)
[ -z "$procs" ] || wait_gone $procs 5 ||
    fail "processes left behind"
pass
