// SPDX-License-Identifier: MIT
/*
 * The node table, shared by every connection thread: node id -> the
 * backend's node (vfs: an O_PATH fd) + its handle (vfs: the kernel's file
 * handle, gluster: the GFID).  One mutex (two cores here; shard it when it
 * shows in profiles), a chained hash and an LRU list.  The cache is
 * bounded: least recently used nodes nobody holds are closed and
 * forgotten; clients get them back with RESOLVE.
 *
 * The handle blob clients store (opaque to them):
 *   u16 export index, u16 handle_bytes, i32 handle_type,
 *   handle_bytes bytes of the backend's handle, u64 MAC
 * MAC = SipHash-2-4 under the MAC key over everything before it; the node
 * id is SipHash-2-4 under the id key over the same bytes.  Both keys come
 * from the server secret (<state-dir>/secret), so ids survive restarts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

#define HB_FIXED 8u
#define HB_MAC 8u

static struct {
	pthread_mutex_t mu;
	struct rfs_node **buckets;
	size_t nbuckets;
	unsigned long count, max;
	struct rfs_node lru; /* list head: lru.lru_next is the oldest */
	uint8_t k_id[16], k_mac[16];
} nt = { .mu = PTHREAD_MUTEX_INITIALIZER };

void rfs_fd_path(int fd, char out[32])
{
	snprintf(out, 32, "/proc/self/fd/%d", fd);
}

static int fill_random(void *p, size_t len)
{
	uint8_t *b = p;

	while (len) {
		ssize_t n = getrandom(b, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_secret(const char *dir, uint8_t sec[32])
{
	char path[1100];
	ssize_t n;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/secret", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, sec, 32);
		ret = n == 32 ? 0 : n < 0 ? -errno : -EINVAL;
		close(fd);
		if (ret)
			rfs_warn("server: read %s: %s", path,
				 ret == -EINVAL ? "short file" :
						  strerror(-ret));
		return ret;
	}
	if (errno != ENOENT) {
		ret = -errno;
		rfs_warn("server: open %s: %s", path, strerror(errno));
		return ret;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		rfs_warn("server: mkdir %s: %s", dir, strerror(errno));
		return ret;
	}
	ret = fill_random(sec, 32);
	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		ret = -errno;
		rfs_warn("server: create %s: %s", path, strerror(errno));
		return ret;
	}
	n = write(fd, sec, 32);
	ret = n == 32 ? 0 : n < 0 ? -errno : -EIO;
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (ret) {
		rfs_warn("server: write %s: %s", path, strerror(-ret));
		unlink(path);
	}
	return ret;
}

int rfs_nodes_init(const char *state_dir, unsigned long max_nodes)
{
	uint8_t sec[32];
	size_t nb = 1024;
	int ret;

	ret = read_secret(state_dir, sec);
	if (ret) {
		rfs_warn("server: state dir %s unusable; node ids and handles "
			 "will not survive a restart",
			 state_dir);
		ret = fill_random(sec, sizeof(sec));
		if (ret) {
			rfs_err("server: getrandom: %s", strerror(-ret));
			return ret;
		}
	}
	/* two keys from one secret: halves, each mixed with a label */
	for (int i = 0; i < 16; i++) {
		nt.k_id[i] = sec[i] ^ 0x49;
		nt.k_mac[i] = sec[16 + i] ^ 0x4d;
	}
	memset(sec, 0, sizeof(sec));

	while (nb < max_nodes && nb < (1u << 20))
		nb <<= 1;
	nt.buckets = calloc(nb, sizeof(*nt.buckets));
	if (!nt.buckets)
		return -ENOMEM;
	nt.nbuckets = nb;
	nt.max = max_nodes;
	nt.count = 0;
	nt.lru.lru_next = nt.lru.lru_prev = &nt.lru;
	return 0;
}

static void lru_unlink(struct rfs_node *n)
{
	n->lru_prev->lru_next = n->lru_next;
	n->lru_next->lru_prev = n->lru_prev;
}

static void lru_add_tail(struct rfs_node *n)
{
	n->lru_prev = nt.lru.lru_prev;
	n->lru_next = &nt.lru;
	nt.lru.lru_prev->lru_next = n;
	nt.lru.lru_prev = n;
}

/* the backend closes what the node holds */
static void node_free(struct rfs_node *n)
{
	rfs_cfg.exports[n->exp].be->node_close(n);
	free(n);
}

static struct rfs_node **bucket(uint64_t id)
{
	return &nt.buckets[(id ^ (id >> 29)) & (nt.nbuckets - 1)];
}

static struct rfs_node *find_locked(uint64_t id)
{
	for (struct rfs_node *n = *bucket(id); n; n = n->hnext)
		if (n->id == id)
			return n;
	return NULL;
}

static void remove_locked(struct rfs_node *n)
{
	struct rfs_node **pp = bucket(n->id);

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	lru_unlink(n);
	nt.count--;
	node_free(n);
}

static void evict_locked(void)
{
	struct rfs_node *n = nt.lru.lru_next, *next;
	unsigned skipped = 0;

	while (nt.count > nt.max && n != &nt.lru && skipped < 256) {
		next = n->lru_next;
		if (n->refcnt == 0)
			remove_locked(n);
		else
			skipped++;
		n = next;
	}
}

void rfs_nodes_fini(void)
{
	pthread_mutex_lock(&nt.mu);
	while (nt.lru.lru_next && nt.lru.lru_next != &nt.lru)
		remove_locked(nt.lru.lru_next);
	free(nt.buckets);
	nt.buckets = NULL;
	pthread_mutex_unlock(&nt.mu);
}

struct rfs_node *rfs_node_get(uint64_t id)
{
	struct rfs_node *n;

	pthread_mutex_lock(&nt.mu);
	n = find_locked(id);
	if (n) {
		n->refcnt++;
		lru_unlink(n);
		lru_add_tail(n);
	}
	pthread_mutex_unlock(&nt.mu);
	return n;
}

bool rfs_node_known(uint64_t id)
{
	bool known;

	pthread_mutex_lock(&nt.mu);
	known = find_locked(id) != NULL;
	pthread_mutex_unlock(&nt.mu);
	return known;
}

void rfs_node_ref(struct rfs_node *n)
{
	pthread_mutex_lock(&nt.mu);
	n->refcnt++;
	pthread_mutex_unlock(&nt.mu);
}

void rfs_node_put(struct rfs_node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&nt.mu);
	n->refcnt--;
	if (n->refcnt == 0 && nt.count > nt.max)
		evict_locked();
	pthread_mutex_unlock(&nt.mu);
}

