#!/bin/sh
# The ssh shim on local routes (no sshd needed): a login shell on a pty
# when stdin is a terminal, OpenSSH's usage errors, unsupported
# subsystems, tunnel devices refused, a destination's hop options
# that would run, read or send something of ours refused, a remote
# without sftp-server (a mount namespace hides it), and the daemon a shim
# starts never finding the shim as its ssh.
. "$(dirname "$0")/lib.sh"
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
cleanup() {
	for _d in "$TMPD/rt" "$TMPD/rt-ns" "$TMPD/rt-bad" "$TMPD/rt-dest"; do
		SPINDLE_RUNTIME_DIR=$_d timeout 10 "$SPINDLE" daemon stop \
		    >/dev/null 2>&1
	done
}
trap '_t=$?; cleanup; (exit $_t); _lib_cleanup' EXIT
FAKEBIN=$("$SPINDLE" fakessh-bin) || fail "fakessh-bin"
SSH=$FAKEBIN/ssh

# Usage errors: OpenSSH's words, status 255.
"$SSH" -p 2>"$TMPD/err"
check_rc "-p without a port" 255 $? "$TMPD/err"
contains "$TMPD/err" "option requires an argument -- p" ||
    fail "-p: $(cat "$TMPD/err")"
"$SSH" -Z local true 2>"$TMPD/err"
check_rc "unknown option" 255 $? "$TMPD/err"
contains "$TMPD/err" "unknown option -- Z" || fail "-Z: $(cat "$TMPD/err")"
"$SSH" 2>"$TMPD/err"
check_rc "no host" 255 $? "$TMPD/err"
contains "$TMPD/err" "usage: ssh" || fail "no host: $(cat "$TMPD/err")"
"$SSH" -V 2>"$TMPD/err"
check_rc "-V" 0 $? "$TMPD/err"
contains "$TMPD/err" "spindle" || fail "-V: $(cat "$TMPD/err")"
# (with SPINDLE_SSH_ARGS set: its spec is freed on this way out too)
SPINDLE_SSH_ARGS=-4 timeout 20 "$SSH" -s local+local foo </dev/null \
    2>"$TMPD/err"
check_rc "subsystem foo" 255 $? "$TMPD/err"
contains "$TMPD/err" "subsystem 'foo' is not supported" ||
    fail "subsystem foo: $(cat "$TMPD/err")"

# A destination is another program's words (a git URL, an rsync target):
# no hop option that would run, read or send something of ours, and no
# password of the routes file for its hops (a su that records what it is
# given stands for the sudo of a host the URL named).
mkdir "$TMPD/bin" || fail "mkdir"
cat >"$TMPD/bin/su" <<'EOF'
#!/bin/sh
printf 'Password: '
read -r x
printf '%s\n' "$x" >>"${0%/bin/su}/su-got"
exit 1
EOF
chmod +x "$TMPD/bin/su"
echo "dest-secret-$$" >"$TMPD/pw"
printf 'password-file %s\n' "$TMPD/pw" >"$TMPD/routes"
dest() {
	SPINDLE_RUNTIME_DIR="$TMPD/rt-dest" SPINDLE_ROUTES="$TMPD/routes" \
	    PATH="$TMPD/bin:$PATH" timeout 20 "$@"
}
dest "$SSH" 'x,o=ProxyCommand=touch${IFS}'"$TMPD/ran" true 2>"$TMPD/err"
check_rc "destination with o=ProxyCommand" 255 $? "$TMPD/err"
[ -e "$TMPD/ran" ] && fail "a destination's ProxyCommand ran"
contains "$TMPD/err" "is not taken from an ssh destination" ||
    fail "o= in a destination: $(cat "$TMPD/err")"
for o in "password-file=$TMPD/pw" password identity=/x config=/x; do
	dest "$SSH" "x,$o" true 2>"$TMPD/err"
	check_rc "destination with $o" 255 $? "$TMPD/err"
	contains "$TMPD/err" "hop option '$o' is not taken" ||
	    fail "$o in a destination: $(cat "$TMPD/err")"
done
dest "$SSH" su=nobody true 2>"$TMPD/err"
check_rc "destination's su" 255 $? "$TMPD/err"
[ -e "$TMPD/su-got" ] &&
    fail "the routes file's password went to a destination's su"
contains "$TMPD/err" "su asked for a password and none was given" ||
    fail "destination's su: $(cat "$TMPD/err")"
# (the same route of the user's own command line takes it)
dest "$SPINDLE" run su=nobody -- true 2>"$TMPD/err"
check_rc "run's su" 255 $? "$TMPD/err"
check "run's su got" "dest-secret-$$" "$(cat "$TMPD/su-got" 2>/dev/null)"

