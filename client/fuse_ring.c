// SPDX-License-Identifier: MIT
/*
 * fuse_ring: FUSE over io_uring (Linux >= 6.14, fuse module parameter
 * enable_uring=Y).  The kernel hands requests to ring entries we register
 * with IORING_OP_URING_CMD on /dev/fuse and takes each reply back with
 * the command that also fetches the entry's next request
 * (COMMIT_AND_FETCH), so one io_uring_enter commits every reply a loop
 * turn produced and waits for whatever comes next: a FUSE request, the
 * transport, or the rare /dev/fuse traffic (FORGET, INTERRUPT).
 *
 * How it fits libfuse 3.14, which knows nothing of the ring:
 * - INIT still travels over /dev/fuse.  The custom I/O sees the kernel's
 *   INIT (does it offer FUSE_OVER_IO_URING?) and patches libfuse's INIT
 *   reply to accept it (FUSE_INIT_EXT + flags2 bit), once every loop has
 *   its ring and the entries' memory is in place.  Entries are registered
 *   after the reply (earlier REGISTERs get EAGAIN).
 * - A ring request is given to libfuse as if it had been read from
 *   /dev/fuse: the kernel puts fuse_in_header and the opcode's fixed
 *   argument in the entry's header area and the rest (names, write data)
 *   in the payload buffer; a /dev/fuse request is exactly header, fixed
 *   argument, rest.  Each payload buffer has a page of room in front of
 *   it, so copying the header and the fixed argument (<= 168 bytes) there
 *   makes the /dev/fuse layout without copying the payload.  The fixed
 *   argument's size is in_header.len - 40 - payload_sz.
 * - libfuse's reply (fuse_out_header, then the out arguments) reaches the
 *   custom writev: when its unique is a ring request of this loop, the
 *   arguments are copied into the entry's payload buffer and a
 *   COMMIT_AND_FETCH is queued; it goes out with the loop's next
 *   io_uring_enter.  Anything else (INIT, notifications, requests that
 *   came over /dev/fuse) is written to /dev/fuse as before.
 *
 * Queues: one per possible CPU; the kernel puts a request on the queue of
 * the CPU the calling application runs on and never moves it, and uses
 * the ring only once every queue has an entry.  Loop i serves the queues
 * q with q % nloops == i, FR_DEPTH entries each, and runs on their CPUs
 * (fr_pin).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "loop_i.h"

#if HAVE_URING
#include <liburing.h>

#include "fuse_uring_kernel.h"

/* entries per queue: requests one CPU's applications can have in flight */
#define FR_DEPTH 32
/* room in front of each payload buffer for the /dev/fuse layout */
#define FR_PRE 4096u
/*
 * CQE tags that are not entries (entries are 8-byte aligned pointers):
 * the low two bits say which poll, the rest the transport poll's
 * generation, so a cancelled poll of a closed transport is told apart
 * from the one armed on its successor.
 */
#define FR_TAG_XPRT 1u
#define FR_TAG_EP 2u
#define FR_TAG_KIND 3u
#define FR_MAX_QUEUES 1024

struct fr_ent {
	struct fuse_uring_req_header hdr; /* iov[0] */
	uint8_t *pay;			  /* iov[1] */
	struct iovec iov[2];
	/*
	 * The request libfuse is working on (0: none), and the last one
	 * answered: read by other loops looking for an INTERRUPT's target
	 * (fr_where), written by this entry's loop only.
	 */
	_Atomic uint64_t unique;
	_Atomic uint64_t done;
	uint16_t qid;
	unsigned busy_idx; /* its place in the loop's busy list */
	bool dead;	   /* the kernel refused it */
};

struct cl_fring {
	struct io_uring ring;
	int fuse_fd; /* the loop's /dev/fuse fd (any clone will do) */
	bool ring_ok;
	struct fr_ent *ents;
	unsigned nents;
	/*
	 * Entries libfuse is working on: a reply finds its entry among
	 * these (as many as requests in flight, not every entry).
	 */
	struct fr_ent **busy;
	unsigned nbusy;
	bool registered;
	bool xprt_armed;
	bool xprt_fired;    /* its poll completed: the transport has news */
	int xprt_fd;	    /* the transport wait fd the armed poll watches */
	uintptr_t xprt_gen; /* generation of the armed transport poll */
	bool ep_armed;
	uint64_t nreq; /* requests served through the ring */
};

enum fr_state {
	FR_OFF,	    /* not offered, not wanted, or failed: /dev/fuse only */
	FR_WANTED,  /* rings created; waiting for the kernel's INIT */
	FR_OFFERED, /* the kernel offered it in INIT */
	FR_READY,   /* our INIT reply accepted it: register entries */
};

