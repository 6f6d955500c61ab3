/*
 * vfio-user client: device operations over a proxy.
 *
 * Device and region info (with the capability chain and sparse mmap
 * areas), mmap of the region fds, region I/O (mmapped or by
 * REGION_READ/WRITE messages split at max_data_xfer_size, posted writes),
 * interrupt info and SET_IRQS (eventfds split at max_msg_fds), reset and
 * region io fds (ioeventfds).
 *
 * Every reply is checked before use: lengths, echoed fields, capability
 * offsets and sparse areas against the reply and the region, fd indexes
 * against the fds that came.  Fds that are not kept are closed at once.
 *
 * Threading: region I/O and SET_IRQS may run on several threads at once
 * (the proxy serialises the socket).  Init, cleanup and
 * vfio_user_device_get_region_io_fds() change the region table and must
 * not race with I/O on the same device.  dev->failed and
 * dev->posted_write_errors are accessed atomically.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-device"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "hw/vfio-user/device.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"

#define DEV_MAX_REGIONS 64
#define DEV_MAX_IRQS 16
#define DEV_MAX_IRQ_VECTORS 2048        /* MSI-X maximum */
#define DEV_REGION_INFO_ROOM 256        /* first GET_REGION_INFO offer */
#define DEV_REGION_INFO_MAX (64 * 1024) /* largest re-ask we honour */
#define DEV_SMALL_REPLY 64              /* room for fixed-size info replies */
#define DEV_REPLY_MAX_FDS 4
#define DEV_IO_FDS_ROOM (sizeof(VFIOUserRegionIOFds) + \
                         VFIO_USER_MAX_IOEVENTFDS * \
                         sizeof(VFIOUserSubRegionIOFd))

typedef __typeof__(((VFIOUserRegion *)0)->ioeventfds[0]) DevIoEventFd;

/* ---- helpers ---- */

static bool dev_is_failed(VFIOUserDevice *dev)
{
    return !dev->proxy || __atomic_load_n(&dev->failed, __ATOMIC_ACQUIRE) ||
           vfio_user_proxy_state(dev->proxy) != VFIO_PROXY_CONNECTED;
}

static bool dev_failed_error(VFIOUserDevice *dev, GError **errp)
{
    return vfu_error_set(errp, ENODEV, "vfio-user device on %s has failed",
                         dev->proxy ? vfio_user_proxy_path(dev->proxy)
                                    : "(no connection)");
}

/* A proxy error of the connection-lost kind fails the device for good. */
static void dev_note_error(VFIOUserDevice *dev, const GError *err)
{
    int e = vfu_error_errno(err);

    if (e == ECONNRESET || e == EPROTO) {
        if (!__atomic_exchange_n(&dev->failed, true, __ATOMIC_ACQ_REL)) {
            g_message("device failed: %s", err->message);
        }
    }
}

static bool dev_call(VFIOUserDevice *dev, VFIOUserRequest *req,
                     GError **errp)
{
    GError *local = NULL;

    if (vfio_user_proxy_call(dev->proxy, req, &local)) {
        return true;
    }
    dev_note_error(dev, local);
    g_propagate_error(errp, local);
    return false;
}

