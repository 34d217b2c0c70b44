// SPDX-License-Identifier: MIT
/*
 * Client side of AUTH.  The key is loaded once, at option parsing, while
 * errors still reach the user's terminal; every connection then runs its
 * own handshake with fresh nonces (client/loop.c calls us around its
 * synchronous setup calls).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "proto.h"
#include "tls.h"

static struct rfs_auth_key key;
static bool have_key;
static bool want_tls;
static char tls_ca[1024];
static struct rfs_tls_ctx *tls_ctx;

/* our own errors, distinct from what a server may answer */
#define ERR_SERVER_PROOF (-EBADE)

int rfs_cl_auth_load(const char *path)
{
	char err[512];
	int ret = rfs_auth_key_load(path, &key, err, sizeof(err));

	if (ret) {
		fprintf(stderr, "ringfs: %s\n", err);
		return ret;
	}
	have_key = true;
	return 0;
}

bool rfs_cl_auth_enabled(void)
{
	return have_key;
}

int rfs_cl_auth_challenge(struct rfs_cl_auth *a, void *frame, uint32_t cap,
			  uint64_t id, const char *export, bool csum)
{
	size_t elen = strlen(export);
	struct rfs_auth_req *q;
	struct rfs_mb mb;

	if (elen == 0 || elen > RFS_EXPORT_NAME_MAX)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	rfs_auth_random(a->t.cn, sizeof(a->t.cn));
	memcpy(a->t.export, export, elen);
	a->t.export_len = (uint16_t)elen;
	rfs_mb_init(&mb, frame, cap, RFS_OP_AUTH, id);
	q = rfs_mb_put(&mb, sizeof(*q));
	if (q) {
		q->step = RFS_AUTH_CHALLENGE;
		q->export_len = (uint16_t)elen;
		memcpy(q->nonce, a->t.cn, sizeof(q->nonce));
	}
	rfs_mb_put_bytes(&mb, export, (uint32_t)elen);
	return rfs_mb_finish(&mb, csum);
}

/* a reply to AUTH: status, then exactly one struct rfs_auth_rep */
static int auth_reply(const void *rep, const struct rfs_auth_rep **out)
{
	const struct rfs_hdr *h = rep;
	struct rfs_rep_view v;
	int ret;

	if (rfs_proto_verify(h, h + 1, false))
		return -EBADMSG;
	if (h->status < 0)
		return h->status;
	ret = rfs_proto_decode_rep(h, h + 1, RFS_OP_AUTH, &v);
	if (ret)
		return -EPROTO;
	*out = v.fixed;
	return 0;
}

int rfs_cl_auth_prove(struct rfs_cl_auth *a, const void *rep, void *frame,
		      uint32_t cap, uint64_t id, bool csum)
{
	const struct rfs_auth_rep *p;
	struct rfs_auth_req *q;
	struct rfs_mb mb;
	int ret = auth_reply(rep, &p);

	if (ret)
		return ret;
	memcpy(a->t.sn, p->nonce, sizeof(a->t.sn));
	rfs_mb_init(&mb, frame, cap, RFS_OP_AUTH, id);
	q = rfs_mb_put(&mb, sizeof(*q));
	if (q) {
		q->step = RFS_AUTH_PROVE;
		rfs_auth_mac(&key, "client", &a->t, q->mac);
	}
	return rfs_mb_finish(&mb, csum);
}

int rfs_cl_auth_finish(struct rfs_cl_auth *a, const void *rep,
		       uint8_t token[RFS_AUTH_TOKEN_LEN])
{
	const struct rfs_auth_rep *p;
	uint8_t want[RFS_AUTH_MAC];
	bool ok;
	int ret = auth_reply(rep, &p);

	if (ret)
		return ret;
	rfs_auth_mac(&key, "server", &a->t, want);
	ok = rfs_auth_equal(want, p->mac, sizeof(want));
	rfs_auth_wipe(want, sizeof(want));
	if (!ok)
		return ERR_SERVER_PROOF;
	rfs_auth_token(&key, &a->t, token);
	rfs_auth_wipe(a, sizeof(*a));
	return 0;
}

const char *rfs_cl_auth_strerror(int err)
{
	switch (err) {
	case -EKEYREJECTED:
		return "wrong key (check -o key_file)";
	case -EOPNOTSUPP:
		return "the server has no key configured (ringfsd "
		       "--key-file), so it cannot prove who it is; refusing "
		       "it (drop -o key_file to connect without "
		       "authentication)";
	case ERR_SERVER_PROOF:
		return "the server's proof does not match our key: a "
		       "different key on the server, or not the real server";
	case -ENOKEY:
		return "the server requires a key (use -o key_file=FILE)";
	case -ENOPROTOOPT:
		return "the server requires TLS here (mount with -o tls)";
	case -EPROTO:
	case -EBADMSG:
		return "malformed reply (not a ringfs 1.1 server?)";
	default:
		return strerror(-err);
	}
}

void rfs_cl_tls_want(const char *ca_file)
{
	want_tls = true;
	if (ca_file)
		snprintf(tls_ca, sizeof(tls_ca), "%s", ca_file);
}

bool rfs_cl_tls_wanted(void)
{
	return want_tls;
}

int rfs_cl_tls_start(const char *host)
{
	struct rfs_tls_cfg c = { .server = false };
	char name[256], err[512];
	const char *colon;
	size_t n;
	int ret;

	if (!want_tls || tls_ctx)
		return 0;
	/* the host part of HOST:PORT / [V6]:PORT, for the certificate */
	if (host[0] == '[') {
		host++;
		colon = strchr(host, ']');
	} else {
		colon = strrchr(host, ':');
		if (colon && strchr(host, ':') != colon)
			colon = NULL; /* a bare IPv6 address */
	}
	n = colon ? (size_t)(colon - host) : strlen(host);
	snprintf(name, sizeof(name), "%.*s", (int)n, host);
	c.key = have_key ? &key : NULL;
	c.ca_file = tls_ca[0] ? tls_ca : NULL;
	c.host = name;
	if (!c.key && !c.ca_file) {
		fprintf(stderr, "ringfs: -o tls needs -o key_file=FILE (a PSK "
				"derived from the shared key) or -o "
				"tls_ca=FILE (verify the server's "
				"certificate)\n");
		return -EINVAL;
	}
	ret = rfs_tls_ctx_new(&c, &tls_ctx, err, sizeof(err));
	if (ret)
		fprintf(stderr, "ringfs: %s\n", err);
	return ret;
}

struct rfs_tls_ctx *rfs_cl_tls(void)
{
	return tls_ctx;
}
