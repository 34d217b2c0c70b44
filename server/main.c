// SPDX-License-Identifier: MIT
/*
 * ringfsd: the ringfs storage server.
 *
 * The main thread accepts connections on a kernel listening socket
 * (phase 1) and hands each one to its own thread with its own transport
 * context (conn.c).  It stays in the foreground, logs to stderr and shuts
 * down cleanly on SIGTERM/SIGINT.
 *
 * With --listen-rdma ADDR:PORT it also owns the one rdma_cm listener of
 * the process (rfs_rdma_listen, xprt_rdma.h) and hands each connect request
 * over to the connection thread whose token it carries.  The kernel
 * refuses rdma_cm write()s from a thread whose credentials changed since
 * the file was opened (ib_safe_file_access), and the hand-over writes to
 * the connection thread's file: so this thread, like the connection
 * threads it starts, never changes its credentials (only exec and lock
 * helper threads do, server/ops.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "../client/harden.h"
#include "log.h"
#include "nbd.h"
#include "server.h"
#include "spin.h"
#include "tls.h"
#include "xprt_rdma.h"

#define DEFAULT_LISTEN "127.0.0.1:7070"
#define SUGGESTED_UNIX "/run/ringfs/ringfsd.sock"
#define DEFAULT_STATE_DIR "/var/lib/ringfsd"
#define DEFAULT_MAX_NODES 65536ul
#define DEFAULT_SESSION_GRACE 60u

/*
 * --transport names the byte-stream driver of the listener (tcp, uring):
 * the transports whose frames travel on the accepted socket itself.  The
 * others are chosen by the client and set up over that stream.  Their
 * names, space separated, into buf.
 */
static const char *stream_xprts(char *buf, size_t n)
{
	const struct rfs_xprt_desc *d;
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; (d = rfs_xprt_at(i)) && used < n; i++) {
		if (!(d->flags & RFS_XPRT_F_STREAM))
			continue;
		used += (size_t)snprintf(buf + used, n - used, "%s%s",
					 used ? " " : "", d->name);
	}
	return buf;
}

static void usage(FILE *f)
{
	char streams[64];

	fprintf(f,
		"usage: ringfsd --export NAME=PATH[,OPTS] [options]\n"
		"\n"
		"  -l, --listen ADDR       host:port or unix:/path (default " DEFAULT_LISTEN
		");\n"
		"                          port 0 picks a free port\n"
		"  -u, --listen-unix PATH  also listen on a Unix socket (same-host clients,\n"
		"                          the shm transport), e.g. " SUGGESTED_UNIX
		";\n"
		"                          created mode 0666, its directory if missing;\n"
		"                          a non-root client acts as itself there\n"
		"      --listen-rdma ADDR[:PORT]\n"
		"                          accept rdma clients: ADDR is this host's IP on\n"
		"                          an RDMA device (rxe or hardware); setup still\n"
		"                          goes through --listen.  With PORT: one rdma_cm\n"
		"                          listener on ADDR:PORT (0: a free port) takes\n"
		"                          every rdma connection, and ringfsd fails to\n"
		"                          start if it cannot bind it; without: each\n"
		"                          connection gets its own ephemeral rdma_cm port\n"
		"  -e, --export NAME=PATH[,OPTS]\n"
		"                          export a directory; OPTS: ro, rw (default),\n"
		"                          root_squash (default), no_root_squash,\n"
		"                          all_squash, anonuid=N, anongid=N,\n"
		"                          net=CIDR[+CIDR...], nolocal, nbd=FILE (a\n"
		"                          file under PATH served by --nbd-listen);\n"
		"                          whose ids\n"
		"                          clients may use (ringfsd(8), TRUST):\n"
		"                          secure (default), insecure,\n"
		"                          privport=loopback (default)|any|off,\n"
		"                          untrusted=refuse (default)|squash,\n"
		"                          peercred=map (default)|refuse\n"
		"  -c, --config FILE       read settings and exports from FILE\n"
		"  -t, --transport NAME    byte-stream data path: %s (default: %s);\n"
		"                          shm and rdma clients set up over it\n"
		"  -s, --state-dir DIR     keeps the handle secret (default " DEFAULT_STATE_DIR
		")\n"
		"  -n, --max-nodes N       node cache size (default %lu)\n"
		"      --session-grace S   keep a client's session (open files, locks,\n"
		"                          replies for replays) S seconds after its last\n"
		"                          connection drops (default 60; 0: free at once)\n"
		"      --reply-log MODE    on (default): a client's replays after a kill -9\n"
		"                          and restart get the replies of the requests that\n"
		"                          ran (kept in --state-dir); sync: also after a\n"
		"                          machine crash (two disk flushes per request);\n"
		"                          off: such a replay may run a request twice\n"
		"      --reply-log-dir DIR the reply logs in DIR, shared by every gateway\n"
		"                          of one gluster volume (a glusterfs mount):\n"
		"                          exactly once across a failover too\n"
		"      --takeover-fence MS before a gluster export's session is taken\n"
		"                          over (failover, restart), let the operations\n"
		"                          the dead gateway had in flight to the volume\n"
		"                          land for MS (default 1000; 0: off)\n"
		"      --exec-thread       run each connection's requests on a second thread\n"
		"                          (the rdma transport always does: see ringfsd(8))\n"
		"      --nbd-listen ADDR   serve the nbd=FILE of exports over NBD on ADDR\n"
		"                          (host:port, port 0: a free one; unix:/path);\n"
		"                          NBD has no authentication: a non-loopback ADDR\n"
		"                          needs --insecure (ringfsd(8), NBD)\n"
		"      --harden            mlockall, PR_SET_IO_FLUSHER, oom_score_adj -1000:\n"
		"                          for a ringfsd that serves its own host's swap\n"
		"      --control-socket PATH\n"
		"                          ringfsctl's local channel (conns, stats);\n"
		"                          default /run/ringfs/ringfsd-PID.sock as root,\n"
		"                          $XDG_RUNTIME_DIR/ringfs/ringfsd-PID.sock\n"
		"                          otherwise; none: no socket.  Counters go to\n"
		"                          ringfsd-PID.stats in the same directory\n" RFS_SEC_USAGE
		"  -v, --verbose           debug logging for the server\n"
		"  -d, --debug SUBSYS      debug logging for proto,xprt,server or all\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version\n",
		stream_xprts(streams, sizeof(streams)),
		rfs_xprt_pick(RFS_XPRT_F_STREAM), DEFAULT_MAX_NODES);
}

