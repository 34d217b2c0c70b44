// SPDX-License-Identifier: MIT
/*
 * ops_file: FUSE operations on open files and directories: open/create,
 * read/write, flush/release/fsync, directory listing, locks, fallocate,
 * copy_file_range, lseek.
 *
 * READ replies go to the kernel straight from the transport's receive
 * buffer (fuse_reply_buf writes it, no copy in user space).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "client_i.h"
#include "log.h"
#include "obs.h"

/* A READ reply has no fixed part: the header, then the data (<= size). */
#define CL_READ_REP_FIXED 0u

/* ---- open / create ---------------------------------------------------- */

static uint32_t open_flags(int flags)
{
	/*
	 * O_DIRECT goes to the server, which opens the file O_DIRECT too
	 * (through aligned bounce memory), so a direct read reaches the
	 * server's disk as it would a local one.
	 *
	 * With the writeback cache the kernel may read through a file
	 * opened write-only, does appends itself, and writes back dirty
	 * pages of other opens through any open file, in page-sized pieces
	 * that need not suit O_DIRECT at the end of a file: there O_DIRECT
	 * stays the kernel's business.
	 */
	if (rfs_cl->o.writeback_cache) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~(O_APPEND | O_DIRECT);
	}
	return (uint32_t)flags;
}

static void set_open_flags(struct fuse_file_info *fi, uint32_t f)
{
	fi->direct_io = rfs_cl->o.direct_io || (f & RFS_OPEN_DIRECT_IO);
	fi->keep_cache = rfs_cl->o.kernel_cache || (f & RFS_OPEN_KEEP_CACHE);
	fi->nonseekable = !!(f & RFS_OPEN_NONSEEKABLE);
}

/* The kernel gave up on the open: close the handle on the server. */
static void release_lost(fuse_ino_t ino, uint64_t fh, bool dir);

/* How the file was opened, for a re-open after a server restart. */
static int client_fh(struct cl_pend *p, uint64_t sfh, bool dir, uint64_t nodeid,
		     uint64_t *cfh)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(p->req);
	uint32_t flags = dir ? (uint32_t)p->fi.flags : open_flags(p->fi.flags);
	uint32_t groups[RFS_GROUPS_MAX];
	struct rfs_opener who = {
		.uid = ctx ? ctx->uid : 0,
		.gid = ctx ? ctx->gid : 0,
		.groups = groups,
	};
	const struct rfs_hdr *h = p->copy;
	struct rfs_req_view v;

	/* the groups it was opened with: those the request carried */
	if (p->copy_len && (h->flags & RFS_HF_GROUPS) &&
	    !rfs_proto_decode_req(h, h + 1, &v)) {
		for (uint32_t i = 0; i < v.ngroups; i++)
			groups[i] = rfs_proto_group(&v, i);
		who.ngroups = v.ngroups;
	}
	/* a re-open must neither create nor truncate */
	flags &= ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC);
	return rfs_fh_new(nodeid, flags, dir, &who, sfh, cfh);
}

/*
 * FUSE passthrough (passthrough.c): take the file the server sent with
 * the reply, if it said so, and decide what the open becomes.  0, or
 * -errno: the open fails.
 */
static int pt_decide(const struct rfs_hdr *h, uint32_t open_flags,
		     uint64_t nodeid, int flags, uint64_t cfh,
		     struct fuse_file_info *fi)
{
	int fd = -1, bid, kind;

	if (!rfs_pt_want())
		return 0;
	if (open_flags & RFS_OPEN_FD) {
		fd = rfs_call_take_fd(h->id);
		if (fd < 0)
			rfs_dbg(RFS_SUB_CLIENT,
				"client: FUSE passthrough: the server's file "
				"for request %llu did not come: %s",
				(unsigned long long)h->id, strerror(-fd));
	}
	kind = rfs_pt_open(nodeid, fd, (uint32_t)flags, &bid);
	if (kind < 0)
		return kind;
	rfs_fh_set_pt(cfh, kind);
	if (kind == RFS_PT_PASS) {
		/* the kernel's own I/O on the file: no page cache of ours */
		fi->direct_io = 0;
		fi->keep_cache = 0;
		fi->nonseekable = 0;
		rfs_pt_reply(bid);
		rfs_call_count(RFS_OBS_passthrough_opens);
	}
	return 0;
}

