// SPDX-License-Identifier: MIT
/*
 * posix_check cases about who may do what and with which mode bits: the
 * creation mode under every umask, the caller's supplementary groups,
 * suid/sgid bits killed by writes, truncates and chowns, and moving
 * directories between parents as someone else.  Same rules as
 * posix_cases.c: deterministic, every result recorded, compared with
 * the local reference directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "posix_check.h"

/* ---- umask ------------------------------------------------------------ */

/* every way to create, under umask um: the mode is mode & ~um, exactly */
static void umask_one(struct pc_ctx *c, mode_t um)
{
	static const mode_t modes[] = { 0620,  0642,  0777,  0666, 04777,
					02777, 06755, 01777, 0 };
	char rel[64], d[PC_DESC_MAX];
	int fd;

	umask(um);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		mode_t m = modes[i];

		snprintf(rel, sizeof(rel), "u%03o-open-%04o", um, m);
		snprintf(d, sizeof(d), "umask %03o: open O_CREAT %04o", um, m);
		fd = pc_fd(c, d,
			   open(pc_path(c, rel), O_WRONLY | O_CREAT | O_EXCL,
				m));
		if (fd >= 0)
			close(fd);
		pc_stat(c, d, rel, false);
		snprintf(rel, sizeof(rel), "u%03o-mkdir-%04o", um, m);
		snprintf(d, sizeof(d), "umask %03o: mkdir %04o", um, m);
		pc_ok(c, d, mkdir(pc_path(c, rel), m));
		pc_stat(c, d, rel, false);
		snprintf(rel, sizeof(rel), "u%03o-fifo-%04o", um, m);
		snprintf(d, sizeof(d), "umask %03o: mknod fifo %04o", um, m);
		pc_ok(c, d, mknod(pc_path(c, rel), S_IFIFO | m, 0));
		pc_stat(c, d, rel, false);
		snprintf(rel, sizeof(rel), "u%03o-reg-%04o", um, m);
		snprintf(d, sizeof(d), "umask %03o: mknod reg %04o", um, m);
		pc_ok(c, d, mknod(pc_path(c, rel), S_IFREG | m, 0));
		pc_stat(c, d, rel, false);
	}
	snprintf(rel, sizeof(rel), "u%03o-creat", um);
	snprintf(d, sizeof(d), "umask %03o: creat 0666", um);
	fd = pc_fd(c, d, creat(pc_path(c, rel), 0666));
	if (fd >= 0)
		close(fd);
	pc_stat(c, d, rel, false);
	umask(022);
}

void pc_t_umask(struct pc_ctx *c)
{
	static const mode_t masks[] = { 0, 02, 022, 027, 077, 0777 };
	int fd;

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++)
		umask_one(c, masks[i]);
	/* in a setgid directory, umask 0: group and bit are inherited */
	umask(0);
	pc_ok(c, "mkdir sg", mkdir(pc_path(c, "sg"), 0777));
	pc_ok(c, "chmod sg 02777", chmod(pc_path(c, "sg"), 02777));
	pc_ok(c, "chown sg :4243", chown(pc_path(c, "sg"), -1, 4243));
	pc_ok(c, "mkdir sg/d 0770", mkdir(pc_path(c, "sg/d"), 0770));
	pc_stat(c, "sg/d: 02770, group 4243", "sg/d", false);
	fd = pc_fd(c, "create sg/f 0664",
		   open(pc_path(c, "sg/f"), O_WRONLY | O_CREAT, 0664));
	if (fd >= 0)
		close(fd);
	pc_stat(c, "sg/f: 0664, group 4243", "sg/f", false);
	umask(022);
}

/* ---- suid/sgid killed by writes, truncates and chowns ----------------- */

#define USER_UID 1000
#define USER_GID 1000

/* the mode of rel, fstat'ed through fd (the caller's view, not a cache) */
static void fd_mode(struct pc_ctx *c, const char *desc, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		pc_ok(c, desc, -1);
	else
		pc_val(c, desc, st.st_mode);
}

