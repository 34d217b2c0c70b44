/* SPDX-License-Identifier: MIT */
/*
 * ringfsd internals: exports, the node table, sessions, connections and
 * the op handlers.  Private to server/.
 */
#ifndef RFS_SERVER_H
#define RFS_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "auth.h"
#include "backend.h"
#include "proto.h"
#include "xlog.h"
#include "xprt.h"

struct rfs_obs;
struct rfs_obs_slot;

#define RFS_MAX_EXPORTS 64
#define RFS_NOBODY 65534u
#define DBUF_SIZE (64u << 10) /* getdents64 scratch per connection */

enum rfs_squash {
	RFS_SQUASH_ROOT = 0, /* default */
	RFS_SQUASH_NONE,
	RFS_SQUASH_ALL,
};

struct rfs_export {
	char name[RFS_EXPORT_NAME_MAX + 1];
	char *path;
	unsigned idx;
	bool ro;
	enum rfs_squash squash;
	uint32_t anonuid;
	uint32_t anongid;
	int root_fd; /* O_PATH | O_DIRECTORY */
	int mnt_fd;  /* O_RDONLY: open_by_handle_at's mount_fd
				   (the kernel refuses O_PATH fds there) */
	dev_t dev;
	const struct rfs_backend *be; /* backend.h: what it is stored on */
	void *bpriv;		      /* the backend's (gluster: glfs_t) */
	struct rfs_node *root;	      /* pinned for the server's lifetime */
	struct rfs_export_acl acl;    /* auth.h: allowed networks */
	char *nbd_file; /* nbd=FILE: served by --nbd-listen (nbd.c) */
	bool notify;	/* the backend reports changes (notify.h) */
};

struct rfs_srv_cfg {
	char listen[128];
	char listen_unix[108]; /* second listener, a Unix socket path
				   (shm's setup channel); "" for none */
	char listen_rdma[128]; /* ADDR[:PORT] of an RDMA device, or "" */
	char nbd_listen[128];  /* --nbd-listen ADDR (nbd.c), or "" */
	bool harden;	       /* --harden (client/harden.h) */
	char transport[16];
	char state_dir[1024];
	unsigned long max_nodes;
	unsigned session_grace; /* s a session outlives its last
				   connection (--session-grace) */
	bool exec_thread;	/* --exec-thread: every connection runs its
				   requests on a second thread (always so
				   for cred-bound transports: rdma) */
	enum rfs_xlog_mode reply_log; /* --reply-log (xlog.h) */
	char reply_log_dir[1024];     /* --reply-log-dir: shared by the
					 gateways of one volume, or "" */
	int takeover_fence_ms; /* --takeover-fence (xlog.h); -1: default */
	unsigned nexports;
	struct rfs_export exports[RFS_MAX_EXPORTS];
	struct rfs_srv_sec sec; /* auth.h: key, limits */
};

/* global counters for STATS */
struct rfs_srv_stats {
	atomic_uint_fast64_t sessions;
	atomic_uint_fast64_t connections;
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t errors;
	atomic_uint_fast64_t bytes_in;
	atomic_uint_fast64_t bytes_out;
};

extern struct rfs_srv_cfg rfs_cfg;
extern struct rfs_srv_stats rfs_stats;
extern uint64_t rfs_start_ns;

/* config.c */
int rfs_cfg_parse_export_opts(struct rfs_export *e, const char *opts);
int rfs_cfg_add_export(struct rfs_srv_cfg *c, const char *name,
		       const char *path, const char *opts);
int rfs_cfg_load(struct rfs_srv_cfg *c, const char *file);
/* "on", "sync", "off": enum rfs_xlog_mode, or -EINVAL */
int rfs_cfg_reply_log(const char *s);
int rfs_cfg_fence_ms(const char *s);
int rfs_cfg_open_exports(struct rfs_srv_cfg *c);
void rfs_cfg_free(struct rfs_srv_cfg *c);
struct rfs_export *rfs_cfg_find_export(const char *name, uint32_t len);

/* siphash.c: SipHash-2-4, 16-byte key */
uint64_t rfs_siphash24(const uint8_t key[16], const void *data, size_t len);

/* node.c: the global node table */
struct rfs_node {
	uint64_t id;
	int fd;		 /* vfs: O_PATH | O_NOFOLLOW; else -1 */
	void *obj;	 /* other backends' object (gluster: glfs_object) */
	unsigned exp;	 /* export index */
	mode_t type;	 /* S_IFMT bits */
	unsigned refcnt; /* users right now (ops, lock fds, root pin) */
	uint16_t hlen;	 /* opaque handle blob sent to clients */
	uint8_t handle[RFS_HANDLE_MAX];
	struct rfs_node *hnext;
	struct rfs_node *lru_prev, *lru_next;
};

