// SPDX-License-Identifier: MIT
/*
 * tls: TLS 1.3 on GnuTLS for the byte-stream transports (see tls.h).
 *
 * Handshake: on the phase-1 socket, nonblocking, poll()ed against the
 * caller's deadline.  No session tickets (GNUTLS_NO_TICKETS on both
 * ends): after the handshake nothing but application data flows, which
 * is what kernel TLS needs (a control record would end a kTLS recv with
 * EIO) and what a reconnect needs (every connection runs a full
 * handshake with fresh (EC)DHE shares).
 *
 * PSK: the key of --key-file / -o key_file never goes into TLS itself;
 * the PSK is rfs_auth_derive(K, RFS_TLS_PSK_LABEL), identity "ringfs",
 * with (EC)DHE (psk_dhe_ke) preferred for forward secrecy.
 *
 * Record layer: GnuTLS's push function always appends to our ciphertext
 * buffer (tx), so gnutls_record_send never sees EAGAIN; we write tx to
 * the socket (tcp) or hand it to the ring (uring).  The pull function
 * reads the socket (tcp) or our ciphertext input buffer (uring).
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authkey.h"
#include "log.h"
#include "spin.h"
#include "tls.h"
#include "util.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define TLS_PSK_LEN 32u
/* plaintext encrypted per rfs_tls_writev: a few records' worth */
#define WRITE_CHUNK (256u * 1024u)
/* ciphertext read per recv in the data phase (tcp) */
#define RX_CHUNK (64u * 1024u)

/* TLS 1.3 only; (EC)DHE-PSK before plain PSK; AEADs the kernel has */
#define PRIO_PSK                                                          \
	"NONE:+VERS-TLS1.3:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"+AEAD:+ECDHE-PSK:+DHE-PSK:+PSK:+GROUP-X25519:+GROUP-SECP256R1:"  \
	"+SIGN-ALL:+COMP-NULL:+CTYPE-X509"
#define PRIO_CERT                                                         \
	"NONE:+VERS-TLS1.3:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"+AEAD:+ECDHE-RSA:+ECDHE-ECDSA:+GROUP-X25519:+GROUP-SECP256R1:"   \
	"+SIGN-ALL:+COMP-NULL:+CTYPE-X509"
#define PRIO_BOTH                                                         \
	"NONE:+VERS-TLS1.3:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"+AEAD:+ECDHE-PSK:+DHE-PSK:+PSK:+ECDHE-RSA:+ECDHE-ECDSA:"         \
	"+GROUP-X25519:+GROUP-SECP256R1:+SIGN-ALL:+COMP-NULL:+CTYPE-X509"

struct rfs_tls_ctx {
	bool server;
	bool psk;
	uint8_t psk_key[TLS_PSK_LEN];
	gnutls_psk_server_credentials_t psk_s;
	gnutls_psk_client_credentials_t psk_c;
	gnutls_certificate_credentials_t cert;
	gnutls_priority_t prio;
	char host[256];
};

struct xbuf {
	uint8_t *p;
	size_t len, off, cap;
};

struct rfs_tls {
	gnutls_session_t s;
	const struct rfs_tls_ctx *ctx;
	int fd;
	bool data;	/* handshake done: push appends to tx */
	bool mem_rx;	/* pull reads rx (uring) instead of the socket */
	bool eof;	/* socket EOF seen by pull */
	int pull_errno; /* the socket's error, as pull saw it */
	struct xbuf tx, rx;
	size_t tx_plain; /* plaintext bytes tx holds (writev) */
	char desc[96];
};

bool rfs_tls_built(void)
{
	return true;
}

static int xbuf_reserve(struct xbuf *b, size_t more)
{
	size_t need;
	uint8_t *np;

	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	need = b->len + more;
	if (need <= b->cap)
		return 0;
	if (b->off) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		need = b->len + more;
		if (need <= b->cap)
			return 0;
	}
	np = realloc(b->p, need < 2 * b->cap ? 2 * b->cap : need);
	if (!np)
		return -ENOMEM;
	b->cap = need < 2 * b->cap ? 2 * b->cap : need;
	b->p = np;
	return 0;
}

