/*
 * vfio-user client connection (the "proxy"): its lifecycle, message ids,
 * blocking and posted requests, waiting with timeouts, the failure model
 * and the send path.  Connect errors and VERSION negotiation are in
 * proxy-version.c; reading (reply matching, server-to-client requests, the
 * reader token) and the receive thread are in proxy-recv.c; the struct and
 * what the files share are in proxy-internal.h.  The API and its rules are in
 * include/hw/vfio-user/proxy.h.
 *
 * A blocking request registers a waiter (on the caller's stack) in a fixed
 * table indexed by message id and sends.  Then, if nobody else reads the
 * socket, the caller takes the reader token and reads messages itself
 * until its reply is in (passing anything else on as the receive thread
 * would); otherwise it sleeps on the waiter's condition until its reply is
 * delivered, the token is handed to it, the timeout runs out or the
 * connection fails.  Back-to-back calls thus keep the token among callers
 * and never wake the receive thread, which takes the token back only after
 * PROXY_IDLE_WINDOW_US without a call (see proxy-recv.c).
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
#include <sys/un.h>
#include <unistd.h>

#include "proxy-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"

/* Bytes allowed beyond max_data_xfer_size for command headers and caps. */
#define PROXY_HDR_ALLOWANCE 4096
/* iovec entries per message: the transport's 64 minus our header. */
#define PROXY_MAX_IOV 63

void vfio_user_proxy_options_init(VFIOUserProxyOptions *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->msg_timeout_ms = VFIO_USER_DEF_MSG_TIMEOUT_MS;
    vfu_caps_init_ours(&opts->caps);
}

bool vfio_user_proxy_iov_total(const struct iovec *iov, int iovcnt, size_t *out)
{
    size_t n = 0;

    for (int i = 0; i < iovcnt; i++) {
        if (n + iov[i].iov_len < n) {
            return false;
        }
        n += iov[i].iov_len;
    }
    *out = n;
    return true;
}

int vfio_user_proxy_failure_errno_locked(VFIOUserProxy *proxy)
{
    if (proxy->state == VFIO_PROXY_ERROR && proxy->fail_err) {
        return vfu_error_errno(proxy->fail_err);
    }
    return ECANCELED;
}

void vfio_user_proxy_finish_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w)
{
    if (w->queued) {
        g_queue_unlink(&proxy->token_queue, &w->link);
        w->queued = false;
    }
    w->state = WAITER_DONE;
    if (proxy->reader != w) {
        /* A reader is not on its condition: it finds out by itself. */
        g_cond_signal(&w->cond);
    }
}

/*
 * Finish every PENDING waiter with @errnum at once and get the receive
 * thread to look at the state; proxy->lock held.
 */
static void proxy_wake_all_locked(VFIOUserProxy *proxy, int errnum)
{
    for (size_t i = 0; i < PROXY_SLOTS; i++) {
        VFIOUserWaiter *w = proxy->slots[i];

        if (w) {
            proxy->slots[i] = NULL;
            w->err = errnum;
            vfio_user_proxy_finish_locked(proxy, w);
        }
    }
    g_cond_broadcast(&proxy->rx_cond);
}

void vfio_user_proxy_fail_locked(VFIOUserProxy *proxy, const GError *err)
{
    if (proxy->state != VFIO_PROXY_CONNECTED) {
        return;
    }
    proxy_trace("vfio-user: %s: connection failed: %s", proxy->path,
                err->message);
    proxy->state = VFIO_PROXY_ERROR;
    proxy->fail_err = g_error_copy(err);
    proxy_wake_all_locked(proxy, vfu_error_errno(err));
    shutdown(proxy->sock, SHUT_RDWR);
}

