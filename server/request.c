// SPDX-License-Identifier: MIT
/*
 * The request pipeline: verify -> decode -> duplicate-request cache ->
 * dispatch -> reply, as an explicit per-request state (request.h).  Each
 * step_* function does one stage and returns the next state; the
 * connection loop (conn.c), the exec thread (exec.c) and the session
 * fuzzer all run a frame through rfs_request_run, so what the fuzzer
 * finds is in the server.
 *
 * A malformed frame, or one we cannot answer, closes that connection
 * only (RFS_RQ_CLOSE); a request the server refuses is answered with an
 * error (RFS_RQ_ERROR).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aio.h"
#include "log.h"
#include "obs.h"
#include "request.h"

/* ---- per-opcode facts the pipeline needs -------------------------------- */

/* ---- the steps ----------------------------------------------------------- */

static const char *desc(const struct rfs_request *rq)
{
	return rfs_conn_desc(rq->cc->c);
}

static unsigned long long rq_id(const struct rfs_request *rq)
{
	return (unsigned long long)rq->r.h->id;
}

static const uint8_t *rq_payload(const struct rfs_request *rq)
{
	return (const uint8_t *)rq->in->data + RFS_HDR_SIZE;
}

/* NEW: the frame's shape and checksum */
static enum rfs_rq_state step_new(struct rfs_request *rq)
{
	const struct rfs_hdr *h = rq->r.h;
	const struct rfs_buf *in = rq->in;

	atomic_fetch_add(&rfs_stats.requests, 1);
	atomic_fetch_add(&rfs_stats.bytes_in, in->len);
	if (rq->io->conn_thread && rq->cc->closing)
		return RFS_RQ_FINISHED;
	if (in->len < RFS_HDR_SIZE || h->len != in->len - RFS_HDR_SIZE ||
	    (h->flags & (RFS_HF_REPLY | RFS_HF_NOTIFY))) {
		rfs_err_rl("server: %s: malformed frame (request %llu): "
			   "closing",
			   desc(rq), rq_id(rq));
		return RFS_RQ_CLOSE;
	}
	if (rfs_proto_verify(h, rq_payload(rq), rq->csum)) {
		/* one writer of this word: the thread that verifies (the
		   connection's, or its exec thread in split mode) */
		rfs_obs_add(rq->cc->obs, RFS_OBS_csum_failures, 1);
		rfs_err_rl("server: %s: request %llu: bad or missing "
			   "checksum: closing",
			   desc(rq), rq_id(rq));
		return RFS_RQ_CLOSE;
	}
	return RFS_RQ_VERIFIED;
}

/* VERIFIED: the protocol version, the session gate, the payload */
static enum rfs_rq_state step_verified(struct rfs_request *rq)
{
	struct rfs_conn_ctx *cc = rq->cc;
	const struct rfs_hdr *h = rq->r.h;
	int ret;

	if (cc->sess)
		rq->r.exp = cc->sess->exp;
	if (h->major != RFS_PROTO_MAJOR) {
		rq->err = -EPROTONOSUPPORT;
		rq->r.close_after = true;
		return RFS_RQ_ERROR;
	}
	if (!cc->sess && !rfs_op_is(h->opcode, RFS_OPF_PRESESSION)) {
		rfs_err_rl("server: %s: request %llu: %s before HELLO: "
			   "closing",
			   desc(rq), rq_id(rq), rfs_proto_op_name(h->opcode));
		rq->err = -EACCES;
		rq->r.close_after = true;
		return RFS_RQ_ERROR;
	}
	ret = rfs_proto_decode_req(h, rq_payload(rq), &rq->r.v);
	if (ret == -EINVAL || ret == -ENAMETOOLONG) {
		rfs_dbg(RFS_SUB_SERVER, "server: %s: request %llu: bad name",
			desc(rq), rq_id(rq));
		rq->err = ret;
		return RFS_RQ_ERROR;
	}
	if (ret) {
		rfs_err_rl("server: %s: request %llu (%s): malformed "
			   "payload: %s: closing",
			   desc(rq), rq_id(rq), rfs_proto_op_name(h->opcode),
			   strerror(-ret));
		return RFS_RQ_CLOSE;
	}
	return RFS_RQ_DECODED;
}

/*
 * DECODED: the duplicate-request cache (drc.c).  A replayed
 * non-idempotent request that already ran gets its stored reply and does
 * not run again; one that runs reserves its entry (drc_reserved) until
 * its reply is stored in SEND (or nothing is, in CLOSE).  After a server
 * restart (xlog.h) a replay may instead run in settle mode (it died
 * mid-run: its handler finds out whether it ran) or redo a CREATE.
 */
static enum rfs_rq_state step_decoded(struct rfs_request *rq)
{
	struct rfs_session *s = rq->cc->sess;
	const struct rfs_hdr *h = rq->r.h;
	struct rfs_drc_hit hit;
	int ret;

