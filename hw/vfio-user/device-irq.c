/*
 * vfio-user client device: interrupts.  GET_IRQ_INFO, and SET_IRQS with
 * its arguments checked first; eventfds are sent in runs of at most
 * max_msg_fds per message, and runs of -1 (unassign) with no fds.
 * SET_IRQS may run on several threads at once (see device.c).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-device"

#include <errno.h>
#include <string.h>
#include "device-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"

#define DEV_MAX_IRQ_VECTORS 2048 /* MSI-X maximum */

static size_t dev_max_fds(VFIOUserDevice *dev)
{
    uint32_t max = vfio_user_proxy_caps(dev->proxy)->max_msg_fds;

    return MAX(1, MIN(max, VFIO_USER_MAX_FDS));
}

bool vfio_user_device_get_irq_info(VFIOUserDevice *dev, uint32_t index,
                                   struct vfio_irq_info *out, GError **errp)
{
    VFIOUserIrqInfo q = {.argsz = sizeof(q), .index = index}, info;
    uint8_t reply[DEV_SMALL_REPLY];
    size_t len;

    if (vfio_user_dev_is_failed(dev)) {
        return vfio_user_dev_failed_error(errp);
    }
    if (index >= dev->num_irqs) {
        return vfio_user_error_set(
            errp, EINVAL, "irq index %u does not exist (the device has %u)",
            index, dev->num_irqs);
    }
    if (!vfio_user_dev_simple(dev, VFIO_USER_DEVICE_GET_IRQ_INFO, &q, sizeof(q),
                              reply, sizeof(reply), &len, errp)) {
        return false;
    }
    if (len < sizeof(info)) {
        return vfio_user_error_set(
            errp, EPROTO, "GET_IRQ_INFO reply too short (%zu bytes)", len);
    }
    memcpy(&info, reply, sizeof(info));
    if (info.index != index || info.count > DEV_MAX_IRQ_VECTORS) {
        return vfio_user_error_set(
            errp, EPROTO,
            "bad GET_IRQ_INFO reply for index %u (index %u, count %u)", index,
            info.index, info.count);
    }
    out->argsz = sizeof(*out);
    out->flags = info.flags;
    out->index = info.index;
    out->count = info.count;
    return true;
}

static bool dev_set_irqs_msg(VFIOUserDevice *dev, uint32_t index,
                             uint32_t flags, uint32_t start, uint32_t count,
                             const void *data, size_t data_len, const int *fds,
                             size_t nfds, GError **errp)
{
    VFIOUserIrqSet q = {
        .argsz = sizeof(q) + data_len,
        .flags = flags,
        .index = index,
        .start = start,
        .count = count,
    };
    struct iovec iov[2] = {
        {.iov_base = &q, .iov_len = sizeof(q)},
        {.iov_base = (void *)data, .iov_len = data_len},
    };
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_SET_IRQS,
        .iov = iov,
        .iovcnt = data_len ? 2 : 1,
        .fds = fds,
        .nfds = nfds,
    };

    if (!vfio_user_dev_call(dev, &req, errp)) {
        return false;
    }
    if (req.reply_errno) {
        return vfio_user_error_set(
            errp, req.reply_errno,
            "SET_IRQS (index %u, start %u, count %u, flags 0x%x) refused: %s",
            index, start, count, flags, g_strerror(req.reply_errno));
    }
    return true;
}

/* Runs of valid fds (at most max_msg_fds each) and runs of -1 (no fds). */
static bool dev_set_irqs_eventfds(VFIOUserDevice *dev, uint32_t index,
                                  uint32_t flags, uint32_t start,
                                  uint32_t count, const int *fds, GError **errp)
{
    size_t max = dev_max_fds(dev);
    uint32_t i = 0;

    while (i < count) {
        bool assign = fds[i] >= 0;
        uint32_t j = i;

        while (j < count && (fds[j] >= 0) == assign &&
               (!assign || j - i < max)) {
            j++;
        }
        if (!dev_set_irqs_msg(dev, index, flags, start + i, j - i, NULL, 0,
                              assign ? fds + i : NULL, assign ? j - i : 0,
                              errp)) {
            return false;
        }
        i = j;
    }
    return true;
}

bool vfio_user_device_set_irqs(VFIOUserDevice *dev, uint32_t index,
                               uint32_t flags, uint32_t start, uint32_t count,
                               const int *fds, const uint8_t *bools,
                               GError **errp)
{
    uint32_t data = flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    uint32_t action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;

    if (vfio_user_dev_is_failed(dev)) {
        return vfio_user_dev_failed_error(errp);
    }
    if (index >= dev->num_irqs) {
        return vfio_user_error_set(
            errp, EINVAL, "irq index %u does not exist (the device has %u)",
            index, dev->num_irqs);
    }
    if ((flags &
         ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) ||
        !data || (data & (data - 1)) || !action || (action & (action - 1))) {
        return vfio_user_error_set(
            errp, EINVAL,
            "SET_IRQS flags 0x%x need one data type and one action", flags);
    }
    if (count > UINT32_MAX - start || count > DEV_MAX_IRQ_VECTORS ||
        (count == 0 && data != VFIO_IRQ_SET_DATA_NONE)) {
        return vfio_user_error_set(errp, EINVAL,
                                   "SET_IRQS: bad range start %u count %u",
                                   start, count);
    }
    switch (data) {
    case VFIO_IRQ_SET_DATA_BOOL:
        if (!bools) {
            return vfio_user_error_set(errp, EINVAL, "SET_IRQS: no bool array");
        }
        return dev_set_irqs_msg(dev, index, flags, start, count, bools, count,
                                NULL, 0, errp);
    case VFIO_IRQ_SET_DATA_EVENTFD:
        if (!fds) {
            return vfio_user_error_set(errp, EINVAL,
                                       "SET_IRQS: no eventfd array");
        }
        return dev_set_irqs_eventfds(dev, index, flags, start, count, fds,
                                     errp);
    default:
        return dev_set_irqs_msg(dev, index, flags, start, count, NULL, 0, NULL,
                                0, errp);
    }
}
