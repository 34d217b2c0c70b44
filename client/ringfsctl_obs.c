// SPDX-License-Identifier: MIT
/*
 * ringfsctl conns, and stats of the daemons on this host: the ss -ti and
 * ethtool -S of ringfs.  Each daemon keeps its counters in a file in the
 * runtime directory (common/obs.h):
 *
 *   <rundir>/ringfsd-<pid>.stats   a server
 *   <rundir>/client-<pid>.stats    a client (one per mount)
 *
 * ringfsctl maps it read-only and formats it itself, so a daemon that is
 * stopped or wedged still shows its counters; --socket asks the daemon's
 * control socket instead (the same output, formatted by the daemon).
 *
 * TARGET: none (every daemon here; one whose file this ringfsctl cannot
 * read is said on stderr and left out), a mount point (as mounted: matched
 * without touching the mount, which may be wedged), "ringfsd" (every
 * server here), "ringfsd:PID", or a control socket / counters file path.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlsock.h"
#include "obs.h"
#include "optab.h"
#include "ringfsctl_i.h"

#define MAX_DAEMONS 512
#define SOCK_TIMEOUT_MS 5000

struct daemon {
	char stats[4200]; /* counters file, "" when unknown */
	char sock[4200];  /* control socket */
	pid_t pid;
	bool server;
	const struct rfs_obs_hdr *h; /* mapped */
	size_t len;
};

static struct daemon ds[MAX_DAEMONS];
static unsigned nds;

static const char *opname(unsigned op)
{
	const struct rfs_opinfo *i = rfs_op_info(op);

	return i && i->name ? i->name : NULL;
}

static bool alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

static void add(const char *dir, const char *name, bool server, pid_t pid)
{
	struct daemon *d;

	if (nds == MAX_DAEMONS)
		return;
	for (unsigned i = 0; i < nds; i++)
		if (ds[i].pid == pid && ds[i].server == server)
			return; /* the same directory twice */
	d = &ds[nds++];
	memset(d, 0, sizeof(*d));
	snprintf(d->stats, sizeof(d->stats), "%s/%s", dir, name);
	snprintf(d->sock, sizeof(d->sock), "%s/%s-%d.sock", dir,
		 server ? "ringfsd" : "client", (int)pid);
	d->pid = pid;
	d->server = server;
}

/* every live daemon's counters file in dir */
static void scan(const char *dir)
{
	struct dirent *de;
	DIR *dh = opendir(dir);

	if (!dh)
		return;
	while ((de = readdir(dh))) {
		const char *n = de->d_name;
		bool server = !strncmp(n, "ringfsd-", 8);
		char *end;
		long pid;

		if (!server && strncmp(n, "client-", 7))
			continue;
		pid = strtol(n + (server ? 8 : 7), &end, 10);
		if (pid <= 0 || strcmp(end, ".stats") || !alive((pid_t)pid))
			continue;
		add(dir, n, server, (pid_t)pid);
	}
	closedir(dh);
}

static void scan_all(void)
{
	char dir[4096];

	scan("/run/ringfs");
	if (rfs_run_dir(dir, sizeof(dir)) && strcmp(dir, "/run/ringfs"))
		scan(dir);
}

/* path made absolute and normalised without looking at the filesystem */
static int lexical_abs(const char *in, char *out, size_t n)
{
	char buf[8192], cwd[4096], *save = NULL, *tok;
	size_t len = 0;

	if (in[0] == '/') {
		snprintf(buf, sizeof(buf), "%s", in);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		snprintf(buf, sizeof(buf), "%s/%s", cwd, in);
	}
	out[0] = '\0';
	for (tok = strtok_r(buf, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			char *s = strrchr(out, '/');

			if (s)
				*s = '\0';
			len = strlen(out);
			continue;
		}
		if (len + 1 + strlen(tok) + 1 > n)
			return -ENAMETOOLONG;
		out[len++] = '/';
		strcpy(out + len, tok);
		len += strlen(tok);
	}
	if (!out[0])
		snprintf(out, n, "/");
	return 0;
}

