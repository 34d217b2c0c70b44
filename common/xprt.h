/* SPDX-License-Identifier: MIT */
/*
 * xprt: the transport API, as its users (client, server, bench) see it.
 *
 * A transport context (struct rfs_xprt) belongs to one event-loop thread;
 * nothing here is thread-safe across contexts and nothing needs to be.
 * Transports move whole frames (struct rfs_hdr + payload): byte-stream
 * transports do the framing, using the header's length field, and close a
 * connection whose header fails rfs_proto_check_hdr (CONN_DOWN with
 * -EBADMSG / -EPROTO / -EMSGSIZE / -EPROTONOSUPPORT).
 *
 * Connections are established on the ordinary kernel path (phase 1,
 * rfs_xprt_connect / rfs_xprt_adopt); after that everything is
 * asynchronous: rfs_xprt_send queues, rfs_xprt_poll reaps events
 * (never blocks), and the caller sleeps on rfs_xprt_wait_fd after
 * rfs_xprt_arm says nothing is pending.
 *
 * Every call returns 0, a count, or -errno.
 */
#ifndef RFS_XPRT_H
#define RFS_XPRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rfs_xprt;
struct rfs_conn;
struct rfs_addr;

/*
 * A message buffer from the transport's pool.  data is 8-byte aligned
 * and holds cap bytes; len is the frame length (set by the transport on
 * RECV, by the caller before send).  Exactly one owner at any time.
 *
 * shm: a RECV buffer is partly shared memory the peer can still write.
 * The transport copies each frame's first 20 KiB (header, fixed part,
 * names, FORGET lists) to private memory and checks the frame there, so
 * that part cannot change; bytes beyond it (bulk WRITE data, xattr
 * values) can change under the receiver at any moment: read them once,
 * and never take a length or an offset from them.
 */
struct rfs_buf {
	void *data;
	uint32_t cap;
	uint32_t len;
};

enum rfs_xev_type {
	RFS_XEV_RECV = 1,  /* buf lent to the caller: give it back with
				   rfs_xprt_buf_put */
	RFS_XEV_SEND,	   /* only for sends with RFS_SEND_NOTIFY; buf
				   back to the caller */
	RFS_XEV_CONN_DOWN, /* conn is dead; status says why (0: orderly
				   close by the peer).  Delivered once, after
				   every op on it completed.  The caller then
				   calls rfs_xprt_conn_free. */
};

struct rfs_xev {
	enum rfs_xev_type type;
	int status; /* 0 or -errno */
	struct rfs_conn *conn;
	struct rfs_buf *buf;
};

struct rfs_xprt_params {
	uint32_t max_msg;      /* largest frame in either direction */
	uint32_t depth;	       /* expected frames in flight per connection */
	bool sqpoll;	       /* uring: kernel submission polling thread */
	bool zc_send;	       /* uring: zero-copy send for large frames
				   (default on where the kernel supports it) */
	const char *rdma_addr; /* rdma, passive side: the local RDMA
				   address (IP of an RDMA device, from the
				   server's --listen-rdma); NULL: refuse rdma */
	bool prealloc;	       /* fill the buffer pools up front (a
				   hardened client, -o swap: the write path
				   does not allocate); tcp, uring, rdma */
	int32_t spin_us;       /* how long arm may busy-poll the rings
				   before it lets the caller sleep; -1: the
				   transport's default (shm: 50, or
				   RINGFS_SHM_SPIN_US) */
};

/* Defaults: max_msg RFS_MSG_MAX_DEFAULT, depth 64, no sqpoll. */
void rfs_xprt_params_default(struct rfs_xprt_params *p);

/*
 * Open a context for transport `name` ("tcp", "uring", ...).  An unknown
 * name fails with -ENOENT and a log line listing the transports built; a
 * known one compiled out fails with -ENOTSUP and says how to rebuild.
 */
int rfs_xprt_open(const char *name, const struct rfs_xprt_params *p,
		  struct rfs_xprt **out);
