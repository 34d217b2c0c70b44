/* SPDX-License-Identifier: MIT */
/*
 * capture: every frame a process sends and receives, on every transport,
 * for ringfsctl capture (the tcpdump of ringfs).
 *
 * Off (the normal case) it costs one predictable, never-taken branch per
 * frame in xprt.c (rfs_cap_on, a relaxed load).  Attached, each thread
 * that moves frames owns a single-producer ring in a shared-memory region
 * (a memfd handed to the capturing process); the capturer drains the
 * rings and writes pcapng.  The data path never waits for the capturer:
 * a frame that does not fit in its thread's ring is dropped and counted,
 * per connection (the capturer records the counts in pcapng).
 *
 * The region (all little-endian, this host's layout; both ends are the
 * same build):
 *
 *   struct rfs_cap_region           header, at offset 0
 *   struct rfs_cap_slot[nslots]     one per captured connection
 *   { struct rfs_cap_ring, ring_bytes of records }[nrings]
 *
 * A ring holds records (struct rfs_cap_rec, then cap_len bytes of the
 * frame, padded to 8); one with conn RFS_CAP_PAD fills the ring's tail
 * end, the next record starts at offset 0.  head (producer) and tail
 * (capturer) only grow; head - tail <= ring_bytes.
 */
#ifndef RFS_CAPTURE_H
#define RFS_CAPTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rfs_conn;

#define RFS_CAP_MAGIC 0x50434652u /* "RFCP" */
#define RFS_CAP_VERSION 1u
#define RFS_CAP_NAME 64u
#define RFS_CAP_DESC 160u
#define RFS_CAP_PAD 0xffffffffu /* rec.conn of a padding record */

/* rfs_cap_rec.flags: pcapng's epb_flags direction values */
#define RFS_CAP_IN 1u
#define RFS_CAP_OUT 2u

struct rfs_cap_region {
	uint32_t magic, version;
	uint32_t nslots, nrings;
	uint32_t ring_bytes; /* data bytes per ring, a power of 2 */
	uint32_t snaplen;    /* bytes kept of each frame (>= header) */
	uint64_t slots_off, rings_off, ring_stride;
	_Atomic uint32_t slots_used; /* claimed by producers */
	uint32_t pad;
	/* frames lost for want of a slot or a ring (not per connection) */
	_Atomic uint64_t lost;
};
_Static_assert(sizeof(struct rfs_cap_region) == 64, "rfs_cap_region");

struct rfs_cap_slot {
	_Atomic uint32_t ready; /* name and desc are written */
	uint32_t pad;
	_Atomic uint64_t frames; /* frames recorded */
	_Atomic uint64_t drops;	 /* frames dropped: ring full */
	uint64_t pad2;
	char name[RFS_CAP_NAME]; /* "tcp:127.0.0.1:40112", "shm:pid1234" */
	char desc[RFS_CAP_DESC]; /* rfs_conn_desc */
};
_Static_assert(sizeof(struct rfs_cap_slot) == 256, "rfs_cap_slot");

struct rfs_cap_ring {
	_Atomic uint32_t owner; /* 0 free, else claimed by a thread */
	uint32_t pad;
	_Atomic uint64_t head; /* producer's, bytes written */
	char pad1[48];
	_Atomic uint64_t tail; /* capturer's, bytes consumed */
	char pad2[56];
};
_Static_assert(sizeof(struct rfs_cap_ring) == 128, "rfs_cap_ring");

struct rfs_cap_rec {
	uint32_t size;	/* whole record, multiple of 8 */
	uint32_t conn;	/* slot index, or RFS_CAP_PAD */
	uint64_t ts_ns; /* CLOCK_REALTIME */
	uint32_t orig_len, cap_len;
	uint32_t flags; /* RFS_CAP_IN / RFS_CAP_OUT */
	uint32_t drops; /* this conn's frames dropped since its last record */
};
_Static_assert(sizeof(struct rfs_cap_rec) == 32, "rfs_cap_rec");

/* What a capture asks for (ringfsctl capture -s, -B). */
struct rfs_cap_params {
	uint32_t snaplen;  /* 0: whole frames */
	uint32_t ring_kib; /* per thread; 0: RFS_CAP_RING_KIB_DEFAULT */
};
#define RFS_CAP_RING_KIB_DEFAULT 4096u
#define RFS_CAP_RING_KIB_MIN 64u
#define RFS_CAP_RING_KIB_MAX 262144u
#define RFS_CAP_SLOTS 1024u
#define RFS_CAP_RINGS 64u

/* ---- the process being captured ---------------------------------------- */

/* true while a capture is attached; read by xprt.c's hooks */
extern atomic_bool rfs_cap_on;

/* xprt.c: one frame sent (RFS_CAP_OUT) or received (RFS_CAP_IN) on c */
void rfs_cap_frame(struct rfs_conn *c, const void *data, uint32_t len,
		   unsigned dir);

/*
 * Start a capture: a new region (a memfd, sealed against shrinking)
 * that *fd refers to, for the caller to hand to the capturing process;
 * the caller closes its fd when it has.  -EBUSY: one is attached already
 * (one capture at a time).
 */
int rfs_cap_attach(const struct rfs_cap_params *p, int *fd);
/*
 * End it: no frame is recorded after this returns; the region stays
 * valid for the capturer, which has its own mapping.
 */
void rfs_cap_detach(void);
/* whether a capture is attached now */
bool rfs_cap_attached(void);

/* ---- the capturing process (ringfsctl) ------------------------------- */

struct rfs_cap_reader {
	uint8_t *map;
	size_t size;
	struct rfs_cap_region *r;
};
/* Map and check a region received from a daemon; -EPROTO if malformed. */
int rfs_cap_reader_open(struct rfs_cap_reader *rd, int fd);
void rfs_cap_reader_close(struct rfs_cap_reader *rd);
struct rfs_cap_slot *rfs_cap_reader_slot(struct rfs_cap_reader *rd, uint32_t i);
struct rfs_cap_ring *rfs_cap_reader_ring(struct rfs_cap_reader *rd, uint32_t i);
/*
 * The next record of ring i, or NULL when it is empty (or damaged: then
 * *bad is set).  Consumed by rfs_cap_reader_consume(ring i, rec->size).
 * *data points at cap_len bytes in the region.
 */
const struct rfs_cap_rec *rfs_cap_reader_peek(struct rfs_cap_reader *rd,
					      uint32_t i, uint64_t *pos,
					      const uint8_t **data, bool *bad);
void rfs_cap_reader_consume(struct rfs_cap_reader *rd, uint32_t i,
			    uint64_t pos);

#endif /* RFS_CAPTURE_H */
