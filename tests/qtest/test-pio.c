/*
 * qtest of port I/O with the sample pio server, whose only BAR is an
 * 8-byte I/O BAR: configuration mechanism #1 at 0xCF8/0xCFC, exact I/O BAR
 * sizing, firmware placement in the I/O window, inb/inw/inl/outb/outw/outl
 * dispatched to the server, reprogramming and I/O Space decoding, `info
 * pci`, and the device's INTx as a level (unrelated accesses keep it up,
 * INTx Disable and Interrupt Status), plus system_reset.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <linux/pci_regs.h>
#include "libqtest.h"
#include "system/machine.h"

#define PIO_SLOT 1
#define PIO_VENDOR_DEVICE 0x00024e58u
#define PIO_BAR_SIZE 8
#define PIO_SCRATCH 0
#define PIO_INTX 4
#define PIO_INTX_WRITES 5
#define PIO_ID 6
#define PIO_ID_VALUE 0x5049

typedef struct PioMachine {
    QTestServer *srv;
    QTestState *qts;
    uint16_t base;
    int irq;
} PioMachine;

/* Mechanism #1 address of register @reg of bus 0 device @dev. */
static uint32_t cf8(int dev, uint32_t reg)
{
    return 0x80000000u | (dev << 11) | (reg & 0xfc);
}

static uint32_t cfg_readl(QTestState *s, int dev, uint32_t reg)
{
    qtest_outl(s, 0xcf8, cf8(dev, reg));
    return qtest_inl(s, 0xcfc);
}

static uint16_t cfg_readw(QTestState *s, int dev, uint32_t reg)
{
    qtest_outl(s, 0xcf8, cf8(dev, reg));
    return qtest_inw(s, 0xcfc + (reg & 2));
}

static void cfg_writel(QTestState *s, int dev, uint32_t reg, uint32_t val)
{
    qtest_outl(s, 0xcf8, cf8(dev, reg));
    qtest_outl(s, 0xcfc, val);
}

static void cfg_writew(QTestState *s, int dev, uint32_t reg, uint16_t val)
{
    qtest_outl(s, 0xcf8, cf8(dev, reg));
    qtest_outw(s, 0xcfc + (reg & 2), val);
}

static PioMachine *pio_start(void)
{
    PioMachine *m = g_new0(PioMachine, 1);
    uint32_t bar;

    m->srv = qtest_server_start("pio", NULL);
    m->qts = qtest_init("-m 32M -device vfio-user-pci,socket=%s,id=pio0",
                        qtest_server_socket(m->srv));
    g_assert_cmphex(cfg_readl(m->qts, PIO_SLOT, PCI_VENDOR_ID), ==,
                    PIO_VENDOR_DEVICE);
    bar = cfg_readl(m->qts, PIO_SLOT, PCI_BASE_ADDRESS_0);
    g_assert_cmphex(bar & PCI_BASE_ADDRESS_SPACE, ==,
                    PCI_BASE_ADDRESS_SPACE_IO);
    m->base = bar & PCI_BASE_ADDRESS_IO_MASK;
    m->irq = qpci_config_readb(m->qts, PIO_SLOT, PCI_INTERRUPT_LINE);
    g_assert_cmpint(m->irq, ==, VMM_INTX_BASE + PIO_SLOT % 4);
    return m;
}

static void pio_stop(PioMachine *m)
{
    qtest_quit(m->qts);
    qtest_server_free(m->srv);
    g_free(m);
}

/* Config mechanism #1 beside ECAM: same registers, enable bit, latch. */
static void test_pio_config_mechanism1(void)
{
    PioMachine *m = pio_start();
    QTestState *s = m->qts;
    g_autofree char *r = NULL;

    g_assert_cmphex(cfg_readl(s, 0, PCI_VENDOR_ID), ==, 0x00081b36);
    g_assert_cmphex(cfg_readl(s, 9, PCI_VENDOR_ID), ==, 0xffffffff);
    /* The address port reads back what was latched (bits 1:0 clear). */
    qtest_outl(s, 0xcf8, cf8(PIO_SLOT, 0) | 3);
    g_assert_cmphex(qtest_inl(s, 0xcf8), ==, cf8(PIO_SLOT, 0));
    /* Byte and word accesses inside the data dword. */
    g_assert_cmphex(qtest_inb(s, 0xcfc), ==, 0x58);
    g_assert_cmphex(qtest_inb(s, 0xcfd), ==, 0x4e);
    g_assert_cmphex(qtest_inw(s, 0xcfe), ==, 0x0002);
    g_assert_cmphex(cfg_readw(s, PIO_SLOT, PCI_CLASS_DEVICE), ==, 0x0780);
    /* Same bytes as ECAM. */
    g_assert_cmphex(cfg_readl(s, PIO_SLOT, PCI_COMMAND), ==,
                    qpci_config_readl(s, PIO_SLOT, PCI_COMMAND));
    /* Enable bit clear: all-ones, writes dropped. */
    qtest_outl(s, 0xcf8, cf8(PIO_SLOT, PCI_INTERRUPT_LINE) & ~0x80000000u);
    g_assert_cmphex(qtest_inl(s, 0xcfc), ==, 0xffffffff);
    qtest_outb(s, 0xcfc, 0x55);
    g_assert_cmphex(qpci_config_readb(s, PIO_SLOT, PCI_INTERRUPT_LINE), ==,
                    m->irq);
    /* A write through the data port lands (interrupt line is R/W). */
    qtest_outl(s, 0xcf8, cf8(PIO_SLOT, PCI_INTERRUPT_LINE));
    qtest_outb(s, 0xcfc, 0x55);
    g_assert_cmphex(qpci_config_readb(s, PIO_SLOT, PCI_INTERRUPT_LINE), ==,
                    0x55);
    /* The qtest protocol as QEMU spells it. */
    r = qtest_command(s, "inb 0x80");
    g_assert_cmpstr(r, ==, "0x00ff");
    g_free(g_steal_pointer(&r));
    qtest_command_send(s, "inl 0x10000");
    r = qtest_command_recv(s);
    g_assert_cmpstr(r, ==, "FAIL port must be 0..0xffff");
    g_free(g_steal_pointer(&r));
    qtest_command_send(s, "inq 0x80");
    r = qtest_command_recv(s);
    g_assert_cmpstr(r, ==, "FAIL Unknown command 'inq'");
    pio_stop(m);
}