/* ---- credentials ------------------------------------------------------ */

static int psk_server_cb(gnutls_session_t s, const char *user,
			 gnutls_datum_t *key)
{
	const struct rfs_tls *t = gnutls_session_get_ptr(s);

	if (strcmp(user, RFS_TLS_PSK_IDENTITY) || !t->ctx->psk)
		return -1;
	key->data = gnutls_malloc(TLS_PSK_LEN);
	if (!key->data)
		return -1;
	memcpy(key->data, t->ctx->psk_key, TLS_PSK_LEN);
	key->size = TLS_PSK_LEN;
	return 0;
}

static int gerr(int rc, char *err, size_t errsz, const char *what,
		const char *file)
{
	snprintf(err, errsz, "TLS: %s%s%s: %s", what, file ? " " : "",
		 file ? file : "", gnutls_strerror(rc));
	return rc == GNUTLS_E_FILE_ERROR ? -ENOENT : -EINVAL;
}

int rfs_tls_ctx_new(const struct rfs_tls_cfg *cfg, struct rfs_tls_ctx **out,
		    char *err, size_t errsz)
{
	struct rfs_tls_ctx *c;
	const char *prio;
	int rc, ret = -ENOMEM;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errsz, "TLS: out of memory");
		return -ENOMEM;
	}
	c->server = cfg->server;
	if (cfg->key) {
		gnutls_datum_t k = { c->psk_key, TLS_PSK_LEN };

		c->psk = true;
		rfs_auth_derive(cfg->key, RFS_TLS_PSK_LABEL, c->psk_key,
				TLS_PSK_LEN);
		if (c->server) {
			rc = gnutls_psk_allocate_server_credentials(&c->psk_s);
			if (rc < 0)
				goto gfail;
			gnutls_psk_set_server_credentials_function(
				c->psk_s, psk_server_cb);
		} else {
			rc = gnutls_psk_allocate_client_credentials(&c->psk_c);
			if (rc < 0)
				goto gfail;
			rc = gnutls_psk_set_client_credentials(
				c->psk_c, RFS_TLS_PSK_IDENTITY, &k,
				GNUTLS_PSK_KEY_RAW);
			if (rc < 0)
				goto gfail;
		}
	}
	if ((c->server && cfg->cert_file) || (!c->server && cfg->ca_file)) {
		rc = gnutls_certificate_allocate_credentials(&c->cert);
		if (rc < 0)
			goto gfail;
	}
	if (c->server && cfg->cert_file) {
		rc = gnutls_certificate_set_x509_key_file(
			c->cert, cfg->cert_file,
			cfg->cert_key_file ? cfg->cert_key_file :
					     cfg->cert_file,
			GNUTLS_X509_FMT_PEM);
		if (rc < 0) {
			ret = gerr(rc, err, errsz,
				   "cannot load certificate/key",
				   cfg->cert_file);
			goto fail;
		}
	}
	if (!c->server && cfg->ca_file) {
		rc = gnutls_certificate_set_x509_trust_file(
			c->cert, cfg->ca_file, GNUTLS_X509_FMT_PEM);
		if (rc <= 0) {
			ret = gerr(rc ? rc : GNUTLS_E_FILE_ERROR, err, errsz,
				   "no CA certificate in", cfg->ca_file);
			goto fail;
		}
		snprintf(c->host, sizeof(c->host), "%s",
			 cfg->host ? cfg->host : "");
	}
	if (!c->psk && !c->cert) {
		snprintf(err, errsz, "TLS needs a key (%s) or %s",
			 c->server ? "--key-file" : "-o key_file",
			 c->server ? "a certificate (--tls-cert)" :
				     "a CA file (-o tls_ca)");
		ret = -EINVAL;
		goto fail;
	}
	prio = c->psk && c->cert ? PRIO_BOTH : c->psk ? PRIO_PSK : PRIO_CERT;
	rc = gnutls_priority_init(&c->prio, prio, NULL);
	if (rc < 0)
		goto gfail;
	*out = c;
	return 0;
