/*
 * Malicious-server tests, device: the device layer of the client against
 * a scripted fake server that lies in DEVICE_GET_INFO and
 * REGION_INFO (capability loops, caps and sparse areas outside the
 * region, argsz, too many regions), in REGION_READ, and hands out short
 * region fds or a pipe as ioeventfd.
 *
 * Every case checks what the client does about it (error and errno,
 * connection dropped or kept, guest memory unchanged), that it finished
 * quickly (short message timeouts, bounded waits), and that no fd leaked.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>

#include "hw/vfio-user/container.h"
#include "hw/vfio-user/device.h"
#include "hw/vfio-user/proxy.h"
#include "hostile-server-case.h"
#include "scripted-server.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

/* ---- device info and regions ---- */

/* GET_INFO for a non-PCI device with @n regions and no irqs. */
static void script_device(FakeServer *fs, uint32_t n)
{
    VFIOUserDeviceInfo info = {.argsz = sizeof(info), .num_regions = n};

    fake_expect(fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply(fs, &info, sizeof(info));
}

static void script_region(FakeServer *fs, uint32_t index, uint64_t size)
{
    VFIOUserRegionInfo ri = {
        .argsz = sizeof(ri),
        .index = index,
        .size = size,
        .flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
    };

    fake_expect(fs, VFIO_USER_DEVICE_GET_REGION_INFO);
    fake_reply(fs, &ri, sizeof(ri));
}

/* Region 0 info is @buf (@len bytes, optional @fd): init fails EPROTO. */
static void region_info_case(const void *buf, size_t len, int fd)
{
    VFIOUserDevice dev;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    script_device(c.fs, 1);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_REGION_INFO);
    fake_reply_ex(c.fs, NULL, buf, len, &fd, fd >= 0 ? 1 : 0);
    fake_stall(c.fs);
    case_connect(&c, 2000);
    g_assert_false(vfio_user_device_init(&dev, c.p, &err));
    assert_err(err, EPROTO);
    g_error_free(err);
    g_assert_null(dev.regions);
    case_end(&c);
}

typedef struct RegionReply {
    VFIOUserRegionInfo info;
    uint8_t caps[224];
} RegionReply;

static void region_reply_init(RegionReply *r, uint32_t cap_offset)
{
    memset(r, 0, sizeof(*r));
    r->info.argsz = sizeof(*r);
    r->info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                    VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
    r->info.size = 0x4000;
    r->info.cap_offset = cap_offset;
}

static void put_cap(RegionReply *r, uint32_t off, uint16_t id, uint32_t next)
{
    VFIOUserCapHdr h = {.id = id, .version = 1, .next = next};

    memcpy((uint8_t *)r + off, &h, sizeof(h));
}

static void test_region_caps_loop(void)
{
    RegionReply r;

    region_reply_init(&r, 32);
    put_cap(&r, 32, VFIO_REGION_INFO_CAP_TYPE, 32); /* points at itself */
    region_info_case(&r, sizeof(r), -1);
    region_reply_init(&r, 32);
    put_cap(&r, 32, VFIO_REGION_INFO_CAP_TYPE, 48);
    put_cap(&r, 48, VFIO_REGION_INFO_CAP_TYPE, 32); /* two-cap cycle */
    region_info_case(&r, sizeof(r), -1);
}

static void test_region_caps_outside(void)
{
    RegionReply r;

    region_reply_init(&r, 4000); /* beyond the reply */
    region_info_case(&r, sizeof(r), -1);
    region_reply_init(&r, 8); /* inside the fixed info */
    region_info_case(&r, sizeof(r), -1);
    region_reply_init(&r, sizeof(r) - 4); /* header cut by the end */
    region_info_case(&r, sizeof(r), -1);
    region_reply_init(&r, 32);
    put_cap(&r, 32, VFIO_REGION_INFO_CAP_TYPE, 0xfffffff8u);
    region_info_case(&r, sizeof(r), -1);
}

