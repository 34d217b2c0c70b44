// SPDX-License-Identifier: MIT
/*
 * Connections: each accepted socket gets its own thread and its own
 * transport context.  The loop: poll the transport, and run every received
 * frame through the request pipeline (request.c), which builds the reply
 * in a transport buffer and sends it; in split mode the exec thread
 * (exec.c) runs it instead.  When idle: arm, then sleep in poll(2) on the
 * transport's wait fd and our eventfd (replies from worker threads and
 * the exec thread, shutdown).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aio.h"
#include "exec.h"
#include "log.h"
#include "notify.h"
#include "obs.h"
#include "request.h"
#include "spin.h"
#include "tls.h"
#include "worker.h"

static pthread_mutex_t conns_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_cv = PTHREAD_COND_INITIALIZER;
static struct rfs_conn_ctx *conns;
static unsigned nconns;
static bool stopping;

/*
 * How long a closing connection may take to drain before we tear it down
 * ourselves (a byte-stream transport's orderly close waits for the peer's
 * FIN; a hostile or stuck peer must not pin a thread).
 */
#define CLOSE_GRACE_MS 3000
#define STOP_GRACE_MS 500

static void conn_close(struct rfs_conn_ctx *cc)
{
	bool stop;

	if (cc->closing)
		return;
	pthread_mutex_lock(&conns_mu);
	stop = stopping;
	pthread_mutex_unlock(&conns_mu);
	cc->closing = true;
	cc->close_deadline = rfs_now_ns() / 1000000 +
			     (stop ? STOP_GRACE_MS : CLOSE_GRACE_MS);
	rfs_xprt_flush(cc->x);
	rfs_xprt_disconnect(cc->c);
}

static const char *desc(struct rfs_conn_ctx *cc)
{
	return rfs_conn_desc(cc->c);
}

/* ---- counters (common/obs.h): this thread's slot ----------------------- */

/* now: when the batch this request came in was reaped */
static void obs_recv(struct rfs_conn_ctx *cc, const struct rfs_buf *b,
		     int64_t now)
{
	const struct rfs_hdr *h = b->data;

	if (!cc->obs)
		return;
	rfs_obs_add(cc->obs, RFS_OBS_requests_received, 1);
	cc->obs_t0[h->id & 255] = now;
}

static void obs_reply(struct rfs_conn_ctx *cc, const struct rfs_hdr *h)
{
	int64_t *t0;

	if (!cc->obs)
		return;
	t0 = &cc->obs_t0[h->id & 255];
	rfs_obs_add(cc->obs, RFS_OBS_replies_sent, 1);
	if (h->status < 0)
		rfs_obs_add(cc->obs, RFS_OBS_errors, 1);
	if (*t0) {
		rfs_obs_lat(cc->obs, h->opcode, (uint64_t)(rfs_now_ns() - *t0));
		*t0 = 0;
	}
}

/* the transport's counts; after HELLO/ATTACH, the export and identity */
static void obs_idle(struct rfs_conn_ctx *cc)
{
	struct rfs_xprt_stats xs;

	if (!cc->obs)
		return;
	rfs_xprt_get_stats(cc->x, &xs);
	rfs_obs_xprt(cc->obs, NULL, &xs);
	rfs_obs_set(cc->obs, RFS_OBS_G_queue, cc->unsent);
	if (!cc->obs_named && atomic_load(&cc->established) && cc->sess) {
		const struct rfs_peer_cred *pc = &cc->sec.cred;
		char ident[64];

		/* whose ids requests run with, and what vouched for them */
		static const char *const ids[] = {
			[RFS_IDS_REFUSE] = "none",
			[RFS_IDS_SQUASH] = "squash",
			[RFS_IDS_PEER] = "peer",
			[RFS_IDS_ASSERT] = "assert",
		};
		int n = snprintf(ident, sizeof(ident), "%s",
				 (unsigned)cc->sec.ids < 4 ? ids[cc->sec.ids] :
							     "?");

		if (cc->sec.state == RFS_AUTH_DONE && n > 0)
			n += snprintf(ident + n, sizeof(ident) - (size_t)n,
				      ",key");
		if (pc->known && n > 0 && (size_t)n < sizeof(ident))
			snprintf(ident + n, sizeof(ident) - (size_t)n,
				 ",uid:%u", (unsigned)pc->uid);
		rfs_obs_slot_names(cc->obs, NULL, NULL, NULL,
				   cc->sess->exp->name, ident);
		rfs_obs_set_state(cc->obs, RFS_OBS_ESTAB);
		cc->obs_named = true;
	}
}

