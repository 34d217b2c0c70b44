// SPDX-License-Identifier: MIT
/*
 * ringfsd against hostile and broken peers.  Starts the real server on
 * 127.0.0.1 port 0 with two temporary exports, talks to it with raw
 * sockets, and after every bad case checks that an already-open good
 * connection still answers PING.  Then a few real operations, and SIGTERM
 * must make it exit 0 promptly.
 *
 * usage: server_test PATH_TO_RINGFSD TRANSPORT
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

static char tmpdir[] = "/tmp/rfs-srvtest-XXXXXX";
static struct t_srv srv;

static void start_server(const char *bin, const char *transport)
{
	char exp_a[256], exp_b[256], state[256];
	const char *const args[] = {
		"--listen",    "127.0.0.1:0", "--export",    exp_a,
		"--export",    exp_b,	      "--state-dir", state,
		"--transport", transport,     NULL
	};

	snprintf(exp_a, sizeof(exp_a), "a=%s/a", tmpdir);
	snprintf(exp_b, sizeof(exp_b), "b=%s/b,ro", tmpdir);
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	t_srv_start(&srv, bin, args);
}

/* a new connection to the server, HELLO'd (with or without checksums) */
static int hello(struct t_conn *c, const char *exp, bool csum)
{
	memset(c, 0, sizeof(*c));
	c->fd = t_connect_tcp(srv.host, srv.port);
	c->no_csum = !csum;
	return t_hello(c, exp);
}

/* ---- the cases --------------------------------------------------------- */

static struct t_conn good;

static void still_good(const char *after)
{
	T_CHECK(t_ping(&good), "good connection stopped answering after %s",
		after);
}

static void raw_case(const char *what, const void *frame, size_t len,
		     bool then_close)
{
	struct t_conn s;

	T_CHECK(hello(&s, "a", true) == 0, "%s: HELLO", what);
	t_send(s.fd, frame, len);
	if (then_close)
		shutdown(s.fd, SHUT_WR);
	T_CHECK(t_closed(s.fd), "%s: connection not closed", what);
	close(s.fd);
	still_good(what);
}

static void malformed_cases(void)
{
	_Alignas(8) uint8_t f[256];
	struct rfs_hdr *h = (struct rfs_hdr *)f;
	struct rfs_mb b;
	struct t_conn s;
	int len;

	/* a valid PING to mutate */
	rfs_mb_init(&b, f, sizeof(f), RFS_OP_PING, 7);
	rfs_mb_put_bytes(&b, "abcdefgh", 8);
	len = rfs_mb_finish(&b, true);

	h->magic ^= 0xff;
	raw_case("bad magic", f, (size_t)len, false);
	h->magic ^= 0xff;

	raw_case("truncated header", f, 20, true);

	h->len = 64u << 20;
	raw_case("oversized length", f, RFS_HDR_SIZE, false);
	h->len = 8;

	h->opcode = 999;
	rfs_proto_seal(h, true);
	raw_case("unknown opcode", f, (size_t)len, false);
	h->opcode = RFS_OP_PING;

	rfs_proto_seal(h, true);
	h->csum ^= 1;
	raw_case("wrong checksum", f, (size_t)len, false);

	rfs_proto_seal(h, false);
	raw_case("missing checksum", f, (size_t)len, false);

	/* wrong version on the very first frame */
	s.fd = t_connect_tcp(srv.host, srv.port);
	rfs_mb_init(&b, f, sizeof(f), RFS_OP_PING, 8);
	len = rfs_mb_finish(&b, false);
	h->major = RFS_PROTO_MAJOR + 1;
	t_send(s.fd, f, (size_t)len);
	if (t_recv_reply(s.fd) == 1)
		T_CHECK(t_rh()->status == -EPROTONOSUPPORT &&
				t_rh()->major == RFS_PROTO_MAJOR,
			"wrong version: status %d", t_rh()->status);
	T_CHECK(t_closed(s.fd), "wrong version: not closed");
	close(s.fd);
	still_good("wrong version");

	/* anything but HELLO/ATTACH first: -EACCES and close */
	s.fd = t_connect_tcp(srv.host, srv.port);
	rfs_mb_init(&b, f, sizeof(f), RFS_OP_PING, 9);
	len = rfs_mb_finish(&b, false);
	t_send(s.fd, f, (size_t)len);
	T_CHECK(t_recv_reply(s.fd) == 1 && t_rh()->status == -EACCES,
		"PING before HELLO: want -EACCES");
	T_CHECK(t_closed(s.fd), "PING before HELLO: not closed");
	close(s.fd);
	still_good("PING before HELLO");

	/* unknown export */
	T_CHECK(hello(&s, "nope", true) == -ENOENT, "unknown export");
	T_CHECK(t_closed(s.fd), "unknown export: not closed");
	close(s.fd);

	/* a malformed payload: LOOKUP shorter than its fixed part */
	T_CHECK(hello(&s, "a", true) == 0, "HELLO");
	rfs_mb_init(&b, f, sizeof(f), RFS_OP_LOOKUP, 10);
	rfs_mb_put(&b, 4);
	len = rfs_mb_finish(&b, true);
	t_send(s.fd, f, (size_t)len);
	T_CHECK(t_closed(s.fd), "short LOOKUP: not closed");
	close(s.fd);
	still_good("short LOOKUP");
}

