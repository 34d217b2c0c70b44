// SPDX-License-Identifier: MIT
/*
 * ringfsd identities: whose uid/gid a connection's requests run with.
 *
 * A request header names a uid and gid; whether the server takes them is
 * decided once per connection, from what the kernel says of the peer,
 * at HELLO/ATTACH (when the export and its options are known):
 *
 *   Unix socket, peer uid 0          ASSERT: the header's ids
 *   Unix socket, any other peer      PEER: the peer's own uid, gid and
 *                                    groups (SO_PEERCRED, SO_PEERGROUPS),
 *                                    whatever the header says; with
 *                                    peercred=refuse a header naming
 *                                    another identity gets -EACCES
 *   TCP (tcp, uring, rdma's setup)   ASSERT when authenticated with the
 *                                    key, or from a privileged source
 *                                    port (on loopback; any network with
 *                                    privport=any), or the export is
 *                                    insecure; else untrusted: REFUSE
 *                                    (untrusted=refuse, the default) or
 *                                    SQUASH to anonuid:anongid
 *
 * and the export's squash options then apply to the result (request
 * path: ops.c's rfs_caller_creds asks rfs_ids_caller).  An untrusted
 * connection is logged with the peer's address and why.  Nothing else
 * in the server looks at a peer's identity.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

#define UNPRIV_PORT_START "/proc/sys/net/ipv4/ip_unprivileged_port_start"

void rfs_ids_start(struct rfs_srv_sec *s)
{
	char buf[32];
	unsigned long v = 1024;
	ssize_t n;
	int fd;

	/*
	 * A lowered ip_unprivileged_port_start (rootless containers set
	 * it to 0) lets anyone bind the ports below 1024 in this network
	 * namespace: only ports below it prove root here.
	 */
	fd = open(UNPRIV_PORT_START, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			v = strtoul(buf, NULL, 10);
		}
		close(fd);
	}
	s->privport_below = v < 1024 ? (unsigned)v : 1024;
	if (s->privport_below < 1024)
		rfs_warn("server: %s is %u: source ports from %u on prove "
			 "nothing, so only ports below it stand for root "
			 "(privport)",
			 UNPRIV_PORT_START, s->privport_below,
			 s->privport_below);
}

/* SO_PEERGROUPS: the groups of the process that connected */
static int peer_groups(struct rfs_peer_cred *c, int fd)
{
	socklen_t len = 64 * sizeof(gid_t);
	gid_t *g = NULL, *ng;

	for (int tries = 0; tries < 4; tries++) {
		ng = realloc(g, len ? len : sizeof(gid_t));
		if (!ng) {
			free(g);
			return -ENOMEM;
		}
		g = ng;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			c->ngroups = (unsigned)(len / sizeof(gid_t));
			if (!c->ngroups) {
				free(g);
				g = NULL;
			}
			c->groups = g;
			return 0;
		}
		if (errno != ERANGE)
			break;
		/* len now says how much it takes */
	}
	free(g);
	return -errno;
}

void rfs_ids_peer(struct rfs_conn_sec *s, int fd)
{
	struct rfs_peer_cred *c = &s->cred;
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int ret;

	memset(c, 0, sizeof(*c));
	if (!s->peerlen || s->peer.ss_family != AF_UNIX)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		rfs_err_rl("server: Unix socket peer: SO_PEERCRED: %s: it is "
			   "treated as untrusted",
			   strerror(errno));
		return;
	}
	c->known = true;
	c->pid = uc.pid;
	c->uid = uc.uid;
	c->gid = uc.gid;
	snprintf(s->peer_text, sizeof(s->peer_text),
		 "local pid %d uid %u gid %u", (int)uc.pid, (unsigned)uc.uid,
		 (unsigned)uc.gid);
	ret = peer_groups(c, fd);
	if (ret)
		rfs_err_rl("server: %s: SO_PEERGROUPS: %s: its requests run "
			   "without its supplementary groups",
			   s->peer_text, strerror(-ret));
}

