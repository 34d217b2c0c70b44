/* SPDX-License-Identifier: MIT */
/*
 * posix_check: the record/compare framework shared by posix_check.c (main,
 * framework) and posix_cases.c (the operation sequences).
 *
 * Every case runs twice, once in a fresh directory under the mount and once
 * in a fresh directory under a local reference directory.  Each call a case
 * makes is *recorded* (return value, errno, or a value/data/string derived
 * from the result); the two record lists are compared pairwise.  A record
 * may also carry an expectation (an errno, or 0 for success) that the
 * reference run must meet: that catches mistakes in the checker itself.
 */
#ifndef RFS_POSIX_CHECK_H
#define RFS_POSIX_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PC_DESC_MAX 96
#define PC_STR_MAX 200
#define PC_NO_EXPECT (-1)

enum pc_kind {
	PC_RES,	 /* syscall result: ret and errno */
	PC_VAL,	 /* a computed value */
	PC_DATA, /* a byte buffer: length and hash */
	PC_STR,	 /* a string (compared whole by hash, shown cut) */
};

struct pc_rec {
	char desc[PC_DESC_MAX];
	int kind;
	int err;
	int expect;
	long long ret;
	unsigned long long hash;
	char str[PC_STR_MAX];
};

struct pc_ctx {
	const char *test;
	char dir[4096]; /* this case's fresh directory */
	bool is_mount;
	struct pc_rec *v;
	size_t n, cap;
};

/* Path under the case directory; 8 rotating static buffers. */
const char *pc_path(struct pc_ctx *c, const char *rel);

/*
 * Recorders.  The syscall is evaluated as an argument, before the function
 * body reads errno, so errno belongs to that call.
 *   pc_ok:   expects success (r >= 0) on the reference
 *   pc_err:  expects r < 0 with errno e on the reference
 *   pc_any:  no expectation, mount and reference must only agree
 *   pc_fd:   like pc_ok but records only success/failure (fd numbers vary)
 */
long long pc_ok(struct pc_ctx *c, const char *desc, long long r);
long long pc_err(struct pc_ctx *c, const char *desc, long long r, int e);
long long pc_any(struct pc_ctx *c, const char *desc, long long r);
int pc_fd(struct pc_ctx *c, const char *desc, int fd);
void pc_val(struct pc_ctx *c, const char *desc, long long v);
/* A boolean that must be true on the reference. */
void pc_true(struct pc_ctx *c, const char *desc, bool v);
void pc_data(struct pc_ctx *c, const char *desc, const void *buf, size_t len);
void pc_str(struct pc_ctx *c, const char *desc, const char *s);

/* Helpers built on the recorders. */
void pc_stat(struct pc_ctx *c, const char *desc, const char *rel, bool follow);
void pc_file_data(struct pc_ctx *c, const char *desc, const char *rel);
int pc_write_file(const char *path, const void *buf, size_t len, mode_t mode);
void pc_fill(void *buf, size_t len, unsigned seed);
unsigned long long pc_hash(const void *buf, size_t len, unsigned long long h);
#define PC_HASH_INIT 0xcbf29ce484222325ULL

/*
 * Run fn in a forked child, optionally as uid/gid (-1: stay root) with no
 * supplementary groups.  The child's records are appended to c.
 * pc_child_start returns the child pid (or -errno) and a read fd for its
 * records; pc_child_finish collects them.
 */
typedef void (*pc_child_fn)(struct pc_ctx *c, void *arg);
struct pc_child {
	pid_t pid;
	int rfd;
};
int pc_child_start(struct pc_ctx *c, struct pc_child *ch, pc_child_fn fn,
		   void *arg, uid_t uid, gid_t gid);
void pc_child_finish(struct pc_ctx *c, struct pc_child *ch);
void pc_child_run(struct pc_ctx *c, pc_child_fn fn, void *arg, uid_t uid,
		  gid_t gid);
/* the same with supplementary groups (the others: none) */
int pc_child_start_groups(struct pc_ctx *c, struct pc_child *ch, pc_child_fn fn,
			  void *arg, uid_t uid, gid_t gid, const gid_t *groups,
			  size_t ngroups);
void pc_child_run_groups(struct pc_ctx *c, pc_child_fn fn, void *arg, uid_t uid,
			 gid_t gid, const gid_t *groups, size_t ngroups);

struct pc_case {
	const char *name;
	void (*fn)(struct pc_ctx *c);
};
extern const struct pc_case pc_cases[];
extern const size_t pc_ncases;

/* posix_cred.c: modes, groups, suid/sgid, who may move what */
void pc_t_umask(struct pc_ctx *c);
void pc_t_killpriv(struct pc_ctx *c);
void pc_t_groups(struct pc_ctx *c);
void pc_t_mvdir(struct pc_ctx *c);

#endif
