// SPDX-License-Identifier: MIT
/*
 * xprt_rdma_setup: phase 1 of the rdma transport, on the TCP control
 * connection (see xprt_rdma_i.h for the messages).  Both ends block,
 * bounded by SETUP_TIMEOUT_MS, on their own thread: the client's
 * rfs_xprt_connect, the server connection thread's rfs_xprt_accept.
 *
 * Active side (adopt): send the request, read the reply (the server's
 * RDMA address, port, token, credits, inline threshold), resolve address
 * and route, create the QP and post its receives, rdma_connect with the
 * token as private data, wait for ESTABLISHED.  A REJECTED means the
 * server refused the token: -ECONNREFUSED.
 *
 * Passive side (accept): read and check the request, listen on the
 * --listen-rdma address at an ephemeral port for this connection alone,
 * reply, then accept only a connect request that carries the token
 * (others are rejected and logged; the wait goes on until the deadline
 * or until the client closes the control connection), then drop the
 * listener.
 *
 * Push (read replies RDMA-WRITTEN into a buffer the client advertised,
 * see xprt_rdma.c) is negotiated here: the client offers RDMA_SETUPF_PUSH
 * in the request, the server accepts it in the reply's flags; both then
 * set c->push.  A side without it (or with RINGFS_RDMA_TEST_NO_PUSH set,
 * a test hook) leaves the flag 0 and large replies use RMA + DONE.  An
 * active context (one that adopts) registers its large pool classes
 * remotely writable from then on; a passive one never does.
 *
 * Any failure unwinds what was made (rfs_rdma_conn_release) and leaves
 * the socket to the caller.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "proto.h"
#include "xprt_rdma_i.h"

/* ---- phase 1 helpers -------------------------------------------------- */

/*
 * Test hook: RINGFS_RDMA_TEST_NO_PUSH=1 makes this process neither offer
 * nor accept push, =active only not offer it (client), =passive only not
 * accept it (server), so tests can run the RMA + DONE fallback.
 */
bool rfs_rdma_push_allowed(bool active)
{
	const char *e = getenv("RINGFS_RDMA_TEST_NO_PUSH");

	if (!e || !*e || !strcmp(e, "0"))
		return true;
	if (!strcmp(e, "active"))
		return !active;
	if (!strcmp(e, "passive"))
		return active;
	return false;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	return 0;
}

