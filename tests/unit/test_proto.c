// SPDX-License-Identifier: MIT
/*
 * test_proto: every opcode round-trips through the builders and the
 * decoders, and every malformed frame we can think of is refused with the
 * documented error.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "frames.h"
#include "proto.h"
#include "t.h"

#define MAXMSG RFS_MSG_MAX_DEFAULT

/* one 8-byte aligned frame buffer, big enough for the largest write */
static uint64_t fbuf[(RFS_MSG_MAX_DEFAULT + 64) / 8];
#define FRAME ((uint8_t *)fbuf)
#define HDR ((struct rfs_hdr *)(void *)fbuf)
#define PAY (FRAME + RFS_HDR_SIZE)
#define FCAP ((uint32_t)sizeof(fbuf))

static void reseal(void)
{
	rfs_proto_seal(HDR, true);
}

/* what a server does with a received request */
static int full_req(struct rfs_req_view *v)
{
	int ret = rfs_proto_check_hdr(HDR, MAXMSG);

	if (ret)
		return ret;
	ret = rfs_proto_verify(HDR, PAY, true);
	if (ret)
		return ret;
	return rfs_proto_decode_req(HDR, PAY, v);
}

/* what a client does with a received reply to op */
static int full_rep(uint16_t op, struct rfs_rep_view *v)
{
	int ret = rfs_proto_check_hdr(HDR, MAXMSG);

	if (ret)
		return ret;
	ret = rfs_proto_verify(HDR, PAY, true);
	if (ret)
		return ret;
	return rfs_proto_decode_rep(HDR, PAY, op, v);
}

static int req_of(uint16_t op)
{
	return rfs_tf_req(op, fbuf, FCAP);
}

static int rep_of(uint16_t op)
{
	return rfs_tf_rep(op, fbuf, FCAP);
}

/* change the payload length (bytes beyond are zero) and reseal */
static void set_len(uint32_t len)
{
	if (len > FCAP - RFS_HDR_SIZE || HDR->len > FCAP - RFS_HDR_SIZE) {
		T_OK(!"set_len: frame larger than the test buffer");
		return;
	}
	if (len > HDR->len)
		memset(PAY + HDR->len, 0, len - HDR->len);
	HDR->len = len;
	reseal();
}

/* ---- round trips ------------------------------------------------------ */

static bool trunc_exempt_req(uint16_t op)
{
	/* a shorter PING is another valid PING; RESOLVE may drop its pad */
	return op == RFS_OP_PING || op == RFS_OP_RESOLVE;
}

static bool trunc_exempt_rep(uint16_t op)
{
	return op == RFS_OP_PING || op == RFS_OP_READ ||
	       op == RFS_OP_READLINK || op == RFS_OP_GETXATTR ||
	       op == RFS_OP_LISTXATTR || op == RFS_OP_READDIRPLUS;
}

static void test_every_op(void)
{
	struct rfs_req_view v;
	struct rfs_rep_view r;
	unsigned op, nknown = 0;
	uint32_t full, l;
	int n;

	for (op = 0; op < RFS_OP_MAX_ + 8; op++) {
		if (!rfs_proto_op_known(op)) {
			T_EQ(req_of((uint16_t)op), -EINVAL);
			continue;
		}
		nknown++;
		n = req_of((uint16_t)op);
		T_OK(n >= (int)RFS_HDR_SIZE);
		T_EQ(rfs_proto_check_frame(fbuf, (uint32_t)n, MAXMSG), 0);
		T_EQ(full_req(&v), 0);
		T_EQ(v.op, op);
		T_EQ(HDR->id, TF_ID);
		T_EQ(HDR->uid, 1000);
		T_OK(HDR->flags & RFS_HF_CSUM);
		T_OK(!(HDR->flags & RFS_HF_REPLY));

		/* every shorter payload is refused */
		full = HDR->len;
		for (l = 0; l < full && !trunc_exempt_req((uint16_t)op); l++) {
			set_len(l);
			if (rfs_proto_decode_req(HDR, PAY, &v) == 0) {
				fprintf(stderr, "req %s accepted at %u/%u\n",
					rfs_proto_op_name(op), l, full);
				T_OK(0);
			}
		}
		/* and so is trailing garbage */
		req_of((uint16_t)op);
		set_len(full + 8);
		if (op == RFS_OP_PING)
			T_EQ(rfs_proto_decode_req(HDR, PAY, &v), 0);
		else
			T_OK(rfs_proto_decode_req(HDR, PAY, &v) < 0);
		/* a request is not a reply */
		req_of((uint16_t)op);
		T_EQ(rfs_proto_decode_rep(HDR, PAY, (uint16_t)op, &r), -EPROTO);

		n = rep_of((uint16_t)op);
		if (op == RFS_OP_FORGET) {
			T_EQ(n, -EINVAL);
			continue;
		}
		T_OK(n >= (int)RFS_HDR_SIZE);
		T_EQ(full_rep((uint16_t)op, &r), 0);
		T_OK(HDR->flags & RFS_HF_REPLY);
		T_EQ(HDR->opcode, op);
		T_EQ(HDR->id, TF_ID);
		/* a reply is not a request, nor a reply to another op */
		T_EQ(rfs_proto_decode_req(HDR, PAY, &v), -EPROTO);
		T_EQ(rfs_proto_decode_rep(HDR, PAY, (uint16_t)(op + 1), &r),
		     -EPROTO);
		full = HDR->len;
		for (l = 0; l < full && !trunc_exempt_rep((uint16_t)op); l++) {
			set_len(l);
			if (rfs_proto_decode_rep(HDR, PAY, (uint16_t)op, &r) ==
			    0) {
				fprintf(stderr, "rep %s accepted at %u/%u\n",
					rfs_proto_op_name(op), l, full);
				T_OK(0);
			}
		}
		rep_of((uint16_t)op);
		set_len(full + 8);
		if (op == RFS_OP_PING || op == RFS_OP_READ)
			T_EQ(rfs_proto_decode_rep(HDR, PAY, (uint16_t)op, &r),
			     0);
		else
			T_EQ(rfs_proto_decode_rep(HDR, PAY, (uint16_t)op, &r),
			     -EPROTO);
	}
	T_EQ(nknown, 44);
}

static void test_req_fields(void)
{
	struct rfs_req_view v;
	uint8_t h[TF_HANDLE_LEN], d[TF_DATA_LEN];
	const struct rfs_name_req *nq;
	const struct rfs_rename_req *rq;
	const struct rfs_io_req *io;

	rfs_tf_handle(h);
	rfs_tf_data(d, sizeof(d));

	req_of(RFS_OP_HELLO);
	T_EQ(full_req(&v), 0);
	T_EQ(v.name_len, strlen(TF_EXPORT));
	T_OK(!memcmp(v.name, TF_EXPORT, v.name_len));
	T_EQ(((const struct rfs_hello_req *)v.fixed)->max_inflight, 64);

	req_of(RFS_OP_LOOKUP);
	T_EQ(full_req(&v), 0);
	nq = v.fixed;
	T_EQ(nq->parent, TF_NODE);
	T_EQ(v.name_len, strlen(TF_NAME));
	T_OK(!memcmp(v.name, TF_NAME, v.name_len));
	T_OK(v.name2 == NULL && v.data == NULL);

	req_of(RFS_OP_RENAME);
	T_EQ(full_req(&v), 0);
	rq = v.fixed;
	T_EQ(rq->newparent, TF_NODE2);
	T_EQ(rq->flags, RFS_RENAME_NOREPLACE);
	T_OK(v.name_len == strlen(TF_NAME) && !memcmp(v.name, TF_NAME, 8));
	T_OK(v.name2_len == strlen(TF_NAME2) &&
	     !memcmp(v.name2, TF_NAME2, v.name2_len));

	req_of(RFS_OP_SYMLINK);
	T_EQ(full_req(&v), 0);
	T_OK(v.name2_len == strlen(TF_TARGET) &&
	     !memcmp(v.name2, TF_TARGET, v.name2_len));
	req_of(RFS_OP_MKDIR);
	T_EQ(full_req(&v), 0);
	T_OK(v.name2 == NULL && v.name2_len == 0);

	req_of(RFS_OP_WRITE);
	T_EQ(full_req(&v), 0);
	io = v.fixed;
	T_EQ(io->offset, 1u << 20);
	T_OK(v.data_len == TF_DATA_LEN && !memcmp(v.data, d, sizeof(d)));

	req_of(RFS_OP_SETXATTR);
	T_EQ(full_req(&v), 0);
	T_OK(v.name_len == strlen(TF_XNAME) &&
	     !memcmp(v.name, TF_XNAME, v.name_len));
	T_OK(v.data_len == TF_DATA_LEN && !memcmp(v.data, d, sizeof(d)));

	req_of(RFS_OP_PING);
	T_EQ(full_req(&v), 0);
	T_OK(v.data_len == TF_DATA_LEN && !memcmp(v.data, d, sizeof(d)));

	req_of(RFS_OP_RESOLVE);
	T_EQ(full_req(&v), 0);
	T_OK(v.data_len == TF_HANDLE_LEN && !memcmp(v.data, h, sizeof(h)));
	/* the handle may also come unpadded, but not over-padded */
	set_len(sizeof(struct rfs_resolve_req) + TF_HANDLE_LEN);
	T_EQ(full_req(&v), 0);
	set_len(sizeof(struct rfs_resolve_req) + TF_HANDLE_LEN + 1);
	T_EQ(full_req(&v), -EPROTO); /* half a pad */
	set_len(sizeof(struct rfs_resolve_req) + TF_HANDLE_LEN + 3 + 8);
	T_EQ(full_req(&v), -EPROTO);

	req_of(RFS_OP_FORGET);
	T_EQ(full_req(&v), 0);
	T_EQ(v.nforget, TF_NFORGET);
	T_EQ(v.forgets[2].nodeid, TF_NODE + 2);
	T_EQ(v.forgets[2].nlookup, 3);
}

