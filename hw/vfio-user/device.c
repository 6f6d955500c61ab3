/*
 * vfio-user client: device operations over a proxy.
 *
 * Device info, init and cleanup, region I/O (mmapped or by
 * REGION_READ/WRITE messages split at max_data_xfer_size, posted writes,
 * batches of small posted writes in REGION_WRITE_MULTI, ioeventfds) and
 * reset, plus the request helpers the other device files
 * share (device-internal.h).  Region info, sparse mmap and region io fds
 * are in device-region.c; interrupt info and SET_IRQS in device-irq.c.
 *
 * Every reply is checked before use: lengths and echoed fields.
 *
 * Threading: region I/O and SET_IRQS may run on several threads at once
 * (the proxy serialises the socket).  Init, cleanup and
 * vfio_user_device_get_region_io_fds() change the region table and must
 * not race with I/O on the same device.  dev->failed and the counters
 * are accessed atomically; the write batch has its own lock
 * (device-internal.h), taken before the proxy's locks.
 *
 * Ordering (PCI: a read never passes a posted write, posted writes stay in
 * order): every message, mmapped access and ioeventfd signal of the
 * device first sends what is batched, so to the server a thread's batched
 * writes come before whatever that thread does next.  An mmapped access
 * or an ioeventfd signal reaches the device outside the message stream,
 * so before one, posted writes the server has not yet been proven to have
 * handled are fenced with one round trip (dev_fence()); nothing is paid
 * when none is outstanding.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-device"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include "device-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/guard.h"
#include "vfio-user/transport.h"
#include "trace-events.h"

#define DEV_MAX_REGIONS 64
#define DEV_MAX_IRQS 16

/* ---- helpers ---- */

bool vfio_user_dev_is_failed(VFIOUserDevice *dev)
{
    return !dev->proxy || __atomic_load_n(&dev->failed, __ATOMIC_ACQUIRE) ||
           vfio_user_proxy_state(dev->proxy) != VFIO_PROXY_CONNECTED;
}

bool vfio_user_dev_failed_error(GError **errp)
{
    /* The device layer names the device. */
    return vfio_user_error_set(errp, ENODEV, "the device has failed");
}

const char *vfio_user_dev_label(VFIOUserDevice *dev)
{
    return dev->proxy ? vfio_user_proxy_label(dev->proxy) : "vfio-user device";
}

/* A proxy error of the connection-lost kind fails the device for good. */
static void dev_note_error(VFIOUserDevice *dev, const GError *err)
{
    int e = vfio_user_error_errno(err);

    if (e == ECONNRESET || e == EPROTO) {
        /* The proxy's failure notify tells the owner, who reports it
         * once per outage (not once per reconnect attempt). */
        if (!__atomic_exchange_n(&dev->failed, true, __ATOMIC_ACQ_REL)) {
            trace_device_failed(err->message);
        }
    }
}

bool vfio_user_dev_call(VFIOUserDevice *dev, VFIOUserRequest *req,
                        GError **errp)
{
    GError *local = NULL;

    vfio_user_device_flush(dev);
    if (vfio_user_proxy_call(dev->proxy, req, &local)) {
        return true;
    }
    dev_note_error(dev, local);
    g_propagate_error(errp, local);
    return false;
}

/* A request with one payload buffer and one reply buffer, no fds. */
bool vfio_user_dev_simple(VFIOUserDevice *dev, uint16_t cmd, const void *in,
                          size_t in_len, void *out, size_t room,
                          size_t *out_len, GError **errp)
{
    struct iovec iov = {.iov_base = (void *)in, .iov_len = in_len};
    struct iovec riov = {.iov_base = out, .iov_len = room};
    VFIOUserRequest req = {
        .cmd = cmd,
        .iov = &iov,
        .iovcnt = in_len ? 1 : 0,
        .reply_iov = &riov,
        .reply_iovcnt = room ? 1 : 0,
    };

    if (!vfio_user_dev_call(dev, &req, errp)) {
        return false;
    }
    if (req.reply_errno) {
        return vfio_user_error_set(
            errp, req.reply_errno, "%s refused by the server: %s",
            vfio_user_cmd_name(cmd), g_strerror(req.reply_errno));
    }
    if (out_len) {
        *out_len = req.reply_len;
    }
    return true;
}

