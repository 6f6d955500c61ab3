/*
 * Fake vfio-user server for the proxy unit tests (fake-peer.c):
 * a script on its own thread against one end of a socketpair, message
 * helpers for that script, and the request/reply pairs of the recorded
 * sessions in tests/data.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FAKE_PEER_H
#define FAKE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "vfio-user/caps.h"
#include "vfio-user/protocol.h"

typedef void (*ServerScript)(int sock, void *opaque);

typedef struct Peer {
    int client_fd;
    int server_fd;
    ServerScript fn;
    void *opaque;
    GThread *thread;
} Peer;

/* A socketpair; @fn runs on a thread with the server end. */
Peer *peer_start(ServerScript fn, void *opaque);
void peer_join(Peer *p);

/* Receive one message whole; the payload must fit in @buf. */
size_t srv_recv(int sock, VFIOUserHdr *hdr, void *buf, size_t size, int *fds,
                size_t *nfds);
/* True when the peer closed the connection (EOF at a message boundary). */
bool srv_wait_eof(int sock);
void srv_reply(int sock, const VFIOUserHdr *req, const void *payload,
               size_t len, const int *fds, size_t nfds);
void srv_error(int sock, const VFIOUserHdr *req, int errnum);
/* Send a request to the client (server-to-client direction). */
void srv_request(int sock, uint16_t id, uint16_t cmd, const void *payload,
                 size_t len);
void srv_version_raw(int sock, const void *payload, size_t len, uint16_t cmd,
                     uint16_t id_delta, uint32_t flags, int errnum,
                     VFIOUserCaps *client_caps);
void srv_version_json(int sock, uint16_t major, const char *json);
void srv_version(int sock);

/* One recorded request of the client and the server's recorded answer. */
typedef struct VecPair {
    uint16_t cmd;
    GBytes *request;
    GBytes *reply;
    uint32_t errnum; /* non-zero: the reply was an error reply */
} VecPair;

typedef struct VecReplay {
    GBytes *version;
    GPtrArray *pairs;
} VecReplay;

/*
 * Load @file: *@version gets the server's VERSION reply payload; the
 * result holds every blocking client request (without fds) whose reply
 * was recorded whole, in order.
 */
GPtrArray *vec_load(const char *file, GBytes **version);
/* Server side of a replay (@opaque a VecReplay). */
void script_vec_replay(int sock, void *opaque);

#endif /* FAKE_PEER_H */
