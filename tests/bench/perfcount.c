// SPDX-License-Identifier: MIT
/*
 * perfcount: perf_event_open(2) counters for exact syscall counts, CPU
 * time and context switches (see perfcount.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "perfcount.h"

static const char *const tp_paths[] = {
	"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
	"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
};

static int read_u64_file(const char *path, uint64_t *v)
{
	char buf[64], *end;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	buf[n] = 0;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		err = -EINVAL;
out:
	close(fd);
	return err;
}

/*
 * Nothing mounted where tracefs usually lives: mount it privately, read
 * the id, unmount.  Leaves the system as it found it.
 */
static int tp_id_private_mount(uint64_t *id)
{
	char dir[] = "/tmp/rfs-tracefs-XXXXXX", path[128];
	int err;

	if (!mkdtemp(dir))
		return -errno;
	if (mount("nodev", dir, "tracefs", 0, NULL) < 0) {
		err = -errno;
		goto out_rmdir;
	}
	snprintf(path, sizeof(path), "%s/events/raw_syscalls/sys_enter/id",
		 dir);
	err = read_u64_file(path, id);
	if (umount2(dir, MNT_DETACH) < 0)
		rfs_warn("perfcount: umount %s: %s", dir, strerror(errno));
out_rmdir:
	if (rmdir(dir) < 0)
		rfs_warn("perfcount: rmdir %s: %s", dir, strerror(errno));
	return err;
}

int rfs_pc_syscall_tp_id(uint64_t *id)
{
	int err = -ENOENT;

	for (size_t i = 0; i < sizeof(tp_paths) / sizeof(tp_paths[0]); i++) {
		err = read_u64_file(tp_paths[i], id);
		if (err == 0)
			return 0;
	}
	if (err == -EACCES || err == -EPERM)
		return err;
	err = tp_id_private_mount(id);
	/* no tracefs at all, or we may not mount it: no tracepoint for us */
	if (err == -ENODEV || err == -ENOTDIR)
		err = -ENOENT;
	return err;
}

static uint64_t tp_id_cached;

int rfs_pc_open(enum rfs_pc_kind kind, pid_t pid, bool inherit, bool on_exec)
{
	struct perf_event_attr a;
	int fd, err;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	switch (kind) {
	case RFS_PC_SYSCALLS:
		if (!tp_id_cached) {
			err = rfs_pc_syscall_tp_id(&tp_id_cached);
			if (err)
				return err;
		}
		a.type = PERF_TYPE_TRACEPOINT;
		a.config = tp_id_cached;
		break;
	case RFS_PC_TASK_CLOCK:
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_TASK_CLOCK;
		break;
	case RFS_PC_CTXSW:
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_CONTEXT_SWITCHES;
		break;
	default:
		return -EINVAL;
	}
	/* user and kernel side both count: a syscall is a kernel entry */
	a.inherit = inherit;
	a.disabled = on_exec;
	a.enable_on_exec = on_exec;
	a.read_format = 0;
	fd = (int)syscall(SYS_perf_event_open, &a, pid, -1, -1,
			  PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

int rfs_pc_read(int fd, uint64_t *v)
{
	ssize_t n = read(fd, v, sizeof(*v));

	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(*v))
		return -EIO;
	return 0;
}

static int set_grow(struct rfs_pc_set *s, unsigned n)
{
	int *fd = realloc(s->fd, (size_t)n * RFS_PC_NKIND * sizeof(*fd));

	if (!fd)
		return -ENOMEM;
	for (unsigned i = s->n * RFS_PC_NKIND; i < n * RFS_PC_NKIND; i++)
		fd[i] = -1;
	s->fd = fd;
	s->n = n;
	return 0;
}

/* Open the kinds for one task into slot i; the syscall counter must work. */
static int set_open_task(struct rfs_pc_set *s, unsigned i, pid_t tid,
			 bool on_exec)
{
	for (int k = 0; k < RFS_PC_NKIND; k++) {
		int fd = rfs_pc_open((enum rfs_pc_kind)k, tid, true, on_exec);

		if (fd < 0) {
			if (k == RFS_PC_SYSCALLS)
				return fd;
			if (i == 0)
				rfs_warn("perfcount: counter %d on %d: %s", k,
					 (int)tid, strerror(-fd));
			s->have[k] = false;
			continue;
		}
		s->fd[i * RFS_PC_NKIND + (unsigned)k] = fd;
	}
	return 0;
}

static void set_init(struct rfs_pc_set *s)
{
	memset(s, 0, sizeof(*s));
	for (int k = 0; k < RFS_PC_NKIND; k++)
		s->have[k] = true;
}

int rfs_pc_set_exec(struct rfs_pc_set *s, pid_t child)
{
	int err;

	set_init(s);
	err = set_grow(s, 1);
	if (err)
		return err;
	err = set_open_task(s, 0, child, true);
	if (err)
		rfs_pc_set_close(s);
	return err;
}

int rfs_pc_set_attach(struct rfs_pc_set *s, pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int err = 0;

	set_init(s);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0)
			continue;
		err = set_grow(s, s->n + 1);
		if (err)
			goto out;
		err = set_open_task(s, s->n - 1, tid, false);
		if (err == -ESRCH) { /* the thread just exited */
			s->n--;
			err = 0;
		}
		if (err)
			goto out;
	}
	if (errno)
		err = -errno;
	if (!err && !s->n)
		err = -ESRCH;
out:
	closedir(d);
	if (err)
		rfs_pc_set_close(s);
	return err;
}

int rfs_pc_set_read(const struct rfs_pc_set *s, uint64_t v[RFS_PC_NKIND])
{
	for (int k = 0; k < RFS_PC_NKIND; k++)
		v[k] = 0;
	for (unsigned i = 0; i < s->n * RFS_PC_NKIND; i++) {
		uint64_t x;
		int err;

		if (s->fd[i] < 0)
			continue;
		err = rfs_pc_read(s->fd[i], &x);
		if (err)
			return err;
		v[i % RFS_PC_NKIND] += x;
	}
	return 0;
}

void rfs_pc_set_close(struct rfs_pc_set *s)
{
	for (unsigned i = 0; i < s->n * RFS_PC_NKIND; i++)
		if (s->fd[i] >= 0)
			close(s->fd[i]);
	free(s->fd);
	s->fd = NULL;
	s->n = 0;
}

static int status_field(const char *path, uint64_t *vol, uint64_t *invol)
{
	char line[256];
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long x;

		if (sscanf(line, "voluntary_ctxt_switches: %llu", &x) == 1)
			*vol += x;
		else if (sscanf(line, "nonvoluntary_ctxt_switches: %llu", &x) ==
			 1)
			*invol += x;
	}
	fclose(f);
	return 0;
}

int rfs_pc_proc_ctxsw(pid_t pid, uint64_t *vol, uint64_t *invol)
{
	char path[96];
	struct dirent *de;
	DIR *d;
	int err = 0;

	*vol = *invol = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status",
			 (int)pid, de->d_name);
		err = status_field(path, vol, invol);
		if (err == -ENOENT) /* the thread just exited */
			err = 0;
		if (err)
			break;
	}
	if (!err && errno)
		err = -errno;
	closedir(d);
	return err;
}
