/*
 * qtest of the command register's Bus Master Enable with the sample edu
 * server: with it clear, the client serves no DMA_READ/DMA_WRITE of the
 * server (edu sees its transfer fail, `info vfio-user` counts the
 * refusals) and MSIs wait until it is set again.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <linux/pci_regs.h>
#include "libqtest.h"
#include "edu-machine.h"

static void set_master(QTestState *qts, bool on)
{
    uint16_t cmd = qpci_config_readw(qts, EDU_SLOT, PCI_COMMAND);

    cmd = on ? cmd | PCI_COMMAND_MASTER : cmd & ~PCI_COMMAND_MASTER;
    qpci_config_writew(qts, EDU_SLOT, PCI_COMMAND, cmd);
}

static void test_bus_master_dma(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    EduMachine *m = edu_machine_start(srv, "ram", "message", NULL);
    g_autofree char *info = NULL;

    set_master(m->qts, false);
    qtest_memset(m->qts, 0x2000, 0x5a, 64);
    g_assert_false(edu_dma_try(m, 0x2000, EDU_BUF, 64, 0x1));
    g_assert_false(edu_dma_try(m, EDU_BUF, 0x3000, 64, 0x1 | 0x2));
    info = qtest_hmp(m->qts, "info vfio-user");
    g_assert_nonnull(strstr(info, "rejected 2 (bus master off 2)"));
    g_assert_cmphex(qtest_readb(m->qts, 0x3000), ==, 0);
    set_master(m->qts, true);
    g_assert_true(edu_dma_try(m, 0x2000, EDU_BUF, 64, 0x1));
    g_assert_true(edu_dma_try(m, EDU_BUF, 0x3000, 64, 0x1 | 0x2));
    g_assert_cmphex(qtest_readb(m->qts, 0x3000 + 63), ==, 0x5a);
    edu_machine_stop(m);
    qtest_server_free(srv);
}

/* An MSI raised with Bus Master clear goes out once it is set. */
static void test_bus_master_msi(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    EduMachine *m = edu_machine_start(srv, "memfd", "auto", NULL);
    uint64_t addr = 0;
    uint32_t data = 0;

    qpci_msi_enable(m->qts, EDU_SLOT, EDU_MSI_ADDR, 0x61);
    set_master(m->qts, false);
    qtest_writel(m->qts, m->bar0 + 0x60, 0x1);
    g_assert_cmphex(qtest_readl(m->qts, m->bar0 + 0x24), ==, 0x1);
    set_master(m->qts, true);
    g_assert_true(qtest_wait_msi(m->qts, &addr, &data, qtest_timeout_ms()));
    g_assert_cmphex(addr, ==, EDU_MSI_ADDR);
    g_assert_cmphex(data, ==, 0x61);
    edu_machine_stop(m);
    qtest_server_free(srv);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pci-command/bus-master/dma", test_bus_master_dma);
    g_test_add_func("/pci-command/bus-master/msi", test_bus_master_msi);
    return g_test_run();
}
