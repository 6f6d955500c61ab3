/*
 * The proxy without a receive thread (vfio_user_proxy_new_inline()) on
 * an in-memory transport, all on the test's thread: the server's side is
 * queued in advance.  A blocking request reads until its reply is in,
 * dispatching a server request that comes first; pump() reads the rest
 * and fails the proxy at end of stream.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "hw/vfio-user/proxy.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

static void send_hdr(VfioUserTransport *t, uint16_t id, uint16_t cmd,
                     uint32_t flags, const void *payload, size_t len)
{
    g_autoptr(GError) err = NULL;
    VFIOUserHdr hdr;

    vfio_user_hdr_init(&hdr, id, cmd, sizeof(hdr) + len, flags);
    g_assert_true(vfio_user_tr_send(t, &hdr, payload, len, NULL, 0, &err));
}

/* The next message the client sent (its payload dropped). */
static void recv_hdr(VfioUserTransport *t, VFIOUserHdr *hdr)
{
    g_autoptr(GError) err = NULL;
    size_t nfds;

    g_assert_true(vfio_user_tr_recv_hdr_wait(t, hdr, NULL, &nfds, 0, 1 << 16,
                                             NULL, &err));
    g_assert_true(
        vfio_user_tr_discard_wait(t, hdr->size - sizeof(*hdr), NULL, &err));
}

static void queue_version_reply(VfioUserTransport *t)
{
    static const char json[] = "{\"capabilities\":{\"max_msg_fds\":8}}";
    uint8_t buf[4 + sizeof(json)] = {0, 0, 1, 0};

    memcpy(buf + 4, json, sizeof(json));
    send_hdr(t, 0, VFIO_USER_VERSION, VFIO_USER_F_TYPE_REPLY, buf, sizeof(buf));
}

static bool count_request(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                          int *fds, size_t nfds, void *opaque, GError **errp)
{
    (void)fds;
    (void)nfds;
    (*(int *)opaque)++;
    return vfio_user_proxy_discard(proxy, hdr->size - sizeof(*hdr), errp) &&
           vfio_user_proxy_send_error(proxy, hdr, ENOTSUP, errp);
}

static void test_inline_call(void)
{
    unsigned fds0 = vut_count_fds();
    VfioUserTransport *t[2];
    GError *err = NULL;
    VFIOUserProxy *p;
    uint8_t reply[8] = {0}, data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct iovec riov = {.iov_base = reply, .iov_len = sizeof(reply)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_INFO,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
    };
    VFIOUserHdr hdr;
    int served = 0;

    g_assert_true(vfio_user_transport_mem_pair(t, &err));
    queue_version_reply(t[1]);
    /* A server request before the reply, then the reply to id 1. */
    send_hdr(t[1], 40, VFIO_USER_DMA_READ, VFIO_USER_F_TYPE_REQUEST, data,
             sizeof(data));
    send_hdr(t[1], 1, VFIO_USER_DEVICE_GET_INFO, VFIO_USER_F_TYPE_REPLY, data,
             sizeof(data));
    p = vfio_user_proxy_new_inline(t[0], NULL, &err);
    g_assert_no_error(err);
    vfio_user_proxy_set_request_handler(p, count_request, &served);
    g_assert_true(vfio_user_proxy_call(p, &req, &err));
    g_assert_no_error(err);
    g_assert_cmpint(served, ==, 1);
    g_assert_cmpuint(req.reply_len, ==, sizeof(data));
    g_assert_cmpmem(reply, sizeof(reply), data, sizeof(data));
    /* What the client sent: VERSION, the request, the error reply. */
    recv_hdr(t[1], &hdr);
    g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_VERSION);
    recv_hdr(t[1], &hdr);
    g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_DEVICE_GET_INFO);
    g_assert_cmpuint(hdr.id, ==, 1);
    recv_hdr(t[1], &hdr);
    g_assert_cmpuint(hdr.id, ==, 40);
    g_assert_cmpuint(hdr.flags, ==, VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR);
    g_assert_cmpuint(hdr.error, ==, ENOTSUP);
    /* Nothing more comes: pump() fails the proxy at end of stream. */
    vfio_user_transport_close(t[1]);
    g_assert_false(vfio_user_proxy_pump(p, &err));
    g_assert_error(err, VFIO_USER_ERROR, ECONNRESET);
    g_clear_error(&err);
    g_assert_cmpint(vfio_user_proxy_state(p), ==, VFIO_PROXY_ERROR);
    g_assert_false(vfio_user_proxy_call(p, &req, &err));
    g_assert_error(err, VFIO_USER_ERROR, ECONNRESET);
    g_clear_error(&err);
    vfio_user_proxy_close(p);
    g_assert_cmpuint(vut_count_fds(), ==, fds0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/proxy-inline/call", test_inline_call);
    return g_test_run();
}
