/*
 * vfu-bench region section: 4-byte REGION_READ / REGION_WRITE round trips
 * to a callback BAR and to config space (compared with the raw socket
 * round trip of the same CPU placement), posted BAR writes (compared with
 * waited-for ones, and with a raw one-way stream of the same messages),
 * and accesses to a memory-backed BAR that the client mmapped (compared
 * with plain loads and memcpy).  A raw round trip of the posted message
 * against its one-way stream gives the ceiling of posted / non-posted
 * throughput without batching.  The raw round trip with both sides
 * receiving as the libraries must (library-style) gives the floor of a
 * REGION_READ.  A bare client's
 * REGION_READ (no client library) shows the server library's share.  Every
 * limit is measured again next to its figure, batches interleaved
 * (bench_measure_pair).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include "bench.h"
#include "vfio-user/error.h"

typedef enum RegionOp {
    OP_BAR_READ,
    OP_CONFIG_READ,
    OP_BAR_WRITE,
    OP_POSTED_WRITE,
    OP_BATCHED_WRITE, /* posted, batched into REGION_WRITE_MULTI */
    OP_MMAP_READ4,
    OP_MMAP_READ64K,
    OP_FENCE, /* posted write, then a waited-for read: the ordering fence */
} RegionOp;

typedef struct RegionArgs {
    BenchConn *conn;
    RegionOp op;
    uint8_t *buf;
} RegionArgs;

static bool region_op(RegionArgs *a, uint64_t i, GError **errp)
{
    VFIOUserDevice *dev = &a->conn->dev;
    uint32_t v = (uint32_t)i;

    switch (a->op) {
    case OP_BAR_READ:
        return vfio_user_region_read(dev, VFIO_PCI_BAR0_REGION_INDEX,
                                     BENCH_REG_SCRATCH, &v, 4, errp);
    case OP_CONFIG_READ:
        return vfio_user_region_read(dev, VFIO_PCI_CONFIG_REGION_INDEX, 0, &v,
                                     4, errp);
    case OP_BAR_WRITE:
    case OP_POSTED_WRITE:
    case OP_BATCHED_WRITE:
        return vfio_user_region_write(dev, VFIO_PCI_BAR0_REGION_INDEX,
                                      BENCH_REG_SCRATCH, &v, 4,
                                      a->op != OP_BAR_WRITE, errp);
    case OP_MMAP_READ4:
        return vfio_user_region_read(dev, VFIO_PCI_BAR2_REGION_INDEX,
                                     (i * 4) & 0xffc, &v, 4, errp);
    case OP_MMAP_READ64K:
        return vfio_user_region_read(dev, VFIO_PCI_BAR2_REGION_INDEX, 0, a->buf,
                                     64 * KiB, errp);
    case OP_FENCE:
        return vfio_user_region_write(dev, VFIO_PCI_BAR0_REGION_INDEX,
                                      BENCH_REG_SCRATCH, &v, 4, true, errp) &&
               vfio_user_region_read(dev, VFIO_PCI_BAR0_REGION_INDEX,
                                     BENCH_REG_SCRATCH, &v, 4, errp);
    }
    return vfio_user_error_set(errp, EINVAL, "unknown region operation");
}

static bool region_batch(void *opaque, uint64_t iters, double *ns,
                         GError **errp)
{
    RegionArgs *a = opaque;
    bool posted = a->op == OP_POSTED_WRITE || a->op == OP_BATCHED_WRITE;
    uint64_t t0 = bench_now_ns();
    uint32_t v;

    /* As the VMM does it: batching on, flushed when a run ends. */
    a->conn->dev.write_multi = a->op == OP_BATCHED_WRITE;
    for (uint64_t i = 0; i < iters; i++) {
        if (!region_op(a, i, errp)) {
            return false;
        }
    }
    if (a->op == OP_BATCHED_WRITE) {
        vfio_user_device_flush(&a->conn->dev);
    }
    /* Posted writes are done once a later read has come back. */
    if (posted &&
        !vfio_user_region_read(&a->conn->dev, VFIO_PCI_BAR0_REGION_INDEX,
                               BENCH_REG_SCRATCH, &v, 4, errp)) {
        return false;
    }
    *ns = (double)(bench_now_ns() - t0);
    a->conn->dev.write_multi = false;
    /* The last write must have landed, posted or not. */
    if ((posted || a->op == OP_BAR_WRITE) &&
        (!vfio_user_region_read(&a->conn->dev, VFIO_PCI_BAR0_REGION_INDEX,
                                BENCH_REG_SCRATCH, &v, 4, errp) ||
         v != (uint32_t)(iters - 1))) {
        return errp && *errp
                   ? false
                   : vfio_user_error_set(
                         errp, EIO, "BAR write of %u did not land (read %u)",
                         (uint32_t)(iters - 1), v);
    }
    return true;
}

