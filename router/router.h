/*
 * router room: framing, routing, links, streams, the broker loop.
 * It knows nothing of ssh, agents' services or the CLI.
 */
#ifndef SPN_ROUTER_H
#define SPN_ROUTER_H

#include <sys/types.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/buffer.h>

#include "spn-proto.h"

#define SPN_PRINTF(a, b) __attribute__((format(printf, a, b)))

struct rt;
struct link;

/* wire.c */
struct spn_hdr {
	uint8_t		 kind;
	uint32_t	 dst;
	uint32_t	 src;
	uint32_t	 handle;
	uint32_t	 reply_to;
	uint32_t	 len;
};
void		 be32_put(uint8_t *, uint32_t);
uint32_t	 be32_get(const uint8_t *);
void		 wire_put_hdr(uint8_t *, const struct spn_hdr *);
int		 wire_get_hdr(const uint8_t *, struct spn_hdr *, uint32_t,
		     char *, size_t);
const char	*wire_kind_name(uint8_t);
int		 wire_secret(const struct spn_hdr *);
const char	*wire_dead_name(uint32_t);

/* pack.c */
struct pk {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
};
struct upk {
	const uint8_t	*p;
	size_t		 left;
	int		 err;
};
void		 pk_init(struct pk *);
void		 pk_free(struct pk *);
void		 pk_u32(struct pk *, uint32_t);
void		 pk_bytes(struct pk *, const void *, size_t);
void		 pk_str(struct pk *, const char *);
void		 pk_strv(struct pk *, char *const *);
void		 upk_init(struct upk *, const void *, size_t);
uint32_t	 upk_u32(struct upk *);
char		*upk_str(struct upk *);
char		**upk_strv(struct upk *);
void		 strv_push(char ***, size_t *, char *);
void		 strv_free(char **);

/* map.c: uint32 -> pointer hash map */
struct map;
struct map	*map_new(void);
void		 map_free(struct map *);
void		*map_get(struct map *, uint32_t);
int		 map_put(struct map *, uint32_t, void *);
void		*map_del(struct map *, uint32_t);
size_t		 map_count(struct map *);
/* Visit every entry; the callback may delete the entry it is given. */
void		 map_each(struct map *, void (*)(uint32_t, void *, void *),
		     void *);

/* log.c */
typedef void log_sink_fn(int, const char *, const char *, void *);
typedef void log_output_fn(int, uint32_t, const char *, const char *,
		     void *);
/* 0: taken (the text copied); else the record is printed here. */
typedef int log_post_fn(int, uint32_t, const char *, void *);
void		 log_set_level(int);
int		 log_get_level(void);
void		 log_set_sink(log_sink_fn *, void *);
void		 log_set_post(log_post_fn *, void *);
void		 log_set_output(log_output_fn *, void *);
void		 log_set_fd(int);
void		 log_deliver(int, uint32_t, const char *);
const char	*log_level_name(int);
void		 log_msg(int, const char *, ...) SPN_PRINTF(2, 3);
void		 log_vmsg(int, const char *, va_list);
void		 log_about(uint32_t, int, const char *, ...) SPN_PRINTF(3, 4);
void		 log_emit(int, const char *, const char *);
void		 log_emit_about(int, uint32_t, const char *, const char *);
#define log_error(...)	log_msg(SPN_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(SPN_LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(SPN_LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(SPN_LOG_DEBUG, __VA_ARGS__)
/* Out of memory or a broken invariant: the message, then abort(). */
void		 fatal(const char *, ...) SPN_PRINTF(1, 2)
		     __attribute__((noreturn));

/* mem.c */
void		 mem_init(void);
void		*mem_get(size_t);
void		 mem_put(void *);

/* secret.c: passwords in memory */
#define SECRET_MAX	1024	/* longest password taken */
void		 secret_nodump(void);
void		*xrealloc_wiped(void *, size_t, size_t);
void		 evbuf_add_secret(struct evbuffer *, const void *, size_t);
void		 evbuf_move_secret(struct evbuffer *, struct evbuffer *, size_t);
char		*secret_keep(const char *);
void		 secret_drop(char *);

