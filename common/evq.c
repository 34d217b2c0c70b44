// SPDX-License-Identifier: MIT
/* evq: the transports' pending-event ring (evq.h). */
#include <errno.h>
#include <stdlib.h>

#include "evq.h"

int rfs_evq_push(struct rfs_evq *q, enum rfs_xev_type type, int status,
		 struct rfs_conn *c, struct rfs_buf *b)
{
	if (q->n == q->cap) {
		uint32_t ncap = q->cap ? q->cap * 2 : 256;
		struct rfs_xev *nv = malloc(ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		for (uint32_t i = 0; i < q->n; i++)
			nv[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = nv;
		q->cap = ncap;
		q->head = 0;
	}
	q->v[(q->head + q->n) % q->cap] = (struct rfs_xev){
		.type = type,
		.status = status,
		.conn = c,
		.buf = b,
	};
	q->n++;
	return 0;
}

bool rfs_evq_pop(struct rfs_evq *q, struct rfs_xev *out)
{
	if (!q->n)
		return false;
	*out = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return true;
}

int rfs_evq_reap(struct rfs_evq *q, struct rfs_xev *ev, int max)
{
	int n = 0;

	while (n < max && rfs_evq_pop(q, &ev[n]))
		n++;
	return n;
}

void rfs_evq_scrub(struct rfs_evq *q, const struct rfs_conn *c,
		   void (*put)(void *ctx, struct rfs_buf *b), void *ctx)
{
	uint32_t keep = 0;

	for (uint32_t i = 0; i < q->n; i++) {
		struct rfs_xev e = q->v[(q->head + i) % q->cap];

		if (e.conn == c) {
			if (e.buf)
				put(ctx, e.buf);
			continue;
		}
		q->v[(q->head + keep) % q->cap] = e;
		keep++;
	}
	q->n = keep;
}

void rfs_evq_free(struct rfs_evq *q)
{
	free(q->v);
	*q = (struct rfs_evq){ 0 };
}
