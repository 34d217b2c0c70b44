// SPDX-License-Identifier: MIT
/*
 * Op handlers, part 1: session ops, dispatch, and the node/name ops.
 * Every handler returns 0 (reply built in r->mb) or -errno, the errno of
 * the syscall that failed, unchanged.  Every path operation is
 * *at()-relative to a node's O_PATH fd, one component, never following a
 * symlink; "/proc/self/fd/N" is used only to reach the node itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ops_i.h"

struct rfs_srv_stats rfs_stats;
uint64_t rfs_start_ns;

/* ---- credentials ------------------------------------------------------ */

/*
 * Raw syscalls: glibc's setfsuid is per thread already, but its setgroups
 * is broadcast to every thread of the process; the kernel call is not.
 */
static int set_ids(uint32_t uid, uint32_t gid)
{
	gid_t g = gid;

	syscall(SYS_setfsgid, gid);
	if ((uint32_t)syscall(SYS_setfsgid, -1) != gid)
		return -EPERM;
	if (syscall(SYS_setgroups, 1, &g) < 0)
		return -errno;
	syscall(SYS_setfsuid, uid);
	if ((uint32_t)syscall(SYS_setfsuid, -1) != uid)
		return -EPERM;
	return 0;
}

int rfs_creds_set(struct rfs_conn_ctx *cc, uint32_t uid, uint32_t gid)
{
	int ret;

	if (cc->fsuid == uid && cc->fsgid == gid)
		return 0;
	/* gid first: changing groups needs CAP_SETGID, not the fs caps */
	if (cc->fsuid != 0) {
		syscall(SYS_setfsuid, 0);
		cc->fsuid = 0;
	}
	ret = set_ids(uid, gid);
	if (ret) {
		rfs_err_rl("server: setfsuid %u / setfsgid %u: %s", uid, gid,
			   strerror(-ret));
		set_ids(0, 0);
		cc->fsuid = 0;
		cc->fsgid = 0;
		return ret;
	}
	cc->fsuid = uid;
	cc->fsgid = gid;
	return 0;
}

void rfs_creds_root(struct rfs_conn_ctx *cc)
{
	rfs_creds_set(cc, 0, 0);
}

static int caller_creds(struct rfs_req *r)
{
	struct rfs_export *e = r->exp;
	uint32_t uid = r->h->uid, gid = r->h->gid;

	switch (e->squash) {
	case RFS_SQUASH_ALL:
		uid = e->anonuid;
		gid = e->anongid;
		break;
	case RFS_SQUASH_ROOT:
		if (uid == 0)
			uid = e->anonuid;
		if (gid == 0)
			gid = e->anongid;
		break;
	case RFS_SQUASH_NONE:
		break;
	}
	return rfs_creds_set(r->cc, uid, gid);
}

/* ---- helpers ---------------------------------------------------------- */

int rfs_req_node(struct rfs_req *r, uint64_t id, struct rfs_node **out)
{
	struct rfs_node *n;

	if (r->nnodes == sizeof(r->nodes) / sizeof(r->nodes[0]))
		return -EIO;
	n = rfs_node_get(id);
	if (!n || n->exp != r->exp->idx) {
		rfs_node_put(n);
		r->unknown = id;
		return -ESTALE;
	}
	r->nodes[r->nnodes++] = n;
	*out = n;
	return 0;
}

void rfs_fill_attr(struct rfs_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = st->st_atim.tv_sec;
	a->mtime = st->st_mtim.tv_sec;
	a->ctime = st->st_ctim.tv_sec;
	a->atime_ns = (uint32_t)st->st_atim.tv_nsec;
	a->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
	a->ctime_ns = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = (uint32_t)st->st_blksize;
}

int rfs_fill_entry(struct rfs_entry *e, struct rfs_node *n)
{
	struct stat st;

	if (fstat(n->fd, &st) < 0)
		return -errno;
	memset(e, 0, sizeof(*e));
	e->nodeid = n->id;
	rfs_fill_attr(&e->attr, &st);
	e->handle_len = n->hlen;
	return 0;
}

