/*
 * Malicious-server tests: the client library (proxy, container, device)
 * against a scripted fake server that lies in every way a server can:
 * absurd VERSION capabilities, broken headers, wrong replies, fd floods,
 * hostile region info, out-of-bounds DMA requests, floods and stalls.
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
#include "test-hostile-server-helpers.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

#define T_MS 200      /* client message timeout in most cases */
#define QUICK_MS 1500 /* "at once": well below any timeout used below */

/* ---- common scaffolding ---- */

typedef struct Case {
    unsigned fds0;
    gint64 t0;
    FakeServer *fs;
    VFIOUserProxy *p;
} Case;

static void case_begin(Case *c)
{
    c->fds0 = vut_count_fds();
    c->fs = fake_new();
    c->p = NULL;
}

static VFIOUserProxy *case_try_connect(Case *c, uint32_t timeout_ms,
                                       GError **errp)
{
    VFIOUserProxyOptions o;

    vfio_user_proxy_options_init(&o);
    o.msg_timeout_ms = timeout_ms;
    fake_start(c->fs);
    c->t0 = g_get_monotonic_time();
    return vfio_user_proxy_new_from_fd(fake_client_fd(c->fs), &o, errp);
}

static void case_connect(Case *c, uint32_t timeout_ms)
{
    GError *err = NULL;

    c->p = case_try_connect(c, timeout_ms, &err);
    g_assert_no_error(err);
    g_assert_nonnull(c->p);
}

static void assert_quick(gint64 t0, int ms)
{
    gint64 el = (g_get_monotonic_time() - t0) / 1000;

    if (el > ms) {
        g_test_fail_printf("took %" G_GINT64_FORMAT " ms, limit %d ms", el, ms);
    }
}

/* Close the client, join the fake (its script must have succeeded), and
 * check that every fd of the case is gone. */
static void case_end(Case *c)
{
    g_autofree char *fail = NULL;

    vfio_user_proxy_close(c->p);
    fail = fake_join(c->fs);
    g_assert_cmpstr(fail, ==, NULL);
    g_assert_cmpuint(vut_count_fds(), ==, c->fds0);
}

static void assert_err(GError *err, int code)
{
    g_assert_nonnull(err);
    if (err->code != code) {
        g_test_message("error: %s", err->message);
    }
    g_assert_error(err, VFIO_USER_ERROR, code);
}

/* DEVICE_GET_INFO through the proxy with a 16-byte reply buffer. */
static bool call_info(VFIOUserProxy *p, VFIOUserDeviceInfo *out, GError **errp)
{
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)};
    struct iovec iov = {.iov_base = &q, .iov_len = sizeof(q)};
    struct iovec riov = {.iov_base = out, .iov_len = sizeof(*out)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_INFO,
        .iov = &iov,
        .iovcnt = 1,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
    };

    memset(out, 0, sizeof(*out));
    return vfio_user_proxy_call(p, &req, errp);
}

static const VFIOUserDeviceInfo info_reply = {
    .argsz = sizeof(VFIOUserDeviceInfo),
    .num_regions = 1,
};

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

/* ---- VERSION ---- */

/* The server answers VERSION with @payload and header overrides @h. */
static void version_case(const void *payload, size_t len, const FakeHdr *h,
                         int want)
{
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_expect(c.fs, VFIO_USER_VERSION);
    fake_reply_ex(c.fs, h, payload, len, NULL, 0);
    fake_stall(c.fs);
    c.p = case_try_connect(&c, T_MS, &err);
    g_assert_null(c.p);
    assert_err(err, want);
    assert_quick(c.t0, QUICK_MS);
    g_error_free(err);
    case_end(&c);
}

static void version_json_case(uint16_t major, const char *json, bool nul,
                              int want)
{
    size_t len;
    g_autofree void *p = hs_version_payload(major, json, nul, &len);

    version_case(p, len, NULL, want);
}

static void test_version_no_reply(void)
{
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_expect(c.fs, VFIO_USER_VERSION);
    fake_stall(c.fs);
    g_assert_null(case_try_connect(&c, T_MS, &err));
    assert_err(err, ETIMEDOUT);
    assert_quick(c.t0, T_MS + QUICK_MS);
    g_error_free(err);
    case_end(&c);
}

static void test_version_error_flag(void)
{
    FakeHdr h = {.set_flags = true,
                 .flags = VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR,
                 .error = EPERM};

    version_case(NULL, 0, &h, EPERM);
    h.error = 0; /* error flag without an errno: still an error */
    version_case(NULL, 0, &h, EIO);
}

