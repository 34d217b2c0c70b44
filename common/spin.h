/* SPDX-License-Identifier: MIT */
/*
 * spin: what a bounded busy-wait needs (shm's adaptive spin, the server's
 * exec-thread hand-off): a CPU hint for the spin loop and a monotonic
 * clock in nanoseconds; the same clock in milliseconds, for setup and
 * teardown deadlines (rfs_poll_until in util.h takes one).
 */
#ifndef RFS_SPIN_H
#define RFS_SPIN_H

#include <time.h>

/* tell the CPU we are spinning (frees the sibling hyperthread) */
static inline void rfs_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* CLOCK_MONOTONIC in ns (the vDSO: no syscall) */
static inline long long rfs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CLOCK_MONOTONIC in ms: deadlines of blocking setup and teardown steps */
static inline long long rfs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#endif /* RFS_SPIN_H */