static size_t dev_max_xfer(VFIOUserDevice *dev)
{
    uint64_t max = vfio_user_proxy_caps(dev->proxy)->max_data_xfer_size;

    if (max == 0) {
        max = VFIO_USER_DEF_MAX_XFER;
    }
    return MIN(max, (uint64_t)VFIO_USER_CAPS_MAX_XFER);
}

static bool dev_get_info(VFIOUserDevice *dev, GError **errp)
{
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)}, info;
    uint8_t reply[DEV_SMALL_REPLY];
    size_t len;

    if (!vfio_user_dev_simple(dev, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q),
                              reply, sizeof(reply), &len, errp)) {
        return false;
    }
    if (len < sizeof(info)) {
        return vfio_user_error_set(
            errp, EPROTO, "DEVICE_GET_INFO reply too short (%zu bytes)", len);
    }
    memcpy(&info, reply, sizeof(info));
    if (info.num_regions > DEV_MAX_REGIONS || info.num_irqs > DEV_MAX_IRQS) {
        return vfio_user_error_set(
            errp, EPROTO,
            "device reports %u regions and %u irq types (at most %u and %u supported)",
            info.num_regions, info.num_irqs, DEV_MAX_REGIONS, DEV_MAX_IRQS);
    }
    if ((info.flags & VFIO_DEVICE_FLAGS_PCI) &&
        info.num_regions < VFIO_PCI_NUM_REGIONS) {
        return vfio_user_error_set(
            errp, EPROTO, "PCI device reports only %u regions (%u expected)",
            info.num_regions, VFIO_PCI_NUM_REGIONS);
    }
    dev->flags = info.flags;
    dev->num_regions = info.num_regions;
    dev->num_irqs = info.num_irqs;
    return true;
}

/* ---- batches of posted writes (REGION_WRITE_MULTI) ---- */

/* Send @req posted; a failure counts @nwrites lost posted writes. */
static bool dev_post(VFIOUserDevice *dev, VFIOUserRequest *req,
                     uint64_t nwrites, GError **errp)
{
    GError *local = NULL;

    req->no_reply = true;
    req->reply_iov = NULL;
    req->reply_iovcnt = 0;
    if (vfio_user_proxy_post(dev->proxy, req, &local)) {
        return true;
    }
    __atomic_add_fetch(&dev->posted_write_errors, nwrites, __ATOMIC_RELAXED);
    dev_note_error(dev, local);
    g_propagate_error(errp, local);
    return false;
}

static bool dev_write_chunk(VFIOUserDevice *dev, uint32_t index, uint64_t off,
                            const uint8_t *buf, size_t n, bool post,
                            GError **errp);

/* Send the queue (one entry: a plain posted REGION_WRITE); lock held. */
static void dev_batch_send_locked(VFIOUserDevice *dev, VFIOUserWriteBatch *b)
{
    uint64_t n = b->n;
    struct iovec iov[2] = {
        {.iov_base = &n, .iov_len = sizeof(n)},
        {.iov_base = b->e, .iov_len = n * sizeof(b->e[0])},
    };
    VFIOUserRequest req = {
        .cmd = VFIO_USER_REGION_WRITE_MULTI,
        .iov = iov,
        .iovcnt = 2,
    };
    GError *err = NULL;
    bool ok;

    if (n == 0) {
        return;
    }
    if (n == 1) {
        ok = dev_write_chunk(dev, b->e[0].region, b->e[0].offset, b->e[0].data,
                             b->e[0].count, true, &err);
    } else {
        ok = dev_post(dev, &req, n, &err);
        if (ok) {
            __atomic_add_fetch(&dev->multi_msgs, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&dev->multi_writes, n, __ATOMIC_RELAXED);
        }
    }
    if (!ok) {
        trace_device_posted_dropped(n, err->message);
        g_error_free(err);
    }
    __atomic_store_n(&b->n, 0, __ATOMIC_RELEASE);
}

