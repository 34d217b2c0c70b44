// SPDX-License-Identifier: MIT
/*
 * capctl: the control socket's "capture" command (capctl.h).  The
 * handler runs on the control thread: it checks the arguments, attaches
 * (capture.c), hands the region's memfd over and leaves the connection
 * to a watcher thread, which detaches when the capturer hangs up, or
 * when rfs_capctl_stop says the daemon is going.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capctl.h"
#include "capture.h"
#include "log.h"
#include "util.h"

/* the one capture's watcher; under W.lock */
static struct {
	pthread_mutex_t lock;
	pthread_t thr;
	bool running;
	int fd, efd;
} W = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1, .efd = -1 };

static int parse_u32(const char *v, uint32_t *out)
{
	char *end;
	unsigned long x;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

static int send_fd(int sock, const char *msg, int fd)
{
	return rfs_send_fds(sock, msg, strlen(msg), &fd, 1, MSG_NOSIGNAL);
}

/* until the capturer hangs up or the daemon stops; then detach */
static void *watch(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = W.fd, .events = POLLIN },
				       { .fd = W.efd, .events = POLLIN } };
		char junk[64];

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rfs_err("capture: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		/* the capturer sends nothing: data is ignored, EOF ends */
		if (p[0].revents &&
		    (recv(W.fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0 ||
		     (p[0].revents & (POLLHUP | POLLERR))))
			break;
	}
	rfs_cap_detach();
	return NULL;
}

/* the previous capture's watcher, if it ended: joined and cleared */
static void reap_locked(void)
{
	if (!W.running)
		return;
	pthread_join(W.thr, NULL);
	close(W.fd);
	close(W.efd);
	W.fd = W.efd = -1;
	W.running = false;
}

int rfs_capctl_cmd(struct rfs_ctl_req *rq, struct rfs_ctl_out *out)
{
	static const char ok[] = "ok\n";
	struct rfs_cap_params p = { 0 };
	int rc, mfd, efd;

	for (int i = 1; i < rq->argc; i++) {
		const char *w = rq->argv[i];

		if (!strncmp(w, "snaplen=", 8) && !parse_u32(w + 8, &p.snaplen))
			continue;
		if (!strncmp(w, "ring_kib=", 9) &&
		    !parse_u32(w + 9, &p.ring_kib) &&
		    p.ring_kib >= RFS_CAP_RING_KIB_MIN &&
		    p.ring_kib <= RFS_CAP_RING_KIB_MAX)
			continue;
		rfs_ctl_printf(out,
			       "malformed capture argument '%.40s' "
			       "(snaplen=N, ring_kib=%u..%u)",
			       w, RFS_CAP_RING_KIB_MIN, RFS_CAP_RING_KIB_MAX);
		return -EINVAL;
	}
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0) {
		rc = -errno;
		rfs_ctl_printf(out, "cannot start a capture: eventfd: %s",
			       strerror(-rc));
		return rc;
	}
	pthread_mutex_lock(&W.lock);
	/* a watcher whose capture ended has detached: join it first */
	if (W.running && !rfs_cap_attached())
		reap_locked();
	rc = rfs_cap_attach(&p, &mfd);
	if (rc) {
		pthread_mutex_unlock(&W.lock);
		close(efd);
		if (rc == -EBUSY)
			rfs_ctl_printf(out, "busy: another capture is attached "
					    "to this process (one at a time)");
		else
			rfs_ctl_printf(out, "cannot start a capture: %s",
				       strerror(-rc));
		return rc;
	}
	rc = rfs_ctl_reply_hdr(rq->fd, sizeof(ok) - 1);
	if (!rc)
		rc = send_fd(rq->fd, ok, mfd);
	close(mfd);
	if (!rc) {
		W.fd = rq->fd;
		W.efd = efd;
		rc = -pthread_create(&W.thr, NULL, watch, NULL);
		W.running = rc == 0;
	}
	if (rc) {
		rfs_warn("capture: handing the capture over to uid %u (pid "
			 "%d): %s",
			 (unsigned)rq->uid, (int)rq->pid, strerror(-rc));
		rfs_cap_detach();
		close(efd);
		close(rq->fd);
		W.fd = W.efd = -1;
	} else {
		rfs_info("capture: attached for uid %u (pid %d)",
			 (unsigned)rq->uid, (int)rq->pid);
	}
	pthread_mutex_unlock(&W.lock);
	/* the fd is ours in every case once the header may have gone out */
	return RFS_CTL_TAKEN;
}

void rfs_capctl_stop(void)
{
	uint64_t one = 1;

	pthread_mutex_lock(&W.lock);
	if (W.running && write(W.efd, &one, sizeof(one)) != sizeof(one))
		rfs_warn("capture: stopping the watcher: %s", strerror(errno));
	reap_locked();
	pthread_mutex_unlock(&W.lock);
}
