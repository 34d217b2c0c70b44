// SPDX-License-Identifier: MIT
/*
 * inode: node id -> {nlookup, server handle}.
 *
 * FUSE inode numbers are the server's node ids (FUSE_ROOT_ID maps to the
 * export root's id), so no pointer ever becomes an inode number.  The
 * table is touched on lookup-like replies and on forget, from every loop
 * thread: it is split in shards, each a chained hash table with its own
 * mutex, so two loops rarely contend.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "client_i.h"
#include "log.h"

#define NSHARDS 32u

struct node {
	struct node *next;
	uint64_t nodeid;
	uint64_t nlookup;
	bool pinned;
	uint16_t handle_len;
	uint8_t handle[RFS_HANDLE_MAX];
};

struct shard {
	pthread_mutex_t mu;
	struct node **b;
	size_t nb; /* power of two */
	size_t n;
};

static struct shard shards[NSHARDS];

static uint64_t mix(uint64_t x)
{
	/* splitmix64 finalizer: node ids are already hashes, but be safe */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static struct shard *shard_of(uint64_t nodeid, uint64_t *h)
{
	*h = mix(nodeid);
	return &shards[*h % NSHARDS];
}

int rfs_inode_init(void)
{
	for (unsigned i = 0; i < NSHARDS; i++) {
		struct shard *s = &shards[i];

		pthread_mutex_init(&s->mu, NULL);
		s->nb = 64;
		s->n = 0;
		s->b = calloc(s->nb, sizeof(*s->b));
		if (!s->b) {
			rfs_err("inode: table allocation failed");
			return -ENOMEM;
		}
	}
	return 0;
}

void rfs_inode_fini(void)
{
	for (unsigned i = 0; i < NSHARDS; i++) {
		struct shard *s = &shards[i];

		for (size_t j = 0; s->b && j < s->nb; j++) {
			struct node *n = s->b[j], *next;

			for (; n; n = next) {
				next = n->next;
				free(n);
			}
		}
		free(s->b);
		s->b = NULL;
		pthread_mutex_destroy(&s->mu);
	}
}

/* bucket index from the high bits (the low ones chose the shard) */
static size_t bucket(const struct shard *s, uint64_t h)
{
	return (size_t)(h >> 16) & (s->nb - 1);
}

static struct node **find(struct shard *s, uint64_t h, uint64_t nodeid)
{
	struct node **pp = &s->b[bucket(s, h)];

	while (*pp && (*pp)->nodeid != nodeid)
		pp = &(*pp)->next;
	return pp;
}

static void grow(struct shard *s)
{
	size_t nb = s->nb * 2;
	struct node **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* keep the longer chains; still correct */
	for (size_t i = 0; i < s->nb; i++) {
		struct node *n = s->b[i], *next;

		for (; n; n = next) {
			size_t k = (size_t)(mix(n->nodeid) >> 16) & (nb - 1);

			next = n->next;
			n->next = b[k];
			b[k] = n;
		}
	}
	free(s->b);
	s->b = b;
	s->nb = nb;
}

static int ref(uint64_t nodeid, const void *handle, uint32_t handle_len,
	       bool pin)
{
	uint64_t h;
	struct shard *s = shard_of(nodeid, &h);
	struct node **pp, *n;
	int ret = 0;

	if (handle_len > RFS_HANDLE_MAX)
		return -EINVAL;
	pthread_mutex_lock(&s->mu);
	pp = find(s, h, nodeid);
	n = *pp;
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		n->nodeid = nodeid;
		*pp = n;
		if (++s->n > s->nb)
			grow(s);
	}
	if (handle_len) {
		memcpy(n->handle, handle, handle_len);
		n->handle_len = (uint16_t)handle_len;
	}
	if (pin)
		n->pinned = true;
	else
		n->nlookup++;
out_unlock:
	pthread_mutex_unlock(&s->mu);
	return ret;
}

int rfs_inode_ref(uint64_t nodeid, const void *handle, uint32_t handle_len)
{
	return ref(nodeid, handle, handle_len, false);
}

int rfs_inode_pin(uint64_t nodeid, const void *handle, uint32_t handle_len)
{
	return ref(nodeid, handle, handle_len, true);
}

bool rfs_inode_unref(uint64_t nodeid, uint64_t cnt)
{
	uint64_t h;
	struct shard *s = shard_of(nodeid, &h);
	struct node **pp, *n;
	bool gone = false;

	pthread_mutex_lock(&s->mu);
	pp = find(s, h, nodeid);
	n = *pp;
	if (!n)
		goto out_unlock;
	n->nlookup = cnt >= n->nlookup ? 0 : n->nlookup - cnt;
	if (n->nlookup == 0 && !n->pinned) {
		*pp = n->next;
		s->n--;
		free(n);
		gone = true;
	}
out_unlock:
	pthread_mutex_unlock(&s->mu);
	return gone;
}

int rfs_inode_handle(uint64_t nodeid, void *buf)
{
	uint64_t h;
	struct shard *s = shard_of(nodeid, &h);
	struct node *n;
	int ret = -ENOENT;

	pthread_mutex_lock(&s->mu);
	n = *find(s, h, nodeid);
	if (n) {
		memcpy(buf, n->handle, n->handle_len);
		ret = n->handle_len;
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

size_t rfs_inode_count(void)
{
	size_t total = 0;

	for (unsigned i = 0; i < NSHARDS; i++) {
		pthread_mutex_lock(&shards[i].mu);
		total += shards[i].n;
		pthread_mutex_unlock(&shards[i].mu);
	}
	return total;
}
