#!/bin/sh
# Keepalive: an ssh hop that stops answering (its ssh client SIGSTOPped)
# is declared dead within the interval, the run fails naming the hop, and
# everything behind it, on both sides, is gone soon after.
. "$(dirname "$0")/lib-sshd.sh"

R=$U_A@127.0.0.1+sudo=$U_W
spn_bg run --keepalive 3 "$R" -- sleep 1000 2>"$TMPD/err"
SLEEP=$(user_sleep "$U_W") || exit 1
SSHC=$(children_of "$MASTER")
[ -n "$SSHC" ] || fail "the master has no ssh child"
t0=$(date +%s)
kill -STOP $SSHC
wait "$BGPID"
rc=$?
t1=$(date +%s)
check_rc "stopped ssh" 255 "$rc" "$TMPD/err"
contains "$TMPD/err" "hop 1 ($U_A@127.0.0.1): no answer for 3 seconds (keepalive)" ||
    fail "message: $(cat "$TMPD/err")"
[ $((t1 - t0)) -le 8 ] || fail "declared dead after $((t1 - t0)) s"
# The stopped client is killed; the remote side sees its session end.
wait_gone $SSHC 5 || fail "the stopped ssh client was left behind"
wait_gone "$SLEEP" 5 || fail "the remote command outlived the hop"
no_world_procs 5 "after the keepalive failure"
pass
