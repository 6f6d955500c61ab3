/*
 * VERSION capability tests: parsing, defaults, bad input, merging.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "vfio-user/caps.h"
#include "vfio-user/error.h"

/* Build a VERSION payload: major, minor, then @json with its NUL. */
static GByteArray *payload(uint16_t major, uint16_t minor, const char *json)
{
    GByteArray *b = g_byte_array_new();

    g_byte_array_append(b, (guint8 *)&major, 2);
    g_byte_array_append(b, (guint8 *)&minor, 2);
    if (json) {
        g_byte_array_append(b, (const guint8 *)json, strlen(json) + 1);
    }
    return b;
}

static bool parse(uint16_t major, uint16_t minor, const char *json,
                  VFIOUserCaps *caps, GError **errp)
{
    g_autoptr(GByteArray) b = payload(major, minor, json);

    return vfio_user_caps_parse_version(b->data, b->len, caps, errp);
}

static void test_defaults(void)
{
    VFIOUserCaps c;
    g_autoptr(GError) err = NULL;

    g_assert_true(parse(0, 1, "{}", &c, &err));
    g_assert_cmpuint(c.max_msg_fds, ==, 1);
    g_assert_cmpuint(c.max_data_xfer_size, ==, 1048576);
    g_assert_cmpuint(c.pgsizes, ==, 4096);
    g_assert_cmpuint(c.max_dma_maps, ==, 65535);
    g_assert_false(c.write_multiple);
    /* No JSON at all is allowed too. */
    g_assert_true(parse(0, 0, NULL, &c, &err));
    g_assert_cmpuint(c.minor, ==, 0);
    g_assert_cmpuint(c.max_msg_fds, ==, 1);
}

