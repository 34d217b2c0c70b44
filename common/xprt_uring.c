// SPDX-License-Identifier: MIT
/*
 * xprt_uring: the tcp byte stream (struct rfs_hdr + payload), driven by
 * io_uring.  Same bytes on the wire as xprt_tcp, so the two interoperate.
 *
 * One io_uring per context.  Per connection:
 *   - one multishot recv (IOSQE_BUFFER_SELECT) on a provided buffer ring
 *     shared by the context; small frames are reassembled from the ring
 *     buffers into pool buffers (one user-space copy, counted in
 *     copies_bytes) and ring buffers go back to the ring at once;
 *   - large frames (>= RX_DIRECT_MIN) are received in place: the rest of
 *     the frame goes straight into its pool buffer with one
 *     IORING_OP_RECV (MSG_WAITALL).  Only one recv is ever posted on a
 *     socket, so the multishot recv is cancelled first, and after a large
 *     frame the connection uses single-shot recvs of one ring buffer
 *     until RX_SMALL_RUN small frames in a row (see "receive" below);
 *   - at most one send in flight, so the stream keeps the order of
 *     rfs_xprt_send calls; the next one goes as soon as the previous
 *     one's result CQE is in (a zero-copy send's notification only
 *     releases its buffers).  Frames queued meanwhile go out together in
 *     one sendmsg (an iovec per frame, MSG_WAITALL so the kernel itself
 *     retries short sends); runs of frames >= ZC_MIN go with SEND(MSG)_ZC
 *     and their buffers are released only on the notification, until the
 *     kernel reports that it copied them anyway (loopback): then plain
 *     sends, which cost the same copy without the page pinning;
 *   - submission is deferred to flush/poll/arm, so a burst of sends costs
 *     one io_uring_enter.
 * fini frees every pool buffer, including those still lent to the caller.
 * The context (ring setup, buffer classes, teardown) is in
 * xprt_uring_ctx.c, the structures in xprt_uring_i.h.
 *
 * Every SQE's user_data points at a small typed struct (struct ureq)
 * embedded in the connection or in the buffer it concerns.  A connection
 * counts the SQEs whose last CQE has not arrived (ops) and the zero-copy
 * notifications still due (notifs); it reaches CONN_DOWN, and may be
 * freed, only when both are zero, so the kernel never holds a pointer to
 * freed memory.
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "proto.h"
#include "spin.h"
#include "bufpool.h"
#include "evq.h"
#include "tls.h"
#include "util.h"
#include "xprt_impl.h"
#include "xprt_uring_i.h"

/* ---- event queue ------------------------------------------------------ */

static int evq_push(struct rfs_evq *q, enum rfs_xev_type type, int status,
		    struct uconn *c, struct rfs_buf *b)
{
	return rfs_evq_push(q, type, status, (struct rfs_conn *)(void *)c, b);
}

/* ---- submission ------------------------------------------------------- */

/*
 * Push the SQ to the kernel.  We only call io_uring_submit when there is
 * something to submit, so without SQPOLL each call is exactly one
 * io_uring_enter; with SQPOLL liburing enters only to wake the thread.
 */
int rfs_uring_submit(struct uctx *x)
{
	unsigned ready = io_uring_sq_ready(&x->ring);
	bool enters;
	int rc;

	if (!ready)
		return 0;
	if (x->sqpoll)
		enters = IO_URING_READ_ONCE(*x->ring.sq.kflags) &
			 IORING_SQ_NEED_WAKEUP;
	else
		enters = true;
	rc = io_uring_submit(&x->ring);
	x->tx_quick = 0;
	if (enters)
		x->st.syscalls++;
	if (rc < 0 && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR) {
		rfs_err_rl("xprt: uring: io_uring_submit: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

static struct io_uring_sqe *get_sqe(struct uctx *x)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&x->ring);

	if (sqe)
		return sqe;
	rfs_uring_submit(x);
	if (x->sqpoll) {
		x->st.syscalls++;
		__io_uring_sqring_wait(&x->ring);
	}
	sqe = io_uring_get_sqe(&x->ring);
	if (!sqe)
		rfs_err_rl("xprt: uring: submission queue full");
	return sqe;
}

/* ---- connection teardown --------------------------------------------- */

void rfs_uring_conn_unlink_free(struct uctx *x, struct uconn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		x->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	rfs_tls_free(c->base.tls);
	free(c);
}

static void evq_put(void *ctx, struct rfs_buf *b)
{
	struct uctx *x = ctx;

	x->st.bufs_out--;
	pool_put(x, UB(b));
}

/* Drop the queued events naming c (it is being freed), with buffers. */
static void evq_scrub(struct uctx *x, struct uconn *c)
{
	rfs_evq_scrub(&x->evq, (struct rfs_conn *)(void *)c, evq_put, x);
}

static void release_send(struct uctx *x, struct ubuf *ub, struct uconn *c)
{
	if (ub->status == 0) {
		x->st.frames_out++;
		x->st.bytes_out += ub->b.len;
	}
	if (ub->notify && !c->orphan) {
		x->st.bufs_out++;
		if (evq_push(&x->evq, RFS_XEV_SEND, ub->status, c, &ub->b))
			rfs_err_rl("xprt: uring: %s: SEND event lost: "
				   "out of memory",
				   c->desc);
		return;
	}
	pool_put(x, ub);
}

/* A send is over (status 0 or -errno); release once no notif is due. */
static void finish_send(struct uctx *x, struct ubuf *ub, struct uconn *c,
			int status)
{
	ub->status = status;
	ub->tx_done = true;
	if (!ub->zc_refs)
		release_send(x, ub, c);
}

static struct ubuf *txq_pop(struct uconn *c)
{
	struct ubuf *ub = c->txq;

	c->txq = ub->next;
	if (!c->txq)
		c->txq_tail = NULL;
	ub->next = NULL;
	return ub;
}

/*
 * Called whenever a closing connection's counters move: once no SQE is
 * in the kernel the fd can go; once no notification is due either, the
 * queued sends fail and CONN_DOWN is delivered.
 */
static void conn_maybe_down(struct uconn *c)
{
	struct uctx *x = c->x;
	int err;

	if (c->state != UC_CLOSING || c->ops)
		return;
	if (c->fd >= 0) {
		if (c->notifs && c->status < 0) {
			/*
			 * Zero-copy data may sit in a send queue the peer
			 * never drains; an abortive close (RST) frees those
			 * skbs so that the notifications arrive.
			 */
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			x->st.syscalls++;
			if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg,
				       sizeof(lg)))
				rfs_warn("xprt: uring: %s: SO_LINGER: %s",
					 c->desc, strerror(errno));
		}
		x->st.syscalls++;
		if (close(c->fd))
			rfs_warn("xprt: uring: %s: close: %s", c->desc,
				 strerror(errno));
		c->fd = -1;
	}
	if (c->notifs)
		return;
	err = c->status < 0 ? c->status : -EPIPE;
	if (c->rx_buf) {
		pool_put(x, c->rx_buf);
		c->rx_buf = NULL;
	}
	while (c->txq)
		finish_send(x, txq_pop(c), c, err);
	c->state = UC_DOWN;
	if (c->orphan) {
		/* freed at the end of poll: callers may still look at c */
		x->orphans = true;
		return;
	}
	if (evq_push(&x->evq, RFS_XEV_CONN_DOWN, c->status, c, NULL))
		rfs_err("xprt: uring: %s: CONN_DOWN lost: out of memory",
			c->desc);
}

