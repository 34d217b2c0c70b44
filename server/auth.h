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
#include <sys/types.h>

#include "authkey.h"

#define RFS_EXPORT_NETS_MAX 16

/* one allowed network: family AF_INET or AF_INET6, prefix length */
struct rfs_net {
	sa_family_t family;
	uint8_t prefix;
	uint8_t addr[16];
};

/* privport=: where a privileged source port stands for root (ident.c) */
enum rfs_privport {
	RFS_PRIVPORT_LOOPBACK = 0, /* default: from loopback peers only */
	RFS_PRIVPORT_ANY,	   /* from any network the export admits */
	RFS_PRIVPORT_OFF,	   /* never: only the key */
};

/*
 * export access control: net=CIDR[:CIDR...], nolocal; and whose uid/gid
 * the export takes (ident.c): insecure, privport=, untrusted=, peercred=
 */
struct rfs_export_acl {
	unsigned nnets; /* 0: every network */
	bool nolocal;	/* refuse Unix-socket peers */
	bool insecure;	/* any TCP source port may assert identities */
	enum rfs_privport privport;
	bool untrusted_squash; /* untrusted=squash (default: refuse) */
	bool peercred_refuse;  /* peercred=refuse (default: map) */
	bool tls_required;     /* tls=required: TCP clients need TLS */
	struct rfs_net nets[RFS_EXPORT_NETS_MAX];
};

/* --tls: whether TCP clients may, or must, speak TLS (common/tls.h) */
enum rfs_tls_mode {
	RFS_TLS_AUTO = 0, /* default: accept TLS when there are credentials
			     (a key, or --tls-cert) */
	RFS_TLS_OFF,	  /* refuse TLS clients */
	RFS_TLS_ON,	  /* accept both; credentials required */
	RFS_TLS_REQUIRED, /* refuse clear TCP clients on every export */
};

struct rfs_tls_ctx;

/* server-wide settings (rfs_cfg.sec) */
struct rfs_srv_sec {
	enum rfs_tls_mode tls;
	char tls_cert[1024];	     /* X.509 chain (PEM), "" for none */
	char tls_key[1024];	     /* its private key; "": in tls_cert */
	struct rfs_tls_ctx *tls_ctx; /* NULL: TLS clients are refused */
	char key_file[1024];
	bool have_key;
	bool insecure; /* non-loopback listener without a key */
	struct rfs_auth_key key;
	unsigned max_conns;    /* connections; 0: unlimited */
	unsigned max_inflight; /* replies not yet sent, per connection */
	uint32_t max_msg;      /* largest frame; 0: the transport's default */
	unsigned setup_timeout_ms; /* first bytes, then HELLO/ATTACH */
	/* a stalled peer (conn.c, conn_stalled); 0: never */
	unsigned frame_timeout_ms; /* inside a frame, nothing received */
	unsigned reply_timeout_ms; /* replies owed, none of them taken */
	/* TCP source ports below this are privileged (ip_unprivileged_
	   port_start, at most 1024); 0: none is */
	unsigned privport_below;
};

#define RFS_DEFAULT_MAX_CONNS 1024u
#define RFS_DEFAULT_MAX_INFLIGHT 1024u
#define RFS_DEFAULT_SETUP_TIMEOUT_MS 10000u
#define RFS_DEFAULT_FRAME_TIMEOUT_MS 30000u
#define RFS_DEFAULT_REPLY_TIMEOUT_MS 30000u

enum rfs_auth_state {
	RFS_AUTH_NONE = 0,
	RFS_AUTH_CHALLENGED, /* server nonce sent, waiting for PROVE */
	RFS_AUTH_DONE,
};

/*
 * Whose uid/gid a connection's requests run with, decided once per
 * connection at HELLO/ATTACH (rfs_ids_decide, ident.c).  Zero is the
 * safe value: a connection nobody decided for runs nothing.
 */
enum rfs_ids {
	RFS_IDS_REFUSE = 0, /* none: every request needing one: -EACCES */
	RFS_IDS_SQUASH,	    /* the export's anonuid:anongid */
	RFS_IDS_PEER,	    /* the Unix socket peer's uid, gid and groups */
	RFS_IDS_ASSERT,	    /* the header's (the export squashes them) */
};

