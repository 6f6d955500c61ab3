/*
 * vfio-user client connection (the "proxy"): its lifecycle, the failure
 * model and the accessors.  Connect errors and VERSION negotiation are in
 * proxy-version.c; blocking and posted requests (ids, waiting, timeouts,
 * the stall rule, the ordering fence) in proxy-call.c; the outgoing queue
 * and the replies of request handlers in proxy-send.c; the receive thread
 * (reply matching, server-to-client requests) in proxy-recv.c.  The struct
 * and what the files share are in proxy-internal.h; the API and its rules
 * in include/hw/vfio-user/proxy.h.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-proxy"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "trace-events.h"

void vfio_user_proxy_options_init(VFIOUserProxyOptions *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->msg_timeout_ms = VFIO_USER_DEF_MSG_TIMEOUT_MS;
    vfio_user_caps_init_ours(&opts->caps);
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
        return vfio_user_error_errno(proxy->fail_err);
    }
    return ECANCELED;
}

void vfio_user_proxy_finish_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w)
{
    __atomic_store_n(&w->state, WAITER_DONE, __ATOMIC_RELEASE);
    /* A GCond makes a system call per signal: only when someone sleeps. */
    if (w->sleeping) {
        w->sleeping = false;
        proxy->sleepers--;
        g_cond_signal(w->cond);
    }
}

void vfio_user_proxy_wake_rx_locked(VFIOUserProxy *proxy)
{
    uint64_t one = 1;

    if (!proxy->rx_woken && proxy->wake_fd >= 0) {
        proxy->rx_woken = true;
        if (write(proxy->wake_fd, &one, sizeof(one)) < 0) {
            trace_proxy_wake_failed(proxy->path, g_strerror(errno));
        }
    }
}

/*
 * proxy->users counts the threads inside call() and post(), and a waiter
 * is in the table only while its caller is inside call(), one per caller:
 * once as many as proxy->users are found (none when nobody calls, as at
 * close), the rest of the table is empty and is not walked.
 */
void vfio_user_proxy_wake_all_locked(VFIOUserProxy *proxy, int errnum)
{
    unsigned found = 0;

    for (size_t i = 0; i < PROXY_SLOTS && found < proxy->users; i++) {
        VFIOUserWaiter *w = proxy->slots[i];

        if (w) {
            found++;
            proxy->slots[i] = NULL;
            w->err = errnum;
            vfio_user_proxy_finish_locked(proxy, w);
        }
    }
    vfio_user_proxy_drop_queue_locked(proxy, errnum);
    vfio_user_proxy_wake_rx_locked(proxy);
}

void vfio_user_proxy_fail_locked(VFIOUserProxy *proxy, const GError *err)
{
    if (proxy->state != VFIO_PROXY_CONNECTED) {
        return;
    }
    trace_proxy_failed(proxy->path, err->message);
    __atomic_store_n(&proxy->state, VFIO_PROXY_ERROR, __ATOMIC_RELEASE);
    proxy->fail_err = g_error_copy(err);
    vfio_user_proxy_wake_all_locked(proxy, vfio_user_error_errno(err));
    proxy->tr->ops->shutdown(proxy->tr, SHUT_RDWR);
}

/* ---- Connection set-up (negotiation: proxy-version.c) ---- */

/*
 * The receive thread's wake-up.  The socket stays blocking: every receive
 * and send that must not wait says MSG_DONTWAIT, and a caller that blocks
 * in a receive is bounded by the socket's receive timeout (negotiation
 * sets it to the message timeout).
 */
static bool proxy_make_wake_fd(VFIOUserProxy *proxy, GError **errp)
{
    proxy->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (proxy->wake_fd < 0) {
        return vfio_user_error_set(errp, errno, "eventfd: %s",
                                   g_strerror(errno));
    }
    return true;
}

static bool proxy_start_thread(VFIOUserProxy *proxy, GError **errp)
{
    GError *err = NULL;

    /* The thread waits for the lock: it needs proxy->thread to know itself. */
    g_mutex_lock(&proxy->lock);
    proxy->thread = g_thread_try_new("vfio-user-rx",
                                     vfio_user_proxy_thread_main, proxy, &err);
    g_mutex_unlock(&proxy->lock);
    if (!proxy->thread) {
        vfio_user_error_set(errp, EAGAIN, "cannot start the receive thread: %s",
                            err->message);
        g_error_free(err);
        return false;
    }
    return true;
}

