/*
 * ping-pong: two contexts pass a number back and forth, each through a
 * sender to the other's receiver (Mitogen's examples/ping_pong.py).
 *
 *	spindle-cc -o ping-pong ping-pong.c
 *	./ping-pong [-n ROUNDS] [-k N] [ROUTE1 ROUTE2]
 *
 * The master only introduces them: each context opens a receiver for
 * values from the other (a context, passed with the letter C) and gives
 * back its sender, which the master passes on to the other (as a value,
 * v: the master never sends on it).  Then the numbers go between the
 * two siblings, never through the master's program.  With -k, the
 * context that gets N kills itself, and the other hears of it
 * (SPN_ELOST) instead of waiting for ever.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <spindle.h>

/* This copy's receiver, for values from its sibling. */
static struct spn_recv *inbox;

static int
pp_open(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	struct spn_ctx *peer = spn_arg_ctx(args, 0);
	struct spn_error err;
	int rc;

	rc = spn_channel_open(spn_call_spn(call), peer, 0, &inbox, &err);
	spn_ctx_unref(peer);
	if (rc != SPN_OK)
		return spn_fail(call, 0, "spn_channel_open: %s", err.message);
	return spn_vbuf_put(res, "S", spn_recv_sender(inbox));
}
SPN_EXPORT(pp_open, "C->S");

/* Sends first (unless negative), then answers each n with n + 1 until
 * one of them reaches rounds: how many it got, and the last. */
static int
pp_play(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	struct spn_sender *tx = spn_arg_sender(args, 0);
	int64_t first = spn_arg_int(args, 1), rounds = spn_arg_int(args, 2);
	int64_t die_at = spn_arg_int(args, 3), n = -1, got = 0;
	struct spn_error err;
	struct spn_msg *m;
	int rc = SPN_OK;

	err.message[0] = '\0';
	if (first >= 0)
		rc = spn_send(tx, -1, "i", first);
	while (rc == SPN_OK) {
		if ((rc = spn_recv_get(inbox, -1, &m, &err)) != SPN_OK)
			break;
		n = spn_arg_int(spn_msg_value(m), 0);
		spn_msg_free(m);
		got++;
		if (n == die_at)
			kill(getpid(), SIGKILL);
		if (n >= rounds)
			break;		/* the last: nothing to answer */
		rc = spn_send(tx, -1, "i", n + 1);
		if (n + 1 >= rounds)
			break;		/* that was the last */
	}
	spn_sender_close(tx);
	spn_recv_close(inbox);
	if (rc != SPN_OK)
		return spn_fail(call, 0, "after %lld numbers: %s",
		    (long long)got, err.message[0] != '\0' ? err.message :
		    spn_strerror(rc));
	return spn_vbuf_put(res, "ii", got, n);
}
SPN_EXPORT(pp_play, "S,i,i,i->i,i");

static int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
main(int argc, char **argv)
{
	const char *routes[2] = { "local", "local" };
	struct spn *spn;
	struct spn_ctx *ctx[2];
	struct spn_msg *snd[2], *m;
	struct spn_recv *play[2];
	struct spn_error err;
	int64_t rounds = 100, die_at = -1, t0;
	int c, i, rc = 0;

	/* Copies of this program in remote contexts never pass this line. */
	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK)
		return 1;
	while ((c = getopt(argc, argv, "k:n:")) != -1) {
		if (c == 'n')
			rounds = atol(optarg);
		else if (c == 'k')
			die_at = atol(optarg);
		else
			goto usage;
	}
	if (argc - optind == 2) {
		routes[0] = argv[optind];
		routes[1] = argv[optind + 1];
	} else if (argc != optind)
		goto usage;
	for (i = 0; i < 2; i++) {
		if (spn_connect(spn, routes[i], NULL, &ctx[i], &err) !=
		    SPN_OK) {
			spn_error_print(&err);
			return 1;
		}
	}
	/* Each opens a receiver for the other, and gives its sender. */
	for (i = 0; i < 2; i++) {
		if (spn_call(ctx[i], "pp_open", 10000, &snd[i], &err, "C",
		    ctx[1 - i]) != SPN_OK) {
			spn_error_print(&err);
			return 1;
		}
	}
	/* ... which goes to the other; the first one starts at 0. */
	t0 = ms_now();
	for (i = 0; i < 2; i++) {
		if (spn_call_async(ctx[i], "pp_play", &play[i], &err, "viii",
		    spn_value_at(spn_msg_value(snd[1 - i]), 0),
		    (int64_t)(i == 0 ? 0 : -1), rounds, die_at) != SPN_OK) {
			spn_error_print(&err);
			return 1;
		}
	}
	for (i = 0; i < 2; i++) {
		if (spn_recv_get(play[i], 60000, &m, &err) != SPN_OK) {
			printf("context %d (%s): %s\n", i + 1, routes[i],
			    err.message);
			rc = 1;
		} else {
			printf("context %d (%s): got %lld numbers, the last "
			    "%lld\n", i + 1, routes[i],
			    (long long)spn_arg_int(spn_msg_value(m), 0),
			    (long long)spn_arg_int(spn_msg_value(m), 1));
			spn_msg_free(m);
		}
		spn_recv_close(play[i]);
		spn_msg_free(snd[i]);
	}
	if (rc == 0)
		printf("%lld passes in %lld ms\n", (long long)rounds,
		    (long long)(ms_now() - t0));
	for (i = 0; i < 2; i++)
		spn_ctx_unref(ctx[i]);
	spn_shutdown(spn);
	return rc;

usage:
	fprintf(stderr, "usage: ping-pong [-n rounds] [-k n] [route1 "
	    "route2]\n");
	return 2;
}
