// SPDX-License-Identifier: MIT
/*
 * Notifications to clients (notify.h): the name table, the per-connection
 * queues, and the fan-out of a backend's change to the export's sessions.
 *
 * Locks, in order: the connections' list (conn.c, held while we pick the
 * connections), then a queue's mutex; the name table's mutex is taken
 * alone.  Nothing here waits for a client or for storage.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "server.h"
#include "worker.h"

/* notifications one connection keeps for its thread to send */
#define QLEN 128u
/* the name table: direct-mapped by node id */
#define NAMES (1u << 13)
/* sessions one change goes to, at most, in one pass (then duplicates) */
#define FANOUT 64u

struct item {
	uint64_t nodeid, parent;
	uint32_t kind;
	uint16_t nlen;
	char name[RFS_NAME_MAX];
};

struct rfs_ntfq {
	pthread_mutex_t mu;
	unsigned head, n; /* ring of QLEN */
	struct item it[QLEN];
};

struct name {
	uint64_t node, parent; /* node 0: free */
	unsigned exp;
	uint16_t len;
	char s[RFS_NAME_MAX];
};

static struct {
	pthread_mutex_t mu;
	struct name *tab; /* NAMES slots, made by the first export */
} nm = { .mu = PTHREAD_MUTEX_INITIALIZER };

static _Atomic uint64_t n_events, n_queued, n_dropped, n_sent;

int rfs_notify_export(struct rfs_export *e)
{
	int ret = 0;

	pthread_mutex_lock(&nm.mu);
	if (!nm.tab) {
		nm.tab = calloc(NAMES, sizeof(*nm.tab));
		if (!nm.tab) {
			rfs_err("server: export %s: no memory for the "
				"notification name table",
				e->name);
			ret = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&nm.mu);
	if (!ret)
		e->notify = true;
	return ret;
}

static struct name *slot(uint64_t node)
{
	return &nm.tab[(node ^ (node >> 29)) & (NAMES - 1)];
}

void rfs_notify_name(const struct rfs_export *e, uint64_t node, uint64_t parent,
		     const char *name, uint32_t len)
{
	struct name *s;

	if (!e->notify || !len || len > RFS_NAME_MAX)
		return;
	pthread_mutex_lock(&nm.mu);
	s = slot(node);
	s->node = node;
	s->parent = parent;
	s->exp = e->idx;
	s->len = (uint16_t)len;
	memcpy(s->s, name, len);
	pthread_mutex_unlock(&nm.mu);
}

/* the remembered name of node in export exp, into it (ENTRY); false: none */
static bool name_of(unsigned exp, uint64_t node, struct item *it)
{
	struct name *s;
	bool ok;

	pthread_mutex_lock(&nm.mu);
	s = slot(node);
	ok = s->node == node && s->exp == exp;
	if (ok) {
		it->kind = RFS_NOTIFY_ENTRY;
		it->nodeid = node;
		it->parent = s->parent;
		it->nlen = s->len;
		memcpy(it->name, s->s, s->len);
	}
	pthread_mutex_unlock(&nm.mu);
	return ok;
}

/* ---- queues ------------------------------------------------------------ */

/* under the connections' lock (conn.c): cc cannot go away meanwhile */
static void enqueue(struct rfs_conn_ctx *cc, const struct item *its, unsigned n)
{
	struct rfs_ntfq *q = atomic_load(&cc->ntf);
	bool wake;

	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q) {
			atomic_fetch_add(&n_dropped, n);
			return;
		}
		pthread_mutex_init(&q->mu, NULL);
		atomic_store(&cc->ntf, q);
	}
	pthread_mutex_lock(&q->mu);
	wake = q->n == 0;
	for (unsigned i = 0; i < n; i++) {
		if (q->n == QLEN) {
			atomic_fetch_add(&n_dropped, n - i);
			rfs_err_rl("server: %s: notification queue full "
				   "(client slow to read): dropped %u",
				   rfs_conn_desc(cc->c), n - i);
			break;
		}
		/* the same as the last one queued (a run of WRITEs): once */
		if (q->n && !memcmp(&q->it[(q->head + q->n - 1) % QLEN],
				    &its[i], sizeof(its[i])))
			continue;
		q->it[(q->head + q->n) % QLEN] = its[i];
		q->n++;
		atomic_fetch_add(&n_queued, 1);
	}
	pthread_mutex_unlock(&q->mu);
	if (wake)
		rfs_conn_wake(cc);
}

