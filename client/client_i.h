/* SPDX-License-Identifier: MIT */
/*
 * client_i: private interfaces of the ringfs FUSE client.
 *
 *   main.c     command line, mount, daemonize, loop threads, signals
 *   loop.c     one event loop per thread: /dev/fuse clone, transport
 *              events, sleeping
 *   call.c     request ids -> pending FUSE requests, building and sending
 *              requests, replies, retry after RFS_HF_UNKNOWN_NODE, FORGET
 *   handshake.c  connect, AUTH, HELLO/ATTACH, the probe, RFS_OP_PATHS
 *   replay.c   reconnect, replay, recovery from a server restart
 *   locks.c    application locks, re-taken after a server restart
 *   inode.c    node id -> {nlookup, server handle}, sharded hash table
 *   ops_*.c    the fuse_lowlevel_ops handlers and their completions
 *
 * A request is received from /dev/fuse, sent to the server, answered and
 * replied to on the same loop thread; nothing on the hot path crosses
 * threads.  Only the inode table is shared (lookup/forget, not read/write).
 */
#ifndef RFS_CLIENT_I_H
#define RFS_CLIENT_I_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "passthrough.h"
#include "proto.h"
#include "xprt.h"

#define CL_MAX_LOOPS 64
#define CL_SLOTS 4096	/* pending requests per loop */
#define CL_SLOT_BITS 12 /* CL_SLOTS == 1 << CL_SLOT_BITS */
#define CL_LOOP_BITS 6	/* CL_MAX_LOOPS == 1 << CL_LOOP_BITS */
#define CL_MAX_RETRIES 3
/* background requests (async direct I/O, readahead) the kernel keeps in flight */
#define RFS_CL_MAX_BACKGROUND 64

/* auto = 0, off = 1 for both (main.c's parse_auto_off) */
enum {
	CL_FRING_AUTO = 0,
	CL_FRING_OFF = 1
};

enum {
	CL_PT_AUTO = 0, /* the kernel's FUSE passthrough where it can work */
	CL_PT_OFF = 1
};

struct cl_opts {
	char source[512];
	char addr_text[256];
	char export_name[RFS_EXPORT_NAME_MAX + 1];
	char mountpoint[4096];
	char transport[32];
	bool sqpoll;
	bool csum;
	unsigned loops;
	double attr_timeout;
	double entry_timeout;
	double negative_timeout; /* LOOKUP's ENOENT cached this long */
	bool kernel_cache;
	bool writeback_cache;
	bool direct_io;
	bool readdirplus;
	int fuse_ring;	 /* CL_FRING_*: FUSE over io_uring */
	int passthrough; /* CL_PT_*: the kernel's FUSE passthrough */
	uint32_t max_write;
	int connect_timeout_ms;
	bool soft; /* soft: EIO after timeo_ms; else hard */
	int64_t timeo_ms;
	bool foreground;
	bool debug;
	bool ro;
	bool allow_other;
	bool default_permissions;
	bool server_permissions; /* allow_other without
					   default_permissions */
	unsigned groups_ttl_ms;	 /* reuse a caller's groups (groups.c) */
	unsigned harden; /* RFS_HARDEN_* (-o swap, -o harden): harden.h */
	bool swap;	 /* -o swap: a swap file's mount (hard, hardened) */
	bool rootfs;	 /* a root storage daemon (rootfs.c) */
	/* options handed to libfuse, "-o a,b,c" */
	char fuse_opts[4096];
};

struct cl_loop;

/* what RFS_OP_PATHS told us (transport=auto) */
struct rfs_client_paths {
	uint64_t instance;
	char unix_path[RFS_PATHS_UNIX_MAX + 1];
	char rdma_addr[RFS_PATHS_RDMA_MAX + 1];
};

/* The one client instance of the process. */
#define RFS_CL_MAX_SERVERS 8

