// SPDX-License-Identifier: MIT
/*
 * ringfs-bench: the ring-crossing comparison.
 *
 * Starts a real ringfsd on a temporary export, and drives the same RPC
 * workloads (64-byte echo, getattr, 4 KiB and 1 MiB random reads, 1 MiB
 * writes; queue depth 1 and 32) over every transport this build has,
 * then optionally the same workloads through a mounted ringfs with plain
 * syscalls.  Per cell: latency p50/p99, ops/s, MB/s, and per operation on
 * each side (client thread, client daemon, server): syscalls counted
 * exactly by the kernel, context switches, CPU time, bytes copied.
 *
 * This file: options, the temporary export, the ringfsd process (with its
 * counters attached before it execs), snapshots, cleanup on exit and on
 * signals.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "log.h"
#include "xprt.h"

#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 3000

const struct bench_wl_def bench_wls[WL_N] = {
	[WL_ECHO] = { "echo", "64 B echo", 64 },
	[WL_GETATTR] = { "getattr", "getattr", 0 },
	[WL_READ4K] = { "read4k", "4 KiB read", 4096 },
	[WL_READ1M] = { "read1m", "1 MiB read", 1u << 20 },
	[WL_WRITE1M] = { "write1m", "1 MiB write", 1u << 20 },
};

const char *const bench_side_names[SIDE_N] = {
	[SIDE_CLIENT] = "client",
	[SIDE_DAEMON] = "daemon",
	[SIDE_SERVER] = "server",
};

static const char *const all_transports[] = {
	"tcp", "uring", "uring+sqpoll", "shm", "rdma",
};

int bench_self_sysfd = -1;
uint64_t bench_self_overhead;

/* children to kill whatever happens; read by the signal handler */
#define MAX_CHILDREN 4
static volatile pid_t children[MAX_CHILDREN];
volatile sig_atomic_t bench_interrupted;

static char export_dir[PATH_MAX - 64];

/* ---- small helpers ------------------------------------------------------ */

struct bench_cell *bench_cell_new(struct bench_results *r, const char *xprt,
				  int wl, unsigned qd)
{
	struct bench_cell *c;

	if (r->n == r->cap) {
		unsigned cap = r->cap ? r->cap * 2 : 32;
		struct bench_cell *n = realloc(r->cell, cap * sizeof(*n));

		if (!n)
			return NULL;
		r->cell = n;
		r->cap = cap;
	}
	c = &r->cell[r->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->xprt, sizeof(c->xprt), "%s", xprt);
	c->wl = wl;
	c->qd = qd;
	for (int i = 0; i < SIDE_N; i++) {
		struct bench_side_res *sr = &c->side[i];

		sr->sys = sr->vcs = sr->ivcs = sr->cpu_us = -1;
		sr->copy_b = sr->xprt_sys = -1;
	}
	return c;
}

