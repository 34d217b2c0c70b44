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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "proto.h"

#define T_TIMEOUT_MS 10000

static char tmpdir[] = "/tmp/rfs-srvtest-XXXXXX";
static pid_t srv_pid;
static unsigned srv_port;
static int failures;
static uint64_t next_id = 100;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,      \
				__LINE__, #cond);                          \
			fprintf(stderr, __VA_ARGS__);                      \
			fprintf(stderr, "\n");                             \
			failures++;                                        \
		}                                                          \
	} while (0)

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "server_test: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (srv_pid > 0)
		kill(srv_pid, SIGKILL);
	exit(1);
}

/* ---- the server process ------------------------------------------------ */

static void *drain_stderr(void *arg)
{
	FILE *f = arg;
	char line[2048];

	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  [ringfsd] %s", line);
	fclose(f);
	return NULL;
}

static void start_server(const char *bin, const char *transport)
{
	char exp_a[256], exp_b[256], state[256], line[2048];
	int pfd[2];
	pthread_t thr;
	FILE *f;

	snprintf(exp_a, sizeof(exp_a), "a=%s/a", tmpdir);
	snprintf(exp_b, sizeof(exp_b), "b=%s/b,ro", tmpdir);
	snprintf(state, sizeof(state), "%s/state", tmpdir);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	srv_pid = fork();
	if (srv_pid < 0)
		die("fork: %s", strerror(errno));
	if (srv_pid == 0) {
		dup2(pfd[1], 2);
		execl(bin, bin, "--listen", "127.0.0.1:0", "--export", exp_a,
		      "--export", exp_b, "--state-dir", state, "--transport",
		      transport, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (!f)
		die("fdopen: %s", strerror(errno));
	/* unbuffered, or a buffered ready line would hide from poll() */
	setvbuf(f, NULL, _IONBF, 0);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		char *s;

		/* fgets may block once data is there; poll bounds the wait */
		if (poll(&p, 1, T_TIMEOUT_MS) <= 0)
			die("ringfsd did not print its ready line");
		if (!fgets(line, sizeof(line), f))
			die("ringfsd exited before it was ready");
		fprintf(stderr, "  [ringfsd] %s", line);
		s = strstr(line, "listening on 127.0.0.1:");
		if (s) {
			srv_port = (unsigned)atoi(s + strlen(
				"listening on 127.0.0.1:"));
			break;
		}
	}
	if (!srv_port)
		die("bad port in ready line");
	if (pthread_create(&thr, NULL, drain_stderr, f))
		die("pthread_create");
	pthread_detach(thr);
}

/* ---- raw protocol client ----------------------------------------------- */

static int t_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	sa.sin_port = htons((uint16_t)srv_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect: %s", strerror(errno));
	return fd;
}

static void t_send(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) /* the server may already have closed */
			return;
		b += n;
		len -= (size_t)n;
	}
}

/* 1: got n bytes, 0: orderly EOF / reset, -1: timeout */
static int t_recv_n(int fd, void *p, size_t len)
{
	uint8_t *b = p;

	while (len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, T_TIMEOUT_MS) <= 0)
			return -1;
		n = recv(fd, b, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		b += n;
		len -= (size_t)n;
	}
	return 1;
}

static _Alignas(8) uint8_t rbuf[RFS_MSG_MAX_DEFAULT];

/* receive a reply into rbuf; returns 1 / 0 (closed) / -1 (timeout) */
static int t_reply(int fd)
{
	struct rfs_hdr *h = (struct rfs_hdr *)rbuf;
	int ret = t_recv_n(fd, rbuf, RFS_HDR_SIZE);

	if (ret != 1)
		return ret;
	if (h->magic != RFS_MAGIC || h->len > sizeof(rbuf) - RFS_HDR_SIZE)
		die("garbage reply");
	if (h->len && t_recv_n(fd, rbuf + RFS_HDR_SIZE, h->len) != 1)
		return 0;
	if ((h->flags & RFS_HF_CSUM) &&
	    rfs_proto_verify(h, rbuf + RFS_HDR_SIZE, false))
		die("reply with a bad checksum");
	return 1;
}

