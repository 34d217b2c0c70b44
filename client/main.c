// SPDX-License-Identifier: MIT
/*
 * ringfs: mount a ringfsd export with FUSE.
 *
 *   ringfs SERVER:PORT:/EXPORT MOUNTPOINT [-o OPTIONS] [-f] [-d] [-h] [-V]
 *
 * Order, as sshfs does it: everything that can fail for a reason the user
 * should read (syntax, mount point, server unreachable, unknown export)
 * is checked while still attached to the terminal; then mount, then
 * daemonize, then the event loops connect for real (loop 0 HELLO, the
 * others ATTACH).  The probe connection is closed before the fork so that
 * no transport state (io_uring rings, registered buffers) crosses it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "client_i.h"
#include "groups.h"
#include "harden.h"
#include "log.h"
#include "loop_i.h"
#include "status.h"
#include "tls.h"

#define DEFAULT_PORT 7070

struct rfs_client *rfs_cl;
static struct rfs_client client;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringfs SERVER:PORT:/EXPORT MOUNTPOINT [-o OPTIONS] [-f] [-d]\n"
		"\n"
		"  -f                 stay in the foreground\n"
		"  -d                 debug: libfuse request trace (implies -f)\n"
		"  -h, --help         this help\n"
		"  -V, --version      version and transports built\n"
		"\n"
		"ringfs options (-o, comma separated, may be repeated):\n"
		"  transport=NAME     data path: auto (default), uring, tcp, shm, rdma\n"
		"                     (built: %s); auto picks shm when the server is on\n"
		"                     this host, rdma when both ends have a device, else\n"
		"                     uring\n"
		"  sqpoll             uring: kernel submission polling thread\n"
		"  csum | nocsum      XXH3 checksum of every frame (default csum)\n"
		"  loops=N            event-loop threads (default: online CPUs, max %d)\n"
		"  attr_timeout=S     attribute cache timeout in seconds (default 1.0)\n"
		"  entry_timeout=S    name cache timeout in seconds (default 1.0)\n"
		"  negative_timeout=S cache \"no such name\" for S seconds (default:\n"
		"                     entry_timeout; 0: ask the server every time)\n"
		"  kernel_cache       keep the page cache across opens\n"
		"  writeback_cache    kernel write-back caching\n"
		"  direct_io          bypass the page cache\n"
		"  noreaddirplus      plain readdir (no attributes with listings)\n"
		"  fuse_ring=auto|off FUSE over io_uring where the kernel offers it\n"
		"                     (Linux >= 6.14, fuse enable_uring=Y; default\n"
		"                     auto), else /dev/fuse\n"
		"  passthrough=auto|off  shm: the kernel reads and writes the\n"
		"                     server's files itself (FUSE passthrough, Linux\n"
		"                     >= 6.9, CAP_SYS_ADMIN; default auto)\n"
		"  max_write=BYTES    largest write request (default and max 1 MiB)\n"
		"  connect_timeout=S  seconds to wait for the server (default 10)\n"
		"  key_file=FILE      authenticate with the shared secret in FILE (mode\n"
		"                     0600; the server's ringfsd --key-file)\n"
		"  tls                TLS 1.3 on tcp and uring: a PSK derived from\n"
		"                     key_file, else the server's certificate checked\n"
		"                     against tls_ca (kernel TLS when the kernel has it)\n"
		"  tls_ca=FILE        CA certificates (PEM) for the server's certificate\n"
		"                     (implies tls)\n"
		"  hard               (default) when the server is gone, reconnect and\n"
		"                     wait for it; Ctrl-C ends a waiting call (EINTR)\n"
		"  soft               fail requests with EIO after timeo seconds\n"
		"  timeo=S            soft mounts: seconds before EIO (default 30)\n"
		"  rootfs             serve the root filesystem from the initramfs: run\n"
		"                     as @ringfs (spared at shutdown), numeric server\n"
		"                     address, logs to /dev/kmsg, memory locked,\n"
		"                     PR_SET_IO_FLUSHER, oom_score_adj -1000, the\n"
		"                     root directory's cache kept for good; implies\n"
		"                     allow_other,suid,dev\n"
		"  groups_ttl=MS      reuse a caller's supplementary groups (read\n"
		"                     from /proc) for MS ms (default 1000; 0: read\n"
		"                     them for every request)\n"
		"  harden             daemon fit to serve swap or a root: mlockall,\n"
		"                     PR_SET_IO_FLUSHER, oom_score_adj -1000, buffers\n"
		"                     preallocated; needs root (ringfs(8))\n"
		"  harden=onfault     the same, locking pages as first touched\n"
		"  swap               for a swap file on the mount (ringfs-swap(8)):\n"
		"                     harden, and refuse soft\n"
		"\n"
		"  server_permissions      with allow_other, leave permission checks to the\n"
		"                          server alone (default: default_permissions too)\n"
		"FUSE options passed to the kernel: allow_other, default_permissions,\n"
		"  ro, rw, fsname=, subtype=, nodev, nosuid, dev, suid, exec, noexec,\n"
		"  atime, noatime, sync, async, dirsync, auto_unmount, ...\n"
		"Ignored (for mount(8) and fstab): _netdev, auto, noauto, user, users,\n"
		"  nofail, defaults, x-*\n",
		rfs_xprt_built(), CL_MAX_LOOPS);
}

/* ---- option parsing --------------------------------------------------- */

