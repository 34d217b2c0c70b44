// SPDX-License-Identifier: MIT
/*
 * groups: the supplementary groups of a FUSE request's caller.
 *
 * FUSE gives the daemon the caller's pid, fsuid and fsgid, nothing more.
 * The rest is where libfuse's fuse_req_getgroups() reads it: the
 * "Groups:" line of /proc/PID/task/PID/status (FUSE's pid is the calling
 * thread's id, and credentials are per thread).  The server applies the
 * list with the export's squash rules (proto/ringfs_proto.h, "since 1.2").
 *
 * Cost: one open, read and close of a /proc file, whose whole text the
 * kernel formats on every read (measured by the unit test client_groups:
 * tens of microseconds, the order of a whole 4 KiB read through the
 * mount).  So each loop thread keeps a small cache keyed by (pid, uid,
 * gid): an answer is reused for ttl_ms (mount option groups_ttl, default
 * 1 s; 0 reads every time).
 *
 * The race, accepted and documented (README, doc/semantics.md): a thread
 * that changes its groups with setgroups() but keeps its fsuid and fsgid
 * is seen with its old groups for up to ttl_ms.  Dropping privileges the
 * usual way (setgroups, then setgid/setuid) changes the key and is seen
 * at once.  A thread id reused by a new thread with the same ids within
 * ttl_ms would be given the old thread's groups.  Reading /proc at all is
 * racy in the same way libfuse's is: the groups are read after the
 * request was made, and a thread that exited leaves none (the request is
 * then sent with none: the gid alone, the 1.0 behaviour).  The fs ids in
 * the status file must match the request's, so a recycled pid of another
 * user never lends its groups.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "groups.h"
#include "log.h"
#include "ringfs_proto.h"
#include "spin.h"

#define GC_SLOTS 64u	 /* per loop thread, direct-mapped */
#define STATUS_MAX 8192u /* more than the lines up to Groups: */

struct gc_ent {
	uint32_t pid, uid, gid, n;
	long long expires_ns; /* 0: empty */
	uint32_t gids[RFS_GROUPS_MAX];
};

static _Thread_local struct gc_ent *tl_gc;
/* without a cache (no memory): one answer, not kept */
static _Thread_local uint32_t tl_one[RFS_GROUPS_MAX];
static _Thread_local uint64_t tl_lookups, tl_reads;
static pthread_key_t gc_key;
static pthread_once_t gc_once = PTHREAD_ONCE_INIT;
static int gc_key_err;

static void gc_key_init(void)
{
	gc_key_err = pthread_key_create(&gc_key, free);
}

static struct gc_ent *cache(void)
{
	struct gc_ent *c;

	if (tl_gc)
		return tl_gc;
	pthread_once(&gc_once, gc_key_init);
	if (gc_key_err)
		return NULL;
	c = calloc(GC_SLOTS, sizeof(*c));
	if (!c)
		return NULL;
	if (pthread_setspecific(gc_key, c)) {
		free(c);
		return NULL;
	}
	tl_gc = c;
	return c;
}

/* the value of the line "key..." (after key), and where it ends */
static const char *field(const char *t, size_t len, const char *key,
			 const char **end)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i + kl <= len;) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - t) : len;

		if (e - i >= kl && !memcmp(t + i, key, kl)) {
			*end = t + e;
			return t + i + kl;
		}
		i = e + 1;
	}
	return NULL;
}

/* the next unsigned number in [*p, end); false when there is none */
static bool next_u32(const char **p, const char *end, uint32_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > UINT32_MAX)
			return false;
	}
	*p = s;
	*v = (uint32_t)x;
	return true;
}

/* the fourth number of an "Uid:"/"Gid:" line: real, effective, saved, fs */
static int fs_id(const char *t, size_t len, const char *key, uint32_t *id)
{
	const char *end, *p = field(t, len, key, &end);

	for (int i = 0; p && i < 4; i++)
		if (!next_u32(&p, end, id))
			return -EINVAL;
	return p ? 0 : -EINVAL;
}

