/*
 * The raw client harness of test-hostile-client-*.c (see raw-client.h).
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

#include "vfio-user/caps.h"
#include "vfio-user/error.h"
#include "vfio-user/server.h"
#include "vfio-user/transport.h"

#include "raw-client.h"
#include "vfu-test.h"

static ssize_t bar0_access(void *opaque, bool is_write, uint64_t off, void *buf,
                           size_t len)
{
    Srv *s = opaque;
    GError *err = NULL;
    uint64_t addr;
    uint32_t dlen, status = 0;

    if (!is_write) {
        memcpy(buf, s->bar0 + off, len);
        return len;
    }
    memcpy(s->bar0 + off, buf, len);
    if (off == R_DMA_GO) {
        memcpy(&addr, s->bar0 + R_DMA_ADDR, sizeof(addr));
        memcpy(&dlen, s->bar0 + R_DMA_LEN, sizeof(dlen));
        if (!vus_dma_read(s->srv, addr, s->dma_buf,
                          MIN(dlen, sizeof(s->dma_buf)), &err)) {
            status = err->code;
            g_error_free(err);
        }
        memcpy(s->bar0 + R_DMA_STATUS, &status, sizeof(status));
    }
    return len;
}

static ssize_t bar2_access(void *opaque, bool is_write, uint64_t off, void *buf,
                           size_t len)
{
    Srv *s = opaque;

    g_assert_false(is_write); /* the library enforces read-only */
    memcpy(buf, s->bar2 + off, len);
    return len;
}

static gpointer srv_thread(gpointer opaque)
{
    Srv *s = opaque;
    GError *err = NULL;
    bool ok = vus_server_run(s->srv, &err);

    s->run_ok = ok;
    s->run_errno = err ? err->code : 0;
    vut_event_set(&s->finished);
    g_clear_error(&err);
    return NULL;
}

unsigned srv_dma_timeout_ms = DMA_TIMEOUT_MS;

Srv *srv_start(void)
{
    Srv *s = g_new0(Srv, 1);
    VusServerOptions o = {.dma_timeout_ms = srv_dma_timeout_ms};
    VusRegionDesc bar0 = {.size = sizeof(s->bar0),
                          .flags = VUS_REGION_F_RW,
                          .access = bar0_access,
                          .opaque = s};
    static const VusSparseArea sparse = {.offset = 4096, .size = 4096};
    VusRegionDesc bar1 = {.size = BAR1_SIZE,
                          .flags = VUS_REGION_F_RW,
                          .mem = true,
                          .sparse = &sparse,
                          .nr_sparse = 1};
    VusRegionDesc bar2 = {.size = BAR2_SIZE,
                          .flags = VUS_REGION_F_READ,
                          .access = bar2_access,
                          .opaque = s};
    GError *err = NULL;
    int sv[2];

    s->fds0 = vut_count_fds();
    vfio_user_caps_init_ours(&o.caps);
    o.caps.max_data_xfer_size = MAX_XFER;
    o.caps.max_msg_fds = 8;
    s->srv = vus_server_new(NULL, &o, &err);
    g_assert_no_error(err);
    g_assert_true(vus_server_setup_region(s->srv, VFIO_PCI_BAR0_REGION_INDEX,
                                          &bar0, NULL, &err));
    g_assert_true(vus_server_setup_region(s->srv, VFIO_PCI_BAR1_REGION_INDEX,
                                          &bar1, &s->bar1, &err));
    g_assert_true(vus_server_setup_region(s->srv, VFIO_PCI_BAR2_REGION_INDEX,
                                          &bar2, NULL, &err));
    g_assert_true(vus_server_setup_irq(s->srv, VFIO_PCI_MSIX_IRQ_INDEX,
                                       MSIX_VECTORS, &err));
    g_assert_true(
        vus_server_setup_irq(s->srv, VFIO_PCI_INTX_IRQ_INDEX, 1, &err));
    g_assert_no_error(err);
    for (size_t i = 0; i < sizeof(s->bar2); i++) {
        s->bar2[i] = (uint8_t)(0x40 + i);
    }
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    s->sock = sv[0];
    s->next_id = 1;
    vut_event_init(&s->finished);
    g_assert_true(vus_server_attach(s->srv, sv[1], &err));
    s->thread = g_thread_new("vfu-server", srv_thread, s);
    return s;
}

/* Wait (bounded) for vus_server_run() to return. */
bool srv_wait_finished(Srv *s, int ms)
{
    return vut_event_wait(&s->finished, ms);
}

/* Hang up, join the server, free it, and check that no fd is left. */
void srv_end(Srv *s)
{
    if (s->sock >= 0) {
        close(s->sock);
    }
    g_assert_true(srv_wait_finished(s, RECV_MS));
    g_thread_join(s->thread);
    vus_server_free(s->srv);
    vut_event_clear(&s->finished);
    g_assert_cmpuint(vut_count_fds(), ==, s->fds0);
    g_free(s);
}

