// SPDX-License-Identifier: MIT
/*
 * xonce_test: exactly once across a server restart (server/xlog.h), with
 * the real ringfsd and raw frames.  A session that asks for
 * RFS_FEAT_RESUME runs non-idempotent requests; ringfsd is kill -9'd and
 * started again with the same --state-dir; a new session RESUMEs the old
 * one and replays the requests (same ids, RFS_HF_REPLAY), as ringfs does
 * after a restart.  Each replay must get the answer of one run, and the
 * export must show each change once:
 *
 *   kept       the requests ran and were answered (the client lost the
 *              replies): MKDIR, CREATE (O_EXCL: its fh works in the new
 *              session), an appending WRITE, LINK, RENAME, UNLINK; a
 *              session that did not RESUME runs them again (EEXIST)
 *   refused    RESUME with a wrong token, from another export, twice,
 *              without RFS_FEAT_RESUME, of a session never seen
 *   mid-run    (-Dtest_hooks=true) the server dies right after a
 *              request's INTENT, or right after its syscall, before its
 *              RESULT: the replay finds out whether it ran; and the
 *              original lands after the replay looked (the export
 *              changed while the new server is stopped between its
 *              check and its syscall): the replay is judged again
 *   lifetime   an orderly exit keeps the logs, BYE removes a session's
 *              log, unclaimed logs go after the session grace period
 *   shared     two servers with one --reply-log-dir (two gateways): a
 *              session's log cannot be RESUMEd on B while A lives
 *              (EBUSY); once A is kill -9'd, B takes it over and answers
 *              the replays; a session whose grace period ends leaves its
 *              log, which the sweep removes when nobody owns it
 *
 * usage: xonce_test PATH_TO_RINGFSD
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tlib.h"

static char tmpdir[] = "/tmp/rfs-xonce-XXXXXX";
static const char *bin;
static struct t_srv srv;

/*
 * ringfsd on a fresh port, the same state dir; kill: RINGFSD_TEST_KILL;
 * stop_spec (start_stop): RINGFSD_TEST_STOP
 */
static const char *stop_spec;

static void start(const char *kill_spec, const char *grace)
{
	char exp_a[300], exp_b[300], state[300];
	const char *const args[] = { "--listen",
				     "127.0.0.1:0",
				     "--export",
				     exp_a,
				     "--export",
				     exp_b,
				     "--state-dir",
				     state,
				     "--session-grace",
				     grace ? grace : "30",
				     NULL };

	snprintf(exp_a, sizeof(exp_a), "a=%s/a,no_root_squash", tmpdir);
	snprintf(exp_b, sizeof(exp_b), "b=%s/b,no_root_squash", tmpdir);
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	if (kill_spec)
		setenv("RINGFSD_TEST_KILL", kill_spec, 1);
	if (stop_spec)
		setenv("RINGFSD_TEST_STOP", stop_spec, 1);
	t_srv_start(&srv, bin, args);
	unsetenv("RINGFSD_TEST_KILL");
	unsetenv("RINGFSD_TEST_STOP");
}

static void crash(void)
{
	T_CHECK(kill(srv.pid, SIGKILL) == 0, "kill -9 ringfsd");
	T_CHECK(t_srv_wait(&srv, T_TIMEOUT_MS) == -1,
		"ringfsd did not die of the kill");
}

/* a session on export exp that keeps its replies */
static void hello(struct t_conn *c, const char *exp)
{
	memset(c, 0, sizeof(*c));
	c->fd = t_connect_tcp(srv.host, srv.port);
	c->want = RFS_FEAT_RESUME;
	T_CHECK(t_hello(c, exp) == 0 && (c->features & RFS_FEAT_RESUME),
		"HELLO with RFS_FEAT_RESUME on %s", exp);
}

static int resume_as(struct t_conn *c, uint64_t session,
		     const uint8_t token[16], uint32_t *n)
{
	struct rfs_resume_req *q;
	int ret;

	q = rfs_mb_put(t_req(c, RFS_OP_RESUME), sizeof(*q));
	q->session = session;
	memcpy(q->token, token, sizeof(q->token));
	ret = t_call(c);
	if (!ret && n)
		*n = ((const struct rfs_resume_rep *)t_rp())->replies;
	return ret;
}