/* Wait for fd to be readable/writable before the deadline. */
static int wait_fd_until(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long long left = deadline - now_ms();
		int rc;

		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

static int io_full(int fd, void *buf, size_t len, bool wr, long long deadline)
{
	size_t done = 0;
	int rc;

	while (done < len) {
		ssize_t n = wr ? send(fd, (char *)buf + done, len - done,
				      MSG_NOSIGNAL | MSG_DONTWAIT)
			       : recv(fd, (char *)buf + done, len - done,
				      MSG_DONTWAIT);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		rc = wait_fd_until(fd, wr ? POLLOUT : POLLIN, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

/* Next rdma_cm event on c->cm_ch (nonblocking fd); the caller acks it. */
static int cm_next(struct rdma_conn *c, long long deadline,
		   struct rdma_cm_event **ev)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = c->cm_ch->fd, .events = POLLIN },
			{ .fd = c->fd, .events = POLLIN },
		};
		long long left = deadline - now_ms();
		int rc;

		if (!rdma_get_cm_event(c->cm_ch, ev))
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(p, 2, (int)left);
		if (rc < 0 && errno != EINTR)
			return -errno;
		/* the control socket says nothing in setup: it closed */
		if (rc > 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			return -ECONNABORTED;
	}
}

/* Wait for one expected event; others are errors. */
static int cm_expect(struct rdma_conn *c, enum rdma_cm_event_type want,
		     long long deadline, const char *what)
{
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type got;
	int status, rc;

	rc = cm_next(c, deadline, &ev);
	if (rc) {
		rfs_err("xprt: %s: %s: %s", c->desc, what, strerror(-rc));
		return rc;
	}
	got = ev->event;
	status = ev->status;
	rdma_ack_cm_event(ev);
	if (got == want)
		return 0;
	switch (got) {
	case RDMA_CM_EVENT_REJECTED:
		rfs_err("xprt: %s: %s: the server refused the RDMA connection "
			"(status %d: wrong session token?)", c->desc, what,
			status);
		return -ECONNREFUSED;
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
		rc = -EHOSTUNREACH;
		break;
	default:
		rc = -ECONNABORTED;
		break;
	}
	rfs_err("xprt: %s: %s: %s (status %d)", c->desc, what,
		rdma_event_str(got), status);
	return rc;
}

static void make_desc(struct rdma_conn *c)
{
	char la[80] = "?", pa[80] = "?";

	if (c->id) {
		rfs_addr_fmt(rdma_get_local_addr(c->id),
			     sizeof(struct sockaddr_storage), la, sizeof(la));
		rfs_addr_fmt(rdma_get_peer_addr(c->id),
			     sizeof(struct sockaddr_storage), pa, sizeof(pa));
	}
	snprintf(c->desc, sizeof(c->desc), "rdma %s->%s", la, pa);
}

static uint32_t conn_nrecv(const struct rdma_xprt *t)
{
	uint32_t d = t->base.params.depth ? t->base.params.depth : 64;

	d *= 2;
	return d < 16 ? 16 : d > 1024 ? 1024 : d;
}

/* PD (if needed), completion channel, CQ, QP on c->id; receives posted. */
static int qp_setup(struct rdma_conn *c)
{
	struct rdma_xprt *t = c->t;
	struct ibv_qp_init_attr qa;
	uint32_t maxwr;
	int rc, cqe;

	rc = rfs_rdma_dev_bind(t, c->id->verbs);
	if (rc)
		return rc;
	maxwr = (uint32_t)t->dattr.max_qp_wr;
	/* SENDs (credits), as many push WRITEs, RDMA READs, slack */
	c->sq_max = c->peer_credits * (c->push ? 2 : 1) + RMA_MAX + 8;
	if (c->sq_max > maxwr)
		c->sq_max = maxwr;
	if (c->nrecv > maxwr)
		c->nrecv = maxwr;
	c->cch = ibv_create_comp_channel(c->id->verbs);
	if (!c->cch) {
		rc = -(errno ? errno : ENOMEM);
		rfs_err("xprt: %s: ibv_create_comp_channel: %s", c->desc,
			strerror(-rc));
		return rc;
	}
	rc = set_nonblock(c->cch->fd);
	if (rc)
		return rc;
	cqe = (int)(c->sq_max + c->nrecv);
	if (cqe > t->dattr.max_cqe)
		cqe = t->dattr.max_cqe;
	c->cq = ibv_create_cq(c->id->verbs, cqe, c, c->cch, 0);
	if (!c->cq) {
		rc = -(errno ? errno : ENOMEM);
		rfs_err("xprt: %s: ibv_create_cq(%d): %s", c->desc, cqe,
			strerror(-rc));
		return rc;
	}
	memset(&qa, 0, sizeof(qa));
	qa.send_cq = c->cq;
	qa.recv_cq = c->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = c->sq_max;
	qa.cap.max_recv_wr = c->nrecv;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	/* every WR asks for its completion, except a push's RDMA WRITE:
	   the WRITTEN SEND behind it completes for both */
	qa.sq_sig_all = 0;
	if (rdma_create_qp(c->id, t->pd, &qa)) {
		rc = -errno;
		rfs_err("xprt: %s: rdma_create_qp: %s", c->desc,
			strerror(-rc));
		return rc;
	}
	for (uint32_t i = 0; i < c->nrecv; i++) {
		rc = rfs_rdma_post_fresh_recv(c);
		if (rc)
			return rc;
	}
	return 0;
}

static void conn_params(struct rdma_conn *c, struct rdma_conn_param *cp)
{
	struct ibv_device_attr *a = &c->t->dattr;
	int init = a->max_qp_init_rd_atom, resp = a->max_qp_rd_atom;

	memset(cp, 0, sizeof(*cp));
	cp->initiator_depth = (uint8_t)(init < (int)RD_DEPTH ? init
							      : (int)RD_DEPTH);
	cp->responder_resources = (uint8_t)(resp < (int)RD_DEPTH ? resp
							       : (int)RD_DEPTH);
	cp->retry_count = 7;
	cp->rnr_retry_count = 2;	/* with credits an RNR is our bug */
}

static struct rdma_conn *conn_new(struct rdma_xprt *t, int fd)
{
	struct rdma_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->base.ops = &rfs_xprt_rdma_ops;
	c->base.x = (struct rfs_xprt *)(void *)t;
	c->t = t;
	c->fd = fd;
	c->state = CS_SETUP;
	c->nrecv = conn_nrecv(t);
	c->inline_max = t->cls[0].size;
	snprintf(c->desc, sizeof(c->desc), "rdma fd %d (setup)", fd);
	for (int k = 0; k < EP_N; k++) {
		c->tag[k].c = c;
		c->tag[k].kind = (enum epkind)k;
	}
	return c;
}

/* Setup done: watch the fds, link the connection, it is up. */
static int conn_go(struct rdma_conn *c)
{
	struct rdma_xprt *t = c->t;
	int fds[EP_N] = { c->fd, c->cm_ch->fd, c->cch->fd };
	int rc;

	rc = set_nonblock(c->cm_ch->fd);
	if (rc)
		return rc;
	for (int k = 0; k < EP_N; k++) {
		struct epoll_event ev = {
			.events = EPOLLIN | (k == EP_TCP ? EPOLLRDHUP : 0),
			.data.ptr = &c->tag[k],
		};

		t->st.syscalls++;
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fds[k], &ev)) {
			rc = -errno;
			rfs_err("xprt: %s: epoll_ctl(ADD): %s", c->desc,
				strerror(-rc));
			return rc;
		}
		c->ep_added[k] = true;
	}
	make_desc(c);
	c->credits = c->peer_credits;
	c->state = CS_UP;
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	rfs_dbg(RFS_SUB_XPRT, "xprt: %s: up (credits %u/%u, inline %u, "
		"push %s)", c->desc, c->credits, c->nrecv, c->inline_max,
		c->push ? "on" : "off");
	return 0;
}