static void test_version_other_major(void)
{
    version_json_case(1, "{\"capabilities\":{}}", true, EINVAL);
    version_json_case(0xffff, NULL, false, EINVAL);
}

static void test_version_xfer_absurd(void)
{
    version_json_case(0, "{\"capabilities\":{\"max_data_xfer_size\":0}}", true,
                      EINVAL);
    version_json_case(
        0, "{\"capabilities\":{\"max_data_xfer_size\":9223372036854775808}}",
        true, EINVAL);
    version_json_case(0, "{\"capabilities\":{\"max_data_xfer_size\":-1}}", true,
                      EINVAL);
}

/* A huge but well-formed limit is clamped: messages above ours refused. */
static void test_version_xfer_clamped(void)
{
    static const char json[] =
        "{\"capabilities\":{\"max_data_xfer_size\":4611686018427387904,\"max_msg_fds\":8}}";
    VFIOUserDeviceInfo info;
    GError *err = NULL;
    FakeHdr big = {.set_size = true, .size = 64u << 20};
    Case c;

    case_begin(&c);
    fake_version(c.fs, json);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    fake_reply_ex(c.fs, &big, NULL, 0, NULL, 0);
    fake_stall(c.fs);
    case_connect(&c, T_MS);
    g_assert_cmpuint(vfio_user_proxy_caps(c.p)->max_data_xfer_size, <=,
                     VFIO_USER_DEF_MAX_XFER);
    vut_limit_address_space();
    g_assert_false(call_info(c.p, &info, &err));
    vut_unlimit_address_space();
    assert_err(err, EPROTO);
    g_error_free(err);
    g_assert_cmpint(vfio_user_proxy_state(c.p), ==, VFIO_PROXY_ERROR);
    case_end(&c);
}

static void test_version_fds_absurd(void)
{
    version_json_case(0, "{\"capabilities\":{\"max_msg_fds\":100000}}", true,
                      EINVAL);
    version_json_case(0, "{\"capabilities\":{\"max_msg_fds\":-5}}", true,
                      EINVAL);
}

static void test_version_pgsizes(void)
{
    version_json_case(0, "{\"capabilities\":{\"pgsizes\":0}}", true, EINVAL);
    version_json_case(0, "{\"capabilities\":{\"pgsizes\":8192}}", true, EINVAL);
}

static void test_version_wrong_types(void)
{
    static const char *const bad[] = {
        "{\"capabilities\":{\"max_msg_fds\":\"8\"}}",
        "{\"capabilities\":{\"max_data_xfer_size\":1.5e6}}",
        "{\"capabilities\":{\"pgsizes\":[4096]}}",
        "{\"capabilities\":{\"write_multiple\":1}}",
        "{\"capabilities\":{\"x-vfu-posted-errors\":\"yes\"}}",
        "{\"capabilities\":[]}",
        "[1,2,3]",
        "{\"capabilities\":{\"max_msg_fds\":8",
        "\xff\xfe not json",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        version_json_case(0, bad[i], true, EINVAL);
    }
}

static void test_version_not_nul_terminated(void)
{
    version_json_case(0, "{\"capabilities\":{}}", false, EINVAL);
}

static void test_version_bad_header(void)
{
    size_t len;
    g_autofree void *p = hs_version_payload(0, "{}", true, &len);
    FakeHdr wrong_cmd = {.set_cmd = true, .cmd = VFIO_USER_DMA_MAP};
    FakeHdr wrong_id = {.set_id = true, .id = 77};
    FakeHdr request = {.set_flags = true, .flags = VFIO_USER_F_TYPE_REQUEST};
    FakeHdr bad_type = {.set_flags = true, .flags = 7};
    FakeHdr tiny = {.set_size = true, .size = 8};

    version_case(p, len, &wrong_cmd, EPROTO);
    version_case(p, len, &wrong_id, EPROTO);
    version_case(p, len, &request, EPROTO);
    version_case(p, len, &bad_type, EPROTO);
    version_case(p, len, &tiny, EPROTO);
}

/* A 2 GiB VERSION reply is refused from its header, nothing allocated. */
static void test_version_huge_size(void)
{
    FakeHdr huge = {.set_size = true, .size = 0x80000000u};

    vut_limit_address_space();
    version_case(NULL, 0, &huge, EPROTO);
    vut_unlimit_address_space();
}

