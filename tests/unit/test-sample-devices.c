/*
 * Unit tests of the sample devices (contrib/vfio-user-server): the edu
 * registers, interrupts and DMA engine in the message, mmap and file-io
 * access modes, and the ram device's sparse BAR and register bank, all
 * driven through the server library by a fake client over a socketpair.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/pci_regs.h>
#include "sample-harness.h"
#include "vfu-test.h"

#define SERVER_BIN BUILD_DIR "/contrib/vfio-user-server/vfio-user-server"

#define BAR0 VFIO_PCI_BAR0_REGION_INDEX
#define BAR2 VFIO_PCI_BAR2_REGION_INDEX
#define CFG VFIO_PCI_CONFIG_REGION_INDEX
#define RW_FLAGS (VFIO_USER_DMA_MAP_F_READ | VFIO_USER_DMA_MAP_F_WRITE)

static void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)((i * 31 + seed) ^ (i >> 8));
    }
}

/* Program and start one edu DMA; returns the command register after. */
static uint64_t edu_dma(Harness *h, uint64_t src, uint64_t dst, uint64_t count,
                        uint32_t cmd)
{
    harness_write(h, BAR0, EDU_REG_DMA_SRC, src, 8);
    harness_write(h, BAR0, EDU_REG_DMA_DST, dst, 8);
    harness_write(h, BAR0, EDU_REG_DMA_COUNT, count, 8);
    harness_write(h, BAR0, EDU_REG_DMA_CMD, cmd, 4);
    return harness_read(h, BAR0, EDU_REG_DMA_CMD, 8);
}

static void test_edu_identity(void)
{
    Harness *h = harness_new(&sample_edu_type);

    g_assert_cmphex(harness_read(h, CFG, 0, 4), ==,
                    EDU_PCI_VENDOR_ID | (EDU_PCI_DEVICE_ID << 16));
    g_assert_cmphex(harness_read(h, CFG, 8, 4), ==,
                    EDU_PCI_REVISION | (EDU_PCI_CLASS << 8));
    g_assert_cmphex(harness_read(h, CFG, 0x3d, 1), ==, 1); /* INTA */
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_ID, 4), ==, 0x010000ed);
    /* Read-only: a write changes nothing. */
    harness_write(h, BAR0, EDU_REG_ID, 0x12345678, 4);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_ID, 4), ==, 0x010000ed);
    harness_free(h);
}

static void test_edu_liveness(void)
{
    Harness *h = harness_new(&sample_edu_type);

    harness_write(h, BAR0, EDU_REG_LIVENESS, 0x12345678, 4);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_LIVENESS, 4), ==, 0xedcba987);
    harness_write(h, BAR0, EDU_REG_LIVENESS, 0, 4);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_LIVENESS, 4), ==, 0xffffffff);
    harness_free(h);
}

static void test_edu_factorial(void)
{
    static const struct {
        uint32_t n, fact;
    } cases[] = {
        {0, 1},
        {1, 1},
        {5, 120},
        {12, 479001600},
        {13, 1932053504}, /* 13! mod 2^32 */
        {33, 2147483648u},
        {34, 0},
        {0xffffffff, 0},
    };
    Harness *h = harness_new(&sample_edu_type);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        harness_write(h, BAR0, EDU_REG_FACTORIAL, cases[i].n, 4);
        g_assert_cmphex(harness_read(h, BAR0, EDU_REG_STATUS, 4) &
                            EDU_STATUS_COMPUTING,
                        ==, 0);
        g_assert_cmpuint(harness_read(h, BAR0, EDU_REG_FACTORIAL, 4), ==,
                         cases[i].fact);
    }
    /* No interrupt unless asked for. */
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_IRQ_STATUS, 4), ==, 0);
    harness_write(h, BAR0, EDU_REG_STATUS, 0xff, 4);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_STATUS, 4), ==,
                    EDU_STATUS_IRQ_FACT);
    harness_write(h, BAR0, EDU_REG_FACTORIAL, 4, 4);
    g_assert_cmpuint(harness_read(h, BAR0, EDU_REG_FACTORIAL, 4), ==, 24);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_IRQ_STATUS, 4), ==,
                    EDU_IRQ_FACT);
    harness_free(h);
}

