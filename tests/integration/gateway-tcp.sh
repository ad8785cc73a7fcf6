#!/bin/sh
# The gateway's TCP listener (routes file gateway-listen), for clients
# that cannot run a ProxyCommand.  OpenSSH's ssh with the allowlisted key
# reaches the route named by the user name; another key gets "Permission
# denied (publickey)"; asking for a password gets the same, and no prompt
# (never offered); paramiko (RejectPolicy, spindle's known_hosts with
# the [127.0.0.1]:PORT line): exec with stdout, stderr and exit status,
# SFTP put/get, direct-tcpip, refused without that line and with the
# other key; as root, another uid is closed before the banner (the
# sock_diag check), while ours gets it; a key added to authorized_keys
# counts from the next login, a key removed likewise, a line with
# options is refused; with no key the gateway runs and its listener
# waits, then starts with `spindle gateway authorize`; a non-loopback
# gateway-listen is a configuration error with the file's line.
. "$(dirname "$0")/lib-gwtcp.sh"
T0=$(date +%s.%N)
# [::1] too, where loopback has IPv6.
V6=""
$PY -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
    2>/dev/null && V6="gateway-listen [::1]:PORT"
gwtcp_up "$V6
route loc local"
log "gateway listening on 127.0.0.1:$PORT after $(secs_since "$T0") s"

# OpenSSH: the allowlisted key; the route is the user name.
t=$(date +%s.%N)
gwssh -i "$TMPD/k1" loc@127.0.0.1 'echo "hello $((6 * 7))"; echo e >&2; exit 5' \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh with the allowlisted key" 5 $? "$TMPD/err"
check "ssh stdout" "hello 42" "$(cat "$TMPD/out")"
check "ssh stderr" "e" "$(cat "$TMPD/err")"
log "ssh with the allowlisted key: $(secs_since "$t") s"
gwssh -i "$TMPD/k1" -l 'local+local' 127.0.0.1 'echo inline' \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "an inline route as the user name" 0 $? "$TMPD/err"
check "inline route" "inline" "$(cat "$TMPD/out")"
if [ -n "$V6" ]; then
	gwssh -i "$TMPD/k1" loc@::1 'echo v6' >"$TMPD/out" 2>"$TMPD/err"
	check_rc "ssh to [::1]:$PORT" 0 $? "$TMPD/err"
	check "ssh to [::1]" "v6" "$(cat "$TMPD/out")"
else
	log "no IPv6 on loopback: [::1] not tried"
fi

# Another key: refused, and only publickey offered.
gwssh -i "$TMPD/k2" loc@127.0.0.1 'echo RAN' >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh with another key" 255 $? "$TMPD/err"
contains "$TMPD/err" "Permission denied (publickey)" ||
    fail "another key: $(cat "$TMPD/err")"
[ -s "$TMPD/out" ] && fail "another key: the command ran"

# A password: never offered, so never asked (an askpass that would
# answer says whether it was called).
printf '#!/bin/sh\necho asked >>"%s"\necho secret\n' "$TMPD/asked" \
    >"$TMPD/askpass"
chmod +x "$TMPD/askpass"
SSH_ASKPASS=$TMPD/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    gwssh -o BatchMode=no -o PreferredAuthentications=password,keyboard-interactive \
    -o NumberOfPasswordPrompts=1 -i "$TMPD/k1" loc@127.0.0.1 'echo RAN' \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh asking for a password" 255 $? "$TMPD/err"
contains "$TMPD/err" "Permission denied (publickey)" ||
    fail "password: $(cat "$TMPD/err")"
[ -e "$TMPD/asked" ] && fail "password: ssh prompted for one"
[ -s "$TMPD/out" ] && fail "password: the command ran"

# paramiko: exec, SFTP, direct-tcpip; RejectPolicy without the line.
t=$(date +%s.%N)
timeout 90 $GWPY client "$PORT" "$TMPD/k1" "$KH" loc "$TMPD" \
    >"$TMPD/out" 2>&1 || fail "paramiko: $(cat "$TMPD/out")"
sed 's/^/  paramiko: /' "$TMPD/out" >&2
log "paramiko exec, sftp, direct-tcpip: $(secs_since "$t") s"
grep -v "^\[127.0.0.1\]:$PORT " "$KH" >"$TMPD/kh.alias"
timeout 60 $GWPY reject "$PORT" "$TMPD/k1" "$TMPD/kh.alias" loc \
    >"$TMPD/out" 2>&1 || fail "paramiko reject: $(cat "$TMPD/out")"
timeout 60 $GWPY denied "$PORT" "$TMPD/k2" "$KH" loc \
    >"$TMPD/out" 2>&1 || fail "paramiko denied: $(cat "$TMPD/out")"

# The allowlist is read again when it changes: k2 added, then k1 gone.
cat "$TMPD/k2.pub" >>"$XDG_CONFIG_HOME/spindle/authorized_keys"
gwssh -i "$TMPD/k2" loc@127.0.0.1 'echo k2' >"$TMPD/out" 2>"$TMPD/err"
check_rc "k2 once added" 0 $? "$TMPD/err"
cp "$TMPD/k2.pub" "$XDG_CONFIG_HOME/spindle/authorized_keys.new"
mv "$XDG_CONFIG_HOME/spindle/authorized_keys.new" \
    "$XDG_CONFIG_HOME/spindle/authorized_keys"
