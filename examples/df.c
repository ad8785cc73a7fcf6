/*
 * df: free disk space of a directory in several contexts at once.
 *
 *	spindle-cc -o df df.c
 *	./df [-d dir] [-P password-file] local admin@bastion+web+sudo=webapp
 *
 * disk_free() runs in each context, in the copy of this program spindle
 * started there; a failure there (a directory that does not exist) comes
 * back whole: the remote errno, the context, file:line and message.
 */
#include <sys/statvfs.h>

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <spindle.h>

static int
disk_free(struct spn_call *call, const struct spn_value *args,
    struct spn_vbuf *res)
{
	struct statvfs sv;

	if (statvfs(spn_arg_str(args, 0), &sv) != 0)
		return spn_fail(call, errno, "statvfs %s", spn_arg_str(args, 0));
	return spn_vbuf_put(res, "u", (uint64_t)sv.f_bavail * sv.f_frsize);
}
SPN_EXPORT(disk_free, "s->u");

int
main(int argc, char **argv)
{
	struct spn *spn;
	struct spn_ctx *ctx;
	struct spn_msg *m;
	struct spn_error err;
	struct spn_connect_opts o = { 0 };
	const char *dir = "/";
	int c, i, rc = 0;

	/* Copies of this program in remote contexts never pass this line. */
	if (spn_init(&argc, &argv, NULL, &spn) != SPN_OK) {
		fprintf(stderr, "df: spn_init failed\n");
		return 1;
	}
	while ((c = getopt(argc, argv, "d:P:")) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'P':
			o.password_file = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind == argc)
		goto usage;
	for (i = optind; i < argc; i++) {
		if (spn_connect(spn, argv[i], &o, &ctx, &err) != SPN_OK) {
			spn_error_print(&err);
			rc = 1;
			continue;
		}
		if (spn_call(ctx, "disk_free", 30000, &m, &err, "s", dir) !=
		    SPN_OK) {
			spn_error_print(&err);
			rc = 1;
		} else {
			printf("%s: %llu bytes free in %s\n", argv[i],
			    (unsigned long long)spn_arg_uint(spn_msg_value(m),
			    0), dir);
			spn_msg_free(m);
		}
		spn_ctx_unref(ctx);
	}
	spn_shutdown(spn);
	return rc;
usage:
	fprintf(stderr, "usage: df [-d dir] [-P password-file] ROUTE...\n");
	return 2;
}
