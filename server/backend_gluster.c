// SPDX-License-Identifier: MIT
/*
 * The gluster backend: an export is a GlusterFS volume (or a directory
 * of one), served through libgfapi's handle API.  Export path:
 *
 *   gluster://HOST[:PORT]/VOLUME[/SUBDIR]
 *
 * HOST:PORT is a glusterd that hands out the volume's layout (24007 by
 * default).  Nodes are glfs objects, their handles the GFIDs (16 bytes,
 * stable for the life of the file, so handles survive a restart of this
 * gateway and are the same on every gateway of the volume); open files
 * are glfs fds.  Credentials are libgfapi's per-thread ones
 * (glfs_setfsuid/setfsgid/setfsgroups), set with the kernel's by ops.c.
 * Confinement is the vfs backend's: names are one component, never "."
 * or ".." (the protocol refuses them), nothing follows a symlink, and a
 * handle is only honoured when node.c's MAC for this export says this
 * server issued it, i.e. it was reached by lookups from the export's root.
 *
 * POSIX locks are gluster's (glfs_posix_lock), so they hold across
 * gateways.  Not here (backend.h, fd_io false): the connection's io_uring
 * reads (a READ is a glfs_pread into the reply buffer), BSD locks (FLOCK
 * answers ENOSYS: the kernel keeps them local to each client,
 * doc/scale-out.md), the reply log's before/after checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <glusterfs/api/glfs-handles.h>
#include <glusterfs/api/glfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "ops_i.h"

#define HT_GFID 0x47465331 /* handle type of a GFID blob: "GFS1" */
#define GLUSTERD_PORT 24007

struct gl_export {
	char host[256];
	int port;
	char volume[256];
	char subdir[1024]; /* "" or "/a/b" */
	glfs_t *fs;
	bool upcalls; /* glfs_upcall_register done */
};

static glfs_t *fs_of(const struct rfs_node *n)
{
	return ((struct gl_export *)rfs_cfg.exports[n->exp].bpriv)->fs;
}

static int err_or(int fallback)
{
	return errno ? -errno : -fallback;
}

/* ---- exports ----------------------------------------------------------- */

static bool gl_claims(const char *path)
{
	return !strncmp(path, "gluster://", 10);
}

static int bad_url(const struct rfs_export *e, const char *why)
{
	rfs_err("config: export %s: %s: %s (expected "
		"gluster://HOST[:PORT]/VOLUME[/SUBDIR])",
		e->name, e->path, why);
	return -EINVAL;
}

static int gl_parse(struct rfs_export *e)
{
	const char *p = e->path + 10, *slash, *colon, *vol, *vend;
	struct gl_export *g;
	size_t hlen;

	slash = strchr(p, '/');
	if (slash == p || !*p)
		return bad_url(e, "no host");
	if (!slash)
		return bad_url(e, "no volume");
	colon = memchr(p, ':', (size_t)(slash - p));
	hlen = (size_t)((colon ? colon : slash) - p);
	vol = slash + 1;
	vend = strchr(vol, '/');
	if (!vend)
		vend = vol + strlen(vol);
	if (vend == vol)
		return bad_url(e, "no volume");
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	if (hlen >= sizeof(g->host) ||
	    (size_t)(vend - vol) >= sizeof(g->volume) ||
	    strlen(vend) >= sizeof(g->subdir)) {
		free(g);
		return bad_url(e, "too long");
	}
	memcpy(g->host, p, hlen);
	g->port = GLUSTERD_PORT;
	if (colon) {
		char *end;
		long port = strtol(colon + 1, &end, 10);

		if (end != slash || port <= 0 || port > 65535) {
			free(g);
			return bad_url(e, "bad port");
		}
		g->port = (int)port;
	}
	memcpy(g->volume, vol, (size_t)(vend - vol));
	strcpy(g->subdir, vend);
	/* "/a/b/" is "/a/b"; "/" is the volume's root */
	while (strlen(g->subdir) > 0 && g->subdir[strlen(g->subdir) - 1] == '/')
		g->subdir[strlen(g->subdir) - 1] = 0;
	if (strstr(g->subdir, "/..") || strstr(g->subdir, "/./") ||
	    !strcmp(g->subdir +
			    (strlen(g->subdir) > 1 ? strlen(g->subdir) - 2 : 0),
		    "/.")) {
		free(g);
		return bad_url(e, "\".\" or \"..\" in the directory");
	}
	e->bpriv = g;
	return 0;
}

