/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * fuse_uring_kernel.h - the FUSE-over-io_uring (protocol 7.42, Linux >=
 * 6.14) and passthrough (7.40, Linux >= 6.9) pieces of the FUSE kernel ABI
 * that Debian 12's <linux/fuse.h> (7.38) and libfuse 3.14's fuse_kernel.h
 * lack.
 *
 * The definitions below restate the kernel's UAPI header
 * include/uapi/linux/fuse.h, which is licensed
 *     (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause
 * ("This -- and only this -- header file may also be distributed under the
 * terms of the BSD Licence", Copyright (C) 2001-2007 Miklos Szeredi).  Only
 * ABI facts (names, values, field order and sizes) are taken from it; the
 * comments are ours.  This file may be used under the same terms.
 *
 * Include order: this header includes <linux/fuse.h> first.  libfuse's
 * fuse_kernel.h uses the same include guard (_LINUX_FUSE_H), so whichever of
 * the two came first wins and the other is skipped.  Every definition here is
 * guarded, so a newer system header that already carries them (7.42+) makes
 * this file a no-op.  Do NOT include a newer <linux/fuse.h> AFTER this file:
 * its unguarded struct definitions would then clash.
 */
#ifndef RINGFS_FUSE_URING_KERNEL_H
#define RINGFS_FUSE_URING_KERNEL_H

#include <stdint.h>
#include <linux/fuse.h>

/* ---- INIT negotiation ------------------------------------------------- */

/*
 * INIT flags are 64 bits wide since 7.36: the low 32 bits travel in
 * fuse_init_in.flags / fuse_init_out.flags, bits 32..63 in the flags2 fields
 * (shifted down by 32).  flags2 is only looked at by the kernel when the
 * reply's flags contain FUSE_INIT_EXT (bit 30), so a daemon that wants
 * FUSE_OVER_IO_URING must set FUSE_INIT_EXT in fuse_init_out.flags AND
 * (FUSE_OVER_IO_URING >> 32) in fuse_init_out.flags2.  The kernel advertises
 * support the same way in fuse_init_in (flags has FUSE_INIT_EXT, flags2 has
 * bit 9 = 41 - 32) only if the fuse module's enable_uring parameter is set.
 * INIT itself (request and reply) always travels over /dev/fuse.
 */
#ifndef FUSE_INIT_EXT
#define FUSE_INIT_EXT (1 << 30)
#endif
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
#endif
/* flags2 bit for the above */
#define RINGFS_FUSE_OVER_IO_URING_FLAGS2 ((uint32_t)(FUSE_OVER_IO_URING >> 32))

/* 7.39: FUSE_STATX opcode (enum constants cannot be #ifndef-guarded). */
#define RINGFS_FUSE_STATX 52

/* ---- ring entry buffers ----------------------------------------------- */

#ifndef FUSE_URING_IN_OUT_HEADER_SZ
/* The kernel defines the sizes and the structures together (7.42). */

/* Room for struct fuse_in_header (request) / fuse_out_header (reply). */
#define FUSE_URING_IN_OUT_HEADER_SZ 128
/* Room for the opcode's fixed-size first argument (in_args[0]). */
#define FUSE_URING_OP_IN_OUT_SZ 128

/*
 * Per-entry metadata exchanged with the kernel, last member of the header
 * buffer.  Kernel -> daemon: commit_id (== fuse_in_header.unique of the
 * request now in the entry) and payload_sz (bytes of in-args after the first
 * one, placed in the payload buffer).  Daemon -> kernel: payload_sz = bytes of
 * reply out-args placed in the payload buffer.
 */
struct fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

/*
 * The header buffer of one ring entry (iov[0] of REGISTER; must be at least
 * this large).  The payload buffer is iov[1].
 */
struct fuse_uring_req_header {
	char in_out[FUSE_URING_IN_OUT_HEADER_SZ];
	char op_in[FUSE_URING_OP_IN_OUT_SZ];
	struct fuse_uring_ent_in_out ring_ent_in_out;
};

/* Values for sqe->cmd_op of an IORING_OP_URING_CMD on the /dev/fuse fd. */
enum fuse_uring_cmd {
	FUSE_IO_URING_CMD_INVALID = 0,
	/* hand an entry (header + payload buffers) to the kernel; completes
	 * when the first request is placed in it */
	FUSE_IO_URING_CMD_REGISTER = 1,
	/* commit the reply in the entry, completes with the next request */
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};

/*
 * Lives in the 80-byte command area of a 128-byte SQE (sqe->cmd), so the
 * ring must be created with IORING_SETUP_SQE128.  Zero the rest of the area:
 * later (7.46 patch series) kernels give the bytes after qid a meaning at
 * REGISTER time.
 */
struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id; /* COMMIT_AND_FETCH: ent_in_out.commit_id */
	uint16_t qid;	    /* queue index == CPU number */
	uint8_t padding[6];
};

#endif /* FUSE_URING_IN_OUT_HEADER_SZ */

_Static_assert(sizeof(struct fuse_uring_ent_in_out) == 32,
	       "fuse_uring_ent_in_out is 32 bytes");
_Static_assert(sizeof(struct fuse_uring_req_header) == 288,
	       "fuse_uring_req_header is 128 + 128 + 32 bytes");
_Static_assert(sizeof(struct fuse_uring_cmd_req) == 24,
	       "fuse_uring_cmd_req is 24 bytes");
_Static_assert(sizeof(struct fuse_uring_cmd_req) <= 80,
	       "fuse_uring_cmd_req fits the SQE128 command area");
_Static_assert(sizeof(struct fuse_in_header) <= FUSE_URING_IN_OUT_HEADER_SZ,
	       "fuse_in_header fits in_out");
_Static_assert(sizeof(struct fuse_out_header) <= FUSE_URING_IN_OUT_HEADER_SZ,
	       "fuse_out_header fits in_out");

/* ---- passthrough (7.40) ------------------------------------------------ */

/*
 * INIT: FUSE_PASSTHROUGH is bit 37 (flags2 bit 5); the reply's
 * max_stack_depth (the first of libfuse 3.14's unused words after flags2)
 * must be 1 or 2: how deep the backing files' own stacking may be.
 */
#ifndef FUSE_PASSTHROUGH
#define FUSE_PASSTHROUGH (1ULL << 37)
#endif
#define RINGFS_FUSE_PASSTHROUGH_FLAGS2 ((uint32_t)(FUSE_PASSTHROUGH >> 32))
/* OPEN/CREATE reply: fuse_open_out's last word (padding before) is the id */
#ifndef FOPEN_PASSTHROUGH
#define FOPEN_PASSTHROUGH (1u << 7)
#endif
struct ringfs_fuse_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};
/* register / drop a backing file on a /dev/fuse fd (CAP_SYS_ADMIN) */
struct ringfs_fuse_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define RINGFS_FUSE_DEV_IOC_MAGIC 229
#define RINGFS_FUSE_DEV_IOC_BACKING_OPEN \
	_IOW(RINGFS_FUSE_DEV_IOC_MAGIC, 1, struct ringfs_fuse_backing_map)
#define RINGFS_FUSE_DEV_IOC_BACKING_CLOSE \
	_IOW(RINGFS_FUSE_DEV_IOC_MAGIC, 2, uint32_t)

#endif /* RINGFS_FUSE_URING_KERNEL_H */
