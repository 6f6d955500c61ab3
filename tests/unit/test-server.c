/*
 * Unit tests of libvfio-user-server: negotiation, every request handler's
 * success and error paths, PCI config space, interrupts, the listening
 * socket, and fd hygiene.  Driven by raw messages from a fake client over a
 * real socketpair (see server-conn.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/pci_regs.h>
#include "server-conn.h"
#include "vfu-test.h"

static void test_negotiate(void)
{
    TestConn *tc = tc_new(NULL);
    TestReply r;
    VFIOUserCaps caps;

    send_version(tc, 0, 0, &r, 0);
    g_assert_true(
        vfio_user_caps_parse_version(r.data, r.len, &caps, &error_abort));
    g_assert_cmpuint(caps.major, ==, 0);
    g_assert_cmpuint(caps.minor, ==, 0); /* the lower minor */
    g_assert_cmpuint(caps.max_msg_fds, ==, 16);
    g_assert_cmpuint(caps.max_data_xfer_size, ==, 1 << 20);
    g_assert_cmpuint(caps.pgsizes, ==, 4096);
    g_assert_cmpuint(caps.max_dma_maps, ==, 65535);
    g_assert_true(caps.write_multiple);
    tc_reply_clear(&r);
    g_assert_cmpuint(tc->dev.connects, ==, 1);
    /* A second VERSION is refused but the connection stays. */
    send_version(tc, 0, 1, NULL, EINVAL);
    g_assert_true(tc_hangup(tc));
    g_assert_cmpuint(tc->dev.connects, ==, 1);
    g_assert_cmpuint(tc->dev.disconnects, ==, 1);
    tc_free(tc);

    tc = tc_new(NULL);
    send_version(tc, 0, 2, &r, 0);
    g_assert_true(
        vfio_user_caps_parse_version(r.data, r.len, &caps, &error_abort));
    g_assert_cmpuint(caps.minor, ==, 1);
    tc_reply_clear(&r);
    g_assert_true(tc_finish(tc));
}

static void test_version_bad(void)
{
    static const char bad_json[] = "\0\0\1\0{\"capabilities\":{\"max_msg";
    TestConn *tc = tc_new(NULL);
    uint32_t dummy = 0;

    send_version(tc, 1, 0, NULL, EINVAL);
    assert_closed(tc);
    g_assert_false(tc_finish(tc));

    tc = tc_new(NULL);
    g_assert_cmpint(tc_call(tc, VFIO_USER_VERSION, bad_json, sizeof(bad_json),
                            NULL, 0, NULL),
                    ==, EINVAL);
    assert_closed(tc);
    g_assert_false(tc_finish(tc));

    tc = tc_new(NULL);
    g_assert_cmpint(
        tc_call(tc, VFIO_USER_DEVICE_RESET, &dummy, 0, NULL, 0, NULL), ==,
        EINVAL);
    assert_closed(tc);
    g_assert_false(tc_finish(tc));
}