static void done_open(struct cl_pend *p, const struct rfs_hdr *h,
		      const struct rfs_rep_view *v)
{
	const struct rfs_open_rep *r = v->fixed;
	struct fuse_file_info fi = p->fi;
	bool dir = h->opcode == RFS_OP_OPENDIR;
	uint64_t nodeid = cl_nodeid((fuse_ino_t)p->aux);
	int ret;

	/* the kernel gets a client-side fh: it survives server restarts */
	ret = client_fh(p, r->fh, dir, nodeid, &fi.fh);
	if (ret < 0) {
		release_lost((fuse_ino_t)p->aux, r->fh, dir);
		fuse_reply_err(p->req, -ret);
		return;
	}
	if (dir) {
		fi.cache_readdir = rfs_cl->o.kernel_cache;
		fi.keep_cache = rfs_cl->o.kernel_cache;
	} else {
		set_open_flags(&fi, r->open_flags);
		ret = pt_decide(h, r->open_flags, nodeid, p->fi.flags, fi.fh,
				&fi);
		if (ret < 0) {
			rfs_fh_del(fi.fh);
			release_lost((fuse_ino_t)p->aux, r->fh, dir);
			fuse_reply_err(p->req, -ret);
			return;
		}
	}
	ret = fuse_reply_open(p->req, &fi);
	rfs_pt_reply(0);
	if (ret != 0) {
		rfs_fh_del(fi.fh);
		release_lost((fuse_ino_t)p->aux, r->fh, dir);
	}
}

static void open_op(fuse_req_t req, uint16_t op, fuse_ino_t ino,
		    struct fuse_file_info *fi)
{
	struct cl_call c;
	struct rfs_open_req *r;

	r = rfs_call_fixed(&c, req, op, sizeof(*r), 0, done_open);
	if (!r)
		return;
	c.p->fi = *fi;
	c.p->aux = ino;
	r->nodeid = cl_nodeid(ino);
	r->flags = op == RFS_OP_OPEN ? open_flags(fi->flags) :
				       (uint32_t)fi->flags;
	r->want = op == RFS_OP_OPEN && rfs_pt_want() ? RFS_WANT_FD : 0;
	rfs_call_send(&c);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	open_op(req, RFS_OP_OPEN, ino, fi);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	open_op(req, RFS_OP_OPENDIR, ino, fi);
}

