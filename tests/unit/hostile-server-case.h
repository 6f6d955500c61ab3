/*
 * The common scaffolding of the malicious-server tests
 * (test-hostile-server-*.c): a Case is one client proxy against the
 * scripted fake server of scripted-server.h, with the fd count
 * and start time to check at its end, plus the DEVICE_GET_INFO call most
 * cases use to see whether the connection still works.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HOSTILE_SERVER_CASE_H
#define HOSTILE_SERVER_CASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "hw/vfio-user/proxy.h"
#include "scripted-server.h"
#include "vfio-user/protocol.h"

#define T_MS 200      /* client message timeout in most cases */
#define QUICK_MS 1500 /* "at once": well below any timeout used below */

typedef struct Case {
    unsigned fds0;
    gint64 t0;
    FakeServer *fs;
    VFIOUserProxy *p;
} Case;

/* Count the open fds and make the fake server; script it next. */
void case_begin(Case *c);

/*
 * Start the fake's script and connect the client to it (VERSION included)
 * with message timeout @timeout_ms; c->t0 is the time of the connect.
 */
VFIOUserProxy *case_try_connect(Case *c, uint32_t timeout_ms, GError **errp);

/* case_try_connect() that must succeed; the proxy goes to c->p. */
void case_connect(Case *c, uint32_t timeout_ms);

/* Fail the test (and go on) when more than @ms passed since @t0. */
void assert_quick(gint64 t0, int ms);

/* Close the client, join the fake (its script must have succeeded), and
 * check that every fd of the case is gone. */
void case_end(Case *c);

/* @err is a VFIO_USER_ERROR of @code (its message logged when not). */
void assert_err(GError *err, int code);

/* DEVICE_GET_INFO through the proxy with a 16-byte reply buffer. */
bool call_info(VFIOUserProxy *p, VFIOUserDeviceInfo *out, GError **errp);

/* A DEVICE_GET_INFO reply with one region. */
extern const VFIOUserDeviceInfo info_reply;

/* @n fds (dups of stderr) for the fake to send; the caller closes them. */
void make_fds(int *fds, size_t n);

#endif /* HOSTILE_SERVER_CASE_H */
