// SPDX-License-Identifier: MIT
/*
 * handshake: a loop's connection to the server, on the kernel path
 * (phase 1): open the transport, connect, AUTH when -o key_file is given,
 * then HELLO (a new session) or ATTACH (join the session loop 0 opened);
 * BYE at the end.  Also the one-shot connections of the mounting process:
 * the probe before mounting and RFS_OP_PATHS for transport=auto.
 *
 * Setup errors go to the terminal while the user still sees them, to the
 * log once daemonized, and to the debug log only while reconnecting.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "client_i.h"
#include "log.h"
#include "loop_i.h"
#include "spin.h"

#define HANDSHAKE_TIMEOUT_MS 10000
#define RECONNECT_CONNECT_MS 2000

__thread bool rfs_lp_tl_reconnect;	/* quiet, short connect timeout */

/* Send b and wait for the reply with id; *out is lent (buf_put it). */
int rfs_lp_sync_call(struct cl_loop *l, struct rfs_buf *b, uint64_t id,
		     struct rfs_buf **out)
{
	int64_t deadline = rfs_now_ns() / 1000000 + HANDSHAKE_TIMEOUT_MS;
	struct rfs_xev ev[8];
	int ret, n;

	*out = NULL;
	ret = rfs_xprt_send(l->conn, b, 0);
	if (ret < 0)
		return ret;
	for (;;) {
		n = rfs_xprt_poll(l->x, ev, 8);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			const struct rfs_hdr *h;

			switch (ev[i].type) {
			case RFS_XEV_RECV:
				h = ev[i].buf->data;
				if (!*out && h->id == id) {
					*out = ev[i].buf;
				} else {
					rfs_xprt_buf_put(l->x, ev[i].buf);
				}
				break;
			case RFS_XEV_SEND:
				rfs_xprt_buf_put(l->x, ev[i].buf);
				break;
			case RFS_XEV_CONN_DOWN:
				rfs_xprt_conn_free(l->conn);
				l->conn = NULL;
				/*
				 * The reply and the close may come in one
				 * batch (a server refusing HELLO answers,
				 * then closes): the reply says why.
				 */
				if (*out)
					return 0;
				return ev[i].status ? ev[i].status
						    : -ECONNRESET;
			}
		}
		if (*out)
			return 0;
		if (n > 0)
			continue;
		ret = rfs_xprt_arm(l->x);
		if (ret < 0)
			return ret;
		if (ret > 0)
			continue;
		int64_t left = deadline - rfs_now_ns() / 1000000;
		struct pollfd pfd = { .fd = rfs_xprt_wait_fd(l->x),
				      .events = POLLIN };

