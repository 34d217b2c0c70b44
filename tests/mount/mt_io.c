// SPDX-License-Identifier: MIT
/*
 * mt_io: small I/O helpers for the mount case scripts.  Every data pattern
 * is a pure function of (seed, absolute file offset), so any process can
 * verify any byte another one wrote.
 *
 *   mt_io write FILE OFFSET LEN SEED        pwrite the pattern, fsync
 *   mt_io check FILE OFFSET LEN SEED        verify (SEED 0: zeros)
 *   mt_io stripe FILE WORKER NWORKERS BLOCK NBLOCKS
 *                                           write blocks k*N+W, seed k*N+W+1
 *   mt_io check-stripes FILE NWORKERS BLOCK NBLOCKS
 *   mt_io append FILE WORKER COUNT          COUNT 64-byte records, O_APPEND
 *   mt_io check-append FILE NWORKERS COUNT  every record intact, in order
 *                                           per worker, none missing
 *   mt_io churn DIR WORKER COUNT            create/write/rename/unlink in
 *                                           DIR; keeps "w<W>-<i>" for even i
 *   mt_io aio-check FILE LEN SEED DEPTH COUNT
 *                                           COUNT reads of 4 KiB..64 KiB at
 *                                           random aligned offsets below
 *                                           LEN, O_DIRECT, DEPTH at once
 *                                           (Linux AIO), each verified
 *   mt_io freeport                          print a free TCP port on
 *                                           127.0.0.1 (bound, then closed)
 *
 * Exit 0 on success, 1 on a failed check (with a message), 2 on misuse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/aio_abi.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_LEN 64
#define CHUNK (1 << 20)

static unsigned char buf[CHUNK], want[CHUNK];

static void pattern(unsigned char *p, size_t len, unsigned long long seed,
		    unsigned long long off)
{
	for (size_t i = 0; i < len; i++) {
		unsigned long long x = (off + i) / 8 * 0x9e3779b97f4a7c15ULL +
				       seed * 0xbf58476d1ce4e5b9ULL;

		x ^= x >> 29;
		p[i] = seed ? (unsigned char)(x >> (8 * ((off + i) % 8))) : 0;
	}
}

static long long num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || *end || v < 0) {
		fprintf(stderr, "mt_io: bad number: %s\n", s);
		exit(2);
	}
	return v;
}

static int do_write(int fd, long long off, long long len,
		    unsigned long long seed)
{
	while (len > 0) {
		size_t n = len > CHUNK ? CHUNK : (size_t)len;
		ssize_t w;

		pattern(buf, n, seed, (unsigned long long)off);
		w = pwrite(fd, buf, n, off);
		if (w != (ssize_t)n) {
			fprintf(stderr, "mt_io: pwrite at %lld: %s\n", off,
				w < 0 ? strerror(errno) : "short write");
			return 1;
		}
		off += (long long)n;
		len -= (long long)n;
	}
	return 0;
}

static int do_check(int fd, const char *path, long long off, long long len,
		    unsigned long long seed)
{
	while (len > 0) {
		size_t n = len > CHUNK ? CHUNK : (size_t)len;
		ssize_t r = pread(fd, buf, n, off);

		if (r != (ssize_t)n) {
			fprintf(stderr, "mt_io: %s: pread %zu at %lld: %s\n",
				path, n, off,
				r < 0 ? strerror(errno) : "short read");
			return 1;
		}
		pattern(want, n, seed, (unsigned long long)off);
		if (memcmp(buf, want, n)) {
			size_t i = 0;

			while (buf[i] == want[i])
				i++;
			fprintf(stderr,
				"mt_io: %s: mismatch at offset %lld "
				"(seed %llu): got 0x%02x want 0x%02x\n",
				path, off + (long long)i, seed, buf[i],
				want[i]);
			return 1;
		}
		off += (long long)n;
		len -= (long long)n;
	}
	return 0;
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags, 0644);

	if (fd < 0) {
		fprintf(stderr, "mt_io: open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static int cmd_stripe(const char *path, long long w, long long n, long long bs,
		      long long nb, bool check)
{
	int fd = open_or_die(path, check ? O_RDONLY : O_RDWR | O_CREAT);
	int ret = 0;

	for (long long k = 0; k < nb && !ret; k++) {
		for (long long i = check ? 0 : w; i < (check ? n : w + 1);
		     i++) {
			long long blk = k * n + i;

			ret = check ? do_check(fd, path, blk * bs, bs,
					       (unsigned long long)blk + 1) :
				      do_write(fd, blk * bs, bs,
					       (unsigned long long)blk + 1);
			if (ret)
				break;
		}
	}
	if (!ret && !check && fsync(fd) < 0) {
		fprintf(stderr, "mt_io: fsync %s: %s\n", path, strerror(errno));
		ret = 1;
	}
	close(fd);
	return ret;
}

/* One fixed 64-byte record; workers < 10000, seq < 10^8. */
static void fmt_rec(char *out, size_t len, long long w, long long seq)
{
	snprintf(out, len, "w=%04u seq=%08u %-41s\n", (unsigned)(w % 10000),
		 (unsigned)(seq % 100000000), "ringfs-append-record");
}