/* A request with one payload buffer and one reply buffer, no fds. */
static bool dev_simple(VFIOUserDevice *dev, uint16_t cmd, const void *in,
                       size_t in_len, void *out, size_t room, size_t *out_len,
                       GError **errp)
{
    struct iovec iov = { .iov_base = (void *)in, .iov_len = in_len };
    struct iovec riov = { .iov_base = out, .iov_len = room };
    VFIOUserRequest req = {
        .cmd = cmd, .iov = &iov, .iovcnt = in_len ? 1 : 0,
        .reply_iov = &riov, .reply_iovcnt = room ? 1 : 0,
    };

    if (!dev_call(dev, &req, errp)) {
        return false;
    }
    if (req.reply_errno) {
        return vfu_error_set(errp, req.reply_errno, "%s refused by the "
                             "server: %s", vfu_cmd_name(cmd),
                             g_strerror(req.reply_errno));
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
    return MIN(max, (uint64_t)VFU_CAPS_MAX_XFER);
}

static size_t dev_max_fds(VFIOUserDevice *dev)
{
    uint32_t max = vfio_user_proxy_caps(dev->proxy)->max_msg_fds;

    return MAX(1, MIN(max, VFU_MAX_FDS));
}

/* ---- region info ---- */

/* One GET_REGION_INFO round trip into @buf (@room bytes). */
static bool dev_region_info_once(VFIOUserDevice *dev, uint32_t index,
                                 uint8_t *buf, uint32_t room, size_t *len,
                                 int *fd, GError **errp)
{
    VFIOUserRegionInfo q = { .argsz = room, .index = index };
    int fds[DEV_REPLY_MAX_FDS];
    struct iovec iov = { .iov_base = &q, .iov_len = sizeof(q) };
    struct iovec riov = { .iov_base = buf, .iov_len = room };
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_REGION_INFO, .iov = &iov, .iovcnt = 1,
        .reply_iov = &riov, .reply_iovcnt = 1,
        .reply_fds = fds, .reply_max_fds = DEV_REPLY_MAX_FDS,
    };

    *fd = -1;
    if (!dev_call(dev, &req, errp)) {
        return false;
    }
    if (req.reply_nfds > 1) {
        g_debug("region %u: closing %zu unexpected fds", index,
                req.reply_nfds - 1);
        vfu_close_fds(fds + 1, req.reply_nfds - 1);
    }
    *fd = req.reply_nfds ? fds[0] : -1;
    if (req.reply_errno) {
        vfu_close_fds(fd, 1);
        return vfu_error_set(errp, req.reply_errno, "server refused "
                             "GET_REGION_INFO: %s",
                             g_strerror(req.reply_errno));
    }
    *len = req.reply_len;
    return true;
}

/*
 * Fetch the info of region @index into a g_malloc'd buffer.  When the
 * server needs more room than offered, ask once more with what it asked
 * for (bounded).
 */
static uint8_t *dev_region_info_fetch(VFIOUserDevice *dev, uint32_t index,
                                      size_t *len, int *fd, GError **errp)
{
    uint32_t room = DEV_REGION_INFO_ROOM;

    for (int attempt = 0; attempt < 2; attempt++) {
        uint8_t *buf = g_malloc0(room);
        VFIOUserRegionInfo info;

        if (!dev_region_info_once(dev, index, buf, room, len, fd, errp)) {
            g_free(buf);
            return NULL;
        }
        memcpy(&info, buf, sizeof(info));
        if (*len >= sizeof(info) && info.index == index &&
            info.argsz <= room) {
            return buf;
        }
        vfu_close_fds(fd, 1);
        g_free(buf);
        if (*len < sizeof(info) || info.index != index) {
            vfu_error_set(errp, EPROTO, "bad GET_REGION_INFO reply (%zu "
                          "bytes, index %u)", *len, info.index);
            return NULL;
        }
        if (attempt == 1 || info.argsz > DEV_REGION_INFO_MAX) {
            vfu_error_set(errp, EPROTO, "server wants %u bytes for the "
                          "region info (offered %u)", info.argsz, room);
            return NULL;
        }
        g_debug("region %u: info needs %u bytes, asking again", index,
                info.argsz);
        room = info.argsz;
    }
    g_assert_not_reached();
    return NULL;
}

