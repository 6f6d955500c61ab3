/*
 * vfio-user client: device operations over a proxy (info, regions, region
 * I/O, interrupts, reset, region io fds).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_DEVICE_H
#define HW_VFIO_USER_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/vfio-user/proxy.h"

#define VFIO_USER_MAX_SPARSE 16

typedef struct VFIOUserRegion {
    uint32_t index;
    uint32_t flags;   /* VFIO_REGION_INFO_FLAG_* */
    uint64_t size;
    uint64_t offset;  /* mmap offset in fd */
    int fd;           /* region fd from the server, -1 if none */
    uint32_t nr_mmaps;
    struct {
        uint64_t offset; /* within the region */
        uint64_t size;
        void *host;      /* mmap()ed, NULL if mapping failed */
    } mmaps[VFIO_USER_MAX_SPARSE];
    bool has_type;
    uint32_t type, subtype;
    /* ioeventfds from GET_REGION_IO_FDS: a write of @size bytes at @offset
     * (matching @datamatch when set) is delivered by signalling @fd. */
    uint32_t nr_ioeventfds;
    struct {
        uint64_t offset, size, datamatch;
        bool match;
        int fd;
    } ioeventfds[8];
} VFIOUserRegion;

typedef struct VFIOUserDevice {
    VFIOUserProxy *proxy;
    uint32_t flags;        /* VFIO_DEVICE_FLAGS_* */
    uint32_t num_regions;
    uint32_t num_irqs;
    VFIOUserRegion *regions; /* num_regions entries */
    bool posted_writes;    /* BAR writes may be posted (no x-no-posted-writes) */
    bool failed;           /* proxy failed: reads all-ones, writes dropped */
    uint64_t posted_write_errors;
} VFIOUserDevice;

/* GET_INFO, then GET_REGION_INFO for every region (caps, sparse mmaps). */
bool vfio_user_device_init(VFIOUserDevice *dev, VFIOUserProxy *proxy,
                           GError **errp);
/* Unmaps region mappings, closes region fds and ioeventfds. */
void vfio_user_device_cleanup(VFIOUserDevice *dev);

/* Region I/O: uses an mmapped area when the range lies inside one,
 * otherwise REGION_READ/WRITE split at max_data_xfer_size.  @post allows a
 * posted (no-reply) write; never used for the config region. */
bool vfio_user_region_read(VFIOUserDevice *dev, uint32_t index, uint64_t off,
                           void *buf, size_t len, GError **errp);
bool vfio_user_region_write(VFIOUserDevice *dev, uint32_t index, uint64_t off,
                            const void *buf, size_t len, bool post,
                            GError **errp);

bool vfio_user_device_get_irq_info(VFIOUserDevice *dev, uint32_t index,
                                   struct vfio_irq_info *out, GError **errp);
/* SET_IRQS.  @flags: one DATA_* and one ACTION_*.  For DATA_EVENTFD, @fds
 * holds @count fds (-1 = de-assign); split into messages of at most
 * max_msg_fds fds.  For DATA_BOOL, @bools holds @count bytes. */
bool vfio_user_device_set_irqs(VFIOUserDevice *dev, uint32_t index,
                               uint32_t flags, uint32_t start, uint32_t count,
                               const int *fds, const uint8_t *bools,
                               GError **errp);
bool vfio_user_device_reset(VFIOUserDevice *dev, GError **errp);
bool vfio_user_device_get_region_io_fds(VFIOUserDevice *dev, uint32_t index,
                                        GError **errp);

#endif /* HW_VFIO_USER_DEVICE_H */