static struct cl_fring fr_loops[CL_MAX_LOOPS];
static unsigned fr_nloops;
static _Atomic int fr_state = FR_OFF;
static uint64_t fr_init_unique;
static unsigned fr_nq;
static size_t fr_pay_cap;
static uint8_t *fr_mem;
static size_t fr_mem_len;
static const char *fr_why = "not tried";

static void fr_hook_init(void);
static void fr_unpark(uint64_t target);
static _Atomic unsigned fr_nparked;

/*
 * One queue per possible CPU: the highest CPU number in the whole list
 * ("0-3,8-11") plus one.  0 when it cannot be known: the ring is then
 * not negotiated, because a queue without entries would hold every
 * request forever.
 */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	char buf[4096], *p, *end;
	unsigned long hi = 0, v;
	bool any = false;

	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p)
		return 0;
	while (*p && *p != '\n') {
		errno = 0;
		v = strtoul(p, &end, 10);
		if (end == p || errno)
			return 0;
		if (v > hi)
			hi = v;
		any = true;
		p = end;
		if (*p == '-' || *p == ',')
			p++;
	}
	if (!any || hi + 1 > FR_MAX_QUEUES)
		return 0;
	return (unsigned)hi + 1;
}

int rfs_fr_prepare(unsigned nloops)
{
	struct io_uring_params p;
	int ret;

	atomic_store(&fr_state, FR_OFF);
	if (rfs_cl->o.fuse_ring == CL_FRING_OFF) {
		fr_why = "off (-o fuse_ring=off)";
		return 0;
	}
	fr_nloops = nloops;
	fr_hook_init();
	for (unsigned i = 0; i < nloops; i++) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQE128;
		/* entries, commits, two polls; the CQ gets twice that */
		ret = io_uring_queue_init_params(256, &fr_loops[i].ring, &p);
		if (ret < 0) {
			rfs_info("client: FUSE over io_uring not used: "
				 "io_uring with 128-byte SQEs: %s; requests "
				 "go through /dev/fuse",
				 strerror(-ret));
			fr_why = "io_uring with SQE128 refused";
			rfs_fr_fini();
			return 0;
		}
		fr_loops[i].ring_ok = true;
	}
	fr_nq = possible_cpus();
	if (!fr_nq) {
		rfs_info("client: FUSE over io_uring not used: the number of "
			 "possible CPUs (/sys/devices/system/cpu/possible) is "
			 "unknown or over %d; requests go through /dev/fuse",
			 FR_MAX_QUEUES);
		fr_why = "possible CPUs unknown";
		rfs_fr_fini();
		return 0;
	}
	atomic_store(&fr_state, FR_WANTED);
	return 0;
}

void rfs_fr_fini(void)
{
	for (unsigned i = 0; i < CL_MAX_LOOPS; i++) {
		if (fr_loops[i].ring_ok)
			io_uring_queue_exit(&fr_loops[i].ring);
		free(fr_loops[i].ents);
		free(fr_loops[i].busy);
		memset(&fr_loops[i], 0, sizeof(fr_loops[i]));
	}
	if (fr_mem)
		munmap(fr_mem, fr_mem_len);
	fr_mem = NULL;
	atomic_store(&fr_state, FR_OFF);
}

struct cl_fring *rfs_fr_of(unsigned idx)
{
	if (atomic_load(&fr_state) == FR_OFF || idx >= fr_nloops ||
	    !fr_loops[idx].ring_ok)
		return NULL;
	return &fr_loops[idx];
}

const char *rfs_fr_status(void)
{
	switch (atomic_load(&fr_state)) {
	case FR_READY:
		return "io_uring";
	case FR_WANTED:
	case FR_OFFERED:
		return "negotiating";
	default:
		return "/dev/fuse";
	}
}

/* ---- INIT, seen through the custom I/O --------------------------------- */

void rfs_fr_saw_read(const void *buf, ssize_t n)
{
	const struct fuse_in_header *ih = buf;
	const struct fuse_init_in *in = (const void *)(ih + 1);

	if (n < (ssize_t)sizeof(*ih) || ih->opcode != FUSE_INIT ||
	    atomic_load(&fr_state) != FR_WANTED)
		return;
	/* an INIT without flags2 (protocol < 7.36) cannot offer it */
	if (n < (ssize_t)(sizeof(*ih) + sizeof(*in)) ||
	    !(in->flags & FUSE_INIT_EXT) ||
	    !(in->flags2 & RINGFS_FUSE_OVER_IO_URING_FLAGS2)) {
		fr_why = "the kernel does not offer it (Linux >= 6.14 with "
			 "/sys/module/fuse/parameters/enable_uring=Y)";
		rfs_info("client: FUSE over io_uring not offered by the kernel "
			 "(needs Linux >= 6.14 and "
			 "/sys/module/fuse/parameters/enable_uring=Y); "
			 "requests go through /dev/fuse");
		atomic_store(&fr_state, FR_OFF);
		rfs_cl_status_update();
		return;
	}
	fr_init_unique = ih->unique;
	atomic_store(&fr_state, FR_OFFERED);
}

