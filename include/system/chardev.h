/*
 * Line-oriented character devices for qtest and the monitor: stdio, a
 * UNIX socket we connect to, or a UNIX socket we listen on (one client at
 * a time; the next one is accepted when it leaves).  Input is cut into
 * lines and handed to a callback on the main loop; output is written
 * whole (blocking).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_CHARDEV_H
#define SYSTEM_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>
#include "system/options.h"

typedef struct CharLine CharLine;

typedef struct CharLineOps {
    void (*opened)(CharLine *c, void *opaque); /* a peer is connected */
    void (*line)(CharLine *c, const char *line, void *opaque);
    /* The peer left.  @final: nobody can come back (stdio or a socket we
     * connected to); a listening socket waits for the next client. */
    void (*closed)(CharLine *c, bool final, void *opaque);
    /* A line longer than the limit (64 MiB) was dropped. */
    void (*overlong)(CharLine *c, void *opaque);
    /* If set, input is handed over as it arrives instead of in lines
     * (line and overlong are not used); pausing does not apply. */
    void (*data)(CharLine *c, const char *buf, size_t len, void *opaque);
} CharLineOps;

CharLine *char_line_new(const CharSpec *spec, const CharLineOps *ops,
                        void *opaque, GError **errp);
void char_line_free(CharLine *c);
void char_line_write(CharLine *c, const char *s);
void char_line_printf(CharLine *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* While paused, complete lines are kept and handed out after resuming. */
void char_line_pause(CharLine *c, bool paused);

#endif /* SYSTEM_CHARDEV_H */