/* open rel with flags, record the mode, do one write, record it again */
static void write_kills(struct pc_ctx *c, const char *who, const char *rel,
			int flags)
{
	char d[PC_DESC_MAX];
	int fd;

	snprintf(d, sizeof(d), "%s: open %s %s", who, rel,
		 flags & O_TRUNC	       ? "O_WRONLY|O_TRUNC" :
		 (flags & O_ACCMODE) == O_RDWR ? "O_RDWR" :
						 "O_WRONLY");
	fd = pc_fd(c, d, open(pc_path(c, rel), flags));
	snprintf(d, sizeof(d), "%s: %s mode after open", who, rel);
	fd_mode(c, d, fd);
	snprintf(d, sizeof(d), "%s: write %s", who, rel);
	pc_ok(c, d, write(fd, "x", 1));
	snprintf(d, sizeof(d), "%s: %s mode after the write", who, rel);
	fd_mode(c, d, fd);
	snprintf(d, sizeof(d), "%s: second write %s", who, rel);
	pc_ok(c, d, pwrite(fd, "yz", 2, 4));
	snprintf(d, sizeof(d), "%s: %s mode after it", who, rel);
	fd_mode(c, d, fd);
	if (fd >= 0)
		close(fd);
	snprintf(d, sizeof(d), "%s: stat %s", who, rel);
	pc_stat(c, d, rel, false);
}

static void killpriv_child(struct pc_ctx *c, void *arg)
{
	static const char *const names[] = { "w4777", "w2777", "w6777", "w2767",
					     "w2775" };
	char rel[32];
	int fd;

	(void)arg;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		write_kills(c, "user", names[i], O_WRONLY);
		snprintf(rel, sizeof(rel), "r%s", names[i] + 1);
		write_kills(c, "user", rel, O_RDWR);
		snprintf(rel, sizeof(rel), "t%s", names[i] + 1);
		write_kills(c, "user", rel, O_WRONLY | O_TRUNC);
	}
	/* opening for writing alone changes nothing */
	fd = pc_fd(c, "user: open o6777 O_WRONLY, no write",
		   open(pc_path(c, "o6777"), O_WRONLY));
	if (fd >= 0)
		close(fd);
	pc_stat(c, "user: o6777 unchanged", "o6777", false);
	/* truncate(2), ftruncate(2), fallocate(2), O_APPEND, pwritev */
	pc_ok(c, "user: truncate tr6777", truncate(pc_path(c, "tr6777"), 2));
	pc_stat(c, "user: tr6777 after truncate", "tr6777", false);
	fd = pc_fd(c, "user: open ft6777", open(pc_path(c, "ft6777"), O_RDWR));
	pc_ok(c, "user: ftruncate ft6777", ftruncate(fd, 1));
	fd_mode(c, "user: ft6777 mode after ftruncate", fd);
	if (fd >= 0)
		close(fd);
	fd = pc_fd(c, "user: open fa6777", open(pc_path(c, "fa6777"), O_RDWR));
	pc_any(c, "user: fallocate fa6777", fallocate(fd, 0, 0, 8192));
	fd_mode(c, "user: fa6777 mode after fallocate", fd);
	if (fd >= 0)
		close(fd);
	fd = pc_fd(c, "user: open ap6777 O_APPEND",
		   open(pc_path(c, "ap6777"), O_WRONLY | O_APPEND));
	pc_ok(c, "user: append ap6777", write(fd, "tail", 4));
	fd_mode(c, "user: ap6777 mode after append", fd);
	if (fd >= 0)
		close(fd);
	/* the owner is no exception; chown by the owner kills both bits */
	write_kills(c, "owner", "own6755", O_WRONLY);
	pc_ok(c, "owner: chmod own6755b 06755",
	      chmod(pc_path(c, "own6755b"), 06755));
	pc_stat(c, "owner: own6755b mode", "own6755b", false);
	pc_ok(c, "owner: chown own6755b -1:own gid",
	      chown(pc_path(c, "own6755b"), -1, USER_GID));
	pc_stat(c, "owner: own6755b after chown", "own6755b", false);
	pc_ok(c, "owner: chmod own6755b 06755 again",
	      chmod(pc_path(c, "own6755b"), 06755));
	pc_ok(c, "owner: truncate own6755b",
	      truncate(pc_path(c, "own6755b"), 0));
	pc_stat(c, "owner: own6755b after truncate", "own6755b", false);
}

