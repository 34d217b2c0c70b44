// SPDX-License-Identifier: MIT
/*
 * xprt_rdma: RDMA verbs (rdma-core) over an RC queue pair, connected by
 * librdmacm and tied to the TCP control connection by a session token.
 * The setup handshake is in xprt_rdma_setup.c, pushed replies in
 * xprt_rdma_push.c, the test hooks (test builds only) in
 * xprt_rdma_hooks.c, the buffer pool in bufpool.c; the messages and the
 * internal structures in xprt_rdma_i.h.
 *
 * Memory.  Every buffer the caller sees comes from a per-context pool of
 * chunks; each chunk is registered once (ibv_reg_mr) when the pool grows
 * and deregistered only by fini: no registration on the I/O path.  A
 * buffer has a 64-byte prefix in front of data, so a SEND of
 * [struct rdma_msg][frame] needs neither a copy nor a second SGE.  All
 * connections of a context share one protection domain (the device of
 * the first connection).
 *
 * Security.  Chunks are local write + remote read.  A passive (server)
 * context never registers anything remotely writable, and it has one
 * context (one PD) per connection: a client can read the chunks whose
 * rkeys it was given, of its own connection only, and write nothing.  An
 * active (client) context registers the chunks of its large classes
 * (above the inline threshold, where pushed replies land) remote write
 * as well; receives and control messages stay in the smallest class,
 * never writable.  The rkeys of those chunks go to the server we
 * connected to, and an rkey works only through a QP of the same PD: each
 * context has its own PD, holding only its own connections' QPs, so no
 * other process, context or connection on either host can use them.
 * Memory windows (RDMA_SETUPF_MW, negotiated; the device must bind
 * type 2 windows): then the large classes are registered for window
 * binds, not remote write, and each advertisement goes through a window
 * of its own slot, bound (a BIND_MW work request in front of the
 * request's SEND) to exactly the advertised buffer under a fresh rkey;
 * the server's WRITTEN or UNADV is a SEND with invalidate of that rkey,
 * and the client refuses either without it (xprt_rdma_push.c).  So the
 * server can write one buffer, during one request.  Without windows
 * (a device that lacks them; RINGFS_RDMA_TEST_NO_MW in tests) the rest
 * of this paragraph holds: while connected, our server (every server
 * this context connected to; a client context has its one server) can
 * write any large pool buffer of ours, not just the one it was offered,
 * and at any time, not just before its WRITTEN.  The client trusts its
 * server that far (it trusts it with the file data anyway).  Every
 * frame is checked when
 * WRITTEN says it is there, like any received frame, and the caller
 * reads it once (as with shm: never take a length from bytes the peer
 * could still change).  Once the connection is down its QP is gone and
 * the rkeys are useless.
 *
 * Messages.  Receives are pool buffers of the smallest class, posted per
 * connection (`nrecv` of them).  A frame up to the negotiated inline
 * threshold travels inline: the receive buffer itself is lent to the
 * caller (no copy) and a fresh one is posted in its place.  A larger
 * frame stays in the sender's buffer: the sender SENDs a descriptor
 * (RMA {addr, len, rkey, cookie}); the receiver takes a buffer of the
 * right size, RDMA-READs the frame into it, and answers DONE so the
 * sender can release its buffer.  So the receiver controls memory and
 * pacing; this is how WRITE data (and every large request) reaches the
 * server: the server RDMA-READs it out of the client's buffer.
 *
 * Push (negotiated in setup; without it every large frame goes RMA):
 * large replies to requests sent with a reply-size hint (READ) are
 * RDMA-WRITTEN by the server into a buffer the client advertised with
 * the request, without the DONE round trip; see xprt_rdma_push.c.
 *
 * Ordering.  Frames are delivered in the order they were sent: a frame
 * whose RDMA READ is still running holds back the inline frames behind
 * it (the rx queue).  WRITTEN arrives in order with the other messages,
 * and its buffer joins the rx queue when it does, already complete.
 *
 * Credits.  A message consumes one receive of the peer; `credits` tells
 * how many we may still send.  Every message returns, piggy-backed, the
 * receives we re-posted since we last said so; with nothing to send, an
 * explicit CREDIT message goes out when half of them are owed or when
 * the peer flags that it runs short.  The last credit is reserved for
 * CREDIT messages, so two peers can never both wait for credits.  The
 * sender therefore never overruns the receiver (rnr_retry is small on
 * purpose: an RNR would be our bug).  WRITTEN is a message like any
 * other (one credit); its RDMA WRITE consumes no receive, only a send
 * queue slot (the send queue is sized for a WRITE per credit).
 *
 * Completions.  poll() reaps each connection's CQ (ibv_poll_cq, no
 * syscall with rxe or hardware) and only looks at the epoll fd (the
 * completion channels, the rdma_cm event channels, the TCP control
 * sockets) when the CQs were empty.  arm() spins on the CQs for a short
 * while, then requests a notification and polls once more, so a
 * completion that raced the request is not lost.  wait_fd() is the epoll
 * fd: a CQ event, a disconnect and the TCP control socket's hangup all
 * wake the caller.
 *
 * Teardown.  Peer death (TCP EOF, DISCONNECTED, a work request in error)
 * destroys the QP first, so no completion can name a buffer any more and
 * no pushed WRITE can land, then completes everything the connection
 * held: NOTIFY sends (pushed replies included) with an error, the rest,
 * advertised buffers included, back to the pool; then one CONN_DOWN.
 * A closing connection drops input: a WRITTEN then frees its buffer.
 * Resources go in the reverse order of creation: QP, CQ, completion
 * channel, cm id, cm event channel, socket; MRs and the PD in fini.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "addr.h"
#include "log.h"
#include "proto.h"
#include "xprt_impl.h"
#include "xprt_rdma_i.h"
/* ---- device and pool ------------------------------------------------ */

