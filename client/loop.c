// SPDX-License-Identifier: MIT
/*
 * loop: the client's event loops.
 *
 * Each loop thread owns a transport context with one connection to the
 * server (loop 0 opens the session with HELLO, the others join it with
 * ATTACH) and a /dev/fuse fd cloned from the session's
 * (FUSE_DEV_IOC_CLONE).  libfuse 3.14 has no per-thread channel in its
 * public API, so the session gets a fuse_custom_io whose read/writev use
 * the calling thread's fd: a request is read, sent to the server,
 * answered and replied to on one thread, so its reply goes to the fd it
 * came from, as the kernel requires for cloned fds.
 *
 * Pending requests live in a per-loop slot array; a request id is
 * gen << 18 | loop << 12 | slot, gen growing for every use, so a late or
 * forged reply never matches a reused slot, and ids are unique in the
 * session across loops (the server's duplicate-request cache is keyed by
 * them).
 *
 * Reliability (replay.c): every request's frame is kept until its
 * reply.  When the connection drops the loop keeps its
 * pending requests, queues new ones, reconnects with backoff and
 * re-ATTACHes to its session (the server keeps it for a grace period),
 * then resends them all with RFS_HF_REPLAY.  When the server restarted
 * (ATTACH: -EBADSLT) one loop opens a new session with HELLO and re-opens
 * every open file (fhtab.c) before anyone replays.  hard mounts wait; a
 * FUSE interrupt ends a waiting call with EINTR; soft mounts fail
 * requests older than timeo with EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "client_i.h"
#include "log.h"
#include "loop_i.h"

#define HANDSHAKE_TIMEOUT_MS 10000
#define RECONNECT_CONNECT_MS 2000
#define EV_BATCH 64
#define FUSE_BATCH 32



static __thread struct cl_loop *tl_loop;
static __thread int tl_fuse_fd = -1;
__thread bool rfs_lp_tl_reconnect;	/* quiet, short connect timeout */

/* ---- /dev/fuse I/O through the calling loop's fd ---------------------- */

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	return read(tl_fuse_fd >= 0 ? tl_fuse_fd : fd, buf, len);
}

static ssize_t io_writev(int fd, struct iovec *iov, int cnt, void *userdata)
{
	return writev(tl_fuse_fd >= 0 ? tl_fuse_fd : fd, iov, cnt);
}

static const struct fuse_custom_io cl_io = {
	.read = io_read,
	.writev = io_writev,
};

/* ---- pending slots ---------------------------------------------------- */

static int slots_init(struct cl_loop *l)
{
	l->slots = calloc(CL_SLOTS, sizeof(*l->slots));
	if (!l->slots)
		return -ENOMEM;
	for (int32_t i = 0; i < (int32_t)CL_SLOTS; i++)
		l->slots[i].next_free = i + 1 < (int32_t)CL_SLOTS ? i + 1 : -1;
	l->free_head = 0;
	return 0;
}

uint64_t rfs_lp_next_id(struct cl_loop *l, int32_t idx)
{
	return ++l->gen << (CL_SLOT_BITS + CL_LOOP_BITS) |
	       (uint64_t)l->idx << CL_SLOT_BITS | (uint64_t)idx;
}

static struct cl_pend *slot_get(struct cl_loop *l)
{
	struct cl_pend *p;
	int32_t idx = l->free_head;

	if (idx < 0)
		return NULL;
	p = &l->slots[idx];
	l->free_head = p->next_free;
	p->busy = true;
	p->id = rfs_lp_next_id(l, idx);
	p->req = NULL;
	p->done = NULL;
	p->retries = 0;
	p->orig = -1;
	p->copy_len = 0;
	p->start_ms = rfs_lp_now_ms();
	p->sess_gen = l->sess_gen;
	p->nfh = 0;
	p->raw_fh = false;
	p->fh_lost = false;
	p->after_restart = false;
	atomic_store(&p->intr_req, 0);
	memset(&p->fi, 0, sizeof(p->fi));
	p->size = 0;
	p->plus = false;
	p->aux = 0;
	l->inflight++;
	return p;
}

void rfs_lp_slot_put(struct cl_loop *l, struct cl_pend *p)
{
	int32_t idx = (int32_t)(p - l->slots);

	p->busy = false;
	p->req = NULL;
	/* do not keep a big frame's copy around */
	if (p->copy_cap > 65536) {
		free(p->copy);
		p->copy = NULL;
		p->copy_cap = 0;
	}
	p->next_free = l->free_head;
	l->free_head = idx;
	l->inflight--;
}

void rfs_lp_fail(struct cl_loop *l, struct cl_pend *p, int err)
{
	if (p->req)
		fuse_reply_err(p->req, -err);
	rfs_lp_slot_put(l, p);
}

/* ---- building and sending --------------------------------------------- */

static void fill_creds(struct rfs_hdr *h, fuse_req_t req)
{
	const struct fuse_ctx *ctx = req ? fuse_req_ctx(req) : NULL;

	if (!ctx)
		return;
	h->uid = ctx->uid;
	h->gid = ctx->gid;
	h->pid = (uint32_t)ctx->pid;
}

/* A FUSE interrupt, on whatever thread libfuse runs it: note it. */
static void on_interrupt(fuse_req_t req, void *data)
{
	uintptr_t v = (uintptr_t)data;
	unsigned li = (unsigned)(v >> CL_SLOT_BITS);
	uint32_t si = (uint32_t)v & (CL_SLOTS - 1);
	struct cl_loop *l = li < CL_MAX_LOOPS ? rfs_cl->loops[li] : NULL;
	uint64_t one = 1;

	if (!l || !l->slots)
		return;
	atomic_store(&l->slots[si].intr_req, (uintptr_t)req);
	atomic_store(&l->intr, true);
	if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rfs_err_rl("client: waking loop %u: %s", l->idx,
			   strerror(errno));
}