void pc_t_killpriv(struct pc_ctx *c)
{
	static const mode_t modes[] = { 04777, 02777, 06777, 02767, 02775 };
	static const char *const kinds[] = { "w", "r", "t" };
	char rel[32], buf[16];
	int fd;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		for (size_t k = 0; k < 3; k++) {
			snprintf(rel, sizeof(rel), "%s%04o", kinds[k],
				 modes[i]);
			pc_ok(c, rel,
			      pc_write_file(pc_path(c, rel), "hello!", 6,
					    0644));
			pc_ok(c, rel, chmod(pc_path(c, rel), modes[i]));
		}
	}
	/*
	 * 02775: writable through the group (the user's primary one); the
	 * writer is in the group, sgid still goes (g+x).  chown first, it
	 * clears the bits.
	 */
	for (size_t k = 0; k < 3; k++) {
		snprintf(rel, sizeof(rel), "%s2775", kinds[k]);
		pc_ok(c, rel, chown(pc_path(c, rel), 0, USER_GID));
		pc_ok(c, rel, chmod(pc_path(c, rel), 02775));
	}
	static const char *const more[] = { "o6777", "tr6777", "ft6777",
					    "fa6777", "ap6777" };
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		pc_ok(c, more[i],
		      pc_write_file(pc_path(c, more[i]), "hello!", 6, 0644));
		pc_ok(c, more[i], chmod(pc_path(c, more[i]), 06777));
	}
	pc_ok(c, "own6755",
	      pc_write_file(pc_path(c, "own6755"), "ab", 2, 0644));
	pc_ok(c, "chown own6755 to the user",
	      chown(pc_path(c, "own6755"), USER_UID, USER_GID));
	pc_ok(c, "chmod own6755 06755", chmod(pc_path(c, "own6755"), 06755));
	pc_ok(c, "own6755b",
	      pc_write_file(pc_path(c, "own6755b"), "ab", 2, 0644));
	pc_ok(c, "chown own6755b to the user",
	      chown(pc_path(c, "own6755b"), USER_UID, USER_GID));
	pc_child_run(c, killpriv_child, NULL, USER_UID, USER_GID);

	/* root (CAP_FSETID) keeps the bits when it writes or truncates */
	pc_ok(c, "root6777",
	      pc_write_file(pc_path(c, "root6777"), "ab", 2, 0644));
	pc_ok(c, "chmod root6777", chmod(pc_path(c, "root6777"), 06777));
	write_kills(c, "root", "root6777", O_RDWR);
	pc_ok(c, "root: truncate root6777",
	      truncate(pc_path(c, "root6777"), 1));
	pc_stat(c, "root: root6777 after truncate", "root6777", false);
	/* and a chown by root clears suid, and sgid with g+x */
	pc_ok(c, "root: chown root6777 1:1",
	      chown(pc_path(c, "root6777"), 1, 1));
	pc_stat(c, "root: root6777 after chown", "root6777", false);
	fd = pc_fd(c, "root: read w4777 back",
		   open(pc_path(c, "w4777"), O_RDONLY));
	pc_ok(c, "root: read it", read(fd, buf, sizeof(buf)));
	pc_data(c, "w4777 content", buf, 8);
	if (fd >= 0)
		close(fd);
}

/* ---- supplementary groups --------------------------------------------- */

#define GP 65532  /* the user's primary group */
#define GS 65531  /* a supplementary group of the user */
#define GS2 65530 /* another one */
#define GX 65529  /* not one of the user's */

