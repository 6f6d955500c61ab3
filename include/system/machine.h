/*
 * The vfio-user-vmm machine: guest physical memory map, guest RAM, the
 * address space every guest access goes through, and interrupt reporting.
 *
 * There is no CPU.  The "guest" is whoever speaks qtest or the monitor; its
 * memory accesses are machine_rw() calls on the main thread.  Devices reach
 * the machine through the same function (an MSI is a 4-byte write).
 *
 * Guest physical memory map (fixed; tests rely on these numbers):
 *
 *   0x00_0000_0000 .. low RAM end   RAM: min(ram size, 0xb0000000) bytes
 *   0x00_b000_0000 .. 0x00_bfff_ffff PCI ECAM, 256 MiB (buses 0..255; only
 *                                   bus 0 is populated).  Register R of
 *                                   device D function F on bus 0 is at
 *                                   0xb0000000 + (D << 15) + (F << 12) + R,
 *                                   e.g. 01.0's vendor/device id at
 *                                   0xb0008000.
 *   0x00_c000_0000 .. 0x00_fdff_ffff 32-bit PCI MMIO window: BARs go here
 *   0x00_fee0_0000 .. 0x00_feef_ffff MSI window: every write is recorded as
 *                                   one MSI (address, first 4 bytes of data);
 *                                   reads return zero
 *   0x01_0000_0000 .. 4 GiB + rest  RAM beyond the first 0xb0000000 bytes
 *                                   (only when ram size > 0xb0000000)
 *   0x80_0000_0000 .. 0xff_ffff_ffff 64-bit PCI MMIO window: 64-bit BARs
 *                                   that do not fit below 4 GiB
 *
 * Anything else reads all-ones and ignores writes.  Accesses to ECAM are
 * cut into aligned pieces of at most 4 bytes; BAR accesses keep their size.
 *
 * Port I/O space (64 KiB, ports 0x0000..0xffff), reached with qtest's
 * inb/inw/inl/outb/outw/outl:
 *
 *   0x0cf8 (4-byte accesses only)   PCI configuration mechanism #1 address:
 *                                   bit 31 enable, bus 23:16, device 15:11,
 *                                   function 10:8, register 7:2
 *   0x0cfc .. 0x0cff                its data port (the 256 bytes of the
 *                                   selected function, through the same
 *                                   path as ECAM)
 *   0x1000 .. 0xffff                I/O window: I/O BARs go here
 *
 * Other ports read all-ones and ignore writes.
 *
 * PCI bus 0: 00.0 is the host bridge (1b36:0008, class 0600), the
 * vfio-user-pci devices sit in 01.0, 02.0, ... in command-line order.
 * At start (and after system_reset) "firmware" sizes and assigns every
 * memory BAR (naturally aligned, largest first, 32-bit window first),
 * assigns every I/O BAR in the I/O window the same way, and sets Memory
 * Space + Bus Master (and I/O Space for devices with an I/O BAR) in the
 * command register.
 *
 * INTx: a device in slot S using pin P (1 = INTA) is wired to interrupt
 * 16 + ((S + P - 1) % 4), which firmware writes into its Interrupt Line
 * register (0x3c); qtest reports it as "IRQ raise N" / "IRQ lower N".
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_MACHINE_H
#define SYSTEM_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "system/memory.h"

#define VMM_RAM_BASE 0x0ULL
#define VMM_LOW_RAM_MAX 0xb0000000ULL
#define VMM_HIGH_RAM_BASE 0x100000000ULL
#define VMM_ECAM_BASE 0xb0000000ULL
#define VMM_ECAM_SIZE 0x10000000ULL
#define VMM_MMIO32_BASE 0xc0000000ULL
#define VMM_MMIO32_SIZE 0x3e000000ULL /* up to 0xfdffffff */
#define VMM_MSI_BASE 0xfee00000ULL
#define VMM_MSI_SIZE 0x100000ULL
#define VMM_MMIO64_BASE 0x8000000000ULL
#define VMM_MMIO64_SIZE 0x8000000000ULL
#define VMM_INTX_BASE 16 /* first interrupt number used for INTx */
#define VMM_PIO_SIZE 0x10000u
#define VMM_PIO_WINDOW_BASE 0x1000u
#define VMM_PIO_WINDOW_SIZE (VMM_PIO_SIZE - VMM_PIO_WINDOW_BASE)
#define VMM_DEFAULT_RAM_SIZE (128ULL * 1024 * 1024)
/* Largest RAM that fits below the 64-bit MMIO window. */
#define VMM_MAX_RAM_SIZE (VMM_MMIO64_BASE - VMM_HIGH_RAM_BASE + VMM_LOW_RAM_MAX)

