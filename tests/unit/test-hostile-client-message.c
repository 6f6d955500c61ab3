/*
 * Malicious-client tests, messages and the connection: libvfio-user-server
 * against a raw client that sends bad headers, unknown or unsupported
 * commands, requests before VERSION or a bad VERSION, too short payloads,
 * fd floods, and that hangs up in the middle of a message or stalls.
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

/* ---- headers and commands ---- */

static void send_hdr(Srv *s, uint16_t cmd, uint32_t size, uint32_t flags)
{
    VFIOUserHdr hdr;

    vfio_user_hdr_init(&hdr, s->next_id++, cmd, size, flags);
    cl_send_raw(s, &hdr, sizeof(hdr), NULL, 0);
}

static void test_header_size_below(void)
{
    for (uint32_t size = 0; size < 16; size += 8) {
        Srv *s = srv_ready();

        send_hdr(s, VFIO_USER_DEVICE_GET_INFO, size, 0);
        assert_dropped(s, EPROTO);
        srv_end(s);
    }
}

/* 2 GiB and "one byte more than the limit": refused from the header,
 * nothing allocated for them. */
static void test_header_size_over(void)
{
    static const uint32_t sizes[] = {
        0x80000000u,
        0xffffffffu,
        16 + sizeof(VFIOUserDMARW) + MAX_XFER + 1,
    };

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        Srv *s = srv_ready();

        vut_limit_address_space();
        send_hdr(s, VFIO_USER_REGION_WRITE, sizes[i], 0);
        assert_dropped(s, EPROTO);
        vut_unlimit_address_space();
        srv_end(s);
    }
}

static void test_header_unknown_type(void)
{
    Srv *s = srv_ready();

    send_hdr(s, VFIO_USER_DEVICE_GET_INFO, 16, 0x5);
    assert_dropped(s, EPROTO);
    srv_end(s);
}

static void test_cmd_unknown(void)
{
    static const uint16_t cmds[] = {0, 19, 99, 0xffff};
    static const uint8_t junk[40] = {0xde, 0xad};
    Srv *s = srv_ready();

    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        expect_error(s, cmds[i], junk, sizeof(junk), ENOSYS);
    }
    srv_end(s);
}

static void test_cmd_unsupported(void)
{
    static const uint16_t cmds[] = {
        VFIO_USER_DIRTY_PAGES,
        VFIO_USER_DEVICE_FEATURE,
        VFIO_USER_MIG_DATA_READ,
        VFIO_USER_MIG_DATA_WRITE,
    };
    static const uint8_t junk[16] = {16};
    Srv *s = srv_ready();

    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        expect_error(s, cmds[i], junk, sizeof(junk), ENOTSUP);
    }
    srv_end(s);
}

/* DMA_READ / DMA_WRITE go server to client only. */
static void test_cmd_wrong_direction(void)
{
    VFIOUserDMARW rw = {.addr = GUEST_IOVA, .count = 8};
    Srv *s = srv_ready();

    expect_error(s, VFIO_USER_DMA_READ, &rw, sizeof(rw), EINVAL);
    expect_error(s, VFIO_USER_DMA_WRITE, &rw, sizeof(rw), EINVAL);
    srv_end(s);
}

/* Replies nobody asked for are dropped, with or without payload/fds. */
static void test_cmd_unsolicited_reply(void)
{
    uint8_t junk[64] = {0};
    VFIOUserHdr hdr;
    Srv *s = srv_ready();
    int fd = eventfd(0, EFD_CLOEXEC);

    vfio_user_hdr_init(&hdr, 0x4444, VFIO_USER_DMA_READ,
                       sizeof(hdr) + sizeof(junk), VFIO_USER_F_TYPE_REPLY);
    memcpy(junk, &hdr, sizeof(hdr));
    cl_send_raw(s, &hdr, sizeof(hdr), &fd, 1);
    cl_send_raw(s, junk, sizeof(junk), NULL, 0);
    close(fd);
    assert_alive(s);
    srv_end(s);
}

/* ---- VERSION ---- */

static void test_version_missing(void)
{
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)};
    Srv *s = srv_start();

    g_assert_cmpint(
        cl_call(s, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q), NULL, 0), ==,
        EINVAL);
    assert_dropped(s, EPROTO);
    srv_end(s);
}

static void test_version_twice(void)
{
    VFIOUserCaps caps;
    g_autofree void *p = NULL;
    size_t len;
    Srv *s = srv_ready();

    vfio_user_caps_init_ours(&caps);
    p = vfio_user_caps_build_version(&caps, &len);
    expect_error(s, VFIO_USER_VERSION, p, len, EINVAL);
    srv_end(s);
}