/* 8-byte I/O BAR: sized exactly, placed in the I/O window, I/O Space on. */
static void test_pio_bar_sizing(void)
{
    PioMachine *m = pio_start();
    QTestState *s = m->qts;
    uint16_t cmd = cfg_readw(s, PIO_SLOT, PCI_COMMAND);
    g_autofree char *info = NULL;
    g_autofree char *want = NULL;

    g_assert_cmphex(cmd & PCI_COMMAND_IO, ==, PCI_COMMAND_IO);
    g_assert_cmphex(m->base, >=, VMM_PIO_WINDOW_BASE);
    g_assert_cmphex(m->base & (PIO_BAR_SIZE - 1), ==, 0);
    cfg_writew(s, PIO_SLOT, PCI_COMMAND, cmd & ~PCI_COMMAND_IO);
    cfg_writel(s, PIO_SLOT, PCI_BASE_ADDRESS_0, 0xffffffff);
    g_assert_cmphex(cfg_readl(s, PIO_SLOT, PCI_BASE_ADDRESS_0), ==, 0xfffffff9);
    cfg_writel(s, PIO_SLOT, PCI_BASE_ADDRESS_0, m->base);
    cfg_writew(s, PIO_SLOT, PCI_COMMAND, cmd);
    g_assert_cmphex(cfg_readl(s, PIO_SLOT, PCI_BASE_ADDRESS_0), ==,
                    m->base | PCI_BASE_ADDRESS_SPACE_IO);
    /* No other BAR. */
    for (int i = 1; i < 6; i++) {
        g_assert_cmphex(cfg_readl(s, PIO_SLOT, PCI_BASE_ADDRESS_0 + 4 * i), ==,
                        0);
    }
    info = qtest_hmp(s, "info pci");
    want = g_strdup_printf("      BAR0: I/O at 0x%04x [0x%04x]\n", m->base,
                           m->base + PIO_BAR_SIZE - 1);
    g_assert_nonnull(strstr(info, want));
    pio_stop(m);
}

/* Port reads and writes reach the server; reprogramming moves the BAR. */
static void test_pio_port_io(void)
{
    PioMachine *m = pio_start();
    QTestState *s = m->qts;
    uint16_t b = m->base, nb = 0x2000;

    g_assert_cmphex(qtest_inw(s, b + PIO_ID), ==, PIO_ID_VALUE);
    qtest_outl(s, b + PIO_SCRATCH, 0x11223344);
    g_assert_cmphex(qtest_inl(s, b + PIO_SCRATCH), ==, 0x11223344);
    qtest_outb(s, b + PIO_SCRATCH + 1, 0xab);
    qtest_outw(s, b + PIO_SCRATCH + 2, 0xcdef);
    g_assert_cmphex(qtest_inl(s, b + PIO_SCRATCH), ==, 0xcdefab44);
    g_assert_cmphex(qtest_inb(s, b + PIO_SCRATCH + 3), ==, 0xcd);
    /* Past the BAR's end nothing decodes. */
    g_assert_cmphex(qtest_inb(s, b + PIO_BAR_SIZE), ==, 0xff);
    /* The guest moves the BAR. */
    cfg_writel(s, PIO_SLOT, PCI_BASE_ADDRESS_0, nb);
    g_assert_cmphex(qtest_inl(s, b + PIO_SCRATCH), ==, 0xffffffff);
    g_assert_cmphex(qtest_inl(s, nb + PIO_SCRATCH), ==, 0xcdefab44);
    /* I/O Space off: nothing decodes; on again: back. */
    cfg_writew(s, PIO_SLOT, PCI_COMMAND,
               cfg_readw(s, PIO_SLOT, PCI_COMMAND) & ~PCI_COMMAND_IO);
    g_assert_cmphex(qtest_inw(s, nb + PIO_ID), ==, 0xffff);
    qtest_outl(s, nb + PIO_SCRATCH, 0);
    cfg_writew(s, PIO_SLOT, PCI_COMMAND,
               cfg_readw(s, PIO_SLOT, PCI_COMMAND) | PCI_COMMAND_IO);
    g_assert_cmphex(qtest_inl(s, nb + PIO_SCRATCH), ==, 0xcdefab44);
    /* system_reset: placed again by firmware, registers cleared. */
    g_free(qtest_hmp(s, "system_reset"));
    g_assert_cmphex(cfg_readl(s, PIO_SLOT, PCI_BASE_ADDRESS_0), ==,
                    b | PCI_BASE_ADDRESS_SPACE_IO);
    g_assert_cmphex(qtest_inl(s, b + PIO_SCRATCH), ==, 0);
    g_assert_cmphex(qtest_inw(s, b + PIO_ID), ==, PIO_ID_VALUE);
    pio_stop(m);
}

