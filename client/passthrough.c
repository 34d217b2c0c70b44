// SPDX-License-Identifier: MIT
/*
 * passthrough: the kernel's FUSE passthrough for a same-host server.
 *
 * Over shm the server runs on this host and can hand us the file it
 * opened for an OPEN or CREATE (RFS_FEAT_PASSFD, RFS_WANT_FD: sent with
 * SCM_RIGHTS on the transport's Unix socket before the reply).  We
 * register it with the kernel (FUSE_DEV_IOC_BACKING_OPEN on /dev/fuse)
 * and answer the open with FOPEN_PASSTHROUGH and the backing id: the
 * kernel then reads, writes and maps that file itself, and no READ or
 * WRITE crosses either daemon.  Everything else (metadata, locks, fsync,
 * release) still goes to the server.
 *
 * What the kernel asks of us (Linux >= 6.9, fs/fuse/iomode.c):
 * - FUSE_PASSTHROUGH (flags2) and max_stack_depth in the INIT reply;
 *   libfuse 3.14 knows neither, so its reply is patched (rfs_pt_init).
 * - Registering a file needs CAP_SYS_ADMIN; without it passthrough is
 *   off (said once) and opens go through the daemons as before.
 * - One backing file per inode while any open of it uses passthrough
 *   (another id for the same inode fails the open), and an inode open
 *   in passthrough mode must not also be open in caching mode (nor the
 *   other way round): the table below keeps, per node, the backing id
 *   and the opens of each kind, and an open takes the kind the node's
 *   other opens have.
 * - The kernel re-opens the backing file's path with our credentials,
 *   so a file the server sends must prove the access the open asks for:
 *   a regular file, not O_PATH, opened by the server for at least that
 *   access (fcntl F_GETFL), and the same file (st_dev, st_ino) as the
 *   node's backing.  A server cannot make us open, as root, a file it
 *   could not open itself.
 * - libfuse 3.14's fuse_reply_open cannot say FOPEN_PASSTHROUGH or a
 *   backing id: the loop thread arms rfs_pt_reply before the reply, and
 *   the custom writev patches the fuse_open_out it sends (rfs_pt_patch).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fuse.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client_i.h"
#include "fuse_uring_kernel.h"
#include "log.h"
#include "passthrough.h"

#define PT_STACK_DEPTH 1 /* backing files on plain file systems only */

/* which open flags the kernel takes together with FOPEN_PASSTHROUGH */
#define PT_FOPEN_KEEP ((1u << 5) /* NOFLUSH */ | (1u << 6) /* PARALLEL_DW */)

enum {
	PT_OFF,
	PT_ON
};

static _Atomic int pt_state = PT_OFF;
static const char *_Atomic pt_why = "not negotiated";
static _Atomic uint64_t pt_active; /* nodes with a backing file now */

struct ptnode {
	uint64_t nodeid;
	unsigned npt, nplain; /* opens of each kind */
	int bid;	      /* backing id while npt > 0 */
	unsigned proven; /* RFS_PT_R | _W: what the server's files showed */
	dev_t dev;
	ino_t ino;
	struct ptnode *next;
};
#define PT_BUCKETS 1024u

static pthread_mutex_t pt_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ptnode *pt_tab[PT_BUCKETS];

static __thread int tl_reply_bid; /* > 0: patch the next open reply */

static bool cap_sys_admin(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) != 0)
		return false;
	return d[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32));
}

bool rfs_pt_init(uint32_t offered_flags2, struct fuse_init_out *out)
{
	const struct cl_opts *o = &rfs_cl->o;
	const struct rfs_xprt_desc *d = rfs_xprt_find(o->transport);
	uint32_t *depth = &out->unused[0]; /* 7.40: max_stack_depth */

	if (o->passthrough == CL_PT_OFF)
		pt_why = "off (-o passthrough=off)";
	else if (!d || !(d->flags & RFS_XPRT_F_PASSFD))
		pt_why = "off (the transport cannot pass files: shm only)";
	else if (o->writeback_cache)
		pt_why = "off (writeback_cache)";
	else if (!(offered_flags2 & RINGFS_FUSE_PASSTHROUGH_FLAGS2))
		pt_why = "off (the kernel does not offer it: Linux >= 6.9 "
			 "with CONFIG_FUSE_PASSTHROUGH)";
	else if (!cap_sys_admin())
		pt_why = "off (needs CAP_SYS_ADMIN)";
	else
		pt_why = NULL;
	if (pt_why) {
		rfs_dbg(RFS_SUB_CLIENT, "client: FUSE passthrough %s", pt_why);
		rfs_cl_status_update();
		return false;
	}
	out->flags |= FUSE_INIT_EXT;
	out->flags2 |= RINGFS_FUSE_PASSTHROUGH_FLAGS2;
	*depth = PT_STACK_DEPTH;
	pt_why = "on";
	atomic_store(&pt_state, PT_ON);
	rfs_cl_status_update();
	rfs_info("client: FUSE passthrough: reads and writes of regular files "
		 "go to the server's files directly");
	return true;
}

