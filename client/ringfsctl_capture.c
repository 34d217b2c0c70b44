// SPDX-License-Identifier: MIT
/*
 * ringfsctl capture: the tcpdump of ringfs.  Attaches to a running
 * ringfsd or ringfs client through its capture control socket
 * (common/capctl.h), gets the capture region (common/capture.h), drains
 * its rings and writes pcapng (common/pcapng.h): one interface per
 * connection, every frame sent and received, nanosecond timestamps, the
 * direction, and the frames the rings had to drop.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "pcapng.h"
#include "ringfsctl_i.h"

#define BATCH 8192u    /* records sorted and written per round */
#define IDLE_POLL_MS 5 /* between rounds that found nothing */

struct cap_opts {
	const char *conn;	  /* -i: slot number, name or part of it */
	unsigned long long count; /* -c: 0 = until interrupted */
	uint32_t snaplen;	  /* -s */
	uint32_t ring_kib;	  /* -B */
	const char *out;	  /* -w */
	const char *target;	  /* SERVER or MOUNT */
	bool quiet;
};

struct item {
	const struct rfs_cap_rec *rec;
	const uint8_t *data;
};

static volatile sig_atomic_t cap_stop;

static void on_stop(int sig)
{
	(void)sig;
	cap_stop = 1;
}

static void cap_usage(FILE *f)
{
	fprintf(f,
		"usage: ringfsctl capture [-i CONN] [-c N] [-s SNAPLEN] [-B KIB]\n"
		"                         [-w FILE|-] [-q] SERVER-or-MOUNT\n"
		"\n"
		"Writes every frame a running ringfsd or ringfs client on this machine\n"
		"sends and receives, on every transport, as pcapng: one interface per\n"
		"connection (tcp:PEER, uring:PEER, shm:pidPID, rdma:DEV/qpN), nanosecond\n"
		"timestamps, the direction, and drop counts.  Read it with\n"
		"tshark -X lua_script:ringfs.lua -r FILE (contrib/wireshark).\n"
		"\n"
		"SERVER: [HOST:]PORT (the ringfsd listening on PORT), ringfsd or\n"
		"ringfsd:PID; MOUNT: a mount point; or a control socket path.\n"
		"\n"
		"  -i CONN     only this connection: its number, name, or part of it\n"
		"  -c N        stop after N frames\n"
		"  -s SNAPLEN  keep at most SNAPLEN bytes of each frame (>= 48, the\n"
		"              header; default: whole frames up to a quarter of a ring)\n"
		"  -B KIB      ring per thread of the captured process, %u..%u KiB\n"
		"              (default %u); a full ring drops frames, never waits\n"
		"  -w FILE     write to FILE; - (the default when stdout is not a\n"
		"              terminal) writes to stdout\n"
		"  -q          no summary on stderr\n"
		"\n"
		"Needs root or the uid the captured process runs as.\n",
		RFS_CAP_RING_KIB_MIN, RFS_CAP_RING_KIB_MAX,
		RFS_CAP_RING_KIB_DEFAULT);
}

static int num(const char *opt, const char *s, unsigned long long lo,
	       unsigned long long hi, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || errno || *end || *out < lo || *out > hi) {
		ctl_err("capture: %s: '%s' is not a number from %llu to %llu",
			opt, s, lo, hi);
		return -EINVAL;
	}
	return 0;
}

static int parse(int argc, char **argv, struct cap_opts *o)
{
	static const struct option lo[] = { { "help", no_argument, NULL, 'h' },
					    { 0 } };
	unsigned long long v;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 2;
	while ((c = getopt_long(argc, argv, "+i:c:s:B:w:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->conn = optarg;
			break;
		case 'c':
			if (num("-c", optarg, 1, ~0ull, &o->count))
				return -EINVAL;
			break;
		case 's':
			if (num("-s", optarg, RFS_HDR_SIZE, RFS_MSG_MAX_LIMIT,
				&v))
				return -EINVAL;
			o->snaplen = (uint32_t)v;
			break;
		case 'B':
			if (num("-B", optarg, RFS_CAP_RING_KIB_MIN,
				RFS_CAP_RING_KIB_MAX, &v))
				return -EINVAL;
			o->ring_kib = (uint32_t)v;
			break;
		case 'w':
			o->out = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			cap_usage(stdout);
			return 1;
		default:
			cap_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		ctl_err("capture: %s (see ringfsctl capture --help)",
			optind >= argc ? "which SERVER or MOUNT?" :
					 "one SERVER or MOUNT only");
		return -EINVAL;
	}
	o->target = argv[optind];
	return 0;
}

static int read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, (char *)p + got, n - got, MSG_WAITALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r ? -errno : -ECONNRESET;
		got += (size_t)r;
	}
	return 0;
}

