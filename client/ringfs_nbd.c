// SPDX-License-Identifier: MIT
/*
 * ringfs-nbd: attach ringfsd's NBD export to /dev/nbdN through the
 * kernel's netlink NBD interface and keep it attached across server
 * restarts (ringfs-nbd(8), doc/root-and-swap.md).
 *
 *   ringfs-nbd [-f] [-t SECS] [-D SECS] HOST:PORT/EXPORT /dev/nbdN
 *   ringfs-nbd [-f] ... unix:/PATH/EXPORT /dev/nbdN
 *   ringfs-nbd -d /dev/nbdN
 *   ringfs-nbd -n HOST:PORT/EXPORT      (negotiate only, attach nothing)
 *
 * Why not nbd-client -persist: with the ioctl interface the kernel fails
 * every request in flight (EIO) when the connection dies, before
 * nbd-client can reconnect, and a swapped-out page is lost; Debian 12's
 * nbd-client does not reconnect in netlink mode.  Through netlink, with
 * a request timeout (NBD_ATTR_TIMEOUT) and a dead-connection timeout
 * (NBD_ATTR_DEAD_CONN_TIMEOUT), the kernel keeps every request instead:
 * one in flight on a dead connection times out and is requeued, and the
 * submit path waits for a new connection.  This daemon gives it one: it
 * polls its own descriptor of the socket it handed over (the kernel shuts
 * a connection it declares dead down: POLLHUP) and the nbd multicast
 * group (NBD_CMD_LINK_DEAD), connects again with bounded backoff, redoes
 * the handshake and hands the new socket over (NBD_CMD_RECONFIGURE).
 *
 * It must run while the kernel swaps to the device, so it is hardened as
 * the ringfs client is for swap (harden.h): every page locked, no I/O
 * from its reclaim, never the OOM killer's choice.  The server's address
 * is resolved once, at start: a reconnect reads no file (no NSS lookup
 * through a root filesystem that may be paging).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harden.h"
#include "log.h"
#include "nbd_nl.h"

#define PROG "ringfs-nbd"

#define NBD_MAGIC 0x4e42444d41474943ull	     /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC 0x49484156454f5054ull /* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x0003e889045565a9ull
#define NBD_FLAG_FIXED_NEWSTYLE 1u
#define NBD_FLAG_NO_ZEROES 2u
#define NBD_OPT_EXPORT_NAME 1u
#define NBD_OPT_GO 7u
#define NBD_REP_ACK 1u
#define NBD_REP_INFO 3u
#define NBD_REP_ERR_UNSUP (0x80000000u + 1)
#define NBD_REP_ERR_POLICY (0x80000000u + 2)
#define NBD_REP_ERR_UNKNOWN (0x80000000u + 6)
#define NBD_INFO_EXPORT 0u
#define NBD_NAME_MAX 4096u

/* the handshake's bound, each connect/read/write */
#define HANDSHAKE_S 10
/* reconnect backoff */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 3000
/* -d: how long to wait for the device to go */
#define DISCONNECT_WAIT_MS 15000

struct target {
	struct sockaddr_storage sa;
	socklen_t salen;
	char where[300]; /* HOST:PORT or unix:/PATH, for messages */
	char name[256];	 /* the export */
};

