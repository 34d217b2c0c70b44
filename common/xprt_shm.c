// SPDX-License-Identifier: MIT
/*
 * xprt_shm: same-host kernel bypass over shared memory.
 *
 * Setup runs on a Unix stream socket (see xprt_shm_i.h): the client
 * creates a memfd region and its wake eventfd and passes them with
 * SCM_RIGHTS; the server validates everything, seals the region's size
 * (so the client cannot truncate it under us: SIGBUS), maps it and answers
 * with its own wake eventfd.  The socket then stays open for liveness
 * (its EOF is how a dead peer is noticed, and one RFS_SHM_BYE byte before
 * it marks an orderly close) and for the open files a server passes to
 * its client for the kernel's FUSE passthrough (xprt_shm_fd.h).
 *
 * Data path.  Per direction a ring of descriptors {slot, len} and a slab
 * of fixed-size slots in three classes (4 KiB, 64 KiB, max_msg).  buf_get
 * hands out a slot of our sending slab directly, so a frame is written
 * once, where the peer reads it; send publishes its descriptor (release
 * store of the producer index).  The receiver gives a slot back by
 * writing its number into the direction's return ring; a send with
 * RFS_SEND_NOTIFY completes when its slot comes back.  When no slot is
 * free, buf_get falls back to a heap buffer, and send copies it into a
 * slot as soon as one returns (frames keep their order).
 *
 * The peer is hostile.  It can change shared memory at any moment, so
 * every index and descriptor is copied out before it is checked, every
 * slot number and length is checked against the layout we computed
 * ourselves, and a slot the peer hands us twice is an error.  The frame
 * itself: the receiver lends the caller a *shadow* view of its receiving
 * slab, mapped at setup, in which the first SHADOW_PRIV bytes of every
 * slot are private anonymous memory and the rest maps the shared slot.
 * On receipt we copy the frame's first SHADOW_PRIV bytes (header, fixed
 * part, names, FORGET lists) into the private part and check the frame
 * there, so what decoders look at cannot change under them; only bulk
 * data beyond (WRITE data, xattr values) stays in shared memory, and the
 * peer changing that is no worse than it sending other data.
 *
 * Wakeups.  poll never makes a syscall on the data path.  arm spins for
 * up to spin_us (the caller's rfs_xprt_params.spin_us, else 50;
 * RINGFS_SHM_SPIN_US overrides both) looking at the rings;
 * only then does it set our "sleeping" flag in shared memory, fence, and
 * look again.  A producer fences after publishing and writes the peer's
 * eventfd only when that flag is set.  wait_fd is an epoll fd holding the
 * eventfds and sockets, so a hangup wakes us as well.  An idle
 * connection costs no CPU on either side.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#include "evq.h"
#include "log.h"
#include "proto.h"
#include "spin.h"
#include "util.h"
#include "xprt_impl.h"
#include "xprt_shm_fd.h"
#include "xprt_shm_i.h"

#define SHADOW_PRIV (20u << 10) /* private prefix of a lent frame */
#define SETUP_TIMEOUT_MS 5000
#define LIVENESS_NS (100 * 1000000LL)
#define SPIN_US_DEFAULT 50
#define EPOLL_BATCH 32
#define BUF_ALIGN 64

enum buf_kind {
	BK_HEAP,
	BK_TX,
	BK_RX
};
enum tx_state {
	TS_FREE,
	TS_CALLER,
	TS_FLIGHT,
	TS_QUEUED
};

struct shm_buf {
	struct rfs_buf b;
	struct shm_conn *c;   /* NULL for heap buffers */
	struct shm_buf *next; /* pending queue */
	uint32_t slot;
	uint8_t kind;
	uint8_t state; /* TX: enum tx_state; RX: 1 while lent */
	uint8_t notify;
};

#define HEAP_HDR \
	(((sizeof(struct shm_buf) + BUF_ALIGN - 1) / BUF_ALIGN) * BUF_ALIGN)

enum conn_state {
	CS_UP,
	CS_CLOSING,
	CS_SHUT,
	CS_DOWN
};

struct shm_tag {
	struct shm_conn *c;
	int what; /* 0 eventfd, 1 socket */
};

struct shm_conn {
	struct rfs_conn_base base; /* first: xprt.c reaches it */
	struct shm_xprt *x;
	struct shm_conn *next;
	int fd, efd, efd_peer;
	int side, txd, rxd; /* side 0 client, 1 server; directions */
	int state;
	bool peer_bye, in_epoll;
	unsigned refs; /* 1 until conn_free, + bufs with the caller */
	uint32_t max_msg;
	struct rfs_shm_layout l;
	uint8_t *map;	 /* the whole region */
	uint8_t *shadow; /* receiving slab, private prefixes */
	struct rfs_shm_ctl *ctl;
	struct rfs_shm_desc *txring, *rxring;
	uint32_t *txret, *rxret; /* return rings of txd / rxd */
	uint8_t *txslab, *rxslab;
	/* private copies of the indices: never read back from the region */
	uint32_t tx_head, rx_tail, ret_head, ret_tail;
	struct shm_buf *txb, *rxb; /* one per slot */
	uint32_t *freel[RFS_SHM_NCLASS];
	uint32_t nfree[RFS_SHM_NCLASS];
	struct shm_buf *pend, *pend_tail;
	struct shm_tag tag[2];
	struct rfs_shm_fds fds; /* client: files the server sent */
	char desc[64];
};

struct shm_xprt {
	struct rfs_xprt_base base; /* first */
	int ep;
	struct shm_conn *conns;
	struct shm_conn *primary; /* whose slab buf_get hands out */
	struct rfs_evq q;	  /* events not reaped yet */
	bool armed;
	long long last_check;
	long long spin_ns;
	struct rfs_xprt_stats st;
};

