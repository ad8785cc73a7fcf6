#!/bin/sh
# Files over ssh + sudo (issue 10 point 5): 1 GiB put to $U_W's directory
# and got back, through ssh to $U_A and sudo to $U_W with a password
# under requiretty (lib-fakessh.sh's world), arrives whole both ways
# (sha256), owned by $U_W with the mode asked for, with no temporary file
# left, while no process on the path (the master, each hop's agent)
# ever holds 64 MiB resident (VmHWM, read at the end while they all still
# run).  A permission denied there names the context, the path and EACCES.
# The data lives in a tmpfs of the test's own: the disk is not a party.
# LIB_FILE_SSH_MB: how many MiB (1024).
. "$(dirname "$0")/lib-fakessh.sh"

command -v sha256sum >/dev/null || skip "sha256sum is not installed"
command -v base64 >/dev/null || skip "base64 is not installed"
lib_prog tests/lib/file
F=$PROG
T0=$(date +%s)
MB=${LIB_FILE_SSH_MB:-1024}
SIZE=$((MB * 1048576))
LIMIT_KB=65536
H1=$U_A@127.0.0.1,config=$SSH_CFG
R=$H1+sudo=$U_W

# Room for two copies at a time: the source goes before the get.  In
# the world's directory, which $U_W can reach.
FS=$SSHW/fs
mkdir "$FS" && mount -t tmpfs -o size=$((MB * 2 + 100))m,mode=0755 tmpfs "$FS" ||
    skip "cannot mount a tmpfs"
trap '_t=$?; umount -l "$FS" 2>/dev/null; (exit $_t); _fakessh_cleanup' EXIT
mkdir "$FS/web" && chown "$U_W:" "$FS/web" || fail "mkdir"

# Deterministic enough and fast: one random line of base64, repeated
# (throughput.sh's).
line=$(head -c 3000 /dev/urandom | base64 | tr -d '\n')
yes "$line" | head -c "$SIZE" | tee "$FS/src" | sha256sum >"$TMPD/want"
echo small >"$TMPD/small"
log "$MB MiB made in $(($(date +%s) - T0)) s"

# paused N: wait (170 s at most) until the program paused N times.
paused() {
	_pt=1700
	while [ "$(grep -c '^paused$' "$TMPD/err")" -lt "$1" ]; do
		alive "$prog" || fail "the program ended early: $(cat "$TMPD/err")"
		_pt=$((_pt - 1))
		[ "$_pt" -gt 0 ] || fail "the program never paused $1 times"
		sleep 0.1
	done
}

spn_prog 170 "$F" -P "$PWFILE" "$R" put "$TMPD/small" "$SSHW/home/$U_A/x" -1 -- \
    put "$FS/src" "$FS/web/big" 0640 -- pause "$TMPD/go1" -- \
    get "$FS/web/big" "$FS/back" -1 -- hwm -- pause "$TMPD/go2" \
    >"$TMPD/out" 2>"$TMPD/err" &
prog=$!
paused 1
master=$(last_master)
rm -f "$FS/src"
touch "$TMPD/go1"
paused 2
agents=$(agents_of "$master")
for p in $master $agents; do
	kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$p/status")
	echo "$p $kb $(args_of "$p" | cut -c1-40)"
done >"$TMPD/hwm"
touch "$TMPD/go2"
wait "$prog"
rc=$?
sed 's/^/  file: /' "$TMPD/err" >&2
check_rc "the program" 1 "$rc"

# (The context's name is cut at 63 bytes: spn_error's.)
ctx=$(printf '%.63s' "$R")
grep -qxF "error put ECALL errno 13: context $ctx: open $SSHW/home/$U_A/x (Permission denied)" \
    "$TMPD/err" || fail "permission denied: not said whole"
put_ms=$(sed -n 's/^ok put in \([0-9]*\) ms$/\1/p' "$TMPD/err")
get_ms=$(sed -n 's/^ok get in \([0-9]*\) ms$/\1/p' "$TMPD/err")
[ -n "$put_ms" ] || fail "the put failed"
[ -n "$get_ms" ] || fail "the get failed"
log "$MB MiB put in $put_ms ms, got back in $get_ms ms over ssh + sudo"
check "sha256 back here" "$(cut -d' ' -f1 "$TMPD/want")" \
    "$(sha256sum <"$FS/back" | cut -d' ' -f1)"
# ... so the same there, if the two are the same.
cmp -s "$FS/back" "$FS/web/big" || fail "the file there differs"
check "there: owner and mode" "$U_W 640" "$(stat -c '%U %a' "$FS/web/big")"
check "back here: mode" "640" "$(stat -c '%a' "$FS/back")"
check "files there" "big" "$(ls -A "$FS/web")"
check "files here" "back web" "$(ls -A "$FS" | LC_ALL=C sort | tr '\n' ' ' |
    sed 's/ $//')"

# VmHWM: the master and both hops' agents, each under the bound.
sed "s/^/  VmHWM kB: /" "$TMPD/hwm" >&2
check "processes measured (the master, 2 agents)" 3 "$(wc -l <"$TMPD/hwm")"
over=$(awk -v l="$LIMIT_KB" '$2 == "" || $2 >= l' "$TMPD/hwm")
[ -z "$over" ] || fail "VmHWM of $LIMIT_KB kB or more: $over"
no_world_procs 5 "files"
log "took $(($(date +%s) - T0)) s"
pass