static int memfd_of(size_t size)
{
    int fd = memfd_create("hostile-region", MFD_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    return fd;
}

static void put_sparse(RegionReply *r, uint32_t nr, uint64_t off, uint64_t size)
{
    VFIOUserCapSparseMmap cap = {
        .hdr = {.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP, .version = 1},
        .nr_areas = nr,
    };
    VFIOUserSparseArea a = {.offset = off, .size = size};

    memcpy((uint8_t *)r + 32, &cap, sizeof(cap));
    memcpy((uint8_t *)r + 48, &a, sizeof(a));
}

/* Sparse areas outside the region, or more than the reply holds; the
 * region fd that came with the reply is closed. */
static void test_region_sparse_outside(void)
{
    static const uint64_t bad[][3] = {
        {1, 0x4000, 0x1000},      /* starts at the end */
        {1, 0x3000, 0x2000},      /* runs past the end */
        {1, 0x1000, UINT64_MAX},  /* wraps */
        {0xffffffffu, 0, 0x1000}, /* count beyond the reply */
        {14, 0, 0x1000},          /* 14 areas, room for 13 */
    };
    int fd = memfd_of(0x4000);

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        RegionReply r;

        region_reply_init(&r, 32);
        put_sparse(&r, bad[i][0], bad[i][1], bad[i][2]);
        region_info_case(&r, sizeof(r), fd);
    }
    close(fd);
}

/* The server wants ever more room for the region info: asked once more,
 * bounded, then EPROTO. */
static void test_region_info_argsz(void)
{
    VFIOUserRegionInfo ri = {.argsz = 0x40000000u, .size = 4096};
    VFIOUserRegionInfo ri2 = {.argsz = 1024, .size = 4096};
    VFIOUserRegionInfo ri3 = {.argsz = 2048, .size = 4096};
    VFIOUserDevice dev;
    GError *err = NULL;
    Case c;

    region_info_case(&ri, sizeof(ri), -1);
    case_begin(&c);
    fake_version(c.fs, NULL);
    script_device(c.fs, 1);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_REGION_INFO);
    fake_reply(c.fs, &ri2, sizeof(ri2));
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_REGION_INFO);
    fake_reply(c.fs, &ri3, sizeof(ri3));
    fake_stall(c.fs);
    case_connect(&c, 2000);
    g_assert_false(vfio_user_device_init(&dev, c.p, &err));
    assert_err(err, EPROTO);
    g_error_free(err);
    case_end(&c);
}

static void test_device_too_many(void)
{
    VFIOUserDeviceInfo info = {.argsz = 16, .num_regions = 100000};
    VFIOUserDevice dev;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply(c.fs, &info, sizeof(info));
    fake_stall(c.fs);
    case_connect(&c, 2000);
    g_assert_false(vfio_user_device_init(&dev, c.p, &err));
    assert_err(err, EPROTO);
    g_error_free(err);
    case_end(&c);
}

/*
 * Region fd shorter than the region: a mapping beyond the end of the file
 * would raise SIGBUS on access and kill the VMM.  The client must refuse
 * the region or not map that part; whatever it does, the access must not
 * crash (checked in a subprocess).
 */
static void test_region_fd_short(void)
{
    VFIOUserRegionInfo ri = {
        .argsz = sizeof(ri),
        .index = 0,
        .size = 0x4000,
        .flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                 VFIO_REGION_INFO_FLAG_MMAP,
    };
    VFIOUserDevice dev;
    GError *err = NULL;
    uint64_t v = 0;
    int fd;
    Case c;

    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 10 * G_USEC_PER_SEC, 0);
        if (!g_test_trap_has_passed()) {
            g_test_fail_printf(
                "a region fd shorter than the region crashed the client (SIGBUS?)");
        }
        return;
    }
    case_begin(&c);
    fd = memfd_of(0x1000);
    fake_version(c.fs, NULL);
    script_device(c.fs, 1);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_REGION_INFO);
    fake_reply_ex(c.fs, NULL, &ri, sizeof(ri), &fd, 1);
    fake_echo_until_eof(c.fs);
    close(fd);
    case_connect(&c, 2000);
    if (vfio_user_device_init(&dev, c.p, &err)) {
        vfio_user_region_read(&dev, 0, 0x3000, &v, sizeof(v), NULL);
        vfio_user_region_write(&dev, 0, 0x3000, &v, sizeof(v), false, NULL);
        vfio_user_device_cleanup(&dev);
    } else {
        assert_err(err, EPROTO);
        g_error_free(err);
    }
    case_end(&c);
}

/*
 * An "ioeventfd" that is really the write end of a pipe nobody reads: once
 * the pipe is full, signalling it must not block the guest's MMIO writes
 * forever.  The client must refuse the fd or not block on it (checked in
 * a subprocess with a time limit).
 */
