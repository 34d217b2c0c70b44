// SPDX-License-Identifier: MIT
/*
 * syscount PID...: count the syscalls of every thread of the given
 * processes (perf_event_open on raw_syscalls:sys_enter, through
 * tests/bench/perfcount.c) from now until SIGTERM or SIGINT (a script's
 * background job ignores SIGINT: send SIGTERM), then print "syscalls N"
 * and exit 0.  Threads started after the attach are not
 * counted: attach once the daemons are set up (tests/swap/run-in-vm.sh
 * does, after swapon).  Prints "ready" once attached.
 *
 * syscount --watchdog SECS: a watchdog that cannot be swapped out
 * (mlockall): unless ended with SIGTERM before SECS seconds, it asks the
 * kernel for its blocked tasks and memory state (sysrq w, m) and then
 * crashes it (sysrq c), so that a swap path that livelocks (tasks not in
 * D state long enough for the hung-task detector) ends the VM with a
 * diagnosis instead of running into the VM's timeout.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "perfcount.h"

#define MAXP 16

static void sysrq(char c)
{
	FILE *f = fopen("/proc/sysrq-trigger", "w");

	if (!f || fputc(c, f) == EOF || fclose(f)) {
		perror("syscount: /proc/sysrq-trigger");
		return;
	}
}

static int watchdog(const char *secs)
{
	struct timespec left = { .tv_sec = atol(secs) };
	sigset_t ss;
	int sig;

	if (left.tv_sec <= 0) {
		fprintf(stderr, "syscount: --watchdog %s: seconds > 0\n", secs);
		return 2;
	}
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		perror("syscount: mlockall");
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	if (sigprocmask(SIG_BLOCK, &ss, NULL)) {
		perror("syscount: sigprocmask");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	sig = sigtimedwait(&ss, NULL, &left);
	if (sig > 0)
		return 0;
	fprintf(stderr,
		"syscount: watchdog: %s s passed: blocked tasks, memory, "
		"crash\n",
		secs);
	sysrq('w');
	sysrq('m');
	sleep(2); /* let the console take the dumps */
	sysrq('c');
	return 1;
}

int main(int argc, char **argv)
{
	struct rfs_pc_set set[MAXP];
	uint64_t total = 0;
	sigset_t ss;
	int n = argc - 1, sig, rc;

	rfs_log_init("syscount");
	if (argc == 3 && !strcmp(argv[1], "--watchdog"))
		return watchdog(argv[2]);
	if (n < 1 || n > MAXP) {
		fprintf(stderr, "usage: syscount PID... (1 to %d)\n", MAXP);
		return 2;
	}
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &ss, NULL)) {
		perror("syscount: sigprocmask");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		rc = rfs_pc_set_attach(&set[i], (pid_t)atoi(argv[i + 1]));
		if (rc < 0) {
			fprintf(stderr, "syscount: attach to %s: %s\n",
				argv[i + 1], strerror(-rc));
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	if (sigwait(&ss, &sig)) {
		perror("syscount: sigwait");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		uint64_t v[RFS_PC_NKIND];

		rc = rfs_pc_set_read(&set[i], v);
		if (rc < 0) {
			fprintf(stderr, "syscount: read %s: %s\n", argv[i + 1],
				strerror(-rc));
			return 1;
		}
		total += v[RFS_PC_SYSCALLS];
		rfs_pc_set_close(&set[i]);
	}
	printf("syscalls %llu\n", (unsigned long long)total);
	return 0;
}
