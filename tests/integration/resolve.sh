#!/bin/sh
# One way to resolve a route, with the daemon and without (no sshd
# needed): each option from the command line, else the route's entry in
# the routes file, else the file's global options, else the default; info
# and ping reach a name only the daemon knows; a password command that
# hangs fails the route within its time limit on both paths, and is
# killed.
. "$(dirname "$0")/lib.sh"
command -v ssh >/dev/null || skip "ssh is not installed"
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
export SPINDLE_ROUTES="$TMPD/routes"
trap '_t=$?; timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1;
    (exit $_t); _lib_cleanup' EXIT

# An ssh that never hears from its server: it waits until spindle's
# connect timeout gives up on the hop (and its proxy goes with it).
cat >"$TMPD/hang_config" <<EOF
Host *
	ProxyCommand sh -c 'cat >/dev/null; true'
	BatchMode yes
EOF
export SPINDLE_SSH_ARGS="-F $TMPD/hang_config"
cat >"$SPINDLE_ROUTES" <<EOF
timeout 2
route e1 nowhere
    timeout 1
route e3 nowhere
    timeout 3
route pwhang local
    password-command exec sleep 97.5
    password-timeout 1
route pwopen local
    password-command echo pw; exec >&-; exec sleep 97.6
    password-timeout 1
EOF

# gives_up WHAT SECS ARGS...: `spindle ARGS -- true` fails, the hop given
# up on after SECS.
gives_up() {
	_what=$1 _secs=$2
	shift 2
	spn "$@" -- true >"$TMPD/out" 2>"$TMPD/err"
	check_rc "$_what: $*" 255 $? "$TMPD/err"
	contains "$TMPD/err" "no answer within $_secs s (connect timeout)" ||
	    fail "$_what: $*: $(cat "$TMPD/err")"
}

# The same on both paths (until the daemon runs, run runs alone).
for how in --no-daemon daemon; do
	if [ "$how" = daemon ]; then
		spn daemon start >/dev/null || fail "daemon start"
		how=""
	fi
	gives_up "command line over the route's entry" 1 run $how \
	    --timeout 1 e3
	gives_up "the route's entry over the global option" 1 run $how e1
	gives_up "an inline route takes the global option" 2 run $how \
	    nowhere
done

# info and ping of a name only the daemon knows (`up`'s), on the route
# it holds: the pids ls shows.
spn up held local+local >/dev/null 2>"$TMPD/err" ||
    fail "up held: $(cat "$TMPD/err")"
spn info held >"$TMPD/info" 2>"$TMPD/err"
check_rc "info held" 0 $? "$TMPD/err"
check "info held: hops" "hop 1 (local):|hop 2 (local+local):" \
    "$(awk '{ printf "%s%s %s %s", s, $1, $2, $3; s = "|" }' "$TMPD/info")"
pids=$(awk '{ printf "%s%s", s, $5; s = "," }' "$TMPD/info")
spn ls | grep -q "^held  *up .* $pids  *local+local\$" ||
    fail "info held: pids $pids are not those ls shows: $(spn ls)"
out=$(spn ping -c 3 -s 100 held 2>"$TMPD/err")
check_rc "ping held" 0 $? "$TMPD/err"
case $out in
"hop 2 (local+local): 3 pings of 100 bytes: min "*) ;;
*) fail "ping held: $out" ;;
esac
spn ping --no-daemon -c 1 local >/dev/null 2>"$TMPD/err" ||
    fail "ping --no-daemon local: $(cat "$TMPD/err")"

# A password command that hangs, or keeps running once it has closed its
# output: the route fails once password-timeout is up, on both paths,
# and the command is killed.
for how in "run --no-daemon" "info --no-daemon" run info; do
	for r in pwhang pwopen; do
		set -- $how $r
		[ "$1" = run ] && set -- "$@" -- true
		t0=$(date +%s)
		spn "$@" >"$TMPD/out" 2>"$TMPD/err" </dev/null
		check_rc "$*" 255 $? "$TMPD/err"
		contains "$TMPD/err" "' gave no password within 1 s" ||
		    fail "$*: $(cat "$TMPD/err")"
		[ $(($(date +%s) - t0)) -le 10 ] ||
		    fail "$*: took $(($(date +%s) - t0)) s"
	done
done
sleep 0.3
pgrep -f 'sleep 97\.[56]' >/dev/null &&
    fail "password command left running: $(pgrep -af 'sleep 97\.[56]')"

# A broken routes file: every command that reads it says so, naming file
# and line, and exits 255 (as ssh of a bad ssh_config), alone and
# through the daemon; ls too, not an empty table as if there were no
# routes.
cp "$SPINDLE_ROUTES" "$TMPD/routes.good"
printf '    bogus 1\n' >>"$SPINDLE_ROUTES"
E="$SPINDLE_ROUTES:$(wc -l <"$SPINDLE_ROUTES"): unknown option 'bogus'"
for args in "ls" "ls --json" "run e1 -- true" "run --no-daemon e1 -- true" \
    "run local -- true" "up x local" "check e1" "info e1" \
    "info --no-daemon e1" "ping -c 1 e1"; do
	# shellcheck disable=SC2086
	spn $args >"$TMPD/out" 2>"$TMPD/err" </dev/null
	check_rc "broken routes file: $args" 255 $? "$TMPD/err"
	[ -s "$TMPD/out" ] &&
	    fail "broken routes file: $args printed $(cat "$TMPD/out")"
	contains "$TMPD/err" "$E" ||
	    fail "broken routes file: $args says $(cat "$TMPD/err")"
done
# down of a name the daemon does not hold: the broken file may be why.
spn down nosuch >"$TMPD/out" 2>"$TMPD/err"
check_rc "broken routes file: down nosuch" 1 $? "$TMPD/err"
contains "$TMPD/err" "no route nosuch ($E" ||
    fail "broken routes file: down nosuch says $(cat "$TMPD/err")"
out=$(spn ls 2>&1)
case $out in
"spindle: $E ("*")") [ "$(echo "$out" | wc -l)" = 1 ] ;;
*) false ;;
esac || fail "ls: says more than the file's error: $out"
# Mended, it lists the file's routes again.
cp "$TMPD/routes.good" "$SPINDLE_ROUTES"
spn ls >"$TMPD/out" 2>"$TMPD/err"
check_rc "ls, mended file" 0 $? "$TMPD/err"
grep -q '^e1 ' "$TMPD/out" || fail "ls, mended file: $(cat "$TMPD/out")"
pass
