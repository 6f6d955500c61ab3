/*
 * VERSION negotiation: the capabilities JSON (json-glib) and its rules.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VFIO_USER_CAPS_H
#define VFIO_USER_CAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* Our own sanity ceilings: a peer may ask for less, never for more. */
#define VFIO_USER_CAPS_MAX_XFER (64u * 1024 * 1024)

typedef struct VFIOUserCaps {
    uint16_t major;
    uint16_t minor;
    uint32_t max_msg_fds;        /* default 1 */
    uint64_t max_data_xfer_size; /* default 1 MiB */
    /*
     * Merged caps only: the largest count this side accepts in a message it
     * receives, i.e. its own offer (capped at VFIO_USER_CAPS_MAX_XFER).  Each
     * side's max_data_xfer_size is what *it* can receive, so a peer that
     * offered less may still send us up to our own limit;
     * max_data_xfer_size above is the smaller of the two, what both may send.
     */
    uint64_t max_data_xfer_recv;
    uint64_t pgsizes;      /* default 4096 */
    uint32_t max_dma_maps; /* default 65535 */
    bool write_multiple;   /* default false */
    /*
     * Our extension "x-vfu-posted-errors" (boolean, default false): the
     * client wants an error reply to a failed No_reply request.  A server
     * that does not know the key ignores it and stays silent, as the
     * specification has it.  (The current specification has no "migration"
     * capability any more; the key is ignored like any unknown one.)
     */
    bool posted_errors;
} VFIOUserCaps;

/* Name of our posted-errors capability extension. */
#define VFIO_USER_CAPS_POSTED_ERRORS "x-vfu-posted-errors"

/* The spec's defaults for every key (version 0.1). */
void vfio_user_caps_init_defaults(VFIOUserCaps *caps);

/* This project's own offer: 16 fds, 1 MiB transfers, 4 KiB pages... */
void vfio_user_caps_init_ours(VFIOUserCaps *caps);

/* Serialise as {"capabilities":{...}}; caller frees with g_free(). */
char *vfio_user_caps_to_json(const VFIOUserCaps *caps);

/*
 * Parse a VERSION payload (@payload, @len bytes: major, minor, then optional
 * NUL-terminated JSON that must end inside @len).  Missing keys take the
 * defaults; unknown keys are ignored; malformed JSON, a wrong type, a zero
 * or absurd value (max_data_xfer_size 0, pgsizes without 4 KiB...) or a
 * major version other than 0 are EINVAL with a message naming the key.
 */
bool vfio_user_caps_parse_version(const void *payload, size_t len,
                                  VFIOUserCaps *caps, GError **errp);

/*
 * Build a VERSION payload for @caps: returns a g_malloc'd buffer of *@len
 * bytes (major, minor, JSON, NUL).
 */
void *vfio_user_caps_build_version(const VFIOUserCaps *caps, size_t *len);

/*
 * What both sides will respect: the lower minor, the smaller of every limit,
 * the intersection of pgsizes, write_multiple only if both offered it.
 * Fails (EINVAL) when pgsizes do not intersect.
 */
bool vfio_user_caps_merge(const VFIOUserCaps *ours, const VFIOUserCaps *theirs,
                          VFIOUserCaps *out, GError **errp);

/* One-line human description for logs and the demo. */
char *vfio_user_caps_describe(const VFIOUserCaps *caps);

#endif /* VFIO_USER_CAPS_H */
