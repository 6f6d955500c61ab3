/*
 * Malicious-server tests, replies: the client against a scripted fake
 * server whose replies are wrong (command, size, type, id), duplicated,
 * truncated, late, too long or missing, carry unexpected or too many fds,
 * or that stops reading, or sends a request the client does not know.
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
#include "hw/vfio-user/proxy-rxbuf.h"
#include "hostile-server-case.h"
#include "scripted-server.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

static void script_info(FakeServer *fs)
{
    fake_expect(fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply(fs, &info_reply, sizeof(info_reply));
}

static void assert_info_ok(VFIOUserProxy *p)
{
    VFIOUserDeviceInfo info;
    GError *err = NULL;

    g_assert_true(call_info(p, &info, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(info.num_regions, ==, 1);
}

/* ---- replies ---- */

/* The server answers GET_INFO per @h/@payload; the call fails with @want
 * and the connection is dropped. */
static void fatal_reply_case(const FakeHdr *h, const void *payload, size_t len,
                             int want)
{
    VFIOUserDeviceInfo info;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply_ex(c.fs, h, payload, len, NULL, 0);
    fake_stall(c.fs);
    case_connect(&c, 5000);
    c.t0 = g_get_monotonic_time();
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, want);
    assert_quick(c.t0, QUICK_MS);
    g_clear_error(&err);
    g_assert_cmpint(vfio_user_proxy_state(c.p), ==, VFIO_PROXY_ERROR);
    /* Every later call fails at once. */
    g_assert_false(call_info(c.p, &info, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    assert_quick(c.t0, QUICK_MS);
    case_end(&c);
}

static void test_reply_wrong_cmd(void)
{
    FakeHdr h = {.set_cmd = true, .cmd = VFIO_USER_REGION_READ};

    fatal_reply_case(&h, &info_reply, sizeof(info_reply), EPROTO);
}

static void test_reply_size_below_header(void)
{
    for (uint32_t size = 0; size < 16; size += 5) {
        FakeHdr h = {.set_size = true, .size = size};

        fatal_reply_case(&h, NULL, 0, EPROTO);
    }
}

/* A 2^31 size is refused from the header: no allocation, no read. */
static void test_reply_size_over_limit(void)
{
    FakeHdr h = {.set_size = true, .size = 0x80000000u};
    /* Over our own limit (what we offered), not the server's 64 KiB. */
    FakeHdr h2 = {.set_size = true,
                  .size = 16 + 4096 + VFIO_USER_DEF_MAX_XFER + 1};

    vut_limit_address_space();
    fatal_reply_case(&h, NULL, 0, EPROTO);
    vut_unlimit_address_space();
    fatal_reply_case(&h2, NULL, 0, EPROTO);
}

static void test_reply_unknown_type(void)
{
    FakeHdr h = {.set_flags = true, .flags = 0xf};

    fatal_reply_case(&h, &info_reply, sizeof(info_reply), EPROTO);
}

/* Header promises 32 bytes, 4 come, then the server hangs up: the caller
 * learns at once, not after its 5 s timeout. */
static void test_reply_truncated_hangup(void)
{
    VFIOUserDeviceInfo info;
    FakeHdr h = {.set_size = true, .size = 32};
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply_ex(c.fs, &h, &info_reply, 4, NULL, 0);
    fake_hangup(c.fs);
    case_connect(&c, 5000);
    c.t0 = g_get_monotonic_time();
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, EPROTO);
    assert_quick(c.t0, QUICK_MS);
    g_error_free(err);
    case_end(&c);
}

static void test_reply_hangup_waiting(void)
{
    VFIOUserDeviceInfo info;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_hangup(c.fs);
    case_connect(&c, 5000);
    c.t0 = g_get_monotonic_time();
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, ECONNRESET);
    assert_quick(c.t0, QUICK_MS);
    g_error_free(err);
    case_end(&c);
}

/* Disconnect in the middle of a header. */
static void test_reply_mid_header_hangup(void)
{
    VFIOUserDeviceInfo info;
    static const uint8_t half[7] = {1, 0, 4, 0, 32};
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_send_raw(c.fs, half, sizeof(half), NULL, 0);
    fake_hangup(c.fs);
    case_connect(&c, 5000);
    c.t0 = g_get_monotonic_time();
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, EPROTO);
    assert_quick(c.t0, QUICK_MS);
    g_error_free(err);
    case_end(&c);
}

