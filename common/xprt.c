// SPDX-License-Identifier: MIT
/*
 * xprt: the registry of transports and the thin wrappers around their ops
 * tables.  A NULL slot means "unsupported": the wrapper returns
 * -EOPNOTSUPP so that callers never test slots themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "capture.h"
#include "log.h"
#include "ringfs_proto.h"
#include "spin.h"
#include "tls.h"
#include "util.h"
#include "xprt_impl.h"
#include "xprt_rdma.h"

/*
 * The transports this build has, in order of preference for
 * transport=auto: same-host bypass, then RDMA, then the io_uring stream,
 * then plain sockets.  Callers choose by capability (rfs_xprt_pick).
 */
static const struct rfs_xprt_ops *const xprt_table[] = {
#if HAVE_SHM
	&rfs_xprt_shm_ops,
#endif
#if HAVE_RDMA
	&rfs_xprt_rdma_ops,
#endif
#if HAVE_URING
	&rfs_xprt_uring_ops,
#endif
	&rfs_xprt_tcp_ops,
};
#define XPRT_N (sizeof(xprt_table) / sizeof(xprt_table[0]))

/* Known to the design, and what to do when they are missing. */
static const struct {
	const char *name;
	const char *how;
} xprt_missing[] = {
	{ "uring",
	  "rebuild with liburing >= 2.3 installed and -During=enabled" },
	{ "shm", "rebuild on Linux with -Dshm=enabled" },
	{ "rdma", "rebuild with rdma-core installed (Debian: libibverbs-dev "
		  "librdmacm-dev) and -Drdma=enabled" },
};

const char *rfs_xprt_built(void)
{
	static const char built[] = "tcp"
#if HAVE_URING
				    " uring"
#endif
#if HAVE_SHM
				    " shm"
#endif
#if HAVE_RDMA
				    " rdma"
#endif
		;
	return built;
}

bool rfs_xprt_is_built(const char *name)
{
	if (!name)
		return false;
	for (size_t i = 0; i < XPRT_N; i++)
		if (!strcmp(xprt_table[i]->desc.name, name))
			return true;
	return false;
}

void rfs_xprt_params_default(struct rfs_xprt_params *p)
{
	memset(p, 0, sizeof(*p));
	p->max_msg = RFS_MSG_MAX_DEFAULT;
	p->depth = 64;
	p->sqpoll = false;
	p->zc_send = true;
	p->spin_us = -1;
}

static const struct rfs_xprt_ops *xops(const struct rfs_xprt *x)
{
	return ((const struct rfs_xprt_base *)(const void *)x)->ops;
}

static const struct rfs_xprt_ops *cops(const struct rfs_conn *c)
{
	return ((const struct rfs_conn_base *)(const void *)c)->ops;
}

int rfs_xprt_open(const char *name, const struct rfs_xprt_params *p,
		  struct rfs_xprt **out)
{
	const struct rfs_xprt_ops *ops = NULL;
	struct rfs_xprt_params def;
	struct rfs_xprt *x = NULL;
	int rc;

	*out = NULL;
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < XPRT_N; i++)
		if (!strcmp(xprt_table[i]->desc.name, name))
			ops = xprt_table[i];
	if (!ops) {
		for (size_t i = 0;
		     i < sizeof(xprt_missing) / sizeof(xprt_missing[0]); i++) {
			if (!strcmp(xprt_missing[i].name, name)) {
				rfs_err("xprt: transport '%s' is not built: "
					"%s (built: %s)",
					name, xprt_missing[i].how,
					rfs_xprt_built());
				return -ENOTSUP;
			}
		}
		rfs_err("xprt: unknown transport '%s' (built: %s)", name,
			rfs_xprt_built());
		return -ENOENT;
	}
	if (!p) {
		rfs_xprt_params_default(&def);
		p = &def;
	}
	if (p->max_msg < RFS_HDR_SIZE || p->max_msg > RFS_MSG_MAX_LIMIT) {
		rfs_err("xprt: %s: max_msg %u out of range [%u, %u]", name,
			p->max_msg, RFS_HDR_SIZE, RFS_MSG_MAX_LIMIT);
		return -EINVAL;
	}
	if (!ops->init)
		return -EOPNOTSUPP;
	rc = ops->init(p, &x);
	if (rc)
		return rc;
	/* a transport may leave these to us */
	((struct rfs_xprt_base *)(void *)x)->ops = ops;
	*out = x;
	return 0;
}

void rfs_xprt_close(struct rfs_xprt *x)
{
	if (x && xops(x)->fini)
		xops(x)->fini(x);
}

const char *rfs_xprt_name(const struct rfs_xprt *x)
{
	return xops(x)->desc.name;
}

unsigned rfs_xprt_flags(const struct rfs_xprt *x)
{
	return xops(x)->desc.flags;
}

