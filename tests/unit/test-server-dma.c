/*
 * Unit tests of libvfio-user-server DMA: the DMA_MAP rules of the access
 * mode change one by one, DMA_UNMAP, and vus_dma_read()/vus_dma_write() in
 * the mmap, file-io and message modes (splits at map boundaries and at
 * max_data_xfer_size, two requests in flight, permissions), plus a replay of
 * the DMA_MAP requests of a recorded session
 * (tests/data/libvfio-user-access-modes.jsonl).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include "server-conn.h"
#include "vfu-test.h"

#define R VFIO_USER_DMA_MAP_F_READ
#define W VFIO_USER_DMA_MAP_F_WRITE
#define RW (R | W)
#define MMAP VFIO_USER_DMA_MAP_F_MODE_MMAP
#define FILE_IO VFIO_USER_DMA_MAP_F_MODE_FILE_IO
#define MAPSZ 0x10000

/* Mode of the map at @addr (asserts it exists). */
static VusDmaMode map_mode(TestConn *tc, uint64_t addr, VusDmaMapInfo *out)
{
    g_autoptr(GArray) maps = vus_dma_get_maps(tc->srv);

    for (guint i = 0; i < maps->len; i++) {
        VusDmaMapInfo *m = &g_array_index(maps, VusDmaMapInfo, i);

        if (m->addr == addr) {
            if (out) {
                *out = *m;
            }
            return m->mode;
        }
    }
    g_assert_not_reached();
}

static guint map_count(TestConn *tc)
{
    g_autoptr(GArray) maps = vus_dma_get_maps(tc->srv);

    return maps->len;
}

static void test_map_seed(void)
{
    TestConn *tc = tc_start(NULL);
    int fd = test_memfd(4 * MAPSZ, 0);
    VusDmaMapInfo info;

    /* A mode bit that needs an fd, without one: EINVAL (each bit). */
    g_assert_cmpint(tc_dma_map(tc, RW | MMAP, 0, 0x100000, MAPSZ, -1), ==,
                    EINVAL);
    g_assert_cmpint(tc_dma_map(tc, RW | FILE_IO, 0, 0x100000, MAPSZ, -1), ==,
                    EINVAL);
    /* Both bits: EINVAL, with or without an fd. */
    g_assert_cmpint(tc_dma_map(tc, RW | MMAP | FILE_IO, 0, 0x100000, MAPSZ, fd),
                    ==, EINVAL);
    g_assert_cmpint(tc_dma_map(tc, RW | MMAP | FILE_IO, 0, 0x100000, MAPSZ, -1),
                    ==, EINVAL);
    /* Unknown bit. */
    g_assert_cmpint(tc_dma_map(tc, RW | (1u << 4), 0, 0x100000, MAPSZ, fd), ==,
                    EINVAL);
    g_assert_cmpuint(map_count(tc), ==, 0);

    /* No mode bit + fd: mmap; no mode bit, no fd: message. */
    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x100000, MAPSZ, fd), ==, 0);
    g_assert_cmpint(map_mode(tc, 0x100000, &info), ==, VUS_DMA_MODE_MMAP);
    g_assert_true(info.has_fd);
    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x200000, MAPSZ, -1), ==, 0);
    g_assert_cmpint(map_mode(tc, 0x200000, &info), ==, VUS_DMA_MODE_MESSAGE);
    g_assert_false(info.has_fd);
    /* Explicit modes. */
    g_assert_cmpint(tc_dma_map(tc, RW | MMAP, MAPSZ, 0x300000, MAPSZ, fd), ==,
                    0);
    g_assert_cmpint(map_mode(tc, 0x300000, NULL), ==, VUS_DMA_MODE_MMAP);
    g_assert_cmpint(
        tc_dma_map(tc, RW | FILE_IO, 2 * MAPSZ, 0x400000, MAPSZ, fd), ==, 0);
    g_assert_cmpint(map_mode(tc, 0x400000, &info), ==, VUS_DMA_MODE_FILE_IO);
    g_assert_cmpuint(info.fd_offset, ==, 2 * MAPSZ);
    g_assert_cmpuint(info.flags, ==, RW | FILE_IO);
    g_assert_cmpstr(vus_dma_mode_name(info.mode), ==, "file-io");

    /* Overlap, exact repeat, repeat with another mode: EEXIST. */
    g_assert_cmpint(tc_dma_map(tc, RW | MMAP, 0, 0x3f8000, MAPSZ, fd), ==,
                    EEXIST);
    g_assert_cmpint(tc_dma_map(tc, RW | MMAP, 0, 0x30f000, MAPSZ, fd), ==,
                    EEXIST);
    g_assert_cmpint(tc_dma_map(tc, RW | MMAP, MAPSZ, 0x300000, MAPSZ, fd), ==,
                    EEXIST);
    g_assert_cmpint(tc_dma_map(tc, RW | FILE_IO, MAPSZ, 0x300000, MAPSZ, fd),
                    ==, EEXIST);
    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x0, 0x1000000, -1), ==, EEXIST);
    g_assert_cmpuint(map_count(tc), ==, 4);
    close(fd);
    g_assert_true(tc_finish(tc));
}

