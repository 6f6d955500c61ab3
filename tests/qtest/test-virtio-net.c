/*
 * qtest of the sample virtio-net device (libslirp backend) behind
 * vfio-user-pci: a guest driver (libqos-virtio, libqos-net) gets a DHCP
 * lease from slirp and runs a TCP connection through slirp to a server
 * this test runs on 127.0.0.1, with data both ways and every checksum
 * checked, in each DMA access mode; then a malicious driver's chains and
 * ring indexes, each of which must leave the device DEVICE_NEEDS_RESET
 * (config interrupt) while the server keeps serving: after a reset the
 * same device works again.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include "libqos-net.h"
#include "libqtest-child.h"
#include "edu-machine.h"

#define NET_SLOT 1
#define NET_RAM_MB 64
#define NET_RAM (NET_RAM_MB * 1024ull * 1024)
#define STEP_MS 5000 /* bound of one network step */

typedef struct NetCase {
    const char *backend; /* memfd or ram */
    const char *access;  /* dma-access= */
    const char *mode;    /* the mode info vfio-user must report */
    bool proc_self_mem;
} NetCase;

static const NetCase net_cases[] = {
    {"memfd", "auto", "mmap", false},
    {"memfd", "file-io", "file-io", false},
    {"ram", "auto", "message", false},
    {"ram", "file-io", "file-io", true},
};

typedef struct NetMachine {
    QTestServer *srv;
    QTestState *qts;
    QNet net;
} NetMachine;

static NetMachine *net_machine_start_netdev(const char *backend,
                                            const char *access,
                                            const char *netdev)
{
    NetMachine *m = g_new0(NetMachine, 1);
    g_autofree char *extra = g_strdup_printf("--netdev %s", netdev);

    m->srv = qtest_server_start("virtio-net", extra);
    m->qts = qtest_init(
        "-m %uM -object memory-backend-%s,id=ram0,size=%uM -machine memory-backend=ram0 -device vfio-user-pci,socket=%s,id=net0,dma-access=%s",
        NET_RAM_MB, backend, NET_RAM_MB, qtest_server_socket(m->srv), access);
    g_assert_cmphex(qpci_config_readw(m->qts, NET_SLOT, 0), ==, 0x1af4);
    g_assert_cmphex(qpci_config_readw(m->qts, NET_SLOT, 2), ==, 0x1041);
    qnet_start(&m->net, m->qts, NET_SLOT, NET_RAM);
    return m;
}

static NetMachine *net_machine_start(const char *backend, const char *access)
{
    return net_machine_start_netdev(backend, access, "user");
}

static void net_machine_stop(NetMachine *m)
{
    qtest_quit(m->qts);
    qtest_server_free(m->srv);
    g_free(m);
}

/* A listening TCP socket on 127.0.0.1, port in *@port. */
static int host_listen(uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fd, 1), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Read exactly @len bytes within the step bound. */
static void host_read(int fd, uint8_t *buf, size_t len)
{
    gint64 deadline = qtest_deadline(STEP_MS);

    while (len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        ssize_t n;

        g_assert_cmpint(left, >, 0);
        g_assert_cmpint(poll(&p, 1, left), ==, 1);
        n = read(fd, buf, len);
        g_assert_cmpint(n, >, 0);
        buf += n;
        len -= (size_t)n;
    }
}

static void fill_random(uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)g_test_rand_int();
    }
}

/* DHCP, ARP of the gateway, TCP both ways with a host server. */
static void net_check_dhcp_tcp(NetMachine *m, size_t out_len, size_t in_len)
{
    QNet *n = &m->net;
    g_autofree uint8_t *out = g_malloc(out_len);
    g_autofree uint8_t *in = g_malloc(in_len);
    g_autofree uint8_t *got = g_malloc(out_len);
    uint16_t port;
    int lfd = host_listen(&port), cfd;
    QTcp t;

    g_assert_true(qnet_dhcp(n, STEP_MS));
    g_assert_cmphex(n->ip, ==, QNET_LEASE);
    g_assert_cmphex(n->router, ==, QNET_GATEWAY);
    g_assert_true(qnet_arp(n, QNET_GATEWAY, n->gw_mac, STEP_MS));

    g_assert_true(qtcp_connect(&t, n, QNET_GATEWAY, port, STEP_MS));
    cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint(cfd, >=, 0);

    fill_random(out, out_len);
    g_assert_true(qtcp_send(&t, out, out_len, STEP_MS));
    host_read(cfd, got, out_len);
    g_assert_cmpmem(got, out_len, out, out_len);

    fill_random(in, in_len);
    g_assert_cmpint(write(cfd, in, in_len), ==, (ssize_t)in_len);
    g_assert_true(qtcp_recv(&t, in_len, STEP_MS));
    g_assert_cmpmem(t.rcvd->data, t.rcvd->len, in, in_len);

    g_assert_true(qtcp_close(&t, STEP_MS));
    close(cfd);
    close(lfd);
    g_assert_cmpuint(n->bad_checksums, ==, 0);
}

