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
 *            runs this program again, which starts a thread doing N
 *            getppid() and exits.  Run with N = 1000 and N = 0, the
 *            totals differ by exactly 1000 (the thread was counted).
 *
 * Exit 77 when perf_event_open or the tracepoint is not available.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
		syscall(SYS_getppid);	/* never cached by libc */
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

static void *thread_fn(void *arg)
{
	do_getppid((long)(intptr_t)arg);
	return NULL;
}

/* child mode: a thread does n getppid(), then exit */
static int child_main(long n)
{
	pthread_t t;

	if (pthread_create(&t, NULL, thread_fn, (void *)(intptr_t)n))
		return 2;
	if (pthread_join(t, NULL))
		return 2;
	return 0;
}

/*
 * Start `self --child n` under an inherit counter opened before exec;
 * return its whole-life syscall count.
 */
static int run_child(const char *self, long n, uint64_t *count)
{
	char arg[32];
	struct rfs_pc_set s;
	int go[2], st, err;
	pid_t pid;
	char c = 0;

	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(go[0]);
		close(go[1]);
		return err;
	}
	if (pid == 0) {
		close(go[1]);
		/* wait until the parent has its counters on us */
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		snprintf(arg, sizeof(arg), "%ld", n);
		execl(self, self, "--child", arg, (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	err = rfs_pc_set_exec(&s, pid);
	if (write(go[1], &c, 1) != 1 && !err)
		err = -errno;
	close(go[1]);
	if (waitpid(pid, &st, 0) < 0 && !err)
		err = -errno;
	if (err)
		return err;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "child exited with status %#x\n", st);
		err = -ECHILD;
	} else {
		uint64_t v[RFS_PC_NKIND];

		err = rfs_pc_set_read(&s, v);
		*count = v[RFS_PC_SYSCALLS];
	}
	rfs_pc_set_close(&s);
	return err;
}

int main(int argc, char **argv)
{
	uint64_t d0, dn, c0 = 0, cn = 0;
	int fd, err;

	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child_main(atol(argv[2]));

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

	err = run_child("/proc/self/exe", 0, &c0);
	T_EQ(err, 0);
	err = run_child("/proc/self/exe", N, &cn);
	T_EQ(err, 0);
	printf("inherit: child with 0 -> %llu, with %d -> %llu syscalls\n",
	       (unsigned long long)c0, N, (unsigned long long)cn);
	T_OK(c0 > 0);
	T_EQ(cn - c0, N);
	T_DONE();
}