static void test_rep_fields(void)
{
	struct rfs_rep_view r;
	struct rfs_dirent_view dv;
	uint8_t h[TF_HANDLE_LEN], d[TF_DATA_LEN];
	uint32_t pos = 0, n = 0;
	int ret;

	rfs_tf_handle(h);
	rfs_tf_data(d, sizeof(d));

	rep_of(RFS_OP_HELLO);
	T_EQ(full_rep(RFS_OP_HELLO, &r), 0);
	T_EQ(((const struct rfs_hello_rep *)r.fixed)->root.nodeid, TF_NODE);
	T_OK(r.handle_len == TF_HANDLE_LEN && !memcmp(r.handle, h, 21));

	rep_of(RFS_OP_LOOKUP);
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), 0);
	T_EQ(((const struct rfs_entry *)r.fixed)->nodeid, TF_NODE2);
	T_OK(r.handle_len == TF_HANDLE_LEN && !memcmp(r.handle, h, 21));

	rep_of(RFS_OP_CREATE);
	T_EQ(full_rep(RFS_OP_CREATE, &r), 0);
	T_EQ(((const struct rfs_create_rep *)r.fixed)->fh, TF_FH);
	T_OK(r.handle_len == TF_HANDLE_LEN && !memcmp(r.handle, h, 21));

	rep_of(RFS_OP_READ);
	T_EQ(full_rep(RFS_OP_READ, &r), 0);
	T_OK(r.data_len == TF_DATA_LEN && !memcmp(r.data, d, sizeof(d)));
	set_len(0); /* EOF */
	T_EQ(full_rep(RFS_OP_READ, &r), 0);
	T_EQ(r.data_len, 0);

	rep_of(RFS_OP_READLINK);
	T_EQ(full_rep(RFS_OP_READLINK, &r), 0);
	T_OK(r.data_len == strlen(TF_TARGET) &&
	     !memcmp(r.data, TF_TARGET, r.data_len));

	rep_of(RFS_OP_GETXATTR);
	T_EQ(full_rep(RFS_OP_GETXATTR, &r), 0);
	T_OK(r.data_len == TF_DATA_LEN && !memcmp(r.data, d, sizeof(d)));
	set_len(sizeof(struct rfs_xattr_rep)); /* size query */
	T_EQ(full_rep(RFS_OP_GETXATTR, &r), 0);
	T_EQ(((const struct rfs_xattr_rep *)r.fixed)->size, TF_DATA_LEN);
	T_EQ(r.data_len, 0);
	set_len(sizeof(struct rfs_xattr_rep) + 1);
	T_EQ(full_rep(RFS_OP_GETXATTR, &r), -EPROTO);

	rep_of(RFS_OP_READDIRPLUS);
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), 0);
	while ((ret = rfs_proto_dirent_next(r.data, r.data_len, &pos, &dv)) >
	       0) {
		T_EQ(dv.d->off, n + 1);
		if (n < 2) {
			T_EQ(dv.d->entry.nodeid, 0);
			T_OK(dv.handle == NULL);
			T_EQ(dv.d->name_len, n + 1);
		} else {
			T_EQ(dv.d->entry.nodeid, TF_NODE + n);
			T_OK(!memcmp(dv.handle, h, sizeof(h)));
			T_OK(!memcmp(dv.name, n == 2 ? TF_NAME : TF_NAME2,
				     dv.d->name_len));
		}
		T_EQ(pos % 8, 0);
		n++;
	}
	T_EQ(ret, 0);
	T_EQ(n, TF_NDIRENT);
	T_EQ(pos, r.data_len);
	/* cut at a record boundary: still valid; anywhere else: not */
	set_len(rfs_proto_dirent_size(1, 0) + rfs_proto_dirent_size(2, 0));
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), 0);
	set_len(HDR->len - 8);
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	set_len(0); /* end of directory */
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), 0);
	pos = 0;
	T_EQ(rfs_proto_dirent_next(PAY, 0, &pos, &dv), 0);
}

/* ---- header ----------------------------------------------------------- */

static void test_header(void)
{
	struct rfs_req_view v;
	uint32_t n;

	req_of(RFS_OP_GETATTR);
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), 0);
	HDR->magic ^= 1;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EBADMSG);
	req_of(RFS_OP_GETATTR);
	HDR->major = RFS_PROTO_MAJOR + 1;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTONOSUPPORT);
	HDR->major = 0;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTONOSUPPORT);
	req_of(RFS_OP_GETATTR);
	HDR->minor = 200; /* newer minor: compatible */
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), 0);

	/* bit 4 is RFS_HF_GROUPS (1.2): test_proto_groups.c */
	for (n = 5; n < 32; n++) {
		req_of(RFS_OP_GETATTR);
		HDR->flags |= 1u << n;
		T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
	}
	{
		static const uint16_t bad_ops[] = { 0,		 10,  15,
						    RFS_OP_MAX_, 100, 0xffff };

		for (n = 0; n < sizeof(bad_ops) / sizeof(bad_ops[0]); n++) {
			req_of(RFS_OP_GETATTR);
			HDR->opcode = bad_ops[n];
			T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
			/* and the decoder refuses it on its own too */
			T_EQ(rfs_proto_decode_req(HDR, PAY, &v), -EPROTO);
		}
	}

	/* length limits */
	req_of(RFS_OP_PING);
	HDR->len = MAXMSG - RFS_HDR_SIZE;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), 0);
	HDR->len++;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EMSGSIZE);
	HDR->len = RFS_MSG_MAX_LIMIT - RFS_HDR_SIZE + 1;
	T_EQ(rfs_proto_check_hdr(HDR, UINT32_MAX), -EMSGSIZE);
	HDR->len = UINT32_MAX;
	T_EQ(rfs_proto_check_hdr(HDR, UINT32_MAX), -EMSGSIZE);
	HDR->len = RFS_MSG_MAX_LIMIT - RFS_HDR_SIZE;
	T_EQ(rfs_proto_check_hdr(HDR, UINT32_MAX), 0);
	HDR->len = 0;
	T_EQ(rfs_proto_check_hdr(HDR, RFS_HDR_SIZE), 0);
	T_EQ(rfs_proto_check_hdr(HDR, RFS_HDR_SIZE - 1), -EMSGSIZE);
	T_EQ(rfs_proto_check_hdr(HDR, 0), -EMSGSIZE);

	/* request/reply consistency */
	req_of(RFS_OP_GETATTR);
	HDR->status = -EIO;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
	req_of(RFS_OP_GETATTR);
	HDR->flags |= RFS_HF_UNKNOWN_NODE;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
	req_of(RFS_OP_GETATTR);
	HDR->flags |= RFS_HF_REPLAY; /* a resent request is fine */
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), 0);

	rep_of(RFS_OP_GETATTR);
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), 0);
	HDR->flags |= RFS_HF_REPLAY;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
	rep_of(RFS_OP_GETATTR);
	HDR->status = 1;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
	HDR->status = -4096;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
	HDR->status = INT32_MIN;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
	HDR->status = -4095;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), 0);
	HDR->status = -ENOENT;
	HDR->flags |= RFS_HF_UNKNOWN_NODE; /* only with -ESTALE */
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
	HDR->status = -ESTALE;
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), 0);
	rep_of(RFS_OP_GETATTR);
	HDR->opcode = RFS_OP_FORGET; /* forget has no reply */
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);

	/* whole frames: truncated header, truncated or long payload */
	n = (uint32_t)req_of(RFS_OP_GETATTR);
	T_EQ(rfs_proto_check_frame(fbuf, n, MAXMSG), 0);
	T_EQ(rfs_proto_check_frame(fbuf, RFS_HDR_SIZE - 1, MAXMSG), -EPROTO);
	T_EQ(rfs_proto_check_frame(fbuf, 0, MAXMSG), -EPROTO);
	T_EQ(rfs_proto_check_frame(fbuf, n - 1, MAXMSG), -EPROTO);
	T_EQ(rfs_proto_check_frame(fbuf, n + 1, MAXMSG), -EPROTO);
	HDR->magic = 0;
	T_EQ(rfs_proto_check_frame(fbuf, n, MAXMSG), -EBADMSG);
}