void vfio_user_device_flush(VFIOUserDevice *dev)
{
    VFIOUserWriteBatch *b = dev->batch;

    if (!b || !__atomic_load_n(&b->n, __ATOMIC_ACQUIRE)) {
        return;
    }
    g_mutex_lock(&b->lock);
    dev_batch_send_locked(dev, b);
    g_mutex_unlock(&b->lock);
}

/*
 * Entries per message: VFIO_USER_MULTI_MAX, or what max_data_xfer_size
 * allows; no batch at all below 2 or without write_multiple.
 */
static void dev_batch_init(VFIOUserDevice *dev)
{
    size_t max = dev_max_xfer(dev), cap = 0;
    VFIOUserWriteBatch *b;

    if (max > sizeof(uint64_t)) {
        cap = (max - sizeof(uint64_t)) / sizeof(VFIOUserWriteMultiEntry);
    }
    cap = MIN(cap, VFIO_USER_MULTI_MAX);
    if (!vfio_user_proxy_caps(dev->proxy)->write_multiple || cap < 2) {
        return;
    }
    b = g_new0(VFIOUserWriteBatch, 1);
    g_mutex_init(&b->lock);
    b->cap = cap;
    dev->batch = b;
}

static void dev_batch_free(VFIOUserDevice *dev)
{
    if (dev->batch) {
        vfio_user_device_flush(dev);
        g_mutex_clear(&dev->batch->lock);
        g_clear_pointer(&dev->batch, g_free);
    }
    dev->write_multi = false;
}

void vfio_user_device_cleanup(VFIOUserDevice *dev)
{
    if (!dev) {
        return;
    }
    dev_batch_free(dev);
    for (uint32_t i = 0; dev->regions && i < dev->num_regions; i++) {
        vfio_user_dev_region_release(&dev->regions[i]);
    }
    g_free(dev->regions);
    dev->regions = NULL;
    dev->num_regions = 0;
}

bool vfio_user_device_init(VFIOUserDevice *dev, VFIOUserProxy *proxy,
                           GError **errp)
{
    memset(dev, 0, sizeof(*dev));
    dev->proxy = proxy;
    dev->posted_writes = true;
    if (!dev_get_info(dev, errp)) {
        return false;
    }
    dev->regions = g_new0(VFIOUserRegion, dev->num_regions);
    for (uint32_t i = 0; i < dev->num_regions; i++) {
        dev->regions[i].index = i;
        dev->regions[i].fd = -1;
    }
    for (uint32_t i = 0; i < dev->num_regions; i++) {
        if (!vfio_user_dev_region_setup(dev, i, errp)) {
            g_prefix_error(errp, "region %u: ", i);
            vfio_user_device_cleanup(dev);
            return false;
        }
        trace_device_region(i, dev->regions[i].flags, dev->regions[i].size,
                            dev->regions[i].fd, dev->regions[i].nr_mmaps);
    }
    dev_batch_init(dev);
    return true;
}

/* ---- region I/O ---- */

static VFIOUserRegion *dev_region(VFIOUserDevice *dev, uint32_t index,
                                  uint64_t off, size_t len, GError **errp)
{
    VFIOUserRegion *r;

    if (index >= dev->num_regions) {
        vfio_user_error_set(errp, EINVAL,
                            "region %u does not exist (the device has %u)",
                            index, dev->num_regions);
        return NULL;
    }
    r = &dev->regions[index];
    if (off > r->size || len > r->size - off) {
        vfio_user_error_set(errp, EINVAL,
                            "access of %zu bytes at 0x%" PRIx64
                            " is outside region %u (size 0x%" PRIx64 ")",
                            len, off, index, r->size);
        return NULL;
    }
    return r;
}

/* The mapping that holds [off, off + len) and allows @need (READ/WRITE). */
static uint8_t *dev_mmap_lookup(VFIOUserRegion *r, uint64_t off, size_t len,
                                uint32_t need)
{
    if (!len || !(r->flags & need)) {
        return NULL;
    }
    for (uint32_t i = 0; i < r->nr_mmaps; i++) {
        uint64_t a = r->mmaps[i].offset, size = r->mmaps[i].size;

        if (r->mmaps[i].host && off >= a && off - a <= size &&
            len <= size - (off - a)) {
            return (uint8_t *)r->mmaps[i].host + (off - a);
        }
    }
    return NULL;
}

