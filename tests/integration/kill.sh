#!/bin/sh
# Killing things: a hop dying under a running command ends spindle with
# 255 and a message naming the hop, and takes everything behind it down;
# a SIGKILLed master takes the whole tree down; SIGTERM, SIGINT and SIGHUP
# sent to spindle are relayed to the command, whose status it returns.
. "$(dirname "$0")/lib.sh"

# start3: a 3-chain running `sleep 1000`; sets AGENTS (hop order) and CMD.
start3() {
	spn_bg run local+local+local -- sleep 1000 2>"$TMPD/err"
	AGENTS=$(wait_agents "$MASTER" 3) || fail "the 3 agents did not come up"
	CMD=$(children_of "$(echo $AGENTS | awk '{ print $3 }')")
	check "the command" "sleep 1000" "$(args_of "$CMD")"
}

# ends_within SECS: spindle ($MASTER) exits within SECS; sets RC.
ends_within() {
	_t=$(($1 * 10))
	while alive "$MASTER" && [ "$_t" -gt 0 ]; do
		sleep 0.1
		_t=$((_t - 1))
	done
	alive "$MASTER" && fail "spindle still running ${1}s after $WHAT"
	{ wait "$BGPID"; } 2>/dev/null
	RC=$?
}

# (a) A hop killed under the command: 255, the hop named, all gone.
for n in 2 1 3; do
	start3
	victim=$(echo $AGENTS | awk -v n=$n '{ print $n }')
	kill -KILL "$victim"
	WHAT="hop $n was killed"
	ends_within 5
	check_rc "$WHAT" 255 "$RC" "$TMPD/err"
	label="hop $n ($(route $n))"
	contains "$TMPD/err" "$label" ||
	    fail "$WHAT: message does not name '$label': $(cat "$TMPD/err")"
	wait_gone $AGENTS "$CMD" 5 || fail "left running after $WHAT"
done

# (a2) SIGHUP or SIGTERM to an agent (sudo passes on its terminal's
# hangup when the hop above goes): it dies of it, but in order, taking
# along what the command's shell forked (which has no parent-death
# signal of its own).
for sig in HUP TERM; do
	spn_bg run local+local -- sh -c 'sleep 1000; :' 2>"$TMPD/err"
	AGENTS=$(wait_agents "$MASTER" 2) || fail "the 2 agents did not come up"
	SH=$(children_of "$(echo $AGENTS | awk '{ print $2 }')")
	t=50
	until SL=$(children_of "$SH") && [ -n "$SL" ] || [ $t -le 0 ]; do
		sleep 0.1
		t=$((t - 1))
	done
	check "the sleep under sh" "sleep 1000" "$(args_of "$SL")"
	kill -"$sig" "$(echo $AGENTS | awk '{ print $2 }')"
	WHAT="SIG$sig to hop 2"
	ends_within 5
	check_rc "$WHAT" 255 "$RC" "$TMPD/err"
	contains "$TMPD/err" "hop 2 (local+local): agent killed by signal" ||
	    fail "$WHAT: $(cat "$TMPD/err")"
	wait_gone $AGENTS "$SH" "$SL" 5 || fail "left running after $WHAT"
done

# (b) The master SIGKILLed: nothing of the tree survives it for long.
start3
kill -KILL "$MASTER"
{ wait "$BGPID"; } 2>/dev/null
wait_gone $AGENTS "$CMD" 5 || fail "left running after the master was SIGKILLed"

# (c) Signals to spindle go to the command.
# sigcase SIG STATUS COMMAND...: SIG to spindle gives STATUS.  A command
# that prints "ready" is signalled once it has (its traps are set).
sigcase() {
	_sig=$1 _want=$2
	shift 2
	spn_bg run local+local "$@" >"$TMPD/out" 2>"$TMPD/err"
	_ag=$(wait_agents "$MASTER" 2) || fail "the 2 agents did not come up"
	_cmd=$(children_of "$(echo $_ag | awk '{ print $2 }')")
	case "$*" in
	*ready*) wait_ready ;;
	esac
	kill -"$_sig" "$MASTER"
	WHAT="SIG$_sig to spindle running '$*'"
	ends_within 5
	check_rc "$WHAT" "$_want" "$RC" "$TMPD/err"
	wait_gone $_ag $_cmd 5 || fail "left running after $WHAT"
}
wait_ready() {
	_t=100
	until grep -q ready "$TMPD/out" || [ $_t -le 0 ]; do
		sleep 0.1
		_t=$((_t - 1))
	done
	grep -q ready "$TMPD/out" || fail "the command did not say ready"
}
sigcase TERM 143 sleep 1000
sigcase INT 130 sleep 1000
sigcase HUP 129 sleep 1000
sigcase TERM 7 sh -c 'trap "exit 7" TERM; echo ready; sleep 1000 & wait'
# (A non-interactive sh starts background jobs with SIGINT ignored: the
# sleep would outlive the sh and hold its stdout, so no `&` here.)
sigcase INT 8 sh -c 'trap "exit 8" INT; echo ready; while :; do sleep 0.1; done'
sigcase HUP 9 sh -c 'trap "exit 9" HUP; echo ready; while :; do sleep 0.1; done'
# A command that ignores the signal keeps running: spindle goes on too.
spn_bg run local -- sh -c 'trap "" TERM; echo ready; sleep 1; echo survived' \
    >"$TMPD/out" 2>"$TMPD/err"
wait_ready
kill -TERM "$MASTER"
WHAT="a command ignoring SIGTERM"
ends_within 5
check_rc "$WHAT" 0 "$RC" "$TMPD/err"
check "$WHAT: output" "ready
survived" "$(cat "$TMPD/out")"

# (d) The command has exited but left a process holding its stdout, so
# spindle waits for EOF (as ssh does).  SIGTERM must still end it, and
# the straggler with it, rather than be relayed to a command that is gone
# and be lost.
spn_bg run local+local -- sh -c 'sleep 1000 & echo "$!" >&2; exit 0' \
    2>"$TMPD/err"
i=0
while [ ! -s "$TMPD/err" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
straggler=$(head -n 1 "$TMPD/err")
track "$straggler"
check "the straggler" "sleep 1000" "$(args_of "$straggler")"
ag=$(agents_of "$MASTER")
sleep 0.5
if alive "$MASTER"; then
	kill -TERM "$MASTER"
	WHAT="SIGTERM with the command gone and its stdout held open"
	ends_within 5
else
	# Not what ssh does, but then the straggler must be gone too.
	log "note: spindle did not wait for EOF from the command's straggler"
	WHAT="the command's exit"
fi
wait_gone $ag "$straggler" 5 || fail "left running after $WHAT"

pass
