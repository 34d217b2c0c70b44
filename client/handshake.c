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
#include "rpc.h"

#define HANDSHAKE_TIMEOUT_MS 10000
#define RECONNECT_CONNECT_MS 2000
#define BYE_WAIT_MS 2000

__thread bool rfs_lp_tl_reconnect; /* quiet, short connect timeout */

/* Send b and wait for the reply with id; *out is lent (buf_put it). */
int rfs_lp_sync_call(struct cl_loop *l, struct rfs_buf *b, uint64_t id,
		     struct rfs_buf **out)
{
	struct rfs_rpc r;
	int ret;

	rfs_rpc_wrap(&r, l->x, l->conn);
	ret = rfs_rpc_call_frame(&r, b, id, HANDSHAKE_TIMEOUT_MS, out);
	/*
	 * The rest of the batch goes back; the close may come with the
	 * reply (a server refusing HELLO answers, then closes): the reply
	 * still says why, and the connection is gone.
	 */
	rfs_rpc_drain(&r);
	l->conn = r.c;
	return ret;
}

int rfs_lp_sync_mb(struct cl_loop *l, struct rfs_buf *b, struct rfs_mb *mb,
		   struct rfs_buf **out)
{
	uint64_t id = rfs_mb_hdr(mb)->id;
	int len = rfs_mb_finish(mb, rfs_cl->csum);
	struct rfs_buf *rb;
	int ret;

	if (len < 0) {
		rfs_xprt_buf_put(l->x, b);
		return len;
	}
	b->len = (uint32_t)len;
	if (rfs_lp_sync_call(l, b, id, &rb) < 0)
		return -ENOTCONN;
	ret = ((const struct rfs_hdr *)rb->data)->status;
	if (!ret && out)
		*out = rb;
	else
		rfs_xprt_buf_put(l->x, rb);
	return ret;
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
	case -ENOPROTOOPT:
		return rfs_cl_auth_strerror(err);
	default:
		return strerror(-err);
	}
}

/* HELLO or ATTACH failed in r->step: say why. */
static void say_refused(const struct rfs_rpc *r, bool attach,
			const struct rfs_addr *a, int err, const char *why)
{
	const char *what = attach ? "ATTACH" : "HELLO";

	if (r->step == RFS_RPC_BUILD)
		say("building %s failed: %s", what, strerror(-err));
	else if (r->step == RFS_RPC_CALL)
		say("%s with %s failed: %s", what, a->text, hello_err(err));
	else if (err == -EBADMSG && why)
		say("%s reply from %s: bad checksum", what, a->text);
	else if (why)
		say("malformed %s reply from %s", what, a->text);
	else if (err == -ENOENT && !attach)
		say("export '%s' not found on %s", rfs_cl->o.export_name,
		    a->text);
	else
		say("%s refused by %s: %s", what, a->text, hello_err(err));
}

/* HELLO: a new session; its parameters go to rfs_cl. */
static int hello(struct rfs_rpc *r, const struct rfs_addr *a,
		 const uint8_t tok[RFS_AUTH_TOKEN_LEN])
{
	struct rfs_client *cl = rfs_cl;
	const struct rfs_rpc_hello h = {
		.export = cl->o.export_name,
		.csum = cl->o.csum,
		.groups = true,
		.resume = true,
		.notify = true,
		.passfd = cl->o.passthrough != CL_PT_OFF &&
			  (rfs_xprt_flags(r->x) & RFS_XPRT_F_PASSFD),
		.max_inflight = CL_SLOTS,
		.timeout_ms = HANDSHAKE_TIMEOUT_MS,
	};
	const struct rfs_hello_rep *hr;
	struct rfs_rep_view v;
	struct rfs_buf *rb;
	const char *why;
	int ret;

	ret = rfs_rpc_hello(r, &h, &rb, &v, &why);
	if (ret < 0) {
		say_refused(r, false, a, ret, why);
		return ret;
	}
	hr = v.fixed;
	cl->csum = hr->features & RFS_FEAT_CSUM;
	cl->groups = hr->features & RFS_FEAT_GROUPS;
	cl->resume_ok = hr->features & RFS_FEAT_RESUME;
	cl->passfd = hr->features & RFS_FEAT_PASSFD;
	cl->session = hr->session;
	memcpy(cl->token, hr->token, sizeof(cl->token));
	if (rfs_cl_auth_enabled()) /* derived, not sent */
		memcpy(cl->token, tok, sizeof(cl->token));
	cl->max_msg = hr->max_msg;
	cl->export_flags = hr->export_flags;
	cl->root_nodeid = hr->root.nodeid;
	ret = rfs_inode_pin(hr->root.nodeid, v.handle, v.handle_len);
	rfs_xprt_buf_put(r->x, rb);
	return ret;
}

