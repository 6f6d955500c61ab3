/*
 * vfio-user client DMA: the map table, the access-mode policy, DMA_MAP /
 * DMA_UNMAP, and serving the server's DMA_READ / DMA_WRITE requests.
 *
 * Access-mode policy (dma-access=auto, the default), per guest RAM section:
 *   fd that mmap() accepts (probed once per fd) -> mmap bit + fd + offset
 *   fd that mmap() refuses                      -> file-I/O bit + fd + offset
 *   no fd (anonymous RAM)                       -> no fd, no bit: messages
 * dma-access=file-io also serves anonymous RAM through /proc/self/mem
 * (offset = host virtual address); never chosen by auto because it hands the
 * server the whole process.  mmap/message force those modes.  A forced mode
 * that cannot be honoured fails with an error naming the section.
 *
 * Servers that predate access modes reject the mode bits with EINVAL: the
 * map is retried without them (fd only if mmappable), and the connection
 * remembers it (logged once).
 *
 * Serving DMA_READ/DMA_WRITE (container-serve.c) runs on the proxy's
 * receive thread: the whole range must lie in mapped sections (adjacent
 * sections are fine) that all allow the access, count <=
 * max_data_xfer_size; otherwise an error reply and guest memory untouched. Data
 * moves straight between the socket and guest memory (no bounce buffer).
 *
 * Locking: container->lock (a GRWLock) guards the map table; the receive
 * thread takes it for reading only to look a request's range up (never
 * across socket I/O), map/unmap take it for writing.  A request found
 * valid stays "in flight" until its data has moved and its reply is
 * written; unmap and free wait only for the requests in flight when they
 * removed the map, each bounded by the message timeout.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_CONTAINER_H
#define HW_VFIO_USER_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/vfio-user/proxy.h"

typedef enum VFIOUserDMAAccess {
    VFIO_USER_DMA_ACCESS_AUTO,
    VFIO_USER_DMA_ACCESS_MMAP,
    VFIO_USER_DMA_ACCESS_FILE_IO,
    VFIO_USER_DMA_ACCESS_MESSAGE,
} VFIOUserDMAAccess;

/* "auto", "mmap", "file-io", "message" (same names everywhere). */
const char *vfio_user_dma_access_name(VFIOUserDMAAccess a);
bool vfio_user_dma_access_parse(const char *s, VFIOUserDMAAccess *out,
                                GError **errp);

/* One guest RAM section as the machine describes it. */
typedef struct VFIOUserDMASection {
    const char *name; /* memory backend id, for errors and the monitor */
    uint64_t iova;    /* guest physical address */
    uint64_t size;
    void *host;         /* where the client has it mapped */
    int fd;             /* backing fd or -1 (anonymous); not taken */
    uint64_t fd_offset; /* offset of the section inside fd */
    bool readonly;
} VFIOUserDMASection;

typedef struct VFIOUserContainer VFIOUserContainer;

/* Registers itself as @proxy's request handler. */
VFIOUserContainer *vfio_user_container_new(VFIOUserProxy *proxy,
                                           VFIOUserDMAAccess policy);
/* Unmaps everything still mapped (best effort if the proxy failed). */
void vfio_user_container_free(VFIOUserContainer *c);

bool vfio_user_container_map(VFIOUserContainer *c, const VFIOUserDMASection *s,
                             GError **errp);
bool vfio_user_container_unmap(VFIOUserContainer *c, uint64_t iova,
                               uint64_t size, GError **errp);

/* What the monitor, tests and benchmarks see of each map. */
typedef struct VFIOUserDMAMapInfo {
    char name[64];
    uint64_t iova;
    uint64_t size;
    uint32_t flags;         /* flags sent in DMA_MAP (after any fallback) */
    VFIOUserDMAAccess mode; /* mmap, file-io or message */
    bool sent_fd;
    bool via_proc_self_mem;
    uint64_t bytes_read;    /* served DMA_READ bytes (message mode) */
    uint64_t bytes_written; /* served DMA_WRITE bytes (message mode) */
} VFIOUserDMAMapInfo;

/* Copies up to @max entries; returns the number of maps. */
size_t vfio_user_container_maps(VFIOUserContainer *c, VFIOUserDMAMapInfo *out,
                                size_t max);
bool vfio_user_container_legacy_server(VFIOUserContainer *c);

/*
 * The device's Bus Master Enable (any thread; on at creation): while off,
 * every DMA_READ/DMA_WRITE of the server gets an EPERM error reply (counted
 * in dma_no_master).  mmap and file-io maps are out of the client's reach.
 */
void vfio_user_container_set_bus_master(VFIOUserContainer *c, bool on);

typedef struct VFIOUserDMAStats {
    uint64_t dma_reads; /* DMA_READ requests served */
    uint64_t dma_writes;
    uint64_t dma_rejected;  /* error replies sent */
    uint64_t dma_no_master; /* of those: Bus Master Enable was clear */
} VFIOUserDMAStats;
void vfio_user_container_stats(VFIOUserContainer *c, VFIOUserDMAStats *out);

#endif /* HW_VFIO_USER_CONTAINER_H */
