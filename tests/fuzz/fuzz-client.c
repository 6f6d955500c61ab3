/*
 * libFuzzer target: the client library's handling of everything a server
 * can send once VERSION is negotiated.
 *
 * Per input, on one thread: an in-memory transport pair; the client's
 * proxy runs without a receive thread on one end (a blocking request
 * reads and dispatches what comes until its reply is in), so every
 * message the input holds is handled on the fuzzer's thread.  The other
 * end is played by a feeder that reacts to what the client sends and to
 * the client running out of bytes to read: a valid VERSION reply is
 * queued first; the three DMA maps of a small container (anonymous guest
 * RAM, so the maps are served by DMA_READ/DMA_WRITE messages) are answered
 * as they are sent; then the input is released message by message as the
 * client reads, while the main thread drives the client (device init and
 * I/O, raw proxy calls, or one call that waits while the input's DMA
 * requests are served), and the rest of the input after that.
 *
 * Input layout: byte 0 selects the behaviour (bit 0: give each reply the
 * id of the client request it follows; bits 1-2: the client workload;
 * bit 3: every reply carries a 64 KiB memfd (region fds), bit 4: and an
 * eventfd (io fds)),
 * then messages, cut at the size in each header (a bad size sends the
 * rest raw).  A reply waits for the client request it follows; when the
 * client reads and none is outstanding, replies stop waiting.  After the
 * last byte the client reads end of stream, so nothing ever waits.
 *
 * Oracles besides the sanitizers: guest memory outside the writable maps
 * (the read-only map and the unmapped gaps) never changes, and no fd
 * outlives the input.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>

#include "hw/vfio-user/container.h"
#include "hw/vfio-user/device.h"
#include "hw/vfio-user/proxy.h"
#include "vfio-user/caps.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

#define MSG_TIMEOUT_MS 50
#define GUEST_SIZE 0x10000
#define N_MAPS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* iova, offset in guest[], size, read-only */
static const struct {
    uint64_t iova;
    size_t off;
    uint64_t size;
    bool ro;
} maps[N_MAPS] = {
    {0x10000, 0x1000, 0x4000, false},
    {0x14000, 0x5000, 0x4000, true},
    {0x20000, 0xa000, 0x2000, false},
};

static uint8_t guest[GUEST_SIZE];

typedef struct Feeder {
    VfioUserTransport base;    /* the client's end */
    VfioUserTransport *mem[2]; /* [0] the client's, [1] the feeder's */
    const uint8_t *data;
    size_t size, pos;
    int fds[2]; /* sent with every reply: a memfd, an eventfd (or -1) */
    size_t nfds;
    bool patch_ids;
    bool lockstep;
    int maps_left;    /* DMA_MAPs still answered as they come */
    GByteArray *sent; /* what the client sent, not yet parsed */
    GQueue requests;  /* ids (GUINT_TO_POINTER) of unanswered requests */
} Feeder;

static void feeder_send(Feeder *f, const void *buf, size_t len, const int *fds,
                        size_t nfds)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    if (!vfio_user_tr_sendv(f->mem[1], &iov, 1, fds, nfds, NULL)) {
        abort();
    }
}

/* A request of the client: answer a container DMA_MAP, else remember it. */
static void feeder_request(Feeder *f, const VFIOUserHdr *req)
{
    VFIOUserHdr hdr;

    if (f->maps_left) {
        if (req->cmd == VFIO_USER_DMA_MAP) {
            vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr),
                               VFIO_USER_F_TYPE_REPLY);
            feeder_send(f, &hdr, sizeof(hdr), NULL, 0);
            if (--f->maps_left == 0) {
                g_queue_clear(&f->requests);
            }
        }
        return;
    }
    g_queue_push_tail(&f->requests, GUINT_TO_POINTER(req->id));
}

/* Whole messages the client sent: requests are noted, replies skipped. */
static void feeder_parse(Feeder *f)
{
    VFIOUserHdr hdr;

    while (f->sent->len >= sizeof(hdr)) {
        memcpy(&hdr, f->sent->data, sizeof(hdr));
        if (hdr.size < sizeof(hdr) || f->sent->len < hdr.size) {
            return;
        }
        if (!vfio_user_hdr_is_reply(&hdr)) {
            feeder_request(f, &hdr);
        }
        g_byte_array_remove_range(f->sent, 0, hdr.size);
    }
}

/* The client has read everything: release the next input message. */
static void feeder_next(Feeder *f)
{
    size_t left = f->size - f->pos, len = left;
    uint8_t msg[65536 + 16];
    VFIOUserHdr hdr;
    bool reply = false;

    if (left == 0 || f->maps_left) {
        f->mem[1]->ops->shutdown(f->mem[1], SHUT_WR);
        return;
    }
    if (left >= sizeof(hdr)) {
        memcpy(&hdr, f->data + f->pos, sizeof(hdr));
        if (hdr.size >= sizeof(hdr) && hdr.size <= left) {
            len = hdr.size;
        }
        reply = len >= sizeof(hdr) && vfio_user_hdr_is_reply(&hdr);
    }
    memcpy(msg, f->data + f->pos, len);
    if (reply && f->lockstep) {
        if (g_queue_is_empty(&f->requests)) {
            f->lockstep = false; /* the client waits for nothing more */
        } else {
            uint16_t id = GPOINTER_TO_UINT(g_queue_pop_head(&f->requests));

            if (f->patch_ids) {
                memcpy(msg, &id, sizeof(id));
            }
        }
    }
    feeder_send(f, msg, len, f->fds, reply ? f->nfds : 0);
    f->pos += len;
}