/* the volume is connected in export_root: libgfapi starts threads */
static int gl_export_open(struct rfs_export *e)
{
	(void)e;
	return 0;
}

static int gl_node(struct rfs_export *e, struct glfs_object *obj,
		   const struct stat *st, struct rfs_node **out)
{
	unsigned char gfid[GFAPI_HANDLE_LENGTH];

	if (glfs_h_extract_handle(obj, gfid, sizeof(gfid)) < 0) {
		int ret = err_or(EIO);

		glfs_h_close(obj);
		return ret;
	}
	return rfs_node_make(e, HT_GFID, gfid, sizeof(gfid), -1, obj,
			     st->st_mode, out);
}

/* ---- upcalls: changes made through other gluster clients ---------------- */

/* one object of an upcall as a change of export e (notify.h) */
static void up_object(struct rfs_export *e, struct glfs_object *obj,
		      unsigned what)
{
	unsigned char gfid[GFAPI_HANDLE_LENGTH];

	if (obj && glfs_h_extract_handle(obj, gfid, sizeof(gfid)) >= 0)
		rfs_notify_changed(e, HT_GFID, gfid, sizeof(gfid), what);
}

/*
 * libgfapi calls this on its own thread for each INODE_INVALIDATE the
 * bricks send (features.cache-invalidation on the volume): another
 * client changed an inode this gateway used lately.  The object changed
 * (attributes, data; with NLINK or RENAME its name too), and so did its
 * parent directories when the flags say their times changed (an entry
 * made or removed).  rfs_notify_changed only queues: nothing here waits.
 */
static void gl_upcall(glfs_upcall_t *up, void *data)
{
	struct rfs_export *e = data;
	glfs_upcall_inode_t *in;
	uint32_t flags;

	if (glfs_upcall_get_reason(up) != GLFS_UPCALL_INODE_INVALIDATE)
		goto out;
	in = glfs_upcall_get_event(up);
	if (!in)
		goto out;
	flags = glfs_upcall_inode_get_flags(in);
	rfs_dbg(RFS_SUB_SERVER, "server: export %s: gluster upcall flags %#x",
		e->name, (unsigned)flags);
	up_object(e, glfs_upcall_inode_get_object(in),
		  RFS_NTF_ATTR | ((flags & (GFAPI_UP_NLINK | GFAPI_UP_RENAME |
					    GFAPI_UP_FORGET)) ?
					  RFS_NTF_NAME :
					  0));
	if (flags & (GFAPI_UP_PARENT_TIMES | GFAPI_UP_RENAME)) {
		up_object(e, glfs_upcall_inode_get_pobject(in), RFS_NTF_ATTR);
		up_object(e, glfs_upcall_inode_get_oldpobject(in),
			  RFS_NTF_ATTR);
	}
out:
	glfs_free(up);
}

static void upcalls_start(struct rfs_export *e, struct gl_export *g)
{
	if (rfs_notify_export(e))
		return;
	if (glfs_upcall_register(g->fs, GLFS_EVENT_INODE_INVALIDATE, gl_upcall,
				 e) < 0) {
		e->notify = false;
		rfs_warn("config: export %s: gluster upcalls unavailable "
			 "(glfs_upcall_register: %s): clients see changes "
			 "made elsewhere after their cache timeouts",
			 e->name, strerror(errno));
		return;
	}
	g->upcalls = true;
}