struct dev {
	uint32_t index;
	char path[32];	  /* /dev/nbdN */
	char pidfile[64]; /* /run/ringfs-nbd.nbdN.pid */
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the target -------------------------------------------------------- */

/* HOST:PORT/EXPORT, [V6]:PORT/EXPORT or unix:/PATH/EXPORT: 0, or -1 with
 * the reason logged */
static int parse_target(const char *arg, struct target *t)
{
	const char *slash = strrchr(arg, '/');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	char host[256], *colon;
	size_t hl;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!slash || !slash[1] || strlen(slash + 1) >= sizeof(t->name)) {
		rfs_err("target '%s': want HOST:PORT/EXPORT or "
			"unix:/PATH/EXPORT (an export name of 1 to %zu bytes)",
			arg, sizeof(t->name) - 1);
		return -1;
	}
	strcpy(t->name, slash + 1);
	hl = (size_t)(slash - arg);
	if (!strncmp(arg, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&t->sa;

		if (hl - 5 == 0 || hl - 5 >= sizeof(un->sun_path)) {
			rfs_err("target '%s': the socket path must be 1 to "
				"%zu bytes",
				arg, sizeof(un->sun_path) - 1);
			return -1;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, arg + 5, hl - 5);
		t->salen = sizeof(*un);
		snprintf(t->where, sizeof(t->where), "%.*s", (int)hl, arg);
		return 0;
	}
	if (hl >= sizeof(host)) {
		rfs_err("target '%s': host part too long", arg);
		return -1;
	}
	memcpy(host, arg, hl);
	host[hl] = 0;
	colon = strrchr(host, ':');
	if (!colon || !colon[1]) {
		rfs_err("target '%s': no port (HOST:PORT/EXPORT; ringfsd "
			"prints its NBD port: 'nbd: listening on')",
			arg);
		return -1;
	}
	*colon = 0;
	snprintf(t->where, sizeof(t->where), "%s:%s", host, colon + 1);
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		colon[-1] = 0;
		memmove(host, host + 1, strlen(host + 1) + 1);
	}
	rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc) {
		rfs_err("target '%s': cannot resolve %s port %s: %s", arg, host,
			colon + 1, gai_strerror(rc));
		return -1;
	}
	memcpy(&t->sa, ai->ai_addr, ai->ai_addrlen);
	t->salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* /dev/nbdN: 0, or -1 with the reason logged */
static int parse_dev(const char *arg, struct dev *d)
{
	unsigned n;
	char end;

	if (sscanf(arg, "/dev/nbd%u%c", &n, &end) != 1) {
		rfs_err("device '%s': want /dev/nbdN", arg);
		return -1;
	}
	d->index = n;
	snprintf(d->path, sizeof(d->path), "/dev/nbd%u", n);
	snprintf(d->pidfile, sizeof(d->pidfile), "/run/ringfs-nbd.nbd%u.pid",
		 n);
	return 0;
}

/* ---- the NBD handshake (fixed newstyle) ---------------------------------- */

struct hs {
	int fd;
	const struct target *t;
	char why[400]; /* what failed, when it did */
};

__attribute__((format(printf, 2, 3))) static int hs_fail(struct hs *h,
							 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->why, sizeof(h->why), fmt, ap);
	va_end(ap);
	return -1;
}

