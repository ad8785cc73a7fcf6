#!/bin/sh
# spindle doctor: a healthy setup passes (exit 0, every line ok); then
# each thing it checks is broken for real, and its line says so (with
# what to do), FAIL making the exit status 1, warn leaving it 0: a
# routes file with a syntax error (FILE:LINE), writable by others or a
# named pipe (no hang), a route's password file missing or read by
# others (never shown), a runtime directory open to others, another
# user's, on a full or a read-only filesystem (those three as root), or
# with a path too long for a socket, no ssh in PATH, a daemon running (its
# pid), one stopped (no answer: no hang either, its backlog full or
# not), one killed (its stale
# socket), one whose binary was replaced, one of another version, one
# whose path holds escape sequences (printed cleaned), a
# gateway host key of mode 0644 or a symbolic link, no spindle-gateway,
# one that fails, or one beside spindle in a directory others may write
# (not run),
# an authorized_keys others may write, a run local that fails.
. "$(dirname "$0")/lib.sh"

unset XDG_CONFIG_HOME XDG_RUNTIME_DIR SPINDLE_SSH_ARGS SSH_AUTH_SOCK
HOME=$TMPD/home
SPINDLE_ROUTES=$TMPD/routes
SPINDLE_RUNTIME_DIR=$TMPD/rt
export HOME SPINDLE_ROUTES SPINDLE_RUNTIME_DIR
mkdir -m 0700 "$HOME" || fail "mkdir $HOME"
printf 'route web local\nroute two local+local\n' >"$SPINDLE_ROUTES"
command -v ssh >/dev/null 2>&1 || skip "ssh is not installed"
daemon_stop_on_exit

# doc WANT [SPINDLE-ARGS...]: spindle doctor with them (the binary
# $DOC, else $SPINDLE; with the VAR=VALUE words of $DOCENV in its
# environment); its exit status must be WANT.  Output in $TMPD/out.
DOC=$SPINDLE
DOCENV=""
doc() {
	_want=$1
	shift
	# shellcheck disable=SC2086
	timeout -k 3 "$SPN_TIMEOUT" env $DOCENV "$DOC" doctor "$@" \
	    </dev/null >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	if [ "$_rc" != "$_want" ]; then
		sed 's/^/  out: /' "$TMPD/out" >&2
		check_rc "doctor $*" "$_want" "$_rc" "$TMPD/err"
	fi
}

# says LEVEL WHAT TEXT: doctor's WHAT line is LEVEL (ok, warn, FAIL) and
# contains TEXT.
says() {
	_l=$(grep "^$1 *$2 " "$TMPD/out") || {
		sed 's/^/  out: /' "$TMPD/out" >&2
		fail "no '$1' line for $2"
	}
	case $_l in
	*"$3"*) ;;
	*) fail "$2: wanted '$3' in: $_l" ;;
	esac
}

# The gateway's line is ok only where it was built.
gw=ok
[ -x "$(dirname "$SPINDLE")/spindle-gateway" ] || gw=warn

# Healthy: every line ok (the gateway's as built), the end to end run
# included.
doc 0
grep -v '^ok ' "$TMPD/out" | grep -v "^$gw  *gateway " >"$TMPD/notok" &&
    { cat "$TMPD/out" >&2; fail "lines not ok: $(cat "$TMPD/notok")"; }
[ -s "$TMPD/err" ] && fail "healthy: stderr: $(cat "$TMPD/err")"
says ok routes "$SPINDLE_ROUTES: 2 routes"
says ok runtime "$SPINDLE_RUNTIME_DIR: none yet"
says ok daemon "not running"
says ok ssh "$(command -v ssh): OpenSSH"
says ok agent "static"
says ok "run local" "works"
[ -e "$SPINDLE_RUNTIME_DIR" ] && fail "doctor made the runtime directory"
doc 0 -v --quick
grep -q "run local" "$TMPD/out" && fail "--quick ran the end to end check"
contains "$TMPD/out" "two: local+local (2 hops)" || fail "-v: no route lines"

