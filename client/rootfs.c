// SPDX-License-Identifier: MIT
/*
 * rootfs: ringfs as a root storage daemon (-o rootfs).
 *
 * A client that serves the root filesystem is started from the initramfs
 * and must outlive switch_root and the shutdown of the system it serves:
 *
 *  - argv[0][0] is '@' (systemd's convention for root storage daemons:
 *    systemd-shutdown's final killing spree spares them): the client
 *    re-executes itself once as "@ringfs" before anything else;
 *  - nothing is loaded lazily after the switch: the binary is linked
 *    with -z now (client/meson.build), libgcc_s (which glibc dlopens for
 *    pthread_cancel and unwinding) is loaded now, the server's address
 *    must be numeric (no name service: NSS modules are dlopened and
 *    their files live on the root being served);
 *  - logs go to the kernel's ring buffer (/dev/kmsg), never to syslog or
 *    a file on the filesystem it serves;
 *  - hardened as -o harden is (harden.c, applied by main.c): memory
 *    locked, PR_SET_IO_FLUSHER, oom_score_adj -1000, pools prefilled;
 *  - what the kernel caches of the root directory (its attributes and
 *    the names in it) never expires (rfs_cl_rootfs_pinned): systemd-
 *    shutdown's killing spree (broadcast_signal in systemd's killall.c)
 *    sends SIGSTOP to every process, root storage daemons included, then
 *    walks /proc (opendir("/proc"), /proc/PID/cmdline, stat of
 *    /proc/1/root) and only then sends SIGCONT.  Every one of those walks
 *    starts at "/": with a timed-out attribute of "/" (checked for the
 *    search permission) or entry "proc", the kernel asks the stopped
 *    daemon and systemd-shutdown waits forever (seen in the VM test:
 *    PID 1 in request_wait_answer from fuse_permission, every @ringfs
 *    thread in do_signal_stop).  With nothing of "/" to revalidate, the
 *    walk needs no request.  The kernel still drops what it caches when
 *    the client itself changes it (a create in "/" invalidates its
 *    attributes; the next lookup or getattr pins them again); changes
 *    made to the top of the export by others, on the server, are not
 *    seen until the client is restarted.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "client_i.h"
#include "log.h"

#define ROOTFS_ARGV0 "@ringfs"

void rfs_cl_rootfs_reexec(int argc, char **argv)
{
	char **nargv;

	if (argv[0] && argv[0][0] == '@')
		goto named;
	nargv = calloc((size_t)argc + 1, sizeof(*nargv));
	if (!nargv) {
		fprintf(stderr, "ringfs: rootfs: out of memory\n");
		return;
	}
	nargv[0] = (char *)ROOTFS_ARGV0;
	for (int i = 1; i < argc; i++)
		nargv[i] = argv[i];
	execv("/proc/self/exe", nargv);
	/* no /proc: carry on, marked in place (systemd reads argv[0][0]) */
	fprintf(stderr,
		"ringfs: rootfs: cannot re-execute as %s: %s (is /proc "
		"mounted?); marking argv[0] in place\n",
		ROOTFS_ARGV0, strerror(errno));
	free(nargv);
	if (argv[0] && argv[0][0])
		argv[0][0] = '@';
named:
	/* the comm ps shows, and what threads created from now inherit */
	if (prctl(PR_SET_NAME, ROOTFS_ARGV0, 0, 0, 0) < 0)
		fprintf(stderr, "ringfs: rootfs: PR_SET_NAME: %s\n",
			strerror(errno));
}

int rfs_cl_rootfs_check_addr(const char *addr_text)
{
	char host[256];
	const char *colon;
	unsigned char buf[sizeof(struct in6_addr)];
	size_t n;

	if (!strncmp(addr_text, "unix:", 5))
		return 0;
	if (addr_text[0] == '[') {
		colon = strchr(addr_text, ']');
		if (!colon)
			goto bad;
		n = (size_t)(colon - addr_text - 1);
		if (n >= sizeof(host))
			goto bad;
		memcpy(host, addr_text + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, buf) == 1)
			return 0;
		goto bad;
	}
	colon = strrchr(addr_text, ':');
	n = colon ? (size_t)(colon - addr_text) : strlen(addr_text);
	if (n >= sizeof(host))
		goto bad;
	memcpy(host, addr_text, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, buf) == 1)
		return 0;
bad:
	fprintf(stderr,
		"ringfs: rootfs: the server address '%s' must be a numeric "
		"IP address (a root storage daemon cannot use the name "
		"service, whose modules live on the root it serves)\n",
		addr_text);
	return -EINVAL;
}

void rfs_cl_rootfs_start(void)
{
	int ret;

	/*
	 * glibc dlopens libgcc_s for pthread_cancel and for unwinding: load
	 * it now, from the initramfs, so that no such lookup happens on the
	 * root we serve (where it could wait for ourselves).
	 */
	if (!dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE))
		rfs_warn("client: rootfs: cannot preload libgcc_s.so.1 (%s); "
			 "a later pthread_cancel or unwind would load it "
			 "from the root",
			 dlerror());
	ret = rfs_log_use_kmsg();
	if (ret < 0)
		rfs_warn("client: rootfs: cannot log to /dev/kmsg: %s; "
			 "logging to stderr",
			 strerror(-ret));
}

bool rfs_cl_rootfs_pinned(fuse_ino_t dir)
{
	return rfs_cl->o.rootfs && dir == FUSE_ROOT_ID;
}
