/*
 * Qtest support: edu machine start-up and the per-feature checks.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <linux/pci_regs.h>
#include "edu-machine.h"
#include "system/machine.h"

#define EDU_FILE_OFFSET (2 * 1024 * 1024)

static char *edu_backend_object(EduMachine *m, const char *backend, unsigned mb)
{
    if (!strcmp(backend, "memfd")) {
        return g_strdup_printf("memory-backend-memfd,id=ram0,size=%uM", mb);
    }
    if (!strcmp(backend, "ram")) {
        return g_strdup_printf("memory-backend-ram,id=ram0,size=%uM", mb);
    }
    m->dir = qtest_make_tmpdir();
    if (!strcmp(backend, "file-private")) {
        /* share=off (the default): the file does not hold guest RAM */
        return g_strdup_printf(
            "memory-backend-file,id=ram0,size=%uM,mem-path=%s/guest-ram,offset=4096",
            mb, m->dir);
    }
    g_assert_cmpstr(backend, ==, "file");
    return g_strdup_printf(
        "memory-backend-file,id=ram0,size=%uM,mem-path=%s/guest-ram,offset=%u,share=on",
        mb, m->dir, EDU_FILE_OFFSET);
}

EduMachine *edu_machine_start(QTestServer *srv, const char *backend,
                              const char *access, const char *extra)
{
    return edu_machine_start_sized(srv, backend, access, extra,
                                   EDU_DEFAULT_RAM_MB);
}

EduMachine *edu_machine_start_sized(QTestServer *srv, const char *backend,
                                    const char *access, const char *extra,
                                    unsigned ram_mb)
{
    EduMachine *m = g_new0(EduMachine, 1);
    g_autofree char *obj = edu_backend_object(m, backend, ram_mb);
    uint64_t size = 0;
    uint16_t cmd;

    m->qts = qtest_init(
        "-m %uM -object %s -machine memory-backend=ram0 -device vfio-user-pci,socket=%s,id=edu0,dma-access=%s%s%s",
        ram_mb, obj, qtest_server_socket(srv), access, extra ? "," : "",
        extra ? extra : "");
    g_assert_cmphex(qpci_config_readw(m->qts, EDU_SLOT, PCI_VENDOR_ID), ==,
                    0x1234);
    g_assert_cmphex(qpci_config_readw(m->qts, EDU_SLOT, PCI_DEVICE_ID), ==,
                    0x11e8);
    cmd = qpci_config_readw(m->qts, EDU_SLOT, PCI_COMMAND);
    g_assert_true(cmd & PCI_COMMAND_MEMORY);
    g_assert_true(cmd & PCI_COMMAND_MASTER);
    m->bar0 = qpci_bar_addr(m->qts, EDU_SLOT, 0, &size);
    g_assert_cmphex(size, ==, EDU_BAR0_SIZE);
    g_assert_cmphex(m->bar0, >=, VMM_MMIO32_BASE);
    g_assert_cmphex(m->bar0 + size, <=, VMM_MMIO32_BASE + VMM_MMIO32_SIZE);
    g_assert_cmphex(m->bar0 & (size - 1), ==, 0);
    return m;
}

void edu_machine_stop(EduMachine *m)
{
    qtest_quit(m->qts);
    qtest_cleanup_tmpdir(m->dir);
    g_free(m);
}

void edu_check_identity(EduMachine *m)
{
    g_assert_cmphex(qtest_readl(m->qts, m->bar0), ==, EDU_ID);
}

void edu_check_registers(EduMachine *m)
{
    QTestState *qts = m->qts;

    qtest_writel(qts, m->bar0 + 0x04, 0x12345678);
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x04), ==, ~0x12345678u);
    qtest_writel(qts, m->bar0 + 0x04, 0);
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x04), ==, 0xffffffff);

    qtest_writel(qts, m->bar0 + 0x08, 10);
    g_assert_cmpuint(qtest_readl(qts, m->bar0 + 0x08), ==, 3628800);
    qtest_writel(qts, m->bar0 + 0x08, 12);
    g_assert_cmpuint(qtest_readl(qts, m->bar0 + 0x08), ==, 479001600);
    /* computing bit never set: the factorial is done by the write */
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x20) & 1, ==, 0);
    /* 8-byte access to a DMA register */
    qtest_writeq(qts, m->bar0 + 0x80, 0x1122334455667788ULL);
    g_assert_cmphex(qtest_readq(qts, m->bar0 + 0x80), ==,
                    0x1122334455667788ULL);
}

