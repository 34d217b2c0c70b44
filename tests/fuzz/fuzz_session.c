// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a whole server session fed arbitrary frames.  The
 * input is a byte stream cut into frames the way a byte-stream transport
 * cuts it (48-byte header, then len payload bytes); each frame goes
 * through what the connection loop does with it (server/conn.c's
 * handle_recv: header and checksum checks, the before-HELLO gate, the
 * decoder, then rfs_dispatch into the real op handlers on two real
 * exports, one read-write and one read-only, under a temporary dir).
 *
 * Two harness conveniences so that mutations reach deep code: the u64
 * 0x544f4f52 ("ROOT") anywhere 8-aligned in a payload becomes the
 * session's root node id, and ops that would block the single fuzzing
 * thread (SETLK with RFS_LK_WAIT, FLOCK without LOCK_NB) or allocate
 * unbounded disk (FALLOCATE) are skipped.
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

#include "server.h"

#define FUZZ_ROOT 0x544f4f52ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inited;
static _Alignas(8) uint8_t in[RFS_MSG_MAX_DEFAULT];
static _Alignas(8) uint8_t out[RFS_MSG_MAX_DEFAULT];

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
	if (rfs_cfg_add_export(&rfs_cfg, "w", p, "no_root_squash"))
		abort();
	snprintf(p, sizeof(p), "%s/r", dir);
	if (rfs_cfg_add_export(&rfs_cfg, "r", p, "ro"))
		abort();
	if (rfs_cfg_open_exports(&rfs_cfg))
		abort();
	snprintf(p, sizeof(p), "%s/st", dir);
	if (rfs_nodes_init(p, 4096))
		abort();
	for (unsigned i = 0; i < rfs_cfg.nexports; i++) {
		struct rfs_export *e = &rfs_cfg.exports[i];

		fd = fcntl(e->root_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0 || rfs_node_from_fd(e, fd, &e->root))
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

static void patch_root(struct rfs_conn_ctx *cc, uint8_t *payload,
		       uint32_t len)
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

/* what handle_recv does with one frame; false: the connection closes */
static bool one_frame(struct rfs_conn_ctx *cc, uint32_t n)
{
	struct rfs_hdr *h = (struct rfs_hdr *)(void *)in;
	uint8_t *payload = in + RFS_HDR_SIZE;
	struct rfs_req r = { .cc = cc, .sess = cc->sess, .h = h };
	bool csum = cc->sess ? cc->sess->csum : false;
	uint32_t cap;
	int ret;

	if (rfs_proto_check_frame(in, n, cc->max_msg) ||
	    (h->flags & RFS_HF_REPLY))
		return false;
	if (rfs_proto_verify(h, payload, csum))
		return false;
	if (!cc->sess && h->opcode != RFS_OP_HELLO &&
	    h->opcode != RFS_OP_ATTACH && h->opcode != RFS_OP_AUTH)
		return false;
	patch_root(cc, payload, h->len);
	ret = rfs_proto_decode_req(h, payload, &r.v);
	if (ret == -EINVAL || ret == -ENAMETOOLONG)
		return true;
	if (ret)
		return false;
	if (would_block(h, &r.v))
		return true;
	if (cc->sess)
		r.exp = cc->sess->exp;
	cap = RFS_HDR_SIZE + rfs_reply_size(h, &r.v);
	if (cap > cc->max_msg)
		cap = cc->max_msg;
	if (cap > sizeof(out))
		cap = sizeof(out);
	rfs_mb_reply(&r.mb, out, cap, h, 0);
	ret = rfs_dispatch(&r);
	for (unsigned i = 0; i < r.nnodes; i++)
		rfs_node_put(r.nodes[i]);
	if (ret >= 0 && !r.async)
		(void)rfs_mb_finish(&r.mb, csum || r.csum_reply);
	return !r.close_after;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rfs_conn_ctx *cc;
	size_t pos = 0;

	if (!inited)
		init_once();
	cc = calloc(1, sizeof(*cc));
	if (!cc)
		return 0;
	pthread_mutex_init(&cc->wmu, NULL);
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
	if (cc->sess)
		rfs_session_detach(cc->sess);
	if (cc->efd >= 0)
		close(cc->efd);
	pthread_mutex_destroy(&cc->wmu);
	free(cc->dbuf);
	free(cc);
	return 0;
}