static int resume(struct t_conn *c, const struct t_conn *old, uint32_t *n)
{
	return resume_as(c, old->session, old->token, n);
}

/* a request frame as sent, for a replay */
struct kept {
	_Alignas(8) uint8_t f[4096];
	uint32_t len;
};

static void keep(struct kept *k)
{
	const void *p = t_sent(&k->len);

	if (k->len > sizeof(k->f))
		t_die("request too big to keep: %u bytes", k->len);
	memcpy(k->f, p, k->len);
}

/* resend k on c as a replay (same id, RFS_HF_REPLAY); its status */
static int replay(struct t_conn *c, struct kept *k)
{
	struct rfs_hdr *h = (struct rfs_hdr *)(void *)k->f;

	h->flags |= RFS_HF_REPLAY;
	rfs_proto_seal(h, c->csum);
	t_send(c->fd, k->f, k->len);
	if (t_recv_reply(c->fd) != 1)
		return -ETIMEDOUT;
	T_CHECK(t_rh()->id == h->id && t_rh()->opcode == h->opcode,
		"replay of request %llu: reply to %llu",
		(unsigned long long)h->id, (unsigned long long)t_rh()->id);
	return t_rh()->status;
}

/* a replayed WRITE names the fh of the new session */
static void set_fh(struct kept *k, uint64_t fh)
{
	memcpy(k->f + RFS_HDR_SIZE + offsetof(struct rfs_io_req, fh), &fh,
	       sizeof(fh));
}

/* CREATE name in the root with flags; *fh, *node */
static int create(struct t_conn *c, const char *name, uint32_t flags,
		  uint64_t *fh, uint64_t *node)
{
	struct rfs_mb *b = t_req(c, RFS_OP_CREATE);
	struct rfs_make_req *q;
	const struct rfs_create_rep *p;
	int ret;

	q = rfs_mb_put(b, sizeof(*q));
	q->parent = c->root;
	q->mode = S_IFREG | 0644;
	q->flags = flags;
	q->name_len = (uint16_t)strlen(name);
	rfs_mb_put_bytes(b, name, q->name_len);
	ret = t_call(c);
	if (ret)
		return ret;
	p = t_rp();
	if (fh)
		*fh = p->fh;
	if (node)
		*node = p->entry.nodeid;
	return 0;
}

static int write_fh(struct t_conn *c, uint64_t node, uint64_t fh,
		    const char *data)
{
	struct rfs_mb *b = t_req(c, RFS_OP_WRITE);
	struct rfs_io_req *io = rfs_mb_put(b, sizeof(*io));

	io->nodeid = node;
	io->fh = fh;
	io->size = (uint32_t)strlen(data);
	rfs_mb_put_bytes(b, data, io->size);
	return t_call(c);
}

static int name_op(struct t_conn *c, uint16_t op, const char *name)
{
	struct rfs_mb *b = t_req(c, op);
	struct rfs_name_req *q = rfs_mb_put(b, sizeof(*q));

	q->parent = c->root;
	q->name_len = (uint16_t)strlen(name);
	rfs_mb_put_bytes(b, name, q->name_len);
	return t_call(c);
}

static int rename_op(struct t_conn *c, const char *from, const char *to)
{
	struct rfs_mb *b = t_req(c, RFS_OP_RENAME);
	struct rfs_rename_req *q = rfs_mb_put(b, sizeof(*q));

	q->parent = c->root;
	q->newparent = c->root;
	q->name_len = (uint16_t)strlen(from);
	q->newname_len = (uint16_t)strlen(to);
	rfs_mb_put_bytes(b, from, q->name_len);
	rfs_mb_put_bytes(b, to, q->newname_len);
	return t_call(c);
}

static int link_op(struct t_conn *c, uint64_t node, const char *name)
{
	struct rfs_mb *b = t_req(c, RFS_OP_LINK);
	struct rfs_link_req *q = rfs_mb_put(b, sizeof(*q));

	q->nodeid = node;
	q->newparent = c->root;
	q->name_len = (uint16_t)strlen(name);
	rfs_mb_put_bytes(b, name, q->name_len);
	return t_call(c);
}

/* ---- what the export shows --------------------------------------------- */

static bool st_of(const char *rel, struct stat *st)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/a/%s", tmpdir, rel);
	return lstat(p, st) == 0;
}

