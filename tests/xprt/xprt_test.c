// SPDX-License-Identifier: MIT
/*
 * xprt_test CLIENT_XPRT SERVER_XPRT CASE
 *
 * One ping-pong body run over every built transport and every pair of
 * them (tcp and uring speak the same byte stream).  Two threads, each with
 * its own transport context, talk over loopback TCP:
 *
 *   pingpong   1000 round trips of small frames, content checked
 *   large      frames around every buffer-class boundary up to max_msg,
 *              one at a time and all at once, checked byte by byte
 *   inflight   256 frames in flight at once, answered in order
 *   peerdeath  the server thread drops its context mid-transfer: the
 *              client gets CONN_DOWN and every NOTIFY send completes
 *   drain      the client queues 200 frames of 64 KiB and disconnects at
 *              once: every send completes before CONN_DOWN, and every
 *              one reported as sent reaches the server
 *   registry   (no threads) rfs_xprt_open's errors for unknown and
 *              unbuilt names, NULL-slot wrappers, is_built/built
 *   badframe   raw sockets send bad headers to the server: each such
 *              connection goes down with the right -errno and the good
 *              connection keeps working
 *
 * Every wait is bounded by an overall deadline; no sleeps.  Exit 0 on
 * success, 1 on failure, 77 when a transport is not built.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "proto.h"
#include "xprt.h"

#define DEADLINE_S 25
#define NPING 1000
#define NINFLIGHT 256
#define DEATH_AFTER 5		/* frames the server takes before dying */
#define DEATH_FRAME (256u << 10)
#define DEATH_WINDOW 8
#define DEATH_TOTAL 400

static const char *cli_name, *srv_name, *test_case;
static atomic_int failed;
static long long deadline_ns;
static unsigned drain_sent_ok;
static atomic_bool server_done;	/* drain: sends completed with status 0 */
static unsigned listen_port;

#define FAIL(...)                                                          \
	do {                                                               \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);       \
		fprintf(stderr, __VA_ARGS__);                              \
		fputc('\n', stderr);                                       \
		atomic_store(&failed, 1);                                  \
	} while (0)

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			FAIL(__VA_ARGS__);                                 \
			goto out;                                          \
		}                                                          \
	} while (0)

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool expired(void)
{
	return now_ns() > deadline_ns || atomic_load(&failed);
}

static uint8_t pat(uint64_t id, uint32_t i)
{
	return (uint8_t)(id * 0x9eu + i * 31u + (i >> 9));
}

/* ---- event pump ------------------------------------------------------- */

struct pump {
	struct rfs_xprt *x;
	struct rfs_xev ev[64];
	int n, i;
	int extra_fd;		/* also wake for this fd (listener), or -1 */
	bool extra_ready;
};

/*
 * Next event, sleeping on the wait fd when there is none.  Returns 1 with
 * *e, 0 when only extra_fd became readable, -ETIMEDOUT at the deadline.
 */
static int pump_next(struct pump *p, struct rfs_xev *e)
{
	for (;;) {
		struct pollfd pfd[2];
		int rc, nfd = 1;

		if (p->i < p->n) {
			*e = p->ev[p->i++];
			return 1;
		}
		if (expired())
			return -ETIMEDOUT;
		rc = rfs_xprt_poll(p->x, p->ev, 64);
		if (rc < 0) {
			FAIL("rfs_xprt_poll: %s", strerror(-rc));
			return rc;
		}
		p->n = rc;
		p->i = 0;
		if (rc > 0)
			continue;
		rc = rfs_xprt_arm(p->x);
		if (rc < 0) {
			FAIL("rfs_xprt_arm: %s", strerror(-rc));
			return rc;
		}
		if (rc > 0)
			continue;
		pfd[0].fd = rfs_xprt_wait_fd(p->x);
		pfd[0].events = POLLIN;
		if (p->extra_fd >= 0) {
			pfd[1].fd = p->extra_fd;
			pfd[1].events = POLLIN;
			nfd = 2;
		}
		rc = poll(pfd, (nfds_t)nfd, 100);
		if (rc < 0 && errno != EINTR) {
			FAIL("poll: %s", strerror(errno));
			return -errno;
		}
		if (nfd == 2 && rc > 0 && (pfd[1].revents & POLLIN)) {
			p->extra_ready = true;
			return 0;
		}
	}
}

