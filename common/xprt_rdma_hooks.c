// SPDX-License-Identifier: MIT
/*
 * xprt_rdma_hooks: the rdma transport's fault injection for the tests,
 * compiled only with -Dtest_hooks=true (HAVE_TEST_HOOKS; tests/run-all
 * builds that way).  Release builds have none of it: xprt_rdma_i.h turns
 * every hook into a no-op there, and the environment variables below
 * mean nothing.
 *
 *   RINGFS_RDMA_TEST_NO_PUSH   refuse push (the RMA + DONE fallback)
 *   RINGFS_RDMA_TEST_EVIL      send one malformed push message
 *   RINGFS_RDMA_TEST_BAD_TOKEN corrupt the session token of connects
 *   RINGFS_RDMA_TEST_NO_MW     use no memory windows (push through
 *                              remote-write memory regions)
 */
#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "xprt_rdma_i.h"

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

/*
 * Test hook: RINGFS_RDMA_TEST_EVIL=<mode> makes one side of every rdma
 * connection of the contexts opened from then on (read once, by
 * rdma_init) send exactly one malformed push message, so tests can check
 * that the other side refuses it (-EPROTO, the connection goes down, a
 * log line says what was wrong).  srv-* modes act in a passive (server)
 * context, cli-* modes in an active (client) one, so one process can
 * hold both ends.  Each fires once per context, at the first message it
 * applies to, then the context behaves:
 *   srv-written-range    WRITTEN with a cookie >= ADV_MAX
 *   srv-written-unadv    WRITTEN for a cookie the client never advertised
 *   srv-written-dup      a second WRITTEN for a cookie already consumed
 *   srv-written-long     WRITTEN len one more than the advertised len
 *   srv-written-short    WRITTEN len shorter than a frame header
 *   srv-push-id          a pushed frame carrying another request's id
 *   srv-push-notreply    a pushed frame without RFS_HF_REPLY
 *   srv-unadv-range      a reply released with UNADV of a cookie >= ADV_MAX
 *   srv-unadv-bogus      a reply released with UNADV of a cookie not out
 *   srv-adv              a reply FRAME flagged RDMA_MSGF_ADV
 *   srv-nopush-unadv     push not negotiated: a reply flagged UNADV
 *   srv-nopush-written   push not negotiated: a reply sent as WRITTEN
 *   srv-push-other       a pushed reply's RDMA WRITE aimed at another
 *                        advertised buffer (cookie 0's), with this
 *                        advertisement's rkey
 *   srv-push-past        a pushed reply's RDMA WRITE aimed past the end
 *                        of the advertised buffer (by the client's
 *                        max_msg: into the next buffer of its pool)
 *   srv-written-noinv    windows: WRITTEN as a plain SEND, the window
 *                        left open
 *   srv-push-stale       a second RDMA WRITE into the pushed buffer,
 *                        posted after the WRITTEN that closed its window
 *   cli-adv-range        ADV with a cookie >= ADV_MAX
 *   cli-adv-dup          ADV of a cookie another request still holds
 *   cli-adv-long         ADV len larger than the client's max_msg
 *   cli-adv-short        ADV len shorter than a frame header
 *   cli-adv-reply        ADV on a frame flagged RFS_HF_REPLY
 *   cli-adv-rma          ADV on an RMA message (a large frame)
 *   cli-unadv            a request FRAME flagged RDMA_MSGF_UNADV
 *   cli-written          a request FRAME sent as WRITTEN
 *   cli-nopush-adv       push not negotiated: ADV on a request sent
 *                        with a reply-size hint (READ)
 * (the nopush modes need RINGFS_RDMA_TEST_NO_PUSH too).  Unset, empty or
 * unknown (logged): nothing; the data path then tests one zero byte.
 */
