#!/bin/sh
# Files to and from contexts (issue 10 point 5) over local routes, with
# tests/lib/file: modes, the atomic rename (a reader sees the old file or
# the new one, never part of one), the errors of each side with the path
# and the errno, and no temporary file left on either side when the
# context, or the master, is killed mid-transfer, when the disk fills up,
# or when spn_shutdown() wakes a transfer.  As root, also the errors of a
# sudo'd user (permission denied) and its relative paths.
# lib-file-ssh.sh moves 1 GiB each way over ssh + sudo.
. "$(dirname "$0")/lib.sh"

lib_prog tests/lib/file
F=$PROG
T0=$(date +%s)
D=$TMPD/d
mkdir "$D" || fail "mkdir"
# The tmpfs mounted below go on exit (with the test's status kept).
trap '_t=$?; for _m in "$TMPD/full" "$TMPD/here"; do
	mountpoint -q "$_m" 2>/dev/null && umount -l "$_m"; done
	(exit $_t); _lib_cleanup' EXIT

# f WHAT RC ARGS...: run the program (60 s at most), its lines logged;
# its stderr is in $TMPD/err.
f() {
	_fw=$1 _frc=$2
	shift 2
	spn_prog 60 "$F" "$@" >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	sed "s/^/  $_fw: /" "$TMPD/err" >&2
	check_rc "$_fw" "$_frc" "$_rc"
}

# says WHAT LINE: the program said LINE (a whole line).
says() {
	grep -qxF -- "$2" "$TMPD/err" || fail "$1: it did not say '$2'"
}

# only WHAT DIR NAMES...: DIR holds those names and nothing else (no
# temporary file).
only() {
	_ow=$1 _od=$2
	shift 2
	check "$_ow: files in $_od" "$*" "$(ls -A "$_od" | LC_ALL=C sort |
	    tr '\n' ' ' | sed 's/ $//')"
}

# agent_fds PID DIR: how many files under DIR the process has open.
agent_fds() {
	ls -l "/proc/$1/fd" 2>/dev/null | grep -cF -- "$2/"
}

# wait_fd WHAT PID DIR: until PID has a file under DIR open (10 s).
wait_fd() {
	_wt=100
	while [ "$(agent_fds "$2" "$3")" = 0 ]; do
		_wt=$((_wt - 1))
		[ "$_wt" -gt 0 ] || fail "$1: pid $2 never opened a file in $3"
		sleep 0.1
	done
}

head -c 300000 /dev/urandom >"$TMPD/src"
chmod 0600 "$TMPD/src"

# Modes: exactly the one asked for, whatever the umask; -1 is 0644 for a
# put and the source's for a get.
(umask 077 && f modes 0 local put "$TMPD/src" "$D/a" 0640 -- \
    put "$TMPD/src" "$D/b" -1 -- put "$TMPD/src" "$D/c" 4755 -- \
    get "$D/a" "$TMPD/a1" -1 -- get "$D/c" "$TMPD/c1" 0600) || exit 1
for p in "$D/a 640" "$D/b 644" "$D/c 4755" "$TMPD/a1 640" "$TMPD/c1 600"; do
	check "mode of ${p% *}" "${p#* }" "$(stat -c %a "${p% *}")"
	cmp -s "$TMPD/src" "${p% *}" || fail "${p% *} differs from the source"
done
only "modes" "$D" a b c
# The _fd forms: stdin to a file, a file to stdout.
printf 'one\ntwo\n' | spn_prog 60 "$F" local putfd "$D/fd" 0600 2>"$TMPD/err"
check_rc "putfd" 0 $? "$TMPD/err"
check "putfd: content" "one
two" "$(cat "$D/fd")"
spn_prog 60 "$F" local getfd "$D/fd" >"$TMPD/out" 2>"$TMPD/err"
check_rc "getfd" 0 $? "$TMPD/err"
cmp -s "$D/fd" "$TMPD/out" || fail "getfd: content differs"
rm -f "$D/fd"
procs_left "modes"

# Atomic: while a 32 MiB file replaces a 1 MiB one, three times, a reader
# polling the destination only ever sees one of the two sizes.
head -c 1048576 /dev/zero | tr '\0' a >"$D/atom"
head -c 33554432 /dev/zero | tr '\0' b >"$TMPD/big"
(
	while [ ! -e "$TMPD/stop" ]; do
		stat -c %s "$D/atom"
	done >"$TMPD/sizes" 2>&1
) &
reader=$!
track $reader
f atomic 0 local put "$TMPD/big" "$D/atom" -1 -- \
    put "$TMPD/big" "$D/atom" -1 -- put "$TMPD/big" "$D/atom" -1
