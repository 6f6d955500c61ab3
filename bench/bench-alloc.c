/*
 * vfu-bench allocation counter: malloc, calloc and realloc of the whole
 * process (glib's g_malloc family ends up here too) are counted and
 * forwarded to glibc's own allocator.  Being defined in the executable,
 * these definitions take the place of the C library's for every library
 * the benchmark links, in the parent and in the forked servers alike.
 *
 * Only built without sanitizers (they bring their own allocator); then
 * bench-alloc-none.c says that counts are not available.
 *
 * The counter is updated atomically (relaxed): any thread may allocate.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stddef.h>
#include "bench.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);

static uint64_t alloc_count;

static inline void count_one(void)
{
    __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
    count_one();
    return __libc_malloc(size);
}

void *calloc(size_t nmemb, size_t size)
{
    count_one();
    return __libc_calloc(nmemb, size);
}

void *realloc(void *ptr, size_t size)
{
    count_one();
    return __libc_realloc(ptr, size);
}

void free(void *ptr)
{
    __libc_free(ptr);
}

uint64_t bench_alloc_count(void)
{
    return __atomic_load_n(&alloc_count, __ATOMIC_RELAXED);
}

bool bench_alloc_counting(void)
{
    return true;
}
