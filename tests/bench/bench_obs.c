// SPDX-License-Identifier: MIT
/*
 * bench_obs: the latency distribution of a cell's opcode as the ringfs
 * client daemon and ringfsd measured it themselves, from the log2
 * histograms in their counters files (common/obs.h).  Reading them
 * costs the daemons nothing: the files are shared memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "obs.h"
#include "proto.h"

_Static_assert(RFS_OBS_NBUCKET == 40, "struct bench_obs_snap's buckets");

uint16_t bench_wl_op(int wl)
{
	switch (wl) {
	case WL_ECHO:
		return RFS_OP_PING;
	case WL_GETATTR:
		return RFS_OP_GETATTR;
	case WL_WRITE1M:
		return RFS_OP_WRITE;
	default:
		return RFS_OP_READ;
	}
}

int bench_obs_attach(struct bench_obs *o, pid_t pid, bool server)
{
	char dir[4096], path[4200];

	memset(o, 0, sizeof(*o));
	if (pid <= 0 || !rfs_run_dir(dir, sizeof(dir)))
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s-%d.stats", dir,
		 server ? "ringfsd" : "client", (int)pid);
	return rfs_obs_map(path, &o->h, &o->len);
}

void bench_obs_detach(struct bench_obs *o)
{
	rfs_obs_unmap(o->h, o->len);
	memset(o, 0, sizeof(*o));
}

static void add(struct bench_obs_snap *s, const struct rfs_obs_slot *sl,
		uint16_t op)
{
	for (unsigned i = 0; i < RFS_OBS_NBUCKET; i++)
		s->b[i] += __atomic_load_n(&sl->h.b[op][i], __ATOMIC_RELAXED);
	s->sum_ns += __atomic_load_n(&sl->h.sum_ns[op], __ATOMIC_RELAXED);
}

void bench_obs_snap(const struct bench_obs *o, uint16_t op,
		    struct bench_obs_snap *s)
{
	const struct rfs_obs_slot *sl;

	memset(s, 0, sizeof(*s));
	if (!o->h || op >= RFS_OBS_NOPS)
		return;
	sl = rfs_obs_slots(o->h);
	/* connections that closed during the run count too */
	for (unsigned i = 0; i < RFS_OBS_NXPRT; i++)
		add(s, &o->h->retired[i], op);
	for (uint32_t i = 0; i < o->h->nslots; i++)
		add(s, &sl[i], op);
}

void bench_obs_fill(struct bench_hist *h, uint16_t op,
		    const struct bench_obs_snap *a,
		    const struct bench_obs_snap *b)
{
	uint64_t d[RFS_OBS_NBUCKET], n = 0;

	memset(h, 0, sizeof(*h));
	for (unsigned i = 0; i < RFS_OBS_NBUCKET; i++) {
		/* a slot reused by a new connection may go back: clamp */
		d[i] = b->b[i] >= a->b[i] ? b->b[i] - a->b[i] : 0;
		n += d[i];
	}
	h->op = op;
	h->n = n;
	if (!n)
		return;
	h->valid = true;
	h->p50_us = (double)rfs_obs_quantile(d, 0.5) / 1e3;
	h->p99_us = (double)rfs_obs_quantile(d, 0.99) / 1e3;
	h->p999_us = (double)rfs_obs_quantile(d, 0.999) / 1e3;
	h->mean_us = b->sum_ns >= a->sum_ns ?
			     (double)(b->sum_ns - a->sum_ns) / (double)n / 1e3 :
			     -1;
}
