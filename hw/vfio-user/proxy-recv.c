/*
 * vfio-user client connection: reading messages, by whoever holds the
 * reader token, and the receive thread.  A reply is matched to its waiter
 * by id (claimed under proxy->lock, then its payload is read straight into
 * the caller's buffers, so a waiter that timed out is never written into);
 * a reply nobody waits for is dropped; a server-to-client request goes to
 * the request handler on the receive thread, which reads its payload
 * through vfio_user_proxy_recv_payload()/_discard().  A caller reading for
 * its own reply that meets a server request hands it, with the token, to
 * the receive thread.  When reading fails, the reader fails the
 * connection; the receive thread then stops and runs the failure notify.
 *
 * The receive thread reads (in poll()) while no call is in progress, so
 * server requests and hang-ups are seen at once then.  The first reply
 * it delivers to a caller makes it give the token up; while callers read
 * it sleeps, and it takes the token back PROXY_IDLE_WINDOW_US after the
 * last call ended, so back-to-back calls never wake it.
 *
 * Once a message has started, a server that stops sending for twice the
 * message timeout fails the connection with ETIMEDOUT (SO_RCVTIMEO, see
 * proxy.c), so a reader or a handler (and any lock it holds) is never
 * blocked forever.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-proxy"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>

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

/*
 * A read that timed out (EAGAIN from SO_RCVTIMEO) in the middle of @what
 * is a stalled server: turn it into ETIMEDOUT naming the message.
 */
static void proxy_stall_error(VFIOUserProxy *proxy, uint16_t cmd,
                              const char *what, GError **errp)
{
    if (*errp && ((*errp)->code == EAGAIN || (*errp)->code == EWOULDBLOCK)) {
        g_clear_error(errp);
        vfu_error_set(errp, ETIMEDOUT,
                      "server stalled in the middle of a %s%s%s "
                      "(nothing for %" PRIu64 " ms)",
                      cmd ? vfu_cmd_name(cmd) : "", cmd ? " " : "", what,
                      2 * (uint64_t)proxy->timeout_ms);
    }
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
        ok = proxy_drop_stray(proxy, hdr, fds, nfds, errp);
        if (!ok) {
            proxy_stall_error(proxy, hdr->cmd, "reply", errp);
        }
        return ok;
    }

    ok = proxy_fill_reply(proxy, w, hdr, fds, nfds, errp);
    g_mutex_lock(&proxy->lock);
    if (ok) {
        proxy->stats.replies++;
        proxy->stats.own_reads += proxy->reader == w;
        if (hdr->flags & VFIO_USER_F_ERROR) {
            proxy->stats.error_replies++;
        }
    } else {
        proxy_stall_error(proxy, hdr->cmd, "reply", errp);
        vfio_user_proxy_fail_locked(proxy, *errp);
        w->err = vfio_user_proxy_failure_errno_locked(proxy);
    }
    vfio_user_proxy_finish_locked(proxy, w);
    g_mutex_unlock(&proxy->lock);
    return ok;
}

/*
 * Read @len bytes of the current server request's payload into @iov, or
 * drop them when @iov is NULL.  A stall (EAGAIN from the read bound set
 * in proxy.c) fails the connection with ETIMEDOUT right here, so
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
        proxy_stall_error(proxy, proxy->req_cmd, "request", &err);
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
    return true;
}

/*
 * A caller holding the token met a server request: give it and the token
 * to the receive thread, and queue the caller first for the token back.
 */
static void proxy_forward_request(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                                  const int *fds, size_t nfds)
{
    VFIOUserWaiter *w;

    g_mutex_lock(&proxy->lock);
    w = proxy->reader;
    proxy->fwd_hdr = *hdr;
    memcpy(proxy->fwd_fds, fds, nfds * sizeof(int));
    proxy->fwd_nfds = nfds;
    proxy->fwd_valid = true;
    g_queue_push_head_link(&proxy->token_queue, &w->link);
    w->queued = true;
    proxy->reader = NULL;
    proxy->rx_reading = true;
    proxy->rx_asleep = false;
    g_cond_signal(&proxy->rx_cond);
    g_mutex_unlock(&proxy->lock);
}

bool vfio_user_proxy_recv_one(VFIOUserProxy *proxy, bool on_rx, GError **errp)
{
    int fds[VFU_MAX_FDS];
    VFIOUserHdr hdr;
    size_t nfds = 0;

    if (!vfu_msg_recv_hdr(proxy->sock, &hdr, fds, &nfds, proxy->max_fds,
                          proxy->max_msg_size, errp)) {
        proxy_stall_error(proxy, 0, "message header", errp);
        return false;
    }
    proxy_trace("vfio-user: %s: recv %s id %u size %u flags 0x%x fds %zu",
                proxy->path, vfu_cmd_name(hdr.cmd), hdr.id, hdr.size, hdr.flags,
                nfds);
    if (vfu_hdr_is_reply(&hdr)) {
        return proxy_handle_reply(proxy, &hdr, fds, nfds, errp);
    }
    if (!on_rx) {
        proxy_forward_request(proxy, &hdr, fds, nfds);
        return true;
    }
    return proxy_handle_request(proxy, &hdr, fds, nfds, errp);
}

/* ---- The reader token ---- */

void vfio_user_proxy_pass_token_locked(VFIOUserProxy *proxy)
{
    GList *head = g_queue_pop_head_link(&proxy->token_queue);

    proxy->reader = NULL;
    proxy->rx_reading = false;
    if (head) {
        VFIOUserWaiter *next = head->data;

        next->queued = false;
        proxy->reader = next;
        g_cond_signal(&next->cond);
        return;
    }
    proxy->released_at = g_get_monotonic_time();
    if (proxy->rx_asleep) {
        proxy->rx_asleep = false;
        g_cond_signal(&proxy->rx_cond);
    }
}

