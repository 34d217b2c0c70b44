// SPDX-License-Identifier: MIT
/*
 * POSIX and BSD locks.  POSIX locks belong to a FUSE lock owner, so the
 * server keeps one open file description per (session, node, owner) and
 * takes OFD locks on it: different owners conflict, one owner's locks
 * merge and split, as for processes on a local filesystem.  The node is
 * pinned while it has lock fds.  A blocking request (SETLK with
 * RFS_LK_WAIT, FLOCK without LOCK_NB) runs on a worker thread that posts
 * its reply back to the connection loop.
 *
 * A backend whose files are not kernel fds (backend.h: fd_io false) has
 * the same table; its entry holds the backend's open file (obj), which
 * carries the owner's locks, and is shared by reference (refs) with the
 * worker that waits on it, instead of dup'd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ops_i.h"
#include "worker.h"

struct lockfd {
	struct rfs_session *s;
	uint64_t owner;
	struct rfs_node *n; /* pinned */
	int fd;
	void *obj;     /* the backend's open file when fd is -1 */
	unsigned refs; /* obj: the list's and the users' (under lk_mu) */
	struct lockfd *next;
};

static pthread_mutex_t lk_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lockfd *lk_list;

static struct lockfd **find_locked(struct rfs_session *s, uint64_t nodeid,
				   uint64_t owner)
{
	struct lockfd **pp;

	for (pp = &lk_list; *pp; pp = &(*pp)->next)
		if ((*pp)->s == s && (*pp)->n->id == nodeid &&
		    (*pp)->owner == owner)
			return pp;
	return pp;
}

/* a dup of the owner's lock fd (created when create is set), or -errno */
static int lockfd_dup(struct rfs_req *r, struct rfs_node *n, uint64_t owner,
		      bool create)
{
	struct lockfd **pp, *l;
	int fd, ret;

	pthread_mutex_lock(&lk_mu);
	pp = find_locked(r->sess, n->id, owner);
	l = *pp;
	if (!l) {
		if (!create) {
			ret = -ENOENT;
			goto out;
		}
		fd = -EISDIR;
		if (n->type != S_IFDIR)
			fd = rfs_reopen(n->fd, O_RDWR);
		if (fd < 0)
			fd = rfs_reopen(n->fd, O_RDONLY);
		if (fd < 0) {
			ret = fd;
			goto out;
		}
		l = calloc(1, sizeof(*l));
		if (!l) {
			close(fd);
			ret = -ENOMEM;
			goto out;
		}
		l->s = r->sess;
		l->owner = owner;
		l->n = n;
		l->fd = fd;
		rfs_node_ref(n);
		l->next = lk_list;
		lk_list = l;
	}
	ret = fcntl(l->fd, F_DUPFD_CLOEXEC, 0);
	if (ret < 0)
		ret = -errno;
out:
	pthread_mutex_unlock(&lk_mu);
	return ret;
}

static void lockfd_free(struct lockfd *l)
{
	if (l->obj)
		rfs_cfg.exports[l->n->exp].be->close(
			&(struct rfs_bfile){ .fd = -1, .obj = l->obj });
	else
		close(l->fd);
	rfs_node_put(l->n);
	free(l);
}

/* ---- backends without kernel fds ---------------------------------------- */

/* the owner's entry, a reference (created when create is set), or -errno */
static int lockobj_get(struct rfs_req *r, struct rfs_node *n, uint64_t owner,
		       bool create, struct lockfd **out)
{
	struct rfs_bfile bf;
	struct lockfd *l;
	int ret = 0;

	pthread_mutex_lock(&lk_mu);
	l = *find_locked(r->sess, n->id, owner);
	if (!l) {
		if (!create) {
			ret = -ENOENT;
			goto out;
		}
		ret = r->exp->be->lock_open(n, r->sess->id, owner, &bf);
		if (ret)
			goto out;
		l = calloc(1, sizeof(*l));
		if (!l) {
			r->exp->be->close(&bf);
			ret = -ENOMEM;
			goto out;
		}
		l->s = r->sess;
		l->owner = owner;
		l->n = n;
		l->fd = -1;
		l->obj = bf.obj;
		l->refs = 1; /* the list's */
		rfs_node_ref(n);
		l->next = lk_list;
		lk_list = l;
	}
	l->refs++;
	*out = l;
out:
	pthread_mutex_unlock(&lk_mu);
	return ret;
}

static void lockobj_put(struct lockfd *l)
{
	bool last;

	pthread_mutex_lock(&lk_mu);
	last = --l->refs == 0;
	pthread_mutex_unlock(&lk_mu);
	if (last)
		lockfd_free(l);
}

static int lockobj_call(struct lockfd *l, int cmd, struct flock *fl)
{
	return rfs_cfg.exports[l->n->exp].be->lock(
		&(struct rfs_bfile){ .fd = -1, .obj = l->obj }, cmd, fl);
}

