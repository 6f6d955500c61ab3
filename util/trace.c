/*
 * Trace points: enabling them by pattern, -trace parsing, emitting, and a
 * log writer that keeps everything off stdout (see vfio-user/trace.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include "trace-events.h"
#include "vfio-user/error.h"

void vfio_user_trace_emit(unsigned id, char *msg)
{
    const VfioUserTracePoint *p = &vfio_user_trace_points[id];
    const GLogField fields[] = {
        {"GLIB_DOMAIN", vfio_user_trace_domains[p->domain].name, -1},
        {"PRIORITY", "7", -1},
        {VFIO_USER_TRACE_FIELD, p->name, -1},
        {"MESSAGE", msg, -1},
    };

    g_log_structured_array(G_LOG_LEVEL_DEBUG, fields, G_N_ELEMENTS(fields));
    g_free(msg);
}

static void point_set(unsigned id, bool on)
{
    __atomic_store_n(&vfio_user_trace_state[id], on, __ATOMIC_RELAXED);
}

unsigned vfio_user_trace_enable(const char *pattern)
{
    bool on = *pattern != '-';
    g_autofree char *dashed = NULL;
    unsigned n = 0;

    pattern += !on;
    dashed = g_strdelimit(g_strdup(pattern), "_", '-');
    for (unsigned d = 0; vfio_user_trace_domains[d].name; d++) {
        bool all =
            g_pattern_match_simple(dashed, vfio_user_trace_domains[d].name);

        n += all;
        for (unsigned i = 0; i < VFIO_USER_TRACE_N_POINTS; i++) {
            const VfioUserTracePoint *p = &vfio_user_trace_points[i];

            if (p->domain == d &&
                (all || g_pattern_match_simple(pattern, p->name))) {
                point_set(i, on);
                n += !all;
            }
        }
    }
    return n;
}

void vfio_user_trace_reset(void)
{
    for (unsigned i = 0; i < VFIO_USER_TRACE_N_POINTS; i++) {
        point_set(i, false);
    }
}

void vfio_user_trace_help(GString *out)
{
    g_string_append(out, "Trace points by log domain (enable=PATTERN: a glob\n"
                         "over point or domain names, '_' matching '-' in\n"
                         "domains; a leading '-' disables):\n");
    for (unsigned d = 0; vfio_user_trace_domains[d].name; d++) {
        g_string_append_printf(out, "%-20s %s\n",
                               vfio_user_trace_domains[d].name,
                               vfio_user_trace_domains[d].help);
        for (unsigned i = 0; i < VFIO_USER_TRACE_N_POINTS; i++) {
            const VfioUserTracePoint *p = &vfio_user_trace_points[i];

            if (p->domain == d) {
                g_string_append_printf(out, "  %s(%s)\n", p->name, p->args);
            }
        }
    }
}

static void pattern_add(const char *opt, const char *pattern)
{
    if (!vfio_user_trace_enable(pattern)) {
        g_warning("%s %s: matches no trace point or domain (see %s help)", opt,
                  pattern, opt);
    }
}

/* events=FILE: one pattern per line, '#' comments. */
static bool events_file_read(const char *opt, const char *path, GError **errp)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GError *err = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        vfio_user_error_set(errp, ENOENT, "%s events=%s: %s", opt, path,
                            err->message);
        g_error_free(err);
        return false;
    }
    lines = g_strsplit(text, "\n", -1);
    for (unsigned i = 0; lines[i]; i++) {
        g_strstrip(lines[i]);
        if (*lines[i] && *lines[i] != '#') {
            pattern_add(opt, lines[i]);
        }
    }
    return true;
}

bool vfio_user_trace_parse(const char *opt, const char *arg, GString *help,
                           char **file, GError **errp)
{
    g_auto(GStrv) items = g_strsplit(arg, ",", -1);

    for (unsigned i = 0; items[i]; i++) {
        const char *it = items[i];

        if (!strcmp(it, "help") || !strcmp(it, "?") ||
            !strcmp(it, "enable=help")) {
            vfio_user_trace_help(help);
            return true;
        }
        if (g_str_has_prefix(it, "enable=")) {
            pattern_add(opt, it + 7);
        } else if (g_str_has_prefix(it, "events=")) {
            if (!events_file_read(opt, it + 7, errp)) {
                return false;
            }
        } else if (g_str_has_prefix(it, "file=")) {
            g_free(*file);
            *file = g_strdup(it + 5);
        } else if (!strchr(it, '=') && *it) {
            pattern_add(opt, it);
        } else {
            // clang-format off
            return vfio_user_error_set(errp, EINVAL, "%s: unknown option '%s' (expected [enable=]PATTERN, events=FILE or file=FILE)", opt, it);
            // clang-format on
        }
    }
    return true;
}

/* G_MESSAGES_DEBUG names domains (or "all"): their points start enabled. */
__attribute__((constructor)) static void init_from_env(void)
{
    const char *env = g_getenv("G_MESSAGES_DEBUG");
    g_auto(GStrv) names = g_strsplit_set(env ? env : "", " ,", -1);

    for (unsigned i = 0; names[i]; i++) {
        if (!strcmp(names[i], "all")) {
            vfio_user_trace_enable("*");
        } else if (*names[i] && !strchr(names[i], '*') &&
                   !strchr(names[i], '?')) {
            vfio_user_trace_enable(names[i]);
        }
    }
}

bool vfio_user_log_is_trace(const GLogField *fields, gsize n_fields)
{
    for (gsize i = 0; i < n_fields; i++) {
        if (!strcmp(fields[i].key, VFIO_USER_TRACE_FIELD)) {
            return true;
        }
    }
    return false;
}

static const char *log_domain(const GLogField *fields, gsize n_fields)
{
    for (gsize i = 0; i < n_fields; i++) {
        if (!strcmp(fields[i].key, "GLIB_DOMAIN")) {
            return fields[i].value;
        }
    }
    return NULL;
}

void vfio_user_log_write(FILE *out, GLogLevelFlags level,
                         const GLogField *fields, gsize n_fields)
{
    g_autofree char *line = NULL;

    if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) &&
        !vfio_user_log_is_trace(fields, n_fields) &&
        g_log_writer_default_would_drop(level, log_domain(fields, n_fields))) {
        return;
    }
    line = g_log_writer_format_fields(level, fields, n_fields, false);
    fprintf(out, "%s\n", line);
    fflush(out);
}
