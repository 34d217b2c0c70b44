// SPDX-License-Identifier: MIT
/*
 * pt_fd: what a file the server passes for FUSE passthrough must prove
 * before we register it (passthrough.c says why): the kernel re-opens
 * its path with our credentials, so it must be a regular file the server
 * opened for at least the access the open asks for.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "passthrough.h"

unsigned rfs_pt_access(uint32_t flags)
{
	switch (flags & O_ACCMODE) {
	case O_WRONLY:
		return RFS_PT_W;
	case O_RDWR:
		return RFS_PT_R | RFS_PT_W;
	default:
		return RFS_PT_R;
	}
}

int rfs_pt_check_fd(int fd, uint32_t flags, struct stat *st)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fstat(fd, st) != 0)
		return -errno;
	if (!S_ISREG(st->st_mode) || (fl & O_PATH))
		return -EBADF;
	if (rfs_pt_access(flags) & ~rfs_pt_access((uint32_t)fl))
		return -EACCES;
	return 0;
}
