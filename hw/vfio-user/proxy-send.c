/*
 * vfio-user client connection: the outgoing queue.
 *
 * Every message goes through one FIFO queue (proxy->outq) and is written
 * with non-blocking sends by whichever thread holds the sender role
 * (proxy->sending), never with proxy->lock held:
 *
 * - a caller (call/post) queues its message, built on its stack with its
 *   buffers used in place (a small one is copied into one piece, so that
 *   the kernel gets one iovec), and, if nobody sends, becomes the sender: it
 *   writes the queue up to and including its own message, waiting in
 *   poll() for room while its own message is unsent, then writes what
 *   else the socket takes at once and leaves the rest to the receive
 *   thread;
 * - the reader (a caller reading its reply, or the receive thread) and the
 *   receive thread only ever write what the socket takes at once (but for
 *   the first send of a large handler reply, which may wait for room up
 *   to PROXY_TX_WAIT_MS, see proxy_queue_reply_locked()) and poll
 *   POLLOUT (a reader together with POLLIN), so the reader keeps reading
 *   whatever is in the queue: a server blocked sending to us is always
 *   drained.  A sender that must wait for room while nobody reads has the
 *   receive thread take the socket.
 *
 * A message must be written whole within the message timeout of its first
 * attempt, or the connection fails (the server stopped reading).  The
 * clock is read when a non-blocking attempt leaves something unsent (one
 * system call after it began), or before a send that may wait: a message
 * that goes whole at once, the common case, costs no clock read.
 *
 * Replies of request handlers (on the reader's thread) come from a pool of
 * up to PROXY_REPLY_POOL entries, each allocated the first time no free
 * one is left and reused until the proxy is freed: once the pool has
 * grown to what the handlers use at once, queueing a reply allocates
 * nothing, and it never waits for the server unless all entries are in
 * the queue, in which case the reader waits for room (bounded by the
 * head's deadline).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-proxy"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "proxy-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "trace-events.h"

void vfio_user_proxy_send_init(VFIOUserProxy *proxy)
{
    g_queue_init(&proxy->outq);
    g_queue_init(&proxy->pool_free);
    g_cond_init(&proxy->pool_cond);
}

void vfio_user_proxy_send_destroy(VFIOUserProxy *proxy)
{
    for (unsigned i = 0; i < proxy->pool_n; i++) {
        g_free(proxy->pool[i]);
    }
    g_cond_clear(&proxy->pool_cond);
}

void vfio_user_proxy_out_init(ProxyOut *m, const VFIOUserHdr *hdr,
                              const struct iovec *iov, int iovcnt,
                              const int *fds, size_t nfds)
{
    size_t len = 0;

    m->link.data = m;
    m->link.next = m->link.prev = NULL;
    m->hdr = *hdr;
    m->vec[0].iov_base = &m->hdr;
    m->vec[0].iov_len = sizeof(m->hdr);
    m->iov = m->vec;
    m->iovcnt = iovcnt + 1;
    if (iovcnt > 0 && vfio_user_proxy_iov_total(iov, iovcnt, &len) &&
        len <= sizeof(m->inline_buf) - sizeof(m->hdr)) {
        /* A small message goes as one piece: one iovec for the kernel. */
        size_t off = sizeof(*hdr);

        memcpy(m->inline_buf, hdr, sizeof(*hdr));
        for (int i = 0; i < iovcnt; i++) {
            if (iov[i].iov_len) {
                memcpy(m->inline_buf + off, iov[i].iov_base, iov[i].iov_len);
                off += iov[i].iov_len;
            }
        }
        m->vec[0].iov_base = m->inline_buf;
        m->vec[0].iov_len = sizeof(*hdr) + len;
        m->iovcnt = 1;
    } else if (iovcnt > 0) {
        memcpy(&m->vec[1], iov, sizeof(*iov) * iovcnt);
    }
    m->fds = fds;
    m->nfds = nfds;
    m->started = false;
    m->in_send = false;
    m->deadline = 0;
    m->state = OUT_QUEUED;
    m->err = 0;
    m->cond = NULL;
    m->sleeping = false;
    m->done = NULL;
    m->done_opaque = NULL;
    m->heap = NULL;
    m->pooled = false;
    m->wait_send = false;
}

