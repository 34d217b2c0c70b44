// SPDX-License-Identifier: MIT
/*
 * frames: canonical valid frames of every opcode (see frames.h).
 */
#include <errno.h>
#include <string.h>

#include "frames.h"

void rfs_tf_handle(uint8_t *p)
{
	uint32_t i;

	for (i = 0; i < TF_HANDLE_LEN; i++)
		p[i] = (uint8_t)(0xa0 + i);
}

void rfs_tf_data(uint8_t *p, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + 3);
}

void rfs_tf_entry(struct rfs_entry *e, uint64_t nodeid)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid;
	e->generation = 7;
	e->attr.ino = 4242;
	e->attr.size = 12345;
	e->attr.blocks = 24;
	e->attr.atime = 1700000000;
	e->attr.mtime = 1700000001;
	e->attr.ctime = 1700000002;
	e->attr.atime_ns = 999999999;
	e->attr.mode = 0100644;
	e->attr.nlink = 1;
	e->attr.uid = 1000;
	e->attr.gid = 1000;
	e->attr.blksize = 4096;
	e->handle_len = TF_HANDLE_LEN;
}

static void put_handle(struct rfs_mb *b)
{
	uint8_t h[TF_HANDLE_LEN];

	rfs_tf_handle(h);
	rfs_mb_put_bytes(b, h, sizeof(h));
	rfs_mb_pad8(b);
}

static void put_name(struct rfs_mb *b, const char *s)
{
	rfs_mb_put_bytes(b, s, (uint32_t)strlen(s));
}

static void put_data(struct rfs_mb *b, uint32_t n)
{
	uint8_t *p = rfs_mb_put(b, n);

	if (p)
		rfs_tf_data(p, n);
}

