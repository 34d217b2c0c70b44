// SPDX-License-Identifier: MIT
/*
 * replay: reconnect and replay after a lost connection, and recovery from
 * a server restart (new session, files re-opened, locks re-taken).
 * Split out of loop.c; the loop calls rfs_lp_lost() when its connection
 * dies and rfs_lp_reconnect_tick() while it is reconnecting.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>

#include "client_i.h"
#include "log.h"
#include "loop_i.h"

/* ---- reconnect and replay --------------------------------------------- */

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 2000
#define SOFT_CHECK_MS 250

/* Close the loop's transport (and its connection, if any). */
static void xprt_drop(struct cl_loop *l)
{
	if (!l->x)
		return;
	if (l->ep >= 0)
		epoll_ctl(l->ep, EPOLL_CTL_DEL, rfs_xprt_wait_fd(l->x), NULL);
	rfs_xprt_close(l->x);
	l->x = NULL;
	l->conn = NULL;
}

/* Fail a request the kernel waits for, and any RESOLVE started for it. */
static void fail_user(struct cl_loop *l, struct cl_pend *p, int err)
{
	int32_t idx = (int32_t)(p - l->slots);

	for (uint32_t i = 0; i < CL_SLOTS; i++) {
		struct cl_pend *q = &l->slots[i];

		if (q->busy && !q->req && q->op == RFS_OP_RESOLVE &&
		    q->orig == idx)
			rfs_lp_slot_put(l, q);
	}
	rfs_lp_fail(l, p, err);
}

/*
 * The application waiting for p got a signal: end the call with EINTR when
 * it waits for a reconnect or for a lock; anything else finishes soon.
 */
void rfs_lp_check_interrupts(struct cl_loop *l)
{
	atomic_store(&l->intr, false);
	for (uint32_t i = 0; i < CL_SLOTS; i++) {
		struct cl_pend *p = &l->slots[i];

		if (!p->busy || !p->req ||
		    atomic_load(&p->intr_req) != (uintptr_t)p->req)
			continue;
		if (l->conn && p->op != RFS_OP_SETLK &&
		    p->op != RFS_OP_FLOCK)
			continue;
		rfs_dbg(RFS_SUB_CLIENT, "client: loop %u: %s interrupted",
			l->idx, rfs_proto_op_name(p->op));
		fail_user(l, p, -EINTR);
	}
}

/* soft mounts: a request older than timeo fails with EIO */
void rfs_lp_soft_timeouts(struct cl_loop *l, int64_t now)
{
	unsigned n = 0;

	if (now - l->last_soft_check < SOFT_CHECK_MS)
		return;
	l->last_soft_check = now;
	for (uint32_t i = 0; i < CL_SLOTS; i++) {
		struct cl_pend *p = &l->slots[i];

		if (!p->busy || !p->req ||
		    now - p->start_ms < rfs_cl->o.timeo_ms)
			continue;
		fail_user(l, p, -EIO);
		n++;
	}
	if (n)
		rfs_err_rl("client: loop %u: %u requests timed out (soft "
			   "mount, timeo=%lld s): EIO", l->idx, n,
			   (long long)(rfs_cl->o.timeo_ms / 1000));
}

int rfs_lp_wait_ms(struct cl_loop *l)
{
	int64_t t = -1;

	if (l->reconnecting) {
		t = l->next_try_ms - rfs_lp_now_ms();
		if (t < 0)
			t = 0;
	}
	if (rfs_cl->o.soft && l->inflight && (t < 0 || t > SOFT_CHECK_MS))
		t = SOFT_CHECK_MS;
	return (int)t;
}

/* The connection died: keep the requests, reconnect (false: give up). */
bool rfs_lp_lost(struct cl_loop *l, int status)
{
	if (rfs_lp_stop_requested())
		return false;
	l->reconnecting = true;
	l->lost_at_ms = rfs_lp_now_ms();
	l->next_try_ms = l->lost_at_ms;
	l->backoff_ms = RECONNECT_MIN_MS;
	l->attempts = 0;
	rfs_err("connection to %s lost (loop %u): %s; reconnecting, "
		"%u requests in flight", rfs_cl->addr.text, l->idx,
		status ? strerror(-status) : "closed by the server",
		l->inflight);
	rfs_lp_check_interrupts(l);
	return true;
}

