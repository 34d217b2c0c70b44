// SPDX-License-Identifier: MIT
/*
 * bench_rpc: the RPC workloads over one transport, against a running
 * ringfsd.  Everything runs on the calling thread (the one whose syscalls
 * are counted): HELLO to the export, LOOKUP + OPEN of the test files,
 * then per (workload, queue depth) a warm-up and a measured run that
 * keeps qd requests in flight on one connection.  Every reply is checked
 * (header, rfs_proto_decode_rep, status, sizes, and for reads the first
 * word of the data, which holds its own file offset).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "bench.h"
#include "log.h"
#include "proto.h"
#include "rpc.h"
#include "spin.h"
#include "xprt.h"

#define CALL_TIMEOUT_MS 10000  /* one setup call */
#define STALL_TIMEOUT_MS 10000 /* no reply at all for this long: fail */
#define WARMUP_MAX_NS 200000000LL

struct rpc {
	struct rfs_rpc r; /* the connection (client/rpc.h) */
	uint64_t root;
	uint64_t rnode, rfh; /* read.dat */
	uint64_t wnode, wfh; /* write.dat */
	uint64_t seq;
	uint64_t rng;
};

struct slot {
	uint64_t id;
	long long t0;
	bool busy;
};

static uint64_t rnd(struct rpc *r)
{
	/* xorshift64: no syscalls, deterministic per run */
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return r->rng;
}

/*
 * Next event, sleeping on the wait fd when there is none.  1 with *e,
 * -ETIMEDOUT after timeout_ms without any event, -EINTR on a signal.
 */
static int rpc_next(struct rpc *r, struct rfs_xev *e, int timeout_ms)
{
	int rc = rfs_rpc_next(&r->r, rfs_now_ns() + timeout_ms * 1000000LL, e);

	if (rc == 0)
		return -ETIMEDOUT;
	if (rc < 0 && rc != -EINTR)
		rfs_err("bench: waiting for replies: %s", strerror(-rc));
	return rc;
}

/* Start a request with id in a fresh buffer of at least size bytes. */
static struct rfs_buf *req_new(struct rpc *r, struct rfs_mb *mb, uint16_t op,
			       uint64_t id, uint32_t size)
{
	/*
	 * The pid was taken once, at HELLO (the FUSE client takes it from
	 * the kernel's request, without a syscall).  Until 2026-12 this
	 * called getpid(2) for every request: the client's syscall counts
	 * of earlier results include one per request that no transport
	 * made.
	 */
	r->r.next_id = id;
	return rfs_rpc_req(&r->r, mb, op, size);
}

/*
 * Finish and queue a request; no flush: run_loop pushes a batch of them
 * to the kernel at once.
 */
static int req_send(struct rpc *r, struct rfs_buf *b, struct rfs_mb *mb)
{
	int len = rfs_mb_finish(mb, r->r.csum);

	if (len < 0) {
		rfs_xprt_buf_put(r->r.x, b);
		return len;
	}
	b->len = (uint32_t)len;
	return rfs_xprt_send(r->r.c, b, 0);
}

/*
 * Check a received frame: a reply to request `id` of opcode op, valid
 * for that op, status 0.  Fills *v.
 */
static int rep_check(struct rpc *r, const struct rfs_buf *b, uint16_t op,
		     uint64_t id, struct rfs_rep_view *v)
{
	const struct rfs_hdr *h = b->data;
	const void *payload = (const uint8_t *)b->data + RFS_HDR_SIZE;
	int err;

	if (b->len < RFS_HDR_SIZE || b->len != RFS_HDR_SIZE + h->len ||
	    !(h->flags & RFS_HF_REPLY) || h->opcode != op || h->id != id) {
		rfs_err("bench: reply %llu (%s): bad frame (len %u op %u "
			"id %llu)",
			(unsigned long long)id, rfs_proto_op_name(op), b->len,
			h->opcode, (unsigned long long)h->id);
		return -EPROTO;
	}
	err = rfs_proto_verify(h, payload, r->r.csum);
	if (err) {
		rfs_err("bench: reply %llu: bad checksum",
			(unsigned long long)id);
		return err;
	}
	if (h->status) {
		rfs_err("bench: %s: server says %s", rfs_proto_op_name(op),
			strerror(-h->status));
		return h->status;
	}
	err = rfs_proto_decode_rep(h, payload, op, v);
	if (err)
		rfs_err("bench: reply %llu (%s): does not decode: %s",
			(unsigned long long)id, rfs_proto_op_name(op),
			strerror(-err));
	return err;
}

