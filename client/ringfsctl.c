// SPDX-License-Identifier: MIT
/*
 * ringfsctl: the operator's tool.  Kernel bypass takes away netstat,
 * ethtool and tcpdump; ringfs gives them back with its own tools.
 *
 *   ringfsctl ping SERVER [-t T] [-c N] [-i MS] [-s BYTES] [-W MS] ...
 *   ringfsctl stats SERVER [--json] ...
 *
 * SERVER is the source syntax of ringfs(8), HOST[:PORT]:/EXPORT or
 * unix:PATH:/EXPORT, or an address alone with --export: ringfsd answers
 * nothing but AUTH and HELLO before a HELLO on an export.  The
 * connection itself is ringfsctl_rpc.c.
 */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "log.h"
#include "ringfsctl_i.h"
#include "spin.h"

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_INTERVAL_MS 1000
#define DEFAULT_SIZE 64u
#define MAX_SIZE 65536u /* PING carries at most 64 KiB */

enum cmd {
	CMD_PING = 1,
	CMD_STATS
};

struct opts {
	enum cmd cmd;
	const char *cmd_name;
	const char *server;
	const char *export;
	struct ctl_conn_opts conn;
	unsigned long long count; /* 0: until interrupted */
	unsigned long interval_ms;
	unsigned long size;
	bool quiet;
	bool json;
	bool verbose;
};

static const char *us_unit = "us";
static int out_errno; /* first error writing stdout */

/* false once stdout failed (a closed pipe: ringfsctl ping | head) */
static bool out_ok(void)
{
	if (!out_errno && ferror(stdout))
		out_errno = errno ? errno : EIO;
	return !out_errno;
}

/* the most preferred byte stream built: uring, else tcp */
static const char *default_transport(void)
{
	return rfs_xprt_pick(RFS_XPRT_F_STREAM);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringfsctl ping SERVER [options]\n"
		"       ringfsctl stats SERVER [--json] [options]\n"
		"       ringfsctl stats [TARGET] [--json|--prometheus] [--socket]\n"
		"       ringfsctl conns [TARGET] [--json] [--socket]\n"
		"       ringfsctl mounts\n"
		"       ringfsctl capture [-i CONN] [-c N] [-s SNAPLEN] [-w FILE|-]\n"
		"                         SERVER-or-MOUNT\n"
		"       ringfsctl --help | --version\n"
		"\n"
		"Commands:\n"
		"  ping    round trips to ringfsd over a transport, like ping(8): one\n"
		"          line per reply with its round-trip time, then a summary\n"
		"  stats   SERVER: the server's counters over the network: uptime,\n"
		"          sessions, connections, requests, errors, bytes, nodes;\n"
		"          TARGET: a local daemon's counters per transport and\n"
		"          latency per opcode (p50/p99/p999), read from its counters\n"
		"          file (works while the daemon is stopped)\n"
		"  conns   a local daemon's connections, like ss -ti: peer, export,\n"
		"          identity, state, age, in flight, bytes, requests, errors,\n"
		"          reconnects, rtt\n"
		"  mounts  this machine's ringfs mounts: transport, FUSE path\n"
		"          (io_uring or /dev/fuse), FUSE passthrough (on/off),\n"
		"          loops, client pid\n"
		"  capture every frame a local ringfsd or client sends and receives,\n"
		"          as pcapng (ringfsctl capture --help)\n"
		"\n"
		"SERVER: HOST[:PORT]:/EXPORT or unix:PATH:/EXPORT, as for ringfs (PORT\n"
		"defaults to %d); or HOST[:PORT] / unix:PATH with --export.\n"
		"TARGET: a mount point (as mounted), ringfsd (every local server),\n"
		"ringfsd:PID, a control socket (.sock) or counters file (.stats);\n"
		"none: every ringfs daemon on this host (see ringfsctl(8)).\n"
		"\n"
		"Connection options:\n"
		"  -t, --transport NAME  tcp, uring, shm, rdma (built: %s; default %s);\n"
		"                        shm needs a unix: SERVER (ringfsd --listen-unix)\n"
		"  -e, --export NAME     the export to say HELLO on\n"
		"  -k, --key-file FILE   authenticate with the shared secret in FILE\n"
		"                        (mode 0600; the key of ringfsd --key-file)\n"
		"  -W, --timeout MS      limit for connecting, for each setup call and\n"
		"                        for each ping's reply (default %d)\n"
		"      --nocsum          no checksums on frames (default: checksums)\n"
		"  -v, --verbose         also print the transport's own log messages\n"
		"\n"
		"ping options:\n"
		"  -c, --count N         stop after N pings (default: until Ctrl-C)\n"
		"  -i, --interval MS     from one ping to the next (default %d; 0: back\n"
		"                        to back); one ping is in flight at a time\n"
		"  -s, --size BYTES      PING payload, 0..%u (default %u)\n"
		"  -q, --quiet           print the summary only\n"
		"\n"
		"stats, conns options:\n"
		"      --json            JSON instead of text (several daemons: a list)\n"
		"      --prometheus      stats in Prometheus text format (node_exporter's\n"
		"                        textfile collector; see the README)\n"
		"      --socket          ask the daemon's control socket instead of\n"
		"                        reading its counters file\n"
		"\n"
		"Exit status: 0 success (ping: every ping answered), 1 failure (no or\n"
		"missing replies, server unreachable or refusing), 2 usage error.\n",
		CTL_DEFAULT_PORT, rfs_xprt_built(), default_transport(),
		DEFAULT_TIMEOUT_MS, DEFAULT_INTERVAL_MS, MAX_SIZE,
		DEFAULT_SIZE);
}