/* Completes every outstanding op with -ECANCELED, then frees. */
void rfs_xprt_close(struct rfs_xprt *x);
const char *rfs_xprt_name(const struct rfs_xprt *x);
/*
 * What a transport context needs of the thread that drives it.
 *
 * RFS_XPRT_F_CRED_BOUND: the transport's files refuse a thread whose
 * credentials changed since they were opened (the kernel's uverbs and
 * rdma_cm write() paths compare the caller's cred with the opener's:
 * ib_safe_file_access), so the thread that drives the context must
 * never call setfsuid/setfsgid/setgroups.  rdma has it.
 */
#define RFS_XPRT_F_CRED_BOUND (1u << 0)
/*
 * Capabilities: what a transport is, so that callers choose and treat
 * transports by what they can do, never by name.
 *
 * RFS_XPRT_F_STREAM: frames travel on the phase-1 byte stream itself
 * (tcp, uring speak the same stream); a server's stream driver.
 * RFS_XPRT_F_LOCAL: same host only; needs a Unix socket to set up (shm).
 * RFS_XPRT_F_RDMA_ADDR: needs an RDMA-capable address on both ends (the
 * server's --listen-rdma, a local RDMA device).
 * RFS_XPRT_F_NO_FORK: a context holds state that a fork()ed child must
 * not inherit; a probe connection runs in a child process (rdma: verbs
 * objects pinned to the process).
 */
#define RFS_XPRT_F_STREAM (1u << 1)
#define RFS_XPRT_F_LOCAL (1u << 2)
#define RFS_XPRT_F_RDMA_ADDR (1u << 3)
#define RFS_XPRT_F_NO_FORK (1u << 4)
/*
 * RFS_XPRT_F_POLL_FREE: rfs_xprt_poll makes no syscall when nothing has
 * arrived (shared-memory rings, an io_uring CQ, a verbs CQ), so a caller
 * with a reply due may busy-poll it for a while instead of sleeping: it
 * costs CPU, not syscalls.  tcp's poll is an epoll_wait.
 */
#define RFS_XPRT_F_POLL_FREE (1u << 5)
/*
 * RFS_XPRT_F_SLEEP: rfs_xprt_sleep works (uring): the caller may leave
 * sends queued for the sleep to submit.
 */
#define RFS_XPRT_F_SLEEP (1u << 6)
/*
 * RFS_XPRT_F_PASSFD: the server can pass an open file to its client
 * (same host, a Unix socket underneath: shm), rfs_xprt_send_fd and
 * rfs_xprt_take_fd work.
 */
#define RFS_XPRT_F_PASSFD (1u << 7)
unsigned rfs_xprt_flags(const struct rfs_xprt *x);

/*
 * The registry, in order of preference for transport=auto (most
 * preferred first): i from 0 until NULL.  Only transports this build has.
 */
struct rfs_xprt_desc {
	const char *name;
	unsigned flags; /* RFS_XPRT_F_* */
};
const struct rfs_xprt_desc *rfs_xprt_at(size_t i);
/* The registry row of `name`, NULL when not built. */
const struct rfs_xprt_desc *rfs_xprt_find(const char *name);
/* The most preferred built transport with all of `flags` (stream: uring). */
const char *rfs_xprt_pick(unsigned flags);

/* Names of the transports built, space separated ("tcp uring"). */
const char *rfs_xprt_built(void);
/* 1 when `name` is a transport this build has. */
bool rfs_xprt_is_built(const char *name);

/*
 * Phase 1, on the kernel path: connect a TCP or Unix stream socket
 * (blocking, with timeout_ms), then hand it to the transport.
 */
int rfs_xprt_connect(struct rfs_xprt *x, const struct rfs_addr *a,
		     int timeout_ms, struct rfs_conn **out);
/* Take ownership of a connected stream socket fd. */
int rfs_xprt_adopt(struct rfs_xprt *x, int fd, struct rfs_conn **out);
/*
 * TLS (tls.h) on a byte stream (RFS_XPRT_F_STREAM): fd's handshake is
 * done (t); the connection then uses kernel TLS when the kernel has it,
 * else the session's record layer.  Takes t in every case.
 * rfs_xprt_connect_tls: connect, handshake with ctx's credentials
 * (bounded by timeout_ms), adopt; ctx NULL: rfs_xprt_connect.  A failed
 * handshake is logged with what to check and returns its -errno
 * (tls.h, rfs_tls_handshake).
 */
