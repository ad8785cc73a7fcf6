#!/bin/sh
# The master SIGKILLed while `sleep 1000` runs through an ssh hop and a
# sudo hop: its ssh client dies with it, sshd closes the session, the
# remote agent sees EOF and takes sudo, the sudo'd agent and the sleep
# down, all within 5 s.  Also: whatever else dies under the route ends
# spindle with 255 and words that say what it was: the local ssh client
# killed ("ssh killed by signal 9"), the session's sshd killed or the
# remote agent killed (the connection dropped, never "the agent exited
# with status 255"), the local sudo of hop 2 killed.
. "$(dirname "$0")/lib-sshd.sh"

R=$U_A@127.0.0.1+sudo=$U_W

# start: run R -- sleep 1000 in the background and wait for the sleep;
# sets SLEEP (its pid) and REMOTE (every remote process of the session:
# agents, sudo, the sleep, sshd's session processes).
start() {
	spn_bg run "$R" -- sleep 1000 2>"$TMPD/err"
	SLEEP=$(user_sleep "$U_W") || exit 1
	# The chain above the sleep: agent W <- sudo (one process, or two
	# when sudo monitors a terminal) <- agent A <- sshd.
	A2=$(ppid_of "$SLEEP")
	SUDO=""
	A1=$(ppid_of "$A2")
	while case "$(args_of "$A1")" in "sudo "*) true ;; *) false ;; esac
	do
		SUDO="$SUDO $A1"
		A1=$(ppid_of "$A1")
	done
	case "$(args_of "$A2")|$SUDO|$(args_of "$A1")" in
	spindle:*"| "*"|spindle:"*) ;;
	*) fail "unexpected process chain above the sleep:" \
	    "$(args_of "$A2") <- sudo pids:$SUDO <- $(args_of "$A1")" ;;
	esac
	REMOTE="$SLEEP $A2 $SUDO $A1 $(sshd_sessions)"
	SSHC=$(children_of "$MASTER")
}

# 1. SIGKILL the master.
start
[ -n "$SSHC" ] || fail "the master has no child (its ssh client)"
kill -KILL "$MASTER"
wait "$BGPID" 2>/dev/null
wait_gone $SSHC 5 || fail "the ssh client outlived the SIGKILLed master"
wait_gone $REMOTE 5 ||
    fail "remote processes left 5s after the master was SIGKILLed"
no_world_procs 2 "the master SIGKILLed"

# ends WHAT STATUS [MESSAGE]: spindle exits within 5 s with STATUS, its
# message starting with MESSAGE if one is given, and nothing of the
# session is left.
ends() {
	_t=50
	while alive "$MASTER" && [ "$_t" -gt 0 ]; do
		sleep 0.1
		_t=$((_t - 1))
	done
	alive "$MASTER" && fail "spindle still running 5s after $1"
	wait "$BGPID"
	check_rc "$1 under run $R" "$2" $? "$TMPD/err"
	if [ -n "${3:-}" ]; then
		contains "$TMPD/err" "spindle: $3" ||
		    fail "$1: wanted '$3...', got: $(cat "$TMPD/err")"
		log "$1: $(cat "$TMPD/err")"
	fi
	wait_gone $REMOTE 5 || fail "remote processes left after $1"
	no_world_procs 2 "$1"
}
HOP1="hop 1 ($U_A@127.0.0.1)"
HOP2="hop 2 ($R)"

# 2. The session's sshd killed (the connection drops on the remote side):
# spindle ends with 255, naming hop 1 and what ssh said, and leaves
# nothing.
start
kill -KILL $(sshd_sessions)
ends "its sshd session was killed" 255 "$HOP1: connection dropped"

# 3. The remote agent of hop 1 SIGKILLed: sshd passes no status for a
# signal, ssh exits 255: the connection dropped, not "agent exited".
start
kill -KILL "$A1"
ends "hop 1's agent was killed" 255 \
    "$HOP1: connection dropped (ssh exited with status 255)"

# 3b. The local ssh client SIGKILLed: ssh's own death, not the agent's.
start
[ "$(comm_of "$SSHC")" = ssh ] || fail "the master's child is not ssh"
kill -KILL "$SSHC"
ends "the local ssh was killed" 255 "$HOP1: ssh killed by signal 9"

# 3c. Hop 2's sudo SIGKILLed: sudo dies of its agent's signals too, so
# the words leave both open.
start
kill -KILL $(echo $SUDO | awk '{ print $NF }')
ends "hop 2's sudo was killed" 255 \
    "$HOP2: sudo (or the agent under it) killed by signal 9"

# 4. SIGTERM to spindle reaches the remote command (through ssh and sudo).
start
kill -TERM "$MASTER"
ends "SIGTERM" 143

pass
