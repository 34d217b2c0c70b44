/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous file reads for a connection (aio.c): when several READs
 * arrive together, the connection thread queues their preads on an
 * io_uring of its own, submits them with one call and answers each as
 * its completion arrives, so a queue of reads waits for the disk in
 * parallel instead of one after the other.  A lone READ (queue depth 1)
 * still runs inline: one pread, no extra wake-up.
 *
 * Only the connection thread uses it (never the exec thread of split
 * mode, never the fuzzer: their cc->aio is NULL or not batching).
 */
#ifndef RFS_AIO_H
#define RFS_AIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "server.h"

struct rfs_aio;
struct rfs_aio_slot;

/* Give cc its ring (cc->aio); false when io_uring is unavailable. */
bool rfs_aio_init(struct rfs_conn_ctx *cc);
/* Wait for every queued read, give back its buffers, free the ring. */
void rfs_aio_fini(struct rfs_conn_ctx *cc);
/*
 * The loop says whether READs of the frames it is about to run may be
 * queued (several arrived together, or reads are already in flight).
 */
void rfs_aio_batch(struct rfs_conn_ctx *cc, bool on);
/*
 * READ's handler: queue a read of size bytes at off of f.  0: queued
 * (f's reference now belongs to the queue, r->aio is set, and the
 * pipeline gives back its reply buffer after rfs_aio_adopt: the answer
 * is built when the read completes); 1: not queued, read inline.
 */
int rfs_aio_read(struct rfs_req *r, struct rfs_fh *f, uint32_t size, off_t off);
/* The pipeline: whether to seal r->aio's reply with a checksum. */
void rfs_aio_adopt(struct rfs_req *r, bool csum);
/* Submit what was queued (one io_uring_enter); -errno on failure. */
int rfs_aio_submit(struct rfs_conn_ctx *cc);
/* Answer every finished read through cc->io; returns how many. */
int rfs_aio_reap(struct rfs_conn_ctx *cc);
/* Reads queued or in flight. */
unsigned rfs_aio_inflight(const struct rfs_conn_ctx *cc);
/* The fd to poll for completions, or -1. */
int rfs_aio_fd(const struct rfs_conn_ctx *cc);

#endif /* RFS_AIO_H */
