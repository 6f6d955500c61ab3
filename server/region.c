/*
 * libvfio-user-server regions: declaration (callback- or memory-backed),
 * ioeventfds, and the handlers DEVICE_GET_INFO, DEVICE_GET_REGION_INFO,
 * DEVICE_GET_REGION_IO_FDS, REGION_READ, REGION_WRITE, REGION_WRITE_MULTI.
 *
 * Errors we answer (documented choice):
 *   EINVAL  bad region index or an undeclared region, count 0 or above
 *           our own max_data_xfer_size, offset + count beyond the region (or
 *           wrapping), payload length not matching count, argsz too small
 *           where the reply cannot be shortened, fds where none belong;
 *   EPERM   a write to a region without VUS_REGION_F_WRITE, a read of one
 *           without VUS_REGION_F_READ;
 *   ENOTSUP REGION_WRITE_MULTI when write_multiple was not negotiated;
 *   the device callback's own errno, or EIO for a short access.
 * GET_REGION_INFO / GET_REGION_IO_FDS with an argsz too small for the
 * whole answer reply with the fixed part, argsz = the size needed, no caps,
 * no entries and no fd; the client retries with a bigger buffer.  The flags
 * of such a short region info describe that reply: no _CAPS (no chain
 * follows) and no _MMAP (no fd came).  QEMU's client asks with argsz 32
 * first and rejects _CAPS with a cap_offset inside the fixed part.
 *
 * Guarded by VusServer.lock.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "internal.h"
#include "trace-events.h"

void vus_regions_init(VusServer *srv)
{
    for (int i = 0; i < VUS_MAX_REGIONS; i++) {
        srv->regions[i].mem_fd = -1;
    }
    srv->num_regions = VFIO_PCI_NUM_REGIONS;
}

void vus_regions_cleanup(VusServer *srv)
{
    for (int i = 0; i < VUS_MAX_REGIONS; i++) {
        VusRegion *reg = &srv->regions[i];

        if (reg->mem) {
            munmap(reg->mem, reg->size);
        }
        if (reg->mem_fd >= 0) {
            close(reg->mem_fd);
        }
        for (size_t j = 0; j < reg->nr_ioeventfds; j++) {
            close(reg->ioeventfds[j].fd);
        }
        memset(reg, 0, sizeof(*reg));
        reg->mem_fd = -1;
    }
    srv->nr_ioeventfds = 0;
}

/* Forget ioeventfd signals of the old client. */
void vus_regions_disconnect(VusServer *srv)
{
    uint64_t v;

    for (int i = 0; i < VUS_MAX_REGIONS; i++) {
        for (size_t j = 0; j < srv->regions[i].nr_ioeventfds; j++) {
            if (read(srv->regions[i].ioeventfds[j].fd, &v, sizeof(v)) < 0) {
                /* EAGAIN: nothing was pending */
            }
        }
    }
}

static bool region_check_desc(uint32_t index, const VusRegionDesc *d,
                              GError **errp)
{
    uint64_t pgsz = (uint64_t)sysconf(_SC_PAGESIZE);

    if (index >= VUS_MAX_REGIONS || index == VFIO_PCI_CONFIG_REGION_INDEX) {
        return vfio_user_error_set(
            errp, EINVAL,
            "region index %u cannot be declared (config space comes from vus_server_setup_pci())",
            index);
    }
    if (d->size == 0 || !(d->flags & VUS_REGION_F_RW) ||
        (d->flags & ~VUS_REGION_F_RW)) {
        return vfio_user_error_set(
            errp, EINVAL, "region %u: needs a size and read and/or write flags",
            index);
    }
    if (!d->mem && !d->access) {
        return vfio_user_error_set(
            errp, EINVAL, "region %u: neither memory nor an access callback",
            index);
    }
    if (d->mem_path && !d->mem) {
        return vfio_user_error_set(errp, EINVAL,
                                   "region %u: mem_path without mem", index);
    }
    if (d->mem && d->size % pgsz) {
        return vfio_user_error_set(
            errp, EINVAL,
            "region %u: memory-backed size must be a multiple of %" PRIu64,
            index, pgsz);
    }
    if ((d->nr_sparse && !d->mem) || d->nr_sparse > VUS_MAX_SPARSE_AREAS) {
        return vfio_user_error_set(
            errp, EINVAL, "region %u: sparse areas need memory, at most %d",
            index, VUS_MAX_SPARSE_AREAS);
    }
    for (size_t i = 0; i < d->nr_sparse; i++) {
        const VusSparseArea *a = &d->sparse[i];

        if (a->size == 0 || a->offset % pgsz || a->size % pgsz ||
            a->offset > d->size || a->size > d->size - a->offset) {
            return vfio_user_error_set(
                errp, EINVAL,
                "region %u: sparse area %zu is empty, unaligned or outside",
                index, i);
        }
    }
    return true;
}

