// SPDX-License-Identifier: MIT
/*
 * call: a loop's requests.  Pending slots (ids), building and sending a
 * request for a FUSE op (rfs_call_*), the replies (matched by id, checked,
 * handed to the op's completion), the RESOLVE retry after
 * RFS_HF_UNKNOWN_NODE, and batched FORGETs.
 *
 * A request id is gen << 18 | loop << 12 | slot, gen growing for every
 * use, so a late or forged reply never matches a reused slot, and ids are
 * unique in the session across loops (the server's duplicate-request
 * cache is keyed by them).  Every request's frame is kept until its reply
 * for a RESOLVE resend or a replay after a reconnect (replay.c).
 *
 * Everything here runs on the loop's own thread (rfs_lp_tl_loop), except
 * on_interrupt, which libfuse calls from any thread.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_i.h"
#include "groups.h"
#include "log.h"
#include "loop_i.h"
#include "spin.h"

/* ---- pending slots ---------------------------------------------------- */

int rfs_lp_slots_init(struct cl_loop *l)
{
	l->slots = calloc(CL_SLOTS, sizeof(*l->slots));
	if (!l->slots)
		return -ENOMEM;
	for (int32_t i = 0; i < (int32_t)CL_SLOTS; i++)
		l->slots[i].next_free = i + 1 < (int32_t)CL_SLOTS ? i + 1 : -1;
	l->free_head = 0;
	return 0;
}

void rfs_lp_slots_free(struct cl_loop *l)
{
	for (uint32_t i = 0; l->slots && i < CL_SLOTS; i++)
		free(l->slots[i].copy);
	free(l->slots);
	l->slots = NULL;
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

	if (idx < 0) {
		rfs_obs_add(l->obs, RFS_OBS_queue_full, 1);
		return NULL;
	}
	p = &l->slots[idx];
	l->free_head = p->next_free;
	p->busy = true;
	p->id = rfs_lp_next_id(l, idx);
	p->req = NULL;
	p->done = NULL;
	p->retries = 0;
	p->orig = -1;
	p->copy_len = 0;
	p->reply_max = 0;
	/* one clock read: soft timeouts and the latency histograms */
	p->sent_ns = rfs_now_ns();
	p->start_ms = p->sent_ns / 1000000;
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
	rfs_obs_set(l->obs, RFS_OBS_G_inflight, l->inflight);
	if (l->obs && l->inflight > l->obs->g[RFS_OBS_G_inflight_max])
		rfs_obs_set(l->obs, RFS_OBS_G_inflight_max, l->inflight);
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
	rfs_obs_set(l->obs, RFS_OBS_G_inflight, l->inflight);
}

/*
 * A LOOKUP the server answered ENOENT: a negative entry (inode 0) that
 * the kernel keeps for negative_timeout, so repeated lookups of a name
 * that does not exist (search paths, build tools) cost no round trip.
 * A create, mkdir, symlink, link or rename through this mount replaces
 * it at once; one made by another client or in the export directly is
 * seen once it expires (doc/semantics.md).
 */
static void reply_enoent(fuse_req_t req, uint16_t op)
{
	struct fuse_entry_param ep;

	if (op != RFS_OP_LOOKUP || rfs_cl->o.negative_timeout <= 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&ep, 0, sizeof(ep));
	ep.entry_timeout = rfs_cl->o.negative_timeout;
	fuse_reply_entry(req, &ep);
}

