/*
 * End-to-end tests of the client device operations (hw/vfio-user/device*.c)
 * against the real server library (server/), over a socketpair: region
 * info with sparse mmap areas and a region fd, mmapped and message paths
 * giving the same bytes, transfer splitting, SET_IRQS with eventfds the
 * server signals, reset, errors coming back with their errno, and the
 * batching of posted writes into REGION_WRITE_MULTI (order, flush
 * triggers, what is never batched, error replies, several threads).
 *
 * The device: BAR0 is a callback region that logs every write it gets, in
 * order (writes that touch FAIL_OFF fail with EIO), with an ioeventfd at
 * DOORBELL_OFF; BAR1 is memory-backed with two mmappable sparse areas;
 * BAR2 is read-only; config space bytes from 0x40 go to a callback that
 * logs writes too.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "hw/vfio-user/device.h"
#include "vfio-user/error.h"
#include "vfio-user/server.h"
#include "vfu-test.h"

#define BAR0_SIZE 0x4000
#define BAR1_SIZE 0x4000
#define BAR2_SIZE 0x100
#define FAIL_OFF 0x3f00     /* BAR0 writes touching it fail with EIO */
#define DOORBELL_OFF 0x3800 /* BAR0 ioeventfd, 4 bytes, no datamatch */
#define MSIX_VECTORS 8
#define LOG_MAX 4096
#define WAIT_MS 5000
#define CONFIG VFIO_PCI_CONFIG_REGION_INDEX

typedef struct LogEntry {
    uint32_t region;
    uint32_t len;
    uint64_t off;
    uint64_t val; /* the first 8 bytes written */
} LogEntry;

typedef struct Srv {
    int fds0;
    VusServer *srv;
    GThread *thread;
    uint8_t *bar1; /* the server's memory of BAR1 */
    VFIOUserProxy *proxy;
    VFIOUserDevice dev;

    /* lock guards everything below (server thread writes, tests read) */
    GMutex lock;
    GCond cond;
    uint8_t bar0[BAR0_SIZE];
    LogEntry log[LOG_MAX];
    unsigned nlog;
    unsigned resets;
    int reset_ret;
} Srv;

static void log_write(Srv *s, uint32_t region, uint64_t off, const void *buf,
                      size_t len)
{
    LogEntry *e = &s->log[s->nlog < LOG_MAX ? s->nlog : LOG_MAX - 1];

    e->region = region;
    e->off = off;
    e->len = len;
    e->val = 0;
    memcpy(&e->val, buf, MIN(len, sizeof(e->val)));
    s->nlog += s->nlog < LOG_MAX;
    g_cond_broadcast(&s->cond);
}

static ssize_t bar0_access(void *opaque, bool is_write, uint64_t off, void *buf,
                           size_t len)
{
    Srv *s = opaque;

    if (is_write && off <= FAIL_OFF && FAIL_OFF - off < len) {
        return -EIO;
    }
    g_mutex_lock(&s->lock);
    if (is_write) {
        log_write(s, VFIO_PCI_BAR0_REGION_INDEX, off, buf, len);
        memcpy(s->bar0 + off, buf, len);
    } else {
        memcpy(buf, s->bar0 + off, len);
    }
    g_mutex_unlock(&s->lock);
    return len;
}

static ssize_t bar2_access(void *opaque G_GNUC_UNUSED, bool is_write,
                           uint64_t off G_GNUC_UNUSED, void *buf, size_t len)
{
    g_assert_false(is_write); /* the library refuses writes with EPERM */
    memset(buf, 0x5a, len);
    return len;
}

static ssize_t config_access(void *opaque, bool is_write, uint64_t off,
                             void *buf, size_t len)
{
    Srv *s = opaque;

    if (is_write) {
        g_mutex_lock(&s->lock);
        log_write(s, CONFIG, off, buf, len);
        g_mutex_unlock(&s->lock);
    } else {
        memset(buf, 0, len);
    }
    return len;
}

