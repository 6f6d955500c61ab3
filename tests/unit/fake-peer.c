/*
 * Fake vfio-user server for the proxy unit tests: a script that runs on
 * its own thread against one end of a socketpair (or an accepted socket),
 * speaking through the transport functions, and the pairing of requests
 * and replies in the recorded sessions of tests/data (see
 * fake-peer.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib.h>

#include "vfio-user/caps.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"

#include "fake-peer.h"
#include "vfu-test.h"

static gpointer peer_main(gpointer opaque)
{
    Peer *p = opaque;

    p->fn(p->server_fd, p->opaque);
    return NULL;
}

/* A socketpair; @fn runs on a thread with the server end. */
Peer *peer_start(ServerScript fn, void *opaque)
{
    Peer *p = g_new0(Peer, 1);
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    p->client_fd = sv[0];
    p->server_fd = sv[1];
    p->fn = fn;
    p->opaque = opaque;
    p->thread = g_thread_new("fake-server", peer_main, p);
    return p;
}

/* Join the script and close the server end (the proxy owns client_fd). */
void peer_join(Peer *p)
{
    g_thread_join(p->thread);
    close(p->server_fd);
    g_free(p);
}

/* Receive one message whole; the payload must fit in @buf. */
size_t srv_recv(int sock, VFIOUserHdr *hdr, void *buf, size_t size, int *fds,
                size_t *nfds)
{
    GError *err = NULL;
    size_t dummy, len;

    g_assert_true(vfio_user_msg_recv_hdr(sock, hdr, fds, nfds ? nfds : &dummy,
                                         fds ? VFIO_USER_MAX_FDS : 0, 1 << 24,
                                         &err));
    g_assert_no_error(err);
    len = hdr->size - sizeof(*hdr);
    g_assert_cmpuint(len, <=, size);
    g_assert_true(vfio_user_msg_recv_body(sock, buf, len, &err));
    g_assert_no_error(err);
    return len;
}

/* True when the peer closed the connection (EOF at a message boundary). */
bool srv_wait_eof(int sock)
{
    GError *err = NULL;
    VFIOUserHdr hdr;
    size_t nfds;
    bool eof;

    if (vfio_user_msg_recv_hdr(sock, &hdr, NULL, &nfds, 0, 1 << 24, &err)) {
        return false;
    }
    eof = err->code == ECONNRESET;
    g_error_free(err);
    return eof;
}

void srv_reply(int sock, const VFIOUserHdr *req, const void *payload,
               size_t len, const int *fds, size_t nfds)
{
    GError *err = NULL;
    VFIOUserHdr hdr;

    vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REPLY);
    g_assert_true(
        vfio_user_msg_send(sock, &hdr, payload, len, fds, nfds, &err));
    g_assert_no_error(err);
}

void srv_error(int sock, const VFIOUserHdr *req, int errnum)
{
    GError *err = NULL;

    g_assert_true(vfio_user_msg_send_error(sock, req, errnum, &err));
    g_assert_no_error(err);
}

/* Send a request to the client (server-to-client direction). */
void srv_request(int sock, uint16_t id, uint16_t cmd, const void *payload,
                 size_t len)
{
    GError *err = NULL;
    VFIOUserHdr hdr;

    vfio_user_hdr_init(&hdr, id, cmd, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REQUEST);
    g_assert_true(vfio_user_msg_send(sock, &hdr, payload, len, NULL, 0, &err));
    g_assert_no_error(err);
}

/*
 * Receive the client's VERSION, check it parses, and answer with @payload
 * (@len bytes) and @flags/@errnum in the reply header.  The client's offer
 * is stored in @client_caps when not NULL.
 */
void srv_version_raw(int sock, const void *payload, size_t len, uint16_t cmd,
                     uint16_t id_delta, uint32_t flags, int errnum,
                     VFIOUserCaps *client_caps)
{
    char buf[4096];
    VFIOUserCaps caps;
    GError *err = NULL;
    VFIOUserHdr req, hdr;
    size_t n = srv_recv(sock, &req, buf, sizeof(buf), NULL, NULL);

    g_assert_cmpuint(req.cmd, ==, VFIO_USER_VERSION);
    g_assert_cmpuint(req.flags, ==, VFIO_USER_F_TYPE_REQUEST);
    g_assert_true(vfio_user_caps_parse_version(buf, n, &caps, &err));
    g_assert_no_error(err);
    if (client_caps) {
        *client_caps = caps;
    }
    vfio_user_hdr_init(&hdr, req.id + id_delta, cmd, sizeof(hdr) + len, flags);
    hdr.error = errnum;
    g_assert_true(vfio_user_msg_send(sock, &hdr, payload, len, NULL, 0, &err));
    g_assert_no_error(err);
}

