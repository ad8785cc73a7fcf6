#!/bin/sh
# A sudo hop behind an ssh hop, with real sudo and sudoers rules: a
# NOPASSWD rule works (id, exit status, stdin, the image re-sent from
# memory); a user without the right fails with 255, the hop named and
# sudo's own words passed on; nothing is left running.
. "$(dirname "$0")/lib-sshd.sh"

R=$U_A@127.0.0.1+sudo=$U_W

out=$(spn run "$R" -- id -un 2>"$TMPD/err")
check_rc "run $R -- id -un" 0 $? "$TMPD/err"
check "run $R -- id -un" "$U_W" "$out"
[ -s "$TMPD/err" ] && fail "run $R -- id -un: stderr: $(cat "$TMPD/err")"
# sudo -H: HOME is the target user's.
out=$(spn run "$R" -- sh -c 'echo "$(id -u) $(id -g) $HOME"' 2>"$TMPD/err")
check_rc "run $R -- (uid gid HOME)" 0 $? "$TMPD/err"
check "run $R: uid gid HOME" \
    "$(id -u "$U_W") $(id -g "$U_W") $SSHW/home/$U_W" "$out"

spn run "$R" -- sh -c 'exit 42' 2>"$TMPD/err"
check_rc "run $R -- sh -c 'exit 42'" 42 $? "$TMPD/err"
out=$(printf 'a\nb\n' | spn run "$R" -- wc -l 2>"$TMPD/err")
check_rc "printf 'a\\nb\\n' | run $R -- wc -l" 0 $? "$TMPD/err"
check "printf 'a\\nb\\n' | run $R -- wc -l" 2 "$(echo $out)"
head -c 4194304 /dev/urandom >"$TMPD/data"
out=$(spn run "$R" -- sha256sum <"$TMPD/data" 2>"$TMPD/err")
check_rc "4 MB | run $R -- sha256sum" 0 $? "$TMPD/err"
check "4 MB | run $R -- sha256sum" "$(sha256sum <"$TMPD/data")" "$out"

# info: two hops, the second one as the webapp user.
out=$(spn info "$R" 2>"$TMPD/err")
re_R=$(echo "$R" | sed 's/[.+]/\\&/g')
check_rc "info $R" 0 $? "$TMPD/err"
echo "$out" | grep -Eq "^hop 1 \($U_A@127\.0\.0\.1\): pid [0-9]+ ppid [0-9]+ uid $(id -u "$U_A") user $U_A " ||
    fail "info $R: hop 1 is wrong: $out"
echo "$out" | grep -Eq "^hop 2 \($re_R\): pid [0-9]+ ppid [0-9]+ uid $(id -u "$U_W") user $U_W " ||
    fail "info $R: hop 2 is wrong: $out"
check "info $R: lines" 2 "$(echo "$out" | wc -l)"

# The sudo'd agent runs from memory too (sudo closed every fd: the image
# came again over stdin).
out=$(spn run "$R" -- sh -c 'readlink /proc/$PPID/exe' 2>"$TMPD/err")
check_rc "run $R -- (agent's exe)" 0 $? "$TMPD/err"
check "hop 2's /proc/PID/exe" "/memfd:spindle (deleted)" "$out"
no_world_procs 5 "the sudo sessions above"

# refused ROUTE HOPNAME: run ROUTE fails with 255 naming HOPNAME and
# passing on sudo's refusal; the command does not run.
refused() {
	spn run "$1" -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
	check_rc "run $1 -- echo RAN" 255 $? "$TMPD/err"
	[ -s "$TMPD/out" ] && fail "run $1: the command ran: $(cat "$TMPD/out")"
	contains "$TMPD/err" "hop 2 ($2)" ||
	    fail "run $1: message does not name 'hop 2 ($2)': $(cat "$TMPD/err")"
	contains "$TMPD/err" "sudo: a password is required" ||
	    fail "run $1: sudo's refusal is not passed on: $(cat "$TMPD/err")"
	log "run $1 says: $(cat "$TMPD/err")"
	no_world_procs 5 "run $1 (refused)"
}
# A user with no sudo rights at all.
refused "$U_O@127.0.0.1+sudo=$U_W" "$U_O@127.0.0.1+sudo=$U_W"
# A rule for the webapp user is not one for root.
refused "$U_A@127.0.0.1+sudo" "$U_A@127.0.0.1+sudo"

pass