static bool exists(const char *rel)
{
	struct stat st;

	return st_of(rel, &st);
}

static unsigned nlink_of(const char *rel)
{
	struct stat st;

	return st_of(rel, &st) ? (unsigned)st.st_nlink : 0;
}

/* the file's whole content is want */
static bool content_is(const char *rel, const char *want)
{
	char p[512], buf[256];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/a/%s", tmpdir, rel);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = 0;
	if (strcmp(buf, want))
		fprintf(stderr, "# %s holds '%s', want '%s'\n", rel, buf, want);
	return !strcmp(buf, want);
}

static bool log_exists(uint64_t session)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/state/replies/%016llx.log", tmpdir,
		 (unsigned long long)session);
	return access(p, F_OK) == 0;
}

/* ---- the cases --------------------------------------------------------- */

/* the requests ran and were answered; the client never saw the replies */
static void kept_cases(void)
{
	struct kept mk, cr, wr, ln, rn, ul;
	struct t_conn a, b, c;
	struct rfs_entry e;
	uint64_t fh, lfh, node, lnode, dnode = 0;
	uint32_t n = 0;

	start(NULL, NULL);
	hello(&a, "a");
	T_CHECK(t_make(&a, RFS_OP_MKDIR, a.root, "k-dir", S_IFDIR | 0755, NULL,
		       &e, NULL) == 0,
		"MKDIR");
	dnode = e.nodeid;
	keep(&mk);
	T_CHECK(create(&a, "k-excl", O_RDWR | O_EXCL, &fh, &node) == 0,
		"CREATE O_EXCL");
	keep(&cr);
	T_CHECK(create(&a, "k-log", O_WRONLY | O_APPEND | O_EXCL, &lfh,
		       &lnode) == 0,
		"CREATE O_APPEND");
	T_CHECK(write_fh(&a, lnode, lfh, "abc") == 0, "WRITE O_APPEND");
	keep(&wr);
	T_CHECK(link_op(&a, node, "k-link") == 0, "LINK");
	keep(&ln);
	T_CHECK(rename_op(&a, "k-link", "k-moved") == 0, "RENAME");
	keep(&rn);
	T_CHECK(name_op(&a, RFS_OP_UNLINK, "k-moved") == 0, "UNLINK");
	keep(&ul);
	T_CHECK(log_exists(a.session), "session %016llx has a reply log",
		(unsigned long long)a.session);

	crash();
	start(NULL, NULL);
	hello(&b, "a");
	T_CHECK(resume(&b, &a, &n) == 0 && n >= 6,
		"RESUME of the old session: %d, %u replies", t_rh()->status, n);
	T_CHECK(replay(&b, &mk) == 0 &&
			((const struct rfs_entry *)t_rp())->nodeid == dnode,
		"replayed MKDIR: its entry, not EEXIST (%d)", t_rh()->status);
	T_CHECK(replay(&b, &cr) == 0, "replayed CREATE O_EXCL: %d",
		t_rh()->status);
	fh = ((const struct rfs_create_rep *)t_rp())->fh;
	T_CHECK(write_fh(&b, node, fh, "x") == 0,
		"the replayed CREATE's fh works in the new session: %d",
		t_rh()->status);
	/* a new server knows no node yet (ringfs would RESOLVE it) */
	T_CHECK(t_lookup(&b, b.root, "k-log", NULL, NULL) == 0 &&
			t_open(&b, lnode, O_WRONLY | O_APPEND, &lfh) == 0,
		"OPEN O_APPEND again");
	set_fh(&wr, lfh);
	T_CHECK(replay(&b, &wr) == 0 &&
			((const struct rfs_write_rep *)t_rp())->written == 3,
		"replayed WRITE O_APPEND: %d", t_rh()->status);
	T_CHECK(replay(&b, &ln) == 0, "replayed LINK: %d (not EEXIST)",
		t_rh()->status);
	T_CHECK(replay(&b, &rn) == 0, "replayed RENAME: %d (not ENOENT)",
		t_rh()->status);
	T_CHECK(replay(&b, &ul) == 0, "replayed UNLINK: %d", t_rh()->status);
	/* once each */
	T_CHECK(content_is("k-log", "abc"), "appended once");
	T_CHECK(content_is("k-excl", "x"), "created once");
	T_CHECK(nlink_of("k-excl") == 1 && !exists("k-link") &&
			!exists("k-moved"),
		"linked, moved and removed once");
	T_CHECK(!log_exists(a.session) && log_exists(b.session),
		"the new session took the old one's log over");

	/* without RESUME a replay runs again: what the log is for */
	hello(&c, "a");
	T_CHECK(replay(&c, &mk) == -EEXIST, "MKDIR replayed without RESUME: %d",
		t_rh()->status);
	close(a.fd);
	close(b.fd);
	close(c.fd);
	crash();
}

