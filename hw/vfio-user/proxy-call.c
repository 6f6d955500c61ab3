/*
 * vfio-user client connection: requests from this side.
 *
 * A blocking request registers a waiter (on the caller's stack) in a fixed
 * table indexed by message id, queues its message (proxy-send.c) and, once
 * it is sent, waits until its reply is in its buffers, the timeout runs
 * out or the connection fails.  When nobody reads the socket it reads the
 * reply itself (proxy-recv.c), dealing with whatever else comes first as
 * the receive thread would; otherwise it sleeps on its own condition
 * (after spinning x-poll-us, if set) until the reader has scattered the
 * reply into its buffers.  A posted request returns once it is sent.
 *
 * Stalls: a request whose reply does not come in time leaves a "ghost" of
 * its id, so that the late reply is recognised, dropped and counted; until
 * the server answers anything again the proxy is "stalled" and new
 * requests fail at once with ETIMEDOUT.
 *
 * Ordering fence: posted_seq counts posted messages queued; a blocking
 * request remembers the count when it is queued, and its reply proves
 * that many handled (acked_seq), since the server handles messages in
 * order.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-proxy"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "proxy-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "trace-events.h"

bool vfio_user_proxy_posted_unacked(VFIOUserProxy *proxy)
{
    return __atomic_load_n(&proxy->posted_seq, __ATOMIC_ACQUIRE) !=
           __atomic_load_n(&proxy->acked_seq, __ATOMIC_ACQUIRE);
}

/* Caller-side checks that need no lock; sets *@payload_len. */
static bool proxy_check_request(VFIOUserProxy *proxy,
                                const VFIOUserRequest *req, size_t *payload_len,
                                GError **errp)
{
    if (req->iovcnt < 0 || req->iovcnt > PROXY_MAX_IOV ||
        (req->iovcnt && !req->iov) || req->reply_iovcnt < 0 ||
        (req->reply_iovcnt && !req->reply_iov) || (req->nfds && !req->fds)) {
        return vfio_user_error_set(
            errp, EINVAL, "malformed %s request (at most %d payload pieces)",
            vfio_user_cmd_name(req->cmd), PROXY_MAX_IOV);
    }
    if (req->nfds > proxy->caps.max_msg_fds) {
        return vfio_user_error_set(
            errp, E2BIG,
            "%s with %zu fds, the server accepts at most %u per message",
            vfio_user_cmd_name(req->cmd), req->nfds, proxy->caps.max_msg_fds);
    }
    if (!vfio_user_proxy_iov_total(req->iov, req->iovcnt, payload_len) ||
        *payload_len > proxy->caps.max_data_xfer_size + PROXY_HDR_ALLOWANCE) {
        return vfio_user_error_set(
            errp, EMSGSIZE,
            "%s payload is larger than the negotiated limit (%" PRIu64
            " bytes of data)",
            vfio_user_cmd_name(req->cmd), proxy->caps.max_data_xfer_size);
    }
    return true;
}

/* Count a user in (CONNECTED and not stalled); proxy->lock held. */
static bool proxy_enter_locked(VFIOUserProxy *proxy, uint16_t cmd,
                               GError **errp)
{
    if (proxy->state == VFIO_PROXY_CONNECTED && proxy->stalled) {
        proxy->stats.fast_fails++;
        return vfio_user_error_set(
            errp, ETIMEDOUT,
            "%s not sent: the server has not answered since %s timed out",
            vfio_user_cmd_name(cmd), vfio_user_cmd_name(proxy->stall_cmd));
    }
    if (proxy->state == VFIO_PROXY_CONNECTED) {
        proxy->users++;
        return true;
    }
    if (proxy->state == VFIO_PROXY_ERROR) {
        return vfio_user_error_set(
            errp, vfio_user_error_errno(proxy->fail_err),
            "cannot send %s: the connection failed earlier: %s",
            vfio_user_cmd_name(cmd), proxy->fail_err->message);
    }
    return vfio_user_error_set(errp, ECANCELED,
                               "cannot send %s: the connection is closed",
                               vfio_user_cmd_name(cmd));
}

static void proxy_leave_locked(VFIOUserProxy *proxy)
{
    if (--proxy->users == 0 && proxy->users_waited) {
        g_cond_broadcast(&proxy->users_cond);
    }
}

/* Next id whose table slot is free (no waiter, no ghost); lock held. */
static bool proxy_alloc_id_locked(VFIOUserProxy *proxy, uint16_t *id,
                                  GError **errp)
{
    for (unsigned i = 0; i < PROXY_SLOTS; i++) {
        uint16_t cand = proxy->next_id++;
        unsigned slot = cand % PROXY_SLOTS;

        if (!proxy->slots[slot] && !proxy->ghost[slot]) {
            *id = cand;
            return true;
        }
    }
    return vfio_user_error_set(
        errp, EAGAIN, "more than %d requests outstanding", PROXY_SLOTS);
}