/* The file of a restart-safe region: empty (new) or already @size bytes. */
static bool region_open_file(VusRegion *reg, uint32_t index, const char *path,
                             GError **errp)
{
    struct stat st;

    reg->mem_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (reg->mem_fd < 0 || fstat(reg->mem_fd, &st) < 0) {
        return vfio_user_error_set(errp, errno, "region %u: %s: %s", index,
                                   path, g_strerror(errno));
    }
    if (!S_ISREG(st.st_mode) ||
        (st.st_size && (uint64_t)st.st_size != reg->size)) {
        return vfio_user_error_set(
            errp, EINVAL, "region %u: %s holds %" PRIu64 " bytes, not %" PRIu64,
            index, path, (uint64_t)st.st_size, reg->size);
    }
    if (!st.st_size && ftruncate(reg->mem_fd, (off_t)reg->size) < 0) {
        return vfio_user_error_set(errp, errno, "region %u: %s: %s", index,
                                   path, g_strerror(errno));
    }
    return true;
}

/*
 * The memfd goes to the client, which must not be able to shrink it under
 * the device (SIGBUS on its next access): sealed, unless the unsealed
 * option asks to act like a server that does not protect itself.  A
 * restart-safe region's file (@path) cannot be sealed.
 */
static bool region_alloc_mem(VusServer *srv, VusRegion *reg, uint32_t index,
                             const char *path, GError **errp)
{
    g_autofree char *name = g_strdup_printf("vfu-region-%u", index);
    bool seal = !srv->opts.unsealed_regions;

    if (path) {
        if (!region_open_file(reg, index, path, errp)) {
            return false;
        }
    } else if ((reg->mem_fd = memfd_create(
                    name, MFD_CLOEXEC | (seal ? MFD_ALLOW_SEALING : 0))) < 0 ||
               ftruncate(reg->mem_fd, (off_t)reg->size) < 0 ||
               (seal && fcntl(reg->mem_fd, F_ADD_SEALS,
                              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)) {
        return vfio_user_error_set(errp, errno,
                                   "region %u: memfd of %" PRIu64 " bytes: %s",
                                   index, reg->size, g_strerror(errno));
    }
    reg->mem = mmap(NULL, reg->size, PROT_READ | PROT_WRITE, MAP_SHARED,
                    reg->mem_fd, 0);
    if (reg->mem == MAP_FAILED) {
        reg->mem = NULL;
        return vfio_user_error_set(errp, errno, "region %u: mmap: %s", index,
                                   g_strerror(errno));
    }
    return true;
}

bool vus_server_setup_region(VusServer *srv, uint32_t index,
                             const VusRegionDesc *desc, void **mem_out,
                             GError **errp)
{
    VusRegion *reg;
    bool ok = false;

    if (!region_check_desc(index, desc, errp)) {
        return false;
    }
    g_rec_mutex_lock(&srv->lock);
    reg = &srv->regions[index];
    if (reg->size) {
        vfio_user_error_set(errp, EEXIST, "region %u is already declared",
                            index);
        goto out;
    }
    reg->size = desc->size;
    reg->flags = desc->flags;
    reg->bar_flags = desc->bar_flags;
    reg->access = desc->access;
    reg->opaque = desc->opaque;
    reg->has_type = desc->has_type;
    reg->type = desc->type;
    reg->subtype = desc->subtype;
    reg->nr_sparse = desc->nr_sparse;
    if (desc->nr_sparse) {
        memcpy(reg->sparse, desc->sparse,
               desc->nr_sparse * sizeof(VusSparseArea));
    }
    if (desc->mem && !region_alloc_mem(srv, reg, index, desc->mem_path, errp)) {
        if (reg->mem_fd >= 0) {
            close(reg->mem_fd);
        }
        memset(reg, 0, sizeof(*reg));
        reg->mem_fd = -1;
        goto out;
    }
    srv->num_regions = MAX(srv->num_regions, index + 1);
    if (mem_out) {
        *mem_out = reg->mem;
    }
    ok = true;
out:
    g_rec_mutex_unlock(&srv->lock);
    return ok;
}

bool vus_server_add_ioeventfd(VusServer *srv, uint32_t index, uint64_t offset,
                              uint32_t size, bool use_datamatch,
                              uint64_t datamatch, GError **errp)
{
    VusRegion *reg;
    VusIoEventFd *e;
    bool ok = false;

    g_rec_mutex_lock(&srv->lock);
    reg = index < VUS_MAX_REGIONS ? &srv->regions[index] : NULL;
    if (!reg || !reg->access || reg->nr_ioeventfds >= VUS_MAX_IOEVENTFDS ||
        (size != 1 && size != 2 && size != 4 && size != 8) ||
        offset > reg->size || size > reg->size - offset) {
        vfio_user_error_set(
            errp, EINVAL,
            "ioeventfd %u@0x%" PRIx64
            " in region %u: needs a declared callback region, size 1/2/4/8 inside it, at most %d per region",
            size, offset, index, VUS_MAX_IOEVENTFDS);
        goto out;
    }
    e = &reg->ioeventfds[reg->nr_ioeventfds];
    e->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->fd < 0) {
        vfio_user_error_set(errp, errno, "eventfd: %s", g_strerror(errno));
        goto out;
    }
    e->offset = offset;
    e->size = size;
    e->use_datamatch = use_datamatch;
    e->datamatch = datamatch;
    reg->nr_ioeventfds++;
    srv->nr_ioeventfds++;
    ok = true;
out:
    g_rec_mutex_unlock(&srv->lock);
    return ok;
}