/* Start tearing c down (first status wins): cancel everything on its fd. */
void rfs_uring_conn_fail(struct uconn *c, int status)
{
	struct io_uring_sqe *sqe;

	if (c->state != UC_UP && c->state != UC_DRAINING)
		return;
	c->state = UC_CLOSING;
	c->status = status;
	if (c->ops) {
		sqe = get_sqe(c->x);
		if (sqe) {
			io_uring_prep_cancel_fd(sqe, c->fd,
						IORING_ASYNC_CANCEL_ALL);
			io_uring_sqe_set_data(sqe, &c->cancel_req);
			c->ops++;
		} else {
			/* cannot cancel: shutdown ends recv and sends */
			c->x->st.syscalls++;
			shutdown(c->fd, SHUT_RDWR);
		}
	}
	conn_maybe_down(c);
}

/* ---- receive ---------------------------------------------------------- */

/*
 * Small frames come in through the multishot recv and are copied out of
 * the provided-buffer ring (several frames per ring buffer, one CQE).  A
 * large frame (>= RX_DIRECT_MIN) that its first ring buffer does not
 * complete is received in place instead:
 *
 *   1. rx_stop: cancel the multishot recv.  It cannot be paused, and a
 *      recv of our own next to it would race it for the stream's bytes.
 *      Data CQEs it still posts are copied in order as before.
 *   2. Its final CQE (no F_MORE) means no recv is posted any more: if the
 *      frame is still incomplete, one IORING_OP_RECV with MSG_WAITALL
 *      into the frame's buffer at rx_have (resubmitted when short).
 *   3. Frame whole: deliver it, post the next recv - but only once the
 *      cancel's own CQE is in, or it could hit the new recv.
 *
 * The multishot recv empties the socket into the ring as fast as data
 * arrives, so by the time its CQE shows a large header most of that frame
 * may already be in ring buffers.  Hence, after a large frame, the
 * connection posts single-shot recvs of one ring buffer (rx_big) instead:
 * at most 32 KiB of the next large frame is copied, the rest is received
 * in place, and no cancel is needed.  RX_SMALL_RUN small frames in a row
 * bring the multishot recv back.
 *
 * At most one recv (multishot, single-shot or direct) is posted on a
 * socket at any time, so the stream's bytes land in order.  (A plain
 * nonblocking recv() for the rest of the frame measured the same
 * syscalls/op and MB/s; the ring recv keeps SQPOLL free of syscalls.)
 */

static void arm_recv(struct uconn *c)
{
	struct io_uring_sqe *sqe;

	if ((c->state != UC_UP && c->state != UC_DRAINING) || c->rx_armed)
		return;
	sqe = get_sqe(c->x);
	if (!sqe) {
		rfs_uring_conn_fail(c, -EBUSY);
		return;
	}
	if (c->rx_big)
		io_uring_prep_recv(sqe, c->fd, NULL, BR_BUF_SIZE, 0);
	else
		io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BR_GROUP;
	io_uring_sqe_set_data(sqe, &c->rx_req);
	c->rx_armed = true;
	c->ops++;
}

/* The frame in rx_buf is whole: lend it to the caller. */
static int rx_deliver(struct uconn *c)
{
	struct uctx *x = c->x;
	struct ubuf *ub = c->rx_buf;

	ub->b.len = c->rx_want;
	if (ub->b.len >= RX_DIRECT_MIN)
		c->rx_small_run = 0;
	else if (c->rx_big && ++c->rx_small_run >= RX_SMALL_RUN)
		c->rx_big = false; /* next arm_recv: multishot again */
	c->rx_buf = NULL;
	c->rx_hdr_have = 0;
	x->st.frames_in++;
	x->st.bytes_in += ub->b.len;
	x->st.bufs_out++;
	if (evq_push(&x->evq, RFS_XEV_RECV, 0, c, &ub->b)) {
		x->st.bufs_out--;
		pool_put(x, ub);
		return -ENOMEM;
	}
	return 0;
}