/* ---- frames ----------------------------------------------------------- */

static struct rfs_buf *make_frame(struct rfs_xprt *x, uint16_t op,
				  uint64_t id, uint32_t size)
{
	struct rfs_buf *b = rfs_xprt_buf_get(x, RFS_HDR_SIZE + size);
	struct rfs_mb mb;
	uint8_t *p;
	int len;

	if (!b) {
		FAIL("buf_get(%u) failed", RFS_HDR_SIZE + size);
		return NULL;
	}
	if (b->cap < RFS_HDR_SIZE + size ||
	    ((uintptr_t)b->data & 7) != 0) {
		FAIL("buf_get(%u): cap %u data %p", RFS_HDR_SIZE + size,
		     b->cap, b->data);
		rfs_xprt_buf_put(x, b);
		return NULL;
	}
	rfs_mb_init(&mb, b->data, b->cap, op, id);
	p = rfs_mb_put(&mb, size);
	for (uint32_t i = 0; p && i < size; i++)
		p[i] = pat(id, i);
	len = rfs_mb_finish(&mb, false);
	if (len < 0) {
		FAIL("rfs_mb_finish: %s", strerror(-len));
		rfs_xprt_buf_put(x, b);
		return NULL;
	}
	b->len = (uint32_t)len;
	return b;
}

/* A reply to request id with size payload bytes of pattern. */
static bool check_reply(const struct rfs_buf *b, uint64_t id, uint32_t size)
{
	const struct rfs_hdr *h = b->data;
	const uint8_t *p = (const uint8_t *)b->data + RFS_HDR_SIZE;

	if (b->len != RFS_HDR_SIZE + size) {
		FAIL("reply %llu: len %u, want %u", (unsigned long long)id,
		     b->len, RFS_HDR_SIZE + size);
		return false;
	}
	if (h->magic != RFS_MAGIC || h->id != id ||
	    !(h->flags & RFS_HF_REPLY) || h->len != size || h->status) {
		FAIL("reply %llu: header magic %#x id %llu flags %#x len %u",
		     (unsigned long long)id, h->magic,
		     (unsigned long long)h->id, h->flags, h->len);
		return false;
	}
	for (uint32_t i = 0; i < size; i++) {
		if (p[i] != pat(id, i)) {
			FAIL("reply %llu: byte %u is %#x, want %#x",
			     (unsigned long long)id, i, p[i], pat(id, i));
			return false;
		}
	}
	return true;
}

/* ---- server thread ---------------------------------------------------- */

struct server {
	int lfd;
	struct rfs_xprt *x;
	int nconn;		/* accepted so far; conn ctx = index + 1 */
	int bad_status[16];
	int nbad;
	int frames;
};

static struct server srv;

static void server_accept(struct server *s)
{
	struct rfs_conn *c;
	int fd, rc;

	fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			FAIL("accept: %s", strerror(errno));
		return;
	}
	rc = rfs_xprt_adopt(s->x, fd, &c);
	if (rc) {
		FAIL("server adopt: %s", strerror(-rc));
		close(fd);
		return;
	}
	s->nconn++;
	rfs_conn_set_ctx(c, (void *)(intptr_t)s->nconn);
	if (rfs_conn_ctx(c) != (void *)(intptr_t)s->nconn)
		FAIL("rfs_conn_ctx does not return what was set");
}

static void server_echo(struct server *s, struct rfs_conn *c,
			struct rfs_buf *rb)
{
	const struct rfs_hdr *h = rb->data;
	struct rfs_buf *nb;
	struct rfs_mb mb;
	int len, rc;

