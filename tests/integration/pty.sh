#!/bin/sh
# run -t: the command gets a pty of its own sized like ours, our
# terminal goes raw (so ^C reaches the remote) and comes back as it was,
# window size changes follow, and the exit status still comes back.
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
out=$(in_script 'stty rows 33 cols 101; "$SPN" run -t local+local -- sh -c "tty; stty size; echo to-stderr >&2"' |
    tr -d '\r')
echo "$out" | grep -q '^/dev/pts/' || fail "no pty: $out"
echo "$out" | grep -qx '33 101' || fail "window size not passed: $out"
echo "$out" | grep -qx 'to-stderr' || fail "stderr not on the pty: $out"

in_script '"$SPN" run -t local -- sh -c "exit 7"' >/dev/null
check "exit status through -t" 7 $?

# Without a terminal -t still gives the command one.
check "-t without a terminal" /dev/pts/ \
    "$(spn run -t local -- tty </dev/null | cut -c1-9)"

# Interactive: resize, ^C, and the terminal restored afterwards.
S=spnpty$$
cat >"$TMPD/session" <<EOF
stty -g >"$TMPD/before"
"$SPINDLE" run -t local+local -- sh -c 'trap "stty size >>$TMPD/sizes" WINCH; stty size >>$TMPD/sizes; trap "exit 9" INT; while :; do sleep 0.1; done'
echo \$? >"$TMPD/rc"
stty -g >"$TMPD/after"
EOF
tmux -L "$S" new-session -d -s "$S" -x 100 -y 30 "sh $TMPD/session; sleep 30"
trap '_t=$?; tmux -L "$S" kill-server 2>/dev/null; (exit $_t); _lib_cleanup' EXIT
i=0
while [ "$i" -lt 50 ] && [ ! -s "$TMPD/sizes" ]; do sleep 0.1; i=$((i + 1)); done
tmux -L "$S" resize-window -t "$S" -x 120 -y 40
i=0
while [ "$i" -lt 50 ] && [ "$(wc -l <"$TMPD/sizes")" -lt 2 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "window sizes seen by the command" "30 100
40 120" "$(cat "$TMPD/sizes")"
tmux -L "$S" send-keys -t "$S" C-c
i=0
while [ "$i" -lt 50 ] && [ ! -s "$TMPD/after" ]; do sleep 0.1; i=$((i + 1)); done
check "^C reaches the command (its INT trap's status)" 9 "$(cat "$TMPD/rc")"
cmp -s "$TMPD/before" "$TMPD/after" || fail "the terminal was not restored"
pass
