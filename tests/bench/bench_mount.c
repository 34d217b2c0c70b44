// SPDX-License-Identifier: MIT
/*
 * bench_mount: the same workloads through a mounted ringfs, with plain
 * syscalls from this thread (what fio's psync engine does): stat() for
 * getattr, pread() with O_DIRECT for the reads, pwrite() with O_DIRECT
 * for the writes; queue depth 1 only, and no echo (no syscall does a bare
 * round trip).  Three sides are measured: this thread, the ringfs client
 * daemon (every thread of it), and the ringfsd behind the mount, so the
 * cost of FUSE itself shows beside the transport's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "log.h"

/* is mnt a mount point of a FUSE file system? (from mountinfo) */
static int check_fuse_mount(const char *mnt)
{
	char line[4096], mp[PATH_MAX], fstype[64];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		/* id parent major:minor root mountpoint ... - fstype */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		if (strcmp(mp, mnt))
			continue;
		found = strncmp(fstype, "fuse", 4) ? -EMEDIUMTYPE : 0;
	}
	fclose(f);
	return found;
}

/* read /proc/PID/file into buf, NUL-terminated; length or -errno */
static ssize_t read_proc(pid_t pid, const char *file, char *buf, size_t sz)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sz - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = 0;
	close(fd);
	return n;
}

static bool read_comm(pid_t pid, char *buf, size_t sz)
{
	if (read_proc(pid, "comm", buf, sz) <= 0)
		return false;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

/*
 * The client daemon: a process (not us) with an argument naming the mount
 * point.  Server: the only process called ringfsd.  0 when not found.
 */
static void find_procs(const char *mnt, pid_t *daemon, pid_t *server,
		       unsigned *nservers)
{
	static char cmd[65536];
	struct dirent *de;
	DIR *d = opendir("/proc");

	*nservers = 0;
	if (!d)
		return;
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		char comm[64], real[PATH_MAX];
		ssize_t n;

		if (pid <= 0 || pid == getpid())
			continue;
		if (read_comm(pid, comm, sizeof(comm)) &&
		    !strcmp(comm, "ringfsd")) {
			*server = pid;
			(*nservers)++;
		}
		if (*daemon)
			continue;
		n = read_proc(pid, "cmdline", cmd, sizeof(cmd));
		for (ssize_t i = 0; n > 0 && i < n;
		     i += (ssize_t)strlen(cmd + i) + 1) {
			if (i == 0)
				continue; /* argv[0] */
			if (!strcmp(cmd + i, mnt) ||
			    (realpath(cmd + i, real) && !strcmp(real, mnt))) {
				*daemon = pid;
				break;
			}
		}
	}
	closedir(d);
	if (*nservers != 1)
		*server = 0;
}

/* "fuse/uring" when the daemon's command line says transport=uring */
static void mount_label(pid_t daemon, char *out, size_t sz)
{
	static char cmd[65536];
	ssize_t n = daemon ? read_proc(daemon, "cmdline", cmd, sizeof(cmd)) :
			     -1;

	snprintf(out, sz, "fuse");
	/* one string: the option may be in any argument */
	for (ssize_t i = 0; n > 0 && i < n; i++)
		if (!cmd[i])
			cmd[i] = ',';
	if (n > 0) {
		char *t = strstr(cmd, "transport=");

		if (t) {
			t += strlen("transport=");
			snprintf(out, sz, "fuse/%.*s", (int)strcspn(t, ", "),
				 t);
		}
	}
}

struct mnt_ctx {
	int rfd, wfd;
	char rpath[PATH_MAX + 64];
	void *buf; /* 1 MiB, 4 KiB aligned */
	uint64_t rng;
};

static int mnt_op(struct mnt_ctx *m, int wl, uint64_t *off_used)
{
	uint32_t io = bench_wls[wl].bytes;
	uint64_t off = 0, w;
	struct stat st;
	ssize_t n;

	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	switch (wl) {
	case WL_GETATTR:
		if (stat(m->rpath, &st) < 0)
			return -errno;
		return st.st_size == BENCH_FILE_SIZE ? 0 : -EIO;
	case WL_WRITE1M:
		off = (m->rng % (BENCH_FILE_SIZE / io)) * io;
		n = pwrite(m->wfd, m->buf, io, (off_t)off);
		break;
	default:
		off = (m->rng % (BENCH_FILE_SIZE / io)) * io;
		n = pread(m->rfd, m->buf, io, (off_t)off);
		if (n == (ssize_t)io) {
			memcpy(&w, m->buf, sizeof(w));
			if (w != off)
				return -EBADMSG;
		}
		break;
	}
	*off_used = off;
	if (n < 0)
		return -errno;
	return n == (ssize_t)io ? 0 : -EIO;
}

