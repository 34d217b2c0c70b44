// SPDX-License-Identifier: MIT
/*
 * harden: mlockall, PR_SET_IO_FLUSHER, oom_score_adj for a daemon that
 * serves swap or a root filesystem (harden.h says why each).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "harden.h"
#include "log.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57 /* Linux 5.6 */
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4 /* Linux 4.4 */
#endif

static atomic_uint hardened;

static int harden_mlock(unsigned flags)
{
	int how = MCL_CURRENT | MCL_FUTURE;
	int err;

	if (flags & RFS_HARDEN_ONFAULT)
		how |= MCL_ONFAULT;
	if (mlockall(how) == 0)
		return 0;
	err = errno;
	rfs_err("harden: mlockall(MCL_CURRENT|MCL_FUTURE%s): %s; %s",
		(flags & RFS_HARDEN_ONFAULT) ? "|MCL_ONFAULT" : "",
		strerror(err),
		err == EPERM  ? "run as root (CAP_IPC_LOCK) or raise the "
				"memory-lock limit (ulimit -l unlimited, "
				"LimitMEMLOCK=infinity in a systemd unit)" :
		err == ENOMEM ? "the memory-lock limit is below the process's "
				"size (ulimit -l unlimited, "
				"LimitMEMLOCK=infinity) or memory is short" :
		err == EINVAL ? "this kernel lacks MCL_ONFAULT (Linux >= 4.4)" :
				"the process's memory cannot be locked");
	return -err;
}

static int harden_io_flusher(void)
{
	int err;

	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0)
		return 0;
	err = errno;
	rfs_err("harden: prctl(PR_SET_IO_FLUSHER): %s; %s", strerror(err),
		err == EPERM ?
			"needs CAP_SYS_RESOURCE: run as root" :
		err == EINVAL ?
			"this kernel lacks PR_SET_IO_FLUSHER (Linux >= 5.6)" :
			"the kernel refused it");
	return -err;
}

static int harden_oom(void)
{
	static const char path[] = "/proc/self/oom_score_adj";
	static const char val[] = "-1000\n";
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		rfs_err("harden: open %s: %s; is /proc mounted?", path,
			strerror(err));
		return -err;
	}
	n = write(fd, val, sizeof(val) - 1);
	err = n < 0 ? errno : n != (ssize_t)sizeof(val) - 1 ? EIO : 0;
	if (close(fd) < 0 && !err)
		err = errno;
	if (err) {
		rfs_err("harden: write -1000 to %s: %s; %s", path,
			strerror(err),
			err == EACCES || err == EPERM ?
				"lowering it needs CAP_SYS_RESOURCE: run as "
				"root" :
				"the kernel refused it");
		return -err;
	}
	return 0;
}

int rfs_daemon_harden(unsigned flags)
{
	unsigned done = 0;
	int ret = 0, r;

	if (flags & RFS_HARDEN_IO_FLUSHER) {
		r = harden_io_flusher();
		if (!r)
			done |= RFS_HARDEN_IO_FLUSHER;
		else if (!ret)
			ret = r;
	}
	if (flags & RFS_HARDEN_OOM) {
		r = harden_oom();
		if (!r)
			done |= RFS_HARDEN_OOM;
		else if (!ret)
			ret = r;
	}
	if (flags & RFS_HARDEN_MLOCK) {
		r = harden_mlock(flags);
		if (!r)
			done |= flags & (RFS_HARDEN_MLOCK | RFS_HARDEN_ONFAULT);
		else if (!ret)
			ret = r;
	}
	atomic_fetch_or(&hardened, done);
	return ret;
}

unsigned rfs_daemon_hardened(void)
{
	return atomic_load(&hardened);
}
