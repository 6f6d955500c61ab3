/*
 * Harness for test-sample-devices: one sample device served by the server
 * library on a thread, over a socketpair, and a fake client on the test
 * thread that speaks the protocol with the transport functions and answers
 * the server's DMA_READ/DMA_WRITE from its own "guest memory" (a memfd, so
 * that the same bytes can also be mapped with an fd).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SAMPLE_HARNESS_H
#define SAMPLE_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "devices.h"

/* Guest memory of the fake client: DMA addresses [base, base + size). */
#define HARNESS_GUEST_BASE 0x100000000ull
#define HARNESS_GUEST_SIZE (4u * 1024 * 1024)

/*
 * The server thread only touches srv/dev through the library; the test
 * thread owns everything else.  run_ok/run_err are read after the join.
 * Without a server thread (harness_new_client()) srv, dev, type and thread
 * are NULL: the server is another process.
 */
typedef struct Harness {
    VusServer *srv;
    void *dev;
    const SampleDeviceType *type;
    GThread *thread;
    bool run_ok;
    GError *run_err;
    int sock; /* client end of the socketpair */
    uint16_t next_id;
    uint8_t *guest; /* HARNESS_GUEST_SIZE bytes, shared memfd */
    int guest_fd;
    unsigned dma_read_msgs;  /* DMA_READ requests served */
    unsigned dma_write_msgs; /* DMA_WRITE requests served */
} Harness;

/* Start @type on a server thread and negotiate VERSION. */
Harness *harness_new(const SampleDeviceType *type);

/* A fake client on connected @sock (taken) without a server thread. */
Harness *harness_new_client(int sock);

/* VERSION exchange (harness_new() does it). */
void harness_negotiate(Harness *h);

/*
 * Hang up; with a server thread, join it (asserting it ended cleanly) and
 * free the server and device.
 */
void harness_free(Harness *h);

/*
 * Send request @cmd and wait for its reply, serving DMA requests from the
 * server meanwhile.  The reply payload goes to @reply (at most @reply_len
 * bytes; *@got gets its length when non-NULL) and its fds to @fds (at most
 * @max_fds, *@nfds their count).  Returns 0 or the errno of an error reply.
 */
int harness_call(Harness *h, uint16_t cmd, const void *req, size_t req_len,
                 const int *send_fds, size_t send_nfds, void *reply,
                 size_t reply_len, size_t *got, int *fds, size_t max_fds,
                 size_t *nfds);

/* REGION_READ / REGION_WRITE of @len bytes; 0 or an errno. */
int harness_region_rw(Harness *h, bool is_write, uint32_t region, uint64_t off,
                      void *buf, uint32_t len);

/* 4- or 8-byte register accesses that must succeed. */
uint64_t harness_read(Harness *h, uint32_t region, uint64_t off, uint32_t len);
void harness_write(Harness *h, uint32_t region, uint64_t off, uint64_t val,
                   uint32_t len);

/*
 * DMA_MAP [addr, addr + size) of guest memory starting at guest offset
 * @goff, with @flags; with @send_fd the guest memfd goes along (offset
 * @goff).  0 or an errno.
 */
int harness_dma_map(Harness *h, uint64_t addr, uint64_t size, uint64_t goff,
                    uint32_t flags, bool send_fd);

/* SET_IRQS: eventfd @efd (or -1 to remove) for vector 0 of @index. */
int harness_set_irq_fd(Harness *h, uint32_t index, int efd);

/* Did @efd fire (non-blocking read of its counter)? */
bool harness_eventfd_fired(int efd);

#endif /* SAMPLE_HARNESS_H */
