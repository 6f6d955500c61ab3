/*
 * MSI and MSI-X emulation for PCI device models: capability registers in
 * the device's emulated config, MSI-X table and PBA in local memory,
 * masking with pending bits, delivery as a write into the address space.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "hw/pci/pci.h"
#include "vfio-user/error.h"

#define MSIX_ENTRY_SIZE 16

static void pci_msi_deliver(PCIDevice *d, uint64_t addr, uint32_t data)
{
    pci_dma_rw(d, addr, &data, sizeof(data), true);
}

/* A function may send no message while Bus Master Enable is clear. */
static bool pci_bus_master(const PCIDevice *d)
{
    return pci_command(d) & PCI_COMMAND_MASTER;
}

/* ---- MSI ---- */

static uint16_t msi_ctrl(const PCIDevice *d)
{
    return pci_get_config(d, d->msi.cap + PCI_MSI_FLAGS, 2);
}

static uint32_t msi_mask_off(const PCIDevice *d)
{
    return d->msi.cap + (d->msi.is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32);
}

void msi_init(PCIDevice *d, uint8_t cap, uint16_t ctrl)
{
    unsigned max_vec = 1u << ((ctrl & PCI_MSI_FLAGS_QMASK) >> 1);
    uint32_t data_off;

    if (max_vec > 32) {
        max_vec = 32;
    }
    d->msi.cap = cap;
    d->msi.is64 = ctrl & PCI_MSI_FLAGS_64BIT;
    d->msi.pvm = ctrl & PCI_MSI_FLAGS_MASKBIT;
    d->msi.pending = 0;
    pci_device_emulate(d, cap + PCI_MSI_FLAGS, 2, 0);
    d->wmask[cap + PCI_MSI_FLAGS] = PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE;
    pci_set_config(d, cap + PCI_MSI_FLAGS,
                   ctrl & ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE), 2);
    pci_device_emulate(d, cap + PCI_MSI_ADDRESS_LO, 4, 0xff);
    d->wmask[cap + PCI_MSI_ADDRESS_LO] = 0xfc;
    pci_set_config(d, cap + PCI_MSI_ADDRESS_LO, 0, 4);
    if (d->msi.is64) {
        pci_device_emulate(d, cap + PCI_MSI_ADDRESS_HI, 4, 0xff);
        pci_set_config(d, cap + PCI_MSI_ADDRESS_HI, 0, 4);
    }
    data_off = cap + (d->msi.is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32);
    pci_device_emulate(d, data_off, 2, 0xff);
    pci_set_config(d, data_off, 0, 2);
    if (d->msi.pvm) {
        uint32_t mask = max_vec == 32 ? UINT32_MAX : (1u << max_vec) - 1;

        pci_device_emulate(d, msi_mask_off(d), 4, 0);
        for (int b = 0; b < 4; b++) {
            d->wmask[msi_mask_off(d) + b] = mask >> (8 * b);
        }
        pci_set_config(d, msi_mask_off(d), 0, 4);
        pci_device_emulate(d, msi_mask_off(d) + 4, 4, 0);
        pci_set_config(d, msi_mask_off(d) + 4, 0, 4);
    }
}

bool msi_enabled(const PCIDevice *d)
{
    return d->msi.cap && (msi_ctrl(d) & PCI_MSI_FLAGS_ENABLE);
}

unsigned msi_nr_vectors(const PCIDevice *d)
{
    uint16_t ctrl;
    unsigned mme, mmc;

    if (!msi_enabled(d)) {
        return 0;
    }
    ctrl = msi_ctrl(d);
    mme = (ctrl & PCI_MSI_FLAGS_QSIZE) >> 4;
    mmc = (ctrl & PCI_MSI_FLAGS_QMASK) >> 1;
    if (mme > mmc) {
        mme = mmc; /* asking for more than offered gets what is offered */
    }
    return 1u << MIN(mme, 5u);
}

static void msi_send(PCIDevice *d, unsigned vector)
{
    uint32_t cap = d->msi.cap;
    uint64_t addr = pci_get_config(d, cap + PCI_MSI_ADDRESS_LO, 4);
    uint32_t data;
    unsigned nvec = msi_nr_vectors(d);

    if (d->msi.is64) {
        addr |= (uint64_t)pci_get_config(d, cap + PCI_MSI_ADDRESS_HI, 4) << 32;
        data = pci_get_config(d, cap + PCI_MSI_DATA_64, 2);
    } else {
        data = pci_get_config(d, cap + PCI_MSI_DATA_32, 2);
    }
    data = (data & ~(nvec - 1)) | vector;
    pci_msi_deliver(d, addr, data);
}