/* ---- events ----------------------------------------------------------- */

static int ev_push(struct shm_xprt *x, int type, int status, struct shm_conn *c,
		   struct rfs_buf *b)
{
	int rc = rfs_evq_push(&x->q, (enum rfs_xev_type)type, status,
			      (struct rfs_conn *)(void *)c, b);

	if (rc)
		rfs_err_rl("xprt: shm: event queue: out of memory");
	return rc;
}

/* ---- conn lifetime ---------------------------------------------------- */

static void conn_destroy(struct shm_conn *c)
{
	if (c->shadow)
		munmap(c->shadow, c->l.slab_size);
	if (c->map)
		munmap(c->map, c->l.size);
	for (int i = 0; i < RFS_SHM_NCLASS; i++)
		free(c->freel[i]);
	free(c->txb);
	free(c->rxb);
	free(c);
}

static void conn_unref(struct shm_conn *c)
{
	if (--c->refs == 0)
		conn_destroy(c);
}

static void conn_close_fds(struct shm_conn *c)
{
	if (c->in_epoll && c->x) {
		epoll_ctl(c->x->ep, EPOLL_CTL_DEL, c->efd, NULL);
		epoll_ctl(c->x->ep, EPOLL_CTL_DEL, c->fd, NULL);
		c->in_epoll = false;
	}
	if (c->fd >= 0)
		close(c->fd);
	rfs_shm_fds_clear(&c->fds);
	if (c->efd >= 0)
		close(c->efd);
	if (c->efd_peer >= 0)
		close(c->efd_peer);
	c->fd = c->efd = c->efd_peer = -1;
}

/* ---- slots ------------------------------------------------------------ */

static int size_class(const struct shm_conn *c, uint32_t size)
{
	for (int i = 0; i < RFS_SHM_NCLASS; i++)
		if (size <= c->l.cls_size[i])
			return i;
	return -1;
}

/* A free slot of our sending slab able to hold size bytes, or NULL. */
static struct shm_buf *slot_take(struct shm_conn *c, uint32_t size)
{
	int k = size_class(c, size);

	if (k < 0 || size > c->max_msg)
		return NULL;
	for (; k < RFS_SHM_NCLASS; k++) {
		struct shm_buf *sb;

		if (!c->nfree[k])
			continue;
		sb = &c->txb[c->freel[k][--c->nfree[k]]];
		sb->state = TS_CALLER;
		c->refs++; /* every slot not free holds one */
		sb->notify = 0;
		sb->b.len = 0;
		return sb;
	}
	return NULL;
}

static void slot_free(struct shm_conn *c, struct shm_buf *sb)
{
	int k;

	rfs_shm_slot_off(&c->l, sb->slot, &k);
	sb->state = TS_FREE;
	sb->notify = 0;
	c->freel[k][c->nfree[k]++] = sb->slot;
	conn_unref(c);
}

/*
 * After publishing: if the peer said it is going to sleep, wake it.  The
 * fence pairs with the one in arm(): either we see its flag, or it sees
 * what we published.
 */
