// SPDX-License-Identifier: MIT
/* tlib_test: the test library's ready-line parser (suite 'unit'). */
#include <string.h>

#include "tlib.h"

static void parses(const char *line, const char *host, unsigned port)
{
	char h[64] = "";
	unsigned p = 0;

	T_CHECK(t_ready_parse(line, h, sizeof(h), &p) == 1, "'%s'", line);
	T_CHECK(!strcmp(h, host) && p == port, "'%s': host '%s' port %u", line,
		h, p);
}

static void rejects(const char *line, int want)
{
	char h[8] = "";
	unsigned p = 0;
	int ret = t_ready_parse(line, h, sizeof(h), &p);

	T_CHECK(ret == want, "'%s': %d, want %d", line, ret, want);
	T_CHECK(p == 0, "'%s': port %u set", line, p);
}

int main(void)
{
	parses("ringfsd: listening on 127.0.0.1:7070 (transport uring), "
	       "exports: data=/srv/data",
	       "127.0.0.1", 7070);
	parses("ringfsd: listening on 10.0.0.1:1 and unix:/tmp/x.sock "
	       "(transport tcp), exports: a=/a",
	       "10.0.0.1", 1);
	parses("ringfsd: listening on [::1]:65535 (transport tcp), "
	       "exports: a=/a",
	       "::1", 65535);
	parses("  [ringfsd] ringfsd: listening on 127.0.0.1:40000 "
	       "(transport tcp, rdma 10.0.0.2 (one listener)), exports: a=/a",
	       "127.0.0.1", 40000);
	/* not the ready line */
	rejects("ringfsd: export a: /srv/a", 0);
	rejects("ringfsd: listening on 0.0.0.0:7070 needs a key: anyone "
		"who can reach it could use the exports",
		0);
	/* the ready line, broken */
	rejects("ringfsd: listening on 127.0.0.1:0 (transport tcp)", -1);
	rejects("ringfsd: listening on 127.0.0.1:70000 (transport tcp)", -1);
	rejects("ringfsd: listening on 127.0.0.1 (transport tcp)", -1);
	rejects("ringfsd: listening on 127.0.0.1:7x (transport tcp)", -1);
	rejects("ringfsd: listening on [::1 (transport tcp)", -1);
	rejects("ringfsd: listening on :7070 (transport tcp)", -1);
	/* a host longer than the caller's buffer (8 bytes) */
	rejects("ringfsd: listening on 192.168.100.100:7 (transport tcp)", -1);
	T_DONE();
}
