// SPDX-License-Identifier: MIT
/*
 * test_proto_groups: the supplementary groups block of protocol 1.2
 * (RFS_HF_GROUPS, struct rfs_groups_tail).  Every request decodes to the
 * same view with the block as without it, plus the groups; every
 * malformed block is refused; the builder and the strip helper.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "frames.h"
#include "proto.h"
#include "t.h"

#define MAXMSG RFS_MSG_MAX_DEFAULT

static uint64_t fbuf[(RFS_MSG_MAX_DEFAULT + 64) / 8];
static uint64_t obuf[(RFS_MSG_MAX_DEFAULT + 64) / 8];
#define HDR ((struct rfs_hdr *)(void *)fbuf)
#define PAY ((uint8_t *)fbuf + RFS_HDR_SIZE)
#define FCAP ((uint32_t)sizeof(fbuf))

static const uint32_t gids[] = { 1000, 0, 65531, 4294967294u };
#define NG (uint32_t)(sizeof(gids) / sizeof(gids[0]))

static int full_req(struct rfs_req_view *v)
{
	int ret = rfs_proto_check_hdr(HDR, MAXMSG);

	if (!ret)
		ret = rfs_proto_verify(HDR, PAY, true);
	if (!ret)
		ret = rfs_proto_decode_req(HDR, PAY, v);
	return ret;
}

/* append n gids (from g) and a tail {count, pad} to the frame in fbuf */
static void append(const uint32_t *g, uint32_t n, uint32_t count, uint32_t pad)
{
	struct rfs_groups_tail t = { .count = count, .pad = pad };

	memcpy(PAY + HDR->len, g, 4 * (size_t)n);
	HDR->len += 4 * n;
	memcpy(PAY + HDR->len, &t, sizeof(t));
	HDR->len += sizeof(t);
	HDR->flags |= RFS_HF_GROUPS;
	rfs_proto_seal(HDR, true);
}

static void same_view(uint16_t op, const struct rfs_req_view *a,
		      const struct rfs_req_view *b)
{
	T_CHECK(a->fixed == b->fixed && a->name == b->name &&
			a->name_len == b->name_len && a->name2 == b->name2 &&
			a->name2_len == b->name2_len && a->data == b->data &&
			a->data_len == b->data_len &&
			a->forgets == b->forgets && a->nforget == b->nforget,
		"%s: the view with groups differs", rfs_proto_op_name(op));
}

static void test_every_op(void)
{
	for (unsigned op = 0; op < RFS_OP_MAX_; op++) {
		struct rfs_req_view v0, v1;
		int len;

		if (!rfs_proto_op_known(op))
			continue;
		len = rfs_tf_req((uint16_t)op, fbuf, FCAP);
		if (len < 0)
			continue;
		T_EQ(full_req(&v0), 0);
		T_EQ(v0.ngroups, 0);
		T_OK(v0.groups == NULL);
		append(gids, NG, NG, 0);
		T_CHECK(full_req(&v1) == 0, "%s: with groups",
			rfs_proto_op_name(op));
		same_view((uint16_t)op, &v0, &v1);
		T_EQ(v1.ngroups, NG);
		for (uint32_t i = 0; i < NG && i < v1.ngroups; i++)
			T_EQ(rfs_proto_group(&v1, i), gids[i]);
		/* and off again: the frame the op had */
		memcpy(obuf, fbuf, RFS_HDR_SIZE + HDR->len);
		T_EQ(rfs_proto_strip_groups(HDR), (uint32_t)len);
		T_OK(!(HDR->flags & RFS_HF_GROUPS));
		rfs_proto_seal(HDR, true);
		T_EQ(rfs_tf_req((uint16_t)op, obuf, FCAP), len);
		T_OK(!memcmp(fbuf, obuf, (size_t)len));
	}
}

