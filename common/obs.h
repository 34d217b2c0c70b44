/* SPDX-License-Identifier: MIT */
/*
 * obs: a daemon's counters, in a shared-memory region that ringfsctl
 * maps read-only: it reads them even when the daemon is stopped or
 * wedged (no daemon has to answer).  The file is
 *   client: <rundir>/client-<pid>.stats     server: <rundir>/ringfsd-<pid>.stats
 * (<rundir> as in ctlsock.h), mode 0644, removed at exit.
 *
 * The region is a header and nslots connection slots.  A slot belongs to
 * the one thread that drives its connection (a client loop, a server
 * connection thread): only that thread writes it, with plain relaxed
 * stores (rfs_obs_add: no atomic read-modify-write, no lock, no fence),
 * so counting costs a few instructions on the data path.  Readers (the
 * control thread, ringfsctl in another process) load the same words
 * relaxed: each counter is exact at some moment; a set of counters is
 * not one snapshot.
 *
 * A slot lives as long as its connection on the server, and as long as
 * its loop on the client (reconnects keep it: conns shows them).  When a
 * server connection ends, its counts are added to the retired totals of
 * its transport (under the region's mutex), so a side's totals never go
 * back.
 *
 * Latency: per opcode, log2 buckets of nanoseconds: bucket b counts
 * latencies in [2^b, 2^(b+1)) ns (bucket 0 also 0 and 1 ns; the last
 * one everything longer), plus the sum.  The client measures a request
 * from its send to its reply (what the application waits for, minus
 * FUSE); the server from its arrival to its reply's send.
 *
 * common/ knows no opcode: the formatters take the names from the
 * caller (rfs_op_info in proto/optab.c).
 */
#ifndef RFS_OBS_H
#define RFS_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctlsock.h"

#define RFS_OBS_MAGIC 0x3153424f53465252ull /* "RRFSOBS1" */
#define RFS_OBS_VERSION 2u
#define RFS_OBS_NOPS 64u    /* opcodes 0..63 */
#define RFS_OBS_NBUCKET 40u /* 2^39 ns (~9 min) and longer: the last */
#define RFS_OBS_NXPRT 8u    /* retired totals: one per transport name */
#define RFS_OBS_TEXT 96u    /* peer, local */

/*
 * The counters of a slot: one table (name, help), used by the writers
 * (enum), the text, JSON and Prometheus formatters.  Names follow ss(8)
 * and ethtool -S where one exists.
 */
/* which side counts it: C client, S server, B both */
#define RFS_OBS_C 1u /* = RFS_OBS_SIDE_CLIENT */
#define RFS_OBS_S 2u /* = RFS_OBS_SIDE_SERVER */
#define RFS_OBS_B 3u
#define RFS_OBS_COUNTERS(X)                                                    \
	X(requests_sent, C, "requests sent")                                   \
	X(replies_received, C, "replies received")                             \
	X(requests_received, S, "requests received")                           \
	X(replies_sent, S, "replies sent")                                     \
	X(errors, B, "replies with a non-zero status")                         \
	X(frames_in, B, "frames received by the transport")                    \
	X(frames_out, B, "frames sent by the transport")                       \
	X(bytes_in, B, "bytes received by the transport")                      \
	X(bytes_out, B, "bytes sent by the transport")                         \
	X(syscalls, B, "system calls the transport issued")                    \
	X(copied_bytes, B, "bytes the transport copied in user space")         \
	X(sleeps, B, "times the loop slept waiting for work")                  \
	X(wakeups, B, "times a sleep ended with work to do")                   \
	X(spins_found, C, "busy-poll turns that found the reply")              \
	X(spins_empty, C, "busy-poll turns that found nothing, then slept")    \
	X(bufpool_empty, B, "buffer requests the pool could not meet")         \
	X(queue_full, C,                                                       \
	  "requests refused (EAGAIN): every pending slot taken")               \
	X(csum_failures, B, "frames that failed their checksum")               \
	X(reconnects, C, "connections re-established")                         \
	X(conn_lost, B, "connections lost")                                    \
	X(ring_full, B, "sends that found the ring full and waited (shm)")     \
	X(zc_fallbacks, B, "zero-copy sends the kernel copied anyway (uring)") \
	X(wc_errors, B, "rdma work completions in error (flushes aside)")      \
	X(wc_flushed, B, "rdma work requests flushed by a connection's end")   \
	X(stray_replies, C, "replies nobody waited for")                       \
	X(notifies_sent, S, "cache notifications sent to clients")             \
	X(files_passed, S, "open files passed to clients (FUSE passthrough)")  \
	X(passthrough_opens, C,                                                \
	  "opens served by the kernel's FUSE passthrough")                     \
	X(notifies_received, C, "cache notifications from the server")         \
	X(notifies_dropped, C,                                                 \
	  "notifications dropped: malformed, or the kernel queue full")

enum rfs_obs_ctr {
#define RFS_OBS_ENUM_(n, side, h) RFS_OBS_##n,
	RFS_OBS_COUNTERS(RFS_OBS_ENUM_)
#undef RFS_OBS_ENUM_
	RFS_OBS_NCTR
};

