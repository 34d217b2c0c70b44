// SPDX-License-Identifier: MIT
/*
 * xprt_uring_ctx: an io_uring transport context: the ring (flags chosen
 * for how we sleep, see ring_init), the provided receive buffer ring,
 * the buffer classes, and teardown (cancel everything, wait for the
 * kernel to let go of our memory, free).  The data path is xprt_uring.c.
 */
#include <errno.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bufpool.h"
#include "log.h"
#include "spin.h"
#include "xprt_uring_i.h"

/* ---- buffer classes --------------------------------------------------- */

static void pool_setup(struct uctx *x, uint32_t max_msg)
{
	static const uint32_t sizes[] = { 4u << 10,   16u << 10, 64u << 10,
					  256u << 10, 1u << 20,	 4u << 20 };
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	uint32_t top = (max_msg + 7u) & ~7u;

	/* one buffer a chunk; fini frees those still lent out too */
	rfs_pool_init(&x->pool, "uring", sizeof(struct ubuf), 0, RFS_POOL_ALIGN,
		      max_msg, NULL);
	for (size_t i = 0; i <= n; i++) {
		uint32_t cap = i < n && sizes[i] < top ? sizes[i] : top;
		/* 32 MiB a class: QD32 of 1 MiB frames without page faults */
		uint32_t keep = (32u << 20) / cap;

		rfs_pool_add_class(&x->pool, cap, 1,
				   keep < 4   ? 4 :
				   keep > 512 ? 512 :
						keep);
		if (cap == top)
			break;
	}
}

/* ---- ring ------------------------------------------------------------- */

static int setup_buf_ring(struct uctx *x)
{
	int rc;

	x->br_mem = aligned_alloc(4096, (size_t)BR_ENTRIES * BR_BUF_SIZE);
	if (!x->br_mem)
		return -ENOMEM;
#if HAVE_IO_URING_SETUP_BUF_RING
	x->br = io_uring_setup_buf_ring(&x->ring, BR_ENTRIES, BR_GROUP, 0, &rc);
	if (!x->br)
		return rc;
	x->br_registered = true;
#else
	struct io_uring_buf_reg reg = { 0 };

	x->br_map_len = BR_ENTRIES * sizeof(struct io_uring_buf);
	x->br = mmap(NULL, x->br_map_len, PROT_READ | PROT_WRITE,
		     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (x->br == MAP_FAILED) {
		x->br = NULL;
		return -errno;
	}
	io_uring_buf_ring_init(x->br);
	reg.ring_addr = (unsigned long)x->br;
	reg.ring_entries = BR_ENTRIES;
	reg.bgid = BR_GROUP;
	rc = io_uring_register_buf_ring(&x->ring, &reg, 0);
	if (rc)
		return rc;
	x->br_registered = true;
#endif
	for (unsigned i = 0; i < BR_ENTRIES; i++)
		io_uring_buf_ring_add(x->br,
				      x->br_mem + (size_t)i * BR_BUF_SIZE,
				      BR_BUF_SIZE, (unsigned short)i,
				      io_uring_buf_ring_mask(BR_ENTRIES),
				      (int)i);
	io_uring_buf_ring_advance(x->br, BR_ENTRIES);
	return 0;
}

/*
 * Ring flags.  We sleep in io_uring_enter or on the ring fd (poll/epoll)
 * and reap CQEs in user space.  No COOP_TASKRUN: without it the kernel
 * runs a completion's task work at once, interrupting the task if it
 * runs in user space, so a thread that busy-polls the CQ (uring_spin,
 * the client loop's spin for a reply) sees the CQE without entering the
 * kernel.  With it (tried: it was the default until 2026-12) every reply
 * a spin waited for cost an io_uring_enter(GETEVENTS) more, and the
 * server could not spin at all.  DEFER_TASKRUN (with SINGLE_ISSUER)
 * would make every completion wait for an enter, and SINGLE_ISSUER binds
 * the ring to the thread that created it (-EEXIST elsewhere) while
 * callers may open a context on one thread and drive it from another; so
 * we use neither.  Older kernels get the plain ring.
 */
/*
 * The sleep's spin (uring_spin): params.spin_us, else RINGFS_URING_SPIN_US,
 * else 50 us; only while at most one context per two CPUs of this
 * process is awake (the other CPUs are the application's and the
 * peer's to run on).
 */
_Atomic unsigned rfs_uring_awake;

static void spin_init(struct uctx *x, const struct rfs_xprt_params *p)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	long spin = p->spin_us >= 0 ? p->spin_us :
				      rfs_spin_env_us("RINGFS_URING_SPIN_US",
						      SPIN_US_DEFAULT);

	x->spin_ns = spin * 1000LL;
	x->spin_max = ncpu >= 4 ? (unsigned)(ncpu / 2) : 1;
	x->counted = true;
	atomic_fetch_add(&rfs_uring_awake, 1);
}

