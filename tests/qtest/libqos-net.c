/*
 * libqos-net: guest network stack over the libqos virtio driver (see
 * libqos-net.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <arpa/inet.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include "libqos-net.h"
#include "libqtest-child.h"

#define HDR_LEN 12 /* struct virtio_net_hdr_v1 */
#define ETH_LEN 14
#define IP_LEN 20
#define TCP_LEN 20
#define TX_SLOTS (QNET_QUEUE_SIZE / 2) /* header + frame descriptors */
#define TCP_MSS 1400

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

uint16_t qnet_csum(const void *data, size_t len, uint32_t sum)
{
    const uint8_t *p = data;

    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* ---- the driver ---- */

/* Post every receive buffer at once: descriptors, ring, index. */
static void qnet_post_all_rx(QNet *n)
{
    QVirtQueue *q = n->rx;
    g_autofree struct vring_desc *d = g_new0(struct vring_desc, q->num);
    g_autofree uint16_t *ring = g_new0(uint16_t, q->num);

    for (uint16_t i = 0; i < q->num; i++) {
        d[i].addr = GUINT64_TO_LE(n->rx_bufs + (uint64_t)i * QNET_BUF_SIZE);
        d[i].len = GUINT32_TO_LE(QNET_BUF_SIZE);
        d[i].flags = GUINT16_TO_LE(VRING_DESC_F_WRITE);
        ring[i] = GUINT16_TO_LE(i);
    }
    qtest_memwrite(n->dev.qts, q->desc, d, 16ull * q->num);
    qtest_memwrite(n->dev.qts, q->avail + 4, ring, 2ull * q->num);
    q->avail_idx = q->num;
    qvirtqueue_set_avail_idx(&n->dev, q, q->avail_idx);
}

void qnet_start(QNet *n, QTestState *qts, int slot, uint64_t ram_size)
{
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC) |
                    (1ull << VIRTIO_NET_F_STATUS);
    QVirtioDev *d = &n->dev;
    uint64_t offered;

    memset(n, 0, sizeof(*n));
    qvirtio_pci_init(d, qts, slot, ram_size);
    offered = qvirtio_negotiate(d, want);
    g_assert_cmphex(offered & want, ==, want);
    g_assert_cmphex(qvirtio_get_status(d) & VIRTIO_CONFIG_S_FEATURES_OK, !=, 0);
    qtest_memread(qts, d->devcfg, n->mac, 6);
    g_assert_cmphex(qtest_readw(qts, d->devcfg + 6) & VIRTIO_NET_S_LINK_UP, !=,
                    0);
    qvirtio_msix_enable(d, 3);
    qvirtio_set_config_vector(d, QNET_VEC_CONFIG);
    n->rx = qvirtqueue_setup(d, 0, QNET_QUEUE_SIZE, QNET_VEC_RX);
    n->tx = qvirtqueue_setup(d, 1, QNET_QUEUE_SIZE, QNET_VEC_TX);
    n->rx_bufs =
        qvirtio_alloc(d, (uint64_t)QNET_QUEUE_SIZE * QNET_BUF_SIZE, 4096);
    n->tx_bufs = qvirtio_alloc(d, (uint64_t)TX_SLOTS * QNET_BUF_SIZE, 4096);
    qnet_post_all_rx(n);
    qvirtio_driver_ok(d);
    qvirtqueue_kick(d, n->rx);
}

/* Take back transmitted buffers; with @wait, at least one (bounded). */
static void qnet_reclaim_tx(QNet *n, bool wait)
{
    uint32_t id, len;

    if (wait) {
        g_assert_true(qvirtqueue_wait_used(&n->dev, n->tx, &id, &len,
                                           qtest_timeout_ms()));
        n->tx_inflight--;
    }
    while (n->tx_inflight && qvirtqueue_get_used(&n->dev, n->tx, &id, &len)) {
        n->tx_inflight--;
    }
}

