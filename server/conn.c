// SPDX-License-Identifier: MIT
/*
 * Connections: each accepted socket gets its own thread and its own
 * transport context.  The loop: poll the transport, and for every received
 * frame verify, decode, execute synchronously, build the reply in a
 * transport buffer and send it.  When idle: arm, then sleep in poll(2) on
 * the transport's wait fd and our eventfd (replies from worker threads,
 * shutdown).  A malformed frame closes that connection only.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spin.h"
#include "server.h"

struct rfs_wjob {
	struct rfs_conn_ctx *cc;
	pthread_t thr;
	rfs_wfn fn;
	void *arg;
	bool done;
	struct rfs_wjob *next;
};

struct rfs_wdone {
	struct rfs_wdone *next;
	void *frame;
	uint32_t len;
};


static pthread_mutex_t conns_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_cv = PTHREAD_COND_INITIALIZER;
static struct rfs_conn_ctx *conns;
static unsigned nconns;
static bool stopping;

static void wake(struct rfs_conn_ctx *cc)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is already non-zero, the loop will wake */
	if (write(cc->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rfs_err_rl("server: eventfd write: %s", strerror(errno));
}

/*
 * How long a closing connection may take to drain before we tear it down
 * ourselves (a byte-stream transport's orderly close waits for the peer's
 * FIN; a hostile or stuck peer must not pin a thread).
 */
#define CLOSE_GRACE_MS 3000
#define STOP_GRACE_MS 500

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(struct rfs_conn_ctx *cc)
{
	bool stop;

	if (cc->closing)
		return;
	pthread_mutex_lock(&conns_mu);
	stop = stopping;
	pthread_mutex_unlock(&conns_mu);
	cc->closing = true;
	cc->close_deadline = now_ms() + (stop ? STOP_GRACE_MS :
					 CLOSE_GRACE_MS);
	rfs_xprt_flush(cc->x);
	rfs_xprt_disconnect(cc->c);
}

static const char *desc(struct rfs_conn_ctx *cc)
{
	return rfs_conn_desc(cc->c);
}

static void send_frame(struct rfs_conn_ctx *cc, struct rfs_buf *out,
		       uint32_t len)
{
	int ret;

	out->len = len;
	atomic_fetch_add(&rfs_stats.bytes_out, len);
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
 * A request handed to the exec thread (split mode).  The connection
 * thread takes the reply buffer from the transport beforehand (pool_grow
 * may register memory: a verbs call), the exec thread fills it, and the
 * connection thread sends it: only that thread touches the transport.
 */
struct rfs_xjob {
	struct rfs_xjob *next;
	struct rfs_buf *in;
	struct rfs_buf *out;	/* reply buffer, taken beforehand */
	uint32_t len;		/* reply length, when send */
	bool out_lent;		/* out is with handle_recv */
	bool send;		/* send out (len bytes) */
	bool close;		/* close the connection after the reply */
};

/*
 * What handle_recv does to the transport, inline (job NULL: we are the
 * connection thread) or recorded in the job for the connection thread.
 */
static struct rfs_buf *out_get(struct rfs_conn_ctx *cc, struct rfs_xjob *job,
			       uint32_t size)
{
	if (!job)
		return rfs_xprt_buf_get(cc->x, size);
	if (job->out_lent || !job->out || job->out->cap < size)
		return NULL;
	job->out_lent = true;
	return job->out;
}

static void out_put(struct rfs_conn_ctx *cc, struct rfs_xjob *job,
		    struct rfs_buf *out)
{
	if (!job)
		rfs_xprt_buf_put(cc->x, out);
	else
		job->out_lent = false;
}

static void reply_send(struct rfs_conn_ctx *cc, struct rfs_xjob *job,
		       struct rfs_buf *out, uint32_t len)
{
	if (!job) {
		send_frame(cc, out, len);
		return;
	}
	job->len = len;
	job->send = true;
}

static void req_close(struct rfs_conn_ctx *cc, struct rfs_xjob *job)
{
	if (job)
		job->close = true;
	else
		conn_close(cc);
}

/*
 * Duplicate-request cache (drc.c): a replayed non-idempotent request
 * that already ran gets its stored reply and does not run again.
 * Returns RFS_DRC_RUN (*reserved tells whether the reply must be stored),
 * RFS_DRC_CACHED (the reply was sent) or -errno to reply.
 */
static int drc_check(struct rfs_conn_ctx *cc, struct rfs_xjob *job,
		     const struct rfs_hdr *h, bool *reserved)
{
	bool replay = h->flags & RFS_HF_REPLAY;
	struct rfs_buf *out;
	void *frame = NULL;
	uint32_t len = 0;
	int ret;

	*reserved = false;
	if (!cc->sess || !rfs_drc_wanted(h->opcode))
		return RFS_DRC_RUN;
	ret = rfs_drc_begin(cc->sess->drc, h->id, replay, &frame, &len);
	if (ret == -EAGAIN) {
		rfs_err_rl("server: %s: replayed request %llu (%s) still "
			   "running: not run twice", desc(cc),
			   (unsigned long long)h->id,
			   rfs_proto_op_name(h->opcode));
		return -EIO;
	}
	if (ret == RFS_DRC_RUN) {
		*reserved = true;
		return RFS_DRC_RUN;
	}
	rfs_dbg(RFS_SUB_SERVER, "server: %s: replayed request %llu (%s): "
		"answered from the duplicate-request cache", desc(cc),
		(unsigned long long)h->id, rfs_proto_op_name(h->opcode));
	out = out_get(cc, job, len);
	if (out) {
		memcpy(out->data, frame, len);
		reply_send(cc, job, out, len);
	}
	free(frame);
	return RFS_DRC_CACHED;
}

static void drc_store(struct rfs_conn_ctx *cc, const struct rfs_hdr *h,
		      bool *reserved, const void *frame, uint32_t len)
{
	if (!*reserved)
		return;
	*reserved = false;
	rfs_drc_end(cc->sess->drc, h->id, frame, len);
}

static void handle_recv(struct rfs_conn_ctx *cc, struct rfs_buf *in,
			struct rfs_xjob *job)
{
	bool drc = false;
	const struct rfs_hdr *h = in->data;
	const uint8_t *payload = (const uint8_t *)in->data + RFS_HDR_SIZE;
	struct rfs_req r = { .cc = cc, .sess = cc->sess, .h = h };
	struct rfs_buf *out = NULL;
	bool csum = cc->sess ? cc->sess->csum : false;
	uint32_t cap;
	int ret;

	atomic_fetch_add(&rfs_stats.requests, 1);
	atomic_fetch_add(&rfs_stats.bytes_in, in->len);
	/* split mode: the connection thread checked before queueing */
	if (!job && cc->closing)
		return;
	if (in->len < RFS_HDR_SIZE || h->len != in->len - RFS_HDR_SIZE ||
	    (h->flags & RFS_HF_REPLY)) {
		rfs_err_rl("server: %s: malformed frame (request %llu): "
			   "closing", desc(cc), (unsigned long long)h->id);
		goto close;
	}
	ret = rfs_proto_verify(h, payload, csum);
	if (ret) {
		rfs_err_rl("server: %s: request %llu: bad or missing "
			   "checksum: closing", desc(cc),
			   (unsigned long long)h->id);
		goto close;
	}
	if (cc->sess)
		r.exp = cc->sess->exp;

	if (h->major != RFS_PROTO_MAJOR) {
		ret = -EPROTONOSUPPORT;
		r.close_after = true;
		goto reply_err;
	}
	if (!cc->sess && h->opcode != RFS_OP_HELLO &&
	    h->opcode != RFS_OP_ATTACH && h->opcode != RFS_OP_AUTH) {
		rfs_err_rl("server: %s: request %llu: %s before HELLO: "
			   "closing", desc(cc), (unsigned long long)h->id,
			   rfs_proto_op_name(h->opcode));
		ret = -EACCES;
		r.close_after = true;
		goto reply_err;
	}
	ret = rfs_proto_decode_req(h, payload, &r.v);
	if (ret == -EINVAL || ret == -ENAMETOOLONG) {
		rfs_dbg(RFS_SUB_SERVER, "server: %s: request %llu: bad name",
			desc(cc), (unsigned long long)h->id);
		goto reply_err;
	}
	if (ret) {
		rfs_err_rl("server: %s: request %llu (%s): malformed "
			   "payload: %s: closing", desc(cc),
			   (unsigned long long)h->id,
			   rfs_proto_op_name(h->opcode), strerror(-ret));
		goto close;
	}

	if (h->opcode == RFS_OP_BYE && cc->sess)
		rfs_session_bye(cc->sess);
	ret = drc_check(cc, job, h, &drc);
	if (ret == RFS_DRC_CACHED)
		return;
	if (ret < 0)
		goto reply_err;

	cap = RFS_HDR_SIZE + rfs_reply_size(h, &r.v);
	if (cap > cc->max_msg)
		cap = cc->max_msg;
	out = out_get(cc, job, cap);
	if (!out) {
		rfs_err_rl("server: %s: request %llu: no reply buffer: "
			   "closing", desc(cc), (unsigned long long)h->id);
		goto close;
	}
	rfs_mb_reply(&r.mb, out->data, out->cap, h, 0);
	ret = rfs_dispatch(&r);
	for (unsigned i = 0; i < r.nnodes; i++)
		rfs_node_put(r.nodes[i]);
	if (r.async || h->opcode == RFS_OP_FORGET) {
		out_put(cc, job, out);
		goto done;
	}
	if (r.csum_reply)
		csum = true;
	if (ret >= 0) {
		ret = rfs_mb_finish(&r.mb, csum);
		if (ret < 0) {
			rfs_err_rl("server: %s: request %llu: reply does not "
				   "fit: %s", desc(cc),
				   (unsigned long long)h->id, strerror(-ret));
			ret = -EIO;
			goto reply_err;
		}
		drc_store(cc, h, &drc, out->data, (uint32_t)ret);
		reply_send(cc, job, out, (uint32_t)ret);
		goto done;
	}
reply_err:
	atomic_fetch_add(&rfs_stats.errors, 1);
	if (!out) {
		out = out_get(cc, job, RFS_HDR_SIZE + 8);
		if (!out) {
			rfs_err_rl("server: %s: no reply buffer: closing",
				   desc(cc));
			goto close;
		}
	}
	rfs_mb_reply(&r.mb, out->data, out->cap, h, ret);
	if (ret == -EPROTONOSUPPORT) {
		rfs_mb_hdr(&r.mb)->major = RFS_PROTO_MAJOR;
		rfs_mb_hdr(&r.mb)->minor = RFS_PROTO_MINOR;
	}
	if (ret == -ESTALE && r.unknown) {
		struct rfs_unknown_node *u = rfs_mb_put(&r.mb, sizeof(*u));

		rfs_mb_hdr(&r.mb)->flags |= RFS_HF_UNKNOWN_NODE;
		if (u)
			u->nodeid = r.unknown;
	}
	ret = rfs_mb_finish(&r.mb, csum);
	if (ret < 0) {
		out_put(cc, job, out);
		goto close;
	}
	drc_store(cc, h, &drc, out->data, (uint32_t)ret);
	reply_send(cc, job, out, (uint32_t)ret);
done:
	if (r.close_after)
		req_close(cc, job);
	return;
close:
	drc_store(cc, h, &drc, NULL, 0);
	atomic_fetch_add(&rfs_stats.errors, 1);
	req_close(cc, job);
}

/* ---- worker threads ---------------------------------------------------- */

static void *job_main(void *arg)
{
	struct rfs_wjob *job = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	job->fn(job->cc, job, job->arg);
	return NULL;
}

int rfs_conn_post_worker(struct rfs_conn_ctx *cc, rfs_wfn fn, void *arg)
{
	struct rfs_wjob *job;
	int ret;

	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->cc = cc;
	job->fn = fn;
	job->arg = arg;
	pthread_mutex_lock(&cc->wmu);
	ret = -pthread_create(&job->thr, NULL, job_main, job);
	if (!ret) {
		job->next = cc->jobs;
		cc->jobs = job;
	}
	pthread_mutex_unlock(&cc->wmu);
	if (ret) {
		rfs_err("server: worker thread: %s", strerror(-ret));
		free(job);
	}
	return ret;
}

bool rfs_conn_worker_cancelled(struct rfs_conn_ctx *cc)
{
	bool c;

	pthread_mutex_lock(&cc->wmu);
	c = cc->wstop;
	pthread_mutex_unlock(&cc->wmu);
	return c;
}

void rfs_conn_worker_done(struct rfs_conn_ctx *cc, struct rfs_wjob *job,
			  void *frame, uint32_t len)
{
	struct rfs_wdone *d = NULL;

	if (frame) {
		d = malloc(sizeof(*d));
		if (!d) {
			free(frame);
		} else {
			d->frame = frame;
			d->len = len;
		}
	}
	pthread_mutex_lock(&cc->wmu);
	if (d) {
		/* append, so replies leave in completion order */
		struct rfs_wdone **pp = &cc->done;

		while (*pp)
			pp = &(*pp)->next;
		d->next = NULL;
		*pp = d;
	}
	job->done = true;
	pthread_mutex_unlock(&cc->wmu);
	wake(cc);
}

/* send finished worker replies, join finished workers */
static void drain_workers(struct rfs_conn_ctx *cc, bool send)
{
	struct rfs_wdone *d;
	struct rfs_wjob *finished = NULL, **pp;

	pthread_mutex_lock(&cc->wmu);
	d = cc->done;
	cc->done = NULL;
	for (pp = &cc->jobs; *pp;) {
		struct rfs_wjob *j = *pp;

		if (j->done) {
			*pp = j->next;
			j->next = finished;
			finished = j;
		} else {
			pp = &j->next;
		}
	}
	pthread_mutex_unlock(&cc->wmu);

	while (finished) {
		struct rfs_wjob *j = finished;

		finished = j->next;
		pthread_join(j->thr, NULL);
		free(j);
	}
	while (d) {
		struct rfs_wdone *next = d->next;
		struct rfs_buf *out = NULL;

		if (send && !cc->closing)
			out = rfs_xprt_buf_get(cc->x, d->len);
		if (out) {
			memcpy(out->data, d->frame, d->len);
			send_frame(cc, out, d->len);
		}
		free(d->frame);
		free(d);
		d = next;
	}
}

static void stop_workers(struct rfs_conn_ctx *cc)
{
	for (;;) {
		struct pollfd pfd = { .fd = cc->efd, .events = POLLIN };
		uint64_t v;
		bool busy = false;

		pthread_mutex_lock(&cc->wmu);
		cc->wstop = true;
		for (struct rfs_wjob *j = cc->jobs; j; j = j->next) {
			if (!j->done) {
				pthread_kill(j->thr, SIGUSR1);
				busy = true;
			}
		}
		pthread_mutex_unlock(&cc->wmu);
		drain_workers(cc, false);
		if (!busy)
			break;
		/* a signal sent before the worker blocked is lost: resend */
		if (poll(&pfd, 1, 20) > 0 &&
		    read(cc->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
	}
	drain_workers(cc, false);
}

/* ---- split mode: the exec thread ---------------------------------------- */

/*
 * A cred-bound transport (rdma: the kernel refuses verbs and rdma_cm
 * write()s from a thread whose credentials changed since it opened them)
 * must be driven by a thread that never calls setfsuid.  Requests then
 * run on a second thread per connection, the exec thread, in arrival
 * order (one thread, FIFO: the same semantics as inline execution).
 * The cost is a hand-off each way; a wake-up is only paid when the other
 * side has gone to sleep with its queue empty.
 */

/*
 * The two threads of a split connection hand requests and replies over;
 * most requests take microseconds, so each side waits a little
 * (EXEC_SPIN_NS) on its CPU for the other's next item before it sleeps,
 * instead of paying a futex or eventfd wake-up and a context switch.
 * True when *ctr moved past seen.
 */
#define EXEC_SPIN_NS 20000

static bool exec_wait_spin(_Atomic(unsigned) *ctr, unsigned seen)
{
	long long end = rfs_now_ns() + EXEC_SPIN_NS;

	do {
		for (int i = 0; i < 64; i++) {
			if (atomic_load_explicit(ctr, memory_order_relaxed) !=
			    seen)
				return true;
			rfs_cpu_relax();
		}
	} while (rfs_now_ns() < end);
	return false;
}

/* the connection thread, before it sleeps with requests out */
static bool exec_spin(struct rfs_conn_ctx *cc)
{
	return cc->xpending && exec_wait_spin(&cc->xdone_n, cc->xdone_seen);
}

static void *exec_main(void *arg)
{
	struct rfs_conn_ctx *cc = arg;

	unsigned taken = 0;

	pthread_setname_np(pthread_self(), "ringfsd-exec");
	for (;;) {
		struct rfs_xjob *job;

		/* the next request often follows within microseconds */
		exec_wait_spin(&cc->xsub_n, taken);
		pthread_mutex_lock(&cc->xmu);
		while (!cc->xq && !cc->xstop)
			pthread_cond_wait(&cc->xcv, &cc->xmu);
		if (cc->xstop) {
			pthread_mutex_unlock(&cc->xmu);
			break;
		}
		job = cc->xq;
		cc->xq = job->next;
		if (!cc->xq)
			cc->xq_tail = &cc->xq;
		taken++;
		pthread_mutex_unlock(&cc->xmu);

		handle_recv(cc, job->in, job);

		job->next = NULL;
		pthread_mutex_lock(&cc->xmu);
		*cc->xdone_tail = job;
		cc->xdone_tail = &job->next;
		atomic_fetch_add(&cc->xdone_n, 1);
		pthread_mutex_unlock(&cc->xmu);
		/*
		 * Wake the connection thread only if it sleeps: it sets
		 * asleep before it looks at xdone_n a last time, we bumped
		 * xdone_n before we look at asleep (both seq_cst), so one
		 * of us sees the other.
		 */
		if (atomic_load(&cc->asleep))
			wake(cc);
	}
	/* back to the thread's own credentials before it ends */
	rfs_creds_root(cc);
	return NULL;
}

static int exec_start(struct rfs_conn_ctx *cc)
{
	int ret;

	cc->xq_tail = &cc->xq;
	cc->xdone_tail = &cc->xdone;
	ret = -pthread_create(&cc->xthr, NULL, exec_main, cc);
	if (ret) {
		rfs_err("server: %s: exec thread: %s", cc->sec.peer_text,
			strerror(-ret));
		return ret;
	}
	cc->xthr_up = true;
	return 0;
}

static void job_free(struct rfs_conn_ctx *cc, struct rfs_xjob *job)
{
	if (job->out)
		rfs_xprt_buf_put(cc->x, job->out);
	rfs_xprt_buf_put(cc->x, job->in);
	free(job);
	cc->xpending--;
}

/* send the replies of finished jobs, in order */
static void exec_drain(struct rfs_conn_ctx *cc)
{
	struct rfs_xjob *job;

	if (!cc->split)
		return;
	pthread_mutex_lock(&cc->xmu);
	job = cc->xdone;
	cc->xdone = NULL;
	cc->xdone_tail = &cc->xdone;
	cc->xdone_seen = atomic_load(&cc->xdone_n);
	pthread_mutex_unlock(&cc->xmu);
	while (job) {
		struct rfs_xjob *next = job->next;

		if (job->send && !cc->closing) {
			send_frame(cc, job->out, job->len);
			job->out = NULL;
		}
		if (job->close)
			conn_close(cc);
		job_free(cc, job);
		job = next;
	}
}

/*
 * The reply buffer a request needs, from a decode on this thread (the
 * codec is safe on unchecked input; the exec thread verifies and decodes
 * again): a READ needs its length, most others a few hundred bytes.
 */
static uint32_t exec_reply_cap(struct rfs_conn_ctx *cc, struct rfs_buf *in)
{
	const struct rfs_hdr *h = in->data;
	struct rfs_req_view v;
	uint32_t cap = RFS_HDR_SIZE + 64;
	uint32_t max = cc->xmax;

	if (in->len >= RFS_HDR_SIZE && h->len == in->len - RFS_HDR_SIZE &&
	    h->major == RFS_PROTO_MAJOR &&
	    !rfs_proto_decode_req(h, (const uint8_t *)in->data +
				  RFS_HDR_SIZE, &v)) {
		uint32_t need = RFS_HDR_SIZE + rfs_reply_size(h, &v);

		if (need > cap)
			cap = need;
	}
	return cap > max ? max : cap;
}

/* hand a received request to the exec thread (takes `in`) */
static void exec_submit(struct rfs_conn_ctx *cc, struct rfs_buf *in)
{
	struct rfs_xjob *job;
	bool signal;

	if (cc->closing) {
		rfs_xprt_buf_put(cc->x, in);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (job)
		job->out = rfs_xprt_buf_get(cc->x, exec_reply_cap(cc, in));
	if (!job || !job->out) {
		rfs_err_rl("server: %s: no memory for a request (%s): "
			   "closing", desc(cc), job ? "reply buffer" : "job");
		free(job);
		rfs_xprt_buf_put(cc->x, in);
		conn_close(cc);
		return;
	}
	job->in = in;
	cc->xpending++;
	pthread_mutex_lock(&cc->xmu);
	signal = !cc->xq;
	*cc->xq_tail = job;
	cc->xq_tail = &job->next;
	atomic_fetch_add(&cc->xsub_n, 1);
	pthread_mutex_unlock(&cc->xmu);
	if (signal)
		pthread_cond_signal(&cc->xcv);
}

/* stop and join the exec thread; drop what it did not run or send */
static void exec_stop(struct rfs_conn_ctx *cc)
{
	struct rfs_xjob *job;

	if (!cc->xthr_up)
		return;
	pthread_mutex_lock(&cc->xmu);
	cc->xstop = true;
	pthread_mutex_unlock(&cc->xmu);
	pthread_cond_signal(&cc->xcv);
	pthread_join(cc->xthr, NULL);
	cc->xthr_up = false;
	for (int i = 0; i < 2; i++) {
		job = i ? cc->xdone : cc->xq;
		while (job) {
			struct rfs_xjob *next = job->next;

			job_free(cc, job);
			job = next;
		}
	}
	cc->xq = cc->xdone = NULL;
	cc->xq_tail = &cc->xq;
	cc->xdone_tail = &cc->xdone;
}

/* ---- the loop ---------------------------------------------------------- */

static void conn_free(struct rfs_conn_ctx *cc, bool forced)
{
	exec_stop(cc);
	stop_workers(cc);
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
	pthread_mutex_destroy(&cc->wmu);
	pthread_mutex_destroy(&cc->xmu);
	pthread_cond_destroy(&cc->xcv);
	free(cc->dbuf);
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
	cc->close_deadline = now_ms();
}

static bool conn_greedy(struct rfs_conn_ctx *cc)
{
	/* split mode: requests still with the exec thread count too */
	if (cc->closing ||
	    cc->unsent + cc->xpending <= rfs_cfg.sec.max_inflight)
		return false;
	rfs_err_rl("server: %s (%s): %u replies not collected "
		   "(max-inflight %u): closing", desc(cc),
		   cc->sec.peer_text, cc->unsent + cc->xpending,
		   rfs_cfg.sec.max_inflight);
	conn_abort(cc);
	return true;
}

/*
 * Limits checked on every turn of the loop (auth.h): a client that does
 * not collect its replies (more than max-inflight sent but not yet
 * taken by the kernel) or has not finished HELLO/ATTACH by the setup
 * deadline is disconnected, so it cannot hold a thread and memory.
 * Returns true when it started closing the connection; otherwise may
 * shorten *timeout to the setup deadline.
 */
static bool conn_limits(struct rfs_conn_ctx *cc, int *timeout)
{
	long long left;

	if (cc->closing)
		return false;
	if (conn_greedy(cc))
		return true;
	if (atomic_load(&cc->established))
		return false;
	left = cc->sec.deadline - now_ms();
	if (left <= 0) {
		rfs_err_rl("server: %s: no HELLO/ATTACH within the setup "
			   "timeout: dropped", cc->sec.peer_text);
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
		   "refused", sec.peer_text, rfs_cfg.sec.max_conns);
	close(fd);
	return true;
}

static void *conn_main(void *arg)
{
	struct rfs_conn_ctx *cc = arg;
	struct rfs_xev ev[32];
	bool down = false, forced = false;

	/* top -H, ps -L: one per connection (+ ringfsd-exec in split mode) */
	pthread_setname_np(pthread_self(), "ringfsd-conn");
	if (conn_setup(cc))
		down = true;
	while (!down) {
		struct pollfd pfd[2];
		int n, ret, timeout = -1;
		uint64_t v;

		n = rfs_xprt_poll(cc->x, ev, 32);
		if (n < 0) {
			rfs_err("server: %s: transport poll: %s", desc(cc),
				strerror(-n));
			conn_close(cc);
			n = 0;
		}
		for (int i = 0; i < n; i++) {
			switch (ev[i].type) {
			case RFS_XEV_RECV:
				/* per request: a batch of 32 must not
				 * overshoot max-inflight 32 replies deep */
				conn_greedy(cc);
				if (cc->split) {
					exec_submit(cc, ev[i].buf);
					break;
				}
				handle_recv(cc, ev[i].buf, NULL);
				rfs_xprt_buf_put(cc->x, ev[i].buf);
				break;
			case RFS_XEV_SEND:
				if (cc->unsent)
					cc->unsent--;
				rfs_xprt_buf_put(cc->x, ev[i].buf);
				break;
			case RFS_XEV_CONN_DOWN:
				if (ev[i].status && ev[i].status != -ECONNRESET)
					rfs_err_rl("server: %s: connection "
						   "closed: %s", desc(cc),
						   strerror(-ev[i].status));
				down = true;
				break;
			}
		}
		if (down)
			break;
		exec_drain(cc);
		drain_workers(cc, true);
		pthread_mutex_lock(&conns_mu);
		if (stopping && !cc->closing) {
			pthread_mutex_unlock(&conns_mu);
			conn_close(cc);
			continue;
		}
		pthread_mutex_unlock(&conns_mu);
		if (cc->closing) {
			long long left = cc->close_deadline - now_ms();

			if (left <= 0) {
				rfs_dbg(RFS_SUB_SERVER, "server: %s: close "
					"timed out: tearing down", desc(cc));
				forced = true;
				break;
			}
			timeout = (int)left;
		}
		if (conn_limits(cc, &timeout))
			continue;
		if (n > 0)
			continue;
		if (cc->split && exec_spin(cc))
			continue;
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
		if (cc->split) {
			atomic_store(&cc->asleep, true);
			if (atomic_load(&cc->xdone_n) != cc->xdone_seen) {
				atomic_store(&cc->asleep, false);
				continue;
			}
		}
		ret = poll(pfd, 2, timeout);
		if (cc->split)
			atomic_store(&cc->asleep, false);
		if (ret < 0 && errno != EINTR) {
			rfs_err("server: %s: poll: %s", desc(cc),
				strerror(errno));
			conn_close(cc);
		}
		if (ret > 0 && (pfd[1].revents & POLLIN) &&
		    read(cc->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			rfs_err_rl("server: eventfd read: %s",
				   strerror(errno));
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
	pthread_mutex_init(&cc->wmu, NULL);
	pthread_mutex_init(&cc->xmu, NULL);
	pthread_cond_init(&cc->xcv, NULL);
	cc->xq_tail = &cc->xq;
	cc->xdone_tail = &cc->xdone;
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

static int conn_setup(struct rfs_conn_ctx *cc)
{
	long long deadline = cc->sec.deadline;
	struct rfs_xprt_params p;
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
		long long left = deadline - now_ms();
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
		if (ret <= 0 || !(pfd[0].revents & (POLLIN | POLLHUP |
						    POLLERR)))
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
	name = rfs_xprt_sniff(first, cc->stream);
	if (!name) {
		rfs_err_rl("server: new connection: unknown protocol "
			   "(first bytes %02x %02x %02x %02x): dropped",
			   first[0], first[1], first[2], first[3]);
		return -EPROTO;
	}
	rfs_xprt_params_default(&p);
	if (rfs_cfg.sec.max_msg)
		p.max_msg = rfs_cfg.sec.max_msg;
	p.rdma_addr = rfs_cfg.listen_rdma[0] ? rfs_cfg.listen_rdma : NULL;
	cc->max_msg = p.max_msg;
	ret = rfs_xprt_open(name, &p, &cc->x);
	if (ret) {
		rfs_err("server: transport %s: %s", name, strerror(-ret));
		return ret;
	}
	cc->xmax = p.max_msg;
	/* before accept: this thread's credentials are still the process's */
	if (rfs_cfg.exec_thread ||
	    (rfs_xprt_flags(cc->x) & RFS_XPRT_F_CRED_BOUND)) {
		ret = exec_start(cc);
		if (ret)
			return ret;
		cc->split = true;
	}
	ret = rfs_xprt_accept(cc->x, fd, &cc->c);
	if (ret) {
		rfs_err("server: transport %s: accept: %s", name,
			strerror(-ret));
		return ret;
	}
	cc->setup_fd = -1;
	rfs_conn_set_ctx(cc->c, cc);
	rfs_dbg(RFS_SUB_SERVER, "server: %s: accepted%s", desc(cc),
		cc->split ? " (requests on an exec thread)" : "");
	return 0;
}

void rfs_conns_stop_all(void)
{
	pthread_mutex_lock(&conns_mu);
	stopping = true;
	for (struct rfs_conn_ctx *cc = conns; cc; cc = cc->next)
		wake(cc);
	while (nconns)
		pthread_cond_wait(&conns_cv, &conns_mu);
	pthread_mutex_unlock(&conns_mu);
}