static int wr_all(struct hs *h, const void *p, size_t n, const char *what)
{
	while (n) {
		ssize_t k = send(h->fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return hs_fail(h, "sending %s: %s", what,
				       k < 0 ? strerror(errno) : "closed");
		p = (const char *)p + k;
		n -= (size_t)k;
	}
	return 0;
}

static int rd_all(struct hs *h, void *p, size_t n, const char *what)
{
	while (n) {
		ssize_t k = recv(h->fd, p, n, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			snprintf(h->why, sizeof(h->why), "reading %s: %s", what,
				 errno == EAGAIN ? "no answer in 10 s" :
						   strerror(errno));
			return -1;
		}
		if (k == 0)
			return hs_fail(h,
				       "reading %s: the server closed the "
				       "connection",
				       what);
		p = (char *)p + k;
		n -= (size_t)k;
	}
	return 0;
}

static int set_timeouts(int fd, int secs)
{
	struct timeval tv = { .tv_sec = secs };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return 0;
}

static int send_opt(struct hs *h, uint32_t opt, const uint8_t *d, uint32_t n)
{
	uint8_t o[16];

	put64(o, NBD_OPTS_MAGIC);
	put32(o + 8, opt);
	put32(o + 12, n);
	if (wr_all(h, o, sizeof(o), "an option") ||
	    wr_all(h, d, n, "an option"))
		return -1;
	return 0;
}

/* NBD_OPT_GO: 1 done, 0 unsupported (use EXPORT_NAME), -1 failed */
static int opt_go(struct hs *h, uint64_t *size, uint16_t *flags)
{
	uint32_t nlen = (uint32_t)strlen(h->t->name);
	uint8_t d[4 + 256 + 2], r[20], info[12];
	int have = 0;

	put32(d, nlen);
	memcpy(d + 4, h->t->name, nlen);
	d[4 + nlen] = d[5 + nlen] = 0; /* no information requests */
	if (send_opt(h, NBD_OPT_GO, d, 6 + nlen))
		return -1;
	for (;;) {
		uint32_t type, len;

		if (rd_all(h, r, sizeof(r), "an option reply"))
			return -1;
		type = get32(r + 12);
		len = get32(r + 16);
		if (get64(r) != NBD_REP_MAGIC || get32(r + 8) != NBD_OPT_GO ||
		    len > NBD_NAME_MAX)
			return hs_fail(h, "%s",
				       "a malformed option reply: is this an "
				       "NBD server?");
		if (type == NBD_REP_INFO && len >= sizeof(info)) {
			if (rd_all(h, info, sizeof(info), "an option reply"))
				return -1;
			len -= sizeof(info);
			if (get32(info) >> 16 == NBD_INFO_EXPORT) {
				*size = get64(info + 2);
				*flags = (uint16_t)(info[10] << 8 | info[11]);
				have = 1;
			}
		}
		while (len) { /* the rest: skipped */
			uint8_t skip[256];
			uint32_t k = len < sizeof(skip) ? len : sizeof(skip);

			if (rd_all(h, skip, k, "an option reply"))
				return -1;
			len -= k;
		}
		if (type == NBD_REP_ACK) {
			if (!have)
				return hs_fail(h, "%s",
					       "the server accepted the export "
					       "without saying its size");
			return 1;
		}
		if (type == NBD_REP_ERR_UNSUP)
			return 0;
		if (type == NBD_REP_ERR_UNKNOWN)
			return hs_fail(h,
				       "the server has no NBD export '%s' "
				       "(ringfsd's export option nbd=FILE)",
				       h->t->name);
		if (type == NBD_REP_ERR_POLICY)
			return hs_fail(h,
				       "the server refused export '%s' to "
				       "this address (the export's net= rule)",
				       h->t->name);
		if (type & 0x80000000u) {
			char e[16];

			snprintf(e, sizeof(e), "%u", type & 0x7fffffffu);
			return hs_fail(h, "the server answered error %s", e);
		}
	}
}

/* NBD_OPT_EXPORT_NAME, for a server without GO */
static int opt_export_name(struct hs *h, bool no_zeroes, uint64_t *size,
			   uint16_t *flags)
{
	uint8_t r[10 + 124];

	if (send_opt(h, NBD_OPT_EXPORT_NAME, (const uint8_t *)h->t->name,
		     (uint32_t)strlen(h->t->name)) ||
	    rd_all(h, r, no_zeroes ? 10 : sizeof(r), "the export's size"))
		return -1;
	*size = get64(r);
	*flags = (uint16_t)(r[8] << 8 | r[9]);
	return 0;
}

/*
 * Connect to t and negotiate its export: the socket, ready for the
 * transmission phase (blocking, no timeouts), or -1 with h->why set.
 */
static int nbd_open(struct hs *h, const struct target *t, uint64_t *size,
		    uint16_t *flags)
{
	uint8_t g[18];
	uint16_t hflags;
	uint32_t cflags;
	int one = 1, rc;

	h->t = t;
	h->why[0] = 0;
	h->fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		return hs_fail(h, "socket: %s", strerror(errno));
	/* bounds connect(2) too */
	if (set_timeouts(h->fd, HANDSHAKE_S)) {
		hs_fail(h, "setting socket timeouts: %s", strerror(errno));
		goto fail;
	}
	while ((rc = connect(h->fd, (const struct sockaddr *)&t->sa,
			     t->salen)) < 0 &&
	       errno == EINTR)
		;
	if (rc < 0) {
		hs_fail(h, "connect: %s", strerror(errno));
		goto fail;
	}
	if (t->sa.ss_family != AF_UNIX &&
	    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) <
		    0) {
		hs_fail(h, "setting TCP_NODELAY: %s", strerror(errno));
		goto fail;
	}
	if (rd_all(h, g, sizeof(g), "the server's greeting"))
		goto fail;
	hflags = (uint16_t)(g[16] << 8 | g[17]);
	if (get64(g) != NBD_MAGIC || get64(g + 8) != NBD_OPTS_MAGIC ||
	    !(hflags & NBD_FLAG_FIXED_NEWSTYLE)) {
		hs_fail(h, "%s",
			"the server does not speak fixed-newstyle NBD (is this "
			"ringfsd's --nbd-listen port?)");
		goto fail;
	}
	cflags = NBD_FLAG_FIXED_NEWSTYLE | (hflags & NBD_FLAG_NO_ZEROES);
	put32(g, cflags);
	if (wr_all(h, g, 4, "the client flags"))
		goto fail;
	rc = opt_go(h, size, flags);
	if (rc == 0)
		rc = opt_export_name(h, hflags & NBD_FLAG_NO_ZEROES, size,
				     flags);
	if (rc < 0)
		goto fail;
	/* the kernel's receiver must not time out on an idle device */
	if (set_timeouts(h->fd, 0)) {
		hs_fail(h, "clearing socket timeouts: %s", strerror(errno));
		goto fail;
	}
	return h->fd;
fail:
	close(h->fd);
	h->fd = -1;
	return -1;
}

