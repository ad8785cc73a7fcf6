#!/bin/sh
# A pty carries TERM, as ssh's pty request does: through an ssh hop (whose
# sshd, with no pty of its own, gives the agent none) and a sudo hop
# behind it, tput and vi work in the command's pty, for run -t and for
# the shim's ssh -t, in a terminal tmux drives.  The shim's -o SetEnv
# sets variables, -o SendEnv passes on LANG, LC_* and COLORTERM only.
. "$(dirname "$0")/lib-sshd.sh"
command -v tmux >/dev/null || skip "tmux is not installed"
command -v tput >/dev/null || skip "tput (ncurses) is not installed"
VI=$(command -v vi) || skip "no vi is installed"
infocmp screen-256color >/dev/null 2>&1 ||
    skip "no terminfo entry screen-256color"

export SPINDLE_RUNTIME_DIR="$TMPD/rt"
FAKEBIN=$("$SPINDLE" fakessh-bin) || fail "spindle fakessh-bin failed"
trap '_t=$?; timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
    (exit $_t); _sshd_cleanup' EXIT

# in_tmux NAME COMMAND: run COMMAND (a shell line) in a 100x30 terminal
# whose TERM is screen-256color, its output in $TMPD/NAME.out and status
# in $TMPD/NAME.rc.
in_tmux() {
	_s=spnterm$$$1
	cat >"$TMPD/$1.sh" <<-EOF
	TERM=screen-256color; export TERM
	PATH=$FAKEBIN:\$PATH
	$2 >"$TMPD/$1.out" 2>"$TMPD/$1.err"
	echo \$? >"$TMPD/$1.rc"
	EOF
	tmux_start "$_s" "sh $TMPD/$1.sh; sleep 30"
}

# wait_file FILE: until it has something, up to 20 s.
wait_file() {
	_i=0
	while [ "$_i" -lt 200 ] && [ ! -s "$1" ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	[ -s "$1" ]
}

# tput_checks NAME COMMAND-PREFIX: TERM, tput cols and tput clear in the
# pty COMMAND-PREFIX gives.
tput_checks() {
	in_tmux "$1" "$2 'echo \"T=\$TERM\"; tput cols; tput clear >/dev/null && echo clear-ok'"
	wait_file "$TMPD/$1.rc" || fail "$1: did not end: $(cat "$TMPD/$1.err")"
	check_rc "$1" 0 "$(cat "$TMPD/$1.rc")" "$TMPD/$1.err"
	out=$(tr -d '\r' <"$TMPD/$1.out")
	check "$1: output" "T=screen-256color
100
clear-ok" "$out"
}

R=$U_A@127.0.0.1
RS=$R+sudo=$U_W
tput_checks run-ssh "\"$SPINDLE\" run -t -c $R"
tput_checks run-sudo "\"$SPINDLE\" run -t -c $RS"
tput_checks shim "ssh -t $R"
tput_checks shim-sudo "ssh -t $RS"
# -e TERM wins over the pty's.
in_tmux run-e "\"$SPINDLE\" run -t -e TERM=dumb $R -- sh -c 'echo \$TERM'"
wait_file "$TMPD/run-e.rc" || fail "run -e TERM: did not end"
check "run -t -e TERM=dumb" dumb "$(tr -d '\r' <"$TMPD/run-e.out")"

# vi_check NAME COMMAND-PREFIX USER: vi in the pty edits a file of USER's
# home, and shows no terminal complaint while it does.
vi_check() {
	_f=$SSHW/home/$3/vi-$1.txt
	in_tmux "$1" "$2 'vi -u NONE -i NONE vi-$1.txt'"
	_s=spnterm$$$1
	# vi is up once its empty-buffer lines (~) show, or 15 s passed.
	_i=0
	while [ "$_i" -lt 150 ]; do
		tmux -L "$_s" capture-pane -p -t "$_s" >"$TMPD/$1.screen"
		grep -q '^~' "$TMPD/$1.screen" && break
		sleep 0.1
		_i=$((_i + 1))
	done
	tmux -L "$_s" send-keys -t "$_s" -l "ihello from vi"
	tmux -L "$_s" send-keys -t "$_s" Escape
	tmux -L "$_s" send-keys -t "$_s" -l ":wq"
	tmux -L "$_s" send-keys -t "$_s" Enter
	wait_file "$TMPD/$1.rc" || {
		tmux -L "$_s" capture-pane -p -t "$_s" >&2
		fail "$1: vi did not end"
	}
	check_rc "$1" 0 "$(cat "$TMPD/$1.rc")" "$TMPD/$1.err"
	check "$1: the file vi wrote" "hello from vi" "$(cat "$_f" 2>&1)"
	if grep -Eiq 'E437|E558|terminal|unknown' "$TMPD/$1.screen" \
	    "$TMPD/$1.out"; then
		sed 's/^/  screen: /' "$TMPD/$1.screen" >&2
		fail "$1: vi complained about the terminal"
	fi
}
vi_check vi-run "\"$SPINDLE\" run -t -c $RS" "$U_W"
vi_check vi-shim "ssh -t $RS" "$U_W"

# SetEnv and SendEnv through the shim (no pty needed).
out=$(LANG=C.UTF-8 LC_TIME=C.UTF-8 SPN_SECRET=x timeout 20 \
    "$FAKEBIN/ssh" -o 'SendEnv=LANG LC_* SPN_*' \
    -o 'SetEnv=SPN_A=1 "SPN_B=two words" SPN_A=2' -o SetEnv=SPN_C=3 "$R" \
    'env | grep -E "^(LANG|LC_|SPN_)" | sort' 2>"$TMPD/err")
check_rc "ssh -o SendEnv -o SetEnv" 0 $? "$TMPD/err"
check "ssh -o SendEnv -o SetEnv: the far side's variables" "LANG=C.UTF-8
LC_TIME=C.UTF-8
SPN_A=1
SPN_B=two words" "$out"
out=$(LANG=C.UTF-8 timeout 20 "$FAKEBIN/ssh" -o 'SendEnv=LANG' \
    -o 'SendEnv=-LA*' "$R" 'echo "L=${LANG-unset}"' 2>"$TMPD/err")
check "ssh -o SendEnv=-LA*: LANG no longer sent" L=unset "$out"
timeout 20 "$FAKEBIN/ssh" -o SetEnv=NOVALUE "$R" true 2>"$TMPD/err"
check_rc "ssh -o SetEnv=NOVALUE" 255 $? "$TMPD/err"
check "ssh -o SetEnv=NOVALUE says" "command-line line 0: Invalid SetEnv." \
    "$(cat "$TMPD/err")"
pass