static int gl_export_root(struct rfs_export *e, struct rfs_node **out)
{
	struct gl_export *g = e->bpriv;
	struct glfs_object *root;
	char log[1100];
	struct stat st;
	int ret;

	g->fs = glfs_new(g->volume);
	if (!g->fs) {
		rfs_err("config: export %s: glfs_new(%s): %s", e->name,
			g->volume, strerror(errno));
		return err_or(ENOMEM);
	}
	if (glfs_set_volfile_server(g->fs, "tcp", g->host, g->port) < 0) {
		ret = err_or(EINVAL);
		rfs_err("config: export %s: volfile server %s:%d: %s", e->name,
			g->host, g->port, strerror(-ret));
		return ret;
	}
	/*
	 * A WRITE's reply says the data left this gateway, as a vfs export's
	 * says it reached the server's page cache.  libgfapi's write-behind
	 * would answer first and send the data later, so a kill -9 of this
	 * gateway between the two (a failover) would lose an acknowledged
	 * write.  Its pass-through leaves it in the graph doing nothing,
	 * whatever the volume's performance.write-behind says.
	 */
	if (glfs_set_xlator_option(g->fs, "*-write-behind", "pass-through",
				   "true") < 0) {
		ret = err_or(EINVAL);
		rfs_err("config: export %s: cannot turn gluster's write-behind "
			"off (glfs_set_xlator_option): %s",
			e->name, strerror(-ret));
		return ret;
	}
	/* libgfapi's own log: errors only, in the state directory */
	snprintf(log, sizeof(log), "%s/gfapi-%s.log", rfs_cfg.state_dir,
		 e->name);
	glfs_set_logging(g->fs, log, 4);
	if (glfs_init(g->fs) < 0) {
		ret = err_or(EIO);
		rfs_err("config: export %s: cannot reach volume %s at "
			"glusterd %s:%d: %s (is the volume started? see %s)",
			e->name, g->volume, g->host, g->port, strerror(-ret),
			log);
		return ret;
	}
	root = glfs_h_lookupat(g->fs, NULL, g->subdir[0] ? g->subdir : "/", &st,
			       0);
	if (!root) {
		ret = err_or(ENOENT);
		rfs_err("config: export %s: %s on volume %s: %s", e->name,
			g->subdir[0] ? g->subdir : "/", g->volume,
			strerror(-ret));
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		glfs_h_close(root);
		rfs_err("config: export %s: %s: not a directory", e->name,
			g->subdir);
		return -ENOTDIR;
	}
	upcalls_start(e, g);
	return gl_node(e, root, &st, out);
}

static void gl_export_close(struct rfs_export *e)
{
	struct gl_export *g = e->bpriv;

	if (!g)
		return;
	if (g->fs && g->upcalls &&
	    glfs_upcall_unregister(g->fs, GLFS_EVENT_ANY) < 0)
		rfs_warn("server: export %s: glfs_upcall_unregister: %s",
			 e->name, strerror(errno));
	if (g->fs)
		glfs_fini(g->fs);
	free(g);
	e->bpriv = NULL;
}

static int gl_creds(uint32_t uid, uint32_t gid, const uint32_t *groups,
		    uint32_t n)
{
	gid_t g = gid;

	if (glfs_setfsuid(uid) < 0 || glfs_setfsgid(gid) < 0 ||
	    glfs_setfsgroups(n ? n : 1, n ? (const gid_t *)groups : &g) < 0)
		return err_or(EPERM);
	return 0;
}

/* ---- nodes ------------------------------------------------------------- */

static void gl_node_close(struct rfs_node *n)
{
	if (n->obj)
		glfs_h_close(n->obj);
	n->obj = NULL;
}

static int gl_open_handle(struct rfs_export *e, int32_t htype, const uint8_t *h,
			  uint32_t len, struct rfs_node *n)
{
	struct gl_export *g = e->bpriv;
	unsigned char gfid[GFAPI_HANDLE_LENGTH];
	struct glfs_object *obj;
	struct stat st;

	if (htype != HT_GFID || len != GFAPI_HANDLE_LENGTH)
		return -ESTALE;
	memcpy(gfid, h, len);
	obj = glfs_h_create_from_handle(g->fs, gfid, (int)len, &st);
	if (!obj) {
		if (errno == ENOMEM)
			return -ENOMEM;
		rfs_dbg(RFS_SUB_SERVER, "server: glfs_h_create_from_handle: %s",
			strerror(errno));
		return -ESTALE;
	}
	n->obj = obj;
	n->type = st.st_mode & S_IFMT;
	return 0;
}

static int gl_lookup(struct rfs_export *e, struct rfs_node *p, const char *name,
		     struct rfs_node **out)
{
	struct stat st;
	struct glfs_object *obj;

	errno = 0;
	obj = glfs_h_lookupat(fs_of(p), p->obj, name, &st, 0);
	if (!obj)
		return err_or(ENOENT);
	return gl_node(e, obj, &st, out);
}

static int gl_getattr(struct rfs_node *n, struct stat *st)
{
	int ret = glfs_h_stat(fs_of(n), n->obj, st) < 0 ? err_or(EIO) : 0;

	/* the GFID is gone with the file: a stale handle, as NFS says */
	return ret == -ENOENT ? -ESTALE : ret;
}

