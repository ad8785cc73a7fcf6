#!/bin/sh
# The daemon: started once however many clients race to start it; a
# private directory and socket; up/down/ls/check; named routes from the
# routes file connect on first use; run goes through it with the client's
# own stdio passed over (no data through the client), exit status back,
# signals relayed.
. "$(dirname "$0")/lib-fakessh.sh"
PY=/usr/bin/python3
RT=$SPINDLE_RUNTIME_DIR
unset SSH_AUTH_SOCK	# the daemon starts without an agent (see below)

# daemons: how many daemons serve our runtime directory.
daemons() {
	for _p in $(pgrep -f 'spindle .*daemon serve'); do
		tr '\0' '\n' <"/proc/$_p/environ" 2>/dev/null |
		    grep -qx "SPINDLE_RUNTIME_DIR=$RT" && echo "$_p"
	done | wc -l
}

# client_of PATTERN: the spindle process (not its timeout or sh) whose
# argv matches.
client_of() {
	for _p in $(pgrep -f "$1"); do
		[ "$(cat "/proc/$_p/comm" 2>/dev/null)" = spindle ] && echo "$_p"
	done | head -n 1
}

# Eight clients at once, no daemon yet: exactly one daemon starts.
i=0
while [ $i -lt 8 ]; do
	spn check local >"$TMPD/race$i" 2>&1 &
	i=$((i + 1))
done
wait
i=0
while [ $i -lt 8 ]; do
	contains "$TMPD/race$i" "local: up, round trip" ||
	    fail "racing client $i: $(cat "$TMPD/race$i")"
	i=$((i + 1))
done
check "daemons after 8 racing clients" 1 "$(daemons)"
dpid=$(daemon_pid)
[ -n "$dpid" ] || fail "daemon status names no pid"

# Private: directory 0700, socket 0600, both ours.
check "runtime dir mode" "700 root" "$(stat -c '%a %U' "$RT")"
check "socket mode" "600 root socket" \
    "$(stat -c '%a %U %F' "$RT/sock" | sed 's/^\(.* .*\) socket$/\1 socket/')"

# A named route of the routes file: listed as down, up on first use.
spn ls >"$TMPD/ls" 2>&1 || fail "ls: $(cat "$TMPD/ls")"
grep -q '^web  *down ' "$TMPD/ls" || fail "web not listed down: $(cat "$TMPD/ls")"
out=$(spn run web -- id -un 2>"$TMPD/err")
check_rc "run web" 0 $? "$TMPD/err"
check "run web: user" "$U_W" "$out"
spn ls >"$TMPD/ls" 2>&1
grep -q '^web  *up .*ms ' "$TMPD/ls" ||
    fail "web not up with an rtt: $(cat "$TMPD/ls")"
spn ls --json >"$TMPD/json" || fail "ls --json"
if [ -x "$PY" ]; then
	$PY - "$TMPD/json" "$U_A@127.0.0.1+sudo=$U_W" <<'EOF' ||
import json, sys
routes = {r["name"]: r for r in json.load(open(sys.argv[1]))}
w = routes["web"]
assert w["state"] == "up", w
assert w["route"] == sys.argv[2], w
assert len(w["pids"]) == 2 and all(p > 0 for p in w["pids"]), w
assert w["bytes"] > 0 and w["uptime"] >= 0, w
EOF
	    fail "ls --json: $(cat "$TMPD/json")"
fi

# A password from a command.
out=$(spn run webcmd -- id -un 2>"$TMPD/err")
check_rc "run webcmd (password-command)" 0 $? "$TMPD/err"
check "run webcmd: user" "$U_W" "$out"

# A password command that hangs stops nothing else, and down stops it.
cat >>"$SPINDLE_ROUTES" <<EOF
route hang $U_A@127.0.0.1+sudo=$U_W
    password-command sleep 28.7; echo never
EOF
spn run hang -- true >/dev/null 2>"$TMPD/hang.err" &
hang=$!
sleep 0.5
t0=$(date +%s)
out=$(spn run web -- echo meanwhile 2>&1)
check "another route while a password command hangs" meanwhile "$out"
spn ls | grep -q '^hang  *connecting ' || fail "hang not connecting: $(spn ls)"
spn down hang || fail "down hang"
wait $hang
check_rc "run on a route taken down while connecting" 255 $? "$TMPD/hang.err"
contains "$TMPD/hang.err" "route taken down" ||
    fail "hang: $(cat "$TMPD/hang.err")"
[ $(($(date +%s) - t0)) -le 5 ] || fail "down of a connecting route was slow"
sleep 0.3
pgrep -x -f 'sleep 28.7' >/dev/null && fail "password command left running"

# check: a round trip, remembered by ls.
out=$(spn check web 2>&1) || fail "check web: $out"
case $out in "web: up, round trip "*" ms") ;; *) fail "check: $out" ;; esac
spn ls | grep -q '^web  *up .*ms ' || fail "ls shows no rtt: $(spn ls)"

