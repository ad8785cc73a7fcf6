#!/bin/sh
# Run by tools/static-check inside its "jump host" chroot: the static
# spindle alone (/bin/spindle) with a shell and a few tools, no perl or
# python3.  One PASS:/FAIL: line per check.
export SPINDLE_RUNTIME_DIR=/tmp/rt
T=30
ok() { echo "PASS: static: jump host: $*"; }
ko() { echo "FAIL: static: jump host: $*"; }
trap 'timeout $T spindle daemon stop >/dev/null 2>&1' EXIT

if timeout $T spindle run local -- true; then
	ok "run local -- true"
else
	ko "run local -- true"
fi
out=$(timeout $T spindle run local+local -- id -u)
if [ "$out" = 0 ]; then
	ok "run local+local"
else
	ko "run local+local: '$out'"
fi

# A named route of the routes file: through the daemon it starts.
mkdir -p /root/.config/spindle
echo "route jump local+local" >/root/.config/spindle/routes
out=$(timeout $T spindle run jump -- echo up)
if [ "$out" = up ] && timeout $T spindle ls | grep -q '^jump .*up'; then
	ok "named route through the daemon"
else
	ko "named route: '$out', ls: $(timeout $T spindle ls 2>&1)"
fi

# The shim: ssh is spindle, as fakessh-bin links it.
d=$(timeout $T spindle fakessh-bin)
[ -x "$d/ssh" ] || ko "fakessh-bin: '$d'"
out=$(timeout $T "$d/ssh" local echo shim)
out2=$(timeout $T "$d/ssh" jump echo named)
if [ "$out" = shim ] && [ "$out2" = named ]; then
	ok "ssh shim (ssh local, ssh jump)"
else
	ko "ssh shim: '$out' '$out2'"
fi

# No gateway here: said, not hung.
timeout $T spindle ssh-config >/dev/null 2>/tmp/err
if [ $? = 1 ] && grep -q "has no gateway" /tmp/err; then
	ok "ssh-config: no gateway"
else
	ko "ssh-config: $(cat /tmp/err)"
fi

# doctor names the build (its ssh check fails here: no ssh in the chroot).
out=$(timeout $T spindle doctor --quick 2>&1)
if echo "$out" | grep -q '^ok *spindle .*(static musl)' &&
    echo "$out" | grep -q 'gateway .*has no gateway'; then
	ok "doctor: static musl, no gateway"
else
	ko "doctor: $out"
fi