static int dev_reset(void *opaque)
{
    Srv *s = opaque;
    int ret;

    g_mutex_lock(&s->lock);
    s->resets++;
    ret = s->reset_ret;
    g_mutex_unlock(&s->lock);
    return ret;
}

static gpointer srv_thread(gpointer opaque)
{
    Srv *s = opaque;
    GError *err = NULL;

    g_assert_true(vus_server_run(s->srv, &err));
    g_assert_no_error(err);
    return NULL;
}

static void srv_setup_device(Srv *s)
{
    static const VusSparseArea areas[] = {{0x1000, 0x1000}, {0x3000, 0x1000}};
    static const VusDeviceOps ops = {.reset = dev_reset};
    VusRegionDesc bar0 = {.size = BAR0_SIZE,
                          .flags = VUS_REGION_F_RW,
                          .access = bar0_access,
                          .opaque = s};
    VusRegionDesc bar1 = {.size = BAR1_SIZE,
                          .flags = VUS_REGION_F_RW,
                          .mem = true,
                          .sparse = areas,
                          .nr_sparse = G_N_ELEMENTS(areas)};
    VusRegionDesc bar2 = {
        .size = BAR2_SIZE, .flags = VUS_REGION_F_READ, .access = bar2_access};
    VusPciDesc pci = {.vendor_id = 0x1234,
                      .device_id = 0x5678,
                      .intx_pin = 1,
                      .config_access = config_access,
                      .config_opaque = s};
    GError *err = NULL;
    void *mem = NULL;

    g_assert_true(vus_server_setup_region(s->srv, VFIO_PCI_BAR0_REGION_INDEX,
                                          &bar0, NULL, &err));
    g_assert_true(vus_server_setup_region(s->srv, VFIO_PCI_BAR1_REGION_INDEX,
                                          &bar1, &mem, &err));
    g_assert_true(vus_server_setup_region(s->srv, VFIO_PCI_BAR2_REGION_INDEX,
                                          &bar2, NULL, &err));
    g_assert_true(vus_server_add_ioeventfd(s->srv, VFIO_PCI_BAR0_REGION_INDEX,
                                           DOORBELL_OFF, 4, false, 0, &err));
    g_assert_true(vus_server_setup_pci(s->srv, &pci, &err));
    g_assert_true(vus_server_setup_irq(s->srv, VFIO_PCI_MSIX_IRQ_INDEX,
                                       MSIX_VECTORS, &err));
    g_assert_no_error(err);
    vus_server_set_device_ops(s->srv, &ops, s);
    s->bar1 = mem;
}

/* Server thread on one end of a socketpair, device on the other. */
static Srv *srv_start(uint64_t xfer)
{
    Srv *s = g_new0(Srv, 1);
    VusServerOptions so = {.dma_timeout_ms = 5000};
    VFIOUserProxyOptions po;
    GError *err = NULL;
    int sv[2];

    s->fds0 = vut_count_fds();
    g_mutex_init(&s->lock);
    g_cond_init(&s->cond);
    vfio_user_caps_init_ours(&so.caps);
    so.caps.max_msg_fds = 8;
    so.caps.max_data_xfer_size = xfer;
    s->srv = vus_server_new(NULL, &so, &err);
    g_assert_no_error(err);
    srv_setup_device(s);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    g_assert_true(vus_server_attach(s->srv, sv[1], &err));
    s->thread = g_thread_new("vfu-server", srv_thread, s);
    vfio_user_proxy_options_init(&po);
    po.caps.max_data_xfer_size = xfer;
    s->proxy = vfio_user_proxy_new_from_fd(sv[0], &po, &err);
    g_assert_no_error(err);
    g_assert_true(vfio_user_device_init(&s->dev, s->proxy, &err));
    g_assert_no_error(err);
    s->dev.write_multi = true; /* these tests flush where the VMM would */
    return s;
}