/* Map every entry's payload buffer (and its room in front) at once. */
static int fr_alloc(uint32_t max_write, uint32_t max_pages)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;
	size_t pay = max_write, per;
	unsigned total = 0;

	/* the kernel's rule: max(8192, max_write, max_pages * page size) */
	if (pay < 8192)
		pay = 8192;
	if ((size_t)max_pages * page > pay)
		pay = (size_t)max_pages * page;
	pay = (pay + page - 1) & ~(page - 1);
	per = FR_PRE + pay;
	for (unsigned i = 0; i < fr_nloops; i++) {
		unsigned nq = 0;

		for (unsigned q = i; q < fr_nq; q += fr_nloops)
			nq++;
		fr_loops[i].nents = nq * FR_DEPTH;
		total += fr_loops[i].nents;
	}
	/*
	 * Untouched pages cost nothing: a 4 KiB read touches one page of
	 * its entry's buffer.
	 */
	fr_mem_len = per * total;
	fr_mem = mmap(NULL, fr_mem_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fr_mem == MAP_FAILED) {
		fr_mem = NULL;
		return -errno;
	}
	fr_pay_cap = pay;
	total = 0;
	for (unsigned i = 0; i < fr_nloops; i++) {
		struct cl_fring *fr = &fr_loops[i];
		unsigned k = 0;

		fr->ents = calloc(fr->nents, sizeof(*fr->ents));
		fr->busy = calloc(fr->nents, sizeof(*fr->busy));
		if (!fr->ents || !fr->busy)
			return -ENOMEM;
		for (unsigned q = i; q < fr_nq; q += fr_nloops) {
			for (unsigned d = 0; d < FR_DEPTH; d++, k++, total++) {
				struct fr_ent *e = &fr->ents[k];

				e->pay = fr_mem + (size_t)total * per + FR_PRE;
				e->qid = (uint16_t)q;
				e->iov[0] = (struct iovec){ &e->hdr,
							    sizeof(e->hdr) };
				e->iov[1] = (struct iovec){ e->pay, pay };
			}
		}
	}
	return 0;
}

/*
 * libfuse's INIT reply: accept the ring if the kernel offered it and the
 * memory is there.  iov[1] is libfuse's fuse_init_out; it is patched in
 * a copy so libfuse's own buffer is untouched.
 */
static struct fuse_init_out fr_init_out;

bool rfs_fr_patch_init(struct iovec *iov, int cnt)
{
	const struct fuse_out_header *oh = iov[0].iov_base;
	int ret;

	if (atomic_load(&fr_state) != FR_OFFERED || cnt < 2 ||
	    iov[0].iov_len < sizeof(*oh) || oh->unique != fr_init_unique)
		return false;
	if (oh->error || iov[1].iov_len < sizeof(fr_init_out)) {
		atomic_store(&fr_state, FR_OFF);
		rfs_cl_status_update();
		return false;
	}
	memcpy(&fr_init_out, iov[1].iov_base, sizeof(fr_init_out));
	ret = fr_alloc(fr_init_out.max_write, fr_init_out.max_pages);
	if (ret < 0) {
		rfs_err("client: FUSE over io_uring: ring entry memory: %s; "
			"requests go through /dev/fuse",
			strerror(-ret));
		fr_why = "no memory for the ring entries";
		atomic_store(&fr_state, FR_OFF);
		rfs_cl_status_update();
		return false;
	}
	fr_init_out.flags |= FUSE_INIT_EXT;
	fr_init_out.flags2 |= RINGFS_FUSE_OVER_IO_URING_FLAGS2;
	iov[1].iov_base = &fr_init_out;
	return true;
}

void rfs_fr_init_written(bool ok)
{
	if (!ok) {
		atomic_store(&fr_state, FR_OFF);
		rfs_cl_status_update();
		return;
	}
	atomic_store(&fr_state, FR_READY);
	rfs_cl_status_update();
	fr_why = "on";
	rfs_info("client: FUSE over io_uring: %u queues, %u entries each, "
		 "%zu KiB buffers",
		 fr_nq, FR_DEPTH, fr_pay_cap >> 10);
	/* every loop registers its queues' entries on its next turn */
	for (unsigned i = 0; i < rfs_cl->nloops; i++) {
		struct cl_loop *l = rfs_cl->loops[i];
		uint64_t one = 1;
		int fd = l ? __atomic_load_n(&l->wake_fd, __ATOMIC_SEQ_CST) :
			     -1;

		if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
			rfs_err_rl("client: waking loop %u: %s", i,
				   strerror(errno));
	}
}

