/*
 * libvfio-user-server generic PCI config space, served as region
 * VFIO_PCI_CONFIG_REGION_INDEX (256 bytes, or 4 KiB with extended_config).
 *
 * The library builds a type-0 header from the device's ids, BARs from the
 * declared BAR regions (writes keep only the bits of the size mask, so
 * writing all-ones reads back the size), the ROM BAR, command/status, and a
 * capability list from 0x40: MSI (64-bit, 1..32 vectors), MSI-X (table and
 * PBA in a BAR), a minimal PCI Express v2 endpoint capability and the
 * device's own read-only ones (vus_server_add_pci_cap()).  Every
 * byte has a write mask and a write-1-to-clear mask, as in QEMU's PCI
 * core.  Bytes the library does not own (0x40 up outside the capabilities,
 * and 0x100 up) go to the device's config_access callback.
 *
 * Guarded by VusServer.lock (accesses arrive through the region handler).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <linux/pci_regs.h>
#include "internal.h"

#define CFG_SIZE 256
#define CFG_EXP_SIZE 4096
#define CAP_START 0x40
#define MSI_CAP_LEN 16 /* 64-bit, no per-vector mask */
#define MSIX_CAP_LEN 12
#define EXP_CAP_LEN 0x3c /* version 2 */

struct VusPciConfig {
    size_t size;
    uint8_t cfg[CFG_EXP_SIZE];
    uint8_t init[CFG_EXP_SIZE];  /* contents after reset */
    uint8_t wmask[CFG_EXP_SIZE]; /* bits a write may change */
    uint8_t w1c[CFG_EXP_SIZE];   /* bits a written 1 clears */
    bool owned[CFG_EXP_SIZE];    /* served by the library */
    uint8_t next_cap;            /* where the next capability goes */
    uint8_t *last_next;          /* "next" byte of the last capability */
    VusRegionAccessFn dev_access;
    void *dev_opaque;
    VusServer *srv;
};

static void put8(uint8_t *p, size_t off, uint8_t v)
{
    p[off] = v;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
    memcpy(p + off, &v, sizeof(v));
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
    memcpy(p + off, &v, sizeof(v));
}

/* Append a capability of @len bytes with @id; returns its offset. */
static size_t add_cap(VusPciConfig *pci, uint8_t id, size_t len)
{
    size_t pos = pci->next_cap;

    put8(pci->cfg, pos, id);
    *pci->last_next = pos;
    pci->last_next = &pci->cfg[pos + 1];
    for (size_t i = pos; i < pos + len; i++) {
        pci->owned[i] = true;
    }
    pci->next_cap = (uint8_t)((pos + len + 3) & ~3u);
    put16(pci->cfg, PCI_STATUS, PCI_STATUS_CAP_LIST);
    return pos;
}

