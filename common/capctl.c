// SPDX-License-Identifier: MIT
/*
 * capctl: the attach exchange of ringfsctl capture (capctl.h) and a
 * listener thread that serves it, one capture at a time: it polls the
 * listening socket, the attached capturer's socket (its hang-up ends the
 * capture) and an eventfd that stops it.  A second capturer while one is
 * attached is told so; a peer that sends nothing gets 2 s.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "capctl.h"
#include "capture.h"
#include "log.h"

#define REQ_TIMEOUT_MS 2000

static void say(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(int fd, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* best effort: a capturer that went away needs no answer */
	(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL);
}

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
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;

	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
		return -errno ? -errno : -EIO;
	return 0;
}

int rfs_capctl_request(int fd, const char *line)
{
	struct rfs_cap_params p = { 0 };
	char buf[RFS_CAPCTL_LINE_MAX], *save = NULL, *w, ok[96];
	struct ucred cr;
	socklen_t crl = sizeof(cr);
	int rc, mfd;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl)) {
		rc = -errno;
		say(fd, "error: cannot tell who is asking (SO_PEERCRED: %s)",
		    strerror(-rc));
		return rc;
	}
	if (cr.uid != 0 && cr.uid != geteuid()) {
		rfs_warn("capture: refused to uid %u (pid %d): not root, not "
			 "uid %u",
			 (unsigned)cr.uid, (int)cr.pid, (unsigned)geteuid());
		say(fd,
		    "error: permission denied: capturing this process's frames "
		    "needs root or its owner (uid %u); you are uid %u",
		    (unsigned)geteuid(), (unsigned)cr.uid);
		return -EPERM;
	}
	snprintf(buf, sizeof(buf), "%s", line);
	w = strtok_r(buf, " \t", &save);
	if (!w || strcmp(w, "capture")) {
		say(fd,
		    "error: malformed request '%.60s' (expected: capture "
		    "[snaplen=N] [ring_kib=N])",
		    line);
		return -EINVAL;
	}
	while ((w = strtok_r(NULL, " \t", &save))) {
		if (!strncmp(w, "snaplen=", 8) && !parse_u32(w + 8, &p.snaplen))
			continue;
		if (!strncmp(w, "ring_kib=", 9) &&
		    !parse_u32(w + 9, &p.ring_kib) &&
		    p.ring_kib >= RFS_CAP_RING_KIB_MIN &&
		    p.ring_kib <= RFS_CAP_RING_KIB_MAX)
			continue;
		say(fd,
		    "error: malformed capture argument '%.40s' (snaplen=N, "
		    "ring_kib=%u..%u)",
		    w, RFS_CAP_RING_KIB_MIN, RFS_CAP_RING_KIB_MAX);
		return -EINVAL;
	}
	rc = rfs_cap_attach(&p, &mfd);
	if (rc == -EBUSY) {
		say(fd, "error: busy: another capture is attached to this "
			"process (one at a time)");
		return rc;
	}
	if (rc) {
		say(fd, "error: cannot start a capture: %s", strerror(-rc));
		return rc;
	}
	snprintf(ok, sizeof(ok), "ok\n");
	rc = send_fd(fd, ok, mfd);
	close(mfd);
	if (rc) {
		rfs_warn("capture: handing the region over: %s", strerror(-rc));
		rfs_cap_detach();
		return rc;
	}
	rfs_info("capture: attached for uid %u (pid %d)", (unsigned)cr.uid,
		 (int)cr.pid);
	return 0;
}