/* A frame built while there is no connection: replayed on reconnect. */
static struct rfs_buf *heap_buf(uint32_t size)
{
	struct rfs_buf *b = malloc(sizeof(*b));

	if (!b)
		return NULL;
	b->data = aligned_alloc(8, (size + 7) & ~7u);
	if (!b->data) {
		free(b);
		return NULL;
	}
	b->cap = size;
	b->len = 0;
	return b;
}

static void call_buf_put(struct cl_call *c)
{
	if (!c->buf)
		return;
	if (c->heap) {
		free(c->buf->data);
		free(c->buf);
	} else {
		rfs_xprt_buf_put(c->l->x, c->buf);
	}
	c->buf = NULL;
}

int rfs_call_start(struct cl_call *c, fuse_req_t req, uint16_t op,
		   uint32_t size, cl_done_fn done)
{
	struct cl_loop *l = tl_loop;
	int err;

	c->l = l;
	c->p = NULL;
	c->buf = NULL;
	c->heap = false;
	if (!l || (!l->conn && !l->reconnecting)) {
		err = -EIO;
		goto out_reply;
	}
	if (!l->conn && rfs_cl->o.soft &&
	    rfs_lp_now_ms() - l->lost_at_ms >= rfs_cl->o.timeo_ms) {
		err = -EIO;	/* soft: the server is gone for too long */
		goto out_reply;
	}
	c->p = slot_get(l);
	if (!c->p) {
		rfs_err_rl("client: %s: too many requests in flight",
			   rfs_proto_op_name(op));
		err = -EAGAIN;
		goto out_reply;
	}
	if (size < RFS_HDR_SIZE + 64)
		size = RFS_HDR_SIZE + 64;
	if (l->conn) {
		c->buf = rfs_xprt_buf_get(l->x, size);
	} else {
		c->heap = true;
		c->buf = heap_buf(size);
	}
	if (!c->buf) {
		rfs_err_rl("client: %s: no transport buffer of %u bytes",
			   rfs_proto_op_name(op), size);
		err = -ENOMEM;
		goto out_slot;
	}
	rfs_mb_init(&c->mb, c->buf->data, c->buf->cap, op, c->p->id);
	fill_creds(rfs_mb_hdr(&c->mb), req);
	c->p->req = req;
	c->p->op = op;
	c->p->done = done;
	if (req)
		fuse_req_interrupt_func(req, on_interrupt,
			(void *)((uintptr_t)l->idx << CL_SLOT_BITS |
				 (uintptr_t)(c->p - l->slots)));
	return 0;

out_slot:
	rfs_lp_slot_put(l, c->p);
	c->p = NULL;
out_reply:
	if (req)
		fuse_reply_err(req, -err);
	return err;
}

void *rfs_call_fixed(struct cl_call *c, fuse_req_t req, uint16_t op,
		     uint32_t fixed, uint32_t extra, cl_done_fn done)
{
	void *f;

	if (rfs_call_start(c, req, op, RFS_HDR_SIZE + fixed + extra + 8,
			   done) < 0)
		return NULL;
	f = rfs_mb_put(&c->mb, fixed);
	if (!f)
		rfs_call_abort(c, -EIO);
	return f;
}

void rfs_call_abort(struct cl_call *c, int err)
{
	call_buf_put(c);
	rfs_lp_fail(c->l, c->p, err);
}

void rfs_call_set_fh(struct cl_call *c, uint64_t *field, uint64_t cfh)
{
	struct cl_pend *p = c->p;
	uint64_t sfh = 0;
	int ret;

	*field = 0;
	if (!cfh)
		return;
	ret = rfs_fh_server(cfh, &sfh);
	if (ret == -EIO || (rfs_lk_io_op(p->op) && rfs_lk_lost(cfh)))
		p->fh_lost = true;
	*field = sfh;
	if (p->nfh < 2) {
		p->fh_off[p->nfh] = (uint16_t)((uint8_t *)field -
					       (uint8_t *)c->buf->data);
		p->cfh[p->nfh] = cfh;
		p->nfh++;
	}
}

/* Every frame is kept until its reply: for a RESOLVE resend or a replay. */
static int keep_copy(struct cl_pend *p, const void *frame, uint32_t len)
{
	if (len > p->copy_cap) {
		uint32_t cap = len < 8192 ? 8192 : (len + 4095) & ~4095u;
		void *n = aligned_alloc(8, cap);

		if (!n) {
			p->copy_len = 0;
			return -ENOMEM;
		}
		free(p->copy);
		p->copy = n;
		p->copy_cap = cap;
	}
	memcpy(p->copy, frame, len);
	p->copy_len = len;
	return 0;
}

void rfs_call_send(struct cl_call *c)
{
	struct cl_loop *l = c->l;
	int len, ret;

	len = rfs_mb_finish(&c->mb, rfs_cl->csum);
	if (len < 0) {
		rfs_err_rl("client: %s: building the request failed: %s",
			   rfs_proto_op_name(c->p->op), strerror(-len));
		rfs_call_abort(c, -EIO);
		return;
	}
	c->buf->len = (uint32_t)len;
	rfs_lk_note_send(c->p, c->buf->data);
	if (c->p->fh_lost) {
		/* its file could not be re-opened after a server restart */
		rfs_call_abort(c, -EIO);
		return;
	}
	/* kept for a RESOLVE resend, or a replay after a reconnect */
	if (keep_copy(c->p, c->buf->data, (uint32_t)len) < 0 &&
	    (c->heap || !l->conn)) {
		rfs_err_rl("client: %s: no memory to keep the request",
			   rfs_proto_op_name(c->p->op));
		rfs_call_abort(c, -ENOMEM);
		return;
	}
	if (c->heap || !l->conn) {
		/* no connection: sent by the replay after the reconnect */
		call_buf_put(c);
		return;
	}
	ret = rfs_xprt_send(l->conn, c->buf, 0);
	c->buf = NULL;
	if (ret < 0) {
		/* the connection is failing: the replay will resend it */
		rfs_err_rl("client: %s: send failed: %s; reconnecting",
			   rfs_proto_op_name(c->p->op), strerror(-ret));
		if (!c->p->copy_len)
			rfs_lp_fail(l, c->p, -EIO);
		rfs_xprt_disconnect(l->conn);
	}
}

