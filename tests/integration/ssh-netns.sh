#!/bin/sh
# A real topology (lib-netns.sh): a "bastion" network namespace reachable
# from here and an "inner" one reachable only from the bastion, each with
# its own sshd.  A direct ssh to inner fails; bastion+inner+sudo works,
# the second ssh running on the bastion as the bastion user, with the
# config its hop names (config=).  Ssh options that name local files (SPINDLE_SSH_ARGS,
# the routes file's ssh-config and ssh-args) are for the ssh this machine
# starts only: a config the bastion user cannot read does not reach the
# bastion's ssh, with the daemon or without.
. "$(dirname "$0")/lib-netns.sh"

# From here, inner is out of reach.
spn run "$U_A@inner" -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
check_rc "direct to inner" 255 $? "$TMPD/err"
[ -s "$TMPD/out" ] && fail "direct to inner: the command ran"
contains "$TMPD/err" "hop 1 ($U_A@inner): " ||
    fail "direct to inner: message: $(cat "$TMPD/err")"

# Through the bastion it works, and sudo at the end.
R=$NETNS_ROUTE
out=$(spn run "$R" -- id -un 2>"$TMPD/err")
check_rc "run $R" 0 $? "$TMPD/err"
check "run $R" "$U_W" "$out"
out=$(spn info "$R" 2>"$TMPD/err")
check_rc "info $R" 0 $? "$TMPD/err"
echo "$out" | grep -q "^hop 1 ($U_A@bastion): .* user $U_A " ||
    fail "info: hop 1: $out"
echo "$out" | grep -q "^hop 2 ($U_A@bastion+$U_B@inner,config=[^)]*): .* user $U_B " ||
    fail "info: hop 2: $out"
echo "$out" | grep -q "^hop 3 ($R): .* user $U_W " || fail "info: hop 3: $out"
# The inner sshd saw the connection come from the bastion's address.
grep -q "from 169.254.$x.5 " "$TMPD/log.$NI" ||
    fail "inner sshd did not see the bastion as the client"
# A stream through all three hops arrives whole.
head -c 8000000 /dev/urandom >"$TMPD/data"
a=$(sha256sum <"$TMPD/data" | cut -d' ' -f1)
b=$(spn run "$R" -- sha256sum <"$TMPD/data" 2>"$TMPD/err" | cut -d' ' -f1)
check "8 MB through the topology" "$a" "$b"

# A config that only root (who runs hop 1's ssh) can read.
cp "$SSHW/ssh_config.ns" "$TMPD/lab_config"
chmod 600 "$TMPD/lab_config"
su -s /bin/sh "$U_A" -c "cat '$TMPD/lab_config'" >/dev/null 2>&1 &&
    fail "$U_A can read $TMPD/lab_config: the test proves nothing"
SPINDLE_RUNTIME_DIR=$TMPD/rt
SPINDLE_ROUTES=$TMPD/routes
export SPINDLE_RUNTIME_DIR SPINDLE_ROUTES
: >"$SPINDLE_ROUTES"
SPINDLE_SSH_ARGS="-F $TMPD/lab_config"
# lab_run WHAT ROUTE [--no-daemon]: run ROUTE -- id -un gives $U_W.
lab_run() {
	out=$(spn run ${3:-} "$2" -- id -un 2>"$TMPD/err")
	check_rc "$1: run ${3:-} $2" 0 $? "$TMPD/err"
	check "$1: run ${3:-} $2" "$U_W" "$out"
}
lab_run "SPINDLE_SSH_ARGS" "$R" --no-daemon
spn daemon start >/dev/null || fail "daemon start"
lab_run "SPINDLE_SSH_ARGS, through the daemon" "$R"
spn daemon stop >/dev/null
# The routes file's ssh-config and ssh-args, without the daemon and with.
unset SPINDLE_SSH_ARGS
cat >"$SPINDLE_ROUTES" <<EOF
route labc $R
    ssh-config $TMPD/lab_config
route laba $R
    ssh-args -F $TMPD/lab_config -oConnectTimeout=5
EOF
for r in labc laba; do
	lab_run "routes file" "$r" --no-daemon
	lab_run "routes file, through the daemon" "$r"
done
# The daemon's hop 2 ssh got only its own config.
sshc=$(ps -o pid= -o args= -u "$U_A" | awk -v b="$U_B" '
    $2 == "ssh" && index($0, " -l " b " ") { print $1 }')
[ -n "$sshc" ] || fail "no ssh client run by $U_A for hop 2"
for p in $sshc; do
	contains /proc/$p/cmdline "$TMPD/lab_config" &&
	    fail "hop 2's ssh got $TMPD/lab_config: $(args_of "$p")"
done
pass
