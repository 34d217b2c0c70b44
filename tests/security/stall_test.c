// SPDX-License-Identifier: MIT
/*
 * sec-stall-*: a peer that stalls after HELLO is closed, logged, and its
 * thread released; a peer that is idle, slow, or waiting for a lock is
 * not.
 *
 *   stall_test RINGFSD TRANSPORT    tcp or uring (ringfsd --transport)
 *
 * A real ringfsd with --frame-timeout 1 --reply-timeout 1, talked to
 * with raw frames built by proto/'s encoder (tests/lib), while a good
 * client keeps doing PINGs on its own connection:
 *
 *   frame    HELLO, then 100 bytes of a 65584-byte frame (a header
 *            promising 64 KiB), then nothing: closed after the timeout
 *            (not before), one log line naming the peer and the bytes,
 *            its ringfsd-conn thread gone; the same with 20 bytes of a
 *            header
 *   replies  HELLO, a small receive buffer, 16 READs of 1 MiB and never
 *            a reply read (below max-inflight): closed after the
 *            timeout, logged as such
 *   trickle  a 64 KiB frame in four pieces 600 ms apart (longer than the
 *            timeout in all, never silent for as long): answered
 *   slow     8 READs of 1 MiB, read at 1 MiB per 400 ms: all answered,
 *            right data
 *   idle     kept open for 3 timeouts and more, each still answering
 *            and never logged: a HELLO'd connection that did nothing,
 *            one that read 1 MiB first, one whose SETLKW waits on
 *            another's lock (granted at the end), a byte stream and
 *            (when built) an shm connection on the Unix socket
 *
 * The good client is served throughout and after.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "rpc.h"
#include "tlib.h"
#include "xprt.h"

#define TIMEOUT_S 1
#define T_MS (TIMEOUT_S * 1000)
/* a close at the timeout; uring's first look at the kernel's counts
 * adds 1/8; then the scheduling of a shared machine */
#define LATE_MS (T_MS / 8 + 3000)
#define EARLY_MS 50 /* ms-truncated clocks on both sides */
#define FILE_SIZE (1u << 20)
#define STALL_READS 16
#define SLOW_READS 8
#define SLOW_PACE_MS 400 /* a reply of 1 MiB each */
#define TRICKLE_PACE_MS 600

static char tmp[] = "/tmp/rfs-stall-XXXXXX";
static uint8_t pattern[FILE_SIZE];
static struct t_srv srv;
static struct t_conn good = { .fd = -1 };
static unsigned good_pings;

static void cleanup(void)
{
	t_rm_tree(tmp);
}

static void write_file(const char *rel, const void *data, size_t len,
		       mode_t mode)
{
	char p[600];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		t_die("write %s: %s", p, strerror(errno));
	if (fchmod(fd, mode) < 0)
		t_die("chmod %s: %s", p, strerror(errno));
	close(fd);
}

static void mkdir_in(const char *rel, mode_t mode)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	if (mkdir(p, mode) < 0 || chmod(p, mode) < 0)
		t_die("mkdir %s: %s", p, strerror(errno));
}

/* ringfsd's connection threads (one per connection) */
static int conn_threads(void)
{
	char p[320], comm[64];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(p, sizeof(p), "/proc/%d/task", (int)srv.pid);
	dir = opendir(p);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/comm", (int)srv.pid,
			 d->d_name);
		f = fopen(p, "r");
		if (!f)
			continue; /* the thread just ended */
		if (fgets(comm, sizeof(comm), f) &&
		    !strcmp(comm, "ringfsd-conn\n"))
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* wait (bounded) for the server's connection threads to be at most n */
static bool threads_down_to(int n, int ms)
{
	long long until = t_mono_ms() + ms;

	for (;;) {
		int now = conn_threads();

		if (now >= 0 && now <= n)
			return true;
		if (t_mono_ms() > until)
			return false;
		poll(NULL, 0, 10); /* pacing of the re-check */
	}
}

/* "(127.0.0.1:PORT): ", how the server's log names this client */
static void peer_tag(int fd, char *out, size_t len)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char host[INET_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 ||
	    sa.sin_family != AF_INET ||
	    !inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host)))
		t_die("getsockname: %s", strerror(errno));
	snprintf(out, len, "(%s:%u): ", host, ntohs(sa.sin_port));
}

static void good_ping(void)
{
	int ret;

	t_req(&good, RFS_OP_PING);
	ret = t_call(&good);
	if (ret)
		t_die("the good client's PING failed: %d", ret);
	good_pings++;
}

