/*
 * Harness for test-sample-devices: server thread, fake client, guest
 * memory and the DMA_READ/DMA_WRITE service of the fake client.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include "vfio-user/transport.h"
#include "sample-harness.h"

#define HARNESS_MAX_MSG (4u * 1024 * 1024)

static gpointer harness_server_thread(gpointer opaque)
{
    Harness *h = opaque;

    h->run_ok = vus_server_run(h->srv, &h->run_err);
    return NULL;
}

void harness_negotiate(Harness *h)
{
    VFIOUserCaps caps, theirs;
    g_autofree uint8_t *reply = g_malloc(4096);
    g_autofree void *payload = NULL;
    GError *err = NULL;
    size_t len, got;

    vfio_user_caps_init_ours(&caps);
    payload = vfio_user_caps_build_version(&caps, &len);
    g_assert_cmpint(harness_call(h, VFIO_USER_VERSION, payload, len, NULL, 0,
                                 reply, 4096, &got, NULL, 0, NULL),
                    ==, 0);
    g_assert_true(vfio_user_caps_parse_version(reply, got, &theirs, &err));
    g_assert_no_error(err);
}

Harness *harness_new_client(int sock)
{
    Harness *h = g_new0(Harness, 1);

    h->guest_fd = memfd_create("test-guest", MFD_CLOEXEC);
    g_assert_cmpint(h->guest_fd, >=, 0);
    g_assert_cmpint(ftruncate(h->guest_fd, HARNESS_GUEST_SIZE), ==, 0);
    h->guest = mmap(NULL, HARNESS_GUEST_SIZE, PROT_READ | PROT_WRITE,
                    MAP_SHARED, h->guest_fd, 0);
    g_assert_true(h->guest != MAP_FAILED);
    h->sock = sock;
    return h;
}

Harness *harness_new(const SampleDeviceType *type)
{
    GError *err = NULL;
    Harness *h;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    h = harness_new_client(sv[1]);
    h->type = type;
    h->srv = vus_server_new(NULL, NULL, &err);
    g_assert_no_error(err);
    h->dev = type->create(h->srv, &err);
    g_assert_no_error(err);
    g_assert_nonnull(h->dev);
    g_assert_true(vus_server_attach(h->srv, sv[0], &err));
    g_assert_no_error(err);
    h->thread = g_thread_new("server", harness_server_thread, h);
    harness_negotiate(h);
    return h;
}

void harness_free(Harness *h)
{
    close(h->sock);
    if (h->thread) {
        g_thread_join(h->thread);
        g_assert_no_error(h->run_err);
        g_assert_true(h->run_ok);
        vus_server_free(h->srv);
        h->type->destroy(h->dev);
    }
    munmap(h->guest, HARNESS_GUEST_SIZE);
    close(h->guest_fd);
    g_free(h);
}

/* Guest offset of [addr, addr + count), or -1 when outside guest memory. */
static int64_t harness_guest_off(uint64_t addr, uint64_t count)
{
    if (addr < HARNESS_GUEST_BASE || count > HARNESS_GUEST_SIZE ||
        addr - HARNESS_GUEST_BASE > HARNESS_GUEST_SIZE - count) {
        return -1;
    }
    return addr - HARNESS_GUEST_BASE;
}

static void harness_send(Harness *h, const VFIOUserHdr *hdr,
                         const struct iovec *iov, int iovcnt)
{
    struct iovec all[3] = {{(void *)hdr, sizeof(*hdr)}};
    GError *err = NULL;

    g_assert_cmpint(iovcnt, <=, 2);
    memcpy(&all[1], iov, iovcnt * sizeof(*iov));
    g_assert_true(vfio_user_msg_sendv(h->sock, all, iovcnt + 1, NULL, 0, &err));
    g_assert_no_error(err);
}

/* Answer a DMA_READ or DMA_WRITE request whose header is @req. */
static void harness_serve_dma(Harness *h, const VFIOUserHdr *req)
{
    g_autofree uint8_t *body = NULL;
    VFIOUserHdr hdr;
    VFIOUserDMARW rw;
    GError *err = NULL;
    size_t len = req->size - sizeof(*req);
    int64_t off;

    g_assert_cmpuint(len, >=, sizeof(rw));
    body = g_malloc(len);
    g_assert_true(vfio_user_msg_recv_body(h->sock, body, len, &err));
    g_assert_no_error(err);
    memcpy(&rw, body, sizeof(rw));
    off = harness_guest_off(rw.addr, rw.count);
    g_assert_cmpint(off, >=, 0);
    if (req->cmd == VFIO_USER_DMA_READ) {
        struct iovec iov[2] = {{&rw, sizeof(rw)}, {h->guest + off, rw.count}};

        g_assert_cmpuint(len, ==, sizeof(rw));
        vfio_user_hdr_init(&hdr, req->id, req->cmd,
                           sizeof(hdr) + sizeof(rw) + rw.count,
                           VFIO_USER_F_TYPE_REPLY);
        harness_send(h, &hdr, iov, 2);
        h->dma_read_msgs++;
    } else {
        struct iovec iov = {&rw, sizeof(rw)};

        g_assert_cmpuint(len, ==, sizeof(rw) + rw.count);
        memcpy(h->guest + off, body + sizeof(rw), rw.count);
        vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr) + sizeof(rw),
                           VFIO_USER_F_TYPE_REPLY);
        harness_send(h, &hdr, &iov, 1);
        h->dma_write_msgs++;
    }
}

