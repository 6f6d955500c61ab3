/*
 * vfio-user client: surviving a restart of the server (reconnect-ms=N).
 *
 * Three pieces, each usable on its own:
 *
 * - VFIOUserReconnect, the retry state machine.  After the connection
 *   failed, its owner calls vfio_user_reconnect_start() on the main loop;
 *   a GLib timeout on the main context then calls the owner's attempt
 *   function every interval_ms (never a busy loop) until it returns
 *   VFIO_USER_RECONNECT_OK (connected again) or _GIVE_UP (a different
 *   device answered: retrying cannot help).  One log line when retrying
 *   starts, one when it reconnects or gives up; the state, retry count,
 *   last error and counters are shown by vfio_user_reconnect_info().
 *   Everything runs on the main thread.
 *
 * - VFIOUserDeviceIdentity, what must not change across a restart: PCI
 *   ids, class and revision, BAR types, the capability list (where each
 *   capability is, MSI/MSI-X layout), region sizes and access flags, irq
 *   counts.  vfio_user_device_identity_compare() names what differs.
 *
 * - VFIOUserDMAReplay, the guest RAM sections the machine has mapped.
 *   Maps and unmaps are recorded here whether or not the server is
 *   connected; on reconnect they are replayed into a fresh container, so
 *   the access mode is decided again (the new server may be older).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_RECONNECT_H
#define HW_VFIO_USER_RECONNECT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/vfio-user/container.h"
#include "hw/vfio-user/device.h"

/* ---- the retry state machine ---- */

typedef enum VFIOUserReconnectState {
    VFIO_USER_RECONNECT_IDLE,         /* connected (or reconnect off) */
    VFIO_USER_RECONNECT_RECONNECTING, /* retrying every interval_ms */
    VFIO_USER_RECONNECT_GAVE_UP,      /* a different device answered */
} VFIOUserReconnectState;

typedef enum VFIOUserReconnectResult {
    VFIO_USER_RECONNECT_OK,
    VFIO_USER_RECONNECT_RETRY,   /* try again after interval_ms */
    VFIO_USER_RECONNECT_GIVE_UP, /* stay failed */
} VFIOUserReconnectResult;

/* One attempt, on the main thread; sets @errp unless it returns OK. */
typedef VFIOUserReconnectResult (*VFIOUserReconnectAttempt)(void *opaque,
                                                            GError **errp);

typedef struct VFIOUserReconnect {
    char *name; /* starts log lines: the device, see vfio_user_pci_label() */
    uint32_t interval_ms;
    VFIOUserReconnectAttempt attempt;
    void *opaque;
    VFIOUserReconnectState state;
    guint timer;          /* GLib source id while reconnecting */
    uint64_t retries;     /* failed attempts in the current outage */
    uint64_t disconnects; /* outages seen */
    uint64_t reconnects;  /* outages that ended connected */
    gint64 since_us;      /* monotonic start of the current outage */
    uint64_t last_ms;     /* how long the last outage lasted */
    char *last_error;     /* of the last failed attempt or the outage */
} VFIOUserReconnect;

void vfio_user_reconnect_init(VFIOUserReconnect *r, const char *name,
                              uint32_t interval_ms,
                              VFIOUserReconnectAttempt attempt, void *opaque);
/* Stops the timer; frees the strings. */
void vfio_user_reconnect_cleanup(VFIOUserReconnect *r);

/*
 * The connection failed with @why: start retrying (no-op when already
 * retrying, given up, or interval_ms is 0).  Main thread only.
 */
void vfio_user_reconnect_start(VFIOUserReconnect *r, const char *why);

/* True while retrying or given up. */
bool vfio_user_reconnect_active(const VFIOUserReconnect *r);
const char *vfio_user_reconnect_state_name(VFIOUserReconnectState s);

/* "  reconnect-ms 100: reconnecting, retries 3, ..." lines for the monitor. */
void vfio_user_reconnect_info(const VFIOUserReconnect *r, GString *out);

/* ---- what must stay the same ---- */

#define VFIO_USER_IDENTITY_MAX_REGIONS 16
#define VFIO_USER_IDENTITY_MAX_IRQS 8
#define VFIO_USER_IDENTITY_MAX_CAPS 16

typedef struct VFIOUserDeviceIdentity {
    uint16_t vendor_id, device_id, sub_vendor_id, sub_device_id;
    uint32_t class_rev;   /* config dword 0x08: class code << 8 | revision */
    uint32_t bar_type[6]; /* low 4 bits of each BAR register */
    /*
     * Standard capabilities in list order: flags that shape the registers
     * (MSI without the enables, MSI-X table size) << 16 | position << 8 |
     * id; for MSI-X also table << 32 | PBA register (0 for other ids).
     */
    uint32_t num_caps;
    uint32_t cap[VFIO_USER_IDENTITY_MAX_CAPS];
    uint64_t cap_layout[VFIO_USER_IDENTITY_MAX_CAPS];
    uint32_t num_regions, num_irqs;
    uint64_t region_size[VFIO_USER_IDENTITY_MAX_REGIONS];
    uint32_t region_rw[VFIO_USER_IDENTITY_MAX_REGIONS]; /* READ|WRITE flags */
    uint32_t irq_count[VFIO_USER_IDENTITY_MAX_IRQS];
} VFIOUserDeviceIdentity;

/* Read it from the server behind @dev (config region 7 must exist). */
bool vfio_user_device_identity_read(VFIOUserDevice *dev,
                                    VFIOUserDeviceIdentity *out, GError **errp);
/*
 * false with @errp naming the first difference, e.g. "vendor id 0x4e58,
 * was 0x1234".
 */
bool vfio_user_device_identity_compare(const VFIOUserDeviceIdentity *was,
                                       const VFIOUserDeviceIdentity *now,
                                       GError **errp);

/* ---- the machine's DMA maps, kept across connections ---- */

typedef struct VFIOUserDMAReplay VFIOUserDMAReplay;

VFIOUserDMAReplay *vfio_user_dma_replay_new(void);
void vfio_user_dma_replay_free(VFIOUserDMAReplay *l);
/* Record @s (its name is copied; the fd is not taken, it must stay open). */
void vfio_user_dma_replay_add(VFIOUserDMAReplay *l,
                              const VFIOUserDMASection *s);
/* Forget the section at exactly [iova, iova + size); false if none. */
bool vfio_user_dma_replay_remove(VFIOUserDMAReplay *l, uint64_t iova,
                                 uint64_t size);
unsigned vfio_user_dma_replay_count(const VFIOUserDMAReplay *l);
/* Map every recorded section into @c, in the order they were added. */
bool vfio_user_dma_replay_apply(const VFIOUserDMAReplay *l,
                                VFIOUserContainer *c, GError **errp);

#endif /* HW_VFIO_USER_RECONNECT_H */