bool rfs_pt_want(void)
{
	return atomic_load_explicit(&pt_state, memory_order_relaxed) == PT_ON &&
	       rfs_cl->passfd;
}

const char *rfs_pt_status(void)
{
	return pt_why;
}

uint64_t rfs_pt_active(void)
{
	return atomic_load(&pt_active);
}

static struct ptnode **find(uint64_t nodeid)
{
	struct ptnode **pp = &pt_tab[(nodeid * 0x9e3779b97f4a7c15ull) >> 54];

	while (*pp && (*pp)->nodeid != nodeid)
		pp = &(*pp)->next;
	return pp;
}

static void drop_if_idle(struct ptnode **pp)
{
	struct ptnode *n = *pp;

	if (n->npt || n->nplain)
		return;
	*pp = n->next;
	free(n);
}

/*
 * The kernel does the file's I/O with the credentials of whoever
 * registered it: ours.  A write through it must still clear the
 * set-user-id bit when the writer is not privileged, as the server's
 * WRITE (run as the caller) would: register with CAP_FSETID out of this
 * thread's effective set, so the kernel never skips that for us (a write
 * by root through passthrough clears it too: stricter, never looser).
 * Files with the bits set go through the daemons (rfs_pt_open), which
 * keeps a privileged writer's semantics exact.
 */
static int ioctl_nofsetid(unsigned long req, void *arg)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2], low[2];
	int ret, err;

	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	memcpy(low, d, sizeof(low));
	low[CAP_FSETID / 32].effective &= ~(1u << (CAP_FSETID % 32));
	if (syscall(SYS_capset, &h, low) != 0)
		return -1;
	ret = ioctl(fuse_session_fd(rfs_cl->se), req, arg);
	err = errno;
	if (syscall(SYS_capset, &h, d) != 0)
		rfs_err_rl("client: FUSE passthrough: restoring this thread's "
			   "capabilities: %s",
			   strerror(errno));
	errno = err;
	return ret;
}

/* the first passthrough open of an idle node: register the file */
static int backing_open(struct ptnode *n, int fd, const struct stat *st,
			unsigned acc)
{
	struct ringfs_fuse_backing_map map = { .fd = fd };
	int bid = ioctl_nofsetid(RINGFS_FUSE_DEV_IOC_BACKING_OPEN, &map);

	if (bid <= 0) {
		int err = bid < 0 ? errno : EIO;

		if (err == EPERM || err == ENOTTY || err == EOPNOTSUPP) {
			rfs_warn("client: FUSE passthrough: registering a "
				 "file: %s; passthrough is off for this "
				 "mount, reads and writes go through the "
				 "daemons",
				 strerror(err));
			pt_why = "off (the kernel refused to register a file)";
			atomic_store(&pt_state, PT_OFF);
			rfs_cl_status_update();
		} else {
			rfs_dbg(RFS_SUB_CLIENT,
				"client: FUSE passthrough: node %llu: %s; "
				"opened through the daemons",
				(unsigned long long)n->nodeid, strerror(err));
		}
		return -err;
	}
	n->bid = bid;
	n->proven = acc;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	atomic_fetch_add(&pt_active, 1);
	return 0;
}

