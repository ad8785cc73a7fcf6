#!/usr/bin/env bash
# build-musl-deps.sh OUTDIR
#
# Builds static libevent_core (with thread support and libevent_pthreads),
# zlib and msgpack-c for musl (musl-gcc) from Debian 12 (bookworm) source
# packages, so a fully static musl agent, and libspindle programs, can
# link them.
#
# Result:
#   OUTDIR/include/{event2/*.h, event.h, evutil.h, ..., zlib.h, zconf.h,
#                   msgpack.h, msgpack/*.h}
#   OUTDIR/lib/{libevent_core.a, libevent_pthreads.a, libz.a, libmsgpackc.a}
#   OUTDIR/.stamp   (written last; if present the script exits 0 at once)
#
# Sources: the Debian orig tarballs, fetched with apt-get source through a
# private apt configuration under OUTDIR/src/apt (the system apt config is
# never touched). If SPINDLE_DEPS_SRC names a directory holding
# libevent_*, zlib_* and msgpack-c_*.orig.tar.*, those are used instead.
# Debian's patches are not applied (not needed for this static build).
#
# DEPS_VERSION below names what the script builds: a cache from another
# version is rebuilt, not trusted.
#
# Environment:
#   SPINDLE_DEPS_SRC  directory with the orig tarballs (optional)
#   MUSL_CC           compiler to use (default: musl-gcc)
#   JOBS              parallel make jobs (default: 2)
#
# Quiet on success; build output goes to OUTDIR/src/build.log.

