// SPDX-License-Identifier: MIT
/*
 * rpc: a synchronous connection to a ringfsd (see rpc.h).  One copy for
 * the client's handshake, ringfsctl and ringfs-bench.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "auth.h"
#include "rpc.h"
#include "spin.h"

void rfs_rpc_init(struct rfs_rpc *r)
{
	memset(r, 0, sizeof(*r));
	r->next_id = 1;
}

void rfs_rpc_wrap(struct rfs_rpc *r, struct rfs_xprt *x, struct rfs_conn *c)
{
	rfs_rpc_init(r);
	r->x = x;
	r->c = c;
}

int rfs_rpc_connect(struct rfs_rpc *r, const char *name,
		    const struct rfs_xprt_params *p, const struct rfs_addr *a,
		    int timeout_ms)
{
	int ret;

	ret = rfs_xprt_open(name, p, &r->x);
	if (ret < 0) {
		r->x = NULL;
		r->step = RFS_RPC_OPEN;
		return ret;
	}
	/* TLS (-o tls) on the byte streams over TCP; a Unix socket, and
	   shm behind it, stay on this host */
	if (rfs_cl_tls() && (rfs_xprt_flags(r->x) & RFS_XPRT_F_STREAM) &&
	    (a->ss.ss_family == AF_INET || a->ss.ss_family == AF_INET6))
		ret = rfs_xprt_connect_tls(r->x, a, timeout_ms, rfs_cl_tls(),
					   &r->c);
	else
		ret = rfs_xprt_connect(r->x, a, timeout_ms, &r->c);
	if (ret < 0) {
		r->c = NULL;
		r->step = RFS_RPC_CONNECT;
	}
	return ret;
}

