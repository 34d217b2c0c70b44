/* SPDX-License-Identifier: MIT */
/*
 * ringfs-bench internals: options, result cells, and the pieces
 * (ringfs-bench.c: main and the ringfsd process; bench_rpc.c: RPC
 * workloads over a transport; bench_mount.c: the same workloads through
 * a mounted ringfs; bench_out.c: table, JSON, SVG).
 */
#ifndef RFS_BENCH_H
#define RFS_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "perfcount.h"

struct rfs_obs_hdr;
#include "spin.h"

enum bench_wl {
	WL_ECHO,
	WL_GETATTR,
	WL_READ4K,
	WL_READ1M,
	WL_WRITE1M,
	WL_N
};

struct bench_wl_def {
	const char *name;  /* for --workloads */
	const char *label; /* for people */
	uint32_t bytes;	   /* payload per op, for MB/s */
};
extern const struct bench_wl_def bench_wls[WL_N];

#define BENCH_FILE_SIZE (64u << 20)
#define BENCH_READ_FILE "read.dat"
#define BENCH_WRITE_FILE "write.dat"
#define BENCH_EXPORT "bench"
#define BENCH_MAX_QD 256u
#define BENCH_MAX_LIST 16

struct bench_opts {
	const char *server; /* ringfsd to start */
	const char *transports[BENCH_MAX_LIST];
	unsigned ntransports;
	bool no_rpc; /* --transports none */
	bool wl_on[WL_N];
	unsigned qd[BENCH_MAX_LIST];
	unsigned nqd;
	double duration; /* seconds per cell, when ops == 0 */
	uint64_t ops;	 /* ops per cell, or 0 */
	const char *json, *svg;
	const char *mount;	     /* run through this mount point too */
	pid_t mount_pid, server_pid; /* mount mode: the processes */
	bool csum;		     /* negotiate checksums */
	bool verbose;
	const char *tmpdir; /* where the temporary export goes */
};

/* who the numbers are about */
enum bench_side {
	SIDE_CLIENT, /* the calling thread (RPC) / the app (mount) */
	SIDE_DAEMON, /* mount mode: the ringfs client daemon */
	SIDE_SERVER, /* ringfsd, every thread */
	SIDE_N
};
extern const char *const bench_side_names[SIDE_N];

/* per-op figures of one side; a negative value means "not measured" */
struct bench_side_res {
	bool valid;
	double sys;	  /* syscalls (exact, kernel-counted) */
	double vcs, ivcs; /* voluntary / involuntary context switches */
	double cpu_us;	  /* CPU time */
	double copy_b;	  /* bytes copied by our code */
	double xprt_sys;  /* syscalls the transport says it made */
};

/*
 * A cell's latency distribution as a daemon's own histograms saw it
 * (common/obs.h: its counters file), for the workload's opcode: the
 * difference of two snapshots around the measured run.
 */
struct bench_hist {
	bool valid;
	uint16_t op;
	uint64_t n;
	double p50_us, p99_us, p999_us, mean_us;
};

struct bench_cell {
	char xprt[32]; /* transport, or "fuse/<transport>" */
	int wl;
	unsigned qd;
	char skip[160]; /* not run: why (empty when it ran) */
	uint64_t ops, errors;
	double secs, p50_us, p99_us, ops_s, mb_s;
	struct bench_side_res side[SIDE_N];
	struct bench_hist hist[SIDE_N]; /* daemon and server sides */
};

struct bench_results {
	struct bench_cell *cell;
	unsigned n, cap;
	char note[16][200];
	unsigned nnote;
};

/* A new zeroed cell (every side invalid), or NULL when out of memory. */
struct bench_cell *bench_cell_new(struct bench_results *r, const char *xprt,
				  int wl, unsigned qd);
