/*
 * libvfio-user-server buffered receive.  Whoever reads the connection (the
 * serving loop, or a caller waiting for the reply to a DMA request) reads
 * through one per-connection buffer, so that one recvmsg() takes a header
 * with its payload, and a run of posted writes is taken in one call.
 *
 * File descriptors stay with their message.  The kernel attaches an
 * SCM_RIGHTS set to the first byte a sender wrote with it, and a recvmsg()
 * that returns one ends with the end of that sender's write: bytes of
 * earlier messages may come in front of it, never bytes of a later one.
 * So the fds of one recvmsg() belong to the last message whose header
 * starts in the bytes that call returned; fds received where no header
 * starts are fds inside a message body, a protocol error (as in
 * util/transport.c).  Each set is kept with the stream positions it came
 * with until its message's header is parsed.
 *
 * A payload that goes elsewhere (a DMA_READ reply's data, straight into the
 * device's buffer) is copied out of the buffer for what was read ahead and
 * received directly for the rest; callers that expect such a payload ask
 * for little read-ahead (vus_rx_hdr()'s @ahead).
 *
 * All of it runs with VusServer.lock held, except the serving loop's
 * blocking read (server.c), which runs when no other thread can read the
 * connection.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "internal.h"
#include "trace-events.h"

size_t vus_rx_avail(VusServer *srv)
{
    return srv->rx.end - srv->rx.start;
}

void vus_rx_pin(VusServer *srv, bool pin)
{
    VusRx *rx = &srv->rx;

    rx->pinned = pin ? rx->buf : NULL;
    if (!pin && rx->start == rx->end) {
        rx->start = rx->end = 0;
    }
}

void vus_rx_set_timeout(VusServer *srv, bool on)
{
    unsigned ms = on ? srv->opts.dma_timeout_ms : 0;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    if (!srv->rcv_timeout || srv->rcv_timeout_on == on) {
        return;
    }
    if (setsockopt(srv->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
        trace_server_sockopt_failed(g_strerror(errno));
    }
    srv->rcv_timeout_on = on;
}

void vus_rx_reset(VusServer *srv)
{
    VusRx *rx = &srv->rx;

    for (size_t i = 0; i < rx->nsets; i++) {
        vfio_user_close_fds(rx->sets[i].fds, rx->sets[i].n);
    }
    rx->nsets = 0;
    g_clear_pointer(&rx->buf, g_free);
    g_clear_pointer(&rx->spare, g_free);
    rx->pinned = NULL;
    rx->cap = rx->spare_cap = rx->start = rx->end = 0;
    rx->pos = 0;
}

/*
 * Make room for @need unread bytes from rx->start on.  While the buffer is
 * pinned (a handler runs with its request's payload in it) nothing in it
 * moves: the unread bytes go to the spare buffer, which takes the
 * buffer's place; the pinned one becomes the spare once the handler is
 * done.  The two buffers are kept for the connection, so that a handler
 * that reads on (message-mode DMA) allocates nothing after the first time.
 */
static void rx_reserve(VusRx *rx, size_t need)
{
    size_t avail = rx->end - rx->start;

    /* Empty: start over at the beginning, unless a handler's bytes stay. */
    if (!avail && rx->pinned != rx->buf) {
        rx->start = rx->end = 0;
    }

    if (rx->pinned && rx->pinned == rx->buf && rx->cap - rx->start < need) {
        uint8_t *old = rx->buf;
        size_t old_cap = rx->cap;

        if (rx->spare_cap < MAX(need, rx->cap)) {
            g_free(rx->spare);
            rx->spare_cap = MAX(need, rx->cap);
            rx->spare = g_malloc(rx->spare_cap);
        }
        memcpy(rx->spare, rx->buf + rx->start, avail);
        rx->buf = rx->spare;
        rx->cap = rx->spare_cap;
        rx->spare = old;
        rx->spare_cap = old_cap;
        rx->start = 0;
        rx->end = avail;
        return;
    }
    if (rx->start && rx->cap - rx->start < need) {
        memmove(rx->buf, rx->buf + rx->start, avail);
        rx->start = 0;
        rx->end = avail;
    }
    if (rx->cap < need) {
        rx->buf = g_realloc(rx->buf, need);
        rx->cap = need;
    }
}

/*
 * Consumed bytes stay where they are until the next fill (rx_reserve()):
 * the payload a handler is given must survive the pin that follows.
 */
static void rx_consume(VusRx *rx, size_t n)
{
    rx->start += n;
    rx->pos += n;
}

