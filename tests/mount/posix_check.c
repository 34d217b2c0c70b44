// SPDX-License-Identifier: MIT
/*
 * posix_check MOUNT_DIR REF_DIR [CASE...]
 *
 * Runs every case (or the named ones) under a fresh subdirectory of
 * MOUNT_DIR and under a fresh subdirectory of REF_DIR, a local directory
 * that is NOT the export (a sibling on the same file system type), and
 * compares every return value, errno and the resulting trees.  Output:
 * "ok N - case: what" / "not ok N - case: what: mount=... ref=...", then
 * "N passed, M failed".  Exit 0 when all passed, 1 otherwise, 2 on usage
 * or setup errors.  Run as root (the permission cases drop to uid 1000 in
 * forked children).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "posix_check.h"

static unsigned n_pass, n_fail, n_check;

unsigned long long pc_hash(const void *buf, size_t len, unsigned long long h)
{
	const unsigned char *p = buf;

	/* FNV-1a: no need for strength, only for equality. */
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void pc_fill(void *buf, size_t len, unsigned seed)
{
	unsigned char *p = buf;
	unsigned x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(x >> 16);
	}
}

const char *pc_path(struct pc_ctx *c, const char *rel)
{
	static char bufs[8][4096 + 512];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", c->dir, rel);
	return b;
}

static struct pc_rec *rec_new(struct pc_ctx *c, const char *desc, int kind)
{
	struct pc_rec *r;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct pc_rec *v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			fprintf(stderr, "posix_check: realloc failed\n");
			exit(2);
		}
		c->v = v;
		c->cap = cap;
	}
	r = &c->v[c->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->desc, sizeof(r->desc), "%s", desc);
	r->kind = kind;
	r->expect = PC_NO_EXPECT;
	return r;
}

static long long res(struct pc_ctx *c, const char *desc, long long ret, int err,
		     int expect)
{
	struct pc_rec *r = rec_new(c, desc, PC_RES);

	r->ret = ret;
	r->err = ret < 0 ? err : 0;
	r->expect = expect;
	return ret;
}

long long pc_ok(struct pc_ctx *c, const char *desc, long long r)
{
	return res(c, desc, r, errno, 0);
}

long long pc_err(struct pc_ctx *c, const char *desc, long long r, int e)
{
	return res(c, desc, r, errno, e);
}

long long pc_any(struct pc_ctx *c, const char *desc, long long r)
{
	return res(c, desc, r, errno, PC_NO_EXPECT);
}

int pc_fd(struct pc_ctx *c, const char *desc, int fd)
{
	res(c, desc, fd < 0 ? -1 : 0, errno, 0);
	return fd;
}

void pc_val(struct pc_ctx *c, const char *desc, long long v)
{
	rec_new(c, desc, PC_VAL)->ret = v;
}

void pc_true(struct pc_ctx *c, const char *desc, bool v)
{
	struct pc_rec *r = rec_new(c, desc, PC_VAL);

	r->ret = v;
	r->expect = 1;
}

void pc_data(struct pc_ctx *c, const char *desc, const void *buf, size_t len)
{
	struct pc_rec *r = rec_new(c, desc, PC_DATA);

	r->ret = (long long)len;
	r->hash = pc_hash(buf, len, PC_HASH_INIT);
}

void pc_str(struct pc_ctx *c, const char *desc, const char *s)
{
	struct pc_rec *r = rec_new(c, desc, PC_STR);

	r->ret = (long long)strlen(s);
	r->hash = pc_hash(s, strlen(s), PC_HASH_INIT);
	snprintf(r->str, sizeof(r->str), "%s", s);
}

static void stat_str(const struct stat *st, char *out, size_t len)
{
	/* No inode numbers, no times, no directory sizes (fs layout). */
	snprintf(out, len,
		 "mode=%o nlink=%ju uid=%u gid=%u size=%jd rdev=%u:%u",
		 (unsigned)st->st_mode, (uintmax_t)st->st_nlink,
		 (unsigned)st->st_uid, (unsigned)st->st_gid,
		 S_ISDIR(st->st_mode) ? (intmax_t)-1 : (intmax_t)st->st_size,
		 major(st->st_rdev), minor(st->st_rdev));
}