static void groups_child(struct pc_ctx *c, void *arg)
{
	const char *who = arg;
	char d[PC_DESC_MAX], buf[16];
	struct stat st;
	DIR *dir;
	int fd;

#define D(what) (snprintf(d, sizeof(d), "%s: %s", who, what), d)
	pc_any(c, D("chown mine -1:GS"), chown(pc_path(c, "mine"), -1, GS));
	pc_stat(c, D("mine"), "mine", false);
	pc_any(c, D("chown mine -1:GS2"), chown(pc_path(c, "mine"), -1, GS2));
	pc_err(c, D("chown mine -1:GX (not a member) EPERM"),
	       chown(pc_path(c, "mine"), -1, GX), EPERM);
	pc_ok(c, D("chown mine -1:GP (primary)"),
	      chown(pc_path(c, "mine"), -1, GP));
	pc_any(c, D("lchown mine-l -1:GS"),
	       lchown(pc_path(c, "mine-l"), -1, GS));
	pc_stat(c, D("mine-l"), "mine-l", false);
	fd = pc_fd(c, D("open mine"), open(pc_path(c, "mine"), O_RDONLY));
	pc_any(c, D("fchown mine -1:GS"), fchown(fd, -1, GS));
	if (fd >= 0)
		close(fd);
	pc_stat(c, D("mine after fchown"), "mine", false);
	pc_any(c, D("chmod mine 02755 (sgid kept if a member of its group)"),
	       chmod(pc_path(c, "mine"), 02755));
	pc_stat(c, D("mine after chmod 02755"), "mine", false);
	pc_ok(c, D("chmod foreign 02755 (group GX: sgid dropped)"),
	      chmod(pc_path(c, "foreign"), 02755));
	pc_stat(c, D("foreign after chmod"), "foreign", false);

	fd = pc_any(c, D("open gfile O_RDWR (group rw)"),
		    open(pc_path(c, "gfile"), O_RDWR));
	pc_any(c, D("write gfile"), write(fd, "group", 5));
	if (fd >= 0)
		close(fd);
	pc_any(c, D("access gfile R_OK|W_OK"),
	       access(pc_path(c, "gfile"), R_OK | W_OK));
	pc_err(c, D("access gfile X_OK EACCES"),
	       access(pc_path(c, "gfile"), X_OK), EACCES);
	pc_any(c, D("truncate gfile"), truncate(pc_path(c, "gfile"), 3));
	pc_any(c, D("utimensat NULL gfile"),
	       utimensat(AT_FDCWD, pc_path(c, "gfile"), NULL, 0));
	pc_any(c, D("open gfile-ro O_RDWR"),
	       open(pc_path(c, "gfile-ro"), O_RDWR));
	fd = pc_any(c, D("open gfile-ro O_RDONLY"),
		    open(pc_path(c, "gfile-ro"), O_RDONLY));
	pc_any(c, D("read gfile-ro"), read(fd, buf, sizeof(buf)));
	if (fd >= 0)
		close(fd);
	pc_err(c, D("open other (group GX) EACCES"),
	       open(pc_path(c, "other"), O_RDONLY), EACCES);

	snprintf(buf, sizeof(buf), "gdir/n-%c", who[0]);
	fd = pc_any(c, D("create in gdir (group rwx)"),
		    open(pc_path(c, buf), O_WRONLY | O_CREAT | O_EXCL, 0640));
	if (fd >= 0)
		close(fd);
	pc_stat(c, D("created in gdir: uid, primary gid"), buf, false);
	snprintf(buf, sizeof(buf), "gdir/d-%c", who[0]);
	pc_any(c, D("mkdir in gdir"), mkdir(pc_path(c, buf), 0750));
	pc_any(c, D("stat gdir/inner"), stat(pc_path(c, "gdir/inner"), &st));
	pc_any(c, D("stat sdir/x (search through the group)"),
	       stat(pc_path(c, "sdir/x"), &st));
	dir = opendir(pc_path(c, "gdir"));
	pc_any(c, D("opendir gdir"), dir ? 0 : -1);
	if (dir)
		closedir(dir);

	snprintf(buf, sizeof(buf), "sg/f-%c", who[0]);
	fd = pc_any(c, D("create 02755 in setgid dir"),
		    open(pc_path(c, buf), O_WRONLY | O_CREAT | O_EXCL, 02755));
	if (fd >= 0)
		close(fd);
	pc_stat(c, D("its group, and sgid kept only for a member"), buf, false);
	snprintf(buf, sizeof(buf), "sg/d-%c", who[0]);
	pc_any(c, D("mkdir in setgid dir"), mkdir(pc_path(c, buf), 0775));
	pc_stat(c, D("dir in setgid dir"), buf, false);
#undef D
}