/*
 * One synchronous call for setup, its reply checked as rep_check() does;
 * on success *out is the lent reply buffer and *v its view.
 */
static int rpc_call(struct rpc *r, struct rfs_buf *b, struct rfs_mb *mb,
		    struct rfs_buf **out, struct rfs_rep_view *v)
{
	/* read before the call: it hands the request's buffer on */
	uint16_t op = rfs_mb_hdr(mb)->opcode;
	uint64_t id = rfs_mb_hdr(mb)->id;
	int err = rfs_rpc_call(&r->r, b, mb, CALL_TIMEOUT_MS, out);

	if (err == -ETIMEDOUT)
		rfs_err("bench: %s: no reply within %d ms",
			rfs_proto_op_name(op), CALL_TIMEOUT_MS);
	if (err)
		return err;
	err = rep_check(r, *out, op, id, v);
	if (err)
		rfs_xprt_buf_put(r->r.x, *out);
	return err;
}

static int rpc_hello(struct rpc *r, bool csum)
{
	const struct rfs_rpc_hello h = {
		.export = BENCH_EXPORT,
		.csum = csum,
		.max_inflight = BENCH_MAX_QD,
		.timeout_ms = CALL_TIMEOUT_MS,
	};
	const struct rfs_hello_rep *p;
	struct rfs_rep_view v;
	struct rfs_buf *rb;
	const char *why;
	int err;

	r->r.pid = (uint32_t)getpid();
	err = rfs_rpc_hello(&r->r, &h, &rb, &v, &why);
	if (err && r->r.step == RFS_RPC_REPLY && why)
		rfs_err("bench: HELLO reply: %s", why);
	else if (err && r->r.step == RFS_RPC_REPLY)
		rfs_err("bench: HELLO to export %s: %s", BENCH_EXPORT,
			strerror(-err));
	if (err)
		return err;
	p = v.fixed;
	r->root = p->root.nodeid;
	if (p->max_msg <
	    RFS_HDR_SIZE + sizeof(struct rfs_io_req) + (1u << 20)) {
		rfs_err("bench: server max_msg %u is below a 1 MiB write",
			p->max_msg);
		err = -EMSGSIZE;
	}
	rfs_xprt_buf_put(r->r.x, rb);
	return err;
}

static int rpc_lookup_open(struct rpc *r, const char *name, uint64_t *node,
			   uint64_t *fh)
{
	const struct rfs_entry *e;
	const struct rfs_open_rep *o;
	struct rfs_name_req *q;
	struct rfs_open_req *oq;
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	struct rfs_mb mb;
	int err;

	b = req_new(r, &mb, RFS_OP_LOOKUP, ++r->seq, 4096);
	if (!b)
		return -ENOBUFS;
	q = rfs_mb_put(&mb, sizeof(*q));
	if (q) {
		q->parent = r->root;
		q->name_len = (uint16_t)strlen(name);
	}
	rfs_mb_put_bytes(&mb, name, (uint32_t)strlen(name));
	err = rpc_call(r, b, &mb, &rb, &v);
	if (err)
		return err;
	e = v.fixed;
	*node = e->nodeid;
	if (e->attr.size != BENCH_FILE_SIZE) {
		rfs_err("bench: %s: size %llu, expected %u", name,
			(unsigned long long)e->attr.size, BENCH_FILE_SIZE);
		err = -EIO;
	}
	rfs_xprt_buf_put(r->r.x, rb);
	if (err)
		return err;

	b = req_new(r, &mb, RFS_OP_OPEN, ++r->seq, 4096);
	if (!b)
		return -ENOBUFS;
	oq = rfs_mb_put(&mb, sizeof(*oq));
	if (oq) {
		oq->nodeid = *node;
		oq->flags = O_RDWR;
	}
	err = rpc_call(r, b, &mb, &rb, &v);
	if (err)
		return err;
	o = v.fixed;
	*fh = o->fh;
	rfs_xprt_buf_put(r->r.x, rb);
	return 0;
}

/* ---- the workload loop --------------------------------------------------- */

/* the echo payload, checked on return: bytes 0x40 + i */
static const uint8_t echo_pat[64] = {
	0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a,
	0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55,
	0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60,
	0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b,
	0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76,
	0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
};