set -eu

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
if [ $# -ne 1 ] || [ -z "$1" ]; then usage; fi

CC_MUSL=${MUSL_CC:-musl-gcc}
JOBS=${JOBS:-2}

# Don't let the caller's toolchain settings leak into the musl build (glibc
# include paths, sanitizers, CC=clang from a parent `make CC=...`, ...).
unset CC CPP CFLAGS CPPFLAGS LDFLAGS LIBS CONFIG_SITE
unset MAKEFLAGS MFLAGS MAKEFILES MAKELEVEL GNUMAKEFLAGS
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian

mkdir -p "$1"
OUTDIR=$(cd "$1" && pwd -P)
STAMP=$OUTDIR/.stamp
DEPS_VERSION=2	# 2: libevent threads, libevent_pthreads, msgpack-c
stamp_ok() { [ -e "$STAMP" ] && grep -qx "deps=$DEPS_VERSION" "$STAMP"; }
stamp_ok && exit 0

SRC=$OUTDIR/src
LOG=$SRC/build.log
mkdir -p "$SRC"

# Serialise concurrent runs on the same OUTDIR, then re-check the cache.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$SRC/.lock"
    flock 9
    stamp_ok && exit 0
fi

: >"$LOG"
STEP=setup

fail() {
    echo "build-musl-deps: FAILED at step '$STEP'${1:+: $1}" >&2
    if [ -s "$LOG" ]; then
        echo "---- last 40 lines of $LOG ----" >&2
        tail -n 40 "$LOG" >&2
        echo "---- end of log ----" >&2
    fi
    exit 1
}
trap 'fail' ERR

# run STEP-NAME CMD...: run CMD with output appended to the log.
run() {
    STEP=$1; shift
    echo "+ [$STEP] $*" >>"$LOG"
    "$@" >>"$LOG" 2>&1 || fail "command failed: $*"
}

command -v "$CC_MUSL" >/dev/null 2>&1 ||
    fail "'$CC_MUSL' not found (apt-get install musl-tools)"
for t in make tar gzip bzip2 xz; do
    command -v "$t" >/dev/null 2>&1 || fail "'$t' not found"
done

# find_orig DIR PKG: print the path of PKG's orig tarball in DIR (if any).
find_orig() {
    for f in "$1/$2"_*.orig.tar.gz "$1/$2"_*.orig.tar.bz2 "$1/$2"_*.orig.tar.xz; do
        [ -f "$f" ] && { echo "$f"; return 0; }
    done
    return 0
}

# ---------------------------------------------------------------- sources
STEP=fetch-sources
DL=""
if [ -n "${SPINDLE_DEPS_SRC:-}" ] && [ -d "$SPINDLE_DEPS_SRC" ] &&
   [ -n "$(find_orig "$SPINDLE_DEPS_SRC" libevent)" ] &&
   [ -n "$(find_orig "$SPINDLE_DEPS_SRC" zlib)" ] &&
   [ -n "$(find_orig "$SPINDLE_DEPS_SRC" msgpack-c)" ]; then
    DL=$(cd "$SPINDLE_DEPS_SRC" && pwd -P)
    echo "using tarballs from SPINDLE_DEPS_SRC=$DL" >>"$LOG"
else
    DL=$SRC/dl
    mkdir -p "$DL"
    if [ -z "$(find_orig "$DL" libevent)" ] || [ -z "$(find_orig "$DL" zlib)" ] ||
       [ -z "$(find_orig "$DL" msgpack-c)" ]; then
        APTDIR=$SRC/apt
        mkdir -p "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial"
        echo "deb-src $DEBIAN_MIRROR $DEBIAN_SUITE main" >"$APTDIR/sources.list"
        set -- \
            -o "Dir::Etc::SourceList=$APTDIR/sources.list" \
            -o "Dir::Etc::SourceParts=/dev/null" \
            -o "Dir::State=$APTDIR/state" \
            -o "Dir::Cache=$APTDIR/cache" \
            -o "APT::Sandbox::User=$(id -un)" \
            -q
        run apt-update apt-get "$@" update
        STEP=apt-source
        (cd "$DL" && apt-get "$@" source --download-only libevent zlib msgpack-c) >>"$LOG" 2>&1 ||
            fail "apt-get source --download-only libevent zlib msgpack-c"
    fi
fi
STEP=fetch-sources
LIBEVENT_TAR=$(find_orig "$DL" libevent)
ZLIB_TAR=$(find_orig "$DL" zlib)
MSGPACK_TAR=$(find_orig "$DL" msgpack-c)
[ -n "$LIBEVENT_TAR" ] || fail "no libevent_*.orig.tar.* in $DL"
[ -n "$ZLIB_TAR" ] || fail "no zlib_*.orig.tar.* in $DL"
[ -n "$MSGPACK_TAR" ] || fail "no msgpack-c_*.orig.tar.* in $DL"
echo "libevent: $LIBEVENT_TAR" >>"$LOG"
echo "zlib:     $ZLIB_TAR" >>"$LOG"
echo "msgpack:  $MSGPACK_TAR" >>"$LOG"

mkdir -p "$OUTDIR/include" "$OUTDIR/lib"

# ---------------------------------------------------------------- libevent
LE=$SRC/libevent
rm -rf "$LE"
mkdir -p "$LE"
run libevent-unpack tar -xf "$LIBEVENT_TAR" -C "$LE" --strip-components=1

# Put the autotools outputs in dependency order so make never tries to
# rerun aclocal/automake/autoconf/autoheader (the installed versions differ
# from the ones that generated the tarball).
STEP=libevent-timestamps
now=$(date +%s)
find "$LE" -name aclocal.m4 -exec touch -d "@$((now - 20))" {} +
find "$LE" \( -name configure -o -name config.h.in -o -name Makefile.in \) \
    -exec touch -d "@$((now - 10))" {} +

CFLAGS_MUSL="-Os -ffunction-sections -fdata-sections"

# musl has no <sys/sysctl.h>; the explicit cache variable makes sure
# configure never picks one up (e.g. from host headers).
cd "$LE"
run libevent-configure ./configure \
    CC="$CC_MUSL" CFLAGS="$CFLAGS_MUSL" \
    ac_cv_header_sys_sysctl_h=no \
    --prefix="$OUTDIR" \
    --disable-shared --enable-static \
    --disable-openssl --disable-samples --disable-libevent-regress \
    --disable-debug-mode --enable-thread-support \
    --disable-dependency-tracking --disable-silent-rules
# event-config.h is a BUILT_SOURCE, which explicit targets don't trigger.
run libevent-build make include/event2/event-config.h
run libevent-build make -j"$JOBS" libevent_core.la libevent_pthreads.la
run libevent-install make install-include_event2HEADERS \
    install-nodist_include_event2HEADERS install-includeHEADERS
run libevent-install cp .libs/libevent_core.a "$OUTDIR/lib/libevent_core.a"
run libevent-install cp .libs/libevent_pthreads.a \
    "$OUTDIR/lib/libevent_pthreads.a"
cd "$SRC"

# ---------------------------------------------------------------- zlib
ZD=$SRC/zlib
rm -rf "$ZD"
mkdir -p "$ZD"
run zlib-unpack tar -xf "$ZLIB_TAR" -C "$ZD" --strip-components=1
cd "$ZD"
STEP=zlib-configure
echo "+ [$STEP] CC=$CC_MUSL CFLAGS='$CFLAGS_MUSL' ./configure --static --prefix=$OUTDIR" >>"$LOG"
CC="$CC_MUSL" CFLAGS="$CFLAGS_MUSL" ./configure --static --prefix="$OUTDIR" >>"$LOG" 2>&1 ||
    fail "zlib ./configure"
run zlib-build make -j"$JOBS" libz.a
run zlib-install cp libz.a "$OUTDIR/lib/libz.a"
run zlib-install cp zlib.h zconf.h "$OUTDIR/include/"
cd "$SRC"

# ---------------------------------------------------------------- msgpack-c
# Its build is CMake; five C files and two generated headers do not need
# it (the C part has no configuration but the byte order).
MP=$SRC/msgpack-c
rm -rf "$MP"
mkdir -p "$MP"
run msgpack-unpack tar -xf "$MSGPACK_TAR" -C "$MP" --strip-components=1
cd "$MP"
STEP=msgpack-headers
big=0; little=1
[ "$(printf '\1\0' | od -An -tu2 | tr -d ' ')" = 1 ] || { big=1; little=0; }
for h in sysdep.h pack_template.h; do
    sed -e "s/@MSGPACK_ENDIAN_BIG_BYTE@/$big/" \
        -e "s/@MSGPACK_ENDIAN_LITTLE_BYTE@/$little/" \
        "cmake/$h.in" >"include/msgpack/$h"
done
for c in src/*.c; do
    run msgpack-build "$CC_MUSL" $CFLAGS_MUSL -Iinclude -c "$c" \
        -o "${c%.c}.o"
done
run msgpack-build ar cr libmsgpackc.a src/*.o
run msgpack-install cp libmsgpackc.a "$OUTDIR/lib/libmsgpackc.a"
mkdir -p "$OUTDIR/include/msgpack"
run msgpack-install cp include/msgpack.h "$OUTDIR/include/"
run msgpack-install cp include/msgpack/*.h "$OUTDIR/include/msgpack/"
cd "$SRC"

# ---------------------------------------------------------------- check
STEP=verify
for f in lib/libevent_core.a lib/libevent_pthreads.a lib/libz.a \
         lib/libmsgpackc.a include/event2/event.h include/event2/thread.h \
         include/event2/event-config.h include/zlib.h include/zconf.h \
         include/msgpack.h; do
    [ -s "$OUTDIR/$f" ] || fail "missing $OUTDIR/$f"
done

{
    echo "deps=$DEPS_VERSION"
    echo "libevent=$(basename "$LIBEVENT_TAR")"
    echo "msgpack=$(basename "$MSGPACK_TAR")"
    echo "zlib=$(basename "$ZLIB_TAR")"
    echo "cc=$CC_MUSL"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$STAMP.tmp"
mv "$STAMP.tmp" "$STAMP"
trap - ERR
exit 0