void qnet_send_frame(QNet *n, const void *frame, size_t len)
{
    uint8_t hdr[HDR_LEN] = {0};
    uint16_t slot = n->tx->avail_idx % TX_SLOTS;
    uint64_t buf = n->tx_bufs + (uint64_t)slot * QNET_BUF_SIZE;
    QVirtioSeg segs[2] = {
        {.addr = buf, .len = HDR_LEN},
        {.addr = buf + 64, .len = (uint32_t)len},
    };

    g_assert_cmpuint(len, <=, QNET_BUF_SIZE - 64);
    if (n->tx_inflight == TX_SLOTS) {
        qnet_reclaim_tx(n, true);
    }
    qtest_memwrite(n->dev.qts, buf, hdr, sizeof(hdr));
    qtest_memwrite(n->dev.qts, buf + 64, frame, len);
    qvirtqueue_add(&n->dev, n->tx, 2 * slot, segs, 2);
    n->tx_inflight++;
    n->tx_frames++;
    qvirtqueue_kick(&n->dev, n->tx);
}

bool qnet_recv_frame(QNet *n, uint8_t *frame, size_t *len, int timeout_ms)
{
    uint32_t id, used;
    uint8_t hdr[HDR_LEN];

    if (!qvirtqueue_wait_used(&n->dev, n->rx, &id, &used, timeout_ms)) {
        return false;
    }
    g_assert_cmpuint(id, <, QNET_QUEUE_SIZE);
    g_assert_cmpuint(used, >=, HDR_LEN + ETH_LEN);
    g_assert_cmpuint(used, <=, QNET_BUF_SIZE);
    qtest_memread(n->dev.qts, n->rx_bufs + (uint64_t)id * QNET_BUF_SIZE, hdr,
                  HDR_LEN);
    g_assert_cmpuint(hdr[10] | hdr[11] << 8, ==, 1); /* num_buffers */
    *len = used - HDR_LEN;
    qtest_memread(n->dev.qts,
                  n->rx_bufs + (uint64_t)id * QNET_BUF_SIZE + HDR_LEN, frame,
                  *len);
    qvirtqueue_publish(&n->dev, n->rx, (uint16_t)id);
    qvirtqueue_kick(&n->dev, n->rx);
    n->rx_frames++;
    qnet_reclaim_tx(n, false);
    return true;
}

/* ---- Ethernet, ARP, IPv4 ---- */

static size_t qnet_eth(QNet *n, uint8_t *f, const uint8_t *dst, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, n->mac, 6);
    put16(f + 12, type);
    return ETH_LEN;
}

static void qnet_send_arp(QNet *n, uint16_t op, const uint8_t *tha,
                          uint32_t tip)
{
    uint8_t f[60] = {0};
    uint8_t *a = f + qnet_eth(n, f, op == 1 ? bcast : tha, 0x0806);

    put16(a, 1);
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, n->mac, 6);
    put32(a + 14, n->ip);
    memcpy(a + 18, op == 1 ? (const uint8_t *)"\0\0\0\0\0\0" : tha, 6);
    put32(a + 24, tip);
    qnet_send_frame(n, f, sizeof(f));
}

/* Answer ARP requests for our address; true if @f was one. */
static bool qnet_arp_input(QNet *n, const uint8_t *f, size_t len)
{
    const uint8_t *a = f + ETH_LEN;

    if (len < ETH_LEN + 28 || get16(f + 12) != 0x0806) {
        return false;
    }
    if (get16(a + 6) == 1 && n->ip && get32(a + 24) == n->ip) {
        qnet_send_arp(n, 2, a + 8, get32(a + 14));
    }
    return true;
}

bool qnet_arp(QNet *n, uint32_t ip, uint8_t *mac, int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);
    uint8_t f[QNET_BUF_SIZE];
    size_t len;

    qnet_send_arp(n, 1, NULL, ip);
    while (g_get_monotonic_time() < deadline) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);

        if (!qnet_recv_frame(n, f, &len, MAX(left, 1))) {
            return false;
        }
        if (qnet_arp_input(n, f, len) && get16(f + ETH_LEN + 6) == 2 &&
            get32(f + ETH_LEN + 14) == ip) {
            memcpy(mac, f + ETH_LEN + 8, 6);
            return true;
        }
    }
    return false;
}

/* IPv4 header at @ip for @plen payload bytes. */
static void qnet_ip(uint8_t *ip, uint8_t proto, uint32_t src, uint32_t dst,
                    size_t plen)
{
    memset(ip, 0, IP_LEN);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(IP_LEN + plen));
    ip[8] = 64;
    ip[9] = proto;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, qnet_csum(ip, IP_LEN, 0));
}

