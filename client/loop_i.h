/* SPDX-License-Identifier: MIT */
/*
 * loop_i: what the files of a client loop share: loop.c (threads, the
 * event loop), call.c (requests and replies), handshake.c (connect,
 * HELLO/ATTACH), replay.c (reconnect, replay, restart recovery) and
 * locks.c (locks re-taken after a restart).  Private to those five.
 */
#ifndef RFS_CLIENT_LOOP_I_H
#define RFS_CLIENT_LOOP_I_H

#include "client_i.h"
#include "obs.h"
#include "spin.h"

struct cl_loop {
	unsigned idx;
	pthread_t th;
	bool started;
	struct rfs_xprt *x;
	struct rfs_conn *conn; /* NULL once lost */
	int fuse_fd;
	bool own_fuse_fd;
	struct cl_fring *fr; /* FUSE over io_uring (fuse_ring.c), or NULL */
	int ep;
	struct fuse_buf fbuf;
	struct cl_pend *slots;
	int32_t free_head;
	uint64_t gen;
	uint32_t inflight;
	struct rfs_forget_one forgets[RFS_FORGET_MAX];
	uint32_t nforget;
	/* reconnect state */
	int wake_fd;	   /* eventfd: FUSE interrupts from any thread */
	atomic_bool intr;  /* an interrupt is waiting to be looked at */
	bool reconnecting; /* conn lost, not given up */
	int64_t lost_at_ms;
	int64_t next_try_ms;
	int backoff_ms;
	unsigned attempts;
	uint64_t sess_gen; /* the session generation attached to */
	int64_t last_soft_check;
	/* counters (common/obs.h): this loop's slot, written only here */
	struct rfs_obs_slot *obs;
	struct rfs_obs_xbase obs_base; /* closed transports' counts */
};

/*
 * Each name below has one owner; the files call each other only through
 * these.
 */

/* ---- loop.c: threads, setup, the loop --------------------------------- */

extern __thread struct cl_loop *rfs_lp_tl_loop; /* this thread's loop */
bool rfs_lp_stop_requested(void);
int rfs_lp_epoll_add(int ep, int fd);

/* ---- fuse_ring.c: FUSE over io_uring ----------------------------------- */

struct cl_fring;
/* Before the loops start: one ring per loop (unless -o fuse_ring=off). */
int rfs_fr_prepare(unsigned nloops);
void rfs_fr_fini(void);
/* Loop idx's ring, NULL when the ring is not in use. */
struct cl_fring *rfs_fr_of(unsigned idx);
/* "io_uring" or "/dev/fuse": the path requests take; why, in words */
const char *rfs_fr_status(void);
const char *rfs_fr_why(void);
/* The custom /dev/fuse I/O: INIT seen, INIT reply patched and written. */
void rfs_fr_saw_read(const void *buf, ssize_t n);
bool rfs_fr_patch_init(struct iovec *iov, int cnt);
void rfs_fr_init_written(bool ok);
/* l's ring carries requests (entries registered or about to be) */
bool rfs_fr_active(const struct cl_loop *l);
/*
 * A buffer read from /dev/fuse: true when it is an INTERRUPT of a ring
 * request not yet given to libfuse, kept to be given right after it.
 */
bool rfs_fr_take_interrupt(const struct fuse_buf *b);
/* A reply to a ring request of l: committed (bytes), or -ENOENT. */
ssize_t rfs_fr_writev(struct cl_loop *l, const struct iovec *iov, int cnt);
/* Requests that arrived (dispatched to libfuse), or -ENOTCONN: unmounted */
int rfs_fr_reap(struct cl_loop *l, bool *ep_ready);
/*
 * Whether the ring's poll of the transport's wait fd completed since the
 * last call (then clears it): the transport has something to poll.
 */
bool rfs_fr_xprt_fired(struct cl_loop *l);
/*
 * The ring's poll of the transport's current wait fd is armed and has
 * not completed: the fd had nothing since (rfs_xprt_wait_quiet).
 */
bool rfs_fr_xprt_quiet(const struct cl_loop *l);
/* Submit queued commits when there are at least min of them. */
void rfs_fr_flush(struct cl_loop *l, unsigned min);
/* Commit, arm the transport and epoll polls, sleep until something. */
int rfs_fr_wait(struct cl_loop *l, int timeout_ms);
/*
 * Before the loop sleeps in its transport instead (rfs_xprt_sleep, a
 * reply due): the ring's commits go out and its poll of the epoll set
 * is armed, so a FUSE request, FORGET, INTERRUPT or wake-up makes the
 * ring's fd, which the transport then watches, readable.  Returns that
 * fd.
 */
