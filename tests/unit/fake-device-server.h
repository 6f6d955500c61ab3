/*
 * A fake vfio-user device server for the device tests: a thread on the far
 * end of a socketpair that models a small PCI device (regions backed by
 * plain memory or by a memfd it hands out, sparse mmap areas, irqs that
 * keep the received eventfds, region io fds), can answer region info with
 * raw hostile bytes, or replays the server side of a recorded session.
 * REGION_WRITE_MULTI is served when write_multiple is in its caps.
 * It counts what it receives so the tests can check the wire traffic.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FAKE_DEVICE_SERVER_H
#define FAKE_DEVICE_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/vfio-user/proxy.h"
#include "vfio-user/caps.h"
#include "vfio-user/protocol.h"

#define FAKE_MAX_REGIONS 9
#define FAKE_MAX_AREAS 16
#define FAKE_MAX_VECTORS 64
#define FAKE_MAX_IRQ_MSGS 64
#define FAKE_MAX_INFO_CALLS 4

typedef struct FakeRegion {
    uint32_t flags; /* VFIO_REGION_INFO_FLAG_* reported */
    uint64_t size;
    uint8_t *mem;       /* what REGION_READ/WRITE access (NULL: no memory) */
    int memfd;          /* handed out with the info when >= 0 */
    uint64_t fd_offset; /* region offset inside the memfd */
    void *map;          /* the server's own mapping of the whole memfd */
    size_t map_len;
    uint32_t nr_areas; /* sparse areas; 0 = no sparse capability */
    VFIOUserSparseArea areas[FAKE_MAX_AREAS];
    uint8_t *raw; /* raw GET_REGION_INFO reply overriding the above */
    size_t raw_len;
    bool raw_fd; /* send a fresh memfd with the raw reply */
} FakeRegion;

typedef struct FakeIrqMsg {
    uint32_t flags, index, start, count;
    size_t nfds;
} FakeIrqMsg;

typedef struct FakeReplayMsg {
    uint16_t cmd;
    uint32_t flags;
    uint32_t error;
    uint8_t *payload;
    size_t len;
} FakeReplayMsg;

typedef struct FakeServer {
    int sock; /* server end of the socketpair */
    GThread *thread;
    VFIOUserCaps caps; /* offered in the VERSION reply */
    uint32_t dev_flags, num_regions, num_irqs;
    uint32_t irq_count[8]; /* vectors per irq index */
    FakeRegion regions[FAKE_MAX_REGIONS];
    int io_region;     /* region that has io fds, -1 = none */
    int io_efd;        /* the ioeventfd handed out (server's copy) */
    GPtrArray *replay; /* FakeReplayMsg: replay mode when set */

    /* lock guards everything below (the thread updates, tests read) */
    GMutex lock;
    guint replay_pos;
    unsigned replay_mismatches;
    unsigned cmds[VFIO_USER_MAX_COMMAND];
    unsigned writes[FAKE_MAX_REGIONS];
    unsigned posted[FAKE_MAX_REGIONS]; /* writes with the no-reply flag */
    unsigned reads[FAKE_MAX_REGIONS];
    unsigned multi_posted;  /* REGION_WRITE_MULTI with the no-reply flag */
    unsigned multi_entries; /* writes carried by all of them */
    uint64_t multi_last;    /* wr_cnt of the last one */
    unsigned multi_bad;     /* malformed ones (answered EINVAL) */
    uint32_t max_read_count;
    uint32_t info_argsz[FAKE_MAX_REGIONS][FAKE_MAX_INFO_CALLS];
    unsigned info_calls[FAKE_MAX_REGIONS];
    FakeIrqMsg irq_msgs[FAKE_MAX_IRQ_MSGS];
    unsigned nr_irq_msgs;
    int irq_efds[FAKE_MAX_VECTORS]; /* received eventfds per vector */
    unsigned resets;
} FakeServer;

/* A PCI device with 9 empty regions, 5 irq indexes, 8 fds, 1 MiB xfer. */
FakeServer *fake_server_new(void);
/* Region @idx: @size bytes of plain memory, reached by messages only. */
void fake_region_mem(FakeServer *fs, unsigned idx, uint64_t size);
/* Region @idx: @size bytes at @fd_offset of a memfd sent with the info. */
void fake_region_memfd(FakeServer *fs, unsigned idx, uint64_t size,
                       uint64_t fd_offset);
void fake_region_sparse(FakeServer *fs, unsigned idx, uint32_t nr,
                        const VFIOUserSparseArea *areas);
/* Answer GET_REGION_INFO for @idx with exactly these bytes. */
void fake_region_raw(FakeServer *fs, unsigned idx, const void *raw, size_t len,
                     bool with_fd);
/* Replay the s2c messages of a recorded session (jsonl) in order. */
void fake_server_load_replay(FakeServer *fs, const char *path);

/* Start the thread and connect a proxy to it (VERSION included). */
VFIOUserProxy *fake_server_start(FakeServer *fs);
/* Close @proxy (may be NULL), join the thread, free everything. */
void fake_server_stop(FakeServer *fs, VFIOUserProxy *proxy);
/* Drop the connection from the server side. */
void fake_server_hangup(FakeServer *fs);
/* Write 1 to the eventfd the client gave for @vector; false if none. */
bool fake_server_trigger(FakeServer *fs, unsigned vector);

/* Snapshot of the counters (under the lock). */
void fake_server_snapshot(FakeServer *fs, FakeServer *out);

/* Number of open fds of this process (leak checks). */

#endif /* FAKE_DEVICE_SERVER_H */