/* A reply to an id nobody waits for is dropped and counted. */
static void test_reply_unknown_id(void)
{
    FakeHdr h = {.set_id = true, .id = 0x4321};
    VFIOUserProxyStats st;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply_ex(c.fs, &h, &info_reply, sizeof(info_reply), NULL, 0);
    fake_reply(c.fs, &info_reply, sizeof(info_reply));
    fake_stall(c.fs);
    case_connect(&c, 2000);
    assert_info_ok(c.p);
    vfio_user_proxy_get_stats(c.p, &st);
    g_assert_cmpuint(st.unknown_replies, ==, 1);
    g_assert_cmpuint(st.replies, ==, 1);
    g_assert_cmpint(vfio_user_proxy_state(c.p), ==, VFIO_PROXY_CONNECTED);
    case_end(&c);
}

/* Two replies for one id: the second is dropped, the next call works. */
static void test_reply_duplicate(void)
{
    VFIOUserProxyStats st;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply(c.fs, &info_reply, sizeof(info_reply));
    fake_reply(c.fs, &info_reply, sizeof(info_reply));
    script_info(c.fs);
    fake_stall(c.fs);
    case_connect(&c, 2000);
    assert_info_ok(c.p);
    assert_info_ok(c.p);
    vfio_user_proxy_get_stats(c.p, &st);
    g_assert_cmpuint(st.unknown_replies, ==, 1);
    g_assert_cmpuint(st.replies, ==, 2);
    case_end(&c);
}

/* No reply: ETIMEDOUT after the timeout, the late reply is dropped, the
 * connection keeps working. */
/* Wait (bounded) until @p has dropped @n late replies. */
static void wait_late_replies(VFIOUserProxy *p, uint64_t n)
{
    gint64 deadline = vut_deadline_ms(5000);
    VFIOUserProxyStats st;

    do {
        vfio_user_proxy_get_stats(p, &st);
        if (st.late_replies >= n) {
            return;
        }
        g_thread_yield();
    } while (g_get_monotonic_time() < deadline);
    g_assert_cmpuint(st.late_replies, >=, n);
}

/*
 * No reply: ETIMEDOUT after one timeout; until the server answers again
 * further requests fail at once (a stall costs one timeout, not one per
 * request); the late reply is dropped and counted.
 */
static void test_reply_never(void)
{
    VFIOUserDeviceInfo info;
    VFIOUserProxyStats st;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_wait_go(c.fs);
    fake_reply(c.fs, &info_reply, sizeof(info_reply));
    script_info(c.fs);
    fake_stall(c.fs);
    case_connect(&c, T_MS);
    c.t0 = g_get_monotonic_time();
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, ETIMEDOUT);
    assert_quick(c.t0, T_MS + QUICK_MS);
    g_clear_error(&err);
    c.t0 = g_get_monotonic_time();
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, ETIMEDOUT);
    g_assert_cmpint(g_get_monotonic_time() - c.t0, <, T_MS * 1000 / 2);
    g_clear_error(&err);
    fake_go(c.fs);
    wait_late_replies(c.p, 1);
    assert_info_ok(c.p);
    vfio_user_proxy_get_stats(c.p, &st);
    g_assert_cmpuint(st.timeouts, ==, 1);
    g_assert_cmpuint(st.fast_fails, ==, 1);
    g_assert_cmpuint(st.late_replies, ==, 1);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    case_end(&c);
}

/* Header arrives, body never does: the claimed waiter gives up after its
 * grace period and the connection is failed. */
static void test_reply_stall_mid_body(void)
{
    VFIOUserDeviceInfo info;
    FakeHdr h = {.set_size = true, .size = 32};
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply_ex(c.fs, &h, &info_reply, 4, NULL, 0);
    fake_stall(c.fs);
    case_connect(&c, T_MS);
    c.t0 = g_get_monotonic_time();
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, ETIMEDOUT);
    assert_quick(c.t0, 2 * T_MS + QUICK_MS);
    g_error_free(err);
    g_assert_cmpint(vfio_user_proxy_state(c.p), ==, VFIO_PROXY_ERROR);
    case_end(&c);
}

/* More payload than the caller's buffer: EMSGSIZE, connection kept. */
static void test_reply_too_long(void)
{
    uint8_t big[4096] = {0};
    VFIOUserDeviceInfo info;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply(c.fs, big, sizeof(big));
    script_info(c.fs);
    fake_stall(c.fs);
    case_connect(&c, 2000);
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, EMSGSIZE);
    g_error_free(err);
    assert_info_ok(c.p);
    case_end(&c);
}