/* ---- checksum --------------------------------------------------------- */

static void test_csum(void)
{
	static uint64_t raw[512 / 8];
	struct rfs_hdr hc;
	uint32_t n, i;

	/* the library is the one we think it is */
	T_EQ(XXH3_64bits("", 0), 0x2D06800538D394C2ull);

	/* known answer: XXH3 over a hand-assembled header+payload */
	n = (uint32_t)req_of(RFS_OP_WRITE);
	T_OK(n <= sizeof(raw));
	memcpy(raw, fbuf, n);
	memset((uint8_t *)raw + offsetof(struct rfs_hdr, csum), 0, 8);
	T_EQ(HDR->csum, XXH3_64bits(raw, n));
	T_EQ(rfs_proto_csum(HDR, PAY), XXH3_64bits(raw, n));
	/* header and payload need not be contiguous */
	hc = *HDR;
	T_EQ(rfs_proto_csum(&hc, PAY), HDR->csum);
	/* header-only frame */
	n = (uint32_t)req_of(RFS_OP_BYE);
	memcpy(raw, fbuf, n);
	memset((uint8_t *)raw + offsetof(struct rfs_hdr, csum), 0, 8);
	T_EQ(HDR->csum, XXH3_64bits(raw, RFS_HDR_SIZE));

	/* any flipped bit, header or payload, is caught */
	n = (uint32_t)req_of(RFS_OP_WRITE);
	for (i = 0; i < n; i++) {
		req_of(RFS_OP_WRITE);
		FRAME[i] ^= 0x10;
		if (i >= offsetof(struct rfs_hdr, len) &&
		    i < offsetof(struct rfs_hdr, len) + 4)
			continue; /* length: the frame is another size */
		T_EQ(rfs_proto_verify(HDR, PAY, false), -EBADMSG);
	}
	req_of(RFS_OP_WRITE);
	HDR->flags |= RFS_HF_REPLAY; /* flags are covered too */
	T_EQ(rfs_proto_verify(HDR, PAY, false), -EBADMSG);

	/* missing checksum: fine unless negotiated */
	req_of(RFS_OP_WRITE);
	rfs_proto_seal(HDR, false);
	T_OK(!(HDR->flags & RFS_HF_CSUM));
	T_EQ(HDR->csum, 0);
	T_EQ(rfs_proto_verify(HDR, PAY, false), 0);
	T_EQ(rfs_proto_verify(HDR, PAY, true), -EBADMSG);
	rfs_proto_seal(HDR, true);
	T_EQ(rfs_proto_verify(HDR, PAY, true), 0);
	HDR->csum++;
	T_EQ(rfs_proto_verify(HDR, PAY, true), -EBADMSG);
	T_EQ(rfs_proto_verify(HDR, PAY, false), -EBADMSG);
}

/* ---- builders --------------------------------------------------------- */

static void test_builders(void)
{
	uint64_t small[32];
	struct rfs_mb b;
	struct rfs_hdr req;
	struct rfs_entry e;
	uint8_t *p;

	rfs_mb_init(&b, small, RFS_HDR_SIZE - 1, RFS_OP_PING, 1);
	T_EQ(b.err, -EMSGSIZE);
	T_OK(rfs_mb_put(&b, 0) == NULL);
	T_EQ(rfs_mb_finish(&b, true), -EMSGSIZE);

	rfs_mb_init(&b, small, sizeof(small), RFS_OP_PING, 5);
	T_EQ(b.len, RFS_HDR_SIZE);
	T_EQ(rfs_mb_hdr(&b)->magic, RFS_MAGIC);
	T_EQ(rfs_mb_hdr(&b)->major, RFS_PROTO_MAJOR);
	T_EQ(rfs_mb_hdr(&b)->minor, RFS_PROTO_MINOR);
	T_EQ(rfs_mb_hdr(&b)->opcode, RFS_OP_PING);
	T_EQ(rfs_mb_hdr(&b)->id, 5);
	T_EQ(rfs_mb_put_bytes(&b, "abc", 3), 0);
	T_EQ(rfs_mb_pad8(&b), 0);
	T_EQ(b.len, RFS_HDR_SIZE + 8);
	T_EQ(rfs_mb_pad8(&b), 0); /* already aligned: no-op */
	T_EQ(b.len, RFS_HDR_SIZE + 8);
	p = rfs_mb_put(&b, 8);
	T_OK(p != NULL && p[0] == 0 && p[7] == 0);
	T_OK(rfs_mb_put(&b, sizeof(small)) == NULL);
	T_EQ(b.err, -EMSGSIZE);
	T_OK(rfs_mb_put(&b, 1) == NULL); /* the error sticks */
	T_EQ(rfs_mb_put_bytes(&b, "x", 1), -EMSGSIZE);
	T_EQ(rfs_mb_finish(&b, true), -EMSGSIZE);

	rfs_mb_init(&b, small, sizeof(small), RFS_OP_PING, 5);
	rfs_mb_put_bytes(&b, "abc", 3);
	T_EQ(rfs_mb_finish(&b, true), RFS_HDR_SIZE + 3);
	T_EQ(rfs_mb_hdr(&b)->len, 3);
	T_EQ(rfs_proto_verify(rfs_mb_hdr(&b), (uint8_t *)small + 48, true), 0);

	/* a reply written over its own request */
	rfs_mb_reply(&b, small, sizeof(small), rfs_mb_hdr(&b), -ENOENT);
	T_EQ(rfs_mb_hdr(&b)->opcode, RFS_OP_PING);
	T_EQ(rfs_mb_hdr(&b)->id, 5);
	T_EQ(rfs_mb_hdr(&b)->status, -ENOENT);
	T_EQ(rfs_mb_hdr(&b)->flags, RFS_HF_REPLY);
	T_EQ(rfs_mb_finish(&b, false), RFS_HDR_SIZE);
	T_EQ(rfs_proto_check_hdr(rfs_mb_hdr(&b), MAXMSG), 0);

	/* a dirent that does not fit leaves the builder usable */
	memset(&req, 0, sizeof(req));
	req.opcode = RFS_OP_READDIRPLUS;
	rfs_mb_reply(&b, small, sizeof(small), &req, 0);
	rfs_tf_entry(&e, TF_NODE);
	e.handle_len = 0;
	T_EQ(rfs_mb_put_dirent(&b, 1, 8, &e, "a", 1, NULL), 0);
	T_EQ(rfs_mb_put_dirent(&b, 2, 8, &e, "b", 1, NULL), -EMSGSIZE);
	T_EQ(b.err, 0);
	T_EQ(rfs_mb_finish(&b, true), RFS_HDR_SIZE + 128 + 8);
	T_EQ(rfs_proto_dirent_size(1, 0), 136);
	T_EQ(rfs_proto_dirent_size(0, 0), 128);
	T_EQ(rfs_proto_dirent_size(255, RFS_HANDLE_MAX), 128 + 416);
	T_OK(rfs_proto_dirent_size(UINT32_MAX, UINT32_MAX) >= 1u << 31);
}

