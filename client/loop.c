// SPDX-License-Identifier: MIT
/*
 * loop: the client's event loops.
 *
 * Each loop thread owns a transport context with one connection to the
 * server (handshake.c: loop 0 opens the session with HELLO, the others
 * join it with ATTACH) and a /dev/fuse fd cloned from the session's
 * (FUSE_DEV_IOC_CLONE).  libfuse 3.14 has no per-thread channel in its
 * public API, so the session gets a fuse_custom_io whose read/writev use
 * the calling thread's fd: a request is read, sent to the server,
 * answered and replied to on one thread (call.c), so its reply goes to
 * the fd it came from, as the kernel requires for cloned fds.
 *
 * This file: the threads, their setup and teardown, and the loop itself
 * (/dev/fuse, transport events, sleeping in epoll).
 *
 * Reliability (replay.c): every request's frame is kept until its
 * reply.  When the connection drops the loop keeps its
 * pending requests, queues new ones, reconnects with backoff and
 * re-ATTACHes to its session (the server keeps it for a grace period),
 * then resends them all with RFS_HF_REPLAY.  When the server restarted
 * (ATTACH: -EBADSLT) one loop opens a new session with HELLO and re-opens
 * every open file (fhtab.c) before anyone replays.  hard mounts wait; a
 * FUSE interrupt ends a waiting call with EINTR; soft mounts fail
 * requests older than timeo with EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "client_i.h"
#include "log.h"
#include "loop_i.h"
#include "spin.h"

/* busy turns with requests out before the transport is polled anyway */
#define XP_POLL_EVERY 8
#define EV_BATCH 64
#define FUSE_BATCH 32
/* default busy-poll budget with a reply due (the wait policy below) */
#define LOOP_SPIN_US 50

__thread struct cl_loop *rfs_lp_tl_loop;
static __thread int tl_fuse_fd = -1;

/* ---- /dev/fuse I/O through the calling loop's fd ---------------------- */

/* ---- INIT: what libfuse 3.14 leaves out of its reply ------------------- */

/*
 * Killing suid/sgid on write, truncate and chown is the file system's
 * job here: ringfsd runs WRITE, SETATTR(size) and SETATTR(uid/gid) with
 * the caller's credentials, so its kernel clears the bits exactly as a
 * local file system does (a writer without CAP_FSETID kills them).
 * libfuse 3.14 wants FUSE_CAP_HANDLE_KILLPRIV by default but never puts
 * FUSE_HANDLE_KILLPRIV into its INIT reply, so the kernel kept doing it
 * itself, with a SETATTR(mode) sent as the writer before the write: the
 * server refused that (EPERM, the writer does not own the file) and the
 * write failed.  The reply is patched to say what the kernel offered:
 * FUSE_HANDLE_KILLPRIV_V2 (7.33: the kernel then also writes through
 * rather than into its cache when a write must kill the bits), else
 * FUSE_HANDLE_KILLPRIV.  libfuse's own buffer is not touched.
 */
static _Atomic uint64_t init_unique; /* the kernel's INIT (0: none) */
static _Atomic uint32_t init_flags;  /* what it offered */
static _Atomic uint32_t init_flags2; /* and in flags2 (FUSE_INIT_EXT) */
static struct fuse_init_out init_out;

static void init_saw_read(const void *buf, ssize_t n)
{
	const struct fuse_in_header *ih = buf;
	const struct fuse_init_in *in = (const void *)(ih + 1);

	if (n < (ssize_t)(sizeof(*ih) + offsetof(struct fuse_init_in, flags) +
			  sizeof(in->flags)) ||
	    ih->opcode != FUSE_INIT)
		return;
	atomic_store(&init_flags, in->flags);
	if ((in->flags & FUSE_INIT_EXT) &&
	    n >= (ssize_t)(sizeof(*ih) + offsetof(struct fuse_init_in, flags2) +
			   sizeof(in->flags2)))
		atomic_store(&init_flags2, in->flags2);
	atomic_store(&init_unique, ih->unique);
}