struct rfs_tls;
struct rfs_tls_ctx;
int rfs_xprt_adopt_tls(struct rfs_xprt *x, int fd, struct rfs_tls *t,
		       struct rfs_conn **out);
int rfs_xprt_connect_tls(struct rfs_xprt *x, const struct rfs_addr *a,
			 int timeout_ms, struct rfs_tls_ctx *ctx,
			 struct rfs_conn **out);
/* "TLS1.3 PSK+DHE AES-256-GCM kernel" style, or NULL when clear */
const char *rfs_conn_tls(const struct rfs_conn *c);
/*
 * Passive side: take a socket accepted on the kernel path whose first
 * bytes chose this transport (rfs_xprt_sniff).
 */
int rfs_xprt_accept(struct rfs_xprt *x, int fd, struct rfs_conn **out);
/*
 * Which transport a new connection asks for, from its first 4 bytes
 * (peeked, not consumed): a transport's setup magic names it; a frame
 * header (RFS_MAGIC) means a byte stream and returns `stream` (the
 * server's choice of tcp or uring).  NULL when the bytes match nothing
 * built.
 */
const char *rfs_xprt_sniff(const void *first4, const char *stream);

/* Start an orderly close; CONN_DOWN follows. */
void rfs_xprt_disconnect(struct rfs_conn *c);
/* Free a connection after its CONN_DOWN. */
void rfs_xprt_conn_free(struct rfs_conn *c);
/* Caller's pointer stored with the connection. */
void rfs_conn_set_ctx(struct rfs_conn *c, void *ctx);
void *rfs_conn_ctx(const struct rfs_conn *c);
/* "tcp 127.0.0.1:40000->127.0.0.1:7070" style description, for logs */
const char *rfs_conn_desc(const struct rfs_conn *c);

/*
 * How far a connection has got, for a caller that times out peers that
 * stall (ringfsd --frame-timeout, --reply-timeout).  A change of a count
 * is progress; nothing here says whether a peer is idle by choice.
 *
 * rx_bytes, tx_bytes: bytes received from the peer, and bytes of our
 * frames the kernel took, as this context has seen them; they only grow.
 * rx_have: bytes of a frame not yet whole (0 between frames); rx_want:
 * its length, 0 while its header is still incomplete.
 *
 * rx_hidden, tx_hidden: bytes may be moving where the counts cannot see
 * them: ours wait in the kernel's send buffer (the socket is full, so
 * the peer reading is only seen when we can write again, or when an
 * operation in flight completes: uring sends a batch of frames, and
 * receives the rest of a large frame, with MSG_WAITALL).  With deep, the
 * transport then asks the kernel (a syscall, rfs_sock_counts): k_rx and
 * k_tx change when the socket moved bytes (TCP: bytes received and
 * acknowledged; a Unix socket: k_tx the bytes the peer has not read yet,
 * k_rx 0).  Without deep, or with nothing hidden, they are 0.
 *
 * Byte-stream transports (STREAM) fill it; shm and rdma move whole
 * frames (published, or received, as a unit), report zeros, and their
 * RECV and SEND events are the only progress there is.
 */
struct rfs_xprt_progress {
	uint64_t rx_bytes, tx_bytes;
	uint64_t k_rx, k_tx;
	uint32_t rx_have, rx_want;
	bool rx_hidden, tx_hidden;
};
void rfs_xprt_progress(const struct rfs_conn *c, struct rfs_xprt_progress *p,
		       bool deep);

/* A buffer of at least size bytes (size <= max_msg), or NULL. */
struct rfs_buf *rfs_xprt_buf_get(struct rfs_xprt *x, uint32_t size);
void rfs_xprt_buf_put(struct rfs_xprt *x, struct rfs_buf *b);

#define RFS_SEND_NOTIFY (1u << 0)
/*
 * Queue buf->len bytes of buf for sending; the transport owns buf from now
 * on.  Without RFS_SEND_NOTIFY it returns buf to its pool when done;
 * with it, a RFS_XEV_SEND event hands buf back.  On error (-ENOTCONN for
 * a dead connection) the buffer is returned to the pool all the same.
 */