static void wake_peer(struct shm_conn *c)
{
	_Atomic uint32_t *sl = &c->ctl->sleeping[!c->side].v;
	uint64_t one = 1;

	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(sl, memory_order_relaxed))
		return;
	atomic_store_explicit(sl, 0, memory_order_relaxed);
	c->x->st.syscalls++;
	if (write(c->efd_peer, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rfs_err_rl("xprt: shm: %s: wake peer: %s", c->desc,
			   strerror(errno));
}

static void publish(struct shm_conn *c, struct shm_buf *sb)
{
	struct rfs_shm_desc *d = &c->txring[c->tx_head & (c->l.ring - 1)];

	d->slot = sb->slot;
	d->len = sb->b.len;
	sb->state = TS_FLIGHT;
	c->tx_head++;
	atomic_store_explicit(&c->ctl->head[c->txd].v, c->tx_head,
			      memory_order_release);
	c->x->st.frames_out++;
	c->x->st.bytes_out += sb->b.len;
}

/* Give a received slot back to the peer. */
static void slot_return(struct shm_conn *c, uint32_t slot)
{
	c->rxret[c->ret_head & (c->l.ring - 1)] = slot;
	c->ret_head++;
	atomic_store_explicit(&c->ctl->rhead[c->rxd].v, c->ret_head,
			      memory_order_release);
}

static void heap_free(struct shm_xprt *x, struct shm_buf *sb)
{
	(void)x;
	free(sb);
}

/* A buffer the transport is done with and that goes back to its pool. */
static void release(struct shm_xprt *x, struct shm_buf *sb)
{
	if (sb->kind == BK_HEAP)
		heap_free(x, sb);
	else if (sb->kind == BK_TX)
		slot_free(sb->c, sb);
}

/* Hand a sent buffer back to its owner: SEND event or its pool. */
static void send_done(struct shm_xprt *x, struct shm_conn *c,
		      struct shm_buf *sb, int status)
{
	if (!sb->notify) {
		release(x, sb);
		return;
	}
	sb->notify = 0;
	if (sb->kind == BK_TX)
		sb->state = TS_CALLER;
	x->st.bufs_out++;
	if (ev_push(x, RFS_XEV_SEND, status, c, &sb->b)) {
		/* cannot tell the caller: the buffer goes back instead */
		x->st.bufs_out--;
		release(x, sb);
	}
}

/* ---- teardown --------------------------------------------------------- */

static void pick_primary(struct shm_xprt *x)
{
	x->primary = NULL;
	for (struct shm_conn *c = x->conns; c; c = c->next)
		if (c->state == CS_UP) {
			x->primary = c;
			return;
		}
}

/*
 * Complete every outstanding op of c, then CONN_DOWN.  err is what sends
 * that never made it complete with; status is CONN_DOWN's.
 */
static void conn_down(struct shm_conn *c, int err, int status)
{
	struct shm_xprt *x = c->x;

	if (c->state == CS_DOWN)
		return;
	c->state = CS_DOWN;
	for (uint32_t i = 0; i < c->l.nslots; i++)
		if (c->txb[i].state == TS_FLIGHT)
			send_done(x, c, &c->txb[i], err);
	while (c->pend) {
		struct shm_buf *sb = c->pend;

		c->pend = sb->next;
		if (sb->kind == BK_TX && sb->c == c)
			sb->state = TS_FLIGHT;
		send_done(x, c, sb, err);
	}
	c->pend_tail = NULL;
	if (c->in_epoll) {
		epoll_ctl(x->ep, EPOLL_CTL_DEL, c->efd, NULL);
		epoll_ctl(x->ep, EPOLL_CTL_DEL, c->fd, NULL);
		c->in_epoll = false;
	}
	ev_push(x, RFS_XEV_CONN_DOWN, status, c, NULL);
	if (x->primary == c)
		pick_primary(x);
}

/* The peer broke the protocol: drop it, it learns from the socket. */
static void conn_fail(struct shm_conn *c, int err, const char *why)
{
	if (c->state == CS_DOWN)
		return;
	rfs_err_rl("xprt: shm: %s: %s: %s: closing", c->desc, why,
		   strerror(-err));
	shutdown(c->fd, SHUT_RDWR);
	c->x->st.syscalls++;
	conn_down(c, -ECONNRESET, err);
}

/* ---- data path -------------------------------------------------------- */

/* Slots the peer gave back. */
static int reap_returns(struct shm_conn *c)
{
	struct shm_xprt *x = c->x;
	uint32_t head = atomic_load_explicit(&c->ctl->rhead[c->txd].v,
					     memory_order_acquire);
	uint32_t n = head - c->ret_tail;

	if (!n)
		return 0;
	if (n > c->l.ring) {
		conn_fail(c, -EPROTO, "return ring index out of range");
		return -EPROTO;
	}
	for (; c->ret_tail != head; c->ret_tail++) {
		const volatile uint32_t *vs =
			&c->txret[c->ret_tail & (c->l.ring - 1)];
		uint32_t slot = *vs;

		if (slot >= c->l.nslots || c->txb[slot].state != TS_FLIGHT) {
			conn_fail(c, -EPROTO,
				  "peer returned a slot it "
				  "does not hold");
			return -EPROTO;
		}
		send_done(x, c, &c->txb[slot], 0);
	}
	atomic_store_explicit(&c->ctl->rtail[c->txd].v, c->ret_tail,
			      memory_order_release);
	return 0;
}

/* Move queued sends into slots while there are some. */
static void push_pending(struct shm_conn *c)
{
	struct shm_xprt *x = c->x;
	bool any = false;

	while (c->pend) {
		struct shm_buf *sb = c->pend, *slot;

		if (sb->kind == BK_TX && sb->c == c) {
			slot = sb;
		} else {
			slot = slot_take(c, sb->b.len);
			if (!slot) {
				x->st.ring_full++;
				break;
			}
			memcpy(slot->b.data, sb->b.data, sb->b.len);
			x->st.copies_bytes += sb->b.len;
			slot->b.len = sb->b.len;
		}
		c->pend = sb->next;
		if (!c->pend)
			c->pend_tail = NULL;
		publish(c, slot);
		any = true;
		if (slot != sb) {
			slot->notify = 0;
			send_done(x, c, sb, 0);
		}
	}
	if (any)
		wake_peer(c);
}

/* Frames the peer published: copy out, check, lend. */
static int reap_frames(struct shm_conn *c)
{
	struct shm_xprt *x = c->x;
	uint32_t head = atomic_load_explicit(&c->ctl->head[c->rxd].v,
					     memory_order_acquire);
	uint32_t n = head - c->rx_tail;
	bool returned = false;
	int rc = 0;

	if (!n)
		return 0;
	if (n > c->l.ring) {
		conn_fail(c, -EPROTO, "descriptor ring index out of range");
		return -EPROTO;
	}
	for (; c->rx_tail != head; c->rx_tail++) {
		const volatile struct rfs_shm_desc *vd;
		struct rfs_shm_desc d;
		struct shm_buf *sb;
		uint64_t off;
		uint32_t priv;
		int k;

		/* one read; the peer may rewrite the ring meanwhile */
		vd = &c->rxring[c->rx_tail & (c->l.ring - 1)];
		d.slot = vd->slot;
		d.len = vd->len;
		if (d.slot >= c->l.nslots) {
			conn_fail(c, -EPROTO, "descriptor names no slot");
			rc = -EPROTO;
			break;
		}
		sb = &c->rxb[d.slot];
		off = rfs_shm_slot_off(&c->l, d.slot, &k);
		if (d.len < RFS_HDR_SIZE || d.len > c->l.cls_size[k] ||
		    d.len > c->max_msg) {
			conn_fail(c, -EPROTO,
				  "descriptor length out of "
				  "range");
			rc = -EPROTO;
			break;
		}
		if (sb->state) {
			conn_fail(c, -EPROTO,
				  "descriptor names a slot we "
				  "hold");
			rc = -EPROTO;
			break;
		}
		if (c->state != CS_UP) {
			/* closing: we read no more, the peer gets it back */
			slot_return(c, d.slot);
			returned = true;
			continue;
		}
		priv = d.len < SHADOW_PRIV ? d.len : SHADOW_PRIV;
		memcpy(c->shadow + off, c->rxslab + off, priv);
		x->st.copies_bytes += priv;
		rc = rfs_proto_check_frame(c->shadow + off, d.len, c->max_msg);
		if (rc) {
			conn_fail(c, rc, "bad frame");
			break;
		}
		sb->state = 1;
		sb->b.len = d.len;
		c->refs++;
		x->st.bufs_out++;
		x->st.frames_in++;
		x->st.bytes_in += d.len;
		if (ev_push(x, RFS_XEV_RECV, 0, c, &sb->b)) {
			sb->state = 0;
			c->refs--;
			x->st.bufs_out--;
			conn_fail(c, -ENOMEM, "event queue");
			rc = -ENOMEM;
			break;
		}
	}
	if (c->state != CS_DOWN)
		atomic_store_explicit(&c->ctl->tail[c->rxd].v, c->rx_tail,
				      memory_order_release);
	if (returned)
		wake_peer(c);
	return rc;
}

static void try_shut(struct shm_conn *c)
{
	char bye = RFS_SHM_BYE;
	bool inflight = false;

	if (c->state == CS_CLOSING && !c->pend) {
		c->x->st.syscalls += 2;
		if (send(c->fd, &bye, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
			rfs_dbg(RFS_SUB_XPRT, "xprt: shm: %s: bye: %s", c->desc,
				strerror(errno));
		shutdown(c->fd, SHUT_WR);
		c->state = CS_SHUT;
	}
	if (c->state != CS_SHUT)
		return;
	for (uint32_t i = 0; i < c->l.nslots && !inflight; i++)
		inflight = c->txb[i].state == TS_FLIGHT;
	/* every frame we sent reached the peer: an orderly close */
	if (!inflight)
		conn_down(c, -ECONNRESET, 0);
}

/* The peer's socket: its bye byte, files it sent, its EOF, or an error. */
static void sock_input(struct shm_conn *c)
{
	const char *why;
	int ret = rfs_shm_sock_read(c->fd, c->side == 0 ? &c->fds : NULL,
				    &c->peer_bye, &c->x->st.syscalls, &why);

	if (ret == -EAGAIN)
		return;
	if (ret == -EPROTO) {
		conn_fail(c, -EPROTO, why);
		return;
	}
	/* EOF or error: the peer is gone; take what it left us first */
	if (reap_returns(c) || reap_frames(c))
		return;
	if (c->peer_bye || c->state != CS_UP)
		conn_down(c, -ECONNRESET, 0);
	else
		conn_down(c, -ECONNRESET, ret < 0 ? ret : -ECONNRESET);
}

static void conn_progress(struct shm_conn *c)
{
	if (c->state == CS_DOWN)
		return;
	if (reap_returns(c))
		return;
	push_pending(c);
	if (reap_frames(c))
		return;
	try_shut(c);
}

static bool conn_has_work(const struct shm_conn *c)
{
	if (c->state == CS_DOWN)
		return false;
	return atomic_load_explicit(&c->ctl->head[c->rxd].v,
				    memory_order_relaxed) != c->rx_tail ||
	       atomic_load_explicit(&c->ctl->rhead[c->txd].v,
				    memory_order_relaxed) != c->ret_tail;
}

/* Readiness of eventfds and sockets, without blocking. */
static void check_fds(struct shm_xprt *x)
{
	struct epoll_event ev[EPOLL_BATCH];
	int n;

	x->st.syscalls++;
	n = epoll_wait(x->ep, ev, EPOLL_BATCH, 0);
	for (int i = 0; i < n; i++) {
		struct shm_tag *t = ev[i].data.ptr;
		uint64_t v;

		if (t->c->state == CS_DOWN)
			continue;
		if (t->what == 0) {
			x->st.syscalls++;
			if (read(t->c->efd, &v, sizeof(v)) < 0 &&
			    errno != EAGAIN)
				rfs_err_rl("xprt: shm: %s: eventfd: %s",
					   t->c->desc, strerror(errno));
		} else {
			sock_input(t->c);
		}
	}
}

static int shm_poll(struct rfs_xprt *xp, struct rfs_xev *ev, int max)
{
	struct shm_xprt *x = (struct shm_xprt *)(void *)xp;

	if (x->armed) {
		x->armed = false;
		for (struct shm_conn *c = x->conns; c; c = c->next)
			if (c->state != CS_DOWN)
				atomic_store_explicit(
					&c->ctl->sleeping[c->side].v, 0,
					memory_order_relaxed);
		/*
		 * Woken by something else while the wait fd stayed quiet
		 * (the caller says so): no eventfd to drain, no socket
		 * news; the liveness look below still comes on time.
		 */
		if (!x->base.quiet) {
			check_fds(x);
			x->last_check = rfs_now_ns();
		}
	}
	x->base.quiet = false;
	if (x->conns) {
		long long t = rfs_now_ns();

		if (t - x->last_check > LIVENESS_NS) {
			x->last_check = t;
			check_fds(x);
		}
	}
	for (struct shm_conn *c = x->conns; c; c = c->next)
		conn_progress(c);
	return rfs_evq_reap(&x->q, ev, max);
}

static bool any_work(struct shm_xprt *x)
{
	if (x->q.n)
		return true;
	for (struct shm_conn *c = x->conns; c; c = c->next)
		if (conn_has_work(c))
			return true;
	return false;
}

static int shm_arm(struct rfs_xprt *xp)
{
	struct shm_xprt *x = (struct shm_xprt *)(void *)xp;
	struct rfs_spin sp;

	if (any_work(x))
		return 1;
	/*
	 * adaptive spin: under load the next frame comes within
	 * microseconds; none when the CPU is wanted (spin.h)
	 */
	if (x->spin_ns > 0 && x->conns && !x->base.nospin &&
	    rfs_spin_begin(&sp, x->spin_ns)) {
		for (unsigned i = 1;; i++) {
			rfs_cpu_relax();
			if (any_work(x))
				return 1;
			if (!(i & 63) && !rfs_spin_more(&sp))
				break;
		}
	}
	for (struct shm_conn *c = x->conns; c; c = c->next)
		if (c->state != CS_DOWN)
			atomic_store_explicit(&c->ctl->sleeping[c->side].v, 1,
					      memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	x->armed = true;
	if (any_work(x))
		return 1; /* poll clears the flags */
	return 0;
}

static int shm_wait_fd(const struct rfs_xprt *xp)
{
	return ((const struct shm_xprt *)(const void *)xp)->ep;
}

static int shm_flush(struct rfs_xprt *xp)
{
	struct shm_xprt *x = (struct shm_xprt *)(void *)xp;

	for (struct shm_conn *c = x->conns; c; c = c->next)
		if (c->state != CS_DOWN) {
			if (reap_returns(c))
				continue;
			push_pending(c);
		}
	return 0;
}

/* ---- buffers ---------------------------------------------------------- */

static struct rfs_buf *shm_buf_get(struct rfs_xprt *xp, uint32_t size)
{
	struct shm_xprt *x = (struct shm_xprt *)(void *)xp;
	struct shm_buf *sb = NULL;
	void *mem;

	if (size > x->base.params.max_msg)
		return NULL;
	if (x->primary && x->primary->state == CS_UP)
		sb = slot_take(x->primary, size);
	if (!sb) {
		if (posix_memalign(&mem, BUF_ALIGN, HEAP_HDR + size))
			return NULL;
		sb = mem;
		memset(sb, 0, sizeof(*sb));
		sb->kind = BK_HEAP;
		sb->b.data = (char *)mem + HEAP_HDR;
		sb->b.cap = size;
	}
	x->st.bufs_out++;
	return &sb->b;
}

static void shm_buf_put(struct rfs_xprt *xp, struct rfs_buf *b)
{
	struct shm_xprt *x = (struct shm_xprt *)(void *)xp;
	struct shm_buf *sb = container_of(b, struct shm_buf, b);
	struct shm_conn *c = sb->c;

	x->st.bufs_out--;
	switch (sb->kind) {
	case BK_HEAP:
		heap_free(x, sb);
		return;
	case BK_TX:
		slot_free(c, sb);
		return;
	case BK_RX:
		sb->state = 0;
		if (c->state != CS_DOWN) {
			slot_return(c, sb->slot);
			wake_peer(c);
		}
		break;
	}
	conn_unref(c);
}

static int shm_send(struct rfs_conn *cp, struct rfs_buf *b, unsigned flags)
{
	struct shm_conn *c = (struct shm_conn *)(void *)cp;
	struct shm_xprt *x = c->x;
	struct shm_buf *sb = container_of(b, struct shm_buf, b);
	int rc = 0;

	x->st.bufs_out--;
	if (sb->kind == BK_RX) {
		rc = -EINVAL; /* a lent buffer is not ours to send */
		goto put;
	}
	if (c->state != CS_UP) {
		rc = -ENOTCONN;
		goto put;
	}
	if (b->len < RFS_HDR_SIZE || b->len > b->cap) {
		rc = -EINVAL;
		goto put;
	}
	if (b->len > c->max_msg) {
		rc = -EMSGSIZE;
		goto put;
	}
	sb->notify = !!(flags & RFS_SEND_NOTIFY);
	if (sb->kind == BK_TX && sb->c == c) {
		if (!c->pend) {
			publish(c, sb);
			wake_peer(c);
			return 0;
		}
		sb->state = TS_QUEUED;
	}
	sb->next = NULL;
	if (c->pend_tail)
		c->pend_tail->next = sb;
	else
		c->pend = sb;
	c->pend_tail = sb;
	push_pending(c);
	return 0;
put:
	x->st.bufs_out++;
	shm_buf_put((struct rfs_xprt *)(void *)x, b);
	return rc;
}

/* ---- setup ------------------------------------------------------------ */

/* Send len bytes with nfd fds attached to the first byte. */
static int send_fds(int fd, const void *p, size_t len, const int *fds, int nfd)
{
	long long deadline = rfs_now_ms() + SETUP_TIMEOUT_MS;
	int rc;

	for (;;) {
		/* a short first send (-EIO): not worth going on */
		rc = rfs_send_fds(fd, p, len, fds, (unsigned)nfd, MSG_NOSIGNAL);
		if (rc != -EAGAIN)
			return rc;
		rc = rfs_poll_until(fd, POLLOUT, deadline);
		if (rc)
			return rc;
	}
}

/*
 * Receive exactly len bytes; fds attached to them land in fds (up to
 * maxfd, *nfd set); any more are closed and make it fail.
 */
static int recv_fds(int fd, void *p, size_t len, int *fds, int maxfd, int *nfd)
{
	long long deadline = rfs_now_ms() + SETUP_TIMEOUT_MS;
	size_t got = 0;
	int rc = 0;

	*nfd = 0;
	while (got < len) {
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(8 * sizeof(int))];
		} cm;
		struct iovec iov = { .iov_base = (char *)p + got,
				     .iov_len = len - got };
		struct msghdr m = { .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cm.b,
				    .msg_controllen = sizeof(cm.b) };
		ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				break;
			}
			rc = rfs_poll_until(fd, POLLIN, deadline);
			if (rc)
				break;
			continue;
		}
		if (n == 0) {
			rc = -ECONNRESET;
			break;
		}
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h;
		     h = CMSG_NXTHDR(&m, h)) {
			int k;

			if (h->cmsg_level != SOL_SOCKET ||
			    h->cmsg_type != SCM_RIGHTS)
				continue;
			k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k; i++) {
				int f;

				memcpy(&f, CMSG_DATA(h) + i * sizeof(int),
				       sizeof(int));
				if (*nfd < maxfd)
					fds[(*nfd)++] = f;
				else {
					close(f);
					rc = -EPROTO;
				}
			}
		}
		if (m.msg_flags & MSG_CTRUNC)
			rc = -EPROTO;
		got += (size_t)n;
	}
	if (rc) {
		for (int i = 0; i < *nfd; i++)
			close(fds[i]);
		*nfd = 0;
	}
	return rc;
}