/* ---- the resident daemon ----------------------------------------------- */

struct daemon {
	struct target t;
	struct dev d;
	struct nbd_nl nl;
	uint64_t size;
	uint16_t flags;
	unsigned timeout, dead_timeout;
	int sock; /* our descriptor of the socket the kernel uses */
	int mc;	  /* the nbd multicast group, or -1 */
	int sigfd;
};

/* is dev an active swap device?  (read with a stack buffer only) */
static int swap_active(const struct dev *d)
{
	char buf[4096], *p;
	size_t want = strlen(d->path);
	ssize_t n;
	int fd = open("/proc/swaps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, d->path, want) &&
		    (p[want] == ' ' || p[want] == '\t'))
			return 1;
	return 0;
}

static void stop(struct daemon *s, int code)
{
	int rc = nbd_nl_disconnect(&s->nl, s->d.index);

	if (rc)
		rfs_err("%s: NBD_CMD_DISCONNECT: %s", s->d.path, strerror(-rc));
	else
		rfs_info("%s: disconnected", s->d.path);
	unlink(s->d.pidfile);
	exit(code);
}

/* a signal: SIGTERM/SIGINT disconnect unless the device is swap */
static void on_signal(struct daemon *s)
{
	struct signalfd_siginfo si;
	ssize_t n = read(s->sigfd, &si, sizeof(si));

	if (n != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo != SIGTERM && si.ssi_signo != SIGINT)
		return;
	if (swap_active(&s->d)) {
		rfs_err("%s: signal %u: not disconnecting an active swap "
			"device (swapoff %s first, or ringfs-swap off %s)",
			s->d.path, si.ssi_signo, s->d.path, s->d.path);
		return;
	}
	stop(s, 0);
}

/* wait ms, or less for a signal */
static void pause_ms(struct daemon *s, int ms)
{
	struct pollfd p = { .fd = s->sigfd, .events = POLLIN };
	int rc = poll(&p, 1, ms);

	if (rc > 0)
		on_signal(s);
}

/* the connection died: a new one, handed to the kernel */
static void reconnect(struct daemon *s)
{
	long long t0 = now_ms();
	int delay = BACKOFF_MIN_MS;
	unsigned attempt = 0;

	rfs_warn("%s: the connection to %s died: reconnecting", s->d.path,
		 s->t.where);
	for (;; attempt++) {
		struct hs h;
		uint64_t size = 0;
		uint16_t flags = 0;
		int fd = nbd_open(&h, &s->t, &size, &flags), rc;

		if (fd >= 0 && size != s->size) {
			rfs_err("%s: export %s of %s is now %llu bytes, was "
				"%llu: not reattaching it (restore the "
				"export's file, or swapoff and detach)",
				s->d.path, s->t.name, s->t.where,
				(unsigned long long)size,
				(unsigned long long)s->size);
			close(fd);
			fd = -1;
		} else if (fd < 0 && (attempt < 3 || attempt % 20 == 0)) {
			rfs_warn("%s: reconnect to %s (attempt %u): %s",
				 s->d.path, s->t.where, attempt + 1, h.why);
		}
		if (fd >= 0) {
			rc = nbd_nl_reconnect(&s->nl, s->d.index, fd);
			if (!rc) {
				close(s->sock);
				s->sock = fd;
				rfs_warn("%s: reconnected to %s after %lld ms "
					 "(%u attempts)",
					 s->d.path, s->t.where, now_ms() - t0,
					 attempt + 1);
				return;
			}
			close(fd);
			if (rc == -EINVAL || rc == -ENODEV) {
				rfs_err("%s: NBD_CMD_RECONFIGURE: %s: the "
					"device is no longer connected "
					"(disconnected by someone else?): "
					"exiting",
					s->d.path, strerror(-rc));
				unlink(s->d.pidfile);
				exit(1);
			}
			/* -ENOSPC: the kernel has not declared the old
			 * connection dead yet */
			if (rc != -ENOSPC)
				rfs_warn("%s: NBD_CMD_RECONFIGURE: %s; "
					 "retrying",
					 s->d.path, strerror(-rc));
		}
		pause_ms(s, delay);
		delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	}
}

