// SPDX-License-Identifier: MIT
/*
 * bench_out: the results as an aligned table, as JSON, and as an SVG
 * chart (written by hand: per workload, syscalls per op stacked client /
 * daemon / server, and p50 latency, grouped by queue depth, one bar
 * colour per transport).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "log.h"
#include "optab.h"

/* ---- table ------------------------------------------------------------ */

static const char *num(char *buf, size_t sz, double v, int dec)
{
	if (v < 0)
		snprintf(buf, sz, "n/a");
	else
		snprintf(buf, sz, "%.*f", dec, v);
	return buf;
}

static bool any_side(const struct bench_results *r, int side)
{
	for (unsigned i = 0; i < r->n; i++)
		if (!r->cell[i].skip[0] && r->cell[i].side[side].valid)
			return true;
	return false;
}

/* cells [i, j) of one transport all skipped for the same reason? */
static unsigned same_skip_run(const struct bench_results *r, unsigned i)
{
	unsigned j = i;

	while (j < r->n && !strcmp(r->cell[j].xprt, r->cell[i].xprt) &&
	       r->cell[j].skip[0] && !strcmp(r->cell[j].skip, r->cell[i].skip))
		j++;
	if (j < r->n && !strcmp(r->cell[j].xprt, r->cell[i].xprt))
		return 0; /* some cells of it did run */
	if (i > 0 && !strcmp(r->cell[i - 1].xprt, r->cell[i].xprt))
		return 0;
	return j - i;
}

static const char *op_name(uint16_t op)
{
	const struct rfs_opinfo *i = rfs_op_info(op);

	return i && i->name ? i->name : "?";
}

/* the daemons' own per-op distributions, when their files were there */
static void print_hists(FILE *f, const struct bench_results *r)
{
	bool any = false;

	for (unsigned i = 0; i < r->n && !any; i++)
		for (int s = 0; s < SIDE_N; s++)
			any |= r->cell[i].hist[s].valid;
	if (!any)
		return;
	fprintf(f,
		"\nlatency per request as the daemons measured it (their "
		"counters files: log2 histograms,\npercentiles interpolated "
		"in the bucket; daemon: send to reply, server: arrival to "
		"reply):\n%-14s %-11s %3s %-7s %-8s %9s %9s %9s %9s %9s\n",
		"transport", "workload", "qd", "side", "op", "requests",
		"mean us", "p50 us", "p99 us", "p999 us");
	for (unsigned i = 0; i < r->n; i++) {
		const struct bench_cell *c = &r->cell[i];

		for (int s = 0; s < SIDE_N; s++) {
			const struct bench_hist *h = &c->hist[s];

			if (!h->valid || c->skip[0])
				continue;
			fprintf(f,
				"%-14s %-11s %3u %-7s %-8s %9llu %9.1f %9.1f "
				"%9.1f %9.1f\n",
				c->xprt, bench_wls[c->wl].label, c->qd,
				bench_side_names[s], op_name(h->op),
				(unsigned long long)h->n, h->mean_us, h->p50_us,
				h->p99_us, h->p999_us);
		}
	}
}

