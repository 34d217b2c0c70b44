// SPDX-License-Identifier: MIT
/*
 * xprt_test CLIENT_XPRT SERVER_XPRT CASE
 *
 * One ping-pong body run over every built transport and every pair of
 * them (tcp and uring speak the same byte stream).  Two threads, each with
 * its own transport context, talk over loopback TCP:
 *
 *   pingpong   1000 round trips of small frames, content checked; before
 *              every tenth reply the server sends a notification (an
 *              unsolicited frame, protocol 1.4), which the client's
 *              transport must deliver as it is
 *   large      frames around every buffer-class boundary up to max_msg,
 *              one at a time and all at once, then runs of small frames
 *              between frames around 64 KiB (uring's in-place receive
 *              threshold), checked byte by byte
 *   inflight   256 frames in flight at once, answered in order
 *   peerdeath  the server thread drops its context mid-transfer: the
 *              client gets CONN_DOWN and every NOTIFY send completes
 *   midframe   raw peers of the client's own transport send whole large
 *              frames, then part of one, and die (FIN or RST): CONN_DOWN
 *              -ECONNRESET, no partial frame; uring receives the rest
 *              of a large frame in place (bounded copies)
 *   drain      the client queues 200 frames of 64 KiB and disconnects at
 *              once: every send completes before CONN_DOWN, and every
 *              one reported as sent reaches the server
 *   registry   (no threads) rfs_xprt_open's errors for unknown and
 *              unbuilt names, NULL-slot wrappers, is_built/built
 *   badframe   raw sockets send bad headers to the server: each such
 *              connection goes down with the right -errno and the good
 *              connection keeps working.  For shm: hostile peers offer
 *              bad regions (refused at setup) or write garbage
 *              descriptors, out-of-range slots and bad frames into the
 *              shared rings
 *
 *   refused    (rdma) a connect to a closed port fails cleanly, then a
 *              real connection works
 *   badtoken   (rdma) the first RDMA connect carries a wrong session
 *              token (RINGFS_RDMA_TEST_BAD_TOKEN=1): the server refuses
 *              it, the client's connect fails, the next one works
 *   readpush   real READ requests (proto codec) answered by the server
 *              with full, short, error, oversized (larger than the
 *              request asked for), NOTIFY-sent and missing replies, of
 *              sizes around the inline threshold up to 1 MiB, one at a
 *              time and many at once with PINGs between them, every byte
 *              checked, in order; then no buffer is leaked on either
 *              side, and a READ never answered holds exactly one buffer
 *              (rdma: the advertised one, pushed replies) until teardown
 *              frees it.  Any transport.
 *   readpull   readpush with the rdma push feature refused by the server
 *              (RINGFS_RDMA_TEST_NO_PUSH=passive): the RMA + DONE
 *              fallback, no advertised buffer
 *   evil       (rdma) hostile push messages, one mode of the
 *              RINGFS_RDMA_TEST_EVIL hook after the other (each in fresh
 *              contexts and threads; RFS_TEST_EVIL_MODES=a,b,... picks
 *              some): the side a mode names sends exactly one malformed
 *              WRITTEN / ADV / UNADV amid PINGs, READs (one never
 *              answered, so its buffer stays advertised) and a large
 *              WRITE.  The other side must take the connection down with
 *              -EPROTO and log what was wrong (stderr is captured per
 *              mode and checked); both sides see CONN_DOWN in bounded
 *              time, every NOTIFY send completes first, nothing wrong is
 *              delivered, and no buffer is left out on either side
 *
 * shm runs over a Unix socket (it is same-host only); the others over
 * loopback TCP, or RFS_TEST_ADDR (an IPv4 address: rdma needs a device
 * address, e.g. the VM's $VMRUN_IP).
 *
 * Every wait is bounded by an overall deadline; no sleeps.  Exit 0 on
 * success, 1 on failure, 77 when a transport is not built.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#if HAVE_SHM
#include <sys/eventfd.h>
#include <sys/mman.h>
#include "xprt_shm_i.h"
#endif

#include "addr.h"
#include "log.h"
#include "proto.h"
#include "spin.h"
#include "xprt.h"

#define DEADLINE_S 25
#define NPING 1000
#define NINFLIGHT 256
#define DEATH_AFTER 5 /* frames the server takes before dying */
#define DEATH_FRAME (256u << 10)
#define DEATH_WINDOW 8
#define DEATH_TOTAL 400

static const char *cli_name, *srv_name, *test_case;
static const char *test_addr = "127.0.0.1"; /* RFS_TEST_ADDR */
static atomic_int failed;
static long long deadline_ns;
static unsigned drain_sent_ok;
static atomic_bool server_done; /* drain: sends completed with status 0 */
static unsigned listen_port;
static unsigned closed_port;
static int closed_fd = -1;
static bool use_unix; /* shm: a Unix socket instead of TCP */
static char unix_dir[64], unix_path[108];

#define FAIL(...)                                                    \
	do {                                                         \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                        \
		fputc('\n', stderr);                                 \
		atomic_store(&failed, 1);                            \
	} while (0)

#define CHECK(cond, ...)                   \
	do {                               \
		if (!(cond)) {             \
			FAIL(__VA_ARGS__); \
			goto out;          \
		}                          \
	} while (0)