static void test_net_case(gconstpointer opaque)
{
    const NetCase *c = opaque;
    NetMachine *m = net_machine_start(c->backend, c->access);
    g_autofree char *line = edu_info_map_line(m->qts, "ram0");

    edu_assert_map_mode(line, c->mode, c->proc_self_mem);
    net_check_dhcp_tcp(m, 20000, 30000);
    net_machine_stop(m);
}

/* ---- a malicious driver ---- */

typedef void (*BadDriverFn)(QNet *n, uint64_t scratch);

/* Transmit chain: header descriptor 0 then descriptor 1, as written. */
static void bad_publish_tx(QNet *n, uint16_t head)
{
    qvirtqueue_publish(&n->dev, n->tx, head);
    qvirtqueue_kick(&n->dev, n->tx);
}

static void bad_loop(QNet *n, uint64_t scratch)
{
    /* one byte each: the chain stays short, only its length gives it away */
    qvirtqueue_write_desc(&n->dev, n->tx, 0, scratch, 1, VRING_DESC_F_NEXT, 1);
    qvirtqueue_write_desc(&n->dev, n->tx, 1, scratch, 1, VRING_DESC_F_NEXT, 0);
    bad_publish_tx(n, 0);
}

static void bad_out_of_ram(QNet *n, uint64_t scratch)
{
    (void)scratch;
    /* starts inside RAM, ends beyond its last byte */
    qvirtqueue_write_desc(&n->dev, n->tx, 0, NET_RAM - 8, 64, 0, 0);
    bad_publish_tx(n, 0);
}

static void bad_unmapped(QNet *n, uint64_t scratch)
{
    (void)scratch;
    /* the PCI config window: a guest address with no DMA map */
    qvirtqueue_write_desc(&n->dev, n->tx, 0, 0xb0000000ull, 64, 0, 0);
    bad_publish_tx(n, 0);
}

static void bad_wrapping_len(QNet *n, uint64_t scratch)
{
    qvirtqueue_write_desc(&n->dev, n->tx, 0, scratch, 12, VRING_DESC_F_NEXT, 1);
    qvirtqueue_write_desc(&n->dev, n->tx, 1, 0xfffffffffffff000ull, 0x2000, 0,
                          0);
    bad_publish_tx(n, 0);
}

static void bad_huge_len(QNet *n, uint64_t scratch)
{
    qvirtqueue_write_desc(&n->dev, n->tx, 0, scratch, 0xffffffffu, 0, 0);
    bad_publish_tx(n, 0);
}

static void bad_avail_idx(QNet *n, uint64_t scratch)
{
    (void)scratch;
    /* more new entries than the ring has */
    qvirtqueue_set_avail_idx(
        &n->dev, n->tx, (uint16_t)(n->tx->avail_idx + QNET_QUEUE_SIZE + 1));
    qvirtqueue_kick(&n->dev, n->tx);
}

static void bad_head(QNet *n, uint64_t scratch)
{
    (void)scratch;
    bad_publish_tx(n, QNET_QUEUE_SIZE + 7);
}

static void bad_next(QNet *n, uint64_t scratch)
{
    qvirtqueue_write_desc(&n->dev, n->tx, 0, scratch, 12, VRING_DESC_F_NEXT,
                          0x8000);
    bad_publish_tx(n, 0);
}

static void bad_writable_tx(QNet *n, uint64_t scratch)
{
    qvirtqueue_write_desc(&n->dev, n->tx, 0, scratch, 64, VRING_DESC_F_WRITE,
                          0);
    bad_publish_tx(n, 0);
}

static void bad_rx_readable(QNet *n, uint64_t scratch)
{
    g_autofree struct vring_desc *d =
        g_new0(struct vring_desc, QNET_QUEUE_SIZE);
    uint8_t mac[6];

    (void)scratch;
    /* receive buffers the device may not write; then traffic for them */
    for (unsigned i = 0; i < QNET_QUEUE_SIZE; i++) {
        d[i].addr = GUINT64_TO_LE(n->rx_bufs + (uint64_t)i * QNET_BUF_SIZE);
        d[i].len = GUINT32_TO_LE(QNET_BUF_SIZE);
    }
    qtest_memwrite(n->dev.qts, n->rx->desc, d, 16ull * QNET_QUEUE_SIZE);
    g_assert_false(qnet_arp(n, QNET_GATEWAY, mac, 1)); /* no answer */
}

