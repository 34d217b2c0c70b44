/* SPDX-License-Identifier: MIT */
/*
 * xprt_rdma_i: private to the rdma transport's files (the only ones that
 * include the verbs headers): xprt_rdma.c (data path), xprt_rdma_setup.c
 * (handshake, listener), xprt_rdma_push.c (pushed replies) and, in test
 * builds, xprt_rdma_hooks.c.  The wire format (all fields little-endian)
 * and the internal structures.
 *
 * Phase 1, on the TCP control connection (after which it carries nothing
 * and only its close matters):
 *
 *   client -> server   struct rdma_setup_req  (starts with RDMA_SETUP_MAGIC,
 *                                              which rfs_xprt_sniff sees)
 *   server -> client   struct rdma_setup_rep  (status; on success the
 *                      RDMA address and port of a listener: one made for
 *                      this connection alone, or the server's shared one
 *                      (--listen-rdma ADDR:PORT); a 16-byte random
 *                      session token,
 *                      the server's receive credits and inline threshold)
 *                      Both carry flags: RDMA_SETUPF_PUSH in the request
 *                      offers read replies pushed by RDMA WRITE, in the
 *                      reply accepts the offer; a side that lacks it sends
 *                      0 there (older versions did), and then large
 *                      replies take the RMA + DONE path like any frame.
 *   client             rdma_connect() to addr:port with the token as
 *                      private data; the server accepts only that token
 *                      (anything else is rejected and logged) and then
 *                      drops a per-connection listener.  A shared
 *                      listener hands the request whose token a waiting
 *                      connection registered over to that connection.
 *
 * Phase 2, on the RC queue pair: every SEND carries a struct rdma_msg,
 * followed by a whole frame for RDMA_MSG_FRAME.  Each message consumes one
 * of the peer's posted receives (a credit); `credits` in every message
 * returns receives the sender has re-posted since it last said so.
 *
 * Push (negotiated): the client (active side) advertises a buffer with a
 * request sent with a reply-size hint (rfs_xprt_send_expect: READ): its
 * FRAME message has RDMA_MSGF_ADV and {len, addr, rkey, cookie} name a
 * registered, remotely writable buffer of len bytes.  The server
 * answers the request's id either by an RDMA WRITE of the reply frame
 * into that buffer followed by RDMA_MSG_WRITTEN {len, cookie}, or,
 * when the reply is inline, too large for the buffer or never pushed, by
 * an ordinary FRAME/RMA message with RDMA_MSGF_UNADV and the cookie in
 * `adv`, so the client frees the buffer.  See xprt_rdma_push.c.
 */
#ifndef RFS_XPRT_RDMA_I_H
#define RFS_XPRT_RDMA_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "bufpool.h"
#include "evq.h"
#include "spin.h"
#include "util.h"
#include "xprt_impl.h"

struct rfs_hdr;

#define RDMA_SETUP_MAGIC 0x414d4452u /* "RDMA" in memory order */
#define RDMA_SETUP_VERSION 1u
#define RDMA_TOKEN_LEN 16u

struct rdma_setup_req {
	uint32_t magic;	     /* RDMA_SETUP_MAGIC */
	uint16_t version;    /* RDMA_SETUP_VERSION */
	uint16_t flags;	     /* RDMA_SETUPF_*: what the client offers */
	uint32_t credits;    /* receives the client keeps posted */
	uint32_t inline_max; /* largest frame it takes inline */
	uint32_t max_msg;    /* largest frame it takes at all */
	uint32_t pad;
};
_Static_assert(sizeof(struct rdma_setup_req) == 24, "rdma_setup_req");

