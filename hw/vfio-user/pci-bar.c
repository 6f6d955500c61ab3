/*
 * vfio-user-pci BARs: sizes and types from the server's regions and
 * config (placed by hw/pci), the ioeventfds of doorbell writes, and guest
 * BAR accesses (MSI-X table and PBA emulated, the rest region messages or
 * mmapped areas through device.c).
 *
 * Posted-write ordering (reads and mmapped accesses never pass posted
 * writes, posted writes stay in order) is kept by device.c: it fences
 * before any mmapped access or ioeventfd signal while posted writes are
 * unacknowledged.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#undef G_LOG_DOMAIN /* the VMM library's default */
#define G_LOG_DOMAIN "vfio-user-pci"
#include <inttypes.h>
#include <string.h>
#include "pci-internal.h"
#include "trace-events.h"

/* Largest BARs we place: half the 32-bit window, half the 64-bit one. */
#define VUPCI_MAX_BAR32 (1ULL << 29)
#define VUPCI_MAX_BAR64 (1ULL << 38)
#define VUPCI_MAX_BAR_IO 256 /* the PCI spec's limit for an I/O BAR */

/* BAR size: a power of two, at least 16 bytes (memory) or 4 (I/O). */
static uint64_t vupci_pow2(uint64_t size, bool io)
{
    uint64_t p = io ? 4 : 16;

    while (p < size && p) {
        p <<= 1;
    }
    return p;
}

void vupci_setup_bars(VFIOUserPCIDevice *dev)
{
    PCIDevice *d = &dev->pdev;

    for (int i = 0; i < PCI_NUM_BARS; i++) {
        uint32_t reg = vupci_server_config(dev, PCI_BASE_ADDRESS_0 + 4 * i, 4);
        uint64_t size =
            i < (int)dev->vdev.num_regions ? dev->vdev.regions[i].size : 0;
        uint32_t type;

        if (!size) {
            pci_device_set_bar(d, i, 0, 0);
            continue;
        }
        if (reg & PCI_BASE_ADDRESS_SPACE_IO) {
            type = PCI_BASE_ADDRESS_SPACE_IO;
        } else {
            type = reg & (PCI_BASE_ADDRESS_MEM_TYPE_MASK |
                          PCI_BASE_ADDRESS_MEM_PREFETCH);
            if (i == PCI_NUM_BARS - 1) {
                type &= ~PCI_BASE_ADDRESS_MEM_TYPE_MASK;
            }
        }
        if (size > ((type & PCI_BASE_ADDRESS_SPACE_IO) ? VUPCI_MAX_BAR_IO
                    : (type & PCI_BASE_ADDRESS_MEM_TYPE_64)
                        ? VUPCI_MAX_BAR64
                        : VUPCI_MAX_BAR32)) {
            /* A server's absurd size must not wrap the sizing mask. */
            g_message("%s: BAR%d of 0x%" PRIx64
                      " bytes is too large; left unimplemented",
                      dev->label, i, size);
            pci_device_set_bar(d, i, 0, 0);
            continue;
        }
        pci_device_set_bar(
            d, i, vupci_pow2(size, type & PCI_BASE_ADDRESS_SPACE_IO), type);
        if (type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
            i++; /* the upper half, emulated by pci_device_set_bar() */
        }
    }
    pci_device_emulate(d, PCI_ROM_ADDRESS, 4, 0);
    pci_device_emulate(d, PCI_INTERRUPT_LINE, 1, 0xff);
    /* The command register is read from the server but mirrored here. */
    d->wmask[PCI_COMMAND] = 0xff;
    d->wmask[PCI_COMMAND + 1] = 0xff;
}

/*
 * Ask for the ioeventfds of each writable BAR (GET_REGION_IO_FDS), so that
 * writes the server marked (doorbells) signal an eventfd instead of
 * sending a message.  A server without them just answers with none, or
 * with an error: both leave the BAR on messages.
 */
void vupci_get_io_fds(VFIOUserPCIDevice *dev)
{
    for (uint32_t i = 0; i < PCI_NUM_BARS && i < dev->vdev.num_regions; i++) {
        const VFIOUserRegion *r = &dev->vdev.regions[i];
        GError *err = NULL;

        if (!r->size || !(r->flags & VFIO_REGION_INFO_FLAG_WRITE)) {
            continue;
        }
        if (!vfio_user_device_get_region_io_fds(&dev->vdev, i, &err)) {
            trace_pci_bar_no_ioeventfd(dev->pdev.id, i, err->message);
            g_clear_error(&err);
        }
    }
}

/* A plain part of a BAR access; beyond the region (BARs are rounded up to
 * a power of two) reads all-ones and drops writes. */
static void vupci_region_rw(VFIOUserPCIDevice *dev, int bar, uint64_t off,
                            uint8_t *p, uint64_t n, bool is_write)
{
    const VFIOUserRegion *r = &dev->vdev.regions[bar];
    GError *err = NULL;
    bool ok, posted;

    if (off >= r->size || n > r->size - off) {
        uint64_t inside = off < r->size ? r->size - off : 0;

        if (!is_write) {
            memset(p + inside, 0xff, n - inside);
        }
        n = inside;
    }
    if (!n) {
        return;
    }
    /* Port writes are never posted (PCI: I/O writes are non-posted). */
    posted = !(dev->pdev.bars[bar].type & PCI_BASE_ADDRESS_SPACE_IO);
    ok = is_write
             ? vfio_user_region_write(&dev->vdev, bar, off, p, n, posted, &err)
             : vfio_user_region_read(&dev->vdev, bar, off, p, n, &err);
    if (!ok) {
        vupci_note_error(dev, is_write ? "BAR write" : "BAR read", err);
        g_clear_error(&err);
    }
}

void vupci_bar_rw(PCIDevice *d, int bar, uint64_t off, void *buf, uint64_t len,
                  bool is_write)
{
    VFIOUserPCIDevice *dev = vupci(d);
    uint8_t *p = buf;

    if (vupci_failed(dev)) {
        if (!is_write) {
            memset(buf, 0xff, len);
        }
        return;
    }
    while (len) {
        uint64_t plain, n = msix_bar_rw(d, bar, off, p, len, is_write, &plain);

        if (!n) {
            n = plain;
            vupci_region_rw(dev, bar, off, p, n, is_write);
        }
        off += n;
        p += n;
        len -= n;
    }
    /* After the access: an acknowledging write lets the line go down. */
    if (dev->irq_mode == VUPCI_IRQ_INTX && dev->nr_vectors) {
        vupci_intx_eoi(&dev->intx, d, &dev->vdev, dev->vectors[0].fd);
    }
}