static void node_cases(void)
{
	static const char *const bad_names[] = { ".", "..", "a/b", "/", "" };
	uint8_t handle[RFS_HANDLE_MAX], forged[RFS_HANDLE_MAX];
	const struct rfs_unknown_node *u;
	struct t_conn s, sb;
	struct rfs_node_req *q;
	struct rfs_entry e, ev;
	struct rfs_mb *b;
	int ret;

	T_CHECK(hello(&s, "a", true) == 0, "HELLO a");

	/* forged node id */
	b = t_req(&s, RFS_OP_GETATTR);
	q = rfs_mb_put(b, sizeof(*q));
	q->nodeid = 0x1234567890abcdefull;
	ret = t_call(&s);
	u = t_rp();
	T_CHECK(ret == -ESTALE && (t_rh()->flags & RFS_HF_UNKNOWN_NODE) &&
			t_rh()->len == sizeof(*u) &&
			u->nodeid == 0x1234567890abcdefull,
		"forged node id: status %d flags %x", t_rh()->status,
		t_rh()->flags);
	still_good("forged node id");

	/* RESOLVE: the real root handle works, a forged one does not */
	T_CHECK(t_resolve(&s, s.root, s.handle, s.hlen) == 0, "RESOLVE root");
	memcpy(forged, s.handle, s.hlen);
	forged[s.hlen / 2] ^= 0x40;
	T_CHECK(t_resolve(&s, s.root, forged, s.hlen) == -ESTALE,
		"RESOLVE forged handle");
	memcpy(forged, s.handle, s.hlen);
	forged[s.hlen - 1] ^= 1; /* the MAC */
	T_CHECK(t_resolve(&s, s.root, forged, s.hlen) == -ESTALE,
		"RESOLVE forged MAC");
	T_CHECK(t_resolve(&s, s.root + 1, s.handle, s.hlen) == -ESTALE,
		"RESOLVE with another id");
	still_good("forged handles");

	/* hostile names */
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		ret = t_lookup(&s, s.root, bad_names[i], NULL, NULL);
		T_CHECK(ret == -EINVAL || ret == -EPIPE, "LOOKUP '%s': %d",
			bad_names[i], ret);
		if (ret == -EPIPE) { /* closed is acceptable too */
			close(s.fd);
			T_CHECK(hello(&s, "a", true) == 0, "HELLO a");
		}
		still_good("hostile name");
	}
	ret = t_lookup_n(&s, s.root, "x\0y", 3, NULL, NULL);
	T_CHECK(ret == -EINVAL || ret == -EPIPE, "LOOKUP with NUL: %d", ret);
	if (ret == -EPIPE) {
		close(s.fd);
		T_CHECK(hello(&s, "a", true) == 0, "HELLO a");
	}

	/* a handle from the other export */
	T_CHECK(hello(&sb, "b", false) == 0, "HELLO b");
	T_CHECK(t_ping(&sb), "PING on b without checksums");
	T_CHECK(t_resolve(&s, sb.root, sb.handle, sb.hlen) == -ESTALE,
		"RESOLVE b's root on a");
	b = t_req(&s, RFS_OP_GETATTR);
	q = rfs_mb_put(b, sizeof(*q));
	q->nodeid = sb.root;
	T_CHECK(t_call(&s) == -ESTALE, "GETATTR of b's root on a");
	close(sb.fd);
	still_good("foreign handle");

	/* the symlink to "/" */
	ret = t_lookup_n(&s, s.root, "evil", 4, &ev, handle);
	T_CHECK(ret == 0 && S_ISLNK(ev.attr.mode), "LOOKUP evil: %d mode %o",
		ret, ev.attr.mode);
	if (ret == 0) {
		ret = t_lookup_n(&s, ev.nodeid, "etc", 3, &e, NULL);
		T_CHECK(ret == -ENOTDIR, "LOOKUP through evil: %d", ret);
	}
	still_good("symlink");

	/* a regular lookup, and RESOLVE gives the same node back */
	ret = t_lookup_n(&s, s.root, "file", 4, &e, handle);
	T_CHECK(ret == 0 && S_ISREG(e.attr.mode) && e.attr.size == 5,
		"LOOKUP file: %d", ret);
	if (ret == 0)
		T_CHECK(t_resolve(&s, e.nodeid, handle, e.handle_len) == 0,
			"RESOLVE file");
	close(s.fd);
}