static const char *const ignored_opts[] = {
	"_netdev",  "auto",   "noauto", "user",	 "users",   "nofail",
	"defaults", "nouser", "owner",	"group", "comment", NULL,
};

/* passed to libfuse as they are */
static const char *const fuse_flags[] = {
	"allow_other", "allow_root",   "default_permissions",
	"rw",	       "nodev",	       "nosuid",
	"dev",	       "suid",	       "exec",
	"noexec",      "atime",	       "noatime",
	"nodiratime",  "diratime",     "relatime",
	"norelatime",  "strictatime",  "lazytime",
	"nolazytime",  "sync",	       "async",
	"dirsync",     "auto_unmount", "blkdev",
	"silent",      NULL,
};

static const char *const fuse_keys[] = {
	"fsname=",    "subtype=",    "max_read=",    "blksize=", "context=",
	"fscontext=", "defcontext=", "rootcontext=", NULL,
};

static bool in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (!strcmp(*l, s))
			return true;
	return false;
}

static bool prefix_in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (!strncmp(*l, s, strlen(*l)))
			return true;
	return false;
}

static int parse_double(const char *opt, const char *v, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || d < 0) {
		fprintf(stderr, "ringfs: bad value in option '%s'\n", opt);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

/* "auto" or "off": CL_FRING_* and CL_PT_* share the values */
static int parse_auto_off(const char *opt, const char *v, int *out)
{
	if (!strcmp(v, "auto")) {
		*out = 0;
	} else if (!strcmp(v, "off")) {
		*out = 1;
	} else {
		fprintf(stderr,
			"ringfs: bad value in option '%s' (auto or off)\n",
			opt);
		return -EINVAL;
	}
	return 0;
}

static int parse_ulong(const char *opt, const char *v, unsigned long min,
		       unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 0);
	if (errno || end == v || *end || n < min || n > max) {
		fprintf(stderr, "ringfs: bad value in option '%s' (%lu..%lu)\n",
			opt, min, max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

static int add_fuse_opt(struct cl_opts *o, const char *opt)
{
	size_t used = strlen(o->fuse_opts);
	int n;

	n = snprintf(o->fuse_opts + used, sizeof(o->fuse_opts) - used, "%s%s",
		     used ? "," : "", opt);
	if (n < 0 || (size_t)n >= sizeof(o->fuse_opts) - used) {
		fprintf(stderr, "ringfs: too many options\n");
		return -E2BIG;
	}
	return 0;
}

static int parse_one(struct cl_opts *o, char *opt, bool *fsname, bool *subtype)
{
	char *eq = strchr(opt, '=');
	const char *val = eq ? eq + 1 : NULL;
	unsigned long n;
	double d;
	int ret = 0;

	if (!*opt)
		return 0;
	if (in_list(ignored_opts, opt) || !strncmp(opt, "x-", 2) ||
	    !strncmp(opt, "comment=", 8))
		return 0;
	if (val && !strncmp(opt, "transport=", 10)) {
		if (strlen(val) >= sizeof(o->transport) || !*val) {
			fprintf(stderr, "ringfs: bad transport '%s'\n", val);
			return -EINVAL;
		}
		strcpy(o->transport, val);
	} else if (!strcmp(opt, "sqpoll")) {
		o->sqpoll = true;
	} else if (!strcmp(opt, "csum")) {
		o->csum = true;
	} else if (!strcmp(opt, "nocsum")) {
		o->csum = false;
	} else if (val && !strncmp(opt, "loops=", 6)) {
		ret = parse_ulong(opt, val, 1, CL_MAX_LOOPS, &n);
		o->loops = (unsigned)n;
	} else if (val && !strncmp(opt, "attr_timeout=", 13)) {
		ret = parse_double(opt, val, &o->attr_timeout);
	} else if (val && !strncmp(opt, "entry_timeout=", 14)) {
		ret = parse_double(opt, val, &o->entry_timeout);
	} else if (val && !strncmp(opt, "negative_timeout=", 17)) {
		ret = parse_double(opt, val, &o->negative_timeout);
	} else if (!strcmp(opt, "kernel_cache")) {
		o->kernel_cache = true;
	} else if (!strcmp(opt, "writeback_cache")) {
		o->writeback_cache = true;
	} else if (!strcmp(opt, "direct_io")) {
		o->direct_io = true;
	} else if (!strcmp(opt, "noreaddirplus")) {
		o->readdirplus = false;
	} else if (val && !strncmp(opt, "fuse_ring=", 10)) {
		ret = parse_auto_off(opt, val, &o->fuse_ring);
	} else if (val && !strncmp(opt, "passthrough=", 12)) {
		ret = parse_auto_off(opt, val, &o->passthrough);
	} else if (val && !strncmp(opt, "max_write=", 10)) {
		ret = parse_ulong(opt, val, 4096, RFS_IO_MAX, &n);
		o->max_write = (uint32_t)n;
	} else if (val && !strncmp(opt, "connect_timeout=", 16)) {
		ret = parse_double(opt, val, &d);
		o->connect_timeout_ms = d * 1000 > INT_MAX ? INT_MAX :
							     (int)(d * 1000);
	} else if (!strcmp(opt, "hard")) {
		o->soft = false;
	} else if (!strcmp(opt, "soft")) {
		o->soft = true;
	} else if (val && !strncmp(opt, "timeo=", 6)) {
		ret = parse_double(opt, val, &d);
		if (!ret && (d <= 0 || d > 86400)) {
			fprintf(stderr,
				"ringfs: bad value in option '%s' "
				"(seconds, 0..86400)\n",
				opt);
			ret = -EINVAL;
		}
		o->timeo_ms = (int64_t)(d * 1000);
	} else if (val && !strncmp(opt, "key_file=", 9)) {
		ret = rfs_cl_auth_load(val);
	} else if (!strcmp(opt, "harden") || !strcmp(opt, "swap")) {
		o->harden |= RFS_HARDEN_ALL;
		if (!strcmp(opt, "swap"))
			o->swap = true;
	} else if (!strcmp(opt, "harden=onfault")) {
		o->harden |= RFS_HARDEN_ALL | RFS_HARDEN_ONFAULT;
	} else if (!strcmp(opt, "rootfs")) {
		/* a root: every user's, with its setuid programs and devices */
		o->rootfs = true;
		o->harden |= RFS_HARDEN_ROOT;
		o->allow_other = true;
		ret = add_fuse_opt(o, "allow_other,suid,dev");
	} else if (!strcmp(opt, "tls")) {
		rfs_cl_tls_want(NULL);
	} else if (val && !strncmp(opt, "tls_ca=", 7)) {
		rfs_cl_tls_want(val);
	} else if (!strcmp(opt, "server_permissions")) {
		o->server_permissions = true;
	} else if (val && !strncmp(opt, "groups_ttl=", 11)) {
		ret = parse_ulong(opt, val, 0, RFS_GROUPS_TTL_MS_MAX, &n);
		o->groups_ttl_ms = (unsigned)n;
	} else if (!strcmp(opt, "ro")) {
		o->ro = true;
		ret = add_fuse_opt(o, opt);
	} else if (in_list(fuse_flags, opt) ||
		   (val && prefix_in_list(fuse_keys, opt))) {
		if (!strncmp(opt, "fsname=", 7))
			*fsname = true;
		if (!strncmp(opt, "subtype=", 8))
			*subtype = true;
		if (!strcmp(opt, "rw"))
			o->ro = false;
		if (!strcmp(opt, "allow_other"))
			o->allow_other = true;
		if (!strcmp(opt, "default_permissions"))
			o->default_permissions = true;
		ret = add_fuse_opt(o, opt);
	} else {
		fprintf(stderr,
			"ringfs: unknown option '%s' (see ringfs "
			"--help)\n",
			opt);
		ret = -EINVAL;
	}
	return ret;
}

static int parse_opts(struct cl_opts *o, const char *list, bool *fsname,
		      bool *subtype)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !ret;
	     tok = strtok_r(NULL, ",", &save))
		ret = parse_one(o, tok, fsname, subtype);
	free(copy);
	return ret;
}

/* Escape ',' and '\' for libfuse's option parser. */
static void escape_opt(const char *in, char *out, size_t outsz)
{
	size_t j = 0;

	for (; *in && j + 2 < outsz; in++) {
		if (*in == ',' || *in == '\\')
			out[j++] = '\\';
		out[j++] = *in;
	}
	out[j] = '\0';
}

static int parse_cmdline(struct cl_opts *o, int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL };
	bool fsname = false, subtype = false;
	char tmp[1200];
	long cpus;
	int npos = 0, ret;

	strcpy(o->transport, "auto");
	o->csum = true;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	o->loops = cpus < 1	       ? 1 :
		   cpus > CL_MAX_LOOPS ? CL_MAX_LOOPS :
					 (unsigned)cpus;
	o->attr_timeout = 1.0;
	o->entry_timeout = 1.0;
	o->negative_timeout = -1; /* entry_timeout's, once parsed */
	o->readdirplus = true;
	o->max_write = RFS_IO_MAX;
	o->connect_timeout_ms = 10000;
	o->groups_ttl_ms = RFS_GROUPS_TTL_MS_DEFAULT;
	o->timeo_ms = 30000;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("ringfs %s (transports: %s; libfuse %s; "
			       "tls %s)\n",
			       RINGFS_VERSION, rfs_xprt_built(),
			       fuse_pkgversion(),
			       rfs_tls_built() ? "yes" : "no");
			exit(0);
		} else if (!strcmp(a, "-f")) {
			o->foreground = true;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--debug")) {
			o->debug = true;
			o->foreground = true;
		} else if (!strcmp(a, "-o")) {
			if (++i == argc) {
				fprintf(stderr, "ringfs: -o needs options\n");
				return -EINVAL;
			}
			ret = parse_opts(o, argv[i], &fsname, &subtype);
			if (ret)
				return ret;
		} else if (!strncmp(a, "-o", 2)) {
			ret = parse_opts(o, a + 2, &fsname, &subtype);
			if (ret)
				return ret;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr,
				"ringfs: unknown argument '%s' (see "
				"ringfs --help)\n",
				a);
			return -EINVAL;
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			fprintf(stderr, "ringfs: too many arguments ('%s')\n",
				a);
			return -EINVAL;
		}
	}
	if (npos < 2) {
		usage(stderr);
		return -EINVAL;
	}
	if (strlen(pos[0]) >= sizeof(o->source) ||
	    strlen(pos[1]) >= sizeof(o->mountpoint)) {
		fprintf(stderr, "ringfs: argument too long\n");
		return -ENAMETOOLONG;
	}
	strcpy(o->source, pos[0]);
	strcpy(o->mountpoint, pos[1]);
	if (!fsname) {
		char esc[1100];

		escape_opt(o->source, esc, sizeof(esc));
		snprintf(tmp, sizeof(tmp), "fsname=%s", esc);
		ret = add_fuse_opt(o, tmp);
		if (ret)
			return ret;
	}
	if (!subtype) {
		ret = add_fuse_opt(o, "subtype=ringfs");
		if (ret)
			return ret;
	}
	/*
	 * A mount shared by several users checks permissions in the kernel
	 * too: without default_permissions FUSE does not check search
	 * permission on cached dentries, so an entry one user looked up
	 * would be reachable by another who may not search its directory.
	 * The server still checks every operation as the caller.
	 * server_permissions opts out (then set entry_timeout=0).
	 */
	if (o->allow_other && !o->default_permissions &&
	    !o->server_permissions) {
		ret = add_fuse_opt(o, "default_permissions");
		if (ret)
			return ret;
		o->default_permissions = true;
	}
	if (o->negative_timeout < 0)
		o->negative_timeout = o->entry_timeout;
	if (o->swap && o->soft) {
		fprintf(stderr,
			"ringfs: options swap and soft conflict: a swap "
			"write that fails with EIO loses a page of some "
			"process; swap mounts are hard\n");
		return -EINVAL;
	}
	return 0;
}

