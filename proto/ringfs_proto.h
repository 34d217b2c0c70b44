/* SPDX-License-Identifier: MIT */
/*
 * ringfs wire protocol: the whole format, self-contained.
 *
 * Changelog
 *   1.0  first version: HELLO/ATTACH/PING/BYE/STATS/RESOLVE and every FUSE
 *        low-level operation (see enum rfs_op).
 *   1.1  reliability: request ids are unique per session (across the
 *        client's loops); RFS_HF_REPLAY marks a request resent after a
 *        reconnect, answered from the server's duplicate-request cache
 *        when it already ran; sessions outlive their connections for a
 *        grace period; ATTACH to a session the server does not have
 *        fails with -EBADSLT (then HELLO again).  No layout changes.
 *   1.1  AUTH (opcode 7): shared-secret challenge-response before HELLO or
 *        ATTACH, mutual, HMAC-SHA512-256 (see struct rfs_auth_req).
 *   1.1  PATHS (opcode 8): the server's Unix socket and RDMA address, for
 *        the client's transport=auto.
 *   1.1  RFS_FEAT_IDS: HELLO's reply says in export_flags how the server
 *        treats the uid/gid of this connection's requests
 *        (RFS_EXPF_IDS_*): refused, squashed, or the connected process's
 *        own.  The server enforces it whether or not the client asked.
 *   1.2  supplementary groups: HELLO feature RFS_FEAT_GROUPS; once both
 *        sides have it, a request whose header has RFS_HF_GROUPS ends
 *        with the caller's supplementary group ids (struct
 *        rfs_groups_tail).  Nothing else changes.
 *   1.3  exactly-once across a server restart: RFS_FEAT_RESUME asks the
 *        server to keep the replies of non-idempotent requests in its
 *        state directory; RESUME (opcode 9), sent in a new session after
 *        the server restarted, names the previous session (id and token)
 *        whose kept replies then answer the replays (doc/semantics.md).
 *   1.4  notifications: RFS_FEAT_NOTIFY; once both sides have it the
 *        server may send, unasked, frames with RFS_HF_NOTIFY (struct
 *        rfs_notify): "drop what you cache of this node" or "of this
 *        name in this directory".  A session without the feature never
 *        gets one; nothing else changes.
 *   1.5  open files passed to a same-host client: RFS_FEAT_PASSFD; once
 *        both sides have it (and only over a transport that can pass
 *        descriptors: shm), an OPEN or CREATE whose want has
 *        RFS_WANT_FD may be answered with RFS_OPEN_FD: the server sent
 *        the file it opened, with SCM_RIGHTS on the transport's Unix
 *        socket, before the reply, tagged with the request id.  The
 *        client hands it to the kernel's FUSE passthrough.
 *
 * Every message is a fixed 48-byte header (struct rfs_hdr) followed by
 * `len` payload bytes.  All integers are little-endian, fixed width; every
 * struct has explicit padding and a _Static_assert on its size, so the C
 * layout on a little-endian host *is* the wire layout.  Variable-length
 * parts (names, data) follow the fixed part of a payload in the order the
 * op's comment gives; names carry an explicit length and are NOT
 * NUL-terminated on the wire.
 *
 * Requests carry the caller's uid/gid/pid in the header; replies carry
 * status (0 or a negative Linux errno, handed straight to fuse_reply_err).
 * A reply echoes the request's id and opcode and sets RFS_HF_REPLY.
 *
 * The checksum (XXH3-64 over the header with csum = 0, then the payload)
 * is present when RFS_HF_CSUM is set; HELLO negotiates whether both sides
 * set it (on by default).  A receiver that negotiated checksums rejects
 * a frame without one.
 *
 * Node ids: 64-bit, chosen by the server as a keyed hash of the export
 * and the kernel file handle (never 0 or 1).  The server may forget a node
 * at any time (bounded cache, restart); a request naming a node the server
 * does not know fails with -ESTALE and RFS_HF_UNKNOWN_NODE set, the reply
 * payload being a struct rfs_unknown_node.  The client then sends RESOLVE
 * with the opaque handle it got in the entry and retries.
 *
 * doc/protocol.md explains this to people.
 */
#ifndef RINGFS_PROTO_H
#define RINGFS_PROTO_H