static void test_device_info(void)
{
    TestConn *tc = tc_start(NULL);
    VFIOUserDeviceInfo info = {.argsz = sizeof(info)};
    TestReply r;

    g_assert_cmpint(tc_call(tc, VFIO_USER_DEVICE_GET_INFO, &info, sizeof(info),
                            NULL, 0, &r),
                    ==, 0);
    g_assert_cmpuint(r.len, ==, sizeof(info));
    memcpy(&info, r.data, sizeof(info));
    g_assert_cmpuint(info.argsz, ==, sizeof(info));
    g_assert_cmpuint(info.flags, ==,
                     VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
    g_assert_cmpuint(info.num_regions, ==, TEST_REGION_DEV + 1);
    g_assert_cmpuint(info.num_irqs, ==, VFIO_PCI_NUM_IRQS);
    tc_reply_clear(&r);
    info.argsz = 8;
    g_assert_cmpint(tc_call(tc, VFIO_USER_DEVICE_GET_INFO, &info, sizeof(info),
                            NULL, 0, NULL),
                    ==, EINVAL);
    g_assert_true(tc_finish(tc));
}

static void test_region_info(void)
{
    TestConn *tc = tc_start(NULL);
    VFIOUserRegionInfo ri;
    VFIOUserCapSparseMmap sp;
    VFIOUserSparseArea area;
    VFIOUserCapType ty;
    TestReply r;
    uint8_t *map;

    g_assert_cmpint(region_info(tc, 0, 32, &r), ==, 0);
    memcpy(&ri, r.data, sizeof(ri));
    g_assert_cmpuint(r.len, ==, 32);
    g_assert_cmpuint(ri.size, ==, 4096);
    g_assert_cmpuint(ri.flags, ==,
                     VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
    g_assert_cmpuint(r.nfds, ==, 0);
    tc_reply_clear(&r);

    /* BAR1: too small first, then the retry gets caps and the fd. */
    g_assert_cmpint(region_info(tc, 1, 32, &r), ==, 0);
    memcpy(&ri, r.data, sizeof(ri));
    g_assert_cmpuint(r.len, ==, 32);
    g_assert_cmpuint(ri.argsz, ==, 32 + 16 + 16);
    g_assert_cmpuint(ri.cap_offset, ==, 0);
    g_assert_cmpuint(r.nfds, ==, 0);
    tc_reply_clear(&r);
    g_assert_cmpint(region_info(tc, 1, 64, &r), ==, 0);
    g_assert_cmpuint(r.len, ==, 64);
    g_assert_cmpuint(r.nfds, ==, 1);
    memcpy(&ri, r.data, sizeof(ri));
    g_assert_cmpuint(ri.flags, ==,
                     VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                         VFIO_REGION_INFO_FLAG_MMAP |
                         VFIO_REGION_INFO_FLAG_CAPS);
    g_assert_cmpuint(ri.cap_offset, ==, 32);
    memcpy(&sp, r.data + 32, sizeof(sp));
    memcpy(&area, r.data + 48, sizeof(area));
    g_assert_cmpuint(sp.hdr.id, ==, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
    g_assert_cmpuint(sp.hdr.next, ==, 0);
    g_assert_cmpuint(sp.nr_areas, ==, 1);
    g_assert_cmpuint(area.offset, ==, 4096);
    g_assert_cmpuint(area.size, ==, 8192);
    /* The fd maps the same memory the device sees. */
    map = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, r.fds[0], 0);
    g_assert_true(map != MAP_FAILED);
    map[5000] = 0x77;
    g_assert_cmpuint(((uint8_t *)tc->dev.bar1_mem)[5000], ==, 0x77);
    munmap(map, 16384);
    tc_reply_clear(&r);

    /* Device-specific region with a type capability. */
    g_assert_cmpint(region_info(tc, TEST_REGION_DEV, 256, &r), ==, 0);
    g_assert_cmpuint(r.len, ==, 48);
    memcpy(&ri, r.data, sizeof(ri));
    memcpy(&ty, r.data + ri.cap_offset, sizeof(ty));
    g_assert_cmpuint(ty.hdr.id, ==, VFIO_REGION_INFO_CAP_TYPE);
    g_assert_cmpuint(ty.type, ==, 1);
    g_assert_cmpuint(ty.subtype, ==, 2);
    tc_reply_clear(&r);

    /* Config space; an undeclared BAR; errors. */
    g_assert_cmpint(region_info(tc, VFIO_PCI_CONFIG_REGION_INDEX, 32, &r), ==,
                    0);
    memcpy(&ri, r.data, sizeof(ri));
    g_assert_cmpuint(ri.size, ==, 256);
    tc_reply_clear(&r);
    g_assert_cmpint(region_info(tc, 5, 32, &r), ==, 0);
    memcpy(&ri, r.data, sizeof(ri));
    g_assert_cmpuint(ri.size, ==, 0);
    tc_reply_clear(&r);
    g_assert_cmpint(region_info(tc, TEST_REGION_DEV + 1, 32, NULL), ==, EINVAL);
    g_assert_cmpint(region_info(tc, 0, 16, NULL), ==, EINVAL);
    g_assert_true(tc_finish(tc));
}

static void test_region_rw(void)
{
    TestConn *tc = tc_start(NULL);
    uint8_t buf[64] = {0}, out[64];
    uint16_t ids[2];
    VFIOUserRegionRW rw = {.offset = 0x100, .region = 0, .count = 8};
    uint8_t big[sizeof(rw) + 4];

    for (int i = 0; i < 64; i++) {
        buf[i] = (uint8_t)(i * 3);
    }
    g_assert_cmpint(tc_region_write(tc, 0, 0x100, buf, 64), ==, 0);
    g_assert_cmpint(tc_region_read(tc, 0, 0x100, out, 64), ==, 0);
    g_assert_cmpmem(buf, 64, out, 64);
    g_assert_cmpint(tc_region_read(tc, VFIO_PCI_CONFIG_REGION_INDEX, 0, out, 4),
                    ==, 0);
    g_assert_cmpuint(out[0] | out[1] << 8, ==, 0x1234);
    g_assert_cmpuint(out[2] | out[3] << 8, ==, 0x11e8);
    /* Memory-backed region without callback: straight to memory. */
    g_assert_cmpint(tc_region_write(tc, TEST_REGION_DEV, 8, buf, 16), ==, 0);
    g_assert_cmpmem((uint8_t *)tc->dev.dev_region_mem + 8, 16, buf, 16);
    /* Read-only BAR3 reads fine, refuses writes. */
    g_assert_cmpint(tc_region_read(tc, 3, 4, out, 4), ==, 0);
    g_assert_cmpuint(out[0], ==, 0xa4);
    g_assert_cmpint(tc_region_write(tc, 3, 0, buf, 4), ==, EPERM);

    g_assert_cmpint(tc_region_read(tc, 4, 0, out, 4), ==, EINVAL);
    g_assert_cmpint(tc_region_read(tc, 99, 0, out, 4), ==, EINVAL);
    g_assert_cmpint(tc_region_read(tc, 0, 4094, out, 4), ==, EINVAL);
    g_assert_cmpint(tc_region_read(tc, 0, UINT64_MAX - 1, out, 4), ==, EINVAL);
    g_assert_cmpint(tc_region_write(tc, 0, 4096, buf, 1), ==, EINVAL);
    g_assert_cmpint(tc_region_read(tc, 0, 0, out, 0), ==, EINVAL);
    g_assert_cmpint(tc_region_read(tc, 1, 0, out, (1 << 20) + 1), ==, EINVAL);
    /* Payload shorter than count. */
    memcpy(big, &rw, sizeof(rw));
    g_assert_cmpint(
        tc_call(tc, VFIO_USER_REGION_WRITE, big, sizeof(big), NULL, 0, NULL),
        ==, EINVAL);

    /* Posted write: no reply on success, an error reply on failure. */
    rw.count = 4;
    memcpy(big, &rw, sizeof(rw));
    memset(big + sizeof(rw), 0x5c, 4);
    tc_send(tc, VFIO_USER_REGION_WRITE, VFIO_USER_F_NO_REPLY, big, sizeof(big),
            NULL, 0);
    rw.region = 3;
    rw.offset = 0;
    memcpy(big, &rw, sizeof(rw));
    ids[0] = tc_send(tc, VFIO_USER_REGION_WRITE, VFIO_USER_F_NO_REPLY, big,
                     sizeof(big), NULL, 0);
    g_assert_cmpint(tc_wait(tc, ids[0], NULL), ==, EPERM);
    ids[1] =
        tc_send(tc, VFIO_USER_REGION_READ, 0,
                &(VFIOUserRegionRW){.offset = 0x100, .region = 0, .count = 4},
                sizeof(rw), NULL, 0);
    g_assert_cmpint(tc_wait(tc, ids[1], NULL), ==, 0);
    g_assert_cmpuint(tc->dev.scratch[0x103], ==, 0x5c);
    g_assert_true(tc_finish(tc));
}

static void test_write_multi(void)
{
    TestConn *tc = tc_start(NULL);
    VFIOUserWriteMultiEntry e[2] = {
        {.offset = 0x200, .region = 0, .count = 4, .data = {1, 2, 3, 4}},
        {.offset = 0x208,
         .region = 0,
         .count = 8,
         .data = {9, 9, 9, 9, 9, 9, 9, 9}},
    };

    g_assert_cmpint(write_multi(tc, e, 2, 2), ==, 0);
    g_assert_cmpuint(tc->dev.scratch[0x203], ==, 4);
    g_assert_cmpuint(tc->dev.scratch[0x20f], ==, 9);
    g_assert_cmpint(write_multi(tc, e, 2, 3), ==, EINVAL);
    g_assert_cmpint(write_multi(tc, e, 0, 0), ==, EINVAL);
    e[1].count = 9;
    g_assert_cmpint(write_multi(tc, e, 2, 2), ==, EINVAL);
    e[1].count = 0;
    g_assert_cmpint(write_multi(tc, e, 2, 2), ==, EINVAL);
    e[1].count = 4;
    e[1].region = 3;
    e[1].offset = 0;
    e[0].data[0] = 0x42;
    g_assert_cmpint(write_multi(tc, e, 2, 2), ==, EPERM);
    /* nothing written when one entry is bad */
    g_assert_cmpuint(tc->dev.scratch[0x200], ==, 1);
    e[1].region = 0;
    e[1].offset = 4093;
    g_assert_cmpint(write_multi(tc, e, 2, 2), ==, EINVAL);
    g_assert_true(tc_finish(tc));
}

static void test_pci_config(void)
{
    TestConn *tc = tc_start(NULL);
    uint8_t pos;
    uint8_t ids[4];
    int n = 0;

    g_assert_cmphex(cfg_read32(tc, PCI_CLASS_REVISION), ==, 0x00ff0010);
    g_assert_cmphex(cfg_read32(tc, PCI_SUBSYSTEM_VENDOR_ID), ==, 0x11001af4);
    g_assert_cmphex(cfg_read32(tc, PCI_INTERRUPT_LINE) >> 8 & 0xff, ==, 1);
    /* BAR sizing: all-ones reads back the size mask and the type bits. */
    for (int i = 0; i < 6; i++) {
        cfg_write32(tc, PCI_BASE_ADDRESS_0 + 4 * i, 0xffffffff);
    }
    g_assert_cmphex(cfg_read32(tc, PCI_BASE_ADDRESS_0), ==, 0xfffff000);
    g_assert_cmphex(cfg_read32(tc, PCI_BASE_ADDRESS_1), ==, 0xffffc004);
    g_assert_cmphex(cfg_read32(tc, PCI_BASE_ADDRESS_2), ==, 0xffffffff);
    g_assert_cmphex(cfg_read32(tc, PCI_BASE_ADDRESS_3), ==, 0xffffffc0);
    g_assert_cmphex(cfg_read32(tc, PCI_BASE_ADDRESS_4), ==, 0);
    cfg_write32(tc, PCI_BASE_ADDRESS_0, 0xfe001234);
    g_assert_cmphex(cfg_read32(tc, PCI_BASE_ADDRESS_0), ==, 0xfe001000);
    /* Command keeps only its writable bits; capability list walks. */
    cfg_write32(tc, PCI_COMMAND, 0xffff);
    g_assert_cmphex(cfg_read32(tc, PCI_COMMAND), ==,
                    PCI_STATUS_CAP_LIST << 16 | 0x0547);
    pos = cfg_read32(tc, PCI_CAPABILITY_LIST) & 0xff;
    while (pos && n < 4) {
        uint32_t v = cfg_read32(tc, pos);

        ids[n++] = v & 0xff;
        pos = (v >> 8) & 0xff;
    }
    g_assert_cmpint(n, ==, 3);
    g_assert_cmpuint(ids[0], ==, PCI_CAP_ID_MSI);
    g_assert_cmpuint(ids[1], ==, PCI_CAP_ID_MSIX);
    g_assert_cmpuint(ids[2], ==, PCI_CAP_ID_EXP);
    /* MSI: 4 vectors (MMC 2), 64-bit; enable is writable. */
    g_assert_cmphex(cfg_read32(tc, 0x40) >> 16, ==, PCI_MSI_FLAGS_64BIT | 4);
    cfg_write32(tc, 0x40, 0x00010000);
    g_assert_cmphex(cfg_read32(tc, 0x40) >> 16 & 1, ==, 1);
    /* MSI-X: 8 entries in BAR1, PBA at 0x800. */
    g_assert_cmphex(cfg_read32(tc, 0x50) >> 16, ==, 7);
    g_assert_cmphex(cfg_read32(tc, 0x54), ==, 1);
    g_assert_cmphex(cfg_read32(tc, 0x58), ==, 0x801);
    /* Device-specific bytes read 0 without a callback. */
    g_assert_cmphex(cfg_read32(tc, 0xf0), ==, 0);
    g_assert_cmphex(vus_pci_config_space(tc->srv)[PCI_COMMAND], ==, 0x47);
    /* Reset restores the header and calls the device. */
    g_assert_cmpint(tc_call(tc, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0, NULL),
                    ==, 0);
    g_assert_cmpuint(tc->dev.resets, ==, 1);
    g_assert_cmphex(cfg_read32(tc, PCI_BASE_ADDRESS_0), ==, 0);
    g_assert_cmphex(cfg_read32(tc, PCI_COMMAND) & 0xffff, ==, 0);
    tc->dev.reset_ret = -EBUSY;
    g_assert_cmpint(tc_call(tc, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0, NULL),
                    ==, EBUSY);
    g_assert_true(tc_finish(tc));
}

static void test_irqs(void)
{
    static const uint32_t expect[] = {1, 4, 8, 1, 0};
    TestConn *tc = tc_start(NULL);
    uint32_t count, cmd = 3;
    int efd[2];
    uint8_t bools[2] = {0, 1};

    for (uint32_t i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
        g_assert_cmpint(irq_info(tc, i, &count), ==, 0);
        g_assert_cmpuint(count, ==, expect[i]);
    }
    g_assert_cmpint(irq_info(tc, VFIO_PCI_NUM_IRQS, &count), ==, EINVAL);
    efd[0] = eventfd(0, EFD_CLOEXEC);
    efd[1] = eventfd(0, EFD_CLOEXEC);
    g_assert_cmpint(
        set_irqs(tc, EFD_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 2, NULL, efd, 2),
        ==, 0);
    g_assert_true(vus_irq_enabled(tc->srv, VFIO_PCI_MSI_IRQ_INDEX, 1));
    g_assert_cmpint(tc_region_write(tc, 0, 0x0c, &cmd, 4), ==, 0);
    g_assert_true(efd_fired(efd[0]));
    g_assert_false(efd_fired(efd[1]));
    /* Trigger by message: NONE and BOOL data. */
    g_assert_cmpint(
        set_irqs(tc, NONE_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 1, 1, NULL, NULL, 0),
        ==, 0);
    g_assert_true(efd_fired(efd[1]));
    g_assert_cmpint(
        set_irqs(tc, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
                 VFIO_PCI_MSI_IRQ_INDEX, 0, 2, bools, NULL, 0),
        ==, 0);
    g_assert_false(efd_fired(efd[0]));
    g_assert_true(efd_fired(efd[1]));
    /* Masked: pending, delivered on unmask. */
    g_assert_cmpint(set_irqs(tc,
                             VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
                             VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, NULL, 0),
                    ==, 0);
    g_assert_false(vus_irq_trigger(tc->srv, VFIO_PCI_MSI_IRQ_INDEX, 0));
    g_assert_false(efd_fired(efd[0]));
    g_assert_cmpint(
        set_irqs(tc, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
                 VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, NULL, 0),
        ==, 0);
    g_assert_true(efd_fired(efd[0]));
    close(efd[0]);
    close(efd[1]);
    g_assert_true(tc_finish(tc));
}

static void test_irqs_errors(void)
{
    TestConn *tc = tc_start(NULL);
    int efd[2] = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC)};
    unsigned fds_before;
    int pipefd[2];

    /* Errors: fd count, range, index, flags; refused fds are closed. */
    fds_before = vut_count_fds();
    g_assert_cmpint(
        set_irqs(tc, EFD_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 2, NULL, efd, 1),
        ==, EINVAL);
    g_assert_cmpint(
        set_irqs(tc, EFD_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 3, 2, NULL, efd, 2),
        ==, EINVAL);
    g_assert_cmpint(set_irqs(tc, EFD_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX,
                             UINT32_MAX, 2, NULL, efd, 2),
                    ==, EINVAL);
    g_assert_cmpint(
        set_irqs(tc, EFD_TRIGGER, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, efd, 1),
        ==, EINVAL);
    g_assert_cmpint(set_irqs(tc, EFD_TRIGGER, 7, 0, 1, NULL, efd, 1), ==,
                    EINVAL);
    g_assert_cmpint(set_irqs(tc, EFD_TRIGGER | VFIO_IRQ_SET_DATA_BOOL,
                             VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, efd, 1),
                    ==, EINVAL);
    g_assert_cmpint(
        set_irqs(tc, NONE_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, efd, 1),
        ==, EINVAL);
    g_assert_cmpint(
        set_irqs(tc, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK,
                 VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, efd, 1),
        ==, ENOTSUP);
    g_assert_cmpint(
        set_irqs(tc, EFD_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL, NULL, 0),
        ==, EINVAL);
    /* Something else than an eventfd (a full pipe would block us). */
    g_assert_cmpint(pipe(pipefd), ==, 0);
    g_assert_cmpint(set_irqs(tc, EFD_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1,
                             NULL, &pipefd[1], 1),
                    ==, EINVAL);
    close(pipefd[0]);
    close(pipefd[1]);
    g_assert_cmpuint(vut_count_fds(), ==, fds_before);

    /* count 0 with DATA_NONE disables every vector. */
    g_assert_cmpint(
        set_irqs(tc, NONE_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL, NULL, 0),
        ==, 0);
    g_assert_false(vus_irq_enabled(tc->srv, VFIO_PCI_MSI_IRQ_INDEX, 0));
    g_assert_false(vus_irq_trigger(tc->srv, VFIO_PCI_MSI_IRQ_INDEX, 0));
    g_assert_cmpuint(vus_irq_undelivered(tc->srv, VFIO_PCI_MSI_IRQ_INDEX), ==,
                     1);
    /* Eventfd with 0 fds de-assigns a range. */
    g_assert_cmpint(
        set_irqs(tc, EFD_TRIGGER, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, efd, 1),
        ==, 0);
    g_assert_true(vus_irq_enabled(tc->srv, VFIO_PCI_INTX_IRQ_INDEX, 0));
    g_assert_cmpint(
        set_irqs(tc, EFD_TRIGGER, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, NULL, 0),
        ==, 0);
    g_assert_false(vus_irq_enabled(tc->srv, VFIO_PCI_INTX_IRQ_INDEX, 0));
    close(efd[0]);
    close(efd[1]);
    g_assert_true(tc_finish(tc));
}

