/*
 * virtio-ring: the device side of a virtio 1.x split virtqueue, walking
 * descriptor chains that a (possibly malicious) driver put in guest
 * memory.  It knows nothing of the server library: every access to guest
 * memory goes through a VringMem, so that the device can use the library's
 * DMA API (every access mode) and the fuzzer a plain buffer.
 *
 * Layout (virtio 1.x, little-endian): descriptor table of @num 16-byte
 * entries {addr, len, flags, next}; driver ("avail") ring {flags, idx,
 * ring[num]}; device ("used") ring {flags, idx, {id, len}[num]}.  Indexes
 * are free-running 16-bit counters; the entry is idx % num.
 *
 * Everything the driver wrote is checked before it is used: a ring index
 * more than @num ahead, a head or next index out of the table, a chain
 * longer than the table (a loop), a readable descriptor after a writable
 * one, an indirect descriptor (not offered), a buffer whose end wraps
 * around 2^64, or a chain larger than the caller's limit is an error: the
 * caller marks the device DEVICE_NEEDS_RESET and stops using the queue.
 * Unmapped or forbidden guest addresses are errors of the VringMem.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VIRTIO_RING_H
#define VIRTIO_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define VRING_MAX_SIZE 256 /* largest queue the device offers */

/* One piece of a vectored access: guest [addr, addr + len) and @buf. */
typedef struct VringIov {
    uint64_t addr;
    void *buf;
    size_t len;
} VringIov;

/*
 * Guest memory, as the device reaches it.  False with @errp set on error.
 * @rwv is optional: the pieces of one step (a chain's buffers, a used
 * element and the index that publishes it) in one call, in order, each
 * piece of a write visible before the next (the server library's
 * vus_dma_readv()/_writev(), whose message-mode requests overlap); when
 * NULL, one @read or @write per piece.
 */
typedef struct VringMem {
    bool (*read)(void *opaque, uint64_t addr, void *buf, size_t len,
                 GError **errp);
    bool (*write)(void *opaque, uint64_t addr, const void *buf, size_t len,
                  GError **errp);
    bool (*rwv)(void *opaque, const VringIov *iov, size_t n, bool is_write,
                GError **errp);
    void *opaque;
} VringMem;

/* One queue as the driver configured it, plus the device's position. */
typedef struct Vring {
    uint16_t num;        /* entries, power of two <= VRING_MAX_SIZE */
    uint64_t desc;       /* descriptor table, 16-byte aligned */
    uint64_t avail;      /* driver ring, 2-byte aligned */
    uint64_t used;       /* device ring, 4-byte aligned */
    uint16_t last_avail; /* next driver ring entry to take */
    uint16_t used_idx;   /* next device ring entry to fill */
} Vring;

typedef struct VringSeg {
    uint64_t addr;
    uint32_t len;
} VringSeg;

/* One descriptor chain: @nout readable segments, then @nin writable. */
typedef struct VringChain {
    uint16_t head;
    uint16_t nout;
    uint16_t nin;
    uint64_t out_bytes;
    uint64_t in_bytes;
    VringSeg seg[VRING_MAX_SIZE];
} VringChain;

typedef enum VringPopResult {
    VRING_POP_ERROR = -1,
    VRING_POP_EMPTY = 0,
    VRING_POP_OK = 1,
} VringPopResult;

/*
 * Check a queue's configuration (size, alignment, rings that do not wrap
 * around the address space) before it is used.
 */
bool vring_check_config(const Vring *vr, GError **errp);

/*
 * Take the next available chain into @c, if the driver made one
 * available.  @max_bytes bounds out_bytes + in_bytes.
 */
VringPopResult vring_pop(Vring *vr, const VringMem *mem, uint64_t max_bytes,
                         VringChain *c, GError **errp);

/* Return chain @head to the driver with @len bytes written into it. */
bool vring_push(Vring *vr, const VringMem *mem, uint16_t head, uint32_t len,
                GError **errp);

/* Does the driver want an interrupt for used buffers (no NO_INTERRUPT)? */
bool vring_want_interrupt(const Vring *vr, const VringMem *mem, GError **errp);

/*
 * Copy the first @len readable bytes of @c into @buf (false if the chain
 * has fewer) / @len bytes of @buf into the writable part at offset @off.
 */
bool vring_chain_read(const VringChain *c, const VringMem *mem, void *buf,
                      size_t len, GError **errp);
bool vring_chain_write(const VringChain *c, const VringMem *mem, uint64_t off,
                       const void *buf, size_t len, GError **errp);

#endif /* VIRTIO_RING_H */
