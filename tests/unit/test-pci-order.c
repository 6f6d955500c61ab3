/*
 * PCI ordering between posted writes and the paths that bypass the
 * message stream: a read never passes a posted write, posted writes stay
 * in order.  The device (our server library on a socketpair) applies one
 * register's writes 50 ms late, as a slow device would; each test makes a
 * posted write to it and then reads mmapped memory, writes mmapped memory
 * or kicks an ioeventfd, and checks that the device saw the program
 * order.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "hw/vfio-user/device.h"
#include "vfio-user/server.h"
#include "vfu-test.h"

#define BAR0_SIZE 0x1000
#define BAR1_SIZE 0x2000
#define SLOW_OFF 0x10     /* BAR0: applied SLOW_US late, copied to BAR1 */
#define PLAIN_OFF 0x20    /* BAR0: applied at once */
#define DOORBELL_OFF 0x40 /* BAR0: an ioeventfd (no datamatch) */
#define SLOW_MEM 0x1000   /* where in BAR1 (an mmapped area) */
#define SLOW_US 50000
#define LOG_MAX 64

typedef struct Dev {
    VusServer *srv;
    GThread *thread;
    uint8_t *bar1; /* the server's view of BAR1 */
    VFIOUserProxy *proxy;
    VFIOUserDevice dev;
    GMutex lock; /* guards log */
    uint64_t log[LOG_MAX];
    unsigned nlog;
} Dev;

static ssize_t bar0_access(void *opaque, bool is_write, uint64_t off, void *buf,
                           size_t len)
{
    Dev *d = opaque;

    if (!is_write) {
        memset(buf, 0, len);
        return len;
    }
    if (off == SLOW_OFF) {
        g_usleep(SLOW_US); /* the device's own latency, not a test wait */
    }
    g_mutex_lock(&d->lock);
    if (off == SLOW_OFF && len == 4) {
        memcpy(d->bar1 + SLOW_MEM, buf, 4);
    }
    if (d->nlog < LOG_MAX) {
        d->log[d->nlog++] = off;
    }
    g_mutex_unlock(&d->lock);
    return len;
}

static gpointer dev_thread(gpointer opaque)
{
    Dev *d = opaque;
    GError *err = NULL;

    g_assert_true(vus_server_run(d->srv, &err));
    g_assert_no_error(err);
    return NULL;
}

static Dev *dev_start(void)
{
    static const VusSparseArea areas[] = {{SLOW_MEM, 0x1000}};
    Dev *d = g_new0(Dev, 1);
    VusServerOptions so = {.dma_timeout_ms = 5000};
    VusRegionDesc bar0 = {.size = BAR0_SIZE,
                          .flags = VUS_REGION_F_RW,
                          .access = bar0_access,
                          .opaque = d};
    VusRegionDesc bar1 = {.size = BAR1_SIZE,
                          .flags = VUS_REGION_F_RW,
                          .mem = true,
                          .sparse = areas,
                          .nr_sparse = G_N_ELEMENTS(areas)};
    VusPciDesc pci = {.vendor_id = 0x1234, .device_id = 0x0de7};
    VFIOUserProxyOptions po;
    GError *err = NULL;
    void *mem = NULL;
    int sv[2];

    g_mutex_init(&d->lock);
    vfio_user_caps_init_ours(&so.caps);
    d->srv = vus_server_new(NULL, &so, &err);
    g_assert_no_error(err);
    g_assert_true(vus_server_setup_region(d->srv, VFIO_PCI_BAR0_REGION_INDEX,
                                          &bar0, NULL, &err));
    g_assert_true(vus_server_setup_region(d->srv, VFIO_PCI_BAR1_REGION_INDEX,
                                          &bar1, &mem, &err));
    g_assert_true(vus_server_add_ioeventfd(d->srv, VFIO_PCI_BAR0_REGION_INDEX,
                                           DOORBELL_OFF, 4, false, 0, &err));
    g_assert_true(vus_server_setup_pci(d->srv, &pci, &err));
    g_assert_no_error(err);
    d->bar1 = mem;
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    g_assert_true(vus_server_attach(d->srv, sv[1], &err));
    d->thread = g_thread_new("vfu-server", dev_thread, d);
    vfio_user_proxy_options_init(&po);
    d->proxy = vfio_user_proxy_new_from_fd(sv[0], &po, &err);
    g_assert_no_error(err);
    g_assert_true(vfio_user_device_init(&d->dev, d->proxy, &err));
    g_assert_no_error(err);
    g_assert_nonnull(d->dev.regions[1].mmaps[0].host);
    return d;
}

