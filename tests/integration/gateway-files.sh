#!/bin/sh
# Files through the SSH gateway (issue 12 point 6) with the real OpenSSH
# clients, given nothing but `spindle ssh-config`'s block (ssh -F): no
# prompt, no password, the host key pinned in spindle's known_hosts.
# Over `local.spindle` (the route "local") and `web.spindle` (routes
# file: web = local+local): scp in SFTP mode (the default), 64 MiB each
# way compared byte for byte (gateway-bulk.sh moves 256 MiB each way with
# ssh), the gateway's VmHWM, `scp -O -r`; an sftp -b
# batch (mkdir, put, ls, get, rename, rm, rmdir); rsync -a of 200 MiB and
# 300 small files, a second run that sends nothing, one changed file, the
# small files back; git clone and push of a bare repository over
# `web.spindle:PATH` with GIT_SSH_COMMAND and with core.sshCommand.
# Every far end is this machine, so what arrived is compared directly.
# The namespace world with ssh + sudo is gateway-netns.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-gwfiles.sh"
T0=$(gw_now)

SPINDLE_ROUTES=$TMPD/routes
export SPINDLE_ROUTES
printf '# written by %s\nroute web local+local\n' "$TEST" >"$SPINDLE_ROUTES"
gw_setup
R=$TMPD/far
mkdir "$R" || fail "mkdir $R"

# The user's own known_hosts (ssh's default) must stay as it was.
kh=$(getent passwd "$(id -un)" | cut -d: -f6)/.ssh/known_hosts
kh_before=$(sha256sum "$kh" 2>/dev/null)

# The first connection starts the daemon and its gateway.
t=$(gw_now)
gw_run "ssh local.spindle" ssh -F "$GW_CFG" local.spindle 'echo ok'
check "ssh local.spindle echo ok" ok "$(cat "$TMPD/gw.out")"
log "first ssh local.spindle (daemon and gateway starting) in $(gw_since "$t") s"
[ -n "$(gw_pid)" ] || fail "no spindle-gateway under the daemon"
[ -s "$XDG_CONFIG_HOME/spindle/known_hosts" ] ||
    fail "no known_hosts in $XDG_CONFIG_HOME/spindle"
gw_run "ssh web.spindle" ssh -F "$GW_CFG" web.spindle 'id -un'
check "ssh web.spindle id -un" "$(id -un)" "$(cat "$TMPD/gw.out")"
[ -s "$TMPD/gw.err" ] && fail "ssh web.spindle said: $(cat "$TMPD/gw.err")"

t=$(gw_now)
gw_scp local.spindle "$R" 64
gw_hwm "after 64 MiB each way"
log "scp: $(gw_since "$t") s in all"
gw_sftp local.spindle "$R"
gw_sftp web.spindle "$R"
t=$(gw_now)
gw_rsync web.spindle "$R" 200 300
log "rsync: $(gw_since "$t") s in all"
gw_git web.spindle "$R"
gw_hwm "at the end"

check "the user's known_hosts" "$kh_before" "$(sha256sum "$kh" 2>/dev/null)"
log "took $(gw_since "$T0") s in all"
pass
