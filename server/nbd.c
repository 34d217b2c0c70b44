// SPDX-License-Identifier: MIT
/*
 * nbd: the NBD export of ringfsd (nbd.h says what and why).
 *
 * Wire format (all big-endian), from the NBD protocol document:
 *   server greeting  "NBDMAGIC" "IHAVEOPT" u16 handshake flags
 *   client flags     u32
 *   option           u64 IHAVEOPT, u32 option, u32 length, data
 *   option reply     u64 0x3e889045565a9, u32 option, u32 type, u32 len,
 *                    data
 *   request          u32 0x25609513, u16 flags, u16 type, u64 cookie,
 *                    u64 offset, u32 length, [data: WRITE]
 *   simple reply     u32 0x67446698, u32 error, u64 cookie, [data: READ]
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "nbd.h"
#include "server.h"
#include "spin.h"
#include "util.h"

#define NBD_MAGIC 0x4e42444d41474943ull	     /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC 0x49484156454f5054ull /* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x0003e889045565a9ull
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u

/* handshake flags (server) and client flags */
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES (1u << 1)

/* transmission flags */
#define NBD_FLAG_HAS_FLAGS (1u << 0)
#define NBD_FLAG_READ_ONLY (1u << 1)
#define NBD_FLAG_SEND_FLUSH (1u << 2)
#define NBD_FLAG_SEND_FUA (1u << 3)
#define NBD_FLAG_SEND_TRIM (1u << 5)
#define NBD_FLAG_CAN_MULTI_CONN (1u << 8)

/* options */
#define NBD_OPT_EXPORT_NAME 1
#define NBD_OPT_ABORT 2
#define NBD_OPT_LIST 3
#define NBD_OPT_STARTTLS 5
#define NBD_OPT_INFO 6
#define NBD_OPT_GO 7

/* option reply types */
#define NBD_REP_ACK 1u
#define NBD_REP_SERVER 2u
#define NBD_REP_INFO 3u
#define NBD_REP_ERR_UNSUP (0x80000000u + 1)
#define NBD_REP_ERR_POLICY (0x80000000u + 2)
#define NBD_REP_ERR_INVALID (0x80000000u + 3)
#define NBD_REP_ERR_UNKNOWN (0x80000000u + 6)

#define NBD_INFO_EXPORT 0
#define NBD_INFO_BLOCK_SIZE 3

/* commands and their flags */
#define NBD_CMD_READ 0
#define NBD_CMD_WRITE 1
#define NBD_CMD_DISC 2
#define NBD_CMD_FLUSH 3
#define NBD_CMD_TRIM 4
#define NBD_CMD_FLAG_FUA (1u << 0)

/* error values on the wire (not the host's errno) */
#define NBD_EPERM 1u
#define NBD_EIO 5u
#define NBD_ENOMEM 12u
#define NBD_EINVAL 22u
#define NBD_ENOSPC 28u
#define NBD_EOVERFLOW 75u

#define NBD_MAX_CONNS 64u
/* option data we read: an export name (<= 4096) and info requests */
#define NBD_OPT_MAX 8192u
/* options a connection may send before it must choose an export */
#define NBD_OPTS_PER_CONN 64u
/* largest READ/WRITE/TRIM: the kernel client sends up to 32 MiB */
#define NBD_REQ_MAX (32u << 20)
/* a connection's buffer: requests larger go through it in pieces */
#define NBD_BUF (1u << 20)
#define NBD_STACK (256u << 10)

struct nbd_export {
	struct rfs_export *e;
	int fd;
	int dfd; /* the same file O_DIRECT, or -1 where refused */
	uint64_t size;
};

/* requests aligned to this go through dfd (the page cache stays out) */
#define NBD_DIRECT_ALIGN 4096u

struct nbd_conn {
	int fd;
	pthread_t th;
	bool done; /* the thread finished: join it (under mu) */
	struct nbd_conn *next;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	char peer_text[80];
	const struct nbd_export *x; /* chosen export, in transmission */
	bool no_zeroes;
	char *buf; /* NBD_BUF bytes */
};