int rfs_rdma_dev_bind(struct rdma_xprt *t, struct ibv_context *verbs)
{
	int rc;

	if (t->pd) {
		if (t->verbs != verbs) {
			rfs_err("xprt: rdma: connection on device %s, but "
				"this context is bound to %s",
				ibv_get_device_name(verbs->device),
				ibv_get_device_name(t->verbs->device));
			return -EXDEV;
		}
		return 0;
	}
	rc = ibv_query_device(verbs, &t->dattr);
	if (rc) {
		rfs_err("xprt: rdma: ibv_query_device(%s): %s",
			ibv_get_device_name(verbs->device), strerror(rc));
		return -rc;
	}
	t->pd = ibv_alloc_pd(verbs);
	if (!t->pd) {
		rc = -(errno ? errno : ENOMEM);
		rfs_err("xprt: rdma: ibv_alloc_pd(%s): %s",
			ibv_get_device_name(verbs->device), strerror(-rc));
		return rc;
	}
	t->verbs = verbs;
	/*
	 * A receive that invalidated an rkey says so in wc_flags.  rxe's
	 * provider hands the kernel's completion over as it is, and there
	 * IB_WC_WITH_INVALIDATE is bit 2, which userspace calls
	 * IBV_WC_IP_CSUM_OK (meaningless on an RC receive); seen with
	 * Debian 12's rdma-core 44 and Linux 6.1.  Soft-RoCE's vendor id
	 * is 0xffffff.
	 */
	t->wc_inv = IBV_WC_WITH_INV;
	if (t->dattr.vendor_id == 0xffffff)
		t->wc_inv |= IBV_WC_IP_CSUM_OK;
	/*
	 * Push through memory windows needs type 2 windows (bound by a work
	 * request, invalidated by the peer's SEND with invalidate).  A probe
	 * allocation says whether the provider really has them.
	 */
	if ((t->dattr.device_cap_flags &
	     (IBV_DEVICE_MEM_WINDOW_TYPE_2A | IBV_DEVICE_MEM_WINDOW_TYPE_2B)) &&
	    rfs_rdma_mw_allowed()) {
		struct ibv_mw *mw;

		t->st.syscalls += 2;
		mw = ibv_alloc_mw(t->pd, IBV_MW_TYPE_2);
		if (mw) {
			t->mw_ok = true;
			if (ibv_dealloc_mw(mw))
				rfs_warn("xprt: rdma: ibv_dealloc_mw: %s",
					 strerror(errno));
		}
	}
	rfs_dbg(RFS_SUB_XPRT, "xprt: rdma: device %s: memory windows %s",
		ibv_get_device_name(verbs->device),
		t->mw_ok ? "type 2" : "none (push through remote-write MRs)");
	return 0;
}

/* Bind to the first device when a buffer is wanted before any connection. */
static int dev_bind_default(struct rdma_xprt *t)
{
	struct ibv_context **list;
	int n = 0, rc;

	if (t->pd)
		return 0;
	list = rdma_get_devices(&n);
	if (!list || n < 1) {
		if (list)
			rdma_free_devices(list);
		return -ENODEV;
	}
	rc = rfs_rdma_dev_bind(t, list[0]);
	rdma_free_devices(list);
	return rc;
}

static void pool_dereg(void *arg, struct rfs_pool_chunk *ch);

/*
 * The pool's register hook: each new chunk is registered once, in the
 * context's protection domain (bound to the first device if no
 * connection chose one yet), and deregistered only when the pool is
 * destroyed (fini): no registration on the I/O path.
 */
static int pool_reg(void *arg, struct rfs_pool_chunk *ch)
{
	struct rdma_xprt *t = arg;
	struct ibv_mr *mr;
	int rc;

	rc = dev_bind_default(t);
	if (rc)
		return rc;
	/*
	 * Remote write only where a push may land: the large classes of an
	 * active (client) context.  Receives, control messages and every
	 * buffer of a passive (server) context stay remotely read-only.
	 */
	ch->reg_flags = 0;
	if (t->remote_write && ch->cls > 0)
		ch->reg_flags = t->mw_ok ? RDMA_CHUNK_MW : RDMA_CHUNK_RW;
	t->st.syscalls++;
	mr = ibv_reg_mr(t->pd, ch->mem, ch->len,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
				((ch->reg_flags & RDMA_CHUNK_RW) ?
					 IBV_ACCESS_REMOTE_WRITE :
					 0) |
				((ch->reg_flags & RDMA_CHUNK_MW) ?
					 IBV_ACCESS_MW_BIND :
					 0));
	if (!mr) {
		rc = -(errno ? errno : ENOMEM);
		rfs_err("xprt: rdma: ibv_reg_mr(%zu bytes): %s", ch->len,
			strerror(-rc));
		return rc;
	}
	ch->reg = mr;
	if (ch->reg_flags & RDMA_CHUNK_MW) {
		rc = rfs_rdma_chunk_reg_bufs(t, ch);
		if (rc) {
			pool_dereg(t, ch);
			return rc;
		}
	}
	rfs_dbg(RFS_SUB_XPRT, "xprt: rdma: pool: registered %u buffers of %u",
		ch->nbufs, t->pool.cls[ch->cls].size);
	return 0;
}

static void pool_dereg(void *arg, struct rfs_pool_chunk *ch)
{
	struct ibv_mr **mrs = ch->reg2;

	for (uint32_t i = 0; mrs && i < ch->nbufs; i++)
		if (mrs[i] && ibv_dereg_mr(mrs[i]))
			rfs_warn("xprt: rdma: ibv_dereg_mr: %s",
				 strerror(errno));
	free(mrs);
	ch->reg2 = NULL;
	if (ch->reg && ibv_dereg_mr(ch->reg))
		rfs_warn("xprt: rdma: ibv_dereg_mr: %s", strerror(errno));
	ch->reg = NULL;
}

static struct rfs_buf *rdma_buf_get(struct rfs_xprt *x, uint32_t size)
{
	struct rdma_buf *rb = pool_get(RX(x), size);

	return rb ? &rb->b : NULL;
}

static void rdma_buf_put(struct rfs_xprt *x, struct rfs_buf *b)
{
	if (b)
		pool_put(RX(x), container_of(b, struct rdma_buf, b));
}

/* ---- events ----------------------------------------------------------- */

static void ev_push(struct rdma_xprt *t, enum rfs_xev_type type, int status,
		    struct rdma_conn *c, struct rdma_buf *rb)
{
	if (rfs_evq_push(&t->evq, type, status, (struct rfs_conn *)(void *)c,
			 rb ? &rb->b : NULL)) {
		/* nowhere to report it: log, and do not leak */
		rfs_err_rl("xprt: %s: event queue: out of memory, event "
			   "dropped",
			   c->desc);
		if (rb)
			pool_put(t, rb);
	}
}

/* ---- teardown --------------------------------------------------------- */

static void posted_add(struct rdma_conn *c, struct rdma_buf *rb)
{
	rb->posted = 1;
	rb->iprev = NULL;
	rb->inext = c->posted;
	if (c->posted)
		c->posted->iprev = rb;
	c->posted = rb;
}

static void posted_del(struct rdma_conn *c, struct rdma_buf *rb)
{
	if (!rb->posted)
		return;
	if (rb->iprev)
		rb->iprev->inext = rb->inext;
	else
		c->posted = rb->inext;
	if (rb->inext)
		rb->inext->iprev = rb->iprev;
	rb->posted = 0;
	rb->iprev = rb->inext = NULL;
}