/* Write one whole message (header + iov) under send_lock. */
static bool proxy_send_msg(VFIOUserProxy *proxy, VFIOUserHdr *hdr,
                           const struct iovec *iov, int iovcnt, const int *fds,
                           size_t nfds, GError **errp)
{
    struct iovec vec[PROXY_MAX_IOV + 1];
    GError *err = NULL;
    bool ok;

    vec[0].iov_base = hdr;
    vec[0].iov_len = sizeof(*hdr);
    if (iovcnt > 0) {
        memcpy(&vec[1], iov, sizeof(*iov) * iovcnt);
    }
    proxy_trace("vfio-user: %s: send %s id %u size %u flags 0x%x", proxy->path,
                vfu_cmd_name(hdr->cmd), hdr->id, hdr->size, hdr->flags);
    g_mutex_lock(&proxy->send_lock);
    ok = vfu_msg_sendv(proxy->sock, vec, iovcnt + 1, fds, nfds, &err);
    g_mutex_unlock(&proxy->send_lock);
    if (ok) {
        return true;
    }
    if (err->code == EPIPE || err->code == ECONNRESET) {
        err->code = ECONNRESET;
    } else if (err->code == EAGAIN || err->code == EWOULDBLOCK) {
        g_clear_error(&err);
        vfu_error_set(&err, ETIMEDOUT,
                      "the server took nothing for %u ms (stopped reading)",
                      proxy->timeout_ms);
    }
    /* EBADF/EINVAL are refused before any byte moves: the stream is fine. */
    if (err->code != EBADF && err->code != EINVAL) {
        g_mutex_lock(&proxy->lock);
        vfio_user_proxy_fail_locked(proxy, err);
        g_mutex_unlock(&proxy->lock);
    }
    vfu_error_set(errp, err->code, "vfio-user: %s: cannot send %s: %s",
                  proxy->path, vfu_cmd_name(hdr->cmd), err->message);
    g_error_free(err);
    return false;
}

/* ---- Connection set-up (negotiation: proxy-version.c) ---- */

/*
 * Bound every read and write after negotiation.  Once a message has
 * started, a server that sends nothing more for twice the message timeout
 * gets EAGAIN, reported as a stall (ETIMEDOUT), instead of blocking
 * whoever reads (and any lock a handler holds) forever; the wait for the
 * start of a message is a poll() and is not bounded by this.  A server
 * that takes no byte of what we send for a whole message timeout has
 * stopped reading: the send fails the same way, so that a vCPU posting
 * writes never hangs.
 */
static bool proxy_bound_io(VFIOUserProxy *proxy, GError **errp)
{
    uint64_t ms = 2 * (uint64_t)proxy->timeout_ms;
    struct timeval rtv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    struct timeval stv = {.tv_sec = proxy->timeout_ms / 1000,
                          .tv_usec = (proxy->timeout_ms % 1000) * 1000};
    int r;

    r = setsockopt(proxy->sock, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof(rtv));
    if (r == 0) {
        r = setsockopt(proxy->sock, SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof(stv));
    }
    if (r < 0) {
        return vfu_error_set(errp, errno,
                             "vfio-user: %s: cannot set socket timeouts: %s",
                             proxy->path, g_strerror(errno));
    }
    return true;
}

static bool proxy_start_thread(VFIOUserProxy *proxy, GError **errp)
{
    GError *err = NULL;

    proxy->thread = g_thread_try_new("vfio-user-rx",
                                     vfio_user_proxy_thread_main, proxy, &err);
    if (!proxy->thread) {
        vfu_error_set(errp, EAGAIN,
                      "vfio-user: %s: cannot start the receive thread: %s",
                      proxy->path, err->message);
        g_error_free(err);
        return false;
    }
    return true;
}

static VFIOUserProxy *proxy_new(int sock, char *path,
                                const VFIOUserProxyOptions *opts, GError **errp)
{
    VFIOUserProxy *proxy = g_new0(VFIOUserProxy, 1);

    proxy->sock = sock;
    proxy->path = path;
    proxy->timeout_ms = opts && opts->msg_timeout_ms
                            ? opts->msg_timeout_ms
                            : VFIO_USER_DEF_MSG_TIMEOUT_MS;
    if (opts) {
        proxy->ours = opts->caps;
        proxy->poll_us = opts->poll_us;
    } else {
        vfu_caps_init_ours(&proxy->ours);
    }
    g_mutex_init(&proxy->lock);
    g_mutex_init(&proxy->send_lock);
    g_cond_init(&proxy->users_cond);
    g_cond_init(&proxy->handler_cond);
    g_cond_init(&proxy->rx_cond);
    g_queue_init(&proxy->token_queue);
    proxy->state = VFIO_PROXY_CONNECTED;
    proxy->next_id = 1;
    if (!vfio_user_proxy_negotiate(proxy, errp)) {
        vfio_user_proxy_destroy(proxy);
        return NULL;
    }
    proxy->max_fds = MIN(proxy->ours.max_msg_fds, VFU_MAX_FDS);
    proxy->max_msg_size = sizeof(VFIOUserHdr) + PROXY_HDR_ALLOWANCE +
                          proxy->caps.max_data_xfer_size;
    if (!proxy_bound_io(proxy, errp) || !proxy_start_thread(proxy, errp)) {
        vfio_user_proxy_destroy(proxy);
        return NULL;
    }
    return proxy;
}

