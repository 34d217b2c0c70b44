// SPDX-License-Identifier: MIT
/*
 * xprt_tcp: the baseline transport.  Plain nonblocking stream sockets (TCP
 * or Unix) and one level-triggered epoll instance per context; the epoll
 * fd is the context's wait_fd.
 *
 * Receive path.  Each connection has a small staging area.  While no frame
 * is in progress we read into the staging area; every complete header
 * found there is checked (rfs_proto_check_hdr), a pool buffer of exactly
 * header + payload is taken, and the bytes already staged are copied into
 * it (small frames: one extra user-space copy, counted in copies_bytes).
 * While a frame is in progress, readv reads the rest of it straight into
 * the message buffer (iov[0]) and any following bytes into the staging
 * area (iov[1]): a large payload crosses from the kernel once and is never
 * copied again.
 *
 * A context with one connection (a client's; ringfsd gives each
 * connection a context of its own) and nothing lingering reads that
 * connection straight from poll, without an epoll_wait to name it.
 *
 * Send path.  rfs_xprt_send only queues; flush (called by poll, arm and
 * rfs_xprt_flush) writes each connection's queue with sendmsg and up to
 * XMIT_IOV frames per call, resuming after partial writes.  EPOLLOUT is
 * armed only while a queue could not be drained.
 *
 * Teardown.  A dead connection completes every queued send (a SEND event
 * with an error for RFS_SEND_NOTIFY ones, silently back to the pool for
 * others), then delivers exactly one CONN_DOWN.  Closing the context
 * (fini) frees every connection and buffer; events not yet reaped are
 * dropped, and buffers still lent to the caller become invalid: callers
 * put their buffers back before rfs_xprt_close.
 *
 * rfs_xprt_disconnect stops reading, drains the send queue, then delivers
 * CONN_DOWN 0; the socket itself lingers (write side shut down, input
 * discarded) until the peer's EOF so that a RST cannot eat our last
 * frames.  Peer EOF between frames is CONN_DOWN 0; EOF inside a frame is
 * -ECONNRESET.
 *
 * Checksums are the session layer's business, not ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "proto.h"
#include "bufpool.h"
#include "evq.h"
#include "tls.h"
#include "util.h"
#include "xprt_impl.h"

#define STAGE_SIZE 16384u /* per-connection staging area */
#define XMIT_IOV 64	  /* frames per sendmsg */
#define EPOLL_BATCH 64
#define READS_PER_POLL 16 /* fairness between connections */

struct tcp_buf {
	union {
		struct rfs_pool_buf pb; /* first: the pool's part */
		struct rfs_buf b;	/* what the caller sees */
	};
	struct tcp_buf *next; /* send queue */
	uint16_t send_flags;
};

enum conn_state {
	CS_UP,
	CS_CLOSING, /* local disconnect: drain the send queue, no reads */
	CS_DOWN,    /* CONN_DOWN queued; waiting for conn_free */
};

struct tcp_conn {
	struct rfs_conn_base base;
	struct tcp_xprt *tx;
	int fd;
	enum conn_state state;
	bool inet;		      /* TCP, not a Unix socket */
	uint32_t ep_events;	      /* what epoll currently watches */
	struct tcp_conn *prev, *next; /* every live connection */
	struct tcp_conn *dirty_next;  /* has unflushed sends */
	bool dirty;

	/* receive */
	struct tcp_buf *rx; /* frame in progress */
	uint32_t rx_got;    /* bytes of it received */
	uint32_t st_len;    /* bytes in stage */
	uint64_t rx_moved;  /* bytes received, ever (rfs_xprt_progress) */
	/* send */
	struct tcp_buf *txq_head, *txq_tail;
	uint32_t tx_off;   /* bytes of txq_head already sent */
	uint64_t tx_moved; /* bytes sent, ever */

	char desc[160];
	alignas(8) uint8_t stage[STAGE_SIZE];
};