int rfs_put_handle(struct rfs_mb *b, struct rfs_node *n)
{
	int ret = rfs_mb_put_bytes(b, n->handle, n->hlen);

	if (!ret)
		ret = rfs_mb_pad8(b);
	return ret;
}

int rfs_put_entry(struct rfs_mb *b, struct rfs_node *n)
{
	struct rfs_entry *e = rfs_mb_put(b, sizeof(*e));
	int ret;

	if (!e)
		return b->err;
	ret = rfs_fill_entry(e, n);
	if (!ret)
		ret = rfs_put_handle(b, n);
	return ret;
}

void rfs_cstr(char *dst, const char *src, uint32_t len)
{
	memcpy(dst, src, len);
	dst[len] = 0;
}

/* open the O_PATH fd `fd` again, for real */
int rfs_reopen(int fd, int flags)
{
	char path[32];
	int nfd;

	rfs_fd_path(fd, path);
	nfd = open(path, flags | O_CLOEXEC);
	return nfd < 0 ? -errno : nfd;
}

/* the node just made as name in parent: look it up, reply its entry */
static int reply_new_entry(struct rfs_req *r, struct rfs_node *parent,
			   const char *name)
{
	struct rfs_node *n;
	int fd, ret;

	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = rfs_node_from_fd(r->exp, fd, &n);
	if (ret)
		return ret;
	ret = rfs_put_entry(&r->mb, n);
	rfs_node_put(n);
	return ret;
}

/* ---- session ops ------------------------------------------------------ */

static int op_hello(struct rfs_req *r)
{
	const struct rfs_hello_req *q = r->v.fixed;
	struct rfs_conn_ctx *cc = r->cc;
	struct rfs_hello_rep *p;
	struct rfs_export *e;
	struct rfs_session *s;
	uint64_t feat = q->features & RFS_FEAT_KNOWN;
	uint32_t max_msg;
	int ret;

	if (cc->sess)
		return -EINVAL;
	ret = rfs_auth_required(r, "HELLO");
	if (ret)
		return ret;
	e = rfs_cfg_find_export(r->v.name, r->v.name_len);
	if (!e) {
		rfs_err_rl("server: %s: HELLO for unknown export '%.*s'",
			   rfs_conn_desc(cc->c), (int)r->v.name_len,
			   r->v.name);
		r->close_after = true;
		return -ENOENT;
	}
	ret = rfs_auth_hello(r, e);
	if (ret)
		return ret;
	max_msg = q->max_msg < cc->max_msg ? q->max_msg : cc->max_msg;
	if (max_msg < RFS_HDR_SIZE + 4096) {
		r->close_after = true;
		return -EINVAL;
	}
	ret = rfs_session_new(e, feat & RFS_FEAT_CSUM, max_msg, &s);
	if (ret) {
		r->close_after = true;
		return ret;
	}
	cc->sess = s;
	atomic_store(&cc->established, true);
	r->sess = s;
	r->exp = e;
	cc->max_msg = max_msg;
	r->csum_reply = s->csum;

	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p)
		return r->mb.err;
	p->features = feat;
	p->session = s->id;
	rfs_auth_session(r, s, s->token);
	memcpy(p->token, s->token, sizeof(p->token));
	rfs_auth_session_reply(r, p->token);
	p->max_msg = max_msg;
	p->max_inflight = q->max_inflight && q->max_inflight < 256 ?
			  q->max_inflight : 256;
	if (p->max_inflight > rfs_cfg.sec.max_inflight)
		p->max_inflight = rfs_cfg.sec.max_inflight;
	p->export_flags = e->ro ? RFS_EXPF_RO : 0;
	ret = rfs_fill_entry(&p->root, e->root);
	if (!ret)
		ret = rfs_put_handle(&r->mb, e->root);
	rfs_info("server: %s: session %016llx on export %s",
		 rfs_conn_desc(cc->c), (unsigned long long)s->id, e->name);
	return ret;
}

