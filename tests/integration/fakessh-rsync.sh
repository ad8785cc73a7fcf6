#!/bin/sh
# rsync over the ssh shim (rsync's default `ssh`, found first in PATH) on
# the route ssh -> sudo=webapp (sudo password, requiretty): push and pull
# of a 1 GiB file and of 10 000 small files with -a, --delete and
# --partial, checksums equal on both sides and the remote files owned by
# the sudo user; 32 rsyncs at once over the route's one connection; and
# the sudo hop killed under a running rsync: rsync fails naming hop 2, the
# route is down, the partial file is kept, and the next rsync reconnects.
. "$(dirname "$0")/lib-fakessh.sh"

command -v rsync >/dev/null 2>&1 || skip "rsync is not installed"
command -v sha256sum >/dev/null 2>&1 || skip "sha256sum is not installed"
command -v split >/dev/null 2>&1 || skip "split is not installed"

PATH=$FAKEBIN:$PATH
export PATH
cd "$TMPD" || fail "cd $TMPD"
base=$(sshd_auths)

# rs ARGS...: rsync under a timeout, stderr to $TMPD/err.
rs() {
	timeout -k 5 120 rsync "$@" </dev/null 2>"$TMPD/err"
}

# tree_sums DIR: "SHA256  ./PATH" of every file below DIR, sorted by path.
tree_sums() {
	(cd "$1" && find . -type f -exec sha256sum {} + | sort -k 2)
}

# owned_by_w DIR: every file and directory below DIR is $U_W's.
owned_by_w() {
	_o=$(find "$1" ! -user "$U_W" | head -n 5)
	[ -z "$_o" ] || fail "$1: not owned by $U_W: $(echo $_o)"
}

# The big file: a random MiB, 1024 times (random enough for rsync, which
# sends a new file whole; quick to make).
mkdir big small pull || fail "mkdir"
head -c 1048576 /dev/urandom >blk
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cat blk; done >blk16
i=0
while [ $i -lt 64 ]; do
	cat blk16
	i=$((i + 1))
done >big/f
rm -f blk blk16
check "big file size" 1073741824 "$(stat -c %s big/f)"
want_big=$(sha256sum <big/f)

# 10 000 small files of random bytes: 10 directories of 1000, each
# directory's files a different size (50 to 500 bytes).
d=0
while [ $d -lt 10 ]; do
	mkdir "small/d$d"
	sz=$((50 * (d + 1)))
	head -c $((sz * 1000)) /dev/urandom |
	    (cd "small/d$d" && split -a 3 -d -b "$sz" - f) ||
	    fail "split failed"
	d=$((d + 1))
done
check "small files" 10000 "$(find small -type f | wc -l)"

# Push.
rs -a --partial big/ web:big/
check_rc "push of the 1 GiB file" 0 $? "$TMPD/err"
check "remote sha256 of the big file" "$want_big" \
    "$(sha256sum <"$WEBHOME/big/f")"
rs -a --partial small/ web:small/
check_rc "push of 10 000 files" 0 $? "$TMPD/err"
tree_sums small >sums.local
tree_sums "$WEBHOME/small" >sums.remote
cmp -s sums.local sums.remote || fail "small files differ after the push"
owned_by_w "$WEBHOME/big"
owned_by_w "$WEBHOME/small"

# --delete: what is gone here goes there too.
rm small/d3/f005 small/d7/f999
rm -r small/d9
rs -a --delete small/ web:small/
check_rc "push with --delete" 0 $? "$TMPD/err"
[ -e "$WEBHOME/small/d3/f005" ] && fail "--delete: d3/f005 still there"
[ -e "$WEBHOME/small/d7/f999" ] && fail "--delete: d7/f999 still there"
[ -e "$WEBHOME/small/d9" ] && fail "--delete: d9 still there"
tree_sums small >sums.local
tree_sums "$WEBHOME/small" >sums.remote
check "files after --delete" 8998 "$(wc -l <sums.remote)"
cmp -s sums.local sums.remote || fail "small files differ after --delete"

# Pull, into an empty place.
rs -a --partial web:big/ pull/big/
check_rc "pull of the 1 GiB file" 0 $? "$TMPD/err"
check "pulled sha256 of the big file" "$want_big" "$(sha256sum <pull/big/f)"
rm -f pull/big/f
rs -a web:small/ pull/small/
check_rc "pull of the small files" 0 $? "$TMPD/err"
tree_sums pull/small >sums.pulled
cmp -s sums.local sums.pulled || fail "small files differ after the pull"

