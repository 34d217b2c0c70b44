// SPDX-License-Identifier: MIT
/* test_addr: address and source parsing (common/addr.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "t.h"

static unsigned port_of(const struct rfs_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

static void fmt_is(const struct rfs_addr *a, const char *want)
{
	char out[128];

	rfs_addr_fmt((const struct sockaddr *)&a->ss, a->len, out, sizeof(out));
	if (strcmp(out, want))
		fprintf(stderr, "fmt: got '%s', want '%s'\n", out, want);
	T_OK(strcmp(out, want) == 0);
}

static void test_inet(void)
{
	struct rfs_addr a;

	T_OK(rfs_addr_parse("127.0.0.1:7070", 0, &a) == 0);
	T_OK(a.ss.ss_family == AF_INET && port_of(&a) == 7070);
	T_OK(a.len == sizeof(struct sockaddr_in));
	T_OK(rfs_addr_is_loopback(&a));
	T_OK(strcmp(a.text, "127.0.0.1:7070") == 0);
	fmt_is(&a, "127.0.0.1:7070");

	T_OK(rfs_addr_parse("10.1.2.3", 7070, &a) == 0);
	T_OK(port_of(&a) == 7070 && !rfs_addr_is_loopback(&a));
	T_OK(rfs_addr_parse("127.9.9.9:1", 0, &a) == 0);
	T_OK(rfs_addr_is_loopback(&a));

	T_OK(rfs_addr_parse("[::1]:7071", 0, &a) == 0);
	T_OK(a.ss.ss_family == AF_INET6 && port_of(&a) == 7071);
	T_OK(rfs_addr_is_loopback(&a));
	fmt_is(&a, "[::1]:7071");
	T_OK(rfs_addr_parse("[fe80::1]", 9, &a) == 0);
	T_OK(port_of(&a) == 9 && !rfs_addr_is_loopback(&a));
	T_OK(rfs_addr_parse("::1", 5, &a) == 0); /* bare v6, no port */
	T_OK(a.ss.ss_family == AF_INET6 && port_of(&a) == 5);
	T_OK(rfs_addr_parse("[::ffff:127.0.0.1]:5", 0, &a) == 0);
	T_OK(rfs_addr_is_loopback(&a));

	T_OK(rfs_addr_parse("localhost:80", 0, &a) == 0);
	T_OK(port_of(&a) == 80 && rfs_addr_is_loopback(&a));

	T_OK(rfs_addr_parse(":7070", 0, &a) == 0); /* wildcard */
	T_OK(a.ss.ss_family == AF_INET && port_of(&a) == 7070);
	T_OK(((struct sockaddr_in *)&a.ss)->sin_addr.s_addr == INADDR_ANY);
	T_OK(rfs_addr_parse("*:7070", 0, &a) == 0);
	T_OK(((struct sockaddr_in *)&a.ss)->sin_addr.s_addr == INADDR_ANY);
}

static void test_inet_errors(void)
{
	struct rfs_addr a;

	T_OK(rfs_addr_parse("", 7070, &a) == -EINVAL);
	T_OK(rfs_addr_parse(NULL, 7070, &a) == -EINVAL);
	T_OK(rfs_addr_parse("10.0.0.1", 0, &a) == -EINVAL); /* no port */
	T_OK(rfs_addr_parse("10.0.0.1:", 7070, &a) == -EINVAL);
	T_OK(rfs_addr_parse("10.0.0.1:0", 0, &a) == -EINVAL);
	T_OK(rfs_addr_parse("10.0.0.1:65536", 0, &a) == -EINVAL);
	T_OK(rfs_addr_parse("10.0.0.1:12ab", 0, &a) == -EINVAL);
	T_OK(rfs_addr_parse("10.0.0.1:-1", 0, &a) == -EINVAL);
	T_OK(rfs_addr_parse("10.0.0.1: 80", 0, &a) == -EINVAL);
	T_OK(rfs_addr_parse("[::1", 0, &a) == -EINVAL);
	T_OK(rfs_addr_parse("[::1]x", 0, &a) == -EINVAL);
	T_OK(rfs_addr_parse("[]:80", 0, &a) == -EINVAL);
	T_OK(rfs_addr_parse("[1.2.3.4]:80", 0, &a) == -EINVAL);
}