# up NAME ROUTE and down NAME.
out=$(spn up two "$U_B@127.0.0.1" 2>&1) || fail "up two: $out"
spn ls | grep -q "^two  *up .* $U_B@127.0.0.1\$" || fail "two not up: $(spn ls)"
out=$(spn run two -- id -un 2>&1)
check "run on an up route" "$U_B" "$out"
spn down two || fail "down two"
spn ls | grep -q '^two ' && fail "two still listed after down"
spn down two 2>"$TMPD/err"
check_rc "down of an unknown route" 1 $? "$TMPD/err"
# Down while a command runs on it: the command fails, the name goes.
spn up three local >/dev/null || fail "up three"
spn run three -- sleep 5 </dev/null >/dev/null 2>"$TMPD/three.err" &
three=$!
sleep 0.5
spn down three || fail "down three"
wait $three
check_rc "command on a route taken down" 255 $? "$TMPD/three.err"
spn ls | grep -q '^three ' && fail "three still listed: $(spn ls)"
spn up bad "$U_O@127.0.0.1+sudo=$U_W" 2>"$TMPD/err"
check_rc "up of a route that fails" 255 $? "$TMPD/err"
contains "$TMPD/err" "hop 2 ($U_O@127.0.0.1+sudo=$U_W)" ||
    fail "up bad: $(cat "$TMPD/err")"

# run via the daemon: the client holds none of the data (its stdin and
# stdout are /dev/null while the command runs), the daemon holds ours.
# remote_sleep SECS: wait (15 s at most) until $U_W runs `sleep SECS`:
# the command has started, whatever the machine's load.
remote_sleep() {
	_t=150
	while [ $_t -gt 0 ] && ! ps -o args= -u "$U_W" | grep -qx "sleep $1"; do
		sleep 0.1
		_t=$((_t - 1))
	done
	[ $_t -gt 0 ] || fail "no 'sleep $1' of $U_W after 15 s: $(cat "$TMPD/err")"
}
spn run web -- sh -c 'sleep 3; echo done' >"$TMPD/out" 2>"$TMPD/err" &
bg=$!
remote_sleep 3
client=$(client_of "spindle run web -- sh -c sleep 3")
[ -n "$client" ] || fail "no client process"
check "client stdout while running" /dev/null "$(readlink "/proc/$client/fd/1")"
ls -l "/proc/$dpid/fd" | grep -q "$TMPD/out" ||
    fail "the daemon does not hold the client's stdout"
wait $bg
check_rc "run via daemon" 0 $? "$TMPD/err"
check "output written by the daemon" done "$(cat "$TMPD/out")"

# Signals are relayed: the command's INT trap runs, its status comes back.
spn run web -- sh -c 'sleep 100 >/dev/null 2>&1 & p=$!
    trap "kill \$p; echo got INT; exit 3" INT; wait' \
    >"$TMPD/out" 2>"$TMPD/err" &
bg=$!
remote_sleep 100
sleep 0.5	# the trap is set just after the sleep starts
client=$(client_of "spindle run web -- sh -c sleep 100")
kill -INT "$client"
wait $bg
check_rc "relayed SIGINT" 3 $? "$TMPD/err"
check "trap ran" "got INT" "$(cat "$TMPD/out")"

# A client killed outright: the daemon kills its command.
spn run web -- sleep 1000 </dev/null >/dev/null 2>"$TMPD/err" &
sl=$(user_sleep "$U_W")
client=$(client_of "spindle run web -- sleep 1000")
kill -KILL "$client"
wait_gone "$sl" 15 || fail "the command of a killed client still runs"
spn ls | grep -q '^web  *up ' || fail "web went down with a client: $(spn ls)"

# Clients killed at any moment, before their command runs too: nothing
# of theirs is left running.
i=0
while [ $i -lt 30 ]; do
	"$SPINDLE" run web -- sleep 1000 </dev/null >/dev/null 2>&1 &
	sleep "0.0$((i % 10))$((i / 10))"
	kill -KILL $! 2>/dev/null
	wait $! 2>/dev/null
	i=$((i + 1))
done
t=50
while [ $t -gt 0 ] && ps -o args= -u "$U_W" | grep -q '^sleep 1000'; do
	sleep 0.1
	t=$((t - 1))
done
ps -o args= -u "$U_W" | grep -q '^sleep 1000' &&
    fail "commands of killed clients still run: $(ps -o pid=,args= -u "$U_W")"

