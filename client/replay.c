// SPDX-License-Identifier: MIT
/*
 * replay: reconnect and replay after a lost connection, and recovery from
 * a server restart (new session, files re-opened, locks re-taken).
 * The loop calls rfs_lp_lost() when its connection dies and
 * rfs_lp_reconnect_tick() while it is reconnecting; the locks the
 * applications held are re-taken through locks.c.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>

#include "client_i.h"
#include "log.h"
#include "loop_i.h"
#include "spin.h"

/* ---- reconnect and replay --------------------------------------------- */

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 2000
#define SOFT_CHECK_MS 250

/* Close the loop's transport (and its connection, if any). */
static void xprt_drop(struct cl_loop *l)
{
	if (!l->x)
		return;
	if (rfs_fr_active(l))
		rfs_fr_drop_xprt(l);
	else if (l->ep >= 0)
		epoll_ctl(l->ep, EPOLL_CTL_DEL, rfs_xprt_wait_fd(l->x), NULL);
	rfs_lp_obs_xprt(l, true);
	rfs_xprt_close(l->x);
	l->x = NULL;
	l->conn = NULL;
}

/* Fail a request the kernel waits for, and any RESOLVE started for it. */
static void fail_user(struct cl_loop *l, struct cl_pend *p, int err)
{
	int32_t idx = (int32_t)(p - l->slots);

	for (uint32_t i = 0; i < CL_SLOTS; i++) {
		struct cl_pend *q = &l->slots[i];

		if (q->busy && !q->req && q->op == RFS_OP_RESOLVE &&
		    q->orig == idx)
			rfs_lp_slot_put(l, q);
	}
	rfs_lp_fail(l, p, err);
}

/*
 * The application waiting for p got a signal: end the call with EINTR when
 * it waits for a reconnect or for a lock; anything else finishes soon.
 */
void rfs_lp_check_interrupts(struct cl_loop *l)
{
	atomic_store(&l->intr, false);
	for (uint32_t i = 0; i < CL_SLOTS; i++) {
		struct cl_pend *p = &l->slots[i];

		if (!p->busy || !p->req ||
		    atomic_load(&p->intr_req) != (uintptr_t)p->req)
			continue;
		if (l->conn && !rfs_op_is(p->op, RFS_OPF_MAY_BLOCK))
			continue;
		rfs_dbg(RFS_SUB_CLIENT, "client: loop %u: %s interrupted",
			l->idx, rfs_proto_op_name(p->op));
		fail_user(l, p, -EINTR);
	}
}

/* soft mounts: a request older than timeo fails with EIO */
void rfs_lp_soft_timeouts(struct cl_loop *l, int64_t now)
{
	unsigned n = 0;

	if (now - l->last_soft_check < SOFT_CHECK_MS)
		return;
	l->last_soft_check = now;
	for (uint32_t i = 0; i < CL_SLOTS; i++) {
		struct cl_pend *p = &l->slots[i];

		if (!p->busy || !p->req ||
		    now - p->start_ms < rfs_cl->o.timeo_ms)
			continue;
		fail_user(l, p, -EIO);
		n++;
	}
	if (n)
		rfs_err_rl("client: loop %u: %u requests timed out (soft "
			   "mount, timeo=%lld s): EIO",
			   l->idx, n, (long long)(rfs_cl->o.timeo_ms / 1000));
}

int rfs_lp_wait_ms(struct cl_loop *l)
{
	int64_t t = -1;

	if (l->reconnecting) {
		t = l->next_try_ms - rfs_now_ns() / 1000000;
		if (t < 0)
			t = 0;
	}
	if (rfs_cl->o.soft && l->inflight && (t < 0 || t > SOFT_CHECK_MS))
		t = SOFT_CHECK_MS;
	return (int)t;
}

/* The connection died: keep the requests, reconnect (false: give up). */
bool rfs_lp_lost(struct cl_loop *l, int status)
{
	if (rfs_lp_stop_requested())
		return false;
	l->reconnecting = true;
	rfs_obs_add(l->obs, RFS_OBS_conn_lost, 1);
	rfs_obs_set_state(l->obs, RFS_OBS_RECONNECT);
	/* what waits for the new connection (replayed then) */
	rfs_obs_set(l->obs, RFS_OBS_G_queue, l->inflight);
	l->lost_at_ms = rfs_now_ns() / 1000000;
	l->next_try_ms = l->lost_at_ms;
	l->backoff_ms = RECONNECT_MIN_MS;
	l->attempts = 0;
	rfs_err("connection to %s lost (loop %u): %s; reconnecting, "
		"%u requests in flight",
		rfs_cl->addr.text, l->idx,
		status ? strerror(-status) : "closed by the server",
		l->inflight);
	rfs_lp_check_interrupts(l);
	return true;
}

