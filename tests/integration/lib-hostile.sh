#!/bin/sh
# libspindle against a hostile context (tests/integration/hostile-ssh,
# installed as `ssh`): what it answers, a call's error reply or an EXEC's
# failure, is its own words in terminal escapes (C0 and C1, raw and
# UTF-8).  What the program prints of them, with spn_error_print or
# spn_error_format, holds none: the route was asked to run a function,
# not to drive the user's terminal.  Its answers to calls of other
# contexts reach none of them, and its log records are its own.
. "$(dirname "$0")/lib.sh"
HOSTILE=${BUILDDIR:-$(dirname "$SPINDLE")}/tests/integration/hostile-ssh
[ -x "$HOSTILE" ] || fail "no $HOSTILE (make check builds it)"
lib_prog examples/df
DF=$PROG
lib_prog tests/lib/core
CORE=$PROG

mkdir "$TMPD/bin" && ln -s "$HOSTILE" "$TMPD/bin/ssh" || fail "mkdir"
export PATH="$TMPD/bin:$PATH"

# clean FILE WHAT: no ESC, BEL or C1 (raw or as UTF-8) in it.
clean() {
	if LC_ALL=C grep -q "$(printf '[\033\007\233]')" "$1" ||
	    LC_ALL=C grep -q "$(printf '\302[\200-\237]')" "$1"; then
		od -c "$1" | sed 's/^/  /' >&2
		fail "$2: terminal escapes printed"
	fi
}

spn_prog 60 "$DF" answer-escapes >"$TMPD/out" 2>"$TMPD/err"
check_rc "df on the hostile context" 1 $? "$TMPD/err"
contains "$TMPD/err" "call" || fail "df: no error: $(cat "$TMPD/err")"
clean "$TMPD/err" "df's spn_error_print"

spn_prog 60 "$CORE" exec answer-escapes >"$TMPD/out" 2>"$TMPD/err"
check_rc "core exec on the hostile context" 1 $? "$TMPD/err"
contains "$TMPD/err" "exec" || fail "exec: no error: $(cat "$TMPD/err")"
clean "$TMPD/err" "spn_exec's error"

# Answers for another context's call: the router refuses them (the reply
# handle takes its own context's frames only) and the hostile link goes;
# the other call gets its own answer.
spn_prog 60 "$CORE" sideways local answer-sideways >"$TMPD/out" \
    2>"$TMPD/err"
check_rc "core sideways" 0 $? "$TMPD/err"

# A log record (the stock agent's stdout lines are such records) is
# printed under the name the master gave its source, not the one it
# claims.  (A program's copy sends its lines as streams, which carry no
# name at all: the master tags them.)
spn_prog 60 "$DF" log-forge >"$TMPD/out" 2>"$TMPD/err"
contains "$TMPD/err" "forged record" ||
    fail "log-forge: no record printed: $(cat "$TMPD/err")"
contains "$TMPD/err" "[other-route]" &&
    fail "a context printed as another route: $(cat "$TMPD/err")"
contains "$TMPD/err" "spindle [log-forge]: warning: forged record" ||
    fail "log-forge: not under its own name: $(cat "$TMPD/err")"
pass
