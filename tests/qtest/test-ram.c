/*
 * qtest of vfio-user-pci with the sample ram server: BAR0 is 1 MiB of
 * memory shared as two sparse mmap areas around a 4 KiB hole that only
 * region messages reach.  Checks that both paths see the same bytes, that
 * accesses crossing the area/hole boundaries and very large accesses are
 * split correctly, that mmapped accesses cost no message, plus BAR2's
 * message-only registers, the doorbell interrupt and system_reset.
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

#define RAM_SLOT 1
#define RAM_BAR0_SIZE (1024 * 1024)
#define RAM_HOLE 0x80000
#define RAM_HOLE_SIZE 0x1000
#define RAM_ID 0x4e580001u

typedef struct RamMachine {
    QTestServer *srv;
    QTestState *qts;
    uint64_t bar0;
    uint64_t bar2;
} RamMachine;

static void ram_find_bars(RamMachine *m)
{
    uint64_t size0 = 0, size2 = 0;

    m->bar0 = qpci_bar_addr(m->qts, RAM_SLOT, 0, &size0);
    m->bar2 = qpci_bar_addr(m->qts, RAM_SLOT, 2, &size2);
    g_assert_cmphex(size0, ==, RAM_BAR0_SIZE);
    g_assert_cmphex(size2, ==, 4096);
    g_assert_cmphex(m->bar0 & (size0 - 1), ==, 0);
    g_assert_cmphex(m->bar0, >=, VMM_MMIO32_BASE);
    g_assert_cmphex(m->bar2, >=, VMM_MMIO32_BASE);
}

/* @opts: extra vfio-user-pci options ("" for none, else ",k=v..."). */
static RamMachine *ram_machine_start_opts(const char *opts)
{
    RamMachine *m = g_new0(RamMachine, 1);
    uint32_t bar0_reg;

    m->srv = qtest_server_start("ram", NULL);
    m->qts = qtest_init(
        "-m 32M -object memory-backend-memfd,id=ram0,size=32M -machine memory-backend=ram0 -device vfio-user-pci,socket=%s,id=ramdev%s",
        qtest_server_socket(m->srv), opts);
    g_assert_cmphex(qpci_config_readl(m->qts, RAM_SLOT, PCI_VENDOR_ID), ==,
                    0x00014e58);
    bar0_reg = qpci_config_readl(m->qts, RAM_SLOT, PCI_BASE_ADDRESS_0);
    g_assert_cmphex(bar0_reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK, ==,
                    PCI_BASE_ADDRESS_MEM_TYPE_64);
    g_assert_true(bar0_reg & PCI_BASE_ADDRESS_MEM_PREFETCH);
    ram_find_bars(m);
    g_assert_cmphex(qtest_readl(m->qts, m->bar2), ==, RAM_ID);
    return m;
}

static RamMachine *ram_machine_start(void)
{
    return ram_machine_start_opts("");
}

static void ram_machine_stop(RamMachine *m)
{
    qtest_quit(m->qts);
    qtest_server_free(m->srv);
    g_free(m);
}

/* Requests the client sent so far (posted writes not counted). */
static uint64_t ram_requests(QTestState *qts)
{
    g_autofree char *info = qtest_hmp(qts, "info vfio-user");
    const char *p = strstr(info, "messages: requests ");
    uint64_t n = 0;

    g_assert_nonnull(p);
    g_assert_cmpint(sscanf(p, "messages: requests %" SCNu64, &n), ==, 1);
    return n;
}

static uint8_t *ram_pattern(size_t len, uint32_t seed)
{
    uint8_t *p = g_malloc(len);

    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = seed >> 16;
    }
    return p;
}

