/* SPDX-License-Identifier: MIT */
/*
 * harden: make a daemon fit to serve the kernel's own paging or its root
 * filesystem (ringfs -o swap / -o harden, the root of issue 14; ringfsd
 * --harden when it serves an NBD swap device to its own host).
 *
 * A process the kernel waits on to clean memory must not itself wait on
 * reclaim of that memory: its pages must not be swapped out or dropped
 * (mlockall), its allocations must not start I/O that comes back to it
 * (PR_SET_IO_FLUSHER: PF_MEMALLOC_NOIO and PF_LOCAL_THROTTLE, so its
 * reclaim does no filesystem or block I/O and it is not throttled for
 * dirty pages it is writing back), and the OOM killer must pick someone
 * else (oom_score_adj -1000).  Its buffers are the transports' pools,
 * filled up front (struct rfs_xprt_params.prealloc) so that a write
 * does not allocate on the way out.
 *
 * What this does not give: memory the kernel needs on the way to us (the
 * FUSE request, socket buffers) still comes from the page allocator; see
 * doc/root-and-swap.md for the guarantees and the deadlock risk left.
 *
 * Every step needs privilege (CAP_IPC_LOCK or a large RLIMIT_MEMLOCK,
 * CAP_SYS_RESOURCE): each failure is logged with the step, the reason and
 * the fix, and the call fails; the caller decides whether to go on.
 * mlockall is not inherited across fork(): call it in the process that
 * stays (after daemonizing); the other two are, and calling again is
 * harmless.
 */
#ifndef RFS_HARDEN_H
#define RFS_HARDEN_H

/* mlockall(MCL_CURRENT | MCL_FUTURE): every page resident, now and later */
#define RFS_HARDEN_MLOCK (1u << 0)
/* with RFS_HARDEN_MLOCK: MCL_ONFAULT, pages are locked as first touched
 * (less resident memory; a first touch may then allocate under pressure) */
#define RFS_HARDEN_ONFAULT (1u << 1)
/* prctl(PR_SET_IO_FLUSHER, 1) */
#define RFS_HARDEN_IO_FLUSHER (1u << 2)
/* /proc/self/oom_score_adj = -1000 */
#define RFS_HARDEN_OOM (1u << 3)

/* What a swap device's daemon (-o swap) and a root's (-o harden) need. */
#define RFS_HARDEN_ALL \
	(RFS_HARDEN_MLOCK | RFS_HARDEN_IO_FLUSHER | RFS_HARDEN_OOM)
#define RFS_HARDEN_SWAP RFS_HARDEN_ALL
#define RFS_HARDEN_ROOT RFS_HARDEN_ALL

/*
 * Apply flags to the calling process (IO_FLUSHER: to the calling thread
 * and the threads it creates afterwards: call before starting threads).
 * Every step is tried; 0, or the first step's -errno when one failed.
 */
int rfs_daemon_harden(unsigned flags);

/* The flags a successful rfs_daemon_harden applied so far (0: none). */
unsigned rfs_daemon_hardened(void);

#endif /* RFS_HARDEN_H */
