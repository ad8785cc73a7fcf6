# Shared helpers for the integration tests; each test sources this first:
#	. "$(dirname "$0")/lib.sh"
#
# Exit codes: 0 pass, 77 skip, anything else fail (automake test driver).
# Every test gets its own temporary directory ($TMPD), removed on exit,
# and every spindle it starts is recorded so that whatever it leaves
# behind (agents, commands) is killed on exit, whether the test passed or
# not.  Tests run in parallel (make -j check): a test only ever looks at
# processes it started itself, found from the pid of its own spindle
# (the master).  Hop 1 carries that pid in its argv[0]
# (spindle:USER@HOST:MASTERPID) and every further hop is a child of the
# hop before it, so the test's tree is found by a ppid walk even after
# the master itself is gone.

set -u

TEST=$(basename "$0" .sh)
case $TEST in lib | lib-sshd | lib-fakessh | lib-netns | lib-gateway)
	echo "$TEST.sh is sourced by the tests, not a test itself" >&2
	exit 77
esac
: "${SPINDLE:=$(cd "$(dirname "$0")/../.." && pwd)/spindle}"
# Seconds any one spindle invocation may take before it is killed.
: "${SPN_TIMEOUT:=20}"

# A test never reads the terminal: a spindle whose stdin is a tty could
# stop on SIGTTIN under timeout(1) and hang the run.
[ -t 0 ] && exec </dev/null

log() {
	printf '%s: %s\n' "$TEST" "$*" >&2
}

fail() {
	printf '%s: FAIL: %s\n' "$TEST" "$*" >&2
	exit 1
}

skip() {
	printf '%s: SKIP: %s\n' "$TEST" "$*" >&2
	exit 77
}

pass() {
	printf '%s: PASS\n' "$TEST" >&2
	exit 0
}

[ -x "$SPINDLE" ] || { echo "$TEST: no spindle binary at $SPINDLE" >&2; exit 99; }
command -v timeout >/dev/null 2>&1 || skip "timeout(1) is not installed"
command -v ps >/dev/null 2>&1 || skip "ps(1) is not installed"
[ -r /proc/self/stat ] || skip "no /proc"

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/spindle-test.$TEST.XXXXXX") ||
    { echo "$TEST: mktemp failed" >&2; exit 99; }
: >"$TMPD/procs"