/* ---- names ------------------------------------------------------------ */

/* a request of op carrying name (and name2 for rename/symlink) */
static void named_req(uint16_t op, const char *n1, uint32_t l1, const char *n2,
		      uint32_t l2)
{
	struct rfs_mb b;

	rfs_mb_init(&b, fbuf, FCAP, op, 9);
	switch (op) {
	case RFS_OP_LOOKUP:
	case RFS_OP_UNLINK:
	case RFS_OP_RMDIR: {
		struct rfs_name_req *q = rfs_mb_put(&b, sizeof(*q));

		q->parent = TF_NODE;
		q->name_len = (uint16_t)l1;
		break;
	}
	case RFS_OP_MKDIR:
	case RFS_OP_MKNOD:
	case RFS_OP_CREATE:
	case RFS_OP_SYMLINK: {
		struct rfs_make_req *q = rfs_mb_put(&b, sizeof(*q));

		q->parent = TF_NODE;
		q->name_len = (uint16_t)l1;
		q->target_len = (uint16_t)l2;
		break;
	}
	case RFS_OP_RENAME: {
		struct rfs_rename_req *q = rfs_mb_put(&b, sizeof(*q));

		q->parent = TF_NODE;
		q->newparent = TF_NODE;
		q->name_len = (uint16_t)l1;
		q->newname_len = (uint16_t)l2;
		break;
	}
	case RFS_OP_LINK: {
		struct rfs_link_req *q = rfs_mb_put(&b, sizeof(*q));

		q->nodeid = TF_NODE;
		q->newparent = TF_NODE;
		q->name_len = (uint16_t)l1;
		break;
	}
	case RFS_OP_SETXATTR:
	case RFS_OP_GETXATTR:
	case RFS_OP_REMOVEXATTR: {
		struct rfs_xattr_req *q = rfs_mb_put(&b, sizeof(*q));

		q->nodeid = TF_NODE;
		q->name_len = (uint16_t)l1;
		q->size = l2;
		break;
	}
	case RFS_OP_HELLO: {
		struct rfs_hello_req *q = rfs_mb_put(&b, sizeof(*q));

		q->max_msg = MAXMSG;
		q->max_inflight = 1;
		q->export_len = (uint16_t)l1;
		break;
	}
	}
	rfs_mb_put_bytes(&b, n1, l1);
	rfs_mb_put_bytes(&b, n2, l2);
	rfs_mb_finish(&b, true);
}

static void test_names(void)
{
	static const uint16_t ops[] = {
		RFS_OP_LOOKUP,	RFS_OP_UNLINK, RFS_OP_RMDIR,
		RFS_OP_MKDIR,	RFS_OP_MKNOD,  RFS_OP_CREATE,
		RFS_OP_SYMLINK, RFS_OP_RENAME, RFS_OP_LINK,
	};
	static const struct {
		const char *s;
		uint32_t len;
		int err;
	} names[] = {
		{ "", 0, -EINVAL },	{ ".", 1, -EINVAL },
		{ "..", 2, -EINVAL },	{ "/", 1, -EINVAL },
		{ "a/b", 3, -EINVAL },	{ "../x", 4, -EINVAL },
		{ "a\0b", 3, -EINVAL }, { "\0", 1, -EINVAL },
		{ "abc/", 4, -EINVAL }, { "...", 3, 0 },
		{ ".a", 2, 0 },		{ "a.", 2, 0 },
		{ "..a", 3, 0 },	{ "\xff\xfe weird \\ name:*?", 18, 0 },
	};
	char big[RFS_PATH_MAX + 1];
	struct rfs_req_view v;
	uint32_t i, j;
	const char *ok = "x";
	int want;

	memset(big, 'n', sizeof(big));
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		uint16_t op = ops[i];
		bool two = op == RFS_OP_RENAME || op == RFS_OP_SYMLINK;

		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
			named_req(op, names[j].s, names[j].len, ok,
				  two ? 1 : 0);
			T_EQ(full_req(&v), names[j].err);
			if (op == RFS_OP_RENAME) {
				named_req(op, ok, 1, names[j].s, names[j].len);
				T_EQ(full_req(&v), names[j].err);
			}
		}
		named_req(op, big, RFS_NAME_MAX, ok, two ? 1 : 0);
		T_EQ(full_req(&v), 0);
		named_req(op, big, RFS_NAME_MAX + 1, ok, two ? 1 : 0);
		T_EQ(full_req(&v), -ENAMETOOLONG);

		/* name_len past the end; trailing garbage */
		named_req(op, "abc", 3, ok, two ? 1 : 0);
		set_len(HDR->len - 1);
		T_EQ(full_req(&v), -EPROTO);
		named_req(op, "abc", 3, ok, two ? 1 : 0);
		set_len(HDR->len + 1);
		T_EQ(full_req(&v), -EPROTO);
	}
	T_EQ(rfs_proto_check_name("ok", 2), 0);
	T_EQ(rfs_proto_check_name(NULL, 0), -EINVAL);

	/* symlink targets: anything without NUL, 1..4095 bytes */
	named_req(RFS_OP_SYMLINK, "l", 1, "/etc/../passwd", 14);
	T_EQ(full_req(&v), 0);
	named_req(RFS_OP_SYMLINK, "l", 1, big, RFS_PATH_MAX - 1);
	T_EQ(full_req(&v), 0);
	named_req(RFS_OP_SYMLINK, "l", 1, big, RFS_PATH_MAX);
	T_EQ(full_req(&v), -ENAMETOOLONG);
	named_req(RFS_OP_SYMLINK, "l", 1, "", 0);
	T_EQ(full_req(&v), -EINVAL);
	named_req(RFS_OP_SYMLINK, "l", 1, "a\0b", 3);
	T_EQ(full_req(&v), -EINVAL);
	/* only SYMLINK carries a target */
	named_req(RFS_OP_MKDIR, "d", 1, "t", 1);
	T_EQ(full_req(&v), -EPROTO);

	/* xattr names: anything but NUL, '.' and '/' included */
	for (i = 0; i < 3; i++) {
		static const uint16_t xops[] = { RFS_OP_SETXATTR,
						 RFS_OP_GETXATTR,
						 RFS_OP_REMOVEXATTR };
		uint16_t op = xops[i];
		uint32_t vl = op == RFS_OP_SETXATTR ? 3 : 0;

		named_req(op, "trusted.a/b..", 13, "val", vl);
		T_EQ(full_req(&v), 0);
		named_req(op, ".", 1, "val", vl);
		T_EQ(full_req(&v), 0);
		named_req(op, "", 0, "val", vl);
		T_EQ(full_req(&v), -EINVAL);
		named_req(op, "user.\0", 6, "val", vl);
		T_EQ(full_req(&v), -EINVAL);
		named_req(op, big, RFS_XATTR_NAME_MAX, "val", vl);
		T_EQ(full_req(&v), 0);
		named_req(op, big, RFS_XATTR_NAME_MAX + 1, "val", vl);
		T_EQ(full_req(&v), -ENAMETOOLONG);
	}
	/* SETXATTR: size must be what follows */
	named_req(RFS_OP_SETXATTR, "user.a", 6, "val", 3);
	((struct rfs_xattr_req *)(void *)PAY)->size = 2;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	((struct rfs_xattr_req *)(void *)PAY)->size = 4;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	named_req(RFS_OP_GETXATTR, "user.a", 6, NULL, 0);
	((struct rfs_xattr_req *)(void *)PAY)->size = RFS_XATTR_SIZE_MAX + 1;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	/* LISTXATTR has no name */
	req_of(RFS_OP_LISTXATTR);
	((struct rfs_xattr_req *)(void *)PAY)->name_len = 1;
	set_len(HDR->len + 1);
	PAY[HDR->len - 1] = 'a';
	reseal();
	T_EQ(full_req(&v), -EPROTO);

	/* export names */
	named_req(RFS_OP_HELLO, "Ab9._-", 6, NULL, 0);
	T_EQ(full_req(&v), 0);
	named_req(RFS_OP_HELLO, big, RFS_EXPORT_NAME_MAX, NULL, 0);
	T_EQ(full_req(&v), 0);
	named_req(RFS_OP_HELLO, big, RFS_EXPORT_NAME_MAX + 1, NULL, 0);
	T_EQ(full_req(&v), -ENAMETOOLONG);
	{
		static const char *const bad[] = {
			"", "/data", "a/b", "a b", "..", ".", "é", "a\0"
		};

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			want = -EINVAL;
			named_req(RFS_OP_HELLO, bad[i],
				  i == 7 ? 2 : (uint32_t)strlen(bad[i]), NULL,
				  0);
			T_EQ(full_req(&v), want);
		}
	}
}

