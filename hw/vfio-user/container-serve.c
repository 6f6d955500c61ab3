/*
 * vfio-user client DMA: serving the server's DMA_READ / DMA_WRITE requests
 * straight from and into guest memory, on the proxy's receive thread.
 *
 * The range is looked up and checked under the map table's read lock
 * only; while its data moves and its reply waits in the send queue the
 * request is "in flight" (dma_started / dma_finished), which is what an
 * unmap waits for.  Zero copy, no allocation per request.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-dma"

#include <errno.h>
#include <string.h>

#include "container-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "trace-events.h"

/*
 * Wait until the DMA requests in flight when this is called are done with
 * guest memory (see "Pinning" above); each is bounded by the message
 * timeout, or by the connection failing.
 */
void vfio_user_container_wait_unpinned(VFIOUserContainer *c)
{
    uint64_t target = __atomic_load_n(&c->dma_started, __ATOMIC_ACQUIRE);

    g_mutex_lock(&c->pin_lock);
    while (__atomic_load_n(&c->dma_finished, __ATOMIC_ACQUIRE) < target) {
        c->pin_waiters++;
        g_cond_wait(&c->pin_cond, &c->pin_lock);
        c->pin_waiters--;
    }
    g_mutex_unlock(&c->pin_lock);
}

/* A pinned request is done with guest memory (reply written or dropped). */
static void container_unpin(void *opaque, bool sent)
{
    VFIOUserContainer *c = opaque;

    (void)sent;
    g_mutex_lock(&c->pin_lock);
    __atomic_add_fetch(&c->dma_finished, 1, __ATOMIC_RELEASE);
    /* A GCond makes a system call per broadcast: only for a waiter. */
    if (c->pin_waiters) {
        g_cond_broadcast(&c->pin_cond);
    }
    g_mutex_unlock(&c->pin_lock);
}

/*
 * Check a server DMA request and describe its range as host pieces.
 * Returns 0 or the errno for the error reply.
 */
static int container_collect(VFIOUserContainer *c, uint64_t addr,
                             uint64_t count, uint32_t need, struct iovec *iov,
                             VFIOUserDMAMapEntry **ents, int *n)
{
    uint64_t cur = addr, end = addr + count;
    guint i = container_upper(c->maps, addr);
    int k = 0;

    if (i-- == 0) {
        return EFAULT;
    }
    while (cur < end) {
        VFIOUserDMAMapEntry *e;
        uint64_t off, len;

        if (i >= c->maps->len || k == CONTAINER_MAX_PIECES) {
            return EFAULT;
        }
        e = &g_array_index(c->maps, VFIOUserDMAMapEntry, i++);
        if (cur < e->iova || cur - e->iova >= e->size) {
            return EFAULT;
        }
        if (!(e->flags & need)) {
            return EPERM;
        }
        off = cur - e->iova;
        len = MIN(e->size - off, end - cur);
        iov[k].iov_base = (uint8_t *)e->host + off;
        iov[k].iov_len = len;
        ents[k++] = e;
        cur += len;
    }
    *n = k;
    return 0;
}

/* Errno for a DMA request's header, 0 if it may go on to the range check. */
static int container_check_rw(VFIOUserContainer *c, const VFIOUserHdr *hdr,
                              const VFIOUserDMARW *rw, size_t rest)
{
    if (rw->count == 0 || rw->count > UINT64_MAX - rw->addr) {
        return EINVAL;
    }
    if (rw->count > vfio_user_proxy_caps(c->proxy)->max_data_xfer_recv) {
        return EMSGSIZE;
    }
    if (hdr->cmd == VFIO_USER_DMA_READ ? rest != 0 : rest != rw->count) {
        return EINVAL;
    }
    return 0;
}

