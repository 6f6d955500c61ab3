/*
 * vfu-bench --op NAME --count N: run one operation N times, client and
 * server on one CPU, and print nothing but the server's pid.  It exists so
 * that system calls per operation can be counted from outside
 * (bench/count-syscalls.py runs it under strace twice, with N and 2N, and
 * divides the difference by N, so that set-up does not count).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "bench.h"
#include "vfio-user/error.h"

typedef enum OpKind {
    OPK_READ,
    OPK_WRITE,
    OPK_POSTED,
    OPK_FENCE, /* posted write, then a waited-for read */
    OPK_BARE,
    OPK_DMA,
} OpKind;

static const struct {
    const char *name;
    OpKind kind;
    BenchRam ram;
    bool is_write; /* DMA */
} ops[] = {
    {"region-read", OPK_READ, BENCH_RAM_NONE, false},
    {"region-write", OPK_WRITE, BENCH_RAM_NONE, false},
    {"posted-write", OPK_POSTED, BENCH_RAM_NONE, false},
    {"fence", OPK_FENCE, BENCH_RAM_NONE, false},
    {"bare-read", OPK_BARE, BENCH_RAM_NONE, false},
    {"dma-read-message-1m", OPK_DMA, BENCH_RAM_ANON, false},
    {"dma-write-message-1m", OPK_DMA, BENCH_RAM_ANON, true},
};

static bool op_run(BenchConn *c, OpKind kind, bool is_write, uint64_t count,
                   GError **errp)
{
    VFIOUserDevice *dev = &c->dev;
    double ns;
    uint32_t v = 0;

    if (kind == OPK_BARE) {
        return bench_bare_read_batch(c, count, &ns, errp);
    }
    if (kind == OPK_DMA) {
        BenchDmaRun run = {
            .is_write = is_write, .len = 1 * MiB, .count = count};

        return bench_conn_dma(c, &run, errp);
    }
    for (uint64_t i = 0; i < count; i++) {
        bool ok = true;

        if (kind != OPK_READ) {
            ok = vfio_user_region_write(dev, VFIO_PCI_BAR0_REGION_INDEX,
                                        BENCH_REG_SCRATCH, &v, 4,
                                        kind != OPK_WRITE, errp);
        }
        if (ok && (kind == OPK_READ || kind == OPK_FENCE)) {
            ok = vfio_user_region_read(dev, VFIO_PCI_BAR0_REGION_INDEX,
                                       BENCH_REG_SCRATCH, &v, 4, errp);
        }
        if (!ok) {
            return false;
        }
    }
    /* Posted writes are done once a later read has come back. */
    return kind != OPK_POSTED ||
           vfio_user_region_read(dev, VFIO_PCI_BAR0_REGION_INDEX,
                                 BENCH_REG_SCRATCH, &v, 4, errp);
}

int bench_ops_main(const char *name, uint64_t count)
{
    g_autoptr(GError) err = NULL;
    int cpu = bench_placement_client_cpu(BENCH_SAME_CPU);
    BenchConn c;
    size_t i;
    bool ok;

    for (i = 0; i < G_N_ELEMENTS(ops) && strcmp(ops[i].name, name); i++) {
    }
    if (i == G_N_ELEMENTS(ops)) {
        fprintf(stderr, "vfu-bench: unknown operation '%s'; one of:", name);
        for (i = 0; i < G_N_ELEMENTS(ops); i++) {
            fprintf(stderr, " %s", ops[i].name);
        }
        fprintf(stderr, "\n");
        return 2;
    }
    if (ops[i].kind == OPK_BARE) {
        ok = bench_server_spawn(&c, cpu, &err);
        bench_pin(cpu);
        ok = ok && bench_bare_connect(&c, &err);
    } else {
        ok = bench_conn_open(&c, cpu, cpu,
                             ops[i].kind == OPK_DMA
                                 ? VFIO_USER_DMA_ACCESS_MESSAGE
                                 : VFIO_USER_DMA_ACCESS_AUTO,
                             ops[i].ram, &err);
    }
    if (ok) {
        fprintf(stderr, "vfu-bench: server pid %d\n", (int)c.pid);
        ok = op_run(&c, ops[i].kind, ops[i].is_write, count, &err);
    }
    if (!ok) {
        fprintf(stderr, "vfu-bench: %s: %s\n", name, err->message);
    }
    if (c.pid > 0 || c.proxy) {
        bench_conn_close(&c);
    }
    return ok ? 0 : 1;
}
