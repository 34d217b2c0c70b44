// SPDX-License-Identifier: MIT
/*
 * capture: the producer side (the process being captured: xprt.c's hooks,
 * attach and detach from its control socket) and the reader side
 * (ringfsctl capture) of the capture region; capture.h has the layout.
 *
 * Producer, per frame while attached: the thread's ring (claimed on its
 * first frame, given back when the thread exits), the connection's slot
 * (claimed on its first frame in this capture), a clock read and a copy
 * of up to snaplen bytes.  Nothing waits: no ring, no slot or no room
 * means the frame is dropped and counted.
 *
 * Detach against producers still inside rfs_cap_frame: every producer
 * holds cap_users while it uses the region; detach clears the session,
 * then waits (bounded) until no producer holds it before unmapping.  Both
 * sides use sequentially consistent operations for that handshake.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "log.h"
#include "ringfs_proto.h"
#include "xprt_impl.h"

atomic_bool rfs_cap_on;

struct cap_sess {
	uint32_t gen; /* never 0 */
	uint8_t *map;
	size_t size;
	struct rfs_cap_region *r;
};

static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cap_sess *_Atomic cap_cur;
static atomic_uint cap_users;
static uint32_t cap_gen_next;

/* the calling thread's ring in the capture of generation gen */
struct cap_tl {
	uint32_t gen;
	struct rfs_cap_ring *ring;
};
static _Thread_local struct cap_tl cap_tl;
static pthread_key_t cap_key;
static pthread_once_t cap_key_once = PTHREAD_ONCE_INIT;

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static uint8_t *ring_data(struct rfs_cap_ring *ring)
{
	return (uint8_t *)(ring + 1);
}

/* thread exit: give the ring back, if its capture is still the one */
static void cap_thread_exit(void *arg)
{
	struct cap_tl *tl = arg;
	struct cap_sess *s;

	atomic_fetch_add(&cap_users, 1);
	s = atomic_load(&cap_cur);
	if (s && tl->gen == s->gen && tl->ring)
		atomic_store_explicit(&tl->ring->owner, 0,
				      memory_order_release);
	atomic_fetch_sub(&cap_users, 1);
}

static void cap_key_init(void)
{
	if (pthread_key_create(&cap_key, cap_thread_exit))
		rfs_warn("capture: pthread_key_create failed: rings of "
			 "threads that exit are not reused");
}

static struct rfs_cap_ring *sess_ring(struct cap_sess *s, uint32_t i)
{
	return (struct rfs_cap_ring *)(void *)(s->map + s->r->rings_off +
					       i * s->r->ring_stride);
}

static struct rfs_cap_ring *claim_ring(struct cap_sess *s)
{
	for (uint32_t i = 0; i < s->r->nrings; i++) {
		struct rfs_cap_ring *ring = sess_ring(s, i);
		uint32_t free_ = 0;

		if (atomic_compare_exchange_strong(&ring->owner, &free_, 1)) {
			cap_tl.gen = s->gen;
			cap_tl.ring = ring;
			(void)pthread_once(&cap_key_once, cap_key_init);
			(void)pthread_setspecific(cap_key, &cap_tl);
			return ring;
		}
	}
	return NULL;
}

/* "tcp 1.2.3.4:5->6.7.8.9:10" -> "tcp:6.7.8.9:10"; shm: "shm:pidN" */
static void name_from_desc(const char *d, char *out, size_t n)
{
	const char *arrow = strstr(d, "->"), *sp = strchr(d, ' ');
	const char *pid = strstr(d, "peer pid ");

	if (pid) {
		snprintf(out, n, "%.*s:pid%s", (int)(sp ? sp - d : 3), d,
			 pid + 9);
		return;
	}
	if (arrow && sp) {
		snprintf(out, n, "%.*s:%s", (int)(sp - d), d, arrow + 2);
		return;
	}
	snprintf(out, n, "%s", d);
	for (char *p = out; *p; p++)
		if (*p == ' ')
			*p = ':';
}

