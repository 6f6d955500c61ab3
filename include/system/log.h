/*
 * Log and trace output of vfio-user-vmm.  Every GLib log message and
 * every enabled trace point (vfio-user/trace.h) goes to stderr, or to the
 * -D file, never to stdout where qtest and the monitor may be talking.
 * Trace points are enabled by -trace patterns or G_MESSAGES_DEBUG; other
 * debug messages are shown when G_MESSAGES_DEBUG names their domain.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_LOG_H
#define SYSTEM_LOG_H

#include <stdbool.h>
#include <glib.h>

/* Route every log message through our writer (stderr until -D). */
void vmm_log_init(void);
/* -D FILE: append log messages to FILE instead of stderr. */
bool vmm_log_open(const char *path, GError **errp);
void vmm_log_close(void);

/*
 * -trace [enable=]PATTERN[,file=FILE][,events=FILE] or -trace help:
 * vfio_user_trace_parse() (PATTERN is a glob over trace point names and
 * log domains).  "help" appends the catalog to @help.
 */
bool vmm_trace_parse(const char *arg, GString *help, char **file,
                     GError **errp);
/* Disable every trace point again (unit tests, exit). */
void vmm_trace_reset(void);

/* A start-up error: on stderr, and also in the -D file if there is one. */
void vmm_log_error(const char *msg);

#endif /* SYSTEM_LOG_H */
