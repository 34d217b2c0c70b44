// SPDX-License-Identifier: MIT
/*
 * test_bufpool: rfs_pool_prefill (common/bufpool.c), the buffers a
 * hardened client (-o swap) allocates up front: each class holds
 * min(keep, budget / size) free buffers, at least one chunk, and gets and
 * puts within that many allocate nothing and free nothing.
 */
#include <stdint.h>
#include <stdio.h>

#include "bufpool.h"
#include "log.h"
#include "t.h"

struct tbuf {
	struct rfs_pool_buf pb;
};

int main(void)
{
	struct rfs_pool p;
	struct rfs_pool_buf *got[64];
	uint64_t nbufs;

	rfs_log_init("test_bufpool");
	rfs_pool_init(&p, "test", sizeof(struct tbuf), 0, RFS_POOL_ALIGN,
		      1u << 20, NULL);
	T_EQ(rfs_pool_add_class(&p, 4096, 1, 16), 0);
	T_EQ(rfs_pool_add_class(&p, 65536, 1, 8), 0);
	T_EQ(rfs_pool_add_class(&p, 1u << 20, 1, 8), 0);
	T_EQ(p.nbufs, 0);

	/* budget 256 KiB: 16 (keep) of 4 KiB, 4 of 64 KiB, 1 of 1 MiB */
	T_EQ(rfs_pool_prefill(&p, 256u << 10), 0);
	T_EQ(p.cls[0].nfree, 16);
	T_EQ(p.cls[1].nfree, 4);
	T_EQ(p.cls[2].nfree, 1);
	T_EQ(p.nbufs, 21);
	/* idempotent */
	T_EQ(rfs_pool_prefill(&p, 256u << 10), 0);
	T_EQ(p.nbufs, 21);

	/* the prefilled buffers serve without growing, and stay on put */
	nbufs = p.nbufs;
	for (int i = 0; i < 16; i++)
		got[i] = rfs_pool_get(&p, 100);
	for (int i = 16; i < 20; i++)
		got[i] = rfs_pool_get(&p, 30000);
	got[20] = rfs_pool_get(&p, 1u << 20);
	for (int i = 0; i < 21; i++)
		T_CHECK(got[i] != NULL, "get %d failed", i);
	T_EQ(p.nbufs, nbufs);
	T_EQ(rfs_pool_out(&p), 21);
	for (int i = 0; i < 21; i++)
		rfs_pool_put(&p, got[i]);
	T_EQ(p.nbufs, nbufs);
	T_EQ(rfs_pool_out(&p), 0);

	/* beyond the prefill: one more grows the pool */
	for (int i = 0; i < 17; i++)
		got[i] = rfs_pool_get(&p, 100);
	T_EQ(p.nbufs, nbufs + 1);
	for (int i = 0; i < 17; i++)
		rfs_pool_put(&p, got[i]);
	/* and the extra one is freed again (keep 16) */
	T_EQ(p.nbufs, nbufs);

	/* a tiny budget still gives each class one chunk */
	rfs_pool_destroy(&p);
	T_EQ(rfs_pool_prefill(&p, 1), 0);
	T_EQ(p.cls[0].nfree, 1);
	T_EQ(p.cls[2].nfree, 1);
	rfs_pool_destroy(&p);
	T_DONE();
}
