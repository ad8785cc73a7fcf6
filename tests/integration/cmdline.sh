#!/bin/sh
# The command line: every command takes its options before or after its
# words (route, name), up to "--" or the command that run and exec run;
# after "--" nothing is an option; unknown options are refused naming the
# command.  Each command's --help lists exactly the options it takes, and
# the man page's subsection for it names every one.
. "$(dirname "$0")/lib.sh"
MAN=$(cd "$(dirname "$0")/../../docs" && pwd)/spindle.1
[ -r "$MAN" ] || fail "no man page at $MAN"
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
export SPINDLE_ROUTES="$TMPD/routes"
: >"$SPINDLE_ROUTES"
daemon_stop_on_exit

LETTERS="a b c d e f g h i j k l m n o p q r s t u v w x y z
A B C D E F G H I J K L M N O P Q R S T U V W X Y Z"
: >"$TMPD/notdir"

# parse ARGS...: spindle on a command line that only gets parsed (every
# use below fails before the command runs, or is harmless), stderr in
# $TMPD/err.
parse() {
	timeout 10 "$SPINDLE" "$@" >"$TMPD/out" 2>"$TMPD/err" </dev/null
}
# parse_nodir ARGS...: the same with the runtime directory no command can
# use: what a letter taken by ls or fakessh-bin would start fails at once.
parse_nodir() {
	SPINDLE_RUNTIME_DIR=$TMPD/notdir timeout 10 "$SPINDLE" "$@" \
	    >"$TMPD/out" 2>"$TMPD/err" </dev/null
}

# commands: the names `spindle --help` lists.
commands() {
	"$SPINDLE" --help | sed -n 's/^  spindle \([a-z][-a-z]*\).*/\1/p'
}

# options [COMMAND]: "OPTION [ARG]" lines, one for each option the --help
# of COMMAND (or spindle's) lists in its left column.
options() {
	"$SPINDLE" "$@" --help | sed -n '/^Options:/,/^$/p' | cut -c1-26 |
	    while read -r _l; do
		case $_l in -*) ;; *) continue ;; esac
		set -- $(printf '%s\n' "$_l" | tr ',' ' ')
		_a=""
		eval "_last=\${$#}"
		case $_last in -*) ;; *) _a=$_last ;; esac
		for _o in "$@"; do
			case $_o in -*) echo "$_o $_a" ;; esac
		done
	    done
}

# man_section NAME: the text of the man page's ".SS NAME" (or ".SH NAME")
# section, roff escapes taken out.
man_section() {
	awk -v s="$1" '$0 == ".SS " s || $0 == ".SH " s { on = 1; next }
	    /^\.S[SH] / { on = 0 } on' "$MAN" |
	    sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\%//g'
}

# has_word FILE OPTION: OPTION appears in FILE as a word of its own.
has_word() {
	grep -qE -- "(^|[^-[:alnum:]])$2([^-[:alnum:]]|\$)" "$1"
}

COMMON=$(options | cut -d' ' -f1 | tr '\n' ' ')
CMDS=$(commands)
[ "$(echo $CMDS)" = "run ping info bootstrap-size up down ls check forward daemon \
fakessh-bin exec gateway ssh-config doctor" ] || fail "spindle --help lists the commands: $(echo $CMDS)"
man_section OPTIONS >"$TMPD/man"
for o in $COMMON; do
	has_word "$TMPD/man" "$o" || fail "man page OPTIONS: no $o"
done

for c in $CMDS; do
	# --help: the usage, on stdout, and the options.
	parse "$c" --help
	check_rc "$c --help" 0 $? "$TMPD/err"
	[ "$(head -n 1 "$TMPD/out" | cut -d' ' -f1-3)" = "usage: spindle $c" ] ||
	    fail "$c --help: usage line: $(head -n 1 "$TMPD/out")"
	contains "$TMPD/out" "Options:" || fail "$c --help: no options"
	options "$c" >"$TMPD/opts"
	for o in $COMMON; do
		[ "$o" = --version ] && continue
		grep -q -- "^$o " "$TMPD/opts" || fail "$c --help: no $o"
	done
	# Every option --help lists is taken: the parse goes on past it
	# to the unknown one after it.
	man_section "$c" >"$TMPD/man"
	[ -s "$TMPD/man" ] || fail "man page: no subsection for $c"
	while read -r o a; do
		case $o in -h | --help) continue ;; esac
		parse "$c" "$o" ${a:+1} --no-such-zz
		check_rc "$c $o" 2 $? "$TMPD/err"
		contains "$TMPD/err" "spindle $c: unknown option '--no-such-zz'" ||
		    fail "$c $o ${a:+1}: not taken: $(head -n 1 "$TMPD/err")"
		echo " $COMMON " | grep -q -- " $o " && continue
		has_word "$TMPD/man" "$o" ||
		    fail "man page, subsection $c: no $o"
	done <"$TMPD/opts"
	# And every short option the command takes is listed (long ones
	# come from the same table; no letter can be tried blind for them).
	for l in $LETTERS; do
		parse_nodir "$c" "-$l"
		contains "$TMPD/err" "unknown option '-$l'" && continue
		grep -q -- "^-$l " "$TMPD/opts" ||
		    fail "$c takes -$l, which its --help does not list"
	done
	# Unknown options: usage error, naming the command.
	for o in --no-such-zz -Z; do
		parse "$c" "$o"
		check_rc "$c $o" 2 $? "$TMPD/err"
		[ "$(head -n 1 "$TMPD/err")" = "spindle $c: unknown option '$o'" ] ||
		    fail "$c $o: $(head -n 1 "$TMPD/err")"
		contains "$TMPD/err" "usage: spindle $c" ||
		    fail "$c $o: no usage: $(cat "$TMPD/err")"
	done
