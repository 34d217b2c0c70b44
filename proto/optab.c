// SPDX-License-Identifier: MIT
/*
 * optab: the opcode table.  Every fact about an opcode that more than one
 * place needs lives in its row here (the model is libfuse's fuse_ll_ops[]):
 * its name, its body shapes and sizes, and the RFS_OPF_* flags that the
 * codec, the server's dispatch, the duplicate-request cache and the
 * client's replay read (optab.h says who reads which).
 *
 * Adding an opcode:
 *   1. ringfs_proto.h: the number in enum rfs_op, the body structs, and a
 *      changelog line (a new opcode is a minor version).
 *   2. here: its row.  Reuse a body shape (enum rfs_req_body /
 *      rfs_rep_body) when it has one already; otherwise
 *   3. proto.c: a decoder for the new shape and its case in
 *      rfs_proto_decode_req / _rep, which switch on the shape (-Wswitch
 *      names a shape without a case).
 *   4. server: the handler, and its row in srv_ops[] (server/ops.c).
 *   5. client: the FUSE handler that builds the request.
 * Nothing else switches on opcodes.  tests/unit/test_proto.c checks the
 * rows' invariants (every opcode has a row, DRC covers MUTATING, ...) and
 * round-trips a canonical frame of every opcode, which
 * tests/unit/frames.c builds: give it one for the new opcode too.
 */
#include <errno.h>
#include <stddef.h>

#include "proto.h"

/* fixed part only */
#define REQ(kind, type) \
	.req = (kind), .req_size = sizeof(type), .req_max = sizeof(type)
/* fixed part, then up to `more` bytes */
#define REQV(kind, type, more)                   \
	.req = (kind), .req_size = sizeof(type), \
	.req_max = sizeof(type) + (more)
#define REP(kind, type) \
	.rep = (kind), .rep_size = sizeof(type), .rep_max = sizeof(type)
#define REPV(kind, type, more)                   \
	.rep = (kind), .rep_size = sizeof(type), \
	.rep_max = sizeof(type) + (more)

/* an entry's handle, padded to 8 (RFS_HANDLE_MAX is a multiple of 8) */
#define HANDLE_MAX RFS_HANDLE_MAX
#define PING_MAX 65536u
#define TARGET_MAX (RFS_PATH_MAX - 1)

/* shorthands for the flag sets most rows share */
#define MUT (RFS_OPF_MUTATING | RFS_OPF_DRC)
/* and exactly once across a server restart */
#define MUTP (MUT | RFS_OPF_PERSIST)
#define IDEM RFS_OPF_REPLAY_IDEMPOTENT

