// SPDX-License-Identifier: MIT
/*
 * shm_syscalls: the shm data path makes no syscalls under load.
 *
 * Two threads, one shm connection over a socketpair.  The client keeps
 * WINDOW requests in flight and the server echoes them; both spin in
 * rfs_xprt_arm (RINGFS_SHM_SPIN_US raised so a loaded 2-CPU machine does
 * not put them to sleep).  Each thread counts its own syscalls with
 * perf_event_open on the raw_syscalls:sys_enter tracepoint around NRT
 * round trips; each count must stay under 1% of NRT.
 *
 * Exit 0 on success, 1 on failure, 77 when shm is not built or
 * perf_event_open is not permitted (with the reason).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "spin.h"
#include "xprt.h"

#define NRT 10000
#define WARMUP 1000
#define WINDOW 16
#define PAYLOAD 256
#define DEADLINE_S 30

static uint64_t tp_id;
static atomic_int failed;
static atomic_bool client_done, measuring;
static long long deadline;
static uint64_t cnt[2]; /* syscalls: client, server */

#define FAIL(...)                                      \
	do {                                           \
		fprintf(stderr, "FAIL: " __VA_ARGS__); \
		fputc('\n', stderr);                   \
		atomic_store(&failed, 1);              \
	} while (0)

static int read_id(const char *dir, uint64_t *id)
{
	char path[256];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/events/raw_syscalls/sys_enter/id",
		 dir);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	rc = fscanf(f, "%llu", (unsigned long long *)id) == 1 ? 0 : -EINVAL;
	fclose(f);
	return rc;
}

/* tracefs where it is mounted, else on a private directory for a moment */
static int syscall_tp_id(uint64_t *id)
{
	char dir[] = "/tmp/shm_syscalls.XXXXXX";
	int rc;

	if (!read_id("/sys/kernel/tracing", id) ||
	    !read_id("/sys/kernel/debug/tracing", id))
		return 0;
	if (!mkdtemp(dir))
		return -errno;
	if (mount("tracefs", dir, "tracefs", 0, NULL)) {
		rc = -errno;
		rmdir(dir);
		return rc;
	}
	rc = read_id(dir, id);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return rc;
}