#include <stdint.h>

#define RFS_MAGIC 0x474e4652u /* "RFNG" little-endian */
#define RFS_PROTO_MAJOR 1
#define RFS_PROTO_MINOR 5

#define RFS_HDR_SIZE 48u
#define RFS_NAME_MAX 255u  /* one path component */
#define RFS_PATH_MAX 4096u /* symlink target */
#define RFS_XATTR_NAME_MAX 255u
#define RFS_XATTR_SIZE_MAX 65536u
#define RFS_HANDLE_MAX 160u /* opaque server handle blob */
#define RFS_EXPORT_NAME_MAX 64u
#define RFS_IO_MAX (1u << 20) /* read/write payload limit: 1 MiB */
#define RFS_MSG_MAX_DEFAULT (RFS_IO_MAX + 4096u)
#define RFS_MSG_MAX_LIMIT (16u << 20) /* hard upper bound on any frame */
#define RFS_FORGET_MAX 1024u	      /* entries in one BATCH_FORGET */

/* header flags */
#define RFS_HF_REPLY (1u << 0)
#define RFS_HF_CSUM (1u << 1)	      /* csum field is valid */
#define RFS_HF_UNKNOWN_NODE (1u << 2) /* reply: see struct rfs_unknown_node */
#define RFS_HF_REPLAY (1u << 3)	      /* request: resent after reconnect */
#define RFS_HF_GROUPS (1u << 4)	      /* request: groups at the end (1.2) */
#define RFS_HF_NOTIFY (1u << 5)	      /* server -> client notification (1.4) */
#define RFS_HF_KNOWN                                                        \
	(RFS_HF_REPLY | RFS_HF_CSUM | RFS_HF_UNKNOWN_NODE | RFS_HF_REPLAY | \
	 RFS_HF_GROUPS | RFS_HF_NOTIFY)

struct rfs_hdr {
	uint32_t magic;
	uint16_t opcode;
	uint8_t major;
	uint8_t minor;
	uint32_t flags;
	uint32_t len;	/* payload bytes after the header */
	uint64_t id;	/* request id, echoed in the reply */
	int32_t status; /* reply: 0 or -errno; request: 0 */
	uint32_t uid;	/* request: caller's credentials */
	uint32_t gid;
	uint32_t pid;
	uint64_t csum; /* XXH3-64, see above */
};
_Static_assert(sizeof(struct rfs_hdr) == RFS_HDR_SIZE, "rfs_hdr");

enum rfs_op {
	RFS_OP_INVALID = 0,
	/* session */
	RFS_OP_HELLO = 1,
	RFS_OP_ATTACH = 2,
	RFS_OP_PING = 3,
	RFS_OP_BYE = 4,
	RFS_OP_STATS = 5,
	RFS_OP_RESOLVE = 6,
	RFS_OP_AUTH = 7,   /* since 1.1 */
	RFS_OP_PATHS = 8,  /* since 1.1 */
	RFS_OP_RESUME = 9, /* since 1.3 */
	/* FUSE low-level operations, one to one */
	RFS_OP_LOOKUP = 16,
	RFS_OP_FORGET = 17, /* batch forget; no reply */
	RFS_OP_GETATTR = 18,
	RFS_OP_SETATTR = 19,
	RFS_OP_READLINK = 20,
	RFS_OP_SYMLINK = 21,
	RFS_OP_MKNOD = 22,
	RFS_OP_MKDIR = 23,
	RFS_OP_UNLINK = 24,
	RFS_OP_RMDIR = 25,
	RFS_OP_RENAME = 26,
	RFS_OP_LINK = 27,
	RFS_OP_OPEN = 28,
	RFS_OP_CREATE = 29,
	RFS_OP_READ = 30,
	RFS_OP_WRITE = 31,
	RFS_OP_FLUSH = 32,
	RFS_OP_RELEASE = 33,
	RFS_OP_FSYNC = 34,
	RFS_OP_OPENDIR = 35,
	RFS_OP_READDIRPLUS = 36,
	RFS_OP_RELEASEDIR = 37,
	RFS_OP_FSYNCDIR = 38,
	RFS_OP_STATFS = 39,
	RFS_OP_ACCESS = 40,
	RFS_OP_SETXATTR = 41,
	RFS_OP_GETXATTR = 42,
	RFS_OP_LISTXATTR = 43,
	RFS_OP_REMOVEXATTR = 44,
	RFS_OP_GETLK = 45,
	RFS_OP_SETLK = 46, /* SETLKW is SETLK with RFS_LK_WAIT */
	RFS_OP_FLOCK = 47,
	RFS_OP_FALLOCATE = 48,
	RFS_OP_COPY_FILE_RANGE = 49,
	RFS_OP_LSEEK = 50,
	RFS_OP_MAX_
};