static int check_source(struct rfs_client *cl)
{
	struct cl_opts *o = &cl->o;
	char addr[sizeof(o->addr_text)];
	int ret;

	ret = rfs_addr_split_source(o->source, addr, sizeof(addr),
				    o->export_name, sizeof(o->export_name));
	if (ret < 0 || !o->export_name[0]) {
		fprintf(stderr,
			"ringfs: bad source '%s': expected "
			"SERVER:PORT:/EXPORT\n",
			o->source);
		return -EINVAL;
	}
	strcpy(o->addr_text, addr);
	/* SERVER[,SERVER...]: gateways of one namespace, in order */
	for (char *save = NULL, *one = strtok_r(addr, ",", &save); one;
	     one = strtok_r(NULL, ",", &save)) {
		if (cl->naddr == RFS_CL_MAX_SERVERS) {
			fprintf(stderr,
				"ringfs: more than %d servers in '%s'\n",
				RFS_CL_MAX_SERVERS, o->source);
			return -E2BIG;
		}
		ret = rfs_addr_parse(one, DEFAULT_PORT, &cl->addrs[cl->naddr]);
		if (ret < 0) {
			fprintf(stderr, "ringfs: bad server address '%s': %s\n",
				one,
				ret == -ENOENT ? "unknown host" :
						 strerror(-ret));
			return ret;
		}
		if (cl->naddr && cl->addrs[cl->naddr].ss.ss_family == AF_UNIX) {
			fprintf(stderr,
				"ringfs: '%s': several servers must be "
				"host:port addresses\n",
				o->source);
			return -EINVAL;
		}
		cl->naddr++;
	}
	if (!cl->naddr ||
	    (cl->naddr > 1 && cl->addrs[0].ss.ss_family == AF_UNIX)) {
		fprintf(stderr, "ringfs: bad server list in '%s'\n", o->source);
		return -EINVAL;
	}
	cl->addr = cl->addrs[0];
	return 0;
}

