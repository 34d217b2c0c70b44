// SPDX-License-Identifier: MIT
/*
 * sec-forge-*: a client that puts someone else's uid in its requests gets
 * nothing it could not read as itself.
 *
 *   forge_test RINGFSD TRANSPORT    tcp or uring (ringfsd --transport and
 *                                   the client's), or shm (the Unix
 *                                   socket: shm, and the byte stream
 *                                   over it)
 *
 * Root makes an export with a victim's file (uid 1000, mode 0600 in a
 * 0700 directory), a world-readable file, one readable by group 4242 and
 * a 1777 root, and starts ringfsd without a key, with one export per
 * trust option (ringfsd(8), TRUST).  A forked child that is nobody
 * (65534:65534, supplementary group 4242) then talks to it with the
 * project's own client code (client/rpc.c over the real transport,
 * frames from proto/'s encoder) and uid 1000 in every header:
 *
 *   TCP, no key (ephemeral source port)
 *     data     HELLO says RFS_EXPF_IDS_REFUSED; every request EACCES, even
 *              as itself; ATTACH to its own session refused; logged
 *     squash   untrusted=squash: the victim's file EACCES, the public
 *              one readable, a new file belongs to anonuid:anongid
 *     insecure the export option brings back the old hole (it reads the
 *              victim's file): that is what it means
 *     keyed    a second ringfsd with --key-file: HELLO without AUTH is
 *              -ENOKEY, and the key file is not readable by nobody
 *   Unix socket (shm, and tcp framing over the socket)
 *     data     RFS_EXPF_IDS_PEER: it acts as itself: the victim's file
 *              EACCES, the public one and the group-4242 one (its
 *              SO_PEERGROUPS) readable, new files its own (65534), with
 *              the header's gid when it has that group
 *     strict   peercred=refuse: a header naming uid 1000 is refused, one
 *              naming itself works
 *
 * Root, the same way (the parent): from a privileged source port it
 * acts as uid 1000 (reads the file, creates one owned 1000:1000), but
 * not on a privport=off export; with the key it acts as uid 1000 on
 * privport=off; on the Unix socket it acts as uid 1000.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "log.h"
#include "rpc.h"
#include "tlib.h"

#define VICTIM 1000u
#define NOBODY 65534u
#define GROUP 4242u
#define ANON 2000u /* anonuid/anongid of the squash export */

static char tmp[] = "/tmp/rfs-forge-XXXXXX";
static const char *xprt; /* the client transport of this run */

/* ---- a client: client/rpc.c, frames built with proto/ ------------------ */

struct fc {
	struct rfs_rpc r;
	uint64_t root;
	uint32_t flags; /* HELLO's export_flags */
	uint64_t session;
	uint8_t token[16];
};

static void path(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", tmp, rel);
}

/* connect over `name` to addr, AUTH (key loaded) when auth, HELLO */
static int fc_open(struct fc *c, const char *name, const char *addr,
		   const char *export, bool auth)
{
	const struct rfs_rpc_hello h = {
		.export = export,
		.csum = true,
		.max_inflight = 16,
		.timeout_ms = T_TIMEOUT_MS,
	};
	const struct rfs_hello_rep *hr;
	uint8_t tok[RFS_AUTH_TOKEN_LEN];
	struct rfs_xprt_params p;
	struct rfs_rep_view v;
	struct rfs_addr a;
	struct rfs_buf *rb;
	const char *why;
	int ret;

	memset(c, 0, sizeof(*c));
	rfs_rpc_init(&c->r);
	if (rfs_addr_parse(addr, 0, &a))
		t_die("bad address %s", addr);
	rfs_xprt_params_default(&p);
	ret = rfs_rpc_connect(&c->r, name, &p, &a, T_TIMEOUT_MS);
	if (ret)
		t_die("connect over %s to %s: %s", name, addr, strerror(-ret));
	if (auth) {
		ret = rfs_rpc_auth(&c->r, export, true, T_TIMEOUT_MS, tok);
		if (ret)
			return ret;
	}
	ret = rfs_rpc_hello(&c->r, &h, &rb, &v, &why);
	if (ret)
		return ret;
	hr = v.fixed;
	c->root = hr->root.nodeid;
	c->flags = hr->export_flags;
	c->session = hr->session;
	memcpy(c->token, hr->token, sizeof(c->token));
	rfs_xprt_buf_put(c->r.x, rb);
	return 0;
}