void cl_send_raw(Srv *s, const void *bytes, size_t len, const int *fds,
                 size_t nfds)
{
    struct iovec iov = {.iov_base = (void *)bytes, .iov_len = len};
    GError *err = NULL;

    g_assert_true(vfio_user_msg_sendv(s->sock, &iov, 1, fds, nfds, &err));
    g_assert_no_error(err);
}

/* Send a request; returns its id. */
uint16_t cl_send(Srv *s, uint16_t cmd, uint32_t flags, const void *payload,
                 size_t len, const int *fds, size_t nfds)
{
    uint16_t id = s->next_id++;
    VFIOUserHdr hdr;
    GError *err = NULL;

    vfio_user_hdr_init(&hdr, id, cmd, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REQUEST | flags);
    g_assert_true(
        vfio_user_msg_send(s->sock, &hdr, payload, len, fds, nfds, &err));
    g_assert_no_error(err);
    return id;
}

/* Receive one message within RECV_MS; false on EOF. */
static bool cl_recv(Srv *s, VFIOUserHdr *hdr, uint8_t *buf, size_t room,
                    size_t *len)
{
    int fds[VFIO_USER_MAX_FDS];
    GError *err = NULL;
    size_t nfds;

    g_assert_true(vut_readable(s->sock, RECV_MS));
    if (!vfio_user_msg_recv_hdr(s->sock, hdr, fds, &nfds, VFIO_USER_MAX_FDS,
                                1u << 24, &err)) {
        g_assert_error(err, VFIO_USER_ERROR, ECONNRESET);
        g_error_free(err);
        return false;
    }
    vfio_user_close_fds(fds, nfds);
    *len = hdr->size - sizeof(*hdr);
    s->last_nfds = nfds;
    g_assert_cmpuint(*len, <=, room);
    g_assert_true(vfio_user_msg_recv_body(s->sock, buf, *len, &err));
    g_assert_no_error(err);
    return true;
}

/*
 * What a correct client may do while a DMA of the device is in progress:
 * post writes to BAR1 (slot i of FLOOD_POSTED gets i + 1, slot 0 last of
 * all gets 0xfeed, so that the order shows), or large ones.
 */
static void cl_post_flood(Srv *s)
{
    static uint8_t p[sizeof(VFIOUserRegionRW) + FLOOD_BIG_LEN];
    VFIOUserRegionRW rw = {.region = VFIO_PCI_BAR1_REGION_INDEX, .count = 4};
    bool big = s->answer == DMA_POSTED_BIG;
    int n = big ? FLOOD_BIG_MSGS : FLOOD_POSTED;

    for (int i = 0; i <= n; i++) {
        uint32_t v = i == n ? 0xfeed : (uint32_t)i + 1;

        rw.offset = i == n ? 0 : (uint64_t)i * 4 % BAR1_SIZE;
        rw.count = big && i < n ? FLOOD_BIG_LEN : 4;
        if (big && i < n) {
            rw.offset = 0;
            memset(p + sizeof(rw), (uint8_t)i, rw.count);
        } else {
            memcpy(p + sizeof(rw), &v, 4);
        }
        memcpy(p, &rw, sizeof(rw));
        cl_send(s, VFIO_USER_REGION_WRITE, VFIO_USER_F_NO_REPLY, p,
                sizeof(rw) + rw.count, NULL, 0);
    }
}

static void cl_dma_reply(Srv *s, const VFIOUserHdr *req, const uint8_t *p,
                         size_t len)
{
    static uint8_t data[sizeof(VFIOUserDMARW) + 4096];
    VFIOUserDMARW rw;
    VFIOUserHdr hdr;
    size_t n;

    g_assert_cmpuint(len, >=, sizeof(rw));
    memcpy(&rw, p, sizeof(rw));
    g_assert_cmpuint(rw.count, <=, 4096);
    s->dma_requests++;
    memcpy(data, &rw, sizeof(rw));
    memset(data + sizeof(rw), 0x3c, rw.count);
    n = sizeof(rw) + rw.count;
    switch (s->answer) {
    case DMA_SILENT:
        return;
    case DMA_ERROR:
        g_assert_true(vfio_user_msg_send_error(s->sock, req, EFAULT, NULL));
        return;
    case DMA_FLOOD:
        /* The server may hang up part way: stop sending then. */
        for (int i = 0; i < 300; i++) {
            VFIOUserDeviceInfo q = {.argsz = sizeof(q)};
            VFIOUserHdr fh;

            vfio_user_hdr_init(&fh, s->next_id++, VFIO_USER_DEVICE_GET_INFO,
                               sizeof(fh) + sizeof(q),
                               VFIO_USER_F_TYPE_REQUEST);
            if (!vfio_user_msg_send(s->sock, &fh, &q, sizeof(q), NULL, 0,
                                    NULL)) {
                break;
            }
        }
        return;
    case DMA_POSTED:
    case DMA_POSTED_BIG:
        cl_post_flood(s);
        break;
    case DMA_SHORT:
        n -= 4;
        break;
    case DMA_STALL_BODY: {
        static uint8_t part[sizeof(hdr) + sizeof(data)];

        vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr) + n,
                           VFIO_USER_F_TYPE_REPLY);
        memcpy(part, &hdr, sizeof(hdr));
        memcpy(part + sizeof(hdr), data, n - 8);
        cl_send_raw(s, part, sizeof(hdr) + n - 8, NULL, 0);
        return;
    }
    case DMA_WRONG_ID:
        vfio_user_hdr_init(&hdr, req->id + 1, req->cmd, sizeof(hdr) + n,
                           VFIO_USER_F_TYPE_REPLY);
        g_assert_true(
            vfio_user_msg_send(s->sock, &hdr, data, n, NULL, 0, NULL));
        break;
    case DMA_OK:
        break;
    }
    vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr) + n,
                       VFIO_USER_F_TYPE_REPLY);
    g_assert_true(vfio_user_msg_send(s->sock, &hdr, data, n, NULL, 0, NULL));
}