struct fanout {
	const struct rfs_export *e;
	const struct rfs_session *skip; /* the session that made the change */
	const struct item *its;
	unsigned n;
	const struct rfs_session *done[FANOUT];
	unsigned ndone;
};

/* rfs_conns_each: one connection of each session of the export */
static void fan_one(struct rfs_conn_ctx *cc, void *arg)
{
	struct fanout *f = arg;
	struct rfs_session *s = cc->sess;

	if (!s || s->exp != f->e || !s->notify || s == f->skip)
		return;
	for (unsigned i = 0; i < f->ndone; i++)
		if (f->done[i] == s)
			return;
	if (f->ndone < FANOUT)
		f->done[f->ndone++] = s;
	enqueue(cc, f->its, f->n);
}

void rfs_notify_changed(struct rfs_export *e, int32_t htype, const void *h,
			uint32_t hlen, unsigned what)
{
	struct fanout f = { .e = e };
	struct item its[2];
	uint64_t id;
	bool named;

	if (!e->notify)
		return;
	atomic_fetch_add(&n_events, 1);
	if (rfs_node_id_of(e, htype, h, hlen, &id))
		return;
	memset(its, 0, sizeof(its));
	named = name_of(e->idx, id, &its[f.n]);
	if (named && (what & RFS_NTF_NAME))
		f.n++;
	/* only what this gateway handed out: never a node of elsewhere */
	if (!named && !rfs_node_known(id))
		return;
	if (what & RFS_NTF_ATTR) {
		memset(&its[f.n], 0, sizeof(its[f.n]));
		its[f.n].kind = RFS_NOTIFY_INODE;
		its[f.n].nodeid = id;
		f.n++;
	}
	if (!f.n)
		return;
	f.its = its;
	rfs_dbg(RFS_SUB_SERVER,
		"server: export %s: node %016llx changed (%s%s): notifying",
		e->name, (unsigned long long)id,
		(what & RFS_NTF_ATTR) ? "attributes" : "",
		(what & RFS_NTF_NAME) ? " name" : "");
	rfs_conns_each(fan_one, &f);
}

/* ---- changes made through this gateway --------------------------------- */

static void put_inode(struct fanout *f, struct item *its, uint64_t node)
{
	struct item *it = &its[f->n++];

	memset(it, 0, sizeof(*it));
	it->kind = RFS_NOTIFY_INODE;
	it->nodeid = node;
}

static void put_entry(struct fanout *f, struct item *its, uint64_t parent,
		      const char *name, uint32_t len)
{
	struct item *it = &its[f->n++];

	memset(it, 0, sizeof(*it));
	it->kind = RFS_NOTIFY_ENTRY;
	it->parent = parent;
	it->nlen = (uint16_t)len;
	memcpy(it->name, name, len);
}