/* QEMU's access-size rules, and our upper-half extension. */
static void test_edu_access_sizes(void)
{
    Harness *h = harness_new(&sample_edu_type);
    uint8_t buf[8];

    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_ID, 8), ==, UINT64_MAX);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_ID, 2), ==, 0xffff);
    g_assert_cmphex(harness_read(h, BAR0, 0x0c, 4), ==, 0xffffffff);
    g_assert_cmphex(harness_read(h, BAR0, 0x81, 4), ==, 0xffffffff);
    harness_write(h, BAR0, EDU_REG_LIVENESS, 1, 2); /* ignored */
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_LIVENESS, 4), ==, 0);

    harness_write(h, BAR0, EDU_REG_DMA_SRC, 0x1122334455667788ull, 8);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_DMA_SRC, 8), ==,
                    0x1122334455667788ull);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_DMA_SRC + 4, 4), ==,
                    0x11223344);
    harness_write(h, BAR0, EDU_REG_DMA_SRC, 0xaabbccdd, 4); /* zero-ext */
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_DMA_SRC, 8), ==, 0xaabbccdd);
    harness_write(h, BAR0, EDU_REG_DMA_SRC + 4, 0x1, 4);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_DMA_SRC, 8), ==,
                    0x1aabbccddull);
    /* A command write without the start bit is ignored, as in QEMU. */
    harness_write(h, BAR0, EDU_REG_DMA_CMD, EDU_DMA_CMD_IRQ, 4);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_DMA_CMD, 8), ==, 0);

    /* The DMA buffer window: any size, through BAR0. */
    memcpy(buf, "abcdefgh", 8);
    g_assert_cmpint(
        harness_region_rw(h, true, BAR0, EDU_DMA_BUF_ADDR + 3, buf, 5), ==, 0);
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(
        harness_region_rw(h, false, BAR0, EDU_DMA_BUF_ADDR + 2, buf, 7), ==, 0);
    g_assert_cmpmem(buf, 7, "\0abcde\0", 7);
    /* The end of BAR0 is the library's to check. */
    g_assert_cmpint(
        harness_region_rw(h, false, BAR0, EDU_BAR0_SIZE - 4, buf, 8), !=, 0);
    harness_free(h);
}

static void test_edu_irq(void)
{
    Harness *h = harness_new(&sample_edu_type);
    int intx = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int msi = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    g_assert_cmpint(harness_set_irq_fd(h, VFIO_PCI_INTX_IRQ_INDEX, intx), ==,
                    0);
    harness_write(h, BAR0, EDU_REG_IRQ_RAISE, 0x5, 4);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_IRQ_STATUS, 4), ==, 0x5);
    g_assert_true(harness_eventfd_fired(intx));
    harness_write(h, BAR0, EDU_REG_IRQ_STATUS, 0, 4); /* read-only */
    harness_write(h, BAR0, EDU_REG_IRQ_ACK, 0x1, 4);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_IRQ_STATUS, 4), ==, 0x4);
    harness_write(h, BAR0, EDU_REG_IRQ_ACK, 0x4, 4);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_IRQ_STATUS, 4), ==, 0);
    g_assert_false(harness_eventfd_fired(intx));

    /* With an MSI eventfd, MSI is used instead of INTx. */
    g_assert_cmpint(harness_set_irq_fd(h, VFIO_PCI_MSI_IRQ_INDEX, msi), ==, 0);
    harness_write(h, BAR0, EDU_REG_IRQ_RAISE, 0x10, 4);
    g_assert_true(harness_eventfd_fired(msi));
    g_assert_false(harness_eventfd_fired(intx));
    harness_write(h, BAR0, EDU_REG_IRQ_ACK, 0x10, 4);

    /* Factorial completion raises 0x01 when status bit 0x80 is set. */
    harness_write(h, BAR0, EDU_REG_STATUS, EDU_STATUS_IRQ_FACT, 4);
    harness_write(h, BAR0, EDU_REG_FACTORIAL, 3, 4);
    g_assert_true(harness_eventfd_fired(msi));
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_IRQ_STATUS, 4), ==,
                    EDU_IRQ_FACT);
    harness_free(h);
    close(intx);
    close(msi);
}

/* RAM -> device -> RAM round trip of @len bytes; checks data and irq. */
static void edu_round_trip(Harness *h, size_t len, int msi)
{
    uint64_t src = HARNESS_GUEST_BASE + 0x1000;
    uint64_t dst = HARNESS_GUEST_BASE + 0x1000 + 2 * EDU_DMA_BUF_SIZE;
    uint8_t *g_src = h->guest + 0x1000;
    uint8_t *g_dst = g_src + 2 * EDU_DMA_BUF_SIZE;
    uint8_t probe[64];

    fill_pattern(g_src, len, (uint32_t)len);
    memset(g_dst, 0, len);
    g_assert_cmphex(edu_dma(h, src, EDU_DMA_BUF_ADDR, len, EDU_DMA_CMD_START),
                    ==, 0);
    /* The buffer holds the data (checked through the BAR0 window). */
    g_assert_cmpint(harness_region_rw(h, false, BAR0, EDU_DMA_BUF_ADDR, probe,
                                      sizeof(probe)),
                    ==, 0);
    g_assert_cmpmem(probe, MIN(len, sizeof(probe)), g_src,
                    MIN(len, sizeof(probe)));
    g_assert_cmphex(
        edu_dma(h, EDU_DMA_BUF_ADDR, dst, len,
                EDU_DMA_CMD_START | EDU_DMA_CMD_TO_RAM | EDU_DMA_CMD_IRQ),
        ==, EDU_DMA_CMD_TO_RAM | EDU_DMA_CMD_IRQ);
    g_assert_cmpmem(g_dst, len, g_src, len);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_IRQ_STATUS, 4), ==,
                    EDU_IRQ_DMA);
    g_assert_true(harness_eventfd_fired(msi));
    harness_write(h, BAR0, EDU_REG_IRQ_ACK, EDU_IRQ_DMA, 4);
}