void pc_stat(struct pc_ctx *c, const char *desc, const char *rel, bool follow)
{
	struct stat st;
	char s[PC_STR_MAX];
	int r;

	r = follow ? stat(pc_path(c, rel), &st) : lstat(pc_path(c, rel), &st);
	if (r < 0)
		snprintf(s, sizeof(s), "error %s", strerrorname_np(errno));
	else
		stat_str(&st, s, sizeof(s));
	pc_str(c, desc, s);
}

void pc_file_data(struct pc_ctx *c, const char *desc, const char *rel)
{
	unsigned long long h = PC_HASH_INIT;
	char buf[65536], s[PC_STR_MAX];
	long long total = 0;
	ssize_t n;
	int fd;

	fd = open(pc_path(c, rel), O_RDONLY);
	if (fd < 0) {
		snprintf(s, sizeof(s), "open: %s", strerrorname_np(errno));
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		h = pc_hash(buf, (size_t)n, h);
		total += n;
	}
	if (n < 0)
		snprintf(s, sizeof(s), "read: %s", strerrorname_np(errno));
	else
		snprintf(s, sizeof(s), "len=%lld hash=%016llx", total, h);
	close(fd);
out:
	pc_str(c, desc, s);
}

int pc_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd, ret = 0;
	ssize_t n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	return ret;
}

/* ---- children ---- */

int pc_child_start(struct pc_ctx *c, struct pc_child *ch, pc_child_fn fn,
		   void *arg, uid_t uid, gid_t gid)
{
	return pc_child_start_groups(c, ch, fn, arg, uid, gid, NULL, 0);
}

int pc_child_start_groups(struct pc_ctx *c, struct pc_child *ch, pc_child_fn fn,
			  void *arg, uid_t uid, gid_t gid, const gid_t *groups,
			  size_t ngroups)
{
	int p[2];
	size_t n0 = c->n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid == 0) {
		close(p[0]);
		if (uid != (uid_t)-1) {
			if (setgroups(ngroups, groups) < 0 ||
			    setresgid(gid, gid, gid) < 0 ||
			    setresuid(uid, uid, uid) < 0) {
				perror("posix_check: drop privileges");
				_exit(3);
			}
		}
		fn(c, arg);
		for (size_t i = n0; i < c->n; i++) {
			if (write(p[1], &c->v[i], sizeof(c->v[i])) !=
			    (ssize_t)sizeof(c->v[i]))
				_exit(4);
		}
		_exit(0);
	}
	close(p[1]);
	ch->pid = pid;
	ch->rfd = p[0];
	return 0;
}

void pc_child_finish(struct pc_ctx *c, struct pc_child *ch)
{
	struct pc_rec r;
	ssize_t n;
	int status;

	while ((n = read(ch->rfd, &r, sizeof(r))) == (ssize_t)sizeof(r))
		*rec_new(c, r.desc, r.kind) = r;
	close(ch->rfd);
	if (waitpid(ch->pid, &status, 0) < 0)
		status = -1;
	/* A crashed or unprivileged-setup-failed child is a failure. */
	pc_true(c, "child exited normally",
		status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

void pc_child_run(struct pc_ctx *c, pc_child_fn fn, void *arg, uid_t uid,
		  gid_t gid)
{
	pc_child_run_groups(c, fn, arg, uid, gid, NULL, 0);
}

void pc_child_run_groups(struct pc_ctx *c, pc_child_fn fn, void *arg, uid_t uid,
			 gid_t gid, const gid_t *groups, size_t ngroups)
{
	struct pc_child ch;
	int r = pc_child_start_groups(c, &ch, fn, arg, uid, gid, groups,
				      ngroups);

	if (r < 0) {
		pc_ok(c, "fork", -1);
		return;
	}
	pc_child_finish(c, &ch);
}

/* ---- the tree snapshot ---- */

static int filter_user_xattrs(char *list, ssize_t len, char **out, size_t *nout)
{
	size_t n = 0;

	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1) {
		if (!strncmp(list + i, "user.", 5))
			out[n++] = list + i;
		if (n == 64)
			break;
	}
	*nout = n;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void snap_entry(struct pc_ctx *c, const char *rel)
{
	char desc[PC_DESC_MAX], s[PC_STR_MAX], extra[128] = "";
	char list[4096], *names[64];
	const char *p = pc_path(c, rel);
	unsigned long long h = PC_HASH_INIT;
	struct stat st;
	ssize_t len;
	size_t nn;

	snprintf(desc, sizeof(desc), "tree %s", rel);
	if (lstat(p, &st) < 0) {
		snprintf(s, sizeof(s), "lstat: %s", strerrorname_np(errno));
		pc_str(c, desc, s);
		return;
	}
	stat_str(&st, s, sizeof(s));
	if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlink(p, t, sizeof(t) - 1);

		if (n < 0)
			n = 0;
		h = pc_hash(t, (size_t)n, h);
		snprintf(extra, sizeof(extra), " target=%016llx", h);
	} else if (S_ISREG(st.st_mode)) {
		snprintf(desc, sizeof(desc), "tree %s data", rel);
		pc_file_data(c, desc, rel);
		snprintf(desc, sizeof(desc), "tree %s", rel);
	}
	/* user.* xattrs, sorted, with value hashes (not on symlinks). */
	len = llistxattr(p, list, sizeof(list));
	if (len > 0 && !filter_user_xattrs(list, len, names, &nn) && nn) {
		h = PC_HASH_INIT;
		qsort(names, nn, sizeof(names[0]), cmp_str);
		for (size_t i = 0; i < nn; i++) {
			char v[8192];
			ssize_t vl = lgetxattr(p, names[i], v, sizeof(v));

			h = pc_hash(names[i], strlen(names[i]) + 1, h);
			if (vl > 0)
				h = pc_hash(v, (size_t)vl, h);
		}
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			 " xattrs=%zu:%016llx", nn, h);
	}
	strncat(s, extra, sizeof(s) - strlen(s) - 1);
	pc_str(c, desc, s);
}