/* Feed n stream bytes to c's frame reassembly; 0 or -errno (fatal). */
static int rx_bytes(struct uconn *c, const uint8_t *p, uint32_t n)
{
	struct uctx *x = c->x;

	while (n) {
		uint32_t k;

		if (!c->rx_buf) {
			int rc;

			k = RFS_HDR_SIZE - c->rx_hdr_have;
			if (k > n)
				k = n;
			memcpy(c->rx_hdr.raw + c->rx_hdr_have, p, k);
			c->rx_hdr_have += k;
			p += k;
			n -= k;
			if (c->rx_hdr_have < RFS_HDR_SIZE)
				break;
			rc = rfs_proto_check_hdr(&c->rx_hdr.h,
						 x->base.params.max_msg);
			if (rc) {
				rfs_err_rl("xprt: uring: %s: bad frame header "
					   "(magic %#x op %u len %u): %s",
					   c->desc, c->rx_hdr.h.magic,
					   c->rx_hdr.h.opcode, c->rx_hdr.h.len,
					   strerror(-rc));
				return rc;
			}
			c->rx_want = RFS_HDR_SIZE + c->rx_hdr.h.len;
			c->rx_buf = pool_get(x, c->rx_want);
			if (!c->rx_buf) {
				rfs_err_rl("xprt: uring: %s: no buffer for a "
					   "%u-byte frame",
					   c->desc, c->rx_want);
				return -ENOMEM;
			}
			memcpy(c->rx_buf->b.data, c->rx_hdr.raw, RFS_HDR_SIZE);
			x->st.copies_bytes += RFS_HDR_SIZE;
			c->rx_have = RFS_HDR_SIZE;
		} else {
			k = c->rx_want - c->rx_have;
			if (k > n)
				k = n;
			memcpy((uint8_t *)c->rx_buf->b.data + c->rx_have, p, k);
			x->st.copies_bytes += k;
			c->rx_have += k;
			p += k;
			n -= k;
		}
		if (c->rx_have == c->rx_want) {
			int rc = rx_deliver(c);

			if (rc)
				return rc;
		}
	}
	return 0;
}

/*
 * Userspace TLS: n bytes of records from the ring; their plaintext goes
 * to the frame reassembly (never straight into a frame: no direct recv).
 */
static int rx_tls(struct uconn *c, const uint8_t *p, uint32_t n)
{
	static __thread uint8_t plain[16384];
	ssize_t k;
	int rc = rfs_tls_open_feed(c->base.tls, p, n);

	if (rc)
		return rc;
	while ((k = rfs_tls_open_read(c->base.tls, plain, sizeof(plain))) > 0) {
		c->x->st.copies_bytes += (uint64_t)k;
		rc = rx_bytes(c, plain, (uint32_t)k);
		if (rc)
			return rc;
	}
	return (int)k;
}

static bool rx_wants_direct(const struct uconn *c)
{
	return !c->base.tls && c->state == UC_UP && c->rx_buf &&
	       c->rx_want >= RX_DIRECT_MIN && c->rx_have < c->rx_want;
}

/* Step 1: ask the multishot recv to end (its CQEs tell when it has). */
static void rx_stop(struct uconn *c)
{
	struct io_uring_sqe *sqe;

	if (!c->rx_armed || c->rx_stopping || !rx_wants_direct(c))
		return;
	sqe = get_sqe(c->x);
	if (!sqe)
		return; /* the multishot recv goes on: copies, still correct */
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&c->rx_req, 0);
	io_uring_sqe_set_data(sqe, &c->rxs_req);
	c->rx_stopping = true;
	c->rx_stop_busy = true;
	c->rx_big = true;
	c->rx_small_run = 0;
	c->ops++;
}

/* Step 2: the rest of the frame straight into its buffer. */
static void rx_direct_post(struct uconn *c)
{
	struct io_uring_sqe *sqe = get_sqe(c->x);

	if (!sqe) {
		rfs_uring_conn_fail(c, -EBUSY);
		return;
	}
	io_uring_prep_recv(sqe, c->fd,
			   (uint8_t *)c->rx_buf->b.data + c->rx_have,
			   c->rx_want - c->rx_have, MSG_WAITALL);
	io_uring_sqe_set_data(sqe, &c->rxd_req);
	c->rx_direct = true;
	c->ops++;
}

/*
 * No recv is posted on c: post the direct one for an incomplete large
 * frame, else the multishot one.
 */
static void rx_resume(struct uconn *c)
{
	if ((c->state != UC_UP && c->state != UC_DRAINING) || c->rx_armed ||
	    c->rx_direct)
		return;
	if (rx_wants_direct(c))
		rx_direct_post(c);
	else if (!c->rx_stop_busy)
		arm_recv(c);
}

/*
 * The sockets we adopt are usually O_NONBLOCK.  When io_uring hands a
 * request whose poll wake-up found nothing to do to an io-wq worker, the
 * worker's attempt on such a socket ends with -EAGAIN: not an error, the
 * request is simply posted again.
 */
static bool again(const struct uconn *c, int res)
{
	return res == -EAGAIN && (c->state == UC_UP || c->state == UC_DRAINING);
}

static void recycle_rbuf(struct uctx *x, unsigned bid)
{
	io_uring_buf_ring_add(x->br, x->br_mem + (size_t)bid * BR_BUF_SIZE,
			      BR_BUF_SIZE, (unsigned short)bid,
			      io_uring_buf_ring_mask(BR_ENTRIES), 0);
	io_uring_buf_ring_advance(x->br, 1);
}

static void on_recv(struct uconn *c, int res, unsigned flags)
{
	struct uctx *x = c->x;
	bool stopped;

	if (flags & IORING_CQE_F_BUFFER) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

		if (res > 0)
			c->rx_moved += (uint64_t)res;
		if (res > 0 && c->state == UC_UP) {
			const uint8_t *p =
				x->br_mem + (size_t)bid * BR_BUF_SIZE;
			int rc = c->base.tls ? rx_tls(c, p, (uint32_t)res) :
					       rx_bytes(c, p, (uint32_t)res);
			if (rc)
				rfs_uring_conn_fail(c, rc);
			else if (flags & IORING_CQE_F_MORE)
				rx_stop(c);
		}
		recycle_rbuf(x, bid);
	}
	if (flags & IORING_CQE_F_MORE)
		return;
	c->rx_armed = false;
	stopped = c->rx_stopping;
	c->rx_stopping = false;
	c->ops--;
	if (res == 0) {
		/* the peer closed: orderly between frames, not inside one */
		rfs_uring_conn_fail(c, c->state == UC_UP && (c->rx_buf ||
							     c->rx_hdr_have) ?
					       -ECONNRESET :
					       0);
	} else if (res == -ECANCELED && stopped &&
		   (c->state == UC_UP || c->state == UC_DRAINING)) {
		rx_resume(c); /* our rx_stop, not a teardown */
	} else if (res < 0 && res != -ENOBUFS && !again(c, res)) {
		rfs_uring_conn_fail(c, res == -ECANCELED ? c->status : res);
	} else {
		rx_resume(c); /* ended (e.g. -ENOBUFS): buffers are back */
	}
	conn_maybe_down(c);
}