/* ---- per-op field rules ----------------------------------------------- */

#define REQ(type) ((type *)(void *)PAY)

static void test_req_rules(void)
{
	struct rfs_req_view v;
	struct rfs_mb b;
	uint32_t i;

	/* node ids 0 and 1 never name a node */
	req_of(RFS_OP_GETATTR);
	REQ(struct rfs_node_req)->nodeid = 0;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	REQ(struct rfs_node_req)->nodeid = 1;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_LOOKUP);
	REQ(struct rfs_name_req)->parent = 0;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_COPY_FILE_RANGE);
	REQ(struct rfs_copy_req)->nodeid_out = 1;
	reseal();
	T_EQ(full_req(&v), -EPROTO);

	/* want (1.5): RFS_WANT_FD on CREATE only, no unknown bits */
	req_of(RFS_OP_CREATE);
	REQ(struct rfs_make_req)->want = RFS_WANT_FD;
	reseal();
	T_EQ(full_req(&v), 0);
	REQ(struct rfs_make_req)->want = RFS_WANT_FD << 1;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_MKDIR);
	REQ(struct rfs_make_req)->want = RFS_WANT_FD;
	reseal();
	T_EQ(full_req(&v), -EPROTO);

	/* HELLO */
	req_of(RFS_OP_HELLO);
	REQ(struct rfs_hello_req)->features = ~0ull; /* newer client */
	reseal();
	T_EQ(full_req(&v), 0);
	REQ(struct rfs_hello_req)->max_msg = 100;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_HELLO);
	REQ(struct rfs_hello_req)->max_inflight = 0;
	reseal();
	T_EQ(full_req(&v), -EPROTO);

	/* AUTH: step, zero fields, export name rules, PROVE is bare */
	req_of(RFS_OP_AUTH);
	T_EQ(full_req(&v), 0);
	T_EQ(v.name_len, (uint32_t)strlen(TF_EXPORT));
	REQ(struct rfs_auth_req)->mac[31] = 1; /* CHALLENGE has no mac */
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_AUTH);
	REQ(struct rfs_auth_req)->step = 3;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_AUTH);
	REQ(struct rfs_auth_req)->pad = 1;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_AUTH);
	REQ(struct rfs_auth_req)->step = RFS_AUTH_PROVE;
	reseal();
	T_EQ(full_req(&v), -EPROTO); /* export name after a PROVE */
	REQ(struct rfs_auth_req)->export_len = 0;
	set_len(sizeof(struct rfs_auth_req));
	T_EQ(full_req(&v), -EPROTO); /* PROVE carries no nonce */
	memset(REQ(struct rfs_auth_req)->nonce, 0, RFS_AUTH_NONCE);
	memset(REQ(struct rfs_auth_req)->mac, 0xa5, RFS_AUTH_MAC);
	reseal();
	T_EQ(full_req(&v), 0);
	req_of(RFS_OP_AUTH);
	REQ(struct rfs_auth_req)->export_len = 0;
	set_len(sizeof(struct rfs_auth_req));
	T_EQ(full_req(&v), -EINVAL); /* CHALLENGE needs an export */

	/* RESOLVE handle length */
	req_of(RFS_OP_RESOLVE);
	REQ(struct rfs_resolve_req)->handle_len = RFS_HANDLE_MAX + 1;
	set_len(sizeof(struct rfs_resolve_req) + RFS_HANDLE_MAX + 8);
	T_EQ(full_req(&v), -EPROTO);
	REQ(struct rfs_resolve_req)->handle_len = RFS_HANDLE_MAX;
	set_len(sizeof(struct rfs_resolve_req) + RFS_HANDLE_MAX);
	T_EQ(full_req(&v), 0);
	REQ(struct rfs_resolve_req)->handle_len = 0;
	set_len(sizeof(struct rfs_resolve_req));
	T_EQ(full_req(&v), -EPROTO);

	/* FORGET: count 1..1024, exact size, real nodes */
	for (i = 0; i <= 3; i++) {
		static const uint32_t counts[] = { 0, 1, RFS_FORGET_MAX,
						   RFS_FORGET_MAX + 1 };
		struct rfs_forget_req *q;
		struct rfs_forget_one *f;
		uint32_t k;

		rfs_mb_init(&b, fbuf, FCAP, RFS_OP_FORGET, 1);
		q = rfs_mb_put(&b, sizeof(*q));
		q->count = counts[i];
		for (k = 0; k < counts[i]; k++) {
			f = rfs_mb_put(&b, sizeof(*f));
			f->nodeid = TF_NODE;
			f->nlookup = 1;
		}
		T_OK(rfs_mb_finish(&b, true) > 0);
		T_EQ(full_req(&v), (i == 1 || i == 2) ? 0 : -EPROTO);
	}
	req_of(RFS_OP_FORGET);
	REQ(struct rfs_forget_req)->count = TF_NFORGET + 1;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	REQ(struct rfs_forget_req)->count = TF_NFORGET - 1;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	REQ(struct rfs_forget_req)->count = 0x10000001; /* overflow bait */
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_FORGET);
	((struct rfs_forget_one *)(void *)(PAY + 8))[1].nodeid = 0;
	reseal();
	T_EQ(full_req(&v), -EPROTO);

	/* SETATTR */
	req_of(RFS_OP_SETATTR);
	REQ(struct rfs_setattr_req)->valid |= 1u << 6;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_SETATTR);
	REQ(struct rfs_setattr_req)->atime_ns = 1000000000;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_SETATTR);
	REQ(struct rfs_setattr_req)->mtime_ns = UINT32_MAX;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_SETATTR);
	REQ(struct rfs_setattr_req)->size = 1ull << 63;
	reseal();
	T_EQ(full_req(&v), -EPROTO);

	/* READ / WRITE sizes */
	req_of(RFS_OP_READ);
	REQ(struct rfs_io_req)->size = RFS_IO_MAX;
	reseal();
	T_EQ(full_req(&v), 0);
	REQ(struct rfs_io_req)->size = RFS_IO_MAX + 1;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_READ);
	REQ(struct rfs_io_req)->offset = 1ull << 63;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_READDIRPLUS);
	REQ(struct rfs_io_req)->offset = UINT64_MAX; /* opaque cookie */
	reseal();
	T_EQ(full_req(&v), 0);
	req_of(RFS_OP_WRITE);
	REQ(struct rfs_io_req)->size = TF_DATA_LEN + 1;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	REQ(struct rfs_io_req)->size = TF_DATA_LEN - 1;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_WRITE);
	REQ(struct rfs_io_req)->flags = 2;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_WRITE);
	REQ(struct rfs_io_req)->size = RFS_IO_MAX;
	set_len(sizeof(struct rfs_io_req) + RFS_IO_MAX);
	T_EQ(full_req(&v), 0);
	T_EQ(v.data_len, RFS_IO_MAX);
	REQ(struct rfs_io_req)->size = RFS_IO_MAX + 1;
	set_len(sizeof(struct rfs_io_req) + RFS_IO_MAX + 1);
	T_EQ(full_req(&v), -EPROTO);

	/* locks */
	req_of(RFS_OP_SETLK);
	REQ(struct rfs_lock_req)->lock.type = 3;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_SETLK);
	REQ(struct rfs_lock_req)->lock.start = 10;
	REQ(struct rfs_lock_req)->lock.end = 9;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	REQ(struct rfs_lock_req)->lock.end = 10; /* one byte */
	reseal();
	T_EQ(full_req(&v), 0);
	req_of(RFS_OP_GETLK);
	REQ(struct rfs_lock_req)->flags = 2;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	{
		static const struct {
			uint32_t flags;
			int err;
		} fl[] = { { 1, 0 },	   { 2, 0 },	       { 8, 0 },
			   { 1 | 4, 0 },   { 0, -EPROTO },     { 4, -EPROTO },
			   { 3, -EPROTO }, { 1 | 8, -EPROTO }, { 16, -EPROTO } };

		for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
			req_of(RFS_OP_FLOCK);
			REQ(struct rfs_lock_req)->flags = fl[i].flags;
			reseal();
			T_EQ(full_req(&v), fl[i].err);
		}
	}

	/* RENAME flags */
	{
		static const struct {
			uint32_t flags;
			int err;
		} rf[] = {
			{ 0, 0 },
			{ RFS_RENAME_EXCHANGE, 0 },
			{ RFS_RENAME_WHITEOUT, 0 },
			{ RFS_RENAME_NOREPLACE | RFS_RENAME_WHITEOUT, 0 },
			{ RFS_RENAME_NOREPLACE | RFS_RENAME_EXCHANGE, -EPROTO },
			{ RFS_RENAME_WHITEOUT | RFS_RENAME_EXCHANGE, -EPROTO },
			{ 8, -EPROTO },
			{ 1u << 31, -EPROTO },
		};

		for (i = 0; i < sizeof(rf) / sizeof(rf[0]); i++) {
			req_of(RFS_OP_RENAME);
			REQ(struct rfs_rename_req)->flags = rf[i].flags;
			reseal();
			T_EQ(full_req(&v), rf[i].err);
		}
	}

	/* PING <= 64 KiB; BYE / STATS empty */
	req_of(RFS_OP_PING);
	set_len(65536);
	T_EQ(full_req(&v), 0);
	set_len(65537);
	T_EQ(full_req(&v), -EPROTO);
	set_len(0);
	T_EQ(full_req(&v), 0);
	req_of(RFS_OP_BYE);
	set_len(8);
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_STATS);
	set_len(1);
	T_EQ(full_req(&v), -EPROTO);

	/* misc flags and ranges */
	req_of(RFS_OP_FSYNC);
	REQ(struct rfs_fh_req)->flags = 4;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_ACCESS);
	REQ(struct rfs_access_req)->mask = 8;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_LSEEK);
	REQ(struct rfs_lseek_req)->whence = 5;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_FALLOCATE);
	REQ(struct rfs_fallocate_req)->offset = INT64_MAX;
	reseal();
	T_EQ(full_req(&v), -EPROTO);
	req_of(RFS_OP_SETXATTR);
	REQ(struct rfs_xattr_req)->flags = 4;
	reseal();
	T_EQ(full_req(&v), -EPROTO);

	/* pads are ignored */
	req_of(RFS_OP_LOOKUP);
	REQ(struct rfs_name_req)->pad0 = 0xffff;
	REQ(struct rfs_name_req)->pad1 = 0xffffffff;
	reseal();
	T_EQ(full_req(&v), 0);

	/* misaligned payload: a bug of ours, not the peer's */
	req_of(RFS_OP_GETATTR);
	T_EQ(rfs_proto_decode_req(HDR, PAY + 1, &v), -EINVAL);
}

