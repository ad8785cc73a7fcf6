#!/bin/sh
# scp and sftp over the ssh shim (found first in PATH) on the route
# ssh -> sudo=webapp (sudo password, requiretty): scp upload, download and
# recursive copies both ways, in SFTP mode (OpenSSH's default since 9.0:
# `ssh -s ... sftp`) and in legacy mode (-O: `ssh ... scp -t/-f`), the
# contents equal and the remote files owned by the sudo user; sftp -b
# with put, get, ls, rename, rm and mkdir, their effects checked on the
# remote file system itself.  All of it over the route's one connection.
. "$(dirname "$0")/lib-fakessh.sh"

command -v scp >/dev/null 2>&1 || skip "scp is not installed"
command -v sftp >/dev/null 2>&1 || skip "sftp is not installed"
command -v sha256sum >/dev/null 2>&1 || skip "sha256sum is not installed"

# scp and sftp run /usr/bin/ssh (their _PATH_SSH_PROGRAM), not the ssh
# of PATH: -S names the shim, through a wrapper that logs the ssh command
# lines (to see which protocol each mode used).
mkdir "$TMPD/bin" || fail "mkdir"
cat >"$TMPD/bin/ssh" <<EOF
#!/bin/sh
echo "\$*" >>"$TMPD/ssh.log"
exec "$FAKEBIN/ssh" "\$@"
EOF
chmod +x "$TMPD/bin/ssh"
fscp() {
	: >"$TMPD/ssh.log"
	timeout 60 scp -S "$TMPD/bin/ssh" -q "$@" </dev/null
}
fsftp() {
	timeout 60 sftp -S "$TMPD/bin/ssh" -q "$@" </dev/null
}
# used MODE: the last scp ran ssh as that mode does.
used() {
	case $1 in
	sftp) grep -q -- ' -s .*web sftp$' "$TMPD/ssh.log" ;;
	legacy) grep -q -- ' web scp .*-[ft] ' "$TMPD/ssh.log" ;;
	esac || fail "scp in $1 mode ran: $(cat "$TMPD/ssh.log")"
}
cd "$TMPD" || fail "cd $TMPD"
base=$(sshd_auths)

# tree_sums DIR: "SHA256  ./PATH" of every file below DIR, sorted by path,
# then every directory.
tree_sums() {
	(cd "$1" && find . -type f -exec sha256sum {} + | sort -k 2 &&
	    find . -type d | sort)
}

# owned_by_w PATH: PATH, and all below it, is $U_W's.
owned_by_w() {
	[ -e "$1" ] || fail "$1 does not exist"
	_o=$(find "$1" ! -user "$U_W" | head -n 5)
	[ -z "$_o" ] || fail "$1: not owned by $U_W: $(echo $_o)"
}

# sha FILE: its sha256.
sha() {
	sha256sum <"$1"
}

# Local things to copy: a file of 5 MiB, a tree with a subdirectory, a
# name with blanks, an empty file.
head -c 5242880 /dev/urandom >file
mkdir -p tree/sub "tree/sub dir"
head -c 100000 /dev/urandom >tree/a
head -c 3000 /dev/urandom >tree/sub/b
: >tree/sub/empty
head -c 70000 /dev/urandom >"tree/sub dir/x y"

