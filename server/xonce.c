// SPDX-License-Identifier: MIT
/*
 * xonce: exactly once across a server restart, the handlers' part
 * (xlog.h has the whole picture).  A persisted op's handler calls one of
 * the rfs_xonce_* functions once it has its nodes and names, before its
 * syscall:
 *
 *   a normal run   the picture of the names it touches (struct rfs_xpre)
 *                  goes into an INTENT record: RUN.
 *   a settle run   a replay whose original died with the old server
 *                  after its INTENT, before its RESULT: the picture now
 *                  is compared with the INTENT's.  The change is there:
 *                  it ran, RAN (the handler answers as if it had just
 *                  done it).  It is not: it did not run; a new INTENT,
 *                  RUN.
 *
 * "The change is there", per op:
 *   MKDIR, MKNOD, SYMLINK, CREATE  the name did not exist and does now
 *   UNLINK, RMDIR      the name was an inode, and is not that inode now
 *   RENAME             the new name is the old name's inode and the old
 *                      name is not (EXCHANGE: the two swapped)
 *   LINK               the new name did not exist and is the node now
 *   WRITE (O_APPEND)   the file is at least the write longer, and the
 *                      bytes at its old end are the request's data
 *
 * The client that sent the request cannot have changed those names since
 * (the kernel holds the directory's lock while the request waits for its
 * reply; the file's, for an append).  Another client could, in the
 * moment the server died, as with any check-then-act: one that made the
 * same name, or appended the same bytes, makes a request that did not run
 * look as if it had.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "ops_i.h"

/*
 * name in p, not following it: its inode, if it is there.  Through the
 * backend (a gluster gateway sees what another one did); a backend
 * without kernel fds reports the inode number alone (the GFID's, the
 * same on every gateway; st_dev is per brick).
 */
static bool name_at(struct rfs_req *r, struct rfs_node *p, const char *name,
		    uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	if (r->exp->be->stat_at(p, name, &st))
		return false;
	*dev = r->exp->be->fd_io ? st.st_dev : 0;
	*ino = st.st_ino;
	return true;
}

/* the first name of picture p is inode (dev, ino) */
static bool a_is(const struct rfs_xpre *p, uint64_t dev, uint64_t ino)
{
	return (p->flags & RFS_XPRE_A) && p->a_dev == dev && p->a_ino == ino;
}

static bool b_is(const struct rfs_xpre *p, uint64_t dev, uint64_t ino)
{
	return (p->flags & RFS_XPRE_B) && p->b_dev == dev && p->b_ino == ino;
}

static int ran(struct rfs_req *r)
{
	if (r->xonce_again) {
		rfs_info("server: %s: replayed request %llu (%s): the "
			 "original landed after the check (an operation of "
			 "the dead server still in flight to the volume): "
			 "answered as run",
			 rfs_conn_desc(r->cc->c), (unsigned long long)r->h->id,
			 rfs_proto_op_name(r->h->opcode));
		return RFS_XONCE_RAN;
	}
	rfs_dbg(RFS_SUB_SERVER,
		"server: %s: replayed request %llu (%s) ran before the server "
		"restarted: answered, not run again",
		rfs_conn_desc(r->cc->c), (unsigned long long)r->h->id,
		rfs_proto_op_name(r->h->opcode));
	return RFS_XONCE_RAN;
}

/* a session without a log: run it (the test hooks still see it) */
static int unlogged(struct rfs_req *r)
{
	r->xonce = true;
	rfs_xonce_hook(r->h->opcode, "intent");
	return RFS_XONCE_RUN;
}

