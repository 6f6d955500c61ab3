/*
 * vfio-user client connection: the receive thread.  It reads every message
 * from the server: a reply is matched to its waiter by id (claimed under
 * proxy->lock, then its payload is read straight into the caller's
 * buffers, so a waiter that timed out is never written into); a reply
 * nobody waits for is dropped; a server-to-client request goes to the
 * request handler, which reads its payload through
 * vfio_user_proxy_recv_payload()/_discard().  When reading fails, the
 * thread fails the connection and runs the failure notify.
 *
 * While a server request's payload is read, a server that stops sending
 * for twice the message timeout fails the connection with ETIMEDOUT, so a
 * handler (and any lock it holds) is never blocked forever.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-proxy"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "proxy-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"

/* iovec entries per scatter step (the transport's receive limit). */
#define PROXY_SCATTER_IOV 64

typedef enum StrayKind {
    STRAY_UNKNOWN,
    STRAY_POSTED_ERROR,
    STRAY_POSTED_OK,
} StrayKind;

/* Read @len payload bytes into the front of @iov, 64 pieces at a time. */
static bool proxy_recv_scatter(int sock, const struct iovec *iov, int iovcnt,
                               size_t len, GError **errp)
{
    struct iovec vec[PROXY_SCATTER_IOV];
    int i = 0;

    while (len > 0) {
        size_t chunk = 0;
        int n = 0;

        while (n < PROXY_SCATTER_IOV && i < iovcnt && chunk < len) {
            size_t take = MIN(iov[i].iov_len, len - chunk);

            if (take) {
                vec[n].iov_base = iov[i].iov_base;
                vec[n++].iov_len = take;
                chunk += take;
            }
            i++;
        }
        if (!vfu_msg_recv_bodyv(sock, vec, n, errp)) {
            return false;
        }
        len -= chunk;
    }
    return true;
}

/* Move the claimed reply into @w's request.  Consumes @fds and payload. */
static bool proxy_fill_reply(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                             const VFIOUserHdr *hdr, int *fds, size_t nfds,
                             GError **errp)
{
    VFIOUserRequest *req = w->req;
    size_t len = hdr->size - sizeof(*hdr), room, keep;

    if (hdr->cmd != w->cmd) {
        vfu_close_fds(fds, nfds);
        return vfu_error_set(
            errp, EPROTO, "reply to %s id %u carries command %s",
            vfu_cmd_name(w->cmd), w->id, vfu_cmd_name(hdr->cmd));
    }
    if (hdr->flags & VFIO_USER_F_ERROR) {
        req->reply_errno =
            hdr->error && hdr->error < 4096 ? (int)hdr->error : EIO;
        vfu_close_fds(fds, nfds);
        return vfu_msg_discard(proxy->sock, len, errp);
    }
    if (!vfio_user_proxy_iov_total(req->reply_iov, req->reply_iovcnt, &room) ||
        len > room) {
        w->err = EMSGSIZE;
        w->reply_size = len;
        vfu_close_fds(fds, nfds);
        return vfu_msg_discard(proxy->sock, len, errp);
    }
    if (!proxy_recv_scatter(proxy->sock, req->reply_iov, req->reply_iovcnt, len,
                            errp)) {
        vfu_close_fds(fds, nfds);
        return false;
    }
    req->reply_len = len;
    keep = req->reply_fds ? MIN(nfds, req->reply_max_fds) : 0;
    if (keep) {
        memcpy(req->reply_fds, fds, keep * sizeof(int));
    }
    vfu_close_fds(fds + keep, nfds - keep);
    req->reply_nfds = keep;
    return true;
}

/* A reply nobody waits for: was it for a posted request?  Lock held. */
static StrayKind proxy_classify_stray_locked(VFIOUserProxy *proxy,
                                             const VFIOUserHdr *hdr)
{
    for (unsigned i = 0; i < PROXY_POSTED_RING; i++) {
        PostedEntry *p = &proxy->posted[i];

        if (p->valid && p->id == hdr->id && p->cmd == hdr->cmd) {
            p->valid = false;
            if (hdr->flags & VFIO_USER_F_ERROR) {
                proxy->stats.posted_errors++;
                return STRAY_POSTED_ERROR;
            }
            return STRAY_POSTED_OK;
        }
    }
    proxy->stats.unknown_replies++;
    return STRAY_UNKNOWN;
}