/*
 * A locally closed connection whose CONN_DOWN is already delivered: we
 * shut down our sending side and discard what the peer still sends until
 * its EOF, then close.  Closing at once with unread bytes in the receive
 * queue would make the kernel send a RST, which can destroy our last
 * frames before the peer reads them.  A zombie lives until the peer closes
 * or the context is closed.  Tagged with bit 0 in epoll's data.
 */
struct tcp_zombie {
	int fd;
	struct tcp_zombie *prev, *next;
};

struct tcp_xprt {
	struct rfs_xprt_base base;
	int epfd;
	struct tcp_conn *conns;
	struct tcp_conn *dirty;
	struct tcp_zombie *zombies;
	struct rfs_pool pool;

	/* events waiting to be reaped: a growable ring */
	struct rfs_evq evq;

	struct rfs_xprt_stats st;
};

static struct tcp_xprt *TX(struct rfs_xprt *x)
{
	return (struct tcp_xprt *)(void *)x;
}

static struct tcp_conn *TC(struct rfs_conn *c)
{
	return (struct tcp_conn *)(void *)c;
}

/* ---- buffer pool ------------------------------------------------------ */

static struct tcp_buf *pool_get(struct tcp_xprt *t, uint32_t size)
{
	struct tcp_buf *tb = (struct tcp_buf *)rfs_pool_get(&t->pool, size);

	if (!tb)
		return NULL;
	tb->next = NULL;
	tb->send_flags = 0;
	t->st.bufs_out++;
	return tb;
}

static void pool_put(struct tcp_xprt *t, struct tcp_buf *tb)
{
	if (!tb->pb.free)
		t->st.bufs_out--;
	rfs_pool_put(&t->pool, &tb->pb);
}

static struct rfs_buf *tcp_buf_get(struct rfs_xprt *x, uint32_t size)
{
	struct tcp_buf *tb = pool_get(TX(x), size);

	return tb ? &tb->b : NULL;
}

static void tcp_buf_put(struct rfs_xprt *x, struct rfs_buf *b)
{
	if (b)
		pool_put(TX(x), container_of(b, struct tcp_buf, b));
}

/* ---- events ----------------------------------------------------------- */

static int ev_push(struct tcp_xprt *t, enum rfs_xev_type type, int status,
		   struct tcp_conn *c, struct tcp_buf *tb)
{
	return rfs_evq_push(&t->evq, type, status, (struct rfs_conn *)(void *)c,
			    tb ? &tb->b : NULL);
}

/*
 * Event memory can only fail for a pathological number of pending events;
 * there is no way to report it through an event, so we log and drop.  The
 * buffer goes back to the pool so it is at least not leaked.
 */
static void ev_push_or_drop(struct tcp_xprt *t, enum rfs_xev_type type,
			    int status, struct tcp_conn *c, struct tcp_buf *tb)
{
	if (ev_push(t, type, status, c, tb)) {
		rfs_err_rl("xprt: %s: event queue: out of memory, event "
			   "dropped",
			   c->desc);
		if (tb)
			pool_put(t, tb);
	}
}

/* ---- connection teardown ---------------------------------------------- */

static void dirty_remove(struct tcp_xprt *t, struct tcp_conn *c)
{
	struct tcp_conn **pp;

	if (!c->dirty)
		return;
	for (pp = &t->dirty; *pp; pp = &(*pp)->dirty_next) {
		if (*pp == c) {
			*pp = c->dirty_next;
			break;
		}
	}
	c->dirty = false;
	c->dirty_next = NULL;
}

