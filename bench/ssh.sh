#!/bin/sh
# ssh and sudo hops side by side with OpenSSH and Mitogen, on a loopback
# sshd that this script creates (users, keys, sudoers) and removes, with
# the integration tests' own setup.  Needs root; prints ratios.
#	bench/ssh.sh [MB]     (MB for the throughput runs, default 512)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
SPINDLE=$top/spindle
SPN_TESTLIB=$top/tests/integration
export SPINDLE
[ "$(id -u)" = 0 ] || { echo "bench/ssh.sh: needs root" >&2; exit 1; }
MB=${1:-512}
SPN_TIMEOUT=600
. "$SPN_TESTLIB/lib-sshd.sh"
cd "$top"
R=$U_A@127.0.0.1
S="$SSHW/keys/root/id"
ssh_cmd="ssh -F $SSH_CFG"

. "$top/bench/lib.sh"
row() { printf '%-38s %12s %12s %8s  %s\n' "$@"; }

ssh_true=$(median_ms 15 $ssh_cmd "$R" true)
spn_ssh=$(median_ms 15 "$SPINDLE" run "$R" -- true)
sudo_true=$(median_ms 15 sudo -u "$U_W" true)
spn_sudo=$(median_ms 15 "$SPINDLE" run "sudo=$U_W" -- true)
spn_ssh_sudo=$(median_ms 15 "$SPINDLE" run "$R+sudo=$U_W" -- true)

raw_pp=$(/usr/bin/python3 bench/pingpong.py 2000 $ssh_cmd "$R" cat)
raw_pp_sudo=$(/usr/bin/python3 bench/pingpong.py 2000 $ssh_cmd "$R" sudo -u "$U_W" cat)
spn_ping=$("$SPINDLE" ping --no-daemon -c 2000 "$R" | sed 's/.*median \([0-9.]*\) us.*/\1/')
spn_ping_sudo=$("$SPINDLE" ping --no-daemon -c 2000 "$R+sudo=$U_W" | sed 's/.*median \([0-9.]*\) us.*/\1/')
# libspindle: a call of an export that returns its pid (bench/bench-lib).
make -s bench/bench-lib >/dev/null
lib_call() { bench/bench-lib --rtt "$1" 2000 | awk '$1 == "call_us" { print $2 }'; }
spn_call=$(lib_call "$R,config=$SSH_CFG")
spn_call_sudo=$(lib_call "$R,config=$SSH_CFG+sudo=$U_W")

mbps() {	# mbps CMD...: MB/s moving $MB MiB from stdin to the command
	_t0=$(date +%s%N)
	head -c "${MB}M" /dev/zero | "$@" >/dev/null 2>&1
	_t1=$(date +%s%N)
	awk -v b=$((MB * 1048576)) -v t=$((_t1 - _t0)) 'BEGIN { printf "%.0f", b / (t / 1e3) }'
}
raw_tput=$(mbps $ssh_cmd "$R" cat)
spn_tput=$(mbps "$SPINDLE" run "$R+sudo=$U_W" -- cat)
raw_tput_out=$(mbps sh -c "$ssh_cmd $R 'head -c ${MB}M /dev/zero'")
spn_tput_out=$(mbps "$SPINDLE" run "$R+sudo=$U_W" -- head -c "${MB}M" /dev/zero)

mito=$(/usr/bin/python3 bench/mitogen_ssh.py "$U_A" 127.0.0.1 "$SSH_CFG" "$U_W" 2000 2>"$TMPD/mito.err") ||
    { cat "$TMPD/mito.err" >&2; mito=""; }
mval() { echo "$mito" | awk -v k="$1" '$1 == k { print $2 }'; }

echo "spindle ssh/sudo benchmark, $(date -u +%F), $(nproc) cores, $(uname -r)"
echo "loopback sshd (OpenSSH $(ssh -V 2>&1 | sed 's/,.*//;s/OpenSSH_//')), Mitogen $(/usr/bin/python3 -c 'import mitogen; print(".".join(map(str, mitogen.__version__)))')"
echo
row "" spindle peer ratio target
row "ssh bootstrap to first call (ms)" "$spn_ssh" "$ssh_true" "$(ratio "$spn_ssh" "$ssh_true")" "<= 1.10 x ssh host true"
row "sudo hop bootstrap (ms)" "$spn_sudo" "$sudo_true" "$(ratio "$spn_sudo" "$sudo_true")" "<= 4 x sudo true"
row "ssh+sudo bootstrap (ms)" "$spn_ssh_sudo" "$ssh_true" "$(ratio "$spn_ssh_sudo" "$ssh_true")" "(vs ssh host true)"
row "ping over ssh (us)" "$spn_ping" "$raw_pp" "$(ratio "$spn_ping" "$raw_pp")" "<= 1.25 x byte ping-pong via ssh cat"
row "ping over ssh+sudo (us)" "$spn_ping_sudo" "$raw_pp_sudo" "$(ratio "$spn_ping_sudo" "$raw_pp_sudo")" "<= 1.4 x (ssh sudo cat)"
row "libspindle call over ssh (us)" "$spn_call" "$raw_pp" "$(ratio "$spn_call" "$raw_pp")" "<= 1.25 x byte ping-pong via ssh cat"
row "libspindle call over ssh+sudo (us)" "$spn_call_sudo" "$raw_pp_sudo" "$(ratio "$spn_call_sudo" "$raw_pp_sudo")" "<= 1.4 x (ssh sudo cat)"
row "throughput ssh+sudo, in (MB/s)" "$spn_tput" "$raw_tput" "$(ratio "$spn_tput" "$raw_tput")" ">= 0.85 x ssh host cat"
row "throughput ssh+sudo, out (MB/s)" "$spn_tput_out" "$raw_tput_out" "$(ratio "$spn_tput_out" "$raw_tput_out")" ">= 0.85 x ssh host head"
if [ -n "$mito" ]; then
	echo
	row "vs Mitogen" spindle mitogen ratio ""
	row "ssh bootstrap to first call (ms)" "$spn_ssh" "$(mval ssh_boot_ms)" "$(ratio "$spn_ssh" "$(mval ssh_boot_ms)")" ""
	row "ping over ssh (us)" "$spn_ping" "$(mval ping_ssh_us)" "$(ratio "$spn_ping" "$(mval ping_ssh_us)")" ""
	row "ping over ssh+sudo (us)" "$spn_ping_sudo" "$(mval ping_sudo_us)" "$(ratio "$spn_ping_sudo" "$(mval ping_sudo_us)")" ""
	echo "(Mitogen's sudo hop on top of its ssh context: $(mval sudo_boot_ms) ms; spindle's ssh+sudo minus ssh: $(awk -v a="$spn_ssh_sudo" -v b="$spn_ssh" 'BEGIN { printf "%.1f", a - b }') ms)"
fi
exit 0
