// SPDX-License-Identifier: MIT
/*
 * obs: the counters region (obs.h): creating it, handing out slots,
 * retiring them, mapping it from ringfsctl.  The formatters are
 * obs_fmt.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "obs.h"
#include "xprt.h"

struct rfs_obs {
	struct rfs_obs_hdr *h;
	size_t len;
	char path[4096]; /* "" : private memory */
	pthread_mutex_t mu;
	bool warned; /* every slot taken, said once */
};

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_text(char *d, size_t n, const char *s)
{
	size_t l = strlen(s);

	if (l >= n)
		l = n - 1;
	/* readers may see a torn string; never one without its NUL */
	memset(d + l, 0, n - l);
	memcpy(d, s, l);
}

const char *rfs_run_dir(char *buf, size_t len)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, len, "/run/ringfs");
	else if (rt && *rt == '/')
		n = snprintf(buf, len, "%s/ringfs", rt);
	else
		return NULL;
	return n > 0 && (size_t)n < len ? buf : NULL;
}

int rfs_obs_open(const char *path, uint32_t side, unsigned nslots,
		 const char *what, const char *ctl, struct rfs_obs **out)
{
	struct rfs_obs *o = calloc(1, sizeof(*o));
	void *m = MAP_FAILED;
	int fd = -1;

	if (!o)
		return -ENOMEM;
	if (nslots == 0)
		nslots = 1;
	pthread_mutex_init(&o->mu, NULL);
	o->len = sizeof(struct rfs_obs_hdr) +
		 (size_t)nslots * sizeof(struct rfs_obs_slot);
	if (path && strlen(path) < sizeof(o->path)) {
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			rfs_warn("counters file %s: %s; ringfsctl will ask "
				 "the control socket instead",
				 path, strerror(errno));
		else if (fchmod(fd, 0644) < 0 ||
			 ftruncate(fd, (off_t)o->len) < 0) {
			rfs_warn("counters file %s: sizing it: %s", path,
				 strerror(errno));
			close(fd);
			unlink(path);
			fd = -1;
		}
	}
	if (fd >= 0) {
		m = mmap(NULL, o->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 0);
		if (m == MAP_FAILED) {
			rfs_warn("counters file %s: mmap: %s", path,
				 strerror(errno));
			unlink(path);
		} else {
			snprintf(o->path, sizeof(o->path), "%s", path);
		}
		close(fd);
	}
	if (m == MAP_FAILED)
		m = mmap(NULL, o->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		free(o);
		return -ENOMEM;
	}
	o->h = m;
	o->h->version = RFS_OBS_VERSION;
	o->h->side = side;
	o->h->nslots = nslots;
	o->h->slot_size = sizeof(struct rfs_obs_slot);
	o->h->pid = (int32_t)getpid();
	o->h->start_ms = real_ms();
	set_text(o->h->what, sizeof(o->h->what), what ? what : "");
	set_text(o->h->ctl, sizeof(o->h->ctl), ctl ? ctl : "");
	/* last: a reader checks the magic first */
	__atomic_store_n(&o->h->magic, RFS_OBS_MAGIC, __ATOMIC_RELEASE);
	*out = o;
	return 0;
}

void rfs_obs_close(struct rfs_obs *o)
{
	if (!o)
		return;
	if (o->path[0])
		unlink(o->path);
	munmap(o->h, o->len);
	pthread_mutex_destroy(&o->mu);
	free(o);
}

const char *rfs_obs_path(const struct rfs_obs *o)
{
	return o && o->path[0] ? o->path : NULL;
}

const struct rfs_obs_hdr *rfs_obs_hdr(const struct rfs_obs *o)
{
	return o->h;
}

void rfs_obs_set_ctl(struct rfs_obs *o, const char *ctl)
{
	set_text(o->h->ctl, sizeof(o->h->ctl), ctl ? ctl : "");
}

struct rfs_obs_slot *rfs_obs_slot_get(struct rfs_obs *o, const char *transport)
{
	struct rfs_obs_slot *s = NULL, *all;

