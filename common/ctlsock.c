// SPDX-License-Identifier: MIT
/*
 * ctlsock: a daemon's control socket (ctlsock.h).  One thread polls the
 * listening socket, an eventfd (stop) and up to RFS_CTL_CLIENTS_MAX
 * non-blocking connections, each a small state machine: read one
 * request, run its command, write the reply, read the next.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlsock.h"
#include "log.h"
#include "spin.h"
#include "util.h"

struct ctl_client {
	int fd;
	struct ucred cred;
	long long deadline_ms; /* the next byte, or the reply, by then */
	uint8_t in[4 + RFS_CTL_REQ_MAX];
	size_t in_len;
	char *out; /* a whole reply frame being written */
	size_t out_len, out_off;
	bool close_after; /* malformed request: close once the reply is out */
};

struct rfs_ctl {
	char path[108];
	int lfd, stop_fd;
	pthread_t th;
	const struct rfs_ctl_cmd *cmds;
	size_t ncmds;
	void *arg;
	struct ctl_client cl[RFS_CTL_CLIENTS_MAX];
};

/* ---- reply building ----------------------------------------------------- */

void rfs_ctl_write(struct rfs_ctl_out *o, const void *p, size_t n)
{
	if (o->oom || !n)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		char *nb;

		while (cap < o->len + n + 1)
			cap *= 2;
		if (cap > RFS_CTL_REPLY_MAX + 1 ||
		    !(nb = realloc(o->buf, cap))) {
			o->oom = true;
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

void rfs_ctl_vprintf(struct rfs_ctl_out *o, const char *fmt, va_list ap)
{
	char small[512], *big = NULL;
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		va_end(ap2);
		o->oom = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		rfs_ctl_write(o, small, (size_t)n);
	} else if ((big = malloc((size_t)n + 1))) {
		vsnprintf(big, (size_t)n + 1, fmt, ap2);
		rfs_ctl_write(o, big, (size_t)n);
		free(big);
	} else {
		o->oom = true;
	}
	va_end(ap2);
}

void rfs_ctl_printf(struct rfs_ctl_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rfs_ctl_vprintf(o, fmt, ap);
	va_end(ap);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* cl->out = a whole reply frame; false when out of memory */
static bool set_reply(struct ctl_client *cl, uint32_t status, const char *p,
		      size_t n)
{
	free(cl->out);
	cl->out = malloc(8 + n);
	if (!cl->out)
		return false;
	put_le32((uint8_t *)cl->out, (uint32_t)(4 + n));
	put_le32((uint8_t *)cl->out + 4, status);
	if (n)
		memcpy(cl->out + 8, p, n);
	cl->out_len = 8 + n;
	cl->out_off = 0;
	return true;
}

static void set_error(struct ctl_client *cl, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_error(struct ctl_client *cl, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (!set_reply(cl, (uint32_t)err, msg, (size_t)n))
		cl->close_after = true;
}

int rfs_ctl_reply_hdr(int fd, uint32_t len)
{
	uint8_t h[8];
	size_t off = 0;
	long long dl = rfs_now_ms() + RFS_CTL_IDLE_MS;

	put_le32(h, 4 + len);
	put_le32(h + 4, 0);
	while (off < sizeof(h)) {
		ssize_t n = send(fd, h + off, sizeof(h) - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int rc = rfs_poll_until(fd, POLLOUT, dl);

			if (rc)
				return rc;
			continue;
		}
		return n < 0 ? -errno : -EPIPE;
	}
	return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

static void cmd_help(struct rfs_ctl *c, struct rfs_ctl_out *o)
{
	rfs_ctl_printf(o, "help: this list\n");
	for (size_t i = 0; i < c->ncmds; i++)
		rfs_ctl_printf(o, "%s: %s%s\n", c->cmds[i].name,
			       c->cmds[i].help ? c->cmds[i].help : "",
			       c->cmds[i].flags & RFS_CTL_PRIV ?
				       " (root or the daemon's owner)" :
				       "");
}

static void dispatch(struct rfs_ctl *c, struct ctl_client *cl, uint32_t len)
{
	char *argv[RFS_CTL_ARGS_MAX + 1];
	char *p = (char *)cl->in + 4, *end = p + len;
	const struct rfs_ctl_cmd *cmd = NULL;
	struct rfs_ctl_out out = { 0 };
	struct rfs_ctl_req rq;
	int argc = 0, rc;

	if (end[-1] != '\0') {
		cl->close_after = true;
		set_error(cl, EINVAL,
			  "malformed request: the last byte must be NUL "
			  "(argv as NUL-terminated strings)");
		return;
	}
	while (p < end) {
		if (argc == (int)RFS_CTL_ARGS_MAX) {
			cl->close_after = true;
			set_error(cl, E2BIG,
				  "malformed request: more than %u strings",
				  RFS_CTL_ARGS_MAX);
			return;
		}
		argv[argc++] = p;
		p += strlen(p) + 1;
	}
	argv[argc] = NULL;
	if (!argv[0][0]) {
		cl->close_after = true;
		set_error(cl, EINVAL, "malformed request: empty command name");
		return;
	}
	if (!strcmp(argv[0], "help")) {
		cmd_help(c, &out);
		goto reply;
	}
	for (size_t i = 0; i < c->ncmds && !cmd; i++)
		if (!strcmp(c->cmds[i].name, argv[0]))
			cmd = &c->cmds[i];
	if (!cmd) {
		set_error(cl, ENOENT,
			  "unknown command '%.64s' (\"help\" lists them)",
			  argv[0]);
		return;
	}
	if ((cmd->flags & RFS_CTL_PRIV) && cl->cred.uid != 0 &&
	    cl->cred.uid != geteuid()) {
		set_error(cl, EPERM,
			  "%s is privileged: only root or uid %u (the "
			  "daemon's owner) may use it; you are uid %u",
			  cmd->name, (unsigned)geteuid(),
			  (unsigned)cl->cred.uid);
		return;
	}
	rq = (struct rfs_ctl_req){ .fd = cl->fd,
				   .pid = cl->cred.pid,
				   .uid = cl->cred.uid,
				   .gid = cl->cred.gid,
				   .argc = argc,
				   .argv = argv,
				   .arg = c->arg };
	rc = cmd->fn(&rq, &out);
	if (rc == RFS_CTL_TAKEN) {
		free(out.buf);
		cl->fd = -1; /* the handler's now */
		return;
	}
	if (rc < 0) {
		if (out.oom || !out.len)
			set_error(cl, -rc, "%s: %s", cmd->name, strerror(-rc));
		else
			set_error(cl, -rc, "%s", out.buf);
		free(out.buf);
		return;
	}
reply:
	if (out.oom)
		set_error(cl, ENOMEM,
			  "%s: reply larger than %u bytes or out "
			  "of memory",
			  argv[0], RFS_CTL_REPLY_MAX);
	else if (!set_reply(cl, 0, out.buf, out.len))
		cl->close_after = true;
	free(out.buf);
}

/* ---- the connections ---------------------------------------------------- */

static void client_close(struct ctl_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

static void client_read(struct rfs_ctl *c, struct ctl_client *cl)
{
	for (;;) {
		size_t want = 4;
		uint32_t len = 0;
		ssize_t n;

		if (cl->in_len >= 4) {
			len = get_le32(cl->in);
			if (len == 0 || len > RFS_CTL_REQ_MAX) {
				cl->close_after = true;
				set_error(cl, len ? E2BIG : EINVAL,
					  "malformed request: length %u (1 "
					  "to %u bytes)",
					  len, RFS_CTL_REQ_MAX);
				return;
			}
			want = 4 + len;
		}
		if (cl->in_len == want) {
			cl->in_len = 0;
			cl->deadline_ms = rfs_now_ms() + RFS_CTL_IDLE_MS;
			dispatch(c, cl, len);
			return;
		}
		n = recv(cl->fd, cl->in + cl->in_len, want - cl->in_len, 0);
		if (n > 0) {
			if (cl->in_len == 0)
				cl->deadline_ms =
					rfs_now_ms() + RFS_CTL_IDLE_MS;
			cl->in_len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		client_close(cl); /* EOF or error: the caller is gone */
		return;
	}
}

static void client_write(struct ctl_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off,
				 cl->out_len - cl->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			cl->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		client_close(cl);
		return;
	}
	free(cl->out);
	cl->out = NULL;
	cl->out_len = cl->out_off = 0;
	/* an idle caller holds one of the few places: not for long */
	cl->deadline_ms = rfs_now_ms() + RFS_CTL_IDLE_MS;
	if (cl->close_after)
		client_close(cl);
}

static void do_accept(struct rfs_ctl *c)
{
	struct ctl_client *cl = NULL;
	socklen_t sl = sizeof(struct ucred);
	int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			rfs_warn("control socket %s: accept: %s", c->path,
				 strerror(errno));
		return;
	}
	for (unsigned i = 0; i < RFS_CTL_CLIENTS_MAX && !cl; i++)
		if (c->cl[i].fd < 0)
			cl = &c->cl[i];
	if (!cl) {
		static const char msg[] = "control socket busy: too many "
					  "callers at once, try again";
		uint8_t busy[8 + sizeof(msg) - 1];
		ssize_t n;

		put_le32(busy, (uint32_t)(4 + sizeof(msg) - 1));
		put_le32(busy + 4, EBUSY);
		memcpy(busy + 8, msg, sizeof(msg) - 1);
		n = send(fd, busy, sizeof(busy), MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)n; /* best effort: the caller sees EOF otherwise */
		close(fd);
		return;
	}
	cl->fd = fd;
	cl->deadline_ms = rfs_now_ms() + RFS_CTL_IDLE_MS;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cl->cred, &sl) < 0) {
		rfs_warn("control socket %s: SO_PEERCRED: %s", c->path,
			 strerror(errno));
		client_close(cl);
	}
}

static void *ctl_main(void *arg)
{
	struct rfs_ctl *c = arg;
	struct pollfd pf[2 + RFS_CTL_CLIENTS_MAX];
	int map[2 + RFS_CTL_CLIENTS_MAX];

	for (;;) {
		long long now = rfs_now_ms(), next = -1;
		int n = 2, timeout, rc;

		pf[0] = (struct pollfd){ .fd = c->stop_fd, .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = c->lfd, .events = POLLIN };
		for (int i = 0; i < (int)RFS_CTL_CLIENTS_MAX; i++) {
			struct ctl_client *cl = &c->cl[i];

			if (cl->fd < 0)
				continue;
			if (cl->deadline_ms >= 0 && cl->deadline_ms <= now) {
				client_close(cl); /* stalled caller */
				continue;
			}
			if (cl->deadline_ms >= 0 &&
			    (next < 0 || cl->deadline_ms < next))
				next = cl->deadline_ms;
			map[n] = i;
			pf[n++] = (struct pollfd){
				.fd = cl->fd,
				.events = (short)(cl->out ? POLLOUT : POLLIN)
			};
		}
		timeout = next < 0 ? -1 : (int)(next - now + 1);
		rc = poll(pf, (nfds_t)n, timeout);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			rfs_err("control socket %s: poll: %s; control socket "
				"stopped",
				c->path, strerror(errno));
			return NULL;
		}
		if (pf[0].revents)
			return NULL;
		if (pf[1].revents & POLLIN)
			do_accept(c);
		for (int j = 2; j < n; j++) {
			struct ctl_client *cl = &c->cl[map[j]];

			if (!pf[j].revents || cl->fd != pf[j].fd)
				continue;
			if (cl->out)
				client_write(cl);
			else
				client_read(c, cl);
			/* a reply is ready: try it now, usually it fits */
			if (cl->fd >= 0 && cl->out)
				client_write(cl);
		}
	}
}

/* ---- open / close ------------------------------------------------------- */

int rfs_ctl_open(const char *path, const struct rfs_ctl_cmd *cmds, size_t n,
		 void *arg, struct rfs_ctl **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rfs_ctl *c;
	char dir[sizeof(sa.sun_path)], *slash;
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		rfs_err("control socket %s: path longer than %zu bytes", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->cmds = cmds;
	c->ncmds = n;
	c->arg = arg;
	c->stop_fd = -1;
	for (unsigned i = 0; i < RFS_CTL_CLIENTS_MAX; i++)
		c->cl[i].fd = -1;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			ret = -errno;
			rfs_err("control socket: creating directory %s: %s",
				dir, strerror(errno));
			free(c);
			return ret;
		}
	}
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->lfd < 0) {
		ret = -errno;
		rfs_err("control socket %s: socket: %s", c->path,
			strerror(errno));
		free(c);
		return ret;
	}
	if (unlink(c->path) < 0 && errno != ENOENT) {
		ret = -errno;
		rfs_err("control socket %s: removing the old one: %s", c->path,
			strerror(errno));
		goto fail;
	}
	if (bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		rfs_err("control socket %s: bind: %s", c->path,
			strerror(errno));
		goto fail;
	}
	/* everyone may connect; RFS_CTL_PRIV commands check SO_PEERCRED */
	if (chmod(c->path, 0666) < 0 || listen(c->lfd, 16) < 0) {
		ret = -errno;
		rfs_err("control socket %s: chmod/listen: %s", c->path,
			strerror(errno));
		unlink(c->path);
		goto fail;
	}
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (c->stop_fd < 0) {
		ret = -errno;
		rfs_err("control socket %s: eventfd: %s", c->path,
			strerror(errno));
		unlink(c->path);
		goto fail;
	}
	ret = pthread_create(&c->th, NULL, ctl_main, c);
	if (ret) {
		rfs_err("control socket %s: starting its thread: %s", c->path,
			strerror(ret));
		ret = -ret;
		unlink(c->path);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	close(c->lfd);
	free(c);
	return ret;
}

