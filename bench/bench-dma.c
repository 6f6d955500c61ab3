/*
 * vfu-bench DMA section: server-side vfu_dma_read() / vfu_dma_write()
 * throughput in each access mode, at 4 KiB, 64 KiB and 1 MiB, with the
 * client library serving guest RAM:
 *   mmap             memfd RAM, dma-access=mmap        vs memcpy
 *   file-io-memfd    memfd RAM, dma-access=file-io     vs pread/pwrite memfd
 *   file-io-procmem  anonymous RAM, dma-access=file-io vs pread/pwrite
 *                    (/proc/self/mem)                     /proc/self/mem
 *   message          anonymous RAM, dma-access=message vs socket streaming
 * Message mode involves the client's receive thread, so it is measured in
 * both CPU placements; the others only with the server on its own CPU.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include "bench.h"

typedef struct DmaMode {
    const char *name;
    VFIOUserDMAAccess policy;
    BenchRam ram;
    const char *limit; /* printf format: direction name, size */
} DmaMode;

static const DmaMode modes[] = {
    { "mmap", VFIO_USER_DMA_ACCESS_MMAP, BENCH_RAM_MEMFD,
      "limit.memcpy.%.0s%" PRIu64 },
    { "file-io-memfd", VFIO_USER_DMA_ACCESS_FILE_IO, BENCH_RAM_MEMFD,
      "limit.memfd.%s.%" PRIu64 },
    { "file-io-procmem", VFIO_USER_DMA_ACCESS_FILE_IO, BENCH_RAM_ANON,
      "limit.procmem.%s.%" PRIu64 },
    { "message", VFIO_USER_DMA_ACCESS_MESSAGE, BENCH_RAM_ANON, NULL },
};

static const uint64_t sizes[] = { 4 * KiB, 64 * KiB, 1 * MiB };

typedef struct DmaArgs {
    BenchConn *conn;
    BenchDmaRun run;
} DmaArgs;

static bool dma_batch(void *opaque, uint64_t iters, double *ns, GError **errp)
{
    DmaArgs *a = opaque;

    a->run.count = iters;
    a->run.seed++;
    if (!bench_conn_dma(a->conn, &a->run, errp)) {
        return false;
    }
    *ns = (double)a->run.ns;
    return true;
}

static void dma_figure(BenchConn *c, const DmaMode *m, BenchPlacement pl,
                       bool is_write, uint64_t size)
{
    const char *dir = is_write ? "write" : "read";
    const char *pn = bench_placement_name(pl);
    DmaArgs a = { .conn = c, .run = { .is_write = is_write, .len = size } };
    g_autoptr(GError) err = NULL;
    g_autofree char *key = g_strdup_printf("dma.%s.%s.%" PRIu64 ".%s",
                                           m->name, dir, size, pn);
    g_autofree char *label = g_strdup_printf("%s %s %s (%s)", m->name, dir,
                                             bench_size_name(size), pn);
    g_autofree char *limit = NULL;
    double ns;

    if (m->limit) {
        limit = g_strdup_printf(m->limit, is_write ? "pwrite" : "pread",
                                size);
    } else {
        limit = g_strdup_printf("limit.sock_stream.%s", pn);
    }
    if (!bench_measure(dma_batch, &a, UINT64_MAX, &ns, &err)) {
        bench_add_error("dma", label, err);
        return;
    }
    bench_add("dma", key, label, "MiB/s", bench_mib_s(size, ns), limit);
    if (size == 4 * KiB) {
        g_autofree char *k2 = g_strdup_printf("%s.ns", key);
        g_autofree char *l2 = g_strdup_printf("%s %s 4 KiB op (%s)", m->name,
                                              dir, pn);

        bench_add("dma", k2, l2, "ns/op", ns, NULL);
    }
}

static void dma_mode(const DmaMode *m, BenchPlacement pl)
{
    g_autoptr(GError) err = NULL;
    BenchConn c;

    if (!bench_conn_open(&c, bench_placement_client_cpu(pl),
                         bench_placement_server_cpu(pl), m->policy, m->ram,
                         &err)) {
        bench_add_error("dma", m->name, err);
        bench_pin(-1);
        return;
    }
    for (int w = 0; w < 2; w++) {
        for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
            dma_figure(&c, m, pl, w, sizes[i]);
        }
    }
    bench_conn_close(&c);
    bench_pin(-1);
}

void bench_dma(void)
{
    BenchPlacement own = bench_placement_available(BENCH_SPLIT_CPU)
                             ? BENCH_SPLIT_CPU
                             : BENCH_SAME_CPU;

    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        bool message = modes[i].policy == VFIO_USER_DMA_ACCESS_MESSAGE;

        if (message && bench_placement_available(BENCH_SAME_CPU) &&
            own != BENCH_SAME_CPU) {
            dma_mode(&modes[i], BENCH_SAME_CPU);
        }
        dma_mode(&modes[i], own);
    }
}
