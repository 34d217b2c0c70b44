/* SPDX-License-Identifier: MIT */
/*
 * backend.h: what an export is stored on.  ringfsd's handlers (ops.c,
 * ops_file.c) do the protocol: decode, checks, squash, the reply; the
 * backend does the storage, on handles: a node (struct rfs_node, the
 * node table's entry) and an open file (struct rfs_fh).  One file per
 * backend with one static const ops table, listed in rfs_backends[]
 * (backend.c), chosen per export by the export's path:
 *
 *   vfs      an absolute path: a local directory (backend_vfs.c), nodes
 *            are O_PATH fds, handles the kernel's file handles
 *   gluster  gluster://HOST[:PORT]/VOLUME[/SUBDIR] (backend_gluster.c,
 *            -Dgluster): nodes are libgfapi objects, handles GFIDs
 *
 * Every function returns 0 (or a count) or -errno, the storage's errno
 * unchanged.  Names are one component (the protocol refuses "/", "." and
 * ".."); nothing follows a symlink.  A node's handle bytes (what RESOLVE
 * gets back, sealed by node.c with the export index and a MAC) come
 * from lookup (rfs_node_make), and open_handle turns them back into a
 * node after an eviction or a restart.
 */
#ifndef RFS_BACKEND_H
#define RFS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

struct rfs_export;
struct rfs_node;
struct rfs_fh;
struct rfs_req;
struct rfs_setattr_req;
struct flock;

/* an open file or directory as the backend made it */
struct rfs_bfile {
	int fd;	   /* vfs: the descriptor; -1 otherwise */
	void *obj; /* other backends' open file, or NULL */
	bool dir;  /* a directory (opened O_DIRECTORY) */
};

struct rfs_backend {
	const char *name;
	/* does this export path name this backend? */
	bool (*claims)(const char *path);
	/* check the path (config time: no I/O) */
	int (*parse)(struct rfs_export *e);
	/* at startup, before the signal setup: open what the export needs */
	int (*export_open)(struct rfs_export *e);
	/* after it, with the node table up: the root node (a reference) */
	int (*export_root)(struct rfs_export *e, struct rfs_node **out);
	void (*export_close)(struct rfs_export *e);
	/* the calling thread's credentials for what it does next */
	int (*creds)(uint32_t uid, uint32_t gid, const uint32_t *groups,
		     uint32_t n);

	/* ---- nodes ---- */
	void (*node_close)(struct rfs_node *n);
	/* RESOLVE: handle bytes of type htype back into n->fd/obj/type */
	int (*open_handle)(struct rfs_export *e, int32_t htype,
			   const uint8_t *h, uint32_t len, struct rfs_node *n);
	/* name in p, not followed: a reference in *out */
	int (*lookup)(struct rfs_export *e, struct rfs_node *p,
		      const char *name, struct rfs_node **out);
	int (*getattr)(struct rfs_node *n, struct stat *st);
	/*
	 * name in p, not followed, without making a node (the reply log's
	 * before-and-after checks, xonce.c); st_ino is stable volume-wide
	 */
	int (*stat_at)(struct rfs_node *p, const char *name, struct stat *st);
	/* SETATTR's changes (checked by the handler); f: the open file or NULL */
	int (*setattr)(struct rfs_node *n, struct rfs_fh *f,
		       const struct rfs_setattr_req *q);
	/* bytes of the target, not terminated */
	ssize_t (*readlink)(struct rfs_node *n, char *buf, size_t size);
	int (*mkdir)(struct rfs_node *p, const char *name, mode_t mode);
	int (*mknod)(struct rfs_node *p, const char *name, mode_t mode,
		     dev_t rdev);
	int (*symlink)(struct rfs_node *p, const char *name,
		       const char *target);
	/* UNLINK (dir false), RMDIR (dir true) */
	int (*unlink)(struct rfs_node *p, const char *name, bool dir);
	int (*rename)(struct rfs_node *p, const char *name, struct rfs_node *np,
		      const char *newname, unsigned flags);
	int (*link)(struct rfs_node *n, struct rfs_node *np, const char *name);
	int (*statfs)(struct rfs_node *n, struct statvfs *sv);
	/* as the caller's credentials (AT_EACCESS) */
	int (*access)(struct rfs_node *n, int mask);
	int (*setxattr)(struct rfs_node *n, const char *name, const void *v,
			size_t size, int flags);
	/* size 0: the size it would need */
	ssize_t (*getxattr)(struct rfs_node *n, const char *name, void *buf,
			    size_t size);
	ssize_t (*listxattr)(struct rfs_node *n, char *buf, size_t size);
	int (*removexattr)(struct rfs_node *n, const char *name);

