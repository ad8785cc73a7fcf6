#!/bin/sh
# The command's environment and directory: -e NAME=VALUE, --clear-env,
# -C DIR, and -c 'shell string'.
. "$(dirname "$0")/lib.sh"

envbin=$(command -v env) || skip "env(1) is not installed"

# -e adds, -e overrides what the agent inherited, values keep their spaces.
SPN_TEST_OUTER=outer SPN_TEST_KEEP=kept
export SPN_TEST_OUTER SPN_TEST_KEEP
out=$(spn run -e SPN_TEST_A=1 -e 'SPN_TEST_B=two words' \
    -e SPN_TEST_OUTER=inner -e SPN_TEST_EMPTY= local+local -- sh -c \
    'printf "%s|%s|%s|%s|%s\n" "$SPN_TEST_A" "$SPN_TEST_B" \
    "$SPN_TEST_OUTER" "${SPN_TEST_EMPTY-unset}" "$SPN_TEST_KEEP"' \
    2>"$TMPD/err")
check_rc "run -e ..." 0 $? "$TMPD/err"
check "-e values (A|B|OUTER|EMPTY|KEEP)" "1|two words|inner||kept" "$out"
out=$(spn run -e 'SPN_TEST_X=a=b' local -- sh -c 'echo "$SPN_TEST_X"' \
    2>"$TMPD/err")
check "-e value containing '='" "a=b" "$out"
spn run -e NOEQUALS local -- true 2>"$TMPD/err"
rc=$?
[ "$rc" -ne 0 ] || fail "-e NOEQUALS was accepted"

# Stage 0 passes its fallbacks in SPN_* variables; the command never sees
# them.
out=$(spn run local+local -- "$envbin" 2>"$TMPD/err")
check_rc "run -- env" 0 $? "$TMPD/err"
echo "$out" | grep -q '^SPN_TEST_KEEP=kept$' ||
    fail "the agent's environment did not reach the command"
check "bootstrap variables in the command's environment" "" \
    "$(echo "$out" | grep '^SPN_[A-Z]=' | cut -c1-20)"

# --clear-env: nothing but what -e gives.
out=$(spn run --clear-env local+local -- "$envbin" 2>"$TMPD/err")
check_rc "run --clear-env -- env" 0 $? "$TMPD/err"
check "--clear-env: env prints" "" "$out"
out=$(spn run --clear-env -e SPN_TEST_A=1 -e 'SPN_TEST_B=x y' local -- \
    "$envbin" 2>"$TMPD/err")
check_rc "run --clear-env -e ... -- env" 0 $? "$TMPD/err"
check "--clear-env -e: env prints" "SPN_TEST_A=1
SPN_TEST_B=x y" "$(echo "$out" | sort)"

# -C DIR
mkdir "$TMPD/dir with space"
want=$(cd "$TMPD/dir with space" && pwd -P)
out=$(spn run -C "$TMPD/dir with space" local+local -- pwd -P 2>"$TMPD/err")
check_rc "run -C DIR -- pwd" 0 $? "$TMPD/err"
check "-C DIR: pwd" "$want" "$out"

# -c: the single argument is a shell command line, run by /bin/sh.
out=$(spn run -c local+local \
    'x="a  b"; echo "$x" | tr a A; printf "%s\n" $((6 * 7)); exit 3' \
    2>"$TMPD/err")
check_rc "run -c '...; exit 3'" 3 $? "$TMPD/err"
check "-c output" "A  b
42" "$out"
out=$(spn run -c -C "$TMPD/dir with space" -e SPN_TEST_A=val local \
    'echo "$SPN_TEST_A" "$(basename "$(pwd)")" >&2' 2>&1 >/dev/null)
check "-c with -C and -e (on stderr)" "val dir with space" "$out"
# Without -c the words are argv, not shell syntax.
out=$(spn run local -- echo '$HOME' '*' ';' 2>"$TMPD/err")
check "no -c: argv passed verbatim" '$HOME * ;' "$out"

pass
