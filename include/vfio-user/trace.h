/*
 * Trace points: one catalog (trace-events at the top of the tree) of named,
 * typed points, turned by scripts/tracetool.py into "trace-events.h", which
 * a module includes to call trace_NAME(args).  A point is off until
 * enabled by name or by its module's log domain; when on, it logs at
 * G_LOG_LEVEL_DEBUG in that domain with the field VFIO_USER_TRACE_FIELD
 * set to its name, and the message "NAME formatted-arguments".  While it
 * is off, a call costs one load and a branch: the arguments are not even
 * evaluated.  See docs/devel/tracing.rst.
 *
 * G_MESSAGES_DEBUG (read once, when the program starts) enables the
 * points of the domains it names ("all": every point), as it does for
 * GLib's own debug messages.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VFIO_USER_TRACE_H
#define VFIO_USER_TRACE_H

#include <stdbool.h>
#include <stdio.h>
#include <glib.h>

#define VFIO_USER_TRACE_FIELD "VFIO_USER_TRACE"

typedef struct VfioUserTraceDomain {
    const char *name; /* the GLib log domain */
    const char *help;
} VfioUserTraceDomain;

typedef struct VfioUserTracePoint {
    const char *name;
    unsigned domain;  /* index in vfio_user_trace_domains */
    const char *args; /* "type name, ..." as in the catalog */
} VfioUserTracePoint;

/* The catalog (generated), each ended by an entry with a NULL name. */
extern const VfioUserTraceDomain vfio_user_trace_domains[];
extern const VfioUserTracePoint vfio_user_trace_points[];
/* Per point: non-zero when enabled (read without a lock by any thread). */
extern int vfio_user_trace_state[];

static inline bool vfio_user_trace_on(unsigned id)
{
    return __atomic_load_n(&vfio_user_trace_state[id], __ATOMIC_RELAXED);
}

/* Log point @id with @msg (g_free'd); called by the generated code. */
void vfio_user_trace_emit(unsigned id, char *msg);

/*
 * Enable the points whose name matches the glob @pattern, or whose log
 * domain does (there '_' matches '-', so "vfio_user_*" is every domain);
 * a leading '-' disables them instead.  Returns how many points and
 * domains matched (a domain without points counts too).
 */
unsigned vfio_user_trace_enable(const char *pattern);
/* Disable every point. */
void vfio_user_trace_reset(void);
/* Append the list of domains and their points to @out. */
void vfio_user_trace_help(GString *out);

/*
 * One -trace argument: [enable=]PATTERN, events=FILE (one pattern per
 * line, '#' comments), file=FILE (stored in *@file for the caller) or
 * help (the list goes to @help; nothing else is done).  A pattern that
 * matches nothing is warned about, not refused.  @opt names the option
 * in messages ("-trace", "--trace").
 */
bool vfio_user_trace_parse(const char *opt, const char *arg, GString *help,
                           char **file, GError **errp);

/* Whether a structured log record comes from a trace point. */
bool vfio_user_log_is_trace(const GLogField *fields, gsize n_fields);

/*
 * Write one log record as a line to @out: trace points always (they were
 * enabled), debug and info messages only if G_MESSAGES_DEBUG asks for
 * them, everything else always.  Never writes to stdout unless @out is.
 */
void vfio_user_log_write(FILE *out, GLogLevelFlags level,
                         const GLogField *fields, gsize n_fields);

#endif /* VFIO_USER_TRACE_H */
