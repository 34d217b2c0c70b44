// SPDX-License-Identifier: MIT
/*
 * proto: validate, decode and build ringfs frames.
 *
 * Everything here reads bytes that came off the network, so the rule is:
 * never index past what a length check has proven is there.  All reads go
 * through a cursor (struct rd) whose take() refuses to run past the
 * payload, and every op ends with "the cursor consumed the payload
 * exactly" so that no frame carries trailing bytes nobody looked at.
 *
 * Pure code: no I/O, no allocation, no global state (proto.h).
 */
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack, no malloc */
#include <xxhash.h>

#include <errno.h>
#include <string.h>

#include "proto.h"

#define NSEC_PER_SEC 1000000000u
#define ERRNO_MAX 4095	     /* status range of an error reply */
#define MSG_MIN 4096u	     /* smallest max_msg a peer may announce */
#define SEEK_WHENCE_MAX 4    /* SEEK_SET .. SEEK_HOLE */
#define ACCESS_KNOWN 7u	     /* R_OK | W_OK | X_OK */
#define XATTR_FLAGS_KNOWN 3u /* XATTR_CREATE | XATTR_REPLACE */
#define FLOCK_SH 1u
#define FLOCK_EX 2u
#define FLOCK_NB 4u
#define FLOCK_UN 8u

/* ---- a bounds-checked cursor over a payload ---------------------------- */

struct rd {
	const uint8_t *p;
	uint32_t len;
	uint32_t pos;
};

static void rd_init(struct rd *r, const void *p, uint32_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
}

/* n bytes at the cursor, or NULL when fewer than n remain */
static const void *rd_take(struct rd *r, uint32_t n)
{
	const void *q;

	if (n > r->len - r->pos)
		return NULL;
	q = r->p + r->pos;
	r->pos += n;
	return q;
}

/* skip padding up to the next multiple of 8 (the payload is 8-aligned) */
static bool rd_pad8(struct rd *r)
{
	uint32_t pad = (8 - (r->pos & 7)) & 7;

	return rd_take(r, pad) != NULL;
}

static bool rd_done(const struct rd *r)
{
	return r->pos == r->len;
}

static uint32_t round8(uint32_t n)
{
	return (n + 7) & ~7u;
}

/* ---- header, checksum -------------------------------------------------- */

int rfs_proto_check_hdr(const struct rfs_hdr *h, uint32_t max_msg)
{
	const struct rfs_opinfo *oi;
	uint32_t limit;

	if (h->magic != RFS_MAGIC)
		return -EBADMSG;
	if (h->major != RFS_PROTO_MAJOR)
		return -EPROTONOSUPPORT;
	if (h->flags & ~RFS_HF_KNOWN)
		return -EPROTO;
	if (h->flags & RFS_HF_NOTIFY) {
		/* a notification: no opcode row, nothing but the checksum */
		if ((h->flags & ~(RFS_HF_NOTIFY | RFS_HF_CSUM)) ||
		    h->opcode != RFS_NOTIFY_OPCODE || h->id != 0 ||
		    h->status != 0)
			return -EPROTO;
		goto len;
	}
	oi = rfs_op_info(h->opcode);
	if (!oi)
		return -EPROTO;
	if (h->flags & RFS_HF_REPLY) {
		if (h->status > 0 || h->status < -ERRNO_MAX)
			return -EPROTO;
		if (h->flags & (RFS_HF_REPLAY | RFS_HF_GROUPS))
			return -EPROTO;
		/* the server never answers a forget */
		if (oi->flags & RFS_OPF_NO_REPLY)
			return -EPROTO;
		if ((h->flags & RFS_HF_UNKNOWN_NODE) && h->status != -ESTALE)
			return -EPROTO;
	} else {
		if (h->status != 0 || (h->flags & RFS_HF_UNKNOWN_NODE))
			return -EPROTO;
	}
len:
	limit = max_msg < RFS_MSG_MAX_LIMIT ? max_msg : RFS_MSG_MAX_LIMIT;
	if (limit < RFS_HDR_SIZE || h->len > limit - RFS_HDR_SIZE)
		return -EMSGSIZE;
	return 0;
}

int rfs_proto_check_frame(const void *frame, uint32_t n, uint32_t max_msg)
{
	const struct rfs_hdr *h = frame;
	int ret;

	if (n < RFS_HDR_SIZE)
		return -EPROTO;
	ret = rfs_proto_check_hdr(h, max_msg);
	if (ret)
		return ret;
	return n - RFS_HDR_SIZE == h->len ? 0 : -EPROTO;
}

uint64_t rfs_proto_csum(const struct rfs_hdr *h, const void *payload)
{
	XXH3_state_t st;
	struct rfs_hdr hc = *h;

	/*
	 * Streaming so that header and payload need not be contiguous and
	 * the caller's header stays const: hash a copy with csum zeroed.
	 */
	hc.csum = 0;
	XXH3_INITSTATE(&st);
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, &hc, sizeof(hc));
	if (h->len)
		XXH3_64bits_update(&st, payload, h->len);
	return XXH3_64bits_digest(&st);
}

