// SPDX-License-Identifier: MIT
/*
 * test_ctlsock: the control socket (common/ctlsock.c) on a real Unix
 * socket: commands and their replies, malformed requests answered with
 * an error while the socket keeps serving, a privileged command refused
 * to another uid (in a child that drops to nobody, when run as root), a
 * handler that takes the connection over.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctlsock.h"
#include "t.h"

static int h_echo(struct rfs_ctl_req *rq, struct rfs_ctl_out *out)
{
	for (int i = 1; i < rq->argc; i++)
		rfs_ctl_printf(out, "%s%s", i > 1 ? " " : "", rq->argv[i]);
	rfs_ctl_printf(out, "|uid=%u", (unsigned)rq->uid);
	return 0;
}

static int h_fail(struct rfs_ctl_req *rq, struct rfs_ctl_out *out)
{
	rfs_ctl_printf(out, "fail: as asked");
	return -EIO;
}

static int h_take(struct rfs_ctl_req *rq, struct rfs_ctl_out *out)
{
	static const char s[] = "stream!";
	int fd = rq->fd;

	if (rfs_ctl_reply_hdr(fd, sizeof(s) - 1))
		return -EIO;
	if (send(fd, s, sizeof(s) - 1, MSG_NOSIGNAL) != sizeof(s) - 1)
		return -EIO;
	close(fd);
	return RFS_CTL_TAKEN;
}

static const struct rfs_ctl_cmd cmds[] = {
	{ "echo", h_echo, 0, "echo the arguments" },
	{ "fail", h_fail, 0, "fail with EIO" },
	{ "secret", h_echo, RFS_CTL_PRIV, "echo, privileged" },
	{ "take", h_take, 0, "take the connection over" },
};

/* send raw bytes, read one reply frame: status, or -errno; body in b */
static int raw(const char *path, const void *req, size_t n, char *b, size_t bn)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned char h[8];
	size_t got = 0;
	uint32_t len;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), st;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (write(fd, req, n) != (ssize_t)n)
		return -EIO;
	while (got < 8) {
		ssize_t r = read(fd, h + got, 8 - got);

		if (r <= 0) {
			close(fd);
			return -ECONNRESET;
		}
		got += (size_t)r;
	}
	len = h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24;
	st = h[4] | h[5] << 8;
	got = 0;
	while (got < len - 4 && got < bn - 1) {
		ssize_t r = read(fd, b + got, len - 4 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	b[got] = '\0';
	close(fd);
	return st;
}

int main(void)
{
	char dir[] = "/tmp/ctlsockXXXXXX", path[100], buf[4096];
	char *echo[] = { "echo", "a", "b c" }, *body;
	struct rfs_ctl *c;
	size_t len;
	int st;

	T_OK(mkdtemp(dir) != NULL);
	T_EQ(chmod(dir, 0755), 0); /* the nobody child must reach it */
	snprintf(path, sizeof(path), "%s/sub/t.sock", dir);
	T_EQ(rfs_ctl_open(path, cmds, 4, NULL, &c), 0);

	T_EQ(rfs_ctl_call(path, 3, echo, 2000, &st, &body, &len), 0);
	T_EQ(st, 0);
	T_CHECK(!strcmp(body, "a b c|uid=0") || geteuid() != 0, "%s", body);
	free(body);

	/* handler errors carry its message */
	T_EQ(rfs_ctl_call(path, 1, (char *[]){ "fail" }, 2000, &st, &body,
			  &len),
	     0);
	T_EQ(st, EIO);
	T_CHECK(strstr(body, "as asked") != NULL, "%s", body);
	free(body);

	/* unknown command */
	T_EQ(rfs_ctl_call(path, 1, (char *[]){ "nope" }, 2000, &st, &body,
			  &len),
	     0);
	T_EQ(st, ENOENT);
	T_CHECK(strstr(body, "unknown command 'nope'") != NULL, "%s", body);
	free(body);

	/* help lists the table */
	T_EQ(rfs_ctl_call(path, 1, (char *[]){ "help" }, 2000, &st, &body,
			  &len),
	     0);
	T_EQ(st, 0);
	T_OK(strstr(body, "secret: echo, privileged (root") != NULL);
	free(body);

	/* malformed: zero length, huge length, no final NUL, empty name */
	T_EQ(raw(path, "\0\0\0\0", 4, buf, sizeof(buf)), EINVAL);
	T_CHECK(strstr(buf, "length 0") != NULL, "%s", buf);
	T_EQ(raw(path, "\xff\xff\xff\x7f", 4, buf, sizeof(buf)), E2BIG);
	T_EQ(raw(path, "\x04\0\0\0echo", 8, buf, sizeof(buf)), EINVAL);
	T_CHECK(strstr(buf, "NUL") != NULL, "%s", buf);
	T_EQ(raw(path, "\x01\0\0\0\0", 5, buf, sizeof(buf)), EINVAL);
	/* a caller that connects and leaves mid-request */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		T_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		T_EQ(write(fd, "\x10\0", 2), 2);
		close(fd);
	}
	/* and it still serves */
	T_EQ(rfs_ctl_call(path, 3, echo, 2000, &st, &body, &len), 0);
	T_EQ(st, 0);
	free(body);

	/* every place taken by idle callers: the next one hears EBUSY;
	   once they leave, the socket serves again */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fds[RFS_CTL_CLIENTS_MAX];

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		for (unsigned i = 0; i < RFS_CTL_CLIENTS_MAX; i++) {
			fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
			T_EQ(connect(fds[i], (struct sockaddr *)&sa,
				     sizeof(sa)),
			     0);
		}
		/* the owner thread accepts them in order: ask until it
		   has (each call is answered, EBUSY or not) */
		for (int tries = 0; tries < 1000; tries++) {
			if (rfs_ctl_call(path, 3, echo, 2000, &st, &body,
					 &len) == 0) {
				free(body);
				if (st == EBUSY)
					break;
			}
		}
		T_EQ(st, EBUSY);
		for (unsigned i = 0; i < RFS_CTL_CLIENTS_MAX; i++)
			close(fds[i]);
		for (int tries = 0; tries < 1000; tries++) {
			if (rfs_ctl_call(path, 3, echo, 2000, &st, &body,
					 &len) == 0) {
				free(body);
				if (st == 0)
					break;
			}
		}
		T_EQ(st, 0);
	}

	/* the handler that takes the fd over */
	T_EQ(raw(path, "\x05\0\0\0take\0", 9, buf, sizeof(buf)), 0);
	T_CHECK(!strcmp(buf, "stream!"), "%s", buf);

	/* privileged: fine for us; refused to nobody */
	T_EQ(rfs_ctl_call(path, 1, (char *[]){ "secret" }, 2000, &st, &body,
			  &len),
	     0);
	T_EQ(st, 0);
	free(body);
	if (geteuid() == 0) {
		pid_t pid = fork();
		int ws = 0;

		if (pid == 0) {
			if (setgid(65534) || setuid(65534))
				_exit(3);
			if (rfs_ctl_call(path, 1, (char *[]){ "secret" }, 2000,
					 &st, &body, &len))
				_exit(4);
			if (st != EPERM || !strstr(body, "only root or uid 0"))
				_exit(5);
			/* the unprivileged command is fine */
			if (rfs_ctl_call(path, 3, echo, 2000, &st, &body,
					 &len) ||
			    st != 0 || !strstr(body, "uid=65534"))
				_exit(6);
			_exit(0);
		}
		T_OK(pid > 0);
		T_EQ(waitpid(pid, &ws, 0), pid);
		T_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
			"unprivileged child: status %d", ws);
	} else {
		printf("note: not root: the refusal to another uid is "
		       "checked in tests/ctl\n");
	}
	rfs_ctl_close(c);
	T_OK(access(path, F_OK) < 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
	T_DONE();
}
