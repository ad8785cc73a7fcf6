# A private ssh world for the ssh and sudo hop tests; each test sources
# this instead of lib.sh (it sources lib.sh itself):
#	. "$(dirname "$0")/lib-sshd.sh"
#
# Needs root (else the test is skipped).  It creates, with names unique to
# this run (tests run in parallel under make -j check), and removes on
# exit whether the test passed or not:
#
#   $U_A  main user (bash), key auth, may sudo to $U_W without a password
#   $U_B  second user (/bin/sh), key auth, for ssh inside ssh; may sudo to
#         $U_W without a password
#   $U_O  key auth, no sudo rights at all
#   $U_N  key auth, login shell /usr/sbin/nologin
#   $U_W  the "webapp" user: no authorized key (ssh to it is refused)
#   an sshd on 127.0.0.1:$SSHD_PORT (UsePAM no, keys only, a throwaway
#   ed25519 host key, AllowUsers only the users above), its log $SSHD_LOG
#   $SSH_CFG      an ssh_config for -F: Port, IdentityFile, known_hosts
#   $SPINDLE_SSH_ARGS="-F $SSH_CFG", exported: every ssh hop uses it,
#                 the inner ones included (they run ssh as a test user)
#   /etc/sudoers.d/spn-$SFX
#
# Users' locked passwords are '*', not '!': with UsePAM no, OpenSSH refuses
# even key auth to an account locked with '!'.
#
# The world lives in $SSHW, a directory every test user can read.  Each
# user (and root, for the master's ssh) has its own copy of the client key,
# $SSHW/keys/USER/id (0700/0600, owned by that user: ssh refuses a key
# others can read), which the config selects with IdentityFile
# .../keys/%u/id (%u: the local user running ssh).  The known_hosts file is
# written here with the host key, so StrictHostKeyChecking is yes and ssh
# never writes to it.

. "${SPN_TESTLIB:-$(dirname "$0")}/lib.sh"

[ "$(id -u)" = 0 ] ||
    skip "needs root (creates users, an sshd and sudoers rules)"
for _c in /usr/sbin/sshd ssh ssh-keygen sudo visudo useradd userdel \
    usermod ss; do
	command -v "$_c" >/dev/null 2>&1 || skip "$_c is not installed"
done
[ -d /etc/sudoers.d ] && grep -q '^[@#]includedir /etc/sudoers.d' \
    /etc/sudoers 2>/dev/null ||
    skip "/etc/sudoers does not include /etc/sudoers.d"
[ -x /usr/sbin/nologin ] || skip "no /usr/sbin/nologin"

SSHW=""
SSHD_PID=""
SUDOERS=""
_sshd_users=""

# ps_user USER: pids of that user's processes (real or effective uid).
ps_user() {
	{
		ps -o pid= -U "$1" 2>/dev/null
		ps -o pid= -u "$1" 2>/dev/null
	} | sort -u | awk '{ print $1 }'
}

# sshd_sessions: the sshd processes serving connections (children of the
# listener, and theirs), one pid a line.
# user_sleep USER: the pid of USER's `sleep 1000`, waiting up to 15 s;
# fails the test (with spindle's stderr, $TMPD/err) if none appears.
user_sleep() {
	_t=150
	_sl=""
	while [ "$_t" -gt 0 ] && [ -z "$_sl" ]; do
		_sl=$(ps -o pid= -o args= -u "$1" |
		    awk '$2 == "sleep" && $3 == "1000" { print $1 }')
		[ -n "$_sl" ] || sleep 0.1
		_t=$((_t - 1))
	done
	[ -n "$_sl" ] || fail "no sleep 1000 of $1 after 15 s: $(cat "$TMPD/err")"
	echo "$_sl"
}

# remote_files USER...: what sessions as those users could leave on the
# remote: the files they own in the usual temporary places, and everything
# in their homes (name, size, time).
remote_files() {
	for _u in "$@"; do
		find /tmp /var/tmp /dev/shm /run/user -xdev -path "$SSHW" \
		    -prune -o -user "$_u" -print 2>/dev/null | LC_ALL=C sort
		echo "--- home of $_u"
		(cd "$SSHW/home/$_u" && find . -xdev -printf '%p %s %T@\n') |
		    LC_ALL=C sort
	done
}

# remote_files_kept BEFORE WHAT USER...: fail if remote_files USER...
# differs from what BEFORE holds (remote_files USER... >BEFORE earlier).
remote_files_kept() {
	_rb=$1 _rw=$2
	shift 2
	remote_files "$@" >"$_rb.after"
	if ! cmp -s "$_rb" "$_rb.after"; then
		diff "$_rb" "$_rb.after" | sed 's/^/  /' >&2
		fail "$_rw left files on the remote (above)"
	fi
}

sshd_sessions() {
	[ -n "$SSHD_PID" ] || return 0
	descendants "$SSHD_PID" "$SSHD_PID"
}

