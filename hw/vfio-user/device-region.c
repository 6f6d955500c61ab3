/*
 * vfio-user client device: regions.  GET_REGION_INFO (asking again when
 * the server needs more room), the capability chain (sparse mmap areas,
 * region type), mmap of the region fd, release of a region, and
 * GET_REGION_IO_FDS (ioeventfds for writes that need no message).
 *
 * Every reply is checked before use: capability offsets and sparse areas
 * against the reply and the region, io fd indexes against the fds that
 * came.  Fds that are not kept are closed at once.  Setting up a region
 * and vfio_user_device_get_region_io_fds() change the region table and
 * must not race with I/O on the same device (see device.c).
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
#include <sys/stat.h>
#include "device-internal.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "trace-events.h"

#define DEV_REGION_INFO_ROOM 256        /* first GET_REGION_INFO offer */
#define DEV_REGION_INFO_MAX (64 * 1024) /* largest re-ask we honour */
#define DEV_REPLY_MAX_FDS 4
#define DEV_IO_FDS_ROOM                                                        \
    (sizeof(VFIOUserRegionIOFds) +                                             \
     VFIO_USER_MAX_IOEVENTFDS * sizeof(VFIOUserSubRegionIOFd))
/* Largest IO_FDS re-ask we honour: entries of up to 256 bytes each. */
#define DEV_IO_FDS_MAX                                                         \
    (sizeof(VFIOUserRegionIOFds) + VFIO_USER_MAX_IOEVENTFDS * 256)
/* ioeventfd flags we honour (KVM's values). */
#define DEV_IOEVENTFD_FLAGS                                                    \
    (VFIO_USER_IOEVENTFD_F_DATAMATCH | VFIO_USER_IOEVENTFD_F_PIO)

/* One GET_REGION_INFO round trip into @buf (@room bytes). */
static bool dev_region_info_once(VFIOUserDevice *dev, uint32_t index,
                                 uint8_t *buf, uint32_t room, size_t *len,
                                 int *fd, GError **errp)
{
    VFIOUserRegionInfo q = {.argsz = room, .index = index};
    int fds[DEV_REPLY_MAX_FDS];
    struct iovec iov = {.iov_base = &q, .iov_len = sizeof(q)};
    struct iovec riov = {.iov_base = buf, .iov_len = room};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_REGION_INFO,
        .iov = &iov,
        .iovcnt = 1,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
        .reply_fds = fds,
        .reply_max_fds = DEV_REPLY_MAX_FDS,
    };

    *fd = -1;
    if (!vfio_user_dev_call(dev, &req, errp)) {
        return false;
    }
    if (req.reply_nfds > 1) {
        trace_device_region_extra_fds(index, req.reply_nfds - 1);
        vfio_user_close_fds(fds + 1, req.reply_nfds - 1);
    }
    *fd = req.reply_nfds ? fds[0] : -1;
    if (req.reply_errno) {
        vfio_user_close_fds(fd, 1);
        return vfio_user_error_set(errp, req.reply_errno,
                                   "server refused GET_REGION_INFO: %s",
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
        if (*len >= sizeof(info) && info.index == index && info.argsz <= room) {
            return buf;
        }
        vfio_user_close_fds(fd, 1);
        g_free(buf);
        if (*len < sizeof(info) || info.index != index) {
            vfio_user_error_set(
                errp, EPROTO, "bad GET_REGION_INFO reply (%zu bytes, index %u)",
                *len, info.index);
            return NULL;
        }
        if (attempt == 1 || info.argsz > DEV_REGION_INFO_MAX) {
            vfio_user_error_set(
                errp, EPROTO,
                "server wants %u bytes for the region info (offered %u)",
                info.argsz, room);
            return NULL;
        }
        trace_device_region_info_retry(index, info.argsz);
        room = info.argsz;
    }
    g_assert_not_reached();
    return NULL;
}