static void flush_forgets(struct cl_loop *l);

/* A frame with no reply expected (FORGET, BYE). */
static int send_oneway(struct cl_loop *l, uint16_t op, const void *payload,
		       uint32_t plen)
{
	struct rfs_buf *b;
	struct rfs_mb mb;
	int len;

	if (!l->conn)
		return -ENOTCONN;
	b = rfs_xprt_buf_get(l->x, RFS_HDR_SIZE + plen);
	if (!b)
		return -ENOMEM;
	rfs_mb_init(&mb, b->data, b->cap, op, rfs_lp_next_id(l, 0));
	rfs_mb_put_bytes(&mb, payload, plen);
	len = rfs_mb_finish(&mb, rfs_cl->csum);
	if (len < 0) {
		rfs_xprt_buf_put(l->x, b);
		return len;
	}
	b->len = (uint32_t)len;
	return rfs_xprt_send(l->conn, b, 0);
}

void rfs_loop_forget(uint64_t nodeid, uint64_t nlookup)
{
	struct cl_loop *l = tl_loop;

	if (!l)
		return;
	l->forgets[l->nforget].nodeid = nodeid;
	l->forgets[l->nforget].nlookup = nlookup;
	l->nforget++;
	if (l->nforget == RFS_FORGET_MAX)
		flush_forgets(l);
}

static void flush_forgets(struct cl_loop *l)
{
	struct rfs_buf *b;
	struct rfs_mb mb;
	struct rfs_forget_req *fr;
	int len;

	if (!l->nforget)
		return;
	if (!l->conn)
		goto out;
	b = rfs_xprt_buf_get(l->x, RFS_HDR_SIZE + sizeof(*fr) +
			     l->nforget * sizeof(l->forgets[0]));
	if (!b)
		goto out;
	rfs_mb_init(&mb, b->data, b->cap, RFS_OP_FORGET, rfs_lp_next_id(l, 0));
	fr = rfs_mb_put(&mb, sizeof(*fr));
	if (fr)
		fr->count = l->nforget;
	rfs_mb_put_bytes(&mb, l->forgets, l->nforget * sizeof(l->forgets[0]));
	len = rfs_mb_finish(&mb, rfs_cl->csum);
	if (len < 0) {
		rfs_xprt_buf_put(l->x, b);
		goto out;
	}
	b->len = (uint32_t)len;
	rfs_xprt_send(l->conn, b, 0);
out:
	l->nforget = 0;
}

/* ---- replies ---------------------------------------------------------- */

static void conn_lost(struct cl_loop *l, int status, bool quiet)
{
	uint32_t failed = 0;

	for (uint32_t i = 0; i < CL_SLOTS; i++) {
		struct cl_pend *p = &l->slots[i];

		if (!p->busy)
			continue;
		rfs_lp_fail(l, p, -EIO);
		failed++;
	}
	if (quiet)
		return;
	if (status)
		rfs_err("client: loop %u: connection to %s lost: %s; "
			"%u requests failed with EIO",
			l->idx, rfs_cl->addr.text, strerror(-status), failed);
	else
		rfs_err("client: loop %u: server %s closed the connection; "
			"%u requests failed with EIO",
			l->idx, rfs_cl->addr.text, failed);
}

static void drop_conn(struct cl_loop *l, const char *why)
{
	if (!l->conn)
		return;
	rfs_err_rl("client: loop %u: %s; closing the connection", l->idx,
		   why);
	rfs_xprt_disconnect(l->conn);
}

static int resend(struct cl_loop *l, struct cl_pend *p)
{
	struct rfs_hdr *h = p->copy;
	struct rfs_buf *b;

	p->id = rfs_lp_next_id(l, (int32_t)(p - l->slots));
	h->id = p->id;
	rfs_proto_seal(h, rfs_cl->csum);
	b = rfs_xprt_buf_get(l->x, p->copy_len);
	if (!b)
		return -ENOMEM;
	memcpy(b->data, p->copy, p->copy_len);
	b->len = p->copy_len;
	return rfs_xprt_send(l->conn, b, 0);
}

static void unknown_node(struct cl_loop *l, struct cl_pend *p,
			 const struct rfs_hdr *h, const void *payload)
{
	const struct rfs_unknown_node *un = payload;
	struct rfs_resolve_req *rr;
	struct cl_pend *rp;
	struct rfs_buf *b;
	struct rfs_mb mb;
	uint8_t handle[RFS_HANDLE_MAX];
	int hlen, len;

	if (h->len < sizeof(*un) || !p->copy_len ||
	    p->retries >= CL_MAX_RETRIES)
		goto out_stale;
	hlen = rfs_inode_handle(un->nodeid, handle);
	if (hlen <= 0)
		goto out_stale;
	rp = slot_get(l);
	if (!rp)
		goto out_stale;
	b = rfs_xprt_buf_get(l->x, RFS_HDR_SIZE + sizeof(*rr) +
			     (uint32_t)hlen);
	if (!b) {
		rfs_lp_slot_put(l, rp);
		goto out_stale;
	}
	rp->op = RFS_OP_RESOLVE;
	rp->orig = (int32_t)(p - l->slots);
	rp->resolve_node = un->nodeid;
	rfs_mb_init(&mb, b->data, b->cap, RFS_OP_RESOLVE, rp->id);
	rr = rfs_mb_put(&mb, sizeof(*rr));
	if (rr) {
		rr->nodeid = un->nodeid;
		rr->handle_len = (uint16_t)hlen;
	}
	rfs_mb_put_bytes(&mb, handle, (uint32_t)hlen);
	len = rfs_mb_finish(&mb, rfs_cl->csum);
	if (len < 0) {
		rfs_xprt_buf_put(l->x, b);
		rfs_lp_slot_put(l, rp);
		goto out_stale;
	}
	b->len = (uint32_t)len;
	p->retries++;
	rfs_dbg(RFS_SUB_CLIENT, "client: %s: node %#llx unknown to the "
		"server, resolving", rfs_proto_op_name(p->op),
		(unsigned long long)un->nodeid);
	if (rfs_xprt_send(l->conn, b, 0) < 0) {
		rfs_lp_slot_put(l, rp);
		goto out_stale;
	}
	return;

out_stale:
	rfs_lp_fail(l, p, -ESTALE);
}