done
# spindle's own options, before the command.
for l in $LETTERS; do
	parse "-$l"
	contains "$TMPD/err" "unknown option '-$l'" && continue
	echo " $COMMON " | grep -q -- " -$l " ||
	    fail "spindle takes -$l, which its --help does not list"
done
parse --no-such-zz run local -- true
check_rc "spindle --no-such-zz" 2 $? "$TMPD/err"
[ "$(head -n 1 "$TMPD/err")" = "spindle: unknown option '--no-such-zz'" ] ||
    fail "spindle --no-such-zz: $(head -n 1 "$TMPD/err")"

# Missing values and words, and extra words, are named.
parse run local --timeout
check_rc "run local --timeout" 2 $? "$TMPD/err"
contains "$TMPD/err" "spindle run: option '--timeout' needs a value" ||
    fail "run --timeout: $(head -n 1 "$TMPD/err")"
parse run --tim local -- true
contains "$TMPD/err" "spindle run: ambiguous option '--tim'" ||
    fail "run --tim: $(head -n 1 "$TMPD/err")"
parse run --timings=1 local -- true
contains "$TMPD/err" "spindle run: option '--timings' takes no value" ||
    fail "run --timings=1: $(head -n 1 "$TMPD/err")"
parse run --no-daemon
contains "$TMPD/err" "spindle run: no ROUTE given" ||
    fail "run: $(head -n 1 "$TMPD/err")"
parse run --no-daemon local --timings
contains "$TMPD/err" "spindle run: no COMMAND given" ||
    fail "run local: $(head -n 1 "$TMPD/err")"
parse up --persist 5
contains "$TMPD/err" "spindle up: no NAME given" ||
    fail "up: $(head -n 1 "$TMPD/err")"
parse down a b
contains "$TMPD/err" "spindle down: unexpected argument 'b'" ||
    fail "down a b: $(head -n 1 "$TMPD/err")"
parse bootstrap-size x
check_rc "bootstrap-size x" 2 $? "$TMPD/err"
contains "$TMPD/err" "spindle bootstrap-size: unexpected argument 'x'" ||
    fail "bootstrap-size x: $(head -n 1 "$TMPD/err")"

# run: options after the route, up to "--" or the command.
spn run local --no-daemon --timings -- true >"$TMPD/out" 2>"$TMPD/err"
check_rc "run local --timings -- true" 0 $? "$TMPD/err"
contains "$TMPD/err" "hop 1 (local) up" ||
    fail "run local --timings: no timings: $(cat "$TMPD/err")"
out=$(spn run --no-daemon local -n -e SPN_A=1 -C / -- sh -c \
    'echo "$SPN_A $(pwd)"; cat' 2>"$TMPD/err")
check_rc "run local -n -e -C" 0 $? "$TMPD/err"
check "run local -n -e A=1 -C /" "1 /" "$out"
spn run local --no-daemon -v -- true 2>"$TMPD/err"
contains "$TMPD/err" "info:" || fail "run local -v: not verbose: $(cat "$TMPD/err")"
# The first word past the route starts the command, whose options follow.
spn run --no-daemon local echo -n x >"$TMPD/out" 2>"$TMPD/err"
check_rc "run local echo -n x" 0 $? "$TMPD/err"
check "run local echo -n x" x "$(cat "$TMPD/out")"
check "run local echo -n x: bytes" 1 "$(wc -c <"$TMPD/out" | tr -d ' ')"
out=$(spn run --no-daemon local sh -c 'echo "$1"' sh --timings 2>"$TMPD/err")
check "run local sh -c ... --timings" --timings "$out"
# After "--" nothing is an option: not as the command, not as the route.
spn run --no-daemon local -- --timings >"$TMPD/out" 2>"$TMPD/err"
check_rc "run local -- --timings" 127 $? "$TMPD/err"
contains "$TMPD/err" "--timings: No such file or directory" ||
    fail "run local -- --timings: $(cat "$TMPD/err")"
spn run --no-daemon -- --timings true >"$TMPD/out" 2>"$TMPD/err"
[ $? = 0 ] && fail "run -- --timings true: --timings was not the route"
contains "$TMPD/err" "unknown option" &&
    fail "run -- --timings true: taken as an option: $(cat "$TMPD/err")"
# Through the daemon (it starts here) as well.
out=$(spn run local -e SPN_A=2 -- sh -c 'echo "$SPN_A"' 2>"$TMPD/err")
check_rc "run local -e (daemon)" 0 $? "$TMPD/err"
check "run local -e SPN_A=2 (daemon)" 2 "$out"

