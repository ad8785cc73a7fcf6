#!/bin/sh
# Passwords and the daemon: nothing of a route's password (nor its lack)
# sticks from first use.  A failed authentication forgets the password
# that failed; a password given on the command line is used for that
# connect and replaces what the daemon held; an edited routes file and
# the password file it names are read again at each connect; down
# forgets everything of the route.  Each retry is one real sudo attempt
# at most: sudo's own log counts them (a user can lock their account).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (creates a user and sudoers rules)"
command -v sudo >/dev/null || skip "sudo is not installed"
command -v visudo >/dev/null || skip "visudo is not installed"

u="spnq$(printf '%04x' $(($$ % 65536)))"
u2="${u}b"
pw="pw-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
pw2="pw2-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
sudoers=/etc/sudoers.d/spn-$u
SPINDLE_RUNTIME_DIR=$TMPD/rt
SPINDLE_ROUTES=$TMPD/routes
export SPINDLE_RUNTIME_DIR SPINDLE_ROUTES
cleanup_user() {
	timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
	rm -f "$sudoers"
}
trap '_t=$?; cleanup_user; (exit $_t); _lib_cleanup' EXIT
user_add "$u" "$pw"
user_add "$u2" "$pw2"
chmod 755 "$TMPD"
: >"$TMPD/sudo.log"
cat >"$TMPD/sudoers" <<EOS
Defaults:$u requiretty, passwd_tries=3, logfile=$TMPD/sudo.log
Defaults:$u2 requiretty, passwd_tries=3, logfile=$TMPD/sudo.log
$u ALL=(nobody) ALL
$u ALL=($u2) ALL
$u2 ALL=(nobody) ALL
EOS
visudo -cqf "$TMPD/sudoers" || fail "bad sudoers rules"
install -m 440 "$TMPD/sudoers" "$sudoers"
printf '%s\n' "$pw" >"$TMPD/good"
printf '%s\n' "$pw2" >"$TMPD/good2"
printf 'wrong-%s\n' "$pw" >"$TMPD/bad"
chmod 600 "$TMPD/good" "$TMPD/good2" "$TMPD/bad"
r="sudo=$u+sudo=nobody"

# tries: how many wrong passwords sudo has seen so far.
tries() {
	grep -o '[0-9]* incorrect password attempt' "$TMPD/sudo.log" |
	    awk '{ n += $1 } END { print n + 0 }'
}
# works WHAT ARGS...: spindle run ARGS... -- id -un runs as nobody.
works() {
	_w=$1
	shift
	out=$(spn run "$@" -- id -un 2>"$TMPD/err")
	check_rc "$_w" 0 $? "$TMPD/err"
	check "$_w: user" nobody "$out"
}
# refused WHAT TEXT TRIES ARGS...: run fails with TEXT, and sudo has seen
# TRIES wrong passwords in all.
refused() {
	_w=$1 _x=$2 _n=$3
	shift 3
	spn run "$@" -- id -un >"$TMPD/out" 2>"$TMPD/err"
	check_rc "$_w" 255 $? "$TMPD/err"
	[ -s "$TMPD/out" ] && fail "$_w: the command ran"
	contains "$TMPD/err" "$_x" || fail "$_w: message is: $(cat "$TMPD/err")"
	check "$_w: wrong passwords sudo saw" "$_n" "$(tries)"
}
need="a password is required (give it with --ask-pass"
wrong="sudo: incorrect password for $u"

cat >"$SPINDLE_ROUTES" <<EOF
route web $r
    password-file $TMPD/pwfile
route bare $r
EOF
spn daemon start >/dev/null || fail "daemon start"

# A wrong password file, then the file fixed: read again at the retry.
cp "$TMPD/bad" "$TMPD/pwfile"
refused "wrong password file" "$wrong" 1 web
refused "wrong password file, again" "$wrong" 2 web
cp "$TMPD/good" "$TMPD/pwfile"
works "password file fixed" web
spn down web >/dev/null 2>&1

# The route pointed at another file: the edited routes file counts.
sed "s|$TMPD/pwfile|$TMPD/bad|" "$SPINDLE_ROUTES" >"$TMPD/routes.new"
mv "$TMPD/routes.new" "$SPINDLE_ROUTES"
refused "route pointed at a wrong file" "$wrong" 3 web
sed "s|$TMPD/bad|$TMPD/good|" "$SPINDLE_ROUTES" >"$TMPD/routes.new"
mv "$TMPD/routes.new" "$SPINDLE_ROUTES"
works "route pointed at the right file" web
spn down web >/dev/null 2>&1

# No password: the hint, then the password given as it says.
refused "no password" "$need" 3 bare
works "no password, then --password-fd" --password-fd 3 bare 3<"$TMPD/good"
spn down bare >/dev/null 2>&1
# check gives the same hint, and takes the password it asks for.
spn check bare >"$TMPD/out" 2>"$TMPD/err"
check_rc "check, no password" 255 $? "$TMPD/err"
contains "$TMPD/err" "$need" || fail "check: message is: $(cat "$TMPD/err")"
spn check --password-fd 3 bare 3<"$TMPD/good" >"$TMPD/out" 2>"$TMPD/err"
check_rc "check --password-fd" 0 $? "$TMPD/err"
contains "$TMPD/out" "bare: up, round trip" ||
    fail "check --password-fd: $(cat "$TMPD/out")"
spn down bare >/dev/null 2>&1

# A route up'd with a wrong password: it is not tried again, and one
# given with the next command replaces it.
spn up --password-file "$TMPD/bad" upw "$r" >/dev/null 2>"$TMPD/err"
check_rc "up with a wrong password" 255 $? "$TMPD/err"
contains "$TMPD/err" "$wrong" || fail "up: message is: $(cat "$TMPD/err")"
check "up with a wrong password: wrong passwords sudo saw" 4 "$(tries)"
refused "after a wrong password, none" "$need" 4 upw
works "after a wrong password, the right one" --password-fd 3 upw \
    3<"$TMPD/good"
