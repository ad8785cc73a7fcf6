#!/bin/sh
# ssh password authentication through a pty of spindle's: the password
# from a file answers ssh's prompt once; a wrong one and none at all fail
# in ssh's words; an unknown host key fails instead of hanging on ssh's
# yes/no question; the same password serves a later sudo hop.
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
R=$U_A@127.0.0.1

out=$(spn run --password-file "$TMPD/pw" "$R" -- id -un 2>"$TMPD/err")
check_rc "right password" 0 $? "$TMPD/err"
check "right password: user" "$U_A" "$out"

spn run --password-file "$TMPD/bad" "$R" -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
check_rc "wrong password" 255 $? "$TMPD/err"
[ -s "$TMPD/out" ] && fail "wrong password: the command ran"
contains "$TMPD/err" "hop 1 ($R): " && contains "$TMPD/err" "Permission denied" ||
    fail "wrong password: message: $(cat "$TMPD/err")"

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
# requiretty: one password per route.
pwsudoers=/etc/sudoers.d/spn-pw-$SFX
trap '_t=$?; rm -f "$pwsudoers"; (exit $_t); _sshd_cleanup' EXIT
printf 'Defaults:%s requiretty\n%s ALL=(%s) ALL\n' "$U_A" "$U_A" "$U_O" \
    >"$TMPD/sudoers"
visudo -cqf "$TMPD/sudoers" || fail "bad sudoers rules"
install -m 440 "$TMPD/sudoers" "$pwsudoers"
out=$(spn run --password-file "$TMPD/pw" "$R+sudo=$U_O" -- id -un 2>"$TMPD/err")
check_rc "ssh + sudo with a password, requiretty" 0 $? "$TMPD/err"
check "ssh + sudo with a password, requiretty" "$U_O" "$out"

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
