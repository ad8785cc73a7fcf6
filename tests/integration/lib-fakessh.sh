# The world of the daemon and fakessh tests: lib-sshd.sh's sshd and users,
# plus what the issue asks of the route behind the shim:
#
#   $U_A has a password ($U_A_PW, in $PWFILE) and sudo to $U_W needs it,
#   under `Defaults requiretty` (/etc/sudoers.d/spn-$SFX-pw sorts after
#   lib-sshd.sh's NOPASSWD rule, so its rule wins)
#   SPINDLE_RUNTIME_DIR=$TMPD/rt: a daemon of this test's own
#   SPINDLE_ROUTES=$TMPD/routes, with route "web": $U_A@127.0.0.1, then
#   sudo=$U_W, password from $PWFILE; "webcmd" the same with a
#   password-command
#   $FAKEBIN: the shim directory; $WEBHOME: $U_W's home
#
# The daemon is stopped (then killed, if need be) on exit.
SSHD_PASSWORD_AUTH=yes
. "${SPN_TESTLIB:-$(dirname "$0")}/lib-sshd.sh"

SUDOERS_PW=/etc/sudoers.d/spn-$SFX-pw
printf 'Defaults:%s requiretty\nDefaults:%s passwd_tries=1\n%s ALL=(%s) ALL\n' \
    "$U_A" "$U_A" "$U_A" "$U_W" >"$TMPD/sudoers-pw"
visudo -qcf "$TMPD/sudoers-pw" >/dev/null || fail "visudo rejects our rule"
install -m 0440 "$TMPD/sudoers-pw" "$SUDOERS_PW"

PWFILE=$TMPD/pw
printf '%s\n' "$U_A_PW" >"$PWFILE"
chmod 0600 "$PWFILE"
WEBHOME=$SSHW/home/$U_W
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
export SPINDLE_ROUTES="$TMPD/routes"
cat >"$SPINDLE_ROUTES" <<EOF
# written by $TEST
keepalive 15
route web $U_A@127.0.0.1+sudo=$U_W
    password-file $PWFILE
route webcmd $U_A@127.0.0.1+sudo=$U_W    # the same, another password source
    password-command cat '$PWFILE'; echo more output
EOF

_fakessh_cleanup() {
	_src=$?
	_dp=$(daemon_pid)
	timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
	[ -n "$_dp" ] && kill -KILL "$_dp" 2>/dev/null
	# A daemon a test killed may have left agents: they are world procs.
	rm -f "$SUDOERS_PW"
	(exit "$_src")
	_sshd_cleanup
}
trap _fakessh_cleanup EXIT

FAKEBIN=$("$SPINDLE" fakessh-bin) || fail "spindle fakessh-bin failed"
[ -x "$FAKEBIN/ssh" ] || fail "no ssh in $FAKEBIN"

# fssh ARGS...: the shim, under a timeout.
fssh() {
	timeout -k 3 "$SPN_TIMEOUT" "$FAKEBIN/ssh" "$@"
}

# sshd_auths: how many logins sshd has accepted so far.
sshd_auths() {
	grep -c 'Accepted publickey' "$SSHD_LOG"
}
