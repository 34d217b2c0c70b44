// SPDX-License-Identifier: MIT
/*
 * fsx: a file-system exerciser with an in-memory model.  Random pwrite,
 * pread, ftruncate, fallocate (allocate and punch hole), appends (through
 * a second fd opened O_APPEND), rename (RENAME_EXCHANGE between the set's
 * names), fsync and whole-file checks on NFILES files kept open, every
 * byte read compared with the model; and changes of the namespace, each
 * of which fails if it ran twice or leaves a trace if it was lost: hard
 * links to the files made and removed (fsx.l.K), links moved to another
 * name (rename), directories made and removed (fsx.d.K), files created
 * O_EXCL with a tag and removed (fsx.x.K).  The namespace check lists DIR
 * and compares it with the model (no name missing, none more), and reads
 * every link and tagged file.
 *
 *   fsx DIR [-n OPS] [-t SECONDS] [-s SEED] [-f NFILES] [-z MAXSIZE]
 *       [-p PROGRESS_FILE] [-S STOP_FILE] [-R (no renames)]
 *       [-N (no new names: no links, directories, exclusive creates)]
 *       [-X (no RENAME_EXCHANGE: links are still moved; for gluster)]
 *
 * Runs OPS operations, or for SECONDS (whichever ends first).  Any failed
 * syscall or wrong byte ends the run with exit 1 (on a hard mount no
 * operation may fail; a mkdir, link, rename or O_EXCL create that ran
 * twice fails with EEXIST or ENOENT, an append that ran twice or not at
 * all leaves the file's size wrong).  Prints "fsx: ops N, bytes checked
 * M, mismatches K, failed F, appends A, namespace ops S (links L, moves
 * V, directories D, exclusive creates X), namespace checks C".  With -p
 * it writes the op count to PROGRESS_FILE every 64 ops, so a
 * fault-injecting script can wait for progress without sleeps; with -S it
 * stops (and checks everything) once STOP_FILE exists.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAXF 16
#define NSLOTS 8 /* links, directories, exclusive creates */

struct mfile {
	int fd;
	int afd; /* the same file opened O_APPEND */
	uint8_t *data;
	size_t size;
};

static struct mfile files[MAXF];
static int name_of[MAXF];	/* name index -> file index */
static int link_of[NSLOTS];	/* fsx.l.K -> file index, -1: no such name */
static bool dir_at[NSLOTS];	/* fsx.d.K exists */
static uint64_t tag_at[NSLOTS]; /* fsx.x.K holds this tag, 0: no name */
static const char *dir;
static size_t maxsize = 1 << 20;
static int nfiles = 4;
static uint64_t ops, checked, mismatches, failed;
static uint64_t appends, nlinks, nmoves, ndirs, nexcl, nschecks;
static uint64_t rng;
static bool no_rename;
static bool no_names;	 /* -N: the same inodes all along */
static bool no_exchange; /* -X: no renameat2(RENAME_EXCHANGE) */

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void path_of(int name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/fsx.%d", dir, name);
}

static void slot_path(char kind, int k, char *buf, size_t n)
{
	snprintf(buf, n, "%s/fsx.%c.%d", dir, kind, k);
}

static void die_op(const char *what, int fi)
{
	fprintf(stderr, "fsx: op %" PRIu64 ": %s on file %d: %s\n", ops, what,
		fi, strerror(errno));
	failed++;
}

static int compare(int fi, size_t off, const uint8_t *buf, size_t n,
		   const char *what)
{
	struct mfile *f = &files[fi];

	for (size_t i = 0; i < n; i++) {
		uint8_t want = off + i < f->size ? f->data[off + i] : 0;

		if (buf[i] != want) {
			fprintf(stderr,
				"fsx: op %" PRIu64 ": %s file %d: "
				"byte %zu is %#x, want %#x\n",
				ops, what, fi, off + i, buf[i], want);
			mismatches++;
			return -1;
		}
	}
	checked += n;
	return 0;
}