/* Measure @op next to its limit (@lfn on @lopaque, @lbytes per op). */
static void region_figure(BenchConn *c, RegionOp op, const char *key,
                          const char *label, const char *limit_key,
                          BenchBatchFn lfn, void *lopaque, uint64_t lbytes)
{
    RegionArgs a = {.conn = c, .op = op};
    g_autoptr(GError) err = NULL;
    uint64_t bytes = op == OP_MMAP_READ64K ? 64 * KiB : 0;
    BenchStat s, ls;

    a.buf = bytes ? g_malloc(bytes) : NULL;
    if (!bench_measure_pair(region_batch, &a, lfn, lopaque, &s, &ls, &err)) {
        bench_add_error("region", label, err);
    } else {
        /* A throughput figure's limit is a throughput too. */
        uint64_t lb = bytes ? lbytes : 0;
        BenchFigure f = {
            bench_in_unit(bytes, s.median),
            bench_in_unit(bytes, s.best),
            bench_in_unit(lb, ls.median),
            bench_in_unit(lb, ls.best),
        };

        bench_add_figure("region", key, label, bytes ? "MiB/s" : "ns/op", &f,
                         limit_key);
    }
    g_free(a.buf);
}

/* Accesses to the mmapped BAR against loads and memcpy (client CPU). */
static void region_mmap(BenchConn *c, int cpu)
{
    BenchLimit *load4 = bench_limit_load4(cpu);
    BenchLimit *copy = bench_limit_memcpy(64 * KiB, cpu);

    region_figure(c, OP_MMAP_READ4, "region.mmap_read4", "mmapped BAR read 4 B",
                  "limit.load4", bench_limit_batch, load4, 4);
    region_figure(c, OP_MMAP_READ64K, "region.mmap_read.65536",
                  "mmapped BAR read 64 KiB", "limit.memcpy.65536",
                  bench_limit_batch, copy, 64 * KiB);
    bench_limit_free(load4);
    bench_limit_free(copy);
}

/* Two raw probes measured as a pair: @a, reported against @b (@b_key). */
static void region_limit_pair(BenchLimit *a, BenchLimit *b, const char *key,
                              const char *label, const char *b_key)
{
    g_autoptr(GError) err = NULL;
    BenchStat s, ls;

    if (!bench_measure_pair(bench_limit_batch, a, bench_limit_batch, b, &s, &ls,
                            &err)) {
        bench_add_error("region", label, err);
    } else {
        BenchFigure f = {s.median, s.best, ls.median, ls.best};

        bench_add_figure("region", key, label, "ns/op", &f, b_key);
    }
}

/*
 * The bounds of the targets, from raw probes only.  The ceiling of posted
 * / non-posted throughput without batching: a raw round trip of the
 * posted write's 36-byte message against the one-way stream of it.  The
 * floor of a REGION_READ: the raw ping-pong with each side receiving as
 * its library must (room for fds; on the client a receive timeout, so one
 * kernel timer per sleep) against the raw round trip.
 */
static void region_bounds(BenchPlacement pl, BenchLimit *rtt36,
                          BenchLimit *oneway, BenchLimit *rttw, BenchLimit *rtt)
{
    const char *pn = bench_placement_name(pl);
    g_autofree char *c_key = g_strdup_printf("region.posted_ceiling.%s", pn);
    g_autofree char *c_label = g_strdup_printf(
        "socket %u B round trip, to one-way (%s)", BENCH_POSTED_MSG_BYTES, pn);
    g_autofree char *ow_key = g_strdup_printf("limit.sock_oneway.%s", pn);
    g_autofree char *f_key = g_strdup_printf("region.rtt_floor.%s", pn);
    g_autofree char *f_label =
        g_strdup_printf("socket 16 B round trip, library-style (%s)", pn);
    g_autofree char *rtt_key = g_strdup_printf("limit.sock_rtt.%s", pn);

    region_limit_pair(rtt36, oneway, c_key, c_label, ow_key);
    region_limit_pair(rttw, rtt, f_key, f_label, rtt_key);
}

/* The server library alone: a bare client's REGION_READ (bench-bare.c). */
static void region_bare(BenchPlacement pl, BenchLimit *rtt)
{
    const char *pn = bench_placement_name(pl);
    g_autofree char *key = g_strdup_printf("region.bare_read.%s", pn);
    g_autofree char *label =
        g_strdup_printf("BAR REGION_READ 4 B, bare client (%s)", pn);
    g_autofree char *rtt_key = g_strdup_printf("limit.sock_rtt.%s", pn);
    g_autoptr(GError) err = NULL;
    BenchStat s, ls;
    BenchConn c;

    if (!bench_server_spawn(&c, bench_placement_server_cpu(pl), &err)) {
        bench_add_error("region", label, err);
        return;
    }
    bench_pin(bench_placement_client_cpu(pl));
    if (!bench_bare_connect(&c, &err) ||
        !bench_measure_pair(bench_bare_read_batch, &c, bench_limit_batch, rtt,
                            &s, &ls, &err)) {
        bench_add_error("region", label, err);
    } else {
        BenchFigure f = {s.median, s.best, ls.median, ls.best};

        bench_add_figure("region", key, label, "ns/op", &f, rtt_key);
    }
    bench_conn_close(&c);
    bench_pin(-1);
}