static int op_attach(struct rfs_req *r)
{
	const struct rfs_attach_req *q = r->v.fixed;
	struct rfs_conn_ctx *cc = r->cc;
	struct rfs_session *s;
	int ret;

	if (cc->sess)
		return -EINVAL;
	ret = rfs_auth_required(r, "ATTACH");
	if (ret)
		return ret;
	ret = rfs_session_attach(q->session, q->token, &s);
	if (ret) {
		rfs_err_rl("server: %s: ATTACH to session %016llx refused",
			   rfs_conn_desc(cc->c),
			   (unsigned long long)q->session);
		r->close_after = true;
		return ret;
	}
	ret = rfs_auth_attach(r, s);
	if (ret) {
		rfs_session_detach(s);
		return ret;
	}
	cc->sess = s;
	atomic_store(&cc->established, true);
	r->sess = s;
	r->exp = s->exp;
	cc->max_msg = s->max_msg;
	r->csum_reply = s->csum;
	return 0;
}

static int op_stats(struct rfs_req *r)
{
	struct rfs_stats_rep *p = rfs_mb_put(&r->mb, sizeof(*p));
	struct timespec ts;

	if (!p)
		return r->mb.err;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	p->uptime_ns = (uint64_t)ts.tv_sec * 1000000000ull +
		       (uint64_t)ts.tv_nsec - rfs_start_ns;
	p->sessions = rfs_sessions_count();
	p->connections = atomic_load(&rfs_stats.connections);
	p->requests = atomic_load(&rfs_stats.requests);
	p->errors = atomic_load(&rfs_stats.errors);
	p->bytes_in = atomic_load(&rfs_stats.bytes_in);
	p->bytes_out = atomic_load(&rfs_stats.bytes_out);
	p->nodes = rfs_nodes_count();
	return 0;
}

/* random per server start, never 0 (see RFS_OP_PATHS) */
static uint64_t instance_id(void)
{
	static _Atomic uint64_t id;
	uint64_t v = atomic_load(&id), want = 0;

	if (v)
		return v;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = rfs_start_ns ^ ((uint64_t)getpid() << 32);
	v |= 1;
	if (!atomic_compare_exchange_strong(&id, &want, v))
		v = want;
	return v;
}

static int op_paths(struct rfs_req *r)
{
	struct rfs_paths_rep *p;
	size_t ul = strlen(rfs_cfg.listen_unix);
	size_t rl = strlen(rfs_cfg.listen_rdma);

	if (!r->sess)
		return -EACCES;
	if (ul > RFS_PATHS_UNIX_MAX)
		ul = 0;
	if (rl > RFS_PATHS_RDMA_MAX)
		rl = 0;
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p)
		return r->mb.err;
	p->instance = instance_id();
	p->unix_len = (uint16_t)ul;
	p->rdma_len = (uint16_t)rl;
	rfs_mb_put_bytes(&r->mb, rfs_cfg.listen_unix, (uint32_t)ul);
	return rfs_mb_put_bytes(&r->mb, rfs_cfg.listen_rdma, (uint32_t)rl);
}

static int op_resolve(struct rfs_req *r)
{
	const struct rfs_resolve_req *q = r->v.fixed;
	struct rfs_attr *a;
	struct rfs_node *n;
	struct stat st;
	int ret;

	/* open_by_handle_at needs CAP_DAC_READ_SEARCH: run as ourselves */
	rfs_creds_root(r->cc);
	ret = rfs_node_resolve(r->exp, q->nodeid, r->v.data, r->v.data_len,
			       &n);
	if (ret)
		return ret;
	r->nodes[r->nnodes++] = n;
	if (fstat(n->fd, &st) < 0)
		return -errno;
	a = rfs_mb_put(&r->mb, sizeof(*a));
	if (!a)
		return r->mb.err;
	rfs_fill_attr(a, &st);
	return 0;
}