void rfs_sec_conn_fini(struct rfs_conn_sec *s)
{
	free(s->cred.groups);
	s->cred.groups = NULL;
	s->cred.ngroups = 0;
	free(s->ids_groups);
	s->ids_groups = NULL;
	s->ids_ngroups = 0;
}

static uint16_t peer_port(const struct rfs_conn_sec *s, bool *loopback)
{
	*loopback = false;
	if (!s->peerlen)
		return 0;
	if (s->peer.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&s->peer;

		*loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
		return ntohs(in->sin_port);
	}
	if (s->peer.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&s->peer;

		*loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
			    (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
			     in6->sin6_addr.s6_addr[12] == 127);
		return ntohs(in6->sin6_port);
	}
	return 0;
}

/*
 * A TCP peer without the key: may it assert identities?  true, or false
 * with why (for the log line) in buf.
 */
static bool tcp_trusted(const struct rfs_conn_sec *s,
			const struct rfs_export_acl *a, char *why,
			size_t whylen)
{
	bool loopback, priv;
	uint16_t port = peer_port(s, &loopback);

	if (a->insecure) {
		snprintf(why, whylen, "the export is insecure");
		return true;
	}
	priv = port && port < rfs_cfg.sec.privport_below;
	if (priv && a->privport == RFS_PRIVPORT_ANY) {
		snprintf(why, whylen,
			 "privileged source port %u (privport=any)", port);
		return true;
	}
	if (priv && loopback && a->privport == RFS_PRIVPORT_LOOPBACK) {
		snprintf(why, whylen, "privileged source port %u on loopback",
			 port);
		return true;
	}
	if (!priv)
		snprintf(why, whylen,
			 "no key, and source port %u is not privileged, "
			 "not below %u",
			 port, rfs_cfg.sec.privport_below);
	else if (a->privport == RFS_PRIVPORT_OFF)
		snprintf(why, whylen,
			 "no key, and privileged source ports count for "
			 "nothing on this export: privport=off");
	else
		snprintf(why, whylen,
			 "no key, and a privileged source port counts from "
			 "loopback only: privport=loopback");
	return false;
}