int rfs_nodes_init(const char *state_dir, unsigned long max_nodes);
void rfs_nodes_fini(void);
/* A reference to node id, or NULL when the table does not have it. */
struct rfs_node *rfs_node_get(uint64_t id);
/* Whether the table has node id now (no reference, no LRU touch). */
bool rfs_node_known(uint64_t id);
void rfs_node_ref(struct rfs_node *n);
void rfs_node_put(struct rfs_node *n);
/* RESOLVE: verify the handle blob and re-bind id. */
int rfs_node_resolve(struct rfs_export *e, uint64_t id, const void *h,
		     uint32_t len, struct rfs_node **out);
void rfs_node_forget(uint64_t id);
/* the node id a backend handle has in export e (no table access) */
int rfs_node_id_of(const struct rfs_export *e, int32_t htype, const void *h,
		   uint32_t hlen, uint64_t *id);
uint64_t rfs_nodes_count(void);
/* "/proc/self/fd/N" */
void rfs_fd_path(int fd, char out[32]);

/* session.c */
struct rfs_fh;
struct rfs_session {
	uint64_t id;
	uint8_t token[16];
	struct rfs_export *exp;
	bool csum;
	uint32_t max_msg;
	pthread_mutex_t mu;
	unsigned nconn;	     /* under the sessions' list lock */
	struct rfs_fh **fhs; /* slot table */
	uint32_t nfh;
	uint32_t *gens;
	struct rfs_drc *drc;	/* replies of non-idempotent requests */
	struct rfs_xlog *xlog;	/* and their log, kept across a restart
				   (RFS_FEAT_RESUME; xlog.c), or NULL */
	bool resumed;		/* RESUME took over an old session's log */
	long long orphan_since; /* ms, CLOCK_MONOTONIC; 0: has conns */
	bool bye;		/* the client said BYE: no grace period */
	bool notify;		/* RFS_FEAT_NOTIFY negotiated (notify.h) */
	bool passfd;		/* RFS_FEAT_PASSFD negotiated */
	struct rfs_session *next;
};

struct rfs_fh {
	int fd;	   /* vfs: the open file; else -1 */
	void *obj; /* other backends' open file (gluster: glfs_fd) */
	const struct rfs_backend *be;
	bool dir;
	bool direct;	 /* opened O_DIRECT: I/O through aligned memory */
	bool append;	 /* opened O_APPEND: its WRITEs are logged (xlog.h) */
	unsigned refcnt; /* under session mu */
	bool released;
	uint64_t nodeid;
	pthread_mutex_t mu; /* directory position */
	uint64_t pos;	    /* next cookie the fd is positioned at */
	bool pos_valid;
};

int rfs_session_new(struct rfs_export *e, bool csum, uint32_t max_msg,
		    struct rfs_session **out);
int rfs_session_attach(uint64_t id, const uint8_t token[16],
		       struct rfs_session **out);
void rfs_session_detach(struct rfs_session *s);
uint64_t rfs_sessions_count(void);
/*
 * Install the backend's open file bf (consumed on success) as a new fh;
 * open_flags: what it was opened with (O_DIRECT matters).
 */
int rfs_fh_add(struct rfs_session *s, const struct rfs_bfile *bf, bool dir,
	       int open_flags, uint64_t nodeid, uint64_t *fh);
int rfs_fh_get(struct rfs_session *s, uint64_t fh, struct rfs_fh **out);
void rfs_fh_put(struct rfs_session *s, struct rfs_fh *f);
int rfs_fh_release(struct rfs_session *s, uint64_t fh);
void rfs_sessions_fini(void);
/* BYE: the client is leaving; free the session with its last connection */
void rfs_session_bye(struct rfs_session *s);
/* start the thread that ends sessions and reply logs whose time is up */
void rfs_sessions_reaper_start(void);

/* drc.c: duplicate-request cache, one per session */
#define RFS_DRC_RUN 0	 /* execute the request (entry reserved) */
#define RFS_DRC_CACHED 1 /* replay: hit->frame is the stored reply */
/*
 * a replay after a server restart of a request that died mid-run:
 * hit->pre is what its INTENT saw (run it in settle mode, xlog.h)
 */
#define RFS_DRC_SETTLE 2
/*
 * a replay after a server restart of a CREATE that ran: hit->frame is its
 * reply, whose fh the old server's; the handler opens the file again
 */