/* RESOLVE (the new server knows no node yet) and OPEN one file again. */
static int reopen_one(void *arg, uint64_t nodeid, uint32_t flags, bool dir,
		      uint32_t uid, uint32_t gid, uint64_t *sfh)
{
	struct cl_loop *l = arg;
	uint8_t handle[RFS_HANDLE_MAX];
	struct rfs_buf *b, *rb;
	struct rfs_mb mb;
	const struct rfs_hdr *h;
	struct rfs_rep_view v;
	uint64_t id;
	int hlen, len, ret;

	if (nodeid != rfs_cl->root_nodeid) {
		struct rfs_resolve_req *rr;

		hlen = rfs_inode_handle(nodeid, handle);
		if (hlen <= 0)
			return -ESTALE;
		b = rfs_xprt_buf_get(l->x, RFS_HDR_SIZE + sizeof(*rr) +
				     (uint32_t)hlen + 8);
		if (!b)
			return -ENOTCONN;
		id = rfs_lp_next_id(l, 0);
		rfs_mb_init(&mb, b->data, b->cap, RFS_OP_RESOLVE, id);
		rr = rfs_mb_put(&mb, sizeof(*rr));
		if (rr) {
			rr->nodeid = nodeid;
			rr->handle_len = (uint16_t)hlen;
		}
		rfs_mb_put_bytes(&mb, handle, (uint32_t)hlen);
		len = rfs_mb_finish(&mb, rfs_cl->csum);
		if (len < 0) {
			rfs_xprt_buf_put(l->x, b);
			return len;
		}
		b->len = (uint32_t)len;
		if (rfs_lp_sync_call(l, b, id, &rb) < 0)
			return -ENOTCONN;
		ret = ((const struct rfs_hdr *)rb->data)->status;
		rfs_xprt_buf_put(l->x, rb);
		if (ret < 0)
			return ret;
	}
	b = rfs_xprt_buf_get(l->x, RFS_HDR_SIZE + 64);
	if (!b)
		return -ENOTCONN;
	id = rfs_lp_next_id(l, 0);
	rfs_mb_init(&mb, b->data, b->cap, dir ? RFS_OP_OPENDIR : RFS_OP_OPEN,
		    id);
	rfs_mb_hdr(&mb)->uid = uid;
	rfs_mb_hdr(&mb)->gid = gid;
	{
		struct rfs_open_req *o = rfs_mb_put(&mb, sizeof(*o));

		if (o) {
			o->nodeid = nodeid;
			o->flags = flags;
		}
	}
	len = rfs_mb_finish(&mb, rfs_cl->csum);
	if (len < 0) {
		rfs_xprt_buf_put(l->x, b);
		return len;
	}
	b->len = (uint32_t)len;
	if (rfs_lp_sync_call(l, b, id, &rb) < 0)
		return -ENOTCONN;
	h = rb->data;
	ret = h->status;
	if (!ret)
		ret = rfs_proto_decode_rep(h, h + 1, dir ? RFS_OP_OPENDIR
							 : RFS_OP_OPEN, &v);
	if (!ret)
		*sfh = ((const struct rfs_open_rep *)v.fixed)->fh;
	rfs_xprt_buf_put(l->x, rb);
	return ret;
}

