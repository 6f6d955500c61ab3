/*
 * libFuzzer target: libvfio-user-server's handling of any byte stream a
 * client can send.
 *
 * Per input: a fresh server with a small device (a callback BAR that
 * starts DMA and interrupts when written, a memory BAR with a sparse area,
 * a read-only BAR, PCI config space with MSI, an ioeventfd) is attached to
 * one end of an in-memory transport pair and served on this thread until
 * the stream ends.  The input was queued on the other end beforehand,
 * followed by end of stream; what the server sends is dropped as it is
 * sent.  No socket, no thread, no wait: one thread runs the whole input.
 *
 * Input layout: byte 0 selects (bit 0) whether a valid VERSION goes first
 * and which fds travel with the first byte of the rest: bit 1 a 64 KiB
 * memfd (for DMA_MAP in mmap / file-I/O mode), bit 2 two eventfds (for
 * SET_IRQS).  The server's own DMA requests find either their answer in
 * the input or the end of the stream, so nothing waits.
 *
 * Oracles besides the sanitizers: vus_server_run() returns, no DMA map
 * survives the connection and no fd outlives the input.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib.h>

#include "vfio-user/caps.h"
#include "vfio-user/server.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Dev {
    VusServer *srv;
    uint8_t bar0[4096];
    uint8_t bar2[64];
    uint8_t buf[4096];
} Dev;

/* 0x0 write: DMA read, 0x4 write: DMA write, both of bar0[0x18] bytes at
 * bar0[0x8]; 0x10 write: trigger MSI vector bar0[0x14]. */
static ssize_t bar0_access(void *opaque, bool is_write, uint64_t off, void *buf,
                           size_t len)
{
    Dev *d = opaque;
    uint64_t addr;
    uint32_t n, vec;

    if (!is_write) {
        memcpy(buf, d->bar0 + off, len);
        return len;
    }
    memcpy(d->bar0 + off, buf, len);
    memcpy(&addr, d->bar0 + 8, sizeof(addr));
    memcpy(&n, d->bar0 + 0x18, sizeof(n));
    memcpy(&vec, d->bar0 + 0x14, sizeof(vec));
    n = MIN(n, sizeof(d->buf));
    if (off == 0) {
        vus_dma_read(d->srv, addr, d->buf, n, NULL);
    } else if (off == 4) {
        vus_dma_write(d->srv, addr, d->buf, n, NULL);
    } else if (off == 0x10) {
        vus_irq_trigger(d->srv, VFIO_PCI_MSI_IRQ_INDEX, vec);
    }
    return len;
}

static ssize_t bar2_access(void *opaque, bool is_write, uint64_t off, void *buf,
                           size_t len)
{
    Dev *d = opaque;

    if (is_write) {
        abort(); /* the library must refuse writes to a read-only region */
    }
    memcpy(buf, d->bar2 + off, len);
    return len;
}

static VusServer *make_server(Dev *d)
{
    static const VusSparseArea sparse = {.offset = 4096, .size = 4096};
    VusServerOptions o = {.dma_timeout_ms = 50};
    VusRegionDesc bar0 = {.size = sizeof(d->bar0),
                          .flags = VUS_REGION_F_RW,
                          .access = bar0_access,
                          .opaque = d};
    VusRegionDesc bar1 = {.size = 8192,
                          .flags = VUS_REGION_F_RW,
                          .mem = true,
                          .sparse = &sparse,
                          .nr_sparse = 1};
    VusRegionDesc bar2 = {.size = sizeof(d->bar2),
                          .flags = VUS_REGION_F_READ,
                          .access = bar2_access,
                          .opaque = d};
    VusRegionDesc dev9 = {.size = 4096,
                          .flags = VUS_REGION_F_RW,
                          .mem = true,
                          .has_type = true,
                          .type = 1,
                          .subtype = 2};
    VusPciDesc pci = {.vendor_id = 0x1234,
                      .device_id = 0xfeed,
                      .class_code = 0xff0000,
                      .intx_pin = 1,
                      .msi_vectors = 4,
                      .express = true};
    bool ok;

    vfio_user_caps_init_ours(&o.caps);
    o.caps.max_data_xfer_size = 65536;
    o.caps.max_msg_fds = 8;
    memset(d, 0, sizeof(*d));
    d->srv = vus_server_new(NULL, &o, NULL);
    ok = d->srv && vus_server_setup_region(d->srv, 0, &bar0, NULL, NULL) &&
         vus_server_setup_region(d->srv, 1, &bar1, NULL, NULL) &&
         vus_server_setup_region(d->srv, 2, &bar2, NULL, NULL) &&
         vus_server_setup_region(d->srv, 9, &dev9, NULL, NULL) &&
         vus_server_add_ioeventfd(d->srv, 0, 0x20, 4, false, 0, NULL) &&
         vus_server_setup_pci(d->srv, &pci, NULL);
    if (!ok) {
        abort();
    }
    return d->srv;
}

