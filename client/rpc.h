/* SPDX-License-Identifier: MIT */
/*
 * rpc: one connection to a ringfsd driven synchronously from the calling
 * thread through the transport API (common/xprt.h): open the transport,
 * connect on the kernel path, AUTH (client/auth.c), HELLO, calls that
 * wait for their reply, BYE and an orderly close.  Used by the client's
 * handshake and reconnect (client/handshake.c), ringfsctl and
 * ringfs-bench; built into a static library without libfuse, so that a
 * server-only build still has ringfsctl.
 *
 * Sleeps happen only in ppoll(2) on the transport's wait fd, always with
 * a deadline, so a dead or silent server gives an error, never a hang.
 * Nothing here prints: each caller explains failures in its own words,
 * from the return value and r->step.  Every call returns 0, a count, or
 * -errno.
 */
#ifndef RFS_CLIENT_RPC_H
#define RFS_CLIENT_RPC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "authkey.h"
#include "proto.h"
#include "xprt.h"

struct rfs_addr;

#define RFS_RPC_NEV 16

/* The step a setup call failed in (r->step), for the caller's message. */
enum rfs_rpc_step {
	RFS_RPC_OPEN = 1, /* rfs_xprt_open */
	RFS_RPC_CONNECT,  /* rfs_xprt_connect */
	RFS_RPC_BUILD,	  /* no buffer, or the frame did not build */
	RFS_RPC_CALL,	  /* send or wait: timeout, interrupted, the
				   connection lost (r->down) */
	RFS_RPC_REPLY,	  /* the reply refused (its status) or was
				   malformed (why set) */
};

struct rfs_rpc {
	struct rfs_xprt *x;
	struct rfs_conn *c; /* NULL once down (then freed) */
	bool csum;	    /* seal frames with a checksum (negotiated) */
	bool down;	    /* CONN_DOWN of c seen */
	int down_status;
	uint32_t max_msg;	/* from the HELLO reply; 0 before */
	uint64_t next_id;	/* of rfs_rpc_req */
	uint32_t uid, gid, pid; /* credentials of rfs_rpc_req's frames */
	enum rfs_rpc_step step; /* where the last setup call failed */
	uint64_t sleeps;	/* ppoll(2) calls */
	/*
	 * Optional: a flag a signal handler sets (rfs_rpc_next then returns
	 * -EINTR), and the signal mask to sleep with (signals blocked
	 * elsewhere are let in only while sleeping, so none is lost between
	 * the check and the sleep).
	 */
	volatile sig_atomic_t *intr;
	const sigset_t *sigmask;
	/* events reaped but not yet consumed */
	struct rfs_xev ev[RFS_RPC_NEV];
	int nev, iev;
};

/* Start with no transport; ids from 1. */
void rfs_rpc_init(struct rfs_rpc *r);
/* Wrap a transport and connection someone else owns (a client loop's). */
void rfs_rpc_wrap(struct rfs_rpc *r, struct rfs_xprt *x, struct rfs_conn *c);

/*
 * Open transport `name` with params p and connect to a (timeout_ms).  On
 * failure r->step says which; r->x stays open after a failed connect
 * (rfs_rpc_shutdown closes it).
 */
int rfs_rpc_connect(struct rfs_rpc *r, const char *name,
		    const struct rfs_xprt_params *p, const struct rfs_addr *a,
		    int timeout_ms);

/*
 * Next transport event, sleeping until deadline_ns (rfs_now_ns) at most.
 * 1 with *e, 0 at the deadline, -EINTR when *r->intr is set, other
 * -errno on a transport failure.  SEND events are consumed here; the
 * CONN_DOWN of r->c frees it (r->c = NULL, r->down set) and is returned.
 */
int rfs_rpc_next(struct rfs_rpc *r, long long deadline_ns, struct rfs_xev *e);

/* A request of opcode op in a transport buffer of >= size bytes. */
struct rfs_buf *rfs_rpc_req(struct rfs_rpc *r, struct rfs_mb *mb, uint16_t op,
			    uint32_t size);
