/*
 * GError helpers: one domain, errno codes.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdarg.h>
#include "vfio-user/error.h"

/*
 * Written out rather than with G_DEFINE_QUARK(), whose first argument is
 * not a C token here and which the formatter turns into "vfio - user - ...".
 */
GQuark vfio_user_error_quark(void)
{
    return g_quark_from_static_string("vfio-user-error-quark");
}

bool vfio_user_error_set(GError **errp, int errnum, const char *fmt, ...)
{
    va_list ap;

    if (errp) {
        va_start(ap, fmt);
        g_propagate_error(errp,
                          g_error_new_valist(VFIO_USER_ERROR, errnum, fmt, ap));
        va_end(ap);
    }
    return false;
}

int vfio_user_error_errno(const GError *err)
{
    if (err && err->domain == VFIO_USER_ERROR && err->code > 0) {
        return err->code;
    }
    return EIO;
}