static const char *const evil_names[EVIL_N] = {
	[EVIL_SRV_WRITTEN_RANGE] = "srv-written-range",
	[EVIL_SRV_WRITTEN_UNADV] = "srv-written-unadv",
	[EVIL_SRV_WRITTEN_DUP] = "srv-written-dup",
	[EVIL_SRV_WRITTEN_LONG] = "srv-written-long",
	[EVIL_SRV_WRITTEN_SHORT] = "srv-written-short",
	[EVIL_SRV_PUSH_ID] = "srv-push-id",
	[EVIL_SRV_PUSH_NOTREPLY] = "srv-push-notreply",
	[EVIL_SRV_UNADV_RANGE] = "srv-unadv-range",
	[EVIL_SRV_UNADV_BOGUS] = "srv-unadv-bogus",
	[EVIL_SRV_ADV] = "srv-adv",
	[EVIL_SRV_NOPUSH_UNADV] = "srv-nopush-unadv",
	[EVIL_SRV_NOPUSH_WRITTEN] = "srv-nopush-written",
	[EVIL_SRV_PUSH_OTHER] = "srv-push-other",
	[EVIL_SRV_PUSH_PAST] = "srv-push-past",
	[EVIL_SRV_WRITTEN_NOINV] = "srv-written-noinv",
	[EVIL_SRV_PUSH_STALE] = "srv-push-stale",
	[EVIL_CLI_ADV_RANGE] = "cli-adv-range",
	[EVIL_CLI_ADV_DUP] = "cli-adv-dup",
	[EVIL_CLI_ADV_LONG] = "cli-adv-long",
	[EVIL_CLI_ADV_SHORT] = "cli-adv-short",
	[EVIL_CLI_ADV_REPLY] = "cli-adv-reply",
	[EVIL_CLI_ADV_RMA] = "cli-adv-rma",
	[EVIL_CLI_UNADV] = "cli-unadv",
	[EVIL_CLI_WRITTEN] = "cli-written",
	[EVIL_CLI_NOPUSH_ADV] = "cli-nopush-adv",
};

unsigned rfs_rdma_test_evil(void)
{
	const char *e = getenv("RINGFS_RDMA_TEST_EVIL");

	if (!e || !*e)
		return EVIL_NONE;
	for (unsigned i = 1; i < EVIL_N; i++)
		if (evil_names[i] && !strcmp(e, evil_names[i])) {
			rfs_warn("xprt: rdma: test hook "
				 "RINGFS_RDMA_TEST_EVIL=%s: one malformed "
				 "message will be sent",
				 e);
			return i;
		}
	rfs_err("xprt: rdma: RINGFS_RDMA_TEST_EVIL=%s: unknown mode, ignored",
		e);
	return EVIL_NONE;
}

/*
 * RINGFS_RDMA_TEST_BAD_TOKEN=N corrupts the token of the first N
 * connections of the process, so tests can check that the server refuses
 * them.
 */
void rfs_rdma_test_token(uint8_t *token)
{
	static int corrupt_left = -1;

	if (corrupt_left < 0) {
		const char *e = getenv("RINGFS_RDMA_TEST_BAD_TOKEN");

		corrupt_left = e ? atoi(e) : 0;
	}
	if (corrupt_left > 0) {
		corrupt_left--;
		token[0] ^= 0x5a;
	}
}

/* ---- RINGFS_RDMA_TEST_EVIL: the malformed messages ------------------ */

/* Mode `mode` applies here and has not fired yet: fire it, once. */
static bool evil_now(struct rdma_conn *c, enum rdma_evil mode, const char *what)
{
	struct rdma_xprt *t = c->t;

	if (t->evil != mode || t->evil_fired ||
	    c->active != (mode >= EVIL_CLI_FIRST))
		return false;
	t->evil_fired = true;
	rfs_warn("xprt: %s: test hook: sending %s", c->desc, what);
	return true;
}

/* A cookie other than `not`, free in the table (server: padv, client: adv). */
static uint32_t evil_free_slot(const struct rdma_conn *c, uint32_t not )
{
	for (uint32_t k = 1; k <= ADV_MAX; k++) {
		uint32_t j = (not +k) % ADV_MAX;

		if (j !=
		    not &&!(c->active ? c->adv[j] != NULL : c->padv[j].used))
			return j;
	}
	return ADV_MAX; /* all in use: out of range then */
}

/*
 * Server: a reply matched advertisement `slot`; the unadv modes release
 * another one instead (the frame goes the ordinary way).  True if so.
 */
bool rfs_rdma_evil_unadv(struct rdma_conn *c, struct rdma_buf *rb,
			 uint32_t slot)
{
	if (evil_now(c, EVIL_SRV_UNADV_RANGE, "UNADV of a cookie out of range"))
		rb->adv = ADV_MAX + 3 + 1;
	else if (evil_now(c, EVIL_SRV_UNADV_BOGUS,
			  "UNADV of a cookie not advertised"))
		rb->adv = evil_free_slot(c, slot) + 1;
	else
		return false;
	return true;
}

/*
 * Server: push rb is about to be posted (raddr is the advertised buffer,
 * inv set if windows): aim its WRITE elsewhere, or leave the window open.
 */