static int map_raw(TestConn *tc, const VFIOUserDMAMap *m, size_t len,
                   const int *fds, size_t nfds)
{
    return tc_call(tc, VFIO_USER_DMA_MAP, m, len, fds, nfds, NULL);
}

static void test_map_errors(void)
{
    unsigned before = vut_count_fds();
    TestConn *tc = tc_new(NULL);
    int fd = test_memfd(MAPSZ, 0);
    int fds[2] = {fd, fd};
    int pipefd[2], mmap_errno;
    VFIOUserDMAMap m = {
        .argsz = 32, .flags = RW, .addr = 0x1000, .size = MAPSZ};
    VFIOUserCaps caps;

    vfio_user_caps_init_ours(&caps);
    caps.max_dma_maps = 2;
    tc_negotiate_caps(tc, &caps);
    m.argsz = 31;
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), NULL, 0), ==, EINVAL);
    m.argsz = 32;
    g_assert_cmpint(map_raw(tc, &m, 24, NULL, 0), ==, EINVAL);
    m.size = 0;
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), NULL, 0), ==, EINVAL);
    m.size = MAPSZ;
    m.addr = UINT64_MAX - 0x1000;
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), NULL, 0), ==, EINVAL);
    m.addr = 0x1000;
    m.offset = UINT64_MAX - 0x1000;
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), &fd, 1), ==, EINVAL);
    m.offset = (uint64_t)INT64_MAX - 0x1000; /* beyond any off_t */
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), &fd, 1), ==, EINVAL);
    m.offset = 0;
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), fds, 2), ==, EINVAL);
    /* mmap() refuses a pipe: its errno comes back. */
    g_assert_cmpint(pipe(pipefd), ==, 0);
    g_assert_true(mmap(NULL, MAPSZ, PROT_READ | PROT_WRITE, MAP_SHARED,
                       pipefd[0], 0) == MAP_FAILED);
    mmap_errno = errno;
    m.flags = RW | MMAP;
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), &pipefd[0], 1), ==, mmap_errno);
    close(pipefd[0]);
    close(pipefd[1]);
    /* A memfd shorter than offset + size would be SIGBUS on access. */
    m.flags = RW;
    m.offset = 4096;
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), &fd, 1), ==, EINVAL);
    m.offset = 0;
    g_assert_cmpuint(map_count(tc), ==, 0);
    /* max_dma_maps (the client offered 2). */
    m.flags = RW;
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), NULL, 0), ==, 0);
    m.addr = 0x100000;
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), &fd, 1), ==, 0);
    m.addr = 0x200000;
    g_assert_cmpint(map_raw(tc, &m, sizeof(m), NULL, 0), ==, ENOSPC);
    close(fd);
    g_assert_true(tc_hangup(tc));
    g_assert_cmpuint(map_count(tc), ==, 0); /* gone with the client */
    tc_free(tc);
    g_assert_cmpuint(vut_count_fds(), ==, before);
}

static void test_legacy(void)
{
    VusServerOptions opts = {.legacy_dma_map = true};
    TestConn *tc = tc_start(&opts);
    int fd = test_memfd(MAPSZ, 0);

    g_assert_cmpint(tc_dma_map(tc, RW | MMAP, 0, 0x100000, MAPSZ, fd), ==,
                    EINVAL);
    g_assert_cmpint(tc_dma_map(tc, RW | FILE_IO, 0, 0x100000, MAPSZ, fd), ==,
                    EINVAL);
    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x100000, MAPSZ, fd), ==, 0);
    g_assert_cmpint(map_mode(tc, 0x100000, NULL), ==, VUS_DMA_MODE_MMAP);
    g_assert_cmpint(tc_dma_map(tc, R, 0, 0x200000, MAPSZ, -1), ==, 0);
    g_assert_cmpint(map_mode(tc, 0x200000, NULL), ==, VUS_DMA_MODE_MESSAGE);
    close(fd);
    g_assert_true(tc_finish(tc));
}