/* One access of the whole BAR each way: crosses both area/hole edges. */
static void test_ram_whole_bar(void)
{
    RamMachine *m = ram_machine_start();
    g_autofree uint8_t *pat = ram_pattern(RAM_BAR0_SIZE, 1);
    g_autofree uint8_t *back = g_malloc(RAM_BAR0_SIZE);

    qtest_memwrite(m->qts, m->bar0, pat, RAM_BAR0_SIZE);
    qtest_memread(m->qts, m->bar0, back, RAM_BAR0_SIZE);
    g_assert_cmpmem(back, RAM_BAR0_SIZE, pat, RAM_BAR0_SIZE);
    /* the hole alone, through messages only */
    memset(back, 0, RAM_HOLE_SIZE);
    qtest_memread(m->qts, m->bar0 + RAM_HOLE, back, RAM_HOLE_SIZE);
    g_assert_cmpmem(back, RAM_HOLE_SIZE, pat + RAM_HOLE, RAM_HOLE_SIZE);
    /* memset through the same paths */
    qtest_memset(m->qts, m->bar0 + RAM_HOLE - 0x100, 0xe7,
                 RAM_HOLE_SIZE + 0x200);
    qtest_memread(m->qts, m->bar0 + RAM_HOLE - 0x200, back,
                  RAM_HOLE_SIZE + 0x400);
    g_assert_cmpmem(back, 0x100, pat + RAM_HOLE - 0x200, 0x100);
    for (size_t i = 0x100; i < RAM_HOLE_SIZE + 0x300; i++) {
        g_assert_cmphex(back[i], ==, 0xe7);
    }
    g_assert_cmpmem(back + RAM_HOLE_SIZE + 0x300, 0x100,
                    pat + RAM_HOLE + RAM_HOLE_SIZE + 0x100, 0x100);
    ram_machine_stop(m);
}

/*
 * Accesses of every width at every offset around the area/hole edges
 * (without posted writes: this is about splitting, not ordering).
 */
static void test_ram_edges(void)
{
    RamMachine *m = ram_machine_start_opts(",x-no-posted-writes=on");
    QTestState *qts = m->qts;
    static const uint64_t edges[] = {
        RAM_HOLE,
        RAM_HOLE + RAM_HOLE_SIZE,
        RAM_BAR0_SIZE - 8,
        0,
    };

    for (size_t e = 0; e < G_N_ELEMENTS(edges); e++) {
        uint64_t lo = edges[e] >= 16 ? edges[e] - 16 : 0;
        uint64_t hi = MIN(edges[e] + 16, (uint64_t)RAM_BAR0_SIZE);
        g_autofree uint8_t *pat = ram_pattern(hi - lo, e + 7);

        qtest_memwrite(qts, m->bar0 + lo, pat, hi - lo);
        for (uint64_t off = lo; off + 8 <= hi; off++) {
            uint64_t want8, want4 = 0, want2 = 0, want1 = pat[off - lo];

            memcpy(&want8, pat + (off - lo), 8);
            memcpy(&want4, pat + (off - lo), 4);
            memcpy(&want2, pat + (off - lo), 2);
            g_assert_cmphex(qtest_readb(qts, m->bar0 + off), ==, want1);
            g_assert_cmphex(qtest_readw(qts, m->bar0 + off), ==, want2);
            g_assert_cmphex(qtest_readl(qts, m->bar0 + off), ==, want4);
            g_assert_cmphex(qtest_readq(qts, m->bar0 + off), ==, want8);
        }
        /* an 8-byte write straddling the edge, read back bytewise */
        if (edges[e] >= 4 && edges[e] + 4 <= RAM_BAR0_SIZE) {
            qtest_writeq(qts, m->bar0 + edges[e] - 4, 0x0102030405060708ULL);
            for (int i = 0; i < 8; i++) {
                g_assert_cmphex(qtest_readb(qts, m->bar0 + edges[e] - 4 + i),
                                ==, 8 - i);
            }
        }
    }
    ram_machine_stop(m);
}

/*
 * A read must not pass an earlier write (PCI ordering): a write that
 * touches the hole may be posted as a message, and a later read of the
 * same bytes through the mmapped area must still see it.
 */
static void test_ram_posted_write_order(void)
{
    RamMachine *m = ram_machine_start();
    const size_t len = 2 * RAM_HOLE_SIZE;
    const uint64_t start = RAM_HOLE - RAM_HOLE_SIZE; /* mmapped part */

    for (uint32_t round = 0; round < 50; round++) {
        g_autofree uint8_t *pat = ram_pattern(len, round + 100);
        uint32_t want;

        qtest_memwrite(m->qts, m->bar0 + start, pat, len);
        memcpy(&want, pat, 4);
        g_assert_cmphex(qtest_readl(m->qts, m->bar0 + start), ==, want);
    }
    ram_machine_stop(m);
}

/*
 * mmapped areas cost no message, except one round trip (the ordering
 * fence) for the first access after a posted write; the hole costs one
 * message per access.
 */
