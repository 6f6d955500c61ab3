/*
 * The `info` commands of the human monitor.  pci, qtree, mtree, status
 * and version are laid out as QEMU's (at commit 06c1600b5571 of
 * hw/pci/pci-hmp-cmds.c, system/qdev-monitor.c, system/memory.c and
 * system/runstate-hmp-cmds.c), filled with this machine's contents;
 * memory and vfio-user are ours.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <inttypes.h>
#include <string.h>
#include "hw/pci/pci_host.h"
#include "hw/vfio-user/pci.h"
#include "system/monitor-info.h"
#include "system/runstate.h"

typedef struct MonitorInfoCmd {
    const char *name;
    const char *help;
    void (*run)(Machine *m, GString *out);
} MonitorInfoCmd;

static void info_pci(Machine *m, GString *out)
{
    pci_host_info(m->pci, out);
}

static void info_vfio_user(Machine *m, GString *out)
{
    pci_host_device_info(m->pci, out);
}

static void info_memory(Machine *m, GString *out)
{
    const HostMemoryBackend *b = m->ram;

    g_string_append_printf(out, "backend %s (%s), size 0x%" PRIx64 "%s%s%s\n",
                           b->opts.id, host_mem_type_name(b->opts.type),
                           b->opts.size, b->opts.mem_path ? ", mem-path " : "",
                           b->opts.mem_path ? b->opts.mem_path : "",
                           b->shared ? ", shared" : ", private");
    for (unsigned i = 0; i < m->nr_sections; i++) {
        const RAMSection *s = &m->sections[i];

        g_string_append_printf(out,
                               "  gpa 0x%010" PRIx64 "-0x%010" PRIx64
                               " fd %s offset 0x%" PRIx64 "\n",
                               s->gpa, s->gpa + s->size - 1,
                               s->fd >= 0 ? "yes" : "no", s->fd_offset);
    }
}

/* QEMU: "paused (STATE)" when the state has a name of its own. */
static void info_status(Machine *m, GString *out)
{
    const char *state = vmm_run_status();

    (void)m;
    if (vmm_is_running()) {
        g_string_append(out, "VM status: running\n");
    } else if (!strcmp(state, "paused")) {
        g_string_append(out, "VM status: paused\n");
    } else {
        g_string_append_printf(out, "VM status: paused (%s)\n", state);
    }
}

static void info_version(Machine *m, GString *out)
{
    (void)m;
    g_string_append(out, VMM_VERSION "\n");
}

/* ---- info qtree: QEMU's "bus:", "type", "dev: TYPE, id" tree ---- */

static void qtree_uint(GString *out, int indent, const char *name, int64_t v)
{
    g_string_append_printf(out, "%*s%s = %" PRId64 " (0x%" PRIx64 ")\n", indent,
                           "", name, v, (uint64_t)v & 0xffffffffu);
}

static void qtree_bool(GString *out, int indent, const char *name, bool v)
{
    g_string_append_printf(out, "%*s%s = %s\n", indent, "", name,
                           v ? "true" : "false");
}

/* The -device properties of a vfio-user-pci device, as set. */
static void qtree_vfu_props(const VFIOUserPCIOptions *o, int indent,
                            GString *out)
{
    g_string_append_printf(out, "%*ssocket = \"%s\"\n", indent, "", o->socket);
    g_string_append_printf(out, "%*sdma-access = \"%s\"\n", indent, "",
                           vfio_user_dma_access_name(o->dma_access));
    qtree_uint(out, indent, "x-msg-timeout", o->msg_timeout_ms);
    qtree_uint(out, indent, "x-poll-us", o->poll_us);
    qtree_bool(out, indent, "x-no-posted-writes", o->no_posted_writes);
    qtree_bool(out, indent, "x-no-write-multi", o->no_write_multi);
    qtree_uint(out, indent, "reconnect-ms", o->reconnect_ms);
    qtree_uint(out, indent, "x-pci-vendor-id", o->vendor_id);
    qtree_uint(out, indent, "x-pci-device-id", o->device_id);
    qtree_uint(out, indent, "x-pci-sub-vendor-id", o->sub_vendor_id);
    qtree_uint(out, indent, "x-pci-sub-device-id", o->sub_device_id);
}

static void qtree_pci_dev(PCIHost *h, PCIDevice *d, int indent, GString *out)
{
    const VFIOUserPCIOptions *o = vfio_user_pci_get_options(d);

    g_string_append_printf(out, "%*sdev: %s, id \"%s\"\n", indent, "",
                           d->ops->type,
                           d == &h->bridge || !d->id ? "" : d->id);
    indent += 2;
    if (o) {
        qtree_vfu_props(o, indent, out);
    }
    g_string_append_printf(out, "%*saddr = %02x.%x\n", indent, "",
                           d->devfn >> 3, d->devfn & 7);
    pci_device_qtree_info(d, indent, out);
}

static void info_qtree(Machine *m, GString *out)
{
    g_string_append(out, "bus: main-system-bus\n"
                         "  type System\n"
                         "  dev: pci-host, id \"\"\n"
                         "    bus: pci.0\n"
                         "      type PCI\n");
    for (int s = PCI_SLOT_MAX - 1; s >= 0; s--) {
        /* QEMU lists the last device plugged first; here: by slot, down */
        if (m->pci->slots[s]) {
            qtree_pci_dev(m->pci, m->pci->slots[s], 6, out);
        }
    }
}

