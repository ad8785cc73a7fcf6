#!/bin/sh
# The control socket under abuse by a runaway script of the daemon's own
# user (docs/protocol.md, "Limits"): 1000 connections that never say
# HELLO, 300 requests of up to 1 MiB cut off halfway, big first messages
# that are no HELLO, command lines of 1 MiB waiting for a route, and as
# many commands as the daemon takes clients.  Every connection the daemon
# gives up gets an ERROR that says why, and a client prints it even when
# the daemon hung up on it mid-send; other clients are served throughout
# and STOP always is; the daemon's fds stay under its cap and its memory
# under its bound, and both come back to where they were.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "needs $PY to open the connections"
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 1200 ] ||
    skip "needs 1200 fds for 1000 connections (ulimit -Hn is $hard)"
export SPINDLE_RUNTIME_DIR="$TMPD/rt"
export SPINDLE_ROUTES="$TMPD/routes"
: >"$SPINDLE_ROUTES"
dpid=""
cleanup() {
	timeout 10 "$SPINDLE" daemon stop >/dev/null 2>&1
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null
}
trap '_t=$?; cleanup; (exit $_t); _lib_cleanup' EXIT
SOCK=$SPINDLE_RUNTIME_DIR/sock

cat >"$TMPD/abuse.py" <<'EOF'
# abuse.py SOCK MODE N DONE [RELEASE]: N connections of one kind; prints
# "COUNT<tab>WHAT" lines: what the daemon said (its ERROR's text) to the
# connections it closed, "open" for those it kept beyond 60 s; then
# creates the file DONE.  Modes busy and hang: N commands (sleep on the
# route local; true with 1 MiB of environment on the route hang), held
# until the file RELEASE exists.
import atexit, os, resource, selectors, socket, struct, sys, time
path, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
atexit.register(lambda: open(sys.argv[4], "w").close())
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def s32(v): return struct.pack(">I", v)
def sstr(t): return s32(len(t)) + t
def msg(t, body): return s32(8 + len(body)) + s32(t) + s32(1) + body
HELLO = msg(1, s32(2))
def run(route, argv, env):
    return (sstr(route) + s32(0) + sstr(b"") + s32(0) + sstr(b"") +
            sstr(b"") + s32(0xffffffff) + s32(0xffffffff) + sstr(b"") +
            s32(0) + s32(0) + s32(len(argv)) + b"".join(sstr(a) for a in argv) +
            s32(len(env)) + b"".join(sstr(e) for e in env) +
            sstr(b"") + s32(0) + s32(0) + s32(0))