/* Failed setup: unwind, keep the caller's fd, no events. */
static void conn_abort(struct rdma_conn *c)
{
	rfs_rdma_conn_release(c, false);
	rfs_rdma_conn_drop_bufs(c, -ECANCELED);
	free(c);
}

/* ---- active side ------------------------------------------------------ */

int rfs_rdma_adopt(struct rfs_xprt *x, int fd, struct rfs_conn **out)
{
	static int corrupt_left = -1;	/* test hook, see below */
	struct rdma_xprt *t = RX(x);
	long long deadline = now_ms() + SETUP_TIMEOUT_MS;
	struct rdma_setup_req req = { 0 };
	struct rdma_setup_rep rep;
	struct rdma_conn_param cp;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST |
					      AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct rdma_conn *c;
	char port[8];
	int rc;

	*out = NULL;
	if (fd < 0)
		return -EBADF;
	c = conn_new(t, fd);
	if (!c)
		return -ENOMEM;
	c->active = true;
	/* from now on large pool buffers may be advertised to our server */
	t->remote_write = true;
	rc = set_nonblock(fd);
	if (rc)
		goto fail;
	req.magic = htole32(RDMA_SETUP_MAGIC);
	req.version = htole16(RDMA_SETUP_VERSION);
	if (rfs_rdma_push_allowed(true))
		req.flags = htole16(RDMA_SETUPF_PUSH);
	req.credits = htole32(c->nrecv);
	req.inline_max = htole32(c->inline_max);
	req.max_msg = htole32(t->base.params.max_msg);
	rc = io_full(fd, &req, sizeof(req), true, deadline);
	if (rc) {
		rfs_err("xprt: rdma: setup request: %s", strerror(-rc));
		goto fail;
	}
	rc = io_full(fd, &rep, sizeof(rep), false, deadline);
	if (rc) {
		rfs_err("xprt: rdma: setup reply: %s", strerror(-rc));
		goto fail;
	}
	if (le32toh(rep.magic) != RDMA_SETUP_MAGIC ||
	    le16toh(rep.version) != RDMA_SETUP_VERSION) {
		rfs_err("xprt: rdma: setup reply: bad magic or version");
		rc = -EPROTO;
		goto fail;
	}
	if ((int32_t)le32toh((uint32_t)rep.status) < 0) {
		rc = (int32_t)le32toh((uint32_t)rep.status);
		rfs_err("xprt: rdma: the server refuses rdma: %s",
			strerror(-rc));
		goto fail;
	}
	c->peer_credits = le32toh(rep.credits);
	c->peer_max_msg = le32toh(rep.max_msg);
	if (le32toh(rep.inline_max) < c->inline_max)
		c->inline_max = le32toh(rep.inline_max);
	c->push = (le16toh(req.flags) & RDMA_SETUPF_PUSH) &&
		  (le16toh(rep.flags) & RDMA_SETUPF_PUSH);
	if (!rep.port || c->peer_credits < 2 || c->peer_credits > 65535 ||
	    c->inline_max < RFS_HDR_SIZE || c->peer_max_msg < RFS_HDR_SIZE ||
	    !memchr(rep.addr, 0, sizeof(rep.addr))) {
		rfs_err("xprt: rdma: setup reply: bad parameters");
		rc = -EPROTO;
		goto fail;
	}
	memcpy(c->token, rep.token, sizeof(c->token));
	/*
	 * Test hook: RINGFS_RDMA_TEST_BAD_TOKEN=N corrupts the token of the
	 * first N connections of the process, so tests can check that the
	 * server refuses them.
	 */
	if (corrupt_left < 0) {
		const char *e = getenv("RINGFS_RDMA_TEST_BAD_TOKEN");

		corrupt_left = e ? atoi(e) : 0;
	}
	if (corrupt_left > 0) {
		corrupt_left--;
		c->token[0] ^= 0x5a;
	}

	c->cm_ch = rdma_create_event_channel();
	if (!c->cm_ch) {
		rc = -errno;
		rfs_err("xprt: rdma: rdma_create_event_channel: %s",
			strerror(-rc));
		goto fail;
	}
	rc = set_nonblock(c->cm_ch->fd);
	if (rc)
		goto fail;
	if (rdma_create_id(c->cm_ch, &c->id, c, RDMA_PS_TCP)) {
		rc = -errno;
		rfs_err("xprt: rdma: rdma_create_id: %s", strerror(-rc));
		goto fail;
	}
	snprintf(port, sizeof(port), "%u", le16toh(rep.port));
	snprintf(c->desc, sizeof(c->desc), "rdma ->%s:%s", rep.addr, port);
	rc = getaddrinfo(rep.addr, port, &hints, &ai);
	if (rc) {
		rfs_err("xprt: %s: bad server address: %s", c->desc,
			gai_strerror(rc));
		rc = -EPROTO;
		goto fail;
	}
	if (rdma_resolve_addr(c->id, NULL, ai->ai_addr, RESOLVE_TIMEOUT_MS)) {
		rc = -errno;
		rfs_err("xprt: %s: rdma_resolve_addr: %s", c->desc,
			strerror(-rc));
		goto fail;
	}
	rc = cm_expect(c, RDMA_CM_EVENT_ADDR_RESOLVED, deadline,
		       "resolve address");
	if (rc)
		goto fail;
	if (rdma_resolve_route(c->id, RESOLVE_TIMEOUT_MS)) {
		rc = -errno;
		rfs_err("xprt: %s: rdma_resolve_route: %s", c->desc,
			strerror(-rc));
		goto fail;
	}
	rc = cm_expect(c, RDMA_CM_EVENT_ROUTE_RESOLVED, deadline,
		       "resolve route");
	if (rc)
		goto fail;
	rc = qp_setup(c);
	if (rc)
		goto fail;
	conn_params(c, &cp);
	cp.private_data = c->token;
	cp.private_data_len = sizeof(c->token);
	if (rdma_connect(c->id, &cp)) {
		rc = -errno;
		rfs_err("xprt: %s: rdma_connect: %s", c->desc, strerror(-rc));
		goto fail;
	}
	rc = cm_expect(c, RDMA_CM_EVENT_ESTABLISHED, deadline, "connect");
	if (rc)
		goto fail;
	rc = conn_go(c);
	if (rc)
		goto fail;
	freeaddrinfo(ai);
	*out = (struct rfs_conn *)(void *)c;
	return 0;

fail:
	if (ai)
		freeaddrinfo(ai);
	conn_abort(c);
	return rc;
}

