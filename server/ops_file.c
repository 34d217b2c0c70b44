// SPDX-License-Identifier: MIT
/*
 * Op handlers, part 2: open files and directories (fh ops), I/O and
 * READDIRPLUS.  READ preads straight into the transport's reply buffer,
 * after the header: the one copy is the kernel's.
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
#include "ops_i.h"

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
	struct rfs_node *n;
	uint64_t fh;
	int fd, ret;

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
	fd = rfs_reopen(n->fd, flags);
	if (fd < 0)
		return fd;
	ret = rfs_fh_add(r->sess, fd, dir, flags, n->id, &fh);
	if (ret) {
		close(fd);
		return ret;
	}
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p) {
		rfs_fh_release(r->sess, fh);
		return r->mb.err;
	}
	p->fh = fh;
	return 0;
}

/* CREATE's answer: fd, opened with flags, becomes an fh of the session */
static int create_reply(struct rfs_req *r, int fd, int flags)
{
	struct rfs_create_rep *p;
	struct rfs_node *n;
	uint64_t fh;
	int pfd, ret;

	pfd = rfs_reopen(fd, O_PATH);
	if (pfd < 0) {
		close(fd);
		return pfd;
	}
	ret = rfs_node_from_fd(r->exp, pfd, &n);
	if (ret) {
		close(fd);
		return ret;
	}
	r->nodes[r->nnodes++] = n;
	ret = rfs_fh_add(r->sess, fd, false, flags, n->id, &fh);
	if (ret) {
		close(fd);
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
	struct rfs_node *n;
	int fd, ret;

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
	fd = rfs_reopen(n->fd, flags & ~(REOPEN_DROP | O_NOFOLLOW));
	if (fd < 0)
		return fd;
	return create_reply(r, fd, flags);
}

int rfs_op_create(struct rfs_req *r)
{
	const struct rfs_make_req *q = r->v.fixed;
	char name[RFS_NAME_MAX + 1];
	int flags = ((int)q->flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC) &
		    ~O_NOCTTY;
	struct rfs_node *parent;
	int fd, ret;

	if (r->stored)
		return create_redo(r, flags);
	ret = rfs_req_parent(r, q->parent, &parent, name);
	if (ret)
		return ret;
	if (rfs_xonce_make(r, parent->fd, name) == RFS_XONCE_RAN)
		fd = openat(parent->fd, name, flags & ~REOPEN_DROP);
	else
		fd = openat(parent->fd, name, flags,
			    (q->mode & ~q->umask) & 07777);
	if (fd < 0)
		return -errno;
	return create_reply(r, fd, flags);
}

/*
 * O_DIRECT end to end: a file the application opened O_DIRECT is opened
 * O_DIRECT here too, so a direct read measures the disk and the network,
 * not this server's page cache.  The kernel then wants the memory
 * aligned to the device's block size, which a transport frame (48-byte
 * header first) cannot give: such I/O goes through a per-thread bounce
 * buffer aligned to a page.  Offset and length stay the application's
 * business: unaligned ones get EINVAL from the kernel, as they would on a
 * local file (and through libfuse's passthrough_ll).
 */
#define DIRECT_ALIGN 4096u

static _Thread_local void *bounce;
static _Thread_local size_t bounce_cap;
/* frees a thread's bounce buffer when the thread ends */
static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;
static int bounce_key_err;

static void bounce_key_init(void)
{
	bounce_key_err = pthread_key_create(&bounce_key, free);
}

static void *bounce_get(size_t len)
{
	size_t want = (len + DIRECT_ALIGN - 1) & ~(size_t)(DIRECT_ALIGN - 1);
	void *p;

	if (want <= bounce_cap)
		return bounce;
	pthread_once(&bounce_once, bounce_key_init);
	if (bounce_key_err)
		return NULL;
	if (posix_memalign(&p, DIRECT_ALIGN, want))
		return NULL;
	if (pthread_setspecific(bounce_key, p)) {
		free(p);
		return NULL;
	}
	free(bounce);
	bounce = p;
	bounce_cap = want;
	return p;
}

static bool needs_bounce(const struct rfs_fh *f, const void *buf)
{
	return f->direct && ((uintptr_t)buf & (DIRECT_ALIGN - 1));
}

static ssize_t file_pread(struct rfs_fh *f, void *buf, size_t len, off_t off)
{
	void *dst = buf;
	ssize_t n;

	if (needs_bounce(f, buf)) {
		dst = bounce_get(len);
		if (!dst)
			return -ENOMEM;
	}
	do {
		n = pread(f->fd, dst, len, off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (dst != buf)
		memcpy(buf, dst, (size_t)n);
	return n;
}

static ssize_t file_pwrite(struct rfs_fh *f, const void *buf, size_t len,
			   off_t off)
{
	const void *src = buf;
	ssize_t n;

	if (needs_bounce(f, buf)) {
		void *b = bounce_get(len);

		if (!b)
			return -ENOMEM;
		memcpy(b, buf, len);
		src = b;
	}
	do {
		n = pwrite(f->fd, src, len, off);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
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
	if (rfs_aio_read(r, f, size, (off_t)q->offset) == 0)
		return 0;
	/* straight into the reply buffer */
	n = file_pread(f, r->mb.frame + r->mb.len, size, (off_t)q->offset);
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
	    rfs_xonce_append(r, f->fd, r->v.data, q->size) == RFS_XONCE_RAN)
		ret = reply_written(r, q->size);
	else
		ret = reply_written(r, file_pwrite(f, r->v.data, q->size,
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
	if (q->flags & RFS_FSYNC_DATASYNC)
		ret = fdatasync(f->fd);
	else
		ret = fsync(f->fd);
	ret = ret < 0 ? -errno : 0;
	rfs_fh_put(r->sess, f);
	return ret;
}

/* ---- READDIRPLUS ------------------------------------------------------- */

struct dent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static uint32_t rec_size(uint32_t name_len, uint32_t hlen)
{
	return ((uint32_t)sizeof(struct rfs_dirent) + name_len + hlen + 7) &
	       ~7u;
}

/* one record; returns 1 when it did not fit */
static int put_dirent(struct rfs_req *r, int dfd, const struct dent64 *d,
		      uint32_t budget_end)
{
	struct rfs_node *n = NULL;
	struct rfs_dirent *rec;
	uint32_t nlen = (uint32_t)strlen(d->d_name);
	bool dot = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");
	int fd, ret = 0;

	if (!dot) {
		fd = openat(dfd, d->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		/* raced with unlink, or no permission: pass it bare */
		if (fd >= 0 && rfs_node_from_fd(r->exp, fd, &n))
			n = NULL;
	}
	if (r->mb.len + rec_size(nlen, n ? n->hlen : 0) > budget_end) {
		ret = 1;
		goto out;
	}
	rec = rfs_mb_put(&r->mb, sizeof(*rec));
	if (!rec) {
		ret = r->mb.err;
		goto out;
	}
	rec->off = (uint64_t)d->d_off;
	rec->name_len = (uint16_t)nlen;
	rec->type = d->d_type;
	if (n && rfs_fill_entry(&rec->entry, n) == 0) {
		ret = rfs_mb_put_bytes(&r->mb, d->d_name, nlen);
		if (!ret)
			ret = rfs_mb_put_bytes(&r->mb, n->handle, n->hlen);
	} else {
		memset(&rec->entry, 0, sizeof(rec->entry));
		rec->entry.attr.ino = d->d_ino;
		rec->entry.attr.mode = DTTOIF(d->d_type);
		ret = rfs_mb_put_bytes(&r->mb, d->d_name, nlen);
	}
	if (!ret)
		ret = rfs_mb_pad8(&r->mb);
out:
	rfs_node_put(n);
	return ret;
}

int rfs_op_readdirplus(struct rfs_req *r)
{
	const struct rfs_io_req *q = r->v.fixed;
	uint8_t *dbuf = r->cc->dbuf;
	uint32_t start = r->mb.len, budget_end;
	struct rfs_fh *f;
	bool full = false;
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
	if (!f->pos_valid || f->pos != q->offset) {
		if (lseek(f->fd, (off_t)q->offset, SEEK_SET) < 0) {
			ret = -errno;
			goto out_unlock;
		}
		f->pos = q->offset;
		f->pos_valid = true;
	}
	while (!full) {
		long n = syscall(SYS_getdents64, f->fd, dbuf, DBUF_SIZE);

		if (n < 0) {
			ret = -errno;
			f->pos_valid = false;
			break;
		}
		if (n == 0)
			break;
		for (long pos = 0; pos < n;) {
			const struct dent64 *d = (const void *)(dbuf + pos);

			ret = put_dirent(r, f->fd, d, budget_end);
			if (ret) {
				/* the kernel read ahead of what we sent */
				f->pos_valid = false;
				full = true;
				break;
			}
			f->pos = (uint64_t)d->d_off;
			pos += d->d_reclen;
		}
	}
	if (ret == 1)
		ret = 0;
	/* an error after some records: send what we have */
	if (ret && r->mb.len > start)
		ret = 0;
	/* a first record that does not fit at all */
	if (!ret && full && r->mb.len == start)
		ret = -EINVAL;
out_unlock:
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
	ret = fallocate(f->fd, (int)q->mode, (off_t)q->offset,
			(off_t)q->length);
	ret = ret < 0 ? -errno : 0;
	rfs_fh_put(r->sess, f);
	return ret;
}

int rfs_op_copy_file_range(struct rfs_req *r)
{
	const struct rfs_copy_req *q = r->v.fixed;
	struct rfs_fh *fi = NULL, *fo = NULL;
	loff_t oi, oo;
	size_t len = q->len > (1u << 30) ? (1u << 30) : (size_t)q->len;
	ssize_t n;
	int ret;

	if (q->off_in > INT64_MAX || q->off_out > INT64_MAX)
		return -EINVAL;
	oi = (loff_t)q->off_in;
	oo = (loff_t)q->off_out;
	ret = rfs_fh_get(r->sess, q->fh_in, &fi);
	if (!ret)
		ret = rfs_fh_get(r->sess, q->fh_out, &fo);
	if (ret)
		goto out;
	n = copy_file_range(fi->fd, &oi, fo->fd, &oo, len, q->flags);
	ret = reply_written(r, n < 0 ? -errno : n);
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
	off = lseek(f->fd, (off_t)q->offset, (int)q->whence);
	if (off < 0) {
		ret = -errno;
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
