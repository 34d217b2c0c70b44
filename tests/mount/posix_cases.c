// SPDX-License-Identifier: MIT
/*
 * posix_check cases: one function per group of operations.  Each runs
 * inside its own fresh directory (c->dir) and records every result with
 * the pc_* recorders; posix_check.c runs it on the mount and on the
 * reference and compares.  Cases must be deterministic: same calls, same
 * order, whatever the results.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "posix_check.h"

#define OTHER_UID 1001
#define OTHER_GID 1001
#define USER_UID 1000
#define USER_GID 1000

static char big[1 << 20];

static void mkfile(struct pc_ctx *c, const char *rel, size_t len, unsigned seed)
{
	char d[PC_DESC_MAX];

	pc_fill(big, len, seed);
	snprintf(d, sizeof(d), "create %s (%zu bytes)", rel, len);
	pc_ok(c, d,
	      pc_write_file(pc_path(c, rel), big, len, 0644) < 0 ? -1 : 0);
}

/* lookup / stat / lstat / fstat */
static void t_lookup(struct pc_ctx *c)
{
	struct stat st;
	int fd;

	mkfile(c, "f", 1234, 1);
	pc_ok(c, "mkdir d", mkdir(pc_path(c, "d"), 0755));
	pc_ok(c, "symlink s -> f", symlink("f", pc_path(c, "s")));
	pc_ok(c, "symlink dangling", symlink("nowhere", pc_path(c, "dl")));
	pc_ok(c, "symlink loop a", symlink("lb", pc_path(c, "la")));
	pc_ok(c, "symlink loop b", symlink("la", pc_path(c, "lb")));

	pc_ok(c, "stat f", stat(pc_path(c, "f"), &st));
	pc_val(c, "stat f size", st.st_size);
	pc_val(c, "stat f is reg", S_ISREG(st.st_mode));
	pc_stat(c, "stat f attrs", "f", true);
	pc_stat(c, "stat d attrs", "d", true);
	pc_stat(c, "stat s follows", "s", true);
	pc_stat(c, "lstat s", "s", false);
	pc_ok(c, "lstat s", lstat(pc_path(c, "s"), &st));
	pc_val(c, "lstat s is link", S_ISLNK(st.st_mode));
	pc_val(c, "lstat s size = target len", st.st_size);
	pc_err(c, "stat missing ENOENT", stat(pc_path(c, "missing"), &st),
	       ENOENT);
	pc_err(c, "lstat missing/x ENOENT", lstat(pc_path(c, "missing/x"), &st),
	       ENOENT);
	pc_err(c, "stat f/x ENOTDIR", stat(pc_path(c, "f/x"), &st), ENOTDIR);
	pc_err(c, "stat dangling ENOENT", stat(pc_path(c, "dl"), &st), ENOENT);
	pc_ok(c, "lstat dangling", lstat(pc_path(c, "dl"), &st));
	pc_err(c, "stat loop ELOOP", stat(pc_path(c, "la"), &st), ELOOP);
	pc_ok(c, "stat d/.", stat(pc_path(c, "d/."), &st));
	pc_ok(c, "stat d/..", stat(pc_path(c, "d/.."), &st));
	pc_ok(c, "stat s/ follows? no: ENOTDIR",
	      stat(pc_path(c, "d/../f"), &st));
	pc_err(c, "stat s/ trailing slash", stat(pc_path(c, "s/"), &st),
	       ENOTDIR);
	fd = pc_fd(c, "open f", open(pc_path(c, "f"), O_RDONLY));
	pc_ok(c, "fstat f", fstat(fd, &st));
	pc_val(c, "fstat size", st.st_size);
	pc_val(c, "fstat mode", st.st_mode);
	pc_val(c, "fstat nlink", (long long)st.st_nlink);
	close(fd);
	fd = pc_fd(c, "open O_PATH s",
		   open(pc_path(c, "s"), O_PATH | O_NOFOLLOW));
	pc_ok(c, "fstatat empty path on O_PATH",
	      fstatat(fd, "", &st, AT_EMPTY_PATH));
	pc_val(c, "O_PATH symlink is link", S_ISLNK(st.st_mode));
	close(fd);
}

static void t_chmod(struct pc_ctx *c)
{
	struct stat st;
	int fd;

	mkfile(c, "f", 10, 2);
	pc_ok(c, "mkdir d", mkdir(pc_path(c, "d"), 0755));
	pc_ok(c, "chmod 0640", chmod(pc_path(c, "f"), 0640));
	pc_stat(c, "after chmod 0640", "f", true);
	pc_ok(c, "chmod 04755", chmod(pc_path(c, "f"), 04755));
	pc_stat(c, "after chmod 04755", "f", true);
	pc_ok(c, "chmod dir 02775", chmod(pc_path(c, "d"), 02775));
	pc_stat(c, "dir after chmod", "d", true);
	pc_ok(c, "chmod dir 01777", chmod(pc_path(c, "d"), 01777));
	pc_stat(c, "dir sticky", "d", true);
	fd = pc_fd(c, "open", open(pc_path(c, "f"), O_RDWR));
	pc_ok(c, "fchmod 0600", fchmod(fd, 0600));
	pc_ok(c, "fstat", fstat(fd, &st));
	pc_val(c, "fstat mode after fchmod", st.st_mode);
	close(fd);
	pc_stat(c, "after fchmod", "f", true);
	pc_err(c, "chmod missing ENOENT", chmod(pc_path(c, "nope"), 0644),
	       ENOENT);
	pc_ok(c, "symlink", symlink("f", pc_path(c, "s")));
	pc_ok(c, "chmod through symlink", chmod(pc_path(c, "s"), 0604));
	pc_stat(c, "target mode", "f", true);
	pc_err(c, "fchmodat NOFOLLOW on link",
	       fchmodat(AT_FDCWD, pc_path(c, "s"), 0600, AT_SYMLINK_NOFOLLOW),
	       EOPNOTSUPP);
}

static void t_chown(struct pc_ctx *c)
{
	struct stat st;
	int fd;

	mkfile(c, "f", 10, 3);
	pc_ok(c, "chmod 06755", chmod(pc_path(c, "f"), 06755));
	pc_ok(c, "chown 1234:5678", chown(pc_path(c, "f"), 1234, 5678));
	pc_stat(c, "after chown (suid/sgid cleared)", "f", true);
	pc_ok(c, "chown -1:-1", chown(pc_path(c, "f"), -1, -1));
	pc_stat(c, "unchanged", "f", true);
	pc_ok(c, "chown -1:42", chown(pc_path(c, "f"), -1, 42));
	pc_stat(c, "gid only", "f", true);
	pc_ok(c, "symlink", symlink("f", pc_path(c, "s")));
	pc_ok(c, "lchown link 77:88", lchown(pc_path(c, "s"), 77, 88));
	pc_stat(c, "link owner", "s", false);
	pc_stat(c, "target owner unchanged", "f", true);
	fd = pc_fd(c, "open", open(pc_path(c, "f"), O_RDONLY));
	pc_ok(c, "fchown 0:0", fchown(fd, 0, 0));
	pc_ok(c, "fstat", fstat(fd, &st));
	pc_val(c, "fstat uid", st.st_uid);
	pc_val(c, "fstat gid", st.st_gid);
	close(fd);
	pc_err(c, "chown missing", chown(pc_path(c, "x"), 1, 1), ENOENT);
}

static void t_truncate(struct pc_ctx *c)
{
	struct stat st;
	char buf[64];
	int fd;

	mkfile(c, "f", 5000, 4);
	pc_ok(c, "truncate grow 10000", truncate(pc_path(c, "f"), 10000));
	pc_file_data(c, "grown data (zero tail)", "f");
	pc_ok(c, "truncate shrink 100", truncate(pc_path(c, "f"), 100));
	pc_file_data(c, "shrunk data", "f");
	fd = pc_fd(c, "open rw", open(pc_path(c, "f"), O_RDWR));
	pc_ok(c, "ftruncate 3", ftruncate(fd, 3));
	pc_ok(c, "fstat", fstat(fd, &st));
	pc_val(c, "size after ftruncate", st.st_size);
	pc_ok(c, "ftruncate 70000", ftruncate(fd, 70000));
	pc_any(c, "pread at 69990", pread(fd, buf, sizeof(buf), 69990));
	pc_data(c, "zeros after extend", buf, 10);
	pc_err(c, "ftruncate -1 EINVAL", ftruncate(fd, -1), EINVAL);
	close(fd);
	fd = pc_fd(c, "open ro", open(pc_path(c, "f"), O_RDONLY));
	pc_err(c, "ftruncate on O_RDONLY EINVAL", ftruncate(fd, 0), EINVAL);
	close(fd);
	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0755));
	pc_err(c, "truncate dir EISDIR", truncate(pc_path(c, "d"), 0), EISDIR);
	pc_err(c, "truncate missing", truncate(pc_path(c, "m"), 0), ENOENT);
	pc_err(c, "truncate -1", truncate(pc_path(c, "f"), -1), EINVAL);
	pc_ok(c, "truncate 0", truncate(pc_path(c, "f"), 0));
	pc_stat(c, "empty", "f", true);
}