static VFIOUserProxy *proxy_new(VfioUserTransport *tr, char *path,
                                const VFIOUserProxyOptions *opts, bool thread,
                                GError **errp)
{
    VFIOUserProxy *proxy = g_new0(VFIOUserProxy, 1);

    proxy->tr = tr;
    proxy->sock = tr->fd;
    proxy->path = path;
    proxy->label = g_strdup(opts && opts->label ? opts->label : path);
    proxy->timeout_ms = opts && opts->msg_timeout_ms
                            ? opts->msg_timeout_ms
                            : VFIO_USER_DEF_MSG_TIMEOUT_MS;
    proxy->rx_yield_us =
        opts && opts->rx_yield_us ? opts->rx_yield_us : PROXY_RX_YIELD_US;
    if (opts) {
        proxy->ours = opts->caps;
        proxy->poll_us = opts->poll_us;
    } else {
        vfio_user_caps_init_ours(&proxy->ours);
    }
    proxy->wake_fd = -1;
    g_mutex_init(&proxy->lock);
    g_cond_init(&proxy->users_cond);
    g_cond_init(&proxy->handler_cond);
    vfio_user_proxy_send_init(proxy);
    vfio_user_proxy_recv_init(proxy);
    __atomic_store_n(&proxy->state, VFIO_PROXY_CONNECTED, __ATOMIC_RELEASE);
    proxy->next_id = 1;
    if (!vfio_user_proxy_negotiate(proxy, errp)) {
        vfio_user_proxy_destroy(proxy);
        return NULL;
    }
    proxy->max_fds = MIN(proxy->ours.max_msg_fds, VFIO_USER_MAX_FDS);
    proxy->max_msg_size = sizeof(VFIOUserHdr) + PROXY_HDR_ALLOWANCE +
                          proxy->caps.max_data_xfer_recv;
    /* The first calls read their own replies, like later ones. */
    proxy->rx_yield_until = g_get_monotonic_time() + proxy->rx_yield_us;
    if (!proxy_make_wake_fd(proxy, errp) ||
        (thread && !proxy_start_thread(proxy, errp))) {
        vfio_user_proxy_destroy(proxy);
        return NULL;
    }
    return proxy;
}

VFIOUserProxy *vfio_user_proxy_new_from_fd(int sock,
                                           const VFIOUserProxyOptions *opts,
                                           GError **errp)
{
    return proxy_new(vfio_user_transport_socket_new(sock),
                     g_strdup_printf("fd %d", sock), opts, true, errp);
}

VFIOUserProxy *vfio_user_proxy_new_inline(VfioUserTransport *tr,
                                          const VFIOUserProxyOptions *opts,
                                          GError **errp)
{
    return proxy_new(tr, g_strdup("transport"), opts, false, errp);
}

VFIOUserProxy *vfio_user_proxy_connect(const char *path,
                                       const VFIOUserProxyOptions *opts,
                                       GError **errp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    int sock, r;

    if (len == 0 || len >= sizeof(sa.sun_path)) {
        vfio_user_error_set(
            errp, ENAMETOOLONG, "socket path is %s (at most %zu bytes)",
            len ? "too long" : "empty", sizeof(sa.sun_path) - 1);
        return NULL;
    }
    memcpy(sa.sun_path, path, len + 1);
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        vfio_user_error_set(errp, errno, "cannot create a socket: %s",
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
    return proxy_new(vfio_user_transport_socket_new(sock), g_strdup(path), opts,
                     true, errp);
}

/*
 * Once this returns, the previous handler is not running and will not be
 * called again (unless we are that handler), so its owner may free what
 * @opaque points to.
 */
void vfio_user_proxy_set_request_handler(VFIOUserProxy *proxy,
                                         VFIOUserRequestHandler fn,
                                         void *opaque)
{
    g_mutex_lock(&proxy->lock);
    while (proxy->in_handler && g_thread_self() != proxy->reader) {
        proxy->handler_waiters++;
        g_cond_wait(&proxy->handler_cond, &proxy->lock);
        proxy->handler_waiters--;
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
    __atomic_store_n(&proxy->state, VFIO_PROXY_CLOSED, __ATOMIC_RELEASE);
    g_mutex_unlock(&proxy->lock);
    if (proxy->thread) {
        g_thread_unref(proxy->thread);
    }
    vfio_user_rxbuf_destroy(&proxy->rx);
    vfio_user_transport_close(proxy->tr);
    if (proxy->wake_fd >= 0) {
        close(proxy->wake_fd);
    }
    g_clear_error(&proxy->fail_err);
    vfio_user_proxy_send_destroy(proxy);
    g_cond_clear(&proxy->users_cond);
    g_cond_clear(&proxy->handler_cond);
    g_mutex_clear(&proxy->lock);
    g_free(proxy->path);
    g_free(proxy->label);
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
        g_critical("%s: closed twice", proxy->label);
        return;
    }
    __atomic_store_n(&proxy->state, VFIO_PROXY_CLOSING, __ATOMIC_RELEASE);
    vfio_user_proxy_wake_all_locked(proxy, ECANCELED);
    /* A handler on a caller's thread: that caller leaves, then we free. */
    on_thread = g_thread_self() == proxy->thread ||
                (proxy->in_handler && g_thread_self() == proxy->reader);
    proxy->free_on_thread = on_thread;
    g_mutex_unlock(&proxy->lock);
    proxy->tr->ops->shutdown(proxy->tr, SHUT_RDWR);
    if (on_thread) {
        /*
         * From a handler or the failure notify: the receive thread frees
         * on exit, once every caller (a handler's too) has left.
         */
        return;
    }
    if (proxy->thread) {
        g_thread_join(proxy->thread);
        proxy->thread = NULL;
    }
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
    /* Asked before every device access: no lock (see proxy-internal.h). */
    return __atomic_load_n(&proxy->state, __ATOMIC_ACQUIRE);
}

const char *vfio_user_proxy_path(VFIOUserProxy *proxy)
{
    return proxy->path;
}

const char *vfio_user_proxy_label(VFIOUserProxy *proxy)
{
    return proxy->label;
}

void vfio_user_proxy_get_stats(VFIOUserProxy *proxy, VFIOUserProxyStats *out)
{
    g_mutex_lock(&proxy->lock);
    *out = proxy->stats;
    g_mutex_unlock(&proxy->lock);
}
