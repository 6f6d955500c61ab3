/*
 * libFuzzer target: the virtio-net device's descriptor walker
 * (contrib/vfio-user-server/virtio-ring.c) against guest memory that the
 * input is: a 16-byte header picks the queue size and where the rings
 * are, the rest is guest RAM (descriptors, rings and buffers, all hostile).
 * The device then does what it does with each chain: read the readable
 * part, write the writable part, return it, through one access per piece
 * or (header byte 1, low bit) the vectored access.  Any crash, leak, hang
 * or out-of-bounds access is a bug; errors are the expected outcome.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <string.h>
#include "../../contrib/vfio-user-server/virtio-ring.h"
#include "vfio-user/error.h"

typedef struct FuzzMem {
    uint8_t *mem;
    size_t size;
} FuzzMem;

static bool fuzz_rw(FuzzMem *m, uint64_t addr, void *buf, size_t len,
                    bool is_write, GError **errp)
{
    if (addr > m->size || len > m->size - addr) {
        return vfio_user_error_set(errp, EFAULT, "not mapped");
    }
    if (is_write) {
        memcpy(m->mem + addr, buf, len);
    } else {
        memcpy(buf, m->mem + addr, len);
    }
    return true;
}

static bool fuzz_read(void *o, uint64_t a, void *b, size_t l, GError **e)
{
    return fuzz_rw(o, a, b, l, false, e);
}

static bool fuzz_write(void *o, uint64_t a, const void *b, size_t l, GError **e)
{
    return fuzz_rw(o, a, (void *)b, l, true, e);
}

static bool fuzz_rwv(void *o, const VringIov *iov, size_t n, bool is_write,
                     GError **e)
{
    for (size_t i = 0; i < n; i++) {
        if (!fuzz_rw(o, iov[i].addr, iov[i].buf, iov[i].len, is_write, e)) {
            return false;
        }
    }
    return true;
}

static uint64_t get_addr(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    /* the top bit moves the ring near the end of the address space */
    return (v & 0x80000000u) ? UINT64_MAX - (v & 0xffff) : v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[65536 + 64];
    FuzzMem m;
    VringMem mem = {.read = fuzz_read, .write = fuzz_write, .opaque = &m};
    VringChain *c;
    Vring vr;

    if (size < 16) {
        return 0;
    }
    vr = (Vring){
        .num = (uint16_t)(1u << (data[0] % 10)), /* 1..512: 512 is refused */
        .desc = get_addr(data + 2),
        .avail = get_addr(data + 6),
        .used = get_addr(data + 10),
        .last_avail = (uint16_t)(data[14] | data[15] << 8),
    };
    vr.used_idx = vr.last_avail;
    mem.rwv = data[1] & 1 ? fuzz_rwv : NULL;
    if (!vring_check_config(&vr, NULL)) {
        return 0;
    }
    m.size = size - 16;
    m.mem = g_malloc(m.size ? m.size : 1);
    memcpy(m.mem, data + 16, m.size);
    c = g_new(VringChain, 1);
    for (int i = 0; i < 64; i++) {
        GError *err = NULL;
        size_t out;

        if (vring_pop(&vr, &mem, 65536 + 12, c, &err) != VRING_POP_OK) {
            g_clear_error(&err);
            break;
        }
        out = (size_t)MIN(c->out_bytes, (uint64_t)sizeof(buf));
        if (!vring_chain_read(c, &mem, buf, out, &err) ||
            !vring_chain_write(c, &mem, 0, buf,
                               (size_t)MIN(c->in_bytes, (uint64_t)out), &err) ||
            !vring_push(&vr, &mem, c->head, (uint32_t)out, &err)) {
            g_clear_error(&err);
            break;
        }
        vring_want_interrupt(&vr, &mem, NULL);
    }
    g_free(c);
    g_free(m.mem);
    return 0;
}
