/*
 * The gateway's host key.  (Contract stub: gwdaemon.)
 */
#include "config.h"
#include "gateway.h"

ssh_key
gw_key_load(char *why, size_t whylen)
{
	snprintf(why, whylen, "not built yet");
	return NULL;
}

int
gw_key_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	return 1;
}