/* util.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xrealloc(void *, size_t);
char		*xstrdup(const char *);
char		*xstrndup(const char *, size_t);
char		*xprintf(const char *, ...) SPN_PRINTF(1, 2);
int		 fd_nonblock(int, int);
int		 fd_pollable(int);
void		 fd_grow_pipe(int);
uint64_t	 now_usec(void);
const char	*ssh_strerror(int);
char		*passwd_name(uid_t);
char		*passwd_shell(uid_t);
char		*passwd_home(uid_t);
char		*evbuf_readline(struct evbuffer *, size_t *);
char		*evbuf_take(struct evbuffer *);
char		*str_clean(char *);

/* link.c */
enum link_role { LINK_PARENT, LINK_CHILD };
struct link_cbs {
	/* Text lines seen before the binary preamble ends (child links). */
	void	(*text)(struct link *, const char *, void *);
	/* "SPN0 <arch>" seen; return -1 to refuse the link. */
	int	(*preamble)(struct link *, const char *, void *);
	/* End of input; the owner closes the link when it knows why. */
	void	(*eof)(struct link *, void *);
	void	(*closed)(struct link *, const char *, void *);
	void	 *arg;
};
struct link	*link_new(struct rt *, int, int, enum link_role, uint32_t,
		     const char *);
void		 link_set_cbs(struct link *, const struct link_cbs *);
void		 link_expect_preamble(struct link *);
void		 link_write(struct link *, const struct spn_hdr *,
		     const void *);
void		 link_write_raw(struct link *, const void *, size_t);
void		 link_write_hdr_evbuf(struct link *, const struct spn_hdr *,
		     struct evbuffer *);
void		 link_write_evbuf(struct link *, struct evbuffer *, size_t);
void		 link_close(struct link *, const char *, ...)
		     SPN_PRINTF(2, 3);
void		 link_violation(struct link *, const char *, ...)
		     SPN_PRINTF(2, 3);
int		 link_violated(struct link *);
uint32_t	 link_nctx(struct link *);
void		 link_nctx_add(struct link *, int);
uint32_t	 link_npeers(struct link *);
void		 link_npeers_add(struct link *, int);
uint32_t	 link_dropped(struct link *);
int		 link_log_allow(struct link *);
void		 link_set_keepalive(struct link *, int);
uint32_t	 link_peer(struct link *);
void		 link_set_peer(struct link *, uint32_t);
enum link_role	 link_role(struct link *);
const char	*link_name(struct link *);
size_t		 link_queued(struct link *);
uint64_t	 link_bytes_in(struct link *);
uint64_t	 link_bytes_out(struct link *);

/* router.c */
struct rt_msg {
	struct spn_hdr	 h;
	const uint8_t	*data;
	/* With RT_EVBUF, DATA payloads come here instead (data is NULL):
	 * the handler may move them out without a copy. */
	struct evbuffer	*buf;
	struct link	*from;	/* NULL for local delivery */
};
typedef void rt_fn(struct rt *, const struct rt_msg *, void *);

/* Who may send to a handle. */
#define RT_ALLOW_ANCESTORS	0x1
#define RT_ALLOW_DESCENDANTS	0x2
#define RT_ALLOW_PEER		0x4	/* only the handle's peer context */
#define RT_ALLOW_ANY		0x8
#define RT_EVBUF		0x100	/* take DATA payloads as an evbuffer */

struct rt_hooks {
	void	(*boot)(struct rt *, const struct rt_msg *, struct upk *,
		    void *);
	void	(*parent_lost)(struct rt *, const char *, void *);
	/* A route of ours went, or (GONE) a context we talked with. */
	void	(*route_lost)(struct rt *, uint32_t, const char *, void *);
	/* The master's name for a context it started, or NULL. */
	const char *(*ctx_name)(struct rt *, uint32_t, void *);
	void	 *arg;
};
struct rt	*rt_new(struct event_base *, uint32_t, const char *);
void		 rt_free(struct rt *);
void		 rt_set_hooks(struct rt *, const struct rt_hooks *);
struct event_base *rt_base(struct rt *);
uint32_t	 rt_id(struct rt *);
void		 rt_set_id(struct rt *, uint32_t);
const char	*rt_name(struct rt *);
void		 rt_set_name(struct rt *, const char *);
void		 rt_set_ancestors(struct rt *, const uint32_t *, size_t);
int		 rt_is_ancestor(struct rt *, uint32_t);
uint32_t	 rt_depth(struct rt *);
uint32_t	 rt_max_frame(struct rt *);
void		 rt_set_max_frame(struct rt *, uint32_t);
uint32_t	 rt_window(struct rt *);
void		 rt_set_window(struct rt *, uint32_t);
struct link	*rt_parent(struct rt *);
void		 rt_set_sideways(struct rt *, int);
uint32_t	 rt_handle_add(struct rt *, uint32_t, int, uint32_t, rt_fn *,
		     void *);
