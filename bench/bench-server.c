/*
 * vfu-bench server: the device served by each forked server process.
 *
 * BAR0 is a small register file behind an access callback (the BENCH_REG_*
 * layout in bench.h).  Writing the GO register runs COUNT DMA transfers of
 * LEN bytes at ADDR with vus_dma_read() or vus_dma_write(), on the serving
 * thread (SEGS > 1: SEGS of them per vus_dma_readv() or vus_dma_writev(),
 * all of the same bytes), and stores how long they took, how many heap
 * allocations they made and a checksum of the server's buffer.  The
 * client's REGION_WRITE returns once they are done, so a batch is one
 * region write.  SCRATCH is a plain register for latency measurements.
 * BAR2 is memory-backed, which the client maps.
 *
 * One process serves one connection; only its serving thread runs.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "bench.h"
#include "vfio-user/server.h"

typedef struct BenchDev {
    VusServer *srv;
    uint8_t regs[BENCH_BAR0_SIZE];
    uint8_t *buf; /* BENCH_XFER_MAX bytes: source/destination of the DMA */
} BenchDev;

static uint64_t reg64(BenchDev *d, unsigned off)
{
    uint64_t v;

    memcpy(&v, d->regs + off, sizeof(v));
    return v;
}

static void set_reg64(BenchDev *d, unsigned off, uint64_t v)
{
    memcpy(d->regs + off, &v, sizeof(v));
}

/* @n transfers of @len bytes at @addr, in one call. */
static bool bench_dev_xfer(BenchDev *d, uint32_t op, uint64_t addr,
                           uint64_t len, uint32_t n, GError **errp)
{
    VusDmaSeg segs[BENCH_SEGS_MAX];

    if (n == 1) {
        return op == BENCH_GO_READ
                   ? vus_dma_read(d->srv, addr, d->buf, len, errp)
                   : vus_dma_write(d->srv, addr, d->buf, len, errp);
    }
    for (uint32_t i = 0; i < n; i++) {
        segs[i] = (VusDmaSeg){addr, d->buf, len};
    }
    return op == BENCH_GO_READ ? vus_dma_readv(d->srv, segs, n, errp)
                               : vus_dma_writev(d->srv, segs, n, errp);
}

static void bench_dev_run(BenchDev *d, uint32_t op)
{
    uint64_t addr = reg64(d, BENCH_REG_ADDR), len = reg64(d, BENCH_REG_LEN);
    uint64_t count = reg64(d, BENCH_REG_COUNT), a0, t0;
    uint32_t seed, segs, status = 0;
    g_autoptr(GError) err = NULL;

    memcpy(&seed, d->regs + BENCH_REG_SEED, sizeof(seed));
    memcpy(&segs, d->regs + BENCH_REG_SEGS, sizeof(segs));
    segs = CLAMP(segs, 1, BENCH_SEGS_MAX);
    if (len > BENCH_XFER_MAX || (op != BENCH_GO_READ && op != BENCH_GO_WRITE)) {
        status = EINVAL;
        count = 0;
    }
    if (op == BENCH_GO_WRITE && count) {
        bench_fill(d->buf, len, seed);
    }
    a0 = bench_alloc_count();
    t0 = bench_now_ns();
    for (uint64_t i = 0; i < count; i += segs) {
        uint32_t n = (uint32_t)MIN((uint64_t)segs, count - i);

        if (!bench_dev_xfer(d, op, addr, len, n, &err)) {
            status = err->code ? (uint32_t)err->code : EIO;
            break;
        }
    }
    set_reg64(d, BENCH_REG_NS, bench_now_ns() - t0);
    set_reg64(d, BENCH_REG_ALLOCS, bench_alloc_count() - a0);
    set_reg64(d, BENCH_REG_SUM,
              bench_checksum(d->buf, MIN(len, BENCH_XFER_MAX)));
    memcpy(d->regs + BENCH_REG_STATUS, &status, sizeof(status));
}

static ssize_t bench_bar0_access(void *opaque, bool is_write, uint64_t off,
                                 void *buf, size_t len)
{
    BenchDev *d = opaque;
    uint32_t op;

    if (off > sizeof(d->regs) || len > sizeof(d->regs) - off) {
        return -EINVAL;
    }
    if (!is_write) {
        set_reg64(d, BENCH_REG_ALLOCS_NOW, bench_alloc_count());
        memcpy(buf, d->regs + off, len);
        return (ssize_t)len;
    }
    memcpy(d->regs + off, buf, len);
    if (off <= BENCH_REG_GO && BENCH_REG_GO + 4 <= off + len) {
        memcpy(&op, d->regs + BENCH_REG_GO, sizeof(op));
        bench_dev_run(d, op);
    }
    return (ssize_t)len;
}

static VusServerOptions server_opts;

void bench_server_set_dma_msg(uint32_t chunk, uint32_t window)
{
    server_opts.dma_msg_chunk = chunk;
    server_opts.dma_msg_window = window;
}

static bool bench_dev_setup(BenchDev *d, GError **errp)
{
    VusRegionDesc bar0 = {
        .size = BENCH_BAR0_SIZE,
        .flags = VUS_REGION_F_RW,
        .access = bench_bar0_access,
        .opaque = d,
    };
    VusRegionDesc bar2 = {
        .size = BENCH_BAR2_SIZE,
        .flags = VUS_REGION_F_RW,
        .mem = true,
    };
    VusPciDesc pci = {
        .vendor_id = 0x1234,
        .device_id = 0xbe4c,
        .class_code = 0xff0000,
    };

    d->srv = vus_server_new(NULL, &server_opts, errp);
    return d->srv &&
           vus_server_setup_region(d->srv, VFIO_PCI_BAR0_REGION_INDEX, &bar0,
                                   NULL, errp) &&
           vus_server_setup_region(d->srv, VFIO_PCI_BAR2_REGION_INDEX, &bar2,
                                   NULL, errp) &&
           vus_server_setup_pci(d->srv, &pci, errp);
}

int bench_server_main(int sock, int cpu)
{
    BenchDev *d = g_new0(BenchDev, 1);
    g_autoptr(GError) err = NULL;
    bool ok;

    bench_pin(cpu);
    d->buf = g_malloc0(BENCH_XFER_MAX);
    ok = bench_dev_setup(d, &err) && vus_server_attach(d->srv, sock, &err) &&
         vus_server_run(d->srv, &err);
    if (!ok) {
        fprintf(stderr, "vfu-bench server: %s\n", err->message);
    }
    vus_server_free(d->srv);
    g_free(d->buf);
    g_free(d);
    return ok ? 0 : 1;
}