/* Resend every pending request with RFS_HF_REPLAY; returns how many. */
static unsigned replay_all(struct cl_loop *l, uint64_t gen)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < CL_SLOTS; i++) {
		struct cl_pend *p = &l->slots[i];
		struct rfs_hdr *h = p->copy;
		struct rfs_buf *b;

		if (!p->busy)
			continue;
		if (!p->req && p->op == RFS_OP_RESOLVE && !p->copy_len) {
			/* its request is replayed and resolves again */
			rfs_lp_slot_put(l, p);
			continue;
		}
		if (!p->copy_len) {
			rfs_lp_fail(l, p, -EIO);
			continue;
		}
		if (p->sess_gen != gen) {
			bool lost = false;

			/* a new session: the re-opened files' fhs */
			if (p->raw_fh) {
				rfs_lp_fail(l, p, 0);
				continue;
			}
			for (unsigned k = 0; k < p->nfh; k++) {
				uint64_t sfh = 0;
				int ret = rfs_fh_server(p->cfh[k], &sfh);

				if (ret == -EIO ||
				    (rfs_lk_io_op(p->op) &&
				     rfs_lk_lost(p->cfh[k])))
					lost = true;
				memcpy((uint8_t *)p->copy + p->fh_off[k], &sfh,
				       sizeof(sfh));
			}
			if (lost) {
				rfs_lp_fail(l, p, -EIO);
				continue;
			}
			p->sess_gen = gen;
			p->after_restart = true;
		}
		h->flags |= RFS_HF_REPLAY;
		rfs_proto_seal(h, rfs_cl->csum);
		b = rfs_xprt_buf_get(l->x, p->copy_len);
		if (!b) {
			rfs_lp_fail(l, p, -EIO);
			continue;
		}
		memcpy(b->data, p->copy, p->copy_len);
		b->len = p->copy_len;
		if (rfs_xprt_send(l->conn, b, 0) < 0) {
			rfs_lp_fail(l, p, -EIO);
			continue;
		}
		n++;
	}
	return n;
}

static int lk_retake_all(struct cl_loop *l, unsigned *nok, unsigned *nlost);
static bool lk_pending;		/* a new session: locks to re-take (cl->mu) */

/*
 * One attempt: connect and ATTACH to our session; if the server does not
 * have it (restarted), open a new one with HELLO and re-open every open
 * file first.  Under cl->mu: one loop at a time, so the new session and
 * the re-opens happen once, before any loop replays into it.
 */
static int try_reconnect(struct cl_loop *l, bool *rehello, unsigned *nok,
			 unsigned *nlost, unsigned *lk_ok, unsigned *lk_lost,
			 uint64_t *gen)
{
	struct rfs_client *cl = rfs_cl;
	int ret;

	*rehello = false;
	rfs_lp_tl_reconnect = true;
	pthread_mutex_lock(&cl->mu);
	xprt_drop(l);
	ret = rfs_lp_connect(l, true);
	if (ret == -EBADSLT || ret == -EACCES) {
		xprt_drop(l);
		ret = rfs_lp_connect(l, false);
		if (!ret)
			ret = rfs_fh_reopen_all(reopen_one, l, nok, nlost);
		if (!ret) {
			cl->sess_gen++;
			*rehello = true;
			lk_pending = true;
		}
	}
	/* before anyone replays into the new session */
	if (!ret && l->conn && lk_pending) {
		ret = lk_retake_all(l, lk_ok, lk_lost);
		if (!ret) {
			lk_pending = false;
			*rehello = true;
		}
	}
	*gen = cl->sess_gen;
	pthread_mutex_unlock(&cl->mu);
	rfs_lp_tl_reconnect = false;
	if (ret < 0 || !l->conn) {
		xprt_drop(l);
		return ret < 0 ? ret : -ENOTCONN;
	}
	ret = rfs_lp_epoll_add(l->ep, rfs_xprt_wait_fd(l->x));
	if (ret < 0) {
		rfs_err("client: loop %u: epoll_ctl: %s", l->idx,
			strerror(-ret));
		xprt_drop(l);
	}
	return ret;
}

void rfs_lp_reconnect_tick(struct cl_loop *l)
{
	int64_t now = rfs_lp_now_ms();
	unsigned nok = 0, nlost = 0, lk_ok = 0, lk_lost = 0, n;
	uint64_t gen;
	bool rehello;
	int ret;

	if (now < l->next_try_ms)
		return;
	ret = try_reconnect(l, &rehello, &nok, &nlost, &lk_ok, &lk_lost,
			    &gen);
	if (ret < 0) {
		l->attempts++;
		if (l->attempts == 1 || l->attempts % 30 == 0)
			rfs_warn("reconnecting to %s (loop %u): "
				 "attempt %u: %s", rfs_cl->addr.text, l->idx,
				 l->attempts, strerror(-ret));
		l->next_try_ms = rfs_lp_now_ms() + l->backoff_ms;
		l->backoff_ms *= 2;
		if (l->backoff_ms > RECONNECT_MAX_MS)
			l->backoff_ms = RECONNECT_MAX_MS;
		return;
	}
	l->reconnecting = false;
	n = replay_all(l, gen);
	l->sess_gen = gen;
	rfs_xprt_flush(l->x);
	if (rehello)
		rfs_warn("server %s restarted: new session, %u open "
			 "files re-opened, %u lost; %u locks re-taken, %u "
			 "lost", rfs_cl->addr.text, nok, nlost, lk_ok,
			 lk_lost);
	rfs_warn("reconnected to %s (loop %u) after %.1f s, "
		 "replayed %u requests", rfs_cl->addr.text, l->idx,
		 (double)(rfs_lp_now_ms() - l->lost_at_ms) / 1000.0, n);
}