static void on_rx_stop(struct uconn *c)
{
	c->ops--;
	c->rx_stop_busy = false;
	rx_resume(c);
	conn_maybe_down(c);
}

static void on_recv_direct(struct uconn *c, int res)
{
	struct uctx *x = c->x;

	c->ops--;
	c->rx_direct = false;
	if (res > 0)
		c->rx_moved += (uint64_t)res;
	if (res > 0 && c->state == UC_UP) {
		c->rx_have += (uint32_t)res;
		if (c->rx_have == c->rx_want && rx_deliver(c))
			rfs_uring_conn_fail(c, -ENOMEM);
		else
			rx_resume(c); /* the rest if short, else multishot */
	} else if (res > 0 && c->state == UC_DRAINING) {
		/* disconnect left this frame to us: drop it, read on */
		pool_put(x, c->rx_buf);
		c->rx_buf = NULL;
		c->rx_hdr_have = 0;
		rx_resume(c);
	} else if (res == 0) {
		/* the peer closed inside a frame */
		rfs_uring_conn_fail(c, c->state == UC_UP ? -ECONNRESET : 0);
	} else if (again(c, res)) {
		rx_resume(c);
	} else if (res < 0) {
		rfs_uring_conn_fail(c, res == -ECANCELED ? c->status : res);
	}
	conn_maybe_down(c);
}

/* ---- send ------------------------------------------------------------- */

static void mark_dirty(struct uconn *c)
{
	if (c->dirty || (c->state != UC_UP && c->state != UC_DRAINING))
		return;
	c->dirty = true;
	c->dirty_next = c->x->dirty;
	c->x->dirty = c;
}

/* SEND_ZC: not on kernel TLS (it refuses MSG_ZEROCOPY) nor userspace TLS */
static bool tx_zc(const struct uconn *c)
{
	return c->zc_ok && !c->base.ktls && !c->base.tls;
}

/*
 * Userspace TLS: seal the queued frames into records (once per batch),
 * then send the records, or the rest of them after a short send.
 */
static void tx_push_tls(struct uconn *c, struct io_uring_sqe *sqe)
{
	if (c->tls_tx_off == c->tls_tx_len) {
		struct ubuf *ub = c->txq;
		const void *p;
		size_t len;
		ssize_t plain;
		unsigned n = 0;

		for (; ub && n < TX_IOV_MAX; ub = ub->next, n++) {
			c->tx_iov[n].iov_base =
				(uint8_t *)ub->b.data + ub->sent;
			c->tx_iov[n].iov_len = ub->b.len - ub->sent;
		}
		plain = rfs_tls_seal(c->base.tls, c->tx_iov, (int)n, &p, &len);
		if (plain < 0) {
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data(sqe, NULL);
			rfs_uring_conn_fail(c, (int)plain);
			return;
		}
		c->x->st.copies_bytes += (uint64_t)plain;
		c->tx_nframes = n;
		c->tls_tx_p = p;
		c->tls_tx_len = len;
		c->tls_tx_off = 0;
		c->tls_tx_plain = (size_t)plain;
	}
	io_uring_prep_send(sqe, c->fd, c->tls_tx_p + c->tls_tx_off,
			   c->tls_tx_len - c->tls_tx_off,
			   MSG_NOSIGNAL | MSG_WAITALL);
	io_uring_sqe_set_data(sqe, &c->tx_req);
	c->tx_busy = true;
	c->ops++;
}

/* bytes of the frames a send puts on the stream (tx_iov, tx_nframes) */
static size_t tx_bytes(const struct uconn *c)
{
	size_t n = 0;

	for (unsigned i = 0; i < c->tx_nframes; i++)
		n += c->tx_iov[i].iov_len;
	return n;
}

/* Put c's next send on the SQ (one in flight at a time). */
static void tx_push(struct uconn *c)
{
	struct uctx *x = c->x;
	struct io_uring_sqe *sqe;
	struct ubuf *ub = c->txq;
	/* WAITALL: the kernel retries short sends on a stream socket */
	const int fl = MSG_NOSIGNAL | MSG_WAITALL;
	struct zcreq *z = NULL;
	unsigned n = 0;
	bool zc;

	if ((c->state != UC_UP && c->state != UC_DRAINING) || c->tx_busy || !ub)
		return;
	sqe = get_sqe(x);
	if (!sqe) {
		rfs_uring_conn_fail(c, -EBUSY);
		return;
	}
	if (c->base.tls) {
		tx_push_tls(c, sqe);
		return;
	}
	/* large frames go zero-copy, small ones copied: batch each kind */
	zc = tx_zc(c) && ub->b.len >= ZC_MIN;
	for (; ub && n < TX_IOV_MAX; ub = ub->next) {
		if ((tx_zc(c) && ub->b.len >= ZC_MIN) != zc)
			break;
		c->tx_iov[n].iov_base = (uint8_t *)ub->b.data + ub->sent;
		c->tx_iov[n].iov_len = ub->b.len - ub->sent;
		n++;
	}
	c->tx_nframes = n;
	memset(&c->tx_msg, 0, sizeof(c->tx_msg));
	c->tx_msg.msg_iov = c->tx_iov;
	c->tx_msg.msg_iovlen = n;
	if (zc) {
		z = malloc(sizeof(*z));
		zc = z != NULL;
	}
	if (zc) {
		z->r.kind = UREQ_SEND_ZC;
		z->r.c = c;
		z->n = n;
		ub = c->txq;
		for (unsigned i = 0; i < n; i++, ub = ub->next)
			z->ub[i] = ub;
		if (n == 1)
			io_uring_prep_send_zc(sqe, c->fd, c->tx_iov[0].iov_base,
					      c->tx_iov[0].iov_len, fl, 0);
		else
			io_uring_prep_sendmsg_zc(sqe, c->fd, &c->tx_msg, fl);
		if (x->zc_report)
			sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
		io_uring_sqe_set_data(sqe, &z->r);
	} else {
		/* kernel TLS takes neither WAITALL nor ZEROCOPY: short sends
		   are resumed by tx_advance */
		const int pfl = c->base.ktls ? MSG_NOSIGNAL : fl;

		if (n == 1)
			io_uring_prep_send(sqe, c->fd, c->tx_iov[0].iov_base,
					   c->tx_iov[0].iov_len, pfl);
		else
			io_uring_prep_sendmsg(sqe, c->fd, &c->tx_msg, pfl);
		io_uring_sqe_set_data(sqe, &c->tx_req);
		if (!c->base.ktls && !ub && tx_bytes(c) <= TX_QUICK_MAX)
			x->tx_quick++;
	}
	c->tx_busy = true;
	c->ops++;
}