for mode in sftp legacy; do
	case $mode in
	sftp) opt="" ;;
	legacy) opt=-O ;;
	esac

	# Upload (relative to the remote home) and download.
	fscp $opt file "web:up-$mode" 2>err
	check_rc "$mode: scp upload" 0 $? err
	used $mode
	check "$mode: uploaded file" "$(sha file)" "$(sha "$WEBHOME/up-$mode")"
	owned_by_w "$WEBHOME/up-$mode"

	head -c 1234567 /dev/urandom >"$WEBHOME/down-$mode"
	chown "$U_W:" "$WEBHOME/down-$mode"
	fscp $opt "web:down-$mode" "got-$mode" 2>err
	check_rc "$mode: scp download" 0 $? err
	check "$mode: downloaded file" "$(sha "$WEBHOME/down-$mode")" \
	    "$(sha "got-$mode")"

	# An absolute remote path.
	fscp $opt file "web:$WEBHOME/abs-$mode" 2>err
	check_rc "$mode: scp to an absolute path" 0 $? err
	check "$mode: file at the absolute path" "$(sha file)" \
	    "$(sha "$WEBHOME/abs-$mode")"

	# Recursive, up and down.
	fscp -r $opt tree "web:rtree-$mode" 2>err
	check_rc "$mode: scp -r upload" 0 $? err
	check "$mode: uploaded tree" "$(tree_sums tree)" \
	    "$(tree_sums "$WEBHOME/rtree-$mode")"
	owned_by_w "$WEBHOME/rtree-$mode"

	fscp -r $opt "web:rtree-$mode" "back-$mode" 2>err
	check_rc "$mode: scp -r download" 0 $? err
	used $mode
	check "$mode: downloaded tree" "$(tree_sums tree)" \
	    "$(tree_sums "back-$mode")"

	# A remote file that is not there: scp fails (1, not 255: the
	# route itself is fine).
	fscp $opt "web:no-such-file" nothing 2>err
	check_rc "$mode: scp of a missing file" 1 $?
	[ -e nothing ] && fail "$mode: scp of a missing file made one"
done

# sftp in batch mode.
head -c 200000 /dev/urandom >put1
head -c 300000 /dev/urandom >put2
cat >batch <<EOF
mkdir sdir
put put1 sdir/one
put put2 sdir/two
ls -1 sdir
rename sdir/one sdir/uno
rm sdir/two
mkdir sdir/inner
get sdir/uno got-uno
EOF
fsftp -b batch web >sftp.out 2>err
check_rc "sftp -b" 0 $? err
[ -d "$WEBHOME/sdir" ] || fail "sftp mkdir: no $WEBHOME/sdir"
[ -d "$WEBHOME/sdir/inner" ] || fail "sftp mkdir: no $WEBHOME/sdir/inner"
[ -e "$WEBHOME/sdir/one" ] && fail "sftp rename: sdir/one still there"
[ -e "$WEBHOME/sdir/two" ] && fail "sftp rm: sdir/two still there"
check "sftp put+rename: sdir/uno" "$(sha put1)" "$(sha "$WEBHOME/sdir/uno")"
check "sftp get" "$(sha put1)" "$(sha got-uno)"
check "remote sdir" "inner uno" "$(echo $(ls "$WEBHOME/sdir"))"
owned_by_w "$WEBHOME/sdir"
contains sftp.out "sdir/one" && contains sftp.out "sdir/two" ||
    fail "sftp ls: output: $(cat sftp.out)"

# A failing command stops the batch with a non-zero status.
printf 'get no-such-file nothing\nmkdir after\n' >batch2
fsftp -b batch2 web >/dev/null 2>err
rc=$?
[ "$rc" -ne 0 ] || fail "sftp -b: a failing get did not fail the batch"
[ -e "$WEBHOME/after" ] && fail "sftp -b went on after a failing command"

# With only PATH (as spindle exec sets it): the scp and sftp wrappers of
# the fakessh-bin directory pass -S themselves.
PATH=$FAKEBIN:$PATH timeout 60 scp -q file web:plain-path </dev/null 2>err
check_rc "scp with PATH only" 0 $? err
check "scp with PATH only: content" "$(sha file)" "$(sha "$WEBHOME/plain-path")"
echo 'ls -1 plain-path' >batch3
out=$(PATH=$FAKEBIN:$PATH timeout 60 sftp -q -b batch3 web </dev/null 2>err)
check_rc "sftp with PATH only" 0 $? err
echo "$out" | grep -qx 'plain-path' ||
    fail "sftp with PATH only: $out"
out=$(timeout 60 "$SPINDLE" exec -- scp -q web:plain-path via-exec </dev/null 2>&1)
check "spindle exec -- scp" "$(sha file)" "$(sha via-exec)"

check "sshd logins for all of that" 1 $(($(sshd_auths) - base))
pass
