/*
 * PCI host bridge of the vfio-user-vmm machine: bus 0 with the bridge at
 * 00.0, ECAM and mechanism #1 config access, MMIO and port I/O dispatch to
 * BARs, INTx routing, and what firmware would do at boot (BAR sizing and
 * placement, decode enable, interrupt line).  Everything it needs of the
 * machine comes through PCIHostConfig and PCIHostOps.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include "hw/pci/pci_host.h"
#include "vfio-user/error.h"

static uint32_t bridge_config_read(PCIDevice *d, uint32_t off, unsigned len)
{
    return pci_default_config_read(d, off, len);
}

static void bridge_config_write(PCIDevice *d, uint32_t off, uint32_t val,
                                unsigned len)
{
    pci_default_config_write(d, off, val, len);
}

static const PCIDeviceOps bridge_ops = {
    .type = "pci-host-bridge",
    .config_read = bridge_config_read,
    .config_write = bridge_config_write,
};

PCIHost *pci_host_new(const PCIHostConfig *cfg, const PCIHostOps *ops,
                      void *opaque)
{
    PCIHost *h = g_new0(PCIHost, 1);
    PCIDevice *b = &h->bridge;

    h->cfg = *cfg;
    h->ops = ops;
    h->opaque = opaque;
    pci_device_init(b, &bridge_ops, "host-bridge");
    b->host = h;
    pci_device_emulate(b, 0, 256, 0);
    pci_set_config(b, PCI_VENDOR_ID, PCI_HOST_VENDOR_ID, 2);
    pci_set_config(b, PCI_DEVICE_ID, PCI_HOST_DEVICE_ID, 2);
    pci_set_config(b, PCI_CLASS_DEVICE, 0x0600, 2);
    pci_set_config(b, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL, 1);
    b->wmask[PCI_COMMAND] =
        PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    h->slots[0] = b;
    return h;
}

void pci_host_free(PCIHost *h)
{
    if (!h) {
        return;
    }
    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        PCIDevice *d = h->slots[s];

        if (d) {
            h->slots[s] = NULL;
            d->ops->destroy(d);
        }
    }
    pci_device_finalize(&h->bridge);
    g_free(h);
}

int pci_host_free_slot(PCIHost *h)
{
    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        if (!h->slots[s]) {
            return s;
        }
    }
    return -1;
}

PCIDevice *pci_host_find(PCIHost *h, const char *id)
{
    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        if (h->slots[s] && g_strcmp0(h->slots[s]->id, id) == 0) {
            return h->slots[s];
        }
    }
    return NULL;
}

static bool pci_host_id_taken(PCIHost *h, const char *id,
                              const char *const *reserved)
{
    return pci_host_find(h, id) || (reserved && g_strv_contains(reserved, id));
}

char *pci_host_default_id(PCIHost *h, unsigned slot,
                          const char *const *reserved)
{
    char *id = g_strdup_printf("dev%u", slot);

    for (unsigned n = 1; pci_host_id_taken(h, id, reserved); n++) {
        g_free(id);
        id = g_strdup_printf("dev%u-%u", slot, n);
    }
    return id;
}

bool pci_host_plug(PCIHost *h, PCIDevice *d, unsigned slot, GError **errp)
{
    if (slot == 0 || slot >= PCI_SLOT_MAX || h->slots[slot]) {
        return vfio_user_error_set(errp, EBUSY, "PCI slot %u is not free",
                                   slot);
    }
    if (d->id && pci_host_find(h, d->id)) {
        return vfio_user_error_set(errp, EEXIST, "duplicate device id '%s'",
                                   d->id);
    }
    d->host = h;
    d->devfn = slot << 3;
    h->slots[slot] = d;
    return true;
}

bool pci_host_unplug(PCIHost *h, const char *id, GError **errp)
{
    PCIDevice *d = pci_host_find(h, id);

    if (!d) {
        return vfio_user_error_set(errp, ENOENT, "Device '%s' not found", id);
    }
    h->slots[d->devfn >> 3] = NULL;
    pci_set_irq(d, false);
    d->ops->destroy(d);
    return true;
}

static PCIDevice *pci_host_ecam_dev(PCIHost *h, uint64_t off, uint32_t *reg)
{
    unsigned bus = off >> 20, slot = (off >> 15) & 31, fn = (off >> 12) & 7;

    *reg = off & 0xfff;
    if (bus != 0 || fn != 0) {
        return NULL;
    }
    return h->slots[slot];
}

uint32_t pci_host_ecam_read(PCIHost *h, uint64_t off, unsigned len)
{
    uint32_t reg;
    PCIDevice *d = pci_host_ecam_dev(h, off, &reg);

    if (!d) {
        return (uint32_t)((1ULL << (8 * len)) - 1);
    }
    return pci_config_read(d, reg, len);
}

void pci_host_ecam_write(PCIHost *h, uint64_t off, uint32_t val, unsigned len)
{
    uint32_t reg;
    PCIDevice *d = pci_host_ecam_dev(h, off, &reg);

    if (d) {
        pci_config_write(d, reg, val, len);
    }
}

/* 0xCF8 holds bus 23:16, device 15:11, function 10:8, register 7:2. */
#define CONF_ADDR_ENABLE 0x80000000u
#define CONF_ADDR_MASK 0x80fffffcu

