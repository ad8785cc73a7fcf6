#!/bin/sh
# A remote without a usable /bin/sh: a second sshd in a mount namespace
# where /bin/sh's target is an empty, non-executable file.  The hop fails
# at once, says so, names the hop, exits 255 and leaves nothing behind.
. "$(dirname "$0")/lib-sshd.sh"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
sh_target=$(readlink -f /bin/sh)
: >"$TMPD/empty"
chmod 644 "$TMPD/empty"
P2=$(free_port 77)
NS_SSHD=""
trap '_t=$?; [ -n "$NS_SSHD" ] && kill -KILL $NS_SSHD 2>/dev/null; (exit $_t); _sshd_cleanup' EXIT
( unshare -m --propagation private /bin/bash -c \
    'mount --bind "$1" "$2" && exec /usr/sbin/sshd -D -f "$3" -o Port="$4" -o PidFile="$5" -E "$6"' \
    x "$TMPD/empty" "$sh_target" "$SSHW/sshd/config" "$P2" "$TMPD/pid2" \
    "$TMPD/log2" </dev/null >/dev/null 2>&1 &
  echo $! >"$TMPD/dpid2" )
NS_SSHD=$(cat "$TMPD/dpid2")
_t=100
while [ "$_t" -gt 0 ] && ! grep -q "listening on" "$TMPD/log2" 2>/dev/null; do
	sleep 0.05
	_t=$((_t - 1))
done
grep -q "listening on" "$TMPD/log2" ||
    skip "cannot run sshd in a mount namespace: $(cat "$TMPD/log2" 2>/dev/null)"
printf '[127.0.0.1]:%s %s\n' "$P2" \
    "$(cut -d' ' -f1,2 "$SSHW/sshd/host_key.pub")" >>"$SSHW/known_hosts"

R="$U_A@127.0.0.1,port=$P2"
spn run "$R" -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
check_rc "no /bin/sh" 255 $? "$TMPD/err"
[ -s "$TMPD/out" ] && fail "no /bin/sh: the command ran"
contains "$TMPD/err" "hop 1 ($R): no usable /bin/sh there (" ||
    fail "no /bin/sh: message: $(cat "$TMPD/err")"
log "$(cat "$TMPD/err")"
kill -KILL "$NS_SSHD"
wait_gone "$NS_SSHD" 5 || fail "the second sshd did not die"
NS_SSHD=""
no_world_procs 5 "after the failed hop"
pass
