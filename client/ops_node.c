// SPDX-License-Identifier: MIT
/*
 * ops_node: FUSE operations on names and nodes (lookup, forget, attrs,
 * directory entries, links, statfs, access, xattrs) and the session's
 * init.  Each handler sends one request and returns; its completion,
 * called by the loop with a validated reply, makes the one fuse_reply_*.
 *
 * Valid replies follow include/fuse_lowlevel.h of libfuse 3.14.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "client_i.h"
#include "log.h"

/* ---- conversions and shared completions ------------------------------- */

void rfs_attr_to_stat(const struct rfs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_blksize = a->blksize;
	st->st_atim.tv_sec = a->atime;
	st->st_atim.tv_nsec = a->atime_ns;
	st->st_mtim.tv_sec = a->mtime;
	st->st_mtim.tv_nsec = a->mtime_ns;
	st->st_ctim.tv_sec = a->ctime;
	st->st_ctim.tv_nsec = a->ctime_ns;
}

void rfs_entry_param(const struct rfs_entry *e, struct fuse_entry_param *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->ino = cl_ino(e->nodeid);
	ep->generation = e->generation;
	rfs_attr_to_stat(&e->attr, &ep->attr);
	ep->attr_timeout = rfs_cl->o.attr_timeout;
	ep->entry_timeout = rfs_cl->o.entry_timeout;
}

/* Drop lookups the kernel never got (its request was interrupted). */
static void undo_ref(uint64_t nodeid)
{
	if (rfs_inode_unref(nodeid, 1))
		rfs_loop_forget(nodeid, 1);
}

