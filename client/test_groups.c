// SPDX-License-Identifier: MIT
/*
 * test_groups: the client's lookup of a caller's supplementary groups
 * (groups.c, suite unit): parsing /proc status text, a live lookup of
 * this thread compared with getgroups(), the cache and its lifetime, and
 * the cost of a lookup with and without the cache (printed, "# cost").
 * As root the live part runs in a child that takes groups and a uid of
 * its own (root's own lookups are skipped by design).
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "groups.h"
#include "ringfs_proto.h"
#include "t.h"

static const char status_text[] =
	"Name:\tcat\nUmask:\t0022\nState:\tR (running)\nTgid:\t42\n"
	"Pid:\t42\nPPid:\t1\nTracerPid:\t0\n"
	"Uid:\t1000\t1001\t1002\t1003\n"
	"Gid:\t2000\t2001\t2002\t2003\n"
	"FDSize:\t64\nGroups:\t4 24 27 65531 \nNStgid:\t42\n";

static void test_parse(void)
{
	uint32_t uid, gid, g[8], n, total;
	char buf[sizeof(status_text)];

	T_EQ(rfs_groups_parse(status_text, strlen(status_text), &uid, &gid, g,
			      8, &n, &total),
	     0);
	T_EQ(uid, 1003); /* the fs ids: the fourth fields */
	T_EQ(gid, 2003);
	T_EQ(n, 4);
	T_EQ(total, 4);
	T_EQ(g[0], 4);
	T_EQ(g[3], 65531);
	/* more than fit: the first ones, and how many there were */
	T_EQ(rfs_groups_parse(status_text, strlen(status_text), &uid, &gid, g,
			      2, &n, &total),
	     0);
	T_EQ(n, 2);
	T_EQ(total, 4);
	T_EQ(g[1], 24);
	/* no groups */
	{
		static const char t[] = "Uid:\t1 1 1 1\nGid:\t2 2 2 2\n"
					"Groups:\t\nX:\t1\n";

		T_EQ(rfs_groups_parse(t, strlen(t), &uid, &gid, g, 8, &n,
				      &total),
		     0);
		T_EQ(n, 0);
		T_EQ(uid, 1);
	}
	/* a missing line, a short Uid line: refused */
	strcpy(buf, status_text);
	*strstr(buf, "Groups:") = 'X';
	T_EQ(rfs_groups_parse(buf, strlen(buf), &uid, &gid, g, 8, &n, &total),
	     -EINVAL);
	{
		static const char t[] = "Uid:\t1 1 1\nGid:\t2 2 2 2\n"
					"Groups:\t5\n";

		T_EQ(rfs_groups_parse(t, strlen(t), &uid, &gid, g, 8, &n,
				      &total),
		     -EINVAL);
	}
	/* not NUL-terminated: only len bytes are read */
	T_EQ(rfs_groups_parse(status_text,
			      strstr(status_text, "Groups:") - status_text,
			      &uid, &gid, g, 8, &n, &total),
	     -EINVAL);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* a thread's first lookup reads /proc, the next one after 1 ms again */
static void *ttl_thread(void *arg)
{
	uint32_t tid = (uint32_t)gettid(), uid = geteuid(), gid = getegid();
	uint64_t lookups, reads0, reads;
	const uint32_t *g;
	double t0;

	rfs_groups_stats(&lookups, &reads0);
	T_EQ(rfs_groups_get(tid, uid, gid, 1, &g), (long)arg);
	T_EQ(rfs_groups_get(tid, uid, gid, 1, &g), (long)arg);
	rfs_groups_stats(&lookups, &reads);
	T_OK(reads - reads0 <= 2);
	t0 = now_us();
	while (now_us() - t0 < 2000)
		;
	rfs_groups_stats(&lookups, &reads0);
	T_EQ(rfs_groups_get(tid, uid, gid, 1, &g), (long)arg);
	rfs_groups_stats(&lookups, &reads);
	T_EQ(reads - reads0, 1);
	return NULL;
}

