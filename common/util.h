/* SPDX-License-Identifier: MIT */
/*
 * util: small helpers every transport needs: the enclosing structure of a
 * member (a transport's buffer around the struct rfs_buf the caller
 * holds) and a poll() that waits for one fd until a deadline (blocking
 * connect and the shm and rdma setup handshakes).
 */
#ifndef RFS_UTIL_H
#define RFS_UTIL_H

#include <stddef.h>

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

#endif /* RFS_UTIL_H */