void bench_note(struct bench_results *r, const char *fmt, ...)
{
	va_list ap;

	if (r->nnote >= sizeof(r->note) / sizeof(r->note[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(r->note[r->nnote++], sizeof(r->note[0]), fmt, ap);
	va_end(ap);
}

int bench_lat_add(struct bench_lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 65536;
		uint64_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = ns;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

double bench_lat_pct_us(struct bench_lat *l, double p)
{
	size_t i;

	if (!l->n)
		return 0;
	qsort(l->v, l->n, sizeof(*l->v), cmp_u64);
	/* nearest rank */
	i = (size_t)(p / 100.0 * (double)l->n + 0.5);
	if (i > 0)
		i--;
	if (i >= l->n)
		i = l->n - 1;
	return (double)l->v[i] / 1000.0;
}

void bench_lat_free(struct bench_lat *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* ---- snapshots ---------------------------------------------------------- */

static int self_cpu_rusage(struct bench_snap *s)
{
	struct timespec ts;
	struct rusage ru;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return -errno;
	if (getrusage(RUSAGE_THREAD, &ru) < 0)
		return -errno;
	s->cpu_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	s->have_cpu = true;
	s->vcs = (uint64_t)ru.ru_nvcsw;
	s->ivcs = (uint64_t)ru.ru_nivcsw;
	return 0;
}

int bench_snap_self_begin(struct bench_snap *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	err = self_cpu_rusage(s);
	if (err)
		return err;
	if (bench_self_sysfd >= 0) {
		err = rfs_pc_read(bench_self_sysfd, &s->sys);
		if (err)
			return err;
		s->have_sys = true;
	}
	s->ok = true;
	return 0;
}

int bench_snap_self_end(struct bench_snap *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	if (bench_self_sysfd >= 0) {
		err = rfs_pc_read(bench_self_sysfd, &s->sys);
		if (err)
			return err;
		s->have_sys = true;
	}
	err = self_cpu_rusage(s);
	if (err)
		return err;
	s->ok = true;
	return 0;
}

int bench_snap_proc(const struct bench_proc *p, struct bench_snap *s)
{
	uint64_t v[RFS_PC_NKIND];
	int err;

	memset(s, 0, sizeof(*s));
	if (p->pid <= 0)
		return 0; /* not measured */
	if (p->have_pc) {
		err = rfs_pc_set_read(&p->pc, v);
		if (err)
			return err;
		s->sys = v[RFS_PC_SYSCALLS];
		s->have_sys = true;
		s->cpu_ns = v[RFS_PC_TASK_CLOCK];
		s->have_cpu = p->pc.have[RFS_PC_TASK_CLOCK];
	}
	err = rfs_pc_proc_ctxsw(p->pid, &s->vcs, &s->ivcs);
	if (err)
		return err;
	s->ok = true;
	return 0;
}

void bench_side_fill(struct bench_side_res *r, const struct bench_snap *a,
		     const struct bench_snap *b, uint64_t ops, bool self)
{
	double n = ops ? (double)ops : 1.0;

	r->valid = a->ok && b->ok && ops;
	r->sys = r->cpu_us = r->vcs = r->ivcs = -1;
	if (!r->valid)
		return;
	if (a->have_sys && b->have_sys) {
		uint64_t d = b->sys - a->sys;

		if (self)
			d = d > bench_self_overhead ? d - bench_self_overhead :
						      0;
		r->sys = (double)d / n;
	}
	if (a->have_cpu && b->have_cpu)
		r->cpu_us = (double)(b->cpu_ns - a->cpu_ns) / 1000.0 / n;
	r->vcs = (double)(b->vcs - a->vcs) / n;
	r->ivcs = (double)(b->ivcs - a->ivcs) / n;
}

/* Open the counter on this thread and measure the empty bracket. */
static void self_counter_init(struct bench_results *res)
{
	struct bench_snap a, b;
	uint64_t best = UINT64_MAX;
	int fd;

	fd = rfs_pc_open(RFS_PC_SYSCALLS, 0, false, false);
	if (fd < 0) {
		bench_note(res,
			   "syscall counting unavailable "
			   "(perf_event_open raw_syscalls:sys_enter: %s): "
			   "syscall columns are n/a",
			   strerror(-fd));
		rfs_warn("bench: perf_event_open: %s: syscalls not counted",
			 strerror(-fd));
		return;
	}
	bench_self_sysfd = fd;
	for (int i = 0; i < 5; i++) {
		if (bench_snap_self_begin(&a) || bench_snap_self_end(&b))
			continue;
		if (b.sys - a.sys < best)
			best = b.sys - a.sys;
	}
	bench_self_overhead = best == UINT64_MAX ? 0 : best;
}

/* ---- children and signals ---------------------------------------------- */

static void child_add(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (!children[i]) {
			children[i] = pid;
			return;
		}
}

static void child_del(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static void on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0)
			kill(children[i], SIGTERM);
}

static void kill_children_atexit(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

static int setup_signals(void)
{
	struct sigaction sa;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking waits see EINTR */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -errno;
	if (atexit(kill_children_atexit))
		return -ENOMEM;
	return 0;
}

/* ---- ringfsd -------------------------------------------------------- */

static bool drain_verbose;

static void *drain_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	ssize_t n;

	/* this thread's syscalls are not the measured thread's: fine */
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (drain_verbose)
			(void)!write(STDERR_FILENO, buf, (size_t)n);
	}
	close(fd);
	return NULL;
}

/* read lines from fd until "listening on ADDR" shows; ADDR into out */
static int wait_ready(int fd, char *out, size_t outsz, bool verbose)
{
	char buf[8192];
	size_t used = 0;
	long long end = bench_now_ns() + READY_TIMEOUT_MS * 1000000LL;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = (end - bench_now_ns()) / 1000000;
		char *nl, *s;
		ssize_t n;
		int rc;

		if (left <= 0) {
			rfs_err("bench: ringfsd: no ready line within %d ms",
				READY_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		rc = poll(&p, 1, (int)left);
		if (rc < 0) {
			if (errno == EINTR && !bench_interrupted)
				continue;
			return -errno;
		}
		if (rc == 0)
			continue;
		if (used >= sizeof(buf) - 1)
			used = 0; /* an absurd line: drop it */
		n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			buf[used] = 0;
			rfs_err("bench: ringfsd exited before it was ready%s%s",
				used ? ": " : "", buf);
			return -ECHILD;
		}
		used += (size_t)n;
		buf[used] = 0;
		while ((nl = strchr(buf, '\n'))) {
			*nl = 0;
			if (verbose)
				fprintf(stderr, "  [ringfsd] %s\n", buf);
			s = strstr(buf, "listening on ");
			if (s) {
				s += strlen("listening on ");
				snprintf(out, outsz, "%.*s",
					 (int)strcspn(s, " ,"), s);
				return 0;
			}
			used -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, used + 1);
		}
	}
}

/*
 * Does this ringfsd know option `opt`?  Its --help says (run once, its
 * output read through a pipe, bounded in time).
 */
static bool server_has_opt(const char *server, const char *opt)
{
	static char help[16384];
	static bool done;
	long long end = bench_now_ns() + READY_TIMEOUT_MS * 1000000LL;
	size_t used = 0;
	int p[2];
	pid_t pid;

	if (done)
		return strstr(help, opt) != NULL;
	done = true;
	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(126);
		execl(server, server, "--help", (char *)NULL);
		_exit(127);
	}
	child_add(pid);
	close(p[1]);
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		long long left = (end - bench_now_ns()) / 1000000;
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		n = read(p[0], help + used, sizeof(help) - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == sizeof(help) - 1)
			break;
	}
	help[used] = 0;
	close(p[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	child_del(pid);
	return strstr(help, opt) != NULL;
}

int bench_server_start(const struct bench_opts *o, const char *xprt,
		       const char *dir, struct bench_server *s)
{
	char exp[PATH_MAX + 64], state[PATH_MAX + 16], bound[160];
	char unixaddr[sizeof(s->sock) + 8];
	char listen_addr[80];
	const char *argv[24];
	int go[2] = { -1, -1 }, errp[2] = { -1, -1 }, argc = 0, err;
	pthread_t thr;
	pid_t pid;
	char c = 0;

	memset(s, 0, sizeof(*s));
	s->err_fd = -1;
	snprintf(state, sizeof(state), "%s/state", dir);
	/*
	 * RINGFS_BENCH_ADDR: the address to serve on (default loopback);
	 * rdma under rxe needs the device's address, e.g. in the test VM.
	 */
	const char *ip = getenv("RINGFS_BENCH_ADDR");

	if (!ip || !*ip || strlen(ip) > 64)
		ip = "127.0.0.1";
	snprintf(listen_addr, sizeof(listen_addr), "%s:0", ip);
	/*
	 * Off loopback, the (root) bench client's privileged source port
	 * counts only with privport=any (ringfsd(8), TRUST).
	 */
	snprintf(exp, sizeof(exp), "%s=%s/export,no_root_squash%s",
		 BENCH_EXPORT, dir,
		 strcmp(ip, "127.0.0.1") ? ",privport=any" : "");
	argv[argc++] = o->server;
	argv[argc++] = "--listen";
	argv[argc++] = listen_addr;
	if (strcmp(ip, "127.0.0.1"))
		argv[argc++] = "--insecure"; /* a test host of our own */
	argv[argc++] = "--export";
	argv[argc++] = exp;
	argv[argc++] = "--state-dir";
	argv[argc++] = state;
	if (!strcmp(xprt, "tcp") || !strncmp(xprt, "uring", 5)) {
		argv[argc++] = "--transport";
		argv[argc++] = strcmp(xprt, "tcp") ? "uring" : "tcp";
		if (!strcmp(xprt, "uring+exec"))
			argv[argc++] = "--exec-thread";
	} else if (!strcmp(xprt, "shm")) {
		snprintf(s->sock, sizeof(s->sock), "%s/shm.sock", dir);
		if (server_has_opt(o->server, "--listen-unix")) {
			argv[argc++] = "--listen-unix";
			argv[argc++] = s->sock;
		} else {
			/* the one listener, on a Unix socket: it sniffs shm */
			snprintf(unixaddr, sizeof(unixaddr), "unix:%s",
				 s->sock);
			argv[2] = unixaddr;
		}
	} else if (!strcmp(xprt, "rdma")) {
		argv[argc++] = "--listen-rdma";
		argv[argc++] = ip;
	}
	argv[argc] = NULL;

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		err = -errno;
		rfs_err("bench: pipe: %s", strerror(-err));
		goto err_pipes;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		rfs_err("bench: fork: %s", strerror(-err));
		goto err_pipes;
	}
	if (pid == 0) {
		/* never outlive the benchmark, even after a SIGKILL */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(errp[1], STDERR_FILENO) < 0)
			_exit(126);
		/* wait until the parent has its counters on us */
		if (read(go[0], &c, 1) != 1)
			_exit(126);
		execv(o->server, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", o->server, strerror(errno));
		_exit(127);
	}
	child_add(pid);
	s->proc.pid = pid;
	close(go[0]);
	close(errp[1]);
	go[0] = errp[1] = -1;

	err = rfs_pc_set_exec(&s->proc.pc, pid);
	if (err == 0)
		s->proc.have_pc = true;
	else if (bench_self_sysfd >= 0)
		rfs_warn("bench: counters on ringfsd: %s: server syscalls "
			 "not counted",
			 strerror(-err));
	if (write(go[1], &c, 1) != 1) {
		err = -errno;
		rfs_err("bench: starting ringfsd: %s", strerror(-err));
		goto err_kill;
	}
	close(go[1]);
	go[1] = -1;

	err = wait_ready(errp[0], bound, sizeof(bound), o->verbose);
	if (err)
		goto err_kill;
	if (s->sock[0])
		snprintf(s->addr, sizeof(s->addr), "unix:%s", s->sock);
	else
		snprintf(s->addr, sizeof(s->addr), "%s", bound);
	s->err_fd = errp[0];
	errp[0] = -1;
	drain_verbose = o->verbose;
	if (pthread_create(&thr, NULL, drain_thread,
			   (void *)(intptr_t)s->err_fd)) {
		err = -EAGAIN;
		rfs_err("bench: pthread_create: failed");
		goto err_kill;
	}
	pthread_detach(thr);
	return 0;

err_kill:
	bench_server_stop(s);
	if (s->err_fd >= 0)
		close(s->err_fd);
	s->err_fd = -1;
err_pipes:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return err;
}

/* SIGTERM, wait (bounded), then SIGKILL. */
void bench_server_stop(struct bench_server *s)
{
	long long end = bench_now_ns() + STOP_TIMEOUT_MS * 1000000LL;
	pid_t pid = s->proc.pid;
	int st;

	if (pid <= 0)
		return;
	if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
		rfs_warn("bench: kill ringfsd %d: %s", (int)pid,
			 strerror(errno));
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (bench_now_ns() > end) {
			rfs_warn("bench: ringfsd %d ignores SIGTERM: killing",
				 (int)pid);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		/* a bounded wait for the child, not a synchronisation */
		poll(NULL, 0, 5);
	}
	child_del(pid);
	if (s->proc.have_pc)
		rfs_pc_set_close(&s->proc.pc);
	s->proc.have_pc = false;
	s->proc.pid = 0;
}

/* ---- the temporary export ---------------------------------------------- */

static int write_file(const char *path, bool fill)
{
	static uint64_t chunk[(1u << 20) / 8];
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		rfs_err("bench: create %s: %s", path, strerror(-err));
		return err;
	}
	if (!fill) {
		if (ftruncate(fd, BENCH_FILE_SIZE) < 0)
			err = -errno;
		goto out;
	}
	for (uint64_t off = 0; off < BENCH_FILE_SIZE; off += sizeof(chunk)) {
		/* every 8-byte word holds its own offset: reads are checked */
		for (size_t i = 0; i < sizeof(chunk) / 8; i++)
			chunk[i] = off + i * 8;
		if (pwrite(fd, chunk, sizeof(chunk), (off_t)off) !=
		    (ssize_t)sizeof(chunk)) {
			err = errno ? -errno : -EIO;
			break;
		}
	}
out:
	if (err)
		rfs_err("bench: writing %s: %s", path, strerror(-err));
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

static int make_export(const char *base)
{
	char path[PATH_MAX + 64];
	int err;

	snprintf(export_dir, sizeof(export_dir), "%s/ringfs-bench-XXXXXX",
		 base);
	if (!mkdtemp(export_dir)) {
		err = -errno;
		rfs_err("bench: mkdtemp in %s: %s", base, strerror(-err));
		export_dir[0] = 0;
		return err;
	}
	snprintf(path, sizeof(path), "%s/export", export_dir);
	if (mkdir(path, 0755) < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/state", export_dir);
	if (mkdir(path, 0700) < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/export/%s", export_dir,
		 BENCH_READ_FILE);
	err = write_file(path, true);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/export/%s", export_dir,
		 BENCH_WRITE_FILE);
	return write_file(path, false);
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(p) < 0)
		rfs_warn("bench: remove %s: %s", p, strerror(errno));
	return 0;
}

