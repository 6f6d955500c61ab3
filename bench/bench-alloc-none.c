/*
 * vfu-bench without the allocation counter: sanitizer builds bring their
 * own allocator, so malloc cannot be interposed; counts are reported as
 * unavailable.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bench.h"

uint64_t bench_alloc_count(void)
{
    return 0;
}

bool bench_alloc_counting(void)
{
    return false;
}