static void send_done(struct rdma_conn *c, struct rdma_buf *rb, int status)
{
	if (rb->send_flags & RFS_SEND_NOTIFY)
		ev_push(c->t, RFS_XEV_SEND, status, c, rb);
	else
		pool_put(c->t, rb);
}

/* Release a buffer the connection held, whatever it was doing. */
static void drop_buf(struct rdma_conn *c, struct rdma_buf *rb, int status)
{
	if (rb->op == BOP_FRAME || rb->op == BOP_RMA || rb->op == BOP_PUSH)
		send_done(c, rb, status);
	else
		pool_put(c->t, rb);
}

static void ep_del_all(struct rdma_conn *c)
{
	static const int none = -1;
	int fds[EP_N] = { c->fd, c->cm_ch ? c->cm_ch->fd : none,
			  c->cch ? c->cch->fd : none };

	for (int k = 0; k < EP_N; k++) {
		if (!c->ep_added[k])
			continue;
		c->t->st.syscalls++;
		if (epoll_ctl(c->t->epfd, EPOLL_CTL_DEL, fds[k], NULL))
			rfs_warn("xprt: %s: epoll_ctl(DEL): %s", c->desc,
				 strerror(errno));
		c->ep_added[k] = false;
	}
}

/*
 * The unwind ladder, in reverse order of creation.  After the QP is
 * gone no completion can name one of our buffers.  The TCP socket is
 * closed only when close_fd (on a failed adopt/accept it stays the
 * caller's).
 */
void rfs_rdma_conn_release(struct rdma_conn *c, bool close_fd)
{
	ep_del_all(c);
	/*
	 * Windows first: a bound type 2 window holds its QP, and rxe's QP
	 * destruction waits (about 50 s) for such references to go.  Once
	 * they are gone no rkey of ours works for the server.
	 */
	rfs_rdma_win_free(c);
	if (c->id && c->id->qp)
		rdma_destroy_qp(c->id);
	if (c->cq && ibv_destroy_cq(c->cq))
		rfs_warn("xprt: %s: ibv_destroy_cq: %s", c->desc,
			 strerror(errno));
	c->cq = NULL;
	if (c->cch && ibv_destroy_comp_channel(c->cch))
		rfs_warn("xprt: %s: ibv_destroy_comp_channel: %s", c->desc,
			 strerror(errno));
	c->cch = NULL;
	if (c->id && rdma_destroy_id(c->id))
		rfs_warn("xprt: %s: rdma_destroy_id: %s", c->desc,
			 strerror(errno));
	c->id = NULL;
	if (c->lid && rdma_destroy_id(c->lid))
		rfs_warn("xprt: %s: rdma_destroy_id(listener): %s", c->desc,
			 strerror(errno));
	c->lid = NULL;
	if (c->cm_ch)
		rdma_destroy_event_channel(c->cm_ch);
	c->cm_ch = NULL;
	if (close_fd && c->fd >= 0 && close(c->fd))
		rfs_warn("xprt: %s: close: %s", c->desc, strerror(errno));
	c->fd = -1;
}

/* Give back every buffer the connection holds. */
void rfs_rdma_conn_drop_bufs(struct rdma_conn *c, int send_status)
{
	struct rdma_buf *rb, *next;

	while (c->posted) {
		rb = c->posted;
		posted_del(c, rb);
		drop_buf(c, rb, send_status);
	}
	for (rb = c->txq_head; rb; rb = next) {
		next = rb->next;
		rb->next = NULL;
		drop_buf(c, rb, send_status);
	}
	c->txq_head = c->txq_tail = NULL;
	for (rb = c->ctlq_head; rb; rb = next) {
		next = rb->next;
		rb->next = NULL;
		pool_put(c->t, rb);
	}
	c->ctlq_head = c->ctlq_tail = NULL;
	for (rb = c->rxq_head; rb; rb = next) {
		next = rb->next;
		rb->next = NULL;
		pool_put(c->t, rb);
	}
	c->rxq_head = c->rxq_tail = NULL;
	memset(c->rma, 0, sizeof(c->rma));
	c->rma_n = 0;
	/* advertisements never answered: the QP is gone, nobody can write */
	for (uint32_t i = 0; i < ADV_MAX; i++) {
		if (c->adv[i] && rfs_rdma_evil_on(c->t))
			rfs_rdma_evil_canary(c, c->adv[i], i, true);
		if (c->adv[i])
			pool_put(c->t, c->adv[i]);
		c->adv[i] = NULL;
	}
	c->adv_n = 0;
	memset(c->padv, 0, sizeof(c->padv));
	c->padv_n = 0;
	c->sends_out = 0;
	c->sq_used = 0;
}

static void conn_down(struct rdma_conn *c, int status)
{
	if (c->state == CS_DOWN)
		return;
	c->state = CS_DOWN;
	/* tell the peer at once; destroying the id would too, later */
	if (c->id && c->id->qp)
		rdma_disconnect(c->id);
	rfs_rdma_conn_release(c, true);
	rfs_rdma_conn_drop_bufs(c, status < 0 ? status : -EPIPE);
	rfs_dbg(RFS_SUB_XPRT, "xprt: %s: down (%s), %llu replies pushed",
		c->desc, status ? strerror(-status) : "closed",
		(unsigned long long)c->pushed);
	ev_push(c->t, RFS_XEV_CONN_DOWN, status, c, NULL);
}

/* ---- posting ---------------------------------------------------------- */

static int post_recv(struct rdma_conn *c, struct rdma_buf *rb)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)bmsg(rb),
		.length = MSG_SZ + rb->b.cap,
		.lkey = rb_mr(rb)->lkey,
	};
	struct ibv_recv_wr wr = {
		.wr_id = (uintptr_t)rb,
		.sg_list = &sge,
		.num_sge = 1,
	}, *bad;
	int rc;

	rb->op = BOP_RECV;
	rc = ibv_post_recv(c->id->qp, &wr, &bad);
	if (rc) {
		rfs_err("xprt: %s: ibv_post_recv: %s", c->desc, strerror(rc));
		pool_put(c->t, rb);
		return -rc;
	}
	posted_add(c, rb);
	return 0;
}

int rfs_rdma_post_fresh_recv(struct rdma_conn *c)
{
	struct rdma_buf *rb = pool_get(c->t, c->t->pool.cls[0].size);

	if (!rb) {
		rfs_err("xprt: %s: no buffer to re-post a receive", c->desc);
		return -ENOMEM;
	}
	return post_recv(c, rb);
}

struct rdma_buf *rfs_rdma_ctrl_new(struct rdma_conn *c, uint8_t type,
				   uint32_t cookie)
{
	struct rdma_buf *rb = pool_get(c->t, MSG_SZ);

	if (!rb)
		return NULL;
	rb->op = BOP_CTRL;
	rb->ctrl_type = type;
	rb->cookie = cookie;
	return rb;
}