static int cmd_append(const char *path, long long w, long long count)
{
	int fd = open_or_die(path, O_WRONLY | O_CREAT | O_APPEND);
	char rec[128];

	for (long long i = 0; i < count; i++) {
		/* One write() per record: O_APPEND makes each atomic. */
		fmt_rec(rec, sizeof(rec), w, i);
		if (write(fd, rec, REC_LEN) != REC_LEN) {
			fprintf(stderr, "mt_io: append: %s\n", strerror(errno));
			close(fd);
			return 1;
		}
	}
	close(fd);
	return 0;
}

static int cmd_check_append(const char *path, long long n, long long count)
{
	int fd = open_or_die(path, O_RDONLY);
	long long *next = calloc((size_t)n, sizeof(*next));
	char rec[REC_LEN + 1], tmpl[128];
	long long recs = 0, w, seq;
	int ret = 1;
	ssize_t r;

	if (!next)
		goto out;
	while ((r = read(fd, rec, REC_LEN)) == REC_LEN) {
		rec[REC_LEN] = 0;
		if (sscanf(rec, "w=%lld seq=%lld", &w, &seq) != 2 || w < 0 ||
		    w >= n) {
			fprintf(stderr, "mt_io: torn record %lld: %.64s\n",
				recs, rec);
			goto out;
		}
		fmt_rec(tmpl, sizeof(tmpl), w, seq);
		if (memcmp(rec, tmpl, REC_LEN) || seq != next[w]) {
			fprintf(stderr,
				"mt_io: record %lld bad or out of "
				"order (worker %lld expected seq %lld): %.64s\n",
				recs, w, next[w], rec);
			goto out;
		}
		next[w]++;
		recs++;
	}
	if (r != 0) {
		fprintf(stderr, "mt_io: trailing partial record\n");
		goto out;
	}
	for (long long i = 0; i < n; i++)
		if (next[i] != count) {
			fprintf(stderr,
				"mt_io: worker %lld: %lld records, "
				"want %lld\n",
				i, next[i], count);
			goto out;
		}
	ret = 0;
out:
	free(next);
	close(fd);
	return ret;
}

static int cmd_churn(const char *dir, long long w, long long count)
{
	char a[4096], b[4096];

	for (long long i = 0; i < count; i++) {
		int fd;

		snprintf(a, sizeof(a), "%s/tmp-w%lld-%lld", dir, w, i);
		snprintf(b, sizeof(b), "%s/w%lld-%lld", dir, w, i);
		fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			fprintf(stderr, "mt_io: create %s: %s\n", a,
				strerror(errno));
			return 1;
		}
		if (do_write(fd, 0, 100 + i,
			     (unsigned long long)(w * 100000 + i + 1))) {
			close(fd);
			return 1;
		}
		if (close(fd) < 0 || rename(a, b) < 0 ||
		    (i % 2 && unlink(b) < 0)) {
			fprintf(stderr, "mt_io: churn %s: %s\n", b,
				strerror(errno));
			return 1;
		}
	}
	/* Verify what we kept while the others are still busy. */
	for (long long i = 0; i < count; i += 2) {
		int fd, ret;

		snprintf(b, sizeof(b), "%s/w%lld-%lld", dir, w, i);
		fd = open_or_die(b, O_RDONLY);
		ret = do_check(fd, b, 0, 100 + i,
			       (unsigned long long)(w * 100000 + i + 1));
		close(fd);
		if (ret)
			return 1;
	}
	return 0;
}

static int cmd_freeport(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) < 0) {
		fprintf(stderr, "mt_io: freeport: %s\n", strerror(errno));
		return 1;
	}
	printf("%u\n", ntohs(sa.sin_port));
	close(s);
	return 0;
}

/*
 * Reads at queue depth: the kernel sends them to the FUSE daemon
 * together, so the server gets several at once and queues them
 * (server/aio.c); every byte must still be the pattern's.
 */
#define AIO_MAX_DEPTH 64
#define AIO_MAX_LEN (64 << 10)

