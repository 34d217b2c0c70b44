// SPDX-License-Identifier: MIT
/*
 * fhtab: the file handles the kernel holds are indexes into this table,
 * not the server's fh.  Each entry remembers how the file was opened
 * (node, flags, opener's credentials and groups) and the server fh behind
 * it.  After a server restart the session and its fhs are gone: the loop
 * that opens the new session re-opens every entry (rfs_fh_reopen_all)
 * and the kernel's fh stays the same.
 *
 * Lookups are on the I/O path of every loop, so they take no lock: the
 * table is a fixed array of chunk pointers, chunks are never freed before
 * exit, and the fields a lookup reads are atomics.  Changes take fh_mu.
 *
 * Kernel fh = generation << 32 | (index + 1): a stale fh (closed, slot
 * reused) never reaches another file's server fh.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "client_i.h"
#include "log.h"

#define CHUNK_BITS 10
#define CHUNK (1u << CHUNK_BITS)
#define NCHUNKS 1024u /* 1M open files */

struct fhent {
	_Atomic uint32_t gen; /* odd: live */
	_Atomic bool lost;    /* could not be re-opened after a restart */
	_Atomic uint64_t sfh;
	uint64_t nodeid;
	uint32_t flags;
	uint32_t uid, gid;
	uint32_t ngroups;
	uint32_t *groups; /* malloc'd, ngroups of them (under fh_mu) */
	bool dir;
	uint8_t pt; /* RFS_PT_*: what passthrough.c counted (under fh_mu) */
};

static pthread_mutex_t fh_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fhent *_Atomic chunks[NCHUNKS];
static uint32_t nslots;	   /* slots ever made (under fh_mu) */
static uint32_t *freelist; /* free indexes (under fh_mu) */
static uint32_t nfree, freecap;

static struct fhent *ent(uint32_t idx)
{
	struct fhent *c;

	if (idx >= NCHUNKS * CHUNK)
		return NULL;
	c = atomic_load_explicit(&chunks[idx >> CHUNK_BITS],
				 memory_order_acquire);
	return c ? &c[idx & (CHUNK - 1)] : NULL;
}

/* the live entry for a kernel fh, or NULL */
static struct fhent *lookup(uint64_t cfh)
{
	uint32_t idx = (uint32_t)cfh, gen = (uint32_t)(cfh >> 32);
	struct fhent *e;

	if (!idx)
		return NULL;
	e = ent(idx - 1);
	if (!e || atomic_load_explicit(&e->gen, memory_order_acquire) != gen)
		return NULL;
	return e;
}

int rfs_fh_new(uint64_t nodeid, uint32_t flags, bool dir,
	       const struct rfs_opener *who, uint64_t sfh, uint64_t *cfh)
{
	uint32_t *groups = NULL;
	struct fhent *e;
	uint32_t idx, gen;
	int ret = 0;

	if (who->ngroups) {
		groups = malloc(4 * (size_t)who->ngroups);
		if (!groups)
			return -ENOMEM;
		memcpy(groups, who->groups, 4 * (size_t)who->ngroups);
	}
	pthread_mutex_lock(&fh_mu);
	if (nfree) {
		idx = freelist[--nfree];
	} else {
		if (nslots == NCHUNKS * CHUNK) {
			ret = -EMFILE;
			goto out;
		}
		idx = nslots;
		if (!ent(idx)) {
			struct fhent *c = calloc(CHUNK, sizeof(*c));

			if (!c) {
				ret = -ENOMEM;
				goto out;
			}
			atomic_store_explicit(&chunks[idx >> CHUNK_BITS], c,
					      memory_order_release);
		}
		nslots++;
	}
	e = ent(idx);
	if (!e) {
		ret = -ENOMEM;
		goto out;
	}
	e->nodeid = nodeid;
	e->flags = flags;
	e->dir = dir;
	e->pt = RFS_PT_NONE;
	e->uid = who->uid;
	e->gid = who->gid;
	e->ngroups = who->ngroups;
	e->groups = groups;
	groups = NULL;
	atomic_store(&e->lost, false);
	atomic_store(&e->sfh, sfh);
	gen = atomic_load(&e->gen) + 1; /* even -> odd: live */
	atomic_store_explicit(&e->gen, gen, memory_order_release);
	*cfh = (uint64_t)gen << 32 | (idx + 1);
out:
	pthread_mutex_unlock(&fh_mu);
	free(groups);
	return ret;
}

void rfs_fh_set_pt(uint64_t cfh, int kind)
{
	struct fhent *e;

	pthread_mutex_lock(&fh_mu);
	e = lookup(cfh);
	if (e)
		e->pt = (uint8_t)kind;
	pthread_mutex_unlock(&fh_mu);
}

void rfs_fh_del(uint64_t cfh)
{
	struct fhent *e;
	uint32_t *nl;
	uint64_t pt_node = 0;
	int pt = RFS_PT_NONE;

	pthread_mutex_lock(&fh_mu);
	e = lookup(cfh);
	if (!e)
		goto out;
	pt = e->pt;
	pt_node = e->nodeid;
	e->pt = RFS_PT_NONE;
	atomic_store(&e->gen, atomic_load(&e->gen) + 1); /* even: free */
	free(e->groups);
	e->groups = NULL;
	e->ngroups = 0;
	if (nfree == freecap) {
		uint32_t n = freecap ? freecap * 2 : 256;

		nl = realloc(freelist, n * sizeof(*nl));
		if (!nl)
			goto out; /* the slot leaks; harmless */
		freelist = nl;
		freecap = n;
	}
	freelist[nfree++] = (uint32_t)cfh - 1;
out:
	pthread_mutex_unlock(&fh_mu);
	rfs_pt_close(pt_node, pt);
}

int rfs_fh_server(uint64_t cfh, uint64_t *sfh)
{
	struct fhent *e = lookup(cfh);

	if (!e)
		return -EBADF;
	if (atomic_load(&e->lost))
		return -EIO;
	*sfh = atomic_load(&e->sfh);
	return 0;
}

int rfs_fh_reopen_all(rfs_fh_reopen_fn fn, void *arg, unsigned *nok,
		      unsigned *nlost)
{
	*nok = 0;
	*nlost = 0;
	pthread_mutex_lock(&fh_mu);
	for (uint32_t i = 0; i < nslots; i++) {
		struct fhent *e = ent(i);
		uint64_t sfh;
		int ret;

		if (!e || !(atomic_load(&e->gen) & 1) || atomic_load(&e->lost))
			continue;
		const struct rfs_opener who = {
			.uid = e->uid,
			.gid = e->gid,
			.ngroups = e->ngroups,
			.groups = e->groups,
		};

		ret = fn(arg, e->nodeid, e->flags, e->dir, &who, &sfh);
		if (ret == -ENOTCONN) {
			pthread_mutex_unlock(&fh_mu);
			return ret;
		}
		if (ret < 0) {
			rfs_err("client: RE-OPEN of node %016llx after the "
				"server restarted failed: %s; I/O on that "
				"open file now fails with EIO",
				(unsigned long long)e->nodeid, strerror(-ret));
			atomic_store(&e->lost, true);
			(*nlost)++;
			continue;
		}
		atomic_store(&e->sfh, sfh);
		(*nok)++;
	}
	pthread_mutex_unlock(&fh_mu);
	return 0;
}