	nb = rfs_xprt_buf_get(s->x, rb->len);
	if (!nb) {
		FAIL("server buf_get(%u)", rb->len);
		return;
	}
	rfs_mb_reply(&mb, nb->data, nb->cap, h, 0);
	rfs_mb_put_bytes(&mb, (const uint8_t *)rb->data + RFS_HDR_SIZE,
			 h->len);
	len = rfs_mb_finish(&mb, false);
	if (len < 0) {
		FAIL("server rfs_mb_finish: %s", strerror(-len));
		rfs_xprt_buf_put(s->x, nb);
		return;
	}
	nb->len = (uint32_t)len;
	rc = rfs_xprt_send(c, nb, 0);
	if (rc && rc != -ENOTCONN)
		FAIL("server send: %s", strerror(-rc));
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	struct rfs_xprt_params prm;
	struct pump p = { .extra_fd = s->lfd };
	bool death = !strcmp(test_case, "peerdeath");
	bool done = false;
	int rc;

	rfs_xprt_params_default(&prm);
	rc = rfs_xprt_open(srv_name, &prm, &s->x);
	CHECK(rc == 0, "server open %s: %s", srv_name, strerror(-rc));
	p.x = s->x;

	while (!done) {
		struct rfs_xev e;

		rc = pump_next(&p, &e);
		if (rc < 0) {
			FAIL("server: no progress before the deadline");
			break;
		}
		if (rc == 0) {
			p.extra_ready = false;
			server_accept(s);
			continue;
		}
		switch (e.type) {
		case RFS_XEV_RECV:
			if (rfs_conn_ctx(e.conn) == (void *)(intptr_t)1)
				s->frames++;
			if (death && s->frames >= DEATH_AFTER) {
				/* die abruptly, unread data pending */
				rfs_xprt_buf_put(s->x, e.buf);
				goto out;
			}
			server_echo(s, e.conn, e.buf);
			rfs_xprt_buf_put(s->x, e.buf);
			break;
		case RFS_XEV_SEND:
			rfs_xprt_buf_put(s->x, e.buf);
			break;
		case RFS_XEV_CONN_DOWN:
			if (rfs_conn_ctx(e.conn) == (void *)(intptr_t)1) {
				if (e.status)
					FAIL("server: main conn down: %s",
					     strerror(-e.status));
				done = true;
			} else if (s->nbad < 16) {
				s->bad_status[s->nbad++] = e.status;
			}
			rfs_xprt_conn_free(e.conn);
			break;
		}
	}
	if (!death) {
		struct rfs_xprt_stats st;

		rfs_xprt_get_stats(s->x, &st);
		if (st.bufs_out != 0)
			FAIL("server: %llu buffers still out",
			     (unsigned long long)st.bufs_out);
	}
out:
	atomic_store(&server_done, true);
	/* pending events of a dying server are dropped by close */
	rfs_xprt_close(s->x);
	s->x = NULL;
	return NULL;
}

/* ---- client ----------------------------------------------------------- */

struct client {
	struct rfs_xprt *x;
	struct rfs_conn *c;
	struct pump p;
	unsigned notify_out;	/* NOTIFY sends not completed yet */
	unsigned long rtt;
};

/* Wait for the RECV of a reply; SEND completions are reaped on the way. */
static struct rfs_buf *wait_recv(struct client *k)
{
	struct rfs_xev e;

	while (pump_next(&k->p, &e) > 0) {
		switch (e.type) {
		case RFS_XEV_RECV:
			return e.buf;
		case RFS_XEV_SEND:
			if (e.status)
				FAIL("send completed with %s",
				     strerror(-e.status));
			k->notify_out--;
			rfs_xprt_buf_put(k->x, e.buf);
			break;
		case RFS_XEV_CONN_DOWN:
			FAIL("client conn down unexpectedly: %s",
			     strerror(-e.status));
			return NULL;
		}
	}
	FAIL("client: timed out waiting for a reply");
	return NULL;
}

