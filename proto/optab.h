/* SPDX-License-Identifier: MIT */
/*
 * optab: one row of facts per opcode (proto/optab.c), read by the codec,
 * the server's dispatch and duplicate-request cache, the client's replay,
 * and the logs (names).  Pure data: no I/O, no allocation.
 */
#ifndef RFS_OPTAB_H
#define RFS_OPTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "ringfs_proto.h"

/*
 * Per-opcode flags.  Each says a fact some part of the tree acts on; the
 * comment names who.
 */
/* changes the exported file system: a read-only export refuses it */
#define RFS_OPF_MUTATING (1u << 0)
/*
 * not safe to run twice: the server keeps its reply in the session's
 * duplicate-request cache, a REPLAY of it is answered from there
 * (doc/semantics.md lists them).  MUTATING plus OPEN/OPENDIR (a second
 * run opens a second fh) and RELEASE/RELEASEDIR (a second run fails).
 */
#define RFS_OPF_DRC (1u << 1)
/* allowed on a connection before HELLO/ATTACH made it part of a session */
#define RFS_OPF_PRESESSION (1u << 2)
/*
 * may wait for another client (SETLK with RFS_LK_WAIT, blocking FLOCK):
 * the server runs it on a worker, and the client lets an interrupt end
 * it even while connected.
 */
#define RFS_OPF_MAY_BLOCK (1u << 3)
/*
 * resending it after a server restart (only RFS_OPF_PERSIST replies
 * survive one, and only for a client that RESUMEs) gives the result one
 * run would: it changes nothing, or changes
 * nothing more the second time (re-taking a held lock).  Unset on the
 * DRC ops and on the handshake, which is never replayed.
 */
#define RFS_OPF_REPLAY_IDEMPOTENT (1u << 4)
/*
 * I/O or locking through an fh: when the fh's lock could not be re-taken
 * after a server restart, the client fails it with EIO (as NFS does).
 */
#define RFS_OPF_LOCK_IO (1u << 5)
/* the server never answers it (FORGET): a reply to it is an error */
#define RFS_OPF_NO_REPLY (1u << 6)
/*
 * the client ends its session with it (BYE): the server drops the
 * session at once instead of keeping it for a reconnect's grace period
 */
#define RFS_OPF_ENDS_SESSION (1u << 7)
/*
 * exactly once across a server restart: in a session that negotiated
 * RFS_FEAT_RESUME the server logs the request's reply in its state
 * directory (server/xlog.c), and before it runs, what the file system
 * looked like, so that a replay after a kill -9 mid-request finds out
 * whether it ran (server/xonce.c).  A RESUMEd session answers the replay
 * from there.  A subset of DRC.  A WRITE on an O_APPEND fh is logged
 * too, decided per request: its row does not say so.
 */
#define RFS_OPF_PERSIST (1u << 8)
#define RFS_OPF_KNOWN ((1u << 9) - 1)

/*
 * Shape of a request body, for the codec (proto.c).  Several opcodes
 * share a shape (LOOKUP, UNLINK, RMDIR are all a struct rfs_name_req and
 * a name); the table says which one each opcode has.
 */
enum rfs_req_body {
	RFS_RQ_NONE = 0, /* no row */
	RFS_RQ_EMPTY,	 /* no payload */
	RFS_RQ_BYTES,	 /* opaque bytes, up to req_max (PING) */
	RFS_RQ_FIXED,	 /* exactly req_size bytes, no checks */
	RFS_RQ_NODE,	 /* exactly req_size bytes, node id first */
	RFS_RQ_HELLO,
	RFS_RQ_AUTH,
	RFS_RQ_RESOLVE,
	RFS_RQ_NAME, /* struct rfs_name_req + name */
	RFS_RQ_FORGET,
	RFS_RQ_SETATTR,
	RFS_RQ_MAKE, /* struct rfs_make_req + name (+ target) */
	RFS_RQ_RENAME,
	RFS_RQ_LINK,
	RFS_RQ_IO, /* struct rfs_io_req (+ WRITE data) */
	RFS_RQ_FH, /* struct rfs_fh_req */
	RFS_RQ_ACCESS,
	RFS_RQ_XATTR,
	RFS_RQ_LOCK,
	RFS_RQ_FALLOCATE,
	RFS_RQ_COPY,
	RFS_RQ_LSEEK,
	RFS_RQ_MAX_
};

/* Shape of a successful reply's body. */
enum rfs_rep_body {
	RFS_RP_NONE = 0, /* no row, or no reply (FORGET) */
	RFS_RP_EMPTY,	 /* no payload */
	RFS_RP_BYTES,	 /* opaque, up to rep_max (PING, READ) */
	RFS_RP_FIXED,	 /* exactly rep_size bytes, no checks */
	RFS_RP_TARGET,	 /* a symlink target (READLINK) */
	RFS_RP_HELLO,
	RFS_RP_PATHS,
	RFS_RP_ATTR,  /* struct rfs_attr */
	RFS_RP_ENTRY, /* struct rfs_entry + handle */
	RFS_RP_CREATE,
	RFS_RP_OPEN,
	RFS_RP_WRITE,
	RFS_RP_DIRENTS, /* READDIRPLUS records, up to rep_max */
	RFS_RP_XATTR,
	RFS_RP_LOCK,
	RFS_RP_LSEEK,
	RFS_RP_MAX_
};

struct rfs_opinfo {
	const char *name; /* "lookup": logs, ringfsctl stat */
	uint32_t flags;	  /* RFS_OPF_* */
	/*
	 * Payload sizes: *_size is the fixed part (the op's struct, 0 for
	 * none), *_max the largest whole payload the codec accepts; equal
	 * when the body has no variable part.
	 */
	uint32_t req_size;
	uint32_t req_max;
	uint32_t rep_size;
	uint32_t rep_max;
	uint8_t req; /* enum rfs_req_body */
	uint8_t rep; /* enum rfs_rep_body */
	/*
	 * A replayed request (after a server restart) that fails with this
	 * status (a negative errno; 0: none) already ran before the crash:
	 * the client takes it as success.  UNLINK/RMDIR -ENOENT,
	 * RELEASE/RELEASEDIR -EBADF.
	 */
	int16_t replay_benign;
};

/* The row of op; NULL for an opcode this version does not define. */
const struct rfs_opinfo *rfs_op_info(unsigned op);
/* True when op is defined and has every flag in flags. */
bool rfs_op_is(unsigned op, uint32_t flags);
/*
 * True when status, the answer to a request replayed after a server
 * restart, only says it already ran (see replay_benign above).
 */
bool rfs_op_replay_benign(unsigned op, int status);

#endif /* RFS_OPTAB_H */