static bool status_intx(QTestState *s)
{
    return cfg_readw(s, PIO_SLOT, PCI_STATUS) & PCI_STATUS_INTERRUPT;
}

/* Raise, unrelated accesses, still asserted: the line stays up. */
static void test_pio_intx_level(void)
{
    PioMachine *m = pio_start();
    QTestState *s = m->qts;
    unsigned seen = qtest_irq_raised(s, m->irq);

    g_assert_false(status_intx(s));
    qtest_outb(s, m->base + PIO_INTX, 1);
    g_assert_true(qtest_wait_irq_raise(s, m->irq, seen, qtest_timeout_ms()));
    for (int i = 0; i < 3; i++) {
        g_assert_cmphex(qtest_inw(s, m->base + PIO_ID), ==, PIO_ID_VALUE);
        g_assert_true(qtest_irq_level(s, m->irq));
    }
    g_assert_true(status_intx(s));
    g_assert_cmpuint(qtest_irq_raised(s, m->irq), ==, seen + 1);
    /* The write that deasserts is the end of interrupt: down at once. */
    qtest_outb(s, m->base + PIO_INTX, 0);
    g_assert_false(qtest_irq_level(s, m->irq));
    g_assert_false(status_intx(s));
    g_assert_cmphex(qtest_inb(s, m->base + PIO_INTX_WRITES), ==, 2);
    g_assert_false(qtest_irq_level(s, m->irq));
    g_assert_cmpuint(qtest_irq_raised(s, m->irq), ==, seen + 1);
    pio_stop(m);
}

/* INTx Disable gates the line; Interrupt Status still follows it. */
static void test_pio_intx_disable(void)
{
    PioMachine *m = pio_start();
    QTestState *s = m->qts;
    uint16_t cmd = cfg_readw(s, PIO_SLOT, PCI_COMMAND);
    unsigned seen = qtest_irq_raised(s, m->irq);

    qtest_outb(s, m->base + PIO_INTX, 1);
    g_assert_true(qtest_wait_irq_raise(s, m->irq, seen, qtest_timeout_ms()));
    cfg_writew(s, PIO_SLOT, PCI_COMMAND, cmd | PCI_COMMAND_INTX_DISABLE);
    g_assert_false(qtest_irq_level(s, m->irq));
    g_assert_true(status_intx(s));
    /* Cleared while still asserted: up again. */
    cfg_writew(s, PIO_SLOT, PCI_COMMAND, cmd);
    g_assert_true(qtest_irq_level(s, m->irq));
    qtest_outb(s, m->base + PIO_INTX, 0);
    g_assert_false(qtest_irq_level(s, m->irq));

    /* Asserted while disabled: nothing, then the line once enabled. */
    cfg_writew(s, PIO_SLOT, PCI_COMMAND, cmd | PCI_COMMAND_INTX_DISABLE);
    seen = qtest_irq_raised(s, m->irq);
    qtest_outb(s, m->base + PIO_INTX, 1);
    g_assert_true(status_intx(s));
    g_assert_false(qtest_irq_level(s, m->irq));
    g_assert_cmpuint(qtest_irq_raised(s, m->irq), ==, seen);
    cfg_writew(s, PIO_SLOT, PCI_COMMAND, cmd);
    g_assert_true(qtest_wait_irq_raise(s, m->irq, seen, qtest_timeout_ms()));
    g_assert_cmphex(qtest_inw(s, m->base + PIO_ID), ==, PIO_ID_VALUE);
    g_assert_true(qtest_irq_level(s, m->irq));
    pio_stop(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pio/config-mechanism-1", test_pio_config_mechanism1);
    g_test_add_func("/pio/bar-sizing", test_pio_bar_sizing);
    g_test_add_func("/pio/port-io", test_pio_port_io);
    g_test_add_func("/pio/intx-level", test_pio_intx_level);
    g_test_add_func("/pio/intx-disable", test_pio_intx_disable);
    return g_test_run();
}
