/*
 * vfu-bench scale section: SCALE_CONNS server processes and as many client
 * connections in this process.  Start-up time (fork + connect + VERSION +
 * device set-up + DMA map), client RSS and descriptors, then message-mode
 * DMA on every connection at once (one client thread each) against the
 * same on one connection alone.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include "bench.h"

#define SCALE_CONNS 32
#define SCALE_XFER (64 * KiB)

typedef struct ScaleJob {
    BenchConn *conn;
    uint64_t count;
    GError *err;
} ScaleJob;

static gpointer scale_thread(gpointer opaque)
{
    ScaleJob *j = opaque;
    BenchDmaRun run = {
        .len = SCALE_XFER,
        .count = j->count,
        .seed = 7,
    };

    bench_conn_dma(j->conn, &run, &j->err);
    return NULL;
}

/* All connections at once: MiB/s over the wall time of the slowest. */
static bool scale_parallel(BenchConn *c, int n, uint64_t count, double *mib_s,
                           GError **errp)
{
    ScaleJob jobs[SCALE_CONNS] = {0};
    GThread *th[SCALE_CONNS];
    uint64_t t0 = bench_now_ns(), t1;
    bool ok = true;

    for (int i = 0; i < n; i++) {
        jobs[i] = (ScaleJob){.conn = &c[i], .count = count};
        th[i] = g_thread_new("vfu-bench-scale", scale_thread, &jobs[i]);
    }
    for (int i = 0; i < n; i++) {
        g_thread_join(th[i]);
    }
    t1 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        if (jobs[i].err && ok) {
            g_propagate_error(errp, jobs[i].err);
            ok = false;
        } else {
            g_clear_error(&jobs[i].err);
        }
    }
    *mib_s = bench_mib_s((uint64_t)n * count * SCALE_XFER, (double)(t1 - t0));
    return ok;
}

static void scale_dma(BenchConn *c, int n)
{
    BenchDmaRun run = {.len = SCALE_XFER, .count = 1};
    g_autoptr(GError) err = NULL;
    uint64_t count;
    double one, all, t0;

    /* One connection alone, sized to a batch. */
    t0 = (double)bench_now_ns();
    if (!bench_conn_dma(&c[0], &run, &err)) {
        bench_add_error("scale", "DMA on one connection", err);
        return;
    }
    count =
        (uint64_t)MAX(1.0, bench_cfg.batch_ns / ((double)bench_now_ns() - t0));
    if (!scale_parallel(c, 1, count, &one, &err) ||
        !scale_parallel(c, n, count, &all, &err)) {
        bench_add_error("scale", "DMA on all connections", err);
        return;
    }
    bench_add("scale", "scale.dma.one", "message read 64 KiB, 1 connection",
              "MiB/s", one, NULL);
    bench_add("scale", "scale.dma.all", "message read 64 KiB, all at once",
              "MiB/s", all, "scale.dma.one");
}

void bench_scale(void)
{
    BenchConn c[SCALE_CONNS];
    g_autoptr(GError) err = NULL;
    uint64_t rss0 = bench_rss_bytes(), t0 = bench_now_ns(), t1;
    unsigned fds0 = bench_fd_count();
    int spawned = 0, connected = 0;

    for (; spawned < SCALE_CONNS; spawned++) {
        if (!bench_server_spawn(&c[spawned], -1, &err)) {
            break;
        }
    }
    for (; !err && connected < spawned; connected++) {
        if (!bench_conn_connect(&c[connected], VFIO_USER_DMA_ACCESS_MESSAGE,
                                BENCH_RAM_ANON, &err)) {
            break;
        }
    }
    t1 = bench_now_ns();
    if (err) {
        bench_add_error("scale", "start-up", err);
    } else {
        bench_add("scale", "scale.conns", "connections", "count", SCALE_CONNS,
                  NULL);
        bench_add("scale", "scale.startup", "start-up of all (fork+connect)",
                  "ms", (double)(t1 - t0) / 1e6, NULL);
        bench_add("scale", "scale.rss",
                  "client RSS added (incl. 2 MiB RAM each)", "KiB",
                  ((double)bench_rss_bytes() - (double)rss0) / 1024, NULL);
        bench_add("scale", "scale.fds", "client fds added", "fds",
                  (double)bench_fd_count() - (double)fds0, NULL);
        scale_dma(c, SCALE_CONNS);
    }
    for (int i = 0; i < spawned; i++) {
        bench_conn_close(&c[i]);
    }
}