void rfs_lp_fail(struct cl_loop *l, struct cl_pend *p, int err)
{
	if (p->req) {
		if (err == -ENOENT)
			reply_enoent(p->req, p->op);
		else
			fuse_reply_err(p->req, -err);
	}
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
	int fd;

	if (!l || !l->slots)
		return;
	atomic_store(&l->slots[si].intr_req, (uintptr_t)req);
	atomic_store(&l->intr, true);
	/* -1 once the loop is ending (loop.c unpublishes it before close) */
	fd = __atomic_load_n(&l->wake_fd, __ATOMIC_SEQ_CST);
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
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
	struct cl_loop *l = rfs_lp_tl_loop;
	int err;

	c->l = l;
	c->p = NULL;
	c->buf = NULL;
	c->heap = false;
	c->groups = NULL;
	c->ngroups = 0;
	if (!l || (!l->conn && !l->reconnecting)) {
		err = -EIO;
		goto out_reply;
	}
	if (!l->conn && rfs_cl->o.soft &&
	    rfs_now_ns() / 1000000 - l->lost_at_ms >= rfs_cl->o.timeo_ms) {
		err = -EIO; /* soft: the server is gone for too long */
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
	/* the caller's supplementary groups go at the end (groups.c) */
	if (req && rfs_cl->groups) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);

		c->ngroups = rfs_groups_get((uint32_t)ctx->pid, ctx->uid,
					    ctx->gid, rfs_cl->o.groups_ttl_ms,
					    &c->groups);
		size += 4 * c->ngroups +
			(uint32_t)sizeof(struct rfs_groups_tail);
	}
	if (l->conn) {
		c->buf = rfs_xprt_buf_get(l->x, size);
		if (!c->buf)
			rfs_obs_add(l->obs, RFS_OBS_bufpool_empty, 1);
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
					(void *)((uintptr_t)l->idx
							 << CL_SLOT_BITS |
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

	if (rfs_call_start(c, req, op, RFS_HDR_SIZE + fixed + extra + 8, done) <
	    0)
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
	if (ret == -EIO ||
	    (rfs_op_is(p->op, RFS_OPF_LOCK_IO) && rfs_lk_lost(cfh)))
		p->fh_lost = true;
	*field = sfh;
	if (p->nfh < 2) {
		p->fh_off[p->nfh] =
			(uint16_t)((uint8_t *)field - (uint8_t *)c->buf->data);
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

int rfs_call_take_fd(uint64_t id)
{
	struct cl_loop *l = rfs_lp_tl_loop;

	if (!l || !l->conn)
		return -ENOTCONN;
	return rfs_xprt_take_fd(l->conn, id);
}

void rfs_call_count(int ctr)
{
	struct cl_loop *l = rfs_lp_tl_loop;

	if (l)
		rfs_obs_add(l->obs, (enum rfs_obs_ctr)ctr, 1);
}

void rfs_call_send(struct cl_call *c)
{
	struct cl_loop *l = c->l;
	int len, ret;

	rfs_mb_put_groups(&c->mb, c->groups, c->ngroups);
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
	ret = rfs_lp_send(l, c->p, c->buf);
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

/* A frame with no reply expected (FORGET, BYE). */
int rfs_lp_send_oneway(struct cl_loop *l, uint16_t op, const void *payload,
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
	struct cl_loop *l = rfs_lp_tl_loop;

	if (!l)
		return;
	l->forgets[l->nforget].nodeid = nodeid;
	l->forgets[l->nforget].nlookup = nlookup;
	l->nforget++;
	if (l->nforget == RFS_FORGET_MAX)
		rfs_lp_flush_forgets(l);
}

void rfs_lp_flush_forgets(struct cl_loop *l)
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

void rfs_lp_fail_all(struct cl_loop *l, int status, bool quiet)
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
	rfs_err_rl("client: loop %u: %s; closing the connection", l->idx, why);
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
	return rfs_lp_send(l, p, b);
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
	b = rfs_xprt_buf_get(l->x, RFS_HDR_SIZE + sizeof(*rr) + (uint32_t)hlen);
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
	rfs_dbg(RFS_SUB_CLIENT,
		"client: %s: node %#llx unknown to the "
		"server, resolving",
		rfs_proto_op_name(p->op), (unsigned long long)un->nodeid);
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

static void on_reply(struct cl_loop *l, struct rfs_buf *b)
{
	const struct rfs_hdr *h = b->data;
	const void *payload = (const uint8_t *)b->data + RFS_HDR_SIZE;
	struct rfs_rep_view v;
	struct cl_pend *p;
	int ret;

	if (h->flags & RFS_HF_NOTIFY) {
		rfs_cl_on_notify(l, h, payload);
		return;
	}
	if (!(h->flags & RFS_HF_REPLY)) {
		drop_conn(l, "server sent a request, not a reply");
		return;
	}
	ret = rfs_proto_verify(h, payload, rfs_cl->csum);
	if (ret < 0) {
		rfs_obs_add(l->obs, RFS_OBS_csum_failures, 1);
		rfs_err_rl("client: loop %u: reply id %llu: bad checksum",
			   l->idx, (unsigned long long)h->id);
		drop_conn(l, "bad checksum");
		return;
	}
	p = &l->slots[h->id % CL_SLOTS];
	if (!p->busy || p->id != h->id) {
		/* interrupted, or timed out on a soft mount, meanwhile */
		rfs_obs_add(l->obs, RFS_OBS_stray_replies, 1);
		rfs_dbg(RFS_SUB_CLIENT,
			"client: loop %u: reply to unknown "
			"request id %llu (%s)",
			l->idx, (unsigned long long)h->id,
			rfs_proto_op_name(h->opcode));
		return;
	}
	if (h->opcode != p->op) {
		drop_conn(l, "reply opcode does not match the request");
		return;
	}
	if (p->sent_ns) {
		uint64_t ns = (uint64_t)(rfs_now_ns() - p->sent_ns);

		rfs_obs_lat(l->obs, p->op, ns);
		rfs_obs_rtt(l->obs, ns);
	}
	rfs_obs_add(l->obs, RFS_OBS_replies_received, 1);
	if (h->status < 0)
		rfs_obs_add(l->obs, RFS_OBS_errors, 1);
	if (p->op == RFS_OP_RESOLVE && !p->req) {
		resolve_done(l, p, h->status);
		return;
	}
	if (h->status < 0) {
		if ((h->flags & RFS_HF_UNKNOWN_NODE) && h->status == -ESTALE)
			unknown_node(l, p, h, payload);
		else if (p->after_restart &&
			 rfs_op_replay_benign(p->op, h->status))
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

void rfs_lp_on_events(struct cl_loop *l, struct rfs_xev *ev, int n)
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
				rfs_lp_fail_all(l, ev[i].status, false);
			break;
		}
	}
}