gwssh -i "$TMPD/k1" loc@127.0.0.1 'echo RAN' >"$TMPD/out" 2>"$TMPD/err"
check_rc "k1 once removed" 255 $? "$TMPD/err"
contains "$TMPD/err" "Permission denied (publickey)" ||
    fail "k1 removed: $(cat "$TMPD/err")"
# With options, a line is refused, not taken without them.
printf 'from="10.9.9.9" %s\n' "$(cat "$TMPD/k1.pub")" \
    >"$XDG_CONFIG_HOME/spindle/authorized_keys"
gwssh -i "$TMPD/k1" loc@127.0.0.1 'echo RAN' >"$TMPD/out" 2>"$TMPD/err"
check_rc "a key with options" 255 $? "$TMPD/err"
wait_line "$LOG" "authorized_keys:1: options or an unknown key type: line refused" 5 ||
    fail "the refused line is not in the log"
# Others may write it (sshd's StrictModes): no key counts.
install -m 620 "$TMPD/k1.pub" "$XDG_CONFIG_HOME/spindle/authorized_keys"
gwssh -i "$TMPD/k1" loc@127.0.0.1 'echo RAN' >"$TMPD/out" 2>"$TMPD/err"
check_rc "authorized_keys group-writable" 255 $? "$TMPD/err"
wait_line "$LOG" "authorized_keys: not ours, or others may write it" 5 ||
    fail "the group-writable file is not in the log"
chmod 600 "$XDG_CONFIG_HOME/spindle/authorized_keys"

# Another uid, on the same loopback: closed before the banner.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	U=spngt$$
	user_add "$U"
	uid=$(id -u "$U")
	setpriv --reuid="$uid" --regid="$(id -g "$U")" --clear-groups \
	    timeout 30 $GWPY banner "$PORT" >"$TMPD/out" 2>&1
	check "another uid" "closed" "$(cat "$TMPD/out")"
	w="connection from \[127.0.0.1\]:[0-9]* closed: uid $uid, not ours"
	wait_line "$LOG" "$w" 5 ||
	    fail "the refusal of uid $uid is not in the log"
	timeout 30 $GWPY banner "$PORT" >"$TMPD/out" 2>&1
	grep -q '^banner SSH-2.0-' "$TMPD/out" ||
	    fail "our own uid: $(cat "$TMPD/out")"
	log "uid $uid closed before the banner; ours: $(cat "$TMPD/out")"
else
	log "not root (or no setpriv): the other-uid case is skipped"
fi

# No key: the gateway runs (its daemon-socket entry needs none), the
# listener waits, saying how to fix it; `gateway authorize` starts it.
: >"$XDG_CONFIG_HOME/spindle/authorized_keys"
timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
spn daemon start >/dev/null 2>"$TMPD/err" || fail "start: $(cat "$TMPD/err")"
track "$(daemon_pid)"
w="no key in $XDG_CONFIG_HOME/spindle/authorized_keys: the TCP listener"
w="$w waits for one \(spindle gateway authorize FILE.pub\)"
wait_line "$LOG" "$w" 20 ||
    fail "no key: not said: $(tail -5 "$LOG")"
timeout 30 $GWPY banner "$PORT" >"$TMPD/out" 2>&1 &&
    fail "no key: something listens: $(cat "$TMPD/out")"
timeout 60 ssh -F "$HOME/.ssh/config" -o BatchMode=yes local.spindle \
    'echo fdpass' \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "no key: ssh local.spindle" 0 $? "$TMPD/err"
n=$(grep -c "listening on \[127.0.0.1\]:$PORT" "$LOG")
spn gateway authorize "$TMPD/k1.pub" >"$TMPD/out" 2>&1 ||
    fail "gateway authorize: $(cat "$TMPD/out")"
t=$(date +%s.%N)
i=200
while [ "$(grep -c "listening on \[127.0.0.1\]:$PORT" "$LOG")" = "$n" ]; do
	i=$((i - 1))
	[ "$i" -gt 0 ] || fail "authorized: the listener did not start"
	sleep 0.1
done
log "the listener started $(secs_since "$t") s after gateway authorize"
gwssh -i "$TMPD/k1" loc@127.0.0.1 'echo again' >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh once authorized" 0 $? "$TMPD/err"

# Loopback only: anything else is an error with the file's line.
printf 'keepalive 5\ngateway-listen 0.0.0.0:%s\nroute loc local\n' "$PORT" \
    >"$TMPD/routes.bad"
# (A daemon of its own: ours has read the good file.)
SPINDLE_ROUTES=$TMPD/routes.bad SPINDLE_RUNTIME_DIR=$TMPD/rt2 \
    spn run loc -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
rc=$?
track "$(SPINDLE_RUNTIME_DIR=$TMPD/rt2 daemon_pid)"
SPINDLE_RUNTIME_DIR=$TMPD/rt2 timeout 10 "$SPINDLE" daemon stop \
    >/dev/null 2>&1
check_rc "non-loopback gateway-listen" 255 $rc "$TMPD/err"
w="gateway-listen: only loopback addresses (127.0.0.1, [::1])"
contains "$TMPD/err" "$TMPD/routes.bad:2: $w" ||
    fail "non-loopback: $(cat "$TMPD/err")"

log "took $(secs_since "$T0") s"
pass
