// SPDX-License-Identifier: MIT
/*
 * notify: the server's cache notifications (protocol 1.4, struct
 * rfs_notify) turned into the kernel's FUSE invalidations.
 *
 * A loop thread receives the frame (call.c) and only queues it here: the
 * kernel's invalidations take the inode lock of the directory
 * (inval_entry) or of the inode, and a FUSE request holding that lock may
 * be waiting for a reply this very loop is to deliver; calling libfuse's
 * notify functions from the loop could deadlock (libfuse documents it for
 * inval_entry from a request handler).  One thread of ours calls them,
 * holding no FUSE request.  The queue is bounded: when the kernel is slow
 * (that thread waits for a lock), what does not fit is dropped and
 * counted, and the caches expire by their timeouts as without
 * notifications.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_i.h"
#include "log.h"
#include "loop_i.h"

#define QLEN 256u

struct item {
	uint32_t kind;
	uint64_t nodeid, parent;
	uint16_t nlen;
	char name[RFS_NAME_MAX];
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool started, stop;
	pthread_t thr;
	unsigned head, n;
	struct item q[QLEN];
} nq = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void apply(const struct item *it)
{
	struct fuse_session *se = rfs_cl->se;
	int ret;

	if (it->kind == RFS_NOTIFY_INODE)
		/* attributes, and every cached page (offset 0, length 0) */
		ret = fuse_lowlevel_notify_inval_inode(se, cl_ino(it->nodeid),
						       0, 0);
	else
		ret = fuse_lowlevel_notify_inval_entry(se, cl_ino(it->parent),
						       it->name, it->nlen);
	/* ENOENT: the kernel does not have it cached, nothing to drop */
	if (ret < 0 && ret != -ENOENT)
		rfs_err_rl("client: invalidating %s %016llx: %s",
			   it->kind == RFS_NOTIFY_INODE ? "node" : "a name in",
			   (unsigned long long)(it->kind == RFS_NOTIFY_INODE ?
							it->nodeid :
							it->parent),
			   strerror(-ret));
	rfs_dbg(RFS_SUB_CLIENT, "client: notification: %s %016llx%s%.*s: %s",
		it->kind == RFS_NOTIFY_INODE ? "node" : "entry",
		(unsigned long long)(it->kind == RFS_NOTIFY_INODE ? it->nodeid :
								    it->parent),
		it->kind == RFS_NOTIFY_INODE ? "" : " ", (int)it->nlen,
		it->name, ret ? strerror(-ret) : "dropped from the cache");
}

static void *notify_main(void *arg)
{
	struct item it;

	(void)arg;
	pthread_setname_np(pthread_self(), "ringfs-notify");
	pthread_mutex_lock(&nq.mu);
	for (;;) {
		while (!nq.n && !nq.stop)
			pthread_cond_wait(&nq.cv, &nq.mu);
		if (nq.stop)
			break;
		it = nq.q[nq.head];
		nq.head = (nq.head + 1) % QLEN;
		nq.n--;
		pthread_mutex_unlock(&nq.mu);
		apply(&it);
		pthread_mutex_lock(&nq.mu);
	}
	pthread_mutex_unlock(&nq.mu);
	return NULL;
}

/* under nq.mu: the thread, at the first notification */
static int start_locked(void)
{
	int ret;

	if (nq.started)
		return 0;
	if (nq.stop)
		return -ESHUTDOWN;
	ret = pthread_create(&nq.thr, NULL, notify_main, NULL);
	if (ret) {
		rfs_err_rl("client: cannot start the notification thread: %s",
			   strerror(ret));
		return -ret;
	}
	nq.started = true;
	return 0;
}

void rfs_cl_on_notify(struct cl_loop *l, const struct rfs_hdr *h,
		      const void *payload)
{
	struct rfs_notify_view v;
	struct item *it;
	int ret;

	ret = rfs_proto_verify(h, payload, rfs_cl->csum);
	if (!ret)
		ret = rfs_proto_decode_notify(h, payload, &v);
	if (ret < 0) {
		rfs_obs_add(l->obs, RFS_OBS_notifies_dropped, 1);
		rfs_err_rl("client: loop %u: malformed notification from the "
			   "server (%u payload bytes): %s: ignored",
			   l->idx, (unsigned)h->len,
			   ret == -EBADMSG ? "bad checksum" : strerror(-ret));
		return;
	}
	rfs_obs_add(l->obs, RFS_OBS_notifies_received, 1);
	pthread_mutex_lock(&nq.mu);
	if (nq.n == QLEN || start_locked() < 0) {
		pthread_mutex_unlock(&nq.mu);
		rfs_obs_add(l->obs, RFS_OBS_notifies_dropped, 1);
		rfs_dbg(RFS_SUB_CLIENT, "client: notification queue full: "
					"dropped one");
		return;
	}
	it = &nq.q[(nq.head + nq.n) % QLEN];
	it->kind = v.kind;
	it->nodeid = v.nodeid;
	it->parent = v.parent;
	it->nlen = (uint16_t)v.name_len;
	if (v.name_len)
		memcpy(it->name, v.name, v.name_len);
	nq.n++;
	pthread_cond_signal(&nq.cv);
	pthread_mutex_unlock(&nq.mu);
}

void rfs_cl_notify_stop(void)
{
	struct timespec ts;
	int ret;

	pthread_mutex_lock(&nq.mu);
	nq.stop = true;
	pthread_cond_signal(&nq.cv);
	if (!nq.started) {
		pthread_mutex_unlock(&nq.mu);
		return;
	}
	nq.started = false;
	pthread_mutex_unlock(&nq.mu);
	/*
	 * An invalidation waits for an inode lock that a request may hold
	 * until the kernel aborts it at unmount: do not wait for ever
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	ret = pthread_timedjoin_np(nq.thr, NULL, &ts);
	if (ret) {
		rfs_warn("client: the notification thread did not stop (%s): "
			 "left behind",
			 strerror(ret));
		pthread_detach(nq.thr);
	}
}
