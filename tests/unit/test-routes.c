/* The routes file: global and per-route options, errors with lines; how
 * resolve.c combines them with a command line's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include "../../lib/lib.h"

static char path[] = "/tmp/spn-test-routes.XXXXXX";

static int
load(const char *text, struct routes_file *rf, char *why, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return routes_file_load(path, rf, why, len);
}

static void
test_options(void **state)
{
	struct routes_file rf;
	const struct routes_entry *e;
	char why[256];

	(void)state;
	setenv("HOME", "/home/u", 1);
	assert_int_equal(load("# c\nkeepalive 7\nssh-config ~/cfg\n"
	    "persist 60\n\n"
	    "route web a@h+sudo=w   # trailing\n\tpassword-file ~/pw\n"
	    "  timeout 9\n  persist no\n"
	    "route two local\n  password-command pass show x\n",
	    &rf, why, sizeof why), 0);
	assert_int_equal(rf.n, 2);
	assert_int_equal(rf.global.persist, 60);
	e = routes_file_find(&rf, "web");
	assert_non_null(e);
	assert_string_equal(e->route, "a@h+sudo=w");
	assert_int_equal(e->opts.keepalive, 7);
	assert_int_equal(e->opts.timeout, 9);
	assert_int_equal(e->opts.persist, PERSIST_NEVER);
	assert_string_equal(e->opts.ssh_config, "/home/u/cfg");
	assert_string_equal(e->opts.password_file, "/home/u/pw");
	e = routes_file_find(&rf, "two");
	assert_int_equal(e->opts.timeout, -1);
	assert_int_equal(e->opts.persist, 60);
	assert_null(e->opts.password_file);
	assert_string_equal(e->opts.password_command, "pass show x");
	assert_null(routes_file_find(&rf, "nope"));
	routes_file_free(&rf);
}

static void
test_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*why;
	} cases[] = {
		{ "  keepalive 3\n", ":1: indented option before any route" },
		{ "route a local\nkeepalive 3\n", ":2: global option" },
		{ "route a local\nroute a local\n", ":2: route 'a' defined" },
		{ "keepalive x\n", ":1: bad number of seconds 'x'" },
		{ "persist yes\n", ":1: bad persist 'yes' (want seconds or 'no')" },
		{ "persist -1\n", ":1: bad persist '-1'" },
		{ "frob 1\n", ":1: unknown option 'frob'" },
		{ "route a local\nfrob 1\n", ":2: unknown option 'frob'" },
		{ "frob\n", ":1: unknown option 'frob'" },
		{ "hop 1 password-file x\n", ":1: unknown option 'hop'" },
		{ "route a local\nhop 1 password-file x\n",
		    ":2: global option 'hop' after a route (indent it" },
		{ "route a\n", ":1: want 'route NAME ROUTE'" },
		{ "route a b++c\n", ":1: empty hop" },
		{ "timeout\n", ":1: 'timeout' wants a value" },
	};
	struct routes_file rf;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		assert_int_equal(load(cases[i].text, &rf, why, sizeof why), -1);
		if (strstr(why, cases[i].why) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, why,
			    cases[i].why);
	}
}

static void
test_missing(void **state)
{
	struct routes_file rf;
	char why[256];

	(void)state;
	assert_int_equal(routes_file_load("/nonexistent/routes", &rf, why,
	    sizeof why), 0);
	assert_int_equal(rf.n, 0);
	assert_int_equal(rf.global.persist, PERSIST_UNSET);
	routes_file_free(&rf);
}

/* A spec as a client's command line makes it (-1: not set). */
static struct ctl_spec
spec(const char *route, int keepalive, int timeout, const char *env)
{
	struct ctl_spec s;

	ctl_spec_init(&s, route, NULL);
	s.keepalive = keepalive;
	s.timeout = timeout;
	s.sshenv = (char *)env;
	return s;
}