static int raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur == rl.rlim_max)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	return 0;
}

/*
 * Every cached node holds an O_PATH fd: keep the cache well inside the
 * fd limit (connections, open files and locks need fds too), or a busy
 * export runs out of descriptors and every create fails with EMFILE.
 */
#define FD_RESERVE 4096ul

static void cap_max_nodes(struct rfs_srv_cfg *c, bool asked)
{
	struct rlimit rl;
	unsigned long cap;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	cap = rl.rlim_cur > 2 * FD_RESERVE ? rl.rlim_cur - FD_RESERVE :
					     rl.rlim_cur / 2;
	if (c->max_nodes > cap && !asked) {
		c->max_nodes = cap; /* the default: just fit the limit */
	} else if (c->max_nodes > cap) {
		rfs_warn("server: max-nodes %lu exceeds what the fd limit "
			 "(%llu) allows: using %lu (raise LimitNOFILE= / "
			 "ulimit -n to cache more)",
			 (unsigned long)c->max_nodes,
			 (unsigned long long)rl.rlim_cur, cap);
		c->max_nodes = cap;
	}
}

static void fmt_sockname(int fd, const struct rfs_addr *a, char *out,
			 size_t outsz)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	snprintf(out, outsz, "%s", a->text);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, outsz, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, outsz, "[%s]:%u", host, ntohs(in6->sin6_port));
	}
}

static int listen_on(const struct rfs_addr *a)
{
	int fd, one = 1, err;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		rfs_err("listen %s: socket: %s", a->text, strerror(err));
		return -err;
	}
	if (a->ss.ss_family != AF_UNIX &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		err = errno;
		rfs_err("listen %s: SO_REUSEADDR: %s", a->text, strerror(err));
		goto err_close;
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, 128) < 0) {
		err = errno;
		/* the one line people grep for: no level tag */
		fprintf(stderr, "ringfsd: listen %s: %s\n", a->text,
			strerror(err));
		goto err_close;
	}
	return fd;
err_close:
	close(fd);
	return -err;
}

/*
 * The second listener: a Unix socket at path, its directory created if
 * missing, the socket itself mode 0666 (same-host clients of any uid;
 * the exports' own options decide what they may do).  A stale socket
 * left by a crash is replaced.  Returns the fd or -errno.
 */