static void test_ram_paths(void)
{
    RamMachine *m = ram_machine_start();
    QTestState *qts = m->qts;
    uint64_t r0, r1, r2;

    qtest_writel(qts, m->bar0 + 0x100, 0xa1b2c3d4);
    qtest_writel(qts, m->bar0 + RAM_HOLE + 0x100, 0x11223344);
    r0 = ram_requests(qts);
    for (int i = 0; i < 10; i++) {
        g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x100), ==, 0xa1b2c3d4);
    }
    r1 = ram_requests(qts);
    g_assert_cmpuint(r1, ==, r0 + 1); /* the fence after the posted write */
    for (int i = 0; i < 10; i++) {
        g_assert_cmphex(qtest_readl(qts, m->bar0 + RAM_HOLE + 0x100), ==,
                        0x11223344);
    }
    r2 = ram_requests(qts);
    g_assert_cmpuint(r2 - r1, >=, 10);
    ram_machine_stop(m);
}

/* BAR2: registers served by the server on every access. */
static void test_ram_registers(void)
{
    RamMachine *m = ram_machine_start();
    QTestState *qts = m->qts;
    uint32_t c0;

    g_assert_cmphex(qtest_readl(qts, m->bar2 + 0x0c), ==, RAM_BAR0_SIZE);
    qtest_writel(qts, m->bar2 + 0x04, 0xdeadbeef);
    g_assert_cmphex(qtest_readl(qts, m->bar2 + 0x04), ==, 0xdeadbeef);
    qtest_writel(qts, m->bar2 + 0x08, 100);
    c0 = qtest_readl(qts, m->bar2 + 0x08);
    g_assert_cmpuint(c0, ==, 100);
    g_assert_cmpuint(qtest_readl(qts, m->bar2 + 0x08), ==, 101);
    /* a 2-byte access is refused by the device: all-ones */
    g_assert_cmphex(qtest_readw(qts, m->bar2 + 0x04), ==, 0xffff);
    ram_machine_stop(m);
}

/* Doorbell: INTx first, then MSI once enabled. */
static void test_ram_doorbell(void)
{
    RamMachine *m = ram_machine_start();
    QTestState *qts = m->qts;
    int irq = qpci_config_readb(qts, RAM_SLOT, PCI_INTERRUPT_LINE);
    unsigned seen = qtest_irq_raised(qts, irq);
    uint64_t addr;
    uint32_t data;

    g_assert_cmpint(irq, ==, VMM_INTX_BASE + RAM_SLOT % 4);
    qtest_writel(qts, m->bar2 + 0x10, 1);
    g_assert_true(qtest_wait_irq_raise(qts, irq, seen, qtest_timeout_ms()));
    qpci_msi_enable(qts, RAM_SLOT, VMM_MSI_BASE + 0x2000, 0x99);
    qtest_writel(qts, m->bar2 + 0x10, 1);
    g_assert_true(qtest_wait_msi(qts, &addr, &data, qtest_timeout_ms()));
    g_assert_cmphex(addr, ==, VMM_MSI_BASE + 0x2000);
    g_assert_cmphex(data, ==, 0x99);
    ram_machine_stop(m);
}

/* system_reset clears the registers but BAR0 memory keeps its bytes. */
static void test_ram_reset(void)
{
    RamMachine *m = ram_machine_start();
    QTestState *qts = m->qts;

    qtest_writel(qts, m->bar2 + 0x04, 0x5555aaaa);
    qtest_writel(qts, m->bar0 + 0x40, 0x600dda7a);
    qtest_writel(qts, m->bar0 + RAM_HOLE, 0x0b0e0f0a);
    g_free(qtest_hmp(qts, "system_reset"));
    ram_find_bars(m);
    g_assert_cmphex(qtest_readl(qts, m->bar2 + 0x04), ==, 0);
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x40), ==, 0x600dda7a);
    g_assert_cmphex(qtest_readl(qts, m->bar0 + RAM_HOLE), ==, 0x0b0e0f0a);
    ram_machine_stop(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ram/whole-bar", test_ram_whole_bar);
    g_test_add_func("/ram/edges", test_ram_edges);
    g_test_add_func("/ram/posted-write-order", test_ram_posted_write_order);
    g_test_add_func("/ram/paths", test_ram_paths);
    g_test_add_func("/ram/registers", test_ram_registers);
    g_test_add_func("/ram/doorbell", test_ram_doorbell);
    g_test_add_func("/ram/reset", test_ram_reset);
    return g_test_run();
}
