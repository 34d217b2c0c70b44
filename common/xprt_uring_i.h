/* SPDX-License-Identifier: MIT */
/*
 * xprt_uring_i: private to the io_uring transport: xprt_uring.c (the
 * data path: receive, send, completions, connections) and
 * xprt_uring_ctx.c (the context: ring and provided-buffer-ring setup,
 * buffer classes, teardown).  Constants, structures, and the helpers
 * both use.
 */
#ifndef RFS_XPRT_URING_I_H
#define RFS_XPRT_URING_I_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bufpool.h"
#include "evq.h"
#include "proto.h"
#include "xprt_impl.h"

#define SQ_ENTRIES 256u
#define CQ_ENTRIES 2048u
#define BR_ENTRIES 128u		/* provided receive buffers (power of 2) */
#define BR_BUF_SIZE (32u << 10) /* 4 MiB of receive ring per context */
#define BR_GROUP 0
#define TX_IOV_MAX 64u	   /* frames gathered into one sendmsg */
#define ZC_MIN (16u << 10) /* zero-copy send from this frame size */
#define ZC_COPIED_MAX 4u   /* "copied anyway" notifs: zero copy off */
/* kernel >= 6.2 UAPI; liburing 2.3's header predates it */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1u << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1u << 31)
#endif
#define CQE_BATCH 64u
/* a plain send up to this size completes within the submitting enter */
#define TX_QUICK_MAX (64u << 10)
/* the longest a sleep waits for a quick send's CQE plus one more (ms) */
#define SLEEP_QUICK_MS 100
/* a sleep's spin before the enter (uring_spin), microseconds */
#define SPIN_US_DEFAULT 50
#define RX_DIRECT_MIN (64u << 10) /* frames received in place from here */
#define RX_SMALL_RUN 32u	  /* small frames in a row: multishot again */
#define FINI_TIMEOUT_MS 5000

enum ureq_kind {
	UREQ_RECV = 1,
	UREQ_RECV_DIRECT, /* recv of a large frame's rest, in place */
	UREQ_RX_STOP,	  /* cancel of the multishot recv */
	UREQ_SEND,	  /* sendmsg / send of queued frames */
	UREQ_SEND_ZC,	  /* send(msg)_zc: result, then notif */
	UREQ_CANCEL,
	UREQ_WATCH, /* rfs_xprt_sleep's poll of a caller's fd */
};

struct uconn;
struct ubuf;

/* What an SQE's user_data points at. */
struct ureq {
	enum ureq_kind kind;
	struct uconn *c;
};

/*
 * A zero-copy send of up to TX_IOV_MAX frames.  Allocated per SQE: its
 * notification may arrive after the connection's next send completed.
 */
struct zcreq {
	struct ureq r; /* first: the CQE's user_data */
	unsigned n;
	struct ubuf *ub[TX_IOV_MAX];
};

/* A pool buffer; the caller only sees b. */
struct ubuf {
	union {
		struct rfs_pool_buf pb; /* first: the pool's part */
		struct rfs_buf b;
	};
	struct ubuf *next; /* connection send queue */
	uint32_t sent;	   /* bytes of b already on the stream */
	uint32_t zc_refs;  /* notifications still due */
	int status;	   /* send result, for the SEND event */
	bool notify;	   /* RFS_SEND_NOTIFY */
	bool tx_done;	   /* send finished; waits for zc_refs */
};

enum uconn_state {
	UC_UP = 1,
	UC_DRAINING, /* local disconnect: push the send queue */
	UC_CLOSING,  /* failing: waiting for its ops to finish */
	UC_DOWN,     /* CONN_DOWN delivered */
};

