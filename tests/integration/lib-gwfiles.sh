# Files through the SSH gateway with unmodified OpenSSH clients, for
# gateway-files.sh (local routes) and gateway-netns.sh (ssh + sudo in
# the namespace world).  Sourced after lib.sh (or lib-netns.sh):
#	. "$(dirname "$0")/lib-gwfiles.sh"
#
# gw_setup: skips without spindle-gateway or a client; gives the test a
#   daemon of its own ($SPINDLE_RUNTIME_DIR, unless set), its own config
#   directory (XDG_CONFIG_HOME=$TMPD/config: host key, known_hosts) and
#   HOME, writes `spindle ssh-config`'s block to $GW_CFG and sets $GWSSH
#   ("ssh -F $GW_CFG"), the command every client is given.
# gw_scp HOST RDIR MB, gw_sftp HOST RDIR, gw_rsync HOST RDIR MB SMALL,
# gw_git HOST RDIR: each checks one client against HOST (NAME.spindle),
#   the far side's files in RDIR (a directory of this machine: every
#   route of these tests ends here), and logs what it measured.
#   $GW_OWNER, if set, must own every file made at the far end.

[ -n "${GATEWAY:-}" ] ||
    GATEWAY=$(cd "$(dirname "$SPINDLE")" && pwd)/spindle-gateway
[ -x "$GATEWAY" ] ||
    skip "spindle-gateway is not built (configure found no libssh >= 0.10)"
for _c in ssh scp sftp rsync git sha256sum split cmp diff; do
	command -v "$_c" >/dev/null 2>&1 || skip "$_c is not installed"
done

gw_now() {
	date +%s%3N
}
gw_since() {	# MS: seconds since then
	echo "$(($(gw_now) - $1))" | awk '{ printf "%.3f", $1 / 1000 }'
}

# gw_same WHAT A B: files or trees A and B hold the same bytes (cmp and
# diff -r: exact, and cheaper than hashing both on a busy machine).
gw_same() {
	if [ -d "$2" ]; then
		diff -r -q "$2" "$3" >"$TMPD/gw.diff" 2>&1
	else
		cmp "$2" "$3" >"$TMPD/gw.diff" 2>&1
	fi || fail "$1: not the same: $(head -n 5 "$TMPD/gw.diff")"
}

# gw_tree_sums DIR: "SHA256  ./PATH" of every file below DIR but .git.
gw_tree_sums() {
	(cd "$1" && find . -path ./.git -prune -o -type f \
	    -exec sha256sum {} + | sort -k 2)
}

# gw_owned DIR: every file below DIR is $GW_OWNER's (when set).
gw_owned() {
	[ -n "${GW_OWNER:-}" ] || return 0
	_o=$(find "$1" ! -user "$GW_OWNER" | head -n 5)
	[ -z "$_o" ] || fail "$1: not owned by $GW_OWNER: $(echo $_o)"
}

# gw_big FILE MB: MB MiB of random bytes (one random MiB repeated).
gw_big() {
	head -c 1048576 /dev/urandom >"$1.blk" || fail "head /dev/urandom"
	_i=0
	while [ "$_i" -lt "$2" ]; do
		cat "$1.blk"
		_i=$((_i + 1))
	done >"$1"
	rm -f "$1.blk"
	check "$1: size" $(($2 * 1048576)) "$(stat -c %s "$1")"
}

# gw_run WHAT CMD...: CMD under a timeout (90 s), its stdout in
# $TMPD/gw.out, stderr in $TMPD/gw.err; fails unless status 0; logs
# how long it took.
gw_run() {
	_gw=$1
	shift
	_gt=$(gw_now)
	timeout -k 5 90 "$@" </dev/null >"$TMPD/gw.out" 2>"$TMPD/gw.err"
	_grc=$?
	log "  $_gw: $(gw_since "$_gt") s"
	if [ "$_grc" != 0 ]; then
		sed 's/^/  stdout: /' "$TMPD/gw.out" | head -n 20 >&2
		sed 's/^/  stderr: /' "$TMPD/gw.err" | head -n 20 >&2
		[ -n "${DAEMON_LOG:-}" ] && tail -n 20 "$DAEMON_LOG" |
		    sed 's/^/  daemon log: /' >&2
		fail "$_gw: exit status $_grc"
	fi
}

