/*
 * Malicious-server tests, VERSION: the client against a scripted fake
 * server that answers VERSION with absurd capabilities, wrong JSON types,
 * broken headers, a huge size, a truncated message, or not at all.
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
#include "hostile-server-case.h"
#include "scripted-server.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

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
    return g_test_run();
}