/* ---- common pieces ---------------------------------------------------- */

struct rfs_attr {
	uint64_t ino; /* the backing file's inode number */
	uint64_t size;
	uint64_t blocks; /* 512-byte units */
	int64_t atime;
	int64_t mtime;
	int64_t ctime;
	uint32_t atime_ns;
	uint32_t mtime_ns;
	uint32_t ctime_ns;
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t rdev; /* encoded as by makedev() on Linux */
	uint32_t blksize;
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_attr) == 88, "rfs_attr");

/*
 * A looked-up node: id, attributes, then handle_len bytes of opaque
 * handle (<= RFS_HANDLE_MAX), padded with zeros to a multiple of 8.
 */
struct rfs_entry {
	uint64_t nodeid;
	uint64_t generation;
	struct rfs_attr attr;
	uint16_t handle_len;
	uint16_t pad0;
	uint32_t pad1;
};
_Static_assert(sizeof(struct rfs_entry) == 112, "rfs_entry");

/* reply payload when RFS_HF_UNKNOWN_NODE is set */
struct rfs_unknown_node {
	uint64_t nodeid;
};
_Static_assert(sizeof(struct rfs_unknown_node) == 8, "rfs_unknown_node");

/*
 * Supplementary groups (since 1.2).  FUSE gives the client only the
 * caller's uid, gid and pid; the client reads the rest and, on a session
 * that negotiated RFS_FEAT_GROUPS, sends them with the request: the
 * payload is the op's body as always, then `count` gids (uint32 each, not
 * aligned), then this tail, and the header has RFS_HF_GROUPS.  The op's
 * body is the payload minus the last 4 * count + 8 bytes.  A request
 * without the flag means "no supplementary groups" (the 1.0 behaviour:
 * the gid alone).  The server applies the export's squash rules to the
 * list as to uid and gid.
 */
#define RFS_GROUPS_MAX 256u
struct rfs_groups_tail {
	uint32_t count; /* 1..RFS_GROUPS_MAX */
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_groups_tail) == 8, "rfs_groups_tail");
/* the most bytes the groups add to a request */
#define RFS_GROUPS_BYTES_MAX (4u * RFS_GROUPS_MAX + 8u)

/* ---- session ---------------------------------------------------------- */

#define RFS_FEAT_CSUM (1ull << 0)
/* the client understands the RFS_EXPF_IDS_* bits of HELLO's reply */
#define RFS_FEAT_IDS (1ull << 1)
#define RFS_FEAT_GROUPS (1ull << 2) /* since 1.2: see rfs_groups_tail */
/*
 * since 1.3: keep this session's replies to non-idempotent requests across
 * a server restart (in the server's state directory), for RESUME
 */
#define RFS_FEAT_RESUME (1ull << 3)
/* since 1.4: the client takes notifications (struct rfs_notify) */
#define RFS_FEAT_NOTIFY (1ull << 4)
/* since 1.5: open files passed to the client (RFS_WANT_FD, shm only) */
#define RFS_FEAT_PASSFD (1ull << 5)
#define RFS_FEAT_KNOWN                                                      \
	(RFS_FEAT_CSUM | RFS_FEAT_IDS | RFS_FEAT_GROUPS | RFS_FEAT_RESUME | \
	 RFS_FEAT_NOTIFY | RFS_FEAT_PASSFD)

/*
 * HELLO: the first frame on a control connection; always sent with
 * header version RFS_PROTO_MAJOR.RFS_PROTO_MINOR.  A server that speaks a
 * different major replies -EPROTONOSUPPORT with its own version in the
 * reply header and closes.  Payload: struct rfs_hello_req, then
 * export_len bytes of export name (no leading '/').
 */
