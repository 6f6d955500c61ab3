/*
 * Unit tests for server-to-client requests on the vfio-user client
 * connection (hw/vfio-user/proxy.c): DMA requests while a call waits,
 * handler swap and missing handler, and the receive path's ownership of
 * the socket (back-to-back replies, requests mixed with replies), also
 * with busy-polling (x-poll-us) on.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib.h>

#include "hw/vfio-user/proxy.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"

#include "proxy-client.h"
#include "fake-peer.h"
#include "vfu-test.h"

/* ---- Server-to-client requests ---- */

static const char dma_data[] = "guest memory!";

/* Answers DMA_READ from dma_data, on the receive thread. */
static bool dma_read_handler(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                             int *fds G_GNUC_UNUSED, size_t nfds, void *opaque,
                             GError **errp)
{
    VFIOUserRequest nested;
    GError *err = NULL;
    VFIOUserDMARW rw;
    struct iovec in = {&rw, sizeof(rw)};
    struct iovec out[2] = {{&rw, sizeof(rw)},
                           {(void *)dma_data, sizeof(dma_data)}};

    g_assert_cmpuint(hdr->cmd, ==, VFIO_USER_DMA_READ);
    g_assert_cmpuint(nfds, ==, 0);
    if (!vfio_user_proxy_recv_payload(proxy, &in, 1, errp)) {
        return false;
    }
    g_assert_cmpuint(rw.count, ==, sizeof(dma_data));
    /* A blocking request from here could never get its reply. */
    g_assert_false(client_call(proxy, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0,
                               &nested, &err));
    g_assert_error(err, VFIO_USER_ERROR, EDEADLK);
    g_error_free(err);
    (*(int *)opaque)++;
    return vfio_user_proxy_send_reply(proxy, hdr, out, 2, errp);
}

static void script_dma_during_wait(int sock, void *opaque G_GNUC_UNUSED)
{
    VFIOUserDMARW rw = {.addr = 0x1000, .count = sizeof(dma_data)};
    char buf[64], dma[64];
    VFIOUserHdr hdr, dhdr;
    size_t n;

    srv_version(sock);
    n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    /* Before answering, the server needs guest memory. */
    srv_request(sock, 0x42, VFIO_USER_DMA_READ, &rw, sizeof(rw));
    g_assert_cmpuint(srv_recv(sock, &dhdr, dma, sizeof(dma), NULL, NULL), ==,
                     sizeof(rw) + sizeof(dma_data));
    g_assert_cmpuint(dhdr.id, ==, 0x42);
    g_assert_true(vfio_user_hdr_is_reply(&dhdr));
    g_assert_cmpmem(dma + sizeof(rw), sizeof(dma_data), dma_data,
                    sizeof(dma_data));
    srv_reply(sock, &hdr, buf, n, NULL, 0);
    g_assert_true(srv_wait_eof(sock));
}

static void test_server_request_during_wait(void)
{
    Peer *p = peer_start(script_dma_during_wait, NULL);
    VFIOUserProxy *proxy = client_new(p, 5000);
    VFIOUserProxyStats st;
    int handled = 0;

    vfio_user_proxy_set_request_handler(proxy, dma_read_handler, &handled);
    client_ping(proxy, "region read");
    g_assert_cmpint(handled, ==, 1);
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.server_requests, ==, 1);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

static void script_no_handler(int sock, void *opaque)
{
    VFIOUserDMARW rw = {.addr = 0x2000, .count = 16};
    char payload[sizeof(rw) + 16] = {0};
    char buf[64];
    VFIOUserHdr hdr;

    memcpy(payload, &rw, sizeof(rw));
    srv_version(sock);
    srv_request(sock, 9, VFIO_USER_DMA_WRITE, payload, sizeof(payload));
    g_assert_cmpuint(srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL), ==, 0);
    g_assert_cmpuint(hdr.id, ==, 9);
    g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_DMA_WRITE);
    g_assert_cmpuint(hdr.flags, ==, VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR);
    g_assert_cmpuint(hdr.error, ==, ENOSYS);
    vut_event_set(opaque);
    srv_echo_one(sock);
    g_assert_true(srv_wait_eof(sock));
}

