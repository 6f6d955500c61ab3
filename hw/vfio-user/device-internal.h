/*
 * vfio-user client device: what device.c, device-region.c and
 * device-irq.c share.
 *
 * Private to hw/vfio-user/device*.c; users go through
 * include/hw/vfio-user/device.h.  Holds the limits we accept from a server
 * and the helpers every file uses to send a request on the device's proxy.
 * The threading rules are those of device.c (see there).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_DEVICE_INTERNAL_H
#define HW_VFIO_USER_DEVICE_INTERNAL_H

#include "hw/vfio-user/device.h"

#define DEV_SMALL_REPLY 64 /* room for fixed-size info replies */

/*
 * Posted writes queued for one REGION_WRITE_MULTI (see device.h).  lock
 * guards n and e[] and is held while the queue is sent, so that queued
 * writes leave in the order they were made, before anything the writing
 * thread does next.  n is also read atomically without the lock, as a
 * quick "nothing queued" test.
 */
struct VFIOUserWriteBatch {
    GMutex lock;
    uint32_t cap; /* entries per message: 2..VFIO_USER_MULTI_MAX */
    uint32_t n;   /* entries queued */
    VFIOUserWriteMultiEntry e[VFIO_USER_MULTI_MAX];
};

/* The device or its proxy has failed: every operation fails at once. */
bool vfio_user_dev_is_failed(VFIOUserDevice *dev);
/* Set ENODEV "device has failed" in @errp; returns false. */
bool vfio_user_dev_failed_error(GError **errp);
/* What the device's log lines start with (vfio_user_proxy_label()). */
const char *vfio_user_dev_label(VFIOUserDevice *dev);
/* vfio_user_proxy_call(), failing the device on a lost connection. */
bool vfio_user_dev_call(VFIOUserDevice *dev, VFIOUserRequest *req,
                        GError **errp);
/* A request with one payload buffer and one reply buffer, no fds. */
bool vfio_user_dev_simple(VFIOUserDevice *dev, uint16_t cmd, const void *in,
                          size_t in_len, void *out, size_t room,
                          size_t *out_len, GError **errp);

/* device-region.c: GET_REGION_INFO for region @index, parse, mmap. */
bool vfio_user_dev_region_setup(VFIOUserDevice *dev, uint32_t index,
                                GError **errp);
/* device-region.c: unmap, close the region fd and its ioeventfds. */
void vfio_user_dev_region_release(VFIOUserRegion *r);

#endif /* HW_VFIO_USER_DEVICE_INTERNAL_H */