struct rfs_client {
	struct cl_opts o;
	struct rfs_addr addr; /* the server in use: addrs[cur] (or, after
				 transport=auto, its Unix socket) */
	/*
	 * "srv1:7070,srv2:7070:/data": gateways of one namespace, in order;
	 * a reconnect that cannot reach addr fails over to the next
	 * (replay.c), under mu
	 */
	struct rfs_addr addrs[RFS_CL_MAX_SERVERS];
	unsigned naddr, cur;
	struct fuse_session *se;
	uint64_t root_nodeid;
	/* from the HELLO reply, for the ATTACHes of the other loops */
	uint64_t session;
	uint8_t token[16];
	uint64_t sess_gen; /* under mu: +1 for every new HELLO */
	bool csum;	   /* negotiated */
	bool groups;	   /* negotiated: callers' groups go with requests */
	bool passfd;	   /* negotiated: the server passes open files */
	uint32_t max_msg;
	uint32_t export_flags;
	/*
	 * After a server restart (replay.c): the session whose replies the
	 * server may have kept for our replays (RESUME), until a RESUME of
	 * it got an answer.  Under mu.
	 */
	bool resume_ok; /* the server keeps replies (RFS_FEAT_RESUME) */
	bool resume_pending;
	uint64_t resume_sess;
	uint8_t resume_token[16];
	struct cl_loop *loops[CL_MAX_LOOPS];
	unsigned nloops;
	int64_t spin_us;  /* busy-poll before sleeping (0: never, -1: auto) */
	bool interactive; /* errors to stderr, as typed */
	int stop_fd;	  /* eventfd: every loop exits when readable */
	/* /dev, opened before daemonizing: the loops open their /dev/fuse
	   clones relative to it, so that an initramfs that moves /dev away
	   meanwhile (-o rootfs) cannot take it from them; -1: by path */
	int dev_fd;
	/* ctl.c: the counters region and the control socket */
	struct rfs_obs *obs;
	struct rfs_ctl *ctl;
	/* setup barrier: loops report ready / failed here */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned ready;
	int setup_err;
};

extern struct rfs_client *rfs_cl;

/*
 * ctl.c: the counters region <rundir>/client-<pid>.stats and the
 * control socket <rundir>/client-<pid>.sock (common/obs.h, ctlsock.h).
 * start: after daemonizing, before the loops; never fails the mount
 * (mp_real: the mount point resolved before mounting, or NULL)
 * (counting goes to private memory when no file can be made).
 */
int rfs_cl_ctl_start(struct rfs_client *cl, const char *mp_real);
void rfs_cl_ctl_stop(struct rfs_client *cl);

/* ---- inode table ------------------------------------------------------ */

int rfs_inode_init(void);
void rfs_inode_fini(void);
/* Count one lookup of nodeid (adding it with its handle if new). */
int rfs_inode_ref(uint64_t nodeid, const void *handle, uint32_t handle_len);
/* Drop n lookups; returns true when the node left the table. */
bool rfs_inode_unref(uint64_t nodeid, uint64_t n);
/* Copy the node's handle into buf (RFS_HANDLE_MAX); length or -ENOENT. */
int rfs_inode_handle(uint64_t nodeid, void *buf);
/* Pin a node forever (the root). */
int rfs_inode_pin(uint64_t nodeid, const void *handle, uint32_t handle_len);
size_t rfs_inode_count(void);

static inline uint64_t cl_nodeid(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? rfs_cl->root_nodeid : (uint64_t)ino;
}

static inline fuse_ino_t cl_ino(uint64_t nodeid)
{
	if (nodeid == rfs_cl->root_nodeid)
		return FUSE_ROOT_ID;
	return (fuse_ino_t)nodeid;
}

/* ---- loops and RPCs --------------------------------------------------- */

struct cl_pend;
/* Completion of a request: called with h->status == 0 and a decoded
   reply; must call exactly one fuse_reply_*. */
typedef void (*cl_done_fn)(struct cl_pend *p, const struct rfs_hdr *h,
			   const struct rfs_rep_view *v);

struct cl_pend {
	fuse_req_t req; /* NULL: internal (RESOLVE) or free */
	uint64_t id;
	cl_done_fn done;
	uint16_t op;
	uint8_t retries;
	bool busy;
	int32_t next_free;
	int32_t orig; /* RESOLVE: slot of the request to resend */
	uint64_t resolve_node;
	void *copy; /* the frame, kept for a resend or replay */
	uint32_t copy_len;
	uint32_t copy_cap;
	uint32_t reply_max; /* reply-size hint for the transport, 0: none */
	int64_t start_ms;   /* soft mounts time out from here */
	int64_t sent_ns;    /* taken (CLOCK_MONOTONIC ns): the latency
			       histograms measure from here */
	uint64_t sess_gen;  /* session the frame's fhs belong to */
	uint8_t nfh;	    /* kernel fhs in the frame (rfs_call_set_fh) */
	bool raw_fh;	    /* carries a server fh of its session only */
	bool fh_lost;	    /* its file could not be re-opened: EIO */
	bool after_restart; /* replayed into a new session (no DRC) */
	uint16_t fh_off[2];
	uint64_t cfh[2];
	_Atomic uintptr_t intr_req; /* FUSE interrupt for this req */
	/* per-op context */
	struct fuse_file_info fi;
	size_t size;
	bool plus;
	uint64_t aux;
};