# 32 rsyncs at once, each its own directory, over the one connection.
mkdir conc
rs -a conc/ web:conc/
check_rc "push of an empty directory" 0 $? "$TMPD/err"
i=0
while [ $i -lt 32 ]; do
	mkdir "c$i"
	head -c $((1000 + i * 517)) /dev/urandom >"c$i/a"
	echo "$i" >"c$i/b"
	i=$((i + 1))
done
pids=""
i=0
while [ $i -lt 32 ]; do
	timeout -k 5 120 rsync -a "c$i/" "web:conc/c$i/" </dev/null \
	    >"out.c$i" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
i=0
for p in $pids; do
	wait "$p"
	check_rc "concurrent rsync $i" 0 $? "out.c$i"
	i=$((i + 1))
done
i=0
while [ $i -lt 32 ]; do
	check "concurrent rsync $i: files" "$(tree_sums "c$i")" \
	    "$(tree_sums "$WEBHOME/conc/c$i")"
	i=$((i + 1))
done
owned_by_w "$WEBHOME/conc"
check "sshd logins for all of that" 1 $(($(sshd_auths) - base))

# The sudo hop killed under a running rsync (--bwlimit: 64 MiB take 8 s).
mkdir fault
head -c 67108864 big/f >fault/f
want_fault=$(sha256sum <fault/f)
timeout -k 5 120 rsync -a --partial --bwlimit=8m fault/ web:fault/ \
    </dev/null 2>"$TMPD/err.fault" &
rp=$!
# Once it is under way (its temporary file has grown past 1 MiB)...
t=100
while [ $t -gt 0 ]; do
	sz=$(find "$WEBHOME/fault" -type f -size +1024k 2>/dev/null)
	[ -n "$sz" ] && break
	alive "$rp" || break
	sleep 0.1
	t=$((t - 1))
done
[ -n "$sz" ] || fail "the throttled rsync did not start: $(cat "$TMPD/err.fault")"
agent=$(ps -o pid= -o args= -u "$U_W" | awk '$2 ~ /^spindle:/ { print $1 }')
check "hop 2 agents (owned by $U_W)" 1 "$(echo $agent | wc -w)"
kill -KILL "$agent"
wait "$rp"
rc=$?
[ "$rc" -ne 0 ] || fail "rsync succeeded though hop 2 was killed"
[ "$rc" -eq 124 ] && fail "rsync hung after hop 2 was killed"
contains "$TMPD/err.fault" "hop 2 (" ||
    fail "rsync's stderr does not name hop 2: $(cat "$TMPD/err.fault")"
"$SPINDLE" ls >ls.out 2>&1 || fail "spindle ls failed: $(cat ls.out)"
check "route state after the kill" down \
    "$(awk '$1 == "web" { print $2 }' ls.out)"
# --partial: the remote rsync saw its input end and kept what it had.
t=50
while [ $t -gt 0 ] && [ ! -f "$WEBHOME/fault/f" ]; do
	sleep 0.1
	t=$((t - 1))
done
[ -f "$WEBHOME/fault/f" ] || fail "--partial: no partial file kept"
[ "$(stat -c %s "$WEBHOME/fault/f")" -lt 67108864 ] ||
    fail "--partial: the file was complete before the kill"
# No rsync of the killed connection is left running.
t=50
while [ $t -gt 0 ]; do
	left=$(ps -o pid= -o stat= -o args= -u "$U_W" |
	    awk '$2 !~ /^Z/ && $3 ~ /rsync/')
	[ -z "$left" ] && break
	sleep 0.1
	t=$((t - 1))
done
[ -z "$left" ] || fail "remote rsync left running 5 s after the kill: $left"

# The next rsync reconnects and finishes the file.
rs -a --partial fault/ web:fault/
check_rc "rsync after the kill" 0 $? "$TMPD/err"
check "sha256 after the reconnect" "$want_fault" \
    "$(sha256sum <"$WEBHOME/fault/f")"
owned_by_w "$WEBHOME/fault"
"$SPINDLE" ls >ls.out 2>&1 || fail "spindle ls failed: $(cat ls.out)"
check "route state after the reconnect" up \
    "$(awk '$1 == "web" { print $2 }' ls.out)"
check "sshd logins: one more for the reconnect" 2 $(($(sshd_auths) - base))
pass
