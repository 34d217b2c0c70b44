// SPDX-License-Identifier: MIT
/*
 * Worker threads: a request that may block for long (SETLKW, FLOCK
 * without LOCK_NB) must not stall its connection, so lock.c hands the
 * blocking call to a thread of its own.  The worker queues its reply
 * frame and wakes the connection loop, which sends replies in completion
 * order and joins finished workers (rfs_workers_drain).  When the
 * connection goes away, workers are told (wstop) and interrupted with
 * SIGUSR1 until they give up.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "request.h"
#include "worker.h"

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

void rfs_conn_wake(struct rfs_conn_ctx *cc)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is already non-zero, the loop will wake */
	if (write(cc->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rfs_err_rl("server: eventfd write: %s", strerror(errno));
}

static void *job_main(void *arg)
{
	struct rfs_wjob *job = arg;
	sigset_t set;

	/* not its connection's name: top -H, ps -L, tests count those */
	pthread_setname_np(pthread_self(), "ringfsd-wait");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	job->fn(job->cc, job, job->arg);
	return NULL;
}

int rfs_worker_post(struct rfs_conn_ctx *cc, rfs_wfn fn, void *arg)
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

bool rfs_worker_cancelled(struct rfs_conn_ctx *cc)
{
	bool c;

	pthread_mutex_lock(&cc->wmu);
	c = cc->wstop;
	pthread_mutex_unlock(&cc->wmu);
	return c;
}

void rfs_worker_done(struct rfs_conn_ctx *cc, struct rfs_wjob *job, void *frame,
		     uint32_t len)
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
	rfs_conn_wake(cc);
}

void rfs_workers_init(struct rfs_conn_ctx *cc)
{
	pthread_mutex_init(&cc->wmu, NULL);
}

/* send finished worker replies (send: through cc->io), join finished ones */
static void drain(struct rfs_conn_ctx *cc, bool send)
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
			out = cc->io->buf_get(cc, NULL, d->len);
		if (out) {
			memcpy(out->data, d->frame, d->len);
			cc->io->send(cc, NULL, out, d->len);
		}
		free(d->frame);
		free(d);
		d = next;
	}
}

void rfs_workers_drain(struct rfs_conn_ctx *cc)
{
	drain(cc, true);
}

void rfs_workers_fini(struct rfs_conn_ctx *cc)
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
		drain(cc, false);
		if (!busy)
			break;
		/* a signal sent before the worker blocked is lost: resend */
		if (poll(&pfd, 1, 20) > 0 && read(cc->efd, &v, sizeof(v)) < 0 &&
		    errno != EAGAIN)
			break;
	}
	drain(cc, false);
	pthread_mutex_destroy(&cc->wmu);
}
