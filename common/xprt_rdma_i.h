/* SPDX-License-Identifier: MIT */
/*
 * xprt_rdma_i: private to xprt_rdma.c and xprt_rdma_setup.c (the only
 * files that include the verbs headers): the rdma transport's wire format
 * (all fields little-endian) and its internal structures.
 *
 * Phase 1, on the TCP control connection (after which it carries nothing
 * and only its close matters):
 *
 *   client -> server   struct rdma_setup_req  (starts with RDMA_SETUP_MAGIC,
 *                                              which rfs_xprt_sniff sees)
 *   server -> client   struct rdma_setup_rep  (status; on success the
 *                      RDMA address and port of a listener made for this
 *                      connection alone, a 16-byte random session token,
 *                      the server's receive credits and inline threshold)
 *   client             rdma_connect() to addr:port with the token as
 *                      private data; the server accepts only that token
 *                      (anything else is rejected and logged) and then
 *                      drops the listener.
 *
 * Phase 2, on the RC queue pair: every SEND carries a struct rdma_msg,
 * followed by a whole frame for RDMA_MSG_FRAME.  Each message consumes one
 * of the peer's posted receives (a credit); `credits` in every message
 * returns receives the sender has re-posted since it last said so.
 */
#ifndef RFS_XPRT_RDMA_I_H
#define RFS_XPRT_RDMA_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "xprt_impl.h"

#define RDMA_SETUP_MAGIC 0x414d4452u	/* "RDMA" in memory order */
#define RDMA_SETUP_VERSION 1u
#define RDMA_TOKEN_LEN 16u

struct rdma_setup_req {
	uint32_t magic;		/* RDMA_SETUP_MAGIC */
	uint16_t version;	/* RDMA_SETUP_VERSION */
	uint16_t flags;		/* 0 */
	uint32_t credits;	/* receives the client keeps posted */
	uint32_t inline_max;	/* largest frame it takes inline */
	uint32_t max_msg;	/* largest frame it takes at all */
	uint32_t pad;
};
_Static_assert(sizeof(struct rdma_setup_req) == 24, "rdma_setup_req");

struct rdma_setup_rep {
	uint32_t magic;		/* RDMA_SETUP_MAGIC */
	int32_t status;		/* 0 or -errno: why the server refuses */
	uint16_t port;		/* rdma_cm port of the per-connection listener */
	uint16_t version;
	uint32_t credits;
	uint32_t inline_max;
	uint32_t max_msg;
	uint8_t token[RDMA_TOKEN_LEN];
	char addr[48];		/* numeric IP, NUL-terminated */
};
_Static_assert(sizeof(struct rdma_setup_rep) == 88, "rdma_setup_rep");

enum rdma_msg_type {
	RDMA_MSG_FRAME = 1,	/* a whole frame follows inline */
	RDMA_MSG_RMA,		/* a frame of len bytes waits at addr/rkey in
				   the sender's registered memory: RDMA-READ
				   it, then answer RDMA_MSG_DONE with cookie */
	RDMA_MSG_DONE,		/* the RMA frame `cookie` has been read */
	RDMA_MSG_CREDIT,	/* nothing but credits */
	RDMA_MSG_CLOSE,		/* orderly close: the last message */
};

#define RDMA_MSGF_LOW 0x01	/* sender is short of credits: return them */

struct rdma_msg {
	uint8_t type;
	uint8_t flags;
	uint16_t credits;
	uint32_t len;		/* RMA: frame length */
	uint64_t addr;		/* RMA: where the frame is */
	uint32_t rkey;		/* RMA */
	uint32_t cookie;	/* RMA, DONE */
	uint64_t rsvd;
};
_Static_assert(sizeof(struct rdma_msg) == 32, "rdma_msg");

/* ---- internals ---- */

#define BUF_PFX 64u		/* prefix in front of data: rdma_msg at the end */
#define MSG_SZ ((uint32_t)sizeof(struct rdma_msg))
#define NCLASS 3
#define INLINE_MAX 4096u	/* smallest class: receive size and inline */
#define RMA_MAX 64u		/* RMA frames in flight per connection */
#define POST_BATCH 32
#define WC_BATCH 32
#define SETUP_TIMEOUT_MS 15000	/* TCG guests are slow */
#define RESOLVE_TIMEOUT_MS 5000
#define SPIN_NS 20000		/* arm(): poll this long before sleeping */
#define RD_DEPTH 16u		/* RDMA READs in flight per QP */

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

