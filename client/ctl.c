// SPDX-License-Identifier: MIT
/*
 * ctl: the client's counters region and control socket (one per mount:
 * one ringfs process per mount).
 *
 *   <rundir>/client-<pid>.stats  counters (common/obs.h), mapped by
 *                                ringfsctl even when we are stopped
 *   <rundir>/client-<pid>.sock   the control socket (common/ctlsock.h)
 *
 * <rundir>: rfs_status_dir (/run/ringfs as root).  A mount point leads
 * to the pid through the status file client.<pid> (status.c).
 *
 * The command table: one row per command (a capture command plugs in
 * here).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_i.h"
#include "capctl.h"
#include "ctlsock.h"
#include "log.h"
#include "obs.h"
#include "optab.h"
#include "status.h"

static const char *opname(unsigned op)
{
	const struct rfs_opinfo *i = rfs_op_info(op);

	return i && i->name ? i->name : NULL;
}

static int h_conns(struct rfs_ctl_req *rq, struct rfs_ctl_out *out)
{
	struct rfs_client *cl = rq->arg;

	return rfs_obs_ctl_conns(cl->obs, rq, out);
}

static int h_stats(struct rfs_ctl_req *rq, struct rfs_ctl_out *out)
{
	struct rfs_client *cl = rq->arg;

	return rfs_obs_ctl_stats(cl->obs, opname, rq, out);
}

static const struct rfs_ctl_cmd client_ctl_cmds[] = {
	{ "conns", h_conns, 0, "the mount's connections [--json]" },
	{ "stats", h_stats, 0,
	  "counters and latency per opcode [--json|--prometheus]" },
	RFS_CAPCTL_CMD,
};

int rfs_cl_ctl_start(struct rfs_client *cl, const char *mp_real)
{
	char dir[4096], spath[4200], cpath[4200];
	bool have_dir = rfs_status_dir(dir, sizeof(dir)) != NULL;
	int ret;

	if (have_dir) {
		snprintf(spath, sizeof(spath), "%s/client-%d.stats", dir,
			 (int)getpid());
		snprintf(cpath, sizeof(cpath), "%s/client-%d.sock", dir,
			 (int)getpid());
		/* the status file's writer makes it too; first come, first */
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			rfs_warn("client: %s: %s; no counters file", dir,
				 strerror(errno));
	}
	/* no realpath here: the mount point is ours now, and not served */
	ret = rfs_obs_open(have_dir ? spath : NULL, RFS_OBS_SIDE_CLIENT,
			   cl->o.loops, mp_real ? mp_real : cl->o.mountpoint,
			   "", &cl->obs);
	if (ret < 0) {
		rfs_warn("client: no counters: %s", strerror(-ret));
		return ret;
	}
	if (!have_dir) {
		rfs_info("client: no runtime directory (no XDG_RUNTIME_DIR): "
			 "no control socket, no counters file");
		return 0;
	}
	if (rfs_ctl_open(cpath, client_ctl_cmds,
			 sizeof(client_ctl_cmds) / sizeof(client_ctl_cmds[0]),
			 cl, &cl->ctl) == 0)
		rfs_obs_set_ctl(cl->obs, cpath);
	return 0;
}

void rfs_cl_ctl_stop(struct rfs_client *cl)
{
	/* a capture attached over the socket ends first */
	rfs_capctl_stop();
	rfs_ctl_close(cl->ctl);
	cl->ctl = NULL;
	rfs_obs_close(cl->obs);
	cl->obs = NULL;
}