void		 rt_handle_del(struct rt *, uint32_t);
void		*rt_handle_arg(struct rt *, uint32_t);
void		 rt_send(struct rt *, uint8_t, uint32_t, uint32_t, uint32_t,
		     const void *, size_t);
void		 rt_send_evbuf(struct rt *, uint8_t, uint32_t, uint32_t,
		     uint32_t, struct evbuffer *);
void		 rt_send_pk(struct rt *, uint8_t, uint32_t, uint32_t,
		     uint32_t, struct pk *);
void		 rt_dead(struct rt *, const struct rt_msg *, uint32_t,
		     const char *, ...) SPN_PRINTF(4, 5);
void		 rt_log_forward(struct rt *, int, const char *);
void		 rt_log_print(struct rt *, const struct rt_msg *, void *);
void		 rt_boot_pack(struct rt *, struct pk *, uint32_t, const char *,
		     int);
/* Called by link.c. */
void		 rt_link_added(struct rt *, struct link *);
void		 rt_link_input(struct rt *, struct link *, struct evbuffer *,
		     const struct spn_hdr *);
void		 rt_link_closed(struct rt *, struct link *, const char *);
void		 rt_route_add(struct rt *, uint32_t, struct link *);
struct link	*rt_route_lookup(struct rt *, uint32_t);
void		 rt_close_children(struct rt *, const char *);

/* stream.c: byte streams over the bus with credit windows */
struct src;
struct sink;
typedef void src_done_fn(struct src *, const char *, void *);
typedef void sink_done_fn(struct sink *, const char *, void *);
typedef void sink_data_fn(struct sink *, struct evbuffer *, void *);
struct src	*src_new(struct rt *, int, int, uint32_t, uint32_t,
		     src_done_fn *, void *);
void		 src_set_credit(struct src *, uint32_t);
void		 src_free(struct src *);
uint64_t	 src_bytes(struct src *);
int		 src_errno(struct src *);
struct sink	*sink_new(struct rt *, int, int, uint32_t, sink_done_fn *,
		     void *);
struct sink	*sink_new_cb(struct rt *, uint32_t, uint32_t, sink_data_fn *,
		     sink_done_fn *, void *);
void		 sink_credit(struct sink *, size_t);
uint32_t	 sink_handle(struct sink *);
void		 sink_free(struct sink *);
uint64_t	 sink_bytes(struct sink *);
int		 sink_errno(struct sink *);
/* A socket (or an fd pair) as a sink and a source, half-close kept. */
struct sock;
typedef void sock_done_fn(struct sock *, const char *, void *);
struct sock	*sock_new(struct rt *, int, int, uint32_t, sock_done_fn *,
		     void *);
void		 sock_start(struct sock *, uint32_t);
uint32_t	 sock_sink_handle(struct sock *);
uint64_t	 sock_bytes_in(struct sock *);
uint64_t	 sock_bytes_out(struct sock *);
void		 sock_abort(struct sock *, const char *);
void		 sock_free(struct sock *);

/* proc.c: child process reaping, per pid (loop thread only) */
#define PROC_STATUS_LOST	(-1)	/* another waiter took the status */
typedef void proc_exit_fn(pid_t, int, void *);
void		 proc_init(struct event_base *);
void		 proc_watch(pid_t, proc_exit_fn *, void *);
char		*proc_status_text(int);
char		*proc_stop_text(int);
void		 proc_wait_all(int);
int		 proc_watching(void);

/* broker.c: the router on its own thread, fed from other threads */
struct broker;
typedef void broker_fn(void *);
struct broker	*broker_new(struct event_base *, size_t);
int		 broker_submit(struct broker *, broker_fn *, void *);
void		 broker_free(struct broker *);
/* A log_post_fn, arg the broker: other threads' records to the sink on
 * the loop.  Unset it (log_set_post) before broker_free. */
int		 broker_log_post(int, uint32_t, const char *, void *);

#endif