static void refused_cases(void)
{
	struct t_conn a, b, c, d;
	uint8_t wrong[16];

	start(NULL, NULL);
	hello(&a, "a");
	T_CHECK(t_make(&a, RFS_OP_MKDIR, a.root, "r-dir", S_IFDIR | 0755, NULL,
		       NULL, NULL) == 0,
		"MKDIR");
	crash();
	start(NULL, NULL);
	hello(&b, "b");
	T_CHECK(resume(&b, &a, NULL) == -EACCES,
		"RESUME from another export: %d", t_rh()->status);
	hello(&c, "a");
	memcpy(wrong, a.token, sizeof(wrong));
	wrong[3] ^= 1;
	T_CHECK(resume_as(&c, a.session, wrong, NULL) == -EACCES,
		"RESUME with a wrong token: %d", t_rh()->status);
	T_CHECK(resume_as(&c, a.session ^ 1, a.token, NULL) == -EBADSLT,
		"RESUME of a session never seen: %d", t_rh()->status);
	T_CHECK(resume(&c, &a, NULL) == 0, "RESUME: %d", t_rh()->status);
	T_CHECK(resume(&c, &a, NULL) == -EALREADY, "RESUME twice: %d",
		t_rh()->status);
	T_CHECK(t_ping(&c), "the session goes on after the refusals");
	memset(&d, 0, sizeof(d));
	d.fd = t_connect_tcp(srv.host, srv.port);
	T_CHECK(t_hello(&d, "a") == 0 && !(d.features & RFS_FEAT_RESUME),
		"HELLO without RFS_FEAT_RESUME");
	T_CHECK(resume(&d, &a, NULL) == -EINVAL,
		"RESUME without RFS_FEAT_RESUME: %d", t_rh()->status);
	close(a.fd);
	close(b.fd);
	close(c.fd);
	close(d.fd);
	crash();
}

/*
 * The server dies at `where` in the request `what` sends (after setup);
 * a new server, RESUME, the replay: status 0, and check() holds.
 */
struct midrun {
	const char *spec; /* RINGFSD_TEST_KILL */
	const char *name; /* the case's file name */
};

static uint64_t mr_node, mr_fh;