struct rfs_hello_req {
	uint64_t features; /* RFS_FEAT_* the client wants */
	uint32_t max_msg;  /* largest frame the client accepts */
	uint16_t export_len;
	uint16_t pad0;
	uint32_t max_inflight; /* requests the client may keep in flight */
	uint32_t pad1;
};
_Static_assert(sizeof(struct rfs_hello_req) == 24, "rfs_hello_req");

#define RFS_EXPF_RO (1u << 0)
/*
 * The uid/gid in this connection's request headers (at most one bit, and
 * only when RFS_FEAT_IDS was negotiated; none: they are taken as they
 * are, squashed as the export says).  The server decides per connection
 * from what it knows of the peer (ringfsd(8), TRUST):
 */
/* not taken: every request that needs an identity fails -EACCES (an
   unauthenticated peer the export does not trust, untrusted=refuse) */
#define RFS_EXPF_IDS_REFUSED (1u << 1)
/* ignored: every request runs as the export's anonymous user
   (untrusted=squash) */
#define RFS_EXPF_IDS_SQUASHED (1u << 2)
/* ignored: every request runs as the process at the other end of the
   Unix socket (its uid, gid and groups, as the kernel tells them) */
#define RFS_EXPF_IDS_PEER (1u << 3)
#define RFS_EXPF_IDS \
	(RFS_EXPF_IDS_REFUSED | RFS_EXPF_IDS_SQUASHED | RFS_EXPF_IDS_PEER)
#define RFS_EXPF_KNOWN (RFS_EXPF_RO | RFS_EXPF_IDS)

/* reply: then root entry's handle_len bytes of handle (padded to 8) */
struct rfs_hello_rep {
	uint64_t features; /* the intersection, in force from now on */
	uint64_t session;  /* session id, for ATTACH */
	uint8_t token[16]; /* session secret, for ATTACH */
	uint32_t max_msg;  /* min(client, server) */
	uint32_t max_inflight;
	uint32_t export_flags; /* RFS_EXPF_* */
	uint32_t pad;
	struct rfs_entry root;
};
_Static_assert(sizeof(struct rfs_hello_rep) == 48 + 112, "rfs_hello_rep");

/* ATTACH: join an existing session from another connection */
struct rfs_attach_req {
	uint64_t session;
	uint8_t token[16];
};
_Static_assert(sizeof(struct rfs_attach_req) == 24, "rfs_attach_req");

/*
 * RESUME (since 1.3, only in a session that negotiated RFS_FEAT_RESUME,
 * at most once): after a server restart, the client's new session takes
 * over the replies the previous server kept for an earlier session of
 * this client (its id and token, as ATTACH would present them).  A
 * replayed request (RFS_HF_REPLAY, its original id) that ran before the
 * restart then gets the reply it had, instead of running again.
 * -EBADSLT: the server has no replies of that session (none kept, grace
 * over, another export); -EACCES: wrong token; -EALREADY: this session
 * resumed one already.  Reply: how many kept replies were taken over.
 */
struct rfs_resume_req {
	uint64_t session;
	uint8_t token[16];
};
_Static_assert(sizeof(struct rfs_resume_req) == 24, "rfs_resume_req");
struct rfs_resume_rep {
	uint32_t replies; /* kept replies and unfinished requests taken over */
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_resume_rep) == 8, "rfs_resume_rep");

/*
 * AUTH (since 1.1): when the server has a key (ringfsd --key-file), every
 * connection proves knowledge of it before HELLO or ATTACH, in two rounds:
 *
 *   CHALLENGE  client -> {step 1, client nonce, export name}
 *              server -> {server nonce}                   (fresh, random)
 *   PROVE      client -> {step 2, mac = C}
 *              server -> {mac = S}   or -EKEYREJECTED and close
 *
 * With K = BLAKE2b-256(key material, keyed "ringfs-auth v1"), transcript
 *   T = "ringfs-auth v1" || u8 major || server nonce || client nonce ||
 *       u16 export_len || export name
 * C = HMAC-SHA512-256(K, u8 len || "client" || T), S = likewise "server";
 * the secret never crosses the wire, the server's fresh nonce makes a
 * replayed PROVE useless, and the client checks S, so an impostor without
 * the key is detected.  The session token is then
 * HMAC-SHA512-256(K, "token" || T) truncated to 16 bytes: HELLO's reply
 * carries zeros in `token` and both ends derive it; ATTACH (on a connection
 * that authenticated itself for the same export) presents it.  A server
 * without a key answers AUTH with -EOPNOTSUPP; a server with one answers
 * HELLO/ATTACH on an unauthenticated connection with -ENOKEY.
 */
