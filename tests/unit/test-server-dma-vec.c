/*
 * Unit tests of libvfio-user-server's vectored DMA, vus_dma_readv() and
 * vus_dma_writev(): in message mode the requests of all pieces share the
 * dma_msg_window (the fake client sees the next piece's request before it
 * answers the one before), every piece is checked before anything is sent,
 * pieces in different modes keep their order, and a client error on one
 * piece fails the call with its errno, the replies still owed read and
 * dropped, the connection fine for the next call.
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
#define MSG_BASE 0x80000ull  /* message-mode map */
#define MEM_BASE 0x100000ull /* mmap-mode map (a memfd) */
#define PIECE 64
#define NPIECES 3

typedef struct VecThread {
    VusServer *srv;
    bool is_write;
    VusDmaSeg segs[NPIECES];
    size_t nsegs;
    uint8_t buf[NPIECES][PIECE];
    bool ok;
    int err;
} VecThread;

static gpointer vec_thread(gpointer opaque)
{
    VecThread *t = opaque;
    g_autoptr(GError) err = NULL;

    t->ok = t->is_write ? vus_dma_writev(t->srv, t->segs, t->nsegs, &err)
                        : vus_dma_readv(t->srv, t->segs, t->nsegs, &err);
    t->err = err ? err->code : 0;
    return NULL;
}

/* Pieces i at @base + i * 0x1000, into/from t->buf[i]. */
static void vec_setup(VecThread *t, TestConn *tc, bool is_write, uint64_t base)
{
    t->srv = tc->srv;
    t->is_write = is_write;
    t->nsegs = NPIECES;
    for (size_t i = 0; i < NPIECES; i++) {
        t->segs[i] = (VusDmaSeg){base + i * 0x1000, t->buf[i], PIECE};
        memset(t->buf[i], is_write ? 0xa0 + (int)i : 0, PIECE);
    }
}

/* One request of the server, as the fake client receives it. */
typedef struct DmaReq {
    uint8_t data[PIECE];
    VFIOUserHdr hdr;
    VFIOUserDMARW rw; /* last: it ends in a flexible array */
} DmaReq;

static DmaReq recv_request(TestConn *tc, uint16_t cmd)
{
    DmaReq r;
    size_t nfds, body;

    g_assert_true(tc_readable(tc, 10000));
    g_assert_true(vfio_user_msg_recv_hdr(tc->sock, &r.hdr, NULL, &nfds, 0,
                                         1 << 20, &error_abort));
    g_assert_cmpuint(r.hdr.cmd, ==, cmd);
    body = r.hdr.size - sizeof(r.hdr);
    g_assert_cmpuint(body, ==,
                     sizeof(r.rw) + (cmd == VFIO_USER_DMA_WRITE ? PIECE : 0));
    g_assert_true(
        vfio_user_msg_recv_body(tc->sock, &r.rw, sizeof(r.rw), &error_abort));
    g_assert_cmpuint(r.rw.count, ==, PIECE);
    if (cmd == VFIO_USER_DMA_WRITE) {
        g_assert_true(
            vfio_user_msg_recv_body(tc->sock, r.data, PIECE, &error_abort));
    }
    return r;
}

/* Answer @r: a read with @fill bytes, a write's echo, or the error @err. */
static void answer(TestConn *tc, DmaReq *r, uint8_t fill, int err)
{
    bool is_read = r->hdr.cmd == VFIO_USER_DMA_READ;
    VFIOUserHdr rh;
    struct iovec iov[3] = {
        {&rh, sizeof(rh)}, {&r->rw, sizeof(r->rw)}, {r->data, PIECE}};

    if (err) {
        g_assert_true(
            vfio_user_msg_send_error(tc->sock, &r->hdr, err, &error_abort));
        return;
    }
    if (is_read) {
        memset(r->data, fill, PIECE);
    }
    vfio_user_hdr_init(&rh, r->hdr.id, r->hdr.cmd,
                       sizeof(rh) + sizeof(r->rw) + (is_read ? PIECE : 0),
                       VFIO_USER_F_TYPE_REPLY);
    g_assert_true(vfio_user_msg_sendv(tc->sock, iov, is_read ? 3 : 2, NULL, 0,
                                      &error_abort));
}

static uint64_t bytes_moved(TestConn *tc, uint64_t addr, bool is_write)
{
    g_autoptr(GArray) maps = vus_dma_get_maps(tc->srv);

    for (guint i = 0; i < maps->len; i++) {
        VusDmaMapInfo *m = &g_array_index(maps, VusDmaMapInfo, i);

        if (m->addr == addr) {
            return is_write ? m->bytes_written : m->bytes_read;
        }
    }
    g_assert_not_reached();
}