/* Copy out of device memory with one access of the natural width. */
static void dev_mmio_load(void *dst, const uint8_t *src, size_t len)
{
    uintptr_t a = (uintptr_t)src;

    if (len == 1) {
        *(uint8_t *)dst = *(const volatile uint8_t *)src;
    } else if (len == 2 && !(a & 1)) {
        uint16_t v = *(const volatile uint16_t *)(const void *)src;
        memcpy(dst, &v, 2);
    } else if (len == 4 && !(a & 3)) {
        uint32_t v = *(const volatile uint32_t *)(const void *)src;
        memcpy(dst, &v, 4);
    } else if (len == 8 && !(a & 7)) {
        uint64_t v = *(const volatile uint64_t *)(const void *)src;
        memcpy(dst, &v, 8);
    } else {
        memcpy(dst, src, len);
    }
}

static void dev_mmio_store(uint8_t *dst, const void *src, size_t len)
{
    uintptr_t a = (uintptr_t)dst;

    if (len == 1) {
        *(volatile uint8_t *)dst = *(const uint8_t *)src;
    } else if (len == 2 && !(a & 1)) {
        uint16_t v;
        memcpy(&v, src, 2);
        *(volatile uint16_t *)(void *)dst = v;
    } else if (len == 4 && !(a & 3)) {
        uint32_t v;
        memcpy(&v, src, 4);
        *(volatile uint32_t *)(void *)dst = v;
    } else if (len == 8 && !(a & 7)) {
        uint64_t v;
        memcpy(&v, src, 8);
        *(volatile uint64_t *)(void *)dst = v;
    } else {
        memcpy(dst, src, len);
    }
}

typedef struct DevMmio {
    uint8_t *host;
    void *buf;
    size_t len;
    bool is_write;
} DevMmio;

static void dev_mmio_do(void *opaque)
{
    DevMmio *a = opaque;

    if (a->is_write) {
        dev_mmio_store(a->host, a->buf, a->len);
    } else {
        dev_mmio_load(a->buf, a->host, a->len);
    }
}

/*
 * An access to a mmapped area, under the SIGBUS guard: the server owns
 * the region's fd and may shrink it after we mapped it.  That fails the
 * device (reads all-ones from then on), never the VMM.
 */
static bool dev_mmio_guarded(VFIOUserDevice *dev, const VFIOUserRegion *r,
                             uint64_t off, uint8_t *host, void *buf, size_t len,
                             bool is_write, GError **errp)
{
    DevMmio a = {.host = host, .buf = buf, .len = len, .is_write = is_write};

    if (vfio_user_guard_call(host, len, dev_mmio_do, &a)) {
        return true;
    }
    if (!is_write) {
        memset(buf, 0xff, len);
    }
    if (!__atomic_exchange_n(&dev->failed, true, __ATOMIC_ACQ_REL)) {
        g_message("%s: device failed: region %u: mmapped %s at 0x%" PRIx64
                  " faulted (SIGBUS): the server shrank the region's fd",
                  vfio_user_dev_label(dev), r->index,
                  is_write ? "write" : "read", off);
    }
    return vfio_user_error_set(errp, EFAULT,
                               "region %u: mmapped %s at 0x%" PRIx64
                               " faulted: the server shrank the region's fd",
                               r->index, is_write ? "write" : "read", off);
}

static bool dev_rw_echo_ok(const VFIOUserRegionRW *echo, uint64_t off,
                           uint32_t index, size_t n)
{
    return echo->offset == off && echo->region == index && echo->count == n;
}