/* ---- passive side ----------------------------------------------------- */

/* "host", "host:port", "[v6]" or "[v6]:port": the host part (the port
   is not used: each connection gets an ephemeral rdma_cm port). */
static int rdma_host(const char *s, char *host, size_t hsz)
{
	const char *end;
	size_t n;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		s++;
	} else {
		end = strchr(s, ':');
		if (end && strchr(end + 1, ':'))
			end = NULL;	/* bare IPv6 */
		if (!end)
			end = s + strlen(s);
	}
	n = (size_t)(end - s);
	if (!n || n >= hsz)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = 0;
	return 0;
}

static int reply(struct rdma_conn *c, struct rdma_setup_rep *rep, int status,
		 long long deadline)
{
	rep->magic = htole32(RDMA_SETUP_MAGIC);
	rep->version = htole16(RDMA_SETUP_VERSION);
	rep->status = (int32_t)htole32((uint32_t)status);
	return io_full(c->fd, rep, sizeof(*rep), true, deadline);
}

/* Wait for the client's rdma_connect with our token; reject others. */
static int await_client(struct rdma_conn *c, long long deadline)
{
	struct rdma_conn_param cp;
	struct rdma_cm_event *ev;
	int rc;

	for (;;) {
		struct rdma_cm_id *child;
		bool ok;

		rc = cm_next(c, deadline, &ev);
		if (rc) {
			rfs_err("xprt: %s: waiting for the RDMA connection: "
				"%s", c->desc, strerror(-rc));
			return rc;
		}
		if (ev->event != RDMA_CM_EVENT_CONNECT_REQUEST) {
			rfs_dbg(RFS_SUB_XPRT, "xprt: %s: cm event %s",
				c->desc, rdma_event_str(ev->event));
			rdma_ack_cm_event(ev);
			continue;
		}
		child = ev->id;
		ok = ev->param.conn.private_data &&
		     ev->param.conn.private_data_len >= RDMA_TOKEN_LEN;
		if (ok) {
			const uint8_t *p = ev->param.conn.private_data;
			uint8_t diff = 0;

			/* constant time: no timing hints to a guesser */
			for (unsigned i = 0; i < RDMA_TOKEN_LEN; i++)
				diff |= (uint8_t)(p[i] ^ c->token[i]);
			ok = !diff;
		}
		rdma_ack_cm_event(ev);
		if (!ok) {
			char pa[80] = "?";

			rfs_addr_fmt(rdma_get_peer_addr(child),
				     sizeof(struct sockaddr_storage), pa,
				     sizeof(pa));
			rfs_warn("xprt: %s: RDMA connection from %s with a "
				 "wrong session token: refused", c->desc, pa);
			rdma_reject(child, NULL, 0);
			rdma_destroy_id(child);
			continue;
		}
		c->id = child;
		break;
	}
	rc = qp_setup(c);
	if (rc)
		return rc;
	conn_params(c, &cp);
	if (rdma_accept(c->id, &cp)) {
		rc = -errno;
		rfs_err("xprt: %s: rdma_accept: %s", c->desc, strerror(-rc));
		return rc;
	}
	return cm_expect(c, RDMA_CM_EVENT_ESTABLISHED, deadline, "accept");
}

