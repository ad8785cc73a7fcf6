# Shared by the benchmarks in lib-netns.sh's world (bench/forward.sh,
# bench/gateway.sh), sourced after it and bench/lib.sh: the processes
# of each path, their CPU time, and the medians and ratios printed.

# sshd_of USER NS: that user's sshd session processes in NS.
sshd_of() {
	_np=" $(ip netns pids "$2" | tr '\n' ' ') "
	ps -e -o pid= -o args= | awk -v u="$1" -v np="$_np" '
	    index(np, " " $1 " ") && $2 == "sshd:" &&
	    ($3 == u || index($3, u "@") == 1) { print $1 }'
}
# children PID COMM: its children named COMM.
children() {
	ps -o pid= -o comm= --ppid "$1" | awk -v c="$2" '$2 == c { print $1 }'
}
# procs_ossh: OpenSSH's path, "PID ROLE" lines: the master ($O_PID),
# its jump ssh, the sshd sessions of $U_O on the bastion and on inner.
procs_ossh() {
	echo "$O_PID ssh-master"
	ps -e -o pid= -o args= | awk -v cfg="$SSHW/ssh_config.ns" '
	    $2 == "ssh" && index($0, " -W ") && index($0, cfg) {
		print $1, "ssh-jump" }'
	for p in $(sshd_of "$U_O" "$NB"); do echo "$p sshd-bastion"; done
	for p in $(sshd_of "$U_O" "$NI"); do echo "$p sshd-inner"; done
}
TCK=$(getconf CLK_TCK)
# cpu_ticks PID: user + system ticks so far.
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null
}

# med FILE KEY: the median of KEY over the rounds in $TMPD/FILE, or "-";
# all: the values, in round order.
med() {
	awk -v k="$2" '$1 == k { print $2 }' "$TMPD/$1" 2>/dev/null | sort -n |
	    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'
}
all() {
	awk -v k="$2" '$1 == k { printf "%s%s", s, $2; s = " " }' \
	    "$TMPD/$1" 2>/dev/null
}
# vs A B: A / B, or "-"; goal RATIO OP LIMIT (OP >=, <= or <): met or
# missed.
vs() {
	case "$1$2" in *-*) echo "-" ;; *) ratio "$1" "$2" ;; esac
}
goal() {
	[ "$1" = - ] && { echo "-"; return; }
	awk -v r="$1" -v l="$3" -v op="$2" 'BEGIN {
	    ok = op == ">=" ? r >= l : op == "<" ? r < l : r <= l
	    printf "%s %s: %s", op, l, ok ? "met" : "MISSED" }'
}
