/* SPDX-License-Identifier: MIT */
/*
 * bufpool: the size-class buffer pool of every transport (tcp, uring,
 * rdma).  A pool has a few classes (capacity, buffers allocated at once,
 * free buffers kept); a buffer comes from the smallest class it fits,
 * off that class's free list.  Memory comes in chunks of per_chunk
 * buffers: one allocation holds the chunk, its buffers' headers and
 * their data, so a class of one buffer a chunk costs what a malloc'd
 * buffer cost before, and a transport whose memory must be registered
 * with a device (rdma: ibv_reg_mr) does it once per chunk, through the
 * register hook, never on the I/O path.
 *
 * The transport's buffer struct starts with a struct rfs_pool_buf (the
 * pool's part: the caller's struct rfs_buf, free-list link, chunk,
 * class) and the pool allocates hdr_size bytes for each, zeroed when the
 * chunk is made; what a buffer needs reset on each get is the
 * transport's business.  Buffers of a chunk with one buffer are freed
 * when their class already keeps `keep` free ones; larger chunks (rdma)
 * live until rfs_pool_destroy, which frees every chunk, buffers still
 * lent out included.
 *
 * rfs_pool_get and rfs_pool_put are inline: they are the hot path of
 * every send and receive (a class scan of at most RFS_POOL_CLASSES and a
 * list pop or push); growing and shrinking are out of line.
 * Single-threaded, like the transport context that owns the pool.
 */
#ifndef RFS_BUFPOOL_H
#define RFS_BUFPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xprt.h"

#define RFS_POOL_CLASSES 8
/* data alignment of every buffer: a cache line */
#define RFS_POOL_ALIGN 64u

struct rfs_pool_chunk;

/* First member of a transport's buffer. */
struct rfs_pool_buf {
	struct rfs_buf b;		/* what the caller sees */
	struct rfs_pool_buf *pool_next; /* free list */
	struct rfs_pool_chunk *chunk;
	uint8_t cls;
	uint8_t free; /* on the free list: a put is a bug */
};

struct rfs_pool_chunk {
	struct rfs_pool_chunk *prev, *next; /* every chunk of the pool */
	void *mem;	    /* the buffers' data (prefix first) */
	size_t len;	    /* bytes at mem */
	void *reg;	    /* the register hook's handle */
	void *reg2;	    /* ... and a second one, if it needs it */
	uint32_t reg_flags; /* the register hook's own bits */
	uint32_t nbufs;
	uint8_t cls;
};

struct rfs_pool_class {
	uint32_t size;	    /* buffer capacity */
	uint32_t per_chunk; /* buffers allocated at once */
	uint32_t keep;	    /* free buffers kept (chunks of one) */
	uint32_t nfree;
	struct rfs_pool_buf *free;
};

/*
 * Register hook: reg is called for every new chunk (ch->mem, ch->len,
 * ch->cls set) before its buffers are used, and may set ch->reg and
 * ch->reg_flags; 0 or -errno (then the chunk is freed and the get fails).
 * dereg is called for every chunk reg succeeded on, before it is freed.
 */
struct rfs_pool_hooks {
	int (*reg)(void *arg, struct rfs_pool_chunk *ch);
	void (*dereg)(void *arg, struct rfs_pool_chunk *ch);
	void *arg;
};

struct rfs_pool {
	struct rfs_pool_class cls[RFS_POOL_CLASSES];
	unsigned ncls;
	uint32_t max;	    /* largest size a get accepts */
	uint32_t hdr_size;  /* the transport's buffer struct */
	uint32_t pfx;	    /* bytes in front of each data */
	uint32_t mem_align; /* alignment of a chunk's data */
	uint64_t nbufs, nfree;
	struct rfs_pool_chunk *chunks;
	const char *name; /* for log lines: "tcp" */
	struct rfs_pool_hooks hooks;
};