/* ---- locks held by applications, re-taken after a server restart ------- */

/*
 * Every lock the server granted: POSIX locks per (node, owner) with their
 * byte ranges (one owner's locks on a node merge, as locally; the fh is
 * the one to re-take them through), flock locks per fh.  After a server
 * restart they are re-taken, non-blocking, before anything is replayed;
 * a lock another client took meanwhile is lost: later I/O and locking
 * through that fh fail with EIO (as NFS does).  Not on the hot path: one
 * mutex.
 */
struct lk_ent {
	uint64_t cfh;
	uint64_t nodeid;
	uint64_t owner;		/* POSIX: lock_owner */
	uint64_t start;
	uint64_t end;		/* inclusive */
	uint32_t type;		/* RFS_LK_RDLCK/WRLCK; flock: LOCK_SH/EX */
	uint32_t pid;
	uint32_t uid;
	uint32_t gid;
	bool flock;
	bool lost;		/* a marker: cfh's lock was lost */
};

static pthread_mutex_t lk_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lk_ent *lk_tab;
static size_t lk_n, lk_cap;
static atomic_uint lk_nlost;

static struct lk_ent *lk_add(void)
{
	if (lk_n == lk_cap) {
		size_t cap = lk_cap ? lk_cap * 2 : 16;
		struct lk_ent *n = realloc(lk_tab, cap * sizeof(*n));

		if (!n)
			return NULL;
		lk_tab = n;
		lk_cap = cap;
	}
	memset(&lk_tab[lk_n], 0, sizeof(lk_tab[0]));
	return &lk_tab[lk_n++];
}

static void lk_del(size_t i)
{
	if (lk_tab[i].lost)
		atomic_fetch_sub(&lk_nlost, 1);
	lk_tab[i] = lk_tab[--lk_n];
}

/* Remove [start, end] from owner's POSIX locks on node (split, trim). */
static int lk_unlock_range(uint64_t nodeid, uint64_t owner, uint64_t start,
			   uint64_t end)
{
	for (size_t i = 0; i < lk_n;) {
		struct lk_ent *e = &lk_tab[i];
		struct lk_ent *t;

		if (e->flock || e->lost || e->nodeid != nodeid ||
		    e->owner != owner || e->end < start || e->start > end) {
			i++;
			continue;
		}
		if (e->start < start && e->end > end) {
			/* split: the part after the hole is a new entry */
			t = lk_add();
			if (!t)
				return -ENOMEM;
			e = &lk_tab[i];
			*t = *e;
			t->start = end + 1;
			e->end = start - 1;
			i++;
		} else if (e->start < start) {
			e->end = start - 1;
			i++;
		} else if (e->end > end) {
			e->start = end + 1;
			i++;
		} else {
			lk_del(i);	/* i now holds another entry */
		}
	}
	return 0;
}

static void lk_note_setlk(const struct rfs_hdr *h, const struct rfs_lock_req *r,
			  uint64_t cfh)
{
	struct lk_ent *e;

	if (lk_unlock_range(r->nodeid, r->owner, r->lock.start,
			    r->lock.end) < 0)
		goto out_nomem;
	if (r->lock.type == RFS_LK_UNLCK)
		return;
	e = lk_add();
	if (!e)
		goto out_nomem;
	e->cfh = cfh;
	e->nodeid = r->nodeid;
	e->owner = r->owner;
	e->start = r->lock.start;
	e->end = r->lock.end;
	e->type = r->lock.type;
	e->pid = r->lock.pid ? r->lock.pid : h->pid;
	e->uid = h->uid;
	e->gid = h->gid;
	return;
out_nomem:
	rfs_err_rl("client: recording a lock on node %#llx: out of memory; "
		   "it will not be re-taken after a server restart",
		   (unsigned long long)r->nodeid);
}