/* ---- the loop's side ----------------------------------------------------- */

static struct io_uring_sqe *fr_sqe(struct cl_fring *fr)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&fr->ring);

	if (!sqe) {
		/* full: push what is queued (cannot fail for lack of room) */
		io_uring_submit(&fr->ring);
		sqe = io_uring_get_sqe(&fr->ring);
	}
	return sqe;
}

static int fr_cmd(struct cl_fring *fr, struct fr_ent *e, uint32_t op,
		  uint64_t commit_id)
{
	struct io_uring_sqe *sqe = fr_sqe(fr);
	struct fuse_uring_cmd_req req = { .commit_id = commit_id,
					  .qid = e->qid };

	if (!sqe)
		return -EBUSY;
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fr->fuse_fd, e->iov, 2, 0);
	sqe->cmd_op = op;
	/* liburing 2.3 clears only 16 of the command area's 80 bytes */
	memset(sqe->cmd, 0, 80);
	memcpy(sqe->cmd, &req, sizeof(req));
	io_uring_sqe_set_data(sqe, e);
	return 0;
}

/*
 * The loop's thread on the CPUs of its queues (q % nloops == idx), as
 * libfuse's ring threads are: the kernel puts a request on the queue of
 * the CPU its caller runs on, and that caller now waits for it, so the
 * loop runs where the CPU is free and does not preempt ringfsd's thread
 * (or the application) on the other.  Within the CPUs we may use (a
 * cpuset or taskset keeps its say); RINGFS_NO_PIN=1 leaves it unpinned.
 */
static void fr_pin(const struct cl_loop *l)
{
	const char *off = getenv("RINGFS_NO_PIN");
	cpu_set_t allowed, want;
	unsigned n = 0;
	int rc;

	if (off && *off && strcmp(off, "0"))
		return;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0) {
		rfs_warn("client: loop %u: sched_getaffinity: %s: not pinned",
			 l->idx, strerror(errno));
		return;
	}
	CPU_ZERO(&want);
	for (unsigned q = l->idx; q < fr_nq && q < CPU_SETSIZE; q += fr_nloops)
		if (CPU_ISSET(q, &allowed)) {
			CPU_SET(q, &want);
			n++;
		}
	if (!n || CPU_EQUAL(&want, &allowed))
		return;
	rc = sched_setaffinity(0, sizeof(want), &want);
	if (rc < 0)
		rfs_warn("client: loop %u: sched_setaffinity: %s: not pinned",
			 l->idx, strerror(errno));
	else
		rfs_dbg(RFS_SUB_CLIENT, "client: loop %u: pinned to %u CPU(s)",
			l->idx, n);
}

/* Register this loop's entries once the INIT reply accepted the ring. */
static void fr_register(struct cl_loop *l, struct cl_fring *fr)
{
	fr_pin(l);
	fr->registered = true;
	fr->fuse_fd = l->fuse_fd;
	/*
	 * From now on the ring polls the transport's wait fd itself; in the
	 * epoll set it would wake the ring's epoll poll for every reply.
	 */
	if (l->x &&
	    epoll_ctl(l->ep, EPOLL_CTL_DEL, rfs_xprt_wait_fd(l->x), NULL) < 0)
		rfs_err("client: loop %u: epoll_ctl DEL transport fd: %s",
			l->idx, strerror(errno));
	for (unsigned i = 0; i < fr->nents; i++)
		if (fr_cmd(fr, &fr->ents[i], FUSE_IO_URING_CMD_REGISTER, 0) < 0)
			rfs_err("client: loop %u: no SQE to register FUSE ring "
				"entry %u",
				l->idx, i);
	io_uring_submit(&fr->ring);
}

bool rfs_fr_active(const struct cl_loop *l)
{
	return l->fr && atomic_load(&fr_state) == FR_READY;
}

static struct fr_ent *fr_find(struct cl_fring *fr, uint64_t unique)
{
	for (unsigned i = 0; i < fr->nbusy; i++)
		if (atomic_load_explicit(&fr->busy[i]->unique,
					 memory_order_relaxed) == unique)
			return fr->busy[i];
	return NULL;
}

static void fr_busy_add(struct cl_fring *fr, struct fr_ent *e)
{
	e->busy_idx = fr->nbusy;
	fr->busy[fr->nbusy++] = e;
}

static void fr_busy_del(struct cl_fring *fr, struct fr_ent *e)
{
	struct fr_ent *last = fr->busy[--fr->nbusy];

	fr->busy[e->busy_idx] = last;
	last->busy_idx = e->busy_idx;
}

