#!/bin/sh
# The examples of examples/ (issue 9 point 10) over local routes: each
# copy of remote-fn runs from memory as spindle:..., df gives a figure
# close to the local one and a remote failure whole, install-app unpacks a
# tarball in a directory and returns tar's status and output, uptime-fleet
# tabulates two routes and names the two that fail, fleet-tree reaches
# three contexts through a bastion context.  Nothing is left running.  lib-examples-ssh.sh runs them over ssh + sudo.
. "$(dirname "$0")/lib.sh"

lib_prog examples/remote-fn
lib_prog examples/df
lib_prog examples/install-app
lib_prog examples/uptime-fleet
lib_prog examples/fleet-tree
EX=${PROG%/*}

# remote-fn: one line a hop, each a copy from memory with our user and
# host and another pid.
me=$(id -un)
# With perl or python3 there, stage 0 runs the image from a memfd.
mem='/memfd:spindle'
command -v perl >/dev/null || command -v python3 >/dev/null || mem='/.*'
host=$(uname -n | sed 's/[.+]/\\&/g')
for r in local local+local local+local+local; do
	prog_run remote-fn "$EX/remote-fn" "$r"
	check_rc "remote-fn $r" 0 $? "$TMPD/err"
	n=$(echo "$r" | tr + '\n' | wc -l)
	check "remote-fn $r: lines" "$n" "$(wc -l <"$TMPD/out")"
	i=1
	while [ "$i" -le "$n" ]; do
		hr=$(echo "$r" | cut -d+ -f1-$i | sed 's/+/\\+/g')
		grep -Eq "^hop $i \($hr\): pid [0-9]+ user $me host $host argv0 spindle:[^ ]+ exe $mem \(deleted\)$" \
		    "$TMPD/out" || fail "remote-fn $r: hop $i: $(cat "$TMPD/out")"
		i=$((i + 1))
	done
	grep -q " pid $(last_master) " "$TMPD/out" &&
	    fail "remote-fn $r: a function ran in the master"
	procs_left "remote-fn $r"
done

# Without perl and python3 (no memfd from stage 0), each copy runs from a
# file in $XDG_RUNTIME_DIR that is unlinked before it runs, and none is
# left there (LIBRARY.md §9 B6).
bin=$TMPD/bin
xdg=$TMPD/xdg
mkdir "$bin" && mkdir -m 700 "$xdg" || fail "mkdir"
# What stage 0's file fallback runs, and nothing else.
for c in sh uname dd gzip chmod rm cat; do
	p=$(command -v "$c") || skip "stage 0 needs $c, not found in PATH"
	ln -s "$p" "$bin/$c"
done
prog_run remote-fn env PATH="$bin" XDG_RUNTIME_DIR="$xdg" "$EX/remote-fn" local+local
check_rc "remote-fn local+local, no perl or python3" 0 $? "$TMPD/err"
check "remote-fn local+local, no perl or python3: from $xdg" 2 \
    "$(grep -Ec " exe $xdg/\.spindle\.[0-9]+ \(deleted\)$" "$TMPD/out")"
check "files left in $xdg" "" "$(ls -A "$xdg")"
procs_left "remote-fn, no perl or python3"

# df on two routes: about what statvfs says here (others write too).
prog_run df "$EX/df" -d "$TMPD" local local+local
check_rc "df local local+local" 0 $? "$TMPD/err"
check "df: lines" 2 "$(wc -l <"$TMPD/out")"
here=$(stat -f -c '%a %S' "$TMPD" | awk '{ printf "%.0f", $1 * $2 }')
for r in local local+local; do
	got=$(sed -n "s|^$r: \([0-9]*\) bytes free in $TMPD\$|\1|p" "$TMPD/out")
	[ -n "$got" ] || fail "df: no line for $r: $(cat "$TMPD/out")"
	awk -v a="$got" -v b="$here" 'BEGIN { d = a - b; if (d < 0) d = -d
	    exit !(d <= 268435456 || d <= b / 20) }' ||
	    fail "df $r: $got bytes free, statvfs here says $here"
done
procs_left "df"
# A failure there comes back whole: errno, file:line function, message.
prog_run df "$EX/df" -d "$TMPD/none" local
check_rc "df -d $TMPD/none local" 1 $? "$TMPD/err"
grep -Eq "df\.c:[0-9]+ disk_free: statvfs $TMPD/none.*No such file or directory" \
    "$TMPD/err" || fail "df -d $TMPD/none: it said: $(cat "$TMPD/err")"
procs_left "df (failing)"

# install-app: a tarball made here, put there (spn_put_file), unpacked
# there.
mkdir -p "$TMPD/app/bin" "$TMPD/dest"
echo 'echo hello' >"$TMPD/app/bin/hello"
chmod 755 "$TMPD/app/bin/hello"
head -c 100000 /dev/urandom >"$TMPD/app/data"
prog_run install-app "$EX/install-app" local+local "$TMPD/app" "$TMPD/dest"
check_rc "install-app local+local" 0 $? "$TMPD/err"
grep -q 'bin/hello$' "$TMPD/out" ||
    fail "install-app: tar's output lacks bin/hello: $(cat "$TMPD/out")"
cmp "$TMPD/app/data" "$TMPD/dest/data" || fail "install-app: data differs"
check "install-app: bin/hello" hello "$(sh "$TMPD/dest/bin/hello")"
[ -x "$TMPD/dest/bin/hello" ] || fail "install-app: bin/hello lost its mode"
# The archive it put there stays, whole, next to the directory.
check "install-app: the archive's mode" 600 "$(stat -c %a "$TMPD/dest.tar.gz")"
tar -tzf "$TMPD/dest.tar.gz" | grep -qx './bin/hello' ||
    fail "install-app: $TMPD/dest.tar.gz lacks ./bin/hello"
check "install-app: temporary files" "" "$(ls -A "$TMPD" | grep '\.spn')"
procs_left "install-app"
# tar fails there: its status and words come back.
prog_run install-app "$EX/install-app" local "$TMPD/app" "$TMPD/none"
check_rc "install-app into $TMPD/none" 1 $? "$TMPD/err"
contains "$TMPD/err" "install-app: tar exited with 2" ||
    fail "install-app into $TMPD/none: it said: $(cat "$TMPD/err")"
contains "$TMPD/out" "$TMPD/none" ||
    fail "install-app into $TMPD/none: tar's words: $(cat "$TMPD/out")"
procs_left "install-app (failing)"

# uptime-fleet: a row a host that answered, with this machine's uptime,
# the failed ones after with their error; exit 1 for them.
prog_run uptime-fleet "$EX/uptime-fleet" -w 2 local local+local \
    local+su=nosuchuser_fleet local+
check_rc "uptime-fleet" 1 $? "$TMPD/err"
check "uptime-fleet: header" "HOST LOAD UP (days)" \
    "$(head -1 "$TMPD/out" | tr -s ' ')"
up=$(awk '{ printf "%.2f", $1 / 86400 }' /proc/uptime)
for r in local local+local; do
	grep -Eq "^$(echo "$r" | sed 's/+/\\+/g') +[0-9]+\.[0-9]{2} +[0-9.]+$" \
	    "$TMPD/out" || fail "uptime-fleet: no row for $r: $(cat "$TMPD/out")"
	got=$(awk -v r="$r" '$1 == r { print $3 }' "$TMPD/out")
	awk -v a="$got" -v b="$up" 'BEGIN { exit !(a - b < 0.01 && b - a < 0.01) }' ||
	    fail "uptime-fleet $r: up $got days, /proc/uptime says $up"
done
grep -q '^FAILED local+su=nosuchuser_fleet: hop 2 (local+su=nosuchuser_fleet): ' \
    "$TMPD/out" || fail "uptime-fleet: su's failure: $(cat "$TMPD/out")"
grep -q '^FAILED local+: .*empty hop' "$TMPD/out" ||
    fail "uptime-fleet: the bad route: $(cat "$TMPD/out")"
check "uptime-fleet: lines" 5 "$(wc -l <"$TMPD/out")"
procs_left "uptime-fleet"

# fleet-tree: three hosts behind a bastion context, each a copy of its
# own (a pid of its own), reached from the bastion.
prog_run fleet-tree "$EX/fleet-tree" local local local local+local
check_rc "fleet-tree" 0 $? "$TMPD/err"
check "fleet-tree: lines" 3 "$(grep -c ", pid [0-9]*, uid $(id -u)\$" "$TMPD/out")"
check "fleet-tree: pids" 3 "$(sed 's/.*pid \([0-9]*\).*/\1/' "$TMPD/out" |
    sort -u | wc -l)"
grep -q '^local+local+local: ' "$TMPD/out" ||
    fail "fleet-tree: names: $(cat "$TMPD/out")"
procs_left "fleet-tree"
pass
