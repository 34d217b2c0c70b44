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
 * Passive side (accept): read and check the request, then one of two:
 *   - per-connection listener (--listen-rdma ADDR, no port): listen on
 *     ADDR at an ephemeral port for this connection alone, reply, then
 *     accept only a connect request that carries the token (others are
 *     rejected and logged; the wait goes on until the deadline or until
 *     the client closes the control connection), then drop the listener;
 *   - shared listener (--listen-rdma ADDR:PORT: rfs_rdma_listen, opened
 *     by ringfsd's main thread): register the token, reply with the
 *     shared port, wait (same bounds) for the listener's thread to hand
 *     over the request with our token (see "The shared listener" below),
 *     unregister, accept it.
 * Either way the QP and the accept are made here, on the connection's
 * own thread and files.
 *
 * Push (read replies RDMA-WRITTEN into a buffer the client advertised,
 * see xprt_rdma_push.c) is negotiated here: the client offers
 * RDMA_SETUPF_PUSH in the request, the server accepts it in the reply's
 * flags; both then set c->push.  A side without it (or with
 * RINGFS_RDMA_TEST_NO_PUSH set, a test hook: xprt_rdma_hooks.c) leaves
 * the flag 0 and large replies use RMA + DONE.  An active context (one
 * that adopts) registers its large pool classes remotely writable from
 * then on; a passive one never does.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "proto.h"
#include "util.h"
#include "xprt_rdma_i.h"
#include "xprt_rdma.h"

/* ---- phase 1 helpers -------------------------------------------------- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	return 0;
}

static int io_full(int fd, void *buf, size_t len, bool wr, long long deadline)
{
	size_t done = 0;
	int rc;

	while (done < len) {
		ssize_t n = wr ? send(fd, (char *)buf + done, len - done,
				      MSG_NOSIGNAL | MSG_DONTWAIT) :
				 recv(fd, (char *)buf + done, len - done,
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
		rc = rfs_poll_until(fd, wr ? POLLOUT : POLLIN, deadline);
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
		long long left = deadline - rfs_now_ms();
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
			"(status %d: wrong session token?)",
			c->desc, what, status);
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

/*
 * "rdma LOCAL->PEER DEVICE qp N gid SGID": logs, and the peer column of
 * ringfsctl conns (the device, our QP number and our GID, as ss -i shows
 * a socket's details)
 */
static void make_desc(struct rdma_conn *c)
{
	char la[80] = "?", pa[80] = "?", gid[INET6_ADDRSTRLEN] = "?";
	const char *dev = "?";
	unsigned qpn = 0;

	if (c->id) {
		rfs_addr_fmt(rdma_get_local_addr(c->id),
			     sizeof(struct sockaddr_storage), la, sizeof(la));
		rfs_addr_fmt(rdma_get_peer_addr(c->id),
			     sizeof(struct sockaddr_storage), pa, sizeof(pa));
		if (c->id->verbs)
			dev = ibv_get_device_name(c->id->verbs->device);
		if (c->id->qp)
			qpn = c->id->qp->qp_num;
		if (!inet_ntop(AF_INET6, c->id->route.addr.addr.ibaddr.sgid.raw,
			       gid, sizeof(gid)))
			snprintf(gid, sizeof(gid), "?");
	}
	snprintf(c->desc, sizeof(c->desc), "rdma %s->%s %s qp %u gid %s", la,
		 pa, dev ? dev : "?", qpn, gid);
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
		rfs_err("xprt: %s: rdma_create_qp: %s", c->desc, strerror(-rc));
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
	cp->initiator_depth =
		(uint8_t)(init < (int)RD_DEPTH ? init : (int)RD_DEPTH);
	cp->responder_resources =
		(uint8_t)(resp < (int)RD_DEPTH ? resp : (int)RD_DEPTH);
	cp->retry_count = 7;
	cp->rnr_retry_count = 2; /* with credits an RNR is our bug */
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
	c->inline_max = t->pool.cls[0].size;
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
	rfs_dbg(RFS_SUB_XPRT,
		"xprt: %s: up (credits %u/%u, inline %u, "
		"push %s)",
		c->desc, c->credits, c->nrecv, c->inline_max,
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

/*
 * The peer's half of the setup exchange, the same three fields in the
 * request and in the reply: its credits and sizes, taken into c.  False
 * when they are out of range.
 */
static bool peer_params(struct rdma_conn *c, uint32_t credits,
			uint32_t inline_max, uint32_t max_msg)
{
	c->peer_credits = le32toh(credits);
	c->peer_max_msg = le32toh(max_msg);
	if (le32toh(inline_max) < c->inline_max)
		c->inline_max = le32toh(inline_max);
	return c->peer_credits >= 2 && c->peer_credits <= 65535 &&
	       c->inline_max >= RFS_HDR_SIZE && c->peer_max_msg >= RFS_HDR_SIZE;
}

/* c's connection-manager event channel, non-blocking */
static int cm_channel_open(struct rdma_conn *c)
{
	int rc;

	c->cm_ch = rdma_create_event_channel();
	if (!c->cm_ch) {
		rc = -errno;
		rfs_err("xprt: rdma: rdma_create_event_channel: %s",
			strerror(-rc));
		return rc;
	}
	return set_nonblock(c->cm_ch->fd);
}

/* ---- active side ------------------------------------------------------ */

int rfs_rdma_adopt(struct rfs_xprt *x, int fd, struct rfs_conn **out)
{
	struct rdma_xprt *t = RX(x);
	long long deadline = rfs_now_ms() + SETUP_TIMEOUT_MS;
	struct rdma_setup_req req = { 0 };
	struct rdma_setup_rep rep;
	struct rdma_conn_param cp;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
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
	c->push = (le16toh(req.flags) & RDMA_SETUPF_PUSH) &&
		  (le16toh(rep.flags) & RDMA_SETUPF_PUSH);
	if (!peer_params(c, rep.credits, rep.inline_max, rep.max_msg) ||
	    !rep.port || !memchr(rep.addr, 0, sizeof(rep.addr))) {
		rfs_err("xprt: rdma: setup reply: bad parameters");
		rc = -EPROTO;
		goto fail;
	}
	memcpy(c->token, rep.token, sizeof(c->token));
	rfs_rdma_test_token(c->token);

	rc = cm_channel_open(c);
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

/*
 * "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address: the
 * host part, and the port ("" when none; checked: digits, <= 65535).
 */
static int rdma_hostport(const char *s, char *host, size_t hsz, char *port,
			 size_t psz)
{
	const char *end, *p = NULL;
	size_t n;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		s++;
		if (end[1] == ':')
			p = end + 2;
		else if (end[1])
			return -EINVAL;
	} else {
		end = strchr(s, ':');
		if (end && strchr(end + 1, ':'))
			end = NULL; /* bare IPv6 */
		if (end)
			p = end + 1;
		else
			end = s + strlen(s);
	}
	n = (size_t)(end - s);
	if (!n || n >= hsz)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = 0;
	port[0] = 0;
	if (p) {
		n = strlen(p);
		if (!n || n >= psz || n > 5 || strspn(p, "0123456789") != n ||
		    atoi(p) > 65535)
			return -EINVAL;
		memcpy(port, p, n + 1);
	}
	return 0;
}

/* The numeric IP of sa (no port), for the setup reply. */
static int numeric_ip(const struct sockaddr *sa, char *out, size_t outsz)
{
	const void *ip =
		sa->sa_family == AF_INET6 ?
			(const void *)&(
				(const struct sockaddr_in6 *)(const void *)sa)
				->sin6_addr :
			(const void *)&(
				(const struct sockaddr_in *)(const void *)sa)
				->sin_addr;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (!inet_ntop(sa->sa_family, ip, out, (socklen_t)outsz))
		return -errno;
	return 0;
}

static bool token_eq(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;

	/* constant time: no timing hints to a guesser */
	for (unsigned i = 0; i < RDMA_TOKEN_LEN; i++)
		diff |= (uint8_t)(a[i] ^ b[i]);
	return !diff;
}

/*
 * The shared listener (ringfsd --listen-rdma ADDR:PORT, see xprt.h).
 *
 * Registry: a connection thread in rfs_rdma_accept puts a struct
 * rdma_wait (on its own stack) on `waiting` before it sends its setup
 * reply, then sleeps on the entry's eventfd and its control socket until
 * the deadline.  The listener's thread, on a CONNECT_REQUEST whose
 * private data holds a registered token (and whose entry has no request
 * yet), migrates the new cm id to the entry's event channel (the
 * connection's own), stores it in the entry and writes the eventfd.
 * Everything the two threads share is under shared_mu; the connection
 * thread unlinks its entry under it before it returns, whatever
 * happened, and takes over a request that came meanwhile, so nothing
 * points at a gone entry, and a request that comes later finds no entry
 * and is rejected like any unknown token.  The connection thread then
 * does rdma_create_qp and rdma_accept on its own files.
 */
struct rdma_wait {
	struct rdma_wait *next;
	uint8_t token[RDMA_TOKEN_LEN];
	struct rdma_event_channel *ch; /* the connection's */
	int efd;		       /* eventfd: written when id is set */
	struct rdma_cm_id *id;	       /* the request handed over, or NULL */
};

struct rfs_rdma_listener {
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
	bool wildcard; /* bound to 0.0.0.0 or :: */
	char addr[46]; /* numeric IP, for the setup reply */
	uint16_t port;
	char name[80];		 /* "ADDR:PORT" as bound */
	struct rfs_ratelimit rl; /* rejected requests */
};

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rfs_rdma_listener *shared; /* the open listener */
static struct rdma_wait *waiting;	 /* registered connections */

static void listen_fail(const char *spec, const char *host, const char *port,
			const char *what, int err)
{
	const char *hint;

	switch (err) {
	case EADDRINUSE:
		hint = "the port is in use (another ringfsd?): stop that "
		       "process or choose another PORT";
		break;
	case EADDRNOTAVAIL:
		hint = "ADDR is not an address of this host, or a listener "
		       "on every address holds the port: give the IP of a "
		       "netdev that has an RDMA device (see rdma link show)";
		break;
	case ENODEV:
		hint = "ADDR's netdev has no RDMA device: give the IP of one "
		       "(see rdma link show), or add soft-RoCE to it (rdma "
		       "link add rxe0 type rxe netdev IFACE)";
		break;
	case EACCES:
		hint = "a PORT below 1024 needs CAP_NET_BIND_SERVICE";
		break;
	default:
		hint = "check that ADDR is the IP of an RDMA device (rdma "
		       "link show)";
		break;
	}
	rfs_err("listen-rdma %s: %s on %s port %s: %s: %s", spec, what, host,
		port, strerror(err), hint);
}

int rfs_rdma_listen(const char *spec, struct rfs_rdma_listener **out)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct rfs_rdma_listener *l;
	const struct sockaddr *sa;
	char host[64], port[8];
	bool busy;
	int rc;

	*out = NULL;
	if (rdma_hostport(spec, host, sizeof(host), port, sizeof(port))) {
		rfs_err("listen-rdma %s: bad address (expected ADDR, "
			"ADDR:PORT or [IPv6]:PORT)",
			spec);
		return -EINVAL;
	}
	if (!port[0])
		return 0; /* per-connection listeners */
	pthread_mutex_lock(&shared_mu);
	busy = shared != NULL;
	pthread_mutex_unlock(&shared_mu);
	if (busy) {
		rfs_err("listen-rdma %s: this process has an rdma listener "
			"already",
			spec);
		return -EBUSY;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		rfs_err("listen-rdma %s: %s", spec, gai_strerror(rc));
		rc = -EADDRNOTAVAIL;
		goto fail;
	}
	l->ch = rdma_create_event_channel();
	if (!l->ch) {
		rc = -errno;
		rfs_err("listen-rdma %s: cannot open the RDMA connection "
			"manager (/dev/infiniband/rdma_cm): %s: load an RDMA "
			"driver (e.g. rdma_rxe) and rdma_ucm",
			spec, strerror(-rc));
		goto fail;
	}
	rc = set_nonblock(l->ch->fd);
	if (rc) {
		rfs_err("listen-rdma %s: rdma_cm channel: %s", spec,
			strerror(-rc));
		goto fail;
	}
	if (rdma_create_id(l->ch, &l->id, l, RDMA_PS_TCP)) {
		rc = -errno;
		rfs_err("listen-rdma %s: rdma_create_id: %s", spec,
			strerror(-rc));
		goto fail;
	}
	if (rdma_bind_addr(l->id, ai->ai_addr)) {
		rc = -errno;
		listen_fail(spec, host, port, "rdma_bind_addr", -rc);
		goto fail;
	}
	if (rdma_listen(l->id, 128)) {
		rc = -errno;
		listen_fail(spec, host, port, "rdma_listen", -rc);
		goto fail;
	}
	sa = rdma_get_local_addr(l->id);
	rc = numeric_ip(sa, l->addr, sizeof(l->addr));
	if (rc) {
		rfs_err("listen-rdma %s: local address: %s", spec,
			strerror(-rc));
		goto fail;
	}
	l->port = ntohs(rdma_get_src_port(l->id));
	l->wildcard = !strcmp(l->addr, "0.0.0.0") || !strcmp(l->addr, "::");
	snprintf(l->name, sizeof(l->name),
		 sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", l->addr,
		 l->port);
	freeaddrinfo(ai);
	pthread_mutex_lock(&shared_mu);
	shared = l;
	pthread_mutex_unlock(&shared_mu);
	rfs_dbg(RFS_SUB_XPRT, "xprt: rdma listener on %s", l->name);
	*out = l;
	return 0;
fail:
	if (ai)
		freeaddrinfo(ai);
	if (l->id && rdma_destroy_id(l->id))
		rfs_warn("xprt: rdma: rdma_destroy_id(listener): %s",
			 strerror(errno));
	if (l->ch)
		rdma_destroy_event_channel(l->ch);
	free(l);
	return rc;
}

int rfs_rdma_listener_fd(const struct rfs_rdma_listener *l)
{
	return l ? l->ch->fd : -1;
}

const char *rfs_rdma_listener_name(const struct rfs_rdma_listener *l)
{
	return l ? l->name : "";
}

/* A request with a registered token goes to its connection: 0 or -errno. */
static int hand_over(struct rfs_rdma_listener *l, struct rdma_cm_id *child,
		     const uint8_t *tok)
{
	struct rdma_wait *w, *hit = NULL;
	int rc = -ENOENT;

	pthread_mutex_lock(&shared_mu);
	for (w = waiting; w; w = w->next)
		if (token_eq(w->token, tok) && !hit)
			hit = w;
	/* an entry that has its request already: a replay, refuse it */
	if (hit && !hit->id) {
		if (rdma_migrate_id(child, hit->ch)) {
			rc = -errno;
			rfs_err("xprt: rdma listener %s: rdma_migrate_id: %s",
				l->name, strerror(-rc));
		} else {
			uint64_t one = 1;

			hit->id = child;
			rc = 0;
			/* cannot fail (counter far from overflow); if it
			   did, the connection notices at its deadline */
			if (write(hit->efd, &one, sizeof(one)) !=
			    (ssize_t)sizeof(one))
				rfs_warn("xprt: rdma listener %s: eventfd: %s",
					 l->name, strerror(errno));
		}
	}
	pthread_mutex_unlock(&shared_mu);
	return rc;
}

static void reject_child(struct rfs_rdma_listener *l, struct rdma_cm_id *child,
			 const char *why)
{
	char pa[80] = "?";

	rfs_addr_fmt(rdma_get_peer_addr(child), sizeof(struct sockaddr_storage),
		     pa, sizeof(pa));
	if (rfs_ratelimit_ok(&l->rl))
		rfs_warn("xprt: rdma listener %s: connection request from %s "
			 "with %s: refused",
			 l->name, pa, why);
	if (rdma_reject(child, NULL, 0))
		rfs_warn("xprt: rdma listener %s: rdma_reject(%s): %s", l->name,
			 pa, strerror(errno));
	if (rdma_destroy_id(child))
		rfs_warn("xprt: rdma listener %s: rdma_destroy_id(%s): %s",
			 l->name, pa, strerror(errno));
}

void rfs_rdma_listener_run(struct rfs_rdma_listener *l)
{
	if (!l)
		return;
	for (;;) {
		uint8_t tok[RDMA_TOKEN_LEN];
		struct rdma_cm_event *ev;
		struct rdma_cm_id *child;
		enum rdma_cm_event_type type;
		bool have;
		int rc;

		if (rdma_get_cm_event(l->ch, &ev)) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				rfs_err_rl("xprt: rdma listener %s: "
					   "rdma_get_cm_event: %s",
					   l->name, strerror(errno));
			return;
		}
		type = ev->event;
		if (type != RDMA_CM_EVENT_CONNECT_REQUEST) {
			int status = ev->status;

			rdma_ack_cm_event(ev);
			if (type == RDMA_CM_EVENT_DEVICE_REMOVAL)
				rfs_err("xprt: rdma listener %s: RDMA device "
					"removed: no new rdma connections "
					"(restart ringfsd)",
					l->name);
			else
				rfs_dbg(RFS_SUB_XPRT,
					"xprt: rdma listener "
					"%s: cm event %s (status %d)",
					l->name, rdma_event_str(type), status);
			continue;
		}
		child = ev->id;
		have = ev->param.conn.private_data &&
		       ev->param.conn.private_data_len >= RDMA_TOKEN_LEN;
		if (have)
			memcpy(tok, ev->param.conn.private_data, sizeof(tok));
		/* acked first: rdma_migrate_id waits for unacked events */
		rdma_ack_cm_event(ev);
		if (!have) {
			reject_child(l, child, "no session token");
			continue;
		}
		rc = hand_over(l, child, tok);
		if (rc == -ENOENT)
			reject_child(l, child,
				     "an unknown or stale session "
				     "token");
		else if (rc)
			reject_child(l, child,
				     "a valid token that could not "
				     "be handed over");
	}
}

void rfs_rdma_listener_close(struct rfs_rdma_listener *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&shared_mu);
	if (shared == l)
		shared = NULL;
	pthread_mutex_unlock(&shared_mu);
	if (rdma_destroy_id(l->id))
		rfs_warn("xprt: rdma listener %s: rdma_destroy_id: %s", l->name,
			 strerror(errno));
	rdma_destroy_event_channel(l->ch);
	free(l);
}