struct rdma_setup_rep {
	uint32_t magic; /* RDMA_SETUP_MAGIC */
	int32_t status; /* 0 or -errno: why the server refuses */
	uint16_t port;	/* rdma_cm port to connect to (per-connection
				   or shared listener) */
	uint16_t version;
	uint32_t credits;
	uint32_t inline_max;
	uint32_t max_msg;
	uint8_t token[RDMA_TOKEN_LEN];
	char addr[46];	/* numeric IP, NUL-terminated (INET6_ADDRSTRLEN) */
	uint16_t flags; /* RDMA_SETUPF_*: what the server accepts (was
				   the end of a 48-byte addr, always 0 before) */
};
_Static_assert(sizeof(struct rdma_setup_rep) == 88, "rdma_setup_rep");

#define RDMA_SETUPF_PUSH 0x0001u /* read replies pushed by RDMA WRITE */
/*
 * Push through memory windows: the client advertises each buffer through
 * a type 2 memory window bound to exactly that buffer for that request
 * (its large pool memory is registered without remote write), and the
 * server ends every advertisement it answers (WRITTEN) or releases
 * (UNADV) with a SEND with invalidate of the window's rkey.  The client
 * takes neither without that invalidation.  Offered by a client whose
 * device binds type 2 windows; without it push uses remotely writable
 * memory regions (see xprt_rdma.c, Security).
 */
#define RDMA_SETUPF_MW 0x0002u

enum rdma_msg_type {
	RDMA_MSG_FRAME = 1, /* a whole frame follows inline */
	RDMA_MSG_RMA,	    /* a frame of len bytes waits at addr/rkey in
				   the sender's registered memory: RDMA-READ
				   it, then answer RDMA_MSG_DONE with cookie */
	RDMA_MSG_DONE,	    /* the RMA frame `cookie` has been read */
	RDMA_MSG_CREDIT,    /* nothing but credits */
	RDMA_MSG_CLOSE,	    /* orderly close: the last message */
	RDMA_MSG_WRITTEN,   /* push, server -> client: the reply frame of
				   len bytes is in the buffer advertised as
				   `cookie` (the RDMA WRITE before this
				   message, same QP) */
};

#define RDMA_MSGF_LOW 0x01 /* sender is short of credits: return them */
/* push, client FRAME (a request): len, addr, rkey, cookie advertise a
 * buffer for the reply */
#define RDMA_MSGF_ADV 0x02
/* push, server FRAME or RMA (a reply): the advertisement `adv` is
 * released unused */
#define RDMA_MSGF_UNADV 0x04

struct rdma_msg {
	uint8_t type;
	uint8_t flags;
	uint16_t credits;
	uint32_t len;	 /* RMA, WRITTEN: frame length; ADV: buffer's */
	uint64_t addr;	 /* RMA: where the frame is; ADV: the buffer */
	uint32_t rkey;	 /* RMA, ADV */
	uint32_t cookie; /* RMA, DONE; ADV, WRITTEN: the advertisement */
	uint32_t adv;	 /* UNADV: the advertisement released */
	uint32_t rsvd;
};
_Static_assert(sizeof(struct rdma_msg) == 32, "rdma_msg");

/* ---- internals ---- */

#define BUF_PFX 64u /* prefix in front of data: rdma_msg at the end */
#define MSG_SZ ((uint32_t)sizeof(struct rdma_msg))
#define INLINE_MAX 4096u /* smallest class: receive size and inline */
#define RMA_MAX 64u	 /* RMA frames in flight per connection */
#define ADV_MAX 64u	 /* push: advertised buffers per connection */
#define POST_BATCH 32
#define WC_BATCH 32
#define SETUP_TIMEOUT_MS 15000 /* TCG guests are slow */
#define RESOLVE_TIMEOUT_MS 5000
#define SPIN_NS 20000 /* arm(): poll this long before sleeping */
#define RD_DEPTH 16u  /* RDMA READs in flight per QP */

enum bop {
	BOP_NONE,
	BOP_RECV,  /* posted receive */
	BOP_FRAME, /* caller frame, inline SEND */
	BOP_RMA,   /* caller frame, descriptor SEND, waits for DONE */
	BOP_CTRL,  /* our DONE / CREDIT / CLOSE message */
	BOP_READ,  /* incoming RMA frame: RDMA READ target */
	BOP_PUSH,  /* caller reply frame, RDMA WRITE + WRITTEN SEND */
	BOP_ADV,   /* client: advertised for a reply (adv table) */
};

