/*
 * vfio-user client connection: reading the socket.  One thread at a time
 * is the reader (proxy->reader): a caller waiting for its reply, when the
 * socket is free, reads it itself (vfio_user_proxy_read_for_locked());
 * otherwise the receive thread reads.  Either does the same with every
 * message: a reply is matched to its waiter by id (claimed under
 * proxy->lock, then its payload is read straight into the caller's
 * buffers, so a waiter that timed out is never written into); a reply to
 * a request that timed out is dropped and counted as late; any other
 * reply nobody waits for is dropped (an error reply to a posted request is
 * counted as such); a server-to-client request goes to the request
 * handler, on the reader's thread, which reads its payload through
 * vfio_user_proxy_recv_payload()/_discard() and queues its reply
 * (proxy-send.c).
 *
 * Every reader reads through the connection's receive buffer
 * (include/hw/vfio-user/proxy-rxbuf.h): one receive brings a header with
 * its payload and whatever else has arrived; the rest of a large payload
 * goes straight from the socket to its destination.  Whoever takes the
 * reader role deals with what is buffered before it waits, and the
 * receive thread keeps the role while anything is.
 *
 * Who reads: the receive thread takes a free socket when a caller sleeps
 * waiting for a reply (someone must read it), when a timeout left the
 * proxy stalled (the server's next answer ends that) or when no caller
 * has begun to read for rx_yield_us; after it has handed a reply to a caller
 * and no other caller sleeps, it leaves the socket free, so that the next calls
 * read their own replies with no hand-off between threads.
 *
 * A caller that reads waits for the next message in the receive itself
 * (one recvmsg(), no poll()) when nothing else needs watching: the
 * socket's receive timeout, the message timeout, bounds it and the call's
 * deadline is checked after it returns; a failure or close wakes it by
 * shutting the socket down.  Otherwise (the queue has something nobody
 * else writes, x-poll-us spinning, the deadline is near, or another
 * transport) a reader waits in poll(): on the socket (POLLIN, and POLLOUT
 * while the queue has something nobody else is writing, which it then
 * writes as far as the socket takes it); the receive thread also on a
 * wake eventfd, and while it leaves the socket to callers on POLLOUT only
 * (and writes the queue while the reading caller blocks in its receive).
 * A message that has begun must be read whole within the message timeout
 * of its start (rx_deadline, taken when reading it first has to wait,
 * right after its first bytes came): a server that dribbles it fails the
 * connection with ETIMEDOUT, so neither the reader nor anything a handler
 * pins is held longer than that.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-proxy"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "proxy-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "trace-events.h"

/* Posted-request error replies logged as warnings; the rest are counted. */
#define PROXY_POSTED_WARNINGS 8

typedef enum StrayKind {
    STRAY_UNKNOWN,
    STRAY_LATE,
    STRAY_POSTED_ERROR,
    STRAY_POSTED_OK,
} StrayKind;

typedef enum RxWait {
    RX_READY,   /* something to read (or the peer hung up) */
    RX_STOPPED, /* the proxy failed or closes */
    RX_EXPIRED, /* the deadline passed */
    RX_ERROR,   /* poll() failed */
} RxWait;

/*
 * Is it the receive thread's turn to read?  It takes a free socket when a
 * caller sleeps, when the proxy is stalled (the server's late answer ends
 * that) or when no caller has read for a while; otherwise it lowers
 * *@until to when it should look again.  Lock held.
 */
static bool proxy_rx_turn_locked(VFIOUserProxy *proxy, gint64 now,
                                 gint64 *until)
{
    if (!proxy->reader &&
        (proxy->sleepers || proxy->stalled || now >= proxy->rx_yield_until)) {
        proxy->reader = proxy->thread;
    }
    if (proxy->reader == proxy->thread) {
        return true;
    }
    *until = MIN(*until, proxy->reader ? now + proxy->rx_yield_us
                                       : proxy->rx_yield_until);
    return false;
}

