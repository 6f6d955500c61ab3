/*
 * vfio-user client connection: setting it up.  Explains why connecting to
 * a socket path failed (no such file, not a socket, nobody listening,
 * permission denied) and negotiates VERSION on the calling thread before
 * the receive thread starts: send our capabilities, wait (bounded) for the
 * reply, check that it answers our request, parse and merge.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-proxy"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "proxy-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "trace-events.h"

/* Largest VERSION reply we accept. */
#define PROXY_VERSION_MAX 65536

/* False when @sock is not a socket (another transport). */
static bool proxy_set_rcvtimeo(int sock, uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    return setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0;
}

/* Every other send is non-blocking: this bounds the one that may wait. */
static bool proxy_set_sndtimeo(int sock)
{
    struct timeval tv = {.tv_usec = PROXY_TX_WAIT_MS * 1000};

    return setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0;
}

/* Wait for the VERSION reply header and check it answers our request. */
static bool proxy_version_reply_hdr(VFIOUserProxy *proxy, VFIOUserHdr *hdr,
                                    GError **errp)
{
    struct pollfd pfd = {.fd = proxy->sock, .events = POLLIN};
    GError *err = NULL;
    size_t nfds;
    int r;

    do {
        r = poll(&pfd, 1, MIN(proxy->timeout_ms, (uint32_t)G_MAXINT));
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
        return vfio_user_error_set(errp, ETIMEDOUT,
                                   "no VERSION reply within %u ms",
                                   proxy->timeout_ms);
    }
    if (!vfio_user_tr_recv_hdr_wait(proxy->tr, hdr, NULL, &nfds, 0,
                                    sizeof(*hdr) + PROXY_VERSION_MAX, NULL,
                                    &err)) {
        if (err->code == EAGAIN) {
            err->code = ETIMEDOUT;
        }
        g_propagate_error(errp, err);
        return false;
    }
    if (!vfio_user_hdr_is_reply(hdr)) {
        return vfio_user_error_set(
            errp, EPROTO,
            "server sent a %s request instead of the VERSION reply",
            vfio_user_cmd_name(hdr->cmd));
    }
    if (hdr->cmd != VFIO_USER_VERSION || hdr->id != 0) {
        return vfio_user_error_set(
            errp, EPROTO,
            "server answered VERSION (id 0) with a %s reply to id %u",
            vfio_user_cmd_name(hdr->cmd), hdr->id);
    }
    if (hdr->flags & VFIO_USER_F_ERROR) {
        int e = hdr->error ? (int)hdr->error : EIO;

        if (e == EBUSY) {
            /* Our server's answer while it serves another client. */
            return vfio_user_error_set(
                errp, e, "device busy: another client is connected");
        }
        return vfio_user_error_set(errp, e, "server rejected VERSION: %s",
                                   g_strerror(e));
    }
    return true;
}

/* Send VERSION, read and check the reply, merge; on the calling thread. */
bool vfio_user_proxy_negotiate(VFIOUserProxy *proxy, GError **errp)
{
    g_autofree void *payload = NULL;
    g_autofree char *desc = NULL;
    GError *err = NULL;
    VFIOUserHdr hdr;
    size_t len;
    bool ok;

    payload = vfio_user_caps_build_version(&proxy->ours, &len);
    vfio_user_hdr_init(&hdr, 0, VFIO_USER_VERSION, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REQUEST);
    ok = vfio_user_tr_send(proxy->tr, &hdr, payload, len, NULL, 0, &err);
    g_clear_pointer(&payload, g_free);
    /* Kept afterwards: it bounds a caller blocked in a receive. */
    proxy->rx_block = proxy_set_rcvtimeo(proxy->sock, proxy->timeout_ms);
    proxy->tx_wait = proxy->rx_block && proxy_set_sndtimeo(proxy->sock);
    ok = ok && proxy_version_reply_hdr(proxy, &hdr, &err);
    if (ok) {
        len = hdr.size - sizeof(hdr);
        payload = g_malloc(len ? len : 1);
        ok =
            vfio_user_tr_recv_bodyv_wait(
                proxy->tr, &(struct iovec){.iov_base = payload, .iov_len = len},
                1, NULL, &err) &&
            vfio_user_caps_parse_version(payload, len, &proxy->server_caps,
                                         &err) &&
            vfio_user_caps_merge(&proxy->ours, &proxy->server_caps,
                                 &proxy->caps, &err);
    }
    if (!ok) {
        vfio_user_error_set(errp, err->code == EAGAIN ? ETIMEDOUT : err->code,
                            "version negotiation failed: %s", err->message);
        g_error_free(err);
        return false;
    }
    desc = vfio_user_caps_describe(&proxy->caps);
    trace_proxy_negotiated(proxy->path, desc);
    return true;
}

bool vfio_user_proxy_connect_error(const char *path, int e, GError **errp)
{
    struct stat st;

    if (e == ENOENT) {
        return vfio_user_error_set(
            errp, e, "cannot connect: no such file (is the server running?)");
    }
    if ((e == ECONNREFUSED || e == ENOTSOCK) && stat(path, &st) == 0 &&
        !S_ISSOCK(st.st_mode)) {
        return vfio_user_error_set(errp, ENOTSOCK,
                                   "cannot connect: it is not a socket");
    }
    if (e == ECONNREFUSED) {
        return vfio_user_error_set(
            errp, e, "cannot connect: nothing listening (connection refused)");
    }
    if (e == EACCES || e == EPERM) {
        return vfio_user_error_set(errp, e,
                                   "cannot connect: permission denied");
    }
    return vfio_user_error_set(errp, e, "cannot connect: %s", g_strerror(e));
}
