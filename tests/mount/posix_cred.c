// SPDX-License-Identifier: MIT
/*
 * posix_check cases about who may do what and with which mode bits: the
 * creation mode under every umask, the caller's supplementary groups,
 * suid/sgid bits killed by writes, truncates and chowns, and moving
 * directories between parents as someone else.  Same rules as
 * posix_cases.c: deterministic, every result recorded, compared with
 * the local reference directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "posix_check.h"

/* ---- umask ------------------------------------------------------------ */

/* every way to create, under umask um: the mode is mode & ~um, exactly */
static void umask_one(struct pc_ctx *c, mode_t um)
{
	static const mode_t modes[] = { 0620,  0642,  0777,  0666, 04777,
					02777, 06755, 01777, 0 };
	char rel[64], d[PC_DESC_MAX];
	int fd;

	umask(um);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		mode_t m = modes[i];

		snprintf(rel, sizeof(rel), "u%03o-open-%04o", um, m);
		snprintf(d, sizeof(d), "umask %03o: open O_CREAT %04o", um, m);
		fd = pc_fd(c, d,
			   open(pc_path(c, rel), O_WRONLY | O_CREAT | O_EXCL,
				m));
		if (fd >= 0)
			close(fd);
		pc_stat(c, d, rel, false);
		snprintf(rel, sizeof(rel), "u%03o-mkdir-%04o", um, m);
		snprintf(d, sizeof(d), "umask %03o: mkdir %04o", um, m);
		pc_ok(c, d, mkdir(pc_path(c, rel), m));
		pc_stat(c, d, rel, false);
		snprintf(rel, sizeof(rel), "u%03o-fifo-%04o", um, m);
		snprintf(d, sizeof(d), "umask %03o: mknod fifo %04o", um, m);
		pc_ok(c, d, mknod(pc_path(c, rel), S_IFIFO | m, 0));
		pc_stat(c, d, rel, false);
		snprintf(rel, sizeof(rel), "u%03o-reg-%04o", um, m);
		snprintf(d, sizeof(d), "umask %03o: mknod reg %04o", um, m);
		pc_ok(c, d, mknod(pc_path(c, rel), S_IFREG | m, 0));
		pc_stat(c, d, rel, false);
	}
	snprintf(rel, sizeof(rel), "u%03o-creat", um);
	snprintf(d, sizeof(d), "umask %03o: creat 0666", um);
	fd = pc_fd(c, d, creat(pc_path(c, rel), 0666));
	if (fd >= 0)
		close(fd);
	pc_stat(c, d, rel, false);
	umask(022);
}

void pc_t_umask(struct pc_ctx *c)
{
	static const mode_t masks[] = { 0, 02, 022, 027, 077, 0777 };
	int fd;

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++)
		umask_one(c, masks[i]);
	/* in a setgid directory, umask 0: group and bit are inherited */
	umask(0);
	pc_ok(c, "mkdir sg", mkdir(pc_path(c, "sg"), 0777));
	pc_ok(c, "chmod sg 02777", chmod(pc_path(c, "sg"), 02777));
	pc_ok(c, "chown sg :4243", chown(pc_path(c, "sg"), -1, 4243));
	pc_ok(c, "mkdir sg/d 0770", mkdir(pc_path(c, "sg/d"), 0770));
	pc_stat(c, "sg/d: 02770, group 4243", "sg/d", false);
	fd = pc_fd(c, "create sg/f 0664",
		   open(pc_path(c, "sg/f"), O_WRONLY | O_CREAT, 0664));
	if (fd >= 0)
		close(fd);
	pc_stat(c, "sg/f: 0664, group 4243", "sg/f", false);
	umask(022);
}
