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
# (case_ says ...: the same with says.)
case_() {
	_f=fails
	[ "$1" = says ] && _f=says && shift
	( $_f "$@" ) || FAILED="$FAILED
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

# says ROUTE HOPLABEL WHAT LINE: as fails, and all spindle says is the
# hop and LINE, the line of ssh's (or the far end's) that tells why.
says() {
	fails "$1" "$2" "$3" "$4"
	check "$3: message" "spindle: $2: $4" "$(cat "$TMPD/err")"
}

# 1. Nobody listens on the port.
port=$(free_port 77)
SPINDLE_SSH_ARGS="-F $SSH_CFG -p $port"
case_ says "$U_A@127.0.0.1" "hop 1 ($U_A@127.0.0.1)" "connection refused" \
    "ssh: connect to host 127.0.0.1 port $port: Connection refused"
# ... with more hops to come: still hop 1's error, nothing further tried.
case_ "$U_A@127.0.0.1+sudo=$U_W" "hop 1 ($U_A@127.0.0.1)" \
    "connection refused (then sudo)" "Connection refused"
SPINDLE_SSH_ARGS="-F $SSH_CFG"

# 2. The key is not authorized for that user.
case_ says "$U_W@127.0.0.1" "hop 1 ($U_W@127.0.0.1)" "key refused" \
    "$U_W@127.0.0.1: Permission denied (publickey)."
# A user sshd does not know at all.
case_ says "nosuchuser$SFX@127.0.0.1" "hop 1 (nosuchuser$SFX@127.0.0.1)" \
    "unknown user" "nosuchuser$SFX@127.0.0.1: Permission denied (publickey)."

# 3. The host key changed: known_hosts holds another key for our port.
ssh-keygen -q -t ed25519 -N '' -C spn-other -f "$TMPD/other_key" ||
    fail "ssh-keygen failed"
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" \
    "$(cut -d' ' -f1,2 "$TMPD/other_key.pub")" >"$SSHW/known_hosts.bad"
chmod 0644 "$SSHW/known_hosts.bad"
ssh_config_for "$SSHW/ssh_config.bad" "$SSHW/known_hosts.bad"
SPINDLE_SSH_ARGS="-F $SSHW/ssh_config.bad"
# ssh's last line, "Host key verification failed.", only follows its
# reason.
H="[127.0.0.1]:$SSHD_PORT"
case_ says "$U_A@127.0.0.1" "hop 1 ($U_A@127.0.0.1)" "host key changed" \
    "Host key for $H has changed and you have requested strict checking."
# No key known at all (StrictHostKeyChecking yes): refused as well.
: >"$SSHW/known_hosts.none"
chmod 0644 "$SSHW/known_hosts.none"
ssh_config_for "$SSHW/ssh_config.none" "$SSHW/known_hosts.none"
SPINDLE_SSH_ARGS="-F $SSHW/ssh_config.none"
case_ says "$U_A@127.0.0.1" "hop 1 ($U_A@127.0.0.1)" "host key unknown" \
    "No ED25519 host key is known for $H and you have requested strict checking."
SPINDLE_SSH_ARGS="-F $SSH_CFG"

# 4. The account's shell is nologin: its refusal reaches the user.
case_ says "$U_N@127.0.0.1" "hop 1 ($U_N@127.0.0.1)" "nologin shell" \
    "This account is currently not available."

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

# 6. sudo's refusal behind ssh: its first line ("unknown user"), not the
# audit plugin's complaint that follows it.
case_ says "$U_A@127.0.0.1+sudo=nosuchuser$SFX" \
    "hop 2 ($U_A@127.0.0.1+sudo=nosuchuser$SFX)" "sudo to an unknown user" \
    "sudo: unknown user nosuchuser$SFX"

# 7. Accounts locked (usermod -L: '!' before the hash) or expired: sshd
# (UsePAM no) refuses them even a key, and tells the client no more.
usermod -L "$U_O" || fail "usermod -L $U_O"
case_ says "$U_O@127.0.0.1" "hop 1 ($U_O@127.0.0.1)" "locked account" \
    "$U_O@127.0.0.1: Permission denied (publickey)."
chage -E 0 "$U_B" || fail "chage -E 0 $U_B"
case_ says "$U_B@127.0.0.1" "hop 1 ($U_B@127.0.0.1)" "expired account" \
    "$U_B@127.0.0.1: Permission denied (publickey)."

[ -z "$FAILED" ] || fail "these cases failed (see above):$FAILED"
pass