static int map_one(struct daemon *d)
{
	int ret;

	if (d->h)
		return 0;
	ret = rfs_obs_map(d->stats, &d->h, &d->len);
	if (ret == -EPROTO)
		ctl_err("%s: not a counters file this ringfsctl can read (its "
			"layout differs: a daemon of another ringfs build?)",
			d->stats);
	else if (ret)
		ctl_err("reading %s: %s", d->stats, strerror(-ret));
	return ret;
}

/*
 * The daemons TARGET names, into ds[0..nds); returns 0 or an exit
 * status.  *via_sock: the target is a control socket only.
 */
static int resolve(const char *target, bool *via_sock)
{
	char want[4096];
	size_t tl;
	unsigned keep = 0;

	*via_sock = false;
	if (target && (tl = strlen(target)) > 5 &&
	    (!strcmp(target + tl - 5, ".sock") ||
	     (tl > 6 && !strcmp(target + tl - 6, ".stats")))) {
		struct daemon *d = &ds[0];

		memset(d, 0, sizeof(*d));
		nds = 1;
		if (!strcmp(target + tl - 5, ".sock")) {
			snprintf(d->sock, sizeof(d->sock), "%s", target);
			*via_sock = true;
		} else {
			snprintf(d->stats, sizeof(d->stats), "%s", target);
		}
		return 0;
	}
	scan_all();
	if (!target)
		return 0;
	if (!strcmp(target, "ringfsd") || !strncmp(target, "ringfsd:", 8)) {
		long pid = 0;

		if (target[7] == ':') {
			char *end;

			pid = strtol(target + 8, &end, 10);
			if (pid <= 0 || *end) {
				ctl_err("'%s': expected ringfsd:PID", target);
				return CTL_EXIT_USAGE;
			}
		}
		for (unsigned i = 0; i < nds; i++)
			if (ds[i].server && (!pid || ds[i].pid == pid))
				ds[keep++] = ds[i];
		nds = keep;
		if (!nds) {
			ctl_err("%s: no such ringfsd on this host (no live "
				"ringfsd-%s.stats in /run/ringfs or "
				"$XDG_RUNTIME_DIR/ringfs)",
				target, pid ? target + 8 : "PID");
			return CTL_EXIT_FAIL;
		}
		return 0;
	}
	if (lexical_abs(target, want, sizeof(want))) {
		ctl_err("%s: path too long", target);
		return CTL_EXIT_USAGE;
	}
	for (unsigned i = 0; i < nds; i++) {
		char what[sizeof(ds[i].h->what) + 1];

		if (ds[i].server || map_one(&ds[i]))
			continue;
		snprintf(what, sizeof(what), "%.*s", (int)sizeof(ds[i].h->what),
			 ds[i].h->what);
		if (!strcmp(what, want)) {
			struct daemon t = ds[i];

			ds[i] = ds[keep];
			ds[keep++] = t;
		}
	}
	for (unsigned i = keep; i < nds; i++)
		rfs_obs_unmap(ds[i].h, ds[i].len);
	nds = keep;
	if (!nds) {
		ctl_err("%s: not a ringfs mount of a running client (see "
			"ringfsctl mounts; give the mount point as mounted)",
			want);
		return CTL_EXIT_FAIL;
	}
	return 0;
}

static void usage(FILE *f, bool stats)
{
	if (stats)
		fprintf(f,
			"usage: ringfsctl stats [TARGET] [--json|--prometheus] "
			"[--socket]\n");
	else
		fprintf(f, "usage: ringfsctl conns [TARGET] [--json] "
			   "[--socket]\n");
	fprintf(f, "TARGET: a mount point, ringfsd, ringfsd:PID, a control "
		   "socket (.sock) or\ncounters file (.stats); none: every "
		   "ringfs daemon on this host.\n");
}

enum {
	OPT_JSON = 0x100,
	OPT_PROM,
	OPT_SOCKET
};