/* Bytes the library moved through the map at @addr, by mode. */
static VusDmaMapInfo edu_map_info(Harness *h, uint64_t addr)
{
    GArray *maps = vus_dma_get_maps(h->srv);
    VusDmaMapInfo info = {0};

    for (guint i = 0; i < maps->len; i++) {
        if (g_array_index(maps, VusDmaMapInfo, i).addr == addr) {
            info = g_array_index(maps, VusDmaMapInfo, i);
        }
    }
    g_array_unref(maps);
    g_assert_cmpuint(info.size, !=, 0);
    return info;
}

static void test_edu_dma_mode(gconstpointer data)
{
    VusDmaMode mode = GPOINTER_TO_INT(data);
    Harness *h = harness_new(&sample_edu_type);
    int msi = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    uint32_t flags = RW_FLAGS;
    static const size_t sizes[] = {1, 100, 4096, 65536 + 3, EDU_DMA_BUF_SIZE};
    uint64_t total = 0;
    VusDmaMapInfo info;

    if (mode == VUS_DMA_MODE_MMAP) {
        flags |= VFIO_USER_DMA_MAP_F_MODE_MMAP;
    } else if (mode == VUS_DMA_MODE_FILE_IO) {
        flags |= VFIO_USER_DMA_MAP_F_MODE_FILE_IO;
    }
    g_assert_cmpint(harness_dma_map(h, HARNESS_GUEST_BASE, HARNESS_GUEST_SIZE,
                                    0, flags, mode != VUS_DMA_MODE_MESSAGE),
                    ==, 0);
    g_assert_cmpint(harness_set_irq_fd(h, VFIO_PCI_MSI_IRQ_INDEX, msi), ==, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        edu_round_trip(h, sizes[i], msi);
        total += sizes[i];
    }
    info = edu_map_info(h, HARNESS_GUEST_BASE);
    g_assert_cmpint(info.mode, ==, mode);
    g_assert_cmpuint(info.bytes_read, ==, total);
    g_assert_cmpuint(info.bytes_written, ==, total);
    if (mode == VUS_DMA_MODE_MESSAGE) {
        /* One message per transfer: none exceeds max_data_xfer_size. */
        g_assert_cmpuint(h->dma_read_msgs, ==, G_N_ELEMENTS(sizes));
        g_assert_cmpuint(h->dma_write_msgs, ==, G_N_ELEMENTS(sizes));
    } else {
        g_assert_cmpuint(h->dma_read_msgs + h->dma_write_msgs, ==, 0);
    }
    harness_free(h);
    close(msi);
}

static void test_edu_dma_errors(void)
{
    Harness *h = harness_new(&sample_edu_type);
    uint64_t base = HARNESS_GUEST_BASE;
    uint64_t cmd;

    g_assert_cmpint(harness_dma_map(h, base, 0x10000, 0,
                                    RW_FLAGS | VFIO_USER_DMA_MAP_F_MODE_MMAP,
                                    true),
                    ==, 0);
    /* Unmapped guest memory: error bit, completion irq still raised. */
    cmd = edu_dma(h, base + 0x10000, EDU_DMA_BUF_ADDR, 16,
                  EDU_DMA_CMD_START | EDU_DMA_CMD_IRQ);
    g_assert_cmphex(cmd, ==, EDU_DMA_CMD_ERROR | EDU_DMA_CMD_IRQ);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_IRQ_STATUS, 4), ==,
                    EDU_IRQ_DMA);
    /* A good transfer clears the error bit. */
    g_assert_cmphex(edu_dma(h, base, EDU_DMA_BUF_ADDR, 16, EDU_DMA_CMD_START),
                    ==, 0);
    /* Outside the device buffer, in either direction, or too long. */
    g_assert_cmphex(
        edu_dma(h, base, EDU_DMA_BUF_ADDR - 1, 16, EDU_DMA_CMD_START), ==,
        EDU_DMA_CMD_ERROR);
    g_assert_cmphex(edu_dma(h, EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE - 8, base,
                            16, EDU_DMA_CMD_START | EDU_DMA_CMD_TO_RAM),
                    ==, EDU_DMA_CMD_ERROR | EDU_DMA_CMD_TO_RAM);
    g_assert_cmphex(edu_dma(h, base, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE + 1,
                            EDU_DMA_CMD_START),
                    ==, EDU_DMA_CMD_ERROR);
    g_assert_cmphex(
        edu_dma(h, base, EDU_DMA_BUF_ADDR, UINT64_MAX, EDU_DMA_CMD_START), ==,
        EDU_DMA_CMD_ERROR);
    /* The last byte of the buffer is fine. */
    g_assert_cmphex(edu_dma(h, base, EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE - 1, 1,
                            EDU_DMA_CMD_START),
                    ==, 0);
    /* A read-only map refuses device-to-RAM transfers. */
    g_assert_cmpint(harness_dma_map(h, base + 0x20000, 0x1000, 0x20000,
                                    VFIO_USER_DMA_MAP_F_READ |
                                        VFIO_USER_DMA_MAP_F_MODE_MMAP,
                                    true),
                    ==, 0);
    g_assert_cmphex(edu_dma(h, EDU_DMA_BUF_ADDR, base + 0x20000, 16,
                            EDU_DMA_CMD_START | EDU_DMA_CMD_TO_RAM),
                    ==, EDU_DMA_CMD_ERROR | EDU_DMA_CMD_TO_RAM);
    harness_free(h);
}