/* RESOLVE (the new server knows no node yet) and OPEN one file again. */
static int reopen_one(void *arg, uint64_t nodeid, uint32_t flags, bool dir,
		      const struct rfs_opener *who, uint64_t *sfh)
{
	struct cl_loop *l = arg;
	uint8_t handle[RFS_HANDLE_MAX];
	struct rfs_buf *b, *rb;
	struct rfs_mb mb;
	const struct rfs_hdr *h;
	struct rfs_rep_view v;
	uint64_t id;
	int hlen, ret;

	if (nodeid != rfs_cl->root_nodeid) {
		struct rfs_resolve_req *rr;

		hlen = rfs_inode_handle(nodeid, handle);
		if (hlen <= 0)
			return -ESTALE;
		b = rfs_xprt_buf_get(l->x, RFS_HDR_SIZE + sizeof(*rr) +
						   (uint32_t)hlen + 8);
		if (!b)
			return -ENOTCONN;
		id = rfs_lp_next_id(l, 0);
		rfs_mb_init(&mb, b->data, b->cap, RFS_OP_RESOLVE, id);
		rr = rfs_mb_put(&mb, sizeof(*rr));
		if (rr) {
			rr->nodeid = nodeid;
			rr->handle_len = (uint16_t)hlen;
		}
		rfs_mb_put_bytes(&mb, handle, (uint32_t)hlen);
		ret = rfs_lp_sync_mb(l, b, &mb, NULL);
		if (ret < 0)
			return ret;
	}
	b = rfs_xprt_buf_get(l->x, RFS_HDR_SIZE + 64 + RFS_GROUPS_BYTES_MAX);
	if (!b)
		return -ENOTCONN;
	id = rfs_lp_next_id(l, 0);
	rfs_mb_init(&mb, b->data, b->cap, dir ? RFS_OP_OPENDIR : RFS_OP_OPEN,
		    id);
	rfs_mb_hdr(&mb)->uid = who->uid;
	rfs_mb_hdr(&mb)->gid = who->gid;
	{
		struct rfs_open_req *o = rfs_mb_put(&mb, sizeof(*o));

		if (o) {
			o->nodeid = nodeid;
			o->flags = flags;
		}
	}
	/* as the opener, with the groups it opened the file with */
	if (rfs_cl->groups)
		rfs_mb_put_groups(&mb, who->groups, who->ngroups);
	ret = rfs_lp_sync_mb(l, b, &mb, &rb);
	if (ret < 0)
		return ret;
	h = rb->data;
	ret = rfs_proto_decode_rep(h, h + 1, dir ? RFS_OP_OPENDIR : RFS_OP_OPEN,
				   &v);
	if (!ret)
		*sfh = ((const struct rfs_open_rep *)v.fixed)->fh;
	rfs_xprt_buf_put(l->x, rb);
	return ret;
}

/* Resend every pending request with RFS_HF_REPLAY; returns how many. */
static unsigned replay_all(struct cl_loop *l, uint64_t gen)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < CL_SLOTS; i++) {
		struct cl_pend *p = &l->slots[i];
		struct rfs_hdr *h = p->copy;
		struct rfs_buf *b;

		if (!p->busy)
			continue;
		if (!p->req && p->op == RFS_OP_RESOLVE && !p->copy_len) {
			/* its request is replayed and resolves again */
			rfs_lp_slot_put(l, p);
			continue;
		}
		if (!p->copy_len) {
			rfs_lp_fail(l, p, -EIO);
			continue;
		}
		if (p->sess_gen != gen) {
			bool lost = false;

			/* a new session: the re-opened files' fhs */
			if (p->raw_fh) {
				rfs_lp_fail(l, p, 0);
				continue;
			}
			for (unsigned k = 0; k < p->nfh; k++) {
				uint64_t sfh = 0;
				int ret = rfs_fh_server(p->cfh[k], &sfh);

				if (ret == -EIO ||
				    (rfs_op_is(p->op, RFS_OPF_LOCK_IO) &&
				     rfs_lk_lost(p->cfh[k])))
					lost = true;
				memcpy((uint8_t *)p->copy + p->fh_off[k], &sfh,
				       sizeof(sfh));
			}
			if (lost) {
				rfs_lp_fail(l, p, -EIO);
				continue;
			}
			p->sess_gen = gen;
			p->after_restart = true;
			/* a new server that does not take the callers' groups */
			if (!rfs_cl->groups && (h->flags & RFS_HF_GROUPS))
				p->copy_len = rfs_proto_strip_groups(h);
		}
		h->flags |= RFS_HF_REPLAY;
		rfs_proto_seal(h, rfs_cl->csum);
		b = rfs_xprt_buf_get(l->x, p->copy_len);
		if (!b) {
			rfs_lp_fail(l, p, -EIO);
			continue;
		}
		memcpy(b->data, p->copy, p->copy_len);
		b->len = p->copy_len;
		if (rfs_lp_send(l, p, b) < 0) {
			rfs_lp_fail(l, p, -EIO);
			continue;
		}
		n++;
	}
	return n;
}