int rfs_tf_req(uint16_t op, void *buf, uint32_t cap)
{
	struct rfs_mb b;
	uint32_t i;

	rfs_mb_init(&b, buf, cap, op, TF_ID);
	if (b.err)
		return b.err;
	rfs_mb_hdr(&b)->uid = 1000;
	rfs_mb_hdr(&b)->gid = 100;
	rfs_mb_hdr(&b)->pid = 4321;

	switch (op) {
	case RFS_OP_HELLO: {
		struct rfs_hello_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->features = RFS_FEAT_CSUM;
		q->max_msg = RFS_MSG_MAX_DEFAULT;
		q->export_len = (uint16_t)strlen(TF_EXPORT);
		q->max_inflight = 64;
		put_name(&b, TF_EXPORT);
		break;
	}
	case RFS_OP_ATTACH: {
		struct rfs_attach_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->session = 99;
		memset(q->token, 0x3c, sizeof(q->token));
		break;
	}
	case RFS_OP_RESUME: {
		struct rfs_resume_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->session = 98;
		memset(q->token, 0x3d, sizeof(q->token));
		break;
	}
	case RFS_OP_AUTH: {
		struct rfs_auth_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->step = RFS_AUTH_CHALLENGE;
		q->export_len = (uint16_t)strlen(TF_EXPORT);
		memset(q->nonce, 0x5b, sizeof(q->nonce));
		put_name(&b, TF_EXPORT);
		break;
	}
	case RFS_OP_PING:
		put_data(&b, TF_DATA_LEN);
		break;
	case RFS_OP_BYE:
	case RFS_OP_STATS:
	case RFS_OP_PATHS:
		break;
	case RFS_OP_RESOLVE: {
		struct rfs_resolve_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->handle_len = TF_HANDLE_LEN;
		put_handle(&b);
		break;
	}
	case RFS_OP_LOOKUP:
	case RFS_OP_UNLINK:
	case RFS_OP_RMDIR: {
		struct rfs_name_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->parent = TF_NODE;
		q->name_len = (uint16_t)strlen(TF_NAME);
		put_name(&b, TF_NAME);
		break;
	}
	case RFS_OP_FORGET: {
		struct rfs_forget_req *q = rfs_mb_put(&b, sizeof(*q));
		struct rfs_forget_one *f;

		if (!q)
			break;
		q->count = TF_NFORGET;
		for (i = 0; i < TF_NFORGET; i++) {
			f = rfs_mb_put(&b, sizeof(*f));
			if (!f)
				break;
			f->nodeid = TF_NODE + i;
			f->nlookup = i + 1;
		}
		break;
	}
	case RFS_OP_GETATTR:
	case RFS_OP_READLINK:
	case RFS_OP_STATFS: {
		struct rfs_node_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->fh = TF_FH;
		break;
	}
	case RFS_OP_SETATTR: {
		struct rfs_setattr_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->valid = RFS_SA_MODE | RFS_SA_SIZE | RFS_SA_ATIME |
			   RFS_SA_MTIME_NOW;
		q->mode = 0600;
		q->size = 1u << 30;
		q->atime = 1600000000;
		q->atime_ns = 999999999;
		break;
	}
	case RFS_OP_SYMLINK:
	case RFS_OP_MKNOD:
	case RFS_OP_MKDIR:
	case RFS_OP_CREATE: {
		struct rfs_make_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->parent = TF_NODE;
		q->mode = op == RFS_OP_MKDIR ? 040755 : 0100644;
		q->umask = 022;
		q->flags = op == RFS_OP_CREATE ? 0102 : 0;
		q->name_len = (uint16_t)strlen(TF_NAME);
		if (op == RFS_OP_SYMLINK)
			q->target_len = (uint16_t)strlen(TF_TARGET);
		put_name(&b, TF_NAME);
		if (op == RFS_OP_SYMLINK)
			put_name(&b, TF_TARGET);
		break;
	}
	case RFS_OP_RENAME: {
		struct rfs_rename_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->parent = TF_NODE;
		q->newparent = TF_NODE2;
		q->flags = RFS_RENAME_NOREPLACE;
		q->name_len = (uint16_t)strlen(TF_NAME);
		q->newname_len = (uint16_t)strlen(TF_NAME2);
		put_name(&b, TF_NAME);
		put_name(&b, TF_NAME2);
		break;
	}
	case RFS_OP_LINK: {
		struct rfs_link_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->newparent = TF_NODE2;
		q->name_len = (uint16_t)strlen(TF_NAME2);
		put_name(&b, TF_NAME2);
		break;
	}
	case RFS_OP_OPEN:
	case RFS_OP_OPENDIR: {
		struct rfs_open_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->flags = 02;
		break;
	}
	case RFS_OP_READ:
	case RFS_OP_WRITE:
	case RFS_OP_READDIRPLUS: {
		struct rfs_io_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->fh = TF_FH;
		q->offset = 1u << 20;
		q->size = op == RFS_OP_WRITE ? TF_DATA_LEN : 65536;
		q->lock_owner = 77;
		if (op == RFS_OP_WRITE) {
			q->flags = RFS_WRITE_KILL_PRIV;
			put_data(&b, TF_DATA_LEN);
		}
		break;
	}
	case RFS_OP_FLUSH:
	case RFS_OP_RELEASE:
	case RFS_OP_FSYNC:
	case RFS_OP_RELEASEDIR:
	case RFS_OP_FSYNCDIR: {
		struct rfs_fh_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->fh = TF_FH;
		q->lock_owner = 77;
		q->flags = op == RFS_OP_FSYNC ? RFS_FSYNC_DATASYNC : 0;
		break;
	}
	case RFS_OP_ACCESS: {
		struct rfs_access_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->mask = 4 | 1;
		break;
	}
	case RFS_OP_SETXATTR:
	case RFS_OP_GETXATTR:
	case RFS_OP_LISTXATTR:
	case RFS_OP_REMOVEXATTR: {
		struct rfs_xattr_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->size = op == RFS_OP_SETXATTR ? TF_DATA_LEN : 4096;
		q->flags = op == RFS_OP_SETXATTR ? 1 : 0;
		if (op == RFS_OP_LISTXATTR)
			break;
		q->name_len = (uint16_t)strlen(TF_XNAME);
		put_name(&b, TF_XNAME);
		if (op == RFS_OP_SETXATTR)
			put_data(&b, TF_DATA_LEN);
		break;
	}
	case RFS_OP_GETLK:
	case RFS_OP_SETLK:
	case RFS_OP_FLOCK: {
		struct rfs_lock_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->fh = TF_FH;
		q->owner = 77;
		if (op == RFS_OP_FLOCK) {
			q->flags = 2 | 4; /* LOCK_EX | LOCK_NB */
			break;
		}
		q->flags = op == RFS_OP_SETLK ? RFS_LK_WAIT : 0;
		q->lock.start = 100;
		q->lock.end = UINT64_MAX;
		q->lock.type = RFS_LK_WRLCK;
		q->lock.pid = 4321;
		break;
	}
	case RFS_OP_FALLOCATE: {
		struct rfs_fallocate_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->fh = TF_FH;
		q->offset = 4096;
		q->length = 8192;
		q->mode = 1;
		break;
	}
	case RFS_OP_COPY_FILE_RANGE: {
		struct rfs_copy_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid_in = TF_NODE;
		q->fh_in = TF_FH;
		q->off_in = 10;
		q->nodeid_out = TF_NODE2;
		q->fh_out = TF_FH + 1;
		q->off_out = 20;
		q->len = 1u << 20;
		break;
	}
	case RFS_OP_LSEEK: {
		struct rfs_lseek_req *q = rfs_mb_put(&b, sizeof(*q));

		if (!q)
			break;
		q->nodeid = TF_NODE;
		q->fh = TF_FH;
		q->offset = 5000;
		q->whence = 3; /* SEEK_DATA */
		break;
	}
	default:
		return -EINVAL;
	}
	return rfs_mb_finish(&b, true);
}