static bool drain_notify(struct client *k)
{
	struct rfs_xev e;

	while (k->notify_out) {
		if (pump_next(&k->p, &e) <= 0) {
			FAIL("client: %u notified sends never completed",
			     k->notify_out);
			return false;
		}
		if (e.type != RFS_XEV_SEND) {
			FAIL("client: unexpected event %d", e.type);
			if (e.buf)
				rfs_xprt_buf_put(k->x, e.buf);
			return false;
		}
		k->notify_out--;
		rfs_xprt_buf_put(k->x, e.buf);
	}
	return true;
}

static bool send_frame(struct client *k, uint16_t op, uint64_t id,
		       uint32_t size, bool notify)
{
	struct rfs_buf *b = make_frame(k->x, op, id, size);
	int rc;

	if (!b)
		return false;
	rc = rfs_xprt_send(k->c, b, notify ? RFS_SEND_NOTIFY : 0);
	if (rc) {
		FAIL("send id %llu: %s", (unsigned long long)id,
		     strerror(-rc));
		return false;
	}
	if (notify)
		k->notify_out++;
	return true;
}

static bool round_trip(struct client *k, uint16_t op, uint64_t id,
		       uint32_t size, bool notify)
{
	struct rfs_buf *r;
	bool ok;

	if (!send_frame(k, op, id, size, notify))
		return false;
	r = wait_recv(k);
	if (!r)
		return false;
	ok = check_reply(r, id, size);
	rfs_xprt_buf_put(k->x, r);
	return ok;
}

static int case_pingpong(struct client *k)
{
	for (unsigned i = 0; i < NPING; i++)
		if (!round_trip(k, RFS_OP_PING, i + 1, (i * 37) % 300,
				i % 3 == 0))
			return -1;
	return drain_notify(k) ? 0 : -1;
}

static int case_large(struct client *k)
{
	const uint32_t max = RFS_MSG_MAX_DEFAULT;
	const uint32_t frames[] = {
		RFS_HDR_SIZE, 4095, 4096, 4097, 16383, 16384, 16385,
		16384 + RFS_HDR_SIZE + 1, 65535, 65536, 65537, 200000,
		(1u << 20) + RFS_HDR_SIZE, max - 1, max,
	};
	const unsigned n = sizeof(frames) / sizeof(frames[0]);
	uint64_t id = 1;

	/* one at a time */
	for (unsigned i = 0; i < n; i++)
		if (!round_trip(k, RFS_OP_WRITE, id++,
				frames[i] - RFS_HDR_SIZE, i & 1))
			return -1;
	/* all at once, a few times: frames straddle reads */
	for (unsigned rep = 0; rep < 3; rep++) {
		uint64_t first = id;

		for (unsigned i = 0; i < n; i++)
			if (!send_frame(k, RFS_OP_WRITE, id++,
					frames[(i + rep) % n] - RFS_HDR_SIZE,
					i & 1))
				return -1;
		for (unsigned i = 0; i < n; i++) {
			struct rfs_buf *r = wait_recv(k);
			bool ok;

			if (!r)
				return -1;
			ok = check_reply(r, first + i,
					 frames[(i + rep) % n] - RFS_HDR_SIZE);
			rfs_xprt_buf_put(k->x, r);
			if (!ok)
				return -1;
		}
	}
	/* a frame over max_msg is refused before it reaches the wire */
	if (rfs_xprt_buf_get(k->x, max + 1)) {
		FAIL("buf_get(max_msg + 1) succeeded");
		return -1;
	}
	return drain_notify(k) ? 0 : -1;
}