/* @m left the queue: record the outcome, tell its owner; lock held. */
static void proxy_out_complete_locked(VFIOUserProxy *proxy, ProxyOut *m,
                                      OutState st, int err)
{
    m->state = st;
    m->err = err;
    if (!m->pooled) {
        /* A GCond makes a system call per signal: only when one sleeps. */
        if (m->sleeping) {
            g_cond_signal(m->cond);
        }
        return;
    }
    if (m->done) {
        m->done(m->done_opaque, st == OUT_SENT);
    }
    g_clear_pointer(&m->heap, g_free);
    g_queue_push_tail_link(&proxy->pool_free, &m->link);
    if (proxy->pool_waiters) {
        g_cond_broadcast(&proxy->pool_cond);
    }
}

void vfio_user_proxy_drop_queue_locked(VFIOUserProxy *proxy, int errnum)
{
    GList *l = proxy->outq.head;

    while (l) {
        GList *next = l->next;
        ProxyOut *m = l->data;

        /* One in sendmsg() right now is completed by its sender. */
        if (!m->in_send) {
            g_queue_unlink(&proxy->outq, l);
            proxy_out_complete_locked(proxy, m, OUT_FAILED, errnum);
        }
        l = next;
    }
}

gint64 vfio_user_proxy_send_deadline_locked(VFIOUserProxy *proxy)
{
    ProxyOut *m = proxy->outq.head ? proxy->outq.head->data : NULL;

    return m && m->deadline ? m->deadline : G_MAXINT64;
}

bool vfio_user_proxy_send_expired_locked(VFIOUserProxy *proxy, gint64 now)
{
    ProxyOut *m = proxy->outq.head ? proxy->outq.head->data : NULL;
    GError *err = NULL;

    if (!m || !m->deadline || now < m->deadline ||
        proxy->state != VFIO_PROXY_CONNECTED) {
        return false;
    }
    vfio_user_error_set(
        &err, ETIMEDOUT,
        "the server took only part of %s id %u in %u ms (it stopped reading)",
        vfio_user_cmd_name(m->hdr.cmd), m->hdr.id, proxy->timeout_ms);
    vfio_user_proxy_fail_locked(proxy, err);
    g_error_free(err);
    return true;
}

/* A send error: fail the connection, unless nothing of @m went out. */
static void proxy_send_error_locked(VFIOUserProxy *proxy, ProxyOut *m,
                                    GError *err)
{
    if (err->code == EPIPE || err->code == ECONNRESET) {
        err->code = ECONNRESET;
    }
    /* EBADF/EINVAL (a bad fd) are refused before any byte moves. */
    if (!m->started && (err->code == EBADF || err->code == EINVAL)) {
        g_queue_unlink(&proxy->outq, &m->link);
        proxy_out_complete_locked(proxy, m, OUT_FAILED, err->code);
        return;
    }
    vfio_user_proxy_fail_locked(proxy, err);
}

/*
 * Write what the socket takes of the queue head, as the sender; lock held
 * (dropped around sendmsg()).  1: the head went whole, 0: the socket is
 * full, -1: the connection failed or the head was refused.
 */
static int proxy_send_head_locked(VFIOUserProxy *proxy, ProxyOut *m)
{
    GError *err = NULL;
    bool wait;
    ssize_t n;

    m->in_send = true;
    wait = m->wait_send;
    m->wait_send = false;
    if (wait && !m->deadline) {
        /* A send that may wait counts from before it (see below). */
        m->deadline = g_get_monotonic_time() +
                      (gint64)proxy->timeout_ms * G_TIME_SPAN_MILLISECOND;
    }
    g_mutex_unlock(&proxy->lock);
    n = (wait ? vfio_user_tr_send_some_wait : vfio_user_tr_send_some)(
        proxy->tr, m->iov, m->iovcnt, m->started ? NULL : m->fds,
        m->started ? 0 : m->nfds, &err);
    g_mutex_lock(&proxy->lock);
    m->in_send = false;
    if (n > 0) {
        m->started = true;
        vfio_user_iov_advance(&m->iov, &m->iovcnt, (size_t)n);
    }
    if (proxy->state != VFIO_PROXY_CONNECTED) {
        g_clear_error(&err);
        g_queue_unlink(&proxy->outq, &m->link);
        proxy_out_complete_locked(proxy, m, OUT_FAILED,
                                  vfio_user_proxy_failure_errno_locked(proxy));
        return -1;
    }
    if (n < 0) {
        proxy_send_error_locked(proxy, m, err);
        g_error_free(err);
        return -1;
    }
    if (m->iovcnt == 0) {
        g_queue_unlink(&proxy->outq, &m->link);
        proxy_out_complete_locked(proxy, m, OUT_SENT, 0);
        return 1;
    }
    if (!m->deadline) {
        /* A non-blocking first try that left some: the clock starts now. */
        m->deadline = g_get_monotonic_time() +
                      (gint64)proxy->timeout_ms * G_TIME_SPAN_MILLISECOND;
    }
    return 0;
}

