/* SPDX-License-Identifier: MIT */
/*
 * addr: parsing of the addresses users type.
 *   host:port           127.0.0.1:7070, [::1]:7070, localhost:7070
 *   unix:/path          a Unix stream socket
 * and of the client's source "ADDR:/export" (ADDR as above; the export is
 * the part after the last ":/" ).
 */
#ifndef RFS_ADDR_H
#define RFS_ADDR_H

#include <stdbool.h>
#include <sys/socket.h>

struct rfs_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[128]; /* as the user wrote it, for messages */
};

/* Resolve "host:port" or "unix:/path"; 0 or -EINVAL / -ENOENT (unknown
   host). default_port is used when the port is omitted (0: required). */
int rfs_addr_parse(const char *s, unsigned default_port, struct rfs_addr *a);
/* Split "ADDR:/export" into ADDR (a string copy into addr, addr_sz) and
   export (without the leading '/'); 0 or -EINVAL. */
int rfs_addr_split_source(const char *src, char *addr, size_t addr_sz,
			  char *export, size_t export_sz);
/* Printable "ip:port" of a connected socket's peer/local end. */
void rfs_addr_fmt(const struct sockaddr *sa, socklen_t len, char *out,
		  size_t outsz);
bool rfs_addr_is_loopback(const struct rfs_addr *a);

/*
 * Privileged source ports (bindresvport(3)'s range): only root (or
 * CAP_NET_BIND_SERVICE) can bind them, so a server may trust a peer on
 * one to be root on its host (ringfsd's privport export option).
 */
#define RFS_RESVPORT_LO 512u
#define RFS_RESVPORT_HI 1023u
/*
 * Bind the unconnected AF_INET/AF_INET6 stream socket fd to a free port
 * of RFS_RESVPORT_LO..HI, trying them in turn from *next (any value; it
 * is wrapped into the range) and leaving *next after the port bound, so
 * that a caller whose connect fails on that port (EADDRNOTAVAIL: the
 * same four-tuple still in TIME_WAIT) tries the following one with a new
 * socket.  SO_REUSEADDR is set, so a port held only by closed
 * connections in TIME_WAIT can be bound again.  Returns the port;
 * -EADDRINUSE when every port in the range is taken, -EACCES without the
 * privilege, other -errno (setsockopt, bind).
 */
int rfs_addr_bind_resvport(int fd, int family, unsigned *next);

#endif /* RFS_ADDR_H */