static void run(struct daemon *s)
{
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = s->sigfd, .events = POLLIN },
			{ .fd = s->sock, .events = 0 }, /* POLLHUP, POLLERR */
			{ .fd = s->mc, .events = POLLIN },
		};
		int rc = poll(p, s->mc >= 0 ? 3 : 2, -1);

		if (rc < 0) {
			if (errno == EINTR)
				continue;
			rfs_err("%s: poll: %s", s->d.path, strerror(errno));
			exit(1);
		}
		if (p[0].revents)
			on_signal(s);
		if (s->mc >= 0 && p[2].revents) {
			rc = nbd_nl_mc_read(s->mc, s->d.index);
			if (rc == 1)
				rfs_warn("%s: the kernel reports the link "
					 "dead",
					 s->d.path);
		}
		/* the kernel shut our socket down (it declared it dead),
		 * or the peer reset it: our own descriptor says so */
		if (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))
			reconnect(s);
	}
}

/* touch the stack the daemon may use: locked now (mlockall) */
static void prefault_stack(void)
{
	volatile char buf[128 * 1024];

	for (size_t i = 0; i < sizeof(buf); i += 4096)
		buf[i] = 0;
}

static int write_pidfile(const struct daemon *s)
{
	char b[400];
	int n = snprintf(b, sizeof(b), "%d %s/%s\n", (int)getpid(), s->t.where,
			 s->t.name);
	int fd = open(s->d.pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0644);

	if (fd < 0 || write(fd, b, (size_t)n) != n) {
		rfs_err("%s: writing %s: %s", s->d.path, s->d.pidfile,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return close(fd);
}

/*
 * In the process that stays: harden, attach, then report to the parent
 * through fd report (-1: in the foreground).  0 attached; 1 failed.
 */
static int attach(struct daemon *s, int report)
{
	struct nbd_nl_conf c = {
		.index = s->d.index,
		.size = s->size,
		.block_size = 4096,
		.timeout = s->timeout,
		.dead_conn_timeout = s->dead_timeout,
		.server_flags = s->flags,
	};
	sigset_t set;
	int rc;

	if (rfs_daemon_harden(RFS_HARDEN_SWAP))
		return 1; /* harden logged what and how to fix it */
	prefault_stack();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (s->sigfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		rfs_err("signalfd: %s", strerror(errno));
		return 1;
	}
	rc = nbd_nl_open(&s->nl);
	if (rc) {
		rfs_err("the kernel's NBD netlink family: %s; %s",
			strerror(-rc),
			rc == -ENOENT ? "load the nbd module (modprobe nbd)" :
					"is this Linux >= 4.12?");
		return 1;
	}
	s->mc = nbd_nl_mc_open(&s->nl);
	if (s->mc < 0) {
		rfs_warn("%s: no NBD link-dead notifications (%s): relying on "
			 "the socket's state alone",
			 s->d.path, strerror(-s->mc));
		s->mc = -1;
	}
	rc = nbd_nl_connect(&s->nl, &c, s->sock);
	if (rc) {
		rfs_err("%s: NBD_CMD_CONNECT: %s; %s", s->d.path, strerror(-rc),
			rc == -EBUSY  ? "the device is in use: pick another "
					"/dev/nbdN or disconnect it "
					"(ringfs-nbd -d)" :
			rc == -EPERM  ? "run as root (CAP_SYS_ADMIN)" :
			rc == -EINVAL ? "the kernel refused the configuration "
					"(size, block size, or no such device: "
					"modprobe nbd nbds_max=N)" :
					"see the kernel log (dmesg)");
		return 1;
	}
	if (write_pidfile(s)) {
		nbd_nl_disconnect(&s->nl, s->d.index);
		return 1;
	}
	rfs_info("%s: attached export %s of %s (%llu bytes; request timeout "
		 "%u s, waits up to %u s for a reconnect), pid %d",
		 s->d.path, s->t.name, s->t.where, (unsigned long long)s->size,
		 s->timeout, s->dead_timeout, (int)getpid());
	if (report >= 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		char ok = 0;

		/* from now on to the kernel log: no file system needed */
		if (rfs_log_use_kmsg())
			rfs_log_use_syslog(true);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(null, 2) < 0)
			rfs_warn("%s: cannot redirect stdio to /dev/null: %s",
				 s->d.path, strerror(errno));
		if (null > 2)
			close(null);
		if (write(report, &ok, 1) != 1)
			rfs_warn("%s: reporting to the parent: %s", s->d.path,
				 strerror(errno));
		close(report);
	}
	return 0;
}

/* ---- -d ------------------------------------------------------------------ */

/* a small file's contents, NUL-terminated: 0, or -1 when unreadable */
static int read_small(const char *path, char *b, size_t cap)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, b, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	b[n] = 0;
	return 0;
}

