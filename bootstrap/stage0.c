/*
 * Stage 0: the one line the remote /bin/sh reads and evals.  It reports the
 * remote architecture, then loads the agent image that follows it on stdin
 * into a memfd (via perl, else python3) and execs it; with neither, it
 * falls back to a file in a RAM or temp directory that the agent unlinks at
 * once.  Exit codes: 97 wrong arch, 99 image truncated, 96 no way to run
 * the agent.
 */
#include <sys/utsname.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap.h"

#if defined(__x86_64__)
#define ARCH		"x86_64"
#define MEMFD_NR	319
#elif defined(__aarch64__)
#define ARCH		"aarch64"
#define MEMFD_NR	279
#elif defined(__riscv) && __riscv_xlen == 64
#define ARCH		"riscv64"
#define MEMFD_NR	279
#elif defined(__i386__)
#define ARCH		"i?86"
#define MEMFD_NR	356
#elif defined(__arm__)
#define ARCH		"armv7*"
#define MEMFD_NR	385
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARCH		"ppc64le"
#define MEMFD_NR	360
#elif defined(__s390x__)
#define ARCH		"s390x"
#define MEMFD_NR	350
#else
#error "unsupported architecture"
#endif

#define STR_(x)	#x
#define STR(x)	STR_(x)

/*
 * The login shell (bash, dash, tcsh, fish) runs this; it must stay short
 * and shell-neutral.  `read` takes one byte at a time, so the image that
 * follows the stage 0 line stays in the pipe.
 */
const char *
boot_remote_cmd(void)
{
	return "exec /bin/sh -c 'read -r L;eval \"$L\"'";
}

/*
 * What /bin/sh runs when we start it ourselves (sudo, doas).  ${L}, not
 * $L: sudo -i escapes every special character but '$' for the login
 * shell, and '$' before an escaped '{' stays a plain '$'.
 */
const char *
boot_stage0_reader(void)
{
	return "read -r L;eval \"${L}\"";
}

/* The same, for a method whose stdio is a terminal (su): data on 3/4. */
const char *
boot_remote_cmd_fd34(void)
{
	return "exec /bin/sh -c 'read -r L;eval \"$L\"' <&3 >&4 3<&- 4<&-";
}

const char *
boot_arch(void)
{
	return ARCH;
}

/*
 * perl: memfd, then sysread exactly $1 bytes (through gzip -dc if $2 is 1)
 * and exec it as $3.  Without a usable memfd, stdin is still untouched:
 * hand over to SPN_G (python3, then the file fallback).
 */
static const char stage0_perl[] =
    "($s,$z,$n)=@ARGV;"
    "$f=syscall(" STR(MEMFD_NR) ",$m=\"spindle\",16);"
    "$f=syscall(" STR(MEMFD_NR) ",$m,0)if$f<0;"
    "$f>=0&&-x\"/proc/self/fd/$f\"&&open(G,$z?\"|gzip -dc >&$f\":\">&$f\")"
    "or exec{\"/bin/sh\"}\"sh\",\"-c\",$ENV{SPN_G},\"sh\",@ARGV;binmode G;"
    "while($s>0){$r=sysread(STDIN,$b,$s<65536?$s:65536);$r>0 or exit 99;"
    "print G $b;$s-=$r}close G or exit 99;"
    "exec{\"/proc/self/fd/$f\"}$n;exit 99";

/* python3: the same, with zlib built in; else the file fallback. */
static const char stage0_python[] =
    "import os,sys,zlib;"
    "exec(\"def F():\\n s,z,n=int(sys.argv[1]),sys.argv[2]==\\\"1\\\","
    "sys.argv[3]\\n m=getattr(os,\\\"memfd_create\\\",None)\\n"
    " if not m:return\\n"
    " try:f=m(\\\"spindle\\\",17)\\n except OSError:\\n"
    "  try:f=m(\\\"spindle\\\",1)\\n  except OSError:return\\n"
    " p=\\\"/proc/self/fd/%d\\\"%f\\n"
    " if not os.access(p,os.X_OK):return\\n b=[]\\n"
    " while s>0:\\n  r=os.read(0,min(s,65536))\\n"
    "  if not r:sys.exit(99)\\n  b.append(r);s-=len(r)\\n"
    " b=b\\\"\\\".join(b)\\n if z:b=zlib.decompress(b,31)\\n"
    " os.write(f,b)\\n os.execv(p,[n])\\nF()\");"
    "os.execv(\"/bin/sh\",[\"sh\",\"-c\",os.environ[\"SPN_F\"],\"sh\"]+"
    "sys.argv[1:])";

/* No interpreter: a file in the first directory that allows exec. */
static const char stage0_file[] =
    "for d in \"$XDG_RUNTIME_DIR\" /dev/shm /tmp \"$HOME\";do "
    "[ -n \"$d\" ]&&[ -d \"$d\" ]&&[ -w \"$d\" ]||continue;"
    "F=\"$d/.spindle.$$\";"
    "(umask 077;echo \"#!/bin/sh\">\"$F\")&&chmod 700 \"$F\"&&"
    "\"$F\" 2>/dev/null||{ rm -f \"$F\";continue;};"
    "if [ $2 = 1 ];then dd bs=$1 count=1 iflag=fullblock 2>/dev/null|"
    "gzip -dc>\"$F\";else dd bs=$1 count=1 iflag=fullblock 2>/dev/null"
    ">\"$F\";fi||exit 99;exec \"$F\" -u \"$F\" \"$3\";done;"
    "echo \"spindle: cannot start the agent: no perl, no python3 and no "
    "writable directory that allows exec\" >&2;exit 96";

/*
 * Each step execs the next, so no shell lingers above the agent and the
 * process we started is the agent itself.  The SPN_* variables carry the
 * fallbacks; the agent removes them from its environment.
 */
char *
boot_stage0(size_t len, int compressed, const char *argv0)
{
	return xprintf("M=$(uname -m 2>/dev/null);echo SPN0 $M;"
	    "case $M in %s);;*)exit 97;;esac;"
	    "SPN_Y='%s';SPN_F='%s';"
	    "SPN_G='command -v python3 >/dev/null&&exec python3 -c \"$SPN_Y\" "
	    "\"$@\";eval \"$SPN_F\"';export SPN_Y SPN_F SPN_G;"
	    "set -- %zu %d '%s';"
	    "command -v perl >/dev/null&&exec perl -e '%s' \"$@\";"
	    "eval \"$SPN_G\"\n",
	    ARCH, stage0_python, stage0_file, len, compressed, argv0,
	    stage0_perl);
}

static char *
sanitized(const char *in)
{
	char *s = xstrdup(in);

	for (char *p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("._-", *p) == NULL)
			*p = '_';
	}
	return s;
}

/* The name a child shows in ps: spindle:USER@HOST:PID of its parent. */
char *
boot_argv0(void)
{
	struct utsname un;
	char *user, *host, *name;

	if (uname(&un) != 0)
		strcpy(un.nodename, "unknown");
	user = passwd_name(getuid());
	host = sanitized(un.nodename);
	name = sanitized(user);
	free(user);
	user = name;
	name = xprintf("spindle:%s@%s:%ld", user, host, (long)getpid());
	free(user);
	free(host);
	return name;
}
