/*
 * What the monitor shows of the PCI bus: `info pci` in the layout of
 * QEMU's hmp_info_pci() and the PCI lines of `info qtree` (QEMU's
 * pcibus_dev_print()).  The layout and the class descriptions follow QEMU
 * at commit 06c1600b5571 (hw/pci/pci-hmp-cmds.c, hw/pci/pci.c).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <inttypes.h>
#include "hw/pci/pci_host.h"

typedef struct PCIClassName {
    uint16_t class;
    const char *desc;
} PCIClassName;

/* The class (base class << 8 | subclass) names QEMU knows. */
static const PCIClassName pci_class_names[] = {
    {0x0001, "VGA controller"},
    {0x0100, "SCSI controller"},
    {0x0101, "IDE controller"},
    {0x0102, "Floppy controller"},
    {0x0103, "IPI controller"},
    {0x0104, "RAID controller"},
    {0x0106, "SATA controller"},
    {0x0107, "SAS controller"},
    {0x0180, "Storage controller"},
    {0x0200, "Ethernet controller"},
    {0x0201, "Token Ring controller"},
    {0x0202, "FDDI controller"},
    {0x0203, "ATM controller"},
    {0x0280, "Network controller"},
    {0x0300, "VGA controller"},
    {0x0301, "XGA controller"},
    {0x0302, "3D controller"},
    {0x0380, "Display controller"},
    {0x0400, "Video controller"},
    {0x0401, "Audio controller"},
    {0x0402, "Phone"},
    {0x0403, "Audio controller"},
    {0x0480, "Multimedia controller"},
    {0x0500, "RAM controller"},
    {0x0501, "Flash controller"},
    {0x0580, "Memory controller"},
    {0x0600, "Host bridge"},
    {0x0601, "ISA bridge"},
    {0x0602, "EISA bridge"},
    {0x0603, "MC bridge"},
    {0x0604, "PCI bridge"},
    {0x0605, "PCMCIA bridge"},
    {0x0606, "NUBUS bridge"},
    {0x0607, "CARDBUS bridge"},
    {0x0608, "RACEWAY bridge"},
    {0x0680, "Bridge"},
    {0x0700, "Serial port"},
    {0x0701, "Parallel port"},
    {0x0800, "Interrupt controller"},
    {0x0801, "DMA controller"},
    {0x0802, "Timer"},
    {0x0803, "RTC"},
    {0x0900, "Keyboard"},
    {0x0901, "Pen"},
    {0x0902, "Mouse"},
    {0x0a00, "Dock station"},
    {0x0b00, "i386 cpu"},
    {0x0c00, "Firewire controller"},
    {0x0c01, "Access bus controller"},
    {0x0c02, "SSA controller"},
    {0x0c03, "USB controller"},
    {0x0c04, "Fibre channel controller"},
    {0x0c05, "SMBus"},
};

const char *pci_class_desc(uint16_t class)
{
    for (size_t i = 0; i < G_N_ELEMENTS(pci_class_names); i++) {
        if (pci_class_names[i].class == class) {
            return pci_class_names[i].desc;
        }
    }
    return NULL;
}

/* "Host bridge" or, for a class QEMU has no name for, "Class 0255". */
static void pci_append_class(GString *out, uint16_t class)
{
    const char *desc = pci_class_desc(class);

    if (desc) {
        g_string_append(out, desc);
    } else {
        /* QEMU prints the class number in decimal here. */
        g_string_append_printf(out, "Class %04u", class);
    }
}

