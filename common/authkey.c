// SPDX-License-Identifier: MIT
/*
 * auth: key files and the MACs of the AUTH handshake, on libsodium
 * (HMAC-SHA512-256 for the proofs, BLAKE2b for the key derivation).
 * The transcript is length-delimited field by field so that no two
 * different handshakes hash the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authkey.h"

#define AUTH_DOMAIN "ringfs-auth v1"

int rfs_auth_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void rfs_auth_random(void *p, size_t n)
{
	randombytes_buf(p, n);
}

bool rfs_auth_equal(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}

void rfs_auth_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/*
 * The key material of a file's bytes: one hex line, one base64 line, or
 * the raw bytes.  Returns the material's length in out, or 0.
 */
static size_t key_material(const uint8_t *buf, size_t n, uint8_t *out,
			   size_t outsz)
{
	size_t len = n, bin = 0;

	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		       buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (len >= 2 * RFS_AUTH_KEY_LEN && len % 2 == 0 &&
	    all_hex((const char *)buf, len) &&
	    sodium_hex2bin(out, outsz, (const char *)buf, len, NULL, &bin,
			   NULL) == 0 &&
	    bin >= RFS_AUTH_KEY_LEN)
		return bin;
	if (len >= 43 && !memchr(buf, '\n', len) &&
	    sodium_base642bin(out, outsz, (const char *)buf, len, NULL, &bin,
			      NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    bin >= RFS_AUTH_KEY_LEN)
		return bin;
	if (n >= RFS_AUTH_KEY_LEN && n <= outsz) {
		memcpy(out, buf, n);
		return n;
	}
	return 0;
}

int rfs_auth_key_load(const char *path, struct rfs_auth_key *key, char *err,
		      size_t errsz)
{
	uint8_t buf[RFS_AUTH_KEYFILE_MAX + 1], mat[RFS_AUTH_KEYFILE_MAX];
	struct stat st;
	size_t n = 0, mlen;
	int fd, ret = 0;

	if (rfs_auth_init()) {
		snprintf(err, errsz, "libsodium cannot start");
		return -EIO;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errsz, "key file %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, errsz, "key file %s: stat: %s", path,
			 strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, errsz, "key file %s: not a regular file", path);
		goto out_close;
	}
	if (st.st_mode & 077) {
		ret = -EPERM;
		snprintf(err, errsz,
			 "key file %s: mode %04o lets group or "
			 "others read it; chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		goto out_close;
	}
	while (n < sizeof(buf)) {
		ssize_t got = read(fd, buf + n, sizeof(buf) - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ret = -errno;
			snprintf(err, errsz, "key file %s: read: %s", path,
				 strerror(errno));
			goto out_wipe;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > RFS_AUTH_KEYFILE_MAX) {
		ret = -EFBIG;
		snprintf(err, errsz, "key file %s: larger than %u bytes", path,
			 RFS_AUTH_KEYFILE_MAX);
		goto out_wipe;
	}
	mlen = key_material(buf, n, mat, sizeof(mat));
	if (!mlen) {
		ret = -EINVAL;
		snprintf(err, errsz,
			 "key file %s: too short: need at least "
			 "%u random bytes (or a line of %u hex digits); make "
			 "one with: head -c 32 /dev/urandom > %s",
			 path, RFS_AUTH_KEY_LEN, 2 * RFS_AUTH_KEY_LEN, path);
		goto out_wipe;
	}
	crypto_generichash(key->k, sizeof(key->k), mat, mlen,
			   (const uint8_t *)AUTH_DOMAIN,
			   sizeof(AUTH_DOMAIN) - 1);
out_wipe:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(mat, sizeof(mat));
out_close:
	close(fd);
	return ret;
}

void rfs_auth_mac(const struct rfs_auth_key *key, const char *label,
		  const struct rfs_auth_transcript *t,
		  uint8_t mac[RFS_AUTH_MAC])
{
	crypto_auth_hmacsha512256_state st;
	uint8_t lab_len = (uint8_t)strlen(label);
	uint8_t major = RFS_PROTO_MAJOR;
	uint8_t elen[2] = { (uint8_t)(t->export_len & 0xff),
			    (uint8_t)(t->export_len >> 8) };

	_Static_assert(crypto_auth_hmacsha512256_BYTES == RFS_AUTH_MAC,
		       "mac size");
	crypto_auth_hmacsha512256_init(&st, key->k, sizeof(key->k));
	crypto_auth_hmacsha512256_update(&st, &lab_len, 1);
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)label, lab_len);
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)AUTH_DOMAIN,
					 sizeof(AUTH_DOMAIN) - 1);
	crypto_auth_hmacsha512256_update(&st, &major, 1);
	crypto_auth_hmacsha512256_update(&st, t->sn, sizeof(t->sn));
	crypto_auth_hmacsha512256_update(&st, t->cn, sizeof(t->cn));
	crypto_auth_hmacsha512256_update(&st, elen, sizeof(elen));
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)t->export,
					 t->export_len);
	crypto_auth_hmacsha512256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

void rfs_auth_token(const struct rfs_auth_key *key,
		    const struct rfs_auth_transcript *t,
		    uint8_t token[RFS_AUTH_TOKEN_LEN])
{
	uint8_t mac[RFS_AUTH_MAC];

	rfs_auth_mac(key, "token", t, mac);
	memcpy(token, mac, RFS_AUTH_TOKEN_LEN);
	sodium_memzero(mac, sizeof(mac));
}

void rfs_auth_derive(const struct rfs_auth_key *key, const char *label,
		     uint8_t *out, size_t n)
{
	/* keyed BLAKE2b over a label: a key for one purpose, never K */
	crypto_generichash(out, n, (const uint8_t *)label, strlen(label),
			   key->k, sizeof(key->k));
}