/* Checksum over the pseudo header and the transport segment. */
static uint16_t qnet_l4_csum(const uint8_t *ip, const uint8_t *seg, size_t len)
{
    uint8_t ph[12];

    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = ip[9];
    put16(ph + 10, (uint16_t)len);
    return qnet_csum(seg, len, (uint16_t)~qnet_csum(ph, sizeof(ph), 0));
}

/*
 * A received IPv4 packet of @proto with valid checksums: its transport
 * segment in *@seg / *@slen.
 */
static bool qnet_ip_input(QNet *n, const uint8_t *f, size_t len, uint8_t proto,
                          const uint8_t **seg, size_t *slen)
{
    const uint8_t *ip = f + ETH_LEN;
    size_t ihl, tot;

    if (len < ETH_LEN + IP_LEN || get16(f + 12) != 0x0800) {
        return false;
    }
    ihl = (ip[0] & 0xf) * 4u;
    tot = get16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < IP_LEN || tot < ihl || tot > len - ETH_LEN ||
        ip[9] != proto) {
        return false;
    }
    if (qnet_csum(ip, ihl, 0) != 0 ||
        (proto == 6 && qnet_l4_csum(ip, ip + ihl, tot - ihl) != 0) ||
        (proto == 17 && get16(ip + ihl + 6) &&
         qnet_l4_csum(ip, ip + ihl, tot - ihl) != 0)) {
        n->bad_checksums++;
        return false;
    }
    *seg = ip + ihl;
    *slen = tot - ihl;
    return true;
}

/* ---- DHCP ---- */

#define BOOTP_LEN 240 /* fixed part + magic cookie */

static void qnet_send_dhcp(QNet *n, uint8_t type, uint32_t xid,
                           uint32_t want_ip, uint32_t server)
{
    uint8_t f[ETH_LEN + IP_LEN + 8 + BOOTP_LEN + 32] = {0};
    uint8_t *ip = f + qnet_eth(n, f, bcast, 0x0800);
    uint8_t *udp = ip + IP_LEN;
    uint8_t *b = udp + 8, *o = b + BOOTP_LEN;
    size_t ulen;

    b[0] = 1; /* BOOTREQUEST */
    b[1] = 1;
    b[2] = 6;
    put32(b + 4, xid);
    put16(b + 10, 0x8000); /* broadcast replies */
    memcpy(b + 28, n->mac, 6);
    put32(b + 236, 0x63825363);
    *o++ = 53, *o++ = 1, *o++ = type;
    if (want_ip) {
        *o++ = 50, *o++ = 4;
        put32(o, want_ip);
        o += 4;
        *o++ = 54, *o++ = 4;
        put32(o, server);
        o += 4;
    }
    *o++ = 55, *o++ = 2, *o++ = 1, *o++ = 3; /* mask, router */
    *o++ = 255;
    ulen = (size_t)(o - udp);
    put16(udp, 68);
    put16(udp + 2, 67);
    put16(udp + 4, (uint16_t)ulen);
    qnet_ip(ip, 17, 0, 0xffffffffu, ulen);
    put16(udp + 6, qnet_l4_csum(ip, udp, ulen));
    qnet_send_frame(n, f, (size_t)(o - f));
}

typedef struct QDhcpReply {
    uint8_t type;
    uint32_t yiaddr;
    uint32_t server;
    uint32_t router;
} QDhcpReply;

static bool qnet_dhcp_parse(const uint8_t *udp, size_t len, uint32_t xid,
                            QDhcpReply *r)
{
    const uint8_t *b = udp + 8, *o, *end = udp + len;

    if (len < 8 + BOOTP_LEN || get16(udp + 2) != 68 || b[0] != 2 ||
        get32(b + 4) != xid || get32(b + 236) != 0x63825363) {
        return false;
    }
    memset(r, 0, sizeof(*r));
    r->yiaddr = get32(b + 16);
    for (o = b + BOOTP_LEN; o < end && *o != 255;) {
        uint8_t code = o[0], olen;

        if (code == 0) {
            o++;
            continue;
        }
        if (o + 2 > end || o + 2 + o[1] > end) {
            return false;
        }
        olen = o[1];
        if (code == 53 && olen == 1) {
            r->type = o[2];
        } else if (code == 54 && olen == 4) {
            r->server = get32(o + 2);
        } else if (code == 3 && olen >= 4) {
            r->router = get32(o + 2);
        }
        o += 2 + olen;
    }
    return r->type != 0;
}

