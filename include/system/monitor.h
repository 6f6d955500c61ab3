/*
 * The human monitor (HMP-like) on stdio or a UNIX socket, prompt
 * "(vfio-user) ".  Commands: help, info [SUBCOMMAND] (system/monitor-info.c),
 * xp /FMT ADDR, device_add SPEC, device_del ID, system_reset, quit.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_MONITOR_H
#define SYSTEM_MONITOR_H

#include <glib.h>
#include "system/machine.h"
#include "system/options.h"

#define MONITOR_PROMPT "(vfio-user) "

typedef struct Monitor Monitor;

Monitor *monitor_new(Machine *m, const CharSpec *spec, GError **errp);
void monitor_free(Monitor *mon);

/* Run one command line and append its output to @out (no prompt). */
void monitor_execute(Machine *m, const char *line, GString *out);

#endif /* SYSTEM_MONITOR_H */
