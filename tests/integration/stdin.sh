#!/bin/sh
# Standard input and output: EOF reaches the command through the chain,
# -n gives it /dev/null (and leaves our stdin unread), regular files work
# as stdin and stdout, and 50 MB go through `cat` intact.
. "$(dirname "$0")/lib.sh"

command -v sha256sum >/dev/null || skip "sha256sum is not installed"

out=$(printf 'a\nb\n' | spn run local+local -- wc -l 2>"$TMPD/err")
check_rc "printf 'a\\nb\\n' | run local+local -- wc -l" 0 $? "$TMPD/err"
check "wc -l through 2 hops" 2 "$(echo $out)"

out=$(spn run local -- cat </dev/null 2>"$TMPD/err")
check_rc "run local -- cat </dev/null" 0 $? "$TMPD/err"
check "cat </dev/null" "" "$out"

# A stdin that never ends (a fifo we hold open) must not keep spindle
# running once the command has exited without reading it.
mkfifo "$TMPD/fifo"
exec 3<>"$TMPD/fifo"
out=$(SPN_TIMEOUT=10 spn run local -- echo "done" <"$TMPD/fifo" 2>"$TMPD/err")
check_rc "run local -- echo done <IDLE-FIFO" 0 $? "$TMPD/err"
check "echo with an idle stdin" "done" "$out"
exec 3>&-

# -n: the command reads /dev/null, and spindle leaves stdin alone.
out=$(printf 'left\n' | { spn run -n local+local -- sh -c \
    'cat; readlink /proc/self/fd/0' 2>"$TMPD/err"; echo "rc=$?"; cat; })
check "run -n: command's stdin, status, our unread stdin" "/dev/null
rc=0
left" "$out"

# Stdout to a regular file, stdin a pipe.
seq 1 20000 >"$TMPD/in.txt"
cat "$TMPD/in.txt" | spn run local+local -- cat >"$TMPD/out2.txt" 2>"$TMPD/err"
check_rc "... | run local+local -- cat >FILE" 0 $? "$TMPD/err"
cmp -s "$TMPD/in.txt" "$TMPD/out2.txt" ||
    fail "cat >FILE: output differs ($(wc -c <"$TMPD/out2.txt") bytes of $(wc -c <"$TMPD/in.txt"))"

# Stderr to a regular file too.
cat "$TMPD/in.txt" | spn run local -- sh -c 'cat >&2' 2>"$TMPD/err.txt"
check_rc "... | run local -- sh -c 'cat >&2' 2>FILE" 0 $? "$TMPD/err.txt"
cmp -s "$TMPD/in.txt" "$TMPD/err.txt" ||
    fail "cat >&2 2>FILE: stderr differs ($(wc -c <"$TMPD/err.txt") bytes of $(wc -c <"$TMPD/in.txt"))"

# 50 MB of random bytes, there and back through 2 hops.
head -c 52428800 /dev/urandom >"$TMPD/big"
want=$(sha256sum <"$TMPD/big")
got=$(cat "$TMPD/big" | spn run local+local -- cat 2>"$TMPD/err" | sha256sum)
check "sha256 of 50 MB through cat (pipe in, pipe out)" "$want" "$got"
[ -s "$TMPD/err" ] && fail "50 MB: stderr: $(cat "$TMPD/err")"
cat "$TMPD/big" | spn run local+local -- cat >"$TMPD/big.out" 2>"$TMPD/err"
check_rc "50 MB: ... | run local+local -- cat >FILE" 0 $? "$TMPD/err"
cmp -s "$TMPD/big" "$TMPD/big.out" ||
    fail "50 MB to a file: differs ($(wc -c <"$TMPD/big.out") bytes written)"
rm -f "$TMPD/big.out"

# Stdin from a regular file (epoll cannot watch one).
spn run local -- cat <"$TMPD/in.txt" >"$TMPD/out.txt" 2>"$TMPD/err"
check_rc "run local -- cat <FILE >FILE" 0 $? "$TMPD/err"
cmp -s "$TMPD/in.txt" "$TMPD/out.txt" ||
    fail "cat <FILE >FILE: output differs ($(wc -c <"$TMPD/out.txt") bytes of $(wc -c <"$TMPD/in.txt"))"

# ... and 50 MB from a file.
got=$(spn run local+local -- cat <"$TMPD/big" 2>"$TMPD/err" | sha256sum)
check "sha256 of 50 MB through cat (file in, pipe out)" "$want" "$got"
got=$(spn run local -- sh -c 'cat | wc -c' <"$TMPD/big" 2>"$TMPD/err")
check "bytes counted at the far end, file in" 52428800 "$(echo $got)"

pass