static int case_inflight(struct client *k)
{
	uint64_t id = 1;

	for (unsigned rep = 0; rep < 3; rep++) {
		uint64_t first = id;

		for (unsigned i = 0; i < NINFLIGHT; i++)
			if (!send_frame(k, RFS_OP_PING, id++, (i * 13) % 2000,
					i % 7 == 0))
				return -1;
		if (rep == 1) {
			int rc = rfs_xprt_flush(k->x);

			if (rc) {
				FAIL("flush: %s", strerror(-rc));
				return -1;
			}
		}
		for (unsigned i = 0; i < NINFLIGHT; i++) {
			struct rfs_buf *r = wait_recv(k);
			bool ok;

			if (!r)
				return -1;
			/* order per connection is preserved */
			ok = check_reply(r, first + i, (i * 13) % 2000);
			rfs_xprt_buf_put(k->x, r);
			if (!ok)
				return -1;
		}
	}
	return drain_notify(k) ? 0 : -1;
}

static int case_peerdeath(struct client *k)
{
	unsigned sent = 0, completed = 0, replies = 0;
	bool refused = false;
	struct rfs_buf *b;
	struct rfs_xev e;
	int rc;

	/* keep a window of big NOTIFY sends going until the peer dies */
	for (;;) {
		while (!refused && sent < DEATH_TOTAL &&
		       sent - completed < DEATH_WINDOW) {
			b = make_frame(k->x, RFS_OP_WRITE, sent + 1,
				       DEATH_FRAME);
			if (!b)
				return -1;
			rc = rfs_xprt_send(k->c, b, RFS_SEND_NOTIFY);
			if (rc == -ENOTCONN) {
				/* down, CONN_DOWN not reaped yet; the
				   buffer went back to the pool */
				refused = true;
				break;
			}
			if (rc) {
				FAIL("send before death: %s", strerror(-rc));
				return -1;
			}
			sent++;
		}
		rc = pump_next(&k->p, &e);
		if (rc <= 0) {
			FAIL("peerdeath: no CONN_DOWN before the deadline "
			     "(%u sent, %u completed)", sent, completed);
			return -1;
		}
		if (e.type == RFS_XEV_RECV) {
			replies++;
			rfs_xprt_buf_put(k->x, e.buf);
		} else if (e.type == RFS_XEV_SEND) {
			completed++;
			rfs_xprt_buf_put(k->x, e.buf);
		} else {
			break;
		}
	}
	if (e.status > 0 || e.conn != k->c) {
		FAIL("CONN_DOWN status %d conn %p", e.status, (void *)e.conn);
		return -1;
	}
	if (completed != sent) {
		FAIL("CONN_DOWN before every send completed: %u of %u",
		     completed, sent);
		return -1;
	}
	if (sent >= DEATH_TOTAL) {
		FAIL("the peer never died (%u replies)", replies);
		return -1;
	}
	/* a dead connection refuses sends and still returns the buffer */
	b = make_frame(k->x, RFS_OP_PING, 999999, 8);
	if (!b)
		return -1;
	rc = rfs_xprt_send(k->c, b, RFS_SEND_NOTIFY);
	if (rc != -ENOTCONN) {
		FAIL("send on a dead conn: %d, want -ENOTCONN", rc);
		return -1;
	}
	printf("peerdeath: down with %d (%s) after %u sends, %u replies\n",
	       e.status, e.status ? strerror(-e.status) : "eof", sent,
	       replies);
	rfs_xprt_conn_free(k->c);
	k->c = NULL;
	return 0;
}

