#!/bin/sh
# Stage 0's fallbacks over a real ssh link, where the image arrives
# gzip'd: without perl the agent still runs from a memfd (python3 and
# zlib); without perl and python3 it runs from a file that is gone at once
# (dd | gzip -dc).  Either way no file is left on the "remote".
# Runs while lib-sshd writes sshd's config: PATHs without perl (and
# without python3) for two of the users, made here so that they exist
# before lib-sshd's first connection.
sshd_extra_config() {
	for d in nopl noplpy; do
		[ -d "$SSHW/$d" ] && continue
		mkdir -m 755 "$SSHW/$d"
		for t in sh dash bash uname dd gzip chmod rm cat id readlink \
		    sleep true python3; do
			[ "$d" = noplpy ] && [ "$t" = python3 ] && continue
			p=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t") &&
			    ln -s "$p" "$SSHW/$d/$t"
		done
	done
	printf 'Match User %s\n\tSetEnv PATH=%s/nopl\n' "$U_A" "$SSHW"
	printf 'Match User %s\n\tSetEnv PATH=%s/noplpy\n' "$U_B" "$SSHW"
}
. "$(dirname "$0")/lib-sshd.sh"

remote_files() {
	find /tmp /var/tmp /dev/shm /run/user -xdev -path "$SSHW" -prune -o \
	    \( -user "$U_A" -o -user "$U_B" \) -print 2>/dev/null |
	    LC_ALL=C sort
	(cd "$SSHW/home" && find . -xdev -newer "$SSHW/nopl") | LC_ALL=C sort
}
remote_files >"$TMPD/before"

out=$(spn run "$U_A@127.0.0.1" -- sh -c \
    'command -v perl; readlink /proc/$PPID/exe' 2>"$TMPD/err")
check_rc "no perl" 0 $? "$TMPD/err"
check "no perl: the agent runs from a memfd" "/memfd:spindle (deleted)" "$out"

out=$(spn run "$U_B@127.0.0.1" -- sh -c \
    'command -v perl python3; readlink /proc/$PPID/exe' 2>"$TMPD/err")
check_rc "no perl, no python3" 0 $? "$TMPD/err"
case $out in
*"/.spindle."*" (deleted)") ;;
*) fail "no perl, no python3: agent's exe is '$out'" ;;
esac
# A 4 MB round trip proves the gunzip'd image is whole and working.
head -c 4000000 /dev/urandom >"$TMPD/data"
a=$(sha256sum <"$TMPD/data" | cut -d' ' -f1)
b=$(spn run "$U_B@127.0.0.1" -- cat <"$TMPD/data" 2>"$TMPD/err" | sha256sum | cut -d' ' -f1)
check "4 MB through the file-fallback agent" "$a" "$b"
no_world_procs 5 "after the fallback runs"
remote_files >"$TMPD/after"
cmp -s "$TMPD/before" "$TMPD/after" ||
    fail "files left on the remote: $(diff "$TMPD/before" "$TMPD/after")"
pass
