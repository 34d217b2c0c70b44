// SPDX-License-Identifier: MIT
/*
 * drc: the duplicate-request cache of a session.
 *
 * A client that lost its connection resends (RFS_HF_REPLAY) every request
 * it had in flight, with the same id.  Some of them ran already; running a
 * CREATE, UNLINK, RENAME or an appending WRITE a second time would not
 * give the same result.  So the reply of every non-idempotent request is
 * kept here, keyed by request id (unique per session: the client puts its
 * loop index in the id), and a replayed request whose id is here gets the
 * stored reply without running again.  A replay that arrives while the
 * original still runs (its connection's thread is still in the syscall)
 * waits for it, bounded.
 *
 * Bounded: RFS_DRC_MAX entries and RFS_DRC_BYTES bytes of replies; the
 * least recently stored finished entries go first.  READ replies are never
 * stored (READ is not on the list).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "server.h"
#include "spin.h"

#define RFS_DRC_MAX 1024u
#define RFS_DRC_BYTES (4u << 20)
#define RFS_DRC_BUCKETS 2048u /* power of two */
#define RFS_DRC_WAIT_MS 10000

struct drc_ent {
	uint64_t id;
	bool done;
	void *frame;
	uint32_t len;
	struct drc_ent *hnext;
	struct drc_ent *prev, *next; /* LRU: head = oldest */
};

struct rfs_drc {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* an entry finished */
	struct drc_ent *bucket[RFS_DRC_BUCKETS];
	struct drc_ent *head, *tail;
	uint32_t count;
	uint64_t bytes;
	uint64_t hits;
};

/* the ops not safe to run twice: proto/optab.c flags them */
bool rfs_drc_wanted(uint16_t op)
{
	return rfs_op_is(op, RFS_OPF_DRC);
}

int rfs_drc_new(struct rfs_drc **out)
{
	struct rfs_drc *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	*out = d;
	return 0;
}

static struct drc_ent **slot(struct rfs_drc *d, uint64_t id)
{
	struct drc_ent **pp;

	pp = &d->bucket[(id ^ id >> 17) & (RFS_DRC_BUCKETS - 1)];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->hnext;
	return pp;
}

static void lru_unlink(struct rfs_drc *d, struct drc_ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		d->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		d->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_append(struct rfs_drc *d, struct drc_ent *e)
{
	e->prev = d->tail;
	e->next = NULL;
	if (d->tail)
		d->tail->next = e;
	else
		d->head = e;
	d->tail = e;
}

static void ent_drop(struct rfs_drc *d, struct drc_ent *e)
{
	struct drc_ent **pp = slot(d, e->id);

	if (*pp == e)
		*pp = e->hnext;
	lru_unlink(d, e);
	d->count--;
	d->bytes -= e->len;
	free(e->frame);
	free(e);
}

/* make room: drop the oldest finished entries */
static void trim(struct rfs_drc *d, uint32_t more)
{
	struct drc_ent *e = d->head;

	while (e &&
	       (d->count >= RFS_DRC_MAX || d->bytes + more > RFS_DRC_BYTES)) {
		struct drc_ent *next = e->next;

		if (e->done)
			ent_drop(d, e);
		e = next;
	}
}

int rfs_drc_begin(struct rfs_drc *d, uint64_t id, bool replay, void **frame,
		  uint32_t *len)
{
	struct drc_ent **pp, *e;
	int ret = RFS_DRC_RUN;

	if (!d)
		return RFS_DRC_RUN;
	pthread_mutex_lock(&d->mu);
	pp = slot(d, id);
	e = *pp;
	if (e && replay) {
		struct timespec ts;
		long long deadline = rfs_now_ms() + RFS_DRC_WAIT_MS;

		/* the original still runs on its (dead) connection's thread */
		while (e && !e->done && rfs_now_ms() < deadline) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&d->cv, &d->mu, &ts);
			e = *slot(d, id);
		}
		if (e && e->done && e->frame) {
			*frame = malloc(e->len);
			if (*frame) {
				memcpy(*frame, e->frame, e->len);
				*len = e->len;
				d->hits++;
				ret = RFS_DRC_CACHED;
				goto out;
			}
		}
		if (e && !e->done) {
			ret = -EAGAIN; /* still running: do not run twice */
			goto out;
		}
		if (e)
			ent_drop(d, e);
	} else if (e) {
		/* a fresh request reusing an id: forget the old reply */
		if (!e->done) {
			ret = RFS_DRC_RUN;
			goto out;
		}
		ent_drop(d, e);
	}
	trim(d, 0);
	e = calloc(1, sizeof(*e));
	if (!e)
		goto out; /* run uncached */
	e->id = id;
	pp = slot(d, id);
	e->hnext = *pp;
	*pp = e;
	lru_append(d, e);
	d->count++;
out:
	pthread_mutex_unlock(&d->mu);
	return ret;
}

void rfs_drc_end(struct rfs_drc *d, uint64_t id, const void *frame,
		 uint32_t len)
{
	struct drc_ent *e;

	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	e = *slot(d, id);
	if (e && !e->done) {
		e->done = true;
		if (frame && len) {
			trim(d, len);
			e->frame = malloc(len);
			if (e->frame) {
				memcpy(e->frame, frame, len);
				e->len = len;
				d->bytes += len;
			}
		}
		lru_unlink(d, e);
		lru_append(d, e);
		pthread_cond_broadcast(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
}

uint64_t rfs_drc_hits(struct rfs_drc *d)
{
	uint64_t h;

	if (!d)
		return 0;
	pthread_mutex_lock(&d->mu);
	h = d->hits;
	pthread_mutex_unlock(&d->mu);
	return h;
}

void rfs_drc_free(struct rfs_drc *d)
{
	if (!d)
		return;
	while (d->head)
		ent_drop(d, d->head);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