static void test_edu_reset(void)
{
    Harness *h = harness_new(&sample_edu_type);
    uint32_t v = 0x5a5a5a5a, out = 0;

    harness_write(h, BAR0, EDU_REG_LIVENESS, 1, 4);
    harness_write(h, BAR0, EDU_REG_FACTORIAL, 5, 4);
    harness_write(h, BAR0, EDU_REG_IRQ_RAISE, 2, 4);
    harness_write(h, BAR0, EDU_REG_DMA_COUNT, 77, 8);
    g_assert_cmpint(harness_region_rw(h, true, BAR0, EDU_DMA_BUF_ADDR, &v, 4),
                    ==, 0);
    g_assert_cmpint(harness_call(h, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0,
                                 NULL, 0, NULL, NULL, 0, NULL),
                    ==, 0);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_LIVENESS, 4), ==, 0);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_FACTORIAL, 4), ==, 0);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_IRQ_STATUS, 4), ==, 0);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_DMA_COUNT, 8), ==, 0);
    g_assert_cmpint(
        harness_region_rw(h, false, BAR0, EDU_DMA_BUF_ADDR, &out, 4), ==, 0);
    g_assert_cmphex(out, ==, 0);
    harness_free(h);
}

/* Region info of ram's BAR0: sparse areas and the memfd. */
static uint8_t *ram_map_bar0(Harness *h, void **map_base)
{
    uint8_t buf[256];
    VFIOUserRegionInfo info = {.argsz = sizeof(buf), .index = BAR0};
    VFIOUserCapSparseMmap cap;
    size_t got = 0, nfds = 0;
    int fd = -1;
    uint8_t *p;

    g_assert_cmpint(harness_call(h, VFIO_USER_DEVICE_GET_REGION_INFO, &info,
                                 sizeof(info), NULL, 0, buf, sizeof(buf), &got,
                                 &fd, 1, &nfds),
                    ==, 0);
    g_assert_cmpuint(nfds, ==, 1);
    memcpy(&info, buf, sizeof(info));
    g_assert_cmpuint(info.size, ==, RAM_BAR0_SIZE);
    g_assert_true(info.flags & VFIO_REGION_INFO_FLAG_MMAP);
    g_assert_true(info.flags & VFIO_REGION_INFO_FLAG_CAPS);
    g_assert_cmpuint(info.cap_offset + sizeof(cap) +
                         2 * sizeof(VFIOUserSparseArea),
                     <=, got);
    memcpy(&cap, buf + info.cap_offset, sizeof(cap));
    g_assert_cmpuint(cap.hdr.id, ==, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
    g_assert_cmpuint(cap.nr_areas, ==, 2);
    for (uint32_t i = 0; i < 2; i++) {
        VFIOUserSparseArea a;

        memcpy(&a, buf + info.cap_offset + sizeof(cap) + i * sizeof(a),
               sizeof(a));
        g_assert_cmpuint(a.offset, ==,
                         i ? RAM_BAR0_HOLE_OFFSET + RAM_BAR0_HOLE_SIZE : 0);
        g_assert_cmpuint(a.offset + a.size, ==,
                         i ? RAM_BAR0_SIZE : RAM_BAR0_HOLE_OFFSET);
    }
    /* Map the whole fd range, hole included, to look behind the scenes. */
    p = mmap(NULL, RAM_BAR0_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
             info.offset);
    g_assert_true(p != MAP_FAILED);
    close(fd);
    *map_base = p;
    return p;
}

static void test_ram_bar0(void)
{
    Harness *h = harness_new(&sample_ram_type);
    uint8_t in[RAM_BAR0_HOLE_SIZE + 64], out[sizeof(in)];
    uint64_t start = RAM_BAR0_HOLE_OFFSET - 32;
    void *base;
    uint8_t *mem = ram_map_bar0(h, &base);

    g_assert_cmphex(harness_read(h, CFG, 0, 4), ==,
                    RAM_PCI_VENDOR_ID | (RAM_PCI_DEVICE_ID << 16));
    g_assert_cmphex(harness_read(h, CFG, 8, 4) >> 8, ==, RAM_PCI_CLASS);
    /* Messages across the hole land in the same memory as the mmap... */
    fill_pattern(in, sizeof(in), 7);
    g_assert_cmpint(harness_region_rw(h, true, BAR0, start, in, sizeof(in)), ==,
                    0);
    g_assert_cmpmem(mem + start, sizeof(in), in, sizeof(in));
    /* ...and what the mmap wrote reads back through messages. */
    fill_pattern(mem + start, sizeof(in), 99);
    g_assert_cmpint(harness_region_rw(h, false, BAR0, start, out, sizeof(out)),
                    ==, 0);
    g_assert_cmpmem(out, sizeof(out), mem + start, sizeof(out));
    g_assert_cmpmem(out + 32, 8, mem + RAM_BAR0_HOLE_OFFSET, 8);
    g_assert_cmpuint(harness_read(h, BAR0, RAM_BAR0_SIZE - 8, 8), ==,
                     *(uint64_t *)(mem + RAM_BAR0_SIZE - 8));
    munmap(base, RAM_BAR0_SIZE);
    harness_free(h);
}

static void test_ram_bar2(void)
{
    Harness *h = harness_new(&sample_ram_type);
    int msi = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int intx = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    g_assert_cmphex(harness_read(h, BAR2, RAM_REG_ID, 4), ==, RAM_ID_VALUE);
    harness_write(h, BAR2, RAM_REG_ID, 0, 4);
    g_assert_cmphex(harness_read(h, BAR2, RAM_REG_ID, 4), ==, RAM_ID_VALUE);
    harness_write(h, BAR2, RAM_REG_SCRATCH, 0xcafef00d, 4);
    g_assert_cmphex(harness_read(h, BAR2, RAM_REG_SCRATCH, 4), ==, 0xcafef00d);
    for (uint32_t i = 0; i < 3; i++) {
        g_assert_cmpuint(harness_read(h, BAR2, RAM_REG_READ_COUNT, 4), ==, i);
    }
    harness_write(h, BAR2, RAM_REG_READ_COUNT, 40, 4);
    g_assert_cmpuint(harness_read(h, BAR2, RAM_REG_READ_COUNT, 4), ==, 40);
    g_assert_cmpuint(harness_read(h, BAR2, RAM_REG_BAR0_SIZE, 4), ==,
                     RAM_BAR0_SIZE);
    g_assert_cmphex(harness_read(h, BAR2, 0x100, 4), ==, 0);
    g_assert_cmphex(harness_read(h, BAR2, RAM_REG_SCRATCH, 2), ==, 0xffff);
    g_assert_cmphex(harness_read(h, BAR2, RAM_REG_SCRATCH + 1, 4), ==,
                    0xffffffff);

    g_assert_cmpint(harness_set_irq_fd(h, VFIO_PCI_INTX_IRQ_INDEX, intx), ==,
                    0);
    harness_write(h, BAR2, RAM_REG_IRQ, 1, 4);
    g_assert_true(harness_eventfd_fired(intx));
    g_assert_cmpint(harness_set_irq_fd(h, VFIO_PCI_MSI_IRQ_INDEX, msi), ==, 0);
    harness_write(h, BAR2, RAM_REG_IRQ, 1, 4);
    g_assert_true(harness_eventfd_fired(msi));
    g_assert_false(harness_eventfd_fired(intx));

    g_assert_cmpint(harness_call(h, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0,
                                 NULL, 0, NULL, NULL, 0, NULL),
                    ==, 0);
    g_assert_cmphex(harness_read(h, BAR2, RAM_REG_SCRATCH, 4), ==, 0);
    harness_free(h);
    close(msi);
    close(intx);
}

/* ---- The vfio-user-server program ---- */

typedef struct ServerProc {
    GPid pid;
    char *dir;
    char *sock;
} ServerProc;

static bool server_bin_check(void)
{
    if (!g_file_test(SERVER_BIN, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("vfio-user-server is not built");
        return false;
    }
    return true;
}

/* Read one line from @fd (10 s at most); g_free() it. */
static char *read_line(int fd)
{
    GString *line = g_string_new(NULL);
    char c;

    while (vut_readable(fd, 10000) && read(fd, &c, 1) == 1 && c != '\n') {
        g_string_append_c(line, c);
    }
    return g_string_free(line, false);
}

/* In the child: a server whose test died (timeout) must not linger. */
static void server_child_setup(gpointer unused)
{
    (void)unused;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Start the server with @dev (and @extra) and wait for its ready line. */
static void server_start(ServerProc *p, const char *dev, const char *extra)
{
    const char *argv[] = {SERVER_BIN, "--device", dev, "--socket",
                          NULL,       extra,      NULL};
    g_autofree char *want = NULL;
    g_autofree char *line = NULL;
    GError *err = NULL;
    int out;

    if (!p->dir) {
        p->dir = vut_sock_dir_new("sample");
        p->sock = g_build_filename(p->dir, "dev.sock", NULL);
    }
    argv[4] = p->sock;
    g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                             G_SPAWN_DO_NOT_REAP_CHILD, server_child_setup,
                             NULL, &p->pid, NULL, &out, NULL, &err);
    g_assert_no_error(err);
    line = read_line(out);
    close(out);
    want = g_strdup_printf("vfio-user-server: listening on %s (device %s)",
                           p->sock, dev);
    g_assert_cmpstr(line, ==, want);
}

/* Wait for the server to exit; returns its wait status. */
static int server_wait(ServerProc *p)
{
    int status = 0;

    g_assert_cmpint(waitpid(p->pid, &status, 0), ==, p->pid);
    g_spawn_close_pid(p->pid);
    return status;
}

static void server_cleanup(ServerProc *p)
{
    g_assert_false(g_file_test(p->sock, G_FILE_TEST_EXISTS));
    g_assert_true(vut_sock_dir_remove(p->dir, NULL));
    g_free(p->sock);
    g_free(p->dir);
}

static Harness *server_connect(ServerProc *p)
{
    Harness *h = harness_new_client(vut_unix_connect(p->sock));

    harness_negotiate(h);
    return h;
}

/* Clients one after another, DMA in message mode, SIGTERM. */
static void test_server_lifecycle(void)
{
    ServerProc p = {0};
    Harness *h;
    int msi, status;

    if (!server_bin_check()) {
        return;
    }
    server_start(&p, "edu", "-v");
    h = server_connect(&p);
    msi = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(harness_dma_map(h, HARNESS_GUEST_BASE, HARNESS_GUEST_SIZE,
                                    0, RW_FLAGS, false),
                    ==, 0);
    g_assert_cmpint(harness_set_irq_fd(h, VFIO_PCI_MSI_IRQ_INDEX, msi), ==, 0);
    edu_round_trip(h, 65536, msi);
    g_assert_cmpuint(h->dma_read_msgs, ==, 1);
    g_assert_cmpuint(h->dma_write_msgs, ==, 1);
    harness_write(h, BAR0, EDU_REG_LIVENESS, 0xf0f0f0f0, 4);
    harness_free(h);
    close(msi);

    /* The next client finds the device state, not the maps. */
    h = server_connect(&p);
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_LIVENESS, 4), ==, 0x0f0f0f0f);
    g_assert_cmphex(
        edu_dma(h, HARNESS_GUEST_BASE, EDU_DMA_BUF_ADDR, 8, EDU_DMA_CMD_START),
        ==, EDU_DMA_CMD_ERROR);
    harness_free(h);

    g_assert_cmpint(kill(p.pid, SIGTERM), ==, 0);
    status = server_wait(&p);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    server_cleanup(&p);
}

