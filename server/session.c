// SPDX-License-Identifier: MIT
/*
 * Sessions: created by HELLO, joined by ATTACH.  A session owns its open
 * files (fh = slot index | generation << 32, so a stale or forged fh gets
 * -EBADF, never another file), its lock fds and its duplicate-request
 * cache.  It outlives its last connection for rfs_cfg.session_grace
 * seconds so that a client whose connection dropped re-ATTACHes and finds
 * all of them; a reaper thread frees the sessions whose grace ran out.
 * A client that said BYE does not get a grace period.  A session's reply
 * log (xlog.c) ends with it, except when the server exits: the next start
 * keeps it for the client to RESUME.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "spin.h"

static pthread_mutex_t sess_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rfs_session *sess_list;
static uint64_t sess_count;
static pthread_cond_t reap_cv = PTHREAD_COND_INITIALIZER;
static pthread_t reap_thr;
static bool reap_started, reap_stop;

#define REAP_TICK_MS 200

static void session_free(struct rfs_session *s, bool keep_log);

/* Unlink (under sess_mu) every orphan whose grace period ran out. */
static struct rfs_session *expired_locked(long long now)
{
	struct rfs_session **pp = &sess_list, *dead = NULL;
	long long grace = (long long)rfs_cfg.session_grace * 1000;

	while (*pp) {
		struct rfs_session *s = *pp;

		if (!s->nconn && s->orphan_since &&
		    now - s->orphan_since >= grace) {
			*pp = s->next;
			sess_count--;
			s->next = dead;
			dead = s;
		} else {
			pp = &s->next;
		}
	}
	return dead;
}

static void *reap_main(void *arg)
{
	(void)arg;
	/* started by a connection thread: not its name */
	pthread_setname_np(pthread_self(), "ringfsd-reap");
	pthread_mutex_lock(&sess_mu);
	while (!reap_stop) {
		struct rfs_session *dead;
		struct timespec ts;

		dead = expired_locked(rfs_now_ns() / 1000000);
		pthread_mutex_unlock(&sess_mu);
		while (dead) {
			struct rfs_session *s = dead;

			dead = s->next;
			rfs_info("server: session %016llx: grace period "
				 "over: freed",
				 (unsigned long long)s->id);
			/* shared reply logs: its client may be on another
			   gateway, which may take the log over */
			session_free(s, rfs_xlog_shared());
		}
		rfs_xlog_expire(rfs_now_ns() / 1000000);
		pthread_mutex_lock(&sess_mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += REAP_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!reap_stop)
			pthread_cond_timedwait(&reap_cv, &sess_mu, &ts);
	}
	pthread_mutex_unlock(&sess_mu);
	return NULL;
}

/* under sess_mu */
static void reaper_start_locked(void)
{
	int ret;

	if (reap_started || reap_stop)
		return;
	ret = pthread_create(&reap_thr, NULL, reap_main, NULL);
	if (ret) {
		rfs_err("server: session reaper thread: %s", strerror(ret));
		return;
	}
	reap_started = true;
}

void rfs_sessions_reaper_start(void)
{
	pthread_mutex_lock(&sess_mu);
	reaper_start_locked();
	pthread_mutex_unlock(&sess_mu);
}