static void test_io_fds(void)
{
    TestConn *tc = tc_start(NULL);
    VFIOUserRegionIOFds req = {.argsz = sizeof(req), .index = 0};
    VFIOUserSubRegionIOFd sub;
    TestReply r;
    uint64_t one = 1;
    uint32_t v;

    g_assert_cmpint(tc_call(tc, VFIO_USER_DEVICE_GET_REGION_IO_FDS, &req,
                            sizeof(req), NULL, 0, &r),
                    ==, 0);
    g_assert_cmpuint(r.len, ==, sizeof(req));
    g_assert_cmpuint(r.nfds, ==, 0);
    memcpy(&req, r.data, sizeof(req));
    g_assert_cmpuint(req.count, ==, 1);
    g_assert_cmpuint(req.argsz, ==, sizeof(req) + sizeof(sub));
    tc_reply_clear(&r);
    g_assert_cmpint(tc_call(tc, VFIO_USER_DEVICE_GET_REGION_IO_FDS, &req,
                            sizeof(req), NULL, 0, &r),
                    ==, 0);
    g_assert_cmpuint(r.nfds, ==, 1);
    memcpy(&sub, r.data + sizeof(req), sizeof(sub));
    g_assert_cmpuint(sub.offset, ==, 0x20);
    g_assert_cmpuint(sub.size, ==, 4);
    g_assert_cmpuint(sub.fd_index, ==, 0);
    g_assert_cmpuint(sub.type, ==, VFIO_USER_IO_FD_TYPE_IOEVENTFD);
    g_assert_cmpuint(sub.flags, ==, VFIO_USER_IOEVENTFD_F_DATAMATCH);
    g_assert_cmpuint(sub.datamatch, ==, 0x5a);
    /* Signal it: the server calls the device before the next request. */
    g_assert_cmpint(write(r.fds[0], &one, 8), ==, 8);
    g_assert_cmpint(tc_region_read(tc, 0, 0x10, &v, 4), ==, 0);
    g_assert_cmpuint(tc->dev.ioevent_writes, ==, 1);
    g_assert_cmpuint(tc->dev.ioevent_value, ==, 0x5a);
    tc_reply_clear(&r);
    /* A region without ioeventfds; errors. */
    req.index = 3;
    g_assert_cmpint(tc_call(tc, VFIO_USER_DEVICE_GET_REGION_IO_FDS, &req,
                            sizeof(req), NULL, 0, &r),
                    ==, 0);
    memcpy(&req, r.data, sizeof(req));
    g_assert_cmpuint(req.count, ==, 0);
    tc_reply_clear(&r);
    req.index = 50;
    g_assert_cmpint(tc_call(tc, VFIO_USER_DEVICE_GET_REGION_IO_FDS, &req,
                            sizeof(req), NULL, 0, NULL),
                    ==, EINVAL);
    req.index = 0;
    req.argsz = 4;
    g_assert_cmpint(tc_call(tc, VFIO_USER_DEVICE_GET_REGION_IO_FDS, &req,
                            sizeof(req), NULL, 0, NULL),
                    ==, EINVAL);
    g_assert_true(tc_finish(tc));
}