/* ---- argument checks ---------------------------------------------------- */

static int parse_ull(const char *opt, const char *s, unsigned long long min,
		     unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	ctl_err("%s: '%s' is not a number from %llu to %llu", opt, s, min, max);
	return -EINVAL;
}

static bool export_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RFS_EXPORT_NAME_MAX || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* SERVER (+ --export) into t; explains what is wrong. */
static int parse_target(const struct opts *o, struct ctl_target *t)
{
	char addr[sizeof(t->addr_text)], exp[256];
	const struct rfs_xprt_desc *d;
	const char *s = o->server;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!s)
		return -EINVAL; /* parse_args saw to it */
	if (strlen(s) >= sizeof(t->spec)) {
		ctl_err("SERVER '%.40s...' is too long", s);
		return -EINVAL;
	}
	snprintf(t->spec, sizeof(t->spec), "%s", s);
	if (strstr(s, ":/") && rfs_addr_split_source(s, addr, sizeof(addr), exp,
						     sizeof(exp)) == 0) {
		if (!exp[0]) {
			ctl_err("SERVER '%s': no export name after ':/'", s);
			return -EINVAL;
		}
		if (!export_name_ok(exp)) {
			ctl_err("SERVER '%s': '%s' is not an export name (1 "
				"to %u of A-Z a-z 0-9 . _ -)",
				s, exp, RFS_EXPORT_NAME_MAX);
			return -EINVAL;
		}
		/* export_name_ok: at most RFS_EXPORT_NAME_MAX bytes */
		memcpy(t->addr_text, addr, sizeof(t->addr_text));
		memcpy(t->export, exp, strlen(exp) + 1);
	} else {
		if (strlen(s) >= sizeof(t->addr_text)) {
			ctl_err("SERVER '%.40s...' is too long", s);
			return -EINVAL;
		}
		snprintf(t->addr_text, sizeof(t->addr_text), "%s", s);
	}
	if (o->export) {
		if (!export_name_ok(o->export)) {
			ctl_err("--export '%s': not an export name (1 to %u "
				"of A-Z a-z 0-9 . _ -, without '/')",
				o->export, RFS_EXPORT_NAME_MAX);
			return -EINVAL;
		}
		if (t->export[0] && strcmp(t->export, o->export)) {
			ctl_err("SERVER names export '%s' but --export says "
				"'%s'",
				t->export, o->export);
			return -EINVAL;
		}
		memcpy(t->export, o->export, strlen(o->export) + 1);
	}
	if (!t->export[0]) {
		ctl_err("which export? ringfsd answers only after a HELLO on "
			"an export: give SERVER as %s:/EXPORT or add --export "
			"NAME",
			t->addr_text);
		return -EINVAL;
	}
	rc = rfs_addr_parse(t->addr_text, CTL_DEFAULT_PORT, &t->addr);
	if (rc == -ENOENT) {
		ctl_err("unknown host in '%s'", t->addr_text);
		return rc;
	}
	if (rc) {
		ctl_err("bad server address '%s': expected HOST[:PORT], "
			"[IPv6]:PORT or unix:PATH",
			t->addr_text);
		return rc;
	}
	d = rfs_xprt_find(o->conn.transport);
	if (d && (d->flags & RFS_XPRT_F_LOCAL) &&
	    t->addr.ss.ss_family != AF_UNIX) {
		ctl_err("transport %s works on this host only, through the "
			"server's Unix socket: give SERVER as "
			"unix:PATH:/EXPORT (ringfsd --listen-unix PATH)",
			d->name);
		return -EINVAL;
	}
	if (d && (d->flags & RFS_XPRT_F_RDMA_ADDR) &&
	    t->addr.ss.ss_family == AF_UNIX) {
		ctl_err("transport %s sets up over TCP: give SERVER as "
			"HOST:PORT:/EXPORT (ringfsd --listen), not a unix: "
			"address",
			d->name);
		return -EINVAL;
	}
	return 0;
}

