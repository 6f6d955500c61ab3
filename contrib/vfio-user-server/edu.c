/*
 * edu: the register interface of QEMU's educational PCI device, served by
 * libvfio-user-server.  A device for exercising a vfio-user client: MMIO
 * registers, INTx and MSI interrupts, and a DMA engine that reaches guest
 * memory through the library in whichever access mode the client chose.
 *
 * PCI 1234:11e8 rev 0x10, class 0x00ff00, INTx pin A, MSI with 1 vector.
 * BAR0: 1 MiB of 32-bit memory space, every access served by a callback.
 *
 *   offset  size  access  register
 *   0x00    4     RO      identification, 0x010000ed
 *   0x04    4     RW      liveness check: reads the bitwise inverse of the
 *                         last value written
 *   0x08    4     RW      factorial: write n, read n! (mod 2^32)
 *   0x20    4     RW      status: 0x01 computing (RO; always 0 here, the
 *                         factorial is computed before the write returns),
 *                         0x80 raise interrupt 0x01 when a factorial is done
 *   0x24    4     RO      interrupt status
 *   0x60    4     WO      interrupt raise: ORed into the status, raises
 *   0x64    4     WO      interrupt acknowledge: clears these status bits
 *   0x80    4/8   RW      DMA source address
 *   0x88    4/8   RW      DMA destination address
 *   0x90    4/8   RW      DMA transfer count
 *   0x98    4/8   RW      DMA command: 0x01 start, 0x02 direction (0: RAM
 *                         to device, 1: device to RAM), 0x04 raise
 *                         interrupt 0x100 when done
 *
 * As in QEMU, registers below 0x80 take 4-byte accesses only and those from
 * 0x80 take 4 or 8 bytes; any other access reads all-ones and a write is
 * ignored.  A 4-byte write at 0x80/0x88/0x90 sets the register to the
 * zero-extended value, as QEMU does.
 *
 * Our extensions, invisible to a driver written for QEMU's device:
 *   - 4-byte accesses at 0x84, 0x8c and 0x94 read/write the upper halves of
 *     the DMA address and count registers (for 32-bit-only drivers);
 *   - the DMA buffer is 1 MiB at device addresses 0x40000..0x13ffff (QEMU's
 *     4 KiB buffer at 0x40000 is its prefix), so large transfers and
 *     benchmarks fit in one command;
 *   - the DMA runs synchronously inside the write of the command register
 *     (the start bit reads 0 once the write has completed), through
 *     vus_dma_read()/vus_dma_write();
 *   - a transfer outside the buffer, or one the library fails (unmapped
 *     guest memory, permission, client error), copies nothing or part and
 *     sets bit 31 of the command register (EDU_DMA_CMD_ERROR); the next
 *     start command clears it.  The completion interrupt is still raised
 *     when asked for, so a driver waiting for it does not hang;
 *   - BAR0 offsets 0x40000..0xfffff read and write the DMA buffer directly
 *     (any size), which lets a test fill or check the buffer with
 *     REGION_READ/REGION_WRITE; the part of the buffer above 0xfffff is
 *     reachable by DMA only;
 *   - there is no 28-bit DMA mask: guest addresses are used as given.
 *
 * Interrupts: raising ORs the value into the interrupt status and, while
 * the status is non-zero, signals MSI vector 0 when the client has given an
 * eventfd for it; otherwise INTx is a level (vus_irq_set_level()) that is
 * up while the status is non-zero, as in QEMU.  Acknowledging clears
 * status bits; clearing the last one lowers INTx.
 * Device reset clears every register and the DMA buffer.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "devices.h"
#include "trace-events.h"

/*
 * State of one edu device.  No lock: the library calls the region access
 * and reset callbacks on the one thread that runs vus_server_run(), and
 * nothing else touches these fields.
 */
