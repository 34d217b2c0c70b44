/* SPDX-License-Identifier: MIT */
/*
 * ctlsock: a daemon's control socket, the local channel ringfsctl talks
 * to (conns, stats, capture...).  One Unix stream socket, served by one
 * thread of its own (the owner); commands come from a static table the
 * daemon passes in, and run on that thread, never on a data-path thread.
 *
 * Paths (the daemons choose them; ctlsock takes any path):
 *   client ringfs:  <rundir>/client-<pid>.sock  (one per mount: one
 *                   client process per mount)
 *   server ringfsd: <rundir>/ringfsd-<pid>.sock, or --control-socket PATH
 * <rundir> is /run/ringfs for root, $XDG_RUNTIME_DIR/ringfs otherwise
 * (client/status.c rfs_status_dir).  The socket is mode 0666: anyone may
 * ask; a command flagged RFS_CTL_PRIV is refused (EPERM, with a message
 * that says who may) unless the caller is root or the daemon's own uid,
 * as SO_PEERCRED says.
 *
 * Framing, both ways: a 4-byte little-endian length L, then L bytes.
 *   request (L <= RFS_CTL_REQ_MAX): argv as NUL-terminated strings, back
 *           to back, argv[0] the command ("stats\0--json\0"); at most
 *           RFS_CTL_ARGS_MAX strings; the last byte must be NUL.
 *   reply   (L >= 4): a 4-byte little-endian status (0, or a positive
 *           errno value), then the payload: the command's output on
 *           status 0, one line of explanation otherwise.
 * A connection may carry any number of request/reply pairs, one at a
 * time.  A malformed request (bad length, missing NUL, unknown command,
 * too many strings) gets an error reply (EINVAL, E2BIG, ENOENT) and the
 * connection is closed; the daemon keeps serving.  A connection that
 * sends nothing for RFS_CTL_IDLE_MS (after connecting, within a request,
 * between requests) or does not read its reply within that time is
 * dropped: RFS_CTL_CLIENTS_MAX callers at once, none can hold a place.
 *
 * Streaming commands (capture): a handler may take the connection over.
 * It returns RFS_CTL_TAKEN after it has written its own reply header
 * (rfs_ctl_reply_hdr) with status 0; from then on the fd is the
 * handler's (it closes it), and ctlsock forgets it.  Anything after the
 * header is the command's own stream format.
 */
#ifndef RFS_CTLSOCK_H
#define RFS_CTLSOCK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RFS_CTL_REQ_MAX 4096u	      /* request body */
#define RFS_CTL_ARGS_MAX 32u	      /* strings in a request */
#define RFS_CTL_REPLY_MAX (16u << 20) /* reply body */
#define RFS_CTL_CLIENTS_MAX 16u	      /* connections served at once */
#define RFS_CTL_IDLE_MS 5000
#define RFS_CTL_TAKEN 1 /* handler return: the fd is the handler's now */

/* The command flags. */
#define RFS_CTL_PRIV (1u << 0) /* root or the daemon's uid only */

struct rfs_ctl;

/* What a handler gets: the caller, its words, the daemon's cookie. */
struct rfs_ctl_req {
	int fd;	   /* the caller's connection (for RFS_CTL_TAKEN) */
	pid_t pid; /* SO_PEERCRED of the caller */
	uid_t uid;
	gid_t gid;
	int argc;	   /* >= 1 */
	char *const *argv; /* argv[0]: the command; NULL-terminated */
	void *arg;	   /* rfs_ctl_open's arg */
};

/* A growing reply body; handlers append with rfs_ctl_printf. */
struct rfs_ctl_out {
	char *buf;
	size_t len, cap;
	bool oom; /* an append failed: the reply becomes ENOMEM */
};

/*
 * A handler: fill out and return 0 (status 0, out is the payload), or
 * return -errno with one line of explanation in out (empty: strerror),
 * or RFS_CTL_TAKEN (see above).  Runs on the control thread.
 */
typedef int (*rfs_ctl_fn)(struct rfs_ctl_req *rq, struct rfs_ctl_out *out);

struct rfs_ctl_cmd {
	const char *name;
	rfs_ctl_fn fn;
	unsigned flags;	  /* RFS_CTL_PRIV */
	const char *help; /* one line, for the built-in "help" */
};

/*
 * Bind path (an old socket there is replaced; its directory is created
 * mode 0755 when missing), listen, start the owner thread.  cmds[0..n)
 * is the daemon's table (static storage: kept, not copied); "help" is
 * built in.  Returns 0 or -errno, and logs what failed on what.
 */
int rfs_ctl_open(const char *path, const struct rfs_ctl_cmd *cmds, size_t n,
		 void *arg, struct rfs_ctl **out);
/* Stop the thread, close every connection, unlink the path.  NULL ok. */
void rfs_ctl_close(struct rfs_ctl *c);
const char *rfs_ctl_path(const struct rfs_ctl *c);

/* Append to a reply; on failure out->oom is set and later appends no-op. */
__attribute__((format(printf, 2, 3))) void
rfs_ctl_printf(struct rfs_ctl_out *out, const char *fmt, ...);
__attribute__((format(printf, 2, 0))) void
rfs_ctl_vprintf(struct rfs_ctl_out *out, const char *fmt, va_list ap);
void rfs_ctl_write(struct rfs_ctl_out *out, const void *p, size_t n);

/*
 * For a handler that takes the fd over: write (blocking, bounded by
 * RFS_CTL_IDLE_MS) a reply header with status 0 and a payload of
 * len bytes that follow as the start of the stream (len may be 0).
 * Returns 0 or -errno.
 */
int rfs_ctl_reply_hdr(int fd, uint32_t len);

/* ---- the client side (ringfsctl) ------------------------------------- */

/*
 * Connect to path (timeout_ms for connect), send argv, read the reply:
 * *status (0 or errno) and a malloc'd NUL-terminated payload in *body
 * (its length in *len).  Returns 0 (a reply came) or -errno (connect,
 * I/O, timeout, a malformed reply: -EBADMSG).
 */
int rfs_ctl_call(const char *path, int argc, char *const *argv, int timeout_ms,
		 int *status, char **body, size_t *len);

#endif /* RFS_CTLSOCK_H */
