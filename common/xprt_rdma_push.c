// SPDX-License-Identifier: MIT
/*
 * xprt_rdma_push: large replies pushed by RDMA WRITE (negotiated in
 * setup, xprt_rdma_setup.c; without it every large frame goes RMA, see
 * xprt_rdma.c).  Large replies to requests whose caller said how large
 * the reply can be (rfs_xprt_send_expect: READ) go the other way round
 * from RMA, without the DONE round trip:
 *   1. The client sends a request with rfs_xprt_send_expect whose
 *      reply_max, capped at max_msg, exceeds the inline threshold: it
 *      takes a pool buffer that big (a writable class) and advertises it
 *      in the request's FRAME message: RDMA_MSGF_ADV with
 *      {len, addr, rkey, cookie}, cookie being the buffer's slot in the
 *      connection's table (ADV_MAX of them: when full, or the request
 *      itself is not inline, no advertisement, ordinary reply).
 *   2. The server checks the advertisement (slot free, len within the
 *      client's max_msg, the frame a request) and records it under the
 *      request frame's id before the request reaches the caller.
 *   3. The first reply frame (RFS_HF_REPLY) the caller sends with that id
 *      consumes the record.  Larger than inline and no larger than the
 *      advertised len: the server posts an RDMA WRITE of the frame into
 *      the buffer (unsignaled), then on the same QP a SEND WRITTEN
 *      {len, cookie}.  RC executes them in order, so when the client
 *      sees WRITTEN the bytes are there.  The WRITTEN completion ends
 *      both: the reply buffer goes back to the pool, or to the caller's
 *      NOTIFY event.  Otherwise (inline, too large, an error reply) the
 *      reply goes as FRAME or RMA with RDMA_MSGF_UNADV and the slot in
 *      `adv`: the client frees the buffer.
 *   4. The client checks WRITTEN (slot advertised, and announced: its
 *      request posted, not just queued; len within it, a whole valid
 *      frame, a reply to the advertised request id) and lends the
 *      advertised buffer to the caller as the RECV: no copy.  An UNADV
 *      too must name an announced slot: a queued request still holds
 *      its buffer.
 * Each advertisement ends exactly once: WRITTEN, UNADV, or teardown
 * (the client frees what was never answered after the QP is gone; the
 * server's records are only bookkeeping).  Any push message where it
 * was not negotiated, or in the wrong direction, takes the connection
 * down (-EPROTO).  A wrong rkey or address makes the server's WRITE fail
 * and its connection go down (-EACCES): a client can only ever aim the
 * server's WRITE at its own memory, and only at up to `len` bytes.
 * Writes (WRITE requests) keep the RMA path: the server READs them.
 *
 * The transport never looks into a request: what the reply can be is the
 * caller's knowledge.  This file holds both ends: attaching and
 * announcing an advertisement (client), matching a reply to one
 * (server), and the checks of every push message received.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "xprt_rdma_i.h"

void rfs_rdma_msg_adv(struct rdma_conn *c, struct rdma_buf *rb)
{
	struct rdma_msg *m = bmsg(rb);
	uint32_t slot = rb->adv - 1;

	if (c->active) {
		struct rdma_buf *ab = c->adv[slot];

		ab->sent = 1; /* announced: the server may answer it now */
		m->flags |= RDMA_MSGF_ADV;
		m->len = htole32(ab->rlen);
		m->addr = htole64((uintptr_t)ab->b.data);
		m->rkey = htole32(c->mw ? c->win_rkey[slot] : rb_mr(ab)->rkey);
		m->cookie = htole32(slot);
	} else {
		m->flags |= RDMA_MSGF_UNADV;
		m->adv = htole32(slot);
	}
}

/*
 * Push, client: a request whose sender expects a reply of up to
 * reply_max bytes (rfs_xprt_send_expect; capped at max_msg) gets a
 * buffer that big, advertised with the request.  Only when that reply
 * could exceed the inline threshold, only for inline requests (the
 * advertisement rides in the FRAME message), and only with a free slot
 * and a remotely writable buffer; otherwise the reply takes the ordinary
 * path.  The transport never looks into the request: what the reply can
 * be is the caller's knowledge (READ: header + reply body + size).
 */
