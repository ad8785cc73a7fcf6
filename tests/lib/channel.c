/*
 * Channels, one case a run (lib-channel.sh):
 *
 *   channel order ROUTE      values arrive in order, then SPN_ECLOSED:
 *                            from an export (also through a one-shot
 *                            select), from four threads of one,
 *                            from the master to a context's receiver (the
 *                            master's sender), and from a master's export
 *                            to the receiver of the context that called it
 *   channel bulk ROUTE MB    MB MiB from the context through a channel in
 *                            64 KiB messages; prints MiB/s and the VmHWM
 *                            of every process of ours (each < 64 MiB)
 *   channel slow ROUTE       a receiver that does not read: the sender
 *                            blocks after one window; then read slowly,
 *                            the sender's RSS stays flat
 *   channel close ROUTE      the receiver closed while the remote sender
 *                            waits for credit: its spn_send returns
 *                            SPN_ECLOSED within 1 s; a sender that sends
 *                            now and then gets it at its next send
 *   channel third ROUTE      a context given a sender to a receiver whose
 *                            peer is another context cannot send to it
 *                            (it is cut off); the peer still can
 *   channel lost ROUTE       the peer's death: the receiver's get and the
 *                            master's spn_send to the dead context's
 *                            receiver return SPN_ELOST
 *
 * Exit 0 when the case holds, 1 with the reason on stderr.  CHAN_IMAGE
 * in the environment: the static build of this file, for a dynamic
 * build (a sanitizer's) to send to its contexts (spn_opts.image).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

#define CHUNK		(64 * 1024)
#define HWM_MAX_KIB	(64 * 1024)

static const char *prog;

static int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
fail(const char *what, int rc, const struct spn_error *err)
{
	char buf[1024];

	if (err != NULL && err->code != 0) {
		spn_error_format(err, buf, sizeof buf);
		fprintf(stderr, "%s: %s: %s (%s)\n", prog, what,
		    spn_strerror(rc), buf);
	} else
		fprintf(stderr, "%s: %s: %s\n", prog, what, spn_strerror(rc));
	return 1;
}

static int
failx(const char *fmt, const char *s, long a, long b)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, s, a, b);
	fputc('\n', stderr);
	return 1;
}

/* A line of /proc/PID/status, in KiB; -1 if none. */
static long
status_kib(const char *pid, const char *key)
{
	char path[320], line[256];
	size_t klen = strlen(key);
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%s/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			kib = strtol(line + klen + 1, NULL, 10);
	}
	fclose(f);
	return kib;
}

/* spn_recv_get, the message dropped. */
static int
get_drop(struct spn_recv *r, int timeout_ms, struct spn_error *err)
{
	struct spn_msg *m = NULL;
	int rc;

	rc = spn_recv_get(r, timeout_ms, &m, err);
	spn_msg_free(m);
	return rc;
}

/* The sender's side: n values "is" (i, "v<i>"), then close. */
static int
count(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	struct spn_sender *tx = spn_arg_sender(a, 0);
	int64_t n = spn_arg_int(a, 1);
	char s[32];
	int rc = SPN_OK;

	(void)r;
	if (tx == NULL)
		return spn_fail(call, 0, "no sender");
	for (int64_t i = 0; i < n && rc == SPN_OK; i++) {
		snprintf(s, sizeof s, "v%lld", (long long)i);
		rc = spn_send(tx, -1, "is", i, s);
	}
	spn_sender_close(tx);
	return rc == SPN_OK ? SPN_OK : spn_fail(call, 0, "spn_send: %s",
	    spn_strerror(rc));
}
SPN_EXPORT(count, "S,i->");

struct sender_thread {
	pthread_t	 t;
	struct spn_sender *tx;
	int64_t		 id;
	int64_t		 n;
	int		 rc;
};

static void *
sender_thread(void *arg)
{
	struct sender_thread *st = arg;

	st->rc = SPN_OK;
	for (int64_t i = 0; i < st->n && st->rc == SPN_OK; i++)
		st->rc = spn_send(st->tx, -1, "ii", st->id, i);
	return NULL;
}

