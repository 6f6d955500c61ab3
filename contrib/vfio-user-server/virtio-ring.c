/*
 * virtio-ring: device side of a split virtqueue (see virtio-ring.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <linux/virtio_ring.h>
#include "vfio-user/error.h"
#include "virtio-ring.h"

_Static_assert(sizeof(struct vring_desc) == 16, "descriptor size");
_Static_assert(sizeof(struct vring_used_elem) == 8, "used element size");

/* Offsets in the driver and device rings. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_IDX 2
#define USED_RING 4

/* Does [addr, addr + len) wrap around the address space? */
static bool range_wraps(uint64_t addr, uint64_t len)
{
    return len && addr + len - 1 < addr;
}

bool vring_check_config(const Vring *vr, GError **errp)
{
    uint64_t n = vr->num;

    if (!n || n > VRING_MAX_SIZE || (n & (n - 1))) {
        return vfio_user_error_set(
            errp, EINVAL, "queue size %u is not a power of two up to %u",
            vr->num, VRING_MAX_SIZE);
    }
    if ((vr->desc & 15) || (vr->avail & 1) || (vr->used & 3)) {
        return vfio_user_error_set(errp, EINVAL,
                                   "queue rings misaligned (desc 0x%" PRIx64
                                   ", avail 0x%" PRIx64 ", used 0x%" PRIx64 ")",
                                   vr->desc, vr->avail, vr->used);
    }
    if (range_wraps(vr->desc, 16 * n) || range_wraps(vr->avail, 6 + 2 * n) ||
        range_wraps(vr->used, 6 + 8 * n)) {
        return vfio_user_error_set(errp, EINVAL,
                                   "queue ring wraps around the address space");
    }
    return true;
}

/* @n pieces in order; a written piece is visible before the next. */
static bool mem_rwv(const VringMem *mem, const VringIov *iov, size_t n,
                    bool is_write, GError **errp)
{
    if (mem->rwv) {
        return !n || mem->rwv(mem->opaque, iov, n, is_write, errp);
    }
    for (size_t i = 0; i < n; i++) {
        if (i && is_write) {
            __atomic_thread_fence(__ATOMIC_RELEASE);
        }
        if (is_write ? !mem->write(mem->opaque, iov[i].addr, iov[i].buf,
                                   iov[i].len, errp)
                     : !mem->read(mem->opaque, iov[i].addr, iov[i].buf,
                                  iov[i].len, errp)) {
            return false;
        }
    }
    return true;
}

static bool read16(const VringMem *mem, uint64_t addr, uint16_t *v,
                   GError **errp)
{
    uint16_t le;

    if (!mem->read(mem->opaque, addr, &le, sizeof(le), errp)) {
        return false;
    }
    *v = GUINT16_FROM_LE(le);
    return true;
}

static bool read_desc(const Vring *vr, const VringMem *mem, uint16_t i,
                      struct vring_desc *d, GError **errp)
{
    if (!mem->read(mem->opaque, vr->desc + 16ull * i, d, sizeof(*d), errp)) {
        return false;
    }
    d->addr = GUINT64_FROM_LE(d->addr);
    d->len = GUINT32_FROM_LE(d->len);
    d->flags = GUINT16_FROM_LE(d->flags);
    d->next = GUINT16_FROM_LE(d->next);
    return true;
}

/* Append descriptor @d to @c, with the chain rules. */
static bool chain_add(VringChain *c, const struct vring_desc *d,
                      uint64_t max_bytes, GError **errp)
{
    bool writable = d->flags & VRING_DESC_F_WRITE;
    unsigned n = c->nout + c->nin;

    if (d->flags & VRING_DESC_F_INDIRECT) {
        return vfio_user_error_set(
            errp, EINVAL, "indirect descriptor in chain %u (not negotiated)",
            c->head);
    }
    if (!writable && c->nin) {
        return vfio_user_error_set(
            errp, EINVAL, "chain %u: readable descriptor after a writable one",
            c->head);
    }
    if (range_wraps(d->addr, d->len)) {
        return vfio_user_error_set(errp, EINVAL,
                                   "chain %u: buffer 0x%" PRIx64
                                   "+0x%x wraps around the address space",
                                   c->head, (uint64_t)d->addr, d->len);
    }
    if (c->out_bytes + c->in_bytes + d->len > max_bytes) {
        return vfio_user_error_set(errp, EMSGSIZE,
                                   "chain %u is longer than %" PRIu64 " bytes",
                                   c->head, max_bytes);
    }
    c->seg[n] = (VringSeg){.addr = d->addr, .len = d->len};
    if (writable) {
        c->nin++;
        c->in_bytes += d->len;
    } else {
        c->nout++;
        c->out_bytes += d->len;
    }
    return true;
}