struct rdma_buf {
	union {
		struct rfs_pool_buf pb; /* first: the pool's part */
		struct rfs_buf b;
	};
	struct rdma_buf *next;		/* txq or rxq */
	struct rdma_buf *iprev, *inext; /* the connection's posted list */
	uint8_t op, posted;
	uint8_t sent, acked, ready, ctrl_type; /* BOP_ADV: sent = announced
						   (its request posted) */
	uint16_t send_flags;
	uint8_t hinted; /* sent with a reply-size hint */
	uint8_t xwr;	/* unsignaled WRs posted just before this one's
			   SEND (a window bind): its completion ends them */
	uint8_t inv;	/* server, windows: SEND with invalidate of
			   inv_rkey (it ends an advertisement) */
	uint32_t inv_rkey;
	uint32_t cookie;
	uint64_t raddr;	     /* BOP_READ, BOP_PUSH: the peer's */
	uint32_t rkey, rlen; /* buffer; BOP_ADV: rlen = its len */
	uint32_t adv;	     /* send: advertisement to announce
					   (client, ADV) or release (server,
					   UNADV) + 1; 0 none */
};

/* a pool chunk's reg_flags: registered remotely writable */
#define RDMA_CHUNK_RW 0x1u
/* ... or registered for memory window binds (push through windows) */
#define RDMA_CHUNK_MW 0x2u

enum cstate {
	CS_SETUP,
	CS_UP,
	CS_CLOSING,
	CS_DOWN
};
enum epkind {
	EP_TCP,
	EP_CM,
	EP_CQ,
	EP_N
};

struct rdma_conn;

struct ep_tag {
	struct rdma_conn *c;
	enum epkind kind;
};

struct rdma_conn {
	struct rfs_conn_base base;
	struct rdma_xprt *t;
	struct rdma_conn *prev, *next;
	enum cstate state;
	int fd; /* TCP control socket */
	struct rdma_event_channel *cm_ch;
	struct rdma_cm_id *id;	/* connected id (owns the QP) */
	struct rdma_cm_id *lid; /* passive side: per-conn listener */
	struct ibv_comp_channel *cch;
	struct ibv_cq *cq;
	struct ep_tag tag[EP_N];
	bool ep_added[EP_N];
	bool armed;

	uint32_t nrecv;	       /* receives we keep posted */
	uint32_t peer_credits; /* the peer's nrecv */
	uint32_t credits;      /* sends we may post */
	uint32_t owed;	       /* re-posted, not yet told */
	bool peer_low;
	uint32_t inline_max; /* min of both sides */
	uint32_t peer_max_msg;
	uint32_t sq_max, sq_used;

	struct rdma_buf *txq_head, *txq_tail;
	struct rdma_buf *ctlq_head, *ctlq_tail; /* DONE, CLOSE: go first */
	struct rdma_buf *rxq_head, *rxq_tail;
	struct rdma_buf *posted; /* everything the QP may still touch */
	struct rdma_buf *rma[RMA_MAX];
	uint32_t rma_n;
	bool active; /* we connected (client side) */
	bool push;   /* both sides agreed on push */
	/* push, client: buffers advertised, waiting for their reply */
	struct rdma_buf *adv[ADV_MAX];
	uint64_t adv_id[ADV_MAX]; /* the request's frame id */
	uint32_t adv_n;
	/* push, server: the client's advertisements, by cookie */
	struct rdma_peer_adv {
		uint64_t id, addr;
		uint32_t len, rkey;
		bool used;
	} padv[ADV_MAX];
	uint32_t padv_n;
	/* push through memory windows (RDMA_SETUPF_MW): the client's
	   type 2 window of each slot and the rkey it was last bound with;
	   the invalidation the message being received carried */
	bool mw;
	struct ibv_mw *win[ADV_MAX];
	uint32_t win_rkey[ADV_MAX];
	bool rx_inv;
	uint32_t rx_inv_rkey;
	uint64_t pushed;    /* replies pushed (debug log) */
	uint32_t sends_out; /* caller frames posted, not done */
	bool close_queued;