/*
 * Several servers: the first that answers; transport=auto is the
 * byte stream (a same-host shm socket or an rdma path is one gateway's,
 * not the namespace's)
 */
static int probe_servers(struct rfs_client *cl)
{
	int ret = -ENOTCONN;

	if (!strcmp(cl->o.transport, "auto"))
		snprintf(cl->o.transport, sizeof(cl->o.transport), "%s",
			 rfs_xprt_pick(RFS_XPRT_F_STREAM));
	for (cl->cur = 0; cl->cur < cl->naddr; cl->cur++) {
		cl->addr = cl->addrs[cl->cur];
		ret = rfs_client_probe(cl->o.transport, &cl->addr);
		if (ret == 0 || (ret != -ECONNREFUSED && ret != -ETIMEDOUT &&
				 ret != -EHOSTUNREACH && ret != -ENETUNREACH &&
				 ret != -ECONNRESET))
			break;
	}
	if (cl->cur == cl->naddr)
		cl->cur = 0;
	return ret;
}

static int check_mountpoint(const char *mp)
{
	struct stat st;

	if (stat(mp, &st) < 0) {
		fprintf(stderr, "ringfs: bad mount point '%s': %s\n", mp,
			strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"ringfs: bad mount point '%s': not a "
			"directory\n",
			mp);
		return -ENOTDIR;
	}
	return 0;
}