/*
 * Serve the good client (PINGs) until the server logs a line with
 * needle (copied into line) or until_ms; the time it was seen, or -1.
 */
static long long serve_until_log(const char *needle, long long until_ms,
				 char *line, size_t len)
{
	for (;;) {
		good_ping();
		if (t_srv_log_line(&srv, needle, 20, line, len))
			return t_mono_ms();
		if (t_mono_ms() > until_ms)
			return -1;
	}
}

/* the server closed fd (EOF or reset) within ms; nothing else comes */
static bool closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	char c;

	if (poll(&p, 1, ms) <= 0)
		return false;
	return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

/* the server did NOT close fd nor send anything for ms (a bounded wait) */
static bool quiet_for(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return poll(&p, 1, ms) == 0;
}

static void open_file(struct t_conn *c, const char *name, uint32_t flags,
		      uint64_t *node, uint64_t *fh)
{
	struct rfs_entry e;
	int ret;

	ret = t_lookup(c, c->root, name, &e, NULL);
	if (ret)
		t_die("LOOKUP %s: %d", name, ret);
	*node = e.nodeid;
	ret = t_open(c, *node, flags, fh);
	if (ret)
		t_die("OPEN %s: %d", name, ret);
}

static void hello(struct t_conn *c, int fd)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	ret = t_hello(c, "a");
	if (ret)
		t_die("HELLO: %d", ret);
}

static void post_read(struct t_conn *c, uint64_t node, uint64_t fh,
		      uint64_t off, uint32_t size)
{
	struct rfs_io_req *q = rfs_mb_put(t_req(c, RFS_OP_READ), sizeof(*q));

	q->nodeid = node;
	q->fh = fh;
	q->offset = off;
	q->size = size;
	t_post(c);
}

/* a READ of the whole file, checked */
static void read_all(struct t_conn *c, uint64_t node, uint64_t fh)
{
	post_read(c, node, fh, 0, FILE_SIZE);
	T_CHECK(t_recv_reply(c->fd) == 1 && t_rh()->status == 0 &&
			t_rh()->len == FILE_SIZE &&
			!memcmp(t_rp(), pattern, FILE_SIZE),
		"READ of 1 MiB");
}

static void set_rcvbuf(int fd, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) < 0)
		t_die("SO_RCVBUF: %s", strerror(errno));
}

/* ---- frame: part of a frame, then nothing ------------------------------ */

static void case_frame(uint32_t send_len, const char *what)
{
	_Alignas(8) static uint8_t frame[RFS_HDR_SIZE + 65536];
	struct rfs_hdr *h = (struct rfs_hdr *)(void *)frame;
	char tag[64], needle[256], line[1024];
	long long t0, seen;
	struct t_conn s;
	int base;

	base = conn_threads();
	hello(&s, t_connect_tcp(srv.host, srv.port));
	peer_tag(s.fd, tag, sizeof(tag));
	memset(frame, 0, sizeof(frame));
	h->magic = RFS_MAGIC;
	h->major = RFS_PROTO_MAJOR;
	h->minor = RFS_PROTO_MINOR;
	h->opcode = RFS_OP_PING;
	h->len = 65536;
	h->id = 4242;
	if (s.csum)
		h->flags |= RFS_HF_CSUM; /* never checked: never whole */
	if (send_len >= RFS_HDR_SIZE)
		snprintf(needle, sizeof(needle),
			 "%ssent %u of %u bytes of a frame and nothing for "
			 "%d s (frame-timeout): closed",
			 tag, send_len, (unsigned)sizeof(frame), TIMEOUT_S);
	else
		snprintf(needle, sizeof(needle),
			 "%ssent %u bytes of a frame header and nothing for "
			 "%d s (frame-timeout): closed",
			 tag, send_len, TIMEOUT_S);
	t_send(s.fd, frame, send_len);
	t0 = t_mono_ms();
	seen = serve_until_log(needle, t0 + T_MS + LATE_MS, line, sizeof(line));
	T_CHECK(seen >= 0, "%s: no log line \"%s\" within %d ms", what, needle,
		T_MS + LATE_MS);
	if (seen >= 0) {
		printf("%s: closed after %lld ms: %s\n", what, seen - t0, line);
		T_CHECK(seen - t0 >= T_MS - EARLY_MS,
			"%s: closed after %lld ms, before the timeout", what,
			seen - t0);
	}
	T_CHECK(closed_within(s.fd, 5000), "%s: connection not closed", what);
	T_CHECK(threads_down_to(base, 5000),
		"%s: its thread was not released (%d ringfsd-conn threads, "
		"%d before it)",
		what, conn_threads(), base);
	close(s.fd);
	good_ping();
}