void rfs_node_forget(uint64_t id)
{
	struct rfs_node *n;

	/*
	 * The client dropped its last reference: close the node now unless
	 * an operation holds it.  Keeping the O_PATH fd would pin the inode
	 * (an unlinked file's space is not freed while we hold it) and an
	 * fd; another client that still uses the id re-binds it with
	 * RESOLVE, like after any eviction.
	 */
	pthread_mutex_lock(&nt.mu);
	n = find_locked(id);
	if (n && n->refcnt == 0)
		remove_locked(n);
	pthread_mutex_unlock(&nt.mu);
}

uint64_t rfs_nodes_count(void)
{
	uint64_t c;

	pthread_mutex_lock(&nt.mu);
	c = nt.count;
	pthread_mutex_unlock(&nt.mu);
	return c;
}

/* blob[0..8+hbytes) filled; compute id and append the MAC. */
static uint64_t seal_blob(uint8_t *blob, uint32_t hbytes, uint16_t *len)
{
	uint32_t body = HB_FIXED + hbytes;
	uint64_t id, mac;

	id = rfs_siphash24(nt.k_id, blob, body);
	if (id < 2)
		id += 2;
	mac = rfs_siphash24(nt.k_mac, blob, body);
	memcpy(blob + body, &mac, HB_MAC);
	*len = (uint16_t)(body + HB_MAC);
	return id;
}

static void blob_header(uint8_t *blob, unsigned exp, uint32_t hbytes,
			int32_t htype)
{
	uint16_t e16 = (uint16_t)exp, h16 = (uint16_t)hbytes;

	memcpy(blob, &e16, 2);
	memcpy(blob + 2, &h16, 2);
	memcpy(blob + 4, &htype, 4);
}