static void test_unsupported(void)
{
    TestConn *tc = tc_start(NULL);
    uint8_t payload[16] = {0};
    uint32_t v;

    g_assert_cmpint(
        tc_call(tc, VFIO_USER_DEVICE_FEATURE, payload, 8, NULL, 0, NULL), ==,
        ENOTSUP);
    g_assert_cmpint(
        tc_call(tc, VFIO_USER_MIG_DATA_READ, payload, 8, NULL, 0, NULL), ==,
        ENOTSUP);
    g_assert_cmpint(
        tc_call(tc, VFIO_USER_DIRTY_PAGES, payload, 8, NULL, 0, NULL), ==,
        ENOTSUP);
    g_assert_cmpint(tc_call(tc, 99, payload, 8, NULL, 0, NULL), ==, ENOSYS);
    g_assert_cmpint(tc_call(tc, VFIO_USER_DMA_READ, payload, 16, NULL, 0, NULL),
                    ==, EINVAL);
    g_assert_cmpint(
        tc_call(tc, VFIO_USER_DEVICE_RESET, payload, 4, NULL, 0, NULL), ==,
        EINVAL);
    /* Still serving. */
    g_assert_cmpint(tc_region_read(tc, 0, 0x10, &v, 4), ==, 0);
    g_assert_true(tc_finish(tc));
}

