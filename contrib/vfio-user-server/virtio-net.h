/*
 * virtio-net: private interface between the virtio-pci transport of the
 * sample network device (virtio-net.c) and its libslirp backend with the
 * device thread (virtio-net-slirp.c).
 *
 * Threads and locks.  The library's serving thread runs the BAR and reset
 * callbacks (with the server lock held); they only change the transport
 * state below under VnetDevice.lock and wake the device thread.  The
 * device thread runs slirp and the queues: it copies what it needs under
 * VnetDevice.lock, then reaches guest memory and signals interrupts
 * through the library WITHOUT that lock (the library takes its own lock,
 * which the serving thread holds while it waits for ours: the order is
 * server lock, then device lock, never the reverse).
 *
 * Reset (status 0, DEVICE_RESET, client gone) is asynchronous: it bumps
 * reset_gen; device_status reads back the old value until the device
 * thread has dropped its rings and acknowledged (acked_gen), as virtio
 * lets a driver wait for a read of 0.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VIRTIO_NET_SAMPLE_H
#define VIRTIO_NET_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include "devices.h"
#include "virtio-ring.h"

#define VNET_NUM_QUEUES 2
#define VNET_RXQ 0
#define VNET_TXQ 1
#define VNET_NUM_VECTORS 3 /* config, rx, tx */

#define VNET_FEATURES                                                          \
    ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC) |               \
     (1ull << VIRTIO_NET_F_STATUS))

/* Largest frame either way (no offloads: an Ethernet MTU of 1500). */
#define VNET_MAX_FRAME 1514
#define VNET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr_v1))

typedef struct VnetQueue {
    uint16_t size;
    uint16_t vector;
    bool enabled;
    uint64_t desc;
    uint64_t avail;
    uint64_t used;
} VnetQueue;

typedef struct VnetBackend VnetBackend;

typedef struct VnetDevice {
    VusServer *srv;
    uint8_t mac[6];

    GMutex lock; /* guards everything from here to the backend */
    uint32_t dfselect;
    uint32_t gfselect;
    uint64_t driver_features;
    uint8_t status;
    uint8_t old_status; /* read back while a reset is pending */
    uint16_t queue_select;
    uint16_t config_vector;
    VnetQueue q[VNET_NUM_QUEUES];
    uint8_t isr;
    uint32_t reset_gen; /* bumped by each reset request */
    uint32_t acked_gen; /* the device thread has dropped older rings */
    bool kick[VNET_NUM_QUEUES];
    uint64_t needs_reset_count; /* times the device gave up on the driver */

    VnetBackend *be; /* the device thread's own state */
} VnetDevice;

/* virtio-net.c: the transport, for the backend. */

/* Snapshot for the device thread (under the lock). */
typedef struct VnetSync {
    uint32_t gen;
    bool running; /* DRIVER_OK and not NEEDS_RESET */
    VnetQueue q[VNET_NUM_QUEUES];
    bool kick[VNET_NUM_QUEUES]; /* taken: cleared in the device */
} VnetSync;

/* Take the snapshot and acknowledge resets up to its generation. */
void vnet_sync(VnetDevice *dev, VnetSync *s);
/*
 * The driver broke a rule (@why): set DEVICE_NEEDS_RESET (unless a reset
 * of generation > @gen came meanwhile) and raise the config interrupt.
 */
void vnet_fail(VnetDevice *dev, uint32_t gen, const char *why);
/* Used buffers on queue @q (of generation @gen): ISR bit and interrupt. */
void vnet_notify_queue(VnetDevice *dev, uint32_t gen, unsigned q);

/* virtio-net-slirp.c: the backend. */

/*
 * Parse "user[,hostfwd=tcp:[127.0.0.1]:PORT-[GUESTADDR]:GUESTPORT]...".
 * Returns the backend (not started) or NULL with @errp set.
 */
VnetBackend *vnet_backend_new(const char *netdev, GError **errp);
/* Start slirp and the device thread for @dev. */
bool vnet_backend_start(VnetBackend *be, VnetDevice *dev, GError **errp);
/* Wake the device thread (a kick or a reset came). */
void vnet_backend_wake(VnetBackend *be);
/* Stop the device thread (idempotent); no DMA after it returns. */
void vnet_backend_stop(VnetBackend *be);
void vnet_backend_free(VnetBackend *be);

typedef struct VnetStats {
    uint64_t tx_packets;
    uint64_t tx_bytes;
    uint64_t tx_filtered; /* not to the virtual network: dropped */
    uint64_t rx_packets;
    uint64_t rx_bytes;
    uint64_t rx_dropped; /* no receive buffer and the backlog full */
} VnetStats;

void vnet_backend_stats(VnetBackend *be, VnetStats *st);

/*
 * May the guest send this frame?  IPv4 only to the virtual network
 * 10.0.2.0/24 or broadcast (slirp maps 10.0.2.2 to the host's loopback),
 * ARP, nothing else.
 */
bool vnet_frame_allowed(const uint8_t *frame, size_t len);

#endif /* VIRTIO_NET_SAMPLE_H */
