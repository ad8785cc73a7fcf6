/*
 * The gateway's optional TCP listener.  (Contract stub: gwtcp.)
 */
#include "config.h"
#include "gateway.h"

int
gw_tcp_listen(const struct gateway_opts *o, char *why, size_t whylen)
{
	(void)o, (void)why, (void)whylen;
	return 0;
}

int
gw_tcp_key_ok(ssh_key k)
{
	(void)k;
	return 0;
}

void
gw_tcp_stop(void)
{
}
