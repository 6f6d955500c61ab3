/*
 * Unit tests of the PCI core (hw/pci) on its own: a PCIHost built with a
 * fake address space and interrupt sink, no machine.  Configuration
 * mechanism #1, I/O BAR placement and dispatch, INTx routing (the OR of the
 * devices sharing an interrupt, INTx Disable), MSI/MSI-X held back while
 * Bus Master Enable is clear, `info pci` in QEMU's layout and the names of
 * devices without an id.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <glib.h>
#include "hw/pci/pci.h"
#include "hw/pci/pci_host.h"

#define MSI_CAP 0x40
#define MSIX_CAP 0x60
#define IO_BASE 0x1000

/* What the fake machine saw. */
typedef struct Sink {
    bool level[64];
    unsigned irq_calls;
    unsigned writes;
    uint64_t last_addr;
    uint32_t last_data;
} Sink;

static void sink_as_rw(void *opaque, uint64_t addr, void *buf, uint64_t len,
                       bool is_write)
{
    Sink *s = opaque;

    g_assert_true(is_write);
    g_assert_cmpuint(len, ==, 4);
    s->writes++;
    s->last_addr = addr;
    memcpy(&s->last_data, buf, 4);
}

static void sink_set_irq(void *opaque, int irq, bool level)
{
    Sink *s = opaque;

    g_assert_cmpint(irq, <, 64);
    s->level[irq] = level;
    s->irq_calls++;
}

static const PCIHostOps sink_ops = {
    .as_rw = sink_as_rw,
    .set_irq = sink_set_irq,
};

static const PCIHostConfig test_cfg = {
    .mmio32_base = 0x40000000,
    .mmio32_size = 0x10000000,
    .mmio64_base = 0x100000000ULL,
    .mmio64_size = 0x100000000ULL,
    .io_base = IO_BASE,
    .io_size = 0xf000,
    .intx_base = 32,
};

static uint32_t dummy_config_read(PCIDevice *d, uint32_t off, unsigned len)
{
    return pci_default_config_read(d, off, len);
}

static void dummy_config_write(PCIDevice *d, uint32_t off, uint32_t val,
                               unsigned len)
{
    pci_default_config_write(d, off, val, len);
}

/* The I/O BAR echoes the port offset; memory BARs hold MSI-X or 0xab. */
static void dummy_bar_rw(PCIDevice *d, int bar, uint64_t off, void *buf,
                         uint64_t len, bool is_write)
{
    uint8_t *p = buf;

    while (len) {
        uint64_t plain, n = msix_bar_rw(d, bar, off, p, len, is_write, &plain);

        if (!n) {
            n = plain;
            if (!is_write) {
                memset(p, bar == 1 ? (uint8_t)(0x10 + off) : 0xab, n);
            }
        }
        off += n;
        p += n;
        len -= n;
    }
}

static void dummy_destroy(PCIDevice *d)
{
    pci_device_finalize(d);
    g_free(d);
}

static const PCIDeviceOps dummy_ops = {
    .type = "dummy",
    .config_read = dummy_config_read,
    .config_write = dummy_config_write,
    .bar_rw = dummy_bar_rw,
    .destroy = dummy_destroy,
};

/* BAR0 4 KiB memory (MSI-X), BAR1 16-byte I/O; MSI without masking. */
static PCIDevice *dummy_new(PCIHost *h, const char *id, unsigned slot)
{
    PCIDevice *d = g_new0(PCIDevice, 1);
    g_autoptr(GError) err = NULL;

    pci_device_init(d, &dummy_ops, id);
    pci_device_emulate(d, 0, 256, 0);
    pci_set_config(d, PCI_VENDOR_ID, 0x1234, 2);
    pci_set_config(d, PCI_DEVICE_ID, 0x5678, 2);
    d->wmask[PCI_COMMAND] =
        PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    d->wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    pci_set_config(d, PCI_INTERRUPT_PIN, 1, 1);
    pci_device_set_bar(d, 0, 0x1000, 0);
    pci_device_set_bar(d, 1, 16, PCI_BASE_ADDRESS_SPACE_IO);
    msi_init(d, MSI_CAP, PCI_MSI_FLAGS_64BIT);
    g_assert_true(msix_init(d, MSIX_CAP, 1, 0x800, 0xc00, &err));
    g_assert_true(pci_host_plug(h, d, slot, &err));
    return d;
}