/* Command line, then the route's entry, then global, then default. */
static void
test_precedence(void **state)
{
	struct routes_file rf;
	struct route_conf rc;
	struct ctl_spec s;
	char why[256];

	(void)state;
	assert_int_equal(load("timeout 3\npassword-timeout 7\npersist 90\n"
	    "route own local\n  timeout 2\n  keepalive 4\n  persist no\n"
	    "route bare local\n", &rf, why, sizeof why), 0);
	s = spec("own", -1, 6, NULL);
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_int_equal(rc.mo.timeout, 6);
	assert_int_equal(rc.mo.keepalive, 4);
	assert_int_equal(rc.mo.password_secs, 7);
	assert_int_equal(rc.persist, PERSIST_NEVER);
	assert_true(rc.from_file);
	assert_string_equal(rc.text, "local");
	resolve_free(&rc);
	/* The default's value given on the command line still wins. */
	s = spec("own", SPN_KEEPALIVE_DEFAULT, MASTER_TIMEOUT_DEFAULT, NULL);
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_int_equal(rc.mo.timeout, MASTER_TIMEOUT_DEFAULT);
	assert_int_equal(rc.mo.keepalive, SPN_KEEPALIVE_DEFAULT);
	resolve_free(&rc);
	s = spec("own", -1, -1, NULL);
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_int_equal(rc.mo.timeout, 2);
	resolve_free(&rc);
	s = spec("bare", -1, -1, NULL);
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_int_equal(rc.mo.timeout, 3);
	assert_int_equal(rc.mo.keepalive, SPN_KEEPALIVE_DEFAULT);
	resolve_free(&rc);
	/* An inline route takes the global options too. */
	s = spec("local+local", -1, -1, NULL);
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_int_equal(rc.mo.timeout, 3);
	assert_int_equal(rc.persist, 90);
	assert_false(rc.from_file);
	assert_int_equal(rc.route.nhops, 2);
	resolve_free(&rc);
	/* No routes file: the defaults. */
	s = spec("local", -1, -1, NULL);
	assert_int_equal(resolve_route(&s, NULL, &rc, why, sizeof why), 0);
	assert_int_equal(rc.mo.timeout, MASTER_TIMEOUT_DEFAULT);
	assert_int_equal(rc.mo.password_secs, PASSWORD_COMMAND_SECS);
	assert_int_equal(rc.persist, PERSIST_DEFAULT);
	resolve_free(&rc);
	routes_file_free(&rf);
}

static void
test_password_sources(void **state)
{
	struct routes_file rf;
	struct route_conf rc;
	struct ctl_spec s;
	char why[256];

	(void)state;
	assert_int_equal(load("password-command global-cmd\n"
	    "route f local\n  password-file /pw\n", &rf, why, sizeof why),
	    0);
	s = spec("f", -1, -1, NULL);
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_string_equal(rc.mo.password_file, "/pw");
	assert_string_equal(rc.mo.password_command, "global-cmd");
	assert_null(rc.mo.password);
	resolve_free(&rc);
	/* One given with the request wins: the file's are not even noted. */
	s.password = "given";
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_string_equal(rc.mo.password, "given");
	assert_null(rc.mo.password_file);
	assert_null(rc.mo.password_command);
	resolve_free(&rc);
	routes_file_free(&rf);
}

static int	has_arg(const struct hop *, const char *);

/* A password is for the hops that take one: sudo, su, doas, and ssh
 * hops marked for it; each may have a source of its own. */