static const struct rfs_hdr *rh(void)
{
	return (const struct rfs_hdr *)rbuf;
}

static const void *rp(void)
{
	return rbuf + RFS_HDR_SIZE;
}

/* connection is closed by the server: EOF (or reset) before timeout */
static bool t_closed(int fd)
{
	int ret;

	for (;;) {
		ret = t_reply(fd);
		if (ret == 1)
			continue;	/* an error reply may precede the close */
		return ret == 0;
	}
}

struct t_sess {
	int fd;
	bool csum;
	uint64_t root;
	uint16_t hlen;
	uint8_t handle[RFS_HANDLE_MAX];
};

static _Alignas(8) uint8_t sbuf[RFS_MSG_MAX_DEFAULT];

static void req_start(struct rfs_mb *b, uint16_t op)
{
	rfs_mb_init(b, sbuf, sizeof(sbuf), op, next_id++);
	rfs_mb_hdr(b)->uid = 0;
	rfs_mb_hdr(b)->gid = 0;
}

/* send; then the reply must be for this request */
static int req_do(struct t_sess *s, struct rfs_mb *b)
{
	uint64_t id = rfs_mb_hdr(b)->id;
	int len = rfs_mb_finish(b, s->csum), ret;

	if (len < 0)
		die("building a request: %d", len);
	t_send(s->fd, sbuf, (size_t)len);
	ret = t_reply(s->fd);
	if (ret == 1 && rh()->id != id)
		die("reply id %llu for request %llu",
		    (unsigned long long)rh()->id, (unsigned long long)id);
	return ret;
}

static int t_hello(struct t_sess *s, const char *exp, bool csum)
{
	struct rfs_hello_req *q;
	const struct rfs_hello_rep *p;
	struct rfs_mb b;

	memset(s, 0, sizeof(*s));
	s->fd = t_connect();
	req_start(&b, RFS_OP_HELLO);
	q = rfs_mb_put(&b, sizeof(*q));
	q->features = csum ? RFS_FEAT_CSUM : 0;
	q->max_msg = RFS_MSG_MAX_DEFAULT;
	q->max_inflight = 16;
	q->export_len = (uint16_t)strlen(exp);
	rfs_mb_put_bytes(&b, exp, q->export_len);
	if (req_do(s, &b) != 1)
		return -EPIPE;
	if (rh()->status)
		return rh()->status;
	p = rp();
	s->csum = p->features & RFS_FEAT_CSUM;
	s->root = p->root.nodeid;
	s->hlen = p->root.handle_len;
	memcpy(s->handle, (const uint8_t *)rp() + sizeof(*p), s->hlen);
	return 0;
}

static bool t_ping(struct t_sess *s)
{
	struct rfs_mb b;

	req_start(&b, RFS_OP_PING);
	rfs_mb_put_bytes(&b, "ping-pong", 9);
	return req_do(s, &b) == 1 && rh()->status == 0 && rh()->len == 9 &&
	       !memcmp(rp(), "ping-pong", 9);
}

/* a LOOKUP; returns status, fills *e (and handle) when 0 */
static int t_lookup(struct t_sess *s, uint64_t parent, const char *name,
		    uint32_t name_len, struct rfs_entry *e, uint8_t *handle)
{
	struct rfs_name_req *q;
	struct rfs_mb b;

	req_start(&b, RFS_OP_LOOKUP);
	q = rfs_mb_put(&b, sizeof(*q));
	q->parent = parent;
	q->name_len = (uint16_t)name_len;
	rfs_mb_put_bytes(&b, name, name_len);
	if (req_do(s, &b) != 1)
		return -EPIPE;
	if (rh()->status == 0 && e) {
		memcpy(e, rp(), sizeof(*e));
		if (handle)
			memcpy(handle, (const uint8_t *)rp() + sizeof(*e),
			       e->handle_len);
	}
	return rh()->status;
}