# $TMPD/procs lists what the test started, as "PID STARTTIME KIND" lines
# (KIND: master, bg or track); the start time tells a process from a
# later one that got the same pid (pid_max may be small).
_start_of() {	# PID: its start time (field 22 of its stat)
	_l=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	_l=${_l##*) }
	# shellcheck disable=SC2086
	set -- $_l
	echo "${20}"
}
_same() {	# PID STARTTIME: that process still runs
	[ -n "$2" ] && [ "$(_start_of "$1")" = "$2" ]
}

# track PID...: kill these (if they are still the same processes) on exit.
track() {
	for _p in "$@"; do
		echo "$_p $(_start_of "$_p") track" >>"$TMPD/procs"
	done
}

# On exit, kill whatever this test left running and remove its files.
# The agents start each command in a session of its own: what is still in
# one of the sessions of the test's tree goes too, even if reparented.
_lib_cleanup() {
	_rc=$?
	trap - EXIT INT TERM HUP
	_kill=""
	while read -r _p _s _k; do
		if _same "$_p" "$_s"; then
			_kill="$_kill $_p"
			[ "$_k" = master ] && _kill="$_kill $(tree_of "$_p")"
		elif [ "$_k" = master ]; then
			_kill="$_kill $(tree_of "$_p" orphans)"
		fi
	done <"$TMPD/procs"
	_kill=$(echo $_kill)
	if [ -n "$_kill" ]; then
		_me=$(ps -o sid= -p $$ | tr -d ' ')
		_sids=$(ps -o sid= -p "$(echo $_kill | tr ' ' ,)" 2>/dev/null |
		    awk -v me="$_me" '$1 != me && $1 > 1 { print $1 }' |
		    sort -u)
		_kill="$_kill $(ps -e -o pid= -o sid= |
		    awk -v s=" $(echo $_sids) " 'index(s, " " $2 " ") {
			print $1 }')"
	fi
	if [ -s "$TMPD/tmux" ]; then
		while read -r _s; do
			tmux -L "$_s" kill-server 2>/dev/null
		done <"$TMPD/tmux"
	fi
	if [ -s "$TMPD/users" ]; then
		while read -r _u; do
			pkill -KILL -u "$_u" 2>/dev/null
			userdel -r "$_u" >/dev/null 2>&1
		done <"$TMPD/users"
	fi
	{
		for _p in $_kill; do
			kill -KILL "$_p"
		done
		# Reap our own children among them (quietly: no "Killed").
		for _p in $_kill; do
			wait "$_p"
		done
	} 2>/dev/null
	rm -rf "$TMPD"
	exit "$_rc"
}
trap _lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The process table as "PID PPID ARGV0" lines (ARGV0 is argv[0], which for
# an agent is a single word).
ptable() {
	ps -e -o pid= -o ppid= -o args= 2>/dev/null | awk '{ print $1, $2, $3 }'
}

# tree_of MASTERPID [orphans]: every live process started on behalf of
# that spindle (agents and the commands they run), one pid a line, the
# master excluded.  With "orphans" (the master is gone, and its pid may be
# another process's now): only what hangs below a reparented hop 1.
tree_of() {
	_seeds=$(ptable | awk -v m="$1" -v orphans="${2:-}" '
	orphans == "" && NR == 1 { print m }
	# Hop 1, even when the master is gone and it was reparented.
	$3 ~ /^spindle:/ && $3 ~ (":" m "$") && (orphans == "" || $2 != m) {
		print $1
	}')
	descendants "$_seeds" "$1"
}

# descendants "PIDS" [EXCLUDE]: those processes and every live one below
# them, one pid a line, EXCLUDE left out.
descendants() {
	ptable | awk -v seeds="$1" -v x="${2:-}" '
	BEGIN { k = split(seeds, s, /[ \n]+/); for (i = 1; i <= k; i++) want[s[i]] = 1 }
	{ pid[NR] = $1; ppid[NR] = $2; n = NR }
	END {
		do {
			more = 0
			for (i = 1; i <= n; i++)
				if (!(pid[i] in want) && (ppid[i] in want)) {
					want[pid[i]] = 1
					more = 1
				}
		} while (more)
		for (i = 1; i <= n; i++)
			if (pid[i] in want && pid[i] != x)
				print pid[i]
	}'
}

# agents_of MASTERPID: the agents (argv[0] spindle:...) of that spindle, in
# hop order (each one the child of the one before).
agents_of() {
	_t=$(tree_of "$1")
	[ -n "$_t" ] || return 0
	ptable | awk -v m="$1" -v t=" $(echo $_t) " '
	index(t, " " $1 " ") && $3 ~ /^spindle:/ { parent[$2] = $1; next_[$2] = $1 }
	END {
		# Start at hop 1: the agent whose parent is not an agent.
		for (p in parent) {
			isagent[parent[p]] = 1
			np++
			ps[np] = p
		}
		for (i = 1; i <= np; i++)
			if (!(ps[i] in isagent))
				for (c = parent[ps[i]]; c != ""; c = next_[c])
					print c
	}'
}

# args_of PID: argv joined by spaces; comm_of PID; ppid_of PID; state_of PID
args_of() {
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | sed 's/ $//'
}
comm_of() {
	cat "/proc/$1/comm" 2>/dev/null
}
ppid_of() {
	_l=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	_l=${_l##*) }
	# shellcheck disable=SC2086
	set -- $_l
	echo "$2"
}
state_of() {
	_l=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	_l=${_l##*) }
	echo "${_l%% *}"
}

# alive PID: the process exists and is not a zombie.
alive() {
	_s=$(state_of "$1") || return 1
	[ "$_s" != Z ] && [ "$_s" != X ]
}

# wait_gone PID... SECS: wait until every PID is gone (or a zombie);
# fails (status 1) with the survivors listed if some are left after SECS.
wait_gone() {
	_n=$#
	eval "_secs=\${$_n}"
	_pids=""
	_i=1
	for _a in "$@"; do
		[ "$_i" -lt "$_n" ] && _pids="$_pids $_a:$(_start_of "$_a")"
		_i=$((_i + 1))
	done
	_ticks=$((_secs * 10))
	while :; do
		_left=""
		for _p in $_pids; do
			_same "${_p%%:*}" "${_p#*:}" && alive "${_p%%:*}" &&
			    _left="$_left ${_p%%:*}"
		done
		[ -z "$_left" ] && return 0
		[ "$_ticks" -le 0 ] && break
		_ticks=$((_ticks - 1))
		sleep 0.1
	done
	for _p in $_left; do
		log "still alive after ${_secs}s: $_p ($(args_of "$_p"))"
	done
	return 1
}

# wait_line FILE REGEX SECS [PID]: wait until a line of FILE matches
# REGEX (grep -E), SECS at most and, with PID, while that process lives;
# status 1 if none did.
wait_line() {
	_wt=$(($3 * 20))
	until grep -Eq -- "$2" "$1" 2>/dev/null; do
		if [ "$_wt" -le 0 ] || { [ -n "${4:-}" ] && ! alive "$4"; }; then
			grep -Eq -- "$2" "$1" 2>/dev/null
			return
		fi
		sleep 0.05
		_wt=$((_wt - 1))
	done
}

# spn ARGS...: run spindle in the foreground under a timeout, with this
# shell's stdin/stdout/stderr; returns its exit status (124: timed out,
# 137: killed after not reacting to the timeout's TERM).  The master's pid
# is recorded (see last_master).
_wrap='echo "$$ $(cut -d" " -f22 /proc/$$/stat) master" >>"$0"; exec "$@"'
spn() {
	timeout -k 3 "$SPN_TIMEOUT" sh -c "$_wrap" "$TMPD/procs" \
	    "$SPINDLE" "$@"
	_rc=$?
	[ "$_rc" = 124 ] && log "spindle $* timed out after ${SPN_TIMEOUT}s"
	return "$_rc"
}

# spn_bg ARGS...: start spindle in the background under a timeout; sets
# MASTER (spindle's own pid, to signal it) and BGPID (to `wait` for; its
# status is spindle's).  Stdin is /dev/null, or the file $SPN_STDIN.
spn_bg() {
	_n=$(wc -l <"$TMPD/procs")
	timeout -k 3 "$SPN_TIMEOUT" sh -c "$_wrap" "$TMPD/procs" \
	    "$SPINDLE" "$@" <"${SPN_STDIN:-/dev/null}" &
	BGPID=$!
	echo "$BGPID $(_start_of $BGPID) bg" >>"$TMPD/procs"
	MASTER=""
	_i=0
	while [ $_i -lt 100 ]; do
		MASTER=$(sed -n "$((_n + 1)),\$p" "$TMPD/procs" |
		    awk '$3 == "master" { print $1; exit }')
		[ -n "$MASTER" ] && return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	fail "spindle did not start"
}

# spn_prog SECS PROG ARGS...: run a libspindle program (a master of its
# own) in the foreground, killed after SECS; its pid is recorded as a
# master's, so that whatever it leaves behind is found (tree_of) and
# killed on exit.  Returns its exit status (124: timed out).
spn_prog() {
	_sps=$1
	shift
	timeout -k 3 "$_sps" sh -c "$_wrap" "$TMPD/procs" "$@"
	_rc=$?
	[ "$_rc" = 124 ] && log "$* timed out after ${_sps}s"
	return "$_rc"
}

# prog_run WHAT PROG ARGS...: spn_prog for 90 s at most, with its output
# in $TMPD/out (also logged, each line after "WHAT: ") and its stderr in
# $TMPD/err; returns its status.
prog_run() {
	_pw=$1
	shift
	spn_prog 90 "$@" >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	sed "s/^/  $_pw: /" "$TMPD/out" >&2
	return "$_rc"
}

# lib_prog NAME: PROG is the path of a libspindle program the build made
# (examples/remote-fn, tests/lib/errors, ...); the test is skipped if the
# build has no spindle-cc (no musl compiler: it builds static musl images
# only), and is a hard error if spindle-cc is there but NAME is not.
lib_prog() {
	_lb=${BUILDDIR:-$(dirname "$SPINDLE")}
	PROG=$_lb/$1
	[ -x "$PROG" ] && return 0
	[ -x "$_lb/tools/spindle-cc" ] ||
	    skip "$1 is not built (no spindle-cc: no musl compiler?)"
	echo "$TEST: $PROG is not built" >&2
	exit 99
}

# lib_case PROG CASE ROUTE [ARG...]: one case of a test program that says
# "ok CASE..." when it holds (60 s at most), its lines logged; a failure
# (its exit status, no such line, or processes left 5 s after it ended)
# is added to $failed, as CASE(ROUTE).
lib_case() {
	_lp=$1
	shift
	spn_prog 60 "$_lp" "$@" >"$TMPD/out" 2>"$TMPD/err"
	_rc=$?
	sed "s/^/  $1 $2: /" "$TMPD/out" >&2
	if [ "$_rc" != 0 ] || ! grep -Eq "^ok $1([: ]|$)" "$TMPD/out"; then
		sed 's/^/  stderr: /' "$TMPD/err" >&2
		log "case $1 $2 failed (exit status $_rc)"
		failed="$failed $1($2)"
	fi
	_left=$(tree_of "$(last_master)" orphans)
	if [ -n "$_left" ] && ! wait_gone $_left 5; then
		log "case $1 $2 left processes behind"
		failed="$failed $1($2,left)"
	fi
}

# procs_left WHAT: fail if the latest master left processes running
# 5 s after it ended.
procs_left() {
	_lb=$(tree_of "$(last_master)" orphans)
	[ -z "$_lb" ] || wait_gone $_lb 5 || fail "$1: processes left behind"
}

# last_master: the pid of the latest spindle started.
last_master() {
	awk '$3 == "master" { m = $1 } END { print m }' "$TMPD/procs"
}

# wait_agents MASTERPID N [SECS]: wait until that spindle has N agents up
# and the last one has a child (the command); prints the agents' pids in
# hop order.
wait_agents() {
	_ticks=$((${3:-10} * 10))
	while [ "$_ticks" -gt 0 ]; do
		_ag=$(agents_of "$1")
		if [ "$(echo $_ag | wc -w)" -eq "$2" ]; then
			_last=$(echo $_ag | awk '{ print $NF }')
			if ptable | awk -v p="$_last" '$2 == p { f = 1 }
			    END { exit !f }'; then
				echo $_ag
				return 0
			fi
		fi
		_ticks=$((_ticks - 1))
		sleep 0.1
	done
	log "spindle $1 did not bring up $2 agents; it has: $(agents_of "$1")"
	return 1
}

# children_of PID: its direct children.
children_of() {
	ptable | awk -v p="$1" '$2 == p { print $1 }'
}

# route N: local+local+... with N hops.
route() {
	_r=local
	_i=1
	while [ "$_i" -lt "$1" ]; do
		_r="$_r+local"
		_i=$((_i + 1))
	done
	echo "$_r"
}

# check WHAT EXPECTED ACTUAL: fail unless equal.
check() {
	[ "$2" = "$3" ] ||
	    fail "$1: expected '$2', got '$3'"
}

# check_rc WHAT EXPECTED ACTUAL [STDERR-FILE]
check_rc() {
	if [ "$2" != "$3" ]; then
		[ -n "${4:-}" ] && [ -s "$4" ] && sed 's/^/  stderr: /' "$4" >&2
		fail "$1: expected exit status $2, got $3"
	fi
}

# contains FILE STRING: the file contains STRING (fixed string).
contains() {
	grep -qF -- "$2" "$1"
}

# sanitized: $SPINDLE is a sanitizer build (tools/sanitize runs the test).
# Its allocator pads every block and keeps freed ones in a quarantine of
# up to 256 MiB, so a process's RSS says nothing there: memory bounds are
# checked by the ordinary run.
sanitized() {
	[ -n "${ASAN_OPTIONS:-}" ]
}

# daemon_pid [SPINDLE]: the pid of the daemon of $SPINDLE_RUNTIME_DIR, or
# nothing.
daemon_pid() {
	"${1:-$SPINDLE}" daemon status 2>/dev/null |
	    sed -n 's/^running, pid \([0-9]*\),.*/\1/p'
}

# daemon_stop_on_exit [SPINDLE]: the test's daemon stops when it exits,
# then what the exit trap did before runs still (lib-sshd.sh's users and
# sshd, a namespace world): replacing it left those behind.  dash prints
# no traps in $(trap), hence the file.
daemon_stop_on_exit() {
	_dsoe=${1:-$SPINDLE}
	[ -n "${_dsoe_prev:-}" ] && return 0
	trap >"$TMPD/.exit-trap"
	eval "set -- $(sed -n "s/^trap -- \(.*\) EXIT\$/\1/p" \
	    "$TMPD/.exit-trap")"
	_dsoe_prev=${1:-_lib_cleanup}
	trap '_t=$?; timeout 10 "$_dsoe" daemon stop >/dev/null 2>&1; (exit $_t); eval "$_dsoe_prev"' EXIT
}

# tmux_start NAME CMD [COLSxROWS]: a tmux server of the test's own (-L
# NAME) with one session, NAME, running the shell line CMD in a terminal
# of that size (100x30); the server is killed on exit.
tmux_start() {
	echo "$1" >>"$TMPD/tmux"
	_ts=${3:-100x30}
	tmux -L "$1" new-session -d -s "$1" -x "${_ts%x*}" -y "${_ts#*x}" "$2"
}

# user_add NAME [PASSWORD]: a test user with a home and /bin/sh (and
# that password); its processes are killed and it is removed on exit.
user_add() {
	echo "$1" >>"$TMPD/users"
	useradd -m -s /bin/sh "$1" || fail "useradd $1"
	[ -z "${2:-}" ] || echo "$1:$2" | chpasswd || fail "chpasswd $1"
}

# hop_fails WHAT ROUTE [OPTIONS...]: `run OPTIONS ROUTE -- echo RAN` exits
# 255 and runs nothing; what it said is in $TMPD/err.
hop_fails() {
	_hw=$1 _hr=$2
	shift 2
	spn run "$@" "$_hr" -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
	check_rc "$_hw" 255 $? "$TMPD/err"
	[ -s "$TMPD/out" ] && fail "$_hw: the command ran"
	return 0
}

# hop_says WHAT ROUTE HOP LINE [OPTIONS...]: the same, and all it says is
# hop HOP named and LINE, the tool's own line that tells why.
hop_says() {
	_hw=$1 _hr=$2 _hh=$3 _hl=$4
	shift 4
	hop_fails "$_hw" "$_hr" "$@"
	check "$_hw: message" "spindle: hop $_hh ($_hr): $_hl" \
	    "$(cat "$TMPD/err")"
}

# account_says expired|locked USER HOP_SAYS-ARGS...: hop_says while USER's
# account is expired (chage -E 0) or locked (usermod -L: '!' before the
# hash), as it was again afterwards.
account_says() {
	_as=$1 _au=$2
	shift 2
	case $_as in
	expired) chage -E 0 "$_au" ;;
	*) usermod -L "$_au" ;;
	esac || fail "cannot make $_au's account $_as"
	hop_says "$@"
	case $_as in
	expired) chage -E -1 "$_au" ;;
	*) usermod -U "$_au" ;;
	esac || fail "cannot undo $_au's $_as account"
}