/* log the picture (with the nodes the request names), then run it */
static int run(struct rfs_req *r, struct rfs_xpre *now)
{
	if (r->xonce_again)
		return RFS_XONCE_RUN; /* judged again: it did fail */
	for (unsigned i = 0; i < 2 && i < r->nnodes; i++) {
		const struct rfs_node *n = r->nodes[i];

		now->node[i] = n->id;
		now->hlen[i] = n->hlen;
		memcpy(now->handle[i], n->handle, n->hlen);
	}
	if (r->settle)
		rfs_dbg(RFS_SUB_SERVER,
			"server: %s: replayed request %llu (%s) did not run "
			"before the server restarted: running it",
			rfs_conn_desc(r->cc->c), (unsigned long long)r->h->id,
			rfs_proto_op_name(r->h->opcode));
	rfs_drc_intent(r->sess->drc, r->h->id, now);
	rfs_xlog_intent(r->sess, r->h->id, r->h->opcode, now);
	if (r->settle)
		rfs_xonce_hook(r->h->opcode, "settle");
	return unlogged(r);
}

bool rfs_xonce_again(struct rfs_req *r, int ret, int err)
{
	if (!r->settle || !r->persist || ret != err || r->xonce_again)
		return false;
	r->xonce_again = true;
	return true;
}

/*
 * The picture's first name (name in p) as it is now, in *now: false when
 * r is not logged (the handler then runs it unlogged).
 */
static bool picture(struct rfs_req *r, struct rfs_xpre *now, struct rfs_node *p,
		    const char *name)
{
	memset(now, 0, sizeof(*now));
	if (!r->persist)
		return false;
	if (name_at(r, p, name, &now->a_dev, &now->a_ino))
		now->flags |= RFS_XPRE_A;
	return true;
}

int rfs_xonce_make(struct rfs_req *r, struct rfs_node *p, const char *name)
{
	const struct rfs_xpre *was = r->settle;
	struct rfs_xpre now;

	if (!picture(r, &now, p, name))
		return unlogged(r);
	if (was && !(was->flags & RFS_XPRE_A) && (now.flags & RFS_XPRE_A))
		return ran(r);
	return run(r, &now);
}

int rfs_xonce_remove(struct rfs_req *r, struct rfs_node *p, const char *name)
{
	const struct rfs_xpre *was = r->settle;
	struct rfs_xpre now;

	if (!picture(r, &now, p, name))
		return unlogged(r);
	if (was && (was->flags & RFS_XPRE_A) &&
	    !a_is(&now, was->a_dev, was->a_ino))
		return ran(r);
	return run(r, &now);
}

int rfs_xonce_rename(struct rfs_req *r, struct rfs_node *p, const char *name,
		     struct rfs_node *np, const char *newname, uint32_t flags)
{
	const struct rfs_xpre *was = r->settle;
	struct rfs_xpre now;

	if (!picture(r, &now, p, name))
		return unlogged(r);
	if (name_at(r, np, newname, &now.b_dev, &now.b_ino))
		now.flags |= RFS_XPRE_B;
	if (was && (flags & RFS_RENAME_EXCHANGE)) {
		if ((was->flags & RFS_XPRE_A) && (was->flags & RFS_XPRE_B) &&
		    (was->a_dev != was->b_dev || was->a_ino != was->b_ino) &&
		    a_is(&now, was->b_dev, was->b_ino) &&
		    b_is(&now, was->a_dev, was->a_ino))
			return ran(r);
	} else if (was && (was->flags & RFS_XPRE_A) &&
		   b_is(&now, was->a_dev, was->a_ino) &&
		   !a_is(&now, was->a_dev, was->a_ino)) {
		return ran(r);
	}
	return run(r, &now);
}

int rfs_xonce_link(struct rfs_req *r, struct rfs_node *n, struct rfs_node *np,
		   const char *newname)
{
	const struct rfs_xpre *was = r->settle;
	struct rfs_xpre now;
	struct stat st;

	if (!picture(r, &now, np, newname))
		return unlogged(r);
	if (was && !(was->flags & RFS_XPRE_A) &&
	    r->exp->be->getattr(n, &st) == 0 &&
	    a_is(&now, r->exp->be->fd_io ? st.st_dev : 0, st.st_ino))
		return ran(r);
	return run(r, &now);
}