static void
test_hop_passwords(void **state)
{
	struct routes_file rf;
	struct route_conf rc;
	struct ctl_spec s;
	char why[256];

	(void)state;
	setenv("HOME", "/home/u", 1);
	assert_int_equal(load("route r a+b,password+sudo=w+su=x+doas=y+local\n"
	    "  password-file /all\n  hop 3 password-command cmd 3\n"
	    "  hop 2 password-file ~/b\n", &rf, why, sizeof why), 0);
	s = spec("r", -1, -1, NULL);
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_int_equal(rc.route.nhops, 6);
	assert_false(rc.route.hops[0].prompts);
	assert_true(rc.route.hops[1].prompts);
	assert_string_equal(rc.route.hops[1].password_file, "/home/u/b");
	assert_true(rc.route.hops[2].prompts);
	assert_string_equal(rc.route.hops[2].password_command, "cmd 3");
	assert_true(rc.route.hops[3].prompts);
	assert_null(rc.route.hops[3].password_file);
	assert_true(rc.route.hops[4].prompts);
	assert_false(rc.route.hops[5].prompts);
	assert_string_equal(rc.mo.password_file, "/all");
	resolve_free(&rc);
	routes_file_free(&rf);
	/* In the route itself; a source makes an ssh hop take one. */
	s = spec("a,password-file=/a+sudo=w,login,password-file=~/w+"
	    "su=x,password-file=/x+doas=y", -1, -1, NULL);
	assert_int_equal(resolve_route(&s, NULL, &rc, why, sizeof why), 0);
	assert_true(rc.route.hops[0].prompts);
	assert_string_equal(rc.route.hops[0].password_file, "/a");
	assert_string_equal(rc.route.hops[1].password_file, "/home/u/w");
	assert_true(has_arg(&rc.route.hops[1], "-i"));
	assert_string_equal(rc.route.hops[2].password_file, "/x");
	assert_string_equal(rc.route.hops[2].args[0], "x");
	assert_null(rc.route.hops[3].password_file);
	resolve_free(&rc);
	/* --ask-pass's, one a hop, kept as given ("" for none). */
	s = spec("sudo=a+sudo=b", -1, -1, NULL);
	s.hop_passwords = (char *[]){ "", "pb", NULL };
	assert_int_equal(resolve_route(&s, NULL, &rc, why, sizeof why), 0);
	assert_string_equal(rc.mo.hop_passwords[0], "");
	assert_string_equal(rc.mo.hop_passwords[1], "pb");
	resolve_free(&rc);
	s.hop_passwords = (char *[]){ "", "", NULL };
	assert_int_equal(resolve_route(&s, NULL, &rc, why, sizeof why), 0);
	assert_null(rc.mo.hop_passwords);
	resolve_free(&rc);
	/* Errors: options of su, a hop the route lacks. */
	s = spec("su=x,frob", -1, -1, NULL);
	assert_int_equal(resolve_route(&s, NULL, &rc, why, sizeof why), -1);
	assert_non_null(strstr(why, "unknown su hop option 'frob'"));
	assert_int_equal(load("route r local\n  hop 2 password-file /x\n",
	    &rf, why, sizeof why), -1);
	assert_non_null(strstr(why, ":2: bad hop '2' (route r has hops 1 to 1)"));
	assert_int_equal(load("route r local\n  hop 1 frob /x\n",
	    &rf, why, sizeof why), -1);
	assert_non_null(strstr(why, ":2: want 'hop N password-file FILE'"));
}

static int
has_arg(const struct hop *h, const char *arg)
{
	for (char **a = h->args; *a != NULL; a++) {
		if (strcmp(*a, arg) == 0)
			return 1;
	}
	return 0;
}

/* Arguments naming local files go to the ssh hops this machine starts:
 * those up to the first ssh hop, not those started beyond it. */
