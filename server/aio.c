// SPDX-License-Identifier: MIT
/*
 * Asynchronous file reads for a connection (aio.h).
 *
 * A slot per queued READ holds what answering it needs after the
 * pipeline has moved on: the request's header, the open file (a
 * reference, so RELEASE cannot close it under the read) and a
 * page-aligned buffer of its own that the read lands in (aligned, so
 * O_DIRECT files need no bounce).  The reply buffer is taken from the
 * transport only when the read is done, and sent at once: a queue of
 * reads must not hold the transport's buffers (shm has few of the large
 * ones, and a reply waiting for one behind replies that hold the rest
 * would wait for ever).  That costs one copy of the data, which inline
 * O_DIRECT reads pay too (their bounce buffer).
 *
 * Reads do not depend on the thread's fs credentials (permission was
 * checked at OPEN), so it does not matter which request's credentials
 * the thread holds when the ring runs them.  Writes stay inline: a
 * write's suid/sgid clearing depends on the writer's capabilities, which
 * the ring would take from whichever request ran last.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aio.h"
#include "config.h"
#include "log.h"
#include "request.h"

#if HAVE_URING
#include <liburing.h>

#define AIO_DEPTH 64u
#define AIO_ALIGN 4096u

struct rfs_aio_slot {
	struct rfs_aio_slot *next_free;
	struct rfs_hdr hdr;	  /* the request's: the reply echoes it */
	struct rfs_fh *f;	  /* referenced until the read ends */
	struct rfs_session *sess; /* whose fh table f is in */
	void *buf;		  /* the read lands here: aligned */
	size_t buf_cap;
	bool csum;
};

struct rfs_aio {
	struct io_uring ring;
	bool batch;
	unsigned queued;   /* prepared, not submitted */
	unsigned inflight; /* queued or submitted, not reaped */
	struct rfs_aio_slot *free;
	struct rfs_aio_slot slots[AIO_DEPTH];
};

bool rfs_aio_init(struct rfs_conn_ctx *cc)
{
	struct rfs_aio *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return false;
	ret = io_uring_queue_init(AIO_DEPTH, &a->ring, 0);
	if (ret < 0) {
		rfs_dbg(RFS_SUB_SERVER,
			"server: no io_uring for file reads (%s): reads run "
			"one at a time",
			strerror(-ret));
		free(a);
		return false;
	}
	for (unsigned i = 0; i < AIO_DEPTH; i++) {
		a->slots[i].next_free = a->free;
		a->free = &a->slots[i];
	}
	cc->aio = a;
	return true;
}

static void slot_free(struct rfs_aio *a, struct rfs_aio_slot *s)
{
	rfs_fh_put(s->sess, s->f);
	s->f = NULL;
	s->next_free = a->free;
	a->free = s;
	a->inflight--;
}

/* the reply: the data read, or the error, in a buffer taken now */
static void complete(struct rfs_conn_ctx *cc, struct rfs_aio_slot *s, int res)
{
	uint32_t n = res > 0 ? (uint32_t)res : 0;
	struct rfs_buf *out = cc->io->buf_get(cc, NULL, RFS_HDR_SIZE + n);
	struct rfs_mb mb;
	int len;

	if (!out) {
		rfs_err_rl("server: %s: request %llu: no reply buffer: "
			   "closing",
			   rfs_conn_desc(cc->c), (unsigned long long)s->hdr.id);
		cc->io->close(cc, NULL);
		return;
	}
	if (res < 0)
		atomic_fetch_add(&rfs_stats.errors, 1);
	rfs_mb_reply(&mb, out->data, out->cap, &s->hdr, res < 0 ? res : 0);
	if (n)
		rfs_mb_put_bytes(&mb, s->buf, n);
	len = rfs_mb_finish(&mb, s->csum);
	if (len < 0) {
		/* cannot happen: the buffer was sized for it */
		rfs_err_rl("server: %s: async read reply: %s",
			   rfs_conn_desc(cc->c), strerror(-len));
		cc->io->buf_put(cc, NULL, out);
		cc->io->close(cc, NULL);
		return;
	}
	cc->io->send(cc, NULL, out, (uint32_t)len);
}

int rfs_aio_reap(struct rfs_conn_ctx *cc)
{
	struct rfs_aio *a = cc->aio;
	struct io_uring_cqe *cqe;
	int n = 0;

	if (!a || !a->inflight)
		return 0;
	while (io_uring_peek_cqe(&a->ring, &cqe) == 0) {
		struct rfs_aio_slot *s = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&a->ring, cqe);
		complete(cc, s, res);
		slot_free(a, s);
		n++;
	}
	return n;
}