/*
 * Two requests in flight (the default window) across the pieces: the
 * second piece's request comes before the first is answered (a call per
 * piece would wait for that answer), the third once the first is.  Read
 * pieces get 0x10 + i.  Returns the connection, the call done.
 */
static TestConn *run_pipelined(VecThread *t, DmaReq *r, bool is_write)
{
    uint16_t cmd = is_write ? VFIO_USER_DMA_WRITE : VFIO_USER_DMA_READ;
    TestConn *tc = tc_start(NULL);
    GThread *th;

    g_assert_cmpint(tc_dma_map(tc, RW, 0, MSG_BASE, MAPSZ, -1), ==, 0);
    vec_setup(t, tc, is_write, MSG_BASE);
    th = g_thread_new("dma", vec_thread, t);
    r[0] = recv_request(tc, cmd);
    r[1] = recv_request(tc, cmd);
    answer(tc, &r[0], 0x10, 0);
    r[2] = recv_request(tc, cmd);
    answer(tc, &r[1], 0x11, 0);
    answer(tc, &r[2], 0x12, 0);
    g_thread_join(th);
    g_assert_true(t->ok);
    for (size_t i = 0; i < NPIECES; i++) {
        g_assert_cmpuint(r[i].rw.addr, ==, MSG_BASE + i * 0x1000);
    }
    g_assert_cmpuint(bytes_moved(tc, MSG_BASE, is_write), ==, NPIECES * PIECE);
    return tc;
}

static void test_readv_pipelined(void)
{
    VecThread t;
    DmaReq r[NPIECES];
    TestConn *tc = run_pipelined(&t, r, false);

    for (size_t i = 0; i < NPIECES; i++) {
        g_assert_cmpuint(t.buf[i][0], ==, 0x10 + i);
        g_assert_cmpuint(t.buf[i][PIECE - 1], ==, 0x10 + i);
    }
    g_assert_true(tc_finish(tc));
}

/* The data of each DMA_WRITE request is its piece's (0xa0 + i). */
static void test_writev_pipelined(void)
{
    VecThread t;
    DmaReq r[NPIECES];
    TestConn *tc = run_pipelined(&t, r, true);

    for (size_t i = 0; i < NPIECES; i++) {
        g_assert_cmpuint(r[i].data[0], ==, 0xa0 + i);
        g_assert_cmpuint(r[i].data[PIECE - 1], ==, 0xa0 + i);
    }
    g_assert_true(tc_finish(tc));
}

/*
 * A bad piece anywhere fails the call before any request is sent: the
 * region read that follows finds no DMA request ahead of its reply.
 */