static void lk_note_flock(const struct rfs_hdr *h, const struct rfs_lock_req *r,
			  uint64_t cfh)
{
	struct lk_ent *e;

	for (size_t i = 0; i < lk_n; i++) {
		if (lk_tab[i].flock && !lk_tab[i].lost &&
		    lk_tab[i].cfh == cfh) {
			lk_del(i);
			break;
		}
	}
	if (!(r->flags & (LOCK_SH | LOCK_EX)))
		return;		/* LOCK_UN */
	e = lk_add();
	if (!e) {
		rfs_err_rl("client: recording a flock on node %#llx: out of "
			   "memory; it will not be re-taken after a server "
			   "restart", (unsigned long long)r->nodeid);
		return;
	}
	e->flock = true;
	e->cfh = cfh;
	e->nodeid = r->nodeid;
	e->type = r->flags & (LOCK_SH | LOCK_EX);
	e->pid = h->pid;
	e->uid = h->uid;
	e->gid = h->gid;
}

void rfs_lk_note_reply(const struct cl_pend *p)
{
	const struct rfs_hdr *h = p->copy;
	const struct rfs_lock_req *r;

	if ((p->op != RFS_OP_SETLK && p->op != RFS_OP_FLOCK) || !p->nfh ||
	    p->copy_len < RFS_HDR_SIZE + sizeof(*r))
		return;
	r = (const void *)((const uint8_t *)p->copy + RFS_HDR_SIZE);
	pthread_mutex_lock(&lk_mu);
	if (p->op == RFS_OP_SETLK)
		lk_note_setlk(h, r, p->cfh[0]);
	else
		lk_note_flock(h, r, p->cfh[0]);
	pthread_mutex_unlock(&lk_mu);
}

void rfs_lk_note_send(const struct cl_pend *p, const void *frame)
{
	const struct rfs_fh_req *r;

	if ((p->op != RFS_OP_FLUSH && p->op != RFS_OP_RELEASE) || !p->nfh)
		return;
	r = (const void *)((const uint8_t *)frame + RFS_HDR_SIZE);
	pthread_mutex_lock(&lk_mu);
	for (size_t i = 0; i < lk_n;) {
		const struct lk_ent *e = &lk_tab[i];
		bool drop;

		if (p->op == RFS_OP_RELEASE)
			/* the file's last close: all its locks are gone */
			drop = e->cfh == p->cfh[0];
		else
			/* the server drops the owner's POSIX locks */
			drop = !e->flock && !e->lost &&
			       e->nodeid == r->nodeid &&
			       e->owner == r->lock_owner;
		if (drop)
			lk_del(i);
		else
			i++;
	}
	pthread_mutex_unlock(&lk_mu);
}

bool rfs_lk_lost(uint64_t cfh)
{
	bool lost = false;

	if (!atomic_load(&lk_nlost))
		return false;
	pthread_mutex_lock(&lk_mu);
	for (size_t i = 0; i < lk_n && !lost; i++)
		lost = lk_tab[i].lost && lk_tab[i].cfh == cfh;
	pthread_mutex_unlock(&lk_mu);
	return lost;
}

bool rfs_lk_io_op(uint16_t op)
{
	switch (op) {
	case RFS_OP_READ:
	case RFS_OP_WRITE:
	case RFS_OP_GETLK:
	case RFS_OP_SETLK:
	case RFS_OP_FLOCK:
	case RFS_OP_FALLOCATE:
	case RFS_OP_COPY_FILE_RANGE:
		return true;
	default:
		return false;
	}
}