static int t_resolve(struct t_sess *s, uint64_t id, const uint8_t *h,
		     uint16_t hlen)
{
	struct rfs_resolve_req *q;
	struct rfs_mb b;

	req_start(&b, RFS_OP_RESOLVE);
	q = rfs_mb_put(&b, sizeof(*q));
	q->nodeid = id;
	q->handle_len = hlen;
	rfs_mb_put_bytes(&b, h, hlen);
	rfs_mb_pad8(&b);
	if (req_do(s, &b) != 1)
		return -EPIPE;
	return rh()->status;
}

/* ---- the cases --------------------------------------------------------- */

static struct t_sess good;

static void still_good(const char *after)
{
	CHECK(t_ping(&good), "good connection stopped answering after %s",
	      after);
}

static void raw_case(const char *what, const void *frame, size_t len,
		     bool then_close)
{
	struct t_sess s;

	CHECK(t_hello(&s, "a", true) == 0, "%s: HELLO", what);
	t_send(s.fd, frame, len);
	if (then_close)
		shutdown(s.fd, SHUT_WR);
	CHECK(t_closed(s.fd), "%s: connection not closed", what);
	close(s.fd);
	still_good(what);
}

static void malformed_cases(void)
{
	_Alignas(8) uint8_t f[256];
	struct rfs_hdr *h = (struct rfs_hdr *)f;
	struct rfs_mb b;
	struct t_sess s;
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
	s.fd = t_connect();
	rfs_mb_init(&b, f, sizeof(f), RFS_OP_PING, 8);
	len = rfs_mb_finish(&b, false);
	h->major = RFS_PROTO_MAJOR + 1;
	t_send(s.fd, f, (size_t)len);
	if (t_reply(s.fd) == 1)
		CHECK(rh()->status == -EPROTONOSUPPORT &&
		      rh()->major == RFS_PROTO_MAJOR,
		      "wrong version: status %d", rh()->status);
	CHECK(t_closed(s.fd), "wrong version: not closed");
	close(s.fd);
	still_good("wrong version");

	/* anything but HELLO/ATTACH first: -EACCES and close */
	s.fd = t_connect();
	rfs_mb_init(&b, f, sizeof(f), RFS_OP_PING, 9);
	len = rfs_mb_finish(&b, false);
	t_send(s.fd, f, (size_t)len);
	CHECK(t_reply(s.fd) == 1 && rh()->status == -EACCES,
	      "PING before HELLO: want -EACCES");
	CHECK(t_closed(s.fd), "PING before HELLO: not closed");
	close(s.fd);
	still_good("PING before HELLO");

	/* unknown export */
	CHECK(t_hello(&s, "nope", true) == -ENOENT, "unknown export");
	CHECK(t_closed(s.fd), "unknown export: not closed");
	close(s.fd);

	/* a malformed payload: LOOKUP shorter than its fixed part */
	CHECK(t_hello(&s, "a", true) == 0, "HELLO");
	rfs_mb_init(&b, f, sizeof(f), RFS_OP_LOOKUP, 10);
	rfs_mb_put(&b, 4);
	len = rfs_mb_finish(&b, true);
	t_send(s.fd, f, (size_t)len);
	CHECK(t_closed(s.fd), "short LOOKUP: not closed");
	close(s.fd);
	still_good("short LOOKUP");
}

