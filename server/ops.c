// SPDX-License-Identifier: MIT
/*
 * Op handlers, part 1: session ops, dispatch, and the node/name ops.
 * Every handler returns 0 (reply built in r->mb) or -errno, the errno of
 * the storage call that failed, unchanged.  The storage is the export's
 * backend (backend.h, r->exp->be): the handlers check, squash and reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "ops_i.h"

struct rfs_srv_stats rfs_stats;
uint64_t rfs_start_ns;

/* ---- credentials ------------------------------------------------------ */

_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t is a wire gid");

/*
 * Raw syscalls: glibc's setfsuid is per thread already, but its setgroups
 * is broadcast to every thread of the process; the kernel call is not.
 * The supplementary groups are the caller's (n of them) or, with none,
 * the gid alone.
 */
static int set_ids(uint32_t uid, uint32_t gid, const uint32_t *groups,
		   uint32_t n)
{
	gid_t g = gid;

	syscall(SYS_setfsgid, gid);
	if ((uint32_t)syscall(SYS_setfsgid, -1) != gid)
		return -EPERM;
	if (syscall(SYS_setgroups, n ? n : 1, n ? groups : &g) < 0)
		return -errno;
	syscall(SYS_setfsuid, uid);
	if ((uint32_t)syscall(SYS_setfsuid, -1) != uid)
		return -EPERM;
	return 0;
}

/*
 * The thread's groups are set only when they change: cc keeps the list
 * in force, and the comparison is a memcmp of a few gids.
 */
static bool groups_same(const struct rfs_conn_ctx *cc, const uint32_t *groups,
			uint32_t n)
{
	return cc->ngroups == n &&
	       (n == 0 || !memcmp(cc->groups, groups, 4 * (size_t)n));
}

static int creds_set(struct rfs_conn_ctx *cc, uint32_t uid, uint32_t gid,
		     const uint32_t *groups, uint32_t n)
{
	int ret;

	if (cc->fsuid == uid && cc->fsgid == gid && groups_same(cc, groups, n))
		return 0;
	/* gid first: changing groups needs CAP_SETGID, not the fs caps */
	if (cc->fsuid != 0) {
		syscall(SYS_setfsuid, 0);
		cc->fsuid = 0;
	}
	ret = set_ids(uid, gid, groups, n);
	/* a backend that is not the kernel's: its own per-thread ids */
	if (!ret && cc->sess && cc->sess->exp->be->creds)
		ret = cc->sess->exp->be->creds(uid, gid, groups, n);
	if (ret) {
		rfs_err_rl("server: setfsuid %u / setfsgid %u (+%u groups): %s",
			   uid, gid, n, strerror(-ret));
		set_ids(0, 0, NULL, 0);
		cc->fsuid = 0;
		cc->fsgid = 0;
		cc->ngroups = 0;
		return ret;
	}
	cc->fsuid = uid;
	cc->fsgid = gid;
	cc->ngroups = n;
	if (n)
		memcpy(cc->groups, groups, 4 * (size_t)n);
	return 0;
}

int rfs_creds_set(struct rfs_conn_ctx *cc, uint32_t uid, uint32_t gid)
{
	return creds_set(cc, uid, gid, NULL, 0);
}

void rfs_creds_root(struct rfs_conn_ctx *cc)
{
	rfs_creds_set(cc, 0, 0);
}

/*
 * The supplementary groups a request runs with, under the export's squash
 * rules, into out; returns how many.  They are the request's own
 * (RFS_HF_GROUPS) when the connection may assert identities, the
 * connected process's (SO_PEERGROUPS) when it acts as itself (ident.c),
 * none when squashed.  all_squash: none (everyone is anonuid/anongid).
 * root_squash: none for a caller squashed from root; for anyone else gid
 * 0 in the list becomes anongid, as the primary gid does.
 */
