#!/bin/sh
# Chains of local hops: the command runs at the end of a 1-, 3- and
# 10-deep chain, as the right user, really that deep; `spindle info` names
# each hop with its own pid and its parent's.
. "$(dirname "$0")/lib.sh"

me=$(id -un)

# Prints how many agents stand between the command and the master: the
# command's parent is the last hop, whose parent is the hop before, ...
depth='n=0; p=$PPID
while a=$(tr "\0" "\n" </proc/$p/cmdline | head -n 1); \
    case $a in spindle:*) true;; *) false;; esac; do
	n=$((n + 1)); s=$(cat /proc/$p/stat); s=${s##*) }; set -- $s; p=$2
done
echo "$n $p"'

for n in 1 3 10; do
	r=$(route $n)
	out=$(spn run "$r" -- id -un 2>"$TMPD/err")
	check_rc "run $r -- id -un" 0 $? "$TMPD/err"
	check "id -un at the end of $n hops" "$me" "$out"
	[ -s "$TMPD/err" ] && fail "$n hops: unexpected stderr: $(cat "$TMPD/err")"

	out=$(spn run "$r" -- sh -c "$depth" 2>"$TMPD/err")
	check_rc "run $r -- sh -c DEPTH" 0 $? "$TMPD/err"
	m=$(last_master)
	check "agents above the command on $r (and the master's pid)" \
	    "$n $m" "$out"
done

# spindle info on a 3-chain: hop N (ROUTE): pid P ppid Q uid U user NAME ...
spn info local+local+local >"$TMPD/info" 2>"$TMPD/err"
check_rc "info local+local+local" 0 $? "$TMPD/err"
m=$(last_master)
check "info lines" 3 "$(wc -l <"$TMPD/info")"
prev=$m
seen=" "
i=1
while read -r hop n label pidw pid ppidw ppid uidw uid userw user rest; do
	r=$(route $i)
	check "info line $i starts" "hop $i ($r): pid" "$hop $n $label $pidw"
	check "info line $i fields" "ppid uid user" "$ppidw $uidw $userw"
	case $pid in ''|*[!0-9]*) fail "info line $i: bad pid '$pid'";; esac
	case " $seen " in *" $pid "*) fail "info: pid $pid appears twice";; esac
	seen="$seen$pid "
	[ "$pid" != "$m" ] || fail "info: hop $i has the master's pid"
	check "hop $i ppid (the pid of hop $((i - 1)), 0 = master)" \
	    "$prev" "$ppid"
	check "hop $i uid" "$(id -u)" "$uid"
	check "hop $i user" "$me" "$user"
	prev=$pid
	i=$((i + 1))
done <"$TMPD/info"
check "info hops read" 4 "$i"

# Agents' log records reach the master tagged with their context's name.
spn -vv run local+local+local -- true 2>"$TMPD/err"
check_rc "-vv run" 0 $? "$TMPD/err"
for name in local local+local local+local+local; do
	grep -q "^spindle \[$name\]: debug: up, pid [0-9]*$" "$TMPD/err" ||
	    fail "no log record from [$name]: $(cat "$TMPD/err")"
done
pass