static int gl_stat_at(struct rfs_node *p, const char *name, struct stat *st)
{
	struct glfs_object *obj;

	errno = 0;
	obj = glfs_h_lookupat(fs_of(p), p->obj, name, st, 0);
	if (!obj)
		return err_or(ENOENT);
	glfs_h_close(obj);
	return 0;
}

static void now_if(struct timespec *t)
{
	if (t->tv_nsec == UTIME_NOW)
		clock_gettime(CLOCK_REALTIME, t);
}

static int gl_setattr(struct rfs_node *n, struct rfs_fh *f,
		      const struct rfs_setattr_req *q)
{
	glfs_t *fs = fs_of(n);
	struct stat sb;
	int valid = 0;

	memset(&sb, 0, sizeof(sb));
	if (q->valid & RFS_SA_MODE) {
		sb.st_mode = q->mode & 07777;
		valid |= GFAPI_SET_ATTR_MODE;
	}
	if (q->valid & RFS_SA_UID) {
		sb.st_uid = q->uid;
		valid |= GFAPI_SET_ATTR_UID;
	}
	if (q->valid & RFS_SA_GID) {
		sb.st_gid = q->gid;
		valid |= GFAPI_SET_ATTR_GID;
	}
	if (valid && glfs_h_setattrs(fs, n->obj, &sb, valid) < 0)
		return err_or(EIO);
	if (q->valid & RFS_SA_SIZE) {
		int ret = f && f->obj ?
				  glfs_ftruncate(f->obj, (off_t)q->size, NULL,
						 NULL) :
				  glfs_h_truncate(fs, n->obj, (off_t)q->size);

		if (ret < 0)
			return err_or(EIO);
	}
	if (q->valid & (RFS_SA_ATIME | RFS_SA_MTIME | RFS_SA_ATIME_NOW |
			RFS_SA_MTIME_NOW)) {
		struct timespec ts[2];

		rfs_setattr_times(q, ts);
		valid = 0;
		now_if(&ts[0]);
		now_if(&ts[1]);
		if (ts[0].tv_nsec != UTIME_OMIT) {
			sb.st_atim = ts[0];
			valid |= GFAPI_SET_ATTR_ATIME;
		}
		if (ts[1].tv_nsec != UTIME_OMIT) {
			sb.st_mtim = ts[1];
			valid |= GFAPI_SET_ATTR_MTIME;
		}
		if (glfs_h_setattrs(fs, n->obj, &sb, valid) < 0)
			return err_or(EIO);
	}
	return 0;
}

static ssize_t gl_readlink(struct rfs_node *n, char *buf, size_t size)
{
	int len = glfs_h_readlink(fs_of(n), n->obj, buf, size);

	if (len < 0)
		return err_or(EIO);
	/* libgfapi counts (and writes) a terminating NUL when it fits */
	if (len > 0 && (size_t)len <= size && buf[len - 1] == 0)
		len--;
	return len;
}

/*
 * The set-id and sticky bits of a new file, which gluster's create and
 * mknod leave out: set them as chmod(2) would
 */
static int special_bits(glfs_t *fs, struct glfs_object *obj, mode_t mode)
{
	struct stat sb = { .st_mode = mode & 07777 };

	if (!(mode & 07000))
		return 0;
	return glfs_h_setattrs(fs, obj, &sb, GFAPI_SET_ATTR_MODE) < 0 ?
		       err_or(EIO) :
		       0;
}

/* what glfs_h_mkdir & co. return: only success matters */
static int made(glfs_t *fs, struct glfs_object *obj, mode_t mode)
{
	int ret;

	if (!obj)
		return err_or(EIO);
	ret = special_bits(fs, obj, mode);
	glfs_h_close(obj);
	return ret;
}

static int gl_mkdir(struct rfs_node *p, const char *name, mode_t mode)
{
	struct stat st;

	return made(fs_of(p), glfs_h_mkdir(fs_of(p), p->obj, name, mode, &st),
		    mode);
}

static int gl_mknod(struct rfs_node *p, const char *name, mode_t mode,
		    dev_t rdev)
{
	struct stat st;

	return made(fs_of(p),
		    glfs_h_mknod(fs_of(p), p->obj, name, mode, rdev, &st),
		    mode);
}

