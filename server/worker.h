/* SPDX-License-Identifier: MIT */
/*
 * Worker threads (worker.c): operations that block (SETLKW, FLOCK) run on
 * a thread of their own and post their reply back to the connection loop,
 * which sends it.  The op handlers (lock.c) use the first three calls,
 * the connection loop (conn.c) the rest.
 */
#ifndef RFS_WORKER_H
#define RFS_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "server.h"

/*
 * Run fn on a worker thread.  fn must call rfs_worker_done exactly once
 * with its reply frame (malloc'd, sealed; NULL for none); the connection
 * loop sends it and frees it.  A worker blocked in a syscall gets SIGUSR1
 * (EINTR) when the connection goes away; it then checks
 * rfs_worker_cancelled.
 */
struct rfs_wjob;
typedef void (*rfs_wfn)(struct rfs_conn_ctx *cc, struct rfs_wjob *job,
			void *arg);
int rfs_worker_post(struct rfs_conn_ctx *cc, rfs_wfn fn, void *arg);
bool rfs_worker_cancelled(struct rfs_conn_ctx *cc);
void rfs_worker_done(struct rfs_conn_ctx *cc, struct rfs_wjob *job, void *frame,
		     uint32_t len);

/* the connection's side */
void rfs_workers_init(struct rfs_conn_ctx *cc);
/* send finished workers' replies through cc->io (none when closing) */
void rfs_workers_drain(struct rfs_conn_ctx *cc);
/* cancel, join and free every worker; their replies are dropped */
void rfs_workers_fini(struct rfs_conn_ctx *cc);

/*
 * Wake the connection loop from its poll(2): a worker's or the exec
 * thread's reply is ready, or the server stops.
 */
void rfs_conn_wake(struct rfs_conn_ctx *cc);

#endif /* RFS_WORKER_H */
