/*
 * A fake vfio-user server for the container tests: a thread on the far end
 * of a socketpair that answers VERSION, records every DMA_MAP / DMA_UNMAP,
 * can act like a server without access modes, and sends DMA_READ /
 * DMA_WRITE (or anything else) to the client on the test's behalf.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FAKE_DMA_SERVER_H
#define FAKE_DMA_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <glib.h>

typedef struct FakeConfig {
    uint64_t max_xfer;     /* offered max_data_xfer_size; 0: 64 KiB */
    uint32_t max_dma_maps; /* 0: default */
    bool no_fds;           /* offer max_msg_fds 0 */
    bool legacy;           /* EINVAL on DMA_MAP mode bits (bits 2/3) */
    int map_errno;         /* answer every DMA_MAP with this errno */
    unsigned fail_nth;     /* answer the fail_nth-th DMA_MAP (1-based) */
    int fail_errno;        /* ... with this errno */
    int mmap_errno;        /* answer DMA_MAP with the mmap bit with this */
    int file_io_errno;     /* answer DMA_MAP with the file-I/O bit with this */
} FakeConfig;

/* One DMA_MAP as the server received it. */
typedef struct FakeMap {
    uint32_t flags;
    uint64_t offset;
    uint64_t addr;
    uint64_t size;
    size_t nfds;
    int fd;          /* the server's copy while mapped, else -1 */
    struct stat st;  /* fstat of the received fd (nfds > 0) */
    int reply_errno; /* what the fake answered */
} FakeMap;

typedef struct FakeServer FakeServer;

/* Start the server thread; *client_sock gets the other end. */
FakeServer *fake_server_new(const FakeConfig *cfg, int *client_sock);
/* Shut down, join, close every fd the server holds. */
void fake_server_free(FakeServer *fs);

size_t fake_server_nmaps(FakeServer *fs);
FakeMap fake_server_map(FakeServer *fs, size_t i);
size_t fake_server_nunmaps(FakeServer *fs);
void fake_server_unmap(FakeServer *fs, size_t i, uint64_t *addr,
                       uint64_t *size);

/*
 * Send a request to the client and wait (5 s at most) for its reply.
 * Returns the reply's errno (0 for success) and copies at most @max payload
 * bytes to @reply (*@reply_len set); -1 if no reply came.
 */
int fake_server_request(FakeServer *fs, uint16_t cmd, const void *payload,
                        size_t len, const int *fds, size_t nfds, void *reply,
                        size_t max, size_t *reply_len);
/* DMA_READ of @count bytes into @buf; returns the reply errno. */
int fake_server_dma_read(FakeServer *fs, uint64_t addr, uint64_t count,
                         void *buf);
/* DMA_WRITE of @count bytes from @data; returns the reply errno. */
int fake_server_dma_write(FakeServer *fs, uint64_t addr, uint64_t count,
                          const void *data);
/* Wait until the client closed the connection (5 s at most). */
bool fake_server_wait_closed(FakeServer *fs);

/* Number of open fds of this process. */

#endif /* FAKE_DMA_SERVER_H */