static void test_ioeventfd_pipe(void)
{
    struct VFIO_USER_PACKED {
        VFIOUserRegionIOFds h;
        VFIOUserSubRegionIOFd e;
    } reply = {
        .h = {.argsz = sizeof(reply), .index = 0, .count = 1},
        .e = {.offset = 0x10,
              .size = 4,
              .fd_index = 0,
              .type = VFIO_USER_IO_FD_TYPE_IOEVENTFD},
    };
    VFIOUserDevice dev;
    GError *err = NULL;
    uint32_t v = 1;
    int pipefd[2];
    Case c;

    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 10 * G_USEC_PER_SEC, 0);
        if (!g_test_trap_has_passed()) {
            g_test_fail_printf(
                "MMIO writes blocked on an ioeventfd that is a full pipe");
        }
        return;
    }
    case_begin(&c);
    g_assert_cmpint(pipe(pipefd), ==, 0);
    fake_version(c.fs, NULL);
    script_device(c.fs, 1);
    script_region(c.fs, 0, 4096);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_REGION_IO_FDS);
    fake_reply_ex(c.fs, NULL, &reply, sizeof(reply), &pipefd[1], 1);
    fake_echo_until_eof(c.fs);
    close(pipefd[1]);
    case_connect(&c, 2000);
    g_assert_true(vfio_user_device_init(&dev, c.p, &err));
    g_assert_no_error(err);
    if (vfio_user_device_get_region_io_fds(&dev, 0, &err)) {
        /* 20000 writes of 8 bytes overfill a 64 KiB pipe. */
        for (int i = 0; i < 20000; i++) {
            vfio_user_region_write(&dev, 0, 0x10, &v, sizeof(v), false, NULL);
        }
    } else {
        g_error_free(err);
    }
    vfio_user_device_cleanup(&dev);
    close(pipefd[0]);
    case_end(&c);
}

/* REGION_READ replies whose echo lies (count, offset, region) or whose
 * length does not match: an error, the caller's buffer all-ones. */
static void test_region_read_lies(void)
{
    static const struct {
        uint64_t offset;
        uint32_t region, count;
        size_t data;
        int want;
    } lies[] = {
        {0, 0, 0xffffffffu, 8, EPROTO},           /* "negative" count */
        {0, 0, 0x7fffffffu, 8, EPROTO},           /* huge count */
        {0xfffffffffffffff8ull, 0, 8, 8, EPROTO}, /* other offset */
        {0, 7, 8, 8, EPROTO},                     /* other region */
        {0, 0, 8, 4, EPROTO},                     /* short data */
        {0, 0, 8, 4000, EMSGSIZE},                /* more data than asked */
    };
    VFIOUserDevice dev;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    script_device(c.fs, 1);
    script_region(c.fs, 0, 4096);
    for (size_t i = 0; i < G_N_ELEMENTS(lies); i++) {
        uint8_t buf[sizeof(VFIOUserRegionRW) + 4000] = {0};
        VFIOUserRegionRW rw = {.offset = lies[i].offset,
                               .region = lies[i].region,
                               .count = lies[i].count};

        memcpy(buf, &rw, sizeof(rw));
        fake_expect(c.fs, VFIO_USER_REGION_READ);
        fake_reply(c.fs, buf, sizeof(rw) + lies[i].data);
    }
    fake_stall(c.fs);
    case_connect(&c, 2000);
    g_assert_true(vfio_user_device_init(&dev, c.p, &err));
    g_assert_no_error(err);
    for (size_t i = 0; i < G_N_ELEMENTS(lies); i++) {
        uint64_t v = 0;

        g_assert_false(vfio_user_region_read(&dev, 0, 0, &v, sizeof(v), &err));
        assert_err(err, lies[i].want);
        g_clear_error(&err);
        g_assert_cmphex(v, ==, UINT64_MAX);
    }
    /* None of these lies is a reason to drop the connection. */
    g_assert_cmpint(vfio_user_proxy_state(c.p), ==, VFIO_PROXY_CONNECTED);
    vfio_user_device_cleanup(&dev);
    case_end(&c);
}

int main(int argc, char **argv)
{
    /* Go on past a failed case, so that one run reports every failure. */
    vut_init_keep_going(&argc, &argv);
    /* Warnings about the hostile peer are expected; criticals are not. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

    g_test_add_func("/hostile-server/device/caps-loop", test_region_caps_loop);
    g_test_add_func("/hostile-server/device/caps-outside",
                    test_region_caps_outside);
    g_test_add_func("/hostile-server/device/sparse-outside",
                    test_region_sparse_outside);
    g_test_add_func("/hostile-server/device/info-argsz",
                    test_region_info_argsz);
    g_test_add_func("/hostile-server/device/too-many-regions",
                    test_device_too_many);
    g_test_add_func("/hostile-server/device/region-read-lies",
                    test_region_read_lies);
    g_test_add_func("/hostile-server/device/region-fd-short",
                    test_region_fd_short);
    g_test_add_func("/hostile-server/device/ioeventfd-pipe",
                    test_ioeventfd_pipe);
    return g_test_run();
}