/* res bytes of the in-flight frames reached the stream. */
static void tx_advance(struct uconn *c, uint32_t res)
{
	c->tx_moved += res;
	while (res && c->txq) {
		struct ubuf *ub = c->txq;
		uint32_t rem = ub->b.len - ub->sent;

		if (res < rem) {
			ub->sent += res;
			return;
		}
		res -= rem;
		ub->sent = ub->b.len;
		finish_send(c->x, txq_pop(c), c, 0);
	}
}

/* Orderly close: everything is sent; now only wait for the peer's EOF. */
static void drain_done(struct uconn *c)
{
	c->x->st.syscalls++;
	if (shutdown(c->fd, SHUT_WR)) {
		/* ENOTCONN: the peer is gone already */
		rfs_uring_conn_fail(c, 0);
		return;
	}
	rx_resume(c);
}

/* After a send: push the rest, or finish an orderly close. */
static void tx_next(struct uconn *c)
{
	if (c->txq)
		mark_dirty(c);
	else if (c->state == UC_DRAINING)
		drain_done(c);
}

/* the status a failed send (res <= 0) leaves its connection with */
static int send_err(const struct uconn *c, int res)
{
	if (res == -ECANCELED)
		return c->status;
	return res ? res : -EPIPE;
}

/* A send (plain or zero-copy) took res > 0 bytes: the frames, or with
   userspace TLS the records, move on. */
static void tx_sent(struct uconn *c, int res)
{
	if (c->base.tls) {
		c->tls_tx_off += (size_t)res;
		if (c->tls_tx_off == c->tls_tx_len) {
			tx_advance(c, (uint32_t)c->tls_tx_plain);
			c->tls_tx_plain = 0;
			tx_next(c);
		} else {
			mark_dirty(c); /* the rest of these records */
		}
	} else {
		tx_advance(c, (uint32_t)res);
		tx_next(c);
	}
}

static void on_send(struct uconn *c, int res)
{
	c->ops--;
	c->tx_busy = false;
	if (again(c, res)) {
		mark_dirty(c); /* nothing went: the same frames again */
	} else if (res <= 0) {
		if (c->state == UC_UP)
			rfs_dbg(RFS_SUB_XPRT, "xprt: uring: %s: send: %s",
				c->desc, strerror(res ? -res : EPIPE));
		rfs_uring_conn_fail(c, send_err(c, res));
	} else {
		tx_sent(c, res);
	}
	conn_maybe_down(c);
}

static void on_send_zc(struct zcreq *z, int res, unsigned flags)
{
	struct uconn *c = z->r.c;
	struct uctx *x = c->x;

	if (flags & IORING_CQE_F_NOTIF) {
		/* the kernel let go of these pages */
		c->notifs--;
		/*
		 * It may have copied them all the same (loopback, a device
		 * without scatter-gather): then zero copy only adds page
		 * pinning and notifications, so stop using it on c.
		 */
		if ((unsigned)res & IORING_NOTIF_USAGE_ZC_COPIED)
			x->st.zc_copied++;
		if (!((unsigned)res & IORING_NOTIF_USAGE_ZC_COPIED))
			c->zc_copied = 0;
		else if (c->zc_ok && ++c->zc_copied >= ZC_COPIED_MAX) {
			c->zc_ok = false;
			rfs_dbg(RFS_SUB_XPRT,
				"xprt: uring: %s: zero-copy "
				"sends are copied by the kernel: off",
				c->desc);
		}
		for (unsigned i = 0; i < z->n; i++) {
			struct ubuf *ub = z->ub[i];

			if (!--ub->zc_refs && ub->tx_done)
				release_send(x, ub, c);
		}
		free(z);
		conn_maybe_down(c);
		return;
	}
	c->ops--;
	c->tx_busy = false;
	if (flags & IORING_CQE_F_MORE) {
		/* before tx_advance, which may finish these sends */
		for (unsigned i = 0; i < z->n; i++)
			z->ub[i]->zc_refs++;
		c->notifs++;
	} else {
		free(z);
	}
	if (again(c, res)) {
		mark_dirty(c); /* nothing went: the same frames again */
	} else if ((res == -EOPNOTSUPP || (res == -EINVAL && x->zc_report)) &&
		   c->txq && c->txq->sent == 0 &&
		   (c->state == UC_UP || c->state == UC_DRAINING)) {
		if (res == -EINVAL) /* kernel < 6.2: no usage report */
			x->zc_report = false;
		else /* this socket cannot do zero copy: plain sends */
			c->zc_ok = false;
		mark_dirty(c);
	} else if (res <= 0) {
		rfs_uring_conn_fail(c, send_err(c, res));
	} else {
		tx_sent(c, res);
	}
	conn_maybe_down(c);
}

static void free_orphans(struct uctx *x)
{
	struct uconn *c, *n;

	if (!x->orphans)
		return;
	x->orphans = false;
	for (c = x->conns; c; c = n) {
		n = c->next;
		if (c->orphan && c->state == UC_DOWN)
			rfs_uring_conn_unlink_free(x, c);
	}
}