	uint8_t token[RDMA_TOKEN_LEN];
	char desc[160];
};

#if HAVE_TEST_HOOKS
/*
 * Test hook (RINGFS_RDMA_TEST_EVIL=<name>, see xprt_rdma_hooks.c): the
 * side the mode names (srv-: a passive context, cli-: an active one)
 * sends exactly one malformed push message, at the first point where
 * the mode applies, and otherwise behaves.  Read once by rdma_init.
 */
enum rdma_evil {
	EVIL_NONE,
	/* server (passive) side */
	EVIL_SRV_WRITTEN_RANGE,	 /* WRITTEN, cookie >= ADV_MAX */
	EVIL_SRV_WRITTEN_UNADV,	 /* WRITTEN, cookie never advertised */
	EVIL_SRV_WRITTEN_DUP,	 /* a second WRITTEN for a consumed cookie */
	EVIL_SRV_WRITTEN_LONG,	 /* WRITTEN len = advertised len + 1 */
	EVIL_SRV_WRITTEN_SHORT,	 /* WRITTEN len < RFS_HDR_SIZE */
	EVIL_SRV_PUSH_ID,	 /* pushed frame with another request's id */
	EVIL_SRV_PUSH_NOTREPLY,	 /* pushed frame without RFS_HF_REPLY */
	EVIL_SRV_UNADV_RANGE,	 /* reply with UNADV of a cookie >= ADV_MAX */
	EVIL_SRV_UNADV_BOGUS,	 /* reply with UNADV of a cookie not out */
	EVIL_SRV_ADV,		 /* reply FRAME with RDMA_MSGF_ADV */
	EVIL_SRV_NOPUSH_UNADV,	 /* push not negotiated: reply with UNADV */
	EVIL_SRV_NOPUSH_WRITTEN, /* push not negotiated: a WRITTEN */
	EVIL_SRV_PUSH_OTHER,	 /* push WRITE aimed at another advertised
				    buffer, with this one's rkey */
	EVIL_SRV_PUSH_PAST,	 /* push WRITE just past the advertised
				    buffer */
	EVIL_SRV_WRITTEN_NOINV,	 /* windows: WRITTEN without invalidate */
	EVIL_SRV_PUSH_STALE,	 /* a push WRITE after the WRITTEN */
	/* client (active) side */
	EVIL_CLI_FIRST,
	EVIL_CLI_ADV_RANGE = EVIL_CLI_FIRST, /* ADV, cookie >= ADV_MAX */
	EVIL_CLI_ADV_DUP,    /* ADV of a cookie still advertised */
	EVIL_CLI_ADV_LONG,   /* ADV len > our max_msg */
	EVIL_CLI_ADV_SHORT,  /* ADV len < RFS_HDR_SIZE */
	EVIL_CLI_ADV_REPLY,  /* ADV on a frame flagged RFS_HF_REPLY */
	EVIL_CLI_ADV_RMA,    /* ADV on an RMA message */
	EVIL_CLI_UNADV,	     /* a request FRAME with RDMA_MSGF_UNADV */
	EVIL_CLI_WRITTEN,    /* a WRITTEN to the server */
	EVIL_CLI_NOPUSH_ADV, /* push not negotiated: a READ with ADV */
	EVIL_N
};
#endif

