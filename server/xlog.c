// SPDX-License-Identifier: MIT
/*
 * xlog: the reply log, what a session needs to get exactly-once answers
 * across a server restart (xlog.h has the whole picture).
 *
 * One file per session that negotiated RFS_FEAT_RESUME, made on its first
 * record: <state-dir>/replies/<session id>.log, mode 0600.  A header
 * (struct xlog_head: the session, a hash of its token, the session it
 * RESUMEd and that one's token hash, the export), then records (struct
 * xrec, then an INTENT's struct rfs_xpre or a RESULT's reply frame), each
 * with an XXH3-64 checksum, each appended with one writev(2) under the
 * session's lock.  A torn last record (the kill came mid-write) fails its
 * checksum and ends the log; a record that could not be written only
 * leaves its request without the guarantee.
 *
 * Durability: the crash this is for is a kill -9 of ringfsd, which the
 * page cache survives: no record is flushed.  --reply-log=sync
 * fdatasyncs every record (two flushes per request: INTENT and RESULT),
 * for machine crashes.
 *
 * Size: once the file grew by XLOG_REWRITE_BYTES since it was written, it
 * is written again from the session's duplicate-request cache, which
 * holds every record that still matters (the cache's bound is the log's:
 * the client's ids never say which replies it has seen).  The session's
 * end (BYE, grace over) removes it; the server's orderly exit keeps it.
 *
 * At start, the logs a previous server left are "dormant": RESUME with a
 * session's id and token, or with the id and token of the session that
 * one RESUMEd (the server may have died between RESUME's rewrite and its
 * reply), takes the newest matching log over.  Those nobody takes over
 * within the session grace period are removed.
 *
 * Shared (--reply-log-dir DIR, every gateway of one gluster volume with
 * the same DIR on shared storage: exactly once across a failover).  A
 * gateway owns the logs of its live sessions: it holds an OFD write lock
 * on each, taken on the new file before the rename that installs it, and
 * released with the file (the session's end, the gateway's exit or
 * death: the storage drops a dead client's locks).  RESUME looks the old
 * session's log up by name when it comes (the other gateway's sessions
 * were not there at start), or the newest log that RESUMEd it, and takes
 * it over only with its lock: a log another live gateway owns (its
 * session still in its grace period: alive, but cut off from the client)
 * is -EBUSY, and the client asks again later.  A session whose grace
 * period ends leaves its log (its client may be on another gateway);
 * every --session-grace, each gateway removes the logs nobody owns that
 * were not written for --session-grace.  Names are made from the 64-bit
 * ids here ("%016llx.log"), never from the client's bytes.
 *
 * Takeover fence (exports whose backend reaches the volume over the
 * network: gluster).  The lock fences the log, not the volume: a
 * gateway killed with an operation sent to the bricks (the INTENT
 * without RESULT a replay settles, or any other) leaves it in a brick's
 * queue, and it lands when the brick gets to it, possibly after the
 * successor looked at the volume.  A takeover (RESUME of another
 * gateway's log, or of the previous run's) is therefore answered EBUSY
 * (the client asks again, as for a log a live gateway owns) until
 * --takeover-fence ms have passed since this gateway first could take
 * it (shared: the dead owner's lock was gone; restart: the server
 * started): everything the dead one sent was sent before that.  A bound
 * on how long a brick holds a request, not a proof: a settle run's name
 * ops are judged again after EEXIST/ENOENT besides (xonce.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "authkey.h"
#include "log.h"
#include "server.h"
#include "spin.h"

#define XLOG_MAGIC "RFSXLOG1"
#define XREC_MAGIC 0x43455258u /* "XREC" */
#define XREC_INTENT 1
#define XREC_RESULT 2
#define XLOG_REWRITE_BYTES (1u << 20)
#define XLOG_LOAD_MAX (64u << 20)
#define HASH_LEN 32
#define NAME_LEN 32

struct xlog_head {
	char magic[8];
	uint64_t sess;
	uint8_t hash[HASH_LEN]; /* BLAKE2b of the session's token */
	uint64_t pred;		/* the session it RESUMEd, 0: none */
	uint8_t pred_hash[HASH_LEN];
	int64_t created_ns; /* CLOCK_REALTIME */
	char export[72];
	uint64_t csum; /* XXH3-64 of the above */
};
_Static_assert(sizeof(struct xlog_head) == 176, "xlog_head");