gw_setup() {
	# A daemon of the test's own, stopped on exit (lib-netns.sh's
	# netns_daemon gives one already, and stops it itself).
	if [ -z "${SPINDLE_RUNTIME_DIR:-}" ]; then
		SPINDLE_RUNTIME_DIR=$TMPD/rt
		daemon_stop_on_exit
	fi
	: "${DAEMON_LOG:=$SPINDLE_RUNTIME_DIR/daemon.log}"
	XDG_CONFIG_HOME=$TMPD/config
	HOME=$TMPD/home
	mkdir -p "$HOME" "$XDG_CONFIG_HOME" || fail "mkdir $HOME"
	# git: no configuration of root's or the system's; an identity.
	GIT_CONFIG_NOSYSTEM=1
	GIT_CONFIG_GLOBAL=$TMPD/gitconfig
	GIT_AUTHOR_NAME="Spindle Test"
	GIT_AUTHOR_EMAIL=spindle@example.invalid
	GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME
	GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
	export SPINDLE_RUNTIME_DIR XDG_CONFIG_HOME HOME GIT_CONFIG_NOSYSTEM \
	    GIT_CONFIG_GLOBAL GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL \
	    GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
	unset GIT_SSH GIT_SSH_COMMAND GIT_DIR GIT_WORK_TREE SSH_AUTH_SOCK
	printf '[init]\n\tdefaultBranch = main\n' >"$GIT_CONFIG_GLOBAL"
	GW_CFG=$TMPD/ssh_config
	"$SPINDLE" ssh-config >"$GW_CFG" 2>"$TMPD/err"
	check_rc "spindle ssh-config" 0 $? "$TMPD/err"
	grep -q 'ProxyUseFdpass yes' "$GW_CFG" ||
	    fail "ssh-config: no ProxyUseFdpass: $(cat "$GW_CFG")"
	grep -Eiq 'StrictHostKeyChecking +no|UserKnownHostsFile +/dev/null' \
	    "$GW_CFG" && fail "ssh-config turns host key checking off"
	# The real clients, never a shim found first in PATH.
	for _c in ssh scp sftp rsync git; do
		case $(command -v "$_c") in
		*/fakessh/* | "$TMPD"/*) fail "$_c in PATH is a shim" ;;
		esac
	done
	GWSSH="ssh -F $GW_CFG"
}

# gw_pid: the daemon's spindle-gateway (its child), or nothing.
gw_pid() {
	_dp=$(daemon_pid)
	[ -n "$_dp" ] || return 0
	for _p in $(children_of "$_dp"); do
		case $(args_of "$_p") in
		*spindle-gateway*) echo "$_p"; return 0 ;;
		esac
	done
}

# gw_hwm WHAT: log the gateway's VmHWM; fail past $GW_HWM_MAX KiB.
gw_hwm() {
	_gp=$(gw_pid)
	[ -n "$_gp" ] || fail "$1: no spindle-gateway under the daemon"
	_kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$_gp/status")
	_l=$(cat "/proc/$_gp/stat")
	_l=${_l##*) }
	# shellcheck disable=SC2086
	set -- "$1" $_l
	log "$1: spindle-gateway (pid $_gp) VmHWM $_kb KiB, CPU" \
	    "$(((${13} + ${14}) * 1000 / $(getconf CLK_TCK))) ms"
	sanitized && return 0
	[ "$_kb" -lt "${GW_HWM_MAX:-65536}" ] ||
	    fail "$1: spindle-gateway VmHWM $_kb KiB > ${GW_HWM_MAX:-65536}"
}

# gw_scp HOST RDIR MB: MB MiB up and down in scp's SFTP mode (the
# default), then a smaller file and a directory with -r both ways in
# the old protocol (-O), what arrived the same bytes.
gw_scp() {
	_h=$1 _r=$2 _mb=$3
	mkdir -p "$TMPD/scp" || fail "mkdir"
	gw_big "$TMPD/scp/big" "$_mb"
	gw_run "scp (SFTP) $_mb MiB up" scp -q -F "$GW_CFG" "$TMPD/scp/big" \
	    "$_h:$_r/scp-big"
	gw_same "scp (SFTP) up" "$TMPD/scp/big" "$_r/scp-big"
	gw_owned "$_r/scp-big"
	gw_run "scp (SFTP) $_mb MiB down" scp -q -F "$GW_CFG" "$_h:$_r/scp-big" \
	    "$TMPD/scp/down"
	gw_same "scp (SFTP) down" "$TMPD/scp/big" "$TMPD/scp/down"
	rm -f "$TMPD/scp/big" "$TMPD/scp/down" "$_r/scp-big"

	# -O: the remote scp, a directory of a few files, both ways.
	mkdir -p "$TMPD/scp/dir/sub" || fail "mkdir"
	head -c 3000000 /dev/urandom >"$TMPD/scp/dir/a.bin"
	echo "hello from $TEST" >"$TMPD/scp/dir/sub/b.txt"
	: >"$TMPD/scp/dir/sub/empty"
	gw_run "scp -O -r up" scp -O -q -r -F "$GW_CFG" "$TMPD/scp/dir" \
	    "$_h:$_r/scp-dir"
	check "scp -O -r up: files" "$(gw_tree_sums "$TMPD/scp/dir")" \
	    "$(gw_tree_sums "$_r/scp-dir")"
	gw_owned "$_r/scp-dir"
	gw_run "scp -O -r down" scp -O -q -r -F "$GW_CFG" "$_h:$_r/scp-dir" \
	    "$TMPD/scp/back"
	check "scp -O -r down: files" "$(gw_tree_sums "$TMPD/scp/dir")" \
	    "$(gw_tree_sums "$TMPD/scp/back")"
	# A missing remote file: scp says so and fails, in both modes.
	for _m in "" -O; do
		timeout -k 5 60 scp $_m -q -F "$GW_CFG" "$_h:$_r/no-such" \
		    "$TMPD/scp/none" </dev/null 2>"$TMPD/err"
		_rc=$?
		[ "$_rc" = 0 ] && fail "scp $_m of a missing file succeeded"
		contains "$TMPD/err" "No such file" ||
		    fail "scp $_m of a missing file: $(cat "$TMPD/err")"
	done
	rm -rf "$TMPD/scp" "$_r/scp-dir"
}

# gw_sftp HOST RDIR: an sftp -b batch: mkdir, put, ls, get, rename, rm,
# rmdir; every step must succeed (batch mode stops at the first error).
gw_sftp() {
	_h=$1 _r=$2
	mkdir -p "$TMPD/sftp" || fail "mkdir"
	head -c 5000000 /dev/urandom >"$TMPD/sftp/a.bin"
	cat >"$TMPD/sftp/batch" <<EOF
mkdir $_r/sftp
put $TMPD/sftp/a.bin $_r/sftp/a.bin
ls -l $_r/sftp
get $_r/sftp/a.bin $TMPD/sftp/a.got
rename $_r/sftp/a.bin $_r/sftp/b.bin
ls $_r/sftp
!sha256sum $_r/sftp/b.bin
rm $_r/sftp/b.bin
ls -a $_r/sftp
rmdir $_r/sftp
EOF
	gw_run "sftp -b with $_h" sftp -F "$GW_CFG" -b "$TMPD/sftp/batch" "$_h"
	check "sftp get: checksum" "$(sha256sum <"$TMPD/sftp/a.bin")" \
	    "$(sha256sum <"$TMPD/sftp/a.got")"
	# What ls listed at each step (the local !sha256sum saw the renamed
	# file whole: the far end is this machine).
	awk '/^sftp> ls -l /, /^sftp> get / { if ($NF ~ /a\.bin$/) print $5 }' \
	    "$TMPD/gw.out" >"$TMPD/sftp/ls1"
	check "sftp ls -l: size of the file put" 5000000 "$(cat "$TMPD/sftp/ls1")"
	contains "$TMPD/gw.out" "$(sha256sum <"$TMPD/sftp/a.bin" |
	    cut -d' ' -f1)  $_r/sftp/b.bin" ||
	    fail "sftp rename: $(cat "$TMPD/gw.out")"
	awk -v l="sftp> ls $_r/sftp" '$0 == l { on = 1; next }
	    /^sftp> / { on = 0 } on' "$TMPD/gw.out" >"$TMPD/sftp/ls2"
	check "sftp ls after rename" "$_r/sftp/b.bin" \
	    "$(tr -s ' \t' '\n' <"$TMPD/sftp/ls2" | grep .)"
	[ -e "$_r/sftp" ] && fail "sftp rm/rmdir: $_r/sftp is still there"
	# A failing command fails the batch, with sftp's own words.
	printf 'get %s/no-such %s/x\n' "$_r" "$TMPD/sftp" >"$TMPD/sftp/bad"
	timeout -k 5 60 sftp -F "$GW_CFG" -b "$TMPD/sftp/bad" "$_h" \
	    </dev/null >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	[ "$_rc" = 0 ] && fail "sftp -b get of a missing file succeeded"
	contains "$TMPD/err" "not found" ||
	    fail "sftp get of a missing file: $(cat "$TMPD/err")"
	rm -rf "$TMPD/sftp"
}

# gw_rsync HOST RDIR MB SMALL: rsync -a of an MB MiB file and SMALL small
# files up, checksums equal; a second run transfers nothing; one small
# file changed, only it goes; then the small files pulled back.
gw_rsync() {
	_h=$1 _r=$2 _mb=$3 _n=$4
	mkdir -p "$TMPD/rs/src/big" || fail "mkdir"
	gw_big "$TMPD/rs/src/big/f" "$_mb"
	# The small files: 10 directories, each its own file size (split:
	# one process for each, not one per file).
	_i=0
	while [ "$_i" -lt 10 ]; do
		_d=$TMPD/rs/src/d$_i
		mkdir "$_d" || fail "mkdir $_d"
		_sz=$((_i * 400 + 37))
		head -c $((_sz * _n / 10)) /dev/urandom |
		    (cd "$_d" && split -a 3 -d -b "$_sz" - f) ||
		    fail "split failed"
		_i=$((_i + 1))
	done
	gw_run "rsync -a up ($_mb MiB + $_n files)" rsync -a -e "$GWSSH" "$TMPD/rs/src/" \
	    "$_h:$_r/rs/"
	gw_same "rsync -a up" "$TMPD/rs/src" "$_r/rs"
	gw_owned "$_r/rs"
	# Again: nothing to send.
	gw_run "rsync -a again" rsync -a -i --stats -e "$GWSSH" \
	    "$TMPD/rs/src/" "$_h:$_r/rs/"
	grep -q '^Number of regular files transferred: 0$' "$TMPD/gw.out" ||
	    fail "rsync again transferred files: $(cat "$TMPD/gw.out")"
	grep -q '^[<>ch.][fdL]' "$TMPD/gw.out" &&
	    fail "rsync again itemized changes: $(cat "$TMPD/gw.out")"
	# One file changed: only it goes.
	echo changed >>"$TMPD/rs/src/d3/f003"
	gw_run "rsync -a one changed" rsync -a -i -e "$GWSSH" \
	    "$TMPD/rs/src/" "$_h:$_r/rs/"
	check "rsync, one file changed: what went" "<f.st...... d3/f003" \
	    "$(grep '^[<>]' "$TMPD/gw.out")"
	# The small files back (the big one went both ways with scp).
	rm -rf "$TMPD/rs/src/big"
	gw_run "rsync -a down ($_n files)" rsync -a --exclude=/big -e "$GWSSH" \
	    "$_h:$_r/rs/" "$TMPD/rs/back/"
	gw_same "rsync -a down" "$TMPD/rs/src" "$TMPD/rs/back"
	rm -rf "$TMPD/rs" "$_r/rs"
}

# gw_git HOST RDIR [INIT-CMD...]: a bare repository RDIR/repo.git (made
# by INIT-CMD git ..., e.g. as its owner), cloned empty with
# GIT_SSH_COMMAND, commit, push; cloned again with core.sshCommand, the
# same; then (unless GW_GIT_SHORT=yes) gw_git_back.
gw_git() {
	_h=$1 _r=$2
	shift 2
	"$@" git init -q --bare -b main "$_r/repo.git" 2>"$TMPD/err" ||
	    fail "git init --bare: $(cat "$TMPD/err")"
	cd "$TMPD" || fail "cd"
	_t=$(gw_now)
	gw_run "git clone (GIT_SSH_COMMAND)" \
	    env GIT_SSH_COMMAND="$GWSSH" git clone -q "$_h:$_r/repo.git" one
	mkdir one/src
	echo "hello from $TEST" >one/README
	head -c 2000000 /dev/urandom >one/src/blob.bin
	_i=0
	while [ "$_i" -lt 30 ]; do
		echo "file $_i $(od -An -N8 -tx1 /dev/urandom)" >"one/src/f$_i"
		_i=$((_i + 1))
	done
	git -C one add -A && git -C one commit -q -m first ||
	    fail "git commit"
	gw_run "git push (GIT_SSH_COMMAND)" env GIT_SSH_COMMAND="$GWSSH" \
	    git -C one push -q origin HEAD:refs/heads/main
	_first=$(git -C one rev-parse HEAD)
	check "remote main after the push" "$_first" \
	    "$("$@" git -C "$_r/repo.git" rev-parse refs/heads/main)"
	gw_owned "$_r/repo.git"
	# core.sshCommand, no GIT_SSH_COMMAND.
	gw_run "git clone (core.sshCommand)" git -c "core.sshCommand=$GWSSH" \
	    clone -q "$_h:$_r/repo.git" two
	check "second clone's HEAD" "$_first" "$(git -C two rev-parse HEAD)"
	check "second clone's files" "$(gw_tree_sums one)" \
	    "$(gw_tree_sums two)"
	[ "${GW_GIT_SHORT:-no}" = yes ] || gw_git_back
	"$@" git -C "$_r/repo.git" fsck >/dev/null 2>"$TMPD/err" ||
	    fail "git fsck of the far repository: $(cat "$TMPD/err")"
	log "git with $_h in $(gw_since "$_t") s"
	rm -rf one two "$_r/repo.git"
}

# gw_git_back: a push from the second clone (its own core.sshCommand in
# its config) and a pull into the first.
gw_git_back() {
	git -C two config core.sshCommand "$GWSSH"
	echo more >>two/README
	git -C two commit -q -a -m second || fail "git commit (two)"
	gw_run "git push (core.sshCommand)" git -C two push -q
	gw_run "git pull" env GIT_SSH_COMMAND="$GWSSH" \
	    git -C one pull -q --ff-only
	check "pulled HEAD" "$(git -C two rev-parse HEAD)" \
	    "$(git -C one rev-parse HEAD)"
}