/*
 * Wait until the socket is readable (for the reader) or @deadline passes,
 * writing the outgoing queue meanwhile when nobody else does; busy-poll
 * until @spin_end.  Only the receive thread watches the wake eventfd:
 * a caller that reads is woken by the socket itself (a failure or close
 * shuts it down).  @idle: between messages, when a receive thread that
 * takes the socket first reads what is buffered.  No lock held.
 */
static RxWait proxy_rx_poll(VFIOUserProxy *proxy, gint64 deadline,
                            gint64 spin_end, bool idle)
{
    bool rx = g_thread_self() == proxy->thread;

    for (;;) {
        struct pollfd pfd[2] = {
            {.fd = proxy->sock, .events = POLLIN},
            {.fd = proxy->wake_fd, .events = POLLIN},
        };
        gint64 now = g_get_monotonic_time(), until = deadline;
        uint64_t v;
        int r, ms;

        g_mutex_lock(&proxy->lock);
        if (proxy->state != VFIO_PROXY_CONNECTED) {
            g_mutex_unlock(&proxy->lock);
            return RX_STOPPED;
        }
        if (rx && !proxy_rx_turn_locked(proxy, now, &until)) {
            pfd[0].events = 0;
        } else if (rx && idle && vfio_user_rxbuf_avail(&proxy->rx)) {
            g_mutex_unlock(&proxy->lock);
            return RX_READY;
        }
        /* A caller that polls writes the queue too: do not compete. */
        if ((!rx || !proxy->reader || proxy->reader == proxy->thread ||
             __atomic_load_n(&proxy->reader_blocks, __ATOMIC_RELAXED)) &&
            !proxy->sending && !vfio_user_proxy_drain_locked(proxy)) {
            pfd[0].events |= POLLOUT;
        }
        if (vfio_user_proxy_send_expired_locked(proxy, now)) {
            g_mutex_unlock(&proxy->lock);
            return RX_STOPPED;
        }
        if (pfd[0].events & POLLOUT) {
            until = MIN(until, vfio_user_proxy_send_deadline_locked(proxy));
        }
        g_mutex_unlock(&proxy->lock);
        if (now >= deadline) {
            return RX_EXPIRED;
        }
        if (!pfd[0].events) {
            pfd[0].fd = -1; /* not even POLLHUP: a caller reads it */
        }
        if (now < spin_end) {
            ms = 0;
        } else if (until == G_MAXINT64) {
            ms = -1;
        } else {
            ms = (int)MIN((until - now + 999) / 1000, (gint64)G_MAXINT);
        }
        r = poll(pfd, rx ? 2 : 1, ms);
        if (r < 0 && errno != EINTR) {
            return RX_ERROR;
        }
        if (r > 0 && rx && pfd[1].revents) {
            if (read(proxy->wake_fd, &v, sizeof(v)) < 0) {
                /* Nothing to read: someone else consumed it. */
            }
            g_mutex_lock(&proxy->lock);
            proxy->rx_woken = false;
            g_mutex_unlock(&proxy->lock);
        }
        if (r > 0 && (pfd[0].events & POLLIN) &&
            (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            return RX_READY;
        }
    }
}

/* The transport's wait inside a message: until the message's deadline. */
static bool proxy_rx_wait_fn(int sock, void *opaque, GError **errp)
{
    VFIOUserProxy *proxy = opaque;

    (void)sock;
    if (!proxy->rx_deadline) {
        /* The first wait inside this message: its bytes began just now. */
        proxy->rx_deadline =
            g_get_monotonic_time() +
            (gint64)proxy->timeout_ms * G_TIME_SPAN_MILLISECOND;
    }
    switch (proxy_rx_poll(proxy, proxy->rx_deadline, 0, false)) {
    case RX_READY:
        return true;
    case RX_EXPIRED:
        return vfio_user_error_set(
            errp, ETIMEDOUT,
            "server stalled: the message was not complete %u ms after it began",
            proxy->timeout_ms);
    case RX_STOPPED:
        return vfio_user_error_set(
            errp, ECANCELED,
            "the connection went down in the middle of a message");
    default:
        return vfio_user_error_set(errp, errno, "poll failed: %s",
                                   g_strerror(errno));
    }
}

/* Read @len payload bytes into the front of @iov: buffered, then direct. */
static bool proxy_recv_scatter(VFIOUserProxy *proxy, const struct iovec *iov,
                               int iovcnt, size_t len, GError **errp)
{
    return vfio_user_rxbuf_readv(&proxy->rx, iov, iovcnt, len, &proxy->rx_wait,
                                 errp);
}

/* Name the message a read error happened in. */
static void proxy_read_error(uint16_t cmd, const char *what, GError **errp)
{
    if (*errp) {
        g_prefix_error(errp, "in the middle of a %s%s%s: ",
                       cmd ? vfio_user_cmd_name(cmd) : "", cmd ? " " : "",
                       what);
    }
}

static bool proxy_discard(VFIOUserProxy *proxy, size_t len, GError **errp)
{
    return vfio_user_rxbuf_discard(&proxy->rx, len, &proxy->rx_wait, errp);
}

/* Move the claimed reply into @w's request.  Consumes @fds and payload. */
static bool proxy_fill_reply(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                             const VFIOUserHdr *hdr, int *fds, size_t nfds,
                             GError **errp)
{
    VFIOUserRequest *req = w->req;
    size_t len = hdr->size - sizeof(*hdr), room, keep;

    if (hdr->cmd != w->cmd) {
        vfio_user_close_fds(fds, nfds);
        return vfio_user_error_set(
            errp, EPROTO, "reply to %s id %u carries command %s",
            vfio_user_cmd_name(w->cmd), w->id, vfio_user_cmd_name(hdr->cmd));
    }
    if (hdr->flags & VFIO_USER_F_ERROR) {
        req->reply_errno =
            hdr->error && hdr->error < 4096 ? (int)hdr->error : EIO;
        vfio_user_close_fds(fds, nfds);
        return proxy_discard(proxy, len, errp);
    }
    if (!vfio_user_proxy_iov_total(req->reply_iov, req->reply_iovcnt, &room) ||
        len > room) {
        w->err = EMSGSIZE;
        w->reply_size = len;
        vfio_user_close_fds(fds, nfds);
        return proxy_discard(proxy, len, errp);
    }
    if (!proxy_recv_scatter(proxy, req->reply_iov, req->reply_iovcnt, len,
                            errp)) {
        vfio_user_close_fds(fds, nfds);
        return false;
    }
    req->reply_len = len;
    keep = req->reply_fds ? MIN(nfds, req->reply_max_fds) : 0;
    if (keep) {
        memcpy(req->reply_fds, fds, keep * sizeof(int));
    }
    vfio_user_close_fds(fds + keep, nfds - keep);
    req->reply_nfds = keep;
    return true;
}

/* A reply nobody waits for: late, or for a posted request?  Lock held. */
static StrayKind proxy_classify_stray_locked(VFIOUserProxy *proxy,
                                             const VFIOUserHdr *hdr)
{
    unsigned slot = hdr->id % PROXY_SLOTS;
    uint8_t bit = 1u << (hdr->id % 8);

    if (proxy->ghost[slot] && proxy->ghost_id[slot] == hdr->id) {
        proxy->ghost[slot] = false;
        proxy->nghosts--;
        proxy->stats.late_replies++;
        return STRAY_LATE;
    }
    if (proxy->posted_ids[hdr->id / 8] & bit) {
        proxy->posted_ids[hdr->id / 8] &= ~bit;
        if (hdr->flags & VFIO_USER_F_ERROR) {
            proxy->stats.posted_errors++;
            return STRAY_POSTED_ERROR;
        }
        return STRAY_POSTED_OK;
    }
    proxy->stats.unknown_replies++;
    return STRAY_UNKNOWN;
}

static bool proxy_drop_stray(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                             int *fds, size_t nfds, GError **errp)
{
    const char *name = vfio_user_cmd_name(hdr->cmd);
    uint64_t nerr;
    StrayKind kind;

    g_mutex_lock(&proxy->lock);
    kind = proxy_classify_stray_locked(proxy, hdr);
    nerr = proxy->stats.posted_errors;
    g_mutex_unlock(&proxy->lock);
    if (kind == STRAY_POSTED_ERROR && nerr <= PROXY_POSTED_WARNINGS) {
        g_warning("%s: posted %s failed: %s%s", proxy->label, name,
                  g_strerror(hdr->error ? (int)hdr->error : EIO),
                  nerr == PROXY_POSTED_WARNINGS
                      ? " (further failures are only counted)"
                      : "");
    } else if (kind == STRAY_POSTED_ERROR) {
        trace_proxy_posted_failed(proxy->path, name, hdr->id, hdr->error);
    } else if (kind == STRAY_LATE) {
        trace_proxy_late_reply(proxy->path, name, hdr->id);
    } else if (kind == STRAY_POSTED_OK) {
        trace_proxy_posted_reply(proxy->path, name, hdr->id);
    } else {
        trace_proxy_unknown_reply(proxy->path, name, hdr->id, hdr->size, nfds);
    }
    vfio_user_close_fds(fds, nfds);
    return proxy_discard(proxy, hdr->size - sizeof(*hdr), errp);
}

/* @w's reply is filled in (@ok) or not: finish @w; lock held. */
static void proxy_reply_done_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                                    const VFIOUserHdr *hdr, bool ok,
                                    GError **errp)
{
    if (ok) {
        proxy->stats.replies++;
        if (hdr->flags & VFIO_USER_F_ERROR) {
            proxy->stats.error_replies++;
        }
        if (w->fence > proxy->acked_seq) {
            __atomic_store_n(&proxy->acked_seq, w->fence, __ATOMIC_RELEASE);
        }
    } else {
        proxy_read_error(hdr->cmd, "reply", errp);
        vfio_user_proxy_fail_locked(proxy, *errp);
        w->err = vfio_user_proxy_failure_errno_locked(proxy);
    }
    vfio_user_proxy_finish_locked(proxy, w);
    if (proxy->reader == proxy->thread && !proxy->sleepers &&
        !vfio_user_rxbuf_avail(&proxy->rx)) {
        /* Calls are being made: let the next ones read their replies. */
        proxy->reader = NULL;
        proxy->rx_yield_until = g_get_monotonic_time() + proxy->rx_yield_us;
    }
}