/* Explain why @w finished with an error; proxy->lock held. */
static bool proxy_waiter_error(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                               GError **errp)
{
    const char *name = vfio_user_cmd_name(w->cmd);
    size_t room = 0;

    if (w->timed_out) {
        return vfio_user_error_set(errp, ETIMEDOUT,
                                   "no reply to %s within %u ms", name,
                                   proxy->timeout_ms);
    }
    switch (w->err) {
    case EMSGSIZE:
        vfio_user_proxy_iov_total(w->req->reply_iov, w->req->reply_iovcnt,
                                  &room);
        return vfio_user_error_set(
            errp, EMSGSIZE,
            "%s reply has %zu bytes, more than the %zu expected", name,
            w->reply_size, room);
    case ECANCELED:
        return vfio_user_error_set(
            errp, ECANCELED, "connection closed while waiting for %s", name);
    default:
        return vfio_user_error_set(errp, w->err, "%s failed: %s", name,
                                   proxy->fail_err ? proxy->fail_err->message
                                                   : g_strerror(w->err));
    }
}

/*
 * Sleep until @w is DONE (another thread reads its reply) or @deadline;
 * false when the deadline passed first.  Lock held.
 */
static bool proxy_sleep_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                               gint64 deadline)
{
    bool woken = true;

    w->sleeping = true;
    proxy->sleepers++;
    while (w->state != WAITER_DONE && woken) {
        woken = g_cond_wait_until(w->cond, &proxy->lock, deadline);
    }
    if (w->sleeping) {
        w->sleeping = false;
        proxy->sleepers--;
    }
    return w->state == WAITER_DONE;
}

/*
 * @w's time is up; proxy->lock held.  A pending waiter times out, leaves
 * a ghost for its late reply and marks the server stalled.  A claimed one
 * (its reply is being read) finishes within that message's own deadline.
 */
static void proxy_expire_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w)
{
    unsigned slot = w->id % PROXY_SLOTS;

    if (w->state == WAITER_PENDING) {
        if (proxy->nghosts >= PROXY_MAX_GHOSTS) {
            /* A server that never answers late: stop waiting for it. */
            memset(proxy->ghost, 0, sizeof(proxy->ghost));
            proxy->nghosts = 0;
        }
        proxy->nghosts++;
        proxy->slots[slot] = NULL;
        proxy->ghost[slot] = true;
        proxy->ghost_id[slot] = w->id;
        proxy->stalled = true;
        proxy->stall_cmd = w->cmd;
        /* The receive thread watches for the server's next answer. */
        vfio_user_proxy_wake_rx_locked(proxy);
        w->err = ETIMEDOUT;
        w->timed_out = true;
        proxy->stats.timeouts++;
        vfio_user_proxy_finish_locked(proxy, w);
        trace_proxy_call_timeout(proxy->path, vfio_user_cmd_name(w->cmd),
                                 w->id);
        return;
    }
    proxy_sleep_locked(proxy, w, G_MAXINT64);
}

/* Spin up to poll_us until @w is finished; lock dropped meanwhile. */
static void proxy_spin_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w)
{
    gint64 end = g_get_monotonic_time() + proxy->poll_us;

    g_mutex_unlock(&proxy->lock);
    while (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != WAITER_DONE &&
           g_get_monotonic_time() < end) {
        /* busy wait */
    }
    g_mutex_lock(&proxy->lock);
}

/*
 * Wait until @w is DONE or its time is up: read the reply ourselves while
 * nobody else reads, else sleep until the reader has it.  Lock held.
 */
static bool proxy_wait_reply_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                                    GError **errp)
{
    gint64 now = g_get_monotonic_time();
    gint64 deadline = now + (gint64)proxy->timeout_ms * G_TIME_SPAN_MILLISECOND;
    gint64 spin_end = now + proxy->poll_us;
    bool spun = !proxy->poll_us;

    while (w->state != WAITER_DONE) {
        if (!proxy->reader && proxy->state == VFIO_PROXY_CONNECTED) {
            vfio_user_proxy_read_for_locked(proxy, w, now, deadline, spin_end);
            now = 0;
        } else if (!spun) {
            spun = true;
            proxy_spin_locked(proxy, w);
            continue;
        } else {
            proxy_sleep_locked(proxy, w, deadline);
        }
        if (w->state != WAITER_DONE && g_get_monotonic_time() >= deadline) {
            proxy_expire_locked(proxy, w);
        }
    }
    return w->err ? proxy_waiter_error(proxy, w, errp) : true;
}

