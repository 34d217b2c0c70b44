/* SPDX-License-Identifier: MIT */
/*
 * ringfsctl: the operator's tool (ping, stats).  Shared by ringfsctl.c
 * (commands, options, output) and ringfsctl_rpc.c (one connection to a
 * ringfsd over rpc.h, with ringfsctl's messages for every failure).
 */
#ifndef RFS_RINGFSCTL_I_H
#define RFS_RINGFSCTL_I_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "proto.h"
#include "rpc.h"
#include "xprt.h"

#define CTL_PROG "ringfsctl"
#define CTL_DEFAULT_PORT 7070

/* exit statuses */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1	 /* no reply, refused, connection lost */
#define CTL_EXIT_USAGE 2 /* bad command line, unusable key file */

/* Where to go: SERVER as the user typed it, split and resolved. */
struct ctl_target {
	char spec[512];			      /* as typed */
	char addr_text[256];		      /* ADDR part */
	char export[RFS_EXPORT_NAME_MAX + 1]; /* "" until known */
	struct rfs_addr addr;
};

/* Connection options common to every command. */
struct ctl_conn_opts {
	const char *transport; /* "tcp", "uring", "shm", "rdma" */
	const char *key_file;  /* NULL: no AUTH */
	int timeout_ms;	       /* connect, each call, each ping */
	bool csum;	       /* ask for checksums in HELLO */
};

/*
 * One connection (rpc.h), driven synchronously from the calling thread;
 * r.sleeps counts ringfsctl's own ppoll(2) calls.
 */
struct ctl_conn {
	struct rfs_rpc r;
	const struct ctl_target *t;
	const struct ctl_conn_opts *o;
};

extern volatile sig_atomic_t ctl_interrupted;

__attribute__((format(printf, 1, 2))) void ctl_err(const char *fmt, ...);
/* ringfsctl mounts (ringfsctl_mounts.c): the whole command */
int rfs_ctl_mounts(int argc, char **argv);
/* ringfsctl capture (ringfsctl_capture.c): the whole command */
int rfs_ctl_capture(int argc, char **argv);
/*
 * ringfsctl conns, and stats of local daemons (ringfsctl_obs.c): the
 * whole command.  rfs_ctl_obs_local: whether a stats command line names
 * local daemons (no SERVER, a mount point, ringfsd[:PID], --prometheus,
 * --socket) rather than a server to ask over the network.
 */
int rfs_ctl_obs(int argc, char **argv);
bool rfs_ctl_obs_local(int argc, char **argv);
/*
 * The control socket of the one local daemon TARGET names (a mount
 * point, ringfsd when one runs, ringfsd:PID, a *.sock path) into out,
 * for a command that must talk to the daemon (capture).  0, or an exit
 * status (CTL_EXIT_*) after saying why on stderr.
 */
int rfs_ctl_target_socket(const char *target, char *out, size_t n);
/* the same, and [HOST:]PORT of a local ringfsd (ringfsctl capture) */
int rfs_ctl_obs_sock(const char *target, char *sock, size_t n);

/*
 * Catch SIGINT/SIGTERM from now on (they set ctl_interrupted and end
 * cc's waits with -EINTR).
 */
int ctl_catch_signals(struct ctl_conn *cc);

/*
 * Connect, AUTH when a key file is given, HELLO on t->export.  Every
 * failure is explained on stderr.  Returns 0 or -errno.
 */
int ctl_connect(struct ctl_conn *cc, const struct ctl_target *t,
		const struct ctl_conn_opts *o);
/* BYE (bounded wait), disconnect, free everything.  Never fails. */
void ctl_close(struct ctl_conn *cc);

/* Words for a connection that went down with status st. */
const char *ctl_down_str(int st);

#endif /* RFS_RINGFSCTL_I_H */