void pci_host_conf_addr_write(PCIHost *h, uint32_t val)
{
    h->config_address = val & CONF_ADDR_MASK;
}

uint32_t pci_host_conf_addr_read(PCIHost *h)
{
    return h->config_address;
}

/* The ECAM offset the latched address selects (register bits 7:0). */
static uint64_t conf_ecam_off(PCIHost *h, unsigned off)
{
    uint32_t a = h->config_address;

    return ((uint64_t)(a & 0x00ffff00) << 4) | (a & 0xfc) | (off & 3);
}

uint32_t pci_host_conf_data_read(PCIHost *h, unsigned off, unsigned len)
{
    if (!(h->config_address & CONF_ADDR_ENABLE)) {
        return (uint32_t)((1ULL << (8 * len)) - 1);
    }
    return pci_host_ecam_read(h, conf_ecam_off(h, off), len);
}

void pci_host_conf_data_write(PCIHost *h, unsigned off, uint32_t val,
                              unsigned len)
{
    if (h->config_address & CONF_ADDR_ENABLE) {
        pci_host_ecam_write(h, conf_ecam_off(h, off), val, len);
    }
}

void pci_host_intx_update(PCIHost *h, int irq)
{
    bool level = false;

    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        PCIDevice *d = h->slots[s];

        if (d && d->intx_level && pci_intx_irq(d) == irq &&
            !(pci_command(d) & PCI_COMMAND_INTX_DISABLE)) {
            level = true;
        }
    }
    if (h->ops && h->ops->set_irq) {
        h->ops->set_irq(h->opaque, irq, level);
    }
}

/* A BAR of space @io (I/O or memory) decoding @addr: its bytes from there. */
static uint64_t pci_host_bar_rw(PCIHost *h, bool io, uint64_t addr, void *buf,
                                uint64_t len, bool is_write)
{
    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        PCIDevice *d = h->slots[s];

        for (int i = 0; d && i < PCI_NUM_BARS; i++) {
            uint64_t base = pci_bar_address(d, i), n;

            if (base == PCI_BAR_UNMAPPED ||
                !(d->bars[i].type & PCI_BASE_ADDRESS_SPACE_IO) != !io ||
                addr < base || addr - base >= d->bars[i].size) {
                continue;
            }
            n = MIN(len, d->bars[i].size - (addr - base));
            d->ops->bar_rw(d, i, addr - base, buf, n, is_write);
            return n;
        }
    }
    return 0;
}

uint64_t pci_host_mmio_rw(PCIHost *h, uint64_t addr, void *buf, uint64_t len,
                          bool is_write)
{
    return pci_host_bar_rw(h, false, addr, buf, len, is_write);
}

uint64_t pci_host_pio_rw(PCIHost *h, uint32_t port, void *buf, uint64_t len,
                         bool is_write)
{
    return pci_host_bar_rw(h, true, port, buf, len, is_write);
}

typedef struct BarRef {
    PCIDevice *dev;
    int bar;
} BarRef;

static gint bar_ref_cmp(gconstpointer a, gconstpointer b)
{
    const BarRef *x = a, *y = b;
    uint64_t sx = x->dev->bars[x->bar].size, sy = y->dev->bars[y->bar].size;

    return sx < sy ? 1 : sx > sy ? -1 : 0;
}

