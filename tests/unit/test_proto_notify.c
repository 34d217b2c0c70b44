// SPDX-License-Identifier: MIT
/*
 * test_proto_notify: the notification frame of protocol 1.4
 * (RFS_HF_NOTIFY, struct rfs_notify).  The builder's frames pass the
 * header check every transport applies and decode to what was built;
 * every malformed one (truncated, trailing bytes, wrong header fields,
 * unknown kind, bad names and node ids) is refused, and the opcode is no
 * request or reply.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "t.h"

#define MAXMSG RFS_MSG_MAX_DEFAULT

static uint64_t fbuf[4096 / 8];
#define HDR ((struct rfs_hdr *)(void *)fbuf)
#define PAY ((uint8_t *)fbuf + RFS_HDR_SIZE)
#define NTF ((struct rfs_notify *)(void *)PAY)
#define FCAP ((uint32_t)sizeof(fbuf))

/* what a client does with a received notification */
static int full(struct rfs_notify_view *v)
{
	int ret = rfs_proto_check_frame(fbuf, RFS_HDR_SIZE + HDR->len, MAXMSG);

	if (!ret)
		ret = rfs_proto_verify(HDR, PAY, true);
	if (!ret)
		ret = rfs_proto_decode_notify(HDR, PAY, v);
	return ret;
}

static void reseal(void)
{
	rfs_proto_seal(HDR, true);
}

static int entry(const char *name, uint32_t len)
{
	return rfs_proto_build_notify(fbuf, FCAP, RFS_NOTIFY_ENTRY, 77, 88,
				      name, len, true);
}

static void test_good(void)
{
	struct rfs_notify_view v;
	int n;

	n = rfs_proto_build_notify(fbuf, FCAP, RFS_NOTIFY_INODE, 0x1234, 0,
				   NULL, 0, true);
	T_EQ(n, (int)(RFS_HDR_SIZE + sizeof(struct rfs_notify)));
	T_EQ(full(&v), 0);
	T_EQ(v.kind, RFS_NOTIFY_INODE);
	T_EQ(v.nodeid, 0x1234);
	T_EQ(v.name_len, 0);
	T_OK(HDR->flags == (RFS_HF_NOTIFY | RFS_HF_CSUM) && HDR->id == 0 &&
	     HDR->opcode == RFS_NOTIFY_OPCODE && HDR->minor == RFS_PROTO_MINOR);

	n = entry("file.txt", 8);
	T_EQ(n, (int)(RFS_HDR_SIZE + sizeof(struct rfs_notify) + 8));
	T_EQ(full(&v), 0);
	T_EQ(v.kind, RFS_NOTIFY_ENTRY);
	T_EQ(v.nodeid, 77);
	T_EQ(v.parent, 88);
	T_OK(v.name_len == 8 && !memcmp(v.name, "file.txt", 8));
	/* the node the name led to may be unknown */
	T_OK(rfs_proto_build_notify(fbuf, FCAP, RFS_NOTIFY_ENTRY, 0, 88, "x", 1,
				    false) > 0);
	T_EQ(full(&v), -EBADMSG); /* no checksum where one is required */
	T_EQ(rfs_proto_decode_notify(HDR, PAY, &v), 0);
	T_EQ(v.nodeid, 0);
}

static void test_builder_refuses(void)
{
	char big[RFS_NAME_MAX + 1];

	memset(big, 'a', sizeof(big));
	T_EQ(rfs_proto_build_notify(fbuf, FCAP, 3, 5, 0, NULL, 0, true),
	     -EINVAL);
	T_EQ(rfs_proto_build_notify(fbuf, FCAP, RFS_NOTIFY_INODE, 1, 0, NULL, 0,
				    true),
	     -EINVAL);
	T_EQ(rfs_proto_build_notify(fbuf, FCAP, RFS_NOTIFY_INODE, 5, 6, NULL, 0,
				    true),
	     -EINVAL);
	T_EQ(entry("..", 2), -EINVAL);
	T_EQ(entry("a/b", 3), -EINVAL);
	T_EQ(entry("", 0), -EINVAL);
	T_EQ(entry(big, sizeof(big)), -EINVAL);
	T_EQ(rfs_proto_build_notify(fbuf, 60, RFS_NOTIFY_ENTRY, 7, 8, "name", 4,
				    true),
	     -EMSGSIZE);
}

static void test_malformed(void)
{
	struct rfs_notify_view v;
	struct rfs_rep_view r;
	uint32_t full_len;

	/* every truncation, and trailing bytes */
	entry("abc", 3);
	full_len = HDR->len;
	for (uint32_t l = 0; l < full_len; l++) {
		entry("abc", 3);
		HDR->len = l;
		reseal();
		T_EQ(full(&v), -EPROTO);
	}
	entry("abc", 3);
	HDR->len = full_len + 8;
	reseal();
	T_EQ(full(&v), -EPROTO);

	/* header fields */
	entry("abc", 3);
	HDR->id = 9;
	reseal();
	T_EQ(full(&v), -EPROTO);
	entry("abc", 3);
	HDR->status = -5;
	reseal();
	T_EQ(full(&v), -EPROTO);
	entry("abc", 3);
	HDR->flags |= RFS_HF_REPLY;
	reseal();
	T_EQ(full(&v), -EPROTO);
	entry("abc", 3);
	HDR->flags |= RFS_HF_GROUPS;
	reseal();
	T_EQ(full(&v), -EPROTO);
	entry("abc", 3);
	HDR->opcode = RFS_OP_LOOKUP;
	reseal();
	T_EQ(full(&v), -EPROTO);
	/* the opcode is no request, and no reply */
	entry("abc", 3);
	HDR->flags &= ~RFS_HF_NOTIFY;
	reseal();
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
	HDR->flags |= RFS_HF_REPLY;
	reseal();
	T_EQ(rfs_proto_check_hdr(HDR, MAXMSG), -EPROTO);
	entry("abc", 3);
	T_OK(rfs_proto_decode_rep(HDR, PAY, RFS_OP_LOOKUP, &r) < 0);

	/* the body */
	entry("abc", 3);
	NTF->kind = 7;
	reseal();
	T_EQ(full(&v), -EPROTO);
	entry("abc", 3);
	NTF->pad = 1;
	reseal();
	T_EQ(full(&v), -EPROTO);
	entry("abc", 3);
	NTF->parent = 1;
	reseal();
	T_EQ(full(&v), -EPROTO);
	entry("abc", 3);
	NTF->nodeid = 1;
	reseal();
	T_EQ(full(&v), -EPROTO);
	entry("abc", 3);
	NTF->name_len = 4;
	reseal();
	T_EQ(full(&v), -EPROTO);
	entry("a.c", 3);
	memcpy(PAY + sizeof(struct rfs_notify), "a/c", 3);
	reseal();
	T_EQ(full(&v), -EINVAL);
	entry("..x", 3);
	memcpy(PAY + sizeof(struct rfs_notify), "..", 2);
	NTF->name_len = 2;
	HDR->len -= 1;
	reseal();
	T_EQ(full(&v), -EINVAL);
	/* an INODE notification has no name and no parent */
	rfs_proto_build_notify(fbuf, FCAP, RFS_NOTIFY_INODE, 5, 0, NULL, 0,
			       true);
	NTF->parent = 6;
	reseal();
	T_EQ(full(&v), -EPROTO);
	entry("abc", 3);
	NTF->kind = RFS_NOTIFY_INODE;
	NTF->parent = 0;
	reseal();
	T_EQ(full(&v), -EPROTO);
}

int main(void)
{
	test_good();
	test_builder_refuses();
	test_malformed();
	T_DONE();
}