bool edu_dma_try(EduMachine *m, uint64_t src, uint64_t dst, uint64_t len,
                 uint32_t cmd)
{
    QTestState *qts = m->qts;
    uint32_t after;

    qtest_writeq(qts, m->bar0 + 0x80, src);
    qtest_writeq(qts, m->bar0 + 0x88, dst);
    qtest_writeq(qts, m->bar0 + 0x90, len);
    qtest_writel(qts, m->bar0 + 0x98, cmd);
    after = qtest_readl(qts, m->bar0 + 0x98);
    g_assert_cmphex(after & 1, ==, 0); /* finished */
    return !(after & 0x80000000u);     /* error bit */
}

/* Program and run one transfer that must succeed. */
static void edu_dma_run(EduMachine *m, uint64_t src, uint64_t dst, uint64_t len,
                        uint32_t cmd)
{
    g_assert_true(edu_dma_try(m, src, dst, len, cmd));
}

void edu_check_dma(EduMachine *m, size_t len, uint64_t src, uint64_t dst)
{
    QTestState *qts = m->qts;
    g_autofree uint32_t *pattern = g_new(uint32_t, len / 4);
    g_autofree uint8_t *back = g_malloc(len);
    size_t window = MIN(len, (size_t)EDU_BAR0_SIZE - EDU_BUF);

    g_assert_cmpuint(len % 4, ==, 0);
    for (size_t i = 0; i < len / 4; i++) {
        pattern[i] = g_test_rand_int();
    }
    qtest_memwrite(qts, src, pattern, len);

    /* RAM -> device, then look at the buffer through BAR0 */
    edu_dma_run(m, src, EDU_BUF, len, 0x1);
    qtest_memread(qts, m->bar0 + EDU_BUF, back, window);
    g_assert_cmpmem(back, window, pattern, window);

    /* device -> RAM at another address */
    qtest_memset(qts, dst, 0x5a, len);
    edu_dma_run(m, EDU_BUF, dst, len, 0x1 | 0x2);
    qtest_memread(qts, dst, back, len);
    g_assert_cmpmem(back, len, pattern, len);
}

void edu_check_big_memory(EduMachine *m, uint64_t addr, size_t len)
{
    g_autofree uint8_t *pattern = g_malloc(len);
    g_autofree uint8_t *back = g_malloc0(len);

    for (size_t i = 0; i < len; i++) {
        pattern[i] = (i * 7 + (i >> 12)) & 0xff;
    }
    qtest_memwrite(m->qts, addr, pattern, len);
    qtest_memread(m->qts, addr, back, len);
    g_assert_cmpmem(back, len, pattern, len);
    /* the device reads what qtest wrote, at the far end too */
    edu_check_dma(m, EDU_BUF_SIZE, addr + len - EDU_BUF_SIZE, addr);
}

static int edu_intx_irq(EduMachine *m)
{
    uint8_t pin = qpci_config_readb(m->qts, EDU_SLOT, PCI_INTERRUPT_PIN);
    uint8_t line = qpci_config_readb(m->qts, EDU_SLOT, PCI_INTERRUPT_LINE);

    g_assert_cmpuint(pin, ==, 1);
    g_assert_cmpuint(line, ==, VMM_INTX_BASE + (EDU_SLOT + pin - 1) % 4);
    return line;
}

