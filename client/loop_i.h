/* SPDX-License-Identifier: MIT */
/*
 * loop_i: what loop.c (the event loop, requests, handshake) and replay.c
 * (reconnect, replay, restart recovery) share.  Private to those two.
 */
#ifndef RFS_CLIENT_LOOP_I_H
#define RFS_CLIENT_LOOP_I_H

#include "client_i.h"

struct cl_loop {
	unsigned idx;
	pthread_t th;
	bool started;
	struct rfs_xprt *x;
	struct rfs_conn *conn;	/* NULL once lost */
	int fuse_fd;
	bool own_fuse_fd;
	int ep;
	struct fuse_buf fbuf;
	struct cl_pend *slots;
	int32_t free_head;
	uint64_t gen;
	uint32_t inflight;
	struct rfs_forget_one forgets[RFS_FORGET_MAX];
	uint32_t nforget;
	/* reconnect state */
	int wake_fd;		/* eventfd: FUSE interrupts from any thread */
	atomic_bool intr;	/* an interrupt is waiting to be looked at */
	bool reconnecting;	/* conn lost, not given up */
	int64_t lost_at_ms;
	int64_t next_try_ms;
	int backoff_ms;
	unsigned attempts;
	uint64_t sess_gen;	/* the session generation attached to */
	int64_t last_soft_check;
};

/* loop.c */
extern __thread bool rfs_lp_tl_reconnect;	/* quiet, short connect timeout */
int64_t rfs_lp_now_ms(void);
bool rfs_lp_stop_requested(void);
uint64_t rfs_lp_next_id(struct cl_loop *l, int32_t idx);
void rfs_lp_slot_put(struct cl_loop *l, struct cl_pend *p);
/* Reply err to p's request (if any) and free its slot. */
void rfs_lp_fail(struct cl_loop *l, struct cl_pend *p, int err);
/* Send b and wait for the reply with id; *out is lent (buf_put it). */
int rfs_lp_sync_call(struct cl_loop *l, struct rfs_buf *b, uint64_t id,
		     struct rfs_buf **out);
/* Connect and HELLO (attach = false) or ATTACH.  Errors are printed. */
int rfs_lp_connect(struct cl_loop *l, bool attach);
int rfs_lp_epoll_add(int ep, int fd);

/* replay.c */
void rfs_lp_reconnect_tick(struct cl_loop *l);
/* The connection died: keep the requests, reconnect (false: give up). */
bool rfs_lp_lost(struct cl_loop *l, int status);
void rfs_lp_check_interrupts(struct cl_loop *l);
void rfs_lp_soft_timeouts(struct cl_loop *l, int64_t now);
int rfs_lp_wait_ms(struct cl_loop *l);

/*
 * replay.c: locks granted to applications, re-taken after a server
 * restart.  note_reply: a SETLK/FLOCK succeeded (p's kept frame);
 * note_send: a FLUSH/RELEASE frame is being sent (the server drops the
 * locks).  rfs_lk_lost: cfh's lock was lost in a restart; rfs_lk_io_op:
 * the ops that then fail with EIO.
 */
void rfs_lk_note_reply(const struct cl_pend *p);
void rfs_lk_note_send(const struct cl_pend *p, const void *frame);
bool rfs_lk_lost(uint64_t cfh);
bool rfs_lk_io_op(uint16_t op);

#endif /* RFS_CLIENT_LOOP_I_H */
