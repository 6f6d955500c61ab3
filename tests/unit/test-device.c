/*
 * Unit tests for the client device operations (hw/vfio-user/device.c)
 * against the fake device server of fake-device-server.c: device and
 * region info, sparse mmap over a memfd versus messages, the argsz re-ask,
 * hostile capability chains, transfer splitting, posted writes, SET_IRQS
 * splitting and eventfd delivery, reset, ioeventfds, failure handling, a
 * replay of a recorded libvfio-user gpio session, and the batching of
 * posted writes into REGION_WRITE_MULTI.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "hw/vfio-user/device.h"
#include "vfio-user/error.h"
#include "fake-device-server.h"
#include "vfu-test.h"

typedef struct Fixture {
    int fds_before;
    FakeServer *fs;
    VFIOUserProxy *proxy;
    VFIOUserDevice dev;
} Fixture;

static void fx_begin(Fixture *fx)
{
    memset(fx, 0, sizeof(*fx));
    fx->fds_before = vut_count_fds();
    fx->fs = fake_server_new();
}

static void fx_connect(Fixture *fx)
{
    GError *err = NULL;

    fx->proxy = fake_server_start(fx->fs);
    g_assert_true(vfio_user_device_init(&fx->dev, fx->proxy, &err));
    g_assert_no_error(err);
}

/* Tear down and check that no fd is left open. */
static void fx_end(Fixture *fx)
{
    vfio_user_device_cleanup(&fx->dev);
    fake_server_stop(fx->fs, fx->proxy);
    g_assert_cmpint(vut_count_fds(), ==, fx->fds_before);
}

static void fill_pattern(uint8_t *p, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
    }
}