static int run_dir(char *buf, size_t len)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, len, "/run/ringfs");
	else if (rt && *rt == '/')
		n = snprintf(buf, len, "%s/ringfs", rt);
	else
		return -ENOENT;
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int rfs_capctl_path_server(char *buf, size_t len, unsigned port)
{
	char dir[256];
	int n, rc = run_dir(dir, sizeof(dir));

	if (rc)
		return rc;
	n = port ? snprintf(buf, len, "%s/ringfsd.%u.ctl", dir, port) :
		   snprintf(buf, len, "%s/ringfsd.pid%d.ctl", dir,
			    (int)getpid());
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int rfs_capctl_path_client(char *buf, size_t len, int pid)
{
	char dir[256];
	int n, rc = run_dir(dir, sizeof(dir));

	if (rc)
		return rc;
	n = snprintf(buf, len, "%s/client.%d.ctl", dir, pid);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* ---- the listener thread ---------------------------------------------- */

static struct {
	pthread_t thr;
	bool running;
	int lfd, efd, cfd; /* cfd: the attached capturer, or -1 */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} L = { .lfd = -1, .efd = -1, .cfd = -1 };

/* one request line within REQ_TIMEOUT_MS; then answer it */
static void serve_new(int fd)
{
	char line[RFS_CAPCTL_LINE_MAX];
	size_t n = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;
		char *nl;

		if (poll(&p, 1, REQ_TIMEOUT_MS) <= 0) {
			say(fd, "error: no request within %d ms",
			    REQ_TIMEOUT_MS);
			goto drop;
		}
		r = recv(fd, line + n, sizeof(line) - 1 - n, 0);
		if (r <= 0)
			goto drop;
		n += (size_t)r;
		line[n] = 0;
		nl = memchr(line, '\n', n);
		if (nl) {
			*nl = 0;
			break;
		}
		if (n == sizeof(line) - 1 || memchr(line, 0, n)) {
			say(fd,
			    "error: malformed request (no newline in %zu "
			    "bytes)",
			    n);
			goto drop;
		}
	}
	if (L.cfd >= 0) {
		say(fd, "error: busy: another capture is attached to this "
			"process (one at a time)");
		goto drop;
	}
	if (rfs_capctl_request(fd, line) == 0) {
		L.cfd = fd;
		return;
	}
drop:
	close(fd);
}

static void *listener_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = L.lfd, .events = POLLIN },
			{ .fd = L.efd, .events = POLLIN },
			{ .fd = L.cfd, .events = POLLIN }, /* -1: ignored */
		};
		char junk[256];
		int fd;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			rfs_err("capture: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (p[2].revents) {
			/* the capturer says nothing more: EOF or error ends it */
			if (recv(L.cfd, junk, sizeof(junk), MSG_DONTWAIT) <=
				    0 ||
			    (p[2].revents & (POLLHUP | POLLERR))) {
				rfs_cap_detach();
				close(L.cfd);
				L.cfd = -1;
			}
		}
		if (p[0].revents & POLLIN) {
			fd = accept4(L.lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				serve_new(fd);
			else if (errno != EINTR && errno != EAGAIN &&
				 errno != ECONNABORTED)
				rfs_err_rl("capture: accept on %s: %s", L.path,
					   strerror(errno));
		}
	}
	if (L.cfd >= 0) {
		rfs_cap_detach();
		close(L.cfd);
		L.cfd = -1;
	}
	return NULL;
}

int rfs_capctl_start(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) && errno != EEXIST) {
			rc = -errno;
			rfs_warn("capture: mkdir %s: %s", dir, strerror(-rc));
			return rc;
		}
	}
	strcpy(sa.sun_path, path);
	L.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (L.lfd < 0)
		return -errno;
	/* a socket left by a process that died: ours now */
	(void)unlink(path);
	if (bind(L.lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0666) || listen(L.lfd, 8)) {
		rc = -errno;
		rfs_warn("capture: control socket %s: %s", path, strerror(-rc));
		goto fail;
	}
	L.efd = eventfd(0, EFD_CLOEXEC);
	if (L.efd < 0) {
		rc = -errno;
		goto fail;
	}
	snprintf(L.path, sizeof(L.path), "%s", path);
	rc = -pthread_create(&L.thr, NULL, listener_main, NULL);
	if (rc)
		goto fail;
	L.running = true;
	return 0;
fail:
	if (L.efd >= 0)
		close(L.efd);
	close(L.lfd);
	(void)unlink(path);
	L.lfd = L.efd = -1;
	return rc;
}

void rfs_capctl_stop(void)
{
	uint64_t one = 1;

	if (!L.running)
		return;
	if (write(L.efd, &one, sizeof(one)) != sizeof(one))
		rfs_warn("capture: stop the listener: %s", strerror(errno));
	pthread_join(L.thr, NULL);
	close(L.efd);
	close(L.lfd);
	(void)unlink(L.path);
	L.running = false;
	L.lfd = L.efd = -1;
}
