// SPDX-License-Identifier: MIT
/*
 * nbd_nl: NBD generic netlink requests (nbd_nl.h says what and why).
 */
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd_nl.h"

#define NL_BUF 8192

/* a message under construction, in a buffer aligned for nlmsghdr */
struct msg {
	union {
		struct nlmsghdr h;
		char b[NL_BUF];
	} u;
	size_t len;
	int overflow;
};

static void msg_init(struct msg *m, uint16_t type, uint8_t cmd, uint32_t seq)
{
	struct genlmsghdr g = {
		.cmd = cmd,
		.version = type == GENL_ID_CTRL ? 1 : NBD_GENL_VERSION,
	};

	memset(&m->u.h, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	m->u.h.nlmsg_type = type;
	m->u.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	m->u.h.nlmsg_seq = seq;
	memcpy(m->u.b + NLMSG_HDRLEN, &g, sizeof(g));
	m->len = NLMSG_HDRLEN + GENL_HDRLEN;
	m->overflow = 0;
}

/* an attribute; its offset (for a nest) */
static size_t put(struct msg *m, uint16_t type, const void *d, size_t n)
{
	size_t at = m->len;
	struct nlattr a;

	if (m->len + NLA_ALIGN(NLA_HDRLEN + n) > sizeof(m->u.b)) {
		m->overflow = 1;
		return at;
	}
	a.nla_type = type;
	a.nla_len = (uint16_t)(NLA_HDRLEN + n);
	memcpy(m->u.b + at, &a, sizeof(a));
	if (n)
		memcpy(m->u.b + at + NLA_HDRLEN, d, n);
	memset(m->u.b + at + NLA_HDRLEN + n, 0,
	       NLA_ALIGN(NLA_HDRLEN + n) - (NLA_HDRLEN + n));
	m->len += NLA_ALIGN(NLA_HDRLEN + n);
	return at;
}

static void put_u32(struct msg *m, uint16_t type, uint32_t v)
{
	put(m, type, &v, sizeof(v));
}

static void put_u64(struct msg *m, uint16_t type, uint64_t v)
{
	put(m, type, &v, sizeof(v));
}

static size_t nest_start(struct msg *m, uint16_t type)
{
	return put(m, type | NLA_F_NESTED, NULL, 0);
}

static void nest_end(struct msg *m, size_t at)
{
	struct nlattr a;

	if (m->overflow)
		return;
	memcpy(&a, m->u.b + at, sizeof(a));
	a.nla_len = (uint16_t)(m->len - at);
	memcpy(m->u.b + at, &a, sizeof(a));
}

/* the attributes after a generic netlink header: for each, fn */
typedef void (*attr_fn)(uint16_t type, const char *d, size_t n, void *arg);

static void each_attr(const char *p, size_t len, attr_fn fn, void *arg)
{
	while (len >= NLA_HDRLEN) {
		struct nlattr a;

		memcpy(&a, p, sizeof(a));
		if (a.nla_len < NLA_HDRLEN || a.nla_len > len)
			return;
		fn(a.nla_type & NLA_TYPE_MASK, p + NLA_HDRLEN,
		   a.nla_len - NLA_HDRLEN, arg);
		if ((size_t)NLA_ALIGN(a.nla_len) >= len)
			return;
		len -= (size_t)NLA_ALIGN(a.nla_len);
		p += NLA_ALIGN(a.nla_len);
	}
}

/*
 * The message at *off of buf[0..n): its header copied into h, its start
 * (NULL after the last); *off moves past it.
 */
static const char *next_msg(const char *buf, size_t n, size_t *off,
			    struct nlmsghdr *h)
{
	const char *p = buf + *off;

	if (*off + sizeof(*h) > n)
		return NULL;
	memcpy(h, p, sizeof(*h));
	if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > n - *off)
		return NULL;
	*off += NLMSG_ALIGN(h->nlmsg_len);
	return p;
}

/*
 * Send m and read until its acknowledgement: 0 or -errno.  A reply
 * message (GETFAMILY's) goes to fn.
 */
static int transact(struct nbd_nl *nl, struct msg *m, attr_fn fn, void *arg)
{
	static char r[NL_BUF];
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	ssize_t n;

	if (m->overflow)
		return -EMSGSIZE;
	m->u.h.nlmsg_len = (uint32_t)m->len;
	do
		n = sendto(nl->fd, m->u.b, m->len, 0, (struct sockaddr *)&sa,
			   sizeof(sa));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (;;) {
		struct nlmsghdr h;
		const char *p;
		size_t off = 0;

		n = recv(nl->fd, r, sizeof(r), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while ((p = next_msg(r, (size_t)n, &off, &h))) {
			if (h.nlmsg_seq != m->u.h.nlmsg_seq)
				continue; /* a stale answer */
			if (h.nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr e;

				if (h.nlmsg_len < NLMSG_LENGTH(sizeof(e)))
					return -EBADMSG;
				memcpy(&e, p + NLMSG_HDRLEN, sizeof(e));
				return e.error > 0 ? -EPROTO : e.error;
			}
			if (fn && h.nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN))
				each_attr(p + NLMSG_HDRLEN + GENL_HDRLEN,
					  h.nlmsg_len -
						  NLMSG_LENGTH(GENL_HDRLEN),
					  fn, arg);
		}
	}
}

static int nl_socket(int flags)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags,
		    NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

struct family_ans {
	uint16_t id;
	uint32_t grp;
};