static void region_placement(BenchPlacement pl)
{
    static const struct {
        RegionOp op;
        const char *name, *what;
    } figs[] = {
        {OP_BAR_READ, "bar_read", "BAR REGION_READ 4 B"},
        {OP_CONFIG_READ, "config_read", "config REGION_READ 4 B"},
        {OP_BAR_WRITE, "bar_write", "BAR REGION_WRITE 4 B"},
    };
    const char *pn = bench_placement_name(pl);
    g_autoptr(GError) err = NULL;
    g_autofree char *rtt_key = g_strdup_printf("limit.sock_rtt.%s", pn);
    g_autofree char *wr_key = g_strdup_printf("region.bar_write.%s", pn);
    g_autofree char *pw_key = g_strdup_printf("region.posted_write.%s", pn);
    g_autofree char *pw_label =
        g_strdup_printf("BAR posted write 4 B (%s)", pn);
    g_autofree char *bw_key = g_strdup_printf("region.batched_write.%s", pn);
    g_autofree char *rd_key = g_strdup_printf("region.bar_read.%s", pn);
    g_autofree char *fence_key = g_strdup_printf("region.fence.%s", pn);
    g_autofree char *fence_label =
        g_strdup_printf("posted write + REGION_READ 4 B, fence (%s)", pn);
    g_autofree char *bw_label =
        g_strdup_printf("BAR posted write 4 B, batched (%s)", pn);
    g_autofree char *ow_key = g_strdup_printf("region.posted_oneway.%s", pn);
    g_autofree char *ow_label =
        g_strdup_printf("BAR posted write 4 B, to one-way (%s)", pn);
    g_autofree char *ow_limit = g_strdup_printf("limit.sock_oneway.%s", pn);
    /* Fork the socket peers before the client library starts threads. */
    BenchLimit *rtt =
        bench_limit_socket(false, bench_placement_server_cpu(pl), &err);
    BenchLimit *oneway =
        rtt ? bench_limit_oneway(BENCH_POSTED_MSG_BYTES,
                                 bench_placement_server_cpu(pl), &err)
            : NULL;
    BenchLimit *rtt36 =
        oneway ? bench_limit_pingpong(BENCH_POSTED_MSG_BYTES,
                                      bench_placement_server_cpu(pl), &err)
               : NULL;
    BenchLimit *rttw = rtt36 ? bench_limit_pingpong_wait(
                                   16, bench_placement_server_cpu(pl), &err)
                             : NULL;
    RegionArgs nonposted;
    BenchConn c;

    if (rtt) {
        region_bare(pl, rtt);
    }
    if (rttw) {
        bench_pin(bench_placement_client_cpu(pl));
        region_bounds(pl, rtt36, oneway, rttw, rtt);
    }
    if (!rttw ||
        !bench_conn_open(&c, bench_placement_client_cpu(pl),
                         bench_placement_server_cpu(pl),
                         VFIO_USER_DMA_ACCESS_AUTO, BENCH_RAM_NONE, &err)) {
        bench_add_error("region", pn, err);
        bench_limit_free(rtt);
        bench_limit_free(oneway);
        bench_limit_free(rtt36);
        bench_limit_free(rttw);
        bench_pin(-1);
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(figs); i++) {
        g_autofree char *key =
            g_strdup_printf("region.%s.%s", figs[i].name, pn);
        g_autofree char *label = g_strdup_printf("%s (%s)", figs[i].what, pn);

        region_figure(&c, figs[i].op, key, label, rtt_key, bench_limit_batch,
                      rtt, 16);
    }
    nonposted = (RegionArgs){.conn = &c, .op = OP_BAR_WRITE};
    region_figure(&c, OP_POSTED_WRITE, pw_key, pw_label, wr_key, region_batch,
                  &nonposted, 4);
    /* Their floor: the same messages sent raw, one send() each. */
    region_figure(&c, OP_POSTED_WRITE, ow_key, ow_label, ow_limit,
                  bench_limit_batch, oneway, BENCH_POSTED_MSG_BYTES);
    region_figure(&c, OP_BATCHED_WRITE, bw_key, bw_label, wr_key, region_batch,
                  &nonposted, 4);
    /* What a fence costs: a posted write, then a read, vs the read alone. */
    nonposted = (RegionArgs){.conn = &c, .op = OP_BAR_READ};
    region_figure(&c, OP_FENCE, fence_key, fence_label, rd_key, region_batch,
                  &nonposted, 4);
    if (pl == BENCH_SAME_CPU) {
        region_mmap(&c, bench_placement_client_cpu(pl));
    }
    bench_conn_close(&c);
    bench_limit_free(rtt);
    bench_limit_free(oneway);
    bench_limit_free(rtt36);
    bench_limit_free(rttw);
    bench_pin(-1);
}

void bench_region(void)
{
    for (int p = BENCH_SAME_CPU; p <= BENCH_SPLIT_CPU; p++) {
        if (bench_placement_available(p)) {
            region_placement(p);
        }
    }
}
