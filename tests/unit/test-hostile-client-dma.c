/*
 * Malicious-client tests, DMA: libvfio-user-server against a raw client
 * that sends broken DMA_MAP / DMA_UNMAP requests (flags, ranges,
 * overlaps, fds, argsz) and hostile answers to the server's own DMA
 * requests (errors, short or misdirected replies, silence, floods, posted
 * writes while the server waits).
 *
 * After each error the server must either still answer a valid request or
 * (where the protocol leaves no choice) drop the connection with an error
 * from vus_server_run(); in both cases no fd may be left open.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib.h>

#include "raw-client.h"
#include "vfio-user/caps.h"
#include "vfio-user/error.h"
#include "vfio-user/server.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

/* ---- DMA_MAP / DMA_UNMAP ---- */

static int dma_map(Srv *s, uint32_t argsz, uint32_t flags, uint64_t offset,
                   uint64_t addr, uint64_t size, const int *fds, size_t nfds)
{
    VFIOUserDMAMap m = {.argsz = argsz,
                        .flags = flags,
                        .offset = offset,
                        .addr = addr,
                        .size = size};

    return cl_call_fds(s, VFIO_USER_DMA_MAP, &m, sizeof(m), fds, nfds, NULL, 0,
                       NULL);
}

static int dma_unmap(Srv *s, uint32_t argsz, uint32_t flags, uint64_t addr,
                     uint64_t size)
{
    VFIOUserDMAUnmap u = {
        .argsz = argsz, .flags = flags, .addr = addr, .size = size};
    VFIOUserDMAUnmap echo;

    return cl_call(s, VFIO_USER_DMA_UNMAP, &u, sizeof(u), &echo, sizeof(echo));
}

static int guest_memfd(void)
{
    int fd = memfd_create("hostile-guest", MFD_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 0x10000), ==, 0);
    return fd;
}

/* What the server must answer for DMA_MAP @flags with or without an fd. */
static int map_verdict(uint32_t flags, bool fd)
{
    uint32_t modes = flags & VFIO_USER_DMA_MAP_F_MODES;

    if (flags & ~VFIO_USER_DMA_MAP_F_ALL) {
        return EINVAL;
    }
    if (modes == VFIO_USER_DMA_MAP_F_MODES || (modes && !fd)) {
        return EINVAL;
    }
    return 0;
}

/* Every combination of the low 6 flag bits, with and without an fd. */
static void test_dma_map_flags(void)
{
    Srv *s = srv_ready();
    int fd = guest_memfd();
    unsigned ok = 0;

    for (uint32_t flags = 0; flags < 64; flags++) {
        for (int with_fd = 0; with_fd < 2; with_fd++) {
            int want = map_verdict(flags, with_fd);
            int got =
                dma_map(s, 32, flags, 0, GUEST_IOVA, GUEST_SIZE, &fd, with_fd);

            if (got != want) {
                g_test_fail_printf(
                    "DMA_MAP flags 0x%x %s fd: errno %d, expected %d", flags,
                    with_fd ? "with" : "without", got, want);
            }
            if (got == 0) {
                ok++;
                g_assert_cmpint(dma_unmap(s, 24, 0, GUEST_IOVA, GUEST_SIZE), ==,
                                0);
            }
        }
    }
    g_assert_cmpuint(ok, >, 0);
    /* Unknown high bits too. */
    g_assert_cmpint(
        dma_map(s, 32, 3 | (1u << 31), 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
        EINVAL);
    close(fd);
    assert_alive(s);
    srv_end(s);
}

static void test_dma_map_ranges(void)
{
    Srv *s = srv_ready();
    int fd = guest_memfd();

    /* size 0, address + size wrapping, fd offset + size wrapping */
    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, 0, NULL, 0), ==, EINVAL);
    g_assert_cmpint(dma_map(s, 32, 3, 0, UINT64_MAX - 0xfff, 0x2000, NULL, 0),
                    ==, EINVAL);
    g_assert_cmpint(dma_map(s, 32, 3, 0, 0, UINT64_MAX, NULL, 0), ==, 0);
    g_assert_cmpint(dma_unmap(s, 24, 0, 0, UINT64_MAX), ==, 0);
    g_assert_cmpint(dma_map(s, 32, 3 | VFIO_USER_DMA_MAP_F_MODE_FILE_IO,
                            UINT64_MAX - 0xfff, GUEST_IOVA, 0x2000, &fd, 1),
                    ==, EINVAL);
    /* a map larger than the file (touching it would be SIGBUS) */
    g_assert_cmpint(dma_map(s, 32, 3 | VFIO_USER_DMA_MAP_F_MODE_MMAP, 0,
                            GUEST_IOVA, 0x20000, &fd, 1),
                    !=, 0);
    /* an mmap beyond what the file can give fails, nothing kept */
    g_assert_cmpint(dma_map(s, 32, 3 | VFIO_USER_DMA_MAP_F_MODE_MMAP,
                            1ull << 62, GUEST_IOVA, 0x2000, &fd, 1),
                    !=, 0);
    close(fd);
    assert_alive(s);
    srv_end(s);
}