static void remove_export(void)
{
	if (export_dir[0])
		nftw(export_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	export_dir[0] = 0;
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringfs-bench [options]\n"
		"\n"
		"  --server PATH        ringfsd to start (default: next to this program in\n"
		"                       the build tree, else from PATH)\n"
		"  --transports LIST    comma separated: tcp,uring,uring+sqpoll,shm,rdma\n"
		"                       (default: all; not built: listed as skipped);\n"
		"                       uring+exec (not in all): ringfsd --exec-thread\n"
		"                       none: only the --mount run\n"
		"  --workloads LIST     echo,getattr,read4k,read1m,write1m (default: all)\n"
		"  --qd LIST            queue depths (default 1,32)\n"
		"  --duration S         seconds per cell (default 2)\n"
		"  --ops N              N operations per cell instead of a duration\n"
		"  --json FILE          write the results as JSON\n"
		"  --svg FILE           write a chart: syscalls per op and p50 latency\n"
		"  --mount DIR          also run the workloads through a ringfs mount\n"
		"  --mount-pid PID      the ringfs client daemon of that mount\n"
		"                       (default: found from /proc/*/cmdline)\n"
		"  --server-pid PID     the ringfsd behind that mount (default: the only\n"
		"                       process named ringfsd, if there is one)\n"
		"  --csum               negotiate checksums (default off)\n"
		"  --tmpdir DIR         where the temporary export goes (default /var/tmp)\n"
		"  -v, --verbose        show ringfsd's log\n"
		"  -h, --help\n"
		"\n"
		"Transports built: %s\n",
		rfs_xprt_built());
}

