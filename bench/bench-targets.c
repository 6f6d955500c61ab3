/*
 * vfu-bench targets: the goals of the benchmark issue, each computed from
 * two measured figures and reported as met or not met.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include "bench.h"

/*
 * The ratio of @key to its limit (measured next to it when paired), or
 * when @base is given @key / @base; @inverse turns it over (for ns/op
 * figures, where less is faster).  Judged on the fastest batches, which
 * other load on the machine disturbs least; the median ratio is shown
 * next to it.
 */
static void target(const char *name, const char *key, const char *base,
                   bool inverse, double threshold, bool at_least)
{
    const BenchResult *a = bench_find(key), *b = base ? bench_find(base) : NULL;
    double v = 0, med = 0;
    bool ok;

    if (base) {
        ok = a && b && a->best > 0 && b->best > 0 && b->value > 0;
        v = ok ? a->best / b->best : 0;
        med = ok ? a->value / b->value : 0;
    } else {
        ok = bench_ratio_best(key, &v) && bench_ratio(key, &med);
    }
    if (ok && inverse) {
        v = 1 / v;
        med = 1 / med;
    }
    bench_add_target(name, v, med, threshold, at_least, ok);
}

/*
 * Under the unbatched posted-write target: what it would be with both
 * kinds of write at the socket's floor (raw round trip / raw one-way of
 * the same 36-byte message, measured as a pair in this run).
 */
static void ceiling(const char *pn)
{
    g_autofree char *n =
        g_strdup_printf("its ceiling: raw %u B round trip / raw one-way (%s)",
                        BENCH_POSTED_MSG_BYTES, pn);
    g_autofree char *k = g_strdup_printf("region.posted_ceiling.%s", pn);
    double v = 0, med = 0;
    bool ok = bench_ratio_best(k, &v) && bench_ratio(k, &med);

    bench_add_bound(n, "ceiling", v, med, ok);
}

/*
 * Under the REGION_READ targets: a raw round trip with both sides waiting
 * as the libraries must (fd-capable receives, a receive timeout on the
 * client) over the raw round trip; no library code can go below it.
 */
static void floor_rtt(const char *pn)
{
    g_autofree char *n = g_strdup_printf(
        "its floor: round trip as the libraries wait / raw (%s)", pn);
    g_autofree char *k = g_strdup_printf("region.rtt_floor.%s", pn);
    double v = 0, med = 0;
    bool ok = bench_ratio_best(k, &v) && bench_ratio(k, &med);

    bench_add_bound(n, "floor", v, med, ok);
}

static void targets_dma(const char *own)
{
    static const char *const dirs[] = {"read", "write"};
    static const uint64_t big[] = {64 * KiB, 1 * MiB};
    static const uint64_t fio[] = {4 * KiB, 1 * MiB};
    static const char *const fio_kind[] = {
        "file-io-memfd",
        "file-io-procmem",
    };

    for (int d = 0; d < 2; d++) {
        const char *raw = d ? "pwrite" : "pread";

        for (int s = 0; s < 2; s++) {
            g_autofree char *n = g_strdup_printf("mmap %s %s / memcpy", dirs[d],
                                                 bench_size_name(big[s]));
            g_autofree char *k = g_strdup_printf("dma.mmap.%s.%" PRIu64 ".%s",
                                                 dirs[d], big[s], own);

            target(n, k, NULL, false, 0.9, true);
        }
        for (int f = 0; f < 2; f++) {
            for (int s = 0; s < 2; s++) {
                g_autofree char *n =
                    g_strdup_printf("%s %s %s / %s loop", fio_kind[f], dirs[d],
                                    bench_size_name(fio[s]), raw);
                g_autofree char *k =
                    g_strdup_printf("dma.%s.%s.%" PRIu64 ".%s", fio_kind[f],
                                    dirs[d], fio[s], own);

                target(n, k, NULL, false, 0.9, true);
            }
        }
    }
}

static void targets_fileio_vs_message(const char *own)
{
    for (int d = 0; d < 2; d++) {
        const char *dir = d ? "write" : "read";
        g_autofree char *n = g_strdup_printf(
            "file-io-procmem %s 4 KiB op / message (%s)", dir, own);
        g_autofree char *k =
            g_strdup_printf("dma.file-io-procmem.%s.4096.%s", dir, own);
        g_autofree char *b =
            g_strdup_printf("dma.message.%s.4096.%s", dir, own);

        target(n, k, b, false, 20, true);
    }
}

static void targets_placement(BenchPlacement pl)
{
    const char *pn = bench_placement_name(pl);

    for (int i = 0; i < 4; i++) {
        const char *dir = i & 1 ? "write" : "read";
        bool vec = i >= 2; /* 4 transfers per vectored call */
        g_autofree char *n =
            g_strdup_printf("message %s 1 MiB%s / socket streaming (%s)", dir,
                            vec ? ", 4 per call" : "", pn);
        g_autofree char *k = g_strdup_printf("dma.message.%s.1048576%s.%s", dir,
                                             vec ? ".v4" : "", pn);

        target(n, k, NULL, false, 0.9, true);
    }
    for (int r = 0; r < 2; r++) {
        const char *what = r ? "config" : "bar";
        g_autofree char *n = g_strdup_printf(
            "%s REGION_READ 4 B / socket round trip (%s)", what, pn);
        g_autofree char *k = g_strdup_printf("region.%s_read.%s", what, pn);

        target(n, k, NULL, false, 1.05, false);
    }
    floor_rtt(pn);
    for (int b = 0; b < 2; b++) {
        g_autofree char *n =
            g_strdup_printf("%sposted / non-posted write throughput (%s)",
                            b ? "batched " : "", pn);
        g_autofree char *k =
            g_strdup_printf("region.%s_write.%s", b ? "batched" : "posted", pn);

        target(n, k, NULL, true, 10, true);
        if (!b) {
            ceiling(pn);
        }
    }
}

void bench_targets(void)
{
    const char *own =
        bench_placement_available(BENCH_SPLIT_CPU) ? "split" : "same";

    targets_dma(own);
    targets_fileio_vs_message(own);
    for (int p = BENCH_SAME_CPU; p <= BENCH_SPLIT_CPU; p++) {
        if (bench_placement_available(p)) {
            targets_placement(p);
        }
    }
}
