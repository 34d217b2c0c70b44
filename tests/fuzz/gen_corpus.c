// SPDX-License-Identifier: MIT
/*
 * gen_corpus: write the fuzz seed corpus.  One valid request and one valid
 * reply of every opcode (tests/unit/frames.c), and malformed frames of
 * every kind the decoder refuses.  Each seed is checked on the way out:
 * valid ones must decode, malformed ones must be refused, so the corpus
 * cannot silently drift from the decoder.
 *
 *   fuzz_gen_corpus DIR     (tests/fuzz/corpus/ is its committed output)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "frames.h"
#include "proto.h"

static uint64_t fbuf[(64u << 10) / 8];
#define HDR ((struct rfs_hdr *)(void *)fbuf)
#define PAY ((uint8_t *)fbuf + RFS_HDR_SIZE)

static const char *outdir;
static unsigned nwritten, nbad;

/* 0 when the frame passes every check a receiver makes */
static int decode(uint32_t n, bool reply)
{
	struct rfs_req_view v;
	struct rfs_rep_view r;
	struct rfs_notify_view nv;
	int ret;

	ret = rfs_proto_check_frame(fbuf, n, RFS_MSG_MAX_DEFAULT);
	if (ret == 0)
		ret = rfs_proto_verify(HDR, PAY, true);
	if (ret == 0 && (HDR->flags & RFS_HF_NOTIFY))
		return rfs_proto_decode_notify(HDR, PAY, &nv);
	if (ret == 0 && !reply)
		ret = rfs_proto_decode_req(HDR, PAY, &v);
	if (ret == 0 && reply)
		ret = rfs_proto_decode_rep(HDR, PAY, HDR->opcode, &r);
	return ret;
}

static void emit(const char *name, uint32_t n, bool reply, bool valid)
{
	char path[4096];
	FILE *f;
	int ret;

	ret = decode(n, reply);
	if ((ret == 0) != valid) {
		fprintf(stderr, "gen_corpus: %s: decode %d, expected %s\n",
			name, ret, valid ? "success" : "failure");
		nbad++;
	}
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "gen_corpus: open %s: %s\n", path,
			strerror(errno));
		nbad++;
		return;
	}
	if (fwrite(fbuf, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "gen_corpus: write %s failed\n", path);
		nbad++;
		return;
	}
	nwritten++;
}

static uint32_t frame_len(void)
{
	return RFS_HDR_SIZE + HDR->len;
}

static void reseal(void)
{
	rfs_proto_seal(HDR, true);
}

/* payload length changed to len, zero fill, resealed */
static void set_len(uint32_t len)
{
	if (len > HDR->len)
		memset(PAY + HDR->len, 0, len - HDR->len);
	HDR->len = len;
	reseal();
}

static void lookup_named(const char *name, uint32_t len)
{
	struct rfs_name_req *q;
	struct rfs_mb b;

	rfs_mb_init(&b, fbuf, sizeof(fbuf), RFS_OP_LOOKUP, 1);
	q = rfs_mb_put(&b, sizeof(*q));
	q->parent = TF_NODE;
	q->name_len = (uint16_t)len;
	rfs_mb_put_bytes(&b, name, len);
	rfs_mb_finish(&b, true);
}

