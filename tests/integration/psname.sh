#!/bin/sh
# How agents look in ps: argv[0] spindle:USER@HOST:PID, where PID is the
# parent context's pid (the master's for hop 1); comm "spindle"; the
# executable a deleted memfd named spindle.
. "$(dirname "$0")/lib.sh"

# Like the agent, anything but [A-Za-z0-9._-] in the names becomes '_'.
user=$(id -un | sed 's/[^A-Za-z0-9._-]/_/g')
host=$(uname -n | sed 's/[^A-Za-z0-9._-]/_/g')

spn_bg run local+local+local -- sleep 30
agents=$(wait_agents "$MASTER" 3) || fail "the 3 agents did not come up"
parent=$MASTER
i=1
for a in $agents; do
	check "hop $i: ps -o args" "spindle:$user@$host:$parent" \
	    "$(ps -o args= -p "$a")"
	check "hop $i: argv (cmdline)" "spindle:$user@$host:$parent" \
	    "$(args_of "$a")"
	check "hop $i: ps -o comm" spindle "$(ps -o comm= -p "$a")"
	check "hop $i: /proc/PID/comm" spindle "$(comm_of "$a")"
	check "hop $i: /proc/PID/exe" "/memfd:spindle (deleted)" \
	    "$(readlink "/proc/$a/exe")"
	check "hop $i: parent" "$parent" "$(ppid_of "$a")"
	parent=$a
	i=$((i + 1))
done
# The command is a child of the last hop, under its own name.
cmd=$(children_of "$parent")
check "command under hop 3" "sleep 30" "$(args_of "$cmd")"

kill -TERM "$MASTER"
wait "$BGPID"
check_rc "spindle run ... sleep 30, sent SIGTERM" 143 $?
wait_gone $agents $cmd 5 || fail "agents or command left after SIGTERM"

pass