static void test_version_hangup(void)
{
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_expect(c.fs, VFIO_USER_VERSION);
    fake_hangup(c.fs);
    g_assert_null(case_try_connect(&c, 5000, &err));
    assert_err(err, ECONNRESET);
    assert_quick(c.t0, QUICK_MS);
    g_error_free(err);
    case_end(&c);
}

/* Half a VERSION reply, then hang up / then silence. */
static void test_version_truncated(void)
{
    FakeHdr h = {.set_size = true, .size = 100};
    static const uint8_t part[10] = {0, 0, 1, 0, '{'};
    GError *err = NULL;
    Case c;

    for (int stall = 0; stall < 2; stall++) {
        case_begin(&c);
        fake_expect(c.fs, VFIO_USER_VERSION);
        fake_reply_ex(c.fs, &h, part, sizeof(part), NULL, 0);
        if (stall) {
            fake_stall(c.fs);
        } else {
            fake_hangup(c.fs);
        }
        g_assert_null(case_try_connect(&c, stall ? T_MS : 5000, &err));
        assert_err(err, stall ? ETIMEDOUT : EPROTO);
        assert_quick(c.t0, T_MS + QUICK_MS);
        g_clear_error(&err);
        case_end(&c);
    }
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

static void make_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fds[i] = dup(STDERR_FILENO);
        g_assert_cmpint(fds[i], >=, 0);
    }
}

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

/* Fds that arrive with the body rather than the header. */
static void test_fds_in_body(void)
{
    VFIOUserHdr hdr;
    VFIOUserDeviceInfo info;
    GError *err = NULL;
    Case c;
    int fd;

    case_begin(&c);
    fd = dup(STDERR_FILENO);
    fake_version(c.fs, NULL);
    fake_expect(c.fs, VFIO_USER_DEVICE_GET_INFO);
    /* id 1: the first request after VERSION. */
    vfio_user_hdr_init(&hdr, 1, VFIO_USER_DEVICE_GET_INFO,
                       sizeof(hdr) + sizeof(info_reply),
                       VFIO_USER_F_TYPE_REPLY);
    fake_send_raw(c.fs, &hdr, sizeof(hdr), NULL, 0);
    fake_send_raw(c.fs, &info_reply, sizeof(info_reply), &fd, 1);
    fake_stall(c.fs);
    close(fd);
    case_connect(&c, 2000);
    g_assert_false(call_info(c.p, &info, &err));
    assert_err(err, EPROTO);
    g_error_free(err);
    case_end(&c);
}

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

/* ---- DMA requests from the server ---- */

#define RAM_SIZE (16 * 4096)
#define A_IOVA 0x100000ull /* 16 KiB read/write: ram + 0 */
#define B_IOVA 0x104000ull /* 16 KiB read-only: ram + 0x4000, follows A */
#define C_IOVA 0x200000ull /* 16 KiB read/write: ram + 0x8000, after a hole */
#define MAP_SIZE 0x4000ull
#define MAX_XFER 65536                  /* what fake_version() offers */
#define OUR_XFER VFIO_USER_DEF_MAX_XFER /* what the client offers */

typedef struct DmaEnv {
    Case c;
    VFIOUserContainer *ct;
    uint8_t *ram;
    uint8_t *snap;
    GMutex lock;
    GCond cond;
    bool failed; /* the proxy's failure notify ran */
} DmaEnv;

/* Fake: VERSION, then accept the three maps; the test adds its steps. */
static void dma_begin(DmaEnv *e)
{
    memset(e, 0, sizeof(*e));
    case_begin(&e->c);
    fake_version(e->c.fs, NULL);
    fake_accept_maps(e->c.fs, 3);
    /* The client inserts a map once the reply is in: start DMA after. */
    fake_wait_go(e->c.fs);
    g_mutex_init(&e->lock);
    g_cond_init(&e->cond);
}

static void dma_on_failure(VFIOUserProxy *p, const GError *err, void *opaque)
{
    DmaEnv *e = opaque;

    (void)p;
    (void)err;
    g_mutex_lock(&e->lock);
    e->failed = true;
    g_cond_broadcast(&e->cond);
    g_mutex_unlock(&e->lock);
}

static void dma_map(DmaEnv *e, const char *name, uint64_t iova, size_t off,
                    bool ro)
{
    VFIOUserDMASection s = {
        .name = name,
        .iova = iova,
        .size = MAP_SIZE,
        .host = e->ram + off,
        .fd = -1,
        .readonly = ro,
    };
    GError *err = NULL;

    g_assert_true(vfio_user_container_map(e->ct, &s, &err));
    g_assert_no_error(err);
}