# A pipe shared with others stays as it was (blocking): the daemon
# writes through a file description of its own.
if [ -x "$PY" ]; then
	out=$($PY - "$SPINDLE" <<'EOF'
import fcntl, os, subprocess, sys
r, w = os.pipe()
p = subprocess.run([sys.argv[1], "run", "web", "--", "sh", "-c",
                    "echo out; echo err >&2"], stdout=w, stderr=w)
nb = fcntl.fcntl(w, fcntl.F_GETFL) & os.O_NONBLOCK
os.close(w)
print(p.returncode, "nonblock" if nb else "blocking",
      os.read(r, 100).decode().split())
EOF
	)
	check "shared pipe after a run" "0 blocking ['out', 'err']" "$out"
fi

# stdin through the daemon, EOF included; exit status.
head -c 200000 /dev/urandom >"$TMPD/in"
out=$(spn run web -- sha256sum <"$TMPD/in" 2>"$TMPD/err")
check "stdin via daemon" "$(sha256sum <"$TMPD/in" | cut -d' ' -f1)" \
    "$(echo "$out" | cut -d' ' -f1)"
spn run web -- sh -c 'exit 42' </dev/null
check_rc "exit status via daemon" 42 $? /dev/null

# The client's ssh agent reaches the ssh hops of a daemon started without
# one: a config whose only key is in the agent.
eval "$(ssh-agent -s)" >/dev/null || fail "ssh-agent"
agent_pid=$SSH_AGENT_PID
ssh-add -q "$SSHW/keys/root/id" 2>"$TMPD/err" || fail "ssh-add: $(cat "$TMPD/err")"
sed -e 's|IdentityFile .*|IdentityFile /nonexistent|' \
    -e '/IdentitiesOnly/d' -e '/IdentityAgent/d' "$SSH_CFG" >"$TMPD/agent_cfg"
out=$(SPINDLE_SSH_ARGS="-F $TMPD/agent_cfg" spn run "$U_B@127.0.0.1" -- id -un \
    2>"$TMPD/err")
check_rc "ssh key from the client's agent" 0 $? "$TMPD/err"
check "agent route: user" "$U_B" "$out"
tr '\0' '\n' <"/proc/$dpid/environ" | grep -q '^SSH_AUTH_SOCK=' &&
    fail "the daemon itself has an agent: the check proves nothing"
# So does the one of a route whose password command runs first (hop 1
# is started once it is done).
cat >>"$SPINDLE_ROUTES" <<EOF
route agentpw $U_B@127.0.0.1
    ssh-config $TMPD/agent_cfg
    password-command echo unused
EOF
out=$(SPINDLE_SSH_ARGS= spn run agentpw -- id -un 2>"$TMPD/err")
check_rc "ssh key from the client's agent, after a password command" 0 $? \
    "$TMPD/err"
check "agentpw: user" "$U_B" "$out"
kill "$agent_pid"
unset SSH_AUTH_SOCK SSH_AGENT_PID

# The one-shot commands know the routes file's names too.
out=$(spn run --no-daemon web -- id -un 2>"$TMPD/err")
check_rc "run --no-daemon web" 0 $? "$TMPD/err"
check "run --no-daemon web: user" "$U_W" "$out"
out=$(spn run --no-daemon webcmd -- id -un 2>"$TMPD/err")
check_rc "run --no-daemon webcmd (password-command)" 0 $? "$TMPD/err"
check "run --no-daemon webcmd: user" "$U_W" "$out"
spn ping -c 3 web >"$TMPD/out" 2>"$TMPD/err" || fail "ping web: $(cat "$TMPD/err")"

# A bad routes file: the error names file and line.
printf 'keepalive 5\nroute x local\n  bogus 1\n' >"$TMPD/routes.bad"
SPINDLE_ROUTES=$TMPD/routes.bad spn run --no-daemon x -- true 2>"$TMPD/err"
check_rc "bad routes file" 255 $? "$TMPD/err"
contains "$TMPD/err" "routes.bad:3: unknown option 'bogus'" ||
    fail "bad routes file: $(cat "$TMPD/err")"

# Bad inline routes through the daemon: refused, and nothing of them kept
# (with LeakSanitizer, the leak check as the daemon stops sees that).
for r in 'local+sudo=x,bogus' 'local+sudo=-x' 'local+h,bogus=1'; do
	spn run "$r" -- true 2>"$TMPD/err"
	check_rc "run '$r' through the daemon" 2 $? "$TMPD/err"
done
contains "$TMPD/err" "unknown ssh hop option 'bogus=1'" ||
    fail "bad ssh hop option: $(cat "$TMPD/err")"
spn up bad2 'local+sudo,nosuch' 2>"$TMPD/err"
check_rc "up with a bad sudo hop" 2 $? "$TMPD/err"
check "ls after all that still one daemon" 1 "$(daemons)"
check "same daemon" "$dpid" "$(daemon_pid)"

# stop: socket gone, routes closed, no agents left.
spn daemon stop || fail "daemon stop"
[ -e "$RT/sock" ] && fail "socket left after stop"
wait_gone "$dpid" 5
no_world_procs 5 "daemon stop"
pass
