/* SPDX-License-Identifier: MIT */
/*
 * proto: encode, decode and validate ringfs frames.
 *
 * Pure code: no I/O, no allocation, no global state.  Every function
 * returns 0 / a length / -errno.  Decoders never trust a byte: every length
 * is checked against the frame, every name against the naming rules, and
 * what they hand back are pointers into the caller's frame (no copies).
 * Frames must be 8-byte aligned (transports guarantee it).
 */
#ifndef RFS_PROTO_API_H
#define RFS_PROTO_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "optab.h"
#include "ringfs_proto.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ringfs: the wire format is little-endian; big-endian hosts need byte swapping (not implemented)"
#endif

/*
 * Name of an opcode ("lookup", ...), "?" for an unknown one (optab.c,
 * like the rest of an opcode's facts: see optab.h).
 */
const char *rfs_proto_op_name(unsigned op);
/* True for every opcode of enum rfs_op this version defines. */
bool rfs_proto_op_known(unsigned op);

/*
 * Check a received header before reading its payload: magic, major
 * version, known flags, known opcode, payload length <= max_msg - header.
 * Returns 0, -EBADMSG (magic), -EPROTONOSUPPORT (version),
 * -EMSGSIZE (length), -EPROTO (anything else).
 */
int rfs_proto_check_hdr(const struct rfs_hdr *h, uint32_t max_msg);

/*
 * Check a whole frame of n bytes as received in one piece (message
 * transports): n >= header, rfs_proto_check_hdr, and n == header + len.
 * Returns 0, the errors of rfs_proto_check_hdr, or -EPROTO (truncated or
 * trailing bytes).
 */
int rfs_proto_check_frame(const void *frame, uint32_t n, uint32_t max_msg);

/* XXH3-64 of the header (csum taken as 0) followed by the payload. */
uint64_t rfs_proto_csum(const struct rfs_hdr *h, const void *payload);

/*
 * Verify the checksum of a whole frame.  csum_required: the session
 * negotiated checksums, so a frame without RFS_HF_CSUM is an error.
 * Returns 0 or -EBADMSG.
 */
int rfs_proto_verify(const struct rfs_hdr *h, const void *payload,
		     bool csum_required);

/* ---- building frames -------------------------------------------------- */

struct rfs_mb {
	uint8_t *frame; /* header at frame[0], 8-byte aligned */
	uint32_t cap;	/* bytes available at frame */
	uint32_t len;	/* bytes used, header included */
	int err;	/* first error, -EMSGSIZE on overflow */
};

/* Start a request (or, with rfs_mb_reply, a reply) in frame. */
void rfs_mb_init(struct rfs_mb *b, void *frame, uint32_t cap, uint16_t op,
		 uint64_t id);
void rfs_mb_reply(struct rfs_mb *b, void *frame, uint32_t cap,
		  const struct rfs_hdr *req, int32_t status);
/* Reserve n zeroed bytes; NULL (and b->err set) when they do not fit. */
void *rfs_mb_put(struct rfs_mb *b, uint32_t n);
/* Append n bytes copied from p. */
int rfs_mb_put_bytes(struct rfs_mb *b, const void *p, uint32_t n);
/* Zero-pad to a multiple of 8 bytes. */
int rfs_mb_pad8(struct rfs_mb *b);
/* Header of the frame being built. */
static inline struct rfs_hdr *rfs_mb_hdr(struct rfs_mb *b)
{
	return (struct rfs_hdr *)(void *)b->frame;
}
/*
 * Fill len (and csum when csum is true); returns the frame length or
 * b->err.
 */
int rfs_mb_finish(struct rfs_mb *b, bool csum);

/*
 * Append one READDIRPLUS record (struct rfs_dirent, name, handle, zero
 * padding to 8).  e->handle_len gives the handle's length.  Returns 0, or
 * -EMSGSIZE *without* setting b->err when the record does not fit, so a
 * server fills a reply until it is full and then finishes it.
 */
int rfs_mb_put_dirent(struct rfs_mb *b, uint64_t off, uint8_t type,
		      const struct rfs_entry *e, const char *name,
		      uint16_t name_len, const void *handle);

/*
 * Append the caller's supplementary groups (n <= RFS_GROUPS_MAX gids) and
 * set RFS_HF_GROUPS: the last thing put in a request, and only on a
 * session that negotiated RFS_FEAT_GROUPS.  n == 0 adds nothing.
 * Returns 0, -EMSGSIZE or -EINVAL (b->err set).
 */
int rfs_mb_put_groups(struct rfs_mb *b, const uint32_t *gids, uint32_t n);
/*
 * Drop the groups block of a finished request frame (header + payload, as
 * a resend to a server that did not negotiate them needs): clears
 * RFS_HF_GROUPS, shortens h->len; the caller seals again.  Returns the
 * new frame length.  A frame without a well-formed block is left as it
 * is.
 */
