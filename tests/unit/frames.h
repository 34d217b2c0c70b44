/* SPDX-License-Identifier: MIT */
/*
 * frames: one canonical, valid frame of every opcode (request and reply),
 * built with the rfs_mb_* builders.  Shared by the unit tests (round
 * trips) and the fuzz corpus generator (seeds).
 */
#ifndef RFS_TEST_FRAMES_H
#define RFS_TEST_FRAMES_H

#include <stdint.h>

#include "proto.h"

/* canonical field values, so tests can compare what they decode */
#define TF_ID 0x1122334455667788ull
#define TF_NODE 0x0123456789abcdefull
#define TF_NODE2 0x0fedcba987654321ull
#define TF_FH 0x5555aaaa5555aaaaull
#define TF_NAME "file.txt"
#define TF_NAME2 "new-name"
#define TF_TARGET "../some/where else"
#define TF_XNAME "user.comment/x.y"
#define TF_EXPORT "data_1.x-y"
#define TF_HANDLE_LEN 21u /* odd on purpose: exercises the padding */
#define TF_DATA_LEN 100u
#define TF_NFORGET 3u
#define TF_NDIRENT 4u /* ".", "..", and two looked-up names */

/* fill p with the canonical handle / data bytes */
void rfs_tf_handle(uint8_t *p);
void rfs_tf_data(uint8_t *p, uint32_t n);
void rfs_tf_entry(struct rfs_entry *e, uint64_t nodeid);

/*
 * Build the canonical request / reply (status 0) of op into buf (8-byte
 * aligned, cap bytes), with a checksum.  Returns the frame length or
 * -errno (-EINVAL: op has no such frame, as FORGET's reply).
 */
int rfs_tf_req(uint16_t op, void *buf, uint32_t cap);
int rfs_tf_rep(uint16_t op, void *buf, uint32_t cap);

#endif
