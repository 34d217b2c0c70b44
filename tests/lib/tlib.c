// SPDX-License-Identifier: MIT
/* The C test library (see tlib.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "tlib.h"

#define T_MAX_SRV 8

_Alignas(8) uint8_t t_rbuf[RFS_MSG_MAX_DEFAULT];
static _Alignas(8) uint8_t sbuf[RFS_MSG_MAX_DEFAULT];
static struct rfs_mb mb;
static uint32_t sent_len;
static uint64_t next_id = 100;
static pid_t live[T_MAX_SRV];

void t_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	for (unsigned i = 0; i < T_MAX_SRV; i++)
		if (live[i] > 0)
			kill(live[i], SIGKILL);
	exit(T_EXIT_FAIL);
}

/* ---- the ready line ---------------------------------------------------- */

int t_ready_parse(const char *line, char *host, size_t hostlen, unsigned *port)
{
	static const char on[] = "ringfsd: listening on ";
	const char *at = strstr(line, on), *end, *colon, *h;
	char *stop;
	size_t hl;
	unsigned long p;

	if (!at)
		return 0;
	at += strlen(on);
	end = strstr(at, " (transport ");
	if (!end)
		return 0; /* an error message naming the address */
	end = memchr(at, ' ', (size_t)(end - at + 1));
	/* the first listener: HOST:PORT or [HOST]:PORT */
	h = at;
	if (*at == '[') {
		h = at + 1;
		colon = memchr(h, ']', (size_t)(end - h));
		if (!colon || colon[1] != ':')
			return -1;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		colon = memchr(at, ':', (size_t)(end - at));
		if (!colon)
			return -1;
		hl = (size_t)(colon - at);
	}
	if (!hl || hl >= hostlen)
		return -1;
	errno = 0;
	p = strtoul(colon + 1, &stop, 10);
	if (errno || stop != end || stop == colon + 1 || !p || p > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)p;
	return 1;
}

/* ---- the server -------------------------------------------------------- */

/*
 * What a server printed, kept for t_srv_log_wait: the drain thread
 * appends, waiters sleep on cv.  Shared by the two, freed by the last.
 */
#define T_LOG_MAX (4u << 20)
struct t_srv_log {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf;
	size_t len, cap;
	bool eof;
	unsigned refs;
	FILE *f; /* the drain thread's */
};

static void log_put(struct t_srv_log *l)
{
	bool last;

	pthread_mutex_lock(&l->mu);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->mu);
	if (!last)
		return;
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l->buf);
	free(l);
}

static void log_line(struct t_srv_log *l, const char *line)
{
	size_t n = strlen(line);

	fprintf(stderr, "  [ringfsd] %s", line);
	pthread_mutex_lock(&l->mu);
	if (l->len + n + 1 > l->cap && l->len + n + 1 <= T_LOG_MAX) {
		size_t cap = l->cap ? l->cap : 4096;
		char *nb;

		while (cap < l->len + n + 1)
			cap *= 2;
		nb = realloc(l->buf, cap);
		if (nb) {
			l->buf = nb;
			l->cap = cap;
		}
	}
	if (l->len + n + 1 <= l->cap) {
		memcpy(l->buf + l->len, line, n + 1);
		l->len += n;
	}
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void *drain(void *arg)
{
	struct t_srv_log *l = arg;
	char line[2048];

	while (fgets(line, sizeof(line), l->f))
		log_line(l, line);
	fclose(l->f);
	pthread_mutex_lock(&l->mu);
	l->eof = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	log_put(l);
	return NULL;
}

bool t_srv_log_wait(struct t_srv *s, const char *needle, int timeout_ms)
{
	return t_srv_log_line(s, needle, timeout_ms, NULL, 0);
}

bool t_srv_log_line(struct t_srv *s, const char *needle, int timeout_ms,
		    char *line, size_t len)
{
	struct t_srv_log *l = s->log;
	const char *found = NULL;
	struct timespec dl;
	int ret = 0;

	if (!l)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&l->mu);
	for (;;) {
		found = l->buf ? strstr(l->buf, needle) : NULL;
		if (found || l->eof || ret == ETIMEDOUT)
			break;
		ret = pthread_cond_timedwait(&l->cv, &l->mu, &dl);
	}
	if (found && line && len) {
		const char *b = found, *e = strchr(found, '\n');
		size_t n;

		while (b > l->buf && b[-1] != '\n')
			b--;
		n = e ? (size_t)(e - b) : strlen(b);
		if (n >= len)
			n = len - 1;
		memcpy(line, b, n);
		line[n] = 0;
	}
	pthread_mutex_unlock(&l->mu);
	return found != NULL;
}

