/* SPDX-License-Identifier: MIT */
/*
 * capctl: the "capture" command of a daemon's control socket (ctlsock.h),
 * how ringfsctl capture attaches to a running ringfsd or ringfs client
 * (capture.h has the capture itself).
 *
 *   request:  capture [snaplen=N] [ring_kib=N]     (RFS_CTL_PRIV: root
 *             or the daemon's uid, by SO_PEERCRED; refused otherwise)
 *   reply:    status 0 and the payload "ok\n", which carries the capture
 *             region's memfd (SCM_RIGHTS); or an error status and one
 *             line (EINVAL: a malformed argument; EBUSY: a capture is
 *             attached already, one at a time).
 *
 * After an ok the connection is the capture's: it lasts until the
 * capturer closes it (or the daemon stops); a watcher thread then
 * detaches.
 */
#ifndef RFS_CAPCTL_H
#define RFS_CAPCTL_H

#include "ctlsock.h"

/* the command table row both daemons have */
#define RFS_CAPCTL_CMD                                                          \
	{                                                                       \
		"capture", rfs_capctl_cmd, RFS_CTL_PRIV,                        \
			"every frame sent and received, for ringfsctl capture " \
			"[snaplen=N] [ring_kib=N]"                              \
	}

int rfs_capctl_cmd(struct rfs_ctl_req *rq, struct rfs_ctl_out *out);
/* End a capture still attached (the daemon stops); waits for its watcher. */
void rfs_capctl_stop(void);

#endif /* RFS_CAPCTL_H */
