#!/bin/sh
# The shim directory is one per binary: two copies of spindle at two
# paths (two installed versions), or one that moved, each get a directory
# whose ssh is themselves, made whole at once however many run at the
# same time; a link or a file planted in its place is refused, never
# followed; a wrong ssh in it is mended.  A daemon of another binary
# serves a client all the same, and says so when it was replaced since
# (an upgrade); the ssh hops a daemon starts find no shim of any spindle.
. "$(dirname "$0")/lib.sh"
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
RT=$SPINDLE_RUNTIME_DIR
mkdir "$TMPD/a" "$TMPD/b" || fail "mkdir"
A=$TMPD/a/spindle
B=$TMPD/b/spindle
cp "$SPINDLE" "$A" && cp "$SPINDLE" "$B" || fail "cp"
daemon_stop_on_exit "$A"

# Twenty at once, ten of each copy, into a runtime directory just made.
i=0
while [ $i -lt 10 ]; do
	"$A" fakessh-bin >"$TMPD/a.$i" 2>&1 &
	"$B" fakessh-bin >"$TMPD/b.$i" 2>&1 &
	i=$((i + 1))
done
wait
DA=$(cat "$TMPD/a.0")
DB=$(cat "$TMPD/b.0")
i=0
while [ $i -lt 10 ]; do
	check "fakessh-bin of a, run $i" "$DA" "$(cat "$TMPD/a.$i")"
	check "fakessh-bin of b, run $i" "$DB" "$(cat "$TMPD/b.$i")"
	i=$((i + 1))
done
[ "$DA" != "$DB" ] || fail "two binaries share the shim directory $DA"
case $DA in "$RT"/fakessh-bin.*) ;; *) fail "a's directory: $DA" ;; esac
check "a's ssh" "$A" "$(readlink "$DA/ssh")"
check "b's ssh" "$B" "$(readlink "$DB/ssh")"
for d in "$DA" "$DB"; do
	[ -x "$d/scp" ] && [ -x "$d/sftp" ] || fail "no scp, sftp in $d"
	check "mode of $d" 700 "$(stat -c %a "$d")"
done
left=$(find "$RT" -name '.*' ! -name . | wc -l)
check "temporary files left by the race" 0 "$left"

# Calling one copy again leaves the other's alone.
"$A" fakessh-bin >/dev/null || fail "fakessh-bin of a again"
check "b's ssh after a ran again" "$B" "$(readlink "$DB/ssh")"

# Each shim runs its own binary: the daemon b's shim starts is b.
timeout 20 "$DB/ssh" local+local true 2>"$TMPD/err"
check_rc "b's shim" 0 $? "$TMPD/err"
p=$(daemon_pid "$A")
[ -n "$p" ] || fail "no daemon after b's shim"
track "$p"
check "binary of the daemon b's shim started" "$B" "$(readlink "/proc/$p/exe")"
contains "$TMPD/err" "not this binary" && fail "b's shim: $(cat "$TMPD/err")"

# a's client is served by b's daemon; -v says whose it is.
timeout 20 "$A" -v run local -- true 2>"$TMPD/err"
check_rc "a through b's daemon" 0 $? "$TMPD/err"
contains "$TMPD/err" "the daemon (pid $p) runs $B, not this binary ($A)" ||
    fail "a -v: $(cat "$TMPD/err")"
# b's daemon says which binary it is.
"$A" daemon status >"$TMPD/out" 2>&1
contains "$TMPD/out" "($B)" || fail "status: $(cat "$TMPD/out")"

# An upgrade replaces b under its daemon: every client is told.
cp "$SPINDLE" "$TMPD/b/new" && mv "$TMPD/b/new" "$B" || fail "upgrade b"
timeout 20 "$B" run local -- true 2>"$TMPD/err"
check_rc "b after its upgrade" 0 $? "$TMPD/err"
contains "$TMPD/err" "the daemon (pid $p) runs $B (deleted), since replaced or removed; 'spindle daemon stop' makes the next command start this one ($B)" ||
    fail "b after its upgrade: $(cat "$TMPD/err")"
timeout 10 "$B" daemon stop >/dev/null || fail "daemon stop"
timeout 20 "$B" run local -- true 2>"$TMPD/err"
check_rc "b after the restart" 0 $? "$TMPD/err"
[ -s "$TMPD/err" ] && fail "b after the restart: $(cat "$TMPD/err")"
p=$(daemon_pid "$A")
track "$p"
timeout 10 "$B" daemon stop >/dev/null

