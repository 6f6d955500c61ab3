/*
 * qtest of the client's I/O under load with the real edu server: while
 * the server streams 1 MiB message-mode DMA transfers (anonymous guest
 * RAM, so DMA_WRITE / DMA_READ messages, 32 MiB per device in all), the
 * guest writes 768 KiB at a time into the device's message-served BAR,
 * far more than the socket takes at once.  Every transfer and every write
 * must complete with the right data and the device must not fail; the
 * same with data going both ways and with two devices at once.
 *
 * The old client wrote whole messages with a blocking sendmsg() under a
 * lock its receive thread needed for DMA replies, so the BAR write and
 * the DMA stream stalled each other until x-msg-timeout failed the
 * device.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "libqtest.h"
#include "edu-machine.h"

#define MIB (1024 * 1024)
#define ROUNDS 32
#define WINDOW (EDU_BAR0_SIZE - EDU_BUF) /* BAR0 part that is the buffer */
#define DST_BASE (16 * MIB)
#define SRC_BASE (8 * MIB)

typedef struct Dev {
    uint64_t bar0;
    uint64_t dst; /* this device's DMA destinations in guest RAM */
} Dev;

/* Start one transfer (posted writes: the VMM does not wait for it). */
static void dma_start(QTestState *qts, const Dev *d, uint64_t src, uint64_t dst,
                      uint32_t cmd)
{
    qtest_writeq(qts, d->bar0 + 0x80, src);
    qtest_writeq(qts, d->bar0 + 0x88, dst);
    qtest_writeq(qts, d->bar0 + 0x90, MIB);
    qtest_writel(qts, d->bar0 + 0x98, cmd);
}

/* Every byte of [addr, addr + len) of guest RAM is @val. */
static void assert_ram(QTestState *qts, uint64_t addr, size_t len, uint8_t val)
{
    g_autofree uint8_t *got = g_malloc(len);

    qtest_memread(qts, addr, got, len);
    for (size_t i = 0; i < len; i++) {
        if (got[i] != val) {
            g_error("guest RAM at 0x%" G_GINT64_MODIFIER
                    "x: 0x%02x, expected 0x%02x",
                    addr + i, got[i], val);
        }
    }
}

/*
 * @n devices; round k: a 1 MiB transfer device -> RAM (and, with @both,
 * RAM -> device first), then at once a 768 KiB write of the value k + 1
 * into the buffer through BAR0.  The server runs each transfer before it
 * reads the write that follows it, so transfer k carries the value of
 * write k - 1 (0xa0 for the first).
 */
static void run_load(QTestState *qts, Dev *devs, int n, bool both)
{
    g_autofree char *info = NULL;

    qtest_memset(qts, SRC_BASE, 0x5c, MIB);
    for (int i = 0; i < n; i++) {
        qtest_memset(qts, devs[i].bar0 + EDU_BUF, 0xa0, WINDOW);
    }
    for (int k = 0; k < ROUNDS; k++) {
        for (int i = 0; i < n; i++) {
            if (both) {
                /* RAM -> the buffer's top 256 KiB (and beyond the BAR) */
                qtest_writeq(qts, devs[i].bar0 + 0x80, SRC_BASE);
                qtest_writeq(qts, devs[i].bar0 + 0x88, EDU_BUF + WINDOW);
                qtest_writeq(qts, devs[i].bar0 + 0x90, MIB - WINDOW);
                qtest_writel(qts, devs[i].bar0 + 0x98, 0x1);
            }
            dma_start(qts, &devs[i], EDU_BUF, devs[i].dst + k * MIB, 0x3);
            qtest_memset(qts, devs[i].bar0 + EDU_BUF, k + 1, WINDOW);
        }
        /*
         * One round trip per device and round: the server queues what
         * arrives while it waits for a DMA reply only up to twice its
         * largest message, so the guest must not run further ahead.
         */
        for (int i = 0; i < n; i++) {
            g_assert_cmphex(qtest_readl(qts, devs[i].bar0), ==, EDU_ID);
        }
    }
    for (int i = 0; i < n; i++) {
        /* A read after the posted writes: everything before it is done. */
        g_assert_cmphex(qtest_readl(qts, devs[i].bar0 + 0x98) & 0x80000001u, ==,
                        0);
        for (int k = 0; k < ROUNDS; k++) {
            uint64_t dst = devs[i].dst + k * MIB;
            uint8_t want = k ? k : 0xa0;

            /* All of a few transfers, the edges of the others. */
            assert_ram(qts, dst, k % 8 ? 4096 : WINDOW, want);
            assert_ram(qts, dst + WINDOW - 4096, 4096, want);
            if (both || k % 8 == 0) {
                assert_ram(qts, dst + WINDOW, both ? MIB - WINDOW : 4096,
                           both ? 0x5c : 0);
            }
        }
    }
    info = qtest_hmp(qts, "info vfio-user");
    g_assert_null(strstr(info, "failed"));
    g_assert_null(strstr(info, "timeouts 1"));
}

static void test_load_one(gconstpointer both)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    EduMachine *m = edu_machine_start_sized(srv, "ram", "message", NULL, 64);
    Dev d = {.bar0 = m->bar0, .dst = DST_BASE};

    run_load(m->qts, &d, 1, both != NULL);
    edu_machine_stop(m);
    qtest_server_free(srv);
}

static void test_load_two(void)
{
    QTestServer *srv1 = qtest_server_start("edu", NULL);
    QTestServer *srv2 = qtest_server_start("edu", NULL);
    QTestState *qts;
    Dev d[2];

    qts = qtest_init(
        "-m 96M -object memory-backend-ram,id=ram0,size=96M -machine memory-backend=ram0 -device vfio-user-pci,socket=%s,id=a -device vfio-user-pci,socket=%s,id=b",
        qtest_server_socket(srv1), qtest_server_socket(srv2));
    for (int i = 0; i < 2; i++) {
        d[i].bar0 = qpci_bar_addr(qts, 1 + i, 0, NULL);
        d[i].dst = DST_BASE + (uint64_t)i * ROUNDS * MIB;
        g_assert_cmphex(qtest_readl(qts, d[i].bar0), ==, EDU_ID);
    }
    run_load(qts, d, 2, true);
    qtest_quit(qts);
    qtest_server_free(srv1);
    qtest_server_free(srv2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/io-load/dma-write-vs-bar-write", NULL,
                         test_load_one);
    g_test_add_data_func("/io-load/both-directions", "", test_load_one);
    g_test_add_func("/io-load/two-devices", test_load_two);
    return g_test_run();
}
