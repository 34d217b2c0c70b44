/* SPDX-License-Identifier: MIT */
/* ops_i.h: shared by the op handler files (ops.c, ops_file.c, lock.c). */
#ifndef RFS_OPS_I_H
#define RFS_OPS_I_H

#include <sys/statvfs.h>

#include "server.h"

int rfs_dispatch_file(struct rfs_req *r);
int rfs_fill_entry(struct rfs_entry *e, struct rfs_node *n);
int rfs_put_handle(struct rfs_mb *b, struct rfs_node *n);
void rfs_cstr(char *dst, const char *src, uint32_t len);
/* open the node behind O_PATH fd again with flags; fd or -errno */
int rfs_reopen(int fd, int flags);

#endif /* RFS_OPS_I_H */