static int random_bytes(void *p, size_t len)
{
	ssize_t n;

	do {
		n = getrandom(p, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int rfs_session_new(struct rfs_export *e, bool csum, uint32_t max_msg,
		    struct rfs_session **out)
{
	struct rfs_session *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	ret = random_bytes(s->token, sizeof(s->token));
	if (!ret)
		ret = random_bytes(&s->id, sizeof(s->id));
	if (ret) {
		free(s);
		return ret;
	}
	ret = rfs_drc_new(&s->drc);
	if (ret) {
		free(s);
		return ret;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->exp = e;
	s->csum = csum;
	s->max_msg = max_msg;
	s->nconn = 1;
	pthread_mutex_lock(&sess_mu);
	s->next = sess_list;
	sess_list = s;
	sess_count++;
	pthread_mutex_unlock(&sess_mu);
	atomic_fetch_add(&rfs_stats.sessions, 1);
	*out = s;
	return 0;
}

int rfs_session_attach(uint64_t id, const uint8_t token[16],
		       struct rfs_session **out)
{
	struct rfs_session *s;
	/* an unknown session (server restarted, grace over): the client
	   starts a new one with HELLO */
	int ret = -EBADSLT;

	pthread_mutex_lock(&sess_mu);
	for (s = sess_list; s; s = s->next) {
		uint8_t diff = 0;

		if (s->id != id)
			continue;
		for (int i = 0; i < 16; i++)
			diff |= s->token[i] ^ token[i];
		ret = -EACCES;
		if (!diff) {
			s->nconn++;
			s->orphan_since = 0;
			s->bye = false;
			*out = s;
			ret = 0;
		}
		break;
	}
	pthread_mutex_unlock(&sess_mu);
	return ret;
}

static void fh_free(struct rfs_fh *f)
{
	f->be->close(&(struct rfs_bfile){
		.fd = f->fd, .obj = f->obj, .dir = f->dir });
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static void session_free(struct rfs_session *s, bool keep_log)
{
	rfs_locks_drop_session(s);
	rfs_xlog_free(s->xlog, keep_log);
	rfs_drc_free(s->drc);
	for (uint32_t i = 0; i < s->nfh; i++)
		if (s->fhs[i])
			fh_free(s->fhs[i]);
	free(s->fhs);
	free(s->gens);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void rfs_session_detach(struct rfs_session *s)
{
	struct rfs_session **pp;
	bool last;

	pthread_mutex_lock(&sess_mu);
	last = --s->nconn == 0;
	if (last && !s->bye && rfs_cfg.session_grace) {
		/* keep it for a reconnecting client: the reaper frees it */
		s->orphan_since = rfs_now_ns() / 1000000;
		reaper_start_locked();
		last = false;
	} else if (last) {
		for (pp = &sess_list; *pp != s; pp = &(*pp)->next)
			;
		*pp = s->next;
		sess_count--;
	}
	pthread_mutex_unlock(&sess_mu);
	if (last)
		session_free(s, false);
}

uint64_t rfs_sessions_count(void)
{
	uint64_t c;

	pthread_mutex_lock(&sess_mu);
	c = sess_count;
	pthread_mutex_unlock(&sess_mu);
	return c;
}

void rfs_session_bye(struct rfs_session *s)
{
	pthread_mutex_lock(&sess_mu);
	s->bye = true;
	pthread_mutex_unlock(&sess_mu);
}

void rfs_sessions_fini(void)
{
	bool join;

	pthread_mutex_lock(&sess_mu);
	reap_stop = true;
	join = reap_started;
	pthread_cond_broadcast(&reap_cv);
	pthread_mutex_unlock(&sess_mu);
	if (join)
		pthread_join(reap_thr, NULL);
	pthread_mutex_lock(&sess_mu);
	while (sess_list) {
		struct rfs_session *s = sess_list;

		sess_list = s->next;
		/* the server exits: a restarted one lets the client RESUME */
		session_free(s, true);
	}
	sess_count = 0;
	pthread_mutex_unlock(&sess_mu);
}

int rfs_fh_add(struct rfs_session *s, const struct rfs_bfile *bf, bool dir,
	       int open_flags, uint64_t nodeid, uint64_t *fh)
{
	struct rfs_fh *f;
	uint32_t slot;
	int ret = 0;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = bf->fd;
	f->obj = bf->obj;
	f->be = s->exp->be;
	f->dir = dir;
	f->direct = !dir && (open_flags & O_DIRECT);
	f->append = !dir && (open_flags & O_APPEND);
	f->nodeid = nodeid;
	f->pos_valid = true; /* a fresh fd is at cookie 0 */
	pthread_mutex_init(&f->mu, NULL);

	pthread_mutex_lock(&s->mu);
	for (slot = 0; slot < s->nfh; slot++)
		if (!s->fhs[slot])
			break;
	if (slot == s->nfh) {
		uint32_t n = s->nfh ? s->nfh * 2 : 16;
		struct rfs_fh **nf;
		uint32_t *ng;

		if (n > (1u << 24)) {
			ret = -EMFILE;
			goto out_unlock;
		}
		nf = realloc(s->fhs, n * sizeof(*nf));
		if (!nf) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		s->fhs = nf;
		ng = realloc(s->gens, n * sizeof(*ng));
		if (!ng) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		s->gens = ng;
		for (uint32_t i = s->nfh; i < n; i++) {
			s->fhs[i] = NULL;
			s->gens[i] = 1;
		}
		s->nfh = n;
	}
	s->fhs[slot] = f;
	*fh = slot | (uint64_t)s->gens[slot] << 32;
out_unlock:
	pthread_mutex_unlock(&s->mu);
	if (ret) {
		pthread_mutex_destroy(&f->mu);
		free(f);
	}
	return ret;
}

static struct rfs_fh *slot_locked(struct rfs_session *s, uint64_t fh)
{
	uint32_t slot = (uint32_t)fh, gen = (uint32_t)(fh >> 32);

	if (slot >= s->nfh || !s->fhs[slot] || s->gens[slot] != gen ||
	    s->fhs[slot]->released)
		return NULL;
	return s->fhs[slot];
}

int rfs_fh_get(struct rfs_session *s, uint64_t fh, struct rfs_fh **out)
{
	struct rfs_fh *f;

	pthread_mutex_lock(&s->mu);
	f = slot_locked(s, fh);
	if (f)
		f->refcnt++;
	pthread_mutex_unlock(&s->mu);
	*out = f;
	return f ? 0 : -EBADF;
}

void rfs_fh_put(struct rfs_session *s, struct rfs_fh *f)
{
	bool free_it;

	if (!f)
		return;
	pthread_mutex_lock(&s->mu);
	free_it = --f->refcnt == 0 && f->released;
	pthread_mutex_unlock(&s->mu);
	if (free_it)
		fh_free(f);
}

int rfs_fh_release(struct rfs_session *s, uint64_t fh)
{
	uint32_t slot = (uint32_t)fh;
	struct rfs_fh *f;
	bool free_it;

	pthread_mutex_lock(&s->mu);
	f = slot_locked(s, fh);
	if (!f) {
		pthread_mutex_unlock(&s->mu);
		return -EBADF;
	}
	s->fhs[slot] = NULL;
	s->gens[slot]++;
	if (s->gens[slot] == 0)
		s->gens[slot] = 1;
	f->released = true;
	free_it = f->refcnt == 0;
	pthread_mutex_unlock(&s->mu);
	if (free_it)
		fh_free(f);
	return 0;
}