		if (left <= 0)
			return -ETIMEDOUT;
		ret = poll(&pfd, 1, (int)left);
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

/* Setup errors: plain on stderr before daemonizing, logged after. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rfs_lp_tl_reconnect)
		rfs_dbg(RFS_SUB_CLIENT, "client: %s", msg);
	else if (rfs_cl->interactive)
		fprintf(stderr, "ringfs: %s\n", msg);
	else
		rfs_err("client: %s", msg);
}

static const char *hello_err(int err)
{
	switch (err) {
	case -EPROTONOSUPPORT:
		return "the server speaks another protocol version";
	case -EACCES:
		return "access denied by the server";
	case -ENOKEY:
	case -EKEYREJECTED:
		return rfs_cl_auth_strerror(err);
	default:
		return strerror(-err);
	}
}

/*
 * AUTH (client/auth.c) on a fresh connection when -o key_file is given:
 * CHALLENGE, then PROVE; token gets the session token the handshake
 * derives (what HELLO's reply leaves out).  Errors are printed.
 */
static int loop_auth(struct cl_loop *l, uint8_t token[RFS_AUTH_TOKEN_LEN])
{
	struct rfs_client *cl = rfs_cl;
	struct rfs_buf *b, *rb = NULL;
	struct rfs_cl_auth a;
	int ret = 0;

	if (!rfs_cl_auth_enabled())
		return 0;
	for (uint64_t id = 1; id <= 2; id++) {
		b = rfs_xprt_buf_get(l->x, 512);
		if (!b) {
			ret = -ENOMEM;
			break;
		}
		if (id == 1)
			ret = rfs_cl_auth_challenge(&a, b->data, b->cap, id,
						    cl->o.export_name,
						    cl->o.csum);
		else
			ret = rfs_cl_auth_prove(&a, rb->data, b->data, b->cap,
						id, cl->o.csum);
		if (rb)
			rfs_xprt_buf_put(l->x, rb);
		rb = NULL;
		if (ret < 0) {
			rfs_xprt_buf_put(l->x, b);
			break;
		}
		b->len = (uint32_t)ret;
		ret = rfs_lp_sync_call(l, b, id, &rb);
		if (ret < 0)
			break;
	}
	if (rb) {
		ret = rfs_cl_auth_finish(&a, rb->data, token);
		rfs_xprt_buf_put(l->x, rb);
	}
	if (ret < 0)
		say("authentication with %s failed: %s", cl->addr.text,
		    rfs_cl_auth_strerror(ret));
	return ret;
}

/* Connect and HELLO (attach = false) or ATTACH.  Errors are printed. */
int rfs_lp_connect(struct cl_loop *l, bool attach)
{
	struct rfs_client *cl = rfs_cl;
	struct rfs_xprt_params xp;
	struct rfs_buf *b, *rb = NULL;
	struct rfs_mb mb;
	const struct rfs_hdr *h;
	struct rfs_rep_view v;
	uint8_t tok[RFS_AUTH_TOKEN_LEN];
	uint64_t id = 1;
	int ret, len;

	rfs_xprt_params_default(&xp);
	xp.sqpoll = cl->o.sqpoll;
	ret = rfs_xprt_open(cl->o.transport, &xp, &l->x);
	if (ret < 0) {
		if (ret == -ENOENT || ret == -ENOTSUP)
			say("transport '%s' is not available "
				"(built: %s)", cl->o.transport,
				rfs_xprt_built());
		else
			say("transport %s: cannot start: %s",
				cl->o.transport, strerror(-ret));
		return ret;
	}
	ret = rfs_xprt_connect(l->x, &cl->addr,
			       rfs_lp_tl_reconnect && cl->o.connect_timeout_ms >
					       RECONNECT_CONNECT_MS
				       ? RECONNECT_CONNECT_MS
				       : cl->o.connect_timeout_ms,
			       &l->conn);
	if (ret < 0) {
		l->conn = NULL;
		say("cannot connect to %s: %s%s", cl->addr.text,
			strerror(-ret),
			ret == -ECONNREFUSED || ret == -ETIMEDOUT ||
					ret == -EHOSTUNREACH
				? " \u2014 is ringfsd running?"
				: "");
		return ret;
	}
	ret = loop_auth(l, tok);
	if (ret < 0)
		return ret;
	b = rfs_xprt_buf_get(l->x, 512);
	if (!b) {
		say("transport %s: no buffer", cl->o.transport);
		return -ENOMEM;
	}
	if (attach) {
		struct rfs_attach_req *a;

		rfs_mb_init(&mb, b->data, b->cap, RFS_OP_ATTACH, id);
		a = rfs_mb_put(&mb, sizeof(*a));
		if (a) {
			a->session = cl->session;
			memcpy(a->token, cl->token, sizeof(a->token));
		}
		len = rfs_mb_finish(&mb, cl->csum);
	} else {
		struct rfs_hello_req *hr;
		size_t elen = strlen(cl->o.export_name);

		rfs_mb_init(&mb, b->data, b->cap, RFS_OP_HELLO, id);
		hr = rfs_mb_put(&mb, sizeof(*hr));
		if (hr) {
			hr->features = cl->o.csum ? RFS_FEAT_CSUM : 0;
			hr->max_msg = RFS_MSG_MAX_DEFAULT;
			hr->export_len = (uint16_t)elen;
			hr->max_inflight = CL_SLOTS;
		}
		rfs_mb_put_bytes(&mb, cl->o.export_name, (uint32_t)elen);
		len = rfs_mb_finish(&mb, cl->o.csum);
	}
	if (len < 0) {
		rfs_xprt_buf_put(l->x, b);
		say("building HELLO failed: %s", strerror(-len));
		return len;
	}
	b->len = (uint32_t)len;
	ret = rfs_lp_sync_call(l, b, id, &rb);
	if (ret < 0) {
		say("%s with %s failed: %s",
			attach ? "ATTACH" : "HELLO", cl->addr.text,
			hello_err(ret));
		return ret;
	}
	h = rb->data;
	ret = rfs_proto_verify(h, h + 1, false);
	if (ret < 0) {
		say("%s reply from %s: bad checksum",
			attach ? "ATTACH" : "HELLO", cl->addr.text);
		goto out_put;
	}
	if (h->status < 0) {
		ret = h->status;
		if (ret == -ENOENT && !attach)
			say("export '%s' not found on %s",
				cl->o.export_name, cl->addr.text);
		else
			say("%s refused by %s: %s",
				attach ? "ATTACH" : "HELLO", cl->addr.text,
				hello_err(ret));
		goto out_put;
	}
	ret = rfs_proto_decode_rep(h, h + 1, attach ? RFS_OP_ATTACH
						    : RFS_OP_HELLO, &v);
	if (ret < 0) {
		say("malformed %s reply from %s",
			attach ? "ATTACH" : "HELLO", cl->addr.text);
		goto out_put;
	}
	if (!attach) {
		const struct rfs_hello_rep *hr = v.fixed;

		cl->csum = hr->features & RFS_FEAT_CSUM;
		cl->session = hr->session;
		memcpy(cl->token, hr->token, sizeof(cl->token));
		if (rfs_cl_auth_enabled())	/* derived, not sent */
			memcpy(cl->token, tok, sizeof(cl->token));
		cl->max_msg = hr->max_msg;
		cl->export_flags = hr->export_flags;
		cl->root_nodeid = hr->root.nodeid;
		ret = rfs_inode_pin(hr->root.nodeid, v.handle, v.handle_len);
	}
out_put:
	rfs_xprt_buf_put(l->x, rb);
	return ret;
}

/* Orderly goodbye: BYE, then wait (bounded) for the close. */
void rfs_lp_disconnect(struct cl_loop *l)
{
	struct rfs_xev ev[8];
	int64_t deadline = rfs_now_ns() / 1000000 + 2000;

	if (l->conn) {
		rfs_lp_send_oneway(l, RFS_OP_BYE, NULL, 0);
		rfs_xprt_flush(l->x);
		rfs_xprt_disconnect(l->conn);
	}
	while (l->conn && rfs_now_ns() / 1000000 < deadline) {
		int n = rfs_xprt_poll(l->x, ev, 8);

		for (int i = 0; i < n; i++) {
			if (ev[i].type == RFS_XEV_CONN_DOWN &&
			    ev[i].conn == l->conn) {
				rfs_xprt_conn_free(l->conn);
				l->conn = NULL;
			} else if (ev[i].type != RFS_XEV_CONN_DOWN) {
				rfs_xprt_buf_put(l->x, ev[i].buf);
			}
		}
		if (n == 0 && rfs_xprt_arm(l->x) == 0) {
			struct pollfd pfd = { .fd = rfs_xprt_wait_fd(l->x),
					      .events = POLLIN };

			poll(&pfd, 1, 100);
		}
	}
	if (l->x)
		rfs_xprt_close(l->x);
	l->x = NULL;
	l->conn = NULL;
}

/*
 * transport=auto: HELLO over the current transport and address, then ask
 * the server for its other paths (RFS_OP_PATHS).  quiet: a trial, errors
 * go to the debug log only.
 */
int rfs_client_paths(struct rfs_client *cl, bool quiet,
		     struct rfs_client_paths *out)
{
	struct cl_loop l = { .fuse_fd = -1, .ep = -1, .wake_fd = -1 };
	const struct rfs_paths_rep *p;
	struct rfs_buf *b, *rb = NULL;
	const struct rfs_hdr *h;
	struct rfs_rep_view v;
	struct rfs_mb mb;
	int ret, len, level = rfs_log_get_level();

