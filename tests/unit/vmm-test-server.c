/*
 * In-process vfio-user server for the VMM tests (see
 * vmm-test-server.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "vmm-test-server.h"
#include "vfu-test.h"

static ssize_t tdev_regs(void *opaque, bool is_write, uint64_t off, void *buf,
                         size_t len)
{
    TestServer *ts = opaque;
    uint32_t val = 0;

    if (len != 4) {
        return -EINVAL;
    }
    if (!is_write) {
        g_mutex_lock(&ts->lock);
        val = off == 0xc ? ts->writes : 0;
        g_mutex_unlock(&ts->lock);
        memcpy(buf, &val, 4);
        return 4;
    }
    memcpy(&val, buf, 4);
    if (off == 0x0) {
        vus_irq_trigger(ts->srv, VFIO_PCI_MSIX_IRQ_INDEX, val);
    } else if (off == 0x4) {
        vus_irq_trigger(ts->srv, VFIO_PCI_INTX_IRQ_INDEX, 0);
    } else if (off == 0x8) {
        vus_irq_trigger(ts->srv, VFIO_PCI_MSI_IRQ_INDEX, val);
    }
    g_mutex_lock(&ts->lock);
    ts->writes++;
    g_mutex_unlock(&ts->lock);
    return 4;
}

/* Serve clients one after the other until vus_server_stop(). */
static gpointer test_server_thread(gpointer p)
{
    TestServer *ts = p;

    while (vus_server_accept(ts->srv, NULL)) {
        vus_server_run(ts->srv, NULL);
        g_mutex_lock(&ts->lock);
        ts->disconnects++;
        g_cond_broadcast(&ts->cond);
        g_mutex_unlock(&ts->lock);
    }
    return NULL;
}

TestServer *test_server_start(void)
{
    return test_server_start_counts(-1, -1);
}

TestServer *test_server_start_counts(int msi, int msix)
{
    TestServer *ts = g_new0(TestServer, 1);
    g_autoptr(GError) err = NULL;
    VusRegionDesc bar0 = {
        .size = 0x10000,
        .flags = VUS_REGION_F_RW,
        .mem = true,
    };
    VusRegionDesc bar2 = {
        .size = 0x1000,
        .flags = VUS_REGION_F_RW,
        .access = tdev_regs,
        .opaque = ts,
    };
    /* Absurdly large: the client must leave it unimplemented. */
    VusRegionDesc bar4 = {
        .size = 1ULL << 40,
        .flags = VUS_REGION_F_RW,
        .bar_flags = VUS_BAR_F_MEM64,
        .access = tdev_regs,
        .opaque = ts,
    };
    VusPciDesc pci = {
        .vendor_id = TDEV_VENDOR,
        .device_id = TDEV_DEVICE,
        .class_code = 0xff0000,
        .intx_pin = 1,
        .msi_vectors = 4,
        .msix_vectors = 4,
        .msix_bar = 0,
        .msix_table_offset = TDEV_MSIX_TABLE,
        .msix_pba_offset = TDEV_MSIX_PBA,
    };
    void *mem = NULL;

    g_mutex_init(&ts->lock);
    g_cond_init(&ts->cond);
    ts->dir = vut_sock_dir_new("vmm-test");
    ts->path = g_build_filename(ts->dir, "dev.sock", NULL);
    ts->srv = vus_server_new(ts->path, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(vus_server_setup_region(ts->srv, VFIO_PCI_BAR0_REGION_INDEX,
                                          &bar0, &mem, &err));
    ts->bar0 = mem;
    g_assert_true(vus_server_setup_region(ts->srv, VFIO_PCI_BAR2_REGION_INDEX,
                                          &bar2, NULL, &err));
    g_assert_true(vus_server_setup_region(ts->srv, VFIO_PCI_BAR4_REGION_INDEX,
                                          &bar4, NULL, &err));
    g_assert_true(vus_server_setup_pci(ts->srv, &pci, &err));
    g_assert_no_error(err);
    g_assert_true(msi < 0 || vus_server_setup_irq(
                                 ts->srv, VFIO_PCI_MSI_IRQ_INDEX, msi, &err));
    g_assert_true(
        msix < 0 ||
        vus_server_setup_irq(ts->srv, VFIO_PCI_MSIX_IRQ_INDEX, msix, &err));
    ts->thread = g_thread_new("test-server", test_server_thread, ts);
    return ts;
}

bool test_server_wait_disconnects(TestServer *ts, unsigned n)
{
    gint64 end = vut_deadline_ms(10000);
    bool ok = true;

    g_mutex_lock(&ts->lock);
    while (ts->disconnects < n && ok) {
        ok = g_cond_wait_until(&ts->cond, &ts->lock, end);
    }
    ok = ts->disconnects >= n;
    g_mutex_unlock(&ts->lock);
    return ok;
}

void test_server_stop(TestServer *ts)
{
    vus_server_stop(ts->srv);
    g_thread_join(ts->thread);
    vus_server_free(ts->srv);
    vut_sock_dir_remove(ts->dir, NULL);
    g_free(ts->path);
    g_free(ts->dir);
    g_mutex_clear(&ts->lock);
    g_cond_clear(&ts->cond);
    g_free(ts);
}