static void done_create(struct cl_pend *p, const struct rfs_hdr *h,
			const struct rfs_rep_view *v)
{
	const struct rfs_create_rep *r = v->fixed;
	struct fuse_file_info fi = p->fi;
	struct fuse_entry_param ep;
	int ret;

	set_open_flags(&fi, r->open_flags);
	rfs_entry_param(&r->entry, &ep);
	if (client_fh(p, r->fh, false, r->entry.nodeid, &fi.fh) < 0) {
		release_lost(ep.ino, r->fh, false);
		fuse_reply_err(p->req, ENOMEM);
		return;
	}
	ret = pt_decide(h, r->open_flags, r->entry.nodeid, p->fi.flags, fi.fh,
			&fi);
	if (ret < 0 ||
	    rfs_inode_ref(r->entry.nodeid, v->handle, v->handle_len) < 0) {
		rfs_pt_reply(0);
		rfs_fh_del(fi.fh);
		release_lost(ep.ino, r->fh, false);
		fuse_reply_err(p->req, ret < 0 ? -ret : ENOMEM);
		return;
	}
	ret = fuse_reply_create(p->req, &ep, &fi);
	rfs_pt_reply(0);
	if (ret != 0) {
		if (rfs_inode_unref(r->entry.nodeid, 1))
			rfs_loop_forget(r->entry.nodeid, 1);
		rfs_fh_del(fi.fh);
		release_lost(ep.ino, r->fh, false);
	}
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct cl_call c;
	struct rfs_make_req *r;
	size_t len = strlen(name);

	if (len > RFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	r = rfs_call_fixed(&c, req, RFS_OP_CREATE, sizeof(*r), (uint32_t)len,
			   done_create);
	if (!r)
		return;
	c.p->fi = *fi;
	r->parent = cl_nodeid(parent);
	r->mode = mode;
	r->umask = ctx ? ctx->umask : 022;
	r->flags = open_flags(fi->flags);
	r->want = rfs_pt_want() ? RFS_WANT_FD : 0;
	r->name_len = (uint16_t)len;
	rfs_call_put(&c, name, (uint32_t)len);
	rfs_call_send(&c);
}

/* ---- read / write ----------------------------------------------------- */

static void done_read(struct cl_pend *p, const struct rfs_hdr *h,
		      const struct rfs_rep_view *v)
{
	if (v->data_len > p->size) {
		fuse_reply_err(p->req, EIO);
		return;
	}
	fuse_reply_buf(p->req, v->data, v->data_len);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct cl_call c;
	struct rfs_io_req *r;

	if (size > RFS_IO_MAX)
		size = RFS_IO_MAX;
	r = rfs_call_fixed(&c, req, RFS_OP_READ, sizeof(*r), 0, done_read);
	if (!r)
		return;
	c.p->size = size;
	r->nodeid = cl_nodeid(ino);
	rfs_call_set_fh(&c, &r->fh, fi->fh);
	r->offset = (uint64_t)off;
	r->size = (uint32_t)size;
	r->lock_owner = fi->lock_owner;
	rfs_call_expect(&c, RFS_HDR_SIZE + CL_READ_REP_FIXED + (uint32_t)size);
	rfs_call_send(&c);
}

static void done_write(struct cl_pend *p, const struct rfs_hdr *h,
		       const struct rfs_rep_view *v)
{
	const struct rfs_write_rep *r = v->fixed;

	fuse_reply_write(p->req, r->written);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct cl_call c;
	struct rfs_io_req *r;

	if (size > RFS_IO_MAX) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = rfs_call_fixed(&c, req, RFS_OP_WRITE, sizeof(*r), (uint32_t)size,
			   done_write);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	rfs_call_set_fh(&c, &r->fh, fi->fh);
	r->offset = (uint64_t)off;
	r->size = (uint32_t)size;
	r->lock_owner = fi->lock_owner;
	rfs_call_put(&c, buf, (uint32_t)size);
	rfs_call_send(&c);
}

/* ---- flush, release, fsync -------------------------------------------- */

static void fh_op(fuse_req_t req, uint16_t op, fuse_ino_t ino,
		  struct fuse_file_info *fi, uint32_t flags)
{
	struct cl_call c;
	struct rfs_fh_req *r;

	r = rfs_call_fixed(&c, req, op, sizeof(*r), 0, rfs_done_empty);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	rfs_call_set_fh(&c, &r->fh, fi->fh);
	r->lock_owner = fi->lock_owner;
	r->flags = flags;
	rfs_call_send(&c);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	uint64_t sfh;

	/*
	 * On the server FLUSH drops the closing owner's POSIX locks, and
	 * nothing else: on a node nobody asked a POSIX lock on, close()
	 * is answered here (locks.c), EIO still for a file lost in a
	 * server restart.
	 */
	if (!rfs_lk_flush_needed(cl_nodeid(ino))) {
		fuse_reply_err(req,
			       rfs_fh_server(fi->fh, &sfh) == -EIO ? EIO : 0);
		return;
	}
	fh_op(req, RFS_OP_FLUSH, ino, fi, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fh_op(req, RFS_OP_RELEASE, ino, fi,
	      fi->flock_release ? RFS_RELEASE_FLOCK_UNLOCK : 0);
	rfs_fh_del(fi->fh);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	fh_op(req, RFS_OP_RELEASEDIR, ino, fi, 0);
	rfs_fh_del(fi->fh);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fh_op(req, RFS_OP_FSYNC, ino, fi, datasync ? RFS_FSYNC_DATASYNC : 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fh_op(req, RFS_OP_FSYNCDIR, ino, fi, datasync ? RFS_FSYNC_DATASYNC : 0);
}

static void done_ignore(struct cl_pend *p, const struct rfs_hdr *h,
			const struct rfs_rep_view *v)
{
}

static void release_lost(fuse_ino_t ino, uint64_t fh, bool dir)
{
	struct cl_call c;
	struct rfs_fh_req *r;

	/* no FUSE request to answer: req NULL, the completion ignores it */
	r = rfs_call_fixed(&c, NULL, dir ? RFS_OP_RELEASEDIR : RFS_OP_RELEASE,
			   sizeof(*r), 0, done_ignore);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	r->fh = fh;
	c.p->raw_fh = true; /* not replayed into another session */
	rfs_call_send(&c);
}

/* ---- directories ------------------------------------------------------ */

static void done_readdir(struct cl_pend *p, const struct rfs_hdr *h,
			 const struct rfs_rep_view *v)
{
	struct rfs_dirent_view dv;
	uint32_t pos = 0;
	size_t used = 0;
	char *buf;

	buf = malloc(p->size ? p->size : 1);
	if (!buf) {
		fuse_reply_err(p->req, ENOMEM);
		return;
	}
	while (rfs_proto_dirent_next(v->data, v->data_len, &pos, &dv) == 1) {
		const struct rfs_dirent *d = dv.d;
		char name[RFS_NAME_MAX + 1];
		size_t need;

		memcpy(name, dv.name, d->name_len);
		name[d->name_len] = '\0';
		if (p->plus) {
			struct fuse_entry_param ep;

			if (d->entry.nodeid) {
				rfs_entry_param(&d->entry, &ep);
				if (rfs_cl_rootfs_pinned((fuse_ino_t)p->aux))
					ep.entry_timeout = RFS_ROOTFS_PIN_S;
			} else {
				memset(&ep, 0, sizeof(ep));
				ep.attr.st_ino = d->entry.attr.ino;
				ep.attr.st_mode = (mode_t)d->type << 12;
			}
			if (!ep.attr.st_ino)
				ep.attr.st_ino = 1;
			need = fuse_add_direntry_plus(p->req, buf + used,
						      p->size - used, name, &ep,
						      (off_t)d->off);
			if (need > p->size - used)
				break;
			/* only entries handed to the kernel count */
			if (d->entry.nodeid &&
			    rfs_inode_ref(d->entry.nodeid, dv.handle,
					  d->entry.handle_len) < 0)
				break;
		} else {
			struct stat st = {
				.st_ino = d->entry.attr.ino ?
						  d->entry.attr.ino :
						  1,
				.st_mode = (mode_t)d->type << 12,
			};

			need = fuse_add_direntry(p->req, buf + used,
						 p->size - used, name, &st,
						 (off_t)d->off);
			if (need > p->size - used)
				break;
		}
		used += need;
	}
	fuse_reply_buf(p->req, buf, used);
	free(buf);
}

static void readdir_op(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct cl_call c;
	struct rfs_io_req *r;
	size_t want;

	if (size > RFS_IO_MAX)
		size = RFS_IO_MAX;
	/*
	 * Our records carry a handle and full attributes: about the size of
	 * a fuse_direntplus, four times a plain fuse_dirent.
	 */
	want = plus ? size : size * 4;
	if (want > 65536 && want > size)
		want = size > 65536 ? size : 65536;
	r = rfs_call_fixed(&c, req, RFS_OP_READDIRPLUS, sizeof(*r), 0,
			   done_readdir);
	if (!r)
		return;
	c.p->size = size;
	c.p->plus = plus;
	c.p->aux = ino;
	r->nodeid = cl_nodeid(ino);
	rfs_call_set_fh(&c, &r->fh, fi->fh);
	r->offset = (uint64_t)off;
	r->size = (uint32_t)want;
	rfs_call_send(&c);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	readdir_op(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	readdir_op(req, ino, size, off, fi, true);
}

/* ---- locks ------------------------------------------------------------ */

static void lock_to_wire(const struct flock *fl, struct rfs_lock *l)
{
	l->start = (uint64_t)fl->l_start;
	l->end = fl->l_len == 0 ? UINT64_MAX :
				  (uint64_t)(fl->l_start + fl->l_len - 1);
	switch (fl->l_type) {
	case F_RDLCK:
		l->type = RFS_LK_RDLCK;
		break;
	case F_WRLCK:
		l->type = RFS_LK_WRLCK;
		break;
	default:
		l->type = RFS_LK_UNLCK;
		break;
	}
	l->pid = (uint32_t)fl->l_pid;
}

static void done_getlk(struct cl_pend *p, const struct rfs_hdr *h,
		       const struct rfs_rep_view *v)
{
	const struct rfs_lock *l = v->fixed;
	struct flock fl = {
		.l_whence = SEEK_SET,
		.l_start = (off_t)l->start,
		.l_pid = (pid_t)l->pid,
	};

	fl.l_type = l->type == RFS_LK_RDLCK ? F_RDLCK :
		    l->type == RFS_LK_WRLCK ? F_WRLCK :
					      F_UNLCK;
	fl.l_len = l->end == UINT64_MAX || l->end >= INT64_MAX ?
			   0 :
			   (off_t)(l->end - l->start + 1);
	fuse_reply_lock(p->req, &fl);
}

static struct rfs_lock_req *lock_op(struct cl_call *c, fuse_req_t req,
				    uint16_t op, fuse_ino_t ino,
				    struct fuse_file_info *fi, uint32_t flags,
				    cl_done_fn done)
{
	struct rfs_lock_req *r;

	r = rfs_call_fixed(c, req, op, sizeof(*r), 0, done);
	if (!r)
		return NULL;
	r->nodeid = cl_nodeid(ino);
	rfs_call_set_fh(c, &r->fh, fi->fh);
	r->owner = fi->lock_owner;
	r->flags = flags;
	return r;
}

static void op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct flock *lock)
{
	struct cl_call c;
	struct rfs_lock_req *r;

	r = lock_op(&c, req, RFS_OP_GETLK, ino, fi, 0, done_getlk);
	if (!r)
		return;
	lock_to_wire(lock, &r->lock);
	rfs_call_send(&c);
}

static void op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct flock *lock, int sleep)
{
	struct cl_call c;
	struct rfs_lock_req *r;

	r = lock_op(&c, req, RFS_OP_SETLK, ino, fi, sleep ? RFS_LK_WAIT : 0,
		    rfs_done_empty);
	if (!r)
		return;
	lock_to_wire(lock, &r->lock);
	rfs_call_send(&c);
}

static void op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     int op)
{
	struct cl_call c;

	if (lock_op(&c, req, RFS_OP_FLOCK, ino, fi, (uint32_t)op,
		    rfs_done_empty))
		rfs_call_send(&c);
}

/* ---- fallocate, copy_file_range, lseek -------------------------------- */

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			 off_t length, struct fuse_file_info *fi)
{
	struct cl_call c;
	struct rfs_fallocate_req *r;

	r = rfs_call_fixed(&c, req, RFS_OP_FALLOCATE, sizeof(*r), 0,
			   rfs_done_empty);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	rfs_call_set_fh(&c, &r->fh, fi->fh);
	r->offset = (uint64_t)offset;
	r->length = (uint64_t)length;
	r->mode = (uint32_t)mode;
	rfs_call_send(&c);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			       off_t off_out, struct fuse_file_info *fi_out,
			       size_t len, int flags)
{
	struct cl_call c;
	struct rfs_copy_req *r;

	r = rfs_call_fixed(&c, req, RFS_OP_COPY_FILE_RANGE, sizeof(*r), 0,
			   done_write);
	if (!r)
		return;
	r->nodeid_in = cl_nodeid(ino_in);
	rfs_call_set_fh(&c, &r->fh_in, fi_in->fh);
	r->off_in = (uint64_t)off_in;
	r->nodeid_out = cl_nodeid(ino_out);
	rfs_call_set_fh(&c, &r->fh_out, fi_out->fh);
	r->off_out = (uint64_t)off_out;
	r->len = len;
	r->flags = (uint32_t)flags;
	rfs_call_send(&c);
}