static void add_msi(VusPciConfig *pci, uint32_t vectors)
{
    size_t pos = add_cap(pci, PCI_CAP_ID_MSI, MSI_CAP_LEN);
    uint16_t ctrl =
        PCI_MSI_FLAGS_64BIT | (uint16_t)(__builtin_ctz(vectors) << 1);

    put16(pci->cfg, pos + PCI_MSI_FLAGS, ctrl);
    put16(pci->wmask, pos + PCI_MSI_FLAGS,
          PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    put32(pci->wmask, pos + PCI_MSI_ADDRESS_LO, 0xfffffffc);
    put32(pci->wmask, pos + PCI_MSI_ADDRESS_HI, 0xffffffff);
    put16(pci->wmask, pos + PCI_MSI_DATA_64, 0xffff);
}

static void add_msix(VusPciConfig *pci, const VusPciDesc *d)
{
    size_t pos = add_cap(pci, PCI_CAP_ID_MSIX, MSIX_CAP_LEN);

    put16(pci->cfg, pos + PCI_MSIX_FLAGS, (uint16_t)(d->msix_vectors - 1));
    put16(pci->wmask, pos + PCI_MSIX_FLAGS,
          PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    put32(pci->cfg, pos + PCI_MSIX_TABLE, d->msix_table_offset | d->msix_bar);
    put32(pci->cfg, pos + PCI_MSIX_PBA, d->msix_pba_offset | d->msix_bar);
}

static void add_express(VusPciConfig *pci)
{
    size_t pos = add_cap(pci, PCI_CAP_ID_EXP, EXP_CAP_LEN);

    put16(pci->cfg, pos + PCI_EXP_FLAGS, 2 | (PCI_EXP_TYPE_ENDPOINT << 4));
    put16(pci->wmask, pos + PCI_EXP_DEVCTL, 0x7fff);
    put16(pci->w1c, pos + PCI_EXP_DEVSTA, 0x000f);
    put32(pci->cfg, pos + PCI_EXP_LNKCAP, 0x11); /* 2.5 GT/s, x1 */
    put16(pci->wmask, pos + PCI_EXP_LNKCTL, 0x0003);
    put16(pci->cfg, pos + PCI_EXP_LNKSTA, 0x11);
}

/* Mask of the writable address bits of a BAR of @size bytes. */
static bool setup_bar(VusPciConfig *pci, VusServer *srv, int i, int *skip,
                      GError **errp)
{
    const VusRegion *reg = &srv->regions[i];
    size_t off = PCI_BASE_ADDRESS_0 + 4 * i;
    uint64_t mask = ~(reg->size - 1);
    uint32_t low;

    if (reg->size & (reg->size - 1)) {
        return vfio_user_error_set(
            errp, EINVAL, "BAR%d: size 0x%" PRIx64 " is not a power of two", i,
            reg->size);
    }
    if (reg->bar_flags & VUS_BAR_F_IO) {
        if (reg->size < 4 || reg->size > 256) {
            return vfio_user_error_set(
                errp, EINVAL, "BAR%d: I/O size must be 4..256 bytes", i);
        }
        put32(pci->cfg, off, PCI_BASE_ADDRESS_SPACE_IO);
        put32(pci->wmask, off, (uint32_t)mask & 0xfffffffc);
        return true;
    }
    if (reg->size < 16 ||
        (!(reg->bar_flags & VUS_BAR_F_MEM64) && reg->size > (1ull << 31))) {
        return vfio_user_error_set(
            errp, EINVAL,
            "BAR%d: memory size must be at least 16 bytes (above 2 GiB: 64-bit)",
            i);
    }
    low = (reg->bar_flags & VUS_BAR_F_PREFETCH) ? PCI_BASE_ADDRESS_MEM_PREFETCH
                                                : 0;
    if (reg->bar_flags & VUS_BAR_F_MEM64) {
        if (i == 5 || srv->regions[i + 1].size) {
            return vfio_user_error_set(
                errp, EINVAL, "BAR%d: a 64-bit BAR needs BAR%d free", i, i + 1);
        }
        low |= PCI_BASE_ADDRESS_MEM_TYPE_64;
        put32(pci->wmask, off + 4, (uint32_t)(mask >> 32));
        *skip = 1;
    }
    put32(pci->cfg, off, low);
    put32(pci->wmask, off, (uint32_t)mask & 0xfffffff0);
    return true;
}

static bool setup_bars(VusPciConfig *pci, VusServer *srv, GError **errp)
{
    const VusRegion *rom = &srv->regions[VFIO_PCI_ROM_REGION_INDEX];

    for (int i = 0; i < 6; i++) {
        int skip = 0;

        if (srv->regions[i].size && !setup_bar(pci, srv, i, &skip, errp)) {
            return false;
        }
        i += skip;
    }
    if (rom->size) {
        if ((rom->size & (rom->size - 1)) || rom->size < 2048 ||
            rom->size > (1ull << 31)) {
            return vfio_user_error_set(
                errp, EINVAL, "ROM: size must be a power of two, 2 KiB..2 GiB");
        }
        put32(pci->wmask, PCI_ROM_ADDRESS,
              ((uint32_t) ~(rom->size - 1) & PCI_ROM_ADDRESS_MASK) |
                  PCI_ROM_ADDRESS_ENABLE);
    }
    return true;
}

static bool check_desc(VusServer *srv, const VusPciDesc *d, GError **errp)
{
    const VusRegion *bar;
    uint64_t table_len = (uint64_t)d->msix_vectors * PCI_MSIX_ENTRY_SIZE;
    uint64_t pba_len = ((uint64_t)d->msix_vectors + 63) / 64 * 8;

    if (srv->pci) {
        return vfio_user_error_set(errp, EEXIST, "PCI config already set up");
    }
    if (d->intx_pin > 4 || d->msi_vectors > 32 ||
        (d->msi_vectors & (d->msi_vectors - 1)) || d->msix_vectors > 2048) {
        return vfio_user_error_set(
            errp, EINVAL,
            "PCI: intx_pin 0..4, msi_vectors a power of two up to 32, msix_vectors up to 2048");
    }
    if (!d->msix_vectors) {
        return true;
    }
    bar = d->msix_bar < 6 ? &srv->regions[d->msix_bar] : NULL;
    if (!bar || !bar->size || (d->msix_table_offset & 7) ||
        (d->msix_pba_offset & 7) || d->msix_table_offset > bar->size ||
        table_len > bar->size - d->msix_table_offset ||
        d->msix_pba_offset > bar->size ||
        pba_len > bar->size - d->msix_pba_offset) {
        return vfio_user_error_set(
            errp, EINVAL,
            "MSI-X: table and PBA must be 8-byte aligned inside declared BAR%u",
            d->msix_bar);
    }
    return true;
}

static void build_header(VusPciConfig *pci, const VusPciDesc *d)
{
    for (size_t i = 0; i < CAP_START; i++) {
        pci->owned[i] = true;
    }
    put16(pci->cfg, PCI_VENDOR_ID, d->vendor_id);
    put16(pci->cfg, PCI_DEVICE_ID, d->device_id);
    put16(pci->wmask, PCI_COMMAND,
          PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
              PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    put16(pci->w1c, PCI_STATUS,
          PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |
              PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT |
              PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY);
    put8(pci->cfg, PCI_REVISION_ID, d->revision);
    put8(pci->cfg, PCI_CLASS_PROG, d->class_code & 0xff);
    put16(pci->cfg, PCI_CLASS_DEVICE, (uint16_t)(d->class_code >> 8));
    put8(pci->wmask, PCI_CACHE_LINE_SIZE, 0xff);
    put8(pci->wmask, PCI_LATENCY_TIMER, 0xff);
    put16(pci->cfg, PCI_SUBSYSTEM_VENDOR_ID, d->subsys_vendor_id);
    put16(pci->cfg, PCI_SUBSYSTEM_ID, d->subsys_id);
    put8(pci->wmask, PCI_INTERRUPT_LINE, 0xff);
    put8(pci->cfg, PCI_INTERRUPT_PIN, d->intx_pin);
    pci->next_cap = CAP_START;
    pci->last_next = &pci->cfg[PCI_CAPABILITY_LIST];
}

static bool setup_irqs(VusServer *srv, const VusPciDesc *d, GError **errp)
{
    return vus_server_setup_irq(srv, VFIO_PCI_INTX_IRQ_INDEX,
                                d->intx_pin ? 1 : 0, errp) &&
           vus_server_setup_irq(srv, VFIO_PCI_MSI_IRQ_INDEX, d->msi_vectors,
                                errp) &&
           vus_server_setup_irq(srv, VFIO_PCI_MSIX_IRQ_INDEX, d->msix_vectors,
                                errp);
}

bool vus_server_setup_pci(VusServer *srv, const VusPciDesc *desc, GError **errp)
{
    VusPciConfig *pci;
    VusRegion *reg;
    bool ok = false;

    g_rec_mutex_lock(&srv->lock);
    if (!check_desc(srv, desc, errp)) {
        goto out;
    }
    pci = g_new0(VusPciConfig, 1);
    pci->size = desc->extended_config ? CFG_EXP_SIZE : CFG_SIZE;
    pci->dev_access = desc->config_access;
    pci->dev_opaque = desc->config_opaque;
    pci->srv = srv;
    build_header(pci, desc);
    if (!setup_bars(pci, srv, errp) || !setup_irqs(srv, desc, errp)) {
        g_free(pci);
        goto out;
    }
    if (desc->msi_vectors) {
        add_msi(pci, desc->msi_vectors);
    }
    if (desc->msix_vectors) {
        add_msix(pci, desc);
    }
    if (desc->express) {
        add_express(pci);
    }
    memcpy(pci->init, pci->cfg, sizeof(pci->cfg));
    srv->pci = pci;
    reg = &srv->regions[VFIO_PCI_CONFIG_REGION_INDEX];
    reg->size = pci->size;
    reg->flags = VUS_REGION_F_RW;
    reg->access = vus_pci_config_access;
    reg->opaque = pci;
    ok = true;
out:
    g_rec_mutex_unlock(&srv->lock);
    return ok;
}

bool vus_server_add_pci_cap(VusServer *srv, uint8_t id, const void *data,
                            size_t len, GError **errp)
{
    VusPciConfig *pci;
    size_t pos;
    bool ok = false;

    g_rec_mutex_lock(&srv->lock);
    pci = srv->pci;
    if (!pci) {
        vfio_user_error_set(errp, EINVAL,
                            "PCI capability before the PCI config");
    } else if (len < 2 || pci->next_cap < CAP_START ||
               len > (size_t)CFG_SIZE - pci->next_cap) {
        vfio_user_error_set(errp, ENOSPC,
                            "PCI capability of %zu bytes does not fit at 0x%x",
                            len, pci->next_cap);
    } else {
        pos = add_cap(pci, id, len);
        memcpy(pci->cfg + pos + 2, (const uint8_t *)data + 2, len - 2);
        memcpy(pci->init, pci->cfg, sizeof(pci->cfg));
        ok = true;
    }
    g_rec_mutex_unlock(&srv->lock);
    return ok;
}

uint8_t *vus_pci_config_space(VusServer *srv)
{
    return srv->pci ? srv->pci->cfg : NULL;
}

void vus_pci_config_free(VusPciConfig *pci)
{
    g_free(pci);
}

void vus_pci_config_reset(VusPciConfig *pci)
{
    memcpy(pci->cfg, pci->init, pci->size);
}

void vus_pci_config_set_intx_status(VusPciConfig *pci, bool level)
{
    if (level) {
        pci->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    } else {
        pci->cfg[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
    }
}

bool vus_pci_config_intx_disabled(const VusPciConfig *pci)
{
    return pci->cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8);
}

static void generic_access(VusPciConfig *pci, bool is_write, size_t off,
                           uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        size_t a = off + i;

        if (!is_write) {
            buf[i] = pci->cfg[a];
            continue;
        }
        pci->cfg[a] = (pci->cfg[a] & ~pci->wmask[a]) | (buf[i] & pci->wmask[a]);
        pci->cfg[a] &= ~(buf[i] & pci->w1c[a]);
    }
}

ssize_t vus_pci_config_access(void *opaque, bool is_write, uint64_t off,
                              void *buf, size_t len)
{
    VusPciConfig *pci = opaque;
    uint8_t *p = buf;
    size_t i = 0;
    bool was_disabled = vus_pci_config_intx_disabled(pci);

    if (off > pci->size || len > pci->size - off) {
        return -EINVAL;
    }
    /* Split into runs of library-owned and device-owned bytes. */
    while (i < len) {
        bool owned = pci->owned[off + i];
        size_t j = i;

        while (j < len && pci->owned[off + j] == owned) {
            j++;
        }
        if (owned) {
            generic_access(pci, is_write, off + i, p + i, j - i);
        } else if (pci->dev_access) {
            ssize_t ret = pci->dev_access(pci->dev_opaque, is_write, off + i,
                                          p + i, j - i);

            if (ret < 0) {
                return ret;
            }
        } else if (!is_write) {
            memset(p + i, 0, j - i);
        }
        i = j;
    }
    if (is_write && was_disabled && !vus_pci_config_intx_disabled(pci)) {
        vus_irq_intx_enabled(pci->srv);
    }
    return (ssize_t)len;
}
