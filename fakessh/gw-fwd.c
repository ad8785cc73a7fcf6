/*
 * direct-tcpip and tcpip-forward.  (Contract stub: gwfwd.)
 */
#include "config.h"
#include "gateway.h"

int
gw_fwd_open(struct gw_conn *c, ssh_message m)
{
	(void)c, (void)m;
	return 1;
}

int
gw_fwd_global(struct gw_conn *c, ssh_message m)
{
	(void)c, (void)m;
	return 1;
}

void
gw_fwd_conn_gone(struct gw_conn *c)
{
	(void)c;
}