/*
 * An empty pool: buffers of hdr_size bytes (>= sizeof(struct
 * rfs_pool_buf)) whose data has pfx bytes (a multiple of RFS_POOL_ALIGN)
 * reserved in front of it, chunks aligned to mem_align (a power of two,
 * >= RFS_POOL_ALIGN: page size for memory a device maps), gets up to max
 * bytes.  hooks may be NULL.
 */
void rfs_pool_init(struct rfs_pool *p, const char *name, size_t hdr_size,
		   uint32_t pfx, uint32_t mem_align, uint32_t max,
		   const struct rfs_pool_hooks *hooks);
/* Classes in increasing size; 0, or -EINVAL when full or out of order. */
int rfs_pool_add_class(struct rfs_pool *p, uint32_t size, uint32_t per_chunk,
		       uint32_t keep);
/*
 * Allocate up front what a class keeps, capped at budget bytes a class
 * (at least one chunk each), every page touched: the pool of a hardened
 * client (-o swap) serves its usual load without a malloc or a page
 * fault.  With mlockall in force the memory stays resident.  0, or -ENOMEM (or the register
 * hook's error) with what was had kept.
 */
int rfs_pool_prefill(struct rfs_pool *p, size_t budget);
/* the budget a class of the transports' prefill (2 MiB) */
#define RFS_POOL_PREFILL_BUDGET (2u << 20)
/* Every chunk deregistered and freed, lent buffers too. */
void rfs_pool_destroy(struct rfs_pool *p);

/* out of line: a new chunk for class ci; 0 or -errno */
int rfs_pool_grow(struct rfs_pool *p, unsigned ci);
/* The data of buffer i of chunk ch (i < ch->nbufs): for register hooks
   that register buffers one by one. */
void *rfs_pool_chunk_data(const struct rfs_pool *p,
			  const struct rfs_pool_chunk *ch, uint32_t i);
/* Which buffer of its chunk pb is (the i above). */
uint32_t rfs_pool_buf_index(const struct rfs_pool *p,
			    const struct rfs_pool_buf *pb);
/* out of line: a chunk of one buffer beyond its class's keep */
void rfs_pool_shrink(struct rfs_pool *p, struct rfs_pool_buf *pb);
/* out of line: a buffer put twice (logged, ignored) */
void rfs_pool_double_put(const struct rfs_pool *p,
			 const struct rfs_pool_buf *pb);

/* A buffer of at least size bytes, len 0; NULL if none can be had. */
static inline struct rfs_pool_buf *rfs_pool_get(struct rfs_pool *p,
						uint32_t size)
{
	struct rfs_pool_class *pc = NULL;
	struct rfs_pool_buf *pb;
	unsigned i;

	if (size > p->max)
		return NULL;
	for (i = 0; i < p->ncls; i++) {
		if (size <= p->cls[i].size) {
			pc = &p->cls[i];
			break;
		}
	}
	if (!pc)
		return NULL;
	if (!pc->free && rfs_pool_grow(p, i))
		return NULL;
	pb = pc->free;
	pc->free = pb->pool_next;
	pc->nfree--;
	p->nfree--;
	pb->pool_next = NULL;
	pb->free = 0;
	pb->b.len = 0;
	return pb;
}

static inline void rfs_pool_put(struct rfs_pool *p, struct rfs_pool_buf *pb)
{
	struct rfs_pool_class *pc = &p->cls[pb->cls];

	if (pb->free) {
		rfs_pool_double_put(p, pb);
		return;
	}
	if (pc->nfree >= pc->keep && pb->chunk->nbufs == 1) {
		rfs_pool_shrink(p, pb);
		return;
	}
	pb->free = 1;
	pb->pool_next = pc->free;
	pc->free = pb;
	pc->nfree++;
	p->nfree++;
}

/* Buffers lent out (taken, not yet put back). */
static inline uint64_t rfs_pool_out(const struct rfs_pool *p)
{
	return p->nbufs - p->nfree;
}

#endif /* RFS_BUFPOOL_H */
