/*
 * vfu-bench section "net": UDP frames through the sample virtio-net device
 * (contrib/vfio-user-server, libslirp backend), per DMA access mode, next
 * to the same datagrams through a plain AF_UNIX socketpair (the limit).
 *
 * The benchmark is the guest: the device runs in a forked child on the
 * server library; this process connects with the client library and maps
 * its guest RAM in the mode under test, sets the device up through BAR0
 * region writes (status, features, the transmit queue), writes 128
 * prebuilt frames (64 or 1514 bytes on the wire, UDP from 10.0.2.15 to
 * 10.0.2.2) into guest RAM once, then per packet only makes a descriptor
 * available and kicks (the doorbell's ioeventfd, as vfio-user-pci
 * does).  The device reads the ring, the descriptor and the frame through
 * the library (mmap, file-io or DMA_READ messages), returns the
 * descriptor, and slirp sends the payload from a host UDP socket to the
 * one this process reads on 127.0.0.1.  One operation is one datagram
 * received at that socket.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "bench.h"
#include "devices.h"
#include "vfio-user/error.h"

/* The device's BAR0 (see contrib/vfio-user-server/virtio-net.c). */
#define NET_COMMON 0x0000
#define NET_NOTIFY 0x3000
#define NET_TXQ 1
#define NET_QSIZE 256
#define NET_SLOTS 128
#define NET_HDR 12
#define NET_SLOT_SIZE 2048

/* Guest RAM layout, offsets from BENCH_RAM_IOVA. */
#define RAM_DESC 0x0000
#define RAM_AVAIL 0x1000
#define RAM_USED 0x2000
#define RAM_BUFS 0x10000

#define NET_WAIT_MS 5000

typedef struct NetBench {
    BenchConn conn;
    int udp;      /* the host end slirp sends to */
    size_t frame; /* bytes on the wire */
    size_t payload;
    uint16_t avail;
    uint16_t used_seen;
} NetBench;

static int bench_net_child(int sock, int cpu)
{
    g_autoptr(GError) err = NULL;
    VusServer *srv;
    void *dev;

    bench_pin(cpu);
    srv = vus_server_new(NULL, NULL, &err);
    dev = srv ? sample_virtio_net_type.create_net(srv, "user", &err) : NULL;
    if (!dev || !vus_server_attach(srv, sock, &err) ||
        !vus_server_run(srv, &err)) {
        fprintf(stderr, "vfu-bench: virtio-net server: %s\n",
                err ? err->message : "?");
    }
    if (dev) {
        sample_virtio_net_type.stop(dev);
    }
    if (srv) {
        vus_server_free(srv);
    }
    if (dev) {
        sample_virtio_net_type.destroy(dev);
    }
    return 0;
}

static bool reg_write(NetBench *nb, uint64_t off, uint64_t val, size_t len,
                      bool post, GError **errp)
{
    return vfio_user_region_write(&nb->conn.dev, VFIO_PCI_BAR0_REGION_INDEX,
                                  off, &val, len, post, errp);
}

