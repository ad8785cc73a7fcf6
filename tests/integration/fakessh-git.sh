#!/bin/sh
# git over the ssh shim (git's default `ssh`, found first in PATH) on the
# route ssh -> sudo=webapp (sudo password, requiretty): clone of an empty
# bare repository in the sudo user's home (web:repo.git), commit, push,
# a second clone identical to the first, a push from it and a pull into
# the first; the remote repository sound (git fsck) and all its files the
# sudo user's; all of it over the route's one connection.
. "$(dirname "$0")/lib-fakessh.sh"

command -v git >/dev/null 2>&1 || skip "git is not installed"
command -v sha256sum >/dev/null 2>&1 || skip "sha256sum is not installed"

PATH=$FAKEBIN:$PATH
# No configuration of root's or the system's; an identity for commits.
GIT_CONFIG_NOSYSTEM=1
GIT_CONFIG_GLOBAL=$TMPD/gitconfig
GIT_AUTHOR_NAME="Spindle Test"
GIT_AUTHOR_EMAIL=spindle@example.invalid
GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME
GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
export PATH GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL GIT_AUTHOR_NAME \
    GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
unset GIT_SSH GIT_SSH_COMMAND GIT_DIR GIT_WORK_TREE
: >"$GIT_CONFIG_GLOBAL"
cd "$TMPD" || fail "cd $TMPD"
base=$(sshd_auths)

# g ARGS...: git under a timeout, stderr to $TMPD/err.
g() {
	timeout -k 5 60 git "$@" </dev/null 2>"$TMPD/err"
}

# tree_sums DIR: "SHA256  ./PATH" of every file below DIR but .git.
tree_sums() {
	(cd "$1" && find . -path ./.git -prune -o -type f \
	    -exec sha256sum {} + | sort -k 2)
}

# owned_by_w PATH: PATH, and all below it, is $U_W's.
owned_by_w() {
	_o=$(find "$1" ! -user "$U_W" | head -n 5)
	[ -z "$_o" ] || fail "$1: not owned by $U_W: $(echo $_o)"
}

# wgit ARGS...: git run locally as $U_W (whose the repository is).
wgit() {
	runuser -u "$U_W" -- env HOME="$WEBHOME" GIT_CONFIG_NOSYSTEM=1 \
	    GIT_CONFIG_GLOBAL=/dev/null git "$@" </dev/null
}

# The bare repository, the sudo user's, in its home.
wgit init -q --bare -b main "$WEBHOME/repo.git" 2>err ||
    fail "git init --bare as $U_W: $(cat err)"

# Clone it (empty), commit, push.
g clone -q web:repo.git one
check_rc "clone of the empty repository" 0 $? "$TMPD/err"
[ -d one/.git ] || fail "clone made no repository"
mkdir -p one/src
echo "hello from $TEST" >one/README
head -c 2000000 /dev/urandom >one/src/blob.bin
i=0
while [ $i -lt 50 ]; do
	echo "file $i $(od -An -N8 -tx1 /dev/urandom)" >"one/src/f$i.txt"
	i=$((i + 1))
done
g -C one add -A && g -C one commit -q -m "first"
check_rc "commit" 0 $? "$TMPD/err"
g -C one push -q origin HEAD:refs/heads/main
check_rc "push" 0 $? "$TMPD/err"
first=$(git -C one rev-parse HEAD)
check "remote main after the push" "$first" \
    "$(wgit -C "$WEBHOME/repo.git" rev-parse refs/heads/main)"

# A second clone has the same commit and the same files.
g clone -q web:repo.git two
check_rc "second clone" 0 $? "$TMPD/err"
check "second clone's HEAD" "$first" "$(git -C two rev-parse HEAD)"
check "second clone's files" "$(tree_sums one)" "$(tree_sums two)"

# Push from the second, pull into the first.
echo "more" >>two/README
git -C two rm -q src/f7.txt 2>"$TMPD/err" || fail "git rm: $(cat "$TMPD/err")"
g -C two commit -q -a -m "second"
check_rc "second commit" 0 $? "$TMPD/err"
g -C two push -q origin HEAD:refs/heads/main
check_rc "push from the second clone" 0 $? "$TMPD/err"
g -C one pull -q --ff-only origin main
check_rc "pull into the first clone" 0 $? "$TMPD/err"
check "first clone's HEAD after the pull" "$(git -C two rev-parse HEAD)" \
    "$(git -C one rev-parse HEAD)"
check "files after the pull" "$(tree_sums two)" "$(tree_sums one)"
[ -e one/src/f7.txt ] && fail "pull: src/f7.txt still there"

# ls-remote; the remote repository sound and all the sudo user's.
check "ls-remote" "$(git -C two rev-parse HEAD)	refs/heads/main" \
    "$(g ls-remote web:repo.git refs/heads/main)"
wgit -C "$WEBHOME/repo.git" fsck --strict >err 2>&1 ||
    fail "git fsck of the remote repository: $(cat err)"
owned_by_w "$WEBHOME/repo.git"

# A repository that is not there: git fails, the route stays up.
g ls-remote web:no-such.git
rc=$?
[ "$rc" -ne 0 ] || fail "ls-remote of a missing repository succeeded"
contains "$TMPD/err" "no-such.git" ||
    fail "ls-remote of a missing repository: $(cat "$TMPD/err")"

check "sshd logins for all of that" 1 $(($(sshd_auths) - base))
pass