/* ---- info mtree: QEMU's address-space / memory-region tree ---- */

/* One region at tree depth @level; @size 0 means all 2^64 bytes. */
static void mtree_line(GString *out, int level, uint64_t start, uint64_t size,
                       int prio, const char *type, const char *name)
{
    g_string_append_printf(
        out, "%*s%016" PRIx64 "-%016" PRIx64 " (prio %d, %s): %s\n", level * 2,
        "", start, start + size - 1, prio, type, name);
}

typedef struct MtreeBar {
    uint64_t addr;
    PCIDevice *dev;
    int bar;
} MtreeBar;

static gint mtree_bar_cmp(gconstpointer a, gconstpointer b)
{
    const MtreeBar *x = a, *y = b;

    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The BARs of @io space that decode now, each "ID BAR N", by address. */
static void mtree_bars(PCIHost *h, bool io, int level, GString *out)
{
    g_autoptr(GArray) bars = g_array_new(false, false, sizeof(MtreeBar));

    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        for (int i = 0; h->slots[s] && i < PCI_NUM_BARS; i++) {
            MtreeBar e = {pci_bar_address(h->slots[s], i), h->slots[s], i};
            const PCIBar *b = &e.dev->bars[i];

            if (b->size && e.addr != PCI_BAR_UNMAPPED &&
                !(b->type & PCI_BASE_ADDRESS_SPACE_IO) == !io) {
                g_array_append_val(bars, e);
            }
        }
    }
    g_array_sort(bars, mtree_bar_cmp);
    for (guint k = 0; k < bars->len; k++) {
        const MtreeBar *e = &g_array_index(bars, MtreeBar, k);
        g_autofree char *name =
            g_strdup_printf("%s BAR %d", e->dev->id, e->bar);

        mtree_line(out, level, e->addr, e->dev->bars[e->bar].size, 1, "i/o",
                   name);
    }
}

/* RAM section @i as QEMU shows it: an alias into the backend. */
static void mtree_ram(Machine *m, unsigned i, GString *out)
{
    const RAMSection *s = &m->sections[i];
    uint64_t off = s->host - m->ram->host;

    g_string_append_printf(
        out,
        "    %016" PRIx64 "-%016" PRIx64
        " (prio 0, ram): alias %s @%s %016" PRIx64 "-%016" PRIx64 "\n",
        s->gpa, s->gpa + s->size - 1, i ? "ram-above-4g" : "ram-below-4g",
        m->ram->opts.id, off, off + s->size - 1);
}

static void info_mtree(Machine *m, GString *out)
{
    g_string_append(out, "address-space: memory\n");
    mtree_line(out, 1, 0, 0, 0, "i/o", "system");
    mtree_ram(m, 0, out);
    mtree_line(out, 2, 0, 0, -1, "i/o", "pci");
    mtree_bars(m->pci, false, 3, out);
    mtree_line(out, 2, VMM_ECAM_BASE, VMM_ECAM_SIZE, 0, "i/o", "pci-ecam");
    mtree_line(out, 2, VMM_MSI_BASE, VMM_MSI_SIZE, 0, "i/o", "msi");
    if (m->nr_sections > 1) {
        mtree_ram(m, 1, out);
    }
    g_string_append(out, "\naddress-space: I/O\n");
    mtree_line(out, 1, 0, VMM_PIO_SIZE, 0, "i/o", "io");
    mtree_line(out, 2, 0, VMM_PIO_SIZE, -1, "i/o", "pci-io");
    mtree_bars(m->pci, true, 3, out);
    mtree_line(out, 2, PCI_HOST_CONFIG_ADDRESS, 4, 0, "i/o", "pci-conf-idx");
    mtree_line(out, 2, PCI_HOST_CONFIG_DATA, 4, 0, "i/o", "pci-conf-data");
    g_string_append_printf(out, "\nmemory-region: %s\n", m->ram->opts.id);
    mtree_line(out, 1, 0, m->ram->opts.size, 0, "ram", m->ram->opts.id);
    g_string_append_c(out, '\n');
}

static const MonitorInfoCmd info_cmds[] = {
    {"version", "the version of vfio-user-vmm", info_version},
    {"status", "whether the machine runs or is paused (-S)", info_status},
    {"pci", "the PCI devices: ids, interrupt, BARs", info_pci},
    {"qtree", "the tree of buses and devices, with properties", info_qtree},
    {"mtree", "the address spaces and their regions", info_mtree},
    {"memory", "guest RAM: its backend and sections", info_memory},
    {"vfio-user",
     "each vfio-user device: connection, capabilities, DMA maps and access modes, counters, errors",
     info_vfio_user},
};

void monitor_info_list(GString *out)
{
    for (size_t i = 0; i < G_N_ELEMENTS(info_cmds); i++) {
        g_string_append_printf(out, "info %s  -- %s\n", info_cmds[i].name,
                               info_cmds[i].help);
    }
}

bool monitor_info_run(Machine *m, const char *name, GString *out)
{
    for (size_t i = 0; i < G_N_ELEMENTS(info_cmds); i++) {
        if (!strcmp(name, info_cmds[i].name)) {
            info_cmds[i].run(m, out);
            return true;
        }
    }
    return false;
}