static void test_checked_first(void)
{
    TestConn *tc = tc_start(NULL);
    g_autoptr(GError) err = NULL;
    uint8_t a[PIECE], b[PIECE];
    VusDmaSeg unmapped[2] = {{MSG_BASE, a, PIECE}, {0x900000, b, PIECE}};
    VusDmaSeg wraps[2] = {{MSG_BASE, a, PIECE}, {UINT64_MAX - 8, b, PIECE}};
    VusDmaSeg ro[2] = {{MSG_BASE, a, PIECE}, {MSG_BASE + MAPSZ, b, PIECE}};
    uint32_t v;

    g_assert_cmpint(tc_dma_map(tc, RW, 0, MSG_BASE, MAPSZ, -1), ==, 0);
    g_assert_cmpint(tc_dma_map(tc, VFIO_USER_DMA_MAP_F_READ, 0,
                               MSG_BASE + MAPSZ, MAPSZ, -1),
                    ==, 0);
    g_assert_false(vus_dma_readv(tc->srv, unmapped, 2, &err));
    g_assert_error(err, VFIO_USER_ERROR, EFAULT);
    g_clear_error(&err);
    g_assert_false(vus_dma_writev(tc->srv, wraps, 2, &err));
    g_assert_error(err, VFIO_USER_ERROR, EFAULT);
    g_clear_error(&err);
    g_assert_false(vus_dma_writev(tc->srv, ro, 2, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPERM);
    g_clear_error(&err);
    g_assert_false(vus_dma_readv(tc->srv, NULL, 1, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_assert_true(vus_dma_readv(tc->srv, NULL, 0, &error_abort));
    g_assert_cmpint(tc_region_read(tc, 0, 0x10, &v, 4), ==, 0);
    g_assert_cmpuint(tc->dma_max_count, ==, 0); /* no request at all */
    g_assert_cmpuint(bytes_moved(tc, MSG_BASE, false), ==, 0);
    g_assert_true(tc_finish(tc));
}

/*
 * Pieces in different modes, message / mmap / message: all arrive, the
 * mmap piece from the memfd, and the second message piece is only asked
 * for after the first is answered (nothing overtakes the mmap piece).
 */
static void test_mixed_modes(void)
{
    uint16_t cmd = VFIO_USER_DMA_READ;
    TestConn *tc = tc_start(NULL);
    int fd = test_memfd(MAPSZ, 0x5a); /* byte i: 0x5a + i */
    VecThread t;
    DmaReq r0, r2;
    GThread *th;

    g_assert_cmpint(tc_dma_map(tc, RW, 0, MSG_BASE, MAPSZ, -1), ==, 0);
    g_assert_cmpint(tc_dma_map(tc, RW, 0, MEM_BASE, MAPSZ, fd), ==, 0);
    close(fd);
    vec_setup(&t, tc, false, MSG_BASE);
    t.segs[1].addr = MEM_BASE + 0x40;
    th = g_thread_new("dma", vec_thread, &t);
    r0 = recv_request(tc, cmd);
    g_assert_false(tc_readable(tc, 50)); /* the third piece waits */
    answer(tc, &r0, 0x21, 0);
    r2 = recv_request(tc, cmd);
    g_assert_cmpuint(r2.rw.addr, ==, MSG_BASE + 0x2000);
    answer(tc, &r2, 0x23, 0);
    g_thread_join(th);
    g_assert_true(t.ok);
    g_assert_cmpuint(t.buf[0][5], ==, 0x21);
    g_assert_cmpuint(t.buf[1][5], ==, (uint8_t)(0x5a + 0x40 + 5));
    g_assert_cmpuint(t.buf[2][5], ==, 0x23);
    g_assert_cmpuint(bytes_moved(tc, MEM_BASE, false), ==, PIECE);
    g_assert_cmpuint(bytes_moved(tc, MSG_BASE, false), ==, 2 * PIECE);
    g_assert_true(tc_finish(tc));
}

/*
 * The client refuses the first piece while the second is in flight: the
 * call fails with EIO once the second reply is read and dropped, the third
 * piece is never asked for, and the next call works.
 */
static void test_error_drains(void)
{
    uint16_t cmd = VFIO_USER_DMA_READ;
    TestConn *tc = tc_start(NULL);
    VecThread t;
    DmaReq r0, r1;
    GThread *th;
    g_autofree uint8_t *guest = g_malloc(MAPSZ);
    uint32_t v;

    g_assert_cmpint(tc_dma_map(tc, RW, 0, MSG_BASE, MAPSZ, -1), ==, 0);
    vec_setup(&t, tc, false, MSG_BASE);
    th = g_thread_new("dma", vec_thread, &t);
    r0 = recv_request(tc, cmd);
    r1 = recv_request(tc, cmd);
    answer(tc, &r0, 0, EIO);
    answer(tc, &r1, 0x31, 0);
    g_thread_join(th);
    g_assert_false(t.ok);
    g_assert_cmpint(t.err, ==, EIO);
    /* Nothing more was sent: the region read's reply comes first. */
    g_assert_cmpint(tc_region_read(tc, 0, 0x10, &v, 4), ==, 0);
    g_assert_cmpuint(tc->dma_max_count, ==, 0);
    /* The next transfer is served (by tc_wait's fake client). */
    tc->guest = guest;
    tc->guest_base = MSG_BASE;
    tc->guest_size = MAPSZ;
    memset(tc->guest, 0x77, MAPSZ);
    g_assert_cmpuint(tc_dev_dma(tc, 1, MSG_BASE, PIECE), ==, 0);
    g_assert_cmpuint(tc->dma_reads, ==, 1);
    g_assert_cmpuint(tc->dev.buf[PIECE - 1], ==, 0x77);
    g_assert_true(tc_finish(tc));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/server-dma-vec/readv-pipelined", test_readv_pipelined);
    g_test_add_func("/server-dma-vec/writev-pipelined", test_writev_pipelined);
    g_test_add_func("/server-dma-vec/checked-first", test_checked_first);
    g_test_add_func("/server-dma-vec/mixed-modes", test_mixed_modes);
    g_test_add_func("/server-dma-vec/error-drains", test_error_drains);
    return g_test_run();
}