static bool proxy_handle_reply(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                               int *fds, size_t nfds, GError **errp)
{
    size_t len = hdr->size - sizeof(*hdr);
    VFIOUserWaiter *w;
    bool ok;

    g_mutex_lock(&proxy->lock);
    /* The server answers again: requests are worth sending again. */
    proxy->stalled = false;
    w = proxy->slots[hdr->id % PROXY_SLOTS];
    if (w && w->id == hdr->id && w->state == WAITER_PENDING) {
        proxy->slots[hdr->id % PROXY_SLOTS] = NULL;
        w->state = WAITER_CLAIMED;
    } else {
        w = NULL;
    }
    if (w && !nfds && vfio_user_rxbuf_avail(&proxy->rx) >= len) {
        /* Buffered whole: copying it in takes no system call. */
        ok = proxy_fill_reply(proxy, w, hdr, fds, nfds, errp);
        proxy_reply_done_locked(proxy, w, hdr, ok, errp);
        g_mutex_unlock(&proxy->lock);
        return ok;
    }
    g_mutex_unlock(&proxy->lock);
    if (!w) {
        ok = proxy_drop_stray(proxy, hdr, fds, nfds, errp);
        if (!ok) {
            proxy_read_error(hdr->cmd, "reply", errp);
        }
        return ok;
    }

    ok = proxy_fill_reply(proxy, w, hdr, fds, nfds, errp);
    g_mutex_lock(&proxy->lock);
    proxy_reply_done_locked(proxy, w, hdr, ok, errp);
    g_mutex_unlock(&proxy->lock);
    return ok;
}