/* ---- libfuse glue ----------------------------------------------------- */

__attribute__((format(printf, 2, 0))) static void
fuse_log_fn(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* fuse_log_level has syslog's values */
	rfs_log((int)level, "fuse: %s", msg);
}

static struct fuse_session *new_session(struct rfs_client *cl)
{
	struct fuse_lowlevel_ops ops;
	char *argv[5];
	int argc = 0;
	struct fuse_args args;
	struct fuse_session *se;

	memset(&ops, 0, sizeof(ops));
	rfs_ops_node_fill(&ops);
	rfs_ops_file_fill(&ops);
	argv[argc++] = (char *)"ringfs";
	argv[argc++] = (char *)"-o";
	argv[argc++] = cl->o.fuse_opts;
	if (cl->o.debug)
		argv[argc++] = (char *)"-d";
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	se = fuse_session_new(&args, &ops, sizeof(ops), cl);
	fuse_opt_free_args(&args);
	return se;
}

/* Block the exit signals in every thread; the main thread takes them
   through a signalfd. */
/*
 * fuse_daemonize, except that the mounting process exits only once the
 * daemon says how its start went (daemon_ready): 0 once the loops run
 * and the status file of ringfsctl mounts is written, else 1.  So
 * mount(8) returns when the mount is served, with the daemon's verdict
 * (libfuse's child tells its parent at once, before any of that).
 */
static int ready_fd = -1;

static int daemonize(bool foreground)
{
	int p[2], nullfd;
	char c = 1;

	if (foreground)
		return chdir("/") == 0 ? 0 : -errno;
	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	switch (fork()) {
	case -1:
		close(p[0]);
		close(p[1]);
		return -errno;
	case 0:
		break;
	default:
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(c == 0 ? 0 : 1); /* EOF: the daemon died */
	}
	close(p[0]);
	if (setsid() == -1 || chdir("/") != 0)
		return -errno;
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nullfd >= 0) {
		for (int fd = 0; fd < 3; fd++)
			if (dup2(nullfd, fd) < 0)
				return -errno;
		if (nullfd > 2)
			close(nullfd);
	}
	ready_fd = p[1];
	return 0;
}

