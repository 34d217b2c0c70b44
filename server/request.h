/* SPDX-License-Identifier: MIT */
/*
 * The request pipeline (request.c): one received frame from "as received"
 * to "answered", the same code for the connection thread (inline), the
 * exec thread (split mode, exec.c) and the session fuzzer
 * (tests/fuzz/fuzz_session.c).
 *
 * A request is an explicit state advanced by rfs_request_process (SPDK
 * nvmf's request states are the model): each state names what has been
 * established about the request, and one step moves it on.
 *
 *   NEW -> VERIFIED -> DECODED -> EXECUTE -> SEND -> DONE -> FINISHED
 *
 * with two ways out: ERROR (answer with a status instead; from VERIFIED,
 * DECODED or EXECUTE, then SEND) and CLOSE (no answer possible: the
 * connection closes; then FINISHED).  DECODED goes straight to SEND with
 * a reply from the duplicate-request cache; EXECUTE straight to DONE
 * when a worker answers later or the op has no reply.
 *
 * The caller owns the transport; the pipeline reaches it only through
 * struct rfs_req_io (a reply buffer, send it, close the connection), so
 * the exec thread can record instead of act and the fuzzer can observe.
 */
#ifndef RFS_REQUEST_H
#define RFS_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "server.h"

enum rfs_rq_state {
	RFS_RQ_NEW,	 /* as received: nothing checked yet */
	RFS_RQ_VERIFIED, /* frame shape and checksum good */
	RFS_RQ_DECODED,	 /* version, session gate and payload good */
	RFS_RQ_EXECUTE,	 /* not a duplicate: run the handler */
	RFS_RQ_ERROR,	 /* answer with rq->err */
	RFS_RQ_SEND,	 /* rq->out holds the reply (rq->len bytes) */
	RFS_RQ_DONE,	 /* answered, or nothing to answer */
	RFS_RQ_CLOSE,	 /* unanswerable: the connection closes */
	RFS_RQ_FINISHED, /* terminal */
};

/*
 * What the pipeline does to the connection, supplied by its caller; arg
 * is the caller's (the exec thread's job, the fuzzer's state).
 */
struct rfs_req_io {
	/* a reply buffer of at least size bytes, or NULL */
	struct rfs_buf *(*buf_get)(struct rfs_conn_ctx *cc, void *arg,
				   uint32_t size);
	/* give back a buffer that buf_get lent and send did not take */
	void (*buf_put)(struct rfs_conn_ctx *cc, void *arg, struct rfs_buf *b);
	/* send len bytes of b (takes b) */
	void (*send)(struct rfs_conn_ctx *cc, void *arg, struct rfs_buf *b,
		     uint32_t len);
	/* close the connection after what was sent */
	void (*close)(struct rfs_conn_ctx *cc, void *arg);
	/*
	 * The pipeline runs on the connection thread, which owns
	 * cc->closing: a request that arrives while the connection closes
	 * is dropped.  (The exec thread must not read cc->closing; the
	 * connection thread checked it before queueing.)
	 */
	bool conn_thread;
};

struct rfs_request {
	enum rfs_rq_state state;
	struct rfs_conn_ctx *cc;
	const struct rfs_req_io *io;
	void *io_arg;
	struct rfs_buf *in;  /* the caller's: not freed here */
	struct rfs_buf *out; /* reply buffer, from io->buf_get */
	uint32_t len;	     /* reply bytes in out (SEND) */
	int err;	     /* ERROR: the status to answer */
	bool csum;	     /* seal the reply with a checksum */
	bool drc_reserved;   /* the DRC waits for this reply */
	bool cached;	     /* answered from the DRC, not run */
	struct rfs_req r;    /* what the op handlers see */
};

void rfs_request_init(struct rfs_request *rq, struct rfs_conn_ctx *cc,
		      struct rfs_buf *in, const struct rfs_req_io *io,
		      void *io_arg);
/* Advance rq until it is FINISHED (every request finishes in one call). */
void rfs_request_process(struct rfs_request *rq);
/* init + process: run one received frame through the pipeline */
void rfs_request_run(struct rfs_conn_ctx *cc, struct rfs_buf *in,
		     const struct rfs_req_io *io, void *io_arg);
/*
 * The reply buffer a decoded request needs (header included), at most
 * max: a READ needs its length, most others a few hundred bytes.
 */
uint32_t rfs_request_reply_cap(const struct rfs_hdr *h,
			       const struct rfs_req_view *v, uint32_t max);

#endif /* RFS_REQUEST_H */