static int counter_open(void)
{
	struct perf_event_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = tp_id;
	a.disabled = 1;
	fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1,
			  PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

struct side {
	struct rfs_xprt *x;
	struct rfs_conn *c;
	int fd; /* socket end */
	bool server;
	int perf;
};

/* Next event; spins (arm) and, only if told to sleep, sleeps. */
static int next_ev(struct side *s, struct rfs_xev *e)
{
	for (;;) {
		struct pollfd p;
		int rc;

		if (rfs_now_ns() > deadline || atomic_load(&failed))
			return -ETIMEDOUT;
		rc = rfs_xprt_poll(s->x, e, 1);
		if (rc)
			return rc;
		if (s->server && atomic_load(&client_done))
			return 0;
		rc = rfs_xprt_arm(s->x);
		if (rc < 0)
			return rc;
		if (rc > 0)
			continue;
		p.fd = rfs_xprt_wait_fd(s->x);
		p.events = POLLIN;
		poll(&p, 1, 50);
	}
}

static int send_ping(struct side *s, uint64_t id)
{
	struct rfs_buf *b = rfs_xprt_buf_get(s->x, RFS_HDR_SIZE + PAYLOAD);
	struct rfs_mb mb;
	int len;

	if (!b)
		return -ENOMEM;
	rfs_mb_init(&mb, b->data, b->cap, RFS_OP_PING, id);
	rfs_mb_put(&mb, PAYLOAD);
	len = rfs_mb_finish(&mb, false);
	if (len < 0) {
		rfs_xprt_buf_put(s->x, b);
		return len;
	}
	b->len = (uint32_t)len;
	return rfs_xprt_send(s->c, b, 0);
}

static void *server_main(void *arg)
{
	struct side *s = arg;
	struct rfs_xev e;
	bool counting = false;
	int rc;

	while ((rc = next_ev(s, &e)) > 0) {
		struct rfs_buf *nb;
		struct rfs_mb mb;
		const struct rfs_hdr *h;
		int len;

		if (!counting && atomic_load(&measuring)) {
			counting = true;
			if (ioctl(s->perf, PERF_EVENT_IOC_ENABLE, 0)) {
				FAIL("server: enable counter: %s",
				     strerror(errno));
				break;
			}
		}

		if (e.type != RFS_XEV_RECV) {
			if (e.buf)
				rfs_xprt_buf_put(s->x, e.buf);
			continue;
		}
		h = e.buf->data;
		nb = rfs_xprt_buf_get(s->x, e.buf->len);
		if (!nb) {
			FAIL("server: buf_get");
			break;
		}
		rfs_mb_reply(&mb, nb->data, nb->cap, h, 0);
		rfs_mb_put_bytes(&mb,
				 (const uint8_t *)e.buf->data + RFS_HDR_SIZE,
				 h->len);
		len = rfs_mb_finish(&mb, false);
		rfs_xprt_buf_put(s->x, e.buf);
		if (len < 0) {
			FAIL("server: rfs_mb_finish: %s", strerror(-len));
			rfs_xprt_buf_put(s->x, nb);
			break;
		}
		nb->len = (uint32_t)len;
		rc = rfs_xprt_send(s->c, nb, 0);
		if (rc) {
			FAIL("server: send: %s", strerror(-rc));
			break;
		}
	}
	if (rc < 0)
		FAIL("server: %s", strerror(-rc));
	return NULL;
}

static void *client_main(void *arg)
{
	struct side *s = arg;
	uint64_t sent = 0, got = 0, want = NRT + WARMUP, v;
	struct rfs_xev e;
	int rc = 0;

	while (got < want) {
		while (sent < want && sent - got < WINDOW) {
			rc = send_ping(s, ++sent);
			if (rc) {
				FAIL("client: send: %s", strerror(-rc));
				goto out;
			}
		}
		rc = next_ev(s, &e);
		if (rc <= 0) {
			FAIL("client: no reply: %s", strerror(-rc));
			goto out;
		}
		if (e.type != RFS_XEV_RECV) {
			FAIL("client: event %d status %d", e.type, e.status);
			goto out;
		}
		if (((const struct rfs_hdr *)e.buf->data)->id != got + 1) {
			FAIL("client: reply out of order");
			rfs_xprt_buf_put(s->x, e.buf);
			goto out;
		}
		rfs_xprt_buf_put(s->x, e.buf);
		got++;
		if (got == WARMUP)
			atomic_store(&measuring, true);
		if (got == WARMUP && ioctl(s->perf, PERF_EVENT_IOC_ENABLE, 0)) {
			FAIL("client: enable counter: %s", strerror(errno));
			goto out;
		}
	}
	ioctl(s->perf, PERF_EVENT_IOC_DISABLE, 0);
	if (read(s->perf, &v, sizeof(v)) != sizeof(v))
		FAIL("client: read counter: %s", strerror(errno));
	else
		cnt[0] = v;
out:
	atomic_store(&client_done, true);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct side *s = arg;
	int rc = rfs_xprt_accept(s->x, s->fd, &s->c);

	if (rc)
		FAIL("server accept: %s", strerror(-rc));
	return NULL;
}

/* The server loop, counting its own syscalls from after the warm-up. */
static void *server_thread(void *arg)
{
	struct side *s = arg;
	uint64_t v;

	s->perf = counter_open();
	if (s->perf < 0) {
		FAIL("server: perf_event_open: %s", strerror(-s->perf));
		return NULL;
	}
	server_main(s);
	ioctl(s->perf, PERF_EVENT_IOC_DISABLE, 0);
	if (read(s->perf, &v, sizeof(v)) != sizeof(v))
		FAIL("server: read counter: %s", strerror(errno));
	else
		cnt[1] = v;
	close(s->perf);
	return NULL;
}

int main(void)
{
	struct side cli = { .fd = -1 }, srv = { .fd = -1, .server = true };
	struct rfs_xprt_params prm;
	struct rfs_xprt_stats cs, ss;
	pthread_t st, ct;
	int sv[2], rc, ret = 1;
	rfs_log_init("shm_syscalls");
	if (!rfs_xprt_is_built("shm")) {
		printf("SKIP: shm not built (built: %s)\n", rfs_xprt_built());
		return 77;
	}
	rc = syscall_tp_id(&tp_id);
	if (rc) {
		printf("SKIP: no raw_syscalls:sys_enter tracepoint id: %s\n",
		       strerror(-rc));
		return 77;
	}
	cli.perf = counter_open();
	if (cli.perf < 0) {
		printf("SKIP: perf_event_open not permitted: %s\n",
		       strerror(-cli.perf));
		return 77;
	}
	/*
	 * A loaded 2-CPU box (CI runs other suites beside us): spin long
	 * enough that a side only sleeps when its peer got no CPU for a
	 * whole second, so the count measures the data path, not the
	 * scheduler.
	 */
	setenv("RINGFS_SHM_SPIN_US", "1000000", 1);
	deadline = rfs_now_ns() + DEADLINE_S * 1000000000LL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("socketpair");
		return 1;
	}
	rfs_xprt_params_default(&prm);
	if (rfs_xprt_open("shm", &prm, &cli.x) ||
	    rfs_xprt_open("shm", &prm, &srv.x)) {
		fprintf(stderr, "open shm failed\n");
		return 1;
	}
	/*
	 * Setup is a handshake: the client's adopt waits for the server's
	 * answer, so the server accepts on a thread of its own.
	 */
	srv.fd = sv[1];
	rc = pthread_create(&st, NULL, accept_main, &srv);
	if (rc) {
		fprintf(stderr, "pthread_create: %s\n", strerror(rc));
		return 1;
	}
	rc = rfs_xprt_adopt(cli.x, sv[0], &cli.c);
	pthread_join(st, NULL);
	if (rc || !srv.c) {
		fprintf(stderr, "shm setup failed: %s\n", strerror(-rc));
		return 1;
	}
	rc = pthread_create(&st, NULL, server_thread, &srv);
	if (!rc)
		rc = pthread_create(&ct, NULL, client_main, &cli);
	if (rc) {
		fprintf(stderr, "pthread_create: %s\n", strerror(rc));
		return 1;
	}
	pthread_join(ct, NULL);
	pthread_join(st, NULL);
	rfs_xprt_get_stats(cli.x, &cs);
	rfs_xprt_get_stats(srv.x, &ss);
	if (!atomic_load(&failed)) {
		printf("%d round trips (window %d, %d-byte payload): "
		       "syscalls client %llu, server %llu "
		       "(transport's own count: client %llu, server %llu "
		       "over the whole run)\n",
		       NRT, WINDOW, PAYLOAD, (unsigned long long)cnt[0],
		       (unsigned long long)cnt[1],
		       (unsigned long long)cs.syscalls,
		       (unsigned long long)ss.syscalls);
		if (cnt[0] * 100 >= NRT || cnt[1] * 100 >= NRT)
			FAIL("more than 1%% of round trips made a syscall");
	}
	rfs_xprt_disconnect(cli.c);
	rfs_xprt_close(cli.x);
	rfs_xprt_close(srv.x);
	close(cli.perf);
	ret = atomic_load(&failed) ? 1 : 0;
	printf("shm_syscalls: %s\n", ret ? "FAILED" : "ok");
	return ret;
}