static void test_unmap(void)
{
    TestConn *tc = tc_start(NULL);
    VFIOUserDMAUnmap u = {.argsz = 16};

    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x100000, MAPSZ, -1), ==, 0);
    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x200000, MAPSZ, -1), ==, 0);
    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x300000, MAPSZ, -1), ==, 0);
    g_assert_cmpint(tc_dma_unmap(tc, 0, 0x100000, MAPSZ / 2), ==, ENOENT);
    g_assert_cmpint(tc_dma_unmap(tc, 0, 0x108000, MAPSZ / 2), ==, ENOENT);
    g_assert_cmpint(tc_dma_unmap(tc, 0, 0x500000, MAPSZ), ==, ENOENT);
    g_assert_cmpint(
        tc_dma_unmap(tc, VFIO_USER_DMA_UNMAP_F_ALL, 0x100000, MAPSZ), ==,
        EINVAL);
    g_assert_cmpint(tc_dma_unmap(tc, 4, 0x100000, MAPSZ), ==, EINVAL);
    g_assert_cmpint(tc_dma_unmap(tc, VFIO_USER_DMA_UNMAP_F_GET_DIRTY_BITMAP,
                                 0x100000, MAPSZ),
                    ==, ENOTSUP);
    g_assert_cmpint(
        tc_call(tc, VFIO_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0, NULL), ==,
        EINVAL);
    g_assert_cmpint(tc_dma_unmap(tc, 0, 0x200000, MAPSZ), ==, 0);
    g_assert_cmpint(tc_dma_unmap(tc, 0, 0x200000, MAPSZ), ==, ENOENT);
    g_assert_cmpuint(map_count(tc), ==, 2);
    g_assert_cmpint(tc_dma_unmap(tc, VFIO_USER_DMA_UNMAP_F_ALL, 0, 0), ==, 0);
    g_assert_cmpuint(map_count(tc), ==, 0);
    g_assert_true(tc_finish(tc));
}

/* vus_dma_* straight from the test thread (no client round trip). */
static void check_fd_mode(uint32_t mode_bit, VusDmaMode mode)
{
    TestConn *tc = tc_start(NULL);
    int fd = test_memfd(3 * MAPSZ, 0x10);
    uint8_t buf[300], back[300];
    g_autoptr(GError) err = NULL;
    VusDmaMapInfo info;

    /* The map starts at fd offset MAPSZ. */
    g_assert_cmpint(
        tc_dma_map(tc, RW | mode_bit, MAPSZ, 0x40000, 2 * MAPSZ, fd), ==, 0);
    g_assert_cmpint(map_mode(tc, 0x40000, NULL), ==, mode);
    g_assert_true(
        vus_dma_read(tc->srv, 0x40000 + 100, buf, sizeof(buf), &error_abort));
    for (size_t i = 0; i < sizeof(buf); i++) {
        g_assert_cmpuint(buf[i], ==, (uint8_t)(0x10 + MAPSZ + 100 + i));
    }
    memset(buf, 0xee, sizeof(buf));
    g_assert_true(vus_dma_write(tc->srv, 0x40000 + MAPSZ - 50, buf, sizeof(buf),
                                &error_abort));
    g_assert_cmpint(pread(fd, back, sizeof(back), 2 * MAPSZ - 50), ==,
                    sizeof(back));
    g_assert_cmpmem(buf, sizeof(buf), back, sizeof(back));
    map_mode(tc, 0x40000, &info);
    g_assert_cmpuint(info.bytes_read, ==, sizeof(buf));
    g_assert_cmpuint(info.bytes_written, ==, sizeof(buf));
    /* Past the end of the map. */
    g_assert_false(
        vus_dma_read(tc->srv, 0x40000 + 2 * MAPSZ - 10, buf, 20, &err));
    g_assert_error(err, VFIO_USER_ERROR, EFAULT);
    close(fd);
    g_assert_true(tc_finish(tc));
}

static void test_mmap_mode(void)
{
    check_fd_mode(MMAP, VUS_DMA_MODE_MMAP);
    check_fd_mode(0, VUS_DMA_MODE_MMAP);
}

static void test_file_io_mode(void)
{
    check_fd_mode(FILE_IO, VUS_DMA_MODE_FILE_IO);
}

