/* SPDX-License-Identifier: MIT */
/*
 * tls: TLS 1.3 for the byte-stream transports (tcp, uring), on GnuTLS.
 *
 * The owner of TLS: credentials (a PSK derived from the --key-file key,
 * or X.509), the handshake on the phase-1 socket, the switch to kernel
 * TLS, and the userspace record layer the transports call only when the
 * kernel has no TLS.  Frames are plaintext above this layer: a transport
 * with a session (rfs_conn_base.tls) hands its frames' bytes here instead
 * of to the socket, and everything else (framing, progress, logs) sees
 * the same bytes as without TLS.
 *
 * Built without GnuTLS (-Dtls=disabled), every entry point fails with
 * -ENOTSUP and a sentence saying how to rebuild.
 */
#ifndef RFS_TLS_H
#define RFS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct rfs_auth_key;
struct rfs_tls_ctx; /* credentials: one per process side, shared */
struct rfs_tls;	    /* one connection's session */

struct rfs_tls_cfg {
	bool server;
	/* PSK: derived from this key (label RFS_TLS_PSK_LABEL); NULL: none */
	const struct rfs_auth_key *key;
	/* server: X.509 certificate chain and its private key (PEM) */
	const char *cert_file, *cert_key_file;
	/* client: verify the server's certificate against these CAs (PEM)
	   and its name against host */
	const char *ca_file;
	const char *host;
};

#define RFS_TLS_PSK_LABEL "ringfs tls 1.3 psk v1"
#define RFS_TLS_PSK_IDENTITY "ringfs"

/* Whether this build has TLS (GnuTLS). */
bool rfs_tls_built(void);

/*
 * Credentials for every connection of one side.  On error a sentence for
 * people goes to err and -errno is returned.
 */
int rfs_tls_ctx_new(const struct rfs_tls_cfg *cfg, struct rfs_tls_ctx **out,
		    char *err, size_t errsz);
void rfs_tls_ctx_free(struct rfs_tls_ctx *ctx);

/*
 * Does a new connection start with a TLS record (a ClientHello)?  From
 * its first four bytes, peeked (see rfs_xprt_sniff).
 */
bool rfs_tls_is_hello(const uint8_t first4[4]);

/*
 * The handshake on a connected stream socket, before any frame: waits
 * (poll) until deadline_ms (CLOCK_MONOTONIC ms; < 0: none), or until
 * stop_fd (>= 0) is readable (-ESHUTDOWN).  On error a
 * sentence for people goes to err: what failed and what to check.
 * -ETIMEDOUT: the peer stalled; -EKEYREJECTED: the peer has another key;
 * -EPROTO: not TLS, or no common parameters; -ECONNRESET: closed.
 */
int rfs_tls_handshake(struct rfs_tls_ctx *ctx, int fd, int stop_fd,
		      long long deadline_ms, struct rfs_tls **out, char *err,
		      size_t errsz);

/*
 * Hand the session's keys to the kernel (TCP_ULP "tls"): 0 when the
 * socket now encrypts by itself (the session may be freed; the socket
 * is used as without TLS); -errno when the kernel cannot (no tls
 * module: -ENOENT), and the session stays in charge (record layer).
 * A failure half way (TX set, RX refused) is fatal: -EIO, close fd.
 */
int rfs_tls_ktls(struct rfs_tls *t);
/* "TLS1.3 PSK AES-256-GCM kernel" style, for logs and stats */
const char *rfs_tls_desc(const struct rfs_tls *t);
void rfs_tls_free(struct rfs_tls *t);

/*
 * Record layer, stream socket (tcp): as sendmsg / readv on a
 * nonblocking socket (count, or -1 with errno; 0 on EOF).
 *
 * rfs_tls_writev encrypts a prefix of iov and writes it; when the socket
 * takes only part of the records it says EAGAIN, keeps the rest, and
 * the caller calls again with the same bytes (at least the same prefix)
 * when the socket is writable: the count then covers them.
 * rfs_tls_readv returns a short count only when the socket is empty and
 * no decrypted byte is left here.
 */
ssize_t rfs_tls_writev(struct rfs_tls *t, const struct iovec *iov, int niov);
ssize_t rfs_tls_readv(struct rfs_tls *t, const struct iovec *iov, int niov);
/* decrypted bytes waiting here (readv has more to give without I/O) */
bool rfs_tls_pending(const struct rfs_tls *t);

/*
 * Record layer, memory (uring: the ring moves the ciphertext).
 * rfs_tls_seal encrypts iov whole into the session's output; *out, *len:
 * the records to send (valid until the next seal).  Returns the
 * plaintext bytes taken, or -errno.  rfs_tls_open_feed takes n received
 * bytes of ciphertext; rfs_tls_open_read then gives plaintext until it
 * returns 0 (need more), or -errno (-EBADMSG: a record failed its check;
 * 0 also after the peer's close_notify).
 */
ssize_t rfs_tls_seal(struct rfs_tls *t, const struct iovec *iov, int niov,
		     const void **out, size_t *len);
int rfs_tls_open_feed(struct rfs_tls *t, const void *p, size_t n);
ssize_t rfs_tls_open_read(struct rfs_tls *t, void *buf, size_t cap);

#endif /* RFS_TLS_H */
