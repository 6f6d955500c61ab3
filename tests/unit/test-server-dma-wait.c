/*
 * Unit tests of libvfio-user-server's message-mode DMA waits: requests
 * that arrive while the server waits for a DMA reply (queued, served
 * afterwards, in order, with their fds), a handler's request staying
 * intact while its DMA reads on through the receive buffer, and a reply
 * that never comes (ETIMEDOUT, the late reply dropped).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "server-conn.h"
#include "vfu-test.h"

#define RW (VFIO_USER_DMA_MAP_F_READ | VFIO_USER_DMA_MAP_F_WRITE)
#define MAPSZ 0x10000

/* The map at @addr (asserts it exists). */
static VusDmaMapInfo map_info(TestConn *tc, uint64_t addr)
{
    g_autoptr(GArray) maps = vus_dma_get_maps(tc->srv);

    for (guint i = 0; i < maps->len; i++) {
        VusDmaMapInfo *m = &g_array_index(maps, VusDmaMapInfo, i);

        if (m->addr == addr) {
            return *m;
        }
    }
    g_assert_not_reached();
}

typedef struct DmaThread {
    VusServer *srv;
    uint64_t addr;
    uint8_t buf[64];
    bool ok;
    int err;
} DmaThread;

static gpointer dma_thread(gpointer opaque)
{
    DmaThread *t = opaque;
    g_autoptr(GError) err = NULL;

    t->ok = vus_dma_read(t->srv, t->addr, t->buf, sizeof(t->buf), &err);
    t->err = err ? err->code : 0;
    return NULL;
}

/* Receive the server's DMA_READ request on the client side. */
static VFIOUserHdr recv_dma_request(TestConn *tc, VFIOUserDMARW *rw)
{
    VFIOUserHdr hdr;
    size_t nfds;

    g_assert_true(tc_readable(tc, 10000));
    g_assert_true(vfio_user_msg_recv_hdr(tc->sock, &hdr, NULL, &nfds, 0,
                                         1 << 20, &error_abort));
    g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_DMA_READ);
    g_assert_cmpuint(hdr.size, ==, sizeof(hdr) + sizeof(*rw));
    g_assert_true(
        vfio_user_msg_recv_body(tc->sock, rw, sizeof(*rw), &error_abort));
    return hdr;
}

static void send_dma_read_reply(TestConn *tc, VFIOUserHdr *req,
                                VFIOUserDMARW *rw, uint8_t fill)
{
    uint8_t data[64];
    VFIOUserHdr rh;
    struct iovec iov[3] = {
        {&rh, sizeof(rh)}, {rw, sizeof(*rw)}, {data, sizeof(data)}};

    memset(data, fill, sizeof(data));
    vfio_user_hdr_init(&rh, req->id, req->cmd, sizeof(rh) + sizeof(*rw) + 64,
                       VFIO_USER_F_TYPE_REPLY);
    g_assert_true(vfio_user_msg_sendv(tc->sock, iov, 3, NULL, 0, &error_abort));
}

static void test_queued_request(void)
{
    TestConn *tc = tc_start(NULL);
    DmaThread t = {.srv = tc->srv, .addr = 0x80000};
    uint8_t vals[4] = {1, 2, 3, 4};
    VFIOUserRegionRW rw = {.offset = 0x300, .region = 0, .count = 4};
    uint8_t wr[sizeof(rw) + 4];
    VFIOUserDMARW dma;
    VFIOUserHdr req;
    GThread *th;
    uint16_t id;

    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x80000, MAPSZ, -1), ==, 0);
    /* A device thread reads guest memory while the loop is idle. */
    th = g_thread_new("dma", dma_thread, &t);
    req = recv_dma_request(tc, &dma);
    g_assert_cmpuint(dma.addr, ==, 0x80000);
    g_assert_cmpuint(dma.count, ==, 64);
    /* Before answering, the client sends a request of its own. */
    memcpy(wr, &rw, sizeof(rw));
    memcpy(wr + sizeof(rw), vals, 4);
    id = tc_send(tc, VFIO_USER_REGION_WRITE, 0, wr, sizeof(wr), NULL, 0);
    send_dma_read_reply(tc, &req, &dma, 0x6b);
    g_thread_join(th);
    g_assert_true(t.ok);
    g_assert_cmpuint(t.buf[63], ==, 0x6b);
    /* The queued request is served afterwards. */
    g_assert_cmpint(tc_wait(tc, id, NULL), ==, 0);
    g_assert_cmpmem(tc->dev.scratch + 0x300, 4, vals, 4);
    g_assert_true(tc_finish(tc));
}

/*
 * A handler's request stays where it is while the handler's DMA reads on
 * through the receive buffer (the spare buffer takes over), request after
 * request, also when another request arrives during the DMA and is read
 * whole: each time the device finds the bytes it was written intact after
 * its DMA, the DMA data arrived, and the other request was served.
 */
