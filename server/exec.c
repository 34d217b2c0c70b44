// SPDX-License-Identifier: MIT
/*
 * Split mode: the exec thread.
 *
 * A cred-bound transport (rdma: the kernel refuses verbs and rdma_cm
 * write()s from a thread whose credentials changed since it opened them)
 * must be driven by a thread that never calls setfsuid.  Requests then
 * run on a second thread per connection, the exec thread, in arrival
 * order (one thread, FIFO: the same semantics as inline execution).
 * The cost is a hand-off each way; a wake-up is only paid when the other
 * side has gone to sleep with its queue empty.
 *
 * The connection thread takes each request's reply buffer from the
 * transport beforehand (pool_grow may register memory: a verbs call),
 * the exec thread runs the request through the pipeline (request.c),
 * which fills that buffer and records "send" or "close" in the job, and
 * the connection thread acts on it: only that thread touches the
 * transport.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "log.h"
#include "request.h"
#include "spin.h"
#include "worker.h"

struct rfs_xjob {
	struct rfs_xjob *next;
	struct rfs_buf *in;
	struct rfs_buf *out; /* reply buffer, taken beforehand */
	uint32_t len;	     /* reply length, when send */
	bool out_lent;	     /* out is with the pipeline */
	bool send;	     /* send out (len bytes) */
	bool close;	     /* close the connection after the reply */
};

/* ---- what the pipeline does to the connection, recorded in the job ---- */

static struct rfs_buf *job_buf_get(struct rfs_conn_ctx *cc, void *arg,
				   uint32_t size)
{
	struct rfs_xjob *job = arg;

	(void)cc;
	if (job->out_lent || !job->out || job->out->cap < size)
		return NULL;
	job->out_lent = true;
	return job->out;
}

static void job_buf_put(struct rfs_conn_ctx *cc, void *arg, struct rfs_buf *b)
{
	struct rfs_xjob *job = arg;

	(void)cc;
	(void)b;
	job->out_lent = false;
}

static void job_send(struct rfs_conn_ctx *cc, void *arg, struct rfs_buf *b,
		     uint32_t len)
{
	struct rfs_xjob *job = arg;

	(void)cc;
	(void)b;
	job->len = len;
	job->send = true;
}

static void job_close(struct rfs_conn_ctx *cc, void *arg)
{
	struct rfs_xjob *job = arg;

	(void)cc;
	job->close = true;
}

static const struct rfs_req_io job_io = {
	.buf_get = job_buf_get,
	.buf_put = job_buf_put,
	.send = job_send,
	.close = job_close,
	.conn_thread = false,
};

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

bool rfs_exec_spin(struct rfs_conn_ctx *cc)
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

		rfs_request_run(cc, job->in, &job_io, job);

		job->next = NULL;
		pthread_mutex_lock(&cc->xmu);
		*cc->xdone_tail = job;
		cc->xdone_tail = &job->next;
		atomic_fetch_add(&cc->xdone_n, 1);
		pthread_mutex_unlock(&cc->xmu);
		/* see rfs_exec_sleep_begin */
		if (atomic_load(&cc->asleep))
			rfs_conn_wake(cc);
	}
	/* back to the thread's own credentials before it ends */
	rfs_creds_root(cc);
	return NULL;
}

void rfs_exec_init(struct rfs_conn_ctx *cc)
{
	pthread_mutex_init(&cc->xmu, NULL);
	pthread_cond_init(&cc->xcv, NULL);
	cc->xq_tail = &cc->xq;
	cc->xdone_tail = &cc->xdone;
}

int rfs_exec_start(struct rfs_conn_ctx *cc)
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
	cc->split = true;
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

void rfs_exec_drain(struct rfs_conn_ctx *cc)
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
			cc->io->send(cc, NULL, job->out, job->len);
			job->out = NULL;
		}
		if (job->close)
			cc->io->close(cc, NULL);
		job_free(cc, job);
		job = next;
	}
}

/*
 * The reply buffer a request needs, from a decode on this thread (the
 * codec is safe on unchecked input; the exec thread verifies and decodes
 * again).
 */
static uint32_t exec_reply_cap(struct rfs_conn_ctx *cc, struct rfs_buf *in)
{
	const struct rfs_hdr *h = in->data;
	struct rfs_req_view v;
	uint32_t cap = RFS_HDR_SIZE + 64;
	uint32_t max = cc->xmax;

	if (in->len >= RFS_HDR_SIZE && h->len == in->len - RFS_HDR_SIZE &&
	    h->major == RFS_PROTO_MAJOR &&
	    !rfs_proto_decode_req(h, (const uint8_t *)in->data + RFS_HDR_SIZE,
				  &v)) {
		uint32_t need = rfs_request_reply_cap(h, &v, max);

		if (need > cap)
			cap = need;
	}
	return cap > max ? max : cap;
}

void rfs_exec_submit(struct rfs_conn_ctx *cc, struct rfs_buf *in)
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
			   "closing",
			   rfs_conn_desc(cc->c), job ? "reply buffer" : "job");
		free(job);
		rfs_xprt_buf_put(cc->x, in);
		cc->io->close(cc, NULL);
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

void rfs_exec_fini(struct rfs_conn_ctx *cc)
{
	exec_stop(cc);
	pthread_mutex_destroy(&cc->xmu);
	pthread_cond_destroy(&cc->xcv);
}