void bench_print_table(FILE *f, const struct bench_results *r)
{
	bool dm = any_side(r, SIDE_DAEMON);
	static const int sides3[] = { SIDE_CLIENT, SIDE_DAEMON, SIDE_SERVER };
	char b[64];

	fprintf(f, "\n%-14s %-11s %3s %9s %8s %8s %8s |", "transport",
		"workload", "qd", "ops/s", "MB/s", "p50 us", "p99 us");
	fprintf(f, " %-*s | %-*s | %-*s | %s\n", dm ? 23 : 15, "syscalls/op",
		dm ? 35 : 23, "ctx switches/op vol/invol", dm ? 23 : 15,
		"CPU us/op", "copied B/op");
	fprintf(f, "%-14s %-11s %3s %9s %8s %8s %8s |", "", "", "", "", "", "",
		"");
	for (int g = 0; g < 3; g++) {
		for (int k = 0; k < 3; k++) {
			if (sides3[k] == SIDE_DAEMON && !dm)
				continue;
			fprintf(f, " %*s", g == 1 ? 11 : 7,
				bench_side_names[sides3[k]]);
		}
		fprintf(f, " |");
	}
	fprintf(f, " %9s %9s\n", "client", "server");

	for (unsigned i = 0; i < r->n; i++) {
		const struct bench_cell *c = &r->cell[i];
		unsigned run = c->skip[0] ? same_skip_run(r, i) : 0;

		if (run) {
			fprintf(f, "%-14s %s\n", c->xprt, c->skip);
			i += run - 1;
			continue;
		}
		fprintf(f, "%-14s %-11s %3u ", c->xprt, bench_wls[c->wl].label,
			c->qd);
		if (c->skip[0]) {
			fprintf(f, "%s\n", c->skip);
			continue;
		}
		fprintf(f, "%9.0f %8.1f %8.1f %8.1f |", c->ops_s, c->mb_s,
			c->p50_us, c->p99_us);
		for (int k = 0; k < 3; k++)
			if (sides3[k] != SIDE_DAEMON || dm)
				fprintf(f, " %7s",
					num(b, sizeof(b),
					    c->side[sides3[k]].sys, 2));
		fprintf(f, " |");
		for (int k = 0; k < 3; k++) {
			const struct bench_side_res *s = &c->side[sides3[k]];
			char v[32], iv[32], both[70];

			if (sides3[k] == SIDE_DAEMON && !dm)
				continue;
			snprintf(both, sizeof(both), "%s/%s",
				 num(v, sizeof(v), s->vcs, 2),
				 num(iv, sizeof(iv), s->ivcs, 2));
			fprintf(f, " %11s", s->valid ? both : "n/a");
		}
		fprintf(f, " |");
		for (int k = 0; k < 3; k++)
			if (sides3[k] != SIDE_DAEMON || dm)
				fprintf(f, " %7s",
					num(b, sizeof(b),
					    c->side[sides3[k]].cpu_us, 1));
		fprintf(f, " |");
		fprintf(f, " %9s",
			num(b, sizeof(b), c->side[SIDE_CLIENT].copy_b, 0));
		fprintf(f, " %9s\n",
			num(b, sizeof(b), c->side[SIDE_SERVER].copy_b, 0));
	}
	print_hists(f, r);
	fprintf(f,
		"\nsyscalls: exact kernel counts (perf raw_syscalls:"
		"sys_enter); client = the benchmark thread, server = every "
		"ringfsd thread.\ncopied: bytes the client transport copied in "
		"user space (rfs_xprt_get_stats); the server does not report "
		"copies (n/a).\n");
	for (unsigned i = 0; i < r->nnote; i++)
		fprintf(f, "note: %s\n", r->note[i]);
}

/* ---- JSON --------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (v < 0 || !isfinite(v))
		fprintf(f, "null");
	else
		fprintf(f, "%.6g", v);
}

/* close an output file, saying so when anything went wrong; 0 or -errno */
static int out_close(FILE *f, const char *path)
{
	int err = ferror(f) ? -EIO : 0;

	if (fclose(f) != 0 && !err)
		err = -errno;
	if (err)
		rfs_err("bench: writing %s: %s", path, strerror(-err));
	return err;
}

/* ", \"key\": " and the number */
static void json_kv(FILE *f, const char *key, double v)
{
	fprintf(f, ", \"%s\": ", key);
	json_num(f, v);
}