int rfs_pt_open(uint64_t nodeid, int fd, uint32_t flags, int *bid)
{
	unsigned acc = rfs_pt_access(flags);
	struct ptnode **pp, *n;
	struct stat st;
	bool good = false;
	int ret = RFS_PT_PLAIN;

	*bid = 0;
	if (fd >= 0) {
		int err = rfs_pt_check_fd(fd, flags, &st);

		good = !err;
		if (err)
			rfs_warn_rl("client: FUSE passthrough: node %llu: the "
				    "server's file does not fit the open (%s); "
				    "opened through the daemons",
				    (unsigned long long)nodeid, strerror(-err));
	}
	pthread_mutex_lock(&pt_mu);
	pp = find(nodeid);
	n = *pp;
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&pt_mu);
			if (fd >= 0)
				close(fd);
			return -ENOMEM;
		}
		n->nodeid = nodeid;
		*pp = n;
	}
	if (n->npt) {
		/* the node is in passthrough mode: this open must be too */
		if (good && (st.st_dev != n->dev || st.st_ino != n->ino)) {
			rfs_warn_rl("client: FUSE passthrough: node %llu: the "
				    "server sent another file than the one "
				    "open already: EIO",
				    (unsigned long long)nodeid);
			ret = -EIO;
		} else if (good || !(acc & ~n->proven)) {
			if (good)
				n->proven |= acc;
			n->npt++;
			*bid = n->bid;
			ret = RFS_PT_PASS;
		} else {
			rfs_warn_rl("client: FUSE passthrough: node %llu is "
				    "open through passthrough and the server "
				    "sent no file for an open with more "
				    "access: EIO",
				    (unsigned long long)nodeid);
			ret = -EIO;
		}
	} else if (good && !n->nplain && !(st.st_mode & (S_ISUID | S_ISGID)) &&
		   atomic_load(&pt_state) == PT_ON &&
		   !backing_open(n, fd, &st, acc)) {
		n->npt = 1;
		*bid = n->bid;
		ret = RFS_PT_PASS;
	} else {
		n->nplain++;
	}
	if (ret < 0)
		drop_if_idle(pp);
	pthread_mutex_unlock(&pt_mu);
	/* the kernel holds its own reference to a registered file */
	if (fd >= 0)
		close(fd);
	return ret;
}

void rfs_pt_close(uint64_t nodeid, int kind)
{
	struct ptnode **pp, *n;
	int bid = 0;

	if (kind != RFS_PT_PASS && kind != RFS_PT_PLAIN)
		return;
	pthread_mutex_lock(&pt_mu);
	pp = find(nodeid);
	n = *pp;
	if (!n) {
		pthread_mutex_unlock(&pt_mu);
		return;
	}
	if (kind == RFS_PT_PASS && n->npt && --n->npt == 0) {
		bid = n->bid;
		n->bid = 0;
		n->proven = 0;
	} else if (kind == RFS_PT_PLAIN && n->nplain) {
		n->nplain--;
	}
	drop_if_idle(pp);
	pthread_mutex_unlock(&pt_mu);
	if (bid > 0) {
		uint32_t id = (uint32_t)bid;

		/* the kernel dropped the file's last use with the release */
		if (ioctl(fuse_session_fd(rfs_cl->se),
			  RINGFS_FUSE_DEV_IOC_BACKING_CLOSE, &id) != 0)
			rfs_err_rl("client: FUSE passthrough: closing backing "
				   "id %d: %s",
				   bid, strerror(errno));
		atomic_fetch_sub(&pt_active, 1);
	}
}

void rfs_pt_reply(int bid)
{
	tl_reply_bid = bid;
}

void rfs_pt_patch(struct iovec *iov, int cnt)
{
	const struct fuse_out_header *oh;
	struct ringfs_fuse_open_out *o;
	int bid = tl_reply_bid;

	if (bid <= 0)
		return;
	tl_reply_bid = 0;
	oh = iov[0].iov_base;
	/* OPEN's reply is fuse_open_out, CREATE's fuse_entry_out + it */
	if (cnt != 2 || iov[0].iov_len < sizeof(*oh) || oh->error ||
	    (iov[1].iov_len != sizeof(*o) &&
	     iov[1].iov_len != sizeof(struct fuse_entry_out) + sizeof(*o)))
		return;
	o = (void *)((char *)iov[1].iov_base + iov[1].iov_len - sizeof(*o));
	o->open_flags = (o->open_flags & PT_FOPEN_KEEP) | FOPEN_PASSTHROUGH;
	o->backing_id = bid;
}
