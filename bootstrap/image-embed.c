/*
 * The master's agent image: built at make time, gzip'd, and linked into
 * the spindle binary (agent-image.S), so one installed file is enough.
 */
#include <stdlib.h>

#include "bootstrap.h"

extern const uint8_t	spn_agent_gz[];
extern const uint8_t	spn_agent_gz_end[];

int
boot_image_own(int compressed, const uint8_t **p, size_t *n)
{
	static uint8_t *raw;
	static size_t rawlen;

	if (compressed) {
		*p = spn_agent_gz;
		*n = spn_agent_gz_end - spn_agent_gz;
		return 0;
	}
	if (raw == NULL && boot_image_inflate(spn_agent_gz,
	    spn_agent_gz_end - spn_agent_gz, &raw, &rawlen) != 0)
		return -1;
	*p = raw;
	*n = rawlen;
	return 0;
}