gfail:
	ret = gerr(rc, err, errsz, "setting up credentials", NULL);
fail:
	rfs_tls_ctx_free(c);
	return ret;
}

void rfs_tls_ctx_free(struct rfs_tls_ctx *c)
{
	if (!c)
		return;
	if (c->psk_s)
		gnutls_psk_free_server_credentials(c->psk_s);
	if (c->psk_c)
		gnutls_psk_free_client_credentials(c->psk_c);
	if (c->cert)
		gnutls_certificate_free_credentials(c->cert);
	if (c->prio)
		gnutls_priority_deinit(c->prio);
	rfs_auth_wipe(c->psk_key, sizeof(c->psk_key));
	free(c);
}

bool rfs_tls_is_hello(const uint8_t first4[4])
{
	/* a handshake record, TLS 1.x legacy version */
	return first4[0] == 0x16 && first4[1] == 0x03 && first4[2] <= 0x04;
}

/* ---- transport callbacks ---------------------------------------------- */

static ssize_t push_cb(gnutls_transport_ptr_t p, const void *data, size_t n)
{
	struct rfs_tls *t = p;
	ssize_t w;

	if (t->data) {
		if (xbuf_reserve(&t->tx, n)) {
			gnutls_transport_set_errno(t->s, ENOMEM);
			return -1;
		}
		memcpy(t->tx.p + t->tx.len, data, n);
		t->tx.len += n;
		return (ssize_t)n;
	}
	w = send(t->fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0)
		gnutls_transport_set_errno(t->s, errno);
	return w;
}

static ssize_t pull_cb(gnutls_transport_ptr_t p, void *data, size_t n)
{
	struct rfs_tls *t = p;
	ssize_t r;

	if (t->mem_rx) {
		size_t have = t->rx.len - t->rx.off;

		if (!have) {
			gnutls_transport_set_errno(t->s, EAGAIN);
			return -1;
		}
		if (n > have)
			n = have;
		memcpy(data, t->rx.p + t->rx.off, n);
		t->rx.off += n;
		return (ssize_t)n;
	}
	if (t->data) {
		/*
		 * Data phase (tcp): one large recv into rx feeds GnuTLS's
		 * header and body reads, a syscall per batch of records
		 * instead of two per record.  Not during the handshake: what
		 * it read past the handshake could not go to kernel TLS.
		 */
		size_t have = t->rx.len - t->rx.off;

		if (!have) {
			if (xbuf_reserve(&t->rx, RX_CHUNK)) {
				gnutls_transport_set_errno(t->s, ENOMEM);
				return -1;
			}
			r = recv(t->fd, t->rx.p + t->rx.len, RX_CHUNK,
				 MSG_DONTWAIT);
			if (r <= 0)
				goto out;
			t->rx.len += (size_t)r;
			have = (size_t)r;
		}
		if (n > have)
			n = have;
		memcpy(data, t->rx.p + t->rx.off, n);
		t->rx.off += n;
		return (ssize_t)n;
	}
	r = recv(t->fd, data, n, MSG_DONTWAIT);
out:
	if (r < 0) {
		t->pull_errno = errno;
		gnutls_transport_set_errno(t->s, errno);
	}
	if (r == 0)
		t->eof = true;
	return r;
}

/* ---- handshake -------------------------------------------------------- */