const struct rfs_xprt_desc *rfs_xprt_at(size_t i)
{
	return i < XPRT_N ? &xprt_table[i]->desc : NULL;
}

const struct rfs_xprt_desc *rfs_xprt_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < XPRT_N; i++)
		if (!strcmp(xprt_table[i]->desc.name, name))
			return &xprt_table[i]->desc;
	return NULL;
}

const char *rfs_xprt_pick(unsigned flags)
{
	for (size_t i = 0; i < XPRT_N; i++)
		if ((xprt_table[i]->desc.flags & flags) == flags)
			return xprt_table[i]->desc.name;
	return NULL;
}

/*
 * The source port of a TCP connection: root's come from a privileged
 * port (rfs_addr_bind_resvport), which only root can bind, so that
 * ringfsd may let it act as its users without a key (ringfsd(8),
 * privport).  Anyone else, or root when no such port is free (or the
 * kernel refuses: root of a user namespace), gets an ephemeral one.
 * Returns a new socket for a, or -errno.
 */
static int stream_socket(const struct rfs_addr *a, bool *resv, unsigned *next)
{
	int fam = a->ss.ss_family;
	int fd, rc;

	fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		rfs_err("xprt: socket for %s: %s", a->text, strerror(-rc));
		return rc;
	}
	if (!*resv)
		return fd;
	rc = rfs_addr_bind_resvport(fd, fam, next);
	if (rc >= 0)
		return fd;
	*resv = false;
	if (rc == -EACCES || rc == -EPERM)
		rfs_dbg(RFS_SUB_XPRT,
			"xprt: %s: may not bind a privileged source port: %s",
			a->text, strerror(-rc));
	else
		rfs_warn("xprt: connect to %s: no privileged source port "
			 "(%u..%u) to bind: %s; connecting from an "
			 "unprivileged one, from which ringfsd lets no one "
			 "act as another user without a key (see ringfsd(8), "
			 "privport)",
			 a->text, RFS_RESVPORT_LO, RFS_RESVPORT_HI,
			 strerror(-rc));
	/* a socket that failed to bind may still connect */
	return fd;
}

/* Blocking-with-timeout connect; returns a connected fd or -errno. */
static int connect_fd(const struct rfs_addr *a, int timeout_ms)
{
	int fam = a->ss.ss_family;
	bool resv = (fam == AF_INET || fam == AF_INET6) && geteuid() == 0;
	unsigned next = (unsigned)(rfs_now_ns() ^ (uint64_t)getpid());
	unsigned tries = 0;
	long long deadline;
	int fd, rc, err;
	socklen_t elen = sizeof(err);

again:
	fd = stream_socket(a, &resv, &next);
	if (fd < 0)
		return fd;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		goto connected;
	/*
	 * The port we bound is free but not towards this server (a former
	 * connection from it in TIME_WAIT): the next one, on a new socket.
	 */
	if (resv && (errno == EADDRNOTAVAIL || errno == EADDRINUSE) &&
	    ++tries <= RFS_RESVPORT_HI - RFS_RESVPORT_LO) {
		close(fd);
		goto again;
	}
	if (errno != EINPROGRESS && errno != EAGAIN) {
		rc = -errno;
		goto fail;
	}
	deadline = timeout_ms < 0 ? -1 : rfs_now_ms() + timeout_ms;
	rc = rfs_poll_until(fd, POLLOUT, deadline);
	if (rc)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen)) {
		rc = -errno;
		goto fail;
	}
	if (err) {
		rc = -err;
		goto fail;
	}
connected:
	if (fam == AF_INET || fam == AF_INET6) {
		int one = 1;

		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			       sizeof(one))) {
			rc = -errno;
			rfs_err("xprt: %s: TCP_NODELAY: %s", a->text,
				strerror(-rc));
			goto close_fd;
		}
	}
	return fd;
fail:
	rfs_err("xprt: connect to %s: %s", a->text, strerror(-rc));
close_fd:
	close(fd);
	return rc;
}

int rfs_xprt_connect(struct rfs_xprt *x, const struct rfs_addr *a,
		     int timeout_ms, struct rfs_conn **out)
{
	int fd, rc;

	*out = NULL;
	if (!xops(x)->adopt)
		return -EOPNOTSUPP;
	fd = connect_fd(a, timeout_ms);
	if (fd < 0)
		return fd;
	rc = xops(x)->adopt(x, fd, out);
	if (rc) {
		rfs_err("xprt: %s: adopt connection to %s: %s",
			xops(x)->desc.name, a->text, strerror(-rc));
		close(fd);
	}
	return rc;
}

int rfs_xprt_adopt_tls(struct rfs_xprt *x, int fd, struct rfs_tls *t,
		       struct rfs_conn **out)
{
	struct rfs_conn_base *b;
	bool ktls;
	int rc;

