/* SPDX-License-Identifier: MIT */
/*
 * capctl: how ringfsctl capture attaches to a running ringfsd or ringfs
 * client (capture.h has the capture itself).
 *
 * Over a connected Unix stream socket the capturer sends one line
 *
 *   capture [snaplen=N] [ring_kib=N]\n
 *
 * and gets back either "ok snaplen=N ring_kib=N\n" with the capture
 * region's memfd (SCM_RIGHTS), or "error: <why>\n" (refused: not root and
 * not the daemon's own uid, by SO_PEERCRED; a capture attached already;
 * a malformed request).  The capture lasts until the capturer closes the
 * socket.
 *
 * rfs_capctl_request is that exchange on one connection, for whatever
 * accepts it; rfs_capctl_start runs a small listener of its own (a
 * thread) on `path`, one capture at a time.
 */
#ifndef RFS_CAPCTL_H
#define RFS_CAPCTL_H

#include <stddef.h>

#define RFS_CAPCTL_LINE_MAX 256

/*
 * Answer the request `line` (without its newline) that came on fd.
 * Returns 0 when a capture is now attached for this connection (the
 * caller calls rfs_cap_detach once fd hangs up), or -errno after it
 * sent the error line.
 */
int rfs_capctl_request(int fd, const char *line);

/* The socket paths: the server's for its TCP port (or pid), a client's. */
int rfs_capctl_path_server(char *buf, size_t len, unsigned port);
int rfs_capctl_path_client(char *buf, size_t len, int pid);

/* Listen on path (mode 0666: the check is per peer) in a thread. */
int rfs_capctl_start(const char *path);
/* Stop the thread, detach a capture, remove the socket. */
void rfs_capctl_stop(void);

#endif /* RFS_CAPCTL_H */
