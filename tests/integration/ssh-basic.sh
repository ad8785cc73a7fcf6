#!/bin/sh
# One ssh hop through the system OpenSSH client to a real sshd on
# loopback: the command runs as the remote user, exit statuses, stdin and
# a 64 MB stream pass through, `info` describes the remote agent, which
# runs from memory (memfd), writes no file on the remote and leaves no
# process behind.
. "$(dirname "$0")/lib-sshd.sh"

R=$U_A@127.0.0.1
remote_files "$U_A" >"$TMPD/files"

# The command runs as the remote user, and spindle says nothing else.
out=$(spn run "$R" -- id -un 2>"$TMPD/err")
check_rc "run $R -- id -un" 0 $? "$TMPD/err"
check "run $R -- id -un" "$U_A" "$out"
[ -s "$TMPD/err" ] && fail "run $R -- id -un: stderr: $(cat "$TMPD/err")"

# Exit statuses.
for st in 0 1 42; do
	spn run "$R" -- sh -c "exit $st" >"$TMPD/out" 2>"$TMPD/err"
	check_rc "run $R -- sh -c 'exit $st'" "$st" $? "$TMPD/err"
done
spn run "$R" -- false 2>"$TMPD/err"
check_rc "run $R -- false" 1 $? "$TMPD/err"

# Arguments arrive intact (no remote shell re-splits them).
out=$(spn run "$R" -- printf '[%s]' 'a b' '$HOME' "'q'" '' 2>"$TMPD/err")
check_rc "run $R -- printf" 0 $? "$TMPD/err"
check "arguments" "[a b][\$HOME]['q'][]" "$out"

# stdin reaches the command, and its end too (wc must see EOF).
out=$(printf 'a\nb\n' | spn run "$R" -- wc -l 2>"$TMPD/err")
check_rc "printf 'a\\nb\\n' | run $R -- wc -l" 0 $? "$TMPD/err"
check "printf 'a\\nb\\n' | run $R -- wc -l" 2 "$(echo $out)"
out=$(spn run "$R" -- wc -c </dev/null 2>"$TMPD/err")
check_rc "run $R -- wc -c </dev/null" 0 $? "$TMPD/err"
check "run $R -- wc -c </dev/null" 0 "$(echo $out)"

# 64 MB there and back, byte for byte.
head -c 67108864 /dev/urandom >"$TMPD/big" || fail "cannot make 64 MB"
want=$(sha256sum <"$TMPD/big" | cut -d' ' -f1)
SPN_TIMEOUT=120
{ spn run "$R" -- cat <"$TMPD/big" 2>"$TMPD/err"; echo $? >"$TMPD/rc"; } |
    sha256sum >"$TMPD/sum"
check_rc "64 MB | run $R -- cat" 0 "$(cat "$TMPD/rc")" "$TMPD/err"
[ -s "$TMPD/err" ] && fail "64 MB round trip: stderr: $(cat "$TMPD/err")"
check "64 MB round trip (sha256)" "$want" "$(cut -d' ' -f1 "$TMPD/sum")"
# ... and one way only, checked on the remote.
out=$(spn run "$R" -- sha256sum <"$TMPD/big" 2>"$TMPD/err")
check_rc "64 MB | run $R -- sha256sum" 0 $? "$TMPD/err"
check "64 MB | run $R -- sha256sum" "$want  -" "$out"
SPN_TIMEOUT=20
rm -f "$TMPD/big"

# info: hop 1 is the remote agent, running as the remote user.
out=$(spn info "$R" 2>"$TMPD/err")
check_rc "info $R" 0 $? "$TMPD/err"
uid=$(id -u "$U_A")
echo "$out" | grep -Eq "^hop 1 \($U_A@127\.0\.0\.1\): pid [0-9]+ ppid [0-9]+ uid $uid user $U_A host [^ ]+ arch [^ ]+ kernel [^ ]+\$" ||
    fail "info $R printed: $out"
check "info $R: lines" 1 "$(echo "$out" | wc -l)"

# The agent runs from memory: /proc/AGENT/exe is the memfd, argv[0] says
# spindle:USER@HOST:PID, and it is the child of sshd's session process
# (no shell lingers between them).
out=$(spn run "$R" -- sh -c 'p=$PPID
	readlink /proc/$p/exe
	tr "\0" "\n" </proc/$p/cmdline | head -n 1
	pp=$(awk "/^PPid:/ { print \$2 }" /proc/$p/status)
	tr "\0" " " </proc/$pp/cmdline' 2>"$TMPD/err")
check_rc "run $R -- (agent's exe)" 0 $? "$TMPD/err"
check "the remote agent's /proc/PID/exe" "/memfd:spindle (deleted)" \
    "$(echo "$out" | sed -n 1p)"
case $(echo "$out" | sed -n 2p) in
spindle:root@*:[0-9]*) ;;
*) fail "the remote agent's argv[0] is '$(echo "$out" | sed -n 2p)'" ;;
esac
case $(echo "$out" | sed -n 3p) in
"sshd: $U_A@notty"*) ;;
*) fail "the remote agent's parent is '$(echo "$out" | sed -n 3p)'," \
    "not sshd's session" ;;
esac

# Nothing stays running, nothing was written.
no_world_procs 5 "the sessions above"
remote_files_kept "$TMPD/files" "the sessions" "$U_A"

pass