size_t vus_regions_poll_fds(VusServer *srv, int *fds, size_t max)
{
    size_t n = 0;

    for (int i = 0; i < VUS_MAX_REGIONS; i++) {
        for (size_t j = 0; j < srv->regions[i].nr_ioeventfds && n < max; j++) {
            fds[n++] = srv->regions[i].ioeventfds[j].fd;
        }
    }
    return n;
}

bool vus_regions_have_ioeventfds(VusServer *srv)
{
    /* Asked several times per message by the serving loop: no scan. */
    return srv->nr_ioeventfds != 0;
}

void vus_regions_ioeventfd_fired(VusServer *srv, int fd)
{
    for (int i = 0; i < VUS_MAX_REGIONS; i++) {
        VusRegion *reg = &srv->regions[i];

        for (size_t j = 0; j < reg->nr_ioeventfds; j++) {
            VusIoEventFd *e = &reg->ioeventfds[j];
            uint64_t v, data = e->use_datamatch ? e->datamatch : 0;

            if (e->fd != fd || read(fd, &v, sizeof(v)) != sizeof(v)) {
                continue;
            }
            trace_server_ioeventfd(i, e->offset);
            reg->access(reg->opaque, true, e->offset, &data, e->size);
        }
    }
}

int vus_handle_device_get_info(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    VFIOUserDeviceInfo info;

    if (msg->len < sizeof(info) || msg->nfds) {
        return EINVAL;
    }
    memcpy(&info, msg->payload, sizeof(info));
    if (info.argsz < sizeof(info)) {
        return EINVAL;
    }
    info.argsz = sizeof(info);
    info.flags =
        VFIO_DEVICE_FLAGS_RESET | (srv->pci ? VFIO_DEVICE_FLAGS_PCI : 0);
    info.num_regions = srv->num_regions;
    info.num_irqs = VFIO_PCI_NUM_IRQS;
    r->payload = g_malloc(sizeof(info));
    memcpy(r->payload, &info, sizeof(info));
    r->len = sizeof(info);
    return 0;
}

