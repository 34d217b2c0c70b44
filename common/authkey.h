/* SPDX-License-Identifier: MIT */
/*
 * auth: the shared-secret challenge-response of AUTH (see struct
 * rfs_auth_req in ringfs_proto.h), on libsodium.  Used by ringfsd
 * (server/auth.c), ringfs (client/auth.c) and the tests.
 */
#ifndef RFS_AUTHKEY_H
#define RFS_AUTHKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringfs_proto.h"

#define RFS_AUTH_KEY_LEN 32u
#define RFS_AUTH_TOKEN_LEN 16u
#define RFS_AUTH_KEYFILE_MAX 4096u

struct rfs_auth_key {
	uint8_t k[RFS_AUTH_KEY_LEN];
};

/* The handshake's inputs, as both ends see them. */
struct rfs_auth_transcript {
	uint8_t sn[RFS_AUTH_NONCE]; /* server nonce */
	uint8_t cn[RFS_AUTH_NONCE]; /* client nonce */
	char export[RFS_EXPORT_NAME_MAX + 1];
	uint16_t export_len;
};

/* libsodium's init; 0 or -EIO.  Safe to call more than once. */
int rfs_auth_init(void);

/*
 * Load a key file: a regular file, not readable or writable by group or
 * others (0600 / 0400), holding either one line of hex (>= 64 digits) or
 * base64 (>= 32 bytes decoded), or >= 32 raw bytes.  The key is
 * BLAKE2b-256 of that material.  On error a sentence for people is
 * written to err (no "ringfs:" prefix) and -errno returned.
 */
int rfs_auth_key_load(const char *path, struct rfs_auth_key *key, char *err,
		      size_t errsz);

/* Fill n bytes with fresh randomness. */
void rfs_auth_random(void *p, size_t n);

/* mac = HMAC-SHA512-256(K, label || transcript), label "client"/"server" */
void rfs_auth_mac(const struct rfs_auth_key *key, const char *label,
		  const struct rfs_auth_transcript *t,
		  uint8_t mac[RFS_AUTH_MAC]);

/* The session token both ends derive (label "token", truncated). */
void rfs_auth_token(const struct rfs_auth_key *key,
		    const struct rfs_auth_transcript *t,
		    uint8_t token[RFS_AUTH_TOKEN_LEN]);

/*
 * A key for another purpose (label, e.g. the TLS PSK): keyed BLAKE2b of
 * the label under K, n bytes (16..64).
 */
void rfs_auth_derive(const struct rfs_auth_key *key, const char *label,
		     uint8_t *out, size_t n);

/* Constant-time comparison. */
bool rfs_auth_equal(const void *a, const void *b, size_t n);

/* Wipe secrets. */
void rfs_auth_wipe(void *p, size_t n);

#endif /* RFS_AUTHKEY_H */
