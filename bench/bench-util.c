/*
 * vfu-bench helpers: configuration, CPU placement, the clock, the
 * measurement loop (warm-up, batch sizing, median of repetitions) and small
 * utilities (checksums, RSS, fd count).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

BenchConfig bench_cfg;
static cpu_set_t start_cpus;

void bench_config_init(bool quick)
{
    int found = 0;

    bench_cfg.quick = quick;
    /* Many short batches: a paired limit then sees the same load. */
    bench_cfg.batch_ns = quick ? 2e6 : 10e6;
    bench_cfg.reps = quick ? 3 : 15;
    bench_cfg.alloc_ops = quick ? 2000 : 100000;
    bench_cfg.cpu_a = bench_cfg.cpu_b = -1;
    bench_cfg.load_start = bench_loadavg();
    CPU_ZERO(&start_cpus);
    if (sched_getaffinity(0, sizeof(start_cpus), &start_cpus) < 0) {
        return;
    }
    for (int i = 0; i < CPU_SETSIZE && found < 2; i++) {
        if (CPU_ISSET(i, &start_cpus)) {
            if (found++ == 0) {
                bench_cfg.cpu_a = i;
            } else {
                bench_cfg.cpu_b = i;
            }
        }
    }
}

const char *bench_placement_name(BenchPlacement p)
{
    return p == BENCH_SAME_CPU ? "same" : "split";
}

bool bench_placement_available(BenchPlacement p)
{
    return p == BENCH_SAME_CPU ? bench_cfg.cpu_a >= 0 : bench_cfg.cpu_b >= 0;
}

int bench_placement_client_cpu(BenchPlacement p)
{
    (void)p;
    return bench_cfg.cpu_a;
}

int bench_placement_server_cpu(BenchPlacement p)
{
    return p == BENCH_SAME_CPU ? bench_cfg.cpu_a : bench_cfg.cpu_b;
}

void bench_pin(int cpu)
{
    cpu_set_t set;

    if (cpu < 0) {
        set = start_cpus;
    } else {
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
    }
    if (CPU_COUNT(&set) && sched_setaffinity(0, sizeof(set), &set) < 0) {
        fprintf(stderr, "vfu-bench: cannot pin to CPU %d: %s\n", cpu,
                g_strerror(errno));
    }
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Grow the batch until it lasts about batch_ns (this is the warm-up). */
static bool bench_size_batch(BenchBatchFn fn, void *opaque, uint64_t max_iters,
                             uint64_t *iters, GError **errp)
{
    uint64_t n = 1;
    double ns = 0;

    for (;;) {
        if (!fn(opaque, n, &ns, errp)) {
            return false;
        }
        if (ns >= bench_cfg.batch_ns / 2 || n >= max_iters) {
            break;
        }
        n *= ns < bench_cfg.batch_ns / 64 ? 16 : 2;
        n = MIN(n, max_iters);
    }
    if (ns > 0 && ns < bench_cfg.batch_ns) {
        n = (uint64_t)((double)n * bench_cfg.batch_ns / ns);
    }
    *iters = MAX(1, MIN(n, max_iters));
    return true;
}

bool bench_measure(BenchBatchFn fn, void *opaque, uint64_t max_iters,
                   double *ns_per_op, GError **errp)
{
    double per_op[64];
    int reps = MIN(bench_cfg.reps, (int)G_N_ELEMENTS(per_op));
    uint64_t iters;

    if (!bench_size_batch(fn, opaque, max_iters, &iters, errp)) {
        return false;
    }
    for (int i = 0; i < reps; i++) {
        double ns;

        if (!fn(opaque, iters, &ns, errp)) {
            return false;
        }
        per_op[i] = ns / (double)iters;
    }
    qsort(per_op, reps, sizeof(per_op[0]), cmp_double);
    *ns_per_op = per_op[reps / 2];
    return true;
}

bool bench_measure_pair(BenchBatchFn fa, void *a, BenchBatchFn fb, void *b,
                        BenchStat *sa, BenchStat *sb, GError **errp)
{
    double pa[64], pb[64];
    int reps = MIN(bench_cfg.reps, (int)G_N_ELEMENTS(pa));
    uint64_t ia, ib;

    if (!bench_size_batch(fa, a, UINT64_MAX, &ia, errp) ||
        !bench_size_batch(fb, b, UINT64_MAX, &ib, errp)) {
        return false;
    }
    for (int i = 0; i < reps; i++) {
        double ns;

        if (!fa(a, ia, &ns, errp)) {
            return false;
        }
        pa[i] = ns / (double)ia;
        if (!fb(b, ib, &ns, errp)) {
            return false;
        }
        pb[i] = ns / (double)ib;
    }
    qsort(pa, reps, sizeof(pa[0]), cmp_double);
    qsort(pb, reps, sizeof(pb[0]), cmp_double);
    *sa = (BenchStat){.median = pa[reps / 2], .best = pa[0]};
    *sb = (BenchStat){.median = pb[reps / 2], .best = pb[0]};
    return true;
}

double bench_mib_s(uint64_t bytes, double ns_per_op)
{
    return ns_per_op > 0 ? (double)bytes / ns_per_op * 1e9 / (double)MiB : 0;
}

double bench_in_unit(uint64_t bytes, double ns_per_op)
{
    return bytes ? bench_mib_s(bytes, ns_per_op) : ns_per_op;
}

const char *bench_size_name(uint64_t bytes)
{
    static char buf[4][32];
    static int next;
    char *b = buf[next++ % 4];

    if (bytes >= MiB && bytes % MiB == 0) {
        snprintf(b, sizeof(buf[0]), "%llu MiB",
                 (unsigned long long)(bytes / MiB));
    } else if (bytes >= KiB && bytes % KiB == 0) {
        snprintf(b, sizeof(buf[0]), "%llu KiB",
                 (unsigned long long)(bytes / KiB));
    } else {
        snprintf(b, sizeof(buf[0]), "%llu B", (unsigned long long)bytes);
    }
    return b;
}

uint64_t bench_checksum(const void *buf, size_t len)
{
    const uint64_t *p = buf;
    uint64_t h = 0xcbf29ce484222325ull;

    /* Word-wise FNV-1a: enough to catch a wrong or missing copy. */
    for (size_t i = 0; i < len / 8; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    for (size_t i = len & ~(size_t)7; i < len; i++) {
        h = (h ^ ((const uint8_t *)buf)[i]) * 0x100000001b3ull;
    }
    return h;
}

void bench_fill(void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    uint8_t *p = buf;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

uint64_t bench_rss_bytes(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "re");

    if (!f) {
        return 0;
    }
    if (fscanf(f, "%llu %llu", &size, &resident) != 2) {
        resident = 0;
    }
    fclose(f);
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

double bench_loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "re");

    if (f) {
        if (fscanf(f, "%lf", &l) != 1) {
            l = -1;
        }
        fclose(f);
    }
    return l;
}

unsigned bench_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    unsigned n = 0;

    if (!d) {
        return 0;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n - 1; /* the directory's own fd */
}