void rfs_aio_fini(struct rfs_conn_ctx *cc)
{
	struct rfs_aio *a = cc->aio;
	unsigned submitted;

	if (!a)
		return;
	rfs_aio_submit(cc);
	/* reads of local files end; wait for them before freeing buffers */
	submitted = a->inflight - a->queued;
	while (submitted) {
		struct io_uring_cqe *cqe;
		struct rfs_aio_slot *s;
		int ret = io_uring_wait_cqe(&a->ring, &cqe);

		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			rfs_err("server: waiting for async reads: %s: leaking "
				"their buffers",
				strerror(-ret));
			return;
		}
		s = io_uring_cqe_get_data(cqe);
		io_uring_cqe_seen(&a->ring, cqe);
		slot_free(a, s);
		submitted--;
	}
	/* queued but never submitted (submission failed): nothing runs */
	for (unsigned i = 0; i < AIO_DEPTH; i++)
		if (a->slots[i].f)
			slot_free(a, &a->slots[i]);
	io_uring_queue_exit(&a->ring);
	for (unsigned i = 0; i < AIO_DEPTH; i++)
		free(a->slots[i].buf);
	free(a);
	cc->aio = NULL;
}

void rfs_aio_batch(struct rfs_conn_ctx *cc, bool on)
{
	if (cc->aio)
		cc->aio->batch = on;
}

int rfs_aio_read(struct rfs_req *r, struct rfs_fh *f, uint32_t size, off_t off)
{
	struct rfs_aio *a = r->cc->aio;
	struct rfs_aio_slot *s;
	struct io_uring_sqe *sqe;
	size_t want = ((size_t)size + AIO_ALIGN - 1) & ~(size_t)(AIO_ALIGN - 1);

	if (!a || !a->batch || !a->free || !r->cc->io->conn_thread)
		return 1;
	s = a->free;
	if (want > s->buf_cap) {
		void *p;

		if (posix_memalign(&p, AIO_ALIGN, want ? want : AIO_ALIGN))
			return 1;
		free(s->buf);
		s->buf = p;
		s->buf_cap = want;
	}
	sqe = io_uring_get_sqe(&a->ring);
	if (!sqe)
		return 1;
	a->free = s->next_free;
	s->hdr = *r->h;
	s->f = f;
	s->sess = r->sess;
	io_uring_prep_read(sqe, f->fd, s->buf, size, (uint64_t)off);
	io_uring_sqe_set_data(sqe, s);
	a->queued++;
	a->inflight++;
	r->aio = s;
	return 0;
}

void rfs_aio_adopt(struct rfs_req *r, bool csum)
{
	r->aio->csum = csum;
}

int rfs_aio_submit(struct rfs_conn_ctx *cc)
{
	struct rfs_aio *a = cc->aio;
	int ret;

	if (!a || !a->queued)
		return 0;
	do {
		ret = io_uring_submit(&a->ring);
	} while (ret == -EINTR);
	if (ret < 0) {
		/* the SQEs stay queued: the next submit retries them */
		rfs_err_rl("server: %s: submitting %u async reads: %s",
			   rfs_conn_desc(cc->c), a->queued, strerror(-ret));
		return ret;
	}
	a->queued -= (unsigned)ret > a->queued ? a->queued : (unsigned)ret;
	return 0;
}

unsigned rfs_aio_inflight(const struct rfs_conn_ctx *cc)
{
	return cc->aio ? cc->aio->inflight : 0;
}

int rfs_aio_fd(const struct rfs_conn_ctx *cc)
{
	return cc->aio && cc->aio->inflight ? cc->aio->ring.ring_fd : -1;
}

#else /* !HAVE_URING */

bool rfs_aio_init(struct rfs_conn_ctx *cc)
{
	(void)cc;
	return false;
}

void rfs_aio_fini(struct rfs_conn_ctx *cc)
{
	(void)cc;
}

void rfs_aio_batch(struct rfs_conn_ctx *cc, bool on)
{
	(void)cc;
	(void)on;
}

int rfs_aio_read(struct rfs_req *r, struct rfs_fh *f, uint32_t size, off_t off)
{
	(void)r;
	(void)f;
	(void)size;
	(void)off;
	return 1;
}

void rfs_aio_adopt(struct rfs_req *r, bool csum)
{
	(void)r;
	(void)csum;
}

int rfs_aio_submit(struct rfs_conn_ctx *cc)
{
	(void)cc;
	return 0;
}

int rfs_aio_reap(struct rfs_conn_ctx *cc)
{
	(void)cc;
	return 0;
}

unsigned rfs_aio_inflight(const struct rfs_conn_ctx *cc)
{
	(void)cc;
	return 0;
}

int rfs_aio_fd(const struct rfs_conn_ctx *cc)
{
	(void)cc;
	return -1;
}

#endif