/* A request being built: the transport buffer and its builder. */
struct cl_call {
	struct cl_loop *l;
	struct cl_pend *p;
	struct rfs_buf *buf;
	struct rfs_mb mb;
	bool heap; /* buf is malloc'd (no connection now) */
	/* the caller's supplementary groups, appended by rfs_call_send */
	const uint32_t *groups;
	uint32_t ngroups;
};

/*
 * Start a request of opcode op for req: takes a pending slot and a buffer
 * of `size` bytes (header included), fills the header with req's
 * credentials.  On failure replies the error to req and returns it.
 */
int rfs_call_start(struct cl_call *c, fuse_req_t req, uint16_t op,
		   uint32_t size, cl_done_fn done);
/*
 * rfs_call_start for a request with a fixed struct of `fixed` bytes and
 * `extra` bytes of variable parts: returns the zeroed fixed struct, or
 * NULL after replying the error.
 */
void *rfs_call_fixed(struct cl_call *c, fuse_req_t req, uint16_t op,
		     uint32_t fixed, uint32_t extra, cl_done_fn done);
/*
 * Put the server fh behind kernel fh cfh into *field (a field of the frame
 * being built); remembered so that a replay into a new session after a
 * server restart carries the re-opened file's fh.  cfh 0: no fh.
 */
void rfs_call_set_fh(struct cl_call *c, uint64_t *field, uint64_t cfh);
/* Append variable parts; on overflow the send fails with EIO. */
static inline void rfs_call_put(struct cl_call *c, const void *p, uint32_t n)
{
	rfs_mb_put_bytes(&c->mb, p, n);
}
/*
 * The reply to this call is at most reply_max bytes (whole frame): sent
 * with the hint (rfs_xprt_send_expect), also when resent or replayed, so
 * a transport that can place the reply (rdma) prepares for it.
 */
static inline void rfs_call_expect(struct cl_call *c, uint32_t reply_max)
{
	c->p->reply_max = reply_max;
}
/* Finish and send; on failure replies the error and frees the slot. */
void rfs_call_send(struct cl_call *c);
/* Abandon a started call: replies err (< 0) to its request. */
void rfs_call_abort(struct cl_call *c, int err);

/*
 * In a completion, on the loop that got the reply: the open file the
 * server sent before reply id (RFS_OPEN_FD), now the caller's; -ENOENT:
 * none came
 */
int rfs_call_take_fd(uint64_t id);
/* In a completion: count an event of this loop (common/obs.h) */
void rfs_call_count(int ctr);

/* Queue a FORGET for a node that left the inode table (this loop). */
void rfs_loop_forget(uint64_t nodeid, uint64_t nlookup);

/*
 * notify.c: a notification frame from the server (RFS_HF_NOTIFY), on loop
 * l: checked, then queued for the thread that invalidates the kernel's
 * caches; and that thread's end (before fuse_session_destroy)
 */
void rfs_cl_on_notify(struct cl_loop *l, const struct rfs_hdr *h,
		      const void *payload);
void rfs_cl_notify_stop(void);

/* Rewrite the status file of this mount (ringfsctl mounts). */
void rfs_cl_status_update(void);

/* -o rootfs (rootfs.c): a root storage daemon.  Re-execute as "@ringfs"
   (returns when already so named, or when that failed); the server
   address must be numeric (0 or -EINVAL, said on stderr); after
   daemonizing, before the loops start: libgcc_s preloaded, logs to
   /dev/kmsg (what fails is logged; the hardening is main.c's,
   RFS_HARDEN_ROOT). */
void rfs_cl_rootfs_reexec(int argc, char **argv);
int rfs_cl_rootfs_check_addr(const char *addr_text);
void rfs_cl_rootfs_start(void);
/* -o rootfs: whether what the kernel caches of directory dir (its
   attributes, the names in it) is pinned, and the timeout that pins it
   (rootfs.c says why: systemd-shutdown stops the daemon). */