bool vfio_user_proxy_drain_locked(VFIOUserProxy *proxy)
{
    if (!proxy->sending) {
        proxy->sending = true;
        while (proxy->state == VFIO_PROXY_CONNECTED && proxy->outq.head &&
               proxy_send_head_locked(proxy, proxy->outq.head->data) == 1) {
        }
        proxy->sending = false;
    }
    return g_queue_is_empty(&proxy->outq);
}

/* Wait for room in the socket until @deadline; lock dropped meanwhile. */
static bool proxy_wait_room_locked(VFIOUserProxy *proxy, gint64 deadline)
{
    struct pollfd pfd = {.fd = proxy->sock, .events = POLLOUT};
    gint64 now = g_get_monotonic_time();
    int r = 0;

    g_mutex_unlock(&proxy->lock);
    while (now < deadline) {
        r = poll(&pfd, 1, (int)MIN((deadline - now + 999) / 1000, G_MAXINT));
        if (r != 0 && !(r < 0 && errno == EINTR)) {
            break;
        }
        now = g_get_monotonic_time();
    }
    g_mutex_lock(&proxy->lock);
    return r != 0;
}

/*
 * As the sender, for a caller: write the queue until @mine is out (waiting
 * for room meanwhile), then what else goes at once.  Lock held.
 */
static void proxy_sender_run_locked(VFIOUserProxy *proxy, ProxyOut *mine)
{
    while (proxy->state == VFIO_PROXY_CONNECTED && proxy->outq.head) {
        ProxyOut *h = proxy->outq.head->data;
        int r = proxy_send_head_locked(proxy, h);

        if (r < 0 || (r == 0 && mine->state != OUT_QUEUED)) {
            break;
        }
        if (r == 0 && !proxy->reader) {
            /* The server may wait for us to read before it reads on. */
            proxy->rx_yield_until = 0;
            vfio_user_proxy_wake_rx_locked(proxy);
        }
        if (r == 0 && !proxy_wait_room_locked(proxy, h->deadline)) {
            vfio_user_proxy_send_expired_locked(proxy, G_MAXINT64);
            break;
        }
    }
}

/*
 * A sender leaves with the queue not empty: the owner of its head, if it
 * sleeps, becomes the sender; otherwise the reader writes the rest (the
 * receive thread, woken, when no caller reads).  Lock held.
 */
static void proxy_pass_sending_locked(VFIOUserProxy *proxy)
{
    ProxyOut *h = proxy->outq.head->data;

    if (h->sleeping) {
        g_cond_signal(h->cond);
    } else {
        vfio_user_proxy_wake_rx_locked(proxy);
    }
}

bool vfio_user_proxy_send_wait_locked(VFIOUserProxy *proxy, ProxyOut *m,
                                      GError **errp)
{
    const char *name;

    g_queue_push_tail_link(&proxy->outq, &m->link);
    while (m->state == OUT_QUEUED) {
        if (!proxy->sending) {
            proxy->sending = true;
            proxy_sender_run_locked(proxy, m);
            proxy->sending = false;
            if (!g_queue_is_empty(&proxy->outq)) {
                proxy_pass_sending_locked(proxy);
            }
            continue;
        }
        /* Another thread sends; the receive thread enforces deadlines. */
        m->sleeping = true;
        if (!g_cond_wait_until(m->cond, &proxy->lock,
                               g_get_monotonic_time() +
                                   (gint64)proxy->timeout_ms *
                                       G_TIME_SPAN_MILLISECOND)) {
            vfio_user_proxy_send_expired_locked(proxy, g_get_monotonic_time());
        }
        m->sleeping = false;
    }
    if (m->state == OUT_SENT) {
        return true;
    }
    name = vfio_user_cmd_name(m->hdr.cmd);
    if (proxy->state == VFIO_PROXY_ERROR && proxy->fail_err) {
        return vfio_user_error_set(errp, m->err, "cannot send %s: %s", name,
                                   proxy->fail_err->message);
    }
    if (m->err == ECANCELED) {
        return vfio_user_error_set(
            errp, ECANCELED, "cannot send %s: the connection is closed", name);
    }
    return vfio_user_error_set(errp, m->err, "cannot send %s: %s", name,
                               g_strerror(m->err));
}