static int op_write(int fi)
{
	struct mfile *f = &files[fi];
	size_t off = rnd() % maxsize, len = 1 + rnd() % 65536;
	uint8_t *buf;
	ssize_t n;

	if (off + len > maxsize)
		len = maxsize - off;
	buf = malloc(len);
	if (!buf)
		return -1;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rnd();
	n = pwrite(f->fd, buf, len, (off_t)off);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		die_op("pwrite", fi);
		free(buf);
		return -1;
	}
	if (off > f->size)
		memset(f->data + f->size, 0, off - f->size);
	memcpy(f->data + off, buf, len);
	if (off + len > f->size)
		f->size = off + len;
	free(buf);
	return 0;
}

static int op_truncate_to(int fi, size_t sz);

/* an append through the O_APPEND fd: lands at the file's end */
static int op_append(int fi)
{
	struct mfile *f = &files[fi];
	size_t len = 1 + rnd() % 8192;
	uint8_t *buf;
	ssize_t n;

	if (f->size + len > maxsize)
		return op_truncate_to(fi, rnd() % (maxsize / 2));
	buf = malloc(len);
	if (!buf)
		return -1;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rnd();
	n = write(f->afd, buf, len);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		die_op("append", fi);
		free(buf);
		return -1;
	}
	memcpy(f->data + f->size, buf, len);
	f->size += len;
	appends++;
	free(buf);
	return 0;
}

static int op_read(int fi)
{
	struct mfile *f = &files[fi];
	size_t off = rnd() % maxsize, len = 1 + rnd() % 65536, want;
	uint8_t *buf = malloc(len);
	ssize_t n;
	int ret;

	if (!buf)
		return -1;
	n = pread(f->fd, buf, len, (off_t)off);
	if (n < 0) {
		die_op("pread", fi);
		free(buf);
		return -1;
	}
	want = off >= f->size ? 0 : f->size - off < len ? f->size - off : len;
	if ((size_t)n != want) {
		fprintf(stderr,
			"fsx: op %" PRIu64 ": pread file %d at %zu: "
			"%zd bytes, want %zu\n",
			ops, fi, off, n, want);
		mismatches++;
		free(buf);
		return -1;
	}
	ret = compare(fi, off, buf, (size_t)n, "pread");
	free(buf);
	return ret;
}

static int op_truncate_to(int fi, size_t sz)
{
	struct mfile *f = &files[fi];

	if (ftruncate(f->fd, (off_t)sz) < 0) {
		die_op("ftruncate", fi);
		return -1;
	}
	if (sz > f->size)
		memset(f->data + f->size, 0, sz - f->size);
	f->size = sz;
	return 0;
}

static int op_truncate(int fi)
{
	return op_truncate_to(fi, rnd() % maxsize);
}

static int op_fallocate(int fi)
{
	struct mfile *f = &files[fi];
	size_t off = rnd() % maxsize, len = 1 + rnd() % 131072;
	bool punch = rnd() & 1;

	if (off + len > maxsize)
		len = maxsize - off;
	if (punch) {
		if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)off, (off_t)len) < 0) {
			if (errno == EOPNOTSUPP)
				return 0;
			die_op("fallocate(punch)", fi);
			return -1;
		}
		if (off < f->size)
			memset(f->data + off, 0,
			       off + len > f->size ? f->size - off : len);
		return 0;
	}
	if (fallocate(f->fd, 0, (off_t)off, (off_t)len) < 0) {
		if (errno == EOPNOTSUPP)
			return 0;
		die_op("fallocate", fi);
		return -1;
	}
	if (off + len > f->size) {
		memset(f->data + f->size, 0, off + len - f->size);
		f->size = off + len;
	}
	return 0;
}

static int op_rename(void)
{
	int a = (int)(rnd() % (uint64_t)nfiles),
	    b = (int)(rnd() % (uint64_t)nfiles);
	char pa[4096], pb[4096];
	int t;

	if (a == b)
		return 0;
	path_of(a, pa, sizeof(pa));
	path_of(b, pb, sizeof(pb));
	if (renameat2(AT_FDCWD, pa, AT_FDCWD, pb, RENAME_EXCHANGE) < 0) {
		die_op("rename(exchange)", a);
		return -1;
	}
	t = name_of[a];
	name_of[a] = name_of[b];
	name_of[b] = t;
	return 0;
}

