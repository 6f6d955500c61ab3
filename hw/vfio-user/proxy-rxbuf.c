/*
 * vfio-user client: the receive buffer of a connection's reader (see
 * include/hw/vfio-user/proxy-rxbuf.h for what it keeps and why).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-proxy"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hw/vfio-user/proxy-rxbuf.h"
#include "vfio-user/error.h"
#include "trace-events.h"

/* iovec entries per direct read (the transport's receive limit). */
#define RXBUF_DIRECT_IOV 64

void vfio_user_rxbuf_init(VFIOUserRxBuf *rb, VfioUserTransport *tr)
{
    int type = 0;
    socklen_t len = sizeof(type);

    rb->tr = tr;
    rb->sock = getsockopt(tr->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
               type == SOCK_STREAM;
    rb->eof = false;
    rb->start = rb->end = 0;
    rb->pos = 0;
    rb->nsets = 0;
}

void vfio_user_rxbuf_destroy(VFIOUserRxBuf *rb)
{
    for (size_t i = 0; i < rb->nsets; i++) {
        vfio_user_close_fds(rb->sets[i].fds, rb->sets[i].n);
    }
    rb->nsets = 0;
}

/* Keep the @n fds of a receive that read [lo, hi). */
static bool rxbuf_keep_fds(VFIOUserRxBuf *rb, int *fds, size_t n,
                           bool truncated, uint64_t lo, uint64_t hi,
                           GError **errp)
{
    VFIOUserRxFds *set;

    if (truncated) {
        vfio_user_close_fds(fds, n);
        return vfio_user_error_set(errp, EPROTO,
                                   "file descriptors were truncated");
    }
    if (!n) {
        return true;
    }
    if (rb->nsets == VFIO_USER_RXBUF_SETS) {
        vfio_user_close_fds(fds, n);
        return vfio_user_error_set(
            errp, EPROTO,
            "file descriptors in more than %d pieces of one message",
            VFIO_USER_RXBUF_SETS);
    }
    set = &rb->sets[rb->nsets++];
    set->lo = lo;
    set->hi = hi;
    set->n = n;
    memcpy(set->fds, fds, n * sizeof(int));
    return true;
}

/* Record a receive of @n bytes (its fds too) at the buffer's end. */
static bool rxbuf_got(VFIOUserRxBuf *rb, size_t n, int *fds, size_t nfds,
                      bool truncated, GError **errp)
{
    uint64_t lo = rb->pos + vfio_user_rxbuf_avail(rb);

    rb->end += n;
    return rxbuf_keep_fds(rb, fds, nfds, truncated, lo, lo + n, errp);
}

static VFIOUserRxStatus rxbuf_errno(GError **errp)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return VFIO_USER_RX_NONE;
    }
    vfio_user_error_set(errp, errno, "receive failed: %s", g_strerror(errno));
    return VFIO_USER_RX_FAIL;
}

/*
 * One receive of at most @max bytes at the buffer's end.  On a socket that
 * is one recvmsg(): a single call, where a recvmmsg() of two parts would
 * let the kernel reschedule between them (and run the peer, woken by the
 * room the first part made, for nothing).
 */
