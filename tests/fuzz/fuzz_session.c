// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a whole server session fed arbitrary frames.  The
 * input is a byte stream cut into frames the way a byte-stream transport
 * cuts it (48-byte header, then len payload bytes); each frame goes
 * through the server's own request pipeline (server/request.c, as the
 * connection loop runs it: header and checksum checks, the version check,
 * the before-HELLO gate, the decoder, the duplicate-request cache, BYE,
 * then the real op handlers on two real exports, one read-write and one
 * read-only, under a temporary dir; a session that asks for
 * RFS_FEAT_RESUME keeps its reply log in the temporary state dir).  Replies land in one buffer and are
 * recorded in rfs_fuzz_obs (fuzz_session.h) for pipeline_test.c.
 *
 * Two harness conveniences so that mutations reach deep code: the u64
 * 0x544f4f52 ("ROOT") anywhere 8-aligned in a payload becomes the
 * session's root node id (in frames without a checksum, which the patch
 * would break), and ops that would block the single fuzzing thread (SETLK
 * with RFS_LK_WAIT, FLOCK without LOCK_NB) or allocate unbounded disk
 * (FALLOCATE) are skipped.
 *
 * Seeds: tests/fuzz/corpus-session (fuzz_session_gen writes them).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_session.h"
#include "request.h"
#include "worker.h"

#define FUZZ_ROOT 0x544f4f52ull

struct rfs_fuzz_obs rfs_fuzz_obs;

static bool inited;
static _Alignas(8) uint8_t in[RFS_MSG_MAX_DEFAULT];
static _Alignas(8) uint8_t out[RFS_MSG_MAX_DEFAULT];
static struct rfs_buf in_buf = { .data = in, .cap = sizeof(in) };
static struct rfs_buf out_buf = { .data = out, .cap = sizeof(out) };

static char dir[] = "/tmp/rfs-fuzz-session-XXXXXX";

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_session: cannot remove %s\n", dir);
}

