/*
 * vfu-bench DMA section: server-side vus_dma_read() / vus_dma_write()
 * throughput in each access mode, at 4 KiB, 64 KiB and 1 MiB, with the
 * client library serving guest RAM:
 *   mmap             memfd RAM, dma-access=mmap        vs memcpy
 *   file-io-memfd    memfd RAM, dma-access=file-io     vs pread/pwrite memfd
 *   file-io-procmem  anonymous RAM, dma-access=file-io vs pread/pwrite
 *                    (/proc/self/mem)                     /proc/self/mem
 *   message          anonymous RAM, dma-access=message vs socket streaming
 * Message mode involves the client's receive thread, so it is measured in
 * both CPU placements; the others only with the server on its own CPU.
 * Message mode at 1 MiB is also measured with 4 transfers per vectored call
 * (vus_dma_readv() / vus_dma_writev()), whose requests share the window.
 * Each figure's limit is measured again next to it, batches interleaved
 * (bench_measure_pair), so that the ratio survives a busy machine.
 *
 * The dma-sweep section (run only when asked for: --only dma-sweep) runs
 * message mode at 1 MiB with each request size and number of requests in
 * flight of the server (VusServerOptions dma_msg_chunk, dma_msg_window),
 * in place of any --dma-chunk / --dma-window.
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
    const char *file_kind; /* file-io: the limit's kind of fd */
} DmaMode;

static const DmaMode modes[] = {
    {"mmap", VFIO_USER_DMA_ACCESS_MMAP, BENCH_RAM_MEMFD, NULL},
    {"file-io-memfd", VFIO_USER_DMA_ACCESS_FILE_IO, BENCH_RAM_MEMFD, "memfd"},
    {"file-io-procmem", VFIO_USER_DMA_ACCESS_FILE_IO, BENCH_RAM_ANON,
     "procmem"},
    {"message", VFIO_USER_DMA_ACCESS_MESSAGE, BENCH_RAM_ANON, NULL},
};

static const uint64_t sizes[] = {4 * KiB, 64 * KiB, 1 * MiB};

/* A variant of a figure: its key and label part, transfers per call. */
typedef struct DmaKnob {
    const char *key;   /* "c65536.w2" */
    const char *label; /* "64 KiB x 2" */
    uint32_t segs;
} DmaKnob;

/* The dma section's vectored variant. */
static const DmaKnob vectored = {"v4", "4 per call", 4};

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

/* The limit @m is compared with, measured next to it. */
static BenchLimit *dma_limit(const DmaMode *m, BenchPlacement pl, bool is_write,
                             uint64_t size, BenchLimit *stream, char **key,
                             GError **errp)
{
    const char *raw = is_write ? "pwrite" : "pread";
    int cpu = bench_placement_server_cpu(pl);

    switch (m->policy) {
    case VFIO_USER_DMA_ACCESS_MMAP:
        *key = g_strdup_printf("limit.memcpy.%" PRIu64, size);
        return bench_limit_memcpy(size, cpu);
    case VFIO_USER_DMA_ACCESS_FILE_IO:
        *key = g_strdup_printf("limit.%s.%s.%" PRIu64, m->file_kind, raw, size);
        return bench_limit_file(m->file_kind, is_write, size, cpu, errp);
    default:
        *key =
            g_strdup_printf("limit.sock_stream.%s", bench_placement_name(pl));
        return stream;
    }
}

/* One figure of section @sec; @knob (or NULL) names its variant. */
static void dma_figure(const char *sec, const DmaMode *m, BenchConn *c,
                       BenchPlacement pl, bool is_write, uint64_t size,
                       BenchLimit *stream, const DmaKnob *knob)
{
    const char *dir = is_write ? "write" : "read";
    const char *pn = bench_placement_name(pl);
    DmaArgs a = {.conn = c,
                 .run = {.is_write = is_write,
                         .len = size,
                         .segs = knob ? knob->segs : 0}};
    g_autoptr(GError) err = NULL;
    g_autofree char *key =
        g_strdup_printf("%s.%s.%s.%" PRIu64 "%s%s.%s", sec, m->name, dir, size,
                        knob ? "." : "", knob ? knob->key : "", pn);
    g_autofree char *label = g_strdup_printf(
        "%s %s %s%s%s (%s)", m->name, dir, bench_size_name(size),
        knob ? ", " : "", knob ? knob->label : "", pn);
    g_autofree char *limit_key = NULL;
    BenchLimit *l = dma_limit(m, pl, is_write, size, stream, &limit_key, &err);
    BenchStat s, ls;

    if (!l || !bench_measure_pair(dma_batch, &a, bench_limit_batch, l, &s, &ls,
                                  &err)) {
        bench_add_error(sec, label, err);
    } else {
        uint64_t lb = bench_limit_bytes(l);
        BenchFigure f = {
            bench_mib_s(size, s.median),
            bench_mib_s(size, s.best),
            bench_mib_s(lb, ls.median),
            bench_mib_s(lb, ls.best),
        };

        bench_add_figure(sec, key, label, "MiB/s", &f, limit_key);
        if (size == 4 * KiB && !knob) {
            g_autofree char *k2 = g_strdup_printf("%s.ns", key);
            g_autofree char *l2 =
                g_strdup_printf("%s %s 4 KiB op (%s)", m->name, dir, pn);
            BenchFigure op = {.value = s.median, .best = s.best};

            bench_add_figure(sec, k2, l2, "ns/op", &op, NULL);
        }
    }
    if (l != stream) {
        bench_limit_free(l);
    }
}

