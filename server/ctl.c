// SPDX-License-Identifier: MIT
/*
 * ctl: ringfsd's counters region and control socket.
 *
 *   <rundir>/ringfsd-<pid>.stats  counters (common/obs.h), mapped by
 *                                 ringfsctl; one slot per connection
 *   <rundir>/ringfsd-<pid>.sock   the control socket (common/ctlsock.h),
 *                                 or --control-socket PATH ("none": off)
 *
 * <rundir>: rfs_run_dir (/run/ringfs as root).  The counters file goes
 * next to the control socket when --control-socket names one.
 *
 * The command table: one row per command (a capture command plugs in
 * here).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capctl.h"
#include "ctlsock.h"
#include "log.h"
#include "obs.h"
#include "optab.h"
#include "server.h"

struct rfs_obs *rfs_srv_obs;
static struct rfs_ctl *srv_ctl;

#define SRV_OBS_SLOTS_MAX 4096u

static const char *opname(unsigned op)
{
	const struct rfs_opinfo *i = rfs_op_info(op);

	return i && i->name ? i->name : NULL;
}

static int h_conns(struct rfs_ctl_req *rq, struct rfs_ctl_out *out)
{
	return rfs_obs_ctl_conns(rfs_srv_obs, rq, out);
}

static int h_stats(struct rfs_ctl_req *rq, struct rfs_ctl_out *out)
{
	return rfs_obs_ctl_stats(rfs_srv_obs, opname, rq, out);
}

static const struct rfs_ctl_cmd server_ctl_cmds[] = {
	{ "conns", h_conns, 0, "the server's connections [--json]" },
	{ "stats", h_stats, 0,
	  "counters and latency per opcode [--json|--prometheus]" },
	RFS_CAPCTL_CMD,
};

int rfs_srv_ctl_start(const char *ctl_opt, const char *listen)
{
	char dir[4096], spath[4200], cpath[4200];
	unsigned nslots = rfs_cfg.sec.max_conns;
	bool have_dir;
	int ret;

	if (!nslots || nslots > SRV_OBS_SLOTS_MAX)
		nslots = SRV_OBS_SLOTS_MAX;
	if (ctl_opt && strcmp(ctl_opt, "none")) {
		char *slash;

		snprintf(cpath, sizeof(cpath), "%s", ctl_opt);
		snprintf(dir, sizeof(dir), "%s", ctl_opt);
		slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = '\0';
		else
			snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");
		have_dir = true;
	} else {
		have_dir = rfs_run_dir(dir, sizeof(dir)) != NULL;
		snprintf(cpath, sizeof(cpath), "%s/ringfsd-%d.sock", dir,
			 (int)getpid());
	}
	if (have_dir) {
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			rfs_warn("server: %s: %s; no counters file", dir,
				 strerror(errno));
		snprintf(spath, sizeof(spath), "%s/ringfsd-%d.stats", dir,
			 (int)getpid());
	}
	ret = rfs_obs_open(have_dir ? spath : NULL, RFS_OBS_SIDE_SERVER, nslots,
			   listen, "", &rfs_srv_obs);
	if (ret < 0) {
		rfs_err("server: counters: %s", strerror(-ret));
		return ret;
	}
	if ((ctl_opt && !strcmp(ctl_opt, "none")) || !have_dir)
		return 0;
	ret = rfs_ctl_open(cpath, server_ctl_cmds,
			   sizeof(server_ctl_cmds) / sizeof(server_ctl_cmds[0]),
			   NULL, &srv_ctl);
	if (ret < 0) {
		/* a socket the operator asked for by name must work */
		if (ctl_opt)
			return ret;
		rfs_warn("server: no control socket (ringfsctl conns and "
			 "stats read %s directly)",
			 rfs_obs_path(rfs_srv_obs) ? rfs_obs_path(rfs_srv_obs) :
						     "nothing");
		return 0;
	}
	rfs_obs_set_ctl(rfs_srv_obs, cpath);
	rfs_info("server: control socket %s, counters %s", cpath,
		 rfs_obs_path(rfs_srv_obs) ? rfs_obs_path(rfs_srv_obs) :
					     "in private memory");
	return 0;
}

void rfs_srv_ctl_stop(void)
{
	/* a capture attached over the socket ends first */
	rfs_capctl_stop();
	rfs_ctl_close(srv_ctl);
	srv_ctl = NULL;
	rfs_obs_close(rfs_srv_obs);
	rfs_srv_obs = NULL;
}