void rfs_notify_after(const struct rfs_req *r, int ret)
{
	const struct rfs_req_view *v = &r->v;
	struct fanout f = { .e = r->exp, .skip = r->sess };
	struct item its[4];

	if (ret || !r->exp || !r->exp->notify || !r->sess)
		return;
	switch (r->h->opcode) {
	case RFS_OP_SETATTR:
		put_inode(&f, its,
			  ((const struct rfs_setattr_req *)v->fixed)->nodeid);
		break;
	case RFS_OP_WRITE:
		put_inode(&f, its,
			  ((const struct rfs_io_req *)v->fixed)->nodeid);
		break;
	case RFS_OP_FALLOCATE:
		put_inode(&f, its,
			  ((const struct rfs_fallocate_req *)v->fixed)->nodeid);
		break;
	case RFS_OP_COPY_FILE_RANGE:
		put_inode(&f, its,
			  ((const struct rfs_copy_req *)v->fixed)->nodeid_out);
		break;
	case RFS_OP_SETXATTR:
	case RFS_OP_REMOVEXATTR:
		put_inode(&f, its,
			  ((const struct rfs_xattr_req *)v->fixed)->nodeid);
		break;
	case RFS_OP_UNLINK:
	case RFS_OP_RMDIR: {
		uint64_t p = ((const struct rfs_name_req *)v->fixed)->parent;

		put_entry(&f, its, p, v->name, v->name_len);
		put_inode(&f, its, p);
		break;
	}
	case RFS_OP_MKDIR:
	case RFS_OP_MKNOD:
	case RFS_OP_SYMLINK:
	case RFS_OP_CREATE: {
		/* the name: what other clients cached as "no such name" */
		uint64_t p = ((const struct rfs_make_req *)v->fixed)->parent;

		put_entry(&f, its, p, v->name, v->name_len);
		put_inode(&f, its, p);
		break;
	}
	case RFS_OP_LINK: {
		const struct rfs_link_req *q = v->fixed;

		put_entry(&f, its, q->newparent, v->name, v->name_len);
		put_inode(&f, its, q->newparent);
		put_inode(&f, its, q->nodeid);
		break;
	}
	case RFS_OP_RENAME: {
		const struct rfs_rename_req *q = v->fixed;

		put_entry(&f, its, q->parent, v->name, v->name_len);
		put_entry(&f, its, q->newparent, v->name2, v->name2_len);
		put_inode(&f, its, q->parent);
		if (q->newparent != q->parent)
			put_inode(&f, its, q->newparent);
		break;
	}
	default:
		return;
	}
	f.its = its;
	rfs_conns_each(fan_one, &f);
}

bool rfs_notify_pending(struct rfs_conn_ctx *cc)
{
	struct rfs_ntfq *q = atomic_load(&cc->ntf);
	bool any;

	if (!q)
		return false;
	pthread_mutex_lock(&q->mu);
	any = q->n > 0;
	pthread_mutex_unlock(&q->mu);
	return any;
}

int rfs_notify_pop(struct rfs_conn_ctx *cc, void *frame, uint32_t cap)
{
	struct rfs_ntfq *q = atomic_load(&cc->ntf);
	struct item it;
	int len;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->mu);
	if (!q->n) {
		pthread_mutex_unlock(&q->mu);
		return 0;
	}
	it = q->it[q->head];
	q->head = (q->head + 1) % QLEN;
	q->n--;
	pthread_mutex_unlock(&q->mu);
	len = rfs_proto_build_notify(frame, cap, it.kind, it.nodeid, it.parent,
				     it.name, it.nlen,
				     cc->sess && cc->sess->csum);
	if (len < 0) {
		/* a remembered name the protocol refuses: never sent */
		atomic_fetch_add(&n_dropped, 1);
		rfs_err_rl("server: %s: notification for node %016llx not "
			   "built: %s",
			   rfs_conn_desc(cc->c), (unsigned long long)it.nodeid,
			   strerror(-len));
		return len;
	}
	atomic_fetch_add(&n_sent, 1);
	return len;
}

void rfs_notify_conn_fini(struct rfs_conn_ctx *cc)
{
	struct rfs_ntfq *q = atomic_load(&cc->ntf);

	if (!q)
		return;
	pthread_mutex_destroy(&q->mu);
	free(q);
	atomic_store(&cc->ntf, NULL);
}

void rfs_notify_get_stats(struct rfs_notify_stats *s)
{
	s->events = atomic_load(&n_events);
	s->queued = atomic_load(&n_queued);
	s->dropped = atomic_load(&n_dropped);
	s->sent = atomic_load(&n_sent);
}