static void test_dma_map_overlap(void)
{
    Srv *s = srv_ready();

    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
                    0);
    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
                    EEXIST);
    g_assert_cmpint(dma_map(s, 32, 1, 0, GUEST_IOVA - 0x1000, 0x2000, NULL, 0),
                    ==, EEXIST);
    g_assert_cmpint(dma_map(s, 32, 1, 0, GUEST_IOVA + 0xfff, 1, NULL, 0), ==,
                    EEXIST);
    g_assert_cmpint(dma_map(s, 32, 1, 0, 0, UINT64_MAX, NULL, 0), ==, EEXIST);
    g_assert_cmpint(
        dma_map(s, 32, 1, 0, GUEST_IOVA + GUEST_SIZE, 0x1000, NULL, 0), ==, 0);
    srv_end(s);
}

static void test_dma_map_fds(void)
{
    int fds[9];
    Srv *s = srv_ready();

    for (size_t i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = guest_memfd();
    }
    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, GUEST_SIZE, fds, 2), ==,
                    EINVAL);
    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, GUEST_SIZE, fds, 9), ==,
                    EINVAL);
    /* an fd that mmap() refuses, with the mmap bit */
    {
        int pipefd[2];

        g_assert_cmpint(pipe(pipefd), ==, 0);
        g_assert_cmpint(dma_map(s, 32, 3 | VFIO_USER_DMA_MAP_F_MODE_MMAP, 0,
                                GUEST_IOVA, GUEST_SIZE, pipefd, 1),
                        !=, 0);
        close(pipefd[0]);
        close(pipefd[1]);
    }
    vfio_user_close_fds(fds, G_N_ELEMENTS(fds));
    assert_alive(s);
    srv_end(s);
}

static void test_dma_map_argsz(void)
{
    VFIOUserDMAMap m = {
        .argsz = 32, .flags = 3, .addr = GUEST_IOVA, .size = GUEST_SIZE};
    Srv *s = srv_ready();

    g_assert_cmpint(dma_map(s, 16, 3, 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
                    EINVAL);
    g_assert_cmpint(dma_map(s, 0, 3, 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
                    EINVAL);
    expect_error(s, VFIO_USER_DMA_MAP, &m, 16, EINVAL);
    expect_error(s, VFIO_USER_DMA_MAP, &m, 0, EINVAL);
    srv_end(s);
}

static void test_dma_unmap_bad(void)
{
    Srv *s = srv_ready();

    g_assert_cmpint(dma_unmap(s, 24, 0, GUEST_IOVA, GUEST_SIZE), ==, ENOENT);
    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, 0x4000, NULL, 0), ==, 0);
    g_assert_cmpint(dma_unmap(s, 24, 0, GUEST_IOVA, 0x1000), ==, ENOENT);
    g_assert_cmpint(dma_unmap(s, 24, 0, GUEST_IOVA + 0x1000, 0x3000), ==,
                    ENOENT);
    g_assert_cmpint(dma_unmap(s, 24, 0, 0, UINT64_MAX), ==, ENOENT);
    g_assert_cmpint(dma_unmap(s, 8, 0, GUEST_IOVA, 0x4000), ==, EINVAL);
    g_assert_cmpint(dma_unmap(s, 24, 1u << 7, GUEST_IOVA, 0x4000), ==, EINVAL);
    g_assert_cmpint(dma_unmap(s, 24, VFIO_USER_DMA_UNMAP_F_ALL, GUEST_IOVA, 0),
                    ==, EINVAL);
    g_assert_cmpint(dma_unmap(s, 24, VFIO_USER_DMA_UNMAP_F_GET_DIRTY_BITMAP,
                              GUEST_IOVA, 0x4000),
                    ==, ENOTSUP);
    expect_error(s, VFIO_USER_DMA_UNMAP, "short", 5, EINVAL);
    g_assert_cmpint(dma_unmap(s, 24, 0, GUEST_IOVA, 0x4000), ==, 0);
    srv_end(s);
}