static int case_drain(struct client *k)
{
	unsigned sent = 0, done_ok = 0, done_err = 0;
	struct rfs_xev e;

	for (unsigned i = 0; i < 200; i++) {
		if (!send_frame(k, RFS_OP_WRITE, i + 1, 65536, true))
			return -1;
		sent++;
	}
	k->notify_out = 0;
	rfs_xprt_disconnect(k->c);
	for (;;) {
		if (pump_next(&k->p, &e) <= 0) {
			FAIL("drain: no CONN_DOWN before the deadline");
			return -1;
		}
		if (e.type == RFS_XEV_CONN_DOWN)
			break;
		if (e.type == RFS_XEV_SEND) {
			if (e.status == 0)
				done_ok++;
			else
				done_err++;
		}
		rfs_xprt_buf_put(k->x, e.buf);
	}
	if (e.status != 0 || done_ok + done_err != sent) {
		FAIL("drain: CONN_DOWN %d after %u+%u of %u sends", e.status,
		     done_ok, done_err, sent);
		return -1;
	}
	drain_sent_ok = done_ok;
	/*
	 * Keep the context running until the server has read everything:
	 * closing it now would close the lingering socket with the server's
	 * replies unread, and the RST would destroy frames still in the
	 * server's receive queue.
	 */
	while (!atomic_load(&server_done) && !expired()) {
		struct pollfd pfd = { .fd = rfs_xprt_wait_fd(k->x),
				      .events = POLLIN };

		if (rfs_xprt_poll(k->x, &e, 1) > 0) {
			FAIL("drain: event %d after CONN_DOWN", e.type);
			return -1;
		}
		if (poll(&pfd, 1, 50) < 0 && errno != EINTR) {
			FAIL("poll: %s", strerror(errno));
			return -1;
		}
	}
	printf("drain: %u sends completed, %u cancelled\n", done_ok,
	       done_err);
	rfs_xprt_conn_free(k->c);
	k->c = NULL;
	return 0;
}

/* One raw connection sending bad bytes; wait for the server to drop it. */
static bool raw_bad(const void *bytes, size_t len)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)listen_port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct pollfd pfd;
	char tmp[256];
	bool ok = false;
	int fd, rc;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		FAIL("socket: %s", strerror(errno));
		return false;
	}
	CHECK(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	      "raw connect: %s", strerror(errno));
	CHECK(write(fd, bytes, len) == (ssize_t)len, "raw write: %s",
	      strerror(errno));
	for (;;) {
		long long left = (deadline_ns - now_ns()) / 1000000;

		CHECK(left > 0, "server never closed a bad connection");
		pfd.fd = fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		CHECK(rc >= 0 || errno == EINTR, "poll: %s", strerror(errno));
		if (rc <= 0)
			continue;
		rc = (int)read(fd, tmp, sizeof(tmp));
		if (rc == 0 || (rc < 0 && errno == ECONNRESET))
			break;
		CHECK(rc < 0, "server answered a bad frame with %d bytes", rc);
	}
	ok = true;
out:
	close(fd);
	return ok;
}

static int case_badframe(struct client *k)
{
	uint8_t junk[4096];
	struct rfs_hdr h;
	uint64_t id = 1;

	if (!round_trip(k, RFS_OP_PING, id++, 16, false))
		return -1;

	memset(junk, 0xa5, sizeof(junk));
	if (!raw_bad(junk, RFS_HDR_SIZE))	/* bad magic */
		return -1;
	if (!round_trip(k, RFS_OP_PING, id++, 16, false))
		return -1;

	memset(&h, 0, sizeof(h));
	h.magic = RFS_MAGIC;
	h.major = RFS_PROTO_MAJOR;
	h.opcode = RFS_OP_PING;
	h.len = RFS_MSG_MAX_DEFAULT;	/* header + this > max_msg */
	if (!raw_bad(&h, sizeof(h)))
		return -1;
	if (!round_trip(k, RFS_OP_PING, id++, 16, false))
		return -1;

	h.len = 0;
	h.major = 99;
	if (!raw_bad(&h, sizeof(h)))
		return -1;
	if (!round_trip(k, RFS_OP_PING, id++, 16, false))
		return -1;

	for (unsigned i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 3);
	if (!raw_bad(junk, sizeof(junk)))
		return -1;
	if (!round_trip(k, RFS_OP_PING, id++, 3000, false))
		return -1;

	/* the server thread recorded what it saw; main compares after join */
	return 0;
}

