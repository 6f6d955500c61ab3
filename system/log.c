/*
 * Log and trace output of vfio-user-vmm: one GLib structured-log writer
 * that sends everything to stderr or the -D file; -trace enables trace
 * points of the catalog (util/trace.c).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "system/log.h"
#include "vfio-user/error.h"
#include "vfio-user/trace.h"

/* Written once at start-up (main thread), then read by any thread. */
static FILE *log_file;

static GLogWriterOutput vmm_log_writer(GLogLevelFlags level,
                                       const GLogField *fields, gsize n_fields,
                                       gpointer data)
{
    (void)data;
    vfio_user_log_write(log_file ? log_file : stderr, level, fields, n_fields);
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
    vfio_user_trace_reset();
}

bool vmm_trace_parse(const char *arg, GString *help, char **file, GError **errp)
{
    return vfio_user_trace_parse("-trace", arg, help, file, errp);
}