int bench_write_json(const char *path, const struct bench_opts *o,
		     const struct bench_results *r)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f) {
		err = -errno;
		rfs_err("bench: --json %s: %s", path, strerror(-err));
		return err;
	}
	fprintf(f, "{\n  \"tool\": \"ringfs-bench\",\n  \"duration_s\": ");
	json_num(f, o->ops ? -1 : o->duration);
	fprintf(f, ",\n  \"ops_per_cell\": %llu,\n  \"notes\": [",
		(unsigned long long)o->ops);
	for (unsigned i = 0; i < r->nnote; i++) {
		fprintf(f, "%s\n    ", i ? "," : "");
		json_str(f, r->note[i]);
	}
	fprintf(f, "],\n  \"results\": [");
	for (unsigned i = 0; i < r->n; i++) {
		const struct bench_cell *c = &r->cell[i];

		fprintf(f, "%s\n    {\"transport\": ", i ? "," : "");
		json_str(f, c->xprt);
		fprintf(f, ", \"workload\": \"%s\", \"qd\": %u",
			bench_wls[c->wl].name, c->qd);
		if (c->skip[0]) {
			fprintf(f, ", \"skipped\": ");
			json_str(f, c->skip);
			fprintf(f, "}");
			continue;
		}
		fprintf(f, ", \"ops\": %llu, \"seconds\": ",
			(unsigned long long)c->ops);
		json_num(f, c->secs);
		json_kv(f, "ops_per_s", c->ops_s);
		json_kv(f, "mb_per_s", c->mb_s);
		json_kv(f, "p50_us", c->p50_us);
		json_kv(f, "p99_us", c->p99_us);
		for (int s = 0; s < SIDE_N; s++) {
			const struct bench_side_res *sr = &c->side[s];

			if (!sr->valid)
				continue;
			fprintf(f, ",\n     \"%s\": {\"syscalls_per_op\": ",
				bench_side_names[s]);
			json_num(f, sr->sys);
			json_kv(f, "vol_ctxsw_per_op", sr->vcs);
			json_kv(f, "invol_ctxsw_per_op", sr->ivcs);
			json_kv(f, "cpu_us_per_op", sr->cpu_us);
			json_kv(f, "copied_bytes_per_op", sr->copy_b);
			json_kv(f, "xprt_reported_syscalls_per_op",
				sr->xprt_sys);
			fprintf(f, "}");
		}
		for (int s = 0; s < SIDE_N; s++) {
			const struct bench_hist *h = &c->hist[s];

			if (!h->valid)
				continue;
			fprintf(f,
				",\n     \"%s_histogram\": {\"op\": \"%s\", "
				"\"requests\": %llu",
				bench_side_names[s], op_name(h->op),
				(unsigned long long)h->n);
			json_kv(f, "mean_us", h->mean_us);
			json_kv(f, "p50_us", h->p50_us);
			json_kv(f, "p99_us", h->p99_us);
			json_kv(f, "p999_us", h->p999_us);
			fprintf(f, "}");
		}
		fprintf(f, "}");
	}
	fprintf(f, "\n  ]\n}\n");
	return out_close(f, path);
}

/* ---- SVG ---------------------------------------------------------------- */

#define SVG_BAR 16
#define SVG_GAP 18
#define SVG_PANEL_H 200
#define SVG_LEFT 56
#define SVG_TOP 70

static const char *const palette[] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
	"#76b7b2", "#b07aa1", "#edc948", "#9c755f",
};

/* distinct values of a field, in first-seen order */
struct keys {
	const char *xprt[BENCH_MAX_LIST];
	unsigned nx;
	unsigned qd[BENCH_MAX_LIST];
	unsigned nq;
};

static void collect(const struct bench_results *r, struct keys *k)
{
	memset(k, 0, sizeof(*k));
	for (unsigned i = 0; i < r->n; i++) {
		const struct bench_cell *c = &r->cell[i];
		unsigned j;

		if (c->skip[0])
			continue;
		for (j = 0; j < k->nx && strcmp(k->xprt[j], c->xprt); j++)
			;
		if (j == k->nx && k->nx < BENCH_MAX_LIST)
			k->xprt[k->nx++] = c->xprt;
		for (j = 0; j < k->nq && k->qd[j] != c->qd; j++)
			;
		if (j == k->nq && k->nq < BENCH_MAX_LIST)
			k->qd[k->nq++] = c->qd;
	}
}

