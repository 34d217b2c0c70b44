// SPDX-License-Identifier: MIT
/*
 * ringfsctl_rpc: ringfsctl's connection to a ringfsd over the shared
 * synchronous helper (rpc.h): connect, AUTH when a key file is given,
 * HELLO on the export (the server answers nothing else before it), BYE;
 * and ringfsctl's words for every way that fails.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "ringfsctl_i.h"

volatile sig_atomic_t ctl_interrupted;

static sigset_t wait_mask; /* the mask ppoll sleeps with */

void ctl_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, CTL_PROG ": %s\n", msg);
}

static void on_signal(int sig)
{
	(void)sig;
	ctl_interrupted = 1;
}

/*
 * SIGINT and SIGTERM stay blocked except inside ppoll, so that a signal
 * arriving between the check of ctl_interrupted and the sleep cannot be
 * lost (the sleep would then last until its deadline).
 */
int ctl_catch_signals(struct ctl_conn *cc)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	if (sigemptyset(&sa.sa_mask) || sigemptyset(&block) ||
	    sigaddset(&block, SIGINT) || sigaddset(&block, SIGTERM))
		return -EINVAL;
	if (sigprocmask(SIG_BLOCK, &block, &wait_mask) < 0)
		return -errno;
	if (sigdelset(&wait_mask, SIGINT) || sigdelset(&wait_mask, SIGTERM))
		return -EINVAL;
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0)
		return -errno;
	cc->r.sigmask = &wait_mask;
	return 0;
}

const char *ctl_down_str(int st)
{
	if (st == 0)
		return "closed by the server";
	return strerror(-st);
}

/* ---- connection setup ---------------------------------------------------- */

static bool is_unix(const struct ctl_target *t)
{
	return t->addr.ss.ss_family == AF_UNIX;
}

static const char *connect_hint(const struct ctl_target *t, int err)
{
	switch (err) {
	case -ECONNREFUSED:
		return is_unix(t) ? " (is ringfsd running? see its "
				    "--listen-unix)" :
				    " (is ringfsd running? see its --listen)";
	case -ENOENT:
		return is_unix(t) ? " (no such socket: is ringfsd running "
				    "with --listen-unix at this path?)" :
				    "";
	case -ETIMEDOUT:
		return " (nothing answered: is the host up and ringfsd "
		       "listening there? a firewall? -W gives more time)";
	case -EACCES:
	case -EPERM:
		return is_unix(t) ? " (permissions of the socket or its "
				    "directory)" :
				    "";
	case -EHOSTUNREACH:
	case -ENETUNREACH:
		return " (check the address and the routes)";
	default:
		return "";
	}
}

static const char *auth_words(int err)
{
	switch (err) {
	case -EKEYREJECTED:
		return "wrong key: the server rejected our proof (compare "
		       "--key-file with ringfsd's --key-file)";
	case -EOPNOTSUPP:
		return "the server has no key configured (ringfsd "
		       "--key-file), so it cannot prove who it is; refusing "
		       "it (drop --key-file to connect without "
		       "authentication)";
	case -EBADE: /* client/auth.c: the server's proof is wrong */
		return "the server's proof does not match our key: a "
		       "different key on the server, or not the real server";
	case -ETIMEDOUT:
		return "no reply in time";
	default:
		return rfs_cl_auth_strerror(err);
	}
}

/* AUTH: CHALLENGE, then PROVE, then check the server's proof */
static int do_auth(struct ctl_conn *cc)
{
	const struct ctl_target *t = cc->t;
	uint8_t token[RFS_AUTH_TOKEN_LEN];
	int ret;

	ret = rfs_rpc_auth(&cc->r, t->export, cc->o->csum, cc->o->timeout_ms,
			   token);
	rfs_auth_wipe(token, sizeof(token));
	if (ret < 0 && cc->r.step == RFS_RPC_CALL) {
		if (ret == -ETIMEDOUT)
			ctl_err("authentication with %s: no reply within %d ms",
				t->addr_text, cc->o->timeout_ms);
		else if (ret == -EINTR)
			ctl_err("interrupted");
		else
			ctl_err("authentication with %s: connection lost: %s",
				t->addr_text,
				ctl_down_str(cc->r.down ? cc->r.down_status :
							  ret));
	} else if (ret < 0) {
		ctl_err("authentication with %s failed: %s", t->addr_text,
			auth_words(ret));
	}
	return ret;
}