static void init_patch(struct iovec *iov, int cnt)
{
	const struct fuse_out_header *oh = iov[0].iov_base;
	uint64_t unique = atomic_load(&init_unique);
	uint32_t offered = atomic_load(&init_flags);
	size_t len;

	if (!unique || cnt < 2 || iov[0].iov_len < sizeof(*oh) ||
	    oh->unique != unique)
		return;
	atomic_store(&init_unique, 0);
	len = iov[1].iov_len;
	if (oh->error || len > sizeof(init_out) ||
	    len < offsetof(struct fuse_init_out, flags) +
			    sizeof(init_out.flags))
		return;
	memcpy(&init_out, iov[1].iov_base, len);
	if (offered & FUSE_HANDLE_KILLPRIV_V2)
		init_out.flags |= FUSE_HANDLE_KILLPRIV_V2;
	else if (offered & FUSE_HANDLE_KILLPRIV)
		init_out.flags |= FUSE_HANDLE_KILLPRIV;
	else
		rfs_warn("client: the kernel does not offer "
			 "FUSE_HANDLE_KILLPRIV: writes, truncates and chowns "
			 "of suid/sgid files by non-owners fail with EPERM");
	if (len == sizeof(init_out)) /* room for max_stack_depth */
		rfs_pt_init(atomic_load(&init_flags2), &init_out);
	iov[1].iov_base = &init_out;
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(tl_fuse_fd >= 0 ? tl_fuse_fd : fd, buf, len);

	if (n > 0) {
		init_saw_read(buf, n);	 /* INIT: what does it offer? */
		rfs_fr_saw_read(buf, n); /* and the ring? */
	}
	return n;
}

/*
 * A reply to a request that came through this loop's FUSE ring is
 * committed on the ring; everything else goes to /dev/fuse.  The INIT
 * reply may accept the ring (fuse_ring.c).
 */
static ssize_t io_writev(int fd, struct iovec *iov, int cnt, void *userdata)
{
	struct cl_loop *l = rfs_lp_tl_loop;
	ssize_t n;
	bool init;

	rfs_pt_patch(iov, cnt); /* an open reply with a backing file? */
	if (l && rfs_fr_active(l)) {
		n = rfs_fr_writev(l, iov, cnt);
		if (n != -ENOENT)
			return n;
	}
	init_patch(iov, cnt);
	init = rfs_fr_patch_init(iov, cnt);
	n = writev(tl_fuse_fd >= 0 ? tl_fuse_fd : fd, iov, cnt);
	if (init)
		rfs_fr_init_written(n >= 0);
	return n;
}

static const struct fuse_custom_io cl_io = {
	.read = io_read,
	.writev = io_writev,
};

/* ---- the loop --------------------------------------------------------- */

int rfs_lp_epoll_add(int ep, int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
		return -errno;
	return 0;
}