static bool qnet_dhcp_wait(QNet *n, uint32_t xid, uint8_t type, QDhcpReply *r,
                           gint64 deadline)
{
    uint8_t f[QNET_BUF_SIZE];
    const uint8_t *udp;
    size_t len, ulen;

    while (g_get_monotonic_time() < deadline) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);

        if (!qnet_recv_frame(n, f, &len, MAX(left, 1))) {
            return false;
        }
        if (qnet_ip_input(n, f, len, 17, &udp, &ulen) &&
            qnet_dhcp_parse(udp, ulen, xid, r) && r->type == type) {
            return true;
        }
        qnet_arp_input(n, f, len);
    }
    return false;
}

bool qnet_dhcp(QNet *n, int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);
    uint32_t xid = g_test_rand_int();
    QDhcpReply offer, ack;

    qnet_send_dhcp(n, 1, xid, 0, 0); /* DISCOVER */
    if (!qnet_dhcp_wait(n, xid, 2, &offer, deadline)) {
        return false;
    }
    qnet_send_dhcp(n, 3, xid, offer.yiaddr, offer.server); /* REQUEST */
    if (!qnet_dhcp_wait(n, xid, 5, &ack, deadline)) {
        return false;
    }
    n->ip = ack.yiaddr;
    n->router = ack.router;
    return true;
}

/* ---- TCP ---- */

static void qtcp_send_seg(QTcp *t, uint8_t flags, const void *data, size_t len)
{
    uint8_t f[ETH_LEN + IP_LEN + TCP_LEN + 4 + TCP_MSS];
    uint8_t *ip = f + qnet_eth(t->n, f, t->n->gw_mac, 0x0800);
    uint8_t *tcp = ip + IP_LEN;
    size_t hlen = (flags & TCP_SYN) ? TCP_LEN + 4 : TCP_LEN;

    g_assert_cmpuint(len, <=, TCP_MSS);
    memset(tcp, 0, hlen);
    put16(tcp, t->sport);
    put16(tcp + 2, t->dport);
    put32(tcp + 4, t->snd_nxt);
    put32(tcp + 8, (flags & TCP_ACK) ? t->rcv_nxt : 0);
    tcp[12] = (uint8_t)((hlen / 4) << 4);
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    if (flags & TCP_SYN) {
        tcp[20] = 2, tcp[21] = 4; /* MSS */
        put16(tcp + 22, TCP_MSS);
    }
    if (len) { /* data may be NULL for a bare segment */
        memcpy(tcp + hlen, data, len);
    }
    qnet_ip(ip, 6, t->n->ip, t->dst, hlen + len);
    put16(tcp + 16, qnet_l4_csum(ip, tcp, hlen + len));
    qnet_send_frame(t->n, f, ETH_LEN + IP_LEN + hlen + len);
}

/* Process one received frame for @t; false on timeout. */
static bool qtcp_pump(QTcp *t, gint64 deadline)
{
    uint8_t f[QNET_BUF_SIZE];
    const uint8_t *tcp;
    size_t len, slen, hlen;
    int left = (int)((deadline - g_get_monotonic_time()) / 1000);
    uint32_t seq, ack;
    uint8_t flags;

    if (left <= 0 || !qnet_recv_frame(t->n, f, &len, left)) {
        return false;
    }
    if (qnet_arp_input(t->n, f, len) ||
        !qnet_ip_input(t->n, f, len, 6, &tcp, &slen) || slen < TCP_LEN ||
        get16(tcp) != t->dport || get16(tcp + 2) != t->sport) {
        return true;
    }
    hlen = (tcp[12] >> 4) * 4u;
    g_assert_cmpuint(hlen, >=, TCP_LEN);
    g_assert_cmpuint(hlen, <=, slen);
    seq = get32(tcp + 4);
    ack = get32(tcp + 8);
    flags = tcp[13];
    t->peer_wnd = get16(tcp + 14);
    g_assert_false(flags & 0x04); /* RST */
    if ((flags & TCP_SYN) && (flags & TCP_ACK)) {
        g_assert_cmphex(ack, ==, t->snd_nxt + 1);
        t->snd_nxt = t->snd_una = ack;
        t->rcv_nxt = seq + 1;
        qtcp_send_seg(t, TCP_ACK, NULL, 0);
        return true;
    }
    if ((flags & TCP_ACK) && (int32_t)(ack - t->snd_una) > 0) {
        t->snd_una = ack;
    }
    if (slen > hlen || (flags & TCP_FIN)) {
        if (seq == t->rcv_nxt) { /* in order: take it */
            g_byte_array_append(t->rcvd, tcp + hlen, (guint)(slen - hlen));
            t->rcv_nxt += (uint32_t)(slen - hlen);
            if (flags & TCP_FIN) {
                t->rcv_nxt++;
                t->peer_fin = true;
            }
        }
        qtcp_send_seg(t, TCP_ACK, NULL, 0);
    }
    return true;
}

