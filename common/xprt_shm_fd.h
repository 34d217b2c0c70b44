/* SPDX-License-Identifier: MIT */
/*
 * xprt_shm_fd: what the shm transport's Unix socket carries after setup.
 *
 * Records, in order, from either side:
 *   RFS_SHM_BYE ('B')          an orderly close follows
 *   RFS_SHM_FD ('F') + token   server to client only: one open file,
 *                              attached with SCM_RIGHTS; token (8 bytes,
 *                              little-endian) is the id of the request
 *                              whose reply says RFS_OPEN_FD
 * The server sends a file before it publishes the reply that names it,
 * so the client finds the record on its socket when the reply arrives.
 *
 * The receiving side keeps the files not claimed yet in a small table
 * (RFS_SHM_FDS_MAX, the oldest is closed when it overflows: a reply that
 * timed out never claims its file).  A file comes with the first byte
 * of its record; anything else on the socket (a record without its file,
 * a file without its record, another byte) is a protocol error.
 */
#ifndef RFS_XPRT_SHM_FD_H
#define RFS_XPRT_SHM_FD_H

#include <stdbool.h>
#include <stdint.h>

#define RFS_SHM_FD 'F'
#define RFS_SHM_FDS_MAX 64u
#define RFS_SHM_FD_REC 9u /* 'F' + token */

struct rfs_shm_fds {
	uint8_t part[RFS_SHM_FD_REC]; /* a record a read cut short */
	unsigned npart;
	int loose[4]; /* received, their record not complete yet */
	unsigned nloose;
	struct {
		uint64_t token;
		int fd;
	} ent[RFS_SHM_FDS_MAX];
	unsigned n;
	uint64_t dropped; /* closed unclaimed (overflow) */
};

void rfs_shm_fds_init(struct rfs_shm_fds *f);
/* close every file still held */
void rfs_shm_fds_clear(struct rfs_shm_fds *f);
/*
 * Read what the nonblocking socket has.  f NULL: files are not welcome
 * (the server's side).  Returns -EAGAIN once it is drained, 0 at EOF,
 * -EPROTO on anything but the records above (*why says what), or
 * -errno; sets *bye on RFS_SHM_BYE.  *syscalls counts the recvmsgs.
 */
int rfs_shm_sock_read(int sock, struct rfs_shm_fds *f, bool *bye,
		      uint64_t *syscalls, const char **why);
/* the file sent with token, now the caller's; -ENOENT: none */
int rfs_shm_fd_take(struct rfs_shm_fds *f, uint64_t token);
/* send fd (a copy: the caller keeps its own) with token; never blocks */
int rfs_shm_fd_send(int sock, int fd, uint64_t token);

#endif /* RFS_XPRT_SHM_FD_H */
