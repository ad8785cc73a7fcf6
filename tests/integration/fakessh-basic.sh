#!/bin/sh
# The ssh shim on the route ssh -> sudo=webapp (sudo password, requiretty):
# exit codes and signal death as OpenSSH reports them, stdin EOF, -n,
# argument quoting exactly as OpenSSH passes it, the remote user's shell
# and home, a host that is no route name (a direct ssh route), and 200
# ssh lines of a script over one connection.
. "$(dirname "$0")/lib-fakessh.sh"

# Exit codes, as real ssh to the same place reports them.
for code in 0 1 42; do
	fssh web "exit $code" </dev/null 2>"$TMPD/err"
	check_rc "exit $code" "$code" $? "$TMPD/err"
done
rssh() { timeout 20 ssh -F "$SSH_CFG" -l "$U_A" 127.0.0.1 "$@"; }
rssh 'kill -TERM $$' </dev/null 2>/dev/null
want=$?
fssh web 'kill -TERM $$' </dev/null 2>"$TMPD/err"
check_rc "signal death (as OpenSSH: $want)" "$want" $? "$TMPD/err"

# Who and where: the remote user's login shell runs the command, in its
# home, as sshd would.
out=$(fssh web 'id -un; pwd; echo $HOME' </dev/null 2>"$TMPD/err")
check_rc "id" 0 $? "$TMPD/err"
check "user, cwd and HOME" "$U_W
$WEBHOME
$WEBHOME" "$out"

# Quoting: words joined by spaces, the remote shell splits them again,
# exactly as with OpenSSH.
for args in "echo 'a  b' \"c'd\" e\\ f" "printf %s\\\\n 'x y' z" \
    'echo $USER' "echo a;echo b" ; do
	want=$(rssh $args </dev/null 2>/dev/null | sed "s/$U_A/USER/")
	got=$(fssh web $args </dev/null 2>"$TMPD/err" | sed "s/$U_W/USER/")
	check "quoting of: $args" "$want" "$got"
done
want=$(rssh echo "a  b" "'c'" '"d"' </dev/null 2>/dev/null)
got=$(fssh web echo "a  b" "'c'" '"d"' </dev/null 2>"$TMPD/err")
check "quoting of separate words" "$want" "$got"

# stdin: all of it, then EOF; -n: nothing.
head -c 300000 /dev/urandom >"$TMPD/in"
got=$(fssh web 'cat | sha256sum' <"$TMPD/in" 2>"$TMPD/err")
check_rc "stdin" 0 $? "$TMPD/err"
check "stdin sha256" "$(sha256sum <"$TMPD/in")" "$got"
got=$(printf 'abc' | fssh -n web 'wc -c' 2>"$TMPD/err")
check "-n gives /dev/null" 0 "$(echo $got)"

# Any other host: a direct ssh route, with -l and -p honoured.
got=$(fssh -l "$U_B" -p "$SSHD_PORT" -F "$SSH_CFG" 127.0.0.1 id -un \
    </dev/null 2>"$TMPD/err")
check_rc "direct route" 0 $? "$TMPD/err"
check "direct route user" "$U_B" "$got"

# -i and -o reach the real ssh: a config whose key does not exist.
sed 's|IdentityFile .*|IdentityFile /nonexistent|' "$SSH_CFG" >"$TMPD/noid"
SPINDLE_SSH_ARGS= fssh -F "$TMPD/noid" -l "$U_B" 127.0.0.1 true </dev/null \
    2>"$TMPD/err"
check_rc "direct route without a key" 255 $? "$TMPD/err"
got=$(SPINDLE_SSH_ARGS= fssh -F "$TMPD/noid" -i "$SSHW/keys/root/id" -o ConnectTimeout=7 \
    -l "$U_B" 127.0.0.1 id -un </dev/null 2>"$TMPD/err")
check_rc "direct route with -i" 0 $? "$TMPD/err"
check "direct route with -i: user" "$U_B" "$got"