static void mr_send(struct t_conn *c, const char *spec, const char *name)
{
	char n2[80];

	snprintf(n2, sizeof(n2), "%s-2", name);
	if (!strncmp(spec, "mkdir", 5)) {
		struct rfs_make_req *q;
		struct rfs_mb *b = t_req(c, RFS_OP_MKDIR);

		q = rfs_mb_put(b, sizeof(*q));
		q->parent = c->root;
		q->mode = S_IFDIR | 0755;
		q->name_len = (uint16_t)strlen(name);
		rfs_mb_put_bytes(b, name, q->name_len);
	} else if (!strncmp(spec, "create", 6)) {
		struct rfs_make_req *q;
		struct rfs_mb *b = t_req(c, RFS_OP_CREATE);

		q = rfs_mb_put(b, sizeof(*q));
		q->parent = c->root;
		q->mode = S_IFREG | 0644;
		q->flags = O_RDWR | O_EXCL;
		q->name_len = (uint16_t)strlen(name);
		rfs_mb_put_bytes(b, name, q->name_len);
	} else if (!strncmp(spec, "rename", 6)) {
		struct rfs_mb *b;
		struct rfs_rename_req *q;

		T_CHECK(create(c, name, O_RDWR, NULL, NULL) == 0, "setup");
		b = t_req(c, RFS_OP_RENAME);
		q = rfs_mb_put(b, sizeof(*q));
		q->parent = c->root;
		q->newparent = c->root;
		q->name_len = (uint16_t)strlen(name);
		q->newname_len = (uint16_t)strlen(n2);
		rfs_mb_put_bytes(b, name, q->name_len);
		rfs_mb_put_bytes(b, n2, q->newname_len);
	} else if (!strncmp(spec, "link", 4)) {
		struct rfs_mb *b;
		struct rfs_link_req *q;

		T_CHECK(create(c, name, O_RDWR, NULL, &mr_node) == 0, "setup");
		b = t_req(c, RFS_OP_LINK);
		q = rfs_mb_put(b, sizeof(*q));
		q->nodeid = mr_node;
		q->newparent = c->root;
		q->name_len = (uint16_t)strlen(n2);
		rfs_mb_put_bytes(b, n2, q->name_len);
	} else if (!strncmp(spec, "unlink", 6)) {
		struct rfs_mb *b;
		struct rfs_name_req *q;

		T_CHECK(create(c, name, O_RDWR, NULL, NULL) == 0, "setup");
		b = t_req(c, RFS_OP_UNLINK);
		q = rfs_mb_put(b, sizeof(*q));
		q->parent = c->root;
		q->name_len = (uint16_t)strlen(name);
		rfs_mb_put_bytes(b, name, q->name_len);
	} else { /* write: an append */
		struct rfs_mb *b;
		struct rfs_io_req *io;

		/* not through an O_APPEND fh: that WRITE would be the one */
		T_CHECK(create(c, name, O_RDWR, &mr_fh, &mr_node) == 0 &&
				write_fh(c, mr_node, mr_fh, "head.") == 0 &&
				t_open(c, mr_node, O_WRONLY | O_APPEND,
				       &mr_fh) == 0,
			"setup");
		b = t_req(c, RFS_OP_WRITE);
		io = rfs_mb_put(b, sizeof(*io));
		io->nodeid = mr_node;
		io->fh = mr_fh;
		io->size = 5;
		rfs_mb_put_bytes(b, "tail.", 5);
	}
	t_post(c);
}

static bool mr_check(const char *spec, const char *name)
{
	char n2[80];

	snprintf(n2, sizeof(n2), "%s-2", name);
	if (!strncmp(spec, "mkdir", 5))
		return exists(name);
	if (!strncmp(spec, "create", 6))
		return exists(name);
	if (!strncmp(spec, "rename", 6))
		return !exists(name) && exists(n2);
	if (!strncmp(spec, "link", 4))
		return nlink_of(name) == 2 && nlink_of(n2) == 2;
	if (!strncmp(spec, "unlink", 6))
		return !exists(name);
	return content_is(name, "head.tail.");
}

/*
 * A server that dies at spec (RINGFSD_TEST_KILL) gets what spec's case
 * sends in a session that keeps its replies: the request, kept in *k for
 * the replay; *a is the old session.
 */
static void send_and_die(const char *spec, const char *name, struct t_conn *a,
			 struct kept *k)
{
	int st;

	start(spec, NULL);
	hello(a, "a");
	mr_send(a, spec, name);
	keep(k);
	T_CHECK(t_closed(a->fd), "%s: the server did not die", spec);
	st = t_srv_wait(&srv, T_TIMEOUT_MS);
	T_CHECK(st == -1, "%s: ringfsd exit %d, want killed", spec, st);
	close(a->fd);
}

static void midrun_case(const char *spec, unsigned i)
{
	struct t_conn a, b;
	struct kept k;
	char name[64];
	int st;

	snprintf(name, sizeof(name), "m%u", i);
	send_and_die(spec, name, &a, &k);
	start(NULL, NULL);
	hello(&b, "a");
	T_CHECK(resume(&b, &a, NULL) == 0, "%s: RESUME: %d", spec,
		t_rh()->status);
	if (!strncmp(spec, "write", 5)) {
		T_CHECK(t_lookup(&b, b.root, name, NULL, NULL) == 0 &&
				t_open(&b, mr_node, O_WRONLY | O_APPEND,
				       &mr_fh) == 0,
			"%s: OPEN again", spec);
		set_fh(&k, mr_fh);
	}
	st = replay(&b, &k);
	T_CHECK(st == 0, "%s: the replay: %d", spec, st);
	if (!strncmp(spec, "create", 6) && st == 0) {
		const struct rfs_create_rep *p = t_rp();
		uint64_t fh = p->fh, node = p->entry.nodeid;

		T_CHECK(write_fh(&b, node, fh, "c") == 0 &&
				content_is(name, "c"),
			"%s: the replayed CREATE's fh works", spec);
	}
	T_CHECK(mr_check(spec, name), "%s: the change happened once", spec);
	close(b.fd);
	crash();
}