static long long ts_ns(struct timespec t)
{
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void t_utimens(struct pc_ctx *c)
{
	struct timespec ts[2], before, after;
	struct stat st;
	int fd;

	mkfile(c, "f", 10, 5);
	ts[0] = (struct timespec){ 1000000000, 123456789 };
	ts[1] = (struct timespec){ 1200000000, 987654321 };
	pc_ok(c, "utimensat explicit ns",
	      utimensat(AT_FDCWD, pc_path(c, "f"), ts, 0));
	pc_ok(c, "stat", stat(pc_path(c, "f"), &st));
	pc_val(c, "atime ns", ts_ns(st.st_atim));
	pc_val(c, "mtime ns", ts_ns(st.st_mtim));

	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 1300000000, 5 };
	pc_ok(c, "utimensat atime OMIT",
	      utimensat(AT_FDCWD, pc_path(c, "f"), ts, 0));
	pc_ok(c, "stat", stat(pc_path(c, "f"), &st));
	pc_val(c, "atime kept", ts_ns(st.st_atim));
	pc_val(c, "mtime set", ts_ns(st.st_mtim));

	clock_gettime(CLOCK_REALTIME, &before);
	ts[0] = (struct timespec){ 0, UTIME_NOW };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	pc_ok(c, "utimensat atime NOW mtime OMIT",
	      utimensat(AT_FDCWD, pc_path(c, "f"), ts, 0));
	clock_gettime(CLOCK_REALTIME, &after);
	pc_ok(c, "stat", stat(pc_path(c, "f"), &st));
	/* Kernel timestamps come from a coarse clock: allow 50 ms. */
	pc_true(c, "atime now within window",
		ts_ns(st.st_atim) >= ts_ns(before) - 50000000LL &&
			ts_ns(st.st_atim) <= ts_ns(after) + 50000000LL);
	pc_val(c, "mtime omitted", ts_ns(st.st_mtim));

	fd = pc_fd(c, "open", open(pc_path(c, "f"), O_RDWR));
	ts[0] = (struct timespec){ 1400000000, 1 };
	ts[1] = (struct timespec){ 1400000000, 999999999 };
	pc_ok(c, "futimens", futimens(fd, ts));
	pc_ok(c, "fstat", fstat(fd, &st));
	pc_val(c, "futimens atime", ts_ns(st.st_atim));
	pc_val(c, "futimens mtime", ts_ns(st.st_mtim));
	clock_gettime(CLOCK_REALTIME, &before);
	pc_ok(c, "futimens NULL (both now)", futimens(fd, NULL));
	clock_gettime(CLOCK_REALTIME, &after);
	pc_ok(c, "fstat", fstat(fd, &st));
	pc_true(c, "mtime now within window",
		ts_ns(st.st_mtim) >= ts_ns(before) - 50000000LL &&
			ts_ns(st.st_mtim) <= ts_ns(after) + 50000000LL);
	close(fd);

	ts[0] = (struct timespec){ 0, 1000000000 };
	pc_err(c, "utimensat bad nsec EINVAL",
	       utimensat(AT_FDCWD, pc_path(c, "f"), ts, 0), EINVAL);
	pc_ok(c, "symlink", symlink("f", pc_path(c, "s")));
	ts[0] = (struct timespec){ 1500000000, 7 };
	ts[1] = (struct timespec){ 1500000000, 8 };
	pc_ok(c, "utimensat NOFOLLOW on link",
	      utimensat(AT_FDCWD, pc_path(c, "s"), ts, AT_SYMLINK_NOFOLLOW));
	pc_ok(c, "lstat link", lstat(pc_path(c, "s"), &st));
	pc_val(c, "link mtime", ts_ns(st.st_mtim));
	pc_ok(c, "stat target", stat(pc_path(c, "f"), &st));
	pc_true(c, "target mtime not the link's",
		ts_ns(st.st_mtim) != 1500000000LL * 1000000000LL + 8);
	pc_err(c, "utimensat missing",
	       utimensat(AT_FDCWD, pc_path(c, "m"), NULL, 0), ENOENT);
}

static void t_symlink(struct pc_ctx *c)
{
	char buf[PATH_MAX], target[1001];
	ssize_t n;

	mkfile(c, "f", 10, 6);
	pc_ok(c, "symlink", symlink("f", pc_path(c, "s")));
	n = pc_ok(c, "readlink", readlink(pc_path(c, "s"), buf, sizeof(buf)));
	pc_data(c, "readlink target", buf, n > 0 ? (size_t)n : 0);
	n = pc_ok(c, "readlink short buffer",
		  readlink(pc_path(c, "s"), buf, 0 + 1));
	pc_data(c, "truncated target", buf, n > 0 ? (size_t)n : 0);
	memset(target, 'x', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	memcpy(target, "../a/b/", 7);
	pc_ok(c, "symlink 1000-byte target",
	      symlink(target, pc_path(c, "long")));
	n = pc_ok(c, "readlink long",
		  readlink(pc_path(c, "long"), buf, sizeof(buf)));
	pc_data(c, "long target", buf, n > 0 ? (size_t)n : 0);
	pc_ok(c, "symlink absolute", symlink("/etc/passwd", pc_path(c, "abs")));
	n = pc_ok(c, "readlink abs",
		  readlink(pc_path(c, "abs"), buf, sizeof(buf)));
	pc_data(c, "abs target", buf, n > 0 ? (size_t)n : 0);
	pc_err(c, "symlink EEXIST", symlink("x", pc_path(c, "f")), EEXIST);
	pc_err(c, "symlink empty target ENOENT", symlink("", pc_path(c, "e")),
	       ENOENT);
	pc_err(c, "readlink on file EINVAL",
	       readlink(pc_path(c, "f"), buf, sizeof(buf)), EINVAL);
	pc_err(c, "readlink missing",
	       readlink(pc_path(c, "m"), buf, sizeof(buf)), ENOENT);
	pc_err(c, "symlink in missing dir", symlink("f", pc_path(c, "m/s")),
	       ENOENT);
}

static void t_mknod(struct pc_ctx *c)
{
	struct stat st;

	pc_ok(c, "mkfifo", mkfifo(pc_path(c, "fifo"), 0640));
	pc_stat(c, "fifo attrs", "fifo", false);
	pc_ok(c, "mknod S_IFREG", mknod(pc_path(c, "reg"), S_IFREG | 0600, 0));
	pc_stat(c, "reg attrs", "reg", false);
	pc_ok(c, "mknod mode 0 is regular", mknod(pc_path(c, "reg0"), 0644, 0));
	pc_ok(c, "stat", stat(pc_path(c, "reg0"), &st));
	pc_val(c, "mode 0 type is reg", S_ISREG(st.st_mode));
	pc_ok(c, "mknod S_IFSOCK",
	      mknod(pc_path(c, "sock"), S_IFSOCK | 0600, 0));
	pc_stat(c, "sock attrs", "sock", false);
	pc_ok(c, "mknod S_IFCHR 1:3",
	      mknod(pc_path(c, "chr"), S_IFCHR | 0600, makedev(1, 3)));
	pc_stat(c, "chr attrs (rdev)", "chr", false);
	pc_err(c, "mkfifo EEXIST", mkfifo(pc_path(c, "fifo"), 0600), EEXIST);
	pc_err(c, "mknod EEXIST", mknod(pc_path(c, "reg"), S_IFREG | 0600, 0),
	       EEXIST);
	pc_err(c, "mknod S_IFDIR EPERM",
	       mknod(pc_path(c, "dir"), S_IFDIR | 0755, 0), EPERM);
	pc_err(c, "mknod bad type EINVAL",
	       mknod(pc_path(c, "bad"), 0170000 | 0644, 0), EINVAL);
}

static void t_mkdir(struct pc_ctx *c)
{
	struct stat st;

	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0755));
	pc_ok(c, "mkdir 0700", mkdir(pc_path(c, "d/sub"), 0700));
	pc_ok(c, "mkdir 0777 (umask 022)", mkdir(pc_path(c, "d/sub2"), 0777));
	pc_ok(c, "mkdir 01777", mkdir(pc_path(c, "d/sticky"), 01777));
	pc_stat(c, "d attrs", "d", true);
	pc_stat(c, "sub attrs", "d/sub", true);
	pc_stat(c, "sub2 attrs", "d/sub2", true);
	pc_stat(c, "sticky attrs", "d/sticky", true);
	pc_ok(c, "stat d", stat(pc_path(c, "d"), &st));
	pc_val(c, "nlink counts subdirs", (long long)st.st_nlink);
	pc_err(c, "mkdir EEXIST", mkdir(pc_path(c, "d"), 0755), EEXIST);
	mkfile(c, "f", 1, 7);
	pc_err(c, "mkdir over file EEXIST", mkdir(pc_path(c, "f"), 0755),
	       EEXIST);
	pc_err(c, "mkdir under file ENOTDIR", mkdir(pc_path(c, "f/x"), 0755),
	       ENOTDIR);
	pc_err(c, "mkdir missing parent", mkdir(pc_path(c, "m/x"), 0755),
	       ENOENT);
	pc_ok(c, "chmod 02755", chmod(pc_path(c, "d"), 02755));
	pc_ok(c, "chown d :4242", chown(pc_path(c, "d"), -1, 4242));
	pc_ok(c, "mkdir in setgid dir", mkdir(pc_path(c, "d/inherit"), 0755));
	pc_stat(c, "inherits gid and setgid", "d/inherit", true);
	mkfile(c, "d/file", 3, 8);
	pc_stat(c, "file inherits gid", "d/file", true);
}

static void t_unlink(struct pc_ctx *c)
{
	char buf[100];
	struct stat st;
	int fd;

	mkfile(c, "f", 100, 9);
	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0755));
	pc_ok(c, "unlink f", unlink(pc_path(c, "f")));
	pc_err(c, "stat gone", stat(pc_path(c, "f"), &st), ENOENT);
	pc_err(c, "unlink ENOENT", unlink(pc_path(c, "f")), ENOENT);
	pc_err(c, "unlink dir EISDIR", unlink(pc_path(c, "d")), EISDIR);
	pc_err(c, "unlink missing/x ENOENT", unlink(pc_path(c, "d/../x/y")),
	       ENOENT);
	mkfile(c, "g", 100, 10);
	pc_ok(c, "symlink to g", symlink("g", pc_path(c, "s")));
	pc_ok(c, "unlink symlink", unlink(pc_path(c, "s")));
	pc_stat(c, "target survives", "g", true);
	fd = pc_fd(c, "open g", open(pc_path(c, "g"), O_RDWR));
	pc_ok(c, "unlink open file", unlink(pc_path(c, "g")));
	pc_ok(c, "pwrite after unlink", pwrite(fd, "hello", 5, 0));
	pc_ok(c, "pread after unlink", pread(fd, buf, sizeof(buf), 0));
	pc_data(c, "data after unlink", buf, 100);
	pc_ok(c, "fstat after unlink", fstat(fd, &st));
	pc_val(c, "nlink 0", (long long)st.st_nlink);
	pc_val(c, "size", st.st_size);
	pc_ok(c, "close", close(fd));
}

