#!/bin/sh
# The gateway's setup and lifecycle, with OpenSSH's own ssh: `spindle
# ssh-config` (the block, the pin written with the key) and --install
# (idempotent, the Include line first, modes kept), the first ssh with
# no prompt and known_hosts untouched, `gateway connect` with stdout a
# pipe (the relay), a gateway killed with -9 started again by the next
# ssh, the gateway's log lines in the daemon's log, clients of a stopped
# gateway bounded, a host key readable by others (or in a directory
# others may write, or a link) refused (ssh, the daemon's log, `gateway
# status`), `gateway rekey` (a new fingerprint, ssh refuses it until
# --install pins it), `gateway authorize`, `known-hosts`, and a TCP
# listener's gateway started with the daemon and again after kill -9.
. "$(dirname "$0")/lib.sh"
GATEWAY=$(dirname "$SPINDLE")/spindle-gateway
[ -x "$GATEWAY" ] ||
    skip "no spindle-gateway built (configure found no libssh >= 0.10)"
command -v ssh >/dev/null || skip "no OpenSSH client (ssh)"
command -v ssh-keygen >/dev/null || skip "no ssh-keygen"
T0=$(date +%s)
# Everything of ours under $TMPD: --install writes ~/.ssh/config.
export HOME="$TMPD/home"
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
export XDG_CONFIG_HOME="$TMPD/config"
mkdir -p "$HOME"
daemon_stop_on_exit
CFG=$XDG_CONFIG_HOME/spindle
KEY=$CFG/gateway/ssh_host_ed25519_key
KH=$CFG/known_hosts

mode() {
	stat -c %a "$1"
}
# S ARGS...: ssh through a config, never asking anything.
S() {
	timeout 30 ssh -F "$SSHCFG" -o BatchMode=yes "$@"
}
# The gateway's pid, as `spindle gateway status` says it.
gw_pid() {
	"$SPINDLE" gateway status 2>/dev/null |
	    sed -n 's/^gateway: running, pid \([0-9]*\).*/\1/p'
}
gw_fp() {
	"$SPINDLE" gateway status 2>/dev/null | sed -n 's/^fingerprint: //p'
}

# The block: this spindle, spindle's own pinned known_hosts, strict.
spn ssh-config >"$TMPD/block" 2>"$TMPD/err"
check_rc "ssh-config" 0 $? "$TMPD/err"
for l in "Host spindle *.spindle" \
    "    ProxyCommand $SPINDLE gateway connect %n" \
    "    ProxyUseFdpass yes" "    HostKeyAlias spindle-gateway" \
    "    UserKnownHostsFile $KH" "    StrictHostKeyChecking yes" \
    "    CheckHostIP no"; do
	grep -qxF -- "$l" "$TMPD/block" ||
	    fail "ssh-config: no line '$l': $(cat "$TMPD/block")"
done
grep -qiE "StrictHostKeyChecking +no|/dev/null" "$TMPD/block" &&
    fail "ssh-config turns host key checking off"
# The pin it names is there, with the key it pins (made now).
check "key mode" 600 "$(mode "$KEY")"
check "key dir mode" 700 "$(mode "$CFG/gateway")"
check "known_hosts mode" 600 "$(mode "$KH")"
check "known_hosts" "spindle-gateway $(cut -d' ' -f1-2 "$KEY.pub")" \
    "$(cat "$KH")"
FP=$(ssh-keygen -lf "$KEY.pub")
check "key fingerprint as ssh-keygen -lf" "$FP" \
    "$("$GATEWAY" key fingerprint)"
check "status fingerprint" "$FP" "$(gw_fp)"

# --install: the block, the pin, Include first in ~/.ssh/config (made
# 0700/0600 when missing; an existing one keeps its other lines and its
# mode).
mkdir -m 700 "$HOME/.ssh"
# An Include of ours already there, but not first: moved.
printf 'Host other\n    User nobody\ninclude = "%s"\n' "$CFG/ssh_config" \
    >"$HOME/.ssh/config"