/* ---- real operations --------------------------------------------------- */

/* SETLK(W) of the whole file; send_only: the reply is the caller's */
static int lock(struct t_conn *s, uint64_t node, uint64_t owner, uint32_t type,
		bool wait, bool send_only)
{
	struct rfs_lock_req *q = rfs_mb_put(t_req(s, RFS_OP_SETLK), sizeof(*q));

	q->nodeid = node;
	q->owner = owner;
	q->flags = wait ? RFS_LK_WAIT : 0;
	q->lock.start = 0;
	q->lock.end = UINT64_MAX;
	q->lock.type = type;
	if (send_only) {
		t_post(s);
		return 0;
	}
	return t_call(s);
}

static void op_cases(void)
{
	struct t_conn s, s2;
	struct rfs_make_req *m;
	struct rfs_io_req *io;
	struct rfs_fh_req *fq;
	const struct rfs_create_rep *cr;
	struct rfs_mb *b;
	struct rfs_entry e;
	uint64_t fh = 0, dfh = 0, node = 0;
	uint32_t pos;
	struct rfs_dirent_view dv;
	bool seen_new = false, seen_dot = false;
	int ret;

	T_CHECK(hello(&s, "a", true) == 0, "HELLO a");

	/* CREATE + WRITE + READ */
	b = t_req(&s, RFS_OP_CREATE);
	m = rfs_mb_put(b, sizeof(*m));
	m->parent = s.root;
	m->mode = S_IFREG | 0644;
	m->umask = 022;
	m->flags = O_RDWR | O_EXCL;
	m->name_len = 3;
	rfs_mb_put_bytes(b, "new", 3);
	ret = t_call(&s);
	T_CHECK(ret == 0, "CREATE: %d", ret);
	if (ret == 0) {
		cr = t_rp();
		fh = cr->fh;
		node = cr->entry.nodeid;
		/* root_squash: created as nobody */
		T_CHECK(cr->entry.attr.uid == 65534, "CREATE uid %u",
			cr->entry.attr.uid);
	}
	b = t_req(&s, RFS_OP_WRITE);
	io = rfs_mb_put(b, sizeof(*io));
	io->nodeid = node;
	io->fh = fh;
	io->offset = 0;
	io->size = 11;
	rfs_mb_put_bytes(b, "hello world", 11);
	T_CHECK(t_call(&s) == 0 &&
			((const struct rfs_write_rep *)t_rp())->written == 11,
		"WRITE: %d", t_rh()->status);
	b = t_req(&s, RFS_OP_READ);
	io = rfs_mb_put(b, sizeof(*io));
	io->nodeid = node;
	io->fh = fh;
	io->offset = 6;
	io->size = 100;
	T_CHECK(t_call(&s) == 0 && t_rh()->len == 5 &&
			!memcmp(t_rp(), "world", 5),
		"READ: %d len %u", t_rh()->status, t_rh()->len);

	/* a bad fh */
	b = t_req(&s, RFS_OP_READ);
	io = rfs_mb_put(b, sizeof(*io));
	io->nodeid = node;
	io->fh = fh + (1ull << 32);
	io->size = 10;
	T_CHECK(t_call(&s) == -EBADF, "bad fh: %d", t_rh()->status);

	/* READDIRPLUS sees it */
	T_CHECK(t_opendir(&s, s.root, &dfh) == 0, "OPENDIR");
	b = t_req(&s, RFS_OP_READDIRPLUS);
	io = rfs_mb_put(b, sizeof(*io));
	io->nodeid = s.root;
	io->fh = dfh;
	io->size = 8192;
	T_CHECK(t_call(&s) == 0 && t_rh()->len > 0, "READDIRPLUS: %d",
		t_rh()->status);
	if (t_rh()->status == 0 &&
	    rfs_proto_decode_rep(t_rh(), t_rp(), RFS_OP_READDIRPLUS,
				 &(struct rfs_rep_view){ 0 }) == 0) {
		pos = 0;
		while (rfs_proto_dirent_next(t_rp(), t_rh()->len, &pos, &dv) ==
		       1) {
			if (dv.d->name_len == 3 && !memcmp(dv.name, "new", 3))
				seen_new = dv.d->entry.nodeid == node;
			if (dv.d->name_len == 1 && dv.name[0] == '.')
				seen_dot = dv.d->entry.nodeid == 0;
		}
	} else {
		T_CHECK(0, "READDIRPLUS reply does not decode");
	}
	T_CHECK(seen_new && seen_dot, "READDIRPLUS records");

	/* a read-only export refuses writes */
	T_CHECK(hello(&s2, "b", true) == 0, "HELLO b");
	b = t_req(&s2, RFS_OP_MKDIR);
	m = rfs_mb_put(b, sizeof(*m));
	m->parent = s2.root;
	m->mode = S_IFDIR | 0755;
	m->name_len = 1;
	rfs_mb_put_bytes(b, "d", 1);
	T_CHECK(t_call(&s2) == -EROFS, "MKDIR on ro: %d", t_rh()->status);
	close(s2.fd);

	/* errno passthrough: MKDIR of an existing name */
	b = t_req(&s, RFS_OP_MKDIR);
	m = rfs_mb_put(b, sizeof(*m));
	m->parent = s.root;
	m->mode = S_IFDIR | 0755;
	m->name_len = 3;
	rfs_mb_put_bytes(b, "new", 3);
	T_CHECK(t_call(&s) == -EEXIST, "MKDIR existing: %d", t_rh()->status);

	/* locks: owner 1 holds, owner 2 waits, owner 1 unlocks */
	T_CHECK(lock(&s, node, 1, RFS_LK_WRLCK, false, false) == 0,
		"SETLK owner 1");
	T_CHECK(lock(&s, node, 2, RFS_LK_WRLCK, false, false) == -EAGAIN,
		"SETLK owner 2 conflicts: %d", t_rh()->status);
	T_CHECK(hello(&s2, "a", true) == 0, "HELLO a (2)");
	lock(&s2, node, 2, RFS_LK_WRLCK, true, true);
	/* the waiting session still answers */
	T_CHECK(t_ping(&s2) && t_rh()->opcode == RFS_OP_PING,
		"PING while SETLKW waits");
	T_CHECK(lock(&s, node, 1, RFS_LK_UNLCK, false, false) == 0,
		"unlock owner 1");
	ret = t_recv_reply(s2.fd);
	T_CHECK(ret == 1 && t_rh()->opcode == RFS_OP_SETLK &&
			t_rh()->status == 0,
		"SETLKW granted: ret %d status %d", ret, t_rh()->status);
	/* FLUSH releases it */
	b = t_req(&s2, RFS_OP_FLUSH);
	fq = rfs_mb_put(b, sizeof(*fq));
	fq->nodeid = node;
	fq->fh = fh;
	fq->lock_owner = 2;
	/* flush on the session that owns owner 2 */
	T_CHECK(t_call(&s2) == 0, "FLUSH");
	T_CHECK(lock(&s, node, 1, RFS_LK_WRLCK, false, false) == 0,
		"SETLK after FLUSH");
	/* a waiter whose connection goes away is cancelled */
	lock(&s2, node, 3, RFS_LK_WRLCK, true, true);
	close(s2.fd);

	b = t_req(&s, RFS_OP_RELEASE);
	fq = rfs_mb_put(b, sizeof(*fq));
	fq->nodeid = node;
	fq->fh = fh;
	T_CHECK(t_call(&s) == 0, "RELEASE");
	b = t_req(&s, RFS_OP_RELEASE);
	fq = rfs_mb_put(b, sizeof(*fq));
	fq->nodeid = node;
	fq->fh = fh;
	T_CHECK(t_call(&s) == -EBADF, "double RELEASE");
	(void)e;
	close(s.fd);
	still_good("operations");
}