static void snap_dir(struct pc_ctx *c, const char *rel, int depth)
{
	struct dirent **ents;
	char names[PC_STR_MAX] = "", desc[PC_DESC_MAX];
	unsigned long long h = PC_HASH_INIT;
	int n;

	n = scandir(pc_path(c, rel), &ents, NULL, alphasort);
	snprintf(desc, sizeof(desc), "tree %s/ listing", rel);
	if (n < 0) {
		pc_str(c, desc, strerrorname_np(errno));
		return;
	}
	/* The sorted names first, so that a difference shows up once. */
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;

		size_t used = strlen(names);

		h = pc_hash(nm, strlen(nm) + 1, h);
		/* shown cut (the hash has them all): stop when it is full */
		if (used + 2 < sizeof(names)) {
			strncat(names, nm, sizeof(names) - used - 2);
			strcat(names, " ");
		}
	}
	{
		struct pc_rec *r;

		pc_str(c, desc, names);
		r = &c->v[c->n - 1];
		r->hash = h;
	}
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		char sub[2048];

		if (strcmp(nm, ".") && strcmp(nm, "..")) {
			snprintf(sub, sizeof(sub), "%s/%s", rel, nm);
			snap_entry(c, sub);
			if (ents[i]->d_type == DT_DIR && depth < 8)
				snap_dir(c, sub, depth + 1);
		}
		free(ents[i]);
	}
	free(ents);
}

/* ---- running and comparing ---- */

static void fmt_rec(const struct pc_rec *r, char *out, size_t len)
{
	switch (r->kind) {
	case PC_RES:
		if (r->ret < 0)
			snprintf(out, len, "%lld/%s", r->ret,
				 strerrorname_np(r->err) ?: "?");
		else
			snprintf(out, len, "%lld", r->ret);
		break;
	case PC_VAL:
		snprintf(out, len, "%lld", r->ret);
		break;
	case PC_DATA:
		snprintf(out, len, "len %lld hash %016llx", r->ret, r->hash);
		break;
	default:
		snprintf(out, len, "\"%s\"", r->str);
		break;
	}
}

static bool rec_equal(const struct pc_rec *a, const struct pc_rec *b)
{
	if (strcmp(a->desc, b->desc) || a->kind != b->kind)
		return false;
	switch (a->kind) {
	case PC_RES:
		return a->ret == b->ret && a->err == b->err;
	case PC_VAL:
		return a->ret == b->ret;
	default:
		return a->ret == b->ret && a->hash == b->hash;
	}
}

static bool ref_meets_expect(const struct pc_rec *r)
{
	if (r->expect == PC_NO_EXPECT)
		return true;
	if (r->kind == PC_VAL)
		return r->ret == r->expect;
	if (r->expect == 0)
		return r->ret >= 0;
	return r->ret < 0 && r->err == r->expect;
}