/* Gauges: their current value (not summed into retired totals). */
#define RFS_OBS_GAUGES(X)                                                 \
	X(inflight, C, "requests in flight now")                          \
	X(inflight_max, C, "most requests in flight at once")             \
	X(queue, B,                                                       \
	  "replies not sent yet (server), requests held for a reconnect " \
	  "(client)")                                                     \
	X(bufs_out, B, "transport buffers lent out now")                  \
	X(srtt_ns, C, "smoothed round-trip time, ns")                     \
	X(rttvar_ns, C, "round-trip time variance, ns")                   \
	X(minrtt_ns, C, "smallest round-trip time, ns")

enum rfs_obs_gauge {
#define RFS_OBS_ENUM_(n, side, h) RFS_OBS_G_##n,
	RFS_OBS_GAUGES(RFS_OBS_ENUM_)
#undef RFS_OBS_ENUM_
	RFS_OBS_NGAUGE
};

enum rfs_obs_state {
	RFS_OBS_FREE = 0,
	RFS_OBS_ESTAB,	   /* connected, requests flow */
	RFS_OBS_SETUP,	   /* connecting, HELLO / ATTACH */
	RFS_OBS_RECONNECT, /* lost, trying again (client) */
	RFS_OBS_CLOSING,   /* orderly close under way */
};

struct rfs_obs_hist {
	uint64_t b[RFS_OBS_NOPS][RFS_OBS_NBUCKET];
	uint64_t sum_ns[RFS_OBS_NOPS];
};

struct rfs_obs_slot {
	uint32_t state;	  /* enum rfs_obs_state */
	uint32_t id;	  /* connection id, unique in the daemon's life */
	int64_t start_ms; /* CLOCK_REALTIME when it connected */
	char transport[16];
	char peer[RFS_OBS_TEXT];  /* tcp/uring: ip:port; shm: socket, pid;
				     rdma: device, GID, QPN */
	char local[RFS_OBS_TEXT]; /* our end */
	char export[64];
	char ident[64]; /* authenticated identity */
	uint64_t c[RFS_OBS_NCTR];
	uint64_t g[RFS_OBS_NGAUGE];
	struct rfs_obs_hist h;
};

#define RFS_OBS_SIDE_CLIENT 1u
#define RFS_OBS_SIDE_SERVER 2u

struct rfs_obs_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t side; /* RFS_OBS_SIDE_* */
	uint32_t nslots;
	uint32_t slot_size; /* sizeof(struct rfs_obs_slot) */
	int32_t pid;
	uint32_t next_id;
	int64_t start_ms; /* CLOCK_REALTIME the daemon started */
	char what[256];	  /* client: the mount point; server: listen */
	char ctl[108];	  /* the control socket's path, "" if none */
	/* closed connections' counters, per transport (name "" free) */
	struct rfs_obs_slot retired[RFS_OBS_NXPRT];
	/* then nslots struct rfs_obs_slot */
};

static inline struct rfs_obs_slot *rfs_obs_slots(const struct rfs_obs_hdr *h)
{
	return (struct rfs_obs_slot *)(void *)(h + 1);
}

/*
 * ---- the owner's side (the data path) --------------------------------
 * Every call takes a NULL slot (counted nowhere: a connection made
 * outside a loop, such as the client's probe).
 */