#define REP(type) ((type *)(void *)PAY)

static void test_rep_rules(void)
{
	struct rfs_rep_view r;
	struct rfs_dirent *d;
	uint32_t first;
	struct rfs_mb b;
	struct rfs_hdr req;

	/* error replies */
	memset(&req, 0, sizeof(req));
	req.opcode = RFS_OP_LOOKUP;
	rfs_mb_reply(&b, fbuf, FCAP, &req, -ENOENT);
	rfs_mb_finish(&b, true);
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), 0);
	T_OK(r.fixed == NULL);
	set_len(8);
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), -EPROTO);
	HDR->flags |= RFS_HF_UNKNOWN_NODE;
	HDR->status = -ESTALE;
	REP(struct rfs_unknown_node)->nodeid = TF_NODE;
	reseal();
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), 0);
	T_EQ(((const struct rfs_unknown_node *)r.fixed)->nodeid, TF_NODE);
	REP(struct rfs_unknown_node)->nodeid = 0;
	reseal();
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), -EPROTO);
	set_len(0);
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), -EPROTO);
	HDR->status = 5; /* decoder checks on its own too */
	T_EQ(rfs_proto_decode_rep(HDR, PAY, RFS_OP_LOOKUP, &r), -EPROTO);
	HDR->status = -5000;
	T_EQ(rfs_proto_decode_rep(HDR, PAY, RFS_OP_LOOKUP, &r), -EPROTO);
	rep_of(RFS_OP_GETATTR);
	HDR->flags |= RFS_HF_UNKNOWN_NODE; /* with status 0 */
	T_EQ(rfs_proto_decode_rep(HDR, PAY, RFS_OP_GETATTR, &r), -EPROTO);

	/* entries: handle length, padding, node id */
	rep_of(RFS_OP_LOOKUP);
	REP(struct rfs_entry)->handle_len = RFS_HANDLE_MAX + 1;
	set_len(sizeof(struct rfs_entry) + RFS_HANDLE_MAX + 8);
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), -EPROTO);
	REP(struct rfs_entry)->handle_len = RFS_HANDLE_MAX;
	set_len(sizeof(struct rfs_entry) + RFS_HANDLE_MAX);
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), 0);
	REP(struct rfs_entry)->handle_len = 0;
	set_len(sizeof(struct rfs_entry));
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), -EPROTO);
	rep_of(RFS_OP_LOOKUP);
	set_len(sizeof(struct rfs_entry) + TF_HANDLE_LEN); /* no pad */
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), -EPROTO);
	rep_of(RFS_OP_LOOKUP);
	REP(struct rfs_entry)->nodeid = 1;
	reseal();
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), -EPROTO);
	rep_of(RFS_OP_LOOKUP);
	REP(struct rfs_entry)->attr.ctime_ns = 1000000000;
	reseal();
	T_EQ(full_rep(RFS_OP_LOOKUP, &r), -EPROTO);
	rep_of(RFS_OP_CREATE);
	REP(struct rfs_create_rep)->entry.handle_len = 200;
	reseal();
	T_EQ(full_rep(RFS_OP_CREATE, &r), -EPROTO);
	rep_of(RFS_OP_CREATE);
	REP(struct rfs_create_rep)->open_flags = RFS_OPEN_FD << 1;
	reseal();
	T_EQ(full_rep(RFS_OP_CREATE, &r), -EPROTO);

	/* HELLO */
	rep_of(RFS_OP_HELLO);
	/* a feature bit 1.5 does not know */
	REP(struct rfs_hello_rep)->features = RFS_FEAT_PASSFD << 1;
	reseal();
	T_EQ(full_rep(RFS_OP_HELLO, &r), -EPROTO);
	rep_of(RFS_OP_HELLO);
	REP(struct rfs_hello_rep)->max_msg = RFS_MSG_MAX_LIMIT + 1;
	reseal();
	T_EQ(full_rep(RFS_OP_HELLO, &r), -EPROTO);
	rep_of(RFS_OP_HELLO);
	REP(struct rfs_hello_rep)->export_flags = 1u << 31;
	reseal();
	T_EQ(full_rep(RFS_OP_HELLO, &r), -EPROTO);
	/* identity bits: only negotiated, one at most */
	rep_of(RFS_OP_HELLO);
	REP(struct rfs_hello_rep)->export_flags = RFS_EXPF_IDS_REFUSED;
	reseal();
	T_EQ(full_rep(RFS_OP_HELLO, &r), -EPROTO);
	rep_of(RFS_OP_HELLO);
	REP(struct rfs_hello_rep)->features |= RFS_FEAT_IDS;
	REP(struct rfs_hello_rep)->export_flags = RFS_EXPF_IDS_PEER |
						  RFS_EXPF_IDS_SQUASHED;
	reseal();
	T_EQ(full_rep(RFS_OP_HELLO, &r), -EPROTO);
	rep_of(RFS_OP_HELLO);
	REP(struct rfs_hello_rep)->features |= RFS_FEAT_IDS;
	REP(struct rfs_hello_rep)->export_flags = RFS_EXPF_RO |
						  RFS_EXPF_IDS_SQUASHED;
	reseal();
	T_EQ(full_rep(RFS_OP_HELLO, &r), 0);
	rep_of(RFS_OP_HELLO);
	REP(struct rfs_hello_rep)->root.nodeid = 0;
	reseal();
	T_EQ(full_rep(RFS_OP_HELLO, &r), -EPROTO);

	/* data replies */
	rep_of(RFS_OP_READLINK);
	PAY[3] = 0;
	reseal();
	T_EQ(full_rep(RFS_OP_READLINK, &r), -EPROTO);
	set_len(0);
	T_EQ(full_rep(RFS_OP_READLINK, &r), -EPROTO);
	rep_of(RFS_OP_PING);
	set_len(65537);
	T_EQ(full_rep(RFS_OP_PING, &r), -EPROTO);
	rep_of(RFS_OP_READ);
	set_len(RFS_IO_MAX);
	T_EQ(full_rep(RFS_OP_READ, &r), 0);
	set_len(RFS_IO_MAX + 1);
	T_EQ(full_rep(RFS_OP_READ, &r), -EPROTO);

	/* fixed replies */
	rep_of(RFS_OP_GETLK);
	REP(struct rfs_lock)->type = 7;
	reseal();
	T_EQ(full_rep(RFS_OP_GETLK, &r), -EPROTO);
	rep_of(RFS_OP_LSEEK);
	REP(struct rfs_lseek_rep)->offset = -1;
	reseal();
	T_EQ(full_rep(RFS_OP_LSEEK, &r), -EPROTO);
	rep_of(RFS_OP_WRITE);
	REP(struct rfs_write_rep)->written = RFS_IO_MAX + 1;
	reseal();
	T_EQ(full_rep(RFS_OP_WRITE, &r), -EPROTO);
	rep_of(RFS_OP_OPEN);
	REP(struct rfs_open_rep)->open_flags = 1u << 5;
	reseal();
	T_EQ(full_rep(RFS_OP_OPEN, &r), -EPROTO);
	rep_of(RFS_OP_GETATTR);
	REP(struct rfs_attr)->mtime_ns = 1000000000;
	reseal();
	T_EQ(full_rep(RFS_OP_GETATTR, &r), -EPROTO);
	rep_of(RFS_OP_GETXATTR);
	REP(struct rfs_xattr_rep)->size = TF_DATA_LEN + 1;
	reseal();
	T_EQ(full_rep(RFS_OP_GETXATTR, &r), -EPROTO);
	REP(struct rfs_xattr_rep)->size = RFS_XATTR_SIZE_MAX + 1;
	set_len(8);
	T_EQ(full_rep(RFS_OP_GETXATTR, &r), -EPROTO);

	/* READDIRPLUS records: each one is checked */
	first = rfs_proto_dirent_size(1, 0); /* "." */