static void txq_append(struct rdma_conn *c, struct rdma_buf *rb)
{
	rb->next = NULL;
	if (c->txq_tail)
		c->txq_tail->next = rb;
	else
		c->txq_head = rb;
	c->txq_tail = rb;
}

/*
 * Control messages do not wait behind frames: a DONE stuck behind an RMA
 * frame that waits for a free RMA slot (freed only by the peer's DONEs)
 * would deadlock two peers streaming large frames at each other.
 */
static void ctlq_append(struct rdma_conn *c, struct rdma_buf *rb)
{
	rb->next = NULL;
	if (c->ctlq_tail)
		c->ctlq_tail->next = rb;
	else
		c->ctlq_head = rb;
	c->ctlq_tail = rb;
}

/* Fill the message header of a send; consumes a credit. */
static void msg_fill(struct rdma_conn *c, struct rdma_buf *rb, uint8_t type)
{
	struct rdma_msg *m = bmsg(rb);

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->credits = htole16((uint16_t)c->owed);
	c->owed = 0;
	c->peer_low = false;
	c->credits--;
	if (c->credits * 4 <= c->peer_credits)
		m->flags |= RDMA_MSGF_LOW;
}

/* Push: the advertisement a frame message announces or releases. */
/*
 * Post what can go: RDMA READs for incoming RMA frames (no credit
 * needed), then the send queue in order while credits and SQ room last,
 * then an explicit credit return if one is due.  One ibv_post_send per
 * batch (with rxe each post is a syscall).  0 or -errno (then down).
 */
/*
 * Fill work request n of a post batch: one SGE of our registered memory.
 * raddr/rkey: the peer's memory for RDMA READ/WRITE (ignored for SEND).
 */
static void wr_fill(struct ibv_send_wr *wr, struct ibv_sge *sge,
		    struct rdma_buf *rb, const void *addr, uint32_t len,
		    enum ibv_wr_opcode op, bool signaled)
{
	*sge = (struct ibv_sge){ .addr = (uintptr_t)addr,
				 .length = len,
				 .lkey = rb_mr(rb)->lkey };
	*wr = (struct ibv_send_wr){
		.wr_id = (uintptr_t)rb,
		.sg_list = sge,
		.num_sge = 1,
		.opcode = op,
		.send_flags = signaled ? IBV_SEND_SIGNALED : 0,
	};
	if (op != IBV_WR_SEND) {
		wr->wr.rdma.remote_addr = rb->raddr;
		wr->wr.rdma.rkey = rb->rkey;
	}
}

static int conn_push(struct rdma_conn *c)
{
	struct ibv_send_wr wrs[POST_BATCH], *bad;
	struct ibv_sge sges[POST_BATCH];
	struct rdma_buf *rb;
	bool stale = false; /* test hook srv-push-stale */
	int n, rc;

again:
	if (c->state != CS_UP && c->state != CS_CLOSING)
		return 0;
	n = 0;
	for (rb = c->rxq_head; rb && n < POST_BATCH; rb = rb->next) {
		if (rb->ready || rb->sent)
			continue; /* sent: READ posted */
		if (c->sq_used + (uint32_t)n >= c->sq_max)
			break;
		wr_fill(&wrs[n], &sges[n], rb, rb->b.data, rb->rlen,
			IBV_WR_RDMA_READ, true);
		rb->sent = 1;
		n++;
	}
	for (;;) {
		uint32_t len = MSG_SZ;
		uint32_t slot = 0;
		bool ctl = c->ctlq_head != NULL;
		int need;

		rb = ctl ? c->ctlq_head : c->txq_head;
		if (!rb)
			break;
		/* WRITE + SEND; or, an advertisement through a window,
		   BIND + SEND */
		need = rb->op == BOP_PUSH || (rb->op == BOP_FRAME && rb->adv &&
					      c->active && c->mw) ?
			       2 :
			       1;
		if (n + need > POST_BATCH ||
		    c->sq_used + (uint32_t)(n + need) > c->sq_max)
			break;
		if (c->credits < 2)
			break; /* the last one is for CREDIT messages */
		if (rb->op == BOP_RMA) {
			if (c->rma_n >= RMA_MAX)
				break;
			while (c->rma[slot])
				slot++;
		}
		if (ctl) {
			c->ctlq_head = rb->next;
			if (!c->ctlq_head)
				c->ctlq_tail = NULL;
		} else {
			c->txq_head = rb->next;
			if (!c->txq_head)
				c->txq_tail = NULL;
		}
		rb->next = NULL;
		if (rb->op == BOP_FRAME) {
			msg_fill(c, rb, RDMA_MSG_FRAME);
			len += rb->b.len;
			c->sends_out++;
			if (rb->adv && c->active && c->mw) {
				/* the window first: the SEND behind it
				   announces its rkey */
				rfs_rdma_win_bind(c, rb, &wrs[n]);
				rb->xwr = 1;
				n++;
			}
			if (rb->adv)
				rfs_rdma_msg_adv(c, rb);
			if (rfs_rdma_evil_on(c->t))
				rfs_rdma_evil_send(c, rb);
		} else if (rb->op == BOP_RMA) {
			struct rdma_msg *m = bmsg(rb);

			msg_fill(c, rb, RDMA_MSG_RMA);
			c->sends_out++;
			m->len = htole32(rb->b.len);
			m->addr = htole64((uintptr_t)rb->b.data);
			m->rkey = htole32(rb_mr(rb)->rkey);
			m->cookie = htole32(slot);
			rb->cookie = slot;
			c->rma[slot] = rb;
			c->rma_n++;
			if (rb->adv)
				rfs_rdma_msg_adv(c, rb);
			if (rfs_rdma_evil_on(c->t))
				rfs_rdma_evil_send(c, rb);
		} else if (rb->op == BOP_PUSH) {
			struct rdma_msg *m = bmsg(rb);

			if (rfs_rdma_evil_on(c->t))
				stale = rfs_rdma_evil_push(c, rb);
			/* the frame into the client's buffer; unsignaled:
			   the WRITTEN behind it completes for both */
			wr_fill(&wrs[n], &sges[n], rb, rb->b.data, rb->b.len,
				IBV_WR_RDMA_WRITE, false);
			n++;
			msg_fill(c, rb, RDMA_MSG_WRITTEN);
			c->sends_out++;
			m->len = htole32(rb->b.len);
			m->cookie = htole32(rb->cookie);
			if (rfs_rdma_evil_on(c->t))
				rfs_rdma_evil_send(c, rb);
		} else {
			msg_fill(c, rb, rb->ctrl_type);
			bmsg(rb)->cookie = htole32(rb->cookie);
			/* only the test hook sends WRITTEN as control */
			if (rb->ctrl_type == RDMA_MSG_WRITTEN)
				bmsg(rb)->len = htole32(rb->rlen);
		}
		posted_add(c, rb);
		wr_fill(&wrs[n], &sges[n], rb, bmsg(rb), len, IBV_WR_SEND,
			true);
		if (rb->inv) {
			/* it ends an advertisement: close its window */
			wrs[n].opcode = IBV_WR_SEND_WITH_INV;
			wrs[n].invalidate_rkey = rb->inv_rkey;
		}
		n++;
		if (stale && n < POST_BATCH) {
			/* test hook: the window is closed now */
			wr_fill(&wrs[n], &sges[n], rb, rb->b.data, RFS_HDR_SIZE,
				IBV_WR_RDMA_WRITE, false);
			n++;
		}
		stale = false;
	}
	if (c->owed && c->credits >= 1 && n < POST_BATCH &&
	    c->sq_used + (uint32_t)n < c->sq_max &&
	    (c->owed * 2 >= c->nrecv || c->peer_low)) {
		rb = rfs_rdma_ctrl_new(c, RDMA_MSG_CREDIT, 0);
		if (rb) {
			msg_fill(c, rb, RDMA_MSG_CREDIT);
			posted_add(c, rb);
			wr_fill(&wrs[n], &sges[n], rb, bmsg(rb), MSG_SZ,
				IBV_WR_SEND, true);
			n++;
		}
	}
	if (n) {
		for (int i = 0; i < n - 1; i++)
			wrs[i].next = &wrs[i + 1];
		wrs[n - 1].next = NULL;
		c->t->st.syscalls++;
		rc = ibv_post_send(c->id->qp, wrs, &bad);
		if (rc) {
			rfs_err("xprt: %s: ibv_post_send: %s", c->desc,
				strerror(rc));
			conn_down(c, -rc);
			return -rc;
		}
		c->sq_used += (uint32_t)n;
		if (n >= POST_BATCH - 1)
			goto again; /* the batch may have been full */
	}
	/* local close: everything sent and read, then CLOSE, then down */
	if (c->state == CS_CLOSING && !c->close_queued && !c->txq_head &&
	    !c->ctlq_head && !c->sends_out && !c->rxq_head) {
		rb = rfs_rdma_ctrl_new(c, RDMA_MSG_CLOSE, 0);
		if (!rb) {
			conn_down(c, -ENOMEM);
			return -ENOMEM;
		}
		c->close_queued = true;
		ctlq_append(c, rb);
		goto again;
	}
	return 0;
}