/* Keep the @n fds of one receive that returned [lo, hi). */
static bool rx_keep_fds(VusRx *rx, const int *fds, size_t n, bool truncated,
                        uint64_t lo, uint64_t hi, GError **errp)
{
    VusRxFdSet *set = NULL;
    bool ok = !truncated;

    for (size_t i = 0; i < n; i++) {
        if (ok && !set && rx->nsets < VUS_RX_FDSETS) {
            set = &rx->sets[rx->nsets++];
            *set = (VusRxFdSet){.lo = lo, .hi = hi};
        }
        if (ok && set && set->n < VFIO_USER_MAX_FDS) {
            set->fds[set->n++] = fds[i];
        } else {
            close(fds[i]);
            ok = false;
        }
    }
    if (!ok) {
        return vfio_user_error_set(errp, EPROTO,
                                   "file descriptors were truncated");
    }
    return true;
}

/*
 * One recvmsg() into the buffer, of at most @max bytes.  Returns the byte
 * count, 0 at end of stream, -1 when nothing came (MSG_DONTWAIT, or the
 * socket's receive timeout), -2 on error (@errp set).
 */
ssize_t vus_rx_fill(VusServer *srv, size_t max, int flags, GError **errp)
{
    int fds[VFIO_USER_MAX_FDS];
    VusRx *rx = &srv->rx;
    struct iovec iov;
    size_t nfds = 0, need;
    bool trunc = false;
    uint64_t lo;
    ssize_t n;

    /*
     * Room for the largest message, so that the buffer is allocated once;
     * more only when a read-ahead follows part of a message.  While a
     * handler's request is pinned in it, room for this receive only: the
     * rest of the buffer is free, and a larger need later moves what is
     * unread to the spare buffer.
     */
    need = vus_rx_avail(srv) + max;
    rx_reserve(rx, rx->pinned == rx->buf
                       ? need
                       : MAX(vus_server_max_msg_size(srv), need));
    iov.iov_base = rx->buf + rx->end;
    iov.iov_len = MIN(max, rx->cap - rx->end);
    do {
        n = srv->tr->ops->recv(srv->tr, &iov, 1, fds, &nfds, &trunc, flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return -1;
        }
        vfio_user_error_set(errp, errno, "receive failed: %s",
                            g_strerror(errno));
        return -2;
    }
    lo = rx->pos + vus_rx_avail(srv);
    if (!rx_keep_fds(rx, fds, nfds, trunc, lo, lo + (uint64_t)n, errp)) {
        return -2;
    }
    rx->end += (size_t)n;
    return n;
}

/* Fill until @want bytes are buffered; reads ask for up to @ahead. */
static bool rx_want(VusServer *srv, size_t want, size_t ahead, bool mid,
                    GError **errp)
{
    while (vus_rx_avail(srv) < want) {
        size_t max = MAX(want, ahead) - vus_rx_avail(srv);
        ssize_t n;

        vus_rx_set_timeout(srv, true);
        n = vus_rx_fill(srv, max, 0, errp);

        if (n == -2) {
            return false;
        }
        if (n < 0) {
            return vfio_user_error_set(errp, EAGAIN, "receive failed: %s",
                                       g_strerror(EAGAIN));
        }
        if (n == 0) {
            if (!mid && vus_rx_avail(srv) == 0) {
                return vfio_user_error_set(errp, ECONNRESET,
                                           "peer closed the connection");
            }
            return vfio_user_error_set(
                errp, EPROTO, "peer closed the connection mid-message");
        }
    }
    return true;
}

/* The checks vfio_user_msg_recv_hdr() makes on a header. */
static bool check_hdr(VusServer *srv, const VFIOUserHdr *hdr, GError **errp)
{
    unsigned type = hdr->flags & VFIO_USER_F_TYPE_MASK;
    size_t max = vus_server_max_msg_size(srv);

    if (type > VFIO_USER_F_TYPE_REPLY) {
        return vfio_user_error_set(errp, EPROTO,
                                   "message %u (%s) has unknown type %u",
                                   hdr->id, vfio_user_cmd_name(hdr->cmd), type);
    }
    if (hdr->size < sizeof(*hdr) || hdr->size > max) {
        return vfio_user_error_set(
            errp, EPROTO, "message %u (%s) has size %u, outside [%zu, %zu]",
            hdr->id, vfio_user_cmd_name(hdr->cmd), hdr->size, sizeof(*hdr),
            max);
    }
    return true;
}

static void rx_drop_set(VusRx *rx, size_t i)
{
    memmove(&rx->sets[i], &rx->sets[i + 1],
            (rx->nsets - i - 1) * sizeof(rx->sets[0]));
    rx->nsets--;
}

/*
 * Give the message at stream position @p, @size bytes long, the fd set it
 * is the last header of, if any.  A set that no header can claim any more
 * is an error.
 */