/*
 * RESUME answered -EBUSY: another gateway, alive but out of our reach,
 * still owns the old session's replies (shared reply logs, ringfsd(8)
 * --reply-log-dir), or the server waits out its takeover fence (the dead
 * gateway's operations still in flight to the volume); asked again on
 * each reconnect attempt until it lets them go (its grace period, the
 * fence) or this long has passed.
 */
#define RESUME_BUSY_MAX_MS (5 * 60 * 1000)
static long long resume_busy_since; /* ms, 0: not waiting (cl->mu) */
static bool lk_pending; /* a new session: locks to re-take (cl->mu) */
static bool new_sess;	/* HELLO done, RESUME and re-opens not yet (cl->mu) */

/*
 * In a new session (the server restarted): RESUME the session whose
 * replies the server may have kept, so that replays of requests that ran
 * before the restart get their replies instead of running again.  0 once
 * the server answered, whatever it said (*kept: how many it had, -1:
 * none); -ENOTCONN: again on the next connection.  Under cl->mu.
 */
static int resume_old(struct cl_loop *l, int *kept)
{
	struct rfs_client *cl = rfs_cl;
	struct rfs_resume_req *q;
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	struct rfs_mb mb;
	int ret;

	*kept = -1;
	if (!cl->resume_pending || !cl->resume_ok) {
		cl->resume_pending = false;
		return 0;
	}
	b = rfs_xprt_buf_get(l->x, RFS_HDR_SIZE + sizeof(*q));
	if (!b)
		return -ENOTCONN;
	rfs_mb_init(&mb, b->data, b->cap, RFS_OP_RESUME, rfs_lp_next_id(l, 0));
	q = rfs_mb_put(&mb, sizeof(*q));
	if (q) {
		q->session = cl->resume_sess;
		memcpy(q->token, cl->resume_token, sizeof(q->token));
	}
	ret = rfs_lp_sync_mb(l, b, &mb, &rb);
	if (ret == -ENOTCONN)
		return ret;
	if (ret == -EBUSY) {
		long long now = rfs_now_ns() / 1000000;

		if (!resume_busy_since) {
			resume_busy_since = now;
			rfs_warn("server %s: holds back the replies of "
				 "session %016llx (another gateway, alive but "
				 "out of reach, owns them; or the dead one's "
				 "operations are still landing: "
				 "--takeover-fence): asking again",
				 rfs_cl->addr.text,
				 (unsigned long long)cl->resume_sess);
		}
		if (now - resume_busy_since < RESUME_BUSY_MAX_MS)
			return -EAGAIN;
	}
	resume_busy_since = 0;
	cl->resume_pending = false;
	if (!ret) {
		const struct rfs_hdr *h = rb->data;

		if (!rfs_proto_decode_rep(h, h + 1, RFS_OP_RESUME, &v))
			*kept = (int)((const struct rfs_resume_rep *)v.fixed)
					->replies;
		rfs_xprt_buf_put(l->x, rb);
		return 0;
	}
	rfs_warn("server %s restarted without the replies of session %016llx "
		 "(%s): a replayed request that ran before the restart may run "
		 "again",
		 rfs_cl->addr.text, (unsigned long long)cl->resume_sess,
		 ret == -EBADSLT ? "none kept: --reply-log off, another "
				   "--state-dir, or its grace period is over" :
		 ret == -EBUSY	 ? "another gateway kept them for too long" :
				   strerror(-ret));
	return 0;
}

/* the server cannot be reached (as opposed to: it refused us) */
static bool unreachable(int err)
{
	return err == -ECONNREFUSED || err == -ETIMEDOUT ||
	       err == -EHOSTUNREACH || err == -ENETUNREACH ||
	       err == -ECONNRESET || err == -ENOTCONN || err == -EPIPE;
}

/*
 * Several gateways of one namespace: the next one takes over; the
 * session there is new, so the caller re-opens files and re-takes locks
 * as after a server restart.  Under cl->mu.
 */
static bool fail_over(void)
{
	struct rfs_client *cl = rfs_cl;
	unsigned from = cl->cur;

	if (cl->naddr < 2)
		return false;
	cl->cur = (cl->cur + 1) % cl->naddr;
	cl->addr = cl->addrs[cl->cur];
	rfs_warn("server %s unreachable: failing over to %s",
		 cl->addrs[from].text, cl->addr.text);
	return true;
}