	*out = NULL;
	if (!t)
		return rfs_xprt_adopt(x, fd, out);
	if (!(xops(x)->desc.flags & RFS_XPRT_F_STREAM) || !xops(x)->adopt) {
		rfs_err("xprt: %s carries no TLS (only the byte streams do)",
			xops(x)->desc.name);
		rfs_tls_free(t);
		return -EOPNOTSUPP;
	}
	rc = rfs_tls_ktls(t);
	if (rc == -EIO) {
		rfs_tls_free(t);
		return rc;
	}
	ktls = rc == 0;
	if (!ktls)
		rfs_dbg(RFS_SUB_XPRT,
			"xprt: no kernel TLS (%s): records are encrypted in "
			"user space",
			strerror(-rc));
	rc = xops(x)->adopt(x, fd, out);
	if (rc) {
		rfs_tls_free(t);
		return rc;
	}
	b = (struct rfs_conn_base *)(void *)*out;
	snprintf(b->tls_desc, sizeof(b->tls_desc), "%s", rfs_tls_desc(t));
	b->ktls = ktls;
	if (ktls)
		rfs_tls_free(t);
	else
		b->tls = t;
	return 0;
}

int rfs_xprt_connect_tls(struct rfs_xprt *x, const struct rfs_addr *a,
			 int timeout_ms, struct rfs_tls_ctx *ctx,
			 struct rfs_conn **out)
{
	long long deadline = timeout_ms < 0 ? -1 : rfs_now_ms() + timeout_ms;
	struct rfs_tls *t;
	char err[256];
	int fd, rc;

	*out = NULL;
	if (!ctx)
		return rfs_xprt_connect(x, a, timeout_ms, out);
	fd = connect_fd(a, timeout_ms);
	if (fd < 0)
		return fd;
	rc = rfs_tls_handshake(ctx, fd, -1, deadline, &t, err, sizeof(err));
	if (rc) {
		rfs_err("xprt: %s: %s", a->text, err);
		close(fd);
		return rc;
	}
	rc = rfs_xprt_adopt_tls(x, fd, t, out);
	if (rc) {
		rfs_err("xprt: %s: adopt connection to %s: %s",
			xops(x)->desc.name, a->text, strerror(-rc));
		close(fd);
	}
	return rc;
}

const char *rfs_conn_tls(const struct rfs_conn *c)
{
	const struct rfs_conn_base *b = (const void *)c;

	return c && b->tls_desc[0] ? b->tls_desc : NULL;
}

int rfs_xprt_adopt(struct rfs_xprt *x, int fd, struct rfs_conn **out)
{
	*out = NULL;
	if (!xops(x)->adopt)
		return -EOPNOTSUPP;
	return xops(x)->adopt(x, fd, out);
}

int rfs_xprt_accept(struct rfs_xprt *x, int fd, struct rfs_conn **out)
{
	*out = NULL;
	if (xops(x)->accept)
		return xops(x)->accept(x, fd, out);
	if (!xops(x)->adopt)
		return -EOPNOTSUPP;
	return xops(x)->adopt(x, fd, out);
}

const char *rfs_xprt_sniff(const void *first4, const char *stream)
{
	uint32_t m;

	memcpy(&m, first4, sizeof(m));
	if (m == RFS_MAGIC)
		return stream;
	for (size_t i = 0; i < XPRT_N; i++)
		if (xprt_table[i]->setup_magic &&
		    xprt_table[i]->setup_magic == m)
			return xprt_table[i]->desc.name;
	return NULL;
}

void rfs_xprt_disconnect(struct rfs_conn *c)
{
	if (c && cops(c)->disconnect)
		cops(c)->disconnect(c);
}

void rfs_xprt_conn_free(struct rfs_conn *c)
{
	if (c && cops(c)->conn_free)
		cops(c)->conn_free(c);
}

void rfs_conn_set_ctx(struct rfs_conn *c, void *ctx)
{
	((struct rfs_conn_base *)(void *)c)->ctx = ctx;
}

void *rfs_conn_ctx(const struct rfs_conn *c)
{
	return ((const struct rfs_conn_base *)(const void *)c)->ctx;
}

const char *rfs_conn_desc(const struct rfs_conn *c)
{
	if (!c)
		return "(no conn)";
	if (!cops(c)->conn_desc)
		return cops(c)->desc.name;
	return cops(c)->conn_desc(c);
}

void rfs_xprt_progress(const struct rfs_conn *c, struct rfs_xprt_progress *p,
		       bool deep)
{
	memset(p, 0, sizeof(*p));
	if (c && cops(c)->progress)
		cops(c)->progress(c, p, deep);
}

struct rfs_buf *rfs_xprt_buf_get(struct rfs_xprt *x, uint32_t size)
{
	if (!xops(x)->buf_get)
		return NULL;
	return xops(x)->buf_get(x, size);
}

