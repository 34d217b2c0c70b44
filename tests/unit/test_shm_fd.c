// SPDX-License-Identifier: MIT
/*
 * test_shm_fd: what the shm transport's Unix socket carries after setup
 * (common/xprt_shm_fd.c), on a real socketpair: files a server passes
 * with their request ids, taken in any order; the bye byte; and every
 * malformed stream a hostile server (or client) could send: a record
 * without its file, files without records, unknown bytes, files sent to
 * the server; and a record a read cuts in two.  Then client/passthrough.c's check of a received file
 * (rfs_pt_check_fd): only a regular file, opened for at least the access
 * the open asks for, is taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../client/passthrough.h"
#include "t.h"
#include "util.h"
#include "xprt_shm_fd.h"
#include "xprt_shm_i.h"

static int sp[2]; /* [0] the server's end, [1] the client's */
static uint64_t nsys;

static void pair(void)
{
	if (sp[0] > 0) {
		close(sp[0]);
		close(sp[1]);
	}
	T_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == 0);
}

static int rd(struct rfs_shm_fds *f, bool *bye, const char **why)
{
	return rfs_shm_sock_read(sp[1], f, bye, &nsys, why);
}

/* a file's inode, to tell which one came */
static ino_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static void test_pass(void)
{
	struct rfs_shm_fds f;
	const char *why;
	bool bye = false;
	int a = open("/dev/null", O_RDONLY), b = open(".", O_RDONLY), fd;

	pair();
	rfs_shm_fds_init(&f);
	T_EQ(rfs_shm_fd_send(sp[0], a, 7), 0);
	T_EQ(rfs_shm_fd_send(sp[0], b, 0x1122334455667788ull), 0);
	T_EQ(rd(&f, &bye, &why), -EAGAIN);
	T_EQ(f.n, 2u);
	/* taken by id, in any order */
	fd = rfs_shm_fd_take(&f, 0x1122334455667788ull);
	T_OK(fd >= 0 && ino_of(fd) == ino_of(b));
	close(fd);
	fd = rfs_shm_fd_take(&f, 7);
	T_OK(fd >= 0 && ino_of(fd) == ino_of(a));
	T_OK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	T_EQ(rfs_shm_fd_take(&f, 7), -ENOENT);
	/* the bye byte, then EOF */
	T_OK(write(sp[0], "B", 1) == 1);
	shutdown(sp[0], SHUT_WR);
	T_EQ(rd(&f, &bye, &why), 0);
	T_OK(bye);
	/* more files than the table holds: the oldest are closed */
	pair();
	for (uint64_t i = 0; i < RFS_SHM_FDS_MAX + 3; i++) {
		T_EQ(rfs_shm_fd_send(sp[0], a, i), 0);
		T_EQ(rd(&f, &bye, &why), -EAGAIN);
	}
	T_EQ(f.n, RFS_SHM_FDS_MAX);
	T_EQ(f.dropped, 3u);
	T_EQ(rfs_shm_fd_take(&f, 0), -ENOENT);
	fd = rfs_shm_fd_take(&f, RFS_SHM_FDS_MAX + 2);
	T_OK(fd >= 0);
	close(fd);
	rfs_shm_fds_clear(&f);
	T_EQ(f.n, 0u);
	close(a);
	close(b);
}

static void test_hostile(void)
{
	uint8_t rec[RFS_SHM_FD_REC] = { RFS_SHM_FD, 1 };
	struct rfs_shm_fds f;
	const char *why;
	bool bye = false;
	int a = open("/dev/null", O_RDONLY), fd;

	/* a record without its file */
	pair();
	rfs_shm_fds_init(&f);
	T_OK(write(sp[0], rec, sizeof(rec)) == (ssize_t)sizeof(rec));
	T_EQ(rd(&f, &bye, &why), -EPROTO);
	T_OK(why && strstr(why, "without its file"));
	rfs_shm_fds_clear(&f);
	/* a byte that is no record */
	pair();
	T_OK(write(sp[0], "x", 1) == 1);
	T_EQ(rd(&f, &bye, &why), -EPROTO);
	/* a record cut in two reads: its file comes with the first part */
	pair();
	rfs_shm_fds_clear(&f);
	rec[0] = RFS_SHM_FD;
	T_EQ(rfs_send_fds(sp[0], rec, 4, &a, 1, 0), 0);
	T_EQ(rd(&f, &bye, &why), -EAGAIN);
	T_EQ(f.npart, 4u);
	T_EQ(f.nloose, 1u);
	T_EQ(f.n, 0u);
	T_OK(write(sp[0], rec + 4, sizeof(rec) - 4) ==
	     (ssize_t)sizeof(rec) - 4);
	T_EQ(rd(&f, &bye, &why), -EAGAIN);
	T_EQ(f.n, 1u);
	T_EQ(f.nloose, 0u);
	fd = rfs_shm_fd_take(&f, 1);
	T_OK(fd >= 0 && ino_of(fd) == ino_of(a));
	close(fd);
	rfs_shm_fds_clear(&f);
	/* the server takes no files: a client's record is an error */
	pair();
	T_EQ(rfs_shm_fd_send(sp[1], a, 1), 0);
	T_EQ(rfs_shm_sock_read(sp[0], NULL, &bye, &nsys, &why), -EPROTO);
	/* files with no record: refused */
	pair();
	{
		int two[2] = { a, a };

		T_EQ(rfs_send_fds(sp[0], "B", 1, two, 2, 0), 0);
		T_EQ(rd(&f, &bye, &why), -EPROTO);
		T_OK(why && strstr(why, "without its record"));
		rfs_shm_fds_clear(&f);
	}
	close(a);
}

static void test_check_fd(void)
{
	char path[] = "/tmp/test_shm_fd.XXXXXX";
	int w = mkstemp(path), r, p, d, pipes[2];
	struct stat st;

	T_OK(w >= 0);
	r = open(path, O_RDONLY);
	p = open(path, O_PATH);
	d = open("/tmp", O_RDONLY | O_DIRECTORY);
	T_OK(r >= 0 && p >= 0 && d >= 0 && pipe(pipes) == 0);
	/* the access it proves */
	T_EQ(rfs_pt_check_fd(w, O_RDWR, &st), 0);
	T_EQ(rfs_pt_check_fd(w, O_WRONLY, &st), 0);
	T_EQ(rfs_pt_check_fd(r, O_RDONLY, &st), 0);
	T_EQ(rfs_pt_check_fd(r, O_RDWR, &st), -EACCES);
	T_EQ(rfs_pt_check_fd(r, O_WRONLY | O_APPEND, &st), -EACCES);
	/* no access at all, or not a regular file */
	T_EQ(rfs_pt_check_fd(p, O_RDONLY, &st), -EBADF);
	T_EQ(rfs_pt_check_fd(d, O_RDONLY, &st), -EBADF);
	T_EQ(rfs_pt_check_fd(pipes[0], O_RDONLY, &st), -EBADF);
	T_EQ(rfs_pt_check_fd(-1, O_RDONLY, &st), -EBADF);
	unlink(path);
	close(w);
	close(r);
	close(p);
	close(d);
	close(pipes[0]);
	close(pipes[1]);
}

int main(void)
{
	test_pass();
	test_hostile();
	test_check_fd();
	T_DONE();
}
