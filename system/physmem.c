/*
 * The machine's guest physical address space: RAM sections, the PCI ECAM
 * window, BARs in the MMIO windows and the MSI window; the port I/O space:
 * configuration mechanism #1 at 0xCF8/0xCFC and I/O BARs (see
 * include/system/machine.h for both maps).  Also INTx level tracking and
 * the log of MSIs that landed in the MSI window.  The PCI host reaches the
 * machine only through the PCIHostOps given to it here.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "hw/pci/pci_host.h"
#include "system/machine.h"
#include "vfio-user/error.h"
#include "vfio-user/guard.h"

#define MSI_LOG_MAX 4096 /* oldest records are dropped beyond this */

static void machine_pci_as_rw(void *opaque, uint64_t addr, void *buf,
                              uint64_t len, bool is_write)
{
    machine_rw(opaque, addr, buf, len, is_write);
}

static void machine_pci_set_irq(void *opaque, int irq, bool level)
{
    machine_set_irq(opaque, irq, level);
}

static const PCIHostOps machine_pci_ops = {
    .as_rw = machine_pci_as_rw,
    .set_irq = machine_pci_set_irq,
};

static const PCIHostConfig machine_pci_config = {
    .mmio32_base = VMM_MMIO32_BASE,
    .mmio32_size = VMM_MMIO32_SIZE,
    .mmio64_base = VMM_MMIO64_BASE,
    .mmio64_size = VMM_MMIO64_SIZE,
    .io_base = VMM_PIO_WINDOW_BASE,
    .io_size = VMM_PIO_WINDOW_SIZE,
    .intx_base = VMM_INTX_BASE,
};

Machine *machine_new(HostMemoryBackend *ram, bool owned, GError **errp)
{
    Machine *m;
    uint64_t size = ram->opts.size, fd_off;
    int fd = host_memory_backend_share_fd(ram, &fd_off);

    if (size > VMM_MAX_RAM_SIZE) {
        vfio_user_error_set(errp, EINVAL,
                            "RAM size 0x%" PRIx64
                            " is larger than the machine's maximum 0x%llx",
                            size, (unsigned long long)VMM_MAX_RAM_SIZE);
        return NULL;
    }
    m = g_new0(Machine, 1);
    m->ram = ram;
    m->ram_owned = owned;
    g_queue_init(&m->msi_log);
    m->sections[0] = (RAMSection){
        .name = ram->opts.id,
        .gpa = VMM_RAM_BASE,
        .size = MIN(size, VMM_LOW_RAM_MAX),
        .host = ram->host,
        .fd = fd,
        .fd_offset = fd_off,
    };
    m->nr_sections = 1;
    if (size > VMM_LOW_RAM_MAX) {
        m->sections[1] = (RAMSection){
            .name = ram->opts.id,
            .gpa = VMM_HIGH_RAM_BASE,
            .size = size - VMM_LOW_RAM_MAX,
            .host = ram->host + VMM_LOW_RAM_MAX,
            .fd = fd,
            .fd_offset = fd_off + VMM_LOW_RAM_MAX,
        };
        m->nr_sections = 2;
    }
    m->pci = pci_host_new(&machine_pci_config, &machine_pci_ops, m);
    return m;
}

void machine_free(Machine *m)
{
    if (!m) {
        return;
    }
    pci_host_free(m->pci);
    g_queue_clear_full(&m->msi_log, g_free);
    if (m->ram_owned) {
        host_memory_backend_free(m->ram);
    }
    g_free(m);
}

static void machine_record_msi(Machine *m, uint64_t addr, const void *buf,
                               uint64_t len)
{
    MSIRecord *r = g_new0(MSIRecord, 1);

    r->addr = addr;
    memcpy(&r->data, buf, MIN(len, sizeof(r->data)));
    if (g_queue_get_length(&m->msi_log) >= MSI_LOG_MAX) {
        g_free(g_queue_pop_head(&m->msi_log));
    }
    g_queue_push_tail(&m->msi_log, r);
    m->msi_total++;
    if (m->msi_notify) {
        m->msi_notify(m->msi_opaque);
    }
}

/* ECAM: aligned pieces of at most 4 bytes. */
static uint64_t machine_ecam_rw(Machine *m, uint64_t off, uint8_t *buf,
                                uint64_t len, bool is_write)
{
    unsigned n = 4 - (off & 3);
    uint32_t val = 0;

    if (n > len) {
        n = len;
    }
    if (n == 3 || (n == 2 && (off & 1))) {
        n = 1;
    }
    if (is_write) {
        memcpy(&val, buf, n);
        pci_host_ecam_write(m->pci, off, val, n);
    } else {
        val = pci_host_ecam_read(m->pci, off, n);
        memcpy(buf, &val, n);
    }
    return n;
}

/*
 * Guest RAM, through the SIGBUS guard: a device server holding the RAM's
 * fd (memory-backend-file, or memfd with seal=off) may truncate it, and
 * the access must fail, not the VMM.  A failed read is all-ones, a failed
 * write is dropped; the first failure is reported.
 */
static void machine_ram_rw(Machine *m, RAMSection *s, uint64_t off,
                           uint8_t *buf, uint64_t n, bool is_write)
{
    uint8_t *host = s->host + off;

    if (vfio_user_guard_copy(is_write ? host : buf, is_write ? buf : host, n,
                             !is_write)) {
        return;
    }
    if (!is_write) {
        memset(buf, 0xff, n);
    }
    if (m->ram_faults++ == 0) {
        /* clang-format off */
        g_warning("guest RAM '%s' at 0x%" PRIx64 " is gone: its file was truncated (by a device server?); reads return all-ones, writes are dropped",
                  s->name, s->gpa + off);
        /* clang-format on */
    }
}