# Up without a password: the next command's is used.
spn down upw >/dev/null || fail "down upw"
spn up upn "$r" >/dev/null 2>"$TMPD/err"
check_rc "up without a password" 255 $? "$TMPD/err"
works "up without a password, then --password-file" \
    --password-file "$TMPD/good" upn

# Down forgets the password the daemon held.
works "held password" --password-fd 3 bare 3<"$TMPD/good"
works "held password, reused" bare
spn down bare >/dev/null || fail "down bare"
refused "after down, no password held" "$need" 4 bare
spn down upn >/dev/null || fail "down upn"
spn up --password-fd 3 upn "$r" 3<"$TMPD/good" >/dev/null 2>"$TMPD/err"
check_rc "up with the password" 0 $? "$TMPD/err"
spn down upn >/dev/null || fail "down upn"
spn up upn "$r" >/dev/null 2>"$TMPD/err"
check_rc "up again after down, without a password" 255 $? "$TMPD/err"
contains "$TMPD/err" "$need" ||
    fail "up after down: message is: $(cat "$TMPD/err")"
check "wrong passwords sudo saw in all" 4 "$(tries)"

# --ask-pass asks for the hop that prompts, naming it, and is used.
if command -v script >/dev/null; then
	spn down bare >/dev/null 2>&1
	printf '%s\n' "$pw" | SPN_CMD="$SPINDLE run --ask-pass bare -- id -un" \
	    timeout 30 script -qec 'sh -c "$SPN_CMD"' /dev/null \
	    >"$TMPD/out" 2>&1
	contains "$TMPD/out" "spindle: password for $u@$(hostname) (sudo to nobody): " ||
	    fail "--ask-pass: prompt: $(cat "$TMPD/out")"
	grep -q '^nobody' "$TMPD/out" || fail "--ask-pass: $(cat "$TMPD/out")"
	contains "$TMPD/out" "password for root" &&
	    fail "--ask-pass asked for root's password: $(cat "$TMPD/out")"
	# A name only the daemon knows (up, failed for want of one): the
	# daemon says what route it is, and the prompt names the hop too.
	printf '%s\n' "$pw" | SPN_CMD="$SPINDLE run --ask-pass upn -- id -un" \
	    timeout 30 script -qec 'sh -c "$SPN_CMD"' /dev/null \
	    >"$TMPD/out" 2>&1
	contains "$TMPD/out" "spindle: password for $u@$(hostname) (sudo to nobody): " ||
	    fail "--ask-pass, up'd route: prompt: $(cat "$TMPD/out")"
	grep -q '^nobody' "$TMPD/out" ||
	    fail "--ask-pass, up'd route: $(cat "$TMPD/out")"
fi

# Two hops, two passwords: $u's for the sudo to $u2, $u2's for the sudo
# to nobody; each hop's own source, in the route and in the routes file.
r2="sudo=$u+sudo=$u2+sudo=nobody"
works "a password file per hop" \
    "sudo=$u+sudo=$u2,password-file=$TMPD/good+sudo=nobody,password-file=$TMPD/good2"
cat >>"$SPINDLE_ROUTES" <<EOF
route two $r2
    password-file $TMPD/good
    hop 3 password-command cat '$TMPD/good2'
EOF
works "routes file: hop 3's own source, the route's for hop 2" two
spn down two >/dev/null
# A wrong one fails its hop, named, after one try.
r3="sudo=$u+sudo=$u2,password-file=$TMPD/good+sudo=nobody,password-file=$TMPD/bad"
refused "hop 3's password wrong" "hop 3 ($r3): sudo: incorrect password for $u2" 5 "$r3"

# A password held for a route is for the route as it was: once the
# routes file sends it to another user's sudo, it is forgotten, never
# typed there.  (A hop killed: the route reconnects at the next use.)
echo "route moved $r" >>"$SPINDLE_ROUTES"
spn up --password-fd 3 upm moved 3<"$TMPD/good" >/dev/null 2>"$TMPD/err"
check_rc "up, a route of the file" 0 $? "$TMPD/err"
pkill -KILL -u "$u"
sleep 1
works "held, after a hop died" upm
sed "s|^route moved .*|route moved sudo=$u2+sudo=nobody|" "$SPINDLE_ROUTES" \
    >"$TMPD/routes.new"
mv "$TMPD/routes.new" "$SPINDLE_ROUTES"
pkill -KILL -u "$u"
sleep 1
refused "route edited to another user's sudo" "$need" 5 upm
spn down upm >/dev/null 2>&1

# --ask-pass asks for each hop that prompts, naming it.
if command -v script >/dev/null; then
	printf '%s\n%s\n' "$pw" "$pw2" |
	    SPN_CMD="$SPINDLE run --ask-pass $r2 -- id -un" \
	    timeout 30 script -qec 'sh -c "$SPN_CMD"' /dev/null \
	    >"$TMPD/out" 2>&1
	contains "$TMPD/out" "spindle: password for $u@$(hostname) (sudo to $u2): " ||
	    fail "--ask-pass, two hops: prompt 1: $(cat "$TMPD/out")"
	contains "$TMPD/out" "spindle: password for $u2@$(hostname) (sudo to nobody): " ||
	    fail "--ask-pass, two hops: prompt 2: $(cat "$TMPD/out")"
	grep -q '^nobody' "$TMPD/out" ||
	    fail "--ask-pass, two hops: $(cat "$TMPD/out")"
fi
check "wrong passwords sudo saw at the end" 5 "$(tries)"
pass
