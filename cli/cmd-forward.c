/*
 * spindle forward ROUTE SPEC...: ssh's -L, -R, -D and -W over a route,
 * for those who never type ssh.  The specs are ssh's (lib/fwdspec.c) and
 * so is the work (fakessh/forward.c): listeners here, each connection
 * handed to the daemon; held until a signal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../fakessh/fakessh.h"

#define OPT_NO_EXIT_ON_FAIL	600

static const struct cmd_opt forward_opts[] = {
	{ 'L', NULL, "[BIND:]PORT:HOST:HOSTPORT",
	    "listen here on PORT (a path: a UNIX socket); each\n"
	    "connection goes to HOST:HOSTPORT, connected from the\n"
	    "route's far end (HOST a path: a UNIX socket there)" },
	{ 'D', NULL, "[BIND:]PORT",
	    "a SOCKS4/4a/5 proxy here; names resolved at the far end" },
	{ 'R', NULL, "[BIND:]PORT[:HOST:HOSTPORT]",
	    "listen at the far end (PORT 0: any, said); each\n"
	    "connection goes to HOST:HOSTPORT from here (without\n"
	    "a target, ssh's SOCKS there: not supported, 255)" },
	{ 'W', NULL, "HOST:PORT",
	    "join stdin and stdout to HOST:PORT at the far end,\n"
	    "as ssh -W (a ProxyCommand), and end with it" },
	{ 'g', NULL, NULL,
	    "listen on every address when no BIND is given\n"
	    "(else loopback only)" },
	{ 'f', NULL, NULL,
	    "go to the background once everything listens" },
	{ OPT_NO_EXIT_ON_FAIL, "keep-going", NULL,
	    "a forward that cannot listen is only a warning\n"
	    "(ssh's ExitOnForwardFailure=no; the default fails)" },
	CMD_OPTS_ROUTE,
	{ 0, NULL, NULL, NULL }
};

static int	cmd_forward_exec(struct cmd_args *);

const struct cmd_entry cmd_forward_entry = {
	.name = "forward",
	.usage = "[-fg] [--keep-going] " CMD_USAGE_ROUTE
	    "ROUTE {-L SPEC | -D SPEC | -R SPEC | -W HOST:PORT}...",
	.summary = "forward TCP ports over a route, as ssh -L -D -R -W",
	.opts = forward_opts,
	.words = "ROUTE",
	.lower = 1,
	.upper = 1,
	.exec = cmd_forward_exec
};

/* The specs in command-line order, -W's last (it ends the command). */
static struct fwd_spec *
cmd_forward_specs(struct cmd_args *a, size_t *np, struct fwd_opts *o)
{
	struct fwd_spec *v = xcalloc(a->nopts + 1, sizeof *v), stdio;
	char err[1024];
	size_t n = 0;
	int ch, have_stdio = 0;

	for (size_t i = 0; i < a->nopts; i++) {
		ch = a->opts[i].ch;
		if (ch == 'g')
			o->gateway_ports = 1;
		else if (ch == 'f')
			o->background = 1;
		else if (ch == OPT_NO_EXIT_ON_FAIL)
			o->exit_on_fail = 0;
		else if (ch == 'W' && have_stdio)
			usage_error("stdio forward already specified");
		else if (ch == 'L' || ch == 'D' || ch == 'R' || ch == 'W') {
			if (fwd_spec_parse(ch, a->opts[i].arg, ch == 'W' ?
			    &stdio : &v[n], err, sizeof err) != 0)
				usage_error("%s", err);
			if (ch == 'W')
				have_stdio = 1;
			else
				n++;
		}
	}
	if (have_stdio) {
		v[n++] = stdio;
		o->hold = 0;
	}
	if (n == 0)
		usage_error("no forward given (-L, -D, -R or -W)");
	*np = n;
	return v;
}

static int
cmd_forward_exec(struct cmd_args *a)
{
	struct master_opts mo = MASTER_OPTS_UNSET;
	struct fwd_opts o = { .exit_on_fail = 1, .hold = 1 };
	struct fwd_spec *v;
	struct ctl_spec s;
	size_t n;
	int rc;

	o.verbose = cli_verbose;
	for (size_t i = 0; i < a->nopts; i++)
		cli_parse_master_opt(a->opts[i].ch, a->opts[i].arg, &mo);
	v = cmd_forward_specs(a, &n, &o);
	if ((rc = password_ask_route(a->pos[0], &mo)) == 0) {
		ctl_spec_init(&s, a->pos[0], &mo);
		rc = fwd_main(&s, v, n, &o);
	}
	for (size_t i = 0; i < n; i++)
		fwd_spec_free(&v[i]);
	free(v);
	password_opts_free(&mo);
	return rc;
}
