#!/usr/bin/env bash
# build-musl-deps.sh OUTDIR
# build-musl-deps.sh --fetch DIR
#
# Builds static libevent_core (with thread support and libevent_pthreads),
# zlib and msgpack-c for musl (musl-gcc) from Debian 12 (bookworm) source
# packages, so a fully static musl agent, and libspindle programs, can
# link them.  With --fetch it only puts the three orig tarballs, checked,
# in DIR (tools/vendor-deps: DIR is deps/ of the source tree).
#
# Result:
#   OUTDIR/include/{event2/*.h, event.h, evutil.h, ..., zlib.h, zconf.h,
#                   msgpack.h, msgpack/*.h}
#   OUTDIR/lib/{libevent_core.a, libevent_pthreads.a, libz.a, libmsgpackc.a}
#   OUTDIR/.stamp   (written last; if present the script exits 0 at once)
#
# Sources, the Debian orig tarballs, from the first of:
#   1. SPINDLE_DEPS_SRC (configure --with-musl-deps-src=DIR), which must
#      hold all three;
#   2. deps/ next to this script's directory (a vendored source tree);
#   3. OUTDIR/src/dl, what an earlier run fetched;
#   4. apt-get source through a private apt configuration under
#      OUTDIR/src/apt (the system apt config is never touched).
# Whatever the source, each tarball must have the sha256 recorded below
# (the .dsc of the Debian 12 package): a tampered or other version is
# refused.  Offline with none of them, the script says so and how to fix it.
# Debian's patches are not applied (not needed for this static build).
#
# DEPS_VERSION below names what the script builds: a cache from another
# version is rebuilt, not trusted.
#
# Environment:
#   SPINDLE_DEPS_SRC  directory with the orig tarballs (optional)
#   SPINDLE_DEPS_NOFETCH  non-empty: never fetch (package builds)
#   MUSL_CC           compiler to use (default: musl-gcc)
#   JOBS              parallel make jobs (default: 2)
#
# Quiet on success; build output goes to OUTDIR/src/build.log.

set -eu

usage() { echo "usage: $0 [--fetch] OUTDIR" >&2; exit 2; }
FETCH_ONLY=
if [ "${1:-}" = --fetch ]; then FETCH_ONLY=1; shift; fi
if [ $# -ne 1 ] || [ -z "$1" ]; then usage; fi

CC_MUSL=${MUSL_CC:-musl-gcc}
JOBS=${JOBS:-2}
DEPS_SRC=${SPINDLE_DEPS_SRC:-}
VENDOR=$(cd "$(dirname "$0")/.." && pwd -P)/deps

# Don't let the caller's toolchain settings leak into the musl build (glibc
# include paths, sanitizers, CC=clang from a parent `make CC=...`, ...).
unset CC CPP CFLAGS CPPFLAGS LDFLAGS LIBS CONFIG_SITE
unset MAKEFLAGS MFLAGS MAKEFILES MAKELEVEL GNUMAKEFLAGS
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian

# The orig tarballs of libevent 2.1.12-stable-8, zlib 1:1.2.13.dfsg-1 and
# msgpack-c 4.0.0-3 (Debian 12), with the sha256 their .dsc gives.
ORIGS="libevent_2.1.12-stable.orig.tar.gz zlib_1.2.13.dfsg.orig.tar.bz2
msgpack-c_4.0.0.orig.tar.gz"
orig_sha256() {
    case $1 in
    libevent_*) echo 92e6de1be9ec176428fd2367677e61ceffc2ee1cb119035037a27d346b0403bb ;;
    zlib_*) echo 71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1 ;;
    msgpack-c_*) echo 420fe35e7572f2a168d17e660ef981a589c9cbe77faa25eb34a520e1fcc032c8 ;;
    esac
}

mkdir -p "$1"
OUTDIR=$(cd "$1" && pwd -P)
STAMP=$OUTDIR/.stamp
DEPS_VERSION=2	# 2: libevent threads, libevent_pthreads, msgpack-c
stamp_ok() { [ -z "$FETCH_ONLY" ] && [ -e "$STAMP" ] &&
    grep -qx "deps=$DEPS_VERSION" "$STAMP"; }
stamp_ok && exit 0

if [ -n "$FETCH_ONLY" ]; then SRC=$OUTDIR/.fetch; else SRC=$OUTDIR/src; fi
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