/* Four threads of the export send on one sender, n each. */
static int
count4(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	struct sender_thread st[4];
	struct spn_sender *tx = spn_arg_sender(a, 0);
	int rc = SPN_OK;

	(void)r;
	if (tx == NULL)
		return spn_fail(call, 0, "no sender");
	for (int i = 0; i < 4; i++) {
		st[i].tx = tx;
		st[i].id = i;
		st[i].n = spn_arg_int(a, 1);
		pthread_create(&st[i].t, NULL, sender_thread, &st[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(st[i].t, NULL);
		if (st[i].rc != SPN_OK)
			rc = st[i].rc;
	}
	spn_sender_close(tx);
	return rc == SPN_OK ? SPN_OK : spn_fail(call, 0, "spn_send: %s",
	    spn_strerror(rc));
}
SPN_EXPORT(count4, "S,i->");

/* Takes "is" values from rx until SPN_ECLOSED: how many, in order. */
static int
take_counted(struct spn_recv *rx, int64_t n, int timeout_ms,
    struct spn_error *err)
{
	struct spn_msg *m;
	char want[32];
	const char *s;
	int64_t i;
	int rc;

	for (i = 0; ; i++) {
		if ((rc = spn_recv_get(rx, timeout_ms, &m, err)) != SPN_OK)
			break;
		snprintf(want, sizeof want, "v%lld", (long long)i);
		s = spn_arg_str(spn_msg_value(m), 1);
		if (spn_arg_int(spn_msg_value(m), 0) != i || s == NULL ||
		    strcmp(s, want) != 0) {
			spn_msg_free(m);
			return failx("value %s out of order (%ld of %ld)", s,
			    (long)i, (long)n);
		}
		spn_msg_free(m);
	}
	if (rc != SPN_ECLOSED)
		return fail("spn_recv_get", rc, err);
	if (i != n)
		return failx("%s%ld values, not %ld", "", (long)i, (long)n);
	return 0;
}

/* A receiver of this context, for the master to send to. */
static struct spn_recv *held;

static int
mkchan(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	struct spn *spn = spn_call_spn(call);
	struct spn_error err;
	int rc;

	(void)a;
	if ((rc = spn_channel_open(spn, spn_parent(spn), 0, &held, &err)) !=
	    SPN_OK)
		return spn_fail(call, 0, "spn_channel_open: %s", err.message);
	return spn_vbuf_put(r, "S", spn_recv_sender(held));
}
SPN_EXPORT(mkchan, "->S");

/* Reads what the master sends to held until it closes: 1 if all came
 * in order. */
static int
drain(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	struct spn_error err;
	int ok;

	ok = take_counted(held, spn_arg_int(a, 0), 10000, &err) == 0;
	spn_recv_close(held);
	held = NULL;
	(void)call;
	return spn_vbuf_put(r, "b", ok);
}
SPN_EXPORT(drain, "i->b");

/* The master's: a child's export asks it to send n to the child. */
static int
push(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	return count(call, a, r);
}
SPN_EXPORT_FLAGS(push, "S,i->", SPN_ALLOW_ANY);

/* The child's: a channel from its parent, which the parent's export
 * push fills. */
static int
pull(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	struct spn *spn = spn_call_spn(call);
	struct spn_recv *rx, *cr;
	struct spn_error err;
	int64_t n = spn_arg_int(a, 0);
	int rc, ok;

	if ((rc = spn_channel_open(spn, spn_parent(spn), 1024, &rx, &err)) !=
	    SPN_OK)
		return spn_fail(call, 0, "spn_channel_open: %s", err.message);
	if ((rc = spn_call_async(spn_parent(spn), "push", &cr, &err, "Si",
	    spn_recv_sender(rx), n)) != SPN_OK) {
		spn_recv_close(rx);
		return spn_fail(call, 0, "push: %s", err.message);
	}
	ok = take_counted(rx, n, 10000, &err) == 0;
	spn_recv_close(rx);
	rc = get_drop(cr, 10000, &err);
	spn_recv_close(cr);
	if (rc != SPN_OK)
		return spn_fail(call, 0, "push: %s", err.message);
	return spn_vbuf_put(r, "b", ok);
}
SPN_EXPORT(pull, "i->b");

/* One message of an array and a string ('a' and its letter are one
 * value). */
static int
arrays(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	static const int64_t v[3] = { 5, 6, 7 };
	struct spn_sender *tx = spn_arg_sender(a, 0);
	int rc;

	(void)r;
	if (tx == NULL)
		return spn_fail(call, 0, "no sender");
	rc = spn_send(tx, -1, "ai s", (size_t)3, v, "x");
	spn_sender_close(tx);
	return rc == SPN_OK ? SPN_OK : spn_fail(call, 0, "spn_send: %s",
	    spn_strerror(rc));
}
SPN_EXPORT(arrays, "S->");

static int
case_arrays(struct spn *spn, struct spn_ctx *ctx)
{
	struct spn_recv *rx, *cr;
	struct spn_error err;
	struct spn_msg *m;
	const struct spn_value *v;
	int rc;

	if ((rc = spn_channel_open(spn, ctx, 0, &rx, &err)) != SPN_OK)
		return fail("spn_channel_open", rc, &err);
	if ((rc = spn_call_async(ctx, "arrays", &cr, &err, "S",
	    spn_recv_sender(rx))) != SPN_OK)
		return fail("arrays", rc, &err);
	if ((rc = spn_recv_get(rx, 10000, &m, &err)) != SPN_OK)
		return fail("arrays: spn_recv_get", rc, &err);
	v = spn_msg_value(m);
	rc = spn_value_len(v) == 2 && spn_value_len(spn_value_at(v, 0)) == 3 &&
	    spn_arg_int(spn_value_at(v, 0), 2) == 7 &&
	    spn_arg_str(v, 1) != NULL && strcmp(spn_arg_str(v, 1), "x") == 0;
	spn_msg_free(m);
	if (!rc)
		return failx("%sarrays: not [[5, 6, 7], \"x\"]", "", 0, 0);
	if ((rc = get_drop(rx, 10000, &err)) != SPN_ECLOSED)
		return fail("arrays: after the message", rc, &err);
	if ((rc = get_drop(cr, 10000, &err)) != SPN_OK)
		return fail("arrays' answer", rc, &err);
	spn_recv_close(cr);
	spn_recv_close(rx);
	return 0;
}

/* A channel and the call that fills it in one one-shot select: the
 * values in order, the channel's end, the call's answer, then none
 * left. */
static int
case_select(struct spn *spn, struct spn_ctx *ctx)
{
	struct spn_recv *rx, *cr, *r;
	struct spn_select *sel;
	struct spn_error err;
	struct spn_msg *m;
	int64_t i = 0, n = 500;
	int rc, ended = 0, answered = 0;

	if ((rc = spn_channel_open(spn, ctx, 4096, &rx, &err)) != SPN_OK)
		return fail("spn_channel_open", rc, &err);
	if ((rc = spn_call_async(ctx, "count", &cr, &err, "Si",
	    spn_recv_sender(rx), n)) != SPN_OK)
		return fail("count", rc, &err);
	if ((rc = spn_select_new(SPN_SELECT_ONESHOT, &sel)) != SPN_OK ||
	    (rc = spn_select_add(sel, rx)) != SPN_OK ||
	    (rc = spn_select_add(sel, cr)) != SPN_OK)
		return fail("spn_select", rc, NULL);
	for (;;) {
		rc = spn_select_get(sel, 10000, &r, &m, &err);
		if (r == NULL)
			break;
		if (r == cr) {
			answered += rc == SPN_OK;
		} else if (rc == SPN_OK) {
			if (spn_arg_int(spn_msg_value(m), 0) != i++)
				return failx("select: value %s%ld out of order",
				    "", (long)i - 1, 0);
		} else
			ended += rc == SPN_ECLOSED;
		spn_msg_free(m);
	}
	if (rc != SPN_ECLOSED || i != n || ended != 1 || answered != 1)
		return failx("select: %s%ld values, then %ld", "", (long)i,
		    (long)rc);
	spn_select_free(sel);
	spn_recv_close(cr);
	spn_recv_close(rx);
	return 0;
}

static int
case_order(struct spn *spn, struct spn_ctx *ctx, int hop1)
{
	struct spn_recv *rx, *cr;
	struct spn_sender *tx;
	struct spn_error err;
	struct spn_msg *m;
	int64_t next[4] = { 0, 0, 0, 0 }, id, i, n = 2000;
	int rc, ok;

	/* From an export. */
	if ((rc = spn_channel_open(spn, ctx, 0, &rx, &err)) != SPN_OK)
		return fail("spn_channel_open", rc, &err);
	if ((rc = spn_call_async(ctx, "count", &cr, &err, "Si",
	    spn_recv_sender(rx), n)) != SPN_OK)
		return fail("count", rc, &err);
	if (take_counted(rx, n, 10000, &err) != 0)
		return 1;
	if ((rc = get_drop(cr, 10000, &err)) != SPN_OK)
		return fail("count's answer", rc, &err);
	spn_recv_close(cr);
	spn_recv_close(rx);

	if (case_arrays(spn, ctx) != 0 || case_select(spn, ctx) != 0)
		return 1;

	/* From four threads of one export: each thread's in order. */
	if ((rc = spn_channel_open(spn, ctx, 4096, &rx, &err)) != SPN_OK)
		return fail("spn_channel_open", rc, &err);
	if ((rc = spn_call_async(ctx, "count4", &cr, &err, "Si",
	    spn_recv_sender(rx), (int64_t)500)) != SPN_OK)
		return fail("count4", rc, &err);
	while ((rc = spn_recv_get(rx, 10000, &m, &err)) == SPN_OK) {
		id = spn_arg_int(spn_msg_value(m), 0);
		i = spn_arg_int(spn_msg_value(m), 1);
		spn_msg_free(m);
		if (id < 0 || id > 3 || i != next[id])
			return failx("thread %s%ld: value %ld out of order", "",
			    (long)id, (long)i);
		next[id]++;
	}
	if (rc != SPN_ECLOSED)
		return fail("count4: spn_recv_get", rc, &err);
	for (id = 0; id < 4; id++) {
		if (next[id] != 500)
			return failx("thread %s%ld: %ld values", "", (long)id,
			    (long)next[id]);
	}
	if ((rc = get_drop(cr, 10000, &err)) != SPN_OK)
		return fail("count4's answer", rc, &err);
	spn_recv_close(cr);
	spn_recv_close(rx);

	/* From the master to the context's receiver, whose peer is its
	 * parent: the master only for hop 1. */
	if (!hop1)
		goto pull;
	if ((rc = spn_call(ctx, "mkchan", 10000, &m, &err, "")) != SPN_OK)
		return fail("mkchan", rc, &err);
	tx = spn_arg_sender(spn_msg_value(m), 0);
	spn_msg_free(m);
	if (tx == NULL)
		return failx("mkchan gave no sender%s%ld%ld", "", 0, 0);
	if ((rc = spn_call_async(ctx, "drain", &cr, &err, "i", n)) != SPN_OK)
		return fail("drain", rc, &err);
	for (i = 0; i < n; i++) {
		char s[32];

		snprintf(s, sizeof s, "v%lld", (long long)i);
		if ((rc = spn_send(tx, 10000, "is", i, s)) != SPN_OK)
			return fail("spn_send to the context", rc, NULL);
	}
	spn_sender_close(tx);
	if ((rc = spn_recv_get(cr, 10000, &m, &err)) != SPN_OK)
		return fail("drain's answer", rc, &err);
	ok = spn_arg_bool(spn_msg_value(m), 0);
	spn_msg_free(m);
	spn_recv_close(cr);
	if (!ok)
		return failx("%sthe context's receiver got them out of order",
		    "", 0, 0);

pull:
	/* From an export of its parent's (ours for hop 1), on a worker
	 * thread, to the context's receiver (a window of 1 KiB: many credit
	 * round trips). */
	if ((rc = spn_call(ctx, "pull", 20000, &m, &err, "i", n)) != SPN_OK)
		return fail("pull", rc, &err);
	ok = spn_arg_bool(spn_msg_value(m), 0);
	spn_msg_free(m);
	if (!ok)
		return failx("%spull: out of order", "", 0, 0);
	printf("ok order: %lld values each way%s, 4 threads x 500, 500 "
	    "through a select\n",
	    (long long)n, hop1 ? "" : " (not from the master: the context's "
	    "parent is hop 1)");
	return 0;
}

/* mb MiB in 64 KiB messages, each starting with its number. */
static int
blast(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	static unsigned char buf[CHUNK];
	struct spn_sender *tx = spn_arg_sender(a, 0);
	int64_t n = spn_arg_int(a, 1) * (1024 * 1024 / CHUNK);
	int rc = SPN_OK;

	(void)r;
	if (tx == NULL)
		return spn_fail(call, 0, "no sender");
	memset(buf, 0x5a, sizeof buf);
	for (int64_t i = 0; i < n && rc == SPN_OK; i++) {
		memcpy(buf, &i, sizeof i);
		rc = spn_send(tx, -1, "y", buf, sizeof buf);
	}
	spn_sender_close(tx);
	return rc == SPN_OK ? SPN_OK : spn_fail(call, 0, "spn_send: %s",
	    spn_strerror(rc));
}
SPN_EXPORT(blast, "S,i->");

/* Is pid ours: below us, or below hop 1 of ours (spindle:...:OURPID,
 * which may have been started by another process)? */
static int
proc_ours(const char *pid, pid_t me)
{
	char path[320], buf[512], cur[300], *p;
	long ppid = 0;
	size_t n;
	FILE *f;

	snprintf(cur, sizeof cur, "%s", pid);
	for (int depth = 0; depth < 64; depth++) {
		snprintf(path, sizeof path, "/proc/%s/cmdline", cur);
		if ((f = fopen(path, "r")) != NULL) {
			n = fread(buf, 1, sizeof buf - 1, f);
			fclose(f);
			buf[n] = '\0';
			if (strncmp(buf, "spindle:", 8) == 0 &&
			    (p = strrchr(buf, ':')) != NULL &&
			    atol(p + 1) == (long)me)
				return 1;
		}
		snprintf(path, sizeof path, "/proc/%s/stat", cur);
		if ((f = fopen(path, "r")) == NULL)
			return 0;
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 2, "%*c %ld", &ppid) != 1)
			return 0;
		if (ppid == (long)me)
			return 1;
		if (ppid <= 1)
			return 0;
		snprintf(cur, sizeof cur, "%ld", ppid);
	}
	return 0;
}