/* the mounting process may exit: with 0 (ok) or 1 */
static void daemon_ready(bool ok)
{
	char c = ok ? 0 : 1;

	if (ready_fd < 0)
		return;
	if (write(ready_fd, &c, 1) != 1)
		rfs_err("client: telling the mounting process: %s",
			strerror(errno));
	close(ready_fd);
	ready_fd = -1;
}

static int setup_signals(sigset_t *set)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };
	int fd;

	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	if (sigaction(SIGPIPE, &sa, NULL) < 0 ||
	    pthread_sigmask(SIG_BLOCK, set, NULL) != 0) {
		rfs_err("client: signal setup failed: %s", strerror(errno));
		return -errno;
	}
	fd = signalfd(-1, set, SFD_CLOEXEC);
	if (fd < 0) {
		rfs_err("client: signalfd: %s", strerror(errno));
		return -errno;
	}
	return fd;
}

static void wait_for_exit(struct rfs_client *cl, int sfd)
{
	struct pollfd pfd[2] = {
		{ .fd = sfd, .events = POLLIN },
		{ .fd = cl->stop_fd, .events = POLLIN },
	};

	for (;;) {
		int n = poll(pfd, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rfs_err("client: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				rfs_info("client: signal %u: unmounting %s",
					 si.ssi_signo, cl->o.mountpoint);
			break;
		}
		if (pfd[1].revents)
			break;
	}
	rfs_loops_stop();
}

static bool have_rdma_device(void)
{
	DIR *d = opendir("/sys/class/infiniband");
	struct dirent *e;
	bool any = false;

	if (!d)
		return false;
	while (!any && (e = readdir(d)))
		any = e->d_name[0] != '.';
	closedir(d);
	return any;
}

/*
 * transport=auto, local kind (shm): the server's Unix socket, learned with
 * RFS_OP_PATHS, must answer with the same server instance (the server is
 * on this host).  0 with *a set to that socket.
 */
static int try_local(struct rfs_client *cl, const char *name,
		     const struct rfs_client_paths *p, struct rfs_addr *a)
{
	char spec[RFS_PATHS_UNIX_MAX + 8];
	struct rfs_client_paths q;

	if (!p->unix_path[0])
		return -ENOENT;
	snprintf(spec, sizeof(spec), "unix:%s", p->unix_path);
	if (rfs_addr_parse(spec, 0, a) < 0 ||
	    rfs_client_paths(cl, name, a, true, &q) < 0 ||
	    q.instance != p->instance)
		return -ENOENT;
	rfs_dbg(RFS_SUB_CLIENT,
		"client: transport auto: %s through %s (the "
		"server is on this host)",
		name, spec);
	return 0;
}

/*
 * transport=auto: a walk over the transports built, most preferred first,
 * each tried for real by what it needs: a same-host one (shm) when the
 * server is on this host, an RDMA one when both ends have a device and
 * its path connects; the first byte stream (uring, else tcp) is the
 * fallback.  The choice goes to cl->o.transport and cl->addr once, and
 * is logged.
 */
static int resolve_auto(struct rfs_client *cl)
{
	const char *stream = rfs_xprt_pick(RFS_XPRT_F_STREAM);
	const struct rfs_xprt_desc *d;
	struct rfs_client_paths p;
	struct rfs_addr a = cl->addr;
	const char *name = stream;
	uint32_t stream_flags;
	int ret;

	if (cl->addr.ss.ss_family == AF_UNIX) {
		/* a Unix socket: the server is here; stream if no shm */
		if (rfs_xprt_pick(RFS_XPRT_F_LOCAL))
			name = rfs_xprt_pick(RFS_XPRT_F_LOCAL);
		ret = rfs_client_probe(name, &a);
		goto out;
	}
	/*
	 * HELLO is answered even when the server takes no identity from
	 * this connection (RFS_EXPF_IDS_REFUSED), so that an unprivileged
	 * user still learns the Unix socket, where it acts as itself.
	 */
	ret = rfs_client_paths(cl, stream, &a, false, &p);
	if (ret < 0)
		return ret;
	stream_flags = cl->export_flags;
	for (size_t i = 0; (d = rfs_xprt_at(i)); i++) {
		if (d->flags & RFS_XPRT_F_STREAM)
			break; /* the fallback: rfs_client_paths did HELLO */
		if ((d->flags & RFS_XPRT_F_LOCAL) &&
		    try_local(cl, d->name, &p, &a) == 0) {
			name = d->name;
			goto out;
		}
		a = cl->addr;
		/* -o tls: rdma carries no TLS; the stream does */
		if ((d->flags & RFS_XPRT_F_RDMA_ADDR) && p.rdma_addr[0] &&
		    !rfs_cl_tls_wanted() && have_rdma_device() &&
		    rfs_client_probe(d->name, &a) == 0) {
			rfs_dbg(RFS_SUB_CLIENT,
				"client: transport auto: %s "
				"(server RDMA address %s)",
				d->name, p.rdma_addr);
			name = d->name;
			goto out;
		}
	}
	rfs_dbg(RFS_SUB_CLIENT, "client: transport auto: %s", stream);
	cl->export_flags = stream_flags;
	ret = rfs_client_ids_check(stream_flags, &cl->addr);
out:
	if (ret < 0)
		return ret;
	snprintf(cl->o.transport, sizeof(cl->o.transport), "%s", name);
	cl->addr = a;
	return 0;
}

