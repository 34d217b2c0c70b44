// SPDX-License-Identifier: MIT
/*
 * ringfsctl mounts: the ringfs mounts of this machine and what each one
 * took: transport, FUSE path (io_uring or /dev/fuse), FUSE passthrough,
 * loops, client pid.
 * Mounts come from /proc/self/mountinfo (type fuse.ringfs); what their
 * clients decided comes from the clients' status files (client/status.c)
 * in /run/ringfs and, for the caller's own mounts, $XDG_RUNTIME_DIR/ringfs.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ringfsctl_i.h"
#include "status.h"

#define MAX_STATUS 256

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] &&
		    s[3]) {
			*d++ = (char)(((s[1] - '0') << 6) |
				      ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

static unsigned load_dir(const char *dir, struct rfs_status *st, unsigned n)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return n;
	while (n < MAX_STATUS && (de = readdir(d))) {
		char path[4400];

		if (strncmp(de->d_name, "client.", 7) ||
		    strstr(de->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		/* a client that died without cleaning up is not a witness */
		if (rfs_status_read(path, &st[n]) == 0 &&
		    (kill(st[n].pid, 0) == 0 || errno == EPERM))
			n++;
	}
	closedir(d);
	return n;
}

int rfs_ctl_mounts(int argc, char **argv)
{
	static struct rfs_status st[MAX_STATUS];
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char line[8192], dir[4200];
	unsigned n = 0, shown = 0;
	FILE *f;

	if (argc > 2) {
		ctl_err("mounts takes no arguments (see --help)");
		return CTL_EXIT_USAGE;
	}
	n = load_dir("/run/ringfs", st, n);
	if (rt && *rt == '/') {
		snprintf(dir, sizeof(dir), "%s/ringfs", rt);
		n = load_dir(dir, st, n);
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (!f) {
		ctl_err("reading /proc/self/mountinfo: %s", strerror(errno));
		return CTL_EXIT_FAIL;
	}
	printf("%-28s %-28s %-9s %-11s %-8s %5s %7s\n", "MOUNTPOINT", "SOURCE",
	       "TRANSPORT", "FUSE", "PASSTHRU", "LOOPS", "PID");
	while (fgets(line, sizeof(line), f)) {
		char *mp, *type, *src, *sep, *save = NULL;
		const struct rfs_status *s = NULL;

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - TYPE SRC */
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		type = strtok_r(sep + 3, " \n", &save);
		src = strtok_r(NULL, " \n", &save);
		if (!type || strcmp(type, "fuse.ringfs") || !src)
			continue;
		save = NULL;
		mp = strtok_r(line, " ", &save);
		for (int i = 0; mp && i < 4; i++)
			mp = strtok_r(NULL, " ", &save);
		if (!mp)
			continue;
		unescape(mp);
		unescape(src);
		for (unsigned i = 0; i < n && !s; i++)
			if (!strcmp(st[i].mountpoint, mp))
				s = &st[i];
		if (s)
			printf("%-28s %-28s %-9s %-11s %-8.*s %5u %7d\n", mp,
			       src, s->transport, s->fuse,
			       (int)strcspn(s->passthrough[0] ? s->passthrough :
								"?",
					    " "),
			       s->passthrough[0] ? s->passthrough : "?",
			       s->loops, (int)s->pid);
		else
			printf("%-28s %-28s %-9s %-11s %-8s %5s %7s\n", mp, src,
			       "?", "?", "?", "?", "?");
		shown++;
	}
	fclose(f);
	if (!shown)
		printf("(no ringfs mounts)\n");
	return CTL_EXIT_OK;
}