/* Every process of ours with its VmHWM: 0 when each is under 64 MiB. */
static int
tree_hwm(void)
{
	struct dirent *d;
	char me[32];
	long kib;
	int bad = 0, n = 0;
	DIR *dir;

	snprintf(me, sizeof me, "%ld", (long)getpid());
	kib = status_kib(me, "VmHWM");
	printf("  pid %s (master): VmHWM %ld KiB\n", me, kib);
	bad |= kib < 0 || kib >= HWM_MAX_KIB;
	if ((dir = opendir("/proc")) == NULL)
		return 1;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9' ||
		    !proc_ours(d->d_name, getpid()))
			continue;
		if ((kib = status_kib(d->d_name, "VmHWM")) < 0)
			continue;	/* gone, or a zombie */
		printf("  pid %s: VmHWM %ld KiB\n", d->d_name, kib);
		bad |= kib >= HWM_MAX_KIB;
		n++;
	}
	closedir(dir);
	return bad || n == 0;
}

static int
case_bulk(struct spn *spn, struct spn_ctx *ctx, int64_t mb)
{
	struct spn_recv *rx, *cr;
	struct spn_error err;
	struct spn_msg *m;
	const unsigned char *p;
	int64_t i, seq, t0, ms;
	size_t len;
	int rc;

	if ((rc = spn_channel_open(spn, ctx, 0, &rx, &err)) != SPN_OK)
		return fail("spn_channel_open", rc, &err);
	t0 = ms_now();
	if ((rc = spn_call_async(ctx, "blast", &cr, &err, "Si",
	    spn_recv_sender(rx), mb)) != SPN_OK)
		return fail("blast", rc, &err);
	for (i = 0; (rc = spn_recv_get(rx, 20000, &m, &err)) == SPN_OK;
	    i++) {
		p = spn_arg_bytes(spn_msg_value(m), 0, &len);
		if (p != NULL && len == CHUNK)
			memcpy(&seq, p, sizeof seq);
		if (p == NULL || len != CHUNK || seq != i ||
		    p[len - 1] != 0x5a) {
			spn_msg_free(m);
			return failx("message %s%ld: wrong (%ld bytes)", "",
			    (long)i, (long)len);
		}
		spn_msg_free(m);
	}
	ms = ms_now() - t0;
	if (rc != SPN_ECLOSED)
		return fail("spn_recv_get", rc, &err);
	if (i * CHUNK != mb * 1024 * 1024)
		return failx("%s%ld messages, not %ld", "", (long)i,
		    (long)(mb * 1024 * 1024 / CHUNK));
	if ((rc = get_drop(cr, 10000, &err)) != SPN_OK)
		return fail("blast's answer", rc, &err);
	spn_recv_close(cr);
	spn_recv_close(rx);
	printf("ok bulk: %lld MiB in %lld ms, %.0f MiB/s\n", (long long)mb,
	    (long long)ms, ms > 0 ? mb * 1000.0 / ms : 0.0);
	/* A sanitized master's (CHAN_IMAGE) RSS says nothing. */
	if (tree_hwm() != 0 && getenv("CHAN_IMAGE") == NULL)
		return failx("%sa process of ours is at 64 MiB or more, or "
		    "none was found", "", 0, 0);
	return 0;
}