#define RFS_DRC_REDO 3
struct rfs_drc;
struct rfs_drc_hit {
	void *frame; /* CACHED, REDO: a malloc'd copy (free it) */
	uint32_t len;
	bool inherited;	      /* CACHED: a previous server's (re-seal it) */
	struct rfs_xpre *pre; /* SETTLE: a malloc'd copy (free it) */
};
int rfs_drc_new(struct rfs_drc **out);
void rfs_drc_free(struct rfs_drc *d);
/* Does op's reply go into the cache? */
bool rfs_drc_wanted(uint16_t op);
/*
 * Before executing request id of opcode op: RFS_DRC_RUN, or one of the
 * replay answers above in *hit, or -EAGAIN (a replay whose original is
 * still running after a bounded wait) or -ENOMEM.
 */
int rfs_drc_begin(struct rfs_drc *d, uint64_t id, uint16_t op, bool replay,
		  struct rfs_drc_hit *hit);
/* The running request id logged its INTENT: keep pre until its reply. */
void rfs_drc_intent(struct rfs_drc *d, uint64_t id, const struct rfs_xpre *pre);
/*
 * After: the reply frame sent for id (NULL: none); persist: it is in the
 * session's reply log too, written by session sess.
 */
void rfs_drc_end(struct rfs_drc *d, uint64_t id, const void *frame,
		 uint32_t len, bool persist, uint64_t sess);
/*
 * RESUME: a record of the old session's log (frame or pre); 1: a new
 * entry, 0: it replaced one (a later record of the same request)
 */
int rfs_drc_adopt(struct rfs_drc *d, uint64_t id, uint16_t op, uint64_t sess,
		  const void *frame, uint32_t len, const struct rfs_xpre *pre);
/*
 * What the reply log must keep, oldest first: fn gets each persisted
 * entry's reply (frame) or, for one without a reply yet, its INTENT
 * (pre).  Called under the cache's lock: fn must not call back.
 */
typedef int (*rfs_drc_kept_fn)(void *arg, uint64_t id, uint16_t op,
			       uint64_t sess, const void *frame, uint32_t len,
			       const struct rfs_xpre *pre);
int rfs_drc_each_kept(struct rfs_drc *d, rfs_drc_kept_fn fn, void *arg);
uint64_t rfs_drc_hits(struct rfs_drc *d);

/* lock.c */
struct rfs_conn_ctx;
struct rfs_req;
int rfs_op_getlk(struct rfs_req *r);
int rfs_op_setlk(struct rfs_req *r);
int rfs_op_flock(struct rfs_req *r);
/* FLUSH: release the owner's POSIX locks on the node */
void rfs_locks_flush(struct rfs_session *s, uint64_t nodeid, uint64_t owner);
void rfs_locks_drop_session(struct rfs_session *s);
void rfs_locks_fini(void);

/*
 * conn.c: one thread per connection (the loop); worker.c: its workers;
 * exec.c: its exec thread in split mode.
 */
struct rfs_req_io;

/* conn.c: one direction of a connection watched for a stalled peer */
struct rfs_stall {
	long long since; /* ms: owed, and no progress seen since; 0: none owed */
	long long look;	 /* ms: next look at the kernel's counts */
	uint64_t moved;	 /* the transport's count at since */
	uint64_t kmoved; /* the kernel's count at the last look */
	bool looked;	 /* kmoved is valid */
};