static void test_message_mode(void)
{
    TestConn *tc = tc_new(NULL);
    size_t len = 10000;
    VusDmaMapInfo info;
    g_autofree uint8_t *guest = g_malloc(2 * MAPSZ);

    tc_negotiate(tc, 4096);
    tc->guest_size = 2 * MAPSZ;
    tc->guest_base = 0x80000;
    tc->guest = guest;
    for (size_t i = 0; i < tc->guest_size; i++) {
        tc->guest[i] = (uint8_t)(i * 7);
    }
    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x80000, 2 * MAPSZ, -1), ==, 0);
    /* The device reads guest memory: three DMA_READs of <= 4096 bytes. */
    g_assert_cmpuint(tc_dev_dma(tc, 1, 0x80000 + 5, len), ==, 0);
    g_assert_cmpuint(tc->dma_reads, ==, 3);
    g_assert_cmpuint(tc->dma_max_count, ==, 4096);
    g_assert_cmpmem(tc->dev.buf, len, tc->guest + 5, len);
    /* and writes it back elsewhere. */
    g_assert_cmpuint(tc_dev_dma(tc, 2, 0x80000 + MAPSZ, len), ==, 0);
    g_assert_cmpuint(tc->dma_writes, ==, 3);
    g_assert_cmpmem(tc->guest + MAPSZ, len, tc->guest + 5, len);
    map_mode(tc, 0x80000, &info);
    g_assert_cmpuint(info.bytes_read, ==, len);
    g_assert_cmpuint(info.bytes_written, ==, len);
    /* The client refuses: its errno reaches the device. */
    tc->dma_errno = EIO;
    g_assert_cmpuint(tc_dev_dma(tc, 1, 0x80000, 16), ==, EIO);
    tc->dma_errno = 0;
    g_assert_cmpuint(tc_dev_dma(tc, 1, 0x80000, 16), ==, 0);
    g_assert_true(tc_finish(tc));
}

/* Read one DMA_READ request of the server (the fake client's side). */
static void read_dma_request(TestConn *tc, VFIOUserHdr *hdr, VFIOUserDMARW *rw)
{
    int fds[1];
    size_t nfds;

    g_assert_true(tc_readable(tc, 10000));
    g_assert_true(vfio_user_msg_recv_hdr(tc->sock, hdr, fds, &nfds, 1, 1 << 20,
                                         &error_abort));
    g_assert_cmpuint(nfds, ==, 0);
    g_assert_cmpuint(hdr->cmd, ==, VFIO_USER_DMA_READ);
    g_assert_cmpuint(hdr->size, ==, sizeof(*hdr) + sizeof(*rw));
    g_assert_true(
        vfio_user_msg_recv_body(tc->sock, rw, sizeof(*rw), &error_abort));
}

/*
 * A transfer of several chunks keeps two requests in flight; when the
 * first fails, the second's reply is consumed, no third is sent, and the
 * next transfer is not confused by what was outstanding.
 */