enum bop {
	BOP_NONE,
	BOP_RECV,	/* posted receive */
	BOP_FRAME,	/* caller frame, inline SEND */
	BOP_RMA,	/* caller frame, descriptor SEND, waits for DONE */
	BOP_CTRL,	/* our DONE / CREDIT / CLOSE message */
	BOP_READ,	/* incoming RMA frame: RDMA READ target */
};

struct rdma_chunk;

struct rdma_buf {
	struct rfs_buf b;
	struct rdma_chunk *chunk;
	struct rdma_buf *next;		/* free list, txq or rxq */
	struct rdma_buf *iprev, *inext;	/* the connection's posted list */
	uint8_t cls, free, op, posted;
	uint8_t sent, acked, ready, ctrl_type;
	uint16_t send_flags;
	uint32_t cookie;
	uint64_t raddr;			/* BOP_READ: the peer's buffer */
	uint32_t rkey, rlen;
};

struct rdma_chunk {
	struct rdma_chunk *next;
	void *mem;
	size_t len;
	struct ibv_mr *mr;
	struct rdma_buf *bufs;
};

struct pool_class {
	uint32_t size;
	uint32_t per_chunk;
	struct rdma_buf *free;
};

enum cstate { CS_SETUP, CS_UP, CS_CLOSING, CS_DOWN };
enum epkind { EP_TCP, EP_CM, EP_CQ, EP_N };

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
	int fd;				/* TCP control socket */
	struct rdma_event_channel *cm_ch;
	struct rdma_cm_id *id;		/* connected id (owns the QP) */
	struct rdma_cm_id *lid;		/* passive side: per-conn listener */
	struct ibv_comp_channel *cch;
	struct ibv_cq *cq;
	struct ep_tag tag[EP_N];
	bool ep_added[EP_N];
	bool armed;

	uint32_t nrecv;			/* receives we keep posted */
	uint32_t peer_credits;		/* the peer's nrecv */
	uint32_t credits;		/* sends we may post */
	uint32_t owed;			/* re-posted, not yet told */
	bool peer_low;
	uint32_t inline_max;		/* min of both sides */
	uint32_t peer_max_msg;
	uint32_t sq_max, sq_used;

	struct rdma_buf *txq_head, *txq_tail;
	struct rdma_buf *ctlq_head, *ctlq_tail;	/* DONE, CLOSE: go first */
	struct rdma_buf *rxq_head, *rxq_tail;
	struct rdma_buf *posted;	/* everything the QP may still touch */
	struct rdma_buf *rma[RMA_MAX];
	uint32_t rma_n;
	uint32_t sends_out;		/* caller frames posted, not done */
	bool close_queued;

	uint8_t token[RDMA_TOKEN_LEN];
	char desc[160];
};

struct rdma_xprt {
	struct rfs_xprt_base base;
	int epfd;
	struct ibv_context *verbs;	/* the device the pool is bound to */
	struct ibv_pd *pd;
	struct ibv_device_attr dattr;
	struct rdma_chunk *chunks;
	struct pool_class cls[NCLASS];
	unsigned ncls;
	uint64_t nbufs, nfree;
	struct rdma_conn *conns;

	struct rfs_xev *evq;
	uint32_t evq_cap, evq_head, evq_n;
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

static inline struct rdma_msg *bmsg(struct rdma_buf *rb)
{
	return (struct rdma_msg *)(void *)((char *)rb->b.data - MSG_SZ);
}

static inline long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* xprt_rdma.c, for the setup code */
int rfs_rdma_dev_bind(struct rdma_xprt *t, struct ibv_context *verbs);
int rfs_rdma_post_fresh_recv(struct rdma_conn *c);
void rfs_rdma_conn_release(struct rdma_conn *c, bool close_fd);
void rfs_rdma_conn_drop_bufs(struct rdma_conn *c, int send_status);
/* xprt_rdma_setup.c: phase 1, the two ends of the handshake */
int rfs_rdma_adopt(struct rfs_xprt *x, int fd, struct rfs_conn **out);
int rfs_rdma_accept(struct rfs_xprt *x, int fd, struct rfs_conn **out);

#endif /* RFS_XPRT_RDMA_I_H */