#define RFS_AUTH_NONCE 32u
#define RFS_AUTH_MAC 32u
#define RFS_AUTH_CHALLENGE 1u
#define RFS_AUTH_PROVE 2u
struct rfs_auth_req {
	uint32_t step;	     /* RFS_AUTH_CHALLENGE or RFS_AUTH_PROVE */
	uint16_t export_len; /* CHALLENGE: export name follows; PROVE: 0 */
	uint16_t pad;
	uint8_t nonce[RFS_AUTH_NONCE]; /* CHALLENGE: the client's */
	uint8_t mac[RFS_AUTH_MAC];     /* PROVE: C */
};
_Static_assert(sizeof(struct rfs_auth_req) == 72, "rfs_auth_req");
struct rfs_auth_rep {
	uint8_t nonce[RFS_AUTH_NONCE]; /* CHALLENGE: the server's */
	uint8_t mac[RFS_AUTH_MAC];     /* PROVE: S */
};
_Static_assert(sizeof(struct rfs_auth_rep) == 64, "rfs_auth_rep");

/* PING: payload echoed back verbatim (at most 64 KiB). BYE: empty. */

/*
 * PATHS (after HELLO/ATTACH): the other ways to reach this server, for
 * transport=auto.  Empty request; reply struct rfs_paths_rep, then
 * unix_len bytes of the Unix socket path (shm is reachable through it on
 * the same host), then rdma_len bytes of the RDMA address ("" when none).
 * `instance` is random per server start, never 0: a client that reaches a server
 * over another path compares it to know it is the same server.
 */
#define RFS_PATHS_UNIX_MAX 107u
#define RFS_PATHS_RDMA_MAX 127u
struct rfs_paths_rep {
	uint64_t instance;
	uint16_t unix_len;
	uint16_t rdma_len;
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_paths_rep) == 16, "rfs_paths_rep");

/* STATS: empty request; reply is a struct rfs_stats_rep */
struct rfs_stats_rep {
	uint64_t uptime_ns;
	uint64_t sessions;    /* open now */
	uint64_t connections; /* accepted since start; the rest too */
	uint64_t requests;
	uint64_t errors; /* requests answered with an error */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t nodes; /* in the node cache now */
};
_Static_assert(sizeof(struct rfs_stats_rep) == 64, "rfs_stats_rep");

/* RESOLVE: re-bind a node id the server forgot; then handle bytes */
struct rfs_resolve_req {
	uint64_t nodeid;
	uint16_t handle_len;
	uint16_t pad0;
	uint32_t pad1;
};
_Static_assert(sizeof(struct rfs_resolve_req) == 16, "rfs_resolve_req");
/* reply: struct rfs_attr */

/*
 * Notifications (since 1.4, only in a session that negotiated
 * RFS_FEAT_NOTIFY): the third kind of frame besides requests and replies.
 * The server sends one on any connection of the session whenever it
 * likes; nobody answers it.  Header: flags RFS_HF_NOTIFY (and
 * RFS_HF_CSUM as negotiated), opcode RFS_NOTIFY_OPCODE (not a request
 * opcode: a request or reply with it is refused), id 0, status 0.
 * Payload: struct rfs_notify, then name_len name bytes (ENTRY only).
 *
 *   RFS_NOTIFY_INODE  nodeid's attributes or data changed (elsewhere):
 *                     drop its cached attributes and pages; for a
 *                     directory, its cached listing.  parent 0, no name.
 *   RFS_NOTIFY_ENTRY  the name in directory `parent` changed or went
 *                     away: drop the cached lookup of that name.  nodeid
 *                     is the node the name led to, or 0 when unknown.
 *
 * A notification is advice: it may come late, twice, or (when the
 * server's queue for a slow client is full) not at all; a node id the
 * client does not know is ignored.  A malformed one is logged and dropped.
 */