/* build and send one request of workload wl in slot s */
static int issue(struct rpc *r, int wl, struct slot *s, uint64_t id,
		 uint64_t *off_out)
{
	uint32_t io = bench_wls[wl].bytes;
	struct rfs_buf *b;
	struct rfs_mb mb;
	uint32_t need = RFS_HDR_SIZE + 64;

	if (wl == WL_WRITE1M)
		need += sizeof(struct rfs_io_req) + io;
	b = req_new(r, &mb, bench_wl_op(wl), id, need);
	if (!b)
		return -ENOBUFS;
	switch (wl) {
	case WL_ECHO:
		rfs_mb_put_bytes(&mb, echo_pat, sizeof(echo_pat));
		break;
	case WL_GETATTR: {
		struct rfs_node_req *q = rfs_mb_put(&mb, sizeof(*q));

		if (q)
			q->nodeid = r->root;
		break;
	}
	default: {
		struct rfs_io_req *q = rfs_mb_put(&mb, sizeof(*q));
		uint64_t off = (rnd(r) % (BENCH_FILE_SIZE / io)) * io;

		if (!q)
			break;
		q->offset = off;
		q->size = io;
		*off_out = off;
		if (wl != WL_WRITE1M) {
			q->nodeid = r->rnode;
			q->fh = r->rfh;
			break;
		}
		q->nodeid = r->wnode;
		q->fh = r->wfh;
		/*
		 * The data: whatever the pool buffer holds (rfs_mb_put would
		 * zero a MiB per op, a cost no real writer has).  Sealed by
		 * hand: header + io_req + io bytes.
		 */
		if (mb.err || mb.cap - mb.len < io) {
			rfs_xprt_buf_put(r->r.x, b);
			return -EMSGSIZE;
		}
		rfs_mb_hdr(&mb)->len = mb.len - RFS_HDR_SIZE + io;
		rfs_proto_seal(rfs_mb_hdr(&mb), r->r.csum);
		b->len = mb.len + io;
		s->id = id;
		s->busy = true;
		s->t0 = bench_now_ns();
		return rfs_xprt_send(r->r.c, b, 0);
	}
	}
	s->id = id;
	s->busy = true;
	s->t0 = bench_now_ns();
	return req_send(r, b, &mb);
}

static int check_data(struct rpc *r, int wl, const struct rfs_rep_view *v,
		      uint64_t off)
{
	uint32_t io = bench_wls[wl].bytes;
	uint64_t w;

	switch (wl) {
	case WL_ECHO:
		if (v->data_len != sizeof(echo_pat) ||
		    memcmp(v->data, echo_pat, sizeof(echo_pat)))
			return -EBADMSG;
		return 0;
	case WL_GETATTR:
		return v->fixed ? 0 : -EBADMSG;
	case WL_WRITE1M: {
		const struct rfs_write_rep *w1 = v->fixed;

		return w1 && w1->written == io ? 0 : -EIO;
	}
	default:
		if (v->data_len != io)
			return -EIO;
		memcpy(&w, v->data, sizeof(w));
		return w == off ? 0 : -EBADMSG;
	}
}

struct cell_run {
	uint64_t ops, errors;
	double secs;
	struct bench_lat lat;
};

/*
 * Keep qd requests of workload wl in flight until the deadline (or until
 * max_ops were issued), then drain.  lat: per-request latencies, or NULL.
 */
