/*
 * libvfio-user-server requests to the client (DMA_READ / DMA_WRITE): send
 * one, wait for its reply.  While it waits, the caller reads the
 * connection (through the receive buffer, rx.c); requests that arrive
 * meanwhile are read whole and queued, and the serving loop handles them
 * after the current handler returns, in arrival order.  This keeps one
 * reader of the socket at a time and never runs a handler inside another
 * handler.
 *
 * The queue holds raw records (a few bytes more than the messages
 * themselves: a posted 4-byte write takes 40 bytes), bounded by
 * VUS_PENDING_MAX bytes, not by a number of messages.  A client that has
 * more than that in flight during one DMA is not read any further by that
 * DMA: the DMA fails (ENOBUFS) and the connection stays up; the serving
 * loop then handles the queue and reads on, in order, dropping the replies
 * that came too late.  A full queue is not a protocol error.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include "internal.h"
#include "trace-events.h"

#define VUS_PENDING_MIN_MAX (16u << 20)

static size_t pending_max(VusServer *srv)
{
    return MAX(VUS_PENDING_MIN_MAX, 4 * vus_server_max_msg_size(srv));
}

void vus_pending_init(VusServer *srv)
{
    srv->pending.bytes = g_byte_array_new();
    srv->pending.fds = g_array_new(FALSE, FALSE, sizeof(int));
}

void vus_pending_clear(VusServer *srv)
{
    VusPending *q = &srv->pending;

    for (guint i = q->fd_off; i < q->fds->len; i++) {
        vfio_user_close_fds(&g_array_index(q->fds, int, i), 1);
    }
    g_array_set_size(q->fds, 0);
    g_byte_array_set_size(q->bytes, 0);
    q->off = q->fd_off = 0;
    g_clear_pointer(&q->scratch, g_free);
    q->scratch_cap = 0;
}

void vus_pending_free(VusServer *srv)
{
    vus_pending_clear(srv);
    g_byte_array_unref(srv->pending.bytes);
    g_array_unref(srv->pending.fds);
}

static size_t pending_size(VusServer *srv)
{
    return srv->pending.bytes->len - srv->pending.off;
}

static void pending_push(VusServer *srv, const VFIOUserHdr *hdr,
                         const uint8_t *payload, const int *fds, size_t nfds)
{
    VusPending *q = &srv->pending;
    uint32_t n = (uint32_t)nfds;

    g_byte_array_append(q->bytes, (const guint8 *)&n, sizeof(n));
    g_byte_array_append(q->bytes, (const guint8 *)hdr, sizeof(*hdr));
    g_byte_array_append(q->bytes, payload, hdr->size - sizeof(*hdr));
    g_array_append_vals(q->fds, fds, nfds);
}

bool vus_pending_pop(VusServer *srv, VfioUserMsg *msg)
{
    VusPending *q = &srv->pending;
    uint32_t n;

    if (pending_size(srv) == 0) {
        return false;
    }
    memcpy(&n, q->bytes->data + q->off, sizeof(n));
    memcpy(&msg->hdr, q->bytes->data + q->off + sizeof(n), sizeof(msg->hdr));
    msg->len = msg->hdr.size - sizeof(msg->hdr);
    if (q->scratch_cap < msg->len) {
        g_free(q->scratch);
        q->scratch = g_malloc(msg->len);
        q->scratch_cap = msg->len;
    }
    memcpy(q->scratch, q->bytes->data + q->off + sizeof(n) + sizeof(msg->hdr),
           msg->len);
    msg->payload = q->scratch;
    msg->nfds = n;
    if (n) {
        memcpy(msg->fds, &g_array_index(q->fds, int, q->fd_off),
               n * sizeof(int));
    }
    q->off += sizeof(n) + msg->hdr.size;
    q->fd_off += n;
    if (q->off == q->bytes->len) {
        g_byte_array_set_size(q->bytes, 0);
        g_array_set_size(q->fds, 0);
        q->off = q->fd_off = 0;
    }
    return true;
}

static bool sock_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    return poll(&pfd, 1, timeout_ms) > 0 && pfd.revents;
}

/*
 * During a call, a message that is not the awaited reply: a reply nobody
 * waits for is dropped, a request is queued.
 */
static bool wait_reply_other(VusServer *srv, const VFIOUserHdr *hdr, int *fds,
                             size_t nfds, GError **errp)
{
    size_t len = hdr->size - sizeof(*hdr);
    uint8_t *payload;

    if (vfio_user_hdr_is_reply(hdr)) {
        vfio_user_close_fds(fds, nfds);
        trace_server_unexpected_reply(hdr->id, vfio_user_cmd_name(hdr->cmd));
        return vus_rx_discard(srv, len, errp);
    }
    if (!vus_rx_payload(srv, len, len, &payload, errp)) {
        vfio_user_close_fds(fds, nfds);
        return false;
    }
    pending_push(srv, hdr, payload, fds, nfds);
    vus_server_wake(srv);
    return true;
}

