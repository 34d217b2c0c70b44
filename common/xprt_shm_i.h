/* SPDX-License-Identifier: MIT */
/*
 * xprt_shm_i: the shm transport's setup messages and region layout.
 * Private to xprt_shm.c, and to the tests that play a hostile peer.
 *
 * Setup (phase 1, on a Unix stream socket).  The active side (client)
 * sends struct rfs_shm_setup with SCM_RIGHTS carrying [memfd, eventfd it
 * sleeps on]; the passive side (server) validates it, seals the memfd's
 * size, maps it and answers struct rfs_shm_ack with SCM_RIGHTS carrying
 * [eventfd the server sleeps on].  After that the socket carries only one
 * byte, RFS_SHM_BYE, before an orderly shutdown, and its EOF is how a
 * dead peer is noticed.
 *
 * The region (both sides compute the layout from the setup message; no
 * offset is ever read from shared memory):
 *
 *   struct rfs_shm_ctl   indices and sleeping flags, one cache line each
 *   desc ring, dir 0     producer: client; consumer: server
 *   desc ring, dir 1     producer: server; consumer: client
 *   return ring, dir 0   slot numbers of dir 0 given back by the server
 *   return ring, dir 1   slot numbers of dir 1 given back by the client
 *   slab, dir 0          page aligned; slots of class 0, then 1, then 2
 *   slab, dir 1
 *
 * A slot of direction d belongs to d's producer until it publishes a
 * descriptor naming it; then to the consumer until it writes the slot's
 * number into d's return ring.  Rings hold `ring` entries (a power of two
 * >= the slots of a direction), so neither can overflow.
 */
#ifndef RFS_XPRT_SHM_I_H
#define RFS_XPRT_SHM_I_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RFS_SHM_MAGIC 0x4d534652u     /* "RFSM" little-endian */
#define RFS_SHM_ACK_MAGIC 0x4b534652u /* "RFSK" */
#define RFS_SHM_VERSION 1u
#define RFS_SHM_BYE 'B'
#define RFS_SHM_NCLASS 3
#define RFS_SHM_CLASS0 4096u	/* slot sizes of classes 0 and 1; */
#define RFS_SHM_CLASS1 65536u	/* class 2 is max_msg, page rounded */
#define RFS_SHM_SLOTS_MAX 4096u /* per direction */
#define RFS_SHM_REGION_MAX (1ull << 30)
#define RFS_SHM_PAGE 4096u

struct rfs_shm_setup {
	uint32_t magic; /* RFS_SHM_MAGIC: what rfs_xprt_sniff sees */
	uint16_t version;
	uint16_t flags; /* 0 */
	uint32_t max_msg;
	uint32_t ring;			 /* entries per ring, power of two */
	uint32_t nslots[RFS_SHM_NCLASS]; /* per direction */
	uint32_t pad;
	uint64_t region_size;
};
_Static_assert(sizeof(struct rfs_shm_setup) == 40, "rfs_shm_setup");

struct rfs_shm_ack {
	uint32_t magic; /* RFS_SHM_ACK_MAGIC */
	int32_t status; /* 0 or -errno: why the server refused */
};

struct rfs_shm_desc {
	uint32_t slot;
	uint32_t len; /* frame length, header included */
};

struct rfs_shm_idx {
	alignas(64) _Atomic uint32_t v;
};

struct rfs_shm_ctl {
	struct rfs_shm_idx head[2];	/* desc ring: producer's count */
	struct rfs_shm_idx tail[2];	/* desc ring: consumer's count */
	struct rfs_shm_idx rhead[2];	/* return ring: consumer's count */
	struct rfs_shm_idx rtail[2];	/* return ring: producer's count */
	struct rfs_shm_idx sleeping[2]; /* side 0 client, 1 server */
};

struct rfs_shm_layout {
	uint32_t ring;
	uint32_t nslots; /* per direction, all classes */
	uint32_t cls_first[RFS_SHM_NCLASS];
	uint32_t cls_n[RFS_SHM_NCLASS];
	uint32_t cls_size[RFS_SHM_NCLASS];
	uint64_t cls_off[RFS_SHM_NCLASS]; /* inside a slab */
	uint64_t desc_off[2];
	uint64_t ret_off[2];
	uint64_t slab_off[2];
	uint64_t slab_size;
	uint64_t size; /* whole region */
};

/*
 * Compute the layout of a setup message; 0 or -EINVAL when its numbers
 * are out of range (never trust them: they come from the peer).  The
 * caller compares l->size with s->region_size.
 */
static inline int rfs_shm_layout(const struct rfs_shm_setup *s,
				 struct rfs_shm_layout *l)
{
	uint64_t off, total = 0;

	if (s->max_msg < 48 || s->max_msg > (16u << 20) || s->ring < 2 ||
	    s->ring > 2 * RFS_SHM_SLOTS_MAX || (s->ring & (s->ring - 1)))
		return -22;
	l->ring = s->ring;
	l->cls_size[0] = RFS_SHM_CLASS0;
	l->cls_size[1] = RFS_SHM_CLASS1;
	l->cls_size[2] = (s->max_msg + RFS_SHM_PAGE - 1) & ~(RFS_SHM_PAGE - 1);
	if (l->cls_size[2] < RFS_SHM_CLASS1)
		l->cls_size[2] = RFS_SHM_CLASS1;
	off = 0;
	for (int i = 0; i < RFS_SHM_NCLASS; i++) {
		if (s->nslots[i] > RFS_SHM_SLOTS_MAX)
			return -22;
		l->cls_first[i] = (uint32_t)total;
		l->cls_n[i] = s->nslots[i];
		l->cls_off[i] = off;
		total += s->nslots[i];
		off += (uint64_t)s->nslots[i] * l->cls_size[i];
	}
	if (total == 0 || total > s->ring || !s->nslots[2])
		return -22;
	l->nslots = (uint32_t)total;
	l->slab_size = off;
	off = (sizeof(struct rfs_shm_ctl) + 63) & ~(uint64_t)63;
	for (int d = 0; d < 2; d++) {
		l->desc_off[d] = off;
		off += (uint64_t)s->ring * sizeof(struct rfs_shm_desc);
	}
	for (int d = 0; d < 2; d++) {
		l->ret_off[d] = off;
		off += (uint64_t)s->ring * sizeof(uint32_t);
	}
	off = (off + RFS_SHM_PAGE - 1) & ~(uint64_t)(RFS_SHM_PAGE - 1);
	for (int d = 0; d < 2; d++) {
		l->slab_off[d] = off;
		off += l->slab_size;
	}
	l->size = off;
	if (l->size > RFS_SHM_REGION_MAX)
		return -22;
	return 0;
}

/* Offset of slot i inside its slab, and its class. */
static inline uint64_t rfs_shm_slot_off(const struct rfs_shm_layout *l,
					uint32_t i, int *cls)
{
	int c = RFS_SHM_NCLASS - 1;

	while (c > 0 && i < l->cls_first[c])
		c--;
	*cls = c;
	return l->cls_off[c] + (uint64_t)(i - l->cls_first[c]) * l->cls_size[c];
}

#endif /* RFS_XPRT_SHM_I_H */