/* an entry off the list: its users may still hold it */
static void lockfd_release(struct lockfd *l)
{
	if (l->obj)
		lockobj_put(l);
	else
		lockfd_free(l);
}

void rfs_locks_flush(struct rfs_session *s, uint64_t nodeid, uint64_t owner)
{
	struct lockfd **pp, *l;

	pthread_mutex_lock(&lk_mu);
	pp = find_locked(s, nodeid, owner);
	l = *pp;
	if (l)
		*pp = l->next;
	pthread_mutex_unlock(&lk_mu);
	/* the last close of the description drops its OFD locks */
	if (l)
		lockfd_release(l);
}

void rfs_locks_drop_session(struct rfs_session *s)
{
	struct lockfd **pp = &lk_list, *dead = NULL;

	pthread_mutex_lock(&lk_mu);
	while (*pp) {
		struct lockfd *l = *pp;

		if (l->s == s) {
			*pp = l->next;
			l->next = dead;
			dead = l;
		} else {
			pp = &l->next;
		}
	}
	pthread_mutex_unlock(&lk_mu);
	while (dead) {
		struct lockfd *l = dead;

		dead = l->next;
		lockfd_release(l);
	}
}

void rfs_locks_fini(void)
{
	pthread_mutex_lock(&lk_mu);
	while (lk_list) {
		struct lockfd *l = lk_list;

		lk_list = l->next;
		lockfd_free(l);
	}
	pthread_mutex_unlock(&lk_mu);
}

static int to_flock(const struct rfs_lock *l, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	if (l->type > RFS_LK_UNLCK || l->start > INT64_MAX)
		return -EINVAL;
	fl->l_type = (short)l->type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)l->start;
	if (l->end >= INT64_MAX) /* to EOF (UINT64_MAX or OFFSET_MAX) */
		fl->l_len = 0;
	else if (l->end < l->start)
		return -EINVAL;
	else
		fl->l_len = (off_t)(l->end - l->start + 1);
	return 0;
}

/* the node and the range of a GETLK/SETLK request */
static int req_node_flock(struct rfs_req *r, struct rfs_node **n,
			  struct flock *fl)
{
	const struct rfs_lock_req *q = r->v.fixed;
	int ret = rfs_req_node(r, q->nodeid, n);

	if (ret)
		return ret;
	return to_flock(&q->lock, fl);
}

int rfs_op_getlk(struct rfs_req *r)
{
	const struct rfs_lock_req *q = r->v.fixed;
	struct rfs_lock *p;
	struct rfs_node *n;
	struct flock fl;
	int fd, ret;

	ret = req_node_flock(r, &n, &fl);
	if (ret)
		return ret;
	if (!r->exp->be->fd_io) {
		struct lockfd *l;

		if (!r->exp->be->lock)
			return -ENOSYS; /* backend.h: no locks there */
		ret = lockobj_get(r, n, q->owner, true, &l);
		if (ret)
			return ret;
		ret = lockobj_call(l, F_GETLK, &fl);
		lockobj_put(l);
	} else {
		fd = lockfd_dup(r, n, q->owner, true);
		if (fd < 0)
			return fd;
		ret = fcntl(fd, F_OFD_GETLK, &fl) < 0 ? -errno : 0;
		close(fd);
	}
	if (ret)
		return ret;
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p)
		return r->mb.err;
	p->type = (uint32_t)fl.l_type;
	if (fl.l_type != F_UNLCK) {
		p->start = (uint64_t)fl.l_start;
		p->end = fl.l_len == 0 ? UINT64_MAX :
					 (uint64_t)(fl.l_start + fl.l_len - 1);
		p->pid = fl.l_pid > 0 ? (uint32_t)fl.l_pid : 0;
	}
	return 0;
}

/* ---- blocking requests on a worker ------------------------------------ */

struct wait_job {
	struct rfs_hdr req; /* copy: the request buffer goes back */
	bool csum;
	bool is_flock;
	int fd;		  /* a dup: ours */
	struct lockfd *l; /* or, without fd_io, a reference */
	int op;		  /* flock() operation */
	struct flock fl;
};