/*
 * Wait (spinning first for up to poll_us) until the socket is readable or
 * @deadline passes; no lock held.  0 when the time ran out.
 */
static int proxy_poll_sock(VFIOUserProxy *proxy, gint64 deadline)
{
    struct pollfd pfd = {.fd = proxy->sock, .events = POLLIN};
    gint64 now = g_get_monotonic_time();
    gint64 spin_end = now + proxy->poll_us;
    int r;

    while (now < spin_end && now < deadline) {
        r = poll(&pfd, 1, 0);
        if (r != 0) {
            return r;
        }
        now = g_get_monotonic_time();
    }
    do {
        if (now >= deadline) {
            return 0;
        }
        r = poll(&pfd, 1, MIN((deadline - now + 999) / 1000, G_MAXINT));
        now = g_get_monotonic_time();
    } while (r < 0 && errno == EINTR);
    return r;
}

/*
 * As the token holder: read (and pass on) one message if one comes before
 * @deadline.  proxy->lock held on entry and on return, dropped meanwhile.
 */
void vfio_user_proxy_read_step_locked(VFIOUserProxy *proxy, gint64 deadline)
{
    GError *err = NULL;
    bool ok = true;

    g_mutex_unlock(&proxy->lock);
    if (proxy_poll_sock(proxy, deadline) != 0) {
        ok = vfio_user_proxy_recv_one(proxy, false, &err);
    }
    g_mutex_lock(&proxy->lock);
    if (!ok) {
        vfio_user_proxy_fail_locked(proxy, err);
        g_error_free(err);
    }
}

/*
 * Sleep until the receive thread should read: it holds the token (given
 * by a caller with a server request, or kept), or nobody has held it for
 * PROXY_IDLE_WINDOW_US.  proxy->lock held.  False when the proxy stops.
 */
static bool proxy_rx_take_token_locked(VFIOUserProxy *proxy)
{
    while (proxy->state == VFIO_PROXY_CONNECTED) {
        if (proxy->rx_reading) {
            return true;
        }
        if (!proxy->reader && g_queue_is_empty(&proxy->token_queue)) {
            gint64 until = proxy->released_at + PROXY_IDLE_WINDOW_US;

            if (g_get_monotonic_time() >= until) {
                proxy->rx_reading = true;
                return true;
            }
            g_cond_wait_until(&proxy->rx_cond, &proxy->lock, until);
        } else {
            proxy->rx_asleep = true;
            g_cond_wait(&proxy->rx_cond, &proxy->lock);
            proxy->rx_asleep = false;
        }
    }
    return false;
}

/* Handle the server request a caller passed on; proxy->lock held. */
static bool proxy_rx_forwarded_locked(VFIOUserProxy *proxy, GError **errp)
{
    VFIOUserHdr hdr = proxy->fwd_hdr;
    int fds[VFU_MAX_FDS];
    size_t nfds = proxy->fwd_nfds;
    bool ok;

    memcpy(fds, proxy->fwd_fds, nfds * sizeof(int));
    proxy->fwd_valid = false;
    g_mutex_unlock(&proxy->lock);
    ok = proxy_handle_request(proxy, &hdr, fds, nfds, errp);
    g_mutex_lock(&proxy->lock);
    return ok;
}

/*
 * As the token holder with no caller queued: wait in poll() for a message
 * and handle it.  A reply that reached its caller means calls are going
 * on: give the token up, so that the next calls read their own replies.
 * proxy->lock held.
 */
static bool proxy_rx_poll_locked(VFIOUserProxy *proxy, GError **errp)
{
    struct pollfd pfd = {.fd = proxy->sock, .events = POLLIN};
    uint64_t replies = proxy->stats.replies;
    bool ok;
    int r;

    g_mutex_unlock(&proxy->lock);
    do {
        r = poll(&pfd, 1, -1);
    } while (r < 0 && errno == EINTR);
    ok = r > 0
             ? vfio_user_proxy_recv_one(proxy, true, errp)
             : vfu_error_set(errp, errno, "poll failed: %s", g_strerror(errno));
    g_mutex_lock(&proxy->lock);
    if (ok && proxy->stats.replies != replies) {
        vfio_user_proxy_pass_token_locked(proxy);
    }
    return ok;
}

/* Read while the receive thread holds the token; false with @errp on error. */
static bool proxy_rx_loop(VFIOUserProxy *proxy, GError **errp)
{
    bool ok = true;

    g_mutex_lock(&proxy->lock);
    while (ok && proxy_rx_take_token_locked(proxy)) {
        if (proxy->fwd_valid) {
            ok = proxy_rx_forwarded_locked(proxy, errp);
        } else if (!g_queue_is_empty(&proxy->token_queue)) {
            vfio_user_proxy_pass_token_locked(proxy);
        } else {
            ok = proxy_rx_poll_locked(proxy, errp);
        }
    }
    if (proxy->fwd_valid) {
        vfu_close_fds(proxy->fwd_fds, proxy->fwd_nfds);
        proxy->fwd_valid = false;
    }
    g_mutex_unlock(&proxy->lock);
    return ok;
}

gpointer vfio_user_proxy_thread_main(gpointer opaque)
{
    VFIOUserProxy *proxy = opaque;
    VFIOUserFailureNotify notify = NULL;
    void *notify_opaque = NULL;
    GError *err = NULL;
    bool self_free;

    if (proxy_rx_loop(proxy, &err)) {
        /* Someone else saw the failure, or the proxy is closing. */
        vfu_error_set(&err, ECANCELED, "the connection is no longer up");
    } else if (!err) {
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
