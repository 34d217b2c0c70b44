/* SPDX-License-Identifier: MIT */
/* ops_i.h: shared by the op handler files (ops.c, ops_file.c, lock.c). */
#ifndef RFS_OPS_I_H
#define RFS_OPS_I_H

#include <sys/statvfs.h>
#include <time.h>

#include "server.h"

/*
 * ops_file.c: the handlers of the open-file ops, in ops.c's handler
 * table.  rfs_op_open serves OPEN and OPENDIR, rfs_op_release RELEASE
 * and RELEASEDIR, rfs_op_fsync FSYNC and FSYNCDIR.
 */
int rfs_op_open(struct rfs_req *r);
int rfs_op_create(struct rfs_req *r);
int rfs_op_read(struct rfs_req *r);
int rfs_op_write(struct rfs_req *r);
int rfs_op_flush(struct rfs_req *r);
int rfs_op_release(struct rfs_req *r);
int rfs_op_fsync(struct rfs_req *r);
int rfs_op_readdirplus(struct rfs_req *r);
int rfs_op_fallocate(struct rfs_req *r);
int rfs_op_copy_file_range(struct rfs_req *r);
int rfs_op_lseek(struct rfs_req *r);

int rfs_fill_entry(struct rfs_entry *e, struct rfs_node *n);
int rfs_put_handle(struct rfs_mb *b, struct rfs_node *n);
void rfs_cstr(char *dst, const char *src, uint32_t len);
/* the parent node of a request that names a child, and the name as a C string */
int rfs_req_parent(struct rfs_req *r, uint64_t parent, struct rfs_node **p,
		   char name[RFS_NAME_MAX + 1]);
/* SETATTR's atime and mtime as utimensat(2) takes them (UTIME_OMIT...) */
void rfs_setattr_times(const struct rfs_setattr_req *q, struct timespec ts[2]);
/* open the node behind O_PATH fd again with flags; fd or -errno */
int rfs_reopen(int fd, int flags);

#endif /* RFS_OPS_I_H */
