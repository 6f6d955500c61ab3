/*
 * Generic PCI device support: the emulated config space (values, writable
 * bits, which bytes are local), BAR registers and their decoded address.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "hw/pci/pci.h"
#include "hw/pci/pci_host.h"

#define PCI_IO_SPACE_SIZE 0x10000ULL

void pci_device_init(PCIDevice *d, const PCIDeviceOps *ops, const char *id)
{
    memset(d, 0, sizeof(*d));
    d->ops = ops;
    d->id = g_strdup(id);
    d->config_size = 256;
}

void pci_device_finalize(PCIDevice *d)
{
    msix_uninit(d);
    g_clear_pointer(&d->id, g_free);
}

void pci_set_config(PCIDevice *d, uint32_t off, uint32_t val, unsigned len)
{
    for (unsigned i = 0; i < len && off + i < PCI_CONFIG_MAX; i++) {
        d->config[off + i] = val >> (8 * i);
    }
}

uint32_t pci_get_config(const PCIDevice *d, uint32_t off, unsigned len)
{
    uint32_t val = 0;

    for (unsigned i = 0; i < len && off + i < PCI_CONFIG_MAX; i++) {
        val |= (uint32_t)d->config[off + i] << (8 * i);
    }
    return val;
}

void pci_device_emulate(PCIDevice *d, uint32_t off, uint32_t len, uint8_t wmask)
{
    for (uint32_t i = off; i < off + len && i < PCI_CONFIG_MAX; i++) {
        d->emulated[i] = 0xff;
        d->wmask[i] = wmask;
    }
}

void pci_device_set_bar(PCIDevice *d, int i, uint64_t size, uint32_t type)
{
    uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
    uint64_t mask;

    d->bars[i].size = size;
    d->bars[i].type = type;
    pci_device_emulate(d, reg, 4, 0);
    if (!size) {
        pci_set_config(d, reg, 0, 4);
        return;
    }
    mask = ~(size - 1);
    if (type & PCI_BASE_ADDRESS_SPACE_IO) {
        mask &= PCI_BASE_ADDRESS_IO_MASK;
    } else {
        mask &= PCI_BASE_ADDRESS_MEM_MASK;
    }
    pci_set_config(d, reg, type, 4);
    for (int b = 0; b < 4; b++) {
        d->wmask[reg + b] = mask >> (8 * b);
    }
    if ((type & PCI_BASE_ADDRESS_MEM_TYPE_64) && i + 1 < PCI_NUM_BARS) {
        pci_device_emulate(d, reg + 4, 4, 0);
        pci_set_config(d, reg + 4, 0, 4);
        for (int b = 0; b < 4; b++) {
            d->wmask[reg + 4 + b] = mask >> (32 + 8 * b);
        }
    }
}

uint32_t pci_default_config_read(PCIDevice *d, uint32_t off, unsigned len)
{
    return pci_get_config(d, off, len);
}

/* The command register changed from @old: INTx gate, held MSIs. */
static void pci_command_changed(PCIDevice *d, uint16_t old)
{
    uint16_t cmd = pci_command(d);

    if ((old ^ cmd) & PCI_COMMAND_INTX_DISABLE) {
        int irq = pci_intx_irq(d);

        if (irq >= 0) {
            pci_host_intx_update(d->host, irq);
        }
    }
    if (!(old & PCI_COMMAND_MASTER) && (cmd & PCI_COMMAND_MASTER)) {
        msi_bus_master_enabled(d);
    }
}

void pci_default_config_write(PCIDevice *d, uint32_t off, uint32_t val,
                              unsigned len)
{
    uint16_t old_cmd = pci_command(d);

    for (unsigned i = 0; i < len && off + i < PCI_CONFIG_MAX; i++) {
        uint8_t w = d->wmask[off + i];
        uint8_t b = val >> (8 * i);

        d->config[off + i] = (d->config[off + i] & ~w) | (b & w);
    }
    if (off < PCI_COMMAND + 2 && off + len > PCI_COMMAND) {
        pci_command_changed(d, old_cmd);
    }
    if (d->msi.cap && off < d->msi.cap + 24u && off + len > d->msi.cap) {
        msi_write_config(d, off, len);
    }
    if (d->msix.cap && off < d->msix.cap + 4u && off + len > d->msix.cap) {
        msix_write_config(d, off, len);
    }
}

