#!/bin/sh
# The SSH gateway through a real route (issue 12 point 6), in
# lib-netns.sh's world: route NAME = $U_A@bastion + $U_B@inner +
# sudo=$U_W, sudo's password from the routes file under requiretty, held
# by the test's own daemon; OpenSSH's clients reach it as NAME.spindle
# with nothing but `spindle ssh-config`'s block.  ssh exec (`id -un` is
# $U_W), scp both ways in both modes, an sftp batch, rsync -a up, again
# (nothing sent) and down, git clone, push and clone again of a bare
# repository in $U_W's home, every far file $U_W's.  A route whose sudo
# password the daemon does not have: `spindle: hop 3 (...+sudo=$U_W):
# ...` on ssh's stderr and status 255, nothing run; after `spindle up
# NAME --password-file`, the same ssh works.
T0=$(date +%s%3N)
NETNS_SUDO_PASSWORD=yes
. "$(dirname "$0")/lib-netns.sh"
. "$(dirname "$0")/lib-gwfiles.sh"
netns_daemon gwn
gw_setup
# $U_W's home (a directory of this machine: the namespaces only have
# networks of their own), where the far files go.
WH=$(getent passwd "$U_W" | cut -d: -f6)
[ -d "$WH" ] || fail "no home for $U_W"
GW_OWNER=$U_W
log "world up in $(gw_since "$T0") s"

# The first connection brings the daemon, the gateway and the route up.
t=$(gw_now)
gw_run "ssh gwn.spindle id -un" ssh -F "$GW_CFG" gwn.spindle id -un
check "ssh gwn.spindle id -un" "$U_W" "$(cat "$TMPD/gw.out")"
log "first ssh gwn.spindle (daemon, gateway, route) in $(gw_since "$t") s"
t=$(gw_now)
gw_run "ssh gwn.spindle again" ssh -F "$GW_CFG" gwn.spindle \
    'id -un; echo err >&2'
check "ssh gwn.spindle again" "$U_W" "$(cat "$TMPD/gw.out")"
check "ssh gwn.spindle again: stderr" err "$(tr -d '\r' <"$TMPD/gw.err")"
log "ssh gwn.spindle on the route up in $(gw_since "$t") s"
# The route held one connection per hop: hop 1's sshd saw one login.
check "logins to the bastion" 1 \
    "$(grep -c "Accepted publickey for $U_A " "$TMPD/log.$NB")"

gw_scp gwn.spindle "$WH" 16
gw_sftp gwn.spindle "$WH"
gw_rsync gwn.spindle "$WH" 16 300
GW_GIT_SHORT=yes	# gateway-files.sh pushes and pulls back too
gw_git gwn.spindle "$WH" runuser -u "$U_W" -- env HOME="$WH" \
    GIT_CONFIG_GLOBAL=/dev/null
gw_hwm "after the files"
check "logins to the bastion at the end" 1 \
    "$(grep -c "Accepted publickey for $U_A " "$TMPD/log.$NB")"

# A route needing a password the daemon does not have: the channel fails
# with the hop's words and ssh's status 255; nothing ran.
cat >>"$SPINDLE_ROUTES" <<EOF
route nopw $NETNS_ROUTE
    ssh-config $SSHW/ssh_config.ns
EOF
t=$(gw_now)
timeout -k 5 60 ssh -F "$GW_CFG" nopw.spindle "touch $TMPD/ran" \
    </dev/null >"$TMPD/out" 2>"$TMPD/err"
rc=$?
log "no password: ssh said in $(gw_since "$t") s: $(tr -d '\r' <"$TMPD/err")"
check_rc "ssh nopw.spindle without a password" 255 "$rc" "$TMPD/err"
[ -e "$TMPD/ran" ] && fail "no password: the command ran"
tr -d '\r' <"$TMPD/err" | grep -q "^spindle: hop 3 (.*sudo=$U_W): .*password" ||
    fail "no password: ssh's stderr: $(cat "$TMPD/err")"
# The password given to the route: the same ssh works.
spn up --password-file "$PWFILE" nopw >"$TMPD/out" 2>"$TMPD/err"
check_rc "spindle up nopw --password-file" 0 $? "$TMPD/err"
gw_run "ssh nopw.spindle after up" ssh -F "$GW_CFG" nopw.spindle id -un
check "ssh nopw.spindle after up" "$U_W" "$(cat "$TMPD/gw.out")"

log "took $(gw_since "$T0") s in all"
pass