struct uconn {
	struct rfs_conn_base base;
	struct uctx *x;
	struct uconn *prev, *next; /* x->conns */
	struct uconn *dirty_next;  /* x->dirty: send queue to push */
	int fd;
	enum uconn_state state;
	int status;	 /* CONN_DOWN status */
	unsigned ops;	 /* SQEs whose last CQE is due */
	unsigned notifs; /* zero-copy notifications due */
	bool dirty;
	bool rx_armed;	      /* ring recv posted (rx_req) */
	bool rx_big;	      /* large frames seen: single-shot */
	uint8_t rx_small_run; /* small frames since the last large */
	bool rx_stopping;     /* its cancel asked for */
	bool rx_stop_busy;    /* that cancel's CQE is due */
	bool rx_direct;	      /* direct recv in flight */
	bool tx_busy;	      /* one send in flight */
	bool zc_ok;	      /* socket supports SEND_ZC */
	uint8_t zc_copied;    /* notifs in a row saying "copied" */
	bool orphan;	      /* freed by the caller before DOWN */
	bool tcp;	      /* a TCP socket: TCP_INFO has counts */
	struct ureq rx_req, tx_req, cancel_req, rxd_req, rxs_req;
	/* receive reassembly */
	union {
		struct rfs_hdr h;
		uint8_t raw[RFS_HDR_SIZE];
	} rx_hdr;
	uint32_t rx_hdr_have;
	struct ubuf *rx_buf; /* frame being filled */
	uint32_t rx_have, rx_want;
	uint64_t rx_moved, tx_moved; /* bytes, ever (rfs_xprt_progress) */
	/* send queue: head..tail; the first tx_nframes are in flight */
	struct ubuf *txq, *txq_tail;
	unsigned tx_nframes;
	struct msghdr tx_msg;
	struct iovec tx_iov[TX_IOV_MAX];
	/* userspace TLS (base.tls): the sealed records of the frames in
	   flight, tls_tx_off of them sent; tls_tx_plain their frame bytes */
	const uint8_t *tls_tx_p;
	size_t tls_tx_len, tls_tx_off, tls_tx_plain;
	char desc[160];
};

struct uctx {
	struct rfs_xprt_base base;
	struct io_uring ring;
	bool ring_ok;
	bool sqpoll;
	bool zc;	/* SEND_ZC usable */
	bool zc_report; /* IORING_SEND_ZC_REPORT_USAGE works */
	unsigned setup_flags;
	struct io_uring_buf_ring *br;
	size_t br_map_len;
	bool br_registered;
	uint8_t *br_mem;
	struct rfs_pool pool; /* every buffer, free or not */
	struct uconn *conns;
	struct uconn *dirty;
	bool orphans; /* orphans to free */
	struct rfs_evq evq;
	struct rfs_xprt_stats st;
	/*
	 * Sends on the SQ whose CQE the kernel posts while it submits
	 * them (a small plain send with nothing queued behind it), so a
	 * sleep that submits them waits for one CQE more than that.
	 */
	unsigned tx_quick;
	/* how long a sleep may busy-poll the CQ first (0: never); the
	   spins in a row that found nothing; sleeps since the last spin */
	long long spin_ns;
	unsigned spin_miss, spin_skip;
	/* this process's contexts awake at once, at most, for a spin */
	unsigned spin_max;
	bool counted; /* in rfs_uring_awake */
	/* rfs_xprt_sleep's watched fds: one-shot polls, one per slot */
	struct uwatch {
		struct ureq r; /* r.c is NULL */
		int fd;
		bool armed;
		bool fired;
	} watch[2];
};

/*
 * The contexts of this process not asleep in uring_sleep's enter (their
 * threads run or are runnable): a spin is for a thread that has a CPU to
 * itself (xprt_uring_ctx.c).
 */
extern _Atomic unsigned rfs_uring_awake;

static inline struct uctx *UX(struct rfs_xprt *x)
{
	return (struct uctx *)(void *)x;
}

static inline const struct uctx *UXC(const struct rfs_xprt *x)
{
	return (const struct uctx *)(const void *)x;
}

static inline struct uconn *UC(struct rfs_conn *c)
{
	return (struct uconn *)(void *)c;
}

static inline struct ubuf *UB(struct rfs_buf *b)
{
	return (struct ubuf *)(void *)b;
}

/* A pool buffer with the send fields reset (the hot path). */
static inline struct ubuf *pool_get(struct uctx *x, uint32_t size)
{
	struct ubuf *ub = (struct ubuf *)rfs_pool_get(&x->pool, size);

	if (!ub)
		return NULL;
	ub->next = NULL;
	ub->sent = 0;
	ub->zc_refs = 0;
	ub->status = 0;
	ub->notify = false;
	ub->tx_done = false;
	return ub;
}

static inline void pool_put(struct uctx *x, struct ubuf *ub)
{
	rfs_pool_put(&x->pool, &ub->pb);
}

/* xprt_uring.c, for the context code */
int rfs_uring_submit(struct uctx *x);
unsigned rfs_uring_reap(struct uctx *x);
void rfs_uring_conn_fail(struct uconn *c, int status);
void rfs_uring_conn_unlink_free(struct uctx *x, struct uconn *c);
/* xprt_uring_ctx.c: the ops table's init and fini */
int rfs_uring_init(const struct rfs_xprt_params *p, struct rfs_xprt **out);
void rfs_uring_fini(struct rfs_xprt *xp);

#endif /* RFS_XPRT_URING_I_H */