static void test_payload_survives_dma(void)
{
    TestConn *tc = tc_start(NULL);
    VFIOUserRegionRW rw = {
        .offset = TEST_DMA_CHECKED, .region = 0, .count = TEST_DMA_CHECKED_LEN};
    uint8_t wr[sizeof(rw) + TEST_DMA_CHECKED_LEN];
    uint64_t addr = 0x80000;
    uint32_t len = 64, status;

    g_assert_cmpint(tc_dma_map(tc, RW, 0, addr, MAPSZ, -1), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x00, &addr, 8), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x08, &len, 4), ==, 0);
    memcpy(wr, &rw, sizeof(rw));
    for (unsigned i = 0; i < 6; i++) {
        VFIOUserDMARW dma;
        VFIOUserHdr req;
        uint16_t id;

        memset(wr + sizeof(rw), 0x30 + i, TEST_DMA_CHECKED_LEN);
        id = tc_send(tc, VFIO_USER_REGION_WRITE, 0, wr, sizeof(wr), NULL, 0);
        req = recv_dma_request(tc, &dma);
        rw.offset = 0x200; /* scratch */
        memcpy(wr, &rw, sizeof(rw));
        memset(wr + sizeof(rw), 0xe0 + i, TEST_DMA_CHECKED_LEN);
        tc_send(tc, VFIO_USER_REGION_WRITE, VFIO_USER_F_NO_REPLY, wr,
                sizeof(wr), NULL, 0);
        rw.offset = TEST_DMA_CHECKED;
        memcpy(wr, &rw, sizeof(rw));
        send_dma_read_reply(tc, &req, &dma, 0x60 + i);
        g_assert_cmpint(tc_wait(tc, id, NULL), ==, 0);
        g_assert_cmpint(tc_region_read(tc, 0, 0x10, &status, 4), ==, 0);
        g_assert_cmpuint(status, ==, 0);
        g_assert_cmpuint(tc->dev.buf[63], ==, 0x60 + i);
        g_assert_cmpuint(tc->dev.scratch[0x2ff], ==, 0xe0 + i);
    }
    g_assert_true(tc_finish(tc));
}

/*
 * The same with a DMA_MAP carrying an fd arriving during each DMA: the fd
 * stays with its message while the handler's DMA reads on and while the
 * map waits in the queue, and each map, made once the handler is done,
 * is an mmap-mode map with its fd; no fd is left open at the end.
 */
static void test_fds_survive_dma(void)
{
    unsigned before = vut_count_fds();
    TestConn *tc = tc_start(NULL);
    uint64_t addr = 0x80000;
    uint32_t len = 64, cmd = 1;

    g_assert_cmpint(tc_dma_map(tc, RW, 0, addr, MAPSZ, -1), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x00, &addr, 8), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x08, &len, 4), ==, 0);
    for (unsigned i = 0; i < 4; i++) {
        VFIOUserDMAMap m = {.argsz = 32,
                            .flags = RW,
                            .addr = 0x1000000 + i * MAPSZ,
                            .size = MAPSZ};
        int fd = test_memfd(MAPSZ, 0x10 * i);
        VusDmaMapInfo info;
        VFIOUserRegionRW rw = {.offset = 0x0c, .region = 0, .count = 4};
        uint8_t wr[sizeof(rw) + 4];
        VFIOUserDMARW dma;
        VFIOUserHdr req;
        uint16_t id, map_id;

        memcpy(wr, &rw, sizeof(rw));
        memcpy(wr + sizeof(rw), &cmd, 4);
        id = tc_send(tc, VFIO_USER_REGION_WRITE, 0, wr, sizeof(wr), NULL, 0);
        req = recv_dma_request(tc, &dma);
        map_id = tc_send(tc, VFIO_USER_DMA_MAP, 0, &m, sizeof(m), &fd, 1);
        close(fd);
        send_dma_read_reply(tc, &req, &dma, 0x40 + i);
        g_assert_cmpint(tc_wait(tc, id, NULL), ==, 0);
        g_assert_cmpint(tc_wait(tc, map_id, NULL), ==, 0);
        info = map_info(tc, m.addr);
        g_assert_cmpint(info.mode, ==, VUS_DMA_MODE_MMAP);
        g_assert_true(info.has_fd);
        g_assert_cmpuint(tc->dev.buf[63], ==, 0x40 + i);
    }
    g_assert_cmpuint(map_info(tc, 0x1000000 + 3 * MAPSZ).size, ==, MAPSZ);
    g_assert_true(tc_finish(tc));
    g_assert_cmpuint(vut_count_fds(), ==, before);
}

static void test_timeout(void)
{
    VusServerOptions opts = {.dma_timeout_ms = 200};
    TestConn *tc = tc_start(&opts);
    g_autoptr(GError) err = NULL;
    uint8_t buf[64];
    VFIOUserDMARW dma;
    VFIOUserHdr req;
    uint32_t v;

    g_assert_cmpint(tc_dma_map(tc, RW, 0, 0x80000, MAPSZ, -1), ==, 0);
    /* Nobody answers: ETIMEDOUT, the connection survives. */
    g_assert_false(vus_dma_read(tc->srv, 0x80000, buf, sizeof(buf), &err));
    g_assert_error(err, VFIO_USER_ERROR, ETIMEDOUT);
    req = recv_dma_request(tc, &dma);
    /* The late reply is dropped; the server keeps serving. */
    send_dma_read_reply(tc, &req, &dma, 0);
    g_assert_cmpint(tc_region_read(tc, 0, 0x10, &v, 4), ==, 0);
    g_assert_true(tc_finish(tc));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/server-dma/queued-request", test_queued_request);
    g_test_add_func("/server-dma/payload-survives-dma",
                    test_payload_survives_dma);
    g_test_add_func("/server-dma/fds-survive-dma", test_fds_survive_dma);
    g_test_add_func("/server-dma/timeout", test_timeout);
    return g_test_run();
}