static void conn_down(struct tcp_conn *c, int status)
{
	struct tcp_xprt *t = c->tx;
	struct tcp_buf *tb, *next;
	int send_status = status < 0 ? status : -EPIPE;

	if (c->state == CS_DOWN)
		return;
	c->state = CS_DOWN;
	dirty_remove(t, c);
	if (c->fd >= 0) {
		t->st.syscalls += 2;
		if (epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL))
			rfs_warn("xprt: %s: epoll_ctl(DEL): %s", c->desc,
				 strerror(errno));
		if (close(c->fd))
			rfs_warn("xprt: %s: close: %s", c->desc,
				 strerror(errno));
		c->fd = -1;
	}
	if (c->rx) {
		pool_put(t, c->rx);
		c->rx = NULL;
	}
	for (tb = c->txq_head; tb; tb = next) {
		next = tb->next;
		tb->next = NULL;
		if (tb->send_flags & RFS_SEND_NOTIFY)
			ev_push_or_drop(t, RFS_XEV_SEND, send_status, c, tb);
		else
			pool_put(t, tb);
	}
	c->txq_head = c->txq_tail = NULL;
	c->tx_off = 0;
	rfs_dbg(RFS_SUB_XPRT, "xprt: %s: down (%s)", c->desc,
		status ? strerror(-status) : "closed");
	ev_push_or_drop(t, RFS_XEV_CONN_DOWN, status, c, NULL);
}

static int ep_set(struct tcp_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->ep_events == events)
		return 0;
	c->tx->st.syscalls++;
	if (epoll_ctl(c->tx->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		return -errno;
	c->ep_events = events;
	return 0;
}

/* ---- orderly close ---------------------------------------------------- */

static void zombie_close(struct tcp_xprt *t, struct tcp_zombie *z)
{
	t->st.syscalls += 2;
	if (epoll_ctl(t->epfd, EPOLL_CTL_DEL, z->fd, NULL))
		rfs_warn("xprt: tcp: lingering fd %d: epoll_ctl(DEL): %s",
			 z->fd, strerror(errno));
	if (close(z->fd))
		rfs_warn("xprt: tcp: lingering fd %d: close: %s", z->fd,
			 strerror(errno));
	if (z->prev)
		z->prev->next = z->next;
	else
		t->zombies = z->next;
	if (z->next)
		z->next->prev = z->prev;
	free(z);
}

static void zombie_event(struct tcp_xprt *t, struct tcp_zombie *z, uint32_t evs)
{
	/* one context per thread, so one sink per thread will do */
	static __thread char sink[65536];

	for (int round = 0; round < READS_PER_POLL; round++) {
		ssize_t n;

		t->st.syscalls++;
		n = read(z->fd, sink, sizeof(sink));
		if (n > 0) {
			if ((size_t)n < sizeof(sink))
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* EOF or error: the peer is done with us */
		zombie_close(t, z);
		return;
	}
	if (evs & (EPOLLERR | EPOLLHUP))
		zombie_close(t, z);
}

/* Send queue drained after a local disconnect: CONN_DOWN 0 now, let the
   socket linger until the peer closes. */
static void conn_linger(struct tcp_conn *c)
{
	struct tcp_xprt *t = c->tx;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct tcp_zombie *z = malloc(sizeof(*z));

	if (!z)
		goto down;
	t->st.syscalls++;
	if (shutdown(c->fd, SHUT_WR)) {
		/* ENOTCONN: the peer is gone already, close at once */
		free(z);
		goto down;
	}
	ev.data.u64 = (uint64_t)(uintptr_t)z | 1;
	t->st.syscalls++;
	if (epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev)) {
		rfs_warn("xprt: %s: epoll_ctl(MOD): %s", c->desc,
			 strerror(errno));
		free(z);
		goto down;
	}
	z->fd = c->fd;
	z->prev = NULL;
	z->next = t->zombies;
	if (t->zombies)
		t->zombies->prev = z;
	t->zombies = z;
	c->fd = -1;
down:
	conn_down(c, 0);
}

/* ---- send ------------------------------------------------------------- */

/* Write as much of c's queue as the socket takes.  0 or -errno (then the
   connection is down). */
static int conn_xmit(struct tcp_conn *c)
{
	struct tcp_xprt *t = c->tx;
	struct iovec iov[XMIT_IOV];
	struct msghdr msg = { .msg_iov = iov };
	struct tcp_buf *tb;
	ssize_t n;
	int niov, rc;

	while (c->txq_head) {
		size_t want = 0;

		niov = 0;
		for (tb = c->txq_head; tb && niov < XMIT_IOV; tb = tb->next) {
			uint32_t off = tb == c->txq_head ? c->tx_off : 0;

			iov[niov].iov_base = (char *)tb->b.data + off;
			iov[niov].iov_len = tb->b.len - off;
			want += iov[niov].iov_len;
			niov++;
		}
		msg.msg_iovlen = (size_t)niov;
		t->st.syscalls++;
		if (c->base.tls)
			n = rfs_tls_writev(c->base.tls, iov, niov);
		else
			n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			rc = -errno;
			rfs_dbg(RFS_SUB_XPRT, "xprt: %s: send: %s", c->desc,
				strerror(-rc));
			conn_down(c, rc);
			return rc;
		}
		t->st.bytes_out += (uint64_t)n;
		c->tx_moved += (uint64_t)n;
		/* retire what went out completely */
		while (n > 0) {
			uint32_t left;

			tb = c->txq_head;
			left = tb->b.len - c->tx_off;
			if ((size_t)n < left) {
				c->tx_off += (uint32_t)n;
				break;
			}
			n -= left;
			c->tx_off = 0;
			c->txq_head = tb->next;
			if (!c->txq_head)
				c->txq_tail = NULL;
			tb->next = NULL;
			t->st.frames_out++;
			if (tb->send_flags & RFS_SEND_NOTIFY)
				ev_push_or_drop(t, RFS_XEV_SEND, 0, c, tb);
			else
				pool_put(t, tb);
		}
		/* TLS takes a chunk per call; its full socket is EAGAIN */
		if ((size_t)n < want && c->txq_head && !c->base.tls)
			break; /* socket buffer full: wait for EPOLLOUT */
	}
	if (!c->txq_head && c->state == CS_CLOSING) {
		conn_linger(c);
		return 0;
	}
	{
		uint32_t evs = c->state == CS_UP ? EPOLLIN : 0;

		if (c->txq_head)
			evs |= EPOLLOUT;
		rc = ep_set(c, evs);
		if (rc) {
			rfs_err("xprt: %s: epoll_ctl(MOD): %s", c->desc,
				strerror(-rc));
			conn_down(c, rc);
			return rc;
		}
	}
	return 0;
}