void rfs_ctl_close(struct rfs_ctl *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	if (write(c->stop_fd, &one, sizeof(one)) != sizeof(one))
		rfs_warn("control socket %s: waking its thread: %s", c->path,
			 strerror(errno));
	pthread_join(c->th, NULL);
	for (unsigned i = 0; i < RFS_CTL_CLIENTS_MAX; i++)
		if (c->cl[i].fd >= 0)
			client_close(&c->cl[i]);
	close(c->stop_fd);
	close(c->lfd);
	unlink(c->path);
	free(c);
}

const char *rfs_ctl_path(const struct rfs_ctl *c)
{
	return c->path;
}

/* ---- the client side ---------------------------------------------------- */

static int io_all(int fd, void *p, size_t n, bool wr, long long dl)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r =
			wr ? send(fd, (char *)p + off, n - off,
				  MSG_NOSIGNAL | MSG_DONTWAIT) :
			     recv(fd, (char *)p + off, n - off, MSG_DONTWAIT);

		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		if (r == 0)
			return -ECONNRESET; /* closed before the end */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			int rc = rfs_poll_until(fd, wr ? POLLOUT : POLLIN, dl);

			if (rc)
				return rc;
			continue;
		}
		return -errno;
	}
	return 0;
}

int rfs_ctl_call(const char *path, int argc, char *const *argv, int timeout_ms,
		 int *status, char **body, size_t *len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long dl = rfs_now_ms() + timeout_ms;
	uint8_t req[4 + RFS_CTL_REQ_MAX], h[8];
	size_t rl = 0;
	uint32_t bl;
	char *b;
	int fd, ret;

	*body = NULL;
	*len = 0;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;

		if (rl + n > RFS_CTL_REQ_MAX)
			return -E2BIG;
		memcpy(req + 4 + rl, argv[i], n);
		rl += n;
	}
	put_le32(req, (uint32_t)rl);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = io_all(fd, req, 4 + rl, true, dl);
	if (!ret)
		ret = io_all(fd, h, sizeof(h), false, dl);
	if (ret) {
		close(fd);
		return ret;
	}
	bl = get_le32(h);
	if (bl < 4 || bl - 4 > RFS_CTL_REPLY_MAX) {
		close(fd);
		return -EBADMSG;
	}
	b = malloc(bl - 4 + 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	ret = io_all(fd, b, bl - 4, false, dl);
	close(fd);
	if (ret) {
		free(b);
		return ret;
	}
	b[bl - 4] = '\0';
	*status = (int)get_le32(h + 4);
	*body = b;
	*len = bl - 4;
	return 0;
}
