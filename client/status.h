/* SPDX-License-Identifier: MIT */
/*
 * status: what a running ringfs client says about its mount, for
 * ringfsctl mounts: one small file per client process in a runtime
 * directory (/run/ringfs as root, $XDG_RUNTIME_DIR/ringfs otherwise),
 * "key=value" lines, replaced atomically, removed at exit.
 */
#ifndef RFS_CLIENT_STATUS_H
#define RFS_CLIENT_STATUS_H

#include <stddef.h>
#include <sys/types.h>

struct rfs_status {
	char mountpoint[4096];
	char source[512];
	char transport[32];
	char fuse[32];	      /* io_uring, /dev/fuse, negotiating */
	char passthrough[96]; /* "on", "off (why)": FUSE passthrough */
	unsigned loops;
	pid_t pid;
};

/* The directory, or NULL (no runtime directory for this user). */
const char *rfs_status_dir(char *buf, size_t len);
/* Write (create or replace) this process's file; 0 or -errno. */
int rfs_status_write(const struct rfs_status *s);
/* Remove this process's file. */
void rfs_status_remove(void);
/* Read one file; 0 or -errno (-EINVAL: not a status file). */
int rfs_status_read(const char *path, struct rfs_status *s);

#endif /* RFS_CLIENT_STATUS_H */