/* ---- ping --------------------------------------------------------------- */

#define RING 256u /* send times of recent pings, for late replies */

struct ping_run {
	uint64_t sent, received, late, corrupt;
	uint64_t *rtt; /* ns, one per reply */
	size_t nrtt, cap;
	uint64_t xsys;	 /* transport syscalls in round trips */
	uint64_t sleeps; /* our ppoll calls during round trips */
	long long t0[RING];
	uint64_t seq_of[RING];
	bool interrupted;
	bool failed; /* the connection broke */
};

static uint8_t pat(uint64_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + 1u);
}

static int rtt_add(struct ping_run *pr, uint64_t ns)
{
	if (pr->nrtt == pr->cap) {
		size_t cap = pr->cap ? pr->cap * 2 : 1024;
		uint64_t *n = realloc(pr->rtt, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		pr->rtt = n;
		pr->cap = cap;
	}
	pr->rtt[pr->nrtt++] = ns;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* nearest rank on a sorted array */
static double pct_us(const uint64_t *v, size_t n, unsigned p)
{
	size_t k = (n * p + 99) / 100;

	if (k == 0)
		k = 1;
	return (double)v[k - 1] / 1e3;
}

/* A reply that is not the one we wait for: a late one, or garbage. */
static void stray_reply(struct ctl_conn *cc, struct ping_run *pr,
			const struct opts *o, uint64_t id_base,
			const struct rfs_buf *b)
{
	const struct rfs_hdr *h = b->data;
	uint64_t seq = h->id - id_base;
	long long now = rfs_now_ns();

	if (h->id > id_base && h->opcode == RFS_OP_PING &&
	    pr->seq_of[seq % RING] == seq) {
		pr->late++;
		if (!o->quiet)
			printf("late reply from %s: seq=%llu time=%.1f %s "
			       "(counted as lost)\n",
			       cc->t->addr_text, (unsigned long long)seq,
			       (double)(now - pr->t0[seq % RING]) / 1e3,
			       us_unit);
		return;
	}
	ctl_err("unexpected frame from %s: %s id %llu (ignored)",
		cc->t->addr_text, rfs_proto_op_name(h->opcode),
		(unsigned long long)h->id);
}

/*
 * The transport failed (err < 0) or the connection went down: say so,
 * mark the run failed and return the error; 0 for any other event.
 */
static int ping_broken(struct ctl_conn *cc, struct ping_run *pr,
		       const struct opts *o, int err, const struct rfs_xev *e)
{
	if (err < 0) {
		ctl_err("transport %s: %s", o->conn.transport, strerror(-err));
		pr->failed = true;
		return err;
	}
	if (e->type == RFS_XEV_CONN_DOWN) {
		ctl_err("connection to %s lost: %s", cc->t->addr_text,
			ctl_down_str(e->status));
		pr->failed = true;
		return e->status ? e->status : -ECONNRESET;
	}
	return 0;
}

/* one ping: 1 answered, 0 lost or bad, < 0 stop (interrupted, broken) */
static int ping_once(struct ctl_conn *cc, struct ping_run *pr,
		     const struct opts *o, uint64_t seq, uint64_t id_base,
		     long long *t0_out)
{
	struct rfs_xprt_stats xa, xb;
	uint32_t size = (uint32_t)o->size;
	struct rfs_buf *b;
	struct rfs_mb mb;
	uint8_t *p = NULL;
	uint64_t sleeps0 = cc->r.sleeps, id;
	long long t0, deadline;
	int err;

	rfs_xprt_get_stats(cc->r.x, &xa);
	b = rfs_rpc_req(&cc->r, &mb, RFS_OP_PING, RFS_HDR_SIZE + size);
	if (!b) {
		ctl_err("transport %s: no buffer for a %u-byte ping",
			o->conn.transport, size);
		pr->failed = true;
		return -ENOBUFS;
	}
	id = rfs_mb_hdr(&mb)->id;
	if (id != id_base + seq) {
		rfs_xprt_buf_put(cc->r.x, b);
		ctl_err("internal error: request id %llu for seq %llu",
			(unsigned long long)id, (unsigned long long)seq);
		pr->failed = true;
		return -EPROTO;
	}
	if (size)
		p = rfs_mb_put(&mb, size);
	for (uint32_t i = 0; p && i < size; i++)
		p[i] = pat(seq, i);
	t0 = rfs_now_ns();
	*t0_out = t0;
	pr->t0[seq % RING] = t0;
	pr->seq_of[seq % RING] = seq;
	err = rfs_rpc_send(&cc->r, b, &mb);
	if (err) {
		ctl_err("sending ping %llu to %s: %s", (unsigned long long)seq,
			cc->t->addr_text,
			cc->r.down ? ctl_down_str(cc->r.down_status) :
				     strerror(-err));
		pr->failed = true;
		return err;
	}
	pr->sent++;
	deadline = t0 + (long long)o->conn.timeout_ms * 1000000LL;
	for (;;) {
		struct rfs_rep_view v;
		struct rfs_xev e;
		const char *why;
		long long t1;

		err = rfs_rpc_next(&cc->r, deadline, &e);
		if (err == 0) {
			if (!o->quiet)
				printf("no reply from %s: seq=%llu within "
				       "%d ms\n",
				       cc->t->addr_text,
				       (unsigned long long)seq,
				       o->conn.timeout_ms);
			return 0;
		}
		if (err == -EINTR) {
			/* it had no chance to answer: not counted */
			pr->sent--;
			pr->seq_of[seq % RING] = 0;
			pr->interrupted = true;
			return err;
		}
		err = ping_broken(cc, pr, o, err, &e);
		if (err < 0)
			return err;
		if (e.type != RFS_XEV_RECV)
			continue;
		t1 = rfs_now_ns();
		if (((const struct rfs_hdr *)e.buf->data)->id != id) {
			stray_reply(cc, pr, o, id_base, e.buf);
			rfs_xprt_buf_put(cc->r.x, e.buf);
			continue;
		}
		rfs_xprt_get_stats(cc->r.x, &xb);
		pr->seq_of[seq % RING] = 0;
		err = rfs_rpc_check_reply(&cc->r, e.buf, RFS_OP_PING, id, &v,
					  &why);
		if (!err && v.data_len != size)
			why = "a reply of the wrong size", err = -EPROTO;
		for (uint32_t i = 0; !err && i < size; i++)
			if (((const uint8_t *)v.data)[i] != pat(seq, i))
				why = "a reply whose payload differs from "
				      "what was sent",
				err = -EBADMSG;
		if (err) {
			pr->corrupt++;
			if (why)
				ctl_err("seq=%llu: %s sent %s",
					(unsigned long long)seq,
					cc->t->addr_text, why);
			else
				ctl_err("seq=%llu: %s answered: %s",
					(unsigned long long)seq,
					cc->t->addr_text, strerror(-err));
			rfs_xprt_buf_put(cc->r.x, e.buf);
			return 0;
		}
		pr->received++;
		pr->xsys += xb.syscalls - xa.syscalls;
		pr->sleeps += cc->r.sleeps - sleeps0;
		if (rtt_add(pr, (uint64_t)(t1 - t0))) {
			rfs_xprt_buf_put(cc->r.x, e.buf);
			ctl_err("out of memory");
			pr->failed = true;
			return -ENOMEM;
		}
		if (!o->quiet)
			printf("%u bytes from %s: seq=%llu time=%.1f %s\n",
			       e.buf->len, cc->t->addr_text,
			       (unsigned long long)seq, (double)(t1 - t0) / 1e3,
			       us_unit);
		rfs_xprt_buf_put(cc->r.x, e.buf);
		return 1;
	}
}

/* Between pings: late replies may come in, the connection may break. */
static int ping_pause(struct ctl_conn *cc, struct ping_run *pr,
		      const struct opts *o, uint64_t id_base, long long until)
{
	for (;;) {
		struct rfs_xev e;
		int err = rfs_rpc_next(&cc->r, until, &e);

		if (err == 0)
			return 0;
		if (err == -EINTR) {
			pr->interrupted = true;
			return err;
		}
		err = ping_broken(cc, pr, o, err, &e);
		if (err < 0)
			return err;
		if (e.type == RFS_XEV_RECV) {
			stray_reply(cc, pr, o, id_base, e.buf);
			rfs_xprt_buf_put(cc->r.x, e.buf);
		}
	}
}

static void ping_summary(const struct ctl_conn *cc, struct ping_run *pr,
			 const struct opts *o, long long elapsed_ns)
{
	uint64_t lost = pr->sent - pr->received;

	printf("\n--- %s:/%s ringfs ping statistics ---\n", cc->t->addr_text,
	       cc->t->export);
	printf("%llu sent, %llu received, %llu lost (%.1f%%)",
	       (unsigned long long)pr->sent, (unsigned long long)pr->received,
	       (unsigned long long)lost,
	       pr->sent ? 100.0 * (double)lost / (double)pr->sent : 0.0);
	if (pr->late)
		printf(", %llu late", (unsigned long long)pr->late);
	if (pr->corrupt)
		printf(", %llu bad", (unsigned long long)pr->corrupt);
	printf(", time %.0f ms%s\n", (double)elapsed_ns / 1e6,
	       pr->interrupted ? " (interrupted)" : "");
	if (pr->nrtt) {
		double sum = 0;

		qsort(pr->rtt, pr->nrtt, sizeof(*pr->rtt), cmp_u64);
		for (size_t i = 0; i < pr->nrtt; i++)
			sum += (double)pr->rtt[i];
		printf("rtt min/avg/p50/p99/max = %.1f/%.1f/%.1f/%.1f/%.1f "
		       "%s\n",
		       (double)pr->rtt[0] / 1e3, sum / (double)pr->nrtt / 1e3,
		       pct_us(pr->rtt, pr->nrtt, 50),
		       pct_us(pr->rtt, pr->nrtt, 99),
		       (double)pr->rtt[pr->nrtt - 1] / 1e3, us_unit);
		printf("transport %s: %.2f syscalls per ping (%llu in %llu "
		       "round trips; ringfsctl's own ppoll sleeps: %.2f per "
		       "ping)\n",
		       o->conn.transport,
		       (double)pr->xsys / (double)pr->received,
		       (unsigned long long)pr->xsys,
		       (unsigned long long)pr->received,
		       (double)pr->sleeps / (double)pr->received);
	}
}

static int cmd_ping(const struct opts *o, const struct ctl_target *t)
{
	struct ping_run pr;
	struct ctl_conn cc;
	uint64_t id_base;
	long long start, t0 = 0;
	int err;

	memset(&pr, 0, sizeof(pr));
	if (ctl_connect(&cc, t, &o->conn))
		return CTL_EXIT_FAIL;
	if (RFS_HDR_SIZE + o->size > cc.r.max_msg) {
		ctl_err("--size %lu: the server accepts frames of at most %u "
			"bytes (%u of payload)",
			o->size, cc.r.max_msg, cc.r.max_msg - RFS_HDR_SIZE);
		ctl_close(&cc);
		return CTL_EXIT_USAGE;
	}
	err = ctl_catch_signals(&cc);
	if (err) {
		ctl_err("signal setup: %s", strerror(-err));
		ctl_close(&cc);
		return CTL_EXIT_FAIL;
	}
	printf("PING %s:/%s over %s: %lu bytes of payload, %lu-byte frames%s\n",
	       t->addr_text, t->export, o->conn.transport, o->size,
	       RFS_HDR_SIZE + o->size, cc.r.csum ? ", checksummed" : "");
	/* request ids from here on are id_base + seq */
	id_base = cc.r.next_id - 1;
	start = rfs_now_ns();
	for (uint64_t seq = 1; !o->count || seq <= o->count; seq++) {
		err = ping_once(&cc, &pr, o, seq, id_base, &t0);
		if (err < 0 || !out_ok())
			break;
		if (o->count && seq == o->count)
			break;
		err = ping_pause(&cc, &pr, o, id_base,
				 t0 + (long long)o->interval_ms * 1000000LL);
		if (err < 0)
			break;
	}
	ping_summary(&cc, &pr, o, rfs_now_ns() - start);
	ctl_close(&cc);
	free(pr.rtt);
	if (pr.failed || !pr.sent || pr.received != pr.sent)
		return CTL_EXIT_FAIL;
	return CTL_EXIT_OK;
}

/* ---- stats -------------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void human_bytes(uint64_t v, char *out, size_t n)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB",
					    "TiB", "PiB", "EiB" };
	double d = (double)v;
	int u = -1;

	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, n, "%llu B", (unsigned long long)v);
	else
		snprintf(out, n, "%.1f %s (%llu B)", d, unit[u],
			 (unsigned long long)v);
}

static void print_stats(const struct opts *o, const struct ctl_target *t,
			const struct rfs_stats_rep *s)
{
	uint64_t secs = s->uptime_ns / 1000000000ull;
	char in[64], out[64];

	if (o->json) {
		printf("{\"server\": ");
		json_str(t->addr_text);
		printf(", \"export\": ");
		json_str(t->export);
		printf(", \"transport\": ");
		json_str(o->conn.transport);
		printf(", \"uptime_ns\": %llu, \"uptime_s\": %.3f, "
		       "\"sessions\": %llu, \"connections\": %llu, "
		       "\"requests\": %llu, \"errors\": %llu, "
		       "\"bytes_in\": %llu, \"bytes_out\": %llu, "
		       "\"nodes\": %llu}\n",
		       (unsigned long long)s->uptime_ns,
		       (double)s->uptime_ns / 1e9,
		       (unsigned long long)s->sessions,
		       (unsigned long long)s->connections,
		       (unsigned long long)s->requests,
		       (unsigned long long)s->errors,
		       (unsigned long long)s->bytes_in,
		       (unsigned long long)s->bytes_out,
		       (unsigned long long)s->nodes);
		return;
	}
	human_bytes(s->bytes_in, in, sizeof(in));
	human_bytes(s->bytes_out, out, sizeof(out));
	printf("ringfsd at %s (export %s, over %s)\n", t->addr_text, t->export,
	       o->conn.transport);
	printf("  uptime       %llud %02llu:%02llu:%02llu (%.3f s)\n",
	       (unsigned long long)(secs / 86400),
	       (unsigned long long)(secs / 3600 % 24),
	       (unsigned long long)(secs / 60 % 60),
	       (unsigned long long)(secs % 60), (double)s->uptime_ns / 1e9);
	printf("  sessions     %llu open (this one included)\n",
	       (unsigned long long)s->sessions);
	printf("  connections  %llu accepted since start\n",
	       (unsigned long long)s->connections);
	printf("  requests     %llu (this HELLO and STATS included)\n",
	       (unsigned long long)s->requests);
	printf("  errors       %llu requests answered with an error\n",
	       (unsigned long long)s->errors);
	printf("  bytes in     %s\n", in);
	printf("  bytes out    %s\n", out);
	printf("  nodes        %llu in the node cache\n",
	       (unsigned long long)s->nodes);
}

static int cmd_stats(const struct opts *o, const struct ctl_target *t)
{
	struct rfs_rep_view v;
	struct rfs_buf *b, *rb;
	struct ctl_conn cc;
	const char *why;
	struct rfs_mb mb;
	uint64_t id;
	int err, ret = CTL_EXIT_FAIL;

	if (ctl_connect(&cc, t, &o->conn))
		return CTL_EXIT_FAIL;
	err = ctl_catch_signals(&cc);
	if (err) {
		ctl_err("signal setup: %s", strerror(-err));
		goto out;
	}
	b = rfs_rpc_req(&cc.r, &mb, RFS_OP_STATS, 128);
	if (!b) {
		ctl_err("transport %s: no buffer", o->conn.transport);
		goto out;
	}
	id = rfs_mb_hdr(&mb)->id;
	err = rfs_rpc_call(&cc.r, b, &mb, o->conn.timeout_ms, &rb);
	if (err) {
		if (err == -ETIMEDOUT)
			ctl_err("STATS: no reply from %s within %d ms",
				t->addr_text, o->conn.timeout_ms);
		else if (err == -EINTR)
			ctl_err("interrupted");
		else
			ctl_err("STATS: connection to %s lost: %s",
				t->addr_text,
				cc.r.down ? ctl_down_str(cc.r.down_status) :
					    strerror(-err));
		goto out;
	}
	err = rfs_rpc_check_reply(&cc.r, rb, RFS_OP_STATS, id, &v, &why);
	if (err) {
		if (why)
			ctl_err("STATS: %s sent %s", t->addr_text, why);
		else
			ctl_err("STATS refused by %s: %s", t->addr_text,
				strerror(-err));
	} else {
		print_stats(o, t, v.fixed);
		ret = CTL_EXIT_OK;
	}
	rfs_xprt_buf_put(cc.r.x, rb);
out:
	ctl_close(&cc);
	return ret;
}

/* ---- command line ------------------------------------------------------- */

enum {
	OPT_JSON = 256,
	OPT_NOCSUM
};

static const struct option lopts[] = {
	{ "transport", required_argument, NULL, 't' },
	{ "export", required_argument, NULL, 'e' },
	{ "key-file", required_argument, NULL, 'k' },
	{ "timeout", required_argument, NULL, 'W' },
	{ "nocsum", no_argument, NULL, OPT_NOCSUM },
	{ "verbose", no_argument, NULL, 'v' },
	{ "count", required_argument, NULL, 'c' },
	{ "interval", required_argument, NULL, 'i' },
	{ "size", required_argument, NULL, 's' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void version(void)
{
	printf("ringfsctl %s (protocol %d.%d, transports: %s)\n",
	       RINGFS_VERSION, RFS_PROTO_MAJOR, RFS_PROTO_MINOR,
	       rfs_xprt_built());
}

static const char *opt_name(int c)
{
	for (const struct option *l = lopts; l->name; l++)
		if (l->val == c)
			return l->name;
	return "?";
}

/* 0 go on, 1 done (help/version printed), < 0 usage error (printed) */
static int parse_args(int argc, char **argv, struct opts *o)
{
	unsigned long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->conn.transport = default_transport();
	o->conn.timeout_ms = DEFAULT_TIMEOUT_MS;
	o->conn.csum = true;
	o->interval_ms = DEFAULT_INTERVAL_MS;
	o->size = DEFAULT_SIZE;
	if (argc < 2) {
		usage(stderr);
		return -EINVAL;
	}
	o->cmd_name = argv[1];
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 1;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		version();
		return 1;
	}
	if (!strcmp(argv[1], "ping")) {
		o->cmd = CMD_PING;
	} else if (!strcmp(argv[1], "stats")) {
		o->cmd = CMD_STATS;
	} else {
		ctl_err("unknown command '%s' (commands: ping, stats, mounts, capture; see "
			"--help)",
			argv[1]);
		return -EINVAL;
	}
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, ":t:e:k:W:vc:i:s:qhV",
				lopts, NULL)) != -1) {
		bool ping_only = c == 'c' || c == 'i' || c == 's' || c == 'q';

		if (ping_only && o->cmd != CMD_PING) {
			ctl_err("%s: --%s is an option of ping", o->cmd_name,
				opt_name(c));
			return -EINVAL;
		}
		if (c == OPT_JSON && o->cmd != CMD_STATS) {
			ctl_err("%s: --json is an option of stats",
				o->cmd_name);
			return -EINVAL;
		}
		switch (c) {
		case 't':
			if (!rfs_xprt_is_built(optarg)) {
				ctl_err("transport '%s' is not available "
					"(built: %s)",
					optarg, rfs_xprt_built());
				return -EINVAL;
			}
			o->conn.transport = optarg;
			break;
		case 'e':
			o->export = optarg;
			break;
		case 'k':
			o->conn.key_file = optarg;
			break;
		case 'W':
			if (parse_ull("--timeout", optarg, 1, 3600000, &v))
				return -EINVAL;
			o->conn.timeout_ms = (int)v;
			break;
		case OPT_NOCSUM:
			o->conn.csum = false;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'c':
			if (parse_ull("--count", optarg, 1, UINT64_MAX / 2, &v))
				return -EINVAL;
			o->count = v;
			break;
		case 'i':
			if (parse_ull("--interval", optarg, 0, 3600000, &v))
				return -EINVAL;
			o->interval_ms = (unsigned long)v;
			break;
		case 's':
			if (parse_ull("--size", optarg, 0, MAX_SIZE, &v))
				return -EINVAL;
			o->size = (unsigned long)v;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			version();
			return 1;
		case ':':
			if (optopt)
				ctl_err("%s: option -%c needs a value",
					o->cmd_name, optopt);
			else
				ctl_err("%s: option '%s' needs a value",
					o->cmd_name, argv[optind]);
			return -EINVAL;
		default:
			/* getopt ran on argv + 1: argv[optind] is the word
			   it just read */
			if (optopt)
				ctl_err("%s: unknown option -%c (see --help)",
					o->cmd_name, optopt);
			else
				ctl_err("%s: unknown option '%s' (see --help)",
					o->cmd_name, argv[optind]);
			return -EINVAL;
		}
	}
	/* getopt_long ran on argv + 1: its optind counts from there */
	if (optind >= argc - 1) {
		ctl_err("%s: which server? (usage: ringfsctl %s "
			"HOST[:PORT]:/EXPORT [options])",
			o->cmd_name, o->cmd_name);
		return -EINVAL;
	}
	o->server = argv[1 + optind];
	if (optind + 1 < argc - 1) {
		ctl_err("%s: unexpected argument '%s'", o->cmd_name,
			argv[2 + optind]);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl_target t;
	struct sigaction sa;
	struct opts o;
	int ret;

	if (setlocale(LC_CTYPE, "") && !strcmp(nl_langinfo(CODESET), "UTF-8"))
		us_unit = "\xc2\xb5s";
	rfs_log_init(CTL_PROG);
	if (argc >= 2 && !strcmp(argv[1], "mounts"))
		return rfs_ctl_mounts(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "capture"))
		return rfs_ctl_capture(argc, argv);
	if (argc >= 2 &&
	    (!strcmp(argv[1], "conns") ||
	     (!strcmp(argv[1], "stats") && rfs_ctl_obs_local(argc, argv))))
		return rfs_ctl_obs(argc, argv);
	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret > 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	/* the transport's own messages only on demand: ours say it all */
	if (!o.verbose && !getenv("RINGFS_DEBUG"))
		rfs_log_set_level(LOG_CRIT);
	if (parse_target(&o, &t))
		return CTL_EXIT_USAGE;
	if (o.conn.key_file) {
		struct rfs_auth_key k;
		char why[512];

		/* read it here for our own words; auth.c keeps its copy */
		ret = rfs_auth_key_load(o.conn.key_file, &k, why, sizeof(why));
		rfs_auth_wipe(&k, sizeof(k));
		if (ret) {
			ctl_err("%s", why);
			return CTL_EXIT_USAGE;
		}
		if (rfs_cl_auth_load(o.conn.key_file))
			return CTL_EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigemptyset(&sa.sa_mask) || sigaction(SIGPIPE, &sa, NULL) < 0) {
		ctl_err("ignoring SIGPIPE: %s", strerror(errno));
		return CTL_EXIT_FAIL;
	}
	if (setvbuf(stdout, NULL, _IOLBF, 0)) {
		ctl_err("setvbuf: %s", strerror(errno));
		return CTL_EXIT_FAIL;
	}
	ret = o.cmd == CMD_PING ? cmd_ping(&o, &t) : cmd_stats(&o, &t);
	if (fflush(stdout) || !out_ok()) {
		if (!out_errno)
			out_errno = errno ? errno : EIO;
		/* a reader that went away (| head) needs no message */
		if (out_errno != EPIPE)
			ctl_err("writing the output: %s", strerror(out_errno));
		return CTL_EXIT_FAIL;
	}
	return ret;
}
