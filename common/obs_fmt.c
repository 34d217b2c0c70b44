// SPDX-License-Identifier: MIT
/*
 * obs_fmt: the counters region (obs.h) as text, JSON and Prometheus text
 * exposition format, for ringfsctl (reading the mapped file) and for the
 * daemons' control sockets (reading their own region): one formatter,
 * so both say the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs.h"

static const char *const ctr_name[] = {
#define RFS_OBS_NAME_(n, side, h) #n,
	RFS_OBS_COUNTERS(RFS_OBS_NAME_)
#undef RFS_OBS_NAME_
};
static const char *const ctr_help[] = {
#define RFS_OBS_HELP_(n, side, h) h,
	RFS_OBS_COUNTERS(RFS_OBS_HELP_)
#undef RFS_OBS_HELP_
};
static const unsigned ctr_side[] = {
#define RFS_OBS_SIDE_(n, side, h) RFS_OBS_##side,
	RFS_OBS_COUNTERS(RFS_OBS_SIDE_)
#undef RFS_OBS_SIDE_
};
static const char *const gauge_name[] = {
#define RFS_OBS_NAME_(n, side, h) #n,
	RFS_OBS_GAUGES(RFS_OBS_NAME_)
#undef RFS_OBS_NAME_
};
static const unsigned gauge_side[] = {
#define RFS_OBS_SIDE_(n, side, h) RFS_OBS_##side,
	RFS_OBS_GAUGES(RFS_OBS_SIDE_)
#undef RFS_OBS_SIDE_
};

static const char *side_name(const struct rfs_obs_hdr *h)
{
	return h->side == RFS_OBS_SIDE_CLIENT ? "client" : "server";
}

static const char *state_name(uint32_t st)
{
	switch (st) {
	case RFS_OBS_ESTAB:
		return "ESTAB";
	case RFS_OBS_SETUP:
		return "SYN-SENT";
	case RFS_OBS_RECONNECT:
		return "RECONNECT";
	case RFS_OBS_CLOSING:
		return "CLOSING";
	default:
		return "?";
	}
}

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* a copy of a text field that is NUL-terminated whatever the writer did */
static void txt(char *d, size_t n, const char *s, size_t sn)
{
	size_t l = strnlen(s, sn < n ? sn : n - 1);

	memcpy(d, s, l);
	d[l] = '\0';
}

static void json_str(struct rfs_ctl_out *o, const char *s)
{
	rfs_ctl_write(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			rfs_ctl_printf(o, "\\%c", c);
		else if (c < 0x20)
			rfs_ctl_printf(o, "\\u%04x", c);
		else
			rfs_ctl_write(o, s, 1);
	}
	rfs_ctl_write(o, "\"", 1);
}