static void report(const char *test, const struct pc_rec *m,
		   const struct pc_rec *r)
{
	char ms[PC_STR_MAX + 64] = "(missing)",
			     rs[PC_STR_MAX + 64] = "(missing)";
	const char *desc = m ? m->desc : r->desc;
	bool ok;

	if (m)
		fmt_rec(m, ms, sizeof(ms));
	if (r)
		fmt_rec(r, rs, sizeof(rs));
	n_check++;
	ok = m && r && rec_equal(m, r);
	if (ok && !ref_meets_expect(r)) {
		printf("not ok %u - %s: %s: mount=%s ref=%s (reference "
		       "differs from the expected %s: checker bug?)\n",
		       n_check, test, desc, ms, rs,
		       r->expect ? strerrorname_np(r->expect) : "success");
		n_fail++;
		return;
	}
	if (ok) {
		printf("ok %u - %s: %s\n", n_check, test, desc);
		n_pass++;
		return;
	}
	if (m && r && strcmp(m->desc, r->desc))
		printf("not ok %u - %s: record mismatch: mount \"%s\"=%s "
		       "ref \"%s\"=%s\n",
		       n_check, test, m->desc, ms, r->desc, rs);
	else
		printf("not ok %u - %s: %s: mount=%s ref=%s\n", n_check, test,
		       desc, ms, rs);
	n_fail++;
}

/* Index of the record named desc in v[from, from + 64), or -1. */
static long find_desc(const struct pc_ctx *c, size_t from, const char *desc)
{
	for (size_t k = from; k < c->n && k < from + 64; k++)
		if (!strcmp(c->v[k].desc, desc))
			return (long)k;
	return -1;
}

/*
 * Pairwise, by position; when the descriptions part (a tree listing that
 * differs, a child that died early), resynchronise on the next common
 * description so that one difference is not reported a hundred times.
 */
static void compare(const char *test, const struct pc_ctx *m,
		    const struct pc_ctx *r)
{
	size_t i = 0, j = 0;

	while (i < m->n || j < r->n) {
		long k;

		if (i < m->n && j < r->n &&
		    strcmp(m->v[i].desc, r->v[j].desc)) {
			k = find_desc(m, i, r->v[j].desc);
			if (k >= 0) {
				while (i < (size_t)k)
					report(test, &m->v[i++], NULL);
				continue;
			}
			k = find_desc(r, j, m->v[i].desc);
			if (k >= 0) {
				while (j < (size_t)k)
					report(test, NULL, &r->v[j++]);
				continue;
			}
		}
		report(test, i < m->n ? &m->v[i] : NULL,
		       j < r->n ? &r->v[j] : NULL);
		i++;
		j++;
	}
}

static int run_one(const struct pc_case *pc, const char *base, bool is_mount,
		   struct pc_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->test = pc->name;
	c->is_mount = is_mount;
	snprintf(c->dir, sizeof(c->dir), "%s/%s", base, pc->name);
	if (mkdir(c->dir, 0755) < 0) {
		fprintf(stderr, "posix_check: mkdir %s: %s\n", c->dir,
			strerror(errno));
		return -errno;
	}
	pc->fn(c);
	fflush(stdout);
	snap_dir(c, ".", 0);
	return 0;
}

static int make_base(const char *root, char *out, size_t len)
{
	snprintf(out, len, "%s/pc-XXXXXX", root);
	if (!mkdtemp(out) || chmod(out, 0755) < 0) {
		fprintf(stderr, "posix_check: mkdtemp under %s: %s\n", root,
			strerror(errno));
		return -1;
	}
	return 0;
}

static bool wanted(const char *name, int argc, char **argv)
{
	if (argc <= 3)
		return true;
	for (int i = 3; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	char mbase[4096], rbase[4096];
	struct pc_ctx m, r;

	if (argc < 3) {
		fprintf(stderr, "usage: posix_check MOUNT_DIR REF_DIR "
				"[CASE...]\ncases:");
		for (size_t i = 0; i < pc_ncases; i++)
			fprintf(stderr, " %s", pc_cases[i].name);
		fprintf(stderr, "\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (make_base(argv[1], mbase, sizeof(mbase)) < 0 ||
	    make_base(argv[2], rbase, sizeof(rbase)) < 0)
		return 2;
	for (size_t i = 0; i < pc_ncases; i++) {
		const struct pc_case *pc = &pc_cases[i];
		if (!wanted(pc->name, argc, argv))
			continue;
		if (run_one(pc, mbase, true, &m) < 0 ||
		    run_one(pc, rbase, false, &r) < 0)
			return 2;
		compare(pc->name, &m, &r);
		free(m.v);
		free(r.v);
	}
	printf("%u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
