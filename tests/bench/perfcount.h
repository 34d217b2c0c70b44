/* SPDX-License-Identifier: MIT */
/*
 * perfcount: exact per-thread / per-process counts from the kernel, for
 * ringfs-bench and its self-test.
 *
 * Syscalls are counted with perf_event_open(2) on the raw_syscalls:sys_enter
 * tracepoint: the kernel bumps the counter on every entry, so the count is
 * exact (no sampling).  CPU time and context switches come from the software
 * events task-clock and context-switches.
 *
 * A reader's own read(2) of the counter is itself a syscall and is counted
 * (sys_enter fires before the value is read): a measurement brackets the
 * work with two reads and subtracts the overhead of an empty bracket
 * (rfs_pc_overhead), which is a constant for a given sequence of calls.
 *
 * Every call returns 0, a count, or -errno.
 */
#ifndef RFS_PERFCOUNT_H
#define RFS_PERFCOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum rfs_pc_kind {
	RFS_PC_SYSCALLS,   /* raw_syscalls:sys_enter */
	RFS_PC_TASK_CLOCK, /* ns of CPU time */
	RFS_PC_CTXSW,	   /* context switches, both kinds */
	RFS_PC_NKIND
};

/*
 * The tracepoint id of raw_syscalls:sys_enter, from tracefs
 * (/sys/kernel/tracing, then /sys/kernel/debug/tracing; when neither is
 * mounted, tracefs is mounted on a private temporary directory for the
 * lookup and unmounted again).  -ENOENT when there is no such tracepoint,
 * -EACCES/-EPERM when we may not look.
 */
int rfs_pc_syscall_tp_id(uint64_t *id);

/*
 * Open one counter of `kind` on task `pid` (0: the calling thread), any
 * CPU.  inherit: also count the threads and children it creates later.
 * on_exec: created disabled, enabled by the kernel when `pid` execs.
 * Returns the fd or -errno.
 */
int rfs_pc_open(enum rfs_pc_kind kind, pid_t pid, bool inherit, bool on_exec);

/* Current value of a counter (children included for inherit counters). */
int rfs_pc_read(int fd, uint64_t *v);

/*
 * A set of counters covering a whole process: one counter per kind per
 * thread (for a process that already runs threads), or one per kind
 * with inherit (for a process we start: opened before it execs).
 */
struct rfs_pc_set {
	int *fd; /* n * RFS_PC_NKIND */
	unsigned n;
	bool have[RFS_PC_NKIND]; /* kinds that could be opened */
};

/*
 * Counters on a child that has not exec'd yet (it waits for us): inherit,
 * enabled at exec.  The syscall counter is required; the others are
 * best-effort (have[] says which exist).
 */
int rfs_pc_set_exec(struct rfs_pc_set *s, pid_t child);
/* Counters on every thread of a running process, with inherit. */
int rfs_pc_set_attach(struct rfs_pc_set *s, pid_t pid);
/* Sum over the set; kinds that are missing read as 0. */
int rfs_pc_set_read(const struct rfs_pc_set *s, uint64_t v[RFS_PC_NKIND]);
void rfs_pc_set_close(struct rfs_pc_set *s);

/* voluntary / involuntary context switches summed over /proc/PID/task */
int rfs_pc_proc_ctxsw(pid_t pid, uint64_t *vol, uint64_t *invol);

#endif /* RFS_PERFCOUNT_H */