static void bad_ring_unmapped(QNet *n, uint64_t scratch)
{
    QTestState *qts = n->dev.qts;
    uint64_t c = n->dev.common;

    (void)scratch;
    /* a fresh device whose transmit ring lies outside guest RAM */
    qvirtio_negotiate(&n->dev, 1ull << VIRTIO_F_VERSION_1);
    qvirtio_msix_enable(&n->dev, 3);
    qvirtio_set_config_vector(&n->dev, QNET_VEC_CONFIG);
    qtest_writew(qts, c + VIRTIO_PCI_COMMON_Q_SELECT, 1);
    qtest_writel(qts, c + VIRTIO_PCI_COMMON_Q_DESCLO, 0xb0000000u);
    qtest_writel(qts, c + VIRTIO_PCI_COMMON_Q_AVAILLO, 0xb0001000u);
    qtest_writel(qts, c + VIRTIO_PCI_COMMON_Q_USEDLO, 0xb0002000u);
    qtest_writew(qts, c + VIRTIO_PCI_COMMON_Q_ENABLE, 1);
    qvirtio_driver_ok(&n->dev);
    qtest_writew(qts, n->dev.notify_base + 4, 1);
}

typedef struct BadCase {
    const char *name;
    BadDriverFn fn;
} BadCase;

static const BadCase bad_cases[] = {
    {"loop", bad_loop},
    {"out-of-ram", bad_out_of_ram},
    {"unmapped-buffer", bad_unmapped},
    {"wrapping-length", bad_wrapping_len},
    {"huge-length", bad_huge_len},
    {"avail-index", bad_avail_idx},
    {"head-index", bad_head},
    {"next-index", bad_next},
    {"writable-tx", bad_writable_tx},
    {"readable-rx", bad_rx_readable},
    {"unmapped-ring", bad_ring_unmapped},
};

/* The device gave up: status bit, config interrupt, ISR config bit. */
static void net_assert_needs_reset(QNet *n, unsigned seen)
{
    gint64 deadline = qtest_deadline(STEP_MS);

    g_assert_true(qvirtio_wait_vector(&n->dev, QNET_VEC_CONFIG, seen, STEP_MS));
    while (!(qvirtio_get_status(&n->dev) & VIRTIO_CONFIG_S_NEEDS_RESET)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    }
    g_assert_cmphex(qvirtio_read_isr(&n->dev) & VIRTIO_PCI_ISR_CONFIG, !=, 0);
}

static void test_net_bad_driver(gconstpointer opaque)
{
    const NetCase *c = opaque;
    NetMachine *m = net_machine_start(c->backend, c->access);
    QNet *n = &m->net;

    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        uint64_t scratch = n->tx_bufs;
        unsigned seen = n->dev.msi_seen[QNET_VEC_CONFIG];

        if (g_test_verbose()) {
            g_printerr("bad driver: %s\n", bad_cases[i].name);
        }
        bad_cases[i].fn(n, scratch);
        net_assert_needs_reset(n, seen);
        /* The server is still there: reset, and the device works. */
        qnet_start(n, m->qts, NET_SLOT, NET_RAM);
        g_assert_true(qnet_arp(n, QNET_GATEWAY, n->gw_mac, STEP_MS));
    }
    net_check_dhcp_tcp(m, 3000, 3000);
    net_machine_stop(m);
}

/* Frames to anything but the virtual network never leave. */
static void test_net_filter(void)
{
    NetMachine *m = net_machine_start("memfd", "auto");
    QNet *n = &m->net;
    uint16_t port;
    int lfd = host_listen(&port);
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    QTcp t;

    g_assert_true(qnet_dhcp(n, STEP_MS));
    g_assert_true(qnet_arp(n, QNET_GATEWAY, n->gw_mac, STEP_MS));
    /* 127.0.0.1 directly: dropped, so no SYN-ACK and no connection */
    g_assert_false(qtcp_connect(&t, n, 0x7f000001u, port, 300));
    g_byte_array_unref(t.rcvd);
    g_assert_cmpint(poll(&p, 1, 0), ==, 0);
    close(lfd);
    net_machine_stop(m);
}

