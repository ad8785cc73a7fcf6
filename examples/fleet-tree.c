/*
 * fleet-tree: many hosts behind one bastion, reached through a copy of
 * this program on the bastion, so that what they are sent crosses the
 * link to the bastion once.
 *
 *	spindle-cc -o fleet-tree fleet-tree.c
 *	./fleet-tree admin@bastion web1 web2 db+sudo=postgres
 *
 * spn_connect_from starts each host from the bastion's context (the
 * bastion sends them its own image); survey() then runs on the bastion
 * with the hosts as arguments ('C' values) and calls hostinfo() on all
 * of them from there with spn_call_many.
 */
#include <sys/utsname.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <spindle.h>

/* On each host. */
static int
hostinfo(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	struct utsname u;
	char line[512];

	(void)args;
	if (uname(&u) != 0)
		return spn_fail(call, 0, "uname failed");
	snprintf(line, sizeof line, "%s, %s %s, pid %ld, uid %ld", u.nodename,
	    u.sysname, u.release, (long)getpid(), (long)getuid());
	return spn_vbuf_put(res, "s", line);
}
SPN_EXPORT(hostinfo, "->s");

/* On the bastion: hostinfo on every host given, one line each. */
static int
survey(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	const struct spn_value *list = spn_value_at(args, 0);
	size_t n = spn_value_len(list), i;
	struct spn_ctx **hosts = calloc(n + 1, sizeof *hosts);
	struct spn_result *out = calloc(n + 1, sizeof *out);
	const char **lines = calloc(n + 1, sizeof *lines);
	char (*why)[640] = calloc(n + 1, sizeof *why);
	int rv;

	(void)call;
	for (i = 0; i < n; i++)
		hosts[i] = spn_value_ctx(spn_value_at(list, i));
	spn_call_many(hosts, n, "hostinfo", 30000, 0, out, "");
	for (i = 0; i < n; i++) {
		if (out[i].code == SPN_OK)
			lines[i] = spn_arg_str(spn_msg_value(out[i].msg), 0);
		else {
			spn_error_format(&out[i].err, why[i], sizeof why[i]);
			lines[i] = why[i];
		}
	}
	rv = spn_vbuf_put(res, "as", n, lines);
	for (i = 0; i < n; i++) {
		spn_msg_free(out[i].msg);
		spn_ctx_unref(hosts[i]);
	}
	free(why);
	free(lines);
	free(out);
	free(hosts);
	return rv;
}
SPN_EXPORT(survey, "aC->as");

static int
run(struct spn *spn, int argc, char **argv)
{
	struct spn_ctx *bastion, **hosts;
	struct spn_error err;
	struct spn_msg *m;
	const struct spn_value *lines;
	size_t n = 0;
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: fleet-tree BASTION ROUTE...\n");
		return 2;
	}
	if (spn_connect(spn, argv[1], NULL, &bastion, &err) != SPN_OK) {
		spn_error_print(&err);
		return 1;
	}
	hosts = calloc(argc, sizeof *hosts);
	for (int i = 2; i < argc; i++) {
		if (spn_connect_from(bastion, argv[i], NULL, &hosts[n],
		    &err) == SPN_OK)
			n++;
		else {
			spn_error_print(&err);
			rc = 1;
		}
	}
	if (spn_call(bastion, "survey", 60000, &m, &err, "aC", n,
	    hosts) != SPN_OK) {
		spn_error_print(&err);
		return 1;
	}
	lines = spn_value_at(spn_msg_value(m), 0);
	for (size_t i = 0; i < n; i++)
		printf("%s: %s\n", spn_ctx_name(hosts[i]),
		    spn_arg_str(lines, i));
	spn_msg_free(m);
	for (size_t i = 0; i < n; i++)
		spn_ctx_unref(hosts[i]);
	spn_ctx_unref(bastion);
	return rc;
}
SPN_MAIN(run);