	if (s && rfs_op_is(h->opcode, RFS_OPF_ENDS_SESSION))
		rfs_session_bye(s);
	if (!s || !rfs_drc_wanted(h->opcode))
		return RFS_RQ_EXECUTE;
	rq->r.persist = s->xlog && rfs_op_is(h->opcode, RFS_OPF_PERSIST);
	ret = rfs_drc_begin(s->drc, h->id, h->opcode, h->flags & RFS_HF_REPLAY,
			    &hit);
	if (ret < 0) {
		rfs_err_rl("server: %s: replayed request %llu (%s) %s: "
			   "not run twice",
			   desc(rq), rq_id(rq), rfs_proto_op_name(h->opcode),
			   ret == -EAGAIN ? "still running" :
					    "cannot be checked (no memory)");
		rq->err = -EIO;
		return RFS_RQ_ERROR;
	}
	if (ret != RFS_DRC_CACHED) {
		rq->drc_reserved = true;
		rq->r.settle = hit.pre;
		rq->r.stored = hit.frame;
		rq->r.stored_len = hit.len;
		if (ret != RFS_DRC_RUN)
			rfs_dbg(RFS_SUB_SERVER,
				"server: %s: replayed request %llu (%s) of a "
				"previous server: %s",
				desc(rq), rq_id(rq),
				rfs_proto_op_name(h->opcode),
				ret == RFS_DRC_SETTLE ?
					"it died mid-run: did it run?" :
					"it ran: opening its file again");
		return RFS_RQ_EXECUTE;
	}
	rfs_dbg(RFS_SUB_SERVER,
		"server: %s: replayed request %llu (%s): "
		"answered from the duplicate-request cache%s",
		desc(rq), rq_id(rq), rfs_proto_op_name(h->opcode),
		hit.inherited ? " (kept across a restart)" : "");
	rq->cached = true;
	rq->out = rq->io->buf_get(rq->cc, rq->io_arg, hit.len);
	if (rq->out) {
		memcpy(rq->out->data, hit.frame, hit.len);
		rq->len = hit.len;
		/* sealed by the old server: as this session agreed */
		if (hit.inherited)
			rfs_proto_seal(rq->out->data, rq->csum);
	}
	free(hit.frame);
	return rq->out ? RFS_RQ_SEND : RFS_RQ_DONE;
}

uint32_t rfs_request_reply_cap(const struct rfs_hdr *h,
			       const struct rfs_req_view *v, uint32_t max)
{
	uint32_t cap = RFS_HDR_SIZE + rfs_reply_size(h, v);

	return cap > max ? max : cap;
}

/* EXECUTE: the op handler, building its reply in a transport buffer */
static enum rfs_rq_state step_execute(struct rfs_request *rq)
{
	struct rfs_req *r = &rq->r;
	const struct rfs_hdr *h = r->h;
	uint32_t cap = rfs_request_reply_cap(h, &r->v, rq->cc->max_msg);
	int ret;

	rq->out = rq->io->buf_get(rq->cc, rq->io_arg, cap);
	if (!rq->out) {
		rfs_err_rl("server: %s: request %llu: no reply buffer: "
			   "closing",
			   desc(rq), rq_id(rq));
		return RFS_RQ_CLOSE;
	}
	rfs_mb_reply(&r->mb, rq->out->data, rq->out->cap, h, 0);
	ret = rfs_dispatch(r);
	for (unsigned i = 0; i < r->nnodes; i++)
		rfs_node_put(r->nodes[i]);
	if (r->async || rfs_op_is(h->opcode, RFS_OPF_NO_REPLY)) {
		rq->io->buf_put(rq->cc, rq->io_arg, rq->out);
		rq->out = NULL;
		return RFS_RQ_DONE;
	}
	if (r->csum_reply)
		rq->csum = true;
	if (r->aio) {
		/* a queued read: aio.c answers when it completes */
		rfs_aio_adopt(r, rq->csum);
		rq->io->buf_put(rq->cc, rq->io_arg, rq->out);
		rq->out = NULL;
		return RFS_RQ_DONE;
	}
	if (ret < 0) {
		rq->err = ret;
		return RFS_RQ_ERROR;
	}
	ret = rfs_mb_finish(&r->mb, rq->csum);
	if (ret < 0) {
		rfs_err_rl("server: %s: request %llu: reply does not fit: "
			   "%s",
			   desc(rq), rq_id(rq), strerror(-ret));
		rq->err = -EIO;
		return RFS_RQ_ERROR;
	}
	rq->len = (uint32_t)ret;
	return RFS_RQ_SEND;
}

/* ERROR: a header-only reply with rq->err (the handler's buffer reused) */
static enum rfs_rq_state step_error(struct rfs_request *rq)
{
	struct rfs_mb *mb = &rq->r.mb;
	int ret;

