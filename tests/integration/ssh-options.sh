#!/bin/sh
# Per-hop ssh options (,config= ,port= ,identity= ,timeout= ,hostkey= ,o=)
# work without SPINDLE_SSH_ARGS, come before it, and bad ones are refused
# before anything runs.
. "$(dirname "$0")/lib-sshd.sh"
unset SPINDLE_SSH_ARGS
sed '/IdentityFile/d' "$SSH_CFG" >"$TMPD/cfg.noid"
chmod 644 "$TMPD/cfg.noid"

out=$(spn run "$U_A@somewhere,config=$SSH_CFG" -- id -un 2>"$TMPD/err")
check_rc "config=" 0 $? "$TMPD/err"
check "config=: user" "$U_A" "$out"

spn run "$U_A@somewhere,config=$SSH_CFG,port=1" -- true 2>"$TMPD/err"
check_rc "port= overrides the config" 255 $? "$TMPD/err"
contains "$TMPD/err" "port 1: Connection refused" ||
    fail "port=1: message: $(cat "$TMPD/err")"

out=$(spn run "$U_A@x,config=$TMPD/cfg.noid,identity=$SSHW/keys/root/id,timeout=5,hostkey=yes,o=ServerAliveInterval=30" \
    -- id -un 2>"$TMPD/err")
check_rc "identity= timeout= hostkey= o=" 0 $? "$TMPD/err"
check "identity=: user" "$U_A" "$out"

spn run "$U_A@x,config=$TMPD/cfg.noid,identity=$TMPD/none" -- true \
    2>"$TMPD/err"
check_rc "identity= a missing key" 255 $? "$TMPD/err"
contains "$TMPD/err" "Permission denied" ||
    fail "missing key: message: $(cat "$TMPD/err")"

# The hop's own -o wins over the same option in SPINDLE_SSH_ARGS.
SPINDLE_SSH_ARGS="-F $SSH_CFG -oPort=1" spn run \
    "$U_A@x,o=Port=$SSHD_PORT" -- true 2>"$TMPD/err"
check_rc "hop option before SPINDLE_SSH_ARGS" 0 $? "$TMPD/err"

spn run "$U_A@x,colour=blue" -- true 2>"$TMPD/err"
check_rc "unknown option" 2 $? "$TMPD/err"
contains "$TMPD/err" "unknown ssh hop option 'colour=blue'" ||
    fail "unknown option: message: $(cat "$TMPD/err")"
pass
