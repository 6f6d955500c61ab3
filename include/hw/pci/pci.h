/*
 * PCI devices of the vfio-user-vmm machine.
 *
 * Like QEMU, a device keeps an emulated copy of (parts of) its config space:
 * config[] holds the values, wmask[] the guest-writable bits, emulated[]
 * which bytes are answered locally (a device model reads the others
 * elsewhere, e.g. from a vfio-user server).  BAR registers live there, so a
 * BAR's current address is always derived from config[] and the command
 * register: the address space looks BARs up at access time and a guest
 * reprogramming a BAR moves it at once.
 *
 * MSI and MSI-X are emulated here for any device model: capability
 * registers in config[], the MSI-X table and PBA in local memory.  A model
 * raises vector V with msi_notify()/msix_notify(); masked vectors become
 * pending and are delivered when unmasked.  With Bus Master Enable clear
 * in the command register nothing is sent: MSI-X vectors set their PBA
 * bit, MSI vectors their pending bit (held internally without per-vector
 * masking), and they go out once Bus Master is set again.  Delivery is a
 * 4-byte write of the message data to the message address through the
 * host's address space (PCIHostOps.as_rw).
 *
 * INTx: a model sets its line with pci_set_irq(); the host ORs the lines
 * of every device routed to one interrupt.  INTx Disable in the command
 * register gates the line (the device's own level is kept and reappears
 * when the guest clears the bit); PCI_STATUS_INTERRUPT is the model's
 * business (a vfio-user device reads it from its server).
 *
 * All of it runs on the main thread.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_PCI_PCI_H
#define HW_PCI_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <linux/pci_regs.h>

typedef struct PCIHost PCIHost;
typedef struct PCIDevice PCIDevice;

#define PCI_NUM_BARS 6
#define PCI_CONFIG_MAX 4096
#define PCI_SLOT_MAX 32
#define PCI_MSIX_MAX_VECTORS 2048

typedef struct PCIDeviceOps {
    const char *type;
    /* @len is 1, 2 or 4 and the access does not cross a dword. */
    uint32_t (*config_read)(PCIDevice *d, uint32_t off, unsigned len);
    void (*config_write)(PCIDevice *d, uint32_t off, uint32_t val,
                         unsigned len);
    /* A guest access inside BAR @bar (any length, inside the BAR). */
    void (*bar_rw)(PCIDevice *d, int bar, uint64_t off, void *buf, uint64_t len,
                   bool is_write);
    void (*reset)(PCIDevice *d);   /* device reset, then config reset */
    void (*destroy)(PCIDevice *d); /* unplugged: release everything */
    void (*info)(PCIDevice *d, GString *out); /* `info vfio-user` text */
    /* A run of guest accesses ended: push out buffered posted writes. */
    void (*flush)(PCIDevice *d);
} PCIDeviceOps;

typedef struct PCIBar {
    uint64_t size; /* 0: not implemented */
    uint32_t type; /* low bits of the register: io / 64-bit / prefetch */
} PCIBar;

typedef struct PCIMSIState {
    uint8_t cap; /* 0: no MSI capability */
    bool is64;
    bool pvm;         /* per-vector masking */
    uint32_t pending; /* vectors raised while masked */
} PCIMSIState;

typedef struct PCIMSIXState {
    uint8_t cap; /* 0: no MSI-X capability */
    unsigned nvec;
    int table_bar;
    uint64_t table_off;
    int pba_bar;
    uint64_t pba_off;
    uint8_t *table; /* nvec * 16 bytes */
    uint64_t *pba;  /* DIV_ROUND_UP(nvec, 64) words */
} PCIMSIXState;

struct PCIDevice {
    const PCIDeviceOps *ops;
    PCIHost *host;
    char *id;
    /* Names the device in log lines as the user did, e.g.
     * vfio_user_pci_label(); the model's, kept while it lives.  NULL: id. */
    const char *label;
    uint8_t devfn;
    uint32_t config_size;
    uint8_t config[PCI_CONFIG_MAX];
    uint8_t wmask[PCI_CONFIG_MAX];
    uint8_t emulated[PCI_CONFIG_MAX]; /* 0xff: byte answered from config[] */
    PCIBar bars[PCI_NUM_BARS];
    PCIMSIState msi;
    PCIMSIXState msix;
    bool intx_level; /* what the model asserts (before INTx Disable) */
};

