#!/bin/sh
# The bootstrap: `spindle bootstrap-size` accounts for what is sent; the
# agent runs from a memfd through perl, else python3, and with neither
# from a file that is gone as soon as the agent runs, in every hop.
. "$(dirname "$0")/lib.sh"

# --- bootstrap-size --------------------------------------------------------
spn bootstrap-size >"$TMPD/size" 2>"$TMPD/err"
check_rc "spindle bootstrap-size" 0 $? "$TMPD/err"
field() {	# LABEL: the byte count on the line that starts with LABEL
	sed -n "s/^$1  *\([0-9][0-9]*\) bytes.*/\1/p" "$TMPD/size"
}
rcmd_n=$(field 'remote command')
rcmd=$(sed -n 's/^remote command  *[0-9][0-9]* bytes  //p' "$TMPD/size")
stage0_n=$(field 'stage 0')
image_n=$(field 'agent image')
total_n=$(field 'total')
for v in rcmd_n stage0_n image_n total_n; do
	eval "[ -n \"\$$v\" ]" ||
	    fail "bootstrap-size: no $v in: $(cat "$TMPD/size")"
done
[ "$rcmd_n" -le 64 ] || fail "remote command is $rcmd_n bytes, more than 64"
check "remote command length" "$rcmd_n" "$(printf %s "$rcmd" | wc -c)"
case $rcmd in
*/bin/sh*) ;;
*) fail "remote command '$rcmd' does not run /bin/sh" ;;
esac
[ "$stage0_n" -gt 0 ] && [ "$stage0_n" -le 4096 ] ||
    fail "stage 0 is $stage0_n bytes"
[ "$image_n" -gt 1000 ] || fail "agent image is $image_n bytes"
check "total = stage 0 + image" "$((stage0_n + image_n))" "$total_n"
raw_n=$(sed -n "s/^agent image .*(\([0-9][0-9]*\) bytes, \([^,]*\),.*/\1/p" \
    "$TMPD/size")
arch=$(sed -n "s/^agent image .*(\([0-9][0-9]*\) bytes, \([^,]*\),.*/\2/p" \
    "$TMPD/size")
if [ -n "$raw_n" ]; then
	[ "$raw_n" -gt "$image_n" ] ||
	    fail "gzip'd image ($image_n) not smaller than the image ($raw_n)"
	check "agent image architecture" "$(uname -m)" "$arch"
fi
# The remote command really is what a login shell can run: run it here,
# feed it a stage 0 that reports back.
out=$(echo 'echo stage0 ran; exit 5' | sh -c "$rcmd")
check_rc "the remote command, fed one line" 5 $?
check "the remote command ran the line it read" "stage0 ran" "$out"

# --- fallbacks -------------------------------------------------------------
# A PATH of symlinks to every command in ours but perl and python.
bin="$TMPD/bin"
mkdir "$bin"
IFS=:
for d in $PATH; do
	[ -d "$d" ] || continue
	for f in "$d"/*; do
		n=${f##*/}
		case $n in perl*|python*) continue ;; esac
		[ -f "$f" ] && [ -x "$f" ] && [ ! -e "$bin/$n" ] &&
		    ln -s "$f" "$bin/$n"
	done
done
unset IFS
for c in sh uname dd gzip chmod rm cat timeout ps; do
	[ -e "$bin/$c" ] || skip "stage 0 needs $c, not found in PATH"
done
PATH="$bin" command -v perl >/dev/null && fail "perl still in the PATH"
PATH="$bin" command -v python3 >/dev/null && fail "python3 still in the PATH"

# Prints the executable of hop 1 and hop 2 (the command's grandparent and
# parent), and what is in $XDG_RUNTIME_DIR while they run.
show='p2=$PPID; s=$(cat /proc/$p2/stat); s=${s##*) }; set -- $s; p1=$2
echo "$(readlink /proc/$p1/exe)"; echo "$(readlink /proc/$p2/exe)"
echo "xdg: $(ls -A "${XDG_RUNTIME_DIR:-/nonexistent}" 2>/dev/null)"
echo "pids: $p1 $p2"'