/* Mark e's fh: its lock could not be re-taken. */
static void lk_mark_lost(const struct lk_ent *e)
{
	struct lk_ent *m;

	pthread_mutex_lock(&lk_mu);
	for (size_t i = 0; i < lk_n; i++) {
		if (lk_tab[i].lost && lk_tab[i].cfh == e->cfh) {
			pthread_mutex_unlock(&lk_mu);
			return;
		}
	}
	for (size_t i = 0; i < lk_n; i++) {
		const struct lk_ent *t = &lk_tab[i];

		if (!t->lost && t->cfh == e->cfh && t->flock == e->flock &&
		    t->owner == e->owner && t->start == e->start &&
		    t->end == e->end && t->type == e->type) {
			lk_del(i);	/* not held any more */
			break;
		}
	}
	m = lk_add();
	if (m) {
		m->cfh = e->cfh;
		m->nodeid = e->nodeid;
		m->lost = true;
		atomic_fetch_add(&lk_nlost, 1);
	}
	pthread_mutex_unlock(&lk_mu);
	rfs_err("ringfs: lock on node %#llx (fh %llu) lost across the server "
		"restart: I/O on this file now fails with EIO",
		(unsigned long long)e->nodeid, (unsigned long long)e->cfh);
}

/* SETLK (no wait) or FLOCK|LOCK_NB for e; status, or -ENOTCONN. */
static int lk_retake(struct cl_loop *l, const struct lk_ent *e)
{
	uint16_t op = e->flock ? RFS_OP_FLOCK : RFS_OP_SETLK;
	struct rfs_lock_req *r;
	struct rfs_buf *b, *rb;
	struct rfs_mb mb;
	uint64_t id, sfh;
	int len, ret;

	ret = rfs_fh_server(e->cfh, &sfh);
	if (ret < 0)
		return ret;	/* the file itself is lost or closed */
	b = rfs_xprt_buf_get(l->x, RFS_HDR_SIZE + sizeof(*r) + 8);
	if (!b)
		return -ENOTCONN;
	id = rfs_lp_next_id(l, 0);
	rfs_mb_init(&mb, b->data, b->cap, op, id);
	rfs_mb_hdr(&mb)->uid = e->uid;
	rfs_mb_hdr(&mb)->gid = e->gid;
	rfs_mb_hdr(&mb)->pid = e->pid;
	r = rfs_mb_put(&mb, sizeof(*r));
	if (r) {
		r->nodeid = e->nodeid;
		r->fh = sfh;
		if (e->flock) {
			r->flags = e->type | LOCK_NB;
		} else {
			r->owner = e->owner;
			r->lock.start = e->start;
			r->lock.end = e->end;
			r->lock.type = e->type;
			r->lock.pid = e->pid;
		}
	}
	len = rfs_mb_finish(&mb, rfs_cl->csum);
	if (len < 0) {
		rfs_xprt_buf_put(l->x, b);
		return len;
	}
	b->len = (uint32_t)len;
	if (rfs_lp_sync_call(l, b, id, &rb) < 0)
		return -ENOTCONN;
	ret = ((const struct rfs_hdr *)rb->data)->status;
	rfs_xprt_buf_put(l->x, rb);
	return ret;
}

/*
 * In a new session, files re-opened: take every recorded lock again.
 * -ENOTCONN: the connection failed (the next attempt does it again).
 */
static int lk_retake_all(struct cl_loop *l, unsigned *nok, unsigned *nlost)
{
	struct lk_ent *snap = NULL;
	size_t n = 0;
	int ret = 0;

	*nok = 0;
	*nlost = 0;
	pthread_mutex_lock(&lk_mu);
	if (lk_n) {
		snap = malloc(lk_n * sizeof(*snap));
		if (snap) {
			memcpy(snap, lk_tab, lk_n * sizeof(*snap));
			n = lk_n;
		} else {
			ret = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&lk_mu);
	if (ret < 0) {
		rfs_err("client: re-taking locks after the server restart: "
			"out of memory");
		return -ENOTCONN;	/* try again with the next attempt */
	}
	for (size_t i = 0; i < n; i++) {
		if (snap[i].lost)
			continue;
		ret = lk_retake(l, &snap[i]);
		if (ret == -ENOTCONN)
			goto out;
		if (ret < 0) {
			rfs_dbg(RFS_SUB_CLIENT, "client: re-taking %s on node "
				"%#llx: %s", snap[i].flock ? "flock" : "lock",
				(unsigned long long)snap[i].nodeid,
				strerror(-ret));
			lk_mark_lost(&snap[i]);
			(*nlost)++;
		} else {
			(*nok)++;
		}
	}
	ret = 0;
out:
	free(snap);
	return ret;
}