static int read_pid(const char *path)
{
	char b[32];

	if (read_small(path, b, sizeof(b)) < 0)
		return -1;
	return atoi(b) > 0 ? atoi(b) : -1;
}

static int is_ours(int pid)
{
	char path[64], comm[32];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	return read_small(path, comm, sizeof(comm)) == 0 &&
	       !strcmp(comm, PROG "\n");
}

/* is the device configured?  (its size in sysfs is not 0) */
static int dev_connected(const struct dev *d)
{
	char path[64], b[32];

	snprintf(path, sizeof(path), "/sys/block/nbd%u/size", d->index);
	return read_small(path, b, sizeof(b)) == 0 &&
	       strtoull(b, NULL, 10) != 0;
}

static int disconnect(const struct dev *d)
{
	long long end = now_ms() + DISCONNECT_WAIT_MS;
	int pid = read_pid(d->pidfile), had = 0;
	char sys[64];

	snprintf(sys, sizeof(sys), "/sys/block/nbd%u", d->index);
	if (access(sys, F_OK) != 0) {
		rfs_err("%s: no such NBD device (%s: %s): is the nbd module "
			"loaded, with enough devices (nbds_max)?",
			d->path, sys, strerror(errno));
		return 1;
	}
	if (swap_active(d)) {
		rfs_err("%s is an active swap device: swapoff %s first (or "
			"ringfs-swap off %s)",
			d->path, d->path, d->path);
		return 1;
	}
	if (pid > 0 && is_ours(pid)) {
		had = 1;
		if (kill(pid, SIGTERM) < 0) {
			rfs_err("%s: kill %d: %s", d->path, pid,
				strerror(errno));
			return 1;
		}
		/* its daemon disconnects and exits; not our child: poll */
		while (kill(pid, 0) == 0 && is_ours(pid) && now_ms() < end)
			poll(NULL, 0, 50); /* a bounded poll of its exit */
		if (kill(pid, 0) == 0 && is_ours(pid)) {
			rfs_err("%s: its daemon %d did not exit in %d s "
				"(see dmesg)",
				d->path, pid, DISCONNECT_WAIT_MS / 1000);
			return 1;
		}
	}
	if (dev_connected(d)) {
		struct nbd_nl nl;

		had = 1;
		int rc = nbd_nl_open(&nl);

		if (!rc)
			rc = nbd_nl_disconnect(&nl, d->index);
		nbd_nl_close(&nl);
		if (rc) {
			rfs_err("%s: NBD_CMD_DISCONNECT: %s", d->path,
				strerror(-rc));
			return 1;
		}
		while (dev_connected(d) && now_ms() < end)
			poll(NULL, 0, 50); /* a bounded poll of its size */
		if (dev_connected(d)) {
			rfs_err("%s: still connected %d s after "
				"NBD_CMD_DISCONNECT (see dmesg)",
				d->path, DISCONNECT_WAIT_MS / 1000);
			return 1;
		}
	}
	unlink(d->pidfile);
	printf("%s: %s\n", d->path, had ? "disconnected" : "not connected");
	return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: " PROG " [-f] [-t SECS] [-D SECS] HOST:PORT/EXPORT "
		"/dev/nbdN\n"
		"       " PROG " [-f] [-t SECS] [-D SECS] unix:/PATH/EXPORT "
		"/dev/nbdN\n"
		"       " PROG " -d /dev/nbdN\n"
		"       " PROG " -n HOST:PORT/EXPORT|unix:/PATH/EXPORT\n"
		"  -f       stay in the foreground, log to standard error\n"
		"  -t SECS  request timeout: a request unanswered this long "
		"is resent on a new connection (default 10)\n"
		"  -D SECS  how long requests wait for a reconnect before "
		"they fail (default 3600)\n"
		"  -d       disconnect the device (refused while it is swap)\n"
		"  -n       negotiate the export, print its size, attach "
		"nothing\n"
		"  -h, --help  this text\n"
		"see ringfs-nbd(8)\n");
	exit(status);
}