static const struct bench_cell *find(const struct bench_results *r,
				     const char *x, int wl, unsigned qd)
{
	for (unsigned i = 0; i < r->n; i++) {
		const struct bench_cell *c = &r->cell[i];

		if (!c->skip[0] && c->wl == wl && c->qd == qd &&
		    !strcmp(c->xprt, x))
			return c;
	}
	return NULL;
}

static double sys_total(const struct bench_cell *c)
{
	double t = 0;

	for (int s = 0; s < SIDE_N; s++)
		if (c->side[s].valid && c->side[s].sys > 0)
			t += c->side[s].sys;
	return t;
}

/* a round axis maximum >= v: 1, 2, 5 times a power of ten */
static double nice_max(double v)
{
	double p;

	if (!(v > 0))
		return 1;
	p = pow(10, floor(log10(v)));
	if (v <= p)
		return p;
	if (v <= 2 * p)
		return 2 * p;
	if (v <= 5 * p)
		return 5 * p;
	return 10 * p;
}

/* the y and x axis lines of a w x h panel whose origin is x0, y0 */
static void axis_lines(FILE *f, double x0, double y0, double w, double h)
{
	fprintf(f,
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		"stroke=\"#333\"/>\n",
		x0, y0, x0, y0 - h);
	fprintf(f,
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		"stroke=\"#333\"/>\n",
		x0, y0, x0 + w, y0);
}

/* a grid line across the panel at height y, labelled v */
static void axis_tick(FILE *f, double x0, double y, double w, double v)
{
	fprintf(f,
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		"y2=\"%.1f\" stroke=\"#ddd\"/>\n",
		x0 + 1, y, x0 + w, y);
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
		"font-size=\"10\">%g</text>\n",
		x0 - 4, y + 3, v);
}

/* the y axis' title, turned along it */
static void axis_label(FILE *f, double x0, double y0, double h,
		       const char *label)
{
	fprintf(f,
		"<text transform=\"translate(%.1f,%.1f) rotate(-90)\" "
		"text-anchor=\"middle\" font-size=\"11\">%s</text>\n",
		x0 - 40, y0 - h / 2, label);
}

static void axis(FILE *f, double x0, double y0, double w, double h, double max,
		 const char *label)
{
	axis_lines(f, x0, y0, w, h);
	for (int t = 0; t <= 4; t++) {
		double y = y0 - h * t / 4.0, v = max * t / 4.0;

		axis_tick(f, x0, y, w, v);
	}
	axis_label(f, x0, y0, h, label);
}

/* a log10 axis from lo to hi (powers of ten), one tick per decade */
static void log_axis(FILE *f, double x0, double y0, double w, double h,
		     double lo, double hi, const char *label)
{
	int d0 = (int)lround(log10(lo)), d1 = (int)lround(log10(hi));

	axis_lines(f, x0, y0, w, h);
	for (int d = d0; d <= d1; d++) {
		double y = y0 - h * (d - d0) / (double)(d1 - d0);

		axis_tick(f, x0, y, w, pow(10, d));
	}
	axis_label(f, x0, y0, h, label);
}

static void bar(FILE *f, double x, double y0, double h, const char *col,
		double opacity, const char *tip)
{
	if (h <= 0)
		return;
	fprintf(f,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.2f\" "
		"fill=\"%s\" fill-opacity=\"%.2f\" stroke=\"%s\" "
		"stroke-width=\"0.5\"><title>%s</title></rect>\n",
		x, y0 - h, SVG_BAR, h, col, opacity, col, tip);
}

/* the histogram a whisker shows: the client daemon's, else the server's */
static const struct bench_hist *whisker_of(const struct bench_cell *c,
					   int *side)
{
	*side = c->hist[SIDE_DAEMON].valid ? SIDE_DAEMON : SIDE_SERVER;
	return c->hist[*side].valid ? &c->hist[*side] : NULL;
}