static void push_dirty(struct uctx *x)
{
	while (x->dirty) {
		struct uconn *c = x->dirty;

		x->dirty = c->dirty_next;
		c->dirty = false;
		tx_push(c);
	}
}

/* ---- completions ------------------------------------------------------ */

static void on_cqe(struct uctx *x, const struct io_uring_cqe *cqe)
{
	struct ureq *r = io_uring_cqe_get_data(cqe);

	if (!r)
		return;
	switch (r->kind) {
	case UREQ_RECV:
		on_recv(r->c, cqe->res, cqe->flags);
		break;
	case UREQ_RECV_DIRECT:
		on_recv_direct(r->c, cqe->res);
		break;
	case UREQ_RX_STOP:
		on_rx_stop(r->c);
		break;
	case UREQ_SEND:
		on_send(r->c, cqe->res);
		break;
	case UREQ_SEND_ZC:
		on_send_zc((struct zcreq *)(void *)r, cqe->res, cqe->flags);
		break;
	case UREQ_CANCEL:
		r->c->ops--;
		conn_maybe_down(r->c);
		break;
	case UREQ_WATCH: {
		struct uwatch *w = (struct uwatch *)(void *)r;

		/* a poll watch_arm removed; its slot may be armed again */
		if (cqe->res == -ECANCELED)
			break;
		w->armed = false;
		w->fired = true;
		break;
	}
	}
}

/* Process the CQEs that are there; returns how many. */
unsigned rfs_uring_reap(struct uctx *x)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&x->ring, head, cqe) {
		on_cqe(x, cqe);
		if (++n == CQE_BATCH)
			break;
	}
	io_uring_cq_advance(&x->ring, n);
	return n;
}

/* With COOP_TASKRUN, completions may wait for us to enter the kernel. */
static bool taskrun_pending(const struct uctx *x)
{
	return IO_URING_READ_ONCE(*x->ring.sq.kflags) &
	       (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW);
}

static int uring_poll(struct rfs_xprt *xp, struct rfs_xev *ev, int max)
{
	struct uctx *x = UX(xp);
	bool entered = false;
	int n = 0;

	while (x->evq.n < (unsigned)max) {
		if (rfs_uring_reap(x))
			continue;
		if (entered || !taskrun_pending(x))
			break;
		/* one enter runs pending task work and submits */
		push_dirty(x);
		x->st.syscalls++;
		if (io_uring_sq_ready(&x->ring) && !x->sqpoll) {
			io_uring_submit_and_get_events(&x->ring);
			x->tx_quick = 0; /* sleep counts only its own */
		} else
			io_uring_get_events(&x->ring);
		entered = true;
	}
	push_dirty(x);
	free_orphans(x);
	while (n < max && rfs_evq_pop(&x->evq, &ev[n]))
		n++;
	/*
	 * Busy: what was queued goes now.  Idle: it waits for the caller's
	 * flush, arm or sleep, which comes next and may submit it in the
	 * syscall that waits.
	 */
	if (n)
		rfs_uring_submit(x);
	return n;
}

static int uring_flush(struct rfs_xprt *xp)
{
	struct uctx *x = UX(xp);

	push_dirty(x);
	return rfs_uring_submit(x);
}

static int uring_arm(struct rfs_xprt *xp)
{
	struct uctx *x = UX(xp);
	int rc = uring_flush(xp);

	if (rc)
		return rc;
	if (x->evq.n || io_uring_cq_ready(&x->ring) || x->dirty ||
	    taskrun_pending(x))
		return 1;
	return 0;
}

/*
 * The watched fds' polls: one-shot (level-triggered: a fd still
 * readable fires again at once), re-armed before each sleep after they
 * fired; a slot whose fd changed has its old poll removed first.
 */
static int watch_arm(struct uctx *x, const int *fds, unsigned nfds)
{
	for (unsigned i = 0; i < RFS_XPRT_WATCH_MAX; i++) {
		struct uwatch *w = &x->watch[i];
		int fd = i < nfds ? fds[i] : -1;
		struct io_uring_sqe *sqe;

		if (w->armed && w->fd == fd)
			continue;
		if (w->armed) {
			sqe = get_sqe(x);
			if (!sqe)
				return -EBUSY;
			io_uring_prep_poll_remove(sqe, (__u64)(uintptr_t)&w->r);
			io_uring_sqe_set_data(sqe, NULL);
			w->armed = false;
		}
		if (fd < 0)
			continue;
		sqe = get_sqe(x);
		if (!sqe)
			return -EBUSY;
		w->r.kind = UREQ_WATCH;
		w->fd = fd;
		io_uring_prep_poll_add(sqe, fd, POLLIN);
		io_uring_sqe_set_data(sqe, &w->r);
		w->armed = true;
	}
	return 0;
}

/* Report (and forget) the watched fds whose polls fired: *fired bits. */
static bool watch_fired(struct uctx *x, unsigned nfds, unsigned *fired)
{
	for (unsigned i = 0; i < nfds; i++) {
		if (x->watch[i].fired)
			*fired |= 1u << i;
		x->watch[i].fired = false;
	}
	return *fired != 0;
}

/*
 * Before a sleep, busy-poll the CQ for up to spin_ns (spin.h: none when
 * the CPU is wanted), what was queued submitted first.  Only on a ring
 * that posts completions without an enter (no COOP_TASKRUN: the kernel
 * interrupts a task running in user space to run its completion work):
 * a CQE then costs neither a syscall nor a wake-up.  True when the spin
 * found something for the caller.
 *
 * A peer whose next frame comes later than the budget (a real network,
 * an idle client) would only cost a spin and an extra enter per sleep:
 * after SPIN_MISS_MAX spins in a row found nothing, one sleep in
 * SPIN_PROBE_EVERY tries again, and the first that finds something
 * turns the spin back on.
 */