chmod 640 "$HOME/.ssh/config"
spn ssh-config --install >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh-config --install" 0 $? "$TMPD/err"
cmp -s "$TMPD/block" "$CFG/ssh_config" ||
    fail "--install: ssh_config is not the block printed"
check "Include first" "Include $CFG/ssh_config" \
    "$(head -n 1 "$HOME/.ssh/config")"
check "~/.ssh/config kept" "Host other
    User nobody" "$(tail -n +2 "$HOME/.ssh/config")"
check "~/.ssh/config mode kept" 640 "$(mode "$HOME/.ssh/config")"
contains "$TMPD/out" "$HOME/.ssh/config" ||
    fail "--install does not say what it did: $(cat "$TMPD/out")"
SUMS=$(cat "$CFG/ssh_config" "$KH" "$HOME/.ssh/config" | cksum)
spn ssh-config --install >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh-config --install again" 0 $? "$TMPD/err"
check "--install again changes nothing" "$SUMS" \
    "$(cat "$CFG/ssh_config" "$KH" "$HOME/.ssh/config" | cksum)"
check "--install again says so" 3 "$(grep -c "up to date\|already" \
    "$TMPD/out")"

# The first ssh, through ~/.ssh/config as installed: no prompt (batch
# mode would fail), known_hosts untouched.
SSHCFG=$HOME/.ssh/config
KHSUM=$(cksum <"$KH")
S local.spindle 'echo first' </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "first ssh local.spindle" 0 $? "$TMPD/err"
check "first ssh" first "$(cat "$TMPD/out")"
check "known_hosts untouched" "$KHSUM" "$(cksum <"$KH")"

# ProxyCommand without fd passing: stdout is a pipe, connect relays,
# both ways, and ends with ssh.
head -c 1048576 /dev/urandom >"$TMPD/blob"
S -o ProxyUseFdpass=no local.spindle cat <"$TMPD/blob" >"$TMPD/back" \
    2>"$TMPD/err"
check_rc "relay" 0 $? "$TMPD/err"
cmp -s "$TMPD/blob" "$TMPD/back" || fail "relay: 1 MiB came back changed"
# And by hand: with stdout a pipe, no fd passing is tried.
printf 'SSH-2.0-spn_test\r\n' |
    timeout 10 "$SPINDLE" gateway connect local.spindle 2>"$TMPD/err" |
    head -c 8 >"$TMPD/out"
check "connect through a pipe: the banner" "SSH-2.0-" "$(cat "$TMPD/out")"

# kill -9 of the gateway: the next ssh starts another.
PID=$(gw_pid)
[ -n "$PID" ] || fail "gateway status: not running: $("$SPINDLE" \
    gateway status 2>&1)"
kill -9 "$PID"
wait_gone "$PID" 10 || fail "the gateway survived kill -9"
S local.spindle 'echo again' </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh after kill -9" 0 $? "$TMPD/err"
check "ssh after kill -9" again "$(cat "$TMPD/out")"
NEW=$(gw_pid)
[ -n "$NEW" ] && [ "$NEW" != "$PID" ] ||
    fail "no new gateway after kill -9 (was $PID, now '$NEW')"
"$SPINDLE" daemon log >"$TMPD/log" 2>&1
contains "$TMPD/log" "gateway (pid $PID) killed by signal 9" ||
    contains "$TMPD/log" "gateway (pid $PID)" ||
    fail "daemon log: nothing about gateway $PID's death"
# The gateway's own lines come through the daemon: stamped, each one.
grep -q "^gateway: " "$TMPD/log" &&
    fail "daemon log: gateway lines not the log's: $(grep "^gateway: " \
    "$TMPD/log" | head -n 3)"
grep -Eq "^[-0-9]+T[0-9:.]+Z spindle\[[0-9]+\]: [a-z]+: gateway: " \
    "$TMPD/log" || fail "daemon log: no gateway line"