static void msi_update_pending_reg(PCIDevice *d)
{
    if (d->msi.pvm) {
        pci_set_config(d, msi_mask_off(d) + 4, d->msi.pending, 4);
    }
}

void msi_notify(PCIDevice *d, unsigned vector)
{
    if (vector >= msi_nr_vectors(d)) {
        return;
    }
    if (!pci_bus_master(d) ||
        (d->msi.pvm &&
         (pci_get_config(d, msi_mask_off(d), 4) & (1u << vector)))) {
        d->msi.pending |= 1u << vector;
        msi_update_pending_reg(d);
        return;
    }
    msi_send(d, vector);
}

void msi_write_config(PCIDevice *d, uint32_t off, unsigned len)
{
    uint32_t mask, ready;
    unsigned nvec = msi_nr_vectors(d);

    (void)off;
    (void)len;
    if (!nvec) {
        d->msi.pending = 0;
        msi_update_pending_reg(d);
        return;
    }
    if (!d->msi.pending || !pci_bus_master(d)) {
        return;
    }
    mask = d->msi.pvm ? pci_get_config(d, msi_mask_off(d), 4) : 0;
    ready = d->msi.pending & ~mask;
    for (unsigned v = 0; v < nvec && ready; v++) {
        if (ready & (1u << v)) {
            ready &= ~(1u << v);
            d->msi.pending &= ~(1u << v);
            msi_send(d, v);
        }
    }
    msi_update_pending_reg(d);
}

/* ---- MSI-X ---- */

static uint16_t msix_ctrl(const PCIDevice *d)
{
    return pci_get_config(d, d->msix.cap + PCI_MSIX_FLAGS, 2);
}

static uint64_t msix_pba_size(const PCIDevice *d)
{
    return ((d->msix.nvec + 63) / 64) * 8;
}

