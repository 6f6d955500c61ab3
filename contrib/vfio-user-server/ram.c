/*
 * ram: a sample device whose BAR0 is plain memory, for exercising a
 * client's mmapped BARs, sparse mmap areas and region messages.
 *
 * PCI 4e58:0001 rev 0x01 ("vfio-user-client ram"), class 0x050000 (RAM
 * memory controller), INTx pin A, MSI with 1 vector.
 *
 * BAR0 (64-bit, prefetchable): 1 MiB of memory shared with the client
 * through the region's memfd.  Two sparse mmap areas are offered:
 *
 *   [0x00000, 0x80000)   mmappable (512 KiB)
 *   [0x80000, 0x81000)   hole: not offered for mmap, reachable only with
 *                        REGION_READ/REGION_WRITE, which the library serves
 *                        from the same memory (so a byte written through a
 *                        message reads back through the memfd and v.v.)
 *   [0x81000, 0x100000)  mmappable (508 KiB)
 *
 * BAR2 (32-bit): a 4 KiB bank of 32-bit registers served by a callback, so
 * every access is a message:
 *
 *   0x00  RO  identification, 0x4e580001; writes ignored
 *   0x04  RW  scratch
 *   0x08  RW  read counter: a read returns the number of reads of this
 *             register before it (then counts itself); a write sets it
 *   0x0c  RO  size of BAR0 in bytes
 *   0x10  WO  interrupt doorbell: any write signals MSI vector 0 when the
 *             client gave an eventfd for it, INTx otherwise; reads 0
 *
 * Other offsets read 0 and ignore writes.  Accesses must be 4 bytes at a
 * 4-byte aligned offset; any other access reads all-ones and a write is
 * ignored.  Device reset clears the scratch and counter registers; the
 * memory of BAR0 keeps its contents, as RAM does.
 *
 * Restart-safe with --mem-file FILE: BAR0's memory lives in FILE (shared
 * with the client by that file's fd), so a server killed and started
 * again with the same FILE serves the same bytes; the registers of BAR2
 * start from their reset values, which is what the client's reset after
 * the reconnect leaves anyway.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "devices.h"

/*
 * State of one ram device.  No lock: the library calls the region access
 * and reset callbacks on the one thread that runs vus_server_run().
 */
typedef struct RamDevice {
    VusServer *srv;
    uint32_t scratch;
    uint32_t read_count;
} RamDevice;

static char *ram_mem_file;

void sample_ram_set_mem_file(const char *path)
{
    g_free(ram_mem_file);
    ram_mem_file = g_strdup(path);
}

static const VusSparseArea ram_bar0_areas[] = {
    {0, RAM_BAR0_HOLE_OFFSET},
    {RAM_BAR0_HOLE_OFFSET + RAM_BAR0_HOLE_SIZE,
     RAM_BAR0_SIZE - RAM_BAR0_HOLE_OFFSET - RAM_BAR0_HOLE_SIZE},
};

static uint32_t ram_reg_read(RamDevice *ram, uint64_t off)
{
    switch (off) {
    case RAM_REG_ID:
        return RAM_ID_VALUE;
    case RAM_REG_SCRATCH:
        return ram->scratch;
    case RAM_REG_READ_COUNT:
        return ram->read_count++;
    case RAM_REG_BAR0_SIZE:
        return RAM_BAR0_SIZE;
    default:
        return 0;
    }
}

static void ram_reg_write(RamDevice *ram, uint64_t off, uint32_t val)
{
    switch (off) {
    case RAM_REG_SCRATCH:
        ram->scratch = val;
        break;
    case RAM_REG_READ_COUNT:
        ram->read_count = val;
        break;
    case RAM_REG_IRQ:
        if (vus_irq_enabled(ram->srv, VFIO_PCI_MSI_IRQ_INDEX, 0)) {
            vus_irq_trigger(ram->srv, VFIO_PCI_MSI_IRQ_INDEX, 0);
        } else {
            vus_irq_trigger(ram->srv, VFIO_PCI_INTX_IRQ_INDEX, 0);
        }
        break;
    default:
        break;
    }
}

static ssize_t ram_bar2_access(void *opaque, bool is_write, uint64_t off,
                               void *buf, size_t len)
{
    RamDevice *ram = opaque;
    uint32_t val;

    if (len != 4 || (off & 3)) {
        if (!is_write) {
            memset(buf, 0xff, len);
        }
        return len;
    }
    if (is_write) {
        memcpy(&val, buf, 4);
        ram_reg_write(ram, off, val);
    } else {
        val = ram_reg_read(ram, off);
        memcpy(buf, &val, 4);
    }
    return len;
}

static int ram_reset(void *opaque)
{
    RamDevice *ram = opaque;

    ram->scratch = 0;
    ram->read_count = 0;
    return 0;
}

static void ram_destroy(void *dev)
{
    g_free(dev);
    g_clear_pointer(&ram_mem_file, g_free);
}

static void *ram_create(VusServer *srv, GError **errp)
{
    static const VusDeviceOps ops = {.reset = ram_reset};
    RamDevice *ram = g_new0(RamDevice, 1);
    VusRegionDesc bar0 = {
        .size = RAM_BAR0_SIZE,
        .flags = VUS_REGION_F_RW,
        .bar_flags = VUS_BAR_F_MEM64 | VUS_BAR_F_PREFETCH,
        .mem = true,
        .mem_path = ram_mem_file,
        .sparse = ram_bar0_areas,
        .nr_sparse = G_N_ELEMENTS(ram_bar0_areas),
    };
    VusRegionDesc bar2 = {
        .size = RAM_BAR2_SIZE,
        .flags = VUS_REGION_F_RW,
        .access = ram_bar2_access,
        .opaque = ram,
    };
    VusPciDesc pci = {
        .vendor_id = RAM_PCI_VENDOR_ID,
        .device_id = RAM_PCI_DEVICE_ID,
        .subsys_vendor_id = RAM_PCI_VENDOR_ID,
        .subsys_id = RAM_PCI_DEVICE_ID,
        .class_code = RAM_PCI_CLASS,
        .revision = RAM_PCI_REVISION,
        .intx_pin = 1,
        .msi_vectors = 1,
    };

    ram->srv = srv;
    if (!vus_server_setup_region(srv, VFIO_PCI_BAR0_REGION_INDEX, &bar0, NULL,
                                 errp) ||
        !vus_server_setup_region(srv, VFIO_PCI_BAR2_REGION_INDEX, &bar2, NULL,
                                 errp) ||
        !vus_server_setup_pci(srv, &pci, errp) ||
        !vus_server_setup_irq(srv, VFIO_PCI_INTX_IRQ_INDEX, 1, errp) ||
        !vus_server_setup_irq(srv, VFIO_PCI_MSI_IRQ_INDEX, 1, errp)) {
        ram_destroy(ram);
        return NULL;
    }
    vus_server_set_device_ops(srv, &ops, ram);
    return ram;
}

const SampleDeviceType sample_ram_type = {
    .name = "ram",
    .description = "1 MiB memory BAR with a sparse-mmap hole, register BAR",
    .create = ram_create,
    .destroy = ram_destroy,
};