/* ---- node ops --------------------------------------------------------- */

static int op_lookup(struct rfs_req *r)
{
	const struct rfs_name_req *q = r->v.fixed;
	struct rfs_node *p;
	char name[RFS_NAME_MAX + 1];
	int ret;

	ret = rfs_req_node(r, q->parent, &p);
	if (ret)
		return ret;
	rfs_cstr(name, r->v.name, r->v.name_len);
	return reply_new_entry(r, p, name);
}

static int op_forget(struct rfs_req *r)
{
	for (uint32_t i = 0; i < r->v.nforget; i++)
		rfs_node_forget(r->v.forgets[i].nodeid);
	return 0;
}

static int op_getattr(struct rfs_req *r)
{
	const struct rfs_node_req *q = r->v.fixed;
	struct rfs_attr *a;
	struct rfs_node *n;
	struct stat st;
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (ret)
		return ret;
	if (fstat(n->fd, &st) < 0)
		return -errno;
	a = rfs_mb_put(&r->mb, sizeof(*a));
	if (!a)
		return r->mb.err;
	rfs_fill_attr(a, &st);
	return 0;
}

static int op_setattr(struct rfs_req *r)
{
	const struct rfs_setattr_req *q = r->v.fixed;
	struct rfs_fh *f = NULL;
	struct rfs_node *n;
	struct rfs_attr *a;
	struct stat st;
	char path[32];
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (ret)
		return ret;
	if (q->fh) {
		ret = rfs_fh_get(r->sess, q->fh, &f);
		if (ret)
			return ret;
	}
	rfs_fd_path(n->fd, path);
	if (q->valid & RFS_SA_MODE) {
		if (fchmodat(AT_FDCWD, path, q->mode & 07777, 0) < 0) {
			ret = -errno;
			goto out;
		}
	}
	if (q->valid & (RFS_SA_UID | RFS_SA_GID)) {
		uid_t uid = q->valid & RFS_SA_UID ? q->uid : (uid_t)-1;
		gid_t gid = q->valid & RFS_SA_GID ? q->gid : (gid_t)-1;

		if (fchownat(n->fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
			ret = -errno;
			goto out;
		}
	}
	if (q->valid & RFS_SA_SIZE) {
		if (q->size > INT64_MAX) {
			ret = -EFBIG;
			goto out;
		}
		if (f)
			ret = ftruncate(f->fd, (off_t)q->size);
		else
			ret = truncate(path, (off_t)q->size);
		if (ret < 0) {
			ret = -errno;
			goto out;
		}
	}
	if (q->valid & (RFS_SA_ATIME | RFS_SA_MTIME | RFS_SA_ATIME_NOW |
			RFS_SA_MTIME_NOW)) {
		struct timespec ts[2] = {
			{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
		};

		if (q->valid & RFS_SA_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (q->valid & RFS_SA_ATIME)
			ts[0] = (struct timespec){ q->atime, q->atime_ns };
		if (q->valid & RFS_SA_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (q->valid & RFS_SA_MTIME)
			ts[1] = (struct timespec){ q->mtime, q->mtime_ns };
		if ((ts[0].tv_nsec != UTIME_OMIT && ts[0].tv_nsec != UTIME_NOW &&
		     ts[0].tv_nsec >= 1000000000) ||
		    (ts[1].tv_nsec != UTIME_OMIT && ts[1].tv_nsec != UTIME_NOW &&
		     ts[1].tv_nsec >= 1000000000)) {
			ret = -EINVAL;
			goto out;
		}
		if (f)
			ret = futimens(f->fd, ts);
		else
			ret = utimensat(AT_FDCWD, path, ts, 0);
		if (ret < 0) {
			ret = -errno;
			goto out;
		}
	}
	if (fstat(n->fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	a = rfs_mb_put(&r->mb, sizeof(*a));
	if (!a) {
		ret = r->mb.err;
		goto out;
	}
	rfs_fill_attr(a, &st);
	ret = 0;
out:
	rfs_fh_put(r->sess, f);
	return ret;
}

static int op_readlink(struct rfs_req *r)
{
	const struct rfs_node_req *q = r->v.fixed;
	struct rfs_node *n;
	uint8_t *p;
	ssize_t len;
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (ret)
		return ret;
	p = rfs_mb_put(&r->mb, RFS_PATH_MAX);
	if (!p)
		return r->mb.err;
	len = readlinkat(n->fd, "", (char *)p, RFS_PATH_MAX);
	if (len < 0)
		return -errno;
	r->mb.len -= RFS_PATH_MAX - (uint32_t)len;
	return 0;
}

static int op_make(struct rfs_req *r)
{
	const struct rfs_make_req *q = r->v.fixed;
	char name[RFS_NAME_MAX + 1];
	static __thread char target[RFS_PATH_MAX + 1];
	mode_t mode = q->mode & ~q->umask;
	struct rfs_node *p;
	int ret;

	ret = rfs_req_node(r, q->parent, &p);
	if (ret)
		return ret;
	rfs_cstr(name, r->v.name, r->v.name_len);
	switch (r->h->opcode) {
	case RFS_OP_MKDIR:
		ret = mkdirat(p->fd, name, mode & 07777);
		break;
	case RFS_OP_MKNOD:
		ret = mknodat(p->fd, name, mode, q->rdev);
		break;
	case RFS_OP_SYMLINK:
		if (r->v.name2_len == 0 || r->v.name2_len > RFS_PATH_MAX ||
		    memchr(r->v.name2, 0, r->v.name2_len))
			return -EINVAL;
		rfs_cstr(target, r->v.name2, r->v.name2_len);
		ret = symlinkat(target, p->fd, name);
		break;
	default:
		return -ENOSYS;
	}
	if (ret < 0)
		return -errno;
	return reply_new_entry(r, p, name);
}

static int op_remove(struct rfs_req *r)
{
	const struct rfs_name_req *q = r->v.fixed;
	char name[RFS_NAME_MAX + 1];
	struct rfs_node *p;
	int ret;

	ret = rfs_req_node(r, q->parent, &p);
	if (ret)
		return ret;
	rfs_cstr(name, r->v.name, r->v.name_len);
	if (unlinkat(p->fd, name,
		     r->h->opcode == RFS_OP_RMDIR ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	return 0;
}

/* second node of RENAME/LINK: another export's node is -EXDEV */
static int req_node_xdev(struct rfs_req *r, uint64_t id,
			 struct rfs_node **out)
{
	struct rfs_node *n = rfs_node_get(id);

	if (n && n->exp != r->exp->idx) {
		rfs_node_put(n);
		return -EXDEV;
	}
	rfs_node_put(n);
	return rfs_req_node(r, id, out);
}

static int op_rename(struct rfs_req *r)
{
	const struct rfs_rename_req *q = r->v.fixed;
	char name[RFS_NAME_MAX + 1], newname[RFS_NAME_MAX + 1];
	struct rfs_node *p, *np;
	int ret;

	if (q->flags & ~(uint32_t)(RFS_RENAME_NOREPLACE | RFS_RENAME_EXCHANGE |
				   RFS_RENAME_WHITEOUT))
		return -EINVAL;
	ret = rfs_req_node(r, q->parent, &p);
	if (!ret)
		ret = req_node_xdev(r, q->newparent, &np);
	if (ret)
		return ret;
	rfs_cstr(name, r->v.name, r->v.name_len);
	rfs_cstr(newname, r->v.name2, r->v.name2_len);
	if (renameat2(p->fd, name, np->fd, newname, q->flags) < 0)
		return -errno;
	return 0;
}

static int op_link(struct rfs_req *r)
{
	const struct rfs_link_req *q = r->v.fixed;
	char name[RFS_NAME_MAX + 1], path[32];
	struct rfs_node *n, *np;
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (!ret)
		ret = req_node_xdev(r, q->newparent, &np);
	if (ret)
		return ret;
	rfs_cstr(name, r->v.name, r->v.name_len);
	/*
	 * linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH, which the
	 * fsuid switch drops; the magic link of the node itself does not.
	 */
	rfs_fd_path(n->fd, path);
	if (linkat(AT_FDCWD, path, np->fd, name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return reply_new_entry(r, np, name);
}

static int op_statfs(struct rfs_req *r)
{
	const struct rfs_node_req *q = r->v.fixed;
	struct rfs_statfs_rep *p;
	struct rfs_node *n;
	struct statvfs sv;
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (ret)
		return ret;
	if (fstatvfs(n->fd, &sv) < 0)
		return -errno;
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p)
		return r->mb.err;
	p->blocks = sv.f_blocks;
	p->bfree = sv.f_bfree;
	p->bavail = sv.f_bavail;
	p->files = sv.f_files;
	p->ffree = sv.f_ffree;
	p->favail = sv.f_favail;
	p->fsid = sv.f_fsid;
	p->bsize = (uint32_t)sv.f_bsize;
	p->frsize = (uint32_t)sv.f_frsize;
	p->namemax = (uint32_t)sv.f_namemax;
	p->flag = (uint32_t)sv.f_flag;
	if (r->exp->ro)
		p->flag |= ST_RDONLY;
	return 0;
}

static int op_access(struct rfs_req *r)
{
	const struct rfs_access_req *q = r->v.fixed;
	struct rfs_node *n;
	char path[32];
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (ret)
		return ret;
	if (q->mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	if ((q->mask & W_OK) && r->exp->ro)
		return -EROFS;
	/* AT_EACCESS: check with the fs credentials we switched to */
	rfs_fd_path(n->fd, path);
	if (faccessat(AT_FDCWD, path, (int)q->mask, AT_EACCESS) < 0)
		return -errno;
	return 0;
}

/* ---- xattrs ----------------------------------------------------------- */

static int op_xattr(struct rfs_req *r)
{
	const struct rfs_xattr_req *q = r->v.fixed;
	char name[RFS_XATTR_NAME_MAX + 1], path[32];
	struct rfs_xattr_rep *p;
	struct rfs_node *n;
	uint32_t size = q->size;
	ssize_t len;
	uint8_t *buf = NULL;
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (ret)
		return ret;
	rfs_fd_path(n->fd, path);
	if (r->v.name) {
		if (r->v.name_len == 0 || r->v.name_len > RFS_XATTR_NAME_MAX ||
		    memchr(r->v.name, 0, r->v.name_len))
			return -EINVAL;
		rfs_cstr(name, r->v.name, r->v.name_len);
	}
	switch (r->h->opcode) {
	case RFS_OP_SETXATTR:
		if (setxattr(path, name, r->v.data, r->v.data_len,
			     (int)q->flags) < 0)
			return -errno;
		return 0;
	case RFS_OP_REMOVEXATTR:
		if (removexattr(path, name) < 0)
			return -errno;
		return 0;
	default:
		break;
	}
	if (size > RFS_XATTR_SIZE_MAX)
		size = RFS_XATTR_SIZE_MAX;
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p)
		return r->mb.err;
	if (size) {
		buf = rfs_mb_put(&r->mb, size);
		if (!buf)
			return r->mb.err;
	}
	if (r->h->opcode == RFS_OP_GETXATTR)
		len = getxattr(path, name, buf, size);
	else
		len = listxattr(path, (char *)buf, size);
	if (len < 0)
		return -errno;
	p->size = (uint32_t)len;
	if (size)
		r->mb.len -= size - (uint32_t)len;
	return 0;
}

/* ---- dispatch --------------------------------------------------------- */

static bool mutating(uint16_t op)
{
	switch (op) {
	case RFS_OP_SETATTR: case RFS_OP_SYMLINK: case RFS_OP_MKNOD:
	case RFS_OP_MKDIR: case RFS_OP_UNLINK: case RFS_OP_RMDIR:
	case RFS_OP_RENAME: case RFS_OP_LINK: case RFS_OP_CREATE:
	case RFS_OP_WRITE: case RFS_OP_SETXATTR: case RFS_OP_REMOVEXATTR:
	case RFS_OP_FALLOCATE: case RFS_OP_COPY_FILE_RANGE:
		return true;
	default:
		return false;
	}
}

uint32_t rfs_reply_size(const struct rfs_hdr *h, const struct rfs_req_view *v)
{
	const struct rfs_io_req *io = v->fixed;
	const struct rfs_xattr_req *x = v->fixed;

	switch (h->opcode) {
	case RFS_OP_READ:
	case RFS_OP_READDIRPLUS:
		return io ? io->size : 0;
	case RFS_OP_READLINK:
		return RFS_PATH_MAX;
	case RFS_OP_GETXATTR:
	case RFS_OP_LISTXATTR:
		return 8 + (x ? (x->size < RFS_XATTR_SIZE_MAX ?
				 x->size : RFS_XATTR_SIZE_MAX) : 0);
	case RFS_OP_PING:
		return v->data_len;
	default:
		return 512;
	}
}

int rfs_dispatch(struct rfs_req *r)
{
	uint16_t op = r->h->opcode;
	int ret;

	switch (op) {
	case RFS_OP_HELLO:
		return op_hello(r);
	case RFS_OP_ATTACH:
		return op_attach(r);
	case RFS_OP_AUTH:
		return rfs_auth_op(r);
	case RFS_OP_PING:
		return rfs_mb_put_bytes(&r->mb, r->v.data, r->v.data_len);
	case RFS_OP_BYE:
		r->close_after = true;
		return 0;
	case RFS_OP_STATS:
		return op_stats(r);
	case RFS_OP_PATHS:
		return op_paths(r);
	case RFS_OP_RESOLVE:
		return op_resolve(r);
	case RFS_OP_FORGET:
		return op_forget(r);
	case RFS_OP_GETLK:
	case RFS_OP_SETLK:
	case RFS_OP_FLOCK:
		/* locks are bookkeeping: the lock fds are ours */
		rfs_creds_root(r->cc);
		if (op == RFS_OP_GETLK)
			return rfs_op_getlk(r);
		return op == RFS_OP_SETLK ? rfs_op_setlk(r) : rfs_op_flock(r);
	default:
		break;
	}
	if (r->exp->ro && mutating(op))
		return -EROFS;
	ret = caller_creds(r);
	if (ret)
		return ret;
	switch (op) {
	case RFS_OP_LOOKUP:
		return op_lookup(r);
	case RFS_OP_GETATTR:
		return op_getattr(r);
	case RFS_OP_SETATTR:
		return op_setattr(r);
	case RFS_OP_READLINK:
		return op_readlink(r);
	case RFS_OP_SYMLINK:
	case RFS_OP_MKNOD:
	case RFS_OP_MKDIR:
		return op_make(r);
	case RFS_OP_UNLINK:
	case RFS_OP_RMDIR:
		return op_remove(r);
	case RFS_OP_RENAME:
		return op_rename(r);
	case RFS_OP_LINK:
		return op_link(r);
	case RFS_OP_STATFS:
		return op_statfs(r);
	case RFS_OP_ACCESS:
		return op_access(r);
	case RFS_OP_SETXATTR:
	case RFS_OP_GETXATTR:
	case RFS_OP_LISTXATTR:
	case RFS_OP_REMOVEXATTR:
		return op_xattr(r);
	default:
		return rfs_dispatch_file(r);
	}
}