static void *client_main(void *arg)
{
	struct client *k = arg;
	struct rfs_xprt_params prm;
	struct rfs_xprt_stats st;
	struct rfs_addr a;
	char as[64];
	int rc;

	rfs_xprt_params_default(&prm);
	rc = rfs_xprt_open(cli_name, &prm, &k->x);
	CHECK(rc == 0, "client open %s: %s", cli_name, strerror(-rc));
	k->p.x = k->x;
	k->p.extra_fd = -1;
	snprintf(as, sizeof(as), "127.0.0.1:%u", listen_port);
	rc = rfs_addr_parse(as, 0, &a);
	CHECK(rc == 0, "rfs_addr_parse(%s): %s", as, strerror(-rc));
	rc = rfs_xprt_connect(k->x, &a, 5000, &k->c);
	CHECK(rc == 0, "rfs_xprt_connect: %s", strerror(-rc));
	CHECK(strlen(rfs_conn_desc(k->c)) > 0, "empty conn desc");

	if (!strcmp(test_case, "pingpong"))
		rc = case_pingpong(k);
	else if (!strcmp(test_case, "large"))
		rc = case_large(k);
	else if (!strcmp(test_case, "inflight"))
		rc = case_inflight(k);
	else if (!strcmp(test_case, "peerdeath"))
		rc = case_peerdeath(k);
	else if (!strcmp(test_case, "drain"))
		rc = case_drain(k);
	else
		rc = case_badframe(k);
	if (rc)
		goto out;

	if (k->c) {
		struct rfs_xev e;

		/* orderly close: the server sees CONN_DOWN 0, so do we */
		rfs_xprt_disconnect(k->c);
		for (;;) {
			rc = pump_next(&k->p, &e);
			CHECK(rc > 0, "no CONN_DOWN after disconnect");
			if (e.buf)
				rfs_xprt_buf_put(k->x, e.buf);
			if (e.type == RFS_XEV_CONN_DOWN)
				break;
		}
		CHECK(e.conn == k->c, "CONN_DOWN for another conn");
		rfs_xprt_conn_free(k->c);
		k->c = NULL;
	}
	rfs_xprt_get_stats(k->x, &st);
	CHECK(st.bufs_out == 0, "client: %llu buffers still out",
	      (unsigned long long)st.bufs_out);
	printf("%s->%s %s: frames out %llu in %llu, bytes out %llu in %llu, "
	       "syscalls %llu, copied %llu bytes\n",
	       cli_name, srv_name, test_case,
	       (unsigned long long)st.frames_out,
	       (unsigned long long)st.frames_in,
	       (unsigned long long)st.bytes_out,
	       (unsigned long long)st.bytes_in,
	       (unsigned long long)st.syscalls,
	       (unsigned long long)st.copies_bytes);
out:
	if (k->c) {
		/* failure path: do not wait for anything */
		k->c = NULL;
	}
	if (k->x)
		rfs_xprt_close(k->x);
	return NULL;
}

static int case_registry(void)
{
	struct rfs_xprt_params prm;
	struct rfs_xprt *x = NULL;
	int rc;

	rfs_xprt_params_default(&prm);
	CHECK(prm.max_msg == RFS_MSG_MAX_DEFAULT && prm.depth == 64,
	      "params_default");
	CHECK(rfs_xprt_open("nosuch", &prm, &x) == -ENOENT && !x,
	      "unknown name not -ENOENT");
	CHECK(rfs_xprt_open("shm", &prm, &x) == -ENOTSUP, "shm");
	CHECK(rfs_xprt_open("rdma", &prm, &x) == -ENOTSUP, "rdma");
	CHECK(rfs_xprt_is_built("tcp") && !rfs_xprt_is_built("nosuch") &&
	      !rfs_xprt_is_built(NULL), "is_built");
	CHECK(strstr(rfs_xprt_built(), "tcp") != NULL, "built list");
	CHECK(rfs_xprt_is_built("uring") ==
	      (strstr(rfs_xprt_built(), "uring") != NULL), "uring listed");
	prm.max_msg = RFS_MSG_MAX_LIMIT + 1;
	CHECK(rfs_xprt_open(cli_name, &prm, &x) == -EINVAL, "max_msg limit");
	rc = rfs_xprt_open(cli_name, NULL, &x);
	CHECK(rc == 0 && x, "open %s with default params: %d", cli_name, rc);
	CHECK(strcmp(rfs_xprt_name(x), cli_name) == 0, "rfs_xprt_name");
	CHECK(rfs_xprt_wait_fd(x) >= 0, "wait_fd");
	CHECK(rfs_xprt_poll(x, NULL, 0) == 0, "poll of an idle context");
	CHECK(rfs_xprt_arm(x) == 0, "arm of an idle context");
	CHECK(rfs_xprt_adopt(x, -1, &(struct rfs_conn *){ NULL }) < 0,
	      "adopt of a bad fd");
out:
	if (x)
		rfs_xprt_close(x);
	return atomic_load(&failed) ? 1 : 0;
}

