/*
 * Client side of the proxy unit tests (test-proxy-*.c): a proxy on the
 * client end of a fake peer (fake-peer.h), blocking calls and an
 * echo round trip, error checks, the capture of the proxy's warnings, and
 * the busy-polling (x-poll-us) variant of a test.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef PROXY_CLIENT_H
#define PROXY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "hw/vfio-user/proxy.h"
#include "fake-peer.h"

/*
 * g_test_init(), with the warnings of the proxy's log domain captured
 * (see log_has_line()) instead of fatal.
 */
void proxy_test_init(int *argc, char ***argv);

/* True when a captured proxy warning is exactly @line. */
bool log_has_line(const char *line);

/*
 * A proxy on the client end of @p (@timeout_ms its message timeout, 0 the
 * default); it negotiates VERSION, so @p's script must answer it.
 */
VFIOUserProxy *client_new(Peer *p, uint32_t timeout_ms);
/* The same with VFIOUserProxyOptions.label @label (NULL: none). */
VFIOUserProxy *client_new_labelled(Peer *p, uint32_t timeout_ms,
                                   const char *label);

/* Blocking request with one payload buffer and one reply buffer. */
bool client_call(VFIOUserProxy *proxy, uint16_t cmd, const void *data,
                 size_t len, void *reply, size_t reply_size,
                 VFIOUserRequest *out, GError **errp);

/* Round trip with srv_echo_one() on the peer; asserts it works. */
void client_ping(VFIOUserProxy *proxy, const char *word);

/* Server side of client_ping(): echo one request's payload. */
void srv_echo_one(int sock);

/* Peer script: answer VERSION, then wait for the client to hang up. */
void script_version_then_eof(int sock, void *opaque);

/* @err is a VFIO_USER_ERROR of @code whose message contains @needle. */
void assert_error(GError *err, int code, const char *needle);

/*
 * The same behaviour with busy-polling (x-poll-us) turned on: runs the
 * GTestFunc @data with the proxies of client_new() polling.
 */
void test_poll_us(gconstpointer data);

#endif /* PROXY_CLIENT_H */