/* ATTACH: join the session loop 0 opened. */
static int attach(struct rfs_rpc *r, const struct rfs_addr *a)
{
	struct rfs_client *cl = rfs_cl;
	struct rfs_attach_req *q;
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	const char *why = NULL;
	struct rfs_mb mb;
	uint64_t id;
	int ret;

	b = rfs_rpc_req(r, &mb, RFS_OP_ATTACH, 512);
	if (!b) {
		r->step = RFS_RPC_BUILD;
		say_refused(r, true, a, -ENOMEM, NULL);
		return -ENOMEM;
	}
	id = rfs_mb_hdr(&mb)->id;
	q = rfs_mb_put(&mb, sizeof(*q));
	if (q) {
		q->session = cl->session;
		memcpy(q->token, cl->token, sizeof(q->token));
	}
	r->csum = cl->csum;
	ret = rfs_rpc_call(r, b, &mb, HANDSHAKE_TIMEOUT_MS, &rb);
	/* as HELLO's: a refusal may come without a checksum */
	r->csum = false;
	r->step = RFS_RPC_CALL;
	if (!ret) {
		ret = rfs_rpc_check_reply(r, rb, RFS_OP_ATTACH, id, &v, &why);
		rfs_xprt_buf_put(r->x, rb);
		r->step = RFS_RPC_REPLY;
	}
	if (ret < 0)
		say_refused(r, true, a, ret, why);
	return ret;
}

/*
 * Connect l over transport `name` to a, AUTH when -o key_file is given,
 * then HELLO (attach = false) or ATTACH.  Errors are printed.
 */
static int connect_to(struct cl_loop *l, bool attach_, const char *name,
		      const struct rfs_addr *a)
{
	struct rfs_client *cl = rfs_cl;
	struct rfs_xprt_params xp;
	uint8_t tok[RFS_AUTH_TOKEN_LEN];
	struct rfs_rpc r;
	int ret;

	rfs_xprt_params_default(&xp);
	xp.sqpoll = cl->o.sqpoll;
	xp.prealloc = cl->o.harden != 0; /* -o swap: the write path does
					    not allocate */
	/*
	 * The loop busy-polls while it has a reply due (loop.c); a
	 * transport that also spun in arm, with nothing due, would hold the
	 * CPU the application and the server need and delay the FUSE
	 * replies queued for the loop's next io_uring_enter.
	 */
	xp.spin_us = 0;
	rfs_rpc_init(&r);
	ret = rfs_rpc_connect(&r, name, &xp, a,
			      rfs_lp_tl_reconnect &&
					      cl->o.connect_timeout_ms >
						      RECONNECT_CONNECT_MS ?
				      RECONNECT_CONNECT_MS :
				      cl->o.connect_timeout_ms);
	l->x = r.x;
	l->conn = r.c;
	if (ret < 0 && r.step == RFS_RPC_OPEN) {
		if (ret == -ENOENT || ret == -ENOTSUP)
			say("transport '%s' is not available "
			    "(built: %s)",
			    name, rfs_xprt_built());
		else
			say("transport %s: cannot start: %s", name,
			    strerror(-ret));
		return ret;
	}
	if (ret == -EKEYREJECTED) {
		say("cannot connect to %s: TLS refused: the server has "
		    "another key, or its certificate does not verify "
		    "against tls_ca",
		    a->text);
		return ret;
	}
	if (ret < 0) {
		say("cannot connect to %s: %s%s", a->text, strerror(-ret),
		    ret == -ECONNREFUSED || ret == -ETIMEDOUT ||
				    ret == -EHOSTUNREACH ?
			    " \u2014 is ringfsd running?" :
			    "");
		return ret;
	}
	if (rfs_cl_auth_enabled()) {
		ret = rfs_rpc_auth(&r, cl->o.export_name, cl->o.csum,
				   HANDSHAKE_TIMEOUT_MS, tok);
		if (ret < 0)
			say("authentication with %s failed: %s", a->text,
			    rfs_cl_auth_strerror(ret));
	}
	if (!ret)
		ret = attach_ ? attach(&r, a) : hello(&r, a, tok);
	rfs_auth_wipe(tok, sizeof(tok));
	rfs_rpc_drain(&r);
	l->conn = r.c;
	if (!ret && l->conn && l->obs) {
		char ident[64];

		/* who the server takes us for: the key, else our uid */
		snprintf(ident, sizeof(ident),
			 rfs_cl_auth_enabled() ? "key,uid:%u" : "uid:%u",
			 (unsigned)getuid());
		rfs_obs_slot_names(l->obs, rfs_xprt_name(l->x),
				   rfs_conn_desc(l->conn), NULL,
				   cl->o.export_name, ident);
		rfs_obs_set_state(l->obs, RFS_OBS_ESTAB);
	}
	return ret;
}