static void forget(pid_t pid)
{
	for (unsigned i = 0; i < T_MAX_SRV; i++)
		if (live[i] == pid)
			live[i] = 0;
}

void t_srv_start(struct t_srv *s, const char *bin, const char *const *args)
{
	const char *argv[64];
	char line[2048];
	unsigned n = 0;
	pthread_condattr_t ca;
	struct t_srv_log *l;
	pthread_t thr;
	int pfd[2];
	FILE *f;

	memset(s, 0, sizeof(*s));
	l = calloc(1, sizeof(*l));
	if (!l)
		t_die("calloc: %s", strerror(errno));
	pthread_mutex_init(&l->mu, NULL);
	if (pthread_condattr_init(&ca) ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&l->cv, &ca))
		t_die("pthread_cond_init");
	pthread_condattr_destroy(&ca);
	l->refs = 2; /* s and the drain thread */
	s->log = l;
	argv[n++] = bin;
	for (; *args && n < 62; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		t_die("pipe: %s", strerror(errno));
	s->pid = fork();
	if (s->pid < 0)
		t_die("fork: %s", strerror(errno));
	if (s->pid == 0) {
		dup2(pfd[1], 2);
		execv(bin, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	for (unsigned i = 0; i < T_MAX_SRV; i++) {
		if (live[i] <= 0) {
			live[i] = s->pid;
			break;
		}
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (!f)
		t_die("fdopen: %s", strerror(errno));
	/*
	 * Unbuffered: we poll the fd between lines, and a stdio buffer
	 * would hide a ready line that arrived together with an earlier
	 * warning.
	 */
	setvbuf(f, NULL, _IONBF, 0);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int ret;

		if (poll(&p, 1, T_TIMEOUT_MS) <= 0)
			t_die("ringfsd did not print its ready line");
		if (!fgets(line, sizeof(line), f))
			t_die("ringfsd exited before it was ready");
		log_line(l, line);
		ret = t_ready_parse(line, s->host, sizeof(s->host), &s->port);
		if (ret < 0)
			t_die("bad ready line");
		if (ret)
			break;
	}
	l->f = f;
	if (pthread_create(&thr, NULL, drain, l))
		t_die("pthread_create");
	pthread_detach(thr);
}

static void srv_forget_log(struct t_srv *s)
{
	if (s->log)
		log_put(s->log);
	s->log = NULL;
}

static int status_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int t_srv_stop(struct t_srv *s)
{
	int st;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	if (waitpid(s->pid, &st, 0) < 0)
		return -1;
	forget(s->pid);
	s->pid = 0;
	srv_forget_log(s);
	return status_of(st);
}

int t_srv_wait(struct t_srv *s, int timeout_ms)
{
	int pfd, st = 0, ret;
	struct pollfd p;

	if (s->pid <= 0)
		return -1;
	pfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (pfd < 0)
		t_die("pidfd_open: %s", strerror(errno));
	p = (struct pollfd){ .fd = pfd, .events = POLLIN };
	ret = poll(&p, 1, timeout_ms);
	close(pfd);
	if (ret != 1)
		kill(s->pid, SIGKILL);
	if (waitpid(s->pid, &st, 0) != s->pid)
		t_die("waitpid %d: %s", (int)s->pid, strerror(errno));
	forget(s->pid);
	s->pid = 0;
	srv_forget_log(s);
	return ret == 1 ? status_of(st) : -ETIMEDOUT;
}

/* ---- raw-frame connections --------------------------------------------- */

/*
 * resv: as root, from a privileged source port, as ringfs connects (the
 * server then lets the connection act as any user, root squashed); the
 * floods (t_try_connect_tcp) do not, or they would use up the range.
 */
static int connect_tcp(const char *host, unsigned port, bool may_fail,
		       bool resv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	static unsigned next;
	int fd, ret;

	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		t_die("bad host %s", host);
again:
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		t_die("socket: %s", strerror(errno));
	if (resv) {
		ret = rfs_addr_bind_resvport(fd, AF_INET, &next);
		if (ret < 0)
			t_die("bind a privileged source port: %s",
			      strerror(-ret));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (resv && errno == EADDRNOTAVAIL) {
			close(fd); /* that port's last connection lingers */
			goto again;
		}
		if (!may_fail)
			t_die("connect %s:%u: %s", host, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int t_connect_tcp(const char *host, unsigned port)
{
	return connect_tcp(host, port, false, geteuid() == 0);
}

int t_connect_tcp_unpriv(const char *host, unsigned port)
{
	return connect_tcp(host, port, false, false);
}

int t_try_connect_tcp(const char *host, unsigned port)
{
	return connect_tcp(host, port, true, false);
}

int t_connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		t_die("socket: %s", strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		t_die("connect %s: %s", path, strerror(errno));
	return fd;
}

void t_send(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) /* the server may have closed already */
			return;
		b += n;
		len -= (size_t)n;
	}
}

/* 1: got it, 0: EOF/reset, -1: timeout */
static int recv_n(int fd, void *p, size_t len)
{
	uint8_t *b = p;

	while (len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, T_TIMEOUT_MS) <= 0)
			return -1;
		n = recv(fd, b, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		b += n;
		len -= (size_t)n;
	}
	return 1;
}

int t_recv_reply(int fd)
{
	struct rfs_hdr *h = (struct rfs_hdr *)(void *)t_rbuf;
	int ret = recv_n(fd, t_rbuf, RFS_HDR_SIZE);

	if (ret != 1)
		return ret;
	if (h->magic != RFS_MAGIC || h->len > sizeof(t_rbuf) - RFS_HDR_SIZE)
		t_die("garbage reply");
	if (h->len && recv_n(fd, t_rbuf + RFS_HDR_SIZE, h->len) != 1)
		return 0;
	if ((h->flags & RFS_HF_CSUM) &&
	    rfs_proto_verify(h, t_rbuf + RFS_HDR_SIZE, false))
		t_die("reply with a bad checksum");
	return 1;
}

bool t_closed(int fd)
{
	for (;;) {
		int ret = t_recv_reply(fd);

		if (ret == 1)
			continue; /* an error reply may come first */
		return ret == 0;
	}
}

struct rfs_mb *t_req(struct t_conn *c, uint16_t op)
{
	rfs_mb_init(&mb, sbuf, sizeof(sbuf), op, next_id++);
	rfs_mb_hdr(&mb)->uid = c->uid;
	rfs_mb_hdr(&mb)->gid = c->gid;
	return &mb;
}

const void *t_sent(uint32_t *len)
{
	*len = sent_len;
	return sbuf;
}

void t_post(struct t_conn *c)
{
	int len;

	rfs_mb_put_groups(&mb, c->groups, c->ngroups);
	len = rfs_mb_finish(&mb, c->csum);

	if (len < 0)
		t_die("building a request: %d", len);
	sent_len = (uint32_t)len;
	t_send(c->fd, sbuf, (size_t)len);
}

int t_call(struct t_conn *c)
{
	uint64_t id = rfs_mb_hdr(&mb)->id;
	int ret;

	t_post(c);
	ret = t_recv_reply(c->fd);
	/* never a result: a check for "it failed" must not pass on a hang */
	if (ret == -1)
		t_die("no reply to request %llu (%s) in %d ms: the server "
		      "hangs in it or lost it",
		      (unsigned long long)id,
		      rfs_proto_op_name(rfs_mb_hdr(&mb)->opcode), T_TIMEOUT_MS);
	if (ret == 0)
		return -EPIPE;
	if (t_rh()->id != id)
		t_die("reply id %llu for request %llu",
		      (unsigned long long)t_rh()->id, (unsigned long long)id);
	return t_rh()->status;
}

/* ---- the handshake and a few operations -------------------------------- */

int t_auth(struct t_conn *c, const struct rfs_auth_key *key, const char *export,
	   uint8_t token[16])
{
	struct rfs_auth_transcript t = { 0 };
	struct rfs_auth_req *q;
	const struct rfs_auth_rep *p;
	uint8_t want[RFS_AUTH_MAC];
	struct rfs_mb *b;
	int ret;

	rfs_auth_random(t.cn, sizeof(t.cn));
	t.export_len = (uint16_t)strlen(export);
	memcpy(t.export, export, t.export_len);
	b = t_req(c, RFS_OP_AUTH);
	q = rfs_mb_put(b, sizeof(*q));
	q->step = RFS_AUTH_CHALLENGE;
	q->export_len = t.export_len;
	memcpy(q->nonce, t.cn, sizeof(q->nonce));
	rfs_mb_put_bytes(b, export, t.export_len);
	ret = t_call(c);
	if (ret)
		return ret;
	p = t_rp();
	memcpy(t.sn, p->nonce, sizeof(t.sn));
	b = t_req(c, RFS_OP_AUTH);
	q = rfs_mb_put(b, sizeof(*q));
	q->step = RFS_AUTH_PROVE;
	rfs_auth_mac(key, "client", &t, q->mac);
	ret = t_call(c);
	if (ret)
		return ret;
	p = t_rp();
	rfs_auth_mac(key, "server", &t, want);
	if (!rfs_auth_equal(want, p->mac, sizeof(want)))
		return -EBADE; /* the server did not prove itself */
	if (token)
		rfs_auth_token(key, &t, token);
	return 0;
}

int t_hello(struct t_conn *c, const char *export)
{
	const struct rfs_hello_rep *p;
	struct rfs_hello_req *q;
	struct rfs_mb *b = t_req(c, RFS_OP_HELLO);
	int ret;

	q = rfs_mb_put(b, sizeof(*q));
	q->features = (c->no_csum ? 0 : RFS_FEAT_CSUM) | RFS_FEAT_IDS |
		      RFS_FEAT_GROUPS | c->want;
	q->max_msg = RFS_MSG_MAX_DEFAULT;
	q->max_inflight = 16;
	q->export_len = (uint16_t)strlen(export);
	rfs_mb_put_bytes(b, export, q->export_len);
	ret = t_call(c);
	if (ret)
		return ret;
	p = t_rp();
	c->csum = p->features & RFS_FEAT_CSUM;
	c->features = p->features;
	c->export_flags = p->export_flags;
	c->session = p->session;
	c->root = p->root.nodeid;
	c->hlen = p->root.handle_len;
	memcpy(c->token, p->token, sizeof(c->token));
	memcpy(c->handle, (const uint8_t *)t_rp() + sizeof(*p), c->hlen);
	return 0;
}

int t_attach(struct t_conn *c, uint64_t session, const uint8_t token[16])
{
	struct rfs_attach_req *q;
	struct rfs_mb *b = t_req(c, RFS_OP_ATTACH);

	q = rfs_mb_put(b, sizeof(*q));
	q->session = session;
	memcpy(q->token, token, sizeof(q->token));
	return t_call(c);
}

bool t_ping(struct t_conn *c)
{
	static const char pl[] = "ping-pong";

	rfs_mb_put_bytes(t_req(c, RFS_OP_PING), pl, sizeof(pl) - 1);
	return t_call(c) == 0 && t_rh()->len == sizeof(pl) - 1 &&
	       !memcmp(t_rp(), pl, sizeof(pl) - 1);
}

int t_lookup_n(struct t_conn *c, uint64_t parent, const char *name,
	       uint16_t name_len, struct rfs_entry *e, uint8_t *handle)
{
	struct rfs_name_req *q;
	struct rfs_mb *b = t_req(c, RFS_OP_LOOKUP);
	int ret;

	q = rfs_mb_put(b, sizeof(*q));
	q->parent = parent;
	q->name_len = name_len;
	rfs_mb_put_bytes(b, name, name_len);
	ret = t_call(c);
	if (ret == 0 && e) {
		memcpy(e, t_rp(), sizeof(*e));
		if (handle)
			memcpy(handle, (const uint8_t *)t_rp() + sizeof(*e),
			       e->handle_len);
	}
	return ret;
}

int t_lookup(struct t_conn *c, uint64_t parent, const char *name,
	     struct rfs_entry *e, uint8_t *handle)
{
	return t_lookup_n(c, parent, name, (uint16_t)strlen(name), e, handle);
}

int t_make(struct t_conn *c, uint16_t op, uint64_t parent, const char *name,
	   uint32_t mode, const char *target, struct rfs_entry *e, uint64_t *fh)
{
	struct rfs_make_req *q;
	struct rfs_mb *b = t_req(c, op);
	int ret;

	q = rfs_mb_put(b, sizeof(*q));
	q->parent = parent;
	q->mode = mode;
	q->name_len = (uint16_t)strlen(name);
	if (op == RFS_OP_CREATE)
		q->flags = O_RDWR;
	if (target)
		q->target_len = (uint16_t)strlen(target);
	rfs_mb_put_bytes(b, name, q->name_len);
	if (target)
		rfs_mb_put_bytes(b, target, q->target_len);
	ret = t_call(c);
	if (ret)
		return ret;
	if (op == RFS_OP_CREATE) {
		const struct rfs_create_rep *p = t_rp();

		if (e)
			*e = p->entry;
		if (fh)
			*fh = p->fh;
	} else if (e) {
		memcpy(e, t_rp(), sizeof(*e));
	}
	return 0;
}

static int open_op(struct t_conn *c, uint16_t op, uint64_t node, uint32_t flags,
		   uint64_t *fh)
{
	struct rfs_open_req *q;
	struct rfs_mb *b = t_req(c, op);
	int ret;

	q = rfs_mb_put(b, sizeof(*q));
	q->nodeid = node;
	q->flags = flags;
	ret = t_call(c);
	if (!ret && fh)
		*fh = ((const struct rfs_open_rep *)t_rp())->fh;
	return ret;
}

int t_open(struct t_conn *c, uint64_t node, uint32_t flags, uint64_t *fh)
{
	return open_op(c, RFS_OP_OPEN, node, flags, fh);
}

int t_opendir(struct t_conn *c, uint64_t node, uint64_t *fh)
{
	return open_op(c, RFS_OP_OPENDIR, node, O_RDONLY, fh);
}

int t_resolve(struct t_conn *c, uint64_t id, const uint8_t *h, uint16_t hlen)
{
	struct rfs_resolve_req *q;
	struct rfs_mb *b = t_req(c, RFS_OP_RESOLVE);

	q = rfs_mb_put(b, sizeof(*q));
	q->nodeid = id;
	q->handle_len = hlen;
	rfs_mb_put_bytes(b, h, hlen);
	rfs_mb_pad8(b);
	return t_call(c);
}

long long t_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void t_rm_tree(const char *dir)
{
	char cmd[600];

	if (!dir || !dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test: removing %s failed\n", dir);
}