static struct {
	struct nbd_export ex[RFS_MAX_EXPORTS];
	unsigned nex;
	int lfd, stop_fd;
	bool started;
	pthread_t accept_th;
	pthread_mutex_t mu;
	struct nbd_conn *conns; /* under mu */
	unsigned nconns;	/* under mu */
	unsigned setup_ms, frame_ms, reply_ms;
} nbd = { .lfd = -1, .stop_fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER };

/* ---- socket I/O with deadlines ------------------------------------------ */

static long long deadline_in(unsigned ms)
{
	return ms ? rfs_now_ms() + ms : -1;
}

/* len bytes, or -ETIMEDOUT, -ECONNRESET (EOF), -errno */
static int rd(struct nbd_conn *c, void *buf, size_t len, long long deadline)
{
	char *p = buf;

	while (len) {
		ssize_t n;
		int rc = rfs_poll_until(c->fd, POLLIN, deadline);

		if (rc)
			return rc;
		n = recv(c->fd, p, len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int wrv(struct nbd_conn *c, struct iovec *iov, int iovcnt)
{
	long long deadline = deadline_in(nbd.reply_ms);
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };

	while (m.msg_iovlen) {
		ssize_t n;
		int rc = rfs_poll_until(c->fd, POLLOUT, deadline);

		if (rc)
			return rc;
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		while (m.msg_iovlen && (size_t)n >= m.msg_iov->iov_len) {
			n -= (ssize_t)m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (m.msg_iovlen) {
			m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + n;
			m.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int wr(struct nbd_conn *c, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	return wrv(c, &iov, 1);
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return be16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

/* ---- handshake ---------------------------------------------------------- */

static int opt_reply(struct nbd_conn *c, uint32_t opt, uint32_t type,
		     const void *data, uint32_t len)
{
	uint8_t h[20];
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)data, len } };

	put64(h, NBD_REP_MAGIC);
	put32(h + 8, opt);
	put32(h + 12, type);
	put32(h + 16, len);
	return wrv(c, iov, len ? 2 : 1);
}

/* a client's name for a log line: at most 64 bytes, printable */
static const char *shown(const uint8_t *d, uint32_t len, char out[68])
{
	uint32_t n = len > 64 ? 64 : len;

	for (uint32_t i = 0; i < n; i++)
		out[i] = d[i] >= 0x20 && d[i] < 0x7f ? (char)d[i] : '?';
	out[n] = 0;
	return out;
}

/* the export named name[0..len), if it has an nbd= file; NULL if not */
static const struct nbd_export *find(const char *name, uint32_t len)
{
	for (unsigned i = 0; i < nbd.nex; i++) {
		const struct rfs_export *e = nbd.ex[i].e;

		if (strlen(e->name) == len && !memcmp(e->name, name, len))
			return &nbd.ex[i];
	}
	return NULL;
}

static bool allowed(const struct nbd_conn *c, const struct nbd_export *x)
{
	return rfs_export_allows(x->e, &c->peer, c->peerlen);
}

static uint16_t tflags(const struct nbd_export *x)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
		     NBD_FLAG_SEND_FUA | NBD_FLAG_CAN_MULTI_CONN;

	if (x->e->ro)
		f |= NBD_FLAG_READ_ONLY;
	else
		f |= NBD_FLAG_SEND_TRIM;
	return f;
}

static int opt_list(struct nbd_conn *c, uint32_t len)
{
	uint8_t d[4 + RFS_EXPORT_NAME_MAX];
	int rc;

	if (len)
		return opt_reply(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID, NULL, 0);
	for (unsigned i = 0; i < nbd.nex; i++) {
		size_t n = strlen(nbd.ex[i].e->name);

		if (!allowed(c, &nbd.ex[i]))
			continue;
		put32(d, (uint32_t)n);
		memcpy(d + 4, nbd.ex[i].e->name, n);
		rc = opt_reply(c, NBD_OPT_LIST, NBD_REP_SERVER, d,
			       (uint32_t)(4 + n));
		if (rc)
			return rc;
	}
	return opt_reply(c, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
}

/*
 * NBD_OPT_INFO / NBD_OPT_GO: u32 name length, name, u16 n, n x u16 info
 * requests.  1: GO accepted (transmission follows), 0: go on haggling,
 * -errno: close.
 */
static int opt_info_go(struct nbd_conn *c, uint32_t opt, const uint8_t *d,
		       uint32_t len)
{
	const struct nbd_export *x;
	bool want_bs = false;
	uint32_t nlen;
	uint16_t nreq;
	uint8_t r[18];
	int rc;

	if (len < 6 || (nlen = get32(d)) > len - 6)
		goto invalid;
	nreq = get16(d + 4 + nlen);
	if ((uint64_t)len != 6ull + nlen + 2ull * nreq)
		goto invalid;
	for (unsigned i = 0; i < nreq; i++)
		if (get16(d + 6 + nlen + 2 * i) == NBD_INFO_BLOCK_SIZE)
			want_bs = true;
	x = find((const char *)d + 4, nlen);
	if (!x) {
		char nb[68];

		rfs_info("nbd: %s: no NBD export '%s'", c->peer_text,
			 shown(d + 4, nlen, nb));
		return opt_reply(c, opt, NBD_REP_ERR_UNKNOWN, NULL, 0);
	}
	if (!allowed(c, x)) {
		rfs_warn("nbd: %s: refused on export %s (its net=/nolocal)",
			 c->peer_text, x->e->name);
		return opt_reply(c, opt, NBD_REP_ERR_POLICY, NULL, 0);
	}
	put16(r, NBD_INFO_EXPORT);
	put64(r + 2, x->size);
	put16(r + 10, tflags(x));
	rc = opt_reply(c, opt, NBD_REP_INFO, r, 12);
	if (!rc && want_bs) {
		/* byte granular; 4 KiB preferred; the request limit */
		put16(r, NBD_INFO_BLOCK_SIZE);
		put32(r + 2, 1);
		put32(r + 6, 4096);
		put32(r + 10, NBD_REQ_MAX);
		rc = opt_reply(c, opt, NBD_REP_INFO, r, 14);
	}
	if (!rc)
		rc = opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
	if (rc)
		return rc;
	if (opt == NBD_OPT_GO) {
		c->x = x;
		return 1;
	}
	return 0;
invalid:
	rfs_err_rl("nbd: %s: malformed option %u (length %u)", c->peer_text,
		   opt, len);
	return opt_reply(c, opt, NBD_REP_ERR_INVALID, NULL, 0);
}

/* NBD_OPT_EXPORT_NAME: no error reply exists, a refusal closes */
static int opt_export_name(struct nbd_conn *c, const uint8_t *d, uint32_t len)
{
	const struct nbd_export *x = find((const char *)d, len);
	uint8_t r[10 + 124];
	char nb[68];

	if (!x || !allowed(c, x)) {
		rfs_warn("nbd: %s: export '%s' %s", c->peer_text,
			 shown(d, len, nb),
			 x ? "refused (its net=/nolocal)" : "unknown");
		return -EPERM;
	}
	memset(r, 0, sizeof(r));
	put64(r, x->size);
	put16(r + 8, tflags(x));
	c->x = x;
	return wr(c, r, c->no_zeroes ? 10 : sizeof(r));
}

/* 0: an export chosen (c->x); -errno: close */
static int handshake(struct nbd_conn *c)
{
	long long deadline = deadline_in(nbd.setup_ms);
	uint8_t g[18], h[16], *d = (uint8_t *)c->buf;
	uint32_t cflags;
	int rc;

	put64(g, NBD_MAGIC);
	put64(g + 8, NBD_OPTS_MAGIC);
	put16(g + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	rc = wr(c, g, sizeof(g));
	if (!rc)
		rc = rd(c, g, 4, deadline);
	if (rc)
		return rc;
	cflags = get32(g);
	if (!(cflags & NBD_FLAG_C_FIXED_NEWSTYLE) ||
	    (cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))) {
		rfs_err_rl("nbd: %s: client flags %#x: only fixed newstyle "
			   "(and no-zeroes) is spoken here",
			   c->peer_text, cflags);
		return -EPROTO;
	}
	c->no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
	for (unsigned n = 0; n < NBD_OPTS_PER_CONN; n++) {
		uint32_t opt, len;

		rc = rd(c, h, sizeof(h), deadline);
		if (rc)
			return rc;
		opt = get32(h + 8);
		len = get32(h + 12);
		if (get64(h) != NBD_OPTS_MAGIC || len > NBD_OPT_MAX) {
			rfs_err_rl("nbd: %s: %s (option %u, length %u): "
				   "closing",
				   c->peer_text,
				   len > NBD_OPT_MAX ? "option too long" :
						       "bad option magic",
				   opt, len);
			return -EPROTO;
		}
		rc = rd(c, d, len, deadline);
		if (rc)
			return rc;
		switch (opt) {
		case NBD_OPT_EXPORT_NAME:
			return opt_export_name(c, d, len);
		case NBD_OPT_ABORT:
			opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
			return -ECONNABORTED;
		case NBD_OPT_LIST:
			rc = opt_list(c, len);
			break;
		case NBD_OPT_INFO:
		case NBD_OPT_GO:
			rc = opt_info_go(c, opt, d, len);
			if (rc == 1)
				return 0;
			break;
		default: /* STARTTLS too: no TLS here (nbd.h) */
			rc = opt_reply(c, opt, NBD_REP_ERR_UNSUP, NULL, 0);
			break;
		}
		if (rc)
			return rc;
	}
	rfs_err_rl("nbd: %s: %u options without choosing an export: closing",
		   c->peer_text, NBD_OPTS_PER_CONN);
	return -EPROTO;
}

/* ---- transmission ------------------------------------------------------- */

static uint32_t nbd_err(int err)
{
	switch (err) {
	case EPERM:
	case EROFS:
	case EACCES:
		return NBD_EPERM;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case ENOMEM:
		return NBD_ENOMEM;
	case EINVAL:
		return NBD_EINVAL;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	default:
		return NBD_EIO;
	}
}

static int reply(struct nbd_conn *c, uint64_t cookie, uint32_t err)
{
	uint8_t r[16];

	put32(r, NBD_SIMPLE_REPLY_MAGIC);
	put32(r + 4, err);
	put64(r + 8, cookie);
	return wr(c, r, sizeof(r));
}

static bool in_range(const struct nbd_export *x, uint64_t off, uint32_t len)
{
	return off <= x->size && len <= x->size - off;
}

/*
 * The fd for a transfer: O_DIRECT when offset and length are aligned
 * (a swap device's are: its pages do not also fill ringfsd's page
 * cache, which on a host short of memory is what a swap-out must not
 * need), else the buffered one.
 */
static int io_fd(const struct nbd_export *x, uint64_t off, size_t len)
{
	if (x->dfd >= 0 && !(off % NBD_DIRECT_ALIGN) &&
	    !(len % NBD_DIRECT_ALIGN))
		return x->dfd;
	return x->fd;
}

/* pread all of len, a short read (the file shrank) is EIO: 0 / -errno */
static int pread_full(int fd, char *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const char *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int cmd_read(struct nbd_conn *c, uint64_t cookie, uint64_t off,
		    uint32_t len)
{
	uint8_t r[16];
	struct iovec iov[2] = { { r, sizeof(r) }, { c->buf, 0 } };
	bool first = true;
	int rc;

	if (!len || len > NBD_REQ_MAX || !in_range(c->x, off, len))
		return reply(c, cookie, NBD_EINVAL);
	while (len) {
		uint32_t n = len < NBD_BUF ? len : NBD_BUF;

		rc = pread_full(io_fd(c->x, off, n), c->buf, n, off);
		if (rc && first) {
			rfs_err_rl("nbd: export %s: read %u at %llu: %s",
				   c->x->e->name, n, (unsigned long long)off,
				   strerror(-rc));
			return reply(c, cookie, nbd_err(-rc));
		}
		/* the reply's header is out: an error now can only close */
		if (rc) {
			rfs_err_rl("nbd: export %s: read at %llu: %s; closing "
				   "%s",
				   c->x->e->name, (unsigned long long)off,
				   strerror(-rc), c->peer_text);
			return rc;
		}
		iov[1].iov_len = n;
		if (first) {
			put32(r, NBD_SIMPLE_REPLY_MAGIC);
			put32(r + 4, 0);
			put64(r + 8, cookie);
			rc = wrv(c, iov, 2);
		} else {
			rc = wrv(c, iov + 1, 1);
		}
		if (rc)
			return rc;
		first = false;
		off += n;
		len -= n;
	}
	return 0;
}

static int cmd_write(struct nbd_conn *c, uint64_t cookie, uint16_t flags,
		     uint64_t off, uint32_t len)
{
	long long deadline = deadline_in(nbd.frame_ms);
	uint32_t err = 0;
	int rc;

	/* the payload follows whatever we answer: too big to skip, close */
	if (len > NBD_REQ_MAX) {
		rfs_err_rl("nbd: %s: WRITE of %u bytes (limit %u): closing",
			   c->peer_text, len, NBD_REQ_MAX);
		return -EPROTO;
	}
	if (c->x->e->ro)
		err = NBD_EPERM;
	else if (!in_range(c->x, off, len))
		err = NBD_ENOSPC;
	while (len) {
		uint32_t n = len < NBD_BUF ? len : NBD_BUF;

		rc = rd(c, c->buf, n, deadline);
		if (rc)
			return rc;
		if (!err) {
			rc = pwrite_full(io_fd(c->x, off, n), c->buf, n, off);
			if (rc) {
				rfs_err_rl("nbd: export %s: write %u at %llu: "
					   "%s",
					   c->x->e->name, n,
					   (unsigned long long)off,
					   strerror(-rc));
				err = nbd_err(-rc);
			}
		}
		off += n;
		len -= n;
	}
	if (!err && (flags & NBD_CMD_FLAG_FUA) && fdatasync(c->x->fd) < 0) {
		rfs_err_rl("nbd: export %s: fdatasync: %s", c->x->e->name,
			   strerror(errno));
		err = nbd_err(errno);
	}
	return reply(c, cookie, err);
}

static int cmd_flush(struct nbd_conn *c, uint64_t cookie)
{
	if (fdatasync(c->x->fd) == 0)
		return reply(c, cookie, 0);
	rfs_err_rl("nbd: export %s: fdatasync: %s", c->x->e->name,
		   strerror(errno));
	return reply(c, cookie, nbd_err(errno));
}

/*
 * TRIM: the range's data is dropped but its blocks stay allocated
 * (FALLOC_FL_ZERO_RANGE): a swap device's later writes must not find the
 * file system full.  Where the file system cannot, TRIM does nothing,
 * which the protocol allows.
 */
static int cmd_trim(struct nbd_conn *c, uint64_t cookie, uint16_t flags,
		    uint64_t off, uint32_t len)
{
	if (c->x->e->ro)
		return reply(c, cookie, NBD_EPERM);
	if (!in_range(c->x, off, len))
		return reply(c, cookie, NBD_EINVAL);
	if (len &&
	    fallocate(c->x->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0 &&
	    errno != EOPNOTSUPP) {
		rfs_err_rl("nbd: export %s: trim %u at %llu: %s", c->x->e->name,
			   len, (unsigned long long)off, strerror(errno));
		return reply(c, cookie, nbd_err(errno));
	}
	if ((flags & NBD_CMD_FLAG_FUA) && fdatasync(c->x->fd) < 0)
		return reply(c, cookie, nbd_err(errno));
	return reply(c, cookie, 0);
}

/* requests until DISC (0) or an error that closes (-errno) */
static int transmission(struct nbd_conn *c)
{
	for (;;) {
		uint8_t q[28];
		uint16_t flags, type;
		uint64_t cookie, off;
		uint32_t len;
		int rc;

		/* idle between requests is fine; inside one, bounded */
		rc = rd(c, q, 1, -1);
		if (!rc)
			rc = rd(c, q + 1, sizeof(q) - 1,
				deadline_in(nbd.frame_ms));
		if (rc)
			return rc;
		if (get32(q) != NBD_REQUEST_MAGIC) {
			rfs_err_rl("nbd: %s: bad request magic %#x: closing",
				   c->peer_text, get32(q));
			return -EPROTO;
		}
		flags = get16(q + 4);
		type = get16(q + 6);
		cookie = get64(q + 8);
		off = get64(q + 16);
		len = get32(q + 24);
		if (type == NBD_CMD_WRITE) {
			rc = cmd_write(c, cookie, flags, off, len);
		} else if (flags & ~NBD_CMD_FLAG_FUA) {
			rc = reply(c, cookie, NBD_EINVAL);
		} else if (type == NBD_CMD_READ) {
			rc = cmd_read(c, cookie, off, len);
		} else if (type == NBD_CMD_FLUSH) {
			rc = cmd_flush(c, cookie);
		} else if (type == NBD_CMD_TRIM) {
			rc = cmd_trim(c, cookie, flags, off, len);
		} else if (type == NBD_CMD_DISC) {
			return 0;
		} else {
			rfs_err_rl("nbd: %s: unknown command %u", c->peer_text,
				   type);
			rc = reply(c, cookie, NBD_EINVAL);
		}
		if (rc)
			return rc;
	}
}

static void *conn_main(void *arg)
{
	struct nbd_conn *c = arg;
	int rc;

	rc = handshake(c);
	if (!rc) {
		rfs_info("nbd: %s: serving export %s (%llu bytes%s)",
			 c->peer_text, c->x->e->name,
			 (unsigned long long)c->x->size,
			 c->x->e->ro ? ", read-only" : "");
		rc = transmission(c);
		rfs_info("nbd: %s: export %s: %s", c->peer_text, c->x->e->name,
			 !rc		   ? "disconnected" :
			 rc == -ECONNRESET ? "connection closed" :
					     strerror(-rc));
	} else if (rc != -ECONNRESET && rc != -ECONNABORTED) {
		rfs_info("nbd: %s: handshake: %s", c->peer_text, strerror(-rc));
	}
	/* the peer sees the end now; the fd is closed when reaped */
	pthread_mutex_lock(&nbd.mu);
	if (shutdown(c->fd, SHUT_RDWR) < 0 && errno != ENOTCONN)
		rfs_warn("nbd: shutdown %s: %s", c->peer_text, strerror(errno));
	c->done = true;
	pthread_mutex_unlock(&nbd.mu);
	return NULL;
}

/* ---- listener ----------------------------------------------------------- */

static void conn_free(struct nbd_conn *c)
{
	if (close(c->fd) < 0)
		rfs_warn("nbd: close connection %s: %s", c->peer_text,
			 strerror(errno));
	free(c->buf);
	free(c);
}

/* join the connections whose thread ended (all of them: when stopping) */
static void reap(bool all)
{
	struct nbd_conn **pp, *c;

	pthread_mutex_lock(&nbd.mu);
	pp = &nbd.conns;
	while ((c = *pp)) {
		if (!all && !c->done) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		nbd.nconns--;
		if (!c->done && shutdown(c->fd, SHUT_RDWR) < 0 &&
		    errno != ENOTCONN)
			rfs_warn("nbd: shutdown %s: %s", c->peer_text,
				 strerror(errno));
		pthread_mutex_unlock(&nbd.mu);
		pthread_join(c->th, NULL);
		conn_free(c);
		pthread_mutex_lock(&nbd.mu);
		pp = &nbd.conns;
	}
	pthread_mutex_unlock(&nbd.mu);
}

static void conn_start(int fd, const struct sockaddr_storage *peer,
		       socklen_t peerlen)
{
	struct nbd_conn *c = calloc(1, sizeof(*c));
	pthread_attr_t at;
	int one = 1, rc;

	if (!c || posix_memalign((void **)&c->buf, NBD_DIRECT_ALIGN, NBD_BUF)) {
		rfs_err_rl("nbd: new connection: out of memory");
		goto fail;
	}
	c->fd = fd;
	c->peer = *peer;
	c->peerlen = peerlen;
	if (peer->ss_family == AF_UNIX)
		snprintf(c->peer_text, sizeof(c->peer_text), "unix peer");
	else
		rfs_addr_fmt((const struct sockaddr *)peer, peerlen,
			     c->peer_text, sizeof(c->peer_text));
	/* replies are whole messages: no Nagle delay (not TCP: ignored) */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, NBD_STACK);
	pthread_mutex_lock(&nbd.mu);
	rc = pthread_create(&c->th, &at, conn_main, c);
	if (!rc) {
		c->next = nbd.conns;
		nbd.conns = c;
		nbd.nconns++;
	}
	pthread_mutex_unlock(&nbd.mu);
	pthread_attr_destroy(&at);
	if (!rc)
		return;
	rfs_err_rl("nbd: %s: cannot start a thread: %s", c->peer_text,
		   strerror(rc));
fail:
	if (c)
		free(c->buf);
	free(c);
	close(fd);
}

static void *accept_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = nbd.lfd, .events = POLLIN },
				       { .fd = nbd.stop_fd,
					 .events = POLLIN } };
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		unsigned n;
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rfs_err("nbd: poll: %s; the NBD listener stops",
				strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		reap(false);
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(nbd.lfd, (struct sockaddr *)&peer, &plen,
			     SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != EAGAIN &&
			    errno != ECONNABORTED)
				rfs_err_rl("nbd: accept: %s", strerror(errno));
			continue;
		}
		pthread_mutex_lock(&nbd.mu);
		n = nbd.nconns;
		pthread_mutex_unlock(&nbd.mu);
		if (n >= NBD_MAX_CONNS) {
			rfs_err_rl("nbd: %u connections: refusing another", n);
			close(fd);
			continue;
		}
		conn_start(fd, &peer, plen);
	}
}

static int open_export(struct nbd_export *x, struct rfs_export *e)
{
	struct open_how how = {
		.flags = (e->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	long fd;

	fd = syscall(SYS_openat2, e->root_fd, e->nbd_file, &how, sizeof(how));
	if (fd < 0) {
		rfs_err("nbd: export %s: open %s under %s: %s%s", e->name,
			e->nbd_file, e->path, strerror(errno),
			errno == EXDEV	? " (the path must stay inside the "
					  "export)" :
			errno == ENOENT ? " (create it first, e.g. fallocate "
					  "-l 1G FILE)" :
					  "");
		return -errno;
	}
	x->fd = (int)fd;
	x->e = e;
	if (fstat(x->fd, &st) < 0) {
		rfs_err("nbd: export %s: stat %s: %s", e->name, e->nbd_file,
			strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		rfs_err("nbd: export %s: %s must be a non-empty regular file",
			e->name, e->nbd_file);
		return -EINVAL;
	}
	x->size = (uint64_t)st.st_size;
	how.flags |= O_DIRECT;
	fd = syscall(SYS_openat2, e->root_fd, e->nbd_file, &how, sizeof(how));
	x->dfd = (int)fd;
	if (fd < 0)
		rfs_info("nbd: export %s: %s without O_DIRECT (%s): its data "
			 "goes through the page cache",
			 e->name, e->nbd_file, strerror(errno));
	if ((uint64_t)st.st_blocks * 512 < x->size)
		rfs_warn("nbd: export %s: %s has holes: writes may then find "
			 "the file system full; write it in full (dd "
			 "if=/dev/zero of=FILE bs=1M count=N)",
			 e->name, e->nbd_file);
	return 0;
}

static int nbd_listen(const char *text, char *bound, size_t boundsz)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct rfs_addr a;
	char tmp[sizeof(a.text) + 1];
	size_t len = strlen(text);
	int one = 1, fd, err;
	bool any_port = len > 2 && !strcmp(text + len - 2, ":0");

	/* port 0 (a free one): parse with 1, then clear it */
	if (len >= sizeof(tmp) - 1) {
		rfs_err("nbd-listen %s: too long", text);
		return -EINVAL;
	}
	memcpy(tmp, text, len + 1);
	if (any_port)
		tmp[len - 1] = '1';
	if (rfs_addr_parse(tmp, 0, &a)) {
		rfs_err("nbd-listen %s: bad address (host:port or unix:/path)",
			text);
		return -EINVAL;
	}
	if (any_port && a.ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a.ss)->sin_port = 0;
	else if (any_port && a.ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a.ss)->sin6_port = 0;
	if (!rfs_addr_is_loopback(&a) && !rfs_cfg.sec.insecure) {
		fprintf(stderr,
			"ringfsd: nbd-listen %s: NBD has no authentication "
			"(no TLS here): anyone who reaches it may use the "
			"nbd= exports that their net= admits; give "
			"--insecure to accept that, or listen on loopback\n",
			text);
		return -EPERM;
	}
	fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		rfs_err("nbd-listen %s: socket: %s", text, strerror(err));
		return -err;
	}
	if (a.ss.ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)&a.ss)->sun_path);
	else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		rfs_warn("nbd-listen %s: SO_REUSEADDR: %s", text,
			 strerror(errno));
	if (bind(fd, (struct sockaddr *)&a.ss, a.len) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		err = errno;
		fprintf(stderr, "ringfsd: nbd-listen %s: %s\n", text,
			strerror(err));
		close(fd);
		return -err;
	}
	if (a.ss.ss_family == AF_UNIX)
		snprintf(bound, boundsz, "%s", text);
	else
		rfs_addr_fmt((struct sockaddr *)&ss, sl, bound, boundsz);
	return fd;
}

