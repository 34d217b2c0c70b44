// SPDX-License-Identifier: MIT
/*
 * obs-cost: what the counters (common/obs.h) cost a request on the data
 * path, measured alone: the exact sequence of counter updates and clock
 * reads the client loop (call.c: send, reply) and the server connection
 * thread (conn.c: arrival, reply) make per request, in a loop over a
 * real counters region, best of 7 runs (the least disturbed by other
 * load).  No syscall is involved: clock_gettime is the vDSO's.  Added
 * clock reads: the client one per reply (the send time is the clock
 * read a request slot always took, for soft timeouts); the server one
 * per reply and one per batch of arrivals (at QD1: per request).
 *
 *   obs-cost [N]     N requests per run (default 5,000,000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "obs.h"
#include "spin.h"

static volatile uint64_t sink;

/* the client: rfs_lp_send, slot_get/put gauges, on_reply */
static double client_run(struct rfs_obs_slot *s, unsigned long n)
{
	long long t0 = rfs_now_ns(), last = t0;
	uint32_t inflight = 0;

	for (unsigned long i = 0; i < n; i++) {
		int64_t sent;
		uint64_t ns;

		inflight++;
		rfs_obs_set(s, RFS_OBS_G_inflight, inflight);
		if (inflight > s->g[RFS_OBS_G_inflight_max])
			rfs_obs_set(s, RFS_OBS_G_inflight_max, inflight);
		/* the slot's clock read (start_ms) was there before the
		   counters: it doubles as the send time */
		sent = last;
		rfs_obs_add(s, RFS_OBS_requests_sent, 1);
		/* ... the round trip ... */
		last = rfs_now_ns();
		ns = (uint64_t)(last - sent);
		rfs_obs_lat(s, 15 /* READ */, ns);
		rfs_obs_rtt(s, ns);
		rfs_obs_add(s, RFS_OBS_replies_received, 1);
		inflight--;
		rfs_obs_set(s, RFS_OBS_G_inflight, inflight);
	}
	sink = s->c[RFS_OBS_replies_received];
	return (double)(rfs_now_ns() - t0) / (double)n;
}

/* the server: obs_recv, obs_reply */
static double server_run(struct rfs_obs_slot *s, unsigned long n)
{
	static int64_t t0s[256];
	long long t0 = rfs_now_ns();

	for (unsigned long i = 0; i < n; i++) {
		int64_t *t = &t0s[i & 255];

		rfs_obs_add(s, RFS_OBS_requests_received, 1);
		*t = rfs_now_ns();
		rfs_obs_add(s, RFS_OBS_replies_sent, 1);
		if (*t) {
			rfs_obs_lat(s, 15, (uint64_t)(rfs_now_ns() - *t));
			*t = 0;
		}
	}
	sink = s->c[RFS_OBS_replies_sent];
	return (double)(rfs_now_ns() - t0) / (double)n;
}

/* the clock alone: two reads */
static double clock_run(unsigned long n)
{
	long long t0 = rfs_now_ns();
	uint64_t acc = 0;

	for (unsigned long i = 0; i < n; i++)
		acc += (uint64_t)rfs_now_ns();
	sink = acc;
	return 2.0 * (double)(rfs_now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 5000000;
	double best_c = 1e9, best_s = 1e9, best_k = 1e9;
	struct rfs_obs_slot *cs, *ss;
	struct rfs_obs *o;

	if (!n || rfs_obs_open(NULL, RFS_OBS_SIDE_CLIENT, 2, "obs-cost", "",
			       &o) < 0) {
		fprintf(stderr, "obs-cost: usage: obs-cost [N > 0]\n");
		return 2;
	}
	cs = rfs_obs_slot_get(o, "shm");
	ss = rfs_obs_slot_get(o, "shm");
	for (int r = 0; r < 7; r++) {
		double c = client_run(cs, n), s = server_run(ss, n),
		       k = clock_run(n);

		best_c = c < best_c ? c : best_c;
		best_s = s < best_s ? s : best_s;
		best_k = k < best_k ? k : best_k;
	}
	printf("obs-cost: per request, best of 7 runs of %lu:\n"
	       "  client (send + reply): %6.1f ns\n"
	       "  server (arrival + reply): %6.1f ns\n"
	       "  two clock reads alone: %6.1f ns (client: one, server: "
	       "two at QD1)\n",
	       n, best_c, best_s, best_k);
	rfs_obs_close(o);
	return 0;
}