	/* ---- open files ---- */
	/* open n (flags: already without O_CREAT/O_EXCL/O_NOFOLLOW) */
	int (*open)(struct rfs_node *n, int flags, struct rfs_bfile *out);
	/*
	 * CREATE: name in p with flags (O_CREAT...) and mode; *node: a
	 * reference to what was opened
	 */
	int (*create)(struct rfs_export *e, struct rfs_node *p,
		      const char *name, int flags, mode_t mode,
		      struct rfs_bfile *out, struct rfs_node **node);
	void (*close)(const struct rfs_bfile *bf);
	ssize_t (*pread)(struct rfs_fh *f, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(struct rfs_fh *f, const void *buf, size_t len,
			  off_t off);
	int (*fsync)(struct rfs_fh *f, bool datasync);
	/*
	 * READDIRPLUS from cookie off: records through rfs_put_dirent until
	 * it says full (1) or the directory ends; f->mu held
	 */
	int (*readdir)(struct rfs_req *r, struct rfs_fh *f, uint64_t off,
		       uint32_t budget_end);
	int (*fallocate)(struct rfs_fh *f, int mode, off_t off, off_t len);
	ssize_t (*copy_file_range)(struct rfs_fh *fi, off_t *oi,
				   struct rfs_fh *fo, off_t *oo, size_t len,
				   unsigned flags);
	off_t (*lseek)(struct rfs_fh *f, off_t off, int whence);

	/*
	 * POSIX locks of a backend without fd_io (lock.c; NULL: ENOSYS): an
	 * open file of n that carries the locks of (session, owner), and a
	 * lock call on it (cmd: F_GETLK, F_SETLK or F_SETLKW)
	 */
	int (*lock_open)(struct rfs_node *n, uint64_t session, uint64_t owner,
			 struct rfs_bfile *out);
	int (*lock)(const struct rfs_bfile *bf, int cmd, struct flock *fl);

	/* capabilities */
	bool fd_io; /* nodes and files are kernel fds: the connection's
			   io_uring reads (aio.c), OFD locks (lock.c) */
};

/* the backends built, vfs first (backend.c) */
extern const struct rfs_backend *const rfs_backends[];
/* the backend that serves an export path, or NULL */
const struct rfs_backend *rfs_backend_for(const char *path);
/* "vfs, gluster": the names built */
const char *rfs_backend_names(void);

extern const struct rfs_backend rfs_backend_vfs;
#if defined(HAVE_GLUSTER) && HAVE_GLUSTER
extern const struct rfs_backend rfs_backend_gluster;
#endif

/*
 * node.c: the node for a backend handle (type, bytes) with the backend's
 * fd (vfs) or object; both consumed in every case (node_close on error or
 * when the table has the node already).  *out holds a reference.
 */
int rfs_node_make(struct rfs_export *e, int32_t htype, const void *h,
		  uint32_t hlen, int fd, void *obj, mode_t type,
		  struct rfs_node **out);

/* ops_file.c: one READDIRPLUS record (n NULL: a bare one); 1: full */
int rfs_put_dirent(struct rfs_req *r, struct rfs_node *n, const char *name,
		   uint64_t off, unsigned char dtype, uint64_t ino,
		   uint32_t budget_end);

#endif /* RFS_BACKEND_H */
