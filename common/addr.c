// SPDX-License-Identifier: MIT
/*
 * addr: the addresses users type.
 *
 *   host:port      127.0.0.1:7070, localhost:7070 (resolved by getaddrinfo,
 *                  first result wins)
 *   [v6]:port      [::1]:7070; a bare v6 literal without brackets ("::1")
 *                  is taken as a host without port
 *   :port, *:port  the IPv4 wildcard 0.0.0.0 (for listening)
 *   host           default_port applies (error when default_port is 0)
 *   unix:/path     a Unix stream socket
 *   unix:@name     a Linux abstract Unix socket
 *
 * and the client's privileged source port (rfs_addr_bind_resvport).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"

static int parse_port(const char *s, unsigned *port)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

static int parse_unix(const char *path, struct rfs_addr *a)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
	size_t n = strlen(path);

	memset(&a->ss, 0, sizeof(a->ss));
	sun->sun_family = AF_UNIX;
	if (path[0] == '@') {
		/* abstract: sun_path[0] = 0, the name follows, no NUL */
		if (n < 2 || n > sizeof(sun->sun_path))
			return -EINVAL;
		memcpy(sun->sun_path + 1, path + 1, n - 1);
		a->len =
			(socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		return 0;
	}
	if (n == 0 || n >= sizeof(sun->sun_path))
		return -EINVAL;
	memcpy(sun->sun_path, path, n + 1);
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

static int resolve(const char *host, unsigned port, struct rfs_addr *a)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
	};
	struct addrinfo *res = NULL;
	int rc;

	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		switch (rc) {
		case EAI_NONAME:
#ifdef EAI_NODATA
		case EAI_NODATA:
#endif
		case EAI_FAIL:
		case EAI_AGAIN:
		case EAI_ADDRFAMILY:
			return -ENOENT;
		case EAI_MEMORY:
			return -ENOMEM;
		default:
			return -EINVAL;
		}
	}
	if (!res || res->ai_addrlen > sizeof(a->ss)) {
		rc = -ENOENT;
		goto out_free;
	}
	memset(&a->ss, 0, sizeof(a->ss));
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	if (a->ss.ss_family == AF_INET) {
		((struct sockaddr_in *)&a->ss)->sin_port =
			htons((uint16_t)port);
	} else if (a->ss.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&a->ss)->sin6_port =
			htons((uint16_t)port);
	} else {
		rc = -EINVAL;
		goto out_free;
	}
	rc = 0;
out_free:
	freeaddrinfo(res);
	return rc;
}

int rfs_addr_parse(const char *s, unsigned default_port, struct rfs_addr *a)
{
	char host[256];
	const char *port_s = NULL;
	unsigned port = default_port;
	const char *colon;
	size_t hlen;
	int rc;

	if (!s || !*s || !a)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	snprintf(a->text, sizeof(a->text), "%s", s);

	if (!strncmp(s, "unix:", 5))
		return parse_unix(s + 5, a);

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return -EINVAL;
		hlen = (size_t)(close - s - 1);
		if (close[1] == ':')
			port_s = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		/* brackets are for IPv6 literals only */
		{
			struct in6_addr tmp;

			if (inet_pton(AF_INET6, host, &tmp) != 1)
				return -EINVAL;
		}
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon) {
			/* several colons, no brackets: a bare v6 literal */
			colon = NULL;
		}
		hlen = colon ? (size_t)(colon - s) : strlen(s);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		if (colon)
			port_s = colon + 1;
		if (!strcmp(host, "*") || (colon && hlen == 0))
			snprintf(host, sizeof(host), "0.0.0.0");
	}

	if (port_s) {
		rc = parse_port(port_s, &port);
		if (rc)
			return rc;
	}
	if (port == 0 || port > 65535)
		return -EINVAL;
	if (!host[0])
		return -EINVAL;
	return resolve(host, port, a);
}

int rfs_addr_split_source(const char *src, char *addr, size_t addr_sz,
			  char *export, size_t export_sz)
{
	const char *sep = NULL;
	const char *p;
	size_t alen, elen;

	if (!src || !addr || !export || !addr_sz || !export_sz)
		return -EINVAL;
	for (p = strstr(src, ":/"); p; p = strstr(p + 1, ":/"))
		sep = p;
	if (!sep)
		return -EINVAL;
	alen = (size_t)(sep - src);
	if (alen == 0 || alen >= addr_sz)
		return -EINVAL;
	/* "unix:/path" alone: the only ":/" is the scheme's */
	if (alen == 4 && !strncmp(src, "unix", 4))
		return -EINVAL;
	p = sep + 2;
	while (*p == '/')
		p++;
	elen = strlen(p);
	while (elen > 0 && p[elen - 1] == '/')
		elen--;
	if (elen >= export_sz)
		return -EINVAL;
	memcpy(addr, src, alen);
	addr[alen] = '\0';
	memcpy(export, p, elen);
	export[elen] = '\0';
	return 0;
}

void rfs_addr_fmt(const struct sockaddr *sa, socklen_t len, char *out,
		  size_t outsz)
{
	char ip[INET6_ADDRSTRLEN];

	if (!out || !outsz)
		return;
	if (!sa || len < sizeof(sa_family_t)) {
		snprintf(out, outsz, "?");
		return;
	}
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)sa;

		if (!inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)))
			snprintf(ip, sizeof(ip), "?");
		snprintf(out, outsz, "%s:%u", ip, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (!inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)))
			snprintf(ip, sizeof(ip), "?");
		snprintf(out, outsz, "[%s]:%u", ip, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;

		if (n > sizeof(un->sun_path))
			n = sizeof(un->sun_path);
		if (n == 0 || (un->sun_path[0] == '\0' && n == 1))
			snprintf(out, outsz, "unix:(unnamed)");
		else if (un->sun_path[0] == '\0')
			snprintf(out, outsz, "unix:@%.*s", (int)(n - 1),
				 un->sun_path + 1);
		else
			snprintf(out, outsz, "unix:%.*s",
				 (int)strnlen(un->sun_path, n), un->sun_path);
		break;
	}
	default:
		snprintf(out, outsz, "?(family %d)", sa->sa_family);
		break;
	}
}

bool rfs_addr_is_loopback(const struct rfs_addr *a)
{
	if (!a)
		return false;
	switch (a->ss.ss_family) {
	case AF_UNIX:
		return true; /* always the same host */
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)&a->ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)&a->ss;
		const uint8_t *b = in6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	default:
		return false;
	}
}

int rfs_addr_bind_resvport(int fd, int family, unsigned *next)
{
	const unsigned span = RFS_RESVPORT_HI - RFS_RESVPORT_LO + 1;
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return -errno;
	for (unsigned i = 0; i < span; i++) {
		unsigned port = RFS_RESVPORT_LO + (*next + i) % span;

		memset(&ss, 0, sizeof(ss));
		if (family == AF_INET) {
			struct sockaddr_in *in = (void *)&ss;

			in->sin_family = AF_INET;
			in->sin_addr.s_addr = htonl(INADDR_ANY);
			in->sin_port = htons((uint16_t)port);
			len = sizeof(*in);
		} else {
			struct sockaddr_in6 *in6 = (void *)&ss;

			in6->sin6_family = AF_INET6;
			in6->sin6_addr = in6addr_any;
			in6->sin6_port = htons((uint16_t)port);
			len = sizeof(*in6);
		}
		if (bind(fd, (const struct sockaddr *)&ss, len) == 0) {
			*next = (*next + i + 1) % span;
			return (int)port;
		}
		if (errno != EADDRINUSE)
			return -errno;
	}
	return -EADDRINUSE;
}
