/*
 * vfu-bench memory section: heap allocations per operation on the hot
 * paths (server DMA in each access mode, region accesses), counted in the
 * client process and in the server process over bench_cfg.alloc_ops
 * operations, and the client memory one connection costs (heap, RSS and
 * descriptors of a proxy + container + device).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <malloc.h>
#include <stdio.h>
#include "bench.h"

#define MEM_CONNS 8

static const struct {
    const char *name;
    VFIOUserDMAAccess policy;
    BenchRam ram;
} modes[] = {
    {"mmap", VFIO_USER_DMA_ACCESS_MMAP, BENCH_RAM_MEMFD},
    {"file-io-memfd", VFIO_USER_DMA_ACCESS_FILE_IO, BENCH_RAM_MEMFD},
    {"file-io-procmem", VFIO_USER_DMA_ACCESS_FILE_IO, BENCH_RAM_ANON},
    {"message", VFIO_USER_DMA_ACCESS_MESSAGE, BENCH_RAM_ANON},
};

static void add_allocs(const char *what, const char *side, double per_op)
{
    g_autofree char *key = g_strdup_printf("memory.allocs.%s.%s", what, side);
    g_autofree char *label = g_strdup_printf("allocs/op %s (%s)", what, side);

    bench_add("memory", key, label, "allocs/op", per_op, NULL);
}

static void memory_dma_mode(size_t m)
{
    g_autoptr(GError) err = NULL;
    uint64_t n = bench_cfg.alloc_ops;
    BenchConn c;

    if (!bench_conn_open(&c, -1, -1, modes[m].policy, modes[m].ram, &err)) {
        bench_add_error("memory", modes[m].name, err);
        return;
    }
    for (int w = 0; w < 2; w++) {
        BenchDmaRun run = {.is_write = w, .len = 4 * KiB, .count = n};
        g_autofree char *what = g_strdup_printf("dma.%s.%s.4096", modes[m].name,
                                                w ? "write" : "read");
        uint64_t a0 = bench_alloc_count();

        if (!bench_conn_dma(&c, &run, &err)) {
            bench_add_error("memory", what, err);
            break;
        }
        add_allocs(what, "client",
                   (double)(bench_alloc_count() - a0) / (double)n);
        add_allocs(what, "server", (double)run.server_allocs / (double)n);
    }
    bench_conn_close(&c);
}

static bool region_loop(BenchConn *c, int op, uint64_t n, GError **errp)
{
    VFIOUserDevice *dev = &c->dev;
    uint32_t v = 0;
    bool ok = true;

    for (uint64_t i = 0; ok && i < n; i++) {
        switch (op) {
        case 0:
            ok = vfio_user_region_read(dev, VFIO_PCI_BAR0_REGION_INDEX,
                                       BENCH_REG_SCRATCH, &v, 4, errp);
            break;
        case 1:
            ok = vfio_user_region_read(dev, VFIO_PCI_CONFIG_REGION_INDEX, 0, &v,
                                       4, errp);
            break;
        default:
            ok =
                vfio_user_region_write(dev, VFIO_PCI_BAR0_REGION_INDEX,
                                       BENCH_REG_SCRATCH, &v, 4, op >= 3, errp);
            break;
        }
    }
    vfio_user_device_flush(dev);
    return ok;
}

static void memory_region(void)
{
    static const char *const names[] = {
        "bar_read", "config_read", "bar_write", "posted_write", "batched_write",
    };
    g_autoptr(GError) err = NULL;
    uint64_t n = bench_cfg.alloc_ops;
    BenchConn c;

    if (!bench_conn_open(&c, -1, -1, VFIO_USER_DMA_ACCESS_AUTO, BENCH_RAM_NONE,
                         &err)) {
        bench_add_error("memory", "region", err);
        return;
    }
    for (int op = 0; op < (int)G_N_ELEMENTS(names); op++) {
        g_autofree char *what = g_strdup_printf("region.%s", names[op]);
        uint64_t s0 = bench_conn_server_allocs(&c, &err);
        uint64_t a0 = bench_alloc_count(), a1, s1;
        bool ok;

        c.dev.write_multi = op == 4;
        ok = region_loop(&c, op, n, &err);
        c.dev.write_multi = false;
        if (!ok) {
            bench_add_error("memory", what, err);
            break;
        }
        a1 = bench_alloc_count();
        /* This read also waits for the posted writes to be served. */
        s1 = bench_conn_server_allocs(&c, &err);
        add_allocs(what, "client", (double)(a1 - a0) / (double)n);
        add_allocs(what, "server", (double)(s1 - s0) / (double)n);
    }
    bench_conn_close(&c);
}

typedef struct MemSnap {
    uint64_t heap, rss;
    unsigned fds;
} MemSnap;

static void mem_snap(MemSnap *s)
{
    struct mallinfo2 mi = mallinfo2();

    s->heap = mi.uordblks + mi.hblkhd;
    s->rss = bench_rss_bytes();
    s->fds = bench_fd_count();
}

/* Heap, RSS and fds of MEM_CONNS connections (no guest RAM), divided. */
static void memory_per_conn(void)
{
    BenchConn c[MEM_CONNS];
    g_autoptr(GError) err = NULL;
    MemSnap before, after;
    int spawned = 0, connected = 0;

    for (; spawned < MEM_CONNS; spawned++) {
        if (!bench_server_spawn(&c[spawned], -1, &err)) {
            break;
        }
    }
    mem_snap(&before);
    for (; err == NULL && connected < spawned; connected++) {
        if (!bench_conn_connect(&c[connected], VFIO_USER_DMA_ACCESS_AUTO,
                                BENCH_RAM_NONE, &err)) {
            break;
        }
    }
    mem_snap(&after);
    if (err) {
        bench_add_error("memory", "connections", err);
    } else {
        bench_add("memory", "memory.conn.heap", "client heap per connection",
                  "bytes", (double)(after.heap - before.heap) / MEM_CONNS,
                  NULL);
        bench_add("memory", "memory.conn.rss", "client RSS per connection",
                  "bytes", ((double)after.rss - (double)before.rss) / MEM_CONNS,
                  NULL);
        bench_add(
            "memory", "memory.conn.fds", "client fds per connection", "fds",
            ((double)after.fds - (double)before.fds) / MEM_CONNS + 1, NULL);
    }
    for (int i = 0; i < spawned; i++) {
        bench_conn_close(&c[i]);
    }
}

void bench_memory(void)
{
    /* Sanitizer builds cannot count (the report says so). */
    if (bench_alloc_counting()) {
        for (size_t m = 0; m < G_N_ELEMENTS(modes); m++) {
            memory_dma_mode(m);
        }
        memory_region();
    }
    memory_per_conn();
}