static void fc_close(struct fc *c)
{
	if (c->r.c)
		rfs_rpc_close(&c->r, T_TIMEOUT_MS);
	else
		rfs_rpc_shutdown(&c->r, 0);
}

/* the identity every following request claims */
static void fc_as(struct fc *c, uint32_t uid, uint32_t gid)
{
	c->r.uid = uid;
	c->r.gid = gid;
}

/* send mb's frame; 0 with the reply (*rb, lent) and its view, or -errno */
static int fc_call(struct fc *c, struct rfs_buf *b, struct rfs_mb *mb,
		   uint16_t op, struct rfs_buf **rb, struct rfs_rep_view *v)
{
	uint64_t id = rfs_mb_hdr(mb)->id;
	const char *why = NULL;
	int ret;

	ret = rfs_rpc_call(&c->r, b, mb, T_TIMEOUT_MS, rb);
	if (ret)
		t_die("%s: call: %s", xprt, strerror(-ret));
	ret = rfs_rpc_check_reply(&c->r, *rb, op, id, v, &why);
	if (ret == -EPROTO || ret == -EBADMSG)
		t_die("%s: bad reply: %s", xprt, why ? why : "?");
	if (ret) {
		rfs_xprt_buf_put(c->r.x, *rb);
		*rb = NULL;
	}
	return ret;
}

static struct rfs_buf *fc_req(struct fc *c, struct rfs_mb *mb, uint16_t op)
{
	struct rfs_buf *b = rfs_rpc_req(&c->r, mb, op, 4096);

	if (!b)
		t_die("no buffer for a request");
	return b;
}

static int fc_lookup(struct fc *c, uint64_t parent, const char *name,
		     uint64_t *node)
{
	struct rfs_name_req *q;
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	struct rfs_mb mb;
	int ret;

	b = fc_req(c, &mb, RFS_OP_LOOKUP);
	q = rfs_mb_put(&mb, sizeof(*q));
	q->parent = parent;
	q->name_len = (uint16_t)strlen(name);
	rfs_mb_put_bytes(&mb, name, q->name_len);
	ret = fc_call(c, b, &mb, RFS_OP_LOOKUP, &rb, &v);
	if (ret)
		return ret;
	*node = ((const struct rfs_entry *)v.fixed)->nodeid;
	rfs_xprt_buf_put(c->r.x, rb);
	return 0;
}