static void resolve_done(struct cl_loop *l, struct cl_pend *rp, int status)
{
	struct cl_pend *p = &l->slots[rp->orig];
	uint64_t node = rp->resolve_node;

	rfs_lp_slot_put(l, rp);
	if (!p->busy)
		return;
	if (status < 0) {
		rfs_dbg(RFS_SUB_CLIENT, "client: resolve %#llx: %s",
			(unsigned long long)node, strerror(-status));
		rfs_lp_fail(l, p, -ESTALE);
		return;
	}
	if (resend(l, p) < 0)
		rfs_lp_fail(l, p, -EIO);
}

/*
 * A request replayed into a new session (server restart: no duplicate
 * cache) may have run before the crash.  Errors that only say "it
 * already happened" are taken as success where that is safe: removing a
 * name that is gone.  Everything else is passed on (doc/semantics.md).
 */
static bool replay_benign(const struct cl_pend *p, int status)
{
	switch (p->op) {
	case RFS_OP_UNLINK:
	case RFS_OP_RMDIR:
		return status == -ENOENT;
	case RFS_OP_RELEASE:
	case RFS_OP_RELEASEDIR:
		return status == -EBADF;
	default:
		return false;
	}
}

static void on_reply(struct cl_loop *l, struct rfs_buf *b)
{
	const struct rfs_hdr *h = b->data;
	const void *payload = (const uint8_t *)b->data + RFS_HDR_SIZE;
	struct rfs_rep_view v;
	struct cl_pend *p;
	int ret;

	if (!(h->flags & RFS_HF_REPLY)) {
		drop_conn(l, "server sent a request, not a reply");
		return;
	}
	ret = rfs_proto_verify(h, payload, rfs_cl->csum);
	if (ret < 0) {
		rfs_err_rl("client: loop %u: reply id %llu: bad checksum",
			   l->idx, (unsigned long long)h->id);
		drop_conn(l, "bad checksum");
		return;
	}
	p = &l->slots[h->id % CL_SLOTS];
	if (!p->busy || p->id != h->id) {
		/* interrupted, or timed out on a soft mount, meanwhile */
		rfs_dbg(RFS_SUB_CLIENT, "client: loop %u: reply to unknown "
			"request id %llu (%s)", l->idx,
			(unsigned long long)h->id,
			rfs_proto_op_name(h->opcode));
		return;
	}
	if (h->opcode != p->op) {
		drop_conn(l, "reply opcode does not match the request");
		return;
	}
	if (p->op == RFS_OP_RESOLVE && !p->req) {
		resolve_done(l, p, h->status);
		return;
	}
	if (h->status < 0) {
		if ((h->flags & RFS_HF_UNKNOWN_NODE) && h->status == -ESTALE)
			unknown_node(l, p, h, payload);
		else if (p->after_restart && replay_benign(p, h->status))
			rfs_lp_fail(l, p, 0);
		else
			rfs_lp_fail(l, p, h->status);
		return;
	}
	ret = rfs_proto_decode_rep(h, payload, p->op, &v);
	if (ret < 0) {
		rfs_err_rl("client: loop %u: %s reply id %llu malformed: %s",
			   l->idx, rfs_proto_op_name(p->op),
			   (unsigned long long)h->id, strerror(-ret));
		rfs_lp_fail(l, p, -EIO);
		drop_conn(l, "malformed reply");
		return;
	}
	rfs_lk_note_reply(p);
	p->done(p, h, &v);
	rfs_lp_slot_put(l, p);
}

static void handle_events(struct cl_loop *l, struct rfs_xev *ev, int n)
{
	for (int i = 0; i < n; i++) {
		switch (ev[i].type) {
		case RFS_XEV_RECV:
			on_reply(l, ev[i].buf);
			rfs_xprt_buf_put(l->x, ev[i].buf);
			break;
		case RFS_XEV_SEND:
			rfs_xprt_buf_put(l->x, ev[i].buf);
			break;
		case RFS_XEV_CONN_DOWN:
			if (ev[i].conn != l->conn)
				break;
			rfs_xprt_conn_free(l->conn);
			l->conn = NULL;
			if (!rfs_lp_lost(l, ev[i].status))
				conn_lost(l, ev[i].status, false);
			break;
		}
	}
}

/* ---- phase 1: connect, HELLO / ATTACH --------------------------------- */

int64_t rfs_lp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Send b and wait for the reply with id; *out is lent (buf_put it). */
int rfs_lp_sync_call(struct cl_loop *l, struct rfs_buf *b, uint64_t id,
		     struct rfs_buf **out)
{
	int64_t deadline = rfs_lp_now_ms() + HANDSHAKE_TIMEOUT_MS;
	struct rfs_xev ev[8];
	int ret, n;

