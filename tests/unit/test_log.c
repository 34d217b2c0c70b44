// SPDX-License-Identifier: MIT
/*
 * test_log: message format, level filtering, RINGFS_DEBUG switches and
 * rate limiting (common/log.c).  stderr is redirected to a temporary file
 * so that what was printed can be checked.  The 5 s rate-limit window is
 * advanced by moving the limiter's window start back, not by sleeping.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* stderr is what is being tested: failures go to stdout */
#define T_FAIL_STREAM stdout
#include "t.h"

static FILE *cap;
static long cap_pos;

/* What was written to stderr since the last call. */
static char *captured(void)
{
	static char buf[65536];
	size_t n;

	fflush(stderr);
	fseek(cap, cap_pos, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, cap);
	buf[n] = '\0';
	cap_pos += (long)n;
	return buf;
}

static int count_lines(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_format(void)
{
	char *out;

	rfs_log_set_level(LOG_INFO);
	errno = EAGAIN;
	rfs_err("xprt: connect failed: %s", "why");
	T_OK(errno == EAGAIN); /* logging keeps errno */
	out = captured();
	T_OK(strcmp(out, "test_log: error: xprt: connect failed: why\n") == 0);

	rfs_warn("w %d", 1);
	rfs_info("i %d", 2);
	out = captured();
	T_OK(strcmp(out, "test_log: warning: w 1\ntest_log: info: i 2\n") == 0);

	rfs_log_set_level(LOG_WARNING);
	rfs_info("hidden");
	rfs_err("shown");
	out = captured();
	T_OK(strstr(out, "hidden") == NULL && strstr(out, "shown") != NULL);
	rfs_log_set_level(LOG_INFO);
}

static void test_debug(void)
{
	char *out;

	T_OK(!rfs_log_debug_on(RFS_SUB_XPRT));
	rfs_dbg(RFS_SUB_XPRT, "not shown");
	T_OK(captured()[0] == '\0');

	setenv("RINGFS_DEBUG", "xprt,proto", 1);
	rfs_log_init("test_log");
	T_OK(rfs_log_debug_on(RFS_SUB_XPRT) && rfs_log_debug_on(RFS_SUB_PROTO));
	T_OK(!rfs_log_debug_on(RFS_SUB_SERVER) &&
	     !rfs_log_debug_on(RFS_SUB_FUSE));
	rfs_dbg(RFS_SUB_XPRT, "dbg %d", 7);
	rfs_dbg(RFS_SUB_SERVER, "not this");
	out = captured();
	T_OK(strcmp(out, "test_log: debug: dbg 7\n") == 0);

	setenv("RINGFS_DEBUG", "all", 1);
	rfs_log_init("/usr/sbin/test_log"); /* basename taken */
	T_OK(rfs_log_debug_on(RFS_SUB_FUSE) &&
	     rfs_log_debug_on(RFS_SUB_CLIENT));
	rfs_dbg(RFS_SUB_CLIENT, "c");
	out = captured();
	T_OK(strcmp(out, "test_log: debug: c\n") == 0);

	setenv("RINGFS_DEBUG", "bogus", 1);
	rfs_log_init("test_log");
	out = captured();
	T_OK(strstr(out, "unknown subsystem 'bogus'") != NULL);
	unsetenv("RINGFS_DEBUG");
	rfs_log_set_level(LOG_INFO);
}

static void test_ratelimit(void)
{
	struct rfs_ratelimit rl = { 0 };
	int ok = 0;
	char *out;

	for (int i = 0; i < 25; i++)
		ok += rfs_ratelimit_ok(&rl);
	T_OK(ok == 10);
	T_OK(rl.suppressed == 15);
	T_OK(captured()[0] == '\0'); /* nothing until the window rolls */

	/* still inside the window: still suppressed */
	T_OK(!rfs_ratelimit_ok(&rl));
	T_OK(rl.suppressed == 16);

	/* 6 s later: one summary line, then messages pass again */
	rl.window_start_ns -= 6000000000LL;
	T_OK(rfs_ratelimit_ok(&rl));
	out = captured();
	T_OK(strcmp(out, "test_log: warning: log: 16 messages suppressed\n") ==
	     0);
	T_OK(rl.suppressed == 0 && rl.printed == 1);

	/* a window without suppression rolls silently */
	rl.window_start_ns -= 6000000000LL;
	T_OK(rfs_ratelimit_ok(&rl));
	T_OK(captured()[0] == '\0');

	/* the per-call-site macro: at most 10 lines per window */
	for (int i = 0; i < 40; i++)
		rfs_err_rl("rl test %d", i);
	out = captured();
	T_OK(count_lines(out, "rl test") == 10);
	T_OK(strstr(out, "rl test 9\n") != NULL);
	T_OK(strstr(out, "rl test 10\n") == NULL);
}

int main(void)
{
	char tmpl[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(tmpl);

	if (fd < 0 || unlink(tmpl)) {
		perror("mkstemp");
		return 1;
	}
	cap = fdopen(fd, "w+");
	if (!cap || dup2(fd, STDERR_FILENO) < 0) {
		perror("dup2");
		return 1;
	}
	unsetenv("RINGFS_DEBUG");
	rfs_log_init("test_log");
	test_format();
	test_debug();
	test_ratelimit();
	T_DONE();
}
