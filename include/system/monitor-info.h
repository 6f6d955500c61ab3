/*
 * The `info` commands of the human monitor (system/monitor-info.c):
 * QEMU's pci, qtree, mtree, status, version in QEMU's layout, and our
 * memory and vfio-user.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_MONITOR_INFO_H
#define SYSTEM_MONITOR_INFO_H

#include <stdbool.h>
#include <glib.h>
#include "system/machine.h"

/*
 * `info` without a subcommand: one line per subcommand, as QEMU's
 * "info NAME  -- what it shows".
 */
void monitor_info_list(GString *out);

/* Append the output of `info @name` to @out; false if there is none. */
bool monitor_info_run(Machine *m, const char *name, GString *out);

#endif /* SYSTEM_MONITOR_INFO_H */