/* Unregister w; returns the request handed over meanwhile, or NULL. */
static struct rdma_cm_id *wait_unlink(struct rdma_wait *w)
{
	struct rdma_cm_id *id;

	pthread_mutex_lock(&shared_mu);
	for (struct rdma_wait **pp = &waiting; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	id = w->id;
	w->id = NULL;
	pthread_mutex_unlock(&shared_mu);
	return id;
}

/*
 * Shared listener: wait for the request with our token (w registered),
 * bounded by the deadline and the control socket; then unregister.  On
 * success c->id is the request, on c->cm_ch.
 */
static int await_handover(struct rdma_conn *c, struct rdma_wait *w,
			  long long deadline)
{
	struct rdma_cm_id *id;
	int rc = 0;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = w->efd, .events = POLLIN },
			{ .fd = c->fd, .events = POLLIN },
		};
		long long left = deadline - rfs_now_ms();
		bool got;
		int n;

		pthread_mutex_lock(&shared_mu);
		got = w->id != NULL;
		pthread_mutex_unlock(&shared_mu);
		if (got)
			break;
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		n = poll(p, 2, (int)left);
		if (n < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		/* the control socket says nothing in setup: it closed */
		if (n > 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			rc = -ECONNABORTED;
			break;
		}
	}
	id = wait_unlink(w);
	if (id && rc) {
		/* it came as we gave up: ours to refuse */
		if (rdma_reject(id, NULL, 0))
			rfs_warn("xprt: %s: rdma_reject: %s", c->desc,
				 strerror(errno));
	}
	if (id)
		id->context = c; /* was the listener's */
	c->id = id;		 /* released with the connection on failure */
	if (rc)
		rfs_err("xprt: %s: waiting for the RDMA connection: %s",
			c->desc, strerror(-rc));
	return rc;
}