# ---------------------------------------------------------------- sources
# missing_in DIR: the tarballs DIR lacks.  has_all DIR: it lacks none.
missing_in() {
    for f in $ORIGS; do [ -f "$1/$f" ] || printf ' %s' "$f"; done
}
has_all() { [ -d "$1" ] && [ -z "$(missing_in "$1")" ]; }

# The one error when no source worked: what is missing, the ways to fix it.
no_sources() {
    trap - ERR
    cat >&2 <<EOF
build-musl-deps: error: no sources for the musl agent's libraries:
  missing$(missing_in "$SRC/dl")
  ($1; details in $LOG)
Fix it one of these ways, then run make again:
  - let this machine reach deb.debian.org (apt-get source fetches them);
  - ./configure --with-musl-deps-src=DIR (or SPINDLE_DEPS_SRC=DIR), DIR holding them;
  - put them in deps/ of the source tree (tools/vendor-deps fetches them there);
  - or ./configure --with-agent-libc=glibc (no musl: a bigger agent, no musl libspindle).
EOF
    exit 1
}

# verify DIR: each tarball in DIR has its recorded sha256.
verify() {
    for f in $ORIGS; do
        want=$(orig_sha256 "$f")
        got=$(sha256sum "$1/$f" | cut -d' ' -f1)
        [ "$got" = "$want" ] && continue
        trap - ERR
        echo "build-musl-deps: error: $1/$f: sha256 $got," \
            "expected $want (Debian 12): refusing a tampered or other" \
            "tarball; replace it with Debian's" >&2
        exit 1
    done
}

STEP=fetch-sources
if [ -n "$DEPS_SRC" ]; then
    has_all "$DEPS_SRC" || {
        trap - ERR
        echo "build-musl-deps: error: --with-musl-deps-src or" \
            "SPINDLE_DEPS_SRC=$DEPS_SRC lacks$(missing_in "$DEPS_SRC")" >&2
        exit 1
    }
    DL=$(cd "$DEPS_SRC" && pwd -P)
elif has_all "$VENDOR"; then
    DL=$VENDOR
elif [ -z "$FETCH_ONLY" ] && has_all "$SRC/dl"; then
    DL=$SRC/dl
else
    DL=$SRC/dl
    mkdir -p "$DL"
    # A package build must not reach the network (debian/rules sets it).
    [ -z "${SPINDLE_DEPS_NOFETCH:-}" ] ||
        no_sources "fetching is off: SPINDLE_DEPS_NOFETCH is set"
    command -v apt-get >/dev/null 2>&1 || no_sources "apt-get not found"
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
    echo "+ [apt-update] apt-get update" >>"$LOG"
    { apt-get "$@" update >>"$LOG" 2>&1 &&
        ! grep -q '^[WE]: Failed to fetch' "$LOG"; } ||
        no_sources "apt-get update from $DEBIAN_MIRROR failed: no network?"
    echo "+ [apt-source] apt-get source libevent zlib msgpack-c" >>"$LOG"
    (cd "$DL" && apt-get "$@" source --download-only libevent zlib msgpack-c) \
        >>"$LOG" 2>&1 ||
        no_sources "apt-get source libevent zlib msgpack-c failed"
    has_all "$DL" || no_sources "apt-get source fetched other versions"
fi
echo "sources: $DL" >>"$LOG"
verify "$DL"
LIBEVENT_TAR=$DL/libevent_2.1.12-stable.orig.tar.gz
ZLIB_TAR=$DL/zlib_1.2.13.dfsg.orig.tar.bz2
MSGPACK_TAR=$DL/msgpack-c_4.0.0.orig.tar.gz

if [ -n "$FETCH_ONLY" ]; then
    for f in $ORIGS; do
        [ "$DL/$f" -ef "$OUTDIR/$f" ] || cp "$DL/$f" "$OUTDIR/$f"
    done
    rm -rf "$SRC"
    trap - ERR
    exit 0
fi

command -v "$CC_MUSL" >/dev/null 2>&1 ||
    fail "'$CC_MUSL' not found (apt-get install musl-tools)"
for t in make tar gzip bzip2 xz; do
    command -v "$t" >/dev/null 2>&1 || fail "'$t' not found"
done

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