/*
 * One attempt: connect and ATTACH to our session; if the server does not
 * have it (restarted), open a new one with HELLO, RESUME the old one and
 * re-open every open file first.  Under cl->mu: one loop at a time, so
 * the new session, the RESUME and the re-opens happen once, before any
 * loop replays into it.
 */
static int try_reconnect(struct cl_loop *l, bool *rehello, unsigned *nok,
			 unsigned *nlost, unsigned *lk_ok, unsigned *lk_lost,
			 int *kept, uint64_t *gen)
{
	struct rfs_client *cl = rfs_cl;
	int ret;

	*rehello = false;
	rfs_lp_tl_reconnect = true;
	pthread_mutex_lock(&cl->mu);
	xprt_drop(l);
	ret = rfs_lp_connect(l, true);
	if (unreachable(ret) && fail_over()) {
		xprt_drop(l);
		ret = rfs_lp_connect(l, true);
	}
	if (ret == -EBADSLT || ret == -EACCES) {
		xprt_drop(l);
		/* the session whose replies the new server may have */
		if (!cl->resume_pending) {
			cl->resume_sess = cl->session;
			memcpy(cl->resume_token, cl->token,
			       sizeof(cl->resume_token));
			cl->resume_pending = true;
		}
		ret = rfs_lp_connect(l, false);
		if (!ret)
			new_sess = true;
	}
	/* also when a drop cut the last attempt short after its HELLO */
	if (!ret && l->conn && new_sess) {
		ret = resume_old(l, kept);
		if (!ret)
			ret = rfs_fh_reopen_all(reopen_one, l, nok, nlost);
		if (!ret) {
			cl->sess_gen++;
			*rehello = true;
			lk_pending = true;
			new_sess = false;
		}
	}
	/* before anyone replays into the new session */
	if (!ret && l->conn && lk_pending) {
		ret = rfs_lk_retake_all(l, lk_ok, lk_lost);
		if (!ret) {
			lk_pending = false;
			*rehello = true;
		}
	}
	*gen = cl->sess_gen;
	pthread_mutex_unlock(&cl->mu);
	rfs_lp_tl_reconnect = false;
	if (ret < 0 || !l->conn) {
		xprt_drop(l);
		return ret < 0 ? ret : -ENOTCONN;
	}
	/* with the FUSE ring, the ring polls the transport itself */
	ret = rfs_fr_active(l) ?
		      0 :
		      rfs_lp_epoll_add(l->ep, rfs_xprt_wait_fd(l->x));
	if (ret < 0) {
		rfs_err("client: loop %u: epoll_ctl: %s", l->idx,
			strerror(-ret));
		xprt_drop(l);
	}
	return ret;
}

void rfs_lp_reconnect_tick(struct cl_loop *l)
{
	int64_t now = rfs_now_ns() / 1000000;
	unsigned nok = 0, nlost = 0, lk_ok = 0, lk_lost = 0, n;
	uint64_t gen;
	bool rehello;
	int ret, kept = -1;

	if (now < l->next_try_ms)
		return;
	ret = try_reconnect(l, &rehello, &nok, &nlost, &lk_ok, &lk_lost, &kept,
			    &gen);
	if (ret < 0) {
		l->attempts++;
		if (l->attempts == 1 || l->attempts % 30 == 0)
			rfs_warn("reconnecting to %s (loop %u): "
				 "attempt %u: %s",
				 rfs_cl->addr.text, l->idx, l->attempts,
				 strerror(-ret));
		l->next_try_ms = rfs_now_ns() / 1000000 + l->backoff_ms;
		l->backoff_ms *= 2;
		if (l->backoff_ms > RECONNECT_MAX_MS)
			l->backoff_ms = RECONNECT_MAX_MS;
		return;
	}
	l->reconnecting = false;
	rfs_obs_add(l->obs, RFS_OBS_reconnects, 1);
	rfs_obs_set(l->obs, RFS_OBS_G_queue, 0);
	n = replay_all(l, gen);
	l->sess_gen = gen;
	rfs_xprt_flush(l->x);
	if (rehello) {
		char k[64] = "no replies of the old session kept";

		if (kept >= 0)
			snprintf(k, sizeof(k),
				 "%d replies of the old session kept", kept);
		rfs_warn("server %s restarted: new session, %u open "
			 "files re-opened, %u lost; %u locks re-taken, %u "
			 "lost; %s",
			 rfs_cl->addr.text, nok, nlost, lk_ok, lk_lost, k);
	}
	rfs_warn("reconnected to %s (loop %u) after %.1f s, "
		 "replayed %u requests",
		 rfs_cl->addr.text, l->idx,
		 (double)(rfs_now_ns() / 1000000 - l->lost_at_ms) / 1000.0, n);
}
