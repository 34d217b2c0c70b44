/* SPDX-License-Identifier: MIT */
/*
 * pcapng: a writer for the blocks ringfsctl capture needs (the format:
 * draft-ietf-opsawg-pcapng): a Section Header, one Interface Description
 * per connection (if_name, if_description, if_tsresol = 9: nanoseconds),
 * Enhanced Packet blocks (epb_flags: direction; epb_dropcount) and
 * Interface Statistics (isb_ifrecv, isb_ifdrop).  Little-endian, as the
 * host.  Each call writes whole blocks to f; errors are ferror(f).
 */
#ifndef RFS_PCAPNG_H
#define RFS_PCAPNG_H

#include <stdint.h>
#include <stdio.h>

/*
 * The link type of ringfs frames in a capture: LINKTYPE_USER0, one whole
 * frame (struct rfs_hdr + payload, cut at the snap length) per packet.
 * contrib/wireshark/ringfs.lua registers for it (doc/protocol.md).
 */
#define RFS_PCAPNG_LINKTYPE 147u

/* epb_flags direction bits */
#define RFS_PCAPNG_INBOUND 1u
#define RFS_PCAPNG_OUTBOUND 2u

int rfs_pcapng_shb(FILE *f, const char *appl);
int rfs_pcapng_idb(FILE *f, uint16_t linktype, uint32_t snaplen,
		   const char *name, const char *desc);
int rfs_pcapng_epb(FILE *f, uint32_t ifid, uint64_t ts_ns, const void *data,
		   uint32_t cap_len, uint32_t orig_len, uint32_t dir,
		   uint64_t drops);
int rfs_pcapng_isb(FILE *f, uint32_t ifid, uint64_t ts_ns, uint64_t recv,
		   uint64_t drop);

#endif /* RFS_PCAPNG_H */