struct xrec {
	uint32_t magic;
	uint16_t kind; /* XREC_* */
	uint16_t op;
	uint32_t len; /* payload bytes */
	uint32_t pad;
	uint64_t sess; /* the session that ran it */
	uint64_t id;
	uint64_t csum; /* XXH3-64 of the payload, seeded with the rest's */
};
_Static_assert(sizeof(struct xrec) == 40, "xrec");

struct rfs_xlog {
	pthread_mutex_t mu;
	uint64_t sess;
	int fd;		/* -1: no file yet */
	uint64_t bytes; /* the file's size */
	uint64_t base;	/* its size when last written whole */
	uint64_t pred;	/* RESUMEd: that session and its token hash */
	uint8_t pred_hash[HASH_LEN];
};

struct dormant {
	struct xlog_head h;
	char name[NAME_LEN];
	struct dormant *next;
};

static struct {
	enum rfs_xlog_mode mode;
	int dfd; /* <state-dir>/replies */
	char dir[1100];
	unsigned keep_s;
	bool shared;	    /* --reply-log-dir: owned under OFD locks */
	pthread_mutex_t mu; /* dormant */
	struct dormant *dormant;
	long long expire_ms;
	long long start_ms; /* rfs_xlog_init */
	struct fence {	    /* logs first takeable at since_ms */
		uint64_t sess;
		long long since_ms;
	} fence[64];
} X = { .dfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER };

static long long now_ms(void)
{
	return rfs_now_ns() / 1000000;
}

/* --takeover-fence for s's export: 0 when its backend has kernel fds */
static long long fence_ms(const struct rfs_session *s)
{
	if (s->exp->be->fd_io)
		return 0;
	return rfs_cfg.takeover_fence_ms < 0 ? 1000 : rfs_cfg.takeover_fence_ms;
}

/*
 * Shared directory: the log of session sess can be taken now: ms left of
 * its fence (0: take it).  The first call starts the fence; the table
 * forgets the oldest entry when full (that log's fence starts again).
 */
static long long fence_left(uint64_t sess, long long fence)
{
	long long now = now_ms(), left;
	struct fence *f = NULL, *oldest = &X.fence[0];

	pthread_mutex_lock(&X.mu);
	for (unsigned i = 0; i < sizeof(X.fence) / sizeof(X.fence[0]); i++) {
		struct fence *e = &X.fence[i];

		if (e->sess == sess && e->since_ms) {
			f = e;
			break;
		}
		if (e->since_ms < oldest->since_ms)
			oldest = e;
	}
	if (!f) {
		f = oldest;
		f->sess = sess;
		f->since_ms = now;
	}
	left = f->since_ms + fence - now;
	if (left <= 0)
		f->since_ms = 0; /* taken: the entry is free */
	pthread_mutex_unlock(&X.mu);
	return left > 0 ? left : 0;
}

static void log_name(uint64_t sess, char name[NAME_LEN])
{
	snprintf(name, NAME_LEN, "%016llx.log", (unsigned long long)sess);
}

static void token_hash(const uint8_t token[16], uint8_t out[HASH_LEN])
{
	static const char key[] = "ringfsd reply log token v1";

	crypto_generichash(out, HASH_LEN, token, 16, (const unsigned char *)key,
			   sizeof(key) - 1);
}

static uint64_t head_csum(const struct xlog_head *h)
{
	return XXH3_64bits(h, offsetof(struct xlog_head, csum));
}

static void rec_fill(struct xrec *r, uint16_t kind, uint16_t op, uint64_t sess,
		     uint64_t id, const void *p, uint32_t len)
{
	*r = (struct xrec){ .magic = XREC_MAGIC,
			    .kind = kind,
			    .op = op,
			    .len = len,
			    .sess = sess,
			    .id = id };
	r->csum = XXH3_64bits_withSeed(p, len, XXH3_64bits(r, sizeof(*r)));
}

static bool rec_ok(const struct xrec *r, const void *p)
{
	struct xrec c = *r;

	c.csum = 0;
	return r->csum ==
	       XXH3_64bits_withSeed(p, r->len, XXH3_64bits(&c, sizeof(c)));
}

static int write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Shared directory: fd's file is ours while we hold this (an OFD lock:
 * another open of it, ours or another gateway's, conflicts; it goes with
 * the file's last close).  -EBUSY: someone else holds it.
 */