/* ---- Replies from request handlers, on the reader's thread ---- */

/*
 * A free pool entry, a new one while the pool may grow; lock held.  With
 * every entry queued, wait for room (never for a lock), bounded by the
 * queue head's deadline.
 */
static ProxyOut *proxy_pool_get_locked(VFIOUserProxy *proxy, GError **errp)
{
    if (g_queue_is_empty(&proxy->pool_free) &&
        proxy->pool_n < PROXY_REPLY_POOL) {
        ProxyOut *m = g_new0(ProxyOut, 1);

        m->link.data = m;
        m->pooled = true;
        proxy->pool[proxy->pool_n++] = m;
        return m;
    }
    while (g_queue_is_empty(&proxy->pool_free)) {
        gint64 dl;

        if (proxy->state != VFIO_PROXY_CONNECTED) {
            vfio_user_error_set(
                errp, vfio_user_proxy_failure_errno_locked(proxy),
                "cannot queue a reply: the connection is no longer up");
            return NULL;
        }
        if (!proxy->sending && vfio_user_proxy_drain_locked(proxy)) {
            continue;
        }
        dl = vfio_user_proxy_send_deadline_locked(proxy);
        if (vfio_user_proxy_send_expired_locked(proxy,
                                                g_get_monotonic_time())) {
            continue;
        }
        if (!g_queue_is_empty(&proxy->pool_free)) {
            break;
        }
        if (!proxy->sending && dl != G_MAXINT64) {
            proxy_wait_room_locked(proxy, dl);
        } else {
            proxy->pool_waiters++;
            g_cond_wait_until(
                &proxy->pool_cond, &proxy->lock,
                MIN(dl, g_get_monotonic_time() + (gint64)proxy->timeout_ms *
                                                     G_TIME_SPAN_MILLISECOND));
            proxy->pool_waiters--;
        }
    }
    return g_queue_pop_head_link(&proxy->pool_free)->data;
}

/*
 * Queue a pool entry @m and send what goes at once; lock held.  A large
 * reply that the reader queues (a DMA_READ's data, from its handler) is
 * first sent with one send that may wait for room while the server reads
 * it, instead of a poll() and a send per socket buffer's worth.  That send
 * does not read: should the server be sending to us too and not reading,
 * it gives up after PROXY_TX_WAIT_MS and the rest goes the usual way.
 */
static void proxy_queue_reply_locked(VFIOUserProxy *proxy, ProxyOut *m)
{
    size_t len = 0;

    m->wait_send = proxy->tx_wait && g_thread_self() == proxy->reader &&
                   vfio_user_proxy_iov_total(m->iov, m->iovcnt, &len) &&
                   len >= PROXY_TX_WAIT_MIN;
    g_queue_push_tail_link(&proxy->outq, &m->link);
    /* The reader (the handler's thread) polls POLLOUT itself. */
    if (!vfio_user_proxy_drain_locked(proxy) &&
        g_thread_self() != proxy->reader) {
        vfio_user_proxy_wake_rx_locked(proxy);
    }
    m->wait_send = false; /* only now, never later from a read's poll() */
}