/*
 * Sends 16 KiB messages with no wait until one does not fit (how much
 * went before the sender had to wait), then n more, blocking, while the
 * master reads slowly: the RSS before and after those.
 */
static int
flood(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	static unsigned char buf[16384];
	struct spn_sender *tx = spn_arg_sender(a, 0);
	int64_t n = spn_arg_int(a, 1), before = 0;
	long rss0, rss1;
	int rc;

	if (tx == NULL)
		return spn_fail(call, 0, "no sender");
	while ((rc = spn_send(tx, 0, "y", buf, sizeof buf)) == SPN_OK)
		before += sizeof buf;
	if (rc != SPN_ETIMEDOUT) {
		spn_sender_close(tx);
		return spn_fail(call, 0, "spn_send: %s", spn_strerror(rc));
	}
	rss0 = status_kib("self", "VmRSS");
	rc = SPN_OK;
	for (int64_t i = 0; i < n && rc == SPN_OK; i++)
		rc = spn_send(tx, -1, "y", buf, sizeof buf);
	rss1 = status_kib("self", "VmRSS");
	spn_sender_close(tx);
	if (rc != SPN_OK)
		return spn_fail(call, 0, "spn_send: %s", spn_strerror(rc));
	return spn_vbuf_put(r, "iii", before, (int64_t)rss0, (int64_t)rss1);
}
SPN_EXPORT(flood, "S,i->i,i,i");

