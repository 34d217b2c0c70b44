/* SPDX-License-Identifier: MIT */
/*
 * What fuzz_session saw of its last input, for tests that drive the
 * fuzzer's entry point (pipeline_test.c): every reply the request
 * pipeline sent, and whether it closed the connection.
 */
#ifndef RFS_FUZZ_SESSION_H
#define RFS_FUZZ_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

#define RFS_FUZZ_REPLIES 16
#define RFS_FUZZ_KEEP 256 /* bytes of each reply kept */

struct rfs_fuzz_reply {
	uint32_t len; /* the whole frame's */
	bool cached;  /* from the duplicate-request cache */
	_Alignas(8) uint8_t frame[RFS_FUZZ_KEEP]; /* its head */
};

struct rfs_fuzz_obs {
	unsigned frames;   /* frames given to the pipeline */
	unsigned nreplies; /* replies sent (the first few kept) */
	struct rfs_fuzz_reply rep[RFS_FUZZ_REPLIES];
	bool closed; /* the pipeline closed the connection */
	bool bye;    /* the session was told BYE */
};

/* reset by every LLVMFuzzerTestOneInput */
extern struct rfs_fuzz_obs rfs_fuzz_obs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* RFS_FUZZ_SESSION_H */
