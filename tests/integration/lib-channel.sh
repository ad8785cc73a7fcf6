#!/bin/sh
# Channels (issue 10 point 2, LIBRARY.md §9 B9), run by tests/lib/channel
# over local routes; each case leaves nothing running:
#
#   order     values in order, then SPN_ECLOSED: from an export, from four
#             of its threads, from the master to a context's receiver, and
#             from the master's export to the receiver of its caller
#   bulk      1 GiB through a channel over local and local+local, with
#             the VmHWM of every process of ours under 64 MiB
#   slow      a receiver that does not read stops the sender after one
#             window; read slowly, the sender's RSS stays flat
#   close     closing the receiver ends a remote spn_send loop with
#             SPN_ECLOSED within 1 s (blocked for credit, or sending)
#   third     a context that is not the receiver's peer cannot send to it
#   lost      the peer's death: SPN_ELOST for the receiver and the sender
. "$(dirname "$0")/lib.sh"

lib_prog tests/lib/channel
CHAN=$PROG
# Under a sanitizer (tools/sanitize) the master is the sanitized glibc
# build, its contexts the static one (CHAN_IMAGE: spn_opts.image).
if sanitized || [ -n "${TSAN_OPTIONS:-}" ]; then
	CHAN_IMAGE=$CHAN
	CHAN=${BUILDDIR:-$(dirname "$SPINDLE")}/tests/lib/channel-glibc
	[ -x "$CHAN" ] || fail "$CHAN is not built"
	export CHAN_IMAGE
	MB=64
fi
failed=""
start=$(date +%s)

case_() {
	lib_case "$CHAN" "$@"
}

case_ order local
case_ order local+local
# A sanitized master is slow and its RSS says nothing (its VmHWM is not
# checked): 64 MiB there.
case_ bulk local "${MB:-1024}"
case_ bulk local+local "${MB:-1024}"
case_ slow local
case_ close local
case_ close local+local
case_ third local
case_ lost local

log "took $(($(date +%s) - start)) s"
[ -z "$failed" ] || fail "cases failed:$failed"
pass