static const char *hello_words(const struct ctl_target *t, int err)
{
	switch (err) {
	case -ENOKEY:
		return "the server requires authentication: give --key-file "
		       "FILE (the key of ringfsd --key-file)";
	case -EKEYREJECTED:
	case -EOPNOTSUPP:
		return auth_words(err);
	case -EACCES:
		return is_unix(t) ? "access denied (export option nolocal?)" :
				    "access denied (the export's net= "
				    "rules?)";
	case -EPROTONOSUPPORT:
		return "the server speaks another protocol version";
	default:
		return strerror(-err);
	}
}

static int do_hello(struct ctl_conn *cc)
{
	const struct ctl_target *t = cc->t;
	const struct rfs_rpc_hello h = {
		.export = t->export,
		.csum = cc->o->csum,
		.max_inflight = 4,
		.timeout_ms = cc->o->timeout_ms,
	};
	struct rfs_rep_view v;
	struct rfs_buf *rb;
	const char *why;
	int ret;

	ret = rfs_rpc_hello(&cc->r, &h, &rb, &v, &why);
	if (!ret) {
		rfs_xprt_buf_put(cc->r.x, rb);
		return 0;
	}
	if (cc->r.step == RFS_RPC_BUILD)
		ctl_err("transport %s: no buffer for HELLO", cc->o->transport);
	else if (cc->r.step == RFS_RPC_CALL && ret == -ETIMEDOUT)
		ctl_err("HELLO to %s: no reply within %d ms (is a "
			"ringfsd listening there? -W gives more time)",
			t->addr_text, cc->o->timeout_ms);
	else if (cc->r.step == RFS_RPC_CALL && ret == -EINTR)
		ctl_err("interrupted");
	else if (cc->r.step == RFS_RPC_CALL && cc->r.down)
		ctl_err("HELLO to %s: the server closed the "
			"connection without a reply (%s; see its "
			"log)",
			t->addr_text, ctl_down_str(cc->r.down_status));
	else if (cc->r.step == RFS_RPC_CALL)
		ctl_err("HELLO to %s: %s", t->addr_text, strerror(-ret));
	else if (why)
		ctl_err("HELLO to %s: %s (not a ringfsd?)", t->addr_text, why);
	else if (ret == -ENOENT)
		ctl_err("export '%s' not found on %s", t->export, t->addr_text);
	else
		ctl_err("HELLO to %s (export '%s') refused: %s", t->addr_text,
			t->export, hello_words(t, ret));
	return ret;
}

int ctl_connect(struct ctl_conn *cc, const struct ctl_target *t,
		const struct ctl_conn_opts *o)
{
	const struct rfs_xprt_desc *d = rfs_xprt_find(o->transport);
	struct rfs_xprt_params p;
	int ret;

	memset(cc, 0, sizeof(*cc));
	rfs_rpc_init(&cc->r);
	cc->t = t;
	cc->o = o;
	cc->r.uid = (uint32_t)getuid();
	cc->r.gid = (uint32_t)getgid();
	cc->r.pid = (uint32_t)getpid();
	cc->r.intr = &ctl_interrupted;
	rfs_xprt_params_default(&p);
	p.depth = 8;
	ret = rfs_rpc_connect(&cc->r, o->transport, &p, &t->addr,
			      o->timeout_ms);
	if (ret < 0 && cc->r.step == RFS_RPC_OPEN) {
		if (ret == -ENOENT || ret == -ENOTSUP)
			ctl_err("transport '%s' is not available (built: %s)",
				o->transport, rfs_xprt_built());
		else
			ctl_err("transport %s: cannot start: %s%s",
				o->transport, strerror(-ret),
				d && (d->flags & RFS_XPRT_F_RDMA_ADDR) ?
					" (no RDMA device here?)" :
					"");
		return ret;
	}
	if (ret < 0) {
		if (ret == -ETIMEDOUT)
			ctl_err("connect %s over %s: no answer within %d ms%s",
				t->addr_text, o->transport, o->timeout_ms,
				connect_hint(t, ret));
		else
			ctl_err("connect %s over %s: %s%s", t->addr_text,
				o->transport, strerror(-ret),
				connect_hint(t, ret));
		goto fail;
	}
	if (o->key_file) {
		ret = do_auth(cc);
		if (ret < 0)
			goto fail;
	}
	ret = do_hello(cc);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	ctl_close(cc);
	return ret;
}

void ctl_close(struct ctl_conn *cc)
{
	int wait_ms = cc->o && cc->o->timeout_ms < 1000 ? cc->o->timeout_ms :
							  1000;

	/* a Ctrl-C must not cut the goodbye short: it is bounded anyway */
	rfs_rpc_close(&cc->r, wait_ms);
}
