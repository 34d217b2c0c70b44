// SPDX-License-Identifier: MIT
/*
 * xprt_shm_fd: open files over the shm transport's Unix socket, for the
 * kernel's FUSE passthrough (xprt_shm_fd.h says what travels).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "xprt_shm_fd.h"
#include "xprt_shm_i.h"

void rfs_shm_fds_init(struct rfs_shm_fds *f)
{
	memset(f, 0, sizeof(*f));
}

void rfs_shm_fds_clear(struct rfs_shm_fds *f)
{
	for (unsigned i = 0; i < f->n; i++)
		close(f->ent[i].fd);
	for (unsigned i = 0; i < f->nloose; i++)
		close(f->loose[i]);
	f->n = f->nloose = f->npart = 0;
}

static void keep(struct rfs_shm_fds *f, uint64_t token, int fd)
{
	if (f->n == RFS_SHM_FDS_MAX) {
		/* the oldest: its reply is long gone */
		close(f->ent[0].fd);
		memmove(&f->ent[0], &f->ent[1],
			(RFS_SHM_FDS_MAX - 1) * sizeof(f->ent[0]));
		f->n--;
		f->dropped++;
	}
	f->ent[f->n].token = token;
	f->ent[f->n].fd = fd;
	f->n++;
}

/* bytes just read: complete records; false on a protocol error */
static bool parse(struct rfs_shm_fds *f, const uint8_t *p, size_t n, bool *bye,
		  const char **why)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t token = 0;

		if (f && f->npart) {
			f->part[f->npart++] = p[i];
			if (f->npart < RFS_SHM_FD_REC)
				continue;
			for (unsigned k = 0; k < 8; k++)
				token |= (uint64_t)f->part[1 + k] << (8 * k);
			f->npart = 0;
			if (!f->nloose) {
				*why = "a file record without its file";
				return false;
			}
			keep(f, token, f->loose[0]);
			memmove(&f->loose[0], &f->loose[1],
				--f->nloose * sizeof(f->loose[0]));
			continue;
		}
		if (p[i] == RFS_SHM_BYE) {
			*bye = true;
		} else if (p[i] == RFS_SHM_FD && f) {
			f->part[0] = p[i];
			f->npart = 1;
		} else {
			*why = f ? "unexpected byte on the socket" :
				   "a file or unexpected byte from the client";
			return false;
		}
	}
	return true;
}

int rfs_shm_sock_read(int sock, struct rfs_shm_fds *f, bool *bye,
		      uint64_t *syscalls, const char **why)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	uint8_t buf[64];

	*why = NULL;
	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		bool bad = false;
		ssize_t n;

		if (f) {
			m.msg_control = cm.b;
			m.msg_controllen = sizeof(cm.b);
		}
		(*syscalls)++;
		n = recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ?
				       -EAGAIN :
				       -errno;
		for (struct cmsghdr *h = f ? CMSG_FIRSTHDR(&m) : NULL; h;
		     h = CMSG_NXTHDR(&m, h)) {
			size_t k;

			if (h->cmsg_level != SOL_SOCKET ||
			    h->cmsg_type != SCM_RIGHTS)
				continue;
			k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(h) + i * sizeof(int),
				       sizeof(fd));
				if (f->nloose < 4)
					f->loose[f->nloose++] = fd;
				else {
					close(fd);
					bad = true;
				}
			}
		}
		if (bad || (m.msg_flags & MSG_CTRUNC)) {
			*why = "more files than records on the socket";
			return -EPROTO;
		}
		if (n == 0)
			return 0;
		if (!parse(f, buf, (size_t)n, bye, why))
			return -EPROTO;
		/* a file comes with the first byte of its record */
		if (f && f->nloose > (f->npart ? 1u : 0u)) {
			*why = "a file without its record on the socket";
			return -EPROTO;
		}
	}
}

int rfs_shm_fd_take(struct rfs_shm_fds *f, uint64_t token)
{
	for (unsigned i = 0; i < f->n; i++) {
		int fd = f->ent[i].fd;

		if (f->ent[i].token != token)
			continue;
		memmove(&f->ent[i], &f->ent[i + 1],
			(f->n - i - 1) * sizeof(f->ent[0]));
		f->n--;
		return fd;
	}
	return -ENOENT;
}

int rfs_shm_fd_send(int sock, int fd, uint64_t token)
{
	uint8_t rec[RFS_SHM_FD_REC] = { RFS_SHM_FD };

	for (unsigned k = 0; k < 8; k++)
		rec[1 + k] = (uint8_t)(token >> (8 * k));
	/* a stream socket takes a 9-byte record whole or not at all here */
	return rfs_send_fds(sock, rec, sizeof(rec), &fd, 1,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
}