static void t_rmdir(struct pc_ctx *c)
{
	pc_ok(c, "mkdir e", mkdir(pc_path(c, "e"), 0755));
	pc_ok(c, "mkdir n", mkdir(pc_path(c, "n"), 0755));
	mkfile(c, "n/f", 1, 11);
	mkfile(c, "f", 1, 12);
	pc_ok(c, "rmdir empty", rmdir(pc_path(c, "e")));
	pc_err(c, "rmdir gone", rmdir(pc_path(c, "e")), ENOENT);
	pc_err(c, "rmdir non-empty ENOTEMPTY", rmdir(pc_path(c, "n")),
	       ENOTEMPTY);
	pc_err(c, "rmdir file ENOTDIR", rmdir(pc_path(c, "f")), ENOTDIR);
	pc_err(c, "rmdir n/. EINVAL", rmdir(pc_path(c, "n/.")), EINVAL);
	pc_err(c, "rmdir n/.. ENOTEMPTY", rmdir(pc_path(c, "n/..")), ENOTEMPTY);
	pc_ok(c, "symlink to dir", symlink("n", pc_path(c, "sl")));
	pc_err(c, "rmdir symlink ENOTDIR", rmdir(pc_path(c, "sl")), ENOTDIR);
	pc_ok(c, "unlink n/f", unlink(pc_path(c, "n/f")));
	pc_ok(c, "rmdir now empty", rmdir(pc_path(c, "n")));
}

static void t_rename(struct pc_ctx *c)
{
	struct stat st;

	mkfile(c, "a", 100, 13);
	mkfile(c, "b", 200, 14);
	pc_ok(c, "rename a -> c", rename(pc_path(c, "a"), pc_path(c, "c")));
	pc_err(c, "old name gone", stat(pc_path(c, "a"), &st), ENOENT);
	pc_file_data(c, "c has a's data", "c");
	pc_ok(c, "rename c over b", rename(pc_path(c, "c"), pc_path(c, "b")));
	pc_file_data(c, "b has a's data", "b");
	pc_err(c, "rename missing", rename(pc_path(c, "zz"), pc_path(c, "y")),
	       ENOENT);

	pc_ok(c, "mkdir d1", mkdir(pc_path(c, "d1"), 0755));
	pc_ok(c, "mkdir d2", mkdir(pc_path(c, "d2"), 0755));
	pc_ok(c, "mkdir d3", mkdir(pc_path(c, "d3"), 0755));
	mkfile(c, "d3/x", 5, 15);
	mkfile(c, "d1/in", 5, 16);
	pc_ok(c, "rename dir over empty dir",
	      rename(pc_path(c, "d1"), pc_path(c, "d2")));
	pc_file_data(c, "moved dir content", "d2/in");
	pc_err(c, "rename dir over non-empty ENOTEMPTY",
	       rename(pc_path(c, "d2"), pc_path(c, "d3")), ENOTEMPTY);
	pc_err(c, "rename file over dir EISDIR",
	       rename(pc_path(c, "b"), pc_path(c, "d2")), EISDIR);
	pc_err(c, "rename dir over file ENOTDIR",
	       rename(pc_path(c, "d2"), pc_path(c, "b")), ENOTDIR);
	pc_err(c, "rename dir into own subdir EINVAL",
	       rename(pc_path(c, "d3"), pc_path(c, "d3/x2")), EINVAL);
	pc_ok(c, "rename file into subdir",
	      rename(pc_path(c, "b"), pc_path(c, "d3/b")));
	pc_ok(c, "rename back", rename(pc_path(c, "d3/b"), pc_path(c, "b")));

	mkfile(c, "n1", 10, 17);
	mkfile(c, "n2", 20, 18);
	pc_err(c, "RENAME_NOREPLACE existing EEXIST",
	       renameat2(AT_FDCWD, pc_path(c, "n1"), AT_FDCWD, pc_path(c, "n2"),
			 RENAME_NOREPLACE),
	       EEXIST);
	pc_ok(c, "RENAME_NOREPLACE free name",
	      renameat2(AT_FDCWD, pc_path(c, "n1"), AT_FDCWD, pc_path(c, "n3"),
			RENAME_NOREPLACE));
	pc_ok(c, "RENAME_EXCHANGE file<->dir",
	      renameat2(AT_FDCWD, pc_path(c, "n3"), AT_FDCWD, pc_path(c, "d2"),
			RENAME_EXCHANGE));
	pc_stat(c, "n3 is now the dir", "n3", false);
	pc_file_data(c, "d2 is now the file", "d2");
	pc_file_data(c, "n3/in", "n3/in");
	pc_ok(c, "RENAME_EXCHANGE files",
	      renameat2(AT_FDCWD, pc_path(c, "d2"), AT_FDCWD, pc_path(c, "n2"),
			RENAME_EXCHANGE));
	pc_file_data(c, "n2 after exchange", "n2");
	pc_file_data(c, "d2 after exchange", "d2");
	pc_err(c, "RENAME_EXCHANGE missing ENOENT",
	       renameat2(AT_FDCWD, pc_path(c, "n2"), AT_FDCWD,
			 pc_path(c, "nothere"), RENAME_EXCHANGE),
	       ENOENT);
	pc_err(c, "EXCHANGE|NOREPLACE EINVAL",
	       renameat2(AT_FDCWD, pc_path(c, "n2"), AT_FDCWD, pc_path(c, "d2"),
			 RENAME_EXCHANGE | RENAME_NOREPLACE),
	       EINVAL);
	pc_ok(c, "link n2 h", link(pc_path(c, "n2"), pc_path(c, "h")));
	pc_ok(c, "rename onto own hard link is a no-op",
	      rename(pc_path(c, "n2"), pc_path(c, "h")));
	pc_ok(c, "both names still exist", stat(pc_path(c, "n2"), &st));
	pc_ok(c, "symlink", symlink("b", pc_path(c, "sym")));
	pc_ok(c, "rename symlink",
	      rename(pc_path(c, "sym"), pc_path(c, "sym2")));
	pc_stat(c, "renamed symlink", "sym2", false);
}

static void t_link(struct pc_ctx *c)
{
	struct stat st;

	mkfile(c, "f", 321, 19);
	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0755));
	pc_ok(c, "link f g", link(pc_path(c, "f"), pc_path(c, "g")));
	pc_ok(c, "stat f", stat(pc_path(c, "f"), &st));
	pc_val(c, "nlink 2", (long long)st.st_nlink);
	pc_file_data(c, "g content", "g");
	pc_ok(c, "link into subdir", link(pc_path(c, "f"), pc_path(c, "d/h")));
	pc_ok(c, "stat g", stat(pc_path(c, "g"), &st));
	pc_val(c, "nlink 3 via other name", (long long)st.st_nlink);
	pc_err(c, "link EEXIST", link(pc_path(c, "f"), pc_path(c, "g")),
	       EEXIST);
	pc_err(c, "link dir EPERM", link(pc_path(c, "d"), pc_path(c, "d2")),
	       EPERM);
	pc_err(c, "link missing source",
	       link(pc_path(c, "m"), pc_path(c, "m2")), ENOENT);
	pc_ok(c, "unlink f", unlink(pc_path(c, "f")));
	pc_ok(c, "stat g", stat(pc_path(c, "g"), &st));
	pc_val(c, "nlink back to 2", (long long)st.st_nlink);
	pc_ok(c, "append via g", truncate(pc_path(c, "g"), 400));
	pc_file_data(c, "d/h sees it", "d/h");
	pc_ok(c, "symlink", symlink("g", pc_path(c, "s")));
	pc_ok(c, "link to symlink itself",
	      link(pc_path(c, "s"), pc_path(c, "s2")));
	pc_stat(c, "s2 is a link", "s2", false);
}