static void init_once(void)
{
	char p[256];
	int fd;

	if (!mkdtemp(dir))
		abort();
	atexit(remove_dir);
	chmod(dir, 0777);
	snprintf(p, sizeof(p), "%s/w", dir);
	mkdir(p, 0777);
	snprintf(p, sizeof(p), "%s/w/f", dir);
	fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
	if (fd >= 0) {
		if (write(fd, "hello fuzz\n", 11) != 11)
			abort();
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/w/d", dir);
	mkdir(p, 0777);
	snprintf(p, sizeof(p), "%s/r", dir);
	mkdir(p, 0777);
	snprintf(p, sizeof(p), "%s/st", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/w", dir);
	if (rfs_cfg_add_export(&rfs_cfg, "w", p, "no_root_squash,insecure"))
		abort();
	snprintf(p, sizeof(p), "%s/r", dir);
	if (rfs_cfg_add_export(&rfs_cfg, "r", p, "ro,insecure"))
		abort();
	if (rfs_cfg_open_exports(&rfs_cfg))
		abort();
	snprintf(p, sizeof(p), "%s/st", dir);
	if (rfs_nodes_init(p, 4096))
		abort();
	/* sessions that ask for RFS_FEAT_RESUME keep a reply log there */
	if (rfs_xlog_init(p, NULL, RFS_XLOG_ON, 0) || !rfs_xlog_enabled())
		abort();
	for (unsigned i = 0; i < rfs_cfg.nexports; i++) {
		struct rfs_export *e = &rfs_cfg.exports[i];

		if (e->be->export_root(e, &e->root))
			abort();
	}
	inited = true;
}

static bool would_block(const struct rfs_hdr *h, const struct rfs_req_view *v)
{
	const struct rfs_lock_req *l = v->fixed;

	switch (h->opcode) {
	case RFS_OP_SETLK:
		return l && (l->flags & RFS_LK_WAIT);
	case RFS_OP_FLOCK:
		return l && !(l->flags & LOCK_NB);
	case RFS_OP_FALLOCATE:
		return true;
	default:
		return false;
	}
}

static void patch_root(struct rfs_conn_ctx *cc, uint8_t *payload, uint32_t len)
{
	uint64_t root;

	if (!cc->sess)
		return;
	root = cc->sess->exp->root->id;
	for (uint32_t off = 0; off + 8 <= len; off += 8) {
		uint64_t v;

		memcpy(&v, payload + off, 8);
		if (v == FUZZ_ROOT)
			memcpy(payload + off, &root, 8);
	}
}

/*
 * The connection as the pipeline sees it: one reply buffer (the pipeline
 * caps a reply at cc->max_msg, the buffer's size), replies recorded.
 */
static struct rfs_buf *fz_buf_get(struct rfs_conn_ctx *cc, void *arg,
				  uint32_t size)
{
	(void)cc;
	(void)arg;
	return size <= out_buf.cap ? &out_buf : NULL;
}

static void fz_buf_put(struct rfs_conn_ctx *cc, void *arg, struct rfs_buf *b)
{
	(void)cc;
	(void)arg;
	(void)b;
}

static void fz_send(struct rfs_conn_ctx *cc, void *arg, struct rfs_buf *b,
		    uint32_t len)
{
	struct rfs_fuzz_obs *o = &rfs_fuzz_obs;

	(void)cc;
	(void)arg;
	if (o->nreplies < RFS_FUZZ_REPLIES) {
		struct rfs_fuzz_reply *rep = &o->rep[o->nreplies];

		rep->len = len;
		memcpy(rep->frame, b->data,
		       len < sizeof(rep->frame) ? len : sizeof(rep->frame));
	}
	o->nreplies++;
}

static void fz_close(struct rfs_conn_ctx *cc, void *arg)
{
	(void)cc;
	(void)arg;
	rfs_fuzz_obs.closed = true;
}

static const struct rfs_req_io fz_io = {
	.buf_get = fz_buf_get,
	.buf_put = fz_buf_put,
	.send = fz_send,
	.close = fz_close,
	.conn_thread = true,
};

/* the harness's skips (see the top), decided on a decode of our own */
static bool skip(const struct rfs_hdr *h, const uint8_t *payload)
{
	struct rfs_req_view v;

	return h->major == RFS_PROTO_MAJOR &&
	       !rfs_proto_decode_req(h, payload, &v) && would_block(h, &v);
}

/* one frame through the request pipeline; false: the connection closes */
static bool one_frame(struct rfs_conn_ctx *cc, uint32_t n)
{
	struct rfs_hdr *h = (struct rfs_hdr *)(void *)in, hc;
	uint8_t *payload = in + RFS_HDR_SIZE;
	struct rfs_fuzz_obs *o = &rfs_fuzz_obs;
	struct rfs_request rq;
	unsigned sent = o->nreplies;

	/*
	 * What the transport checks before it delivers a frame, except the
	 * major version: the pipeline checks and answers that itself, and
	 * the fuzzer must reach that check too.
	 */
	hc = *h;
	hc.major = RFS_PROTO_MAJOR;
	if (rfs_proto_check_hdr(&hc, cc->max_msg))
		return false;
	if (!(h->flags & RFS_HF_CSUM))
		patch_root(cc, payload, h->len);
	if (skip(h, payload))
		return true;
	in_buf.len = n;
	o->frames++;
	rfs_request_init(&rq, cc, &in_buf, &fz_io, NULL);
	rfs_request_process(&rq);
	if (rq.cached && o->nreplies > sent && sent < RFS_FUZZ_REPLIES)
		o->rep[sent].cached = true;
	return !o->closed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rfs_conn_ctx *cc;
	size_t pos = 0;

	if (!inited)
		init_once();
	memset(&rfs_fuzz_obs, 0, sizeof(rfs_fuzz_obs));
	cc = calloc(1, sizeof(*cc));
	if (!cc)
		return 0;
	rfs_workers_init(cc);
	cc->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cc->dbuf = malloc(DBUF_SIZE);
	cc->setup_fd = -1;
	cc->max_msg = RFS_MSG_MAX_DEFAULT;
	snprintf(cc->sec.peer_text, sizeof(cc->sec.peer_text), "fuzz");
	if (cc->efd < 0 || !cc->dbuf)
		goto out;
	while (size - pos >= RFS_HDR_SIZE) {
		const struct rfs_hdr *h = (const void *)(data + pos);
		uint32_t len;

		memcpy(&len, (const uint8_t *)h + offsetof(struct rfs_hdr, len),
		       4);
		if (len > sizeof(in) - RFS_HDR_SIZE ||
		    size - pos - RFS_HDR_SIZE < len)
			break;
		memcpy(in, data + pos, RFS_HDR_SIZE + len);
		pos += RFS_HDR_SIZE + len;
		if (!one_frame(cc, RFS_HDR_SIZE + len))
			break;
	}
	rfs_creds_root(cc);
out:
	rfs_workers_fini(cc);
	if (cc->sess) {
		rfs_fuzz_obs.bye = cc->sess->bye;
		rfs_session_detach(cc->sess);
	}
	if (cc->efd >= 0)
		close(cc->efd);
	free(cc->dbuf);
	free(cc);
	return 0;
}
