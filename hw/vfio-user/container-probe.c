/*
 * Probes for the container's access-mode planning (container-probe.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-dma"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>
#include <sys/mman.h>

#include "container-internal.h"
#include "vfio-user/error.h"
#include "trace-events.h"

bool vfio_user_probe_mmap(int fd, uint64_t offset, bool readonly)
{
    long page = sysconf(_SC_PAGESIZE);
    int prot = PROT_READ | (readonly ? 0 : PROT_WRITE);
    void *p = mmap(NULL, page, prot, MAP_SHARED, fd,
                   (off_t)(offset & ~(uint64_t)(page - 1)));

    if (p == MAP_FAILED) {
        trace_dma_probe_no_mmap(fd, readonly ? "read-only" : "read-write",
                                offset, g_strerror(errno));
        return false;
    }
    munmap(p, page);
    return true;
}

/* One DMA_MAP of @fd; *@rerr is the server's errno (0: accepted). */
static bool probe_map(VFIOUserProxy *proxy, uint64_t iova, uint64_t size,
                      uint32_t flags, int fd, int *rerr, GError **errp)
{
    VFIOUserDMAMap m = {
        .argsz = sizeof(m),
        .flags = flags,
        .addr = iova,
        .size = size,
    };
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DMA_MAP,
        .iov = &iov,
        .iovcnt = 1,
        .fds = &fd,
        .nfds = 1,
    };

    if (!vfio_user_proxy_call(proxy, &req, errp)) {
        return false;
    }
    *rerr = req.reply_errno;
    return true;
}

static bool probe_unmap(VFIOUserProxy *proxy, uint64_t iova, uint64_t size,
                        GError **errp)
{
    int rerr;

    if (!vfio_user_dma_unmap_send(proxy, iova, size, &rerr, errp)) {
        return false;
    }
    if (rerr) {
        return vfio_user_error_set(
            errp, rerr,
            "the server refused to unmap its probe map at iova=0x%" PRIx64
            ": %s",
            iova, g_strerror(rerr));
    }
    return true;
}

static int probe_memfd(uint64_t size, GError **errp)
{
    int fd = memfd_create("vfio-user-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        vfio_user_error_set(errp, errno, "cannot create the probe memfd: %s",
                            g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

bool vfio_user_probe_modes(VFIOUserProxy *proxy, uint64_t iova, uint64_t pgsize,
                           uint32_t mode_bit, VFIOUserModesVerdict *verdict,
                           int *rerr, GError **errp)
{
    uint32_t rw = VFIO_USER_DMA_MAP_F_READ | VFIO_USER_DMA_MAP_F_WRITE;
    int fd = probe_memfd(pgsize, errp);
    bool ok;

    *verdict = VFIO_USER_MODES_UNKNOWN;
    if (fd < 0) {
        return false;
    }
    ok = probe_map(proxy, iova, pgsize, rw | mode_bit, fd, rerr, errp);
    if (ok && *rerr == 0) {
        *verdict = VFIO_USER_MODES_UNDERSTOOD;
    } else if (ok && *rerr == EINVAL) {
        /* The same map, the mode bit alone removed. */
        ok = probe_map(proxy, iova, pgsize, rw, fd, rerr, errp);
        if (ok && *rerr == 0) {
            *verdict = VFIO_USER_MODES_LEGACY;
        }
    }
    close(fd);
    if (ok && *verdict != VFIO_USER_MODES_UNKNOWN) {
        ok = probe_unmap(proxy, iova, pgsize, errp);
    }
    trace_dma_probe_verdict(
        *verdict == VFIO_USER_MODES_UNDERSTOOD ? "understood"
        : *verdict == VFIO_USER_MODES_LEGACY   ? "legacy server"
                                               : "no clear answer");
    return ok;
}
