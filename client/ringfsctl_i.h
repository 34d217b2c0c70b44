/* SPDX-License-Identifier: MIT */
/*
 * ringfsctl: the operator's tool (ping, stats).  Shared by ringfsctl.c
 * (commands, options, output) and ringfsctl_rpc.c (one connection to a
 * ringfsd: connect, AUTH, HELLO, synchronous calls, BYE).
 */
#ifndef RFS_RINGFSCTL_I_H
#define RFS_RINGFSCTL_I_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "proto.h"
#include "xprt.h"

#define CTL_PROG "ringfsctl"
#define CTL_DEFAULT_PORT 7070

/* exit statuses */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1		/* no reply, refused, connection lost */
#define CTL_EXIT_USAGE 2	/* bad command line, unusable key file */

/* Where to go: SERVER as the user typed it, split and resolved. */
struct ctl_target {
	char spec[512];				/* as typed */
	char addr_text[256];			/* ADDR part */
	char export[RFS_EXPORT_NAME_MAX + 1];	/* "" until known */
	struct rfs_addr addr;
};

/* Connection options common to every command. */
struct ctl_conn_opts {
	const char *transport;	/* "tcp", "uring", "shm", "rdma" */
	const char *key_file;	/* NULL: no AUTH */
	int timeout_ms;		/* connect, each call, each ping */
	bool csum;		/* ask for checksums in HELLO */
};

#define CTL_NEV 16

/* One connection, driven synchronously from the calling thread. */
struct ctl_conn {
	struct rfs_xprt *x;
	struct rfs_conn *c;
	const struct ctl_target *t;
	const struct ctl_conn_opts *o;
	bool csum;		/* negotiated in HELLO */
	bool down;		/* CONN_DOWN seen (c then freed) */
	int down_status;
	uint32_t max_msg;	/* negotiated in HELLO */
	uint64_t next_id;
	uint64_t sleeps;	/* ppoll(2) calls of ringfsctl itself */
	struct rfs_xev ev[CTL_NEV];
	int nev, iev;
};

extern volatile sig_atomic_t ctl_interrupted;

__attribute__((format(printf, 1, 2))) void ctl_err(const char *fmt, ...);
long long ctl_now_ns(void);

/* Catch SIGINT/SIGTERM from now on (they set ctl_interrupted). */
int ctl_catch_signals(void);

/*
 * Connect, AUTH when a key file is given, HELLO on t->export.  Every
 * failure is explained on stderr.  Returns 0 or -errno.
 */
int ctl_connect(struct ctl_conn *cc, const struct ctl_target *t,
		const struct ctl_conn_opts *o);
/* BYE (bounded wait), disconnect, free everything.  Never fails. */
void ctl_close(struct ctl_conn *cc);

/*
 * Next transport event, sleeping until deadline_ns (CLOCK_MONOTONIC)
 * at most.  1 with *e, 0 at the deadline, -EINTR when interrupted by
 * SIGINT/SIGTERM, other -errno on a transport failure.
 */
int ctl_next(struct ctl_conn *cc, long long deadline_ns, struct rfs_xev *e);

/* Start a request of opcode op in a transport buffer of >= size bytes. */
struct rfs_buf *ctl_req(struct ctl_conn *cc, struct rfs_mb *mb, uint16_t op,
			uint32_t size);
/* Finish the frame (checksum as negotiated), send it, flush.  0/-errno. */
int ctl_send(struct ctl_conn *cc, struct rfs_buf *b, struct rfs_mb *mb);
/*
 * ctl_send, then wait (timeout_ms) for the reply with the same id; *out
 * is the lent reply buffer (rfs_xprt_buf_put it).  -ETIMEDOUT, -EINTR,
 * or the connection's failure.
 */
int ctl_call(struct ctl_conn *cc, struct rfs_buf *b, struct rfs_mb *mb,
	     int timeout_ms, struct rfs_buf **out);
/*
 * Check a reply frame to a request of opcode op and id: reply flag,
 * opcode, id, checksum, and (status 0) its payload for op.  Returns 0
 * with *v filled, the server's status (< 0, *v untouched), or -EPROTO /
 * -EBADMSG for a malformed frame (with *why set).
 */
int ctl_check_reply(struct ctl_conn *cc, const struct rfs_buf *b,
		    uint16_t op, uint64_t id, struct rfs_rep_view *v,
		    const char **why);
/* Words for a connection that went down with status st. */
const char *ctl_down_str(int st);

#endif /* RFS_RINGFSCTL_I_H */