uint32_t pci_config_read(PCIDevice *d, uint32_t off, unsigned len)
{
    if (off + len > d->config_size) {
        return (uint32_t)((1ULL << (8 * len)) - 1);
    }
    return d->ops->config_read(d, off, len);
}

void pci_config_write(PCIDevice *d, uint32_t off, uint32_t val, unsigned len)
{
    if (off + len <= d->config_size) {
        d->ops->config_write(d, off, val, len);
    }
}

uint16_t pci_command(const PCIDevice *d)
{
    return pci_get_config(d, PCI_COMMAND, 2);
}

uint64_t pci_bar_address(PCIDevice *d, int i)
{
    const PCIBar *bar = &d->bars[i];
    uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
    uint64_t addr, last;

    if (bar->size && (bar->type & PCI_BASE_ADDRESS_SPACE_IO)) {
        if (!(pci_command(d) & PCI_COMMAND_IO)) {
            return PCI_BAR_UNMAPPED;
        }
        addr = pci_get_config(d, reg, 4) & PCI_BASE_ADDRESS_IO_MASK;
        addr &= ~(bar->size - 1);
        /* 0: never assigned; beyond 64 KiB: being sized. */
        if (addr == 0 || addr + bar->size > PCI_IO_SPACE_SIZE) {
            return PCI_BAR_UNMAPPED;
        }
        return addr;
    }
    if (!bar->size || !(pci_command(d) & PCI_COMMAND_MEMORY)) {
        return PCI_BAR_UNMAPPED;
    }
    addr = pci_get_config(d, reg, 4) & PCI_BASE_ADDRESS_MEM_MASK;
    if (bar->type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
        addr |= (uint64_t)pci_get_config(d, reg + 4, 4) << 32;
    }
    addr &= ~(bar->size - 1);
    last = addr + bar->size - 1;
    if (addr == 0 || last < addr || last == UINT64_MAX) {
        return PCI_BAR_UNMAPPED;
    }
    if (!(bar->type & PCI_BASE_ADDRESS_MEM_TYPE_64) && last >= UINT32_MAX) {
        return PCI_BAR_UNMAPPED; /* a 32-bit BAR being sized */
    }
    return addr;
}

void pci_device_reset_config(PCIDevice *d)
{
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;

        if (d->bars[i].size) {
            pci_set_config(d, reg, d->bars[i].type, 4);
            if (d->bars[i].type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
                pci_set_config(d, reg + 4, 0, 4);
            }
        }
    }
    pci_set_config(d, PCI_COMMAND, 0, 2);
    pci_set_config(d, PCI_INTERRUPT_LINE, 0, 1);
    if (d->msi.cap) {
        uint16_t ctrl = pci_get_config(d, d->msi.cap + PCI_MSI_FLAGS, 2);

        ctrl &= ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
        pci_set_config(d, d->msi.cap + PCI_MSI_FLAGS, ctrl, 2);
        d->msi.pending = 0;
    }
    msix_reset(d);
}

int pci_intx_irq(const PCIDevice *d)
{
    uint8_t pin = d->config[PCI_INTERRUPT_PIN];
    unsigned slot = d->devfn >> 3;

    if (!d->host || !pin || pin > 4) {
        return -1;
    }
    return d->host->cfg.intx_base + (slot + pin - 1) % PCI_HOST_NR_INTX;
}

void pci_set_irq(PCIDevice *d, bool level)
{
    int irq = pci_intx_irq(d);

    d->intx_level = level;
    if (irq >= 0) {
        pci_host_intx_update(d->host, irq);
    }
}

bool pci_dma_rw(PCIDevice *d, uint64_t addr, void *buf, uint64_t len,
                bool is_write)
{
    PCIHost *h = d->host;

    if (!h || !h->ops || !h->ops->as_rw) {
        return false;
    }
    h->ops->as_rw(h->opaque, addr, buf, len, is_write);
    return true;
}