/*
 * Read @len bytes of the current server request's payload into @iov, or
 * drop them when @iov is NULL, within the message's deadline.  A failure
 * fails the connection right here, so the proxy is in ERROR whatever the
 * handler then makes of it.
 */
static bool proxy_req_read(VFIOUserProxy *proxy, const struct iovec *iov,
                           int iovcnt, size_t len, GError **errp)
{
    GError *err = NULL;
    bool ok = iov ? proxy_recv_scatter(proxy, iov, iovcnt, len, &err)
                  : proxy_discard(proxy, len, &err);

    if (ok) {
        proxy->req_remaining -= len;
        return true;
    }
    proxy_read_error(proxy->req_cmd, "request", &err);
    g_mutex_lock(&proxy->lock);
    vfio_user_proxy_fail_locked(proxy, err);
    g_mutex_unlock(&proxy->lock);
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
        trace_proxy_no_handler(proxy->path, vfio_user_cmd_name(hdr->cmd),
                               hdr->id);
        vfio_user_close_fds(fds, nfds);
        if (!proxy_req_read(proxy, NULL, 0, proxy->req_remaining, errp)) {
            return false;
        }
        return (hdr->flags & VFIO_USER_F_NO_REPLY) ||
               vfio_user_proxy_send_error(proxy, hdr, ENOSYS, errp);
    }
    ok = fn(proxy, hdr, fds, nfds, opaque, errp);
    g_mutex_lock(&proxy->lock);
    proxy->in_handler = false;
    if (proxy->handler_waiters) {
        g_cond_broadcast(&proxy->handler_cond);
    }
    g_mutex_unlock(&proxy->lock);
    if (!ok && !*errp) {
        vfio_user_error_set(errp, EPROTO, "handler refused server request %s",
                            vfio_user_cmd_name(hdr->cmd));
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
        trace_proxy_handler_unread(proxy->path, proxy->req_remaining,
                                   vfio_user_cmd_name(hdr->cmd));
        if (!proxy_req_read(proxy, NULL, 0, proxy->req_remaining, errp)) {
            return false;
        }
    }
    return true;
}

