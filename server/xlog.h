/* SPDX-License-Identifier: MIT */
/*
 * Exactly once across a server restart: the reply log (xlog.c) and the
 * handlers' before-and-after checks (xonce.c).  Private to server/.
 *
 * A session that negotiated RFS_FEAT_RESUME keeps, in a file of its own
 * under <state-dir>/replies (or --reply-log-dir, shared by the gateways
 * of one volume: xlog.c), two records per request of an
 * RFS_OPF_PERSIST op (and per WRITE on an O_APPEND fh):
 *
 *   INTENT  before it runs: the nodes it names (id and handle) and what
 *           the names it touches were (struct rfs_xpre);
 *   RESULT  before its reply is sent: the reply frame.
 *
 * After a kill -9 and a restart, the client's new session RESUMEs the
 * old one: its records become the new session's duplicate-request cache
 * entries.  A replay whose RESULT is there gets that reply; one with only
 * an INTENT died mid-run: its handler compares the file system with the
 * INTENT's picture to tell whether it ran (then answers as if it had just
 * run) or not (then runs it).
 *
 * A backend that reaches its storage over the network (gluster) can
 * still have a dead server's operations in flight to the volume when a
 * successor takes the session over: the takeover fence (xlog.c) holds
 * the takeover back until they have had --takeover-fence ms to land, and
 * a settle run whose syscall fails as if the original had just landed
 * (EEXIST, ENOENT) is judged again (rfs_xonce_again).
 */
#ifndef RFS_XLOG_H
#define RFS_XLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "ringfs_proto.h"

/*
 * What a request's names looked like before it ran, and the nodes it
 * names (so that a replay after a restart can bind them without a
 * RESOLVE).  On disk as is (host byte order: the log never leaves the
 * host that wrote it).
 */
#define RFS_XPRE_A (1u << 0) /* the first name existed: a_dev, a_ino */
#define RFS_XPRE_B (1u << 1) /* the second name existed: b_dev, b_ino */
struct rfs_xpre {
	uint32_t flags;
	uint16_t hlen[2];
	uint64_t node[2]; /* node ids the request names, 0: none */
	uint64_t a_dev, a_ino;
	uint64_t b_dev, b_ino;
	uint64_t size; /* an appending WRITE: the file's size */
	uint8_t handle[2][RFS_HANDLE_MAX];
};

enum rfs_xlog_mode {
	RFS_XLOG_OFF,  /* --reply-log off: no RFS_FEAT_RESUME */
	RFS_XLOG_ON,   /* records reach the page cache: a kill -9 is survived */
	RFS_XLOG_SYNC, /* each record is fdatasync'd: a machine crash too */
};

/*
 * Start: <state_dir>/replies, and the logs a previous server left there
 * (kept keep_s seconds for their clients to RESUME, then removed).  An
 * unusable directory turns the log off, with a warning.  shared_dir (not
 * NULL or ""): the logs there instead, shared by the gateways of one
 * volume (xlog.c, "Shared"); unusable, it is an error.
 */
int rfs_xlog_init(const char *state_dir, const char *shared_dir,
		  enum rfs_xlog_mode mode, unsigned keep_s);
/* the logs are in a shared directory (--reply-log-dir) */
bool rfs_xlog_shared(void);
/* orderly exit: the logs of live sessions stay for the next start */
void rfs_xlog_fini(void);
/* does HELLO offer RFS_FEAT_RESUME */
bool rfs_xlog_enabled(void);
/* the session reaper's tick: remove the logs nobody RESUMEd in time */
void rfs_xlog_expire(long long now_ms);

struct rfs_session;
struct rfs_xlog;
/* HELLO with RFS_FEAT_RESUME: s->xlog (the file is made on first use) */
int rfs_xlog_session(struct rfs_session *s);
/* the session ends (keep: the server exits; the next start finds it) */
void rfs_xlog_free(struct rfs_xlog *x, bool keep);
/* the records (see the top); a write that fails is logged, never fatal */
void rfs_xlog_intent(struct rfs_session *s, uint64_t id, uint16_t op,
		     const struct rfs_xpre *pre);
void rfs_xlog_result(struct rfs_session *s, uint64_t id, uint16_t op,
		     const void *frame, uint32_t len);
/* FSYNC/FSYNCDIR: make the session's records durable with the data */
void rfs_xlog_sync(struct rfs_session *s);

/* RESUME's handler (ops.c's table) */
struct rfs_req;
int rfs_op_resume(struct rfs_req *r);

/*
 * xonce.c: called by the handlers of the persisted ops once they have
 * their nodes and names, before the syscall.  RFS_XONCE_RUN: run it (an
 * INTENT was logged when the session keeps a log); RFS_XONCE_RAN: a
 * replay after a restart of a request that ran before it: answer as if
 * it had just run, without running it.
 */
#define RFS_XONCE_RUN 0
#define RFS_XONCE_RAN 1
struct rfs_node;
struct rfs_fh;
/* MKDIR, MKNOD, SYMLINK, CREATE: name made in directory p */
int rfs_xonce_make(struct rfs_req *r, struct rfs_node *p, const char *name);
/* UNLINK, RMDIR */
int rfs_xonce_remove(struct rfs_req *r, struct rfs_node *p, const char *name);
int rfs_xonce_rename(struct rfs_req *r, struct rfs_node *p, const char *name,
		     struct rfs_node *np, const char *newname, uint32_t flags);
/* LINK: node n gets the name newname in np */
int rfs_xonce_link(struct rfs_req *r, struct rfs_node *n, struct rfs_node *np,
		   const char *newname);
/* WRITE on an O_APPEND fh of len bytes of data */
int rfs_xonce_append(struct rfs_req *r, struct rfs_fh *f, const void *data,
		     uint32_t len);
/*
 * A settle run's syscall returned ret: when that is err (the EEXIST or
 * ENOENT the original would cause had it landed after the judge looked:
 * a dead gateway's operation still in flight to the volume), true once:
 * the handler calls its rfs_xonce_* judge again, which now answers RAN
 * (the change is there: the original ran) or RUN (without logging), and
 * keeps ret in the second case.
 */
bool rfs_xonce_again(struct rfs_req *r, int ret, int err);
/* before a replay's handler: bind the nodes its INTENT names (as root) */
void rfs_xonce_prelude(struct rfs_req *r);
/*
 * Test hooks (-Dtest_hooks=true): RINGFSD_TEST_KILL=OP:WHERE kills the
 * server (SIGKILL) at WHERE in a request of opcode OP: "intent" right
 * after its INTENT is logged (before the syscall), "result" right before
 * its RESULT is (after the syscall), "reply" right after (before the
 * reply leaves); in a session that keeps no log, at the same places.
 * RINGFSD_TEST_STOP=OP:settle stops it (SIGSTOP) in a settle run of OP
 * once its judge said RUN, before the syscall (a test changes the file
 * system meanwhile, as a late operation of the dead server would).
 * Without test hooks: nothing.
 */
void rfs_xonce_hook(uint16_t op, const char *where);

#endif /* RFS_XLOG_H */