static bool dev_msg_read(VFIOUserDevice *dev, uint32_t index, uint64_t off,
                         uint8_t *buf, size_t len, GError **errp)
{
    size_t max = dev_max_xfer(dev);

    while (len) {
        size_t n = MIN(len, max);
        VFIOUserRegionRW q = {.offset = off, .region = index, .count = n};
        VFIOUserRegionRW echo;
        struct iovec iov = {.iov_base = &q, .iov_len = sizeof(q)};
        struct iovec riov[2] = {
            {.iov_base = &echo, .iov_len = sizeof(echo)},
            {.iov_base = buf, .iov_len = n},
        };
        VFIOUserRequest req = {
            .cmd = VFIO_USER_REGION_READ,
            .iov = &iov,
            .iovcnt = 1,
            .reply_iov = riov,
            .reply_iovcnt = 2,
        };

        if (!vfio_user_dev_call(dev, &req, errp)) {
            return false;
        }
        if (req.reply_errno) {
            return vfio_user_error_set(
                errp, req.reply_errno,
                "reading %zu bytes at 0x%" PRIx64 " of region %u: %s", n, off,
                index, g_strerror(req.reply_errno));
        }
        if (req.reply_len != sizeof(echo) + n ||
            !dev_rw_echo_ok(&echo, off, index, n)) {
            return vfio_user_error_set(
                errp, EPROTO,
                "malformed REGION_READ reply (%zu bytes) for region %u",
                req.reply_len, index);
        }
        off += n;
        buf += n;
        len -= n;
    }
    return true;
}

static bool dev_write_chunk(VFIOUserDevice *dev, uint32_t index, uint64_t off,
                            const uint8_t *buf, size_t n, bool post,
                            GError **errp)
{
    VFIOUserRegionRW q = {.offset = off, .region = index, .count = n};
    VFIOUserRegionRW echo;
    struct iovec iov[2] = {
        {.iov_base = &q, .iov_len = sizeof(q)},
        {.iov_base = (void *)buf, .iov_len = n},
    };
    struct iovec riov = {.iov_base = &echo, .iov_len = sizeof(echo)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_REGION_WRITE,
        .iov = iov,
        .iovcnt = 2,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
    };

    if (post) {
        return dev_post(dev, &req, 1, errp);
    }
    if (!vfio_user_dev_call(dev, &req, errp)) {
        return false;
    }
    if (req.reply_errno) {
        return vfio_user_error_set(errp, req.reply_errno,
                                   "writing %zu bytes at 0x%" PRIx64
                                   " of region %u: %s",
                                   n, off, index, g_strerror(req.reply_errno));
    }
    if (req.reply_len != sizeof(echo) ||
        !dev_rw_echo_ok(&echo, off, index, n)) {
        return vfio_user_error_set(
            errp, EPROTO,
            "malformed REGION_WRITE reply (%zu bytes) for region %u",
            req.reply_len, index);
    }
    return true;
}

/* The ioeventfd a write of @buf at @off would signal, or NULL. */
static const VFIOUserIoEventFd *dev_ioeventfd_find(const VFIOUserRegion *r,
                                                   uint64_t off,
                                                   const void *buf, size_t len)
{
    for (uint32_t i = 0; i < r->nr_ioeventfds; i++) {
        const VFIOUserIoEventFd *e = &r->ioeventfds[i];
        uint64_t v = 0;

        if (e->offset != off || (e->size && e->size != len)) {
            continue;
        }
        if (e->match) {
            if (len > sizeof(v)) {
                continue;
            }
            memcpy(&v, buf, len);
            if (v != e->datamatch) {
                continue;
            }
        }
        return e;
    }
    return NULL;
}

/*
 * Before a path outside the message stream: if posted writes may still be
 * unhandled, one round trip (the server handles messages in order).
 * DEVICE_GET_INFO has no side effect and every server answers it.
 */
static void dev_fence(VFIOUserDevice *dev)
{
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)};
    uint8_t reply[DEV_SMALL_REPLY];
    GError *err = NULL;

    if (!vfio_user_proxy_posted_unacked(dev->proxy)) {
        return;
    }
    __atomic_add_fetch(&dev->fences, 1, __ATOMIC_RELAXED);
    if (!vfio_user_dev_simple(dev, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q),
                              reply, sizeof(reply), NULL, &err)) {
        trace_device_fence_failed(err->message);
        g_error_free(err);
    }
}

/* Signal a matching ioeventfd instead of sending a message. */
static bool dev_ioeventfd_write(VFIOUserDevice *dev, const VFIOUserRegion *r,
                                uint64_t off, const void *buf, size_t len)
{
    const VFIOUserIoEventFd *e = dev_ioeventfd_find(r, off, buf, len);
    uint64_t one = 1;

    if (!e) {
        return false;
    }
    dev_fence(dev);
    if (write(e->fd, &one, sizeof(one)) == sizeof(one)) {
        return true;
    }
    trace_device_ioeventfd_failed(r->index, g_strerror(errno));
    return false;
}

