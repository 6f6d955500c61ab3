/*
 * Probes behind the container's access-mode planning (container.c):
 * does mmap() of a section's fd work the way the server will map it, and
 * does the server understand DMA_MAP access-mode bits at all.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_CONTAINER_PROBE_H
#define HW_VFIO_USER_CONTAINER_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include "hw/vfio-user/proxy.h"

/*
 * Would the server's mmap() of @fd at @offset succeed: MAP_SHARED with
 * PROT_READ, plus PROT_WRITE unless @readonly, at @offset rounded down to
 * the page (what the server maps).  A write-sealed memfd or a file opened
 * O_RDONLY maps read-only only.  Nothing is cached: one mmap()+munmap().
 */
bool vfio_user_probe_mmap(int fd, uint64_t offset, bool readonly);

typedef enum VFIOUserModesVerdict {
    VFIO_USER_MODES_UNKNOWN = 0, /* not asked, or no clear answer */
    VFIO_USER_MODES_UNDERSTOOD,  /* a map with a mode bit was accepted */
    VFIO_USER_MODES_LEGACY,      /* the bit alone made it EINVAL */
} VFIOUserModesVerdict;

/*
 * Ask the server, with a throw-away map of a fresh one-page sealed memfd
 * at [@iova, @iova + @pgsize) (a range the caller knows is free), whether
 * it understands @mode_bit: accepted -> UNDERSTOOD; EINVAL, and accepted
 * without the bit -> LEGACY; anything else -> UNKNOWN, with the server's
 * answer in *@rerr.  An accepted probe map is unmapped at once.  False only
 * when the connection failed (@errp set).
 */
bool vfio_user_probe_modes(VFIOUserProxy *proxy, uint64_t iova, uint64_t pgsize,
                           uint32_t mode_bit, VFIOUserModesVerdict *verdict,
                           int *rerr, GError **errp);

#endif /* HW_VFIO_USER_CONTAINER_PROBE_H */
