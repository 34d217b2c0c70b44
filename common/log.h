/* SPDX-License-Identifier: MIT */
/*
 * log: syslog levels, "subsystem: what failed: why" messages, per-subsystem
 * debug switches at run time (RINGFS_DEBUG=proto,xprt,fs or "all"), and
 * rate limiting for the data path.  Writes to stderr (journald picks it
 * up under systemd); with rfs_log_use_syslog(true) to syslog.
 */
#ifndef RFS_LOG_H
#define RFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

enum rfs_log_sub {
	RFS_SUB_PROTO = 1u << 0,
	RFS_SUB_XPRT = 1u << 1,
	RFS_SUB_SERVER = 1u << 2,
	RFS_SUB_CLIENT = 1u << 3,
	RFS_SUB_FUSE = 1u << 4,
};

/* Reads RINGFS_DEBUG; prog is the prefix ("ringfsd"). */
void rfs_log_init(const char *prog);
void rfs_log_use_syslog(bool on);
/*
 * Log to the kernel's ring buffer (/dev/kmsg: the console and dmesg)
 * instead: for a daemon that serves the root filesystem, which must
 * never log into the filesystem it serves nor depend on a syslog daemon
 * that lives there.  The descriptor is opened once, here.  0, or -errno
 * (and logging stays where it was).
 */
int rfs_log_use_kmsg(void);
/* Messages up to this level are printed (default LOG_INFO). */
void rfs_log_set_level(int level);
int rfs_log_get_level(void);
bool rfs_log_debug_on(unsigned sub);

void rfs_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Rate limited: at most 10 messages per 5 s per call site, then one
 * "N messages suppressed" line.
 */
struct rfs_ratelimit {
	long long window_start_ns;
	unsigned printed;
	unsigned suppressed;
};
bool rfs_ratelimit_ok(struct rfs_ratelimit *rl);

#define rfs_err(...) rfs_log(LOG_ERR, __VA_ARGS__)
#define rfs_warn(...) rfs_log(LOG_WARNING, __VA_ARGS__)
#define rfs_info(...) rfs_log(LOG_INFO, __VA_ARGS__)
#define rfs_dbg(sub, ...)                                \
	do {                                             \
		if (rfs_log_debug_on(sub))               \
			rfs_log(LOG_DEBUG, __VA_ARGS__); \
	} while (0)
/* rate-limited message at lvl, one limiter per call site */
#define rfs_log_rl(lvl, ...)                              \
	do {                                              \
		static __thread struct rfs_ratelimit rl_; \
		if (rfs_ratelimit_ok(&rl_))               \
			rfs_log(lvl, __VA_ARGS__);        \
	} while (0)
#define rfs_err_rl(...) rfs_log_rl(LOG_ERR, __VA_ARGS__)
#define rfs_warn_rl(...) rfs_log_rl(LOG_WARNING, __VA_ARGS__)

#endif /* RFS_LOG_H */
