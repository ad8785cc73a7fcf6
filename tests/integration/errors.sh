#!/bin/sh
# Usage errors exit 2 with a clear message and start nothing; --help and
# --version answer on stdout and exit 0.
. "$(dirname "$0")/lib.sh"

# bad_route ROUTE WORD: `run ROUTE -- true` exits 2, names WORD, runs nothing.
bad_route() {
	spn run "$1" -- touch "$TMPD/ran" >"$TMPD/out" 2>"$TMPD/err"
	check_rc "run '$1' -- true" 2 $? "$TMPD/err"
	[ -e "$TMPD/ran" ] && fail "run '$1': the command ran"
	[ -s "$TMPD/out" ] && fail "run '$1': output on stdout: $(cat "$TMPD/out")"
	contains "$TMPD/err" "$2" ||
	    fail "run '$1': message does not name '$2': $(cat "$TMPD/err")"
	[ -n "$(agents_of "$(last_master)")" ] &&
	    fail "run '$1': agents were left running"
	return 0
}
# (A bare word is a host for ssh: the method names come with a '='.)
bad_route nosuchmethod=x nosuchmethod=x
bad_route local+nosuchmethod=x nosuchmethod=x
bad_route local=x local=x
bad_route 'local++local' 'local++local'
bad_route '+local' '+local'
bad_route 'local+' 'local+'
bad_route 'a b' 'a b'
bad_route '' "bad route"
# The message also says what is wrong.
spn run local+nosuchmethod=x -- true 2>"$TMPD/err"
contains "$TMPD/err" "hop 'nosuchmethod=x'" ||
    fail "bad method: message does not name the hop: $(cat "$TMPD/err")"
spn run 'local++local' -- true 2>"$TMPD/err"
contains "$TMPD/err" "empty" ||
    fail "empty hop: message does not say so: $(cat "$TMPD/err")"

# Missing pieces and unknown words.
spn run local >"$TMPD/out" 2>"$TMPD/err"
check_rc "run ROUTE (no command)" 2 $? "$TMPD/err"
contains "$TMPD/err" "usage" || fail "run ROUTE: no usage: $(cat "$TMPD/err")"
spn run >"$TMPD/out" 2>"$TMPD/err"
check_rc "run (no route)" 2 $? "$TMPD/err"
spn run --no-such-option local -- true >"$TMPD/out" 2>"$TMPD/err"
check_rc "run --no-such-option" 2 $? "$TMPD/err"
contains "$TMPD/err" "no-such-option" ||
    fail "run --no-such-option: not named: $(cat "$TMPD/err")"
spn no-such-command >"$TMPD/out" 2>"$TMPD/err"
check_rc "spindle no-such-command" 2 $? "$TMPD/err"
contains "$TMPD/err" "no-such-command" ||
    fail "unknown command not named: $(cat "$TMPD/err")"
spn >"$TMPD/out" 2>"$TMPD/err"
check_rc "spindle (no command)" 2 $? "$TMPD/err"
spn info nosuchmethod=x >"$TMPD/out" 2>"$TMPD/err"
check_rc "info nosuchmethod=x" 2 $? "$TMPD/err"
spn ping nosuchmethod=x >"$TMPD/out" 2>"$TMPD/err"
check_rc "ping nosuchmethod=x" 2 $? "$TMPD/err"

# --help: on stdout, status 0, lists the commands.
spn --help >"$TMPD/out" 2>"$TMPD/err"
check_rc "spindle --help" 0 $? "$TMPD/err"
[ -s "$TMPD/err" ] && fail "spindle --help wrote to stderr: $(cat "$TMPD/err")"
for w in run ping info bootstrap-size usage; do
	grep -qw -- "$w" "$TMPD/out" || fail "spindle --help does not mention $w"
done
spn run --help >"$TMPD/out" 2>"$TMPD/err"
check_rc "spindle run --help" 0 $? "$TMPD/err"
contains "$TMPD/out" "spindle run" || fail "run --help: no 'spindle run' usage"
contains "$TMPD/out" "ROUTE" || fail "run --help: no ROUTE"
[ -n "$(agents_of "$(last_master)")" ] && fail "run --help started agents"

# --version: "spindle X.Y.Z", the configured version when we know it.
out=$(spn --version 2>"$TMPD/err")
check_rc "spindle --version" 0 $? "$TMPD/err"
case $out in
"spindle "[0-9]*.[0-9]*) ;;
*) fail "spindle --version printed '$out'" ;;
esac
cfg="${BUILDDIR:-$(dirname "$0")/../..}/config.h"
if [ -r "$cfg" ]; then
	v=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$cfg")
	# (the one-file build says so after it: --enable-static-cli)
	[ -n "$v" ] && check "spindle --version" "spindle $v" \
	    "${out% (static musl)}"
fi

# Password options: one source only, checked before anything starts.
echo pw >"$TMPD/pw"
spn run --password-file "$TMPD/pw" --password-fd 0 local -- echo RAN \
    >"$TMPD/out" 2>"$TMPD/err" </dev/null
check_rc "two password sources" 2 $? "$TMPD/err"
contains "$TMPD/err" "give the password only once" ||
    fail "two password sources: $(cat "$TMPD/err")"
spn run --password-fd x local -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
check_rc "--password-fd x" 2 $? "$TMPD/err"
contains "$TMPD/err" "bad file descriptor 'x'" ||
    fail "--password-fd x: $(cat "$TMPD/err")"
spn run --password-file "$TMPD/none" local -- echo RAN >"$TMPD/out" \
    2>"$TMPD/err"
check_rc "--password-file missing" 255 $? "$TMPD/err"
contains "$TMPD/err" "$TMPD/none: No such file or directory" ||
    fail "--password-file missing: $(cat "$TMPD/err")"
if command -v setsid >/dev/null; then
	setsid "$SPINDLE" run --ask-pass 127.0.0.1,password -- echo RAN >"$TMPD/out" \
	    2>"$TMPD/err" </dev/null
	check_rc "--ask-pass without a terminal" 255 $? "$TMPD/err"
	contains "$TMPD/err" "--ask-pass needs a terminal" ||
	    fail "--ask-pass without a terminal: $(cat "$TMPD/err")"
fi
[ -s "$TMPD/out" ] && fail "a command ran despite a password error"

pass
