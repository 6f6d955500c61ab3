/*
 * The common scaffolding of the malicious-server tests (see
 * hostile-server-case.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <unistd.h>
#include <glib.h>

#include "hostile-server-case.h"
#include "vfio-user/error.h"
#include "vfu-test.h"

void case_begin(Case *c)
{
    c->fds0 = vut_count_fds();
    c->fs = fake_new();
    c->p = NULL;
}

VFIOUserProxy *case_try_connect(Case *c, uint32_t timeout_ms, GError **errp)
{
    VFIOUserProxyOptions o;

    vfio_user_proxy_options_init(&o);
    o.msg_timeout_ms = timeout_ms;
    fake_start(c->fs);
    c->t0 = g_get_monotonic_time();
    return vfio_user_proxy_new_from_fd(fake_client_fd(c->fs), &o, errp);
}

void case_connect(Case *c, uint32_t timeout_ms)
{
    GError *err = NULL;

    c->p = case_try_connect(c, timeout_ms, &err);
    g_assert_no_error(err);
    g_assert_nonnull(c->p);
}

void assert_quick(gint64 t0, int ms)
{
    gint64 el = (g_get_monotonic_time() - t0) / 1000;

    if (el > ms) {
        g_test_fail_printf("took %" G_GINT64_FORMAT " ms, limit %d ms", el, ms);
    }
}

/* Close the client, join the fake (its script must have succeeded), and
 * check that every fd of the case is gone. */
void case_end(Case *c)
{
    g_autofree char *fail = NULL;

    vfio_user_proxy_close(c->p);
    fail = fake_join(c->fs);
    g_assert_cmpstr(fail, ==, NULL);
    g_assert_cmpuint(vut_count_fds(), ==, c->fds0);
}

void assert_err(GError *err, int code)
{
    g_assert_nonnull(err);
    if (err->code != code) {
        g_test_message("error: %s", err->message);
    }
    g_assert_error(err, VFIO_USER_ERROR, code);
}

/* DEVICE_GET_INFO through the proxy with a 16-byte reply buffer. */
bool call_info(VFIOUserProxy *p, VFIOUserDeviceInfo *out, GError **errp)
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

const VFIOUserDeviceInfo info_reply = {
    .argsz = sizeof(VFIOUserDeviceInfo),
    .num_regions = 1,
};

void make_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fds[i] = dup(STDERR_FILENO);
        g_assert_cmpint(fds[i], >=, 0);
    }
}