/* run ringfsd with args; it must fail, and say `want` on stderr */
static void cli_fail(const char *bin, const char *want, const char *a1,
		     const char *a2, const char *a3, const char *a4,
		     const char *a5, const char *a6)
{
	char out[4096];
	size_t got = 0;
	int pfd[2], st = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		t_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		t_die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(pfd[1], 2);
		dup2(pfd[1], 1);
		execl(bin, bin, a1, a2, a3, a4, a5, a6, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	/* ringfsd exits on these errors: EOF comes (test timeout bounds it) */
	while (got < sizeof(out) - 1 &&
	       (n = read(pfd[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0 && strstr(out, want),
		"ringfsd %s %s %s %s: want failure with '%s', got status %#x "
		"and: %s",
		a1, a2 ? a2 : "", a3 ? a3 : "", a4 ? a4 : "", want, st, out);
}

static void cli_cases(const char *bin)
{
	char listen[64], exp[300], dup[300], notdir[300];

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", srv.port);
	snprintf(exp, sizeof(exp), "a=%s/a", tmpdir);
	snprintf(dup, sizeof(dup), "a=%s/b", tmpdir);
	snprintf(notdir, sizeof(notdir), "f=%s/a/file", tmpdir);
	cli_fail(bin, "unrecognized option", "--bogus", NULL, NULL, NULL, NULL,
		 NULL);
	cli_fail(bin, "duplicate export name", "--listen", "127.0.0.1:0",
		 "--export", exp, "--export", dup);
	cli_fail(bin, "No such file or directory", "--listen", "127.0.0.1:0",
		 "--export", "x=/nonexistent/dir", NULL, NULL);
	cli_fail(bin, "not a directory", "--listen", "127.0.0.1:0", "--export",
		 notdir, NULL, NULL);
	cli_fail(bin, "bad address", "--listen", "nohost:port:x", "--export",
		 exp, NULL, NULL);
	cli_fail(bin, "bad option", "--listen", "127.0.0.1:0", "--export",
		 "z=/tmp,rw,frobnicate", NULL, NULL);
	snprintf(dup, sizeof(dup),
		 "ringfsd: listen %s: Address already in "
		 "use",
		 listen);
	cli_fail(bin, dup, "--listen", listen, "--export", exp, NULL, NULL);
}

static void sigterm_case(void)
{
	int st;

	/* with a connection still open */
	T_CHECK(kill(srv.pid, SIGTERM) == 0, "kill");
	st = t_srv_wait(&srv, T_TIMEOUT_MS);
	T_CHECK(st != -ETIMEDOUT,
		"ringfsd did not exit on SIGTERM within "
		"%d ms",
		T_TIMEOUT_MS);
	if (st != -ETIMEDOUT)
		T_CHECK(st == 0, "ringfsd exit status %d", st);
}

static void mkfile(const char *rel, const char *content)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, content, strlen(content)) < 0)
		t_die("create %s: %s", path, strerror(errno));
	close(fd);
}

int main(int argc, char **argv)
{
	char path[512];

	if (argc != 3) {
		fprintf(stderr, "usage: server_test RINGFSD TRANSPORT\n");
		return 2;
	}
	if (geteuid() != 0)
		T_SKIP("needs root (open_by_handle_at, setfsuid)");
	if (!mkdtemp(tmpdir))
		t_die("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/a", tmpdir);
	mkdir(path, 0777);
	chmod(path, 0777);
	snprintf(path, sizeof(path), "%s/b", tmpdir);
	mkdir(path, 0755);
	mkfile("a/file", "12345");
	mkfile("b/other", "x");
	snprintf(path, sizeof(path), "%s/a/evil", tmpdir);
	if (symlink("/", path) < 0)
		t_die("symlink: %s", strerror(errno));

	start_server(argv[1], argv[2]);
	if (hello(&good, "a", true) != 0 || !t_ping(&good))
		t_die("no good connection");
	malformed_cases();
	node_cases();
	op_cases();
	cli_cases(argv[1]);
	still_good("command line errors");
	sigterm_case();
	close(good.fd);

	snprintf(path, sizeof(path), "rm -rf '%s'", tmpdir);
	if (system(path) != 0)
		fprintf(stderr, "server_test: cleanup of %s failed\n", tmpdir);
	if (t_failed) {
		fprintf(stderr, "server_test: %d failures\n", t_failed);
		return T_EXIT_FAIL;
	}
	printf("server_test (%s): all cases passed\n", argv[2]);
	return 0;
}