/*
 * The attach exchange on the daemon's control socket (common/ctlsock.h
 * framing, common/capctl.h the command): returns the connected socket,
 * the region's fd in *mfd.
 */
static int attach(const struct cap_opts *o, const char *path, int *mfd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[4 + 128], rep[512];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(rep) - 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	uint32_t hdr[2], blen = 0;
	ssize_t n;
	int fd, e;

	*mfd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_err("capture: %s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		ctl_err("capture: cannot reach the control socket %s: %s", path,
			strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	/* argv as NUL-terminated strings after a length */
	blen += (uint32_t)snprintf(req + 4, sizeof(req) - 4, "capture") + 1;
	if (o->snaplen)
		blen += (uint32_t)snprintf(req + 4 + blen,
					   sizeof(req) - 4 - blen, "snaplen=%u",
					   o->snaplen) +
			1;
	if (o->ring_kib)
		blen += (uint32_t)snprintf(req + 4 + blen,
					   sizeof(req) - 4 - blen,
					   "ring_kib=%u", o->ring_kib) +
			1;
	memcpy(req, &blen, 4);
	if (send(fd, req, 4 + blen, MSG_NOSIGNAL) != (ssize_t)(4 + blen)) {
		ctl_err("capture: sending the request to %s: %s", path,
			strerror(errno));
		goto fail;
	}
	/* length and status first, then the payload with the fd */
	e = read_full(fd, hdr, sizeof(hdr));
	if (e || hdr[0] < 4 || hdr[0] - 4 >= sizeof(rep)) {
		ctl_err("capture: %s: %s", path,
			e ? strerror(-e) : "malformed reply");
		goto fail;
	}
	iov.iov_len = hdr[0] - 4;
	memset(&u, 0, sizeof(u));
	n = iov.iov_len ? recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL) : 0;
	if (n < 0 || (size_t)n != iov.iov_len) {
		ctl_err("capture: %s: reply cut short", path);
		goto fail;
	}
	rep[n] = 0;
	rep[strcspn(rep, "\n")] = 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(mfd, CMSG_DATA(cm), sizeof(int));
	if (hdr[1] || strcmp(rep, "ok") || *mfd < 0) {
		ctl_err("capture refused by %s: %s", path,
			hdr[1] ? (rep[0] ? rep : strerror((int)hdr[1])) :
				 "no capture region in the reply");
		if (*mfd >= 0)
			close(*mfd);
		*mfd = -1;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -EPERM;
}

static int cmp_ts(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return x->rec->ts_ns < y->rec->ts_ns ? -1 :
					       x->rec->ts_ns > y->rec->ts_ns;
}

struct cap_run {
	const struct cap_opts *o;
	struct rfs_cap_reader rd;
	FILE *out;
	int32_t *ifid;	   /* per slot: -1 unknown, -2 filtered out */
	uint32_t nif;	   /* interfaces written */
	uint32_t *if_slot; /* per interface: its slot */
	uint64_t written, dropped;
	struct item *items;
	uint64_t *pos;
};

static bool selected(const struct cap_opts *o, uint32_t i,
		     const struct rfs_cap_slot *sl)
{
	char n[16];

	if (!o->conn)
		return true;
	snprintf(n, sizeof(n), "%u", i);
	return !strcmp(o->conn, n) || strstr(sl->name, o->conn) ||
	       strstr(sl->desc, o->conn);
}

/* the interface of slot i, written when first needed; -1: not captured */
static int32_t iface(struct cap_run *cr, uint32_t i)
{
	struct rfs_cap_slot *sl = rfs_cap_reader_slot(&cr->rd, i);
	char name[RFS_CAP_NAME], desc[RFS_CAP_DESC + 16];

	if (!sl || !atomic_load_explicit(&sl->ready, memory_order_acquire))
		return -1;
	if (cr->ifid[i] != -1)
		return cr->ifid[i] >= 0 ? cr->ifid[i] : -1;
	if (!selected(cr->o, i, sl)) {
		cr->ifid[i] = -2;
		return -1;
	}
	memcpy(name, sl->name, sizeof(name));
	name[sizeof(name) - 1] = 0;
	snprintf(desc, sizeof(desc), "conn %u: %.*s", i, RFS_CAP_DESC - 1,
		 sl->desc);
	if (rfs_pcapng_idb(cr->out, RFS_PCAPNG_LINKTYPE, cr->rd.r->snaplen,
			   name, desc))
		return -1;
	cr->if_slot[cr->nif] = i;
	cr->ifid[i] = (int32_t)cr->nif++;
	return cr->ifid[i];
}

/* one round: every ring's records, in time order; returns how many */
static uint32_t round_(struct cap_run *cr)
{
	uint32_t n = 0, nr = cr->rd.r->nrings;

	for (uint32_t r = 0; r < nr; r++) {
		struct rfs_cap_ring *ring = rfs_cap_reader_ring(&cr->rd, r);

		cr->pos[r] =
			atomic_load_explicit(&ring->tail, memory_order_relaxed);
		while (n < BATCH) {
			const uint8_t *data;
			const struct rfs_cap_rec *rec;
			bool bad;

			rec = rfs_cap_reader_peek(&cr->rd, r, &cr->pos[r],
						  &data, &bad);
			if (bad) {
				ctl_err("capture: ring %u is damaged; "
					"stopping",
					r);
				cap_stop = 1;
				break;
			}
			if (!rec)
				break;
			cr->items[n].rec = rec;
			cr->items[n++].data = data;
		}
	}
	qsort(cr->items, n, sizeof(*cr->items), cmp_ts);
	for (uint32_t k = 0; k < n; k++) {
		const struct rfs_cap_rec *rec = cr->items[k].rec;
		int32_t id;

		if (cr->o->count && cr->written >= cr->o->count)
			break;
		id = iface(cr, rec->conn);
		if (id < 0)
			continue;
		if (rfs_pcapng_epb(
			    cr->out, (uint32_t)id, rec->ts_ns,
			    cr->items[k].data, rec->cap_len, rec->orig_len,
			    rec->flags == RFS_CAP_IN ? RFS_PCAPNG_INBOUND :
						       RFS_PCAPNG_OUTBOUND,
			    rec->drops))
			break;
		cr->written++;
	}
	for (uint32_t r = 0; r < nr; r++)
		rfs_cap_reader_consume(&cr->rd, r, cr->pos[r]);
	return n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* every connection's totals: an ISB each (also for those only dropped) */
static void finish(struct cap_run *cr)
{
	uint32_t used = atomic_load(&cr->rd.r->slots_used);
	uint64_t t = now_ns();

	if (used > cr->rd.r->nslots)
		used = cr->rd.r->nslots;
	for (uint32_t i = 0; i < used; i++) {
		struct rfs_cap_slot *sl = rfs_cap_reader_slot(&cr->rd, i);
		int32_t id = iface(cr, i);
		uint64_t f, d;

		if (id < 0)
			continue;
		f = atomic_load(&sl->frames);
		d = atomic_load(&sl->drops);
		cr->dropped += d;
		rfs_pcapng_isb(cr->out, (uint32_t)id, t, f + d, d);
	}
}

static int run(const struct cap_opts *o, int sock, int mfd)
{
	struct cap_run cr = { .o = o };
	struct sigaction sa = { .sa_handler = on_stop };
	bool gone = false, to_stdout;
	uint64_t lost;
	int ret = CTL_EXIT_FAIL, rc;

	rc = rfs_cap_reader_open(&cr.rd, mfd);
	close(mfd);
	if (rc) {
		ctl_err("capture: the region the daemon sent is unusable: %s",
			strerror(-rc));
		return CTL_EXIT_FAIL;
	}
	to_stdout = !o->out || !strcmp(o->out, "-");
	cr.out = to_stdout ? stdout : fopen(o->out, "wbe");
	if (!cr.out) {
		ctl_err("capture: -w %s: %s", o->out, strerror(errno));
		goto out_rd;
	}
	cr.ifid = malloc(cr.rd.r->nslots * sizeof(*cr.ifid));
	cr.if_slot = calloc(cr.rd.r->nslots, sizeof(*cr.if_slot));
	cr.items = calloc(BATCH, sizeof(*cr.items));
	cr.pos = calloc(cr.rd.r->nrings, sizeof(*cr.pos));
	if (!cr.ifid || !cr.if_slot || !cr.items || !cr.pos) {
		ctl_err("capture: out of memory");
		goto out_file;
	}
	for (uint32_t i = 0; i < cr.rd.r->nslots; i++)
		cr.ifid[i] = -1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL)) {
		ctl_err("capture: sigaction: %s", strerror(errno));
		goto out_file;
	}
	if (rfs_pcapng_shb(cr.out, "ringfsctl capture")) {
		ctl_err("capture: writing: %s", strerror(errno));
		goto out_file;
	}
	if (!o->quiet)
		fprintf(stderr,
			"ringfsctl: capturing from %s (snaplen %u, %u KiB "
			"per thread)\n",
			o->target, cr.rd.r->snaplen,
			cr.rd.r->ring_bytes / 1024);
	while (!cap_stop && !gone && !(o->count && cr.written >= o->count)) {
		struct pollfd p = { .fd = sock, .events = POLLIN };

		if (round_(&cr)) {
			if (fflush(cr.out))
				break;
			continue;
		}
		if (fflush(cr.out))
			break;
		if (poll(&p, 1, IDLE_POLL_MS) > 0) {
			char junk[64];

			/* the daemon closed its end (exited): drain, stop */
			if (recv(sock, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
				gone = true;
		}
	}
	/* what is left, then the totals */
	while (!(o->count && cr.written >= o->count) && round_(&cr))
		;
	finish(&cr);
	if (fflush(cr.out) || ferror(cr.out)) {
		if (errno != EPIPE)
			ctl_err("capture: writing %s: %s",
				to_stdout ? "stdout" : o->out, strerror(errno));
		goto out_file;
	}
	lost = atomic_load(&cr.rd.r->lost);
	if (!o->quiet) {
		fprintf(stderr,
			"ringfsctl: %llu frames captured on %u connections, "
			"%llu dropped by full rings",
			(unsigned long long)cr.written, cr.nif,
			(unsigned long long)cr.dropped);
		if (lost)
			fprintf(stderr, ", %llu lost (no ring or slot left)",
				(unsigned long long)lost);
		fprintf(stderr, "%s\n",
			gone ? "; the captured process went away" : "");
	}
	ret = CTL_EXIT_OK;
out_file:
	if (!to_stdout && cr.out && fclose(cr.out)) {
		ctl_err("capture: closing %s: %s", o->out, strerror(errno));
		ret = CTL_EXIT_FAIL;
	}
	free(cr.ifid);
	free(cr.if_slot);
	free(cr.items);
	free(cr.pos);
out_rd:
	rfs_cap_reader_close(&cr.rd);
	return ret;
}

int rfs_ctl_capture(int argc, char **argv)
{
	struct cap_opts o;
	char path[4200];
	int rc, sock, mfd, ret;

	rc = parse(argc, argv, &o);
	if (rc)
		return rc > 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if ((!o.out || !strcmp(o.out, "-")) && isatty(STDOUT_FILENO)) {
		ctl_err("capture: stdout is a terminal: write to a file (-w "
			"FILE) or a pipe (| tshark -r -)");
		return CTL_EXIT_USAGE;
	}
	rc = rfs_ctl_obs_sock(o.target, path, sizeof(path));
	if (rc)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	sock = attach(&o, path, &mfd);
	if (sock < 0)
		return CTL_EXIT_FAIL;
	ret = run(&o, sock, mfd);
	close(sock); /* detaches */
	return ret;
}