/* Send a finished frame (b->len set) and flush; r owns b from now on. */
int rfs_rpc_send_frame(struct rfs_rpc *r, struct rfs_buf *b);
/* Finish mb's frame (checksum as r->csum), send and flush. */
int rfs_rpc_send(struct rfs_rpc *r, struct rfs_buf *b, struct rfs_mb *mb);
/*
 * Wait (timeout_ms) for the reply with id; other replies are dropped; *out
 * is the lent reply buffer (rfs_xprt_buf_put it).  A reply that comes
 * with the close wins over the close (a refusal says why).  -ETIMEDOUT,
 * -EINTR, or the connection's failure (-ECONNRESET for an orderly close).
 */
int rfs_rpc_wait(struct rfs_rpc *r, uint64_t id, int timeout_ms,
		 struct rfs_buf **out);
/* rfs_rpc_send_frame + rfs_rpc_wait */
int rfs_rpc_call_frame(struct rfs_rpc *r, struct rfs_buf *b, uint64_t id,
		       int timeout_ms, struct rfs_buf **out);
/* rfs_rpc_send + rfs_rpc_wait for the frame's id */
int rfs_rpc_call(struct rfs_rpc *r, struct rfs_buf *b, struct rfs_mb *mb,
		 int timeout_ms, struct rfs_buf **out);

/*
 * Check a reply frame to a request of opcode op and id: reply flag,
 * opcode, id, length, checksum (required: r->csum), and (status 0) its
 * payload for op.  0 with *v filled, the server's status (< 0), or
 * -EPROTO / -EBADMSG for a malformed frame (with *why set).
 */
int rfs_rpc_check_reply(const struct rfs_rpc *r, const struct rfs_buf *b,
			uint16_t op, uint64_t id, struct rfs_rep_view *v,
			const char **why);

/*
 * AUTH (the key loaded with rfs_cl_auth_load): CHALLENGE, PROVE, check
 * the server's proof; token gets the session token both ends derive.
 * csum: ask for checksums.  Errors: rfs_cl_auth_* codes (r->step
 * RFS_RPC_REPLY, or RFS_RPC_BUILD) or the call's (RFS_RPC_CALL).
 */
int rfs_rpc_auth(struct rfs_rpc *r, const char *export, bool csum,
		 int timeout_ms, uint8_t token[RFS_AUTH_TOKEN_LEN]);

struct rfs_rpc_hello {
	const char *export;
	bool csum;   /* ask for checksums (and seal HELLO) */
	bool groups; /* ask for RFS_FEAT_GROUPS (callers' groups sent) */
	bool resume; /* ask for RFS_FEAT_RESUME (a mount: its replays) */
	bool notify; /* ask for RFS_FEAT_NOTIFY (a mount: cache invalidations) */
	bool passfd; /* ask for RFS_FEAT_PASSFD (a mount over shm: open files) */
	uint32_t max_inflight;
	int timeout_ms;
};

/*
 * HELLO: 0 with the lent reply *rb (rfs_xprt_buf_put it) and its view
 * *v; r->csum and r->max_msg are then negotiated.  On failure r->step
 * says where; a malformed reply sets *why.
 */
int rfs_rpc_hello(struct rfs_rpc *r, const struct rfs_rpc_hello *h,
		  struct rfs_buf **rb, struct rfs_rep_view *v,
		  const char **why);

/* Give events reaped but not consumed back (a CONN_DOWN frees r->c). */
void rfs_rpc_drain(struct rfs_rpc *r);
/*
 * Orderly close: disconnect, wait up to wait_ms for the close, drain,
 * close the transport.  Never fails; NULL r->x is a no-op.
 */
void rfs_rpc_shutdown(struct rfs_rpc *r, int wait_ms);
/*
 * After a session (HELLO done): BYE (the server then keeps no grace
 * period for it) and rfs_rpc_shutdown, each bounded by wait_ms.  Without
 * a session the peer may never answer: the transport is just closed.
 * *r->intr is ignored meanwhile: a Ctrl-C must not cut the goodbye short.
 */
void rfs_rpc_close(struct rfs_rpc *r, int wait_ms);

#endif /* RFS_CLIENT_RPC_H */