/* ---- replies: requests sent, replies never read ------------------------ */

static void case_replies(void)
{
	char tag[64], line[1024];
	long long t0, seen;
	uint64_t node, fh;
	struct t_conn r;
	int base;

	base = conn_threads();
	hello(&r, t_connect_tcp(srv.host, srv.port));
	set_rcvbuf(r.fd, 4096);
	open_file(&r, "data", O_RDONLY, &node, &fh);
	peer_tag(r.fd, tag, sizeof(tag));
	for (unsigned i = 0; i < STALL_READS; i++)
		post_read(&r, node, fh, 0, FILE_SIZE);
	t0 = t_mono_ms();
	seen = serve_until_log(tag, t0 + T_MS + LATE_MS, line, sizeof(line));
	T_CHECK(seen >= 0, "replies: no log line for %s within %d ms", tag,
		T_MS + LATE_MS);
	if (seen >= 0) {
		printf("replies: closed after %lld ms: %s\n", seen - t0, line);
		T_CHECK(strstr(line, "replies waiting and nothing taken for "
				     "1 s (reply-timeout): closed"),
			"replies: closed for another reason: %s", line);
		/* the first reply's bytes may still have been moving */
		T_CHECK(seen - t0 >= T_MS - 300,
			"replies: closed after %lld ms, before the timeout",
			seen - t0);
	}
	T_CHECK(threads_down_to(base, 5000),
		"replies: its thread was not released (%d ringfsd-conn "
		"threads, %d before it)",
		conn_threads(), base);
	/*
	 * Closed: the thread is gone.  (The kernel still offers the replies
	 * it had to a peer that does not read them, then the FIN: reading
	 * them through a 4 KiB window would only make this test slow.)
	 */
	close(r.fd);
	good_ping();
}

/* ---- trickle: a frame in pieces, each within the timeout --------------- */

static void case_trickle(void)
{
	static const uint32_t cut[] = { 30000, 50000, 65000 };
	char tag[64], needle[128];
	static uint8_t *frame;
	struct t_conn c;
	uint32_t len, off = 0;
	struct rfs_mb *m;
	const void *f;
	int flen;

	hello(&c, t_connect_tcp(srv.host, srv.port));
	peer_tag(c.fd, tag, sizeof(tag));
	m = t_req(&c, RFS_OP_PING);
	memset(rfs_mb_put(m, 65536), 0x5a, 65536);
	flen = rfs_mb_finish(m, c.csum);
	if (flen != RFS_HDR_SIZE + 65536)
		t_die("trickle: PING frame of %d bytes", flen);
	f = t_sent(&len);
	frame = malloc((size_t)flen);
	if (!frame)
		t_die("malloc");
	memcpy(frame, f, (size_t)flen);
	for (unsigned i = 0; i <= sizeof(cut) / sizeof(cut[0]); i++) {
		uint32_t end = i < sizeof(cut) / sizeof(cut[0]) ?
				       cut[i] :
				       (uint32_t)flen;

		t_send(c.fd, frame + off, end - off);
		off = end;
		if (end == (uint32_t)flen)
			break;
		/* the pace of a slow sender; the server must stay quiet */
		T_CHECK(quiet_for(c.fd, TRICKLE_PACE_MS),
			"trickle: the server closed or answered after %u of "
			"%d bytes",
			end, flen);
	}
	T_CHECK(t_recv_reply(c.fd) == 1 && t_rh()->status == 0 &&
			t_rh()->opcode == RFS_OP_PING && t_rh()->len == 65536,
		"trickle: no PING reply to the whole frame");
	snprintf(needle, sizeof(needle), "%ssent", tag);
	T_CHECK(!t_srv_log_wait(&srv, needle, 0),
		"trickle: the server logged the slow sender as stalled");
	free(frame);
	close(c.fd);
}

/* ---- slow: a reader that takes its replies slowly ----------------------- */