#define RFS_NOTIFY_OPCODE 10u
#define RFS_NOTIFY_INODE 1u
#define RFS_NOTIFY_ENTRY 2u
struct rfs_notify {
	uint64_t nodeid;
	uint64_t parent;
	uint32_t kind; /* RFS_NOTIFY_* */
	uint16_t name_len;
	uint16_t pad;
};
_Static_assert(sizeof(struct rfs_notify) == 24, "rfs_notify");

/* ---- node operations -------------------------------------------------- */

/* LOOKUP, UNLINK, RMDIR: then name_len name bytes */
struct rfs_name_req {
	uint64_t parent;
	uint16_t name_len;
	uint16_t pad0;
	uint32_t pad1;
};
_Static_assert(sizeof(struct rfs_name_req) == 16, "rfs_name_req");
/* LOOKUP reply: struct rfs_entry + handle. UNLINK/RMDIR reply: empty */

/* FORGET: struct rfs_forget_req then count struct rfs_forget_one */
struct rfs_forget_req {
	uint32_t count;
	uint32_t pad;
};
struct rfs_forget_one {
	uint64_t nodeid;
	uint64_t nlookup;
};
_Static_assert(sizeof(struct rfs_forget_req) == 8, "rfs_forget_req");
_Static_assert(sizeof(struct rfs_forget_one) == 16, "rfs_forget_one");

/* GETATTR, READLINK, STATFS, OPENDIR...: requests naming just a node */
struct rfs_node_req {
	uint64_t nodeid;
	uint64_t fh; /* open handle, or 0 */
};
_Static_assert(sizeof(struct rfs_node_req) == 16, "rfs_node_req");
/* GETATTR reply: struct rfs_attr.  READLINK reply: target bytes. */

/* SETATTR valid bits (same meaning as FUSE_SET_ATTR_*) */
#define RFS_SA_MODE (1u << 0)
#define RFS_SA_UID (1u << 1)
#define RFS_SA_GID (1u << 2)
#define RFS_SA_SIZE (1u << 3)
#define RFS_SA_ATIME (1u << 4)
#define RFS_SA_MTIME (1u << 5)
#define RFS_SA_ATIME_NOW (1u << 7)
#define RFS_SA_MTIME_NOW (1u << 8)
#define RFS_SA_CTIME (1u << 10)
#define RFS_SA_KNOWN                                                          \
	(RFS_SA_MODE | RFS_SA_UID | RFS_SA_GID | RFS_SA_SIZE | RFS_SA_ATIME | \
	 RFS_SA_MTIME | RFS_SA_ATIME_NOW | RFS_SA_MTIME_NOW | RFS_SA_CTIME)

struct rfs_setattr_req {
	uint64_t nodeid;
	uint64_t fh;	/* open handle when set through one, or 0 */
	uint32_t valid; /* RFS_SA_* */
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	int64_t atime;
	int64_t mtime;
	uint32_t atime_ns;
	uint32_t mtime_ns;
};
_Static_assert(sizeof(struct rfs_setattr_req) == 64, "rfs_setattr_req");
/* reply: struct rfs_attr */

/*
 * MKNOD, MKDIR, SYMLINK, CREATE: then name_len name bytes, then (SYMLINK)
 * target_len target bytes.  Reply: struct rfs_entry + handle; CREATE's
 * reply is struct rfs_create_rep.
 */
struct rfs_make_req {
	uint64_t parent;
	uint32_t mode;
	uint32_t umask;
	uint32_t rdev;
	uint32_t flags; /* CREATE: open flags (O_*) */
	uint16_t name_len;
	uint16_t target_len; /* SYMLINK only */
	uint32_t want;	     /* CREATE: RFS_WANT_*; others 0 */
};
_Static_assert(sizeof(struct rfs_make_req) == 32, "rfs_make_req");

/*
 * OPEN/CREATE want (RFS_FEAT_PASSFD sessions): send the opened file
 * along, for the kernel's FUSE passthrough
 */
#define RFS_WANT_FD (1u << 0)
#define RFS_WANT_KNOWN RFS_WANT_FD