void pc_t_groups(struct pc_ctx *c)
{
	static const gid_t both[] = { GS, GS2 }, one[] = { GS2 };
	static const struct {
		const char *rel;
		gid_t gid;
		mode_t mode;
	} files[] = {
		{ "gfile", GS, 0660 },	{ "gfile-ro", GS, 0640 },
		{ "other", GX, 0660 },	{ "gdir/inner", GS, 0660 },
		{ "sdir/x", GS, 0644 }, { "foreign", GX, 0644 },
	};

	pc_ok(c, "mkdir gdir", mkdir(pc_path(c, "gdir"), 0755));
	pc_ok(c, "chown gdir :GS", chown(pc_path(c, "gdir"), 0, GS));
	pc_ok(c, "chmod gdir 0770", chmod(pc_path(c, "gdir"), 0770));
	pc_ok(c, "mkdir sdir", mkdir(pc_path(c, "sdir"), 0755));
	pc_ok(c, "chown sdir :GS", chown(pc_path(c, "sdir"), 0, GS));
	pc_ok(c, "chmod sdir 0710", chmod(pc_path(c, "sdir"), 0710));
	pc_ok(c, "mkdir sg", mkdir(pc_path(c, "sg"), 0755));
	pc_ok(c, "chown sg :GS", chown(pc_path(c, "sg"), 0, GS));
	pc_ok(c, "chmod sg 02775", chmod(pc_path(c, "sg"), 02775));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		pc_ok(c, files[i].rel,
		      pc_write_file(pc_path(c, files[i].rel), "data", 4, 0644));
		pc_ok(c, files[i].rel,
		      chown(pc_path(c, files[i].rel),
			    !strcmp(files[i].rel, "foreign") ? USER_UID : 0,
			    files[i].gid));
		pc_ok(c, files[i].rel,
		      chmod(pc_path(c, files[i].rel), files[i].mode));
	}
	pc_ok(c, "mine", pc_write_file(pc_path(c, "mine"), "m", 1, 0644));
	pc_ok(c, "chown mine", chown(pc_path(c, "mine"), USER_UID, GP));
	pc_ok(c, "mine-l", symlink("mine", pc_path(c, "mine-l")));
	pc_ok(c, "lchown mine-l", lchown(pc_path(c, "mine-l"), USER_UID, GP));
	/* a member of GS and GS2, then of GS2 only, then of none */
	pc_child_run_groups(c, groups_child, "both", USER_UID, GP, both, 2);
	pc_child_run_groups(c, groups_child, "gs2", USER_UID, GP, one, 1);
	pc_child_run_groups(c, groups_child, "none", USER_UID, GP, NULL, 0);
}

/* ---- moving directories between parents as someone else --------------- */

/*
 * Moving a directory to another parent rewrites its "..": the mover needs
 * write access to the directory itself, besides the parents.  Every
 * combination of owners and modes of the source parent, the target
 * parent and the directory, moved by a user who owns some of them and is
 * in the group of some: the result and where the directory ends up.
 */
#define OTHER_UID 1001

struct mv_case {
	uid_t po, qo, xo; /* owners: source parent, target parent, dir */
	gid_t xg;	  /* the dir's group */
	mode_t pm, qm, xm;
};