void rfs_xprt_buf_put(struct rfs_xprt *x, struct rfs_buf *b)
{
	if (b && xops(x)->buf_put)
		xops(x)->buf_put(x, b);
}

/*
 * The capture hooks (capture.h): the one place each frame passes on its
 * way out (send) and in (poll's RECV events), on every transport.  Off,
 * one never-taken branch.
 */
#define CAPTURE_ON()      \
	__builtin_expect( \
		atomic_load_explicit(&rfs_cap_on, memory_order_relaxed), 0)

static void capture_in(struct rfs_xev *ev, int n)
{
	for (int i = 0; i < n; i++)
		if (ev[i].type == RFS_XEV_RECV && ev[i].buf)
			rfs_cap_frame(ev[i].conn, ev[i].buf->data,
				      ev[i].buf->len, RFS_CAP_IN);
}

int rfs_xprt_send(struct rfs_conn *c, struct rfs_buf *b, unsigned flags)
{
	if (CAPTURE_ON() && b)
		rfs_cap_frame(c, b->data, b->len, RFS_CAP_OUT);
	if (!cops(c)->send)
		return -EOPNOTSUPP;
	return cops(c)->send(c, b, flags);
}

int rfs_xprt_send_expect(struct rfs_conn *c, struct rfs_buf *b, unsigned flags,
			 uint32_t reply_max)
{
	if (!cops(c)->send_expect)
		return rfs_xprt_send(c, b, flags);
	if (CAPTURE_ON() && b)
		rfs_cap_frame(c, b->data, b->len, RFS_CAP_OUT);
	return cops(c)->send_expect(c, b, flags, reply_max);
}

int rfs_xprt_send_fd(struct rfs_conn *c, int fd, uint64_t token)
{
	if (!cops(c)->send_fd)
		return -EOPNOTSUPP;
	return cops(c)->send_fd(c, fd, token);
}

int rfs_xprt_take_fd(struct rfs_conn *c, uint64_t token)
{
	if (!cops(c)->take_fd)
		return -EOPNOTSUPP;
	return cops(c)->take_fd(c, token);
}

int rfs_xprt_flush(struct rfs_xprt *x)
{
	if (!xops(x)->flush)
		return -EOPNOTSUPP;
	return xops(x)->flush(x);
}

int rfs_xprt_poll(struct rfs_xprt *x, struct rfs_xev *ev, int max)
{
	int n;

	if (!xops(x)->poll)
		return -EOPNOTSUPP;
	n = xops(x)->poll(x, ev, max);
	if (CAPTURE_ON() && n > 0)
		capture_in(ev, n);
	return n;
}

int rfs_xprt_arm(struct rfs_xprt *x)
{
	if (!xops(x)->arm)
		return -EOPNOTSUPP;
	return xops(x)->arm(x);
}

int rfs_xprt_sleep(struct rfs_xprt *x, int timeout_ms, const int *fds,
		   unsigned nfds, unsigned *fired)
{
	*fired = 0;
	if (!xops(x)->sleep || nfds > RFS_XPRT_WATCH_MAX)
		return -EOPNOTSUPP;
	return xops(x)->sleep(x, timeout_ms, fds, nfds, fired);
}

void rfs_xprt_spin(struct rfs_xprt *x, bool allow)
{
	((struct rfs_xprt_base *)(void *)x)->nospin = !allow;
}

void rfs_xprt_wait_quiet(struct rfs_xprt *x)
{
	((struct rfs_xprt_base *)(void *)x)->quiet = true;
}

int rfs_xprt_wait_fd(const struct rfs_xprt *x)
{
	if (!xops(x)->wait_fd)
		return -EOPNOTSUPP;
	return xops(x)->wait_fd(x);
}

void rfs_xprt_get_stats(const struct rfs_xprt *x, struct rfs_xprt_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (xops(x)->stats)
		xops(x)->stats(x, s);
}

#if !HAVE_RDMA
/* rdma not built: no shared listener (xprt_rdma_setup.c has the real one) */
int rfs_rdma_listen(const char *spec, struct rfs_rdma_listener **out)
{
	*out = NULL;
	rfs_err("listen-rdma %s: the rdma transport is not built (built: %s)",
		spec, rfs_xprt_built());
	return -ENOTSUP;
}

int rfs_rdma_listener_fd(const struct rfs_rdma_listener *l)
{
	(void)l;
	return -1;
}

const char *rfs_rdma_listener_name(const struct rfs_rdma_listener *l)
{
	(void)l;
	return "";
}

void rfs_rdma_listener_run(struct rfs_rdma_listener *l)
{
	(void)l;
}

void rfs_rdma_listener_close(struct rfs_rdma_listener *l)
{
	(void)l;
}
#endif
