// SPDX-License-Identifier: MIT
/*
 * The backend registry: the one list of the backends built, and which
 * one serves an export path (backend.h).
 */
#include <stddef.h>
#include <string.h>

#include "backend.h"

/* vfs first: it claims absolute paths, the default */
const struct rfs_backend *const rfs_backends[] = {
	&rfs_backend_vfs,
#if defined(HAVE_GLUSTER) && HAVE_GLUSTER
	&rfs_backend_gluster,
#endif
	NULL,
};

const struct rfs_backend *rfs_backend_for(const char *path)
{
	for (size_t i = 0; rfs_backends[i]; i++)
		if (rfs_backends[i]->claims(path))
			return rfs_backends[i];
	return NULL;
}

const char *rfs_backend_names(void)
{
	static char names[64];

	if (!names[0]) {
		for (size_t i = 0; rfs_backends[i]; i++) {
			if (i)
				strcat(names, ", ");
			strcat(names, rfs_backends[i]->name);
		}
	}
	return names;
}