static VFIOUserRxStatus rxbuf_recv(VFIOUserRxBuf *rb, size_t max, int flags,
                                   GError **errp)
{
    struct iovec iov = {.iov_base = rb->buf + rb->end, .iov_len = max};
    int fds[VFIO_USER_MAX_FDS];
    size_t nfds = 0;
    bool trunc = false;
    ssize_t n;

    do {
        n = rb->tr->ops->recv(rb->tr, &iov, 1, fds, &nfds, &trunc, flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return rxbuf_errno(errp);
    }
    if (!rxbuf_got(rb, (size_t)n, fds, nfds, trunc, errp)) {
        return VFIO_USER_RX_FAIL;
    }
    if (n == 0) {
        rb->eof = true;
        return VFIO_USER_RX_EOF;
    }
    return VFIO_USER_RX_DATA;
}

VFIOUserRxStatus vfio_user_rxbuf_fill(VFIOUserRxBuf *rb, int flags,
                                      GError **errp)
{
    size_t avail = vfio_user_rxbuf_avail(rb);
    size_t room;

    g_assert(avail < sizeof(VFIOUserHdr));
    if (rb->eof) {
        return VFIO_USER_RX_EOF;
    }
    /* What is left is part of a header: move it to the front. */
    memmove(rb->buf, rb->buf + rb->start, avail);
    rb->start = 0;
    rb->end = avail;
    /*
     * Another transport gets the rest of the header only: a receive there
     * may do more than look (the client fuzzer's feeder takes an empty one
     * for a client that waits), so nothing is read ahead.
     */
    room = rb->sock ? sizeof(rb->buf) - avail : sizeof(VFIOUserHdr) - avail;
    return rxbuf_recv(rb, room, flags, errp);
}

bool vfio_user_rxbuf_need_hdr(VFIOUserRxBuf *rb, const VfioUserWait *wait,
                              GError **errp)
{
    while (!vfio_user_rxbuf_has_hdr(rb)) {
        switch (vfio_user_rxbuf_fill(rb, wait ? MSG_DONTWAIT : 0, errp)) {
        case VFIO_USER_RX_DATA:
            break;
        case VFIO_USER_RX_NONE:
            if (!wait) {
                return vfio_user_error_set(errp, EAGAIN, "receive failed: %s",
                                           g_strerror(EAGAIN));
            }
            if (!wait->fn(rb->tr->fd, wait->opaque, errp)) {
                return false;
            }
            break;
        case VFIO_USER_RX_EOF:
            if (vfio_user_rxbuf_avail(rb) == 0) {
                return vfio_user_error_set(errp, ECONNRESET,
                                           "peer closed the connection");
            }
            return vfio_user_error_set(
                errp, EPROTO, "peer closed the connection mid-message");
        default:
            return false;
        }
    }
    return true;
}

static void rxbuf_drop_set(VFIOUserRxBuf *rb, size_t i)
{
    memmove(&rb->sets[i], &rb->sets[i + 1],
            (rb->nsets - i - 1) * sizeof(rb->sets[0]));
    rb->nsets--;
}

/*
 * Give the message at stream position @p, @size bytes long, the fds that
 * came with its header: a set whose receive overlaps the header and ends
 * within the message.  A set that ends within the message otherwise came
 * inside a body (this one's or an earlier one's).
 */
static bool rxbuf_claim_fds(VFIOUserRxBuf *rb, uint64_t p, uint64_t size,
                            int *fds, size_t *nfds, size_t max_fds,
                            GError **errp)
{
    size_t dropped = 0;
    bool ok = true;

    for (size_t i = 0; i < rb->nsets;) {
        VFIOUserRxFds *s = &rb->sets[i];

        if (s->hi > p + size) {
            i++; /* a later message's */
            continue;
        }
        if (ok && s->lo < p + sizeof(VFIOUserHdr) && s->hi > p) {
            for (size_t k = 0; k < s->n; k++) {
                if (*nfds < max_fds) {
                    fds[(*nfds)++] = s->fds[k];
                } else {
                    close(s->fds[k]);
                    dropped++;
                }
            }
        } else {
            vfio_user_close_fds(s->fds, s->n);
            if (ok) {
                ok = vfio_user_error_set(
                    errp, EPROTO, "file descriptors inside a message body");
            }
        }
        rxbuf_drop_set(rb, i);
    }
    if (dropped) {
        trace_proxy_fds_dropped(dropped);
    }
    return ok;
}

static void rxbuf_consume(VFIOUserRxBuf *rb, size_t n)
{
    rb->start += n;
    rb->pos += n;
    if (rb->start == rb->end) {
        rb->start = rb->end = 0;
    }
}

bool vfio_user_rxbuf_take_hdr(VFIOUserRxBuf *rb, VFIOUserHdr *hdr, int *fds,
                              size_t *nfds, size_t max_fds, size_t max_msg_size,
                              GError **errp)
{
    unsigned type;

    g_assert(vfio_user_rxbuf_has_hdr(rb));
    *nfds = 0;
    memcpy(hdr, rb->buf + rb->start, sizeof(*hdr));
    type = hdr->flags & VFIO_USER_F_TYPE_MASK;
    if (type > VFIO_USER_F_TYPE_REPLY) {
        return vfio_user_error_set(errp, EPROTO,
                                   "message %u (%s) has unknown type %u",
                                   hdr->id, vfio_user_cmd_name(hdr->cmd), type);
    }
    if (hdr->size < sizeof(*hdr) || hdr->size > max_msg_size) {
        return vfio_user_error_set(
            errp, EPROTO, "message %u (%s) has size %u, outside [%zu, %zu]",
            hdr->id, vfio_user_cmd_name(hdr->cmd), hdr->size, sizeof(*hdr),
            max_msg_size);
    }
    if (!rxbuf_claim_fds(rb, rb->pos, hdr->size, fds, nfds,
                         MIN(max_fds, (size_t)VFIO_USER_MAX_FDS), errp)) {
        vfio_user_close_fds(fds, *nfds);
        *nfds = 0;
        return false;
    }
    rxbuf_consume(rb, sizeof(*hdr));
    return true;
}

/* Copy up to @len buffered bytes to @dst; how many were copied. */
static size_t rxbuf_copy(VFIOUserRxBuf *rb, void *dst, size_t len)
{
    size_t n = MIN(len, vfio_user_rxbuf_avail(rb));

    if (n) {
        memcpy(dst, rb->buf + rb->start, n);
        rxbuf_consume(rb, n);
    }
    return n;
}

/* Read @vec straight from the transport (the buffer is empty). */
static bool rxbuf_direct(VFIOUserRxBuf *rb, struct iovec *vec, int n,
                         size_t len, const VfioUserWait *wait, GError **errp)
{
    if (!vfio_user_tr_recv_bodyv_wait(rb->tr, vec, n, wait, errp)) {
        return false;
    }
    rb->pos += len;
    return true;
}

bool vfio_user_rxbuf_readv(VFIOUserRxBuf *rb, const struct iovec *iov,
                           int iovcnt, size_t len, const VfioUserWait *wait,
                           GError **errp)
{
    struct iovec vec[RXBUF_DIRECT_IOV];
    size_t chunk = 0;
    int n = 0;

    for (int i = 0; i < iovcnt && len > 0; i++) {
        size_t take = MIN(iov[i].iov_len, len);
        size_t got = rxbuf_copy(rb, iov[i].iov_base, take);

        len -= take;
        if (got == take) {
            continue;
        }
        vec[n].iov_base = (uint8_t *)iov[i].iov_base + got;
        vec[n++].iov_len = take - got;
        chunk += take - got;
        if (n == RXBUF_DIRECT_IOV) {
            if (!rxbuf_direct(rb, vec, n, chunk, wait, errp)) {
                return false;
            }
            n = 0;
            chunk = 0;
        }
    }
    return n == 0 || rxbuf_direct(rb, vec, n, chunk, wait, errp);
}

bool vfio_user_rxbuf_discard(VFIOUserRxBuf *rb, size_t len,
                             const VfioUserWait *wait, GError **errp)
{
    size_t take = MIN(len, vfio_user_rxbuf_avail(rb));

    rxbuf_consume(rb, take);
    if (take == len) {
        return true;
    }
    if (!vfio_user_tr_discard_wait(rb->tr, len - take, wait, errp)) {
        return false;
    }
    rb->pos += len - take;
    return true;
}
