// SPDX-License-Identifier: MIT
/*
 * opnames: printable opcode names, for logs, ringfsctl stat and dumps.
 * The table doubles as the list of known opcodes.
 */
#include "proto.h"

static const char *const op_names[RFS_OP_MAX_] = {
	[RFS_OP_HELLO] = "hello",
	[RFS_OP_ATTACH] = "attach",
	[RFS_OP_PING] = "ping",
	[RFS_OP_BYE] = "bye",
	[RFS_OP_STATS] = "stats",
	[RFS_OP_RESOLVE] = "resolve",
	[RFS_OP_AUTH] = "auth",
	[RFS_OP_PATHS] = "paths",
	[RFS_OP_LOOKUP] = "lookup",
	[RFS_OP_FORGET] = "forget",
	[RFS_OP_GETATTR] = "getattr",
	[RFS_OP_SETATTR] = "setattr",
	[RFS_OP_READLINK] = "readlink",
	[RFS_OP_SYMLINK] = "symlink",
	[RFS_OP_MKNOD] = "mknod",
	[RFS_OP_MKDIR] = "mkdir",
	[RFS_OP_UNLINK] = "unlink",
	[RFS_OP_RMDIR] = "rmdir",
	[RFS_OP_RENAME] = "rename",
	[RFS_OP_LINK] = "link",
	[RFS_OP_OPEN] = "open",
	[RFS_OP_CREATE] = "create",
	[RFS_OP_READ] = "read",
	[RFS_OP_WRITE] = "write",
	[RFS_OP_FLUSH] = "flush",
	[RFS_OP_RELEASE] = "release",
	[RFS_OP_FSYNC] = "fsync",
	[RFS_OP_OPENDIR] = "opendir",
	[RFS_OP_READDIRPLUS] = "readdirplus",
	[RFS_OP_RELEASEDIR] = "releasedir",
	[RFS_OP_FSYNCDIR] = "fsyncdir",
	[RFS_OP_STATFS] = "statfs",
	[RFS_OP_ACCESS] = "access",
	[RFS_OP_SETXATTR] = "setxattr",
	[RFS_OP_GETXATTR] = "getxattr",
	[RFS_OP_LISTXATTR] = "listxattr",
	[RFS_OP_REMOVEXATTR] = "removexattr",
	[RFS_OP_GETLK] = "getlk",
	[RFS_OP_SETLK] = "setlk",
	[RFS_OP_FLOCK] = "flock",
	[RFS_OP_FALLOCATE] = "fallocate",
	[RFS_OP_COPY_FILE_RANGE] = "copy_file_range",
	[RFS_OP_LSEEK] = "lseek",
};

const char *rfs_proto_op_name(unsigned op)
{
	if (op >= RFS_OP_MAX_ || !op_names[op])
		return "?";
	return op_names[op];
}

bool rfs_proto_op_known(unsigned op)
{
	return op < RFS_OP_MAX_ && op_names[op];
}