static bool dev_parse_sparse(VFIOUserRegion *r, const uint8_t *buf,
                             size_t len, uint32_t off, GError **errp)
{
    VFIOUserCapSparseMmap cap;
    size_t fit;

    if (len - off < sizeof(cap)) {
        return vfu_error_set(errp, EPROTO, "sparse mmap capability is "
                             "truncated");
    }
    memcpy(&cap, buf + off, sizeof(cap));
    fit = (len - off - sizeof(cap)) / sizeof(VFIOUserSparseArea);
    if (cap.nr_areas > fit || cap.nr_areas > VFIO_USER_MAX_SPARSE) {
        return vfu_error_set(errp, EPROTO, "sparse mmap capability has %u "
                             "areas (%zu fit in the reply, at most %u "
                             "supported)", cap.nr_areas, fit,
                             VFIO_USER_MAX_SPARSE);
    }
    r->nr_mmaps = 0;
    for (uint32_t i = 0; i < cap.nr_areas; i++) {
        VFIOUserSparseArea a;

        memcpy(&a, buf + off + sizeof(cap) + i * sizeof(a), sizeof(a));
        if (a.offset > r->size || a.size > r->size - a.offset) {
            r->nr_mmaps = 0;
            return vfu_error_set(errp, EPROTO, "sparse area %u (offset "
                                 "0x%" PRIx64 ", size 0x%" PRIx64 ") lies "
                                 "outside the region (size 0x%" PRIx64 ")",
                                 i, a.offset, a.size, r->size);
        }
        if (a.size == 0) {
            continue;
        }
        r->mmaps[r->nr_mmaps].offset = a.offset;
        r->mmaps[r->nr_mmaps].size = a.size;
        r->mmaps[r->nr_mmaps].host = NULL;
        r->nr_mmaps++;
    }
    return true;
}

/*
 * Walk the capability chain starting at @off.  Every capability must lie
 * inside the reply and start after the end of the previous header, so the
 * walk always moves forward and ends.
 */
static bool dev_parse_caps(VFIOUserRegion *r, const uint8_t *buf, size_t len,
                           uint32_t off, bool *has_sparse, GError **errp)
{
    size_t min_off = sizeof(VFIOUserRegionInfo);

    while (off) {
        VFIOUserCapHdr h;
        VFIOUserCapType t;

        if (off < min_off || off > len || len - off < sizeof(h)) {
            return vfu_error_set(errp, EPROTO, "capability at offset %u "
                                 "is outside the reply (%zu bytes) or "
                                 "loops back", off, len);
        }
        memcpy(&h, buf + off, sizeof(h));
        switch (h.id) {
        case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
            if (*has_sparse) {
                return vfu_error_set(errp, EPROTO, "two sparse mmap "
                                     "capabilities");
            }
            if (!dev_parse_sparse(r, buf, len, off, errp)) {
                return false;
            }
            *has_sparse = true;
            break;
        case VFIO_REGION_INFO_CAP_TYPE:
            if (len - off < sizeof(t)) {
                return vfu_error_set(errp, EPROTO, "type capability is "
                                     "truncated");
            }
            memcpy(&t, buf + off, sizeof(t));
            r->has_type = true;
            r->type = t.type;
            r->subtype = t.subtype;
            break;
        default:
            g_debug("region %u: ignoring capability %u", r->index, h.id);
            break;
        }
        min_off = (size_t)off + sizeof(h);
        off = h.next;
    }
    return true;
}

/* mmap every area of @r; an area that fails stays on messages. */
static void dev_region_map(VFIOUserRegion *r)
{
    int prot = 0;

    if (r->flags & VFIO_REGION_INFO_FLAG_READ) {
        prot |= PROT_READ;
    }
    if (r->flags & VFIO_REGION_INFO_FLAG_WRITE) {
        prot |= PROT_WRITE;
    }
    for (uint32_t i = 0; i < r->nr_mmaps; i++) {
        uint64_t off = r->mmaps[i].offset, size = r->mmaps[i].size;
        void *p;

        if (!prot || r->offset > (uint64_t)INT64_MAX - off ||
            size > SIZE_MAX) {
            g_message("region %u: area %u cannot be mapped, using "
                      "messages", r->index, i);
            continue;
        }
        p = mmap(NULL, size, prot, MAP_SHARED, r->fd, r->offset + off);
        if (p == MAP_FAILED) {
            g_message("region %u: mmap of area %u (offset 0x%" PRIx64
                      ", size 0x%" PRIx64 ") failed: %s; using messages",
                      r->index, i, off, size, g_strerror(errno));
            continue;
        }
        r->mmaps[i].host = p;
    }
}