static int gl_symlink(struct rfs_node *p, const char *name, const char *target)
{
	struct stat st;

	return made(fs_of(p),
		    glfs_h_symlink(fs_of(p), p->obj, name, target, &st), 0);
}

/* the type of name in p, or -errno */
static int type_at(struct rfs_node *p, const char *name, mode_t *type)
{
	struct glfs_object *obj;
	struct stat st;

	errno = 0;
	obj = glfs_h_lookupat(fs_of(p), p->obj, name, &st, 0);
	if (!obj)
		return err_or(ENOENT);
	glfs_h_close(obj);
	*type = st.st_mode & S_IFMT;
	return 0;
}

static int gl_unlink(struct rfs_node *p, const char *name, bool dir)
{
	mode_t type;
	int ret = type_at(p, name, &type);

	/* glfs_h_unlink removes either: keep unlink(2) and rmdir(2) apart */
	if (ret)
		return ret;
	if (dir && type != S_IFDIR)
		return -ENOTDIR;
	if (!dir && type == S_IFDIR)
		return -EISDIR;
	return glfs_h_unlink(fs_of(p), p->obj, name) < 0 ? err_or(EIO) : 0;
}

static int gl_rename(struct rfs_node *p, const char *name, struct rfs_node *np,
		     const char *newname, unsigned flags)
{
	mode_t type;

	if (flags & ~(unsigned)RFS_RENAME_NOREPLACE)
		return -EINVAL; /* no exchange or whiteout in gluster */
	/* NOREPLACE: checked, not atomic (doc/scale-out.md) */
	if ((flags & RFS_RENAME_NOREPLACE) && type_at(np, newname, &type) == 0)
		return -EEXIST;
	if (glfs_h_rename(fs_of(p), p->obj, name, np->obj, newname) < 0)
		return err_or(EIO);
	return 0;
}

static int gl_link(struct rfs_node *n, struct rfs_node *np, const char *name)
{
	return glfs_h_link(fs_of(n), n->obj, np->obj, name) < 0 ? err_or(EIO) :
								  0;
}

static int gl_statfs(struct rfs_node *n, struct statvfs *sv)
{
	return glfs_h_statfs(fs_of(n), n->obj, sv) < 0 ? err_or(EIO) : 0;
}

static int gl_access(struct rfs_node *n, int mask)
{
	return glfs_h_access(fs_of(n), n->obj, mask) < 0 ? err_or(EACCES) : 0;
}

static int gl_setxattr(struct rfs_node *n, const char *name, const void *v,
		       size_t size, int flags)
{
	return glfs_h_setxattrs(fs_of(n), n->obj, name, v, size, flags) < 0 ?
		       err_or(EIO) :
		       0;
}

static ssize_t gl_getxattr(struct rfs_node *n, const char *name, void *buf,
			   size_t size)
{
	int len = glfs_h_getxattrs(fs_of(n), n->obj, name, buf, size);

	return len < 0 ? err_or(ENODATA) : len;
}

static ssize_t gl_listxattr(struct rfs_node *n, char *buf, size_t size)
{
	/* a NULL name lists */
	int len = glfs_h_getxattrs(fs_of(n), n->obj, NULL, buf, size);

	return len < 0 ? err_or(EIO) : len;
}

static int gl_removexattr(struct rfs_node *n, const char *name)
{
	return glfs_h_removexattrs(fs_of(n), n->obj, name) < 0 ?
		       err_or(ENODATA) :
		       0;
}

/* ---- open files -------------------------------------------------------- */

static int gl_open(struct rfs_node *n, int flags, struct rfs_bfile *out)
{
	glfs_fd_t *fd;

	if (flags & O_DIRECTORY) {
		if (n->type != S_IFDIR)
			return -ENOTDIR;
		fd = glfs_h_opendir(fs_of(n), n->obj);
	} else {
		fd = glfs_h_open(fs_of(n), n->obj, flags & ~O_CLOEXEC);
	}
	if (!fd)
		return err_or(EIO);
	out->fd = -1;
	out->obj = fd;
	out->dir = (flags & O_DIRECTORY) != 0;
	return 0;
}

/* out is the open gluster file fd (no kernel fd). */
static int gl_bfile(struct rfs_bfile *out, glfs_fd_t *fd)
{
	out->fd = -1;
	out->obj = fd;
	out->dir = false;
	return 0;
}