static bool alloc_in(uint64_t *next, uint64_t base, uint64_t size,
                     uint64_t bar_size, uint64_t *out)
{
    uint64_t a = (*next + bar_size - 1) & ~(bar_size - 1);

    if (a < *next || a + bar_size > base + size || a + bar_size < a) {
        return false;
    }
    *out = a;
    *next = a + bar_size;
    return true;
}

/* Next free address of each window while firmware runs. */
typedef struct PCIHostAlloc {
    uint64_t next32, next64, next_io;
} PCIHostAlloc;

static void pci_host_place_bar(PCIHost *h, PCIDevice *d, int i, PCIHostAlloc *a)
{
    const PCIHostConfig *c = &h->cfg;
    uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
    bool is64 = d->bars[i].type & PCI_BASE_ADDRESS_MEM_TYPE_64;
    bool io = d->bars[i].type & PCI_BASE_ADDRESS_SPACE_IO;
    uint64_t addr;
    bool ok;

    if (io) {
        ok = alloc_in(&a->next_io, c->io_base, c->io_size, d->bars[i].size,
                      &addr);
    } else {
        ok = alloc_in(&a->next32, c->mmio32_base, c->mmio32_size,
                      d->bars[i].size, &addr) ||
             (is64 && alloc_in(&a->next64, c->mmio64_base, c->mmio64_size,
                               d->bars[i].size, &addr));
    }
    if (!ok) {
        g_warning("%s: no room for BAR%d (0x%" PRIx64 " bytes)",
                  d->label ? d->label : d->id, i, d->bars[i].size);
        return;
    }
    pci_config_write(d, reg, (uint32_t)addr, 4);
    if (is64) {
        pci_config_write(d, reg + 4, (uint32_t)(addr >> 32), 4);
    }
}

/* Firmware's interrupt line of the device in slot @s (from its pin). */
static void pci_host_set_intx_line(PCIHost *h, int s)
{
    PCIDevice *d = h->slots[s];
    uint8_t pin = pci_config_read(d, PCI_INTERRUPT_PIN, 1);

    if (pin >= 1 && pin <= 4) {
        pci_config_write(d, PCI_INTERRUPT_LINE,
                         h->cfg.intx_base + (s + pin - 1) % 4, 1);
    }
}

/* The BARs of @d with a size, largest first. */
static void pci_host_add_bars(GArray *bars, PCIDevice *d)
{
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        BarRef r = {d, i};

        if (d->bars[i].size) {
            g_array_append_val(bars, r);
        }
    }
}

/* Every BAR of every device, largest first; interrupt lines on the way. */
static GArray *pci_host_collect_bars(PCIHost *h)
{
    GArray *bars = g_array_new(false, false, sizeof(BarRef));

    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        if (h->slots[s]) {
            pci_host_add_bars(bars, h->slots[s]);
            pci_host_set_intx_line(h, s);
        }
    }
    g_array_sort(bars, bar_ref_cmp);
    return bars;
}

/* Memory Space + Bus Master, and I/O Space when @d has an I/O BAR. */
static void pci_host_enable_decode(PCIDevice *d)
{
    uint16_t cmd = pci_config_read(d, PCI_COMMAND, 2);

    cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        if (d->bars[i].size && (d->bars[i].type & PCI_BASE_ADDRESS_SPACE_IO)) {
            cmd |= PCI_COMMAND_IO;
        }
    }
    pci_config_write(d, PCI_COMMAND, cmd, 2);
}

void pci_host_firmware_init(PCIHost *h)
{
    GArray *bars = pci_host_collect_bars(h);
    PCIHostAlloc a = {
        .next32 = h->cfg.mmio32_base,
        .next64 = h->cfg.mmio64_base,
        .next_io = h->cfg.io_base,
    };

    for (guint k = 0; k < bars->len; k++) {
        BarRef *r = &g_array_index(bars, BarRef, k);

        pci_host_place_bar(h, r->dev, r->bar, &a);
    }
    g_array_free(bars, true);
    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        if (h->slots[s]) {
            pci_host_enable_decode(h->slots[s]);
        }
    }
}

/*
 * The range BAR @i of @d was given, decoding enabled or not (0 when it
 * was never assigned): what a hot-plugged BAR must not overlap.
 */