# The routes file: a syntax error, at its line; then open to others.
printf 'route web local\nroute two local+local\nbogus words\n' \
    >"$SPINDLE_ROUTES"
doc 1 --quick
says FAIL routes "$SPINDLE_ROUTES:3: "
printf 'route web local\n' >"$SPINDLE_ROUTES"
chmod 0666 "$SPINDLE_ROUTES"
doc 1 --quick
says FAIL routes "chmod go-w $SPINDLE_ROUTES"
chmod 0644 "$SPINDLE_ROUTES"
# A named pipe there (no writer): said, not waited on.
mv "$SPINDLE_ROUTES" "$TMPD/routes.file"
mkfifo -m 0644 "$SPINDLE_ROUTES" || fail "mkfifo"
doc 1 --quick
says FAIL routes "$SPINDLE_ROUTES is not a regular file"
rm "$SPINDLE_ROUTES"
mv "$TMPD/routes.file" "$SPINDLE_ROUTES"

# A route's password file: missing; then read by others, and its content
# never shown.
printf 'route web sudo,password-file=%s\n' "$TMPD/pw" >"$SPINDLE_ROUTES"
doc 1 --quick
says FAIL routes "route web: password-file $TMPD/pw: No such file"
echo "s3cr3t-pw" >"$TMPD/pw"
chmod 0644 "$TMPD/pw"
doc 0 --quick -v
says warn routes "route web: password-file $TMPD/pw may be read by others"
contains "$TMPD/out" "s3cr3t" && fail "doctor showed the password"
printf 'route web local\n' >"$SPINDLE_ROUTES"

# The runtime directory: open to others, a path too long for a socket.
mkdir -m 0755 "$SPINDLE_RUNTIME_DIR"
doc 1 --quick
says FAIL runtime "mode 0755"
chmod 0700 "$SPINDLE_RUNTIME_DIR"
doc 0 --quick
says ok runtime "yours, mode 0700"
long=$TMPD/$(printf '%0100d' 0)
mkdir -m 0700 "$long"
DOCENV="SPINDLE_RUNTIME_DIR=$long"
doc 1 --quick
DOCENV=""
says FAIL runtime "path too long for a UNIX socket"

# ssh missing from PATH (the shell for the agent is found by its path).
mkdir "$TMPD/nossh"
DOCENV="PATH=$TMPD/nossh"
doc 1 --quick
says FAIL ssh "no ssh in PATH ($TMPD/nossh)"

# The end to end run fails (the local hop needs sh and a few tools from
# PATH), and says why.
ln -s "$(command -v ssh)" "$TMPD/nossh/ssh"
doc 1
DOCENV=""
says ok ssh "$TMPD/nossh/ssh"
says FAIL "run local" "spindle run local -- true: spindle: hop 1 (local)"

# A daemon running: its pid; killed: the socket it left.
timeout 20 "$SPINDLE" daemon start >/dev/null 2>&1 || fail "daemon start"
dpid=$(daemon_pid)
[ -n "$dpid" ] || fail "no daemon pid"
doc 0 --quick
says ok daemon "running, pid $dpid, spindle $("$SPINDLE" --version | cut -d' ' -f2), "
says ok daemon "(this binary)"
# One that does not answer (stopped): a warning, and no hang; nor when
# its backlog is full, so that a connect would wait for room.
kill -STOP "$dpid"
doc 0 --quick
says warn daemon "the daemon does not answer"
python3 -c '
import socket, sys, time
held = []
while len(held) < 4096:
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
    except BlockingIOError:
        break
    held.append(s)
print(len(held), flush=True)
time.sleep(30)
' "$SPINDLE_RUNTIME_DIR/sock" >"$TMPD/held" &
holder=$!
track "$holder"
wait_line "$TMPD/held" '^[0-9]+$' 10 "$holder" || fail "no backlog filled"
doc 0 --quick
kill "$holder"
kill -CONT "$dpid"
says warn daemon "accepts no connection in 3 seconds"
kill -KILL "$dpid"
wait_gone "$dpid" 10 || fail "the daemon survived SIGKILL"
doc 0 --quick
says warn daemon "not running, but $SPINDLE_RUNTIME_DIR/sock is left"