static int
case_slow(struct spn *spn, struct spn_ctx *ctx)
{
	struct spn_recv *rx, *cr;
	struct spn_error err;
	struct spn_msg *m;
	int64_t window = 64 * 1024, n = 2000, got = 0, before, rss0, rss1;
	struct timespec ms = { 0, 1000 * 1000 };
	int rc;

	if ((rc = spn_channel_open(spn, ctx, window, &rx, &err)) != SPN_OK)
		return fail("spn_channel_open", rc, &err);
	if ((rc = spn_call_async(ctx, "flood", &cr, &err, "Si",
	    spn_recv_sender(rx), n)) != SPN_OK)
		return fail("flood", rc, &err);
	/* Nobody reads for half a second. */
	if (get_drop(cr, 500, &err) != SPN_ETIMEDOUT)
		return fail("flood returned early", err.code, &err);
	while ((rc = spn_recv_get(rx, 10000, &m, &err)) == SPN_OK) {
		spn_msg_free(m);
		if (++got % 4 == 0)
			nanosleep(&ms, NULL);
	}
	if (rc != SPN_ECLOSED)
		return fail("spn_recv_get", rc, &err);
	if ((rc = spn_recv_get(cr, 10000, &m, &err)) != SPN_OK)
		return fail("flood's answer", rc, &err);
	before = spn_arg_int(spn_msg_value(m), 0);
	rss0 = spn_arg_int(spn_msg_value(m), 1);
	rss1 = spn_arg_int(spn_msg_value(m), 2);
	spn_msg_free(m);
	spn_recv_close(cr);
	spn_recv_close(rx);
	printf("ok slow: %lld bytes before the sender waited (window %lld), "
	    "%lld messages, sender RSS %lld -> %lld KiB\n", (long long)before,
	    (long long)window, (long long)got, (long long)rss0,
	    (long long)rss1);
	if (before > window || before < window / 2)
		return failx("%s%ld bytes went before the sender waited, the "
		    "window is %ld", "", (long)before, (long)window);
	if (got * 16384 != before + n * 16384)
		return failx("%s%ld messages, not %ld", "", (long)got,
		    (long)(before / 16384 + n));
	if (rss1 - rss0 > 4096)
		return failx("%sthe sender's RSS grew by %ld KiB while it sent "
		    "%ld KiB", "", (long)(rss1 - rss0), (long)(n * 16));
	return 0;
}