	if (!o)
		return NULL;
	all = rfs_obs_slots(o->h);
	pthread_mutex_lock(&o->mu);
	for (uint32_t i = 0; i < o->h->nslots && !s; i++)
		if (__atomic_load_n(&all[i].state, __ATOMIC_RELAXED) ==
		    RFS_OBS_FREE)
			s = &all[i];
	if (!s) {
		/* more connections than slots: this one is counted nowhere */
		if (!o->warned)
			rfs_warn("counters: all %u connection slots taken: "
				 "new connections are not counted",
				 o->h->nslots);
		o->warned = true;
		pthread_mutex_unlock(&o->mu);
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->id = ++o->h->next_id;
	s->start_ms = real_ms();
	set_text(s->transport, sizeof(s->transport),
		 transport ? transport : "");
	__atomic_store_n(&s->state, RFS_OBS_SETUP, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&o->mu);
	return s;
}

void rfs_obs_slot_names(struct rfs_obs_slot *s, const char *transport,
			const char *peer, const char *local, const char *export,
			const char *ident)
{
	if (!s)
		return;
	if (transport)
		set_text(s->transport, sizeof(s->transport), transport);
	if (peer)
		set_text(s->peer, sizeof(s->peer), peer);
	if (local)
		set_text(s->local, sizeof(s->local), local);
	if (export)
		set_text(s->export, sizeof(s->export), export);
	if (ident)
		set_text(s->ident, sizeof(s->ident), ident);
}

void rfs_obs_slot_put(struct rfs_obs *o, struct rfs_obs_slot *s)
{
	struct rfs_obs_slot *r = NULL;

	if (!s || !o)
		return;
	pthread_mutex_lock(&o->mu);
	for (unsigned i = 0; i < RFS_OBS_NXPRT && !r; i++)
		if (!strcmp(o->h->retired[i].transport, s->transport))
			r = &o->h->retired[i];
	for (unsigned i = 0; i < RFS_OBS_NXPRT && !r; i++)
		if (!o->h->retired[i].transport[0]) {
			r = &o->h->retired[i];
			set_text(r->transport, sizeof(r->transport),
				 s->transport[0] ? s->transport : "?");
		}
	if (r) {
		for (unsigned i = 0; i < RFS_OBS_NCTR; i++)
			rfs_obs_add(r, (enum rfs_obs_ctr)i, s->c[i]);
		for (unsigned op = 0; op < RFS_OBS_NOPS; op++) {
			for (unsigned b = 0; b < RFS_OBS_NBUCKET; b++)
				__atomic_store_n(&r->h.b[op][b],
						 r->h.b[op][b] + s->h.b[op][b],
						 __ATOMIC_RELAXED);
			__atomic_store_n(&r->h.sum_ns[op],
					 r->h.sum_ns[op] + s->h.sum_ns[op],
					 __ATOMIC_RELAXED);
		}
	}
	/* the slot vanishes from conns at once: state first */
	__atomic_store_n(&s->state, RFS_OBS_FREE, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&o->mu);
}

void rfs_obs_rtt(struct rfs_obs_slot *s, uint64_t ns)
{
	uint64_t srtt, var, min;

	if (!s)
		return;
	srtt = s->g[RFS_OBS_G_srtt_ns];
	var = s->g[RFS_OBS_G_rttvar_ns];
	min = s->g[RFS_OBS_G_minrtt_ns];
	if (!srtt) {
		srtt = ns;
		var = ns / 2;
	} else {
		uint64_t d = srtt > ns ? srtt - ns : ns - srtt;

		var = var - var / 4 + d / 4;	 /* 3/4 var + 1/4 |d| */
		srtt = srtt - srtt / 8 + ns / 8; /* 7/8 srtt + 1/8 ns */
	}
	rfs_obs_set(s, RFS_OBS_G_srtt_ns, srtt);
	rfs_obs_set(s, RFS_OBS_G_rttvar_ns, var);
	if (!min || ns < min)
		rfs_obs_set(s, RFS_OBS_G_minrtt_ns, ns);
}

void rfs_obs_xprt(struct rfs_obs_slot *s, const struct rfs_obs_xbase *base,
		  const struct rfs_xprt_stats *xs)
{
	static const struct rfs_obs_xbase zero;

	if (!s)
		return;
	if (!base)
		base = &zero;
	__atomic_store_n(&s->c[RFS_OBS_frames_in],
			 base->frames_in + xs->frames_in, __ATOMIC_RELAXED);
	__atomic_store_n(&s->c[RFS_OBS_frames_out],
			 base->frames_out + xs->frames_out, __ATOMIC_RELAXED);
	__atomic_store_n(&s->c[RFS_OBS_bytes_in], base->bytes_in + xs->bytes_in,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&s->c[RFS_OBS_bytes_out],
			 base->bytes_out + xs->bytes_out, __ATOMIC_RELAXED);
	__atomic_store_n(&s->c[RFS_OBS_syscalls], base->syscalls + xs->syscalls,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&s->c[RFS_OBS_copied_bytes],
			 base->copied_bytes + xs->copies_bytes,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&s->c[RFS_OBS_ring_full],
			 base->ring_full + xs->ring_full, __ATOMIC_RELAXED);
	__atomic_store_n(&s->c[RFS_OBS_zc_fallbacks],
			 base->zc_copied + xs->zc_copied, __ATOMIC_RELAXED);
	__atomic_store_n(&s->c[RFS_OBS_wc_errors],
			 base->wc_errors + xs->wc_errors, __ATOMIC_RELAXED);
	__atomic_store_n(&s->c[RFS_OBS_wc_flushed],
			 base->wc_flushed + xs->wc_flushed, __ATOMIC_RELAXED);
	rfs_obs_set(s, RFS_OBS_G_bufs_out, xs->bufs_out);
}

void rfs_obs_xprt_fold(struct rfs_obs_xbase *base,
		       const struct rfs_xprt_stats *xs)
{
	base->frames_in += xs->frames_in;
	base->frames_out += xs->frames_out;
	base->bytes_in += xs->bytes_in;
	base->bytes_out += xs->bytes_out;
	base->syscalls += xs->syscalls;
	base->copied_bytes += xs->copies_bytes;
	base->ring_full += xs->ring_full;
	base->zc_copied += xs->zc_copied;
	base->wc_errors += xs->wc_errors;
	base->wc_flushed += xs->wc_flushed;
}

/* ---- readers ------------------------------------------------------------ */

int rfs_obs_map(const char *path, const struct rfs_obs_hdr **out, size_t *len)
{
	const struct rfs_obs_hdr *h;
	struct stat st;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if ((size_t)st.st_size < sizeof(*h)) {
		close(fd);
		return -EPROTO;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	ret = m == MAP_FAILED ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	h = m;
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != RFS_OBS_MAGIC ||
	    h->version != RFS_OBS_VERSION ||
	    h->slot_size != sizeof(struct rfs_obs_slot) ||
	    sizeof(*h) + (size_t)h->nslots * sizeof(struct rfs_obs_slot) >
		    (size_t)st.st_size) {
		munmap(m, (size_t)st.st_size);
		return -EPROTO;
	}
	*out = h;
	*len = (size_t)st.st_size;
	return 0;
}

void rfs_obs_unmap(const struct rfs_obs_hdr *h, size_t len)
{
	if (h)
		munmap((void *)h, len);
}