static uint8_t status_read(NetBench *nb, GError **errp)
{
    uint8_t v = 0xff;

    vfio_user_region_read(&nb->conn.dev, VFIO_PCI_BAR0_REGION_INDEX,
                          NET_COMMON + 20, &v, 1, errp);
    return v;
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

/* Header + one UDP frame to 10.0.2.2:@port in each slot, descriptors. */
static void bench_net_frames(NetBench *nb, uint16_t port)
{
    static const uint8_t eth[14] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52,
                                    0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00};
    uint8_t *ram = nb->conn.ram;
    size_t ip_len = nb->frame - 14;

    for (unsigned s = 0; s < NET_SLOTS; s++) {
        uint8_t *b = ram + RAM_BUFS + (size_t)s * NET_SLOT_SIZE;
        uint8_t *f = b + NET_HDR, *ip = f + 14, *udp = ip + 20;
        uint64_t addr = BENCH_RAM_IOVA + RAM_BUFS + (uint64_t)s * NET_SLOT_SIZE;
        uint32_t len = (uint32_t)(NET_HDR + nb->frame);
        uint8_t *d = ram + RAM_DESC + 16 * s;

        memset(b, 0, NET_HDR + nb->frame);
        memcpy(f, eth, sizeof(eth));
        ip[0] = 0x45;
        ip[2] = (uint8_t)(ip_len >> 8), ip[3] = (uint8_t)ip_len;
        ip[8] = 64, ip[9] = 17;
        memcpy(ip + 12, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
        uint16_t c = csum(ip, 20);
        ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
        udp[0] = 0x13, udp[1] = 0x88; /* 5000 */
        udp[2] = (uint8_t)(port >> 8), udp[3] = (uint8_t)port;
        udp[4] = (uint8_t)((ip_len - 20) >> 8), udp[5] = (uint8_t)(ip_len - 20);
        bench_fill(udp + 8, nb->payload, s);
        memcpy(d, &addr, 8);
        memcpy(d + 8, &len, 4);
        memset(d + 12, 0, 4);
    }
}

/* Status, features, the transmit queue: a driver's set-up. */
static bool bench_net_setup(NetBench *nb, GError **errp)
{
    uint64_t q = BENCH_RAM_IOVA;
    gint64 deadline = g_get_monotonic_time() + NET_WAIT_MS * 1000;

    if (!reg_write(nb, NET_COMMON + 20, 0, 1, false, errp)) {
        return false;
    }
    while (status_read(nb, errp) != 0) {
        if (g_get_monotonic_time() > deadline) {
            return vfio_user_error_set(errp, ETIMEDOUT, "virtio-net reset");
        }
    }
    return reg_write(nb, NET_COMMON + 20, 3, 1, false, errp) &&
           reg_write(nb, NET_COMMON + 8, 1, 4, false, errp) &&
           reg_write(nb, NET_COMMON + 12, 1, 4, false, errp) && /* VERSION_1 */
           reg_write(nb, NET_COMMON + 20, 11, 1, false, errp) &&
           reg_write(nb, NET_COMMON + 22, NET_TXQ, 2, false, errp) &&
           reg_write(nb, NET_COMMON + 24, NET_QSIZE, 2, false, errp) &&
           reg_write(nb, NET_COMMON + 32, q + RAM_DESC, 4, false, errp) &&
           reg_write(nb, NET_COMMON + 36, 0, 4, false, errp) &&
           reg_write(nb, NET_COMMON + 40, q + RAM_AVAIL, 4, false, errp) &&
           reg_write(nb, NET_COMMON + 44, 0, 4, false, errp) &&
           reg_write(nb, NET_COMMON + 48, q + RAM_USED, 4, false, errp) &&
           reg_write(nb, NET_COMMON + 52, 0, 4, false, errp) &&
           reg_write(nb, NET_COMMON + 28, 1, 2, false, errp) &&
           reg_write(nb, NET_COMMON + 20, 15, 1, false, errp);
}

static uint16_t used_idx(NetBench *nb)
{
    return __atomic_load_n((uint16_t *)(nb->conn.ram + RAM_USED + 2),
                           __ATOMIC_ACQUIRE);
}

/* Drain the host socket; returns datagrams read (checks their size). */
static int64_t drain_udp(NetBench *nb, GError **errp)
{
    static uint8_t buf[2048];
    int64_t n = 0;

    for (;;) {
        ssize_t r = recv(nb->udp, buf, sizeof(buf), MSG_DONTWAIT);

        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return n;
            }
            vfio_user_error_set(errp, errno, "recv: %s", g_strerror(errno));
            return -1;
        }
        if ((size_t)r != nb->payload) {
            vfio_user_error_set(errp, EIO, "datagram of %zd bytes, sent %zu", r,
                                nb->payload);
            return -1;
        }
        n++;
    }
}

static bool net_batch(void *opaque, uint64_t iters, double *ns, GError **errp)
{
    NetBench *nb = opaque;
    uint16_t *ring = (uint16_t *)(nb->conn.ram + RAM_AVAIL + 4);
    uint16_t *aidx = (uint16_t *)(nb->conn.ram + RAM_AVAIL + 2);
    uint64_t sent = 0, got = 0, t0 = bench_now_ns();
    gint64 deadline = g_get_monotonic_time() + NET_WAIT_MS * 1000;

    while (got < iters) {
        bool posted = false;
        struct pollfd p = {.fd = nb->udp, .events = POLLIN};
        int64_t n;

        nb->used_seen = used_idx(nb);
        while (sent < iters &&
               (uint16_t)(nb->avail - nb->used_seen) < NET_SLOTS) {
            ring[nb->avail % NET_QSIZE] = nb->avail % NET_SLOTS;
            nb->avail++;
            sent++;
            posted = true;
        }
        if (posted) {
            __atomic_store_n(aidx, nb->avail, __ATOMIC_RELEASE);
            if (!reg_write(nb, NET_NOTIFY + 4 * NET_TXQ, NET_TXQ, 2, true,
                           errp)) {
                return false;
            }
        }
        n = drain_udp(nb, errp);
        if (n < 0) {
            return false;
        }
        got += (uint64_t)n;
        if (n == 0 && !posted) {
            if (g_get_monotonic_time() > deadline) {
                return vfio_user_error_set(errp, ETIMEDOUT,
                                           "%" PRIu64 " of %" PRIu64
                                           " datagrams (avail %u used %u)",
                                           got, iters, nb->avail, used_idx(nb));
            }
            poll(&p, 1, 1); /* a bounded wait for the next datagram */
        }
    }
    *ns = (double)(bench_now_ns() - t0);
    return true;
}

/* The limit: the same datagrams through an AF_UNIX socketpair. */
typedef struct PairLimit {
    int sv[2];
    size_t len;
} PairLimit;