int rfs_xprt_send(struct rfs_conn *c, struct rfs_buf *b, unsigned flags);
/*
 * The same, with a hint: the caller expects a reply of up to reply_max
 * bytes (whole frame) to this request.  A transport that can place the
 * reply in memory the caller prepared (rdma: the server RDMA-WRITEs it)
 * uses it; others ignore it.  reply_max 0 means no hint (rfs_xprt_send).
 */
int rfs_xprt_send_expect(struct rfs_conn *c, struct rfs_buf *b, unsigned flags,
			 uint32_t reply_max);

/* Push queued sends to the kernel now (sends are batched until then). */
int rfs_xprt_flush(struct rfs_xprt *x);

/* Reap up to max events; never blocks.  Returns the count. */
int rfs_xprt_poll(struct rfs_xprt *x, struct rfs_xev *ev, int max);
/*
 * Before sleeping: flush, and return > 0 when events are already pending
 * (poll again instead of sleeping) or 0 when it is safe to sleep on
 * rfs_xprt_wait_fd until it is readable.
 */
int rfs_xprt_arm(struct rfs_xprt *x);
int rfs_xprt_wait_fd(const struct rfs_xprt *x);
/*
 * Arm and sleep in one: where the transport waits in a ring of its own
 * (uring), the sends still queued go to the kernel in the same syscall
 * that waits, so a turn that answers a request and waits for the next
 * one pays one io_uring_enter instead of a submit plus a poll(2).
 *
 * Sleeps until the transport has an event, one of the nfds (<=
 * RFS_XPRT_WATCH_MAX) fds is readable, or timeout_ms passes (-1: no
 * limit).  Each fd is watched by a one-shot poll the transport keeps
 * armed across calls (the fds must stay open while the context lives);
 * *fired gets bit i set when fds[i] was seen readable.  Returns > 0
 * without sleeping when events are pending (as arm), 0 after a sleep,
 * -ETIME when it timed out, -EOPNOTSUPP when the transport cannot (the
 * caller uses rfs_xprt_arm and rfs_xprt_wait_fd), another -errno on
 * failure.
 */
#define RFS_XPRT_WATCH_MAX 2
int rfs_xprt_sleep(struct rfs_xprt *x, int timeout_ms, const int *fds,
		   unsigned nfds, unsigned *fired);
/*
 * Whether arm may busy-wait for the next frame (spin_us) before it says
 * "sleep": a caller that also waits for something else (file I/O on a
 * ring of its own) turns it off, so it sleeps on both at once.  On by
 * default.
 */
void rfs_xprt_spin(struct rfs_xprt *x, bool allow);
/*
 * After a sleep armed with rfs_xprt_arm: the caller's wait on
 * rfs_xprt_wait_fd (a one-shot poll it armed after arm) has not fired,
 * so the fd had nothing: the next poll need not look at it (shm: no
 * epoll_wait to drain its eventfds).  A caller that cannot tell says
 * nothing, and poll looks.
 */
void rfs_xprt_wait_quiet(struct rfs_xprt *x);

struct rfs_xprt_stats {
	uint64_t frames_in, frames_out;
	uint64_t bytes_in, bytes_out;
	uint64_t syscalls;     /* syscalls issued by the transport */
	uint64_t copies_bytes; /* bytes copied in user space */
	uint64_t bufs_out;     /* buffers currently lent out */
	/* events, where the transport has them (ringfsctl stats) */
	uint64_t ring_full;  /* sends that found no room and waited (shm) */
	uint64_t zc_copied;  /* zero-copy sends the kernel copied (uring) */
	uint64_t wc_errors;  /* completions in error, flushes aside (rdma) */
	uint64_t wc_flushed; /* work requests flushed by a close (rdma) */
};
void rfs_xprt_get_stats(const struct rfs_xprt *x, struct rfs_xprt_stats *s);

/*
 * RFS_XPRT_F_PASSFD transports.  Server: send a copy of fd to the client
 * tagged with token (a request id), before the reply that names it; it
 * never blocks (-EAGAIN: the client does not read its socket).  Client:
 * take the file sent with token, now the caller's to close; -ENOENT:
 * none came.  -EOPNOTSUPP elsewhere.
 */
int rfs_xprt_send_fd(struct rfs_conn *c, int fd, uint64_t token);
int rfs_xprt_take_fd(struct rfs_conn *c, uint64_t token);

#endif /* RFS_XPRT_H */