static bool proxy_drop_stray(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                             int *fds, size_t nfds, GError **errp)
{
    const char *name = vfu_cmd_name(hdr->cmd);
    StrayKind kind;

    g_mutex_lock(&proxy->lock);
    kind = proxy_classify_stray_locked(proxy, hdr);
    g_mutex_unlock(&proxy->lock);
    if (kind == STRAY_POSTED_ERROR) {
        g_warning("vfio-user: %s: posted %s failed: %s", proxy->path, name,
                  g_strerror(hdr->error ? (int)hdr->error : EIO));
    } else if (kind == STRAY_POSTED_OK) {
        proxy_trace("vfio-user: %s: ignored a reply to posted %s id %u",
                    proxy->path, name, hdr->id);
    } else {
        proxy_trace("vfio-user: %s: dropped a %s reply to unknown id %u "
                    "(%u bytes, %zu fds)",
                    proxy->path, name, hdr->id, hdr->size, nfds);
    }
    vfu_close_fds(fds, nfds);
    return vfu_msg_discard(proxy->sock, hdr->size - sizeof(*hdr), errp);
}

static bool proxy_handle_reply(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                               int *fds, size_t nfds, GError **errp)
{
    VFIOUserWaiter *w;
    bool ok;

    g_mutex_lock(&proxy->lock);
    w = proxy->slots[hdr->id % PROXY_SLOTS];
    if (w && w->id == hdr->id && w->state == WAITER_PENDING) {
        proxy->slots[hdr->id % PROXY_SLOTS] = NULL;
        w->state = WAITER_CLAIMED;
    } else {
        w = NULL;
    }
    g_mutex_unlock(&proxy->lock);
    if (!w) {
        return proxy_drop_stray(proxy, hdr, fds, nfds, errp);
    }

    ok = proxy_fill_reply(proxy, w, hdr, fds, nfds, errp);
    g_mutex_lock(&proxy->lock);
    if (ok) {
        proxy->stats.replies++;
        if (hdr->flags & VFIO_USER_F_ERROR) {
            proxy->stats.error_replies++;
        }
    } else {
        vfio_user_proxy_fail_locked(proxy, *errp);
        w->err = vfio_user_proxy_failure_errno_locked(proxy);
    }
    w->state = WAITER_DONE;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&proxy->lock);
    return ok;
}

/*
 * Bound the reads of a server request's payload (@on) or lift the bound:
 * with SO_RCVTIMEO set, a read that sees no byte for twice the message
 * timeout fails with EAGAIN instead of blocking the receive thread, and
 * whatever lock its handler holds, forever.  Lifted before the next header,
 * which may take as long as the server likes to come.
 */