/* Start the fake, map guest RAM (anonymous, so every map is served by
 * messages), then let the fake run its DMA steps. */
static void dma_run(DmaEnv *e, uint32_t timeout_ms)
{
    fake_notify(e->c.fs);
    fake_echo_until_eof(e->c.fs);
    e->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(e->ram != MAP_FAILED);
    for (size_t i = 0; i < RAM_SIZE; i++) {
        e->ram[i] = (uint8_t)(i * 7 + 3);
    }
    e->snap = g_memdup2(e->ram, RAM_SIZE);
    case_connect(&e->c, timeout_ms);
    vfio_user_proxy_set_failure_notify(e->c.p, dma_on_failure, e);
    e->ct = vfio_user_container_new(e->c.p, VFIO_USER_DMA_ACCESS_AUTO);
    dma_map(e, "ram-a", A_IOVA, 0, false);
    dma_map(e, "ram-b", B_IOVA, MAP_SIZE, true);
    dma_map(e, "ram-c", C_IOVA, 2 * MAP_SIZE, false);
    fake_go(e->c.fs);
}

static void dma_wait(DmaEnv *e)
{
    g_assert_true(fake_wait_notify(e->c.fs));
}

static void dma_end(DmaEnv *e)
{
    vfio_user_container_free(e->ct);
    case_end(&e->c);
    munmap(e->ram, RAM_SIZE);
    g_free(e->snap);
    g_cond_clear(&e->cond);
    g_mutex_clear(&e->lock);
}

/* errno of the client's reply to the @k-th DMA request (0: success). */
static int dma_result(DmaEnv *e, unsigned k)
{
    const FakeMsg *m = fake_captured(e->c.fs, 4 + k);

    g_assert_true(vfio_user_hdr_is_reply(&m->hdr));
    g_assert_true(m->hdr.cmd == VFIO_USER_DMA_READ ||
                  m->hdr.cmd == VFIO_USER_DMA_WRITE);
    if (!(m->hdr.flags & VFIO_USER_F_ERROR)) {
        return 0;
    }
    g_assert_cmpuint(m->len, ==, 0);
    return (int)m->hdr.error;
}

static void assert_ram_unchanged(DmaEnv *e)
{
    g_assert_cmpmem(e->ram, RAM_SIZE, e->snap, RAM_SIZE);
}

/* Each request is refused with its errno and guest memory is untouched. */
typedef struct BadDma {
    uint16_t cmd;
    uint64_t addr, count;
    size_t data; /* DMA_WRITE payload bytes sent */
    int want;
} BadDma;

static void bad_dma_case(const BadDma *bad, size_t n)
{
    static uint8_t junk[OUR_XFER + 64];
    VFIOUserDMAStats st;
    DmaEnv e;

    memset(junk, 0xa5, sizeof(junk));
    dma_begin(&e);
    for (size_t i = 0; i < n; i++) {
        g_assert_cmpuint(bad[i].data, <=, sizeof(junk));
        fake_dma(e.c.fs, bad[i].cmd, bad[i].addr, bad[i].count, junk,
                 bad[i].data);
    }
    /* A valid read afterwards proves the connection survived. */
    fake_dma(e.c.fs, VFIO_USER_DMA_READ, A_IOVA, 16, NULL, 0);
    dma_run(&e, 2000);
    dma_wait(&e);
    for (size_t i = 0; i < n; i++) {
        int got = dma_result(&e, i);

        if (got != bad[i].want) {
            g_test_fail_printf("request %zu (%s 0x%" G_GINT64_MODIFIER
                               "x+0x%" G_GINT64_MODIFIER
                               "x): errno %d, expected %d",
                               i, vfio_user_cmd_name(bad[i].cmd), bad[i].addr,
                               bad[i].count, got, bad[i].want);
        }
    }
    g_assert_cmpint(dma_result(&e, n), ==, 0);
    assert_ram_unchanged(&e);
    vfio_user_container_stats(e.ct, &st);
    g_assert_cmpuint(st.dma_rejected, ==, n);
    g_assert_cmpint(vfio_user_proxy_state(e.c.p), ==, VFIO_PROXY_CONNECTED);
    dma_end(&e);
}

