/* SPDX-License-Identifier: MIT */
/*
 * Split mode (exec.c): the connection thread drives the transport and
 * never changes credentials; a second thread per connection, the exec
 * thread, runs its requests through the pipeline (request.c) in arrival
 * order.  Used for credential-bound transports (rdma) and --exec-thread.
 * All calls but the thread itself are the connection thread's.
 */
#ifndef RFS_EXEC_H
#define RFS_EXEC_H

#include <stdbool.h>

#include "server.h"

void rfs_exec_init(struct rfs_conn_ctx *cc);
/* start the exec thread: cc->split from now on */
int rfs_exec_start(struct rfs_conn_ctx *cc);
/* hand a received request to the exec thread (takes `in`) */
void rfs_exec_submit(struct rfs_conn_ctx *cc, struct rfs_buf *in);
/* send the replies of finished requests through cc->io, in order */
void rfs_exec_drain(struct rfs_conn_ctx *cc);
/*
 * Before the connection thread sleeps with requests out: wait a little
 * on the CPU for the next reply (true: one came, do not sleep).
 */
bool rfs_exec_spin(struct rfs_conn_ctx *cc);
/* stop and join the exec thread, drop what it did not run or send */
void rfs_exec_fini(struct rfs_conn_ctx *cc);

/*
 * Around the connection thread's poll(2) in split mode: the exec thread
 * wakes it only if it sleeps.  It sets asleep before it looks at
 * xdone_n a last time, the exec thread bumps xdone_n before it looks at
 * asleep (both seq_cst), so one of them sees the other.  False: a reply
 * came meanwhile, do not sleep.
 */
static inline bool rfs_exec_sleep_begin(struct rfs_conn_ctx *cc)
{
	if (!cc->split)
		return true;
	atomic_store(&cc->asleep, true);
	if (atomic_load(&cc->xdone_n) != cc->xdone_seen) {
		atomic_store(&cc->asleep, false);
		return false;
	}
	return true;
}

static inline void rfs_exec_sleep_end(struct rfs_conn_ctx *cc)
{
	if (cc->split)
		atomic_store(&cc->asleep, false);
}

#endif /* RFS_EXEC_H */