	*out = NULL;
	ret = rfs_xprt_send(l->conn, b, 0);
	if (ret < 0)
		return ret;
	for (;;) {
		n = rfs_xprt_poll(l->x, ev, 8);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			const struct rfs_hdr *h;

			switch (ev[i].type) {
			case RFS_XEV_RECV:
				h = ev[i].buf->data;
				if (!*out && h->id == id) {
					*out = ev[i].buf;
				} else {
					rfs_xprt_buf_put(l->x, ev[i].buf);
				}
				break;
			case RFS_XEV_SEND:
				rfs_xprt_buf_put(l->x, ev[i].buf);
				break;
			case RFS_XEV_CONN_DOWN:
				rfs_xprt_conn_free(l->conn);
				l->conn = NULL;
				/*
				 * The reply and the close may come in one
				 * batch (a server refusing HELLO answers,
				 * then closes): the reply says why.
				 */
				if (*out)
					return 0;
				return ev[i].status ? ev[i].status
						    : -ECONNRESET;
			}
		}
		if (*out)
			return 0;
		if (n > 0)
			continue;
		ret = rfs_xprt_arm(l->x);
		if (ret < 0)
			return ret;
		if (ret > 0)
			continue;
		int64_t left = deadline - rfs_lp_now_ms();
		struct pollfd pfd = { .fd = rfs_xprt_wait_fd(l->x),
				      .events = POLLIN };