static uint64_t pci_host_bar_assigned(PCIDevice *d, int i)
{
    uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
    uint64_t addr = pci_get_config(d, reg, 4);

    if (d->bars[i].type & PCI_BASE_ADDRESS_SPACE_IO) {
        return addr & PCI_BASE_ADDRESS_IO_MASK & ~(d->bars[i].size - 1);
    }
    addr &= PCI_BASE_ADDRESS_MEM_MASK;
    if (d->bars[i].type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
        addr |= (uint64_t)pci_get_config(d, reg + 4, 4) << 32;
    }
    return addr & ~(d->bars[i].size - 1);
}

/* First naturally aligned free range of @size in [@base, @base + @len)
 * that no BAR of another space-@io user overlaps; false if none. */
static bool pci_host_find_gap(PCIHost *h, bool io, uint64_t base, uint64_t len,
                              uint64_t size, uint64_t *out)
{
    uint64_t a = base;

    while (alloc_in(&a, base, len, size, out)) {
        bool clash = false;

        for (int s = 1; s < PCI_SLOT_MAX && !clash; s++) {
            PCIDevice *d = h->slots[s];

            for (int i = 0; d && i < PCI_NUM_BARS; i++) {
                uint64_t at = pci_host_bar_assigned(d, i);

                if (d->bars[i].size && at &&
                    !(d->bars[i].type & PCI_BASE_ADDRESS_SPACE_IO) == !io &&
                    at < *out + size && *out < at + d->bars[i].size) {
                    a = at + d->bars[i].size; /* past it, and try again */
                    clash = true;
                    break;
                }
            }
        }
        if (!clash) {
            return true;
        }
    }
    return false;
}

/* Place BAR @i of @d in free space of its window. */
static bool pci_host_place_bar_free(PCIHost *h, PCIDevice *d, int i,
                                    GError **errp)
{
    const PCIHostConfig *c = &h->cfg;
    uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
    uint64_t size = d->bars[i].size, addr;
    bool is64 = d->bars[i].type & PCI_BASE_ADDRESS_MEM_TYPE_64;
    bool io = d->bars[i].type & PCI_BASE_ADDRESS_SPACE_IO;
    bool ok;

    if (io) {
        ok = pci_host_find_gap(h, true, c->io_base, c->io_size, size, &addr);
    } else {
        ok = pci_host_find_gap(h, false, c->mmio32_base, c->mmio32_size, size,
                               &addr) ||
             (is64 && pci_host_find_gap(h, false, c->mmio64_base,
                                        c->mmio64_size, size, &addr));
    }
    if (!ok) {
        return vfio_user_error_set(errp, ENOSPC,
                                   "no room for BAR%d (0x%" PRIx64
                                   " bytes) in the %s window",
                                   i, size, io ? "I/O" : "MMIO");
    }
    pci_config_write(d, reg, (uint32_t)addr, 4);
    if (is64) {
        pci_config_write(d, reg + 4, (uint32_t)(addr >> 32), 4);
    }
    return true;
}

bool pci_host_firmware_init_slot(PCIHost *h, unsigned slot, GError **errp)
{
    PCIDevice *d = slot && slot < PCI_SLOT_MAX ? h->slots[slot] : NULL;
    g_autoptr(GArray) bars = NULL;

    if (!d) {
        return vfio_user_error_set(errp, ENODEV, "PCI slot %u is empty", slot);
    }
    bars = g_array_new(false, false, sizeof(BarRef));
    pci_host_add_bars(bars, d);
    g_array_sort(bars, bar_ref_cmp);
    pci_host_set_intx_line(h, slot);
    for (guint k = 0; k < bars->len; k++) {
        if (!pci_host_place_bar_free(h, d, g_array_index(bars, BarRef, k).bar,
                                     errp)) {
            return false;
        }
    }
    pci_host_enable_decode(d);
    return true;
}

void pci_host_reset(PCIHost *h)
{
    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        PCIDevice *d = h->slots[s];

        if (d && d->ops->reset) {
            pci_set_irq(d, false);
            d->ops->reset(d);
        }
    }
    pci_host_firmware_init(h);
}

void pci_host_flush(PCIHost *h)
{
    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        PCIDevice *d = h->slots[s];

        if (d && d->ops->flush) {
            d->ops->flush(d);
        }
    }
}

void pci_host_device_info(PCIHost *h, GString *out)
{
    bool any = false;

    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        PCIDevice *d = h->slots[s];

        if (d && d->ops->info) {
            d->ops->info(d, out);
            any = true;
        }
    }
    if (!any) {
        g_string_append(out, "no vfio-user devices\n");
    }
}
