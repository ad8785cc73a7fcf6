/*
 * bootstrap room: starting a child context.  A connection method builds the
 * argv of a process (sh, later ssh, sudo, ...); we feed it stage 0, the
 * agent image and a BOOT frame on stdin and hand its pipes to the router.
 */
#ifndef SPN_BOOTSTRAP_H
#define SPN_BOOTSTRAP_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "../router/router.h"

/* stage0.c */
const char	*boot_remote_cmd(void);
const char	*boot_remote_cmd_fd34(void);
const char	*boot_stage0_reader(void);
const char	*boot_arch(void);
char		*boot_stage0(size_t, int, const char *);
char		*boot_argv0(void);

/* image.c; boot_image_own(): image-self.c (agent), image-embed.c (master) */
int		 boot_image(int, const uint8_t **, size_t *);
int		 boot_image_own(int, const uint8_t **, size_t *);
int		 boot_image_set(const char *, char *, size_t);
const char	*boot_image_check(const uint8_t *, size_t);
int		 boot_image_read(const char *, uint8_t **, size_t *);
int		 boot_image_inflate(const uint8_t *, size_t, uint8_t **,
		     size_t *);
int		 boot_image_deflate(const uint8_t *, size_t, uint8_t **,
		     size_t *);

/* spawn.c */
/* How the spindle command is given a password, named when a hop wants
 * one and has none; libspindle says its own way instead (lib/ctx.c). */
#define CONNECT_PW_HINT	"--ask-pass, --password-file or --password-fd"

struct spawn {
	pid_t	 pid;
	int	 in;	/* child's stdin, we write */
	int	 out;	/* child's stdout, we read */
	int	 err;	/* child's stderr, we read */
	int	 tty;	/* pty master (the child's terminal), or -1 */
	int	 slave;	/* our copy of the slave, kept while it prompts */
};
enum spawn_mode {
	SPAWN_PIPES,		/* stdin, stdout, stderr are pipes */
	SPAWN_TTY,		/* ... and a pty is the controlling terminal */
	SPAWN_TTY_STDIO,	/* the pty on 0-2, the data pipes on 3 and 4 */
};
int		 spawn_start(char *const *, struct spawn *, int, char *, size_t);

/* method.c */
enum boot_status {
	BOOT_STATUS_AGENT,	/* the process becomes the agent */
	BOOT_STATUS_SSH,	/* 255: the connection dropped; a signal: its own */
	BOOT_STATUS_RELAY,	/* passes the agent's status (sudo its signal too) */
};
enum boot_verdict {
	BOOT_VERDICT_FIRST,	/* its first line gives the reason (sudo, su) */
	BOOT_VERDICT_LAST,	/* its last line does (ssh: the far end and
				 * banners speak first) */
	BOOT_VERDICT_ALL,	/* no tool in between: every line may */
};
struct boot_method {
	const char	*name;
	int		 compress;	/* send the image gzip'd */
	const char	*prompt;	/* its pty's output ends with this when it
					 * wants a password; NULL: no pty */
	const char	*what;		/* "sudo" in "sudo: incorrect password" */
	int		 mode;		/* enum spawn_mode */
	int		 status;	/* enum boot_status */
	char		**(*argv)(char *const *, int, char *, size_t);
	int		 verdict;	/* enum boot_verdict */
	const char *const *chatter;	/* fnmatch patterns of lines that never
					 * give the reason, or NULL */
};
const struct boot_method *boot_method_find(const char *);
int		 boot_method_chatter(const struct boot_method *,
		     const char *);

/* connect.c */
struct boot_req {
	uint32_t	 id;
	char		*name;		/* the route up to this hop */
	char		*method;
	char		**args;
	int		 keepalive;
	int		 timeout;
	int		 level;
	char		*password;	/* for a prompting method, or NULL */
};
struct child;
typedef void boot_done_fn(struct child *, const char *, void *);
struct child	*boot_connect(struct rt *, const struct boot_req *,
		     boot_done_fn *, void *, char *, size_t);
pid_t		 child_pid(struct child *);
pid_t		 child_proc(struct child *);
const char	*child_arch(struct child *);
void		 boot_req_pack(struct pk *, const struct boot_req *);
int		 boot_req_unpack(struct upk *, struct boot_req *);
void		 boot_req_free(struct boot_req *);
void		 connect_service_init(struct rt *);

#endif
