/*
 * The command's and the daemon's master: on a loop of their own, with the
 * signals meant for the process caught there (lib/master.c leaves a
 * process's signals to its program).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static struct master	*sig_m;
static struct event	*sig_ev[3];
static void		(*sig_fn)(int, void *);
static void		*sig_arg;
static int		 sig_count;

static void
sig_cb(evutil_socket_t sig, short what, void *arg)
{
	char *text;

	(void)what;
	(void)arg;
	/* The first signal goes to the command; a second one, or one before
	 * anything runs, stops spindle itself. */
	if (sig_fn != NULL && sig_count++ == 0) {
		sig_fn(sig, sig_arg);
		return;
	}
	/* That is all we say: a hop still booting is not failing. */
	text = proc_stop_text(sig);
	fprintf(stderr, "spindle: %s\n", text);
	free(text);
	master_teardown(sig_m);
	exit(128 + sig);	/* atexit restores a raw terminal (run -t) */
}

/* One a process: Ctrl-C, SIGTERM and SIGHUP are for it. */
struct master *
sig_master_new(const struct master_opts *opts)
{
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	struct event_base *base;

	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fatal("cannot create an event loop");
	sig_m = master_new(base, opts);
	for (int i = 0; i < 3; i++) {
		sig_ev[i] = evsignal_new(base, sigs[i], sig_cb, NULL);
		event_add(sig_ev[i], NULL);
	}
	return sig_m;
}

/* From now on the first of those signals goes to fn, not to the end. */
void
sig_on_signal(void (*fn)(int, void *), void *arg)
{
	sig_fn = fn;
	sig_arg = arg;
	sig_count = 0;
}
