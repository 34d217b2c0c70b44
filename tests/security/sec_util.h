/* SPDX-License-Identifier: MIT */
/*
 * Raw-protocol helpers for the security suite: start a real ringfsd with
 * any arguments, connect with plain sockets, build frames with proto/'s
 * builders, run the AUTH handshake by hand.
 */
#ifndef RFS_SEC_UTIL_H
#define RFS_SEC_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "authkey.h"
#include "proto.h"

#define T_TIMEOUT_MS 10000

extern int t_failures;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,      \
				__LINE__, #cond);                          \
			fprintf(stderr, __VA_ARGS__);                      \
			fprintf(stderr, "\n");                             \
			t_failures++;                                      \
		}                                                          \
	} while (0)

__attribute__((format(printf, 1, 2), noreturn)) void t_die(const char *fmt,
							    ...);

struct t_srv {
	pid_t pid;
	unsigned port;
	char host[64];
};

/* Start ringfsd (argv after the binary, NULL-terminated); waits for its
 * "listening on HOST:PORT" line. */
void t_srv_start(struct t_srv *s, const char *bin, const char *const *args);
/* SIGTERM, wait; returns the exit status (or -1) */
int t_srv_stop(struct t_srv *s);

struct t_conn {
	int fd;
	bool csum;
	uint64_t session;
	uint64_t root;
	uint16_t hlen;
	uint8_t handle[RFS_HANDLE_MAX];
	uint8_t token[16];
	uint32_t uid, gid;
};

int t_connect_tcp(const char *host, unsigned port);
int t_connect_unix(const char *path);
void t_send(int fd, const void *p, size_t len);
/* connection closed by the server (EOF/reset) within the timeout */
bool t_closed(int fd);

/* the last reply */
extern _Alignas(8) uint8_t t_rbuf[RFS_MSG_MAX_DEFAULT];
static inline const struct rfs_hdr *t_rh(void)
{
	return (const struct rfs_hdr *)(const void *)t_rbuf;
}
static inline const void *t_rp(void)
{
	return t_rbuf + RFS_HDR_SIZE;
}

/* a request in the send buffer, caller's uid/gid from c */
struct rfs_mb *t_req(struct t_conn *c, uint16_t op);
/* send it; returns the reply status, or -EPIPE when the server closed */
int t_call(struct t_conn *c);
/* the bytes of the request just built (for captures) */
const void *t_sent(uint32_t *len);

/* AUTH by hand.  key NULL: skip.  Returns 0 or the failing status. */
int t_auth(struct t_conn *c, const struct rfs_auth_key *key,
	   const char *export, uint8_t token[16]);
int t_hello(struct t_conn *c, const char *export);
int t_attach(struct t_conn *c, uint64_t session, const uint8_t token[16]);

int t_lookup(struct t_conn *c, uint64_t parent, const char *name,
	     struct rfs_entry *e, uint8_t *handle);
/* CREATE/MKDIR/MKNOD/SYMLINK (target for SYMLINK); entry into *e */
int t_make(struct t_conn *c, uint16_t op, uint64_t parent, const char *name,
	   uint32_t mode, const char *target, struct rfs_entry *e,
	   uint64_t *fh);
int t_open(struct t_conn *c, uint64_t node, uint32_t flags, uint64_t *fh);
int t_resolve(struct t_conn *c, uint64_t id, const uint8_t *h,
	      uint16_t hlen);

#endif /* RFS_SEC_UTIL_H */