static int rdma_send_expect(struct rfs_conn *cc, struct rfs_buf *b,
			    unsigned flags, uint32_t reply_max)
{
	struct rdma_conn *c = RC(cc);
	struct rdma_buf *rb = container_of(b, struct rdma_buf, b);

	if (c->state != CS_UP) {
		pool_put(c->t, rb);
		return -ENOTCONN;
	}
	if (b->len < RFS_HDR_SIZE || b->len > b->cap ||
	    b->len > c->peer_max_msg) {
		rfs_err("xprt: %s: send: bad frame length %u (cap %u, peer "
			"max %u)",
			c->desc, b->len, b->cap, c->peer_max_msg);
		pool_put(c->t, rb);
		return -EINVAL;
	}
	rb->op = b->len <= c->inline_max ? BOP_FRAME : BOP_RMA;
	rb->send_flags = (uint16_t)flags;
	rb->hinted = reply_max != 0;
	rb->sent = rb->acked = 0;
	rb->adv = 0;
	rb->xwr = rb->inv = 0;
	if (c->push) {
		if (c->active)
			rfs_rdma_adv_attach(c, rb, reply_max);
		else if (c->padv_n)
			rfs_rdma_adv_match(c, rb);
	}
	txq_append(c, rb);
	return 0;
}

static int rdma_send(struct rfs_conn *cc, struct rfs_buf *b, unsigned flags)
{
	return rdma_send_expect(cc, b, flags, 0);
}

static int rdma_flush(struct rfs_xprt *x)
{
	for (struct rdma_conn *c = RX(x)->conns; c; c = c->next)
		conn_push(c);
	return 0;
}

/* ---- completions ------------------------------------------------------ */

void rfs_rdma_deliver(struct rdma_conn *c)
{
	struct rdma_buf *rb;

	while ((rb = c->rxq_head) && rb->ready) {
		c->rxq_head = rb->next;
		if (!c->rxq_head)
			c->rxq_tail = NULL;
		rb->next = NULL;
		rb->op = BOP_NONE;
		if (c->state == CS_CLOSING) {
			/* a closing connection drops input */
			pool_put(c->t, rb);
			continue;
		}
		c->t->st.frames_in++;
		c->t->st.bytes_in += rb->b.len;
		ev_push(c->t, RFS_XEV_RECV, 0, c, rb);
	}
}

void rfs_rdma_rxq_append(struct rdma_conn *c, struct rdma_buf *rb)
{
	rb->next = NULL;
	if (c->rxq_tail)
		c->rxq_tail->next = rb;
	else
		c->rxq_head = rb;
	c->rxq_tail = rb;
}

static void proto_down(struct rdma_conn *c, int rc, const char *what)
{
	rfs_err_rl("xprt: %s: %s: %s", c->desc, what, strerror(-rc));
	conn_down(c, rc);
}

static void rma_finish(struct rdma_conn *c, struct rdma_buf *rb)
{
	posted_del(c, rb);
	c->rma[rb->cookie] = NULL;
	c->rma_n--;
	c->sends_out--;
	c->t->st.frames_out++;
	c->t->st.bytes_out += rb->b.len;
	send_done(c, rb, 0);
}

