#!/bin/sh
# run -t: the command gets a pty of its own sized like ours, our
# terminal goes raw (so ^C reaches the remote) and comes back as it was,
# window size changes follow, and the exit status still comes back.
# All of it twice: spindle on its own, then through a daemon (which gets
# our terminal passed over, and window sizes relayed).
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || skip "script (util-linux) is not installed"
command -v tmux >/dev/null || skip "tmux is not installed"

# in_script CMD: run CMD in a terminal with script(1).  script types an
# EOF into the terminal when its own stdin ends, and the remote pty would
# echo it: its stdin is a FIFO held open, silent, until it is done.
mkfifo "$TMPD/quiet"
in_script() {
	sleep 30 >"$TMPD/quiet" &
	_q=$!
	SPN="$SPINDLE" timeout 20 script -qec "$1" /dev/null <"$TMPD/quiet"
	_rc=$?
	kill "$_q" 2>/dev/null
	wait "$_q" 2>/dev/null
	return "$_rc"
}
cleanup() {
	[ -n "${SPINDLE_RUNTIME_DIR:-}" ] &&
	    timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
}
trap '_t=$?; cleanup; (exit $_t); _lib_cleanup' EXIT

pty_checks() {
	out=$(in_script 'stty rows 33 cols 101; "$SPN" run -t local+local -- sh -c "tty; stty size; echo to-stderr >&2"' |
	    tr -d '\r')
	echo "$out" | grep -q '^/dev/pts/' || fail "$1: no pty: $out"
	echo "$out" | grep -qx '33 101' || fail "$1: window size not passed: $out"
	echo "$out" | grep -qx 'to-stderr' || fail "$1: stderr not on the pty: $out"

	in_script '"$SPN" run -t local -- sh -c "exit 7"' >/dev/null
	check "$1: exit status through -t" 7 $?

	# Without a terminal -t still gives the command one.
	check "$1: -t without a terminal" /dev/pts/ \
	    "$(spn run -t local -- tty </dev/null | cut -c1-9)"

	# Interactive: resize, ^C, and the terminal restored afterwards.
	S=spnpty$$$1
	cat >"$TMPD/session$1" <<-EOF
	stty -g >"$TMPD/before$1"
	"$SPINDLE" run -t local+local -- sh -c 'trap "stty size >>$TMPD/sizes$1" WINCH; stty size >>$TMPD/sizes$1; trap "exit 9" INT; while :; do sleep 0.1; done'
	echo \$? >"$TMPD/rc$1"
	stty -g >"$TMPD/after$1"
	EOF
	tmux_start "$S" "sh $TMPD/session$1; sleep 30"
	i=0
	while [ "$i" -lt 50 ] && [ ! -s "$TMPD/sizes$1" ]; do sleep 0.1; i=$((i + 1)); done
	tmux -L "$S" resize-window -t "$S" -x 120 -y 40
	i=0
	while [ "$i" -lt 50 ] && [ "$(wc -l <"$TMPD/sizes$1")" -lt 2 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	check "$1: window sizes seen by the command" "30 100
40 120" "$(cat "$TMPD/sizes$1")"
	tmux -L "$S" send-keys -t "$S" C-c
	i=0
	while [ "$i" -lt 50 ] && [ ! -s "$TMPD/after$1" ]; do sleep 0.1; i=$((i + 1)); done
	check "$1: ^C reaches the command (its INT trap's status)" 9 "$(cat "$TMPD/rc$1")"
	cmp -s "$TMPD/before$1" "$TMPD/after$1" || fail "$1: the terminal was not restored"
}

pty_checks direct
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
spn daemon start >/dev/null || fail "daemon start"
pty_checks daemon
spn ls | grep -q '^local+local  *up ' ||
    fail "the daemon did not run them: $(spn ls)"
pass