/* len bytes from fd; false on EOF, error, or T_TIMEOUT_MS of nothing */
static bool recv_all(int fd, uint8_t *p, size_t len)
{
	while (len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, T_TIMEOUT_MS) <= 0)
			return false;
		n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void case_slow(void)
{
	static _Alignas(8) uint8_t buf[RFS_HDR_SIZE + FILE_SIZE];
	const struct rfs_hdr *h = (const void *)buf;
	long long t0 = t_mono_ms();
	char tag[64];
	uint64_t node, fh;
	struct t_conn c;
	unsigned got = 0;

	hello(&c, t_connect_tcp(srv.host, srv.port));
	/* fixed (no autotuning): the server's send buffer fills */
	set_rcvbuf(c.fd, 256 * 1024);
	open_file(&c, "data", O_RDONLY, &node, &fh);
	peer_tag(c.fd, tag, sizeof(tag));
	for (unsigned i = 0; i < SLOW_READS; i++)
		post_read(&c, node, fh, 0, FILE_SIZE);
	for (; got < SLOW_READS; got++) {
		struct timespec pace = { 0, SLOW_PACE_MS * 1000000L };

		/* the pace of a slow reader, not synchronisation */
		nanosleep(&pace, NULL);
		if (!recv_all(c.fd, buf, sizeof(buf)))
			break;
		if (h->status || h->len != FILE_SIZE ||
		    memcmp(buf + RFS_HDR_SIZE, pattern, FILE_SIZE)) {
			T_CHECK(0, "slow: reply %u wrong (status %d)", got,
				h->status);
			break;
		}
	}
	T_CHECK(got == SLOW_READS,
		"slow: connection lost after %u of %u replies", got,
		SLOW_READS);
	printf("slow: %u replies of 1 MiB in %lld ms\n", got, t_mono_ms() - t0);
	T_CHECK(!t_srv_log_wait(&srv, tag, 0),
		"slow: the server logged the slow reader");
	close(c.fd);
}

/* ---- idle connections --------------------------------------------------- */

struct idle {
	struct t_conn plain, reader, holder, waiter, local;
	uint64_t lnode, lfh_h, lfh_w;
	struct rfs_rpc shm;
	bool have_shm;
	long long since;
};

static void lock(struct t_conn *c, uint64_t node, uint64_t fh, uint64_t owner,
		 uint32_t type, bool wait)
{
	struct rfs_lock_req *q = rfs_mb_put(t_req(c, RFS_OP_SETLK), sizeof(*q));

	q->nodeid = node;
	q->fh = fh;
	q->owner = owner;
	q->flags = wait ? RFS_LK_WAIT : 0;
	q->lock.start = 0;
	q->lock.end = UINT64_MAX;
	q->lock.type = type;
	t_post(c);
}

/* an shm connection over the Unix socket, with client/rpc.c */
static void shm_open(struct rfs_rpc *r, const char *sock)
{
	const struct rfs_rpc_hello h = { .export = "a",
					 .csum = true,
					 .max_inflight = 16,
					 .timeout_ms = T_TIMEOUT_MS };
	const struct rfs_hello_rep *hr;
	struct rfs_xprt_params p;
	struct rfs_rep_view v;
	struct rfs_name_req *nq;
	struct rfs_open_req *oq;
	struct rfs_io_req *iq;
	struct rfs_buf *b, *rb;
	struct rfs_addr a;
	struct rfs_mb mb;
	char addr[620];
	const char *why = NULL;
	uint64_t root, node, fh;
	int ret;

	rfs_rpc_init(r);
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	if (rfs_addr_parse(addr, 0, &a))
		t_die("bad address %s", addr);
	rfs_xprt_params_default(&p);
	ret = rfs_rpc_connect(r, "shm", &p, &a, T_TIMEOUT_MS);
	if (ret)
		t_die("shm: connect: %s", strerror(-ret));
	ret = rfs_rpc_hello(r, &h, &rb, &v, &why);
	if (ret)
		t_die("shm: HELLO: %s (%s)", strerror(-ret), why ? why : "");
	hr = v.fixed;
	root = hr->root.nodeid;
	rfs_xprt_buf_put(r->x, rb);

	b = rfs_rpc_req(r, &mb, RFS_OP_LOOKUP, 4096);
	nq = rfs_mb_put(&mb, sizeof(*nq));
	nq->parent = root;
	nq->name_len = 4;
	rfs_mb_put_bytes(&mb, "data", 4);
	if (rfs_rpc_call(r, b, &mb, T_TIMEOUT_MS, &rb) ||
	    rfs_rpc_check_reply(r, rb, RFS_OP_LOOKUP, rfs_mb_hdr(&mb)->id, &v,
				&why))
		t_die("shm: LOOKUP data failed");
	node = ((const struct rfs_entry *)v.fixed)->nodeid;
	rfs_xprt_buf_put(r->x, rb);

	b = rfs_rpc_req(r, &mb, RFS_OP_OPEN, 4096);
	oq = rfs_mb_put(&mb, sizeof(*oq));
	oq->nodeid = node;
	oq->flags = O_RDONLY;
	if (rfs_rpc_call(r, b, &mb, T_TIMEOUT_MS, &rb) ||
	    rfs_rpc_check_reply(r, rb, RFS_OP_OPEN, rfs_mb_hdr(&mb)->id, &v,
				&why))
		t_die("shm: OPEN data failed");
	fh = ((const struct rfs_open_rep *)v.fixed)->fh;
	rfs_xprt_buf_put(r->x, rb);

	b = rfs_rpc_req(r, &mb, RFS_OP_READ, 4096);
	iq = rfs_mb_put(&mb, sizeof(*iq));
	iq->nodeid = node;
	iq->fh = fh;
	iq->size = FILE_SIZE;
	ret = rfs_rpc_call(r, b, &mb, T_TIMEOUT_MS, &rb);
	if (ret || rfs_rpc_check_reply(r, rb, RFS_OP_READ, rfs_mb_hdr(&mb)->id,
				       &v, &why))
		t_die("shm: READ failed: %d", ret);
	T_CHECK(v.data_len == FILE_SIZE && !memcmp(v.data, pattern, FILE_SIZE),
		"shm: READ of 1 MiB");
	rfs_xprt_buf_put(r->x, rb);
}