# A daemon whose binary was replaced since (an upgrade).
mkdir "$TMPD/old"
cp "$SPINDLE" "$TMPD/old/spindle"
timeout 20 "$TMPD/old/spindle" daemon start >/dev/null 2>&1 ||
    fail "old daemon start"
dpid=$(daemon_pid)
rm "$TMPD/old/spindle"
cp "$SPINDLE" "$TMPD/old/spindle"
doc 0 --quick
says warn daemon "pid $dpid runs $TMPD/old/spindle (deleted), since replaced"
says warn daemon "spindle daemon stop"
timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1

# A daemon of another version: this spindle with its version string
# changed (one byte; the control protocol is the same).
v=$("$SPINDLE" --version | cut -d' ' -f2)
case $v in *9) ov=${v%?}8 ;; *) ov=${v%?}9 ;; esac
perl -0777 -pe "s/\Q$v\E\0/$ov\0/g" "$SPINDLE" >"$TMPD/old/other" ||
    fail "perl"
chmod 0755 "$TMPD/old/other"
check "the other version" "spindle $ov" \
    "$("$TMPD/old/other" --version | cut -d' ' -f1-2)"
timeout 20 "$TMPD/old/other" daemon start >/dev/null 2>&1 ||
    fail "other daemon start"
dpid=$(daemon_pid)
doc 0 --quick
says warn daemon "pid $dpid is spindle $ov ($TMPD/old/other), this is $v"
says warn daemon "spindle daemon stop"
timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1

# What a daemon says of itself reaches the terminal cleaned: one run
# from a directory whose name holds escape sequences (ESC, and CSI as
# UTF-8), its path in its HELLO (as root: the daemon is not dumpable).
esc=$(printf 'e\033]0;pwned\007\302\233x')
mkdir "$TMPD/$esc"
cp "$SPINDLE" "$TMPD/$esc/spindle"
timeout 20 "$TMPD/$esc/spindle" daemon start >/dev/null 2>&1 ||
    fail "daemon start from $TMPD/e..."
doc 0 --quick
says ok daemon "running, pid $(daemon_pid)"
if [ "$(id -u)" = 0 ]; then
	says ok daemon "$TMPD/e?]0;pwned???x/spindle"
fi
LC_ALL=C grep -q "$(printf '[\033\007\233]')" "$TMPD/out" &&
    fail "doctor printed a control byte: $(grep daemon "$TMPD/out" | od -c)"
timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
rm -r "$TMPD/$esc"

# The gateway's host key: open to others, a symbolic link.
gwd=$HOME/.config/spindle/gateway
mkdir -m 0700 "$HOME/.config" "$HOME/.config/spindle" "$gwd"
echo "not a key" >"$TMPD/key"
install -m 0644 "$TMPD/key" "$gwd/ssh_host_ed25519_key"
doc 1 --quick
says FAIL "host key" "(mode 0644), refused: chmod 600"
chmod 0600 "$gwd/ssh_host_ed25519_key"
doc 0 --quick
says ok "host key" "yours, mode 0600"
rm "$gwd/ssh_host_ed25519_key"
chmod 0600 "$TMPD/key"
ln -s "$TMPD/key" "$gwd/ssh_host_ed25519_key"
doc 1 --quick
says FAIL "host key" "a symbolic link: remove it"
rm "$gwd/ssh_host_ed25519_key"

# What the gateway trusts: an authorized_keys others may write.
install -m 0666 /dev/null "$HOME/.config/spindle/authorized_keys"
doc 1 --quick
says FAIL config "authorized_keys may be written by others"
chmod 0600 "$HOME/.config/spindle/authorized_keys"
doc 0 --quick
says ok config "$HOME/.config/spindle: yours"

