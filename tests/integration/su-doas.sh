#!/bin/sh
# su and doas hops: root needs no password; a user gives the target's (su)
# or its own (doas) password on a pty; wrong and missing passwords fail
# with the tool's own words, naming the hop.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (creates users, /etc/doas.conf)"
command -v su >/dev/null || skip "su is not installed"
command -v doas >/dev/null || skip "doas is not installed (opendoas)"
[ -e /etc/doas.conf ] && skip "/etc/doas.conf exists; not touching it"

s=$(printf '%04x' $$)
u="spna$s" v="spnb$s"
pw="pw-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
cleanup_users() {
	pkill -KILL -u "$u" 2>/dev/null
	pkill -KILL -u "$v" 2>/dev/null
	userdel -r "$u" >/dev/null 2>&1
	userdel -r "$v" >/dev/null 2>&1
	rm -f /etc/doas.conf
}
trap '_t=$?; cleanup_users; (exit $_t); _lib_cleanup' EXIT
for x in "$u" "$v"; do
	useradd -m -s /bin/sh "$x" || fail "useradd $x"
	echo "$x:$pw" | chpasswd || fail "chpasswd $x"
done
printf 'permit %s as %s\npermit nopass root as %s\n' "$u" "$v" "$u" \
    >/etc/doas.conf
chmod 600 /etc/doas.conf
printf '%s\n' "$pw" >"$TMPD/pw"
printf 'wrong\n' >"$TMPD/bad"

# runs WHAT EXPECTED-USER ROUTE [OPTIONS...]
runs() {
	_w=$1 _e=$2 _r=$3
	shift 3
	out=$(spn run "$@" "$_r" -- id -un 2>"$TMPD/err")
	check_rc "$_w" 0 $? "$TMPD/err"
	check "$_w: user" "$_e" "$out"
}
# refused WHAT ROUTE HOP TEXT [OPTIONS...]
refused() {
	_w=$1 _r=$2 _h=$3 _t=$4
	shift 4
	hop_fails "$_w" "$_r" "$@"
	contains "$TMPD/err" "hop $_h ($_r): " ||
	    fail "$_w: hop not named: $(cat "$TMPD/err")"
	contains "$TMPD/err" "$_t" ||
	    fail "$_w: expected '$_t' in: $(cat "$TMPD/err")"
}

# (hop_says: all spindle says is the hop and the first line the tool,
# or PAM, printed.)
P="--password-file $TMPD/pw"

runs "su as root" "$u" "su=$u"
runs "su with the target's password" "$v" "su=$u+su=$v" \
    --password-file "$TMPD/pw"
hop_says "su, wrong password" "su=$u+su=$v" 2 "su: Authentication failure" \
    --password-file "$TMPD/bad"
hop_says "su, unknown user" "su=x$u" 1 \
    "su: user x$u does not exist or the user entry does not contain all the required fields"
# PAM's reason comes first, su's "Authentication failure" after it.
account_says expired "$v" "su, expired account" "su=$v" 1 \
    "Your account has expired; please contact your system administrator."
account_says locked "$v" "su, locked account" "su=$u+su=$v" 2 \
    "su: Authentication failure" $P
refused "su, no password" "su=$u+su=$v" 2 \
    "su asked for a password and none was given"

runs "doas nopass" "$u" "doas=$u"
runs "doas with a password" "$v" "doas=$u+doas=$v" --password-file "$TMPD/pw"
hop_says "doas, wrong password" "doas=$u+doas=$v" 2 \
    "doas: Authentication failed" --password-file "$TMPD/bad"
hop_says "doas, unknown user" "doas=x$u" 1 "doas: unknown user"
account_says expired "$u" "doas, expired account" "doas=$u+doas=$v" 2 \
    "Your account has expired; please contact your system administrator." $P
account_says locked "$u" "doas, locked account" "doas=$u+doas=$v" 2 \
    "doas: Authentication failed" $P
refused "doas, no password" "doas=$u+doas=$v" 2 \
    "doas: Authentication required"
hop_says "doas, not permitted" "doas=$v" 1 "doas: Operation not permitted" $P
runs "mixed" "$v" "local+su=$u+doas=$v+local" --password-file "$TMPD/pw"
pass
