/*
 * In-memory transport: two connected ends in one process, for tests and
 * fuzzers.  Each direction is a queue of sends (bytes plus duplicates of
 * the fds sent with them) under one lock shared by both ends.
 *
 * It keeps an AF_UNIX stream socket's semantics where the protocol code
 * depends on them: no message boundaries (a receive takes bytes across
 * sends), a send's fds come with the receive that takes its first byte,
 * and that receive ends with the end of that send.  Unlike a socket it is
 * unbounded: a send never waits and never sends less than asked.
 *
 * Each end's fd is an eventfd kept readable while the end has bytes to
 * receive or has reached end of stream, so that code which poll()s the
 * transport's fd works unchanged.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "vfio-user/error.h"
#include "vfio-user/transport.h"

/* One send, as queued for the receiving end. */
typedef struct MemSeg {
    size_t len, off; /* off: bytes already received */
    int fds[VFIO_USER_MAX_FDS];
    size_t nfds; /* handed out with the first byte */
    uint8_t data[];
} MemSeg;

typedef struct MemShared MemShared;

typedef struct MemEnd {
    VfioUserTransport base; /* base.fd: the eventfd */
    MemShared *sh;
    GQueue rxq;     /* MemSeg *: what this end receives */
    bool rx_eof;    /* the peer closed or shut down writing, or SHUT_RD */
    bool closed;    /* this end's close op ran */
    bool signalled; /* the eventfd counter is non-zero */
} MemEnd;

struct MemShared {
    GMutex lock;
    GCond cond; /* broadcast when any end's receive side changes */
    MemEnd ends[2];
};

static MemEnd *mem_peer(MemEnd *e)
{
    return &e->sh->ends[e == &e->sh->ends[0] ? 1 : 0];
}

/* Keep @e's eventfd readable iff a receive would not wait; lock held. */
static void mem_update_locked(MemEnd *e)
{
    bool ready = e->rx_eof || !g_queue_is_empty(&e->rxq);
    uint64_t v = 1;

    if (e->closed || ready == e->signalled) {
        return;
    }
    if (ready ? write(e->base.fd, &v, sizeof(v)) == sizeof(v)
              : read(e->base.fd, &v, sizeof(v)) == sizeof(v)) {
        e->signalled = ready;
    }
}

static void mem_seg_free(gpointer p)
{
    MemSeg *s = p;

    vfio_user_close_fds(s->fds, s->nfds);
    g_free(s);
}

static void mem_drop_queue(MemEnd *e)
{
    g_queue_clear_full(&e->rxq, mem_seg_free);
}