static uint32_t caller_groups(const struct rfs_req *r, int rule, uint32_t uid,
			      const gid_t *peer, unsigned npeer,
			      uint32_t out[RFS_GROUPS_MAX])
{
	const struct rfs_export *e = r->exp;
	uint32_t n;

	if (e->squash == RFS_SQUASH_ALL ||
	    (e->squash == RFS_SQUASH_ROOT && uid == 0))
		return 0;
	if (rule == RFS_IDS_ASSERT) {
		n = r->v.ngroups;
		for (uint32_t i = 0; i < n; i++)
			out[i] = rfs_proto_group(&r->v, i);
	} else if (rule == RFS_IDS_PEER) {
		n = npeer > RFS_GROUPS_MAX ? RFS_GROUPS_MAX : npeer;
		for (uint32_t i = 0; i < n; i++)
			out[i] = (uint32_t)peer[i];
	} else {
		return 0;
	}
	if (e->squash == RFS_SQUASH_ROOT)
		for (uint32_t i = 0; i < n; i++)
			if (out[i] == 0)
				out[i] = e->anongid;
	return n;
}

int rfs_caller_creds(struct rfs_req *r)
{
	struct rfs_export *e = r->exp;
	uint32_t uid = r->h->uid, gid = r->h->gid;
	uint32_t groups[RFS_GROUPS_MAX], n;
	const gid_t *pgroups;
	unsigned npgroups;
	int rule;

	/* whose ids this connection may use at all (ident.c) */
	rule = rfs_ids_caller(r, &uid, &gid, &pgroups, &npgroups);
	if (rule < 0)
		return rule;
	n = caller_groups(r, rule, uid, pgroups, npgroups, groups);
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
	return creds_set(r->cc, uid, gid, groups, n);
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
	int ret = rfs_cfg.exports[n->exp].be->getattr(n, &st);

	if (ret)
		return ret;
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

/*
 * The node a request names a child in: a directory, or ENOTDIR before
 * the backend is asked (as lookup(2) in a non-directory answers; and a
 * gluster volume may never answer a lookup whose parent is a symlink).
 */
static int req_dir(struct rfs_req *r, uint64_t id, struct rfs_node **out)
{
	int ret = rfs_req_node(r, id, out);

	if (!ret && !S_ISDIR((*out)->type))
		ret = -ENOTDIR;
	return ret;
}

int rfs_req_parent(struct rfs_req *r, uint64_t parent, struct rfs_node **p,
		   char name[RFS_NAME_MAX + 1])
{
	int ret = req_dir(r, parent, p);

	if (ret)
		return ret;
	rfs_cstr(name, r->v.name, r->v.name_len);
	return 0;
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
	int ret;

	ret = r->exp->be->lookup(r->exp, parent, name, &n);
	if (ret)
		return ret;
	ret = rfs_put_entry(&r->mb, n);
	if (!ret)
		rfs_notify_name(r->exp, n->id, parent->id, name,
				(uint32_t)strlen(name));
	rfs_node_put(n);
	return ret;
}

/* the attributes of n, fresh, as the reply */
static int reply_attr(struct rfs_req *r, struct rfs_node *n)
{
	struct rfs_attr *a;
	struct stat st;
	int ret = r->exp->be->getattr(n, &st);

	if (ret)
		return ret;
	a = rfs_mb_put(&r->mb, sizeof(*a));
	if (!a)
		return r->mb.err;
	rfs_fill_attr(a, &st);
	return 0;
}

/* ---- session ops ------------------------------------------------------ */

/* HELLO, ATTACH: once per connection, after AUTH where it is required */
static int session_start(struct rfs_req *r, const char *what)
{
	if (r->cc->sess)
		return -EINVAL;
	return rfs_auth_required(r, what);
}

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

	ret = session_start(r, "HELLO");
	if (ret)
		return ret;
	e = rfs_cfg_find_export(r->v.name, r->v.name_len);
	if (!e) {
		rfs_err_rl("server: %s: HELLO for unknown export '%.*s'",
			   rfs_conn_desc(cc->c), (int)r->v.name_len, r->v.name);
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
	/* notifications: when the client takes them and the export has any */
	if (!e->notify)
		feat &= ~RFS_FEAT_NOTIFY;
	s->notify = feat & RFS_FEAT_NOTIFY;
	/*
	 * Open files for the client's FUSE passthrough: same host only (no
	 * transport: the session fuzzer's harness), and only to a root peer
	 * of a read-write export.  A file we pass lets its holder re-open
	 * it through /proc/self/fd with any access the file's own mode
	 * grants it, past the export's ro flag and the directories' search
	 * permissions; the kernel lets only CAP_SYS_ADMIN register files
	 * for passthrough anyway, and such a peer could do all that itself.
	 */
	if (!cc->x || !(rfs_xprt_flags(cc->x) & RFS_XPRT_F_PASSFD) ||
	    !cc->sec.cred.known || cc->sec.cred.uid != 0 || e->ro)
		feat &= ~RFS_FEAT_PASSFD;
	s->passfd = feat & RFS_FEAT_PASSFD;
	/* replies kept across a restart: when the client asks and we can */
	if ((feat & RFS_FEAT_RESUME) &&
	    (!rfs_xlog_enabled() || rfs_xlog_session(s)))
		feat &= ~RFS_FEAT_RESUME;
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
				  q->max_inflight :
				  256;
	if (p->max_inflight > rfs_cfg.sec.max_inflight)
		p->max_inflight = rfs_cfg.sec.max_inflight;
	p->export_flags = e->ro ? RFS_EXPF_RO : 0;
	if (feat & RFS_FEAT_IDS)
		p->export_flags |= rfs_ids_export_flags(&cc->sec);
	ret = rfs_fill_entry(&p->root, e->root);
	if (!ret)
		ret = rfs_put_handle(&r->mb, e->root);
	rfs_info("server: %s: session %016llx on export %s (identities: %s)",
		 rfs_conn_desc(cc->c), (unsigned long long)s->id, e->name,
		 rfs_ids_name(cc->sec.ids));
	return ret;
}

static int op_attach(struct rfs_req *r)
{
	const struct rfs_attach_req *q = r->v.fixed;
	struct rfs_conn_ctx *cc = r->cc;
	struct rfs_session *s;
	int ret;

	ret = session_start(r, "ATTACH");
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
	struct rfs_node *n;
	int ret;

	/* open_by_handle_at needs CAP_DAC_READ_SEARCH: run as ourselves */
	rfs_creds_root(r->cc);
	ret = rfs_node_resolve(r->exp, q->nodeid, r->v.data, r->v.data_len, &n);
	if (ret)
		return ret;
	r->nodes[r->nnodes++] = n;
	return reply_attr(r, n);
}

/* ---- node ops --------------------------------------------------------- */

static int op_lookup(struct rfs_req *r)
{
	const struct rfs_name_req *q = r->v.fixed;
	struct rfs_node *p;
	char name[RFS_NAME_MAX + 1];
	int ret;

	ret = rfs_req_parent(r, q->parent, &p, name);
	if (ret)
		return ret;
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
	struct rfs_node *n;
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (ret)
		return ret;
	return reply_attr(r, n);
}

/* SETATTR's times as utimensat wants them (checked by the handler) */
void rfs_setattr_times(const struct rfs_setattr_req *q, struct timespec ts[2])
{
	ts[0] = (struct timespec){ .tv_nsec = UTIME_OMIT };
	ts[1] = (struct timespec){ .tv_nsec = UTIME_OMIT };
	if (q->valid & RFS_SA_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (q->valid & RFS_SA_ATIME)
		ts[0] = (struct timespec){ q->atime, q->atime_ns };
	if (q->valid & RFS_SA_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (q->valid & RFS_SA_MTIME)
		ts[1] = (struct timespec){ q->mtime, q->mtime_ns };
}

static bool ts_bad(const struct timespec *t)
{
	return t->tv_nsec != UTIME_OMIT && t->tv_nsec != UTIME_NOW &&
	       t->tv_nsec >= 1000000000;
}

static int op_setattr(struct rfs_req *r)
{
	const struct rfs_setattr_req *q = r->v.fixed;
	struct rfs_fh *f = NULL;
	struct timespec ts[2];
	struct rfs_node *n;
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (ret)
		return ret;
	if ((q->valid & RFS_SA_SIZE) && q->size > INT64_MAX)
		return -EFBIG;
	rfs_setattr_times(q, ts);
	if (ts_bad(&ts[0]) || ts_bad(&ts[1]))
		return -EINVAL;
	if (q->fh) {
		ret = rfs_fh_get(r->sess, q->fh, &f);
		if (ret)
			return ret;
	}
	ret = r->exp->be->setattr(n, f, q);
	if (!ret)
		ret = reply_attr(r, n);
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
	len = r->exp->be->readlink(n, (char *)p, RFS_PATH_MAX);
	if (len < 0)
		return (int)len;
	r->mb.len -= RFS_PATH_MAX - (uint32_t)len;
	return 0;
}

/*
 * MKDIR, MKNOD, SYMLINK: make the name in the parent with mk, then answer
 * with its entry.  mk returns 0 or -errno.
 */
static int op_make(struct rfs_req *r,
		   int (*mk)(struct rfs_req *r, struct rfs_node *p,
			     const char *name, mode_t mode))
{
	const struct rfs_make_req *q = r->v.fixed;
	char name[RFS_NAME_MAX + 1];
	mode_t mode = q->mode & ~q->umask;
	struct rfs_node *p;
	int ret;

	ret = rfs_req_parent(r, q->parent, &p, name);
	if (ret)
		return ret;
	if (rfs_xonce_make(r, p, name) == RFS_XONCE_RAN)
		return reply_new_entry(r, p, name);
	ret = mk(r, p, name, mode);
	if (rfs_xonce_again(r, ret, -EEXIST) &&
	    rfs_xonce_make(r, p, name) == RFS_XONCE_RAN)
		ret = 0;
	if (ret)
		return ret;
	return reply_new_entry(r, p, name);
}

static int mk_dir(struct rfs_req *r, struct rfs_node *p, const char *name,
		  mode_t mode)
{
	return r->exp->be->mkdir(p, name, mode & 07777);
}

static int mk_nod(struct rfs_req *r, struct rfs_node *p, const char *name,
		  mode_t mode)
{
	const struct rfs_make_req *q = r->v.fixed;

	return r->exp->be->mknod(p, name, mode, q->rdev);
}

static int mk_symlink(struct rfs_req *r, struct rfs_node *p, const char *name,
		      mode_t mode)
{
	static __thread char target[RFS_PATH_MAX + 1];

	(void)mode;
	if (r->v.name2_len == 0 || r->v.name2_len > RFS_PATH_MAX ||
	    memchr(r->v.name2, 0, r->v.name2_len))
		return -EINVAL;
	rfs_cstr(target, r->v.name2, r->v.name2_len);
	return r->exp->be->symlink(p, name, target);
}

static int op_mkdir(struct rfs_req *r)
{
	return op_make(r, mk_dir);
}

static int op_mknod(struct rfs_req *r)
{
	return op_make(r, mk_nod);
}

static int op_symlink(struct rfs_req *r)
{
	return op_make(r, mk_symlink);
}

/* UNLINK, RMDIR (dir) */
static int op_remove(struct rfs_req *r, bool dir)
{
	const struct rfs_name_req *q = r->v.fixed;
	char name[RFS_NAME_MAX + 1];
	struct rfs_node *p;
	int ret;

	ret = rfs_req_parent(r, q->parent, &p, name);
	if (ret)
		return ret;
	if (rfs_xonce_remove(r, p, name) == RFS_XONCE_RAN)
		return 0;
	ret = r->exp->be->unlink(p, name, dir);
	if (rfs_xonce_again(r, ret, -ENOENT) &&
	    rfs_xonce_remove(r, p, name) == RFS_XONCE_RAN)
		ret = 0;
	return ret;
}

static int op_unlink(struct rfs_req *r)
{
	return op_remove(r, false);
}

static int op_rmdir(struct rfs_req *r)
{
	return op_remove(r, true);
}

/* second parent of RENAME/LINK: another export's node is -EXDEV */
static int req_dir_xdev(struct rfs_req *r, uint64_t id, struct rfs_node **out)
{
	struct rfs_node *n = rfs_node_get(id);

	if (n && n->exp != r->exp->idx) {
		rfs_node_put(n);
		return -EXDEV;
	}
	rfs_node_put(n);
	return req_dir(r, id, out);
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
	ret = req_dir(r, q->parent, &p);
	if (!ret)
		ret = req_dir_xdev(r, q->newparent, &np);
	if (ret)
		return ret;
	rfs_cstr(name, r->v.name, r->v.name_len);
	rfs_cstr(newname, r->v.name2, r->v.name2_len);
	if (rfs_xonce_rename(r, p, name, np, newname, q->flags) ==
	    RFS_XONCE_RAN)
		return 0;
	ret = r->exp->be->rename(p, name, np, newname, q->flags);
	/* the old name gone (or, NOREPLACE, the new one there) */
	if ((rfs_xonce_again(r, ret, -ENOENT) ||
	     rfs_xonce_again(r, ret, -EEXIST)) &&
	    rfs_xonce_rename(r, p, name, np, newname, q->flags) ==
		    RFS_XONCE_RAN)
		ret = 0;
	return ret;
}

static int op_link(struct rfs_req *r)
{
	const struct rfs_link_req *q = r->v.fixed;
	char name[RFS_NAME_MAX + 1];
	struct rfs_node *n, *np;
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (!ret)
		ret = req_dir_xdev(r, q->newparent, &np);
	if (ret)
		return ret;
	rfs_cstr(name, r->v.name, r->v.name_len);
	if (rfs_xonce_link(r, n, np, name) == RFS_XONCE_RAN)
		return reply_new_entry(r, np, name);
	ret = r->exp->be->link(n, np, name);
	if (rfs_xonce_again(r, ret, -EEXIST) &&
	    rfs_xonce_link(r, n, np, name) == RFS_XONCE_RAN)
		ret = 0;
	if (ret)
		return ret;
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
	ret = r->exp->be->statfs(n, &sv);
	if (ret)
		return ret;
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
	int ret;

	ret = rfs_req_node(r, q->nodeid, &n);
	if (ret)
		return ret;
	if (q->mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	if ((q->mask & W_OK) && r->exp->ro)
		return -EROFS;
	return r->exp->be->access(n, (int)q->mask);
}

/* ---- xattrs ----------------------------------------------------------- */

/* The xattr ops' common start: the node and, when the op has one, the name */
static int xattr_start(struct rfs_req *r, struct rfs_node **n,
		       char name[RFS_XATTR_NAME_MAX + 1])
{
	const struct rfs_xattr_req *q = r->v.fixed;
	int ret;

	ret = rfs_req_node(r, q->nodeid, n);
	if (ret)
		return ret;
	if (r->v.name) {
		if (r->v.name_len == 0 || r->v.name_len > RFS_XATTR_NAME_MAX ||
		    memchr(r->v.name, 0, r->v.name_len))
			return -EINVAL;
		rfs_cstr(name, r->v.name, r->v.name_len);
	}
	return 0;
}

static int op_setxattr(struct rfs_req *r)
{
	const struct rfs_xattr_req *q = r->v.fixed;
	char name[RFS_XATTR_NAME_MAX + 1];
	struct rfs_node *n;
	int ret = xattr_start(r, &n, name);

	if (ret)
		return ret;
	return r->exp->be->setxattr(n, name, r->v.data, r->v.data_len,
				    (int)q->flags);
}

static int op_removexattr(struct rfs_req *r)
{
	char name[RFS_XATTR_NAME_MAX + 1];
	struct rfs_node *n;
	int ret = xattr_start(r, &n, name);

	if (ret)
		return ret;
	return r->exp->be->removexattr(n, name);
}

/* GETXATTR, LISTXATTR (list): struct rfs_xattr_rep, then the data */
static int xattr_get(struct rfs_req *r, bool list)
{
	const struct rfs_xattr_req *q = r->v.fixed;
	char name[RFS_XATTR_NAME_MAX + 1];
	struct rfs_xattr_rep *p;
	struct rfs_node *n;
	uint32_t size = q->size;
	ssize_t len;
	uint8_t *buf = NULL;
	int ret;

	ret = xattr_start(r, &n, name);
	if (ret)
		return ret;
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
	if (list)
		len = r->exp->be->listxattr(n, (char *)buf, size);
	else
		len = r->exp->be->getxattr(n, name, buf, size);
	if (len < 0)
		return (int)len;
	p->size = (uint32_t)len;
	if (size)
		r->mb.len -= size - (uint32_t)len;
	return 0;
}

static int op_getxattr(struct rfs_req *r)
{
	return xattr_get(r, false);
}

static int op_listxattr(struct rfs_req *r)
{
	return xattr_get(r, true);
}

/* ---- dispatch --------------------------------------------------------- */

static int op_ping(struct rfs_req *r)
{
	return rfs_mb_put_bytes(&r->mb, r->v.data, r->v.data_len);
}

static int op_bye(struct rfs_req *r)
{
	r->close_after = true;
	return 0;
}

/* reply payload sizes that depend on the request (see rfs_reply_size) */
static uint32_t size_io(const struct rfs_req_view *v)
{
	const struct rfs_io_req *io = v->fixed;

	return io ? io->size : 0;
}

static uint32_t size_xattr(const struct rfs_req_view *v)
{
	const struct rfs_xattr_req *x = v->fixed;

	return sizeof(struct rfs_xattr_rep) +
	       (x ? (x->size < RFS_XATTR_SIZE_MAX ? x->size :
						    RFS_XATTR_SIZE_MAX) :
		    0);
}

static uint32_t size_ping(const struct rfs_req_view *v)
{
	return v->data_len;
}

/* op_readlink reserves the whole of RFS_PATH_MAX, then gives back */
static uint32_t size_readlink(const struct rfs_req_view *v)
{
	(void)v;
	return RFS_PATH_MAX;
}

/* the reply size of every op without a size hook: all replies fit */
#define REPLY_SIZE_DEFAULT 512u

/* which credentials a handler runs with */
enum {
	CREDS_CALLER = 0, /* the caller's, squashed as the export says */
	CREDS_NONE,	  /* session bookkeeping: no export, no node */
	CREDS_ROOT,	  /* locks: bookkeeping on fds that are ours */
};

/*
 * The server's half of the opcode table (proto/optab.c has the rest):
 * the handler, the reply size when the request decides it, and the
 * credentials.  Every op runs through rfs_dispatch; an op the table
 * flags RFS_OPF_MUTATING is refused on a read-only export.
 */
struct srv_op {
	int (*fn)(struct rfs_req *r);
	uint32_t (*reply_size)(const struct rfs_req_view *v);
	uint8_t creds;
};

static const struct srv_op srv_ops[RFS_OP_MAX_] = {
	[RFS_OP_HELLO] = { .fn = op_hello, .creds = CREDS_NONE },
	[RFS_OP_ATTACH] = { .fn = op_attach, .creds = CREDS_NONE },
	[RFS_OP_PING] = {
		.fn = op_ping,
		.reply_size = size_ping,
		.creds = CREDS_NONE,
	},
	[RFS_OP_BYE] = { .fn = op_bye, .creds = CREDS_NONE },
	[RFS_OP_STATS] = { .fn = op_stats, .creds = CREDS_NONE },
	[RFS_OP_RESOLVE] = { .fn = op_resolve, .creds = CREDS_NONE },
	[RFS_OP_AUTH] = { .fn = rfs_auth_op, .creds = CREDS_NONE },
	[RFS_OP_PATHS] = { .fn = op_paths, .creds = CREDS_NONE },
	[RFS_OP_RESUME] = { .fn = rfs_op_resume, .creds = CREDS_NONE },
	[RFS_OP_LOOKUP] = { .fn = op_lookup },
	[RFS_OP_FORGET] = { .fn = op_forget, .creds = CREDS_NONE },
	[RFS_OP_GETATTR] = { .fn = op_getattr },
	[RFS_OP_SETATTR] = { .fn = op_setattr },
	[RFS_OP_READLINK] = { .fn = op_readlink, .reply_size = size_readlink },
	[RFS_OP_SYMLINK] = { .fn = op_symlink },
	[RFS_OP_MKNOD] = { .fn = op_mknod },
	[RFS_OP_MKDIR] = { .fn = op_mkdir },
	[RFS_OP_UNLINK] = { .fn = op_unlink },
	[RFS_OP_RMDIR] = { .fn = op_rmdir },
	[RFS_OP_RENAME] = { .fn = op_rename },
	[RFS_OP_LINK] = { .fn = op_link },
	[RFS_OP_OPEN] = { .fn = rfs_op_open },
	[RFS_OP_CREATE] = { .fn = rfs_op_create },
	[RFS_OP_READ] = { .fn = rfs_op_read, .reply_size = size_io },
	[RFS_OP_WRITE] = { .fn = rfs_op_write },
	[RFS_OP_FLUSH] = { .fn = rfs_op_flush },
	[RFS_OP_RELEASE] = { .fn = rfs_op_release },
	[RFS_OP_FSYNC] = { .fn = rfs_op_fsync },
	[RFS_OP_OPENDIR] = { .fn = rfs_op_open },
	[RFS_OP_READDIRPLUS] = {
		.fn = rfs_op_readdirplus,
		.reply_size = size_io,
	},
	[RFS_OP_RELEASEDIR] = { .fn = rfs_op_release },
	[RFS_OP_FSYNCDIR] = { .fn = rfs_op_fsync },
	[RFS_OP_STATFS] = { .fn = op_statfs },
	[RFS_OP_ACCESS] = { .fn = op_access },
	[RFS_OP_SETXATTR] = { .fn = op_setxattr },
	[RFS_OP_GETXATTR] = { .fn = op_getxattr, .reply_size = size_xattr },
	[RFS_OP_LISTXATTR] = { .fn = op_listxattr, .reply_size = size_xattr },
	[RFS_OP_REMOVEXATTR] = { .fn = op_removexattr },
	[RFS_OP_GETLK] = { .fn = rfs_op_getlk, .creds = CREDS_ROOT },
	[RFS_OP_SETLK] = { .fn = rfs_op_setlk, .creds = CREDS_ROOT },
	[RFS_OP_FLOCK] = { .fn = rfs_op_flock, .creds = CREDS_ROOT },
	[RFS_OP_FALLOCATE] = { .fn = rfs_op_fallocate },
	[RFS_OP_COPY_FILE_RANGE] = { .fn = rfs_op_copy_file_range },
	[RFS_OP_LSEEK] = { .fn = rfs_op_lseek },
};

static const struct srv_op *srv_op(uint16_t op)
{
	return op < RFS_OP_MAX_ && srv_ops[op].fn ? &srv_ops[op] : NULL;
}

uint32_t rfs_reply_size(const struct rfs_hdr *h, const struct rfs_req_view *v)
{
	const struct srv_op *s = srv_op(h->opcode);

	if (s && s->reply_size)
		return s->reply_size(v);
	return REPLY_SIZE_DEFAULT;
}

int rfs_dispatch(struct rfs_req *r)
{
	uint16_t op = r->h->opcode;
	const struct srv_op *s = srv_op(op);
	int ret;

	if (!s)
		return -ENOSYS;
	if (s->creds == CREDS_ROOT) {
		rfs_creds_root(r->cc);
	} else if (s->creds == CREDS_CALLER) {
		if (r->exp->ro && rfs_op_is(op, RFS_OPF_MUTATING))
			return -EROFS;
		/* a replay after a restart: its nodes, from its INTENT */
		rfs_xonce_prelude(r);
		ret = rfs_caller_creds(r);
		if (ret)
			return ret;
	}
	ret = s->fn(r);
	rfs_notify_after(r, ret);
	return ret;
}