/* Sends until a send fails: the status, and when (ms, CLOCK_MONOTONIC,
 * which every process here shares).  every: ms between sends (0: as
 * fast as credit lets). */
static int
sendloop(struct spn_call *call, const struct spn_value *a,
    struct spn_vbuf *r)
{
	struct spn_sender *tx = spn_arg_sender(a, 0);
	int64_t every = spn_arg_int(a, 1);
	struct timespec ts = { every / 1000, (every % 1000) * 1000000 };
	int rc;

	if (tx == NULL)
		return spn_fail(call, 0, "no sender");
	while ((rc = spn_send(tx, -1, "s", "tick")) == SPN_OK &&
	    !spn_cancelled(call)) {
		if (every > 0)
			nanosleep(&ts, NULL);
	}
	spn_sender_close(tx);
	return spn_vbuf_put(r, "ii", (int64_t)rc, ms_now());
}
SPN_EXPORT(sendloop, "S,i->i,i");

static int
close_one(struct spn *spn, struct spn_ctx *ctx, int64_t every,
    const char *what)
{
	struct spn_recv *rx, *cr;
	struct spn_error err;
	struct spn_msg *m;
	int64_t t0, code, t1;
	int rc;

	if ((rc = spn_channel_open(spn, ctx, 4096, &rx, &err)) != SPN_OK)
		return fail("spn_channel_open", rc, &err);
	if ((rc = spn_call_async(ctx, "sendloop", &cr, &err, "Si",
	    spn_recv_sender(rx), every)) != SPN_OK)
		return fail("sendloop", rc, &err);
	for (int i = 0; i < 3; i++) {
		if ((rc = spn_recv_get(rx, 10000, &m, &err)) != SPN_OK)
			return fail("spn_recv_get", rc, &err);
		spn_msg_free(m);
	}
	/* It fills the window, then waits for credit. */
	usleep(300 * 1000);
	t0 = ms_now();
	spn_recv_close(rx);
	if ((rc = spn_recv_get(cr, 10000, &m, &err)) != SPN_OK)
		return fail("sendloop's answer", rc, &err);
	code = spn_arg_int(spn_msg_value(m), 0);
	t1 = spn_arg_int(spn_msg_value(m), 1);
	spn_msg_free(m);
	spn_recv_close(cr);
	printf("ok close (%s): the remote spn_send said %s %lld ms after "
	    "the close\n", what, spn_strerror((int)code), (long long)(t1 - t0));
	if (code != SPN_ECLOSED)
		return failx("%s: the remote spn_send said %ld, not "
		    "SPN_ECLOSED", what, (long)code, 0);
	if (t1 - t0 > 1000)
		return failx("%s: the remote loop ended %ld ms after the close",
		    what, (long)(t1 - t0), 0);
	return 0;
}

