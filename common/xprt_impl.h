/* SPDX-License-Identifier: MIT */
/*
 * xprt_impl: what a transport implements.  One static const ops table per
 * transport (designated initializers), listed in xprt.c's table.  A NULL
 * slot means unsupported: the xprt.c wrappers return -EOPNOTSUPP, callers
 * never test slots.
 */
#ifndef RFS_XPRT_IMPL_H
#define RFS_XPRT_IMPL_H

#include "xprt.h"

struct rfs_xprt_ops {
	/* registry row: name and capabilities (RFS_XPRT_F_*) */
	struct rfs_xprt_desc desc;
	/* allocate the context; fini works after a partial init */
	int (*init)(const struct rfs_xprt_params *p, struct rfs_xprt **out);
	void (*fini)(struct rfs_xprt *x);
	/*
	 * Transports with a setup handshake of their own on the phase-1
	 * socket (shm, rdma) start it with these four bytes, so the server
	 * can tell which transport a new connection asks for (see
	 * rfs_xprt_sniff); 0 for byte-stream transports, whose first bytes
	 * are a frame header (RFS_MAGIC).
	 */
	uint32_t setup_magic;
	/* active side: we connected this socket */
	int (*adopt)(struct rfs_xprt *x, int fd, struct rfs_conn **out);
	/* passive side: we accepted it; NULL means the same as adopt */
	int (*accept)(struct rfs_xprt *x, int fd, struct rfs_conn **out);
	void (*disconnect)(struct rfs_conn *c);
	void (*conn_free)(struct rfs_conn *c);
	const char *(*conn_desc)(const struct rfs_conn *c);
	/*
	 * the connection's name in a capture ("rdma:rxe0/qp17"); NULL: made
	 * from conn_desc ("tcp:PEER", "shm:pidPID"), see capture.c
	 */
	void (*cap_name)(const struct rfs_conn *c, char *buf, size_t n);
	/* rfs_xprt_progress; NULL: frames move whole (zeros) */
	void (*progress)(const struct rfs_conn *c, struct rfs_xprt_progress *p,
			 bool deep);
	struct rfs_buf *(*buf_get)(struct rfs_xprt *x, uint32_t size);
	void (*buf_put)(struct rfs_xprt *x, struct rfs_buf *b);
	int (*send)(struct rfs_conn *c, struct rfs_buf *b, unsigned flags);
	/* send with a reply-size hint; NULL: send, hint ignored */
	int (*send_expect)(struct rfs_conn *c, struct rfs_buf *b,
			   unsigned flags, uint32_t reply_max);
	int (*flush)(struct rfs_xprt *x);
	int (*poll)(struct rfs_xprt *x, struct rfs_xev *ev, int max);
	int (*arm)(struct rfs_xprt *x);
	int (*wait_fd)(const struct rfs_xprt *x);
	/* rfs_xprt_sleep; NULL: -EOPNOTSUPP */
	int (*sleep)(struct rfs_xprt *x, int timeout_ms, const int *fds,
		     unsigned nfds, unsigned *fired);
	/* rfs_xprt_send_fd / rfs_xprt_take_fd (RFS_XPRT_F_PASSFD) */
	int (*send_fd)(struct rfs_conn *c, int fd, uint64_t token);
	int (*take_fd)(struct rfs_conn *c, uint64_t token);
	void (*stats)(const struct rfs_xprt *x, struct rfs_xprt_stats *s);
};

/*
 * Every transport's context and connection start with these, so xprt.c
 * can reach the ops and the caller's ctx without knowing the transport.
 */
struct rfs_xprt_base {
	const struct rfs_xprt_ops *ops;
	struct rfs_xprt_params params;
	bool nospin; /* rfs_xprt_spin: arm must not busy-wait */
	bool quiet;  /* rfs_xprt_wait_quiet: the wait fd had nothing */
};

struct rfs_tls;

struct rfs_conn_base {
	const struct rfs_xprt_ops *ops;
	struct rfs_xprt *x;
	void *ctx;
	/*
	 * TLS in userspace (tls.h, set by rfs_xprt_adopt_tls right after
	 * adopt, before any I/O): the stream transports pass their bytes
	 * through its record layer.  NULL: clear, or kernel TLS (ktls),
	 * where the socket encrypts by itself.  The transport frees it
	 * with the connection's memory (rfs_tls_free), when the kernel no
	 * longer holds a pointer into it.
	 */
	struct rfs_tls *tls;
	bool ktls;
	char tls_desc[48]; /* "" when clear */
	/* capture.c's, zero from the transport's calloc */
	uint32_t cap_gen, cap_slot, cap_pend;
};

extern const struct rfs_xprt_ops rfs_xprt_tcp_ops;
#if HAVE_URING
extern const struct rfs_xprt_ops rfs_xprt_uring_ops;
#endif
#if HAVE_SHM
extern const struct rfs_xprt_ops rfs_xprt_shm_ops;
#endif
#if HAVE_RDMA
extern const struct rfs_xprt_ops rfs_xprt_rdma_ops;
#endif

#endif /* RFS_XPRT_IMPL_H */