/* Each payload is refused with EINVAL and the connection dropped. */
static void test_version_bad(void)
{
    static const struct {
        uint16_t major;
        const char *json;
        size_t extra; /* bytes after the JSON text (0: no NUL at all) */
    } bad[] = {
        {0, "{\"capabilities\":{\"max_msg_fds\":\"8\"}}", 1},
        {0, "{\"capabilities\":{\"max_data_xfer_size\":0}}", 1},
        {0, "{\"capabilities\":{\"pgsizes\":0}}", 1},
        {0, "{\"capabilities\":{\"max_msg_fds\":100000}}", 1},
        {0, "{\"capabilities\":", 1},
        {0, "not json at all", 1},
        {0, "{\"capabilities\":{}}", 0},
        {1, "{\"capabilities\":{}}", 1},
        {0, "", 0}, /* only two bytes: a truncated version */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        size_t jlen = strlen(bad[i].json);
        g_autofree uint8_t *p = g_malloc0(4 + jlen + 1);
        uint16_t v[2] = {bad[i].major, 1};
        size_t len = 4 + jlen + bad[i].extra;
        Srv *s = srv_start();

        memcpy(p, v, sizeof(v));
        memcpy(p + 4, bad[i].json, jlen);
        if (!*bad[i].json) {
            len = 2;
        }
        g_assert_cmpint(cl_call(s, VFIO_USER_VERSION, p, len, NULL, 0), ==,
                        EINVAL);
        assert_dropped(s, 0);
        srv_end(s);
    }
}

/* ---- fd floods ---- */

/* More fds than max_msg_fds on one message: refused, all closed; more
 * than the transport's control buffer: the connection is dropped. */
static void test_fds_flood_one(void)
{
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)};
    int fds[200];
    Srv *s = srv_ready();

    make_eventfds(fds, G_N_ELEMENTS(fds));
    g_assert_cmpint(cl_call_fds(s, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q),
                                fds, 9, NULL, 0, NULL),
                    ==, EINVAL);
    g_assert_cmpint(cl_call_fds(s, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q),
                                fds, 64, NULL, 0, NULL),
                    ==, EINVAL);
    assert_alive(s);
    cl_send(s, VFIO_USER_DEVICE_GET_INFO, 0, &q, sizeof(q), fds, 64);
    {
        /* Past VFIO_USER_MAX_FDS the transport refuses to send; go raw. */
        union {
            char buf[CMSG_SPACE(sizeof(int) * 200)];
            struct cmsghdr align;
        } ctl;
        VFIOUserHdr hdr;
        struct iovec iov = {.iov_base = &hdr, .iov_len = sizeof(hdr)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

        vfio_user_hdr_init(&hdr, 0x999, VFIO_USER_DEVICE_GET_INFO, sizeof(hdr),
                           VFIO_USER_F_TYPE_REQUEST);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * 200);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * 200);
        g_assert_cmpint(sendmsg(s->sock, &msg, 0), ==, sizeof(hdr));
    }
    vfio_user_close_fds(fds, G_N_ELEMENTS(fds));
    assert_dropped(s, EPROTO);
    srv_end(s);
}

/* A thousand messages, each with an fd it should not carry. */
static void test_fds_flood_many(void)
{
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)};
    Srv *s = srv_ready();
    int fd = eventfd(0, EFD_CLOEXEC);

    for (int i = 0; i < 1000; i++) {
        uint16_t cmd = i % 2 ? VFIO_USER_DEVICE_GET_INFO : 99;

        g_assert_cmpint(
            cl_call_fds(s, cmd, &q, sizeof(q), &fd, 1, NULL, 0, NULL), ==,
            i % 2 ? EINVAL : ENOSYS);
    }
    close(fd);
    assert_alive(s);
    srv_end(s);
}

/* ---- hang-ups and stalls ---- */

static void test_disconnect_mid_header(void)
{
    VFIOUserHdr hdr;
    Srv *s = srv_ready();

    vfio_user_hdr_init(&hdr, 7, VFIO_USER_DEVICE_GET_INFO, 32,
                       VFIO_USER_F_TYPE_REQUEST);
    cl_send_raw(s, &hdr, 7, NULL, 0);
    shutdown(s->sock, SHUT_WR);
    assert_dropped(s, EPROTO);
    srv_end(s);
}

static void test_disconnect_mid_body(void)
{
    uint8_t p[16 + 10] = {0};
    VFIOUserHdr hdr;
    Srv *s = srv_ready();
    int fd = eventfd(0, EFD_CLOEXEC);

    vfio_user_hdr_init(&hdr, 7, VFIO_USER_REGION_WRITE, 16 + 100,
                       VFIO_USER_F_TYPE_REQUEST);
    memcpy(p, &hdr, sizeof(hdr));
    cl_send_raw(s, p, sizeof(p), &fd, 1);
    close(fd);
    shutdown(s->sock, SHUT_WR);
    assert_dropped(s, EPROTO);
    srv_end(s);
}

static void test_disconnect_clean(void)
{
    Srv *s = srv_ready();

    assert_alive(s);
    shutdown(s->sock, SHUT_WR);
    g_assert_true(srv_wait_finished(s, RECV_MS));
    g_assert_true(s->run_ok);
    srv_end(s);
}

/*
 * Half a message, then silence: vus_server_stop() must still end
 * vus_server_run() (a device must be able to shut down with a client
 * that stopped talking in the middle of a message).
 */