static void node_cases(void)
{
	static const char *const bad_names[] = { ".", "..", "a/b", "/", "" };
	uint8_t handle[RFS_HANDLE_MAX], forged[RFS_HANDLE_MAX];
	const struct rfs_unknown_node *u;
	struct t_sess s, sb;
	struct rfs_node_req *q;
	struct rfs_entry e, ev;
	struct rfs_mb b;
	int ret;

	CHECK(t_hello(&s, "a", true) == 0, "HELLO a");

	/* forged node id */
	req_start(&b, RFS_OP_GETATTR);
	q = rfs_mb_put(&b, sizeof(*q));
	q->nodeid = 0x1234567890abcdefull;
	CHECK(req_do(&s, &b) == 1, "GETATTR forged");
	u = rp();
	CHECK(rh()->status == -ESTALE &&
	      (rh()->flags & RFS_HF_UNKNOWN_NODE) &&
	      rh()->len == sizeof(*u) && u->nodeid == 0x1234567890abcdefull,
	      "forged node id: status %d flags %x", rh()->status,
	      rh()->flags);
	still_good("forged node id");

	/* RESOLVE: the real root handle works, a forged one does not */
	CHECK(t_resolve(&s, s.root, s.handle, s.hlen) == 0, "RESOLVE root");
	memcpy(forged, s.handle, s.hlen);
	forged[s.hlen / 2] ^= 0x40;
	CHECK(t_resolve(&s, s.root, forged, s.hlen) == -ESTALE,
	      "RESOLVE forged handle");
	memcpy(forged, s.handle, s.hlen);
	forged[s.hlen - 1] ^= 1;	/* the MAC */
	CHECK(t_resolve(&s, s.root, forged, s.hlen) == -ESTALE,
	      "RESOLVE forged MAC");
	CHECK(t_resolve(&s, s.root + 1, s.handle, s.hlen) == -ESTALE,
	      "RESOLVE with another id");
	still_good("forged handles");

	/* hostile names */
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]);
	     i++) {
		ret = t_lookup(&s, s.root, bad_names[i],
			       (uint32_t)strlen(bad_names[i]), NULL, NULL);
		CHECK(ret == -EINVAL || ret == -EPIPE,
		      "LOOKUP '%s': %d", bad_names[i], ret);
		if (ret == -EPIPE) {	/* closed is acceptable too */
			close(s.fd);
			CHECK(t_hello(&s, "a", true) == 0, "HELLO a");
		}
		still_good("hostile name");
	}
	ret = t_lookup(&s, s.root, "x\0y", 3, NULL, NULL);
	CHECK(ret == -EINVAL || ret == -EPIPE, "LOOKUP with NUL: %d", ret);
	if (ret == -EPIPE) {
		close(s.fd);
		CHECK(t_hello(&s, "a", true) == 0, "HELLO a");
	}

	/* a handle from the other export */
	CHECK(t_hello(&sb, "b", false) == 0, "HELLO b");
	CHECK(t_ping(&sb), "PING on b without checksums");
	CHECK(t_resolve(&s, sb.root, sb.handle, sb.hlen) == -ESTALE,
	      "RESOLVE b's root on a");
	req_start(&b, RFS_OP_GETATTR);
	q = rfs_mb_put(&b, sizeof(*q));
	q->nodeid = sb.root;
	CHECK(req_do(&s, &b) == 1 && rh()->status == -ESTALE,
	      "GETATTR of b's root on a");
	close(sb.fd);
	still_good("foreign handle");

	/* the symlink to "/" */
	ret = t_lookup(&s, s.root, "evil", 4, &ev, handle);
	CHECK(ret == 0 && S_ISLNK(ev.attr.mode), "LOOKUP evil: %d mode %o",
	      ret, ev.attr.mode);
	if (ret == 0) {
		ret = t_lookup(&s, ev.nodeid, "etc", 3, &e, NULL);
		CHECK(ret == -ENOTDIR, "LOOKUP through evil: %d", ret);
	}
	still_good("symlink");

	/* a regular lookup, and RESOLVE gives the same node back */
	ret = t_lookup(&s, s.root, "file", 4, &e, handle);
	CHECK(ret == 0 && S_ISREG(e.attr.mode) && e.attr.size == 5,
	      "LOOKUP file: %d", ret);
	if (ret == 0)
		CHECK(t_resolve(&s, e.nodeid, handle, e.handle_len) == 0,
		      "RESOLVE file");
	close(s.fd);
}

/* ---- real operations --------------------------------------------------- */

static int t_open(struct t_sess *s, uint16_t op, uint64_t node,
		  uint32_t flags, uint64_t *fh)
{
	struct rfs_open_req *q;
	struct rfs_mb b;

	req_start(&b, op);
	q = rfs_mb_put(&b, sizeof(*q));
	q->nodeid = node;
	q->flags = flags;
	if (req_do(s, &b) != 1)
		return -EPIPE;
	if (rh()->status == 0)
		*fh = ((const struct rfs_open_rep *)rp())->fh;
	return rh()->status;
}