static int listen_lo(void)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	listen_port = ntohs(sin.sin_port);
	return fd;
}

int main(int argc, char **argv)
{
	static const char *const cases[] = { "pingpong", "large", "inflight",
					     "peerdeath", "badframe",
					     "drain", "registry" };
	static struct client cli;
	pthread_t st, ct;
	bool known = false;
	int lfd, rc;

	if (argc != 4) {
		fprintf(stderr, "usage: %s CLIENT_XPRT SERVER_XPRT CASE\n",
			argv[0]);
		return 2;
	}
	cli_name = argv[1];
	srv_name = argv[2];
	test_case = argv[3];
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		known |= !strcmp(cases[i], test_case);
	if (!known) {
		fprintf(stderr, "unknown case %s\n", test_case);
		return 2;
	}
	rfs_log_init("xprt_test");
	if (!rfs_xprt_is_built(cli_name) || !rfs_xprt_is_built(srv_name)) {
		printf("SKIP: transports built: %s\n", rfs_xprt_built());
		return 77;
	}
	deadline_ns = now_ns() + DEADLINE_S * 1000000000LL;
	if (!strcmp(test_case, "registry")) {
		rc = case_registry();
		printf("%s %s registry: %s\n", cli_name, srv_name,
		       rc ? "FAILED" : "ok");
		return rc;
	}

	lfd = listen_lo();
	if (lfd < 0) {
		fprintf(stderr, "listen on loopback: %s\n", strerror(-lfd));
		return 1;
	}
	srv.lfd = lfd;
	rc = pthread_create(&st, NULL, server_main, &srv);
	if (rc) {
		fprintf(stderr, "pthread_create: %s\n", strerror(rc));
		return 1;
	}
	rc = pthread_create(&ct, NULL, client_main, &cli);
	if (rc) {
		fprintf(stderr, "pthread_create: %s\n", strerror(rc));
		atomic_store(&failed, 1);
		pthread_join(st, NULL);
		return 1;
	}
	pthread_join(ct, NULL);
	pthread_join(st, NULL);
	close(lfd);

	if (!strcmp(test_case, "badframe") && !atomic_load(&failed)) {
		static const int want[] = { -EBADMSG, -EMSGSIZE,
					    -EPROTONOSUPPORT, -EBADMSG };

		if (srv.nbad != 4)
			FAIL("server saw %d bad connections, want 4",
			     srv.nbad);
		for (int i = 0; i < srv.nbad && i < 4; i++)
			if (srv.bad_status[i] != want[i])
				FAIL("bad connection %d: status %d (%s), "
				     "want %d (%s)",
				     i, srv.bad_status[i],
				     strerror(-srv.bad_status[i]), want[i],
				     strerror(-want[i]));
	}
	if (!strcmp(test_case, "drain") && (unsigned)srv.frames < drain_sent_ok)
		FAIL("drain: server got %d frames, %u were reported sent",
		     srv.frames, drain_sent_ok);
	if (atomic_load(&failed)) {
		printf("%s %s %s: FAILED\n", cli_name, srv_name, test_case);
		return 1;
	}
	printf("%s %s %s: ok\n", cli_name, srv_name, test_case);
	return 0;
}