static void test_oversize(void)
{
    unsigned before = vut_count_fds();
    TestConn *tc = tc_start(NULL);
    VFIOUserHdr hdr;
    int fd = eventfd(0, EFD_CLOEXEC);

    vfio_user_hdr_init(&hdr, 1, VFIO_USER_REGION_WRITE, 64 << 20, 0);
    g_assert_true(
        vfio_user_msg_send(tc->sock, &hdr, NULL, 0, &fd, 1, &error_abort));
    close(fd);
    assert_closed(tc);
    g_assert_false(tc_finish(tc));
    g_assert_cmpuint(vut_count_fds(), ==, before);
}

/* A client that stops in the middle of a message is dropped. */
static void test_stall(void)
{
    VusServerOptions opts = {.dma_timeout_ms = 100};
    TestConn *tc = tc_start(&opts);
    VFIOUserHdr hdr;
    uint8_t part[10] = {0};

    vfio_user_hdr_init(&hdr, 1, VFIO_USER_REGION_WRITE, sizeof(hdr) + 100, 0);
    g_assert_cmpint(send(tc->sock, &hdr, sizeof(hdr), 0), ==, sizeof(hdr));
    g_assert_cmpint(send(tc->sock, part, sizeof(part), 0), ==, sizeof(part));
    assert_closed(tc);
    g_assert_false(tc_hangup(tc));
    g_assert_cmpint(tc->run_errno, ==, EAGAIN);
    tc_free(tc);
}