int rfs_proto_verify(const struct rfs_hdr *h, const void *payload,
		     bool csum_required)
{
	if (!(h->flags & RFS_HF_CSUM))
		return csum_required ? -EBADMSG : 0;
	return rfs_proto_csum(h, payload) == h->csum ? 0 : -EBADMSG;
}

/* ---- building ---------------------------------------------------------- */

void rfs_mb_init(struct rfs_mb *b, void *frame, uint32_t cap, uint16_t op,
		 uint64_t id)
{
	struct rfs_hdr *h;

	b->frame = frame;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
	if (cap < RFS_HDR_SIZE) {
		b->err = -EMSGSIZE;
		return;
	}
	h = rfs_mb_hdr(b);
	memset(h, 0, sizeof(*h));
	h->magic = RFS_MAGIC;
	h->major = RFS_PROTO_MAJOR;
	h->minor = RFS_PROTO_MINOR;
	h->opcode = op;
	h->id = id;
	b->len = RFS_HDR_SIZE;
}

void rfs_mb_reply(struct rfs_mb *b, void *frame, uint32_t cap,
		  const struct rfs_hdr *req, int32_t status)
{
	/* copy first: frame may be the request's own buffer */
	uint16_t op = req->opcode;
	uint64_t id = req->id;

	rfs_mb_init(b, frame, cap, op, id);
	if (b->err)
		return;
	rfs_mb_hdr(b)->flags = RFS_HF_REPLY;
	rfs_mb_hdr(b)->status = status;
}

void *rfs_mb_put(struct rfs_mb *b, uint32_t n)
{
	void *p;

	if (b->err)
		return NULL;
	if (n > b->cap - b->len) {
		b->err = -EMSGSIZE;
		return NULL;
	}
	p = b->frame + b->len;
	memset(p, 0, n);
	b->len += n;
	return p;
}

int rfs_mb_put_bytes(struct rfs_mb *b, const void *p, uint32_t n)
{
	void *q = rfs_mb_put(b, n);

	if (!q)
		return b->err;
	if (n)
		memcpy(q, p, n);
	return 0;
}

int rfs_mb_pad8(struct rfs_mb *b)
{
	if (!rfs_mb_put(b, (8 - (b->len & 7)) & 7))
		return b->err;
	return 0;
}

int rfs_mb_put_dirent(struct rfs_mb *b, uint64_t off, uint8_t type,
		      const struct rfs_entry *e, const char *name,
		      uint16_t name_len, const void *handle)
{
	uint32_t sz = rfs_proto_dirent_size(name_len, e->handle_len);
	struct rfs_dirent *d;

	if (b->err)
		return b->err;
	if (sz > b->cap - b->len)
		return -EMSGSIZE; /* reply full: not an error of b */
	d = rfs_mb_put(b, sizeof(*d));
	d->off = off;
	d->name_len = name_len;
	d->type = type;
	d->entry = *e;
	d->entry.pad0 = 0;
	d->entry.pad1 = 0;
	rfs_mb_put_bytes(b, name, name_len);
	rfs_mb_put_bytes(b, handle, e->handle_len);
	return rfs_mb_pad8(b);
}

void rfs_proto_seal(struct rfs_hdr *h, bool csum)
{
	if (csum) {
		h->flags |= RFS_HF_CSUM;
		h->csum = rfs_proto_csum(h, (uint8_t *)h + RFS_HDR_SIZE);
	} else {
		h->flags &= ~RFS_HF_CSUM;
		h->csum = 0;
	}
}

int rfs_mb_finish(struct rfs_mb *b, bool csum)
{
	if (b->err)
		return b->err;
	if (b->len > RFS_MSG_MAX_LIMIT)
		return -EMSGSIZE;
	rfs_mb_hdr(b)->len = b->len - RFS_HDR_SIZE;
	rfs_proto_seal(rfs_mb_hdr(b), csum);
	return (int)b->len;
}

int rfs_mb_put_groups(struct rfs_mb *b, const uint32_t *gids, uint32_t n)
{
	struct rfs_groups_tail t = { .count = n };
	int ret;

	if (n == 0)
		return 0;
	if (n > RFS_GROUPS_MAX || (rfs_mb_hdr(b)->flags & RFS_HF_GROUPS)) {
		if (!b->err)
			b->err = -EINVAL;
		return -EINVAL;
	}
	ret = rfs_mb_put_bytes(b, gids, 4 * n);
	if (!ret)
		ret = rfs_mb_put_bytes(b, &t, sizeof(t));
	if (!ret)
		rfs_mb_hdr(b)->flags |= RFS_HF_GROUPS;
	return ret;
}

/* the groups block at the end of a request's payload: its size, or -EPROTO */
static int64_t groups_block(const struct rfs_hdr *h, const void *payload,
			    uint32_t *count)
{
	struct rfs_groups_tail t;

	*count = 0;
	if (!(h->flags & RFS_HF_GROUPS))
		return 0;
	if (h->len < sizeof(t))
		return -EPROTO;
	memcpy(&t, (const uint8_t *)payload + h->len - sizeof(t), sizeof(t));
	if (t.count == 0 || t.count > RFS_GROUPS_MAX || t.pad ||
	    h->len - sizeof(t) < 4 * t.count)
		return -EPROTO;
	*count = t.count;
	return 4 * (int64_t)t.count + (int64_t)sizeof(t);
}