static bool rx_claim_fds(VusRx *rx, uint64_t p, uint64_t size, int *fds,
                         size_t *nfds, GError **errp)
{
    *nfds = 0;
    for (size_t i = 0; i < rx->nsets;) {
        VusRxFdSet *s = &rx->sets[i];

        if (s->lo <= p && p < s->hi && p + size >= s->hi) {
            memcpy(fds, s->fds, s->n * sizeof(int));
            *nfds = s->n;
            rx_drop_set(rx, i);
        } else if (s->hi <= p || (s->lo > p && s->hi <= p + size)) {
            return vfio_user_error_set(
                errp, EPROTO, "file descriptors inside a message body");
        } else {
            i++;
        }
    }
    return true;
}

/* Fds that came where no header starts any more: inside a body. */
static bool rx_check_orphans(VusRx *rx, GError **errp)
{
    for (size_t i = 0; i < rx->nsets; i++) {
        if (rx->sets[i].hi <= rx->pos) {
            return vfio_user_error_set(
                errp, EPROTO, "file descriptors inside a message body");
        }
    }
    return true;
}

VfioUserRecvResult vus_rx_hdr(VusServer *srv, VFIOUserHdr *hdr, int *fds,
                              size_t *nfds, size_t ahead, GError **errp)
{
    VusRx *rx = &srv->rx;

    *nfds = 0;
    if (vus_rx_avail(srv) == 0) {
        ssize_t n =
            vus_rx_fill(srv, MAX(ahead, sizeof(*hdr)), MSG_DONTWAIT, errp);

        if (n == -1) {
            return VFIO_USER_RECV_NONE;
        }
        if (n == -2) {
            return VFIO_USER_RECV_ERROR;
        }
        if (n == 0) {
            vfio_user_error_set(errp, ECONNRESET, "peer closed the connection");
            return VFIO_USER_RECV_ERROR;
        }
    }
    /* The rest of a header that has started is waited for (timeout). */
    if (!rx_want(srv, sizeof(*hdr), ahead, true, errp)) {
        return VFIO_USER_RECV_ERROR;
    }
    memcpy(hdr, rx->buf + rx->start, sizeof(*hdr));
    if (!check_hdr(srv, hdr, errp) ||
        !rx_claim_fds(rx, rx->pos, hdr->size, fds, nfds, errp)) {
        vfio_user_close_fds(fds, *nfds);
        *nfds = 0;
        return VFIO_USER_RECV_ERROR;
    }
    rx_consume(rx, sizeof(*hdr));
    return VFIO_USER_RECV_OK;
}

bool vus_rx_has_msg(VusServer *srv)
{
    VusRx *rx = &srv->rx;
    VFIOUserHdr hdr;

    if (vus_rx_avail(srv) < sizeof(hdr)) {
        return false;
    }
    memcpy(&hdr, rx->buf + rx->start, sizeof(hdr));
    /* A header the checks will refuse counts as whole: it is an error. */
    return hdr.size <= vus_rx_avail(srv) || hdr.size < sizeof(hdr) ||
           hdr.size > vus_server_max_msg_size(srv);
}

bool vus_rx_payload(VusServer *srv, size_t len, size_t ahead, uint8_t **p,
                    GError **errp)
{
    VusRx *rx = &srv->rx;

    if (!rx_want(srv, len, ahead, true, errp)) {
        return false;
    }
    *p = rx->buf + rx->start;
    rx_consume(rx, len);
    return rx_check_orphans(rx, errp);
}

bool vus_rx_bodyv(VusServer *srv, const struct iovec *iov_in, int iovcnt,
                  GError **errp)
{
    struct iovec iov[4];
    VusRx *rx = &srv->rx;
    size_t left = 0;
    int n = 0;

    g_assert(iovcnt <= (int)G_N_ELEMENTS(iov));
    for (int i = 0; i < iovcnt; i++) {
        size_t take = MIN(vus_rx_avail(srv), iov_in[i].iov_len);

        memcpy(iov_in[i].iov_base, rx->buf + rx->start, take);
        rx_consume(rx, take);
        if (take < iov_in[i].iov_len) {
            iov[n].iov_base = (uint8_t *)iov_in[i].iov_base + take;
            iov[n++].iov_len = iov_in[i].iov_len - take;
            left += iov_in[i].iov_len - take;
        }
    }
    rx->pos += left;
    if (left) {
        vus_rx_set_timeout(srv, true);
    }
    return (left == 0 ||
            vfio_user_tr_recv_bodyv_wait(srv->tr, iov, n, NULL, errp)) &&
           rx_check_orphans(rx, errp);
}

bool vus_rx_discard(VusServer *srv, size_t len, GError **errp)
{
    size_t take = MIN(vus_rx_avail(srv), len);

    rx_consume(&srv->rx, take);
    srv->rx.pos += len - take;
    if (len > take) {
        vus_rx_set_timeout(srv, true);
    }
    return vfio_user_tr_discard_wait(srv->tr, len - take, NULL, errp) &&
           rx_check_orphans(&srv->rx, errp);
}