static int gl_create(struct rfs_export *e, struct rfs_node *p, const char *name,
		     int flags, mode_t mode, struct rfs_bfile *out,
		     struct rfs_node **node)
{
	int oflags = flags & ~(O_CLOEXEC | O_NOFOLLOW);
	struct glfs_object *obj;
	glfs_fd_t *fd = NULL;
	struct stat st;
	int ret;

	errno = 0;
	obj = glfs_h_lookupat(fs_of(p), p->obj, name, &st, 0);
	if (obj) {
		/* there: O_EXCL says no, else open it as it is */
		if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
			glfs_h_close(obj);
			return -EEXIST;
		}
		if (S_ISLNK(st.st_mode)) {
			glfs_h_close(obj);
			return -ELOOP;
		}
		fd = glfs_h_open(fs_of(p), obj, oflags & ~(O_CREAT | O_EXCL));
		if (!fd) {
			ret = err_or(EIO);
			glfs_h_close(obj);
			return ret;
		}
	} else {
		if (errno != ENOENT || !(flags & O_CREAT))
			return err_or(ENOENT);
		obj = glfs_h_creat_open(fs_of(p), p->obj, name, oflags, mode,
					&st, &fd);
		if (!obj)
			return err_or(EIO);
		ret = special_bits(fs_of(p), obj, mode);
		if (ret) {
			glfs_close(fd);
			glfs_h_close(obj);
			return ret;
		}
	}
	ret = gl_node(e, obj, &st, node);
	if (ret) {
		glfs_close(fd);
		return ret;
	}
	return gl_bfile(out, fd);
}

static void gl_close(const struct rfs_bfile *bf)
{
	if (!bf->obj)
		return;
	if (bf->dir)
		glfs_closedir(bf->obj);
	else
		glfs_close(bf->obj);
}

static ssize_t gl_pread(struct rfs_fh *f, void *buf, size_t len, off_t off)
{
	ssize_t n = glfs_pread(f->obj, buf, len, off, 0, NULL);

	return n < 0 ? err_or(EIO) : n;
}

static ssize_t gl_pwrite(struct rfs_fh *f, const void *buf, size_t len,
			 off_t off)
{
	ssize_t n = glfs_pwrite(f->obj, buf, len, off, 0, NULL, NULL);

	return n < 0 ? err_or(EIO) : n;
}

static int gl_fsync(struct rfs_fh *f, bool datasync)
{
	int ret = datasync ? glfs_fdatasync(f->obj, NULL, NULL) :
			     glfs_fsync(f->obj, NULL, NULL);

	return ret < 0 ? err_or(EIO) : 0;
}

static int gl_readdir(struct rfs_req *r, struct rfs_fh *f, uint64_t off,
		      uint32_t budget_end)
{
	union {
		struct dirent d;
		char space[sizeof(struct dirent) + 512];
	} ent;
	int ret = 0;

	if (!f->pos_valid || f->pos != off) {
		glfs_seekdir(f->obj, (long)off);
		f->pos = off;
		f->pos_valid = true;
	}
	for (;;) {
		struct glfs_xreaddirp_stat *xs = NULL;
		struct glfs_object *obj = NULL;
		struct rfs_node *n = NULL;
		struct dirent *res = NULL;
		struct stat *st;
		bool dot;
		int got;

		errno = 0;
		got = glfs_xreaddirplus_r(
			f->obj, GFAPI_XREADDIRP_STAT | GFAPI_XREADDIRP_HANDLE,
			&xs, &ent.d, &res);
		if (got < 0) {
			ret = err_or(EIO);
			f->pos_valid = false;
			break;
		}
		if (!res) {
			if (xs)
				glfs_free(xs);
			break;
		}
		dot = !strcmp(res->d_name, ".") || !strcmp(res->d_name, "..");
		st = xs && (got & GFAPI_XREADDIRP_STAT) ?
			     glfs_xreaddirplus_get_stat(xs) :
			     NULL;
		if (!dot && xs && (got & GFAPI_XREADDIRP_HANDLE) && st)
			obj = glfs_xreaddirplus_get_object(xs);
		/* the object goes with xs: a copy for the node table */
		if (obj)
			obj = glfs_object_copy(obj);
		if (obj && gl_node(r->exp, obj, st, &n))
			n = NULL;
		if (xs)
			glfs_free(xs);
		ret = rfs_put_dirent(r, n, res->d_name, (uint64_t)res->d_off,
				     res->d_type, res->d_ino, budget_end);
		rfs_node_put(n);
		if (ret) {
			/* read one past what we sent */
			f->pos_valid = false;
			break;
		}
		f->pos = (uint64_t)res->d_off;
	}
	return ret;
}

