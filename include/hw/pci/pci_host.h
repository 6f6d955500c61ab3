/*
 * The PCI host bridge of the vfio-user-vmm machine: bus 0, ECAM config
 * access, BAR lookup for MMIO dispatch and firmware-style BAR assignment.
 * See include/system/machine.h for the addresses.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_PCI_PCI_HOST_H
#define HW_PCI_PCI_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/pci/pci.h"

#define PCI_HOST_VENDOR_ID 0x1b36
#define PCI_HOST_DEVICE_ID 0x0008

/* Main-thread only. */
struct PCIHost {
    Machine *machine;
    PCIDevice *slots[PCI_SLOT_MAX]; /* function 0 of each slot */
    PCIDevice bridge;               /* 00.0 */
};

PCIHost *pci_host_new(Machine *m);
/* Destroys every device still plugged. */
void pci_host_free(PCIHost *h);

/* First free slot (1..31), or -1. */
int pci_host_free_slot(PCIHost *h);
bool pci_host_plug(PCIHost *h, PCIDevice *d, unsigned slot, GError **errp);
/* Unplug and destroy the device named @id; false with errp if unknown. */
bool pci_host_unplug(PCIHost *h, const char *id, GError **errp);
PCIDevice *pci_host_find(PCIHost *h, const char *id);

/* ECAM access at @off (inside the ECAM window), len 1, 2 or 4, aligned. */
uint32_t pci_host_ecam_read(PCIHost *h, uint64_t off, unsigned len);
void pci_host_ecam_write(PCIHost *h, uint64_t off, uint32_t val, unsigned len);

/*
 * MMIO dispatch: if a BAR decodes @addr, access up to @len bytes of it
 * (stopping at the BAR's end) and return the bytes done; 0 if none does.
 */
uint64_t pci_host_mmio_rw(PCIHost *h, uint64_t addr, void *buf, uint64_t len,
                          bool is_write);

/* Size and place every memory BAR, enable decoding and bus mastering. */
void pci_host_firmware_init(PCIHost *h);
/* Device reset + config reset for all devices, then firmware again. */
void pci_host_reset(PCIHost *h);

/*
 * End of a run of guest accesses (one qtest or monitor command): every
 * device pushes out the posted writes it batched.
 */
void pci_host_flush(PCIHost *h);

/* `info pci` text. */
void pci_host_info(PCIHost *h, GString *out);
/* `info vfio-user` text from every device that has ops->info. */
void pci_host_device_info(PCIHost *h, GString *out);

#endif /* HW_PCI_PCI_HOST_H */
