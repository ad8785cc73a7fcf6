#!/bin/sh
# A terminal session through the SSH gateway, driven under tmux: `ssh -t
# local.spindle` gets a pty the size of the pane, TERM passed, a resized
# pane followed (window-change), Ctrl-C reaching the foreground job, and
# the shell's `exit 4` coming back as ssh's status; `ssh -tt` without a
# terminal on our side still gets a pty.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || skip "tmux is not installed"
. "$(dirname "$0")/lib-gateway.sh"
T0=$(date +%s)
SSH="ssh -F $SSHCFG -o BatchMode=yes"

# wait_file FILE [LINES]: until it has that many lines (1), 30 s at most.
wait_file() {
	_i=0
	while [ "$_i" -lt 300 ]; do
		[ -s "$1" ] && [ "$(wc -l <"$1")" -ge "${2:-1}" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	fail "nothing in $(basename "$1") after 30 s (pane: $(tmux -L "$S" \
	    capture-pane -p -t "$S" 2>/dev/null | grep . | tail -5))"
}
# typed LINE: the line typed into the remote shell.
typed() {
	tmux -L "$S" send-keys -t "$S" -l "$1"
	tmux -L "$S" send-keys -t "$S" Enter
}
pane_size() {
	tmux -L "$S" display -p -t "$S" '#{pane_height} #{pane_width}'
}

# -tt without a terminal here: the command still gets a pty, and TERM.
out=$(TERM=vt100 timeout 30 $SSH -tt local.spindle 'tty; echo "$TERM"' \
    </dev/null 2>"$TMPD/err" | tr -d '\r')
check_rc "-tt without a terminal" 0 $? "$TMPD/err"
case $out in /dev/pts/*) ;; *) fail "-tt: no pty: $out" ;; esac
check "-tt: TERM" vt100 "$(echo "$out" | tail -1)"
TERM=vt100 timeout 30 $SSH -tt local.spindle 'exit 5' </dev/null \
    >/dev/null 2>"$TMPD/err"
check_rc "-tt: exit status" 5 $? "$TMPD/err"

# An interactive login shell in a tmux pane.
S=spngwpty$$
tmux_start "$S" "$SSH -t local.spindle; echo \$? >$TMPD/rc; sleep 60"
typed "tty >$TMPD/tty; stty size >$TMPD/size1"
wait_file "$TMPD/size1"
case $(cat "$TMPD/tty") in /dev/pts/*) ;;
*) fail "not a pty: $(cat "$TMPD/tty")" ;; esac
check "stty size = the pane" "$(pane_size)" "$(cat "$TMPD/size1")"

tmux -L "$S" resize-window -t "$S" -x 123 -y 41
sleep 0.5
typed "stty size >$TMPD/size2"
wait_file "$TMPD/size2"
check "stty size follows the resized pane" "$(pane_size)" \
    "$(cat "$TMPD/size2")"
[ "$(cat "$TMPD/size1")" = "$(cat "$TMPD/size2")" ] &&
    fail "the pane did not change size"

# Ctrl-C reaches the foreground job (sh -c's trap), not ssh.
typed "sh -c 'echo started >$TMPD/job; trap \"exit 9\" INT; while :; do sleep 0.1; done'; echo \$? >$TMPD/intr"
wait_file "$TMPD/job"
tmux -L "$S" send-keys -t "$S" C-c
wait_file "$TMPD/intr"
check "Ctrl-C reached the job (its INT trap's status)" 9 \
    "$(cat "$TMPD/intr")"

# The shell's exit status is ssh's.
typed "exit 4"
wait_file "$TMPD/rc"
check "exit 4 through the gateway" 4 "$(cat "$TMPD/rc")"
log "took $(($(date +%s) - T0)) s"
pass
