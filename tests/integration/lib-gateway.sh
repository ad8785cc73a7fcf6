# Shared by the gateway tests that use OpenSSH's ssh through `spindle
# ssh-config`'s block; sourced after lib.sh:
#	. "$(dirname "$0")/lib-gateway.sh"
# It skips without spindle-gateway or ssh, then gives the test a daemon
# and a config directory of its own (stopped, removed on exit), and the
# block in $SSHCFG.  gw_ssh ARGS...: ssh through it, never asking
# anything (BatchMode: a host key or password prompt fails instead).
[ -x "$(dirname "$SPINDLE")/spindle-gateway" ] ||
    skip "no spindle-gateway built (configure found no libssh >= 0.10)"
command -v ssh >/dev/null || skip "no OpenSSH client (ssh)"
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
export XDG_CONFIG_HOME="$TMPD/config"
daemon_stop_on_exit
# Started here, with none of the variables a test gives ssh: what they
# send must come through the channel, not the daemon's environment.
spn daemon start >/dev/null || fail "daemon start"
SSHCFG=$TMPD/ssh_config
spn ssh-config >"$SSHCFG" 2>"$TMPD/err" ||
    fail "ssh-config: $(cat "$TMPD/err")"

gw_ssh() {
	timeout 30 ssh -F "$SSHCFG" -o BatchMode=yes "$@"
}
