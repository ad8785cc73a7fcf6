#!/bin/sh
# Bootstrap failures that need no server: a remote of another
# architecture, a prompting tool that would echo the password, and a hop
# that never answers (connect timeout).  Each
# names the hop, exits 255 and leaves nothing behind.
. "$(dirname "$0")/lib.sh"

# A "remote" whose uname -m says aarch64: stage 0 refuses, spindle says so.
mkdir "$TMPD/bin"
printf '#!/bin/sh\necho aarch64\n' >"$TMPD/bin/uname"
chmod +x "$TMPD/bin/uname"
PATH="$TMPD/bin:$PATH" spn run local+local -- echo RAN >"$TMPD/out" \
    2>"$TMPD/err"
check_rc "arch mismatch" 255 $? "$TMPD/err"
[ -s "$TMPD/out" ] && fail "arch mismatch: the command ran"
check "arch mismatch: message" \
    "spindle: hop 1 (local): remote is aarch64, this spindle carries $(uname -m) only" \
    "$(cat "$TMPD/err")"

# A prompting tool that prints its prompt before it turns echo off, as
# PAM's misc_conv (su's) does: the password we type meanwhile must not
# come back as its first line, into the error (and the daemon's log).
cat >"$TMPD/bin/su" <<'EOF2'
#!/bin/sh
printf 'Password: '
sleep 1
stty -echo
read -r x
stty echo
echo
echo "su: Authentication failure"
exit 1
EOF2
chmod +x "$TMPD/bin/su"
secret="echoed-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
printf '%s\n' "$secret" >"$TMPD/pw"
PATH="$TMPD/bin:$PATH" spn run --timeout 5 --password-file "$TMPD/pw" \
    su=nobody -- echo RAN >"$TMPD/out" 2>"$TMPD/err"
check_rc "su echo" 255 $? "$TMPD/err"
contains "$TMPD/err" "$secret" &&
    fail "su echo: the password is in the error: $(cat "$TMPD/err")"
check "su echo: message" "spindle: hop 1 (su=nobody): su: Authentication failure" \
    "$(cat "$TMPD/err")"

# An ssh hop whose connection hangs (a ProxyCommand that never speaks):
# the connect timeout ends it, and the ProxyCommand goes too.
command -v ssh >/dev/null || skip "ssh is not installed"
cat >"$TMPD/ssh_config" <<EOF2
Host hang
  ProxyCommand sleep 321
EOF2
t0=$(date +%s)
SPINDLE_SSH_ARGS="-F $TMPD/ssh_config" spn run --timeout 2 hang -- \
    echo RAN >"$TMPD/out" 2>"$TMPD/err"
check_rc "connect timeout" 255 $? "$TMPD/err"
t1=$(date +%s)
check "connect timeout: message" \
    "spindle: hop 1 (hang): no answer within 2 s (connect timeout)" \
    "$(cat "$TMPD/err")"
# Generous: under the sanitizers on a loaded machine it took 6 s once;
# without the timeout it would take the ProxyCommand's 321 s.
[ $((t1 - t0)) -le 15 ] || fail "connect timeout took $((t1 - t0)) s"
sleep 0.5
pgrep -f "^sleep 321" >/dev/null && fail "the ProxyCommand was left behind"

# What ssh passes on from the far end is bounded: a megabyte on one line
# and a flood of others cost a few lines' memory, and the message is
# ssh's last word (its verdict), not the far end's first.
cat >"$TMPD/flood" <<'EOF2'
echo "Banner: you have been denied" >&2
head -c 1000000 /dev/zero | tr '\0' x >&2
echo >&2
i=0
while [ $i -lt 2000 ]; do echo "chatter $i" >&2; i=$((i + 1)); done
exit 1
EOF2
cat >"$TMPD/ssh_config" <<EOF2
Host flood
  ProxyCommand sh $TMPD/flood
EOF2
SPINDLE_SSH_ARGS="-F $TMPD/ssh_config" spn run flood -- echo RAN \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "stderr flood" 255 $? "$TMPD/err"
check "stderr flood: message" \
    "spindle: hop 1 (flood): kex_exchange_identification: Connection closed by remote host" \
    "$(cat "$TMPD/err")"
pass