static void mc_group(uint16_t type, const char *d, size_t n, void *arg)
{
	struct {
		int named;
		uint32_t id;
	} *g = arg;

	if (type == CTRL_ATTR_MCAST_GRP_NAME &&
	    n >= sizeof(NBD_GENL_MCAST_GROUP_NAME) &&
	    !memcmp(d, NBD_GENL_MCAST_GROUP_NAME,
		    sizeof(NBD_GENL_MCAST_GROUP_NAME)))
		g->named = 1;
	else if (type == CTRL_ATTR_MCAST_GRP_ID && n == sizeof(uint32_t))
		memcpy(&g->id, d, sizeof(g->id));
}

static void mc_groups(uint16_t type, const char *d, size_t n, void *arg)
{
	struct family_ans *a = arg;
	struct {
		int named;
		uint32_t id;
	} g = { 0, 0 };

	(void)type;
	each_attr(d, n, mc_group, &g);
	if (g.named)
		a->grp = g.id;
}

static void family(uint16_t type, const char *d, size_t n, void *arg)
{
	struct family_ans *a = arg;

	if (type == CTRL_ATTR_FAMILY_ID && n == sizeof(uint16_t))
		memcpy(&a->id, d, sizeof(a->id));
	else if (type == CTRL_ATTR_MCAST_GROUPS)
		each_attr(d, n, mc_groups, a);
}

int nbd_nl_open(struct nbd_nl *nl)
{
	struct family_ans a = { 0, 0 };
	static struct msg m;
	int rc;

	nl->seq = 1;
	nl->fd = nl_socket(0);
	if (nl->fd < 0)
		return nl->fd;
	msg_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, nl->seq++);
	put(&m, CTRL_ATTR_FAMILY_NAME, NBD_GENL_FAMILY_NAME,
	    sizeof(NBD_GENL_FAMILY_NAME));
	rc = transact(nl, &m, family, &a);
	if (!rc && !a.id)
		rc = -ENOENT;
	if (rc) {
		close(nl->fd);
		nl->fd = -1;
		return rc;
	}
	nl->family = a.id;
	nl->mc_group = a.grp;
	return 0;
}

void nbd_nl_close(struct nbd_nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

static void put_socket(struct msg *m, int sock)
{
	size_t socks = nest_start(m, NBD_ATTR_SOCKETS);
	size_t item = nest_start(m, NBD_SOCK_ITEM);

	put_u32(m, NBD_SOCK_FD, (uint32_t)sock);
	nest_end(m, item);
	nest_end(m, socks);
}

int nbd_nl_connect(struct nbd_nl *nl, const struct nbd_nl_conf *c, int sock)
{
	static struct msg m;

	msg_init(&m, nl->family, NBD_CMD_CONNECT, nl->seq++);
	put_u32(&m, NBD_ATTR_INDEX, c->index);
	put_u64(&m, NBD_ATTR_SIZE_BYTES, c->size);
	put_u64(&m, NBD_ATTR_BLOCK_SIZE_BYTES, c->block_size);
	put_u64(&m, NBD_ATTR_TIMEOUT, c->timeout);
	put_u64(&m, NBD_ATTR_DEAD_CONN_TIMEOUT, c->dead_conn_timeout);
	put_u64(&m, NBD_ATTR_SERVER_FLAGS, c->server_flags);
	put_socket(&m, sock);
	return transact(nl, &m, NULL, NULL);
}

int nbd_nl_reconnect(struct nbd_nl *nl, uint32_t index, int sock)
{
	static struct msg m;

	msg_init(&m, nl->family, NBD_CMD_RECONFIGURE, nl->seq++);
	put_u32(&m, NBD_ATTR_INDEX, index);
	put_socket(&m, sock);
	return transact(nl, &m, NULL, NULL);
}

int nbd_nl_disconnect(struct nbd_nl *nl, uint32_t index)
{
	static struct msg m;

	msg_init(&m, nl->family, NBD_CMD_DISCONNECT, nl->seq++);
	put_u32(&m, NBD_ATTR_INDEX, index);
	return transact(nl, &m, NULL, NULL);
}

int nbd_nl_mc_open(const struct nbd_nl *nl)
{
	int fd, err;

	if (!nl->mc_group)
		return -ENOENT;
	fd = nl_socket(SOCK_NONBLOCK);
	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &nl->mc_group,
		       sizeof(nl->mc_group)) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static void index_of(uint16_t type, const char *d, size_t n, void *arg)
{
	if (type == NBD_ATTR_INDEX && n == sizeof(uint32_t))
		memcpy(arg, d, sizeof(uint32_t));
}

int nbd_nl_mc_read(int fd, uint32_t index)
{
	static char r[NL_BUF];
	int found = 0, got = 0;

	for (;;) {
		struct nlmsghdr h;
		const char *p;
		ssize_t n = recv(fd, r, sizeof(r), 0);
		size_t off = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && got)
				return found;
			/* ENOBUFS: notifications were lost, one may
			 * have been ours */
			return errno == ENOBUFS ? 1 : -errno;
		}
		got = 1;
		while ((p = next_msg(r, (size_t)n, &off, &h))) {
			struct genlmsghdr g;
			uint32_t idx = UINT32_MAX;

			if (h.nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
				continue;
			memcpy(&g, p + NLMSG_HDRLEN, sizeof(g));
			if (g.cmd != NBD_CMD_LINK_DEAD)
				continue;
			each_attr(p + NLMSG_HDRLEN + GENL_HDRLEN,
				  h.nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
				  index_of, &idx);
			if (idx == index)
				found = 1;
		}
	}
}