int rfs_ctl_obs(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "prometheus", no_argument, NULL, OPT_PROM },
		{ "socket", no_argument, NULL, OPT_SOCKET },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool stats = !strcmp(argv[1], "stats"), sock = false, only_sock;
	enum rfs_obs_fmt f = RFS_OBS_FMT_TEXT;
	const struct rfs_obs_hdr *hs[MAX_DAEMONS];
	struct rfs_ctl_out out = { 0 };
	const char *target = NULL;
	int c, ret = CTL_EXIT_OK;
	unsigned nh = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "h", lo, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			f = RFS_OBS_FMT_JSON;
			break;
		case OPT_PROM:
			if (!stats) {
				ctl_err("conns: --prometheus is an option of "
					"stats");
				return CTL_EXIT_USAGE;
			}
			f = RFS_OBS_FMT_PROM;
			break;
		case OPT_SOCKET:
			sock = true;
			break;
		case 'h':
			usage(stdout, stats);
			return CTL_EXIT_OK;
		default:
			ctl_err("%s: unknown option '%s' (see --help)", argv[1],
				argv[optind]);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind < argc - 1)
		target = argv[1 + optind];
	if (optind + 1 < argc - 1) {
		ctl_err("%s: unexpected argument '%s'", argv[1],
			argv[2 + optind]);
		return CTL_EXIT_USAGE;
	}
	ret = resolve(target, &only_sock);
	if (ret)
		return ret;
	if (only_sock || sock) {
		char *av[3] = { argv[1], NULL, NULL };
		int ac = 1;

		if (f == RFS_OBS_FMT_JSON)
			av[ac++] = "--json";
		else if (f == RFS_OBS_FMT_PROM)
			av[ac++] = "--prometheus";
		if (nds > 1 && f != RFS_OBS_FMT_TEXT) {
			ctl_err("%s --socket: name one daemon for --json or "
				"--prometheus (several are running)",
				argv[1]);
			return CTL_EXIT_USAGE;
		}
		for (unsigned i = 0; i < nds; i++) {
			char *body = NULL;
			size_t len;
			int st, rc;

			rc = rfs_ctl_call(ds[i].sock, ac, av, SOCK_TIMEOUT_MS,
					  &st, &body, &len);
			if (rc) {
				ctl_err("%s: %s%s", ds[i].sock, strerror(-rc),
					rc == -ETIMEDOUT ?
						" (the daemon does not answer: "
						"read its counters file "
						"without --socket)" :
						"");
				ret = CTL_EXIT_FAIL;
				continue;
			}
			if (st) {
				ctl_err("%s: %s", ds[i].sock, body);
				ret = CTL_EXIT_FAIL;
			} else {
				fwrite(body, 1, len, stdout);
			}
			free(body);
		}
		return ret;
	}
	/*
	 * Every daemon (no TARGET): one that cannot be read (another ringfs
	 * build still running after an upgrade) is said and skipped, so the
	 * rest still reaches, say, the textfile collector; a daemon named
	 * on the command line must be read.
	 */
	for (unsigned i = 0; i < nds; i++)
		if (!map_one(&ds[i]))
			hs[nh++] = ds[i].h;
		else if (target)
			ret = CTL_EXIT_FAIL;
	if (f == RFS_OBS_FMT_PROM) {
		rfs_obs_fmt_prom(hs, nh, opname, &out);
	} else {
		bool list = !target && f == RFS_OBS_FMT_JSON;

		if (list)
			rfs_ctl_printf(&out, "[");
		for (unsigned i = 0; i < nh; i++) {
			if (list && i)
				rfs_ctl_printf(&out, ",");
			if (f == RFS_OBS_FMT_TEXT && nh > 1)
				rfs_ctl_printf(
					&out, "%s== %s pid %d: %.256s ==\n",
					i ? "\n" : "",
					hs[i]->side == RFS_OBS_SIDE_SERVER ?
						"ringfsd" :
						"client",
					(int)hs[i]->pid, hs[i]->what);
			if (stats)
				rfs_obs_fmt_stats(hs[i], f, opname, &out);
			else
				rfs_obs_fmt_conns(hs[i], f, &out);
		}
		if (list)
			rfs_ctl_printf(&out, "]\n");
		if (!nh && f == RFS_OBS_FMT_TEXT && !target)
			rfs_ctl_printf(&out, "(no ringfs daemon of this "
					     "host to show)\n");
	}
	if (out.oom) {
		ctl_err("%s: out of memory", argv[1]);
		ret = CTL_EXIT_FAIL;
	} else if (out.len) {
		fwrite(out.buf, 1, out.len, stdout);
	}
	free(out.buf);
	for (unsigned i = 0; i < nds; i++)
		rfs_obs_unmap(ds[i].h, ds[i].len);
	return ret;
}