/* Commit e's reply: header and arguments as libfuse wrote them. */
static void fr_commit(struct cl_fring *fr, struct fr_ent *e,
		      const struct fuse_out_header *oh, const void *args,
		      size_t len)
{
	struct fuse_out_header *o = (void *)e->hdr.in_out;
	uint64_t u = atomic_load_explicit(&e->unique, memory_order_relaxed);

	*o = *oh;
	o->len = (uint32_t)(sizeof(*o) + len);
	if (args && len)
		memcpy(e->pay, args, len);
	e->hdr.ring_ent_in_out.payload_sz = (uint32_t)len;
	fr_busy_del(fr, e);
	/* answered (fr_where): first done, then no longer in progress */
	atomic_store_explicit(&e->done, u, memory_order_relaxed);
	atomic_store_explicit(&e->unique, 0, memory_order_release);
	if (fr_cmd(fr, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, u) < 0)
		rfs_err_rl("client: no SQE to commit FUSE request %llu",
			   (unsigned long long)u);
}

ssize_t rfs_fr_writev(struct cl_loop *l, const struct iovec *iov, int cnt)
{
	const struct fuse_out_header *oh = iov[0].iov_base;
	struct cl_fring *fr = l->fr;
	struct fr_ent *e;
	size_t len = 0, off = 0;

	if (cnt < 1 || iov[0].iov_len < sizeof(*oh) || !oh->unique)
		return -ENOENT;
	e = fr_find(fr, oh->unique);
	if (!e)
		return -ENOENT;
	for (int i = 1; i < cnt; i++)
		len += iov[i].iov_len;
	if (len > fr_pay_cap) {
		struct fuse_out_header eh = { .unique = oh->unique,
					      .error = -EIO };

		rfs_err_rl("client: reply of %zu bytes to FUSE request %llu "
			   "exceeds the ring buffer (%zu)",
			   len, (unsigned long long)oh->unique, fr_pay_cap);
		fr_commit(fr, e, &eh, NULL, 0);
		return (ssize_t)(iov[0].iov_len + len); /* answered: EIO */
	}
	for (int i = 1; i < cnt; i++) {
		memcpy(e->pay + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	fr_commit(fr, e, oh, NULL, len);
	return (ssize_t)(iov[0].iov_len + len);
}

/* ---- test hook: an INTERRUPT that overtakes its request, made certain --- */

static void fr_dispatch(struct cl_loop *l, struct cl_fring *fr,
			struct fr_ent *e);

#if HAVE_TEST_HOOKS
/*
 * RINGFS_TEST_RING_HOLD=SETLKW (builds with -Dtest_hooks=true only; the
 * mount case interrupt, its third round): the first SETLKW that comes through the
 * ring is held, not given to libfuse, until an INTERRUPT came over
 * /dev/fuse and this loop dispatched another request after it: the race
 * of the next section, every time.  A loop serves the held request's
 * queue, so the case mounts with loops=1.
 */
enum {
	HOLD_OFF,
	HOLD_ARMED,
	HOLD_HOLDING,
	HOLD_INTERRUPTED,
	HOLD_DONE
};
static _Atomic int fr_hold = HOLD_OFF;
static struct cl_fring *fr_held_fr;
static struct fr_ent *fr_held;

static void fr_hook_init(void)
{
	const char *v = getenv("RINGFS_TEST_RING_HOLD");

	if (v && !strcmp(v, "SETLKW")) {
		atomic_store(&fr_hold, HOLD_ARMED);
		rfs_warn("client: test hook RINGFS_TEST_RING_HOLD=SETLKW: the "
			 "first SETLKW waits for an INTERRUPT and another "
			 "request");
	}
}

static bool fr_hook_hold(struct cl_fring *fr, struct fr_ent *e)
{
	const struct fuse_in_header *ih = (const void *)e->hdr.in_out;

	if (atomic_load(&fr_hold) != HOLD_ARMED || ih->opcode != FUSE_SETLKW)
		return false;
	fr_held_fr = fr;
	fr_held = e;
	atomic_store(&fr_hold, HOLD_HOLDING);
	rfs_info("client: test hook: holding SETLKW %llu",
		 (unsigned long long)ih->unique);
	return true;
}

static void fr_hook_interrupt(void)
{
	int h = HOLD_HOLDING;

	atomic_compare_exchange_strong(&fr_hold, &h, HOLD_INTERRUPTED);
}

static void fr_hook_dispatched(struct cl_loop *l, struct cl_fring *fr)
{
	const struct fuse_in_header *ih;
	int h = HOLD_INTERRUPTED;

	if (fr != fr_held_fr ||
	    !atomic_compare_exchange_strong(&fr_hold, &h, HOLD_DONE))
		return;
	ih = (const void *)fr_held->hdr.in_out;
	rfs_info("client: test hook: SETLKW %llu dispatched after an "
		 "INTERRUPT and another request",
		 (unsigned long long)ih->unique);
	fr_dispatch(l, fr, fr_held);
}
#else
static void fr_hook_init(void)
{
}

static bool fr_hook_hold(struct cl_fring *fr, struct fr_ent *e)
{
	(void)fr;
	(void)e;
	return false;
}

static void fr_hook_interrupt(void)
{
}

static void fr_hook_dispatched(struct cl_loop *l, struct cl_fring *fr)
{
	(void)l;
	(void)fr;
}
#endif

/* ---- INTERRUPTs that overtake their ring request ---------------------- */

/*
 * The kernel sends a ring request's INTERRUPT over /dev/fuse, and may do
 * so once the request sits in a ring entry, before the loop that owns
 * the entry has reaped it and given it to libfuse.  libfuse would park
 * such an INTERRUPT and answer it EAGAIN ("again, later") as soon as it
 * processes any other request; the kernel looks for the request of an
 * EAGAIN among those read from /dev/fuse, does not find a ring request
 * there, and drops the INTERRUPT: the signal would be lost.  So we park
 * it ourselves and give it to libfuse right after its request.
 */
#define FR_PARK_MAX 32
#define FR_INTR_LEN \
	(sizeof(struct fuse_in_header) + sizeof(struct fuse_interrupt_in))

struct fr_parked {
	uint64_t target;
	uint8_t buf[FR_INTR_LEN];
};

static pthread_mutex_t fr_park_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fr_parked fr_park[FR_PARK_MAX];

/*
 * Where ring request `unique` is: 1 with libfuse (dispatched, not yet
 * answered), -1 in a ring entry not yet dispatched, 0 neither (answered,
 * or a request that came over /dev/fuse).  Looks at every loop's entries:
 * the kernel wrote the request's header before it completed the entry's
 * fetch, and the owning loop sets unique before dispatching and done
 * before it clears unique when it answers.
 */
static int fr_where(uint64_t unique)
{
	for (unsigned i = 0; i < fr_nloops; i++) {
		struct cl_fring *fr = &fr_loops[i];

		for (unsigned k = 0; fr->ents && k < fr->nents; k++) {
			struct fr_ent *e = &fr->ents[k];
			const struct fuse_in_header *ih =
				(const void *)e->hdr.in_out;

			if (atomic_load(&e->unique) == unique)
				return 1;
			if (__atomic_load_n(&ih->unique, __ATOMIC_ACQUIRE) ==
				    unique &&
			    atomic_load(&e->done) != unique &&
			    atomic_load(&e->unique) != unique)
				return -1;
		}
	}
	return 0;
}

/* Give the INTERRUPT parked for target (if any) to libfuse. */
static void fr_unpark(uint64_t target)
{
	struct fr_parked p;
	bool got = false;

	pthread_mutex_lock(&fr_park_mu);
	for (unsigned i = 0; i < atomic_load(&fr_nparked); i++) {
		if (fr_park[i].target != target)
			continue;
		p = fr_park[i];
		fr_park[i] = fr_park[atomic_load(&fr_nparked) - 1];
		atomic_fetch_sub(&fr_nparked, 1);
		got = true;
		break;
	}
	pthread_mutex_unlock(&fr_park_mu);
	if (got) {
		struct fuse_buf fb = { .mem = p.buf, .size = sizeof(p.buf) };

		rfs_dbg(RFS_SUB_CLIENT,
			"client: INTERRUPT of FUSE request %llu given to "
			"libfuse after the request",
			(unsigned long long)target);
		fuse_session_process_buf(rfs_cl->se, &fb);
	}
}

bool rfs_fr_take_interrupt(const struct fuse_buf *b)
{
	const struct fuse_in_header *ih = b->mem;
	const struct fuse_interrupt_in *in;
	uint64_t target;
	bool parked = false;

	if (atomic_load(&fr_state) != FR_READY || (b->flags & FUSE_BUF_IS_FD) ||
	    b->size < FR_INTR_LEN || ih->opcode != FUSE_INTERRUPT)
		return false;
	in = (const void *)(ih + 1);
	target = in->unique;
	fr_hook_interrupt();
	if (fr_where(target) >= 0)
		return false; /* libfuse finds it, or it is not ours */
	pthread_mutex_lock(&fr_park_mu);
	if (atomic_load(&fr_nparked) < FR_PARK_MAX) {
		struct fr_parked *p = &fr_park[atomic_load(&fr_nparked)];

		p->target = target;
		memcpy(p->buf, b->mem, FR_INTR_LEN);
		atomic_fetch_add(&fr_nparked, 1);
		parked = true;
	}
	pthread_mutex_unlock(&fr_park_mu);
	if (!parked)
		return false;
	rfs_dbg(RFS_SUB_CLIENT,
		"client: INTERRUPT of FUSE request %llu before the request: "
		"parked",
		(unsigned long long)target);
	/*
	 * Its loop may have dispatched it, and looked for it here, between
	 * fr_where and the park: look again (fr_unpark takes it once).
	 */
	if (fr_where(target) != -1)
		fr_unpark(target);
	return true;
}

/* A request arrived in e: give it to libfuse in /dev/fuse layout. */
static void fr_dispatch(struct cl_loop *l, struct cl_fring *fr,
			struct fr_ent *e)
{
	const struct fuse_in_header *ih = (const void *)e->hdr.in_out;
	uint32_t psz = e->hdr.ring_ent_in_out.payload_sz;
	struct fuse_buf fb = { 0 };
	uint64_t unique;
	size_t arg0;
	uint8_t *start;

	if (fr_hook_hold(fr, e))
		return;
	atomic_store(&e->unique, ih->unique); /* before fr_nparked is read */
	fr_busy_add(fr, e);
	if (ih->len < sizeof(*ih) + (size_t)psz || psz > fr_pay_cap ||
	    ih->len - sizeof(*ih) - psz > FUSE_URING_OP_IN_OUT_SZ) {
		struct fuse_out_header eh = { .unique = ih->unique,
					      .error = -EIO };

		rfs_err_rl("client: loop %u: FUSE ring request %llu: length "
			   "%u with payload %u does not add up",
			   l->idx, (unsigned long long)ih->unique, ih->len,
			   psz);
		fr_commit(fr, e, &eh, NULL, 0);
		return;
	}
	arg0 = ih->len - sizeof(*ih) - psz;
	start = e->pay - sizeof(*ih) - arg0;
	memcpy(start, ih, sizeof(*ih));
	memcpy(start + sizeof(*ih), e->hdr.op_in, arg0);
	fb.mem = start;
	fb.size = ih->len;
	fr->nreq++;
	unique = ih->unique;
	fuse_session_process_buf(rfs_cl->se, &fb);
	/* an INTERRUPT that came before it (fr_take_interrupt) */
	if (atomic_load(&fr_nparked))
		fr_unpark(unique);
	fr_hook_dispatched(l, fr);
}

bool rfs_fr_xprt_fired(struct cl_loop *l)
{
	bool f = l->fr->xprt_fired;

	l->fr->xprt_fired = false;
	return f;
}

bool rfs_fr_xprt_quiet(const struct cl_loop *l)
{
	const struct cl_fring *fr = l->fr;

	return l->x && fr->xprt_armed && !fr->xprt_fired &&
	       fr->xprt_fd == rfs_xprt_wait_fd(l->x);
}

int rfs_fr_reap(struct cl_loop *l, bool *ep_ready)
{
	struct cl_fring *fr = l->fr;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	int stop = 0, got = 0;

	if (!fr->registered) {
		if (atomic_load(&fr_state) != FR_READY)
			return 0;
		fr_register(l, fr);
	}
	/*
	 * Entries first collected, then dispatched: a dispatch may queue
	 * SQEs (commits, sends), never reap.
	 */
	for (;;) {
		struct fr_ent *batch[64];
		unsigned nb = 0;

		io_uring_for_each_cqe(&fr->ring, head, cqe) {
			uintptr_t tag = (uintptr_t)io_uring_cqe_get_data(cqe);

			if (!tag) {
				/* a poll_remove's own completion */
			} else if ((tag & FR_TAG_KIND) == FR_TAG_XPRT) {
				if (tag >> 2 == fr->xprt_gen) {
					fr->xprt_armed = false;
					fr->xprt_fired = true;
				}
			} else if (tag == FR_TAG_EP) {
				fr->ep_armed = false;
				*ep_ready = true;
			} else if (cqe->res == 0) {
				batch[nb] = (struct fr_ent *)tag;
				if (++nb == 64) {
					n++;
					break;
				}
			} else {
				struct fr_ent *e = (struct fr_ent *)tag;

				e->dead = true;
				/* unmounted: the kernel ends every entry */
				if (cqe->res == -ENOTCONN ||
				    cqe->res == -ENODEV ||
				    cqe->res == -ECANCELED)
					stop = 1;
				else
					rfs_err_rl("client: loop %u: FUSE ring "
						   "entry of queue %u: %s",
						   l->idx, e->qid,
						   strerror(-cqe->res));
			}
			n++;
		}
		io_uring_cq_advance(&fr->ring, n);
		n = 0;
		for (unsigned i = 0; i < nb; i++)
			fr_dispatch(l, fr, batch[i]);
		got += nb;
		if (nb < 64)
			break;
	}
	return stop ? -ENOTCONN : got;
}

static void fr_poll(struct cl_fring *fr, int fd, uintptr_t tag)
{
	struct io_uring_sqe *sqe = fr_sqe(fr);

	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data(sqe, (void *)tag);
}

void rfs_fr_flush(struct cl_loop *l, unsigned min)
{
	unsigned n = io_uring_sq_ready(&l->fr->ring);

	if (n && n >= min)
		io_uring_submit(&l->fr->ring);
}

int rfs_fr_wait(struct cl_loop *l, int timeout_ms)
{
	struct cl_fring *fr = l->fr;
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int ret;

	/*
	 * The transport's wait fd and the epoll set of everything else
	 * (/dev/fuse for FORGET and INTERRUPT, the stop and wake eventfds)
	 * as one-shot polls: level-triggered like epoll, re-armed only
	 * after they fired, and submitted with the commits in one enter.
	 */
	if (l->x &&
	    (!fr->xprt_armed || fr->xprt_fd != rfs_xprt_wait_fd(l->x))) {
		fr->xprt_fd = rfs_xprt_wait_fd(l->x);
		fr->xprt_gen++;
		fr_poll(fr, fr->xprt_fd, fr->xprt_gen << 2 | FR_TAG_XPRT);
		fr->xprt_armed = true;
	}
	if (!fr->ep_armed) {
		fr_poll(fr, l->ep, FR_TAG_EP);
		fr->ep_armed = true;
	}
	if (timeout_ms < 0) {
		ret = io_uring_submit_and_wait(&fr->ring, 1);
	} else {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
		ret = io_uring_submit_and_wait_timeout(&fr->ring, &cqe, 1, &ts,
						       NULL);
	}
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY)
		return ret;
	return 0;
}

int rfs_fr_sleep_prep(struct cl_loop *l)
{
	struct cl_fring *fr = l->fr;

	if (!fr->ep_armed) {
		fr_poll(fr, l->ep, FR_TAG_EP);
		fr->ep_armed = true;
	}
	rfs_fr_flush(l, 1);
	return fr->ring.ring_fd;
}

uint64_t rfs_fr_requests(const struct cl_loop *l)
{
	return l->fr ? l->fr->nreq : 0;
}

void rfs_fr_drop_xprt(struct cl_loop *l)
{
	struct cl_fring *fr = l->fr;
	struct io_uring_sqe *sqe;

	if (!fr->xprt_armed)
		return;
	/* the poll holds the old file open; its CQE is taken as usual */
	sqe = fr_sqe(fr);
	if (sqe) {
		io_uring_prep_poll_remove(sqe, (__u64)(fr->xprt_gen << 2 |
						       FR_TAG_XPRT));
		io_uring_sqe_set_data(sqe, NULL);
		io_uring_submit(&fr->ring);
	}
	fr->xprt_armed = false;
}

const char *rfs_fr_why(void)
{
	return fr_why;
}

#else /* !HAVE_URING */

int rfs_fr_prepare(unsigned nloops)
{
	return 0;
}
void rfs_fr_fini(void)
{
}
struct cl_fring *rfs_fr_of(unsigned idx)
{
	return NULL;
}
const char *rfs_fr_status(void)
{
	return "/dev/fuse";
}
const char *rfs_fr_why(void)
{
	return "built without liburing";
}
void rfs_fr_saw_read(const void *buf, ssize_t n)
{
}
bool rfs_fr_take_interrupt(const struct fuse_buf *b)
{
	return false;
}
bool rfs_fr_patch_init(struct iovec *iov, int cnt)
{
	return false;
}
void rfs_fr_init_written(bool ok)
{
}
bool rfs_fr_active(const struct cl_loop *l)
{
	return false;
}
ssize_t rfs_fr_writev(struct cl_loop *l, const struct iovec *iov, int cnt)
{
	return -ENOENT;
}
int rfs_fr_reap(struct cl_loop *l, bool *ep_ready)
{
	return 0;
}
bool rfs_fr_xprt_fired(struct cl_loop *l)
{
	return true;
}
bool rfs_fr_xprt_quiet(const struct cl_loop *l)
{
	return false;
}
void rfs_fr_flush(struct cl_loop *l, unsigned min)
{
}
int rfs_fr_wait(struct cl_loop *l, int timeout_ms)
{
	return -ENOSYS;
}
int rfs_fr_sleep_prep(struct cl_loop *l)
{
	return -1;
}
uint64_t rfs_fr_requests(const struct cl_loop *l)
{
	return 0;
}
void rfs_fr_drop_xprt(struct cl_loop *l)
{
}
#endif
