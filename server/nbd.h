/* SPDX-License-Identifier: MIT */
/*
 * nbd: ringfsd's NBD export (--nbd-listen ADDR, export option nbd=FILE):
 * a preallocated file of an export served as a block device to the
 * kernel's NBD client (ringfs-nbd, nbd-client) or any userspace one
 * (qemu-img, nbdinfo).  The fixed newstyle handshake (NBD_OPT_GO, INFO,
 * EXPORT_NAME, LIST, ABORT; STARTTLS answered "unsupported") and simple
 * replies to READ, WRITE (FUA), FLUSH, TRIM and DISC, as the NBD
 * protocol document (nbd's doc/proto.md) has them.
 *
 * Access: the NBD protocol has no authentication without TLS, which this
 * server does not offer, so the listener's address is the first control
 * (a non-loopback one needs --insecure, with or without --key-file); the
 * export's net= and nolocal rules and ro apply per connection.  The file
 * is read and written with ringfsd's own credentials: squash and
 * identity options do not apply (there is no caller).  doc/root-and-
 * swap.md says how to use it for swap.
 *
 * One thread a connection (requests in order; a hostile or stalled peer
 * holds only its own thread: every read inside a frame and every reply
 * has the --frame-timeout/--reply-timeout bound, the handshake the
 * --setup-timeout one), at most NBD_MAX_CONNS connections.
 */
#ifndef RFS_SERVER_NBD_H
#define RFS_SERVER_NBD_H

#include <stdbool.h>

struct rfs_srv_cfg;

/*
 * Open the nbd= file of every export and listen on c->nbd_listen (port 0:
 * a free one; the bound address is printed to stderr as "ringfsd: nbd:
 * listening on ADDR, exports: ..." before the server's own ready line).
 * Nothing to do (0) when neither is configured.  0 or -errno, with the
 * reason logged.  Call after the signals are blocked (threads inherit
 * the mask).
 */
int rfs_nbd_start(struct rfs_srv_cfg *c);
/* Stop listening, end every connection, close the files.  Idempotent. */
void rfs_nbd_stop(void);

#endif /* RFS_SERVER_NBD_H */
