// SPDX-License-Identifier: MIT
/*
 * tls_none: the TLS entry points of a build without GnuTLS
 * (-Dtls=disabled, or libgnutls28-dev missing): each says how to rebuild.
 */
#include <errno.h>
#include <stdio.h>

#include "tls.h"

#define REBUILD                                                           \
	"TLS is not built: install GnuTLS (Debian: libgnutls28-dev) and " \
	"rebuild with -Dtls=enabled"

bool rfs_tls_built(void)
{
	return false;
}

int rfs_tls_ctx_new(const struct rfs_tls_cfg *cfg, struct rfs_tls_ctx **out,
		    char *err, size_t errsz)
{
	(void)cfg;
	*out = NULL;
	snprintf(err, errsz, REBUILD);
	return -ENOTSUP;
}

void rfs_tls_ctx_free(struct rfs_tls_ctx *ctx)
{
	(void)ctx;
}

bool rfs_tls_is_hello(const uint8_t first4[4])
{
	return first4[0] == 0x16 && first4[1] == 0x03 && first4[2] <= 0x04;
}

int rfs_tls_handshake(struct rfs_tls_ctx *ctx, int fd, int stop_fd,
		      long long deadline_ms, struct rfs_tls **out, char *err,
		      size_t errsz)
{
	*out = NULL;
	snprintf(err, errsz, REBUILD);
	return -ENOTSUP;
}

int rfs_tls_ktls(struct rfs_tls *t)
{
	return -ENOTSUP;
}

const char *rfs_tls_desc(const struct rfs_tls *t)
{
	return "clear";
}

void rfs_tls_free(struct rfs_tls *t)
{
	(void)t;
}

ssize_t rfs_tls_writev(struct rfs_tls *t, const struct iovec *iov, int niov)
{
	errno = ENOTSUP;
	return -1;
}

ssize_t rfs_tls_readv(struct rfs_tls *t, const struct iovec *iov, int niov)
{
	errno = ENOTSUP;
	return -1;
}

bool rfs_tls_pending(const struct rfs_tls *t)
{
	return false;
}

ssize_t rfs_tls_seal(struct rfs_tls *t, const struct iovec *iov, int niov,
		     const void **out, size_t *len)
{
	return -ENOTSUP;
}

int rfs_tls_open_feed(struct rfs_tls *t, const void *p, size_t n)
{
	return -ENOTSUP;
}

ssize_t rfs_tls_open_read(struct rfs_tls *t, void *buf, size_t cap)
{
	return -ENOTSUP;
}