uint32_t rfs_proto_strip_groups(struct rfs_hdr *h)
{
	uint32_t n;
	int64_t blk = groups_block(h, (uint8_t *)h + RFS_HDR_SIZE, &n);

	if (blk <= 0)
		return RFS_HDR_SIZE + h->len;
	h->len -= (uint32_t)blk;
	h->flags &= ~RFS_HF_GROUPS;
	return RFS_HDR_SIZE + h->len;
}

uint32_t rfs_proto_group(const struct rfs_req_view *v, uint32_t i)
{
	uint32_t g;

	memcpy(&g, v->groups + 4 * (size_t)i, sizeof(g));
	return g;
}

/* ---- names ------------------------------------------------------------- */

int rfs_proto_check_name(const char *name, uint32_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > RFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return -EINVAL;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	return 0;
}

/* xattr names ("user.foo", "trusted.x/y"): anything but NUL */
static int check_xattr_name(const char *name, uint32_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > RFS_XATTR_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '\0', len))
		return -EINVAL;
	return 0;
}

/* symlink target: opaque to the server, which never follows it */
static int check_target(const char *t, uint32_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len >= RFS_PATH_MAX)
		return -ENAMETOOLONG;
	if (memchr(t, '\0', len))
		return -EINVAL;
	return 0;
}

/* export names: 1..64 of [A-Za-z0-9._-], not "." or ".." */
static int check_export(const char *s, uint32_t len)
{
	uint32_t i;

	if (len == 0)
		return -EINVAL;
	if (len > RFS_EXPORT_NAME_MAX)
		return -ENAMETOOLONG;
	if (s[0] == '.' && (len == 1 || (len == 2 && s[1] == '.')))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return -EINVAL;
	}
	return 0;
}

/* ---- shared field checks ----------------------------------------------- */

/* node ids are server-chosen and never 0 or 1 (doc/semantics.md) */
static bool node_ok(uint64_t id)
{
	return id > 1;
}

static bool off_ok(uint64_t off)
{
	return off <= (uint64_t)INT64_MAX;
}

static bool attr_ok(const struct rfs_attr *a)
{
	return a->atime_ns < NSEC_PER_SEC && a->mtime_ns < NSEC_PER_SEC &&
	       a->ctime_ns < NSEC_PER_SEC;
}

/* a looked-up node: real id, a handle, sane attributes */
static bool entry_ok(const struct rfs_entry *e)
{
	return node_ok(e->nodeid) && e->handle_len >= 1 &&
	       e->handle_len <= RFS_HANDLE_MAX && attr_ok(&e->attr);
}

static bool lock_ok(const struct rfs_lock *l)
{
	return l->type <= RFS_LK_UNLCK && l->start <= l->end;
}

/* the handle of entry e, then zero padding to 8 */
static int take_handle(struct rd *r, const struct rfs_entry *e,
		       struct rfs_rep_view *v)
{
	v->handle = rd_take(r, e->handle_len);
	if (!v->handle || !rd_pad8(r))
		return -EPROTO;
	v->handle_len = e->handle_len;
	return 0;
}

/* 0 for a payload that passed its checks, else -EPROTO */
static int ok_or_eproto(bool ok)
{
	return ok ? 0 : -EPROTO;
}

/* ---- requests ---------------------------------------------------------- */

/*
 * Take a fixed struct of an exact size: the cursor's helper for the many
 * ops whose payload is nothing else.
 */
#define TAKE(r, ptr) ((ptr) = rd_take((r), sizeof(*(ptr))))

/* len bytes of name that end the payload (HELLO, AUTH, NAME, LINK) */
static bool take_last_name(struct rd *r, uint32_t len, struct rfs_req_view *v)
{
	v->name = rd_take(r, len);
	if (!v->name || !rd_done(r))
		return false;
	v->name_len = len;
	return true;
}

/* two names, or a name and a symlink target, that end the payload */
static bool take_last_names(struct rd *r, uint32_t len, uint32_t len2,
			    struct rfs_req_view *v)
{
	v->name = rd_take(r, len);
	v->name2 = rd_take(r, len2);
	if (!v->name || !v->name2 || !rd_done(r))
		return false;
	v->name_len = len;
	v->name2_len = len2;
	return true;
}