/*
 * Read and dispatch one message.  Its deadline is set when reading it
 * first has to wait (proxy_rx_wait_fn()): a message that is buffered
 * whole, the common case, costs no clock read.
 */
static bool proxy_recv_one(VFIOUserProxy *proxy, GError **errp)
{
    int fds[VFIO_USER_MAX_FDS];
    VFIOUserHdr hdr;
    size_t nfds = 0;

    proxy->rx_deadline = 0;
    if (!vfio_user_rxbuf_need_hdr(&proxy->rx, &proxy->rx_wait, errp) ||
        !vfio_user_rxbuf_take_hdr(&proxy->rx, &hdr, fds, &nfds, proxy->max_fds,
                                  proxy->max_msg_size, errp)) {
        proxy_read_error(0, "message header", errp);
        return false;
    }
    trace_proxy_recv(proxy->path, vfio_user_cmd_name(hdr.cmd), hdr.id, hdr.size,
                     hdr.flags, nfds);
    if (vfio_user_hdr_is_reply(&hdr)) {
        return proxy_handle_reply(proxy, &hdr, fds, nfds, errp);
    }
    return proxy_handle_request(proxy, &hdr, fds, nfds, errp);
}

/*
 * Read until the proxy stops (true) or reading fails (false, @errp set).
 */
static bool proxy_rx_loop(VFIOUserProxy *proxy, GError **errp)
{
    for (;;) {
        switch (proxy_rx_poll(proxy, G_MAXINT64, 0, true)) {
        case RX_READY:
            break;
        case RX_STOPPED:
            return true;
        default:
            return vfio_user_error_set(errp, errno, "poll failed: %s",
                                       g_strerror(errno));
        }
        if (!proxy_recv_one(proxy, errp)) {
            return false;
        }
    }
}

void vfio_user_proxy_recv_init(VFIOUserProxy *proxy)
{
    vfio_user_rxbuf_init(&proxy->rx, proxy->tr);
    proxy->rx_wait.fn = proxy_rx_wait_fn;
    proxy->rx_wait.opaque = proxy;
}

