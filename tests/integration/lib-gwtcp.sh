# The gateway's TCP listener for gateway-tcp.sh and gateway-limits.sh:
#	. "$(dirname "$0")/lib-gwtcp.sh"
# Sourcing it skips the test unless spindle-gateway, OpenSSH's ssh and
# ssh-keygen and Debian's python3-paramiko are there.  Everything of the
# test is its own: HOME, XDG_CONFIG_HOME (host key, known_hosts,
# authorized_keys), the daemon's runtime dir and routes file, the port.
#
# gwtcp_up "ROUTES-FILE LINES": writes them (PORT in them the port) after
# a gateway-listen line of a free port, makes keys k1 (allowlisted) and
# k2 (not) in $TMPD, spindle's known_hosts (ssh-config --install), starts the daemon (which
# starts the gateway, since it has a listener) and waits until the
# gateway listens; another port when that one was taken meanwhile.
# Sets PORT, KH (spindle's known_hosts), LOG (the daemon's log).
# gwssh ARGS...: OpenSSH's ssh at the listener with spindle's
# known_hosts, strictly, no config, agent or password prompt; 60 s.
. "$(dirname "$0")/lib.sh"
GATEWAY=${BUILDDIR:-$(dirname "$SPINDLE")}/spindle-gateway
[ -x "$GATEWAY" ] ||
    skip "spindle-gateway is not built (configure found no libssh >= 0.10)"
PY=/usr/bin/python3
"$PY" -c 'import paramiko' 2>/dev/null ||
    skip "no python3-paramiko for $PY (tools/deps installs it)"
command -v ssh >/dev/null 2>&1 || skip "OpenSSH's ssh is not installed"
command -v ssh-keygen >/dev/null 2>&1 || skip "ssh-keygen is not installed"
GWPY="$PY $(dirname "$0")/gateway-tcp.py"

export HOME="$TMPD/home" XDG_CONFIG_HOME="$TMPD/cfg"
export SPINDLE_RUNTIME_DIR="$TMPD/rt" SPINDLE_ROUTES="$TMPD/routes"
unset SSH_AUTH_SOCK SSH_AGENT_PID DISPLAY
mkdir -p "$HOME" "$XDG_CONFIG_HOME/spindle"
chmod 700 "$XDG_CONFIG_HOME/spindle"
LOG=$SPINDLE_RUNTIME_DIR/daemon.log
KH=$XDG_CONFIG_HOME/spindle/known_hosts
daemon_stop_on_exit

# secs_since T0: seconds (two decimals) since date +%s.%N said T0.
secs_since() {
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}

# gwssh_opts: ssh's options for that (no blanks in $TMPD: mktemp's).
gwssh_opts() {
	echo "-F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes" \
	    "-o UserKnownHostsFile=$KH -o GlobalKnownHostsFile=/dev/null" \
	    "-o StrictHostKeyChecking=yes -o ConnectTimeout=20 -p $PORT"
}
gwssh() {
	# shellcheck disable=SC2046
	timeout 60 ssh $(gwssh_opts) "$@"
}

# A port from the test's pid, away from the ephemeral range; the next
# one when it is taken.
_gw_port=$((20000 + $$ % 10000))
_gw_pick() {
	while [ "$($PY -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    print("free")
except OSError:
    print("taken")' "$_gw_port")" = taken ]; do
		_gw_port=$((_gw_port + 1))
	done
	PORT=$_gw_port
	_gw_port=$((_gw_port + 1))
}

gwtcp_up() {
	ssh-keygen -q -t ed25519 -N '' -C k1 -f "$TMPD/k1" </dev/null ||
	    fail "ssh-keygen"
	ssh-keygen -q -t ed25519 -N '' -C k2 -f "$TMPD/k2" </dev/null ||
	    fail "ssh-keygen"
	install -m 600 "$TMPD/k1.pub" "$XDG_CONFIG_HOME/spindle/authorized_keys"
	for _gw_try in 1 2 3; do
		_gw_pick
		printf 'gateway-listen 127.0.0.1:%s\n%s\n' "$PORT" \
		    "$(echo "$1" | sed "s/PORT/$PORT/g")" >"$SPINDLE_ROUTES"
		spn ssh-config --install >"$TMPD/out" 2>&1 ||
		    fail "ssh-config --install: $(cat "$TMPD/out")"
		grep -q "^\[127.0.0.1\]:$PORT ssh-ed25519 " "$KH" ||
		    fail "no [127.0.0.1]:$PORT line in $KH: $(cat "$KH")"
		spn daemon start >/dev/null 2>"$TMPD/err" ||
		    fail "daemon start: $(cat "$TMPD/err")"
		track "$(daemon_pid)"
		_gw_w="\]:$PORT: Address already in use"
		wait_line "$LOG" "listening on \[127.0.0.1\]:$PORT|$_gw_w" 20 ||
		    fail "the gateway does not listen: $(cat "$LOG")"
		grep -q "\]:$PORT: Address already in use" "$LOG" || return 0
		log "port $PORT taken meanwhile: another"
		timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
	done
	fail "no free port for the gateway"
}