int rfs_fr_sleep_prep(struct cl_loop *l);
uint64_t rfs_fr_requests(const struct cl_loop *l);
/* l's transport is about to close: stop polling its wait fd. */
void rfs_fr_drop_xprt(struct cl_loop *l);

/* ---- call.c: slots, requests, replies --------------------------------- */

int rfs_lp_slots_init(struct cl_loop *l);
/* Free the slots and their kept frames (teardown). */
void rfs_lp_slots_free(struct cl_loop *l);
uint64_t rfs_lp_next_id(struct cl_loop *l, int32_t idx);
void rfs_lp_slot_put(struct cl_loop *l, struct cl_pend *p);
/* Reply err to p's request (if any) and free its slot. */
void rfs_lp_fail(struct cl_loop *l, struct cl_pend *p, int err);
/* Fail every pending request with EIO (said unless quiet). */
void rfs_lp_fail_all(struct cl_loop *l, int status, bool quiet);
/* Handle n transport events: replies, the connection going down. */
void rfs_lp_on_events(struct cl_loop *l, struct rfs_xev *ev, int n);
/* A frame with no reply expected (FORGET, BYE). */
int rfs_lp_send_oneway(struct cl_loop *l, uint16_t op, const void *payload,
		       uint32_t plen);
/* Send the FORGETs queued by rfs_loop_forget. */
void rfs_lp_flush_forgets(struct cl_loop *l);
/* Send b, p's frame, with p's reply-size hint if it has one. */
static inline int rfs_lp_send(struct cl_loop *l, const struct cl_pend *p,
			      struct rfs_buf *b)
{
	rfs_obs_add(l->obs, RFS_OBS_requests_sent, 1);
	if (p->reply_max)
		return rfs_xprt_send_expect(l->conn, b, 0, p->reply_max);
	return rfs_xprt_send(l->conn, b, 0);
}

/*
 * The transport's counts into the loop's slot (before a sleep); gone:
 * l->x is about to close (its counts are kept in obs_base).
 */
void rfs_lp_obs_xprt(struct cl_loop *l, bool gone);

/* ---- handshake.c: connect, AUTH, HELLO / ATTACH, BYE ------------------ */

extern __thread bool rfs_lp_tl_reconnect; /* quiet, short connect timeout */
/* Send b and wait for the reply with id; *out is lent (buf_put it). */
int rfs_lp_sync_call(struct cl_loop *l, struct rfs_buf *b, uint64_t id,
		     struct rfs_buf **out);
/*
 * Finish mb's frame in b (session checksum), send it and wait: the
 * reply's status, or -ENOTCONN when none came.  Status 0 and out: *out
 * is the lent reply (buf_put it).
 */
int rfs_lp_sync_mb(struct cl_loop *l, struct rfs_buf *b, struct rfs_mb *mb,
		   struct rfs_buf **out);
/* Connect and HELLO (attach = false) or ATTACH.  Errors are printed. */
int rfs_lp_connect(struct cl_loop *l, bool attach);
/* Orderly goodbye (BYE, bounded wait for the close); closes l->x. */
void rfs_lp_disconnect(struct cl_loop *l);

/* ---- replay.c: reconnect, replay, server restart ---------------------- */

void rfs_lp_reconnect_tick(struct cl_loop *l);
/* The connection died: keep the requests, reconnect (false: give up). */
bool rfs_lp_lost(struct cl_loop *l, int status);
void rfs_lp_check_interrupts(struct cl_loop *l);
void rfs_lp_soft_timeouts(struct cl_loop *l, int64_t now);
int rfs_lp_wait_ms(struct cl_loop *l);

/*
 * ---- locks.c: locks granted to applications ---------------------------
 *
 * Re-taken after a server restart.  note_reply: a SETLK/FLOCK succeeded
 * (p's kept frame); note_send: a FLUSH/RELEASE frame is being sent (the
 * server drops the locks), or a SETLK (its node's FLUSHes go to the
 * server from then on).  rfs_lk_lost: cfh's lock was lost in a
 * restart (the ops that then fail with EIO carry RFS_OPF_LOCK_IO in the
 * opcode table).
 */
void rfs_lk_note_reply(const struct cl_pend *p);
void rfs_lk_note_send(const struct cl_pend *p, const void *frame);
bool rfs_lk_lost(uint64_t cfh);
/*
 * In a new session, files re-opened: take every recorded lock again
 * (through l's connection).  -ENOTCONN: the connection failed.
 */
int rfs_lk_retake_all(struct cl_loop *l, unsigned *nok, unsigned *nlost);

#endif /* RFS_CLIENT_LOOP_I_H */