static void put_dirents(struct rfs_mb *b)
{
	static const char *const names[TF_NDIRENT] = { ".", "..", TF_NAME,
						       TF_NAME2 };
	struct rfs_entry e;
	uint8_t h[TF_HANDLE_LEN];
	uint32_t i;

	rfs_tf_handle(h);
	for (i = 0; i < TF_NDIRENT; i++) {
		if (i < 2)
			memset(&e, 0, sizeof(e));
		else
			rfs_tf_entry(&e, TF_NODE + i);
		if (rfs_mb_put_dirent(b, i + 1, i < 2 ? 4 : 8, &e, names[i],
				      (uint16_t)strlen(names[i]), h))
			b->err = -EMSGSIZE;
	}
}

int rfs_tf_rep(uint16_t op, void *buf, uint32_t cap)
{
	struct rfs_hdr req;
	struct rfs_mb b;

	if (op == RFS_OP_FORGET || !rfs_proto_op_known(op))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.opcode = op;
	req.id = TF_ID;
	rfs_mb_reply(&b, buf, cap, &req, 0);
	if (b.err)
		return b.err;

	switch (op) {
	case RFS_OP_HELLO: {
		struct rfs_hello_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (!p)
			break;
		p->features = RFS_FEAT_CSUM;
		p->session = 99;
		memset(p->token, 0x3c, sizeof(p->token));
		p->max_msg = RFS_MSG_MAX_DEFAULT;
		p->max_inflight = 64;
		p->export_flags = RFS_EXPF_RO;
		rfs_tf_entry(&p->root, TF_NODE);
		p->root.attr.mode = 040755;
		put_handle(&b);
		break;
	}
	case RFS_OP_PING:
	case RFS_OP_READ:
		put_data(&b, TF_DATA_LEN);
		break;
	case RFS_OP_READLINK:
		put_name(&b, TF_TARGET);
		break;
	case RFS_OP_STATS: {
		struct rfs_stats_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (p)
			p->requests = 12;
		break;
	}
	case RFS_OP_AUTH: {
		struct rfs_auth_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (p)
			memset(p->nonce, 0x6c, sizeof(p->nonce));
		break;
	}
	case RFS_OP_RESUME: {
		struct rfs_resume_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (p)
			p->replies = 3;
		break;
	}
	case RFS_OP_PATHS: {
		struct rfs_paths_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (!p)
			break;
		p->instance = 77;
		p->unix_len = (uint16_t)strlen(TF_EXPORT);
		p->rdma_len = (uint16_t)strlen(TF_NAME);
		rfs_mb_put_bytes(&b, TF_EXPORT, p->unix_len);
		rfs_mb_put_bytes(&b, TF_NAME, p->rdma_len);
		break;
	}
	case RFS_OP_RESOLVE:
	case RFS_OP_GETATTR:
	case RFS_OP_SETATTR: {
		struct rfs_entry e;
		struct rfs_attr *p = rfs_mb_put(&b, sizeof(*p));

		rfs_tf_entry(&e, TF_NODE);
		if (p)
			*p = e.attr;
		break;
	}
	case RFS_OP_LOOKUP:
	case RFS_OP_MKNOD:
	case RFS_OP_MKDIR:
	case RFS_OP_SYMLINK:
	case RFS_OP_LINK: {
		struct rfs_entry *p = rfs_mb_put(&b, sizeof(*p));

		if (!p)
			break;
		rfs_tf_entry(p, TF_NODE2);
		put_handle(&b);
		break;
	}
	case RFS_OP_CREATE: {
		struct rfs_create_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (!p)
			break;
		p->fh = TF_FH;
		p->open_flags = RFS_OPEN_KEEP_CACHE;
		rfs_tf_entry(&p->entry, TF_NODE2);
		put_handle(&b);
		break;
	}
	case RFS_OP_OPEN:
	case RFS_OP_OPENDIR: {
		struct rfs_open_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (!p)
			break;
		p->fh = TF_FH;
		p->open_flags = RFS_OPEN_DIRECT_IO;
		break;
	}
	case RFS_OP_WRITE:
	case RFS_OP_COPY_FILE_RANGE: {
		struct rfs_write_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (p)
			p->written = TF_DATA_LEN;
		break;
	}
	case RFS_OP_READDIRPLUS:
		put_dirents(&b);
		break;
	case RFS_OP_STATFS: {
		struct rfs_statfs_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (!p)
			break;
		p->blocks = 1000;
		p->bsize = 4096;
		p->namemax = 255;
		break;
	}
	case RFS_OP_GETXATTR:
	case RFS_OP_LISTXATTR: {
		struct rfs_xattr_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (!p)
			break;
		p->size = TF_DATA_LEN;
		put_data(&b, TF_DATA_LEN);
		break;
	}
	case RFS_OP_GETLK: {
		struct rfs_lock *p = rfs_mb_put(&b, sizeof(*p));

		if (!p)
			break;
		p->start = 0;
		p->end = 99;
		p->type = RFS_LK_RDLCK;
		p->pid = 55;
		break;
	}
	case RFS_OP_LSEEK: {
		struct rfs_lseek_rep *p = rfs_mb_put(&b, sizeof(*p));

		if (p)
			p->offset = 8192;
		break;
	}
	default:
		break; /* empty replies */
	}
	return rfs_mb_finish(&b, true);
}