static bool dev_region_setup(VFIOUserDevice *dev, uint32_t index,
                             GError **errp)
{
    VFIOUserRegion *r = &dev->regions[index];
    VFIOUserRegionInfo info;
    bool has_sparse = false, ok = true;
    size_t len = 0;
    int fd = -1;
    uint8_t *buf = dev_region_info_fetch(dev, index, &len, &fd, errp);

    if (!buf) {
        return false;
    }
    memcpy(&info, buf, sizeof(info));
    r->flags = info.flags;
    r->size = info.size;
    r->offset = info.offset;
    if ((info.flags & VFIO_REGION_INFO_FLAG_CAPS) && info.cap_offset) {
        ok = dev_parse_caps(r, buf, len, info.cap_offset, &has_sparse, errp);
    }
    g_free(buf);
    if (!ok) {
        vfu_close_fds(&fd, 1);
        r->nr_mmaps = 0;
        return false;
    }
    if (fd >= 0 && !(info.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        g_debug("region %u: closing fd sent without the mmap flag", index);
        vfu_close_fds(&fd, 1);
    }
    r->fd = fd;
    if (fd < 0) {
        r->nr_mmaps = 0;
        return true;
    }
    if (!has_sparse && r->size) {
        r->nr_mmaps = 1;
        r->mmaps[0].offset = 0;
        r->mmaps[0].size = r->size;
        r->mmaps[0].host = NULL;
    }
    dev_region_map(r);
    return true;
}

static bool dev_get_info(VFIOUserDevice *dev, GError **errp)
{
    VFIOUserDeviceInfo q = { .argsz = sizeof(q) }, info;
    uint8_t reply[DEV_SMALL_REPLY];
    size_t len;

    if (!dev_simple(dev, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q), reply,
                    sizeof(reply), &len, errp)) {
        return false;
    }
    if (len < sizeof(info)) {
        return vfu_error_set(errp, EPROTO, "DEVICE_GET_INFO reply too "
                             "short (%zu bytes)", len);
    }
    memcpy(&info, reply, sizeof(info));
    if (info.num_regions > DEV_MAX_REGIONS || info.num_irqs > DEV_MAX_IRQS) {
        return vfu_error_set(errp, EPROTO, "device reports %u regions and "
                             "%u irq types (at most %u and %u supported)",
                             info.num_regions, info.num_irqs,
                             DEV_MAX_REGIONS, DEV_MAX_IRQS);
    }
    if ((info.flags & VFIO_DEVICE_FLAGS_PCI) &&
        info.num_regions < VFIO_PCI_NUM_REGIONS) {
        return vfu_error_set(errp, EPROTO, "PCI device reports only %u "
                             "regions (%u expected)", info.num_regions,
                             VFIO_PCI_NUM_REGIONS);
    }
    dev->flags = info.flags;
    dev->num_regions = info.num_regions;
    dev->num_irqs = info.num_irqs;
    return true;
}

static void dev_drop_ioeventfds(VFIOUserRegion *r)
{
    for (uint32_t i = 0; i < r->nr_ioeventfds; i++) {
        vfu_close_fds(&r->ioeventfds[i].fd, 1);
    }
    r->nr_ioeventfds = 0;
}

static void dev_region_release(VFIOUserRegion *r)
{
    for (uint32_t i = 0; i < r->nr_mmaps; i++) {
        if (r->mmaps[i].host) {
            munmap(r->mmaps[i].host, r->mmaps[i].size);
            r->mmaps[i].host = NULL;
        }
    }
    r->nr_mmaps = 0;
    vfu_close_fds(&r->fd, 1);
    dev_drop_ioeventfds(r);
}

