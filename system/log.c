/*
 * Log and trace output of vfio-user-vmm: one GLib structured-log writer
 * that sends everything to stderr or the -D file, with -trace patterns
 * enabling the debug messages of log domains.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "system/log.h"
#include "vfio-user/error.h"

#define VMM_OWN_DOMAIN "vfio-user-vmm"

const char *const vmm_log_domains[] = {
    "vfio-user-proxy",  /* connection, VERSION, every message sent/received */
    "vfio-user-dma",    /* DMA maps, access modes, DMA_READ/DMA_WRITE */
    "vfio-user-device", /* regions, irqs, reset, region I/O */
    VMM_OWN_DOMAIN,     /* the VMM itself (messages without a domain) */
    NULL,
};

static const char *const domain_help[] = {
    "connection, VERSION negotiation, every message sent and received",
    "DMA maps, access-mode decisions, DMA_READ/DMA_WRITE served",
    "device, region and irq info, region I/O, reset",
    "the VMM itself: machine, devices, monitor",
};

/* Written once at start-up (main thread), then read by any thread. */
static FILE *log_file;
static GPtrArray *trace_patterns; /* char *, '_' already turned into '-' */

static bool domain_matches(const char *domain)
{
    const char *d = domain ? domain : VMM_OWN_DOMAIN;

    for (guint i = 0; trace_patterns && i < trace_patterns->len; i++) {
        if (g_pattern_match_simple(g_ptr_array_index(trace_patterns, i), d)) {
            return true;
        }
    }
    return false;
}

static GLogWriterOutput vmm_log_writer(GLogLevelFlags level,
                                       const GLogField *fields, gsize n_fields,
                                       gpointer data)
{
    g_autofree char *line = NULL;
    const char *domain = NULL;
    FILE *out = log_file ? log_file : stderr;

    (void)data;
    for (gsize i = 0; i < n_fields; i++) {
        if (!strcmp(fields[i].key, "GLIB_DOMAIN")) {
            domain = fields[i].value;
        }
    }
    if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) &&
        g_log_writer_default_would_drop(level, domain) &&
        !domain_matches(domain)) {
        return G_LOG_WRITER_HANDLED;
    }
    line = g_log_writer_format_fields(level, fields, n_fields, false);
    fprintf(out, "%s\n", line);
    fflush(out);
    return G_LOG_WRITER_HANDLED;
}

void vmm_log_init(void)
{
    g_log_set_writer_func(vmm_log_writer, NULL, NULL);
}

bool vmm_log_open(const char *path, GError **errp)
{
    FILE *f = fopen(path, "a");

    if (!f) {
        return vfio_user_error_set(errp, errno, "-D %s: %s", path,
                                   g_strerror(errno));
    }
    setvbuf(f, NULL, _IOLBF, 0);
    log_file = f;
    return true;
}

void vmm_log_close(void)
{
    FILE *f = log_file;

    log_file = NULL;
    if (f) {
        fclose(f);
    }
}

void vmm_log_error(const char *msg)
{
    fprintf(stderr, "vfio-user-vmm: %s\n", msg);
    if (log_file) {
        fprintf(log_file, "vfio-user-vmm: %s\n", msg);
        fflush(log_file);
    }
}

void vmm_trace_reset(void)
{
    g_clear_pointer(&trace_patterns, g_ptr_array_unref);
}

static void trace_add(const char *pattern)
{
    char *p = g_strdelimit(g_strdup(pattern), "_", '-');
    bool any = false;

    for (unsigned i = 0; vmm_log_domains[i]; i++) {
        if (g_pattern_match_simple(p, vmm_log_domains[i])) {
            /* Modules test g_log_writer_default_would_drop() before they
             * format a debug message; it reads G_MESSAGES_DEBUG. */
            const char *cur = g_getenv("G_MESSAGES_DEBUG");
            g_autofree char *v =
                cur && *cur ? g_strconcat(cur, " ", vmm_log_domains[i], NULL)
                            : g_strdup(vmm_log_domains[i]);

            g_setenv("G_MESSAGES_DEBUG", v, true);
            any = true;
        }
    }
    if (!any) {
        g_warning("-trace %s: matches no trace domain (see -trace help)",
                  pattern);
    }
    if (!trace_patterns) {
        trace_patterns = g_ptr_array_new_with_free_func(g_free);
    }
    g_ptr_array_add(trace_patterns, p);
}

/* events=FILE: one pattern per line, '#' comments. */
static bool trace_events_file(const char *path, GError **errp)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GError *err = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        vfio_user_error_set(errp, ENOENT, "-trace events=%s: %s", path,
                            err->message);
        g_error_free(err);
        return false;
    }
    lines = g_strsplit(text, "\n", -1);
    for (unsigned i = 0; lines[i]; i++) {
        g_strstrip(lines[i]);
        if (*lines[i] && *lines[i] != '#') {
            trace_add(lines[i]);
        }
    }
    return true;
}

bool vmm_trace_parse(const char *arg, GString *help, char **file, GError **errp)
{
    g_auto(GStrv) items = g_strsplit(arg, ",", -1);

    for (unsigned i = 0; items[i]; i++) {
        const char *it = items[i];

        if (!strcmp(it, "help") || !strcmp(it, "?") ||
            !strcmp(it, "enable=help")) {
            g_string_append(
                help,
                "Trace domains (-trace enable=PATTERN, globs allowed, '_' matches '-'):\n");
            for (unsigned k = 0; vmm_log_domains[k]; k++) {
                g_string_append_printf(help, "%-18s %s\n", vmm_log_domains[k],
                                       domain_help[k]);
            }
            return true;
        }
        if (g_str_has_prefix(it, "enable=")) {
            trace_add(it + 7);
        } else if (g_str_has_prefix(it, "events=")) {
            if (!trace_events_file(it + 7, errp)) {
                return false;
            }
        } else if (g_str_has_prefix(it, "file=")) {
            g_free(*file);
            *file = g_strdup(it + 5);
        } else if (!strchr(it, '=') && *it) {
            trace_add(it);
        } else {
            // clang-format off
            return vfio_user_error_set(errp, EINVAL, "-trace: unknown option '%s' (expected [enable=]PATTERN, events=FILE or file=FILE)", it);
            // clang-format on
        }
    }
    return true;
}
