/* SPDX-License-Identifier: MIT */
/*
 * groups: the supplementary groups of a FUSE request's caller (groups.c).
 * No libfuse here, so the unit test links it alone.
 */
#ifndef RFS_CLIENT_GROUPS_H
#define RFS_CLIENT_GROUPS_H

#include <stddef.h>
#include <stdint.h>

/* how long a caller's groups are reused by default, milliseconds */
#define RFS_GROUPS_TTL_MS_DEFAULT 1000u
#define RFS_GROUPS_TTL_MS_MAX 60000u

/*
 * The supplementary groups of thread pid (FUSE's pid is the calling
 * thread's id) whose fsuid and fsgid are uid and gid: at most
 * RFS_GROUPS_MAX gids at *out, valid until the next call on this thread.
 * Returns how many; 0 for none, for root (uid 0: it needs none) and when
 * they cannot be known (pid 0, the thread is gone, its ids changed).  An
 * answer is reused for ttl_ms (0: /proc is read every time).
 */
uint32_t rfs_groups_get(uint32_t pid, uint32_t uid, uint32_t gid,
			unsigned ttl_ms, const uint32_t **out);

/*
 * Parse the text of /proc/PID/task/TID/status (len bytes, need not end in
 * NUL): the fs uid and gid (the fourth fields of "Uid:" and "Gid:") and
 * the "Groups:" list, at most max of them into gids, *total = how many
 * the line has.  Returns 0, or -EINVAL when a line is missing.
 */
int rfs_groups_parse(const char *text, size_t len, uint32_t *fsuid,
		     uint32_t *fsgid, uint32_t *gids, uint32_t max, uint32_t *n,
		     uint32_t *total);

/* cache statistics of the calling thread: lookups, /proc reads */
void rfs_groups_stats(uint64_t *lookups, uint64_t *reads);

#endif /* RFS_CLIENT_GROUPS_H */