bool rfs_rdma_evil_push(struct rdma_conn *c, struct rdma_buf *rb)
{
	switch ((enum rdma_evil)c->t->evil) {
	case EVIL_SRV_PUSH_STALE:
		return evil_now(c, EVIL_SRV_PUSH_STALE,
				"a push WRITE after the WRITTEN that closed "
				"its window");
	case EVIL_SRV_PUSH_OTHER:
		/* cookie 0: the buffer of a request never answered */
		if (rb->cookie != 0 && c->padv[0].used &&
		    evil_now(c, EVIL_SRV_PUSH_OTHER,
			     "a push WRITE into another advertised buffer"))
			rb->raddr = c->padv[0].addr;
		break;
	case EVIL_SRV_PUSH_PAST:
		/* past the end of the buffer (the client's largest
		   class is max_msg): the next buffer of its pool */
		if (evil_now(c, EVIL_SRV_PUSH_PAST,
			     "a push WRITE past the advertised buffer"))
			rb->raddr += c->peer_max_msg;
		break;
	case EVIL_SRV_WRITTEN_NOINV:
		if (rb->inv && evil_now(c, EVIL_SRV_WRITTEN_NOINV,
					"WRITTEN without invalidating the "
					"window"))
			rb->inv = 0;
		break;
	default:
		break;
	}
	return false;
}

/*
 * Client, srv-push-other: the buffer advertised as cookie 0 (never
 * answered) gets a known pattern when taken, and is checked when the
 * teardown frees it: the server's stray WRITE must not have reached it.
 */
