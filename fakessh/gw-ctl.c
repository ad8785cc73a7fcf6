/*
 * The gateway as the daemon's client.  (Contract stub: gwexec.)
 */
#include "config.h"
#include "gateway.h"

struct gw_ctl *
gw_ctl_open(uint32_t type, struct pk *body, const int *fds, int nfds,
    gw_ctl_fn *fn, void *arg, char *why, size_t whylen)
{
	(void)type, (void)body, (void)fds, (void)nfds, (void)fn, (void)arg;
	snprintf(why, whylen, "not built yet");
	return NULL;
}

int
gw_ctl_send(struct gw_ctl *g, uint32_t type, struct pk *body)
{
	(void)g, (void)type, (void)body;
	return -1;
}

void
gw_ctl_free(struct gw_ctl *g)
{
	(void)g;
}