static void reply_entry(fuse_req_t req, const struct rfs_entry *e,
			const void *handle, uint32_t handle_len, bool pin)
{
	struct fuse_entry_param ep;

	rfs_entry_param(e, &ep);
	if (pin)
		ep.entry_timeout = RFS_ROOTFS_PIN_S;
	if (rfs_inode_ref(e->nodeid, handle, handle_len) < 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (fuse_reply_entry(req, &ep) != 0)
		undo_ref(e->nodeid);
}

void rfs_reply_entry(fuse_req_t req, const struct rfs_entry *e,
		     const void *handle, uint32_t handle_len)
{
	reply_entry(req, e, handle, handle_len, false);
}

void rfs_done_empty(struct cl_pend *p, const struct rfs_hdr *h,
		    const struct rfs_rep_view *v)
{
	fuse_reply_err(p->req, 0);
}

void rfs_done_attr(struct cl_pend *p, const struct rfs_hdr *h,
		   const struct rfs_rep_view *v)
{
	struct stat st;

	rfs_attr_to_stat(v->fixed, &st);
	fuse_reply_attr(p->req, &st, rfs_cl->o.attr_timeout);
}

/* the root directory's attributes under -o rootfs */
static void done_attr_pinned(struct cl_pend *p, const struct rfs_hdr *h,
			     const struct rfs_rep_view *v)
{
	struct stat st;

	rfs_attr_to_stat(v->fixed, &st);
	fuse_reply_attr(p->req, &st, RFS_ROOTFS_PIN_S);
}

void rfs_done_entry(struct cl_pend *p, const struct rfs_hdr *h,
		    const struct rfs_rep_view *v)
{
	rfs_reply_entry(p->req, v->fixed, v->handle, v->handle_len);
}

/* a name in the root directory under -o rootfs */
static void done_entry_pinned(struct cl_pend *p, const struct rfs_hdr *h,
			      const struct rfs_rep_view *v)
{
	reply_entry(p->req, v->fixed, v->handle, v->handle_len, true);
}

static int name_len(fuse_req_t req, const char *name, uint32_t *len)
{
	size_t n = strlen(name);

	if (n > RFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return -ENAMETOOLONG;
	}
	*len = (uint32_t)n;
	return 0;
}

/* ---- lookup and forget ------------------------------------------------ */

/* LOOKUP, UNLINK, RMDIR: struct rfs_name_req + name */
static void name_op(fuse_req_t req, uint16_t op, fuse_ino_t parent,
		    const char *name, cl_done_fn done)
{
	struct cl_call c;
	struct rfs_name_req *r;
	uint32_t len;

	if (name_len(req, name, &len) < 0)
		return;
	r = rfs_call_fixed(&c, req, op, sizeof(*r), len, done);
	if (!r)
		return;
	r->parent = cl_nodeid(parent);
	r->name_len = (uint16_t)len;
	rfs_call_put(&c, name, len);
	rfs_call_send(&c);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	name_op(req, RFS_OP_LOOKUP, parent, name,
		rfs_cl_rootfs_pinned(parent) ? done_entry_pinned :
					       rfs_done_entry);
}

static void forget_one(fuse_ino_t ino, uint64_t nlookup)
{
	uint64_t nodeid = cl_nodeid(ino);

	if (ino == FUSE_ROOT_ID)
		return;
	if (rfs_inode_unref(nodeid, nlookup))
		rfs_loop_forget(nodeid, nlookup);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* ---- attributes ------------------------------------------------------- */

static void node_op(fuse_req_t req, uint16_t op, fuse_ino_t ino, uint64_t fh,
		    cl_done_fn done)
{
	struct cl_call c;
	struct rfs_node_req *r;

	r = rfs_call_fixed(&c, req, op, sizeof(*r), 0, done);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	rfs_call_set_fh(&c, &r->fh, fh);
	rfs_call_send(&c);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	node_op(req, RFS_OP_GETATTR, ino, fi ? fi->fh : 0,
		rfs_cl_rootfs_pinned(ino) ? done_attr_pinned : rfs_done_attr);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct cl_call c;
	struct rfs_setattr_req *r;

	r = rfs_call_fixed(&c, req, RFS_OP_SETATTR, sizeof(*r), 0,
			   rfs_cl_rootfs_pinned(ino) ? done_attr_pinned :
						       rfs_done_attr);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	rfs_call_set_fh(&c, &r->fh, fi ? fi->fh : 0);
	/* RFS_SA_* has the FUSE_SET_ATTR_* values */
	r->valid = (uint32_t)to_set & RFS_SA_KNOWN;
	r->mode = attr->st_mode;
	r->uid = attr->st_uid;
	r->gid = attr->st_gid;
	r->size = (uint64_t)attr->st_size;
	r->atime = attr->st_atim.tv_sec;
	r->atime_ns = (uint32_t)attr->st_atim.tv_nsec;
	r->mtime = attr->st_mtim.tv_sec;
	r->mtime_ns = (uint32_t)attr->st_mtim.tv_nsec;
	rfs_call_send(&c);
}

static void done_readlink(struct cl_pend *p, const struct rfs_hdr *h,
			  const struct rfs_rep_view *v)
{
	char target[RFS_PATH_MAX + 1];
	uint32_t n = v->data_len;

	if (n > RFS_PATH_MAX) {
		fuse_reply_err(p->req, ENAMETOOLONG);
		return;
	}
	memcpy(target, v->data, n);
	target[n] = '\0';
	fuse_reply_readlink(p->req, target);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	node_op(req, RFS_OP_READLINK, ino, 0, done_readlink);
}

/* ---- making and removing names ---------------------------------------- */

static void make_op(fuse_req_t req, uint16_t op, fuse_ino_t parent,
		    const char *name, mode_t mode, dev_t rdev,
		    const char *target)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct cl_call c;
	struct rfs_make_req *r;
	uint32_t len, tlen = 0;

	if (name_len(req, name, &len) < 0)
		return;
	if (target) {
		size_t t = strlen(target);

		if (t > RFS_PATH_MAX) {
			fuse_reply_err(req, ENAMETOOLONG);
			return;
		}
		tlen = (uint32_t)t;
	}
	r = rfs_call_fixed(&c, req, op, sizeof(*r), len + tlen, rfs_done_entry);
	if (!r)
		return;
	r->parent = cl_nodeid(parent);
	r->mode = mode;
	r->umask = ctx ? ctx->umask : 022;
	r->rdev = (uint32_t)rdev;
	r->name_len = (uint16_t)len;
	r->target_len = (uint16_t)tlen;
	rfs_call_put(&c, name, len);
	if (tlen)
		rfs_call_put(&c, target, tlen);
	rfs_call_send(&c);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	make_op(req, RFS_OP_MKNOD, parent, name, mode, rdev, NULL);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	make_op(req, RFS_OP_MKDIR, parent, name, mode | S_IFDIR, 0, NULL);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	make_op(req, RFS_OP_SYMLINK, parent, name, S_IFLNK | 0777, 0, link);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	name_op(req, RFS_OP_UNLINK, parent, name, rfs_done_empty);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	name_op(req, RFS_OP_RMDIR, parent, name, rfs_done_empty);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct cl_call c;
	struct rfs_rename_req *r;
	uint32_t len, newlen;

	if (name_len(req, name, &len) < 0 ||
	    name_len(req, newname, &newlen) < 0)
		return;
	if (flags & ~(unsigned)(RFS_RENAME_NOREPLACE | RFS_RENAME_EXCHANGE |
				RFS_RENAME_WHITEOUT)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = rfs_call_fixed(&c, req, RFS_OP_RENAME, sizeof(*r), len + newlen,
			   rfs_done_empty);
	if (!r)
		return;
	r->parent = cl_nodeid(parent);
	r->newparent = cl_nodeid(newparent);
	r->flags = flags; /* RFS_RENAME_* are renameat2's values */
	r->name_len = (uint16_t)len;
	r->newname_len = (uint16_t)newlen;
	rfs_call_put(&c, name, len);
	rfs_call_put(&c, newname, newlen);
	rfs_call_send(&c);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct cl_call c;
	struct rfs_link_req *r;
	uint32_t len;

	if (name_len(req, newname, &len) < 0)
		return;
	r = rfs_call_fixed(&c, req, RFS_OP_LINK, sizeof(*r), len,
			   rfs_done_entry);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	r->newparent = cl_nodeid(newparent);
	r->name_len = (uint16_t)len;
	rfs_call_put(&c, newname, len);
	rfs_call_send(&c);
}

/* ---- statfs, access --------------------------------------------------- */

static void done_statfs(struct cl_pend *p, const struct rfs_hdr *h,
			const struct rfs_rep_view *v)
{
	const struct rfs_statfs_rep *r = v->fixed;
	struct statvfs st = {
		.f_bsize = r->bsize,
		.f_frsize = r->frsize,
		.f_blocks = r->blocks,
		.f_bfree = r->bfree,
		.f_bavail = r->bavail,
		.f_files = r->files,
		.f_ffree = r->ffree,
		.f_favail = r->favail,
		.f_fsid = r->fsid,
		.f_flag = r->flag,
		.f_namemax = r->namemax,
	};

	fuse_reply_statfs(p->req, &st);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	node_op(req, RFS_OP_STATFS, ino, 0, done_statfs);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct cl_call c;
	struct rfs_access_req *r;

	r = rfs_call_fixed(&c, req, RFS_OP_ACCESS, sizeof(*r), 0,
			   rfs_done_empty);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	r->mask = (uint32_t)mask;
	rfs_call_send(&c);
}

/* ---- extended attributes ---------------------------------------------- */

static int xattr_name(fuse_req_t req, const char *name, uint32_t *len)
{
	size_t n = strlen(name);

	if (n == 0 || n > RFS_XATTR_NAME_MAX) {
		fuse_reply_err(req, n ? ERANGE : EINVAL);
		return -1;
	}
	*len = (uint32_t)n;
	return 0;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct cl_call c;
	struct rfs_xattr_req *r;
	uint32_t len;

	if (xattr_name(req, name, &len) < 0)
		return;
	if (size > RFS_XATTR_SIZE_MAX) {
		fuse_reply_err(req, E2BIG);
		return;
	}
	r = rfs_call_fixed(&c, req, RFS_OP_SETXATTR, sizeof(*r),
			   len + (uint32_t)size, rfs_done_empty);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	r->size = (uint32_t)size;
	r->flags = (uint32_t)flags;
	r->name_len = (uint16_t)len;
	rfs_call_put(&c, name, len);
	rfs_call_put(&c, value, (uint32_t)size);
	rfs_call_send(&c);
}

static void done_xattr(struct cl_pend *p, const struct rfs_hdr *h,
		       const struct rfs_rep_view *v)
{
	const struct rfs_xattr_rep *r = v->fixed;

	if (p->size == 0)
		fuse_reply_xattr(p->req, r->size);
	else if (v->data_len > p->size)
		fuse_reply_err(p->req, ERANGE);
	else
		fuse_reply_buf(p->req, v->data, v->data_len);
}

static void xattr_get(fuse_req_t req, uint16_t op, fuse_ino_t ino,
		      const char *name, size_t size)
{
	struct cl_call c;
	struct rfs_xattr_req *r;
	uint32_t len = 0;

	if (name && xattr_name(req, name, &len) < 0)
		return;
	if (size > RFS_XATTR_SIZE_MAX)
		size = RFS_XATTR_SIZE_MAX;
	r = rfs_call_fixed(&c, req, op, sizeof(*r), len, done_xattr);
	if (!r)
		return;
	c.p->size = size;
	r->nodeid = cl_nodeid(ino);
	r->size = (uint32_t)size;
	r->name_len = (uint16_t)len;
	if (len)
		rfs_call_put(&c, name, len);
	rfs_call_send(&c);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	xattr_get(req, RFS_OP_GETXATTR, ino, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_get(req, RFS_OP_LISTXATTR, ino, NULL, size);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct cl_call c;
	struct rfs_xattr_req *r;
	uint32_t len;

	if (xattr_name(req, name, &len) < 0)
		return;
	r = rfs_call_fixed(&c, req, RFS_OP_REMOVEXATTR, sizeof(*r), len,
			   rfs_done_empty);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	r->name_len = (uint16_t)len;
	rfs_call_put(&c, name, len);
	rfs_call_send(&c);
}

/* ---- session ---------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	const struct cl_opts *o = &rfs_cl->o;
	unsigned want = FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS |
			FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_ASYNC_READ |
			FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_DONT_MASK;
	uint32_t max_write = o->max_write;
	/* a WRITE frame: header, rfs_io_req, data, the caller's groups */
	uint32_t room = rfs_cl->max_msg - RFS_HDR_SIZE -
			(uint32_t)sizeof(struct rfs_io_req) -
			RFS_GROUPS_BYTES_MAX;

	if (o->readdirplus)
		want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
	else
		conn->want &= ~(unsigned)(FUSE_CAP_READDIRPLUS |
					  FUSE_CAP_READDIRPLUS_AUTO);
	if (o->writeback_cache)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	conn->want |= want & conn->capable;
	/*
	 * Splice would move pages through a pipe into and out of
	 * libfuse's buffer, but every request is copied into a transport
	 * buffer anyway, and replies come from one: it only adds syscalls.
	 */
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE);
	if (room < max_write)
		max_write = room & ~4095u;
	conn->max_write = max_write;
	conn->max_readahead = RFS_IO_MAX;
	conn->time_gran = 1;
	/*
	 * Asynchronous direct I/O and readahead are "background" requests,
	 * of which the kernel keeps only max_background in flight (default
	 * 12): below a queue depth of 32 that, not the server, would bound
	 * an io_uring or libaio reader.  The server queues that many reads
	 * on its own ring (server/aio.c).
	 */
	conn->max_background = RFS_CL_MAX_BACKGROUND;
	conn->congestion_threshold = RFS_CL_MAX_BACKGROUND * 3 / 4;
	rfs_dbg(RFS_SUB_CLIENT, "client: init: want %#x max_write %u",
		conn->want, conn->max_write);
}

void rfs_ops_node_fill(struct fuse_lowlevel_ops *ops)
{
	ops->init = op_init;
	ops->lookup = op_lookup;
	ops->forget = op_forget;
	ops->forget_multi = op_forget_multi;
	ops->getattr = op_getattr;
	ops->setattr = op_setattr;
	ops->readlink = op_readlink;
	ops->mknod = op_mknod;
	ops->mkdir = op_mkdir;
	ops->symlink = op_symlink;
	ops->unlink = op_unlink;
	ops->rmdir = op_rmdir;
	ops->rename = op_rename;
	ops->link = op_link;
	ops->statfs = op_statfs;
	ops->access = op_access;
	ops->setxattr = op_setxattr;
	ops->getxattr = op_getxattr;
	ops->listxattr = op_listxattr;
	ops->removexattr = op_removexattr;
}