int rfs_nbd_start(struct rfs_srv_cfg *c)
{
	char bound[128], list[512] = "";
	int rc;

	nbd.setup_ms = c->sec.setup_timeout_ms;
	nbd.frame_ms = c->sec.frame_timeout_ms;
	nbd.reply_ms = c->sec.reply_timeout_ms;
	for (unsigned i = 0; i < c->nexports; i++) {
		struct rfs_export *e = &c->exports[i];
		size_t used = strlen(list);

		if (!e->nbd_file)
			continue;
		if (!c->nbd_listen[0]) {
			rfs_err("nbd: export %s has nbd=%s but there is no "
				"--nbd-listen ADDR",
				e->name, e->nbd_file);
			rc = -EINVAL;
			goto fail;
		}
		nbd.ex[nbd.nex].fd = -1;
		nbd.ex[nbd.nex].dfd = -1;
		rc = open_export(&nbd.ex[nbd.nex], e);
		nbd.nex++;
		if (rc)
			goto fail;
		snprintf(list + used, sizeof(list) - used,
			 "%s%s=%s (%llu bytes%s)", used ? ", " : "", e->name,
			 e->nbd_file,
			 (unsigned long long)nbd.ex[nbd.nex - 1].size,
			 e->ro ? ", ro" : "");
	}
	if (!c->nbd_listen[0])
		return 0;
	if (!nbd.nex) {
		rfs_err("nbd-listen %s: no export has an nbd=FILE option",
			c->nbd_listen);
		rc = -EINVAL;
		goto fail;
	}
	nbd.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (nbd.stop_fd < 0) {
		rc = -errno;
		rfs_err("nbd: eventfd: %s", strerror(errno));
		goto fail;
	}
	nbd.lfd = nbd_listen(c->nbd_listen, bound, sizeof(bound));
	if (nbd.lfd < 0) {
		rc = nbd.lfd;
		goto fail;
	}
	rc = pthread_create(&nbd.accept_th, NULL, accept_main, NULL);
	if (rc) {
		rfs_err("nbd: cannot start the listener thread: %s",
			strerror(rc));
		rc = -rc;
		goto fail;
	}
	nbd.started = true;
	fprintf(stderr, "ringfsd: nbd: listening on %s, exports: %s\n", bound,
		list);
	fflush(stderr);
	return 0;
fail:
	rfs_nbd_stop();
	return rc;
}

void rfs_nbd_stop(void)
{
	uint64_t one = 1;

	if (nbd.started) {
		if (write(nbd.stop_fd, &one, sizeof(one)) != sizeof(one))
			rfs_err("nbd: waking the listener: %s",
				strerror(errno));
		else
			pthread_join(nbd.accept_th, NULL);
		nbd.started = false;
		reap(true);
	}
	if (nbd.lfd >= 0)
		close(nbd.lfd);
	if (nbd.stop_fd >= 0)
		close(nbd.stop_fd);
	nbd.lfd = nbd.stop_fd = -1;
	for (unsigned i = 0; i < nbd.nex; i++) {
		if (nbd.ex[i].fd >= 0)
			close(nbd.ex[i].fd);
		if (nbd.ex[i].dfd >= 0)
			close(nbd.ex[i].dfd);
	}
	nbd.nex = 0;
}
