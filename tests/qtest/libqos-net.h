/*
 * libqos-net: a guest network stack for tests, on top of libqos-virtio:
 * a virtio-net driver (receive buffers always posted, one-descriptor
 * transmits), Ethernet, ARP, IPv4, UDP, a DHCP client and a small TCP
 * (in-order only, every segment acknowledged) with every checksum
 * computed on transmit and verified on receive.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTS_QTEST_LIBQOS_NET_H
#define TESTS_QTEST_LIBQOS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "libqos-virtio.h"

#define QNET_QUEUE_SIZE 256
#define QNET_BUF_SIZE 2048
#define QNET_VEC_CONFIG 0
#define QNET_VEC_RX 1
#define QNET_VEC_TX 2
#define QNET_GATEWAY 0x0a000202u /* 10.0.2.2: the host, for slirp */
#define QNET_LEASE 0x0a00020fu   /* 10.0.2.15: slirp's first lease */

typedef struct QNet {
    QVirtioDev dev;
    QVirtQueue *rx;
    QVirtQueue *tx;
    uint64_t rx_bufs; /* QNET_QUEUE_SIZE buffers of QNET_BUF_SIZE */
    uint64_t tx_bufs;
    uint16_t tx_inflight;
    uint8_t mac[6];
    uint8_t gw_mac[6];
    uint32_t ip; /* host order; 0 before DHCP */
    uint32_t router;
    uint64_t rx_frames;
    uint64_t tx_frames;
    uint64_t bad_checksums;
} QNet;

/*
 * Negotiate VERSION_1|MAC|STATUS, MSI-X (config 0, rx 1, tx 2), set up
 * both queues, post every receive buffer, DRIVER_OK.  Buffers are
 * allocated on the first call only, so a test can reset and call again.
 */
void qnet_start(QNet *n, QTestState *qts, int slot, uint64_t ram_size);
/* Transmit one Ethernet frame (waits for a free slot, bounded). */
void qnet_send_frame(QNet *n, const void *frame, size_t len);
/* Next received frame within @timeout_ms; its buffer is posted again. */
bool qnet_recv_frame(QNet *n, uint8_t *frame, size_t *len, int timeout_ms);

/* ARP for @ip; true with its MAC in @mac. */
bool qnet_arp(QNet *n, uint32_t ip, uint8_t *mac, int timeout_ms);
/* DHCP discover/offer/request/ack; sets n->ip and n->router. */
bool qnet_dhcp(QNet *n, int timeout_ms);

typedef struct QTcp {
    QNet *n;
    uint32_t dst;
    uint16_t sport;
    uint16_t dport;
    uint32_t snd_nxt;
    uint32_t snd_una;
    uint32_t rcv_nxt;
    uint32_t peer_wnd;
    bool peer_fin;
    GByteArray *rcvd;
} QTcp;

/* Active open to @dst:@port (host order) through the gateway. */
bool qtcp_connect(QTcp *t, QNet *n, uint32_t dst, uint16_t port,
                  int timeout_ms);
/*
 * Passive open: wait for a SYN to our @port (a hostfwd connection),
 * answer it and wait for the handshake to complete.
 */
bool qtcp_accept(QTcp *t, QNet *n, uint16_t port, int timeout_ms);
/* Send @len bytes and wait until all are acknowledged. */
bool qtcp_send(QTcp *t, const void *data, size_t len, int timeout_ms);
/* Wait until @len bytes arrived in order; they are in t->rcvd. */
bool qtcp_recv(QTcp *t, size_t len, int timeout_ms);
/* FIN, wait for its acknowledgement; frees t->rcvd. */
bool qtcp_close(QTcp *t, int timeout_ms);

/* Internet checksum of @len bytes, starting from @sum. */
uint16_t qnet_csum(const void *data, size_t len, uint32_t sum);

#endif /* TESTS_QTEST_LIBQOS_NET_H */