touch "$TMPD/stop"
wait "$reader"
n=$(wc -l <"$TMPD/sizes")
bad=$(grep -cvxE '1048576|33554432' "$TMPD/sizes")
log "atomic: $n sizes read while putting 3 x 32 MiB, $bad of another size"
check "atomic: sizes seen that were neither" 0 "$bad"
[ "$n" -gt 10 ] || fail "atomic: the reader read $n times only"
cmp -s "$TMPD/big" "$D/atom" || fail "atomic: the file differs"
only "atomic" "$D" a atom b c
rm -f "$TMPD/big" "$TMPD/sizes"

# Errors: the side that failed, the path, the errno.
f errors 1 local put "$TMPD/src" "$D/none/x" -1 -- put "$TMPD/src" "$D" -1 -- \
    get "$D/none" "$TMPD/x" -1 -- get "$D" "$TMPD/x" -1 -- \
    get /dev/null "$TMPD/x" -1 -- put "$TMPD/none" "$D/x" -1 -- \
    get "$D/a" "$TMPD/none/x" -1 -- putfd "$D/x" 010000 -- deadlk
says "missing directory" "error put ECALL errno 2: context local: open $D/none/x (No such file or directory)"
says "a directory" "error put ECALL errno 21: context local: open $D (Is a directory)"
says "get of a missing file" "error get ECALL errno 2: context local: open $D/none (No such file or directory)"
says "get of a directory" "error get ECALL errno 21: context local: get $D (Is a directory)"
says "get of a device" "error get ECALL errno 0: context local: get /dev/null: not a regular file"
says "missing source here" "error put ESYS errno 2: open $TMPD/none (No such file or directory)"
says "missing directory here" "error get ESYS errno 2: open $TMPD/none/x (No such file or directory)"
says "bad mode" "error putfd EINVAL errno 0: context local: spn_put_fd(): mode 010000"
contains "$TMPD/err" "error deadlk EDEADLK errno 0: spn_put_file() on the library's loop thread" ||
    fail "deadlk: no SPN_EDEADLK from an SPN_INLINE export"
[ -e "$TMPD/x" ] && fail "errors: $TMPD/x was made"
only "errors" "$D" a atom b c
procs_left "errors"

# Disk full, there and here: ENOSPC names the file, nothing is left.
if mkdir "$TMPD/full" && mount -t tmpfs -o size=1m,mode=0755 tmpfs \
    "$TMPD/full" 2>/dev/null; then
	head -c 2000000 /dev/zero >"$TMPD/two"
	f "disk full" 1 local put "$TMPD/two" "$TMPD/full/x" -1 -- \
	    get "$TMPD/two" "$TMPD/full/y" -1
	says "disk full there" "error put ECALL errno 28: context local: write $TMPD/full/x (No space left on device)"
	says "disk full here" "error get ESYS errno 28: write $TMPD/full/y (No space left on device)"
	only "disk full" "$TMPD/full"
	check "disk full: blocks used" 0 "$(df -k --output=used "$TMPD/full" |
	    tail -1 | tr -d ' ')"
	umount "$TMPD/full"
	procs_left "disk full"
else
	log "disk full: skipped (cannot mount a tmpfs)"
fi

# slow_put WHAT NAME: a put to $D/NAME, mid-transfer for as long as we
# please: it reads a FIFO that we keep open (fd 3).  Sets prog, master
# and ag (the agent, once it has the file open).
mkfifo "$TMPD/slow"
slow_put() {
	spn_prog 60 "$F" local putfd "$D/$2" 0644 <"$TMPD/slow" \
	    >"$TMPD/out" 2>"$TMPD/err" &
	prog=$!
	exec 3>"$TMPD/slow"
	head -c 1048576 /dev/zero >&3
	sleep 0.2
	master=$(last_master)
	ag=$(agents_of "$master")
	[ -n "$ag" ] || fail "$1: no agent"
	wait_fd "$1" "$ag" "$D"
}

# The context killed mid-put: SPN_ELOST naming the file, and nothing of
# it there.
slow_put kill k
kill -KILL "$ag"
wait "$prog"
rc=$?
exec 3>&-
sed 's/^/  kill: /' "$TMPD/err" >&2
check_rc "kill: the program" 1 "$rc"
grep -qE "^error putfd ELOST errno 0: context local: put $D/k: .*killed by signal 9" \
    "$TMPD/err" || fail "kill: not SPN_ELOST naming $D/k"
only "kill" "$D" a atom b c
procs_left "kill"