/* ---- hostile answers to the server's DMA requests ---- */

/* Start a device DMA through BAR0: what cl_call() of the GO write gives. */
static int device_dma_go(Srv *s, uint64_t addr, uint32_t len)
{
    uint8_t p[sizeof(VFIOUserRegionRW) + 8];
    VFIOUserRegionRW rw = {.region = 0, .count = 8, .offset = R_DMA_ADDR};
    uint8_t reply[64];

    memcpy(p, &rw, sizeof(rw));
    memcpy(p + sizeof(rw), &addr, 8);
    g_assert_cmpint(
        cl_call(s, VFIO_USER_REGION_WRITE, p, sizeof(p), reply, sizeof(reply)),
        ==, 0);
    rw.offset = R_DMA_LEN;
    rw.count = 4;
    memcpy(p, &rw, sizeof(rw));
    memcpy(p + sizeof(rw), &len, 4);
    g_assert_cmpint(cl_call(s, VFIO_USER_REGION_WRITE, p, sizeof(rw) + 4, reply,
                            sizeof(reply)),
                    ==, 0);
    rw.offset = R_DMA_GO;
    memcpy(p, &rw, sizeof(rw));
    return cl_call(s, VFIO_USER_REGION_WRITE, p, sizeof(rw) + 4, reply,
                   sizeof(reply));
}

/* Map guest memory for messages, start a device DMA through BAR0 and
 * return the device's status (errno of vus_dma_read()). */
static uint32_t device_dma(Srv *s, uint64_t addr, uint32_t len)
{
    uint32_t status = UINT32_MAX;

    g_assert_cmpint(device_dma_go(s, addr, len), ==, 0);
    g_assert_cmpint(region_read(s, 0, R_DMA_STATUS, 4, &status), ==, 0);
    return status;
}

static Srv *srv_with_guest(DmaAnswer answer)
{
    Srv *s = srv_ready();

    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
                    0);
    s->answer = answer;
    return s;
}

static void test_dma_reply_ok(void)
{
    Srv *s = srv_with_guest(DMA_OK);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, 0);
    g_assert_cmpuint(s->dma_buf[63], ==, 0x3c);
    g_assert_cmpuint(s->dma_requests, ==, 1);
    /* Outside the map: refused by the server without asking us. */
    g_assert_cmpuint(device_dma(s, GUEST_IOVA + GUEST_SIZE, 64), ==, EFAULT);
    g_assert_cmpuint(s->dma_requests, ==, 1);
    srv_end(s);
}

static void test_dma_reply_error(void)
{
    Srv *s = srv_with_guest(DMA_ERROR);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, EFAULT);
    assert_alive(s);
    srv_end(s);
}

static void test_dma_reply_short(void)
{
    Srv *s = srv_with_guest(DMA_SHORT);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, EPROTO);
    assert_alive(s);
    s->answer = DMA_OK;
    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, 0);
    srv_end(s);
}

static void test_dma_reply_wrong_id(void)
{
    Srv *s = srv_with_guest(DMA_WRONG_ID);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, 0);
    assert_alive(s);
    srv_end(s);
}

static void test_dma_reply_silent(void)
{
    gint64 t0 = g_get_monotonic_time();
    Srv *s = srv_with_guest(DMA_SILENT);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, ETIMEDOUT);
    g_assert_cmpint((g_get_monotonic_time() - t0) / 1000, <,
                    DMA_TIMEOUT_MS + 2000);
    assert_alive(s);
    srv_end(s);
}

/*
 * A reply that stops in the middle of its body, after the loop has waited
 * between messages without a receive timeout: the read of the body has
 * one, and the client is dropped after it (the stream is lost).
 */