bool rfs_ctl_obs_local(int argc, char **argv)
{
	static const char *const valued[] = { "-t", "--transport",
					      "-e", "--export",
					      "-k", "--key-file",
					      "-W", "--timeout" };
	const char *pos = NULL;
	bool export = false;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		bool takes = false;

		if (!strcmp(a, "--prometheus") || !strcmp(a, "--socket"))
			return true;
		for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if (!strcmp(a, valued[k]))
				takes = true;
		if (!strcmp(a, "-e") || !strcmp(a, "--export") ||
		    !strncmp(a, "--export=", 9))
			export = true;
		if (takes) {
			i++;
			continue;
		}
		if (a[0] != '-' && !pos)
			pos = a;
	}
	if (!pos)
		return !export;
	/* a SERVER has a ':' (HOST:/EXPORT), or comes with --export */
	return pos[0] == '/' || pos[0] == '.' || !strcmp(pos, "ringfsd") ||
	       !strncmp(pos, "ringfsd:", 8) || (!export && !strchr(pos, ':'));
}

int rfs_ctl_target_socket(const char *target, char *out, size_t n)
{
	bool only_sock;
	int ret;

	if (!target || !*target) {
		ctl_err("which daemon? (a mount point, ringfsd, ringfsd:PID or "
			"a control socket)");
		return CTL_EXIT_USAGE;
	}
	ret = resolve(target, &only_sock);
	if (!ret && nds != 1) {
		ctl_err("%s: %u daemons match; name one (ringfsd:PID, or its "
			"control socket)",
			target, nds);
		ret = CTL_EXIT_USAGE;
	}
	if (!ret && (size_t)snprintf(out, n, "%s", ds[0].sock) >= n) {
		ctl_err("%s: control socket path too long", target);
		ret = CTL_EXIT_USAGE;
	}
	for (unsigned i = 0; i < nds; i++)
		rfs_obs_unmap(ds[i].h, ds[i].len);
	nds = 0;
	return ret;
}

/*
 * The control socket of the one daemon TARGET names, for ringfsctl
 * capture: what resolve() takes, and also a server's TCP port
 * ([HOST:]PORT[:/EXPORT], matched against the address it listens on).
 * Returns 0 or an exit status (after saying why).
 */
int rfs_ctl_obs_sock(const char *target, char *sock, size_t n)
{
	char spec[256], *colon, *p, *end;
	long port = -1;

	snprintf(spec, sizeof(spec), "%s", target);
	p = strstr(spec, ":/");
	if (p)
		*p = '\0';
	colon = strrchr(spec, ':');
	p = colon ? colon + 1 : spec;
	if (spec[0] != '/' && strncmp(spec, "ringfsd", 7) && *p >= '0' &&
	    *p <= '9') {
		port = strtol(p, &end, 10);
		if (*end || port <= 0 || port > 65535)
			port = -1;
	}
	if (port > 0) {
		unsigned keep = 0;

		scan_all();
		for (unsigned i = 0; i < nds; i++) {
			char what[sizeof(ds[i].h->what) + 1], pat[16];
			const char *w;

			if (!ds[i].server || map_one(&ds[i]))
				continue;
			snprintf(what, sizeof(what), "%.*s",
				 (int)sizeof(ds[i].h->what), ds[i].h->what);
			snprintf(pat, sizeof(pat), ":%ld", port);
			w = strstr(what, pat);
			if (w &&
			    (w[strlen(pat)] == '\0' || w[strlen(pat)] == ' '))
				ds[keep++] = ds[i];
		}
		nds = keep;
		if (!nds) {
			ctl_err("%s: no ringfsd listening on port %ld on this "
				"host (capture attaches to local daemons only)",
				target, port);
			return CTL_EXIT_FAIL;
		}
	} else {
		return rfs_ctl_target_socket(target, sock, n);
	}
	if (nds != 1) {
		ctl_err("%s: %u daemons match; name one (ringfsd:PID, a mount "
			"point, or a control socket)",
			target, nds);
		return CTL_EXIT_USAGE;
	}
	snprintf(sock, n, "%s", ds[0].sock);
	return 0;
}