static void test_message_window(void)
{
    TestConn *tc = tc_new(NULL);
    g_autofree uint8_t *guest = g_malloc(MAPSZ);
    uint8_t req[sizeof(VFIOUserRegionRW) + 4];
    VFIOUserRegionRW rrw = {.offset = 0x0c, .region = 0, .count = 4};
    uint64_t addr = 0x80000;
    uint32_t len = 3 * 4096, cmd = 1, status = 0;
    VFIOUserDMARW rw1, rw2;
    VFIOUserHdr h1, h2, rh;
    uint16_t id;

    tc_negotiate(tc, 4096);
    tc->guest_size = MAPSZ;
    tc->guest_base = addr;
    tc->guest = guest;
    for (size_t i = 0; i < MAPSZ; i++) {
        guest[i] = (uint8_t)(i * 3);
    }
    g_assert_cmpint(tc_dma_map(tc, RW, 0, addr, MAPSZ, -1), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x00, &addr, 8), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x08, &len, 4), ==, 0);
    memcpy(req, &rrw, sizeof(rrw));
    memcpy(req + sizeof(rrw), &cmd, 4);
    id = tc_send(tc, VFIO_USER_REGION_WRITE, VFIO_USER_F_TYPE_REQUEST, req,
                 sizeof(req), NULL, 0);
    /* Two requests before any reply, then the server waits. */
    read_dma_request(tc, &h1, &rw1);
    read_dma_request(tc, &h2, &rw2);
    g_assert_cmpuint(rw1.addr, ==, addr);
    g_assert_cmpuint(rw2.addr, ==, addr + 4096);
    g_assert_cmpuint(rw2.count, ==, 4096);
    g_assert_cmpuint(h1.id, !=, h2.id);
    g_assert_false(tc_readable(tc, 100));
    /* The first fails; the second succeeds but the transfer is over. */
    g_assert_true(vfio_user_msg_send_error(tc->sock, &h1, EIO, &error_abort));
    vfio_user_hdr_init(&rh, h2.id, h2.cmd, sizeof(rh) + sizeof(rw2) + 4096,
                       VFIO_USER_F_TYPE_REPLY);
    {
        struct iovec iov[3] = {
            {&rh, sizeof(rh)}, {&rw2, sizeof(rw2)}, {guest + 4096, 4096}};

        g_assert_true(
            vfio_user_msg_sendv(tc->sock, iov, 3, NULL, 0, &error_abort));
    }
    g_assert_cmpint(tc_wait(tc, id, NULL), ==, 0);
    g_assert_cmpuint(tc->dma_reads, ==, 0); /* no third chunk */
    g_assert_cmpint(tc_region_read(tc, 0, 0x10, &status, 4), ==, 0);
    g_assert_cmpuint(status, ==, EIO);
    /* The next transfer is answered normally, all three chunks. */
    g_assert_cmpuint(tc_dev_dma(tc, 1, addr + 1, len), ==, 0);
    g_assert_cmpuint(tc->dma_reads, ==, 3);
    g_assert_cmpmem(tc->dev.buf, len, guest + 1, len);
    g_assert_true(tc_finish(tc));
}

/* Answer a DMA_READ read by read_dma_request() from @guest (at @base). */
static void reply_dma_read(TestConn *tc, const VFIOUserHdr *h,
                           const VFIOUserDMARW *rw, const uint8_t *guest,
                           uint64_t base)
{
    VFIOUserHdr rh;
    struct iovec iov[3] = {
        {&rh, sizeof(rh)},
        {(void *)rw, sizeof(*rw)},
        {(void *)(guest + (rw->addr - base)), rw->count},
    };

    vfio_user_hdr_init(&rh, h->id, h->cmd, sizeof(rh) + sizeof(*rw) + rw->count,
                       VFIO_USER_F_TYPE_REPLY);
    g_assert_true(vfio_user_msg_sendv(tc->sock, iov, 3, NULL, 0, &error_abort));
}

/*
 * dma_msg_chunk and dma_msg_window: requests of the chunk size, as many in
 * flight as asked; a chunk above max_data_xfer_size is cut to it, and a
 * window above the maximum is refused.
 */
static void test_message_knobs(void)
{
    VusServerOptions opts = {.dma_msg_chunk = 4096, .dma_msg_window = 3};
    VusServerOptions bad = {.dma_msg_window =
                                VUS_SERVER_MAX_DMA_MSG_WINDOW + 1};
    TestConn *tc = tc_start(&opts);
    g_autofree uint8_t *guest = g_malloc(MAPSZ);
    uint8_t req[sizeof(VFIOUserRegionRW) + 4];
    VFIOUserRegionRW rrw = {.offset = 0x0c, .region = 0, .count = 4};
    uint64_t addr = 0x80000;
    uint32_t len = 4 * 4096, cmd = 1;
    VFIOUserDMARW rw[4];
    VFIOUserHdr h[4];
    g_autoptr(GError) err = NULL;
    uint16_t id;

    g_assert_null(vus_server_new(NULL, &bad, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    tc->guest_size = MAPSZ;
    tc->guest_base = addr;
    tc->guest = guest;
    for (size_t i = 0; i < MAPSZ; i++) {
        guest[i] = (uint8_t)(i * 5);
    }
    g_assert_cmpint(tc_dma_map(tc, RW, 0, addr, MAPSZ, -1), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x00, &addr, 8), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x08, &len, 4), ==, 0);
    memcpy(req, &rrw, sizeof(rrw));
    memcpy(req + sizeof(rrw), &cmd, 4);
    id = tc_send(tc, VFIO_USER_REGION_WRITE, VFIO_USER_F_TYPE_REQUEST, req,
                 sizeof(req), NULL, 0);
    /* Three 4 KiB requests (of a 1 MiB max_data_xfer_size), then a wait. */
    for (int i = 0; i < 3; i++) {
        read_dma_request(tc, &h[i], &rw[i]);
        g_assert_cmpuint(rw[i].addr, ==, addr + i * 4096);
        g_assert_cmpuint(rw[i].count, ==, 4096);
    }
    g_assert_false(tc_readable(tc, 100));
    reply_dma_read(tc, &h[0], &rw[0], guest, addr);
    read_dma_request(tc, &h[3], &rw[3]);
    g_assert_cmpuint(rw[3].addr, ==, addr + 3 * 4096);
    for (int i = 1; i < 4; i++) {
        reply_dma_read(tc, &h[i], &rw[i], guest, addr);
    }
    g_assert_cmpint(tc_wait(tc, id, NULL), ==, 0);
    g_assert_cmpmem(tc->dev.buf, len, guest, len);
    g_assert_true(tc_finish(tc));

    /* A chunk above the negotiated max_data_xfer_size is cut to it. */
    opts = (VusServerOptions){.dma_msg_chunk = 8192};
    tc = tc_new(&opts);
    tc_negotiate(tc, 4096);
    tc->guest_size = MAPSZ;
    tc->guest_base = addr;
    tc->guest = guest;
    g_assert_cmpint(tc_dma_map(tc, RW, 0, addr, MAPSZ, -1), ==, 0);
    g_assert_cmpuint(tc_dev_dma(tc, 1, addr, len), ==, 0);
    g_assert_cmpuint(tc->dma_reads, ==, 4);
    g_assert_cmpuint(tc->dma_max_count, ==, 4096);
    g_assert_true(tc_finish(tc));
}