static void wait_worker(struct rfs_conn_ctx *cc, struct rfs_wjob *job,
			void *arg)
{
	struct wait_job *w = arg;
	long pause_ms = 1;
	struct rfs_mb mb;
	void *frame;
	int ret, len;

	for (;;) {
		if (rfs_worker_cancelled(cc)) {
			ret = -EINTR;
			break;
		}
		if (w->l) {
			/*
			 * Without fd_io: F_SETLK again and again with a
			 * growing pause (1 to 50 ms) instead of one F_SETLKW:
			 * gluster does not wake a waiter when the holder
			 * unlocks one of several ranges it holds, and a
			 * waiter here stays cancellable
			 */
			ret = lockobj_call(w->l, F_SETLK, &w->fl);
			if (ret != -EAGAIN && ret != -EACCES && ret != -EINTR)
				break;
			nanosleep(&(struct timespec){ .tv_nsec = pause_ms *
								 1000000L },
				  NULL);
			if (pause_ms < 50)
				pause_ms *= 2;
			continue;
		}
		if (w->is_flock)
			ret = flock(w->fd, w->op);
		else
			ret = fcntl(w->fd, F_OFD_SETLKW, &w->fl);
		if (ret == 0)
			break;
		ret = -errno;
		if (ret != -EINTR)
			break;
	}
	if (w->l)
		lockobj_put(w->l);
	else
		close(w->fd);
	frame = aligned_alloc(8, RFS_HDR_SIZE + 8);
	len = 0;
	if (frame) {
		rfs_mb_reply(&mb, frame, RFS_HDR_SIZE + 8, &w->req, ret);
		len = rfs_mb_finish(&mb, w->csum);
		if (len < 0) {
			free(frame);
			frame = NULL;
		}
	}
	free(w);
	rfs_worker_done(cc, job, frame, frame ? (uint32_t)len : 0);
}

/* hand the job (its fd ours) to a worker; the reply comes from there */
static int go_wait(struct rfs_req *r, const struct wait_job *job)
{
	struct wait_job *w = malloc(sizeof(*w));
	int ret;

	if (!w) {
		if (job->l)
			lockobj_put(job->l);
		else
			close(job->fd);
		return -ENOMEM;
	}
	*w = *job;
	w->req = *r->h;
	w->csum = r->sess->csum;
	ret = rfs_worker_post(r->cc, wait_worker, w);
	if (ret) {
		if (w->l)
			lockobj_put(w->l);
		else
			close(w->fd);
		free(w);
		return ret;
	}
	r->async = true;
	return 0;
}

/* SETLK of a backend without fd_io: the same steps on its lock calls */
static int setlk_obj(struct rfs_req *r, struct rfs_node *n, struct flock *fl)
{
	const struct rfs_lock_req *q = r->v.fixed;
	struct lockfd *l;
	int ret;

	if (!r->exp->be->lock)
		return -ENOSYS; /* backend.h: no locks there */
	ret = lockobj_get(r, n, q->owner, fl->l_type != F_UNLCK, &l);
	if (ret == -ENOENT) /* unlock, and this owner never locked */
		return 0;
	if (ret)
		return ret;
	ret = lockobj_call(l, F_SETLK, fl);
	if (ret != -EAGAIN && ret != -EACCES)
		goto out;
	if (!(q->flags & RFS_LK_WAIT) || fl->l_type == F_UNLCK)
		goto out;
	/* the reference goes to the worker */
	return go_wait(r, &(struct wait_job){ .fd = -1, .l = l, .fl = *fl });
out:
	lockobj_put(l);
	return ret;
}

int rfs_op_setlk(struct rfs_req *r)
{
	const struct rfs_lock_req *q = r->v.fixed;
	struct rfs_node *n;
	struct flock fl;
	int fd, ret;

	ret = req_node_flock(r, &n, &fl);
	if (ret)
		return ret;
	if (!r->exp->be->fd_io)
		return setlk_obj(r, n, &fl);
	fd = lockfd_dup(r, n, q->owner, fl.l_type != F_UNLCK);
	if (fd == -ENOENT) /* unlock, and this owner never locked */
		return 0;
	if (fd < 0)
		return fd;
	if (!(q->flags & RFS_LK_WAIT) || fl.l_type == F_UNLCK) {
		ret = fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
		close(fd);
		return ret;
	}
	/* try without blocking first: most locks are granted at once */
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
		close(fd);
		return 0;
	}
	if (errno != EAGAIN && errno != EACCES) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return go_wait(r, &(struct wait_job){ .fd = fd, .fl = fl });
}

int rfs_op_flock(struct rfs_req *r)
{
	const struct rfs_lock_req *q = r->v.fixed;
	struct rfs_fh *f;
	int op = (int)q->flags, fd, ret;

	if (!r->exp->be->fd_io)
		return -ENOSYS; /* backend.h: no locks there */

	if (op & ~(LOCK_SH | LOCK_EX | LOCK_UN | LOCK_NB))
		return -EINVAL;
	ret = rfs_fh_get(r->sess, q->fh, &f);
	if (ret)
		return ret;
	if (op & (LOCK_NB | LOCK_UN))
		ret = flock(f->fd, op) < 0 ? -errno : 0;
	else /* try without blocking first */
		ret = flock(f->fd, op | LOCK_NB) < 0 ? -errno : 0;
	if (ret != -EWOULDBLOCK || (op & LOCK_NB)) {
		rfs_fh_put(r->sess, f);
		return ret;
	}
	fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	ret = fd < 0 ? -errno : 0;
	rfs_fh_put(r->sess, f);
	if (ret)
		return ret;
	return go_wait(
		r, &(struct wait_job){ .fd = fd, .is_flock = true, .op = op });
}