int rfs_client_ids_check(uint32_t export_flags, const struct rfs_addr *a)
{
	const char *exp = rfs_cl->o.export_name;

	if (export_flags & RFS_EXPF_IDS_REFUSED) {
		say("%s does not let this client act as its users on export "
		    "'%s' (no key, and not root on a privileged source port): "
		    "mount as root, give -o key_file=FILE, or mount through "
		    "the server's Unix socket (transport=auto or shm); the "
		    "server's log names this connection (ringfsd(8), TRUST)",
		    a->text, exp);
		return -EACCES;
	}
	if ((export_flags & RFS_EXPF_IDS_SQUASHED) && !rfs_lp_tl_reconnect &&
	    rfs_cl->interactive)
		fprintf(stderr,
			"ringfs: note: %s runs every request on export '%s' "
			"as its anonymous user (untrusted=squash): this client "
			"has no key and is not root on a privileged source "
			"port\n",
			a->text, exp);
	if (export_flags & RFS_EXPF_IDS_PEER)
		rfs_dbg(RFS_SUB_CLIENT,
			"client: %s: requests run as this process's own uid, "
			"gid and groups",
			a->text);
	return 0;
}

/* Connect and HELLO (attach = false) or ATTACH.  Errors are printed. */
int rfs_lp_connect(struct cl_loop *l, bool attach)
{
	int ret = connect_to(l, attach, rfs_cl->o.transport, &rfs_cl->addr);

	if (!ret && !attach)
		ret = rfs_client_ids_check(rfs_cl->export_flags, &rfs_cl->addr);
	return ret;
}

/* Orderly goodbye: BYE, then wait (bounded) for the close. */
void rfs_lp_disconnect(struct cl_loop *l)
{
	struct rfs_rpc r;

	/* no reply awaited: the server closes after it */
	if (l->conn)
		rfs_lp_send_oneway(l, RFS_OP_BYE, NULL, 0);
	rfs_lp_obs_xprt(l, true);
	rfs_obs_set_state(l->obs, RFS_OBS_CLOSING);
	rfs_rpc_wrap(&r, l->x, l->conn);
	rfs_rpc_shutdown(&r, BYE_WAIT_MS);
	l->x = NULL;
	l->conn = NULL;
}

int rfs_client_paths(struct rfs_client *cl, const char *name,
		     const struct rfs_addr *a, bool quiet,
		     struct rfs_client_paths *out)
{
	struct cl_loop l = { .fuse_fd = -1, .ep = -1, .wake_fd = -1 };
	const struct rfs_paths_rep *p;
	struct rfs_buf *b, *rb = NULL;
	struct rfs_rep_view v;
	struct rfs_rpc r;
	const char *why;
	struct rfs_mb mb;
	int ret, level = rfs_log_get_level();

	memset(out, 0, sizeof(*out));
	if (quiet) {
		rfs_lp_tl_reconnect = true;
		rfs_log_set_level(LOG_CRIT);
	}
	ret = connect_to(&l, false, name, a);
	if (ret < 0)
		goto out;
	rfs_rpc_wrap(&r, l.x, l.conn);
	r.csum = cl->csum;
	r.next_id = rfs_lp_next_id(&l, 0);
	ret = -ENOMEM;
	b = rfs_rpc_req(&r, &mb, RFS_OP_PATHS, 256);
	if (b)
		ret = rfs_rpc_call(&r, b, &mb, HANDSHAKE_TIMEOUT_MS, &rb);
	if (!ret) {
		ret = rfs_rpc_check_reply(&r, rb, RFS_OP_PATHS,
					  rfs_mb_hdr(&mb)->id, &v, &why);
		if (!ret) {
			p = v.fixed;
			out->instance = p->instance;
			memcpy(out->unix_path, v.data, v.data_len);
			memcpy(out->rdma_addr, v.handle, v.handle_len);
		}
		rfs_xprt_buf_put(r.x, rb);
	}
	rfs_rpc_drain(&r);
	l.conn = r.c;
out:
	rfs_lp_disconnect(&l);
	if (quiet) {
		rfs_lp_tl_reconnect = false;
		rfs_log_set_level(level);
	}
	return ret;
}

static int probe_here(const char *name, const struct rfs_addr *a)
{
	struct cl_loop l = { .fuse_fd = -1, .ep = -1, .wake_fd = -1 };
	int ret;

	ret = connect_to(&l, false, name, a);
	if (!ret)
		ret = rfs_client_ids_check(rfs_cl->export_flags, a);
	rfs_lp_disconnect(&l);
	return ret;
}

int rfs_client_probe(const char *name, const struct rfs_addr *a)
{
	const struct rfs_xprt_desc *d = rfs_xprt_find(name);
	int status;
	pid_t pid;

	/*
	 * A transport whose context must not cross a fork (rdma: librdmacm
	 * keeps process-wide state, its rdma_cm fd, that a forked child
	 * cannot use: EACCES) is probed from a throw-away child, since we
	 * fork to daemonize after the probe: this process stays free of
	 * its state.
	 */
	if (!d || !(d->flags & RFS_XPRT_F_NO_FORK))
		return probe_here(name, a);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(-probe_here(name, a) & 0xff);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return -WEXITSTATUS(status);
	return -EIO;
}