# The master killed mid-put: the context goes, and its file with it.
slow_put "master killed" m
kill -KILL "$master"
wait "$prog"
exec 3>&-
wait_gone "$ag" 5 || fail "master killed: the agent stayed"
only "master killed" "$D" a atom b c

# The context killed after it sent all and DONE, while this side still
# writes to a pipe nobody reads: SPN_ELOST, not a wait for ever.
head -c 1572864 /dev/zero >"$TMPD/mid"
mkfifo "$TMPD/pipe"
spn_prog 60 "$F" local getfd "$TMPD/mid" >"$TMPD/pipe" 2>"$TMPD/err" &
prog=$!
exec 4<"$TMPD/pipe"
sleep 0.2
ag=$(agents_of "$(last_master)")
[ -n "$ag" ] || fail "kill after DONE: no agent"
# Done there: it read the file (and more) and closed it.
t=100
while [ "$(awk '$1 == "rchar:" { print $2 }' "/proc/$ag/io")" -lt 1572864 ] ||
    [ "$(agent_fds "$ag" "$TMPD")" != 0 ]; do
	t=$((t - 1))
	[ "$t" -gt 0 ] || fail "kill after DONE: the agent never finished"
	sleep 0.1
done
kill -KILL "$ag"
sleep 0.5
cat <&4 >/dev/null &
wait "$prog"
rc=$?
exec 4<&-
sed 's/^/  kill after DONE: /' "$TMPD/err" >&2
check_rc "kill after DONE: the program" 1 "$rc"
grep -qE "^error getfd ELOST errno 0: context local: get $TMPD/mid: " \
    "$TMPD/err" || fail "kill after DONE: not SPN_ELOST naming the file"
procs_left "kill after DONE"

# The context killed mid-get: nothing here.  The master is stopped while
# its temporary file is open, so that the 4 GiB (sparse) source cannot be
# done before the kill; the tmpfs would fill up before it could be.
truncate -s 4G "$TMPD/sparse"
mkdir "$TMPD/here"
if mount -t tmpfs -o size=256m tmpfs "$TMPD/here" 2>/dev/null; then
	spn_prog 60 "$F" local get "$TMPD/sparse" "$TMPD/here/g" -1 \
	    >"$TMPD/out" 2>"$TMPD/err" &
	prog=$!
	sleep 0.2
	master=$(last_master)
	wait_fd "kill mid-get" "$master" "$TMPD/here"
	kill -STOP "$master"
	ag=$(agents_of "$master")
	kill -KILL "$ag"
	kill -CONT "$master"
	wait "$prog"
	rc=$?
	sed 's/^/  kill mid-get: /' "$TMPD/err" >&2
	check_rc "kill mid-get: the program" 1 "$rc"
	grep -qE "^error get ELOST errno 0: context local: get $TMPD/sparse: .*killed by signal 9" \
	    "$TMPD/err" || fail "kill mid-get: not SPN_ELOST naming the file"
	only "kill mid-get" "$TMPD/here"
	umount "$TMPD/here"
	procs_left "kill mid-get"
else
	log "kill mid-get: skipped (cannot mount a tmpfs)"
fi
rm -f "$TMPD/sparse"

# spn_shutdown() wakes a put that would never end: SPN_ESHUTDOWN, and no
# file there.
f shutdown 0 local shutdown "$D/s"
procs_left "shutdown"
only "shutdown" "$D" a atom b c

# A sudo'd user: permission denied names the path; a relative path is
# taken from its home.
if [ "$(id -u)" = 0 ] && command -v sudo >/dev/null && command -v useradd \
    >/dev/null; then
	u=spnf$$
	user_add "$u"
	home=$(getent passwd "$u" | cut -d: -f6)
	chmod 0600 "$D/a"
	f "sudo=$u" 1 "sudo=$u" put "$TMPD/src" "$D/u" -1 -- \
	    get "$D/a" "$TMPD/u" -1 -- put "$TMPD/src" rel 0600 -- \
	    get rel "$TMPD/rel" -1
	says "permission denied there" "error put ECALL errno 13: context sudo=$u: open $D/u (Permission denied)"
	says "permission denied to read" "error get ECALL errno 13: context sudo=$u: open $D/a (Permission denied)"
	check "relative: owner and mode" "$u 600" "$(stat -c '%U %a' "$home/rel")"
	cmp -s "$TMPD/src" "$home/rel" || fail "relative: $home/rel differs"
	cmp -s "$TMPD/src" "$TMPD/rel" || fail "relative: got back another"
	only "sudo" "$D" a atom b c
	procs_left "sudo=$u"
else
	log "sudo: skipped (needs root, sudo and useradd)"
fi

log "took $(($(date +%s) - T0)) s"
pass