/* Build the full region info with its capability chain. */
static uint8_t *region_info_build(const VusRegion *reg, uint32_t index,
                                  size_t *len)
{
    size_t sparse_len = reg->nr_sparse
                            ? sizeof(VFIOUserCapSparseMmap) +
                                  reg->nr_sparse * sizeof(VFIOUserSparseArea)
                            : 0;
    size_t type_len = reg->has_type ? sizeof(VFIOUserCapType) : 0;
    size_t total = sizeof(VFIOUserRegionInfo) + sparse_len + type_len;
    uint8_t *buf = g_malloc0(total);
    VFIOUserRegionInfo *info = (VFIOUserRegionInfo *)buf;
    size_t pos = sizeof(*info);

    info->argsz = total;
    info->index = index;
    info->size = reg->size;
    info->flags =
        ((reg->flags & VUS_REGION_F_READ) ? VFIO_REGION_INFO_FLAG_READ : 0) |
        ((reg->flags & VUS_REGION_F_WRITE) ? VFIO_REGION_INFO_FLAG_WRITE : 0) |
        (reg->mem ? VFIO_REGION_INFO_FLAG_MMAP : 0) |
        (sparse_len + type_len ? VFIO_REGION_INFO_FLAG_CAPS : 0);
    if (sparse_len) {
        VFIOUserCapSparseMmap *cap = (VFIOUserCapSparseMmap *)(buf + pos);

        info->cap_offset = pos;
        cap->hdr.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
        cap->hdr.version = 1;
        cap->hdr.next = type_len ? pos + sparse_len : 0;
        cap->nr_areas = reg->nr_sparse;
        for (size_t i = 0; i < reg->nr_sparse; i++) {
            VFIOUserSparseArea a = {reg->sparse[i].offset, reg->sparse[i].size};

            memcpy(buf + pos + sizeof(*cap) + i * sizeof(a), &a, sizeof(a));
        }
        pos += sparse_len;
    }
    if (type_len) {
        VFIOUserCapType *cap = (VFIOUserCapType *)(buf + pos);

        info->cap_offset = info->cap_offset ? info->cap_offset : pos;
        cap->hdr.id = VFIO_REGION_INFO_CAP_TYPE;
        cap->hdr.version = 1;
        cap->type = reg->type;
        cap->subtype = reg->subtype;
    }
    *len = total;
    return buf;
}

int vus_handle_region_info(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    VFIOUserRegionInfo req;
    const VusRegion *reg;
    VFIOUserRegionInfo *info;
    size_t len;

    if (msg->len < sizeof(req) || msg->nfds) {
        return EINVAL;
    }
    memcpy(&req, msg->payload, sizeof(req));
    if (req.argsz < sizeof(req) || req.index >= srv->num_regions) {
        return EINVAL;
    }
    reg = &srv->regions[req.index];
    r->payload = region_info_build(reg, req.index, &len);
    info = r->payload;
    if (req.argsz < len) {
        /* Too small: the fixed part says how much room is needed. */
        info->cap_offset = 0;
        info->flags &=
            ~(VFIO_REGION_INFO_FLAG_CAPS | VFIO_REGION_INFO_FLAG_MMAP);
        r->len = sizeof(*info);
        return 0;
    }
    r->len = len;
    if (reg->mem_fd >= 0) {
        r->fds[0] = reg->mem_fd;
        r->nfds = 1;
    }
    return 0;
}

int vus_handle_region_io_fds(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    VFIOUserRegionIOFds req, *out;
    const VusRegion *reg;
    size_t need;

    if (msg->len < sizeof(req) || msg->nfds) {
        return EINVAL;
    }
    memcpy(&req, msg->payload, sizeof(req));
    if (req.argsz < sizeof(req) || req.flags || req.index >= srv->num_regions) {
        return EINVAL;
    }
    reg = &srv->regions[req.index];
    if (reg->nr_ioeventfds > srv->caps.max_msg_fds) {
        return E2BIG;
    }
    need = sizeof(req) + reg->nr_ioeventfds * sizeof(VFIOUserSubRegionIOFd);
    out = g_malloc0(need);
    r->payload = out;
    out->argsz = need;
    out->index = req.index;
    out->count = reg->nr_ioeventfds;
    if (req.argsz < need) {
        r->len = sizeof(req);
        return 0;
    }
    for (size_t i = 0; i < reg->nr_ioeventfds; i++) {
        const VusIoEventFd *e = &reg->ioeventfds[i];
        VFIOUserSubRegionIOFd sub = {
            .offset = e->offset,
            .size = e->size,
            .fd_index = i,
            .type = VFIO_USER_IO_FD_TYPE_IOEVENTFD,
            .flags = e->use_datamatch ? VFIO_USER_IOEVENTFD_F_DATAMATCH : 0,
            .datamatch = e->datamatch,
        };

        memcpy((uint8_t *)r->payload + sizeof(req) + i * sizeof(sub), &sub,
               sizeof(sub));
        r->fds[i] = e->fd;
    }
    r->nfds = reg->nr_ioeventfds;
    r->len = need;
    return 0;
}