gpointer vfio_user_proxy_thread_main(gpointer opaque)
{
    VFIOUserProxy *proxy = opaque;
    VFIOUserFailureNotify notify = NULL;
    void *notify_opaque = NULL;
    GError *err = NULL;
    bool self_free;

    g_mutex_lock(&proxy->lock); /* until proxy->thread is set */
    g_mutex_unlock(&proxy->lock);
    if (proxy_rx_loop(proxy, &err)) {
        /* Someone else saw the failure, or the proxy is closing. */
        vfio_user_error_set(&err, ECANCELED, "the connection is no longer up");
    } else if (!err) {
        vfio_user_error_set(&err, EPROTO, "receive failed without a reason");
    }
    g_mutex_lock(&proxy->lock);
    vfio_user_proxy_fail_locked(proxy, err);
    /* Also when a caller saw the failure and close() followed at once. */
    if (proxy->fail_err && !proxy->notified) {
        proxy->notified = true;
        notify = proxy->notify;
        notify_opaque = proxy->notify_opaque;
    }
    g_mutex_unlock(&proxy->lock);
    trace_proxy_thread_stop(proxy->path, err->message);
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

/*
 * May a caller that reads block in the receive itself?  When the socket
 * has its receive timeout, no spinning is asked for, that timeout would
 * end less than a sixteenth of it after @deadline and the queue needs no
 * writing by us (empty, or another thread sends).  Lock held.
 */
static bool proxy_may_block_locked(VFIOUserProxy *proxy, gint64 now,
                                   gint64 deadline, gint64 spin_end)
{
    gint64 timeout = (gint64)proxy->timeout_ms * G_TIME_SPAN_MILLISECOND;

    return proxy->rx_block && now >= spin_end &&
           now + timeout <= deadline + timeout / 16 &&
           (proxy->sending || vfio_user_proxy_drain_locked(proxy));
}

/*
 * A caller that reads, between messages: wait until something is
 * buffered (or the peer hung up), @deadline passes or the proxy stops.
 * When it may, it blocks in the receive itself, one system call; the
 * monotonic deadline is checked after it returns.  Otherwise, poll() as
 * the receive thread does.  @now: the time, or 0 to read the clock.
 * Lock held on entry, not on return (the reader goes on to read what
 * came without it).  RX_ERROR sets @errp.
 */
static RxWait proxy_rx_wait_reply_locked(VFIOUserProxy *proxy, gint64 now,
                                         gint64 deadline, gint64 spin_end,
                                         GError **errp)
{
    for (;;) {
        VFIOUserRxStatus st;
        RxWait r;

        if (proxy->state != VFIO_PROXY_CONNECTED) {
            g_mutex_unlock(&proxy->lock);
            return RX_STOPPED;
        }
        now = now ? now : g_get_monotonic_time();
        if (!proxy_may_block_locked(proxy, now, deadline, spin_end)) {
            g_mutex_unlock(&proxy->lock);
            r = proxy_rx_poll(proxy, deadline, spin_end, true);
            if (r == RX_ERROR) {
                vfio_user_error_set(errp, errno, "poll failed: %s",
                                    g_strerror(errno));
            }
            return r;
        }
        /* Read by the receive thread under the lock, cleared without it. */
        __atomic_store_n(&proxy->reader_blocks, true, __ATOMIC_RELAXED);
        g_mutex_unlock(&proxy->lock);
        st = vfio_user_rxbuf_fill(&proxy->rx, 0, errp);
        __atomic_store_n(&proxy->reader_blocks, false, __ATOMIC_RELAXED);
        if (st == VFIO_USER_RX_DATA || st == VFIO_USER_RX_EOF) {
            return RX_READY; /* at end of stream, reading says so */
        }
        if (st == VFIO_USER_RX_FAIL) {
            return RX_ERROR;
        }
        now = g_get_monotonic_time();
        if (now >= deadline) {
            return RX_EXPIRED;
        }
        g_mutex_lock(&proxy->lock);
    }
}

/*
 * The caller that took the reader role at @start leaves it.  The receive
 * thread reads on when others wait for replies or something is buffered;
 * it writes what is left in the queue.  Otherwise it leaves the socket to
 * callers until rx_yield_us after @start (a clock read saved per call: a
 * call that read for longer than that hands the socket back at once).
 * Lock held.
 */
static void proxy_leave_reader_locked(VFIOUserProxy *proxy, gint64 start)
{
    proxy->reader = NULL;
    proxy->rx_yield_until = start + proxy->rx_yield_us;
    if (!g_queue_is_empty(&proxy->outq)) {
        vfio_user_proxy_wake_rx_locked(proxy); /* it writes the rest */
    }
    if (proxy->sleepers || vfio_user_rxbuf_avail(&proxy->rx)) {
        proxy->rx_yield_until = 0;
        vfio_user_proxy_wake_rx_locked(proxy);
    }
}

void vfio_user_proxy_read_for_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                                     gint64 now, gint64 deadline,
                                     gint64 spin_end)
{
    gint64 start = now ? now : g_get_monotonic_time();
    GError *err = NULL;

    now = start;
    proxy->reader = w->self;
    proxy->stats.own_reads++;
    while (w->state != WAITER_DONE && proxy->state == VFIO_PROXY_CONNECTED) {
        RxWait r = RX_READY;
        bool ok = true;

        if (vfio_user_rxbuf_avail(&proxy->rx)) {
            g_mutex_unlock(&proxy->lock);
        } else {
            r = proxy_rx_wait_reply_locked(proxy, now, deadline, spin_end,
                                           &err);
        }
        now = 0; /* later rounds read the clock */
        if (r == RX_READY) {
            ok = proxy_recv_one(proxy, &err);
        } else if (r == RX_ERROR) {
            ok = false;
        }
        g_mutex_lock(&proxy->lock);
        if (!ok) {
            /* As the receive thread would: everyone learns at once. */
            vfio_user_proxy_fail_locked(proxy, err);
            g_clear_error(&err);
        }
        if (r != RX_READY) {
            break;
        }
    }
    proxy_leave_reader_locked(proxy, start);
}