/*
 * The status file ringfsctl mounts reads (status.c): written once the
 * loops run and again when the FUSE path is settled (fuse_ring.c).
 */
void rfs_cl_status_update(void)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static bool warned;
	struct rfs_client *cl = rfs_cl;
	struct rfs_status st;
	char *mp;
	int ret;

	/* filled under the lock: the newest state is written last */
	pthread_mutex_lock(&mu);
	memset(&st, 0, sizeof(st));
	/* mountinfo has the absolute path; the user may have typed ./mnt */
	mp = realpath(cl->o.mountpoint, NULL);
	snprintf(st.mountpoint, sizeof(st.mountpoint), "%s",
		 mp ? mp : cl->o.mountpoint);
	free(mp);
	snprintf(st.source, sizeof(st.source), "%s", cl->o.source);
	snprintf(st.transport, sizeof(st.transport), "%s", cl->o.transport);
	snprintf(st.fuse, sizeof(st.fuse), "%s", rfs_fr_status());
	snprintf(st.passthrough, sizeof(st.passthrough), "%s", rfs_pt_status());
	st.loops = cl->nloops;
	st.pid = getpid();
	ret = rfs_status_write(&st);
	if (ret < 0 && !warned) {
		warned = true;
		rfs_info("client: no status file for ringfsctl mounts: %s",
			 strerror(-ret));
	}
	pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv)
{
	struct rfs_client *cl = &client;
	const struct rfs_xprt_desc *desc;
	sigset_t set;
	int ret, sfd = -1, status = 1;
	bool mounted = false;
	char *mp_real = NULL;

	rfs_cl = cl;
	rfs_log_init("ringfs");
	cl->stop_fd = -1;
	cl->dev_fd = -1;
	cl->interactive = true;
	/* -1: the loops choose (loop.c); RINGFS_SPIN_US sets it */
	cl->spin_us = -1;
	if (getenv("RINGFS_SPIN_US"))
		cl->spin_us = strtol(getenv("RINGFS_SPIN_US"), NULL, 10);
	if (parse_cmdline(&cl->o, argc, argv) < 0)
		return 1;
	if (cl->o.rootfs)
		rfs_cl_rootfs_reexec(argc, argv);
	if (cl->o.debug)
		rfs_log_set_level(LOG_DEBUG); /* libfuse's request trace */
	if (check_source(cl) < 0 || check_mountpoint(cl->o.mountpoint) < 0)
		return 1;
	if (cl->o.rootfs && rfs_cl_rootfs_check_addr(cl->o.addr_text) < 0)
		return 1;
	if (strcmp(cl->o.transport, "auto") &&
	    !rfs_xprt_is_built(cl->o.transport)) {
		fprintf(stderr, "ringfs: unknown transport '%s' (built: %s)\n",
			cl->o.transport, rfs_xprt_built());
		return 1;
	}
	desc = rfs_xprt_find(cl->o.transport);
	if (desc && (desc->flags & RFS_XPRT_F_LOCAL) &&
	    cl->addr.ss.ss_family != AF_UNIX) {
		fprintf(stderr,
			"ringfs: transport %s needs the server's Unix "
			"socket: unix:PATH:/%s (ringfsd --listen-unix "
			"PATH), or transport=auto\n",
			desc->name, cl->o.export_name);
		return 1;
	}
	/*
	 * Hardened before the first connection, while the user sees why it
	 * failed: the transports' pools are then filled locked (prealloc).
	 * mlockall is not inherited by daemonize's child: again there.
	 */
	if (cl->o.harden && rfs_daemon_harden(cl->o.harden) < 0) {
		fprintf(stderr,
			"ringfs: -o %s needs each step above (see ringfs(8), "
			"HARDENING)\n",
			cl->o.swap   ? "swap" :
			cl->o.rootfs ? "rootfs" :
				       "harden");
		return 1;
	}
	if (rfs_cl_tls_wanted() && desc &&
	    (desc->flags & RFS_XPRT_F_RDMA_ADDR)) {
		fprintf(stderr,
			"ringfs: transport %s carries no TLS (see "
			"README, Security): use transport=uring or "
			"tcp with -o tls\n",
			desc->name);
		return 1;
	}
	if (rfs_cl_tls_start(cl->o.addr_text) < 0)
		return 1;
	if (rfs_inode_init() < 0)
		return 1;
	fuse_set_log_func(fuse_log_fn);

	/* phase 1 while the user still sees our errors */
	if (cl->naddr > 1)
		ret = probe_servers(cl);
	else if (!strcmp(cl->o.transport, "auto"))
		ret = resolve_auto(cl);
	else
		ret = rfs_client_probe(cl->o.transport, &cl->addr);
	if (ret < 0)
		goto out_inode;
	if (cl->o.ro == false && (cl->export_flags & RFS_EXPF_RO))
		rfs_dbg(RFS_SUB_CLIENT, "client: export is read-only");

	cl->se = new_session(cl);
	if (!cl->se) {
		fprintf(stderr,
			"ringfs: cannot start the FUSE session (bad "
			"FUSE option in '%s'?)\n",
			cl->o.fuse_opts);
		goto out_inode;
	}
	/* what ringfsctl conns MOUNTPOINT matches (resolved while we can) */
	mp_real = realpath(cl->o.mountpoint, NULL);
	if (fuse_session_mount(cl->se, cl->o.mountpoint) != 0) {
		fprintf(stderr, "ringfs: cannot mount on %s\n",
			cl->o.mountpoint);
		goto out_session;
	}
	mounted = true;
	/* the initramfs moves /dev to the new root once we are back: the
	   loops, started after the fork, open /dev/fuse relative to this */
	cl->dev_fd = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cl->dev_fd < 0)
		rfs_dbg(RFS_SUB_CLIENT,
			"client: open /dev: %s (the loops "
			"open /dev/fuse by path)",
			strerror(errno));
	ret = daemonize(cl->o.foreground);
	if (ret < 0) {
		rfs_err("client: cannot become a daemon: %s", strerror(-ret));
		goto out_unmount;
	}
	if (!cl->o.foreground && !cl->o.rootfs)
		rfs_log_use_syslog(true);
	cl->interactive = false;
	if (cl->o.rootfs) /* logs to /dev/kmsg from here */
		rfs_cl_rootfs_start();
	if ((cl->o.harden & RFS_HARDEN_MLOCK) &&
	    rfs_daemon_harden(cl->o.harden &
			      (RFS_HARDEN_MLOCK | RFS_HARDEN_ONFAULT)) < 0)
		goto out_unmount;

	sfd = setup_signals(&set);
	if (sfd < 0)
		goto out_unmount;
	/* counters and control socket (ctl.c): before the loops count */
	rfs_cl_ctl_start(cl, mp_real);
	ret = rfs_loops_start(cl);
	if (ret < 0) {
		rfs_err("client: %s: setup failed: %s; unmounting",
			cl->o.mountpoint, strerror(-ret));
		rfs_loops_join(cl);
		rfs_status_remove();
		goto out_unmount;
	}
	rfs_info("client: %s mounted on %s (transport %s, %u loops, %s)",
		 cl->o.source, cl->o.mountpoint, cl->o.transport, cl->nloops,
		 cl->csum ? "csum" : "nocsum");
	rfs_cl_status_update();
	daemon_ready(true);
	wait_for_exit(cl, sfd);
	rfs_loops_join(cl);
	rfs_status_remove();
	status = 0;

out_unmount:
	rfs_cl_notify_stop();
	rfs_cl_ctl_stop(cl);
	if (mounted)
		fuse_session_unmount(cl->se);
out_session:
	fuse_session_destroy(cl->se);
out_inode:
	if (sfd >= 0)
		close(sfd);
	if (cl->stop_fd >= 0)
		close(cl->stop_fd);
	if (cl->dev_fd >= 0)
		close(cl->dev_fd);
	rfs_inode_fini();
	free(mp_real);
	return status;
}
