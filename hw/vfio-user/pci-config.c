/*
 * vfio-user-pci config space: guest accesses forwarded to the server's
 * config region except the bytes virtualised here (see pci.c), and the
 * local shadow (ids, capabilities, BARs, INTx pin, command register) set
 * up at realize.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#undef G_LOG_DOMAIN /* the VMM library's default */
#define G_LOG_DOMAIN "vfio-user-pci"
#include "pci-internal.h"

/* Bytes never forwarded to the server: BARs, ROM, line, id overrides. */
static bool vupci_local_byte(VFIOUserPCIDevice *dev, uint32_t off)
{
    const VFIOUserPCIOptions *o = &dev->opts;

    return (off >= PCI_BASE_ADDRESS_0 && off < PCI_CARDBUS_CIS) ||
           (off >= PCI_ROM_ADDRESS && off < PCI_ROM_ADDRESS + 4) ||
           off == PCI_INTERRUPT_LINE || (off < 2 && o->vendor_id >= 0) ||
           (off >= 2 && off < 4 && o->device_id >= 0) ||
           (off >= 0x2c && off < 0x2e && o->sub_vendor_id >= 0) ||
           (off >= 0x2e && off < 0x30 && o->sub_device_id >= 0);
}

/* Raw read from the server; all-ones on error. */
uint32_t vupci_server_config(VFIOUserPCIDevice *dev, uint32_t off, unsigned len)
{
    uint32_t val = UINT32_MAX;
    GError *err = NULL;

    if (!vfio_user_region_read(&dev->vdev, CONFIG_INDEX, off, &val, len,
                               &err)) {
        if (!vupci_failed(dev)) {
            vupci_note_error(dev, "config read", err);
        }
        g_clear_error(&err);
        return (uint32_t)((1ULL << (8 * len)) - 1);
    }
    return len == 4 ? val : val & (uint32_t)((1u << (8 * len)) - 1);
}

uint32_t vupci_config_read(PCIDevice *d, uint32_t off, unsigned len)
{
    VFIOUserPCIDevice *dev = vupci(d);
    uint32_t val = 0;
    bool all_local = true;

    if (vupci_failed(dev)) {
        return (uint32_t)((1ULL << (8 * len)) - 1);
    }
    for (unsigned i = 0; i < len; i++) {
        all_local &= d->emulated[off + i] != 0;
    }
    if (!all_local) {
        val = vupci_server_config(dev, off, len);
    }
    for (unsigned i = 0; i < len; i++) {
        if (d->emulated[off + i]) {
            val &= ~(0xffu << (8 * i));
            val |= (uint32_t)d->config[off + i] << (8 * i);
        }
    }
    return val;
}

static bool vupci_touches(uint32_t off, unsigned len, uint32_t start,
                          uint32_t size)
{
    return start && off < start + size && off + len > start;
}

void vupci_config_write(PCIDevice *d, uint32_t off, uint32_t val, unsigned len)
{
    VFIOUserPCIDevice *dev = vupci(d);
    GError *err = NULL;
    bool forward = false;

    if (vupci_failed(dev)) {
        return;
    }
    for (unsigned i = 0; i < len; i++) {
        forward |= !vupci_local_byte(dev, off + i);
    }
    if (forward && !vfio_user_region_write(&dev->vdev, CONFIG_INDEX, off, &val,
                                           len, false, &err)) {
        vupci_note_error(dev, "config write", err);
        g_clear_error(&err);
    }
    pci_default_config_write(d, off, val, len);
    if (vupci_touches(off, len, PCI_COMMAND, 2)) {
        vfio_user_container_set_bus_master(dev->container,
                                           pci_command(d) & PCI_COMMAND_MASTER);
    }
    if (vupci_touches(off, len, d->msi.cap, 24) ||
        vupci_touches(off, len, d->msix.cap, 4)) {
        vupci_update_irqs(dev);
    }
}

static void vupci_setup_ids(VFIOUserPCIDevice *dev)
{
    const VFIOUserPCIOptions *o = &dev->opts;
    const struct {
        int32_t val;
        uint32_t off;
    } ids[] = {
        {o->vendor_id, PCI_VENDOR_ID},
        {o->device_id, PCI_DEVICE_ID},
        {o->sub_vendor_id, PCI_SUBSYSTEM_VENDOR_ID},
        {o->sub_device_id, PCI_SUBSYSTEM_ID},
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(ids); i++) {
        if (ids[i].val >= 0) {
            pci_device_emulate(&dev->pdev, ids[i].off, 2, 0);
            pci_set_config(&dev->pdev, ids[i].off, ids[i].val, 2);
        }
    }
}

/* Walk the server's capability list; emulate MSI and MSI-X. */
static bool vupci_setup_caps(VFIOUserPCIDevice *dev, GError **errp)
{
    PCIDevice *d = &dev->pdev;
    uint8_t pos;
    unsigned guard = 0;

    if (!(vupci_server_config(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) {
        return true;
    }
    pos = vupci_server_config(dev, PCI_CAPABILITY_LIST, 1) & ~3;
    while (pos >= 0x40 && guard++ < 48) {
        uint8_t id = vupci_server_config(dev, pos + PCI_CAP_LIST_ID, 1);
        uint16_t ctrl = vupci_server_config(dev, pos + 2, 2);

        if (id == PCI_CAP_ID_MSI && !d->msi.cap && pos <= 256 - 24) {
            msi_init(d, pos, ctrl);
        } else if (id == PCI_CAP_ID_MSIX && !d->msix.cap &&
                   !msix_init(d, pos, ctrl,
                              vupci_server_config(dev, pos + PCI_MSIX_TABLE, 4),
                              vupci_server_config(dev, pos + PCI_MSIX_PBA, 4),
                              errp)) {
            return false;
        }
        pos = vupci_server_config(dev, pos + PCI_CAP_LIST_NEXT, 1) & ~3;
    }
    return true;
}

bool vupci_init_config(VFIOUserPCIDevice *dev, GError **errp)
{
    uint8_t pin;

    dev->pdev.config_size =
        MIN(dev->vdev.regions[CONFIG_INDEX].size, (uint64_t)PCI_CONFIG_MAX);
    vupci_setup_ids(dev);
    vupci_setup_bars(dev);
    vupci_get_io_fds(dev);
    if (!vupci_setup_caps(dev, errp)) {
        return false;
    }
    pin = vupci_server_config(dev, PCI_INTERRUPT_PIN, 1);
    if (!vupci_irq_info_check(&dev->intx, &dev->pdev, &dev->vdev, pin, errp)) {
        return false;
    }
    /* Config shadow starts from the server's command register. */
    pci_set_config(&dev->pdev, PCI_COMMAND,
                   vupci_server_config(dev, PCI_COMMAND, 2), 2);
    vfio_user_container_set_bus_master(dev->container, pci_command(&dev->pdev) &
                                                           PCI_COMMAND_MASTER);
    pci_set_config(&dev->pdev, PCI_INTERRUPT_PIN, pin, 1);
    return true;
}
