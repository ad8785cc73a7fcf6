#!/bin/sh
# run -s: the command string goes to the user's login shell, as sshd runs
# commands (fish syntax for a fish user; nologin refuses).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (creates a user)"
command -v fish >/dev/null || skip "fish is not installed"
u="spnf$(printf '%04x' $(($$ % 65536)))"
trap '_t=$?; userdel -r "$u" >/dev/null 2>&1; (exit $_t); _lib_cleanup' EXIT
useradd -m -s "$(command -v fish)" "$u" || fail "useradd"

check "fish syntax" "one two" \
    "$(spn run -s "sudo=$u" -- 'set x one two; echo $x' 2>"$TMPD/err")"
spn run -s sudo=nobody -- 'echo hi' >"$TMPD/out" 2>"$TMPD/err"
check_rc "nologin" 1 $? "$TMPD/err"
grep -q '^hi$' "$TMPD/out" && fail "nologin ran the command"
spn run -s local -- echo two words 2>"$TMPD/err"
check_rc "-s with several arguments" 2 $? "$TMPD/err"
pass