# new_port: sets PORT to one no socket uses (any address, any state),
# the next of a range of this test's own (other tests run meanwhile),
# below the kernel's ephemeral ports (32768 up): a port that some
# connection took as its local one cannot be bound (CI's forward-shim
# once failed "the HTTP server did not start" that way, it seems).
NEXT_PORT=$((20000 + ($$ * 13) % 12000))
new_port() {
	while :; do
		NEXT_PORT=$((NEXT_PORT + 1))
		[ $NEXT_PORT -gt 32000 ] && NEXT_PORT=20001
		ss -Htan "sport = :$NEXT_PORT" | grep -q . || break
	done
	PORT=$NEXT_PORT
}

# listening PORT [SECS]: something accepts on 127.0.0.1:PORT, within SECS
# (curl's 7 is "could not connect"; whatever it says after connecting is
# not).
listening() {
	_end=$(( $(date +%s) + ${2:-0} ))
	while :; do
		curl -s -m 5 -o /dev/null "http://127.0.0.1:$1/"
		[ $? != 7 ] && return 0
		[ "$(date +%s)" -ge $_end ] && return 1
		sleep 0.05
	done
}

# unlistened PORT [SECS]: nothing listens on PORT (any address) any
# more, within SECS (10).
unlistened() {
	_ut=$((${2:-10} * 10))
	while ss -Hltn "sport = :$1" | grep -q .; do
		[ "$_ut" -le 0 ] && return 1
		sleep 0.1
		_ut=$((_ut - 1))
	done
}

# echo_server PORT: in the background (killed on exit), a python3 echo
# server on 127.0.0.1:PORT: each connection gets back what it sends,
# closed after its EOF.
echo_server() {
	"${PY:-python3}" -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
def echo(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
' "$1" &
	track $!
}