static void dma_mode(const DmaMode *m, BenchPlacement pl)
{
    g_autoptr(GError) err = NULL;
    BenchLimit *stream = NULL;
    BenchConn c;

    /* Fork the streaming peer before the client library starts threads. */
    if (m->policy == VFIO_USER_DMA_ACCESS_MESSAGE) {
        stream = bench_limit_socket(true, bench_placement_server_cpu(pl), &err);
        if (!stream) {
            bench_add_error("dma", m->name, err);
            return;
        }
    }
    if (!bench_conn_open(&c, bench_placement_client_cpu(pl),
                         bench_placement_server_cpu(pl), m->policy, m->ram,
                         &err)) {
        bench_add_error("dma", m->name, err);
    } else {
        for (int w = 0; w < 2; w++) {
            for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
                dma_figure("dma", m, &c, pl, w, sizes[i], stream, NULL);
            }
            if (m->policy == VFIO_USER_DMA_ACCESS_MESSAGE) {
                dma_figure("dma", m, &c, pl, w, 1 * MiB, stream, &vectored);
            }
        }
        bench_conn_close(&c);
    }
    bench_limit_free(stream);
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

/* ---- dma-sweep: message mode, request size x requests in flight ---- */

static const uint32_t sweep_chunks[] = {64 * KiB, 128 * KiB, 256 * KiB,
                                        512 * KiB, 1 * MiB};
static const uint32_t sweep_windows[] = {1, 2, 4, 8};

static void sweep_placement(BenchPlacement pl)
{
    const DmaMode *m = &modes[G_N_ELEMENTS(modes) - 1];
    int ccpu = bench_placement_client_cpu(pl);
    int scpu = bench_placement_server_cpu(pl);
    g_autoptr(GError) err = NULL;
    BenchLimit *stream = bench_limit_socket(true, scpu, &err);

    if (!stream) {
        bench_add_error("dma-sweep", "streaming limit", err);
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(sweep_chunks); i++) {
        for (size_t j = 0; j < G_N_ELEMENTS(sweep_windows); j++) {
            uint32_t ch = sweep_chunks[i], win = sweep_windows[j];
            g_autofree char *kk = g_strdup_printf("c%u.w%u", ch, win);
            g_autofree char *kl =
                g_strdup_printf("%s x %u", bench_size_name(ch), win);
            DmaKnob knob = {kk, kl, 0};
            BenchConn c;

            bench_server_set_dma_msg(ch, win);
            if (!bench_conn_open(&c, ccpu, scpu, m->policy, m->ram, &err)) {
                bench_add_error("dma-sweep", kl, err);
                g_clear_error(&err);
                continue;
            }
            for (int w = 0; w < 2; w++) {
                dma_figure("dma-sweep", m, &c, pl, w, 1 * MiB, stream, &knob);
            }
            bench_conn_close(&c);
        }
    }
    bench_server_set_dma_msg(0, 0); /* it replaced --dma-chunk/--dma-window */
    bench_limit_free(stream);
    bench_pin(-1);
}

/*
 * Message DMA of 1 MiB with each request size and number of requests in
 * flight, in both placements, each against socket streaming.
 */
void bench_dma_sweep(void)
{
    for (int p = 0; p < 2; p++) {
        BenchPlacement pl = p ? BENCH_SPLIT_CPU : BENCH_SAME_CPU;

        if (bench_placement_available(pl)) {
            sweep_placement(pl);
        }
    }
}
