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
 * Across a server restart (xlog.h): entries of persisted requests also
 * hold what their INTENT saw until their reply is stored, so that the
 * session's reply log can be rewritten from here; RESUME adopts an old
 * session's records as "inherited" entries.  A replay that finds an
 * inherited reply gets it (a CREATE's is redone: its fh is gone), one that
 * finds an INTENT without a reply is settled by its handler.
 *
 * Bounded: RFS_DRC_MAX entries and RFS_DRC_BYTES bytes of replies; the
 * least recently stored finished entries go first.  READ replies are never
 * stored (READ is not on the list).  The client's ids say nothing of
 * which replies it has seen (they never repeat), so that bound is the
 * only forgetting.
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
	uint64_t sess; /* persisted: the session that ran it */
	uint16_t op;
	bool done;
	bool persist;	/* in the session's reply log too */
	bool inherited; /* adopted from a previous server's log (RESUME) */
	void *frame;
	uint32_t len;
	struct rfs_xpre *pre; /* persisted, no reply yet: what its INTENT saw */
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

/* into the id hash and at the LRU's tail (e->id set) */
static void ent_link(struct rfs_drc *d, struct drc_ent *e)
{
	struct drc_ent **pp = slot(d, e->id);

	e->hnext = *pp;
	*pp = e;
	lru_append(d, e);
	d->count++;
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
	free(e->pre);
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

static void *dup_bytes(const void *p, size_t len)
{
	void *q = malloc(len);

	if (q)
		memcpy(q, p, len);
	return q;
}

/* under d->mu: wait (bounded) while the entry for id is running */
static struct drc_ent *wait_done(struct rfs_drc *d, uint64_t id)
{
	long long deadline = rfs_now_ms() + RFS_DRC_WAIT_MS;
	struct drc_ent *e = *slot(d, id);
	struct timespec ts;

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
	return e;
}

static bool frame_ok(const struct drc_ent *e)
{
	return ((const struct rfs_hdr *)e->frame)->status == 0;
}

/*
 * A replay that found its entry e, finished: what to answer.  RFS_DRC_RUN
 * when the entry says nothing (the request never ran: it is dropped).
 */
static int replay_hit(struct rfs_drc *d, struct drc_ent *e, uint16_t op,
		      struct rfs_drc_hit *hit)
{
	if (e->inherited && e->op != op)
		return RFS_DRC_RUN; /* not what that id was: ignore it */
	if (e->frame) {
		hit->frame = dup_bytes(e->frame, e->len);
		if (!hit->frame)
			return -ENOMEM;
		hit->len = e->len;
		if (e->inherited && op == RFS_OP_CREATE && frame_ok(e)) {
			/* its old fh died with the old server: open again */
			e->done = false;
			return RFS_DRC_REDO;
		}
		hit->inherited = e->inherited;
		d->hits++;
		return RFS_DRC_CACHED;
	}
	if (e->pre) {
		/* it died mid-run with the old server: did it run? */
		hit->pre = dup_bytes(e->pre, sizeof(*e->pre));
		if (!hit->pre)
			return -ENOMEM;
		e->done = false;
		return RFS_DRC_SETTLE;
	}
	return RFS_DRC_RUN;
}

int rfs_drc_begin(struct rfs_drc *d, uint64_t id, uint16_t op, bool replay,
		  struct rfs_drc_hit *hit)
{
	struct drc_ent *e;
	int ret = RFS_DRC_RUN;

	memset(hit, 0, sizeof(*hit));
	if (!d)
		return RFS_DRC_RUN;
	pthread_mutex_lock(&d->mu);
	e = *slot(d, id);
	if (e && replay) {
		e = wait_done(d, id);
		if (e && !e->done) {
			ret = -EAGAIN; /* still running: do not run twice */
			goto out;
		}
		if (e) {
			ret = replay_hit(d, e, op, hit);
			if (ret != RFS_DRC_RUN)
				goto out;
			ent_drop(d, e);
		}
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
	e->op = op;
	ent_link(d, e);
out:
	pthread_mutex_unlock(&d->mu);
	return ret;
}

void rfs_drc_intent(struct rfs_drc *d, uint64_t id, const struct rfs_xpre *pre)
{
	struct drc_ent *e;

	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	e = *slot(d, id);
	if (e && !e->done) {
		if (!e->pre)
			e->pre = malloc(sizeof(*e->pre));
		if (e->pre)
			*e->pre = *pre;
		e->persist = true;
	}
	pthread_mutex_unlock(&d->mu);
}

void rfs_drc_end(struct rfs_drc *d, uint64_t id, const void *frame,
		 uint32_t len, bool persist, uint64_t sess)
{
	struct drc_ent *e;

	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	e = *slot(d, id);
	if (e && !e->done) {
		if (frame && len) {
			/* e is not done yet: trim cannot drop it */
			trim(d, len);
			free(e->frame);
			d->bytes -= e->len;
			e->len = 0;
			e->frame = dup_bytes(frame, len);
			if (e->frame) {
				e->len = len;
				d->bytes += len;
			}
			/* the reply says it all now */
			free(e->pre);
			e->pre = NULL;
			e->inherited = false;
			e->persist = e->persist || persist;
			e->sess = sess;
		}
		/* no reply: what it had (an INTENT, an inherited one) stays */
		e->done = true;
		lru_unlink(d, e);
		lru_append(d, e);
		pthread_cond_broadcast(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
}

int rfs_drc_adopt(struct rfs_drc *d, uint64_t id, uint16_t op, uint64_t sess,
		  const void *frame, uint32_t len, const struct rfs_xpre *pre)
{
	struct drc_ent *e;
	int ret = 1;

	pthread_mutex_lock(&d->mu);
	e = *slot(d, id);
	if (e && !e->done) {
		ret = 0; /* running now: not the old session's */
		goto out;
	}
	if (e) {
		ent_drop(d, e); /* a later record of the same id wins */
		ret = 0;
	}
	trim(d, frame ? len : 0);
	e = calloc(1, sizeof(*e));
	if (!e) {
		ret = -ENOMEM;
		goto out;
	}
	if (frame)
		e->frame = dup_bytes(frame, len);
	else
		e->pre = dup_bytes(pre, sizeof(*pre));
	if (!e->frame && !e->pre) {
		free(e);
		ret = -ENOMEM;
		goto out;
	}
	e->id = id;
	e->op = op;
	e->sess = sess;
	e->done = true;
	e->persist = true;
	e->inherited = true;
	e->len = frame ? len : 0;
	d->bytes += e->len;
	ent_link(d, e);
out:
	pthread_mutex_unlock(&d->mu);
	return ret;
}

int rfs_drc_each_kept(struct rfs_drc *d, rfs_drc_kept_fn fn, void *arg)
{
	int ret = 0;

	pthread_mutex_lock(&d->mu);
	for (struct drc_ent *e = d->head; e && !ret; e = e->next) {
		if (!e->persist)
			continue;
		if (e->done && e->frame)
			ret = fn(arg, e->id, e->op, e->sess, e->frame, e->len,
				 NULL);
		else if (e->pre)
			ret = fn(arg, e->id, e->op, e->sess, NULL, 0, e->pre);
		else if (e->frame) /* being redone: the old reply stands */
			ret = fn(arg, e->id, e->op, e->sess, e->frame, e->len,
				 NULL);
	}
	pthread_mutex_unlock(&d->mu);
	return ret;
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