static void test_full(void)
{
    VFIOUserCaps c;
    g_autoptr(GError) err = NULL;

    g_assert_true(parse(
        0, 2,
        "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":65536,\"pgsizes\":4096,\"max_dma_maps\":100,\"write_multiple\":true,\"migration\":{\"pgsize\":4096},\"twin_socket\":{\"supported\":false},\"future_key\":[1,2,3]}}",
        &c, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(c.minor, ==, 2);
    g_assert_cmpuint(c.max_msg_fds, ==, 8);
    g_assert_cmpuint(c.max_data_xfer_size, ==, 65536);
    g_assert_cmpuint(c.max_dma_maps, ==, 100);
    g_assert_true(c.write_multiple);
    /* "migration" left the specification: ignored like any unknown key. */
    g_assert_false(c.posted_errors);
}

static void expect_einval(uint16_t major, const char *json, const char *what)
{
    VFIOUserCaps c;
    GError *err = NULL;

    g_assert_false(parse(major, 0, json, &c, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    if (what) {
        g_assert_nonnull(strstr(err->message, what));
    }
    g_error_free(err);
}

static void test_bad(void)
{
    expect_einval(0, "{\"capabilities\":", "malformed");
    expect_einval(0, "[1]", "object");
    expect_einval(0, "{\"capabilities\":3}", "capabilities");
    expect_einval(0, "{\"capabilities\":{\"max_msg_fds\":\"8\"}}",
                  "max_msg_fds");
    expect_einval(0, "{\"capabilities\":{\"max_msg_fds\":-1}}", "max_msg_fds");
    expect_einval(0, "{\"capabilities\":{\"max_msg_fds\":100000}}",
                  "max_msg_fds");
    expect_einval(0, "{\"capabilities\":{\"max_data_xfer_size\":1.5}}",
                  "max_data_xfer_size");
    expect_einval(0, "{\"capabilities\":{\"max_data_xfer_size\":0}}",
                  "max_data_xfer_size");
    expect_einval(0, "{\"capabilities\":{\"pgsizes\":8192}}", "pgsizes");
    expect_einval(0, "{\"capabilities\":{\"max_dma_maps\":0}}", "max_dma_maps");
    expect_einval(0, "{\"capabilities\":{\"write_multiple\":1}}",
                  "write_multiple");
    expect_einval(0, "{\"capabilities\":{\"x-vfu-posted-errors\":1}}",
                  "x-vfu-posted-errors");
    expect_einval(1, "{}", "major");
}

static void test_not_terminated(void)
{
    VFIOUserCaps c;
    GError *err = NULL;
    const char raw[] = {0, 0, 1, 0, '{', '}'};

    g_assert_false(vfio_user_caps_parse_version(raw, sizeof(raw), &c, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_clear_error(&err);
    g_assert_false(vfio_user_caps_parse_version(raw, 3, &c, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_clear_error(&err);
}

/* Huge values are legal to announce: the merge clamps them. */
static void test_merge(void)
{
    VFIOUserCaps ours, theirs, m;
    g_autoptr(GError) err = NULL;

    vfio_user_caps_init_ours(&ours);
    g_assert_true(parse(
        0, 0,
        "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":9223372036854775807,\"pgsizes\":69632,\"max_dma_maps\":10}}",
        &theirs, &err));
    g_assert_true(vfio_user_caps_merge(&ours, &theirs, &m, &err));
    g_assert_cmpuint(m.minor, ==, 0);
    g_assert_cmpuint(m.max_msg_fds, ==, 8);
    g_assert_cmpuint(m.max_data_xfer_size, ==, ours.max_data_xfer_size);
    g_assert_cmpuint(m.max_dma_maps, ==, 10);
    g_assert_cmpuint(m.pgsizes, ==, 4096);
    g_assert_false(m.write_multiple);
}

static void test_roundtrip(void)
{
    VFIOUserCaps ours, back;
    size_t len;
    g_autofree void *buf = NULL;
    g_autoptr(GError) err = NULL;

    vfio_user_caps_init_ours(&ours);
    ours.max_data_xfer_size = 262144;
    buf = vfio_user_caps_build_version(&ours, &len);
    g_assert_true(vfio_user_caps_parse_version(buf, len, &back, &err));
    g_assert_cmpuint(back.max_msg_fds, ==, ours.max_msg_fds);
    g_assert_cmpuint(back.max_data_xfer_size, ==, 262144);
    g_assert_cmpuint(back.pgsizes, ==, ours.pgsizes);
    g_assert_cmpuint(back.max_dma_maps, ==, ours.max_dma_maps);
    g_assert_true(back.write_multiple);
}

/* The exact text we send: what json-glib's generator wrote before. */
static void test_json_text(void)
{
    VFIOUserCaps c;
    g_autofree char *all = NULL;
    g_autofree char *none = NULL;

    vfio_user_caps_init_ours(&c);
    all = vfio_user_caps_to_json(&c);
    g_assert_cmpstr(
        all, ==,
        "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"pgsizes\":4096,\"max_dma_maps\":65535,\"write_multiple\":true,\"x-vfu-posted-errors\":true}}");
    c.write_multiple = false;
    c.posted_errors = false;
    c.max_msg_fds = 1;
    c.max_data_xfer_size = UINT64_MAX; /* as a gint64, as json-glib had it */
    none = vfio_user_caps_to_json(&c);
    g_assert_cmpstr(
        none, ==,
        "{\"capabilities\":{\"max_msg_fds\":1,\"max_data_xfer_size\":-1,\"pgsizes\":4096,\"max_dma_maps\":65535}}");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/caps/defaults", test_defaults);
    g_test_add_func("/caps/full", test_full);
    g_test_add_func("/caps/bad", test_bad);
    g_test_add_func("/caps/not-terminated", test_not_terminated);
    g_test_add_func("/caps/merge", test_merge);
    g_test_add_func("/caps/roundtrip", test_roundtrip);
    g_test_add_func("/caps/json-text", test_json_text);
    return g_test_run();
}