# Transport failure: 255 and the hop named.
fssh "$U_O@127.0.0.1+sudo=$U_W" true </dev/null 2>"$TMPD/err"
check_rc "sudo refused" 255 $? "$TMPD/err"
contains "$TMPD/err" "hop 2 ($U_O@127.0.0.1+sudo=$U_W)" ||
    fail "transport failure: message: $(cat "$TMPD/err")"

# No command: the user's login shell reads stdin (no terminal: no pty);
# -tt: a pty all the same; -v names the ignored options.
out=$(printf 'echo "$0"\nexit 5\n' | fssh web 2>"$TMPD/err")
check_rc "login shell" 5 $? "$TMPD/err"
check "login shell's \$0" "-sh" "$out"
out=$(fssh -tt web tty </dev/null 2>"$TMPD/err" | tr -d '\r')
case $out in /dev/pts/*) ;; *) fail "-tt: no pty: $out $(cat "$TMPD/err")" ;; esac
out=$(fssh -t web tty </dev/null 2>"$TMPD/err")
contains "$TMPD/err" "Pseudo-terminal will not be allocated" ||
    fail "-t without a terminal: $(cat "$TMPD/err")"
check "-t without a terminal: no pty" "not a tty" "$out"
fssh -v -A -J jump -X web true </dev/null 2>"$TMPD/err" ||
    fail "-v: $(cat "$TMPD/err")"
for o in "-A" "-J jump" "-X"; do
	contains "$TMPD/err" "ignoring $o" || fail "-v: $o: $(cat "$TMPD/err")"
done
# -E: our own messages go to the log, the command's stderr does not.
fssh -E "$TMPD/elog" web 'echo to-stderr >&2' </dev/null 2>"$TMPD/err"
check "-E: the command's stderr" to-stderr "$(cat "$TMPD/err")"
fssh -E "$TMPD/elog" "$U_O@127.0.0.1+sudo=$U_W" true </dev/null 2>"$TMPD/err"
check_rc "-E: a failing route" 255 $? "$TMPD/err"
check "-E: nothing on stderr" "" "$(cat "$TMPD/err")"
contains "$TMPD/elog" "hop 2 ($U_O@127.0.0.1+sudo=$U_W)" ||
    fail "-E: log: $(cat "$TMPD/elog")"

# spindle exec -r ROUTE: every ssh goes to ROUTE, whatever host it names.
out=$(timeout 20 "$SPINDLE" exec -r web -- ssh anyhost.invalid id -un \
    </dev/null 2>"$TMPD/err")
check_rc "exec -r" 0 $? "$TMPD/err"
check "exec -r: user" "$U_W" "$out"

# A script of 200 ssh lines: one connection for all of them, and no fd
# left behind in the daemon.
before=$(sshd_auths)
dpid=$(daemon_pid)
fds_before=$(ls "/proc/$dpid/fd" | wc -l)
{
	echo "PATH=$FAKEBIN:\$PATH"
	i=0
	while [ $i -lt 200 ]; do
		echo "ssh web echo $i"
		i=$((i + 1))
	done
} >"$TMPD/script.sh"
timeout 120 sh "$TMPD/script.sh" </dev/null >"$TMPD/out" 2>"$TMPD/err"
check_rc "200 ssh lines" 0 $? "$TMPD/err"
check "200 lines of output" 200 "$(wc -l <"$TMPD/out")"
check "last line" 199 "$(tail -n 1 "$TMPD/out")"
check "new sshd logins for 200 ssh lines" 0 $(($(sshd_auths) - before))
check "daemon fds after 200 ssh lines" "$fds_before" \
    "$(ls "/proc/$dpid/fd" | wc -l)"

# 32 at once on the same route.
i=0
while [ $i -lt 32 ]; do
	fssh web "sleep 0.5; echo $i" </dev/null >"$TMPD/c$i" 2>&1 &
	i=$((i + 1))
done
wait
i=0
while [ $i -lt 32 ]; do
	check "concurrent $i" "$i" "$(cat "$TMPD/c$i")"
	i=$((i + 1))
done
check "sshd logins after all that" 0 $(($(sshd_auths) - before))
pass