static int
case_close(struct spn *spn, struct spn_ctx *ctx)
{
	return close_one(spn, ctx, 0, "blocked") ||
	    close_one(spn, ctx, 100, "sending every 100 ms");
}

static int
case_third(struct spn *spn, struct spn_ctx *ctx, const char *route)
{
	struct spn_ctx *other;
	struct spn_recv *rx, *cr;
	struct spn_error err;
	int rc;

	if ((rc = spn_connect(spn, route, NULL, &other, &err)) != SPN_OK)
		return fail(route, rc, &err);
	if ((rc = spn_channel_open(spn, ctx, 0, &rx, &err)) != SPN_OK)
		return fail("spn_channel_open", rc, &err);
	/* The other context sends to a receiver that hears only ctx. */
	rc = spn_call(other, "count", 10000, NULL, &err, "Si",
	    spn_recv_sender(rx), (int64_t)10);
	printf("  the third context's call: %s (%s)\n", spn_strerror(rc),
	    err.message);
	if (rc == SPN_OK)
		return failx("%sthe third context sent to a receiver not its "
		    "own", "", 0, 0);
	if (get_drop(rx, 200, &err) != SPN_ETIMEDOUT)
		return failx("%sthe receiver got something from the third "
		    "context", "", 0, 0);
	/* Its peer still sends to it. */
	if ((rc = spn_call_async(ctx, "count", &cr, &err, "Si",
	    spn_recv_sender(rx), (int64_t)100)) != SPN_OK)
		return fail("count", rc, &err);
	if (take_counted(rx, 100, 10000, &err) != 0)
		return 1;
	if ((rc = get_drop(cr, 10000, &err)) != SPN_OK)
		return fail("count's answer", rc, &err);
	spn_recv_close(cr);
	spn_recv_close(rx);
	spn_ctx_unref(other);
	printf("ok third: refused, the peer's 100 values came\n");
	return 0;
}

/* Sends three values, then dies. */
static int
die3(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	struct spn_sender *tx = spn_arg_sender(a, 0);

	(void)r;
	if (tx == NULL)
		return spn_fail(call, 0, "no sender");
	for (int64_t i = 0; i < 3; i++)
		spn_send(tx, -1, "is", i, "x");
	sleep(1);
	kill(getpid(), SIGKILL);
	return SPN_OK;
}
SPN_EXPORT(die3, "S->");