static void test_dma_outside_maps(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_READ, 0x300000, 16, 0, EFAULT},
        {VFIO_USER_DMA_READ, 0, 16, 0, EFAULT},
        {VFIO_USER_DMA_WRITE, 0, 16, 16, EFAULT},
        {VFIO_USER_DMA_WRITE, A_IOVA - 8, 16, 16, EFAULT},
        {VFIO_USER_DMA_WRITE, C_IOVA + MAP_SIZE, 16, 16, EFAULT},
        {VFIO_USER_DMA_READ, C_IOVA + MAP_SIZE - 8, 16, 0, EFAULT},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_readonly(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_WRITE, B_IOVA, 16, 16, EPERM},
        {VFIO_USER_DMA_WRITE, B_IOVA + MAP_SIZE - 1, 1, 1, EPERM},
        /* Starts in writable A, ends in read-only B: nothing is written. */
        {VFIO_USER_DMA_WRITE, B_IOVA - 16, 32, 32, EPERM},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_across_hole(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_READ, B_IOVA + MAP_SIZE - 16, 32, 0, EFAULT},
        {VFIO_USER_DMA_READ, A_IOVA, C_IOVA - A_IOVA + 16, 0, EMSGSIZE},
        {VFIO_USER_DMA_WRITE, C_IOVA - 16, 32, 32, EFAULT},
        {VFIO_USER_DMA_READ, A_IOVA, 2 * MAP_SIZE + 16, 0, EFAULT},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_overflow(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_READ, UINT64_MAX - 15, 32, 0, EINVAL},
        {VFIO_USER_DMA_WRITE, UINT64_MAX - 15, 32, 32, EINVAL},
        {VFIO_USER_DMA_READ, A_IOVA, UINT64_MAX, 0, EINVAL},
        {VFIO_USER_DMA_WRITE, UINT64_MAX, 1, 1, EINVAL},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_count_zero(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_READ, A_IOVA, 0, 0, EINVAL},
        {VFIO_USER_DMA_WRITE, A_IOVA, 0, 0, EINVAL},
        {VFIO_USER_DMA_WRITE, A_IOVA, 0, 16, EINVAL},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_count_over_max(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_READ, A_IOVA, OUR_XFER + 1, 0, EMSGSIZE},
        {VFIO_USER_DMA_WRITE, A_IOVA, OUR_XFER + 1, OUR_XFER + 1, EMSGSIZE},
        {VFIO_USER_DMA_WRITE, A_IOVA, 1ull << 40, 8, EMSGSIZE},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_payload_mismatch(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_WRITE, A_IOVA, 16, 8, EINVAL},
        {VFIO_USER_DMA_WRITE, A_IOVA, 8, 16, EINVAL},
        {VFIO_USER_DMA_READ, A_IOVA, 16, 8, EINVAL},
        {VFIO_USER_DMA_WRITE, C_IOVA, 4096, 0, EINVAL},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

/* Positive controls: the same machinery moves data when it should. */
static void test_dma_valid(void)
{
    static const uint8_t data[16] = "hostile-dma-ok!";
    const FakeMsg *m;
    DmaEnv e;

    dma_begin(&e);
    fake_dma(e.c.fs, VFIO_USER_DMA_READ, B_IOVA - 16, 32, NULL, 0);
    fake_dma(e.c.fs, VFIO_USER_DMA_WRITE, C_IOVA + 0x100, 16, data, 16);
    dma_run(&e, 2000);
    dma_wait(&e);
    g_assert_cmpint(dma_result(&e, 0), ==, 0);
    m = fake_captured(e.c.fs, 4);
    g_assert_cmpuint(m->len, ==, sizeof(VFIOUserDMARW) + 32);
    g_assert_cmpmem(m->payload + sizeof(VFIOUserDMARW), 32,
                    e.snap + MAP_SIZE - 16, 32);
    g_assert_cmpint(dma_result(&e, 1), ==, 0);
    g_assert_cmpmem(e.ram + 2 * MAP_SIZE + 0x100, 16, data, 16);
    memcpy(e.snap + 2 * MAP_SIZE + 0x100, data, 16);
    assert_ram_unchanged(&e);
    dma_end(&e);
}