static void mv_rec(struct pc_ctx *c, const char *who, unsigned i,
		   const struct mv_case *m, int flags)
{
	char a[64], b[64], d[PC_DESC_MAX];
	struct stat st;

	snprintf(a, sizeof(a), "m%u/p/x", i);
	snprintf(b, sizeof(b), "m%u/q/x", i);
	snprintf(d, sizeof(d),
		 "%s: move %u (p %u:%04o, q %u:%04o, x %u:%u:%04o)%s", who, i,
		 m->po, m->pm, m->qo, m->qm, m->xo, m->xg, m->xm,
		 flags ? " NOREPLACE" : "");
	pc_any(c, d,
	       renameat2(AT_FDCWD, pc_path(c, a), AT_FDCWD, pc_path(c, b),
			 (unsigned)flags));
	snprintf(d, sizeof(d), "%s: %u: where x is, and its ..", who, i);
	snprintf(a, sizeof(a), "m%u/q/x/..", i);
	if (stat(pc_path(c, a), &st) == 0)
		pc_val(c, d, 2);
	else {
		snprintf(a, sizeof(a), "m%u/p/x/..", i);
		pc_val(c, d, stat(pc_path(c, a), &st) == 0 ? 1 : -errno);
	}
	/* and back, if it moved */
	snprintf(a, sizeof(a), "m%u/q/x", i);
	snprintf(b, sizeof(b), "m%u/p/x", i);
	snprintf(d, sizeof(d), "%s: %u: move back", who, i);
	pc_any(c, d, rename(pc_path(c, a), pc_path(c, b)));
}

static const struct mv_case *mv_cases(size_t *n)
{
	static struct mv_case v[128];
	static size_t nv;
	static const uid_t owners[] = { 0, USER_UID, OTHER_UID };
	static const mode_t pmodes[] = { 0777, 01777, 0770 };
	static const mode_t xmodes[] = { 0755, 0777, 0775, 0700 };

	if (!nv) {
		for (size_t o = 0; o < 3; o++)
			for (size_t p = 0; p < 3; p++)
				for (size_t x = 0; x < 4; x++) {
					v[nv++] = (struct mv_case){
						.po = owners[o],
						.qo = owners[(o + p) % 3],
						.xo = owners[(o + x) % 3],
						.xg = x % 2 ? GS : GP,
						.pm = pmodes[p],
						.qm = pmodes[(p + x) % 3],
						.xm = xmodes[x],
					};
				}
	}
	*n = nv;
	return v;
}

static void mv_child(struct pc_ctx *c, void *arg)
{
	size_t n;
	const struct mv_case *v = mv_cases(&n);

	for (size_t i = 0; i < n; i++)
		mv_rec(c, arg, (unsigned)i, &v[i], i % 5 == 4);
}

void pc_t_mvdir(struct pc_ctx *c)
{
	static const gid_t gs[] = { GS };
	char rel[64];
	size_t n;
	const struct mv_case *v = mv_cases(&n);

	for (size_t i = 0; i < n; i++) {
		const struct mv_case *m = &v[i];

		snprintf(rel, sizeof(rel), "m%zu", i);
		pc_ok(c, rel, mkdir(pc_path(c, rel), 0755));
		snprintf(rel, sizeof(rel), "m%zu/p", i);
		pc_ok(c, rel, mkdir(pc_path(c, rel), 0755));
		pc_ok(c, rel, chown(pc_path(c, rel), m->po, GS));
		pc_ok(c, rel, chmod(pc_path(c, rel), m->pm));
		snprintf(rel, sizeof(rel), "m%zu/q", i);
		pc_ok(c, rel, mkdir(pc_path(c, rel), 0755));
		pc_ok(c, rel, chown(pc_path(c, rel), m->qo, GS));
		pc_ok(c, rel, chmod(pc_path(c, rel), m->qm));
		snprintf(rel, sizeof(rel), "m%zu/p/x", i);
		pc_ok(c, rel, mkdir(pc_path(c, rel), 0755));
		snprintf(rel, sizeof(rel), "m%zu/p/x/in", i);
		pc_ok(c, rel, mkdir(pc_path(c, rel), 0755));
		snprintf(rel, sizeof(rel), "m%zu/p/x", i);
		pc_ok(c, rel, chown(pc_path(c, rel), m->xo, m->xg));
		pc_ok(c, rel, chmod(pc_path(c, rel), m->xm));
	}
	/* without groups, then as a member of GS (the parents' group) */
	pc_child_run(c, mv_child, "user", USER_UID, GP);
	pc_child_run_groups(c, mv_child, "member", USER_UID, GP, gs, 1);
	/* root moves everything, after a user looked at it all */
	mv_child(c, "root");
}