static int tcp_send(struct rfs_conn *cc, struct rfs_buf *b, unsigned flags)
{
	struct tcp_conn *c = TC(cc);
	struct tcp_xprt *t = c->tx;
	struct tcp_buf *tb = container_of(b, struct tcp_buf, b);

	if (c->state != CS_UP) {
		pool_put(t, tb);
		return -ENOTCONN;
	}
	if (b->len < RFS_HDR_SIZE || b->len > b->cap) {
		rfs_err("xprt: %s: send: bad frame length %u (cap %u)", c->desc,
			b->len, b->cap);
		pool_put(t, tb);
		return -EINVAL;
	}
	tb->send_flags = (uint16_t)flags;
	tb->next = NULL;
	if (c->txq_tail)
		c->txq_tail->next = tb;
	else
		c->txq_head = tb;
	c->txq_tail = tb;
	/* a blocked queue resumes on EPOLLOUT; otherwise flush soon */
	if (!c->dirty && !(c->ep_events & EPOLLOUT)) {
		c->dirty = true;
		c->dirty_next = t->dirty;
		t->dirty = c;
	}
	return 0;
}

static int tcp_flush(struct rfs_xprt *x)
{
	struct tcp_xprt *t = TX(x);

	while (t->dirty) {
		struct tcp_conn *c = t->dirty;

		t->dirty = c->dirty_next;
		c->dirty = false;
		c->dirty_next = NULL;
		if (c->state != CS_DOWN)
			conn_xmit(c);
	}
	return 0;
}

/* ---- receive ---------------------------------------------------------- */

