/*
 * One SSH connection of the gateway.  (Contract stub: gwcore writes it.)
 */
#include "config.h"
#include "gateway.h"

struct gw_conn *
gw_conn_new(int fd, const char *name, int trusted)
{
	(void)name, (void)trusted;
	close(fd);
	return NULL;
}

void
gw_conn_kill(struct gw_conn *c, const char *why)
{
	(void)c, (void)why;
}

int
gw_conn_spec(struct gw_conn *c, struct ctl_spec *s, char *why,
    size_t whylen)
{
	(void)c, (void)s;
	snprintf(why, whylen, "not built yet");
	return -1;
}

ssh_session
gw_conn_session(struct gw_conn *c)
{
	(void)c;
	return NULL;
}

void
gw_conn_kick(struct gw_conn *c)
{
	(void)c;
}

int
gw_conn_chan_ok(struct gw_conn *c)
{
	(void)c;
	return 0;
}

size_t
gw_conn_count(void)
{
	return 0;
}

void
gw_conn_shutdown(void)
{
}
