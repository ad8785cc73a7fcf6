#!/bin/sh
# The SSH gateway moves bulk data intact and in bounded memory: 256 MiB
# each way through `ssh local.spindle` (OpenSSH with spindle's own
# ssh_config block, the daemon's socket, no port), checked with sha256,
# the gateway's VmHWM under 64 MiB; then 16 MiB each way with
# RekeyLimit=2M, so that keys are re-exchanged mid-transfer while the
# gateway writes (libssh takes 0 bytes then: GATEWAY.md R6) -- nothing
# may be lost or doubled.
. "$(dirname "$0")/lib.sh"
T0=$(date +%s.%N)
# A daemon, a gateway, a host key and a known_hosts of this test's own.
. "$(dirname "$0")/lib-gateway.sh"
command -v sha256sum >/dev/null 2>&1 || skip "sha256sum is not installed"
command -v openssl >/dev/null 2>&1 || skip "openssl is not installed"

# gssh ARGS...: gw_ssh with time for 256 MiB on a loaded machine.
gssh() {
	timeout -k 3 120 ssh -F "$SSHCFG" -o BatchMode=yes "$@"
}

# hwm: the gateway's VmHWM in kB.
hwm() {
	_g=$("$SPINDLE" gateway status 2>/dev/null |
	    sed -n 's/^gateway: running, pid \([0-9]*\).*/\1/p')
	[ -n "$_g" ] || fail "no gateway running"
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$_g/status"
}

now() {
	date +%s.%N
}

took() {	# START: seconds since, two decimals
	echo "$(now) $1" | awk '{ printf "%.2f", $1 - $2 }'
}

# Random-looking bytes, cheaply: a reordered or doubled chunk shows.
openssl enc -aes-128-ctr -pass pass:spindle -nosalt -pbkdf2 \
    </dev/zero 2>/dev/null | head -c 268435456 >"$TMPD/data"
[ "$(wc -c <"$TMPD/data")" = 268435456 ] || fail "could not make test data"
# want SIZE: the sha256 of the data's first SIZE bytes, computed once.
want() {
	[ -f "$TMPD/sha-$1" ] ||
	    head -c "$1" "$TMPD/data" | sha256sum | cut -d' ' -f1 \
	    >"$TMPD/sha-$1"
	cat "$TMPD/sha-$1"
}

out=$(gssh local.spindle 'echo ready') || fail "first connection: $out"
[ "$out" = ready ] || fail "first connection said '$out'"

# down SIZE LABEL SSHOPTS...: SIZE bytes of the data from the far side.
down() {
	_n=$1 _l=$2
	shift 2
	_t=$(now)
	# Into a file: into a pipe OpenSSH's client itself spends 4x the
	# time copying its output buffer (perf; docs/architecture.md,
	# The SSH gateway, Measured).
	gssh "$@" local.spindle "head -c $_n '$TMPD/data'" \
	    >"$TMPD/got" 2>"$TMPD/err-$_l-down"
	_got=$(sha256sum <"$TMPD/got" | cut -d' ' -f1)
	rm -f "$TMPD/got"
	_want=$(want "$_n")
	[ "$_got" = "$_want" ] || fail "$_l download: sha256 $_got, want" \
	    "$_want: $(tail -n 3 "$TMPD/err-$_l-down")"
	log "$_l download: $(($_n / 1048576)) MiB intact in $(took "$_t") s"
}

# up SIZE LABEL SSHOPTS...: SIZE bytes of the data to the far side.
up() {
	_n=$1 _l=$2
	shift 2
	_t=$(now)
	_got=$(head -c "$_n" "$TMPD/data" |
	    gssh "$@" local.spindle 'sha256sum' 2>"$TMPD/err-$_l-up" |
	    cut -d' ' -f1)
	_want=$(want "$_n")
	[ "$_got" = "$_want" ] || fail "$_l upload: sha256 $_got, want" \
	    "$_want: $(tail -n 3 "$TMPD/err-$_l-up")"
	log "$_l upload: $(($_n / 1048576)) MiB intact in $(took "$_t") s"
}

down 268435456 plain
h=$(hwm)
log "gateway VmHWM after the download: $h kB"
up 268435456 plain
h=$(hwm)
log "gateway VmHWM after the upload: $h kB"
[ "$h" -lt 65536 ] || fail "gateway VmHWM $h kB, want < 64 MiB"

# Rekeys mid-transfer: ssh -v says each KEXINIT it sends.
down 16777216 rekeying -v -o RekeyLimit=2M
n=$(grep -c 'SSH2_MSG_KEXINIT sent' "$TMPD/err-rekeying-down")
log "rekeying download: $n key exchanges"
[ "$n" -ge 4 ] || fail "only $n key exchanges during the download"
up 16777216 rekeying -v -o RekeyLimit=2M
n=$(grep -c 'SSH2_MSG_KEXINIT sent' "$TMPD/err-rekeying-up")
log "rekeying upload: $n key exchanges"
[ "$n" -ge 4 ] || fail "only $n key exchanges during the upload"
h=$(hwm)
log "gateway VmHWM at the end: $h kB"
[ "$h" -lt 65536 ] || fail "gateway VmHWM $h kB, want < 64 MiB"

log "took $(took "$T0") s in all"
pass
