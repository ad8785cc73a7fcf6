/*
 * tail-log: follow a file in a context, as tail -f does, over a channel
 * (Mitogen's tail_log_file, docs/index.rst).
 *
 *	spindle-cc -o tail-log tail-log.c
 *	./tail-log admin@bastion+web /var/log/syslog
 *
 * tail_log() runs in the context: it sends the file's lines, then polls
 * its size and sends each line added, with spn_send, until the receiver
 * here is closed (spn_send says SPN_ECLOSED) or the call is cancelled.
 * Ctrl-C here does both: the program, not the library, handles SIGINT.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <spindle.h>

/* Loops running in this copy, for tail_running(). */
static int running;

/* Each complete line of buf, as bytes; what is left moves to its start. */
static int
send_lines(struct spn_sender *tx, char *buf, size_t *have, uint64_t *n)
{
	char *p = buf, *nl;
	int rc = SPN_OK;

	while (rc == SPN_OK &&
	    (nl = memchr(p, '\n', buf + *have - p)) != NULL) {
		rc = spn_send(tx, -1, "y", p, (size_t)(nl - p));
		p = nl + 1;
		(*n)++;
	}
	*have -= p - buf;
	memmove(buf, p, *have);
	return rc;
}

static int
tail_log(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	const char *path = spn_arg_str(args, 0);
	struct spn_sender *tx = spn_arg_sender(args, 1);
	char buf[16384];
	size_t have = 0;
	uint64_t lines = 0;
	off_t off = 0;
	struct stat st;
	ssize_t got;
	int fd, rc = SPN_OK;

	if ((fd = open(path, O_RDONLY)) == -1) {
		spn_sender_close(tx);
		return spn_fail(call, errno, "open %s", path);
	}
	__atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
	while (rc == SPN_OK && !spn_cancelled(call)) {
		if (fstat(fd, &st) == 0 && st.st_size < off) {
			off = lseek(fd, 0, SEEK_SET);	/* truncated */
			have = 0;
		}
		if (fstat(fd, &st) != 0 || st.st_size == off) {
			usleep(100 * 1000);
			continue;
		}
		if ((got = read(fd, buf + have, sizeof buf - have)) <= 0) {
			usleep(100 * 1000);
			continue;
		}
		off += got;
		have += got;
		rc = send_lines(tx, buf, &have, &lines);
		if (rc == SPN_OK && have == sizeof buf) {
			/* A line longer than the buffer goes in pieces. */
			rc = spn_send(tx, -1, "y", buf, have);
			have = 0;
		}
	}
	close(fd);
	spn_sender_close(tx);
	__atomic_sub_fetch(&running, 1, __ATOMIC_SEQ_CST);
	/* The receiver closed or the caller gave up: the way to end. */
	if (rc != SPN_OK && rc != SPN_ECLOSED)
		return spn_fail(call, 0, "spn_send: %s", spn_strerror(rc));
	return spn_vbuf_put(res, "u", lines);
}
SPN_EXPORT(tail_log, "s,S->u");

static int
tail_running(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	(void)call;
	(void)args;
	return spn_vbuf_put(res, "i",
	    (int64_t)__atomic_load_n(&running, __ATOMIC_SEQ_CST));
}
SPN_EXPORT(tail_running, "->i");

static volatile sig_atomic_t interrupted;

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	struct spn *spn;
	struct spn_ctx *ctx;
	struct spn_recv *rx, *call;
	struct spn_msg *m;
	struct spn_error err;
	const void *line;
	size_t len;
	int64_t left = 1;
	int rc, i;

	/* Copies of this program in remote contexts never pass this line. */
	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 1;
	if (argc != 3) {
		fprintf(stderr, "usage: tail-log ROUTE FILE\n");
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;	/* no SA_RESTART: a wait ends early */
	sigaction(SIGINT, &sa, NULL);
	if (spn_connect(spn, argv[1], NULL, &ctx, &err) != SPN_OK ||
	    spn_channel_open(spn, ctx, 0, &rx, &err) != SPN_OK ||
	    spn_call_async(ctx, "tail_log", &call, &err, "sS", argv[2],
	    spn_recv_sender(rx)) != SPN_OK) {
		spn_error_print(&err);
		return 1;
	}
	while (!interrupted) {
		rc = spn_recv_get(rx, 200, &m, &err);
		if (rc == SPN_OK) {
			line = spn_arg_bytes(spn_msg_value(m), 0, &len);
			fwrite(line, 1, len, stdout);
			putchar('\n');
			fflush(stdout);
			spn_msg_free(m);
		} else if (rc != SPN_ETIMEDOUT)
			break;
		else if (spn_recv_get(call, 0, &m, &err) != SPN_ETIMEDOUT) {
			spn_error_print(&err);	/* it ended: open failed */
			return 1;
		}
	}
	/* Closing the receiver ends a spn_send there; the cancel ends a
	 * loop that waits for the file to grow. */
	spn_recv_close(rx);
	spn_recv_cancel(call);
	spn_recv_close(call);
	for (i = 0; i < 50 && left != 0; i++) {
		if (spn_call(ctx, "tail_running", 5000, &m, &err, "") != SPN_OK)
			break;
		left = spn_arg_int(spn_msg_value(m), 0);
		spn_msg_free(m);
		if (left != 0)
			usleep(20 * 1000);
	}
	fprintf(stderr, "tail-log: %s\n", left == 0 ? "the remote loop ended" :
	    "the remote loop is still running");
	spn_ctx_unref(ctx);
	spn_shutdown(spn);
	return left == 0 ? 0 : 1;
}