/* this thread, as it is: the lookup must match getgroups() */
static void test_live(void)
{
	uint32_t tid = (uint32_t)gettid(), uid = geteuid(), gid = getegid();
	gid_t want[RFS_GROUPS_MAX];
	const uint32_t *g;
	uint64_t lookups, reads, reads0;
	uint32_t n;
	int nw = getgroups(RFS_GROUPS_MAX, want);
	double t0, uncached, cached;
	const int rounds = 2000;

	T_OK(nw >= 0);
	n = rfs_groups_get(tid, uid, gid, 0, &g);
	T_EQ(n, nw);
	for (uint32_t i = 0; i < n && (int)i < nw; i++)
		T_EQ(g[i], want[i]);
	/* ids that are not the thread's: nothing is lent */
	T_EQ(rfs_groups_get(tid, uid + 1, gid, 0, &g), 0);
	T_EQ(rfs_groups_get(tid, uid, gid + 1, 0, &g), 0);
	/* no such thread (ids above pid_max's limit), no pid */
	T_EQ(rfs_groups_get(0x7ffffff0u, uid, gid, 1000, &g), 0);
	T_EQ(rfs_groups_get(0, uid, gid, 1000, &g), 0);

	/* the cache: one read, then hits for the lifetime */
	rfs_groups_stats(&lookups, &reads0);
	n = rfs_groups_get(tid, uid, gid, 60000, &g);
	T_EQ(n, nw);
	for (int i = 0; i < 10; i++)
		T_EQ(rfs_groups_get(tid, uid, gid, 60000, &g), nw);
	rfs_groups_stats(&lookups, &reads);
	T_EQ(reads - reads0, 1);
	/* another key is another entry */
	rfs_groups_get(tid, uid, gid + 1, 60000, &g);
	T_EQ(rfs_groups_get(tid, uid, gid, 60000, &g), nw);
	rfs_groups_stats(&lookups, &reads);
	T_EQ(reads - reads0, 2);
	/* a failed lookup is not kept */
	rfs_groups_get(tid, uid, gid + 1, 60000, &g);
	rfs_groups_stats(&lookups, &reads);
	T_EQ(reads - reads0, 3);
	/* lifetime 1 ms, on a thread of its own (its own cache) */
	{
		pthread_t th;

		T_EQ(pthread_create(&th, NULL, ttl_thread, (void *)(long)nw),
		     0);
		T_EQ(pthread_join(th, NULL), 0);
	}

	/* what a request pays, without and with the cache */
	t0 = now_us();
	for (int i = 0; i < rounds; i++)
		rfs_groups_get(tid, uid, gid, 0, &g);
	uncached = (now_us() - t0) / rounds;
	rfs_groups_get(tid, uid, gid, 60000, &g);
	t0 = now_us();
	for (int i = 0; i < rounds * 100; i++)
		rfs_groups_get(tid, uid, gid, 60000, &g);
	cached = (now_us() - t0) / (rounds * 100);
	printf("# cost of a caller's groups, %d of them: /proc read %.2f us, "
	       "cached %.3f us\n",
	       nw, uncached, cached);
	T_OK(cached < uncached);
}

int main(void)
{
	test_parse();
	if (geteuid() == 0) {
		/* root's lookups are skipped: test as a user with groups */
		static const gid_t gl[] = { 65531, 65533, 70000 };
		int st;
		pid_t pid;

		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			perror("test_groups: fork");
			return T_EXIT_FAIL;
		}
		if (pid == 0) {
			if (setgroups(3, gl) < 0 ||
			    setresgid(65532, 65532, 65532) < 0 ||
			    setresuid(1000, 1000, 1000) < 0) {
				perror("test_groups: drop to uid 1000 with "
				       "groups");
				_exit(T_EXIT_FAIL);
			}
			test_live();
			T_DONE();
		}
		if (waitpid(pid, &st, 0) < 0) {
			perror("test_groups: waitpid");
			return T_EXIT_FAIL;
		}
		T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		/* root itself: skipped, no /proc read */
		{
			const uint32_t *g;

			T_EQ(rfs_groups_get((uint32_t)gettid(), 0, 0, 0, &g),
			     0);
		}
	} else {
		test_live();
	}
	T_DONE();
}
