// SPDX-License-Identifier: MIT
/*
 * test_inode: the client's inode table (suite unit).  Counts, handles,
 * pinning, growth past the initial buckets, and four threads hammering
 * overlapping node ids the way event loops do on lookup/forget.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_i.h"

/* the table reads rfs_cl only through cl_nodeid/cl_ino, unused here */
struct rfs_client *rfs_cl;

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #c);                                 \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define NTHREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
	uintptr_t t = (uintptr_t)arg;

	for (uint64_t i = 0; i < PER_THREAD; i++) {
		uint64_t id = 1000 + (i % 512); /* shared between threads */
		uint8_t h[8];

		memcpy(h, &id, 8);
		if (rfs_inode_ref(id, h, 8) < 0)
			return (void *)1;
		(void)t;
		rfs_inode_unref(id, 1);
	}
	return NULL;
}

int main(void)
{
	uint8_t h[RFS_HANDLE_MAX], out[RFS_HANDLE_MAX];
	pthread_t th[NTHREADS];

	CHECK(rfs_inode_init() == 0);

	/* counts: two refs, two unrefs; gone only at zero */
	memset(h, 0xab, sizeof(h));
	CHECK(rfs_inode_ref(42, h, 20) == 0);
	CHECK(rfs_inode_ref(42, NULL, 0) == 0);
	CHECK(rfs_inode_handle(42, out) == 20);
	CHECK(memcmp(out, h, 20) == 0);
	CHECK(!rfs_inode_unref(42, 1));
	CHECK(rfs_inode_unref(42, 1));
	CHECK(rfs_inode_handle(42, out) == -ENOENT);
	CHECK(!rfs_inode_unref(42, 1)); /* unknown: no-op */

	/* forget of more than counted drops the node */
	CHECK(rfs_inode_ref(43, h, 4) == 0);
	CHECK(rfs_inode_unref(43, 10));

	/* a pinned node (the root) never leaves */
	CHECK(rfs_inode_pin(7, h, 8) == 0);
	CHECK(rfs_inode_ref(7, NULL, 0) == 0);
	CHECK(!rfs_inode_unref(7, 5));
	CHECK(rfs_inode_handle(7, out) == 8);

	/* oversized handle refused */
	CHECK(rfs_inode_ref(44, h, RFS_HANDLE_MAX + 1) == -EINVAL);

	/* growth: 100k nodes, all findable, then all gone */
	for (uint64_t i = 0; i < 100000; i++) {
		memcpy(h, &i, sizeof(i));
		CHECK(rfs_inode_ref(0x100000 + i, h, 8) == 0);
	}
	CHECK(rfs_inode_count() == 100001);
	for (uint64_t i = 0; i < 100000; i++) {
		uint64_t got;

		CHECK(rfs_inode_handle(0x100000 + i, out) == 8);
		memcpy(&got, out, 8);
		CHECK(got == i);
		CHECK(rfs_inode_unref(0x100000 + i, 1));
	}
	CHECK(rfs_inode_count() == 1);

	/* threads: balanced ref/unref leaves nothing behind */
	for (uintptr_t t = 0; t < NTHREADS; t++)
		CHECK(pthread_create(&th[t], NULL, hammer, (void *)t) == 0);
	for (int t = 0; t < NTHREADS; t++) {
		void *ret;

		CHECK(pthread_join(th[t], &ret) == 0);
		CHECK(ret == NULL);
	}
	CHECK(rfs_inode_count() == 1);

	rfs_inode_fini();
	printf("test_inode: ok\n");
	return 0;
}
