/*
 * libqos-virtio: a guest-side virtio 1.x PCI driver over qtest, in the
 * manner of QEMU's libqos: find the virtio capabilities, reset, negotiate
 * features, set up split virtqueues in guest RAM, program MSI-X, add
 * buffers, kick, and wait for used buffers (MSI-X wait, bounded).
 *
 * The "guest" is the test: rings and buffers live in guest RAM, written and
 * read with qtest memory commands.  Buffers come from a bump allocator in
 * guest RAM from QVIRTIO_ALLOC_BASE.  Single-threaded.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTS_QTEST_LIBQOS_VIRTIO_H
#define TESTS_QTEST_LIBQOS_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include "libqtest.h"

#define QVIRTIO_ALLOC_BASE 0x100000ULL
#define QVIRTIO_MAX_QUEUES 4
#define QVIRTIO_MSI_DATA_BASE 0x4200 /* MSI-X vector N writes BASE + N */

typedef struct QVirtQueue {
    uint16_t index;
    uint16_t num;
    uint64_t desc;
    uint64_t avail;
    uint64_t used;
    uint16_t avail_idx; /* next free driver ring entry */
    uint16_t last_used; /* next device ring entry to look at */
    uint16_t vector;
    uint64_t notify; /* guest address of its doorbell */
} QVirtQueue;

typedef struct QVirtioDev {
    QTestState *qts;
    int slot;
    uint64_t common; /* guest addresses of the structures */
    uint64_t isr;
    uint64_t devcfg;
    uint64_t notify_base;
    uint32_t notify_mult;
    uint64_t msix_table;
    uint64_t features; /* negotiated */
    uint64_t alloc_next;
    uint64_t alloc_end;
    QVirtQueue vq[QVIRTIO_MAX_QUEUES];
    unsigned msi_seen[8]; /* MSIs seen per vector (0..7) */
} QVirtioDev;

/* Find the device's virtio capabilities and BARs; @ram_size of guest RAM. */
void qvirtio_pci_init(QVirtioDev *d, QTestState *qts, int slot,
                      uint64_t ram_size);
/* Write 0 to device_status and wait until it reads 0. */
void qvirtio_reset(QVirtioDev *d);
uint8_t qvirtio_get_status(QVirtioDev *d);
void qvirtio_set_status(QVirtioDev *d, uint8_t status);
/* Reset, ACKNOWLEDGE|DRIVER, accept @wanted & offered, FEATURES_OK. */
uint64_t qvirtio_negotiate(QVirtioDev *d, uint64_t wanted);
/* Program MSI-X vectors 0..@n-1 (VMM_MSI_BASE, DATA_BASE + v), enable. */
void qvirtio_msix_enable(QVirtioDev *d, unsigned n);
void qvirtio_set_config_vector(QVirtioDev *d, uint16_t vector);
/* Set up queue @index with @num entries and MSI-X @vector; enables it. */
QVirtQueue *qvirtqueue_setup(QVirtioDev *d, uint16_t index, uint16_t num,
                             uint16_t vector);
void qvirtio_driver_ok(QVirtioDev *d);

/* @len bytes of guest RAM, @align aligned (power of two). */
uint64_t qvirtio_alloc(QVirtioDev *d, uint64_t len, uint64_t align);

/* One buffer of a chain. */
typedef struct QVirtioSeg {
    uint64_t addr;
    uint32_t len;
    bool write; /* device-writable */
} QVirtioSeg;

/*
 * Write a chain of @n descriptors at table entries @first.. (wrapping) and
 * make it available (no kick).  Returns the head.
 */
uint16_t qvirtqueue_add(QVirtioDev *d, QVirtQueue *q, uint16_t first,
                        const QVirtioSeg *segs, unsigned n);
/* Raw writes, for hostile drivers. */
void qvirtqueue_write_desc(QVirtioDev *d, QVirtQueue *q, uint16_t i,
                           uint64_t addr, uint32_t len, uint16_t flags,
                           uint16_t next);
void qvirtqueue_publish(QVirtioDev *d, QVirtQueue *q, uint16_t head);
void qvirtqueue_set_avail_idx(QVirtioDev *d, QVirtQueue *q, uint16_t idx);
void qvirtqueue_kick(QVirtioDev *d, QVirtQueue *q);
/* Next used element, if the device returned one. */
bool qvirtqueue_get_used(QVirtioDev *d, QVirtQueue *q, uint32_t *id,
                         uint32_t *len);
/*
 * Wait (bounded by @timeout_ms) until @q has a used element; MSIs seen
 * meanwhile are counted in msi_seen.  False on timeout.
 */
bool qvirtqueue_wait_used(QVirtioDev *d, QVirtQueue *q, uint32_t *id,
                          uint32_t *len, int timeout_ms);
/* Wait for an MSI of @vector (counted from @seen). */
bool qvirtio_wait_vector(QVirtioDev *d, unsigned vector, unsigned seen,
                         int timeout_ms);
/* ISR status (reading clears it). */
uint8_t qvirtio_read_isr(QVirtioDev *d);

#endif /* TESTS_QTEST_LIBQOS_VIRTIO_H */
