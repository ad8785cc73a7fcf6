#!/bin/sh
# make install puts the shim directory in $(pkglibexecdir)/fakessh-bin:
# ssh a link to the installed spindle, scp and sftp the very wrappers
# `spindle fakessh-bin` writes in the runtime directory (one text, in
# cli/shimdir.c); `fakessh-bin --make` mends a broken one; make uninstall
# removes it.  (That an installed spindle prints it: tools/deb-check.)
. "$(dirname "$0")/lib.sh"
: "${BUILDDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
D=$TMPD/root
SPINDLE_RUNTIME_DIR=$TMPD/run
export SPINDLE_RUNTIME_DIR
mkdir -m 700 "$SPINDLE_RUNTIME_DIR"
${MAKE:-make} -s -C "$BUILDDIR" install DESTDIR="$D" >"$TMPD/install" 2>&1 ||
    { cat "$TMPD/install" >&2; fail "make install DESTDIR=$D failed"; }
dir=$(find "$D" -type d -name fakessh-bin)
[ -n "$dir" ] && [ "$(echo "$dir" | wc -l)" = 1 ] ||
    fail "make install: expected one fakessh-bin directory, found '$dir'"
bin=$(find "$D" -path '*/bin/spindle' -type f)
[ -n "$bin" ] || fail "make install: no bin/spindle"
[ "$(readlink "$dir/ssh")" = "${bin#"$D"}" ] ||
    fail "$dir/ssh links to '$(readlink "$dir/ssh")', not ${bin#"$D"}"
run=$(spn fakessh-bin) || fail "spindle fakessh-bin failed"
for f in scp sftp; do
	[ -x "$dir/$f" ] || fail "$dir/$f is not executable"
	cmp -s "$dir/$f" "$run/$f" ||
	    fail "installed $f differs from the runtime directory's"
done
[ "$(ls -A "$dir" | sort | tr '\n' ' ')" = "scp sftp ssh " ] ||
    fail "$dir holds $(ls -A "$dir")"
# A wrong link and a changed wrapper are mended.
ln -sf /bin/false "$dir/ssh"
echo 'exit 1' >"$dir/scp"
spn fakessh-bin --make "$dir" --target "${bin#"$D"}" ||
    fail "fakessh-bin --make failed"
[ "$(readlink "$dir/ssh")" = "${bin#"$D"}" ] || fail "ssh not mended"
cmp -s "$dir/scp" "$run/scp" || fail "scp not mended"
spn fakessh-bin --make "$dir" >/dev/null 2>&1
[ $? = 2 ] || fail "fakessh-bin --make without --target: not a usage error"
${MAKE:-make} -s -C "$BUILDDIR" uninstall DESTDIR="$D" >"$TMPD/uninstall" \
    2>&1 || { cat "$TMPD/uninstall" >&2; fail "make uninstall failed"; }
[ -e "$dir" ] && fail "make uninstall left $dir: $(ls -A "$dir")"
left=$(find "$D" ! -type d)
[ -z "$left" ] || fail "make uninstall left $left"
pass
