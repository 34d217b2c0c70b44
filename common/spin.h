/* SPDX-License-Identifier: MIT */
/*
 * spin: what a bounded busy-wait needs (shm's adaptive spin, the server's
 * exec-thread hand-off): a CPU hint for the spin loop and a monotonic
 * clock in nanoseconds; the same clock in milliseconds, for setup and
 * teardown deadlines (rfs_poll_until in util.h takes one).
 */
#ifndef RFS_SPIN_H
#define RFS_SPIN_H

#include <stdbool.h>
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

/*
 * A spin that gives way.  Every bounded busy-wait (shm's arm, the client
 * loop's wait for a reply, the server's wait for its file reads) looks
 * at the clock as it spins; two looks further apart than
 * RFS_SPIN_PREEMPT_NS mean the scheduler ran something else on this CPU
 * meanwhile (or the hypervisor took the vCPU): there is no CPU to spare,
 * and spinning only delays the thread we wait for.  The spin then stops,
 * and this thread's spins stay off for a while: it sleeps at once and
 * leaves the CPU to whoever needed it.  The while is short after a lone
 * preemption (RFS_SPIN_OFF_MIN_NS: a timer, a daemon) and doubles with
 * each preemption that follows within RFS_SPIN_CALM_NS of the last, up
 * to RFS_SPIN_OFF_MAX_NS (sustained contention: more runnable threads
 * than CPUs).  Without contention nothing preempts a spinner and it
 * spins as before.  No syscall.
 */
#define RFS_SPIN_PREEMPT_NS 25000LL
#define RFS_SPIN_OFF_MIN_NS 50000LL
#define RFS_SPIN_OFF_MAX_NS 2000000LL
#define RFS_SPIN_CALM_NS 10000000LL

/* util.c: this thread's spins are off until; the last preemption; the
   current off period */
extern __thread long long rfs_spin_off_until, rfs_spin_preempted_at,
	rfs_spin_off_ns;

struct rfs_spin {
	long long end, last;
};

/* start a spin of budget_ns: false when this thread's spins are off */
static inline bool rfs_spin_begin(struct rfs_spin *s, long long budget_ns)
{
	long long now = rfs_now_ns();

	if (now < rfs_spin_off_until)
		return false;
	s->end = now + budget_ns;
	s->last = now;
	return true;
}

/* spin on: within the budget and not preempted since the last look */
static inline bool rfs_spin_more(struct rfs_spin *s)
{
	long long now = rfs_now_ns();

	if (now - s->last > RFS_SPIN_PREEMPT_NS) {
		long long off = rfs_spin_off_ns * 2;

		if (now - rfs_spin_preempted_at > RFS_SPIN_CALM_NS ||
		    off < RFS_SPIN_OFF_MIN_NS)
			off = RFS_SPIN_OFF_MIN_NS;
		if (off > RFS_SPIN_OFF_MAX_NS)
			off = RFS_SPIN_OFF_MAX_NS;
		rfs_spin_off_ns = off;
		rfs_spin_preempted_at = now;
		rfs_spin_off_until = now + off;
		return false;
	}
	s->last = now;
	return now < s->end;
}

/*
 * A spin budget from the environment (util.c): variable var in
 * microseconds, 0..1000000; dflt when it is unset, empty or not such a
 * number (then with a warning that names var).
 */
long rfs_spin_env_us(const char *var, long dflt);

#endif /* RFS_SPIN_H */