static ssize_t mem_send(VfioUserTransport *t, const struct iovec *iov,
                        int iovcnt, const int *fds, size_t nfds, int flags)
{
    MemEnd *e = (MemEnd *)t, *peer = mem_peer(e);
    size_t len = 0, off = 0;
    MemSeg *s;

    (void)flags; /* never full: MSG_DONTWAIT changes nothing */
    for (int i = 0; i < iovcnt; i++) {
        len += iov[i].iov_len;
    }
    if (nfds > VFIO_USER_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (len == 0) {
        return 0; /* as on a stream socket: no byte, so no fds either */
    }
    s = g_malloc(sizeof(*s) + len);
    s->len = len;
    s->off = 0;
    s->nfds = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(s->data + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    for (size_t i = 0; i < nfds; i++) {
        int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);

        if (fd < 0) {
            int err = errno;

            mem_seg_free(s);
            errno = err;
            return -1;
        }
        s->fds[s->nfds++] = fd;
    }
    g_mutex_lock(&e->sh->lock);
    if (peer->closed || peer->rx_eof) {
        g_mutex_unlock(&e->sh->lock);
        mem_seg_free(s);
        errno = EPIPE;
        return -1;
    }
    g_queue_push_tail(&peer->rxq, s);
    mem_update_locked(peer);
    g_cond_broadcast(&e->sh->cond);
    g_mutex_unlock(&e->sh->lock);
    return (ssize_t)len;
}

/*
 * Copy queued bytes into @iov; a send's fds go with its first byte, and a
 * receive that took fds ends with that send.  Lock held.
 */
static size_t mem_take_locked(MemEnd *e, struct iovec *iov, int iovcnt,
                              int *fds, size_t *nfds)
{
    size_t got = 0;
    int i = 0;
    size_t ioff = 0;

    while (i < iovcnt && !g_queue_is_empty(&e->rxq)) {
        MemSeg *s = g_queue_peek_head(&e->rxq);
        size_t n = MIN(s->len - s->off, iov[i].iov_len - ioff);
        bool had_fds = s->nfds > 0;

        if (had_fds) {
            memcpy(fds, s->fds, s->nfds * sizeof(int));
            *nfds = s->nfds;
            s->nfds = 0;
        }
        memcpy((uint8_t *)iov[i].iov_base + ioff, s->data + s->off, n);
        s->off += n;
        ioff += n;
        got += n;
        if (ioff == iov[i].iov_len) {
            i++;
            ioff = 0;
        }
        if (s->off < s->len) {
            break; /* the caller's buffers are full */
        }
        g_free(g_queue_pop_head(&e->rxq));
        if (had_fds) {
            break;
        }
    }
    return got;
}

static ssize_t mem_recv(VfioUserTransport *t, struct iovec *iov, int iovcnt,
                        int *fds, size_t *nfds, bool *truncated, int flags)
{
    MemEnd *e = (MemEnd *)t;
    size_t want = 0, got;

    *nfds = 0;
    *truncated = false;
    for (int i = 0; i < iovcnt; i++) {
        want += iov[i].iov_len;
    }
    g_mutex_lock(&e->sh->lock);
    while (want && g_queue_is_empty(&e->rxq) && !e->rx_eof) {
        if (flags & MSG_DONTWAIT) {
            g_mutex_unlock(&e->sh->lock);
            errno = EAGAIN;
            return -1;
        }
        g_cond_wait(&e->sh->cond, &e->sh->lock);
    }
    got = mem_take_locked(e, iov, iovcnt, fds, nfds);
    mem_update_locked(e);
    g_mutex_unlock(&e->sh->lock);
    return (ssize_t)got;
}

static void mem_shutdown(VfioUserTransport *t, int how)
{
    MemEnd *e = (MemEnd *)t, *peer = mem_peer(e);

    g_mutex_lock(&e->sh->lock);
    if (how == SHUT_RD || how == SHUT_RDWR) {
        e->rx_eof = true;
        mem_update_locked(e);
    }
    if (how == SHUT_WR || how == SHUT_RDWR) {
        peer->rx_eof = true;
        mem_update_locked(peer);
    }
    g_cond_broadcast(&e->sh->cond);
    g_mutex_unlock(&e->sh->lock);
}

static void mem_close(VfioUserTransport *t)
{
    MemEnd *e = (MemEnd *)t, *peer = mem_peer(e);
    MemShared *sh = e->sh;
    bool last;

    g_mutex_lock(&sh->lock);
    e->closed = true;
    close(e->base.fd);
    e->base.fd = -1;
    mem_drop_queue(e);
    peer->rx_eof = true;
    mem_update_locked(peer);
    g_cond_broadcast(&sh->cond);
    last = peer->closed;
    g_mutex_unlock(&sh->lock);
    if (last) {
        g_mutex_clear(&sh->lock);
        g_cond_clear(&sh->cond);
        g_free(sh);
    }
}

static const VfioUserTransportOps mem_ops = {
    .send = mem_send,
    .recv = mem_recv,
    .shutdown = mem_shutdown,
    .close = mem_close,
};

bool vfio_user_transport_mem_pair(VfioUserTransport *ends[2], GError **errp)
{
    MemShared *sh = g_new0(MemShared, 1);

    for (int i = 0; i < 2; i++) {
        MemEnd *e = &sh->ends[i];

        e->base.ops = &mem_ops;
        e->sh = sh;
        g_queue_init(&e->rxq);
        e->base.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (e->base.fd < 0) {
            int err = errno;

            if (i) {
                close(sh->ends[0].base.fd);
            }
            g_free(sh);
            return vfio_user_error_set(errp, err, "eventfd: %s",
                                       g_strerror(err));
        }
    }
    g_mutex_init(&sh->lock);
    g_cond_init(&sh->cond);
    ends[0] = &sh->ends[0].base;
    ends[1] = &sh->ends[1].base;
    return true;
}