/* One step of machine_rw: returns the bytes handled (> 0). */
static uint64_t machine_rw_step(Machine *m, uint64_t addr, uint8_t *buf,
                                uint64_t len, bool is_write)
{
    uint64_t n;

    for (unsigned i = 0; i < m->nr_sections; i++) {
        RAMSection *s = &m->sections[i];

        if (addr >= s->gpa && addr - s->gpa < s->size) {
            n = MIN(len, s->size - (addr - s->gpa));
            machine_ram_rw(m, s, addr - s->gpa, buf, n, is_write);
            return n;
        }
    }
    if (addr >= VMM_MSI_BASE && addr - VMM_MSI_BASE < VMM_MSI_SIZE) {
        n = MIN(len, VMM_MSI_SIZE - (addr - VMM_MSI_BASE));
        if (is_write) {
            machine_record_msi(m, addr, buf, n);
        } else {
            memset(buf, 0, n);
        }
        return n;
    }
    if (addr >= VMM_ECAM_BASE && addr - VMM_ECAM_BASE < VMM_ECAM_SIZE) {
        return machine_ecam_rw(m, addr - VMM_ECAM_BASE, buf, len, is_write);
    }
    n = pci_host_mmio_rw(m->pci, addr, buf, len, is_write);
    if (n) {
        return n;
    }
    /* A hole: up to the next page boundary, all-ones. */
    n = MIN(len, 4096 - (addr & 4095));
    if (!is_write) {
        memset(buf, 0xff, n);
    }
    return n;
}

void machine_rw(Machine *m, uint64_t addr, void *buf, uint64_t len,
                bool is_write)
{
    uint8_t *p = buf;

    while (len) {
        uint64_t n = machine_rw_step(m, addr, p, len, is_write);

        addr += n;
        p += n;
        len -= n;
    }
}

uint64_t machine_ldq(Machine *m, uint64_t addr, unsigned size)
{
    uint64_t val = 0;

    machine_rw(m, addr, &val, MIN(size, 8u), false);
    return val;
}

void machine_stq(Machine *m, uint64_t addr, uint64_t val, unsigned size)
{
    machine_rw(m, addr, &val, MIN(size, 8u), true);
}

/* One step of machine_pio_rw: returns the bytes handled (> 0). */
static unsigned machine_pio_step(Machine *m, uint32_t port, uint8_t *buf,
                                 unsigned len, bool is_write)
{
    uint32_t val = 0;
    unsigned n;

    if (port == PCI_HOST_CONFIG_ADDRESS && len == 4) {
        if (is_write) {
            memcpy(&val, buf, 4);
            pci_host_conf_addr_write(m->pci, val);
        } else {
            val = pci_host_conf_addr_read(m->pci);
            memcpy(buf, &val, 4);
        }
        return 4;
    }
    if (port >= PCI_HOST_CONFIG_DATA && port < PCI_HOST_CONFIG_DATA + 4) {
        unsigned off = port - PCI_HOST_CONFIG_DATA;

        n = MIN(len, 4 - off);
        if (n == 3 || (n == 2 && (off & 1))) {
            n = 1;
        }
        if (is_write) {
            memcpy(&val, buf, n);
            pci_host_conf_data_write(m->pci, off, val, n);
        } else {
            val = pci_host_conf_data_read(m->pci, off, n);
            memcpy(buf, &val, n);
        }
        return n;
    }
    n = pci_host_pio_rw(m->pci, port, buf, len, is_write);
    if (n) {
        return n;
    }
    /* Nothing decodes it: one byte of all-ones (or a dropped write). */
    if (!is_write) {
        *buf = 0xff;
    }
    return 1;
}

void machine_pio_rw(Machine *m, uint32_t port, void *buf, unsigned len,
                    bool is_write)
{
    uint8_t *p = buf;

    while (len) {
        unsigned n;

        if (port >= VMM_PIO_SIZE) {
            if (!is_write) {
                memset(p, 0xff, len);
            }
            return;
        }
        n = machine_pio_step(m, port, p, MIN(len, VMM_PIO_SIZE - port),
                             is_write);
        port += n;
        p += n;
        len -= n;
    }
}

uint32_t machine_inl(Machine *m, uint32_t port, unsigned size)
{
    uint32_t val = 0;

    machine_pio_rw(m, port, &val, MIN(size, 4u), false);
    return val;
}

void machine_outl(Machine *m, uint32_t port, uint32_t val, unsigned size)
{
    machine_pio_rw(m, port, &val, MIN(size, 4u), true);
}

void machine_set_irq(Machine *m, int irq, bool level)
{
    if (irq < 0 || irq >= (int)G_N_ELEMENTS(m->irq_level) ||
        m->irq_level[irq] == level) {
        return;
    }
    m->irq_level[irq] = level;
    if (m->irq_notify) {
        m->irq_notify(irq, level, m->irq_opaque);
    }
}

void machine_set_irq_notify(Machine *m, MachineIrqNotify fn, void *opaque)
{
    m->irq_notify = fn;
    m->irq_opaque = opaque;
}

void machine_set_msi_notify(Machine *m, MachineMsiNotify fn, void *opaque)
{
    m->msi_notify = fn;
    m->msi_opaque = opaque;
}

bool machine_msi_pop(Machine *m, MSIRecord *out)
{
    MSIRecord *r = g_queue_pop_head(&m->msi_log);

    if (!r) {
        return false;
    }
    *out = *r;
    g_free(r);
    return true;
}

unsigned machine_msi_pending(Machine *m)
{
    return g_queue_get_length(&m->msi_log);
}

void machine_reset(Machine *m)
{
    pci_host_reset(m->pci);
}