		if (left <= 0)
			return -ETIMEDOUT;
		ret = poll(&pfd, 1, (int)left);
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

/* Setup errors: plain on stderr before daemonizing, logged after. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rfs_lp_tl_reconnect)
		rfs_dbg(RFS_SUB_CLIENT, "client: %s", msg);
	else if (rfs_cl->interactive)
		fprintf(stderr, "ringfs: %s\n", msg);
	else
		rfs_err("client: %s", msg);
}

static const char *hello_err(int err)
{
	switch (err) {
	case -EPROTONOSUPPORT:
		return "the server speaks another protocol version";
	case -EACCES:
		return "access denied by the server";
	case -ENOKEY:
	case -EKEYREJECTED:
		return rfs_cl_auth_strerror(err);
	default:
		return strerror(-err);
	}
}

/*
 * AUTH (client/auth.c) on a fresh connection when -o key_file is given:
 * CHALLENGE, then PROVE; token gets the session token the handshake
 * derives (what HELLO's reply leaves out).  Errors are printed.
 */
static int loop_auth(struct cl_loop *l, uint8_t token[RFS_AUTH_TOKEN_LEN])
{
	struct rfs_client *cl = rfs_cl;
	struct rfs_buf *b, *rb = NULL;
	struct rfs_cl_auth a;
	int ret = 0;

	if (!rfs_cl_auth_enabled())
		return 0;
	for (uint64_t id = 1; id <= 2; id++) {
		b = rfs_xprt_buf_get(l->x, 512);
		if (!b) {
			ret = -ENOMEM;
			break;
		}
		if (id == 1)
			ret = rfs_cl_auth_challenge(&a, b->data, b->cap, id,
						    cl->o.export_name,
						    cl->o.csum);
		else
			ret = rfs_cl_auth_prove(&a, rb->data, b->data, b->cap,
						id, cl->o.csum);
		if (rb)
			rfs_xprt_buf_put(l->x, rb);
		rb = NULL;
		if (ret < 0) {
			rfs_xprt_buf_put(l->x, b);
			break;
		}
		b->len = (uint32_t)ret;
		ret = rfs_lp_sync_call(l, b, id, &rb);
		if (ret < 0)
			break;
	}
	if (rb) {
		ret = rfs_cl_auth_finish(&a, rb->data, token);
		rfs_xprt_buf_put(l->x, rb);
	}
	if (ret < 0)
		say("authentication with %s failed: %s", cl->addr.text,
		    rfs_cl_auth_strerror(ret));
	return ret;
}

/* Connect and HELLO (attach = false) or ATTACH.  Errors are printed. */
int rfs_lp_connect(struct cl_loop *l, bool attach)
{
	struct rfs_client *cl = rfs_cl;
	struct rfs_xprt_params xp;
	struct rfs_buf *b, *rb = NULL;
	struct rfs_mb mb;
	const struct rfs_hdr *h;
	struct rfs_rep_view v;
	uint8_t tok[RFS_AUTH_TOKEN_LEN];
	uint64_t id = 1;
	int ret, len;

	rfs_xprt_params_default(&xp);
	xp.sqpoll = cl->o.sqpoll;
	ret = rfs_xprt_open(cl->o.transport, &xp, &l->x);
	if (ret < 0) {
		if (ret == -ENOENT || ret == -ENOTSUP)
			say("transport '%s' is not available "
				"(built: %s)", cl->o.transport,
				rfs_xprt_built());
		else
			say("transport %s: cannot start: %s",
				cl->o.transport, strerror(-ret));
		return ret;
	}
	ret = rfs_xprt_connect(l->x, &cl->addr,
			       rfs_lp_tl_reconnect && cl->o.connect_timeout_ms >
					       RECONNECT_CONNECT_MS
				       ? RECONNECT_CONNECT_MS
				       : cl->o.connect_timeout_ms,
			       &l->conn);
	if (ret < 0) {
		l->conn = NULL;
		say("cannot connect to %s: %s%s", cl->addr.text,
			strerror(-ret),
			ret == -ECONNREFUSED || ret == -ETIMEDOUT ||
					ret == -EHOSTUNREACH
				? " \u2014 is ringfsd running?"
				: "");
		return ret;
	}
	ret = loop_auth(l, tok);
	if (ret < 0)
		return ret;
	b = rfs_xprt_buf_get(l->x, 512);
	if (!b) {
		say("transport %s: no buffer", cl->o.transport);
		return -ENOMEM;
	}
	if (attach) {
		struct rfs_attach_req *a;

		rfs_mb_init(&mb, b->data, b->cap, RFS_OP_ATTACH, id);
		a = rfs_mb_put(&mb, sizeof(*a));
		if (a) {
			a->session = cl->session;
			memcpy(a->token, cl->token, sizeof(a->token));
		}
		len = rfs_mb_finish(&mb, cl->csum);
	} else {
		struct rfs_hello_req *hr;
		size_t elen = strlen(cl->o.export_name);

		rfs_mb_init(&mb, b->data, b->cap, RFS_OP_HELLO, id);
		hr = rfs_mb_put(&mb, sizeof(*hr));
		if (hr) {
			hr->features = cl->o.csum ? RFS_FEAT_CSUM : 0;
			hr->max_msg = RFS_MSG_MAX_DEFAULT;
			hr->export_len = (uint16_t)elen;
			hr->max_inflight = CL_SLOTS;
		}
		rfs_mb_put_bytes(&mb, cl->o.export_name, (uint32_t)elen);
		len = rfs_mb_finish(&mb, cl->o.csum);
	}
	if (len < 0) {
		rfs_xprt_buf_put(l->x, b);
		say("building HELLO failed: %s", strerror(-len));
		return len;
	}
	b->len = (uint32_t)len;
	ret = rfs_lp_sync_call(l, b, id, &rb);
	if (ret < 0) {
		say("%s with %s failed: %s",
			attach ? "ATTACH" : "HELLO", cl->addr.text,
			hello_err(ret));
		return ret;
	}
	h = rb->data;
	ret = rfs_proto_verify(h, h + 1, false);
	if (ret < 0) {
		say("%s reply from %s: bad checksum",
			attach ? "ATTACH" : "HELLO", cl->addr.text);
		goto out_put;
	}
	if (h->status < 0) {
		ret = h->status;
		if (ret == -ENOENT && !attach)
			say("export '%s' not found on %s",
				cl->o.export_name, cl->addr.text);
		else
			say("%s refused by %s: %s",
				attach ? "ATTACH" : "HELLO", cl->addr.text,
				hello_err(ret));
		goto out_put;
	}
	ret = rfs_proto_decode_rep(h, h + 1, attach ? RFS_OP_ATTACH
						    : RFS_OP_HELLO, &v);
	if (ret < 0) {
		say("malformed %s reply from %s",
			attach ? "ATTACH" : "HELLO", cl->addr.text);
		goto out_put;
	}
	if (!attach) {
		const struct rfs_hello_rep *hr = v.fixed;

		cl->csum = hr->features & RFS_FEAT_CSUM;
		cl->session = hr->session;
		memcpy(cl->token, hr->token, sizeof(cl->token));
		if (rfs_cl_auth_enabled())	/* derived, not sent */
			memcpy(cl->token, tok, sizeof(cl->token));
		cl->max_msg = hr->max_msg;
		cl->export_flags = hr->export_flags;
		cl->root_nodeid = hr->root.nodeid;
		ret = rfs_inode_pin(hr->root.nodeid, v.handle, v.handle_len);
	}
out_put:
	rfs_xprt_buf_put(l->x, rb);
	return ret;
}

/* Orderly goodbye: BYE, then wait (bounded) for the close. */
static void loop_disconnect(struct cl_loop *l)
{
	struct rfs_xev ev[8];
	int64_t deadline = rfs_lp_now_ms() + 2000;

	if (l->conn) {
		send_oneway(l, RFS_OP_BYE, NULL, 0);
		rfs_xprt_flush(l->x);
		rfs_xprt_disconnect(l->conn);
	}
	while (l->conn && rfs_lp_now_ms() < deadline) {
		int n = rfs_xprt_poll(l->x, ev, 8);

		for (int i = 0; i < n; i++) {
			if (ev[i].type == RFS_XEV_CONN_DOWN &&
			    ev[i].conn == l->conn) {
				rfs_xprt_conn_free(l->conn);
				l->conn = NULL;
			} else if (ev[i].type != RFS_XEV_CONN_DOWN) {
				rfs_xprt_buf_put(l->x, ev[i].buf);
			}
		}
		if (n == 0 && rfs_xprt_arm(l->x) == 0) {
			struct pollfd pfd = { .fd = rfs_xprt_wait_fd(l->x),
					      .events = POLLIN };

			poll(&pfd, 1, 100);
		}
	}
	if (l->x)
		rfs_xprt_close(l->x);
	l->x = NULL;
	l->conn = NULL;
}

/*
 * transport=auto: HELLO over the current transport and address, then ask
 * the server for its other paths (RFS_OP_PATHS).  quiet: a trial, errors
 * go to the debug log only.
 */
int rfs_client_paths(struct rfs_client *cl, bool quiet,
		     struct rfs_client_paths *out)
{
	struct cl_loop l = { .fuse_fd = -1, .ep = -1, .wake_fd = -1 };
	const struct rfs_paths_rep *p;
	struct rfs_buf *b, *rb = NULL;
	const struct rfs_hdr *h;
	struct rfs_rep_view v;
	struct rfs_mb mb;
	int ret, len, level = rfs_log_get_level();

