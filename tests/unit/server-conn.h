/*
 * Shared by test-server.c, test-server-dma.c and test-conformance-server.c:
 * a test device built on libvfio-user-server, served on one end of a
 * socketpair by a server thread, and a fake client on the other end
 * written with the transport functions only (not the client library).
 *
 * The test device:
 *   BAR0 4 KiB callback region: 0x00 DMA address (8), 0x08 DMA length (4),
 *        0x0c command (4: 1 = DMA guest -> dev.buf, 2 = dev.buf -> guest,
 *        3 = trigger MSI vector 0), 0x10 status (4, errno of the last
 *        command), 0x20 ioeventfd target, 0x400 (a write of 256 bytes: a
 *        DMA read as command 1, then status EILSEQ if the bytes written
 *        changed meanwhile), other bytes a scratch array;
 *   BAR1 16 KiB memory-backed, sparse area [4 KiB, 12 KiB), MSI-X table at
 *        0 and PBA at 0x800 (8 vectors);
 *   BAR2 64 bytes read-only callback region;
 *   region 9 (device-specific) 4 KiB memory, type cap (1, 2);
 *   config space 256 bytes, MSI 4 vectors, INTx pin A, PCI Express;
 *   ERR irq with 1 vector.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SERVER_CONN_H
#define SERVER_CONN_H

#include <glib.h>
#include "vfio-user/server.h"
#include "vfio-user/transport.h"

/*
 * "&error_abort" for calls that must succeed: the result is asserted and a
 * failure leaves its message here for the debugger.
 */
static __thread GError *error_abort G_GNUC_UNUSED;

#define TEST_DEV_BUF_SIZE (4u << 20)
#define TEST_REGION_DEV 9

typedef struct TestDev {
    VusServer *srv;
    uint64_t dma_addr;
    uint32_t dma_len;
    uint32_t status;
    uint8_t *buf; /* TEST_DEV_BUF_SIZE bytes */
    uint8_t scratch[4096];
    uint8_t bar2[64];
    void *bar1_mem;
    void *dev_region_mem;
    unsigned ioevent_writes;
    uint64_t ioevent_value;
    unsigned resets;
    int reset_ret;     /* what the reset callback returns */
    unsigned connects; /* VusDeviceOps.connected calls */
    unsigned disconnects;
} TestDev;

typedef struct TestReply {
    VFIOUserHdr hdr;
    uint8_t *data;
    size_t len;
    int fds[VFIO_USER_MAX_FDS];
    size_t nfds;
} TestReply;

typedef struct TestConn {
    VusServer *srv;
    TestDev dev;
    GThread *thread;
    int sock; /* client end */
    uint16_t next_id;
    bool run_ok;
    int run_errno; /* 0 when run returned true */
    /* "guest memory" the fake client serves DMA_READ/DMA_WRITE from */
    uint8_t *guest;
    uint64_t guest_base;
    size_t guest_size;
    int dma_errno; /* when set, DMA requests get this error */
    unsigned dma_reads;
    unsigned dma_writes;
    uint64_t dma_max_count;
    VFIOUserCaps server_caps;
} TestConn;

/* Server with the test device attached to a socketpair, no VERSION yet. */
TestConn *tc_new(const VusServerOptions *opts);
/* VERSION with our caps but @max_xfer; asserts success. */
void tc_negotiate(TestConn *tc, uint64_t max_xfer);
void tc_negotiate_caps(TestConn *tc, const VFIOUserCaps *caps);
/* tc_new() + tc_negotiate(1 MiB). */
TestConn *tc_start(const VusServerOptions *opts);
/* Hang up and join the server thread; returns what vus_server_run() did. */
bool tc_hangup(TestConn *tc);
/* Free the server and the connection (after tc_hangup()). */
void tc_free(TestConn *tc);
/* tc_hangup() + tc_free(). */
bool tc_finish(TestConn *tc);

/* Send a request; returns its id. */
uint16_t tc_send(TestConn *tc, uint16_t cmd, uint32_t flags,
                 const void *payload, size_t len, const int *fds, size_t nfds);
/*
 * Wait for the reply to @id, serving DMA_READ/DMA_WRITE meanwhile.
 * Returns 0 or the errno of an error reply.  @out may be NULL.
 */
int tc_wait(TestConn *tc, uint16_t id, TestReply *out);
int tc_call(TestConn *tc, uint16_t cmd, const void *payload, size_t len,
            const int *fds, size_t nfds, TestReply *out);
void tc_reply_clear(TestReply *r);

/* Is there anything to read on the client socket within @ms? */
bool tc_readable(TestConn *tc, int ms);

/* REGION_READ / REGION_WRITE helpers: return 0 or errno. */
int tc_region_read(TestConn *tc, uint32_t index, uint64_t off, void *buf,
                   uint32_t count);
int tc_region_write(TestConn *tc, uint32_t index, uint64_t off, const void *buf,
                    uint32_t count);
/* DMA_MAP / DMA_UNMAP: return 0 or errno. */
int tc_dma_map(TestConn *tc, uint32_t flags, uint64_t offset, uint64_t addr,
               uint64_t size, int fd);
int tc_dma_unmap(TestConn *tc, uint32_t flags, uint64_t addr, uint64_t size);
#define TEST_DMA_CHECKED 0x400
#define TEST_DMA_CHECKED_LEN 256

/* Ask the device to DMA via BAR0; returns the device's status (errno). */
uint32_t tc_dev_dma(TestConn *tc, uint32_t cmd, uint64_t addr, uint32_t len);

/* A memfd of @size bytes filled with @pattern (each byte i: pattern + i). */
int test_memfd(size_t size, uint8_t pattern);
/* Open fds of this process. */

/* Small request helpers of test-server.c (asserting what they must). */
#define EFD_TRIGGER (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define NONE_TRIGGER (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER)
void send_version(TestConn *tc, uint16_t major, uint16_t minor, TestReply *r,
                  int expect);
void assert_closed(TestConn *tc);
int region_info(TestConn *tc, uint32_t index, uint32_t argsz, TestReply *r);
int write_multi(TestConn *tc, const VFIOUserWriteMultiEntry *e, uint64_t n,
                uint64_t claim);
uint32_t cfg_read32(TestConn *tc, uint64_t off);
void cfg_write32(TestConn *tc, uint64_t off, uint32_t v);
int irq_info(TestConn *tc, uint32_t index, uint32_t *count);
int set_irqs(TestConn *tc, uint32_t flags, uint32_t index, uint32_t start,
             uint32_t count, const uint8_t *bools, const int *fds, size_t nfds);
bool efd_fired(int fd);

#endif /* SERVER_CONN_H */
