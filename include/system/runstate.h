/*
 * The main loop of vfio-user-vmm and how anything asks it to stop.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_RUNSTATE_H
#define SYSTEM_RUNSTATE_H

#include <glib.h>

/* Run the default main context until vmm_request_quit(). */
void vmm_main_loop_run(void);
/* Callable from the main thread; the loop returns at its next turn. */
void vmm_request_quit(void);

#endif /* SYSTEM_RUNSTATE_H */