static void test_malformed(void)
{
	struct rfs_req_view v;
	uint32_t many[RFS_GROUPS_MAX + 1];

	for (uint32_t i = 0; i <= RFS_GROUPS_MAX; i++)
		many[i] = i;
	/* the most there may be */
	rfs_tf_req(RFS_OP_GETATTR, fbuf, FCAP);
	append(many, RFS_GROUPS_MAX, RFS_GROUPS_MAX, 0);
	T_EQ(full_req(&v), 0);
	T_EQ(v.ngroups, RFS_GROUPS_MAX);
	T_EQ(rfs_proto_group(&v, RFS_GROUPS_MAX - 1), RFS_GROUPS_MAX - 1);
	/* one more */
	rfs_tf_req(RFS_OP_GETATTR, fbuf, FCAP);
	append(many, RFS_GROUPS_MAX + 1, RFS_GROUPS_MAX + 1, 0);
	T_EQ(full_req(&v), -EPROTO);
	/* none: the flag without groups is malformed */
	rfs_tf_req(RFS_OP_GETATTR, fbuf, FCAP);
	append(gids, 0, 0, 0);
	T_EQ(full_req(&v), -EPROTO);
	/* padding must be zero */
	rfs_tf_req(RFS_OP_GETATTR, fbuf, FCAP);
	append(gids, NG, NG, 1);
	T_EQ(full_req(&v), -EPROTO);
	/* a count larger than the payload */
	rfs_tf_req(RFS_OP_PING, fbuf, FCAP);
	HDR->len = 0;
	append(gids, 2, 3, 0);
	T_EQ(full_req(&v), -EPROTO);
	/* no room for the tail */
	rfs_tf_req(RFS_OP_PING, fbuf, FCAP);
	HDR->len = 4;
	HDR->flags |= RFS_HF_GROUPS;
	rfs_proto_seal(HDR, true);
	T_EQ(full_req(&v), -EPROTO);
	/* the flag on a frame without a block: its body is taken for one */
	rfs_tf_req(RFS_OP_GETATTR, fbuf, FCAP);
	HDR->flags |= RFS_HF_GROUPS;
	rfs_proto_seal(HDR, true);
	T_EQ(full_req(&v), -EPROTO);
	/* a count that eats into the op's body */
	rfs_tf_req(RFS_OP_GETATTR, fbuf, FCAP);
	append(gids, 2, 4, 0);
	T_EQ(full_req(&v), -EPROTO);
	/* a PING's body may be empty: all of it groups is fine */
	rfs_tf_req(RFS_OP_PING, fbuf, FCAP);
	HDR->len = 0;
	append(gids, 2, 2, 0);
	T_EQ(full_req(&v), 0);
	T_EQ(v.data_len, 0);
	T_EQ(v.ngroups, 2);
	/* never on a reply */
	rfs_tf_rep(RFS_OP_GETATTR, fbuf, FCAP);
	HDR->flags |= RFS_HF_GROUPS;
	rfs_proto_seal(HDR, true);
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
}

static void test_builder(void)
{
	struct rfs_req_view v;
	struct rfs_node_req *q;
	struct rfs_mb b;
	uint32_t many[RFS_GROUPS_MAX + 1] = { 0 };
	int len;

	/* none: nothing added, no flag */
	rfs_mb_init(&b, fbuf, FCAP, RFS_OP_GETATTR, 7);
	q = rfs_mb_put(&b, sizeof(*q));
	q->nodeid = 5;
	T_EQ(rfs_mb_put_groups(&b, gids, 0), 0);
	T_EQ(b.len, RFS_HDR_SIZE + sizeof(*q));
	T_OK(!(rfs_mb_hdr(&b)->flags & RFS_HF_GROUPS));
	/* some: decoded back */
	T_EQ(rfs_mb_put_groups(&b, gids, NG), 0);
	len = rfs_mb_finish(&b, true);
	T_EQ(len, RFS_HDR_SIZE + sizeof(*q) + 4 * NG + 8);
	T_EQ(full_req(&v), 0);
	T_EQ(v.ngroups, NG);
	T_EQ(rfs_proto_group(&v, 2), 65531);
	T_EQ(((const struct rfs_node_req *)v.fixed)->nodeid, 5);
	/* twice, too many: refused, and the frame with them */
	rfs_mb_init(&b, fbuf, FCAP, RFS_OP_GETATTR, 7);
	rfs_mb_put(&b, sizeof(*q));
	T_EQ(rfs_mb_put_groups(&b, gids, 1), 0);
	T_EQ(rfs_mb_put_groups(&b, gids, 1), -EINVAL);
	T_EQ(rfs_mb_finish(&b, true), -EINVAL);
	rfs_mb_init(&b, fbuf, FCAP, RFS_OP_GETATTR, 7);
	rfs_mb_put(&b, sizeof(*q));
	T_EQ(rfs_mb_put_groups(&b, many, RFS_GROUPS_MAX + 1), -EINVAL);
	T_EQ(rfs_mb_finish(&b, true), -EINVAL);
	/* no room */
	rfs_mb_init(&b, fbuf, RFS_HDR_SIZE + sizeof(*q) + 8, RFS_OP_GETATTR, 7);
	rfs_mb_put(&b, sizeof(*q));
	T_EQ(rfs_mb_put_groups(&b, gids, 1), -EMSGSIZE);
	T_EQ(rfs_mb_finish(&b, true), -EMSGSIZE);
	/* the largest WRITE with the most groups fits the default frame */
	T_OK(RFS_HDR_SIZE + sizeof(struct rfs_io_req) + RFS_IO_MAX +
		     RFS_GROUPS_BYTES_MAX <=
	     RFS_MSG_MAX_DEFAULT);
}

int main(void)
{
	test_every_op();
	test_malformed();
	test_builder();
	T_DONE();
}