VFIOUserProxy *vfio_user_proxy_new_from_fd(int sock,
                                           const VFIOUserProxyOptions *opts,
                                           GError **errp)
{
    return proxy_new(sock, g_strdup_printf("fd %d", sock), opts, errp);
}

VFIOUserProxy *vfio_user_proxy_connect(const char *path,
                                       const VFIOUserProxyOptions *opts,
                                       GError **errp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    int sock, r;

    if (len == 0 || len >= sizeof(sa.sun_path)) {
        vfu_error_set(errp, ENAMETOOLONG,
                      "vfio-user: socket path '%s' is %s (at most %zu bytes)",
                      path, len ? "too long" : "empty",
                      sizeof(sa.sun_path) - 1);
        return NULL;
    }
    memcpy(sa.sun_path, path, len + 1);
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        vfu_error_set(errp, errno, "vfio-user: cannot create a socket: %s",
                      g_strerror(errno));
        return NULL;
    }
    do {
        r = connect(sock, (struct sockaddr *)&sa, sizeof(sa));
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;

        close(sock);
        vfio_user_proxy_connect_error(path, e, errp);
        return NULL;
    }
    return proxy_new(sock, g_strdup(path), opts, errp);
}

/*
 * Once this returns, the previous handler is not running and will not be
 * called again (unless we are that handler, on the receive thread), so its
 * owner may free what @opaque points to.
 */
void vfio_user_proxy_set_request_handler(VFIOUserProxy *proxy,
                                         VFIOUserRequestHandler fn,
                                         void *opaque)
{
    g_mutex_lock(&proxy->lock);
    while (proxy->in_handler && g_thread_self() != proxy->thread) {
        g_cond_wait(&proxy->handler_cond, &proxy->lock);
    }
    proxy->handler = fn;
    proxy->handler_opaque = opaque;
    g_mutex_unlock(&proxy->lock);
}

void vfio_user_proxy_set_failure_notify(VFIOUserProxy *proxy,
                                        VFIOUserFailureNotify fn, void *opaque)
{
    g_mutex_lock(&proxy->lock);
    proxy->notify = fn;
    proxy->notify_opaque = opaque;
    g_mutex_unlock(&proxy->lock);
}

/* ---- Shutdown ---- */

void vfio_user_proxy_destroy(VFIOUserProxy *proxy)
{
    g_mutex_lock(&proxy->lock);
    proxy->users_waited = true;
    while (proxy->users) {
        g_cond_wait(&proxy->users_cond, &proxy->lock);
    }
    proxy->state = VFIO_PROXY_CLOSED;
    g_mutex_unlock(&proxy->lock);
    if (proxy->thread) {
        g_thread_unref(proxy->thread);
    }
    close(proxy->sock);
    g_clear_error(&proxy->fail_err);
    g_cond_clear(&proxy->rx_cond);
    g_cond_clear(&proxy->users_cond);
    g_cond_clear(&proxy->handler_cond);
    g_mutex_clear(&proxy->send_lock);
    g_mutex_clear(&proxy->lock);
    g_free(proxy->path);
    g_free(proxy);
}

void vfio_user_proxy_close(VFIOUserProxy *proxy)
{
    bool on_thread;

    if (!proxy) {
        return;
    }
    g_mutex_lock(&proxy->lock);
    if (proxy->state == VFIO_PROXY_CLOSING ||
        proxy->state == VFIO_PROXY_CLOSED) {
        g_mutex_unlock(&proxy->lock);
        g_critical("vfio-user: %s: closed twice", proxy->path);
        return;
    }
    proxy->state = VFIO_PROXY_CLOSING;
    proxy_wake_all_locked(proxy, ECANCELED);
    on_thread = g_thread_self() == proxy->thread;
    proxy->free_on_thread = on_thread;
    g_mutex_unlock(&proxy->lock);
    shutdown(proxy->sock, SHUT_RDWR);
    if (on_thread) {
        /* From a handler or the failure notify: the thread frees on exit. */
        return;
    }
    g_thread_join(proxy->thread);
    proxy->thread = NULL;
    vfio_user_proxy_destroy(proxy);
}