static uint32_t conf_read(PCIHost *h, unsigned slot, uint32_t reg, unsigned len)
{
    pci_host_conf_addr_write(h, 0x80000000u | (slot << 11) | (reg & 0xfc));
    return pci_host_conf_data_read(h, reg & 3, len);
}

static void conf_write(PCIHost *h, unsigned slot, uint32_t reg, uint32_t val,
                       unsigned len)
{
    pci_host_conf_addr_write(h, 0x80000000u | (slot << 11) | (reg & 0xfc));
    pci_host_conf_data_write(h, reg & 3, val, len);
}

static void test_pci_host_standalone(void)
{
    Sink sink = {0};
    PCIHost *h = pci_host_new(&test_cfg, &sink_ops, &sink);
    uint8_t buf[4];

    dummy_new(h, "d1", 1);
    pci_host_firmware_init(h);
    g_assert_cmphex(conf_read(h, 0, 0, 4), ==, 0x00081b36);
    g_assert_cmphex(conf_read(h, 1, 2, 2), ==, 0x5678);
    g_assert_cmphex(conf_read(h, 2, 0, 4), ==, 0xffffffff);
    /* The address port keeps bits 31, 23:2 only. */
    pci_host_conf_addr_write(h, 0x7f000003);
    g_assert_cmphex(pci_host_conf_addr_read(h), ==, 0x00000000);
    g_assert_cmphex(pci_host_conf_data_read(h, 0, 4), ==, 0xffffffff);
    /* Memory BAR in the 32-bit window, I/O BAR in the I/O window. */
    g_assert_cmphex(conf_read(h, 1, PCI_BASE_ADDRESS_0, 4), ==, 0x40000000);
    g_assert_cmphex(conf_read(h, 1, PCI_BASE_ADDRESS_1, 4), ==, IO_BASE | 1);
    g_assert_cmphex(conf_read(h, 1, PCI_COMMAND, 2), ==,
                    PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    g_assert_cmphex(conf_read(h, 1, PCI_INTERRUPT_LINE, 1), ==, 33);
    g_assert_cmpuint(pci_host_pio_rw(h, IO_BASE + 2, buf, 2, false), ==, 2);
    g_assert_cmphex(buf[0], ==, 0x12);
    /* An I/O BAR is not in memory space, and v.v. */
    g_assert_cmpuint(pci_host_mmio_rw(h, IO_BASE, buf, 1, false), ==, 0);
    g_assert_cmpuint(pci_host_pio_rw(h, 0x40000000 & 0xffff, buf, 1, false), ==,
                     0);
    /* Sized exactly: 16 bytes read back 0xfffffff1. */
    conf_write(h, 1, PCI_BASE_ADDRESS_1, 0xffffffff, 4);
    g_assert_cmphex(conf_read(h, 1, PCI_BASE_ADDRESS_1, 4), ==, 0xfffffff1);
    g_assert_cmpuint(pci_host_pio_rw(h, IO_BASE, buf, 1, false), ==, 0);
    conf_write(h, 1, PCI_BASE_ADDRESS_1, 0x3000, 4);
    g_assert_cmpuint(pci_host_pio_rw(h, 0x300f, buf, 4, false), ==, 1);
    g_assert_cmphex(buf[0], ==, 0x1f);
    /* I/O Space off. */
    conf_write(h, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    g_assert_cmpuint(pci_host_pio_rw(h, 0x3000, buf, 1, false), ==, 0);
    g_assert_cmpuint(sink.writes, ==, 0);
    pci_host_free(h);
}

/* Slots 1 and 5 share an interrupt: the line is the OR of both. */
static void test_pci_intx_shared_and_disable(void)
{
    Sink sink = {0};
    PCIHost *h = pci_host_new(&test_cfg, &sink_ops, &sink);
    PCIDevice *a = dummy_new(h, "a", 1), *b = dummy_new(h, "b", 5);
    uint16_t cmd;

    pci_host_firmware_init(h);
    g_assert_cmpint(pci_intx_irq(a), ==, 33);
    g_assert_cmpint(pci_intx_irq(b), ==, 33);
    pci_set_irq(a, true);
    pci_set_irq(b, true);
    g_assert_true(sink.level[33]);
    pci_set_irq(a, false);
    g_assert_true(sink.level[33]);
    pci_set_irq(b, false);
    g_assert_false(sink.level[33]);
    /* INTx Disable: line down at once, up again when cleared. */
    pci_set_irq(a, true);
    cmd = conf_read(h, 1, PCI_COMMAND, 2);
    conf_write(h, 1, PCI_COMMAND, cmd | PCI_COMMAND_INTX_DISABLE, 2);
    g_assert_false(sink.level[33]);
    pci_set_irq(a, true);
    g_assert_false(sink.level[33]);
    conf_write(h, 1, PCI_COMMAND, cmd, 2);
    g_assert_true(sink.level[33]);
    /* Unplugging a device takes its level with it. */
    g_assert_true(pci_host_unplug(h, "a", NULL));
    g_assert_false(sink.level[33]);
    pci_host_free(h);
}

/* Bus Master Enable clear: MSI and MSI-X wait, then go out. */
static void test_pci_msi_bus_master(void)
{
    Sink sink = {0};
    PCIHost *h = pci_host_new(&test_cfg, &sink_ops, &sink);
    PCIDevice *d = dummy_new(h, "d", 1);
    uint16_t cmd;
    uint64_t pba;

    pci_host_firmware_init(h);
    cmd = conf_read(h, 1, PCI_COMMAND, 2);
    conf_write(h, 1, MSI_CAP + PCI_MSI_ADDRESS_LO, 0xfee00000, 4);
    conf_write(h, 1, MSI_CAP + PCI_MSI_DATA_64, 0x41, 2);
    conf_write(h, 1, MSI_CAP + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE, 2);
    msi_notify(d, 0);
    g_assert_cmpuint(sink.writes, ==, 1);
    conf_write(h, 1, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER, 2);
    msi_notify(d, 0);
    g_assert_cmpuint(sink.writes, ==, 1);
    conf_write(h, 1, PCI_COMMAND, cmd, 2);
    g_assert_cmpuint(sink.writes, ==, 2);
    g_assert_cmphex(sink.last_data, ==, 0x41);
    /* MSI-X: the PBA bit is set while Bus Master is clear. */
    conf_write(h, 1, MSI_CAP + PCI_MSI_FLAGS, 0, 2);
    conf_write(h, 1, MSIX_CAP + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
    d->msix.table[PCI_MSIX_ENTRY_VECTOR_CTRL] = 0; /* entry 0 unmasked */
    memcpy(d->msix.table + PCI_MSIX_ENTRY_DATA, &(uint32_t){0x77}, 4);
    conf_write(h, 1, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER, 2);
    msix_notify(d, 0);
    g_assert_cmpuint(sink.writes, ==, 2);
    g_assert_cmpuint(pci_host_mmio_rw(h, 0x40000c00, &pba, 8, false), ==, 8);
    g_assert_cmphex(pba, ==, 1);
    conf_write(h, 1, PCI_COMMAND, cmd, 2);
    g_assert_cmpuint(sink.writes, ==, 3);
    g_assert_cmphex(sink.last_data, ==, 0x77);
    g_assert_cmpuint(pci_host_mmio_rw(h, 0x40000c00, &pba, 8, false), ==, 8);
    g_assert_cmphex(pba, ==, 0);
    pci_host_free(h);
}

/* QEMU's layout, byte for byte; unmapped BARs; classes by name or number. */
static void test_pci_info_layout(void)
{
    Sink sink = {0};
    PCIHost *h = pci_host_new(&test_cfg, &sink_ops, &sink);
    PCIDevice *d = dummy_new(h, "nic0", 3);
    g_autoptr(GString) out = g_string_new(NULL);

    pci_set_config(d, PCI_CLASS_DEVICE, 0x0200, 2);
    pci_set_config(d, PCI_SUBSYSTEM_VENDOR_ID, 0x1af4, 2);
    pci_set_config(d, PCI_SUBSYSTEM_ID, 0x1100, 2);
    pci_host_firmware_init(h);
    pci_host_info(h, out);
    g_assert_cmpstr(out->str, ==,
                    "  Bus  0, device   0, function 0:\n"
                    "    Host bridge: PCI device 1b36:0008\n"
                    "      PCI subsystem 0000:0000\n"
                    "      id \"\"\n"
                    "  Bus  0, device   3, function 0:\n"
                    "    Ethernet controller: PCI device 1234:5678\n"
                    "      PCI subsystem 1af4:1100\n"
                    "      IRQ 35, pin A\n"
                    "      BAR0: 32 bit memory at 0x40000000 [0x40000fff]\n"
                    "      BAR1: I/O at 0x1000 [0x100f]\n"
                    "      id \"nic0\"\n");
    /* Decoding off: QEMU's "(not mapped)"; a class without a name. */
    conf_write(h, 3, PCI_COMMAND, 0, 2);
    pci_set_config(d, PCI_CLASS_DEVICE, 0x00ff, 2);
    g_string_truncate(out, 0);
    pci_host_info(h, out);
    g_assert_nonnull(strstr(out->str, "    Class 0255: PCI device 1234:5678\n"
                                      "      PCI subsystem 1af4:1100\n"
                                      "      IRQ 35, pin A\n"
                                      "      BAR0: 32 bit memory (not mapped)\n"
                                      "      BAR1: I/O (not mapped)\n"));
    g_assert_cmpstr(pci_class_desc(0x0c03), ==, "USB controller");
    g_assert_null(pci_class_desc(0x00ff));
    pci_host_free(h);
}

/* "dev<slot>", or the first "dev<slot>-<n>" no device has taken. */
static void test_pci_default_id(void)
{
    PCIHost *h = pci_host_new(&test_cfg, NULL, NULL);
    g_autofree char *first = pci_host_default_id(h, 2, NULL);
    g_autofree char *taken = NULL, *again = NULL, *later = NULL;
    const char *const reserved[] = {"dev2-2", "dev2-3", NULL};

    g_assert_cmpstr(first, ==, "dev2");
    dummy_new(h, "dev2", 1);
    taken = pci_host_default_id(h, 2, NULL);
    g_assert_cmpstr(taken, ==, "dev2-1");
    dummy_new(h, "dev2-1", 3);
    again = pci_host_default_id(h, 2, NULL);
    g_assert_cmpstr(again, ==, "dev2-2");
    /* Nor a name a device still to come asked for. */
    later = pci_host_default_id(h, 2, reserved);
    g_assert_cmpstr(later, ==, "dev2-4");
    pci_host_free(h);
}

/* A BAR that fits no window: one warning, naming the device as typed. */
static void test_pci_no_room_message(void)
{
    static const PCIHostConfig tiny = {
        .mmio32_base = 0x40000000,
        .mmio32_size = 0x800, /* BAR0 has 0x1000 bytes */
        .io_base = IO_BASE,
        .io_size = 0xf000,
        .intx_base = 32,
    };
    PCIHost *h = pci_host_new(&tiny, NULL, NULL);
    PCIDevice *d = dummy_new(h, "dev1", 1);

    d->label = "dummy,bar0=4k";
    g_test_expect_message("vfio-user-vmm", G_LOG_LEVEL_WARNING,
                          "dummy,bar0=4k: no room for BAR0 (0x1000 bytes)");
    pci_host_firmware_init(h);
    g_test_assert_expected_messages();
    pci_host_free(h);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pci/host-standalone", test_pci_host_standalone);
    g_test_add_func("/pci/intx-shared-disable",
                    test_pci_intx_shared_and_disable);
    g_test_add_func("/pci/msi-bus-master", test_pci_msi_bus_master);
    g_test_add_func("/pci/info-layout", test_pci_info_layout);
    g_test_add_func("/pci/default-id", test_pci_default_id);
    g_test_add_func("/pci/no-room-message", test_pci_no_room_message);
    return g_test_run();
}