static int claim_slot(struct cap_sess *s, struct rfs_conn *c,
		      struct rfs_conn_base *cb)
{
	uint32_t i = atomic_fetch_add(&s->r->slots_used, 1);
	struct rfs_cap_slot *sl;

	if (i >= s->r->nslots)
		return -ENOSPC;
	sl = (struct rfs_cap_slot *)(void *)(s->map + s->r->slots_off) + i;
	if (cb->ops->cap_name)
		cb->ops->cap_name(c, sl->name, sizeof(sl->name));
	else
		name_from_desc(rfs_conn_desc(c), sl->name, sizeof(sl->name));
	snprintf(sl->desc, sizeof(sl->desc), "%s", rfs_conn_desc(c));
	atomic_store_explicit(&sl->ready, 1, memory_order_release);
	cb->cap_gen = s->gen;
	cb->cap_slot = i;
	cb->cap_pend = 0;
	return 0;
}

void rfs_cap_frame(struct rfs_conn *c, const void *data, uint32_t len,
		   unsigned dir)
{
	struct rfs_conn_base *cb = (struct rfs_conn_base *)(void *)c;
	struct rfs_cap_ring *ring;
	struct rfs_cap_slot *sl;
	struct rfs_cap_rec rec;
	struct cap_sess *s;
	struct timespec ts;
	uint64_t head, tail, off, need, room;
	uint32_t cap;

	atomic_fetch_add(&cap_users, 1);
	s = atomic_load(&cap_cur);
	if (!s)
		goto out;
	if (cb->cap_gen != s->gen && claim_slot(s, c, cb)) {
		atomic_fetch_add_explicit(&s->r->lost, 1, memory_order_relaxed);
		goto out;
	}
	ring = cap_tl.gen == s->gen ? cap_tl.ring : claim_ring(s);
	sl = (struct rfs_cap_slot *)(void *)(s->map + s->r->slots_off) +
	     cb->cap_slot;
	if (!ring) {
		atomic_fetch_add_explicit(&sl->drops, 1, memory_order_relaxed);
		cb->cap_pend++;
		goto out;
	}
	cap = len < s->r->snaplen ? len : s->r->snaplen;
	need = sizeof(rec) + align8(cap);
	head = atomic_load_explicit(&ring->head, memory_order_relaxed);
	tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
	off = head & (s->r->ring_bytes - 1);
	room = s->r->ring_bytes - off; /* to the end, a multiple of 8 */
	if (need > room)
		need += room; /* a padding record, then from offset 0 */
	if (head + need - tail > s->r->ring_bytes) {
		atomic_fetch_add_explicit(&sl->drops, 1, memory_order_relaxed);
		cb->cap_pend++;
		goto out;
	}
	if (need > sizeof(rec) + align8(cap)) {
		struct rfs_cap_rec pad = { .size = (uint32_t)room,
					   .conn = RFS_CAP_PAD };

		memcpy(ring_data(ring) + off, &pad, 8);
		off = 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	rec = (struct rfs_cap_rec){
		.size = (uint32_t)(sizeof(rec) + align8(cap)),
		.conn = cb->cap_slot,
		.ts_ns = (uint64_t)ts.tv_sec * 1000000000u +
			 (uint64_t)ts.tv_nsec,
		.orig_len = len,
		.cap_len = cap,
		.flags = dir,
		.drops = cb->cap_pend,
	};
	memcpy(ring_data(ring) + off, &rec, sizeof(rec));
	memcpy(ring_data(ring) + off + sizeof(rec), data, cap);
	cb->cap_pend = 0;
	atomic_fetch_add_explicit(&sl->frames, 1, memory_order_relaxed);
	atomic_store_explicit(&ring->head, head + need, memory_order_release);
out:
	atomic_fetch_sub(&cap_users, 1);
}

static uint32_t pow2_floor(uint64_t v)
{
	uint32_t p = 1;

	while ((uint64_t)p * 2 <= v && p < (1u << 30))
		p *= 2;
	return p;
}

int rfs_cap_attach(const struct rfs_cap_params *p, int *fd)
{
	uint32_t kib = p->ring_kib ? p->ring_kib : RFS_CAP_RING_KIB_DEFAULT;
	struct rfs_cap_region *r;
	struct cap_sess *s;
	size_t size;
	int rc, mfd;

	*fd = -1;
	if (kib < RFS_CAP_RING_KIB_MIN || kib > RFS_CAP_RING_KIB_MAX)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&cap_lock);
	if (atomic_load(&cap_cur)) {
		rc = -EBUSY;
		goto fail;
	}
	{
		uint32_t ring_bytes = pow2_floor((uint64_t)kib * 1024);
		uint64_t slots_off = sizeof(*r);
		uint64_t rings_off =
			slots_off + RFS_CAP_SLOTS * sizeof(struct rfs_cap_slot);
		uint64_t stride = sizeof(struct rfs_cap_ring) + ring_bytes;

		size = rings_off + RFS_CAP_RINGS * stride;
		mfd = memfd_create("ringfs-capture",
				   MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (mfd < 0) {
			rc = -errno;
			rfs_err("capture: memfd_create: %s", strerror(-rc));
			goto fail;
		}
		/* sparse: only the pages the rings use get memory */
		if (ftruncate(mfd, (off_t)size) ||
		    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
			rc = -errno;
			rfs_err("capture: size the region (%zu bytes): %s",
				size, strerror(-rc));
			close(mfd);
			goto fail;
		}
		s->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			      mfd, 0);
		if (s->map == MAP_FAILED) {
			rc = -errno;
			rfs_err("capture: mmap %zu bytes: %s", size,
				strerror(-rc));
			close(mfd);
			goto fail;
		}
		s->size = size;
		r = s->r = (struct rfs_cap_region *)(void *)s->map;
		r->magic = RFS_CAP_MAGIC;
		r->version = RFS_CAP_VERSION;
		r->nslots = RFS_CAP_SLOTS;
		r->nrings = RFS_CAP_RINGS;
		r->ring_bytes = ring_bytes;
		r->snaplen = p->snaplen && p->snaplen < RFS_MSG_MAX_LIMIT ?
				     p->snaplen :
				     RFS_MSG_MAX_LIMIT;
		if (r->snaplen < RFS_HDR_SIZE)
			r->snaplen = RFS_HDR_SIZE;
		/* a record must fit a ring whole, with room to spare */
		if (r->snaplen > ring_bytes / 4)
			r->snaplen = ring_bytes / 4;
		r->slots_off = slots_off;
		r->rings_off = rings_off;
		r->ring_stride = stride;
	}
	if (++cap_gen_next == 0)
		cap_gen_next = 1;
	s->gen = cap_gen_next;
	atomic_store(&cap_cur, s);
	atomic_store(&rfs_cap_on, true);
	pthread_mutex_unlock(&cap_lock);
	*fd = mfd;
	rfs_info("capture: attached (snaplen %u, %u KiB per thread)",
		 s->r->snaplen, s->r->ring_bytes / 1024);
	return 0;
fail:
	pthread_mutex_unlock(&cap_lock);
	free(s);
	return rc;
}