/*
 * Common start of call() and post(): check @req, count the caller in and
 * pick an id.  On success proxy->lock is held.
 */
static bool proxy_begin_locked(VFIOUserProxy *proxy, VFIOUserRequest *req,
                               size_t *len, uint16_t *id, GError **errp)
{
    req->reply_len = 0;
    req->reply_nfds = 0;
    req->reply_errno = 0;
    if (!proxy_check_request(proxy, req, len, errp)) {
        return false;
    }
    g_mutex_lock(&proxy->lock);
    if (!proxy_enter_locked(proxy, req->cmd, errp)) {
        g_mutex_unlock(&proxy->lock);
        return false;
    }
    if (!proxy_alloc_id_locked(proxy, id, errp)) {
        proxy_leave_locked(proxy);
        g_mutex_unlock(&proxy->lock);
        return false;
    }
    return true;
}

bool vfio_user_proxy_call(VFIOUserProxy *proxy, VFIOUserRequest *req,
                          GError **errp)
{
    GThread *self = g_thread_self();
    GCond cond;
    VFIOUserWaiter w = {
        .req = req, .cmd = req->cmd, .cond = &cond, .self = self};
    GError *err = NULL;
    VFIOUserHdr hdr;
    ProxyOut m;
    size_t len;
    bool ok;

    if (!proxy_begin_locked(proxy, req, &len, &w.id, errp)) {
        return false;
    }
    if (self == proxy->thread || self == proxy->reader) {
        /* Nobody would read the reply: a handler must not block on one. */
        proxy_leave_locked(proxy);
        g_mutex_unlock(&proxy->lock);
        return vfio_user_error_set(
            errp, EDEADLK, "%s sent from a request handler would wait forever",
            vfio_user_cmd_name(req->cmd));
    }
    g_cond_init(&cond);
    proxy->slots[w.id % PROXY_SLOTS] = &w;
    w.fence = proxy->posted_seq;
    proxy->stats.requests++;
    vfio_user_hdr_init(&hdr, w.id, req->cmd, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REQUEST);
    vfio_user_proxy_out_init(&m, &hdr, req->iov, req->iovcnt, req->fds,
                             req->nfds);
    m.cond = &cond;
    trace_proxy_send(proxy->path, vfio_user_cmd_name(hdr.cmd), hdr.id,
                     hdr.size);
    ok = vfio_user_proxy_send_wait_locked(proxy, &m, &err);
    if (ok) {
        ok = proxy_wait_reply_locked(proxy, &w, errp);
    } else {
        if (proxy->slots[w.id % PROXY_SLOTS] == &w) {
            proxy->slots[w.id % PROXY_SLOTS] = NULL;
        }
        if (w.state == WAITER_CLAIMED) {
            proxy_sleep_locked(proxy, &w, G_MAXINT64);
        }
        g_propagate_error(errp, err);
    }
    proxy_leave_locked(proxy);
    g_mutex_unlock(&proxy->lock);
    g_cond_clear(&cond);
    if (!ok && req->reply_nfds) {
        /* A reply came before the send failed: nothing goes to the caller. */
        vfio_user_close_fds(req->reply_fds, req->reply_nfds);
        req->reply_nfds = 0;
    }
    return ok;
}

bool vfio_user_proxy_post(VFIOUserProxy *proxy, VFIOUserRequest *req,
                          GError **errp)
{
    GCond cond;
    VFIOUserHdr hdr;
    ProxyOut m;
    uint16_t id = 0;
    size_t len;
    bool ok;

    if (!proxy_begin_locked(proxy, req, &len, &id, errp)) {
        return false;
    }
    g_cond_init(&cond);
    proxy->posted_ids[id / 8] |= 1u << (id % 8);
    __atomic_store_n(&proxy->posted_seq, proxy->posted_seq + 1,
                     __ATOMIC_RELEASE);
    proxy->stats.posted++;
    vfio_user_hdr_init(&hdr, id, req->cmd, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REQUEST | VFIO_USER_F_NO_REPLY);
    vfio_user_proxy_out_init(&m, &hdr, req->iov, req->iovcnt, req->fds,
                             req->nfds);
    m.cond = &cond;
    ok = vfio_user_proxy_send_wait_locked(proxy, &m, errp);
    proxy_leave_locked(proxy);
    g_mutex_unlock(&proxy->lock);
    g_cond_clear(&cond);
    return ok;
}