	memset(out, 0, sizeof(*out));
	if (quiet) {
		rfs_lp_tl_reconnect = true;
		rfs_log_set_level(LOG_CRIT);
	}
	ret = rfs_lp_connect(&l, false);
	if (ret < 0)
		goto out;
	ret = -ENOMEM;
	b = rfs_xprt_buf_get(l.x, 256);
	if (!b)
		goto out;
	rfs_mb_init(&mb, b->data, b->cap, RFS_OP_PATHS, 2);
	len = rfs_mb_finish(&mb, cl->csum);
	if (len < 0) {
		rfs_xprt_buf_put(l.x, b);
		ret = len;
		goto out;
	}
	b->len = (uint32_t)len;
	ret = rfs_lp_sync_call(&l, b, 2, &rb);
	if (ret < 0)
		goto out;
	h = rb->data;
	ret = rfs_proto_verify(h, h + 1, cl->csum);
	if (!ret)
		ret = h->status;
	if (!ret)
		ret = rfs_proto_decode_rep(h, h + 1, RFS_OP_PATHS, &v);
	if (!ret) {
		p = v.fixed;
		out->instance = p->instance;
		memcpy(out->unix_path, v.data, v.data_len);
		memcpy(out->rdma_addr, v.handle, v.handle_len);
	}
	rfs_xprt_buf_put(l.x, rb);
out:
	loop_disconnect(&l);
	if (quiet) {
		rfs_lp_tl_reconnect = false;
		rfs_log_set_level(level);
	}
	return ret;
}

static int probe_here(void)
{
	struct cl_loop l = { .fuse_fd = -1, .ep = -1, .wake_fd = -1 };
	int ret;

	ret = rfs_lp_connect(&l, false);
	loop_disconnect(&l);
	return ret;
}

int rfs_client_probe(struct rfs_client *cl)
{
	int status;
	pid_t pid;

	/*
	 * librdmacm keeps process-wide state (its rdma_cm fd) that a forked
	 * child cannot use (EACCES), and we fork to daemonize after the
	 * probe: so probe an rdma path from a throw-away child and keep
	 * this process free of verbs state.
	 */
	if (strcmp(cl->o.transport, "rdma"))
		return probe_here();
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(-probe_here() & 0xff);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return -WEXITSTATUS(status);
	return -EIO;
}

/* ---- the loop --------------------------------------------------------- */

int rfs_lp_epoll_add(int ep, int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
		return -errno;
	return 0;
}

static int loop_setup(struct cl_loop *l)
{
	struct rfs_client *cl = rfs_cl;
	int ret, fl;

	ret = slots_init(l);
	if (ret < 0)
		return ret;
	ret = rfs_lp_connect(l, l->idx != 0);
	if (ret < 0)
		return ret;
	if (l->idx == 0) {
		l->fuse_fd = fuse_session_fd(cl->se);
		l->own_fuse_fd = false;
	} else {
		int sfd = fuse_session_fd(cl->se);
		uint32_t master = (uint32_t)sfd;

		l->fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		if (l->fuse_fd < 0) {
			ret = -errno;
			rfs_err("client: loop %u: open /dev/fuse: %s", l->idx,
				strerror(errno));
			return ret;
		}
		l->own_fuse_fd = true;
		if (ioctl(l->fuse_fd, FUSE_DEV_IOC_CLONE, &master) < 0) {
			ret = -errno;
			rfs_err("client: loop %u: FUSE_DEV_IOC_CLONE: %s",
				l->idx, strerror(errno));
			return ret;
		}
	}
	fl = fcntl(l->fuse_fd, F_GETFL);
	if (fl < 0 || fcntl(l->fuse_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		ret = -errno;
		rfs_err("client: loop %u: O_NONBLOCK on /dev/fuse: %s",
			l->idx, strerror(errno));
		return ret;
	}
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		ret = -errno;
		rfs_err("client: loop %u: epoll_create1: %s", l->idx,
			strerror(errno));
		return ret;
	}
	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wake_fd < 0) {
		ret = -errno;
		rfs_err("client: loop %u: eventfd: %s", l->idx,
			strerror(errno));
		return ret;
	}
	/*
	 * Every loop's /dev/fuse clone sleeps on the one FUSE input queue:
	 * EPOLLEXCLUSIVE wakes one loop per request instead of all of them
	 * (each woken loop would pay an epoll_wait and an EAGAIN read).
	 */
	{
		struct epoll_event e = { .events = EPOLLIN | EPOLLEXCLUSIVE,
					 .data.fd = l->fuse_fd };

		ret = epoll_ctl(l->ep, EPOLL_CTL_ADD, l->fuse_fd, &e) < 0
			      ? -errno : 0;
	}
	if (!ret)
		ret = rfs_lp_epoll_add(l->ep, rfs_xprt_wait_fd(l->x));
	if (!ret)
		ret = rfs_lp_epoll_add(l->ep, cl->stop_fd);
	if (!ret)
		ret = rfs_lp_epoll_add(l->ep, l->wake_fd);
	if (ret < 0)
		rfs_err("client: loop %u: epoll_ctl: %s", l->idx,
			strerror(-ret));
	return ret;
}

static void request_stop(void)
{
	uint64_t one = 1;

	fuse_session_exit(rfs_cl->se);
	if (write(rfs_cl->stop_fd, &one, sizeof(one)) < 0)
		rfs_err("client: waking the loops failed: %s",
			strerror(errno));
}