/* ---- Accessors ---- */

const VFIOUserCaps *vfio_user_proxy_caps(VFIOUserProxy *proxy)
{
    return &proxy->caps;
}

const VFIOUserCaps *vfio_user_proxy_server_caps(VFIOUserProxy *proxy)
{
    return &proxy->server_caps;
}

VFIOProxyState vfio_user_proxy_state(VFIOUserProxy *proxy)
{
    VFIOProxyState s;

    g_mutex_lock(&proxy->lock);
    s = proxy->state;
    g_mutex_unlock(&proxy->lock);
    return s;
}

const char *vfio_user_proxy_path(VFIOUserProxy *proxy)
{
    return proxy->path;
}

void vfio_user_proxy_get_stats(VFIOUserProxy *proxy, VFIOUserProxyStats *out)
{
    g_mutex_lock(&proxy->lock);
    *out = proxy->stats;
    g_mutex_unlock(&proxy->lock);
}

/* ---- Requests from this side ---- */

/* Caller-side checks that need no lock; sets *@payload_len. */
static bool proxy_check_request(VFIOUserProxy *proxy,
                                const VFIOUserRequest *req, size_t *payload_len,
                                GError **errp)
{
    const char *name = vfu_cmd_name(req->cmd);

    if (req->iovcnt < 0 || req->iovcnt > PROXY_MAX_IOV ||
        (req->iovcnt && !req->iov) || req->reply_iovcnt < 0 ||
        (req->reply_iovcnt && !req->reply_iov) || (req->nfds && !req->fds)) {
        return vfu_error_set(errp, EINVAL,
                             "vfio-user: %s: malformed %s "
                             "request (at most %d payload pieces)",
                             proxy->path, name, PROXY_MAX_IOV);
    }
    if (req->nfds > proxy->caps.max_msg_fds) {
        return vfu_error_set(errp, E2BIG,
                             "vfio-user: %s: %s with %zu fds, "
                             "the server accepts at most %u per message",
                             proxy->path, name, req->nfds,
                             proxy->caps.max_msg_fds);
    }
    if (!vfio_user_proxy_iov_total(req->iov, req->iovcnt, payload_len) ||
        *payload_len > proxy->caps.max_data_xfer_size + PROXY_HDR_ALLOWANCE) {
        return vfu_error_set(errp, EMSGSIZE,
                             "vfio-user: %s: %s payload is "
                             "larger than the negotiated limit (%" PRIu64
                             " bytes of data)",
                             proxy->path, name, proxy->caps.max_data_xfer_size);
    }
    return true;
}

/* Count a user in (state must be CONNECTED); proxy->lock held. */
static bool proxy_enter_locked(VFIOUserProxy *proxy, uint16_t cmd,
                               GError **errp)
{
    if (proxy->state == VFIO_PROXY_CONNECTED) {
        proxy->users++;
        return true;
    }
    if (proxy->state == VFIO_PROXY_ERROR) {
        return vfu_error_set(errp, vfu_error_errno(proxy->fail_err),
                             "vfio-user: %s: cannot send %s: the connection "
                             "failed earlier: %s",
                             proxy->path, vfu_cmd_name(cmd),
                             proxy->fail_err->message);
    }
    return vfu_error_set(errp, ECANCELED,
                         "vfio-user: %s: cannot send %s: "
                         "the connection is closed",
                         proxy->path, vfu_cmd_name(cmd));
}

static void proxy_leave_locked(VFIOUserProxy *proxy)
{
    if (--proxy->users == 0 && proxy->users_waited) {
        g_cond_broadcast(&proxy->users_cond);
    }
}

/* Next id whose table slot is free; proxy->lock held. */
static bool proxy_alloc_id_locked(VFIOUserProxy *proxy, uint16_t *id,
                                  GError **errp)
{
    for (unsigned i = 0; i < PROXY_SLOTS; i++) {
        uint16_t cand = proxy->next_id++;

        if (!proxy->slots[cand % PROXY_SLOTS]) {
            *id = cand;
            return true;
        }
    }
    return vfu_error_set(errp, EAGAIN,
                         "vfio-user: %s: more than %d requests outstanding",
                         proxy->path, PROXY_SLOTS);
}