static void malformed(void)
{
	static const struct {
		const char *file;
		const char *name;
		uint32_t len;
	} names[] = {
		{ "bad-name-empty", "", 0 },	{ "bad-name-dot", ".", 1 },
		{ "bad-name-dotdot", "..", 2 }, { "bad-name-slash", "a/b", 3 },
		{ "bad-name-nul", "a\0b", 3 },
	};
	char big[300];
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		lookup_named(names[i].name, names[i].len);
		emit(names[i].file, frame_len(), false, false);
	}
	memset(big, 'x', sizeof(big));
	lookup_named(big, 256);
	emit("bad-name-256", frame_len(), false, false);
	lookup_named(big, 255);
	emit("ok-name-255", frame_len(), false, true);

	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	HDR->magic = 0x12345678;
	emit("bad-magic", frame_len(), false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	HDR->major = 2;
	reseal();
	emit("bad-version", frame_len(), false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	HDR->flags |= 1u << 9;
	reseal();
	emit("bad-flag", frame_len(), false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	HDR->opcode = 7;
	reseal();
	emit("bad-opcode", frame_len(), false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	HDR->csum ^= 1;
	emit("bad-csum", frame_len(), false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	rfs_proto_seal(HDR, false);
	emit("bad-no-csum", frame_len(), false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	HDR->len = RFS_MSG_MAX_LIMIT; /* not resealed: no such payload */
	emit("bad-len-huge", RFS_HDR_SIZE + 16, false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	emit("bad-hdr-truncated", RFS_HDR_SIZE - 5, false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	set_len(HDR->len - 1);
	emit("bad-getattr-short", frame_len(), false, false);
	rfs_tf_req(RFS_OP_LOOKUP, fbuf, sizeof(fbuf));
	set_len(HDR->len + 3);
	emit("bad-lookup-trailing", frame_len(), false, false);
	rfs_tf_req(RFS_OP_LOOKUP, fbuf, sizeof(fbuf));
	((struct rfs_name_req *)(void *)PAY)->name_len = 200;
	reseal();
	emit("bad-lookup-namelen", frame_len(), false, false);

	rfs_tf_req(RFS_OP_FORGET, fbuf, sizeof(fbuf));
	((struct rfs_forget_req *)(void *)PAY)->count = 0;
	reseal();
	emit("bad-forget-zero", frame_len(), false, false);
	rfs_tf_req(RFS_OP_FORGET, fbuf, sizeof(fbuf));
	((struct rfs_forget_req *)(void *)PAY)->count = RFS_FORGET_MAX + 1;
	reseal();
	emit("bad-forget-many", frame_len(), false, false);
	rfs_tf_req(RFS_OP_RESOLVE, fbuf, sizeof(fbuf));
	((struct rfs_resolve_req *)(void *)PAY)->handle_len = 161;
	reseal();
	emit("bad-resolve-handle", frame_len(), false, false);
	rfs_tf_req(RFS_OP_WRITE, fbuf, sizeof(fbuf));
	((struct rfs_io_req *)(void *)PAY)->size += 1;
	reseal();
	emit("bad-write-size", frame_len(), false, false);
	rfs_tf_req(RFS_OP_RENAME, fbuf, sizeof(fbuf));
	((struct rfs_rename_req *)(void *)PAY)->flags = RFS_RENAME_NOREPLACE |
							RFS_RENAME_EXCHANGE;
	reseal();
	emit("bad-rename-flags", frame_len(), false, false);
	rfs_tf_req(RFS_OP_SETLK, fbuf, sizeof(fbuf));
	((struct rfs_lock_req *)(void *)PAY)->lock.end = 0;
	reseal();
	emit("bad-setlk-range", frame_len(), false, false);
	rfs_tf_req(RFS_OP_SETATTR, fbuf, sizeof(fbuf));
	((struct rfs_setattr_req *)(void *)PAY)->atime_ns = 1000000000;
	reseal();
	emit("bad-setattr-nsec", frame_len(), false, false);

	/* replies */
	rfs_tf_rep(RFS_OP_LOOKUP, fbuf, sizeof(fbuf));
	set_len(0);
	HDR->status = -ENOENT;
	reseal();
	emit("rep-error-enoent", frame_len(), true, true);
	set_len(8);
	HDR->status = -ESTALE;
	HDR->flags |= RFS_HF_UNKNOWN_NODE;
	((struct rfs_unknown_node *)(void *)PAY)->nodeid = TF_NODE;
	reseal();
	emit("rep-unknown-node", frame_len(), true, true);
	HDR->status = 3;
	reseal();
	emit("bad-rep-status", frame_len(), true, false);
	rfs_tf_rep(RFS_OP_LOOKUP, fbuf, sizeof(fbuf));
	set_len(sizeof(struct rfs_entry) + TF_HANDLE_LEN);
	emit("bad-rep-lookup-unpadded", frame_len(), true, false);
	rfs_tf_rep(RFS_OP_READDIRPLUS, fbuf, sizeof(fbuf));
	((struct rfs_dirent *)(void *)(PAY + rfs_proto_dirent_size(1, 0) +
				       rfs_proto_dirent_size(2, 0)))
		->name_len = 3000;
	reseal();
	emit("bad-rep-readdir-overrun", frame_len(), true, false);
	rfs_tf_rep(RFS_OP_READDIRPLUS, fbuf, sizeof(fbuf));
	set_len(HDR->len - 8);
	emit("bad-rep-readdir-short", frame_len(), true, false);
	rfs_tf_rep(RFS_OP_READLINK, fbuf, sizeof(fbuf));
	PAY[0] = 0;
	reseal();
	emit("bad-rep-readlink-nul", frame_len(), true, false);
}

/* the caller's groups at the end of the frame in fbuf (1.2) */
static void add_groups(uint32_t n, uint32_t count, uint32_t pad)
{
	struct rfs_groups_tail t = { .count = count, .pad = pad };

	for (uint32_t i = 0; i < n; i++) {
		uint32_t g = 1000 + 7 * i;

		memcpy(PAY + HDR->len + 4 * i, &g, 4);
	}
	HDR->len += 4 * n;
	memcpy(PAY + HDR->len, &t, sizeof(t));
	HDR->len += sizeof(t);
	HDR->flags |= RFS_HF_GROUPS;
	reseal();
}

static void groups(void)
{
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	add_groups(3, 3, 0);
	emit("req-getattr-groups", frame_len(), false, true);
	rfs_tf_req(RFS_OP_WRITE, fbuf, sizeof(fbuf));
	add_groups(RFS_GROUPS_MAX, RFS_GROUPS_MAX, 0);
	emit("req-write-groups-max", frame_len(), false, true);
	rfs_tf_req(RFS_OP_RENAME, fbuf, sizeof(fbuf));
	add_groups(1, 1, 0);
	emit("req-rename-groups", frame_len(), false, true);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	add_groups(0, 0, 0);
	emit("bad-groups-zero", frame_len(), false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	add_groups(2, 2, 1);
	emit("bad-groups-pad", frame_len(), false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	add_groups(2, 9, 0);
	emit("bad-groups-count", frame_len(), false, false);
	rfs_tf_req(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	add_groups(RFS_GROUPS_MAX + 1, RFS_GROUPS_MAX + 1, 0);
	emit("bad-groups-many", frame_len(), false, false);
	rfs_tf_rep(RFS_OP_GETATTR, fbuf, sizeof(fbuf));
	HDR->flags |= RFS_HF_GROUPS;
	reseal();
	emit("bad-rep-groups", frame_len(), true, false);
}

/* notifications (1.4): the two kinds, and malformed ones */
static void notifies(void)
{
	struct rfs_notify *q = (struct rfs_notify *)(void *)PAY;
	int n;

	n = rfs_proto_build_notify(fbuf, sizeof(fbuf), RFS_NOTIFY_INODE,
				   0x1122334455667788ull, 0, NULL, 0, true);
	emit("notify-inode", (uint32_t)n, false, true);
	n = rfs_proto_build_notify(fbuf, sizeof(fbuf), RFS_NOTIFY_ENTRY, 99,
				   0x1122334455667788ull, "name", 4, true);
	emit("notify-entry", (uint32_t)n, false, true);
	q->kind = 9;
	reseal();
	emit("bad-notify-kind", frame_len(), false, false);
	rfs_proto_build_notify(fbuf, sizeof(fbuf), RFS_NOTIFY_ENTRY, 99, 98,
			       "na", 2, true);
	memcpy(PAY + sizeof(*q), "..", 2);
	reseal();
	emit("bad-notify-dotdot", frame_len(), false, false);
	rfs_proto_build_notify(fbuf, sizeof(fbuf), RFS_NOTIFY_ENTRY, 99, 98,
			       "name", 4, true);
	q->name_len = 200;
	reseal();
	emit("bad-notify-namelen", frame_len(), false, false);
	rfs_proto_build_notify(fbuf, sizeof(fbuf), RFS_NOTIFY_INODE, 99, 0,
			       NULL, 0, true);
	HDR->id = 5;
	reseal();
	emit("bad-notify-id", frame_len(), false, false);
}

int main(int argc, char **argv)
{
	char name[64];
	unsigned op;
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "gen_corpus: mkdir %s: %s\n", outdir,
			strerror(errno));
		return 1;
	}
	for (op = 0; op < RFS_OP_MAX_; op++) {
		if (!rfs_proto_op_known(op))
			continue;
		n = rfs_tf_req((uint16_t)op, fbuf, sizeof(fbuf));
		if (n < 0) {
			fprintf(stderr, "gen_corpus: build req %s: %d\n",
				rfs_proto_op_name(op), n);
			nbad++;
			continue;
		}
		snprintf(name, sizeof(name), "req-%s", rfs_proto_op_name(op));
		emit(name, (uint32_t)n, false, true);
		n = rfs_tf_rep((uint16_t)op, fbuf, sizeof(fbuf));
		if (n < 0)
			continue; /* FORGET has no reply */
		snprintf(name, sizeof(name), "rep-%s", rfs_proto_op_name(op));
		emit(name, (uint32_t)n, true, true);
	}
	malformed();
	groups();
	notifies();
	printf("gen_corpus: %u seeds written to %s, %u problems\n", nwritten,
	       outdir, nbad);
	return nbad ? 1 : 0;
}