static void test_fd_leak(void)
{
    unsigned before = vut_count_fds();
    TestConn *tc = tc_start(NULL);
    int mfd = test_memfd(65536, 0);
    int efd[2] = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC)};
    TestReply r;

    g_assert_cmpint(tc_dma_map(tc, 3, 0, 0x100000, 65536, mfd), ==, 0);
    g_assert_cmpint(tc_dma_map(tc, 3 | VFIO_USER_DMA_MAP_F_MODE_FILE_IO, 0,
                               0x200000, 65536, mfd),
                    ==, 0);
    g_assert_cmpint(tc_dma_map(tc, 3 | VFIO_USER_DMA_MAP_F_MODE_FILE_IO, 0,
                               0x200000, 65536, mfd),
                    ==, EEXIST);
    g_assert_cmpint(
        set_irqs(tc, EFD_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 2, NULL, efd, 2),
        ==, 0);
    g_assert_cmpint(
        set_irqs(tc, EFD_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 2, NULL, efd, 2),
        ==, 0); /* replaces, closes */
    g_assert_cmpint(region_info(tc, 1, 64, &r), ==, 0);
    tc_reply_clear(&r);
    close(mfd);
    close(efd[0]);
    close(efd[1]);
    g_assert_true(tc_finish(tc));
    g_assert_cmpuint(vut_count_fds(), ==, before);
}