static int reply(struct rdma_conn *c, struct rdma_setup_rep *rep, int status,
		 long long deadline)
{
	rep->magic = htole32(RDMA_SETUP_MAGIC);
	rep->version = htole16(RDMA_SETUP_VERSION);
	rep->status = (int32_t)htole32((uint32_t)status);
	return io_full(c->fd, rep, sizeof(*rep), true, deadline);
}

/* Per-connection listener: wait for the client's rdma_connect with our
   token; reject others.  On success c->id is the request. */
static int await_client(struct rdma_conn *c, long long deadline)
{
	struct rdma_cm_event *ev;
	int rc;

	for (;;) {
		struct rdma_cm_id *child;
		bool ok;

		rc = cm_next(c, deadline, &ev);
		if (rc) {
			rfs_err("xprt: %s: waiting for the RDMA connection: "
				"%s",
				c->desc, strerror(-rc));
			return rc;
		}
		if (ev->event != RDMA_CM_EVENT_CONNECT_REQUEST) {
			rfs_dbg(RFS_SUB_XPRT, "xprt: %s: cm event %s", c->desc,
				rdma_event_str(ev->event));
			rdma_ack_cm_event(ev);
			continue;
		}
		child = ev->id;
		ok = ev->param.conn.private_data &&
		     ev->param.conn.private_data_len >= RDMA_TOKEN_LEN &&
		     token_eq(ev->param.conn.private_data, c->token);
		rdma_ack_cm_event(ev);
		if (!ok) {
			char pa[80] = "?";

			rfs_addr_fmt(rdma_get_peer_addr(child),
				     sizeof(struct sockaddr_storage), pa,
				     sizeof(pa));
			rfs_warn("xprt: %s: RDMA connection from %s with a "
				 "wrong session token: refused",
				 c->desc, pa);
			rdma_reject(child, NULL, 0);
			rdma_destroy_id(child);
			continue;
		}
		c->id = child;
		return 0;
	}
}