#define PCI_BAR_UNMAPPED UINT64_MAX

/* Zero everything and set id/ops; config_size 256 unless changed. */
void pci_device_init(PCIDevice *d, const PCIDeviceOps *ops, const char *id);
void pci_device_finalize(PCIDevice *d);

/* Declare BAR @i of @size bytes with register type bits @type. */
void pci_device_set_bar(PCIDevice *d, int i, uint64_t size, uint32_t type);
/* Mark [off, off+len) emulated with writable bits @wmask per byte. */
void pci_device_emulate(PCIDevice *d, uint32_t off, uint32_t len,
                        uint8_t wmask);
/* Put @val in config[] at @off (len 1, 2 or 4), little-endian. */
void pci_set_config(PCIDevice *d, uint32_t off, uint32_t val, unsigned len);
uint32_t pci_get_config(const PCIDevice *d, uint32_t off, unsigned len);

/* config[] based read and write honouring wmask; then MSI/MSI-X upkeep. */
uint32_t pci_default_config_read(PCIDevice *d, uint32_t off, unsigned len);
void pci_default_config_write(PCIDevice *d, uint32_t off, uint32_t val,
                              unsigned len);

/* Through the device model (what ECAM and firmware use). */
uint32_t pci_config_read(PCIDevice *d, uint32_t off, unsigned len);
void pci_config_write(PCIDevice *d, uint32_t off, uint32_t val, unsigned len);

/*
 * Current guest address of BAR @i (a port number for an I/O BAR),
 * PCI_BAR_UNMAPPED when not decoding.
 */
uint64_t pci_bar_address(PCIDevice *d, int i);
uint16_t pci_command(const PCIDevice *d);
/* Clear BARs, command, interrupt line, MSI/MSI-X state (config reset). */
void pci_device_reset_config(PCIDevice *d);

/* The INTx level the model asserts; see above for INTx Disable. */
void pci_set_irq(PCIDevice *d, bool level);
/* Interrupt number INTx of @d is routed to, -1 without a pin or host. */
int pci_intx_irq(const PCIDevice *d);
/* A bus-master access of the host's address space (false: no host). */
bool pci_dma_rw(PCIDevice *d, uint64_t addr, void *buf, uint64_t len,
                bool is_write);

/* ---- MSI (hw/pci/msi.c) ---- */
/* Emulate the MSI capability at @cap whose control word is @ctrl. */
void msi_init(PCIDevice *d, uint8_t cap, uint16_t ctrl);
bool msi_enabled(const PCIDevice *d);
unsigned msi_nr_vectors(const PCIDevice *d); /* enabled vectors */
void msi_notify(PCIDevice *d, unsigned vector);
/* After a config write overlapping the capability: deliver unmasked
 * pending vectors. */
void msi_write_config(PCIDevice *d, uint32_t off, unsigned len);
/* Bus Master Enable was set: send what waited for it (MSI and MSI-X). */
void msi_bus_master_enabled(PCIDevice *d);

/* ---- MSI-X (hw/pci/msi.c) ---- */
/* Emulate the MSI-X capability at @cap (control, table, PBA registers
 * as read from the device). */
bool msix_init(PCIDevice *d, uint8_t cap, uint16_t ctrl, uint32_t table,
               uint32_t pba, GError **errp);
void msix_uninit(PCIDevice *d);
bool msix_enabled(const PCIDevice *d);
unsigned msix_nr_vectors(const PCIDevice *d);
void msix_notify(PCIDevice *d, unsigned vector);
void msix_write_config(PCIDevice *d, uint32_t off, unsigned len);
/*
 * If BAR @bar offset @off is inside the table or PBA, do (part of) the
 * access there and return the bytes handled; otherwise return 0 and set
 * *@plain to how many bytes from @off lie before the table/PBA (or @len).
 */
uint64_t msix_bar_rw(PCIDevice *d, int bar, uint64_t off, void *buf,
                     uint64_t len, bool is_write, uint64_t *plain);
void msix_reset(PCIDevice *d);

#endif /* HW_PCI_PCI_H */
