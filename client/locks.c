// SPDX-License-Identifier: MIT
/*
 * locks: the locks the server granted to applications (SETLK, FLOCK),
 * recorded from the replies and forgotten on FLUSH/RELEASE, so that after
 * a server restart replay.c can take them again in the new session
 * (rfs_lk_retake_all) before anything is replayed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "client_i.h"
#include "log.h"
#include "loop_i.h"

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
	uint64_t owner; /* POSIX: lock_owner */
	uint64_t start;
	uint64_t end;  /* inclusive */
	uint32_t type; /* RFS_LK_RDLCK/WRLCK; flock: LOCK_SH/EX */
	uint32_t pid;
	uint32_t uid;
	uint32_t gid;
	bool flock;
	bool lost; /* a marker: cfh's lock was lost */
};

static pthread_mutex_t lk_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lk_ent *lk_tab;
static size_t lk_n, lk_cap;
static atomic_uint lk_nlost;

/*
 * The nodes an application ever asked a POSIX lock on (a SETLK sent,
 * granted or not).  FLUSH does nothing else on the server than drop the
 * closing owner's POSIX locks, so the FLUSH of every other node's close
 * is answered here (rfs_lk_flush_needed), a round trip saved per
 * close().  A node stays in the set for the mount's life; past
 * LK_PNODES_MAX nodes (or without memory for the set) every FLUSH goes
 * to the server again.  lk_npn is read without the mutex: 0 is the
 * common case, and a SETLK is added before it is sent, so a close that
 * does not see it ended before the lock was asked for.
 */
#define LK_PNODES_MAX 4096
static uint64_t *lk_pnodes;
static size_t lk_pcap;
static atomic_size_t lk_npn;
static atomic_bool lk_pfull;

/* under lk_mu */
static void lk_pnode_add(uint64_t nodeid)
{
	size_t n = atomic_load(&lk_npn);

	for (size_t i = 0; i < n; i++)
		if (lk_pnodes[i] == nodeid)
			return;
	if (n == LK_PNODES_MAX) {
		atomic_store(&lk_pfull, true);
		return;
	}
	if (n == lk_pcap) {
		size_t cap = lk_pcap ? lk_pcap * 2 : 16;
		uint64_t *t = realloc(lk_pnodes, cap * sizeof(*t));

		if (!t) {
			atomic_store(&lk_pfull, true);
			return;
		}
		lk_pnodes = t;
		lk_pcap = cap;
	}
	lk_pnodes[n] = nodeid;
	atomic_store(&lk_npn, n + 1);
}

bool rfs_lk_flush_needed(uint64_t nodeid)
{
	bool found = false;

	if (atomic_load(&lk_pfull))
		return true;
	if (!atomic_load(&lk_npn))
		return false;
	pthread_mutex_lock(&lk_mu);
	for (size_t i = 0; i < atomic_load(&lk_npn) && !found; i++)
		found = lk_pnodes[i] == nodeid;
	pthread_mutex_unlock(&lk_mu);
	return found;
}

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
			lk_del(i); /* i now holds another entry */
		}
	}
	return 0;
}

static void lk_note_setlk(const struct rfs_hdr *h, const struct rfs_lock_req *r,
			  uint64_t cfh)
{
	struct lk_ent *e;

	if (lk_unlock_range(r->nodeid, r->owner, r->lock.start, r->lock.end) <
	    0)
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
		return; /* LOCK_UN */
	e = lk_add();
	if (!e) {
		rfs_err_rl("client: recording a flock on node %#llx: out of "
			   "memory; it will not be re-taken after a server "
			   "restart",
			   (unsigned long long)r->nodeid);
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

	if (p->op == RFS_OP_SETLK) {
		const struct rfs_lock_req *q =
			(const void *)((const uint8_t *)frame + RFS_HDR_SIZE);

		pthread_mutex_lock(&lk_mu);
		lk_pnode_add(q->nodeid);
		pthread_mutex_unlock(&lk_mu);
		return;
	}
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
			lk_del(i); /* not held any more */
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
	struct rfs_buf *b;
	struct rfs_mb mb;
	uint64_t id, sfh;
	int ret;

	ret = rfs_fh_server(e->cfh, &sfh);
	if (ret < 0)
		return ret; /* the file itself is lost or closed */
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
	return rfs_lp_sync_mb(l, b, &mb, NULL);
}

/*
 * In a new session, files re-opened: take every recorded lock again.
 * -ENOTCONN: the connection failed (the next attempt does it again).
 */
int rfs_lk_retake_all(struct cl_loop *l, unsigned *nok, unsigned *nlost)
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
		return -ENOTCONN; /* try again with the next attempt */
	}
	for (size_t i = 0; i < n; i++) {
		if (snap[i].lost)
			continue;
		ret = lk_retake(l, &snap[i]);
		if (ret == -ENOTCONN)
			goto out;
		if (ret < 0) {
			rfs_dbg(RFS_SUB_CLIENT,
				"client: re-taking %s on node "
				"%#llx: %s",
				snap[i].flock ? "flock" : "lock",
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