static void
test_local_ssh(void **state)
{
	struct routes_file rf;
	struct route_conf rc;
	struct ctl_spec s;
	char why[256];

	(void)state;
	assert_int_equal(load("ssh-config /c\nssh-args -oA=b -v\n",
	    &rf, why, sizeof why), 0);
	s = spec("a+u@b,config=/b+sudo=w", -1, -1, "-F x");
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_int_equal(rc.route.nhops, 3);
	assert_true(has_arg(&rc.route.hops[0], "-oA=b"));
	assert_true(has_arg(&rc.route.hops[0], "/c"));
	assert_true(has_arg(&rc.route.hops[0], "x"));
	/* In order: the file's -F, its ssh-args, then the environment. */
	assert_string_equal(rc.route.hops[0].args[2], "-F");
	assert_string_equal(rc.route.hops[0].args[6], "-F");
	assert_string_equal(rc.route.hops[0].args[7], "x");
	assert_null(rc.route.hops[0].args[8]);
	/* Hop 2's ssh runs on a: only its own options. */
	assert_string_equal(rc.route.hops[1].args[2], "-F/b");
	assert_null(rc.route.hops[1].args[3]);
	resolve_free(&rc);
	/* local, sudo and su hops stay on this machine. */
	s = spec("local+sudo=x+su=y+a+b", -1, -1, "-F x");
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_true(has_arg(&rc.route.hops[3], "x"));
	assert_false(has_arg(&rc.route.hops[4], "x"));
	assert_false(has_arg(&rc.route.hops[4], "/c"));
	resolve_free(&rc);
	/* The shim's direct route: one hop, started here. */
	s = spec("h", -1, -1, "-F x");
	s.direct = CTL_SPEC_SSH;
	s.user = "u";
	s.sshargs = (char *[]){ "-p2", NULL };
	assert_int_equal(resolve_route(&s, &rf, &rc, why, sizeof why), 0);
	assert_string_equal(rc.text, "u@h -p2");
	assert_string_equal(rc.route.hops[0].args[2], "-p2");
	assert_true(has_arg(&rc.route.hops[0], "x"));
	resolve_free(&rc);
	routes_file_free(&rf);
}

static void
test_bad_route(void **state)
{
	struct route_conf rc;
	struct ctl_spec s = spec("a++b", -1, -1, NULL);
	char why[256];

	(void)state;
	assert_int_equal(resolve_route(&s, NULL, &rc, why, sizeof why), -1);
	assert_string_equal(why, "bad route 'a++b': empty hop (two '+' in a "
	    "row?)");
}

/* The shim's destination: another program's words (a git URL). */
static void
test_dest(void **state)
{
	static const char *refused[] = { "x,o=ProxyCommand=id",
	    "a+x,port=22,identity=/k", "x,config=/c", "x,password",
	    "x,password-file=/f", "su=u,password-file=/f", "a,,o=X=y+b", NULL };
	static const char *taken[] = { "a+b,port=2222+sudo=u,login",
	    "u@h,hostkey=no,timeout=5", "local+su=u", "x,opt=1", NULL };
	char why[256];

	(void)state;
	for (size_t i = 0; refused[i] != NULL; i++)
		assert_int_equal(route_dest_ok(refused[i], why, sizeof why), -1);
	assert_non_null(strstr(why, "not taken from an ssh destination"));
	for (size_t i = 0; taken[i] != NULL; i++)
		assert_int_equal(route_dest_ok(taken[i], why, sizeof why), 0);
}

/* ssh's destination (the shim's, the gateway's route) into a spec. */
static void
test_spec_dest(void **state)
{
	struct ctl_spec s;

	(void)state;
	ctl_spec_dest(&s, "web", "web", NULL);
	assert_int_equal(s.direct, CTL_SPEC_SSH);
	assert_string_equal(s.route, "web");
	assert_null(s.user);
	ctl_spec_free(&s);
	ctl_spec_dest(&s, "alice@h", "h", "alice");
	assert_int_equal(s.direct, CTL_SPEC_SSH);
	assert_string_equal(s.route, "h");
	assert_string_equal(s.user, "alice");
	ctl_spec_free(&s);
	/* An inline route goes whole, its '@' and all, for route_dest_ok. */
	ctl_spec_dest(&s, "admin@bastion+web+sudo=app", "bastion+web+sudo=app",
	    "admin");
	assert_int_equal(s.direct, CTL_SPEC_DEST);
	assert_string_equal(s.route, "admin@bastion+web+sudo=app");
	assert_null(s.user);
	ctl_spec_free(&s);
	ctl_spec_dest(&s, "local", "local", NULL);
	assert_int_equal(s.direct, CTL_SPEC_DEST);
	assert_string_equal(s.route, "local");
	ctl_spec_free(&s);
}

