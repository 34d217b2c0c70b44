/* SPDX-License-Identifier: MIT */
/*
 * tlib: the C test library (static library tests/lib, header tlib.h).
 *
 *   t.h            assertions: T_OK, T_EQ, T_CHECK, T_SKIP, T_DONE
 *   t_die          a fatal harness error: kill the servers, exit 1
 *   t_ready_parse  ringfsd's ready line, "listening on HOST:PORT ..."
 *   t_srv_*        a real ringfsd on port 0: start, wait, stop; what it
 *                  printed (t_srv_log_wait, t_srv_log_line)
 *   t_conn, t_*    a raw-frame connection: connect, send a frame built
 *                  with proto/'s builders, read its reply; HELLO, AUTH
 *                  and a few operations by hand
 *
 * One request is built at a time (t_req), in one send buffer; the last
 * reply is in t_rbuf (t_rh(), t_rp()).  Not for use from several
 * threads at once, except t_send / t_try_connect_tcp.
 */
#ifndef RFS_TLIB_H_
#define RFS_TLIB_H_

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "authkey.h"
#include "proto.h"
#include "t.h"

/* every wait of the library (ready line, reply, close) is bounded */
#define T_TIMEOUT_MS 10000

/* print "PROGRAM: message", SIGKILL the servers t_srv_start started,
 * exit T_EXIT_FAIL */
__attribute__((format(printf, 1, 2), noreturn)) void t_die(const char *fmt,
							   ...);

/*
 * ringfsd's ready line ("ringfsd: listening on 127.0.0.1:7070 (transport
 * tcp), ...", "... on [::1]:7070 and unix:/path ...").  Returns 1 with
 * the first listener's host (no brackets) and port, 0 when the line is
 * not the ready line, -1 when it is but has no HOST:PORT with a port.
 */
/* CLOCK_MONOTONIC in milliseconds */
long long t_mono_ms(void);
/* rm -rf dir (a test's temporary tree); says so on failure */
void t_rm_tree(const char *dir);

int t_ready_parse(const char *line, char *host, size_t hostlen, unsigned *port);

struct t_srv_log;
struct t_srv {
	pid_t pid;
	unsigned port;
	char host[64];
	struct t_srv_log *log; /* what it printed (t_srv_log_wait) */
};

/* Start ringfsd (args: argv after the binary, NULL-terminated) with its
 * stderr echoed as "  [ringfsd] ..."; returns once its ready line came
 * (t_die after T_TIMEOUT_MS or when it exits first). */
void t_srv_start(struct t_srv *s, const char *bin, const char *const *args);
/* Until t_srv_stop/t_srv_wait: wait up to timeout_ms for a line of the
 * server's stderr that contains needle (one printed since the start
 * counts); true when there is one. */
bool t_srv_log_wait(struct t_srv *s, const char *needle, int timeout_ms);
/* The same, and the first such line (without its newline) into line. */
bool t_srv_log_line(struct t_srv *s, const char *needle, int timeout_ms,
		    char *line, size_t len);
/* SIGTERM, wait; returns the exit status (or -1 when killed by a signal) */
int t_srv_stop(struct t_srv *s);
/* After a signal the test sent itself: wait up to timeout_ms for the
 * exit.  Returns the exit status, -1 when killed by a signal, or
 * -ETIMEDOUT (the server is then SIGKILLed and reaped). */
int t_srv_wait(struct t_srv *s, int timeout_ms);

struct t_conn {
	int fd;
	bool csum;    /* frames carry checksums (after HELLO) */
	bool no_csum; /* HELLO asks for no checksums */
	uint64_t session;
	uint64_t root;
	uint16_t hlen;
	uint8_t handle[RFS_HANDLE_MAX];
	uint8_t token[16];
	uint32_t uid, gid;
	uint32_t export_flags; /* HELLO's: RFS_EXPF_RO, RFS_EXPF_IDS_* */
	/* supplementary groups sent with every request (RFS_HF_GROUPS) */
	const uint32_t *groups;
	uint32_t ngroups;
	uint64_t want;	   /* more RFS_FEAT_* for HELLO to ask for */
	uint64_t features; /* HELLO's: what was agreed */
};

/*
 * t_die when the connect fails.  As root, from a privileged source port
 * (as ringfs does), so that the server lets the connection act as any
 * user; _unpriv: from an ephemeral port, as anyone else would.
 */
int t_connect_tcp(const char *host, unsigned port);
int t_connect_tcp_unpriv(const char *host, unsigned port);
int t_connect_unix(const char *path);
/* a connect that may fail (floods may overrun the backlog): fd or -1;
   from an ephemeral port */
int t_try_connect_tcp(const char *host, unsigned port);
/* all of it, unless the server closed (then quietly less) */
void t_send(int fd, const void *p, size_t len);
/* one reply frame into t_rbuf: 1 got it, 0 EOF/reset, -1 timeout */
int t_recv_reply(int fd);
/* connection closed by the server (EOF/reset) within the timeout; error
 * replies before the close are read and dropped */
bool t_closed(int fd);

/* the last reply */
extern _Alignas(8) uint8_t t_rbuf[RFS_MSG_MAX_DEFAULT];
static inline const struct rfs_hdr *t_rh(void)
{
	return (const struct rfs_hdr *)(const void *)t_rbuf;
}
static inline const void *t_rp(void)
{
	return t_rbuf + RFS_HDR_SIZE;
}

/* a request in the send buffer, caller's uid/gid from c */
struct rfs_mb *t_req(struct t_conn *c, uint16_t op);
/* send it; returns the reply status, -EPIPE when the server closed;
 * t_die when no reply came in T_TIMEOUT_MS */
int t_call(struct t_conn *c);
/* send it and return: the reply is the caller's to read */
void t_post(struct t_conn *c);
/* the bytes of the request just sent (for captures) */
const void *t_sent(uint32_t *len);

/* AUTH by hand.  key NULL: skip.  Returns 0 or the failing status. */
int t_auth(struct t_conn *c, const struct rfs_auth_key *key, const char *export,
	   uint8_t token[16]);
/* HELLO on c->fd; fills session, root, handle, token, csum */
int t_hello(struct t_conn *c, const char *export);
int t_attach(struct t_conn *c, uint64_t session, const uint8_t token[16]);
/* PING with a payload: the same payload came back, status 0 */
bool t_ping(struct t_conn *c);

int t_lookup(struct t_conn *c, uint64_t parent, const char *name,
	     struct rfs_entry *e, uint8_t *handle);
/* a name of any bytes (NULs included) */
int t_lookup_n(struct t_conn *c, uint64_t parent, const char *name,
	       uint16_t name_len, struct rfs_entry *e, uint8_t *handle);
/* CREATE/MKDIR/MKNOD/SYMLINK (target for SYMLINK); entry into *e */
int t_make(struct t_conn *c, uint16_t op, uint64_t parent, const char *name,
	   uint32_t mode, const char *target, struct rfs_entry *e,
	   uint64_t *fh);
int t_open(struct t_conn *c, uint64_t node, uint32_t flags, uint64_t *fh);
int t_opendir(struct t_conn *c, uint64_t node, uint64_t *fh);
int t_resolve(struct t_conn *c, uint64_t id, const uint8_t *h, uint16_t hlen);

#endif /* RFS_TLIB_H_ */