#define SPIN_MISS_MAX 8u
#define SPIN_PROBE_EVERY 64u
static bool spin_until(struct uctx *x, struct rfs_spin *sp, unsigned nfds,
		       unsigned *fired)
{
	if (io_uring_sq_ready(&x->ring)) {
		x->st.syscalls++;
		io_uring_submit(&x->ring);
		x->tx_quick = 0;
	}
	for (unsigned i = 1;; i++) {
		rfs_cpu_relax();
		if (io_uring_cq_ready(&x->ring)) {
			rfs_uring_reap(x);
			if (x->evq.n || x->dirty ||
			    watch_fired(x, nfds, fired)) {
				x->spin_miss = 0;
				return true;
			}
		}
		if (!(i & 63) && !rfs_spin_more(sp)) {
			x->spin_miss++;
			return false;
		}
	}
}

static bool uring_spin(struct uctx *x, unsigned nfds, unsigned *fired)
{
	struct rfs_spin sp;

	if (x->spin_ns <= 0 || x->base.nospin || x->sqpoll ||
	    (x->setup_flags & IORING_SETUP_COOP_TASKRUN))
		return false;
	if (x->spin_miss >= SPIN_MISS_MAX && ++x->spin_skip % SPIN_PROBE_EVERY)
		return false;
	/* the others awake want the CPUs (ringfsd's connections busy) */
	if (atomic_load_explicit(&rfs_uring_awake, memory_order_relaxed) >
	    x->spin_max)
		return false;
	return rfs_spin_begin(&sp, x->spin_ns) &&
	       spin_until(x, &sp, nfds, fired);
}

static int uring_sleep(struct rfs_xprt *xp, int timeout_ms, const int *fds,
		       unsigned nfds, unsigned *fired)
{
	struct uctx *x = UX(xp);
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int wait_ms = timeout_ms;
	unsigned want;
	int rc;

	push_dirty(x);
	if (x->evq.n || io_uring_cq_ready(&x->ring) || x->dirty ||
	    taskrun_pending(x) || watch_fired(x, nfds, fired))
		return 1;
	rc = watch_arm(x, fds, nfds);
	if (rc)
		return rc;
	if (uring_spin(x, nfds, fired))
		return 1;
	/* the quick sends' CQEs come while we submit: wait past them */
	want = 1 + x->tx_quick;
	x->tx_quick = 0;
	/*
	 * A send that did not complete at once (the peer's window is full)
	 * still completes when the peer reads; bound that wait all the
	 * same, so that a miscount costs a short wake-up, never a hang.
	 */
	if (want > 1 && (timeout_ms < 0 || timeout_ms > SLEEP_QUICK_MS))
		wait_ms = SLEEP_QUICK_MS;
	x->st.syscalls++;
	if (x->counted)
		atomic_fetch_sub_explicit(&rfs_uring_awake, 1,
					  memory_order_relaxed);
	if (wait_ms < 0) {
		rc = io_uring_submit_and_wait(&x->ring, want);
	} else {
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (long long)(wait_ms % 1000) * 1000000;
		rc = io_uring_submit_and_wait_timeout(&x->ring, &cqe, want, &ts,
						      NULL);
	}
	if (x->counted)
		atomic_fetch_add_explicit(&rfs_uring_awake, 1,
					  memory_order_relaxed);
	/* the CQEs are the caller's next poll; watched fds are known now */
	rfs_uring_reap(x);
	watch_fired(x, nfds, fired);
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY &&
	    rc != -EAGAIN) {
		rfs_err_rl("xprt: uring: io_uring_enter (sleep): %s",
			   strerror(-rc));
		return rc;
	}
	/* liburing returns the SQEs submitted: whether we timed out is
	   whether anything came for the caller */
	if (timeout_ms >= 0 && !*fired && !x->evq.n && !x->dirty)
		return -ETIME;
	return 0;
}

static int uring_wait_fd(const struct rfs_xprt *xp)
{
	return UXC(xp)->ring.ring_fd;
}

static void uring_stats(const struct rfs_xprt *xp, struct rfs_xprt_stats *s)
{
	*s = UXC(xp)->st;
}

/* ---- buffers ---------------------------------------------------------- */

static struct rfs_buf *uring_buf_get(struct rfs_xprt *xp, uint32_t size)
{
	struct uctx *x = UX(xp);
	struct ubuf *ub = pool_get(x, size);

	if (!ub)
		return NULL;
	x->st.bufs_out++;
	return &ub->b;
}

static void uring_buf_put(struct rfs_xprt *xp, struct rfs_buf *b)
{
	struct uctx *x = UX(xp);

	if (!b)
		return;
	x->st.bufs_out--;
	pool_put(x, UB(b));
}

static int uring_send(struct rfs_conn *cp, struct rfs_buf *b, unsigned flags)
{
	struct uconn *c = UC(cp);
	struct uctx *x = c->x;
	struct ubuf *ub = UB(b);

	x->st.bufs_out--;
	if (c->state != UC_UP) {
		pool_put(x, ub);
		return -ENOTCONN;
	}
	if (b->len < RFS_HDR_SIZE || b->len > b->cap ||
	    b->len > x->base.params.max_msg) {
		rfs_err_rl("xprt: uring: %s: send of a %u-byte frame "
			   "(buffer %u, max %u)",
			   c->desc, b->len, b->cap, x->base.params.max_msg);
		pool_put(x, ub);
		return -EINVAL;
	}
	ub->next = NULL;
	ub->sent = 0;
	ub->zc_refs = 0;
	ub->status = 0;
	ub->tx_done = false;
	ub->notify = flags & RFS_SEND_NOTIFY;
	if (c->txq_tail)
		c->txq_tail->next = ub;
	else
		c->txq = ub;
	c->txq_tail = ub;
	mark_dirty(c);
	return 0;
}

/* ---- connections ------------------------------------------------------ */

static void conn_desc_init(struct uconn *c)
{
	struct sockaddr_storage a, b;
	socklen_t la = sizeof(a), lb = sizeof(b);
	char l[64] = "?", r[64] = "?";

	c->x->st.syscalls += 2;
	if (!getsockname(c->fd, (struct sockaddr *)&a, &la))
		rfs_addr_fmt((struct sockaddr *)&a, la, l, sizeof(l));
	if (!getpeername(c->fd, (struct sockaddr *)&b, &lb))
		rfs_addr_fmt((struct sockaddr *)&b, lb, r, sizeof(r));
	snprintf(c->desc, sizeof(c->desc), "uring %s->%s", l, r);
}

