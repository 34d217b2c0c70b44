// SPDX-License-Identifier: MIT
/*
 * fsx: a file-system exerciser with an in-memory model.  Random pwrite,
 * pread, ftruncate, fallocate (allocate and punch hole), rename
 * (RENAME_EXCHANGE between the set's names), fsync and whole-file checks
 * on NFILES files kept open, every byte read compared with the model.
 *
 *   fsx DIR [-n OPS] [-t SECONDS] [-s SEED] [-f NFILES] [-z MAXSIZE]
 *       [-p PROGRESS_FILE] [-S STOP_FILE] [-R (no renames)]
 *
 * Runs OPS operations, or for SECONDS (whichever ends first).  Any failed
 * syscall or wrong byte ends the run with exit 1 (on a hard mount no
 * operation may fail).  Prints "fsx: ops N, bytes checked M, mismatches
 * K, failed F".  With -p it writes the op count to PROGRESS_FILE every 64
 * ops, so a fault-injecting script can wait for progress without sleeps;
 * with -S it stops (and checks everything) once STOP_FILE exists.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXF 16

struct mfile {
	int fd;
	uint8_t *data;
	size_t size;
};

static struct mfile files[MAXF];
static int name_of[MAXF]; /* name index -> file index */
static const char *dir;
static size_t maxsize = 1 << 20;
static int nfiles = 4;
static uint64_t ops, checked, mismatches, failed;
static uint64_t rng;
static bool no_rename;

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

static int op_truncate(int fi)
{
	struct mfile *f = &files[fi];
	size_t sz = rnd() % maxsize;

	if (ftruncate(f->fd, (off_t)sz) < 0) {
		die_op("ftruncate", fi);
		return -1;
	}
	if (sz > f->size)
		memset(f->data + f->size, 0, sz - f->size);
	f->size = sz;
	return 0;
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

/* open the file through its current name, check every byte and the size */
static int check_name(int name)
{
	int fi = name_of[name], fd, ret = 0;
	char p[4096];
	uint8_t *buf = malloc(maxsize + 1);
	ssize_t n;

	if (!buf)
		return -1;
	path_of(name, p, sizeof(p));
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
	} else if ((size_t)n != files[fi].size) {
		fprintf(stderr,
			"fsx: op %" PRIu64 ": %s has %zd bytes, want "
			"%zu\n",
			ops, p, n, files[fi].size);
		mismatches++;
		ret = -1;
	} else {
		ret = compare(fi, 0, buf, (size_t)n, "check");
	}
	if (close(fd) < 0) {
		die_op("close after check", fi);
		ret = -1;
	}
	free(buf);
	return ret;
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

	while ((c = getopt(argc, argv, "n:t:s:f:z:p:S:R")) != -1) {
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
		default:
			fprintf(stderr, "usage: fsx DIR [-n OPS] [-t SECS] "
					"[-s SEED] [-f NFILES] [-z MAXSIZE] "
					"[-p PROGRESS]\n");
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
		files[i].data = calloc(1, maxsize);
		if (files[i].fd < 0 || !files[i].data) {
			fprintf(stderr, "fsx: create %s: %s\n", p,
				strerror(errno));
			return 1;
		}
		name_of[i] = i;
	}
	t0 = now_s();
	while (ops < nops && (secs <= 0 || now_s() - t0 < secs)) {
		int fi = (int)(rnd() % (uint64_t)nfiles);
		unsigned r = (unsigned)(rnd() % 100);

		ops++;
		if (r < 35)
			ret = op_write(fi);
		else if (r < 70)
			ret = op_read(fi);
		else if (r < 78)
			ret = op_truncate(fi);
		else if (r < 86)
			ret = op_fallocate(fi);
		else if (r < 91)
			ret = no_rename ? op_read(fi) : op_rename();
		else if (r < 95)
			ret = op_fsync(fi);
		else
			ret = check_name((int)(rnd() % (uint64_t)nfiles));
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
	progress(pf);
	printf("fsx: ops %" PRIu64 ", bytes checked %" PRIu64
	       ", mismatches %" PRIu64 ", failed %" PRIu64 "\n",
	       ops, checked, mismatches, failed);
	for (int i = 0; i < nfiles; i++) {
		if (close(files[i].fd) < 0) {
			fprintf(stderr, "fsx: close: %s\n", strerror(errno));
			failed++;
		}
		free(files[i].data);
	}
	return ret || mismatches || failed ? 1 : 0;
}