typedef struct EduDevice {
    VusServer *srv;
    uint32_t liveness; /* already inverted */
    uint32_t fact;
    uint32_t status; /* EDU_STATUS_IRQ_FACT only (never computing) */
    uint32_t irq_status;
    uint64_t dma_src;
    uint64_t dma_dst;
    uint64_t dma_count;
    uint64_t dma_cmd;
    uint8_t *dma_buf; /* EDU_DMA_BUF_SIZE bytes */
} EduDevice;

/*
 * QEMU's edu: with MSI on, each raise sends a message; without, INTx is a
 * level that stays up while any interrupt status bit is set.
 */
static void edu_update_intx(EduDevice *edu)
{
    bool msi = vus_irq_enabled(edu->srv, VFIO_PCI_MSI_IRQ_INDEX, 0);

    vus_irq_set_level(edu->srv, edu->irq_status && !msi);
}

static void edu_raise_irq(EduDevice *edu, uint32_t val)
{
    bool msi, sent = true;

    edu->irq_status |= val;
    if (!edu->irq_status) {
        return;
    }
    msi = vus_irq_enabled(edu->srv, VFIO_PCI_MSI_IRQ_INDEX, 0);
    if (msi) {
        sent = vus_irq_trigger(edu->srv, VFIO_PCI_MSI_IRQ_INDEX, 0);
    }
    edu_update_intx(edu);
    trace_edu_irq(edu->irq_status, msi ? "MSI" : "INTx level up",
                  sent ? "signalled" : "not delivered (no eventfd, or masked)");
}

/* n! modulo 2^32; from 34 on, 2^32 divides n! so the result is 0. */
static uint32_t edu_factorial(uint32_t n)
{
    uint32_t r = 1;

    if (n >= 34) {
        return 0;
    }
    while (n > 1) {
        r *= n--;
    }
    return r;
}

/* Is [addr, addr + count) inside the DMA buffer? */
static bool edu_buf_range_ok(uint64_t addr, uint64_t count)
{
    return addr >= EDU_DMA_BUF_ADDR &&
           addr - EDU_DMA_BUF_ADDR <= EDU_DMA_BUF_SIZE &&
           count <= EDU_DMA_BUF_SIZE - (addr - EDU_DMA_BUF_ADDR);
}

/* Name of the access mode of the map holding guest address @addr. */
static const char *edu_dma_mode_at(EduDevice *edu, uint64_t addr)
{
    GArray *maps = vus_dma_get_maps(edu->srv);
    const char *name = "unmapped";

    for (guint i = 0; i < maps->len; i++) {
        VusDmaMapInfo *m = &g_array_index(maps, VusDmaMapInfo, i);

        if (addr >= m->addr && addr - m->addr < m->size) {
            name = vus_dma_mode_name(m->mode);
            break;
        }
    }
    g_array_unref(maps);
    return name;
}

/* Run the programmed transfer; false when it failed. */
static bool edu_dma_transfer(EduDevice *edu)
{
    bool to_ram = edu->dma_cmd & EDU_DMA_CMD_TO_RAM;
    uint64_t dev_addr = to_ram ? edu->dma_src : edu->dma_dst;
    uint64_t ram_addr = to_ram ? edu->dma_dst : edu->dma_src;
    size_t count = edu->dma_count;
    const char *dir = to_ram ? "write" : "read";
    GError *err = NULL;
    uint8_t *buf;
    bool ok;

    if (!edu_buf_range_ok(dev_addr, edu->dma_count)) {
        g_message("edu: DMA of %" PRIu64 " bytes at device address 0x%" PRIx64
                  " is outside the buffer [0x%x, 0x%x)",
                  edu->dma_count, dev_addr, EDU_DMA_BUF_ADDR,
                  EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE);
        return false;
    }
    if (count == 0) {
        return true;
    }
    buf = edu->dma_buf + (dev_addr - EDU_DMA_BUF_ADDR);
    if (to_ram) {
        ok = vus_dma_write(edu->srv, ram_addr, buf, count, &err);
    } else {
        ok = vus_dma_read(edu->srv, ram_addr, buf, count, &err);
    }
    if (!ok) {
        g_message("edu: DMA %s of %zu bytes at guest address 0x%" PRIx64
                  " failed: %s",
                  dir, count, ram_addr, err->message);
        g_error_free(err);
        return false;
    }
    /* edu_dma_mode_at() copies the map table: evaluated only if traced. */
    trace_edu_dma(dir, count, edu_dma_mode_at(edu, ram_addr));
    return true;
}