/* split "a,b,c" into list (pointers into s) */
static int split_list(char *s, const char **list, unsigned *n)
{
	char *save = NULL, *tok;

	*n = 0;
	for (tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*n >= BENCH_MAX_LIST)
			return -E2BIG;
		list[(*n)++] = tok;
	}
	return *n ? 0 : -EINVAL;
}

/*
 * Not in the default list: "uring+exec", uring with ringfsd
 * --exec-thread (requests on a second server thread, as rdma always
 * runs them), to measure what that hand-off costs.
 */
static bool known_transport(const char *t)
{
	if (!strcmp(t, "uring+exec"))
		return true;
	for (size_t i = 0; i < sizeof(all_transports) / sizeof(*all_transports);
	     i++)
		if (!strcmp(t, all_transports[i]))
			return true;
	return false;
}

static int find_server(const char *argv0, char *out, size_t outsz)
{
	char self[PATH_MAX], *slash, *path, *save = NULL, *dir;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			int n2 = snprintf(out, outsz, "%s/%s", self,
					  RFS_BENCH_SERVER_REL);

			if (n2 > 0 && (size_t)n2 < outsz &&
			    access(out, X_OK) == 0)
				return 0;
		}
	}
	(void)argv0;
	path = getenv("PATH");
	if (!path)
		return -ENOENT;
	path = strdup(path);
	if (!path)
		return -ENOMEM;
	for (dir = strtok_r(path, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		int n2 = snprintf(out, outsz, "%s/ringfsd", dir);

		if (n2 > 0 && (size_t)n2 < outsz && access(out, X_OK) == 0) {
			free(path);
			return 0;
		}
	}
	free(path);
	return -ENOENT;
}