static void t_open(struct pc_ctx *c)
{
	char buf[64];
	struct stat st;
	int fd, fd2;

	fd = pc_fd(c, "create O_CREAT|O_EXCL",
		   open(pc_path(c, "f"), O_RDWR | O_CREAT | O_EXCL, 0640));
	pc_ok(c, "write", write(fd, "0123456789", 10));
	pc_ok(c, "close", close(fd));
	pc_stat(c, "created", "f", true);
	pc_err(c, "O_EXCL EEXIST",
	       open(pc_path(c, "f"), O_RDWR | O_CREAT | O_EXCL, 0640), EEXIST);
	fd = pc_fd(c, "O_CREAT existing",
		   open(pc_path(c, "f"), O_RDWR | O_CREAT, 0600));
	close(fd);
	pc_stat(c, "mode unchanged by O_CREAT", "f", true);
	fd = pc_fd(c, "O_APPEND", open(pc_path(c, "f"), O_WRONLY | O_APPEND));
	pc_ok(c, "lseek 0", lseek(fd, 0, SEEK_SET));
	pc_ok(c, "append write", write(fd, "abc", 3));
	pc_ok(c, "pos after append", lseek(fd, 0, SEEK_CUR));
	pc_ok(c, "append pwrite goes to end too (Linux)",
	      pwrite(fd, "XY", 2, 0));
	close(fd);
	pc_file_data(c, "after appends", "f");
	fd = pc_fd(c, "O_TRUNC", open(pc_path(c, "f"), O_RDWR | O_TRUNC));
	pc_ok(c, "fstat", fstat(fd, &st));
	pc_val(c, "size 0", st.st_size);
	pc_ok(c, "read empty", read(fd, buf, sizeof(buf)));
	close(fd);

	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0755));
	pc_err(c, "O_DIRECTORY on file ENOTDIR",
	       open(pc_path(c, "f"), O_RDONLY | O_DIRECTORY), ENOTDIR);
	fd = pc_fd(c, "O_DIRECTORY on dir",
		   open(pc_path(c, "d"), O_RDONLY | O_DIRECTORY));
	close(fd);
	pc_err(c, "dir O_WRONLY EISDIR", open(pc_path(c, "d"), O_WRONLY),
	       EISDIR);
	pc_err(c, "dir O_RDWR EISDIR", open(pc_path(c, "d"), O_RDWR), EISDIR);
	pc_err(c, "O_CREAT on dir EISDIR",
	       open(pc_path(c, "d"), O_RDWR | O_CREAT, 0644), EISDIR);
	pc_err(c, "O_CREAT|O_EXCL on dir EEXIST",
	       open(pc_path(c, "d"), O_RDWR | O_CREAT | O_EXCL, 0644), EEXIST);
	pc_err(c, "missing ENOENT", open(pc_path(c, "m"), O_RDONLY), ENOENT);
	pc_err(c, "O_CREAT in missing dir",
	       open(pc_path(c, "m/x"), O_RDWR | O_CREAT, 0644), ENOENT);
	pc_ok(c, "symlink", symlink("f", pc_path(c, "s")));
	fd = pc_fd(c, "O_NOFOLLOW on a regular file",
		   open(pc_path(c, "f"), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
	close(fd);
	fd = pc_fd(c, "O_CREAT|O_NOFOLLOW on an existing file",
		   open(pc_path(c, "f"), O_RDWR | O_CREAT | O_NOFOLLOW, 0644));
	close(fd);
	fd = pc_fd(c, "O_RDONLY|O_NOFOLLOW on a directory",
		   open(pc_path(c, "d"), O_RDONLY | O_NOFOLLOW));
	close(fd);
	pc_err(c, "O_NOFOLLOW symlink ELOOP",
	       open(pc_path(c, "s"), O_RDONLY | O_NOFOLLOW), ELOOP);
	pc_err(c, "O_CREAT|O_EXCL on symlink EEXIST",
	       open(pc_path(c, "s"), O_RDWR | O_CREAT | O_EXCL, 0644), EEXIST);
	pc_ok(c, "dangling symlink", symlink("newtarget", pc_path(c, "dl")));
	fd = pc_fd(c, "O_CREAT through dangling symlink",
		   open(pc_path(c, "dl"), O_RDWR | O_CREAT, 0644));
	close(fd);
	pc_stat(c, "target created", "newtarget", false);
	fd = pc_fd(c, "create 0400 gives writable fd",
		   open(pc_path(c, "ro"), O_RDWR | O_CREAT | O_EXCL, 0400));
	pc_ok(c, "write to it", write(fd, "x", 1));
	close(fd);
	pc_stat(c, "ro attrs", "ro", true);
	fd = pc_fd(c, "creat()", creat(pc_path(c, "cr"), 0644));
	pc_err(c, "read on creat() fd EBADF", read(fd, buf, 1), EBADF);
	close(fd);
	fd = pc_fd(c, "open ro", open(pc_path(c, "cr"), O_RDONLY));
	pc_err(c, "write on O_RDONLY EBADF", write(fd, "x", 1), EBADF);
	fd2 = pc_fd(c, "dup", dup(fd));
	pc_ok(c, "close dup", close(fd2));
	pc_ok(c, "close", close(fd));
}

static void t_rw(struct pc_ctx *c)
{
	static char rb[300000];
	struct iovec iov[3];
	char small[100];
	int fd;

	fd = pc_fd(c, "create", open(pc_path(c, "f"), O_RDWR | O_CREAT, 0644));
	pc_fill(big, 200000, 20);
	pc_ok(c, "write 200000", write(fd, big, 200000));
	pc_ok(c, "lseek 0", lseek(fd, 0, SEEK_SET));
	pc_ok(c, "read 300000 (short)", read(fd, rb, sizeof(rb)));
	pc_data(c, "read back", rb, 200000);
	pc_ok(c, "read at EOF", read(fd, rb, 100));
	pc_ok(c, "pwrite 4096 at 123457", pwrite(fd, big + 7, 4096, 123457));
	pc_ok(c, "pread 5000 at 123000", pread(fd, rb, 5000, 123000));
	pc_data(c, "pread content", rb, 5000);
	pc_ok(c, "pwrite past EOF (hole)", pwrite(fd, "end", 3, 300000));
	pc_ok(c, "pread the hole", pread(fd, rb, 1000, 250000));
	pc_data(c, "hole reads zeros", rb, 1000);
	pc_ok(c, "pread past EOF", pread(fd, rb, 100, 400000));
	pc_ok(c, "pread straddling EOF", pread(fd, rb, 100, 299990));
	pc_data(c, "straddle content", rb, 13);
	pc_ok(c, "lseek SEEK_END", lseek(fd, 0, SEEK_END));
	pc_ok(c, "lseek SEEK_CUR -10", lseek(fd, -10, SEEK_CUR));
	pc_ok(c, "read 100 at end-10", read(fd, small, sizeof(small)));
	iov[0] = (struct iovec){ big, 10 };
	iov[1] = (struct iovec){ big + 1000, 20000 };
	iov[2] = (struct iovec){ big + 50000, 5 };
	pc_ok(c, "pwritev", pwritev(fd, iov, 3, 17));
	iov[0] = (struct iovec){ rb, 7 };
	iov[1] = (struct iovec){ rb + 7, 20010 };
	iov[2] = (struct iovec){ rb + 20017, 1 };
	pc_ok(c, "preadv", preadv(fd, iov, 3, 15));
	pc_data(c, "preadv content", rb, 20018);
	/* Many small writes, each its own request on a direct mount. */
	for (int i = 0; i < 200; i++)
		if (pwrite(fd, big + i, 7, 1000 + i * 13) != 7)
			break;
	pc_ok(c, "fsync", fsync(fd));
	pc_ok(c, "close", close(fd));
	pc_file_data(c, "final content", "f");
	fd = pc_fd(c, "O_WRONLY", open(pc_path(c, "f"), O_WRONLY));
	pc_err(c, "read on O_WRONLY EBADF", read(fd, small, 1), EBADF);
	pc_err(c, "negative pwrite offset EINVAL", pwrite(fd, "x", 1, -1),
	       EINVAL);
	close(fd);
	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0755));
	fd = pc_fd(c, "open dir", open(pc_path(c, "d"), O_RDONLY));
	pc_err(c, "read on dir EISDIR", read(fd, small, 1), EISDIR);
	close(fd);
}

/*
 * O_DIRECT reaches the file system under the export: aligned direct I/O
 * works and returns the data, unaligned direct I/O fails with EINVAL as
 * on the reference (a client that dropped O_DIRECT would succeed here).
 */
static void t_direct(struct pc_ctx *c)
{
	void *mem;
	char *buf;
	int fd;

	if (posix_memalign(&mem, 4096, 3 * 4096)) {
		pc_true(c, "posix_memalign", false);
		return;
	}
	buf = mem;
	pc_fill(buf, 2 * 4096, 31);
	fd = pc_fd(c, "create O_DIRECT",
		   open(pc_path(c, "d"), O_RDWR | O_CREAT | O_DIRECT, 0644));
	pc_ok(c, "aligned pwrite 8192", pwrite(fd, buf, 8192, 0));
	pc_ok(c, "close", close(fd));
	fd = pc_fd(c, "open O_DIRECT",
		   open(pc_path(c, "d"), O_RDONLY | O_DIRECT));
	memset(buf, 0, 3 * 4096);
	pc_ok(c, "aligned pread 4096 at 4096", pread(fd, buf, 4096, 4096));
	pc_data(c, "aligned pread content", buf, 4096);
	pc_ok(c, "aligned pread at EOF", pread(fd, buf, 4096, 8192));
	pc_err(c, "pread at unaligned offset EINVAL", pread(fd, buf, 4096, 100),
	       EINVAL);
	pc_err(c, "pread of unaligned length EINVAL", pread(fd, buf, 100, 0),
	       EINVAL);
	pc_ok(c, "close", close(fd));
	pc_file_data(c, "content", "d");
	free(mem);
}

static void t_fsync(struct pc_ctx *c)
{
	int fd, dfd;

	fd = pc_fd(c, "create", open(pc_path(c, "f"), O_RDWR | O_CREAT, 0644));
	pc_ok(c, "write", write(fd, big, 65536));
	pc_ok(c, "fdatasync", fdatasync(fd));
	pc_ok(c, "fsync", fsync(fd));
	pc_ok(c, "sync_file_range",
	      sync_file_range(fd, 0, 0,
			      SYNC_FILE_RANGE_WRITE |
				      SYNC_FILE_RANGE_WAIT_AFTER));
	pc_ok(c, "syncfs", syncfs(fd));
	pc_ok(c, "close (flush)", close(fd));
	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0755));
	dfd = pc_fd(c, "open dir",
		    open(pc_path(c, "d"), O_RDONLY | O_DIRECTORY));
	pc_ok(c, "fsync dir", fsync(dfd));
	pc_ok(c, "fdatasync dir", fdatasync(dfd));
	pc_ok(c, "close dir", close(dfd));
	pc_err(c, "fsync bad fd", fsync(-1), EBADF);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "name:type" list of a directory, recorded as one string. */