bool rfs_lp_stop_requested(void)
{
	struct pollfd pfd = { .fd = rfs_cl->stop_fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

static void loop_run(struct cl_loop *l)
{
	struct fuse_session *se = rfs_cl->se;
	struct rfs_xev ev[EV_BATCH];
	struct epoll_event eev[4];
	int64_t idle_since = 0;
	int64_t spin_us = rfs_cl->spin_us;

	/*
	 * fuse_ready: /dev/fuse may have requests.  Cleared by an EAGAIN
	 * read, set again only when epoll says so: an iteration that only
	 * handled transport events does not pay another EAGAIN read.
	 */
	bool fuse_ready = true;

	for (;;) {
		bool progress = false;
		int n, ret;

		for (int i = 0; fuse_ready && i < FUSE_BATCH; i++) {
			ret = fuse_session_receive_buf(se, &l->fbuf);
			if (ret == -EAGAIN) {
				fuse_ready = false;
				break;
			}
			if (ret == -EINTR)
				continue;
			if (ret <= 0) {
				if (ret < 0)
					rfs_err("client: loop %u: reading "
						"/dev/fuse: %s", l->idx,
						strerror(-ret));
				goto out_stop;
			}
			fuse_session_process_buf(se, &l->fbuf);
			progress = true;
		}
		if (fuse_session_exited(se))
			goto out_stop;
		if (atomic_load(&l->intr))
			rfs_lp_check_interrupts(l);
		if (l->reconnecting)
			rfs_lp_reconnect_tick(l);
		if (rfs_cl->o.soft && l->inflight)
			rfs_lp_soft_timeouts(l, rfs_lp_now_ms());
		flush_forgets(l);
		n = l->x ? rfs_xprt_poll(l->x, ev, EV_BATCH) : 0;
		if (n > 0) {
			handle_events(l, ev, n);
			progress = true;
			/*
			 * A full batch means load: look at /dev/fuse again
			 * without waiting for epoll, so requests do not queue
			 * behind a stream of replies.
			 */
			if (n == EV_BATCH)
				fuse_ready = true;
		}
		if (!l->x)
			progress = false;
		if (progress) {
			rfs_xprt_flush(l->x);
			idle_since = 0;
			continue;
		}
		/*
		 * A reply is due soon: poll a little before sleeping, since a
		 * wake-up costs more than a round trip (RINGFS_SPIN_US).
		 */
		if (l->inflight && spin_us && l->conn) {
			int64_t t = now_us();

			if (!idle_since)
				idle_since = t;
			if (t - idle_since < spin_us) {
				rfs_xprt_flush(l->x);
				continue;
			}
		}
		idle_since = 0;
		if (l->x) {
			ret = rfs_xprt_arm(l->x);
			if (ret > 0)
				continue;
		}
		n = epoll_wait(l->ep, eev, 4, rfs_lp_wait_ms(l));
		if (n < 0 && errno != EINTR) {
			rfs_err("client: loop %u: epoll_wait: %s", l->idx,
				strerror(errno));
			goto out_stop;
		}
		for (int i = 0; i < n; i++) {
			uint64_t v;

			if (eev[i].data.fd == l->fuse_fd)
				fuse_ready = true;
			if (eev[i].data.fd == rfs_cl->stop_fd)
				return;
			if (eev[i].data.fd == l->wake_fd &&
			    read(l->wake_fd, &v, sizeof(v)) < 0 &&
			    errno != EAGAIN)
				rfs_err_rl("client: loop %u: eventfd: %s",
					   l->idx, strerror(errno));
		}
	}
out_stop:
	request_stop();
}

static void loop_teardown(struct cl_loop *l)
{
	if (l->slots)
		conn_lost(l, 0, true);
	loop_disconnect(l);
	if (l->ep >= 0)
		close(l->ep);
	l->ep = -1;
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	l->wake_fd = -1;
	if (l->own_fuse_fd && l->fuse_fd >= 0)
		close(l->fuse_fd);
	l->fuse_fd = -1;
	free(l->fbuf.mem);
	l->fbuf.mem = NULL;
	for (uint32_t i = 0; l->slots && i < CL_SLOTS; i++)
		free(l->slots[i].copy);
	free(l->slots);
	l->slots = NULL;
}

static void report(struct rfs_client *cl, int err)
{
	pthread_mutex_lock(&cl->mu);
	if (err && !cl->setup_err)
		cl->setup_err = err;
	cl->ready++;
	pthread_cond_broadcast(&cl->cv);
	pthread_mutex_unlock(&cl->mu);
}

static void *loop_main(void *arg)
{
	struct cl_loop *l = arg;
	int ret;

	tl_loop = l;
	ret = loop_setup(l);
	tl_fuse_fd = l->fuse_fd;
	report(rfs_cl, ret);
	if (ret == 0)
		loop_run(l);
	tl_fuse_fd = -1;
	loop_teardown(l);
	tl_loop = NULL;
	return NULL;
}

static int start_one(struct rfs_client *cl, unsigned idx)
{
	struct cl_loop *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	l->idx = idx;
	l->fuse_fd = -1;
	l->ep = -1;
	l->wake_fd = -1;
	cl->loops[idx] = l;
	cl->nloops = idx + 1;
	ret = pthread_create(&l->th, NULL, loop_main, l);
	if (ret) {
		rfs_err("client: starting loop %u: %s", idx, strerror(ret));
		return -ret;
	}
	l->started = true;
	return 0;
}

static int wait_ready(struct rfs_client *cl, unsigned n)
{
	int err;

	pthread_mutex_lock(&cl->mu);
	while (cl->ready < n)
		pthread_cond_wait(&cl->cv, &cl->mu);
	err = cl->setup_err;
	pthread_mutex_unlock(&cl->mu);
	return err;
}

int rfs_loops_start(struct rfs_client *cl)
{
	int ret;

	pthread_mutex_init(&cl->mu, NULL);
	pthread_cond_init(&cl->cv, NULL);
	cl->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cl->stop_fd < 0) {
		ret = -errno;
		rfs_err("client: eventfd: %s", strerror(errno));
		return ret;
	}
	ret = fuse_session_custom_io(cl->se, &cl_io, fuse_session_fd(cl->se));
	if (ret < 0) {
		rfs_err("client: fuse_session_custom_io: %s", strerror(-ret));
		return ret;
	}
	/* loop 0 opens the session; the others attach to it */
	ret = start_one(cl, 0);
	if (!ret)
		ret = wait_ready(cl, 1);
	for (unsigned i = 1; !ret && i < cl->o.loops; i++)
		ret = start_one(cl, i);
	if (!ret)
		ret = wait_ready(cl, cl->nloops);
	if (ret < 0)
		request_stop();
	return ret;
}

void rfs_loops_stop(void)
{
	request_stop();
}

bool rfs_loops_stopping(void)
{
	return rfs_lp_stop_requested();
}

void rfs_loops_join(struct rfs_client *cl)
{
	for (unsigned i = 0; i < cl->nloops; i++) {
		struct cl_loop *l = cl->loops[i];

		if (!l)
			continue;
		if (l->started)
			pthread_join(l->th, NULL);
		free(l);
		cl->loops[i] = NULL;
	}
	cl->nloops = 0;
}