static int t_lock(struct t_sess *s, uint64_t node, uint64_t owner,
		  uint32_t type, bool wait, bool send_only)
{
	struct rfs_lock_req *q;
	struct rfs_mb b;
	int len;

	req_start(&b, RFS_OP_SETLK);
	q = rfs_mb_put(&b, sizeof(*q));
	q->nodeid = node;
	q->owner = owner;
	q->flags = wait ? RFS_LK_WAIT : 0;
	q->lock.start = 0;
	q->lock.end = UINT64_MAX;
	q->lock.type = type;
	if (send_only) {
		len = rfs_mb_finish(&b, s->csum);
		t_send(s->fd, sbuf, (size_t)len);
		return 0;
	}
	if (req_do(s, &b) != 1)
		return -EPIPE;
	return rh()->status;
}

static void op_cases(void)
{
	struct t_sess s, s2;
	struct rfs_make_req *m;
	struct rfs_io_req *io;
	struct rfs_fh_req *fq;
	const struct rfs_create_rep *cr;
	struct rfs_mb b;
	struct rfs_entry e;
	uint64_t fh = 0, dfh = 0, node = 0;
	uint32_t pos;
	struct rfs_dirent_view dv;
	bool seen_new = false, seen_dot = false;
	int ret;

	CHECK(t_hello(&s, "a", true) == 0, "HELLO a");

	/* CREATE + WRITE + READ */
	req_start(&b, RFS_OP_CREATE);
	m = rfs_mb_put(&b, sizeof(*m));
	m->parent = s.root;
	m->mode = S_IFREG | 0644;
	m->umask = 022;
	m->flags = O_RDWR | O_EXCL;
	m->name_len = 3;
	rfs_mb_put_bytes(&b, "new", 3);
	CHECK(req_do(&s, &b) == 1 && rh()->status == 0, "CREATE: %d",
	      rh()->status);
	if (rh()->status == 0) {
		cr = rp();
		fh = cr->fh;
		node = cr->entry.nodeid;
		/* root_squash: created as nobody */
		CHECK(cr->entry.attr.uid == 65534, "CREATE uid %u",
		      cr->entry.attr.uid);
	}
	req_start(&b, RFS_OP_WRITE);
	io = rfs_mb_put(&b, sizeof(*io));
	io->nodeid = node;
	io->fh = fh;
	io->offset = 0;
	io->size = 11;
	rfs_mb_put_bytes(&b, "hello world", 11);
	CHECK(req_do(&s, &b) == 1 && rh()->status == 0 &&
	      ((const struct rfs_write_rep *)rp())->written == 11,
	      "WRITE: %d", rh()->status);
	req_start(&b, RFS_OP_READ);
	io = rfs_mb_put(&b, sizeof(*io));
	io->nodeid = node;
	io->fh = fh;
	io->offset = 6;
	io->size = 100;
	CHECK(req_do(&s, &b) == 1 && rh()->status == 0 && rh()->len == 5 &&
	      !memcmp(rp(), "world", 5), "READ: %d len %u", rh()->status,
	      rh()->len);

	/* a bad fh */
	req_start(&b, RFS_OP_READ);
	io = rfs_mb_put(&b, sizeof(*io));
	io->nodeid = node;
	io->fh = fh + (1ull << 32);
	io->size = 10;
	CHECK(req_do(&s, &b) == 1 && rh()->status == -EBADF, "bad fh: %d",
	      rh()->status);

	/* READDIRPLUS sees it */
	CHECK(t_open(&s, RFS_OP_OPENDIR, s.root, O_RDONLY, &dfh) == 0,
	      "OPENDIR");
	req_start(&b, RFS_OP_READDIRPLUS);
	io = rfs_mb_put(&b, sizeof(*io));
	io->nodeid = s.root;
	io->fh = dfh;
	io->size = 8192;
	CHECK(req_do(&s, &b) == 1 && rh()->status == 0 && rh()->len > 0,
	      "READDIRPLUS: %d", rh()->status);
	if (rh()->status == 0 &&
	    rfs_proto_decode_rep(rh(), rp(), RFS_OP_READDIRPLUS,
				 &(struct rfs_rep_view){ 0 }) == 0) {
		pos = 0;
		while (rfs_proto_dirent_next(rp(), rh()->len, &pos, &dv) == 1) {
			if (dv.d->name_len == 3 && !memcmp(dv.name, "new", 3))
				seen_new = dv.d->entry.nodeid == node;
			if (dv.d->name_len == 1 && dv.name[0] == '.')
				seen_dot = dv.d->entry.nodeid == 0;
		}
	} else {
		CHECK(0, "READDIRPLUS reply does not decode");
	}
	CHECK(seen_new && seen_dot, "READDIRPLUS records");

	/* a read-only export refuses writes */
	CHECK(t_hello(&s2, "b", true) == 0, "HELLO b");
	req_start(&b, RFS_OP_MKDIR);
	m = rfs_mb_put(&b, sizeof(*m));
	m->parent = s2.root;
	m->mode = S_IFDIR | 0755;
	m->name_len = 1;
	rfs_mb_put_bytes(&b, "d", 1);
	CHECK(req_do(&s2, &b) == 1 && rh()->status == -EROFS,
	      "MKDIR on ro: %d", rh()->status);
	close(s2.fd);

	/* errno passthrough: MKDIR of an existing name */
	req_start(&b, RFS_OP_MKDIR);
	m = rfs_mb_put(&b, sizeof(*m));
	m->parent = s.root;
	m->mode = S_IFDIR | 0755;
	m->name_len = 3;
	rfs_mb_put_bytes(&b, "new", 3);
	CHECK(req_do(&s, &b) == 1 && rh()->status == -EEXIST,
	      "MKDIR existing: %d", rh()->status);

	/* locks: owner 1 holds, owner 2 waits, owner 1 unlocks */
	CHECK(t_lock(&s, node, 1, RFS_LK_WRLCK, false, false) == 0,
	      "SETLK owner 1");
	CHECK(t_lock(&s, node, 2, RFS_LK_WRLCK, false, false) == -EAGAIN,
	      "SETLK owner 2 conflicts: %d", rh()->status);
	CHECK(t_hello(&s2, "a", true) == 0, "HELLO a (2)");
	t_lock(&s2, node, 2, RFS_LK_WRLCK, true, true);
	/* the waiting session still answers */
	CHECK(t_ping(&s2) && rh()->opcode == RFS_OP_PING,
	      "PING while SETLKW waits");
	CHECK(t_lock(&s, node, 1, RFS_LK_UNLCK, false, false) == 0,
	      "unlock owner 1");
	ret = t_reply(s2.fd);
	CHECK(ret == 1 && rh()->opcode == RFS_OP_SETLK && rh()->status == 0,
	      "SETLKW granted: ret %d status %d", ret, rh()->status);
	/* FLUSH releases it */
	req_start(&b, RFS_OP_FLUSH);
	fq = rfs_mb_put(&b, sizeof(*fq));
	fq->nodeid = node;
	fq->fh = fh;
	fq->lock_owner = 2;
	/* flush on the session that owns owner 2 */
	CHECK(req_do(&s2, &b) == 1 && rh()->status == 0, "FLUSH");
	CHECK(t_lock(&s, node, 1, RFS_LK_WRLCK, false, false) == 0,
	      "SETLK after FLUSH");
	/* a waiter whose connection goes away is cancelled */
	t_lock(&s2, node, 3, RFS_LK_WRLCK, true, true);
	close(s2.fd);

	req_start(&b, RFS_OP_RELEASE);
	fq = rfs_mb_put(&b, sizeof(*fq));
	fq->nodeid = node;
	fq->fh = fh;
	CHECK(req_do(&s, &b) == 1 && rh()->status == 0, "RELEASE");
	req_start(&b, RFS_OP_RELEASE);
	fq = rfs_mb_put(&b, sizeof(*fq));
	fq->nodeid = node;
	fq->fh = fh;
	CHECK(req_do(&s, &b) == 1 && rh()->status == -EBADF,
	      "double RELEASE");
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
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
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
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0 && strstr(out, want),
	      "ringfsd %s %s %s %s: want failure with '%s', got status %#x "
	      "and: %s", a1, a2 ? a2 : "", a3 ? a3 : "", a4 ? a4 : "", want,
	      st, out);
}