typedef struct ListenCtx {
    VusServer *srv;
    bool ok;
} ListenCtx;

static gpointer listen_thread(gpointer opaque)
{
    ListenCtx *c = opaque;
    g_autoptr(GError) err = NULL;

    /*
     * The EADDRINUSE probe's connection, then two clients in a row: the
     * server accepts again after each hang-up.
     */
    for (int i = 0; i < 3; i++) {
        c->ok = vus_server_accept(c->srv, &err) && vus_server_run(c->srv, &err);
        if (!c->ok) {
            break;
        }
    }
    return NULL;
}

static void test_listen(void)
{
    g_autofree char *dir = vut_sock_dir_new("vfu-srv");
    g_autofree char *path = g_build_filename(dir, "s.sock", NULL);
    g_autoptr(GError) err = NULL;
    ListenCtx c = {0};
    VFIOUserCaps caps;
    VFIOUserHdr hdr;
    GThread *t;
    size_t len, nfds;
    int fd;

    /* A stale socket file (nobody listening) is replaced. */
    close(vut_unix_bind(path));
    c.srv = vus_server_new(path, NULL, &error_abort);
    /* A live one is EADDRINUSE. */
    g_assert_null(vus_server_new(path, NULL, &err));
    g_assert_error(err, VFIO_USER_ERROR, EADDRINUSE);

    t = g_thread_new("listen", listen_thread, &c);
    for (int i = 0; i < 2; i++) {
        g_autofree void *p = NULL;

        fd = vut_unix_connect(path);
        vfio_user_caps_init_ours(&caps);
        p = vfio_user_caps_build_version(&caps, &len);
        vfio_user_hdr_init(&hdr, 1, VFIO_USER_VERSION, sizeof(hdr) + len, 0);
        g_assert_true(
            vfio_user_msg_send(fd, &hdr, p, len, NULL, 0, &error_abort));
        g_assert_true(vfio_user_msg_recv_hdr(fd, &hdr, NULL, &nfds, 0, 4096,
                                             &error_abort));
        g_assert_true(
            vfio_user_msg_discard(fd, hdr.size - sizeof(hdr), &error_abort));
        g_assert_true(vfio_user_hdr_is_reply(&hdr));
        close(fd);
    }
    g_thread_join(t);
    g_assert_true(c.ok);
    vus_server_free(c.srv);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    vut_sock_dir_remove(dir, NULL);
}