static int op_fsync(int fi)
{
	if (fsync(files[fi].fd) < 0) {
		die_op("fsync", fi);
		return -1;
	}
	return 0;
}

/* ---- the namespace ------------------------------------------------------ */

/* a name of file fi */
static int name_for(int fi)
{
	for (int n = 0; n < nfiles; n++)
		if (name_of[n] == fi)
			return n;
	return 0;
}

/* fsx.l.K: link one of the files there, or remove the link there */
static int op_link(int fi)
{
	int k = (int)(rnd() % NSLOTS);
	char p[4096], l[4096];

	slot_path('l', k, l, sizeof(l));
	nlinks++;
	if (link_of[k] >= 0) {
		if (unlink(l) < 0) {
			die_op("unlink (a link)", link_of[k]);
			return -1;
		}
		link_of[k] = -1;
		return 0;
	}
	path_of(name_for(fi), p, sizeof(p));
	if (link(p, l) < 0) {
		die_op("link", fi);
		return -1;
	}
	link_of[k] = fi;
	return 0;
}

/* move a link to a free slot (rename(2) over nothing) */
static int op_move(void)
{
	int j = (int)(rnd() % NSLOTS), k = (int)(rnd() % NSLOTS);
	char a[4096], b[4096];

	if (link_of[j] < 0 || link_of[k] >= 0)
		return 0;
	slot_path('l', j, a, sizeof(a));
	slot_path('l', k, b, sizeof(b));
	nmoves++;
	if (rename(a, b) < 0) {
		die_op("rename (a link)", link_of[j]);
		return -1;
	}
	link_of[k] = link_of[j];
	link_of[j] = -1;
	return 0;
}

static int op_dir(void)
{
	int k = (int)(rnd() % NSLOTS);
	char p[4096];

	slot_path('d', k, p, sizeof(p));
	ndirs++;
	if (dir_at[k] ? rmdir(p) < 0 : mkdir(p, 0755) < 0) {
		die_op(dir_at[k] ? "rmdir" : "mkdir", -1);
		return -1;
	}
	dir_at[k] = !dir_at[k];
	return 0;
}

/* fsx.x.K: create it O_EXCL holding a tag (the op number), or remove it */
static int op_excl(void)
{
	int k = (int)(rnd() % NSLOTS), fd;
	char p[4096], tag[32];
	ssize_t n;

	slot_path('x', k, p, sizeof(p));
	nexcl++;
	if (tag_at[k]) {
		if (unlink(p) < 0) {
			die_op("unlink (exclusive)", -1);
			return -1;
		}
		tag_at[k] = 0;
		return 0;
	}
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		die_op("open O_CREAT|O_EXCL", -1);
		return -1;
	}
	snprintf(tag, sizeof(tag), "%" PRIu64, ops);
	n = write(fd, tag, strlen(tag));
	if (close(fd) < 0 || n != (ssize_t)strlen(tag)) {
		if (n >= 0)
			errno = EIO;
		die_op("write (exclusive)", -1);
		return -1;
	}
	tag_at[k] = ops;
	return 0;
}

/* the whole content behind path is file fi's (or, fi < 0, tag's text) */
static int check_path(const char *p, int fi, uint64_t tag)
{
	size_t want = fi >= 0 ? files[fi].size : 0;
	uint8_t *buf = malloc(maxsize + 1);
	char t[32];
	ssize_t n;
	int fd, ret = 0;

	if (!buf)
		return -1;
	if (fi < 0) {
		snprintf(t, sizeof(t), "%" PRIu64, tag);
		want = strlen(t);
	}
	fd = open(p, O_RDONLY);
	if (fd < 0) {
		die_op("open for check", fi);
		free(buf);
		return -1;
	}
	n = pread(fd, buf, maxsize + 1, 0);
	if (n < 0) {
		die_op("pread for check", fi);
		ret = -1;
	} else if ((size_t)n != want) {
		fprintf(stderr,
			"fsx: op %" PRIu64 ": %s has %zd bytes, want "
			"%zu\n",
			ops, p, n, want);
		mismatches++;
		ret = -1;
	} else if (fi >= 0) {
		ret = compare(fi, 0, buf, (size_t)n, "check");
	} else if (memcmp(buf, t, want)) {
		fprintf(stderr, "fsx: op %" PRIu64 ": %s: wrong tag\n", ops, p);
		mismatches++;
		ret = -1;
	}
	if (close(fd) < 0) {
		die_op("close after check", fi);
		ret = -1;
	}
	free(buf);
	return ret;
}