static void record_listing(struct pc_ctx *c, const char *desc, DIR *d)
{
	char *names[256], s[8192] = "";
	size_t n = 0;
	struct dirent *e;

	errno = 0;
	while ((e = readdir(d)) && n < 256) {
		char *p = malloc(strlen(e->d_name) + 8);

		if (!p)
			break;
		sprintf(p, "%s:%u", e->d_name, e->d_type);
		names[n++] = p;
	}
	pc_val(c, "readdir ended without error", errno);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		strncat(s, names[i], sizeof(s) - strlen(s) - 2);
		strcat(s, " ");
		free(names[i]);
	}
	pc_val(c, "entry count", (long long)n);
	pc_data(c, desc, s, strlen(s));
}

static void t_readdir(struct pc_ctx *c)
{
	char name[64], *after[200], seen[200] = { 0 };
	struct dirent *e;
	size_t na = 0;
	bool same = true, once = true;
	long pos;
	DIR *d;

	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0755));
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "d/file-%03d", i);
		mkfile(c, name, (size_t)i, (unsigned)i);
	}
	pc_ok(c, "subdir", mkdir(pc_path(c, "d/sub"), 0755));
	pc_ok(c, "symlink", symlink("x", pc_path(c, "d/link")));
	pc_ok(c, "fifo", mkfifo(pc_path(c, "d/fifo"), 0644));
	d = opendir(pc_path(c, "d"));
	pc_true(c, "opendir", d != NULL);
	if (!d)
		return;
	record_listing(c, "sorted names and d_type", d);
	rewinddir(d);
	record_listing(c, "same after rewinddir", d);

	/* telldir after 10 entries; seekdir back must replay the rest. */
	rewinddir(d);
	for (int i = 0; i < 10; i++)
		readdir(d);
	pos = telldir(d);
	while ((e = readdir(d)) && na < 200)
		after[na++] = strdup(e->d_name);
	seekdir(d, pos);
	for (size_t i = 0; i < na; i++) {
		e = readdir(d);
		if (!e || strcmp(e->d_name, after[i]))
			same = false;
	}
	if (readdir(d))
		same = false;
	for (size_t i = 0; i < na; i++)
		free(after[i]);
	pc_true(c, "seekdir(telldir) replays the same entries", same);
	pc_val(c, "entries after pos", (long long)na);
	pc_ok(c, "closedir", closedir(d));

	/*
	 * Modify during readdir: entries neither created nor removed must
	 * show up exactly once; the others may or may not.
	 */
	pc_ok(c, "mkdir m", mkdir(pc_path(c, "m"), 0755));
	for (int i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "m/k%03d", i);
		mkfile(c, name, 0, 0);
	}
	d = opendir(pc_path(c, "m"));
	pc_true(c, "opendir m", d != NULL);
	if (!d)
		return;
	for (int i = 0; i < 20 && (e = readdir(d)); i++)
		if (e->d_name[0] == 'k')
			seen[atoi(e->d_name + 1)]++;
	for (int i = 0; i < 150; i += 3) {
		snprintf(name, sizeof(name), "m/k%03d", i);
		unlink(pc_path(c, name));
		snprintf(name, sizeof(name), "m/new%03d", i);
		mkfile(c, name, 0, 0);
	}
	errno = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] == 'k')
			seen[atoi(e->d_name + 1)]++;
	pc_val(c, "no error during modified readdir", errno);
	for (int i = 0; i < 150; i++)
		if (i % 3 && seen[i] != 1)
			once = false;
		else if (seen[i] > 1)
			once = false;
	pc_true(c, "untouched entries seen exactly once", once);
	pc_ok(c, "closedir", closedir(d));
	d = opendir(pc_path(c, "m"));
	if (d) {
		record_listing(c, "listing after modification", d);
		closedir(d);
	}
	pc_err(c, "opendir on file ENOTDIR",
	       opendir(pc_path(c, "d/file-001")) ? 0 : -1, ENOTDIR);
	pc_err(c, "opendir missing ENOENT",
	       opendir(pc_path(c, "nope")) ? 0 : -1, ENOENT);
}

static void t_statfs(struct pc_ctx *c)
{
	struct statvfs sv;
	struct statfs sf;
	int fd;

	pc_ok(c, "statvfs", statvfs(c->dir, &sv));
	pc_true(c, "bsize > 0", sv.f_bsize > 0);
	pc_true(c, "blocks > 0", sv.f_blocks > 0);
	pc_true(c, "bfree <= blocks", sv.f_bfree <= sv.f_blocks);
	pc_true(c, "bavail <= bfree", sv.f_bavail <= sv.f_bfree);
	pc_true(c, "files >= ffree", sv.f_files >= sv.f_ffree);
	pc_val(c, "namemax", (long long)sv.f_namemax);
	mkfile(c, "f", 1, 1);
	fd = pc_fd(c, "open", open(pc_path(c, "f"), O_RDONLY));
	pc_ok(c, "fstatfs", fstatfs(fd, &sf));
	pc_true(c, "fstatfs bsize > 0", sf.f_bsize > 0);
	close(fd);
	pc_err(c, "statfs missing", statfs(pc_path(c, "m"), &sf), ENOENT);
}

static void t_access(struct pc_ctx *c)
{
	mkfile(c, "f", 1, 21);
	mkfile(c, "x", 1, 22);
	pc_ok(c, "chmod x 0755", chmod(pc_path(c, "x"), 0755));
	pc_ok(c, "chmod f 0644", chmod(pc_path(c, "f"), 0644));
	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0700));
	pc_ok(c, "F_OK", access(pc_path(c, "f"), F_OK));
	pc_ok(c, "R_OK", access(pc_path(c, "f"), R_OK));
	pc_ok(c, "W_OK", access(pc_path(c, "f"), W_OK));
	pc_err(c, "X_OK on 0644 as root EACCES", access(pc_path(c, "f"), X_OK),
	       EACCES);
	pc_ok(c, "X_OK on 0755", access(pc_path(c, "x"), X_OK));
	pc_ok(c, "R_OK|W_OK|X_OK on dir",
	      access(pc_path(c, "d"), R_OK | W_OK | X_OK));
	pc_err(c, "F_OK missing ENOENT", access(pc_path(c, "m"), F_OK), ENOENT);
	pc_err(c, "ENOTDIR", access(pc_path(c, "f/x"), F_OK), ENOTDIR);
	pc_ok(c, "faccessat AT_EACCESS",
	      faccessat(AT_FDCWD, pc_path(c, "f"), R_OK, AT_EACCESS));
	pc_ok(c, "chmod f 0", chmod(pc_path(c, "f"), 0));
	pc_ok(c, "root R_OK|W_OK on mode 0",
	      access(pc_path(c, "f"), R_OK | W_OK));
	pc_err(c, "access bad mode EINVAL", access(pc_path(c, "f"), 0100),
	       EINVAL);
}

static void t_xattr(struct pc_ctx *c)
{
	char buf[8192], list[4096];
	ssize_t n;
	int fd;

	mkfile(c, "f", 1, 23);
	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0755));
	const char *f = pc_path(c, "f");

	pc_ok(c, "setxattr user.a", setxattr(f, "user.a", "hello", 5, 0));
	n = pc_ok(c, "getxattr user.a",
		  getxattr(f, "user.a", buf, sizeof(buf)));
	pc_data(c, "value", buf, n > 0 ? (size_t)n : 0);
	pc_ok(c, "size-0 query returns 5", getxattr(f, "user.a", NULL, 0));
	pc_err(c, "too-small buffer ERANGE", getxattr(f, "user.a", buf, 2),
	       ERANGE);
	pc_err(c, "missing ENODATA", getxattr(f, "user.nope", buf, sizeof(buf)),
	       ENODATA);
	pc_err(c, "XATTR_CREATE existing EEXIST",
	       setxattr(f, "user.a", "x", 1, XATTR_CREATE), EEXIST);
	pc_err(c, "XATTR_REPLACE missing ENODATA",
	       setxattr(f, "user.b", "x", 1, XATTR_REPLACE), ENODATA);
	pc_ok(c, "XATTR_REPLACE existing",
	      setxattr(f, "user.a", "world!", 6, XATTR_REPLACE));
	n = pc_ok(c, "get replaced", getxattr(f, "user.a", buf, sizeof(buf)));
	pc_data(c, "replaced value", buf, n > 0 ? (size_t)n : 0);
	pc_ok(c, "XATTR_CREATE new",
	      setxattr(f, "user.b", "", 0, XATTR_CREATE));
	pc_ok(c, "get empty value", getxattr(f, "user.b", buf, sizeof(buf)));
	pc_fill(big, 4000, 24);
	pc_ok(c, "set 4000-byte value", setxattr(f, "user.big", big, 4000, 0));
	n = pc_ok(c, "get big", getxattr(f, "user.big", buf, sizeof(buf)));
	pc_data(c, "big value", buf, n > 0 ? (size_t)n : 0);
	pc_err(c, "bad flags EINVAL", setxattr(f, "user.c", "x", 1, 0x10),
	       EINVAL);
	pc_err(c, "unknown namespace EOPNOTSUPP",
	       setxattr(f, "bogus.c", "x", 1, 0), EOPNOTSUPP);

	/* listxattr: keep user.* only (security.* may exist). */
	n = pc_ok(c, "listxattr", listxattr(f, list, sizeof(list)));
	{
		char *names[32], s[512] = "";
		size_t k = 0;

		for (ssize_t i = 0; i < n && k < 32;
		     i += (ssize_t)strlen(list + i) + 1)
			if (!strncmp(list + i, "user.", 5))
				names[k++] = list + i;
		qsort(names, k, sizeof(names[0]), cmp_str);
		for (size_t i = 0; i < k; i++) {
			strcat(s, names[i]);
			strcat(s, ",");
		}
		pc_str(c, "sorted user.* names", s);
	}
	pc_true(c, "size-0 listxattr = full size", listxattr(f, NULL, 0) == n);
	pc_err(c, "listxattr ERANGE", listxattr(f, list, 3), ERANGE);
	pc_ok(c, "removexattr", removexattr(f, "user.a"));
	pc_err(c, "removexattr again ENODATA", removexattr(f, "user.a"),
	       ENODATA);
	pc_err(c, "get removed ENODATA",
	       getxattr(f, "user.a", buf, sizeof(buf)), ENODATA);

	fd = pc_fd(c, "open", open(f, O_RDWR));
	pc_ok(c, "fsetxattr", fsetxattr(fd, "user.f", "fd", 2, 0));
	n = pc_ok(c, "fgetxattr", fgetxattr(fd, "user.f", buf, sizeof(buf)));
	pc_data(c, "fgetxattr value", buf, n > 0 ? (size_t)n : 0);
	pc_ok(c, "flistxattr size", flistxattr(fd, NULL, 0) > 0 ? 0 : -1);
	pc_ok(c, "fremovexattr", fremovexattr(fd, "user.f"));
	close(fd);

	pc_ok(c, "setxattr on dir",
	      setxattr(pc_path(c, "d"), "user.dir", "v", 1, 0));
	pc_ok(c, "symlink", symlink("f", pc_path(c, "s")));
	pc_err(c, "lsetxattr user.* on symlink EPERM",
	       lsetxattr(pc_path(c, "s"), "user.l", "v", 1, 0), EPERM);
	pc_ok(c, "setxattr through symlink",
	      setxattr(pc_path(c, "s"), "user.t", "v", 1, 0));
	pc_err(c, "getxattr on missing file",
	       getxattr(pc_path(c, "m"), "user.a", buf, 10), ENOENT);
}

