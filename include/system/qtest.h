/*
 * qtest server: QEMU's qtest text protocol over stdio or a UNIX socket
 * (-qtest unix:PATH connects to PATH, like QEMU; add ",server" to listen).
 *
 * Commands (one per line; numbers in decimal or 0x hex):
 *   inb|inw|inl PORT                  -> OK 0x<at least 4 hex digits>
 *   outb|outw|outl PORT VAL           -> OK (port I/O space, 0..0xffff)
 *   readb|readw|readl|readq ADDR      -> OK 0x<16 hex digits>
 *   writeb|writew|writel|writeq ADDR VAL -> OK
 *   read ADDR SIZE                    -> OK 0x<hex bytes>
 *   write ADDR SIZE 0x<hex bytes>     -> OK (missing bytes are zero)
 *   b64read ADDR SIZE                 -> OK <base64>
 *   b64write ADDR SIZE <base64>       -> OK
 *   memset ADDR SIZE BYTE             -> OK
 *   irq_intercept_in|irq_intercept_out NAME -> OK; from then on INTx
 *       changes arrive asynchronously as "IRQ raise N" / "IRQ lower N"
 *   clock_step [NS], clock_set NS     -> OK <virtual ns> (nothing runs on it)
 *   endianness                        -> OK little
 * Extensions of this project:
 *   msi_pop       -> OK 0x<addr> 0x<data> (oldest MSI that landed in the
 *                    MSI window) or OK none
 *   msi_wait MS   -> like msi_pop, waiting up to MS milliseconds for one
 *   msi_count     -> OK <number of recorded MSIs not popped yet>
 *   irq_level N   -> OK 0|1 (current level of interrupt N)
 * Errors: "FAIL Unknown command 'x'", "FAIL <what was wrong>"; never fatal.
 * When the peer closes stdio or the socket we connected to, the VMM quits.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_QTEST_H
#define SYSTEM_QTEST_H

#include <glib.h>
#include "system/machine.h"
#include "system/options.h"

typedef struct QTestServer QTestServer;

QTestServer *qtest_server_new(Machine *m, const CharSpec *spec, GError **errp);
void qtest_server_free(QTestServer *q);

#endif /* SYSTEM_QTEST_H */
