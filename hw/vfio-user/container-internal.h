/*
 * vfio-user client DMA: what container.c (the map table, the access-mode
 * policy, DMA_MAP/DMA_UNMAP) and container-serve.c (serving the server's
 * DMA_READ/DMA_WRITE) share.  Private to hw/vfio-user/container*.c; users
 * go through include/hw/vfio-user/container.h.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_CONTAINER_INTERNAL_H
#define HW_VFIO_USER_CONTAINER_INTERNAL_H

#include "hw/vfio-user/container.h"
#include "container-probe.h"

/* Most maps one DMA_READ/DMA_WRITE may span (stack iovec, no allocation). */
#define CONTAINER_MAX_PIECES 16

/*
 * Send DMA_UNMAP of [@iova, @iova + @size) and wait for the reply: the
 * server's errno (0: unmapped) in *@rerr.  False only when the call itself
 * failed (@errp set, no context added).  Used by container.c and by the
 * probe's clean-up in container-probe.c.
 */
bool vfio_user_dma_unmap_send(VFIOUserProxy *proxy, uint64_t iova,
                              uint64_t size, int *rerr, GError **errp);

/* One DMA_MAP the server accepted. */
typedef struct VFIOUserDMAMapEntry {
    char name[64];
    uint64_t iova;
    uint64_t size;
    void *host;
    uint32_t flags; /* as sent (after any fallback) */
    VFIOUserDMAAccess mode;
    bool sent_fd;
    bool via_proc_self_mem;
    uint64_t bytes_read;    /* atomic: updated under the read lock */
    uint64_t bytes_written; /* atomic */
} VFIOUserDMAMapEntry;

/*
 * Locking:
 * - map_lock (GMutex) serialises map/unmap/free: it is held across the
 *   DMA_MAP / DMA_UNMAP round trip and guards proc_mem_fd, the verdict on
 *   the server's access modes and the fallbacks logged.
 * - lock (GRWLock) guards @maps: the receive thread holds it for reading
 *   only while it looks a DMA request's range up (never across socket
 *   I/O); @maps is changed only with map_lock held AND lock held for
 *   writing, so a map_lock holder may read it unlocked.  lock is never held
 *   across a request to the server (the server may need DMA before it
 *   answers).
 * - Pinning: a DMA request found valid under the read lock is counted in
 *   dma_started before the lock is dropped, and in dma_finished once its
 *   data has moved and its reply is written (or dropped).  Replies leave in
 *   FIFO order, so an unmap that removed its entry waits only until
 *   dma_finished reaches the dma_started it saw: for the requests already
 *   in flight, each bounded by the message timeout (pin_lock, pin_cond).
 * - legacy and the stats are atomics.
 */
struct VFIOUserContainer {
    VFIOUserProxy *proxy;
    VFIOUserDMAAccess policy;
    GMutex map_lock;
    GRWLock lock;
    GArray *maps;               /* VFIOUserDMAMapEntry, sorted by iova */
    int proc_mem_fd;            /* /proc/self/mem or -1; map_lock */
    VFIOUserModesVerdict modes; /* map_lock: does the server know modes */
    unsigned fallbacks_logged;  /* map_lock: CONTAINER_FALLBACK_* bits */
    gint legacy;                /* atomic: server rejects access-mode bits */
    uint64_t dma_reads;         /* atomic */
    uint64_t dma_writes;        /* atomic */
    uint64_t dma_rejected;      /* atomic */
    uint64_t dma_no_master;     /* atomic: rejected, Bus Master Enable clear */
    gint bus_master;            /* atomic: 0 = DMA requests refused */
    uint64_t dma_started;       /* atomic: requests that pinned guest memory */
    uint64_t dma_finished;      /* atomic: of those, done with it */
    GMutex pin_lock;
    GCond pin_cond;       /* broadcast when dma_finished grows */
    unsigned pin_waiters; /* threads waiting on pin_cond (pin_lock) */
};

/* Index of the first map starting above @addr. */
static inline guint container_upper(const GArray *maps, uint64_t addr)
{
    guint lo = 0, hi = maps->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (g_array_index(maps, VFIOUserDMAMapEntry, mid).iova <= addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* container-serve.c: the proxy's request handler (DMA_READ/DMA_WRITE). */
bool vfio_user_container_handle_request(VFIOUserProxy *proxy,
                                        const VFIOUserHdr *hdr, int *fds,
                                        size_t nfds, void *opaque,
                                        GError **errp);

/*
 * container-serve.c: wait until the DMA requests in flight now are done
 * with guest memory (each bounded by the message timeout).
 */
void vfio_user_container_wait_unpinned(VFIOUserContainer *c);

#endif /* HW_VFIO_USER_CONTAINER_INTERNAL_H */