bool rfs_cl_rootfs_pinned(fuse_ino_t dir);
#define RFS_ROOTFS_PIN_S 1e9
/* Start loops threads; returns when all are ready or one failed. */
int rfs_loops_start(struct rfs_client *cl);
void rfs_loops_join(struct rfs_client *cl);
/* Ask every loop to exit (signal, unmount); safe from any thread. */
void rfs_loops_stop(void);
bool rfs_loops_stopping(void);

/*
 * Phase 1 from the mounting process: connect over transport `name` to a,
 * HELLO and close, to report "server unreachable" and "no such export"
 * before mounting.  A transport with RFS_XPRT_F_NO_FORK is probed from a
 * child process.
 */
int rfs_client_probe(const char *name, const struct rfs_addr *a);
/*
 * transport=auto: HELLO over transport `name` to a, then ask the server
 * for its other paths (RFS_OP_PATHS).  quiet: a trial, errors go to the
 * debug log only.
 */
int rfs_client_paths(struct rfs_client *cl, const char *name,
		     const struct rfs_addr *a, bool quiet,
		     struct rfs_client_paths *out);
/*
 * What HELLO's export_flags said of this connection's identities
 * (RFS_EXPF_IDS_*): refused is an error, said with what to do about it
 * (-EACCES); squashed is said as a note (mounting only, not on
 * reconnects); 0 otherwise.
 */
int rfs_client_ids_check(uint32_t export_flags, const struct rfs_addr *a);

/* ---- fhtab.c: kernel fh -> server fh ---------------------------------- */

/* who opened a file: a re-open after a server restart is made as them */
struct rfs_opener {
	uint32_t uid, gid;
	uint32_t ngroups; /* supplementary groups, as sent with the open */
	const uint32_t *groups;
};

int rfs_fh_new(uint64_t nodeid, uint32_t flags, bool dir,
	       const struct rfs_opener *who, uint64_t sfh, uint64_t *cfh);
/* also ends what passthrough.c counted for the open (rfs_fh_set_pt) */
void rfs_fh_del(uint64_t cfh);
/* what the open became for passthrough.c (RFS_PT_*) */
void rfs_fh_set_pt(uint64_t cfh, int kind);
/* 0 and *sfh, -EBADF (unknown fh) or -EIO (lost in a server restart) */
int rfs_fh_server(uint64_t cfh, uint64_t *sfh);
/*
 * Must a close of this node send FLUSH to the server, where it drops the
 * closing owner's POSIX locks?  Only once a POSIX lock was asked on the
 * node (locks.c); other FLUSHes are answered in the client.
 */
bool rfs_lk_flush_needed(uint64_t nodeid);
typedef int (*rfs_fh_reopen_fn)(void *arg, uint64_t nodeid, uint32_t flags,
				bool dir, const struct rfs_opener *who,
				uint64_t *sfh);
/* Re-open every open file through fn (-ENOTCONN from fn aborts). */
int rfs_fh_reopen_all(rfs_fh_reopen_fn fn, void *arg, unsigned *nok,
		      unsigned *nlost);

/* ---- ops -------------------------------------------------------------- */

void rfs_attr_to_stat(const struct rfs_attr *a, struct stat *st);
/* Reply an entry (nlookup is counted first; undone if the reply fails). */
void rfs_reply_entry(fuse_req_t req, const struct rfs_entry *e,
		     const void *handle, uint32_t handle_len);
void rfs_entry_param(const struct rfs_entry *e, struct fuse_entry_param *ep);
/* Completions shared by several ops */
void rfs_done_empty(struct cl_pend *p, const struct rfs_hdr *h,
		    const struct rfs_rep_view *v);
void rfs_done_attr(struct cl_pend *p, const struct rfs_hdr *h,
		   const struct rfs_rep_view *v);
void rfs_done_entry(struct cl_pend *p, const struct rfs_hdr *h,
		    const struct rfs_rep_view *v);

/* ops_node.c and ops_file.c each fill their part of the table */
void rfs_ops_node_fill(struct fuse_lowlevel_ops *ops);
void rfs_ops_file_fill(struct fuse_lowlevel_ops *ops);

#endif /* RFS_CLIENT_I_H */
