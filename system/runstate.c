/*
 * The main loop of vfio-user-vmm: the default GMainContext runs qtest,
 * the monitor, interrupt eventfds and signal handling.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdbool.h>
#include "system/runstate.h"

static GMainLoop *main_loop; /* main thread only */
static bool quit_requested;

void vmm_main_loop_run(void)
{
    if (quit_requested) {
        return;
    }
    main_loop = g_main_loop_new(NULL, false);
    g_main_loop_run(main_loop);
    g_clear_pointer(&main_loop, g_main_loop_unref);
}

void vmm_request_quit(void)
{
    quit_requested = true;
    if (main_loop) {
        g_main_loop_quit(main_loop);
    }
}

bool vmm_quitting(void)
{
    return quit_requested;
}

static bool running = true;
static const char *run_status = "running";
static char *vm_name;

void vmm_set_running(bool r, const char *status)
{
    running = r;
    run_status = status;
}

const char *vmm_run_status(void)
{
    return run_status;
}

bool vmm_is_running(void)
{
    return running;
}

void vmm_set_name(const char *name)
{
    g_free(vm_name);
    vm_name = g_strdup(name);
}

const char *vmm_name(void)
{
    return vm_name;
}