static void test_unix(void)
{
	const size_t off = offsetof(struct sockaddr_un, sun_path);
	struct sockaddr_un *un;
	struct rfs_addr a;
	char longp[200];

	T_OK(rfs_addr_parse("unix:/run/ringfs.sock", 0, &a) == 0);
	un = (struct sockaddr_un *)&a.ss;
	T_OK(un->sun_family == AF_UNIX);
	T_OK(strcmp(un->sun_path, "/run/ringfs.sock") == 0);
	T_OK(a.len == off + strlen("/run/ringfs.sock") + 1);
	T_OK(rfs_addr_is_loopback(&a));
	fmt_is(&a, "unix:/run/ringfs.sock");

	T_OK(rfs_addr_parse("unix:@ringfs", 0, &a) == 0);
	un = (struct sockaddr_un *)&a.ss;
	T_OK(un->sun_path[0] == '\0');
	T_OK(memcmp(un->sun_path + 1, "ringfs", 6) == 0);
	T_OK(a.len == off + 1 + 6);
	fmt_is(&a, "unix:@ringfs");

	T_OK(rfs_addr_parse("unix:", 0, &a) == -EINVAL);
	T_OK(rfs_addr_parse("unix:@", 0, &a) == -EINVAL);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	{
		char s[256];

		snprintf(s, sizeof(s), "unix:%s", longp);
		T_OK(rfs_addr_parse(s, 0, &a) == -EINVAL);
	}
}

static void split_ok(const char *src, const char *addr, const char *exp)
{
	char a[128], e[128];
	int rc = rfs_addr_split_source(src, a, sizeof(a), e, sizeof(e));

	T_OK(rc == 0);
	if (rc == 0) {
		if (strcmp(a, addr) || strcmp(e, exp))
			fprintf(stderr, "split '%s': got '%s' '%s'\n", src, a,
				e);
		T_OK(strcmp(a, addr) == 0 && strcmp(e, exp) == 0);
	}
}

static void test_split(void)
{
	char a[16], e[16];

	split_ok("server:/data", "server", "data");
	split_ok("10.0.0.1:7070:/data", "10.0.0.1:7070", "data");
	split_ok("[::1]:7070:/home", "[::1]:7070", "home");
	split_ok("[::1]:/home", "[::1]", "home");
	split_ok("unix:/run/x.sock:/data", "unix:/run/x.sock", "data");
	split_ok("unix:@abs:/data", "unix:@abs", "data");
	split_ok("server:/", "server", "");
	split_ok("server:/data/", "server", "data");

	T_OK(rfs_addr_split_source("server", a, sizeof(a), e, sizeof(e)) ==
	     -EINVAL);
	T_OK(rfs_addr_split_source("server:data", a, sizeof(a), e, sizeof(e)) ==
	     -EINVAL);
	T_OK(rfs_addr_split_source(":/data", a, sizeof(a), e, sizeof(e)) ==
	     -EINVAL);
	T_OK(rfs_addr_split_source("unix:/run/x.sock", a, sizeof(a), e,
				   sizeof(e)) == -EINVAL);
	T_OK(rfs_addr_split_source("a-very-long-host-name:/x", a, sizeof(a), e,
				   sizeof(e)) == -EINVAL);
	T_OK(rfs_addr_split_source("h:/a-very-long-export-name", a, sizeof(a),
				   e, sizeof(e)) == -EINVAL);
}

static unsigned bound_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return 0;
	return ntohs(sa.sin_port);
}

/* a privileged source port: root gets one in range, skipping a taken one */
static void test_resvport(void)
{
	unsigned next = 5, want;
	int fd, lfd, port;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_OK(fd >= 0);
	T_EQ(rfs_addr_bind_resvport(fd, AF_UNIX, &next), -EAFNOSUPPORT);
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_OK(fd >= 0);
	port = rfs_addr_bind_resvport(fd, AF_INET, &next);
	if (geteuid() != 0) {
		/* unless ip_unprivileged_port_start was lowered */
		T_CHECK(port == -EACCES || port >= (int)RFS_RESVPORT_LO,
			"as uid %u: %d", (unsigned)geteuid(), port);
		close(fd);
		return;
	}
	T_CHECK(port >= (int)RFS_RESVPORT_LO && port <= (int)RFS_RESVPORT_HI,
		"port %d", port);
	T_EQ(bound_port(fd), port);
	T_EQ(RFS_RESVPORT_LO + (next + RFS_RESVPORT_HI - RFS_RESVPORT_LO) %
				       (RFS_RESVPORT_HI - RFS_RESVPORT_LO + 1),
	     port);
	close(fd);
	/* a listener on the port next would take: the one after it */
	want = RFS_RESVPORT_LO + next;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_OK(lfd >= 0);
	{
		struct sockaddr_in sa = { .sin_family = AF_INET };

		sa.sin_port = htons((uint16_t)want);
		if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(lfd, 1) < 0) {
			/* someone else has it: nothing to learn here */
			close(lfd);
			return;
		}
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	port = rfs_addr_bind_resvport(fd, AF_INET, &next);
	T_CHECK(port > (int)want && port <= (int)RFS_RESVPORT_HI,
		"port %d with %u taken", port, want);
	close(fd);
	close(lfd);
}

int main(void)
{
	rfs_log_init("test_addr");
	test_inet();
	test_inet_errors();
	test_unix();
	test_split();
	test_resvport();
	T_DONE();
}