/* Is fd an eventfd?  Anything else passed to us is refused. */
static int check_eventfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = 0;
	if (strcmp(link, "anon_inode:[eventfd]"))
		return -EINVAL;
	if (fcntl(fd, F_SETFL, O_NONBLOCK))
		return -errno;
	return 0;
}

/* Map the region and the shadow of our receiving slab; set the rest up. */
static int conn_map(struct shm_conn *c, int memfd)
{
	const struct rfs_shm_layout *l = &c->l;
	uint8_t *sh;
	int rc;

	c->map = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
		      0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		return -errno;
	}
	sh = mmap(NULL, l->slab_size, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -errno;
	c->shadow = sh;
	/* beyond the private prefix a lent slot maps the shared one */
	for (uint32_t i = 0; i < l->nslots; i++) {
		int k;
		uint64_t off = rfs_shm_slot_off(l, i, &k);

		if (l->cls_size[k] <= SHADOW_PRIV)
			continue;
		if (mmap(sh + off + SHADOW_PRIV, l->cls_size[k] - SHADOW_PRIV,
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd,
			 (off_t)(l->slab_off[c->rxd] + off + SHADOW_PRIV)) ==
		    MAP_FAILED) {
			rc = -errno;
			return rc;
		}
	}
	c->ctl = (struct rfs_shm_ctl *)(void *)c->map;
	c->txring =
		(struct rfs_shm_desc *)(void *)(c->map + l->desc_off[c->txd]);
	c->rxring =
		(struct rfs_shm_desc *)(void *)(c->map + l->desc_off[c->rxd]);
	c->txret = (uint32_t *)(void *)(c->map + l->ret_off[c->txd]);
	c->rxret = (uint32_t *)(void *)(c->map + l->ret_off[c->rxd]);
	c->txslab = c->map + l->slab_off[c->txd];
	c->rxslab = c->map + l->slab_off[c->rxd];
	c->txb = calloc(l->nslots, sizeof(*c->txb));
	c->rxb = calloc(l->nslots, sizeof(*c->rxb));
	if (!c->txb || !c->rxb)
		return -ENOMEM;
	for (int k = 0; k < RFS_SHM_NCLASS; k++) {
		c->freel[k] = calloc(l->cls_n[k] + 1, sizeof(uint32_t));
		if (!c->freel[k])
			return -ENOMEM;
	}
	for (uint32_t i = l->nslots; i-- > 0;) {
		int k;
		uint64_t off = rfs_shm_slot_off(l, i, &k);

		c->txb[i] = (struct shm_buf){
			.b = { .data = c->txslab + off, .cap = l->cls_size[k] },
			.c = c,
			.slot = i,
			.kind = BK_TX,
			.state = TS_FREE,
		};
		c->rxb[i] = (struct shm_buf){
			.b = { .data = c->shadow + off, .cap = l->cls_size[k] },
			.c = c,
			.slot = i,
			.kind = BK_RX,
		};
		c->freel[k][c->nfree[k]++] = i;
	}
	return 0;
}