void rfs_rdma_adv_attach(struct rdma_conn *c, struct rdma_buf *rb,
			 uint32_t reply_max)
{
	const struct rfs_hdr *h = rb->b.data;
	struct rdma_buf *ab;
	uint32_t want;
	uint32_t slot;

	if (rb->op != BOP_FRAME || c->adv_n >= ADV_MAX || !reply_max ||
	    (h->flags & RFS_HF_REPLY))
		return;
	want = reply_max;
	if (want > c->t->base.params.max_msg)
		want = c->t->base.params.max_msg;
	if (want <= c->inline_max)
		return; /* the reply travels inline anyway */
	ab = pool_get(c->t, want);
	if (!ab)
		return;
	if (!(ab->pb.chunk->reg_flags &
	      (c->mw ? RDMA_CHUNK_MW : RDMA_CHUNK_RW))) {
		/* registered before this context connected (or, windows
		   negotiated, without them): not writable */
		pool_put(c->t, ab);
		return;
	}
	for (slot = 0; c->adv[slot]; slot++)
		;
	ab->op = BOP_ADV;
	ab->rlen = want;
	if (rfs_rdma_evil_on(c->t))
		rfs_rdma_evil_canary(c, ab, slot, false);
	c->adv[slot] = ab;
	c->adv_id[slot] = h->id;
	c->adv_n++;
	rb->adv = slot + 1;
}

/*
 * Push, server: a reply to a request that came with an advertisement
 * releases it.  Larger than inline and small enough for the buffer: it is
 * pushed (RDMA WRITE + WRITTEN); otherwise it goes the ordinary way and
 * its message tells the client to free the buffer (UNADV).
 */
void rfs_rdma_adv_match(struct rdma_conn *c, struct rdma_buf *rb)
{
	const struct rfs_hdr *h = rb->b.data;

	if (!(h->flags & RFS_HF_REPLY))
		return;
	for (uint32_t i = 0, seen = 0; i < ADV_MAX && seen < c->padv_n; i++) {
		struct rdma_peer_adv *a = &c->padv[i];

		if (!a->used)
			continue;
		seen++;
		if (a->id != h->id)
			continue;
		a->used = false;
		c->padv_n--;
		/* windows: whichever way it ends, the message closes it */
		rb->inv = c->mw;
		rb->inv_rkey = a->rkey;
		if (rfs_rdma_evil_on(c->t) && rfs_rdma_evil_unadv(c, rb, i))
			return;
		if (rb->b.len > c->inline_max && rb->b.len <= a->len) {
			rb->op = BOP_PUSH;
			rb->raddr = a->addr;
			rb->rkey = a->rkey;
			rb->rlen = a->len;
			rb->cookie = i;
		} else {
			rb->adv = i + 1;
		}
		return;
	}
}

/*
 * Push, client: is `slot` an advertisement the server has been told of?
 * A slot is taken when the request is queued (adv_attach) but announced
 * only when the request is posted (msg_adv, ab->sent): until then the
 * server cannot know it, and releasing or filling it would pull the
 * buffer from under the queued request.  NULL if fine, else why not.
 */
static const char *adv_bad(const struct rdma_conn *c, uint32_t slot)
{
	if (slot >= ADV_MAX)
		return "out of range";
	if (!c->adv[slot])
		return "not advertised";
	if (!c->adv[slot]->sent)
		return "not advertised yet (its request is still queued)";
	return NULL;
}

/*
 * Push through windows, client: the message ending advertisement `slot`
 * must have invalidated its window (SEND with invalidate of the rkey it
 * was bound with), so the server can no longer write the buffer that is
 * about to be read or reused.  Consumes the invalidation.
 */
static int win_closed(struct rdma_conn *c, uint32_t slot, const char *what,
		      char *why)
{
	if (!c->mw)
		return 0;
	if (!c->rx_inv || c->rx_inv_rkey != c->win_rkey[slot]) {
		if (c->rx_inv)
			snprintf(why, WHY_LEN,
				 "%s of advertisement %u invalidated rkey %#x, "
				 "not its memory window's (%#x)",
				 what, slot, c->rx_inv_rkey, c->win_rkey[slot]);
		else
			snprintf(why, WHY_LEN,
				 "%s of advertisement %u left its memory "
				 "window (rkey %#x) open: no SEND with "
				 "invalidate of it",
				 what, slot, c->win_rkey[slot]);
		return -EPROTO;
	}
	c->rx_inv = false;
	return 0;
}

/* Push, client: the server released advertisement `slot` unused. */
static int adv_release(struct rdma_conn *c, uint32_t slot, char *why)
{
	const char *bad = adv_bad(c, slot);

	if (bad) {
		snprintf(why, WHY_LEN, "UNADV of advertisement %u: %s", slot,
			 bad);
		return -EPROTO;
	}
	if (win_closed(c, slot, "UNADV", why))
		return -EPROTO;
	pool_put(c->t, c->adv[slot]);
	c->adv[slot] = NULL;
	c->adv_n--;
	return 0;
}