void bench_note(struct bench_results *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- measurement helpers (ringfs-bench.c) ------------------------------ */

/* CLOCK_MONOTONIC in ns (common/spin.h) */
static inline long long bench_now_ns(void)
{
	return rfs_now_ns();
}

/* latency samples of one cell */
struct bench_lat {
	uint64_t *v;
	size_t n, cap;
};
int bench_lat_add(struct bench_lat *l, uint64_t ns);
/* p in [0,100]; sorts the samples */
double bench_lat_pct_us(struct bench_lat *l, double p);
void bench_lat_free(struct bench_lat *l);

/*
 * A snapshot of one side's counters.  For the calling thread: syscall
 * counter fd (or -1), thread CPU clock, getrusage(RUSAGE_THREAD).  For
 * another process: its counter set and /proc context switches.
 */
struct bench_snap {
	bool ok;
	uint64_t sys, cpu_ns, vcs, ivcs;
	bool have_sys, have_cpu;
};

struct bench_proc {
	pid_t pid;
	struct rfs_pc_set pc;
	bool have_pc;
};

extern volatile sig_atomic_t bench_interrupted;
extern int bench_self_sysfd;	     /* counter on the main thread */
extern uint64_t bench_self_overhead; /* syscalls of an empty bracket */

/* the calling thread; begin reads the syscall counter last, end first */
int bench_snap_self_begin(struct bench_snap *s);
int bench_snap_self_end(struct bench_snap *s);
int bench_snap_proc(const struct bench_proc *p, struct bench_snap *s);
/* per-op figures of a side from two snapshots */
void bench_side_fill(struct bench_side_res *r, const struct bench_snap *a,
		     const struct bench_snap *b, uint64_t ops, bool self);

/* ---- ringfsd (ringfs-bench.c) ------------------------------------------ */

struct bench_server {
	struct bench_proc proc;
	char addr[160]; /* what the client connects to */
	char sock[128]; /* unix socket path, if any */
	int err_fd;	/* its stderr, drained by a thread */
};

/*
 * Start ringfsd for transport `xprt` on export dir `dir` with counters
 * attached before it execs; wait for its ready line.
 */
int bench_server_start(const struct bench_opts *o, const char *xprt,
		       const char *dir, struct bench_server *s);
void bench_server_stop(struct bench_server *s);

/* ---- workloads --------------------------------------------------------- */

/* every (workload, qd) cell of one transport against a started server */
int bench_rpc_run(const struct bench_opts *o, const char *xprt,
		  struct bench_server *srv, struct bench_results *r);
int bench_mount_run(const struct bench_opts *o, struct bench_results *r);

/* ---- the daemons' histograms (bench_obs.c) ----------------------------- */

/* A daemon's counters file, mapped read-only (h NULL: none). */
struct bench_obs {
	const struct rfs_obs_hdr *h;
	size_t len;
};
/* The workload's opcode (PING, GETATTR, READ, WRITE). */
uint16_t bench_wl_op(int wl);
/* Map pid's counters file (server: ringfsd-PID, else client-PID); 0 or
   -errno (the daemon is too old, or runs as another user). */
int bench_obs_attach(struct bench_obs *o, pid_t pid, bool server);
void bench_obs_detach(struct bench_obs *o);
/* op's buckets now, summed over the daemon's connections */
struct bench_obs_snap {
	uint64_t b[40];
	uint64_t sum_ns;
};
void bench_obs_snap(const struct bench_obs *o, uint16_t op,
		    struct bench_obs_snap *s);
/* the distribution between two snapshots */
void bench_obs_fill(struct bench_hist *h, uint16_t op,
		    const struct bench_obs_snap *a,
		    const struct bench_obs_snap *b);

/* ---- output (bench_out.c) ---------------------------------------------- */

void bench_print_table(FILE *f, const struct bench_results *r);
int bench_write_json(const char *path, const struct bench_opts *o,
		     const struct bench_results *r);
int bench_write_svg(const char *path, const struct bench_results *r);

#endif /* RFS_BENCH_H */
