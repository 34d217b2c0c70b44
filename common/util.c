// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <poll.h>

#include "spin.h"
#include "util.h"

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