static int conn_new(struct shm_xprt *x, int fd, int side, struct shm_conn **out)
{
	struct shm_conn *c = calloc(1, sizeof(*c));
	struct ucred cr;
	socklen_t crl = sizeof(cr);

	if (!c)
		return -ENOMEM;
	c->base.ops = x->base.ops;
	c->base.x = (struct rfs_xprt *)(void *)x;
	c->x = x;
	c->fd = fd;
	c->efd = c->efd_peer = -1;
	c->side = side;
	c->txd = side;
	c->rxd = !side;
	c->refs = 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == 0)
		snprintf(c->desc, sizeof(c->desc), "shm fd %d peer pid %d", fd,
			 (int)cr.pid);
	else
		snprintf(c->desc, sizeof(c->desc), "shm fd %d", fd);
	*out = c;
	return 0;
}

/* Last step of both sides: nonblocking socket, epoll, on the list. */
static int conn_attach(struct shm_xprt *x, struct shm_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fl = fcntl(c->fd, F_GETFL);

	if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	c->tag[0] = (struct shm_tag){ c, 0 };
	c->tag[1] = (struct shm_tag){ c, 1 };
	ev.data.ptr = &c->tag[0];
	if (epoll_ctl(x->ep, EPOLL_CTL_ADD, c->efd, &ev))
		return -errno;
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = &c->tag[1];
	if (epoll_ctl(x->ep, EPOLL_CTL_ADD, c->fd, &ev)) {
		int rc = -errno;

		epoll_ctl(x->ep, EPOLL_CTL_DEL, c->efd, NULL);
		return rc;
	}
	c->in_epoll = true;
	c->state = CS_UP;
	c->next = x->conns;
	x->conns = c;
	if (!x->primary)
		x->primary = c;
	return 0;
}