static int uring_adopt(struct rfs_xprt *xp, int fd, struct rfs_conn **out)
{
	struct uctx *x = UX(xp);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct uconn *c;

	*out = NULL;
	x->st.syscalls++;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		int rc = -errno;

		rfs_err("xprt: uring: adopt fd %d: %s", fd, strerror(-rc));
		return rc;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->base.ops = &rfs_xprt_uring_ops;
	c->base.x = xp;
	c->x = x;
	c->fd = fd;
	c->state = UC_UP;
	c->rx_req = (struct ureq){ .kind = UREQ_RECV, .c = c };
	c->tx_req = (struct ureq){ .kind = UREQ_SEND, .c = c };
	c->cancel_req = (struct ureq){ .kind = UREQ_CANCEL, .c = c };
	c->rxd_req = (struct ureq){ .kind = UREQ_RECV_DIRECT, .c = c };
	c->rxs_req = (struct ureq){ .kind = UREQ_RX_STOP, .c = c };
	/* SEND_ZC is for TCP (and UDP); AF_UNIX sockets refuse it */
	c->tcp = ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
	c->zc_ok = x->zc && c->tcp;
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
		int one = 1;

		x->st.syscalls++;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
			rfs_warn("xprt: uring: fd %d: TCP_NODELAY: %s", fd,
				 strerror(errno));
	}
	conn_desc_init(c);
	c->next = x->conns;
	if (x->conns)
		x->conns->prev = c;
	x->conns = c;
	arm_recv(c);
	if (c->state != UC_UP) {
		/* could not even queue the receive: give the fd back */
		x->conns = c->next;
		if (x->conns)
			x->conns->prev = NULL;
		free(c);
		return -EBUSY;
	}
	*out = (struct rfs_conn *)(void *)c;
	return 0;
}

/*
 * Orderly close, as xprt_tcp does it: stop delivering frames, push what
 * is queued, shut the write side down, and keep reading (and discarding)
 * until the peer's EOF, so that closing with unread input cannot send a
 * RST that destroys our last frames in the peer's receive queue.  Unlike
 * xprt_tcp, CONN_DOWN 0 comes after that EOF: the multishot receive
 * points at the connection until it ends.
 */
static void uring_disconnect(struct rfs_conn *cp)
{
	struct uconn *c = UC(cp);

	if (c->state != UC_UP)
		return;
	c->state = UC_DRAINING;
	/* a direct recv may be writing into rx_buf: it drops it when done */
	if (c->rx_buf && !c->rx_direct) {
		pool_put(c->x, c->rx_buf);
		c->rx_buf = NULL;
	}
	c->rx_hdr_have = 0;
	if (!c->txq && !c->tx_busy)
		drain_done(c);
}

static void uring_conn_free(struct rfs_conn *cp)
{
	struct uconn *c = UC(cp);

	if (c->state != UC_DOWN) {
		/*
		 * Misuse, but neither leak nor let the kernel write into
		 * freed memory: tear it down, and free it (without an event)
		 * once its last CQE is in.
		 */
		rfs_warn("xprt: uring: %s: freed before CONN_DOWN", c->desc);
		c->orphan = true;
		evq_scrub(c->x, c);
		rfs_uring_conn_fail(c, -ECANCELED);
		return;
	}
	rfs_uring_conn_unlink_free(c->x, c);
}

static const char *uring_conn_desc(const struct rfs_conn *cp)
{
	return ((const struct uconn *)(const void *)cp)->desc;
}

/*
 * The direct receive of a large frame's rest and every send use
 * MSG_WAITALL: the kernel moves their bytes in pieces but completes them
 * once, so while one is in flight the counts lag.  A zero-copy send's
 * frames complete (SEND) only with its notification, when the peer has
 * acknowledged all of them.  Meanwhile deep asks the socket.
 */
static void uring_progress(const struct rfs_conn *cp,
			   struct rfs_xprt_progress *p, bool deep)
{
	const struct uconn *c = (const struct uconn *)(const void *)cp;

	p->rx_bytes = c->rx_moved;
	p->tx_bytes = c->tx_moved;
	if (c->rx_buf) {
		p->rx_have = c->rx_have;
		p->rx_want = c->rx_want;
	} else {
		p->rx_have = c->rx_hdr_have;
	}
	p->rx_hidden = c->rx_direct;
	p->tx_hidden = c->tx_busy || c->notifs;
	if (deep && c->fd >= 0 && (p->rx_hidden || p->tx_hidden)) {
		int rc;

		c->x->st.syscalls++;
		rc = rfs_sock_counts(c->fd, c->tcp, &p->k_rx, &p->k_tx);
		if (rc)
			rfs_err_rl("xprt: uring: %s: the socket's byte counts "
				   "(%s): %s; a peer that reads only slowly "
				   "may be taken for stalled",
				   c->desc, c->tcp ? "TCP_INFO" : "SIOCOUTQ",
				   strerror(-rc));
	}
}

const struct rfs_xprt_ops rfs_xprt_uring_ops = {
	.desc = { .name = "uring",
		  .flags = RFS_XPRT_F_POLL_FREE | RFS_XPRT_F_STREAM |
			   RFS_XPRT_F_SLEEP },
	.init = rfs_uring_init,
	.fini = rfs_uring_fini,
	.adopt = uring_adopt,
	.disconnect = uring_disconnect,
	.conn_free = uring_conn_free,
	.conn_desc = uring_conn_desc,
	.progress = uring_progress,
	.buf_get = uring_buf_get,
	.buf_put = uring_buf_put,
	.send = uring_send,
	.flush = uring_flush,
	.poll = uring_poll,
	.arm = uring_arm,
	.wait_fd = uring_wait_fd,
	.sleep = uring_sleep,
	.stats = uring_stats,
};
