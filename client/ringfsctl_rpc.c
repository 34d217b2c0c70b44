// SPDX-License-Identifier: MIT
/*
 * ringfsctl_rpc: one connection to a ringfsd, driven synchronously from
 * the calling thread through the transport API (common/xprt.h): connect
 * on the kernel path, AUTH (client/auth.c) when a key file is given,
 * HELLO on the export (the server answers nothing else before it), then
 * requests and replies, then BYE.  Sleeps happen only in ppoll(2) on the
 * transport's wait fd, always with a deadline, so a dead or silent server
 * gives an error, never a hang.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "spin.h"
#include "auth.h"
#include "ringfsctl_i.h"

volatile sig_atomic_t ctl_interrupted;

static sigset_t wait_mask;	/* the mask ppoll sleeps with */
static bool signals_caught;

void ctl_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, CTL_PROG ": %s\n", msg);
}

long long ctl_now_ns(void)
{
	return rfs_now_ns();
}

static void on_signal(int sig)
{
	(void)sig;
	ctl_interrupted = 1;
}

/*
 * SIGINT and SIGTERM stay blocked except inside ppoll, so that a signal
 * arriving between the check of ctl_interrupted and the sleep cannot be
 * lost (the sleep would then last until its deadline).
 */
int ctl_catch_signals(void)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	if (sigemptyset(&sa.sa_mask) || sigemptyset(&block) ||
	    sigaddset(&block, SIGINT) || sigaddset(&block, SIGTERM))
		return -EINVAL;
	if (sigprocmask(SIG_BLOCK, &block, &wait_mask) < 0)
		return -errno;
	if (sigdelset(&wait_mask, SIGINT) || sigdelset(&wait_mask, SIGTERM))
		return -EINVAL;
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0)
		return -errno;
	signals_caught = true;
	return 0;
}

const char *ctl_down_str(int st)
{
	if (st == 0)
		return "closed by the server";
	return strerror(-st);
}