/* A write of the command register with the start bit set. */
static void edu_dma_start(EduDevice *edu, uint64_t cmd)
{
    edu->dma_cmd = cmd & ~(uint64_t)EDU_DMA_CMD_ERROR;
    if (!edu_dma_transfer(edu)) {
        edu->dma_cmd |= EDU_DMA_CMD_ERROR;
    }
    edu->dma_cmd &= ~(uint64_t)EDU_DMA_CMD_START;
    if (edu->dma_cmd & EDU_DMA_CMD_IRQ) {
        edu_raise_irq(edu, EDU_IRQ_DMA);
    }
}

/* The 64-bit DMA register that @off (0x80..0x9f) falls in. */
static uint64_t *edu_dma_reg(EduDevice *edu, uint64_t off)
{
    switch (off & ~7ull) {
    case EDU_REG_DMA_SRC:
        return &edu->dma_src;
    case EDU_REG_DMA_DST:
        return &edu->dma_dst;
    case EDU_REG_DMA_COUNT:
        return &edu->dma_count;
    case EDU_REG_DMA_CMD:
        return &edu->dma_cmd;
    default:
        return NULL;
    }
}

static uint64_t edu_reg_read(EduDevice *edu, uint64_t off, size_t len)
{
    uint64_t *reg;

    switch (off) {
    case EDU_REG_ID:
        return EDU_ID_VALUE;
    case EDU_REG_LIVENESS:
        return edu->liveness;
    case EDU_REG_FACTORIAL:
        return edu->fact;
    case EDU_REG_STATUS:
        return edu->status;
    case EDU_REG_IRQ_STATUS:
        return edu->irq_status;
    }
    reg = edu_dma_reg(edu, off);
    if (!reg) {
        return UINT64_MAX;
    }
    if (len == 8) {
        return *reg;
    }
    return (off & 4) ? *reg >> 32 : (uint32_t)*reg;
}

static void edu_dma_reg_write(EduDevice *edu, uint64_t off, uint64_t val,
                              size_t len)
{
    uint64_t *reg = edu_dma_reg(edu, off);

    if (!reg) {
        return;
    }
    if (reg == &edu->dma_cmd) {
        if (!(off & 4) && (val & EDU_DMA_CMD_START)) {
            edu_dma_start(edu, val);
        }
        return;
    }
    if (len == 8 || !(off & 4)) {
        *reg = val;
    } else {
        *reg = (uint32_t)*reg | (val << 32);
    }
}

static void edu_reg_write(EduDevice *edu, uint64_t off, uint64_t val,
                          size_t len)
{
    switch (off) {
    case EDU_REG_LIVENESS:
        edu->liveness = ~(uint32_t)val;
        break;
    case EDU_REG_FACTORIAL:
        edu->fact = edu_factorial(val);
        if (edu->status & EDU_STATUS_IRQ_FACT) {
            edu_raise_irq(edu, EDU_IRQ_FACT);
        }
        break;
    case EDU_REG_STATUS:
        edu->status = val & EDU_STATUS_IRQ_FACT;
        break;
    case EDU_REG_IRQ_RAISE:
        edu_raise_irq(edu, val);
        break;
    case EDU_REG_IRQ_ACK:
        /* INTx goes down with the last status bit. */
        edu->irq_status &= ~(uint32_t)val;
        edu_update_intx(edu);
        break;
    default:
        edu_dma_reg_write(edu, off, val, len);
        break;
    }
}

