/*
 * pio: a sample device whose only BAR is an I/O BAR, with a level INTx
 * source, for exercising a client's port I/O space, configuration
 * mechanism #1 and INTx as a level.
 *
 * PCI 4e58:0002 rev 0x01 ("vfio-user-client pio"), class 0x078000 (other
 * communication controller), INTx pin A, no MSI.
 *
 * BAR0 (I/O, 8 bytes), accesses of 1, 2 or 4 bytes at any offset:
 *
 *   0x00  4  RW  scratch
 *   0x04  1  RW  INTx line: writing 1 asserts it, 0 deasserts it (other
 *                values: bit 0 counts); reads the level
 *   0x05  1  RO  number of writes to 0x04 so far, modulo 256
 *   0x06  2  RO  identification, 0x5049 ("PI")
 *
 * Writes to read-only bytes are ignored.  Device reset clears scratch and
 * the counter and deasserts INTx.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "devices.h"

/* No lock: the library calls back on the thread running vus_server_run(). */
typedef struct PioDevice {
    VusServer *srv;
    uint8_t regs[PIO_BAR0_SIZE];
} PioDevice;

static void pio_write_byte(PioDevice *pio, uint64_t off, uint8_t v)
{
    if (off < PIO_REG_INTX) {
        pio->regs[off] = v;
    } else if (off == PIO_REG_INTX) {
        pio->regs[PIO_REG_INTX] = v & 1;
        pio->regs[PIO_REG_INTX_WRITES]++;
        vus_irq_set_level(pio->srv, v & 1);
    }
}

static ssize_t pio_bar0_access(void *opaque, bool is_write, uint64_t off,
                               void *buf, size_t len)
{
    PioDevice *pio = opaque;
    uint8_t *p = buf;

    /* The library checked off + len <= PIO_BAR0_SIZE. */
    for (size_t i = 0; i < len; i++) {
        if (is_write) {
            pio_write_byte(pio, off + i, p[i]);
        } else {
            p[i] = pio->regs[off + i];
        }
    }
    return len;
}

static void pio_reset_regs(PioDevice *pio)
{
    memset(pio->regs, 0, sizeof(pio->regs));
    pio->regs[PIO_REG_ID] = PIO_ID_VALUE & 0xff;
    pio->regs[PIO_REG_ID + 1] = PIO_ID_VALUE >> 8;
}

static int pio_reset(void *opaque)
{
    PioDevice *pio = opaque;

    pio_reset_regs(pio);
    vus_irq_set_level(pio->srv, false);
    return 0;
}

static void pio_destroy(void *dev)
{
    g_free(dev);
}

static void *pio_create(VusServer *srv, GError **errp)
{
    static const VusDeviceOps ops = {.reset = pio_reset};
    PioDevice *pio = g_new0(PioDevice, 1);
    VusRegionDesc bar0 = {
        .size = PIO_BAR0_SIZE,
        .flags = VUS_REGION_F_RW,
        .bar_flags = VUS_BAR_F_IO,
        .access = pio_bar0_access,
        .opaque = pio,
    };
    VusPciDesc pci = {
        .vendor_id = PIO_PCI_VENDOR_ID,
        .device_id = PIO_PCI_DEVICE_ID,
        .subsys_vendor_id = PIO_PCI_VENDOR_ID,
        .subsys_id = PIO_PCI_DEVICE_ID,
        .class_code = PIO_PCI_CLASS,
        .revision = PIO_PCI_REVISION,
        .intx_pin = 1,
    };

    pio->srv = srv;
    pio_reset_regs(pio);
    if (!vus_server_setup_region(srv, VFIO_PCI_BAR0_REGION_INDEX, &bar0, NULL,
                                 errp) ||
        !vus_server_setup_pci(srv, &pci, errp)) {
        pio_destroy(pio);
        return NULL;
    }
    vus_server_set_device_ops(srv, &ops, pio);
    return pio;
}

const SampleDeviceType sample_pio_type = {
    .name = "pio",
    .description = "8-byte I/O BAR (no memory BAR), level INTx source",
    .create = pio_create,
    .destroy = pio_destroy,
};
