// SPDX-License-Identifier: MIT
/*
 * ringfsd security: the AUTH handshake (struct rfs_auth_req in
 * ringfs_proto.h explains the exchange), the gates HELLO and ATTACH pass
 * (authentication, then the export's network ACL, then the identity rule
 * of ident.c), and the rule that a listener reachable from other hosts
 * needs a key.
 *
 * Failures are logged rate limited with the peer's address and close the
 * connection: a peer gets one try per connection, and a new connection
 * means new nonces, so nothing recorded from an earlier handshake helps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "log.h"
#include "server.h"
#include "spin.h"
#include "tls.h"

static bool addr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_UNIX)
		return true;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		       in6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

/*
 * TLS credentials: a PSK from the key, and/or --tls-cert.  auto with
 * neither: TLS clients are refused; on/required with neither: an error.
 */
static int tls_start(struct rfs_srv_sec *s)
{
	struct rfs_tls_cfg tc = {
		.server = true,
		.key = s->have_key ? &s->key : NULL,
		.cert_file = s->tls_cert[0] ? s->tls_cert : NULL,
		.cert_key_file = s->tls_key[0] ? s->tls_key : NULL,
	};
	char err[512];
	int ret;

	if (s->tls == RFS_TLS_OFF)
		return 0;
	if (!tc.key && !tc.cert_file && s->tls == RFS_TLS_AUTO)
		return 0;
	if (!tc.key && !tc.cert_file) {
		fprintf(stderr, "ringfsd: --tls needs credentials: --key-file "
				"FILE (a PSK derived from the key) or "
				"--tls-cert FILE\n");
		return -EINVAL;
	}
	ret = rfs_tls_ctx_new(&tc, &s->tls_ctx, err, sizeof(err));
	if (ret) {
		if (s->tls == RFS_TLS_AUTO && ret == -ENOTSUP)
			return 0; /* built without TLS: clear only */
		fprintf(stderr, "ringfsd: %s\n", err);
		return ret;
	}
	rfs_info("server: TLS 1.3 accepted (%s%s%s)%s",
		 tc.key ? "PSK from the key" : "",
		 tc.key && tc.cert_file ? ", " : "",
		 tc.cert_file ? "certificate" : "",
		 s->tls == RFS_TLS_REQUIRED ? ", required on TCP" : "");
	return 0;
}

int rfs_sec_start(struct rfs_srv_cfg *c, const struct rfs_addr *listen)
{
	struct rfs_srv_sec *s = &c->sec;
	char err[512];
	bool exposed;
	int ret;

	rfs_ids_start(s);
	/* rdma setup goes through --listen too: that is what is exposed */
	exposed = !addr_is_loopback(&listen->ss);
	if (!s->key_file[0]) {
		if (exposed && !s->insecure) {
			fprintf(stderr,
				"ringfsd: listening on %s needs a "
				"key: anyone who can reach it could use the "
				"exports; give --key-file FILE (see "
				"ringfsd(8)) or --insecure to accept that\n",
				listen->text);
			return -EPERM;
		}
		if (exposed)
			rfs_warn("server: --insecure: %s accepts clients "
				 "without authentication",
				 listen->text);
		return tls_start(s);
	}
	ret = rfs_auth_key_load(s->key_file, &s->key, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "ringfsd: %s\n", err);
		return ret;
	}
	s->have_key = true;
	rfs_info("server: clients must authenticate (key %s)", s->key_file);
	return tls_start(s);
}

void rfs_sec_conn_init(struct rfs_conn_sec *s, int fd)
{
	char host[INET6_ADDRSTRLEN];

	s->peerlen = sizeof(s->peer);
	if (getpeername(fd, (struct sockaddr *)&s->peer, &s->peerlen) < 0)
		s->peerlen = 0;
	snprintf(s->peer_text, sizeof(s->peer_text), "unknown peer");
	if (s->peerlen && s->peer.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&s->peer;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(s->peer_text, sizeof(s->peer_text), "%s:%u", host,
			 ntohs(in->sin_port));
	} else if (s->peerlen && s->peer.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&s->peer;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(s->peer_text, sizeof(s->peer_text), "[%s]:%u", host,
			 ntohs(in6->sin6_port));
	} else if (s->peerlen && s->peer.ss_family == AF_UNIX) {
		snprintf(s->peer_text, sizeof(s->peer_text), "local (unix)");
	}
	/* nothing may run until HELLO/ATTACH decides (ident.c) */
	s->ids = RFS_IDS_REFUSE;
	s->ids_groups = NULL;
	s->ids_ngroups = 0;
	rfs_ids_peer(s, fd);
	s->deadline =
		rfs_now_ns() / 1000000 + (rfs_cfg.sec.setup_timeout_ms ?
						  rfs_cfg.sec.setup_timeout_ms :
						  RFS_DEFAULT_SETUP_TIMEOUT_MS);
	s->state = RFS_AUTH_NONE;
}

static int auth_fail(struct rfs_req *r, int err, const char *why)
{
	struct rfs_conn_sec *s = &r->cc->sec;

	rfs_err_rl("server: %s: authentication failed: %s", s->peer_text, why);
	rfs_auth_wipe(&s->t, sizeof(s->t));
	s->state = RFS_AUTH_NONE;
	r->close_after = true;
	return err;
}