static void obs_start(struct rfs_conn_ctx *cc)
{
	cc->obs = rfs_obs_slot_get(rfs_srv_obs, rfs_xprt_name(cc->x));
	/* tcp/uring: addresses; shm: fd and peer pid; rdma: device, QPN */
	rfs_obs_slot_names(cc->obs, NULL, rfs_conn_desc(cc->c), NULL, NULL,
			   NULL);
}

static void send_frame(struct rfs_conn_ctx *cc, struct rfs_buf *out,
		       uint32_t len)
{
	const struct rfs_hdr *h = out->data;
	int ret;

	out->len = len;
	atomic_fetch_add(&rfs_stats.bytes_out, len);
	if (!(h->flags & RFS_HF_NOTIFY))
		obs_reply(cc, h);
	/*
	 * NOTIFY: the SEND event is how we learn the transport is done with
	 * the reply, so `unsent` counts replies the peer has not taken yet
	 * (max-inflight).  Without it the count would only ever grow.
	 */
	ret = rfs_xprt_send(cc->c, out, RFS_SEND_NOTIFY);
	if (ret >= 0)
		cc->unsent++;
	if (ret < 0 && ret != -ENOTCONN)
		rfs_err_rl("server: %s: send: %s", desc(cc), strerror(-ret));
}

/*
 * What the request pipeline does to the connection, inline on this
 * thread; the exec thread and the workers send their replies through it
 * too (cc->io).
 */
static struct rfs_buf *conn_buf_get(struct rfs_conn_ctx *cc, void *arg,
				    uint32_t size)
{
	struct rfs_buf *b = rfs_xprt_buf_get(cc->x, size);

	(void)arg;
	if (!b)
		rfs_obs_add(cc->obs, RFS_OBS_bufpool_empty, 1);
	return b;
}

static void conn_buf_put(struct rfs_conn_ctx *cc, void *arg, struct rfs_buf *b)
{
	(void)arg;
	rfs_xprt_buf_put(cc->x, b);
}

static void conn_send(struct rfs_conn_ctx *cc, void *arg, struct rfs_buf *b,
		      uint32_t len)
{
	(void)arg;
	send_frame(cc, b, len);
}

static void conn_close_io(struct rfs_conn_ctx *cc, void *arg)
{
	(void)arg;
	conn_close(cc);
}

static const struct rfs_req_io conn_io = {
	.buf_get = conn_buf_get,
	.buf_put = conn_buf_put,
	.send = conn_send,
	.close = conn_close_io,
	.conn_thread = true,
};

/*
 * Notifications queued for this connection (notify.c): sent like replies,
 * by this thread, so every transport carries them.  No buffer: the next
 * turn (a send completing frees one).
 */
static void notify_drain(struct rfs_conn_ctx *cc)
{
	const uint32_t size =
		RFS_HDR_SIZE + sizeof(struct rfs_notify) + RFS_NAME_MAX;

	while (!cc->closing && rfs_notify_pending(cc)) {
		struct rfs_buf *b = rfs_xprt_buf_get(cc->x, size);
		int len;

		if (!b)
			return;
		len = rfs_notify_pop(cc, b->data, b->cap);
		if (len <= 0) {
			rfs_xprt_buf_put(cc->x, b);
			continue;
		}
		send_frame(cc, b, (uint32_t)len);
		rfs_obs_add(cc->obs, RFS_OBS_notifies_sent, 1);
	}
}

void rfs_conns_each(void (*fn)(struct rfs_conn_ctx *cc, void *arg), void *arg)
{
	pthread_mutex_lock(&conns_mu);
	for (struct rfs_conn_ctx *cc = conns; cc; cc = cc->next)
		if (atomic_load(&cc->established))
			fn(cc, arg);
	pthread_mutex_unlock(&conns_mu);
}

/* ---- the loop ---------------------------------------------------------- */