static void test_span_and_permissions(void)
{
    TestConn *tc = tc_start(NULL);
    int fd = test_memfd(MAPSZ, 0);
    uint8_t back[0x200];
    g_autofree uint8_t *guest = g_malloc0(MAPSZ);

    tc->guest_size = MAPSZ;
    tc->guest_base = 0x20000;
    tc->guest = guest;
    memset(tc->guest, 0x33, 0x100);
    /* [0x10000, 0x20000) mmap, [0x20000, 0x30000) message, adjacent. */
    g_assert_cmpint(tc_dma_map(tc, RW | MMAP, 0, 0x10000, MAPSZ, fd), ==, 0);
    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x20000, MAPSZ, -1), ==, 0);
    g_assert_cmpuint(tc_dev_dma(tc, 1, 0x1ff00, 0x200), ==, 0);
    g_assert_cmpuint(tc->dev.buf[0xff], ==, 0xff); /* memfd pattern */
    g_assert_cmpuint(tc->dev.buf[0x100], ==, 0x33);
    g_assert_cmpuint(tc->dma_reads, ==, 1);
    memset(tc->dev.buf, 0x44, 0x200);
    g_assert_cmpuint(tc_dev_dma(tc, 2, 0x1ff00, 0x200), ==, 0);
    g_assert_cmpuint(tc->guest[0xff], ==, 0x44);
    g_assert_cmpuint(tc->guest[0x100], ==, 0);
    /* Read-only second half: a spanning write fails before any byte. */
    g_assert_cmpint(tc_dma_unmap(tc, 0, 0x20000, MAPSZ), ==, 0);
    g_assert_cmpint(tc_dma_map(tc, R, 0, 0x20000, MAPSZ, -1), ==, 0);
    memset(tc->dev.buf, 0x55, 0x200);
    g_assert_cmpuint(tc_dev_dma(tc, 2, 0x1ff00, 0x200), ==, EPERM);
    g_assert_cmpint(pread(fd, back, 0x100, 0xff00), ==, 0x100);
    g_assert_cmpuint(back[0], ==, 0x44);
    /* Write-only map refuses reads; a gap is EFAULT. */
    g_assert_cmpint(tc_dma_map(tc, W, 0, 0x40000, MAPSZ, -1), ==, 0);
    g_assert_cmpuint(tc_dev_dma(tc, 1, 0x40000, 16), ==, EPERM);
    g_assert_cmpuint(tc_dev_dma(tc, 1, 0x2ff00, 0x200), ==, EFAULT);
    /* Unmapped: EFAULT, and the mmap is gone. */
    g_assert_cmpint(tc_dma_unmap(tc, 0, 0x10000, MAPSZ), ==, 0);
    g_assert_cmpuint(tc_dev_dma(tc, 1, 0x10000, 16), ==, EFAULT);
    g_assert_cmpuint(tc_dev_dma(tc, 1, UINT64_MAX - 8, 16), ==, EFAULT);
    close(fd);
    g_assert_true(tc_finish(tc));
}

