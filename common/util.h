/* SPDX-License-Identifier: MIT */
/*
 * util: small helpers every transport needs: the enclosing structure of a
 * member (a transport's buffer around the struct rfs_buf the caller
 * holds), a poll() that waits for one fd until a deadline (blocking
 * connect and the shm and rdma setup handshakes), and the kernel's
 * counts of a stream socket (how far a stalled-looking peer really got).
 */
#ifndef RFS_UTIL_H
#define RFS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The structure of `type` whose member `member` is at p. */
#define container_of(p, type, member) \
	((type *)(void *)((char *)(p)-offsetof(type, member)))

/*
 * Wait until fd has one of `events` (POLLIN, POLLOUT...) or the
 * deadline (rfs_now_ms() clock; < 0: none) passes.  EINTR restarts the
 * wait.  0 when ready (POLLERR and POLLHUP count: the next I/O call says
 * what happened), -ETIMEDOUT, or -errno of poll().
 */
int rfs_poll_until(int fd, short events, long long deadline_ms);
/*
 * One sendmsg of len bytes on a Unix socket with nfd (<= 4) descriptors
 * attached (SCM_RIGHTS; copies: the caller keeps its own), EINTR
 * retried: 0 when all of it went, -EIO on a short send, -errno (-EAGAIN
 * with MSG_DONTWAIT when it would block: nothing was sent).
 */
int rfs_send_fds(int sock, const void *p, size_t len, const int *fds,
		 unsigned nfd, int flags);

/*
 * The kernel's counts of a connected stream socket, for the deep look of
 * rfs_xprt_progress: a TCP socket (tcp): bytes received, and bytes the
 * peer acknowledged (TCP_INFO), which only grow; a Unix socket: rx 0,
 * and tx the bytes the peer has not read yet (SIOCOUTQ), which change as
 * it reads.  0, or -errno (both 0).
 */
int rfs_sock_counts(int fd, bool tcp, uint64_t *rx, uint64_t *tx);

#endif /* RFS_UTIL_H */