static void done_lseek(struct cl_pend *p, const struct rfs_hdr *h,
		       const struct rfs_rep_view *v)
{
	const struct rfs_lseek_rep *r = v->fixed;

	fuse_reply_lseek(p->req, (off_t)r->offset);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct cl_call c;
	struct rfs_lseek_req *r;

	/*
	 * With the writeback cache the server's file lags the kernel's
	 * page cache, so its holes and data are not ours: ENOSYS makes the
	 * kernel answer SEEK_DATA/SEEK_HOLE itself from i_size from now on.
	 */
	if (rfs_cl->o.writeback_cache) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	r = rfs_call_fixed(&c, req, RFS_OP_LSEEK, sizeof(*r), 0, done_lseek);
	if (!r)
		return;
	r->nodeid = cl_nodeid(ino);
	rfs_call_set_fh(&c, &r->fh, fi->fh);
	r->offset = off;
	r->whence = (uint32_t)whence;
	rfs_call_send(&c);
}

void rfs_ops_file_fill(struct fuse_lowlevel_ops *ops)
{
	ops->open = op_open;
	ops->create = op_create;
	ops->read = op_read;
	ops->write = op_write;
	ops->flush = op_flush;
	ops->release = op_release;
	ops->fsync = op_fsync;
	ops->opendir = op_opendir;
	ops->readdir = op_readdir;
	ops->readdirplus = op_readdirplus;
	ops->releasedir = op_releasedir;
	ops->fsyncdir = op_fsyncdir;
	ops->getlk = op_getlk;
	ops->setlk = op_setlk;
	ops->flock = op_flock;
	ops->fallocate = op_fallocate;
	ops->copy_file_range = op_copy_file_range;
	ops->lseek = op_lseek;
}