/* The gateway's options: global only, loopback only, bounded. */
static void
test_gateway(void **state)
{
	static const struct {
		const char	*text;
		const char	*why;
	} bad[] = {
		{ "gateway-listen 0.0.0.0:2222\n", ":1: gateway-listen: only "
		    "loopback addresses (127.0.0.1, [::1])" },
		{ "keepalive 3\ngateway-listen 10.0.0.1:22\n", ":2: "
		    "gateway-listen: only loopback" },
		{ "gateway-listen [::]:2222\n", ":1: gateway-listen: only "
		    "loopback" },
		{ "gateway-listen 127.0.0.2:2222\n", ":1: gateway-listen: only "
		    "loopback" },
		{ "gateway-listen *:2222\n", ":1: gateway-listen: only" },
		{ "gateway-listen 2222\n", ":1: gateway-listen: want "
		    "ADDR:PORT, not '2222'" },
		{ "gateway-listen 127.0.0.1:0\n", ":1: gateway-listen: want" },
		{ "gateway-listen 127.0.0.1:65536\n", ":1: gateway-listen: "
		    "want" },
		{ "gateway-listen /tmp/sock\n", ":1: gateway-listen: want" },
		{ "gateway-listen 127.0.0.1:1\ngateway-listen [::1]:1\n"
		    "gateway-listen localhost:2\n", ":3: gateway-listen: at "
		    "most 2 addresses" },
		{ "gateway-listen localhost:7\ngateway-listen 127.0.0.1:7\n",
		    ":2: gateway-listen: [127.0.0.1]:7 given twice" },
		{ "gateway-listen\n", ":1: 'gateway-listen' wants a value" },
		{ "gateway-max-channels 0\n", ":1: bad gateway-max-channels "
		    "'0' (want 1 to 1024)" },
		{ "gateway-max-connections 1025\n", ":1: bad "
		    "gateway-max-connections '1025'" },
		{ "gateway-login-grace 5s\n", ":1: bad gateway-login-grace" },
		{ "gateway-idle -1\n", ":1: bad gateway-idle" },
		{ "gateway-frob 1\n", ":1: unknown option 'gateway-frob'" },
		{ "route a local\n  gateway-idle 5\n", ":2: gateway-idle is a "
		    "global option: before the first route, not indented" },
		{ "route a local\ngateway-max-startups 5\n", ":2: "
		    "gateway-max-startups is a global option" },
	};
	struct routes_file rf;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(load(bad[i].text, &rf, why, sizeof why), -1);
		if (strstr(why, bad[i].why) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, why,
			    bad[i].why);
	}
	assert_int_equal(load("gateway-listen localhost:2222\n"
	    "gateway-listen [::1]:2222\ngateway-max-connections 3\n"
	    "gateway-max-startups 2\ngateway-max-channels 5\n"
	    "gateway-login-grace 4\ngateway-idle 30\nroute a local\n",
	    &rf, why, sizeof why), 0);
	assert_string_equal(rf.gateway.listen[0], "[127.0.0.1]:2222");
	assert_string_equal(rf.gateway.listen[1], "[::1]:2222");
	assert_int_equal(rf.gateway.max_connections, 3);
	assert_int_equal(rf.gateway.max_startups, 2);
	assert_int_equal(rf.gateway.max_channels, 5);
	assert_int_equal(rf.gateway.login_grace, 4);
	assert_int_equal(rf.gateway.idle, 30);
	assert_int_equal(gateway_listen_parse(rf.gateway.listen[1], &ss,
	    &sslen, NULL, why, sizeof why), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(sslen, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 2222);
	assert_int_equal(gateway_listen_parse("127.0.0.1:9", &ss, &sslen,
	    NULL, why, sizeof why), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr),
	    INADDR_LOOPBACK);
	routes_file_free(&rf);
	assert_int_equal(load("route a local\n", &rf, why, sizeof why), 0);
	assert_null(rf.gateway.listen[0]);
	assert_int_equal(rf.gateway.idle, 0);
	routes_file_free(&rf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_password_sources),
		cmocka_unit_test(test_hop_passwords),
		cmocka_unit_test(test_local_ssh),
		cmocka_unit_test(test_bad_route),
		cmocka_unit_test(test_dest),
		cmocka_unit_test(test_spec_dest),
		cmocka_unit_test(test_gateway),
	};
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return 1;
	close(fd);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return rc;
}