static void conn_free(struct rfs_conn_ctx *cc, bool forced)
{
	if (cc->obs && cc->x)
		obs_idle(cc); /* the last counts, then into the totals */
	rfs_obs_slot_put(rfs_srv_obs, cc->obs);
	cc->obs = NULL;
	rfs_aio_fini(cc);
	rfs_exec_fini(cc);
	rfs_workers_fini(cc);
	if (cc->sess)
		rfs_session_detach(cc->sess);
	/* forced: no CONN_DOWN came; closing the context tears it down */
	if (cc->c && !forced)
		rfs_xprt_conn_free(cc->c);
	if (cc->x)
		rfs_xprt_close(cc->x);
	if (cc->setup_fd >= 0)
		close(cc->setup_fd);
	if (cc->efd >= 0)
		close(cc->efd);
	free(cc->dbuf);
	rfs_sec_conn_fini(&cc->sec);
	rfs_notify_conn_fini(cc);
	free(cc);
}

static int conn_setup(struct rfs_conn_ctx *cc);

/*
 * Close a peer that broke a limit without the orderly drain: it is not
 * reading (or not talking) anyway, and while a closing connection
 * lingers its input is read and discarded, so a peer that keeps sending
 * would keep this thread busy for the whole grace period.
 */
static void conn_abort(struct rfs_conn_ctx *cc)
{
	conn_close(cc);
	cc->close_deadline = rfs_now_ns() / 1000000;
}

static bool conn_greedy(struct rfs_conn_ctx *cc)
{
	/* split mode: requests still with the exec thread count too */
	if (cc->closing ||
	    cc->unsent + cc->xpending <= rfs_cfg.sec.max_inflight)
		return false;
	rfs_err_rl("server: %s (%s): %u replies not collected "
		   "(max-inflight %u): closing",
		   desc(cc), cc->sec.peer_text, cc->unsent + cc->xpending,
		   rfs_cfg.sec.max_inflight);
	conn_abort(cc);
	return true;
}

/*
 * A stalled peer.  A connection owes something while the peer is inside
 * a frame (a byte stream has part of one: rx, --frame-timeout), or while
 * replies wait for the peer to take them (unsent: tx, --reply-timeout).
 * Owing something with no progress in that direction for the timeout
 * closes the connection.  An idle connection owes nothing and is never
 * timed out; nor is one whose request waits on a worker (SETLKW): no
 * reply is owed until the lock is granted.
 *
 * Progress is a change of a count: bytes received (rx); bytes of our
 * frames taken, and SEND events (tx: shm and rdma have only those).  The
 * transport refreshes its counts when it is polled, so they are judged
 * as of the poll (tpoll), and a request that ran long on this thread
 * after it does not count against the peer.  While bytes may move where
 * the counts cannot see them (our frames wait in a full socket, or in an
 * operation the kernel completes only at its end: rfs_xprt_progress),
 * the kernel's own counts are looked at every timeout / STALL_LOOKS
 * without visible progress (a syscall); the first look cannot tell what
 * moved before it and counts as progress, so such a stall is closed
 * after 9/8 of the timeout.  Cost on a connection that owes nothing: a
 * call that reads a few fields; otherwise one clock read per turn.
 */
#define STALL_LOOKS 8

struct stall_turn {
	struct rfs_conn_ctx *cc;
	long long now; /* ms, as of the poll */
	int *timeout;
	bool deep; /* k has the kernel's counts */
	struct rfs_xprt_progress k;
};