static bool dev_parse_sparse(VFIOUserRegion *r, const uint8_t *buf, size_t len,
                             uint32_t off, GError **errp)
{
    VFIOUserCapSparseMmap cap;
    size_t fit;

    if (len - off < sizeof(cap)) {
        return vfio_user_error_set(errp, EPROTO,
                                   "sparse mmap capability is truncated");
    }
    memcpy(&cap, buf + off, sizeof(cap));
    fit = (len - off - sizeof(cap)) / sizeof(VFIOUserSparseArea);
    if (cap.nr_areas > fit || cap.nr_areas > VFIO_USER_MAX_SPARSE) {
        return vfio_user_error_set(
            errp, EPROTO,
            "sparse mmap capability has %u areas (%zu fit in the reply, at most %u supported)",
            cap.nr_areas, fit, VFIO_USER_MAX_SPARSE);
    }
    r->nr_mmaps = 0;
    for (uint32_t i = 0; i < cap.nr_areas; i++) {
        VFIOUserSparseArea a;

        memcpy(&a, buf + off + sizeof(cap) + i * sizeof(a), sizeof(a));
        if (a.offset > r->size || a.size > r->size - a.offset) {
            r->nr_mmaps = 0;
            return vfio_user_error_set(
                errp, EPROTO,
                "sparse area %u (offset 0x%" PRIx64 ", size 0x%" PRIx64
                ") lies outside the region (size 0x%" PRIx64 ")",
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
            return vfio_user_error_set(
                errp, EPROTO,
                "capability at offset %u is outside the reply (%zu bytes) or loops back",
                off, len);
        }
        memcpy(&h, buf + off, sizeof(h));
        switch (h.id) {
        case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
            if (*has_sparse) {
                return vfio_user_error_set(errp, EPROTO,
                                           "two sparse mmap capabilities");
            }
            if (!dev_parse_sparse(r, buf, len, off, errp)) {
                return false;
            }
            *has_sparse = true;
            break;
        case VFIO_REGION_INFO_CAP_TYPE:
            if (len - off < sizeof(t)) {
                return vfio_user_error_set(errp, EPROTO,
                                           "type capability is truncated");
            }
            memcpy(&t, buf + off, sizeof(t));
            r->has_type = true;
            r->type = t.type;
            r->subtype = t.subtype;
            break;
        default:
            trace_device_region_cap_ignored(r->index, h.id);
            break;
        }
        min_off = (size_t)off + sizeof(h);
        off = h.next;
    }
    return true;
}

/*
 * Bytes of @fd that can be mapped without SIGBUS: the file size for regular
 * files and memfds, "unbounded" for device files whose size means nothing.
 * A server that shrinks the file after this check can still fault us; a
 * check at map time is what the protocol allows (no seals are required).
 */
static uint64_t dev_fd_mappable_size(int fd)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        return 0;
    }
    return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
}

/* Is @fd an eventfd?  (Anything else could block or lie about writes.) */
static bool dev_fd_is_eventfd(int fd)
{
    char path[64], link[64];
    ssize_t n;

    g_snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    n = readlink(path, link, sizeof(link) - 1);
    if (n < 0) {
        return false;
    }
    link[n] = '\0';
    return strcmp(link, "anon_inode:[eventfd]") == 0;
}

/* mmap every area of @r; an area that fails stays on messages. */
static void dev_region_map(VFIOUserDevice *dev, VFIOUserRegion *r)
{
    const char *label = vfio_user_dev_label(dev);
    uint64_t fd_size = dev_fd_mappable_size(r->fd);
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

        if (!prot || r->offset > (uint64_t)INT64_MAX - off || size > SIZE_MAX) {
            g_message("%s: region %u: area %u cannot be mapped, using messages",
                      label, r->index, i);
            continue;
        }
        if (r->offset + off > fd_size || size > fd_size - (r->offset + off)) {
            g_message("%s: region %u: area %u (offset 0x%" PRIx64
                      ", size 0x%" PRIx64
                      ") lies beyond the end of the region fd; using messages",
                      label, r->index, i, off, size);
            continue;
        }
        p = mmap(NULL, size, prot, MAP_SHARED, r->fd, r->offset + off);
        if (p == MAP_FAILED) {
            g_message("%s: region %u: mmap of area %u (offset 0x%" PRIx64
                      ", size 0x%" PRIx64 ") failed: %s; using messages",
                      label, r->index, i, off, size, g_strerror(errno));
            continue;
        }
        r->mmaps[i].host = p;
    }
}