static int hs_fail(struct rfs_tls *t, int rc, char *err, size_t errsz)
{
	const char *hint = "";
	int ret = -EPROTO;

	if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		gnutls_alert_description_t a = gnutls_alert_get(t->s);

		if (t->ctx->psk && (a == GNUTLS_A_DECRYPT_ERROR ||
				    a == GNUTLS_A_ILLEGAL_PARAMETER ||
				    a == GNUTLS_A_UNKNOWN_PSK_IDENTITY ||
				    a == GNUTLS_A_BAD_RECORD_MAC)) {
			hint = " (the peer has another key: check key_file "
			       "on both ends)";
			ret = -EKEYREJECTED;
		}
		snprintf(err, errsz,
			 "TLS handshake failed: the peer said "
			 "'%s'%s",
			 gnutls_alert_get_name(a), hint);
		return ret;
	}
	/* tell the peer why (best effort: the socket may be gone) */
	gnutls_alert_send_appropriate(t->s, rc);
	if (rc == GNUTLS_E_DECRYPTION_FAILED ||
	    rc == GNUTLS_E_KEY_USAGE_VIOLATION ||
	    rc == GNUTLS_E_MAC_VERIFY_FAILED ||
	    (t->ctx->psk && rc == GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER)) {
		hint = " (the peer has another key: check key_file on both "
		       "ends)";
		ret = -EKEYREJECTED;
	} else if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR ||
		   rc == GNUTLS_E_CERTIFICATE_ERROR) {
		hint = " (the server's certificate does not verify against "
		       "tls_ca for this host name)";
		ret = -EKEYREJECTED;
	} else if (rc == GNUTLS_E_PREMATURE_TERMINATION ||
		   rc == GNUTLS_E_PULL_ERROR || rc == GNUTLS_E_PUSH_ERROR) {
		hint = " (the peer closed: does it speak TLS? ringfsd needs "
		       "--key-file or --tls-cert, and tls not off)";
		ret = -ECONNRESET;
	} else if (rc == GNUTLS_E_UNEXPECTED_PACKET_LENGTH ||
		   rc == GNUTLS_E_UNSUPPORTED_VERSION_PACKET ||
		   rc == GNUTLS_E_UNEXPECTED_PACKET) {
		hint = " (the peer does not speak TLS 1.3)";
	} else if (rc == GNUTLS_E_NO_CIPHER_SUITES ||
		   rc == GNUTLS_E_INSUFFICIENT_CREDENTIALS ||
		   rc == GNUTLS_E_NO_COMMON_KEY_SHARE) {
		hint = " (nothing in common: a key on one end only? give "
		       "the same key_file to both, or a certificate and "
		       "tls_ca)";
	}
	snprintf(err, errsz, "TLS handshake failed: %s%s", gnutls_strerror(rc),
		 hint);
	return ret;
}

static void describe(struct rfs_tls *t)
{
	gnutls_kx_algorithm_t kx = gnutls_kx_get(t->s);

	snprintf(t->desc, sizeof(t->desc), "TLS1.3 %s %s",
		 kx == GNUTLS_KX_PSK ? "PSK" :
		 kx == GNUTLS_KX_ECDHE_PSK || kx == GNUTLS_KX_DHE_PSK ?
				       "PSK+DHE" :
				       "X.509",
		 gnutls_cipher_get_name(gnutls_cipher_get(t->s)));
}