/* Queue a reply from the pool; @heap (if any) is freed once it is out. */
static bool proxy_reply_queue(VFIOUserProxy *proxy, const VFIOUserHdr *req,
                              const void *prefix, size_t prefix_len,
                              const struct iovec *iov, int iovcnt,
                              VFIOUserSentFn done, void *opaque, void *heap,
                              GError **errp)
{
    VFIOUserHdr hdr;
    ProxyOut *m;
    size_t len;

    if (iovcnt < 0 || iovcnt > PROXY_MAX_IOV - 1 ||
        prefix_len > PROXY_INLINE_REPLY ||
        !vfio_user_proxy_iov_total(iov, iovcnt, &len) ||
        len > UINT32_MAX - sizeof(hdr) - prefix_len) {
        return vfio_user_error_set(errp, EINVAL, "malformed %s reply",
                                   vfio_user_cmd_name(req->cmd));
    }
    vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr) + prefix_len + len,
                       VFIO_USER_F_TYPE_REPLY);
    g_mutex_lock(&proxy->lock);
    m = proxy_pool_get_locked(proxy, errp);
    if (!m) {
        g_mutex_unlock(&proxy->lock);
        return false;
    }
    vfio_user_proxy_out_init(m, &hdr, NULL, 0, NULL, 0);
    m->pooled = true;
    if (prefix_len) {
        memcpy(m->inline_buf, prefix, prefix_len);
        m->vec[1].iov_base = m->inline_buf;
        m->vec[1].iov_len = prefix_len;
        m->iovcnt++;
    }
    if (iovcnt > 0) {
        memcpy(&m->vec[m->iovcnt], iov, sizeof(*iov) * iovcnt);
        m->iovcnt += iovcnt;
    }
    m->done = done;
    m->done_opaque = opaque;
    m->heap = heap;
    trace_proxy_queue_reply(proxy->path, vfio_user_cmd_name(hdr.cmd), hdr.id,
                            hdr.size);
    proxy_queue_reply_locked(proxy, m);
    g_mutex_unlock(&proxy->lock);
    return true;
}

bool vfio_user_proxy_send_reply_async(VFIOUserProxy *proxy,
                                      const VFIOUserHdr *req,
                                      const void *prefix, size_t prefix_len,
                                      const struct iovec *iov, int iovcnt,
                                      VFIOUserSentFn done, void *opaque,
                                      GError **errp)
{
    return proxy_reply_queue(proxy, req, prefix, prefix_len, iov, iovcnt, done,
                             opaque, NULL, errp);
}

bool vfio_user_proxy_send_reply(VFIOUserProxy *proxy, const VFIOUserHdr *req,
                                const struct iovec *iov, int iovcnt,
                                GError **errp)
{
    uint8_t small[PROXY_INLINE_REPLY];
    struct iovec big;
    size_t len, off = 0;
    uint8_t *copy;

    if (iovcnt < 0 || iovcnt > PROXY_MAX_IOV ||
        !vfio_user_proxy_iov_total(iov, iovcnt, &len) ||
        len > UINT32_MAX - sizeof(VFIOUserHdr)) {
        return vfio_user_error_set(errp, EINVAL, "malformed %s reply",
                                   vfio_user_cmd_name(req->cmd));
    }
    copy = len <= sizeof(small) ? small : g_malloc(len);
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len) {
            memcpy(copy + off, iov[i].iov_base, iov[i].iov_len);
        }
        off += iov[i].iov_len;
    }
    if (copy == small) {
        return proxy_reply_queue(proxy, req, small, len, NULL, 0, NULL, NULL,
                                 NULL, errp);
    }
    big.iov_base = copy;
    big.iov_len = len;
    if (!proxy_reply_queue(proxy, req, NULL, 0, &big, 1, NULL, NULL, copy,
                           errp)) {
        g_free(copy);
        return false;
    }
    return true;
}

bool vfio_user_proxy_send_error(VFIOUserProxy *proxy, const VFIOUserHdr *req,
                                int errnum, GError **errp)
{
    VFIOUserHdr hdr;
    ProxyOut *m;

    vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr),
                       VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR);
    hdr.error = errnum;
    g_mutex_lock(&proxy->lock);
    m = proxy_pool_get_locked(proxy, errp);
    if (!m) {
        g_mutex_unlock(&proxy->lock);
        return false;
    }
    vfio_user_proxy_out_init(m, &hdr, NULL, 0, NULL, 0);
    m->pooled = true;
    proxy_queue_reply_locked(proxy, m);
    g_mutex_unlock(&proxy->lock);
    return true;
}