/* Recorded reply errno for request @id (0 = OK). */
static int recorded_errno(GPtrArray *recs, unsigned id)
{
    for (guint i = 0; i < recs->len; i++) {
        VutRecord *r = g_ptr_array_index(recs, i);

        if (!r->c2s && r->hdr.id == id) {
            return (r->hdr.flags & VFIO_USER_F_ERROR) ? (int)r->hdr.error : 0;
        }
    }
    g_assert_not_reached();
}

/* Replay one recorded DMA_MAP / DMA_UNMAP request; returns our errno. */
static int replay_one(TestConn *tc, const VutRecord *r)
{
    size_t len;
    const uint8_t *p = g_bytes_get_data(r->payload, &len);
    int nfds = (int)r->nfds;
    uint16_t cmd = r->hdr.cmd;
    VFIOUserDMAMap m;
    int fd = -1, ret;

    if (nfds) {
        g_assert_cmpint(nfds, ==, 1);
        g_assert_cmpuint(cmd, ==, VFIO_USER_DMA_MAP);
        memcpy(&m, p, sizeof(m));
        fd = memfd_create("replay", MFD_CLOEXEC);
        g_assert_cmpint(ftruncate(fd, (off_t)(m.offset + m.size)), ==, 0);
    }
    ret = tc_call(tc, cmd, p, len, &fd, nfds, NULL);
    if (fd >= 0) {
        close(fd);
    }
    return ret;
}

static void test_vectors(void)
{
    g_autoptr(GPtrArray) recs =
        vut_load_session("libvfio-user-access-modes.jsonl");
    TestConn *tc = tc_start(NULL);
    unsigned ok = 0, einval = 0, eexist = 0, unmaps = 0;

    for (guint i = 0; i < recs->len; i++) {
        VutRecord *r = g_ptr_array_index(recs, i);
        uint16_t cmd = r->hdr.cmd;
        int ours, theirs;

        if (!r->c2s ||
            (cmd != VFIO_USER_DMA_MAP && cmd != VFIO_USER_DMA_UNMAP)) {
            continue;
        }
        ours = replay_one(tc, r);
        theirs = recorded_errno(recs, r->hdr.id);
        if (cmd == VFIO_USER_DMA_UNMAP) {
            g_assert_cmpint(ours, ==, 0);
            unmaps++;
        } else if (ours != theirs) {
            /* libvfio-user: EINVAL or OK for overlaps; the seed: EEXIST. */
            g_assert_cmpint(ours, ==, EEXIST);
            eexist++;
        } else if (ours == 0) {
            ok++;
        } else {
            g_assert_cmpint(ours, ==, EINVAL);
            einval++;
        }
    }
    /* 0x3, 0xb, 0x3 and 0x7 OK; 0xf, 0x7/0xb/0xf without fd, 0x13 EINVAL;
     * the overlap and the two repeats EEXIST; four unmaps. */
    g_assert_cmpuint(ok, ==, 4);
    g_assert_cmpuint(einval, ==, 5);
    g_assert_cmpuint(eexist, ==, 3);
    g_assert_cmpuint(unmaps, ==, 4);
    g_assert_cmpuint(map_count(tc), ==, 0);
    g_assert_true(tc_finish(tc));
}

/* Fds a recorded request carried: memfds for DMA_MAP, else eventfds. */
static void make_fds(uint16_t cmd, const uint8_t *p, size_t len, int *fds,
                     int nfds)
{
    VFIOUserDMAMap m;

    for (int i = 0; i < nfds; i++) {
        if (cmd == VFIO_USER_DMA_MAP && len >= sizeof(m)) {
            memcpy(&m, p, sizeof(m));
            fds[i] = memfd_create("replay", MFD_CLOEXEC);
            g_assert_cmpint(ftruncate(fds[i], (off_t)(m.offset + m.size)), ==,
                            0);
        } else {
            fds[i] = eventfd(0, EFD_CLOEXEC);
        }
    }
}

/*
 * Replay every client request of a recorded session (payloads of up to
 * 256 bytes, the others were recorded truncated) against the test device:
 * each one is answered, information requests succeed, errors carry an
 * errno we document, and the connection survives to the end.
 */