struct rdma_xprt {
	struct rfs_xprt_base base;
	int epfd;
	struct ibv_context *verbs; /* the device the pool is bound to */
	struct ibv_pd *pd;
	struct ibv_device_attr dattr;
	struct rfs_pool pool; /* chunks registered in pd */
	struct rdma_conn *conns;
	bool remote_write; /* active context: pool chunks of the
					   large classes remotely writable */
	unsigned wc_inv;   /* wc_flags bits meaning "with invalidate" */
	bool mw_ok;	   /* the device binds type 2 memory windows:
			      those chunks are registered for window
			      binds instead, and push goes through windows */
#if HAVE_TEST_HOOKS
	uint8_t evil;	 /* enum rdma_evil: test hook */
	bool evil_fired; /* its one bad message went out */
#endif

	struct rfs_evq evq;
	struct rfs_xprt_stats st;
};

static inline struct rdma_xprt *RX(struct rfs_xprt *x)
{
	return (struct rdma_xprt *)(void *)x;
}

static inline struct rdma_conn *RC(struct rfs_conn *c)
{
	return (struct rdma_conn *)(void *)c;
}

/* the memory region of rb's chunk (the pool's register hook made it) */
static inline struct ibv_mr *rb_mr(const struct rdma_buf *rb)
{
	return rb->pb.chunk->reg;
}

static inline struct rdma_msg *bmsg(struct rdma_buf *rb)
{
	return (struct rdma_msg *)(void *)((char *)rb->b.data - MSG_SZ);
}

/* A pool buffer with the transport's fields reset (the hot path). */
static inline struct rdma_buf *pool_get(struct rdma_xprt *t, uint32_t size)
{
	struct rdma_buf *rb = (struct rdma_buf *)rfs_pool_get(&t->pool, size);

	if (!rb)
		return NULL;
	rb->next = NULL;
	rb->op = BOP_NONE;
	rb->posted = rb->sent = rb->acked = rb->ready = 0;
	rb->send_flags = 0;
	rb->adv = 0;
	rb->xwr = rb->inv = 0;
	return rb;
}

static inline void pool_put(struct rdma_xprt *t, struct rdma_buf *rb)
{
	if (!rb->pb.free)
		rb->op = BOP_NONE;
	rfs_pool_put(&t->pool, &rb->pb);
}

/*
 * Push: what the peer sent is refused with -EPROTO; `why` (WHY_LEN bytes)
 * says what was wrong, for the log line that takes the connection down.
 */
#define WHY_LEN 160

/* xprt_rdma.c, for the push code: the rx queue, in order */
void rfs_rdma_rxq_append(struct rdma_conn *c, struct rdma_buf *rb);
void rfs_rdma_deliver(struct rdma_conn *c);
/* xprt_rdma_push.c: rb's message announces (client) or releases (server,
   UNADV) advertisement rb->adv - 1 */
void rfs_rdma_msg_adv(struct rdma_conn *c, struct rdma_buf *rb);
/* client: advertise a buffer for the reply to request rb (send_expect) */
void rfs_rdma_adv_attach(struct rdma_conn *c, struct rdma_buf *rb,
			 uint32_t reply_max);
/* server: reply rb consumes the advertisement of its request, if any */
void rfs_rdma_adv_match(struct rdma_conn *c, struct rdma_buf *rb);
/* server: record the advertisement of request frame h; 0 or -EPROTO */
int rfs_rdma_adv_record(struct rdma_conn *c, const struct rdma_msg *m,
			const struct rfs_hdr *h, char *why);
/* client: WRITTEN for advertisement slot; 0 or -EPROTO */
int rfs_rdma_on_written(struct rdma_conn *c, uint32_t slot, uint32_t len,
			char *why);
/* any message with ADV or UNADV; an UNADV releases; 0 or -EPROTO */
int rfs_rdma_push_flags_check(struct rdma_conn *c, const struct rdma_msg *m,
			      char *why);

/*
 * Test hooks (xprt_rdma_hooks.c, only with -Dtest_hooks=true): without
 * them each is a no-op the compiler drops, so the data path of a release
 * build carries no test branch at all.
 */