void rfs_cap_detach(void)
{
	struct cap_sess *s;
	int spins = 0;

	pthread_mutex_lock(&cap_lock);
	s = atomic_load(&cap_cur);
	if (!s) {
		pthread_mutex_unlock(&cap_lock);
		return;
	}
	atomic_store(&rfs_cap_on, false);
	atomic_store(&cap_cur, NULL);
	/*
	 * A producer that loaded s before the store is still inside
	 * rfs_cap_frame: a copy of at most one frame.  Wait for it (bounded:
	 * past the bound, keep the mapping rather than pull it away).
	 */
	while (atomic_load(&cap_users) && ++spins < 1000000)
		sched_yield();
	if (atomic_load(&cap_users)) {
		rfs_warn("capture: detach: a thread still writes a frame; "
			 "leaving the region (%zu bytes) mapped",
			 s->size);
	} else {
		munmap(s->map, s->size);
		free(s);
	}
	pthread_mutex_unlock(&cap_lock);
	rfs_info("capture: detached");
}

bool rfs_cap_attached(void)
{
	return atomic_load(&cap_cur) != NULL;
}

/* ---- reader ---------------------------------------------------------- */

int rfs_cap_reader_open(struct rfs_cap_reader *rd, int fd)
{
	struct rfs_cap_region r;
	struct stat st;
	uint64_t need;

	memset(rd, 0, sizeof(*rd));
	if (fstat(fd, &st))
		return -errno;
	if ((size_t)st.st_size < sizeof(r) ||
	    pread(fd, &r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EPROTO;
	if (r.magic != RFS_CAP_MAGIC || r.version != RFS_CAP_VERSION ||
	    !r.nslots || r.nslots > 65536 || !r.nrings || r.nrings > 4096 ||
	    r.ring_bytes < 4096 || (r.ring_bytes & (r.ring_bytes - 1)) ||
	    r.slots_off != sizeof(r) ||
	    r.rings_off != r.slots_off + (uint64_t)r.nslots *
						 sizeof(struct rfs_cap_slot) ||
	    r.ring_stride != sizeof(struct rfs_cap_ring) + r.ring_bytes)
		return -EPROTO;
	need = r.rings_off + (uint64_t)r.nrings * r.ring_stride;
	if (need > (uint64_t)st.st_size)
		return -EPROTO;
	rd->map = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (rd->map == MAP_FAILED) {
		rd->map = NULL;
		return -errno;
	}
	rd->size = need;
	rd->r = (struct rfs_cap_region *)(void *)rd->map;
	return 0;
}

void rfs_cap_reader_close(struct rfs_cap_reader *rd)
{
	if (rd->map)
		munmap(rd->map, rd->size);
	memset(rd, 0, sizeof(*rd));
}

struct rfs_cap_slot *rfs_cap_reader_slot(struct rfs_cap_reader *rd, uint32_t i)
{
	if (i >= rd->r->nslots)
		return NULL;
	return (struct rfs_cap_slot *)(void *)(rd->map + rd->r->slots_off) + i;
}

struct rfs_cap_ring *rfs_cap_reader_ring(struct rfs_cap_reader *rd, uint32_t i)
{
	return (struct rfs_cap_ring *)(void *)(rd->map + rd->r->rings_off +
					       i * rd->r->ring_stride);
}

const struct rfs_cap_rec *rfs_cap_reader_peek(struct rfs_cap_reader *rd,
					      uint32_t i, uint64_t *pos,
					      const uint8_t **data, bool *bad)
{
	struct rfs_cap_ring *ring = rfs_cap_reader_ring(rd, i);
	uint32_t rb = rd->r->ring_bytes;
	uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
	const struct rfs_cap_rec *rec;

	*bad = false;
	for (;;) {
		uint64_t off = *pos & (rb - 1);

		if (*pos >= head)
			return NULL;
		if (head - *pos > rb || head - *pos < 8)
			goto damaged;
		rec = (const struct rfs_cap_rec *)(const void *)(ring_data(
									 ring) +
								 off);
		if (rec->conn == RFS_CAP_PAD) {
			if (rec->size != rb - off)
				goto damaged;
			*pos += rec->size;
			continue;
		}
		if (rec->size < sizeof(*rec) || rec->size > rb - off ||
		    rec->size % 8 || rec->size > head - *pos ||
		    rec->cap_len > rec->size - sizeof(*rec) ||
		    rec->cap_len > rec->orig_len)
			goto damaged;
		*data = (const uint8_t *)(rec + 1);
		*pos += rec->size;
		return rec;
	}
damaged:
	*bad = true;
	return NULL;
}

void rfs_cap_reader_consume(struct rfs_cap_reader *rd, uint32_t i, uint64_t pos)
{
	atomic_store_explicit(&rfs_cap_reader_ring(rd, i)->tail, pos,
			      memory_order_release);
}