static void test_no_handler_enosys(void)
{
    VutEvent gate;
    Peer *p;
    VFIOUserProxy *proxy;

    vut_event_init(&gate);
    p = peer_start(script_no_handler, &gate);
    proxy = client_new(p, 0);
    g_assert_true(vut_event_wait(&gate, VUT_WAIT_MS));
    client_ping(proxy, "payload was skipped");
    vfio_user_proxy_close(proxy);
    peer_join(p);
    vut_event_clear(&gate);
}

typedef struct SwapCase {
    VutEvent registered;
    VutEvent entered;
    VutEvent release;
    VutEvent replied;
    VFIOUserProxy *proxy;
    gint swapped; /* set_request_handler() has returned */
    gint seen_swapped;
} SwapCase;

static bool slow_handler(VFIOUserProxy *proxy, const VFIOUserHdr *hdr, int *fds,
                         size_t nfds, void *opaque, GError **errp)
{
    SwapCase *sc = opaque;

    vfio_user_close_fds(fds, nfds);
    vut_event_set(&sc->entered);
    g_assert_true(vut_event_wait(&sc->release, VUT_WAIT_MS));
    g_atomic_int_set(&sc->seen_swapped, g_atomic_int_get(&sc->swapped));
    return vfio_user_proxy_discard(proxy, hdr->size - sizeof(*hdr), errp) &&
           vfio_user_proxy_send_error(proxy, hdr, EIO, errp);
}

static gpointer swap_thread(gpointer opaque)
{
    SwapCase *sc = opaque;

    vfio_user_proxy_set_request_handler(sc->proxy, NULL, NULL);
    g_atomic_int_set(&sc->swapped, 1);
    return NULL;
}

static void script_one_dma(int sock, void *opaque)
{
    SwapCase *sc = opaque;
    VFIOUserDMARW rw = {.addr = 0, .count = 4};
    char buf[64];
    VFIOUserHdr hdr;

    srv_version(sock);
    g_assert_true(vut_event_wait(&sc->registered, VUT_WAIT_MS));
    srv_request(sock, 3, VFIO_USER_DMA_READ, &rw, sizeof(rw));
    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    g_assert_cmpuint(hdr.error, ==, EIO);
    vut_event_set(&sc->replied);
    g_assert_true(srv_wait_eof(sock));
}

/*
 * Replacing the handler waits for a call of the old one to finish, so its
 * owner may free its state right after.  The short pause gives a broken
 * implementation the time to return early; the pass does not depend on it.
 */
static void test_handler_swap_waits(void)
{
    SwapCase sc = {.swapped = 0, .seen_swapped = -1};
    Peer *p;
    GThread *t;

    vut_event_init(&sc.registered);
    vut_event_init(&sc.entered);
    vut_event_init(&sc.release);
    vut_event_init(&sc.replied);
    p = peer_start(script_one_dma, &sc);
    sc.proxy = client_new(p, 0);
    vfio_user_proxy_set_request_handler(sc.proxy, slow_handler, &sc);
    vut_event_set(&sc.registered);
    g_assert_true(vut_event_wait(&sc.entered, VUT_WAIT_MS));
    t = g_thread_new("swap", swap_thread, &sc);
    g_usleep(50 * 1000);
    vut_event_set(&sc.release);
    g_thread_join(t);
    g_assert_true(vut_event_wait(
        &sc.replied, VUT_WAIT_MS)); /* the handler has looked at sc.swapped */
    g_assert_cmpint(g_atomic_int_get(&sc.seen_swapped), ==, 0);
    vfio_user_proxy_close(sc.proxy);
    peer_join(p);
    vut_event_clear(&sc.registered);
    vut_event_clear(&sc.entered);
    vut_event_clear(&sc.release);
    vut_event_clear(&sc.replied);
}