# world_procs: every process of this world: the test users', sshd's
# sessions, and any process whose argv names the world directory (the
# ssh clients, which get -F $SSH_CFG).  One "PID ARGS" a line.
world_procs() {
	_wp=$(
		for _u in $_sshd_users; do
			ps_user "$_u"
		done
		sshd_sessions
		[ -n "$SSHW" ] && ps -e -o pid= -o args= |
		    awk -v w="$SSHW" 'index($0, w) { print $1 }'
	)
	for _p in $(echo "$_wp" | sort -u); do
		[ "$_p" = "$$" ] || [ "$_p" = "$SSHD_PID" ] && continue
		alive "$_p" && echo "$_p $(args_of "$_p")"
	done
	return 0
}

# no_world_procs SECS WHAT: fail if something of this world (but the
# listener) is still running after SECS.
no_world_procs() {
	_t=$(($1 * 10))
	while :; do
		_left=$(world_procs)
		[ -z "$_left" ] && return 0
		[ "$_t" -le 0 ] && break
		_t=$((_t - 1))
		sleep 0.1
	done
	echo "$_left" | sed 's/^/  left: /' >&2
	fail "$2: processes left behind ${1}s later"
}

_sshd_cleanup() {
	_src=$?
	# What the test users run, the sessions, the ssh clients, sshd.
	for _i in 1 2 3 4 5; do
		_l=$(world_procs | awk '{ print $1 }')
		[ -n "$SSHD_PID" ] && alive "$SSHD_PID" && _l="$_l $SSHD_PID"
		[ -z "$(echo $_l)" ] && break
		for _p in $_l; do
			kill -KILL "$_p" 2>/dev/null
		done
		sleep 0.2
	done
	[ -n "$SUDOERS" ] && rm -f "$SUDOERS" "$SUDOERS.tmp"
	for _u in $_sshd_users; do
		userdel -f "$_u" >/dev/null 2>&1 ||
		    echo "$TEST: could not remove user $_u" >&2
		getent group "$_u" >/dev/null 2>&1 &&
		    groupdel "$_u" >/dev/null 2>&1
	done
	[ -n "$SSHW" ] && rm -rf "$SSHW"
	(exit "$_src")
	_lib_cleanup
}
trap _sshd_cleanup EXIT

# A suffix no user has yet: from our pid, plus a random part.
_rnd=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
SFX=$(printf '%06x%04x' "$$" "$_rnd")
while getent passwd "spn${SFX}a" >/dev/null 2>&1 ||
    [ -e "/etc/sudoers.d/spn-$SFX" ]; do
	_rnd=$(((_rnd + 1) % 65536))
	SFX=$(printf '%06x%04x' "$$" "$_rnd")
done
U_A=spn${SFX}a
U_B=spn${SFX}b
U_O=spn${SFX}o
U_N=spn${SFX}n
U_W=spn${SFX}w

SSHW=$(mktemp -d /tmp/spn-sshw.XXXXXX) || fail "mktemp failed"
chmod 0755 "$SSHW"
mkdir -p "$SSHW/home" "$SSHW/keys" "$SSHW/sshd" || fail "mkdir failed"
chmod 0755 "$SSHW/home" "$SSHW/keys"
chmod 0700 "$SSHW/sshd"
mkdir -p /run/sshd && chmod 0755 /run/sshd

ssh-keygen -q -t ed25519 -N '' -C spn-host -f "$SSHW/sshd/host_key" ||
    fail "ssh-keygen (host key) failed"
ssh-keygen -q -t ed25519 -N '' -C spn-user -f "$SSHW/id" ||
    fail "ssh-keygen (user key) failed"

# A function sshd_extra_config, if the test defines one before sourcing
# this, prints lines that end sshd's config (Match blocks); it runs once
# $U_A ... and $SSHW are set.
# With SSHD_PASSWORD_AUTH=yes set before sourcing this, sshd also takes
# passwords, and $U_A gets a real one, $U_A_PW.
# sshd_add_user NAME SHELL KEY(yes|no)
sshd_add_user() {
	# Only a user we created is ours to remove.
	useradd -m -d "$SSHW/home/$1" -s "$2" -U -K UMASK=022 "$1" ||
	    fail "useradd $1 failed"
	_sshd_users="$_sshd_users $1"
	usermod -p '*' "$1" || fail "usermod -p '*' $1 failed"
	mkdir -m 0700 "$SSHW/keys/$1"
	cp "$SSHW/id" "$SSHW/keys/$1/id"
	chmod 0600 "$SSHW/keys/$1/id"
	chown -R "$1:" "$SSHW/keys/$1"
	if [ "$3" = yes ]; then
		mkdir -m 0700 "$SSHW/home/$1/.ssh"
		cp "$SSHW/id.pub" "$SSHW/home/$1/.ssh/authorized_keys"
		chmod 0600 "$SSHW/home/$1/.ssh/authorized_keys"
		chown -R "$1:" "$SSHW/home/$1/.ssh"
	fi
}
sshd_add_user "$U_A" /bin/bash yes
sshd_add_user "$U_B" /bin/sh yes
sshd_add_user "$U_O" /bin/sh yes
sshd_add_user "$U_N" /usr/sbin/nologin yes
sshd_add_user "$U_W" /bin/sh no
U_A_PW=""
if [ "${SSHD_PASSWORD_AUTH:-no}" = yes ]; then
	U_A_PW="pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' ')"
	echo "$U_A:$U_A_PW" | chpasswd || fail "chpasswd $U_A failed"