static int run_loop(struct rpc *r, int wl, unsigned qd, long long dur_ns,
		    uint64_t max_ops, struct cell_run *out, bool record)
{
	struct slot slots[BENCH_MAX_QD];
	uint64_t offs[BENCH_MAX_QD];
	uint64_t issued = 0;
	unsigned busy = 0;
	long long t_start = bench_now_ns(), end = t_start + dur_ns;
	bool stop = false;
	int err = 0;

	memset(slots, 0, sizeof(slots));
	memset(offs, 0, sizeof(offs));
	for (;;) {
		struct rfs_xev e;
		bool sent = false;

		/* fill idle slots */
		for (unsigned i = 0; i < qd && !stop; i++) {
			if (slots[i].busy)
				continue;
			err = issue(r, wl, &slots[i], ((++r->seq) << 8) | i,
				    &offs[i]);
			if (err == -ENOBUFS && busy) {
				err = 0; /* pool dry: after a reply */
				break;
			}
			if (err) {
				rfs_err("bench: sending %s: %s",
					bench_wls[wl].name, strerror(-err));
				goto out;
			}
			busy++;
			issued++;
			sent = true;
			if (max_ops && issued >= max_ops)
				stop = true;
		}
		if (sent) {
			err = rfs_xprt_flush(r->r.x);
			if (err) {
				rfs_err("bench: flush: %s", strerror(-err));
				goto out;
			}
		}
		if (!busy)
			break;
		err = rpc_next(r, &e, STALL_TIMEOUT_MS);
		if (err < 0) {
			if (err == -ETIMEDOUT)
				rfs_err("bench: %s qd %u: no reply for %d ms",
					bench_wls[wl].name, qd,
					STALL_TIMEOUT_MS);
			goto out;
		}
		err = 0;
		if (e.type == RFS_XEV_CONN_DOWN) {
			rfs_err("bench: connection down: %s",
				strerror(e.status ? -e.status : ECONNRESET));
			err = e.status ? e.status : -ECONNRESET;
			goto out;
		}
		if (e.type != RFS_XEV_RECV)
			continue;
		{
			long long now = bench_now_ns();
			const struct rfs_hdr *h = e.buf->data;
			unsigned i = (unsigned)(h->id & 0xff);
			struct rfs_rep_view v;

			if (i >= qd || !slots[i].busy || slots[i].id != h->id) {
				rfs_err("bench: reply for unknown request %llu",
					(unsigned long long)h->id);
				rfs_xprt_buf_put(r->r.x, e.buf);
				err = -EPROTO;
				goto out;
			}
			err = rep_check(r, e.buf, bench_wl_op(wl), h->id, &v);
			if (!err)
				err = check_data(r, wl, &v, offs[i]);
			rfs_xprt_buf_put(r->r.x, e.buf);
			if (err) {
				rfs_err("bench: %s: bad reply: %s",
					bench_wls[wl].name, strerror(-err));
				goto out;
			}
			slots[i].busy = false;
			busy--;
			out->ops++;
			if (record) {
				err = bench_lat_add(
					&out->lat,
					(uint64_t)(now - slots[i].t0));
				if (err)
					goto out;
			}
			if (!max_ops && now >= end)
				stop = true;
		}
	}
out:
	out->secs = (double)(bench_now_ns() - t_start) / 1e9;
	return err;
}

static int run_cell(const struct bench_opts *o, struct rpc *r,
		    struct bench_server *srv, struct bench_cell *c)
{
	struct bench_snap sa, sb, ca, cb;
	struct rfs_xprt_stats xa, xb;
	struct cell_run run, warm;
	struct bench_obs so;
	struct bench_obs_snap ha, hb;
	uint16_t op = bench_wl_op(c->wl);
	long long dur = (long long)(o->duration * 1e9);
	uint64_t wops;
	int err;

	/* warm-up: caches, buffer pools, TCP windows; not measured */
	memset(&warm, 0, sizeof(warm));
	wops = o->ops ? (o->ops / 10 > 0 ? o->ops / 10 : 1) : 0;
	err = run_loop(r, c->wl, c->qd,
		       dur / 10 < WARMUP_MAX_NS ? dur / 10 : WARMUP_MAX_NS,
		       wops, &warm, false);
	if (err)
		return err;

	memset(&run, 0, sizeof(run));
	/* the server's own histogram of the op (its counters file) */
	bench_obs_attach(&so, srv->proc.pid, true);
	bench_obs_snap(&so, op, &ha);
	err = bench_snap_proc(&srv->proc, &sa);
	if (err) {
		bench_obs_detach(&so);
		return err;
	}
	rfs_xprt_get_stats(r->r.x, &xa);
	err = bench_snap_self_begin(&ca);
	if (err)
		return err;
	err = run_loop(r, c->wl, c->qd, dur, o->ops, &run, true);
	if (!err)
		err = bench_snap_self_end(&cb);
	rfs_xprt_get_stats(r->r.x, &xb);
	if (!err)
		err = bench_snap_proc(&srv->proc, &sb);
	bench_obs_snap(&so, op, &hb);
	bench_obs_detach(&so);
	if (err)
		goto out;
	bench_obs_fill(&c->hist[SIDE_SERVER], op, &ha, &hb);

