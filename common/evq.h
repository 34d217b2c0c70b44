/* SPDX-License-Identifier: MIT */
/*
 * evq: a transport context's queue of events not yet reaped by
 * rfs_xprt_poll.  A ring of struct rfs_xev that doubles when full; the
 * one allocation failure (a pathological backlog) is returned to the
 * transport, which decides what to drop.  Single-threaded, like the
 * context that owns it.
 */
#ifndef RFS_EVQ_H
#define RFS_EVQ_H

#include <stdbool.h>
#include <stdint.h>

#include "xprt.h"

struct rfs_evq {
	struct rfs_xev *v;
	uint32_t cap, head, n;
};

/* Append an event; -ENOMEM when the queue cannot grow. */
int rfs_evq_push(struct rfs_evq *q, enum rfs_xev_type type, int status,
		 struct rfs_conn *c, struct rfs_buf *b);
/* Take the oldest event into *out; false when empty. */
bool rfs_evq_pop(struct rfs_evq *q, struct rfs_xev *out);
/* Move up to max events into ev[]; returns the count. */
int rfs_evq_reap(struct rfs_evq *q, struct rfs_xev *ev, int max);
/*
 * Remove every event naming c (it is being freed), keeping the order of
 * the rest; put(ctx, buf) takes back each removed event's buffer.
 */
void rfs_evq_scrub(struct rfs_evq *q, const struct rfs_conn *c,
		   void (*put)(void *ctx, struct rfs_buf *b), void *ctx);
void rfs_evq_free(struct rfs_evq *q);

#endif /* RFS_EVQ_H */
