/*
 * lib room: the root context (routes, chains, the master) and
 * libspindle's implementation.  include/spindle.h is its only public
 * header; this one is private to the tree.  Prototypes are grouped by
 * file.
 */
#ifndef SPN_LIB_H
#define SPN_LIB_H

#include <stdarg.h>

#include "../agent/agent.h"
#include "../include/spindle.h"

/* value.c: MessagePack values (msgpack-c), never trusting a count */
#define VALUE_DEPTH_MAX	32
struct spn_vbuf	*vbuf_new(void);
void		 vbuf_free(struct spn_vbuf *);
const uint8_t	*vbuf_data(const struct spn_vbuf *, size_t *);
/* Append the values va_list holds, one per letter of sig; -1 with why
 * on a bad signature. */
int		 vbuf_putv(struct spn_vbuf *, const char *, va_list *, char *,
		     size_t);
/* Pre-scan (bounded: no allocation from a declared count) then decode;
 * -1 with why.  The message owns a copy of the bytes. */
int		 value_decode(const void *, size_t, struct spn_msg **, char *,
		     size_t);
/* Does the value (an array) match a signature's letters?  -1 with why. */
int		 value_sig_match(const struct spn_value *, const char *, char *,
		     size_t);

/* callmsg.c: the CALL and REPLY payloads, encoded here only */
struct callmsg {
	const char	*fn;
	const char	*sig;		/* the caller's argument letters */
	uint32_t	 flags;
	uint32_t	 deadline_ms;	/* 0: none; from the caller's clock */
	const struct spn_value *args;	/* an array */
};
int		 callmsg_pack(struct spn_vbuf *, const char *, const char *,
		     const struct spn_vbuf *, uint32_t, uint32_t);
/* m owns what c points into. */
int		 callmsg_unpack(const void *, size_t, struct spn_msg **,
		     struct callmsg *, char *, size_t);
int		 reply_pack_ok(struct spn_vbuf *, const struct spn_vbuf *);
int		 reply_pack_err(struct spn_vbuf *, const struct spn_error *);
/* SPN_OK with *result, or the remote error's code with err filled. */
int		 reply_unpack(const void *, size_t, struct spn_msg **,
		     struct spn_error *);

/* export.c: the program's export table (section spn_exports) */
const struct spn_export *export_find(const char *);
/* Does a call's argument signature fit the export's?  SPN_OK, SPN_ESIG. */
int		 export_sig_check(const struct spn_export *, const char *);
/* agent_ops.run: one CALL, on a worker thread. */
void		 export_run(struct agent_call *, struct agent_reply *);
/* The export running on this thread, or NULL (crash reports). */
const char	*export_running(void);
/* What spn_call_spn() gives a function (agent mode). */
void		 export_set_spn(struct spn *);

/* agentmode.c */
/* In a copy started by spindle: become the context's agent (never
 * returns).  Else 0. */
int		 agent_mode_main(int *, char ***, const struct spn_opts *);

/* error.c */
void		 error_set(struct spn_error *, int, const char *, const char *,
		     ...) SPN_PRINTF(4, 5);
int		 error_from_dead(struct spn_error *, uint32_t, const char *,
		     const char *);

#endif