static int ring_init(struct uctx *x, const struct rfs_xprt_params *p)
{
	static const unsigned tries[] = {
		IORING_SETUP_SUBMIT_ALL,
		0,
	};
	struct io_uring_params up;
	int rc = -EINVAL;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		memset(&up, 0, sizeof(up));
		up.flags = IORING_SETUP_CQSIZE | tries[i];
		up.cq_entries = CQ_ENTRIES;
		if (p->sqpoll) {
			/* the SQ thread runs task work itself */
			up.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SQPOLL;
			up.sq_thread_idle = 100;
		}
		rc = io_uring_queue_init_params(SQ_ENTRIES, &x->ring, &up);
		if (rc != -EINVAL || p->sqpoll)
			break;
	}
	if (rc)
		return rc;
	x->setup_flags = up.flags;
	x->sqpoll = p->sqpoll;
	spin_init(x, p);
	x->ring_ok = true;
	return 0;
}

static bool zc_supported(struct uctx *x)
{
	struct io_uring_probe *pr = io_uring_get_probe_ring(&x->ring);
	bool ok;

	if (!pr)
		return false;
	ok = io_uring_opcode_supported(pr, IORING_OP_SEND_ZC);
	io_uring_free_probe(pr);
	return ok;
}

int rfs_uring_init(const struct rfs_xprt_params *p, struct rfs_xprt **out)
{
	struct uctx *x;
	int rc;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->base.ops = &rfs_xprt_uring_ops;
	x->base.params = *p;
	pool_setup(x, p->max_msg);
	if (p->prealloc) {
		rc = rfs_pool_prefill(&x->pool, RFS_POOL_PREFILL_BUDGET);
		if (rc) {
			rfs_err("xprt: uring: preallocating buffers: %s",
				strerror(-rc));
			goto fail;
		}
	}
	rc = ring_init(x, p);
	if (rc) {
		rfs_err("xprt: uring: io_uring_queue_init%s: %s",
			p->sqpoll ? " (sqpoll)" : "", strerror(-rc));
		goto fail;
	}
	rc = setup_buf_ring(x);
	if (rc) {
		rfs_err("xprt: uring: provided buffer ring: %s "
			"(kernel >= 5.19 needed)",
			strerror(-rc));
		goto fail;
	}
#if HAVE_IO_URING_PREP_SEND_ZC
	x->zc = p->zc_send && zc_supported(x);
	x->zc_report = x->zc;
#else
	x->zc = false;
#endif
	rfs_dbg(RFS_SUB_XPRT, "xprt: uring: ring flags %#x, zero copy %s",
		x->setup_flags, x->zc ? "on" : "off");
	*out = (struct rfs_xprt *)(void *)x;
	return 0;
fail:
	rfs_uring_fini((struct rfs_xprt *)(void *)x);
	return rc;
}

static bool all_down(const struct uctx *x)
{
	for (const struct uconn *c = x->conns; c; c = c->next)
		if (c->state != UC_DOWN)
			return false;
	return true;
}

/* Cancel everything, wait for the kernel to let go, free. */
static void drain(struct uctx *x)
{
	long long deadline = rfs_now_ms() + FINI_TIMEOUT_MS;
	struct rfs_xev e;

	for (struct uconn *c = x->conns; c; c = c->next)
		rfs_uring_conn_fail(c, -ECANCELED);
	for (;;) {
		struct __kernel_timespec ts = { .tv_nsec = 100000000 };
		struct io_uring_cqe *cqe;

		rfs_uring_submit(x);
		while (rfs_uring_reap(x))
			;
		/* nobody will poll these any more */
		while (rfs_evq_pop(&x->evq, &e)) {
			if (e.buf) {
				x->st.bufs_out--;
				pool_put(x, UB(e.buf));
			}
		}
		if (all_down(x))
			break;
		if (rfs_now_ms() > deadline) {
			rfs_err("xprt: uring: close: operations still in the "
				"kernel after %d ms; leaking their memory",
				FINI_TIMEOUT_MS);
			return;
		}
		x->st.syscalls++;
		io_uring_wait_cqe_timeout(&x->ring, &cqe, &ts);
	}
	while (x->conns)
		rfs_uring_conn_unlink_free(x, x->conns);
}

void rfs_uring_fini(struct rfs_xprt *xp)
{
	struct uctx *x = UX(xp);

	if (!x)
		return;
	if (x->counted)
		atomic_fetch_sub(&rfs_uring_awake, 1);
	if (x->ring_ok) {
		drain(x);
		if (x->conns) /* timed out: the kernel may still write */
			return;
		io_uring_queue_exit(&x->ring);
	}
	if (x->br && !HAVE_IO_URING_SETUP_BUF_RING)
		munmap(x->br, x->br_map_len);
	free(x->br_mem);
	rfs_pool_destroy(&x->pool);
	rfs_evq_free(&x->evq);
	free(x);
}