/* Push, server: record the advertisement that came with request frame h. */
int rfs_rdma_adv_record(struct rdma_conn *c, const struct rdma_msg *m,
			const struct rfs_hdr *h, char *why)
{
	uint32_t slot = le32toh(m->cookie), len = le32toh(m->len);
	struct rdma_peer_adv *a;

	if (slot >= ADV_MAX || c->padv[slot].used) {
		snprintf(why, WHY_LEN, "ADV of cookie %u: %s", slot,
			 slot >= ADV_MAX ? "out of range" : "still advertised");
		return -EPROTO;
	}
	if (len < RFS_HDR_SIZE || len > c->peer_max_msg) {
		snprintf(why, WHY_LEN,
			 "ADV of cookie %u: %u bytes, outside [%u, %u]", slot,
			 len, RFS_HDR_SIZE, c->peer_max_msg);
		return -EPROTO;
	}
	if (h->flags & RFS_HF_REPLY) {
		snprintf(why, WHY_LEN, "ADV of cookie %u on a reply frame",
			 slot);
		return -EPROTO;
	}
	a = &c->padv[slot];
	a->id = h->id;
	a->addr = le64toh(m->addr);
	a->rkey = le32toh(m->rkey);
	a->len = len;
	a->used = true;
	c->padv_n++;
	return 0;
}

/*
 * Push, client: WRITTEN says the reply is in advertised buffer `slot`.
 * Check it like any received frame, and that it answers the request the
 * buffer was advertised for; then it joins the rx queue in order.
 */
int rfs_rdma_on_written(struct rdma_conn *c, uint32_t slot, uint32_t len,
			char *why)
{
	const char *bad = adv_bad(c, slot);
	struct rdma_buf *ab;
	const struct rfs_hdr *h;
	int rc;

	if (bad) {
		snprintf(why, WHY_LEN, "WRITTEN for advertisement %u: %s", slot,
			 bad);
		return -EPROTO;
	}
	ab = c->adv[slot];
	if (len < RFS_HDR_SIZE || len > ab->rlen) {
		snprintf(why, WHY_LEN,
			 "WRITTEN for advertisement %u: %u bytes, outside "
			 "[%u, %u advertised]",
			 slot, len, RFS_HDR_SIZE, ab->rlen);
		return -EPROTO;
	}
	if (win_closed(c, slot, "WRITTEN", why))
		return -EPROTO; /* the buffer stays out: teardown frees it */
	c->adv[slot] = NULL;
	c->adv_n--;
	rc = rfs_proto_check_frame(ab->b.data, len, c->t->base.params.max_msg);
	h = ab->b.data;
	if (rc) {
		snprintf(why, WHY_LEN,
			 "WRITTEN for advertisement %u: bad frame (%s)", slot,
			 strerror(-rc));
	} else if (h->id != c->adv_id[slot]) {
		snprintf(why, WHY_LEN,
			 "WRITTEN for advertisement %u: frame id %llu, "
			 "advertised for request %llu",
			 slot, (unsigned long long)h->id,
			 (unsigned long long)c->adv_id[slot]);
		rc = -EPROTO;
	} else if (!(h->flags & RFS_HF_REPLY)) {
		snprintf(why, WHY_LEN,
			 "WRITTEN for advertisement %u: frame %llu is not a "
			 "reply",
			 slot, (unsigned long long)h->id);
		rc = -EPROTO;
	}
	if (rc || c->state == CS_CLOSING) {
		/* a closing connection drops input */
		pool_put(c->t, ab);
		return rc;
	}
	ab->b.len = len;
	ab->op = BOP_NONE;
	ab->sent = 0;
	ab->ready = 1;
	rfs_rdma_rxq_append(c, ab);
	rfs_rdma_deliver(c);
	return 0;
}

/*
 * Push flags (ADV, UNADV): only where push was negotiated, only in their
 * direction, only on the messages that carry them.  An UNADV releases
 * its advertisement here.
 */
int rfs_rdma_push_flags_check(struct rdma_conn *c, const struct rdma_msg *m,
			      char *why)
{
	unsigned f = m->flags & (RDMA_MSGF_ADV | RDMA_MSGF_UNADV);

	if (!c->push) {
		snprintf(why, WHY_LEN,
			 "push flags %#x, but push was not "
			 "negotiated",
			 f);
		return -EPROTO;
	}
	if (f == (RDMA_MSGF_ADV | RDMA_MSGF_UNADV)) {
		snprintf(why, WHY_LEN, "ADV and UNADV in one message");
		return -EPROTO;
	}
	if (f & RDMA_MSGF_ADV) {
		if (c->active) {
			snprintf(why, WHY_LEN, "ADV from the server");
			return -EPROTO;
		}
		if (m->type != RDMA_MSG_FRAME) {
			snprintf(why, WHY_LEN,
				 "ADV on a message of type %u, "
				 "not an inline frame",
				 m->type);
			return -EPROTO;
		}
		return 0;
	}
	if (!c->active) {
		snprintf(why, WHY_LEN, "UNADV from the client");
		return -EPROTO;
	}
	if (m->type != RDMA_MSG_FRAME && m->type != RDMA_MSG_RMA) {
		snprintf(why, WHY_LEN,
			 "UNADV on a message of type %u, not a "
			 "frame",
			 m->type);
		return -EPROTO;
	}
	return adv_release(c, le32toh(m->adv), why);
}