bool msix_init(PCIDevice *d, uint8_t cap, uint16_t ctrl, uint32_t table,
               uint32_t pba, GError **errp)
{
    unsigned nvec = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
    int tbar = table & PCI_MSIX_TABLE_BIR, pbar = pba & PCI_MSIX_PBA_BIR;
    uint64_t toff = table & PCI_MSIX_TABLE_OFFSET;
    uint64_t poff = pba & PCI_MSIX_PBA_OFFSET;

    if (tbar >= PCI_NUM_BARS || pbar >= PCI_NUM_BARS ||
        toff + nvec * MSIX_ENTRY_SIZE > d->bars[tbar].size ||
        poff + ((nvec + 63) / 64) * 8 > d->bars[pbar].size) {
        return vfio_user_error_set(errp, EINVAL,
                                   "MSI-X table (BAR %d offset 0x%" PRIx64
                                   ") or PBA (BAR %d offset 0x%" PRIx64
                                   ") of %u vectors lies outside its BAR",
                                   tbar, toff, pbar, poff, nvec);
    }
    d->msix.cap = cap;
    d->msix.nvec = nvec;
    d->msix.table_bar = tbar;
    d->msix.table_off = toff;
    d->msix.pba_bar = pbar;
    d->msix.pba_off = poff;
    d->msix.table = g_malloc0(nvec * MSIX_ENTRY_SIZE);
    d->msix.pba = g_malloc0(msix_pba_size(d));
    pci_device_emulate(d, cap + PCI_MSIX_FLAGS, 2, 0);
    d->wmask[cap + PCI_MSIX_FLAGS + 1] =
        (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;
    pci_set_config(d, cap + PCI_MSIX_FLAGS, ctrl & PCI_MSIX_FLAGS_QSIZE, 2);
    pci_device_emulate(d, cap + PCI_MSIX_TABLE, 8, 0);
    pci_set_config(d, cap + PCI_MSIX_TABLE, table, 4);
    pci_set_config(d, cap + PCI_MSIX_PBA, pba, 4);
    msix_reset(d);
    return true;
}

void msix_uninit(PCIDevice *d)
{
    g_clear_pointer(&d->msix.table, g_free);
    g_clear_pointer(&d->msix.pba, g_free);
    d->msix.cap = 0;
    d->msix.nvec = 0;
}

void msix_reset(PCIDevice *d)
{
    if (!d->msix.cap) {
        return;
    }
    pci_set_config(d, d->msix.cap + PCI_MSIX_FLAGS,
                   msix_ctrl(d) & PCI_MSIX_FLAGS_QSIZE, 2);
    memset(d->msix.table, 0, d->msix.nvec * MSIX_ENTRY_SIZE);
    for (unsigned v = 0; v < d->msix.nvec; v++) {
        d->msix.table[v * MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL] =
            PCI_MSIX_ENTRY_CTRL_MASKBIT;
    }
    memset(d->msix.pba, 0, msix_pba_size(d));
}

bool msix_enabled(const PCIDevice *d)
{
    return d->msix.cap && (msix_ctrl(d) & PCI_MSIX_FLAGS_ENABLE);
}

unsigned msix_nr_vectors(const PCIDevice *d)
{
    return msix_enabled(d) ? d->msix.nvec : 0;
}

static bool msix_masked(const PCIDevice *d, unsigned v)
{
    const uint8_t *e = d->msix.table + v * MSIX_ENTRY_SIZE;

    return (msix_ctrl(d) & PCI_MSIX_FLAGS_MASKALL) ||
           (e[PCI_MSIX_ENTRY_VECTOR_CTRL] & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static void msix_send(PCIDevice *d, unsigned v)
{
    const uint8_t *e = d->msix.table + v * MSIX_ENTRY_SIZE;
    uint64_t addr;
    uint32_t lo, hi, data;

    memcpy(&lo, e + PCI_MSIX_ENTRY_LOWER_ADDR, 4);
    memcpy(&hi, e + PCI_MSIX_ENTRY_UPPER_ADDR, 4);
    memcpy(&data, e + PCI_MSIX_ENTRY_DATA, 4);
    addr = ((uint64_t)hi << 32) | lo;
    pci_msi_deliver(d, addr, data);
}

void msix_notify(PCIDevice *d, unsigned vector)
{
    if (vector >= msix_nr_vectors(d)) {
        return;
    }
    if (msix_masked(d, vector) || !pci_bus_master(d)) {
        d->msix.pba[vector / 64] |= 1ULL << (vector % 64);
        return;
    }
    msix_send(d, vector);
}

static void msix_deliver_pending(PCIDevice *d)
{
    if (!msix_enabled(d) || !pci_bus_master(d)) {
        return;
    }
    for (unsigned v = 0; v < d->msix.nvec; v++) {
        uint64_t bit = 1ULL << (v % 64);

        if ((d->msix.pba[v / 64] & bit) && !msix_masked(d, v)) {
            d->msix.pba[v / 64] &= ~bit;
            msix_send(d, v);
        }
    }
}

void msi_bus_master_enabled(PCIDevice *d)
{
    if (d->msi.cap) {
        msi_write_config(d, d->msi.cap, 2);
    }
    if (d->msix.cap) {
        msix_deliver_pending(d);
    }
}

void msix_write_config(PCIDevice *d, uint32_t off, unsigned len)
{
    (void)off;
    (void)len;
    msix_deliver_pending(d);
}

/* Bytes of [off, off+len) before the next table/PBA range in @bar. */
static uint64_t msix_plain_len(PCIDevice *d, int bar, uint64_t off,
                               uint64_t len)
{
    uint64_t end = off + len;

    if (bar == d->msix.table_bar && d->msix.table_off > off &&
        d->msix.table_off < end) {
        end = d->msix.table_off;
    }
    if (bar == d->msix.pba_bar && d->msix.pba_off > off &&
        d->msix.pba_off < end) {
        end = d->msix.pba_off;
    }
    return end - off;
}

uint64_t msix_bar_rw(PCIDevice *d, int bar, uint64_t off, void *buf,
                     uint64_t len, bool is_write, uint64_t *plain)
{
    uint64_t tsize = (uint64_t)d->msix.nvec * MSIX_ENTRY_SIZE;
    uint64_t n;

    *plain = len;
    if (!d->msix.cap) {
        return 0;
    }
    if (bar == d->msix.table_bar && off >= d->msix.table_off &&
        off - d->msix.table_off < tsize) {
        uint64_t pos = off - d->msix.table_off;

        n = MIN(len, tsize - pos);
        if (is_write) {
            memcpy(d->msix.table + pos, buf, n);
            msix_deliver_pending(d);
        } else {
            memcpy(buf, d->msix.table + pos, n);
        }
        return n;
    }
    if (bar == d->msix.pba_bar && off >= d->msix.pba_off &&
        off - d->msix.pba_off < msix_pba_size(d)) {
        uint64_t pos = off - d->msix.pba_off;

        n = MIN(len, msix_pba_size(d) - pos);
        if (!is_write) {
            memcpy(buf, (uint8_t *)d->msix.pba + pos, n);
        }
        return n;
    }
    *plain = msix_plain_len(d, bar, off, len);
    return 0;
}