static void test_dma_reply_stall_body(void)
{
    gint64 t0 = g_get_monotonic_time();
    Srv *s = srv_with_guest(DMA_STALL_BODY);
    int r = device_dma_go(s, GUEST_IOVA, 64);

    g_assert_true(r == 0 || r == -1); /* the GO reply may still come */
    assert_dropped(s, EAGAIN);
    g_assert_cmpint((g_get_monotonic_time() - t0) / 1000, <,
                    DMA_TIMEOUT_MS + 2000);
    srv_end(s);
}

/*
 * Requests arriving while the server waits for a DMA reply (and no reply):
 * they are queued, the DMA times out, and the requests are then answered
 * in order; a full queue would not be a reason to drop the client.
 */
static void test_dma_reply_flood(void)
{
    Srv *s = srv_with_guest(DMA_FLOOD);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, ETIMEDOUT);
    assert_alive(s);
    srv_end(s);
}

/*
 * A correct client posts writes while a DMA of the device is in progress:
 * all of them are handled, in order, after the DMA, and the DMA succeeds.
 * (An old server queued 256 messages and dropped the client beyond.)
 */
static void test_dma_wait_posted_writes(void)
{
    Srv *s;
    const uint32_t *bar1;

    /* Sending the writes must not count against the DMA's timeout. */
    srv_dma_timeout_ms = 30000;
    s = srv_with_guest(DMA_POSTED);
    srv_dma_timeout_ms = DMA_TIMEOUT_MS;

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, 0);
    g_assert_cmpuint(s->dma_buf[63], ==, 0x3c);
    assert_alive(s); /* answered after every queued write was handled */
    bar1 = s->bar1;
    G_STATIC_ASSERT(FLOOD_POSTED <= BAR1_SIZE / 4);
    g_assert_cmphex(bar1[0], ==, 0xfeed);
    for (uint32_t i = 1; i < FLOOD_POSTED; i++) {
        g_assert_cmpuint(bar1[i], ==, i + 1);
    }
    srv_end(s);
}

/*
 * More than the server queues during one DMA wait (16 MiB): that DMA fails
 * with ENOBUFS instead of the connection, the server stops reading until
 * it returns, then handles every write in order.
 */
static void test_dma_wait_queue_full(void)
{
    Srv *s;
    const uint8_t *bar1;

    srv_dma_timeout_ms = 30000;
    s = srv_with_guest(DMA_POSTED_BIG);
    srv_dma_timeout_ms = DMA_TIMEOUT_MS;

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, ENOBUFS);
    assert_alive(s);
    bar1 = s->bar1;
    g_assert_cmphex(bar1[0], ==, 0xed); /* 0xfeed, little-endian, last */
    g_assert_cmphex(bar1[4], ==, (uint8_t)(FLOOD_BIG_MSGS - 1));
    s->answer = DMA_OK;
    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, 0);
    srv_end(s);
}

int main(int argc, char **argv)
{
    /* Go on past a failed case, so that one run reports every failure. */
    vut_init_keep_going(&argc, &argv);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

    g_test_add_func("/hostile-client/dma-map/flags", test_dma_map_flags);
    g_test_add_func("/hostile-client/dma-map/ranges", test_dma_map_ranges);
    g_test_add_func("/hostile-client/dma-map/overlap", test_dma_map_overlap);
    g_test_add_func("/hostile-client/dma-map/fds", test_dma_map_fds);
    g_test_add_func("/hostile-client/dma-map/argsz", test_dma_map_argsz);
    g_test_add_func("/hostile-client/dma-unmap/bad", test_dma_unmap_bad);
    g_test_add_func("/hostile-client/dma-reply/ok", test_dma_reply_ok);
    g_test_add_func("/hostile-client/dma-reply/error", test_dma_reply_error);
    g_test_add_func("/hostile-client/dma-reply/short", test_dma_reply_short);
    g_test_add_func("/hostile-client/dma-reply/wrong-id",
                    test_dma_reply_wrong_id);
    g_test_add_func("/hostile-client/dma-reply/silent", test_dma_reply_silent);
    g_test_add_func("/hostile-client/dma-reply/stall-body",
                    test_dma_reply_stall_body);
    g_test_add_func("/hostile-client/dma-reply/flood", test_dma_reply_flood);
    g_test_add_func("/hostile-client/dma-wait/posted-writes",
                    test_dma_wait_posted_writes);
    g_test_add_func("/hostile-client/dma-wait/queue-full",
                    test_dma_wait_queue_full);
    return g_test_run();
}