/* Explain why @w finished with an error; proxy->lock held. */
static bool proxy_waiter_error(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                               GError **errp)
{
    const char *name = vfu_cmd_name(w->cmd);
    size_t room = 0;

    if (w->timed_out) {
        return vfu_error_set(errp, ETIMEDOUT,
                             "vfio-user: %s: no reply to %s within %u ms",
                             proxy->path, name, proxy->timeout_ms);
    }
    switch (w->err) {
    case EMSGSIZE:
        vfio_user_proxy_iov_total(w->req->reply_iov, w->req->reply_iovcnt,
                                  &room);
        return vfu_error_set(errp, EMSGSIZE,
                             "vfio-user: %s: %s reply has "
                             "%zu bytes, more than the %zu expected",
                             proxy->path, name, w->reply_size, room);
    case ECANCELED:
        return vfu_error_set(errp, ECANCELED,
                             "vfio-user: %s: connection "
                             "closed while waiting for %s",
                             proxy->path, name);
    default:
        return vfu_error_set(
            errp, w->err, "vfio-user: %s: %s failed: %s", proxy->path, name,
            proxy->fail_err ? proxy->fail_err->message : g_strerror(w->err));
    }
}

/*
 * @w's time is up at *@deadline; proxy->lock held.  A claimed waiter gets
 * one more timeout period to finish; after that the server is declared
 * stalled and the connection failed, which ends the claim.
 */
static void proxy_expire_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                                gint64 *deadline, bool *grace)
{
    GError *err = NULL;

    if (w->state == WAITER_PENDING) {
        proxy->slots[w->id % PROXY_SLOTS] = NULL;
        w->err = ETIMEDOUT;
        w->timed_out = true;
        proxy->stats.timeouts++;
        vfio_user_proxy_finish_locked(proxy, w);
        proxy_trace("vfio-user: %s: %s id %u timed out", proxy->path,
                    vfu_cmd_name(w->cmd), w->id);
    } else if (w->state == WAITER_CLAIMED && !*grace) {
        *grace = true;
        *deadline += (gint64)proxy->timeout_ms * G_TIME_SPAN_MILLISECOND;
    } else if (w->state == WAITER_CLAIMED) {
        vfu_error_set(&err, ETIMEDOUT,
                      "server stalled in the middle of a %s reply",
                      vfu_cmd_name(w->cmd));
        vfio_user_proxy_fail_locked(proxy, err);
        g_error_free(err);
        while (w->state != WAITER_DONE) {
            g_cond_wait(&w->cond, &proxy->lock);
        }
    }
}

/* Spin up to poll_us until @w is finished or handed the token. */
static void proxy_spin_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w)
{
    gint64 end = g_get_monotonic_time() + proxy->poll_us;

    g_mutex_unlock(&proxy->lock);
    while (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) != WAITER_DONE &&
           __atomic_load_n(&proxy->reader, __ATOMIC_ACQUIRE) != w &&
           g_get_monotonic_time() < end) {
        /* busy wait */
    }
    g_mutex_lock(&proxy->lock);
}

/*
 * Wait until @w is DONE or its time is up; proxy->lock held.  While
 * nobody else reads the socket, read it ourselves.
 */