static void srv_end(Srv *s)
{
    vfio_user_device_cleanup(&s->dev);
    vfio_user_proxy_close(s->proxy);
    g_thread_join(s->thread);
    vus_server_free(s->srv);
    g_cond_clear(&s->cond);
    g_mutex_clear(&s->lock);
    g_assert_cmpint(vut_count_fds(), ==, s->fds0);
    g_free(s);
}

/* Wait (bounded) until the server has logged @n writes. */
static bool wait_log(Srv *s, unsigned n)
{
    gint64 deadline = vut_deadline_ms(WAIT_MS);
    bool ok;

    g_mutex_lock(&s->lock);
    while (s->nlog < n && g_cond_wait_until(&s->cond, &s->lock, deadline)) {
    }
    ok = s->nlog >= n;
    g_mutex_unlock(&s->lock);
    return ok;
}

static unsigned log_len(Srv *s)
{
    unsigned n;

    g_mutex_lock(&s->lock);
    n = s->nlog;
    g_mutex_unlock(&s->lock);
    return n;
}

static void assert_log(Srv *s, unsigned i, uint32_t region, uint64_t off,
                       uint32_t len, uint64_t val)
{
    LogEntry e;

    g_mutex_lock(&s->lock);
    g_assert_cmpuint(i, <, s->nlog);
    e = s->log[i];
    g_mutex_unlock(&s->lock);
    g_assert_cmpuint(e.region, ==, region);
    g_assert_cmphex(e.off, ==, off);
    g_assert_cmpuint(e.len, ==, len);
    g_assert_cmphex(e.val, ==, val);
}

static VFIOUserProxyStats stats(Srv *s)
{
    VFIOUserProxyStats st;

    vfio_user_proxy_get_stats(s->proxy, &st);
    return st;
}

static void wr(Srv *s, uint32_t index, uint64_t off, uint64_t val, size_t len,
               bool post)
{
    GError *err = NULL;

    g_assert_true(
        vfio_user_region_write(&s->dev, index, off, &val, len, post, &err));
    g_assert_no_error(err);
}

static uint32_t rd32(Srv *s, uint32_t index, uint64_t off)
{
    uint32_t v = 0;
    GError *err = NULL;

    g_assert_true(vfio_user_region_read(&s->dev, index, off, &v, 4, &err));
    g_assert_no_error(err);
    return v;
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 13 + seed + (i >> 8));
    }
}

/* ---- device operations ---- */