static void cli_cases(const char *bin)
{
	char listen[64], exp[300], dup[300], notdir[300];

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", srv_port);
	snprintf(exp, sizeof(exp), "a=%s/a", tmpdir);
	snprintf(dup, sizeof(dup), "a=%s/b", tmpdir);
	snprintf(notdir, sizeof(notdir), "f=%s/a/file", tmpdir);
	cli_fail(bin, "unrecognized option", "--bogus", NULL, NULL, NULL,
		 NULL, NULL);
	cli_fail(bin, "duplicate export name", "--listen", "127.0.0.1:0",
		 "--export", exp, "--export", dup);
	cli_fail(bin, "No such file or directory", "--listen", "127.0.0.1:0",
		 "--export", "x=/nonexistent/dir", NULL, NULL);
	cli_fail(bin, "not a directory", "--listen", "127.0.0.1:0",
		 "--export", notdir, NULL, NULL);
	cli_fail(bin, "bad address", "--listen", "nohost:port:x",
		 "--export", exp, NULL, NULL);
	cli_fail(bin, "bad option", "--listen", "127.0.0.1:0", "--export",
		 "z=/tmp,rw,frobnicate", NULL, NULL);
	snprintf(dup, sizeof(dup), "ringfsd: listen %s: Address already in "
		 "use", listen);
	cli_fail(bin, dup, "--listen", listen, "--export", exp, NULL, NULL);
}