static unsigned parse_secs(const char *arg, const char *opt)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || !v || v > 86400 * 7) {
		fprintf(stderr, PROG ": %s '%s': want seconds, 1 to 604800\n",
			opt, arg);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static struct daemon s = { .timeout = 10,
				   .dead_timeout = 3600,
				   .sock = -1,
				   .mc = -1,
				   .sigfd = -1 };
	int fg = 0, disc = 0, probe = 0, o, pfd[2];
	struct hs h;
	pid_t pid;
	ssize_t n;
	char st;

	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	rfs_log_init(PROG);
	while ((o = getopt_long(argc, argv, "fdnt:D:h", lopts, NULL)) != -1) {
		switch (o) {
		case 'h':
			usage(0);
			break;
		case 'n':
			probe = 1;
			break;
		case 'f':
			fg = 1;
			break;
		case 'd':
			disc = 1;
			break;
		case 't':
			s.timeout = parse_secs(optarg, "-t");
			break;
		case 'D':
			s.dead_timeout = parse_secs(optarg, "-D");
			break;
		default:
			usage(2);
		}
	}
	if (disc) {
		if (argc - optind != 1 || parse_dev(argv[optind], &s.d))
			usage(2);
		return disconnect(&s.d);
	}
	if (probe) {
		if (argc - optind != 1 || parse_target(argv[optind], &s.t))
			usage(2);
		s.sock = nbd_open(&h, &s.t, &s.size, &s.flags);
		if (s.sock < 0) {
			rfs_err("export %s of %s: %s", s.t.name, s.t.where,
				h.why);
			return 1;
		}
		close(s.sock);
		printf("export %s of %s: %llu bytes, transmission flags %#x%s\n",
		       s.t.name, s.t.where, (unsigned long long)s.size, s.flags,
		       (s.flags & 2) ? " (read-only)" : "");
		return 0;
	}
	if (argc - optind != 2)
		usage(2);
	if (geteuid() != 0) {
		rfs_err("must run as root (netlink NBD configuration, "
			"mlockall)");
		return 1;
	}
	if (parse_target(argv[optind], &s.t) ||
	    parse_dev(argv[optind + 1], &s.d))
		return 1;
	if (access("/sys/block/nbd0", F_OK) != 0) {
		rfs_err("no NBD devices: load the nbd module (modprobe nbd)");
		return 1;
	}
	s.sock = nbd_open(&h, &s.t, &s.size, &s.flags);
	if (s.sock < 0) {
		rfs_err("export %s of %s: %s", s.t.name, s.t.where, h.why);
		return 1;
	}
	if (s.size < 4096) {
		rfs_err("export %s of %s: %llu bytes: too small for a block "
			"device",
			s.t.name, s.t.where, (unsigned long long)s.size);
		return 1;
	}
	if (fg) {
		if (attach(&s, -1))
			return 1;
		run(&s);
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rfs_err("pipe: %s", strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		rfs_err("fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(pfd[0]);
		if (setsid() < 0 || chdir("/") < 0) {
			rfs_err("setsid/chdir: %s", strerror(errno));
			_exit(1);
		}
		if (attach(&s, pfd[1]))
			_exit(1);
		run(&s);
	}
	close(pfd[1]);
	close(s.sock);
	/* the daemon's word: a byte when attached, EOF when it failed */
	do
		n = read(pfd[0], &st, 1);
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n != 1) { /* it said why on standard error */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return 1;
	}
	return 0;
}
