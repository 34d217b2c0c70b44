/* SPDX-License-Identifier: MIT */
/*
 * t.h: the assertions of every C test, in the style of liburing's tests.
 *
 * T_OK(cond), T_EQ(a, b) and T_CHECK(cond, fmt, ...) count; a failed one
 * prints file:line, the expression and (T_EQ, T_CHECK) the values, and
 * the test goes on.  T_SKIP(fmt, ...) exits T_EXIT_SKIP (77) with the
 * reason; T_DONE() prints "N passed, M failed" and returns the exit
 * status from main.  Fatal errors of the harness itself: t_die() in
 * tlib.h.
 *
 * Header-only (programs that need no test library include just this):
 * the counters belong to the file that includes it, so count in one
 * file per program.  Failures go to T_FAIL_STREAM, stderr unless the
 * test defines it first (test_log captures stderr).
 */
#ifndef RFS_T_H_
#define RFS_T_H_

#include <stdio.h>
#include <stdlib.h>

enum t_exit {
	T_EXIT_PASS = 0,
	T_EXIT_FAIL = 1,
	T_EXIT_SKIP = 77,
};

#ifndef T_FAIL_STREAM
#define T_FAIL_STREAM stderr
#endif

static int t_passed __attribute__((unused));
static int t_failed __attribute__((unused));

#define T_OK(cond)                                                            \
	do {                                                                  \
		if (cond) {                                                   \
			t_passed++;                                           \
		} else {                                                      \
			t_failed++;                                           \
			fprintf(T_FAIL_STREAM, "%s:%d: FAIL: %s\n", __FILE__, \
				__LINE__, #cond);                             \
		}                                                             \
	} while (0)

/* integers compared as long long, both values printed on failure */
#define T_EQ(a, b)                                                        \
	do {                                                              \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);   \
		if (t_a_ == t_b_) {                                       \
			t_passed++;                                       \
		} else {                                                  \
			t_failed++;                                       \
			fprintf(T_FAIL_STREAM,                            \
				"%s:%d: FAIL: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, t_a_, t_b_);  \
		}                                                         \
	} while (0)

/* T_OK with a printf-style message saying what was seen */
#define T_CHECK(cond, ...)                                                    \
	do {                                                                  \
		if (cond) {                                                   \
			t_passed++;                                           \
		} else {                                                      \
			t_failed++;                                           \
			fprintf(T_FAIL_STREAM, "%s:%d: FAIL: %s: ", __FILE__, \
				__LINE__, #cond);                             \
			fprintf(T_FAIL_STREAM, __VA_ARGS__);                  \
			fprintf(T_FAIL_STREAM, "\n");                         \
		}                                                             \
	} while (0)

#define T_SKIP(...)                  \
	do {                         \
		printf("SKIP: ");    \
		printf(__VA_ARGS__); \
		printf("\n");        \
		exit(T_EXIT_SKIP);   \
	} while (0)

#define T_DONE()                                                      \
	do {                                                          \
		printf("%d passed, %d failed\n", t_passed, t_failed); \
		return t_failed ? T_EXIT_FAIL : T_EXIT_PASS;          \
	} while (0)

#endif /* RFS_T_H_ */