static void conn_abort(struct shm_conn *c)
{
	/* the caller closes the socket */
	c->fd = -1;
	conn_close_fds(c);
	conn_destroy(c);
}

/* Active side: create the region, offer it, wait for the ack. */
static int shm_adopt(struct rfs_xprt *xp, int fd, struct rfs_conn **out)
{
	struct shm_xprt *x = (struct shm_xprt *)(void *)xp;
	const struct rfs_xprt_params *p = &x->base.params;
	struct rfs_shm_setup s = {
		.magic = RFS_SHM_MAGIC,
		.version = RFS_SHM_VERSION,
		.max_msg = p->max_msg,
	};
	struct rfs_shm_ack ack;
	struct shm_conn *c = NULL;
	int memfd = -1, fds[2], nfd, rc;
	uint32_t n0 = p->depth * 4;

	*out = NULL;
	if (fd < 0)
		return -EBADF;
	n0 = n0 < 64 ? 64 : n0 > 1024 ? 1024 : n0;
	s.nslots[0] = n0;
	s.nslots[1] = 32;
	s.nslots[2] = 8;
	s.ring = 1;
	while (s.ring < n0 + 40)
		s.ring <<= 1;
	rc = conn_new(x, fd, 0, &c);
	if (rc)
		return rc;
	rc = rfs_shm_layout(&s, &c->l);
	if (rc) {
		rfs_err("xprt: shm: params give no valid layout");
		goto abort;
	}
	s.region_size = c->l.size;
	c->max_msg = p->max_msg;
	memfd = memfd_create("ringfs-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0) {
		rc = -errno;
		rfs_err("xprt: shm: memfd_create: %s", strerror(-rc));
		goto abort;
	}
	if (ftruncate(memfd, (off_t)c->l.size)) {
		rc = -errno;
		rfs_err("xprt: shm: ftruncate region: %s", strerror(-rc));
		goto abort;
	}
	rc = conn_map(c, memfd);
	if (rc) {
		rfs_err("xprt: shm: map region: %s", strerror(-rc));
		goto abort;
	}
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		rc = -errno;
		rfs_err("xprt: shm: eventfd: %s", strerror(-rc));
		goto abort;
	}
	fds[0] = memfd;
	fds[1] = c->efd;
	rc = send_fds(fd, &s, sizeof(s), fds, 2);
	if (rc) {
		rfs_err("xprt: shm: %s: send setup: %s", c->desc,
			strerror(-rc));
		goto abort;
	}
	close(memfd);
	memfd = -1;
	rc = recv_fds(fd, &ack, sizeof(ack), fds, 1, &nfd);
	if (rc) {
		rfs_err("xprt: shm: %s: no setup answer: %s", c->desc,
			strerror(-rc));
		goto abort;
	}
	if (ack.magic != RFS_SHM_ACK_MAGIC || ack.status > 0 ||
	    (ack.status == 0 && nfd != 1)) {
		rfs_err("xprt: shm: %s: malformed setup answer", c->desc);
		rc = -EPROTO;
		goto close_fds;
	}
	if (ack.status) {
		rc = ack.status;
		rfs_err("xprt: shm: %s: the server refused the region: %s",
			c->desc, strerror(-rc));
		goto close_fds;
	}
	c->efd_peer = fds[0];
	nfd = 0;
	rc = check_eventfd(c->efd_peer);
	if (rc) {
		rfs_err("xprt: shm: %s: the server's wake fd is no eventfd",
			c->desc);
		goto abort;
	}
	rc = conn_attach(x, c);
	if (rc)
		goto abort;
	*out = (struct rfs_conn *)(void *)c;
	return 0;
