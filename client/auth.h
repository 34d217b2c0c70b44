/* SPDX-License-Identifier: MIT */
/*
 * Client side of AUTH (-o key_file=FILE): builds the CHALLENGE and PROVE
 * frames, checks the server's proof, derives the session token.  The
 * exchange is described at struct rfs_auth_req in ringfs_proto.h.
 */
#ifndef RFS_CLIENT_AUTH_H
#define RFS_CLIENT_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "authkey.h"

/* one handshake's state */
struct rfs_cl_auth {
	struct rfs_auth_transcript t;
};

/* Load the key (prints the reason on stderr and returns -errno). */
int rfs_cl_auth_load(const char *path);
bool rfs_cl_auth_enabled(void);

/*
 * Build CHALLENGE into frame (cap bytes) with request id: returns the
 * frame length or -errno.
 */
int rfs_cl_auth_challenge(struct rfs_cl_auth *a, void *frame, uint32_t cap,
			  uint64_t id, const char *export, bool csum);
/* Check the CHALLENGE reply rep, build PROVE into frame: length/-errno. */
int rfs_cl_auth_prove(struct rfs_cl_auth *a, const void *rep, void *frame,
		      uint32_t cap, uint64_t id, bool csum);
/* Check the PROVE reply (the server's proof); derive the session token. */
int rfs_cl_auth_finish(struct rfs_cl_auth *a, const void *rep,
		       uint8_t token[RFS_AUTH_TOKEN_LEN]);
/* Words for a failure of the three calls above or of the exchange. */
const char *rfs_cl_auth_strerror(int err);

/*
 * TLS (-o tls, -o tls_ca=FILE): remember the options; then, once every
 * option is parsed, rfs_cl_tls_start builds the credentials (a PSK from
 * the key when there is one, else the CA file) for server name host
 * ("HOST:PORT" or "[V6]:PORT" is fine).  Prints why and returns -errno.
 * rfs_cl_tls: the credentials for a TCP connection, NULL without -o tls.
 */
void rfs_cl_tls_want(const char *ca_file);
bool rfs_cl_tls_wanted(void);
int rfs_cl_tls_start(const char *host);
struct rfs_tls_ctx *rfs_cl_tls(void);

#endif /* RFS_CLIENT_AUTH_H */