struct rfs_conn_ctx {
	struct rfs_xprt *x;
	struct rfs_conn *c;
	const struct rfs_req_io *io; /* request.h: the loop's sends */
	int efd;		     /* eventfd: worker replies, shutdown */
	pthread_t thr;
	struct rfs_session *sess;
	uint32_t max_msg;
	uint32_t fsuid, fsgid; /* the thread's current fs credentials */
	uint32_t ngroups;      /* and its supplementary groups (0: gid) */
	uint32_t groups[RFS_GROUPS_MAX];
	bool closing;		  /* disconnect requested */
	long long close_deadline; /* ms, rfs_now_ns() / 1000000 */
	bool down;
	/* worker replies (worker.c) */
	pthread_mutex_t wmu;
	struct rfs_wjob *jobs;	/* live workers */
	struct rfs_wdone *done; /* finished replies, FIFO-ish */
	bool wstop;		/* under wmu: workers must give up */
	uint8_t *dbuf;		/* getdents scratch */
	int setup_fd;		/* accepted socket until the transport has it */
	const char *stream;	/* byte-stream transport for RFS_MAGIC peers */
	struct rfs_conn_ctx *next, *prev; /* all connections */
	struct rfs_conn_sec sec;	  /* auth.h: peer, AUTH state */
	unsigned unsent;		  /* replies sent but not completed */
	uint64_t sends;			  /* SEND events, ever */
	struct rfs_stall stall_rx, stall_tx; /* conn.c: conn_stalled */
	/*
	 * Split mode (exec.c, "exec thread"): the connection thread drives
	 * the transport and never changes credentials; requests run on the
	 * exec thread, which does.  Jobs go over xq, come back over xdone.
	 */
	bool split;
	bool xthr_up;
	pthread_t xthr;
	pthread_mutex_t xmu;
	pthread_cond_t xcv;
	struct rfs_xjob *xq, **xq_tail;	      /* under xmu */
	struct rfs_xjob *xdone, **xdone_tail; /* under xmu */
	bool xstop;			      /* under xmu */
	unsigned xpending;	   /* jobs out (connection thread only) */
	_Atomic(unsigned) xsub_n;  /* jobs submitted, ever */
	_Atomic(unsigned) xdone_n; /* jobs finished, ever */
	unsigned xdone_seen;	   /* xdone_n at the last drain */
	_Atomic(bool) asleep;	   /* connection thread in poll(): wake it */
	uint32_t xmax;		   /* the transport's max_msg */
	_Atomic(bool) established; /* HELLO/ATTACH done (cc->sess set) */
	struct rfs_aio *aio;	   /* aio.h: queued file reads, or NULL */
	/* counters (common/obs.h), written by the connection thread only */
	struct rfs_obs_slot *obs;
	bool obs_named;	     /* export and identity filled in */
	int64_t obs_t0[256]; /* arrival time by request id & 255 */
	/* notify.c: notifications for this thread to send, or NULL */
	_Atomic(struct rfs_ntfq *) ntf;
};

int rfs_conn_start(int fd, const char *transport);
/*
 * fn for every connection that finished HELLO/ATTACH, under the
 * connections' lock (fn must not block; the connection cannot go away)
 */
void rfs_conns_each(void (*fn)(struct rfs_conn_ctx *cc, void *arg), void *arg);

/*
 * ctl.c: the counters region (common/obs.h) and the control socket
 * (common/ctlsock.h).  ctl_opt: --control-socket (NULL: the default
 * <rundir>/ringfsd-<pid>.sock; "none": no socket); listen: what the
 * counters say the server is.
 */
extern struct rfs_obs *rfs_srv_obs;
int rfs_srv_ctl_start(const char *ctl_opt, const char *listen);
void rfs_srv_ctl_stop(void);
void rfs_conns_stop_all(void);

/* a request being executed */
struct rfs_req {
	struct rfs_conn_ctx *cc;
	struct rfs_session *sess;
	struct rfs_export *exp;
	const struct rfs_hdr *h;
	struct rfs_req_view v;
	struct rfs_mb mb;
	uint64_t unknown;	  /* node id for RFS_HF_UNKNOWN_NODE */
	bool close_after;	  /* close the connection after the reply */
	bool async;		  /* a worker replies later */
	bool csum_reply;	  /* override: seal this reply with a csum */
	struct rfs_aio_slot *aio; /* aio.h: the read was queued */
	/* exactly once across a restart (xlog.h) */
	bool persist;		 /* the reply goes to the session's log */
	bool xonce;		 /* a request the log is for (logged or not:
				    the test hooks see it) */
	struct rfs_xpre *settle; /* replay of a request that died mid-run:
				    what its INTENT saw */
	bool xonce_again;	 /* settle run judged again after its
				    syscall failed (rfs_xonce_again) */
	const void *stored;	 /* replay of a CREATE that ran: its reply */
	uint32_t stored_len;
	struct rfs_node *nodes[4];
	unsigned nnodes;
};

/* ops.c */
int rfs_req_node(struct rfs_req *r, uint64_t id, struct rfs_node **out);
int rfs_dispatch(struct rfs_req *r);
/* bytes of reply payload the op may need */
uint32_t rfs_reply_size(const struct rfs_hdr *h, const struct rfs_req_view *v);
void rfs_fill_attr(struct rfs_attr *a, const struct stat *st);
int rfs_put_entry(struct rfs_mb *b, struct rfs_node *n);
int rfs_creds_set(struct rfs_conn_ctx *cc, uint32_t uid, uint32_t gid);
/* the request's caller's, squashed as the export says */
int rfs_caller_creds(struct rfs_req *r);
/* with supplementary groups (kept by the caller while in force) */
void rfs_creds_root(struct rfs_conn_ctx *cc);

#endif /* RFS_SERVER_H */
