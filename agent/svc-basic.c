/* Built-in services every context offers: ping (echo) and info. */
#include <sys/utsname.h>

#include <stdlib.h>
#include <unistd.h>

#include "agent.h"

static void
svc_ping(struct rt *rt, const struct rt_msg *m, void *arg)
{
	(void)arg;
	if (m->h.kind == SPN_K_CALL)
		rt_send(rt, SPN_K_REPLY, m->h.src, m->h.reply_to, 0, m->data,
		    m->h.len);
}

static void
svc_info(struct rt *rt, const struct rt_msg *m, void *arg)
{
	struct utsname un;
	struct pk pk;
	char *user;

	(void)arg;
	if (m->h.kind != SPN_K_CALL)
		return;
	uname(&un);
	user = passwd_name(getuid());
	pk_init(&pk);
	pk_u32(&pk, getpid());
	pk_u32(&pk, getuid());
	pk_str(&pk, user);
	pk_str(&pk, un.nodename);
	pk_str(&pk, un.machine);
	pk_str(&pk, un.release);
	pk_str(&pk, rt_name(rt));
	pk_u32(&pk, getppid());
	rt_send_pk(rt, SPN_K_REPLY, m->h.src, m->h.reply_to, 0, &pk);
	pk_free(&pk);
	free(user);
}

void
svc_basic_init(struct rt *rt)
{
	rt_handle_add(rt, SPN_H_PING, RT_ALLOW_ANCESTORS, 0, svc_ping, NULL);
	rt_handle_add(rt, SPN_H_INFO, RT_ALLOW_ANCESTORS, 0, svc_info, NULL);
}