/* insert a fully built node, or return the existing one (n freed) */
static struct rfs_node *insert(struct rfs_node *n)
{
	struct rfs_node *old;

	pthread_mutex_lock(&nt.mu);
	old = find_locked(n->id);
	if (old) {
		old->refcnt++;
		lru_unlink(old);
		lru_add_tail(old);
		pthread_mutex_unlock(&nt.mu);
		node_free(n);
		return old;
	}
	n->refcnt = 1;
	n->hnext = *bucket(n->id);
	*bucket(n->id) = n;
	lru_add_tail(n);
	nt.count++;
	evict_locked();
	pthread_mutex_unlock(&nt.mu);
	return n;
}

int rfs_node_make(struct rfs_export *e, int32_t htype, const void *h,
		  uint32_t hlen, int fd, void *obj, mode_t type,
		  struct rfs_node **out)
{
	struct rfs_node *n = calloc(1, sizeof(*n));

	if (!n || hlen > RFS_HANDLE_MAX - HB_FIXED - HB_MAC) {
		struct rfs_node tmp = { .fd = fd, .obj = obj, .exp = e->idx };

		e->be->node_close(&tmp);
		free(n);
		return n ? -EOVERFLOW : -ENOMEM;
	}
	memcpy(n->handle + HB_FIXED, h, hlen);
	blob_header(n->handle, e->idx, hlen, htype);
	n->id = seal_blob(n->handle, hlen, &n->hlen);
	n->fd = fd;
	n->obj = obj;
	n->exp = e->idx;
	n->type = type & S_IFMT;
	*out = insert(n);
	return 0;
}

int rfs_node_id_of(const struct rfs_export *e, int32_t htype, const void *h,
		   uint32_t hlen, uint64_t *id)
{
	uint8_t blob[RFS_HANDLE_MAX];
	uint16_t blen;

	if (hlen > RFS_HANDLE_MAX - HB_FIXED - HB_MAC)
		return -EOVERFLOW;
	blob_header(blob, e->idx, hlen, htype);
	memcpy(blob + HB_FIXED, h, hlen);
	*id = seal_blob(blob, hlen, &blen);
	return 0;
}

int rfs_node_resolve(struct rfs_export *e, uint64_t id, const void *h,
		     uint32_t len, struct rfs_node **out)
{
	uint8_t blob[RFS_HANDLE_MAX];
	uint16_t e16, h16, blen;
	int32_t htype;
	uint64_t mac, want, calc;
	struct rfs_node *n;
	uint8_t diff = 0;
	int ret;

	if (len < HB_FIXED + HB_MAC || len > RFS_HANDLE_MAX)
		return -ESTALE;
	memcpy(blob, h, len);
	memcpy(&e16, blob, 2);
	memcpy(&h16, blob + 2, 2);
	memcpy(&htype, blob + 4, 4);
	if (h16 != len - HB_FIXED - HB_MAC || e16 != e->idx)
		return -ESTALE;
	memcpy(&want, blob + HB_FIXED + h16, 8);
	calc = seal_blob(blob, h16, &blen);
	memcpy(&mac, blob + HB_FIXED + h16, 8);
	/* constant time */
	for (int i = 0; i < 8; i++)
		diff |= (uint8_t)((want >> (8 * i)) ^ (mac >> (8 * i)));
	if (diff || calc != id)
		return -ESTALE;

	n = rfs_node_get(id);
	if (n) {
		*out = n;
		return 0;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->fd = -1;
	n->exp = e->idx;
	ret = e->be->open_handle(e, htype, blob + HB_FIXED, h16, n);
	if (ret) {
		free(n);
		return ret;
	}
	memcpy(n->handle, blob, blen);
	n->hlen = blen;
	n->id = id;
	*out = insert(n);
	rfs_dbg(RFS_SUB_SERVER,
		"server: resolve %016llx: re-bound from its "
		"handle",
		(unsigned long long)id);
	return 0;
}
