// SPDX-License-Identifier: MIT
/*
 * log: stderr (or syslog) logging with per-subsystem debug switches and
 * per-call-site rate limiting.
 *
 * Each message is formatted into one buffer and written with a single
 * write(2), so that lines from several threads never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define RL_WINDOW_NS (5LL * 1000 * 1000 * 1000)
#define RL_BURST 10u

static char log_prog[64] = "ringfs";
static atomic_int log_level = LOG_INFO;
static atomic_uint log_debug_mask;
static atomic_bool log_syslog;
static atomic_int log_kmsg_fd = -1;

static const struct {
	const char *name;
	unsigned bit;
} log_subs[] = {
	{ "proto", RFS_SUB_PROTO },   { "xprt", RFS_SUB_XPRT },
	{ "server", RFS_SUB_SERVER }, { "client", RFS_SUB_CLIENT },
	{ "fuse", RFS_SUB_FUSE },
};

static unsigned parse_debug(const char *s)
{
	unsigned mask = 0;
	char buf[256];
	char *save = NULL;
	char *tok;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		bool found = false;

		if (!strcmp(tok, "all")) {
			mask = ~0u;
			continue;
		}
		for (size_t i = 0; i < sizeof(log_subs) / sizeof(log_subs[0]);
		     i++) {
			if (!strcmp(tok, log_subs[i].name)) {
				mask |= log_subs[i].bit;
				found = true;
			}
		}
		if (!found)
			rfs_warn("log: RINGFS_DEBUG: unknown subsystem '%s' "
				 "(known: proto xprt server client fuse all)",
				 tok);
	}
	return mask;
}

void rfs_log_init(const char *prog)
{
	const char *dbg;

	if (prog) {
		const char *slash = strrchr(prog, '/');

		snprintf(log_prog, sizeof(log_prog), "%s",
			 slash ? slash + 1 : prog);
	}
	dbg = getenv("RINGFS_DEBUG");
	if (dbg && *dbg) {
		unsigned mask = parse_debug(dbg);

		atomic_store(&log_debug_mask, mask);
		/* debug switches are useless if debug lines are filtered */
		if (mask)
			atomic_store(&log_level, LOG_DEBUG);
	}
}

void rfs_log_use_syslog(bool on)
{
	if (on && !atomic_load(&log_syslog))
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!on && atomic_load(&log_syslog))
		closelog();
	atomic_store(&log_syslog, on);
}

int rfs_log_use_kmsg(void)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	rfs_log_use_syslog(false);
	fd = atomic_exchange(&log_kmsg_fd, fd);
	if (fd >= 0)
		close(fd);
	return 0;
}

void rfs_log_set_level(int level)
{
	atomic_store(&log_level, level);
}

int rfs_log_get_level(void)
{
	return atomic_load(&log_level);
}

bool rfs_log_debug_on(unsigned sub)
{
	return (atomic_load_explicit(&log_debug_mask, memory_order_relaxed) &
		sub) != 0;
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
		return "emerg";
	case LOG_ALERT:
		return "alert";
	case LOG_CRIT:
		return "crit";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void rfs_log(int level, const char *fmt, ...)
{
	int saved_errno = errno;
	char line[1024];
	va_list ap;
	size_t off;
	int n, kfd;

	if (level > atomic_load_explicit(&log_level, memory_order_relaxed))
		goto out;

	if (atomic_load_explicit(&log_syslog, memory_order_relaxed)) {
		va_start(ap, fmt);
		vsyslog(level, fmt, ap);
		va_end(ap);
		goto out;
	}

	kfd = atomic_load_explicit(&log_kmsg_fd, memory_order_relaxed);
	if (kfd >= 0) /* <facility*8+level>, as /dev/kmsg reads it */
		n = snprintf(line, sizeof(line),
			     "<%d>%s[%d]: %s: ", LOG_DAEMON | level, log_prog,
			     (int)getpid(), level_name(level));
	else
		n = snprintf(line, sizeof(line), "%s: %s: ", log_prog,
			     level_name(level));
	off = n < 0 ? 0 : (size_t)n;
	if (off >= sizeof(line))
		off = sizeof(line) - 1;
	va_start(ap, fmt);
	n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
	va_end(ap);
	if (n > 0)
		off += (size_t)n;
	if (off > sizeof(line) - 2)
		off = sizeof(line) - 2; /* truncated: keep room for '\n' */
	line[off++] = '\n';

	/* one write per line; a short write to stderr is not worth a retry
	   loop beyond EINTR */
	for (;;) {
		ssize_t w = write(kfd >= 0 ? kfd : STDERR_FILENO, line,
				  kfd >= 0 ? off - 1 : off);

		if (w >= 0 || errno != EINTR)
			break;
	}
out:
	errno = saved_errno;
}

static long long mono_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return 0;
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool rfs_ratelimit_ok(struct rfs_ratelimit *rl)
{
	long long now = mono_ns();

	if (rl->window_start_ns == 0 ||
	    now - rl->window_start_ns >= RL_WINDOW_NS) {
		if (rl->suppressed)
			rfs_log(LOG_WARNING, "log: %u messages suppressed",
				rl->suppressed);
		rl->window_start_ns = now ? now : 1;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < RL_BURST) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