/* true when s stalled; else may shorten the turn's poll timeout */
static bool stall_step(struct stall_turn *t, struct rfs_stall *s, bool rx,
		       bool owed, uint64_t moved, bool hidden, unsigned limit)
{
	long long wake;

	if (!owed) {
		s->since = 0;
		return false;
	}
	if (!s->since || moved != s->moved) {
		s->since = t->now;
		s->moved = moved;
		s->looked = false;
		s->look = t->now + limit / STALL_LOOKS;
	}
	if (hidden && t->now >= s->look) {
		uint64_t k;

		if (!t->deep) {
			rfs_xprt_progress(t->cc->c, &t->k, true);
			t->deep = true;
		}
		k = rx ? t->k.k_rx : t->k.k_tx;
		if (s->looked && k != s->kmoved)
			rfs_dbg(RFS_SUB_SERVER,
				"server: %s: %s: nothing seen for %lld ms, "
				"but the socket moved: not stalled",
				desc(t->cc),
				rx ? "receiving a frame" : "replies",
				t->now - s->since);
		if (!s->looked || k != s->kmoved)
			s->since = t->now;
		s->kmoved = k;
		s->looked = true;
		s->look = t->now + limit / STALL_LOOKS;
	}
	if (t->now - s->since >= limit)
		return true;
	wake = s->since + limit;
	if (hidden && s->look < wake)
		wake = s->look;
	if (*t->timeout < 0 || wake - t->now < *t->timeout)
		*t->timeout = (int)(wake - t->now);
	return false;
}

static bool conn_stalled(struct rfs_conn_ctx *cc, long long tpoll, int *timeout)
{
	unsigned frame_ms = rfs_cfg.sec.frame_timeout_ms;
	unsigned reply_ms = rfs_cfg.sec.reply_timeout_ms;
	struct stall_turn t = { .cc = cc, .timeout = timeout };
	struct rfs_xprt_progress p;
	bool rx_owed, tx_owed;

	rfs_xprt_progress(cc->c, &p, false);
	rx_owed = frame_ms && p.rx_have;
	tx_owed = reply_ms && cc->unsent;
	if (!rx_owed && !tx_owed) {
		cc->stall_rx.since = cc->stall_tx.since = 0;
		return false;
	}
	t.now = tpoll ? tpoll : rfs_now_ms();
	if (stall_step(&t, &cc->stall_rx, true, rx_owed, p.rx_bytes,
		       p.rx_hidden, frame_ms)) {
		if (p.rx_want)
			rfs_err_rl("server: %s (%s): sent %u of %u bytes of a "
				   "frame and nothing for %u s "
				   "(frame-timeout): closed",
				   desc(cc), cc->sec.peer_text, p.rx_have,
				   p.rx_want, frame_ms / 1000);
		else
			rfs_err_rl("server: %s (%s): sent %u bytes of a frame "
				   "header and nothing for %u s "
				   "(frame-timeout): closed",
				   desc(cc), cc->sec.peer_text, p.rx_have,
				   frame_ms / 1000);
		conn_abort(cc);
		return true;
	}
	if (stall_step(&t, &cc->stall_tx, false, tx_owed,
		       p.tx_bytes + cc->sends, p.tx_hidden, reply_ms)) {
		rfs_err_rl("server: %s (%s): %u replies waiting and nothing "
			   "taken for %u s (reply-timeout): closed",
			   desc(cc), cc->sec.peer_text, cc->unsent,
			   reply_ms / 1000);
		conn_abort(cc);
		return true;
	}
	return false;
}

/*
 * Limits checked on every turn of the loop (auth.h): a client that does
 * not collect its replies (more than max-inflight sent but not yet
 * taken by the kernel), stalls (conn_stalled) or has not finished
 * HELLO/ATTACH by the setup deadline is disconnected, so it cannot hold
 * a thread and memory.  tpoll: the time of this turn's poll, or 0.
 * Returns true when it started closing the connection; otherwise may
 * shorten *timeout to the next deadline.
 */
static bool conn_limits(struct rfs_conn_ctx *cc, long long tpoll, int *timeout)
{
	long long left;

	if (cc->closing)
		return false;
	if (conn_greedy(cc))
		return true;
	if (conn_stalled(cc, tpoll, timeout))
		return true;
	if (atomic_load(&cc->established))
		return false;
	left = cc->sec.deadline - rfs_now_ns() / 1000000;
	if (left <= 0) {
		rfs_err_rl("server: %s: no HELLO/ATTACH within the setup "
			   "timeout: dropped",
			   cc->sec.peer_text);
		conn_abort(cc);
		return true;
	}
	if (*timeout < 0 || left < *timeout)
		*timeout = (int)left;
	return false;
}

