#!/bin/sh
# ssh hops that cannot come up: connection refused, key refused, a host
# key that changed, an account with nologin as its shell.  Each ends
# spindle with 255 and a message that names the hop and passes on what
# ssh (or the remote) said, quickly, and leaves nothing running: no ssh
# client, no agent, no session.
. "$(dirname "$0")/lib-sshd.sh"

SPN_TIMEOUT=30
# Every case runs (in a subshell, whose `fail` ends only that case); the
# test fails at the end with the list of those that failed.
FAILED=""
case_() {
	( fails "$@" ) || FAILED="$FAILED
  $3"
}

# fails ROUTE HOPLABEL WHAT TEXT...: `run ROUTE -- echo RAN` exits 255
# within SPN_TIMEOUT, names HOPLABEL and contains one of the TEXTs; the
# command never runs; nothing is left.
fails() {
	_r=$1 _h=$2 _what=$3
	shift 3
	_t0=$(date +%s)
	spn run "$_r" -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	_t1=$(date +%s)
	[ "$_rc" = 124 ] || [ "$_rc" = 137 ] &&
	    fail "$_what: run $_r hung (killed after ${SPN_TIMEOUT}s)"
	check_rc "$_what: run $_r" 255 "$_rc" "$TMPD/err"
	[ -s "$TMPD/out" ] && fail "$_what: the command ran: $(cat "$TMPD/out")"
	contains "$TMPD/err" "$_h" ||
	    fail "$_what: message does not name '$_h': $(cat "$TMPD/err")"
	_found=""
	for _s in "$@"; do
		contains "$TMPD/err" "$_s" && _found=1
	done
	[ -n "$_found" ] ||
	    fail "$_what: message says none of '$*': $(cat "$TMPD/err")"
	log "$_what ($((_t1 - _t0))s): $(tr '\n' '|' <"$TMPD/err")"
	no_world_procs 5 "$_what"
}

# 1. Nobody listens on the port.
port=$(free_port 77)
SPINDLE_SSH_ARGS="-F $SSH_CFG -p $port"
case_ "$U_A@127.0.0.1" "hop 1 ($U_A@127.0.0.1)" "connection refused" \
    "Connection refused"
# ... with more hops to come: still hop 1's error, nothing further tried.
case_ "$U_A@127.0.0.1+sudo=$U_W" "hop 1 ($U_A@127.0.0.1)" \
    "connection refused (then sudo)" "Connection refused"
SPINDLE_SSH_ARGS="-F $SSH_CFG"

# 2. The key is not authorized for that user.
case_ "$U_W@127.0.0.1" "hop 1 ($U_W@127.0.0.1)" "key refused" \
    "Permission denied"
# A user sshd does not know at all.
case_ "nosuchuser$SFX@127.0.0.1" "hop 1 (nosuchuser$SFX@127.0.0.1)" \
    "unknown user" "Permission denied"

# 3. The host key changed: known_hosts holds another key for our port.
ssh-keygen -q -t ed25519 -N '' -C spn-other -f "$TMPD/other_key" ||
    fail "ssh-keygen failed"
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" \
    "$(cut -d' ' -f1,2 "$TMPD/other_key.pub")" >"$SSHW/known_hosts.bad"
chmod 0644 "$SSHW/known_hosts.bad"
ssh_config_for "$SSHW/ssh_config.bad" "$SSHW/known_hosts.bad"
SPINDLE_SSH_ARGS="-F $SSHW/ssh_config.bad"
case_ "$U_A@127.0.0.1" "hop 1 ($U_A@127.0.0.1)" "host key changed" \
    "Host key verification failed" "REMOTE HOST IDENTIFICATION HAS CHANGED"
# No key known at all (StrictHostKeyChecking yes): refused as well.
: >"$SSHW/known_hosts.none"
chmod 0644 "$SSHW/known_hosts.none"
ssh_config_for "$SSHW/ssh_config.none" "$SSHW/known_hosts.none"
SPINDLE_SSH_ARGS="-F $SSHW/ssh_config.none"
case_ "$U_A@127.0.0.1" "hop 1 ($U_A@127.0.0.1)" "host key unknown" \
    "Host key verification failed"
SPINDLE_SSH_ARGS="-F $SSH_CFG"

# 4. The account's shell is nologin: its refusal reaches the user.
case_ "$U_N@127.0.0.1" "hop 1 ($U_N@127.0.0.1)" "nologin shell" \
    "This account is currently not available"

# 5. The same failures one hop further in (the ssh client runs in an
# agent: a local one, or the first remote context): the message names
# hop 2 and still carries ssh's own words.
SPINDLE_SSH_ARGS="-F $SSH_CFG -p $port"
case_ "local+$U_A@127.0.0.1" "hop 2 (local+$U_A@127.0.0.1)" \
    "connection refused at hop 2" "Connection refused"
SPINDLE_SSH_ARGS="-F $SSH_CFG"
C=",config=$SSH_CFG"	# hop 2's ssh runs on hop 1: its own config
case_ "$U_A@127.0.0.1+$U_W@127.0.0.1$C" \
    "hop 2 ($U_A@127.0.0.1+$U_W@127.0.0.1$C)" \
    "key refused at hop 2" "Permission denied"
case_ "$U_A@127.0.0.1+$U_N@127.0.0.1$C" \
    "hop 2 ($U_A@127.0.0.1+$U_N@127.0.0.1$C)" \
    "nologin shell at hop 2" "This account is currently not available"

[ -z "$FAILED" ] || fail "these cases failed (see above):$FAILED"
pass