static void dev_end(Dev *d)
{
    vfio_user_device_cleanup(&d->dev);
    vfio_user_proxy_close(d->proxy);
    g_thread_join(d->thread);
    vus_server_free(d->srv);
    g_mutex_clear(&d->lock);
    g_free(d);
}

static void post32(Dev *d, uint64_t off, uint32_t v)
{
    GError *err = NULL;

    g_assert_true(vfio_user_region_write(&d->dev, VFIO_PCI_BAR0_REGION_INDEX,
                                         off, &v, 4, true, &err));
    g_assert_no_error(err);
}

/* One blocking round trip: everything posted before it is applied. */
static void sync_dev(Dev *d)
{
    uint32_t v;
    GError *err = NULL;

    g_assert_true(vfio_user_region_read(&d->dev, VFIO_PCI_CONFIG_REGION_INDEX,
                                        0, &v, 4, &err));
    g_assert_no_error(err);
}

/* Posted write, then an mmapped read that depends on it: never stale. */
static void test_posted_then_mmap_read(void)
{
    Dev *d = dev_start();
    GError *err = NULL;

    for (uint32_t i = 1; i <= 3; i++) {
        uint32_t got = 0;

        post32(d, SLOW_OFF, 0xc0de0000 + i);
        g_assert_true(vfio_user_region_read(&d->dev, VFIO_PCI_BAR1_REGION_INDEX,
                                            SLOW_MEM, &got, 4, &err));
        g_assert_no_error(err);
        g_assert_cmphex(got, ==, 0xc0de0000 + i);
    }
    g_assert_cmpuint(d->dev.fences, ==, 3);
    /* Nothing outstanding: an mmapped access costs no round trip. */
    g_assert_false(vfio_user_proxy_posted_unacked(d->proxy));
    g_assert_true(vfio_user_region_read(&d->dev, VFIO_PCI_BAR1_REGION_INDEX,
                                        SLOW_MEM, &(uint32_t){0}, 4, &err));
    g_assert_cmpuint(d->dev.fences, ==, 3);
    dev_end(d);
}

/* Posted write, then an mmapped write of the same word: the later wins. */
static void test_posted_then_mmap_write(void)
{
    Dev *d = dev_start();
    uint32_t v = 0x22222222, now;
    GError *err = NULL;

    post32(d, SLOW_OFF, 0x11111111);
    g_assert_true(vfio_user_region_write(&d->dev, VFIO_PCI_BAR1_REGION_INDEX,
                                         SLOW_MEM, &v, 4, true, &err));
    g_assert_no_error(err);
    sync_dev(d);
    g_mutex_lock(&d->lock);
    memcpy(&now, d->bar1 + SLOW_MEM, 4);
    g_mutex_unlock(&d->lock);
    g_assert_cmphex(now, ==, 0x22222222);
    dev_end(d);
}

/* Posted writes, then an ioeventfd kick: the device sees them first. */
static void test_posted_then_ioeventfd(void)
{
    Dev *d = dev_start();
    GError *err = NULL;
    unsigned n;

    d->dev.write_multi = false; /* two messages, not one batch */
    g_assert_true(vfio_user_device_get_region_io_fds(
        &d->dev, VFIO_PCI_BAR0_REGION_INDEX, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(d->dev.regions[0].nr_ioeventfds, ==, 1);
    post32(d, SLOW_OFF, 1);
    post32(d, PLAIN_OFF, 2);
    post32(d, DOORBELL_OFF, 3); /* signals the ioeventfd */
    sync_dev(d);
    g_mutex_lock(&d->lock);
    n = d->nlog;
    g_mutex_unlock(&d->lock);
    /* The kick is handled when the device loop next polls: wait for it. */
    for (gint64 end = vut_deadline_ms(5000);
         n < 3 && g_get_monotonic_time() < end;) {
        sync_dev(d);
        g_mutex_lock(&d->lock);
        n = d->nlog;
        g_mutex_unlock(&d->lock);
    }
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmphex(d->log[0], ==, SLOW_OFF);
    g_assert_cmphex(d->log[1], ==, PLAIN_OFF);
    g_assert_cmphex(d->log[2], ==, DOORBELL_OFF);
    g_assert_cmpuint(d->dev.fences, ==, 1);
    dev_end(d);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pci-order/posted-then-mmap-read",
                    test_posted_then_mmap_read);
    g_test_add_func("/pci-order/posted-then-mmap-write",
                    test_posted_then_mmap_write);
    g_test_add_func("/pci-order/posted-then-ioeventfd",
                    test_posted_then_ioeventfd);
    return g_test_run();
}