void edu_check_intx(EduMachine *m)
{
    QTestState *qts = m->qts;
    int irq = edu_intx_irq(m);
    unsigned seen = qtest_irq_raised(qts, irq);

    /* software-raised interrupt */
    qtest_writel(qts, m->bar0 + 0x60, 0x40);
    g_assert_true(qtest_wait_irq_raise(qts, irq, seen, qtest_timeout_ms()));
    g_assert_true(qtest_irq_level(qts, irq));
    /*
     * INTx is a level: an unrelated access while the status still says
     * pending keeps the line up (no lower, no second raise), and so does
     * reading the status; acknowledging it brings the line down.
     */
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x00), ==, EDU_ID);
    g_assert_true(qtest_irq_level(qts, irq));
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x24), ==, 0x40);
    g_assert_true(qtest_irq_level(qts, irq));
    g_assert_cmpuint(qtest_irq_raised(qts, irq), ==, seen + 1);
    g_assert_cmphex(qpci_config_readw(qts, EDU_SLOT, 0x06) & 0x08, ==, 0x08);
    qtest_writel(qts, m->bar0 + 0x64, 0x40);
    g_assert_false(qtest_irq_level(qts, irq));
    g_assert_cmphex(qpci_config_readw(qts, EDU_SLOT, 0x06) & 0x08, ==, 0);
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x24), ==, 0);
    g_assert_cmpuint(qtest_irq_raised(qts, irq), ==, seen + 1);

    /* DMA completion interrupt */
    seen = qtest_irq_raised(qts, irq);
    qtest_memset(qts, 0x2000, 0xa5, 64);
    edu_dma_run(m, 0x2000, EDU_BUF, 64, 0x1 | 0x4);
    g_assert_true(qtest_wait_irq_raise(qts, irq, seen, qtest_timeout_ms()));
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x24), ==, 0x100);
    g_assert_true(qtest_irq_level(qts, irq));
    qtest_writel(qts, m->bar0 + 0x64, 0x100);
    g_assert_false(qtest_irq_level(qts, irq));
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x24), ==, 0);
}

void edu_check_msi(EduMachine *m)
{
    QTestState *qts = m->qts;
    int irq = edu_intx_irq(m);
    unsigned intx_seen;
    uint64_t addr = 0;
    uint32_t data = 0;

    qpci_msi_enable(qts, EDU_SLOT, EDU_MSI_ADDR, 0x4b);
    intx_seen = qtest_irq_raised(qts, irq);
    qtest_memset(qts, 0x3000, 0x3c, 128);
    edu_dma_run(m, 0x3000, EDU_BUF, 128, 0x1 | 0x4);
    g_assert_true(qtest_wait_msi(qts, &addr, &data, qtest_timeout_ms()));
    g_assert_cmphex(addr, ==, EDU_MSI_ADDR);
    g_assert_cmphex(data, ==, 0x4b);
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x24), ==, 0x100);
    qtest_writel(qts, m->bar0 + 0x64, 0x100);

    /* a second one, raised by software, with other data */
    qpci_msi_enable(qts, EDU_SLOT, EDU_MSI_ADDR + 0x10, 0x77);
    qtest_writel(qts, m->bar0 + 0x60, 0x2);
    g_assert_true(qtest_wait_msi(qts, &addr, &data, qtest_timeout_ms()));
    g_assert_cmphex(addr, ==, EDU_MSI_ADDR + 0x10);
    g_assert_cmphex(data, ==, 0x77);
    qtest_writel(qts, m->bar0 + 0x64, 0x2);
    g_assert_cmpuint(qtest_irq_raised(qts, irq), ==, intx_seen);
    qpci_msi_disable(qts, EDU_SLOT);
}

char *edu_info_map_line(QTestState *qts, const char *name)
{
    return edu_info_map_line_at(qts, name, 0);
}

char *edu_info_map_line_at(QTestState *qts, const char *name, uint64_t iova)
{
    g_autofree char *info = qtest_hmp(qts, "info vfio-user");
    g_auto(GStrv) lines = g_strsplit(info, "\n", -1);
    g_autofree char *key =
        g_strdup_printf("%s: iova 0x%" PRIx64 " ", name, iova);

    for (int i = 0; lines[i]; i++) {
        if (strstr(lines[i], key)) {
            return g_strdup(g_strstrip(lines[i]));
        }
    }
    g_printerr("info vfio-user:\n%s\n", info);
    g_assert_not_reached();
}

void edu_assert_map_mode(const char *line, const char *mode, bool proc_self_mem)
{
    g_autofree char *want = g_strdup_printf(" mode %s ", mode);

    if (!strstr(line, want)) {
        g_printerr("map line '%s' lacks '%s'\n", line, want);
    }
    g_assert_nonnull(strstr(line, want));
    g_assert_cmpint(strstr(line, "/proc/self/mem") != NULL, ==, proc_self_mem);
}

void edu_info_message_bytes(QTestState *qts, uint64_t *rd, uint64_t *wr)
{
    g_autofree char *info = qtest_hmp(qts, "info vfio-user");
    const char *p = strstr(info, "dma bytes: message read ");

    g_assert_nonnull(p);
    g_assert_cmpint(
        sscanf(p, "dma bytes: message read %" SCNu64 " written %" SCNu64, rd,
               wr),
        ==, 2);
}