/* the name is one the model has: mark it seen; false: a stranger */
static bool expected(const char *name, bool seen[4][MAXF + NSLOTS])
{
	int k;
	char kind, end;

	if (sscanf(name, "fsx.%d%c", &k, &end) == 1)
		return k >= 0 && k < nfiles && !seen[0][k] &&
		       (seen[0][k] = true);
	if (sscanf(name, "fsx.%c.%d%c", &kind, &k, &end) != 2 || k < 0 ||
	    k >= NSLOTS)
		return false;
	switch (kind) {
	case 'l':
		return link_of[k] >= 0 && !seen[1][k] && (seen[1][k] = true);
	case 'd':
		return dir_at[k] && !seen[2][k] && (seen[2][k] = true);
	case 'x':
		return tag_at[k] && !seen[3][k] && (seen[3][k] = true);
	default:
		return false;
	}
}

static void missing(const char *what, char kind, int k)
{
	fprintf(stderr, "fsx: op %" PRIu64 ": %s fsx.%c.%d is missing\n", ops,
		what, kind, k);
	mismatches++;
}

/*
 * The namespace: DIR lists exactly the names of the model, every link
 * reads as its file, every exclusive file holds its tag
 */
static int check_namespace(void)
{
	bool seen[4][MAXF + NSLOTS] = { { false } };
	uint64_t before = mismatches;
	struct dirent *de;
	char p[4096];
	DIR *d;

	nschecks++;
	d = opendir(dir);
	if (!d) {
		die_op("opendir", -1);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (strncmp(de->d_name, "fsx.", 4))
			continue; /* not ours */
		if (!expected(de->d_name, seen)) {
			fprintf(stderr,
				"fsx: op %" PRIu64 ": %s/%s: not in the model "
				"(an operation ran twice, or one was lost)\n",
				ops, dir, de->d_name);
			mismatches++;
		}
		errno = 0;
	}
	if (errno)
		die_op("readdir", -1);
	closedir(d);
	for (int k = 0; k < nfiles; k++)
		if (!seen[0][k]) {
			fprintf(stderr, "fsx: op %" PRIu64 ": fsx.%d missing\n",
				ops, k);
			mismatches++;
		}
	for (int k = 0; k < NSLOTS; k++) {
		if (link_of[k] >= 0 && !seen[1][k])
			missing("link", 'l', k);
		if (dir_at[k] && !seen[2][k])
			missing("directory", 'd', k);
		if (tag_at[k] && !seen[3][k])
			missing("exclusive file", 'x', k);
	}
	for (int k = 0; k < NSLOTS && mismatches == before; k++) {
		if (link_of[k] >= 0) {
			slot_path('l', k, p, sizeof(p));
			if (check_path(p, link_of[k], 0))
				return -1;
		}
		if (tag_at[k]) {
			slot_path('x', k, p, sizeof(p));
			if (check_path(p, -1, tag_at[k]))
				return -1;
		}
	}
	return mismatches == before ? 0 : -1;
}

