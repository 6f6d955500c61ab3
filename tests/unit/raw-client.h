/*
 * Harness of test-hostile-client-*.c: libvfio-user-server with a small test
 * device served on a thread over a socketpair, and a raw client written
 * with the transport functions only, so that it can send anything.
 *
 * The device: BAR0 a 4 KiB callback region whose registers start a DMA
 * (R_DMA_*), BAR1 8 KiB of memory with a sparse area, BAR2 a 64-byte
 * read-only callback region, MSI-X with 8 vectors and INTx.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef RAW_CLIENT_H
#define RAW_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "vfio-user/server.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

#define MAX_XFER 65536
#define DMA_TIMEOUT_MS 200
#define RECV_MS 3000

/* BAR0 (callback, 4 KiB) registers of the test device. */
#define R_DMA_ADDR 0x100   /* u64 */
#define R_DMA_LEN 0x108    /* u32 */
#define R_DMA_GO 0x10c     /* write: vus_dma_read(addr, len) into dma_buf */
#define R_DMA_STATUS 0x110 /* u32: errno of the last DMA */
#define BAR1_SIZE 8192     /* memory-backed */
#define BAR2_SIZE 64       /* read-only callback */
#define MSIX_VECTORS 8
#define GUEST_IOVA 0x10000ull
#define GUEST_SIZE 0x1000ull

/* How the test client answers the server's DMA_READ requests. */
typedef enum DmaAnswer {
    DMA_OK,
    DMA_ERROR,      /* error reply EFAULT */
    DMA_SHORT,      /* reply with 4 bytes of data fewer than asked */
    DMA_WRONG_ID,   /* reply for another id first, then the right one */
    DMA_SILENT,     /* never answer */
    DMA_FLOOD,      /* send many requests instead of answering */
    DMA_POSTED,     /* post FLOOD_POSTED writes to BAR1, then answer */
    DMA_POSTED_BIG, /* post FLOOD_BIG_MSGS large BAR1 writes, then answer */
    DMA_STALL_BODY, /* a whole reply header, 8 bytes short of its body */
} DmaAnswer;

/* Posted 4-byte writes during one DMA wait (an old queue took 256). */
#define FLOOD_POSTED 2000
/* 18 MiB of posted writes: more than the server queues in one DMA wait. */
#define FLOOD_BIG_MSGS 2304
#define FLOOD_BIG_LEN BAR1_SIZE

typedef struct Srv {
    VusServer *srv;
    GThread *thread;
    int sock; /* client end */
    uint16_t next_id;
    unsigned fds0;
    uint8_t bar0[4096]; /* server thread while it handles a message */
    uint8_t bar2[BAR2_SIZE];
    uint8_t dma_buf[4096];
    void *bar1;
    DmaAnswer answer;
    unsigned dma_requests; /* DMA_READs the client saw */
    size_t last_nfds;      /* fds that came with the last message */
    VutEvent finished;     /* set once the two fields below are */
    bool run_ok;
    int run_errno;
} Srv;

/* Server with the test device on a socketpair, serving on a thread;
 * srv_ready() also negotiates VERSION. */
/* The server's dma_timeout_ms for the next srv_start(). */
extern unsigned srv_dma_timeout_ms;
Srv *srv_start(void);
Srv *srv_ready(void);
/* Wait (at most @ms) for vus_server_run() to return. */
bool srv_wait_finished(Srv *s, int ms);
/* Hang up, join and free the server; asserts that no fd is left. */
void srv_end(Srv *s);

/* Raw client: bytes as given; a request (returns its id). */
void cl_send_raw(Srv *s, const void *bytes, size_t len, const int *fds,
                 size_t nfds);
uint16_t cl_send(Srv *s, uint16_t cmd, uint32_t flags, const void *payload,
                 size_t len, const int *fds, size_t nfds);
/*
 * Send a request and wait for its reply, answering the server's DMA_READs
 * meanwhile as s->answer says.  Returns 0 (payload in @out), the errno of
 * an error reply, or -1 when the server hung up.
 */
int cl_call_fds(Srv *s, uint16_t cmd, const void *payload, size_t len,
                const int *fds, size_t nfds, void *out, size_t room,
                size_t *out_len);
int cl_call(Srv *s, uint16_t cmd, const void *payload, size_t len, void *out,
            size_t room);

/* The server still answers DEVICE_GET_INFO. */
void assert_alive(Srv *s);
/* The server hung up; vus_server_run() failed with @want (0: any). */
void assert_dropped(Srv *s, int want);
/* @payload gets error @want, then the server is still alive. */
void expect_error(Srv *s, uint16_t cmd, const void *payload, size_t len,
                  int want);

/*
 * REGION_READ of @count bytes at @off of region @index (into @out unless
 * NULL); returns what cl_call() returns.
 */
int region_read(Srv *s, uint32_t index, uint64_t off, uint32_t count,
                void *out);
/* @n new eventfds; the caller closes them. */
void make_eventfds(int *fds, size_t n);

#endif /* RAW_CLIENT_H */
