/*
 * An in-process vfio-user server for the VMM tests: a device with MSI-X
 * in a memory BAR, MSI, INTx and a register BAR that raises interrupts.
 *
 *   BAR0  64 KiB memory (mmapped by the client); MSI-X table of 4 vectors
 *         at 0x8000, PBA at 0x9000
 *   BAR2  4 KiB registers, 4-byte accesses:
 *         0x0 W  signal MSI-X vector N    0x4 W  signal INTx
 *         0x8 W  signal MSI vector N      0xc R  number of writes so far
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VMM_TEST_SERVER_H
#define VMM_TEST_SERVER_H

#include <glib.h>
#include "vfio-user/server.h"

#define TDEV_VENDOR 0x4e58
#define TDEV_DEVICE 0x00aa
#define TDEV_MSIX_TABLE 0x8000
#define TDEV_MSIX_PBA 0x9000

/* Fields after srv are guarded by lock. */
typedef struct TestServer {
    VusServer *srv;
    char *dir;
    char *path;
    uint8_t *bar0;
    GThread *thread;
    GMutex lock;
    GCond cond;
    unsigned disconnects;
    uint32_t writes;
} TestServer;

TestServer *test_server_start(void);
/* The same with @msi / @msix vectors offered in GET_IRQ_INFO whatever
 * the capabilities say (4 each); -1 keeps 4. */
TestServer *test_server_start_counts(int msi, int msix);
/* Wait (at most 10 s) until the client has disconnected @n times. */
bool test_server_wait_disconnects(TestServer *ts, unsigned n);
void test_server_stop(TestServer *ts);

#endif /* VMM_TEST_SERVER_H */