static void flock_rec(struct pc_ctx *c, const char *desc, int fd, int type,
		      off_t start, off_t len)
{
	struct flock fl = { .l_type = (short)type,
			    .l_whence = SEEK_SET,
			    .l_start = start,
			    .l_len = len };
	char d[PC_DESC_MAX];

	pc_ok(c, desc, fcntl(fd, F_GETLK, &fl));
	/* Compare type/start/len only: the pid may differ over FUSE. */
	snprintf(d, sizeof(d), "%s: type", desc);
	pc_val(c, d, fl.l_type);
	if (fl.l_type != F_UNLCK) {
		snprintf(d, sizeof(d), "%s: start", desc);
		pc_val(c, d, fl.l_start);
		snprintf(d, sizeof(d), "%s: len", desc);
		pc_val(c, d, fl.l_len);
	}
}

static int setlk(int fd, int cmd, int type, off_t start, off_t len)
{
	struct flock fl = { .l_type = (short)type,
			    .l_whence = SEEK_SET,
			    .l_start = start,
			    .l_len = len };

	return fcntl(fd, cmd, &fl);
}

struct lock_arg {
	int to_parent; /* child writes 'R' (about to block), 'G' */
};

static void lock_child(struct pc_ctx *c, void *arg)
{
	struct lock_arg *la = arg;
	int fd = pc_fd(c, "child open", open(pc_path(c, "f"), O_RDWR));

	pc_err(c, "child F_SETLK WR conflicts EAGAIN",
	       setlk(fd, F_SETLK, F_WRLCK, 50, 10), EAGAIN);
	pc_err(c, "child F_SETLK RD on write lock EAGAIN",
	       setlk(fd, F_SETLK, F_RDLCK, 99, 1), EAGAIN);
	flock_rec(c, "child F_GETLK WR [50,60)", fd, F_WRLCK, 50, 10);
	flock_rec(c, "child F_GETLK RD over read lock", fd, F_RDLCK, 550, 10);
	flock_rec(c, "child F_GETLK WR over read lock", fd, F_WRLCK, 550, 10);
	flock_rec(c, "child F_GETLK free range", fd, F_WRLCK, 1000, 0);
	pc_ok(c, "child F_SETLK RD shares read lock",
	      setlk(fd, F_SETLK, F_RDLCK, 520, 10));
	pc_ok(c, "child F_SETLK WR free range",
	      setlk(fd, F_SETLK, F_WRLCK, 200, 10));
	pc_ok(c, "child tells parent it will block",
	      write(la->to_parent, "R", 1));
	pc_ok(c, "child F_SETLKW blocks until parent unlocks",
	      setlk(fd, F_SETLKW, F_WRLCK, 0, 10));
	pc_ok(c, "child reports grant", write(la->to_parent, "G", 1));
	pc_ok(c, "child unlock all", setlk(fd, F_SETLK, F_UNLCK, 0, 0));
	close(fd);
}

static void getlk_child(struct pc_ctx *c, void *arg)
{
	int fd = pc_fd(c, "child2 open", open(pc_path(c, "f"), O_RDWR));

	flock_rec(c, "child2 F_GETLK after parent closed another fd", fd,
		  F_WRLCK, 0, 0);
	close(fd);
}

static bool wait_byte(int fd, char want, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	return read(fd, &b, 1) == 1 && b == want;
}