/* "a/b": one LOOKUP per component from the root */
static int fc_walk(struct fc *c, const char *rel, uint64_t *node)
{
	char buf[256], *save = NULL, *tok;
	int ret;

	snprintf(buf, sizeof(buf), "%s", rel);
	*node = c->root;
	for (tok = strtok_r(buf, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		ret = fc_lookup(c, *node, tok, node);
		if (ret)
			return ret;
	}
	return 0;
}

static void fc_release(struct fc *c, uint64_t node, uint64_t fh)
{
	struct rfs_fh_req *q;
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	struct rfs_mb mb;

	b = fc_req(c, &mb, RFS_OP_RELEASE);
	q = rfs_mb_put(&mb, sizeof(*q));
	q->nodeid = node;
	q->fh = fh;
	if (fc_call(c, b, &mb, RFS_OP_RELEASE, &rb, &v) == 0)
		rfs_xprt_buf_put(c->r.x, rb);
}

/* rel's contents into out (NUL-terminated): the length or -errno */
static int fc_read(struct fc *c, const char *rel, char *out, size_t cap)
{
	struct rfs_open_req *oq;
	struct rfs_io_req *iq;
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	struct rfs_mb mb;
	uint64_t node, fh;
	int ret;

	ret = fc_walk(c, rel, &node);
	if (ret)
		return ret;
	b = fc_req(c, &mb, RFS_OP_OPEN);
	oq = rfs_mb_put(&mb, sizeof(*oq));
	oq->nodeid = node;
	oq->flags = O_RDONLY;
	ret = fc_call(c, b, &mb, RFS_OP_OPEN, &rb, &v);
	if (ret)
		return ret;
	fh = ((const struct rfs_open_rep *)v.fixed)->fh;
	rfs_xprt_buf_put(c->r.x, rb);
	b = fc_req(c, &mb, RFS_OP_READ);
	iq = rfs_mb_put(&mb, sizeof(*iq));
	iq->nodeid = node;
	iq->fh = fh;
	iq->size = (uint32_t)cap - 1;
	ret = fc_call(c, b, &mb, RFS_OP_READ, &rb, &v);
	if (!ret) {
		memcpy(out, v.data, v.data_len);
		out[v.data_len] = 0;
		ret = (int)v.data_len;
		rfs_xprt_buf_put(c->r.x, rb);
	}
	fc_release(c, node, fh);
	return ret;
}

/* CREATE name in the root; the owner the server replies with */
static int fc_create(struct fc *c, const char *name, uint32_t *uid,
		     uint32_t *gid)
{
	const struct rfs_create_rep *p;
	struct rfs_make_req *q;
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	struct rfs_mb mb;
	int ret;

	b = fc_req(c, &mb, RFS_OP_CREATE);
	q = rfs_mb_put(&mb, sizeof(*q));
	q->parent = c->root;
	q->mode = S_IFREG | 0644;
	q->flags = O_WRONLY | O_EXCL;
	q->name_len = (uint16_t)strlen(name);
	rfs_mb_put_bytes(&mb, name, q->name_len);
	ret = fc_call(c, b, &mb, RFS_OP_CREATE, &rb, &v);
	if (ret)
		return ret;
	p = v.fixed;
	*uid = p->entry.attr.uid;
	*gid = p->entry.attr.gid;
	rfs_xprt_buf_put(c->r.x, rb);
	fc_release(c, p->entry.nodeid, p->fh);
	return 0;
}

/* ATTACH to (session, token) on a new connection: the status */
static int fc_attach(const char *addr, const struct fc *to)
{
	struct rfs_attach_req *q;
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	struct rfs_xprt_params p;
	struct rfs_addr a;
	struct rfs_mb mb;
	struct fc c;
	int ret;

	memset(&c, 0, sizeof(c));
	rfs_rpc_init(&c.r);
	if (rfs_addr_parse(addr, 0, &a))
		t_die("bad address %s", addr);
	rfs_xprt_params_default(&p);
	if (rfs_rpc_connect(&c.r, xprt, &p, &a, T_TIMEOUT_MS))
		t_die("connect to %s", addr);
	b = fc_req(&c, &mb, RFS_OP_ATTACH);
	q = rfs_mb_put(&mb, sizeof(*q));
	q->session = to->session;
	memcpy(q->token, to->token, sizeof(q->token));
	ret = fc_call(&c, b, &mb, RFS_OP_ATTACH, &rb, &v);
	if (!ret)
		rfs_xprt_buf_put(c.r.x, rb);
	rfs_rpc_shutdown(&c.r, T_TIMEOUT_MS);
	return ret;
}

/* ---- the tree and the servers ------------------------------------------ */

static void put_file(const char *rel, const char *data, mode_t mode, uid_t uid,
		     gid_t gid)
{
	char p[512];
	int fd;

	path(p, sizeof(p), rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data) ||
	    fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
		t_die("make %s: %s", p, strerror(errno));
	close(fd);
}

static void put_dir(const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	char p[512];

	path(p, sizeof(p), rel);
	if (mkdir(p, mode) < 0 || chown(p, uid, gid) < 0 || chmod(p, mode) < 0)
		t_die("make %s: %s", p, strerror(errno));
}

static void owner_is(const char *rel, uid_t uid, gid_t gid)
{
	struct stat sb;
	char p[512];

	path(p, sizeof(p), rel);
	T_CHECK(lstat(p, &sb) == 0 && sb.st_uid == uid && sb.st_gid == gid,
		"%s: owner %u:%u on disk, want %u:%u", rel, (unsigned)sb.st_uid,
		(unsigned)sb.st_gid, (unsigned)uid, (unsigned)gid);
}

static void cleanup(void)
{
	t_rm_tree(tmp);
}

/* ---- as nobody ---------------------------------------------------------- */

static void tcp_as_nobody(const char *addr, const char *kaddr)
{
	uint32_t uid, gid;
	char buf[256];
	struct fc c;
	int ret;

	/* the default: refused, even as itself */
	T_EQ(fc_open(&c, xprt, addr, "data", false), 0);
	T_EQ(c.flags & RFS_EXPF_IDS, RFS_EXPF_IDS_REFUSED);
	fc_as(&c, VICTIM, VICTIM);
	T_EQ(fc_read(&c, "vic/secret", buf, sizeof(buf)), -EACCES);
	T_EQ(fc_read(&c, "pub", buf, sizeof(buf)), -EACCES);
	fc_as(&c, NOBODY, NOBODY);
	T_EQ(fc_read(&c, "pub", buf, sizeof(buf)), -EACCES);
	T_EQ(fc_create(&c, "refused", &uid, &gid), -EACCES);
	T_EQ(fc_attach(addr, &c), -EACCES);
	fc_close(&c);

	/* untrusted=squash: anonuid:anongid, whatever it claims */
	T_EQ(fc_open(&c, xprt, addr, "squash", false), 0);
	T_EQ(c.flags & RFS_EXPF_IDS, RFS_EXPF_IDS_SQUASHED);
	fc_as(&c, VICTIM, VICTIM);
	T_EQ(fc_read(&c, "vic/secret", buf, sizeof(buf)), -EACCES);
	T_EQ(fc_read(&c, "grp", buf, sizeof(buf)), -EACCES);
	ret = fc_read(&c, "pub", buf, sizeof(buf));
	T_CHECK(ret > 0 && !strcmp(buf, "public\n"), "read pub: %d", ret);
	ret = fc_create(&c, "squashed", &uid, &gid);
	T_CHECK(ret == 0 && uid == ANON && gid == ANON,
		"create as %u: %d, owner %u:%u", VICTIM, ret, uid, gid);
	fc_close(&c);

	/* insecure: the header is believed; this is the hole it opens */
	T_EQ(fc_open(&c, xprt, addr, "insecure", false), 0);
	T_EQ(c.flags & RFS_EXPF_IDS, 0);
	fc_as(&c, VICTIM, VICTIM);
	ret = fc_read(&c, "vic/secret", buf, sizeof(buf));
	T_CHECK(ret > 0 && !strcmp(buf, "victim\n"), "insecure: %d", ret);
	fc_close(&c);

	/* the keyed server: no HELLO without AUTH, and no key to read */
	T_EQ(fc_open(&c, xprt, kaddr, "data", false), -ENOKEY);
	fc_close(&c);
	path(buf, sizeof(buf), "key");
	T_CHECK(open(buf, O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES,
		"nobody can open the key file");
}

static void unix_as_nobody(const char *addr)
{
	uint32_t uid, gid;
	char buf[256], name[64];
	struct fc c;
	int ret;

	/* itself, whatever it claims */
	T_EQ(fc_open(&c, xprt, addr, "data", false), 0);
	T_EQ(c.flags & RFS_EXPF_IDS, RFS_EXPF_IDS_PEER);
	fc_as(&c, VICTIM, VICTIM);
	T_EQ(fc_read(&c, "vic/secret", buf, sizeof(buf)), -EACCES);
	ret = fc_read(&c, "pub", buf, sizeof(buf));
	T_CHECK(ret > 0 && !strcmp(buf, "public\n"), "read pub: %d", ret);
	/* its supplementary group, which the header does not carry */
	ret = fc_read(&c, "grp", buf, sizeof(buf));
	T_CHECK(ret > 0 && !strcmp(buf, "group\n"), "read grp: %d", ret);
	snprintf(name, sizeof(name), "own-%s", xprt);
	ret = fc_create(&c, name, &uid, &gid);
	T_CHECK(ret == 0 && uid == NOBODY && gid == NOBODY,
		"create as %u: %d, owner %u:%u", VICTIM, ret, uid, gid);
	/* a gid it has is taken from the header */
	fc_as(&c, VICTIM, GROUP);
	snprintf(name, sizeof(name), "grp-%s", xprt);
	ret = fc_create(&c, name, &uid, &gid);
	T_CHECK(ret == 0 && uid == NOBODY && gid == GROUP,
		"create with gid %u: %d, owner %u:%u", GROUP, ret, uid, gid);
	fc_close(&c);

	/* peercred=refuse: another identity is refused, its own works */
	T_EQ(fc_open(&c, xprt, addr, "strict", false), 0);
	T_EQ(c.flags & RFS_EXPF_IDS, RFS_EXPF_IDS_PEER);
	fc_as(&c, VICTIM, VICTIM);
	T_EQ(fc_read(&c, "pub", buf, sizeof(buf)), -EACCES);
	fc_as(&c, NOBODY, NOBODY);
	ret = fc_read(&c, "pub", buf, sizeof(buf));
	T_CHECK(ret > 0 && !strcmp(buf, "public\n"), "strict, own: %d", ret);
	fc_close(&c);
}

/*
 * Fork, become nobody (+ group 4242) and run this program again as the
 * forging client: "forge_test --nobody tcp|unix XPRT TMP ADDR [KADDR]"
 * (a fresh process: nothing of ours, no lock held by a thread that the
 * fork left behind).  Its verdict counts as one check.
 */
static void as_nobody(const char *what, const char *a, const char *b)
{
	const char *argv[] = { "forge_test", "--nobody", what, xprt,
			       tmp,	     a,		 b,    NULL };
	gid_t groups[] = { GROUP };
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		t_die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (setgroups(1, groups) < 0 ||
		    setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(126);
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid)
		t_die("waitpid: %s", strerror(errno));
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		"the forging client (nobody, %s over %s) failed: status %#x",
		what, xprt, st);
}

/* the child: argv as as_nobody builds it */
static int nobody_main(int argc, char **argv)
{
	if (argc < 6 || geteuid() != NOBODY || getegid() != NOBODY)
		t_die("--nobody: bad arguments, or not nobody (uid %u)",
		      (unsigned)geteuid());
	xprt = argv[3];
	snprintf(tmp, sizeof(tmp), "%s", argv[4]);
	if (!strcmp(argv[2], "tcp") && argc == 7)
		tcp_as_nobody(argv[5], argv[6]);
	else if (!strcmp(argv[2], "unix"))
		unix_as_nobody(argv[5]);
	else
		t_die("--nobody %s: unknown", argv[2]);
	printf("as nobody (%s over %s): %d passed, %d failed\n", argv[2], xprt,
	       t_passed, t_failed);
	return t_failed ? T_EXIT_FAIL : T_EXIT_PASS;
}

/* ---- as root ------------------------------------------------------------ */

static void root_acts_as_victim(const char *addr, const char *export, bool auth,
				const char *made)
{
	uint32_t uid, gid;
	char buf[256];
	struct fc c;
	int ret;

	T_EQ(fc_open(&c, xprt, addr, export, auth), 0);
	T_EQ(c.flags & RFS_EXPF_IDS, 0);
	fc_as(&c, VICTIM, VICTIM);
	ret = fc_read(&c, "vic/secret", buf, sizeof(buf));
	T_CHECK(ret > 0 && !strcmp(buf, "victim\n"),
		"root as %u over %s to %s (%s): %d", VICTIM, xprt, addr, export,
		ret);
	if (made) {
		ret = fc_create(&c, made, &uid, &gid);
		T_CHECK(ret == 0 && uid == VICTIM && gid == VICTIM,
			"root creates as %u: %d, owner %u:%u", VICTIM, ret, uid,
			gid);
		snprintf(buf, sizeof(buf), "e/%s", made);
		owner_is(buf, VICTIM, VICTIM);
	}
	fc_close(&c);
}

int main(int argc, char **argv)
{
	char exp[6][640], st[2][600], sock[600], key[600], addr[128],
		kaddr[128], uaddr[700], buf[256];
	const char *stream;
	uint8_t rnd[32];
	struct t_srv s, k = { 0 };
	struct fc c;
	bool unix_run;

	rfs_log_init("forge_test");
	if (argc > 1 && !strcmp(argv[1], "--nobody"))
		return nobody_main(argc, argv);
	if (argc != 3) {
		fprintf(stderr, "usage: forge_test RINGFSD tcp|uring|shm\n");
		return 2;
	}
	xprt = argv[2];
	unix_run = !strcmp(xprt, "shm");
	if (geteuid() != 0)
		T_SKIP("needs root (a victim's files, becoming nobody, "
		       "setfsuid on the server)");
	if (!rfs_xprt_is_built(xprt))
		T_SKIP("transport %s not built (built: %s)", xprt,
		       rfs_xprt_built());
	stream = unix_run ? (rfs_xprt_is_built("uring") ? "uring" : "tcp") :
			    xprt;
	if (!mkdtemp(tmp))
		t_die("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	chmod(tmp, 0755);
	put_dir("e", 01777, 0, 0);
	put_dir("e/vic", 0700, VICTIM, VICTIM);
	put_file("e/vic/secret", "victim\n", 0600, VICTIM, VICTIM);
	put_file("e/pub", "public\n", 0644, 0, 0);
	put_file("e/grp", "group\n", 0640, 0, GROUP);
	put_dir("st", 0700, 0, 0);
	put_dir("st2", 0700, 0, 0);
	rfs_auth_random(rnd, sizeof(rnd));
	path(key, sizeof(key), "key");
	{
		int fd = open(key, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			      0600);

		if (fd < 0 || write(fd, rnd, sizeof(rnd)) != sizeof(rnd))
			t_die("write %s: %s", key, strerror(errno));
		close(fd);
	}
	path(sock, sizeof(sock), "sock");
	path(st[0], sizeof(st[0]), "st");
	path(st[1], sizeof(st[1]), "st2");
	snprintf(exp[0], sizeof(exp[0]), "data=%s/e", tmp);
	snprintf(exp[1], sizeof(exp[1]),
		 "squash=%s/e,untrusted=squash,anonuid=%u,anongid=%u", tmp,
		 ANON, ANON);
	snprintf(exp[2], sizeof(exp[2]), "strict=%s/e,peercred=refuse", tmp);
	snprintf(exp[3], sizeof(exp[3]), "insecure=%s/e,insecure", tmp);
	snprintf(exp[4], sizeof(exp[4]), "nopriv=%s/e,privport=off", tmp);
	snprintf(exp[5], sizeof(exp[5]), "data=%s/e,privport=off", tmp);
	{
		const char *args[] = {
			"--listen",    "127.0.0.1:0", "--listen-unix",
			sock,	       "--transport", stream,
			"--state-dir", st[0],	      "--export",
			exp[0],	       "--export",    exp[1],
			"--export",    exp[2],	      "--export",
			exp[3],	       "--export",    exp[4],
			NULL
		};

		t_srv_start(&s, argv[1], args);
	}
	snprintf(addr, sizeof(addr), "%s:%u", s.host, s.port);
	snprintf(uaddr, sizeof(uaddr), "unix:%s", sock);

	if (unix_run) {
		/* shm, then the byte stream on the same socket */
		as_nobody("unix", uaddr, NULL);
		owner_is("e/own-shm", NOBODY, NOBODY);
		owner_is("e/grp-shm", NOBODY, GROUP);
		T_CHECK(t_srv_log_wait(&s,
				       "request as 1000:1000, not its "
				       "own: refused (peercred=refuse)",
				       T_TIMEOUT_MS),
			"no log line for the refused request");
		T_CHECK(t_srv_log_wait(&s, "local pid ", T_TIMEOUT_MS),
			"the log does not name the local peer");
		xprt = "tcp";
		as_nobody("unix", uaddr, NULL);
		owner_is("e/own-tcp", NOBODY, NOBODY);
		xprt = "shm";
		/* root on the Unix socket is believed */
		root_acts_as_victim(uaddr, "data", false, NULL);
	} else {
		const char *args[] = {
			"--listen",    "127.0.0.1:0", "--transport", stream,
			"--state-dir", st[1],	      "--key-file",  key,
			"--export",    exp[5],	      NULL
		};

		t_srv_start(&k, argv[1], args);
		snprintf(kaddr, sizeof(kaddr), "%s:%u", k.host, k.port);
		as_nobody("tcp", addr, kaddr);
		owner_is("e/squashed", ANON, ANON);
		snprintf(buf, sizeof(buf),
			 "HELLO for export data: may not "
			 "act as its users (no key, and "
			 "source port ");
		T_CHECK(t_srv_log_wait(&s, buf, T_TIMEOUT_MS),
			"no log line naming the refused peer");
		T_CHECK(t_srv_log_wait(&s,
				       "every request runs as 2000:2000 "
				       "(untrusted=squash)",
				       T_TIMEOUT_MS),
			"no log line for the squashed peer");

		/* root from a privileged port; not where privport=off */
		root_acts_as_victim(addr, "data", false, "byroot");
		T_EQ(fc_open(&c, xprt, addr, "nopriv", false), 0);
		T_EQ(c.flags & RFS_EXPF_IDS, RFS_EXPF_IDS_REFUSED);
		fc_close(&c);
		/* with the key (privport=off there): believed */
		if (rfs_cl_auth_load(key))
			t_die("cannot load the key %s", key);
		root_acts_as_victim(kaddr, "data", true, NULL);
		T_CHECK(t_srv_stop(&k) == 0, "keyed ringfsd did not exit 0");
	}
	T_CHECK(t_srv_stop(&s) == 0, "ringfsd did not exit 0 on SIGTERM");
	T_DONE();
}
