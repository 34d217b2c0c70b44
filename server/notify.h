/* SPDX-License-Identifier: MIT */
/*
 * notify.h: notifications to clients (protocol 1.4, struct rfs_notify):
 * "what you cache of this node / of this name is stale".  A backend that
 * learns of changes made elsewhere (gluster: its upcalls) calls
 * rfs_notify_changed from any thread; it never blocks on a client.  Each
 * session of the export that negotiated RFS_FEAT_NOTIFY gets the
 * notification on one of its connections, through a bounded queue per
 * connection that the connection's own thread drains (conn.c), so every
 * transport carries it like a reply.  A full queue drops and counts.
 *
 * ENTRY notifications need the name the client knows the node by: the
 * server remembers, per node, the last (parent, name) it handed out in
 * LOOKUP, MKDIR/MKNOD/SYMLINK/LINK, CREATE and READDIRPLUS replies, in a
 * bounded direct-mapped table (a collision forgets a name).
 */
#ifndef RFS_NOTIFY_H
#define RFS_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

struct rfs_export;
struct rfs_conn_ctx;

/* what changed (rfs_notify_changed) */
#define RFS_NTF_ATTR 1u /* attributes or data: an INODE notification */
#define RFS_NTF_NAME 2u /* its name went or moved: ENTRY of its known name */

/* export e can notify: start the name table (before serving) */
int rfs_notify_export(struct rfs_export *e);
/* node was handed out as name (len bytes) in directory parent */
void rfs_notify_name(const struct rfs_export *e, uint64_t node, uint64_t parent,
		     const char *name, uint32_t len);
/*
 * The backend object with handle (htype, h, hlen) of export e changed
 * (RFS_NTF_*).  Only for a node this gateway handed out (in its node table
 * or its name table): a handle outside the export never becomes a
 * notification.
 */
void rfs_notify_changed(struct rfs_export *e, int32_t htype, const void *h,
			uint32_t hlen, unsigned what);

/*
 * A request that changed something ran through this gateway (ops.c, ret
 * its result): the other sessions of the export hear of it (gluster sends
 * no upcall to the gluster client that made the change).  Names in
 * directories, the directories, and the node whose attributes or data
 * changed; never the session that made the change.
 */
struct rfs_req;
void rfs_notify_after(const struct rfs_req *r, int ret);

/* conn.c, the connection's thread: the next queued frame into frame */
int rfs_notify_pop(struct rfs_conn_ctx *cc, void *frame, uint32_t cap);
bool rfs_notify_pending(struct rfs_conn_ctx *cc);
void rfs_notify_conn_fini(struct rfs_conn_ctx *cc);

/* counters since start (STATS, logs) */
struct rfs_notify_stats {
	uint64_t events;  /* backend changes reported */
	uint64_t queued;  /* notifications queued for sessions */
	uint64_t dropped; /* queue full: lost */
	uint64_t sent;
};
void rfs_notify_get_stats(struct rfs_notify_stats *s);

#endif /* RFS_NOTIFY_H */