# ping, info.
out=$(spn ping local -c 2 --no-daemon 2>"$TMPD/err")
check_rc "ping local -c 2" 0 $? "$TMPD/err"
case $out in *"2 pings"*) ;; *) fail "ping local -c 2: $out" ;; esac
out=$(spn info local --no-daemon -q 2>"$TMPD/err")
check_rc "info local --no-daemon" 0 $? "$TMPD/err"
case $out in *"hop 1 (local): pid"*) ;; *) fail "info local: $out" ;; esac
[ -s "$TMPD/err" ] && fail "info local -q: stderr: $(cat "$TMPD/err")"

# up (the README's: options after NAME ROUTE), ls, check, down.
echo pw >"$TMPD/pw"
spn up t1 local --persist 300 --password-file "$TMPD/pw" 2>"$TMPD/err"
check_rc "up t1 local --persist 300" 0 $? "$TMPD/err"
if command -v setsid >/dev/null; then
	# As the README has it: --ask-pass is taken after NAME ROUTE (and,
	# with no terminal to ask on, refused as such).
	setsid "$SPINDLE" up t2 local --ask-pass >"$TMPD/out" 2>"$TMPD/err" \
	    </dev/null
	check_rc "up t2 local --ask-pass (no terminal)" 255 $? "$TMPD/err"
	contains "$TMPD/err" "--ask-pass needs a terminal" ||
	    fail "up t2 local --ask-pass: $(cat "$TMPD/err")"
fi
spn ls --json -q >"$TMPD/out" 2>"$TMPD/err"
check_rc "ls --json -q" 0 $? "$TMPD/err"
contains "$TMPD/out" '"name":"t1"' || fail "ls --json: no t1: $(cat "$TMPD/out")"
contains "$TMPD/out" '"persist":300' ||
    fail "up t1 local --persist 300: not taken: $(cat "$TMPD/out")"
spn check t1 -q >"$TMPD/out" 2>"$TMPD/err"
check_rc "check t1 -q" 0 $? "$TMPD/err"
contains "$TMPD/out" "t1: up" || fail "check t1 -q: $(cat "$TMPD/out")"
spn down t1 -q 2>"$TMPD/err"
check_rc "down t1 -q" 0 $? "$TMPD/err"
spn ls >"$TMPD/out" 2>"$TMPD/err"
grep -q '^t1 ' "$TMPD/out" && fail "down t1 -q: t1 still listed"
spn down -- --json >"$TMPD/out" 2>"$TMPD/err"
check_rc "down -- --json" 1 $? "$TMPD/err"
contains "$TMPD/err" "no route --json" ||
    fail "down -- --json: $(cat "$TMPD/err")"

# daemon, fakessh-bin, bootstrap-size.
spn daemon status -q >"$TMPD/out" 2>"$TMPD/err"
check_rc "daemon status -q" 0 $? "$TMPD/err"
contains "$TMPD/out" "running" || fail "daemon status -q: $(cat "$TMPD/out")"
parse daemon frobnicate
check_rc "daemon frobnicate" 2 $? "$TMPD/err"
contains "$TMPD/err" "spindle daemon: unknown daemon command 'frobnicate'" ||
    fail "daemon frobnicate: $(cat "$TMPD/err")"
contains "$TMPD/err" "usage: spindle daemon" ||
    fail "daemon frobnicate: no usage: $(cat "$TMPD/err")"
spn -q daemon log >"$TMPD/out" 2>"$TMPD/err"
check_rc "daemon log" 0 $? "$TMPD/err"
parse daemon -f status
check_rc "daemon -f status" 2 $? "$TMPD/err"
contains "$TMPD/err" "spindle daemon: -f is for log" ||
    fail "daemon -f status: $(cat "$TMPD/err")"
dir=$(spn fakessh-bin -q 2>"$TMPD/err")
check_rc "fakessh-bin -q" 0 $? "$TMPD/err"
[ -x "$dir/ssh" ] || fail "fakessh-bin -q printed '$dir'"
spn -q bootstrap-size -v >"$TMPD/out" 2>"$TMPD/err"
check_rc "bootstrap-size -v" 0 $? "$TMPD/err"
contains "$TMPD/out" "total" || fail "bootstrap-size: $(cat "$TMPD/out")"

# exec: its options before the command; the command's after it.
out=$(spn exec -r R1 -- sh -c 'echo "$SPINDLE_FAKESSH_ROUTE"' 2>"$TMPD/err")
check_rc "exec -r R1 -- sh" 0 $? "$TMPD/err"
check "exec -r R1" R1 "$out"
out=$(spn exec -q sh -c 'echo "$1 ${SPINDLE_FAKESSH_ROUTE:-none}"' sh -r \
    2>"$TMPD/err")
check "exec sh -c ... -r" "-r none" "$out"
spn exec -- -r x >"$TMPD/out" 2>"$TMPD/err"
check_rc "exec -- -r x" 127 $? "$TMPD/err"

pass