/* a whisker from p50 to p999 with a tick at p99, on the log axis */
static void whisker(FILE *f, double x, double y0, double lmin, double lmax,
		    const struct bench_hist *h, const char *tip)
{
	double span = log10(lmax / lmin), ys[3];
	const double v[3] = { h->p50_us, h->p99_us, h->p999_us };

	for (int i = 0; i < 3; i++)
		ys[i] = y0 - (v[i] > lmin ? log10(v[i] / lmin) / span : 0) *
				     SVG_PANEL_H;
	fprintf(f,
		"<g stroke=\"#222\" stroke-width=\"1.2\"><title>%s</title>"
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"white\"/>"
		"</g>\n",
		tip, x, ys[0], x, ys[2], x - 3, ys[1], x + 3, ys[1], x, ys[0]);
}

int bench_write_svg(const char *path, const struct bench_results *r)
{
	static const double side_op[SIDE_N] = { 1.0, 0.65, 0.3 };
	FILE *f = fopen(path, "w");
	struct keys k;
	double x = 0, pw, width = 0, height;
	int nwl = 0, err = 0;

	if (!f) {
		err = -errno;
		rfs_err("bench: --svg %s: %s", path, strerror(-err));
		return err;
	}
	collect(r, &k);
	pw = SVG_LEFT + k.nq * (k.nx * SVG_BAR + SVG_GAP) + 20;
	for (int w = 0; w < WL_N; w++)
		for (unsigned q = 0; q < k.nq; q++)
			for (unsigned t = 0; t < k.nx; t++)
				if (find(r, k.xprt[t], w, k.qd[q])) {
					nwl++;
					q = k.nq;
					break;
				}
	width = nwl * pw + 20;
	if (width < 520)
		width = 520;
	height = SVG_TOP + 2 * (SVG_PANEL_H + 60) + 40;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
		"height=\"%.0f\" font-family=\"sans-serif\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		width, height);
	fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"15\" "
		   "font-weight=\"bold\">ringfs-bench: ring crossings per "
		   "operation</text>\n");
	/* legend: transports, then the shading of the sides */
	for (unsigned t = 0; t < k.nx; t++) {
		double lx = 10 + t * 110;

		fprintf(f,
			"<rect x=\"%.0f\" y=\"32\" width=\"12\" "
			"height=\"12\" fill=\"%s\"/><text x=\"%.0f\" y=\"42\" "
			"font-size=\"11\">%s</text>\n",
			lx, palette[t % 8], lx + 16, k.xprt[t]);
	}
	for (int s = 0; s < SIDE_N; s++) {
		double lx = 10 + s * 110;

		fprintf(f,
			"<rect x=\"%.0f\" y=\"50\" width=\"12\" "
			"height=\"12\" fill=\"#555\" fill-opacity=\"%.2f\"/>"
			"<text x=\"%.0f\" y=\"60\" font-size=\"11\">%s "
			"syscalls</text>\n",
			lx, side_op[s], lx + 16, bench_side_names[s]);
	}

	for (int w = 0; w < WL_N; w++) {
		double smax = 0, lmax = 0, lmin = 1e30, y1, y2;
		bool any = false;

		for (unsigned q = 0; q < k.nq; q++)
			for (unsigned t = 0; t < k.nx; t++) {
				const struct bench_cell *c =
					find(r, k.xprt[t], w, k.qd[q]);

				if (!c)
					continue;
				any = true;
				smax = fmax(smax, sys_total(c));
				lmax = fmax(lmax, c->p50_us);
				{
					int hs;
					const struct bench_hist *h =
						whisker_of(c, &hs);

					if (h)
						lmax = fmax(lmax, h->p999_us);
					if (h && h->p50_us > 0)
						lmin = fmin(lmin, h->p50_us);
				}
				if (c->p50_us > 0)
					lmin = fmin(lmin, c->p50_us);
			}
		if (!any)
			continue;
		smax = nice_max(smax);
		/* latency spans decades (QD1 vs QD32): a log scale */
		if (lmin > lmax)
			lmin = lmax = 1;
		lmin = pow(10, floor(log10(lmin)));
		lmax = pow(10, ceil(log10(lmax)));
		if (lmax <= lmin)
			lmax = lmin * 10;
		y1 = SVG_TOP + 20 + SVG_PANEL_H;
		y2 = y1 + 60 + SVG_PANEL_H;
		fprintf(f,
			"<text x=\"%.1f\" y=\"%d\" font-size=\"13\" "
			"font-weight=\"bold\" text-anchor=\"middle\">%s</text>\n",
			x + SVG_LEFT + (pw - SVG_LEFT) / 2, SVG_TOP + 12,
			bench_wls[w].label);
		axis(f, x + SVG_LEFT, y1, pw - SVG_LEFT - 10, SVG_PANEL_H, smax,
		     "syscalls / op");
		log_axis(f, x + SVG_LEFT, y2, pw - SVG_LEFT - 10, SVG_PANEL_H,
			 lmin, lmax, "p50 latency (us, log)");
		for (unsigned q = 0; q < k.nq; q++) {
			double gx = x + SVG_LEFT + 8 +
				    q * (k.nx * SVG_BAR + SVG_GAP);

			for (int yb = 0; yb < 2; yb++)
				fprintf(f,
					"<text x=\"%.1f\" y=\"%.1f\" "
					"font-size=\"10\" text-anchor=\"middle"
					"\">QD%u</text>\n",
					gx + k.nx * SVG_BAR / 2.0,
					(yb ? y2 : y1) + 13, k.qd[q]);
			for (unsigned t = 0; t < k.nx; t++) {
				const struct bench_cell *c =
					find(r, k.xprt[t], w, k.qd[q]);
				double bx = gx + t * SVG_BAR, base = y1;
				char tip[160];

				if (!c)
					continue;
				for (int s = 0; s < SIDE_N; s++) {
					const struct bench_side_res *sr =
						&c->side[s];
					double h;

					if (!sr->valid || sr->sys <= 0)
						continue;
					h = sr->sys / smax * SVG_PANEL_H;
					snprintf(tip, sizeof(tip),
						 "%s %s QD%u: %s %.2f "
						 "syscalls/op",
						 c->xprt, bench_wls[w].name,
						 c->qd, bench_side_names[s],
						 sr->sys);
					bar(f, bx, base, h, palette[t % 8],
					    side_op[s], tip);
					base -= h;
				}
				snprintf(tip, sizeof(tip),
					 "%s %s QD%u: p50 "
					 "%.1f us, p99 %.1f us",
					 c->xprt, bench_wls[w].name, c->qd,
					 c->p50_us, c->p99_us);
				if (c->p50_us > lmin)
					bar(f, bx, y2,
					    log10(c->p50_us / lmin) /
						    log10(lmax / lmin) *
						    SVG_PANEL_H,
					    palette[t % 8], 1.0, tip);
				{
					int hs;
					const struct bench_hist *h =
						whisker_of(c, &hs);

					if (!h)
						continue;
					snprintf(
						tip, sizeof(tip),
						"%s %s QD%u: %s's own %s "
						"p50/p99/p999 %.1f/%.1f/%.1f us",
						c->xprt, bench_wls[w].name,
						c->qd, bench_side_names[hs],
						op_name(h->op), h->p50_us,
						h->p99_us, h->p999_us);
					whisker(f, bx + SVG_BAR / 2.0, y2, lmin,
						lmax, h, tip);
				}
			}
		}
		x += pw;
	}
	fprintf(f,
		"<text x=\"10\" y=\"%.0f\" font-size=\"10\" fill=\"#555\">"
		"syscalls counted exactly by the kernel (perf raw_syscalls:"
		"sys_enter); bars stack client, daemon (mount only) and "
		"server.  Whiskers: the op's p50 (dot), p99 (tick) and p999 "
		"as the client daemon (mount) or ringfsd measured it, from "
		"its log2 histogram.</text>\n</svg>\n",
		height - 12);
	return out_close(f, path);
}