close_fds:
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
abort:
	if (memfd >= 0)
		close(memfd);
	conn_abort(c);
	return rc;
}

/* Passive side: check the offer, seal the region, map it, answer. */
static int shm_accept(struct rfs_xprt *xp, int fd, struct rfs_conn **out)
{
	struct shm_xprt *x = (struct shm_xprt *)(void *)xp;
	struct rfs_shm_setup s;
	struct rfs_shm_ack ack = { .magic = RFS_SHM_ACK_MAGIC };
	struct shm_conn *c = NULL;
	int fds[2] = { -1, -1 }, nfd = 0, seals, rc;
	const char *why = "?";
	struct stat stb;

	*out = NULL;
	if (fd < 0)
		return -EBADF;
	rc = conn_new(x, fd, 1, &c);
	if (rc)
		return rc;
	rc = recv_fds(fd, &s, sizeof(s), fds, 2, &nfd);
	if (rc) {
		why = "no setup message";
		goto refuse;
	}
	rc = -EPROTO;
	why = "bad setup message";
	if (s.magic != RFS_SHM_MAGIC || s.flags || s.pad || nfd != 2)
		goto refuse;
	rc = -EPROTONOSUPPORT;
	why = "setup version";
	if (s.version != RFS_SHM_VERSION)
		goto refuse;
	rc = -EINVAL;
	why = "region layout out of range";
	if (rfs_shm_layout(&s, &c->l) || c->l.size != s.region_size)
		goto refuse;
	c->max_msg = s.max_msg < x->base.params.max_msg ?
			     s.max_msg :
			     x->base.params.max_msg;
	/* a memfd, sealed against resizing before we look at its size */
	why = "region is no memfd";
	seals = fcntl(fds[0], F_GET_SEALS);
	if (seals < 0)
		goto refuse;
	why = "cannot seal the region";
	if (fcntl(fds[0], F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)) {
		rc = -errno;
		goto refuse;
	}
	seals = fcntl(fds[0], F_GET_SEALS);
	rc = -EINVAL;
	if (seals < 0 ||
	    (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
		    (F_SEAL_SHRINK | F_SEAL_GROW) ||
	    (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		goto refuse;
	why = "region size";
	if (fstat(fds[0], &stb) || !S_ISREG(stb.st_mode) ||
	    (uint64_t)stb.st_size != c->l.size)
		goto refuse;
	why = "client's wake fd is no eventfd";
	rc = check_eventfd(fds[1]);
	if (rc)
		goto refuse;
	c->efd_peer = fds[1];
	fds[1] = -1;
	why = "map region";
	rc = conn_map(c, fds[0]);
	if (rc)
		goto refuse;
	close(fds[0]);
	fds[0] = -1;
	why = "eventfd";
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		rc = -errno;
		goto refuse;
	}
	why = "send setup answer";
	rc = send_fds(fd, &ack, sizeof(ack), &c->efd, 1);
	if (rc)
		goto fail;
	rc = conn_attach(x, c);
	if (rc)
		goto fail;
	*out = (struct rfs_conn *)(void *)c;
	return 0;
refuse:
	ack.status = rc;
	send_fds(fd, &ack, sizeof(ack), NULL, 0);
fail:
	rfs_err("xprt: shm: %s: setup refused: %s: %s", c->desc, why,
		strerror(-rc));
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	conn_abort(c);
	return rc;
}

/* ---- connection API --------------------------------------------------- */

static void shm_disconnect(struct rfs_conn *cp)
{
	struct shm_conn *c = (struct shm_conn *)(void *)cp;

	if (c->state != CS_UP)
		return;
	c->state = CS_CLOSING;
	if (c->x->primary == c)
		pick_primary(c->x);
	conn_progress(c);
}

static void drop_put(void *ctx, struct rfs_buf *b)
{
	shm_buf_put(ctx, b);
}

/* Events of a connection freed before its CONN_DOWN was reaped. */
static void drop_events(struct shm_xprt *x, struct shm_conn *c)
{
	rfs_evq_scrub(&x->q, (struct rfs_conn *)(void *)c, drop_put, x);
}

static void shm_conn_free(struct rfs_conn *cp)
{
	struct shm_conn *c = (struct shm_conn *)(void *)cp;
	struct shm_xprt *x = c->x;

	if (c->state != CS_DOWN) {
		/* freed without CONN_DOWN: abrupt, the peer sees EOF */
		conn_down(c, -ECANCELED, -ECANCELED);
		drop_events(x, c);
	}
	for (struct shm_conn **pp = &x->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (x->primary == c)
		pick_primary(x);
	conn_close_fds(c);
	conn_unref(c);
}

static const char *shm_conn_desc(const struct rfs_conn *cp)
{
	return ((const struct shm_conn *)(const void *)cp)->desc;
}

/* ---- context ---------------------------------------------------------- */

static void shm_fini(struct rfs_xprt *xp)
{
	struct shm_xprt *x = (struct shm_xprt *)(void *)xp;

	if (!x)
		return;
	while (x->conns) {
		struct shm_conn *c = x->conns;

		x->conns = c->next;
		while (c->pend) {
			struct shm_buf *sb = c->pend;

			c->pend = sb->next;
			if (sb->kind == BK_HEAP)
				free(sb);
		}
		conn_close_fds(c);
		/* buffers still lent become invalid (see xprt_tcp.c) */
		conn_destroy(c);
	}
	/* heap buffers handed out in events are the caller's; the rest */
	rfs_evq_free(&x->q);
	if (x->ep >= 0)
		close(x->ep);
	free(x);
}

static int shm_init(const struct rfs_xprt_params *p, struct rfs_xprt **out)
{
	struct shm_xprt *x = calloc(1, sizeof(*x));
	long spin = p->spin_us >= 0 ? p->spin_us : SPIN_US_DEFAULT;
	int rc;

	*out = NULL;
	if (!x)
		return -ENOMEM;
	x->base.ops = &rfs_xprt_shm_ops;
	x->base.params = *p;
	x->ep = epoll_create1(EPOLL_CLOEXEC);
	if (x->ep < 0) {
		rc = -errno;
		rfs_err("xprt: shm: epoll_create1: %s", strerror(-rc));
		shm_fini((struct rfs_xprt *)(void *)x);
		return rc;
	}
	x->spin_ns = rfs_spin_env_us("RINGFS_SHM_SPIN_US", spin) * 1000LL;
	*out = (struct rfs_xprt *)(void *)x;
	return 0;
}

/* server: pass an open file to the client, before the reply naming it */
static int shm_send_fd(struct rfs_conn *cp, int fd, uint64_t token)
{
	struct shm_conn *c = (struct shm_conn *)(void *)cp;

	if (c->state != CS_UP || c->side != 1)
		return -ENOTCONN;
	c->x->st.syscalls++;
	return rfs_shm_fd_send(c->fd, fd, token);
}

/* client: the file the server sent with token (it is on the socket) */
static int shm_take_fd(struct rfs_conn *cp, uint64_t token)
{
	struct shm_conn *c = (struct shm_conn *)(void *)cp;
	int fd = rfs_shm_fd_take(&c->fds, token);

	if (fd == -ENOENT && c->side == 0 && c->fd >= 0) {
		const char *why;
		int ret = rfs_shm_sock_read(c->fd, &c->fds, &c->peer_bye,
					    &c->x->st.syscalls, &why);

		if (ret == -EPROTO)
			conn_fail(c, -EPROTO, why);
		fd = rfs_shm_fd_take(&c->fds, token);
	}
	return fd;
}

static void shm_stats(const struct rfs_xprt *xp, struct rfs_xprt_stats *s)
{
	*s = ((const struct shm_xprt *)(const void *)xp)->st;
}

const struct rfs_xprt_ops rfs_xprt_shm_ops = {
	.desc = { .name = "shm",
		  .flags = RFS_XPRT_F_POLL_FREE | RFS_XPRT_F_LOCAL |
			   RFS_XPRT_F_PASSFD },
	.init = shm_init,
	.fini = shm_fini,
	.setup_magic = RFS_SHM_MAGIC,
	.adopt = shm_adopt,
	.accept = shm_accept,
	.disconnect = shm_disconnect,
	.conn_free = shm_conn_free,
	.conn_desc = shm_conn_desc,
	.buf_get = shm_buf_get,
	.buf_put = shm_buf_put,
	.send = shm_send,
	.flush = shm_flush,
	.poll = shm_poll,
	.arm = shm_arm,
	.wait_fd = shm_wait_fd,
	.send_fd = shm_send_fd,
	.take_fd = shm_take_fd,
	.stats = shm_stats,
};