static void test_stall_then_stop(void)
{
    uint8_t p[16 + 10] = {0};
    VFIOUserHdr hdr;
    Srv *s = srv_ready();

    vfio_user_hdr_init(&hdr, 7, VFIO_USER_REGION_WRITE, 16 + 100,
                       VFIO_USER_F_TYPE_REQUEST);
    memcpy(p, &hdr, sizeof(hdr));
    cl_send_raw(s, p, sizeof(p), NULL, 0);
    vus_server_stop(s->srv);
    if (!srv_wait_finished(s, 1000)) {
        g_test_fail_printf(
            "vus_server_run() did not return within 1 s of vus_server_stop() while a client stalled in the middle of a message");
    }
    srv_end(s); /* the hang-up ends the stall in any case */
}

/*
 * Half a message, then silence, while the server waits in a blocking
 * recvmsg() (no ioeventfd, no message-mode map): it drops the client
 * after its DMA timeout, as it does when it polls, although its waits
 * between messages have no timeout.
 */
static void test_stall_mid_message(void)
{
    uint8_t p[16 + 10] = {0};
    VFIOUserHdr hdr;
    Srv *s = srv_ready();

    assert_alive(s); /* the loop now waits between messages */
    vfio_user_hdr_init(&hdr, 7, VFIO_USER_REGION_WRITE, 16 + 100,
                       VFIO_USER_F_TYPE_REQUEST);
    memcpy(p, &hdr, sizeof(hdr));
    cl_send_raw(s, p, sizeof(p), NULL, 0);
    assert_dropped(s, EAGAIN);
    srv_end(s);
}

/*
 * The client never reads its replies: 200 reads of 8 KiB fill the socket.
 * The server must give up on the connection (its send timeout) instead
 * of blocking, with its lock held, forever.
 */
static void test_stall_stops_reading(void)
{
    VFIOUserRegionRW rw = {.region = VFIO_PCI_BAR1_REGION_INDEX,
                           .count = BAR1_SIZE};
    Srv *s = srv_ready();

    for (int i = 0; i < 200; i++) {
        cl_send(s, VFIO_USER_REGION_READ, 0, &rw, sizeof(rw), NULL, 0);
    }
    if (!srv_wait_finished(s, 10 * DMA_TIMEOUT_MS + 2000)) {
        g_test_fail_printf(
            "the server still blocks on a client that does not read");
        shutdown(s->sock, SHUT_RDWR);
    }
    g_assert_true(srv_wait_finished(s, RECV_MS));
    g_assert_false(s->run_ok);
    srv_end(s);
}

/* ---- other fixed-size requests ---- */

static void test_misc_small_payloads(void)
{
    VFIOUserDeviceInfo q = {.argsz = 4};
    Srv *s = srv_ready();

    expect_error(s, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q), EINVAL);
    expect_error(s, VFIO_USER_DEVICE_GET_INFO, &q, 4, EINVAL);
    expect_error(s, VFIO_USER_DEVICE_GET_INFO, NULL, 0, EINVAL);
    expect_error(s, VFIO_USER_DEVICE_RESET, &q, sizeof(q), EINVAL);
    expect_error(s, VFIO_USER_DEVICE_GET_REGION_IO_FDS, &q, 8, EINVAL);
    g_assert_cmpint(cl_call(s, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0), ==,
                    0);
    srv_end(s);
}

int main(int argc, char **argv)
{
    /* Go on past a failed case, so that one run reports every failure. */
    vut_init_keep_going(&argc, &argv);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

    g_test_add_func("/hostile-client/header/size-below",
                    test_header_size_below);
    g_test_add_func("/hostile-client/header/size-over", test_header_size_over);
    g_test_add_func("/hostile-client/header/unknown-type",
                    test_header_unknown_type);
    g_test_add_func("/hostile-client/cmd/unknown", test_cmd_unknown);
    g_test_add_func("/hostile-client/cmd/unsupported", test_cmd_unsupported);
    g_test_add_func("/hostile-client/cmd/wrong-direction",
                    test_cmd_wrong_direction);
    g_test_add_func("/hostile-client/cmd/unsolicited-reply",
                    test_cmd_unsolicited_reply);
    g_test_add_func("/hostile-client/version/missing", test_version_missing);
    g_test_add_func("/hostile-client/version/twice", test_version_twice);
    g_test_add_func("/hostile-client/version/bad", test_version_bad);
    g_test_add_func("/hostile-client/fds/flood-one", test_fds_flood_one);
    g_test_add_func("/hostile-client/fds/flood-many", test_fds_flood_many);
    g_test_add_func("/hostile-client/disconnect/mid-header",
                    test_disconnect_mid_header);
    g_test_add_func("/hostile-client/disconnect/mid-body",
                    test_disconnect_mid_body);
    g_test_add_func("/hostile-client/disconnect/clean", test_disconnect_clean);
    g_test_add_func("/hostile-client/stall/stop", test_stall_then_stop);
    g_test_add_func("/hostile-client/stall/mid-message",
                    test_stall_mid_message);
    g_test_add_func("/hostile-client/stall/stops-reading",
                    test_stall_stops_reading);
    g_test_add_func("/hostile-client/misc/small-payloads",
                    test_misc_small_payloads);
    return g_test_run();
}