/* Walk the chain starting at @head into @c. */
static bool walk_chain(const Vring *vr, const VringMem *mem, uint16_t head,
                       uint64_t max_bytes, VringChain *c, GError **errp)
{
    struct vring_desc d;
    uint16_t i = head;

    memset(c, 0, offsetof(VringChain, seg));
    c->head = head;
    for (;;) {
        if (i >= vr->num) {
            return vfio_user_error_set(
                errp, EINVAL,
                "chain %u: descriptor index %u out of a table of %u", head, i,
                vr->num);
        }
        if (c->nout + c->nin >= vr->num) {
            return vfio_user_error_set(
                errp, ELOOP, "chain %u is longer than the table (%u): a loop",
                head, vr->num);
        }
        if (!read_desc(vr, mem, i, &d, errp) ||
            !chain_add(c, &d, max_bytes, errp)) {
            return false;
        }
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            return true;
        }
        i = d.next;
    }
}

VringPopResult vring_pop(Vring *vr, const VringMem *mem, uint64_t max_bytes,
                         VringChain *c, GError **errp)
{
    uint16_t avail_idx, head;

    if (!read16(mem, vr->avail + AVAIL_IDX, &avail_idx, errp)) {
        return VRING_POP_ERROR;
    }
    if ((uint16_t)(avail_idx - vr->last_avail) > vr->num) {
        vfio_user_error_set(errp, EINVAL,
                            "driver ring index %u is more than %u ahead of %u",
                            avail_idx, vr->num, vr->last_avail);
        return VRING_POP_ERROR;
    }
    if (avail_idx == vr->last_avail) {
        return VRING_POP_EMPTY;
    }
    /* Read the entry only after the index that published it. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (!read16(mem, vr->avail + AVAIL_RING + 2ull * (vr->last_avail % vr->num),
                &head, errp) ||
        !walk_chain(vr, mem, head, max_bytes, c, errp)) {
        return VRING_POP_ERROR;
    }
    vr->last_avail++;
    return VRING_POP_OK;
}

bool vring_push(Vring *vr, const VringMem *mem, uint16_t head, uint32_t len,
                GError **errp)
{
    struct vring_used_elem e = {
        .id = GUINT32_TO_LE(head),
        .len = GUINT32_TO_LE(len),
    };
    uint16_t idx = GUINT16_TO_LE((uint16_t)(vr->used_idx + 1));
    /* The element must be visible before the index that publishes it. */
    VringIov iov[2] = {
        {vr->used + USED_RING + 8ull * (vr->used_idx % vr->num), &e, sizeof(e)},
        {vr->used + USED_IDX, &idx, sizeof(idx)},
    };

    if (!mem_rwv(mem, iov, 2, true, errp)) {
        return false;
    }
    vr->used_idx++;
    return true;
}

bool vring_want_interrupt(const Vring *vr, const VringMem *mem, GError **errp)
{
    uint16_t flags;

    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!read16(mem, vr->avail + AVAIL_FLAGS, &flags, errp)) {
        return true; /* the caller sees the error through @errp */
    }
    return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
}

bool vring_chain_read(const VringChain *c, const VringMem *mem, void *buf,
                      size_t len, GError **errp)
{
    VringIov iov[VRING_MAX_SIZE];
    uint8_t *p = buf;
    size_t n = 0;

    if (len > c->out_bytes) {
        return vfio_user_error_set(
            errp, EINVAL, "chain %u has %" PRIu64 " readable bytes, not %zu",
            c->head, c->out_bytes, len);
    }
    for (unsigned i = 0; i < c->nout && len; i++) {
        size_t k = MIN((size_t)c->seg[i].len, len);

        if (k) {
            iov[n++] = (VringIov){c->seg[i].addr, p, k};
        }
        p += k;
        len -= k;
    }
    return mem_rwv(mem, iov, n, false, errp);
}

bool vring_chain_write(const VringChain *c, const VringMem *mem, uint64_t off,
                       const void *buf, size_t len, GError **errp)
{
    VringIov iov[VRING_MAX_SIZE];
    uint8_t *p = (uint8_t *)buf; /* only read: a write */
    size_t n = 0;

    if (off > c->in_bytes || len > c->in_bytes - off) {
        return vfio_user_error_set(errp, EMSGSIZE,
                                   "chain %u has %" PRIu64
                                   " writable bytes, %zu needed at %" PRIu64,
                                   c->head, c->in_bytes, len, off);
    }
    for (unsigned i = c->nout; i < c->nout + c->nin && len; i++) {
        const VringSeg *s = &c->seg[i];
        size_t k;

        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        k = MIN((size_t)(s->len - off), len);
        iov[n++] = (VringIov){s->addr + off, p, k};
        off = 0;
        p += k;
        len -= k;
    }
    return mem_rwv(mem, iov, n, true, errp);
}