static bool pair_batch(void *opaque, uint64_t iters, double *ns, GError **errp)
{
    PairLimit *l = opaque;
    static uint8_t buf[2048];
    uint64_t t0 = bench_now_ns();

    for (uint64_t i = 0; i < iters; i += 64) {
        uint64_t n = MIN(64, iters - i);

        for (uint64_t k = 0; k < n; k++) {
            if (send(l->sv[0], buf, l->len, 0) != (ssize_t)l->len) {
                return vfio_user_error_set(errp, errno, "send: %s",
                                           g_strerror(errno));
            }
        }
        for (uint64_t k = 0; k < n; k++) {
            if (recv(l->sv[1], buf, sizeof(buf), 0) != (ssize_t)l->len) {
                return vfio_user_error_set(errp, errno, "recv: %s",
                                           g_strerror(errno));
            }
        }
    }
    *ns = (double)(bench_now_ns() - t0);
    return true;
}

static int udp_listen(uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int rcvbuf = 8 << 20;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

typedef struct NetMode {
    const char *name;
    VFIOUserDMAAccess policy;
    BenchRam ram;
} NetMode;

static void net_figure(const NetMode *m, size_t frame)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *key = g_strdup_printf("net.%s.%zu", m->name, frame);
    g_autofree char *label =
        g_strdup_printf("virtio-net tx %s %zu B", m->name, frame);
    g_autofree char *lkey = g_strdup_printf("limit.dgram_pair.%zu", frame);
    NetBench nb = {.frame = frame, .payload = frame - 42, .udp = -1};
    PairLimit pl = {.sv = {-1, -1}, .len = frame - 42};
    uint16_t port = 0;
    int cpu = bench_placement_server_cpu(BENCH_SAME_CPU);
    BenchStat s, ls;
    bool ok;

    nb.udp = udp_listen(&port);
    ok = nb.udp >= 0 &&
         socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pl.sv) == 0;
    if (!ok) {
        vfio_user_error_set(&err, errno, "sockets: %s", g_strerror(errno));
    }
    ok = ok && bench_child_spawn(&nb.conn, bench_net_child, cpu, &err) &&
         bench_conn_connect(&nb.conn, m->policy, m->ram, &err) &&
         vfio_user_device_get_region_io_fds(&nb.conn.dev,
                                            VFIO_PCI_BAR0_REGION_INDEX, &err);
    if (ok) {
        bench_net_frames(&nb, port);
        ok = bench_net_setup(&nb, &err) &&
             bench_measure_pair(net_batch, &nb, pair_batch, &pl, &s, &ls, &err);
    }
    if (!ok) {
        bench_add_error("net", label, err);
    } else {
        BenchFigure mb = {
            bench_mib_s(frame, s.median), bench_mib_s(frame, s.best),
            bench_mib_s(frame, ls.median), bench_mib_s(frame, ls.best)};
        BenchFigure pps = {1e6 / s.median, 1e6 / s.best, 1e6 / ls.median,
                           1e6 / ls.best};
        g_autofree char *k2 = g_strdup_printf("%s.kpps", key);
        g_autofree char *l2 = g_strdup_printf("%s packets", label);
        g_autofree char *lk2 = g_strdup_printf("%s.kpps", lkey);

        bench_add_figure("net", key, label, "MiB/s", &mb, lkey);
        bench_add_figure("net", k2, l2, "kpkt/s", &pps, lk2);
    }
    if (nb.conn.dev_ok) {
        /* Drop the rings before the guest RAM goes away under them. */
        g_autoptr(GError) e2 = NULL;
        gint64 deadline = g_get_monotonic_time() + NET_WAIT_MS * 1000;

        reg_write(&nb, NET_COMMON + 20, 0, 1, false, &e2);
        while (!e2 && status_read(&nb, &e2) != 0 &&
               g_get_monotonic_time() < deadline) {
        }
    }
    bench_conn_close(&nb.conn);
    if (nb.udp >= 0) {
        close(nb.udp);
    }
    for (int i = 0; i < 2; i++) {
        if (pl.sv[i] >= 0) {
            close(pl.sv[i]);
        }
    }
}

void bench_net(void)
{
    static const NetMode modes[] = {
        {"mmap", VFIO_USER_DMA_ACCESS_MMAP, BENCH_RAM_MEMFD},
        {"file-io", VFIO_USER_DMA_ACCESS_FILE_IO, BENCH_RAM_MEMFD},
        {"message", VFIO_USER_DMA_ACCESS_MESSAGE, BENCH_RAM_ANON},
        {"file-io-anon", VFIO_USER_DMA_ACCESS_FILE_IO, BENCH_RAM_ANON},
    };
    static const size_t frames[] = {64, 1514};

    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        for (size_t j = 0; j < G_N_ELEMENTS(frames); j++) {
            net_figure(&modes[i], frames[j]);
        }
    }
}