static void on_recv(struct rdma_conn *c, struct rdma_buf *rb, uint32_t n)
{
	struct rdma_msg m;
	char why[WHY_LEN];
	uint32_t credits, len, cookie;
	int rc;

	if (n < MSG_SZ) {
		pool_put(c->t, rb);
		proto_down(c, -EPROTO, "short message");
		return;
	}
	memcpy(&m, bmsg(rb), sizeof(m));
	credits = le16toh(m.credits);
	if (c->credits + credits > c->peer_credits) {
		pool_put(c->t, rb);
		proto_down(c, -EPROTO,
			   "peer returned more credits than "
			   "it has");
		return;
	}
	c->credits += credits;
	if (m.flags & RDMA_MSGF_LOW)
		c->peer_low = true;
	len = le32toh(m.len);
	cookie = le32toh(m.cookie);
	/* push flags: only where negotiated, only in their direction */
	if ((m.flags & (RDMA_MSGF_ADV | RDMA_MSGF_UNADV)) &&
	    rfs_rdma_push_flags_check(c, &m, why)) {
		pool_put(c->t, rb);
		proto_down(c, -EPROTO, why);
		return;
	}
	switch (m.type) {
	case RDMA_MSG_FRAME:
		rc = rfs_proto_check_frame(rb->b.data, n - MSG_SZ,
					   c->t->base.params.max_msg);
		if (rc)
			snprintf(why, sizeof(why), "bad frame");
		else if (m.flags & RDMA_MSGF_ADV)
			rc = rfs_rdma_adv_record(c, &m, rb->b.data, why);
		if (rc) {
			pool_put(c->t, rb);
			proto_down(c, rc, why);
			return;
		}
		if (c->state == CS_CLOSING)
			break; /* a closing connection drops input */
		rb->b.len = n - MSG_SZ;
		rb->op = BOP_NONE;
		rb->ready = 1;
		rfs_rdma_rxq_append(c, rb);
		rfs_rdma_deliver(c);
		rc = rfs_rdma_post_fresh_recv(c);
		if (rc) {
			conn_down(c, rc);
			return;
		}
		c->owed++;
		return;
	case RDMA_MSG_RMA: {
		struct rdma_buf *nb;

		if (len < RFS_HDR_SIZE || len > c->t->base.params.max_msg ||
		    cookie >= RMA_MAX) {
			pool_put(c->t, rb);
			proto_down(c, -EPROTO, "bad RMA descriptor");
			return;
		}
		if (c->state == CS_CLOSING) {
			/* not read, but let the peer free its buffer */
			nb = rfs_rdma_ctrl_new(c, RDMA_MSG_DONE, cookie);
			if (!nb)
				goto nomem;
			ctlq_append(c, nb);
			break;
		}
		nb = pool_get(c->t, len);
		if (!nb)
			goto nomem;
		nb->op = BOP_READ;
		nb->raddr = le64toh(m.addr);
		nb->rkey = le32toh(m.rkey);
		nb->rlen = len;
		nb->cookie = cookie;
		rfs_rdma_rxq_append(c, nb);
		break;
	}
	case RDMA_MSG_DONE: {
		struct rdma_buf *sb = cookie < RMA_MAX ? c->rma[cookie] : NULL;

		if (!sb || sb->acked) {
			pool_put(c->t, rb);
			proto_down(c, -EPROTO, "DONE for no RMA frame");
			return;
		}
		sb->acked = 1;
		if (sb->sent)
			rma_finish(c, sb);
		break;
	}
	case RDMA_MSG_WRITTEN:
		if (!c->push || !c->active) {
			snprintf(why, sizeof(why), "WRITTEN %s",
				 !c->push ? "where push was not negotiated" :
					    "from the client");
			rc = -EPROTO;
		} else {
			rc = rfs_rdma_on_written(c, cookie, len, why);
		}
		if (rc) {
			pool_put(c->t, rb);
			proto_down(c, rc, why);
			return;
		}
		break;
	case RDMA_MSG_CREDIT:
		break;
	case RDMA_MSG_CLOSE:
		pool_put(c->t, rb);
		rfs_dbg(RFS_SUB_XPRT, "xprt: %s: peer closed", c->desc);
		conn_down(c, 0);
		return;
	default:
		pool_put(c->t, rb);
		proto_down(c, -EPROTO, "unknown message type");
		return;
	}
	/* the receive buffer itself goes back to the QP */
	rc = post_recv(c, rb);
	if (rc) {
		conn_down(c, rc);
		return;
	}
	c->owed++;
	return;
nomem:
	pool_put(c->t, rb);
	proto_down(c, -ENOMEM, "no buffer for an incoming frame");
}

static int wc_errno(enum ibv_wc_status s)
{
	switch (s) {
	case IBV_WC_RETRY_EXC_ERR:
	case IBV_WC_RNR_RETRY_EXC_ERR:
		return -ECONNRESET;
	case IBV_WC_REM_ACCESS_ERR:
	case IBV_WC_LOC_PROT_ERR:
		return -EACCES;
	case IBV_WC_WR_FLUSH_ERR:
		return -ECONNABORTED;
	default:
		return -EIO;
	}
}

static void on_wc(struct rdma_conn *c, const struct ibv_wc *wc)
{
	struct rdma_buf *rb = (struct rdma_buf *)(uintptr_t)wc->wr_id;
	int rc;

	if (wc->status != IBV_WC_SUCCESS) {
		if (wc->status == IBV_WC_WR_FLUSH_ERR)
			c->t->st.wc_flushed++;
		else
			c->t->st.wc_errors++;
		/* rb stays on the posted list: conn_down releases it */
		if (wc->status != IBV_WC_WR_FLUSH_ERR)
			rfs_err_rl("xprt: %s: work request failed: %s", c->desc,
				   ibv_wc_status_str(wc->status));
		conn_down(c, wc_errno(wc->status));
		return;
	}
	switch (rb->op) {
	case BOP_RECV:
		posted_del(c, rb);
		/* an invalidation must end an advertisement (push.c) */
		c->rx_inv = (wc->wc_flags & c->t->wc_inv) != 0;
		c->rx_inv_rkey = wc->invalidated_rkey;
		on_recv(c, rb, wc->byte_len);
		if (c->rx_inv && c->state != CS_DOWN) {
			char why[WHY_LEN];

			snprintf(why, sizeof(why),
				 "a message invalidated rkey %#x, which ends "
				 "no advertisement of ours",
				 c->rx_inv_rkey);
			proto_down(c, -EPROTO, why);
		}
		c->rx_inv = false;
		break;
	case BOP_FRAME:
		posted_del(c, rb);
		c->sq_used -= 1u + rb->xwr; /* and its window bind */
		c->sends_out--;
		c->t->st.frames_out++;
		c->t->st.bytes_out += rb->b.len;
		send_done(c, rb, 0);
		break;
	case BOP_RMA:
		c->sq_used--;
		rb->sent = 1;
		if (rb->acked)
			rma_finish(c, rb);
		break;
	case BOP_PUSH:
		if (wc->opcode == IBV_WC_RDMA_WRITE) {
			/* not asked for, but a provider may report it */
			c->sq_used--;
			rb->acked = 1;
			break;
		}
		/* the WRITTEN SEND: the RDMA WRITE before it is done too */
		posted_del(c, rb);
		c->sq_used -= rb->acked ? 1 : 2;
		c->sends_out--;
		c->pushed++;
		c->t->st.frames_out++;
		c->t->st.bytes_out += rb->b.len;
		send_done(c, rb, 0);
		break;
	case BOP_CTRL:
		posted_del(c, rb);
		c->sq_used--;
		if (rb->ctrl_type == RDMA_MSG_CLOSE) {
			pool_put(c->t, rb);
			conn_down(c, 0);
			return;
		}
		pool_put(c->t, rb);
		break;
	case BOP_READ:
		c->sq_used--;
		rc = rfs_proto_check_frame(rb->b.data, rb->rlen,
					   c->t->base.params.max_msg);
		if (rc) {
			proto_down(c, rc, "bad RMA frame");
			return;
		}
		rb->b.len = rb->rlen;
		rb->ready = 1;
		{
			struct rdma_buf *d =
				rfs_rdma_ctrl_new(c, RDMA_MSG_DONE, rb->cookie);

			if (!d) {
				proto_down(c, -ENOMEM, "no buffer for DONE");
				return;
			}
			ctlq_append(c, d);
		}
		rfs_rdma_deliver(c);
		break;
	default:
		rfs_err("xprt: %s: completion for a buffer in state %u",
			c->desc, rb->op);
		conn_down(c, -EIO);
		break;
	}
}