static void test_region_info(void)
{
    Srv *s = srv_start(1 << 20);
    const VFIOUserRegion *r = s->dev.regions;
    struct vfio_irq_info irq;
    GError *err = NULL;

    g_assert_cmpuint(s->dev.num_regions, >=, VFIO_PCI_NUM_REGIONS);
    g_assert_true(s->dev.flags & VFIO_DEVICE_FLAGS_PCI);
    g_assert_true(s->dev.flags & VFIO_DEVICE_FLAGS_RESET);
    g_assert_cmpuint(r[0].size, ==, BAR0_SIZE);
    g_assert_cmpint(r[0].fd, ==, -1);
    g_assert_cmpuint(r[0].nr_mmaps, ==, 0);
    g_assert_cmpuint(r[1].size, ==, BAR1_SIZE);
    g_assert_cmpint(r[1].fd, >=, 0);
    g_assert_true(r[1].flags & VFIO_REGION_INFO_FLAG_MMAP);
    g_assert_cmpuint(r[1].nr_mmaps, ==, 2);
    g_assert_cmphex(r[1].mmaps[0].offset, ==, 0x1000);
    g_assert_cmphex(r[1].mmaps[1].offset, ==, 0x3000);
    g_assert_cmphex(r[1].mmaps[1].size, ==, 0x1000);
    g_assert_nonnull(r[1].mmaps[0].host);
    g_assert_nonnull(r[1].mmaps[1].host);
    g_assert_cmpuint(r[2].flags & VFIO_REGION_INFO_FLAG_WRITE, ==, 0);
    g_assert_cmpuint(r[3].size, ==, 0);
    g_assert_cmpuint(r[CONFIG].size, ==, 256);
    g_assert_cmphex(rd32(s, CONFIG, 0), ==, 0x56781234);

    g_assert_true(vfio_user_device_get_irq_info(
        &s->dev, VFIO_PCI_MSIX_IRQ_INDEX, &irq, &err));
    g_assert_cmpuint(irq.count, ==, MSIX_VECTORS);
    g_assert_true(vfio_user_device_get_irq_info(
        &s->dev, VFIO_PCI_INTX_IRQ_INDEX, &irq, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(irq.count, ==, 1);
    srv_end(s);
}

static void test_mmap_vs_message(void)
{
    Srv *s = srv_start(1 << 20);
    g_autofree uint8_t *a = g_malloc(BAR1_SIZE), *want = g_malloc(BAR1_SIZE);
    uint64_t before;
    uint32_t v = 0x11223344;
    GError *err = NULL;

    fill(want, BAR1_SIZE, 5);
    memcpy(s->bar1, want, BAR1_SIZE);

    /* Inside an area: from the mapping, no message. */
    before = stats(s).requests;
    g_assert_true(vfio_user_region_read(&s->dev, 1, 0x3010, a, 0x100, &err));
    g_assert_cmpmem(a, 0x100, want + 0x3010, 0x100);
    g_assert_cmpuint(stats(s).requests, ==, before);

    /* The whole region spans unmapped parts: messages, same bytes. */
    g_assert_true(vfio_user_region_read(&s->dev, 1, 0, a, BAR1_SIZE, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(a, BAR1_SIZE, want, BAR1_SIZE);
    g_assert_cmpuint(stats(s).requests, ==, before + 1);

    /* Writes: mapped ones land at once, the others by message. */
    g_assert_true(
        vfio_user_region_write(&s->dev, 1, 0x1004, &v, 4, true, &err));
    g_assert_cmpmem(s->bar1 + 0x1004, 4, &v, 4);
    g_assert_cmpuint(stats(s).requests + stats(s).posted, ==, before + 1);
    g_assert_true(
        vfio_user_region_write(&s->dev, 1, 0x2004, &v, 4, false, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(s->bar1 + 0x2004, 4, &v, 4);
    srv_end(s);
}

static void test_large_split(void)
{
    Srv *s = srv_start(4096);
    g_autofree uint8_t *want = g_malloc(10000), *got = g_malloc(10000);
    uint64_t before = stats(s).requests;
    GError *err = NULL;

    fill(want, 10000, 3);
    g_assert_true(
        vfio_user_region_write(&s->dev, 0, 0x100, want, 10000, false, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(log_len(s), ==, 3);
    assert_log(s, 0, 0, 0x100, 4096, *(uint64_t *)want);
    assert_log(s, 1, 0, 0x1100, 4096, *(uint64_t *)(want + 4096));
    assert_log(s, 2, 0, 0x2100, 1808, *(uint64_t *)(want + 8192));
    g_assert_true(vfio_user_region_read(&s->dev, 0, 0x100, got, 10000, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(got, 10000, want, 10000);
    g_assert_cmpuint(stats(s).requests, ==, before + 6);
    srv_end(s);
}

static void test_set_irqs(void)
{
    const uint32_t trig =
        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    Srv *s = srv_start(1 << 20);
    int efds[MSIX_VECTORS];
    uint64_t v = 0;
    GError *err = NULL;

    for (unsigned i = 0; i < MSIX_VECTORS; i++) {
        efds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    g_assert_true(vfio_user_device_set_irqs(&s->dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                            trig, 0, MSIX_VECTORS, efds, NULL,
                                            &err));
    g_assert_no_error(err);
    g_assert_true(vus_irq_trigger(s->srv, VFIO_PCI_MSIX_IRQ_INDEX, 5));
    g_assert_cmpint(read(efds[5], &v, sizeof(v)), ==, sizeof(v));
    g_assert_cmpuint(v, ==, 1);
    g_assert_cmpint(read(efds[4], &v, sizeof(v)), ==, -1);
    g_assert_cmpint(errno, ==, EAGAIN);

    /* Disable the index: the server has no eventfd any more. */
    g_assert_true(vfio_user_device_set_irqs(&s->dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                            VFIO_IRQ_SET_DATA_NONE |
                                                VFIO_IRQ_SET_ACTION_TRIGGER,
                                            0, 0, NULL, NULL, &err));
    g_assert_no_error(err);
    g_assert_false(vus_irq_enabled(s->srv, VFIO_PCI_MSIX_IRQ_INDEX, 5));
    g_assert_false(vus_irq_trigger(s->srv, VFIO_PCI_MSIX_IRQ_INDEX, 5));
    g_assert_cmpint(read(efds[5], &v, sizeof(v)), ==, -1);
    for (unsigned i = 0; i < MSIX_VECTORS; i++) {
        close(efds[i]);
    }
    srv_end(s);
}

static void test_reset(void)
{
    Srv *s = srv_start(1 << 20);
    GError *err = NULL;

    g_assert_true(vfio_user_device_reset(&s->dev, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(s->resets, ==, 1);
    g_mutex_lock(&s->lock);
    s->reset_ret = -EBUSY;
    g_mutex_unlock(&s->lock);
    g_assert_false(vfio_user_device_reset(&s->dev, &err));
    g_assert_error(err, VFIO_USER_ERROR, EBUSY);
    g_clear_error(&err);
    g_assert_cmpuint(s->resets, ==, 2);
    srv_end(s);
}

static void expect_errno(bool ok, GError **err, int errnum)
{
    g_assert_false(ok);
    g_assert_error(*err, VFIO_USER_ERROR, errnum);
    g_test_message("as expected: %s", (*err)->message);
    g_clear_error(err);
}

static void test_errors(void)
{
    const uint32_t trig =
        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    Srv *s = srv_start(1 << 20);
    struct vfio_irq_info irq;
    uint32_t v = 0;
    int efd = eventfd(0, EFD_CLOEXEC);
    GError *err = NULL;

    expect_errno(vfio_user_region_read(&s->dev, 40, 0, &v, 4, &err), &err,
                 EINVAL);
    expect_errno(vfio_user_region_read(&s->dev, 0, BAR0_SIZE - 2, &v, 4, &err),
                 &err, EINVAL);
    g_assert_cmphex(v, ==, 0xffffffff);
    expect_errno(vfio_user_device_get_irq_info(&s->dev, 9, &irq, &err), &err,
                 EINVAL);
    /* The server's answers. */
    expect_errno(vfio_user_region_write(&s->dev, 2, 0, &v, 4, false, &err),
                 &err, EPERM);
    expect_errno(
        vfio_user_region_write(&s->dev, 0, FAIL_OFF, &v, 4, false, &err), &err,
        EIO);
    expect_errno(vfio_user_device_set_irqs(&s->dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                           trig, MSIX_VECTORS, 1, &efd, NULL,
                                           &err),
                 &err, EINVAL);
    expect_errno(vfio_user_device_get_region_io_fds(&s->dev, 12, &err), &err,
                 EINVAL);
    /* None of that broke the device. */
    g_assert_false(s->dev.failed);
    g_assert_cmphex(rd32(s, 2, 0), ==, 0x5a5a5a5a);
    close(efd);
    srv_end(s);
}

/* ---- batches of posted writes ---- */

/* Three batched writes at @base (values @base + 0..2). */
static void post3(Srv *s, uint64_t base)
{
    for (unsigned i = 0; i < 3; i++) {
        wr(s, 0, base + i * 4, base + i, 4, true);
    }
}

static void assert_post3(Srv *s, unsigned at, uint64_t base)
{
    for (unsigned i = 0; i < 3; i++) {
        assert_log(s, at + i, 0, base + i * 4, 4, base + i);
    }
}

/* 50 writes then a read: the read sees all of them, the server got them
 * in order; then every other kind of request sends the batch first. */
static void test_multi_order(void)
{
    Srv *s = srv_start(1 << 20);
    struct vfio_irq_info irq;
    int efd = eventfd(0, EFD_CLOEXEC);
    uint32_t v = 1;
    GError *err = NULL;

    for (unsigned i = 0; i < 50; i++) {
        size_t len = 1u << (i % 4);

        wr(s, 0, (i * 24) % 0x400, 0x0102030405060708ull * (i + 1), len, true);
    }
    g_assert_cmpuint(stats(s).posted, ==, 0);
    g_assert_cmpuint(rd32(s, 0, 0x3000), ==, 0);
    g_assert_cmpuint(stats(s).posted, ==, 1);
    g_assert_cmpuint(log_len(s), ==, 50);
    for (unsigned i = 0; i < 50; i++) {
        size_t len = 1u << (i % 4);
        uint64_t val = 0x0102030405060708ull * (i + 1);

        if (len < 8) {
            val &= (1ull << (len * 8)) - 1;
        }
        assert_log(s, i, 0, (i * 24) % 0x400, len, val);
    }
    g_assert_cmpuint(s->dev.multi_msgs, ==, 1);
    g_assert_cmpuint(s->dev.multi_writes, ==, 50);

    post3(s, 0x500);
    g_assert_true(vfio_user_device_set_irqs(&s->dev, VFIO_PCI_INTX_IRQ_INDEX,
                                            VFIO_IRQ_SET_DATA_EVENTFD |
                                                VFIO_IRQ_SET_ACTION_TRIGGER,
                                            0, 1, &efd, NULL, &err));
    assert_post3(s, 50, 0x500);
    post3(s, 0x600);
    g_assert_true(vfio_user_device_reset(&s->dev, &err));
    assert_post3(s, 53, 0x600);
    post3(s, 0x700);
    rd32(s, CONFIG, 0);
    assert_post3(s, 56, 0x700);
    post3(s, 0x800);
    g_assert_true(vfio_user_device_get_region_io_fds(&s->dev, 0, &err));
    assert_post3(s, 59, 0x800);
    post3(s, 0x900);
    g_assert_true(vfio_user_device_get_irq_info(&s->dev, 0, &irq, &err));
    assert_post3(s, 62, 0x900);
    g_assert_no_error(err);

    /* An mmapped access sends the batch before it touches memory. */
    post3(s, 0xa00);
    g_assert_true(
        vfio_user_region_write(&s->dev, 1, 0x1000, &v, 4, true, &err));
    g_assert_cmpuint(stats(s).posted, ==, 7);
    g_assert_true(wait_log(s, 68));
    assert_post3(s, 65, 0xa00);

    /* The owner's flush. */
    post3(s, 0xb00);
    g_assert_cmpuint(stats(s).posted, ==, 7);
    vfio_user_device_flush(&s->dev);
    g_assert_cmpuint(stats(s).posted, ==, 8);
    g_assert_true(wait_log(s, 71));
    assert_post3(s, 68, 0xb00);
    g_assert_cmpuint(s->dev.multi_msgs, ==, 8);
    close(efd);
    srv_end(s);
}

/* Config space, wide writes, the opt-outs, ioeventfds, read-only BARs. */
static void test_multi_not_batched(void)
{
    Srv *s = srv_start(1 << 20);
    VFIOUserProxyStats st;
    uint8_t big[16];
    GError *err = NULL;

    /* Config space writes are blocking requests. */
    wr(s, CONFIG, 0x60, 0xabcd, 2, true);
    st = stats(s);
    g_assert_cmpuint(st.posted, ==, 0);
    assert_log(s, 0, CONFIG, 0x60, 2, 0xabcd);

    /* Over 8 bytes: the batch goes first, then the write on its own. */
    wr(s, 0, 0x80, 0x5555555555555555ull, 8, true);
    wr(s, 0, 0x88, 0x5555555555555555ull, 8, true);
    fill(big, sizeof(big), 9);
    g_assert_true(
        vfio_user_region_write(&s->dev, 0, 0x80, big, sizeof(big), true, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(stats(s).posted, ==, 2);
    g_assert_cmpmem(&(uint32_t){rd32(s, 0, 0x8c)}, 4, big + 12, 4);
    assert_log(s, 1, 0, 0x80, 8, 0x5555555555555555ull);
    assert_log(s, 2, 0, 0x88, 8, 0x5555555555555555ull);
    assert_log(s, 3, 0, 0x80, 16, *(uint64_t *)big);
    g_assert_cmpuint(s->dev.multi_msgs, ==, 1);

    /* A write the ioeventfd takes: signalled, no message. */
    g_assert_true(vfio_user_device_get_region_io_fds(&s->dev, 0, &err));
    g_assert_no_error(err);
    st = stats(s);
    wr(s, 0, DOORBELL_OFF, 7, 4, true);
    g_assert_true(wait_log(s, 5));
    assert_log(s, 4, 0, DOORBELL_OFF, 4, 0);
    g_assert_cmpuint(stats(s).posted, ==, st.posted);

    /* x-no-write-multi: one posted message per write. */
    s->dev.write_multi = false;
    wr(s, 0, 0x40, 1, 4, true);
    wr(s, 0, 0x44, 2, 4, true);
    g_assert_cmpuint(stats(s).posted, ==, st.posted + 2);
    /* x-no-posted-writes: blocking writes. */
    s->dev.write_multi = true;
    s->dev.posted_writes = false;
    wr(s, 0, 0x48, 3, 4, true);
    g_assert_cmpuint(stats(s).posted, ==, st.posted + 2);
    g_assert_cmpuint(stats(s).requests, ==, st.requests + 1);
    assert_log(s, 7, 0, 0x48, 4, 3);
    s->dev.posted_writes = true;

    /* A read-only region is never batched: its error stays its own. */
    wr(s, 0, 0x50, 4, 4, true);
    wr(s, 2, 0x0, 5, 4, true);
    wr(s, 0, 0x54, 6, 4, true);
    rd32(s, 0, 0);
    assert_log(s, 8, 0, 0x50, 4, 4);
    assert_log(s, 9, 0, 0x54, 4, 6);
    g_assert_cmpuint(stats(s).posted_errors, ==, 1);
    g_assert_cmpuint(s->dev.multi_msgs, ==, 1);
    srv_end(s);
}

/* A batch the server fails: one posted error, later batches go on. */
static void test_multi_error(void)
{
    Srv *s = srv_start(1 << 20);

    wr(s, 0, 0x10, 1, 4, true);
    wr(s, 0, FAIL_OFF, 2, 4, true);
    wr(s, 0, 0x20, 3, 4, true);
    rd32(s, 0, 0);
    g_assert_cmpuint(stats(s).posted_errors, ==, 1);
    g_assert_cmpuint(s->dev.posted_write_errors, ==, 0);
    g_assert_cmpuint(s->dev.multi_msgs, ==, 1);
    /* Our server stops at the failing write. */
    g_assert_cmpuint(log_len(s), ==, 1);
    assert_log(s, 0, 0, 0x10, 4, 1);

    wr(s, 0, 0x30, 4, 4, true);
    wr(s, 0, 0x34, 5, 4, true);
    g_assert_cmpuint(rd32(s, 0, 0x34), ==, 5);
    g_assert_cmpuint(stats(s).posted_errors, ==, 1);
    g_assert_cmpuint(log_len(s), ==, 3);
    g_assert_false(s->dev.failed);
    srv_end(s);
}

#define THREADS 4
#define PER_THREAD 600

typedef struct Writer {
    Srv *s;
    unsigned id;
} Writer;

static gpointer writer_thread(gpointer opaque)
{
    Writer *w = opaque;

    for (uint64_t i = 0; i < PER_THREAD; i++) {
        wr(w->s, 0, w->id * 0x800 + (i % 256) * 8, (uint64_t)w->id << 32 | i, 8,
           true);
    }
    vfio_user_device_flush(&w->s->dev);
    return NULL;
}

/* Several threads batching at once: nothing lost, each thread's order. */
static void test_multi_threads(void)
{
    Srv *s = srv_start(1 << 20);
    Writer w[THREADS];
    GThread *t[THREADS];
    uint64_t next[THREADS] = {0};

    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (Writer){s, i};
        t[i] = g_thread_new("writer", writer_thread, &w[i]);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        g_thread_join(t[i]);
    }
    rd32(s, 0, 0);
    g_assert_cmpuint(log_len(s), ==, THREADS * PER_THREAD);
    g_mutex_lock(&s->lock);
    for (unsigned i = 0; i < THREADS * PER_THREAD; i++) {
        unsigned id = s->log[i].val >> 32;

        g_assert_cmpuint(id, <, THREADS);
        g_assert_cmpuint(s->log[i].val & 0xffffffff, ==, next[id]);
        g_assert_cmphex(s->log[i].off, ==, id * 0x800 + (next[id] % 256) * 8);
        next[id]++;
    }
    g_mutex_unlock(&s->lock);
    g_assert_cmpuint(s->dev.multi_writes, >, 0);
    g_test_message("%" PRIu64 " writes in %" PRIu64 " WRITE_MULTI messages",
                   s->dev.multi_writes, s->dev.multi_msgs);
    srv_end(s);
}

static void drop_log(const char *domain G_GNUC_UNUSED,
                     GLogLevelFlags level G_GNUC_UNUSED,
                     const char *message G_GNUC_UNUSED,
                     gpointer opaque G_GNUC_UNUSED)
{
}

/* Posted 4-byte writes per second, one by one and batched (-m perf). */
static void test_multi_throughput(void)
{
    const unsigned n = 200000;
    double rate[2];

    /* Not a debug line per message. */
    g_log_set_handler(VUS_SERVER_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, drop_log, NULL);
    for (int batched = 0; batched < 2; batched++) {
        Srv *s = srv_start(1 << 20);
        gint64 t0 = g_get_monotonic_time();

        s->dev.write_multi = batched;
        for (unsigned i = 0; i < n; i++) {
            wr(s, 0, (i % 512) * 4, i, 4, true);
        }
        rd32(s, 0, 0);
        rate[batched] = n * 1e6 / (double)(g_get_monotonic_time() - t0);
        srv_end(s);
    }
    g_test_message("posted writes/s: single %.0f, batched %.0f (x%.1f)",
                   rate[0], rate[1], rate[1] / rate[0]);
    g_test_maximized_result(rate[1], "batched posted writes/s");
    g_assert_cmpfloat(rate[1], >, rate[0]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* The proxy warns about error replies to posted writes: expected. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    g_test_add_func("/device-ops/region-info", test_region_info);
    g_test_add_func("/device-ops/mmap-vs-message", test_mmap_vs_message);
    g_test_add_func("/device-ops/large-split", test_large_split);
    g_test_add_func("/device-ops/set-irqs", test_set_irqs);
    g_test_add_func("/device-ops/reset", test_reset);
    g_test_add_func("/device-ops/errors", test_errors);
    g_test_add_func("/device-ops/write-multi/order", test_multi_order);
    g_test_add_func("/device-ops/write-multi/not-batched",
                    test_multi_not_batched);
    g_test_add_func("/device-ops/write-multi/error", test_multi_error);
    g_test_add_func("/device-ops/write-multi/threads", test_multi_threads);
    if (g_test_perf()) {
        g_test_add_func("/device-ops/write-multi/throughput",
                        test_multi_throughput);
    }
    return g_test_run();
}
