// SPDX-License-Identifier: MIT
/*
 * status: the client's status file for ringfsctl mounts (status.h).
 * The FUSE path (io_uring or /dev/fuse) and the transport a mount took
 * are decided inside the client process; this file is how an operator
 * sees them without reading the client's log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "obs.h"
#include "status.h"

const char *rfs_status_dir(char *buf, size_t len)
{
	return rfs_run_dir(buf, len); /* common/obs.c: one place decides */
}

static int status_path(char *buf, size_t len, const char *suffix)
{
	char dir[4096];
	int n;

	if (!rfs_status_dir(dir, sizeof(dir)))
		return -ENOENT;
	n = snprintf(buf, len, "%s/client.%d%s", dir, (int)getpid(), suffix);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int rfs_status_write(const struct rfs_status *s)
{
	char dir[4096], path[4200], tmp[4200];
	FILE *f;
	int ret;

	if (!rfs_status_dir(dir, sizeof(dir)))
		return -ENOENT;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	ret = status_path(path, sizeof(path), "");
	if (!ret)
		ret = status_path(tmp, sizeof(tmp), ".tmp");
	if (ret)
		return ret;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f,
		"mountpoint=%s\nsource=%s\ntransport=%s\nfuse=%s\n"
		"passthrough=%s\nloops=%u\npid=%d\n",
		s->mountpoint, s->source, s->transport, s->fuse, s->passthrough,
		s->loops, (int)s->pid);
	if (fclose(f) != 0) {
		ret = -errno;
		unlink(tmp);
		return ret;
	}
	if (rename(tmp, path) < 0) {
		ret = -errno;
		unlink(tmp);
		return ret;
	}
	return 0;
}

void rfs_status_remove(void)
{
	char path[4200];

	if (!status_path(path, sizeof(path), ""))
		unlink(path);
}

static void set(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v);
}

int rfs_status_read(const char *path, struct rfs_status *s)
{
	char line[4200];
	FILE *f = fopen(path, "re");
	int keys = 0;

	if (!f)
		return -errno;
	memset(s, 0, sizeof(*s));
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, '=');

		if (!v)
			continue;
		*v++ = '\0';
		v[strcspn(v, "\n")] = '\0';
		keys++;
		if (!strcmp(line, "mountpoint"))
			set(s->mountpoint, sizeof(s->mountpoint), v);
		else if (!strcmp(line, "source"))
			set(s->source, sizeof(s->source), v);
		else if (!strcmp(line, "transport"))
			set(s->transport, sizeof(s->transport), v);
		else if (!strcmp(line, "fuse"))
			set(s->fuse, sizeof(s->fuse), v);
		else if (!strcmp(line, "passthrough"))
			set(s->passthrough, sizeof(s->passthrough), v);
		else if (!strcmp(line, "loops"))
			s->loops = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(line, "pid"))
			s->pid = (pid_t)strtol(v, NULL, 10);
		else
			keys--;
	}
	fclose(f);
	return keys >= 2 && s->mountpoint[0] && s->pid > 0 ? 0 : -EINVAL;
}