/* a Prometheus label value: \\, \" and \n escaped */
static void prom_str(struct rfs_ctl_out *o, const char *s)
{
	rfs_ctl_write(o, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			rfs_ctl_printf(o, "\\%c", *s);
		else if (*s == '\n')
			rfs_ctl_write(o, "\\n", 2);
		else
			rfs_ctl_write(o, s, 1);
	}
	rfs_ctl_write(o, "\"", 1);
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- conns -------------------------------------------------------------- */

struct conn_view {
	uint32_t id, state;
	double age_s;
	char transport[16], peer[RFS_OBS_TEXT], local[RFS_OBS_TEXT];
	char export[64], ident[64];
	uint64_t c[RFS_OBS_NCTR], g[RFS_OBS_NGAUGE];
};

static bool conn_read(const struct rfs_obs_slot *s, struct conn_view *v,
		      int64_t now)
{
	v->state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	if (v->state == RFS_OBS_FREE)
		return false;
	v->id = s->id;
	v->age_s = (double)(now - s->start_ms) / 1000.0;
	if (v->age_s < 0)
		v->age_s = 0;
	txt(v->transport, sizeof(v->transport), s->transport,
	    sizeof(s->transport));
	txt(v->peer, sizeof(v->peer), s->peer, sizeof(s->peer));
	txt(v->local, sizeof(v->local), s->local, sizeof(s->local));
	txt(v->export, sizeof(v->export), s->export, sizeof(s->export));
	txt(v->ident, sizeof(v->ident), s->ident, sizeof(s->ident));
	for (unsigned i = 0; i < RFS_OBS_NCTR; i++)
		v->c[i] = ld(&s->c[i]);
	for (unsigned i = 0; i < RFS_OBS_NGAUGE; i++)
		v->g[i] = ld(&s->g[i]);
	return true;
}

static const char *dash(const char *s)
{
	return *s ? s : "-";
}

void rfs_obs_fmt_conns(const struct rfs_obs_hdr *h, enum rfs_obs_fmt f,
		       struct rfs_ctl_out *o)
{
	const struct rfs_obs_slot *sl = rfs_obs_slots(h);
	int64_t now = real_ms();
	unsigned n = 0;

	if (f == RFS_OBS_FMT_JSON) {
		rfs_ctl_printf(o, "{\"side\":\"%s\",\"pid\":%d,\"what\":",
			       side_name(h), (int)h->pid);
		json_str(o, h->what);
		rfs_ctl_printf(o, ",\"connections\":[");
	} else {
		rfs_ctl_printf(o, "%-4s %-6s %-9s %8s %-28s %-10s %-14s %s\n",
			       "ID", "XPRT", "STATE", "AGE", "PEER", "EXPORT",
			       "IDENT", "DETAILS");
	}
	for (uint32_t i = 0; i < h->nslots; i++) {
		struct conn_view v;

		if (!conn_read(&sl[i], &v, now))
			continue;
		if (f == RFS_OBS_FMT_JSON) {
			rfs_ctl_printf(o, "%s{\"id\":%u,\"transport\":",
				       n ? "," : "", v.id);
			json_str(o, v.transport);
			rfs_ctl_printf(o,
				       ",\"state\":\"%s\",\"age_s\":%.3f,"
				       "\"peer\":",
				       state_name(v.state), v.age_s);
			json_str(o, v.peer);
			rfs_ctl_printf(o, ",\"local\":");
			json_str(o, v.local);
			rfs_ctl_printf(o, ",\"export\":");
			json_str(o, v.export);
			rfs_ctl_printf(o, ",\"ident\":");
			json_str(o, v.ident);
			for (unsigned k = 0; k < RFS_OBS_NCTR; k++)
				if (ctr_side[k] & h->side)
					rfs_ctl_printf(
						o, ",\"%s\":%llu", ctr_name[k],
						(unsigned long long)v.c[k]);
			for (unsigned k = 0; k < RFS_OBS_NGAUGE; k++)
				if (gauge_side[k] & h->side)
					rfs_ctl_printf(
						o, ",\"%s\":%llu",
						gauge_name[k],
						(unsigned long long)v.g[k]);
			rfs_ctl_printf(o, "}");
		} else {
			char age[32];
			double a = v.age_s;

			if (a < 600)
				snprintf(age, sizeof(age), "%.1fs", a);
			else if (a < 86400 * 2)
				snprintf(age, sizeof(age), "%.0fm", a / 60);
			else
				snprintf(age, sizeof(age), "%.0fd", a / 86400);
			rfs_ctl_printf(o,
				       "%-4u %-6s %-9s %8s %-28s %-10s %-14s ",
				       v.id, dash(v.transport),
				       state_name(v.state), age, dash(v.peer),
				       dash(v.export), dash(v.ident));
			/* the client's requests out, replies in; the server's
			   requests in, replies out */
			if (h->side == RFS_OBS_SIDE_CLIENT)
				rfs_ctl_printf(
					o, "inflight:%llu/%llu queue:%llu ",
					(unsigned long long)
						v.g[RFS_OBS_G_inflight],
					(unsigned long long)
						v.g[RFS_OBS_G_inflight_max],
					(unsigned long long)
						v.g[RFS_OBS_G_queue]);
			else
				rfs_ctl_printf(o, "queue:%llu ",
					       (unsigned long long)
						       v.g[RFS_OBS_G_queue]);
			rfs_ctl_printf(
				o,
				"reqs_out:%llu reqs_in:%llu bytes_sent:%llu "
				"bytes_received:%llu errors:%llu",
				(unsigned long long)(v.c[RFS_OBS_requests_sent] +
						     v.c[RFS_OBS_replies_sent]),
				(unsigned long long)(v.c[RFS_OBS_requests_received] +
						     v.c[RFS_OBS_replies_received]),
				(unsigned long long)v.c[RFS_OBS_bytes_out],
				(unsigned long long)v.c[RFS_OBS_bytes_in],
				(unsigned long long)v.c[RFS_OBS_errors]);
			if (h->side == RFS_OBS_SIDE_CLIENT)
				rfs_ctl_printf(o, " reconnects:%llu",
					       (unsigned long long)
						       v.c[RFS_OBS_reconnects]);
			/* ss -i: rtt:srtt/rttvar in ms, minrtt in ms */
			if (v.g[RFS_OBS_G_srtt_ns])
				rfs_ctl_printf(
					o, " rtt:%.3f/%.3f minrtt:%.3f",
					(double)v.g[RFS_OBS_G_srtt_ns] / 1e6,
					(double)v.g[RFS_OBS_G_rttvar_ns] / 1e6,
					(double)v.g[RFS_OBS_G_minrtt_ns] / 1e6);
			if (v.local[0])
				rfs_ctl_printf(o, " local:%s", v.local);
			rfs_ctl_printf(o, "\n");
		}
		n++;
	}
	if (f == RFS_OBS_FMT_JSON)
		rfs_ctl_printf(o, "]}\n");
}

/* ---- stats -------------------------------------------------------------- */

uint64_t rfs_obs_quantile(const uint64_t *b, double q)
{
	uint64_t n = 0, acc = 0;
	double want;

	for (unsigned i = 0; i < RFS_OBS_NBUCKET; i++)
		n += b[i];
	if (!n)
		return 0;
	want = (double)n * q;
	for (unsigned i = 0; i < RFS_OBS_NBUCKET; i++) {
		double lo = i ? (double)(1ull << i) : 0,
		       hi = (double)(2ull << i);

		if (!b[i] || (double)(acc + b[i]) < want) {
			acc += b[i];
			continue;
		}
		/* linear inside the bucket, as Prometheus' histogram_quantile */
		return (uint64_t)(lo + (hi - lo) * (want - (double)acc) /
					       (double)b[i]);
	}
	return 2ull << (RFS_OBS_NBUCKET - 1);
}

/* a side's totals: per transport counters, per opcode latency */
struct totals {
	unsigned nx;
	char xname[2 * RFS_OBS_NXPRT][16];
	uint64_t c[2 * RFS_OBS_NXPRT][RFS_OBS_NCTR];
	unsigned conns[2 * RFS_OBS_NXPRT];
	struct rfs_obs_hist h;
};

static unsigned xidx(struct totals *t, const char *name, size_t n)
{
	char nm[16];

	txt(nm, sizeof(nm), name, n);
	if (!nm[0])
		snprintf(nm, sizeof(nm), "?");
	for (unsigned i = 0; i < t->nx; i++)
		if (!strcmp(t->xname[i], nm))
			return i;
	if (t->nx == 2 * RFS_OBS_NXPRT)
		return t->nx - 1; /* can't happen: few transports exist */
	memcpy(t->xname[t->nx], nm, sizeof(nm));
	return t->nx++;
}

static void add_slot(struct totals *t, const struct rfs_obs_slot *s, bool live)
{
	unsigned x = xidx(t, s->transport, sizeof(s->transport));

	for (unsigned k = 0; k < RFS_OBS_NCTR; k++)
		t->c[x][k] += ld(&s->c[k]);
	t->conns[x] += live;
	for (unsigned op = 0; op < RFS_OBS_NOPS; op++) {
		for (unsigned b = 0; b < RFS_OBS_NBUCKET; b++)
			t->h.b[op][b] += ld(&s->h.b[op][b]);
		t->h.sum_ns[op] += ld(&s->h.sum_ns[op]);
	}
}

static void prom_labels(struct rfs_ctl_out *o, const struct rfs_obs_hdr *h,
			const char *k, const char *v)
{
	rfs_ctl_printf(o, "{side=\"%s\",pid=\"%d\",what=", side_name(h),
		       (int)h->pid);
	prom_str(o, h->what);
	if (k) {
		rfs_ctl_printf(o, ",%s=", k);
		prom_str(o, v);
	}
}

static struct totals *totals_of(const struct rfs_obs_hdr *h)
{
	const struct rfs_obs_slot *sl = rfs_obs_slots(h);
	struct totals *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	for (unsigned i = 0; i < RFS_OBS_NXPRT; i++)
		if (h->retired[i].transport[0])
			add_slot(t, &h->retired[i], false);
	for (uint32_t i = 0; i < h->nslots; i++)
		if (__atomic_load_n(&sl[i].state, __ATOMIC_ACQUIRE) !=
		    RFS_OBS_FREE)
			add_slot(t, &sl[i], true);
	return t;
}

static void prom_hist(struct rfs_ctl_out *o, const struct rfs_obs_hdr *h,
		      const struct totals *t, rfs_obs_opname_fn opname)
{
	for (unsigned op = 0; op < RFS_OBS_NOPS; op++) {
		const char *name = opname ? opname(op) : NULL;
		uint64_t acc = 0;
		char nb[16];

		for (unsigned b = 0; b < RFS_OBS_NBUCKET; b++)
			acc += t->h.b[op][b];
		if (!acc)
			continue;
		if (!name) {
			snprintf(nb, sizeof(nb), "op%u", op);
			name = nb;
		}
		acc = 0;
		for (unsigned b = 0; b + 1 < RFS_OBS_NBUCKET; b++) {
			acc += t->h.b[op][b];
			rfs_ctl_printf(
				o, "ringfs_request_duration_seconds_bucket");
			prom_labels(o, h, "op", name);
			rfs_ctl_printf(o, ",le=\"%.9g\"} %llu\n",
				       (double)(2ull << b) / 1e9,
				       (unsigned long long)acc);
		}
		acc += t->h.b[op][RFS_OBS_NBUCKET - 1];
		rfs_ctl_printf(o, "ringfs_request_duration_seconds_bucket");
		prom_labels(o, h, "op", name);
		rfs_ctl_printf(o, ",le=\"+Inf\"} %llu\n",
			       (unsigned long long)acc);
		rfs_ctl_printf(o, "ringfs_request_duration_seconds_sum");
		prom_labels(o, h, "op", name);
		rfs_ctl_printf(o, "} %.9f\n", (double)t->h.sum_ns[op] / 1e9);
		rfs_ctl_printf(o, "ringfs_request_duration_seconds_count");
		prom_labels(o, h, "op", name);
		rfs_ctl_printf(o, "} %llu\n", (unsigned long long)acc);
	}
}

void rfs_obs_fmt_prom(const struct rfs_obs_hdr *const *hs, unsigned n,
		      rfs_obs_opname_fn opname, struct rfs_ctl_out *o)
{
	struct totals **t = calloc(n ? n : 1, sizeof(*t));

	if (!t) {
		o->oom = true;
		return;
	}
	for (unsigned d = 0; d < n; d++)
		if (!(t[d] = totals_of(hs[d])))
			o->oom = true;
	if (o->oom)
		goto out;
	/* each family once, every daemon's series under it */
	rfs_ctl_printf(o, "# HELP ringfs_connections connections open now\n"
			  "# TYPE ringfs_connections gauge\n");
	for (unsigned d = 0; d < n; d++)
		for (unsigned x = 0; x < t[d]->nx; x++) {
			rfs_ctl_printf(o, "ringfs_connections");
			prom_labels(o, hs[d], "transport", t[d]->xname[x]);
			rfs_ctl_printf(o, "} %u\n", t[d]->conns[x]);
		}
	for (unsigned k = 0; k < RFS_OBS_NCTR; k++) {
		bool any = false;

		/* a counter only the other side keeps: not in the file */
		for (unsigned d = 0; d < n; d++)
			any |= (ctr_side[k] & hs[d]->side) != 0;
		if (!any)
			continue;
		rfs_ctl_printf(o,
			       "# HELP ringfs_%s_total %s\n"
			       "# TYPE ringfs_%s_total counter\n",
			       ctr_name[k], ctr_help[k], ctr_name[k]);
		for (unsigned d = 0; d < n; d++)
			for (unsigned x = 0;
			     (ctr_side[k] & hs[d]->side) && x < t[d]->nx; x++) {
				rfs_ctl_printf(o, "ringfs_%s_total",
					       ctr_name[k]);
				prom_labels(o, hs[d], "transport",
					    t[d]->xname[x]);
				rfs_ctl_printf(
					o, "} %llu\n",
					(unsigned long long)t[d]->c[x][k]);
			}
	}
	rfs_ctl_printf(o, "# HELP ringfs_request_duration_seconds request "
			  "latency per opcode (client: send to reply; "
			  "server: arrival to reply)\n"
			  "# TYPE ringfs_request_duration_seconds "
			  "histogram\n");
	for (unsigned d = 0; d < n; d++)
		prom_hist(o, hs[d], t[d], opname);
out:
	for (unsigned d = 0; d < n; d++)
		free(t[d]);
	free(t);
}

void rfs_obs_fmt_stats(const struct rfs_obs_hdr *h, enum rfs_obs_fmt f,
		       rfs_obs_opname_fn opname, struct rfs_ctl_out *o)
{
	const char *side = side_name(h);
	struct totals *t;
	unsigned nop = 0;

	if (f == RFS_OBS_FMT_PROM) {
		rfs_obs_fmt_prom(&h, 1, opname, o);
		return;
	}
	t = totals_of(h);
	if (!t) {
		o->oom = true;
		return;
	}
	if (f == RFS_OBS_FMT_JSON) {
		rfs_ctl_printf(o, "{\"side\":\"%s\",\"pid\":%d,\"what\":", side,
			       (int)h->pid);
		json_str(o, h->what);
		rfs_ctl_printf(o, ",\"uptime_s\":%.3f,\"transports\":{",
			       (double)(real_ms() - h->start_ms) / 1000.0);
	} else {
		rfs_ctl_printf(o, "%s.pid: %d\n%s.uptime_s: %.0f\n", side,
			       (int)h->pid, side,
			       (double)(real_ms() - h->start_ms) / 1000.0);
	}
	for (unsigned x = 0; x < t->nx; x++) {
		const char *xn = t->xname[x];

		if (f == RFS_OBS_FMT_JSON) {
			rfs_ctl_printf(o, "%s\"%s\":{\"connections\":%u",
				       x ? "," : "", xn, t->conns[x]);
			for (unsigned k = 0; k < RFS_OBS_NCTR; k++)
				if (ctr_side[k] & h->side)
					rfs_ctl_printf(
						o, ",\"%s\":%llu", ctr_name[k],
						(unsigned long long)t->c[x][k]);
			rfs_ctl_printf(o, "}");
			continue;
		}
		rfs_ctl_printf(o, "%s.%s.connections: %u\n", side, xn,
			       t->conns[x]);
		for (unsigned k = 0; k < RFS_OBS_NCTR; k++)
			if (ctr_side[k] & h->side)
				rfs_ctl_printf(o, "%s.%s.%s: %llu\n", side, xn,
					       ctr_name[k],
					       (unsigned long long)t->c[x][k]);
	}
	if (f == RFS_OBS_FMT_JSON)
		rfs_ctl_printf(o, "},\"latency\":{");
	for (unsigned op = 0; op < RFS_OBS_NOPS; op++) {
		const uint64_t *b = t->h.b[op];
		const char *name = opname ? opname(op) : NULL;
		uint64_t n = 0;
		char nb[16];

		for (unsigned i = 0; i < RFS_OBS_NBUCKET; i++)
			n += b[i];
		if (!n)
			continue;
		if (!name) {
			snprintf(nb, sizeof(nb), "op%u", op);
			name = nb;
		}
		if (f == RFS_OBS_FMT_JSON) {
			rfs_ctl_printf(
				o,
				"%s\"%s\":{\"count\":%llu,\"sum_ns\":%llu,"
				"\"p50_ns\":%llu,\"p99_ns\":%llu,"
				"\"p999_ns\":%llu,\"buckets\":[",
				nop ? "," : "", name, (unsigned long long)n,
				(unsigned long long)t->h.sum_ns[op],
				(unsigned long long)rfs_obs_quantile(b, 0.5),
				(unsigned long long)rfs_obs_quantile(b, 0.99),
				(unsigned long long)rfs_obs_quantile(b, 0.999));
			for (unsigned i = 0, k = 0; i < RFS_OBS_NBUCKET; i++)
				if (b[i])
					rfs_ctl_printf(
						o, "%s[%llu,%llu]",
						k++ ? "," : "", 2ull << i,
						(unsigned long long)b[i]);
			rfs_ctl_printf(o, "]}");
		} else {
			if (!nop)
				rfs_ctl_printf(o,
					       "%s latency (us; percentiles "
					       "interpolated in log2 buckets)\n"
					       "  %-16s %10s %10s %10s %10s "
					       "%10s\n",
					       side, "op", "count", "mean",
					       "p50", "p99", "p999");
			rfs_ctl_printf(
				o,
				"  %-16s %10llu %10.1f %10.1f %10.1f %10.1f\n",
				name, (unsigned long long)n,
				(double)t->h.sum_ns[op] / (double)n / 1e3,
				(double)rfs_obs_quantile(b, 0.5) / 1e3,
				(double)rfs_obs_quantile(b, 0.99) / 1e3,
				(double)rfs_obs_quantile(b, 0.999) / 1e3);
		}
		nop++;
	}
	if (f == RFS_OBS_FMT_JSON)
		rfs_ctl_printf(o, "}}\n");
	free(t);
}

/* ---- the control socket's "conns" and "stats" --------------------------- */

static int fmt_arg(struct rfs_ctl_req *rq, struct rfs_ctl_out *out, bool prom,
		   enum rfs_obs_fmt *f)
{
	*f = RFS_OBS_FMT_TEXT;
	for (int i = 1; i < rq->argc; i++) {
		if (!strcmp(rq->argv[i], "--json")) {
			*f = RFS_OBS_FMT_JSON;
		} else if (prom && !strcmp(rq->argv[i], "--prometheus")) {
			*f = RFS_OBS_FMT_PROM;
		} else {
			rfs_ctl_printf(out,
				       "%s: unknown argument '%.64s' "
				       "(%s)",
				       rq->argv[0], rq->argv[i],
				       prom ? "--json or --prometheus" :
					      "--json");
			return -EINVAL;
		}
	}
	return 0;
}

int rfs_obs_ctl_conns(struct rfs_obs *o, struct rfs_ctl_req *rq,
		      struct rfs_ctl_out *out)
{
	enum rfs_obs_fmt f;
	int ret = fmt_arg(rq, out, false, &f);

	if (ret)
		return ret;
	rfs_obs_fmt_conns(rfs_obs_hdr(o), f, out);
	return 0;
}

int rfs_obs_ctl_stats(struct rfs_obs *o, rfs_obs_opname_fn opname,
		      struct rfs_ctl_req *rq, struct rfs_ctl_out *out)
{
	enum rfs_obs_fmt f;
	int ret = fmt_arg(rq, out, true, &f);

	if (ret)
		return ret;
	rfs_obs_fmt_stats(rfs_obs_hdr(o), f, opname, out);
	return 0;
}
