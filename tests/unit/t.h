/* SPDX-License-Identifier: MIT */
/*
 * t.h: a tiny test harness.  Each check prints file:line and the failed
 * expression and counts; T_DONE() prints "N passed, M failed" and gives
 * the exit status (0 ok, 1 failed).  T_SKIP() exits 77 with a reason.
 */
#ifndef RFS_T_H
#define RFS_T_H

#include <stdio.h>
#include <stdlib.h>

static int t_passed __attribute__((unused));
static int t_failed __attribute__((unused));

#define T_OK(cond)                                                        \
	do {                                                              \
		if (cond) {                                               \
			t_passed++;                                       \
		} else {                                                  \
			t_failed++;                                       \
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__,    \
				__LINE__, #cond);                         \
		}                                                         \
	} while (0)

/* integers compared as long long, both values printed on failure */
#define T_EQ(a, b)                                                        \
	do {                                                              \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);   \
		if (t_a_ == t_b_) {                                       \
			t_passed++;                                       \
		} else {                                                  \
			t_failed++;                                       \
			fprintf(stderr,                                   \
				"%s:%d: FAIL: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, t_a_, t_b_);  \
		}                                                         \
	} while (0)

#define T_SKIP(...)                                                       \
	do {                                                              \
		printf("SKIP: ");                                         \
		printf(__VA_ARGS__);                                      \
		printf("\n");                                             \
		exit(77);                                                 \
	} while (0)

#define T_DONE()                                                          \
	do {                                                              \
		printf("%d passed, %d failed\n", t_passed, t_failed);     \
		return t_failed ? 1 : 0;                                  \
	} while (0)

#endif
