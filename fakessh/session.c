/*
 * What sshd's session does that both of our ssh servers do, the shim
 * (fakessh/shim.c) and the gateway (fakessh/gw-exec.c): the sftp
 * subsystem as the far side's own sftp-server, and which variables a
 * client may set (Debian's sshd AcceptEnv).
 */
#include <string.h>

#include "config.h"
#include "fakessh.h"

/* Where distributions put sftp-server; the first that runs wins. */
const char session_sftp[] =
    "for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server "
    "/usr/libexec/sftp-server /usr/lib/ssh/sftp-server /usr/lib/sftp-server "
    "/usr/local/libexec/sftp-server /usr/lib/misc/sftp-server; do "
    "[ -x \"$p\" ] && exec \"$p\"; done; "
    "echo \"spindle: no sftp-server on $(uname -n) (looked in "
    "/usr/lib/openssh, /usr/libexec/openssh, /usr/libexec, /usr/lib/ssh, "
    "/usr/lib, /usr/local/libexec)\" >&2; exit 127";

/*
 * A variable ("NAME" or "NAME=VALUE") a client may set on the far side:
 * Debian's sshd AcceptEnv (LANG LC_* COLORTERM).  Anything else could
 * change what the far side runs (PATH, LD_PRELOAD, BASH_ENV).
 */
int
session_env_accepted(const char *var)
{
	size_t n = strcspn(var, "=");

	return (n == 4 && strncmp(var, "LANG", 4) == 0) ||
	    (n > 3 && strncmp(var, "LC_", 3) == 0) ||
	    (n == 9 && strncmp(var, "COLORTERM", 9) == 0);
}
