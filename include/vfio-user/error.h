/*
 * Error reporting shared by every module: GError with errno codes.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VFIO_USER_ERROR_H
#define VFIO_USER_ERROR_H

#include <stdbool.h>
#include <glib.h>

/*
 * Every error this project reports is in the VFIO_USER_ERROR domain and its
 * code is an errno value (EINVAL, EPIPE, ETIMEDOUT...), so that a server-side
 * error can go straight into a reply and a client can test err->code.
 */
#define VFIO_USER_ERROR (vfio_user_error_quark())
GQuark vfio_user_error_quark(void);

/* g_set_error() in VFIO_USER_ERROR; returns false, for "return ...". */
bool vfio_user_error_set(GError **errp, int errnum, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* The errno carried by @err, or EIO when it is from another domain. */
int vfio_user_error_errno(const GError *err);

#endif /* VFIO_USER_ERROR_H */