fi
mkdir -m 0700 "$SSHW/keys/root"
cp "$SSHW/id" "$SSHW/keys/root/id"
chmod 0600 "$SSHW/keys/root/id"

# sudoers: A and B may become W without a password (B: the sudo hop
# behind A+B); O has no rule at all.
SUDOERS=/etc/sudoers.d/spn-$SFX
printf '%s ALL=(%s) NOPASSWD: ALL\n' "$U_A" "$U_W" "$U_B" "$U_W" \
    >"$SUDOERS.tmp"
chmod 0440 "$SUDOERS.tmp"
visudo -qcf "$SUDOERS.tmp" >/dev/null || fail "visudo rejects our rule"
mv "$SUDOERS.tmp" "$SUDOERS"

# port_free PORT: nothing listens on 127.0.0.1:PORT (or 0.0.0.0 / *).
port_free() {
	[ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
}

# free_port: a port nobody listens on, from a range based on our pid.
free_port() {
	_p=$((20000 + ($$ * 7 + ${1:-0}) % 30000))
	_n=0
	while ! port_free "$_p"; do
		_p=$((_p + 1))
		[ "$_p" -ge 50000 ] && _p=20000
		_n=$((_n + 1))
		[ "$_n" -gt 1000 ] && fail "no free port"
	done
	echo "$_p"
}

# Start sshd in the foreground (-D, so its pid is ours) on a free port;
# another test may take the port between our check and sshd's bind, so
# try again on the next one if sshd cannot bind.
SSHD_LOG=$SSHW/sshd/log
_try=0
while :; do
	SSHD_PORT=$(free_port "$_try")
	cat >"$SSHW/sshd/config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHW/sshd/host_key
PidFile $SSHW/sshd/pid
UsePAM no
PasswordAuthentication ${SSHD_PASSWORD_AUTH:-no}
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers $U_A $U_B $U_O $U_N $U_W
StrictModes yes
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTTY yes
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 100:30:200
MaxSessions 50
LogLevel VERBOSE
Subsystem sftp ${SSHD_SFTP:-internal-sftp}
$(command -v sshd_extra_config >/dev/null && sshd_extra_config)
EOF
	: >"$SSHD_LOG"
	/usr/sbin/sshd -t -f "$SSHW/sshd/config" ||
	    fail "sshd -t rejects our config"
	# -D in a subshell: its pid is known without a pidfile race, and it
	# is no job of ours (no "Killed" notice from the shell at the end).
	( /usr/sbin/sshd -D -f "$SSHW/sshd/config" -E "$SSHD_LOG" \
	    </dev/null >/dev/null 2>&1 &
	  echo $! >"$SSHW/sshd/dpid" )
	SSHD_PID=$(cat "$SSHW/sshd/dpid")
	if wait_line "$SSHD_LOG" 'Server listening' 5 "$SSHD_PID" &&
	    alive "$SSHD_PID"; then
		break
	fi
	kill -KILL "$SSHD_PID" 2>/dev/null
	SSHD_PID=""
	_try=$((_try + 1))
	[ "$_try" -ge 5 ] && {
		sed 's/^/  sshd: /' "$SSHD_LOG" >&2
		fail "sshd did not start"
	}
done

# The client side.
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" \
    "$(cut -d' ' -f1,2 "$SSHW/sshd/host_key.pub")" >"$SSHW/known_hosts"
chmod 0644 "$SSHW/known_hosts"
SSH_CFG=$SSHW/ssh_config
# ssh_config_for FILE KNOWN_HOSTS: write a config using that known_hosts.
ssh_config_for() {
	cat >"$1" <<EOF
Host *
	HostName 127.0.0.1
	Port $SSHD_PORT
	IdentityFile $SSHW/keys/%u/id
	IdentitiesOnly yes
	IdentityAgent none
	UserKnownHostsFile $2
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	UpdateHostKeys no
	CheckHostIP no
	BatchMode yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	ConnectTimeout 10
	LogLevel ERROR
EOF
	chmod 0644 "$1"
}
ssh_config_for "$SSH_CFG" "$SSHW/known_hosts"
SPINDLE_SSH_ARGS="-F $SSH_CFG"
export SPINDLE_SSH_ARGS

# A connection for real before any test relies on the world.
_out=$(timeout 20 ssh -F "$SSH_CFG" -l "$U_A" 127.0.0.1 id -un 2>"$TMPD/sshcheck") ||
    { sed 's/^/  ssh: /' "$TMPD/sshcheck" "$SSHD_LOG" >&2
      fail "plain ssh to $U_A@127.0.0.1:$SSHD_PORT does not work"; }
[ "$_out" = "$U_A" ] || fail "plain ssh ran id -un as '$_out', not $U_A"