/* Reap c's CQ; the number of completions. */
static int conn_poll_cq(struct rdma_conn *c)
{
	struct ibv_wc wc[WC_BATCH];
	int total = 0, n;

	while (c->state == CS_UP || c->state == CS_CLOSING) {
		n = ibv_poll_cq(c->cq, WC_BATCH, wc);
		if (n < 0) {
			rfs_err("xprt: %s: ibv_poll_cq failed", c->desc);
			conn_down(c, -EIO);
			break;
		}
		for (int i = 0; i < n && c->state != CS_DOWN; i++)
			on_wc(c, &wc[i]);
		total += n;
		if (n < WC_BATCH)
			break;
	}
	return total;
}

static void cq_event(struct rdma_conn *c)
{
	struct ibv_cq *cq;
	void *ctx;

	/*
	 * One event per arm, so one read; trying again would only cost an
	 * EAGAIN syscall (the channel is level-triggered in epoll anyway).
	 */
	c->t->st.syscalls++;
	if (!ibv_get_cq_event(c->cch, &cq, &ctx)) {
		ibv_ack_cq_events(cq, 1);
		c->armed = false;
	}
	conn_poll_cq(c);
}

/* The peer went away: take what it finished, then go down. */
static void peer_gone(struct rdma_conn *c, int status)
{
	conn_poll_cq(c);
	conn_down(c, status);
}

static void cm_event(struct rdma_conn *c)
{
	struct rdma_cm_event *ev;

	while (c->state != CS_DOWN) {
		enum rdma_cm_event_type type;

		c->t->st.syscalls++;
		if (rdma_get_cm_event(c->cm_ch, &ev))
			return;
		type = ev->event;
		rdma_ack_cm_event(ev);
		switch (type) {
		case RDMA_CM_EVENT_DISCONNECTED:
			peer_gone(c, -ECONNRESET);
			return;
		case RDMA_CM_EVENT_DEVICE_REMOVAL:
			rfs_err("xprt: %s: RDMA device removed", c->desc);
			conn_down(c, -ENODEV);
			return;
		default:
			rfs_dbg(RFS_SUB_XPRT, "xprt: %s: cm event %s", c->desc,
				rdma_event_str(type));
			break;
		}
	}
}

static void tcp_event(struct rdma_conn *c)
{
	char tmp[16];
	ssize_t n;

	c->t->st.syscalls++;
	n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
	if (n == 0) {
		peer_gone(c, -ECONNRESET);
	} else if (n > 0) {
		proto_down(c, -EPROTO, "bytes on the control connection");
	} else if (errno != EAGAIN && errno != EINTR) {
		peer_gone(c, -errno);
	}
}

static int ctl_poll(struct rdma_xprt *t)
{
	struct epoll_event eev[32];
	int k;

	t->st.syscalls++;
	k = epoll_wait(t->epfd, eev, 32, 0);
	if (k < 0) {
		if (errno == EINTR)
			return 0;
		rfs_err("xprt: rdma: epoll_wait: %s", strerror(errno));
		return -errno;
	}
	for (int i = 0; i < k; i++) {
		struct ep_tag *tag = eev[i].data.ptr;
		struct rdma_conn *c = tag->c;

		if (c->state == CS_DOWN)
			continue;
		if (tag->kind == EP_CQ)
			cq_event(c);
		else if (tag->kind == EP_CM)
			cm_event(c);
		else
			tcp_event(c);
	}
	return k;
}

static int progress(struct rdma_xprt *t)
{
	int n = 0, rc = 0;

	for (struct rdma_conn *c = t->conns; c; c = c->next)
		n += conn_poll_cq(c);
	if (!n)
		rc = ctl_poll(t);
	rdma_flush((struct rfs_xprt *)(void *)t);
	return rc < 0 ? rc : n;
}

static int rdma_poll(struct rfs_xprt *x, struct rfs_xev *ev, int max)
{
	struct rdma_xprt *t = RX(x);
	int rc;

	if (t->evq.n < (uint32_t)max) {
		rc = progress(t);
		if (rc < 0)
			return rc;
	}
	return rfs_evq_reap(&t->evq, ev, max);
}

static int rdma_arm(struct rfs_xprt *x)
{
	struct rdma_xprt *t = RX(x);
	long long until = rfs_now_ns() + (t->base.nospin ? 0 : SPIN_NS);

	rdma_flush(x);
	/* a short spin: a reply often arrives within microseconds */
	do {
		if (t->evq.n)
			return (int)(t->evq.n > INT_MAX ? INT_MAX : t->evq.n);
		for (struct rdma_conn *c = t->conns; c; c = c->next)
			conn_poll_cq(c);
		rdma_flush(x);
	} while (rfs_now_ns() < until);
	for (struct rdma_conn *c = t->conns; c; c = c->next) {
		if (c->state == CS_DOWN || c->armed)
			continue;
		t->st.syscalls++;
		if (ibv_req_notify_cq(c->cq, 0)) {
			rfs_err("xprt: %s: ibv_req_notify_cq failed", c->desc);
			conn_down(c, -EIO);
			continue;
		}
		c->armed = true;
		/* what arrived before the request raises no event */
		conn_poll_cq(c);
	}
	rdma_flush(x);
	return (int)(t->evq.n > INT_MAX ? INT_MAX : t->evq.n);
}

static int rdma_wait_fd(const struct rfs_xprt *x)
{
	return ((const struct rdma_xprt *)(const void *)x)->epfd;
}

/* ---- connection API --------------------------------------------------- */