# A gateway that reads nothing (stopped): what waits for it is bounded;
# past that, clients are refused, and the daemon still answers.
PID=$(gw_pid)
kill -STOP "$PID"
python3 - "$SPINDLE_RUNTIME_DIR/sock" 5000 >"$TMPD/flood" 2>&1 <<'PY'
import socket, struct, sys
def u32(v): return struct.pack(">I", v)
def frame(t, body): return u32(8 + len(body)) + u32(t) + u32(1) + body
def reply(c):
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        b = c.recv(65536)
        if not b:
            return None, ""
        buf += b
    t = struct.unpack(">I", buf[4:8])[0]
    n = struct.unpack(">I", buf[12:16])[0] if len(buf) >= 16 else 0
    return t, buf[16:16 + n].decode(errors="replace")
name = b"flood.spindle"
ok, refused, other = 0, {}, {}
# Until 20 are refused: how many the link's buffer takes depends on
# the kernel's settings.
for i in range(int(sys.argv[2])):
    if sum(refused.values()) >= 20:
        break
    c = socket.socket(socket.AF_UNIX)
    c.connect(sys.argv[1])
    a, b = socket.socketpair()
    c.sendall(frame(1, u32(2)))
    reply(c)
    c.sendmsg([frame(23, u32(len(name)) + name)],
              [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", b.fileno()))])
    b.close()
    a.close()
    t, text = reply(c)
    c.close()
    if t == 3:      # OK
        ok += 1
    elif t == 2:
        refused[text] = refused.get(text, 0) + 1
    else:
        other[t] = other.get(t, 0) + 1
print("ok %d refused %s other %s" % (ok, refused, other))
PY
kill -9 "$PID"
log "connections to a stopped gateway: $(cat "$TMPD/flood")"
contains "$TMPD/flood" "'gateway: too many connections waiting for it; try again later'" ||
    fail "no refusal past the queue: $(cat "$TMPD/flood")"
contains "$TMPD/flood" "other {}" || fail "flood: $(cat "$TMPD/flood")"
S local.spindle 'echo after-flood' </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh after the flood" 0 $? "$TMPD/err"
check "ssh after the flood" after-flood "$(cat "$TMPD/out")"

# A host key others may read: refused, said by ssh (the ProxyCommand's
# stderr), the daemon's log and `gateway status`.
chmod 644 "$KEY"
S local.spindle true </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh with a 0644 host key" 255 $? "$TMPD/err"
contains "$TMPD/err" "host key $KEY is accessible by others" ||
    fail "ssh with a 0644 key: $(cat "$TMPD/err")"
contains "$TMPD/err" "chmod 600 $KEY" ||
    fail "ssh with a 0644 key: no fix said: $(cat "$TMPD/err")"
"$SPINDLE" daemon log >"$TMPD/log" 2>&1
contains "$TMPD/log" "host key $KEY is accessible by others" ||
    fail "daemon log: no refusal of the 0644 key"
"$SPINDLE" gateway status >"$TMPD/out" 2>&1
check_rc "gateway status with a 0644 key" 1 $? "$TMPD/out"
contains "$TMPD/out" "host key $KEY is accessible by others" ||
    fail "gateway status with a 0644 key: $(cat "$TMPD/out")"
chmod 600 "$KEY"
S local.spindle true </dev/null 2>"$TMPD/err"
check_rc "ssh with the key 0600 again" 0 $? "$TMPD/err"
# Its directory writable by others: the key could be replaced.
chmod 770 "$CFG/gateway"
S local.spindle true </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh with a 0770 key directory" 255 $? "$TMPD/err"
contains "$TMPD/err" "chmod 700 $CFG/gateway" ||
    fail "ssh with a 0770 key directory: $(cat "$TMPD/err")"
chmod 700 "$CFG/gateway"
# A link in the key's place is not followed.
mv "$KEY" "$KEY.real"
ln -s "$KEY.real" "$KEY"
S local.spindle true </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh with the key a symbolic link" 255 $? "$TMPD/err"
contains "$TMPD/err" "symbolic link" ||
    fail "ssh with the key a symbolic link: $(cat "$TMPD/err")"
rm "$KEY"
mv "$KEY.real" "$KEY"

# rekey: a new fingerprint; ssh refuses it (the pin is the old key) and
# leaves the pin alone; --install pins the new one.
spn gateway rekey >"$TMPD/out" 2>"$TMPD/err"
check_rc "gateway rekey" 0 $? "$TMPD/err"
contains "$TMPD/out" "ssh-config --install" ||
    fail "rekey does not say how to pin the key: $(cat "$TMPD/out")"
FP2=$(gw_fp)
[ -n "$FP2" ] && [ "$FP2" != "$FP" ] ||
    fail "rekey: fingerprint '$FP' -> '$FP2'"
check "rekey: the .pub too" "$FP2" "$(ssh-keygen -lf "$KEY.pub")"
KHSUM=$(cksum <"$KH")
S local.spindle true </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh after rekey" 255 $? "$TMPD/err"
contains "$TMPD/err" "Host key verification failed" ||
    fail "ssh after rekey: $(cat "$TMPD/err")"
check "ssh after rekey: known_hosts untouched" "$KHSUM" "$(cksum <"$KH")"
spn ssh-config --install >"$TMPD/out" 2>"$TMPD/err"
check_rc "--install after rekey" 0 $? "$TMPD/err"
S local.spindle 'echo rekeyed' </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "ssh after rekey and --install" 0 $? "$TMPD/err"
check "ssh after rekey and --install" rekeyed "$(cat "$TMPD/out")"

# authorize: validated, added once, 0600.
ssh-keygen -q -t ed25519 -N '' -C spn-test -f "$TMPD/id" </dev/null ||
    fail "ssh-keygen"
spn gateway authorize "$TMPD/id.pub" >"$TMPD/out" 2>"$TMPD/err"
check_rc "authorize" 0 $? "$TMPD/err"
spn gateway authorize "$TMPD/id.pub" >"$TMPD/out" 2>"$TMPD/err"
check_rc "authorize again" 0 $? "$TMPD/err"
check "authorized_keys mode" 600 "$(mode "$CFG/authorized_keys")"
check "authorized once" 1 "$(grep -c "$(cut -d' ' -f2 "$TMPD/id.pub")" \
    "$CFG/authorized_keys")"
printf 'ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x\n' >"$TMPD/bad.pub"
spn gateway authorize "$TMPD/bad.pub" >"$TMPD/out" 2>"$TMPD/err"
check_rc "authorize a bad key" 1 $? "$TMPD/err"
contains "$TMPD/err" "not a ssh-ed25519 key" ||
    fail "authorize a bad key: $(cat "$TMPD/err")"

# known-hosts: the alias, and each TCP listener of the routes file.
PORT=$((20000 + $$ % 20000))
printf 'gateway-listen 127.0.0.1:%s\n' "$PORT" >"$CFG/routes"
if "$SPINDLE" ls >/dev/null 2>&1; then
	spn gateway known-hosts >"$TMPD/out" 2>"$TMPD/err"
	check_rc "known-hosts" 0 $? "$TMPD/err"
	K=$(cut -d' ' -f1-2 "$KEY.pub")
	check "known-hosts" "spindle-gateway $K
[127.0.0.1]:$PORT $K" "$(cat "$TMPD/out")"
	# A listener to keep: the gateway starts with the daemon, and
	# again at once (no client asking) after it was killed.
	"$SPINDLE" daemon stop >/dev/null 2>&1
	spn daemon start >/dev/null 2>"$TMPD/err" ||
	    fail "daemon start: $(cat "$TMPD/err")"
	i=0
	until PID=$(gw_pid) && [ -n "$PID" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "no gateway started with the daemon"
		sleep 0.1
	done
	kill -9 "$PID"
	t=$(date +%s)
	i=0
	until NEW=$(gw_pid) && [ -n "$NEW" ] && [ "$NEW" != "$PID" ]; do
		i=$((i + 1))
		[ $i -lt 150 ] || fail "gateway not restarted after kill -9"
		sleep 0.1
	done
	log "a listener's gateway: restarted $(($(date +%s) - t)) s after kill -9"
else
	log "routes file without gateway-listen yet: known-hosts' listener lines not tested"
fi
rm -f "$CFG/routes"

log "measured: $(($(date +%s) - T0)) s"
pass