#if HAVE_TEST_HOOKS
/* RINGFS_RDMA_TEST_NO_PUSH: may this side offer/accept push? */
bool rfs_rdma_push_allowed(bool active);
/* RINGFS_RDMA_TEST_EVIL: the mode (enum rdma_evil), read by rdma_init */
unsigned rfs_rdma_test_evil(void);
/* RINGFS_RDMA_TEST_BAD_TOKEN: spoil the token of the first connects */
void rfs_rdma_test_token(uint8_t *token);
/* a mode is set: the two places below may spoil a message */
static inline bool rfs_rdma_evil_on(const struct rdma_xprt *t)
{
	return t->evil != EVIL_NONE;
}
/* rb's message (and frame) are built, not posted yet: spoil them */
void rfs_rdma_evil_send(struct rdma_conn *c, struct rdma_buf *rb);
/* server: release another advertisement than `slot`; true if so */
bool rfs_rdma_evil_unadv(struct rdma_conn *c, struct rdma_buf *rb,
			 uint32_t slot);
/* server: push rb (raddr, inv set) is about to be posted: spoil it;
   true: post one more WRITE of it after its WRITTEN */
bool rfs_rdma_evil_push(struct rdma_conn *c, struct rdma_buf *rb);
/* client: advertisement `slot` is taken (check false) or dropped at
   teardown (check true): the window modes mark and check its buffer */
void rfs_rdma_evil_canary(struct rdma_conn *c, struct rdma_buf *ab,
			  uint32_t slot, bool check);
/* RINGFS_RDMA_TEST_NO_MW: may this process use memory windows? */
bool rfs_rdma_mw_allowed(void);
#else
static inline bool rfs_rdma_push_allowed(bool active)
{
	return true;
}

static inline void rfs_rdma_test_token(uint8_t *token)
{
}

static inline bool rfs_rdma_evil_on(const struct rdma_xprt *t)
{
	return false;
}

static inline void rfs_rdma_evil_send(struct rdma_conn *c, struct rdma_buf *rb)
{
}

static inline bool rfs_rdma_evil_unadv(struct rdma_conn *c, struct rdma_buf *rb,
				       uint32_t slot)
{
	return false;
}

static inline bool rfs_rdma_evil_push(struct rdma_conn *c, struct rdma_buf *rb)
{
	return false;
}

static inline void rfs_rdma_evil_canary(struct rdma_conn *c,
					struct rdma_buf *ab, uint32_t slot,
					bool check)
{
}

static inline bool rfs_rdma_mw_allowed(void)
{
	return true;
}
#endif
/* xprt_rdma.c, for the setup code and the test hooks */
struct rdma_buf *rfs_rdma_ctrl_new(struct rdma_conn *c, uint8_t type,
				   uint32_t cookie);
int rfs_rdma_dev_bind(struct rdma_xprt *t, struct ibv_context *verbs);
int rfs_rdma_post_fresh_recv(struct rdma_conn *c);
void rfs_rdma_conn_release(struct rdma_conn *c, bool close_fd);
void rfs_rdma_conn_drop_bufs(struct rdma_conn *c, int send_status);
/* xprt_rdma_push.c: windows of an active connection (RDMA_SETUPF_MW) */
int rfs_rdma_win_alloc(struct rdma_conn *c);
/* windows: register each buffer of chunk ch as a region of its own */
int rfs_rdma_chunk_reg_bufs(struct rdma_xprt *t, struct rfs_pool_chunk *ch);
void rfs_rdma_win_free(struct rdma_conn *c);
/* client, windows: the bind of advertisement rb->adv - 1, put in *wr
   before its request's SEND */
void rfs_rdma_win_bind(struct rdma_conn *c, struct rdma_buf *rb,
		       struct ibv_send_wr *wr);
/* xprt_rdma_setup.c: phase 1, the two ends of the handshake */
int rfs_rdma_adopt(struct rfs_xprt *x, int fd, struct rfs_conn **out);
int rfs_rdma_accept(struct rfs_xprt *x, int fd, struct rfs_conn **out);

#endif /* RFS_XPRT_RDMA_I_H */
