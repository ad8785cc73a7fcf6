#!/bin/sh
# The SSH gateway's session channels with OpenSSH's own ssh, through
# `spindle ssh-config`'s block (ProxyCommand spindle gateway connect,
# the host key pinned): stdout and stderr apart, the exit status, stdin's
# EOF, a killed command (exit-signal, 255), env (LANG and LC_* taken,
# others not), a failed route told on stderr with 255, routes as host
# aliases and as the user name, the sftp subsystem (another refused), a
# signal request (paramiko), never a prompt, spindle's known_hosts
# untouched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-gateway.sh"
command -v sftp >/dev/null || skip "no OpenSSH client (sftp)"
T0=$(date +%s)
contains "$SSHCFG" "ProxyUseFdpass yes" ||
    fail "ssh-config: no fdpass: $(cat "$SSHCFG")"
grep -qi "StrictHostKeyChecking *no" "$SSHCFG" &&
    fail "ssh-config turns host key checking off"
S() {
	gw_ssh "$@"
}

# The first connection makes the host key and pins it: no prompt.
S local.spindle true </dev/null 2>"$TMPD/err"
check_rc "first connection" 0 $? "$TMPD/err"
KH=$(sed -n 's/^ *UserKnownHostsFile *//p' "$SSHCFG" | head -1)
case $KH in "~/"*) KH=$(getent passwd "$(id -un)" | cut -d: -f6)/${KH#"~/"} ;; esac
[ -s "$KH" ] || fail "no pinned known_hosts at '$KH'"
KHSUM=$(cksum <"$KH")

# stdout and stderr apart, the exit status.
S local.spindle 'id -un; echo to-stderr >&2; exit 3' </dev/null \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "exit 3" 3 $? "$TMPD/err"
check "stdout" "$(id -un)" "$(cat "$TMPD/out")"
check "stderr" "to-stderr" "$(cat "$TMPD/err")"

# stdin, and its EOF.
check "stdin to wc" 2 "$(printf 'a\nb\n' | S local.spindle 'wc -l' |
    tr -d ' ')"
check "stdin empty" 0 "$(S local.spindle 'wc -c' </dev/null | tr -d ' ')"

# A killed command: exit-signal (ssh -v shows it), and ssh's 255.
S -v local.spindle 'kill -TERM $$' </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "killed command" 255 $? "$TMPD/err"
contains "$TMPD/err" "rtype exit-signal" ||
    fail "no exit-signal for a killed command: $(grep -v debug "$TMPD/err")"
grep '^spindle:' "$TMPD/err" &&
    fail "a killed command made spindle speak"

# env: LANG and LC_* (as Debian's sshd AcceptEnv), nothing else.
LANG=spn-lang-$$ LC_SPNTEST=lc-$$ SPNFOO=foo-$$ S \
    -o SendEnv='LANG LC_SPNTEST SPNFOO' local.spindle \
    'echo "$LANG ${LC_SPNTEST-unset} ${SPNFOO-unset}"' </dev/null \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "SendEnv" 0 $? "$TMPD/err"
check "SendEnv: LANG, LC_* taken, others not" "spn-lang-$$ lc-$$ unset" \
    "$(cat "$TMPD/out")"
S -o SetEnv="LC_SPNSET=set-$$ PATH=/nowhere" local.spindle \
    'echo "$LC_SPNSET $PATH"' </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "SetEnv" 0 $? "$TMPD/err"
case $(cat "$TMPD/out") in
"set-$$ /nowhere") fail "SetEnv PATH was taken" ;;
"set-$$ "*) ;;
*) fail "SetEnv: got '$(cat "$TMPD/out")'" ;;
esac

# A route that fails: the hop's words on stderr, 255, nothing run.
S -l '127.0.0.1,port=1' spindle 'echo RAN' </dev/null \
    >"$TMPD/out" 2>"$TMPD/err"
check_rc "failed route" 255 $? "$TMPD/err"
grep -q '^spindle: hop 1 ' "$TMPD/err" ||
    fail "failed route: no 'spindle: hop 1': $(cat "$TMPD/err")"
[ -s "$TMPD/out" ] && fail "failed route ran something: $(cat "$TMPD/out")"

# Routes as the user name and as host aliases.
check "-l route" "ok" \
    "$(S -l 'local+local' spindle 'echo ok' </dev/null 2>"$TMPD/err")"
check "route.spindle" "ok" \
    "$(S 'local+local.spindle' 'echo ok' </dev/null 2>"$TMPD/err")"

# The sftp subsystem (the far side's sftp-server); any other refused.
echo "sftp-data-$$" >"$TMPD/src"
printf 'get %s %s\npwd\n' "$TMPD/src" "$TMPD/got" >"$TMPD/batch"
timeout 30 sftp -F "$SSHCFG" -o BatchMode=yes -b "$TMPD/batch" \
    local.spindle >"$TMPD/out" 2>"$TMPD/err"
check_rc "sftp -b" 0 $? "$TMPD/err"
cmp -s "$TMPD/src" "$TMPD/got" || fail "sftp get: not the same file"
S -s local.spindle nosuch </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "subsystem nosuch" 255 $? "$TMPD/err"
contains "$TMPD/err" "subsystem request failed" ||
    fail "subsystem nosuch: $(cat "$TMPD/err")"

# A signal request (OpenSSH's ssh sends none; paramiko can, by hand)
# reaches the command: its TERM trap's output and status come back.
PY=
for p in /usr/bin/python3 python3; do
	"$p" -c 'import paramiko' 2>/dev/null && { PY=$p; break; }
done
if [ -n "$PY" ]; then
	cat >"$TMPD/gw-signal.py" <<'EOF'
import sys, paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST
spindle, kh = sys.argv[1], sys.argv[2]
t = paramiko.Transport(paramiko.ProxyCommand(spindle +
    " gateway connect local.spindle"))
t.start_client(timeout=20)
if not paramiko.HostKeys(kh).check("spindle-gateway",
        t.get_remote_server_key()):
    sys.exit("not the pinned host key")
t.auth_none("any")
ch = t.open_session()
ch.settimeout(20)
ch.exec_command("trap 'echo got-term; exit 7' TERM; echo ready; "
    "while :; do sleep 0.1; done")
f = ch.makefile("r")
if f.readline().strip() != "ready":
    sys.exit("the command did not start")
m = paramiko.Message()
m.add_byte(cMSG_CHANNEL_REQUEST)
m.add_int(ch.remote_chanid)
m.add_string("signal")
m.add_boolean(False)
m.add_string("TERM")
t._send_user_message(m)
print(f.readline().strip(), ch.recv_exit_status())
t.close()
EOF
	timeout 60 "$PY" "$TMPD/gw-signal.py" "$SPINDLE" "$KH" >"$TMPD/out" \
	    2>"$TMPD/err"
	check_rc "paramiko signal" 0 $? "$TMPD/err"
	check "signal TERM reached the command" "got-term 7" "$(cat "$TMPD/out")"
else
	log "no python3 with paramiko: the signal request is not tried"
fi

# No prompt, no new key: the pinned file is as it was.
check "known_hosts untouched" "$KHSUM" "$(cksum <"$KH")"
log "took $(($(date +%s) - T0)) s"
pass