static gpointer stop_thread(gpointer opaque)
{
    ListenCtx *c = opaque;
    g_autoptr(GError) err = NULL;

    c->ok = vus_server_accept(c->srv, &err);
    g_assert_error(err, VFIO_USER_ERROR, ECANCELED);
    return NULL;
}

static void test_stop(void)
{
    g_autofree char *dir = vut_sock_dir_new("vfu-srv");
    g_autofree char *path = g_build_filename(dir, "s.sock", NULL);
    ListenCtx c = {.ok = true};
    GThread *t;

    c.srv = vus_server_new(path, NULL, &error_abort);
    t = g_thread_new("stop", stop_thread, &c);
    vus_server_stop(c.srv);
    g_thread_join(t);
    g_assert_false(c.ok);
    vus_server_free(c.srv);
    vut_sock_dir_remove(dir, NULL);
}

static void test_setup_errors(void)
{
    VusServer *srv = vus_server_new(NULL, NULL, &error_abort);
    VusRegionDesc d = {.size = 4096, .flags = VUS_REGION_F_RW};
    VusSparseArea bad = {4096, 4096};
    VusPciDesc pci = {.msi_vectors = 3};
    g_autoptr(GError) err = NULL;

    g_assert_false(vus_server_setup_region(srv, 0, &d, NULL, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL); /* no memory, no callback */
    g_clear_error(&err);
    d.mem = true;
    g_assert_false(vus_server_setup_region(srv, VFIO_PCI_CONFIG_REGION_INDEX,
                                           &d, NULL, &err));
    g_clear_error(&err);
    d.sparse = &bad;
    d.nr_sparse = 1;
    g_assert_false(vus_server_setup_region(srv, 0, &d, NULL, &err));
    g_clear_error(&err);
    d.nr_sparse = 0;
    d.size = 12288; /* not a power of two: refused as a BAR */
    g_assert_true(vus_server_setup_region(srv, 0, &d, NULL, &error_abort));
    g_assert_false(vus_server_setup_region(srv, 0, &d, NULL, &err));
    g_assert_error(err, VFIO_USER_ERROR, EEXIST);
    g_clear_error(&err);
    g_assert_false(vus_server_setup_pci(srv, &pci, &err));
    g_clear_error(&err);
    pci.msi_vectors = 1;
    g_assert_false(vus_server_setup_pci(srv, &pci, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    vus_server_free(srv);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/server/negotiate", test_negotiate);
    g_test_add_func("/server/version-bad", test_version_bad);
    g_test_add_func("/server/device-info", test_device_info);
    g_test_add_func("/server/region-info", test_region_info);
    g_test_add_func("/server/region-rw", test_region_rw);
    g_test_add_func("/server/write-multi", test_write_multi);
    g_test_add_func("/server/pci-config", test_pci_config);
    g_test_add_func("/server/irqs", test_irqs);
    g_test_add_func("/server/irqs-errors", test_irqs_errors);
    g_test_add_func("/server/io-fds", test_io_fds);
    g_test_add_func("/server/unsupported", test_unsupported);
    g_test_add_func("/server/oversize", test_oversize);
    g_test_add_func("/server/stall", test_stall);
    g_test_add_func("/server/fd-leak", test_fd_leak);
    g_test_add_func("/server/listen", test_listen);
    g_test_add_func("/server/stop", test_stop);
    g_test_add_func("/server/setup-errors", test_setup_errors);
    return g_test_run();
}