bool vfio_user_proxy_pump(VFIOUserProxy *proxy, GError **errp)
{
    VFIOUserFailureNotify notify = NULL;
    void *notify_opaque = NULL;
    GError *err = NULL;

    bool ok;

    g_assert(!proxy->thread);
    g_mutex_lock(&proxy->lock);
    if (proxy->state != VFIO_PROXY_CONNECTED || proxy->reader) {
        g_mutex_unlock(&proxy->lock);
        return vfio_user_error_set(errp, ECANCELED, "the connection is down");
    }
    proxy->reader = g_thread_self();
    g_mutex_unlock(&proxy->lock);
    ok = proxy_recv_one(proxy, &err);
    g_mutex_lock(&proxy->lock);
    proxy->reader = NULL;
    if (ok) {
        g_mutex_unlock(&proxy->lock);
        return true;
    }
    vfio_user_proxy_fail_locked(proxy, err);
    if (proxy->state == VFIO_PROXY_ERROR && !proxy->notified) {
        proxy->notified = true;
        notify = proxy->notify;
        notify_opaque = proxy->notify_opaque;
    }
    g_mutex_unlock(&proxy->lock);
    if (notify) {
        notify(proxy, proxy->fail_err, notify_opaque);
    }
    g_propagate_error(errp, err);
    return false;
}

/* ---- For request handlers, on the reader's thread ---- */

bool vfio_user_proxy_recv_payload(VFIOUserProxy *proxy, struct iovec *iov,
                                  int iovcnt, GError **errp)
{
    size_t len;

    if (!vfio_user_proxy_iov_total(iov, iovcnt, &len) ||
        len > proxy->req_remaining) {
        return vfio_user_error_set(errp, EPROTO,
                                   "request payload has only %zu bytes left",
                                   proxy->req_remaining);
    }
    return proxy_req_read(proxy, iov, iovcnt, len, errp);
}

bool vfio_user_proxy_discard(VFIOUserProxy *proxy, size_t len, GError **errp)
{
    if (len > proxy->req_remaining) {
        return vfio_user_error_set(errp, EPROTO,
                                   "request payload has only %zu bytes left",
                                   proxy->req_remaining);
    }
    return proxy_req_read(proxy, NULL, 0, len, errp);
}
