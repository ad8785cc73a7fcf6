#!/bin/sh
# An unusable runtime directory: /tmp/spindle-UID made by another user,
# one of ours open to others, a symbolic link, one that cannot be
# created.  Every command that needs it says which and how to get out
# (SPINDLE_RUNTIME_DIR) and fails with 255; `spindle fakessh-bin` prints
# nothing, so the README's `d=$(spindle fakessh-bin) && PATH=$d:$PATH`
# leaves PATH as it was (no empty element: the current directory); `run`
# of an inline route warns and runs without the daemon.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (creates a user, and its /tmp/spindle-UID)"
for _c in runuser useradd userdel; do
	command -v "$_c" >/dev/null 2>&1 || skip "$_c is not installed"
done

u="spnr$(printf '%04x' $(($$ % 65536)))"
getent passwd "$u" >/dev/null && skip "user $u exists"
W=""
DEF=""
cleanup() {
	[ -n "$DEF" ] && rm -rf "$DEF"
	[ -n "$W" ] && rm -rf "$W"
	userdel "$u" >/dev/null 2>&1
}
trap '_t=$?; cleanup; (exit $_t); _lib_cleanup' EXIT
useradd -M -d / -s /bin/sh "$u" || fail "useradd $u"
uid=$(id -u "$u")
[ -e "/tmp/spindle-$uid" ] && skip "/tmp/spindle-$uid exists already"
DEF=/tmp/spindle-$uid

# W: what the user may read (routes file, the shim) and a dir of its own.
W=$(mktemp -d /tmp/spn-rtdir.XXXXXX) || fail "mktemp"
chmod 0755 "$W"
mkdir "$W/bin" "$W/own"
ln -s "$SPINDLE" "$W/bin/ssh"
chown "$u" "$W/own"
printf 'route web local\n' >"$W/routes"
chmod 0644 "$W/routes"

# as_u [VAR=VALUE...] -- ARGS...: spindle (or the shim, with SSH=1) as
# the user, with no runtime directory set but what is given; stdout to
# $TMPD/out, stderr to $TMPD/err.
as_u() {
	_env=""
	while [ "$1" != -- ]; do
		_env="$_env $1"
		shift
	done
	shift
	_bin=$SPINDLE
	[ "${SSH:-0}" = 1 ] && _bin=$W/bin/ssh
	# shellcheck disable=SC2086
	(cd / && timeout -k 3 "$SPN_TIMEOUT" runuser -u "$u" -- env \
	    -u XDG_RUNTIME_DIR -u SPINDLE_RUNTIME_DIR -u SPINDLE_SSH_ARGS \
	    SPINDLE_ROUTES="$W/routes" $_env "$_bin" "$@") \
	    </dev/null >"$TMPD/out" 2>"$TMPD/err"
}

# refused WHAT TEXT STATUS: the last command failed with STATUS, saying
# TEXT and the way out, and printed nothing on stdout.
refused() {
	_rc=$?
	check_rc "$1" "$3" "$_rc" "$TMPD/err"
	contains "$TMPD/err" "spindle: $2" ||
	    fail "$1: wanted '$2', got: $(cat "$TMPD/err")"
	contains "$TMPD/err" "SPINDLE_RUNTIME_DIR" ||
	    fail "$1: no way out given: $(cat "$TMPD/err")"
	[ -s "$TMPD/out" ] && fail "$1: printed on stdout: $(cat "$TMPD/out")"
	return 0
}

# every_command ENV TEXT: what every command says with that environment.
every_command() {
	for _cmd in "ls" "up x local" "down x" "check local" "daemon start" \
	    "daemon status" "daemon stop" "fakessh-bin" "exec true" \
	    "run web -- true"; do
		# shellcheck disable=SC2086
		as_u $1 -- $_cmd
		refused "$_cmd ($2)" "$2" 255
	done
	SSH=1 as_u $1 -- local true
	refused "the shim ($2)" "$2" 255
	# An inline route needs no daemon: a warning, and it runs.
	as_u $1 -- run local -- echo ran
	check_rc "run local ($2)" 0 $? "$TMPD/err"
	check "run local ($2): output" ran "$(cat "$TMPD/out")"
	contains "$TMPD/err" "spindle: warning: $2" ||
	    fail "run local ($2): no warning: $(cat "$TMPD/err")"
	as_u $1 -- -q run local -- true
	check "run -q local ($2): stderr" "" "$(cat "$TMPD/err")"
	# The README's idiom keeps PATH as it was.
	out=$(cd / && runuser -u "$u" -- env -u XDG_RUNTIME_DIR \
	    -u SPINDLE_RUNTIME_DIR $1 PATH=/usr/bin:/bin SPINDLE="$SPINDLE" \
	    sh -c 'd=$("$SPINDLE" fakessh-bin 2>/dev/null) && PATH=$d:$PATH
		echo "$PATH"')
	check "PATH after the idiom ($2)" /usr/bin:/bin "$out"
}

# 1. /tmp/spindle-UID made by another user (root here): the issue's case.
mkdir -m 0700 "$DEF"
every_command "" "runtime directory $DEF belongs to uid 0 (root), not to you"
# 2. The user's own, but open to others.
chown "$u" "$DEF"
chmod 0755 "$DEF"
every_command "" "runtime directory $DEF has mode 0755, open to others: chmod 700 it"
rmdir "$DEF"
# 3. SPINDLE_RUNTIME_DIR a symbolic link (to a directory of the user's).
ln -s "$W/own" "$W/link"
as_u SPINDLE_RUNTIME_DIR="$W/link" -- fakessh-bin
refused "a symbolic link" "runtime directory $W/link is not a directory but a symbolic link" 255
# 4. SPINDLE_RUNTIME_DIR that cannot be made (for the commands that
# would make it: for the others there is simply no daemon).
for _cmd in "ls" "fakessh-bin" "exec true" "run web -- true"; do
	# shellcheck disable=SC2086
	as_u SPINDLE_RUNTIME_DIR="$W/none/rt" -- $_cmd
	refused "$_cmd (no parent)" "cannot create runtime directory $W/none/rt" 255
done

# The way out works: a directory of the user's own.
as_u SPINDLE_RUNTIME_DIR="$W/own/rt" -- fakessh-bin
check_rc "fakessh-bin, SPINDLE_RUNTIME_DIR set" 0 $? "$TMPD/err"
d=$(cat "$TMPD/out")
case $d in "$W/own/rt/fakessh-bin."*) ;; *) fail "fakessh-bin's directory: $d" ;; esac
[ -x "$d/ssh" ] || fail "no shim in $d"
pass