static int dec_hello(struct rd *r, struct rfs_req_view *v)
{
	const struct rfs_hello_req *q;

	if (!TAKE(r, q))
		return -EPROTO;
	/* unknown feature bits are fine: a newer client, HELLO intersects */
	if (q->max_msg < MSG_MIN || q->max_inflight == 0 ||
	    !take_last_name(r, q->export_len, v))
		return -EPROTO;
	v->fixed = q;
	return check_export(v->name, v->name_len);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* AUTH: CHALLENGE carries a nonce and the export name, PROVE a mac only */
static int dec_auth(struct rd *r, struct rfs_req_view *v)
{
	const struct rfs_auth_req *q;

	if (!TAKE(r, q) || q->pad)
		return -EPROTO;
	v->fixed = q;
	if (q->step == RFS_AUTH_PROVE) {
		if (q->export_len || !all_zero(q->nonce, sizeof(q->nonce)) ||
		    !rd_done(r))
			return -EPROTO;
		return 0;
	}
	if (q->step != RFS_AUTH_CHALLENGE ||
	    !all_zero(q->mac, sizeof(q->mac)) ||
	    !take_last_name(r, q->export_len, v))
		return -EPROTO;
	return check_export(v->name, v->name_len);
}

static int dec_resolve(struct rd *r, struct rfs_req_view *v)
{
	const struct rfs_resolve_req *q;

	if (!TAKE(r, q))
		return -EPROTO;
	if (!node_ok(q->nodeid) || q->handle_len == 0 ||
	    q->handle_len > RFS_HANDLE_MAX)
		return -EPROTO;
	v->data = rd_take(r, q->handle_len);
	if (!v->data)
		return -EPROTO;
	/* the handle is the last thing: padding to 8 is allowed, not more */
	if (!rd_done(r) && (!rd_pad8(r) || !rd_done(r)))
		return -EPROTO;
	v->data_len = q->handle_len;
	v->fixed = q;
	return 0;
}

static int dec_name(struct rd *r, struct rfs_req_view *v)
{
	const struct rfs_name_req *q;

	if (!TAKE(r, q) || !node_ok(q->parent) ||
	    !take_last_name(r, q->name_len, v))
		return -EPROTO;
	v->fixed = q;
	return rfs_proto_check_name(v->name, v->name_len);
}

static int dec_forget(struct rd *r, struct rfs_req_view *v)
{
	const struct rfs_forget_req *q;
	const struct rfs_forget_one *f;
	uint32_t i;

	if (!TAKE(r, q))
		return -EPROTO;
	if (q->count == 0 || q->count > RFS_FORGET_MAX)
		return -EPROTO;
	f = rd_take(r, q->count * (uint32_t)sizeof(*f));
	if (!f || !rd_done(r))
		return -EPROTO;
	for (i = 0; i < q->count; i++)
		if (!node_ok(f[i].nodeid))
			return -EPROTO;
	v->forgets = f;
	v->nforget = q->count;
	v->fixed = q;
	return 0;
}

/*
 * The field checks of the requests that are one struct, node id first:
 * dec_node() takes the struct and checks the node, then one of these.
 */
static bool setattr_ok(const struct rfs_setattr_req *q)
{
	return !(q->valid & ~RFS_SA_KNOWN) && q->atime_ns < NSEC_PER_SEC &&
	       q->mtime_ns < NSEC_PER_SEC &&
	       (!(q->valid & RFS_SA_SIZE) || off_ok(q->size));
}

static int dec_make(struct rd *r, uint16_t op, struct rfs_req_view *v)
{
	const struct rfs_make_req *q;
	int ret;

	if (!TAKE(r, q) || !node_ok(q->parent))
		return -EPROTO;
	if (op != RFS_OP_SYMLINK && q->target_len != 0)
		return -EPROTO;
	if ((q->want & ~RFS_WANT_KNOWN) || (op != RFS_OP_CREATE && q->want))
		return -EPROTO;
	if (!take_last_names(r, q->name_len, q->target_len, v))
		return -EPROTO;
	v->fixed = q;
	if (op != RFS_OP_SYMLINK)
		v->name2 = NULL;
	ret = rfs_proto_check_name(v->name, v->name_len);
	if (ret == 0 && op == RFS_OP_SYMLINK)
		ret = check_target(v->name2, v->name2_len);
	return ret;
}

static int dec_rename(struct rd *r, struct rfs_req_view *v)
{
	const struct rfs_rename_req *q;
	const uint32_t known = RFS_RENAME_NOREPLACE | RFS_RENAME_EXCHANGE |
			       RFS_RENAME_WHITEOUT;
	int ret;

	if (!TAKE(r, q) || !node_ok(q->parent) || !node_ok(q->newparent))
		return -EPROTO;
	if (q->flags & ~known)
		return -EPROTO;
	/* as renameat2(2): EXCHANGE combines with neither of the others */
	if ((q->flags & RFS_RENAME_EXCHANGE) &&
	    (q->flags & (RFS_RENAME_NOREPLACE | RFS_RENAME_WHITEOUT)))
		return -EPROTO;
	if (!take_last_names(r, q->name_len, q->newname_len, v))
		return -EPROTO;
	v->fixed = q;
	ret = rfs_proto_check_name(v->name, v->name_len);
	if (ret == 0)
		ret = rfs_proto_check_name(v->name2, v->name2_len);
	return ret;
}

static int dec_link(struct rd *r, struct rfs_req_view *v)
{
	const struct rfs_link_req *q;

	if (!TAKE(r, q) || !node_ok(q->nodeid) || !node_ok(q->newparent) ||
	    !take_last_name(r, q->name_len, v))
		return -EPROTO;
	v->fixed = q;
	return rfs_proto_check_name(v->name, v->name_len);
}

static int dec_io(struct rd *r, uint16_t op, struct rfs_req_view *v)
{
	const struct rfs_io_req *q;

	if (!TAKE(r, q) || !node_ok(q->nodeid) || q->size > RFS_IO_MAX)
		return -EPROTO;
	/* readdir cookies are opaque; file offsets are loff_t */
	if (op != RFS_OP_READDIRPLUS && !off_ok(q->offset))
		return -EPROTO;
	if (op == RFS_OP_WRITE) {
		if (q->flags & ~RFS_WRITE_KILL_PRIV)
			return -EPROTO;
		v->data = rd_take(r, q->size);
		if (!v->data)
			return -EPROTO;
		v->data_len = q->size;
	}
	if (!rd_done(r))
		return -EPROTO;
	v->fixed = q;
	return 0;
}

static int dec_xattr(struct rd *r, uint16_t op, struct rfs_req_view *v)
{
	const struct rfs_xattr_req *q;

	if (!TAKE(r, q) || !node_ok(q->nodeid))
		return -EPROTO;
	if (q->size > RFS_XATTR_SIZE_MAX)
		return -EPROTO;
	if (op == RFS_OP_SETXATTR && (q->flags & ~XATTR_FLAGS_KNOWN))
		return -EPROTO;
	if (op == RFS_OP_LISTXATTR) {
		if (q->name_len != 0 || !rd_done(r))
			return -EPROTO;
		v->fixed = q;
		return 0;
	}
	v->name = rd_take(r, q->name_len);
	if (!v->name)
		return -EPROTO;
	v->name_len = q->name_len;
	if (op == RFS_OP_SETXATTR) {
		v->data = rd_take(r, q->size);
		if (!v->data)
			return -EPROTO;
		v->data_len = q->size;
	}
	if (!rd_done(r))
		return -EPROTO;
	v->fixed = q;
	return check_xattr_name(v->name, v->name_len);
}

static bool lock_req_ok(const struct rfs_lock_req *q, uint16_t op)
{
	uint32_t kind = q->flags & (FLOCK_SH | FLOCK_EX | FLOCK_UN);

	if (!lock_ok(&q->lock))
		return false;
	if (op != RFS_OP_FLOCK)
		return !(q->flags & ~RFS_LK_WAIT);
	/* flock(2) operation: one of SH/EX/UN, maybe NB */
	return !(q->flags & ~(FLOCK_SH | FLOCK_EX | FLOCK_UN | FLOCK_NB)) &&
	       (kind == FLOCK_SH || kind == FLOCK_EX || kind == FLOCK_UN);
}

/* exactly the op's struct (its optab req_size), nothing to check */
static int dec_fixed(struct rd *r, const struct rfs_opinfo *oi,
		     struct rfs_req_view *v)
{
	v->fixed = rd_take(r, oi->req_size);
	return v->fixed && rd_done(r) ? 0 : -EPROTO;
}

/* the same, and the struct starts with a node id (rfs_node_req, ...) */
static int dec_node(struct rd *r, const struct rfs_opinfo *oi,
		    struct rfs_req_view *v)
{
	if (oi->req_size < sizeof(uint64_t) || dec_fixed(r, oi, v) ||
	    !node_ok(*(const uint64_t *)v->fixed))
		return -EPROTO;
	return 0;
}

static bool fh_ok(const struct rfs_fh_req *q)
{
	return !(q->flags & ~(RFS_FSYNC_DATASYNC | RFS_RELEASE_FLOCK_UNLOCK));
}

static bool access_ok(const struct rfs_access_req *q)
{
	return !(q->mask & ~ACCESS_KNOWN);
}

static bool fallocate_ok(const struct rfs_fallocate_req *q)
{
	return off_ok(q->offset) && off_ok(q->length) &&
	       q->length <= (uint64_t)INT64_MAX - q->offset;
}

/* dec_node() checked nodeid_in, the first field */
static bool copy_ok(const struct rfs_copy_req *q)
{
	return node_ok(q->nodeid_out) && off_ok(q->off_in) &&
	       off_ok(q->off_out);
}

static bool lseek_ok(const struct rfs_lseek_req *q)
{
	return q->whence <= SEEK_WHENCE_MAX;
}

/* opaque bytes (PING), as many as the op's optab req_max */
static int dec_bytes(struct rd *r, const struct rfs_opinfo *oi,
		     struct rfs_req_view *v)
{
	if (r->len > oi->req_max)
		return -EPROTO;
	v->data = r->p;
	v->data_len = r->len;
	return 0;
}

int rfs_proto_decode_req(const struct rfs_hdr *h, const void *payload,
			 struct rfs_req_view *v)
{
	const struct rfs_opinfo *oi = rfs_op_info(h->opcode);
	struct rd r;
	uint16_t op = h->opcode;
	int64_t gblk;

	memset(v, 0, sizeof(*v));
	v->op = op;
	if (h->flags & (RFS_HF_REPLY | RFS_HF_UNKNOWN_NODE))
		return -EPROTO;
	if (h->len > RFS_MSG_MAX_LIMIT - RFS_HDR_SIZE)
		return -EPROTO;
	/* our invariant (transports align frames), not the peer's fault */
	if (h->len && ((uintptr_t)payload & 7))
		return -EINVAL;
	if (!oi)
		return -EPROTO;
	/* the groups at the end (1.2); the op's body is what is before them */
	gblk = groups_block(h, payload, &v->ngroups);
	if (gblk < 0)
		return -EPROTO;
	if (v->ngroups)
		v->groups = (const uint8_t *)payload + h->len - gblk;
	rd_init(&r, payload, h->len - (uint32_t)gblk);

	/* by the body's shape (optab.h); no default: -Wswitch checks */
	switch ((enum rfs_req_body)oi->req) {
	case RFS_RQ_NONE:
	case RFS_RQ_MAX_:
		break;
	case RFS_RQ_EMPTY:
		return r.len == 0 ? 0 : -EPROTO;
	case RFS_RQ_BYTES:
		return dec_bytes(&r, oi, v);
	case RFS_RQ_FIXED:
		return dec_fixed(&r, oi, v);
	case RFS_RQ_NODE:
		return dec_node(&r, oi, v);
	case RFS_RQ_HELLO:
		return dec_hello(&r, v);
	case RFS_RQ_AUTH:
		return dec_auth(&r, v);
	case RFS_RQ_RESOLVE:
		return dec_resolve(&r, v);
	case RFS_RQ_NAME:
		return dec_name(&r, v);
	case RFS_RQ_FORGET:
		return dec_forget(&r, v);
	case RFS_RQ_SETATTR:
		return ok_or_eproto(!dec_node(&r, oi, v) &&
				    setattr_ok(v->fixed));
	case RFS_RQ_MAKE:
		return dec_make(&r, op, v);
	case RFS_RQ_RENAME:
		return dec_rename(&r, v);
	case RFS_RQ_LINK:
		return dec_link(&r, v);
	case RFS_RQ_IO:
		return dec_io(&r, op, v);
	case RFS_RQ_FH:
		return ok_or_eproto(!dec_node(&r, oi, v) && fh_ok(v->fixed));
	case RFS_RQ_ACCESS:
		return ok_or_eproto(!dec_node(&r, oi, v) &&
				    access_ok(v->fixed));
	case RFS_RQ_XATTR:
		return dec_xattr(&r, op, v);
	case RFS_RQ_LOCK:
		return ok_or_eproto(!dec_node(&r, oi, v) &&
				    lock_req_ok(v->fixed, op));
	case RFS_RQ_FALLOCATE:
		return ok_or_eproto(!dec_node(&r, oi, v) &&
				    fallocate_ok(v->fixed));
	case RFS_RQ_COPY:
		return ok_or_eproto(!dec_node(&r, oi, v) && copy_ok(v->fixed));
	case RFS_RQ_LSEEK:
		return ok_or_eproto(!dec_node(&r, oi, v) && lseek_ok(v->fixed));
	}
	return -EPROTO;
}

/* ---- replies ----------------------------------------------------------- */

uint32_t rfs_proto_dirent_size(uint32_t name_len, uint32_t handle_len)
{
	uint64_t n =
		(uint64_t)sizeof(struct rfs_dirent) + name_len + handle_len;

	if (n > UINT32_MAX - 7)
		return UINT32_MAX & ~7u;
	return round8((uint32_t)n);
}

static bool dt_ok(uint8_t type)
{
	/* DT_UNKNOWN, FIFO, CHR, DIR, BLK, REG, LNK, SOCK, WHT */
	return type <= 14 && (type == 1 || (type & 1) == 0);
}

int rfs_proto_dirent_next(const void *payload, uint32_t len, uint32_t *pos,
			  struct rfs_dirent_view *out)
{
	struct rd r;
	const struct rfs_dirent *d;
	const struct rfs_entry *e;
	const char *name;
	const void *handle;
	bool dot;

	if (*pos == len)
		return 0;
	if (*pos > len || (*pos & 7) || ((uintptr_t)payload & 7))
		return -EPROTO;
	rd_init(&r, payload, len);
	r.pos = *pos;
	if (!TAKE(&r, d))
		return -EPROTO;
	e = &d->entry;
	if (e->handle_len > RFS_HANDLE_MAX || !dt_ok(d->type))
		return -EPROTO;
	name = rd_take(&r, d->name_len);
	handle = rd_take(&r, e->handle_len);
	if (!name || !handle || !rd_pad8(&r))
		return -EPROTO;

	dot = d->name_len >= 1 && d->name_len <= 2 && name[0] == '.' &&
	      name[d->name_len - 1] == '.';
	if (e->nodeid == 0) {
		/* not looked up ("." / ".."): no handle, no reference */
		if (e->handle_len != 0)
			return -EPROTO;
		if (!dot && rfs_proto_check_name(name, d->name_len))
			return -EPROTO;
	} else {
		if (!entry_ok(e) || rfs_proto_check_name(name, d->name_len))
			return -EPROTO;
	}
	out->d = d;
	out->name = name;
	out->handle = e->handle_len ? handle : NULL;
	*pos = r.pos;
	return 1;
}

/* READDIRPLUS records, up to the op's optab rep_max bytes */
static int rep_dirents(struct rd *r, const struct rfs_opinfo *oi,
		       struct rfs_rep_view *v)
{
	struct rfs_dirent_view dv;
	uint32_t pos = 0;
	int ret;

	if (r->len > oi->rep_max)
		return -EPROTO;
	while ((ret = rfs_proto_dirent_next(r->p, r->len, &pos, &dv)) > 0)
		;
	if (ret)
		return -EPROTO;
	v->data = r->p;
	v->data_len = r->len;
	return 0;
}

static int rep_error(const struct rfs_hdr *h, struct rd *r,
		     struct rfs_rep_view *v)
{
	const struct rfs_unknown_node *u;

	if (h->status < -ERRNO_MAX)
		return -EPROTO;
	if (!(h->flags & RFS_HF_UNKNOWN_NODE))
		return rd_done(r) ? 0 : -EPROTO;
	if (h->status != -ESTALE || !TAKE(r, u) || !rd_done(r) ||
	    !node_ok(u->nodeid))
		return -EPROTO;
	v->fixed = u;
	return 0;
}

static int rep_hello(struct rd *r, struct rfs_rep_view *v)
{
	const struct rfs_hello_rep *p;
	uint32_t ids;

	if (!TAKE(r, p))
		return -EPROTO;
	if (p->features & ~RFS_FEAT_KNOWN)
		return -EPROTO;
	if (p->max_msg < MSG_MIN || p->max_msg > RFS_MSG_MAX_LIMIT ||
	    p->max_inflight == 0 || (p->export_flags & ~RFS_EXPF_KNOWN))
		return -EPROTO;
	/* identity bits: one at most, and only when negotiated */
	ids = p->export_flags & RFS_EXPF_IDS;
	if ((ids & (ids - 1)) || (ids && !(p->features & RFS_FEAT_IDS)))
		return -EPROTO;
	if (!entry_ok(&p->root) || take_handle(r, &p->root, v) || !rd_done(r))
		return -EPROTO;
	v->fixed = p;
	return 0;
}

static int rep_entry(struct rd *r, struct rfs_rep_view *v)
{
	const struct rfs_entry *e;

	if (!TAKE(r, e) || !entry_ok(e) || take_handle(r, e, v) || !rd_done(r))
		return -EPROTO;
	v->fixed = e;
	return 0;
}

static int rep_create(struct rd *r, struct rfs_rep_view *v)
{
	const struct rfs_create_rep *c;

	if (!TAKE(r, c) || (c->open_flags & ~RFS_OPEN_KNOWN) ||
	    !entry_ok(&c->entry) || take_handle(r, &c->entry, v) || !rd_done(r))
		return -EPROTO;
	v->fixed = c;
	return 0;
}

/* opaque bytes (PING, READ), up to the op's optab rep_max */
static int rep_bytes(struct rd *r, const struct rfs_opinfo *oi,
		     struct rfs_rep_view *v)
{
	if (r->len > oi->rep_max)
		return -EPROTO;
	v->data = r->p;
	v->data_len = r->len;
	return 0;
}

/* READLINK: the target itself */
static int rep_target(struct rd *r, struct rfs_rep_view *v)
{
	if (check_target((const char *)r->p, r->len))
		return -EPROTO;
	v->data = r->p;
	v->data_len = r->len;
	return 0;
}

/* PATHS: fixed part, Unix path, RDMA address; no NUL in either */
static int rep_paths(struct rd *r, struct rfs_rep_view *v)
{
	const struct rfs_paths_rep *p;
	const char *u, *a;

	if (!TAKE(r, p) || !p->instance || p->unix_len > RFS_PATHS_UNIX_MAX ||
	    p->rdma_len > RFS_PATHS_RDMA_MAX)
		return -EPROTO;
	u = rd_take(r, p->unix_len);
	a = rd_take(r, p->rdma_len);
	if (!u || !a || !rd_done(r) || memchr(u, 0, p->unix_len) ||
	    memchr(a, 0, p->rdma_len))
		return -EPROTO;
	v->fixed = p;
	v->data = u;
	v->data_len = p->unix_len;
	v->handle = a; /* the RDMA address, rdma_len bytes */
	v->handle_len = p->rdma_len;
	return 0;
}

static int rep_xattr(struct rd *r, struct rfs_rep_view *v)
{
	const struct rfs_xattr_rep *x;

	if (!TAKE(r, x) || x->size > RFS_XATTR_SIZE_MAX)
		return -EPROTO;
	/* either the value/list itself, or (size query) nothing */
	if (!rd_done(r)) {
		v->data = rd_take(r, x->size);
		if (!v->data || !rd_done(r))
			return -EPROTO;
		v->data_len = x->size;
	}
	v->fixed = x;
	return 0;
}

/* exactly the op's reply struct (its optab rep_size) */
static const void *take_rep(struct rd *r, const struct rfs_opinfo *oi,
			    struct rfs_rep_view *v)
{
	const void *p = rd_take(r, oi->rep_size);

	if (!p || !rd_done(r))
		return NULL;
	v->fixed = p;
	return p;
}

/* the field checks of replies that are one struct, after take_rep() */
static bool open_rep_ok(const struct rfs_open_rep *o)
{
	return !(o->open_flags & ~RFS_OPEN_KNOWN);
}

static bool lseek_rep_ok(const struct rfs_lseek_rep *l)
{
	return l->offset >= 0;
}

static int rep_write(struct rd *r, struct rfs_rep_view *v)
{
	const struct rfs_write_rep *w;

	if (!TAKE(r, w) || !rd_done(r) || w->written > RFS_IO_MAX)
		return -EPROTO;
	v->fixed = w;
	return 0;
}

int rfs_proto_decode_rep(const struct rfs_hdr *h, const void *payload,
			 uint16_t op, struct rfs_rep_view *v)
{
	const struct rfs_opinfo *oi;
	struct rd r;

	memset(v, 0, sizeof(*v));
	if (!(h->flags & RFS_HF_REPLY) || h->opcode != op)
		return -EPROTO;
	if (h->len > RFS_MSG_MAX_LIMIT - RFS_HDR_SIZE)
		return -EPROTO;
	if (h->len && ((uintptr_t)payload & 7))
		return -EINVAL;
	rd_init(&r, payload, h->len);

	if (h->status > 0)
		return -EPROTO;
	if (h->status < 0)
		return rep_error(h, &r, v);
	if (h->flags & RFS_HF_UNKNOWN_NODE)
		return -EPROTO;
	oi = rfs_op_info(op);
	if (!oi)
		return -EPROTO;

	/* by the body's shape (optab.h); no default: -Wswitch checks */
	switch ((enum rfs_rep_body)oi->rep) {
	case RFS_RP_NONE: /* FORGET has no reply */
	case RFS_RP_MAX_:
		break;
	case RFS_RP_EMPTY:
		return rd_done(&r) ? 0 : -EPROTO;
	case RFS_RP_BYTES:
		return rep_bytes(&r, oi, v);
	case RFS_RP_FIXED:
		return take_rep(&r, oi, v) ? 0 : -EPROTO;
	case RFS_RP_TARGET:
		return rep_target(&r, v);
	case RFS_RP_HELLO:
		return rep_hello(&r, v);
	case RFS_RP_PATHS:
		return rep_paths(&r, v);
	case RFS_RP_ATTR:
		return ok_or_eproto(take_rep(&r, oi, v) && attr_ok(v->fixed));
	case RFS_RP_ENTRY:
		return rep_entry(&r, v);
	case RFS_RP_CREATE:
		return rep_create(&r, v);
	case RFS_RP_OPEN:
		return ok_or_eproto(take_rep(&r, oi, v) &&
				    open_rep_ok(v->fixed));
	case RFS_RP_WRITE:
		return rep_write(&r, v);
	case RFS_RP_DIRENTS:
		return rep_dirents(&r, oi, v);
	case RFS_RP_XATTR:
		return rep_xattr(&r, v);
	case RFS_RP_LOCK:
		return ok_or_eproto(take_rep(&r, oi, v) && lock_ok(v->fixed));
	case RFS_RP_LSEEK:
		return ok_or_eproto(take_rep(&r, oi, v) &&
				    lseek_rep_ok(v->fixed));
	}
	return -EPROTO;
}

/* ---- notifications ----------------------------------------------------- */

int rfs_proto_build_notify(void *frame, uint32_t cap, uint32_t kind,
			   uint64_t nodeid, uint64_t parent, const char *name,
			   uint32_t name_len, bool csum)
{
	struct rfs_mb b;
	struct rfs_notify *n;
	bool entry = kind == RFS_NOTIFY_ENTRY;

	if ((kind != RFS_NOTIFY_INODE && !entry) ||
	    (entry ? !node_ok(parent) || (nodeid && !node_ok(nodeid)) ||
			     rfs_proto_check_name(name, name_len) :
		     !node_ok(nodeid) || parent || name_len))
		return -EINVAL;
	rfs_mb_init(&b, frame, cap, RFS_NOTIFY_OPCODE, 0);
	n = rfs_mb_put(&b, sizeof(*n));
	if (n) {
		n->nodeid = nodeid;
		n->parent = parent;
		n->kind = kind;
		n->name_len = (uint16_t)name_len;
	}
	rfs_mb_put_bytes(&b, name, name_len);
	if (b.err)
		return b.err;
	rfs_mb_hdr(&b)->flags = RFS_HF_NOTIFY;
	return rfs_mb_finish(&b, csum);
}

int rfs_proto_decode_notify(const struct rfs_hdr *h, const void *payload,
			    struct rfs_notify_view *v)
{
	const struct rfs_notify *n;
	struct rd r;
	int ret;

	if (!(h->flags & RFS_HF_NOTIFY) || h->opcode != RFS_NOTIFY_OPCODE ||
	    (h->flags & ~(RFS_HF_NOTIFY | RFS_HF_CSUM)) || h->id || h->status)
		return -EPROTO;
	rd_init(&r, payload, h->len);
	if (!TAKE(&r, n) || n->pad)
		return -EPROTO;
	memset(v, 0, sizeof(*v));
	v->kind = n->kind;
	v->nodeid = n->nodeid;
	v->parent = n->parent;
	switch (n->kind) {
	case RFS_NOTIFY_INODE:
		if (!node_ok(n->nodeid) || n->parent || n->name_len ||
		    !rd_done(&r))
			return -EPROTO;
		return 0;
	case RFS_NOTIFY_ENTRY:
		if (!node_ok(n->parent) || (n->nodeid && !node_ok(n->nodeid)))
			return -EPROTO;
		v->name = rd_take(&r, n->name_len);
		if (!v->name || !rd_done(&r))
			return -EPROTO;
		v->name_len = n->name_len;
		ret = rfs_proto_check_name(v->name, v->name_len);
		return ret;
	default:
		return -EPROTO;
	}
}