int rfs_groups_parse(const char *text, size_t len, uint32_t *fsuid,
		     uint32_t *fsgid, uint32_t *gids, uint32_t max, uint32_t *n,
		     uint32_t *total)
{
	const char *end, *p;
	uint32_t g;

	*n = 0;
	*total = 0;
	if (fs_id(text, len, "Uid:", fsuid) || fs_id(text, len, "Gid:", fsgid))
		return -EINVAL;
	p = field(text, len, "Groups:", &end);
	if (!p)
		return -EINVAL;
	/* a number cut by the end of what was read is not a group */
	if (end == text + len && len == STATUS_MAX)
		while (end > p && end[-1] >= '0' && end[-1] <= '9')
			end--;
	while (next_u32(&p, end, &g)) {
		if (*n < max)
			gids[(*n)++] = g;
		(*total)++;
	}
	return 0;
}

/* the text has the whole "Groups:" line (it comes after Uid and Gid) */
static bool groups_line_done(const char *t, size_t len)
{
	const char *end, *p = field(t, len, "Groups:", &end);

	return p && end < t + len;
}

/* read the status file of thread pid: its length, or -errno */
static ssize_t read_status(uint32_t pid, char *buf, size_t cap)
{
	char path[64];
	size_t got = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/status", pid, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		/* all we need is up to the Groups line: no read for EOF */
		if (groups_line_done(buf, got))
			break;
	}
	close(fd);
	return err ? err : (ssize_t)got;
}

/* the groups of (pid, uid, gid) from /proc into gids; -errno or count */
static int64_t lookup(uint32_t pid, uint32_t uid, uint32_t gid, uint32_t *gids)
{
	char buf[STATUS_MAX];
	uint32_t fsuid, fsgid, n, total;
	ssize_t len;

	tl_reads++;
	len = read_status(pid, buf, sizeof(buf));
	if (len < 0)
		return len; /* the thread is gone: no groups */
	if (rfs_groups_parse(buf, (size_t)len, &fsuid, &fsgid, gids,
			     RFS_GROUPS_MAX, &n, &total)) {
		rfs_err_rl("client: /proc/%u/task/%u/status: no Uid, Gid or "
			   "Groups line; the caller's groups are not sent",
			   pid, pid);
		return -EINVAL;
	}
	/* another thread behind a recycled id, or the ids changed since */
	if (fsuid != uid || fsgid != gid)
		return -ESRCH;
	if (total > n)
		rfs_err_rl("client: thread %u (uid %u) is in %u supplementary "
			   "groups; only the first %u go to the server",
			   pid, uid, total, n);
	return n;
}

uint32_t rfs_groups_get(uint32_t pid, uint32_t uid, uint32_t gid,
			unsigned ttl_ms, const uint32_t **out)
{
	struct gc_ent *c, *e;
	long long now;
	int64_t n;
	uint32_t slot;

	*out = NULL;
	if (uid == 0 || pid == 0)
		return 0;
	tl_lookups++;
	c = ttl_ms ? cache() : NULL;
	if (!c) {
		n = lookup(pid, uid, gid, tl_one);
		*out = tl_one;
		return n > 0 ? (uint32_t)n : 0;
	}
	slot = (pid * 2654435761u ^ uid * 40503u ^ gid) % GC_SLOTS;
	e = &c[slot];
	now = rfs_now_ns();
	if (e->expires_ns > now && e->pid == pid && e->uid == uid &&
	    e->gid == gid) {
		*out = e->gids;
		return e->n;
	}
	n = lookup(pid, uid, gid, e->gids);
	*out = e->gids;
	if (n < 0) {
		/* not kept: the next request looks again */
		e->expires_ns = 0;
		return 0;
	}
	e->pid = pid;
	e->uid = uid;
	e->gid = gid;
	e->n = (uint32_t)n;
	e->expires_ns = now + (long long)ttl_ms * 1000000;
	return e->n;
}

void rfs_groups_stats(uint64_t *lookups, uint64_t *reads)
{
	*lookups = tl_lookups;
	*reads = tl_reads;
}