/*
 * QEMU's rule: 4 bytes below 0x80, 4 or 8 bytes from there on; and
 * naturally aligned, which QEMU gets from matching exact offsets.
 */
static bool edu_reg_size_ok(uint64_t off, size_t len)
{
    return (len == 4 || (len == 8 && off >= EDU_REG_DMA_SRC)) &&
           !(off & (len - 1));
}

static ssize_t edu_bar0_access(void *opaque, bool is_write, uint64_t off,
                               void *buf, size_t len)
{
    EduDevice *edu = opaque;
    uint64_t val = 0;

    if (off >= EDU_DMA_BUF_ADDR) {
        /* The library checked off + len <= EDU_BAR0_SIZE < buffer end. */
        uint8_t *p = edu->dma_buf + (off - EDU_DMA_BUF_ADDR);

        if (is_write) {
            memcpy(p, buf, len);
        } else {
            memcpy(buf, p, len);
        }
        return len;
    }
    if (!edu_reg_size_ok(off, len)) {
        if (!is_write) {
            memset(buf, 0xff, len);
        }
        return len;
    }
    if (is_write) {
        memcpy(&val, buf, len);
        edu_reg_write(edu, off, val, len);
    } else {
        val = edu_reg_read(edu, off, len);
        memcpy(buf, &val, len);
    }
    return len;
}

static int edu_reset(void *opaque)
{
    EduDevice *edu = opaque;

    edu->liveness = 0;
    edu->fact = 0;
    edu->status = 0;
    edu->irq_status = 0;
    vus_irq_set_level(edu->srv, false);
    edu->dma_src = 0;
    edu->dma_dst = 0;
    edu->dma_count = 0;
    edu->dma_cmd = 0;
    memset(edu->dma_buf, 0, EDU_DMA_BUF_SIZE);
    return 0;
}

static void edu_destroy(void *dev)
{
    EduDevice *edu = dev;

    if (edu) {
        g_free(edu->dma_buf);
        g_free(edu);
    }
}

static void *edu_create(VusServer *srv, GError **errp)
{
    static const VusDeviceOps ops = {.reset = edu_reset};
    EduDevice *edu = g_new0(EduDevice, 1);
    VusRegionDesc bar0 = {
        .size = EDU_BAR0_SIZE,
        .flags = VUS_REGION_F_RW,
        .access = edu_bar0_access,
        .opaque = edu,
    };
    VusPciDesc pci = {
        .vendor_id = EDU_PCI_VENDOR_ID,
        .device_id = EDU_PCI_DEVICE_ID,
        .subsys_vendor_id = 0x1af4, /* as QEMU's PCI devices report */
        .subsys_id = 0x1100,
        .class_code = EDU_PCI_CLASS,
        .revision = EDU_PCI_REVISION,
        .intx_pin = 1,
        .msi_vectors = 1,
    };

    edu->srv = srv;
    edu->dma_buf = g_malloc0(EDU_DMA_BUF_SIZE);
    if (!vus_server_setup_region(srv, VFIO_PCI_BAR0_REGION_INDEX, &bar0, NULL,
                                 errp) ||
        !vus_server_setup_pci(srv, &pci, errp) ||
        !vus_server_setup_irq(srv, VFIO_PCI_INTX_IRQ_INDEX, 1, errp) ||
        !vus_server_setup_irq(srv, VFIO_PCI_MSI_IRQ_INDEX, 1, errp)) {
        edu_destroy(edu);
        return NULL;
    }
    vus_server_set_device_ops(srv, &ops, edu);
    return edu;
}

const SampleDeviceType sample_edu_type = {
    .name = "edu",
    .description = "QEMU's educational device: registers, IRQs, DMA engine",
    .create = edu_create,
    .destroy = edu_destroy,
};