	atomic_fetch_add(&rfs_stats.errors, 1);
	if (!rq->out) {
		rq->out = rq->io->buf_get(rq->cc, rq->io_arg, RFS_HDR_SIZE + 8);
		if (!rq->out) {
			rfs_err_rl("server: %s: no reply buffer: closing",
				   desc(rq));
			return RFS_RQ_CLOSE;
		}
	}
	rfs_mb_reply(mb, rq->out->data, rq->out->cap, rq->r.h, rq->err);
	if (rq->err == -EPROTONOSUPPORT) {
		/* the version we speak, so the client can say what to do */
		rfs_mb_hdr(mb)->major = RFS_PROTO_MAJOR;
		rfs_mb_hdr(mb)->minor = RFS_PROTO_MINOR;
	}
	if (rq->err == -ESTALE && rq->r.unknown) {
		struct rfs_unknown_node *u = rfs_mb_put(mb, sizeof(*u));

		rfs_mb_hdr(mb)->flags |= RFS_HF_UNKNOWN_NODE;
		if (u)
			u->nodeid = rq->r.unknown;
	}
	ret = rfs_mb_finish(mb, rq->csum);
	if (ret < 0) {
		rq->io->buf_put(rq->cc, rq->io_arg, rq->out);
		rq->out = NULL;
		return RFS_RQ_CLOSE;
	}
	rq->len = (uint32_t)ret;
	return RFS_RQ_SEND;
}

static void drc_store(struct rfs_request *rq, const void *frame, uint32_t len)
{
	struct rfs_session *s = rq->cc->sess;
	const struct rfs_hdr *h = rq->r.h;
	bool persist = rq->r.persist && frame;

	if (!rq->drc_reserved)
		return;
	rq->drc_reserved = false;
	if (frame && rq->r.xonce)
		rfs_xonce_hook(h->opcode, "result");
	rfs_drc_end(s->drc, h->id, frame, len, persist, s->id);
	if (persist)
		rfs_xlog_result(s, h->id, h->opcode, frame, len);
	if (frame && rq->r.xonce)
		rfs_xonce_hook(h->opcode, "reply");
}

/*
 * SEND: store the reply for replays if the DRC wants it (and in the reply
 * log, before it leaves, if the request is kept across a restart), then
 * send it
 */
static enum rfs_rq_state step_send(struct rfs_request *rq)
{
	drc_store(rq, rq->out->data, rq->len);
	rq->io->send(rq->cc, rq->io_arg, rq->out, rq->len);
	rq->out = NULL;
	return RFS_RQ_DONE;
}

static enum rfs_rq_state step_done(struct rfs_request *rq)
{
	if (rq->r.close_after)
		rq->io->close(rq->cc, rq->io_arg);
	return RFS_RQ_FINISHED;
}

static enum rfs_rq_state step_close(struct rfs_request *rq)
{
	/* a replay of this request must run it again */
	drc_store(rq, NULL, 0);
	atomic_fetch_add(&rfs_stats.errors, 1);
	rq->io->close(rq->cc, rq->io_arg);
	return RFS_RQ_FINISHED;
}

/* ---- the state machine --------------------------------------------------- */

void rfs_request_init(struct rfs_request *rq, struct rfs_conn_ctx *cc,
		      struct rfs_buf *in, const struct rfs_req_io *io,
		      void *io_arg)
{
	*rq = (struct rfs_request){
		.state = RFS_RQ_NEW,
		.cc = cc,
		.io = io,
		.io_arg = io_arg,
		.in = in,
		/* before dispatch: HELLO's own reply is sealed as agreed
		   before it (r.csum_reply overrides) */
		.csum = cc->sess ? cc->sess->csum : false,
		.r = { .cc = cc, .sess = cc->sess, .h = in->data },
	};
}

void rfs_request_process(struct rfs_request *rq)
{
	while (rq->state != RFS_RQ_FINISHED) {
		switch (rq->state) {
		case RFS_RQ_NEW:
			rq->state = step_new(rq);
			break;
		case RFS_RQ_VERIFIED:
			rq->state = step_verified(rq);
			break;
		case RFS_RQ_DECODED:
			rq->state = step_decoded(rq);
			break;
		case RFS_RQ_EXECUTE:
			rq->state = step_execute(rq);
			break;
		case RFS_RQ_ERROR:
			rq->state = step_error(rq);
			break;
		case RFS_RQ_SEND:
			rq->state = step_send(rq);
			break;
		case RFS_RQ_DONE:
			rq->state = step_done(rq);
			break;
		case RFS_RQ_CLOSE:
			rq->state = step_close(rq);
			break;
		case RFS_RQ_FINISHED:
			break;
		}
	}
	free(rq->r.settle);
	free((void *)rq->r.stored);
	rq->r.settle = NULL;
	rq->r.stored = NULL;
}

void rfs_request_run(struct rfs_conn_ctx *cc, struct rfs_buf *in,
		     const struct rfs_req_io *io, void *io_arg)
{
	struct rfs_request rq;

	rfs_request_init(&rq, cc, in, io, io_arg);
	rfs_request_process(&rq);
}