static int own_lock(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
}

/* ---- writing ----------------------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void wb_put(struct wbuf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		uint8_t *q;

		while (cap < b->len + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q) {
			b->err = -ENOMEM;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static int kept_rec(void *arg, uint64_t id, uint16_t op, uint64_t sess,
		    const void *frame, uint32_t len, const struct rfs_xpre *pre)
{
	struct wbuf *b = arg;
	struct xrec r;

	if (frame) {
		rec_fill(&r, XREC_RESULT, op, sess, id, frame, len);
		wb_put(b, &r, sizeof(r));
		wb_put(b, frame, len);
	} else {
		rec_fill(&r, XREC_INTENT, op, sess, id, pre, sizeof(*pre));
		wb_put(b, &r, sizeof(r));
		wb_put(b, pre, sizeof(*pre));
	}
	return b->err;
}

static void say_failed(const struct rfs_xlog *x, const char *what, int err)
{
	rfs_err_rl("server: session %016llx: reply log %s/%016llx.log: %s: "
		   "%s; its requests may run twice if the server restarts "
		   "(make room or fix permissions in --state-dir)",
		   (unsigned long long)x->sess, X.dir,
		   (unsigned long long)x->sess, what, strerror(-err));
}

/*
 * Under x->mu: the session's log written whole, from its duplicate-request
 * cache (the record being appended is there already), into a new file
 * renamed over the old one.
 */
static int rewrite(struct rfs_session *s, struct rfs_xlog *x)
{
	char name[NAME_LEN], tmp[NAME_LEN + 8];
	struct xlog_head h;
	struct wbuf b = { 0 };
	struct timespec ts;
	int fd, ret;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, XLOG_MAGIC, sizeof(h.magic));
	h.sess = s->id;
	token_hash(s->token, h.hash);
	h.pred = x->pred;
	memcpy(h.pred_hash, x->pred_hash, HASH_LEN);
	clock_gettime(CLOCK_REALTIME, &ts);
	h.created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	snprintf(h.export, sizeof(h.export), "%s", s->exp->name);
	h.csum = head_csum(&h);
	wb_put(&b, &h, sizeof(h));
	ret = rfs_drc_each_kept(s->drc, kept_rec, &b);
	if (!ret)
		ret = b.err;
	if (ret) {
		say_failed(x, "building it", ret);
		goto out;
	}
	log_name(s->id, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(X.dfd, tmp,
		    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC |
			    O_NOFOLLOW,
		    0600);
	if (fd < 0) {
		ret = -errno;
		say_failed(x, "create", ret);
		goto out;
	}
	/* locked before the rename makes it the session's log */
	ret = X.shared ? own_lock(fd) : 0;
	if (ret)
		say_failed(x,
			   "lock (the shared directory must support "
			   "POSIX locks)",
			   ret);
	if (!ret)
		ret = write_all(fd, b.p, b.len);
	if (!ret && X.mode == RFS_XLOG_SYNC && fdatasync(fd) < 0)
		ret = -errno;
	if (!ret && renameat(X.dfd, tmp, X.dfd, name) < 0)
		ret = -errno;
	if (!ret && X.mode == RFS_XLOG_SYNC && fsync(X.dfd) < 0)
		ret = -errno;
	if (ret) {
		say_failed(x, "write", ret);
		close(fd);
		unlinkat(X.dfd, tmp, 0);
		goto out;
	}
	if (x->fd >= 0)
		close(x->fd);
	x->fd = fd;
	x->bytes = x->base = b.len;
out:
	free(b.p);
	return ret;
}

/*
 * s's log takes over from session old's (token hash h): it names its
 * predecessor, and is rewritten with what was loaded.
 */
static int succeed(struct rfs_session *s, struct rfs_xlog *x, uint64_t old,
		   const uint8_t *h)
{
	int ret;

	pthread_mutex_lock(&x->mu);
	x->pred = old;
	memcpy(x->pred_hash, h, HASH_LEN);
	ret = rewrite(s, x);
	pthread_mutex_unlock(&x->mu);
	return ret;
}