static void frame_done(struct tcp_conn *c)
{
	struct tcp_xprt *t = c->tx;
	struct tcp_buf *tb = c->rx;

	c->rx = NULL;
	c->rx_got = 0;
	tb->b.len = RFS_HDR_SIZE + ((struct rfs_hdr *)tb->b.data)->len;
	t->st.frames_in++;
	ev_push_or_drop(t, RFS_XEV_RECV, 0, c, tb);
}

/*
 * Turn staged bytes into frames.  Leaves fewer than RFS_HDR_SIZE bytes in
 * the stage, or a frame in progress in c->rx.  0 or -errno (connection to
 * be closed).
 */
static int parse_stage(struct tcp_conn *c)
{
	struct tcp_xprt *t = c->tx;
	uint32_t off = 0;
	int rc = 0;

	while (c->st_len - off >= RFS_HDR_SIZE) {
		struct rfs_hdr h;
		uint32_t need, take;

		memcpy(&h, c->stage + off, sizeof(h));
		rc = rfs_proto_check_hdr(&h, t->base.params.max_msg);
		if (rc) {
			rfs_err_rl("xprt: %s: bad frame header: %s", c->desc,
				   strerror(-rc));
			goto out;
		}
		need = RFS_HDR_SIZE + h.len;
		c->rx = pool_get(t, need);
		if (!c->rx) {
			rc = -ENOMEM;
			rfs_err_rl("xprt: %s: no buffer for a %u-byte frame",
				   c->desc, need);
			goto out;
		}
		take = c->st_len - off;
		if (take > need)
			take = need;
		memcpy(c->rx->b.data, c->stage + off, take);
		t->st.copies_bytes += take;
		c->rx_got = take;
		off += take;
		if (take < need)
			break;
		frame_done(c);
	}
out:
	if (off) {
		c->st_len -= off;
		if (c->st_len)
			memmove(c->stage, c->stage + off, c->st_len);
	}
	return rc;
}

static void conn_read(struct tcp_conn *c)
{
	struct tcp_xprt *t = c->tx;
	struct iovec iov[2];
	int rc;

	/* decrypted bytes left in the TLS session wake no epoll: take them */
	for (int round = 0;
	     (round < READS_PER_POLL || rfs_tls_pending(c->base.tls)) &&
	     c->state == CS_UP;
	     round++) {
		size_t want = 0;
		uint32_t body = 0;
		int niov = 0;
		ssize_t n;

		if (c->rx) {
			body = RFS_HDR_SIZE +
			       ((struct rfs_hdr *)c->rx->b.data)->len -
			       c->rx_got;
			iov[niov].iov_base = (char *)c->rx->b.data + c->rx_got;
			iov[niov].iov_len = body;
			want += body;
			niov++;
		}
		iov[niov].iov_base = c->stage + c->st_len;
		iov[niov].iov_len = STAGE_SIZE - c->st_len;
		want += iov[niov].iov_len;
		niov++;

		t->st.syscalls++;
		n = c->base.tls ? rfs_tls_readv(c->base.tls, iov, niov) :
				  readv(c->fd, iov, niov);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			rc = -errno;
			rfs_dbg(RFS_SUB_XPRT, "xprt: %s: recv: %s", c->desc,
				strerror(-rc));
			conn_down(c, rc);
			return;
		}
		if (n == 0) {
			/* EOF: orderly between frames, truncation inside one */
			conn_down(c, c->rx || c->st_len ? -ECONNRESET : 0);
			return;
		}
		t->st.bytes_in += (uint64_t)n;
		c->rx_moved += (uint64_t)n;
		if (c->rx) {
			uint32_t got = (size_t)n < body ? (uint32_t)n : body;

			c->rx_got += got;
			n -= got;
			if (c->rx_got <
			    RFS_HDR_SIZE +
				    ((struct rfs_hdr *)c->rx->b.data)->len)
				return; /* drained the socket */
			frame_done(c);
		}
		c->st_len += (uint32_t)n;
		rc = parse_stage(c);
		if (rc) {
			conn_down(c, rc);
			return;
		}
		if ((size_t)n + body < want)
			return; /* short read: the socket is empty */
	}
}