static int loop_setup(struct cl_loop *l)
{
	struct rfs_client *cl = rfs_cl;
	int ret, fl;

	ret = rfs_lp_slots_init(l);
	if (ret < 0)
		return ret;
	l->fr = rfs_fr_of(l->idx);
	ret = rfs_lp_connect(l, l->idx != 0);
	if (ret < 0)
		return ret;
	if (l->idx == 0) {
		l->fuse_fd = fuse_session_fd(cl->se);
		l->own_fuse_fd = false;
	} else {
		int sfd = fuse_session_fd(cl->se);
		uint32_t master = (uint32_t)sfd;

		l->fuse_fd =
			cl->dev_fd >= 0 ?
				openat(cl->dev_fd, "fuse", O_RDWR | O_CLOEXEC) :
				open("/dev/fuse", O_RDWR | O_CLOEXEC);
		if (l->fuse_fd < 0) {
			ret = -errno;
			rfs_err("client: loop %u: open /dev/fuse: %s", l->idx,
				strerror(errno));
			return ret;
		}
		l->own_fuse_fd = true;
		if (ioctl(l->fuse_fd, FUSE_DEV_IOC_CLONE, &master) < 0) {
			ret = -errno;
			rfs_err("client: loop %u: FUSE_DEV_IOC_CLONE: %s",
				l->idx, strerror(errno));
			return ret;
		}
	}
	fl = fcntl(l->fuse_fd, F_GETFL);
	if (fl < 0 || fcntl(l->fuse_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		ret = -errno;
		rfs_err("client: loop %u: O_NONBLOCK on /dev/fuse: %s", l->idx,
			strerror(errno));
		return ret;
	}
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		ret = -errno;
		rfs_err("client: loop %u: epoll_create1: %s", l->idx,
			strerror(errno));
		return ret;
	}
	/* seq_cst: fuse_ring.c's INIT writer reads it from another thread */
	__atomic_store_n(&l->wake_fd, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
			 __ATOMIC_SEQ_CST);
	if (l->wake_fd < 0) {
		ret = -errno;
		rfs_err("client: loop %u: eventfd: %s", l->idx,
			strerror(errno));
		return ret;
	}
	/*
	 * Every loop's /dev/fuse clone sleeps on the one FUSE input queue:
	 * EPOLLEXCLUSIVE wakes one loop per request instead of all of them
	 * (each woken loop would pay an epoll_wait and an EAGAIN read).
	 */
	{
		struct epoll_event e = { .events = EPOLLIN | EPOLLEXCLUSIVE,
					 .data.fd = l->fuse_fd };

		ret = epoll_ctl(l->ep, EPOLL_CTL_ADD, l->fuse_fd, &e) < 0 ?
			      -errno :
			      0;
	}
	if (!ret)
		ret = rfs_lp_epoll_add(l->ep, rfs_xprt_wait_fd(l->x));
	if (!ret)
		ret = rfs_lp_epoll_add(l->ep, cl->stop_fd);
	if (!ret)
		ret = rfs_lp_epoll_add(l->ep, l->wake_fd);
	if (ret < 0)
		rfs_err("client: loop %u: epoll_ctl: %s", l->idx,
			strerror(-ret));
	return ret;
}

static void request_stop(void)
{
	uint64_t one = 1;

	fuse_session_exit(rfs_cl->se);
	if (write(rfs_cl->stop_fd, &one, sizeof(one)) < 0)
		rfs_err("client: waking the loops failed: %s", strerror(errno));
}

