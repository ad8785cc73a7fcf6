#!/bin/sh
# The examples of examples/ (issue 9 point 10) over the test sshd: ssh to
# $U_A, then sudo to $U_W with a password under `Defaults requiretty`.
# remote-fn's copies run from memory as each hop's user and write nothing
# on the remote (LIBRARY.md §9 B6: the files of both users, as ssh-basic.sh
# counts them, are the same after the run); df, install-app and
# fleet-tree (its hosts started from the ssh hop) work there;
# nothing of the test's world is left running.
# lib-fakessh.sh's world: sudo to $U_W takes $U_A's password ($PWFILE),
# under requiretty (no daemon or shim is used here).
. "$(dirname "$0")/lib-fakessh.sh"

lib_prog examples/remote-fn
lib_prog examples/df
lib_prog examples/install-app
lib_prog examples/fleet-tree
EX=${PROG%/*}
# The library takes no $SPINDLE_SSH_ARGS (that is the spindle command's):
# the route names the test's ssh config itself.
H1=$U_A@127.0.0.1,config=$SSH_CFG
R=$H1+sudo=$U_W

remote_files "$U_A" "$U_W" >"$TMPD/files"

prog_run remote-fn "$EX/remote-fn" -P "$PWFILE" "$R"
check_rc "remote-fn $R" 0 $? "$TMPD/err"
check "remote-fn: lines" 2 "$(wc -l <"$TMPD/out")"
re_H1=$(echo "$H1" | sed 's/[.+]/\\&/g')
re_R=$(echo "$R" | sed 's/[.+]/\\&/g')
grep -Eq "^hop 1 \($re_H1\): pid [0-9]+ user $U_A host [^ ]+ argv0 spindle:[^ ]+ exe /memfd:spindle \(deleted\)$" \
    "$TMPD/out" || fail "remote-fn: hop 1: $(cat "$TMPD/out")"
grep -Eq "^hop 2 \($re_R\): pid [0-9]+ user $U_W host [^ ]+ argv0 spindle:[^ ]+ exe /memfd:spindle \(deleted\)$" \
    "$TMPD/out" || fail "remote-fn: hop 2: $(cat "$TMPD/out")"
contains "$TMPD/err" "$U_A_PW" && fail "remote-fn: the password is in its output"

prog_run df "$EX/df" -P "$PWFILE" "$H1" "$R"
check_rc "df $H1 $R" 0 $? "$TMPD/err"
for r in "$H1" "$R"; do
	grep -q "^$r: [0-9][0-9]* bytes free in /\$" "$TMPD/out" ||
	    fail "df: no figure for $r: $(cat "$TMPD/out")"
done
no_world_procs 5 "remote-fn and df"

# fleet-tree: its hosts started by the copy on the ssh hop, as its user
# (uptime-fleet's connects and calls are df's: lib-examples.sh has it).
t0=$(date +%s)
prog_run fleet-tree "$EX/fleet-tree" "$H1" local
check_rc "fleet-tree $H1" 0 $? "$TMPD/err"
check "fleet-tree: hosts as $U_A" 1 \
    "$(grep -c ", uid $(id -u "$U_A")\$" "$TMPD/out")"
no_world_procs 5 "fleet-tree"
log "fleet-tree: $(($(date +%s) - t0)) s"

remote_files_kept "$TMPD/files" "remote-fn and df" "$U_A" "$U_W"

# install-app: unpacked as $U_W in its home.
mkdir -p "$TMPD/app/bin"
echo 'echo hello' >"$TMPD/app/bin/hello"
chmod 755 "$TMPD/app/bin/hello"
mkdir "$WEBHOME/app" && chown "$U_W:" "$WEBHOME/app" || fail "mkdir app"
prog_run install-app "$EX/install-app" -P "$PWFILE" "$R" "$TMPD/app" "$WEBHOME/app"
check_rc "install-app $R" 0 $? "$TMPD/err"
grep -q 'bin/hello$' "$TMPD/out" ||
    fail "install-app: tar's output lacks bin/hello: $(cat "$TMPD/out")"
check "install-app: owner" "$U_W" "$(stat -c %U "$WEBHOME/app/bin/hello")"
check "install-app: bin/hello" hello "$(sh "$WEBHOME/app/bin/hello")"
# The archive it put (as $U_W) stays next to the directory.
check "install-app: the archive" "$U_W 600" \
    "$(stat -c '%U %a' "$WEBHOME/app.tar.gz")"
check "install-app: temporary files" "" "$(ls -A "$WEBHOME" | grep '\.spn')"
# $U_W may not write next to $U_A's home: the put says so, with the path.
prog_run install-app "$EX/install-app" -P "$PWFILE" "$R" "$TMPD/app" \
    "$SSHW/home/$U_A"
check_rc "install-app into $U_A's home" 1 $? "$TMPD/err"
contains "$TMPD/err" ": open $SSHW/home/$U_A.tar.gz (Permission denied)" ||
    fail "install-app into $U_A's home: it said: $(cat "$TMPD/err")"
# A directory that is not there: tar says so, its status comes back.
prog_run install-app "$EX/install-app" -P "$PWFILE" "$R" "$TMPD/app" \
    "$WEBHOME/none"
check_rc "install-app into $WEBHOME/none" 1 $? "$TMPD/err"
contains "$TMPD/err" "install-app: tar exited with 2" ||
    fail "install-app into $WEBHOME/none: it said: $(cat "$TMPD/err")"
no_world_procs 5 "install-app"
pass