static void send_all(VfioUserTransport *t, const uint8_t *p, size_t len,
                     const int *fds, size_t nfds)
{
    struct iovec iov = {.iov_base = (void *)p, .iov_len = len};

    if (!vfio_user_tr_sendv(t, &iov, 1, fds, nfds, NULL)) {
        abort();
    }
}

/* The same VERSION request for every input: built once (JSON is costly). */
static void send_version(VfioUserTransport *t)
{
    static uint8_t *msg;
    static size_t len;

    if (!msg) {
        VFIOUserCaps caps;
        VFIOUserHdr hdr;
        size_t plen;
        g_autofree uint8_t *payload = NULL;

        vfio_user_caps_init_ours(&caps);
        caps.max_data_xfer_size = 65536;
        payload = vfio_user_caps_build_version(&caps, &plen);
        len = sizeof(hdr) + plen;
        vfio_user_hdr_init(&hdr, 0, VFIO_USER_VERSION, len,
                           VFIO_USER_F_TYPE_REQUEST);
        msg = g_malloc(len);
        memcpy(msg, &hdr, sizeof(hdr));
        memcpy(msg + sizeof(hdr), payload, plen);
    }
    send_all(t, msg, len, NULL, 0);
}

/* Queue the whole client stream, with the fds @ctl asks for, then EOF. */
static void write_stream(VfioUserTransport *t, const uint8_t *data, size_t size,
                         uint8_t ctl)
{
    int fds[3], nfds = 0;

    if (ctl & 1) {
        send_version(t);
    }
    if (ctl & 2) {
        fds[nfds] = memfd_create("fuzz-guest", MFD_CLOEXEC);
        if (fds[nfds] < 0 || ftruncate(fds[nfds], 65536) < 0) {
            abort();
        }
        nfds++;
    }
    if (ctl & 4) {
        fds[nfds++] = eventfd(0, EFD_CLOEXEC);
        fds[nfds++] = eventfd(0, EFD_CLOEXEC);
    }
    if (size) {
        send_all(t, data, size, fds, nfds);
    }
    for (int i = 0; i < nfds; i++) {
        close(fds[i]);
    }
    t->ops->shutdown(t, SHUT_WR);
}

/*
 * The server's end: receives from the in-memory pair, drops what the
 * server sends (as the drain thread of a socket would have read it).
 */
typedef struct SinkTransport {
    VfioUserTransport base;
    VfioUserTransport *inner;
} SinkTransport;

static ssize_t sink_send(VfioUserTransport *t, const struct iovec *iov,
                         int iovcnt, const int *fds, size_t nfds, int flags)
{
    size_t len = 0;

    (void)t;
    (void)fds;
    (void)nfds;
    (void)flags;
    for (int i = 0; i < iovcnt; i++) {
        len += iov[i].iov_len;
    }
    return (ssize_t)len;
}

static ssize_t sink_recv(VfioUserTransport *t, struct iovec *iov, int iovcnt,
                         int *fds, size_t *nfds, bool *truncated, int flags)
{
    VfioUserTransport *in = ((SinkTransport *)t)->inner;

    return in->ops->recv(in, iov, iovcnt, fds, nfds, truncated, flags);
}

static void sink_shutdown(VfioUserTransport *t, int how)
{
    VfioUserTransport *in = ((SinkTransport *)t)->inner;

    in->ops->shutdown(in, how);
}

static void sink_close(VfioUserTransport *t)
{
    vfio_user_transport_close(((SinkTransport *)t)->inner);
}

static const VfioUserTransportOps sink_ops = {
    .send = sink_send,
    .recv = sink_recv,
    .shutdown = sink_shutdown,
    .close = sink_close,
};

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
    static bool init;
    unsigned fds0;
    GArray *maps;
    VfioUserTransport *t[2];
    SinkTransport sink = {.base = {.ops = &sink_ops}};
    Dev d;

    if (size < 1 || size > 65536) {
        return 0;
    }
    if (!init) {
        init = true;
        g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
        g_log_set_handler(VUS_SERVER_LOG_DOMAIN,
                          G_LOG_LEVEL_MASK & ~G_LOG_LEVEL_CRITICAL, quiet_log,
                          NULL);
    }
    /* Counted per input: libFuzzer itself opens fds between inputs. */
    fds0 = vut_count_fds();
    make_server(&d);
    if (!vfio_user_transport_mem_pair(t, NULL)) {
        abort();
    }
    write_stream(t[0], data + 1, size - 1, data[0]);
    sink.inner = t[1];
    sink.base.fd = t[1]->fd;
    if (!vus_server_attach_transport(d.srv, &sink.base, NULL)) {
        abort();
    }
    vus_server_run(d.srv, NULL);
    maps = vus_dma_get_maps(d.srv);
    if (maps->len) {
        abort(); /* the client's maps must go with the client */
    }
    g_array_unref(maps);
    vfio_user_transport_close(t[0]);
    vus_server_free(d.srv);
    if (vut_count_fds() != fds0) {
        abort();
    }
    return 0;
}