static void replay_session(const char *file)
{
    g_autoptr(GPtrArray) recs = vut_load_session(file);
    TestConn *tc = tc_new(NULL);
    unsigned sent = 0;

    for (guint i = 0; i < recs->len; i++) {
        VutRecord *r = g_ptr_array_index(recs, i);
        uint16_t cmd = r->hdr.cmd;
        int nfds = (int)r->nfds;
        size_t len;
        const uint8_t *p = g_bytes_get_data(r->payload, &len);
        int fds[VFIO_USER_MAX_FDS], ret;

        if (!r->c2s || (r->hdr.flags & VFIO_USER_F_TYPE_REPLY) ||
            r->truncated) {
            continue;
        }
        g_assert_cmpint(nfds, <=, VFIO_USER_MAX_FDS);
        make_fds(cmd, p, len, fds, nfds);
        ret = tc_call(tc, cmd, p, len, fds, nfds, NULL);
        for (int j = 0; j < nfds; j++) {
            close(fds[j]);
        }
        if (cmd == VFIO_USER_VERSION || cmd == VFIO_USER_DEVICE_GET_INFO ||
            cmd == VFIO_USER_DEVICE_GET_IRQ_INFO ||
            cmd == VFIO_USER_DEVICE_SET_IRQS || cmd == VFIO_USER_DEVICE_RESET) {
            g_assert_cmpint(ret, ==, 0);
        } else if (ret) {
            g_assert_true(ret == EINVAL || ret == ENOTSUP || ret == ENOENT ||
                          ret == EPERM || ret == EEXIST);
        }
        sent++;
    }
    g_assert_cmpuint(sent, >, 20);
    g_assert_true(tc_finish(tc));
}

static void test_replay_sessions(void)
{
    replay_session("libvfio-user-sample-client-server.jsonl");
    replay_session("libvfio-user-gpio-client.jsonl");
}

typedef struct FlipArgs {
    volatile uint16_t *idx;
    gint stop;
} FlipArgs;

/* A driver bumping a ring index across a byte boundary, forever. */
static gpointer flip_thread(gpointer opaque)
{
    FlipArgs *a = opaque;

    while (!g_atomic_int_get(&a->stop)) {
        __atomic_store_n(a->idx, 0x06ff, __ATOMIC_RELAXED);
        __atomic_store_n(a->idx, 0x0700, __ATOMIC_RELAXED);
    }
    return NULL;
}

/*
 * An aligned 2-byte DMA read in mmap mode is one load: it sees the old
 * or the new index, never the new high byte with the old low one (which
 * memcpy()'s small-size path can produce: it loads the last byte apart).
 */
static void test_mmap_index_not_torn(void)
{
    TestConn *tc = tc_start(NULL);
    int fd = test_memfd(MAPSZ, 0);
    uint8_t *mem = mmap(NULL, MAPSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    FlipArgs a = {.idx = (volatile uint16_t *)(mem + 0x102)};
    GThread *t;

    g_assert_true(mem != MAP_FAILED);
    g_assert_cmpint(tc_dma_map(tc, RW | MMAP, 0, 0x40000, MAPSZ, fd), ==, 0);
    *a.idx = 0x06ff;
    t = g_thread_new("flip", flip_thread, &a);
    for (int i = 0; i < 300000; i++) {
        uint16_t v;

        g_assert_true(vus_dma_read(tc->srv, 0x40102, &v, 2, &error_abort));
        if (v != 0x06ff && v != 0x0700) {
            g_error("torn index read: 0x%04x", v);
        }
    }
    g_atomic_int_set(&a.stop, 1);
    g_thread_join(t);
    munmap(mem, MAPSZ);
    close(fd);
    g_assert_true(tc_finish(tc));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/server-dma/map-seed", test_map_seed);
    g_test_add_func("/server-dma/map-errors", test_map_errors);
    g_test_add_func("/server-dma/legacy", test_legacy);
    g_test_add_func("/server-dma/unmap", test_unmap);
    g_test_add_func("/server-dma/mmap-mode", test_mmap_mode);
    g_test_add_func("/server-dma/file-io-mode", test_file_io_mode);
    g_test_add_func("/server-dma/message-mode", test_message_mode);
    g_test_add_func("/server-dma/message-window", test_message_window);
    g_test_add_func("/server-dma/message-knobs", test_message_knobs);
    g_test_add_func("/server-dma/span-and-permissions",
                    test_span_and_permissions);
    g_test_add_func("/server-dma/vectors", test_vectors);
    g_test_add_func("/server-dma/replay-sessions", test_replay_sessions);
    g_test_add_func("/server-dma/mmap-index-not-torn",
                    test_mmap_index_not_torn);
    return g_test_run();
}
