/* SPDX-License-Identifier: MIT */
/*
 * xprt_rdma: the rdma transport's API beyond the generic one of xprt.h:
 * the process-wide rdma_cm listener of a server (ringfsd --listen-rdma).
 * Only a server that listens for rdma needs it; clients and the stream
 * transports never do.  Built without rdma, every call is a stub
 * (rfs_rdma_listen fails with -ENOTSUP).
 */
#ifndef RFS_XPRT_RDMA_H
#define RFS_XPRT_RDMA_H

/*
 * rdma, passive side: one rdma_cm listener on ADDR:PORT shared by the
 * whole process (ringfsd --listen-rdma ADDR:PORT).  While it is open,
 * every rdma rfs_xprt_accept of the process (each on its own connection
 * thread) answers its client with that port and a fresh token, registers
 * the token and waits; the thread that owns the listener reads its
 * connect requests (rfs_rdma_listener_run when listener_fd is readable),
 * hands a request with a registered token over to its connection
 * (rdma_migrate_id to the connection's event channel) and rejects every
 * other.  Without a listener each accept listens on its own ephemeral
 * port, as before.
 *
 * The owning thread must never change its credentials (see
 * RFS_XPRT_F_CRED_BOUND), nor may any thread between it and the
 * connection threads it starts: the hand-over write()s to a connection
 * thread's rdma_cm file.  One listener per process.
 *
 * rfs_rdma_listen: spec is ADDR[:PORT] (the --listen-rdma syntax;
 * "[v6]:PORT" for IPv6).  Without PORT: *out = NULL and 0 (per-connection
 * listeners).  PORT 0 picks a free port.  Otherwise 0 with the listener
 * bound and listening, or -errno after printing what failed and what to
 * do; -ENOTSUP when rdma is not built.
 */
struct rfs_rdma_listener;
int rfs_rdma_listen(const char *spec, struct rfs_rdma_listener **out);
/* Its rdma_cm event channel fd (nonblocking): poll for POLLIN. */
int rfs_rdma_listener_fd(const struct rfs_rdma_listener *l);
/* "10.0.0.1:7071", the address and port bound */
const char *rfs_rdma_listener_name(const struct rfs_rdma_listener *l);
/* Handle every pending event (never blocks); by the owning thread. */
void rfs_rdma_listener_run(struct rfs_rdma_listener *l);
/* Stop: later requests are refused by the kernel; NULL is a no-op. */
void rfs_rdma_listener_close(struct rfs_rdma_listener *l);

#endif /* RFS_XPRT_RDMA_H */
