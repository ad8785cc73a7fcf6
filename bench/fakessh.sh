#!/bin/sh
# The daemon and the ssh shim side by side with OpenSSH, fresh and with a
# ControlMaster, on a loopback sshd this script creates (users, keys,
# sudoers with a sudo password and requiretty) and removes: the
# integration tests' own world (tests/integration/lib-fakessh.sh).
# Needs root; prints ratios and memory.
#	bench/fakessh.sh [RUNS]     (runs per timing, default 11)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
SPINDLE=$top/spindle
SPN_TESTLIB=$top/tests/integration
export SPINDLE
[ "$(id -u)" = 0 ] || { echo "bench/fakessh.sh: needs root" >&2; exit 1; }
N=${1:-11}
SPN_TIMEOUT=600
# sshd as Debian ships it: sftp by the external sftp-server, as the shim's.
SSHD_SFTP=/usr/lib/openssh/sftp-server
. "$SPN_TESTLIB/lib-fakessh.sh"
cd "$top"
R=$U_A@127.0.0.1
CM="$TMPD/cm"
ssh_fresh="ssh -F $SSH_CFG"
ssh_cm="ssh -F $SSH_CFG -oControlMaster=auto -oControlPath=$CM -oControlPersist=300"
cleanup_cm() { ssh -F "$SSH_CFG" -oControlPath="$CM" -O exit "$R" >/dev/null 2>&1; }

. "$top/bench/lib.sh"
row() { printf '%-40s %10s %10s %10s %7s %7s  %s\n' "$@"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# Warm everything: the daemon's routes, the ControlMaster.
"$SPINDLE" up direct "$R" >/dev/null || exit 1
"$SPINDLE" check web >/dev/null || exit 1
$ssh_cm "$R" true || exit 1

# 1. A command on an established connection.
t_fresh=$(median_ms "$N" $ssh_fresh "$R" true)
t_cm=$(median_ms "$N" $ssh_cm "$R" true)
t_spn=$(median_ms "$N" "$SPINDLE" run direct -- true)
t_spn_web=$(median_ms "$N" "$SPINDLE" run web -- true)
t_shim=$(median_ms "$N" "$FAKEBIN/ssh" web true)

# 2. scp of 50 files of 4 KiB (SFTP mode), into a fresh directory.
mkdir -p "$TMPD/small"
for i in $(seq 50); do head -c 4096 /dev/urandom >"$TMPD/small/f$i"; done
t_scp_fresh=$(median_ms "$N" sh -c "ssh -F $SSH_CFG $R 'rm -rf s; mkdir s' && scp -q -F $SSH_CFG $TMPD/small/* $R:s/")
t_scp_cm=$(median_ms "$N" sh -c "$ssh_cm $R 'rm -rf s; mkdir s' && scp -q -F $SSH_CFG -oControlPath=$CM $TMPD/small/* $R:s/")
t_scp_shim=$(median_ms "$N" sh -c "$FAKEBIN/ssh web 'rm -rf s; mkdir s' && scp -q -S $FAKEBIN/ssh $TMPD/small/* web:s/")
t_scp_direct=$(median_ms "$N" sh -c "$FAKEBIN/ssh -F $SSH_CFG $R 'rm -rf s; mkdir s' && scp -q -S $FAKEBIN/ssh -F $SSH_CFG $TMPD/small/* $R:s/")

# 3. rsync of 200 MB + 300 small files: via the shim through ssh -> sudo,
# and over plain ssh to the same host; a fresh destination each run.
mkdir -p "$TMPD/tree/small"
head -c 200M /dev/urandom >"$TMPD/tree/big"
for i in $(seq 300); do head -c $((i * 37 + 100)) /dev/urandom >"$TMPD/tree/small/f$i"; done
RN=$(( N < 5 ? N : 5 ))
t_rsync_ssh=$(median_ms "$RN" sh -c "$ssh_fresh $R 'rm -rf t' && rsync -a -e '$ssh_fresh' $TMPD/tree/ $R:t/")
t_rsync_shim=$(median_ms "$RN" sh -c "$FAKEBIN/ssh web 'rm -rf t' && PATH=$FAKEBIN:\$PATH rsync -a $TMPD/tree/ web:t/")

# 4. Memory, after all of it.
dpid=$(daemon_pid)
pids=$("$SPINDLE" ls --json | /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin):
    for i, p in enumerate(r["pids"]):
        print(p, "hop", i + 1, "of", r["name"].split()[0])')
cleanup_cm

echo "spindle daemon/fakessh benchmark, $(date -u +%F), $(nproc) cores, $(uname -r), $N runs (rsync $RN)"
echo "loopback sshd (OpenSSH $(ssh -V 2>&1 | sed 's/,.*//;s/OpenSSH_//')), rsync $(rsync --version | head -n1 | awk '{ print $3 }')"
echo
row "median ms" spindle "ssh CM" "ssh fresh" "vs CM" "vs new" target
row "run NAME true (ssh route)" "$t_spn" "$t_cm" "$t_fresh" "$(ratio "$t_spn" "$t_cm")" "$(ratio "$t_spn" "$t_fresh")" "<= 0.5 x CM"
row "run NAME true (ssh+sudo route)" "$t_spn_web" "$t_cm" "$t_fresh" "$(ratio "$t_spn_web" "$t_cm")" "$(ratio "$t_spn_web" "$t_fresh")" ""
row "shim: ssh NAME true (ssh+sudo)" "$t_shim" "$t_cm" "$t_fresh" "$(ratio "$t_shim" "$t_cm")" "$(ratio "$t_shim" "$t_fresh")" ""
row "scp 50 x 4 KiB (shim: ssh)" "$t_scp_direct" "$t_scp_cm" "$t_scp_fresh" "$(ratio "$t_scp_direct" "$t_scp_cm")" "$(ratio "$t_scp_direct" "$t_scp_fresh")" "<= 0.7 x CM"
row "scp 50 x 4 KiB (shim: ssh+sudo)" "$t_scp_shim" "$t_scp_cm" "$t_scp_fresh" "$(ratio "$t_scp_shim" "$t_scp_cm")" "$(ratio "$t_scp_shim" "$t_scp_fresh")" ""
row "rsync 200 MB + 300 files (ssh+sudo)" "$t_rsync_shim" "-" "$t_rsync_ssh" "-" "$(ratio "$t_rsync_shim" "$t_rsync_ssh")" "<= 1.15 x plain ssh"
echo
echo "memory (KiB): RSS now / peak (VmHWM)"
echo "  daemon pid $dpid: $(rss "$dpid") / $(hwm "$dpid")"
echo "$pids" | while read -r p what; do
	echo "  agent pid $p ($what): $(rss "$p") / $(hwm "$p")"
done
exit 0