/* Count served bytes per map (before the reply, so a peer sees them). */
static void container_count(VFIOUserContainer *c, bool is_read,
                            const struct iovec *iov, VFIOUserDMAMapEntry **ents,
                            int n)
{
    for (int k = 0; k < n; k++) {
        uint64_t *ctr =
            is_read ? &ents[k]->bytes_read : &ents[k]->bytes_written;
        __atomic_fetch_add(ctr, iov[k].iov_len, __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(is_read ? &c->dma_reads : &c->dma_writes, 1,
                       __ATOMIC_RELAXED);
}

/*
 * Move the data and answer, zero-copy, with the range pinned (no lock
 * held): a DMA_WRITE payload goes straight into guest memory, a DMA_READ
 * reply is sent from it.  The pin ends when the reply is out.
 */
static bool container_serve(VFIOUserContainer *c, const VFIOUserHdr *hdr,
                            VFIOUserDMARW *rw, struct iovec *iov, int n,
                            GError **errp)
{
    bool is_read = hdr->cmd == VFIO_USER_DMA_READ;

    if (!is_read && !vfio_user_proxy_recv_payload(c->proxy, iov, n, errp)) {
        container_unpin(c, false);
        return false;
    }
    if (!vfio_user_proxy_send_reply_async(c->proxy, hdr, rw, sizeof(*rw), iov,
                                          is_read ? n : 0, container_unpin, c,
                                          errp)) {
        container_unpin(c, false);
        return false;
    }
    return true;
}

static bool container_reject(VFIOUserContainer *c, const VFIOUserHdr *hdr,
                             size_t rest, int err, GError **errp)
{
    __atomic_fetch_add(&c->dma_rejected, 1, __ATOMIC_RELAXED);
    trace_dma_serve_rejected(vfio_user_cmd_name(hdr->cmd), g_strerror(err));
    return vfio_user_proxy_discard(c->proxy, rest, errp) &&
           vfio_user_proxy_send_error(c->proxy, hdr, err, errp);
}

/*
 * Check the range under the read lock and pin it; 0 or the errno for the
 * error reply.
 */
static int container_pin(VFIOUserContainer *c, const VFIOUserHdr *hdr,
                         const VFIOUserDMARW *rw, size_t rest,
                         struct iovec *iov, int *n)
{
    VFIOUserDMAMapEntry *ents[CONTAINER_MAX_PIECES];
    bool is_read = hdr->cmd == VFIO_USER_DMA_READ;
    int err = container_check_rw(c, hdr, rw, rest);

    if (err) {
        return err;
    }
    if (!g_atomic_int_get(&c->bus_master)) {
        /* The guest cleared Bus Master Enable: the function may not DMA. */
        __atomic_fetch_add(&c->dma_no_master, 1, __ATOMIC_RELAXED);
        return EPERM;
    }
    g_rw_lock_reader_lock(&c->lock);
    err = container_collect(c, rw->addr, rw->count,
                            is_read ? VFIO_USER_DMA_MAP_F_READ
                                    : VFIO_USER_DMA_MAP_F_WRITE,
                            iov, ents, n);
    if (!err) {
        /* Counted before the data moves, so a peer sees them with it. */
        container_count(c, is_read, iov, ents, *n);
        __atomic_add_fetch(&c->dma_started, 1, __ATOMIC_RELEASE);
    }
    g_rw_lock_reader_unlock(&c->lock);
    return err;
}

/* Serve one DMA_READ / DMA_WRITE; no lock held. */
static bool container_handle_dma(VFIOUserContainer *c, const VFIOUserHdr *hdr,
                                 GError **errp)
{
    size_t payload = hdr->size - sizeof(*hdr);
    struct iovec iov[CONTAINER_MAX_PIECES];
    VFIOUserDMARW rw;
    struct iovec hiov = {.iov_base = &rw, .iov_len = sizeof(rw)};
    int err, n = 0;

    if (payload < sizeof(rw)) {
        /* The framing is intact (msg_size): refuse this one only. */
        return container_reject(c, hdr, payload, EINVAL, errp);
    }
    if (!vfio_user_proxy_recv_payload(c->proxy, &hiov, 1, errp)) {
        return false;
    }
    payload -= sizeof(rw);
    err = container_pin(c, hdr, &rw, payload, iov, &n);
    if (err) {
        return container_reject(c, hdr, payload, err, errp);
    }
    return container_serve(c, hdr, &rw, iov, n, errp);
}

/*
 * The proxy's request handler, on its receive thread.  The map table's
 * read lock is held only to look the range up; guest memory stays pinned
 * (dma_started/dma_finished) while it is in use.
 */
bool vfio_user_container_handle_request(VFIOUserProxy *proxy,
                                        const VFIOUserHdr *hdr, int *fds,
                                        size_t nfds, void *opaque,
                                        GError **errp)
{
    VFIOUserContainer *c = opaque;

    vfio_user_close_fds(fds, nfds);
    if (hdr->cmd != VFIO_USER_DMA_READ && hdr->cmd != VFIO_USER_DMA_WRITE) {
        return vfio_user_proxy_discard(proxy, hdr->size - sizeof(*hdr), errp) &&
               vfio_user_proxy_send_error(proxy, hdr, ENOSYS, errp);
    }
    return container_handle_dma(c, hdr, errp);
}