	memset(out, 0, sizeof(*out));
	if (quiet) {
		rfs_lp_tl_reconnect = true;
		rfs_log_set_level(LOG_CRIT);
	}
	ret = rfs_lp_connect(&l, false);
	if (ret < 0)
		goto out;
	ret = -ENOMEM;
	b = rfs_xprt_buf_get(l.x, 256);
	if (!b)
		goto out;
	rfs_mb_init(&mb, b->data, b->cap, RFS_OP_PATHS, 2);
	len = rfs_mb_finish(&mb, cl->csum);
	if (len < 0) {
		rfs_xprt_buf_put(l.x, b);
		ret = len;
		goto out;
	}
	b->len = (uint32_t)len;
	ret = rfs_lp_sync_call(&l, b, 2, &rb);
	if (ret < 0)
		goto out;
	h = rb->data;
	ret = rfs_proto_verify(h, h + 1, cl->csum);
	if (!ret)
		ret = h->status;
	if (!ret)
		ret = rfs_proto_decode_rep(h, h + 1, RFS_OP_PATHS, &v);
	if (!ret) {
		p = v.fixed;
		out->instance = p->instance;
		memcpy(out->unix_path, v.data, v.data_len);
		memcpy(out->rdma_addr, v.handle, v.handle_len);
	}
	rfs_xprt_buf_put(l.x, rb);
out:
	rfs_lp_disconnect(&l);
	if (quiet) {
		rfs_lp_tl_reconnect = false;
		rfs_log_set_level(level);
	}
	return ret;
}

static int probe_here(void)
{
	struct cl_loop l = { .fuse_fd = -1, .ep = -1, .wake_fd = -1 };
	int ret;

	ret = rfs_lp_connect(&l, false);
	rfs_lp_disconnect(&l);
	return ret;
}

int rfs_client_probe(struct rfs_client *cl)
{
	int status;
	pid_t pid;

	/*
	 * librdmacm keeps process-wide state (its rdma_cm fd) that a forked
	 * child cannot use (EACCES), and we fork to daemonize after the
	 * probe: so probe an rdma path from a throw-away child and keep
	 * this process free of verbs state.
	 */
	if (strcmp(cl->o.transport, "rdma"))
		return probe_here();
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(-probe_here() & 0xff);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return -WEXITSTATUS(status);
	return -EIO;
}