int rfs_rpc_next(struct rfs_rpc *r, long long deadline_ns, struct rfs_xev *e)
{
	for (;;) {
		struct pollfd pfd;
		struct timespec ts;
		long long left;
		int rc;

		while (r->iev < r->nev) {
			*e = r->ev[r->iev++];
			if (e->type == RFS_XEV_SEND) {
				/* only with RFS_SEND_NOTIFY, which we do not
				   use; give it back all the same */
				rfs_xprt_buf_put(r->x, e->buf);
				continue;
			}
			if (e->type == RFS_XEV_CONN_DOWN && e->conn == r->c &&
			    r->c) {
				r->down = true;
				r->down_status = e->status;
				rfs_xprt_conn_free(r->c);
				r->c = NULL;
				e->conn = NULL;
			}
			return 1;
		}
		if (r->intr && *r->intr)
			return -EINTR;
		rc = rfs_xprt_poll(r->x, r->ev, RFS_RPC_NEV);
		if (rc < 0)
			return rc;
		r->nev = rc;
		r->iev = 0;
		if (rc > 0)
			continue;
		rc = rfs_xprt_arm(r->x);
		if (rc < 0)
			return rc;
		if (rc > 0)
			continue;
		left = deadline_ns - rfs_now_ns();
		if (left <= 0)
			return 0;
		ts.tv_sec = (time_t)(left / 1000000000LL);
		ts.tv_nsec = (long)(left % 1000000000LL);
		pfd.fd = rfs_xprt_wait_fd(r->x);
		pfd.events = POLLIN;
		pfd.revents = 0;
		r->sleeps++;
		rc = ppoll(&pfd, 1, &ts, r->sigmask);
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

struct rfs_buf *rfs_rpc_req(struct rfs_rpc *r, struct rfs_mb *mb, uint16_t op,
			    uint32_t size)
{
	struct rfs_buf *b = rfs_xprt_buf_get(r->x, size);

	if (!b)
		return NULL;
	rfs_mb_init(mb, b->data, b->cap, op, r->next_id++);
	rfs_mb_hdr(mb)->uid = r->uid;
	rfs_mb_hdr(mb)->gid = r->gid;
	rfs_mb_hdr(mb)->pid = r->pid;
	return b;
}

int rfs_rpc_send_frame(struct rfs_rpc *r, struct rfs_buf *b)
{
	int err;

	if (!r->c) {
		rfs_xprt_buf_put(r->x, b);
		return r->down_status ? r->down_status : -ENOTCONN;
	}
	err = rfs_xprt_send(r->c, b, 0); /* owns b, even on error */
	if (err)
		return err;
	return rfs_xprt_flush(r->x);
}

int rfs_rpc_send(struct rfs_rpc *r, struct rfs_buf *b, struct rfs_mb *mb)
{
	int len = rfs_mb_finish(mb, r->csum);

	if (len < 0) {
		rfs_xprt_buf_put(r->x, b);
		return len;
	}
	b->len = (uint32_t)len;
	return rfs_rpc_send_frame(r, b);
}

int rfs_rpc_wait(struct rfs_rpc *r, uint64_t id, int timeout_ms,
		 struct rfs_buf **out)
{
	long long deadline = rfs_now_ns() + timeout_ms * 1000000LL;
	struct rfs_xev e;
	int rc;

	*out = NULL;
	for (;;) {
		rc = rfs_rpc_next(r, deadline, &e);
		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0)
			return rc;
		if (e.type == RFS_XEV_CONN_DOWN)
			return e.status ? e.status : -ECONNRESET;
		if (e.type != RFS_XEV_RECV)
			continue;
		if (((const struct rfs_hdr *)e.buf->data)->id == id) {
			*out = e.buf;
			return 0;
		}
		rfs_xprt_buf_put(r->x, e.buf);
	}
}

int rfs_rpc_call_frame(struct rfs_rpc *r, struct rfs_buf *b, uint64_t id,
		       int timeout_ms, struct rfs_buf **out)
{
	int err = rfs_rpc_send_frame(r, b);

	*out = NULL;
	if (err)
		return err;
	return rfs_rpc_wait(r, id, timeout_ms, out);
}

int rfs_rpc_call(struct rfs_rpc *r, struct rfs_buf *b, struct rfs_mb *mb,
		 int timeout_ms, struct rfs_buf **out)
{
	uint64_t id = rfs_mb_hdr(mb)->id;
	int err = rfs_rpc_send(r, b, mb);

	*out = NULL;
	if (err)
		return err;
	return rfs_rpc_wait(r, id, timeout_ms, out);
}

int rfs_rpc_check_reply(const struct rfs_rpc *r, const struct rfs_buf *b,
			uint16_t op, uint64_t id, struct rfs_rep_view *v,
			const char **why)
{
	const struct rfs_hdr *h = b->data;
	const uint8_t *payload = (const uint8_t *)b->data + RFS_HDR_SIZE;

	*why = NULL;
	if (b->len < RFS_HDR_SIZE || b->len != RFS_HDR_SIZE + h->len ||
	    !(h->flags & RFS_HF_REPLY) || h->opcode != op || h->id != id) {
		*why = "a frame that is not the reply to our request";
		return -EPROTO;
	}
	if (rfs_proto_verify(h, payload, r->csum)) {
		*why = "a reply with a bad or missing checksum";
		return -EBADMSG;
	}
	if (h->status)
		return h->status;
	if (rfs_proto_decode_rep(h, payload, op, v)) {
		*why = "a malformed reply";
		return -EPROTO;
	}
	return 0;
}

int rfs_rpc_auth(struct rfs_rpc *r, const char *export, bool csum,
		 int timeout_ms, uint8_t token[RFS_AUTH_TOKEN_LEN])
{
	struct rfs_buf *b, *rb = NULL;
	struct rfs_cl_auth a;
	int ret = 0;

	r->step = RFS_RPC_BUILD;
	for (int step = 1; step <= 2; step++) {
		uint64_t id = r->next_id++;
		const struct rfs_hdr *h;

		b = rfs_xprt_buf_get(r->x, 512);
		if (!b) {
			ret = -ENOMEM;
			break;
		}
		if (step == 1)
			ret = rfs_cl_auth_challenge(&a, b->data, b->cap, id,
						    export, csum);
		else
			ret = rfs_cl_auth_prove(&a, rb->data, b->data, b->cap,
						id, csum);
		if (rb)
			rfs_xprt_buf_put(r->x, rb);
		rb = NULL;
		if (ret < 0) {
			rfs_xprt_buf_put(r->x, b);
			r->step = step == 1 ? RFS_RPC_BUILD : RFS_RPC_REPLY;
			break;
		}
		b->len = (uint32_t)ret;
		ret = rfs_rpc_call_frame(r, b, id, timeout_ms, &rb);
		if (ret < 0) {
			r->step = RFS_RPC_CALL;
			break;
		}
		h = rb->data;
		if (!(h->flags & RFS_HF_REPLY) || h->opcode != RFS_OP_AUTH) {
			rfs_xprt_buf_put(r->x, rb);
			rb = NULL;
			ret = -EPROTO;
			r->step = RFS_RPC_REPLY;
			break;
		}
	}
	if (rb) {
		ret = rfs_cl_auth_finish(&a, rb->data, token);
		rfs_xprt_buf_put(r->x, rb);
		r->step = RFS_RPC_REPLY;
	}
	rfs_auth_wipe(&a, sizeof(a));
	return ret;
}

int rfs_rpc_hello(struct rfs_rpc *r, const struct rfs_rpc_hello *h,
		  struct rfs_buf **rb, struct rfs_rep_view *v, const char **why)
{
	size_t elen = strlen(h->export);
	const struct rfs_hello_rep *hr;
	struct rfs_hello_req *q;
	struct rfs_buf *b;
	struct rfs_mb mb;
	uint64_t id;
	int ret;

	*rb = NULL;
	*why = NULL;
	b = rfs_rpc_req(r, &mb, RFS_OP_HELLO, 512);
	if (!b) {
		r->step = RFS_RPC_BUILD;
		return -ENOMEM;
	}
	id = rfs_mb_hdr(&mb)->id;
	q = rfs_mb_put(&mb, sizeof(*q));
	if (q) {
		q->features = (h->csum ? RFS_FEAT_CSUM : 0) | RFS_FEAT_IDS |
			      (h->groups ? RFS_FEAT_GROUPS : 0) |
			      (h->resume ? RFS_FEAT_RESUME : 0) |
			      (h->notify ? RFS_FEAT_NOTIFY : 0) |
			      (h->passfd ? RFS_FEAT_PASSFD : 0);
		q->max_msg = RFS_MSG_MAX_DEFAULT;
		q->export_len = (uint16_t)elen;
		q->max_inflight = h->max_inflight;
	}
	rfs_mb_put_bytes(&mb, h->export, (uint32_t)elen);
	/* nothing negotiated yet: HELLO is sealed as asked */
	r->csum = h->csum;
	ret = rfs_rpc_call(r, b, &mb, h->timeout_ms, rb);
	if (ret < 0) {
		r->csum = false;
		r->step = RFS_RPC_CALL;
		return ret;
	}
	/* a refusal comes before checksums are on: checked if present */
	r->csum = false;
	ret = rfs_rpc_check_reply(r, *rb, RFS_OP_HELLO, id, v, why);
	if (ret < 0) {
		rfs_xprt_buf_put(r->x, *rb);
		*rb = NULL;
		r->step = RFS_RPC_REPLY;
		return ret;
	}
	hr = v->fixed;
	r->csum = hr->features & RFS_FEAT_CSUM;
	r->max_msg = hr->max_msg;
	return 0;
}

void rfs_rpc_drain(struct rfs_rpc *r)
{
	while (r->iev < r->nev) {
		struct rfs_xev *e = &r->ev[r->iev++];

		if (e->type == RFS_XEV_RECV || e->type == RFS_XEV_SEND) {
			rfs_xprt_buf_put(r->x, e->buf);
		} else if (e->type == RFS_XEV_CONN_DOWN && e->conn == r->c &&
			   r->c) {
			rfs_xprt_conn_free(r->c);
			r->c = NULL;
			r->down = true;
			r->down_status = e->status;
		}
	}
	r->nev = 0;
	r->iev = 0;
}

void rfs_rpc_shutdown(struct rfs_rpc *r, int wait_ms)
{
	volatile sig_atomic_t *intr = r->intr;

	if (!r->x)
		return;
	r->intr = NULL;
	if (r->c && !r->down) {
		long long deadline = rfs_now_ns() + wait_ms * 1000000LL;
		struct rfs_xev e;

		rfs_xprt_flush(r->x);
		rfs_xprt_disconnect(r->c);
		while (!r->down && rfs_rpc_next(r, deadline, &e) == 1)
			if (e.type == RFS_XEV_RECV)
				rfs_xprt_buf_put(r->x, e.buf);
	}
	rfs_rpc_drain(r);
	/* without CONN_DOWN, rfs_xprt_close cancels and frees the conn */
	rfs_xprt_close(r->x);
	r->x = NULL;
	r->c = NULL;
	r->intr = intr;
}

void rfs_rpc_close(struct rfs_rpc *r, int wait_ms)
{
	volatile sig_atomic_t *intr = r->intr;

	if (!r->x)
		return;
	r->intr = NULL;
	if (r->c && !r->down && r->max_msg) {
		struct rfs_buf *b, *rb;
		struct rfs_mb mb;

		b = rfs_rpc_req(r, &mb, RFS_OP_BYE, 64);
		if (b && rfs_rpc_call(r, b, &mb, wait_ms, &rb) == 0)
			rfs_xprt_buf_put(r->x, rb);
	}
	/*
	 * Orderly close only after a session: a server that just said BYE
	 * closes at once.  A failed setup may face a peer that never
	 * answers: rfs_xprt_close just drops the connection.
	 */
	if (!r->max_msg) {
		rfs_rpc_drain(r);
		rfs_xprt_close(r->x);
		r->x = NULL;
		r->c = NULL;
	} else {
		rfs_rpc_shutdown(r, wait_ms);
	}
	r->intr = intr;
}