bool qtcp_connect(QTcp *t, QNet *n, uint32_t dst, uint16_t port, int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);

    memset(t, 0, sizeof(*t));
    t->n = n;
    t->dst = dst;
    t->dport = port;
    t->sport = (uint16_t)(40000 + g_test_rand_int_range(0, 20000));
    t->snd_nxt = t->snd_una = g_test_rand_int();
    t->rcvd = g_byte_array_new();
    qtcp_send_seg(t, TCP_SYN, NULL, 0);
    while (t->rcv_nxt == 0 || t->snd_una != t->snd_nxt) {
        if (!qtcp_pump(t, deadline)) {
            return false;
        }
    }
    return true;
}

/* Wait for a SYN to our @port; fills in the peer from it. */
static bool qtcp_wait_syn(QTcp *t, uint16_t port, gint64 deadline)
{
    uint8_t f[QNET_BUF_SIZE];
    const uint8_t *tcp;
    size_t len, slen;

    while (g_get_monotonic_time() < deadline) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);

        if (!qnet_recv_frame(t->n, f, &len, MAX(left, 1))) {
            return false;
        }
        if (qnet_arp_input(t->n, f, len) ||
            !qnet_ip_input(t->n, f, len, 6, &tcp, &slen) || slen < TCP_LEN ||
            get16(tcp + 2) != port || tcp[13] != TCP_SYN) {
            continue;
        }
        memcpy(t->n->gw_mac, f + 6, 6);
        t->dst = get32(f + ETH_LEN + 12);
        t->dport = get16(tcp);
        t->sport = port;
        t->rcv_nxt = get32(tcp + 4) + 1;
        return true;
    }
    return false;
}

bool qtcp_accept(QTcp *t, QNet *n, uint16_t port, int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);

    memset(t, 0, sizeof(*t));
    t->n = n;
    t->rcvd = g_byte_array_new();
    t->snd_nxt = t->snd_una = g_test_rand_int();
    t->peer_wnd = 1;
    if (!qtcp_wait_syn(t, port, deadline)) {
        return false;
    }
    qtcp_send_seg(t, TCP_SYN | TCP_ACK, NULL, 0);
    t->snd_nxt++;
    while (t->snd_una != t->snd_nxt) {
        if (!qtcp_pump(t, deadline)) {
            return false;
        }
    }
    return true;
}

bool qtcp_send(QTcp *t, const void *data, size_t len, int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);
    const uint8_t *p = data;

    while (len) {
        size_t n = MIN(len, (size_t)TCP_MSS);

        /* stay inside the peer's window */
        while (t->snd_nxt - t->snd_una + n > t->peer_wnd) {
            if (!qtcp_pump(t, deadline)) {
                return false;
            }
        }
        qtcp_send_seg(t, TCP_ACK | TCP_PSH, p, n);
        t->snd_nxt += (uint32_t)n;
        p += n;
        len -= n;
    }
    while (t->snd_una != t->snd_nxt) {
        if (!qtcp_pump(t, deadline)) {
            return false;
        }
    }
    return true;
}

bool qtcp_recv(QTcp *t, size_t len, int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);

    while (t->rcvd->len < len) {
        if (!qtcp_pump(t, deadline)) {
            return false;
        }
    }
    return true;
}

bool qtcp_close(QTcp *t, int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);
    bool ok = true;

    qtcp_send_seg(t, TCP_FIN | TCP_ACK, NULL, 0);
    t->snd_nxt++;
    while (ok && t->snd_una != t->snd_nxt) {
        ok = qtcp_pump(t, deadline);
    }
    g_byte_array_unref(t->rcvd);
    t->rcvd = NULL;
    return ok;
}
