// SPDX-License-Identifier: MIT
/*
 * Op handlers, part 2: open files and directories (fh ops), I/O and
 * READDIRPLUS.  READ reads straight into the transport's reply buffer,
 * after the header (backend.h: the backend's pread).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "aio.h"
#include "log.h"
#include "notify.h"
#include "obs.h"
#include "ops_i.h"

/*
 * RFS_WANT_FD in a session that negotiated RFS_FEAT_PASSFD: the client
 * wants the file just opened, for the kernel's FUSE passthrough (its
 * reads and writes then skip both daemons).  It is sent before the
 * reply, tagged with the request id.  When that fails (the client does
 * not read its socket, a backend without descriptors) the open still
 * succeeds, without passthrough.  Not in split mode (--exec-thread): the
 * transport is the connection thread's alone.
 */
static uint32_t pass_fd(struct rfs_req *r, uint32_t want,
			const struct rfs_bfile *bf)
{
	int ret;

	if (!(want & RFS_WANT_FD) || !r->sess->passfd || bf->fd < 0 || bf->dir)
		return 0;
	ret = rfs_xprt_send_fd(r->cc->c, bf->fd, r->h->id);
	if (ret) {
		rfs_dbg(RFS_SUB_SERVER,
			"server: %s: passing an open file: %s; the client "
			"opens it without passthrough",
			rfs_conn_desc(r->cc->c), strerror(-ret));
		return 0;
	}
	rfs_obs_add(r->cc->obs, RFS_OBS_files_passed, 1);
	return RFS_OPEN_FD;
}

int rfs_op_open(struct rfs_req *r)
{
	const struct rfs_open_req *q = r->v.fixed;
	bool dir = r->h->opcode == RFS_OP_OPENDIR;
	/*
	 * O_NOFOLLOW must go: the node was looked up without following
	 * anything and we reopen it through its /proc/self/fd link, which
	 * O_NOFOLLOW would refuse (ELOOP).  Symlink nodes are refused below.
	 */
	int flags = (int)q->flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW);
	struct rfs_open_rep *p;
	struct rfs_bfile bf;
	struct rfs_node *n;
	uint64_t fh;
	int ret;

	if ((q->want & ~RFS_WANT_KNOWN) || (dir && q->want))
		return -EPROTO;
	ret = rfs_req_node(r, q->nodeid, &n);
	if (ret)
		return ret;
	if (dir) {
		flags = O_RDONLY | O_DIRECTORY;
	} else {
		if (r->exp->ro &&
		    ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
			return -EROFS;
		if (n->type == S_IFLNK)
			return -ELOOP;
	}
	ret = r->exp->be->open(n, flags, &bf);
	if (ret)
		return ret;
	ret = rfs_fh_add(r->sess, &bf, dir, flags, n->id, &fh);
	if (ret) {
		r->exp->be->close(&bf);
		return ret;
	}
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p) {
		rfs_fh_release(r->sess, fh);
		return r->mb.err;
	}
	p->fh = fh;
	p->open_flags = pass_fd(r, q->want, &bf);
	return 0;
}

/*
 * CREATE's answer: bf, node n's file opened with flags, becomes an fh of
 * the session
 */
static int create_reply(struct rfs_req *r, struct rfs_bfile *bf,
			struct rfs_node *n, int flags)
{
	struct rfs_create_rep *p;
	uint64_t fh;
	int ret;

	ret = rfs_fh_add(r->sess, bf, false, flags, n->id, &fh);
	if (ret) {
		r->exp->be->close(bf);
		return ret;
	}
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p) {
		ret = r->mb.err;
		goto err_release;
	}
	p->fh = fh;
	ret = rfs_fill_entry(&p->entry, n);
	if (!ret)
		ret = rfs_put_handle(&r->mb, n);
	if (ret)
		goto err_release;
	p->open_flags =
		pass_fd(r, ((const struct rfs_make_req *)r->v.fixed)->want, bf);
	return 0;
err_release:
	rfs_fh_release(r->sess, fh);
	return ret;
}

/* opening again what a CREATE made: neither create nor truncate */
#define REOPEN_DROP (O_CREAT | O_EXCL | O_TRUNC)

/*
 * A CREATE that ran before the server restarted (its reply is in the
 * reply log, its fh died with the old server): open the file it made
 * again, found by the handle in that reply, as the caller.
 */
static int create_redo(struct rfs_req *r, int flags)
{
	const struct rfs_hdr *h = r->stored;
	const struct rfs_create_rep *old;
	struct rfs_rep_view v;
	struct rfs_bfile bf;
	struct rfs_node *n;
	int ret;

	ret = rfs_proto_decode_rep(h, h + 1, RFS_OP_CREATE, &v);
	if (ret)
		return -EIO;
	old = v.fixed;
	rfs_creds_root(r->cc); /* open_by_handle_at */
	ret = rfs_node_resolve(r->exp, old->entry.nodeid, v.handle,
			       v.handle_len, &n);
	if (!ret)
		ret = rfs_caller_creds(r);
	if (ret)
		return ret;
	r->nodes[r->nnodes++] = n;
	ret = r->exp->be->open(n, flags & ~(REOPEN_DROP | O_NOFOLLOW), &bf);
	if (ret)
		return ret;
	return create_reply(r, &bf, n, flags);
}

