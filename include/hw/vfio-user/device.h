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
#define VFIO_USER_MAX_IOEVENTFDS 16 /* sub-regions kept per region */

/* Posted writes waiting for one REGION_WRITE_MULTI (private to device.c). */
typedef struct VFIOUserWriteBatch VFIOUserWriteBatch;

/* One mmappable area of a region (a sparse-mmap area, or the whole). */
typedef struct VFIOUserMmapArea {
    uint64_t offset; /* within the region */
    uint64_t size;
    void *host; /* mmap()ed, NULL if mapping failed */
} VFIOUserMmapArea;

/*
 * An ioeventfd from GET_REGION_IO_FDS: a write of @size bytes at @offset
 * (matching @datamatch when @match) is delivered by signalling @fd.
 */
typedef struct VFIOUserIoEventFd {
    uint64_t offset, size, datamatch;
    bool match;
    int fd;
} VFIOUserIoEventFd;

typedef struct VFIOUserRegion {
    uint32_t index;
    uint32_t flags; /* VFIO_REGION_INFO_FLAG_* */
    uint64_t size;
    uint64_t offset; /* mmap offset in fd */
    int fd;          /* region fd from the server, -1 if none */
    uint32_t nr_mmaps;
    VFIOUserMmapArea mmaps[VFIO_USER_MAX_SPARSE];
    bool has_type;
    uint32_t type, subtype;
    uint32_t nr_ioeventfds;
    VFIOUserIoEventFd ioeventfds[VFIO_USER_MAX_IOEVENTFDS];
} VFIOUserRegion;

typedef struct VFIOUserDevice {
    VFIOUserProxy *proxy;
    uint32_t flags; /* VFIO_DEVICE_FLAGS_* */
    uint32_t num_regions;
    uint32_t num_irqs;
    VFIOUserRegion *regions; /* num_regions entries */
    bool posted_writes; /* BAR writes may be posted (no x-no-posted-writes) */
    bool failed;        /* proxy failed: reads all-ones, writes dropped
                         * (set and read atomically) */
    uint64_t posted_write_errors; /* posted writes that could not be sent
                                   * (atomic); the server's error replies
                                   * to posted writes are counted by the
                                   * proxy (posted_errors) */
    /*
     * Batch small posted writes (see vfio_user_device_flush()).  Init
     * clears it: an owner that flushes sets it (x-no-write-multi clears
     * it); it has no effect unless the server agreed to write_multiple.
     */
    bool write_multi;
    VFIOUserWriteBatch *batch; /* NULL without write_multiple */
    uint64_t multi_msgs;       /* REGION_WRITE_MULTI messages sent (atomic) */
    uint64_t multi_writes;     /* writes they carried (atomic) */
    uint64_t fences; /* ordering round trips before an mmapped access or an
                      * ioeventfd signal (atomic) */
} VFIOUserDevice;

/*
 * GET_INFO, then GET_REGION_INFO for every region (caps, sparse mmaps).
 * Resets every field of @dev (posted_writes becomes true: clear it after
 * init for x-no-posted-writes; write_multi becomes false: set it after init
 * when the owner calls vfio_user_device_flush()).  A malformed reply
 * (capability loop or out-of-bounds cap, sparse area outside its region, too
 * many areas...) fails the init with EPROTO; nothing is left mapped or open on
 * failure.
 */
bool vfio_user_device_init(VFIOUserDevice *dev, VFIOUserProxy *proxy,
                           GError **errp);
/*
 * Sends the writes still batched, then unmaps region mappings, closes
 * region fds and ioeventfds.  Call it before closing the proxy.
 */
void vfio_user_device_cleanup(VFIOUserDevice *dev);

/*
 * Region I/O: uses an mmapped area when the range lies inside one (1, 2, 4
 * and 8-byte accesses keep their width), otherwise REGION_READ/WRITE split
 * at max_data_xfer_size.  @post allows a posted (no-reply) write; never used
 * for the PCI config region nor when posted_writes is false.  A write that
 * matches an ioeventfd (offset, size, datamatch) signals it instead.
 * Out-of-range accesses are EINVAL.  A failed device (or proxy) reads
 * all-ones and drops writes, returning false with ENODEV.
 *
 * Batching: with write_multi set, a posted write of at most 8 bytes to a
 * writable region that goes by message (no mmapped area, no ioeventfd) is
 * queued instead of sent; up to VFIO_USER_MULTI_MAX queued writes go out
 * as one posted REGION_WRITE_MULTI (a lone one as a posted REGION_WRITE)
 * when the queue is full, before any other message, mmapped access or
 * ioeventfd signal of the device (so a read always sees the writes made
 * before it), and on vfio_user_device_flush().
 *
 * PCI ordering: an mmapped access or an ioeventfd signal bypasses the
 * message stream, so when posted writes are still unacknowledged it is
 * preceded by one round trip (DEVICE_GET_INFO), counted in dev->fences:
 * a read never passes a posted write and posted writes stay in order.
 */
bool vfio_user_region_read(VFIOUserDevice *dev, uint32_t index, uint64_t off,
                           void *buf, size_t len, GError **errp);
bool vfio_user_region_write(VFIOUserDevice *dev, uint32_t index, uint64_t off,
                            const void *buf, size_t len, bool post,
                            GError **errp);

/*
 * Send the batched posted writes now.  The VMM calls it when a run of guest
 * accesses ends (before it returns to its event loop or waits for the
 * device): until then a batched write such as a doorbell has not reached
 * the server.  Cheap when nothing is batched; any thread.  Failures count
 * as for posted writes: posted_write_errors (one per write that could not
 * be sent) and the proxy's posted_errors (one per error reply to a batch;
 * the server checks every entry first, so a batch with a bad entry is not
 * performed, and a device error stops the batch at that write).
 */
void vfio_user_device_flush(VFIOUserDevice *dev);

bool vfio_user_device_get_irq_info(VFIOUserDevice *dev, uint32_t index,
                                   struct vfio_irq_info *out, GError **errp);
/*
 * SET_IRQS.  @flags: one DATA_* and one ACTION_*.  For DATA_EVENTFD, @fds
 * holds @count fds (-1 = de-assign); split into messages of at most
 * max_msg_fds fds.  For DATA_BOOL, @bools holds @count bytes.  DATA_NONE
 * with @count 0 disables the whole index.
 *
 * Eventfd splitting: @fds is cut into runs.  A run of valid fds (at most
 * max_msg_fds long) goes in one message whose start/count cover exactly
 * those vectors, with the fds in SCM_RIGHTS.  A run of -1 entries goes in
 * one message with no fds at all, which the specification defines as
 * "de-assign these vectors".  Messages go in order and stop at the first
 * error.
 */
bool vfio_user_device_set_irqs(VFIOUserDevice *dev, uint32_t index,
                               uint32_t flags, uint32_t start, uint32_t count,
                               const int *fds, const uint8_t *bools,
                               GError **errp);
/*
 * DEVICE_RESET, only when GET_INFO reported VFIO_DEVICE_FLAGS_RESET; for a
 * device without it nothing is sent and the call succeeds (the caller's
 * own reset, of config space for instance, is all there is).
 */
bool vfio_user_device_reset(VFIOUserDevice *dev, GError **errp);
/*
 * GET_REGION_IO_FDS for region @index: replaces the region's ioeventfds
 * (each entry owns its own fd).  Entries of other types (ioregionfd) are
 * skipped.  Call while no other thread writes to that region.
 */
bool vfio_user_device_get_region_io_fds(VFIOUserDevice *dev, uint32_t index,
                                        GError **errp);

#endif /* HW_VFIO_USER_DEVICE_H */