/* A DMA request carrying fds: they are closed, the request is served. */
static void test_dma_with_fds(void)
{
    struct VFIO_USER_PACKED {
        VFIOUserHdr hdr;
        uint64_t addr, count; /* VFIOUserDMARW */
    } msg;
    int fds[4];
    DmaEnv e;

    vfio_user_hdr_init(&msg.hdr, 0x6000, VFIO_USER_DMA_READ, sizeof(msg),
                       VFIO_USER_F_TYPE_REQUEST);
    msg.addr = A_IOVA;
    msg.count = 8;
    dma_begin(&e);
    make_fds(fds, G_N_ELEMENTS(fds));
    fake_send_raw(e.c.fs, &msg, sizeof(msg), fds, G_N_ELEMENTS(fds));
    fake_capture(e.c.fs);
    vfio_user_close_fds(fds, G_N_ELEMENTS(fds));
    dma_run(&e, 2000);
    dma_wait(&e);
    g_assert_cmpint(dma_result(&e, 0), ==, 0);
    dma_end(&e);
}

static bool dma_wait_failed(DmaEnv *e, int ms)
{
    gint64 deadline = vut_deadline_ms(ms);
    bool ok = true;

    g_mutex_lock(&e->lock);
    while (!e->failed && ok) {
        ok = g_cond_wait_until(&e->cond, &e->lock, deadline);
    }
    g_mutex_unlock(&e->lock);
    return e->failed;
}

/*
 * A DMA request shorter than its own header (framing intact: its size
 * says where the next message starts) is refused with EINVAL, memory
 * untouched, and the connection stays usable.
 */
static void test_dma_short_header(void)
{
    static const uint8_t eight[8] = {0};
    VFIOUserDMAStats st;
    DmaEnv e;

    dma_begin(&e);
    fake_send_msg(e.c.fs, NULL, VFIO_USER_DMA_WRITE, VFIO_USER_F_TYPE_REQUEST,
                  eight, sizeof(eight));
    fake_capture(e.c.fs);
    fake_send_msg(e.c.fs, NULL, VFIO_USER_DMA_READ, VFIO_USER_F_TYPE_REQUEST,
                  eight, 4);
    fake_capture(e.c.fs);
    fake_dma(e.c.fs, VFIO_USER_DMA_READ, A_IOVA, 16, NULL, 0);
    dma_run(&e, 2000);
    dma_wait(&e);
    g_assert_cmpint(dma_result(&e, 0), ==, EINVAL);
    g_assert_cmpint(dma_result(&e, 1), ==, EINVAL);
    g_assert_cmpint(dma_result(&e, 2), ==, 0);
    assert_ram_unchanged(&e);
    vfio_user_container_stats(e.ct, &st);
    g_assert_cmpuint(st.dma_rejected, ==, 2);
    g_assert_cmpint(vfio_user_proxy_state(e.c.p), ==, VFIO_PROXY_CONNECTED);
    dma_end(&e);
}

/* A DMA_WRITE cut by a hang-up: the connection is dropped, guest memory
 * keeps at most what arrived. */
static void test_dma_malformed_drop(void)
{
    struct VFIO_USER_PACKED {
        VFIOUserHdr hdr;
        uint64_t addr, count; /* VFIOUserDMARW */
        uint8_t data[16];
    } cut;
    DmaEnv e;

    dma_begin(&e);
    vfio_user_hdr_init(&cut.hdr, 0x6001, VFIO_USER_DMA_WRITE,
                       sizeof(VFIOUserHdr) + sizeof(VFIOUserDMARW) + 64,
                       VFIO_USER_F_TYPE_REQUEST);
    cut.addr = C_IOVA;
    cut.count = 64;
    memset(cut.data, 0x5a, sizeof(cut.data));
    fake_send_raw(e.c.fs, &cut, sizeof(cut), NULL, 0);
    fake_hangup(e.c.fs);
    dma_run(&e, 2000);
    g_assert_true(dma_wait_failed(&e, 5000));
    g_assert_cmpint(vfio_user_proxy_state(e.c.p), ==, VFIO_PROXY_ERROR);
    /* Zero copy: what arrived may be in guest RAM, nothing more. */
    memcpy(e.snap + 2 * MAP_SIZE, cut.data, sizeof(cut.data));
    assert_ram_unchanged(&e);
    dma_end(&e);
}

/*
 * A server may use a map as soon as it has acknowledged it: a DMA request
 * sent right behind the DMA_MAP reply must find the map in place.  The
 * client loses that race only sometimes (it depends on which thread runs
 * first), hence many maps: one refusal is enough to fail.
 */
