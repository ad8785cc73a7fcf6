#!/bin/sh
# Ctrl-C.  The first one goes to the command, which dies of it: status
# 130 and not a word of ours, as a shell.  One that stops spindle itself
# (a second one, or one while the route still connects) says "spindle:
# interrupted", once, and exits 130; the ssh shim, as OpenSSH, says
# nothing and exits 255.  Never the daemon's "client gone" on the
# user's terminal.  With pipes (SIGINT from kill) and in a terminal
# (tmux); spindle alone and through the daemon.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || skip "tmux is not installed"
command -v ssh >/dev/null || skip "ssh is not installed (for a hop that hangs)"

export SPINDLE_RUNTIME_DIR="$TMPD/rt"
export SPINDLE_ROUTES="$TMPD/routes"
printf 'route web local+local\n' >"$SPINDLE_ROUTES"
export SPINDLE_SSH_ARGS="-F $TMPD/ssh_config"
# Each case's command sleeps, or its hop hangs, for a time of its own:
# its processes are found by it.
BASE=$((4000000 + $$ % 10000 * 100))
trap '_t=$?; timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
    pkill -KILL -f "^sleep $BASE[0-9]*\$"; (exit $_t); _lib_cleanup' EXIT
FAKEBIN=$("$SPINDLE" fakessh-bin) || fail "fakessh-bin"

n=0
next_case() {
	n=$((n + 1))
	SLEEP=$((BASE + n))
	DEAF="trap '' INT; sleep $SLEEP"	# deaf to the first ^C
	printf 'Host hang*\n  ProxyCommand sleep %s\n' "$SLEEP" \
	    >"$TMPD/ssh_config"
}

# sleeping WHAT: wait (15 s at most) until the case's sleep runs.
sleeping() {
	_t=150
	while ! pgrep -f "^sleep $SLEEP\$" >/dev/null; do
		_t=$((_t - 1))
		[ "$_t" -gt 0 ] || fail "$1: no sleep $SLEEP after 15 s"
		sleep 0.1
	done
}
# slept WHAT: the case's sleep is gone within 15 s (the route took it
# along).  Not the hop a daemon still connects: that route is the
# daemon's, and goes on until its connect timeout.
slept() {
	case $1 in *"daemon, connecting" | *"shim, connecting") return 0 ;; esac
	_t=150
	while pgrep -f "^sleep $SLEEP\$" >/dev/null; do
		_t=$((_t - 1))
		[ "$_t" -gt 0 ] || fail "$1: sleep $SLEEP still runs after 15 s"
		sleep 0.1
	done
}

# written FILE WHAT: FILE, where the session writes once spindle is
# done, is there within 15 s of the ^C.
written() {
	_t=150
	while [ ! -s "$1" ]; do
		_t=$((_t - 1))
		[ "$_t" -gt 0 ] || fail "$2: still running 15 s after ^C"
		sleep 0.1
	done
}

# piped WHAT N RC TEXT CMD: CMD, its stdio on files, gets N SIGINTs (a
# second apart, once its sleep runs), exits RC, and TEXT (or nothing) is
# all it says.  CMD is eval'd: it may use the case's $SLEEP and $DEAF.
piped() {
	_w=$1 _n=$2 _rc=$3 _txt=$4
	next_case
	eval "exec $5" </dev/null >"$TMPD/out" 2>"$TMPD/err" &
	_pid=$!
	track "$_pid"
	sleeping "$_w"
	while [ "$_n" -gt 0 ]; do
		kill -INT "$_pid"
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] && sleep 1
	done
	wait "$_pid"
	check_rc "$_w" "$_rc" $? "$TMPD/err"
	slept "$_w"
	sleep 0.5	# a late word of the daemon's would be there by now
	check "$_w: what it says" "$_txt" "$(cat "$TMPD/err")"
}