bool vfio_user_dev_region_setup(VFIOUserDevice *dev, uint32_t index,
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
        vfio_user_close_fds(&fd, 1);
        r->nr_mmaps = 0;
        return false;
    }
    if (fd >= 0 && !(info.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        trace_device_region_fd_unused(index);
        vfio_user_close_fds(&fd, 1);
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
    dev_region_map(dev, r);
    return true;
}

static void dev_drop_ioeventfds(VFIOUserRegion *r)
{
    for (uint32_t i = 0; i < r->nr_ioeventfds; i++) {
        vfio_user_close_fds(&r->ioeventfds[i].fd, 1);
    }
    r->nr_ioeventfds = 0;
}

void vfio_user_dev_region_release(VFIOUserRegion *r)
{
    for (uint32_t i = 0; i < r->nr_mmaps; i++) {
        if (r->mmaps[i].host) {
            munmap(r->mmaps[i].host, r->mmaps[i].size);
            r->mmaps[i].host = NULL;
        }
    }
    r->nr_mmaps = 0;
    vfio_user_close_fds(&r->fd, 1);
    dev_drop_ioeventfds(r);
}

/* ---- region io fds ---- */

static bool dev_io_fd_entry(VFIOUserRegion *r, const VFIOUserSubRegionIOFd *e,
                            const int *fds, size_t nfds, VFIOUserIoEventFd *out,
                            GError **errp)
{
    bool match = e->flags & VFIO_USER_IOEVENTFD_F_DATAMATCH;

    if (e->fd_index >= nfds) {
        return vfio_user_error_set(errp, EPROTO,
                                   "io fd index %u, but %zu fds came",
                                   e->fd_index, nfds);
    }
    if (e->offset > r->size || e->size > r->size - e->offset) {
        return vfio_user_error_set(errp, EPROTO,
                                   "io fd sub-region at 0x%" PRIx64
                                   " size 0x%" PRIx64 " is outside region %u",
                                   e->offset, e->size, r->index);
    }
    if ((e->flags & ~DEV_IOEVENTFD_FLAGS) ||
        (e->size != 0 && e->size != 1 && e->size != 2 && e->size != 4 &&
         e->size != 8) ||
        (match && e->size == 0)) {
        return vfio_user_error_set(
            errp, EPROTO,
            "unsupported ioeventfd (flags 0x%x, size %" PRIu64 ")", e->flags,
            e->size);
    }
    if (!dev_fd_is_eventfd(fds[e->fd_index])) {
        return vfio_user_error_set(errp, EPROTO,
                                   "io fd %u for region %u is not an eventfd",
                                   e->fd_index, r->index);
    }
    out->fd = fcntl(fds[e->fd_index], F_DUPFD_CLOEXEC, 0);
    if (out->fd < 0) {
        return vfio_user_error_set(errp, errno, "cannot keep an ioeventfd: %s",
                                   g_strerror(errno));
    }
    /*
     * A server that never reads its eventfd lets the counter fill up, and a
     * blocking write would then hang the guest access: write non-blocking
     * and fall back to a message (the flag is shared with the server's
     * descriptor; a server polls its ioeventfds anyway).
     */
    fcntl(out->fd, F_SETFL, fcntl(out->fd, F_GETFL) | O_NONBLOCK);
    out->offset = e->offset;
    out->size = e->size;
    out->datamatch = e->datamatch;
    out->match = match;
    return true;
}

/*
 * The entry stride comes from the reply: (argsz - 16) / count, at least
 * our 40-byte entry (the specification says the size must not be relied
 * on, and servers send 48).  Bytes beyond the fields we know are ignored.
 */
static bool dev_io_fds_parse(VFIOUserRegion *r, const uint8_t *buf, size_t len,
                             const int *fds, size_t nfds, GError **errp)
{
    const size_t esz = sizeof(VFIOUserSubRegionIOFd);
    VFIOUserIoEventFd tmp[VFIO_USER_MAX_IOEVENTFDS];
    VFIOUserRegionIOFds h;
    size_t stride = esz;
    uint32_t n = 0;

    if (len < sizeof(h)) {
        return vfio_user_error_set(
            errp, EPROTO, "GET_REGION_IO_FDS reply too short (%zu bytes)", len);
    }
    memcpy(&h, buf, sizeof(h));
    if (h.count && h.argsz >= sizeof(h)) {
        stride = (h.argsz - sizeof(h)) / h.count;
    }
    if (h.index != r->index || h.count > VFIO_USER_MAX_IOEVENTFDS ||
        (h.count && (h.argsz < sizeof(h) + (size_t)h.count * esz ||
                     len < sizeof(h) + h.count * stride))) {
        return vfio_user_error_set(
            errp, EPROTO,
            "bad GET_REGION_IO_FDS reply (index %u, count %u, argsz %u, %zu bytes)",
            h.index, h.count, h.argsz, len);
    }
    for (uint32_t i = 0; i < h.count; i++) {
        VFIOUserSubRegionIOFd e;

        memcpy(&e, buf + sizeof(h) + i * stride, esz);
        if (e.type != VFIO_USER_IO_FD_TYPE_IOEVENTFD) {
            trace_device_io_fd_skipped(r->index, e.type);
            continue;
        }
        if (!dev_io_fd_entry(r, &e, fds, nfds, &tmp[n], errp)) {
            while (n) {
                vfio_user_close_fds(&tmp[--n].fd, 1);
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

/* One GET_REGION_IO_FDS round trip with @room bytes; fds in @fds. */
static bool dev_io_fds_once(VFIOUserDevice *dev, uint32_t index, uint8_t *buf,
                            uint32_t room, size_t *len, int *fds, size_t *nfds,
                            GError **errp)
{
    VFIOUserRegionIOFds q = {.argsz = room, .index = index};
    struct iovec iov = {.iov_base = &q, .iov_len = sizeof(q)};
    struct iovec riov = {.iov_base = buf, .iov_len = room};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_REGION_IO_FDS,
        .iov = &iov,
        .iovcnt = 1,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
        .reply_fds = fds,
        .reply_max_fds = VFIO_USER_MAX_IOEVENTFDS,
    };

    if (!vfio_user_dev_call(dev, &req, errp)) {
        return false;
    }
    *nfds = req.reply_nfds;
    *len = req.reply_len;
    if (req.reply_errno) {
        vfio_user_close_fds(fds, req.reply_nfds);
        return vfio_user_error_set(
            errp, req.reply_errno,
            "GET_REGION_IO_FDS for region %u refused: %s", index,
            g_strerror(req.reply_errno));
    }
    return true;
}

bool vfio_user_device_get_region_io_fds(VFIOUserDevice *dev, uint32_t index,
                                        GError **errp)
{
    int fds[VFIO_USER_MAX_IOEVENTFDS];
    uint32_t room = DEV_IO_FDS_ROOM;
    g_autofree uint8_t *buf = NULL;
    VFIOUserRegionIOFds h;
    size_t len = 0, nfds = 0;
    bool ok;

    if (vfio_user_dev_is_failed(dev)) {
        return vfio_user_dev_failed_error(errp);
    }
    if (index >= dev->num_regions) {
        return vfio_user_error_set(
            errp, EINVAL, "region %u does not exist (the device has %u)", index,
            dev->num_regions);
    }
    for (int attempt = 0;; attempt++) {
        buf = g_malloc0(room);
        if (!dev_io_fds_once(dev, index, buf, room, &len, fds, &nfds, errp)) {
            return false;
        }
        memcpy(&h, buf, MIN(len, sizeof(h)));
        /* Entries that did not fit: ask once more with what it needs. */
        if (len < sizeof(h) || !h.count || h.argsz <= room || attempt ||
            h.argsz > DEV_IO_FDS_MAX) {
            break;
        }
        trace_device_io_fds_retry(index, h.argsz);
        vfio_user_close_fds(fds, nfds);
        room = h.argsz;
        g_clear_pointer(&buf, g_free);
    }
    ok = dev_io_fds_parse(&dev->regions[index], buf, len, fds, nfds, errp);
    vfio_user_close_fds(fds, nfds);
    return ok;
}