#define DIR3                                         \
	((struct rfs_dirent *)(void *)(PAY + first + \
				       rfs_proto_dirent_size(2, 0)))
	rep_of(RFS_OP_READDIRPLUS);
	d = DIR3;
	d->name_len = 4000; /* overruns the reply */
	reseal();
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	rep_of(RFS_OP_READDIRPLUS);
	DIR3->entry.handle_len = 5000;
	reseal();
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	rep_of(RFS_OP_READDIRPLUS);
	DIR3->entry.handle_len = RFS_HANDLE_MAX + 1;
	reseal();
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	rep_of(RFS_OP_READDIRPLUS);
	memcpy((uint8_t *)DIR3 + sizeof(*d), "fi/e", 4);
	reseal();
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	rep_of(RFS_OP_READDIRPLUS);
	memcpy((uint8_t *)DIR3 + sizeof(*d), "fi\0e", 4);
	reseal();
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	rep_of(RFS_OP_READDIRPLUS);
	DIR3->type = 3;
	reseal();
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	rep_of(RFS_OP_READDIRPLUS);
	DIR3->entry.nodeid = 1;
	reseal();
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	rep_of(RFS_OP_READDIRPLUS);
	DIR3->name_len = 0;
	reseal();
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	/* "." with a node id is a looked-up "." : refused */
	rep_of(RFS_OP_READDIRPLUS);
	REP(struct rfs_dirent)->entry.nodeid = TF_NODE;
	REP(struct rfs_dirent)->entry.handle_len = 0;
	reseal();
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	/* a not-looked-up record carries no handle */
	rep_of(RFS_OP_READDIRPLUS);
	REP(struct rfs_dirent)->entry.handle_len = 7; /* fits the pad */
	reseal();
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	/* a record shorter than a dirent */
	rep_of(RFS_OP_READDIRPLUS);
	set_len(first + 64);
	T_EQ(full_rep(RFS_OP_READDIRPLUS, &r), -EPROTO);
	/* the walker itself refuses a misaligned position */
	rep_of(RFS_OP_READDIRPLUS);
	{
		struct rfs_dirent_view dv;
		uint32_t pos = 4;

		T_EQ(rfs_proto_dirent_next(PAY, HDR->len, &pos, &dv), -EPROTO);
		pos = HDR->len + 8;
		T_EQ(rfs_proto_dirent_next(PAY, HDR->len, &pos, &dv), -EPROTO);
	}
#undef DIR3
}

/* ---- the opcode table ------------------------------------------------- */

/*
 * The opcodes ringfs_proto.h defines, read from the header itself (found
 * next to this file) so that a new opcode without a row fails here:
 * lines "RFS_OP_NAME = N,".  Returns how many it found, or -1 when the
 * header cannot be read.
 */
static int header_ops(uint16_t *ops, char (*names)[32], int max)
{
	static const char rel[] = "../../proto/ringfs_proto.h";
	char path[512], line[256], name[32];
	const char *slash = strrchr(__FILE__, '/');
	unsigned num;
	FILE *f;
	int n = 0;

	if (!slash)
		return -1;
	snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - __FILE__),
		 __FILE__, rel);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && n < max) {
		if (sscanf(line, " RFS_OP_%31[A-Z_] = %u", name, &num) != 2 ||
		    !strcmp(name, "INVALID"))
			continue;
		ops[n] = (uint16_t)num;
		for (char *c = name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		memcpy(names[n], name, sizeof(name));
		n++;
	}
	fclose(f);
	return n;
}

/* a frame's payload length against a row's [size, max] */
static void check_len(const char *what, unsigned op, uint32_t len,
		      uint32_t size, uint32_t max)
{
	if (len < size || len > max) {
		fprintf(stderr,
			"%s %s: canonical payload %u outside "
			"[%u, %u]\n",
			what, rfs_proto_op_name(op), len, size, max);
		T_OK(0);
	}
}