/* open the file through its current name, check every byte and the size */
static int check_name(int name)
{
	char p[4096];

	path_of(name, p, sizeof(p));
	return check_path(p, name_of[name], 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(const char *pf)
{
	char tmp[4200];
	FILE *f;

	if (!pf)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", pf);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%" PRIu64 "\n", ops);
	if (fclose(f) == 0)
		rename(tmp, pf);
}

int main(int argc, char **argv)
{
	uint64_t nops = 10000, seed = (uint64_t)time(NULL);
	double secs = 0, t0;
	const char *pf = NULL, *sf = NULL;
	int c, ret = 0;

	while ((c = getopt(argc, argv, "n:t:s:f:z:p:S:RNX")) != -1) {
		switch (c) {
		case 'n':
			nops = strtoull(optarg, NULL, 0);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'f':
			nfiles = atoi(optarg);
			break;
		case 'z':
			maxsize = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			pf = optarg;
			break;
		case 'S':
			sf = optarg;
			break;
		case 'R':
			no_rename = true;
			break;
		case 'N':
			no_names = true;
			break;
		case 'X':
			no_exchange = true;
			break;
		default:
			fprintf(stderr,
				"usage: fsx DIR [-n OPS] [-t SECS] "
				"[-s SEED] [-f NFILES] [-z MAXSIZE] "
				"[-p PROGRESS] [-S STOP] [-R] [-N] [-X]\n");
			return 2;
		}
	}
	if (optind != argc - 1 || nfiles < 1 || nfiles > MAXF ||
	    maxsize < 4096) {
		fprintf(stderr, "fsx: bad arguments\n");
		return 2;
	}
	dir = argv[optind];
	rng = seed * 2654435761u + 1;
	printf("fsx: seed %" PRIu64 ", %d files of up to %zu bytes\n", seed,
	       nfiles, maxsize);
	for (int i = 0; i < nfiles; i++) {
		char p[4096];

		path_of(i, p, sizeof(p));
		files[i].fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
		files[i].afd = files[i].fd < 0 ? -1 :
						 open(p, O_WRONLY | O_APPEND);
		files[i].data = calloc(1, maxsize);
		if (files[i].fd < 0 || files[i].afd < 0 || !files[i].data) {
			fprintf(stderr, "fsx: create %s: %s\n", p,
				strerror(errno));
			return 1;
		}
		name_of[i] = i;
	}
	/* a previous run's namespace objects are not in the model */
	for (int k = 0; k < NSLOTS; k++) {
		char p[4096];

		link_of[k] = -1;
		slot_path('l', k, p, sizeof(p));
		unlink(p);
		slot_path('x', k, p, sizeof(p));
		unlink(p);
		slot_path('d', k, p, sizeof(p));
		rmdir(p);
	}
	t0 = now_s();
	while (ops < nops && (secs <= 0 || now_s() - t0 < secs)) {
		int fi = (int)(rnd() % (uint64_t)nfiles);
		unsigned r = (unsigned)(rnd() % 100);

		ops++;
		if (r < 26)
			ret = op_write(fi);
		else if (r < 52)
			ret = op_read(fi);
		else if (r < 58)
			ret = op_truncate(fi);
		else if (r < 64)
			ret = op_fallocate(fi);
		else if (r < 69)
			ret = no_rename || no_exchange ? op_read(fi) :
							 op_rename();
		else if (r < 72)
			ret = op_fsync(fi);
		else if (r < 80)
			ret = op_append(fi);
		else if (r < 96 && no_names)
			ret = op_read(fi);
		else if (r < 85)
			ret = op_link(fi);
		else if (r < 88)
			ret = no_rename ? op_read(fi) : op_move();
		else if (r < 92)
			ret = op_dir();
		else if (r < 96)
			ret = op_excl();
		else if (r < 98)
			ret = check_name((int)(rnd() % (uint64_t)nfiles));
		else
			ret = check_namespace();
		if (ret)
			break;
		if (!(ops & 63)) {
			progress(pf);
			if (sf && access(sf, F_OK) == 0)
				break;
		}
	}
	for (int i = 0; !ret && i < nfiles; i++)
		ret = check_name(i);
	if (!ret)
		ret = check_namespace();
	progress(pf);
	printf("fsx: ops %" PRIu64 ", bytes checked %" PRIu64
	       ", mismatches %" PRIu64 ", failed %" PRIu64 ", appends %" PRIu64
	       ", namespace ops %" PRIu64 " (links %" PRIu64 ", moves %" PRIu64
	       ", directories %" PRIu64 ", exclusive creates %" PRIu64
	       "), namespace checks %" PRIu64 "\n",
	       ops, checked, mismatches, failed, appends,
	       nlinks + nmoves + ndirs + nexcl, nlinks, nmoves, ndirs, nexcl,
	       nschecks);
	for (int i = 0; i < nfiles; i++) {
		if (close(files[i].fd) < 0 || close(files[i].afd) < 0) {
			fprintf(stderr, "fsx: close: %s\n", strerror(errno));
			failed++;
		}
		free(files[i].data);
	}
	return ret || mismatches || failed ? 1 : 0;
}
