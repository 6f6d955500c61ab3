/*
 * Client side of the proxy unit tests (see proxy-client.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <glib.h>

#include "proxy-client.h"
#include "vfio-user/error.h"

/* Warnings of the proxy's log domain, captured instead of aborting. */
static GMutex log_lock;
static GString *log_warnings;

static void log_capture(const gchar *domain G_GNUC_UNUSED,
                        GLogLevelFlags level G_GNUC_UNUSED, const gchar *msg,
                        gpointer opaque G_GNUC_UNUSED)
{
    g_mutex_lock(&log_lock);
    g_string_append_printf(log_warnings, "%s\n", msg);
    g_mutex_unlock(&log_lock);
}

bool log_has_line(const char *line)
{
    g_autofree char *whole = g_strdup_printf("\n%s\n", line);
    bool found;

    g_mutex_lock(&log_lock);
    found = g_str_has_prefix(log_warnings->str, whole + 1) ||
            strstr(log_warnings->str, whole) != NULL;
    g_mutex_unlock(&log_lock);
    return found;
}

/* ---- Small client-side helpers ---- */

/* x-poll-us of the proxies client_new() makes (see test_poll_us()). */
static uint32_t client_poll_us;

VFIOUserProxy *client_new_labelled(Peer *p, uint32_t timeout_ms,
                                   const char *label)
{
    VFIOUserProxyOptions opts;
    GError *err = NULL;
    VFIOUserProxy *proxy;

    vfio_user_proxy_options_init(&opts);
    opts.msg_timeout_ms = timeout_ms;
    opts.poll_us = client_poll_us;
    opts.label = label;
    proxy = vfio_user_proxy_new_from_fd(p->client_fd, &opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(proxy);
    return proxy;
}

VFIOUserProxy *client_new(Peer *p, uint32_t timeout_ms)
{
    return client_new_labelled(p, timeout_ms, NULL);
}

/* Blocking request with one payload buffer and one reply buffer. */
bool client_call(VFIOUserProxy *proxy, uint16_t cmd, const void *data,
                 size_t len, void *reply, size_t reply_size,
                 VFIOUserRequest *out, GError **errp)
{
    struct iovec iov = {(void *)data, len};
    struct iovec riov = {reply, reply_size};

    *out = (VFIOUserRequest){
        .cmd = cmd,
        .iov = &iov,
        .iovcnt = len ? 1 : 0,
        .reply_iov = &riov,
        .reply_iovcnt = reply_size ? 1 : 0,
    };
    return vfio_user_proxy_call(proxy, out, errp);
}

/* Round trip with the echo server step below; asserts it works. */
void client_ping(VFIOUserProxy *proxy, const char *word)
{
    char buf[64] = "";
    VFIOUserRequest req;
    GError *err = NULL;

    g_assert_true(client_call(proxy, VFIO_USER_DEVICE_GET_INFO, word,
                              strlen(word), buf, sizeof(buf), &req, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(req.reply_len, ==, strlen(word));
    g_assert_cmpmem(buf, req.reply_len, word, strlen(word));
}

/* Server side of client_ping(): echo one request's payload. */
void srv_echo_one(int sock)
{
    char buf[256];
    VFIOUserHdr hdr;
    size_t n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);

    srv_reply(sock, &hdr, buf, n, NULL, 0);
}

void script_version_then_eof(int sock, void *opaque G_GNUC_UNUSED)
{
    srv_version(sock);
    g_assert_true(srv_wait_eof(sock));
}

void assert_error(GError *err, int code, const char *needle)
{
    g_assert_nonnull(err);
    g_assert_true(err->domain == VFIO_USER_ERROR);
    g_assert_cmpint(err->code, ==, code);
    if (!strstr(err->message, needle)) {
        g_error("'%s' not in error '%s'", needle, err->message);
    }
}

/* The same behaviour with busy-polling (x-poll-us) turned on. */
void test_poll_us(gconstpointer data)
{
    GTestFunc fn = (GTestFunc)data;

    client_poll_us = 200;
    fn();
    client_poll_us = 0;
}

void proxy_test_init(int *argc, char ***argv)
{
    g_test_init(argc, argv, NULL);
    /* Proxy warnings are checked by the tests, not fatal. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    log_warnings = g_string_new(NULL);
    g_log_set_handler("vfio-user-proxy", G_LOG_LEVEL_WARNING, log_capture,
                      NULL);
}
