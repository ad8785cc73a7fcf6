/*
 * spindle-gateway's process: the daemon's link, the listeners, the loop.
 * (Contract stub: the gwcore branch writes it.)
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "gateway.h"

struct gw_limits gw_limits = {
	GW_MAX_CONNECTIONS, GW_MAX_STARTUPS, GW_MAX_CHANNELS, GW_LOGIN_GRACE,
	GW_IDLE
};

struct event_base *
gw_base(void)
{
	return NULL;
}

ssh_bind
gw_bind(void)
{
	return NULL;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "key") == 0)
		return gw_key_main(argc - 1, argv + 1);
	fprintf(stderr, "spindle-gateway: not built yet\n");
	return 1;
}