#define RFS_OPEN_DIRECT_IO (1u << 0) /* reply flags to FUSE */
#define RFS_OPEN_KEEP_CACHE (1u << 1)
#define RFS_OPEN_NONSEEKABLE (1u << 2)
/* the file went to the client before this reply (RFS_WANT_FD) */
#define RFS_OPEN_FD (1u << 3)
#define RFS_OPEN_KNOWN                                                     \
	(RFS_OPEN_DIRECT_IO | RFS_OPEN_KEEP_CACHE | RFS_OPEN_NONSEEKABLE | \
	 RFS_OPEN_FD)

struct rfs_create_rep {
	uint64_t fh;
	uint32_t open_flags; /* RFS_OPEN_* */
	uint32_t pad;
	struct rfs_entry entry; /* then handle bytes */
};
_Static_assert(sizeof(struct rfs_create_rep) == 16 + 112, "rfs_create_rep");

/* RENAME: then name_len name bytes, then newname_len bytes */
#define RFS_RENAME_NOREPLACE (1u << 0)
#define RFS_RENAME_EXCHANGE (1u << 1)
#define RFS_RENAME_WHITEOUT (1u << 2)
struct rfs_rename_req {
	uint64_t parent;
	uint64_t newparent;
	uint32_t flags; /* RFS_RENAME_*, same values as renameat2 */
	uint16_t name_len;
	uint16_t newname_len;
};
_Static_assert(sizeof(struct rfs_rename_req) == 24, "rfs_rename_req");

/* LINK: then name_len bytes; reply struct rfs_entry + handle */
struct rfs_link_req {
	uint64_t nodeid;
	uint64_t newparent;
	uint16_t name_len;
	uint16_t pad0;
	uint32_t pad1;
};
_Static_assert(sizeof(struct rfs_link_req) == 24, "rfs_link_req");

/* OPEN, OPENDIR */
struct rfs_open_req {
	uint64_t nodeid;
	uint32_t flags; /* O_* from the application */
	uint32_t want;	/* OPEN: RFS_WANT_*; OPENDIR 0 */
};
_Static_assert(sizeof(struct rfs_open_req) == 16, "rfs_open_req");
struct rfs_open_rep {
	uint64_t fh;
	uint32_t open_flags; /* RFS_OPEN_* */
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_open_rep) == 16, "rfs_open_rep");

/* READ: reply is the data (len <= size). READDIRPLUS uses the same. */
struct rfs_io_req {
	uint64_t nodeid;
	uint64_t fh;
	uint64_t offset;
	uint32_t size;	/* READ: bytes wanted; WRITE: data that follows */
	uint32_t flags; /* WRITE: RFS_WRITE_* */
	uint64_t lock_owner;
};
_Static_assert(sizeof(struct rfs_io_req) == 40, "rfs_io_req");
#define RFS_WRITE_KILL_PRIV (1u << 0)
struct rfs_write_rep {
	uint32_t written;
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_write_rep) == 8, "rfs_write_rep");

/*
 * READDIRPLUS reply: a sequence of records, each
 *   struct rfs_dirent, name (name_len), handle (entry.handle_len), zero
 *   padding to 8 bytes.
 * entry.nodeid == 0 means the server did not look the entry up (".",
 * ".."): the client passes it without attributes and takes no reference.
 * `off` is the cookie to continue after this entry.  An empty reply
 * means end of directory.
 */
struct rfs_dirent {
	uint64_t off;
	uint16_t name_len;
	uint8_t type; /* DT_* */
	uint8_t pad0;
	uint32_t pad1;
	struct rfs_entry entry;
};
_Static_assert(sizeof(struct rfs_dirent) == 16 + 112, "rfs_dirent");

/* FLUSH, RELEASE, RELEASEDIR, FSYNC, FSYNCDIR */
#define RFS_FSYNC_DATASYNC (1u << 0)
#define RFS_RELEASE_FLOCK_UNLOCK (1u << 1)
struct rfs_fh_req {
	uint64_t nodeid;
	uint64_t fh;
	uint64_t lock_owner;
	uint32_t flags; /* RFS_FSYNC_DATASYNC, RFS_RELEASE_* */
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_fh_req) == 32, "rfs_fh_req");