/* --max-connections: true when fd must be refused (then it is closed) */
static bool conn_refuse(int fd)
{
	struct rfs_conn_sec sec;
	bool full;

	pthread_mutex_lock(&conns_mu);
	full = rfs_cfg.sec.max_conns && nconns >= rfs_cfg.sec.max_conns;
	pthread_mutex_unlock(&conns_mu);
	if (!full)
		return false;
	rfs_sec_conn_init(&sec, fd);
	rfs_err_rl("server: %s: max-connections (%u) reached: connection "
		   "refused",
		   sec.peer_text, rfs_cfg.sec.max_conns);
	rfs_sec_conn_fini(&sec);
	close(fd);
	return true;
}

/*
 * Reads in flight on a transport whose poll costs no syscall: go round
 * the loop (poll the transport, reap the ring) for up to AIO_SPIN_NS
 * before sleeping, since a completion or the next frame usually comes
 * sooner than a wake-up would.  Only while reads are out: an idle
 * connection sleeps at once (after the transport's own spin).
 */
#define AIO_SPIN_NS 100000LL

static bool conn_spin_aio(struct rfs_conn_ctx *cc, struct rfs_spin *sp,
			  bool *spinning)
{
	if (!rfs_aio_inflight(cc) ||
	    !(rfs_xprt_flags(cc->x) & RFS_XPRT_F_POLL_FREE)) {
		*spinning = false;
		return false;
	}
	/* none when the CPU is wanted (spin.h) */
	if (!*spinning && !rfs_spin_begin(sp, AIO_SPIN_NS))
		return false;
	*spinning = true;
	if (rfs_spin_more(sp)) {
		rfs_cpu_relax();
		return true;
	}
	*spinning = false;
	return false;
}

/*
 * Sleep in the transport (rfs_xprt_sleep) with the wake eventfd watched:
 * the replies still queued go out in the syscall that waits.  Returns
 * -EOPNOTSUPP when the transport cannot (then the caller polls).
 */