static void append(struct rfs_session *s, uint16_t kind, uint64_t id,
		   uint16_t op, const void *p, uint32_t len)
{
	struct rfs_xlog *x = s->xlog;
	struct xrec r;
	struct iovec iov[2];
	ssize_t n;
	int ret;

	if (!x)
		return;
	pthread_mutex_lock(&x->mu);
	if (x->fd < 0 || x->bytes - x->base >= XLOG_REWRITE_BYTES) {
		if (!rewrite(s, x) || x->fd < 0)
			goto out;
		x->base = x->bytes; /* go on with the old file for a while */
	}
	rec_fill(&r, kind, op, s->id, id, p, len);
	iov[0] = (struct iovec){ &r, sizeof(r) };
	iov[1] = (struct iovec){ (void *)p, len };
	do {
		n = writev(x->fd, iov, 2);
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)(sizeof(r) + len)) {
		x->bytes += (uint64_t)n;
		if (X.mode == RFS_XLOG_SYNC && fdatasync(x->fd) < 0)
			say_failed(x, "fdatasync", -errno);
		goto out;
	}
	ret = n < 0 ? -errno : -ENOSPC;
	/* a torn record would end the log there: cut it off */
	if (n > 0 && ftruncate(x->fd, (off_t)x->bytes) < 0)
		say_failed(x, "ftruncate after a short write", -errno);
	say_failed(x, "append", ret);
out:
	pthread_mutex_unlock(&x->mu);
}

void rfs_xlog_intent(struct rfs_session *s, uint64_t id, uint16_t op,
		     const struct rfs_xpre *pre)
{
	append(s, XREC_INTENT, id, op, pre, sizeof(*pre));
}

void rfs_xlog_result(struct rfs_session *s, uint64_t id, uint16_t op,
		     const void *frame, uint32_t len)
{
	append(s, XREC_RESULT, id, op, frame, len);
}

int rfs_xlog_session(struct rfs_session *s)
{
	struct rfs_xlog *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	pthread_mutex_init(&x->mu, NULL);
	x->sess = s->id;
	x->fd = -1;
	s->xlog = x;
	return 0;
}

void rfs_xlog_free(struct rfs_xlog *x, bool keep)
{
	char name[NAME_LEN];

	if (!x)
		return;
	if (x->fd >= 0) {
		/* kept in a shared directory: the sweep counts from now */
		if (keep && X.shared && futimens(x->fd, NULL) < 0)
			rfs_warn("server: touch %s/%016llx.log: %s", X.dir,
				 (unsigned long long)x->sess, strerror(errno));
		close(x->fd);
		log_name(x->sess, name);
		if (!keep && unlinkat(X.dfd, name, 0) < 0 && errno != ENOENT)
			rfs_warn("server: remove %s/%s: %s", X.dir, name,
				 strerror(errno));
	}
	pthread_mutex_destroy(&x->mu);
	free(x);
}

/* ---- reading: start and RESUME ------------------------------------------ */