static int listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)], *slash;
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path) || path[0] != '/') {
		rfs_err("listen-unix %s: need an absolute path under %zu "
			"bytes",
			path, sizeof(sun.sun_path));
		return -EINVAL;
	}
	strcpy(sun.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			err = errno;
			rfs_err("listen-unix %s: mkdir %s: %s", path, dir,
				strerror(err));
			return -err;
		}
	}
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		rfs_err("listen-unix %s: socket: %s", path, strerror(err));
		return -err;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0666) < 0 || listen(fd, 128) < 0) {
		err = errno;
		fprintf(stderr, "ringfsd: listen %s: %s\n", path,
			strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

/*
 * rfs_addr_parse refuses port 0 (right for clients); a server may ask the
 * kernel for a free port, so parse "host:0" as "host:1" and clear it.
 */
static int parse_listen(const char *s, struct rfs_addr *a)
{
	size_t len = strlen(s);
	char tmp[sizeof(rfs_cfg.listen) + 1];
	int ret;

	if (len < 2 || len >= sizeof(tmp) - 1 || strcmp(s + len - 2, ":0"))
		return rfs_addr_parse(s, 0, a);
	memcpy(tmp, s, len + 1);
	tmp[len - 1] = '1';
	ret = rfs_addr_parse(tmp, 0, a);
	if (ret)
		return ret;
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = 0;
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = 0;
	snprintf(a->text, sizeof(a->text), "%s", s);
	return 0;
}

static void on_sigusr1(int sig)
{
	(void)sig; /* only interrupts a worker's blocking syscall */
}

static int setup_signals(int *sfd)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	sigset_t set;

	/* blocked before any thread exists, so every thread inherits it */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: we want the EINTR */
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -errno;
	sigdelset(&set, SIGUSR1);
	*sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return *sfd < 0 ? -errno : 0;
}

static int add_cli_export(struct rfs_srv_cfg *c, char *spec)
{
	char *eq = strchr(spec, '='), *opts;

	if (!eq) {
		rfs_err("--export %s: expected NAME=PATH[,OPTIONS]", spec);
		return -EINVAL;
	}
	*eq = 0;
	opts = strchr(eq + 1, ',');
	if (opts)
		*opts++ = 0;
	return rfs_cfg_add_export(c, spec, eq + 1, opts);
}

static int accept_loop(int lfd, int ufd, int sfd, struct rfs_rdma_listener *rl)
{
	for (;;) {
		struct pollfd pfd[4] = {
			{ .fd = lfd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = ufd, .events = POLLIN }, /* -1: ignored */
			{ .fd = rfs_rdma_listener_fd(rl), .events = POLLIN },
		};
		int fd, one = 1, ret;

		ret = poll(pfd, 4, -1);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			rfs_err("server: poll: %s", strerror(errno));
			return -errno;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				rfs_info("server: %s: shutting down",
					 strsignal((int)si.ssi_signo));
				return 0;
			}
		}
		/* rdma connect requests: handed over or refused, never waits */
		if (pfd[3].revents & POLLIN)
			rfs_rdma_listener_run(rl);
		if (pfd[2].revents & POLLIN) {
			fd = accept4(ufd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				rfs_conn_start(fd, rfs_cfg.transport);
			else if (errno != EINTR && errno != EAGAIN &&
				 errno != ECONNABORTED)
				rfs_err_rl("server: accept on %s: %s",
					   rfs_cfg.listen_unix,
					   strerror(errno));
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != EAGAIN &&
			    errno != ECONNABORTED)
				rfs_err_rl("server: accept: %s",
					   strerror(errno));
			continue;
		}
		/* not a TCP socket (unix:) is fine: ignore the error */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
		rfs_conn_start(fd, rfs_cfg.transport);
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-unix", required_argument, NULL, 'u' },
		{ "listen-rdma", required_argument, NULL, 'R' },
		{ "export", required_argument, NULL, 'e' },
		{ "config", required_argument, NULL, 'c' },
		{ "transport", required_argument, NULL, 't' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "max-nodes", required_argument, NULL, 'n' },
		{ "session-grace", required_argument, NULL, 'G' },
		{ "reply-log", required_argument, NULL, 'Y' },
		{ "reply-log-dir", required_argument, NULL, 'D' },
		{ "takeover-fence", required_argument, NULL, 'F' },
		{ "exec-thread", no_argument, NULL, 'X' },
		{ "nbd-listen", required_argument, NULL, 'N' },
		{ "harden", no_argument, NULL, 'H' },
		{ "control-socket", required_argument, NULL, 'C' },
		RFS_SEC_LOPTS,
		{ "verbose", no_argument, NULL, 'v' },
		{ "debug", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *listen_s = NULL, *transport = NULL, *state_dir = NULL;
	const char *reply_log_dir = NULL;
	const char *listen_unix_s = NULL, *ctl_sock = NULL;
	const char *listen_rdma = NULL;
	const char *config = NULL;
	const struct rfs_xprt_desc *xd;
	char **exports = NULL, bound[320], list[1024];
	unsigned nexp = 0;
	unsigned long max_nodes = 0;
	long session_grace = -1;
	int fence_ms = -1;
	int reply_log = -1;
	bool exec_thread = false, harden = false;
	const char *nbd_listen = NULL;
	struct rfs_rdma_listener *rl = NULL;
	struct rfs_addr addr;
	int opt, lidx = 0, lfd = -1, ufd = -1, sfd = -1, ret = 1;

	rfs_log_init("ringfsd");
	exports = calloc((size_t)argc, sizeof(*exports));
	if (!exports)
		return 1;
	while ((opt = getopt_long(argc, argv, "l:u:e:c:t:s:n:vd:hV", lopts,
				  &lidx)) != -1) {
		char *end;

		switch (opt) {
		case 'l':
			listen_s = optarg;
			break;
		case 'u':
			listen_unix_s = optarg;
			break;
		case 'R':
			listen_rdma = optarg;
			break;
		case 'e':
			exports[nexp++] = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 't':
			transport = optarg;
			break;
		case 's':
			state_dir = optarg;
			break;
		case 'n':
			errno = 0;
			max_nodes = strtoul(optarg, &end, 10);
			if (errno || *end || !max_nodes) {
				rfs_err("--max-nodes %s: expected a positive "
					"number",
					optarg);
				goto out;
			}
			break;
		case 'G':
			errno = 0;
			session_grace = strtol(optarg, &end, 10);
			if (errno || *end || session_grace < 0 ||
			    session_grace > 86400) {
				rfs_err("--session-grace %s: expected seconds "
					"(0..86400)",
					optarg);
				goto out;
			}
			break;
		case 'F':
			fence_ms = rfs_cfg_fence_ms(optarg);
			if (fence_ms < 0) {
				rfs_err("--takeover-fence %s: expected "
					"milliseconds (0..600000)",
					optarg);
				goto out;
			}
			break;
		case 'X':
			exec_thread = true;
			break;
		case 'N':
			nbd_listen = optarg;
			break;
		case 'H':
			harden = true;
			break;
		case 'C':
			ctl_sock = optarg;
			break;
		case 'D':
			reply_log_dir = optarg;
			break;
		case 'Y':
			reply_log = rfs_cfg_reply_log(optarg);
			if (reply_log < 0) {
				rfs_err("--reply-log %s: expected on, sync or "
					"off",
					optarg);
				goto out;
			}
			break;
		case 'v':
			rfs_log_set_level(LOG_DEBUG);
			setenv("RINGFS_DEBUG", "server", 0);
			rfs_log_init("ringfsd");
			break;
		case 'd':
			rfs_log_set_level(LOG_DEBUG);
			setenv("RINGFS_DEBUG", optarg, 1);
			rfs_log_init("ringfsd");
			break;
		case RFS_OPT_SEC:
			if (rfs_cfg_cli_set(lopts[lidx].name, optarg))
				goto out;
			break;
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		case 'V':
			printf("ringfsd %s (transports: %s; tls %s)\n",
			       RINGFS_VERSION, rfs_xprt_built(),
			       rfs_tls_built() ? "yes" : "no");
			ret = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind < argc) {
		rfs_err("unexpected argument '%s' (see --help)", argv[optind]);
		goto out;
	}

	/* the config file first, the command line overrides it */
	strcpy(rfs_cfg.listen, DEFAULT_LISTEN);
	/* the most preferred stream transport built (tcp always is) */
	snprintf(rfs_cfg.transport, sizeof(rfs_cfg.transport), "%s",
		 rfs_xprt_pick(RFS_XPRT_F_STREAM));
	strcpy(rfs_cfg.state_dir, DEFAULT_STATE_DIR);
	rfs_cfg.max_nodes = DEFAULT_MAX_NODES;
	rfs_cfg.session_grace = DEFAULT_SESSION_GRACE;
	rfs_cfg.reply_log = RFS_XLOG_ON;
	rfs_cfg.takeover_fence_ms = -1;
	if (config && rfs_cfg_load(&rfs_cfg, config))
		goto out;
	if (rfs_cfg_cli_apply(&rfs_cfg))
		goto out;
	if (listen_rdma)
		snprintf(rfs_cfg.listen_rdma, sizeof(rfs_cfg.listen_rdma), "%s",
			 listen_rdma);
	if (rfs_cfg.listen_rdma[0] && !rfs_xprt_pick(RFS_XPRT_F_RDMA_ADDR)) {
		rfs_err("listen-rdma %s: the rdma transport is not built "
			"(built: %s)",
			rfs_cfg.listen_rdma, rfs_xprt_built());
		goto out;
	}
	if (listen_s)
		snprintf(rfs_cfg.listen, sizeof(rfs_cfg.listen), "%s",
			 listen_s);
	if (listen_unix_s) {
		if (strlen(listen_unix_s) >= sizeof(rfs_cfg.listen_unix)) {
			rfs_err("--listen-unix %s: path too long",
				listen_unix_s);
			goto out;
		}
		strcpy(rfs_cfg.listen_unix, listen_unix_s);
	}
	if (transport)
		snprintf(rfs_cfg.transport, sizeof(rfs_cfg.transport), "%s",
			 transport);
	if (state_dir)
		snprintf(rfs_cfg.state_dir, sizeof(rfs_cfg.state_dir), "%s",
			 state_dir);
	if (max_nodes)
		rfs_cfg.max_nodes = max_nodes;
	if (session_grace >= 0)
		rfs_cfg.session_grace = (unsigned)session_grace;
	if (fence_ms >= 0)
		rfs_cfg.takeover_fence_ms = fence_ms;
	if (exec_thread)
		rfs_cfg.exec_thread = true;
	if (reply_log >= 0)
		rfs_cfg.reply_log = (enum rfs_xlog_mode)reply_log;
	if (reply_log_dir) {
		if (reply_log_dir[0] != '/' ||
		    strlen(reply_log_dir) >= sizeof(rfs_cfg.reply_log_dir)) {
			rfs_err("--reply-log-dir %s: expected an absolute path "
				"shorter than %zu bytes",
				reply_log_dir, sizeof(rfs_cfg.reply_log_dir));
			goto out;
		}
		strcpy(rfs_cfg.reply_log_dir, reply_log_dir);
	}
	if (harden)
		rfs_cfg.harden = true;
	if (nbd_listen &&
	    snprintf(rfs_cfg.nbd_listen, sizeof(rfs_cfg.nbd_listen), "%s",
		     nbd_listen) >= (int)sizeof(rfs_cfg.nbd_listen)) {
		rfs_err("--nbd-listen %s: too long", nbd_listen);
		goto out;
	}
	for (unsigned i = 0; i < nexp; i++)
		if (add_cli_export(&rfs_cfg, exports[i]))
			goto out;
	if (!rfs_cfg.nexports) {
		rfs_err("no exports: use --export NAME=PATH or an export line "
			"in --config");
		goto out;
	}
	xd = rfs_xprt_find(rfs_cfg.transport);
	if (!xd || !(xd->flags & RFS_XPRT_F_STREAM)) {
		char streams[64];

		rfs_err("transport %s: %s (stream transports built: %s)",
			rfs_cfg.transport,
			xd ? "not a byte-stream transport; its clients set up "
			     "over the stream one" :
			     "not available",
			stream_xprts(streams, sizeof(streams)));
		goto out;
	}
	if (parse_listen(rfs_cfg.listen, &addr)) {
		rfs_err("listen %s: bad address (expected host:port or "
			"unix:/path)",
			rfs_cfg.listen);
		goto out;
	}
	if (rfs_sec_start(&rfs_cfg, &addr))
		goto out;
	if (rfs_cfg_open_exports(&rfs_cfg))
		goto out;

	/* before any thread: they inherit PR_SET_IO_FLUSHER */
	if (rfs_cfg.harden && rfs_daemon_harden(RFS_HARDEN_ALL)) {
		rfs_err("--harden needs each step above (ringfsd(8), NBD)");
		goto out;
	}
	if (raise_nofile())
		rfs_warn("server: cannot raise RLIMIT_NOFILE: %s",
			 strerror(errno));
	cap_max_nodes(&rfs_cfg, max_nodes != 0);
	if (setup_signals(&sfd)) {
		rfs_err("server: signal setup: %s", strerror(errno));
		goto out;
	}
	rfs_start_ns = (uint64_t)rfs_now_ns();
	if (rfs_nodes_init(rfs_cfg.state_dir, rfs_cfg.max_nodes))
		goto out;
	if (rfs_xlog_init(rfs_cfg.state_dir, rfs_cfg.reply_log_dir,
			  rfs_cfg.reply_log, rfs_cfg.session_grace))
		goto out_nodes;
	list[0] = 0;
	for (unsigned i = 0; i < rfs_cfg.nexports; i++) {
		struct rfs_export *e = &rfs_cfg.exports[i];
		size_t used = strlen(list);
		int err = e->be->export_root(e, &e->root);

		if (err) {
			rfs_err("config: export %s: cannot open its root %s: "
				"%s",
				e->name, e->path, strerror(-err));
			goto out_nodes;
		}
		snprintf(list + used, sizeof(list) - used, "%s%s=%s%s",
			 i ? ", " : "", e->name, e->path, e->ro ? " (ro)" : "");
	}

	if (rfs_nbd_start(&rfs_cfg))
		goto out_nodes;
	lfd = listen_on(&addr);
	if (lfd < 0)
		goto out_nodes;
	fmt_sockname(lfd, &addr, bound, sizeof(bound));
	if (rfs_cfg.listen_unix[0]) {
		size_t used = strlen(bound);

		ufd = listen_unix(rfs_cfg.listen_unix);
		if (ufd < 0) {
			close(lfd);
			goto out_nodes;
		}
		snprintf(bound + used, sizeof(bound) - used, " and unix:%s",
			 rfs_cfg.listen_unix);
	}
	/* --listen-rdma ADDR:PORT: the shared rdma_cm listener, here on the
	   main thread (see the top); ADDR alone: none (NULL) */
	if (rfs_cfg.listen_rdma[0] &&
	    rfs_rdma_listen(rfs_cfg.listen_rdma, &rl)) {
		close(lfd);
		if (ufd >= 0) {
			close(ufd);
			unlink(rfs_cfg.listen_unix);
		}
		goto out_nodes;
	}
	/* ringfsctl conns / stats: counters file and control socket */
	if (rfs_srv_ctl_start(ctl_sock, bound)) {
		rfs_rdma_listener_close(rl);
		close(lfd);
		if (ufd >= 0) {
			close(ufd);
			unlink(rfs_cfg.listen_unix);
		}
		goto out_nodes;
	}
	fprintf(stderr,
		"ringfsd: listening on %s (transport %s%s%s%s), "
		"exports: %s\n",
		bound, rfs_cfg.transport,
		rfs_cfg.listen_rdma[0] ? ", rdma " : "",
		rl ? rfs_rdma_listener_name(rl) : rfs_cfg.listen_rdma,
		rl ? " (one listener)" : "", list);
	fflush(stderr);

	/*
	 * From here on ringfsd creates files only for clients (CREATE,
	 * MKDIR, MKNOD), whose mode already has the caller's umask taken
	 * out (FUSE_CAP_DONT_MASK: the kernel passes it, the handlers apply
	 * it): our own umask must not take more bits away.  Set after the
	 * listeners and the state directory, which keep the operator's.
	 */
	umask(0);
	if (accept_loop(lfd, ufd, sfd, rl) == 0)
		ret = 0;
	/* connections still waiting for their request then fail fast */
	rfs_rdma_listener_close(rl);
	close(lfd);
	if (ufd >= 0) {
		close(ufd);
		unlink(rfs_cfg.listen_unix);
	}
	if (addr.ss.ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)&addr.ss)->sun_path);
	rfs_nbd_stop();
	rfs_conns_stop_all();
	rfs_srv_ctl_stop();
	rfs_sessions_fini();
	rfs_locks_fini();
out_nodes:
	rfs_nbd_stop();
	rfs_xlog_fini();
	for (unsigned i = 0; i < rfs_cfg.nexports; i++) {
		rfs_node_put(rfs_cfg.exports[i].root);
		rfs_cfg.exports[i].root = NULL;
	}
	rfs_nodes_fini();
out:
	if (sfd >= 0)
		close(sfd);
	rfs_cfg_free(&rfs_cfg);
	free(exports);
	return ret;
}