static int auth_challenge(struct rfs_req *r, const struct rfs_auth_req *q)
{
	struct rfs_conn_sec *s = &r->cc->sec;
	struct rfs_auth_rep *p;

	if (s->state != RFS_AUTH_NONE)
		return auth_fail(r, -EPROTO, "second CHALLENGE");
	/* unknown exports are answered like known ones: no probing */
	memcpy(s->t.cn, q->nonce, sizeof(s->t.cn));
	rfs_auth_random(s->t.sn, sizeof(s->t.sn));
	memcpy(s->t.export, r->v.name, r->v.name_len);
	s->t.export[r->v.name_len] = 0;
	s->t.export_len = (uint16_t)r->v.name_len;
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p)
		return r->mb.err;
	memcpy(p->nonce, s->t.sn, sizeof(p->nonce));
	s->state = RFS_AUTH_CHALLENGED;
	return 0;
}

static int auth_prove(struct rfs_req *r, const struct rfs_auth_req *q)
{
	struct rfs_conn_sec *s = &r->cc->sec;
	uint8_t want[RFS_AUTH_MAC];
	struct rfs_auth_rep *p;
	bool ok;

	if (s->state != RFS_AUTH_CHALLENGED)
		return auth_fail(r, -EPROTO, "PROVE without CHALLENGE");
	rfs_auth_mac(&rfs_cfg.sec.key, "client", &s->t, want);
	ok = rfs_auth_equal(want, q->mac, sizeof(want));
	rfs_auth_wipe(want, sizeof(want));
	if (!ok)
		return auth_fail(r, -EKEYREJECTED, "wrong key");
	p = rfs_mb_put(&r->mb, sizeof(*p));
	if (!p)
		return r->mb.err;
	rfs_auth_mac(&rfs_cfg.sec.key, "server", &s->t, p->mac);
	s->state = RFS_AUTH_DONE;
	rfs_dbg(RFS_SUB_SERVER, "server: %s: authenticated for export %s",
		s->peer_text, s->t.export);
	return 0;
}

int rfs_tls_gate(struct rfs_req *r, const struct rfs_export *e,
		 const char *what)
{
	struct rfs_conn_sec *s = &r->cc->sec;
	bool local = s->peerlen && s->peer.ss_family == AF_UNIX;

	/* a Unix socket (and shm behind it) never leaves this host */
	if (s->tls || local)
		return 0;
	if (rfs_cfg.sec.tls != RFS_TLS_REQUIRED && !(e && e->acl.tls_required))
		return 0;
	rfs_err_rl("server: %s: %s over clear TCP refused: %s requires TLS "
		   "(the client needs -o tls)",
		   s->peer_text, what,
		   rfs_cfg.sec.tls == RFS_TLS_REQUIRED ? "this server" :
							 "the export");
	r->close_after = true;
	return -ENOPROTOOPT;
}

int rfs_auth_op(struct rfs_req *r)
{
	const struct rfs_auth_req *q = r->v.fixed;
	int ret = rfs_tls_gate(r, NULL, "AUTH");

	if (ret)
		return ret;

	if (r->cc->sess) {
		r->close_after = true;
		return -EINVAL;
	}
	if (!rfs_cfg.sec.have_key) {
		rfs_err_rl("server: %s: client wants to authenticate, but no "
			   "--key-file is configured",
			   r->cc->sec.peer_text);
		r->close_after = true;
		return -EOPNOTSUPP;
	}
	if (q->step == RFS_AUTH_CHALLENGE)
		return auth_challenge(r, q);
	return auth_prove(r, q);
}

int rfs_auth_required(struct rfs_req *r, const char *what)
{
	struct rfs_conn_sec *s = &r->cc->sec;

	if (!rfs_cfg.sec.have_key || s->state == RFS_AUTH_DONE)
		return 0;
	rfs_err_rl("server: %s: %s without authentication: refused (the "
		   "client needs -o key_file)",
		   s->peer_text, what);
	r->close_after = true;
	return -ENOKEY;
}

/*
 * authenticated for export e, from an allowed network; then whose ids
 * the connection's requests run with (ident.c)
 */
static int export_gate(struct rfs_req *r, const struct rfs_export *e,
		       bool attach)
{
	const char *what = attach ? "ATTACH" : "HELLO";
	struct rfs_conn_sec *s = &r->cc->sec;
	int ret = rfs_tls_gate(r, e, what);

	if (ret)
		return ret;
	if (rfs_cfg.sec.have_key && strcmp(s->t.export, e->name)) {
		rfs_err_rl("server: %s: %s for export %s, authenticated for "
			   "%s: refused",
			   s->peer_text, what, e->name, s->t.export);
		r->close_after = true;
		return -EACCES;
	}
	if (rfs_export_allows(e, &s->peer, s->peerlen))
		return rfs_ids_decide(r, e, attach);
	rfs_err_rl("server: %s: %s for export %s: network not allowed "
		   "(net=/nolocal): refused",
		   s->peer_text, what, e->name);
	r->close_after = true;
	return -EACCES;
}

int rfs_auth_hello(struct rfs_req *r, struct rfs_export *e)
{
	return export_gate(r, e, false);
}

int rfs_auth_attach(struct rfs_req *r, struct rfs_session *s)
{
	return export_gate(r, s->exp, true);
}

/*
 * Bind the session to this handshake: its token is derived from the key
 * and both nonces, so only a party that ran this handshake knows it, and
 * it never crosses the wire in HELLO (the reply carries zeros).
 */
void rfs_auth_session(struct rfs_req *r, struct rfs_session *s, uint8_t *token)
{
	struct rfs_conn_sec *cs = &r->cc->sec;

	(void)s;
	if (!rfs_cfg.sec.have_key || cs->state != RFS_AUTH_DONE)
		return;
	rfs_auth_token(&rfs_cfg.sec.key, &cs->t, token);
}

void rfs_auth_session_reply(struct rfs_req *r, uint8_t *reply_token)
{
	if (rfs_cfg.sec.have_key && r->cc->sec.state == RFS_AUTH_DONE)
		memset(reply_token, 0, RFS_AUTH_TOKEN_LEN);
}