static void conn_event(struct tcp_conn *c, uint32_t evs)
{
	if (c->state == CS_DOWN)
		return;
	if (evs & EPOLLERR) {
		int err = 0;
		socklen_t len = sizeof(err);

		c->tx->st.syscalls++;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (err) {
			conn_down(c, -err);
			return;
		}
	}
	/* read before acting on HUP so that the peer's last frames count */
	if (evs & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) {
		if (c->state == CS_UP) {
			conn_read(c);
		} else if (evs & EPOLLHUP) {
			/* closing, peer gone: remaining sends cannot go */
			conn_down(c, -EPIPE);
			return;
		}
	}
	if (c->state != CS_DOWN && (evs & EPOLLOUT))
		conn_xmit(c);
}

/* ---- poll / arm ------------------------------------------------------- */

static bool single_conn(const struct tcp_xprt *t)
{
	const struct tcp_conn *c = t->conns;

	return c && !c->next && !t->zombies && c->state == CS_UP &&
	       !(c->ep_events & EPOLLOUT);
}

static int tcp_poll(struct rfs_xprt *x, struct rfs_xev *ev, int max)
{
	struct tcp_xprt *t = TX(x);
	struct epoll_event eev[EPOLL_BATCH];
	int n = 0;

	tcp_flush(x);
	if (t->evq.n < (uint32_t)max && single_conn(t)) {
		/*
		 * One connection (a client's, or a connection's own thread in
		 * ringfsd), nothing lingering, no send blocked: epoll could
		 * name only it, so read it at once.  A reply that is there
		 * costs one syscall instead of two; nothing there, one either
		 * way (readv's EAGAIN instead of an empty epoll_wait).
		 */
		conn_event(t->conns, EPOLLIN);
		tcp_flush(x);
	} else if (t->evq.n < (uint32_t)max) {
		int k;

		t->st.syscalls++;
		k = epoll_wait(t->epfd, eev, EPOLL_BATCH, 0);
		if (k < 0 && errno != EINTR) {
			int rc = -errno;

			rfs_err("xprt: tcp: epoll_wait: %s", strerror(-rc));
			return rc;
		}
		for (int i = 0; i < k; i++) {
			uint64_t d = eev[i].data.u64;

			if (d & 1)
				zombie_event(
					t,
					(struct tcp_zombie
						 *)(uintptr_t)(d &
							       ~(uint64_t)1),
					eev[i].events);
			else
				conn_event(eev[i].data.ptr, eev[i].events);
		}
		/* replies queued by completions go out in the same pass */
		tcp_flush(x);
	}
	n = rfs_evq_reap(&t->evq, ev, max);
	return n;
}

static int tcp_arm(struct rfs_xprt *x)
{
	struct tcp_xprt *t = TX(x);

	tcp_flush(x);
	return (int)(t->evq.n > INT_MAX ? INT_MAX : t->evq.n);
}

static int tcp_wait_fd(const struct rfs_xprt *x)
{
	return ((const struct tcp_xprt *)(const void *)x)->epfd;
}

/* ---- connections ------------------------------------------------------ */

static void make_desc(struct tcp_conn *c)
{
	struct sockaddr_storage ls, ps;
	socklen_t ll = sizeof(ls), pl = sizeof(ps);
	char la[80] = "?", pa[80] = "?";

	c->tx->st.syscalls += 2;
	if (!getsockname(c->fd, (struct sockaddr *)&ls, &ll))
		rfs_addr_fmt((struct sockaddr *)&ls, ll, la, sizeof(la));
	if (!getpeername(c->fd, (struct sockaddr *)&ps, &pl))
		rfs_addr_fmt((struct sockaddr *)&ps, pl, pa, sizeof(pa));
	snprintf(c->desc, sizeof(c->desc), "tcp %s->%s", la, pa);
}