static int parse_opts(int argc, char **argv, struct bench_opts *o, char *srvbuf,
		      size_t srvsz)
{
	static const struct option lopts[] = {
		{ "server", required_argument, NULL, 'S' },
		{ "transports", required_argument, NULL, 't' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "qd", required_argument, NULL, 'q' },
		{ "duration", required_argument, NULL, 'd' },
		{ "ops", required_argument, NULL, 'n' },
		{ "json", required_argument, NULL, 'j' },
		{ "svg", required_argument, NULL, 'g' },
		{ "mount", required_argument, NULL, 'm' },
		{ "mount-pid", required_argument, NULL, 'M' },
		{ "server-pid", required_argument, NULL, 'P' },
		{ "csum", no_argument, NULL, 'c' },
		{ "tmpdir", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *list[BENCH_MAX_LIST];
	unsigned n;
	char *end;
	int opt;

	memset(o, 0, sizeof(*o));
	o->duration = 2.0;
	o->tmpdir = "/var/tmp";
	o->qd[0] = 1;
	o->qd[1] = 32;
	o->nqd = 2;
	for (int i = 0; i < WL_N; i++)
		o->wl_on[i] = true;
	while ((opt = getopt_long(argc, argv, "vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'S':
			o->server = optarg;
			break;
		case 't':
			if (!strcmp(optarg, "none")) {
				o->no_rpc = true;
				break;
			}
			if (split_list(optarg, o->transports, &o->ntransports))
				goto bad;
			for (unsigned i = 0; i < o->ntransports; i++)
				if (!known_transport(o->transports[i])) {
					rfs_err("--transports: unknown '%s' "
						"(tcp, uring, uring+sqpoll, "
						"uring+exec, shm, rdma)",
						o->transports[i]);
					return -EINVAL;
				}
			break;
		case 'w':
			if (split_list(optarg, list, &n))
				goto bad;
			for (int i = 0; i < WL_N; i++)
				o->wl_on[i] = false;
			for (unsigned i = 0; i < n; i++) {
				int k;

				for (k = 0; k < WL_N; k++)
					if (!strcmp(list[i], bench_wls[k].name))
						break;
				if (k == WL_N) {
					rfs_err("--workloads: unknown '%s' "
						"(echo, getattr, read4k, "
						"read1m, write1m)",
						list[i]);
					return -EINVAL;
				}
				o->wl_on[k] = true;
			}
			break;
		case 'q':
			if (split_list(optarg, list, &n))
				goto bad;
			o->nqd = n;
			for (unsigned i = 0; i < n; i++) {
				unsigned long v;

				errno = 0;
				v = strtoul(list[i], &end, 10);
				if (errno || *end || !v || v > BENCH_MAX_QD) {
					rfs_err("--qd: '%s': expected 1..%u",
						list[i], BENCH_MAX_QD);
					return -EINVAL;
				}
				o->qd[i] = (unsigned)v;
			}
			break;
		case 'd':
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || *end || !(o->duration > 0) ||
			    o->duration > 3600)
				goto bad;
			break;
		case 'n':
			errno = 0;
			o->ops = strtoull(optarg, &end, 10);
			if (errno || *end || !o->ops)
				goto bad;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'g':
			o->svg = optarg;
			break;
		case 'm':
			o->mount = optarg;
			break;
		case 'M':
		case 'P':
			errno = 0;
			n = (unsigned)strtoul(optarg, &end, 10);
			if (errno || *end || !n)
				goto bad;
			if (opt == 'M')
				o->mount_pid = (pid_t)n;
			else
				o->server_pid = (pid_t)n;
			break;
		case 'c':
			o->csum = true;
			break;
		case 'T':
			o->tmpdir = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		rfs_err("unexpected argument '%s' (see --help)", argv[optind]);
		return -EINVAL;
	}
	if (!o->ntransports && !o->no_rpc)
		for (size_t i = 0;
		     i < sizeof(all_transports) / sizeof(*all_transports); i++)
			o->transports[o->ntransports++] = all_transports[i];
	if (!o->server) {
		if (find_server(argv[0], srvbuf, srvsz)) {
			rfs_err("bench: ringfsd not found next to ringfs-bench "
				"nor in PATH: use --server PATH");
			return -ENOENT;
		}
		o->server = srvbuf;
	}
	/* a clean path for the notes; exec works with either */
	{
		char real[PATH_MAX];

		if (realpath(o->server, real) && strlen(real) < srvsz) {
			memcpy(srvbuf, real, strlen(real) + 1);
			o->server = srvbuf;
		}
	}
	return 0;
bad:
	rfs_err("bad value for an option (see --help)");
	return -EINVAL;
}

/* ---- transports --------------------------------------------------------- */

static bool rdma_device_present(void)
{
	DIR *d = opendir("/sys/class/infiniband");
	struct dirent *de;
	bool any = false;

	if (!d)
		return false;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			any = true;
	closedir(d);
	return any;
}

/* why a transport cannot run here, or NULL */
static const char *transport_skip(const char *t, char *buf, size_t sz)
{
	const char *base = strncmp(t, "uring", 5) ? t : "uring";

	if (!rfs_xprt_is_built(base)) {
		snprintf(buf, sz, "skipped: not built (built: %s)",
			 rfs_xprt_built());
		return buf;
	}
	if (!strcmp(t, "rdma") && !rdma_device_present())
		return "skipped: no RDMA device";
	return NULL;
}

static void skip_rows(const struct bench_opts *o, struct bench_results *r,
		      const char *t, const char *why)
{
	for (int w = 0; w < WL_N; w++) {
		if (!o->wl_on[w])
			continue;
		for (unsigned q = 0; q < o->nqd; q++) {
			struct bench_cell *c =
				bench_cell_new(r, t, w, o->qd[q]);

			if (c)
				snprintf(c->skip, sizeof(c->skip), "%s", why);
		}
	}
}

static int run_transport(const struct bench_opts *o, const char *t,
			 struct bench_results *r)
{
	struct bench_server srv;
	char why[160];
	const char *skip = transport_skip(t, why, sizeof(why));
	int err;

	if (skip) {
		skip_rows(o, r, t, skip);
		return 0;
	}
	err = bench_server_start(o, t, export_dir, &srv);
	if (err) {
		snprintf(why, sizeof(why), "failed: ringfsd did not start: %s",
			 strerror(-err));
		skip_rows(o, r, t, why);
		return err;
	}
	err = bench_rpc_run(o, t, &srv, r);
	bench_server_stop(&srv);
	if (!strcmp(t, "rdma") && !err) {
		DIR *d = opendir("/sys/class/infiniband");
		struct dirent *de;
		bool rxe = false;

		while (d && (de = readdir(d)))
			if (!strncmp(de->d_name, "rxe", 3))
				rxe = true;
		if (d)
			closedir(d);
		if (rxe)
			bench_note(r,
				   "rdma runs on rxe (soft RoCE): rxe posts "
				   "work requests with syscalls: these numbers "
				   "measure correctness, not bypass");
	}
	return err;
}

int main(int argc, char **argv)
{
	struct bench_results res;
	struct bench_opts o;
	char srvbuf[PATH_MAX];
	struct utsname un;
	int err, ret = 1, failed = 0;

	rfs_log_init("ringfs-bench");
	memset(&res, 0, sizeof(res));
	if (parse_opts(argc, argv, &o, srvbuf, sizeof(srvbuf)))
		return 2;
	if (setup_signals()) {
		rfs_err("bench: signal setup: %s", strerror(errno));
		return 1;
	}
	if (uname(&un) == 0)
		bench_note(&res,
			   "host: Linux %s, %ld CPUs; %s per cell; "
			   "ringfsd: %s",
			   un.release, sysconf(_SC_NPROCESSORS_ONLN),
			   o.ops ? "fixed ops" : "fixed duration", o.server);
	self_counter_init(&res);
	err = make_export(o.tmpdir);
	if (err) {
		rfs_err("bench: cannot build the test export: %s",
			strerror(-err));
		goto out;
	}
	for (unsigned i = 0; i < o.ntransports && !bench_interrupted; i++) {
		fprintf(stderr, "ringfs-bench: %s...\n", o.transports[i]);
		if (run_transport(&o, o.transports[i], &res))
			failed++;
	}
	if (o.mount && !bench_interrupted) {
		fprintf(stderr, "ringfs-bench: mount %s...\n", o.mount);
		if (bench_mount_run(&o, &res))
			failed++;
	}
	if (bench_interrupted) {
		rfs_err("bench: interrupted");
		goto out;
	}
	bench_print_table(stdout, &res);
	if (o.json && bench_write_json(o.json, &o, &res))
		failed++;
	if (o.svg && bench_write_svg(o.svg, &res))
		failed++;
	ret = failed ? 1 : 0;
out:
	remove_export();
	kill_children_atexit();
	if (bench_self_sysfd >= 0)
		close(bench_self_sysfd);
	free(res.cell);
	return ret;
}