static int
die(struct spn_call *call, const struct spn_value *a, struct spn_vbuf *r)
{
	(void)call, (void)a, (void)r;
	kill(getpid(), SIGKILL);
	return SPN_OK;
}
SPN_EXPORT(die, "->");

static int
case_lost(struct spn *spn, struct spn_ctx *ctx, const char *route)
{
	struct spn_recv *rx, *cr;
	struct spn_sender *tx;
	struct spn_error err;
	struct spn_msg *m;
	int64_t t0;
	int rc, i;

	/* The peer of our receiver dies. */
	if ((rc = spn_channel_open(spn, ctx, 0, &rx, &err)) != SPN_OK)
		return fail("spn_channel_open", rc, &err);
	if ((rc = spn_call_async(ctx, "die3", &cr, &err, "S",
	    spn_recv_sender(rx))) != SPN_OK)
		return fail("die3", rc, &err);
	for (i = 0; (rc = spn_recv_get(rx, 10000, &m, &err)) == SPN_OK; i++)
		spn_msg_free(m);
	printf("  receiver: %d values, then %s (%s)\n", i, spn_strerror(rc),
	    err.message);
	if (i != 3 || rc != SPN_ELOST)
		return failx("%sthe receiver got %ld values, then %ld, not 3 "
		    "then SPN_ELOST", "", (long)i, (long)rc);
	spn_recv_close(cr);
	spn_recv_close(rx);
	spn_ctx_unref(ctx);

	/* The context of the receiver we send to dies. */
	if ((rc = spn_connect(spn, route, NULL, &ctx, &err)) != SPN_OK)
		return fail(route, rc, &err);
	if ((rc = spn_call(ctx, "mkchan", 10000, &m, &err, "")) != SPN_OK)
		return fail("mkchan", rc, &err);
	tx = spn_arg_sender(spn_msg_value(m), 0);
	spn_msg_free(m);
	if (tx == NULL || (rc = spn_send(tx, 1000, "i", (int64_t)1)) != SPN_OK)
		return fail("spn_send", tx == NULL ? SPN_EINVAL : rc, NULL);
	rc = spn_call(ctx, "die", 10000, NULL, &err, "");
	if (rc != SPN_ELOST)
		return fail("die (want SPN_ELOST)", rc, &err);
	t0 = ms_now();
	while ((rc = spn_send(tx, 1000, "i", (int64_t)2)) == SPN_OK &&
	    ms_now() - t0 < 5000)
		usleep(10000);
	spn_sender_close(tx);
	printf("  sender: %s after the context died\n", spn_strerror(rc));
	if (rc != SPN_ELOST)
		return fail("spn_send to a dead context (want SPN_ELOST)", rc,
		    NULL);
	spn_ctx_unref(ctx);
	printf("ok lost\n");
	return 0;
}

int
main(int argc, char **argv)
{
	struct spn_opts o = { .image = getenv("CHAN_IMAGE") };
	struct spn *spn;
	struct spn_ctx *ctx;
	struct spn_error err;
	const char *what;
	int rc;

	if ((rc = spn_init(&argc, &argv, &o, &spn)) != SPN_OK)
		return fail("spn_init", rc, NULL);
	prog = argv[0];
	if (argc < 3) {
		fprintf(stderr, "usage: %s CASE ROUTE [ARG]\n", prog);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	what = argv[1];
	if ((rc = spn_connect(spn, argv[2], NULL, &ctx, &err)) != SPN_OK)
		return fail(argv[2], rc, &err);
	if (strcmp(what, "order") == 0)
		rc = case_order(spn, ctx, strchr(argv[2], '+') == NULL);
	else if (strcmp(what, "bulk") == 0)
		rc = case_bulk(spn, ctx, argc > 3 ? atol(argv[3]) : 1024);
	else if (strcmp(what, "slow") == 0)
		rc = case_slow(spn, ctx);
	else if (strcmp(what, "close") == 0)
		rc = case_close(spn, ctx);
	else if (strcmp(what, "third") == 0)
		rc = case_third(spn, ctx, argv[2]);
	else if (strcmp(what, "lost") == 0) {
		rc = case_lost(spn, ctx, argv[2]);
		ctx = NULL;
	} else {
		fprintf(stderr, "%s: unknown case %s\n", prog, what);
		rc = 2;
	}
	if (ctx != NULL)
		spn_ctx_unref(ctx);
	spn_shutdown(spn);
	return rc;
}