uint32_t rfs_proto_strip_groups(struct rfs_hdr *h);

/* Seal a frame built by other means (header + h->len payload bytes). */
void rfs_proto_seal(struct rfs_hdr *h, bool csum);

/* ---- decoding requests ------------------------------------------------ */

/*
 * A decoded request: `fixed` points at the op's fixed struct (NULL when the
 * op has none); the variable parts follow.  Which fields an op fills is
 * given in ringfs_proto.h.
 */
struct rfs_req_view {
	uint16_t op;
	const void *fixed;
	const char *name; /* component / xattr name / export name */
	uint32_t name_len;
	const char *name2; /* RENAME new name, SYMLINK target */
	uint32_t name2_len;
	const void *data; /* WRITE data, SETXATTR value, PING payload,
				   RESOLVE handle */
	uint32_t data_len;
	const struct rfs_forget_one *forgets;
	uint32_t nforget;
	/* RFS_HF_GROUPS: ngroups gids, not aligned (rfs_proto_group) */
	const uint8_t *groups;
	uint32_t ngroups;
};

/* The i-th supplementary group of a decoded request (i < v->ngroups). */
uint32_t rfs_proto_group(const struct rfs_req_view *v, uint32_t i);

/*
 * Validate and decode a request frame (header already checked with
 * rfs_proto_check_hdr and its checksum verified).  With RFS_HF_GROUPS
 * the groups block at the end is checked and taken off first (v->groups),
 * and the op's body is what precedes it.  Returns 0 or -EPROTO
 * for a malformed payload, -EINVAL for a hostile name ("", ".", "..", a
 * '/' or NUL inside), -ENAMETOOLONG for a name over RFS_NAME_MAX.
 */
int rfs_proto_decode_req(const struct rfs_hdr *h, const void *payload,
			 struct rfs_req_view *v);

/* Name rules for one path component; 0 or -EINVAL / -ENAMETOOLONG. */
int rfs_proto_check_name(const char *name, uint32_t len);

/* ---- notifications (server -> client, since 1.4) ---------------------- */

/*
 * Build a notification frame in frame[0..cap): kind RFS_NOTIFY_*, name
 * (ENTRY) of name_len bytes.  Returns the frame's length or -EMSGSIZE /
 * -EINVAL (a field the decoder would refuse).
 */
int rfs_proto_build_notify(void *frame, uint32_t cap, uint32_t kind,
			   uint64_t nodeid, uint64_t parent, const char *name,
			   uint32_t name_len, bool csum);

struct rfs_notify_view {
	uint32_t kind;
	uint64_t nodeid;
	uint64_t parent;
	const char *name; /* ENTRY: into the frame, not terminated */
	uint32_t name_len;
};
/*
 * Validate a received notification (header already through
 * rfs_proto_check_hdr, checksum verified).  Returns 0, -EINVAL / -ENAMETOOLONG
 * (a bad name) or -EPROTO.
 */
int rfs_proto_decode_notify(const struct rfs_hdr *h, const void *payload,
			    struct rfs_notify_view *v);

/* ---- decoding replies ------------------------------------------------- */

struct rfs_rep_view {
	const void *fixed;  /* the op's reply struct, or NULL */
	const void *handle; /* entry handle, if the reply has an entry */
	uint32_t handle_len;
	const void *data; /* READ/READLINK/xattr data, PING payload */
	uint32_t data_len;
};

/*
 * Validate a reply to a request of opcode `op` (h->status == 0; an error
 * reply has no payload unless RFS_HF_UNKNOWN_NODE).  Checks the reply's
 * exact size for the op, the entry handle length, and for READDIRPLUS
 * every record.  Returns 0 or -EPROTO.
 */
int rfs_proto_decode_rep(const struct rfs_hdr *h, const void *payload,
			 uint16_t op, struct rfs_rep_view *v);

/* One READDIRPLUS record. */
struct rfs_dirent_view {
	const struct rfs_dirent *d;
	const char *name;
	const void *handle;
};
/*
 * Walk a READDIRPLUS reply already validated by rfs_proto_decode_rep:
 * *pos starts at 0; returns 1 and fills *out, or 0 at the end.  It checks
 * every record again and returns -EPROTO for a bad one, so it is safe on
 * bytes nobody validated.
 */
int rfs_proto_dirent_next(const void *payload, uint32_t len, uint32_t *pos,
			  struct rfs_dirent_view *out);
/* Bytes one record takes. */
uint32_t rfs_proto_dirent_size(uint32_t name_len, uint32_t handle_len);

#endif /* RFS_PROTO_API_H */
