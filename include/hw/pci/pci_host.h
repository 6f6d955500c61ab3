/*
 * The PCI host bridge of the vfio-user-vmm machine: bus 0, ECAM and
 * configuration mechanism #1 (ports 0xCF8/0xCFC) config access, BAR lookup
 * for MMIO and port I/O dispatch and firmware-style BAR assignment.
 *
 * hw/pci depends on nothing above it: the machine hands the host its
 * windows (PCIHostConfig) and what the PCI core needs of the machine
 * (PCIHostOps: an address space for bus-master writes such as MSIs, and an
 * interrupt sink for INTx).  See include/system/machine.h for the numbers
 * the vfio-user-vmm machine uses.
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

/* Where the firmware step places BARs, and how INTx pins are routed. */
typedef struct PCIHostConfig {
    uint64_t mmio32_base, mmio32_size; /* 32-bit memory BARs */
    uint64_t mmio64_base, mmio64_size; /* 64-bit BARs that do not fit */
    uint32_t io_base, io_size;         /* I/O BARs (port numbers) */
    int intx_base; /* slot S pin P (1 = INTA) -> intx_base + (S + P - 1) % 4 */
} PCIHostConfig;

/* What the PCI core needs from the machine; called on the main thread. */
typedef struct PCIHostOps {
    /* A bus-master access of the address space (MSI delivery). */
    void (*as_rw)(void *opaque, uint64_t addr, void *buf, uint64_t len,
                  bool is_write);
    /* Level of interrupt @irq changed (the OR of every device on it). */
    void (*set_irq)(void *opaque, int irq, bool level);
} PCIHostOps;

#define PCI_HOST_NR_INTX 4

/* Main-thread only. */
struct PCIHost {
    PCIHostConfig cfg;
    const PCIHostOps *ops;
    void *opaque;
    PCIDevice *slots[PCI_SLOT_MAX]; /* function 0 of each slot */
    PCIDevice bridge;               /* 00.0 */
    uint32_t config_address;        /* port 0xCF8 of mechanism #1 */
};

PCIHost *pci_host_new(const PCIHostConfig *cfg, const PCIHostOps *ops,
                      void *opaque);
/* Destroys every device still plugged. */
void pci_host_free(PCIHost *h);

/* First free slot (1..31), or -1. */
int pci_host_free_slot(PCIHost *h);
bool pci_host_plug(PCIHost *h, PCIDevice *d, unsigned slot, GError **errp);
/* Unplug and destroy the device named @id; false with errp if unknown. */
bool pci_host_unplug(PCIHost *h, const char *id, GError **errp);
PCIDevice *pci_host_find(PCIHost *h, const char *id);
/*
 * The name of a device in slot @slot that was given no id: "dev<slot>",
 * or "dev<slot>-<n>" with the lowest n >= 1 that no device uses yet and
 * that is not in @reserved (NULL-terminated, may be NULL: ids of devices
 * still to come).
 */
char *pci_host_default_id(PCIHost *h, unsigned slot,
                          const char *const *reserved);

/* ECAM access at @off (inside the ECAM window), len 1, 2 or 4, aligned. */
uint32_t pci_host_ecam_read(PCIHost *h, uint64_t off, unsigned len);
void pci_host_ecam_write(PCIHost *h, uint64_t off, uint32_t val, unsigned len);

/*
 * MMIO dispatch: if a BAR decodes @addr, access up to @len bytes of it
 * (stopping at the BAR's end) and return the bytes done; 0 if none does.
 */
uint64_t pci_host_mmio_rw(PCIHost *h, uint64_t addr, void *buf, uint64_t len,
                          bool is_write);

/* Recompute interrupt @irq from every device routed to it. */
void pci_host_intx_update(PCIHost *h, int irq);

/* The same for port @port in the I/O space (I/O BARs, I/O Space enabled). */
uint64_t pci_host_pio_rw(PCIHost *h, uint32_t port, void *buf, uint64_t len,
                         bool is_write);

/*
 * Configuration mechanism #1: 4-byte accesses to 0xCF8 (address), and
 * accesses of 1, 2 or 4 bytes inside 0xCFC..0xCFF (@off 0..3, not crossing
 * the dword): through the same path as ECAM; with bit 31 clear, data
 * reads are all-ones and writes are dropped.
 */
#define PCI_HOST_CONFIG_ADDRESS 0xcf8
#define PCI_HOST_CONFIG_DATA 0xcfc
void pci_host_conf_addr_write(PCIHost *h, uint32_t val);
uint32_t pci_host_conf_addr_read(PCIHost *h);
uint32_t pci_host_conf_data_read(PCIHost *h, unsigned off, unsigned len);
void pci_host_conf_data_write(PCIHost *h, unsigned off, uint32_t val,
                              unsigned len);

/*
 * Size and place every BAR (memory BARs in the MMIO windows, I/O BARs in
 * the I/O window), enable I/O Space (devices with an I/O BAR), Memory
 * Space and Bus Master.
 */
void pci_host_firmware_init(PCIHost *h);
/*
 * The same for the device just plugged into @slot (hot-plug): its BARs go
 * into free space of the windows, where no other BAR was assigned, the
 * other devices keep theirs.  Fails (ENOSPC) when a BAR does not fit.
 */
bool pci_host_firmware_init_slot(PCIHost *h, unsigned slot, GError **errp);
/* Device reset + config reset for all devices, then firmware again. */
void pci_host_reset(PCIHost *h);

/*
 * End of a run of guest accesses (one qtest or monitor command): every
 * device pushes out the posted writes it batched.
 */
void pci_host_flush(PCIHost *h);

/*
 * `info pci` text, in the layout of QEMU's (hw/pci/pci-info.c): per
 * device "  Bus  0, device   1, function 0:", its class and ids, IRQ,
 * BARs and id.
 */
void pci_host_info(PCIHost *h, GString *out);
/* QEMU's name of PCI class @class (base << 8 | sub), NULL if none. */
const char *pci_class_desc(uint16_t class);
/* The PCI lines of `info qtree` for @d, indented by @indent spaces. */
void pci_device_qtree_info(PCIDevice *d, int indent, GString *out);
/* `info vfio-user` text from every device that has ops->info. */
void pci_host_device_info(PCIHost *h, GString *out);

#endif /* HW_PCI_PCI_HOST_H */