int rfs_rdma_accept(struct rfs_xprt *x, int fd, struct rfs_conn **out)
{
	struct rdma_xprt *t = RX(x);
	long long deadline = now_ms() + SETUP_TIMEOUT_MS;
	struct rdma_setup_req req;
	struct rdma_setup_rep rep;
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct rdma_conn *c;
	char host[64];
	int rc;

	*out = NULL;
	if (fd < 0)
		return -EBADF;
	c = conn_new(t, fd);
	if (!c)
		return -ENOMEM;
	memset(&rep, 0, sizeof(rep));
	rc = set_nonblock(fd);
	if (rc)
		goto fail;
	rc = io_full(fd, &req, sizeof(req), false, deadline);
	if (rc) {
		rfs_err("xprt: rdma: setup request: %s", strerror(-rc));
		goto fail;
	}
	if (le32toh(req.magic) != RDMA_SETUP_MAGIC ||
	    le16toh(req.version) != RDMA_SETUP_VERSION) {
		rfs_err_rl("xprt: rdma: setup request: bad magic or version");
		rc = -EPROTO;
		goto fail;
	}
	c->peer_credits = le32toh(req.credits);
	c->peer_max_msg = le32toh(req.max_msg);
	if (le32toh(req.inline_max) < c->inline_max)
		c->inline_max = le32toh(req.inline_max);
	/* unknown flags are ignored: a later client may offer more */
	c->push = (le16toh(req.flags) & RDMA_SETUPF_PUSH) &&
		  rfs_rdma_push_allowed(false);
	if (c->peer_credits < 2 || c->peer_credits > 65535 ||
	    c->inline_max < RFS_HDR_SIZE || c->peer_max_msg < RFS_HDR_SIZE) {
		rfs_err_rl("xprt: rdma: setup request: bad parameters");
		rc = -EPROTO;
		reply(c, &rep, rc, deadline);
		goto fail;
	}
	if (!t->base.params.rdma_addr ||
	    rdma_host(t->base.params.rdma_addr, host, sizeof(host))) {
		rfs_err_rl("xprt: rdma: a client asks for rdma, but the "
			   "server has no RDMA address (--listen-rdma)");
		rc = -EADDRNOTAVAIL;
		reply(c, &rep, rc, deadline);
		goto fail;
	}
	c->cm_ch = rdma_create_event_channel();
	if (!c->cm_ch) {
		rc = -errno;
		rfs_err("xprt: rdma: rdma_create_event_channel: %s",
			strerror(-rc));
		goto fail_reply;
	}
	rc = set_nonblock(c->cm_ch->fd);
	if (rc)
		goto fail_reply;
	if (rdma_create_id(c->cm_ch, &c->lid, c, RDMA_PS_TCP)) {
		rc = -errno;
		rfs_err("xprt: rdma: rdma_create_id: %s", strerror(-rc));
		goto fail_reply;
	}
	rc = getaddrinfo(host, "0", &hints, &ai);
	if (rc) {
		rfs_err("xprt: rdma: --listen-rdma %s: %s",
			t->base.params.rdma_addr, gai_strerror(rc));
		rc = -EADDRNOTAVAIL;
		goto fail_reply;
	}
	if (rdma_bind_addr(c->lid, ai->ai_addr) || rdma_listen(c->lid, 4)) {
		rc = -errno;
		rfs_err("xprt: rdma: listen on %s: %s", host, strerror(-rc));
		goto fail_reply;
	}
	rep.port = htole16(ntohs(rdma_get_src_port(c->lid)));
	/* the numeric address we are bound to, for the client */
	{
		const struct sockaddr *sa = rdma_get_local_addr(c->lid);
		const void *ip = sa->sa_family == AF_INET6
			? (const void *)&((const struct sockaddr_in6 *)
					  (const void *)sa)->sin6_addr
			: (const void *)&((const struct sockaddr_in *)
					  (const void *)sa)->sin_addr;

		if (!inet_ntop(sa->sa_family, ip, rep.addr,
			       sizeof(rep.addr))) {
			rc = -errno;
			goto fail_reply;
		}
	}
	snprintf(c->desc, sizeof(c->desc), "rdma %s:%u (accepting)", rep.addr,
		 le16toh(rep.port));
	if (getrandom(c->token, sizeof(c->token), 0) !=
	    (ssize_t)sizeof(c->token)) {
		rc = -errno;
		rfs_err("xprt: rdma: getrandom: %s", strerror(-rc));
		goto fail_reply;
	}
	memcpy(rep.token, c->token, sizeof(rep.token));
	rep.credits = htole32(c->nrecv);
	rep.inline_max = htole32(t->cls[0].size);
	rep.max_msg = htole32(t->base.params.max_msg);
	rep.flags = htole16(c->push ? RDMA_SETUPF_PUSH : 0);
	rc = reply(c, &rep, 0, deadline);
	if (rc) {
		rfs_err("xprt: %s: setup reply: %s", c->desc, strerror(-rc));
		goto fail;
	}
	rc = await_client(c, deadline);
	if (rc)
		goto fail;
	/* one connection per listener: no one else may knock */
	rdma_destroy_id(c->lid);
	c->lid = NULL;
	rc = conn_go(c);
	if (rc)
		goto fail;
	freeaddrinfo(ai);
	*out = (struct rfs_conn *)(void *)c;
	return 0;

fail_reply:
	memset(&rep, 0, sizeof(rep));
	reply(c, &rep, rc, deadline);
fail:
	if (ai)
		freeaddrinfo(ai);
	conn_abort(c);
	return rc;
}