static int read_head(int fd, struct xlog_head *h)
{
	ssize_t n;

	do {
		n = pread(fd, h, sizeof(*h), 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(*h) || memcmp(h->magic, XLOG_MAGIC, 8) ||
	    h->csum != head_csum(h) || !memchr(h->export, 0, sizeof(h->export)))
		return -EBADMSG;
	return 0;
}

/* a RESULT's frame: the reply to request id of op */
static bool frame_ok(const struct xrec *r, const uint8_t *p)
{
	struct rfs_hdr h;

	if (r->len < RFS_HDR_SIZE || r->len > RFS_MSG_MAX_LIMIT)
		return false;
	memcpy(&h, p, sizeof(h));
	return h.magic == RFS_MAGIC && (h.flags & RFS_HF_REPLY) &&
	       h.id == r->id && h.opcode == r->op &&
	       h.len == r->len - RFS_HDR_SIZE;
}

/*
 * The whole file behind fd, read to its end (a shared file system's
 * cached size may be behind the other gateway's last write), at most
 * XLOG_LOAD_MAX bytes: *buf (malloc'd), *len.
 */
static int slurp(int fd, uint8_t **buf, size_t *len)
{
	size_t cap = 1u << 16, off = 0;
	uint8_t *b = malloc(cap), *q;

	if (!b)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (off == cap) {
			if (cap >= XLOG_LOAD_MAX) {
				free(b);
				return -EFBIG;
			}
			q = realloc(b, cap * 2);
			if (!q) {
				free(b);
				return -ENOMEM;
			}
			b = q;
			cap *= 2;
		}
		r = pread(fd, b + off, cap - off, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(b);
			return err;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	*buf = b;
	*len = off;
	return 0;
}

/* the records of the log open at fd (`name`) into s's cache; *n: how many */
static int load_fd(struct rfs_session *s, int fd, const char *name, uint32_t *n)
{
	struct xlog_head h;
	uint8_t *buf = NULL;
	size_t off, size = 0;
	int ret;

	*n = 0;
	ret = read_head(fd, &h);
	if (!ret)
		ret = slurp(fd, &buf, &size);
	if (!ret && size < sizeof(h))
		ret = -EBADMSG;
	for (off = sizeof(h); !ret && off + sizeof(struct xrec) <= size;) {
		struct xrec r;
		const uint8_t *p = buf + off + sizeof(r);
		struct rfs_xpre pre;

		memcpy(&r, buf + off, sizeof(r));
		if (r.magic != XREC_MAGIC || r.len > size - off - sizeof(r) ||
		    !rec_ok(&r, p))
			break;
		off += sizeof(r) + r.len;
		if (r.kind == XREC_INTENT && r.len == sizeof(pre)) {
			memcpy(&pre, p, sizeof(pre));
			if (rfs_drc_adopt(s->drc, r.id, r.op, r.sess, NULL, 0,
					  &pre) > 0)
				(*n)++;
		} else if (r.kind == XREC_RESULT && frame_ok(&r, p)) {
			if (rfs_drc_adopt(s->drc, r.id, r.op, r.sess, p, r.len,
					  NULL) > 0)
				(*n)++;
		}
	}
	if (!ret && off != size)
		rfs_warn("server: reply log %s/%s: the last %zu bytes are no "
			 "record (written when the server died?): ignored",
			 X.dir, name, size - off);
	free(buf);
	return ret;
}

/* the records of dormant log `name` into s's cache; *n: how many */
static int load(struct rfs_session *s, const char *name, uint32_t *n)
{
	int fd, ret;

	*n = 0;
	fd = openat(X.dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ret = load_fd(s, fd, name, n);
	close(fd);
	return ret;
}

static void dormant_free(struct dormant *d, bool remove)
{
	while (d) {
		struct dormant *next = d->next;

		if (remove && unlinkat(X.dfd, d->name, 0) < 0 &&
		    errno != ENOENT)
			rfs_warn("server: remove %s/%s: %s", X.dir, d->name,
				 strerror(errno));
		free(d);
		d = next;
	}
}

/* back on the dormant list: a later start (or the expiry) sees them */
static void requeue(struct dormant *take)
{
	pthread_mutex_lock(&X.mu);
	while (take) {
		struct dormant *d = take;

		take = d->next;
		d->next = X.dormant;
		X.dormant = d;
	}
	pthread_mutex_unlock(&X.mu);
}

/*
 * RESUME old (token): the dormant logs of that session, or of sessions
 * that RESUMEd it, for s's export; the newest one's records go into s's
 * cache and a log of s's own, the others are superseded.
 */
static int resume(struct rfs_session *s, uint64_t old, const uint8_t *token,
		  uint32_t *n)
{
	struct dormant **pp, *d, *take = NULL, *best = NULL;
	struct rfs_xlog *x = s->xlog;
	uint8_t h[HASH_LEN];
	bool refused = false;
	int ret;

	token_hash(token, h);
	pthread_mutex_lock(&X.mu);
	if (X.dormant && X.start_ms + fence_ms(s) > now_ms()) {
		pthread_mutex_unlock(&X.mu);
		return -EAGAIN; /* the takeover fence: asked again */
	}
	for (pp = &X.dormant; (d = *pp);) {
		bool by_id = d->h.sess == old;

		if (!old || (!by_id && d->h.pred != old)) {
			pp = &d->next;
			continue;
		}
		if (!rfs_auth_equal(by_id ? d->h.hash : d->h.pred_hash, h,
				    HASH_LEN) ||
		    strcmp(d->h.export, s->exp->name)) {
			refused = true;
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		d->next = take;
		take = d;
		if (!best || d->h.created_ns > best->h.created_ns)
			best = d;
	}
	pthread_mutex_unlock(&X.mu);
	if (!best)
		return refused ? -EACCES : -EBADSLT;
	ret = load(s, best->name, n);
	if (ret) {
		rfs_err("server: reply log %s/%s: %s: its session's requests "
			"may run twice",
			X.dir, best->name, strerror(-ret));
		requeue(take);
		return -EIO;
	}
	ret = succeed(s, x, old, h);
	if (ret)
		/* what was loaded answers the replays all the same; the old
		   logs stay for the next start */
		requeue(take);
	else
		dormant_free(take, true);
	return 0;
}

/*
 * Shared directory: log `name` opened and locked (its fd), when it is
 * still that name's file once locked (its owner may have renamed a
 * rewrite over it in between).  -ENOENT, -EBUSY (a live gateway owns
 * it), or another -errno.
 */
static int take(const char *name)
{
	for (int tries = 0; tries < 8; tries++) {
		struct stat a, b;
		int fd = openat(X.dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		int ret;

		if (fd < 0)
			return -errno;
		ret = own_lock(fd);
		if (!ret && fstat(fd, &a) < 0)
			ret = -errno;
		if (!ret && !S_ISREG(a.st_mode))
			ret = -EBADMSG;
		if (ret) {
			close(fd);
			return ret;
		}
		ret = fstatat(X.dfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 ?
			      -errno :
			      0;
		if (!ret && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return fd;
		close(fd);
		if (ret)
			return ret;
	}
	return -EBUSY;
}

static bool is_log_name(const char *name)
{
	size_t n = strlen(name);

	return n == 20 && !strcmp(name + 16, ".log") &&
	       strspn(name, "0123456789abcdef") == 16;
}

/*
 * Shared directory, no log of session old: the newest log of a session
 * that RESUMEd it (its gateway died between that RESUME and its reply):
 * its name into name.  -ENOENT: none.
 */
static int successor(uint64_t old, char name[NAME_LEN])
{
	int64_t best = INT64_MIN;
	struct dirent *de;
	int fd = openat(X.dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		struct xlog_head h;
		int lfd;

		if (!is_log_name(de->d_name))
			continue;
		lfd = openat(X.dfd, de->d_name,
			     O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (lfd < 0)
			continue;
		if (!read_head(lfd, &h) && h.pred == old &&
		    h.created_ns > best) {
			best = h.created_ns;
			memcpy(name, de->d_name, 21); /* is_log_name */
		}
		close(lfd);
	}
	closedir(dir);
	return best == INT64_MIN ? -ENOENT : 0;
}

/*
 * RESUME old (token) from the shared directory: the log of that session
 * (or of the newest session that RESUMEd it), taken over with its lock;
 * its records go into s's cache and a log of s's own, the old file goes.
 */
static int resume_shared(struct rfs_session *s, uint64_t old,
			 const uint8_t *token, uint32_t *n)
{
	struct rfs_xlog *x = s->xlog;
	char name[NAME_LEN];
	uint8_t h[HASH_LEN];
	struct xlog_head head;
	int fd, ret;

	if (!old)
		return -EBADSLT;
	token_hash(token, h);
	log_name(old, name);
	fd = take(name);
	if (fd == -ENOENT && successor(old, name) == 0)
		fd = take(name);
	if (fd < 0) {
		if (fd == -ENOENT)
			return -EBADSLT;
		if (fd != -EBUSY)
			rfs_err("server: reply log %s/%s: %s: its session's "
				"requests may run twice",
				X.dir, name, strerror(-fd));
		return fd == -EBUSY ? -EBUSY : -EIO;
	}
	ret = read_head(fd, &head);
	if (!ret &&
	    (!rfs_auth_equal(head.sess == old ? head.hash : head.pred_hash, h,
			     HASH_LEN) ||
	     (head.sess != old && head.pred != old) ||
	     strcmp(head.export, s->exp->name)))
		ret = -EACCES;
	if (!ret && fence_ms(s) && fence_left(head.sess, fence_ms(s)))
		ret = -EAGAIN; /* the takeover fence: asked again */
	if (!ret)
		ret = load_fd(s, fd, name, n);
	if (ret) {
		close(fd);
		if (ret == -EAGAIN)
			return ret;
		if (ret == -EACCES)
			return ret;
		rfs_err("server: reply log %s/%s: %s: its session's requests "
			"may run twice",
			X.dir, name, strerror(-ret));
		return -EIO;
	}
	ret = succeed(s, x, old, h);
	/* superseded by s's own log (still ours: nobody else removes it) */
	if (!ret && unlinkat(X.dfd, name, 0) < 0 && errno != ENOENT)
		rfs_warn("server: remove %s/%s: %s", X.dir, name,
			 strerror(errno));
	close(fd);
	return 0;
}

int rfs_op_resume(struct rfs_req *r)
{
	const struct rfs_resume_req *q = r->v.fixed;
	struct rfs_session *s = r->sess;
	struct rfs_resume_rep *p;
	uint32_t n = 0;
	int ret;

	if (!s || !s->xlog)
		return -EINVAL; /* RFS_FEAT_RESUME was not negotiated */
	if (s->resumed)
		return -EALREADY;
	ret = X.shared ? resume_shared(s, q->session, q->token, &n) :
			 resume(s, q->session, q->token, &n);
	if (ret == -EAGAIN) {
		/* said once per old session (the client asks every 100 ms) */
		static _Atomic uint64_t said;

		if (atomic_exchange(&said, q->session) != q->session)
			rfs_info("server: %s: session %016llx: RESUME of "
				 "session %016llx: its server died less than "
				 "--takeover-fence %lld ms ago: its operations "
				 "still in flight to the volume land first; "
				 "asked again later",
				 rfs_conn_desc(r->cc->c),
				 (unsigned long long)s->id,
				 (unsigned long long)q->session, fence_ms(s));
		return -EBUSY;
	}
	if (ret) {
		rfs_err_rl("server: %s: session %016llx: RESUME of session "
			   "%016llx: %s",
			   rfs_conn_desc(r->cc->c), (unsigned long long)s->id,
			   (unsigned long long)q->session,
			   ret == -EBADSLT ? "no replies kept for it" :
			   ret == -EACCES  ? "wrong token or export: refused" :
			   ret == -EBUSY   ? "another live gateway owns its "
					     "reply log: asked again later" :
					     strerror(-ret));
		return ret;
	}
	s->resumed = true;
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p)
		return r->mb.err;
	p->replies = n;
	rfs_info("server: %s: session %016llx resumed session %016llx: %u "
		 "kept replies and unfinished requests",
		 rfs_conn_desc(r->cc->c), (unsigned long long)s->id,
		 (unsigned long long)q->session, n);
	return 0;
}

/* ---- start and end ------------------------------------------------------ */

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && !strcmp(s + n - m, suf);
}

/* one directory entry at start: a dormant log, a leftover, or a stranger */
static void scan_one(const char *name, unsigned *nlogs)
{
	struct dormant *d;
	int fd, ret;

	if (has_suffix(name, ".log.tmp")) {
		/* a rewrite the crash interrupted: the .log is whole */
		unlinkat(X.dfd, name, 0);
		return;
	}
	if (!has_suffix(name, ".log") || strlen(name) != 20)
		return;
	d = calloc(1, sizeof(*d));
	if (!d)
		return;
	fd = openat(X.dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ret = fd < 0 ? -errno : read_head(fd, &d->h);
	if (fd >= 0)
		close(fd);
	if (ret) {
		rfs_warn("server: reply log %s/%s: %s: removed", X.dir, name,
			 ret == -EBADMSG ? "not a reply log of this version" :
					   strerror(-ret));
		unlinkat(X.dfd, name, 0);
		free(d);
		return;
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->next = X.dormant;
	X.dormant = d;
	(*nlogs)++;
}

/* the shared directory: open it; the sweep finds what others left */
static int init_shared(void)
{
	X.dfd = open(X.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (X.dfd < 0) {
		rfs_err("server: --reply-log-dir %s: %s (mount the shared "
			"file system and make the directory, mode 0700)",
			X.dir, strerror(errno));
		return -EIO;
	}
	X.expire_ms = rfs_now_ns() / 1000000 + (long long)X.keep_s * 1000;
	rfs_info("server: reply logs in the shared directory %s: exactly "
		 "once across the gateways that share it",
		 X.dir);
	rfs_sessions_reaper_start();
	return 0;
}

int rfs_xlog_init(const char *state_dir, const char *shared_dir,
		  enum rfs_xlog_mode mode, unsigned keep_s)
{
	struct dirent *de;
	unsigned nlogs = 0;
	DIR *dir;
	int fd;

	X.mode = mode;
	X.keep_s = keep_s;
	X.start_ms = now_ms();
	if (mode == RFS_XLOG_OFF)
		return 0;
	if (rfs_auth_init()) {
		rfs_err("server: libsodium: cannot start");
		return -EIO;
	}
	if (shared_dir && shared_dir[0]) {
		snprintf(X.dir, sizeof(X.dir), "%s", shared_dir);
		X.shared = true;
		return init_shared();
	}
	snprintf(X.dir, sizeof(X.dir), "%s/replies", state_dir);
	if (mkdir(X.dir, 0700) < 0 && errno != EEXIST) {
		rfs_warn("server: mkdir %s: %s; replies will not survive a "
			 "restart (fix --state-dir, or --reply-log off)",
			 X.dir, strerror(errno));
		X.mode = RFS_XLOG_OFF;
		return 0;
	}
	X.dfd = open(X.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	fd = X.dfd < 0 ? -1 : fcntl(X.dfd, F_DUPFD_CLOEXEC, 0);
	dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		rfs_warn("server: open %s: %s; replies will not survive a "
			 "restart (fix --state-dir, or --reply-log off)",
			 X.dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		if (X.dfd >= 0)
			close(X.dfd);
		X.dfd = -1;
		X.mode = RFS_XLOG_OFF;
		return 0;
	}
	pthread_mutex_lock(&X.mu);
	while ((de = readdir(dir)))
		scan_one(de->d_name, &nlogs);
	X.expire_ms = rfs_now_ns() / 1000000 + (long long)keep_s * 1000;
	pthread_mutex_unlock(&X.mu);
	closedir(dir);
	if (nlogs) {
		rfs_info("server: %u reply logs of the previous run in %s: "
			 "kept %u s for their clients to RESUME",
			 nlogs, X.dir, keep_s);
		rfs_sessions_reaper_start();
	}
	return 0;
}

bool rfs_xlog_enabled(void)
{
	return X.mode != RFS_XLOG_OFF && X.dfd >= 0;
}

bool rfs_xlog_shared(void)
{
	return X.shared;
}

/*
 * Shared directory, every --session-grace: remove the logs (and rewrites
 * cut short) nobody owns that were not written for --session-grace.
 */
static void sweep_shared(void)
{
	time_t old = time(NULL) - (time_t)(X.keep_s ? X.keep_s : 1);
	unsigned n = 0;
	struct dirent *de;
	int dfd = fcntl(X.dfd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = dfd < 0 ? NULL : fdopendir(dfd);

	if (!dir) {
		rfs_warn("server: open %s: %s: old reply logs stay", X.dir,
			 strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return;
	}
	rewinddir(dir);
	while ((de = readdir(dir))) {
		struct stat st;
		size_t len = strlen(de->d_name);
		int fd;

		if (!is_log_name(de->d_name) &&
		    !(len == 24 && has_suffix(de->d_name, ".log.tmp")))
			continue;
		if (fstatat(X.dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_mtime > old)
			continue;
		fd = take(de->d_name);
		if (fd < 0)
			continue; /* owned: a live session's */
		if (fstat(fd, &st) == 0 && st.st_mtime <= old &&
		    unlinkat(X.dfd, de->d_name, 0) == 0)
			n++;
		close(fd);
	}
	closedir(dir);
	if (n)
		rfs_info("server: %u reply logs in %s removed: nobody owned "
			 "them for %u s (--session-grace)",
			 n, X.dir, X.keep_s);
}

void rfs_xlog_expire(long long now_ms)
{
	struct dormant *list, *d;
	unsigned n = 0;

	if (X.shared) {
		if (X.dfd < 0 || now_ms < X.expire_ms)
			return;
		X.expire_ms =
			now_ms + (long long)(X.keep_s ? X.keep_s : 1) * 1000;
		sweep_shared();
		return;
	}

	pthread_mutex_lock(&X.mu);
	list = X.dormant && now_ms >= X.expire_ms ? X.dormant : NULL;
	if (list)
		X.dormant = NULL;
	pthread_mutex_unlock(&X.mu);
	if (!list)
		return;
	for (d = list; d; d = d->next)
		n++;
	dormant_free(list, true);
	rfs_info("server: %u reply logs of the previous run removed: no "
		 "client RESUMEd them within %u s (--session-grace)",
		 n, X.keep_s);
}

void rfs_xlog_fini(void)
{
	pthread_mutex_lock(&X.mu);
	dormant_free(X.dormant, false);
	X.dormant = NULL;
	pthread_mutex_unlock(&X.mu);
	if (X.dfd >= 0)
		close(X.dfd);
	X.dfd = -1;
}