# No spindle-gateway: a copy of spindle alone (nothing installed where
# it would look then).  A warning, unless the routes file has the daemon
# run the gateway.
mkdir "$TMPD/lone"
cp "$SPINDLE" "$TMPD/lone/spindle"
DOC=$TMPD/lone/spindle
doc 0 --quick
lonegw=$(grep '^[a-zA-Z]* *gateway ' "$TMPD/out")
case $lonegw in
*"built without the gateway"* | *"has no gateway"*) ;;
warn*"spindle-gateway: No such file"*) ;;
ok*) log "a spindle-gateway is installed: skipping the missing case" ;;
*) fail "gateway: $lonegw" ;;
esac
case $lonegw in ok*) ;; *)
	printf 'gateway-listen 127.0.0.1:2222\nroute web local\n' \
	    >"$SPINDLE_ROUTES"
	doc 1 --quick
	says FAIL gateway "gateway"
esac
# One that does not run.
printf 'route web local\n' >"$SPINDLE_ROUTES"
printf '#!/bin/sh\necho "cannot load libssh" >&2\nexit 1\n' \
    >"$TMPD/lone/spindle-gateway"
chmod 0755 "$TMPD/lone/spindle-gateway"
doc 1 --quick
says FAIL gateway \
    "$TMPD/lone/spindle-gateway --version: cannot load libssh: reinstall"
# Not one beside a copy in a directory others may write (/tmp, where a
# static spindle may be copied): another user could have put it there.
chmod 1777 "$TMPD/lone"
printf '#!/bin/sh\n: >"%s/planted"\necho spindle-gateway 9\n' "$TMPD" \
    >"$TMPD/lone/spindle-gateway"
doc 0 --quick
[ -e "$TMPD/planted" ] &&
    fail "doctor ran the spindle-gateway of a directory others may write"
grep '^[a-zA-Z]* *gateway ' "$TMPD/out" | grep -q "$TMPD/lone" &&
    fail "gateway: $(grep '^[a-zA-Z]* *gateway ' "$TMPD/out")"
chmod 0755 "$TMPD/lone"
DOC=$SPINDLE

# As root, in a mount namespace of its own: a runtime directory on a
# full filesystem, then on a read-only one.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	mkdir "$TMPD/fs"
	cat >"$TMPD/fs.sh" <<EOF
mount -t tmpfs -o size=2m tmpfs "$TMPD/fs" || exit 99
mkdir -m 0700 "$TMPD/fs/rt"
dd if=/dev/zero of="$TMPD/fs/fill" bs=64k 2>/dev/null
SPINDLE_RUNTIME_DIR=$TMPD/fs/rt "$SPINDLE" doctor --quick >"$TMPD/full"
echo "status \$?" >>"$TMPD/full"
mount -o remount,ro "$TMPD/fs" || exit 99
SPINDLE_RUNTIME_DIR=$TMPD/fs/rt "$SPINDLE" doctor --quick >"$TMPD/ro"
echo "status \$?" >>"$TMPD/ro"
EOF
	timeout -k 3 "$SPN_TIMEOUT" unshare -m --propagation private \
	    sh "$TMPD/fs.sh" || fail "the tmpfs namespace: status $?"
	cp "$TMPD/full" "$TMPD/out"
	says FAIL runtime "$TMPD/fs/rt: its filesystem is full"
	contains "$TMPD/out" "status 1" || fail "full: not status 1"
	cp "$TMPD/ro" "$TMPD/out"
	says FAIL runtime "$TMPD/fs/rt is on a read-only filesystem"
	contains "$TMPD/out" "status 1" || fail "read-only: not status 1"
else
	log "not root: full and read-only filesystems are not checked"
fi

# As root: a runtime directory that is another user's.
if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null 2>&1; then
	u="spnd$(printf '%04x' $(($$ % 65536)))"
	getent passwd "$u" >/dev/null && skip "user $u exists"
	user_add "$u"
	chown "$u" "$SPINDLE_RUNTIME_DIR"
	doc 1 --quick
	says FAIL runtime "belongs to uid $(id -u "$u") ($u), not to you"
	chown 0 "$SPINDLE_RUNTIME_DIR"
else
	log "not root: the runtime directory of another user is not checked"
fi
pass