/* c->id is the client's request: QP, accept, ESTABLISHED. */
static int accept_request(struct rdma_conn *c, long long deadline)
{
	struct rdma_conn_param cp;
	int rc;

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

/*
 * The process's shared listener, if one is open: 1 and the reply names
 * its address (a wildcard one: the address the client reached us at)
 * and port; 0 when there is none; -errno.
 */
static int shared_target(struct rdma_conn *c, struct rdma_setup_rep *rep)
{
	bool wildcard = false;
	int rc = 0;

	pthread_mutex_lock(&shared_mu);
	if (shared) {
		memcpy(rep->addr, shared->addr, sizeof(rep->addr));
		rep->port = htole16(shared->port);
		wildcard = shared->wildcard;
		rc = 1;
	}
	pthread_mutex_unlock(&shared_mu);
	if (rc && wildcard) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(c->fd, (struct sockaddr *)&ss, &len))
			return -errno;
		rc = numeric_ip((const struct sockaddr *)&ss, rep->addr,
				sizeof(rep->addr));
		if (rc)
			return rc;
		rc = 1;
	}
	return rc;
}

int rfs_rdma_accept(struct rfs_xprt *x, int fd, struct rfs_conn **out)
{
	struct rdma_xprt *t = RX(x);
	long long deadline = rfs_now_ms() + SETUP_TIMEOUT_MS;
	struct rdma_setup_req req;
	struct rdma_setup_rep rep;
	struct rdma_wait w = { .efd = -1 };
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct rdma_conn *c;
	char host[64], port[8];
	bool share;
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
	/* unknown flags are ignored: a later client may offer more */
	c->push = (le16toh(req.flags) & RDMA_SETUPF_PUSH) &&
		  rfs_rdma_push_allowed(false);
	if (!peer_params(c, req.credits, req.inline_max, req.max_msg)) {
		rfs_err_rl("xprt: rdma: setup request: bad parameters");
		rc = -EPROTO;
		reply(c, &rep, rc, deadline);
		goto fail;
	}
	if (!t->base.params.rdma_addr ||
	    rdma_hostport(t->base.params.rdma_addr, host, sizeof(host), port,
			  sizeof(port))) {
		rfs_err_rl("xprt: rdma: a client asks for rdma, but the "
			   "server has no RDMA address (--listen-rdma)");
		rc = -EADDRNOTAVAIL;
		reply(c, &rep, rc, deadline);
		goto fail;
	}
	rc = cm_channel_open(c);
	if (rc)
		goto fail_reply;
	/* the process's shared listener (--listen-rdma ADDR:PORT), if open */
	rc = shared_target(c, &rep);
	if (rc < 0) {
		rfs_err("xprt: rdma: local address: %s", strerror(-rc));
		goto fail_reply;
	}
	share = rc == 1;
	if (share) {
		w.ch = c->cm_ch;
		w.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w.efd < 0) {
			rc = -errno;
			rfs_err("xprt: rdma: eventfd: %s", strerror(-rc));
			goto fail_reply;
		}
	} else {
		if (rdma_create_id(c->cm_ch, &c->lid, c, RDMA_PS_TCP)) {
			rc = -errno;
			rfs_err("xprt: rdma: rdma_create_id: %s",
				strerror(-rc));
			goto fail_reply;
		}
		/* the port of --listen-rdma is the shared listener's: here
		   an ephemeral one for this connection alone */
		rc = getaddrinfo(host, "0", &hints, &ai);
		if (rc) {
			rfs_err("xprt: rdma: --listen-rdma %s: %s",
				t->base.params.rdma_addr, gai_strerror(rc));
			rc = -EADDRNOTAVAIL;
			goto fail_reply;
		}
		if (rdma_bind_addr(c->lid, ai->ai_addr) ||
		    rdma_listen(c->lid, 4)) {
			rc = -errno;
			rfs_err("xprt: rdma: listen on %s: %s", host,
				strerror(-rc));
			goto fail_reply;
		}
		rep.port = htole16(ntohs(rdma_get_src_port(c->lid)));
		/* the numeric address we are bound to, for the client */
		rc = numeric_ip(rdma_get_local_addr(c->lid), rep.addr,
				sizeof(rep.addr));
		if (rc)
			goto fail_reply;
	}
	snprintf(c->desc, sizeof(c->desc), "rdma %s:%u (accepting%s)", rep.addr,
		 le16toh(rep.port), share ? ", shared port" : "");
	if (getrandom(c->token, sizeof(c->token), 0) !=
	    (ssize_t)sizeof(c->token)) {
		rc = -errno;
		rfs_err("xprt: rdma: getrandom: %s", strerror(-rc));
		goto fail_reply;
	}
	memcpy(rep.token, c->token, sizeof(rep.token));
	rep.credits = htole32(c->nrecv);
	rep.inline_max = htole32(t->pool.cls[0].size);
	rep.max_msg = htole32(t->base.params.max_msg);
	rep.flags = htole16(c->push ? RDMA_SETUPF_PUSH : 0);
	if (share) {
		/* registered before the client can know the token */
		memcpy(w.token, c->token, sizeof(w.token));
		pthread_mutex_lock(&shared_mu);
		w.next = waiting;
		waiting = &w;
		pthread_mutex_unlock(&shared_mu);
	}
	rc = reply(c, &rep, 0, deadline);
	if (rc) {
		rfs_err("xprt: %s: setup reply: %s", c->desc, strerror(-rc));
		if (share)
			c->id = wait_unlink(&w); /* released below */
		goto fail;
	}
	rc = share ? await_handover(c, &w, deadline) :
		     await_client(c, deadline);
	if (rc)
		goto fail;
	rc = accept_request(c, deadline);
	if (rc)
		goto fail;
	if (c->lid) {
		/* one connection per listener: no one else may knock */
		rdma_destroy_id(c->lid);
		c->lid = NULL;
	}
	rc = conn_go(c);
	if (rc)
		goto fail;
	freeaddrinfo(ai);
	if (w.efd >= 0)
		close(w.efd);
	*out = (struct rfs_conn *)(void *)c;
	return 0;

fail_reply:
	memset(&rep, 0, sizeof(rep));
	reply(c, &rep, rc, deadline);
fail:
	if (ai)
		freeaddrinfo(ai);
	if (w.efd >= 0)
		close(w.efd);
	conn_abort(c);
	return rc;
}