/* STATFS reply */
struct rfs_statfs_rep {
	uint64_t blocks;
	uint64_t bfree;
	uint64_t bavail;
	uint64_t files;
	uint64_t ffree;
	uint64_t favail;
	uint64_t fsid;
	uint32_t bsize;
	uint32_t frsize;
	uint32_t namemax;
	uint32_t flag;
};
_Static_assert(sizeof(struct rfs_statfs_rep) == 72, "rfs_statfs_rep");

/* ACCESS */
struct rfs_access_req {
	uint64_t nodeid;
	uint32_t mask; /* R_OK | W_OK | X_OK | F_OK */
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_access_req) == 16, "rfs_access_req");

/*
 * SETXATTR: then name_len name bytes, then value_len value bytes.
 * GETXATTR: then name_len name bytes; size 0 asks for the size only.
 * LISTXATTR: no name; size 0 asks for the size only.
 * REMOVEXATTR: then name_len name bytes.
 * GETXATTR/LISTXATTR reply: struct rfs_xattr_rep then the value/list.
 */
struct rfs_xattr_req {
	uint64_t nodeid;
	uint32_t size;	/* GET/LIST: buffer size; SET: value_len */
	uint32_t flags; /* SET: XATTR_CREATE / XATTR_REPLACE */
	uint16_t name_len;
	uint16_t pad0;
	uint32_t pad1;
};
_Static_assert(sizeof(struct rfs_xattr_req) == 24, "rfs_xattr_req");
struct rfs_xattr_rep {
	uint32_t size; /* size of the value/list */
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_xattr_rep) == 8, "rfs_xattr_rep");

/* GETLK, SETLK (+RFS_LK_WAIT), FLOCK */
#define RFS_LK_WAIT (1u << 0)
#define RFS_LK_RDLCK 0 /* F_RDLCK */
#define RFS_LK_WRLCK 1 /* F_WRLCK */
#define RFS_LK_UNLCK 2 /* F_UNLCK */
struct rfs_lock {
	uint64_t start;
	uint64_t end;  /* inclusive; UINT64_MAX = to EOF */
	uint32_t type; /* RFS_LK_RDLCK/WRLCK/UNLCK */
	uint32_t pid;
};
_Static_assert(sizeof(struct rfs_lock) == 24, "rfs_lock");
struct rfs_lock_req {
	uint64_t nodeid;
	uint64_t fh;
	uint64_t owner;
	uint32_t flags; /* RFS_LK_WAIT; FLOCK: LOCK_SH/EX/UN|LOCK_NB */
	uint32_t pad;
	struct rfs_lock lock;
};
_Static_assert(sizeof(struct rfs_lock_req) == 32 + 24, "rfs_lock_req");
/* GETLK reply: struct rfs_lock (type UNLCK when no conflict) */

/* FALLOCATE: mode as fallocate(2) (FALLOC_FL_KEEP_SIZE, PUNCH_HOLE, ...) */
struct rfs_fallocate_req {
	uint64_t nodeid;
	uint64_t fh;
	uint64_t offset;
	uint64_t length;
	uint32_t mode;
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_fallocate_req) == 40, "rfs_fallocate_req");

/* COPY_FILE_RANGE, done on the server; reply struct rfs_write_rep */
struct rfs_copy_req {
	uint64_t nodeid_in;
	uint64_t fh_in;
	uint64_t off_in;
	uint64_t nodeid_out;
	uint64_t fh_out;
	uint64_t off_out;
	uint64_t len;
	uint32_t flags;
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_copy_req) == 64, "rfs_copy_req");

/* LSEEK: whence SEEK_SET/CUR/END/DATA/HOLE; reply struct rfs_lseek_rep */
struct rfs_lseek_req {
	uint64_t nodeid;
	uint64_t fh;
	int64_t offset;
	uint32_t whence;
	uint32_t pad;
};
_Static_assert(sizeof(struct rfs_lseek_req) == 32, "rfs_lseek_req");
struct rfs_lseek_rep {
	int64_t offset;
};
_Static_assert(sizeof(struct rfs_lseek_rep) == 8, "rfs_lseek_rep");

#endif /* RINGFS_PROTO_H */