typedef struct PCIHost PCIHost;

/* One contiguous piece of guest RAM as devices see it. */
typedef struct RAMSection {
    const char *name; /* backend id */
    uint64_t gpa;
    uint64_t size;
    uint8_t *host;
    int fd;             /* -1: no fd usable for sharing */
    uint64_t fd_offset; /* offset of this section inside fd */
} RAMSection;

#define VMM_MAX_RAM_SECTIONS 2

/* One MSI seen in the MSI window. */
typedef struct MSIRecord {
    uint64_t addr;
    uint32_t data;
} MSIRecord;

typedef void (*MachineIrqNotify)(int irq, bool level, void *opaque);
typedef void (*MachineMsiNotify)(void *opaque);

/* Main-thread only (qtest, monitor, interrupt sources all run there). */
typedef struct Machine {
    HostMemoryBackend *ram; /* the backend that holds guest RAM */
    bool ram_owned;         /* ram was created for the machine */
    RAMSection sections[VMM_MAX_RAM_SECTIONS];
    unsigned nr_sections;
    PCIHost *pci;
    GQueue msi_log; /* MSIRecord *, oldest first */
    uint64_t msi_total;
    uint64_t ram_faults; /* RAM accesses cut short: the fd was truncated */
    bool irq_level[256];
    MachineIrqNotify irq_notify;
    void *irq_opaque;
    MachineMsiNotify msi_notify;
    void *msi_opaque;
} Machine;

/* Lay @ram out at GPA 0 (and 4 GiB) and create the PCI host.  Takes
 * @ram when @owned.  Fails when the RAM does not fit. */
Machine *machine_new(HostMemoryBackend *ram, bool owned, GError **errp);
void machine_free(Machine *m);

/*
 * A guest memory access of @len bytes at @addr.  Never fails: holes read
 * all-ones, writes to them are dropped; a failed device reads all-ones.
 */
void machine_rw(Machine *m, uint64_t addr, void *buf, uint64_t len,
                bool is_write);
uint64_t machine_ldq(Machine *m, uint64_t addr, unsigned size);
void machine_stq(Machine *m, uint64_t addr, uint64_t val, unsigned size);

/*
 * A port I/O access of @len bytes (1, 2 or 4 from qtest) at @port; never
 * fails: ports nothing decodes read all-ones and drop writes.
 */
void machine_pio_rw(Machine *m, uint32_t port, void *buf, unsigned len,
                    bool is_write);
uint32_t machine_inl(Machine *m, uint32_t port, unsigned size);
void machine_outl(Machine *m, uint32_t port, uint32_t val, unsigned size);

/* Level of interrupt @irq changed (INTx); reported when it really changes. */
void machine_set_irq(Machine *m, int irq, bool level);
void machine_set_irq_notify(Machine *m, MachineIrqNotify fn, void *opaque);
void machine_set_msi_notify(Machine *m, MachineMsiNotify fn, void *opaque);
/* Oldest recorded MSI; false when none is left. */
bool machine_msi_pop(Machine *m, MSIRecord *out);
unsigned machine_msi_pending(Machine *m);

/* Reset every device and re-run firmware PCI setup. */
void machine_reset(Machine *m);

#endif /* SYSTEM_MACHINE_H */
