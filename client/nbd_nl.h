/* SPDX-License-Identifier: MIT */
/*
 * nbd_nl: the kernel NBD client's generic netlink interface ("nbd"
 * family, <linux/nbd-netlink.h>), for ringfs-nbd (ringfs_nbd.c).
 *
 * Raw netlink sockets, no libnl: one request, its acknowledgement.  The
 * kernel runs a request in the sending process's context, so a socket fd
 * named in NBD_ATTR_SOCKETS is looked up in the caller's fd table and
 * the kernel takes its own reference to the socket: the caller may keep
 * its fd (ringfs-nbd polls it for the kernel's shutdown of a dead link).
 *
 * Every function returns 0 or -errno and logs nothing: the caller says
 * what it was doing.
 */
#ifndef RFS_NBD_NL_H
#define RFS_NBD_NL_H

#include <stdint.h>

struct nbd_nl {
	int fd;		   /* NETLINK_GENERIC socket, requests */
	uint16_t family;   /* the "nbd" family's id */
	uint32_t mc_group; /* "nbd_mc_group" (0: none) */
	uint32_t seq;
};

/* What NBD_CMD_CONNECT configures (sizes in bytes, times in seconds). */
struct nbd_nl_conf {
	uint32_t index;
	uint64_t size;
	uint64_t block_size;
	uint64_t timeout;
	uint64_t dead_conn_timeout;
	uint64_t server_flags;
};

/* Open a socket and resolve the family: -ENOENT when the nbd module is
 * not loaded. */
int nbd_nl_open(struct nbd_nl *nl);
void nbd_nl_close(struct nbd_nl *nl);

int nbd_nl_connect(struct nbd_nl *nl, const struct nbd_nl_conf *c, int sock);
/* NBD_CMD_RECONFIGURE: sock replaces the device's dead connection
 * (-ENOSPC: the kernel has not marked it dead yet). */
int nbd_nl_reconnect(struct nbd_nl *nl, uint32_t index, int sock);
int nbd_nl_disconnect(struct nbd_nl *nl, uint32_t index);

/* A socket subscribed to the family's multicast group (NBD_CMD_LINK_DEAD),
 * non-blocking: its fd, or -errno. */
int nbd_nl_mc_open(const struct nbd_nl *nl);
/* Read what is queued on a multicast socket: 1 when a LINK_DEAD for
 * device index is among it, 0 when not, -errno (-EAGAIN: nothing). */
int nbd_nl_mc_read(int fd, uint32_t index);

#endif /* RFS_NBD_NL_H */