/* --once: the first hang-up ends the server with status 0. */
static void test_server_once(void)
{
    ServerProc p = {0};
    Harness *h;
    int status;

    if (!server_bin_check()) {
        return;
    }
    server_start(&p, "ram", "--once");
    h = server_connect(&p);
    g_assert_cmphex(harness_read(h, BAR2, RAM_REG_ID, 4), ==, RAM_ID_VALUE);
    harness_free(h);
    status = server_wait(&p);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    server_cleanup(&p);
}

/* --legacy-dma-map reaches the library: mode bits are refused. */
static void test_server_legacy_dma_map(void)
{
    ServerProc p = {0};
    Harness *h;
    int msi;

    if (!server_bin_check()) {
        return;
    }
    server_start(&p, "edu", "--legacy-dma-map");
    h = server_connect(&p);
    msi = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(harness_dma_map(h, HARNESS_GUEST_BASE, HARNESS_GUEST_SIZE,
                                    0, RW_FLAGS | VFIO_USER_DMA_MAP_F_MODE_MMAP,
                                    true),
                    ==, EINVAL);
    /* An fd without mode bits still means mmap: no DMA messages. */
    g_assert_cmpint(harness_dma_map(h, HARNESS_GUEST_BASE, HARNESS_GUEST_SIZE,
                                    0, RW_FLAGS, true),
                    ==, 0);
    g_assert_cmpint(harness_set_irq_fd(h, VFIO_PCI_MSI_IRQ_INDEX, msi), ==, 0);
    edu_round_trip(h, 4096, msi);
    g_assert_cmpuint(h->dma_read_msgs + h->dma_write_msgs, ==, 0);
    harness_free(h);
    close(msi);
    g_assert_cmpint(kill(p.pid, SIGTERM), ==, 0);
    g_assert_cmpint(server_wait(&p), ==, 0);
    server_cleanup(&p);
}