static void rdma_close_conn(struct rfs_conn *cc)
{
	struct rdma_conn *c = RC(cc);

	if (c->state != CS_UP)
		return;
	c->state = CS_CLOSING;
	/* frames received but not delivered yet are dropped */
	while (c->rxq_head && c->rxq_head->ready) {
		struct rdma_buf *rb = c->rxq_head;

		c->rxq_head = rb->next;
		if (!c->rxq_head)
			c->rxq_tail = NULL;
		pool_put(c->t, rb);
	}
	conn_push(c);
}

static void conn_unlink(struct rdma_xprt *t, struct rdma_conn *c)
{
	if (c->state == CS_SETUP)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else if (t->conns == c)
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void evq_put(void *ctx, struct rfs_buf *b)
{
	pool_put(ctx, container_of(b, struct rdma_buf, b));
}

static void evq_scrub(struct rdma_xprt *t, struct rdma_conn *c)
{
	rfs_evq_scrub(&t->evq, (struct rfs_conn *)(void *)c, evq_put, t);
}

static void rdma_conn_free(struct rfs_conn *cc)
{
	struct rdma_conn *c = RC(cc);

	if (c->state != CS_DOWN) {
		rfs_warn("xprt: %s: freed before CONN_DOWN", c->desc);
		conn_down(c, -ECANCELED);
		evq_scrub(c->t, c);
	}
	conn_unlink(c->t, c);
	free(c);
}

static const char *rdma_conn_desc(const struct rfs_conn *cc)
{
	return ((const struct rdma_conn *)(const void *)cc)->desc;
}

/* a capture's name for it: "rdma:rxe0/qp17" (device, our QP number) */
static void rdma_cap_name(const struct rfs_conn *cc, char *buf, size_t n)
{
	const struct rdma_conn *c = (const struct rdma_conn *)(const void *)cc;

	if (c->id && c->id->verbs && c->id->qp)
		snprintf(buf, n, "rdma:%s/qp%u",
			 ibv_get_device_name(c->id->verbs->device),
			 c->id->qp->qp_num);
	else
		snprintf(buf, n, "rdma:%s", c->desc);
}

/* ---- context ---------------------------------------------------------- */

static void rdma_fini(struct rfs_xprt *x)
{
	struct rdma_xprt *t = RX(x);

	if (!t)
		return;
	/* nobody reaps events after close: they are dropped */
	while (t->conns) {
		struct rdma_conn *c = t->conns;

		conn_down(c, -ECANCELED);
		conn_unlink(t, c);
		free(c);
	}
	t->evq.n = 0;
	rfs_pool_destroy(&t->pool); /* every MR, before the PD */
	if (t->pd && ibv_dealloc_pd(t->pd))
		rfs_warn("xprt: rdma: ibv_dealloc_pd: %s", strerror(errno));
	free((void *)t->base.params.rdma_addr);
	rfs_evq_free(&t->evq);
	if (t->epfd >= 0 && close(t->epfd))
		rfs_warn("xprt: rdma: close epoll fd: %s", strerror(errno));
	free(t);
}

static int rdma_init(const struct rfs_xprt_params *p, struct rfs_xprt **out)
{
	static const uint32_t sizes[] = { INLINE_MAX, 65536 };
	struct ibv_context **list;
	struct rdma_xprt *t;
	int ndev = 0, rc;

	*out = NULL;
	list = rdma_get_devices(&ndev);
	if (list)
		rdma_free_devices(list);
	if (!list || ndev < 1) {
		rfs_err("xprt: rdma: no RDMA device (/sys/class/infiniband "
			"is empty: load a driver, e.g. rdma_rxe, or use "
			"another transport)");
		return -ENODEV;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->epfd = -1;
	t->base.ops = &rfs_xprt_rdma_ops;
	t->base.params = *p;
	t->base.params.rdma_addr = NULL; /* not ours to keep */
#if HAVE_TEST_HOOKS
	t->evil = (uint8_t)rfs_rdma_test_evil();
#endif
	if (p->rdma_addr) {
		char *s = strdup(p->rdma_addr);

		if (!s) {
			rc = -ENOMEM;
			goto fail;
		}
		t->base.params.rdma_addr = s;
	}
	/*
	 * Chunks of many buffers, registered once and kept until fini (keep
	 * does not matter then: only chunks of one buffer are ever freed).
	 * Each buffer has BUF_PFX bytes in front of its data for the
	 * rdma_msg; chunks are page aligned for the registration.
	 */
	rfs_pool_init(&t->pool, "rdma", sizeof(struct rdma_buf), BUF_PFX, 4096,
		      p->max_msg,
		      &(struct rfs_pool_hooks){
			      .reg = pool_reg, .dereg = pool_dereg, .arg = t });
	for (unsigned i = 0; i < 3; i++) {
		uint32_t sz = i < 2 && sizes[i] < p->max_msg ? sizes[i] :
							       p->max_msg;

		rfs_pool_add_class(&t->pool, sz,
				   sz <= INLINE_MAX ? 256 :
				   sz <= 65536	    ? 16 :
						      4,
				   UINT32_MAX);
		if (sz == p->max_msg)
			break;
	}
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0) {
		rc = -errno;
		rfs_err("xprt: rdma: epoll_create1: %s", strerror(-rc));
		goto fail;
	}
	*out = (struct rfs_xprt *)(void *)t;
	return 0;
fail:
	rdma_fini((struct rfs_xprt *)(void *)t);
	return rc;
}

static void rdma_stats(const struct rfs_xprt *x, struct rfs_xprt_stats *s)
{
	const struct rdma_xprt *t = (const struct rdma_xprt *)(const void *)x;

	*s = t->st;
	s->bufs_out = rfs_pool_out(&t->pool);
}

const struct rfs_xprt_ops rfs_xprt_rdma_ops = {
	.desc = { .name = "rdma",
		  .flags = RFS_XPRT_F_POLL_FREE | RFS_XPRT_F_CRED_BOUND |
			   RFS_XPRT_F_RDMA_ADDR | RFS_XPRT_F_NO_FORK },
	.init = rdma_init,
	.fini = rdma_fini,
	.setup_magic = RDMA_SETUP_MAGIC,
	.adopt = rfs_rdma_adopt,
	.accept = rfs_rdma_accept,
	.disconnect = rdma_close_conn,
	.conn_free = rdma_conn_free,
	.conn_desc = rdma_conn_desc,
	.cap_name = rdma_cap_name,
	.buf_get = rdma_buf_get,
	.buf_put = rdma_buf_put,
	.send = rdma_send,
	.send_expect = rdma_send_expect,
	.flush = rdma_flush,
	.poll = rdma_poll,
	.arm = rdma_arm,
	.wait_fd = rdma_wait_fd,
	.stats = rdma_stats,
};