static int gl_fallocate(struct rfs_fh *f, int mode, off_t off, off_t len)
{
	int ret;

	switch (mode) {
	case 0:
	case FALLOC_FL_KEEP_SIZE:
		ret = glfs_fallocate(f->obj, mode == FALLOC_FL_KEEP_SIZE, off,
				     (size_t)len);
		break;
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
		ret = glfs_discard(f->obj, off, (size_t)len);
		break;
	case FALLOC_FL_ZERO_RANGE:
		ret = glfs_zerofill(f->obj, off, len);
		break;
	default:
		return -EOPNOTSUPP;
	}
	return ret < 0 ? err_or(EIO) : 0;
}

static ssize_t gl_copy_file_range(struct rfs_fh *fi, off_t *oi,
				  struct rfs_fh *fo, off_t *oo, size_t len,
				  unsigned flags)
{
	off64_t i = *oi, o = *oo;
	ssize_t n = glfs_copy_file_range(fi->obj, &i, fo->obj, &o, len, flags,
					 NULL, NULL, NULL);

	if (n < 0)
		return err_or(EIO);
	*oi = i;
	*oo = o;
	return n;
}

static off_t gl_lseek(struct rfs_fh *f, off_t off, int whence)
{
	off_t ret = glfs_lseek(f->obj, off, whence);

	return ret < 0 ? err_or(EINVAL) : ret;
}

/* ---- locks ------------------------------------------------------------- */

/*
 * Gluster's locks belong to (lock owner, client connection): the owner is
 * the session and the FUSE lock owner, so that two sessions of this
 * gateway conflict as two gateways do.  The fd stays open while the
 * owner has locks (lock.c): its close (a flush) drops them.
 */
static int gl_lock_open(struct rfs_node *n, uint64_t session, uint64_t owner,
			struct rfs_bfile *out)
{
	char lkowner[16];
	glfs_fd_t *fd = NULL;

	memcpy(lkowner, &session, 8);
	memcpy(lkowner + 8, &owner, 8);
	if (n->type != S_IFDIR)
		fd = glfs_h_open(fs_of(n), n->obj, O_RDWR);
	if (!fd)
		fd = glfs_h_open(fs_of(n), n->obj, O_RDONLY);
	if (!fd)
		return err_or(EIO);
	if (glfs_fd_set_lkowner(fd, lkowner, sizeof(lkowner)) < 0) {
		int ret = err_or(EIO);

		glfs_close(fd);
		return ret;
	}
	return gl_bfile(out, fd);
}

static int gl_lock(const struct rfs_bfile *bf, int cmd, struct flock *fl)
{
	return glfs_posix_lock(bf->obj, cmd, fl) < 0 ? err_or(EIO) : 0;
}

const struct rfs_backend rfs_backend_gluster = {
	.name = "gluster",
	.claims = gl_claims,
	.parse = gl_parse,
	.export_open = gl_export_open,
	.export_root = gl_export_root,
	.export_close = gl_export_close,
	.creds = gl_creds,
	.node_close = gl_node_close,
	.open_handle = gl_open_handle,
	.lookup = gl_lookup,
	.getattr = gl_getattr,
	.stat_at = gl_stat_at,
	.setattr = gl_setattr,
	.readlink = gl_readlink,
	.mkdir = gl_mkdir,
	.mknod = gl_mknod,
	.symlink = gl_symlink,
	.unlink = gl_unlink,
	.rename = gl_rename,
	.link = gl_link,
	.statfs = gl_statfs,
	.access = gl_access,
	.setxattr = gl_setxattr,
	.getxattr = gl_getxattr,
	.listxattr = gl_listxattr,
	.removexattr = gl_removexattr,
	.open = gl_open,
	.create = gl_create,
	.close = gl_close,
	.pread = gl_pread,
	.pwrite = gl_pwrite,
	.fsync = gl_fsync,
	.readdir = gl_readdir,
	.fallocate = gl_fallocate,
	.copy_file_range = gl_copy_file_range,
	.lseek = gl_lseek,
	.lock_open = gl_lock_open,
	.lock = gl_lock,
	.fd_io = false,
};