/* An error reply to a posted write is counted, not lost. */
static void test_posted_error_counted(void)
{
    VFIOUserRegionRW rw = {.offset = 0, .region = 0, .count = 4};
    uint32_t data = 0x12345678;
    struct iovec iov[2] = {
        {.iov_base = &rw, .iov_len = sizeof(rw)},
        {.iov_base = &data, .iov_len = sizeof(data)},
    };
    VFIOUserRequest req = {
        .cmd = VFIO_USER_REGION_WRITE,
        .iov = iov,
        .iovcnt = 2,
        .no_reply = true,
    };
    VFIOUserProxyStats st;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_REGION_WRITE);
    fake_reply_error(c.fs, EIO);
    script_info(c.fs);
    fake_stall(c.fs);
    case_connect(&c, 2000);
    g_assert_true(vfio_user_proxy_post(c.p, &req, &err));
    g_assert_no_error(err);
    /* The receive thread handles messages in order: once this reply has
     * been matched, the error reply before it has been counted. */
    assert_info_ok(c.p);
    vfio_user_proxy_get_stats(c.p, &st);
    g_assert_cmpuint(st.posted, ==, 1);
    g_assert_cmpuint(st.posted_errors, ==, 1);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    case_end(&c);
}

typedef struct PostJob {
    VFIOUserProxy *p;
    VutEvent done;
    unsigned failed; /* posts that returned an error */
} PostJob;

static gpointer post_thread(gpointer opaque)
{
    PostJob *j = opaque;
    g_autofree uint8_t *data = g_malloc0(60000);
    VFIOUserRegionRW rw = {.offset = 0, .region = 0, .count = 60000};
    struct iovec iov[2] = {
        {.iov_base = &rw, .iov_len = sizeof(rw)},
        {.iov_base = data, .iov_len = 60000},
    };
    VFIOUserRequest req = {
        .cmd = VFIO_USER_REGION_WRITE,
        .iov = iov,
        .iovcnt = 2,
        .no_reply = true,
    };

    for (int i = 0; i < 40; i++) {
        GError *err = NULL;

        if (!vfio_user_proxy_post(j->p, &req, &err)) {
            j->failed++;
            g_error_free(err);
        }
    }
    vut_event_set(&j->done);
    return NULL;
}

/*
 * The server stops reading: 2.4 MB of posted writes fill the socket.  The
 * writer must not block forever (a vCPU doing MMIO would hang): the
 * sends fail after the message timeout at the latest.
 */
static void test_server_stops_reading(void)
{
    PostJob j = {0};
    GThread *t;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    fake_freeze(c.fs);
    case_connect(&c, T_MS);
    j.p = c.p;
    vut_event_init(&j.done);
    t = g_thread_new("post", post_thread, &j);
    if (!vut_event_wait(&j.done, 4 * T_MS + QUICK_MS)) {
        g_test_fail_printf(
            "posted writes still blocked %d ms after the server stopped reading",
            4 * T_MS + QUICK_MS);
    }
    /* Either way, let a blocked send fail so that the writer ends. */
    fake_kill(c.fs);
    g_thread_join(t);
    g_assert_cmpuint(j.failed, >, 0);
    vut_event_clear(&j.done);
    case_end(&c);
}

/* Server requests the client does not serve: ENOSYS each, the
 * connection is kept. */
static void test_request_unknown_cmd(void)
{
    static const uint16_t cmds[] = {99, 0, VFIO_USER_DEVICE_GET_INFO,
                                    VFIO_USER_VERSION};
    static const uint8_t junk[24] = {1, 2, 3};
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        fake_send_msg(c.fs, NULL, cmds[i], VFIO_USER_F_TYPE_REQUEST, junk,
                      sizeof(junk));
        fake_capture(c.fs);
    }
    fake_notify(c.fs);
    script_info(c.fs);
    fake_stall(c.fs);
    case_connect(&c, 2000);
    g_assert_true(fake_wait_notify(c.fs));
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        const FakeMsg *m = fake_captured(c.fs, 1 + i);

        g_assert_true(vfio_user_hdr_is_reply(&m->hdr));
        g_assert_cmpuint(m->hdr.cmd, ==, cmds[i]);
        g_assert_cmpuint(m->hdr.flags & VFIO_USER_F_ERROR, !=, 0);
        g_assert_cmpuint(m->hdr.error, ==, ENOSYS);
    }
    assert_info_ok(c.p);
    case_end(&c);
}

/* ---- fds ---- */