static void t_posix_locks(struct pc_ctx *c)
{
	struct lock_arg la;
	struct pc_child ch;
	int fd, fd2, p[2];

	mkfile(c, "f", 1000, 25);
	fd = pc_fd(c, "open", open(pc_path(c, "f"), O_RDWR));
	pc_ok(c, "F_SETLK WR [0,100)", setlk(fd, F_SETLK, F_WRLCK, 0, 100));
	pc_ok(c, "F_SETLK RD [500,600)", setlk(fd, F_SETLK, F_RDLCK, 500, 100));
	flock_rec(c, "own locks never conflict", fd, F_WRLCK, 0, 0);
	pc_err(c, "F_SETLK bad type EINVAL", setlk(fd, F_SETLK, 42, 0, 1),
	       EINVAL);
	if (pipe(p) < 0) {
		pc_ok(c, "pipe", -1);
		return;
	}
	la.to_parent = p[1];
	if (pc_child_start(c, &ch, lock_child, &la, (uid_t)-1, (gid_t)-1) < 0) {
		pc_ok(c, "fork", -1);
		return;
	}
	close(p[1]);
	pc_true(c, "child about to block", wait_byte(p[0], 'R', 30000));
	pc_err(c, "parent F_SETLK on child's lock EAGAIN",
	       setlk(fd, F_SETLK, F_WRLCK, 205, 1), EAGAIN);
	flock_rec(c, "parent F_GETLK sees child's lock", fd, F_WRLCK, 200, 100);
	/* The child must not be granted while we hold [0,100). */
	pc_true(c, "child still blocked after 300 ms",
		!wait_byte(p[0], 'G', 300));
	pc_ok(c, "parent unlock [0,100)", setlk(fd, F_SETLK, F_UNLCK, 0, 100));
	pc_true(c, "child granted after unlock", wait_byte(p[0], 'G', 30000));
	close(p[0]);
	pc_child_finish(c, &ch);

	/* Closing ANY fd of the file drops the process's POSIX locks. */
	pc_ok(c, "parent relock [0,10)", setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	fd2 = pc_fd(c, "open second fd", open(pc_path(c, "f"), O_RDONLY));
	pc_ok(c, "close second fd", close(fd2));
	pc_child_run(c, getlk_child, NULL, (uid_t)-1, (gid_t)-1);
	pc_ok(c, "close", close(fd));
}

static void flock_child(struct pc_ctx *c, void *arg)
{
	int fd = pc_fd(c, "child open", open(pc_path(c, "f"), O_RDONLY));

	pc_err(c, "child LOCK_EX|LOCK_NB EWOULDBLOCK",
	       flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	pc_ok(c, "child LOCK_SH|LOCK_NB shares", flock(fd, LOCK_SH | LOCK_NB));
	close(fd);
}

static void t_flock(struct pc_ctx *c)
{
	int a, b;

	mkfile(c, "f", 10, 26);
	a = pc_fd(c, "open a", open(pc_path(c, "f"), O_RDWR));
	b = pc_fd(c, "open b", open(pc_path(c, "f"), O_RDWR));
	pc_ok(c, "a LOCK_EX", flock(a, LOCK_EX));
	pc_err(c, "b LOCK_EX|LOCK_NB EWOULDBLOCK", flock(b, LOCK_EX | LOCK_NB),
	       EWOULDBLOCK);
	pc_err(c, "b LOCK_SH|LOCK_NB EWOULDBLOCK", flock(b, LOCK_SH | LOCK_NB),
	       EWOULDBLOCK);
	pc_ok(c, "a relock LOCK_EX (same description)",
	      flock(a, LOCK_EX | LOCK_NB));
	pc_ok(c, "a downgrade LOCK_SH", flock(a, LOCK_SH | LOCK_NB));
	pc_ok(c, "b LOCK_SH|LOCK_NB", flock(b, LOCK_SH | LOCK_NB));
	pc_child_run(c, flock_child, NULL, (uid_t)-1, (gid_t)-1);
	pc_err(c, "a LOCK_EX|LOCK_NB vs b's shared EWOULDBLOCK",
	       flock(a, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	pc_ok(c, "b LOCK_UN", flock(b, LOCK_UN));
	pc_ok(c, "a upgrade LOCK_EX", flock(a, LOCK_EX | LOCK_NB));
	pc_ok(c, "close a releases", close(a));
	/*
	 * FUSE sends RELEASE (which carries the flock unlock) asynchronously
	 * after close() returns, for every FUSE filesystem; so wait for the
	 * lock instead of testing it with LOCK_NB.  If close never released
	 * it this blocks and the case's hard timeout fails the test.
	 */
	pc_ok(c, "b LOCK_EX (granted once a's release lands)",
	      flock(b, LOCK_EX));
	pc_err(c, "flock bad op EINVAL", flock(b, 0), EINVAL);
	close(b);
}

static void t_fallocate(struct pc_ctx *c)
{
	static char rb[65536];
	struct stat st;
	int fd;

	fd = pc_fd(c, "create", open(pc_path(c, "f"), O_RDWR | O_CREAT, 0644));
	pc_ok(c, "fallocate 1 MiB", fallocate(fd, 0, 0, 1 << 20));
	pc_ok(c, "fstat", fstat(fd, &st));
	pc_val(c, "size 1 MiB", st.st_size);
	pc_ok(c, "pread", pread(fd, rb, 4096, 4096));
	pc_data(c, "allocated reads zeros", rb, 4096);
	pc_ok(c, "KEEP_SIZE beyond EOF",
	      fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20));
	pc_ok(c, "fstat", fstat(fd, &st));
	pc_val(c, "size unchanged", st.st_size);
	pc_fill(big, 65536, 27);
	pc_ok(c, "write 64 KiB", pwrite(fd, big, 65536, 0));
	pc_ok(c, "fsync", fsync(fd));
	pc_ok(c, "PUNCH_HOLE|KEEP_SIZE [4096,12288)",
	      fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096,
			8192));
	pc_ok(c, "pread after punch", pread(fd, rb, 65536, 0));
	pc_data(c, "data with punched zeros", rb, 65536);
	pc_ok(c, "fstat", fstat(fd, &st));
	pc_val(c, "size after punch", st.st_size);
	pc_err(c, "PUNCH_HOLE without KEEP_SIZE EOPNOTSUPP",
	       fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP);
	pc_ok(c, "ZERO_RANGE", fallocate(fd, FALLOC_FL_ZERO_RANGE, 100, 50));
	pc_ok(c, "pread after zero range", pread(fd, rb, 4096, 0));
	pc_data(c, "zeroed range", rb, 4096);
	pc_err(c, "len 0 EINVAL", fallocate(fd, 0, 0, 0), EINVAL);
	pc_err(c, "negative offset EINVAL", fallocate(fd, 0, -1, 10), EINVAL);
	pc_ok(c, "fallocate extends", fallocate(fd, 0, (2 << 20) - 10, 100));
	pc_ok(c, "fstat", fstat(fd, &st));
	pc_val(c, "extended size", st.st_size);
	close(fd);
	fd = pc_fd(c, "open ro", open(pc_path(c, "f"), O_RDONLY));
	pc_err(c, "fallocate on O_RDONLY EBADF", fallocate(fd, 0, 0, 10),
	       EBADF);
	close(fd);
	pc_file_data(c, "final", "f");
}

static void t_copy_range(struct pc_ctx *c)
{
	static char rb[300000];
	loff_t in_off, out_off;
	int in, out;

	mkfile(c, "src", 200000, 28);
	in = pc_fd(c, "open src", open(pc_path(c, "src"), O_RDONLY));
	out = pc_fd(c, "create dst",
		    open(pc_path(c, "dst"), O_RDWR | O_CREAT, 0644));
	pc_ok(c, "copy_file_range whole",
	      copy_file_range(in, NULL, out, NULL, 200000, 0));
	pc_file_data(c, "dst equals src", "dst");
	in_off = 1000;
	out_off = 250000;
	pc_ok(c, "copy with offsets past dst EOF",
	      copy_file_range(in, &in_off, out, &out_off, 5000, 0));
	pc_val(c, "in_off advanced", in_off);
	pc_val(c, "out_off advanced", out_off);
	pc_ok(c, "pread dst", pread(out, rb, sizeof(rb), 0));
	pc_data(c, "dst content", rb, 255000);
	in_off = 300000;
	pc_ok(c, "copy from beyond EOF returns 0",
	      copy_file_range(in, &in_off, out, NULL, 100, 0));
	in_off = 0;
	out_off = 10;
	pc_err(c, "flags EINVAL",
	       copy_file_range(in, &in_off, out, &out_off, 10, 1), EINVAL);
	in_off = 0;
	out_off = 10;
	pc_err(c, "same file overlapping EINVAL",
	       copy_file_range(out, &in_off, out, &out_off, 100, 0), EINVAL);
	pc_err(c, "dst O_RDONLY EBADF",
	       copy_file_range(out, NULL, in, NULL, 10, 0), EBADF);
	close(in);
	close(out);
}

static void t_seek(struct pc_ctx *c)
{
	off_t r;
	int fd;

	fd = pc_fd(c, "create",
		   open(pc_path(c, "sparse"), O_RDWR | O_CREAT, 0644));
	pc_fill(big, 4096, 29);
	pc_ok(c, "pwrite 4 KiB at 1 MiB", pwrite(fd, big, 4096, 1 << 20));
	pc_ok(c, "ftruncate 4 MiB", ftruncate(fd, 4 << 20));
	pc_ok(c, "fsync", fsync(fd));
	/* File systems may round to their block size: compare meaning. */
	r = lseek(fd, 0, SEEK_DATA);
	pc_true(c, "SEEK_DATA from 0 finds the data", r >= 0 && r <= (1 << 20));
	r = lseek(fd, 1 << 20, SEEK_HOLE);
	pc_true(c, "SEEK_HOLE from data is past it",
		r >= (1 << 20) + 4096 && r <= (4 << 20));
	r = lseek(fd, (1 << 20) + 8192, SEEK_DATA);
	pc_true(c, "SEEK_DATA in the tail hole: ENXIO or a hole-less answer",
		(r < 0 && errno == ENXIO) || r >= (1 << 20) + 8192);
	pc_err(c, "SEEK_DATA beyond EOF ENXIO", lseek(fd, 5 << 20, SEEK_DATA),
	       ENXIO);
	pc_err(c, "SEEK_HOLE beyond EOF ENXIO", lseek(fd, 5 << 20, SEEK_HOLE),
	       ENXIO);
	r = lseek(fd, (4 << 20) - 1, SEEK_HOLE);
	pc_true(c, "SEEK_HOLE at last byte <= EOF", r >= 0 && r <= (4 << 20));
	pc_err(c, "bad whence EINVAL", lseek(fd, 0, 42), EINVAL);
	pc_err(c, "negative SEEK_SET EINVAL", lseek(fd, -1, SEEK_SET), EINVAL);
	pc_ok(c, "SEEK_END", lseek(fd, 0, SEEK_END));
	pc_ok(c, "SEEK_END +10 (past EOF ok)", lseek(fd, 10, SEEK_END));
	close(fd);
	mkfile(c, "dense", 10000, 30);
	fd = pc_fd(c, "open dense", open(pc_path(c, "dense"), O_RDONLY));
	pc_ok(c, "dense SEEK_HOLE = size", lseek(fd, 0, SEEK_HOLE));
	pc_ok(c, "dense SEEK_DATA 5000 = 5000", lseek(fd, 5000, SEEK_DATA));
	close(fd);
}

static void t_mmap(struct pc_ctx *c)
{
	static char rb[3 * 4096];
	const size_t len = 3 * 4096;
	char *m;
	int fd, fd2;

	fd = pc_fd(c, "create", open(pc_path(c, "f"), O_RDWR | O_CREAT, 0644));
	pc_ok(c, "ftruncate", ftruncate(fd, (off_t)len));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pc_true(c, "mmap MAP_SHARED", m != MAP_FAILED);
	if (m == MAP_FAILED)
		return;
	pc_fill(big, len, 31);
	memcpy(m, big, len);
	pc_ok(c, "msync", msync(m, len, MS_SYNC));
	fd2 = pc_fd(c, "open second fd", open(pc_path(c, "f"), O_RDONLY));
	pc_ok(c, "read() sees mmap writes", pread(fd2, rb, len, 0));
	pc_data(c, "content", rb, len);
	pc_ok(c, "write() at 100", pwrite(fd, "WRITTEN", 7, 100));
	pc_data(c, "mapping sees write()", m, 200);
	pc_ok(c, "munmap", munmap(m, len));
	pc_ok(c, "close", close(fd));
	pc_ok(c, "close 2", close(fd2));
	pc_file_data(c, "after unmap and close", "f");
	fd = pc_fd(c, "reopen ro", open(pc_path(c, "f"), O_RDONLY));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pc_true(c, "shared writable map of O_RDONLY fails EACCES",
		m == MAP_FAILED && errno == EACCES);
	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	pc_true(c, "private read map", m != MAP_FAILED);
	if (m != MAP_FAILED) {
		pc_data(c, "private map content", m, len);
		munmap(m, len);
	}
	close(fd);
}

static void t_names(struct pc_ctx *c)
{
	char n255[300], n256[300], rel[600], xn[300];
	struct stat st;

	memset(n255, 'a', 255);
	n255[255] = 0;
	memset(n256, 'b', 256);
	n256[256] = 0;
	pc_fd(c, "create 255-byte name",
	      open(pc_path(c, n255), O_RDWR | O_CREAT, 0644) < 0 ? -1 : 0);
	pc_ok(c, "stat 255-byte name", stat(pc_path(c, n255), &st));
	pc_err(c, "create 256-byte name ENAMETOOLONG",
	       open(pc_path(c, n256), O_RDWR | O_CREAT, 0644), ENAMETOOLONG);
	pc_err(c, "stat 256 ENAMETOOLONG", stat(pc_path(c, n256), &st),
	       ENAMETOOLONG);
	pc_err(c, "mkdir 256 ENAMETOOLONG", mkdir(pc_path(c, n256), 0755),
	       ENAMETOOLONG);
	pc_err(c, "symlink 256 ENAMETOOLONG", symlink("x", pc_path(c, n256)),
	       ENAMETOOLONG);
	pc_err(c, "rename to 256 ENAMETOOLONG",
	       rename(pc_path(c, n255), pc_path(c, n256)), ENAMETOOLONG);
	pc_err(c, "link to 256 ENAMETOOLONG",
	       link(pc_path(c, n255), pc_path(c, n256)), ENAMETOOLONG);
	memcpy(xn, "user.", 5);
	memset(xn + 5, 'x', 251);
	xn[256] = 0;
	pc_err(c, "setxattr 256-byte name ERANGE",
	       setxattr(pc_path(c, n255), xn, "v", 1, 0), ERANGE);
	xn[255] = 0;
	pc_ok(c, "setxattr 255-byte name",
	      setxattr(pc_path(c, n255), xn, "v", 1, 0));
	pc_ok(c, "name with spaces, utf-8 and newline",
	      mknod(pc_path(c, "sp ace \xc3\xa9\n-"), S_IFREG | 0644, 0));
	pc_ok(c, "name starting with dash",
	      mknod(pc_path(c, "-rf"), S_IFREG | 0644, 0));
	pc_ok(c, "name ...", mknod(pc_path(c, "..."), S_IFREG | 0644, 0));
	snprintf(rel, sizeof(rel), "%s/x", n255);
	pc_err(c, "component under file ENOTDIR", stat(pc_path(c, rel), &st),
	       ENOTDIR);
}

static void perm_child(struct pc_ctx *c, void *arg)
{
	struct timespec ts[2] = { { 1, 0 }, { 2, 0 } };
	char buf[64];
	struct stat st;
	int fd;

	pc_err(c, "open 0600 file of another user EACCES",
	       open(pc_path(c, "priv/secret"), O_RDONLY), EACCES);
	fd = pc_fd(c, "open 0644 file of another user",
		   open(pc_path(c, "priv/public"), O_RDONLY));
	pc_ok(c, "read it", read(fd, buf, sizeof(buf)));
	close(fd);
	pc_err(c, "open it O_WRONLY EACCES",
	       open(pc_path(c, "priv/public"), O_WRONLY), EACCES);
	pc_ok(c, "access R_OK", access(pc_path(c, "priv/public"), R_OK));
	pc_err(c, "access W_OK EACCES", access(pc_path(c, "priv/public"), W_OK),
	       EACCES);
	pc_err(c, "access X_OK EACCES", access(pc_path(c, "priv/public"), X_OK),
	       EACCES);
	pc_ok(c, "access X_OK on 0755", access(pc_path(c, "priv/exec"), X_OK));
	pc_err(c, "create in root's 0755 dir EACCES",
	       open(pc_path(c, "priv/new"), O_RDWR | O_CREAT, 0644), EACCES);
	pc_err(c, "mkdir in root's 0755 dir EACCES",
	       mkdir(pc_path(c, "priv/newd"), 0755), EACCES);
	pc_err(c, "unlink in root's 0755 dir EACCES",
	       unlink(pc_path(c, "priv/public")), EACCES);
	fd = pc_fd(c, "create in 1777 dir",
		   open(pc_path(c, "sticky/mine"), O_RDWR | O_CREAT, 0640));
	pc_ok(c, "write own file", write(fd, "mine", 4));
	close(fd);
	pc_ok(c, "stat own file", stat(pc_path(c, "sticky/mine"), &st));
	pc_val(c, "owned by creator uid", st.st_uid);
	pc_val(c, "owned by creator gid", st.st_gid);
	pc_ok(c, "chmod own file", chmod(pc_path(c, "sticky/mine"), 0600));
	pc_err(c, "chown own file away EPERM",
	       chown(pc_path(c, "sticky/mine"), OTHER_UID, -1), EPERM);
	pc_err(c, "unlink other's file in sticky dir EPERM",
	       unlink(pc_path(c, "sticky/theirs")), EPERM);
	pc_err(c, "rename other's file in sticky dir EPERM",
	       rename(pc_path(c, "sticky/theirs"), pc_path(c, "sticky/t2")),
	       EPERM);
	pc_err(c, "stat inside other's 0700 dir EACCES",
	       stat(pc_path(c, "closed/file"), &st), EACCES);
	pc_err(c, "opendir other's 0700 dir EACCES",
	       opendir(pc_path(c, "closed")) ? 0 : -1, EACCES);
	pc_err(c, "chmod other's file EPERM",
	       chmod(pc_path(c, "priv/public"), 0666), EPERM);
	pc_err(c, "utimensat NULL on other's file EACCES",
	       utimensat(AT_FDCWD, pc_path(c, "priv/public"), NULL, 0), EACCES);
	pc_err(c, "utimensat explicit on other's file EPERM",
	       utimensat(AT_FDCWD, pc_path(c, "priv/public"), ts, 0), EPERM);
	pc_err(c, "truncate other's file EACCES",
	       truncate(pc_path(c, "priv/public"), 0), EACCES);
	pc_any(c, "setxattr user.* on other's file",
	       setxattr(pc_path(c, "priv/public"), "user.x", "v", 1, 0));
	pc_any(c, "getxattr on 0600 file of another user",
	       getxattr(pc_path(c, "priv/secret"), "user.s", buf, sizeof(buf)));
	pc_any(c, "hard link to other's unreadable file (protected_hardlinks)",
	       link(pc_path(c, "priv/secret"), pc_path(c, "sticky/hl")));
	pc_ok(c, "unlink own file in sticky dir",
	      unlink(pc_path(c, "sticky/mine")));
	pc_ok(c, "mkdir own dir", mkdir(pc_path(c, "sticky/mydir"), 0700));
	pc_stat(c, "own dir attrs", "sticky/mydir", true);
}

static void t_perm(struct pc_ctx *c)
{
	pc_ok(c, "mkdir priv", mkdir(pc_path(c, "priv"), 0755));
	mkfile(c, "priv/secret", 10, 40);
	mkfile(c, "priv/public", 10, 41);
	mkfile(c, "priv/exec", 10, 42);
	pc_ok(c, "setxattr secret",
	      setxattr(pc_path(c, "priv/secret"), "user.s", "v", 1, 0));
	pc_ok(c, "chmod secret 0600", chmod(pc_path(c, "priv/secret"), 0600));
	pc_ok(c, "chmod exec 0755", chmod(pc_path(c, "priv/exec"), 0755));
	pc_ok(c, "chown secret",
	      chown(pc_path(c, "priv/secret"), OTHER_UID, OTHER_GID));
	pc_ok(c, "chown public",
	      chown(pc_path(c, "priv/public"), OTHER_UID, OTHER_GID));
	pc_ok(c, "chown exec",
	      chown(pc_path(c, "priv/exec"), OTHER_UID, OTHER_GID));
	pc_ok(c, "mkdir sticky", mkdir(pc_path(c, "sticky"), 0755));
	pc_ok(c, "chmod 1777", chmod(pc_path(c, "sticky"), 01777));
	mkfile(c, "sticky/theirs", 3, 43);
	pc_ok(c, "chown theirs",
	      chown(pc_path(c, "sticky/theirs"), OTHER_UID, OTHER_GID));
	pc_ok(c, "mkdir closed", mkdir(pc_path(c, "closed"), 0700));
	mkfile(c, "closed/file", 3, 44);
	pc_ok(c, "chown closed",
	      chown(pc_path(c, "closed"), OTHER_UID, OTHER_GID));
	pc_child_run(c, perm_child, NULL, USER_UID, USER_GID);
}

static void t_einval(struct pc_ctx *c)
{
	struct stat st;
	int fd;

	mkfile(c, "f", 100, 50);
	pc_ok(c, "mkdir", mkdir(pc_path(c, "d"), 0755));
	fd = pc_fd(c, "open", open(pc_path(c, "f"), O_RDWR));
	pc_err(c, "open with O_CREAT|O_DIRECTORY EINVAL",
	       open(pc_path(c, "new"), O_RDWR | O_CREAT | O_DIRECTORY, 0644),
	       EINVAL);
	pc_err(c, "fstatat bad flags EINVAL",
	       fstatat(AT_FDCWD, pc_path(c, "f"), &st, 0x4000000), EINVAL);
	pc_err(c, "renameat2 bad flags EINVAL",
	       renameat2(AT_FDCWD, pc_path(c, "f"), AT_FDCWD, pc_path(c, "g"),
			 0x80),
	       EINVAL);
	pc_err(c, "rename d to d/. (EBUSY/EINVAL)",
	       rename(pc_path(c, "d"), pc_path(c, "d/sub")), EINVAL);
	pc_err(c, "rename . EBUSY", rename(pc_path(c, "d/."), pc_path(c, "x")),
	       EBUSY);
	pc_err(c, "fallocate bad mode EOPNOTSUPP", fallocate(fd, 0x100, 0, 10),
	       EOPNOTSUPP);
	pc_err(c, "write to bad fd EBADF", write(-1, "x", 1), EBADF);
	pc_ok(c, "close", close(fd));
}

const struct pc_case pc_cases[] = {
	{ "lookup", t_lookup },
	{ "chmod", t_chmod },
	{ "chown", t_chown },
	{ "truncate", t_truncate },
	{ "utimens", t_utimens },
	{ "symlink", t_symlink },
	{ "mknod", t_mknod },
	{ "mkdir", t_mkdir },
	{ "unlink", t_unlink },
	{ "rmdir", t_rmdir },
	{ "rename", t_rename },
	{ "link", t_link },
	{ "open", t_open },
	{ "rw", t_rw },
	{ "direct", t_direct },
	{ "fsync", t_fsync },
	{ "readdir", t_readdir },
	{ "statfs", t_statfs },
	{ "access", t_access },
	{ "xattr", t_xattr },
	{ "posix_locks", t_posix_locks },
	{ "flock", t_flock },
	{ "fallocate", t_fallocate },
	{ "copy_range", t_copy_range },
	{ "seek", t_seek },
	{ "mmap", t_mmap },
	{ "names", t_names },
	{ "perm", t_perm },
	{ "einval", t_einval },
	{ "umask", pc_t_umask },
	{ "killpriv", pc_t_killpriv },
	{ "groups", pc_t_groups },
	{ "mvdir", pc_t_mvdir },
};
const size_t pc_ncases = sizeof(pc_cases) / sizeof(pc_cases[0]);
