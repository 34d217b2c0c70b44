/* SPDX-License-Identifier: MIT */
/*
 * ringfsd security: AUTH (the shared-secret handshake), export network
 * ACLs and the server-wide limits.  Private to server/; server.h embeds
 * these structs.
 */
#ifndef RFS_SERVER_AUTH_H
#define RFS_SERVER_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "authkey.h"

#define RFS_EXPORT_NETS_MAX 16

/* one allowed network: family AF_INET or AF_INET6, prefix length */
struct rfs_net {
	sa_family_t family;
	uint8_t prefix;
	uint8_t addr[16];
};

/* export access control: net=CIDR[:CIDR...], nolocal */
struct rfs_export_acl {
	unsigned nnets; /* 0: every network */
	bool nolocal;	/* refuse Unix-socket peers */
	struct rfs_net nets[RFS_EXPORT_NETS_MAX];
};

/* server-wide settings (rfs_cfg.sec) */
struct rfs_srv_sec {
	char key_file[1024];
	bool have_key;
	bool insecure; /* non-loopback listener without a key */
	struct rfs_auth_key key;
	unsigned max_conns;    /* connections; 0: unlimited */
	unsigned max_inflight; /* replies not yet sent, per connection */
	uint32_t max_msg;      /* largest frame; 0: the transport's default */
	unsigned setup_timeout_ms; /* first bytes, then HELLO/ATTACH */
};

#define RFS_DEFAULT_MAX_CONNS 1024u
#define RFS_DEFAULT_MAX_INFLIGHT 1024u
#define RFS_DEFAULT_SETUP_TIMEOUT_MS 10000u

enum rfs_auth_state {
	RFS_AUTH_NONE = 0,
	RFS_AUTH_CHALLENGED, /* server nonce sent, waiting for PROVE */
	RFS_AUTH_DONE,
};

/* per-connection state (struct rfs_conn_ctx.sec) */
struct rfs_conn_sec {
	struct sockaddr_storage peer;
	socklen_t peerlen; /* 0: unknown */
	char peer_text[64];
	long long deadline; /* ms, CLOCK_MONOTONIC: setup must be done */
	enum rfs_auth_state state;
	struct rfs_auth_transcript t;
};

struct rfs_req;
struct rfs_session;
struct rfs_export;
struct rfs_srv_cfg;
struct rfs_addr;

/* getopt: every option of ours uses this code; name tells which */
#define RFS_OPT_SEC 0x5ec
#define RFS_SEC_LOPTS                                                        \
	{ "key-file", required_argument, NULL, RFS_OPT_SEC },                \
		{ "insecure", no_argument, NULL, RFS_OPT_SEC },              \
		{ "max-connections", required_argument, NULL, RFS_OPT_SEC }, \
		{ "max-inflight", required_argument, NULL, RFS_OPT_SEC },    \
		{ "max-msg", required_argument, NULL, RFS_OPT_SEC },         \
	{                                                                    \
		"setup-timeout", required_argument, NULL, RFS_OPT_SEC        \
	}
#define RFS_SEC_USAGE                                                                 \
	"      --key-file FILE     shared secret: every client must prove it knows\n" \
	"                          it (AUTH); FILE mode 0600, >= 32 random bytes\n"   \
	"      --insecure          allow a non-loopback --listen without a key\n"     \
	"      --max-connections N refuse connections beyond N (default 1024)\n"      \
	"      --max-inflight N    replies a client may leave uncollected before\n"   \
	"                          it is disconnected (default 1024)\n"               \
	"      --max-msg BYTES     largest frame accepted (negotiated in HELLO)\n"    \
	"      --setup-timeout S   drop a connection without HELLO/ATTACH after S\n"  \
	"                          seconds (default 10)\n"

/* config.c */
/* A server-wide key from the command line (kept, applied after --config). */
int rfs_cfg_cli_set(const char *key, const char *val);
int rfs_cfg_cli_apply(struct rfs_srv_cfg *c);
/* One server-wide setting by its config-file key; 1: not ours. */
int rfs_cfg_sec_key(struct rfs_srv_cfg *c, const char *key, const char *val);
/* Is a peer allowed on export e?  peerlen 0 (unknown): only without ACL */
bool rfs_export_allows(const struct rfs_export *e,
		       const struct sockaddr_storage *peer, socklen_t peerlen);

/* auth.c */
/* After configuration: the key-required rule, load the key.  0 / -errno */
int rfs_sec_start(struct rfs_srv_cfg *c, const struct rfs_addr *listen);
/* Record the peer of an accepted socket, start the setup deadline. */
void rfs_sec_conn_init(struct rfs_conn_sec *s, int fd);
/* AUTH request handler */
int rfs_auth_op(struct rfs_req *r);
/*
 * Gates, 0 or -errno (and r->close_after): HELLO checks authentication,
 * then export e's network ACL; ATTACH checks rfs_auth_required before it
 * looks the session up and rfs_auth_attach (same export, ACL) after.
 */
int rfs_auth_required(struct rfs_req *r, const char *what);
int rfs_auth_hello(struct rfs_req *r, struct rfs_export *e);
int rfs_auth_attach(struct rfs_req *r, struct rfs_session *s);
/*
 * After HELLO made session s: derive its token from the handshake into
 * token (s->token); then clear the copy in the reply.
 */
void rfs_auth_session(struct rfs_req *r, struct rfs_session *s, uint8_t *token);
void rfs_auth_session_reply(struct rfs_req *r, uint8_t *reply_token);

#endif /* RFS_SERVER_AUTH_H */