bool rfs_lp_stop_requested(void)
{
	struct pollfd pfd = { .fd = rfs_cl->stop_fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/*
 * What woke the loop besides the transport and the FUSE ring: /dev/fuse
 * (INIT, FORGET, INTERRUPT, and every request without the ring), the stop
 * and wake eventfds.  timeout_ms 0 when the ring said the set is ready.
 * Returns 1 when the loop must end.
 */
static int loop_epoll(struct cl_loop *l, int timeout_ms, bool *fuse_ready)
{
	struct epoll_event eev[4];
	int n;

	n = epoll_wait(l->ep, eev, 4, timeout_ms);
	if (n > 0)
		rfs_obs_add(l->obs, RFS_OBS_wakeups, 1);
	if (n < 0 && errno != EINTR) {
		rfs_err("client: loop %u: epoll_wait: %s", l->idx,
			strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		uint64_t v;

		if (eev[i].data.fd == l->fuse_fd)
			*fuse_ready = true;
		if (eev[i].data.fd == rfs_cl->stop_fd)
			return 1;
		if (eev[i].data.fd == l->wake_fd &&
		    read(l->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			rfs_err_rl("client: loop %u: eventfd: %s", l->idx,
				   strerror(errno));
	}
	return 0;
}

static void loop_run(struct cl_loop *l)
{
	struct fuse_session *se = rfs_cl->se;
	struct rfs_xev ev[EV_BATCH];
	int64_t idle_since = 0;
	struct rfs_spin spin = { 0 };

	/*
	 * fuse_ready: /dev/fuse may have requests.  Cleared by an EAGAIN
	 * read, set again only when epoll says so: an iteration that only
	 * handled transport events does not pay another EAGAIN read.
	 */
	bool fuse_ready = true;
	/*
	 * xp_due: the transport may have news.  A poll that costs a
	 * syscall (tcp's epoll_wait) is paid only then: on the FUSE ring
	 * the ring's poll of the transport's wait fd says when, so a
	 * turn that only took a FUSE request does not also ask the
	 * socket.  A transport whose poll is free is always polled; with
	 * requests out, at least every XP_POLL_EVERY busy turns anyway.
	 */
	bool xp_due = true;
	unsigned xp_skipped = 0;
	const struct rfs_xprt *xp_last = NULL;

	for (;;) {
		bool progress = false, ring = l->fr != NULL;
		bool ep_ready = false, fold;
		int64_t spin_us;
		int n, ret;

		if (ring) {
			ret = rfs_fr_reap(l, &ep_ready);
			if (ret < 0)
				goto out_stop;
			progress = ret > 0;
			ring = rfs_fr_active(l);
			if (rfs_fr_xprt_fired(l))
				xp_due = true;
			else if (rfs_fr_xprt_quiet(l))
				rfs_xprt_wait_quiet(l->x);
			if (ep_ready) {
				ret = loop_epoll(l, 0, &fuse_ready);
				if (ret > 0)
					return;
				if (ret < 0)
					goto out_stop;
			}
		}
		for (int i = 0; fuse_ready && i < FUSE_BATCH; i++) {
			ret = fuse_session_receive_buf(se, &l->fbuf);
			if (ret == -EAGAIN) {
				fuse_ready = false;
				break;
			}
			if (ret == -EINTR)
				continue;
			if (ret <= 0) {
				if (ret < 0)
					rfs_err("client: loop %u: reading "
						"/dev/fuse: %s",
						l->idx, strerror(-ret));
				goto out_stop;
			}
			if (!rfs_fr_take_interrupt(&l->fbuf))
				fuse_session_process_buf(se, &l->fbuf);
			progress = true;
		}
		if (fuse_session_exited(se))
			goto out_stop;
		if (atomic_load(&l->intr))
			rfs_lp_check_interrupts(l);
		if (l->reconnecting)
			rfs_lp_reconnect_tick(l);
		if (rfs_cl->o.soft && l->inflight)
			rfs_lp_soft_timeouts(l, rfs_now_ms());
		rfs_lp_flush_forgets(l);
		if (l->x != xp_last) {
			xp_last = l->x;
			xp_due = true;
		}
		if (!ring ||
		    (l->x && (rfs_xprt_flags(l->x) & RFS_XPRT_F_POLL_FREE)) ||
		    (l->inflight && ++xp_skipped >= XP_POLL_EVERY))
			xp_due = true;
		n = 0;
		if (l->x && xp_due) {
			n = rfs_xprt_poll(l->x, ev, EV_BATCH);
			/* a full batch: more may be waiting */
			xp_due = n == EV_BATCH;
			xp_skipped = 0;
		}
		if (n > 0) {
			rfs_lp_on_events(l, ev, n);
			progress = true;
			/*
			 * A full batch means load: look at /dev/fuse again
			 * without waiting for epoll, so requests do not queue
			 * behind a stream of replies.
			 */
			if (n == EV_BATCH)
				fuse_ready = true;
		}
		if (!l->x)
			progress = false;
		/*
		 * The wait policy.  A reply is due: poll a little before
		 * sleeping, since a wake-up costs more than a round trip.
		 * Only then, and only on a transport whose poll makes no
		 * syscall: with nothing due the loop sleeps at once and
		 * leaves the CPU to the application and the server (on two
		 * CPUs the three would otherwise starve each other), and
		 * FUSE replies already queued go out before the spin.
		 * RINGFS_SPIN_US=N sets the budget for every transport.
		 *
		 * fold: the loop sleeps in the transport (rfs_xprt_sleep)
		 * while replies are due, watching the FUSE ring, so the
		 * sends a turn queued go out in the syscall that waits for
		 * their replies: one io_uring_enter per turn on each ring.
		 * With one request out it spins instead (when it may): that
		 * reply is near, and the wake-up a sleep costs is dearer
		 * than the submit the spin needs; with more out, the spin
		 * would take the CPU the application and ringfsd need.
		 */
		spin_us = rfs_cl->spin_us;
		if (spin_us < 0)
			spin_us = l->x && (rfs_xprt_flags(l->x) &
					   RFS_XPRT_F_POLL_FREE) ?
					  LOOP_SPIN_US :
					  0;
		fold = ring && l->x &&
		       (rfs_xprt_flags(l->x) & RFS_XPRT_F_SLEEP) &&
		       !(spin_us > 0 && l->inflight <= 1);
		if (progress) {
			if (idle_since) /* the spin found work */
				rfs_obs_add(l->obs, RFS_OBS_spins_found, 1);
			if (!fold)
				rfs_xprt_flush(l->x);
			/*
			 * Ring commits go out with the next wait; under a
			 * steady stream of work, in batches.
			 */
			if (ring)
				rfs_fr_flush(l, 16);
			idle_since = 0;
			continue;
		}
		/* none when the CPU is wanted (spin.h) */
		if (l->inflight && spin_us > 0 && l->conn && !fold &&
		    (idle_since || rfs_spin_begin(&spin, spin_us * 1000))) {
			if (!idle_since)
				idle_since = spin.last;
			if (rfs_spin_more(&spin)) {
				if (ring)
					rfs_fr_flush(l, 1);
				rfs_xprt_flush(l->x);
				continue;
			}
		}
		if (idle_since) /* the spin found nothing */
			rfs_obs_add(l->obs, RFS_OBS_spins_empty, 1);
		idle_since = 0;
		if (fold && l->inflight && l->conn) {
			int fd = rfs_fr_sleep_prep(l);
			unsigned fired;

			rfs_lp_obs_xprt(l, false);
			ret = rfs_xprt_sleep(l->x, rfs_lp_wait_ms(l), &fd, 1,
					     &fired);
			xp_due = true;
			if (ret > 0)
				continue;
			if (ret == 0 || ret == -ETIME) {
				rfs_obs_add(l->obs, RFS_OBS_sleeps, 1);
				if (ret == 0)
					rfs_obs_add(l->obs, RFS_OBS_wakeups, 1);
				continue;
			}
			/* the transport logged it: sleep on the ring instead */
		}
		if (l->x) {
			ret = rfs_xprt_arm(l->x);
			if (ret > 0) {
				xp_due = true;
				continue;
			}
		}
		/* what ringfsctl shows is current whenever we sleep */
		rfs_lp_obs_xprt(l, false);
		rfs_obs_add(l->obs, RFS_OBS_sleeps, 1);
		if (ring) {
			/* commits, polls and the wait: one io_uring_enter */
			ret = rfs_fr_wait(l, rfs_lp_wait_ms(l));
			if (ret >= 0)
				rfs_obs_add(l->obs, RFS_OBS_wakeups, 1);
			if (ret < 0) {
				rfs_err("client: loop %u: waiting on the FUSE "
					"ring: %s",
					l->idx, strerror(-ret));
				goto out_stop;
			}
			continue;
		}
		ret = loop_epoll(l, rfs_lp_wait_ms(l), &fuse_ready);
		if (ret > 0)
			return;
		if (ret < 0)
			goto out_stop;
	}
out_stop:
	request_stop();
}

void rfs_lp_obs_xprt(struct cl_loop *l, bool gone)
{
	struct rfs_xprt_stats xs;

	if (!l->x || !l->obs)
		return;
	rfs_xprt_get_stats(l->x, &xs);
	rfs_obs_xprt(l->obs, &l->obs_base, &xs);
	if (gone)
		rfs_obs_xprt_fold(&l->obs_base, &xs);
}

static void loop_teardown(struct cl_loop *l)
{
	rfs_info("client: loop %u: %llu requests through the FUSE ring "
		 "(FUSE path: %s)",
		 l->idx, (unsigned long long)rfs_fr_requests(l),
		 l->fr ? rfs_fr_status() : "/dev/fuse");
	if (l->slots)
		rfs_lp_fail_all(l, 0, true);
	/* the replies fail_all queued for ring requests must still go out */
	if (l->fr && rfs_fr_active(l))
		rfs_fr_flush(l, 1);
	rfs_lp_disconnect(l);
	if (l->ep >= 0)
		close(l->ep);
	l->ep = -1;
	{
		/* other threads may read it to wake us: unpublish, then close */
		int fd = __atomic_exchange_n(&l->wake_fd, -1, __ATOMIC_SEQ_CST);

		if (fd >= 0)
			close(fd);
	}
	if (l->own_fuse_fd && l->fuse_fd >= 0)
		close(l->fuse_fd);
	l->fuse_fd = -1;
	free(l->fbuf.mem);
	l->fbuf.mem = NULL;
	rfs_lp_slots_free(l);
}

static void report(struct rfs_client *cl, int err)
{
	pthread_mutex_lock(&cl->mu);
	if (err && !cl->setup_err)
		cl->setup_err = err;
	cl->ready++;
	pthread_cond_broadcast(&cl->cv);
	pthread_mutex_unlock(&cl->mu);
}

static void *loop_main(void *arg)
{
	struct cl_loop *l = arg;
	int ret;

	rfs_lp_tl_loop = l;
	ret = loop_setup(l);
	tl_fuse_fd = l->fuse_fd;
	report(rfs_cl, ret);
	if (ret == 0)
		loop_run(l);
	/* teardown's replies (fail_all) still go to this loop's fd */
	loop_teardown(l);
	tl_fuse_fd = -1;
	rfs_lp_tl_loop = NULL;
	return NULL;
}

static int start_one(struct rfs_client *cl, unsigned idx)
{
	struct cl_loop *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	l->idx = idx;
	l->fuse_fd = -1;
	l->ep = -1;
	l->wake_fd = -1;
	l->obs = rfs_obs_slot_get(cl->obs, cl->o.transport);
	cl->loops[idx] = l;
	cl->nloops = idx + 1;
	ret = pthread_create(&l->th, NULL, loop_main, l);
	if (ret) {
		rfs_err("client: starting loop %u: %s", idx, strerror(ret));
		return -ret;
	}
	l->started = true;
	return 0;
}

static int wait_ready(struct rfs_client *cl, unsigned n)
{
	int err;

	pthread_mutex_lock(&cl->mu);
	while (cl->ready < n)
		pthread_cond_wait(&cl->cv, &cl->mu);
	err = cl->setup_err;
	pthread_mutex_unlock(&cl->mu);
	return err;
}

int rfs_loops_start(struct rfs_client *cl)
{
	int ret;

	pthread_mutex_init(&cl->mu, NULL);
	pthread_cond_init(&cl->cv, NULL);
	cl->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cl->stop_fd < 0) {
		ret = -errno;
		rfs_err("client: eventfd: %s", strerror(errno));
		return ret;
	}
	ret = fuse_session_custom_io(cl->se, &cl_io, fuse_session_fd(cl->se));
	if (ret < 0) {
		rfs_err("client: fuse_session_custom_io: %s", strerror(-ret));
		return ret;
	}
	/* FUSE over io_uring: a ring per loop before any INIT is read */
	ret = rfs_fr_prepare(cl->o.loops);
	if (ret < 0)
		return ret;
	/* loop 0 opens the session; the others attach to it */
	ret = start_one(cl, 0);
	if (!ret)
		ret = wait_ready(cl, 1);
	for (unsigned i = 1; !ret && i < cl->o.loops; i++)
		ret = start_one(cl, i);
	if (!ret)
		ret = wait_ready(cl, cl->nloops);
	if (ret < 0)
		request_stop();
	return ret;
}

void rfs_loops_stop(void)
{
	request_stop();
}

bool rfs_loops_stopping(void)
{
	return rfs_lp_stop_requested();
}

void rfs_loops_join(struct rfs_client *cl)
{
	for (unsigned i = 0; i < cl->nloops; i++) {
		struct cl_loop *l = cl->loops[i];

		if (!l)
			continue;
		if (l->started)
			pthread_join(l->th, NULL);
		rfs_obs_slot_put(cl->obs, l->obs);
		free(l);
		cl->loops[i] = NULL;
	}
	cl->nloops = 0;
	rfs_fr_fini();
}