/*
 * Memory windows: each buffer of a chunk that windows bind to is also a
 * memory region of its own (local write + window bind, nothing remote),
 * and a window is bound to its buffer's region, not the chunk's.  The
 * IB spec confines a window to its bounds; soft-RoCE (rxe, Linux 6.1)
 * checks a remote access only against the bounds of the window's
 * region, so this is what keeps a server's WRITE inside the one buffer
 * it was offered there too.  Registered once, with the chunk.
 */
int rfs_rdma_chunk_reg_bufs(struct rdma_xprt *t, struct rfs_pool_chunk *ch)
{
	struct ibv_mr **mrs = calloc(ch->nbufs, sizeof(*mrs));

	if (!mrs)
		return -ENOMEM;
	ch->reg2 = mrs;
	for (uint32_t i = 0; i < ch->nbufs; i++) {
		t->st.syscalls++;
		mrs[i] =
			ibv_reg_mr(t->pd, rfs_pool_chunk_data(&t->pool, ch, i),
				   t->pool.cls[ch->cls].size,
				   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_MW_BIND);
		if (!mrs[i]) {
			int rc = -(errno ? errno : ENOMEM);

			rfs_err("xprt: rdma: ibv_reg_mr(buffer %u of %u, %u "
				"bytes, for memory windows): %s",
				i + 1, ch->nbufs, t->pool.cls[ch->cls].size,
				strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/*
 * Push through windows, client: one type 2 window per advertisement slot,
 * made when the connection comes up (the QP exists) and freed with the QP.
 */
int rfs_rdma_win_alloc(struct rdma_conn *c)
{
	for (uint32_t i = 0; i < ADV_MAX; i++) {
		c->t->st.syscalls++;
		c->win[i] = ibv_alloc_mw(c->t->pd, IBV_MW_TYPE_2);
		if (!c->win[i]) {
			int rc = -(errno ? errno : ENOMEM);

			rfs_err("xprt: %s: ibv_alloc_mw (window %u of %u): %s",
				c->desc, i + 1, ADV_MAX, strerror(-rc));
			return rc;
		}
		c->win_rkey[i] = c->win[i]->rkey;
	}
	return 0;
}

void rfs_rdma_win_free(struct rdma_conn *c)
{
	for (uint32_t i = 0; i < ADV_MAX; i++) {
		if (!c->win[i])
			continue;
		c->t->st.syscalls++;
		if (ibv_dealloc_mw(c->win[i]))
			rfs_warn("xprt: %s: ibv_dealloc_mw: %s", c->desc,
				 strerror(errno));
		c->win[i] = NULL;
	}
}

/*
 * Push through windows, client: bind slot's window to exactly the
 * advertised buffer, remote write only, under a fresh rkey (the key byte
 * incremented, so a stale rkey of an earlier binding is refused).  The
 * bind is unsignaled: the SEND posted behind it completes for both (its
 * xwr), and a failed bind completes in error and takes the connection
 * down.  The window was closed by the message that ended its last
 * advertisement (win_closed) or was never bound.
 */
void rfs_rdma_win_bind(struct rdma_conn *c, struct rdma_buf *rb,
		       struct ibv_send_wr *wr)
{
	uint32_t slot = rb->adv - 1;
	struct rdma_buf *ab = c->adv[slot];

	/* the provider names the window by the rkey it has now (the last
	   binding's), which the library does not track for type 2 */
	c->win[slot]->rkey = c->win_rkey[slot];
	c->win_rkey[slot] = ibv_inc_rkey(c->win_rkey[slot]);
	*wr = (struct ibv_send_wr){
		.wr_id = (uintptr_t)rb,
		.opcode = IBV_WR_BIND_MW,
		.bind_mw = {
			.mw = c->win[slot],
			.rkey = c->win_rkey[slot],
			.bind_info = {
				/* the buffer's own region (rfs_rdma_chunk_reg_bufs) */
				.mr = ((struct ibv_mr **)ab->pb.chunk->reg2)
					[rfs_pool_buf_index(&c->t->pool,
							    &ab->pb)],
				.addr = (uintptr_t)ab->b.data,
				.length = ab->rlen,
				.mw_access_flags = IBV_ACCESS_REMOTE_WRITE,
			},
		},
	};
}