int rfs_op_create(struct rfs_req *r)
{
	const struct rfs_make_req *q = r->v.fixed;
	char name[RFS_NAME_MAX + 1];
	int flags = ((int)q->flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC) &
		    ~O_NOCTTY;
	struct rfs_node *parent, *n;
	struct rfs_bfile bf;
	int ret;

	if (r->stored)
		return create_redo(r, flags);
	ret = rfs_req_parent(r, q->parent, &parent, name);
	if (ret)
		return ret;
	if (rfs_xonce_make(r, parent, name) == RFS_XONCE_RAN) {
		ret = r->exp->be->create(r->exp, parent, name,
					 flags & ~REOPEN_DROP, 0, &bf, &n);
	} else {
		ret = r->exp->be->create(r->exp, parent, name, flags,
					 (q->mode & ~q->umask) & 07777, &bf,
					 &n);
		/* O_EXCL: the original landed after the check? */
		if (rfs_xonce_again(r, ret, -EEXIST) &&
		    rfs_xonce_make(r, parent, name) == RFS_XONCE_RAN)
			ret = r->exp->be->create(r->exp, parent, name,
						 flags & ~REOPEN_DROP, 0, &bf,
						 &n);
	}
	if (ret)
		return ret;
	r->nodes[r->nnodes++] = n;
	rfs_notify_name(r->exp, n->id, parent->id, name,
			(uint32_t)strlen(name));
	return create_reply(r, &bf, n, flags);
}

int rfs_op_read(struct rfs_req *r)
{
	const struct rfs_io_req *q = r->v.fixed;
	struct rfs_fh *f;
	uint32_t size = q->size, room = r->mb.cap - r->mb.len;
	ssize_t n;
	int ret;

	ret = rfs_fh_get(r->sess, q->fh, &f);
	if (ret)
		return ret;
	if (size > room)
		size = room;
	if (q->offset > INT64_MAX) {
		ret = -EINVAL;
		goto out;
	}
	/* several reads at once: queued on the ring, answered later */
	if (r->exp->be->fd_io &&
	    rfs_aio_read(r, f, size, (off_t)q->offset) == 0)
		return 0;
	/* straight into the reply buffer */
	n = r->exp->be->pread(f, r->mb.frame + r->mb.len, size,
			      (off_t)q->offset);
	if (n < 0) {
		ret = (int)n;
		goto out;
	}
	r->mb.len += (uint32_t)n;
	ret = 0;
out:
	rfs_fh_put(r->sess, f);
	return ret;
}

/* the reply of WRITE and COPY_FILE_RANGE: n bytes written, or -errno */
static int reply_written(struct rfs_req *r, ssize_t n)
{
	struct rfs_write_rep *p;

	if (n < 0)
		return (int)n;
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p)
		return r->mb.err;
	p->written = (uint32_t)n;
	return 0;
}

int rfs_op_write(struct rfs_req *r)
{
	const struct rfs_io_req *q = r->v.fixed;
	struct rfs_fh *f;
	int ret;

	if (r->v.data_len != q->size)
		return -EINVAL;
	if (q->offset > INT64_MAX)
		return -EINVAL;
	ret = rfs_fh_get(r->sess, q->fh, &f);
	if (ret)
		return ret;
	/* an append is not idempotent: kept across a restart (xlog.h) */
	if (f->append &&
	    rfs_xonce_append(r, f, r->v.data, q->size) == RFS_XONCE_RAN)
		ret = reply_written(r, q->size);
	else
		ret = reply_written(r, r->exp->be->pwrite(f, r->v.data, q->size,
							  (off_t)q->offset));
	rfs_fh_put(r->sess, f);
	return ret;
}

int rfs_op_flush(struct rfs_req *r)
{
	const struct rfs_fh_req *q = r->v.fixed;

	rfs_locks_flush(r->sess, q->nodeid, q->lock_owner);
	return 0;
}

/* RELEASE, RELEASEDIR */
int rfs_op_release(struct rfs_req *r)
{
	const struct rfs_fh_req *q = r->v.fixed;
	struct rfs_fh *f;

	if (q->flags & RFS_RELEASE_FLOCK_UNLOCK) {
		if (!rfs_fh_get(r->sess, q->fh, &f)) {
			if (f->fd >= 0)
				flock(f->fd, LOCK_UN);
			rfs_fh_put(r->sess, f);
		}
	}
	return rfs_fh_release(r->sess, q->fh);
}

/* FSYNC, FSYNCDIR */
int rfs_op_fsync(struct rfs_req *r)
{
	const struct rfs_fh_req *q = r->v.fixed;
	struct rfs_fh *f;
	int ret;

	ret = rfs_fh_get(r->sess, q->fh, &f);
	if (ret)
		return ret;
	ret = r->exp->be->fsync(f, q->flags & RFS_FSYNC_DATASYNC);
	rfs_fh_put(r->sess, f);
	return ret;
}