int rfs_tls_handshake(struct rfs_tls_ctx *ctx, int fd, int stop_fd,
		      long long deadline_ms, struct rfs_tls **out, char *err,
		      size_t errsz)
{
	struct rfs_tls *t;
	int rc, ret;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errsz, "TLS: out of memory");
		return -ENOMEM;
	}
	t->ctx = ctx;
	t->fd = fd;
	rc = gnutls_init(&t->s, (ctx->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
					GNUTLS_NO_TICKETS | GNUTLS_NONBLOCK);
	if (rc < 0) {
		t->s = NULL;
		ret = gerr(rc, err, errsz, "session", NULL);
		goto fail;
	}
	gnutls_session_set_ptr(t->s, t);
	rc = gnutls_priority_set(t->s, ctx->prio);
	if (rc >= 0 && (ctx->psk_s || ctx->psk_c))
		rc = gnutls_credentials_set(t->s, GNUTLS_CRD_PSK,
					    ctx->server ? (void *)ctx->psk_s :
							  (void *)ctx->psk_c);
	if (rc >= 0 && ctx->cert)
		rc = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE,
					    ctx->cert);
	if (rc >= 0 && !ctx->server && ctx->cert && ctx->host[0]) {
		rc = gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, ctx->host,
					    strlen(ctx->host));
		gnutls_session_set_verify_cert(t->s, ctx->host, 0);
	} else if (rc >= 0 && !ctx->server && ctx->cert) {
		gnutls_session_set_verify_cert(t->s, NULL, 0);
	}
	if (rc < 0) {
		ret = gerr(rc, err, errsz, "session", NULL);
		goto fail;
	}
	gnutls_transport_set_ptr(t->s, t);
	gnutls_transport_set_push_function(t->s, push_cb);
	gnutls_transport_set_pull_function(t->s, pull_cb);
	for (;;) {
		struct pollfd pfd[2] = { { .fd = fd },
					 { .fd = stop_fd, .events = POLLIN } };
		long long left;

		rc = gnutls_handshake(t->s);
		if (rc == 0)
			break;
		if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED) {
			ret = hs_fail(t, rc, err, errsz);
			goto fail;
		}
		left = deadline_ms < 0 ? -1 : deadline_ms - rfs_now_ms();
		if (deadline_ms >= 0 && left <= 0) {
			snprintf(err, errsz,
				 "TLS handshake: the peer stalled (no answer "
				 "before the setup timeout)");
			ret = -ETIMEDOUT;
			goto fail;
		}
		pfd[0].events = gnutls_record_get_direction(t->s) ? POLLOUT :
								    POLLIN;
		if (poll(pfd, stop_fd >= 0 ? 2 : 1,
			 left > 1000000 ? 1000000 : (int)left) < 0 &&
		    errno != EINTR) {
			ret = -errno;
			snprintf(err, errsz, "TLS handshake: poll: %s",
				 strerror(-ret));
			goto fail;
		}
		if (pfd[1].revents & POLLIN) {
			snprintf(err, errsz, "TLS handshake: shutting down");
			ret = -ESHUTDOWN;
			goto fail;
		}
	}
	t->data = true;
	describe(t);
	*out = t;
	return 0;
fail:
	rfs_tls_free(t);
	return ret;
}

const char *rfs_tls_desc(const struct rfs_tls *t)
{
	return t ? t->desc : "clear";
}

void rfs_tls_free(struct rfs_tls *t)
{
	if (!t)
		return;
	if (t->s)
		gnutls_deinit(t->s);
	free(t->tx.p);
	free(t->rx.p);
	free(t);
}

/* ---- kernel TLS ------------------------------------------------------- */

union ktls_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 g128;
	struct tls12_crypto_info_aes_gcm_256 g256;
	struct tls12_crypto_info_chacha20_poly1305 cc;
};

/* the kernel's crypto_info for one direction; its size, or -errno */
static int ktls_info(struct rfs_tls *t, bool rx, union ktls_info *ci)
{
	gnutls_datum_t mac, iv, key;
	unsigned char seq[8];
	int rc;

	rc = gnutls_record_get_state(t->s, rx ? 1 : 0, &mac, &iv, &key, seq);
	if (rc < 0)
		return -EINVAL;
	memset(ci, 0, sizeof(*ci));
	ci->info.version = TLS_1_3_VERSION;
	switch (gnutls_cipher_get(t->s)) {
	case GNUTLS_CIPHER_AES_128_GCM:
		if (key.size != 16 || iv.size != 12)
			return -EINVAL;
		ci->info.cipher_type = TLS_CIPHER_AES_GCM_128;
		memcpy(ci->g128.salt, iv.data, 4);
		memcpy(ci->g128.iv, iv.data + 4, 8);
		memcpy(ci->g128.key, key.data, 16);
		memcpy(ci->g128.rec_seq, seq, 8);
		return (int)sizeof(ci->g128);
	case GNUTLS_CIPHER_AES_256_GCM:
		if (key.size != 32 || iv.size != 12)
			return -EINVAL;
		ci->info.cipher_type = TLS_CIPHER_AES_GCM_256;
		memcpy(ci->g256.salt, iv.data, 4);
		memcpy(ci->g256.iv, iv.data + 4, 8);
		memcpy(ci->g256.key, key.data, 32);
		memcpy(ci->g256.rec_seq, seq, 8);
		return (int)sizeof(ci->g256);
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		if (key.size != 32 || iv.size != 12)
			return -EINVAL;
		ci->info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		memcpy(ci->cc.iv, iv.data, 12);
		memcpy(ci->cc.key, key.data, 32);
		memcpy(ci->cc.rec_seq, seq, 8);
		return (int)sizeof(ci->cc);
	default:
		return -EOPNOTSUPP;
	}
}

