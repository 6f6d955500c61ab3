/*
 * Log and trace output of vfio-user-vmm.  Every GLib log message (the
 * modules' debug messages play the role of QEMU's trace points) goes to
 * stderr, or to the -D file, never to stdout where qtest and the monitor
 * may be talking.  Debug messages of a log domain are shown when
 * G_MESSAGES_DEBUG names it or a -trace pattern matches it.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_LOG_H
#define SYSTEM_LOG_H

#include <stdbool.h>
#include <glib.h>

/* The log domains of the VMM (what -trace patterns are matched against). */
extern const char *const vmm_log_domains[];

/* Route every log message through our writer (stderr until -D). */
void vmm_log_init(void);
/* -D FILE: append log messages to FILE instead of stderr. */
bool vmm_log_open(const char *path, GError **errp);
void vmm_log_close(void);

/*
 * -trace [enable=]PATTERN[,file=FILE][,events=FILE] or -trace help.
 * PATTERN is a glob over the domains ('_' counts as '-', so QEMU's
 * "vfio_user_*" works); matching domains are added to G_MESSAGES_DEBUG,
 * which the modules test before formatting a trace message.  "help"
 * appends the domain list to @help.
 * A pattern that matches no domain is warned about, not refused.
 */
bool vmm_trace_parse(const char *arg, GString *help, char **file,
                     GError **errp);
/* Forget every -trace pattern (unit tests). */
void vmm_trace_reset(void);

/* A start-up error: on stderr, and also in the -D file if there is one. */
void vmm_log_error(const char *msg);

#endif /* SYSTEM_LOG_H */