/* ---- READDIRPLUS ------------------------------------------------------- */

static uint32_t rec_size(uint32_t name_len, uint32_t hlen)
{
	return ((uint32_t)sizeof(struct rfs_dirent) + name_len + hlen + 7) &
	       ~7u;
}

int rfs_put_dirent(struct rfs_req *r, struct rfs_node *n, const char *name,
		   uint64_t off, unsigned char dtype, uint64_t ino,
		   uint32_t budget_end)
{
	struct rfs_dirent *rec;
	uint32_t nlen = (uint32_t)strlen(name);
	int ret;

	if (r->mb.len + rec_size(nlen, n ? n->hlen : 0) > budget_end)
		return 1;
	rec = rfs_mb_put(&r->mb, sizeof(*rec));
	if (!rec)
		return r->mb.err;
	rec->off = off;
	rec->name_len = (uint16_t)nlen;
	rec->type = dtype;
	if (n && rfs_fill_entry(&rec->entry, n) == 0) {
		rfs_notify_name(r->exp, n->id,
				((const struct rfs_io_req *)r->v.fixed)->nodeid,
				name, nlen);
		ret = rfs_mb_put_bytes(&r->mb, name, nlen);
		if (!ret)
			ret = rfs_mb_put_bytes(&r->mb, n->handle, n->hlen);
	} else {
		memset(&rec->entry, 0, sizeof(rec->entry));
		rec->entry.attr.ino = ino;
		rec->entry.attr.mode = DTTOIF(dtype);
		ret = rfs_mb_put_bytes(&r->mb, name, nlen);
	}
	if (!ret)
		ret = rfs_mb_pad8(&r->mb);
	return ret;
}

int rfs_op_readdirplus(struct rfs_req *r)
{
	const struct rfs_io_req *q = r->v.fixed;
	uint32_t start = r->mb.len, budget_end;
	struct rfs_fh *f;
	bool full;
	int ret;

	ret = rfs_fh_get(r->sess, q->fh, &f);
	if (ret)
		return ret;
	if (!f->dir) {
		ret = -ENOTDIR;
		goto out_put;
	}
	budget_end = r->mb.cap;
	if (q->size < budget_end - start)
		budget_end = start + q->size;
	if (q->offset > INT64_MAX) {
		ret = -EINVAL;
		goto out_put;
	}
	pthread_mutex_lock(&f->mu);
	ret = r->exp->be->readdir(r, f, q->offset, budget_end);
	full = ret == 1;
	if (ret == 1)
		ret = 0;
	/* an error after some records: send what we have */
	if (ret && r->mb.len > start)
		ret = 0;
	/* a first record that does not fit at all */
	if (!ret && full && r->mb.len == start)
		ret = -EINVAL;
	pthread_mutex_unlock(&f->mu);
out_put:
	rfs_fh_put(r->sess, f);
	return ret;
}

/* ---- the rest ---------------------------------------------------------- */

int rfs_op_fallocate(struct rfs_req *r)
{
	const struct rfs_fallocate_req *q = r->v.fixed;
	struct rfs_fh *f;
	int ret;

	if (q->offset > INT64_MAX || q->length > INT64_MAX)
		return -EINVAL;
	ret = rfs_fh_get(r->sess, q->fh, &f);
	if (ret)
		return ret;
	ret = r->exp->be->fallocate(f, (int)q->mode, (off_t)q->offset,
				    (off_t)q->length);
	rfs_fh_put(r->sess, f);
	return ret;
}

int rfs_op_copy_file_range(struct rfs_req *r)
{
	const struct rfs_copy_req *q = r->v.fixed;
	struct rfs_fh *fi = NULL, *fo = NULL;
	off_t oi, oo;
	size_t len = q->len > (1u << 30) ? (1u << 30) : (size_t)q->len;
	ssize_t n;
	int ret;

	if (q->off_in > INT64_MAX || q->off_out > INT64_MAX)
		return -EINVAL;
	oi = (off_t)q->off_in;
	oo = (off_t)q->off_out;
	ret = rfs_fh_get(r->sess, q->fh_in, &fi);
	if (!ret)
		ret = rfs_fh_get(r->sess, q->fh_out, &fo);
	if (ret)
		goto out;
	n = r->exp->be->copy_file_range(fi, &oi, fo, &oo, len, q->flags);
	ret = reply_written(r, n);
out:
	rfs_fh_put(r->sess, fo);
	rfs_fh_put(r->sess, fi);
	return ret;
}

int rfs_op_lseek(struct rfs_req *r)
{
	const struct rfs_lseek_req *q = r->v.fixed;
	struct rfs_lseek_rep *p;
	struct rfs_fh *f;
	off_t off;
	int ret;

	ret = rfs_fh_get(r->sess, q->fh, &f);
	if (ret)
		return ret;
	off = r->exp->be->lseek(f, (off_t)q->offset, (int)q->whence);
	if (off < 0) {
		ret = (int)off;
		goto out;
	}
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p) {
		ret = r->mb.err;
		goto out;
	}
	p->offset = off;
out:
	rfs_fh_put(r->sess, f);
	return ret;
}