/* Run the server expecting failure; stderr must contain @msg. */
static void server_expect_error(const char *const *argv, const char *msg)
{
    g_autofree char *err_out = NULL;
    GError *err = NULL;
    int status = 0;

    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                 server_child_setup, NULL, NULL, &err_out, &status, &err);
    g_assert_no_error(err);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(err_out, msg));
}

static void test_server_errors(void)
{
    ServerProc p = {0};
    const char *unknown[] = {
        SERVER_BIN, "--device", "nvme", "--socket", "/nonexistent/x.sock",
        NULL};
    const char *no_sock[] = {SERVER_BIN, "--device", "edu", NULL};
    const char *no_dev[] = {SERVER_BIN, "--socket", "x.sock", NULL};
    const char *in_use[] = {SERVER_BIN, "--device", "ram",
                            "--socket", NULL,       NULL};

    if (!server_bin_check()) {
        return;
    }
    server_expect_error(
        unknown,
        "unknown device 'nvme' (known devices: edu, ram, pio, virtio-net)");
    server_expect_error(no_sock,
                        "--socket-path PATH or --fd FDNUM is required");
    server_expect_error(no_dev, "--device is required");
    server_start(&p, "edu", NULL);
    in_use[4] = p.sock;
    server_expect_error(in_use, "is in use by a running server");
    g_assert_cmpint(kill(p.pid, SIGINT), ==, 0);
    g_assert_cmpint(server_wait(&p), ==, 0);
    server_cleanup(&p);
}