# Tunnel devices: a clear refusal with 255, not a session without them.
# (-L -R -D -W -N: forward-shim.sh.)
for f in "-w 0" "-oTunnel=point-to-point"; do
	what=${f%% *}
	case $f in -oTunnel*) what="-o Tunnel" ;; esac
	# shellcheck disable=SC2086
	timeout 20 "$SSH" $f local 'echo ran' </dev/null >"$TMPD/out" \
	    2>"$TMPD/err"
	check_rc "$f" 255 $? "$TMPD/err"
	check "$f: stderr" "spindle: $what is not supported" \
	    "$(cat "$TMPD/err")"
	check "$f: nothing ran" "" "$(cat "$TMPD/out")"
done
# scp's -oClearAllForwardings=yes clears them, as in ssh.
out=$(timeout 20 "$SSH" -oClearAllForwardings=yes -L 1:x:2 local echo ran \
    </dev/null 2>"$TMPD/err")
check_rc "cleared forwarding" 0 $? "$TMPD/err"
check "cleared forwarding: output" ran "$out"

# ssh's pty rules with -n; -E naming a file it cannot open.
out=$(timeout 20 "$SSH" -tt -n local tty 2>"$TMPD/err" | tr -d '\r')
case $out in /dev/pts/*) ;; *) fail "-tt -n: no pty: $out" ;; esac
timeout 20 "$SSH" -t -n local true 2>"$TMPD/err"
check_rc "-t -n" 0 $? "$TMPD/err"
contains "$TMPD/err" "Pseudo-terminal will not be allocated" ||
    fail "-t -n: $(cat "$TMPD/err")"
"$SSH" -E "$TMPD/no/such/dir/log" local true 2>"$TMPD/err"
check_rc "-E unwritable" 255 $? "$TMPD/err"
contains "$TMPD/err" "Couldn't open logfile" || fail "-E: $(cat "$TMPD/err")"

# -q: no message of ours, the command's stderr all the same.
timeout 20 "$SSH" -q 'local+nosuchmethod=x' true 2>"$TMPD/err"
check_rc "-q, a bad route" 255 $? "$TMPD/err"
check "-q: nothing said" "" "$(cat "$TMPD/err")"
timeout 20 "$SSH" -q local 'echo e >&2' </dev/null 2>"$TMPD/err"
check "-q: the command's stderr" e "$(cat "$TMPD/err")"

# A refusal by the daemon (a broken routes file: the one of the
# daemon's environment) is ssh's 255.
printf 'frob 1\n' >"$TMPD/bad-routes"
SPINDLE_ROUTES=$TMPD/bad-routes SPINDLE_RUNTIME_DIR=$TMPD/rt-bad \
    timeout 20 "$SSH" local true 2>"$TMPD/err"
check_rc "bad routes file" 255 $? "$TMPD/err"
contains "$TMPD/err" "bad-routes:1: unknown option 'frob'" ||
    fail "bad routes file: $(cat "$TMPD/err")"

# No command and a terminal: a login shell on a pty, as ssh gives.
if command -v script >/dev/null; then
	printf 'tty\nexit 4\n' >"$TMPD/in"
	SSH=$SSH timeout 20 script -qec '"$SSH" local+local' /dev/null \
	    <"$TMPD/in" >"$TMPD/out" 2>&1
	check_rc "login shell on a terminal" 4 $? "$TMPD/out"
	grep -q '/dev/pts/[0-9]' "$TMPD/out" ||
	    fail "login shell: no pty: $(cat "$TMPD/out")"
fi

# The daemon a shim started (with the shim first in PATH) has it no more.
out=$(PATH="$FAKEBIN:$PATH" ssh local+local echo ok </dev/null 2>&1)
check "shim via PATH" ok "$out"
dpid=$("$SPINDLE" daemon status | sed -n 's/^running, pid \([0-9]*\),.*/\1/p')
[ -n "$dpid" ] || fail "no daemon"
tr '\0' '\n' <"/proc/$dpid/environ" | grep '^PATH=' | grep -q "$FAKEBIN" &&
    fail "the daemon's PATH still has $FAKEBIN"

# No sftp-server on the remote: a clear error, not a hang.  The daemon
# runs in a mount namespace where every sftp-server is a plain file.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	: >"$TMPD/plain"
	chmod 0644 "$TMPD/plain"
	cat >"$TMPD/ns.sh" <<EOF
for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server \
    /usr/libexec/sftp-server /usr/lib/ssh/sftp-server /usr/lib/sftp-server; do
	[ -e "\$p" ] && mount --bind "$TMPD/plain" "\$p"
done
SPINDLE_RUNTIME_DIR="$TMPD/rt-ns" timeout 20 "$SSH" -s local+local sftp </dev/null
EOF
	unshare -m --propagation private sh "$TMPD/ns.sh" >"$TMPD/out" \
	    2>"$TMPD/err"
	check_rc "no sftp-server" 127 $? "$TMPD/err"
	contains "$TMPD/err" "spindle: no sftp-server on" ||
	    fail "no sftp-server: $(cat "$TMPD/err")"
fi
pass
