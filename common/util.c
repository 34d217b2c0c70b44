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

int rfs_send_fds(int sock, const void *p, size_t len, const int *fds,
		 unsigned nfd, int flags)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfd > 4)
		return -EINVAL;
	memset(&cm, 0, sizeof(cm));
	if (nfd) {
		m.msg_control = cm.b;
		m.msg_controllen = CMSG_SPACE(nfd * sizeof(int));
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(nfd * sizeof(int));
		memcpy(CMSG_DATA(&cm.h), fds, nfd * sizeof(int));
	}
	do
		n = sendmsg(sock, &m, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
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