# A moved binary gets a directory of its own; the old one's shim no
# longer runs anything but its own path (gone: it fails, runs no other).
mv "$A" "$TMPD/a/moved" || fail "mv"
DM=$("$TMPD/a/moved" fakessh-bin) || fail "fakessh-bin of the moved a"
[ "$DM" != "$DA" ] || fail "the moved binary kept the directory $DA"
check "the moved a's ssh" "$TMPD/a/moved" "$(readlink "$DM/ssh")"
check "the old directory's ssh" "$A" "$(readlink "$DA/ssh")"
mv "$TMPD/a/moved" "$A"

# A wrong ssh in the directory (an older spindle's, a hand's) is mended.
ln -sfn /bin/false "$DA/ssh"
"$A" fakessh-bin >/dev/null || fail "fakessh-bin over a wrong ssh"
check "a's mended ssh" "$A" "$(readlink "$DA/ssh")"

# Something else in its place is refused and left alone: a link to a
# directory that has an ssh, a file.
rm -rf "$DA"
mkdir "$TMPD/elsewhere" && ln -s /bin/false "$TMPD/elsewhere/ssh"
ln -s "$TMPD/elsewhere" "$DA"
"$A" fakessh-bin >"$TMPD/out" 2>"$TMPD/err"
check_rc "fakessh-bin over a planted link" 255 $? "$TMPD/err"
[ -s "$TMPD/out" ] && fail "a planted link: printed $(cat "$TMPD/out")"
contains "$TMPD/err" "$DA: " || fail "a planted link: $(cat "$TMPD/err")"
check "the planted link's target" /bin/false "$(readlink "$TMPD/elsewhere/ssh")"
rm "$DA" && : >"$DA"
"$A" fakessh-bin >"$TMPD/out" 2>"$TMPD/err"
check_rc "fakessh-bin over a file" 255 $? "$TMPD/err"
contains "$TMPD/err" "not a directory" || fail "a file: $(cat "$TMPD/err")"
rm "$DA"

# No shim of any spindle stays in the PATH spindle's commands see: the
# daemon's ssh hops would run it (and come back to the daemon).
out=$(PATH="$DB:$DM:/usr/bin:/bin" "$A" exec sh -c 'echo "$PATH"')
check "PATH under a's exec" "$DA:/usr/bin:/bin" "$out"

# The same for a user who is not root, who cannot read the /proc/PID/exe
# of a daemon (it is not dumpable): the daemon says which binary it is.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    nob=$(id -u nobody 2>/dev/null); then
	U=$TMPD/u
	mkdir -p "$U/a" "$U/b" "$U/rt" && chmod 711 "$TMPD" &&
	    cp "$SPINDLE" "$U/a/spindle" && cp "$SPINDLE" "$U/b/spindle" &&
	    chown -R "$nob" "$U" && chmod 700 "$U/rt" || fail "nobody's copies"
	asnobody() {
		HOME=$U SPINDLE_RUNTIME_DIR=$U/rt timeout 20 setpriv --reuid="$nob" \
		    --regid="$(id -g nobody)" --clear-groups "$@"
	}
	trap '_t=$?; asnobody "$U/a/spindle" daemon stop >/dev/null 2>&1
	    timeout 10 "$A" daemon stop >/dev/null 2>&1
	    (exit $_t); _lib_cleanup' EXIT
	asnobody "$U/b/spindle" daemon start >/dev/null || fail "nobody's daemon start"
	p=$(asnobody "$U/a/spindle" daemon status |
	    sed -n 's/^running, pid \([0-9]*\),.*/\1/p')
	[ -n "$p" ] || fail "nobody's daemon: no pid"
	track "$p"
	asnobody "$U/a/spindle" -v run local -- true 2>"$TMPD/err"
	check_rc "nobody's a through b's daemon" 0 $? "$TMPD/err"
	contains "$TMPD/err" "the daemon (pid $p) runs $U/b/spindle, not this binary ($U/a/spindle)" ||
	    fail "nobody's a -v: $(cat "$TMPD/err")"
	asnobody "$U/b/spindle" -v run local -- true 2>"$TMPD/err"
	contains "$TMPD/err" "not this binary" &&
	    fail "nobody's b -v: $(cat "$TMPD/err")"
	cp "$SPINDLE" "$U/b/new" && mv "$U/b/new" "$U/b/spindle" ||
	    fail "upgrade nobody's b"
	asnobody "$U/a/spindle" run local -- true 2>"$TMPD/err"
	check_rc "nobody's a after b's upgrade" 0 $? "$TMPD/err"
	contains "$TMPD/err" "the daemon (pid $p) runs $U/b/spindle (deleted), since replaced or removed" ||
	    fail "nobody's a after b's upgrade: $(cat "$TMPD/err")"
fi
pass
