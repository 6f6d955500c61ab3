/*
 * The main loop of vfio-user-vmm and how anything asks it to stop.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_RUNSTATE_H
#define SYSTEM_RUNSTATE_H

#include <stdbool.h>
#include <glib.h>

/* Run the default main context until vmm_request_quit(). */
void vmm_main_loop_run(void);
/* Callable from the main thread; the loop returns at its next turn. */
void vmm_request_quit(void);
/* vmm_request_quit() was called. */
bool vmm_quitting(void);

/*
 * Run state as query-status and info status report it.  There is no CPU,
 * so it changes nothing but what is reported: "prelaunch" after -S,
 * "paused" after stop, "running" otherwise.  Main thread.
 */
void vmm_set_running(bool running, const char *status);
const char *vmm_run_status(void);
bool vmm_is_running(void);
/* -name */
void vmm_set_name(const char *name);
const char *vmm_name(void);

#endif /* SYSTEM_RUNSTATE_H */
