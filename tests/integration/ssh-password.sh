#!/bin/sh
# ssh password authentication through a pty of spindle's, for an ssh hop
# marked for it (HOST,password): the password from a file answers ssh's
# prompt once; a wrong one and none at all fail in ssh's words; an
# unknown host key fails instead of hanging on ssh's yes/no question; the
# same password serves a later sudo hop, and each hop may have a source
# of its own.  An ssh hop not so marked never offers the route's password
# to its sshd, even when key login fails there: a password meant for a
# sudo further on stays with that sudo.
SSHD_PASSWORD_AUTH=yes
# A banner and a login shell that talk about passwords and refusals must
# not be taken for ssh's prompt or its verdict.
sshd_extra_config() {
	printf 'Password: Permission denied, please try again.\n' \
	    >"$SSHW/banner"
	chmod 644 "$SSHW/banner"
	printf 'Banner %s\n' "$SSHW/banner"
}
. "$(dirname "$0")/lib-sshd.sh"
printf 'echo "Permission denied, please try again. password:"\necho "Password:" >&2\n' \
    >>"$SSHW/home/$U_A/.bashrc"

# Keys off: only the password can get us in.
sed '/PasswordAuthentication/d' "$SSH_CFG" >"$TMPD/cfg"
printf '\tPubkeyAuthentication no\n' >>"$TMPD/cfg"
SPINDLE_SSH_ARGS="-F $TMPD/cfg"
export SPINDLE_SSH_ARGS
printf '%s\n' "$U_A_PW" >"$TMPD/pw"
printf 'not-%s\n' "$U_A_PW" >"$TMPD/bad"
H=$U_A@127.0.0.1
R=$H,password

out=$(spn run --password-file "$TMPD/pw" "$R" -- id -un 2>"$TMPD/err")
check_rc "right password" 0 $? "$TMPD/err"
check "right password: user" "$U_A" "$out"

spn run --password-file "$TMPD/bad" "$R" -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
check_rc "wrong password" 255 $? "$TMPD/err"
[ -s "$TMPD/out" ] && fail "wrong password: the command ran"
contains "$TMPD/err" "hop 1 ($R): " && contains "$TMPD/err" "Permission denied" ||
    fail "wrong password: message: $(cat "$TMPD/err")"
# ssh's last word, not the banner's first line, which mimics a refusal.
check "wrong password: message" \
    "spindle: hop 1 ($R): $U_A@127.0.0.1: Permission denied (publickey,password)." \
    "$(cat "$TMPD/err")"

spn run "$R" -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
check_rc "no password" 255 $? "$TMPD/err"
contains "$TMPD/err" "Permission denied" ||
    fail "no password: message: $(cat "$TMPD/err")"

# --ask-pass reads the terminal, once.
if command -v script >/dev/null; then
	printf '%s\n' "$U_A_PW" | SPN_CMD="$SPINDLE run --ask-pass $R -- id -un" \
	    timeout 30 script -qec 'sh -c "$SPN_CMD"' /dev/null >"$TMPD/out" 2>&1
	grep -q "^$U_A" "$TMPD/out" ||
	    fail "--ask-pass: $(cat "$TMPD/out")"
fi

# ssh with a password, then sudo with the same password under
# requiretty: the route's password serves both hops that take one.
pwsudoers=/etc/sudoers.d/spn-pw-$SFX
trap '_t=$?; rm -f "$pwsudoers"; (exit $_t); _sshd_cleanup' EXIT
printf 'Defaults:%s requiretty\n%s ALL=(%s) ALL\n' "$U_A" "$U_A" "$U_O" \
    >"$TMPD/sudoers"
visudo -cqf "$TMPD/sudoers" || fail "bad sudoers rules"
install -m 440 "$TMPD/sudoers" "$pwsudoers"
out=$(spn run --password-file "$TMPD/pw" "$R+sudo=$U_O" -- id -un 2>"$TMPD/err")
check_rc "ssh + sudo with a password, requiretty" 0 $? "$TMPD/err"
check "ssh + sudo with a password, requiretty" "$U_O" "$out"

# Each hop its own source (route grammar, and the routes file's `hop N`
# lines): they win over the route's, here a wrong one.
out=$(spn run --password-file "$TMPD/bad" --no-daemon \
    "$H,password-file=$TMPD/pw+sudo=$U_O,password-file=$TMPD/pw" -- id -un \
    2>"$TMPD/err")
check_rc "a password file per hop" 0 $? "$TMPD/err"
check "a password file per hop" "$U_O" "$out"
cat >"$TMPD/routes" <<EOF
route perhop $H,password+sudo=$U_O
    password-file $TMPD/bad
    hop 1 password-file $TMPD/pw
    hop 2 password-command cat '$TMPD/pw'
EOF
out=$(SPINDLE_ROUTES=$TMPD/routes spn run --no-daemon perhop -- id -un \
    2>"$TMPD/err")
check_rc "routes file: a source per hop" 0 $? "$TMPD/err"
check "routes file: a source per hop" "$U_O" "$out"

# Key login fails at an ssh hop not marked for passwords: the sudo
# password of the route is not offered to its sshd (whose log, at
# LogLevel VERBOSE, would show the attempt).  Marked, it logs in: the
# same check sees that password login.
pwlog() {
	grep -c "password for $U_A from" "$SSHD_LOG"
}
before=$(pwlog)
spn run --password-file "$TMPD/pw" "$H+sudo=$U_O" -- echo RAN \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "key login fails, sudo password given" 255 $? "$TMPD/err"
[ -s "$TMPD/out" ] && fail "key login fails: the command ran"
contains "$TMPD/err" "hop 1 ($H): " ||
    fail "key login fails: message: $(cat "$TMPD/err")"
sleep 0.5
check "password attempts in sshd's log, ssh hop not marked" "$before" \
    "$(pwlog)"
out=$(spn run --password-file "$TMPD/pw" "$R+sudo=$U_O" -- id -un 2>"$TMPD/err")
check_rc "marked, the same run logs in" 0 $? "$TMPD/err"
sleep 0.5
[ "$(pwlog)" -gt "$before" ] ||
    fail "sshd's log shows no password login: the check above proves nothing"

# ssh would ask yes/no about an unknown key: fail at once, say why.
sed 's|UserKnownHostsFile .*|UserKnownHostsFile /dev/null|; s|StrictHostKeyChecking yes|StrictHostKeyChecking ask|' \
    "$TMPD/cfg" >"$TMPD/cfg.ask"
SPINDLE_SSH_ARGS="-F $TMPD/cfg.ask" spn run --timeout 10 \
    --password-file "$TMPD/pw" "$R" -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
check_rc "unknown host key" 255 $? "$TMPD/err"
contains "$TMPD/err" "ssh asks to accept an unknown host key" ||
    fail "unknown host key: message: $(cat "$TMPD/err")"

# The password never shows in any process's argv or environment.
spn run --password-file "$TMPD/pw" "$R+sudo=$U_W" -- \
    sh -c 'cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null |
        tr "\0" "\n"; id -un' >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh with password + sudo" 0 $? "$TMPD/err"
check "ssh with password + sudo: user" "$U_W" "$(tail -n 1 "$TMPD/out")"
contains "$TMPD/out" "$U_A_PW" && fail "the password shows in a process"
no_world_procs 5 "after the password runs"
pass