static int tcp_adopt(struct rfs_xprt *x, int fd, struct rfs_conn **out)
{
	struct tcp_xprt *t = TX(x);
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct tcp_conn *c;
	int fl, rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->base.ops = &rfs_xprt_tcp_ops;
	c->base.x = x;
	c->tx = t;
	c->fd = fd;
	c->state = CS_UP;

	t->st.syscalls += 3;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK)) {
		rc = -errno;
		rfs_err("xprt: tcp: adopt fd %d: O_NONBLOCK: %s", fd,
			strerror(-rc));
		goto free_conn;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		rc = -errno;
		rfs_err("xprt: tcp: adopt fd %d: not a socket: %s", fd,
			strerror(-rc));
		goto free_conn;
	}
	c->inet = ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
	if (c->inet) {
		int one = 1;

		t->st.syscalls++;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			       sizeof(one))) {
			rc = -errno;
			rfs_err("xprt: tcp: adopt fd %d: TCP_NODELAY: %s", fd,
				strerror(-rc));
			goto free_conn;
		}
	}
	make_desc(c);
	ev.data.ptr = c;
	t->st.syscalls++;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		rc = -errno;
		rfs_err("xprt: %s: epoll_ctl(ADD): %s", c->desc, strerror(-rc));
		goto free_conn;
	}
	c->ep_events = EPOLLIN;
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	rfs_dbg(RFS_SUB_XPRT, "xprt: %s: up", c->desc);
	*out = (struct rfs_conn *)(void *)c;
	return 0;

free_conn:
	/* the fd stays the caller's on failure */
	free(c);
	return rc;
}

static void tcp_disconnect(struct rfs_conn *cc)
{
	struct tcp_conn *c = TC(cc);

	if (c->state != CS_UP)
		return;
	c->state = CS_CLOSING;
	/* drop frames still arriving; push what is queued, then close */
	if (c->rx) {
		pool_put(c->tx, c->rx);
		c->rx = NULL;
		c->rx_got = 0;
	}
	c->st_len = 0;
	conn_xmit(c);
}

static void conn_destroy(struct tcp_xprt *t, struct tcp_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	rfs_tls_free(c->base.tls);
	free(c);
}

static void evq_put(void *ctx, struct rfs_buf *b)
{
	pool_put(ctx, container_of(b, struct tcp_buf, b));
}

/* Remove every pending event naming c, returning its buffers. */
static void evq_scrub(struct tcp_xprt *t, struct tcp_conn *c)
{
	rfs_evq_scrub(&t->evq, (struct rfs_conn *)(void *)c, evq_put, t);
}

static void tcp_conn_free(struct rfs_conn *cc)
{
	struct tcp_conn *c = TC(cc);

	if (c->state != CS_DOWN) {
		/* misuse, but do not leak: tear it down without an event
		   the caller would then read after free */
		rfs_warn("xprt: %s: freed before CONN_DOWN", c->desc);
		conn_down(c, -ECANCELED);
		evq_scrub(c->tx, c);
	}
	conn_destroy(c->tx, c);
}

static const char *tcp_conn_desc(const struct rfs_conn *cc)
{
	return ((const struct tcp_conn *)(const void *)cc)->desc;
}

/*
 * Bytes are counted as they cross the socket (nonblocking readv and
 * sendmsg); we read whenever there is something to read, but write only
 * when the socket has room again (EPOLLOUT comes when a good part of
 * the send buffer is free), so while frames wait in our queue the peer
 * taking bytes is seen in the kernel's counts only.  While no frame is
 * in progress the stage holds fewer bytes than a header.
 */
static void tcp_progress(const struct rfs_conn *cc, struct rfs_xprt_progress *p,
			 bool deep)
{
	const struct tcp_conn *c = (const struct tcp_conn *)(const void *)cc;

	p->tx_hidden = c->txq_head != NULL;
	if (deep && p->tx_hidden && c->fd >= 0) {
		int rc;

		c->tx->st.syscalls++;
		rc = rfs_sock_counts(c->fd, c->inet, &p->k_rx, &p->k_tx);
		if (rc)
			rfs_err_rl("xprt: %s: the socket's byte counts (%s): "
				   "%s; a peer that reads only slowly may be "
				   "taken for stalled",
				   c->desc, c->inet ? "TCP_INFO" : "SIOCOUTQ",
				   strerror(-rc));
	}
	p->rx_bytes = c->rx_moved;
	p->tx_bytes = c->tx_moved;
	if (c->rx) {
		p->rx_have = c->rx_got;
		p->rx_want = RFS_HDR_SIZE +
			     ((const struct rfs_hdr *)c->rx->b.data)->len;
	} else {
		p->rx_have = c->st_len;
	}
}