static int conn_sleep(struct rfs_conn_ctx *cc, int timeout)
{
	unsigned fired;
	uint64_t v;
	int ret;

	ret = rfs_xprt_sleep(cc->x, timeout, &cc->efd, 1, &fired);
	if (ret == -EOPNOTSUPP)
		return ret;
	if (ret == 0 || ret == -ETIME)
		rfs_obs_add(cc->obs, RFS_OBS_sleeps, 1);
	if (ret == 0)
		rfs_obs_add(cc->obs, RFS_OBS_wakeups, 1);
	if (ret < 0 && ret != -ETIME) {
		rfs_err("server: %s: transport sleep: %s", desc(cc),
			strerror(-ret));
		conn_close(cc);
	}
	if ((fired & 1) && read(cc->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rfs_err_rl("server: eventfd read: %s", strerror(errno));
	return ret;
}

static void *conn_main(void *arg)
{
	struct rfs_conn_ctx *cc = arg;
	struct rfs_xev ev[32];
	bool down = false, forced = false;
	struct rfs_spin aio_spin = { 0 };
	bool aio_spinning = false;

	/* top -H, ps -L: one per connection (+ ringfsd-exec in split mode) */
	pthread_setname_np(pthread_self(), "ringfsd-conn");
	if (conn_setup(cc))
		down = true;
	else if (!cc->split)
		rfs_aio_init(cc);
	if (!down)
		obs_start(cc);
	while (!down) {
		struct pollfd pfd[3];
		int n, nrecv = 0, ret, timeout = -1;
		long long tpoll = 0, trecv;
		uint64_t v;

		n = rfs_xprt_poll(cc->x, ev, 32);
		/* what the stall watch judges the counts by (conn_stalled) */
		if (cc->unsent || cc->stall_rx.since)
			tpoll = rfs_now_ms();
		if (n < 0) {
			rfs_err("server: %s: transport poll: %s", desc(cc),
				strerror(-n));
			conn_close(cc);
			n = 0;
		}
		for (int i = 0; i < n; i++)
			nrecv += ev[i].type == RFS_XEV_RECV;
		/* one clock read per batch: the requests' arrival */
		trecv = nrecv && cc->obs ? rfs_now_ns() : 0;
		/* reads that arrive together wait for the disk together */
		rfs_aio_batch(cc, nrecv > 1 || rfs_aio_inflight(cc));
		for (int i = 0; i < n; i++) {
			switch (ev[i].type) {
			case RFS_XEV_RECV:
				/* per request: a batch of 32 must not
				 * overshoot max-inflight 32 replies deep */
				conn_greedy(cc);
				obs_recv(cc, ev[i].buf, trecv);
				if (cc->split) {
					rfs_exec_submit(cc, ev[i].buf);
					break;
				}
				rfs_request_run(cc, ev[i].buf, &conn_io, NULL);
				rfs_xprt_buf_put(cc->x, ev[i].buf);
				break;
			case RFS_XEV_SEND:
				if (cc->unsent)
					cc->unsent--;
				cc->sends++;
				rfs_xprt_buf_put(cc->x, ev[i].buf);
				break;
			case RFS_XEV_CONN_DOWN:
				if (ev[i].status)
					rfs_obs_add(cc->obs, RFS_OBS_conn_lost,
						    1);
				if (ev[i].status && ev[i].status != -ECONNRESET)
					rfs_err_rl("server: %s: connection "
						   "closed: %s",
						   desc(cc),
						   strerror(-ev[i].status));
				down = true;
				break;
			}
		}
		if (down)
			break;
		if (rfs_aio_submit(cc) < 0)
			conn_close(cc);
		if (rfs_aio_reap(cc) > 0)
			n++;
		rfs_exec_drain(cc);
		rfs_workers_drain(cc);
		notify_drain(cc);
		pthread_mutex_lock(&conns_mu);
		if (stopping && !cc->closing) {
			pthread_mutex_unlock(&conns_mu);
			conn_close(cc);
			continue;
		}
		pthread_mutex_unlock(&conns_mu);
		if (cc->closing) {
			long long left =
				cc->close_deadline - rfs_now_ns() / 1000000;

			if (left <= 0) {
				rfs_dbg(RFS_SUB_SERVER,
					"server: %s: close "
					"timed out: tearing down",
					desc(cc));
				forced = true;
				break;
			}
			timeout = (int)left;
		}
		if (conn_limits(cc, tpoll, &timeout))
			continue;
		if (n > 0) {
			aio_spinning = false;
			continue;
		}
		obs_idle(cc);
		/* replies queued go out before any spin (the poll left them) */
		if (cc->split || rfs_aio_inflight(cc)) {
			ret = rfs_xprt_flush(cc->x);
			if (ret < 0 && ret != -EOPNOTSUPP) {
				rfs_err("server: %s: transport flush: %s",
					desc(cc), strerror(-ret));
				conn_close(cc);
			}
		}
		if (cc->split && rfs_exec_spin(cc))
			continue;
		if (conn_spin_aio(cc, &aio_spin, &aio_spinning))
			continue;
		/* reads in flight: sleep on them and the transport at once */
		rfs_xprt_spin(cc->x, !rfs_aio_inflight(cc));
		if (!cc->split && !rfs_aio_inflight(cc)) {
			/* replies out and the wait: one syscall (uring) */
			ret = conn_sleep(cc, timeout);
			if (ret != -EOPNOTSUPP)
				continue;
		}
		ret = rfs_xprt_arm(cc->x);
		if (ret != 0) {
			if (ret < 0) {
				rfs_err("server: %s: transport arm: %s",
					desc(cc), strerror(-ret));
				conn_close(cc);
			}
			continue;
		}
		pfd[0].fd = rfs_xprt_wait_fd(cc->x);
		pfd[0].events = POLLIN;
		pfd[1].fd = cc->efd;
		pfd[1].events = POLLIN;
		pfd[2].fd = rfs_aio_fd(cc); /* -1: ignored */
		pfd[2].events = POLLIN;
		if (!rfs_exec_sleep_begin(cc))
			continue;
		rfs_obs_add(cc->obs, RFS_OBS_sleeps, 1);
		ret = poll(pfd, 3, timeout);
		rfs_exec_sleep_end(cc);
		if (ret > 0)
			rfs_obs_add(cc->obs, RFS_OBS_wakeups, 1);
		if (ret < 0 && errno != EINTR) {
			rfs_err("server: %s: poll: %s", desc(cc),
				strerror(errno));
			conn_close(cc);
		}
		if (ret > 0 && (pfd[1].revents & POLLIN) &&
		    read(cc->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			rfs_err_rl("server: eventfd read: %s", strerror(errno));
	}
	rfs_dbg(RFS_SUB_SERVER, "server: %s: closed", desc(cc));

	pthread_mutex_lock(&conns_mu);
	if (cc->prev)
		cc->prev->next = cc->next;
	else
		conns = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	pthread_mutex_unlock(&conns_mu);
	conn_free(cc, forced);
	pthread_mutex_lock(&conns_mu);
	nconns--;
	pthread_cond_broadcast(&conns_cv);
	pthread_mutex_unlock(&conns_mu);
	return NULL;
}

int rfs_conn_start(int fd, const char *transport)
{
	struct rfs_conn_ctx *cc;
	pthread_attr_t attr;
	int ret;

	if (conn_refuse(fd))
		return -EBUSY;
	cc = calloc(1, sizeof(*cc));
	if (!cc) {
		close(fd);
		return -ENOMEM;
	}
	rfs_workers_init(cc);
	rfs_exec_init(cc);
	cc->io = &conn_io;
	rfs_sec_conn_init(&cc->sec, fd);
	cc->setup_fd = fd;
	cc->stream = transport;
	cc->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cc->dbuf = malloc(DBUF_SIZE);
	if (cc->efd < 0 || !cc->dbuf) {
		ret = cc->efd < 0 ? -errno : -ENOMEM;
		rfs_err("server: connection setup: %s", strerror(-ret));
		goto err_free;
	}

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&conns_mu);
	ret = -pthread_create(&cc->thr, &attr, conn_main, cc);
	if (!ret) {
		cc->next = conns;
		cc->prev = NULL;
		if (conns)
			conns->prev = cc;
		conns = cc;
		nconns++;
	}
	pthread_mutex_unlock(&conns_mu);
	pthread_attr_destroy(&attr);
	if (ret) {
		rfs_err("server: connection thread: %s", strerror(-ret));
		goto err_free;
	}
	atomic_fetch_add(&rfs_stats.connections, 1);
	return 0;
err_free:
	conn_free(cc, false);
	return ret;
}

/*
 * Phase 1 on the connection's own thread: wait (bounded) for the peer's
 * first four bytes, which say which transport it wants (a frame header
 * for tcp/uring, a setup magic for shm/rdma), then give the socket to a
 * transport context owned by this thread.  A peer that says nothing
 * before its setup deadline (--setup-timeout, auth.c) is dropped; the
 * accept loop never waits.
 */

#define SETUP_NAP_MAX_MS 64L

static int conn_open(struct rfs_conn_ctx *cc, const char *name, int fd,
		     struct rfs_tls *t);
static int conn_setup_tls(struct rfs_conn_ctx *cc, int fd);

static int conn_setup(struct rfs_conn_ctx *cc)
{
	long long deadline = cc->sec.deadline;
	const char *name;
	uint8_t first[4];
	ssize_t got;
	int ret, fd = cc->setup_fd;
	long nap_ms = 1;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = cc->efd, .events = POLLIN },
		};
		long long left = deadline - rfs_now_ns() / 1000000;
		bool stop;

		pthread_mutex_lock(&conns_mu);
		stop = stopping;
		pthread_mutex_unlock(&conns_mu);
		if (stop)
			return -ESHUTDOWN;
		if (left <= 0) {
			rfs_err_rl("server: %s: nothing received within "
				   "the setup timeout (%u s): dropped",
				   cc->sec.peer_text,
				   rfs_cfg.sec.setup_timeout_ms / 1000);
			return -ETIMEDOUT;
		}
		ret = poll(pfd, 2, (int)left);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0 ||
		    !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		got = recv(fd, first, sizeof(first), MSG_PEEK | MSG_DONTWAIT);
		if (got < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return -ECONNRESET;
		if (got == (ssize_t)sizeof(first))
			break;
		/*
		 * A trickle: wait for the rest (bounded by the deadline).
		 * poll() says "readable" for the bytes already here, so we
		 * nap, backing off: a peer that stalls inside its first four
		 * bytes must not keep this thread spinning until its
		 * deadline (a honest one sends them in one segment).
		 */
		if (nap_ms > left)
			nap_ms = (long)left;
		struct timespec ts = { 0, nap_ms * 1000000 };
		nanosleep(&ts, NULL);
		if (nap_ms < SETUP_NAP_MAX_MS)
			nap_ms *= 2;
	}
	if (rfs_tls_is_hello(first))
		return conn_setup_tls(cc, fd);
	name = rfs_xprt_sniff(first, cc->stream);
	if (!name) {
		rfs_err_rl("server: new connection: unknown protocol "
			   "(first bytes %02x %02x %02x %02x): dropped",
			   first[0], first[1], first[2], first[3]);
		return -EPROTO;
	}
	return conn_open(cc, name, fd, NULL);
}

/*
 * Give fd to a context of transport `name` owned by this thread; with
 * t (TLS), which it takes in every case.
 */
static int conn_open(struct rfs_conn_ctx *cc, const char *name, int fd,
		     struct rfs_tls *t)
{
	struct rfs_xprt_params p;
	int ret;

	rfs_xprt_params_default(&p);
	if (rfs_cfg.sec.max_msg)
		p.max_msg = rfs_cfg.sec.max_msg;
	p.rdma_addr = rfs_cfg.listen_rdma[0] ? rfs_cfg.listen_rdma : NULL;
	cc->max_msg = p.max_msg;
	ret = rfs_xprt_open(name, &p, &cc->x);
	if (ret) {
		rfs_err("server: transport %s: %s", name, strerror(-ret));
		rfs_tls_free(t);
		return ret;
	}
	cc->xmax = p.max_msg;
	/* before accept: this thread's credentials are still the process's */
	if (rfs_cfg.exec_thread ||
	    (rfs_xprt_flags(cc->x) & RFS_XPRT_F_CRED_BOUND)) {
		ret = rfs_exec_start(cc);
		if (ret) {
			rfs_tls_free(t);
			return ret;
		}
	}
	ret = t ? rfs_xprt_adopt_tls(cc->x, fd, t, &cc->c) :
		  rfs_xprt_accept(cc->x, fd, &cc->c);
	if (ret) {
		rfs_err("server: transport %s: accept: %s", name,
			strerror(-ret));
		return ret;
	}
	cc->setup_fd = -1;
	rfs_conn_set_ctx(cc->c, cc);
	rfs_dbg(RFS_SUB_SERVER, "server: %s: accepted%s", desc(cc),
		cc->split ? " (requests on an exec thread)" : "");
	if (t)
		rfs_info("server: %s: %s", desc(cc), rfs_conn_tls(cc->c));
	return 0;
}

/*
 * The peer opened with a TLS ClientHello: the handshake, bounded by the
 * setup deadline, on this thread; then the server's stream transport
 * over TLS.  A failure is logged with the peer and drops only this
 * connection.
 */
static int conn_setup_tls(struct rfs_conn_ctx *cc, int fd)
{
	struct rfs_tls *t;
	char err[256];
	int ret;

	if (!rfs_cfg.sec.tls_ctx) {
		rfs_err_rl("server: %s: the client wants TLS, but this server "
			   "has %s: dropped",
			   cc->sec.peer_text,
			   rfs_cfg.sec.tls == RFS_TLS_OFF ?
				   "--tls=off" :
				   "no TLS credentials (give --key-file or "
				   "--tls-cert)");
		return -EPROTONOSUPPORT;
	}
	/* cc->efd: rfs_conns_stop_all wakes it (shutdown) */
	ret = rfs_tls_handshake(rfs_cfg.sec.tls_ctx, fd, cc->efd,
				cc->sec.deadline, &t, err, sizeof(err));
	if (ret) {
		rfs_err_rl("server: %s: %s: dropped", cc->sec.peer_text, err);
		return ret;
	}
	cc->sec.tls = true;
	return conn_open(cc, cc->stream, fd, t);
}

void rfs_conns_stop_all(void)
{
	pthread_mutex_lock(&conns_mu);
	stopping = true;
	for (struct rfs_conn_ctx *cc = conns; cc; cc = cc->next)
		rfs_conn_wake(cc);
	while (nconns)
		pthread_cond_wait(&conns_cv, &conns_mu);
	pthread_mutex_unlock(&conns_mu);
}