/*
 * Wait until something is buffered, @left_ms at most.  With the whole
 * timeout still ahead (within a sixteenth: right after the request) and
 * the socket's receive timeout to bound it, block in the receive itself,
 * one system call instead of poll() and a receive; otherwise poll().
 */
static bool wait_reply_data(VusServer *srv, uint16_t cmd, gint64 left_ms,
                            size_t ahead, GError **errp)
{
    uint32_t tmo = srv->opts.dma_timeout_ms;
    ssize_t n = -1;

    if (left_ms > 0 && vus_rx_avail(srv)) {
        return true;
    }
    if (left_ms > 0 && srv->rcv_timeout &&
        left_ms >= (gint64)(tmo - tmo / 16)) {
        vus_rx_set_timeout(srv, true);
        n = vus_rx_fill(srv, ahead, 0, errp);
        if (n == -2) {
            return false;
        }
        if (n == 0) {
            return vfio_user_error_set(errp, ECONNRESET,
                                       "peer closed the connection");
        }
    } else if (left_ms > 0 && sock_readable(srv->sock, (int)left_ms)) {
        return true;
    }
    if (n < 0) {
        return vfio_user_error_set(errp, ETIMEDOUT,
                                   "no reply to %s within %u ms",
                                   vfio_user_cmd_name(cmd), tmo);
    }
    return true;
}

/* Read messages until the reply header for @id arrives (body left). */
static bool wait_reply(VusServer *srv, uint16_t id, uint16_t cmd, size_t ahead,
                       VFIOUserHdr *reply, GError **errp)
{
    gint64 deadline =
        g_get_monotonic_time() + (gint64)srv->opts.dma_timeout_ms * 1000;
    int fds[VFIO_USER_MAX_FDS];
    size_t nfds;
    VFIOUserHdr hdr;

    for (;;) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;

        if (pending_size(srv) >= pending_max(srv)) {
            return vfio_user_error_set(
                errp, ENOBUFS,
                "%s: the client sent %zu bytes of requests while the server waited for the reply; not reading more",
                vfio_user_cmd_name(cmd), pending_size(srv));
        }
        if (!wait_reply_data(srv, cmd, left, ahead, errp)) {
            return false;
        }
        switch (vus_rx_hdr(srv, &hdr, fds, &nfds, ahead, errp)) {
        case VFIO_USER_RECV_NONE:
            continue;
        case VFIO_USER_RECV_ERROR:
            return false;
        case VFIO_USER_RECV_OK:
            break;
        }
        if (vfio_user_hdr_is_reply(&hdr) && hdr.id == id && hdr.cmd == cmd) {
            vfio_user_close_fds(fds, nfds);
            *reply = hdr;
            return true;
        }
        if (!wait_reply_other(srv, &hdr, fds, nfds, errp)) {
            return false;
        }
    }
}

bool vus_server_send_request(VusServer *srv, uint16_t cmd,
                             const struct iovec *iov, int iovcnt, uint16_t *id,
                             GError **errp)
{
    struct iovec v[4];
    VFIOUserHdr hdr;
    size_t len = 0;
    GError *err = NULL;

    if (srv->sock < 0 || srv->broken || !srv->negotiated) {
        return vfio_user_error_set(errp, ENOTCONN, "no client connected");
    }
    g_assert(iovcnt < (int)G_N_ELEMENTS(v));
    for (int i = 0; i < iovcnt; i++) {
        v[i + 1] = iov[i];
        len += iov[i].iov_len;
    }
    vfio_user_hdr_init(&hdr, srv->next_id++, cmd, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REQUEST);
    v[0] = (struct iovec){.iov_base = &hdr, .iov_len = sizeof(hdr)};
    *id = hdr.id;
    if (!vfio_user_tr_sendv(srv->tr, v, iovcnt + 1, NULL, 0, &err)) {
        vus_server_mark_broken(srv, g_error_copy(err));
        g_propagate_error(errp, err);
        return false;
    }
    return true;
}

bool vus_server_wait_reply(VusServer *srv, uint16_t id, uint16_t cmd,
                           size_t ahead, VFIOUserHdr *reply, GError **errp)
{
    GError *err = NULL;

    if (srv->sock < 0 || srv->broken) {
        return vfio_user_error_set(errp, ENOTCONN, "no client connected");
    }
    if (!wait_reply(srv, id, cmd, ahead, reply, &err)) {
        if (err->code != ETIMEDOUT && err->code != ENOBUFS) {
            vus_server_mark_broken(srv, g_error_copy(err));
        }
        g_propagate_error(errp, err);
        return false;
    }
    if (reply->flags & VFIO_USER_F_ERROR) {
        if (!vus_rx_discard(srv, reply->size - sizeof(*reply), &err)) {
            vus_server_mark_broken(srv, g_error_copy(err));
            g_propagate_error(errp, err);
            return false;
        }
        return vfio_user_error_set(
            errp, reply->error ? (int)reply->error : EIO,
            "client failed %s: %s", vfio_user_cmd_name(cmd),
            g_strerror(reply->error ? (int)reply->error : EIO));
    }
    return true;
}