static bool proxy_wait_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                              GError **errp)
{
    gint64 deadline = g_get_monotonic_time() +
                      (gint64)proxy->timeout_ms * G_TIME_SPAN_MILLISECOND;
    bool grace = false, spun = !proxy->poll_us;

    if (w->state != WAITER_DONE) {
        g_queue_push_tail_link(&proxy->token_queue, &w->link);
        w->queued = true;
    }
    while (w->state != WAITER_DONE) {
        if (!proxy->reader && !proxy->rx_reading) {
            g_queue_unlink(&proxy->token_queue, &w->link);
            w->queued = false;
            proxy->reader = w;
        }
        if (proxy->reader == w) {
            if (g_get_monotonic_time() >= deadline) {
                proxy_expire_locked(proxy, w, &deadline, &grace);
            } else {
                vfio_user_proxy_read_step_locked(proxy, deadline);
            }
            continue;
        }
        if (!spun) {
            spun = true;
            proxy_spin_locked(proxy, w);
        } else if (!g_cond_wait_until(&w->cond, &proxy->lock, deadline)) {
            proxy_expire_locked(proxy, w, &deadline, &grace);
        }
    }
    if (proxy->reader == w) {
        vfio_user_proxy_pass_token_locked(proxy);
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
    VFIOUserWaiter w = {.req = req, .cmd = req->cmd, .link.data = &w};
    GError *err = NULL;
    VFIOUserHdr hdr;
    size_t len;
    bool ok;

    if (g_thread_self() == proxy->thread) {
        /* Nobody would read the reply: a handler must not block on one. */
        return vfu_error_set(errp, EDEADLK,
                             "vfio-user: %s: %s sent from the receive thread "
                             "would wait forever",
                             proxy->path, vfu_cmd_name(req->cmd));
    }
    if (!proxy_begin_locked(proxy, req, &len, &w.id, errp)) {
        return false;
    }
    g_cond_init(&w.cond);
    proxy->slots[w.id % PROXY_SLOTS] = &w;
    proxy->stats.requests++;
    g_mutex_unlock(&proxy->lock);

    vfu_hdr_init(&hdr, w.id, req->cmd, sizeof(hdr) + len,
                 VFIO_USER_F_TYPE_REQUEST);
    ok = proxy_send_msg(proxy, &hdr, req->iov, req->iovcnt, req->fds, req->nfds,
                        &err);

    g_mutex_lock(&proxy->lock);
    if (ok) {
        ok = proxy_wait_locked(proxy, &w, errp);
    } else {
        if (w.state == WAITER_PENDING) {
            proxy->slots[w.id % PROXY_SLOTS] = NULL;
        }
        while (w.state == WAITER_CLAIMED) {
            g_cond_wait(&w.cond, &proxy->lock);
        }
        g_propagate_error(errp, err);
    }
    proxy_leave_locked(proxy);
    g_mutex_unlock(&proxy->lock);
    g_cond_clear(&w.cond);
    return ok;
}

bool vfio_user_proxy_post(VFIOUserProxy *proxy, VFIOUserRequest *req,
                          GError **errp)
{
    VFIOUserHdr hdr;
    PostedEntry *p;
    uint16_t id = 0;
    size_t len;
    bool ok;

    if (!proxy_begin_locked(proxy, req, &len, &id, errp)) {
        return false;
    }
    p = &proxy->posted[proxy->posted_next++ % PROXY_POSTED_RING];
    *p = (PostedEntry){.id = id, .cmd = req->cmd, .valid = true};
    proxy->stats.posted++;
    g_mutex_unlock(&proxy->lock);

    vfu_hdr_init(&hdr, id, req->cmd, sizeof(hdr) + len,
                 VFIO_USER_F_TYPE_REQUEST | VFIO_USER_F_NO_REPLY);
    ok = proxy_send_msg(proxy, &hdr, req->iov, req->iovcnt, req->fds, req->nfds,
                        errp);
    g_mutex_lock(&proxy->lock);
    proxy_leave_locked(proxy);
    g_mutex_unlock(&proxy->lock);
    return ok;
}

/* ---- Replies from request handlers, on the receive thread ---- */

bool vfio_user_proxy_send_reply(VFIOUserProxy *proxy, const VFIOUserHdr *req,
                                const struct iovec *iov, int iovcnt,
                                GError **errp)
{
    VFIOUserHdr hdr;
    size_t len;

    if (iovcnt < 0 || iovcnt > PROXY_MAX_IOV ||
        !vfio_user_proxy_iov_total(iov, iovcnt, &len) ||
        len > UINT32_MAX - sizeof(hdr)) {
        return vfu_error_set(errp, EINVAL, "vfio-user: %s: malformed %s reply",
                             proxy->path, vfu_cmd_name(req->cmd));
    }
    vfu_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr) + len,
                 VFIO_USER_F_TYPE_REPLY);
    return proxy_send_msg(proxy, &hdr, iov, iovcnt, NULL, 0, errp);
}

bool vfio_user_proxy_send_error(VFIOUserProxy *proxy, const VFIOUserHdr *req,
                                int errnum, GError **errp)
{
    VFIOUserHdr hdr;

    vfu_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr),
                 VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR);
    hdr.error = errnum;
    return proxy_send_msg(proxy, &hdr, NULL, 0, NULL, 0, errp);
}