/* One checked access to a region; 0 or an errno. */
static int region_access(VusServer *srv, uint32_t index, uint64_t off,
                         void *buf, size_t count, bool is_write)
{
    const VusRegion *reg;
    ssize_t ret;

    if (index >= VUS_MAX_REGIONS || !srv->regions[index].size || count == 0 ||
        count > srv->caps.max_data_xfer_recv) {
        return EINVAL;
    }
    reg = &srv->regions[index];
    if (off > reg->size || count > reg->size - off) {
        return EINVAL;
    }
    if (!(reg->flags & (is_write ? VUS_REGION_F_WRITE : VUS_REGION_F_READ))) {
        return EPERM;
    }
    if (!reg->access) {
        if (is_write) {
            memcpy((uint8_t *)reg->mem + off, buf, count);
        } else {
            memcpy(buf, (uint8_t *)reg->mem + off, count);
        }
        return 0;
    }
    ret = reg->access(reg->opaque, is_write, off, buf, count);
    if (ret < 0) {
        return -ret < 4096 ? (int)-ret : EIO;
    }
    return (size_t)ret == count ? 0 : EIO;
}

int vus_handle_region_read(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    VFIOUserRegionRW req;
    uint8_t *out;
    int ret;

    if (msg->len != sizeof(req) || msg->nfds) {
        return EINVAL;
    }
    memcpy(&req, msg->payload, sizeof(req));
    if (req.count == 0 || req.count > srv->caps.max_data_xfer_recv) {
        return EINVAL;
    }
    /* Zeroed: a callback that claims more than it wrote leaks nothing. */
    out = vus_server_reply_buf(srv, sizeof(req) + req.count);
    memset(out + sizeof(req), 0, req.count);
    ret = region_access(srv, req.region, req.offset, out + sizeof(req),
                        req.count, false);
    if (ret) {
        return ret;
    }
    memcpy(out, &req, sizeof(req));
    r->payload = out;
    r->len = sizeof(req) + req.count;
    return 0;
}

int vus_handle_region_write(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    VFIOUserRegionRW req;
    int ret;

    if (msg->len < sizeof(req) || msg->nfds) {
        return EINVAL;
    }
    memcpy(&req, msg->payload, sizeof(req));
    if (msg->len - sizeof(req) != req.count) {
        return EINVAL;
    }
    ret = region_access(srv, req.region, req.offset, msg->payload + sizeof(req),
                        req.count, true);
    if (ret) {
        return ret;
    }
    r->payload = vus_server_reply_buf(srv, sizeof(req));
    memcpy(r->payload, &req, sizeof(req));
    r->len = sizeof(req);
    return 0;
}

static int write_multi_check(VusServer *srv, const VfioUserMsg *msg,
                             uint64_t *cnt)
{
    VFIOUserWriteMulti m;

    if (!srv->caps.write_multiple) {
        return ENOTSUP;
    }
    if (msg->len < sizeof(m) || msg->nfds) {
        return EINVAL;
    }
    memcpy(&m, msg->payload, sizeof(m));
    if (m.wr_cnt == 0 || m.wr_cnt > VFIO_USER_MULTI_MAX ||
        msg->len != sizeof(m) + m.wr_cnt * sizeof(VFIOUserWriteMultiEntry)) {
        return EINVAL;
    }
    for (uint64_t i = 0; i < m.wr_cnt; i++) {
        VFIOUserWriteMultiEntry e;
        const VusRegion *reg;

        memcpy(&e, msg->payload + sizeof(m) + i * sizeof(e), sizeof(e));
        if (e.count == 0 || e.count > VFIO_USER_MULTI_DATA ||
            e.region >= VUS_MAX_REGIONS || !srv->regions[e.region].size) {
            return EINVAL;
        }
        reg = &srv->regions[e.region];
        if (e.offset > reg->size || e.count > reg->size - e.offset) {
            return EINVAL;
        }
        if (!(reg->flags & VUS_REGION_F_WRITE)) {
            return EPERM;
        }
    }
    *cnt = m.wr_cnt;
    return 0;
}

int vus_handle_region_write_multi(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    uint64_t cnt = 0;
    int ret = write_multi_check(srv, msg, &cnt);

    /* Every entry is checked before the first write happens. */
    for (uint64_t i = 0; !ret && i < cnt; i++) {
        VFIOUserWriteMultiEntry e;

        memcpy(&e, msg->payload + sizeof(uint64_t) + i * sizeof(e), sizeof(e));
        ret = region_access(srv, e.region, e.offset, e.data, e.count, true);
    }
    if (ret) {
        return ret;
    }
    r->payload = vus_server_reply_buf(srv, sizeof(cnt));
    memcpy(r->payload, &cnt, sizeof(cnt));
    r->len = sizeof(cnt);
    return 0;
}
