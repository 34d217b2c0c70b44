// SPDX-License-Identifier: MIT
/*
 * perfcount_test: the syscall counting ringfs-bench relies on is exact.
 *
 *   thread   a counter on the calling thread; 1000 getppid() between two
 *            reads count exactly 1000 more than no syscall between two
 *            reads (the fixed overhead of the reads themselves, measured
 *            in the same run), several times over.
 *   inherit  the way ringfs-bench watches ringfsd: a counter opened on a
 *            child before it execs (inherit, enabled on exec); the child
 *            runs this program again, which starts a thread; the parent
 *            has it do rounds of 0 and 1000 getppid() and reads the
 *            counter around each round while the thread is parked in
 *            read(2) (seen in /proc/.../syscall): the rounds differ by
 *            exactly 1000, so threads the process creates after exec are
 *            counted, live.
 *
 * Exit 77 when perf_event_open or the tracepoint is not available.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perfcount.h"
#include "t.h"

#define N 1000
#define ROUNDS 5

static void do_getppid(long n)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid); /* never cached by libc */
}

static int bracket(int fd, long n, uint64_t *delta)
{
	uint64_t a, b;
	int err;

	err = rfs_pc_read(fd, &a);
	if (err)
		return err;
	do_getppid(n);
	err = rfs_pc_read(fd, &b);
	if (err)
		return err;
	*delta = b - a;
	return 0;
}

static int go_fd = -1, done_fd = -1;

/*
 * The child's worker: report its tid, then forever: read a count, do that
 * many getppid(), answer one byte.  Its syscalls per round are exactly
 * read + n + write.
 */
static void *thread_fn(void *arg)
{
	int32_t tid = (int32_t)syscall(SYS_gettid), n;

	(void)arg;
	if (write(done_fd, &tid, sizeof(tid)) != sizeof(tid))
		_exit(4);
	while (read(go_fd, &n, sizeof(n)) == sizeof(n)) {
		do_getppid(n);
		if (write(done_fd, "d", 1) != 1)
			_exit(4);
	}
	_exit(0);
}

/* child mode (after exec): the work happens on a thread it creates */
static int child_main(int go, int done)
{
	pthread_t t;

	go_fd = go;
	done_fd = done;
	if (pthread_create(&t, NULL, thread_fn, NULL))
		return 2;
	/*
	 * End just this thread, with no libc bookkeeping: a thread left
	 * waiting (pthread_join) could enter the kernel again at any time
	 * and spoil the count.  The worker's _exit ends the process.
	 */
	for (;;)
		syscall(SYS_exit, 0);
}

/*
 * Wait until task tid sits in read(2) (first field of /proc/.../syscall):
 * then its next read has been entered and counted.  Bounded.
 */
static int wait_in_read(pid_t pid, int32_t tid)
{
	char path[96], buf[128];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid,
		 (int)tid);
	for (long i = 0; i < 10000000; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0)
			return -errno;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return -EIO;
		buf[n] = 0;
		/* "running" while it runs: atol would read that as 0 */
		if (buf[0] >= '0' && buf[0] <= '9' && atol(buf) == SYS_read)
			return 0;
		sched_yield();
	}
	return -ETIMEDOUT;
}

/*
 * One round: counter value before, tell the worker to do n getppid(),
 * counter value once it is back in read.  Returns the delta.
 */
static int child_round(struct rfs_pc_set *s, pid_t pid, int32_t tid, int go,
		       int done, int32_t n, uint64_t *delta)
{
	uint64_t a[RFS_PC_NKIND], b[RFS_PC_NKIND];
	char c;
	int err;

	if ((err = wait_in_read(pid, tid)) || (err = rfs_pc_set_read(s, a)))
		return err;
	if (write(go, &n, sizeof(n)) != sizeof(n) || read(done, &c, 1) != 1)
		return -EPIPE;
	if ((err = wait_in_read(pid, tid)) || (err = rfs_pc_set_read(s, b)))
		return err;
	*delta = b[RFS_PC_SYSCALLS] - a[RFS_PC_SYSCALLS];
	return 0;
}

/*
 * Start `self --child GO DONE` under an inherit counter opened before it
 * execs (as ringfs-bench starts ringfsd), then measure rounds of 0 and N
 * getppid() on the thread it creates.
 */
static int run_child(const char *self, uint64_t *d0, uint64_t *dn)
{
	char a1[16], a2[16];
	struct rfs_pc_set s;
	int go[2], done[2], st, err;
	int32_t tid = 0;
	pid_t pid;

	if (pipe(go) < 0 || pipe(done) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char c;

		close(go[1]);
		close(done[0]);
		/* wait until the parent has its counters on us */
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		snprintf(a1, sizeof(a1), "%d", go[0]);
		snprintf(a2, sizeof(a2), "%d", done[1]);
		execl(self, self, "--child", a1, a2, (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	close(done[1]);
	err = rfs_pc_set_exec(&s, pid);
	if (err) {
		kill(pid, SIGKILL);
		goto out;
	}
	if (write(go[1], "g", 1) != 1 ||
	    read(done[0], &tid, sizeof(tid)) != sizeof(tid))
		err = -EPIPE;
	if (!err)
		err = child_round(&s, pid, tid, go[1], done[0], 0, d0);
	if (!err)
		err = child_round(&s, pid, tid, go[1], done[0], N, dn);
	rfs_pc_set_close(&s);
out:
	close(go[1]); /* the worker's read sees EOF and exits */
	close(done[0]);
	if (waitpid(pid, &st, 0) < 0 && !err)
		err = -errno;
	return err;
}

int main(int argc, char **argv)
{
	uint64_t d0 = 0, dn = 0, c0 = 0, cn = 0;
	int fd, err;

	if (argc == 4 && !strcmp(argv[1], "--child"))
		return child_main(atoi(argv[2]), atoi(argv[3]));

	fd = rfs_pc_open(RFS_PC_SYSCALLS, 0, false, false);
	if (fd == -EACCES || fd == -EPERM || fd == -ENOENT || fd == -ENOSYS ||
	    fd == -ENODEV || fd == -EOPNOTSUPP)
		T_SKIP("perf_event_open on raw_syscalls:sys_enter: %s",
		       strerror(-fd));
	T_OK(fd >= 0);
	if (fd < 0) {
		fprintf(stderr, "perf_event_open: %s\n", strerror(-fd));
		T_DONE();
	}

	for (int r = 0; r < ROUNDS; r++) {
		T_EQ(bracket(fd, 0, &d0), 0);
		T_EQ(bracket(fd, N, &dn), 0);
		T_EQ(dn - d0, N);
		printf("thread: overhead %llu, 1000 getppid -> %llu\n",
		       (unsigned long long)d0, (unsigned long long)dn);
	}
	/* the overhead is one read(2): the second read's own entry */
	T_EQ(d0, 1);
	close(fd);

	err = run_child("/proc/self/exe", &c0, &cn);
	T_EQ(err, 0);
	printf("inherit: child's thread, round of 0 -> %llu, of %d -> %llu "
	       "syscalls\n",
	       (unsigned long long)c0, N, (unsigned long long)cn);
	/* a round is read + n getppid + write */
	T_EQ(c0, 2);
	T_EQ(cn - c0, N);
	T_DONE();
}