/* SET_IRQS MASK or UNMASK of INTx (DATA_NONE); 0 or an errno. */
static int intx_mask(Harness *h, bool mask)
{
    VFIOUserIrqSet set = {
        .argsz = sizeof(set),
        .flags = VFIO_IRQ_SET_DATA_NONE |
                 (mask ? VFIO_IRQ_SET_ACTION_MASK : VFIO_IRQ_SET_ACTION_UNMASK),
        .index = VFIO_PCI_INTX_IRQ_INDEX,
        .start = 0,
        .count = 1,
    };

    return harness_call(h, VFIO_USER_DEVICE_SET_IRQS, &set, sizeof(set), NULL,
                        0, NULL, 0, NULL, NULL, 0, NULL);
}

static void pio_outb(Harness *h, uint64_t off, uint8_t v)
{
    g_assert_cmpint(harness_region_rw(h, true, BAR0, off, &v, 1), ==, 0);
}

static bool cfg_intx_status(Harness *h)
{
    return harness_read(h, CFG, PCI_COMMAND, 4) >> 16 & PCI_STATUS_INTERRUPT;
}

/* The pio device's I/O BAR and the library's INTx level. */
static void test_pio_bar_and_intx_level(void)
{
    Harness *h = harness_new(&sample_pio_type);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    uint32_t cmd = harness_read(h, CFG, PCI_COMMAND, 4) & 0xffff;
    uint16_t id = 0;

    g_assert_cmphex(harness_read(h, CFG, 0, 4), ==,
                    PIO_PCI_VENDOR_ID | (PIO_PCI_DEVICE_ID << 16));
    /* An 8-byte I/O BAR: sized exactly, the only BAR. */
    harness_write(h, CFG, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    g_assert_cmphex(harness_read(h, CFG, PCI_BASE_ADDRESS_0, 4), ==,
                    0xfffffff9);
    g_assert_cmphex(harness_read(h, CFG, PCI_BASE_ADDRESS_1, 4), ==, 0);
    g_assert_cmpint(harness_region_rw(h, false, BAR0, PIO_REG_ID, &id, 2), ==,
                    0);
    g_assert_cmphex(id, ==, PIO_ID_VALUE);
    g_assert_cmpint(harness_set_irq_fd(h, VFIO_PCI_INTX_IRQ_INDEX, efd), ==, 0);

    /* Up: signalled once, and again on every unmask while still up. */
    pio_outb(h, PIO_REG_INTX, 1);
    g_assert_true(harness_eventfd_fired(efd));
    g_assert_true(cfg_intx_status(h));
    pio_outb(h, PIO_REG_INTX, 1);
    g_assert_false(harness_eventfd_fired(efd)); /* no new edge */
    g_assert_cmpint(intx_mask(h, false), ==, 0);
    g_assert_true(harness_eventfd_fired(efd));
    g_assert_cmpint(intx_mask(h, false), ==, 0);
    g_assert_true(harness_eventfd_fired(efd));
    /* Down: an unmask signals nothing. */
    pio_outb(h, PIO_REG_INTX, 0);
    g_assert_false(cfg_intx_status(h));
    g_assert_cmpint(intx_mask(h, false), ==, 0);
    g_assert_false(harness_eventfd_fired(efd));

    /* Masked: raised meanwhile, signalled on unmask. */
    g_assert_cmpint(intx_mask(h, true), ==, 0);
    pio_outb(h, PIO_REG_INTX, 1);
    g_assert_false(harness_eventfd_fired(efd));
    g_assert_cmpint(intx_mask(h, false), ==, 0);
    g_assert_true(harness_eventfd_fired(efd));
    pio_outb(h, PIO_REG_INTX, 0);

    /* INTx Disable: status still follows, nothing signalled until clear. */
    harness_write(h, CFG, PCI_COMMAND, cmd | PCI_COMMAND_INTX_DISABLE, 2);
    pio_outb(h, PIO_REG_INTX, 1);
    g_assert_true(cfg_intx_status(h));
    g_assert_cmpint(intx_mask(h, false), ==, 0);
    g_assert_false(harness_eventfd_fired(efd));
    harness_write(h, CFG, PCI_COMMAND, cmd, 2);
    g_assert_true(harness_eventfd_fired(efd));

    /* Reset deasserts. */
    g_assert_cmpint(harness_call(h, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0,
                                 NULL, 0, NULL, NULL, 0, NULL),
                    ==, 0);
    g_assert_false(cfg_intx_status(h));
    g_assert_cmpint(intx_mask(h, false), ==, 0);
    g_assert_false(harness_eventfd_fired(efd));
    g_assert_cmphex(harness_read(h, BAR0, PIO_REG_SCRATCH, 4), ==, 0);
    harness_free(h);
    close(efd);
}

/* edu's INTx stays up while its status is non-zero. */
static void test_edu_intx_level(void)
{
    Harness *h = harness_new(&sample_edu_type);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    g_assert_cmpint(harness_set_irq_fd(h, VFIO_PCI_INTX_IRQ_INDEX, efd), ==, 0);
    harness_write(h, BAR0, EDU_REG_IRQ_RAISE, 0x3, 4);
    g_assert_true(harness_eventfd_fired(efd));
    g_assert_cmphex(harness_read(h, BAR0, EDU_REG_ID, 4), ==, EDU_ID_VALUE);
    g_assert_cmpint(intx_mask(h, false), ==, 0);
    g_assert_true(harness_eventfd_fired(efd)); /* still pending */
    harness_write(h, BAR0, EDU_REG_IRQ_ACK, 0x1, 4);
    g_assert_cmpint(intx_mask(h, false), ==, 0);
    g_assert_true(harness_eventfd_fired(efd)); /* 0x2 still pending */
    harness_write(h, BAR0, EDU_REG_IRQ_ACK, 0x2, 4);
    g_assert_false(cfg_intx_status(h));
    g_assert_cmpint(intx_mask(h, false), ==, 0);
    g_assert_false(harness_eventfd_fired(efd));
    harness_free(h);
    close(efd);
}

static void test_device_table(void)
{
    g_autofree char *names = sample_device_names();

    g_assert_true(sample_device_find("edu") == &sample_edu_type);
    g_assert_true(sample_device_find("ram") == &sample_ram_type);
    g_assert_true(sample_device_find("virtio-net") == &sample_virtio_net_type);
    g_assert_null(sample_device_find("nvme"));
    g_assert_true(sample_device_find("pio") == &sample_pio_type);
    g_assert_cmpstr(names, ==, "edu, ram, pio, virtio-net");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sample/devices/table", test_device_table);
    g_test_add_func("/sample/edu/identity", test_edu_identity);
    g_test_add_func("/sample/edu/liveness", test_edu_liveness);
    g_test_add_func("/sample/edu/factorial", test_edu_factorial);
    g_test_add_func("/sample/edu/access-sizes", test_edu_access_sizes);
    g_test_add_func("/sample/edu/irq", test_edu_irq);
    g_test_add_data_func("/sample/edu/dma/message",
                         GINT_TO_POINTER(VUS_DMA_MODE_MESSAGE),
                         test_edu_dma_mode);
    g_test_add_data_func("/sample/edu/dma/mmap",
                         GINT_TO_POINTER(VUS_DMA_MODE_MMAP), test_edu_dma_mode);
    g_test_add_data_func("/sample/edu/dma/file-io",
                         GINT_TO_POINTER(VUS_DMA_MODE_FILE_IO),
                         test_edu_dma_mode);
    g_test_add_func("/sample/edu/dma/errors", test_edu_dma_errors);
    g_test_add_func("/sample/edu/reset", test_edu_reset);
    g_test_add_func("/sample/ram/bar0-sparse", test_ram_bar0);
    g_test_add_func("/sample/ram/bar2-registers", test_ram_bar2);
    g_test_add_func("/sample/pio/bar-intx-level", test_pio_bar_and_intx_level);
    g_test_add_func("/sample/edu/intx-level", test_edu_intx_level);
    g_test_add_func("/sample/server/lifecycle", test_server_lifecycle);
    g_test_add_func("/sample/server/once", test_server_once);
    g_test_add_func("/sample/server/legacy-dma-map",
                    test_server_legacy_dma_map);
    g_test_add_func("/sample/server/errors", test_server_errors);
    return g_test_run();
}
