// SPDX-License-Identifier: MIT
/* bufpool: growing, shrinking and freeing; see bufpool.h. */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "bufpool.h"
#include "log.h"

#define ROUND_UP(n, a) (((n) + (a)-1) & ~((size_t)(a)-1))

void rfs_pool_init(struct rfs_pool *p, const char *name, size_t hdr_size,
		   uint32_t pfx, uint32_t mem_align, uint32_t max,
		   const struct rfs_pool_hooks *hooks)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->hdr_size = (uint32_t)ROUND_UP(hdr_size, alignof(max_align_t));
	p->pfx = pfx;
	p->mem_align = mem_align < RFS_POOL_ALIGN ? RFS_POOL_ALIGN : mem_align;
	p->max = max;
	if (hooks)
		p->hooks = *hooks;
}

int rfs_pool_add_class(struct rfs_pool *p, uint32_t size, uint32_t per_chunk,
		       uint32_t keep)
{
	struct rfs_pool_class *pc;

	if (p->ncls >= RFS_POOL_CLASSES || !size || !per_chunk ||
	    (p->ncls && p->cls[p->ncls - 1].size >= size))
		return -EINVAL;
	pc = &p->cls[p->ncls++];
	pc->size = size;
	pc->per_chunk = per_chunk;
	pc->keep = keep;
	return 0;
}

/*
 * One allocation: the chunk, its buffer headers, then (at a mem_align
 * boundary) the data, each buffer's pfx + size rounded up to
 * RFS_POOL_ALIGN.
 */
int rfs_pool_grow(struct rfs_pool *p, unsigned ci)
{
	struct rfs_pool_class *pc = &p->cls[ci];
	size_t stride = ROUND_UP((size_t)p->pfx + pc->size, RFS_POOL_ALIGN);
	size_t hoff =
		ROUND_UP(sizeof(struct rfs_pool_chunk), alignof(max_align_t));
	size_t doff = ROUND_UP(hoff + (size_t)p->hdr_size * pc->per_chunk,
			       p->mem_align);
	struct rfs_pool_chunk *ch;
	void *blk;
	int rc;

	if (posix_memalign(&blk, p->mem_align, doff + stride * pc->per_chunk))
		return -ENOMEM;
	memset(blk, 0, doff);
	ch = blk;
	ch->mem = (char *)blk + doff;
	ch->len = stride * pc->per_chunk;
	ch->nbufs = pc->per_chunk;
	ch->cls = (uint8_t)ci;
	if (p->hooks.reg) {
		rc = p->hooks.reg(p->hooks.arg, ch);
		if (rc) {
			free(blk);
			return rc;
		}
	}
	for (uint32_t i = 0; i < pc->per_chunk; i++) {
		struct rfs_pool_buf *pb =
			(void *)((char *)blk + hoff + (size_t)p->hdr_size * i);

		pb->b.data = rfs_pool_chunk_data(p, ch, i);
		pb->b.cap = pc->size;
		pb->chunk = ch;
		pb->cls = (uint8_t)ci;
		pb->free = 1;
		pb->pool_next = pc->free;
		pc->free = pb;
	}
	pc->nfree += pc->per_chunk;
	p->nbufs += pc->per_chunk;
	p->nfree += pc->per_chunk;
	ch->next = p->chunks;
	if (p->chunks)
		p->chunks->prev = ch;
	p->chunks = ch;
	return 0;
}

/*
 * Touch every page of a new chunk's data: under mlockall(MCL_ONFAULT) a
 * page is resident (and locked) only once touched, and the point of a
 * prefill is that the I/O path takes no page fault.
 */
static void prefault(struct rfs_pool_chunk *ch)
{
	volatile char *m = ch->mem;

	for (size_t off = 0; off < ch->len; off += 4096)
		m[off] = 0;
}

int rfs_pool_prefill(struct rfs_pool *p, size_t budget)
{
	for (unsigned i = 0; i < p->ncls; i++) {
		struct rfs_pool_class *pc = &p->cls[i];
		size_t want = budget / pc->size;
		int rc;

		if (want > pc->keep)
			want = pc->keep;
		if (want < pc->per_chunk)
			want = pc->per_chunk;
		while (pc->nfree < want) {
			rc = rfs_pool_grow(p, i);
			if (rc)
				return rc;
			prefault(p->chunks);
		}
	}
	return 0;
}

static size_t chunk_stride(const struct rfs_pool *p,
			   const struct rfs_pool_chunk *ch)
{
	return ROUND_UP((size_t)p->pfx + p->cls[ch->cls].size, RFS_POOL_ALIGN);
}

void *rfs_pool_chunk_data(const struct rfs_pool *p,
			  const struct rfs_pool_chunk *ch, uint32_t i)
{
	return (char *)ch->mem + i * chunk_stride(p, ch) + p->pfx;
}

uint32_t rfs_pool_buf_index(const struct rfs_pool *p,
			    const struct rfs_pool_buf *pb)
{
	size_t off = (size_t)((const char *)pb->b.data -
			      (const char *)pb->chunk->mem) -
		     p->pfx;

	return (uint32_t)(off / chunk_stride(p, pb->chunk));
}

static void chunk_free(struct rfs_pool *p, struct rfs_pool_chunk *ch)
{
	if (ch->prev)
		ch->prev->next = ch->next;
	else
		p->chunks = ch->next;
	if (ch->next)
		ch->next->prev = ch->prev;
	if (p->hooks.dereg)
		p->hooks.dereg(p->hooks.arg, ch);
	free(ch);
}

void rfs_pool_shrink(struct rfs_pool *p, struct rfs_pool_buf *pb)
{
	p->nbufs--;
	chunk_free(p, pb->chunk);
}

void rfs_pool_double_put(const struct rfs_pool *p,
			 const struct rfs_pool_buf *pb)
{
	rfs_err("xprt: %s: buffer %p returned twice", p->name,
		(const void *)pb);
}

void rfs_pool_destroy(struct rfs_pool *p)
{
	while (p->chunks)
		chunk_free(p, p->chunks);
	for (unsigned i = 0; i < p->ncls; i++) {
		p->cls[i].free = NULL;
		p->cls[i].nfree = 0;
	}
	p->nbufs = p->nfree = 0;
}