static const struct rfs_opinfo optab[RFS_OP_MAX_] = {
	/* ---- session -------------------------------------------------- */
	[RFS_OP_HELLO] = {
		.name = "hello", .flags = RFS_OPF_PRESESSION,
		REQV(RFS_RQ_HELLO, struct rfs_hello_req, RFS_EXPORT_NAME_MAX),
		REPV(RFS_RP_HELLO, struct rfs_hello_rep, HANDLE_MAX),
	},
	[RFS_OP_ATTACH] = {
		.name = "attach", .flags = RFS_OPF_PRESESSION,
		REQ(RFS_RQ_FIXED, struct rfs_attach_req),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_PING] = {
		.name = "ping", .flags = IDEM,
		.req = RFS_RQ_BYTES, .req_max = PING_MAX,
		.rep = RFS_RP_BYTES, .rep_max = PING_MAX,
	},
	[RFS_OP_BYE] = {
		.name = "bye", .flags = RFS_OPF_ENDS_SESSION,
		.req = RFS_RQ_EMPTY, .rep = RFS_RP_EMPTY,
	},
	[RFS_OP_STATS] = {
		.name = "stats", .flags = IDEM,
		.req = RFS_RQ_EMPTY,
		REP(RFS_RP_FIXED, struct rfs_stats_rep),
	},
	[RFS_OP_RESOLVE] = {
		.name = "resolve", .flags = IDEM,
		REQV(RFS_RQ_RESOLVE, struct rfs_resolve_req, HANDLE_MAX),
		REP(RFS_RP_ATTR, struct rfs_attr),
	},
	[RFS_OP_AUTH] = {
		.name = "auth", .flags = RFS_OPF_PRESESSION,
		REQV(RFS_RQ_AUTH, struct rfs_auth_req, RFS_EXPORT_NAME_MAX),
		REP(RFS_RP_FIXED, struct rfs_auth_rep),
	},
	[RFS_OP_PATHS] = {
		.name = "paths", .flags = IDEM,
		.req = RFS_RQ_EMPTY,
		REPV(RFS_RP_PATHS, struct rfs_paths_rep,
		     RFS_PATHS_UNIX_MAX + RFS_PATHS_RDMA_MAX),
	},
	[RFS_OP_RESUME] = {
		/* sent once, in the handshake: never replayed */
		.name = "resume",
		REQ(RFS_RQ_FIXED, struct rfs_resume_req),
		REP(RFS_RP_FIXED, struct rfs_resume_rep),
	},

	/* ---- nodes ---------------------------------------------------- */
	[RFS_OP_LOOKUP] = {
		.name = "lookup", .flags = IDEM,
		REQV(RFS_RQ_NAME, struct rfs_name_req, RFS_NAME_MAX),
		REPV(RFS_RP_ENTRY, struct rfs_entry, HANDLE_MAX),
	},
	[RFS_OP_FORGET] = {
		/* decrements lookup counts: a second run forgets twice */
		.name = "forget", .flags = RFS_OPF_NO_REPLY,
		REQV(RFS_RQ_FORGET, struct rfs_forget_req,
		     RFS_FORGET_MAX * sizeof(struct rfs_forget_one)),
	},
	[RFS_OP_GETATTR] = {
		.name = "getattr", .flags = IDEM,
		REQ(RFS_RQ_NODE, struct rfs_node_req),
		REP(RFS_RP_ATTR, struct rfs_attr),
	},
	[RFS_OP_SETATTR] = {
		.name = "setattr", .flags = MUT,
		REQ(RFS_RQ_SETATTR, struct rfs_setattr_req),
		REP(RFS_RP_ATTR, struct rfs_attr),
	},
	[RFS_OP_READLINK] = {
		.name = "readlink", .flags = IDEM,
		REQ(RFS_RQ_NODE, struct rfs_node_req),
		.rep = RFS_RP_TARGET, .rep_max = TARGET_MAX,
	},
	[RFS_OP_SYMLINK] = {
		.name = "symlink", .flags = MUTP,
		REQV(RFS_RQ_MAKE, struct rfs_make_req,
		     RFS_NAME_MAX + TARGET_MAX),
		REPV(RFS_RP_ENTRY, struct rfs_entry, HANDLE_MAX),
	},
	[RFS_OP_MKNOD] = {
		.name = "mknod", .flags = MUTP,
		REQV(RFS_RQ_MAKE, struct rfs_make_req, RFS_NAME_MAX),
		REPV(RFS_RP_ENTRY, struct rfs_entry, HANDLE_MAX),
	},
	[RFS_OP_MKDIR] = {
		.name = "mkdir", .flags = MUTP,
		REQV(RFS_RQ_MAKE, struct rfs_make_req, RFS_NAME_MAX),
		REPV(RFS_RP_ENTRY, struct rfs_entry, HANDLE_MAX),
	},
	[RFS_OP_UNLINK] = {
		.name = "unlink", .flags = MUTP, .replay_benign = -ENOENT,
		REQV(RFS_RQ_NAME, struct rfs_name_req, RFS_NAME_MAX),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_RMDIR] = {
		.name = "rmdir", .flags = MUTP, .replay_benign = -ENOENT,
		REQV(RFS_RQ_NAME, struct rfs_name_req, RFS_NAME_MAX),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_RENAME] = {
		.name = "rename", .flags = MUTP,
		REQV(RFS_RQ_RENAME, struct rfs_rename_req, 2 * RFS_NAME_MAX),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_LINK] = {
		.name = "link", .flags = MUTP,
		REQV(RFS_RQ_LINK, struct rfs_link_req, RFS_NAME_MAX),
		REPV(RFS_RP_ENTRY, struct rfs_entry, HANDLE_MAX),
	},

	/* ---- open files ----------------------------------------------- */
	[RFS_OP_OPEN] = {
		.name = "open", .flags = RFS_OPF_DRC,
		REQ(RFS_RQ_NODE, struct rfs_open_req),
		REP(RFS_RP_OPEN, struct rfs_open_rep),
	},
	[RFS_OP_CREATE] = {
		.name = "create", .flags = MUTP,
		REQV(RFS_RQ_MAKE, struct rfs_make_req, RFS_NAME_MAX),
		REPV(RFS_RP_CREATE, struct rfs_create_rep, HANDLE_MAX),
	},
	[RFS_OP_READ] = {
		.name = "read", .flags = IDEM | RFS_OPF_LOCK_IO,
		REQ(RFS_RQ_IO, struct rfs_io_req),
		.rep = RFS_RP_BYTES, .rep_max = RFS_IO_MAX,
	},
	[RFS_OP_WRITE] = {
		.name = "write", .flags = MUT | RFS_OPF_LOCK_IO,
		REQV(RFS_RQ_IO, struct rfs_io_req, RFS_IO_MAX),
		REP(RFS_RP_WRITE, struct rfs_write_rep),
	},
	[RFS_OP_FLUSH] = {
		.name = "flush", .flags = IDEM,
		REQ(RFS_RQ_FH, struct rfs_fh_req),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_RELEASE] = {
		.name = "release", .flags = RFS_OPF_DRC,
		.replay_benign = -EBADF,
		REQ(RFS_RQ_FH, struct rfs_fh_req),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_FSYNC] = {
		.name = "fsync", .flags = IDEM,
		REQ(RFS_RQ_FH, struct rfs_fh_req),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_OPENDIR] = {
		.name = "opendir", .flags = RFS_OPF_DRC,
		REQ(RFS_RQ_NODE, struct rfs_open_req),
		REP(RFS_RP_OPEN, struct rfs_open_rep),
	},
	[RFS_OP_READDIRPLUS] = {
		.name = "readdirplus", .flags = IDEM,
		REQ(RFS_RQ_IO, struct rfs_io_req),
		.rep = RFS_RP_DIRENTS, .rep_max = RFS_IO_MAX,
	},
	[RFS_OP_RELEASEDIR] = {
		.name = "releasedir", .flags = RFS_OPF_DRC,
		.replay_benign = -EBADF,
		REQ(RFS_RQ_FH, struct rfs_fh_req),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_FSYNCDIR] = {
		.name = "fsyncdir", .flags = IDEM,
		REQ(RFS_RQ_FH, struct rfs_fh_req),
		.rep = RFS_RP_EMPTY,
	},

	/* ---- the rest ------------------------------------------------- */
	[RFS_OP_STATFS] = {
		.name = "statfs", .flags = IDEM,
		REQ(RFS_RQ_NODE, struct rfs_node_req),
		REP(RFS_RP_FIXED, struct rfs_statfs_rep),
	},
	[RFS_OP_ACCESS] = {
		.name = "access", .flags = IDEM,
		REQ(RFS_RQ_ACCESS, struct rfs_access_req),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_SETXATTR] = {
		.name = "setxattr", .flags = MUT,
		REQV(RFS_RQ_XATTR, struct rfs_xattr_req,
		     RFS_XATTR_NAME_MAX + RFS_XATTR_SIZE_MAX),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_GETXATTR] = {
		.name = "getxattr", .flags = IDEM,
		REQV(RFS_RQ_XATTR, struct rfs_xattr_req, RFS_XATTR_NAME_MAX),
		REPV(RFS_RP_XATTR, struct rfs_xattr_rep, RFS_XATTR_SIZE_MAX),
	},
	[RFS_OP_LISTXATTR] = {
		.name = "listxattr", .flags = IDEM,
		REQ(RFS_RQ_XATTR, struct rfs_xattr_req),
		REPV(RFS_RP_XATTR, struct rfs_xattr_rep, RFS_XATTR_SIZE_MAX),
	},
	[RFS_OP_REMOVEXATTR] = {
		.name = "removexattr", .flags = MUT,
		REQV(RFS_RQ_XATTR, struct rfs_xattr_req, RFS_XATTR_NAME_MAX),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_GETLK] = {
		.name = "getlk", .flags = IDEM | RFS_OPF_LOCK_IO,
		REQ(RFS_RQ_LOCK, struct rfs_lock_req),
		REP(RFS_RP_LOCK, struct rfs_lock),
	},
	[RFS_OP_SETLK] = {
		/* not cached: re-taking a lock the owner holds is harmless */
		.name = "setlk",
		.flags = IDEM | RFS_OPF_LOCK_IO | RFS_OPF_MAY_BLOCK,
		REQ(RFS_RQ_LOCK, struct rfs_lock_req),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_FLOCK] = {
		.name = "flock",
		.flags = IDEM | RFS_OPF_LOCK_IO | RFS_OPF_MAY_BLOCK,
		REQ(RFS_RQ_LOCK, struct rfs_lock_req),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_FALLOCATE] = {
		.name = "fallocate", .flags = MUT | RFS_OPF_LOCK_IO,
		REQ(RFS_RQ_FALLOCATE, struct rfs_fallocate_req),
		.rep = RFS_RP_EMPTY,
	},
	[RFS_OP_COPY_FILE_RANGE] = {
		.name = "copy_file_range", .flags = MUT | RFS_OPF_LOCK_IO,
		REQ(RFS_RQ_COPY, struct rfs_copy_req),
		REP(RFS_RP_FIXED, struct rfs_write_rep),
	},
	[RFS_OP_LSEEK] = {
		.name = "lseek", .flags = IDEM,
		REQ(RFS_RQ_LSEEK, struct rfs_lseek_req),
		REP(RFS_RP_LSEEK, struct rfs_lseek_rep),
	},
};

const struct rfs_opinfo *rfs_op_info(unsigned op)
{
	if (op >= RFS_OP_MAX_ || !optab[op].name)
		return NULL;
	return &optab[op];
}

bool rfs_op_is(unsigned op, uint32_t flags)
{
	const struct rfs_opinfo *oi = rfs_op_info(op);

	return oi && (oi->flags & flags) == flags;
}

bool rfs_op_replay_benign(unsigned op, int status)
{
	const struct rfs_opinfo *oi = rfs_op_info(op);

	return oi && oi->replay_benign && status == oi->replay_benign;
}

const char *rfs_proto_op_name(unsigned op)
{
	const struct rfs_opinfo *oi = rfs_op_info(op);

	return oi ? oi->name : "?";
}

bool rfs_proto_op_known(unsigned op)
{
	return rfs_op_info(op) != NULL;
}