# perl hidden, python3 there: still a memfd, nothing in $XDG_RUNTIME_DIR.
xdg="$TMPD/xdg"
mkdir -m 700 "$xdg"
py=$(python3 -c 'import os, sys; os.memfd_create; print(os.path.realpath(sys.executable))' 2>/dev/null)
if [ -n "$py" ]; then
	ln -s "$py" "$bin/python3"
	out=$(PATH="$bin" XDG_RUNTIME_DIR="$xdg"; export PATH XDG_RUNTIME_DIR
	    spn run local+local -- sh -c "$show" 2>"$TMPD/err")
	check_rc "no perl: run local+local" 0 $? "$TMPD/err"
	check "no perl: hop 1, hop 2 executables" "/memfd:spindle (deleted)
/memfd:spindle (deleted)
xdg: " "$(echo "$out" | sed 3q)"
	rm "$bin/python3"
else
	log "no python3 with os.memfd_create: the python3 path is not tested"
fi

# places [DIR]: the .spindle* names in every place the file fallback may
# use.
places() {
	for d in ${XDG_RUNTIME_DIR:+"$XDG_RUNTIME_DIR"} /dev/shm /tmp "$HOME" "$@"; do
		[ -d "$d" ] && ls -A "$d" | sed -n "s|^\.spindle|$d/&|p"
	done | sort
}
# left_behind [DIR]: fail if a .spindle* file appeared since `places` was
# saved to $TMPD/before and stays (another test's agent may be between
# writing its file and unlinking it: give it 2 s); or if one named after
# our agents (.spindle.PID) is there at all.
left_behind() {
	places "$@" >"$TMPD/after"
	for f in $(comm -13 "$TMPD/before" "$TMPD/after"); do
		t=20
		while [ -e "$f" ] && [ $t -gt 0 ]; do
			sleep 0.1
			t=$((t - 1))
		done
		[ -e "$f" ] && fail "file left behind: $f"
	done
	for p in $(sed -n 's/^pids: //p' "$TMPD/out"); do
		for d in ${XDG_RUNTIME_DIR:+"$XDG_RUNTIME_DIR"} /dev/shm /tmp "$HOME" "$@"; do
			[ -e "$d/.spindle.$p" ] &&
			    fail "file left behind by our agent: $d/.spindle.$p"
		done
	done
	return 0
}

# Neither: a file in $XDG_RUNTIME_DIR, unlinked at once.
places "$xdg" >"$TMPD/before"
out=$(PATH="$bin" XDG_RUNTIME_DIR="$xdg"; export PATH XDG_RUNTIME_DIR
    spn run local+local -- sh -c "$show" 2>"$TMPD/err")
check_rc "no perl, no python3: run local+local" 0 $? "$TMPD/err"
echo "$out" >"$TMPD/out"
for h in 1 2; do
	exe=$(sed -n "${h}p" "$TMPD/out")
	case $exe in
	"$xdg/.spindle."*" (deleted)") ;;
	*) fail "no perl, no python3: hop $h runs '$exe', not a deleted file in $xdg" ;;
	esac
done
check "no perl, no python3: in \$XDG_RUNTIME_DIR while it runs" "xdg: " \
    "$(sed -n 3p "$TMPD/out")"
check "no perl, no python3: left in \$XDG_RUNTIME_DIR" "" "$(ls -A "$xdg")"
left_behind "$xdg"

# No $XDG_RUNTIME_DIR: the next place (/dev/shm here), same story.
home="$TMPD/home"
mkdir -m 700 "$home"
places "$home" >"$TMPD/before"
out=$(unset XDG_RUNTIME_DIR; PATH="$bin" HOME="$home"; export PATH HOME
    spn run local+local -- sh -c "$show" 2>"$TMPD/err")
check_rc "no perl, no python3, no XDG_RUNTIME_DIR: run local+local" 0 $? \
    "$TMPD/err"
echo "$out" >"$TMPD/out"
for h in 1 2; do
	exe=$(sed -n "${h}p" "$TMPD/out")
	case $exe in
	/dev/shm/.spindle.*" (deleted)" | /tmp/.spindle.*" (deleted)" | \
	"$home"/.spindle.*" (deleted)") ;;
	*) fail "no XDG_RUNTIME_DIR: hop $h runs '$exe', not a deleted file" ;;
	esac
	f=${exe% (deleted)}
	[ -e "$f" ] && fail "no XDG_RUNTIME_DIR: $f is still there"
done
left_behind "$home"
check "left in \$HOME" "" "$(ls -A "$home")"

pass