/* Read the body of our reply @hdr into @reply; returns its errno or 0. */
static int harness_take_reply(Harness *h, const VFIOUserHdr *hdr, void *reply,
                              size_t reply_len, size_t *got)
{
    size_t len = hdr->size - sizeof(*hdr);
    GError *err = NULL;

    if (hdr->flags & VFIO_USER_F_ERROR) {
        g_assert_cmpuint(len, ==, 0);
        g_assert_cmpuint(hdr->error, !=, 0);
        return hdr->error;
    }
    g_assert_cmpuint(len, <=, reply_len);
    g_assert_true(vfio_user_msg_recv_body(h->sock, reply, len, &err));
    g_assert_no_error(err);
    if (got) {
        *got = len;
    }
    return 0;
}

int harness_call(Harness *h, uint16_t cmd, const void *req, size_t req_len,
                 const int *send_fds, size_t send_nfds, void *reply,
                 size_t reply_len, size_t *got, int *fds, size_t max_fds,
                 size_t *nfds)
{
    uint16_t id = h->next_id++;
    VFIOUserHdr hdr;
    GError *err = NULL;
    int rfds[VFIO_USER_MAX_FDS];
    size_t n;

    vfio_user_hdr_init(&hdr, id, cmd, sizeof(hdr) + req_len,
                       VFIO_USER_F_TYPE_REQUEST);
    g_assert_true(vfio_user_msg_send(h->sock, &hdr, req, req_len, send_fds,
                                     send_nfds, &err));
    g_assert_no_error(err);
    for (;;) {
        g_assert_true(vfio_user_msg_recv_hdr(
            h->sock, &hdr, rfds, &n, VFIO_USER_MAX_FDS, HARNESS_MAX_MSG, &err));
        g_assert_no_error(err);
        if (!vfio_user_hdr_is_reply(&hdr)) {
            g_assert_cmpuint(n, ==, 0);
            g_assert_true(hdr.cmd == VFIO_USER_DMA_READ ||
                          hdr.cmd == VFIO_USER_DMA_WRITE);
            harness_serve_dma(h, &hdr);
            continue;
        }
        g_assert_cmpuint(hdr.id, ==, id);
        g_assert_cmpuint(hdr.cmd, ==, cmd);
        g_assert_cmpuint(n, <=, max_fds);
        if (n) {
            memcpy(fds, rfds, n * sizeof(int));
        }
        if (nfds) {
            *nfds = n;
        }
        return harness_take_reply(h, &hdr, reply, reply_len, got);
    }
}

int harness_region_rw(Harness *h, bool is_write, uint32_t region, uint64_t off,
                      void *buf, uint32_t len)
{
    size_t req_len = sizeof(VFIOUserRegionRW) + (is_write ? len : 0);
    size_t rep_len = sizeof(VFIOUserRegionRW) + (is_write ? 0 : len);
    g_autofree VFIOUserRegionRW *req = g_malloc0(req_len);
    g_autofree VFIOUserRegionRW *rep = g_malloc0(rep_len);
    size_t got = 0;
    int ret;

    req->offset = off;
    req->region = region;
    req->count = len;
    if (is_write) {
        memcpy(req->data, buf, len);
    }
    ret = harness_call(
        h, is_write ? VFIO_USER_REGION_WRITE : VFIO_USER_REGION_READ, req,
        req_len, NULL, 0, rep, rep_len, &got, NULL, 0, NULL);
    if (ret) {
        return ret;
    }
    g_assert_cmpuint(got, ==, rep_len);
    g_assert_cmpuint(rep->offset, ==, off);
    g_assert_cmpuint(rep->region, ==, region);
    g_assert_cmpuint(rep->count, ==, len);
    if (!is_write) {
        memcpy(buf, rep->data, len);
    }
    return 0;
}

uint64_t harness_read(Harness *h, uint32_t region, uint64_t off, uint32_t len)
{
    uint64_t val = 0;

    g_assert_cmpuint(len, <=, sizeof(val));
    g_assert_cmpint(harness_region_rw(h, false, region, off, &val, len), ==, 0);
    return val;
}

void harness_write(Harness *h, uint32_t region, uint64_t off, uint64_t val,
                   uint32_t len)
{
    g_assert_cmpuint(len, <=, sizeof(val));
    g_assert_cmpint(harness_region_rw(h, true, region, off, &val, len), ==, 0);
}

int harness_dma_map(Harness *h, uint64_t addr, uint64_t size, uint64_t goff,
                    uint32_t flags, bool send_fd)
{
    VFIOUserDMAMap map = {
        .argsz = sizeof(map),
        .flags = flags,
        .offset = send_fd ? goff : 0,
        .addr = addr,
        .size = size,
    };

    return harness_call(h, VFIO_USER_DMA_MAP, &map, sizeof(map),
                        send_fd ? &h->guest_fd : NULL, send_fd ? 1 : 0, NULL, 0,
                        NULL, NULL, 0, NULL);
}

int harness_set_irq_fd(Harness *h, uint32_t index, int efd)
{
    VFIOUserIrqSet set = {
        .argsz = sizeof(set),
        .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
        .index = index,
        .start = 0,
        .count = 1,
    };

    return harness_call(h, VFIO_USER_DEVICE_SET_IRQS, &set, sizeof(set),
                        efd >= 0 ? &efd : NULL, efd >= 0 ? 1 : 0, NULL, 0, NULL,
                        NULL, 0, NULL);
}

bool harness_eventfd_fired(int efd)
{
    uint64_t v;

    return read(efd, &v, sizeof(v)) == sizeof(v) && v > 0;
}