int ctl_next(struct ctl_conn *cc, long long deadline_ns, struct rfs_xev *e)
{
	for (;;) {
		struct pollfd pfd;
		struct timespec ts;
		long long left;
		int rc;

		while (cc->iev < cc->nev) {
			*e = cc->ev[cc->iev++];
			if (e->type == RFS_XEV_SEND) {
				/* only with RFS_SEND_NOTIFY, which we do not
				   use; give it back all the same */
				rfs_xprt_buf_put(cc->x, e->buf);
				continue;
			}
			if (e->type == RFS_XEV_CONN_DOWN && e->conn == cc->c) {
				cc->down = true;
				cc->down_status = e->status;
				rfs_xprt_conn_free(cc->c);
				cc->c = NULL;
				e->conn = NULL;
			}
			return 1;
		}
		if (ctl_interrupted)
			return -EINTR;
		rc = rfs_xprt_poll(cc->x, cc->ev, CTL_NEV);
		if (rc < 0)
			return rc;
		cc->nev = rc;
		cc->iev = 0;
		if (rc > 0)
			continue;
		rc = rfs_xprt_arm(cc->x);
		if (rc < 0)
			return rc;
		if (rc > 0)
			continue;
		left = deadline_ns - ctl_now_ns();
		if (left <= 0)
			return 0;
		ts.tv_sec = (time_t)(left / 1000000000LL);
		ts.tv_nsec = (long)(left % 1000000000LL);
		pfd.fd = rfs_xprt_wait_fd(cc->x);
		pfd.events = POLLIN;
		pfd.revents = 0;
		cc->sleeps++;
		rc = ppoll(&pfd, 1, &ts, signals_caught ? &wait_mask : NULL);
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

struct rfs_buf *ctl_req(struct ctl_conn *cc, struct rfs_mb *mb, uint16_t op,
			uint32_t size)
{
	struct rfs_buf *b = rfs_xprt_buf_get(cc->x, size);

	if (!b)
		return NULL;
	rfs_mb_init(mb, b->data, b->cap, op, cc->next_id++);
	rfs_mb_hdr(mb)->uid = (uint32_t)getuid();
	rfs_mb_hdr(mb)->gid = (uint32_t)getgid();
	rfs_mb_hdr(mb)->pid = (uint32_t)getpid();
	return b;
}

/* send a finished frame (b->len set) and push it to the kernel */
static int send_raw(struct ctl_conn *cc, struct rfs_buf *b)
{
	int err;

	if (!cc->c) {
		rfs_xprt_buf_put(cc->x, b);
		return cc->down_status ? cc->down_status : -ENOTCONN;
	}
	err = rfs_xprt_send(cc->c, b, 0);	/* owns b, even on error */
	if (err)
		return err;
	return rfs_xprt_flush(cc->x);
}

int ctl_send(struct ctl_conn *cc, struct rfs_buf *b, struct rfs_mb *mb)
{
	int len = rfs_mb_finish(mb, cc->csum);

	if (len < 0) {
		rfs_xprt_buf_put(cc->x, b);
		return len;
	}
	b->len = (uint32_t)len;
	return send_raw(cc, b);
}

/* wait for the reply with id; other replies are dropped */
static int wait_reply(struct ctl_conn *cc, uint64_t id, int timeout_ms,
		      struct rfs_buf **out)
{
	long long deadline = ctl_now_ns() + timeout_ms * 1000000LL;
	struct rfs_xev e;
	int rc;

	*out = NULL;
	for (;;) {
		rc = ctl_next(cc, deadline, &e);
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
		rfs_xprt_buf_put(cc->x, e.buf);
	}
}

static int call_raw(struct ctl_conn *cc, struct rfs_buf *b, uint64_t id,
		    int timeout_ms, struct rfs_buf **out)
{
	int err = send_raw(cc, b);

	*out = NULL;
	if (err)
		return err;
	return wait_reply(cc, id, timeout_ms, out);
}

int ctl_call(struct ctl_conn *cc, struct rfs_buf *b, struct rfs_mb *mb,
	     int timeout_ms, struct rfs_buf **out)
{
	uint64_t id = rfs_mb_hdr(mb)->id;
	int err = ctl_send(cc, b, mb);

	*out = NULL;
	if (err)
		return err;
	return wait_reply(cc, id, timeout_ms, out);
}

int ctl_check_reply(struct ctl_conn *cc, const struct rfs_buf *b,
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
	if (rfs_proto_verify(h, payload, cc->csum)) {
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

/* ---- connection setup ---------------------------------------------------- */

static bool is_unix(const struct ctl_target *t)
{
	return t->addr.ss.ss_family == AF_UNIX;
}

static const char *connect_hint(const struct ctl_target *t, int err)
{
	switch (err) {
	case -ECONNREFUSED:
		return is_unix(t) ? " (is ringfsd running? see its "
				    "--listen-unix)"
				  : " (is ringfsd running? see its --listen)";
	case -ENOENT:
		return is_unix(t) ? " (no such socket: is ringfsd running "
				    "with --listen-unix at this path?)"
				  : "";
	case -ETIMEDOUT:
		return " (nothing answered: is the host up and ringfsd "
		       "listening there? a firewall? -W gives more time)";
	case -EACCES:
	case -EPERM:
		return is_unix(t) ? " (permissions of the socket or its "
				    "directory)"
				  : "";
	case -EHOSTUNREACH:
	case -ENETUNREACH:
		return " (check the address and the routes)";
	default:
		return "";
	}
}

static const char *auth_words(int err)
{
	switch (err) {
	case -EKEYREJECTED:
		return "wrong key: the server rejected our proof (compare "
		       "--key-file with ringfsd's --key-file)";
	case -EOPNOTSUPP:
		return "the server has no key configured (ringfsd "
		       "--key-file), so it cannot prove who it is; refusing "
		       "it (drop --key-file to connect without "
		       "authentication)";
	case -EBADE:	/* client/auth.c: the server's proof is wrong */
		return "the server's proof does not match our key: a "
		       "different key on the server, or not the real server";
	case -ETIMEDOUT:
		return "no reply in time";
	default:
		return rfs_cl_auth_strerror(err);
	}
}

/* AUTH: CHALLENGE, then PROVE, then check the server's proof */
static int do_auth(struct ctl_conn *cc)
{
	const struct ctl_target *t = cc->t;
	struct rfs_buf *b, *rb = NULL;
	struct rfs_cl_auth a;
	uint8_t token[RFS_AUTH_TOKEN_LEN];
	int ret = 0;

	for (int step = 1; step <= 2; step++) {
		uint64_t id = cc->next_id++;
		const struct rfs_hdr *h;

		b = rfs_xprt_buf_get(cc->x, 512);
		if (!b) {
			ret = -ENOMEM;
			break;
		}
		if (step == 1)
			ret = rfs_cl_auth_challenge(&a, b->data, b->cap, id,
						    t->export, cc->o->csum);
		else
			ret = rfs_cl_auth_prove(&a, rb->data, b->data,
						b->cap, id, cc->o->csum);
		if (rb)
			rfs_xprt_buf_put(cc->x, rb);
		rb = NULL;
		if (ret < 0) {
			rfs_xprt_buf_put(cc->x, b);
			break;
		}
		b->len = (uint32_t)ret;
		ret = call_raw(cc, b, id, cc->o->timeout_ms, &rb);
		if (ret < 0) {
			if (ret == -ETIMEDOUT)
				ctl_err("authentication with %s: no reply "
					"within %d ms", t->addr_text,
					cc->o->timeout_ms);
			else if (ret == -EINTR)
				ctl_err("interrupted");
			else
				ctl_err("authentication with %s: connection "
					"lost: %s", t->addr_text,
					ctl_down_str(cc->down ? cc->down_status
							      : ret));
			return ret;
		}
		h = rb->data;
		if (!(h->flags & RFS_HF_REPLY) || h->opcode != RFS_OP_AUTH) {
			rfs_xprt_buf_put(cc->x, rb);
			rb = NULL;
			ret = -EPROTO;
			break;
		}
	}
	if (rb) {
		ret = rfs_cl_auth_finish(&a, rb->data, token);
		rfs_xprt_buf_put(cc->x, rb);
		rfs_auth_wipe(token, sizeof(token));
	}
	rfs_auth_wipe(&a, sizeof(a));
	if (ret < 0)
		ctl_err("authentication with %s failed: %s", t->addr_text,
			auth_words(ret));
	return ret;
}

static const char *hello_words(const struct ctl_target *t, int err)
{
	switch (err) {
	case -ENOKEY:
		return "the server requires authentication: give --key-file "
		       "FILE (the key of ringfsd --key-file)";
	case -EKEYREJECTED:
	case -EOPNOTSUPP:
		return auth_words(err);
	case -EACCES:
		return is_unix(t) ? "access denied (export option nolocal?)"
				  : "access denied (the export's net= "
				    "rules?)";
	case -EPROTONOSUPPORT:
		return "the server speaks another protocol version";
	default:
		return strerror(-err);
	}
}

static int do_hello(struct ctl_conn *cc)
{
	const struct ctl_target *t = cc->t;
	size_t elen = strlen(t->export);
	const struct rfs_hello_rep *hr;
	struct rfs_hello_req *q;
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	const char *why;
	struct rfs_mb mb;
	uint64_t id;
	int ret;

	b = ctl_req(cc, &mb, RFS_OP_HELLO, 512);
	if (!b) {
		ctl_err("transport %s: no buffer for HELLO", cc->o->transport);
		return -ENOMEM;
	}
	id = rfs_mb_hdr(&mb)->id;
	q = rfs_mb_put(&mb, sizeof(*q));
	if (q) {
		q->features = cc->o->csum ? RFS_FEAT_CSUM : 0;
		q->max_msg = RFS_MSG_MAX_DEFAULT;
		q->export_len = (uint16_t)elen;
		q->max_inflight = 4;
	}
	rfs_mb_put_bytes(&mb, t->export, (uint32_t)elen);
	/* nothing negotiated yet: the frame is checked if it has a sum */
	cc->csum = cc->o->csum;
	ret = ctl_call(cc, b, &mb, cc->o->timeout_ms, &rb);
	cc->csum = false;
	if (ret < 0) {
		if (ret == -ETIMEDOUT)
			ctl_err("HELLO to %s: no reply within %d ms (is a "
				"ringfsd listening there? -W gives more time)",
				t->addr_text, cc->o->timeout_ms);
		else if (ret == -EINTR)
			ctl_err("interrupted");
		else if (cc->down)
			ctl_err("HELLO to %s: the server closed the "
				"connection without a reply (%s; see its "
				"log)", t->addr_text,
				ctl_down_str(cc->down_status));
		else
			ctl_err("HELLO to %s: %s", t->addr_text,
				strerror(-ret));
		return ret;
	}
	ret = ctl_check_reply(cc, rb, RFS_OP_HELLO, id, &v, &why);
	if (ret < 0) {
		if (why)
			ctl_err("HELLO to %s: %s (not a ringfsd?)",
				t->addr_text, why);
		else if (ret == -ENOENT)
			ctl_err("export '%s' not found on %s", t->export,
				t->addr_text);
		else
			ctl_err("HELLO to %s (export '%s') refused: %s",
				t->addr_text, t->export, hello_words(t, ret));
		rfs_xprt_buf_put(cc->x, rb);
		return ret;
	}
	hr = v.fixed;
	cc->csum = hr->features & RFS_FEAT_CSUM;
	cc->max_msg = hr->max_msg;
	rfs_xprt_buf_put(cc->x, rb);
	return 0;
}

int ctl_connect(struct ctl_conn *cc, const struct ctl_target *t,
		const struct ctl_conn_opts *o)
{
	struct rfs_xprt_params p;
	int ret;

	memset(cc, 0, sizeof(*cc));
	cc->t = t;
	cc->o = o;
	cc->next_id = 1;
	rfs_xprt_params_default(&p);
	p.depth = 8;
	ret = rfs_xprt_open(o->transport, &p, &cc->x);
	if (ret < 0) {
		cc->x = NULL;
		if (ret == -ENOENT || ret == -ENOTSUP)
			ctl_err("transport '%s' is not available (built: %s)",
				o->transport, rfs_xprt_built());
		else
			ctl_err("transport %s: cannot start: %s%s",
				o->transport, strerror(-ret),
				!strcmp(o->transport, "rdma")
					? " (no RDMA device here?)"
					: "");
		return ret;
	}
	ret = rfs_xprt_connect(cc->x, &t->addr, o->timeout_ms, &cc->c);
	if (ret < 0) {
		cc->c = NULL;
		if (ret == -ETIMEDOUT)
			ctl_err("connect %s over %s: no answer within %d ms%s",
				t->addr_text, o->transport, o->timeout_ms,
				connect_hint(t, ret));
		else
			ctl_err("connect %s over %s: %s%s", t->addr_text,
				o->transport, strerror(-ret),
				connect_hint(t, ret));
		goto fail;
	}
	if (o->key_file) {
		ret = do_auth(cc);
		if (ret < 0)
			goto fail;
	}
	ret = do_hello(cc);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	ctl_close(cc);
	return ret;
}

void ctl_close(struct ctl_conn *cc)
{
	sig_atomic_t intr = ctl_interrupted;
	int wait_ms;

	if (!cc->x)
		return;
	/* a Ctrl-C must not cut the goodbye short: it is bounded anyway */
	ctl_interrupted = 0;
	wait_ms = cc->o && cc->o->timeout_ms < 1000 ? cc->o->timeout_ms
						   : 1000;
	if (cc->c && !cc->down && cc->max_msg) {
		/* a session that said BYE gets no grace period */
		struct rfs_buf *b, *rb;
		struct rfs_mb mb;

		b = ctl_req(cc, &mb, RFS_OP_BYE, 64);
		if (b && ctl_call(cc, b, &mb, wait_ms, &rb) == 0)
			rfs_xprt_buf_put(cc->x, rb);
	}
	/*
	 * Orderly close only after a session: a server that just said BYE
	 * closes at once.  A failed setup may face a peer that never
	 * answers: rfs_xprt_close below just drops the connection.
	 */
	if (cc->c && !cc->down && cc->max_msg) {
		long long deadline = ctl_now_ns() + wait_ms * 1000000LL;
		struct rfs_xev e;

		rfs_xprt_disconnect(cc->c);
		while (!cc->down && ctl_next(cc, deadline, &e) == 1)
			if (e.type == RFS_XEV_RECV)
				rfs_xprt_buf_put(cc->x, e.buf);
	}
	/* replies reaped but never consumed go back to the pool */
	while (cc->iev < cc->nev) {
		struct rfs_xev *e = &cc->ev[cc->iev++];

		if (e->type == RFS_XEV_RECV || e->type == RFS_XEV_SEND)
			rfs_xprt_buf_put(cc->x, e->buf);
		else if (e->type == RFS_XEV_CONN_DOWN && e->conn == cc->c &&
			 cc->c) {
			rfs_xprt_conn_free(cc->c);
			cc->c = NULL;
			cc->down = true;
		}
	}
	/* without CONN_DOWN, rfs_xprt_close cancels and frees the conn */
	rfs_xprt_close(cc->x);
	cc->x = NULL;
	cc->c = NULL;
	ctl_interrupted = intr;
}
