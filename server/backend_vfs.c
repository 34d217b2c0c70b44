// SPDX-License-Identifier: MIT
/*
 * The vfs backend: an export is a local directory.  Nodes are O_PATH fds
 * and every path operation is *at()-relative to a node's fd, one
 * component, never following a symlink; "/proc/self/fd/N" is used only to
 * reach the node itself.  Handles are the kernel's file handles
 * (name_to_handle_at / open_by_handle_at), so they survive a restart.
 * READ preads straight into the transport's reply buffer, after the
 * header: the one copy is the kernel's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "log.h"
#include "ops_i.h"

#define HT_INO (-1) /* no kernel handle: (dev, ino), cannot RESOLVE */

/* what fits in the node's blob, and no more than the kernel hands out */
#define BLOB_FH_BYTES (RFS_HANDLE_MAX - 16u)
#define MAX_FH_BYTES \
	(BLOB_FH_BYTES < MAX_HANDLE_SZ ? BLOB_FH_BYTES : MAX_HANDLE_SZ)

/* ---- exports and nodes ------------------------------------------------ */

static bool vfs_claims(const char *path)
{
	return path[0] == '/';
}

static int vfs_parse(struct rfs_export *e)
{
	(void)e;
	return 0;
}

static int vfs_export_open(struct rfs_export *e)
{
	struct stat st;
	int fd;

	fd = open(e->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		rfs_err("config: export %s: %s: %s", e->name, e->path,
			err == ENOTDIR ? "not a directory" : strerror(err));
		return -err;
	}
	if (fstat(fd, &st) < 0) {
		int err = errno;

		rfs_err("config: export %s: stat %s: %s", e->name, e->path,
			strerror(err));
		close(fd);
		return -err;
	}
	e->root_fd = fd;
	e->dev = st.st_dev;
	e->mnt_fd = open(e->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->mnt_fd < 0) {
		int err = errno;

		rfs_err("config: export %s: open %s: %s", e->name, e->path,
			strerror(err));
		return -err;
	}
	return 0;
}

static void vfs_export_close(struct rfs_export *e)
{
	if (e->root_fd >= 0)
		close(e->root_fd);
	e->root_fd = -1;
	if (e->mnt_fd >= 0)
		close(e->mnt_fd);
	e->mnt_fd = -1;
}