# in_tmux WHAT N RC TEXT CMD: the same with ^C typed in a terminal, and
# TEXT all the terminal shows (the ^C echoes aside).
in_tmux() {
	_w=$1 _n=$2 _rc=$3 _txt=$4
	next_case
	S=spnint$$x$n
	# The shell around the command lives on to tell its status.
	cat >"$TMPD/session$n" <<-EOF
	SPINDLE='$SPINDLE' FAKEBIN='$FAKEBIN' SLEEP=$SLEEP
	DEAF="$DEAF"
	trap : INT
	$5
	echo \$? >$TMPD/rc$n
	sleep 60
	EOF
	tmux_start "$S" "sh $TMPD/session$n" 150x20
	sleeping "$_w"
	while [ "$_n" -gt 0 ]; do
		tmux -L "$S" send-keys -t "$S" C-c
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] && sleep 1
	done
	written "$TMPD/rc$n" "$_w"
	check "$_w: status" "$_rc" "$(cat "$TMPD/rc$n")"
	slept "$_w"
	sleep 0.5
	check "$_w: the terminal shows" "$_txt" \
	    "$(tmux -L "$S" capture-pane -p -t "$S" | sed 's/\^C//g' |
	    grep -v '^ *$')"
	tmux -L "$S" kill-server 2>/dev/null
}

I="spindle: interrupted"
for how in piped in_tmux; do
	# A command that dies of the first ^C: its status, nothing said.
	$how "$how: alone, ^C" 1 130 "" \
	    '"$SPINDLE" run --no-daemon local -- sleep $SLEEP'
	$how "$how: daemon, ^C" 1 130 "" \
	    '"$SPINDLE" run web -- sleep $SLEEP'
	$how "$how: shim, ^C" 1 255 "" \
	    '"$FAKEBIN/ssh" web sleep $SLEEP'
	# One that does not: the second ^C stops us.
	$how "$how: alone, ^C ^C" 2 130 "$I" \
	    '"$SPINDLE" run --no-daemon local -- sh -c "$DEAF"'
	$how "$how: daemon, ^C ^C" 2 130 "$I" \
	    '"$SPINDLE" run web -- sh -c "$DEAF"'
	$how "$how: shim, ^C ^C" 2 255 "" \
	    '"$FAKEBIN/ssh" web "$DEAF"'
	# A route still connecting: the first ^C stops us.
	$how "$how: alone, connecting" 1 130 "$I" \
	    '"$SPINDLE" run --no-daemon hang$SLEEP -- true'
	$how "$how: daemon, connecting" 1 130 "$I" \
	    '"$SPINDLE" run hang$SLEEP -- true'
	$how "$how: shim, connecting" 1 255 "" \
	    '"$FAKEBIN/ssh" hang$SLEEP true'
done

# ^C at --ask-pass's prompt (echo off): the terminal gets its echo back,
# and we say so once, as anywhere before the command runs.
next_case
S=spnint$$p
cat >"$TMPD/sessionp" <<-EOF
trap : INT
'$SPINDLE' run --no-daemon --ask-pass hang$SLEEP,password -- true
echo \$? >$TMPD/rcp
stty -a | grep -o ' -*echo ' >$TMPD/echop
sleep 60
EOF
tmux_start "$S" "sh $TMPD/sessionp" 150x20
_t=150
while ! tmux -L "$S" capture-pane -p -t "$S" | grep -q 'password for'; do
	_t=$((_t - 1))
	[ "$_t" -gt 0 ] || fail "--ask-pass: no prompt after 15 s"
	sleep 0.1
done
tmux -L "$S" send-keys -t "$S" C-c
written "$TMPD/echop" "--ask-pass"
check "--ask-pass, ^C: status" 130 "$(cat "$TMPD/rcp")"
check "--ask-pass, ^C: the terminal's echo" " echo " "$(cat "$TMPD/echop")"
check "--ask-pass, ^C: the terminal shows" \
    "spindle: password for $(id -un)@hang$SLEEP (ssh login):
$I" "$(tmux -L "$S" capture-pane -p -t "$S" | sed 's/\^C//g; s/ *$//' |
    grep -v '^ *$')"
tmux -L "$S" kill-server 2>/dev/null
pass
