/*
 * SIGBUS-safe access to memory a peer can take away: a shared mapping of
 * a file the peer may shrink (guest RAM in a memory-backend-file or an
 * unsealed memfd, a BAR's region fd, a DMA map's fd).  Touching such a
 * mapping beyond the file's new end raises SIGBUS; inside a guarded call
 * the fault ends the call with false instead of the process.
 *
 * Only faults whose address lies in the guarded range and that happen on
 * the guarding thread are caught; every other SIGBUS goes to the handler
 * that was installed before ours (the default kills the process).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VFIO_USER_GUARD_H
#define VFIO_USER_GUARD_H

#include <stdbool.h>
#include <stddef.h>

typedef void (*VfioUserGuardFn)(void *opaque);

/*
 * Run @fn(@opaque), which may touch [@risky, @risky + @len).  False when
 * it was cut short by SIGBUS at an address in that range: what @fn had
 * written so far stays written.  @fn must not take locks or allocate.
 */
bool vfio_user_guard_call(const void *risky, size_t len, VfioUserGuardFn fn,
                          void *opaque);

/*
 * memcpy() under the guard; @risky_src says which side is the mapping.  A
 * naturally aligned 2-, 4- or 8-byte copy is a single load and store.
 */
bool vfio_user_guard_copy(void *dst, const void *src, size_t len,
                          bool risky_src);

/* Faults caught so far in this process (for tests and statistics). */
unsigned long vfio_user_guard_faults(void);

#endif /* VFIO_USER_GUARD_H */