static void test_info(void)
{
    Fixture fx;
    FakeServer snap;
    struct vfio_irq_info irq;
    GError *err = NULL;

    fx_begin(&fx);
    fake_region_mem(fx.fs, 0, 0x1000);
    fake_region_mem(fx.fs, VFIO_PCI_CONFIG_REGION_INDEX, 256);
    fx_connect(&fx);
    g_assert_cmpuint(fx.dev.num_regions, ==, 9);
    g_assert_cmpuint(fx.dev.num_irqs, ==, 5);
    g_assert_cmpuint(fx.dev.flags, ==,
                     VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
    g_assert_cmpuint(fx.dev.regions[0].size, ==, 0x1000);
    g_assert_cmpuint(fx.dev.regions[7].size, ==, 256);
    g_assert_cmpuint(fx.dev.regions[1].size, ==, 0);
    g_assert_cmpint(fx.dev.regions[0].fd, ==, -1);
    g_assert_cmpuint(fx.dev.regions[0].nr_mmaps, ==, 0);
    g_assert_true(fx.dev.posted_writes);
    fake_server_snapshot(fx.fs, &snap);
    for (unsigned i = 0; i < 9; i++) {
        g_assert_cmpuint(snap.info_calls[i], ==, 1);
        g_assert_cmpuint(snap.info_argsz[i][0], ==, 256);
    }

    g_assert_true(vfio_user_device_get_irq_info(
        &fx.dev, VFIO_PCI_MSIX_IRQ_INDEX, &irq, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(irq.count, ==, 32);
    g_assert_cmpuint(irq.index, ==, VFIO_PCI_MSIX_IRQ_INDEX);
    g_assert_cmpuint(irq.flags, ==, VFIO_IRQ_INFO_EVENTFD);
    g_assert_false(vfio_user_device_get_irq_info(&fx.dev, 5, &irq, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_clear_error(&err);
    fx_end(&fx);
}

static void test_mmap_vs_message(void)
{
    static const VFIOUserSparseArea areas[] = {
        {0, 0x1000},
        {0x2000, 0x1000},
    };
    Fixture fx;
    FakeServer snap;
    g_autofree uint8_t *a = g_malloc(0x4000), *b = g_malloc(0x4000);
    uint8_t want[0x4000];
    uint32_t v = 0xdeadbeef;
    GError *err = NULL;

    fx_begin(&fx);
    fake_region_memfd(fx.fs, 0, 0x4000, 0x1000);
    fake_region_sparse(fx.fs, 0, 2, areas);
    fake_region_mem(fx.fs, 1, 0x4000);
    fake_region_memfd(fx.fs, 2, 0x1000, 0);
    fx.fs->regions[2].flags &= ~VFIO_REGION_INFO_FLAG_WRITE;
    fake_region_memfd(fx.fs, 3, 0x1000, 0x10); /* unaligned: mmap fails */
    fill_pattern(want, sizeof(want), 3);
    memcpy(fx.fs->regions[3].mem, want, 0x1000);
    memcpy(fx.fs->regions[0].mem, want, sizeof(want));
    memcpy(fx.fs->regions[1].mem, want, sizeof(want));
    fx_connect(&fx);

    g_assert_cmpint(fx.dev.regions[0].fd, >=, 0);
    g_assert_cmpuint(fx.dev.regions[0].nr_mmaps, ==, 2);
    g_assert_nonnull(fx.dev.regions[0].mmaps[0].host);
    g_assert_nonnull(fx.dev.regions[0].mmaps[1].host);
    g_assert_cmpuint(fx.dev.regions[0].mmaps[1].offset, ==, 0x2000);
    g_assert_cmpint(fx.dev.regions[1].fd, ==, -1);

    /* Inside a sparse area: straight from the mapping, no message. */
    g_assert_true(vfio_user_region_read(&fx.dev, 0, 0x2010, a, 0x40, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(a, 0x40, want + 0x2010, 0x40);
    g_assert_true(vfio_user_region_read(&fx.dev, 0, 0x8, &v, 4, &err));
    g_assert_cmpmem(&v, 4, want + 8, 4);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.reads[0], ==, 0);

    /* Outside the areas: messages. */
    g_assert_true(vfio_user_region_read(&fx.dev, 0, 0x1000, a, 0x100, &err));
    g_assert_cmpmem(a, 0x100, want + 0x1000, 0x100);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.reads[0], ==, 1);

    /* The whole region: same bytes as the message-only region. */
    g_assert_true(vfio_user_region_read(&fx.dev, 0, 0, a, 0x4000, &err));
    g_assert_true(vfio_user_region_read(&fx.dev, 1, 0, b, 0x4000, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(a, 0x4000, b, 0x4000);
    g_assert_cmpmem(a, 0x4000, want, 0x4000);

    /* A write into an area lands in the server's memory, no message. */
    v = 0x11223344;
    g_assert_true(
        vfio_user_region_write(&fx.dev, 0, 0x2004, &v, 4, true, &err));
    g_assert_cmpmem(fx.fs->regions[0].mem + 0x2004, 4, &v, 4);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.writes[0], ==, 0);

    /* A read-only mapping is never written through: a message instead. */
    g_assert_nonnull(fx.dev.regions[2].mmaps[0].host);
    g_assert_true(vfio_user_region_write(&fx.dev, 2, 0x8, &v, 4, false, &err));
    g_assert_no_error(err);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.writes[2], ==, 1);
    g_assert_cmpmem(fx.fs->regions[2].mem + 0x8, 4, &v, 4);

    /* A mapping that failed falls back to messages for that area. */
    g_assert_cmpint(fx.dev.regions[3].fd, >=, 0);
    g_assert_cmpuint(fx.dev.regions[3].nr_mmaps, ==, 1);
    g_assert_null(fx.dev.regions[3].mmaps[0].host);
    g_assert_true(vfio_user_region_read(&fx.dev, 3, 0x10, a, 0x20, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(a, 0x20, want + 0x10, 0x20);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.reads[3], ==, 1);

    /* Out of range. */
    g_assert_false(vfio_user_region_read(&fx.dev, 0, 0x3ffe, &v, 4, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_assert_cmpuint(v, ==, 0xffffffff);
    g_clear_error(&err);
    g_assert_false(vfio_user_region_write(&fx.dev, 9, 0, &v, 4, false, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_clear_error(&err);
    fx_end(&fx);
}

static void test_argsz_reask(void)
{
    VFIOUserSparseArea areas[14];
    Fixture fx;
    FakeServer snap;

    for (unsigned i = 0; i < 14; i++) {
        areas[i] = (VFIOUserSparseArea){i * 0x1000, 0x1000};
    }
    fx_begin(&fx);
    fake_region_memfd(fx.fs, 2, 0x10000, 0);
    fake_region_sparse(fx.fs, 2, 14, areas);
    fx_connect(&fx);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.info_calls[2], ==, 2);
    g_assert_cmpuint(snap.info_argsz[2][0], ==, 256);
    g_assert_cmpuint(snap.info_argsz[2][1], ==, 32 + 16 + 14 * 16);
    g_assert_cmpuint(snap.info_calls[1], ==, 1);
    g_assert_cmpuint(fx.dev.regions[2].nr_mmaps, ==, 14);
    g_assert_cmpuint(fx.dev.regions[2].mmaps[13].offset, ==, 13 * 0x1000);
    g_assert_nonnull(fx.dev.regions[2].mmaps[13].host);
    fx_end(&fx);
}

/* A region info reply: 0x1000 bytes, mmappable, with caps from @caps. */
typedef struct RawInfo {
    VFIOUserRegionInfo info;
    uint8_t caps[96];
} VFIO_USER_PACKED RawInfo;

static void raw_init(RawInfo *r, uint32_t cap_offset)
{
    memset(r, 0, sizeof(*r));
    r->info.argsz = sizeof(*r);
    r->info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP |
                    VFIO_REGION_INFO_FLAG_CAPS;
    r->info.index = 0;
    r->info.cap_offset = cap_offset;
    r->info.size = 0x1000;
}

static void raw_cap(RawInfo *r, uint32_t off, uint16_t id, uint32_t next,
                    uint32_t w0, uint64_t a_off, uint64_t a_size)
{
    VFIOUserCapSparseMmap c = {
        .hdr = {.id = id, .version = 1, .next = next},
        .nr_areas = w0,
    };
    VFIOUserSparseArea a = {a_off, a_size};

    memcpy((uint8_t *)r + off, &c, sizeof(c));
    memcpy((uint8_t *)r + off + sizeof(c), &a, sizeof(a));
}

/* Init over the raw reply: fails with EPROTO (or succeeds), leaks nothing. */
static void hostile_case(const RawInfo *raw, size_t len, bool expect_ok,
                         int expect_fd)
{
    Fixture fx;
    GError *err = NULL;
    bool ok;

    fx_begin(&fx);
    fake_region_raw(fx.fs, 0, raw, len, true);
    fx.proxy = fake_server_start(fx.fs);
    ok = vfio_user_device_init(&fx.dev, fx.proxy, &err);
    g_assert_cmpint(ok, ==, expect_ok);
    if (ok) {
        g_assert_no_error(err);
        g_assert_cmpint(fx.dev.regions[0].fd >= 0, ==, expect_fd);
    } else {
        g_assert_error(err, VFIO_USER_ERROR, EPROTO);
        g_test_message("rejected as expected: %s", err->message);
        g_clear_error(&err);
        g_assert_null(fx.dev.regions);
    }
    fx_end(&fx);
}

static void test_hostile_region_info(void)
{
    RawInfo r;

    /* Sane reply with a type cap then a sparse cap: accepted. */
    raw_init(&r, 32);
    raw_cap(&r, 32, VFIO_REGION_INFO_CAP_TYPE, 48, 0, 0, 0);
    raw_cap(&r, 48, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 0, 1, 0, 0x1000);
    hostile_case(&r, sizeof(r), true, true);
    /* A cap whose next points at itself: a loop. */
    raw_init(&r, 32);
    raw_cap(&r, 32, VFIO_REGION_INFO_CAP_TYPE, 32, 0, 0, 0);
    hostile_case(&r, sizeof(r), false, 0);
    /* Two caps pointing at each other. */
    raw_init(&r, 32);
    raw_cap(&r, 32, 99, 64, 0, 0, 0);
    raw_cap(&r, 64, 99, 32, 0, 0, 0);
    hostile_case(&r, sizeof(r), false, 0);
    /* cap_offset beyond the reply, and inside the fixed part. */
    raw_init(&r, 4000);
    hostile_case(&r, sizeof(r), false, 0);
    raw_init(&r, 8);
    hostile_case(&r, sizeof(r), false, 0);
    /* A cap header cut by the end of the reply. */
    raw_init(&r, sizeof(r) - 4);
    hostile_case(&r, sizeof(r), false, 0);
    /* Sparse area outside the region; offset+size overflowing. */
    raw_init(&r, 32);
    raw_cap(&r, 32, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 0, 1, 0x800, 0x1000);
    hostile_case(&r, sizeof(r), false, 0);
    raw_init(&r, 32);
    raw_cap(&r, 32, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 0, 1, 0x800,
            UINT64_MAX - 0x100);
    hostile_case(&r, sizeof(r), false, 0);
    /* nr_areas far beyond, and just beyond, what the reply holds. */
    raw_init(&r, 32);
    raw_cap(&r, 32, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 0, 0xffffffff, 0, 16);
    hostile_case(&r, sizeof(r), false, 0);
    raw_init(&r, 32);
    raw_cap(&r, 32, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 0, 6, 0, 16);
    hostile_case(&r, sizeof(r), false, 0);
    /* Reply shorter than the fixed part. */
    raw_init(&r, 0);
    hostile_case(&r, 16, false, 0);
    /* argsz beyond anything sane. */
    raw_init(&r, 0);
    r.info.argsz = 1u << 30;
    hostile_case(&r, sizeof(r), false, 0);
    /* An fd without the mmap flag is closed, the init goes on. */
    raw_init(&r, 0);
    r.info.flags = VFIO_REGION_INFO_FLAG_READ;
    hostile_case(&r, sizeof(r), true, false);
}

static void test_read_split(void)
{
    Fixture fx;
    FakeServer snap;
    g_autofree uint8_t *want = g_malloc(10000), *got = g_malloc(10000);
    GError *err = NULL;

    fx_begin(&fx);
    fx.fs->caps.max_data_xfer_size = 4096;
    fake_region_mem(fx.fs, 0, 10000);
    fill_pattern(want, 10000, 9);
    memcpy(fx.fs->regions[0].mem, want, 10000);
    fx_connect(&fx);
    g_assert_true(vfio_user_region_read(&fx.dev, 0, 0, got, 10000, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(got, 10000, want, 10000);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.reads[0], ==, 3);
    g_assert_cmpuint(snap.max_read_count, ==, 4096);

    fill_pattern(want, 10000, 77);
    g_assert_true(
        vfio_user_region_write(&fx.dev, 0, 0, want, 10000, false, &err));
    g_assert_no_error(err);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.writes[0], ==, 3);
    g_assert_cmpmem(fx.fs->regions[0].mem, 10000, want, 10000);
    fx_end(&fx);
}

static void test_posted_writes(void)
{
    Fixture fx;
    FakeServer snap;
    uint32_t v = 0xcafef00d, r = 0;
    GError *err = NULL;

    fx_begin(&fx);
    fake_region_mem(fx.fs, 0, 0x100);
    fake_region_mem(fx.fs, VFIO_PCI_CONFIG_REGION_INDEX, 256);
    fx_connect(&fx);

    /* Posted, then a read on the same socket sees it. */
    g_assert_true(vfio_user_region_write(&fx.dev, 0, 0x40, &v, 4, true, &err));
    g_assert_true(vfio_user_region_read(&fx.dev, 0, 0x40, &r, 4, &err));
    g_assert_no_error(err);
    g_assert_cmphex(r, ==, v);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.posted[0], ==, 1);

    /* Config space writes are never posted. */
    g_assert_true(vfio_user_region_write(&fx.dev, 7, 4, &v, 2, true, &err));
    g_assert_no_error(err);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.writes[7], ==, 1);
    g_assert_cmpuint(snap.posted[7], ==, 0);

    /* x-no-posted-writes. */
    fx.dev.posted_writes = false;
    g_assert_true(vfio_user_region_write(&fx.dev, 0, 0x44, &v, 4, true, &err));
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.writes[0], ==, 2);
    g_assert_cmpuint(snap.posted[0], ==, 1);
    fx_end(&fx);
}

/* No-reply messages the client has sent so far. */
static uint64_t posted_sent(Fixture *fx)
{
    VFIOUserProxyStats st;

    vfio_user_proxy_get_stats(fx->proxy, &st);
    return st.posted;
}

static void write32(Fixture *fx, uint32_t index, uint64_t off, uint32_t v,
                    bool post)
{
    GError *err = NULL;

    g_assert_true(
        vfio_user_region_write(&fx->dev, index, off, &v, 4, post, &err));
    g_assert_no_error(err);
}

/* A blocking read: the server has handled everything sent before it. */
static uint32_t read32(Fixture *fx, uint32_t index, uint64_t off)
{
    uint32_t v = 0;
    GError *err = NULL;

    g_assert_true(vfio_user_region_read(&fx->dev, index, off, &v, 4, &err));
    g_assert_no_error(err);
    return v;
}

static void test_multi_batch(void)
{
    Fixture fx;
    FakeServer snap;

    fx_begin(&fx);
    fake_region_mem(fx.fs, 0, 0x1000);
    fx_connect(&fx);
    g_assert_false(fx.dev.write_multi); /* the owner opts in */
    g_assert_nonnull(fx.dev.batch);
    fx.dev.write_multi = true;
    for (uint32_t i = 0; i < 10; i++) {
        write32(&fx, 0, i * 4, 0x100 + i, true);
    }
    g_assert_cmpuint(posted_sent(&fx), ==, 0); /* still queued */
    g_assert_cmphex(read32(&fx, 0, 9 * 4), ==, 0x109);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.cmds[VFIO_USER_REGION_WRITE_MULTI], ==, 1);
    g_assert_cmpuint(snap.multi_posted, ==, 1);
    g_assert_cmpuint(snap.multi_last, ==, 10);
    g_assert_cmpuint(snap.writes[0], ==, 0);
    for (uint32_t i = 0; i < 10; i++) {
        g_assert_cmphex(((uint32_t *)fx.fs->regions[0].mem)[i], ==, 0x100 + i);
    }
    g_assert_cmpuint(fx.dev.multi_msgs, ==, 1);
    g_assert_cmpuint(fx.dev.multi_writes, ==, 10);

    /* An explicit flush sends at once; widths 1, 2 and 8 batch too. */
    write32(&fx, 0, 0x100, 0xaabbccdd, true);
    g_assert_true(
        vfio_user_region_write(&fx.dev, 0, 0x104, "\x11", 1, true, NULL));
    g_assert_true(
        vfio_user_region_write(&fx.dev, 0, 0x106, "\x22\x33", 2, true, NULL));
    g_assert_true(
        vfio_user_region_write(&fx.dev, 0, 0x108, "01234567", 8, true, NULL));
    vfio_user_device_flush(&fx.dev);
    g_assert_cmpuint(posted_sent(&fx), ==, 2);
    vfio_user_device_flush(&fx.dev); /* nothing left: no message */
    g_assert_cmpuint(posted_sent(&fx), ==, 2);
    read32(&fx, 0, 0);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.multi_last, ==, 4);
    g_assert_cmpmem(fx.fs->regions[0].mem + 0x100, 16,
                    "\xdd\xcc\xbb\xaa\x11\0\x22\x33"
                    "01234567",
                    16);
    g_assert_cmpuint(snap.multi_bad, ==, 0);
    fx_end(&fx);
}

/* The batch leaves by itself when it holds VFIO_USER_MULTI_MAX writes. */
static void test_multi_full(void)
{
    Fixture fx;
    FakeServer snap;

    fx_begin(&fx);
    fake_region_mem(fx.fs, 0, 0x1000);
    fx_connect(&fx);
    fx.dev.write_multi = true;
    for (uint32_t i = 0; i < VFIO_USER_MULTI_MAX; i++) {
        g_assert_cmpuint(posted_sent(&fx), ==, 0);
        write32(&fx, 0, (i * 4) % 0x1000, i, true);
    }
    g_assert_cmpuint(posted_sent(&fx), ==, 1);
    write32(&fx, 0, 0xffc, 0xfeed, true);
    g_assert_cmpuint(posted_sent(&fx), ==, 1);
    g_assert_cmphex(read32(&fx, 0, 0xffc), ==, 0xfeed);
    g_assert_cmpuint(posted_sent(&fx), ==, 2);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.cmds[VFIO_USER_REGION_WRITE_MULTI], ==, 1);
    g_assert_cmpuint(snap.multi_last, ==, VFIO_USER_MULTI_MAX);
    /* The lone write after it went as a plain posted REGION_WRITE. */
    g_assert_cmpuint(snap.posted[0], ==, 1);
    g_assert_cmphex(((uint32_t *)fx.fs->regions[0].mem)[199], ==, 199);

    /* A small max_data_xfer_size lowers the batch size with it. */
    fx_end(&fx);
    fx_begin(&fx);
    fx.fs->caps.max_data_xfer_size = 256; /* the least: 10 entries */
    fake_region_mem(fx.fs, 0, 0x100);
    fx_connect(&fx);
    fx.dev.write_multi = true;
    for (uint32_t i = 0; i < 25; i++) {
        write32(&fx, 0, i * 4, i, true);
    }
    g_assert_cmpuint(posted_sent(&fx), ==, 2);
    g_assert_cmpuint(read32(&fx, 0, 24 * 4), ==, 24);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.cmds[VFIO_USER_REGION_WRITE_MULTI], ==, 3);
    g_assert_cmpuint(snap.multi_entries, ==, 25);
    g_assert_cmpuint(snap.multi_last, ==, 5);
    fx_end(&fx);
}

/* No batch without write_multiple; a lost connection loses the batch. */
static void test_multi_edges(void)
{
    Fixture fx;
    FakeServer snap;

    fx_begin(&fx);
    fx.fs->caps.write_multiple = false;
    fake_region_mem(fx.fs, 0, 0x100);
    fx_connect(&fx);
    g_assert_null(fx.dev.batch);
    fx.dev.write_multi = true; /* no effect without the server */
    write32(&fx, 0, 0, 1, true);
    write32(&fx, 0, 4, 2, true);
    g_assert_cmpuint(posted_sent(&fx), ==, 2);
    read32(&fx, 0, 0);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.cmds[VFIO_USER_REGION_WRITE_MULTI], ==, 0);
    g_assert_cmpuint(snap.posted[0], ==, 2);
    fx_end(&fx);

    fx_begin(&fx);
    fake_region_mem(fx.fs, 0, 0x100);
    fx_connect(&fx);
    fx.dev.write_multi = true;
    for (uint32_t i = 0; i < 3; i++) {
        write32(&fx, 0, i * 4, i, true);
    }
    fake_server_hangup(fx.fs);
    vfio_user_device_flush(&fx.dev);
    g_assert_cmpuint(fx.dev.posted_write_errors, ==, 3);
    g_assert_cmpuint(fx.dev.multi_msgs, ==, 0);
    fx_end(&fx);
}

static void assert_irq_msg(const FakeIrqMsg *m, uint32_t start, uint32_t count,
                           size_t nfds)
{
    g_assert_cmpuint(m->start, ==, start);
    g_assert_cmpuint(m->count, ==, count);
    g_assert_cmpuint(m->nfds, ==, nfds);
}

static void test_set_irqs(void)
{
    const uint32_t efd_trig =
        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    Fixture fx;
    FakeServer snap;
    int efds[20], mixed[4];
    uint8_t bools[2] = {1, 0};
    uint64_t val = 0;
    GError *err = NULL;

    fx_begin(&fx);
    fx_connect(&fx);
    for (unsigned i = 0; i < 20; i++) {
        efds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    g_assert_true(vfio_user_device_set_irqs(&fx.dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                            efd_trig, 0, 20, efds, NULL, &err));
    g_assert_no_error(err);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.nr_irq_msgs, ==, 3);
    assert_irq_msg(&snap.irq_msgs[0], 0, 8, 8);
    assert_irq_msg(&snap.irq_msgs[1], 8, 8, 8);
    assert_irq_msg(&snap.irq_msgs[2], 16, 4, 4);
    g_assert_cmpuint(snap.irq_msgs[2].flags, ==, efd_trig);

    /* The server signals vector 17: the client's eventfd fires. */
    g_assert_true(fake_server_trigger(fx.fs, 17));
    g_assert_cmpint(read(efds[17], &val, sizeof(val)), ==, sizeof(val));
    g_assert_cmpuint(val, ==, 1);
    g_assert_cmpint(read(efds[16], &val, sizeof(val)), ==, -1);

    /* -1 entries de-assign in a message of their own, without fds. */
    mixed[0] = efds[0];
    mixed[1] = mixed[2] = -1;
    mixed[3] = efds[3];
    g_assert_true(vfio_user_device_set_irqs(&fx.dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                            efd_trig, 4, 4, mixed, NULL, &err));
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.nr_irq_msgs, ==, 6);
    assert_irq_msg(&snap.irq_msgs[3], 4, 1, 1);
    assert_irq_msg(&snap.irq_msgs[4], 5, 2, 0);
    assert_irq_msg(&snap.irq_msgs[5], 7, 1, 1);
    g_assert_cmpint(snap.irq_efds[5], ==, -1);
    g_assert_false(fake_server_trigger(fx.fs, 6));

    /* Bools, then disable the whole index with count 0. */
    g_assert_true(vfio_user_device_set_irqs(&fx.dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                            VFIO_IRQ_SET_DATA_BOOL |
                                                VFIO_IRQ_SET_ACTION_UNMASK,
                                            1, 2, NULL, bools, &err));
    g_assert_true(vfio_user_device_set_irqs(&fx.dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                            VFIO_IRQ_SET_DATA_NONE |
                                                VFIO_IRQ_SET_ACTION_TRIGGER,
                                            0, 0, NULL, NULL, &err));
    g_assert_no_error(err);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.nr_irq_msgs, ==, 8);
    assert_irq_msg(&snap.irq_msgs[6], 1, 2, 0);
    assert_irq_msg(&snap.irq_msgs[7], 0, 0, 0);
    g_assert_false(fake_server_trigger(fx.fs, 17));

    /* Bad flags and ranges never reach the wire. */
    g_assert_false(vfio_user_device_set_irqs(
        &fx.dev, 0, efd_trig | VFIO_IRQ_SET_DATA_BOOL, 0, 1, efds, NULL, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_clear_error(&err);
    g_assert_false(vfio_user_device_set_irqs(&fx.dev, 0, efd_trig, 0, 0, efds,
                                             NULL, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_clear_error(&err);
    g_assert_false(vfio_user_device_set_irqs(&fx.dev, 0, efd_trig, UINT32_MAX,
                                             2, efds, NULL, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_clear_error(&err);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.nr_irq_msgs, ==, 8);
    for (unsigned i = 0; i < 20; i++) {
        close(efds[i]);
    }
    fx_end(&fx);
}

static void test_reset(void)
{
    Fixture fx;
    FakeServer snap;
    GError *err = NULL;

    fx_begin(&fx);
    fx_connect(&fx);
    g_assert_true(vfio_user_device_reset(&fx.dev, &err));
    g_assert_no_error(err);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.resets, ==, 1);
    fx_end(&fx);
}

static uint64_t drain_eventfd(int fd)
{
    uint64_t v = 0;

    return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

static void test_io_fds(void)
{
    Fixture fx;
    FakeServer snap;
    uint32_t v = 0x1234, match = 0xabcd;
    uint16_t h = 1;
    GError *err = NULL;

    fx_begin(&fx);
    fake_region_mem(fx.fs, 0, 0x100);
    fx.fs->io_region = 0;
    fx_connect(&fx);
    g_assert_false(vfio_user_device_get_region_io_fds(&fx.dev, 1, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_clear_error(&err);
    g_assert_true(vfio_user_device_get_region_io_fds(&fx.dev, 0, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fx.dev.regions[0].nr_ioeventfds, ==, 2);

    g_assert_true(vfio_user_region_write(&fx.dev, 0, 0x10, &v, 4, false, &err));
    g_assert_cmpuint(drain_eventfd(fx.fs->io_efd), ==, 1);
    g_assert_true(
        vfio_user_region_write(&fx.dev, 0, 0x20, &match, 4, false, &err));
    g_assert_cmpuint(drain_eventfd(fx.fs->io_efd), ==, 1);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.writes[0], ==, 0);

    /* No datamatch, other width, other offset: messages. */
    g_assert_true(vfio_user_region_write(&fx.dev, 0, 0x20, &v, 4, false, &err));
    g_assert_true(vfio_user_region_write(&fx.dev, 0, 0x10, &h, 2, false, &err));
    g_assert_true(vfio_user_region_write(&fx.dev, 0, 0x30, &v, 4, false, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(drain_eventfd(fx.fs->io_efd), ==, 0);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.writes[0], ==, 3);

    /* Asking again replaces (and closes) the previous set. */
    g_assert_true(vfio_user_device_get_region_io_fds(&fx.dev, 0, &err));
    g_assert_cmpuint(fx.dev.regions[0].nr_ioeventfds, ==, 2);
    fx_end(&fx);
}

static void test_failure(void)
{
    Fixture fx;
    uint8_t buf[64];
    uint32_t v = 1;
    gint64 t0;
    GError *err = NULL;

    fx_begin(&fx);
    fake_region_mem(fx.fs, 0, 0x100);
    fx_connect(&fx);
    fake_server_hangup(fx.fs);
    for (int i = 0; i < 2; i++) {
        t0 = g_get_monotonic_time();
        memset(buf, 0, sizeof(buf));
        g_assert_false(
            vfio_user_region_read(&fx.dev, 0, 0, buf, sizeof(buf), &err));
        g_assert_nonnull(err);
        g_clear_error(&err);
        g_assert_cmpint(g_get_monotonic_time() - t0, <, G_USEC_PER_SEC);
        for (size_t j = 0; j < sizeof(buf); j++) {
            g_assert_cmphex(buf[j], ==, 0xff);
        }
    }
    g_assert_false(vfio_user_region_write(&fx.dev, 0, 0, &v, 4, false, &err));
    g_assert_error(err, VFIO_USER_ERROR, ENODEV);
    g_clear_error(&err);
    g_assert_false(vfio_user_device_reset(&fx.dev, &err));
    g_clear_error(&err);
    g_assert_true(fx.dev.failed ||
                  vfio_user_proxy_state(fx.proxy) != VFIO_PROXY_CONNECTED);
    fx_end(&fx);
}

/* The libvfio-user gpio sample's recorded answers, replayed in order. */
static void test_replay_gpio(void)
{
    static const uint32_t irq_counts[5] = {1, 0, 0, 1, 1};
    Fixture fx;
    FakeServer snap;
    struct vfio_irq_info irq;
    uint8_t cfg[64], b = 0, ff = 0xff;
    int efd;
    GError *err = NULL;

    fx_begin(&fx);
    fake_server_load_replay(fx.fs,
                            TEST_DATA_DIR "/libvfio-user-gpio-client.jsonl");
    fx_connect(&fx);
    g_assert_cmpuint(fx.dev.num_regions, ==, 9);
    g_assert_cmpuint(fx.dev.num_irqs, ==, 5);
    g_assert_cmpuint(fx.dev.flags, ==,
                     VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
    for (unsigned i = 0; i < 9; i++) {
        bool has = i == 2 || i == 7;

        g_assert_cmpuint(fx.dev.regions[i].size, ==, has ? 0x100 : 0);
        g_assert_cmpuint(
            fx.dev.regions[i].flags, ==,
            has ? VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE : 0);
        g_assert_cmpint(fx.dev.regions[i].fd, ==, -1);
    }
    for (unsigned i = 0; i < 5; i++) {
        g_assert_true(vfio_user_device_get_irq_info(&fx.dev, i, &irq, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(irq.count, ==, irq_counts[i]);
        g_assert_cmpuint(irq.flags, ==, VFIO_IRQ_INFO_EVENTFD);
    }
    g_assert_true(vfio_user_region_read(&fx.dev, 7, 0, cfg, 64, &err));
    g_assert_no_error(err);
    g_assert_cmphex(cfg[0] | cfg[1] << 8, ==, 0x494f);
    g_assert_cmphex(cfg[2] | cfg[3] << 8, ==, 0x0dc8);
    g_assert_true(vfio_user_device_reset(&fx.dev, &err));
    efd = eventfd(0, EFD_CLOEXEC);
    g_assert_true(vfio_user_device_set_irqs(
        &fx.dev, 0, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0,
        1, &efd, NULL, &err));
    close(efd);
    g_assert_true(vfio_user_region_read(&fx.dev, 2, 1, &b, 1, &err));
    g_assert_cmphex(b, ==, 0xff);
    g_assert_true(vfio_user_region_write(&fx.dev, 2, 0, &ff, 1, false, &err));
    g_assert_true(vfio_user_region_read(&fx.dev, 2, 1, &b, 1, &err));
    g_assert_cmphex(b, ==, 0x00);
    g_assert_true(vfio_user_region_read(&fx.dev, 2, 5, &b, 1, &err));
    g_assert_cmphex(b, ==, 0xff);
    g_assert_no_error(err);
    fake_server_snapshot(fx.fs, &snap);
    g_assert_cmpuint(snap.replay_mismatches, ==, 0);
    g_assert_cmpuint(snap.replay_pos, ==, fx.fs->replay->len);
    fx_end(&fx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/device/info", test_info);
    g_test_add_func("/device/mmap-vs-message", test_mmap_vs_message);
    g_test_add_func("/device/argsz-reask", test_argsz_reask);
    g_test_add_func("/device/hostile-region-info", test_hostile_region_info);
    g_test_add_func("/device/read-split", test_read_split);
    g_test_add_func("/device/posted-writes", test_posted_writes);
    g_test_add_func("/device/set-irqs", test_set_irqs);
    g_test_add_func("/device/reset", test_reset);
    g_test_add_func("/device/io-fds", test_io_fds);
    g_test_add_func("/device/failure", test_failure);
    g_test_add_func("/device/replay-gpio", test_replay_gpio);
    g_test_add_func("/device/write-multi/batch", test_multi_batch);
    g_test_add_func("/device/write-multi/full", test_multi_full);
    g_test_add_func("/device/write-multi/edges", test_multi_edges);

    return g_test_run();
}