/* bounded wait for process pid to be stopped (state T) */
static bool stopped(pid_t pid)
{
	struct timespec ts = { 0, 10 * 1000000 };
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < T_TIMEOUT_MS / 10; i++) {
		FILE *f = fopen(path, "r");
		char *rp;
		bool t = false;

		if (f && fgets(buf, sizeof(buf), f) &&
		    (rp = strrchr(buf, ')')) && rp[1] == ' ')
			t = rp[2] == 'T';
		if (f)
			fclose(f);
		if (t)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* in the export: the change spec's request makes, done behind its back */
static bool late_change(const char *spec, const char *name)
{
	char p[512], p2[512];

	snprintf(p, sizeof(p), "%s/a/%s", tmpdir, name);
	snprintf(p2, sizeof(p2), "%s/a/%s-2", tmpdir, name);
	if (!strncmp(spec, "mkdir", 5))
		return mkdir(p, 0755) == 0;
	if (!strncmp(spec, "create", 6)) {
		int fd = open(p, O_CREAT | O_EXCL | O_RDWR, 0644);

		return fd >= 0 && close(fd) == 0;
	}
	if (!strncmp(spec, "rename", 6))
		return rename(p, p2) == 0;
	if (!strncmp(spec, "link", 4))
		return link(p, p2) == 0;
	return unlink(p) == 0;
}

/*
 * The dead server's operation lands late: the server dies after the
 * INTENT (before its syscall); the next one's settle run looks (the
 * change is not there: RUN) and stops (RINGFSD_TEST_STOP); the test
 * makes the change in the export, as the dead server's operation still
 * in flight to a volume would; the syscall then fails (EEXIST, ENOENT):
 * judged again, the replay must answer as run, and the change be there
 * once.
 */
static void late_case(const char *op, unsigned i)
{
	char spec[32], name[64];
	struct t_conn a, b;
	struct kept k;
	int st;

	snprintf(spec, sizeof(spec), "%s:intent", op);
	snprintf(name, sizeof(name), "late%u", i);
	send_and_die(spec, name, &a, &k);
	snprintf(spec, sizeof(spec), "%s:settle", op);
	stop_spec = spec;
	start(NULL, NULL);
	stop_spec = NULL;
	hello(&b, "a");
	T_CHECK(resume(&b, &a, NULL) == 0, "late %s: RESUME: %d", op,
		t_rh()->status);
	((struct rfs_hdr *)(void *)k.f)->flags |= RFS_HF_REPLAY;
	rfs_proto_seal((struct rfs_hdr *)(void *)k.f, b.csum);
	t_send(b.fd, k.f, k.len);
	T_CHECK(t_srv_log_wait(&srv, "RINGFSD_TEST_STOP", T_TIMEOUT_MS) &&
			stopped(srv.pid),
		"late %s: the settle run did not stop", op);
	T_CHECK(late_change(op, name),
		"late %s: the change behind its back: %s", op, strerror(errno));
	T_CHECK(kill(srv.pid, SIGCONT) == 0, "SIGCONT");
	st = t_recv_reply(b.fd) == 1 ? t_rh()->status : -ETIMEDOUT;
	T_CHECK(st == 0, "late %s: the replay: %d (%s), want 0 (judged again)",
		op, st, strerror(-st));
	if (!strncmp(op, "create", 6) && st == 0) {
		const struct rfs_create_rep *p = t_rp();

		T_CHECK(write_fh(&b, p->entry.nodeid, p->fh, "c") == 0 &&
				content_is(name, "c"),
			"late create: the replayed CREATE's fh works");
	}
	T_CHECK(mr_check(spec, name), "late %s: the change happened once", op);
	T_CHECK(t_srv_log_wait(&srv, "landed after the check", T_TIMEOUT_MS),
		"late %s: the server says the original landed late", op);
	close(b.fd);
	crash();
}

static void midrun_cases(void)
{
	static const char *const specs[] = {
		"mkdir:intent",	 "mkdir:result",  "create:intent",
		"create:result", "rename:intent", "rename:result",
		"link:result",	 "unlink:intent", "unlink:result",
		"write:intent",	 "write:result",
	};
	static const char *const lates[] = { "mkdir", "create", "rename",
					     "link", "unlink" };

	if (!HAVE_TEST_HOOKS) {
		printf("# mid-run cases skipped: this build has no test hooks "
		       "(meson -Dtest_hooks=true)\n");
		return;
	}
	for (unsigned i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		midrun_case(specs[i], i);
	for (unsigned i = 0; i < sizeof(lates) / sizeof(lates[0]); i++)
		late_case(lates[i], i);
}

/* bounded wait for the log of session to go (the server removes it) */
static bool log_goes(uint64_t session)
{
	struct timespec ts = { 0, 20 * 1000000 };

	for (int i = 0; i < T_TIMEOUT_MS / 20; i++) {
		if (!log_exists(session))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static void lifetime_cases(void)
{
	struct t_conn a, b, c, d, e;
	struct kept mk;

	/* an orderly exit (SIGTERM) keeps the log */
	start(NULL, NULL);
	hello(&a, "a");
	T_CHECK(t_make(&a, RFS_OP_MKDIR, a.root, "l-dir", S_IFDIR | 0755, NULL,
		       NULL, NULL) == 0,
		"MKDIR");
	keep(&mk);
	close(a.fd);
	T_CHECK(t_srv_stop(&srv) == 0, "SIGTERM: exit 0");
	start(NULL, NULL);
	hello(&b, "a");
	T_CHECK(resume(&b, &a, NULL) == 0 && replay(&b, &mk) == 0,
		"after an orderly restart: RESUME and the replay: %d",
		t_rh()->status);

	/* BYE ends the session and its log */
	hello(&c, "a");
	T_CHECK(t_make(&c, RFS_OP_MKDIR, c.root, "l-dir2", S_IFDIR | 0755, NULL,
		       NULL, NULL) == 0 &&
			log_exists(c.session),
		"MKDIR makes the session's log");
	t_req(&c, RFS_OP_BYE);
	t_post(&c);
	T_CHECK(log_goes(c.session), "BYE: the log is removed");
	close(b.fd);
	close(c.fd);

	/* nobody RESUMEs: the logs go after the grace period */
	hello(&d, "a");
	T_CHECK(t_make(&d, RFS_OP_MKDIR, d.root, "l-dir3", S_IFDIR | 0755, NULL,
		       NULL, NULL) == 0,
		"MKDIR");
	crash();
	start(NULL, "1");
	T_CHECK(t_srv_log_wait(&srv, "reply logs of the previous run removed",
			       T_TIMEOUT_MS),
		"the unclaimed logs are removed after --session-grace");
	T_CHECK(!log_exists(d.session), "the log is gone");
	hello(&e, "a");
	T_CHECK(resume(&e, &d, NULL) == -EBADSLT,
		"RESUME after the grace period: %d", t_rh()->status);
	close(d.fd);
	close(e.fd);
	T_CHECK(t_srv_stop(&srv) == 0, "SIGTERM: exit 0");
}

/* ---- shared reply logs: two gateways -------------------------------------- */

static struct t_srv srv_b;

/* a gateway with the shared log directory; grace: --session-grace */
static void start_shared(struct t_srv *s, const char *grace)
{
	char exp_a[300], state[300], shared[300];
	const char *const args[] = { "--listen",
				     "127.0.0.1:0",
				     "--export",
				     exp_a,
				     "--state-dir",
				     state,
				     "--reply-log-dir",
				     shared,
				     "--session-grace",
				     grace,
				     NULL };

	snprintf(exp_a, sizeof(exp_a), "a=%s/a,no_root_squash", tmpdir);
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	snprintf(shared, sizeof(shared), "%s/shared", tmpdir);
	t_srv_start(s, bin, args);
}

static void hello_on(struct t_conn *c, struct t_srv *s)
{
	memset(c, 0, sizeof(*c));
	c->fd = t_connect_tcp(s->host, s->port);
	c->want = RFS_FEAT_RESUME;
	T_CHECK(t_hello(c, "a") == 0 && (c->features & RFS_FEAT_RESUME),
		"HELLO with RFS_FEAT_RESUME on a");
}

static bool shared_log_exists(uint64_t session)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/shared/%016llx.log", tmpdir,
		 (unsigned long long)session);
	return access(p, F_OK) == 0;
}

static void shared_cases(void)
{
	struct t_conn a, b, c;
	struct kept mk, cr;
	uint32_t n = 0;
	char p[300];
	uint8_t none[16] = { 0 };

	snprintf(p, sizeof(p), "%s/shared", tmpdir);
	T_CHECK(mkdir(p, 0700) == 0, "mkdir %s", p);
	start_shared(&srv, "30");
	start_shared(&srv_b, "1");
	hello_on(&a, &srv);
	T_CHECK(t_make(&a, RFS_OP_MKDIR, a.root, "s-dir", S_IFDIR | 0755, NULL,
		       NULL, NULL) == 0,
		"MKDIR on A");
	keep(&mk);
	T_CHECK(create(&a, "s-excl", O_RDWR | O_EXCL, NULL, NULL) == 0,
		"CREATE O_EXCL on A");
	keep(&cr);
	T_CHECK(shared_log_exists(a.session), "A's session logs in the shared "
					      "directory");

	/* A lives (cut off from the client): B must not take the log */
	hello_on(&b, &srv_b);
	T_CHECK(resume(&b, &a, &n) == -EBUSY,
		"RESUME on B while A owns the log: %d (want -EBUSY)",
		t_rh()->status);
	T_CHECK(resume_as(&b, 0x2e2e2f2e2e2fULL, none, NULL) == -EBADSLT,
		"RESUME of a session never seen: %d", t_rh()->status);

	/* A dies: B takes the log over and answers the replays */
	crash();
	T_CHECK(resume(&b, &a, &n) == 0 && n >= 2,
		"RESUME on B after A died: %d, %u replies", t_rh()->status, n);
	T_CHECK(replay(&b, &mk) == 0, "MKDIR replayed on B: %d (once)",
		t_rh()->status);
	T_CHECK(replay(&b, &cr) == 0, "CREATE O_EXCL replayed on B: %d (once)",
		t_rh()->status);
	T_CHECK(exists("s-dir") && exists("s-excl"), "made once");
	T_CHECK(!shared_log_exists(a.session) && shared_log_exists(b.session),
		"A's log became B's session's");

	/* B's session ends by its grace period: the log stays for another
	   gateway, then the sweep removes it (nobody owns it) */
	close(b.fd);
	T_CHECK(t_srv_log_wait(&srv_b, "grace period over", T_TIMEOUT_MS),
		"B frees the session after --session-grace");
	T_CHECK(shared_log_exists(b.session),
		"the shared log stays after the grace period");
	hello_on(&c, &srv_b);
	T_CHECK(t_srv_log_wait(&srv_b, "nobody owned them", 3 * T_TIMEOUT_MS),
		"the sweep removes logs nobody owns");
	T_CHECK(!shared_log_exists(b.session), "the swept log is gone");
	close(a.fd);
	close(c.fd);
	T_CHECK(t_srv_stop(&srv_b) == 0, "SIGTERM B: exit 0");
}

int main(int argc, char **argv)
{
	char path[512];

	if (argc != 2) {
		fprintf(stderr, "usage: xonce_test RINGFSD\n");
		return 2;
	}
	bin = argv[1];
	if (geteuid() != 0)
		T_SKIP("needs root (open_by_handle_at, setfsuid)");
	if (!mkdtemp(tmpdir))
		t_die("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/a", tmpdir);
	if (mkdir(path, 0755) < 0)
		t_die("mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/b", tmpdir);
	if (mkdir(path, 0755) < 0)
		t_die("mkdir %s: %s", path, strerror(errno));

	kept_cases();
	refused_cases();
	midrun_cases();
	lifetime_cases();
	shared_cases();

	snprintf(path, sizeof(path), "rm -rf '%s'", tmpdir);
	if (system(path) != 0)
		fprintf(stderr, "xonce_test: cleanup of %s failed\n", tmpdir);
	if (t_failed) {
		fprintf(stderr, "xonce_test: %d failures\n", t_failed);
		return T_EXIT_FAIL;
	}
	printf("xonce_test: all cases passed\n");
	return 0;
}