static bool expired(void)
{
	return rfs_now_ns() > deadline_ns || atomic_load(&failed);
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
	int extra_fd; /* also wake for this fd (listener), or -1 */
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

static struct rfs_buf *make_frame(struct rfs_xprt *x, uint16_t op, uint64_t id,
				  uint32_t size)
{
	struct rfs_buf *b = rfs_xprt_buf_get(x, RFS_HDR_SIZE + size);
	struct rfs_mb mb;
	uint8_t *p;
	int len;

	if (!b) {
		FAIL("buf_get(%u) failed", RFS_HDR_SIZE + size);
		return NULL;
	}
	if (b->cap < RFS_HDR_SIZE + size || ((uintptr_t)b->data & 7) != 0) {
		FAIL("buf_get(%u): cap %u data %p", RFS_HDR_SIZE + size, b->cap,
		     b->data);
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

/* ---- READ requests (readpush) ----------------------------------------- */

/* What the server does with a READ, chosen by the request's offset. */
enum read_mode {
	RM_FULL,   /* size bytes of pattern */
	RM_SHORT,  /* size / 2 bytes */
	RM_ERROR,  /* -EIO, no payload */
	RM_OVER,   /* size + 8192 bytes (more than asked; capped) */
	RM_NOTIFY, /* as FULL, sent with RFS_SEND_NOTIFY */
	RM_NONE,   /* no reply at all */
	RM_N
};

static bool is_readcase(void)
{
	return !strcmp(test_case, "readpush") || !strcmp(test_case, "readpull");
}

/* Payload bytes of the reply, or -1 for an error reply / none. */
static long read_reply_len(enum read_mode m, uint32_t size)
{
	const uint32_t dmax = RFS_MSG_MAX_DEFAULT - RFS_HDR_SIZE;
	uint64_t n;

	switch (m) {
	case RM_FULL:
	case RM_NOTIFY:
		return size;
	case RM_SHORT:
		return size / 2;
	case RM_OVER:
		n = (uint64_t)size + 8192;
		return (long)(n > dmax ? dmax : n);
	default:
		return -1;
	}
}

static struct rfs_buf *make_read(struct rfs_xprt *x, uint64_t id,
				 enum read_mode m, uint32_t size)
{
	struct rfs_buf *b = rfs_xprt_buf_get(x, RFS_HDR_SIZE + 64);
	struct rfs_io_req *io;
	struct rfs_mb mb;
	int len;

	if (!b) {
		FAIL("buf_get for a READ request failed");
		return NULL;
	}
	rfs_mb_init(&mb, b->data, b->cap, RFS_OP_READ, id);
	io = rfs_mb_put(&mb, sizeof(*io));
	if (io) {
		io->nodeid = 2;
		io->fh = 7;
		io->offset = (uint64_t)m;
		io->size = size;
	}
	len = rfs_mb_finish(&mb, false);
	if (len < 0) {
		FAIL("READ rfs_mb_finish: %s", strerror(-len));
		rfs_xprt_buf_put(x, b);
		return NULL;
	}
	b->len = (uint32_t)len;
	return b;
}

/* The reply to READ id in mode m of size bytes. */
static bool check_read_reply(const struct rfs_buf *b, uint64_t id,
			     enum read_mode m, uint32_t size)
{
	const struct rfs_hdr *h = b->data;
	const uint8_t *p = (const uint8_t *)b->data + RFS_HDR_SIZE;
	long dlen = read_reply_len(m, size);
	uint32_t want = RFS_HDR_SIZE + (dlen > 0 ? (uint32_t)dlen : 0);

	if (b->len != want || h->magic != RFS_MAGIC || h->id != id ||
	    h->opcode != RFS_OP_READ || !(h->flags & RFS_HF_REPLY) ||
	    h->len != want - RFS_HDR_SIZE ||
	    h->status != (dlen < 0 ? -EIO : 0)) {
		FAIL("READ reply %llu (mode %d size %u): len %u want %u, id "
		     "%llu op %u flags %#x hlen %u status %d",
		     (unsigned long long)id, m, size, b->len, want,
		     (unsigned long long)h->id, h->opcode, h->flags, h->len,
		     h->status);
		return false;
	}
	for (long i = 0; i < dlen; i++) {
		if (p[i] != pat(id, (uint32_t)i)) {
			FAIL("READ reply %llu: byte %ld is %#x, want %#x",
			     (unsigned long long)id, i, p[i],
			     pat(id, (uint32_t)i));
			return false;
		}
	}
	return true;
}

/* ---- server thread ---------------------------------------------------- */

struct server {
	int lfd;
	struct rfs_xprt *x;
	int nconn; /* accepted so far; conn ctx = index + 1 */
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
	rc = rfs_xprt_accept(s->x, fd, &c);
	if (rc && use_unix && !strcmp(test_case, "badframe") && s->nconn > 0) {
		/* a hostile peer's offer, refused at setup */
		if (s->nbad < 16)
			s->bad_status[s->nbad++] = rc;
		close(fd);
		return;
	}
	if (rc && !strcmp(test_case, "badtoken") && s->nbad == 0) {
		/* the client with the wrong token gave up */
		s->bad_status[s->nbad++] = rc;
		close(fd);
		return;
	}
	if (rc) {
		FAIL("server accept: %s", strerror(-rc));
		close(fd);
		return;
	}
	s->nconn++;
	rfs_conn_set_ctx(c, (void *)(intptr_t)s->nconn);
	if (rfs_conn_ctx(c) != (void *)(intptr_t)s->nconn)
		FAIL("rfs_conn_ctx does not return what was set");
}

/* pingpong: which pings get a notification first, and its node id */
static bool ping_notified(uint64_t id)
{
	return !strcmp(test_case, "pingpong") && id % 10 == 5;
}

static void server_notify(struct server *s, struct rfs_conn *c, uint64_t id)
{
	struct rfs_buf *nb = rfs_xprt_buf_get(s->x, 512);
	int len, rc;

	if (!nb) {
		FAIL("server buf_get(512)");
		return;
	}
	len = rfs_proto_build_notify(nb->data, nb->cap, RFS_NOTIFY_ENTRY,
				     id + 1000, id + 2000, "name", 4, true);
	if (len < 0) {
		FAIL("rfs_proto_build_notify: %s", strerror(-len));
		rfs_xprt_buf_put(s->x, nb);
		return;
	}
	nb->len = (uint32_t)len;
	rc = rfs_xprt_send(c, nb, 0);
	if (rc && rc != -ENOTCONN)
		FAIL("server send (notification): %s", strerror(-rc));
}

static void server_echo(struct server *s, struct rfs_conn *c,
			struct rfs_buf *rb)
{
	const struct rfs_hdr *h = rb->data;
	struct rfs_buf *nb;
	struct rfs_mb mb;
	int len, rc;

	if (h->opcode == RFS_OP_PING && ping_notified(h->id))
		server_notify(s, c, h->id);

	nb = rfs_xprt_buf_get(s->x, rb->len);
	if (!nb) {
		FAIL("server buf_get(%u)", rb->len);
		return;
	}
	rfs_mb_reply(&mb, nb->data, nb->cap, h, 0);
	rfs_mb_put_bytes(&mb, (const uint8_t *)rb->data + RFS_HDR_SIZE, h->len);
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

/* readpush: answer a READ as its offset says. */
static void server_read(struct server *s, struct rfs_conn *c,
			struct rfs_buf *rb)
{
	const struct rfs_hdr *h = rb->data;
	const struct rfs_io_req *io;
	struct rfs_buf *nb;
	struct rfs_mb mb;
	enum read_mode m;
	long dlen;
	uint8_t *p;
	int len, rc;

	if (h->len < sizeof(*io)) {
		FAIL("server: short READ request");
		return;
	}
	io = (const void *)((const uint8_t *)rb->data + RFS_HDR_SIZE);
	m = io->offset < RM_N ? (enum read_mode)io->offset : RM_ERROR;
	if (io->nodeid != 2 || io->fh != 7)
		FAIL("server: READ request fields garbled");
	if (m == RM_NONE)
		return;
	dlen = read_reply_len(m, io->size);
	nb = rfs_xprt_buf_get(s->x,
			      RFS_HDR_SIZE + (dlen > 0 ? (uint32_t)dlen : 0));
	if (!nb) {
		FAIL("server buf_get(READ reply %ld)", dlen);
		return;
	}
	rfs_mb_reply(&mb, nb->data, nb->cap, h, dlen < 0 ? -EIO : 0);
	if (dlen > 0) {
		p = rfs_mb_put(&mb, (uint32_t)dlen);
		for (long i = 0; p && i < dlen; i++)
			p[i] = pat(h->id, (uint32_t)i);
	}
	len = rfs_mb_finish(&mb, false);
	if (len < 0) {
		FAIL("server READ rfs_mb_finish: %s", strerror(-len));
		rfs_xprt_buf_put(s->x, nb);
		return;
	}
	nb->len = (uint32_t)len;
	rc = rfs_xprt_send(c, nb, m == RM_NOTIFY ? RFS_SEND_NOTIFY : 0);
	if (rc && rc != -ENOTCONN)
		FAIL("server send READ reply: %s", strerror(-rc));
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
	prm.rdma_addr = test_addr;
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
			if (is_readcase() &&
			    ((const struct rfs_hdr *)e.buf->data)->opcode ==
				    RFS_OP_READ)
				server_read(s, e.conn, e.buf);
			else
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
	unsigned notify_out; /* NOTIFY sends not completed yet */
	unsigned long rtt;
	unsigned notified; /* notifications received (pingpong) */
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
		FAIL("send id %llu: %s", (unsigned long long)id, strerror(-rc));
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
	if (r && (((const struct rfs_hdr *)r->data)->flags & RFS_HF_NOTIFY)) {
		const struct rfs_hdr *h = r->data;
		struct rfs_notify_view v;
		int rc = rfs_proto_verify(h, h + 1, true);

		if (!rc)
			rc = rfs_proto_decode_notify(h, h + 1, &v);
		if (rc || !ping_notified(id) || v.kind != RFS_NOTIFY_ENTRY ||
		    v.nodeid != id + 1000 || v.parent != id + 2000 ||
		    v.name_len != 4 || memcmp(v.name, "name", 4)) {
			FAIL("notification before reply %llu: %s",
			     (unsigned long long)id,
			     rc ? strerror(-rc) : "wrong contents");
			rfs_xprt_buf_put(k->x, r);
			return false;
		}
		k->notified++;
		rfs_xprt_buf_put(k->x, r);
		r = wait_recv(k);
	}
	if (!r)
		return false;
	ok = check_reply(r, id, size);
	rfs_xprt_buf_put(k->x, r);
	return ok;
}

static int case_pingpong(struct client *k)
{
	unsigned want;

	for (unsigned i = 0; i < NPING; i++)
		if (!round_trip(k, RFS_OP_PING, i + 1, (i * 37) % 300,
				i % 3 == 0))
			return -1;
	/* the server notifies in the pingpong case only (ping_notified) */
	want = !strcmp(test_case, "pingpong") ? NPING / 10 : 0;
	if (k->notified != want) {
		FAIL("%u notifications received, %u sent", k->notified, want);
		return -1;
	}
	return drain_notify(k) ? 0 : -1;
}

/*
 * rfs_xprt_sleep: a transport that has it (RFS_XPRT_F_SLEEP) times out
 * with nothing to do, wakes for a watched fd, and submits the sends left
 * queued (no flush, no arm) in the call that waits for their replies: a
 * send it did not submit would never be answered.  Others say
 * -EOPNOTSUPP.
 */
static int case_sleep(struct client *k)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	unsigned fired = 0;
	uint64_t v = 1;
	int rc, ret = -1;

	if (efd < 0) {
		FAIL("eventfd: %s", strerror(errno));
		return -1;
	}
	CHECK(rfs_xprt_sleep(k->x, 0, (int[3]){ efd, efd, efd }, 3, &fired) ==
		      -EOPNOTSUPP,
	      "sleep watching more than RFS_XPRT_WATCH_MAX fds");
	if (!(rfs_xprt_flags(k->x) & RFS_XPRT_F_SLEEP)) {
		rc = rfs_xprt_sleep(k->x, 0, &efd, 1, &fired);
		CHECK(rc == -EOPNOTSUPP, "sleep on %s: %d, want -EOPNOTSUPP",
		      cli_name, rc);
		ret = case_pingpong(k);
		goto out;
	}
	rc = rfs_xprt_sleep(k->x, 20, &efd, 1, &fired);
	CHECK(rc == -ETIME && !fired, "idle sleep: %d fired %#x, want -ETIME",
	      rc, fired);
	CHECK(write(efd, &v, sizeof(v)) == sizeof(v), "eventfd write");
	/* > 0: the poll's completion is pending, not yet seen */
	do {
		struct rfs_xev e;

		CHECK(!expired(), "the watched eventfd never woke the sleep");
		CHECK(rfs_xprt_poll(k->x, &e, 1) == 0, "an event, none sent");
		rc = rfs_xprt_sleep(k->x, 5000, &efd, 1, &fired);
		CHECK(rc >= 0, "sleep for a watched fd: %d", rc);
	} while (!fired);
	CHECK(fired == 1, "watched fd: fired %#x", fired);
	CHECK(read(efd, &v, sizeof(v)) == sizeof(v), "eventfd read");
	for (unsigned i = 0; i < NPING; i++) {
		uint64_t id = i + 1;
		uint32_t size = (i * 53) % 2000;
		struct rfs_xev e;
		bool got = false;

		if (!send_frame(k, RFS_OP_PING, id, size, false))
			goto out;
		while (!got) {
			CHECK(!expired(),
			      "reply %llu never came: the sleep "
			      "did not submit its send",
			      (unsigned long long)id);
			rc = rfs_xprt_poll(k->x, &e, 1);
			CHECK(rc >= 0, "poll: %s", strerror(-rc));
			if (rc == 0) {
				rc = rfs_xprt_sleep(k->x, 1000, &efd, 1,
						    &fired);
				CHECK(rc >= 0 || rc == -ETIME, "sleep: %s",
				      strerror(-rc));
				CHECK(!fired, "eventfd fired, never written");
				continue;
			}
			CHECK(e.type == RFS_XEV_RECV, "event %d", e.type);
			got = check_reply(e.buf, id, size);
			rfs_xprt_buf_put(k->x, e.buf);
			if (!got)
				goto out;
		}
	}
	ret = 0;
out:
	close(efd);
	return ret;
}

/*
 * spinpoll: a kernel ring transport whose poll makes no syscall
 * (RFS_XPRT_F_POLL_FREE and RFS_XPRT_F_SLEEP: uring) delivers a reply to
 * a thread that busy-polls it without one: no syscall of the
 * transport's between the send's flush and the reply (the client loop's
 * spin and ringfsd's rely on it; a ring with COOP_TASKRUN needed an
 * io_uring_enter to see each reply).  At most 1 % may.  uring clients
 * only (main skips the others; shm's poll also wakes a sleeping peer,
 * lazily, and its data path is measured by shm-syscalls).
 */
#define NSPIN 200u
static int case_spinpoll(struct client *k)
{
	unsigned entered = 0;

	CHECK((rfs_xprt_flags(k->x) &
	       (RFS_XPRT_F_POLL_FREE | RFS_XPRT_F_SLEEP)) ==
		      (RFS_XPRT_F_POLL_FREE | RFS_XPRT_F_SLEEP),
	      "%s: not a kernel ring polled without syscalls", cli_name);
	for (unsigned i = 0; i < NSPIN; i++) {
		struct rfs_xprt_stats s0, s1;
		uint64_t id = i + 1;
		bool got = false;
		int rc;

		if (!send_frame(k, RFS_OP_PING, id, 64, false))
			return -1;
		rc = rfs_xprt_flush(k->x);
		CHECK(rc == 0 || rc == -EOPNOTSUPP, "flush: %s", strerror(-rc));
		rfs_xprt_get_stats(k->x, &s0);
		while (!got) {
			struct rfs_xev e;

			CHECK(!expired(), "reply %llu never came to the poll",
			      (unsigned long long)id);
			rc = rfs_xprt_poll(k->x, &e, 1);
			CHECK(rc >= 0, "poll: %s", strerror(-rc));
			if (rc == 0)
				continue;
			if (e.type == RFS_XEV_SEND) {
				rfs_xprt_buf_put(k->x, e.buf);
				continue;
			}
			CHECK(e.type == RFS_XEV_RECV, "event %d", e.type);
			got = check_reply(e.buf, id, 64);
			rfs_xprt_buf_put(k->x, e.buf);
			if (!got)
				return -1;
		}
		rfs_xprt_get_stats(k->x, &s1);
		entered += s1.syscalls != s0.syscalls;
	}
	printf("spinpoll: %u of %u replies took a syscall to be seen\n",
	       entered, NSPIN);
	CHECK(entered <= NSPIN / 100,
	      "%u of %u replies needed a syscall of the polling thread",
	      entered, NSPIN);
	return 0;
out:
	return -1;
}

static int case_large(struct client *k)
{
	const uint32_t max = RFS_MSG_MAX_DEFAULT;
	const uint32_t frames[] = {
		RFS_HDR_SIZE,
		4095,
		4096,
		4097,
		16383,
		16384,
		16385,
		16384 + RFS_HDR_SIZE + 1,
		65535,
		65536,
		65537,
		200000,
		(1u << 20) + RFS_HDR_SIZE,
		max - 1,
		max,
	};
	const unsigned n = sizeof(frames) / sizeof(frames[0]);
	uint64_t id = 1;

	/* one at a time */
	for (unsigned i = 0; i < n; i++)
		if (!round_trip(k, RFS_OP_WRITE, id++, frames[i] - RFS_HDR_SIZE,
				i & 1))
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
	/*
	 * Runs of small frames between frames around uring's in-place
	 * receive threshold (64 KiB, one 32 KiB ring buffer more or less),
	 * queued at once: the receiver switches between copying out of its
	 * ring and receiving in place, and back, with frames straddling
	 * its reads.
	 */
	for (unsigned rep = 0; rep < 3; rep++) {
		static const uint32_t big[] = { 65535, 65536, 65537,   98303,
						98304, 98305, 1u << 20 };
		const unsigned nsmall = 20 + 20 * rep, nbig = 7;
		uint64_t first = id;
		uint32_t sz[80];
		unsigned m = 0;

		for (unsigned i = 0; i < nsmall; i++)
			sz[m++] = RFS_HDR_SIZE + (i * 53) % 3000;
		for (unsigned i = 0; i < nbig; i++)
			sz[m++] = big[(i + rep) % nbig];
		for (unsigned i = 0; i < m; i++)
			if (!send_frame(k, RFS_OP_WRITE, id++,
					sz[i] - RFS_HDR_SIZE, i % 5 == 0))
				return -1;
		for (unsigned i = 0; i < m; i++) {
			struct rfs_buf *r = wait_recv(k);
			bool ok;

			if (!r)
				return -1;
			ok = check_reply(r, first + i, sz[i] - RFS_HDR_SIZE);
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

/*
 * Let in-flight internal messages (credit returns) finish, then the
 * number of buffers the client has out; fails if an event shows up.
 */
static long settled_bufs_out(struct client *k)
{
	struct rfs_xprt_stats st;
	struct rfs_xev ev[4];
	long last = -1;
	int same = 0;

	while (!expired()) {
		int n = rfs_xprt_poll(k->x, ev, 4);

		if (n != 0) {
			FAIL("readpush: unexpected event or error (%d)", n);
			for (int i = 0; i < n; i++)
				if (ev[i].buf)
					rfs_xprt_buf_put(k->x, ev[i].buf);
			return -1;
		}
		rfs_xprt_get_stats(k->x, &st);
		same = (long)st.bufs_out == last ? same + 1 : 0;
		last = (long)st.bufs_out;
		if (same >= 20)
			return last;
		poll(NULL, 0, 5);
	}
	FAIL("readpush: client buffers never settled");
	return -1;
}

static bool read_send(struct client *k, uint64_t id, enum read_mode m,
		      uint32_t size)
{
	struct rfs_buf *b = make_read(k->x, id, m, size);
	/* the largest reply: header + size bytes of data (no reply body) */
	uint64_t reply_max = (uint64_t)RFS_HDR_SIZE + size;
	int rc;

	if (!b)
		return false;
	/*
	 * The transport never parses the request: the caller says how large
	 * the reply can be (rdma advertises a push buffer that big).
	 */
	rc = rfs_xprt_send_expect(k->c, b, 0,
				  reply_max > UINT32_MAX ? UINT32_MAX :
							   (uint32_t)reply_max);
	if (rc) {
		FAIL("send READ %llu: %s", (unsigned long long)id,
		     strerror(-rc));
		return false;
	}
	return true;
}

static int case_readpush(struct client *k)
{
	/* payload sizes: inline (4096 is the threshold for a whole frame),
	   just over it, around 64 KiB, up to RFS_IO_MAX */
	static const uint32_t sizes[] = {
		0,
		100,
		4000,
		4096 - RFS_HDR_SIZE,
		4097 - RFS_HDR_SIZE,
		4096,
		8192,
		8193,
		65536 - RFS_HDR_SIZE,
		65536,
		65537,
		200000,
		RFS_IO_MAX,
	};
	const unsigned nsz = sizeof(sizes) / sizeof(sizes[0]);
	bool push = !strcmp(cli_name, "rdma") && !strcmp(srv_name, "rdma") &&
		    !strcmp(test_case, "readpush");
	uint64_t id = 1;
	long base, now;

	/* a PING first: the connection is fully up */
	if (!round_trip(k, RFS_OP_PING, id++, 10, false))
		return -1;
	base = settled_bufs_out(k);
	if (base < 0)
		return -1;
	/* one at a time, every mode but NONE, every size */
	for (unsigned m = 0; m < RM_NONE; m++) {
		for (unsigned i = 0; i < nsz; i++) {
			struct rfs_buf *r;
			bool ok;

			if (!read_send(k, id, (enum read_mode)m, sizes[i]))
				return -1;
			r = wait_recv(k);
			if (!r)
				return -1;
			ok = check_read_reply(r, id, (enum read_mode)m,
					      sizes[i]);
			rfs_xprt_buf_put(k->x, r);
			if (!ok)
				return -1;
			id++;
		}
	}
	/*
	 * Many at once, more than the 64 advertisements an rdma connection
	 * keeps, a PING after each READ: replies come back in order, pushed
	 * ones among inline and RMA ones.
	 */
	for (unsigned rep = 0; rep < 2; rep++) {
		enum {
			NB = 90
		};
		uint64_t first = id;
		enum read_mode mode[NB];
		uint32_t size[NB];

		for (unsigned i = 0; i < NB; i++) {
			mode[i] = (enum read_mode)((i + rep) % RM_NONE);
			size[i] = i % 23 == 0 ? RFS_IO_MAX :
						sizes[(i * 7 + rep) % nsz] %
							(200000 + 1);
			if (!read_send(k, id++, mode[i], size[i]) ||
			    !send_frame(k, RFS_OP_PING, id++, (i * 13) % 300,
					false))
				return -1;
		}
		for (unsigned i = 0; i < NB; i++) {
			struct rfs_buf *r = wait_recv(k);
			bool ok;

			if (!r)
				return -1;
			ok = check_read_reply(r, first + 2 * i, mode[i],
					      size[i]);
			rfs_xprt_buf_put(k->x, r);
			if (!ok)
				return -1;
			r = wait_recv(k);
			if (!r)
				return -1;
			ok = check_reply(r, first + 2 * i + 1, (i * 13) % 300);
			rfs_xprt_buf_put(k->x, r);
			if (!ok)
				return -1;
		}
	}
	/* every advertised buffer came back */
	now = settled_bufs_out(k);
	if (now != base) {
		FAIL("readpush: %ld buffers out after the replies, %ld "
		     "before",
		     now, base);
		return -1;
	}
	/*
	 * A READ the server never answers: with push its advertised buffer
	 * stays out (teardown frees it: client_main checks bufs_out == 0
	 * after CONN_DOWN); without, nothing is held.
	 */
	if (!read_send(k, id++, RM_NONE, RFS_IO_MAX) ||
	    !round_trip(k, RFS_OP_PING, id++, 10, false))
		return -1;
	now = settled_bufs_out(k);
	if (now != base + (push ? 1 : 0)) {
		FAIL("readpush: %ld buffers out with an unanswered READ, %ld "
		     "before (push %s)",
		     now, base, push ? "on" : "off");
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
			     "(%u sent, %u completed)",
			     sent, completed);
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
	       e.status, e.status ? strerror(-e.status) : "eof", sent, replies);
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
	printf("drain: %u sends completed, %u cancelled\n", done_ok, done_err);
	rfs_xprt_conn_free(k->c);
	k->c = NULL;
	return 0;
}

/* ---- midframe: a peer dies inside a large frame ------------------------ */

/*
 * The client's own transport receives from a raw socket it writes itself
 * (a loopback pair: one end adopted, the other ours), so the test knows
 * when the transport has read every byte sent so far: the writer's send
 * queue is empty (the receiving kernel has it all) and so is the adopted
 * end's receive queue (the transport took it).
 */
struct midframe {
	struct client *k;
	struct rfs_conn *rc; /* the adopted end */
	int afd, wfd;	     /* adopted end, raw writer */
	int down;	     /* CONN_DOWN status, 1 while up */
	unsigned frames;     /* frames received on rc */
};

/* One turn of the loop: reap events, sleep a little on the wait fd. */
static bool mf_step(struct midframe *m)
{
	struct rfs_xev ev[16];
	struct pollfd pfd;
	int n, rc;

	if (expired()) {
		FAIL("midframe: no progress before the deadline");
		return false;
	}
	n = rfs_xprt_poll(m->k->x, ev, 16);
	if (n < 0) {
		FAIL("rfs_xprt_poll: %s", strerror(-n));
		return false;
	}
	for (int i = 0; i < n; i++) {
		if (ev[i].conn != m->rc) {
			FAIL("midframe: event %d on the main connection",
			     ev[i].type);
			if (ev[i].buf)
				rfs_xprt_buf_put(m->k->x, ev[i].buf);
			continue;
		}
		if (ev[i].type == RFS_XEV_RECV) {
			m->frames++;
			rfs_xprt_buf_put(m->k->x, ev[i].buf);
		} else if (ev[i].type == RFS_XEV_CONN_DOWN) {
			m->down = ev[i].status;
		}
	}
	if (n)
		return true;
	rc = rfs_xprt_arm(m->k->x);
	if (rc < 0) {
		FAIL("rfs_xprt_arm: %s", strerror(-rc));
		return false;
	}
	if (rc > 0)
		return true;
	pfd = (struct pollfd){ .fd = rfs_xprt_wait_fd(m->k->x),
			       .events = POLLIN };
	if (poll(&pfd, 1, 5) < 0 && errno != EINTR) {
		FAIL("poll: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Write len bytes to the raw end, then wait until the transport has them. */
static bool mf_push(struct midframe *m, const uint8_t *p, size_t len)
{
	int inq = -1, outq = -1;

	while (len) {
		ssize_t w = send(m->wfd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			FAIL("midframe: raw send: %s", strerror(errno));
			return false;
		}
		if (w > 0) {
			p += w;
			len -= (size_t)w;
		}
		if (!mf_step(m))
			return false;
	}
	for (;;) {
		if (ioctl(m->wfd, SIOCOUTQ, &outq) ||
		    ioctl(m->afd, SIOCINQ, &inq)) {
			FAIL("midframe: SIOCOUTQ/SIOCINQ: %s", strerror(errno));
			return false;
		}
		if (outq == 0 && inq == 0)
			return true;
		if (!mf_step(m))
			return false;
	}
}

/* A loopback TCP pair; *a is adopted by the client's transport. */
static bool mf_open(struct midframe *m)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int lfd, rc;
	bool ok = false;

	m->afd = m->wfd = -1;
	m->rc = NULL;
	m->down = 1;
	m->frames = 0;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0, "socket: %s", strerror(errno));
	CHECK(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		      listen(lfd, 1) == 0 &&
		      getsockname(lfd, (struct sockaddr *)&sin, &sl) == 0,
	      "midframe listen: %s", strerror(errno));
	m->wfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(m->wfd >= 0, "socket: %s", strerror(errno));
	CHECK(connect(m->wfd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	      "midframe connect: %s", strerror(errno));
	m->afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	CHECK(m->afd >= 0, "accept: %s", strerror(errno));
	rc = rfs_xprt_adopt(m->k->x, m->afd, &m->rc);
	CHECK(rc == 0, "midframe adopt: %s", strerror(-rc));
	ok = true;
out:
	if (lfd >= 0)
		close(lfd);
	return ok;
}

/*
 * One dead peer: after `warm` whole frames of frame_len bytes, it sends
 * `part` bytes of one more and dies (FIN, or RST when rst).  The
 * transport must deliver the whole frames, then CONN_DOWN -ECONNRESET,
 * and nothing of the partial frame.  Returns the bytes the transport
 * copied in user space for the partial frame, or -1.
 */
static long long mf_one(struct client *k, uint32_t frame_len, unsigned warm,
			uint32_t part, bool rst)
{
	struct midframe m = { .k = k };
	struct rfs_xprt_stats s0, s1;
	struct rfs_buf *b = NULL;
	long long copied = -1;

	if (!mf_open(&m))
		goto out;
	b = make_frame(k->x, RFS_OP_WRITE, 7, frame_len - RFS_HDR_SIZE);
	if (!b)
		goto out;
	for (unsigned i = 0; i < warm; i++)
		if (!mf_push(&m, b->data, frame_len))
			goto out;
	while (m.frames < warm && m.down == 1)
		if (!mf_step(&m))
			goto out;
	CHECK(m.frames == warm && m.down == 1,
	      "midframe: %u of %u frames, "
	      "down %d",
	      m.frames, warm, m.down);
	rfs_xprt_get_stats(k->x, &s0);
	if (!mf_push(&m, b->data, part))
		goto out;
	rfs_xprt_get_stats(k->x, &s1);
	if (rst) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		CHECK(setsockopt(m.wfd, SOL_SOCKET, SO_LINGER, &lg,
				 sizeof(lg)) == 0,
		      "SO_LINGER: %s", strerror(errno));
	}
	close(m.wfd);
	m.wfd = -1;
	while (m.down == 1)
		if (!mf_step(&m))
			goto out;
	CHECK(m.down == -ECONNRESET && m.frames == warm,
	      "midframe: frame %u, %u of it then %s: down %d (%s), "
	      "%u frames, want -ECONNRESET after %u",
	      frame_len, part, rst ? "RST" : "FIN", m.down, strerror(-m.down),
	      m.frames, warm);
	copied = (long long)(s1.copies_bytes - s0.copies_bytes);
out:
	if (b)
		rfs_xprt_buf_put(k->x, b);
	if (m.rc && m.down != 1)
		rfs_xprt_conn_free(m.rc);
	else if (m.rc)
		FAIL("midframe: connection left up");
	if (m.wfd >= 0)
		close(m.wfd);
	return copied;
}

static int case_midframe(struct client *k)
{
	/* around the in-place receive threshold (uring: 64 KiB) */
	const uint32_t sizes[] = { 65535, 65536, 65537, 1u << 20 };
	bool uring = !strcmp(cli_name, "uring");
	uint64_t id = 1;

	for (unsigned i = 0; i < 4; i++) {
		for (unsigned v = 0; v < 4; v++) {
			bool rst = v & 1;
			unsigned warm = v >> 1; /* 0: fresh connection */
			uint32_t part = sizes[i] - 1 - 4096 * v;
			long long cp = mf_one(k, sizes[i], warm, part, rst);

			if (cp < 0)
				return -1;
			/*
			 * After one large frame the uring transport reads
			 * at most one ring buffer (32 KiB) of the next one
			 * before receiving the rest in place.
			 */
			if (uring && warm && sizes[i] >= 65536 &&
			    cp > (long long)(32u << 10) + RFS_HDR_SIZE) {
				FAIL("midframe: %lld bytes of a %u-byte "
				     "partial frame copied",
				     cp, part);
				return -1;
			}
			/* the main connection still works */
			if (!round_trip(k, RFS_OP_PING, id++, 100, false))
				return -1;
		}
	}
	return drain_notify(k) ? 0 : -1;
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
		long long left = (deadline_ns - rfs_now_ns()) / 1000000;

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

#if HAVE_SHM
/* ---- shm: hostile peers ------------------------------------------------ */

enum shm_bad {
	SB_VERSION, /* setup: unknown version */
	SB_SHORT,   /* setup: region smaller than announced */
	SB_PIPE,    /* setup: a pipe instead of a memfd */
	SB_SLOT,    /* ring: descriptor names no slot */
	SB_LEN,	    /* ring: length beyond the slot's class */
	SB_MAGIC,   /* ring: a frame with a bad magic */
	SB_RING,    /* ring: producer index far past the ring */
	SB_TRUNC,   /* ring: header length disagrees with descriptor */
	SB_RET,	    /* return ring: a slot the server never sent */
	SB_TWICE,   /* ring: the same slot published twice */
	SHM_NBAD
};

static const int shm_bad_want[SHM_NBAD] = {
	-EPROTONOSUPPORT, -EINVAL, -EINVAL, -EPROTO, -EPROTO,
	-EBADMSG,	  -EPROTO, -EPROTO, -EPROTO, -EPROTO,
};

/* Wait until the server closes fd (EOF or reset). */
static bool wait_closed(int fd)
{
	char tmp[64];

	for (;;) {
		long long left = (deadline_ns - rfs_now_ns()) / 1000000;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int rc;

		if (left <= 0) {
			FAIL("server never closed a hostile shm peer");
			return false;
		}
		rc = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (rc < 0 && errno != EINTR) {
			FAIL("poll: %s", strerror(errno));
			return false;
		}
		if (rc <= 0)
			continue;
		n = read(fd, tmp, sizeof(tmp));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			FAIL("read: %s", strerror(errno));
			return false;
		}
	}
}

static void put_frame(uint8_t *slot, uint32_t magic, uint32_t len)
{
	struct rfs_hdr h;

	memset(&h, 0, sizeof(h));
	h.magic = magic;
	h.major = RFS_PROTO_MAJOR;
	h.opcode = RFS_OP_PING;
	h.id = 77;
	h.len = len;
	memcpy(slot, &h, sizeof(h));
	memset(slot + sizeof(h), 0x5a, 64);
}

/* One hostile connection doing `bad`; true when the server dropped it. */
static bool shm_hostile(enum shm_bad bad)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct rfs_shm_setup s = {
		.magic = RFS_SHM_MAGIC,
		.version = RFS_SHM_VERSION,
		.max_msg = RFS_MSG_MAX_DEFAULT,
		.ring = 128,
		.nslots = { 64, 4, 2 },
	};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	struct rfs_shm_layout l;
	struct rfs_shm_ack ack;
	struct iovec iov;
	struct msghdr m;
	int fd = -1, memfd = -1, efd = -1, sefd = -1, pfd[2] = { -1, -1 };
	uint8_t *map = NULL;
	bool ok = false;
	uint64_t one = 1;

	CHECK(rfs_shm_layout(&s, &l) == 0, "hostile layout");
	s.region_size = l.size;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", unix_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0, "socket: %s", strerror(errno));
	CHECK(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	      "connect: %s", strerror(errno));
	memfd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(memfd >= 0, "memfd_create: %s", strerror(errno));
	CHECK(ftruncate(memfd,
			(off_t)(bad == SB_SHORT ? l.size / 2 : l.size)) == 0,
	      "ftruncate: %s", strerror(errno));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(efd >= 0, "eventfd: %s", strerror(errno));
	CHECK(pipe(pfd) == 0, "pipe: %s", strerror(errno));
	if (bad == SB_VERSION)
		s.version = 99;

	memset(&cm, 0, sizeof(cm));
	iov = (struct iovec){ .iov_base = &s, .iov_len = sizeof(s) };
	m = (struct msghdr){ .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.b,
			     .msg_controllen = CMSG_SPACE(2 * sizeof(int)) };
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(&cm.h),
	       (int[2]){ bad == SB_PIPE ? pfd[0] : memfd, efd },
	       2 * sizeof(int));
	CHECK(sendmsg(fd, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(s),
	      "sendmsg setup: %s", strerror(errno));

	memset(&cm, 0, sizeof(cm));
	iov = (struct iovec){ .iov_base = &ack, .iov_len = sizeof(ack) };
	m = (struct msghdr){ .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	CHECK(recvmsg(fd, &m, MSG_CMSG_CLOEXEC) == (ssize_t)sizeof(ack),
	      "recvmsg ack: %s", strerror(errno));
	CHECK(ack.magic == RFS_SHM_ACK_MAGIC, "ack magic %#x", ack.magic);
	if (bad <= SB_PIPE) {
		CHECK(ack.status == shm_bad_want[bad],
		      "hostile setup %d answered %d", bad, ack.status);
		ok = wait_closed(fd);
		goto out;
	}
	CHECK(ack.status == 0 && CMSG_FIRSTHDR(&m), "ack %d", ack.status);
	memcpy(&sefd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	/* the server sealed our region: it can no longer shrink */
	CHECK(ftruncate(memfd, 4096) < 0 && errno == EPERM,
	      "region not sealed against shrinking");
	map = mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	CHECK(map != MAP_FAILED, "mmap: %s", strerror(errno));
	{
		struct rfs_shm_ctl *ctl = (void *)map;
		struct rfs_shm_desc *d = (void *)(map + l.desc_off[0]);
		uint32_t *ret = (void *)(map + l.ret_off[1]);
		uint8_t *slab = map + l.slab_off[0];
		uint32_t head = 1;

		switch (bad) {
		case SB_SLOT:
			d[0] = (struct rfs_shm_desc){ l.nslots, 64 };
			break;
		case SB_LEN:
			put_frame(slab, RFS_MAGIC, 4096);
			d[0] = (struct rfs_shm_desc){ 0, 4096 + 48 };
			break;
		case SB_MAGIC:
			put_frame(slab, 0xdeadbeef, 16);
			d[0] = (struct rfs_shm_desc){ 0, 64 };
			break;
		case SB_RING:
			head = l.ring + 5;
			break;
		case SB_TRUNC:
			put_frame(slab, RFS_MAGIC, 100);
			d[0] = (struct rfs_shm_desc){ 0, 64 };
			break;
		case SB_RET:
			head = 0;
			ret[0] = 3;
			atomic_store_explicit(&ctl->rhead[1].v, 1,
					      memory_order_release);
			break;
		case SB_TWICE:
			put_frame(slab, RFS_MAGIC, 16);
			d[0] = d[1] = (struct rfs_shm_desc){ 0, 64 };
			head = 2;
			break;
		default:
			break;
		}
		atomic_store_explicit(&ctl->head[0].v, head,
				      memory_order_release);
	}
	CHECK(write(sefd, &one, sizeof(one)) == sizeof(one), "wake server: %s",
	      strerror(errno));
	ok = wait_closed(fd);
out:
	if (map && map != MAP_FAILED)
		munmap(map, l.size);
	for (int i = 0; i < 2; i++)
		if (pfd[i] >= 0)
			close(pfd[i]);
	if (sefd >= 0)
		close(sefd);
	if (efd >= 0)
		close(efd);
	if (memfd >= 0)
		close(memfd);
	if (fd >= 0)
		close(fd);
	return ok;
}

static int shm_badframe(struct client *k, uint64_t id)
{
	for (int bad = 0; bad < SHM_NBAD; bad++) {
		if (!shm_hostile((enum shm_bad)bad))
			return -1;
		/* the good connection keeps working */
		if (!round_trip(k, RFS_OP_PING, id++, 100 + 1000 * bad,
				bad & 1))
			return -1;
	}
	return drain_notify(k) ? 0 : -1;
}
#endif /* HAVE_SHM */

static int case_badframe(struct client *k)
{
	uint8_t junk[4096];
	struct rfs_hdr h;
	uint64_t id = 1;

	if (!round_trip(k, RFS_OP_PING, id++, 16, false))
		return -1;
#if HAVE_SHM
	if (use_unix)
		return shm_badframe(k, id);
#endif

	memset(junk, 0xa5, sizeof(junk));
	if (!raw_bad(junk, RFS_HDR_SIZE)) /* bad magic */
		return -1;
	if (!round_trip(k, RFS_OP_PING, id++, 16, false))
		return -1;

	memset(&h, 0, sizeof(h));
	h.magic = RFS_MAGIC;
	h.major = RFS_PROTO_MAJOR;
	h.opcode = RFS_OP_PING;
	h.len = RFS_MSG_MAX_DEFAULT; /* header + this > max_msg */
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
	char as[160];
	int rc;

	rfs_xprt_params_default(&prm);
	rc = rfs_xprt_open(cli_name, &prm, &k->x);
	CHECK(rc == 0, "client open %s: %s", cli_name, strerror(-rc));
	k->p.x = k->x;
	k->p.extra_fd = -1;
	if (use_unix)
		snprintf(as, sizeof(as), "unix:%s", unix_path);
	else
		snprintf(as, sizeof(as), "%s:%u", test_addr, listen_port);
	rc = rfs_addr_parse(as, 0, &a);
	CHECK(rc == 0, "rfs_addr_parse(%s): %s", as, strerror(-rc));
	if (!strcmp(test_case, "refused")) {
		struct rfs_addr dead;

		/* nobody listens on closed_port: refused, nothing leaks */
		snprintf(as, sizeof(as), "%s:%u", test_addr, closed_port);
		rc = rfs_addr_parse(as, 0, &dead);
		CHECK(rc == 0, "rfs_addr_parse(%s): %s", as, strerror(-rc));
		rc = rfs_xprt_connect(k->x, &dead, 5000, &k->c);
		CHECK(rc == -ECONNREFUSED && !k->c,
		      "connect to a closed port: %d (%s)", rc, strerror(-rc));
	}
	if (!strcmp(test_case, "badtoken")) {
		rc = rfs_xprt_connect(k->x, &a, 5000, &k->c);
		CHECK(rc == -ECONNREFUSED && !k->c,
		      "connect with a wrong token: %d (%s)", rc, strerror(-rc));
	}
	rc = rfs_xprt_connect(k->x, &a, 5000, &k->c);
	CHECK(rc == 0, "rfs_xprt_connect: %s", strerror(-rc));
	CHECK(strlen(rfs_conn_desc(k->c)) > 0, "empty conn desc");

	if (!strcmp(test_case, "pingpong"))
		rc = case_pingpong(k);
	else if (!strcmp(test_case, "large"))
		rc = case_large(k);
	else if (!strcmp(test_case, "sleep"))
		rc = case_sleep(k);
	else if (!strcmp(test_case, "spinpoll"))
		rc = case_spinpoll(k);
	else if (!strcmp(test_case, "inflight"))
		rc = case_inflight(k);
	else if (!strcmp(test_case, "peerdeath"))
		rc = case_peerdeath(k);
	else if (!strcmp(test_case, "drain"))
		rc = case_drain(k);
	else if (!strcmp(test_case, "midframe"))
		rc = case_midframe(k);
	else if (is_readcase())
		rc = case_readpush(k);
	else if (!strcmp(test_case, "refused") ||
		 !strcmp(test_case, "badtoken"))
		rc = case_pingpong(k);
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
	       cli_name, srv_name, test_case, (unsigned long long)st.frames_out,
	       (unsigned long long)st.frames_in,
	       (unsigned long long)st.bytes_out,
	       (unsigned long long)st.bytes_in, (unsigned long long)st.syscalls,
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

/* ---- evil (rdma): hostile push messages ------------------------------- */

struct evil_mode {
	const char *name;  /* RINGFS_RDMA_TEST_EVIL=name */
	bool cli;	   /* the client misbehaves, the server is hurt */
	bool nopush;	   /* push refused (RINGFS_RDMA_TEST_NO_PUSH) */
	const char *log;   /* the victim's log line says this */
	const char *label; /* shown instead of name (another workload) */
	/* window modes: the server's WRITE is refused by the client's
	   device: the server goes down with this (else any error), the
	   client with any error (else -EPROTO), and `log2` is logged too */
	int other_status;
	bool victim_any;
	const char *log2;
	enum read_mode early; /* RM_FULL, or READ 3 is answered this way
				   with NOTIFY (RM_ERROR: inline, RM_NOTIFY:
				   pushed), and READ 6 is queued once that
				   reply is in the client's receive queue: it
				   takes cookie 2, not announced yet */
};

/*
 * The client's workload (evil_client_main) fixes where each mode fires:
 * PING 1 (the first request, the first reply), READ 2 never answered
 * (advertised as cookie 0), READ 3 of 64 KiB (cookie 1, its reply is
 * pushed), a 100000-byte WRITE 4 (an RMA frame), PING 5.  The rdma
 * transport has 64 advertisement slots: the out-of-range cookies are
 * 64 + 7 (WRITTEN), 64 + 3 (UNADV), 64 + 5 (ADV).
 */
static const struct evil_mode evil_modes[] = {
	{ "srv-written-range", false, false,
	  "WRITTEN for advertisement 71: out of range" },
	{ "srv-written-unadv", false, false,
	  "WRITTEN for advertisement 2: not advertised" },
	{ "srv-written-dup", false, false,
	  "WRITTEN for advertisement 1: not advertised" },
	{ "srv-written-long", false, false,
	  "WRITTEN for advertisement 1: 65585 bytes, outside [48, 65584 "
	  "advertised]" },
	{ "srv-written-short", false, false,
	  "WRITTEN for advertisement 1: 24 bytes, outside [48, 65584 "
	  "advertised]" },
	{ "srv-push-id", false, false,
	  "WRITTEN for advertisement 1: frame id 4099, advertised for "
	  "request 3" },
	{ "srv-push-notreply", false, false,
	  "WRITTEN for advertisement 1: frame 3 is not a reply" },
	{ "srv-unadv-range", false, false,
	  "UNADV of advertisement 67: out of range" },
	{ "srv-unadv-bogus", false, false,
	  "UNADV of advertisement 2: not advertised" },
	/* the next cookie, taken by a request still queued: without the
	   check, the UNADV freed its buffer and posting it crashed */
	{ "srv-unadv-bogus", false, false,
	  "UNADV of advertisement 2: not advertised yet", "srv-unadv-early",
	  .early = RM_ERROR },
	{ "srv-written-unadv", false, false,
	  "WRITTEN for advertisement 2: not advertised yet",
	  "srv-written-early", .early = RM_NOTIFY },
	{ "srv-adv", false, false, "ADV from the server" },
	{ "srv-nopush-unadv", false, true,
	  "push flags 0x4, but push was not negotiated" },
	{ "srv-nopush-written", false, true,
	  "WRITTEN where push was not negotiated" },
	/*
	 * Memory windows (issue: a server could write any large buffer of
	 * the client's, at any time): READ 3's window admits a WRITE into
	 * READ 3's buffer only; aimed at READ 2's buffer (whose canary must
	 * survive) or past its own end, the client's device refuses it.
	 */
	{ "srv-push-other", false, false,
	  "work request failed: remote access error", NULL, -EACCES, true,
	  "advertised buffer 0 canary intact" },
	{ "srv-push-past", false, false,
	  "work request failed: remote access error", NULL, -EACCES, true },
	{ "srv-push-stale", false, false,
	  "work request failed: remote access error", NULL, -EACCES, true },
	{ "srv-written-noinv", false, false,
	  "WRITTEN of advertisement 1 left its memory window" },
	{ "cli-adv-range", true, false, "ADV of cookie 69: out of range" },
	{ "cli-adv-dup", true, false, "ADV of cookie 0: still advertised" },
	{ "cli-adv-long", true, false, NULL /* evil_want */ },
	{ "cli-adv-short", true, false,
	  "ADV of cookie 0: 24 bytes, outside [48, " },
	{ "cli-adv-reply", true, false, "ADV of cookie 0 on a reply frame" },
	{ "cli-adv-rma", true, false,
	  "ADV on a message of type 2, not an inline frame" },
	{ "cli-unadv", true, false, "UNADV from the client" },
	{ "cli-written", true, false, "WRITTEN from the client" },
	{ "cli-nopush-adv", true, true,
	  "push flags 0x2, but push was not negotiated" },
};

#define EVIL_DOWN_S 20 /* per mode: both sides down by then */

struct evil_side {
	int status; /* its CONN_DOWN's */
	bool down;
	long long down_ms; /* after the workload was sent */
};

static struct evil_side evil_srv_side, evil_cli_side;
static long long evil_sent_ns;
static const struct evil_mode *evil_mode;
static atomic_bool evil_r3_done; /* early: the server's reply to READ 3
					   completed (it is in the client's
					   receive queue) */

/* early: READ 3 answered -EIO, sent with NOTIFY (a header: inline). */
static void evil_error_reply(struct server *s, struct rfs_conn *c,
			     const struct rfs_buf *rb)
{
	struct rfs_buf *nb = rfs_xprt_buf_get(s->x, RFS_HDR_SIZE);
	struct rfs_mb mb;
	int len, rc;

	if (!nb) {
		FAIL("evil server: buf_get");
		return;
	}
	rfs_mb_reply(&mb, nb->data, nb->cap, rb->data, -EIO);
	len = rfs_mb_finish(&mb, false);
	if (len < 0) {
		FAIL("evil server: rfs_mb_finish: %s", strerror(-len));
		rfs_xprt_buf_put(s->x, nb);
		return;
	}
	nb->len = (uint32_t)len;
	rc = rfs_xprt_send(c, nb, RFS_SEND_NOTIFY);
	if (rc && rc != -ENOTCONN)
		FAIL("evil server: send: %s", strerror(-rc));
}

static void *evil_server_main(void *arg)
{
	struct server *s = arg;
	struct rfs_xprt_params prm;
	struct rfs_xprt_stats st;
	struct pump p = { .extra_fd = s->lfd };
	int rc;

	rfs_xprt_params_default(&prm);
	prm.rdma_addr = test_addr;
	rc = rfs_xprt_open(srv_name, &prm, &s->x);
	CHECK(rc == 0, "server open %s: %s", srv_name, strerror(-rc));
	p.x = s->x;
	while (!evil_srv_side.down) {
		struct rfs_xev e;

		rc = pump_next(&p, &e);
		if (rc < 0) {
			FAIL("evil server: no CONN_DOWN before the deadline");
			break;
		}
		if (rc == 0) {
			p.extra_ready = false;
			if (s->nconn)
				FAIL("evil server: a second connection");
			else
				server_accept(s);
			continue;
		}
		switch (e.type) {
		case RFS_XEV_RECV: {
			const struct rfs_hdr *h = e.buf->data;

			if (evil_mode->early == RM_ERROR && h->id == 3)
				evil_error_reply(s, e.conn, e.buf);
			else if (h->opcode == RFS_OP_READ)
				server_read(s, e.conn, e.buf);
			else
				server_echo(s, e.conn, e.buf);
			rfs_xprt_buf_put(s->x, e.buf);
			break;
		}
		case RFS_XEV_SEND:
			if (evil_mode->early && !e.status &&
			    ((const struct rfs_hdr *)e.buf->data)->id == 3)
				atomic_store(&evil_r3_done, true);
			rfs_xprt_buf_put(s->x, e.buf);
			break;
		case RFS_XEV_CONN_DOWN:
			evil_srv_side.status = e.status;
			evil_srv_side.down = true;
			evil_srv_side.down_ms =
				(rfs_now_ns() - evil_sent_ns) / 1000000;
			rfs_xprt_conn_free(e.conn);
			break;
		}
	}
	rfs_xprt_get_stats(s->x, &st);
	if (st.bufs_out != 0)
		FAIL("evil server: %llu buffers still out after CONN_DOWN",
		     (unsigned long long)st.bufs_out);
out:
	if (s->x)
		rfs_xprt_close(s->x);
	s->x = NULL;
	return NULL;
}

/* A frame the client may be given: a correct reply to what it sent. */
static bool evil_check_recv(const struct rfs_buf *b)
{
	const struct rfs_hdr *h = b->data;

	if (b->len < RFS_HDR_SIZE) {
		FAIL("evil: a frame of %u bytes delivered", b->len);
		return false;
	}
	switch (h->id) {
	case 1:
	case 5:
		return check_reply(b, h->id, 100);
	case 3:
		return check_read_reply(b, 3, evil_mode->early, 65536);
	case 4:
		return check_reply(b, 4, 100000);
	case 6:
		return check_read_reply(b, 6, RM_FULL, 65536);
	default:
		FAIL("evil: a frame with id %llu delivered (flags %#x)",
		     (unsigned long long)h->id, h->flags);
		return false;
	}
}

static void *evil_client_main(void *arg)
{
	struct client *k = arg;
	struct rfs_xprt_params prm;
	struct rfs_xprt_stats st;
	struct rfs_addr a;
	struct rfs_buf *b;
	unsigned completed = 0;
	char as[160];
	int rc;

	k->notify_out = 0;
	rfs_xprt_params_default(&prm);
	rc = rfs_xprt_open(cli_name, &prm, &k->x);
	CHECK(rc == 0, "client open %s: %s", cli_name, strerror(-rc));
	k->p = (struct pump){ .x = k->x, .extra_fd = -1 };
	snprintf(as, sizeof(as), "%s:%u", test_addr, listen_port);
	rc = rfs_addr_parse(as, 0, &a);
	CHECK(rc == 0, "rfs_addr_parse(%s): %s", as, strerror(-rc));
	rc = rfs_xprt_connect(k->x, &a, 5000, &k->c);
	CHECK(rc == 0, "rfs_xprt_connect: %s", strerror(-rc));

	/* all queued before any progress: each send is accepted */
	CHECK(send_frame(k, RFS_OP_PING, 1, 100, true) &&
		      read_send(k, 2, RM_NONE, RFS_IO_MAX) &&
		      read_send(k, 3, evil_mode->early, 65536),
	      "evil: the workload was refused");
	if (evil_mode->early) {
		/*
		 * Post those, let the reply to READ 3 (and its hostile
		 * UNADV / WRITTEN) land without looking at it, then queue
		 * READ 6: it takes cookie 2, which the server names, but it
		 * is not announced until the next flush, after the receive
		 * queue has been read.
		 */
		rc = rfs_xprt_flush(k->x);
		CHECK(rc == 0, "flush: %s", strerror(-rc));
		while (!atomic_load(&evil_r3_done) && !expired())
			poll(NULL, 0, 1);
		CHECK(atomic_load(&evil_r3_done),
		      "evil: the reply to READ 3 never completed");
		CHECK(read_send(k, 6, RM_FULL, 65536),
		      "evil: READ 6 was refused");
	}
	CHECK(send_frame(k, RFS_OP_WRITE, 4, 100000, true) &&
		      send_frame(k, RFS_OP_PING, 5, 100, true),
	      "evil: the workload was refused");
	evil_sent_ns = rfs_now_ns();
	for (;;) {
		struct rfs_xev e;

		rc = pump_next(&k->p, &e);
		CHECK(rc > 0, "evil client: no CONN_DOWN before the deadline");
		if (e.type == RFS_XEV_RECV) {
			bool ok = evil_check_recv(e.buf);

			rfs_xprt_buf_put(k->x, e.buf);
			if (!ok)
				goto out;
		} else if (e.type == RFS_XEV_SEND) {
			completed++;
			rfs_xprt_buf_put(k->x, e.buf);
		} else {
			CHECK(e.conn == k->c, "CONN_DOWN for another conn");
			evil_cli_side.status = e.status;
			evil_cli_side.down = true;
			evil_cli_side.down_ms =
				(rfs_now_ns() - evil_sent_ns) / 1000000;
			break;
		}
	}
	CHECK(completed == k->notify_out,
	      "evil client: %u of %u NOTIFY sends completed by CONN_DOWN",
	      completed, k->notify_out);
	/* a dead connection refuses sends and takes the buffer back */
	b = make_frame(k->x, RFS_OP_PING, 6, 8);
	CHECK(b, "evil client: no buffer after CONN_DOWN");
	rc = rfs_xprt_send(k->c, b, RFS_SEND_NOTIFY);
	CHECK(rc == -ENOTCONN, "send on a dead conn: %d, want -ENOTCONN", rc);
	rfs_xprt_conn_free(k->c);
	k->c = NULL;
	/* nothing else comes, and every buffer is back (advertised ones) */
	{
		struct rfs_xev ev[4];

		rc = rfs_xprt_poll(k->x, ev, 4);
		CHECK(rc == 0, "evil client: %d events after conn_free", rc);
	}
	rfs_xprt_get_stats(k->x, &st);
	CHECK(st.bufs_out == 0, "evil client: %llu buffers still out",
	      (unsigned long long)st.bufs_out);
out:
	k->c = NULL;
	if (k->x)
		rfs_xprt_close(k->x);
	k->x = NULL;
	return NULL;
}

static bool evil_selected(const char *name)
{
	const char *sel = getenv("RFS_TEST_EVIL_MODES");
	size_t n = strlen(name);

	if (!sel || !*sel)
		return true;
	for (const char *p = sel; (p = strstr(p, name)); p += n)
		if ((p == sel || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

/*
 * stderr during a mode: a pipe whose reader copies everything to the real
 * stderr at once (a crash loses nothing already logged) and keeps it for
 * the checks.
 */
struct evil_tee {
	int rfd, out;
	size_t len;
	char buf[32768];
};

static void *evil_tee_main(void *arg)
{
	struct evil_tee *t = arg;
	char tmp[4096];

	for (;;) {
		ssize_t n = read(t->rfd, tmp, sizeof(tmp));
		size_t keep;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write(t->out, tmp, (size_t)n) < 0) {
			/* nothing better to do with it */
		}
		keep = sizeof(t->buf) - 1 - t->len;
		if (keep > (size_t)n)
			keep = (size_t)n;
		memcpy(t->buf + t->len, tmp, keep);
		t->len += keep;
	}
	t->buf[t->len] = 0;
	return NULL;
}

/* Run one mode with stderr captured; false on failure. */
static bool evil_one(const struct evil_mode *m, int lfd)
{
	static struct client cli;
	static struct evil_tee tee;
	const struct evil_side *victim, *other;
	const char *label = m->label ? m->label : m->name;
	const char *cap = tee.buf;
	pthread_t st, ct, tt;
	char want[160];
	int pfd[2], rc;
	bool ok;

	if (m->log)
		snprintf(want, sizeof(want), "%s", m->log);
	else /* cli-adv-long: the client's max_msg + 1 */
		snprintf(want, sizeof(want),
			 "ADV of cookie 0: %u bytes, outside [%u, %u]",
			 RFS_MSG_MAX_DEFAULT + 1, RFS_HDR_SIZE,
			 RFS_MSG_MAX_DEFAULT);
	evil_mode = m;
	atomic_store(&evil_r3_done, false);
	setenv("RINGFS_RDMA_TEST_EVIL", m->name, 1);
	if (m->nopush)
		setenv("RINGFS_RDMA_TEST_NO_PUSH", "passive", 1);
	else
		unsetenv("RINGFS_RDMA_TEST_NO_PUSH");
	memset(&srv, 0, sizeof(srv));
	srv.lfd = lfd;
	memset(&cli, 0, sizeof(cli));
	memset(&evil_srv_side, 0, sizeof(evil_srv_side));
	memset(&evil_cli_side, 0, sizeof(evil_cli_side));
	deadline_ns = rfs_now_ns() + EVIL_DOWN_S * 1000000000LL;

	fprintf(stderr, "---- evil %s (RINGFS_RDMA_TEST_EVIL=%s%s) ----\n",
		label, m->name,
		m->nopush ? ", RINGFS_RDMA_TEST_NO_PUSH=passive" : "");
	tee.len = 0;
	tee.buf[0] = 0;
	if (pipe2(pfd, O_CLOEXEC)) {
		FAIL("pipe2: %s", strerror(errno));
		return false;
	}
	tee.rfd = pfd[0];
	tee.out = dup(STDERR_FILENO);
	if (tee.out < 0 || dup2(pfd[1], STDERR_FILENO) < 0) {
		FAIL("capturing stderr: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		if (tee.out >= 0)
			close(tee.out);
		return false;
	}
	close(pfd[1]);
	rc = pthread_create(&tt, NULL, evil_tee_main, &tee);
	if (rc) {
		dup2(tee.out, STDERR_FILENO);
		close(tee.out);
		close(pfd[0]);
		FAIL("pthread_create: %s", strerror(rc));
		return false;
	}
	rc = pthread_create(&st, NULL, evil_server_main, &srv);
	if (!rc) {
		rc = pthread_create(&ct, NULL, evil_client_main, &cli);
		if (rc)
			atomic_store(&failed, 1);
		else
			pthread_join(ct, NULL);
		pthread_join(st, NULL);
	}
	/* the pipe's last writer goes: the reader sees EOF */
	dup2(tee.out, STDERR_FILENO);
	close(tee.out);
	pthread_join(tt, NULL);
	close(pfd[0]);
	if (rc)
		FAIL("pthread_create: %s", strerror(rc));

	victim = m->cli ? &evil_srv_side : &evil_cli_side;
	other = m->cli ? &evil_cli_side : &evil_srv_side;
	if (!victim->down ||
	    (m->victim_any ? victim->status >= 0 : victim->status != -EPROTO))
		FAIL("evil %s: the %s: %s %d (%s), want %s", label,
		     m->cli ? "server" : "client",
		     victim->down ? "down with" : "never down, status",
		     victim->status, strerror(-victim->status),
		     m->victim_any ? "an error" : "-EPROTO");
	if (!other->down || other->status >= 0 ||
	    (m->other_status && other->status != m->other_status))
		FAIL("evil %s: the misbehaving %s: %s %d, want %s", label,
		     m->cli ? "client" : "server",
		     other->down ? "down with" : "never down, status",
		     other->status,
		     m->other_status ? strerror(-m->other_status) : "an error");
	if (m->log2 && !strstr(cap, m->log2))
		FAIL("evil %s: no log line says \"%s\"", label, m->log2);
	{
		unsigned fired = 0;

		for (const char *q = cap; (q = strstr(q, "test hook: sending"));
		     q++)
			fired++;
		if (fired != 1)
			FAIL("evil %s: the hook fired %u times, want once",
			     label, fired);
	}
	if (!strstr(cap, want))
		FAIL("evil %s: no log line says \"%s\"", label, want);
	ok = !atomic_load(&failed);
	printf("evil %-19s %s: victim (%s) down %s after %lld ms, the other "
	       "%s after %lld ms\n",
	       label, ok ? "ok" : "FAILED", m->cli ? "server" : "client",
	       strerror(-victim->status), victim->down_ms,
	       strerror(-other->status), other->down_ms);
	fflush(stdout);
	return ok;
}

static int case_evil(int lfd)
{
	unsigned ran = 0;

	if (strcmp(cli_name, "rdma") || strcmp(srv_name, "rdma")) {
		printf("SKIP: evil is rdma to rdma\n");
		return 77;
	}
	for (unsigned i = 0; i < sizeof(evil_modes) / sizeof(evil_modes[0]);
	     i++) {
		if (!evil_selected(evil_modes[i].label ? evil_modes[i].label :
							 evil_modes[i].name))
			continue;
		ran++;
		if (!evil_one(&evil_modes[i], lfd))
			break;
	}
	unsetenv("RINGFS_RDMA_TEST_EVIL");
	unsetenv("RINGFS_RDMA_TEST_NO_PUSH");
	if (!ran)
		FAIL("RFS_TEST_EVIL_MODES selects no mode");
	return atomic_load(&failed) ? 1 : 0;
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
	rc = rfs_xprt_open("shm", &prm, &x);
	CHECK(rc == (rfs_xprt_is_built("shm") ? 0 : -ENOTSUP), "shm: %d", rc);
	if (x) {
		rfs_xprt_close(x);
		x = NULL;
	}
	CHECK(rfs_xprt_is_built("rdma") ||
		      rfs_xprt_open("rdma", &prm, &x) == -ENOTSUP,
	      "rdma");
	CHECK(rfs_xprt_is_built("tcp") && !rfs_xprt_is_built("nosuch") &&
		      !rfs_xprt_is_built(NULL),
	      "is_built");
	CHECK(strstr(rfs_xprt_built(), "tcp") != NULL, "built list");
	CHECK(rfs_xprt_is_built("uring") ==
		      (strstr(rfs_xprt_built(), "uring") != NULL),
	      "uring listed");
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

static int listen_unix(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	strcpy(unix_dir, "/tmp/xprt_test.XXXXXX");
	if (!mkdtemp(unix_dir))
		return -errno;
	snprintf(unix_path, sizeof(unix_path), "%s/sock", unix_dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", unix_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 16)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static int listen_lo(void)
{
	if (use_unix)
		return listen_unix();

	struct sockaddr_in sin = {
		.sin_family = AF_INET,
	};
	socklen_t len = sizeof(sin);
	int fd;

	if (inet_pton(AF_INET, test_addr, &sin.sin_addr) != 1)
		return -EINVAL;
	/* a port nobody listens on, for "refused": bound, never listening */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	closed_port = ntohs(sin.sin_port);
	closed_fd = fd;
	sin.sin_port = 0;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	listen_port = ntohs(sin.sin_port);
	return fd;
}

/*
 * The rdma fault-injection hooks exist only in a -Dtest_hooks=true build:
 * badtoken and evil rely on them everywhere, readpull where an end is an
 * RDMA transport (push is refused through RINGFS_RDMA_TEST_NO_PUSH).
 */
static bool needs_test_hooks(void)
{
	const struct rfs_xprt_desc *c = rfs_xprt_find(cli_name);
	const struct rfs_xprt_desc *s = rfs_xprt_find(srv_name);
	bool rdma = (c && (c->flags & RFS_XPRT_F_RDMA_ADDR)) ||
		    (s && (s->flags & RFS_XPRT_F_RDMA_ADDR));

	if (HAVE_TEST_HOOKS)
		return false;
	return !strcmp(test_case, "badtoken") || !strcmp(test_case, "evil") ||
	       (rdma && !strcmp(test_case, "readpull"));
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"pingpong", "large",	"inflight", "peerdeath", "badframe",
		"drain",    "registry", "refused",  "badtoken",	 "midframe",
		"readpush", "readpull", "evil",	    "sleep",	 "spinpoll"
	};
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
	if (needs_test_hooks()) {
		printf("SKIP: %s needs the rdma test hooks (RINGFS_RDMA_TEST_*):"
		       " this build has none (meson -Dtest_hooks=true)\n",
		       test_case);
		return 77;
	}
	if (getenv("RFS_TEST_ADDR"))
		test_addr = getenv("RFS_TEST_ADDR");
	if (!strcmp(test_case, "badtoken"))
		setenv("RINGFS_RDMA_TEST_BAD_TOKEN", "1", 1);
	if (!strcmp(test_case, "readpull"))
		setenv("RINGFS_RDMA_TEST_NO_PUSH", "passive", 1);
	deadline_ns = rfs_now_ns() + DEADLINE_S * 1000000000LL;
	use_unix = !strcmp(cli_name, "shm") || !strcmp(srv_name, "shm");
	if (strcmp(cli_name, "uring") && !strcmp(test_case, "spinpoll")) {
		printf("SKIP: spinpoll needs a uring client (a kernel ring "
		       "polled without syscalls)\n");
		return 77;
	}
	if (use_unix && !strcmp(test_case, "midframe")) {
		printf("SKIP: midframe needs a byte-stream client\n");
		return 77;
	}
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
	if (!strcmp(test_case, "evil")) {
		rc = case_evil(lfd);
		close(lfd);
		if (closed_fd >= 0)
			close(closed_fd);
		if (rc != 77)
			printf("%s %s evil: %s\n", cli_name, srv_name,
			       rc ? "FAILED" : "ok");
		return rc;
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
	if (use_unix) {
		unlink(unix_path);
		rmdir(unix_dir);
	}

	if (!strcmp(test_case, "badframe") && !atomic_load(&failed)) {
		static const int want_tcp[] = { -EBADMSG, -EMSGSIZE,
						-EPROTONOSUPPORT, -EBADMSG };
		const int *want = want_tcp;
		int nwant = 4;

#if HAVE_SHM
		if (use_unix) {
			want = shm_bad_want;
			nwant = SHM_NBAD;
		}
#endif
		if (srv.nbad != nwant)
			FAIL("server saw %d bad connections, want %d", srv.nbad,
			     nwant);
		for (int i = 0; i < srv.nbad && i < nwant; i++)
			if (srv.bad_status[i] != want[i])
				FAIL("bad connection %d: status %d (%s), "
				     "want %d (%s)",
				     i, srv.bad_status[i],
				     strerror(-srv.bad_status[i]), want[i],
				     strerror(-want[i]));
	}
	if (!strcmp(test_case, "badtoken") && !atomic_load(&failed) &&
	    (srv.nbad != 1 || srv.nconn != 1))
		FAIL("badtoken: server refused %d, accepted %d; want 1 and 1",
		     srv.nbad, srv.nconn);
	if (closed_fd >= 0)
		close(closed_fd);
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