static void sigterm_case(void)
{
	int pfd = (int)syscall(SYS_pidfd_open, srv_pid, 0), st = 0;
	struct pollfd p = { .fd = pfd, .events = POLLIN };

	if (pfd < 0)
		die("pidfd_open: %s", strerror(errno));
	/* with a connection still open */
	CHECK(kill(srv_pid, SIGTERM) == 0, "kill");
	CHECK(poll(&p, 1, T_TIMEOUT_MS) == 1, "ringfsd did not exit on "
	      "SIGTERM within %d ms", T_TIMEOUT_MS);
	if (waitpid(srv_pid, &st, 0) == srv_pid) {
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "ringfsd exit status %#x", st);
		srv_pid = 0;
	}
	close(pfd);
}

static void mkfile(const char *rel, const char *content)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, content, strlen(content)) < 0)
		die("create %s: %s", path, strerror(errno));
	close(fd);
}

int main(int argc, char **argv)
{
	char path[512];

	if (argc != 3) {
		fprintf(stderr, "usage: server_test RINGFSD TRANSPORT\n");
		return 2;
	}
	if (geteuid() != 0) {
		printf("skip: needs root (open_by_handle_at, setfsuid)\n");
		return 77;
	}
	if (!mkdtemp(tmpdir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/a", tmpdir);
	mkdir(path, 0777);
	chmod(path, 0777);
	snprintf(path, sizeof(path), "%s/b", tmpdir);
	mkdir(path, 0755);
	mkfile("a/file", "12345");
	mkfile("b/other", "x");
	snprintf(path, sizeof(path), "%s/a/evil", tmpdir);
	if (symlink("/", path) < 0)
		die("symlink: %s", strerror(errno));

	start_server(argv[1], argv[2]);
	if (t_hello(&good, "a", true) != 0 || !t_ping(&good))
		die("no good connection");
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
	if (failures) {
		fprintf(stderr, "server_test: %d failures\n", failures);
		return 1;
	}
	printf("server_test (%s): all cases passed\n", argv[2]);
	return 0;
}
