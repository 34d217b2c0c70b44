/* SPDX-License-Identifier: MIT */
/*
 * passthrough: the kernel's FUSE passthrough for a same-host server
 * (passthrough.c says how and why).
 */
#ifndef RFS_CL_PASSTHROUGH_H
#define RFS_CL_PASSTHROUGH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

struct fuse_init_out;

/* what an open became, kept with its kernel fh (fhtab.c) until release */
enum {
	RFS_PT_NONE = 0, /* passthrough off: nothing counted */
	RFS_PT_PLAIN,	 /* through the daemons, counted on its node */
	RFS_PT_PASS	 /* the kernel's passthrough */
};

/*
 * INIT: accept FUSE_PASSTHROUGH in the reply *out when the kernel offers
 * it (offered_flags2) and this mount can use it; true if it did.
 */
bool rfs_pt_init(uint32_t offered_flags2, struct fuse_init_out *out);
/* should OPEN/CREATE ask the server for the file (RFS_WANT_FD)? */
bool rfs_pt_want(void);
/* "on", or "off (why)" (ringfsctl status) */
const char *rfs_pt_status(void);
/* nodes with a registered backing file now */
uint64_t rfs_pt_active(void);
/*
 * An open of node nodeid with flags (O_*) succeeded on the server, which
 * sent fd (-1: none).  fd is consumed.  Returns RFS_PT_PASS with *bid
 * (then rfs_pt_reply(*bid) before replying), RFS_PT_PLAIN, or -errno: the
 * open cannot be served (the node is in passthrough mode and this open
 * cannot join it).  Undo with rfs_pt_close.
 */
int rfs_pt_open(uint64_t nodeid, int fd, uint32_t flags, int *bid);
/* a release (or an undone open) of a kind rfs_pt_open returned */
void rfs_pt_close(uint64_t nodeid, int kind);
/* pt_fd.c: the access open flags (O_*) ask for: RFS_PT_R | RFS_PT_W */
#define RFS_PT_R 1u
#define RFS_PT_W 2u
unsigned rfs_pt_access(uint32_t flags);
/*
 * Does fd, a file the server sent, prove the access flags ask for to a
 * regular file (not O_PATH)?  0 with *st, -EACCES, -EBADF, -errno.
 */
int rfs_pt_check_fd(int fd, uint32_t flags, struct stat *st);
/* the next open reply from this thread carries backing id bid */
void rfs_pt_reply(int bid);
/* the custom writev: patch the armed open reply, if this is it */
void rfs_pt_patch(struct iovec *iov, int cnt);

#endif /* RFS_CL_PASSTHROUGH_H */