static bool shm_ping(struct rfs_rpc *r)
{
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	const char *why = NULL;
	struct rfs_mb mb;
	bool ok;

	b = rfs_rpc_req(r, &mb, RFS_OP_PING, 4096);
	if (!b || rfs_rpc_call(r, b, &mb, T_TIMEOUT_MS, &rb))
		return false;
	ok = !rfs_rpc_check_reply(r, rb, RFS_OP_PING, rfs_mb_hdr(&mb)->id, &v,
				  &why);
	rfs_xprt_buf_put(r->x, rb);
	return ok;
}

static void idle_open(struct idle *d, const char *sock)
{
	uint64_t node, fh;

	hello(&d->plain, t_connect_tcp(srv.host, srv.port));
	hello(&d->reader, t_connect_tcp(srv.host, srv.port));
	open_file(&d->reader, "data", O_RDONLY, &node, &fh);
	read_all(&d->reader, node, fh);
	hello(&d->local, t_connect_unix(sock));
	open_file(&d->local, "data", O_RDONLY, &node, &fh);
	read_all(&d->local, node, fh);

	/* the holder's lock, and the waiter's SETLKW on a worker */
	hello(&d->holder, t_connect_tcp(srv.host, srv.port));
	open_file(&d->holder, "lockf", O_RDWR, &d->lnode, &d->lfh_h);
	lock(&d->holder, d->lnode, d->lfh_h, 1, RFS_LK_WRLCK, false);
	T_CHECK(t_recv_reply(d->holder.fd) == 1 && t_rh()->status == 0,
		"idle: SETLK of the holder");
	hello(&d->waiter, t_connect_tcp(srv.host, srv.port));
	open_file(&d->waiter, "lockf", O_RDWR, &d->lnode, &d->lfh_w);
	lock(&d->waiter, d->lnode, d->lfh_w, 2, RFS_LK_WRLCK, true);

	d->have_shm = rfs_xprt_is_built("shm");
	if (d->have_shm)
		shm_open(&d->shm, sock);
	else
		printf("idle: shm not built: no shm connection\n");
	d->since = t_mono_ms();
}

static bool ping(struct t_conn *c)
{
	t_req(c, RFS_OP_PING);
	return t_call(c) == 0;
}