static bool proxy_bound_reads(VFIOUserProxy *proxy, bool on, GError **errp)
{
    uint64_t ms = on ? 2 * (uint64_t)proxy->timeout_ms : 0;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    if (setsockopt(proxy->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
        return vfu_error_set(errp, errno, "cannot set a receive timeout: %s",
                             g_strerror(errno));
    }
    return true;
}

/*
 * Read @len bytes of the current server request's payload into @iov, or
 * drop them when @iov is NULL.  A stall (EAGAIN from the bound set by
 * proxy_bound_reads()) fails the connection with ETIMEDOUT right here, so
 * the proxy is in ERROR whatever the handler then makes of the failure.
 */
static bool proxy_req_read(VFIOUserProxy *proxy, const struct iovec *iov,
                           int iovcnt, size_t len, GError **errp)
{
    GError *err = NULL;
    bool ok = iov ? proxy_recv_scatter(proxy->sock, iov, iovcnt, len, &err)
                  : vfu_msg_discard(proxy->sock, len, &err);

    if (ok) {
        proxy->req_remaining -= len;
        return true;
    }
    if (err->code == EAGAIN || err->code == EWOULDBLOCK) {
        g_clear_error(&err);
        vfu_error_set(&err, ETIMEDOUT,
                      "server stalled in the middle of a %s request "
                      "(nothing for %" PRIu64 " ms)",
                      vfu_cmd_name(proxy->req_cmd),
                      2 * (uint64_t)proxy->timeout_ms);
        g_mutex_lock(&proxy->lock);
        vfio_user_proxy_fail_locked(proxy, err);
        g_mutex_unlock(&proxy->lock);
    }
    g_propagate_error(errp, err);
    return false;
}

/* Give a server request to the handler, or refuse it (ENOSYS). */
static bool proxy_dispatch_request(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                                   int *fds, size_t nfds, GError **errp)
{
    VFIOUserRequestHandler fn;
    void *opaque;
    bool ok;

    g_mutex_lock(&proxy->lock);
    fn = proxy->handler;
    opaque = proxy->handler_opaque;
    proxy->in_handler = fn != NULL;
    proxy->stats.server_requests++;
    g_mutex_unlock(&proxy->lock);

    if (!fn) {
        proxy_trace("vfio-user: %s: no handler for server request %s id %u",
                    proxy->path, vfu_cmd_name(hdr->cmd), hdr->id);
        vfu_close_fds(fds, nfds);
        if (!proxy_req_read(proxy, NULL, 0, proxy->req_remaining, errp)) {
            return false;
        }
        return (hdr->flags & VFIO_USER_F_NO_REPLY) ||
               vfio_user_proxy_send_error(proxy, hdr, ENOSYS, errp);
    }
    ok = fn(proxy, hdr, fds, nfds, opaque, errp);
    g_mutex_lock(&proxy->lock);
    proxy->in_handler = false;
    g_cond_broadcast(&proxy->handler_cond);
    g_mutex_unlock(&proxy->lock);
    if (!ok && !*errp) {
        vfu_error_set(errp, EPROTO, "handler refused server request %s",
                      vfu_cmd_name(hdr->cmd));
    }
    return ok;
}

static bool proxy_handle_request(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                                 int *fds, size_t nfds, GError **errp)
{
    size_t len = hdr->size - sizeof(*hdr);

    if (len && !proxy_bound_reads(proxy, true, errp)) {
        vfu_close_fds(fds, nfds);
        return false;
    }
    proxy->req_cmd = hdr->cmd;
    proxy->req_remaining = len;
    if (!proxy_dispatch_request(proxy, hdr, fds, nfds, errp)) {
        return false;
    }
    if (proxy->req_remaining) {
        proxy_trace("vfio-user: %s: handler left %zu bytes of %s unread",
                    proxy->path, proxy->req_remaining, vfu_cmd_name(hdr->cmd));
        if (!proxy_req_read(proxy, NULL, 0, proxy->req_remaining, errp)) {
            return false;
        }
    }
    return !len || proxy_bound_reads(proxy, false, errp);
}

static bool proxy_recv_one(VFIOUserProxy *proxy, GError **errp)
{
    int fds[VFU_MAX_FDS];
    VFIOUserHdr hdr;
    size_t nfds = 0;

    if (!vfu_msg_recv_hdr(proxy->sock, &hdr, fds, &nfds, proxy->max_fds,
                          proxy->max_msg_size, errp)) {
        return false;
    }
    proxy_trace("vfio-user: %s: recv %s id %u size %u flags 0x%x fds %zu",
                proxy->path, vfu_cmd_name(hdr.cmd), hdr.id, hdr.size, hdr.flags,
                nfds);
    if (vfu_hdr_is_reply(&hdr)) {
        return proxy_handle_reply(proxy, &hdr, fds, nfds, errp);
    }
    return proxy_handle_request(proxy, &hdr, fds, nfds, errp);
}

gpointer vfio_user_proxy_thread_main(gpointer opaque)
{
    VFIOUserProxy *proxy = opaque;
    VFIOUserFailureNotify notify = NULL;
    void *notify_opaque = NULL;
    GError *err = NULL;
    bool self_free;

    while (proxy_recv_one(proxy, &err)) {
        /* one message per iteration */
    }
    if (!err) {
        vfu_error_set(&err, EPROTO, "receive failed without a reason");
    }
    g_mutex_lock(&proxy->lock);
    vfio_user_proxy_fail_locked(proxy, err);
    if (proxy->state == VFIO_PROXY_ERROR && !proxy->notified) {
        proxy->notified = true;
        notify = proxy->notify;
        notify_opaque = proxy->notify_opaque;
    }
    g_mutex_unlock(&proxy->lock);
    proxy_trace("vfio-user: %s: receive thread stops: %s", proxy->path,
                err->message);
    g_error_free(err);
    if (notify) {
        notify(proxy, proxy->fail_err, notify_opaque);
    }
    g_mutex_lock(&proxy->lock);
    self_free = proxy->free_on_thread;
    g_mutex_unlock(&proxy->lock);
    if (self_free) {
        vfio_user_proxy_destroy(proxy);
    }
    return NULL;
}

/* ---- For request handlers, on the receive thread ---- */

bool vfio_user_proxy_recv_payload(VFIOUserProxy *proxy, struct iovec *iov,
                                  int iovcnt, GError **errp)
{
    size_t len;

    if (!vfio_user_proxy_iov_total(iov, iovcnt, &len) ||
        len > proxy->req_remaining) {
        return vfu_error_set(errp, EPROTO,
                             "vfio-user: %s: request payload "
                             "has only %zu bytes left",
                             proxy->path, proxy->req_remaining);
    }
    return proxy_req_read(proxy, iov, iovcnt, len, errp);
}

bool vfio_user_proxy_discard(VFIOUserProxy *proxy, size_t len, GError **errp)
{
    if (len > proxy->req_remaining) {
        return vfu_error_set(errp, EPROTO,
                             "vfio-user: %s: request payload "
                             "has only %zu bytes left",
                             proxy->path, proxy->req_remaining);
    }
    return proxy_req_read(proxy, NULL, 0, len, errp);
}
