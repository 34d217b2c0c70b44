// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <linux/tcp.h> /* glibc's struct tcp_info lacks the byte counts */
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "log.h"
#include "spin.h"
#include "util.h"

__thread long long rfs_spin_off_until, rfs_spin_preempted_at, rfs_spin_off_ns;

long rfs_spin_env_us(const char *var, long dflt)
{
	const char *e = getenv(var);
	char *end;
	long us;

	if (!e || !*e)
		return dflt;
	errno = 0;
	us = strtol(e, &end, 10);
	if (*end || errno || us < 0 || us > 1000000) {
		rfs_warn("xprt: %s=%s: not a number of microseconds (0 to "
			 "1000000); using %ld",
			 var, e, dflt);
		return dflt;
	}
	return us;
}

int rfs_poll_until(int fd, short events, long long deadline_ms)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int left = -1;
		int rc;

		if (deadline_ms >= 0) {
			long long d = deadline_ms - rfs_now_ms();

			/* past the deadline: one last look, no wait */
			left = d < 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
		}
		rc = poll(&p, 1, left);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int rfs_sock_counts(int fd, bool tcp, uint64_t *rx, uint64_t *tx)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int outq = 0;

	*rx = *tx = 0;
	if (!tcp) {
		if (ioctl(fd, SIOCOUTQ, &outq) < 0)
			return -errno;
		*tx = (uint64_t)(unsigned)outq;
		return 0;
	}
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	/* both since Linux 4.1; an older kernel's shorter answer leaves 0 */
	*rx = ti.tcpi_bytes_received;
	*tx = ti.tcpi_bytes_acked;
	return 0;
}