static int mnt_loop(struct mnt_ctx *m, int wl, long long dur_ns,
		    uint64_t max_ops, struct bench_lat *lat, uint64_t *ops,
		    double *secs)
{
	long long t0 = bench_now_ns(), end = t0 + dur_ns;
	uint64_t off = 0;
	int err = 0;

	*ops = 0;
	while (!bench_interrupted) {
		long long a = bench_now_ns(), b;

		err = mnt_op(m, wl, &off);
		if (err) {
			rfs_err("bench: mount %s at %llu: %s",
				bench_wls[wl].name, (unsigned long long)off,
				strerror(-err));
			break;
		}
		b = bench_now_ns();
		(*ops)++;
		if (lat) {
			err = bench_lat_add(lat, (uint64_t)(b - a));
			if (err)
				break;
		}
		if (max_ops ? *ops >= max_ops : b >= end)
			break;
	}
	if (bench_interrupted && !err)
		err = -EINTR;
	*secs = (double)(bench_now_ns() - t0) / 1e9;
	return err;
}

static int open_direct(const char *path, int flags, bool *direct)
{
	int fd = open(path, flags | O_DIRECT | O_CLOEXEC);

	*direct = true;
	if (fd < 0 && errno == EINVAL) {
		*direct = false;
		fd = open(path, flags | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

static int make_file(const char *path, bool fill, void *buf)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (!fill) {
		if (ftruncate(fd, BENCH_FILE_SIZE) < 0)
			err = -errno;
		goto out;
	}
	for (uint64_t off = 0; off < BENCH_FILE_SIZE; off += 1u << 20) {
		uint64_t *w = buf;

		for (size_t i = 0; i < (1u << 20) / 8; i++)
			w[i] = off + i * 8;
		if (pwrite(fd, buf, 1u << 20, (off_t)off) != 1 << 20) {
			err = errno ? -errno : -EIO;
			goto out;
		}
	}
	if (fsync(fd) < 0)
		err = -errno;
out:
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

static int mount_cell(const struct bench_opts *o, struct mnt_ctx *m,
		      struct bench_proc *dmn, struct bench_proc *srv,
		      struct bench_cell *c)
{
	struct bench_snap ca, cb, da, db, sa, sb;
	long long dur = (long long)(o->duration * 1e9);
	struct bench_lat lat = { 0 };
	uint64_t ops, wops = o->ops ? (o->ops / 10 ? o->ops / 10 : 1) : 0;
	uint16_t op = bench_wl_op(c->wl);
	struct bench_obs_snap dha, dhb, sha, shb;
	struct bench_obs dob, sob;
	double secs;
	int err;

	err = mnt_loop(m, c->wl,
		       dur / 10 < 200000000LL ? dur / 10 : 200000000LL, wops,
		       NULL, &ops, &secs);
	if (err)
		return err;
	/* the daemons' own histograms of the op (their counters files) */
	bench_obs_attach(&dob, dmn->pid, false);
	bench_obs_attach(&sob, srv->pid, true);
	bench_obs_snap(&dob, op, &dha);
	bench_obs_snap(&sob, op, &sha);
	if ((err = bench_snap_proc(srv, &sa)) ||
	    (err = bench_snap_proc(dmn, &da)) ||
	    (err = bench_snap_self_begin(&ca)))
		goto out;
	err = mnt_loop(m, c->wl, dur, o->ops, &lat, &ops, &secs);
	if (!err)
		err = bench_snap_self_end(&cb);
	if (!err)
		err = bench_snap_proc(dmn, &db);
	if (!err)
		err = bench_snap_proc(srv, &sb);
	if (err)
		goto out;
	bench_obs_snap(&dob, op, &dhb);
	bench_obs_snap(&sob, op, &shb);
	bench_obs_fill(&c->hist[SIDE_DAEMON], op, &dha, &dhb);
	bench_obs_fill(&c->hist[SIDE_SERVER], op, &sha, &shb);
	c->ops = ops;
	c->secs = secs;
	c->ops_s = secs > 0 ? (double)ops / secs : 0;
	c->mb_s = c->ops_s * bench_wls[c->wl].bytes / 1e6;
	c->p50_us = bench_lat_pct_us(&lat, 50);
	c->p99_us = bench_lat_pct_us(&lat, 99);
	bench_side_fill(&c->side[SIDE_CLIENT], &ca, &cb, ops, true);
	if (dmn->pid)
		bench_side_fill(&c->side[SIDE_DAEMON], &da, &db, ops, false);
	if (srv->pid)
		bench_side_fill(&c->side[SIDE_SERVER], &sa, &sb, ops, false);
out:
	bench_obs_detach(&dob);
	bench_obs_detach(&sob);
	bench_lat_free(&lat);
	return err;
}

static void proc_attach(struct bench_proc *p, pid_t pid, const char *what,
			struct bench_results *r)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	if (!pid)
		return;
	err = rfs_pc_set_attach(&p->pc, pid);
	if (err) {
		bench_note(r, "mount: counters on the %s (pid %d): %s", what,
			   (int)pid, strerror(-err));
		return;
	}
	p->have_pc = true;
}

int bench_mount_run(const struct bench_opts *o, struct bench_results *r)
{
	struct bench_proc dmn, srv;
	struct mnt_ctx m = { .rfd = -1,
			     .wfd = -1,
			     .rng = 0x2545f4914f6cdd1dull };
	char mnt[PATH_MAX], wpath[PATH_MAX + 64], label[32];
	pid_t dpid = o->mount_pid, spid = o->server_pid, fdpid = 0, fspid = 0;
	unsigned nsrv = 0;
	bool direct_r, direct_w;
	int err;

	memset(&dmn, 0, sizeof(dmn));
	memset(&srv, 0, sizeof(srv));
	if (!realpath(o->mount, mnt)) {
		err = -errno;
		rfs_err("bench: --mount %s: %s", o->mount, strerror(-err));
		return err;
	}
	err = check_fuse_mount(mnt);
	if (err) {
		rfs_err("bench: --mount %s: %s", mnt,
			err == -ENOENT ? "not a mount point" :
					 "not a FUSE mount");
		return err;
	}
	find_procs(mnt, &fdpid, &fspid, &nsrv);
	if (!dpid)
		dpid = fdpid;
	if (!spid)
		spid = fspid;
	if (!dpid)
		bench_note(r,
			   "mount: no process names %s on its command line:"
			   " daemon side not measured (use --mount-pid)",
			   mnt);
	if (!spid)
		bench_note(r,
			   "mount: %u processes called ringfsd: server "
			   "side not measured (use --server-pid)",
			   nsrv);
	mount_label(dpid, label, sizeof(label));

	if (posix_memalign(&m.buf, 4096, 1u << 20)) {
		err = -ENOMEM;
		goto out;
	}
	snprintf(m.rpath, sizeof(m.rpath), "%s/.ringfs-bench-%d-r.dat", mnt,
		 (int)getpid());
	snprintf(wpath, sizeof(wpath), "%s/.ringfs-bench-%d-w.dat", mnt,
		 (int)getpid());
	err = make_file(m.rpath, true, m.buf);
	if (!err)
		err = make_file(wpath, false, m.buf);
	if (err) {
		rfs_err("bench: creating test files in %s: %s", mnt,
			strerror(-err));
		goto out_unlink;
	}
	m.rfd = open_direct(m.rpath, O_RDONLY, &direct_r);
	m.wfd = open_direct(wpath, O_WRONLY, &direct_w);
	if (m.rfd < 0 || m.wfd < 0) {
		err = m.rfd < 0 ? m.rfd : m.wfd;
		rfs_err("bench: opening test files in %s: %s", mnt,
			strerror(-err));
		goto out_unlink;
	}
	if (!direct_r || !direct_w)
		bench_note(r, "mount: O_DIRECT refused: reads/writes go "
			      "through the page cache");
	proc_attach(&dmn, dpid, "client daemon", r);
	proc_attach(&srv, spid, "server", r);
	bench_note(r,
		   "mount %s: client = the benchmark thread (syscalls as "
		   "fio psync), daemon = pid %d, server = pid %d",
		   mnt, (int)dpid, (int)spid);

	for (int w = 0; w < WL_N && !err; w++) {
		if (!o->wl_on[w])
			continue;
		for (unsigned q = 0; q < o->nqd && !err; q++) {
			struct bench_cell *c =
				bench_cell_new(r, label, w, o->qd[q]);

			if (!c) {
				err = -ENOMEM;
				break;
			}
			if (w == WL_ECHO) {
				snprintf(c->skip, sizeof(c->skip),
					 "n/a: no "
					 "syscall is a bare round trip");
				continue;
			}
			if (o->qd[q] != 1) {
				snprintf(c->skip, sizeof(c->skip),
					 "n/a: mount "
					 "mode runs plain syscalls at QD1");
				continue;
			}
			err = mount_cell(o, &m, &dmn, &srv, c);
			if (err)
				snprintf(c->skip, sizeof(c->skip), "failed: %s",
					 strerror(-err));
		}
	}
	if (dmn.have_pc)
		rfs_pc_set_close(&dmn.pc);
	if (srv.have_pc)
		rfs_pc_set_close(&srv.pc);
out_unlink:
	if (m.rfd >= 0)
		close(m.rfd);
	if (m.wfd >= 0)
		close(m.wfd);
	if (unlink(m.rpath) < 0 && errno != ENOENT)
		rfs_warn("bench: unlink %s: %s", m.rpath, strerror(errno));
	if (unlink(wpath) < 0 && errno != ENOENT)
		rfs_warn("bench: unlink %s: %s", wpath, strerror(errno));
out:
	free(m.buf);
	return err;
}