/* A reply carrying @nfds fds to a request that takes none or a few. */
static void test_fds_unexpected(void)
{
    int fds[24];
    Case c;

    case_begin(&c);
    make_fds(fds, G_N_ELEMENTS(fds));
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply_ex(c.fs, NULL, &info_reply, sizeof(info_reply), fds, 3);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply_ex(c.fs, NULL, &info_reply, sizeof(info_reply), fds, 24);
    fake_stall(c.fs);
    vfio_user_close_fds(fds, G_N_ELEMENTS(fds));
    case_connect(&c, 2000);
    assert_info_ok(c.p);
    assert_info_ok(c.p);
    case_end(&c);
}

/* More fds than the transport's control buffer holds: truncated control
 * data is a protocol error, and the kernel-dropped fds are not leaked. */
static void test_fds_flood(void)
{
    int fds[100];
    VFIOUserDeviceInfo info;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    make_fds(fds, G_N_ELEMENTS(fds));
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply_ex(c.fs, NULL, &info_reply, sizeof(info_reply), fds, 100);
    fake_stall(c.fs);
    vfio_user_close_fds(fds, G_N_ELEMENTS(fds));
    case_connect(&c, 2000);
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, EPROTO);
    g_error_free(err);
    case_end(&c);
}

/*
 * Fds that arrive with the body rather than the header.  The reply is
 * larger than the client's receive buffer and its first write larger
 * still, so the receive that takes the header cannot reach the write
 * with the fd (which a receive would otherwise glue to the header, as
 * the kernel hands fds over with the bytes of earlier writes): the fd
 * comes with the body's receive, EPROTO.
 */
static void test_fds_in_body(void)
{
    enum { BODY = 12000, FIRST = 9000 };
    g_autofree uint8_t *msg = g_malloc0(sizeof(VFIOUserHdr) + BODY);
    VFIOUserHdr hdr;
    VFIOUserDeviceInfo info;
    GError *err = NULL;
    Case c;
    int fd;

    G_STATIC_ASSERT(FIRST > VFIO_USER_RXBUF_SIZE);
    case_begin(&c);
    fd = dup(STDERR_FILENO);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    /* id 1: the first request after VERSION. */
    vfio_user_hdr_init(&hdr, 1, VFIO_USER_DEVICE_GET_INFO, sizeof(hdr) + BODY,
                       VFIO_USER_F_TYPE_REPLY);
    memcpy(msg, &hdr, sizeof(hdr));
    memcpy(msg + sizeof(hdr), &info_reply, sizeof(info_reply));
    fake_send_raw(c.fs, msg, sizeof(hdr) + FIRST, NULL, 0);
    fake_send_raw(c.fs, msg + sizeof(hdr) + FIRST, BODY - FIRST, &fd, 1);
    fake_stall(c.fs);
    close(fd);
    case_connect(&c, 2000);
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, EPROTO);
    g_error_free(err);
    case_end(&c);
}

int main(int argc, char **argv)
{
    /* Go on past a failed case, so that one run reports every failure. */
    vut_init_keep_going(&argc, &argv);
    /* Warnings about the hostile peer are expected; criticals are not. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

    g_test_add_func("/hostile-server/reply/wrong-cmd", test_reply_wrong_cmd);
    g_test_add_func("/hostile-server/reply/size-below-header",
                    test_reply_size_below_header);
    g_test_add_func("/hostile-server/reply/size-over-limit",
                    test_reply_size_over_limit);
    g_test_add_func("/hostile-server/reply/unknown-type",
                    test_reply_unknown_type);
    g_test_add_func("/hostile-server/reply/truncated-hangup",
                    test_reply_truncated_hangup);
    g_test_add_func("/hostile-server/reply/hangup-waiting",
                    test_reply_hangup_waiting);
    g_test_add_func("/hostile-server/reply/mid-header-hangup",
                    test_reply_mid_header_hangup);
    g_test_add_func("/hostile-server/reply/unknown-id", test_reply_unknown_id);
    g_test_add_func("/hostile-server/reply/duplicate", test_reply_duplicate);
    g_test_add_func("/hostile-server/reply/never", test_reply_never);
    g_test_add_func("/hostile-server/reply/stall-mid-body",
                    test_reply_stall_mid_body);
    g_test_add_func("/hostile-server/reply/too-long", test_reply_too_long);
    g_test_add_func("/hostile-server/reply/posted-error-counted",
                    test_posted_error_counted);
    g_test_add_func("/hostile-server/reply/server-stops-reading",
                    test_server_stops_reading);
    g_test_add_func("/hostile-server/request/unknown-cmd",
                    test_request_unknown_cmd);
    g_test_add_func("/hostile-server/fds/unexpected", test_fds_unexpected);
    g_test_add_func("/hostile-server/fds/flood", test_fds_flood);
    g_test_add_func("/hostile-server/fds/in-body", test_fds_in_body);
    return g_test_run();
}
