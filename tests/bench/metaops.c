// SPDX-License-Identifier: MIT
/*
 * metaops: the metadata workloads of tests/bench/suite.sh, timed with
 * CLOCK_MONOTONIC.  Built by suite.sh with plain cc (no project headers).
 *
 *   metaops create DIR N    open(O_CREAT|O_EXCL) + close of DIR/f00000..
 *   metaops stat DIR N      stat() of each of them
 *   metaops unlink DIR N    unlink() of each of them
 *   metaops time CMD ARGS   run CMD (fork + exec), report its wall time
 *
 * Prints one line: "PHASE COUNT SECONDS OPS_PER_S" (for time: COUNT 1).
 * Exit 0 on success, 1 on any failed operation (reported on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int one_op(const char *phase, const char *path)
{
	struct stat st;
	int fd;

	if (!strcmp(phase, "create")) {
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		if (close(fd) < 0)
			return -errno;
		return 0;
	}
	if (!strcmp(phase, "stat"))
		return stat(path, &st) < 0 ? -errno : 0;
	return unlink(path) < 0 ? -errno : 0;
}

static int run_files(const char *phase, const char *dir, long n)
{
	char path[PATH_MAX];
	double t0, dt;
	int err;

	t0 = now();
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%06ld", dir, i);
		err = one_op(phase, path);
		if (err) {
			fprintf(stderr, "metaops: %s %s: %s\n", phase, path,
				strerror(-err));
			return 1;
		}
	}
	dt = now() - t0;
	printf("%s %ld %.6f %.1f\n", phase, n, dt, n / dt);
	return 0;
}

static int run_cmd(char **argv)
{
	double t0, dt;
	int status;
	pid_t pid;

	t0 = now();
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "metaops: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "metaops: exec %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "metaops: waitpid: %s\n",
				strerror(errno));
			return 1;
		}
	}
	dt = now() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "metaops: %s failed (status 0x%x)\n", argv[0],
			status);
		return 1;
	}
	printf("time 1 %.6f %.3f\n", dt, 1 / dt);
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	long n;

	if (argc >= 3 && !strcmp(argv[1], "time"))
		return run_cmd(argv + 2);
	if (argc != 4 ||
	    (strcmp(argv[1], "create") && strcmp(argv[1], "stat") &&
	     strcmp(argv[1], "unlink"))) {
		fprintf(stderr, "usage: metaops create|stat|unlink DIR N\n"
				"       metaops time CMD [ARGS...]\n");
		return 2;
	}
	errno = 0;
	n = strtol(argv[3], &end, 10);
	if (errno || *end || n <= 0 || n > 999999) {
		fprintf(stderr, "metaops: bad count '%s'\n", argv[3]);
		return 2;
	}
	return run_files(argv[1], argv[2], n);
}