/* Queue a posted write if it can be batched (see device.h). */
static bool dev_batch_add(VFIOUserDevice *dev, const VFIOUserRegion *r,
                          uint64_t off, const void *buf, size_t len)
{
    VFIOUserWriteBatch *b = dev->batch;
    VFIOUserWriteMultiEntry *e;

    if (!b || !dev->write_multi || len > VFIO_USER_MULTI_DATA ||
        !(r->flags & VFIO_REGION_INFO_FLAG_WRITE) ||
        dev_ioeventfd_find(r, off, buf, len)) {
        return false;
    }
    g_mutex_lock(&b->lock);
    e = &b->e[b->n];
    memset(e, 0, sizeof(*e));
    e->offset = off;
    e->region = r->index;
    e->count = len;
    memcpy(e->data, buf, len);
    __atomic_store_n(&b->n, b->n + 1, __ATOMIC_RELEASE);
    if (b->n == b->cap) {
        dev_batch_send_locked(dev, b);
    }
    g_mutex_unlock(&b->lock);
    return true;
}

bool vfio_user_region_read(VFIOUserDevice *dev, uint32_t index, uint64_t off,
                           void *buf, size_t len, GError **errp)
{
    VFIOUserRegion *r;
    uint8_t *host;

    if (vfio_user_dev_is_failed(dev)) {
        memset(buf, 0xff, len);
        return vfio_user_dev_failed_error(errp);
    }
    r = dev_region(dev, index, off, len, errp);
    if (!r) {
        memset(buf, 0xff, len);
        return false;
    }
    vfio_user_device_flush(dev);
    host = dev_mmap_lookup(r, off, len, VFIO_REGION_INFO_FLAG_READ);
    if (host) {
        dev_fence(dev);
        return dev_mmio_guarded(dev, r, off, host, buf, len, false, errp);
    }
    if (!dev_msg_read(dev, index, off, buf, len, errp)) {
        memset(buf, 0xff, len);
        return false;
    }
    return true;
}

bool vfio_user_region_write(VFIOUserDevice *dev, uint32_t index, uint64_t off,
                            const void *buf, size_t len, bool post,
                            GError **errp)
{
    const uint8_t *p = buf;
    size_t max;
    VFIOUserRegion *r;
    uint8_t *host;

    if (vfio_user_dev_is_failed(dev)) {
        return vfio_user_dev_failed_error(errp);
    }
    r = dev_region(dev, index, off, len, errp);
    if (!r) {
        return false;
    }
    if (!len) {
        return true;
    }
    host = dev_mmap_lookup(r, off, len, VFIO_REGION_INFO_FLAG_WRITE);
    post = post && dev->posted_writes &&
           !((dev->flags & VFIO_DEVICE_FLAGS_PCI) &&
             index == VFIO_PCI_CONFIG_REGION_INDEX);
    if (post && !host && dev_batch_add(dev, r, off, buf, len)) {
        return true;
    }
    vfio_user_device_flush(dev);
    if (dev_ioeventfd_write(dev, r, off, buf, len)) {
        return true;
    }
    if (host) {
        dev_fence(dev);
        return dev_mmio_guarded(dev, r, off, host, (void *)buf, len, true,
                                errp);
    }
    max = dev_max_xfer(dev);
    while (len) {
        size_t n = MIN(len, max);

        if (!dev_write_chunk(dev, index, off, p, n, post, errp)) {
            return false;
        }
        off += n;
        p += n;
        len -= n;
    }
    return true;
}

/* ---- reset ---- */

bool vfio_user_device_reset(VFIOUserDevice *dev, GError **errp)
{
    if (vfio_user_dev_is_failed(dev)) {
        return vfio_user_dev_failed_error(errp);
    }
    if (!(dev->flags & VFIO_DEVICE_FLAGS_RESET)) {
        /* DEVICE_RESET is only for devices that say they support it. */
        trace_device_no_reset(vfio_user_proxy_path(dev->proxy));
        return true;
    }
    return vfio_user_dev_simple(dev, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0,
                                NULL, errp);
}
