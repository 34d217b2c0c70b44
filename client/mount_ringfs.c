// SPDX-License-Identifier: MIT
/*
 * mount.ringfs: the helper mount(8) runs for "-t ringfs" and fstab lines
 *
 *     mount.ringfs SPEC DIR [-sfnv] [-o OPTIONS]
 *
 * It drops the options only mount(8) cares about and execs ringfs (found
 * next to this program, in ../bin, then in PATH), which daemonizes once
 * the mount is ready, so mount(8) returns with the filesystem usable.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const helper_only[] = {
	"_netdev", "auto",     "noauto", "user",  "users", "nouser",
	"nofail",  "defaults", "owner",	 "group", "loop",  NULL,
};

static bool helper_opt(const char *o)
{
	for (const char *const *h = helper_only; *h; h++)
		if (!strcmp(*h, o))
			return true;
	return !strncmp(o, "x-", 2) || !strncmp(o, "comment=", 8);
}

/* Append the options of list worth passing to ringfs onto out. */
static int filter_opts(const char *list, char *out, size_t outsz)
{
	char *copy = strdup(list), *save = NULL, *tok;
	size_t used = strlen(out);

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int n;

		if (!*tok || helper_opt(tok))
			continue;
		n = snprintf(out + used, outsz - used, "%s%s", used ? "," : "",
			     tok);
		if (n < 0 || (size_t)n >= outsz - used) {
			free(copy);
			return -E2BIG;
		}
		used += (size_t)n;
	}
	free(copy);
	return 0;
}

static void try_exec(const char *dir, const char *rel, char **argv)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >=
	    (int)sizeof(path))
		return;
	if (access(path, X_OK) == 0)
		execv(path, argv);
}

int main(int argc, char **argv)
{
	static char opts[8192];
	const char *pos[2] = { NULL, NULL };
	bool fake = false, verbose = false;
	char self[PATH_MAX], *dir;
	char *args[8];
	int npos = 0, n = 0;
	ssize_t len;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-o")) {
			if (++i == argc) {
				fprintf(stderr, "mount.ringfs: -o needs "
						"options\n");
				return 1;
			}
			if (filter_opts(argv[i], opts, sizeof(opts)) < 0) {
				fprintf(stderr, "mount.ringfs: options too "
						"long\n");
				return 1;
			}
		} else if (!strncmp(a, "-o", 2)) {
			if (filter_opts(a + 2, opts, sizeof(opts)) < 0) {
				fprintf(stderr, "mount.ringfs: options too "
						"long\n");
				return 1;
			}
		} else if (a[0] == '-' && a[1] && a[1] != '-') {
			/* -s sloppy, -n no mtab: nothing to do for FUSE */
			for (const char *f = a + 1; *f; f++) {
				if (*f == 'f')
					fake = true;
				else if (*f == 'v')
					verbose = true;
				else if (*f != 's' && *f != 'n') {
					fprintf(stderr,
						"mount.ringfs: "
						"unknown flag -%c\n",
						*f);
					return 1;
				}
			}
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			fprintf(stderr, "mount.ringfs: too many arguments\n");
			return 1;
		}
	}
	if (npos < 2) {
		fprintf(stderr, "usage: mount.ringfs SERVER:PORT:/EXPORT DIR "
				"[-sfnv] [-o OPTIONS]\n");
		return 1;
	}
	args[n++] = (char *)"ringfs";
	args[n++] = (char *)pos[0];
	args[n++] = (char *)pos[1];
	if (opts[0]) {
		args[n++] = (char *)"-o";
		args[n++] = opts;
	}
	args[n] = NULL;
	if (verbose || fake)
		fprintf(stderr, "mount.ringfs: ringfs %s %s%s%s\n", pos[0],
			pos[1], opts[0] ? " -o " : "", opts);
	if (fake)
		return 0;

	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0) {
		self[len] = '\0';
		dir = dirname(self);
		try_exec(dir, "ringfs", args);
		try_exec(dir, "../bin/ringfs", args);
	}
	execvp("ringfs", args);
	fprintf(stderr, "mount.ringfs: cannot run ringfs: %s\n",
		strerror(errno));
	return 1;
}