static void idle_check(struct idle *d)
{
	long long left = d->since + 3 * T_MS + 500 - t_mono_ms();
	struct t_conn *tcp[] = { &d->plain, &d->reader, &d->holder,
				 &d->waiter };
	char tag[64];
	int ret;

	/* idle for 3 timeouts at least: waiting for a close that must not
	 * come */
	if (left > 0)
		T_CHECK(quiet_for(d->plain.fd, (int)left),
			"idle: an idle connection was closed");
	for (unsigned i = 0; i < sizeof(tcp) / sizeof(tcp[0]); i++) {
		peer_tag(tcp[i]->fd, tag, sizeof(tag));
		T_CHECK(!t_srv_log_wait(&srv, tag, 0),
			"idle: connection %u was logged", i);
	}
	printf("idle: %lld ms\n", t_mono_ms() - d->since);
	T_CHECK(ping(&d->plain), "idle: PING on the HELLO'd connection");
	T_CHECK(ping(&d->reader), "idle: PING after a READ");
	T_CHECK(ping(&d->local), "idle: PING on the Unix socket");
	if (d->have_shm)
		T_CHECK(shm_ping(&d->shm), "idle: PING over shm");
	/* the lock: released, so the waiter's SETLKW is granted */
	lock(&d->holder, d->lnode, d->lfh_h, 1, RFS_LK_UNLCK, false);
	T_CHECK(t_recv_reply(d->holder.fd) == 1 && t_rh()->status == 0,
		"idle: unlock");
	ret = t_recv_reply(d->waiter.fd);
	T_CHECK(ret == 1 && t_rh()->opcode == RFS_OP_SETLK &&
			t_rh()->status == 0,
		"idle: SETLKW granted after the wait: ret %d status %d", ret,
		ret == 1 ? t_rh()->status : 0);
	close(d->plain.fd);
	close(d->reader.fd);
	close(d->local.fd);
	close(d->holder.fd);
	close(d->waiter.fd);
	if (d->have_shm)
		rfs_rpc_close(&d->shm, T_TIMEOUT_MS);
}

/* ---- main ------------------------------------------------------------- */

static void run(const char *bin, const char *transport)
{
	char exp[600], st[600], sock[600];
	const char *args[] = { "--listen",
			       "127.0.0.1:0",
			       "--listen-unix",
			       sock,
			       "--export",
			       exp,
			       "--state-dir",
			       st,
			       "--transport",
			       transport,
			       "--frame-timeout",
			       "1",
			       "--reply-timeout",
			       "1",
			       "--max-inflight",
			       "64",
			       NULL };
	struct idle *d = calloc(1, sizeof(*d));
	long long t_start = t_mono_ms();
	uint64_t node, fh;

	if (!d)
		t_die("calloc");
	/* squashed, not refused, when the test does not run as root */
	snprintf(exp, sizeof(exp), "a=%s/a,untrusted=squash", tmp);
	snprintf(st, sizeof(st), "%s/st", tmp);
	snprintf(sock, sizeof(sock), "%s/sock", tmp);
	t_srv_start(&srv, bin, args);
	if (conn_threads() < 0) {
		t_srv_stop(&srv);
		cleanup();
		T_SKIP("cannot read /proc/%d/task", (int)srv.pid);
	}
	hello(&good, t_connect_tcp(srv.host, srv.port));
	open_file(&good, "data", O_RDONLY, &node, &fh);
	read_all(&good, node, fh);

	idle_open(d, sock);
	case_frame(100, "frame");
	case_frame(20, "header");
	case_replies();
	case_trickle();
	case_slow();
	idle_check(d);
	printf("%lld ms in all\n", t_mono_ms() - t_start);

	/* still serving, and a fresh connection works */
	good_ping();
	read_all(&good, node, fh);
	{
		struct t_conn f;

		hello(&f, t_connect_tcp(srv.host, srv.port));
		T_CHECK(ping(&f), "PING on a fresh connection");
		close(f.fd);
	}
	printf("good client: %u PINGs meanwhile\n", good_pings);
	close(good.fd);
	free(d);
	T_CHECK(t_srv_stop(&srv) == 0, "ringfsd did not exit 0 on SIGTERM");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3) {
		fprintf(stderr, "usage: stall_test RINGFSD tcp|uring\n");
		return 2;
	}
	if (access(argv[1], X_OK) < 0)
		T_SKIP("%s: %s", argv[1], strerror(errno));
	if (!rfs_xprt_is_built(argv[2]))
		T_SKIP("transport %s is not built (built: %s)", argv[2],
		       rfs_xprt_built());
	if (!mkdtemp(tmp))
		t_die("mkdtemp: %s", strerror(errno));
	if (chmod(tmp, 0755) < 0)
		t_die("chmod %s: %s", tmp, strerror(errno));
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 131 + (i >> 12));
	mkdir_in("a", 0755);
	mkdir_in("st", 0700);
	write_file("a/data", pattern, sizeof(pattern), 0644);
	write_file("a/lockf", "lock", 4, 0666);
	run(argv[1], argv[2]);
	cleanup();
	if (t_failed) {
		fprintf(stderr, "stall_test %s: %d failures\n", argv[2],
			t_failed);
		return 1;
	}
	printf("stall_test %s: ok\n", argv[2]);
	return 0;
}