/*
 * Reserve a TCP port on 127.0.0.1 for the server's hostfwd: returns a
 * socket bound to it with SO_REUSEADDR but not listening.  Until it is
 * closed, only a socket that sets SO_REUSEADDR too and names this very
 * port can bind it (the kernel never picks it for a bind to port 0 or a
 * connect()), and slirp, which sets SO_REUSEADDR, can bind and listen on
 * it.  Close it once the server listens.  (A port that is closed before
 * the server starts may be taken by any process in between: the server
 * then cannot listen, a flake.)
 */
static int port_reserve(uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)),
                    ==, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/*
 * The window between picking the hostfwd port and the server listening on
 * it: anyone else on the machine may bind the port then (here: this test,
 * as another process would), and the server must still get it.
 */
static void test_net_hostfwd_port_window(void)
{
    uint16_t port;
    int resv = port_reserve(&port);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_autofree char *extra =
        g_strdup_printf("--netdev user,hostfwd=tcp:127.0.0.1:%u-:7777", port);
    QTestServer *srv;

    g_assert_cmpint(other, >=, 0);
    g_assert_cmpint(bind(other, (struct sockaddr *)&sa, sizeof(sa)), ==, -1);
    g_assert_cmpint(errno, ==, EADDRINUSE);
    srv = qtest_server_start("virtio-net", extra);
    close(resv);
    close(other);
    other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(connect(other, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    close(other);
    qtest_server_free(srv);
}

/* hostfwd: a host connection to 127.0.0.1:PORT reaches the guest. */
static void test_net_hostfwd(void)
{
    uint16_t port;
    int resv = port_reserve(&port);
    g_autofree char *netdev =
        g_strdup_printf("user,hostfwd=tcp:127.0.0.1:%u-:7777", port);
    NetMachine *m = net_machine_start_netdev("ram", "auto", netdev);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint8_t in[5000], out[7000], got[sizeof(out)];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    QTcp t;

    close(resv); /* the server listens on the port now */
    g_assert_true(qnet_dhcp(&m->net, STEP_MS));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_true(qtcp_accept(&t, &m->net, 7777, STEP_MS));
    g_assert_cmphex(t.dst, ==, QNET_GATEWAY);
    fill_random(in, sizeof(in));
    g_assert_cmpint(write(fd, in, sizeof(in)), ==, (ssize_t)sizeof(in));
    g_assert_true(qtcp_recv(&t, sizeof(in), STEP_MS));
    g_assert_cmpmem(t.rcvd->data, t.rcvd->len, in, sizeof(in));
    fill_random(out, sizeof(out));
    g_assert_true(qtcp_send(&t, out, sizeof(out), STEP_MS));
    host_read(fd, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), out, sizeof(out));
    g_assert_true(qtcp_close(&t, STEP_MS));
    close(fd);
    g_assert_cmpuint(m->net.bad_checksums, ==, 0);
    net_machine_stop(m);
}

/* Requests and posted writes the client sent so far. */
static void net_msg_counts(QTestState *qts, uint64_t *req, uint64_t *posted)
{
    g_autofree char *info = qtest_hmp(qts, "info vfio-user");
    const char *p = strstr(info, "messages: requests ");

    g_assert_nonnull(p);
    g_assert_cmpint(sscanf(p, "messages: requests %" SCNu64 " posted %" SCNu64,
                           req, posted),
                    ==, 2);
}

/* Kicks are ioeventfds: an ARP exchange (two kicks at least) sends none. */
static void test_net_kick_ioeventfd(void)
{
    NetMachine *m = net_machine_start("memfd", "auto");
    uint64_t r0, p0, r1, p1;

    net_msg_counts(m->qts, &r0, &p0);
    g_assert_true(qnet_arp(&m->net, QNET_GATEWAY, m->net.gw_mac, STEP_MS));
    net_msg_counts(m->qts, &r1, &p1);
    g_assert_cmpuint(r1, ==, r0);
    g_assert_cmpuint(p1, ==, p0);
    net_machine_stop(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(net_cases); i++) {
        const NetCase *c = &net_cases[i];
        g_autofree char *path = g_strdup_printf("/virtio-net/dhcp-tcp/%s/%s",
                                                c->backend, c->access);
        g_autofree char *bad = g_strdup_printf("/virtio-net/bad-driver/%s/%s",
                                               c->backend, c->access);

        g_test_add_data_func(path, c, test_net_case);
        g_test_add_data_func(bad, c, test_net_bad_driver);
    }
    g_test_add_func("/virtio-net/filter", test_net_filter);
    g_test_add_func("/virtio-net/hostfwd", test_net_hostfwd);
    g_test_add_func("/virtio-net/hostfwd-port-window",
                    test_net_hostfwd_port_window);
    g_test_add_func("/virtio-net/kick-ioeventfd", test_net_kick_ioeventfd);
    return g_test_run();
}
