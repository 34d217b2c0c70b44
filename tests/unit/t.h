/* SPDX-License-Identifier: MIT */
/* The assertions live in tests/lib/t.h; this name stays for the tests
 * that include "t.h" from here (test_proto, perfcount_test). */
#include "../lib/t.h"