/* the peer process of a Unix socket, as the kernel tells it */
struct rfs_peer_cred {
	bool known; /* AF_UNIX and SO_PEERCRED answered */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* SO_PEERGROUPS (malloc'd); NULL when none */
	unsigned ngroups;
};

/* per-connection state (struct rfs_conn_ctx.sec) */
struct rfs_conn_sec {
	struct sockaddr_storage peer;
	socklen_t peerlen; /* 0: unknown */
	char peer_text[64];
	bool tls;	    /* the connection runs TLS */
	long long deadline; /* ms, CLOCK_MONOTONIC: setup must be done */
	enum rfs_auth_state state;
	struct rfs_auth_transcript t;
	struct rfs_peer_cred cred; /* Unix socket peers */
	enum rfs_ids ids;
	bool ids_strict;   /* PEER: refuse a header naming another id */
	gid_t *ids_groups; /* PEER: the groups requests run with */
	unsigned ids_ngroups;
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
		{ "setup-timeout", required_argument, NULL, RFS_OPT_SEC },   \
		{ "frame-timeout", required_argument, NULL, RFS_OPT_SEC },   \
		{ "reply-timeout", required_argument, NULL, RFS_OPT_SEC },   \
		{ "tls", optional_argument, NULL, RFS_OPT_SEC },             \
		{ "tls-cert", required_argument, NULL, RFS_OPT_SEC },        \
	{                                                                    \
		"tls-key", required_argument, NULL, RFS_OPT_SEC              \
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
	"                          seconds (default 10)\n"                            \
	"      --frame-timeout S   close a connection that sent part of a frame\n"    \
	"                          and then nothing for S seconds (default 30;\n"     \
	"                          0: never)\n"                                       \
	"      --reply-timeout S   close a connection that takes none of the\n"       \
	"                          replies it is owed for S seconds (default 30;\n"   \
	"                          0: never)\n"                                       \
	"      --tls[=MODE]        TLS 1.3 on TCP: auto (default: on when there is\n" \
	"                          a key or a certificate), on, off, required\n"      \
	"                          (refuse clear TCP clients)\n"                      \
	"      --tls-cert FILE     X.509 certificate chain (PEM), for TLS clients\n"  \
	"                          that verify it (ringfs -o tls_ca)\n"               \
	"      --tls-key FILE      its private key (default: in --tls-cert)\n"

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
/* Free what rfs_sec_conn_init and rfs_ids_decide allocated. */
void rfs_sec_conn_fini(struct rfs_conn_sec *s);
/* AUTH request handler */
int rfs_auth_op(struct rfs_req *r);
/*
 * Gates, 0 or -errno (and r->close_after): HELLO checks authentication,
 * then export e's network ACL; ATTACH checks rfs_auth_required before it
 * looks the session up and rfs_auth_attach (same export, ACL) after.
 * Both then decide the connection's identity rule (rfs_ids_decide).
 */
int rfs_auth_required(struct rfs_req *r, const char *what);
/*
 * A clear TCP connection where TLS is required (server-wide, or export e
 * when not NULL): logged, and -ENOPROTOOPT (r->close_after set); 0 when
 * the connection may go on.
 */
int rfs_tls_gate(struct rfs_req *r, const struct rfs_export *e,
		 const char *what);
int rfs_auth_hello(struct rfs_req *r, struct rfs_export *e);
int rfs_auth_attach(struct rfs_req *r, struct rfs_session *s);
/*
 * After HELLO made session s: derive its token from the handshake into
 * token (s->token); then clear the copy in the reply.
 */
void rfs_auth_session(struct rfs_req *r, struct rfs_session *s, uint8_t *token);
void rfs_auth_session_reply(struct rfs_req *r, uint8_t *reply_token);

/*
 * ident.c: who a connection's requests may act as (README, Security).
 *
 * rfs_ids_start: at startup, which TCP source ports are privileged.
 * rfs_ids_peer: at accept, the Unix socket peer's credentials (s->cred).
 * rfs_ids_decide: at HELLO/ATTACH on export e, after the gates above:
 * the connection's rule (s->ids), logged with the peer's address; 0, or
 * -EACCES for an ATTACH the rule refuses (r->close_after set).
 * rfs_ids_export_flags: the RFS_EXPF_IDS_* bit of the rule, for HELLO.
 * rfs_ids_caller: per request, before the export's squash: the ids the
 * request runs with in place of the header's (*uid, *gid), and the groups
 * (*groups NULL: just *gid).  Returns the connection's rule, or -EACCES:
 * RFS_IDS_ASSERT leaves *uid, *gid as the header has them, and whatever
 * else the request says of its caller stands; the others replace them.
 */
void rfs_ids_start(struct rfs_srv_sec *s);
void rfs_ids_peer(struct rfs_conn_sec *s, int fd);
int rfs_ids_decide(struct rfs_req *r, const struct rfs_export *e, bool attach);
uint32_t rfs_ids_export_flags(const struct rfs_conn_sec *s);
int rfs_ids_caller(struct rfs_req *r, uint32_t *uid, uint32_t *gid,
		   const gid_t **groups, unsigned *ngroups);
const char *rfs_ids_name(enum rfs_ids ids);

#endif /* RFS_SERVER_AUTH_H */