/* Answer VERSION with version @major.1 and @json (NULL: no JSON at all). */
void srv_version_json(int sock, uint16_t major, const char *json)
{
    size_t jlen = json ? strlen(json) + 1 : 0;
    g_autofree char *p = g_malloc(4 + jlen);
    uint16_t v[2] = {major, 1};

    memcpy(p, v, sizeof(v));
    if (json) {
        memcpy(p + 4, json, jlen);
    }
    srv_version_raw(sock, p, 4 + jlen, VFIO_USER_VERSION, 0,
                    VFIO_USER_F_TYPE_REPLY, 0, NULL);
}

/* The usual server answer: 8 fds, 1 MiB transfers. */
void srv_version(int sock)
{
    srv_version_json(
        sock, 0,
        "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,\"pgsizes\":4096}}");
}

/* ---- Recorded sessions of real peers (the .jsonl files in tests/data) ---- */

/* Whole messages only: no fds, no truncated payload. */
static bool vec_usable(const VutRecord *r)
{
    return r->nfds == 0 && !r->truncated;
}

static bool vec_is_reply(const VutRecord *r)
{
    return r->hdr.flags & VFIO_USER_F_TYPE_REPLY;
}

static VutRecord *vec_reply_to(GPtrArray *recs, guint from, uint16_t id)
{
    for (guint j = from; j < recs->len; j++) {
        VutRecord *r = g_ptr_array_index(recs, j);

        if (!r->c2s && vec_is_reply(r) && r->hdr.id == id) {
            return r;
        }
    }
    return NULL;
}

static void vec_pair_free(gpointer p)
{
    VecPair *v = p;

    g_bytes_unref(v->request);
    g_bytes_unref(v->reply);
    g_free(v);
}

/*
 * Load @file: *@version gets the server's VERSION reply payload; the
 * result holds every blocking client request (without fds) whose reply
 * was recorded whole, in order.
 */
GPtrArray *vec_load(const char *file, GBytes **version)
{
    g_autoptr(GPtrArray) recs = vut_load_session(file);
    GPtrArray *pairs = g_ptr_array_new_with_free_func(vec_pair_free);

    *version = NULL;
    for (guint i = 0; i < recs->len; i++) {
        VutRecord *m = g_ptr_array_index(recs, i), *r;
        uint16_t cmd = m->hdr.cmd;
        VecPair *v;

        if (cmd == VFIO_USER_VERSION && !m->c2s && vec_is_reply(m)) {
            *version = *version ? *version : g_bytes_ref(m->payload);
        }
        if (cmd == VFIO_USER_VERSION || !m->c2s || vec_is_reply(m) ||
            (m->hdr.flags & VFIO_USER_F_NO_REPLY) || !vec_usable(m)) {
            continue;
        }
        r = vec_reply_to(recs, i + 1, m->hdr.id);
        if (!r || !vec_usable(r)) {
            continue;
        }
        v = g_new0(VecPair, 1);
        v->cmd = cmd;
        v->request = g_bytes_ref(m->payload);
        v->reply = g_bytes_ref(r->payload);
        if (r->hdr.flags & VFIO_USER_F_ERROR) {
            v->errnum = r->hdr.error;
        }
        g_ptr_array_add(pairs, v);
    }
    g_assert_nonnull(*version);
    return pairs;
}

/* Server side of a replay: the recorded server's answers, byte for byte. */
void script_vec_replay(int sock, void *opaque)
{
    VecReplay *vr = opaque;
    char buf[4096];
    VFIOUserHdr hdr;
    size_t n;

    srv_version_raw(sock, g_bytes_get_data(vr->version, NULL),
                    g_bytes_get_size(vr->version), VFIO_USER_VERSION, 0,
                    VFIO_USER_F_TYPE_REPLY, 0, NULL);
    for (guint i = 0; i < vr->pairs->len; i++) {
        VecPair *v = g_ptr_array_index(vr->pairs, i);
        size_t len;
        const void *data = g_bytes_get_data(v->request, &len);

        n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
        g_assert_cmpuint(hdr.cmd, ==, v->cmd);
        g_assert_cmpmem(buf, n, data, len);
        if (v->errnum) {
            srv_error(sock, &hdr, v->errnum);
        } else {
            data = g_bytes_get_data(v->reply, &len);
            srv_reply(sock, &hdr, data, len, NULL, 0);
        }
    }
    g_assert_true(srv_wait_eof(sock));
}