static void test_optab(void)
{
	const uint32_t frame_max = RFS_MSG_MAX_DEFAULT - RFS_HDR_SIZE;
	const struct rfs_opinfo *oi;
	uint16_t hops[RFS_OP_MAX_];
	char hnames[RFS_OP_MAX_][32];
	struct rfs_req_view v;
	struct rfs_rep_view r;
	unsigned op, nrows = 0;
	int nh, i, n;

	/* every opcode of ringfs_proto.h has a row named after it */
	nh = header_ops(hops, hnames, RFS_OP_MAX_);
	if (nh <= 0) {
		/*
		 * Run from elsewhere than the build directory: fall back on
		 * the enum's layout, two dense ranges.
		 */
		fprintf(stderr, "note: proto/ringfs_proto.h not found from "
				"here; checking the opcode ranges only\n");
		for (op = RFS_OP_HELLO; op <= RFS_OP_RESUME; op++)
			T_OK(rfs_op_info(op) != NULL);
		for (op = RFS_OP_LOOKUP; op < RFS_OP_MAX_; op++)
			T_OK(rfs_op_info(op) != NULL);
	}
	for (i = 0; i < nh; i++) {
		oi = rfs_op_info(hops[i]);
		if (!oi) {
			fprintf(stderr, "RFS_OP %u (%s): no row in optab.c\n",
				hops[i], hnames[i]);
			T_OK(0);
			continue;
		}
		T_OK(!strcmp(oi->name, hnames[i]));
	}

	T_OK(!rfs_op_info(RFS_OP_INVALID) && !rfs_op_info(RFS_OP_MAX_) &&
	     !rfs_op_info(~0u));
	T_OK(!rfs_op_is(RFS_OP_INVALID, 0) && !rfs_op_is(RFS_OP_MAX_, 0));
	T_OK(!rfs_op_replay_benign(RFS_OP_MAX_, -ENOENT));
	for (op = 0; op < RFS_OP_MAX_; op++) {
		uint32_t f;

		oi = rfs_op_info(op);
		if (!oi)
			continue;
		nrows++;
		f = oi->flags;
		T_OK(oi->name && oi->name[0]);
		T_OK(rfs_proto_op_known(op));
		T_OK(!strcmp(rfs_proto_op_name(op), oi->name));
		T_EQ(f & ~RFS_OPF_KNOWN, 0);
		/* a change not safe to run twice is cached */
		if (f & RFS_OPF_MUTATING)
			T_OK(f & RFS_OPF_DRC);
		/* no session, no cache, no export to change */
		if (f & RFS_OPF_PRESESSION)
			T_OK(!(f & (RFS_OPF_DRC | RFS_OPF_MUTATING)));
		/* cached because not idempotent (doc/semantics.md) */
		if (f & RFS_OPF_DRC)
			T_OK(!(f & RFS_OPF_REPLAY_IDEMPOTENT));
		/* a blocking lock's worker dies with the connection */
		if (f & RFS_OPF_MAY_BLOCK)
			T_OK(!(f & RFS_OPF_DRC));
		/* kept across a restart: a change, kept across a reconnect */
		if (f & RFS_OPF_PERSIST)
			T_OK((f & RFS_OPF_DRC) && (f & RFS_OPF_MUTATING));
		/* an op whose replay may "fail" benignly is a cached one */
		if (oi->replay_benign) {
			T_OK(oi->replay_benign < 0 &&
			     oi->replay_benign > -4096);
			T_OK(f & RFS_OPF_DRC);
			T_OK(rfs_op_replay_benign(op, oi->replay_benign));
			T_OK(!rfs_op_replay_benign(op, 0));
		} else {
			T_OK(!rfs_op_replay_benign(op, -ENOENT) &&
			     !rfs_op_replay_benign(op, -EBADF) &&
			     !rfs_op_replay_benign(op, 0));
		}
		/* lock I/O goes through an fh */
		if (f & RFS_OPF_LOCK_IO)
			T_OK(oi->req == RFS_RQ_IO || oi->req == RFS_RQ_LOCK ||
			     oi->req == RFS_RQ_FALLOCATE ||
			     oi->req == RFS_RQ_COPY);
		/* no reply is exactly "no reply shape" */
		T_EQ(!!(f & RFS_OPF_NO_REPLY), oi->rep == RFS_RP_NONE);
		T_OK(oi->req != RFS_RQ_NONE && oi->req < RFS_RQ_MAX_);
		T_OK(oi->rep < RFS_RP_MAX_);

		/* sizes: fixed part <= maximum <= what a default frame holds */
		T_OK(oi->req_size <= oi->req_max && oi->req_max <= frame_max);
		T_OK(oi->rep_size <= oi->rep_max && oi->rep_max <= frame_max);
		if (oi->req == RFS_RQ_EMPTY)
			T_OK(oi->req_max == 0);
		if (oi->req == RFS_RQ_FIXED || oi->req == RFS_RQ_NODE)
			T_OK(oi->req_size > 0 && oi->req_max == oi->req_size);
		if (oi->req == RFS_RQ_NODE)
			T_OK(oi->req_size >= sizeof(uint64_t));
		if (oi->rep == RFS_RP_EMPTY || oi->rep == RFS_RP_NONE)
			T_OK(oi->rep_max == 0);
		if (oi->rep == RFS_RP_FIXED)
			T_OK(oi->rep_size > 0 && oi->rep_max == oi->rep_size);

		/* the canonical frames fit the row */
		n = req_of((uint16_t)op);
		T_OK(n >= (int)RFS_HDR_SIZE);
		check_len("req", op, HDR->len, oi->req_size, oi->req_max);
		n = rep_of((uint16_t)op);
		if (n >= (int)RFS_HDR_SIZE)
			check_len("rep", op, HDR->len, oi->rep_size,
				  oi->rep_max);

		/* opaque bodies: the row's maximum is the codec's */
		if (oi->req == RFS_RQ_BYTES) {
			req_of((uint16_t)op);
			set_len(oi->req_max);
			T_EQ(full_req(&v), 0);
			set_len(oi->req_max + 1);
			T_EQ(full_req(&v), -EPROTO);
		}
		if (oi->rep == RFS_RP_BYTES) {
			rep_of((uint16_t)op);
			set_len(oi->rep_max);
			T_EQ(full_rep((uint16_t)op, &r), 0);
			set_len(oi->rep_max + 1);
			T_EQ(full_rep((uint16_t)op, &r), -EPROTO);
		}
	}
	/* rows for the header's opcodes and nothing else */
	if (nh > 0)
		T_EQ(nrows, nh);
	/* exactly once across a restart: the namespace changes (WRITE only
	   on an O_APPEND fh, which the server decides per request) */
	T_OK(rfs_op_is(RFS_OP_MKDIR, RFS_OPF_PERSIST) &&
	     rfs_op_is(RFS_OP_CREATE, RFS_OPF_PERSIST) &&
	     rfs_op_is(RFS_OP_RENAME, RFS_OPF_PERSIST) &&
	     rfs_op_is(RFS_OP_LINK, RFS_OPF_PERSIST) &&
	     rfs_op_is(RFS_OP_UNLINK, RFS_OPF_PERSIST) &&
	     !rfs_op_is(RFS_OP_WRITE, RFS_OPF_PERSIST) &&
	     !rfs_op_is(RFS_OP_OPEN, RFS_OPF_PERSIST));
}

static void test_opnames(void)
{
	unsigned op, op2;

	T_OK(!strcmp(rfs_proto_op_name(RFS_OP_LOOKUP), "lookup"));
	T_OK(!strcmp(rfs_proto_op_name(RFS_OP_COPY_FILE_RANGE),
		     "copy_file_range"));
	T_OK(!strcmp(rfs_proto_op_name(0), "?"));
	T_OK(!strcmp(rfs_proto_op_name(RFS_OP_MAX_), "?"));
	T_OK(!strcmp(rfs_proto_op_name(~0u), "?"));
	T_OK(!rfs_proto_op_known(0) && !rfs_proto_op_known(10) &&
	     !rfs_proto_op_known(RFS_OP_MAX_));
	for (op = 0; op < RFS_OP_MAX_; op++)
		for (op2 = op + 1; op2 < RFS_OP_MAX_; op2++)
			if (rfs_proto_op_known(op) && rfs_proto_op_known(op2))
				T_OK(strcmp(rfs_proto_op_name(op),
					    rfs_proto_op_name(op2)));
}

int main(void)
{
	test_every_op();
	test_req_fields();
	test_rep_fields();
	test_header();
	test_csum();
	test_builders();
	test_names();
	test_req_rules();
	test_rep_rules();
	test_opnames();
	test_optab();
	T_DONE();
}