/*
 * Replay a recorded libvfio-user session: its real VERSION reply, then
 * every recorded request of the client (as our own request) answered with
 * the server's recorded reply; each must come back to us unchanged.
 */
/* ---- The receive thread reads every reply ---- */

#define TOKEN_CALLS 200
#define TOKEN_THREADS 4

static void script_echo_many(int sock, void *opaque)
{
    unsigned n = GPOINTER_TO_UINT(opaque);

    srv_version(sock);
    for (unsigned i = 0; i < n; i++) {
        srv_echo_one(sock);
    }
    g_assert_true(srv_wait_eof(sock));
}

/*
 * Back-to-back calls: callers read their own replies while the receive
 * thread leaves them the socket (test-proxy-fastpath.c has the details).
 */
static void test_own_reads(void)
{
    Peer *p = peer_start(script_echo_many, GUINT_TO_POINTER(TOKEN_CALLS));
    VFIOUserProxy *proxy = client_new(p, 5000);
    VFIOUserProxyStats st;

    for (unsigned i = 0; i < TOKEN_CALLS; i++) {
        client_ping(proxy, "mine");
    }
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.replies, ==, TOKEN_CALLS);
    g_assert_cmpuint(st.own_reads, >, 0);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

typedef struct Pending {
    VFIOUserHdr hdr;
    char buf[64];
    size_t len;
} Pending;

/*
 * Serve TOKEN_THREADS * TOKEN_CALLS echo requests; before every third
 * reply, ask for guest memory (DMA_READ) and wait for that answer, holding
 * back the client requests that come meanwhile.
 */
static void script_echo_with_dma(int sock, void *opaque G_GNUC_UNUSED)
{
    VFIOUserDMARW rw = {.addr = 0x1000, .count = sizeof(dma_data)};
    GQueue held = G_QUEUE_INIT;
    unsigned total = TOKEN_THREADS * TOKEN_CALLS, done = 0;
    uint16_t dma_id = 0x8000;

    srv_version(sock);
    while (done < total) {
        Pending *r = g_queue_pop_head(&held);

        if (!r) {
            r = g_new0(Pending, 1);
            r->len =
                srv_recv(sock, &r->hdr, r->buf, sizeof(r->buf), NULL, NULL);
            g_assert_false(vfio_user_hdr_is_reply(&r->hdr));
        }
        if (done % 3 == 0) {
            srv_request(sock, ++dma_id, VFIO_USER_DMA_READ, &rw, sizeof(rw));
            for (;;) {
                Pending *o = g_new0(Pending, 1);

                o->len =
                    srv_recv(sock, &o->hdr, o->buf, sizeof(o->buf), NULL, NULL);
                if (vfio_user_hdr_is_reply(&o->hdr)) {
                    g_assert_cmpuint(o->hdr.id, ==, dma_id);
                    g_assert_cmpmem(o->buf + sizeof(rw), sizeof(dma_data),
                                    dma_data, sizeof(dma_data));
                    g_free(o);
                    break;
                }
                g_queue_push_tail(&held, o);
            }
        }
        srv_reply(sock, &r->hdr, r->buf, r->len, NULL, 0);
        g_free(r);
        done++;
    }
    g_assert_true(g_queue_is_empty(&held));
    g_assert_true(srv_wait_eof(sock));
}

static gpointer ping_many_thread(gpointer opaque)
{
    char word[32];

    for (unsigned i = 0; i < TOKEN_CALLS; i++) {
        g_snprintf(word, sizeof(word), "%p/%u", (void *)g_thread_self(), i);
        client_ping(opaque, word);
    }
    return NULL;
}

/*
 * Several threads call at once while the server keeps asking for guest
 * memory in the middle: every reply reaches its own caller, and every
 * DMA_READ is served on the receive thread (the handler checks that a
 * blocking call from it is refused), whoever read it from the socket.
 */