/*
 * Wait for the reply to @id, answering DMA_READ requests on the way.
 * Returns 0, the errno of an error reply, or -1 when the server hung up.
 */
static int cl_wait(Srv *s, uint16_t id, void *out, size_t room, size_t *out_len)
{
    static uint8_t buf[MAX_XFER + 4096];

    for (;;) {
        VFIOUserHdr hdr;
        size_t len;

        if (!cl_recv(s, &hdr, buf, sizeof(buf), &len)) {
            return -1;
        }
        if (!vfio_user_hdr_is_reply(&hdr)) {
            g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_DMA_READ);
            cl_dma_reply(s, &hdr, buf, len);
            continue;
        }
        if (hdr.id != id) {
            continue; /* e.g. answers to a flood */
        }
        if (hdr.flags & VFIO_USER_F_ERROR) {
            g_assert_cmpuint(hdr.error, !=, 0);
            return (int)hdr.error;
        }
        g_assert_cmpuint(len, <=, room);
        if (len) {
            memcpy(out, buf, len);
        }
        if (out_len) {
            *out_len = len;
        }
        return 0;
    }
}

int cl_call_fds(Srv *s, uint16_t cmd, const void *payload, size_t len,
                const int *fds, size_t nfds, void *out, size_t room,
                size_t *out_len)
{
    uint16_t id = cl_send(s, cmd, 0, payload, len, fds, nfds);

    return cl_wait(s, id, out, room, out_len);
}

int cl_call(Srv *s, uint16_t cmd, const void *payload, size_t len, void *out,
            size_t room)
{
    return cl_call_fds(s, cmd, payload, len, NULL, 0, out, room, NULL);
}

static void cl_version(Srv *s)
{
    VFIOUserCaps caps;
    g_autofree void *p = NULL;
    uint8_t reply[4096];
    size_t len, rlen;

    vfio_user_caps_init_ours(&caps);
    caps.max_data_xfer_size = MAX_XFER;
    caps.max_msg_fds = 8;
    p = vfio_user_caps_build_version(&caps, &len);
    g_assert_cmpint(cl_call_fds(s, VFIO_USER_VERSION, p, len, NULL, 0, reply,
                                sizeof(reply), &rlen),
                    ==, 0);
    g_assert_cmpuint(rlen, >, 4);
}

Srv *srv_ready(void)
{
    Srv *s = srv_start();

    cl_version(s);
    return s;
}

/* The server still answers a valid request. */
void assert_alive(Srv *s)
{
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)}, info;

    g_assert_cmpint(cl_call(s, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q), &info,
                            sizeof(info)),
                    ==, 0);
    g_assert_cmpuint(info.num_regions, >=, VFIO_PCI_NUM_REGIONS);
}

/* The server dropped the connection: EOF here, run() failed with @want
 * (0: any error). */
void assert_dropped(Srv *s, int want)
{
    char c;

    do {
        /* an error reply may come before the end */
        g_assert_true(vut_readable(s->sock, RECV_MS));
    } while (recv(s->sock, &c, 1, 0) > 0);
    g_assert_true(srv_wait_finished(s, RECV_MS));
    g_assert_false(s->run_ok);
    if (want) {
        g_assert_cmpint(s->run_errno, ==, want);
    }
}

/* The request @payload gets error @want; the server keeps serving. */
void expect_error(Srv *s, uint16_t cmd, const void *payload, size_t len,
                  int want)
{
    uint8_t out[MAX_XFER + 64];

    g_assert_cmpint(cl_call(s, cmd, payload, len, out, sizeof(out)), ==, want);
    assert_alive(s);
}

/* ---- requests the tests of several topics make ---- */

int region_read(Srv *s, uint32_t index, uint64_t off, uint32_t count, void *out)
{
    VFIOUserRegionRW rw = {.offset = off, .region = index, .count = count};
    static uint8_t reply[sizeof(VFIOUserRegionRW) + MAX_XFER];
    int ret = cl_call(s, VFIO_USER_REGION_READ, &rw, sizeof(rw), reply,
                      sizeof(reply));

    if (!ret && out) {
        memcpy(out, reply + sizeof(rw), count);
    }
    return ret;
}

void make_eventfds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC);
        g_assert_cmpint(fds[i], >=, 0);
    }
}