static ssize_t feed_send(VfioUserTransport *t, const struct iovec *iov,
                         int iovcnt, const int *fds, size_t nfds, int flags)
{
    Feeder *f = (Feeder *)t;
    size_t len = 0;

    (void)fds;
    (void)nfds;
    (void)flags;
    for (int i = 0; i < iovcnt; i++) {
        g_byte_array_append(f->sent, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    feeder_parse(f);
    return (ssize_t)len;
}

static ssize_t feed_recv(VfioUserTransport *t, struct iovec *iov, int iovcnt,
                         int *fds, size_t *nfds, bool *truncated, int flags)
{
    Feeder *f = (Feeder *)t;
    VfioUserTransport *m = f->mem[0];
    ssize_t n =
        m->ops->recv(m, iov, iovcnt, fds, nfds, truncated, MSG_DONTWAIT);

    (void)flags;
    if (n < 0 && errno == EAGAIN) {
        feeder_next(f);
        n = m->ops->recv(m, iov, iovcnt, fds, nfds, truncated, MSG_DONTWAIT);
    }
    return n;
}

static void feed_shutdown(VfioUserTransport *t, int how)
{
    Feeder *f = (Feeder *)t;

    f->mem[0]->ops->shutdown(f->mem[0], how);
}

static void feed_close(VfioUserTransport *t)
{
    Feeder *f = (Feeder *)t;

    vfio_user_transport_close(f->mem[0]);
    vfio_user_transport_close(f->mem[1]);
    g_byte_array_unref(f->sent);
    g_queue_clear(&f->requests);
}

static const VfioUserTransportOps feed_ops = {
    .send = feed_send,
    .recv = feed_recv,
    .shutdown = feed_shutdown,
    .close = feed_close,
};

static void queue_version_reply(Feeder *f)
{
    static const char json[] =
        "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":65536,\"pgsizes\":4096,\"write_multiple\":true}}";
    uint8_t buf[sizeof(VFIOUserHdr) + 4 + sizeof(json)];
    VFIOUserHdr hdr;
    uint16_t v[2] = {0, 1};

    vfio_user_hdr_init(&hdr, 0, VFIO_USER_VERSION, sizeof(buf),
                       VFIO_USER_F_TYPE_REPLY);
    memcpy(buf, &hdr, sizeof(hdr));
    memcpy(buf + sizeof(hdr), v, sizeof(v));
    memcpy(buf + sizeof(hdr) + 4, json, sizeof(json));
    feeder_send(f, buf, sizeof(buf), NULL, 0);
}

static void workload_device(VFIOUserProxy *p)
{
    VFIOUserDevice dev;
    struct vfio_irq_info irq;
    uint64_t v = 0x1122334455667788ull;
    int efd[2] = {eventfd(0, EFD_CLOEXEC), -1};

    if (vfio_user_device_init(&dev, p, NULL)) {
        vfio_user_region_read(&dev, 0, 0, &v, sizeof(v), NULL);
        vfio_user_region_write(&dev, 0, 8, &v, 4, true, NULL);
        vfio_user_region_write(&dev, 0, 8, &v, 4, false, NULL);
        vfio_user_device_get_irq_info(&dev, 0, &irq, NULL);
        vfio_user_device_set_irqs(
            &dev, 0, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0,
            2, efd, NULL, NULL);
        vfio_user_device_get_region_io_fds(&dev, 0, NULL);
        vfio_user_device_reset(&dev, NULL);
        vfio_user_device_cleanup(&dev);
    }
    close(efd[0]);
}

static void workload_raw(VFIOUserProxy *p)
{
    uint8_t reply[256], q[32] = {32};
    int fds[4];
    struct iovec iov = {.iov_base = q, .iov_len = sizeof(q)};
    struct iovec riov = {.iov_base = reply, .iov_len = sizeof(reply)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_REGION_INFO,
        .iov = &iov,
        .iovcnt = 1,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
        .reply_fds = fds,
        .reply_max_fds = 4,
    };

    if (vfio_user_proxy_call(p, &req, NULL)) {
        vfio_user_close_fds(fds, req.reply_nfds);
    }
    req.cmd = VFIO_USER_REGION_WRITE;
    req.reply_fds = NULL;
    req.reply_max_fds = 0;
    vfio_user_proxy_post(p, &req, NULL);
    req.cmd = VFIO_USER_DEVICE_GET_INFO;
    req.iov = NULL;
    req.iovcnt = 0;
    vfio_user_proxy_call(p, &req, NULL);
}

static void workload_wait(VFIOUserProxy *p)
{
    uint8_t reply[16];
    struct iovec riov = {.iov_base = reply, .iov_len = sizeof(reply)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_RESET,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
    };

    vfio_user_proxy_call(p, &req, NULL);
}

/* The pattern guest RAM starts each input with. */
static uint8_t guest_ref[GUEST_SIZE];

static bool writable_at(size_t i)
{
    for (int m = 0; m < N_MAPS; m++) {
        if (!maps[m].ro && i >= maps[m].off && i < maps[m].off + maps[m].size) {
            return true;
        }
    }
    return false;
}

/*
 * Guest RAM the server may never change: the read-only map, the gaps.
 * Compared range by range (the maps' edges), not byte by byte: this runs
 * for every input.
 */
static bool guest_intact(void)
{
    size_t i = 0;

    while (i < GUEST_SIZE) {
        size_t end = GUEST_SIZE;
        bool w = writable_at(i);

        for (int m = 0; m < N_MAPS; m++) {
            size_t e[2] = {maps[m].off, maps[m].off + maps[m].size};

            for (int k = 0; k < 2; k++) {
                if (e[k] > i && e[k] < end) {
                    end = e[k];
                }
            }
        }
        if (!w && memcmp(guest + i, guest_ref + i, end - i)) {
            return false;
        }
        i = end;
    }
    return true;
}

static void run_client(Feeder *f, uint8_t ctl)
{
    VFIOUserProxyOptions o;
    VFIOUserContainer *c;
    VFIOUserProxy *p;
    bool mapped = true;

    vfio_user_proxy_options_init(&o);
    o.msg_timeout_ms = MSG_TIMEOUT_MS;
    p = vfio_user_proxy_new_inline(&f->base, &o, NULL);
    if (!p) {
        abort(); /* the VERSION reply is valid */
    }
    c = vfio_user_container_new(p, VFIO_USER_DMA_ACCESS_AUTO);
    for (int m = 0; m < N_MAPS && mapped; m++) {
        VFIOUserDMASection s = {
            .name = "fuzz-ram",
            .iova = maps[m].iova,
            .size = maps[m].size,
            .host = guest + maps[m].off,
            .fd = -1,
            .readonly = maps[m].ro,
        };

        mapped = vfio_user_container_map(c, &s, NULL);
    }
    if (mapped) {
        switch ((ctl >> 1) & 3) {
        case 0:
            workload_device(p);
            break;
        case 1:
            workload_raw(p);
            break;
        default:
            workload_wait(p);
            break;
        }
    }
    /* The rest of the input, as a receive thread would have read it. */
    while (vfio_user_proxy_pump(p, NULL)) {
    }
    vfio_user_container_free(c);
    vfio_user_proxy_close(p);
}

static void quiet_log(const gchar *domain, GLogLevelFlags level,
                      const gchar *message, gpointer opaque)
{
    (void)domain;
    (void)level;
    (void)message;
    (void)opaque;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const domains[] = {
        "vfio-user-proxy",
        "vfio-user-dma",
        "vfio-user-device",
    };
    static bool init;
    static int ready_fd;
    unsigned fds0;
    Feeder f = {.base = {.ops = &feed_ops}};
    int extra[2] = {-1, -1};

    if (size < 1 || size > 65536) {
        return 0;
    }
    if (!init) {
        init = true;
        for (size_t i = 0; i < GUEST_SIZE; i++) {
            guest_ref[i] = (uint8_t)(i * 13 + 1);
        }
        ready_fd = eventfd(1, EFD_CLOEXEC); /* stays readable */
        if (ready_fd < 0) {
            abort();
        }
        g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
        for (size_t i = 0; i < G_N_ELEMENTS(domains); i++) {
            g_log_set_handler(domains[i],
                              G_LOG_LEVEL_MASK & ~G_LOG_LEVEL_CRITICAL,
                              quiet_log, NULL);
        }
    }
    /* Counted per input: libFuzzer itself opens fds between inputs. */
    fds0 = vut_count_fds();
    memcpy(guest, guest_ref, GUEST_SIZE);
    if (!vfio_user_transport_mem_pair(f.mem, NULL)) {
        abort();
    }
    /* The client polls before it reads: it may always read, the feeder
     * releases input or ends the stream then. */
    f.base.fd = ready_fd;
    f.data = data + 1;
    f.size = size - 1;
    f.patch_ids = data[0] & 1;
    f.lockstep = true;
    f.maps_left = N_MAPS;
    f.sent = g_byte_array_new();
    g_queue_init(&f.requests);
    f.fds[0] = f.fds[1] = -1;
    if (data[0] & 8) {
        f.fds[f.nfds] = memfd_create("fuzz-region", MFD_CLOEXEC);
        if (f.fds[f.nfds] < 0 || ftruncate(f.fds[f.nfds], 0x10000) < 0) {
            abort();
        }
        f.nfds++;
    }
    if (data[0] & 16) {
        f.fds[f.nfds++] = eventfd(0, EFD_CLOEXEC);
    }
    memcpy(extra, f.fds, sizeof(extra));
    queue_version_reply(&f);
    run_client(&f, data[0]);
    vfio_user_close_fds(extra, 2);
    if (!guest_intact() || vut_count_fds() != fds0) {
        abort();
    }
    return 0;
}