static void test_dma_right_after_map(void)
{
    enum { N = 1000 };
    g_autofree uint8_t *ram = g_malloc0(N * 4096);
    VFIOUserContainer *ct;
    unsigned refused = 0;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    for (unsigned k = 0; k < N; k++) {
        fake_expect(c.fs, VFIO_USER_DMA_MAP);
        fake_reply(c.fs, NULL, 0);
        fake_dma(c.fs, VFIO_USER_DMA_READ, A_IOVA + k * 0x10000ull, 16, NULL,
                 0);
        fake_notify(c.fs);
    }
    fake_echo_until_eof(c.fs);
    case_connect(&c, 2000);
    ct = vfio_user_container_new(c.p, VFIO_USER_DMA_ACCESS_AUTO);
    for (unsigned k = 0; k < N; k++) {
        VFIOUserDMASection s = {
            .name = "ram",
            .iova = A_IOVA + k * 0x10000ull,
            .size = 4096,
            .host = ram + k * 4096,
            .fd = -1,
        };

        g_assert_true(vfio_user_container_map(ct, &s, &err));
        g_assert_no_error(err);
        /* The next DMA_MAP only after the DMA reply reached the fake. */
        g_assert_true(fake_wait_notify(c.fs));
    }
    for (unsigned k = 0; k < N; k++) {
        const FakeMsg *m = fake_captured(c.fs, 2 + 2 * k);

        g_assert_cmpuint(m->hdr.cmd, ==, VFIO_USER_DMA_READ);
        refused += !!(m->hdr.flags & VFIO_USER_F_ERROR);
    }
    if (refused) {
        g_test_fail_printf(
            "%u of %d DMA_READs sent right after their DMA_MAP reply were refused: the client inserts a map only after the reply was processed",
            refused, N);
    }
    vfio_user_container_free(ct);
    case_end(&c);
}

/* 10,000 DMA requests without waiting: every one is answered, a request
 * of our own still goes through, and memory stays flat. */
static void test_dma_flood(void)
{
    VFIOUserDeviceInfo info;
    VFIOUserDMAStats st;
    GError *err = NULL;
    size_t rss0 = hs_rss_kb();
    gint64 t0;
    DmaEnv e;

    dma_begin(&e);
    fake_dma_flood(e.c.fs, 10000, A_IOVA + 64, 8, &info_reply,
                   sizeof(info_reply));
    /* Our reply queues behind the flood's backlog in the socket: allow
     * for that (slow under sanitizers), but it must come. */
    dma_run(&e, 20000);
    t0 = g_get_monotonic_time();
    call_info(e.c.p, &info, &err);
    g_assert_no_error(err);
    g_test_message("own request answered in %" G_GINT64_FORMAT " ms",
                   (g_get_monotonic_time() - t0) / 1000);
    dma_wait(&e);
    g_assert_cmpuint(fake_flood_ok(e.c.fs), ==, 10000);
    g_assert_cmpuint(fake_flood_errors(e.c.fs), ==, 0);
    g_test_message("client request answered during the flood: %u",
                   fake_flood_answered(e.c.fs));
    vfio_user_container_stats(e.ct, &st);
    g_assert_cmpuint(st.dma_reads, ==, 10000);
    g_assert_cmpuint(st.dma_rejected, ==, 0);
    g_test_message("RSS %zu KiB -> %zu KiB", rss0, hs_rss_kb());
    g_assert_cmpuint(hs_rss_kb(), <, rss0 + 16 * 1024);
    assert_ram_unchanged(&e);
    dma_end(&e);
}

typedef struct UnmapJob {
    VFIOUserContainer *ct;
    VutEvent done;
} UnmapJob;

static gpointer unmap_thread(gpointer opaque)
{
    UnmapJob *j = opaque;
    GError *err = NULL;

    vfio_user_container_unmap(j->ct, A_IOVA, MAP_SIZE, &err);
    g_clear_error(&err);
    vut_event_set(&j->done);
    return NULL;
}

/*
 * The server sends a DMA_WRITE header and part of its data, then nothing.
 * Requests of our own time out; unmapping guest memory (e.g. hot-unplug)
 * must not hang behind the stalled request either.
 */
