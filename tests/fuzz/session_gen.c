// SPDX-License-Identifier: MIT
/*
 * session_gen: seeds for fuzz_session (tests/fuzz/corpus-session): whole
 * sessions as byte streams.  HELLO (without checksums, which a fuzzer
 * cannot keep valid) on the read-write or read-only export, then every
 * request frames.c knows with its node ids replaced by the "ROOT" marker
 * fuzz_session substitutes; AUTH against a keyless server; frames before
 * HELLO.
 *
 *   fuzz_session_gen DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "frames.h"
#include "proto.h"

#define FUZZ_ROOT 0x544f4f52ull

static _Alignas(8) uint8_t stream[1u << 20];
static uint32_t slen;
static _Alignas(8) uint8_t frame[RFS_MSG_MAX_DEFAULT];

static void add_hello_feat(const char *exp, uint64_t features)
{
	struct rfs_mb b;
	struct rfs_hello_req *q;

	rfs_mb_init(&b, frame, sizeof(frame), RFS_OP_HELLO, 1);
	q = rfs_mb_put(&b, sizeof(*q));
	q->features = features;
	q->max_msg = RFS_MSG_MAX_DEFAULT;
	q->max_inflight = 8;
	q->export_len = (uint16_t)strlen(exp);
	rfs_mb_put_bytes(&b, exp, q->export_len);
	slen = 0;
	memcpy(stream, frame, (size_t)rfs_mb_finish(&b, false));
	slen = b.len;
}

static void add_hello(const char *exp)
{
	add_hello_feat(exp, 0);
}

/* frames.c's request for op, node ids -> ROOT, no checksum, flags */
static int add_op_flags(uint16_t op, uint64_t id, uint32_t flags)
{
	struct rfs_hdr *h = (struct rfs_hdr *)(void *)frame;
	int n = rfs_tf_req(op, frame, sizeof(frame));

	if (n < 0)
		return n;
	for (uint32_t off = RFS_HDR_SIZE; off + 8 <= (uint32_t)n; off += 8) {
		uint64_t v;

		memcpy(&v, frame + off, 8);
		if (v == TF_NODE || v == TF_NODE2) {
			v = FUZZ_ROOT;
			memcpy(frame + off, &v, 8);
		}
	}
	h->id = id;
	h->flags &= ~RFS_HF_CSUM;
	h->flags |= flags;
	h->csum = 0;
	if (slen + (uint32_t)n > sizeof(stream))
		return -E2BIG;
	memcpy(stream + slen, frame, (size_t)n);
	slen += (uint32_t)n;
	return 0;
}

static int add_op(uint16_t op, uint64_t id)
{
	return add_op_flags(op, id, 0);
}

static int save(const char *dir, const char *name)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, stream, slen) != (ssize_t)slen) {
		fprintf(stderr, "session_gen: %s: %s\n", p, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *exps[] = { "w", "r" };
	char name[64];
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_session_gen DIR\n");
		return 2;
	}
	for (unsigned e = 0; e < 2; e++) {
		/* one op per seed (small inputs mutate best), then all */
		for (unsigned op = RFS_OP_LOOKUP; op < RFS_OP_MAX_; op++) {
			if (!rfs_proto_op_known(op))
				continue;
			add_hello(exps[e]);
			if (add_op((uint16_t)op, 2))
				continue;
			snprintf(name, sizeof(name), "%s-%s", exps[e],
				 rfs_proto_op_name(op));
			bad |= save(argv[1], name);
		}
		add_hello(exps[e]);
		for (unsigned op = RFS_OP_PING; op < RFS_OP_MAX_; op++)
			if (rfs_proto_op_known(op) && op != RFS_OP_BYE &&
			    op != RFS_OP_AUTH && op != RFS_OP_ATTACH)
				add_op((uint16_t)op, 10 + op);
		snprintf(name, sizeof(name), "%s-all", exps[e]);
		bad |= save(argv[1], name);
	}
	/* replies kept across a restart: RESUME, a persisted request and
	   its replay, an appending WRITE */
	add_hello_feat("w", RFS_FEAT_RESUME);
	add_op(RFS_OP_RESUME, 2);
	add_op(RFS_OP_MKDIR, 3);
	add_op_flags(RFS_OP_MKDIR, 3, RFS_HF_REPLAY);
	add_op(RFS_OP_RENAME, 4);
	add_op(RFS_OP_WRITE, 5);
	bad |= save(argv[1], "w-resume");
	slen = 0;
	add_op(RFS_OP_AUTH, 1);
	add_op(RFS_OP_ATTACH, 2);
	bad |= save(argv[1], "auth-attach");
	slen = 0;
	add_op(RFS_OP_LOOKUP, 1);
	bad |= save(argv[1], "before-hello");
	return bad;
}