static void pci_info_bar(PCIDevice *d, int i, GString *out)
{
    const PCIBar *b = &d->bars[i];
    uint64_t addr = pci_bar_address(d, i);

    g_string_append_printf(out, "      BAR%d: ", i);
    if (b->type & PCI_BASE_ADDRESS_SPACE_IO) {
        if (addr == PCI_BAR_UNMAPPED) {
            g_string_append(out, "I/O (not mapped)\n");
        } else {
            g_string_append_printf(out,
                                   "I/O at 0x%04" PRIx64 " [0x%04" PRIx64 "]\n",
                                   addr, addr + b->size - 1);
        }
        return;
    }
    g_string_append_printf(
        out, "%d bit%s memory",
        b->type & PCI_BASE_ADDRESS_MEM_TYPE_64 ? 64 : 32,
        b->type & PCI_BASE_ADDRESS_MEM_PREFETCH ? " prefetchable" : "");
    if (addr == PCI_BAR_UNMAPPED) {
        g_string_append(out, " (not mapped)\n");
    } else {
        g_string_append_printf(out, " at 0x%08" PRIx64 " [0x%08" PRIx64 "]\n",
                               addr, addr + b->size - 1);
    }
}

static void pci_info_dev(PCIHost *h, PCIDevice *d, GString *out)
{
    uint8_t pin = pci_config_read(d, PCI_INTERRUPT_PIN, 1);
    uint8_t hdr = pci_config_read(d, PCI_HEADER_TYPE, 1) & 0x7f;

    g_string_append_printf(out, "  Bus %2d, device %3u, function %u:\n    ", 0,
                           d->devfn >> 3, d->devfn & 7);
    pci_append_class(out, pci_config_read(d, PCI_CLASS_DEVICE, 2));
    g_string_append_printf(out, ": PCI device %04x:%04x\n",
                           pci_config_read(d, PCI_VENDOR_ID, 2),
                           pci_config_read(d, PCI_DEVICE_ID, 2));
    if (hdr == PCI_HEADER_TYPE_NORMAL) {
        g_string_append_printf(out, "      PCI subsystem %04x:%04x\n",
                               pci_config_read(d, PCI_SUBSYSTEM_VENDOR_ID, 2),
                               pci_config_read(d, PCI_SUBSYSTEM_ID, 2));
    }
    if (pin >= 1 && pin <= 4) {
        g_string_append_printf(out, "      IRQ %u, pin %c\n",
                               pci_config_read(d, PCI_INTERRUPT_LINE, 1),
                               'A' + pin - 1);
    }
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        if (d->bars[i].size) {
            pci_info_bar(d, i, out);
        }
    }
    /* The host bridge has no name a user could give a command. */
    g_string_append_printf(out, "      id \"%s\"\n",
                           d == &h->bridge || !d->id ? "" : d->id);
}

void pci_host_info(PCIHost *h, GString *out)
{
    for (int s = 0; s < PCI_SLOT_MAX; s++) {
        if (h->slots[s]) {
            pci_info_dev(h, h->slots[s], out);
        }
    }
}

void pci_device_qtree_info(PCIDevice *d, int indent, GString *out)
{
    uint16_t class = pci_config_read(d, PCI_CLASS_DEVICE, 2);

    g_string_append_printf(out, "%*sclass ", indent, "");
    pci_append_class(out, class);
    g_string_append_printf(
        out, ", addr %02x:%02x.%x, pci id %04x:%04x (sub %04x:%04x)\n", 0,
        d->devfn >> 3, d->devfn & 7, pci_config_read(d, PCI_VENDOR_ID, 2),
        pci_config_read(d, PCI_DEVICE_ID, 2),
        pci_config_read(d, PCI_SUBSYSTEM_VENDOR_ID, 2),
        pci_config_read(d, PCI_SUBSYSTEM_ID, 2));
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        uint64_t addr = pci_bar_address(d, i);

        if (!d->bars[i].size) {
            continue;
        }
        /* QEMU shows an unmapped BAR at its all-ones "address" too. */
        g_string_append_printf(
            out, "%*sbar %d: %s at 0x%" PRIx64 " [0x%" PRIx64 "]\n", indent, "",
            i, d->bars[i].type & PCI_BASE_ADDRESS_SPACE_IO ? "i/o" : "mem",
            addr, addr + d->bars[i].size - 1);
    }
}
