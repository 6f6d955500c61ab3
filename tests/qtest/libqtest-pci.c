/*
 * libqtest: PCI helpers for bus 0 of vfio-user-vmm through its ECAM window
 * (address map in include/system/machine.h): config space access,
 * capability lookup, BAR addresses and sizes, MSI programming.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <linux/pci_regs.h>
#include "libqtest.h"
#include "system/machine.h"

uint64_t qpci_ecam_addr(int dev, int fn, uint32_t off)
{
    g_assert(dev >= 0 && dev < 32 && fn >= 0 && fn < 8 && off < 4096);
    return VMM_ECAM_BASE + ((uint64_t)dev << 15) + ((uint64_t)fn << 12) + off;
}

uint8_t qpci_config_readb(QTestState *s, int dev, uint32_t off)
{
    return qtest_readb(s, qpci_ecam_addr(dev, 0, off));
}

uint16_t qpci_config_readw(QTestState *s, int dev, uint32_t off)
{
    return qtest_readw(s, qpci_ecam_addr(dev, 0, off));
}

uint32_t qpci_config_readl(QTestState *s, int dev, uint32_t off)
{
    return qtest_readl(s, qpci_ecam_addr(dev, 0, off));
}

void qpci_config_writeb(QTestState *s, int dev, uint32_t off, uint8_t v)
{
    qtest_writeb(s, qpci_ecam_addr(dev, 0, off), v);
}

void qpci_config_writew(QTestState *s, int dev, uint32_t off, uint16_t v)
{
    qtest_writew(s, qpci_ecam_addr(dev, 0, off), v);
}

void qpci_config_writel(QTestState *s, int dev, uint32_t off, uint32_t v)
{
    qtest_writel(s, qpci_ecam_addr(dev, 0, off), v);
}

uint8_t qpci_find_capability(QTestState *s, int dev, uint8_t id)
{
    uint8_t pos;

    if (!(qpci_config_readw(s, dev, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
        return 0;
    }
    pos = qpci_config_readb(s, dev, PCI_CAPABILITY_LIST) & ~3;
    /* A list longer than what fits in config space is a loop. */
    for (int i = 0; pos >= 0x40 && i < 48; i++) {
        if (qpci_config_readb(s, dev, pos + PCI_CAP_LIST_ID) == id) {
            return pos;
        }
        pos = qpci_config_readb(s, dev, pos + PCI_CAP_LIST_NEXT) & ~3;
    }
    return 0;
}

static bool qpci_bar_is64(uint32_t reg)
{
    return !(reg & PCI_BASE_ADDRESS_SPACE_IO) &&
           (reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) ==
               PCI_BASE_ADDRESS_MEM_TYPE_64;
}

/* Size of a memory BAR by writing all-ones with decoding switched off. */
static uint64_t qpci_bar_size(QTestState *s, int dev, int bar, bool is64)
{
    uint32_t off = PCI_BASE_ADDRESS_0 + 4 * bar;
    uint16_t cmd = qpci_config_readw(s, dev, PCI_COMMAND);
    uint32_t lo = qpci_config_readl(s, dev, off);
    uint32_t hi = is64 ? qpci_config_readl(s, dev, off + 4) : 0;
    uint64_t mask;

    qpci_config_writew(s, dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
    qpci_config_writel(s, dev, off, 0xffffffff);
    mask = qpci_config_readl(s, dev, off) & PCI_BASE_ADDRESS_MEM_MASK;
    if (is64) {
        qpci_config_writel(s, dev, off + 4, 0xffffffff);
        mask |= (uint64_t)qpci_config_readl(s, dev, off + 4) << 32;
        qpci_config_writel(s, dev, off + 4, hi);
    } else {
        mask |= 0xffffffff00000000ULL;
    }
    qpci_config_writel(s, dev, off, lo);
    qpci_config_writew(s, dev, PCI_COMMAND, cmd);
    return (mask & PCI_BASE_ADDRESS_MEM_MASK) ? ~mask + 1 : 0;
}

uint64_t qpci_bar_addr(QTestState *s, int dev, int bar, uint64_t *size)
{
    uint32_t off = PCI_BASE_ADDRESS_0 + 4 * bar;
    uint32_t lo;
    uint64_t addr;
    bool is64;

    g_assert(bar >= 0 && bar < 6);
    lo = qpci_config_readl(s, dev, off);
    g_assert_false(lo & PCI_BASE_ADDRESS_SPACE_IO);
    is64 = qpci_bar_is64(lo);
    addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
    if (is64) {
        g_assert_cmpint(bar, <, 5);
        addr |= (uint64_t)qpci_config_readl(s, dev, off + 4) << 32;
    }
    if (size) {
        *size = qpci_bar_size(s, dev, bar, is64);
    }
    return addr;
}

void qpci_msi_enable(QTestState *s, int dev, uint64_t addr, uint32_t data)
{
    uint8_t cap = qpci_find_capability(s, dev, PCI_CAP_ID_MSI);
    uint16_t ctrl;
    uint32_t data_off;

    g_assert_cmpuint(cap, !=, 0);
    ctrl = qpci_config_readw(s, dev, cap + PCI_MSI_FLAGS);
    qpci_config_writel(s, dev, cap + PCI_MSI_ADDRESS_LO, (uint32_t)addr);
    if (ctrl & PCI_MSI_FLAGS_64BIT) {
        qpci_config_writel(s, dev, cap + PCI_MSI_ADDRESS_HI, addr >> 32);
        data_off = PCI_MSI_DATA_64;
    } else {
        g_assert_cmphex(addr >> 32, ==, 0);
        data_off = PCI_MSI_DATA_32;
    }
    qpci_config_writew(s, dev, cap + data_off, (uint16_t)data);
    ctrl &= ~PCI_MSI_FLAGS_QSIZE;
    qpci_config_writew(s, dev, cap + PCI_MSI_FLAGS,
                       ctrl | PCI_MSI_FLAGS_ENABLE);
    g_assert_true(qpci_config_readw(s, dev, cap + PCI_MSI_FLAGS) &
                  PCI_MSI_FLAGS_ENABLE);
}

void qpci_msi_disable(QTestState *s, int dev)
{
    uint8_t cap = qpci_find_capability(s, dev, PCI_CAP_ID_MSI);
    uint16_t ctrl;

    g_assert_cmpuint(cap, !=, 0);
    ctrl = qpci_config_readw(s, dev, cap + PCI_MSI_FLAGS);
    qpci_config_writew(s, dev, cap + PCI_MSI_FLAGS,
                       ctrl & ~PCI_MSI_FLAGS_ENABLE);
}