RUN = msg(4, run(b"local", [b"sleep", b"1207"], []))
# 1 KiB short of 1 MiB: 32 of them fit in what the daemon holds
pad = 1024 * 1024 - 1024 - len(run(b"hang", [b"true"], [b"X="]))
BIG = msg(4, run(b"hang", [b"true"], [b"X=" + b"x" * pad]))
def first(i):
    # half of a message of up to 1 MiB (of sizes that vary, as a heap
    # would not like them): a RUN, or a first message
    size = 1024 * 1024 - (i % 7) * 100000
    if mode == "half":
        return HELLO + s32(size) + s32(4) + s32(2) + bytes(size // 2)
    if mode == "nohello":
        return s32(size) + s32(1) + s32(1) + bytes(size // 2)
    return {"silent": b"", "busy": HELLO + RUN, "hang": HELLO + BIG}[mode]
socks = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    try:
        s.sendall(first(i))
    except OSError:
        pass		# dropped already: what it reads says why
    socks.append(s)
open(sys.argv[4] + ".connected", "w").close()

def types(data):
    while len(data) >= 12:
        k, t = struct.unpack(">II", data[:8])
        yield t, data[12:4 + k]
        data = data[4 + k:]

got = {s: b"" for s in socks}
sel = selectors.DefaultSelector()
for s in socks:
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
def read(s):
    try:
        b = s.recv(65536)
    except BlockingIOError:
        return True
    except OSError:
        b = b""
    got[s] += b
    if not b:
        sel.unregister(s)
    return bool(b)

if mode == "busy":
    # Every command started: say so, and hold on until released.
    end = time.time() + 60
    while time.time() < end and \
            sum(1 for s in socks if 14 in dict(types(got[s]))) < n:
        for key, _ in sel.select(1):
            read(key.fileobj)
    print("started", sum(1 for s in socks if 14 in dict(types(got[s]))),
          flush=True)
if mode == "hang":
    print("sent", n, flush=True)
if mode in ("busy", "hang"):
    while not os.path.exists(sys.argv[5]):
        time.sleep(0.1)
    sys.exit(0)

open_ = set(socks)
end = time.time() + 60
while open_ and time.time() < end:
    for key, _ in sel.select(1):
        if not read(key.fileobj):
            open_.discard(key.fileobj)
said = {}
for s in socks:
    errs = [b[4:4 + struct.unpack(">I", b[:4])[0]].decode()
            for t, b in types(got[s]) if t == 2]
    what = "open" if s in open_ else errs[-1] if errs else "no error"
    said[what] = said.get(what, 0) + 1
for what, k in sorted(said.items()):
    print("%d\t%s" % (k, what))
EOF

# lone.py SOCK CONNECTED: one connection, silent until the file CONNECTED
# exists (another process's flood is in), then HELLO; prints what the
# daemon answered: "hello", or the text of its ERROR.
cat >"$TMPD/lone.py" <<'EOF'
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print("connected", flush=True)
end = time.time() + 8
while not os.path.exists(sys.argv[2]) and time.time() < end:
    time.sleep(0.05)
try:
    s.sendall(struct.pack(">IIII", 12, 1, 1, 2))
except OSError:
    pass
data = b""
while len(data) < 8 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
    b = s.recv(65536)
    if not b:
        break
    data += b
if len(data) >= 8 and struct.unpack(">I", data[4:8])[0] == 1:
    print("hello")
elif len(data) >= 16:
    print(data[16:16 + struct.unpack(">I", data[12:16])[0]].decode())
else:
    print("hung up")
EOF

# abuse MODE N: that many connections, while other clients keep running
# commands; sets SAID (the file of the daemon's answers), RAN (how many
# commands ran meanwhile) and MAXFDS (the most fds the daemon had).
abuse() {
	rm -f "$TMPD/done" "$TMPD/done.connected"
	$PY "$TMPD/abuse.py" "$SOCK" "$1" "$2" "$TMPD/done" \
	    >"$TMPD/said.$1" 2>"$TMPD/py.err" &
	track $!
	RAN=0
	MAXFDS=0
	while [ ! -e "$TMPD/done" ]; do
		run true 2>"$TMPD/err" ||
		    fail "a client during '$1': status $?: $(cat "$TMPD/err")"
		RAN=$((RAN + 1))
		_f=$(fds)
		[ "$_f" -gt "$MAXFDS" ] && MAXFDS=$_f
	done
	wait
	[ -s "$TMPD/py.err" ] && fail "abuse.py $1: $(cat "$TMPD/py.err")"
	SAID=$TMPD/said.$1
	log "$1 x $2: $RAN commands meanwhile, at most $MAXFDS fds; the daemon said:"
	sed 's/^/	/' "$SAID" >&2
}

# said PATTERN: how many connections got an ERROR matching it.
said() {
	awk -F '\t' -v p="$1" '$2 ~ p { n += $1 } END { print n + 0 }' "$SAID"
}

# run COMMAND...: on the route local, through the daemon (which runs
# it: nothing to track here).
run() {
	timeout -k 3 "$SPN_TIMEOUT" "$SPINDLE" run local -- "$@"
}

# run_big: a command line of 600 KiB, through the daemon.
big=$($PY -c 'print("x" * 100000)')
run_big() {
	timeout -k 3 "$SPN_TIMEOUT" "$SPINDLE" run -e "A=$big" -e "B=$big" \
	    -e "C=$big" -e "D=$big" -e "E=$big" -e "F=$big" local -- \
	    sh -c 'echo ${#A}${#F}'
}

fds() {
	ls "/proc/$dpid/fd" | wc -l
}
mem() {		# VmRSS or VmHWM, KiB
	awk -v k="$1:" '$1 == k { print $2 }' "/proc/$dpid/status"
}

# back_to_base: the daemon's fds as many as before (their closing may
# take a moment), its memory within 4 MiB of what it was.
back_to_base() {
	_i=0
	while [ "$(fds)" -ne "$base_fds" ] && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	check "$1: daemon fds" "$base_fds" "$(fds)"
	_rss=$(mem VmRSS)
	log "$1: VmRSS $_rss KiB (before: $base_rss), peak $(mem VmHWM) KiB"
	sanitized || [ "$_rss" -le $((base_rss + 4096)) ] ||
	    fail "$1: VmRSS $_rss KiB, was $base_rss KiB"
}

# fill [MODE N]: 64 commands (sleep) held by abuse.py until
# $TMPD/release exists; $TMPD/busy says how many started.
fill() {
	rm -f "$TMPD/release" "$TMPD/busy"
	$PY "$TMPD/abuse.py" "$SOCK" "${1:-busy}" "${2:-64}" "$TMPD/done" \
	    "$TMPD/release" >"$TMPD/busy" 2>&1 &
	track $!
	_i=0
	while [ ! -s "$TMPD/busy" ] && [ $_i -lt 300 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}

# A daemon whose fd limit is 512 takes 64 clients at once.
(ulimit -Sn 512 && ulimit -Hn 512 && exec "$SPINDLE" daemon start) \
    >"$TMPD/out" 2>&1 || fail "daemon start: $(cat "$TMPD/out")"
contains "$TMPD/out" "(at most 64)" || fail "daemon start: $(cat "$TMPD/out")"
dpid=$(sed -n 's/^running, pid \([0-9]*\),.*/\1/p' "$TMPD/out")
[ -n "$dpid" ] || fail "no daemon pid in: $(cat "$TMPD/out")"
# What it holds at rest, its caches warm.
i=0
while [ $i -lt 5 ]; do
	run true 2>"$TMPD/err" || fail "warm-up: $(cat "$TMPD/err")"
	i=$((i + 1))
done
run_big >/dev/null 2>"$TMPD/err" || fail "warm-up: $(cat "$TMPD/err")"
base_fds=$(fds)
base_rss=$(mem VmRSS)
log "daemon $dpid: $base_fds fds, VmRSS $base_rss KiB"

# 1000 connections that say nothing: the longest idle make room for the
# newest, their own first: a lone client of another process, connected
# before them and silent while they come, is still served; the last 64
# go at the HELLO deadline.
$PY "$TMPD/lone.py" "$SOCK" "$TMPD/done.connected" >"$TMPD/lone" 2>&1 &
track $!
_i=0
until grep -q connected "$TMPD/lone" 2>/dev/null; do
	[ $_i -lt 100 ] || fail "lone.py did not connect: $(cat "$TMPD/lone")"
	sleep 0.1
	_i=$((_i + 1))
done
abuse silent 1000
[ "$(tail -n 1 "$TMPD/lone")" = hello ] ||
    fail "a lone client before 1000 silent ones of another process: $(tail -n 1 "$TMPD/lone")"
[ "$RAN" -ge 3 ] || fail "only $RAN commands ran during the silent connections"
[ "$MAXFDS" -le $((base_fds + 64 + 16)) ] ||
    fail "the daemon had $MAXFDS fds for 64 clients (base $base_fds)"
check "silent ones dropped, or timed out, each with an ERROR" 1000 \
    "$(($(said '^too many clients') + $(said '^no HELLO within 10 s')))"
[ "$(said '^no HELLO within 10 s')" -ge 1 ] || fail "no silent one timed out"
back_to_base "after 1000 silent connections"

# A first message is HELLO (or STOP), of a few bytes: a big one is
# refused at its header.
abuse nohello 20
check "big first messages refused" 20 "$(said '^expected HELLO first')"

# 300 RUN requests of up to 1 MiB, half of each sent: unfinished
# requests of all clients together are held up to 32 MiB, the longest
# waiting dropped first.  Meanwhile another client's command line of
# 600 KiB gets through.
( sleep 1; run_big >"$TMPD/big" 2>"$TMPD/big.err"; echo $? >"$TMPD/big.rc" ) &
abuse half 300
[ "$RAN" -ge 3 ] || fail "only $RAN commands ran during the half-sent requests"
check_rc "a 600 KiB command during the half-sent ones" 0 \
    "$(cat "$TMPD/big.rc")" "$TMPD/big.err"
check "its output" 100000100000 "$(cat "$TMPD/big")"
check "half-sent ones dropped, or timed out, each with an ERROR" 300 \
    "$(($(said '^unfinished requests') + $(said '^no whole request within 10 s')))"
[ "$(said '^unfinished requests')" -ge 1 ] ||
    fail "32 MiB held, and nothing dropped"
peak=$(mem VmHWM)
sanitized || [ "$peak" -le $((base_rss + 40 * 1024)) ] ||
    fail "the daemon's RSS peaked at $peak KiB (base $base_rss)"
back_to_base "after 300 half-sent requests"

# cmds ROUTE: how many commands the daemon has on that route.
cmds() {
	"$SPINDLE" ls --json | $PY -c 'import json, sys
print(sum(r["commands"] for r in json.load(sys.stdin) if r["name"] == sys.argv[1]))' "$1"
}

# Commands waiting for their route hold their command lines: 32 of
# 1 MiB take all the daemon holds, so another client's request of
# 600 KiB is dropped halfway, and that client says why.
cat >>"$SPINDLE_ROUTES" <<EOF
route hang local
    password-command sleep 59.3
EOF
fill hang 32
i=0
while [ "$(cmds hang)" != 32 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "commands waiting for route hang" 32 "$(cmds hang)"
run_big 2>"$TMPD/err"
check_rc "a 600 KiB command when 32 MiB are held" 255 $? "$TMPD/err"
check "its error" \
    "spindle: unfinished requests of all clients over 32 MiB: try again later" \
    "$(cat "$TMPD/err")"
"$SPINDLE" down hang || fail "down hang"
touch "$TMPD/release"
wait
back_to_base "after 32 commands waiting"

# As many commands as the daemon takes clients: the next command is
# turned away, with the reason; what is answered at once still is.
fill
check "commands running" "started 64" "$(cat "$TMPD/busy")"
run true 2>"$TMPD/err"
check_rc "run with 64 commands running" 255 $? "$TMPD/err"
contains "$TMPD/err" "spindle: too many clients: 64 commands running" ||
    fail "run when full: $(cat "$TMPD/err")"
"$SPINDLE" daemon status >"$TMPD/out" 2>&1
check_rc "status with 64 commands running" 0 $? "$TMPD/out"
contains "$TMPD/out" "65 clients (at most 64)" ||
    fail "status when full: $(cat "$TMPD/out")"
touch "$TMPD/release"
wait
out=$(run echo room again 2>"$TMPD/err")
check_rc "run once they are gone" 0 $? "$TMPD/err"
check "run once they are gone" "room again" "$out"
back_to_base "after 64 commands"

# Full again, STOP still gets through.
fill
check "commands running again" "started 64" "$(cat "$TMPD/busy")"
timeout 20 "$SPINDLE" daemon stop >"$TMPD/out" 2>&1
check_rc "daemon stop with 64 commands running" 0 $? "$TMPD/out"
wait_gone "$dpid" 10 || fail "the daemon did not stop"
touch "$TMPD/release"
wait
pass