void vfio_user_device_cleanup(VFIOUserDevice *dev)
{
    if (!dev) {
        return;
    }
    for (uint32_t i = 0; dev->regions && i < dev->num_regions; i++) {
        dev_region_release(&dev->regions[i]);
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
        if (!dev_region_setup(dev, i, errp)) {
            g_prefix_error(errp, "region %u of %s: ", i,
                           vfio_user_proxy_path(proxy));
            vfio_user_device_cleanup(dev);
            return false;
        }
        g_debug("region %u: flags 0x%x size 0x%" PRIx64 " fd %d, %u mmap "
                "areas", i, dev->regions[i].flags, dev->regions[i].size,
                dev->regions[i].fd, dev->regions[i].nr_mmaps);
    }
    return true;
}

/* ---- region I/O ---- */

static VFIOUserRegion *dev_region(VFIOUserDevice *dev, uint32_t index,
                                  uint64_t off, size_t len, GError **errp)
{
    VFIOUserRegion *r;

    if (index >= dev->num_regions) {
        vfu_error_set(errp, EINVAL, "region %u does not exist (the device "
                      "has %u)", index, dev->num_regions);
        return NULL;
    }
    r = &dev->regions[index];
    if (off > r->size || len > r->size - off) {
        vfu_error_set(errp, EINVAL, "access of %zu bytes at 0x%" PRIx64
                      " is outside region %u (size 0x%" PRIx64 ")", len, off,
                      index, r->size);
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
        VFIOUserRegionRW q = { .offset = off, .region = index, .count = n };
        VFIOUserRegionRW echo;
        struct iovec iov = { .iov_base = &q, .iov_len = sizeof(q) };
        struct iovec riov[2] = {
            { .iov_base = &echo, .iov_len = sizeof(echo) },
            { .iov_base = buf, .iov_len = n },
        };
        VFIOUserRequest req = {
            .cmd = VFIO_USER_REGION_READ, .iov = &iov, .iovcnt = 1,
            .reply_iov = riov, .reply_iovcnt = 2,
        };

        if (!dev_call(dev, &req, errp)) {
            return false;
        }
        if (req.reply_errno) {
            return vfu_error_set(errp, req.reply_errno, "reading %zu bytes "
                                 "at 0x%" PRIx64 " of region %u: %s", n, off,
                                 index, g_strerror(req.reply_errno));
        }
        if (req.reply_len != sizeof(echo) + n ||
            !dev_rw_echo_ok(&echo, off, index, n)) {
            return vfu_error_set(errp, EPROTO, "malformed REGION_READ reply "
                                 "(%zu bytes) for region %u", req.reply_len,
                                 index);
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
    VFIOUserRegionRW q = { .offset = off, .region = index, .count = n };
    VFIOUserRegionRW echo;
    struct iovec iov[2] = {
        { .iov_base = &q, .iov_len = sizeof(q) },
        { .iov_base = (void *)buf, .iov_len = n },
    };
    struct iovec riov = { .iov_base = &echo, .iov_len = sizeof(echo) };
    VFIOUserRequest req = {
        .cmd = VFIO_USER_REGION_WRITE, .iov = iov, .iovcnt = 2,
        .no_reply = post, .reply_iov = &riov, .reply_iovcnt = 1,
    };
    GError *local = NULL;

    if (post) {
        req.reply_iov = NULL;
        req.reply_iovcnt = 0;
        if (vfio_user_proxy_post(dev->proxy, &req, &local)) {
            return true;
        }
        __atomic_add_fetch(&dev->posted_write_errors, 1, __ATOMIC_RELAXED);
        dev_note_error(dev, local);
        g_propagate_error(errp, local);
        return false;
    }
    if (!dev_call(dev, &req, errp)) {
        return false;
    }
    if (req.reply_errno) {
        return vfu_error_set(errp, req.reply_errno, "writing %zu bytes at "
                             "0x%" PRIx64 " of region %u: %s", n, off, index,
                             g_strerror(req.reply_errno));
    }
    if (req.reply_len != sizeof(echo) || !dev_rw_echo_ok(&echo, off, index,
                                                         n)) {
        return vfu_error_set(errp, EPROTO, "malformed REGION_WRITE reply "
                             "(%zu bytes) for region %u", req.reply_len,
                             index);
    }
    return true;
}

/* Signal a matching ioeventfd instead of sending a message. */
static bool dev_ioeventfd_write(VFIOUserRegion *r, uint64_t off,
                                const void *buf, size_t len)
{
    for (uint32_t i = 0; i < r->nr_ioeventfds; i++) {
        const DevIoEventFd *e = &r->ioeventfds[i];
        uint64_t one = 1, v = 0;

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
        if (write(e->fd, &one, sizeof(one)) == sizeof(one)) {
            return true;
        }
        g_debug("region %u: ioeventfd write failed (%s), using a message",
                r->index, g_strerror(errno));
        return false;
    }
    return false;
}

bool vfio_user_region_read(VFIOUserDevice *dev, uint32_t index, uint64_t off,
                           void *buf, size_t len, GError **errp)
{
    VFIOUserRegion *r;
    uint8_t *host;

    if (dev_is_failed(dev)) {
        memset(buf, 0xff, len);
        return dev_failed_error(dev, errp);
    }
    r = dev_region(dev, index, off, len, errp);
    if (!r) {
        memset(buf, 0xff, len);
        return false;
    }
    host = dev_mmap_lookup(r, off, len, VFIO_REGION_INFO_FLAG_READ);
    if (host) {
        dev_mmio_load(buf, host, len);
        return true;
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

    if (dev_is_failed(dev)) {
        return dev_failed_error(dev, errp);
    }
    r = dev_region(dev, index, off, len, errp);
    if (!r) {
        return false;
    }
    if (!len || dev_ioeventfd_write(r, off, buf, len)) {
        return true;
    }
    host = dev_mmap_lookup(r, off, len, VFIO_REGION_INFO_FLAG_WRITE);
    if (host) {
        dev_mmio_store(host, buf, len);
        return true;
    }
    post = post && dev->posted_writes &&
           !((dev->flags & VFIO_DEVICE_FLAGS_PCI) &&
             index == VFIO_PCI_CONFIG_REGION_INDEX);
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

/* ---- interrupts ---- */

bool vfio_user_device_get_irq_info(VFIOUserDevice *dev, uint32_t index,
                                   struct vfio_irq_info *out, GError **errp)
{
    VFIOUserIrqInfo q = { .argsz = sizeof(q), .index = index }, info;
    uint8_t reply[DEV_SMALL_REPLY];
    size_t len;

    if (dev_is_failed(dev)) {
        return dev_failed_error(dev, errp);
    }
    if (index >= dev->num_irqs) {
        return vfu_error_set(errp, EINVAL, "irq index %u does not exist "
                             "(the device has %u)", index, dev->num_irqs);
    }
    if (!dev_simple(dev, VFIO_USER_DEVICE_GET_IRQ_INFO, &q, sizeof(q),
                    reply, sizeof(reply), &len, errp)) {
        return false;
    }
    if (len < sizeof(info)) {
        return vfu_error_set(errp, EPROTO, "GET_IRQ_INFO reply too short "
                             "(%zu bytes)", len);
    }
    memcpy(&info, reply, sizeof(info));
    if (info.index != index || info.count > DEV_MAX_IRQ_VECTORS) {
        return vfu_error_set(errp, EPROTO, "bad GET_IRQ_INFO reply for "
                             "index %u (index %u, count %u)", index,
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
                             const void *data, size_t data_len,
                             const int *fds, size_t nfds, GError **errp)
{
    VFIOUserIrqSet q = {
        .argsz = sizeof(q) + data_len, .flags = flags, .index = index,
        .start = start, .count = count,
    };
    struct iovec iov[2] = {
        { .iov_base = &q, .iov_len = sizeof(q) },
        { .iov_base = (void *)data, .iov_len = data_len },
    };
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_SET_IRQS, .iov = iov,
        .iovcnt = data_len ? 2 : 1, .fds = fds, .nfds = nfds,
    };

    if (!dev_call(dev, &req, errp)) {
        return false;
    }
    if (req.reply_errno) {
        return vfu_error_set(errp, req.reply_errno, "SET_IRQS (index %u, "
                             "start %u, count %u, flags 0x%x) refused: %s",
                             index, start, count, flags,
                             g_strerror(req.reply_errno));
    }
    return true;
}

/* Runs of valid fds (at most max_msg_fds each) and runs of -1 (no fds). */
static bool dev_set_irqs_eventfds(VFIOUserDevice *dev, uint32_t index,
                                  uint32_t flags, uint32_t start,
                                  uint32_t count, const int *fds,
                                  GError **errp)
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

    if (dev_is_failed(dev)) {
        return dev_failed_error(dev, errp);
    }
    if (index >= dev->num_irqs) {
        return vfu_error_set(errp, EINVAL, "irq index %u does not exist "
                             "(the device has %u)", index, dev->num_irqs);
    }
    if ((flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK |
                   VFIO_IRQ_SET_ACTION_TYPE_MASK)) ||
        !data || (data & (data - 1)) || !action || (action & (action - 1))) {
        return vfu_error_set(errp, EINVAL, "SET_IRQS flags 0x%x need one "
                             "data type and one action", flags);
    }
    if (count > UINT32_MAX - start || count > DEV_MAX_IRQ_VECTORS ||
        (count == 0 && data != VFIO_IRQ_SET_DATA_NONE)) {
        return vfu_error_set(errp, EINVAL, "SET_IRQS: bad range start %u "
                             "count %u", start, count);
    }
    switch (data) {
    case VFIO_IRQ_SET_DATA_BOOL:
        if (!bools) {
            return vfu_error_set(errp, EINVAL, "SET_IRQS: no bool array");
        }
        return dev_set_irqs_msg(dev, index, flags, start, count, bools,
                                count, NULL, 0, errp);
    case VFIO_IRQ_SET_DATA_EVENTFD:
        if (!fds) {
            return vfu_error_set(errp, EINVAL, "SET_IRQS: no eventfd array");
        }
        return dev_set_irqs_eventfds(dev, index, flags, start, count, fds,
                                     errp);
    default:
        return dev_set_irqs_msg(dev, index, flags, start, count, NULL, 0,
                                NULL, 0, errp);
    }
}

bool vfio_user_device_reset(VFIOUserDevice *dev, GError **errp)
{
    if (dev_is_failed(dev)) {
        return dev_failed_error(dev, errp);
    }
    return dev_simple(dev, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0, NULL,
                      errp);
}

/* ---- region io fds ---- */

static bool dev_io_fd_entry(VFIOUserRegion *r, const VFIOUserSubRegionIOFd *e,
                            const int *fds, size_t nfds, DevIoEventFd *out,
                            GError **errp)
{
    bool match = e->flags & VFIO_USER_IOEVENTFD_F_DATAMATCH;

    if (e->fd_index >= nfds) {
        return vfu_error_set(errp, EPROTO, "io fd index %u, but %zu fds "
                             "came", e->fd_index, nfds);
    }
    if (e->offset > r->size || e->size > r->size - e->offset) {
        return vfu_error_set(errp, EPROTO, "io fd sub-region at 0x%" PRIx64
                             " size 0x%" PRIx64 " is outside region %u",
                             e->offset, e->size, r->index);
    }
    if ((e->flags & ~VFIO_USER_IOEVENTFD_F_DATAMATCH) ||
        (e->size != 0 && e->size != 1 && e->size != 2 && e->size != 4 &&
         e->size != 8) || (match && e->size == 0)) {
        return vfu_error_set(errp, EPROTO, "unsupported ioeventfd (flags "
                             "0x%x, size %" PRIu64 ")", e->flags, e->size);
    }
    out->fd = fcntl(fds[e->fd_index], F_DUPFD_CLOEXEC, 0);
    if (out->fd < 0) {
        return vfu_error_set(errp, errno, "cannot keep an ioeventfd: %s",
                             g_strerror(errno));
    }
    out->offset = e->offset;
    out->size = e->size;
    out->datamatch = e->datamatch;
    out->match = match;
    return true;
}

static bool dev_io_fds_parse(VFIOUserRegion *r, const uint8_t *buf,
                             size_t len, const int *fds, size_t nfds,
                             GError **errp)
{
    const size_t esz = sizeof(VFIOUserSubRegionIOFd);
    DevIoEventFd tmp[VFIO_USER_MAX_IOEVENTFDS];
    VFIOUserRegionIOFds h;
    uint32_t n = 0;

    if (len < sizeof(h)) {
        return vfu_error_set(errp, EPROTO, "GET_REGION_IO_FDS reply too "
                             "short (%zu bytes)", len);
    }
    memcpy(&h, buf, sizeof(h));
    if (h.index != r->index || h.count > VFIO_USER_MAX_IOEVENTFDS ||
        (h.count && (h.argsz < sizeof(h) ||
                     (h.argsz - sizeof(h)) != h.count * esz ||
                     len < sizeof(h) + h.count * esz))) {
        return vfu_error_set(errp, EPROTO, "bad GET_REGION_IO_FDS reply "
                             "(index %u, count %u, argsz %u, %zu bytes)",
                             h.index, h.count, h.argsz, len);
    }
    for (uint32_t i = 0; i < h.count; i++) {
        VFIOUserSubRegionIOFd e;

        memcpy(&e, buf + sizeof(h) + i * esz, esz);
        if (e.type != VFIO_USER_IO_FD_TYPE_IOEVENTFD) {
            g_debug("region %u: skipping io fd of type %u", r->index, e.type);
            continue;
        }
        if (!dev_io_fd_entry(r, &e, fds, nfds, &tmp[n], errp)) {
            while (n) {
                vfu_close_fds(&tmp[--n].fd, 1);
            }
            return false;
        }
        n++;
    }
    dev_drop_ioeventfds(r);
    memcpy(r->ioeventfds, tmp, n * sizeof(tmp[0]));
    r->nr_ioeventfds = n;
    return true;
}

bool vfio_user_device_get_region_io_fds(VFIOUserDevice *dev, uint32_t index,
                                        GError **errp)
{
    uint8_t buf[DEV_IO_FDS_ROOM];
    int fds[VFIO_USER_MAX_IOEVENTFDS];
    VFIOUserRegionIOFds q = { .argsz = sizeof(buf), .index = index };
    struct iovec iov = { .iov_base = &q, .iov_len = sizeof(q) };
    struct iovec riov = { .iov_base = buf, .iov_len = sizeof(buf) };
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_REGION_IO_FDS, .iov = &iov, .iovcnt = 1,
        .reply_iov = &riov, .reply_iovcnt = 1,
        .reply_fds = fds, .reply_max_fds = G_N_ELEMENTS(fds),
    };
    bool ok;

    if (dev_is_failed(dev)) {
        return dev_failed_error(dev, errp);
    }
    if (index >= dev->num_regions) {
        return vfu_error_set(errp, EINVAL, "region %u does not exist (the "
                             "device has %u)", index, dev->num_regions);
    }
    if (!dev_call(dev, &req, errp)) {
        return false;
    }
    if (req.reply_errno) {
        vfu_close_fds(fds, req.reply_nfds);
        return vfu_error_set(errp, req.reply_errno, "GET_REGION_IO_FDS for "
                             "region %u refused: %s", index,
                             g_strerror(req.reply_errno));
    }
    ok = dev_io_fds_parse(&dev->regions[index], buf, req.reply_len, fds,
                          req.reply_nfds, errp);
    vfu_close_fds(fds, req.reply_nfds);
    return ok;
}