static void test_token_concurrent_dma(void)
{
    Peer *p = peer_start(script_echo_with_dma, NULL);
    VFIOUserProxy *proxy = client_new(p, 10000);
    GThread *t[TOKEN_THREADS];
    VFIOUserProxyStats st;
    int handled = 0;

    vfio_user_proxy_set_request_handler(proxy, dma_read_handler, &handled);
    for (unsigned i = 0; i < TOKEN_THREADS; i++) {
        t[i] = g_thread_new("pinger", ping_many_thread, proxy);
    }
    for (unsigned i = 0; i < TOKEN_THREADS; i++) {
        g_thread_join(t[i]);
    }
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.replies, ==, TOKEN_THREADS * TOKEN_CALLS);
    g_assert_cmpuint(st.server_requests, ==,
                     (TOKEN_THREADS * TOKEN_CALLS + 2) / 3);
    g_assert_cmpint(handled, ==, (TOKEN_THREADS * TOKEN_CALLS + 2) / 3);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_CONNECTED);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

static void script_dma_after_call(int sock, void *opaque G_GNUC_UNUSED)
{
    VFIOUserDMARW rw = {.addr = 0x1000, .count = sizeof(dma_data)};
    char dma[64];
    VFIOUserHdr dhdr;

    srv_version(sock);
    srv_echo_one(sock);
    srv_request(sock, 0x99, VFIO_USER_DMA_READ, &rw, sizeof(rw));
    g_assert_cmpuint(srv_recv(sock, &dhdr, dma, sizeof(dma), NULL, NULL), ==,
                     sizeof(rw) + sizeof(dma_data));
    g_assert_cmpuint(dhdr.id, ==, 0x99);
    g_assert_true(srv_wait_eof(sock));
}

/* Answers DMA_READ like dma_read_handler, then opens a gate. */
static bool dma_gate_handler(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                             int *fds, size_t nfds, void *opaque, GError **errp)
{
    int handled = 0;
    bool ok = dma_read_handler(proxy, hdr, fds, nfds, &handled, errp);

    g_assert_cmpint(handled, ==, 1);
    vut_event_set(opaque);
    return ok;
}

/*
 * A server request that comes just after the last call ended, with no
 * call in progress to read it, is still served (by the receive thread
 * taking the token back) and soon.
 */
static void test_request_after_call(void)
{
    Peer *p = peer_start(script_dma_after_call, NULL);
    VFIOUserProxy *proxy = client_new(p, 5000);
    VutEvent served;
    gint64 t0;

    vut_event_init(&served);
    vfio_user_proxy_set_request_handler(proxy, dma_gate_handler, &served);
    client_ping(proxy, "then idle");
    t0 = g_get_monotonic_time();
    g_assert_true(vut_event_wait(&served, VUT_WAIT_MS));
    g_assert_cmpint(g_get_monotonic_time() - t0, <, G_TIME_SPAN_SECOND);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    vut_event_clear(&served);
}

int main(int argc, char **argv)
{
    proxy_test_init(&argc, &argv);

    g_test_add_func("/proxy/server-request/during-wait",
                    test_server_request_during_wait);
    g_test_add_func("/proxy/server-request/handler-swap-waits",
                    test_handler_swap_waits);
    g_test_add_func("/proxy/server-request/no-handler", test_no_handler_enosys);
    g_test_add_func("/proxy/rx/back-to-back", test_own_reads);
    g_test_add_func("/proxy/rx/concurrent-dma", test_token_concurrent_dma);
    g_test_add_func("/proxy/rx/request-after-call", test_request_after_call);
    g_test_add_data_func("/proxy/poll-us/back-to-back", test_own_reads,
                         test_poll_us);
    g_test_add_data_func("/proxy/poll-us/concurrent-dma",
                         test_token_concurrent_dma, test_poll_us);
    return g_test_run();
}