/* ---- context ---------------------------------------------------------- */

static void tcp_fini(struct rfs_xprt *x)
{
	struct tcp_xprt *t = TX(x);

	if (!t)
		return;
	/* outstanding ops would complete with -ECANCELED, but nobody can
	   reap events after close: they are dropped, buffers freed */
	while (t->conns) {
		struct tcp_conn *c = t->conns;

		if (c->fd >= 0 && close(c->fd))
			rfs_warn("xprt: %s: close: %s", c->desc,
				 strerror(errno));
		c->fd = -1;
		conn_destroy(t, c);
	}
	while (t->zombies)
		zombie_close(t, t->zombies);
	rfs_pool_destroy(&t->pool);
	rfs_evq_free(&t->evq);
	if (t->epfd >= 0 && close(t->epfd))
		rfs_warn("xprt: tcp: close epoll fd: %s", strerror(errno));
	free(t);
}

static int tcp_init(const struct rfs_xprt_params *p, struct rfs_xprt **out)
{
	static const uint32_t sizes[] = { 4096, 65536 };
	struct tcp_xprt *t;
	uint32_t depth = p->depth ? p->depth : 64;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->epfd = -1;
	t->base.ops = &rfs_xprt_tcp_ops;
	t->base.params = *p;
	/*
	 * One buffer a chunk, bounded caching: plenty of small buffers, few
	 * large ones.
	 */
	rfs_pool_init(&t->pool, "tcp", sizeof(struct tcp_buf), 0,
		      RFS_POOL_ALIGN, p->max_msg, NULL);
	for (unsigned i = 0; i < 3; i++) {
		uint32_t sz = i < 2 && sizes[i] < p->max_msg ? sizes[i] :
							       p->max_msg;

		rfs_pool_add_class(&t->pool, sz, 1,
				   sz <= 4096  ? 4 * depth :
				   sz <= 65536 ? depth :
						 depth / 4 + 4);
		if (sz == p->max_msg)
			break;
	}
	if (p->prealloc) {
		rc = rfs_pool_prefill(&t->pool, RFS_POOL_PREFILL_BUDGET);
		if (rc) {
			rfs_err("xprt: tcp: preallocating buffers: %s",
				strerror(-rc));
			goto fail;
		}
	}
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0) {
		rc = -errno;
		rfs_err("xprt: tcp: epoll_create1: %s", strerror(-rc));
		goto fail;
	}
	t->st.syscalls++;
	*out = (struct rfs_xprt *)(void *)t;
	return 0;
fail:
	tcp_fini((struct rfs_xprt *)(void *)t);
	return rc;
}

static void tcp_stats(const struct rfs_xprt *x, struct rfs_xprt_stats *s)
{
	*s = ((const struct tcp_xprt *)(const void *)x)->st;
}

const struct rfs_xprt_ops rfs_xprt_tcp_ops = {
	.desc = { .name = "tcp", .flags = RFS_XPRT_F_STREAM },
	.init = tcp_init,
	.fini = tcp_fini,
	.adopt = tcp_adopt,
	.disconnect = tcp_disconnect,
	.conn_free = tcp_conn_free,
	.conn_desc = tcp_conn_desc,
	.progress = tcp_progress,
	.buf_get = tcp_buf_get,
	.buf_put = tcp_buf_put,
	.send = tcp_send,
	.flush = tcp_flush,
	.poll = tcp_poll,
	.arm = tcp_arm,
	.wait_fd = tcp_wait_fd,
	.stats = tcp_stats,
};
