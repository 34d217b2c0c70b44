// SPDX-License-Identifier: MIT
/*
 * fuzz_decode: the libFuzzer target for proto/.  Arbitrary bytes are a
 * frame; every check and decoder runs on them, for the opcode the frame
 * names and, with the header patched, for every other opcode too (so the
 * fuzzer need not guess an opcode to reach a decoder).  Whatever a decoder
 * accepts is read byte by byte, so ASan sees any view that points outside
 * the frame.  With gcc, replay.c runs the corpus through the same code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void touch(const void *p, uint32_t n)
{
	const uint8_t *q = p;
	uint8_t s = 0;
	uint32_t i;

	if (n && !p)
		abort(); /* a length without its bytes */
	for (i = 0; i < n; i++)
		s ^= q[i];
	sink ^= s;
}

/* returns what the walk ended with: 0 at the end, < 0 on a bad record */
static int walk_dirents(const void *p, uint32_t len)
{
	struct rfs_dirent_view dv;
	uint32_t pos = 0, last = 0;
	int ret;

	while ((ret = rfs_proto_dirent_next(p, len, &pos, &dv)) > 0) {
		if (pos <= last || pos > len)
			abort(); /* the walk must make progress */
		last = pos;
		touch(dv.d, sizeof(*dv.d));
		touch(dv.name, dv.d->name_len);
		if (dv.handle)
			touch(dv.handle, dv.d->entry.handle_len);
	}
	return ret;
}

static void run_req(const struct rfs_hdr *h, const uint8_t *pay)
{
	struct rfs_req_view v;

	if (rfs_proto_decode_req(h, pay, &v))
		return;
	touch(v.name, v.name_len);
	touch(v.name2, v.name2_len);
	touch(v.data, v.data_len);
	touch(v.forgets, v.nforget * (uint32_t)sizeof(*v.forgets));
	if (v.name && v.op != RFS_OP_HELLO && v.op != RFS_OP_SETXATTR &&
	    v.op != RFS_OP_GETXATTR && v.op != RFS_OP_REMOVEXATTR &&
	    rfs_proto_check_name(v.name, v.name_len))
		abort(); /* accepted a name the rules refuse */
}

static void run_rep(const struct rfs_hdr *h, const uint8_t *pay, uint16_t op)
{
	struct rfs_rep_view v;

	if (rfs_proto_decode_rep(h, pay, op, &v))
		return;
	touch(v.handle, v.handle_len);
	touch(v.data, v.data_len);
	if (v.handle_len > RFS_HANDLE_MAX)
		abort();
	/* a validated READDIRPLUS reply must walk to its end cleanly */
	if (op == RFS_OP_READDIRPLUS && h->status == 0 &&
	    walk_dirents(v.data, v.data_len) != 0)
		abort();
}

/* a notification (1.4): what a client's loop does with one */
static void run_notify(const struct rfs_hdr *h, const uint8_t *pay)
{
	struct rfs_notify_view v;

	if (rfs_proto_decode_notify(h, pay, &v))
		return;
	touch(v.name, v.name_len);
	if (v.kind == RFS_NOTIFY_ENTRY &&
	    rfs_proto_check_name(v.name, v.name_len))
		abort(); /* accepted a name the rules refuse */
	if (v.kind != RFS_NOTIFY_INODE && v.kind != RFS_NOTIFY_ENTRY)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rfs_hdr hc;
	struct rfs_hdr *h;
	const uint8_t *pay;
	uint8_t *buf;
	uint32_t avail;
	unsigned op;

	if (size > RFS_MSG_MAX_LIMIT)
		return 0;
	/* an exact-size, 16-byte aligned copy: ASan flags any overread */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	buf[0] = 0;
	if (size)
		memcpy(buf, data, size);
	rfs_proto_check_frame(buf, (uint32_t)size, RFS_MSG_MAX_LIMIT);
	if (size < RFS_HDR_SIZE)
		goto out;

	h = (struct rfs_hdr *)(void *)buf;
	pay = buf + RFS_HDR_SIZE;
	avail = (uint32_t)(size - RFS_HDR_SIZE);
	rfs_proto_check_hdr(h, RFS_MSG_MAX_LIMIT);
	rfs_proto_check_hdr(h, RFS_MSG_MAX_DEFAULT);
	rfs_proto_check_hdr(h, 4096);
	/* raw walk over whatever follows the header */
	walk_dirents(pay, avail & ~7u);
	walk_dirents(pay, avail);
	if (h->len > avail)
		goto out; /* a transport never hands over a short frame */

	rfs_proto_verify(h, pay, false);
	rfs_proto_verify(h, pay, true);
	run_req(h, pay);
	run_rep(h, pay, h->opcode);
	run_notify(h, pay);

	/* the same bytes as every op's request and reply */
	hc = *h;
	for (op = 0; op <= RFS_OP_MAX_; op++) {
		hc.opcode = (uint16_t)op;
		hc.flags &= ~RFS_HF_REPLY;
		run_req(&hc, pay);
		hc.flags |= RFS_HF_REPLY;
		run_rep(&hc, pay, (uint16_t)op);
	}
	/* and as a notification */
	hc = *h;
	hc.opcode = RFS_NOTIFY_OPCODE;
	hc.flags = RFS_HF_NOTIFY;
	hc.id = 0;
	hc.status = 0;
	run_notify(&hc, pay);
out:
	free(buf);
	return 0;
}