static inline void rfs_obs_add(struct rfs_obs_slot *s, enum rfs_obs_ctr c,
			       uint64_t n)
{
	if (!s)
		return;
	__atomic_store_n(&s->c[c],
			 __atomic_load_n(&s->c[c], __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static inline void rfs_obs_set(struct rfs_obs_slot *s, enum rfs_obs_gauge g,
			       uint64_t v)
{
	if (!s)
		return;
	__atomic_store_n(&s->g[g], v, __ATOMIC_RELAXED);
}

static inline unsigned rfs_obs_bucket(uint64_t ns)
{
	unsigned b = ns > 1 ? 63u - (unsigned)__builtin_clzll(ns) : 0u;

	return b < RFS_OBS_NBUCKET ? b : RFS_OBS_NBUCKET - 1;
}

/* One request of opcode op took ns. */
static inline void rfs_obs_lat(struct rfs_obs_slot *s, unsigned op, uint64_t ns)
{
	uint64_t *b;

	if (!s)
		return;
	if (op >= RFS_OBS_NOPS)
		op = 0;
	b = &s->h.b[op][rfs_obs_bucket(ns)];
	__atomic_store_n(b, __atomic_load_n(b, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&s->h.sum_ns[op],
			 __atomic_load_n(&s->h.sum_ns[op], __ATOMIC_RELAXED) +
				 ns,
			 __ATOMIC_RELAXED);
}

/* Client: a reply's round trip; srtt/rttvar as TCP (RFC 6298), min. */
void rfs_obs_rtt(struct rfs_obs_slot *s, uint64_t ns);

/*
 * The transport context's own counts (rfs_xprt_get_stats): the owner
 * copies them in before it sleeps.  base: what earlier contexts of this
 * slot counted (a client's reconnects open a new one); rfs_obs_xprt_fold
 * adds the last copy to it when a context closes.
 */
struct rfs_xprt_stats;
struct rfs_obs_xbase {
	uint64_t frames_in, frames_out, bytes_in, bytes_out, syscalls,
		copied_bytes, ring_full, zc_copied, wc_errors, wc_flushed;
};
void rfs_obs_xprt(struct rfs_obs_slot *s, const struct rfs_obs_xbase *base,
		  const struct rfs_xprt_stats *xs);
void rfs_obs_xprt_fold(struct rfs_obs_xbase *base,
		       const struct rfs_xprt_stats *xs);

/* ---- the daemon's region --------------------------------------------- */

/*
 * The runtime directory of ringfs's daemons: /run/ringfs as root,
 * $XDG_RUNTIME_DIR/ringfs otherwise; NULL when there is none.
 */
const char *rfs_run_dir(char *buf, size_t len);

struct rfs_obs;

/*
 * Create the region: path NULL or unusable: private memory (counting
 * still works, the control socket still answers; ringfsctl cannot read
 * it directly).  what: mount point or listen address; ctl: the control
 * socket path or "".  Never fails for want of a file; -ENOMEM only.
 */
int rfs_obs_open(const char *path, uint32_t side, unsigned nslots,
		 const char *what, const char *ctl, struct rfs_obs **out);
void rfs_obs_close(struct rfs_obs *o); /* unlinks the file */
/* The path of the file, or NULL (private memory). */
const char *rfs_obs_path(const struct rfs_obs *o);
const struct rfs_obs_hdr *rfs_obs_hdr(const struct rfs_obs *o);
void rfs_obs_set_ctl(struct rfs_obs *o, const char *ctl);

/*
 * A free slot (zeroed, state SETUP, a new id, start time now), or NULL
 * when o is NULL or every slot is taken (that connection is counted
 * nowhere; said once in the log).
 */
struct rfs_obs_slot *rfs_obs_slot_get(struct rfs_obs *o, const char *transport);
/* Text fields: set by the owner (any may be NULL: unchanged). */
void rfs_obs_slot_names(struct rfs_obs_slot *s, const char *transport,
			const char *peer, const char *local, const char *export,
			const char *ident);
static inline void rfs_obs_set_state(struct rfs_obs_slot *s,
				     enum rfs_obs_state st)
{
	if (s)
		__atomic_store_n(&s->state, (uint32_t)st, __ATOMIC_RELEASE);
}
/* Add s's counters to its transport's retired totals, free s. */
void rfs_obs_slot_put(struct rfs_obs *o, struct rfs_obs_slot *s);

/* ---- readers ---------------------------------------------------------- */

/*
 * Map a daemon's file read-only and check it; 0, or -errno (-EPROTO: not
 * a counters file of this version).  Unmap with rfs_obs_unmap.
 */
int rfs_obs_map(const char *path, const struct rfs_obs_hdr **out, size_t *len);
void rfs_obs_unmap(const struct rfs_obs_hdr *h, size_t len);

enum rfs_obs_fmt {
	RFS_OBS_FMT_TEXT,
	RFS_OBS_FMT_JSON,
	RFS_OBS_FMT_PROM,
};

/* An opcode's name ("read"), or NULL for an opcode that has none. */
typedef const char *(*rfs_obs_opname_fn)(unsigned op);

/* conns: one line (text) or object (JSON) per live slot. */
void rfs_obs_fmt_conns(const struct rfs_obs_hdr *h, enum rfs_obs_fmt f,
		       struct rfs_ctl_out *out);
/*
 * stats: per transport the counters, then per opcode the latency
 * distribution (count, mean, p50, p99, p999, and the buckets in JSON
 * and Prometheus).
 */
void rfs_obs_fmt_stats(const struct rfs_obs_hdr *h, enum rfs_obs_fmt f,
		       rfs_obs_opname_fn opname, struct rfs_ctl_out *out);
/*
 * stats --prometheus of several daemons in one exposition (each metric
 * family once: node_exporter's textfile collector refuses repeats).
 */
void rfs_obs_fmt_prom(const struct rfs_obs_hdr *const *hs, unsigned n,
		      rfs_obs_opname_fn opname, struct rfs_ctl_out *out);
/*
 * The value below which a fraction q (0.5, 0.99...) of the samples fall,
 * in ns, interpolated linearly inside the log2 bucket it falls in (as
 * Prometheus' histogram_quantile); 0 without samples.
 */
uint64_t rfs_obs_quantile(const uint64_t *b, double q);

/* The handler of "conns" and "stats" on a daemon's control socket. */
int rfs_obs_ctl_conns(struct rfs_obs *o, struct rfs_ctl_req *rq,
		      struct rfs_ctl_out *out);
int rfs_obs_ctl_stats(struct rfs_obs *o, rfs_obs_opname_fn opname,
		      struct rfs_ctl_req *rq, struct rfs_ctl_out *out);

#endif /* RFS_OBS_H */