/* the len bytes at off in the file behind fd are data */
static bool bytes_are(int fd, uint64_t off, const void *data, uint32_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	ssize_t n;
	bool same = false;
	int rfd = -1;

	if (!buf)
		return false;
	do {
		n = pread(fd, buf, len, (off_t)off);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EBADF || errno == EINVAL)) {
		/* opened write-only, or O_DIRECT: read through another open */
		rfd = rfs_reopen(fd, O_RDONLY);
		n = rfd < 0 ? -1 : pread(rfd, buf, len, (off_t)off);
	}
	if (n == (ssize_t)len)
		same = !memcmp(buf, data, len);
	if (rfd >= 0)
		close(rfd);
	free(buf);
	return same;
}

/* the same through a backend without kernel fds (n: f's node) */
static bool be_bytes_are(struct rfs_req *r, struct rfs_fh *f,
			 struct rfs_node *n, uint64_t off, const void *data,
			 uint32_t len)
{
	const struct rfs_backend *be = r->exp->be;
	uint8_t *buf = malloc(len ? len : 1);
	struct rfs_bfile bf;
	ssize_t got;
	bool same = false;

	if (!buf)
		return false;
	got = be->pread(f, buf, len, (off_t)off);
	if (got == -EBADF && be->open(n, O_RDONLY, &bf) == 0) {
		/* opened write-only: read through another open */
		struct rfs_fh rf = { .fd = bf.fd, .obj = bf.obj, .be = be };

		got = be->pread(&rf, buf, len, (off_t)off);
		be->close(&bf);
	}
	if (got == (ssize_t)len)
		same = !memcmp(buf, data, len);
	free(buf);
	return same;
}

int rfs_xonce_append(struct rfs_req *r, struct rfs_fh *f, const void *data,
		     uint32_t len)
{
	const struct rfs_xpre *was = r->settle;
	struct rfs_xpre now = { 0 };
	struct rfs_node *n = NULL;
	struct stat st;
	bool same;

	if (!r->sess || !r->sess->xlog)
		return unlogged(r);
	r->persist = true;
	if (r->exp->be->fd_io) {
		if (fstat(f->fd, &st) < 0)
			return RFS_XONCE_RUN; /* no picture: the reply is logged */
	} else {
		n = rfs_node_get(f->nodeid);
		if (!n || r->exp->be->getattr(n, &st)) {
			rfs_node_put(n);
			return RFS_XONCE_RUN;
		}
	}
	now.size = (uint64_t)st.st_size;
	if (was && now.size >= was->size + len) {
		same = n ? be_bytes_are(r, f, n, was->size, data, len) :
			   bytes_are(f->fd, was->size, data, len);
		if (same) {
			rfs_node_put(n);
			return ran(r);
		}
	}
	rfs_node_put(n);
	return run(r, &now);
}

void rfs_xonce_prelude(struct rfs_req *r)
{
	const struct rfs_xpre *p = r->settle;

	if (!p)
		return;
	/* open_by_handle_at needs CAP_DAC_READ_SEARCH: as ourselves */
	rfs_creds_root(r->cc);
	for (unsigned i = 0; i < 2; i++) {
		struct rfs_node *n;

		if (!p->node[i] || !p->hlen[i] || p->hlen[i] > RFS_HANDLE_MAX)
			continue;
		n = rfs_node_get(p->node[i]);
		if (!n && rfs_node_resolve(r->exp, p->node[i], p->handle[i],
					   p->hlen[i], &n))
			continue; /* gone: the handler says so */
		rfs_node_put(n);
	}
}

void rfs_xonce_hook(uint16_t op, const char *where)
{
#if HAVE_TEST_HOOKS
	bool stop = !strcmp(where, "settle");
	const char *var = stop ? "RINGFSD_TEST_STOP" : "RINGFSD_TEST_KILL";
	const char *want = getenv(var);
	const char *name = rfs_proto_op_name(op);
	size_t len = strlen(name);

	if (!want || strncmp(want, name, len) || want[len] != ':' ||
	    strcmp(want + len + 1, where))
		return;
	rfs_warn("server: test hook %s=%s: %s myself", var, want,
		 stop ? "stopping" : "killing");
	raise(stop ? SIGSTOP : SIGKILL);
#else
	(void)op;
	(void)where;
#endif
}