#define CANARY_LEN 256u
void rfs_rdma_evil_canary(struct rdma_conn *c, struct rdma_buf *ab,
			  uint32_t slot, bool check)
{
	unsigned char *p = ab->b.data;
	uint32_t n = ab->rlen < CANARY_LEN ? ab->rlen : CANARY_LEN, bad = 0;

	if (c->t->evil != EVIL_SRV_PUSH_OTHER || slot != 0 || !c->active)
		return;
	if (!check) {
		for (uint32_t i = 0; i < n; i++)
			p[i] = (unsigned char)(0xa5 ^ i);
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		bad += p[i] != (unsigned char)(0xa5 ^ i);
	if (bad)
		rfs_err("xprt: %s: test hook: advertised buffer 0 was "
			"overwritten (%u of %u canary bytes changed)",
			c->desc, bad, n);
	else
		rfs_warn("xprt: %s: test hook: advertised buffer 0 canary "
			 "intact (%u bytes)",
			 c->desc, n);
}

/* RINGFS_RDMA_TEST_NO_MW=1: no memory windows in this process. */
bool rfs_rdma_mw_allowed(void)
{
	const char *e = getenv("RINGFS_RDMA_TEST_NO_MW");

	return !e || !*e || !strcmp(e, "0");
}

/* rb's message (and frame) are built, not posted yet: spoil them. */
void rfs_rdma_evil_send(struct rdma_conn *c, struct rdma_buf *rb)
{
	struct rdma_msg *m = bmsg(rb);
	struct rfs_hdr *h = rb->b.data;
	bool frame = rb->op == BOP_FRAME || rb->op == BOP_RMA ||
		     rb->op == BOP_PUSH;
	bool reply = frame && (h->flags & RFS_HF_REPLY);
	bool push = rb->op == BOP_PUSH;
	bool adv = rb->op == BOP_FRAME && rb->adv && c->active;
	bool req = rb->op == BOP_FRAME && !reply;

	switch ((enum rdma_evil)c->t->evil) {
	case EVIL_SRV_WRITTEN_RANGE:
		if (push && evil_now(c, EVIL_SRV_WRITTEN_RANGE,
				     "WRITTEN with a cookie out of range"))
			m->cookie = htole32(ADV_MAX + 7);
		break;
	case EVIL_SRV_WRITTEN_UNADV:
		if (push && evil_now(c, EVIL_SRV_WRITTEN_UNADV,
				     "WRITTEN for a cookie not advertised"))
			m->cookie = htole32(evil_free_slot(c, rb->cookie));
		break;
	case EVIL_SRV_WRITTEN_DUP:
		if (push && evil_now(c, EVIL_SRV_WRITTEN_DUP,
				     "a second WRITTEN for the same cookie")) {
			struct rdma_buf *d = rfs_rdma_ctrl_new(
				c, RDMA_MSG_WRITTEN, rb->cookie);

			if (d) { /* right behind this one */
				d->rlen = rb->b.len;
				d->next = c->txq_head;
				c->txq_head = d;
				if (!c->txq_tail)
					c->txq_tail = d;
			}
		}
		break;
	case EVIL_SRV_WRITTEN_LONG:
		if (push && evil_now(c, EVIL_SRV_WRITTEN_LONG,
				     "WRITTEN longer than the advertisement"))
			m->len = htole32(rb->rlen + 1);
		break;
	case EVIL_SRV_WRITTEN_SHORT:
		if (push && evil_now(c, EVIL_SRV_WRITTEN_SHORT,
				     "WRITTEN shorter than a header"))
			m->len = htole32(RFS_HDR_SIZE / 2);
		break;
	case EVIL_SRV_PUSH_ID:
		if (push && evil_now(c, EVIL_SRV_PUSH_ID,
				     "a pushed frame with a wrong id"))
			h->id += 0x1000;
		break;
	case EVIL_SRV_PUSH_NOTREPLY:
		if (push && evil_now(c, EVIL_SRV_PUSH_NOTREPLY,
				     "a pushed frame that is no reply"))
			h->flags &= (uint16_t)~RFS_HF_REPLY;
		break;
	case EVIL_SRV_ADV:
		if (rb->op == BOP_FRAME && reply &&
		    evil_now(c, EVIL_SRV_ADV, "ADV on a reply")) {
			m->flags |= RDMA_MSGF_ADV;
			m->len = htole32(65536);
		}
		break;
	case EVIL_SRV_NOPUSH_UNADV:
		if (rb->op == BOP_FRAME && reply && !c->push &&
		    evil_now(c, EVIL_SRV_NOPUSH_UNADV, "UNADV without push")) {
			m->flags |= RDMA_MSGF_UNADV;
			m->adv = 0;
		}
		break;
	case EVIL_SRV_NOPUSH_WRITTEN:
		if (rb->op == BOP_FRAME && reply && !c->push &&
		    evil_now(c, EVIL_SRV_NOPUSH_WRITTEN,
			     "WRITTEN without push")) {
			m->type = RDMA_MSG_WRITTEN;
			m->len = htole32(rb->b.len);
			m->cookie = 0;
		}
		break;
	case EVIL_CLI_ADV_RANGE:
		if (adv && evil_now(c, EVIL_CLI_ADV_RANGE,
				    "ADV with a cookie out of range"))
			m->cookie = htole32(ADV_MAX + 5);
		break;
	case EVIL_CLI_ADV_DUP: {
		uint32_t j = ADV_MAX;

		/* a lower cookie still out: its request went first (the
		   slots are taken lowest first) */
		for (uint32_t k = 0; adv && k < rb->adv - 1; k++)
			if (c->adv[k])
				j = k;
		if (j < ADV_MAX && evil_now(c, EVIL_CLI_ADV_DUP,
					    "ADV of a cookie still in use"))
			m->cookie = htole32(j);
		break;
	}
	case EVIL_CLI_ADV_LONG:
		if (adv &&
		    evil_now(c, EVIL_CLI_ADV_LONG, "ADV longer than max_msg"))
			m->len = htole32(c->t->base.params.max_msg + 1);
		break;
	case EVIL_CLI_ADV_SHORT:
		if (adv && evil_now(c, EVIL_CLI_ADV_SHORT,
				    "ADV shorter than a header"))
			m->len = htole32(RFS_HDR_SIZE / 2);
		break;
	case EVIL_CLI_ADV_REPLY:
		if (adv && evil_now(c, EVIL_CLI_ADV_REPLY, "ADV on a reply"))
			h->flags |= RFS_HF_REPLY;
		break;
	case EVIL_CLI_ADV_RMA:
		if (rb->op == BOP_RMA &&
		    evil_now(c, EVIL_CLI_ADV_RMA, "ADV on an RMA message"))
			m->flags |= RDMA_MSGF_ADV;
		break;
	case EVIL_CLI_UNADV:
		if (req &&
		    evil_now(c, EVIL_CLI_UNADV, "UNADV from the client")) {
			m->flags |= RDMA_MSGF_UNADV;
			m->adv = 0;
		}
		break;
	case EVIL_CLI_WRITTEN:
		if (req &&
		    evil_now(c, EVIL_CLI_WRITTEN, "WRITTEN from the client")) {
			m->type = RDMA_MSG_WRITTEN;
			m->len = htole32(rb->b.len);
			m->cookie = 0;
		}
		break;
	case EVIL_CLI_NOPUSH_ADV:
		if (req && !c->push && rb->hinted &&
		    evil_now(c, EVIL_CLI_NOPUSH_ADV, "ADV without push")) {
			m->flags |= RDMA_MSGF_ADV;
			m->len = htole32(65536);
		}
		break;
	default:
		break;
	}
}
