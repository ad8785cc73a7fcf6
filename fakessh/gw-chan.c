/*
 * An SSH channel pumped to and from fds.  (Contract stub: gwcore.)
 */
#include "config.h"
#include "gateway.h"

struct gw_chan *
gw_chan_new(struct gw_conn *c, ssh_channel ch, gw_chan_fn *gone, void *arg)
{
	(void)c, (void)ch, (void)gone, (void)arg;
	return NULL;
}

void
gw_chan_start(struct gw_chan *ch, int in, int out, int err)
{
	(void)ch, (void)in, (void)out, (void)err;
}

void
gw_chan_exit(struct gw_chan *ch, int status, const char *sig)
{
	(void)ch, (void)status, (void)sig;
}

void
gw_chan_say(struct gw_chan *ch, const char *text)
{
	(void)ch, (void)text;
}

void
gw_chan_close(struct gw_chan *ch)
{
	(void)ch;
}

ssh_channel
gw_chan_ssh(struct gw_chan *ch)
{
	(void)ch;
	return NULL;
}

struct gw_conn *
gw_chan_conn(struct gw_chan *ch)
{
	(void)ch;
	return NULL;
}