static int cmd_aio_check(const char *path, long long len,
			 unsigned long long seed, long long depth,
			 long long count)
{
	static unsigned char bufs[AIO_MAX_DEPTH][AIO_MAX_LEN]
		__attribute__((aligned(4096)));
	static unsigned char expect[AIO_MAX_LEN];
	struct iocb cbs[AIO_MAX_DEPTH], *cbp[AIO_MAX_DEPTH];
	struct io_event evs[AIO_MAX_DEPTH];
	aio_context_t ctx = 0;
	unsigned long long rnd = seed * 0x9e3779b97f4a7c15ULL + 1;
	long long blocks = len / 4096, done = 0;
	int fd, ret = 0;

	if (depth < 1 || depth > AIO_MAX_DEPTH || blocks < 16) {
		fprintf(stderr, "mt_io: aio-check: depth 1..%d, len >= 64K\n",
			AIO_MAX_DEPTH);
		return 2;
	}
	fd = open_or_die(path, O_RDONLY | O_DIRECT);
	if (syscall(SYS_io_setup, (long)depth, &ctx) < 0) {
		fprintf(stderr, "mt_io: io_setup: %s\n", strerror(errno));
		return 1;
	}
	while (done < count && !ret) {
		long n = depth, got = 0;

		for (long i = 0; i < n; i++) {
			unsigned long long size;

			rnd = rnd * 6364136223846793005ULL +
			      1442695040888963407ULL;
			size = 4096ULL << ((rnd >> 40) % 5); /* 4K..64K */
			memset(&cbs[i], 0, sizeof(cbs[i]));
			cbs[i].aio_fildes = (uint32_t)fd;
			cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
			cbs[i].aio_buf = (uint64_t)(uintptr_t)bufs[i];
			cbs[i].aio_nbytes = size;
			cbs[i].aio_offset =
				(int64_t)((rnd >> 8) %
					  (unsigned long long)(blocks - 16)) *
				4096;
			cbs[i].aio_data = (uint64_t)i;
			cbp[i] = &cbs[i];
		}
		if (syscall(SYS_io_submit, ctx, n, cbp) != n) {
			fprintf(stderr, "mt_io: io_submit: %s\n",
				strerror(errno));
			ret = 1;
			break;
		}
		while (got < n) {
			long k = syscall(SYS_io_getevents, ctx, 1L, n - got,
					 evs, NULL);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				fprintf(stderr, "mt_io: io_getevents: %s\n",
					strerror(errno));
				ret = 1;
				break;
			}
			for (long e = 0; e < k && !ret; e++) {
				struct iocb *cb = &cbs[evs[e].data];
				long long res = (long long)evs[e].res;

				if (res != (long long)cb->aio_nbytes) {
					fprintf(stderr,
						"mt_io: %s: aio read %llu at "
						"%lld: %s\n",
						path,
						(unsigned long long)
							cb->aio_nbytes,
						(long long)cb->aio_offset,
						res < 0 ? strerror((int)-res) :
							  "short read");
					ret = 1;
					break;
				}
				pattern(expect, cb->aio_nbytes, seed,
					(unsigned long long)cb->aio_offset);
				if (memcmp(bufs[evs[e].data], expect,
					   cb->aio_nbytes)) {
					fprintf(stderr,
						"mt_io: %s: aio read at %lld: "
						"wrong data\n",
						path,
						(long long)cb->aio_offset);
					ret = 1;
				}
			}
			got += k;
		}
		done += n;
	}
	syscall(SYS_io_destroy, ctx);
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int fd, ret;

	if (!strcmp(cmd, "write") && argc == 6) {
		fd = open_or_die(argv[2], O_RDWR | O_CREAT);
		ret = do_write(fd, num(argv[3]), num(argv[4]),
			       (unsigned long long)num(argv[5]));
		if (!ret && fsync(fd) < 0) {
			fprintf(stderr, "mt_io: fsync: %s\n", strerror(errno));
			ret = 1;
		}
		close(fd);
		return ret;
	}
	if (!strcmp(cmd, "check") && argc == 6) {
		fd = open_or_die(argv[2], O_RDONLY);
		ret = do_check(fd, argv[2], num(argv[3]), num(argv[4]),
			       (unsigned long long)num(argv[5]));
		close(fd);
		return ret;
	}
	if (!strcmp(cmd, "stripe") && argc == 7)
		return cmd_stripe(argv[2], num(argv[3]), num(argv[4]),
				  num(argv[5]), num(argv[6]), false);
	if (!strcmp(cmd, "check-stripes") && argc == 6)
		return cmd_stripe(argv[2], 0, num(argv[3]), num(argv[4]),
				  num(argv[5]), true);
	if (!strcmp(cmd, "append") && argc == 5)
		return cmd_append(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(cmd, "check-append") && argc == 5)
		return cmd_check_append(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(cmd, "churn") && argc == 5)
		return cmd_churn(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(cmd, "aio-check") && argc == 7)
		return cmd_aio_check(argv[2], num(argv[3]),
				     (unsigned long long)num(argv[4]),
				     num(argv[5]), num(argv[6]));
	if (!strcmp(cmd, "freeport") && argc == 2)
		return cmd_freeport();
	fprintf(stderr, "usage: see the comment at the top of mt_io.c\n");
	return 2;
}
