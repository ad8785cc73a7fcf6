#!/bin/sh
# ssh inside ssh: the second ssh hop runs the system ssh client *in the
# first remote context*, as that remote user (with the -F config of its
# own hop option, config=: $SPINDLE_SSH_ARGS is for the ssh this machine
# starts, and that user's own copy of the key), then a sudo hop behind
# it.  Output, status and bytes pass all three hops; every hop's agent
# runs from memory; nothing is left running.
. "$(dirname "$0")/lib-sshd.sh"

C=",config=$SSH_CFG"
R2=$U_A@127.0.0.1+$U_B@127.0.0.1$C
R3=$R2+sudo=$U_W

out=$(spn run "$R2" -- id -un 2>"$TMPD/err")
check_rc "run $R2 -- id -un" 0 $? "$TMPD/err"
check "run $R2 -- id -un" "$U_B" "$out"
[ -s "$TMPD/err" ] && fail "run $R2 -- id -un: stderr: $(cat "$TMPD/err")"

out=$(spn run "$R3" -- id -un 2>"$TMPD/err")
check_rc "run $R3 -- id -un" 0 $? "$TMPD/err"
check "run $R3 -- id -un" "$U_W" "$out"
[ -s "$TMPD/err" ] && fail "run $R3 -- id -un: stderr: $(cat "$TMPD/err")"

spn run "$R3" -- sh -c 'exit 42' 2>"$TMPD/err"
check_rc "run $R3 -- sh -c 'exit 42'" 42 $? "$TMPD/err"

# The hops, from info: users A, B, W, each agent the parent of the next
# hop's process chain (hop 2's parent is sshd, whose client ran as A).
out=$(spn info "$R3" 2>"$TMPD/err")
check_rc "info $R3" 0 $? "$TMPD/err"
check "info $R3: users" "$U_A $U_B $U_W" \
    "$(echo "$out" | sed -n 's/.* user \([^ ]*\) .*/\1/p' | xargs)"
check "info $R3: hop numbers and names" \
    "hop 1 ($U_A@127.0.0.1):|hop 2 ($R2):|hop 3 ($R3):" \
    "$(echo "$out" | awk '{ printf "%s%s %s %s", s, $1, $2, $3; s = "|" }')"

# Who ran hop 2's ssh client: the first remote user (seen from hop 3, by
# walking up: agent W <- sudo <- agent B <- sshd session <- ... ; the ssh
# client is a child of agent A, found by its -l argument).
spn_bg run "$R3" -- sleep 1000 2>"$TMPD/err"
_t=100
while [ "$_t" -gt 0 ] && ! ps -o args= -u "$U_W" | grep -q '^sleep 1000'; do
	sleep 0.1
	_t=$((_t - 1))
done
ps -o args= -u "$U_W" | grep -q '^sleep 1000' ||
    fail "run $R3 -- sleep 1000: the sleep did not start: $(cat "$TMPD/err")"
sshc=$(ps -o pid= -o args= -u "$U_A" | awk -v b="$U_B" '
    $2 == "ssh" && index($0, " -l " b " ") { print $1 }')
[ -n "$sshc" ] || fail "no ssh client run by $U_A for hop 2: $(ps -f -u "$U_A")"
for p in $sshc; do
	case $(args_of "$(ppid_of "$p")") in
	spindle:*) ;;
	*) fail "hop 2's ssh ($p) is not a child of hop 1's agent" ;;
	esac
	contains /proc/$p/cmdline "$SSH_CFG" ||
	    fail "hop 2's ssh does not get -F $SSH_CFG: $(args_of "$p")"
done
kill -TERM "$MASTER"
wait "$BGPID"
check_rc "SIGTERM to run $R3 -- sleep 1000" 143 $? "$TMPD/err"
no_world_procs 5 "SIGTERM to run $R3 -- sleep 1000"

# Bytes both ways through all three hops.
head -c 16777216 /dev/urandom >"$TMPD/data"
want=$(sha256sum <"$TMPD/data" | cut -d' ' -f1)
SPN_TIMEOUT=60
{ spn run "$R3" -- cat <"$TMPD/data" 2>"$TMPD/err"; echo $? >"$TMPD/rc"; } |
    sha256sum >"$TMPD/sum"
check_rc "16 MB | run $R3 -- cat" 0 "$(cat "$TMPD/rc")" "$TMPD/err"
check "16 MB round trip through 3 hops (sha256)" "$want" \
    "$(cut -d' ' -f1 "$TMPD/sum")"
SPN_TIMEOUT=20

# The agents of hops 3 and 2 run from memory (each seen by its own user).
out=$(spn run "$R3" -- sh -c 'readlink /proc/$PPID/exe' 2>"$TMPD/err")
check_rc "run $R3 -- (agent's exe)" 0 $? "$TMPD/err"
check "hop 3's /proc/PID/exe" "/memfd:spindle (deleted)" "$out"
out=$(spn run "$R2" -- sh -c 'readlink /proc/$PPID/exe' 2>"$TMPD/err")
check_rc "run $R2 -- (agent's exe)" 0 $? "$TMPD/err"
check "hop 2's /proc/PID/exe" "/memfd:spindle (deleted)" "$out"

no_world_procs 5 "the nested sessions above"
# Each hop sends its own image on: bringing up 3 ssh hops costs the first
# link about one (gzip'd) image, not three.
gz=$("$SPINDLE" bootstrap-size | awk '/^agent image/ { print $3 }')
R3="$U_A@127.0.0.1+$U_B@127.0.0.1$C+$U_B@127.0.0.1$C"
spn run --timings "$R3" -- true 2>"$TMPD/err"
check_rc "run $R3" 0 $? "$TMPD/err"
out=$(sed -n 's/^spindle: first link carried \([0-9]*\) bytes out.*/\1/p' "$TMPD/err")
[ -n "$out" ] || fail "no byte count from --timings: $(cat "$TMPD/err")"
[ "$out" -lt $((gz * 3 / 2)) ] ||
    fail "first link carried $out bytes for 3 ssh hops (image: $gz bytes)"

# Any mix, 10 hops deep (the ssh at hop 4 is started on this machine, as
# $U_A: $SPINDLE_SSH_ARGS is for it).
R10="local+sudo=$U_A+local+$U_B@127.0.0.1+sudo=$U_W+local+local+local+local+local"
out=$(spn run "$R10" -- id -un 2>"$TMPD/err")
check_rc "run $R10" 0 $? "$TMPD/err"
check "run $R10" "$U_W" "$out"
pass