	c->ops = run.ops;
	c->secs = run.secs;
	c->ops_s = run.secs > 0 ? (double)run.ops / run.secs : 0;
	c->mb_s = c->ops_s * bench_wls[c->wl].bytes / 1e6;
	c->p50_us = bench_lat_pct_us(&run.lat, 50);
	c->p99_us = bench_lat_pct_us(&run.lat, 99);
	if (run.ops) {
		c->side[SIDE_CLIENT].copy_b =
			(double)(xb.copies_bytes - xa.copies_bytes) /
			(double)run.ops;
		c->side[SIDE_CLIENT].xprt_sys =
			(double)(xb.syscalls - xa.syscalls) / (double)run.ops;
	}
	bench_side_fill(&c->side[SIDE_CLIENT], &ca, &cb, run.ops, true);
	/* the server's STATS op has no copy counter: copy_b stays n/a */
	bench_side_fill(&c->side[SIDE_SERVER], &sa, &sb, run.ops, false);
out:
	bench_lat_free(&run.lat);
	return err;
}

int bench_rpc_run(const struct bench_opts *o, const char *xprt,
		  struct bench_server *srv, struct bench_results *res)
{
	struct rfs_xprt_params p;
	struct rfs_addr a;
	struct rpc r;
	const char *base = strncmp(xprt, "uring", 5) ? xprt : "uring";
	int err, ret = 0;

	memset(&r, 0, sizeof(r));
	rfs_rpc_init(&r.r);
	r.r.uid = (uint32_t)getuid();
	r.r.gid = (uint32_t)getgid();
	r.r.intr = &bench_interrupted;
	r.rng = 0x9e3779b97f4a7c15ull;
	rfs_xprt_params_default(&p);
	p.depth = BENCH_MAX_QD;
	p.sqpoll = !strcmp(xprt, "uring+sqpoll");
	err = rfs_addr_parse(srv->addr, 0, &a);
	if (err) {
		rfs_err("bench: server address %s: %s", srv->addr,
			strerror(-err));
		goto fail;
	}
	err = rfs_rpc_connect(&r.r, base, &p, &a, CALL_TIMEOUT_MS);
	if (err && r.r.step == RFS_RPC_OPEN) {
		rfs_err("bench: transport %s: %s", xprt, strerror(-err));
		goto fail;
	}
	if (err) {
		rfs_err("bench: connect %s over %s: %s", srv->addr, xprt,
			strerror(-err));
		goto fail_disc;
	}
	err = rpc_hello(&r, o->csum);
	if (!err)
		err = rpc_lookup_open(&r, BENCH_READ_FILE, &r.rnode, &r.rfh);
	if (!err)
		err = rpc_lookup_open(&r, BENCH_WRITE_FILE, &r.wnode, &r.wfh);
	if (err) {
		rfs_err("bench: session setup over %s: %s", xprt,
			strerror(-err));
		goto fail_disc;
	}

	for (int w = 0; w < WL_N; w++) {
		if (!o->wl_on[w])
			continue;
		for (unsigned q = 0; q < o->nqd; q++) {
			struct bench_cell *c =
				bench_cell_new(res, xprt, w, o->qd[q]);

			if (!c) {
				err = -ENOMEM;
				goto disc;
			}
			if (r.r.down || bench_interrupted) {
				snprintf(c->skip, sizeof(c->skip),
					 "failed: connection lost earlier");
				continue;
			}
			err = run_cell(o, &r, srv, c);
			if (err) {
				snprintf(c->skip, sizeof(c->skip), "failed: %s",
					 strerror(-err));
				ret = err;
				if (!r.r.down)
					break; /* the stream is unusable */
			}
		}
		if (ret && !r.r.down)
			break;
	}
disc:
	if (!err)
		err = ret;
	rfs_rpc_shutdown(&r.r, CALL_TIMEOUT_MS);
	return err;

fail_disc:
	rfs_rpc_shutdown(&r.r, CALL_TIMEOUT_MS);
fail : {
	char why[160];

	snprintf(why, sizeof(why), "failed: %s", strerror(-err));
	for (int w = 0; w < WL_N; w++) {
		if (!o->wl_on[w])
			continue;
		for (unsigned q = 0; q < o->nqd; q++) {
			struct bench_cell *c =
				bench_cell_new(res, xprt, w, o->qd[q]);

			if (c)
				snprintf(c->skip, sizeof(c->skip), "%s", why);
		}
	}
}
	return err;
}