static bool peer_has_gid(const struct rfs_peer_cred *c, uint32_t gid)
{
	if (gid == c->gid)
		return true;
	for (unsigned i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

/* PEER: the groups requests run with, root_squash applied to them */
static int peer_ids_groups(struct rfs_conn_sec *s, const struct rfs_export *e)
{
	const struct rfs_peer_cred *c = &s->cred;

	free(s->ids_groups);
	s->ids_groups = NULL;
	s->ids_ngroups = 0;
	if (!c->ngroups || e->squash == RFS_SQUASH_ALL)
		return 0;
	s->ids_groups = malloc(c->ngroups * sizeof(gid_t));
	if (!s->ids_groups)
		return -ENOMEM;
	for (unsigned i = 0; i < c->ngroups; i++)
		s->ids_groups[i] =
			c->groups[i] == 0 && e->squash == RFS_SQUASH_ROOT ?
				e->anongid :
				c->groups[i];
	s->ids_ngroups = c->ngroups;
	return 0;
}

const char *rfs_ids_name(enum rfs_ids ids)
{
	switch (ids) {
	case RFS_IDS_ASSERT:
		return "as sent";
	case RFS_IDS_PEER:
		return "the peer's own";
	case RFS_IDS_SQUASH:
		return "squashed";
	case RFS_IDS_REFUSE:
		break;
	}
	return "refused";
}

int rfs_ids_decide(struct rfs_req *r, const struct rfs_export *e, bool attach)
{
	struct rfs_conn_sec *s = &r->cc->sec;
	const struct rfs_export_acl *a = &e->acl;
	const char *what = attach ? "ATTACH" : "HELLO";
	char why[160];

	s->ids = RFS_IDS_REFUSE;
	s->ids_strict = false;
	if (s->peerlen && s->peer.ss_family == AF_UNIX) {
		if (s->cred.known && s->cred.uid == 0) {
			s->ids = RFS_IDS_ASSERT;
			snprintf(why, sizeof(why), "root on the Unix socket");
		} else if (s->cred.known) {
			if (peer_ids_groups(s, e)) {
				r->close_after = true;
				return -ENOMEM;
			}
			s->ids = RFS_IDS_PEER;
			s->ids_strict = a->peercred_refuse;
			snprintf(why, sizeof(why),
				 "its own: uid %u gid %u, %u groups%s",
				 (unsigned)s->cred.uid, (unsigned)s->cred.gid,
				 s->cred.ngroups,
				 s->ids_strict ? " (peercred=refuse)" : "");
		} else {
			snprintf(why, sizeof(why),
				 "Unix socket peer of unknown credentials");
		}
	} else if (rfs_cfg.sec.have_key && s->state == RFS_AUTH_DONE) {
		s->ids = RFS_IDS_ASSERT;
		snprintf(why, sizeof(why), "authenticated with the key");
	} else if (tcp_trusted(s, a, why, sizeof(why))) {
		s->ids = RFS_IDS_ASSERT;
	}
	if (s->ids != RFS_IDS_REFUSE) {
		rfs_dbg(RFS_SUB_SERVER,
			"server: %s: %s for export %s: ids %s (%s)",
			s->peer_text, what, e->name, rfs_ids_name(s->ids), why);
		return 0;
	}
	if (a->untrusted_squash) {
		s->ids = RFS_IDS_SQUASH;
		rfs_warn("server: %s: %s for export %s: may not act as its "
			 "users (%s): every request runs as %u:%u "
			 "(untrusted=squash)",
			 s->peer_text, what, e->name, why, e->anonuid,
			 e->anongid);
		return 0;
	}
	rfs_err_rl("server: %s: %s for export %s: may not act as its users "
		   "(%s): %s (untrusted=refuse); a client needs the key "
		   "(ringfs -o key_file), a privileged source port (ringfs "
		   "as root), or the Unix socket",
		   s->peer_text, what, e->name, why,
		   attach ? "refused" : "its requests are refused");
	if (!attach)
		return 0; /* HELLO says so (RFS_EXPF_IDS_REFUSED) */
	r->close_after = true;
	return -EACCES;
}

uint32_t rfs_ids_export_flags(const struct rfs_conn_sec *s)
{
	switch (s->ids) {
	case RFS_IDS_REFUSE:
		return RFS_EXPF_IDS_REFUSED;
	case RFS_IDS_SQUASH:
		return RFS_EXPF_IDS_SQUASHED;
	case RFS_IDS_PEER:
		return RFS_EXPF_IDS_PEER;
	case RFS_IDS_ASSERT:
		break;
	}
	return 0;
}

int rfs_ids_caller(struct rfs_req *r, uint32_t *uid, uint32_t *gid,
		   const gid_t **groups, unsigned *ngroups)
{
	struct rfs_conn_sec *s = &r->cc->sec;
	const struct rfs_peer_cred *c = &s->cred;

	*groups = NULL;
	*ngroups = 0;
	switch (s->ids) {
	case RFS_IDS_ASSERT:
		return RFS_IDS_ASSERT;
	case RFS_IDS_SQUASH:
		*uid = r->exp->anonuid;
		*gid = r->exp->anongid;
		return RFS_IDS_SQUASH;
	case RFS_IDS_PEER:
		if (*uid != c->uid || !peer_has_gid(c, *gid)) {
			if (s->ids_strict) {
				rfs_err_rl("server: %s: request as %u:%u, not "
					   "its own: refused (peercred=refuse)",
					   s->peer_text, *uid, *gid);
				return -EACCES;
			}
			/* its own gid, or any of its groups, as it asks */
			if (!peer_has_gid(c, *gid))
				*gid = c->gid;
		}
		*uid = c->uid;
		*groups = s->ids_groups;
		*ngroups = s->ids_ngroups;
		return RFS_IDS_PEER;
	case RFS_IDS_REFUSE:
		break;
	}
	return -EACCES;
}