static void vfs_node_close(struct rfs_node *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

/* the node for O_PATH fd `fd` (consumed in every case) */
static int node_from_fd(struct rfs_export *e, int fd, struct rfs_node **out)
{
	union {
		struct file_handle fh;
		uint8_t raw[sizeof(struct file_handle) + MAX_FH_BYTES];
	} u;
	uint8_t ino[16];
	struct stat st;
	int mnt;

	if (fstat(fd, &st) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	u.fh.handle_bytes = MAX_FH_BYTES;
	if (name_to_handle_at(fd, "", &u.fh, &mnt, AT_EMPTY_PATH) == 0)
		return rfs_node_make(e, u.fh.handle_type, u.fh.f_handle,
				     u.fh.handle_bytes, fd, NULL, st.st_mode,
				     out);
	/* no export support in this filesystem: an id, no RESOLVE */
	rfs_dbg(RFS_SUB_SERVER, "server: name_to_handle_at: %s",
		strerror(errno));
	memcpy(ino, &(uint64_t){ st.st_dev }, 8);
	memcpy(ino + 8, &(uint64_t){ st.st_ino }, 8);
	return rfs_node_make(e, HT_INO, ino, 16, fd, NULL, st.st_mode, out);
}

static int vfs_export_root(struct rfs_export *e, struct rfs_node **out)
{
	int fd = fcntl(e->root_fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	return node_from_fd(e, fd, out);
}

static int vfs_open_handle(struct rfs_export *e, int32_t htype,
			   const uint8_t *h, uint32_t len, struct rfs_node *n)
{
	union {
		struct file_handle fh;
		uint8_t raw[sizeof(struct file_handle) + MAX_FH_BYTES];
	} u;
	struct stat st;
	int fd;

	if (htype == HT_INO || len > MAX_FH_BYTES)
		return -ESTALE;
	u.fh.handle_bytes = len;
	u.fh.handle_type = htype;
	memcpy(u.fh.f_handle, h, len);
	fd = open_by_handle_at(e->mnt_fd, &u.fh, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		if (err == ENOMEM || err == EMFILE || err == ENFILE)
			return -err;
		rfs_dbg(RFS_SUB_SERVER, "server: open_by_handle_at: %s",
			strerror(err));
		return -ESTALE;
	}
	if (fstat(fd, &st) < 0 || st.st_dev != e->dev) {
		close(fd);
		return -ESTALE;
	}
	n->fd = fd;
	n->type = st.st_mode & S_IFMT;
	return 0;
}

static int vfs_lookup(struct rfs_export *e, struct rfs_node *p,
		      const char *name, struct rfs_node **out)
{
	int fd = openat(p->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return node_from_fd(e, fd, out);
}

static int vfs_getattr(struct rfs_node *n, struct stat *st)
{
	return fstat(n->fd, st) < 0 ? -errno : 0;
}

static int vfs_stat_at(struct rfs_node *p, const char *name, struct stat *st)
{
	return fstatat(p->fd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int vfs_setattr(struct rfs_node *n, struct rfs_fh *f,
		       const struct rfs_setattr_req *q)
{
	char path[32];
	int ret;

	rfs_fd_path(n->fd, path);
	if (q->valid & RFS_SA_MODE) {
		if (fchmodat(AT_FDCWD, path, q->mode & 07777, 0) < 0)
			return -errno;
	}
	if (q->valid & (RFS_SA_UID | RFS_SA_GID)) {
		uid_t uid = q->valid & RFS_SA_UID ? q->uid : (uid_t)-1;
		gid_t gid = q->valid & RFS_SA_GID ? q->gid : (gid_t)-1;

		if (fchownat(n->fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (q->valid & RFS_SA_SIZE) {
		if (f)
			ret = ftruncate(f->fd, (off_t)q->size);
		else
			ret = truncate(path, (off_t)q->size);
		if (ret < 0)
			return -errno;
	}
	if (q->valid & (RFS_SA_ATIME | RFS_SA_MTIME | RFS_SA_ATIME_NOW |
			RFS_SA_MTIME_NOW)) {
		struct timespec ts[2];

		rfs_setattr_times(q, ts);
		if (f)
			ret = futimens(f->fd, ts);
		else
			ret = utimensat(AT_FDCWD, path, ts, 0);
		if (ret < 0)
			return -errno;
	}
	return 0;
}

static ssize_t vfs_readlink(struct rfs_node *n, char *buf, size_t size)
{
	ssize_t len = readlinkat(n->fd, "", buf, size);

	return len < 0 ? -errno : len;
}

static int vfs_mkdir(struct rfs_node *p, const char *name, mode_t mode)
{
	return mkdirat(p->fd, name, mode & 07777) < 0 ? -errno : 0;
}

static int vfs_mknod(struct rfs_node *p, const char *name, mode_t mode,
		     dev_t rdev)
{
	return mknodat(p->fd, name, mode, rdev) < 0 ? -errno : 0;
}

static int vfs_symlink(struct rfs_node *p, const char *name, const char *target)
{
	return symlinkat(target, p->fd, name) < 0 ? -errno : 0;
}

static int vfs_unlink(struct rfs_node *p, const char *name, bool dir)
{
	return unlinkat(p->fd, name, dir ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
}

static int vfs_rename(struct rfs_node *p, const char *name, struct rfs_node *np,
		      const char *newname, unsigned flags)
{
	return renameat2(p->fd, name, np->fd, newname, flags) < 0 ? -errno : 0;
}

static int vfs_link(struct rfs_node *n, struct rfs_node *np, const char *name)
{
	char path[32];

	/*
	 * linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH, which the
	 * fsuid switch drops; the magic link of the node itself does not.
	 */
	rfs_fd_path(n->fd, path);
	if (linkat(AT_FDCWD, path, np->fd, name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return 0;
}

static int vfs_statfs(struct rfs_node *n, struct statvfs *sv)
{
	return fstatvfs(n->fd, sv) < 0 ? -errno : 0;
}

static int vfs_access(struct rfs_node *n, int mask)
{
	char path[32];

	/* AT_EACCESS: check with the fs credentials we switched to */
	rfs_fd_path(n->fd, path);
	return faccessat(AT_FDCWD, path, mask, AT_EACCESS) < 0 ? -errno : 0;
}

/*
 * xattrs through the node's /proc/self/fd path: the *xattr calls have no
 * fd-relative form that works on O_PATH fds
 */
static int vfs_setxattr(struct rfs_node *n, const char *name, const void *v,
			size_t size, int flags)
{
	char path[32];

	rfs_fd_path(n->fd, path);
	return setxattr(path, name, v, size, flags) < 0 ? -errno : 0;
}

static ssize_t vfs_getxattr(struct rfs_node *n, const char *name, void *buf,
			    size_t size)
{
	char path[32];
	ssize_t len;

	rfs_fd_path(n->fd, path);
	len = getxattr(path, name, buf, size);
	return len < 0 ? -errno : len;
}

static ssize_t vfs_listxattr(struct rfs_node *n, char *buf, size_t size)
{
	char path[32];
	ssize_t len;

	rfs_fd_path(n->fd, path);
	len = listxattr(path, buf, size);
	return len < 0 ? -errno : len;
}

static int vfs_removexattr(struct rfs_node *n, const char *name)
{
	char path[32];

	rfs_fd_path(n->fd, path);
	return removexattr(path, name) < 0 ? -errno : 0;
}

/* ---- open files ------------------------------------------------------- */

static int vfs_open(struct rfs_node *n, int flags, struct rfs_bfile *out)
{
	int fd = rfs_reopen(n->fd, flags);

	if (fd < 0)
		return fd;
	out->fd = fd;
	out->obj = NULL;
	out->dir = (flags & O_DIRECTORY) != 0;
	return 0;
}

static int vfs_create(struct rfs_export *e, struct rfs_node *p,
		      const char *name, int flags, mode_t mode,
		      struct rfs_bfile *out, struct rfs_node **node)
{
	int fd, pfd, ret;

	fd = openat(p->fd, name, flags, mode);
	if (fd < 0)
		return -errno;
	pfd = rfs_reopen(fd, O_PATH);
	if (pfd < 0) {
		close(fd);
		return pfd;
	}
	ret = node_from_fd(e, pfd, node);
	if (ret) {
		close(fd);
		return ret;
	}
	out->fd = fd;
	out->obj = NULL;
	out->dir = false;
	return 0;
}

static void vfs_close(const struct rfs_bfile *bf)
{
	if (bf->fd >= 0)
		close(bf->fd);
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

static ssize_t vfs_pread(struct rfs_fh *f, void *buf, size_t len, off_t off)
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

static ssize_t vfs_pwrite(struct rfs_fh *f, const void *buf, size_t len,
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

static int vfs_fsync(struct rfs_fh *f, bool datasync)
{
	int ret = datasync ? fdatasync(f->fd) : fsync(f->fd);

	return ret < 0 ? -errno : 0;
}

struct dent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* one getdents64 record: its node (when it can be had) and its record */
static int vfs_dirent(struct rfs_req *r, int dfd, const struct dent64 *d,
		      uint32_t budget_end)
{
	struct rfs_node *n = NULL;
	bool dot = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");
	int fd, ret;

	if (!dot) {
		fd = openat(dfd, d->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		/* raced with unlink, or no permission: pass it bare */
		if (fd >= 0 && node_from_fd(r->exp, fd, &n))
			n = NULL;
	}
	ret = rfs_put_dirent(r, n, d->d_name, (uint64_t)d->d_off, d->d_type,
			     d->d_ino, budget_end);
	rfs_node_put(n);
	return ret;
}

static int vfs_readdir(struct rfs_req *r, struct rfs_fh *f, uint64_t off,
		       uint32_t budget_end)
{
	uint8_t *dbuf = r->cc->dbuf;
	bool full = false;
	int ret = 0;

	if (!f->pos_valid || f->pos != off) {
		if (lseek(f->fd, (off_t)off, SEEK_SET) < 0)
			return -errno;
		f->pos = off;
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

			ret = vfs_dirent(r, f->fd, d, budget_end);
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
	return ret;
}

static int vfs_fallocate(struct rfs_fh *f, int mode, off_t off, off_t len)
{
	return fallocate(f->fd, mode, off, len) < 0 ? -errno : 0;
}

static ssize_t vfs_copy_file_range(struct rfs_fh *fi, off_t *oi,
				   struct rfs_fh *fo, off_t *oo, size_t len,
				   unsigned flags)
{
	ssize_t n = copy_file_range(fi->fd, oi, fo->fd, oo, len, flags);

	return n < 0 ? -errno : n;
}

static off_t vfs_lseek(struct rfs_fh *f, off_t off, int whence)
{
	off_t ret = lseek(f->fd, off, whence);

	return ret < 0 ? -errno : ret;
}

const struct rfs_backend rfs_backend_vfs = {
	.name = "vfs",
	.claims = vfs_claims,
	.parse = vfs_parse,
	.export_open = vfs_export_open,
	.export_root = vfs_export_root,
	.export_close = vfs_export_close,
	.node_close = vfs_node_close,
	.open_handle = vfs_open_handle,
	.lookup = vfs_lookup,
	.getattr = vfs_getattr,
	.stat_at = vfs_stat_at,
	.setattr = vfs_setattr,
	.readlink = vfs_readlink,
	.mkdir = vfs_mkdir,
	.mknod = vfs_mknod,
	.symlink = vfs_symlink,
	.unlink = vfs_unlink,
	.rename = vfs_rename,
	.link = vfs_link,
	.statfs = vfs_statfs,
	.access = vfs_access,
	.setxattr = vfs_setxattr,
	.getxattr = vfs_getxattr,
	.listxattr = vfs_listxattr,
	.removexattr = vfs_removexattr,
	.open = vfs_open,
	.create = vfs_create,
	.close = vfs_close,
	.pread = vfs_pread,
	.pwrite = vfs_pwrite,
	.fsync = vfs_fsync,
	.readdir = vfs_readdir,
	.fallocate = vfs_fallocate,
	.copy_file_range = vfs_copy_file_range,
	.lseek = vfs_lseek,
	.fd_io = true,
};