int rfs_tls_ktls(struct rfs_tls *t)
{
	union ktls_info ci;
	int len, ret;

	if (getenv("RINGFS_NO_KTLS"))
		return -EPERM; /* tests and benchmarks: the record layer */
	/* bytes GnuTLS already read past the handshake cannot go back */
	if (gnutls_record_check_pending(t->s) || t->tx.len > t->tx.off ||
	    t->rx.len > t->rx.off)
		return -EBUSY;
	len = ktls_info(t, false, &ci);
	if (len < 0)
		return len;
	if (setsockopt(t->fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")))
		return -errno; /* ENOENT: no tls module */
	ret = setsockopt(t->fd, SOL_TLS, TLS_TX, &ci, (socklen_t)len) ? -errno :
									0;
	rfs_auth_wipe(&ci, sizeof(ci));
	if (ret)
		return ret; /* nothing installed yet: the socket is as it was */
	len = ktls_info(t, true, &ci);
	ret = len < 0						      ? len :
	      setsockopt(t->fd, SOL_TLS, TLS_RX, &ci, (socklen_t)len) ? -errno :
									0;
	rfs_auth_wipe(&ci, sizeof(ci));
	if (ret) {
		rfs_err("tls: kernel TLS took the send keys but refused the "
			"receive keys: %s; closing the connection",
			strerror(-ret));
		return -EIO;
	}
	snprintf(t->desc + strlen(t->desc), sizeof(t->desc) - strlen(t->desc),
		 " kernel");
	return 0;
}

/* ---- record layer ----------------------------------------------------- */

/* Encrypt up to max bytes of iov into tx; plaintext bytes taken or -errno */
static ssize_t encrypt_iov(struct rfs_tls *t, const struct iovec *iov, int niov,
			   size_t max)
{
	size_t done = 0;
	ssize_t rc;

	if (t->eof)
		return -EPIPE; /* the peer closed; GnuTLS ended the session */
	gnutls_record_cork(t->s);
	for (int i = 0; i < niov && done < max; i++) {
		size_t off = 0, len = iov[i].iov_len;

		if (len > max - done)
			len = max - done;
		while (off < len) {
			rc = gnutls_record_send(
				t->s, (const char *)iov[i].iov_base + off,
				len - off);
			if (rc < 0) {
				rfs_err("tls: encrypt: %s",
					gnutls_strerror((int)rc));
				return -EIO;
			}
			off += (size_t)rc;
		}
		done += len;
	}
	rc = gnutls_record_uncork(t->s, GNUTLS_RECORD_WAIT);
	if (rc < 0) {
		rfs_err("tls: encrypt: %s", gnutls_strerror((int)rc));
		return -EIO;
	}
	return (ssize_t)done;
}

/* write tx to the socket; 0 when all went, -EAGAIN, or -errno */
static int tx_flush(struct rfs_tls *t)
{
	while (t->tx.off < t->tx.len) {
		ssize_t w = send(t->fd, t->tx.p + t->tx.off,
				 t->tx.len - t->tx.off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		t->tx.off += (size_t)w;
	}
	t->tx.off = t->tx.len = 0;
	return 0;
}

ssize_t rfs_tls_writev(struct rfs_tls *t, const struct iovec *iov, int niov)
{
	ssize_t n;
	int rc;

	if (t->eof) {
		/*
		 * The peer closed (GnuTLS ended the session on its EOF): as a
		 * clear socket would, take the bytes into the void; the read
		 * side reports the close.
		 */
		for (n = 0; niov > 0; niov--, iov++)
			n += (ssize_t)iov->iov_len;
		return n;
	}
	if (!t->tx_plain) {
		n = encrypt_iov(t, iov, niov, WRITE_CHUNK);
		if (n < 0) {
			errno = (int)-n;
			return -1;
		}
		t->tx_plain = (size_t)n;
	}
	rc = tx_flush(t);
	if (rc) {
		errno = -rc;
		return -1;
	}
	n = (ssize_t)t->tx_plain;
	t->tx_plain = 0;
	return n;
}

/* one gnutls_record_recv: > 0 bytes, 0 EOF, -EAGAIN, or -errno */
static ssize_t recv1(struct rfs_tls *t, void *buf, size_t cap)
{
	ssize_t rc;

	if (t->eof)
		return 0;
	do
		rc = gnutls_record_recv(t->s, buf, cap);
	while (rc == GNUTLS_E_INTERRUPTED);
	if (rc == 0)
		t->eof = true; /* close_notify */
	if (rc >= 0)
		return rc;
	if (rc == GNUTLS_E_AGAIN && !t->eof)
		return -EAGAIN;
	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_PREMATURE_TERMINATION) {
		t->eof = true;
		return 0; /* EOF without close_notify: frames say if cut */
	}
	if (rc == GNUTLS_E_PULL_ERROR) {
		int e = t->pull_errno;

		return e == EAGAIN || e == EWOULDBLOCK ? -EAGAIN :
		       e			       ? -e :
							 -EIO;
	}
	rfs_err("tls: a received record failed: %s (not our peer, or the "
		"stream was altered)",
		gnutls_strerror((int)rc));
	return -EBADMSG;
}

ssize_t rfs_tls_readv(struct rfs_tls *t, const struct iovec *iov, int niov)
{
	size_t got = 0;

	for (int i = 0; i < niov; i++) {
		size_t off = 0;

		while (off < iov[i].iov_len) {
			ssize_t n = recv1(t, (char *)iov[i].iov_base + off,
					  iov[i].iov_len - off);

			if (n == 0 || n == -EAGAIN) {
				if (got || n == 0)
					return (ssize_t)got;
				errno = EAGAIN;
				return -1;
			}
			if (n < 0) {
				if (got)
					return (ssize_t)got;
				errno = (int)-n;
				return -1;
			}
			off += (size_t)n;
			got += (size_t)n;
		}
	}
	return (ssize_t)got;
}

bool rfs_tls_pending(const struct rfs_tls *t)
{
	/* decrypted bytes, or records read from the socket, not yet given */
	return t &&
	       (gnutls_record_check_pending(t->s) > 0 || t->rx.len > t->rx.off);
}

ssize_t rfs_tls_seal(struct rfs_tls *t, const struct iovec *iov, int niov,
		     const void **out, size_t *len)
{
	ssize_t n;

	t->tx.off = t->tx.len = 0;
	n = encrypt_iov(t, iov, niov, SIZE_MAX);
	if (n < 0)
		return n;
	*out = t->tx.p;
	*len = t->tx.len;
	return n;
}

int rfs_tls_open_feed(struct rfs_tls *t, const void *p, size_t n)
{
	t->mem_rx = true;
	if (xbuf_reserve(&t->rx, n))
		return -ENOMEM;
	memcpy(t->rx.p + t->rx.len, p, n);
	t->rx.len += n;
	return 0;
}

ssize_t rfs_tls_open_read(struct rfs_tls *t, void *buf, size_t cap)
{
	ssize_t n;

	t->mem_rx = true;
	n = recv1(t, buf, cap);
	return n == -EAGAIN ? 0 : n;
}