static void test_dma_stall_mid_write(void)
{
    struct VFIO_USER_PACKED {
        VFIOUserHdr hdr;
        uint64_t addr, count; /* VFIOUserDMARW */
        uint8_t data[16];
    } cut;
    VFIOUserDeviceInfo info;
    UnmapJob job = {0};
    GError *err = NULL;
    GThread *t;
    gint64 t0;
    DmaEnv e;

    vfio_user_hdr_init(&cut.hdr, 0x6002, VFIO_USER_DMA_WRITE,
                       sizeof(VFIOUserHdr) + sizeof(VFIOUserDMARW) + 64,
                       VFIO_USER_F_TYPE_REQUEST);
    cut.addr = C_IOVA;
    cut.count = 64;
    memset(cut.data, 0x5a, sizeof(cut.data));
    dma_begin(&e);
    fake_send_raw(e.c.fs, &cut, sizeof(cut), NULL, 0);
    dma_run(&e, T_MS);
    dma_wait(&e);
    t0 = g_get_monotonic_time();
    g_assert_false(call_info(e.c.p, &info, &err));
    assert_err(err, ETIMEDOUT);
    g_clear_error(&err);
    assert_quick(t0, T_MS + QUICK_MS);

    job.ct = e.ct;
    vut_event_init(&job.done);
    t = g_thread_new("unmap", unmap_thread, &job);
    if (!vut_event_wait(&job.done, 3 * T_MS + QUICK_MS)) {
        g_test_fail_printf(
            "vfio_user_container_unmap() still blocked %d ms after a server stalled in the middle of a DMA_WRITE",
            3 * T_MS + QUICK_MS);
    }
    /* Either way, end the stall so that the unmap can finish. */
    fake_kill(e.c.fs);
    g_thread_join(t);
    vut_event_clear(&job.done);
    dma_end(&e);
}

int main(int argc, char **argv)
{
    /* Go on past a failed case, so that one run reports every failure. */
    vut_init_keep_going(&argc, &argv);
    /* Warnings about the hostile peer are expected; criticals are not. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

    g_test_add_func("/hostile-server/version/no-reply", test_version_no_reply);
    g_test_add_func("/hostile-server/version/error-flag",
                    test_version_error_flag);
    g_test_add_func("/hostile-server/version/other-major",
                    test_version_other_major);
    g_test_add_func("/hostile-server/version/xfer-absurd",
                    test_version_xfer_absurd);
    g_test_add_func("/hostile-server/version/xfer-clamped",
                    test_version_xfer_clamped);
    g_test_add_func("/hostile-server/version/fds-absurd",
                    test_version_fds_absurd);
    g_test_add_func("/hostile-server/version/pgsizes", test_version_pgsizes);
    g_test_add_func("/hostile-server/version/wrong-types",
                    test_version_wrong_types);
    g_test_add_func("/hostile-server/version/not-nul-terminated",
                    test_version_not_nul_terminated);
    g_test_add_func("/hostile-server/version/bad-header",
                    test_version_bad_header);
    g_test_add_func("/hostile-server/version/huge-size",
                    test_version_huge_size);
    g_test_add_func("/hostile-server/version/hangup", test_version_hangup);
    g_test_add_func("/hostile-server/version/truncated",
                    test_version_truncated);

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

    g_test_add_func("/hostile-server/dma/outside-maps", test_dma_outside_maps);
    g_test_add_func("/hostile-server/dma/readonly", test_dma_readonly);
    g_test_add_func("/hostile-server/dma/across-hole", test_dma_across_hole);
    g_test_add_func("/hostile-server/dma/overflow", test_dma_overflow);
    g_test_add_func("/hostile-server/dma/count-zero", test_dma_count_zero);
    g_test_add_func("/hostile-server/dma/count-over-max",
                    test_dma_count_over_max);
    g_test_add_func("/hostile-server/dma/payload-mismatch",
                    test_dma_payload_mismatch);
    g_test_add_func("/hostile-server/dma/valid", test_dma_valid);
    g_test_add_func("/hostile-server/dma/with-fds", test_dma_with_fds);
    g_test_add_func("/hostile-server/dma/short-header-einval",
                    test_dma_short_header);
    g_test_add_func("/hostile-server/dma/malformed-drop",
                    test_dma_malformed_drop);
    g_test_add_func("/hostile-server/dma/flood", test_dma_flood);
    g_test_add_func("/hostile-server/dma/stall-mid-write",
                    test_dma_stall_mid_write);
    g_test_add_func("/hostile-server/device/region-fd-short",
                    test_region_fd_short);
    g_test_add_func("/hostile-server/device/ioeventfd-pipe",
                    test_ioeventfd_pipe);
    g_test_add_func("/hostile-server/dma/right-after-map",
                    test_dma_right_after_map);
    return g_test_run();
}
