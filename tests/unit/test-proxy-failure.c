/*
 * Unit tests for the failure model of the vfio-user client connection
 * (hw/vfio-user/proxy.c): timeouts and late replies, stalled peers,
 * hang-ups and garbage that wake every waiter, close while calls wait,
 * errors of posted requests and of request handlers, also with
 * busy-polling (x-poll-us) on.
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

/* ---- Timeouts and failures ---- */

/* Wait (bounded) until @proxy has dropped @n late replies. */
static void wait_late_replies(VFIOUserProxy *proxy, uint64_t n)
{
    gint64 deadline = vut_deadline_ms(VUT_WAIT_MS);
    VFIOUserProxyStats st;

    do {
        vfio_user_proxy_get_stats(proxy, &st);
        if (st.late_replies >= n) {
            return;
        }
        g_thread_yield();
    } while (g_get_monotonic_time() < deadline);
    g_assert_cmpuint(st.late_replies, >=, n);
}

static void script_late_reply(int sock, void *opaque)
{
    VutEvent *gate = opaque;
    char buf[64];
    VFIOUserHdr hdr;
    size_t n;

    srv_version(sock);
    n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    g_assert_true(vut_event_wait(gate, VUT_WAIT_MS));
    srv_reply(sock, &hdr, buf, n, NULL, 0);
    srv_echo_one(sock);
    g_assert_true(srv_wait_eof(sock));
}

static void test_timeout_late_reply(void)
{
    VutEvent gate;
    Peer *p;
    VFIOUserProxy *proxy;
    VFIOUserProxyStats st;
    VFIOUserRequest req;
    GError *err = NULL;
    char buf[16];

    vut_event_init(&gate);
    p = peer_start(script_late_reply, &gate);
    proxy = client_new(p, 100);
    g_assert_false(client_call(proxy, VFIO_USER_REGION_READ, "late", 4, buf,
                               sizeof(buf), &req, &err));
    assert_error(err, ETIMEDOUT, "REGION_READ");
    g_clear_error(&err);
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.timeouts, ==, 1);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_CONNECTED);
    vut_event_set(&gate);
    wait_late_replies(proxy, 1); /* until then requests fail at once */
    client_ping(proxy, "after");
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.late_replies, ==, 1);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    g_assert_cmpuint(st.replies, ==, 1);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    vut_event_clear(&gate);
}

static void script_stalled_reply(int sock, void *opaque)
{
    char buf[64];
    VFIOUserHdr hdr;
    GError *err = NULL;

    srv_version(sock);
    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    hdr.size = sizeof(hdr) + 100; /* promise 100 bytes, send 10 */
    hdr.flags = VFIO_USER_F_TYPE_REPLY;
    memset(buf, 's', 10);
    g_assert_true(vfio_user_msg_send(sock, &hdr, NULL, 0, NULL, 0, &err));
    g_assert_cmpint(write(sock, buf, 10), ==, 10);
    g_assert_true(vut_event_wait(opaque, VUT_WAIT_MS));
}

/*
 * A reply that stops mid-payload: the connection fails one message timeout
 * after the reply began, and the waiter with it.
 */
static void test_stalled_reply(void)
{
    VutEvent done;
    Peer *p;
    VFIOUserProxy *proxy;
    VFIOUserRequest req;
    GError *err = NULL;
    char buf[128];
    gint64 t0;

    vut_event_init(&done);
    p = peer_start(script_stalled_reply, &done);
    proxy = client_new(p, 100);
    t0 = g_get_monotonic_time();
    g_assert_false(client_call(proxy, VFIO_USER_REGION_READ, "s", 1, buf,
                               sizeof(buf), &req, &err));
    g_assert_cmpint(g_get_monotonic_time() - t0, >=,
                    100 * G_TIME_SPAN_MILLISECOND);
    g_assert_cmpint(g_get_monotonic_time() - t0, <,
                    1100 * G_TIME_SPAN_MILLISECOND);
    assert_error(err, ETIMEDOUT, "stalled");
    g_clear_error(&err);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_ERROR);
    vut_event_set(&done);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    vut_event_clear(&done);
}

static void script_stop_reading(int sock, void *opaque)
{
    srv_version(sock);
    g_assert_true(vut_event_wait(opaque, VUT_WAIT_MS));
}

/*
 * A server that stops reading: once the socket is full, a send that moves
 * nothing for the message timeout fails with ETIMEDOUT and fails the
 * connection, instead of blocking the caller (a vCPU) forever.
 */
static void test_server_stops_reading(void)
{
    g_autofree char *data = g_malloc0(60000);
    struct iovec iov = {data, 60000};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_REGION_WRITE,
        .iov = &iov,
        .iovcnt = 1,
    };
    GError *err = NULL;
    VutEvent gate;
    Peer *p;
    VFIOUserProxy *proxy;
    unsigned sent = 0;
    gint64 t0;

    vut_event_init(&gate);
    p = peer_start(script_stop_reading, &gate);
    proxy = client_new(p, 100);
    t0 = g_get_monotonic_time();
    while (vfio_user_proxy_post(proxy, &req, &err)) {
        g_assert_cmpuint(++sent, <, 1000); /* the socket fills long before */
    }
    g_assert_cmpint(g_get_monotonic_time() - t0, >=,
                    100 * G_TIME_SPAN_MILLISECOND);
    assert_error(err, ETIMEDOUT, "stopped reading");
    g_clear_error(&err);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_ERROR);
    vut_event_set(&gate);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    vut_event_clear(&gate);
}

typedef struct NotifyCount {
    VutEvent gate;
    int calls;
    int code;
} NotifyCount;

static void count_notify(VFIOUserProxy *proxy G_GNUC_UNUSED, const GError *err,
                         void *opaque)
{
    NotifyCount *nc = opaque;

    nc->calls++;
    nc->code = err->code;
    vut_event_set(&nc->gate);
}

/* What a request handler saw when the payload it read never came. */
typedef struct StallSeen {
    bool use_discard; /* read with vfio_user_proxy_discard() */
    bool ok;
    int code;
    char *message;
    gint64 elapsed_us;
    VFIOProxyState state; /* the proxy's, right after the read */
} StallSeen;

static bool stall_handler(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                          int *fds G_GNUC_UNUSED, size_t nfds G_GNUC_UNUSED,
                          void *opaque, GError **errp)
{
    StallSeen *seen = opaque;
    char buf[64];
    struct iovec iov = {buf, sizeof(buf)};
    gint64 t0 = g_get_monotonic_time();
    GError *err = NULL;

    g_assert_cmpuint(hdr->size, ==, sizeof(*hdr) + sizeof(buf));
    seen->ok = seen->use_discard
                   ? vfio_user_proxy_discard(proxy, sizeof(buf), &err)
                   : vfio_user_proxy_recv_payload(proxy, &iov, 1, &err);
    seen->elapsed_us = g_get_monotonic_time() - t0;
    seen->state = vfio_user_proxy_state(proxy);
    if (err) {
        seen->code = err->code;
        seen->message = g_strdup(err->message);
    }
    g_propagate_error(errp, err);
    return seen->ok;
}

/* Gates of the stalled-request case. */
typedef struct StallGates {
    VutEvent registered; /* the handler is in place */
    VutEvent done;       /* the checks are over */
} StallGates;

/*
 * A DMA_WRITE that promises 64 payload bytes, sends 8 and stalls; sent
 * only once the handler is registered, so that it is the one to read.
 */
static void script_stalled_request(int sock, void *opaque)
{
    StallGates *g = opaque;
    VFIOUserHdr hdr;
    GError *err = NULL;

    srv_version(sock);
    g_assert_true(vut_event_wait(&g->registered, VUT_WAIT_MS));
    vfio_user_hdr_init(&hdr, 7, VFIO_USER_DMA_WRITE, sizeof(hdr) + 64,
                       VFIO_USER_F_TYPE_REQUEST);
    g_assert_true(vfio_user_msg_send(sock, &hdr, "partial!", 8, NULL, 0, &err));
    g_assert_true(vut_event_wait(&g->done, VUT_WAIT_MS));
}

/*
 * A handler reading a server request's payload that never arrives gets
 * ETIMEDOUT one message timeout after the request began, and the
 * connection is failed by then, whatever the handler does next.
 */
static void test_stalled_request(gconstpointer data)
{
    StallSeen seen = {.use_discard = GPOINTER_TO_INT(data)};
    NotifyCount nc = {0};
    StallGates g;
    Peer *p;
    VFIOUserProxy *proxy;

    vut_event_init(&g.registered);
    vut_event_init(&g.done);
    vut_event_init(&nc.gate);
    p = peer_start(script_stalled_request, &g);
    proxy = client_new(p, 100);
    vfio_user_proxy_set_failure_notify(proxy, count_notify, &nc);
    vfio_user_proxy_set_request_handler(proxy, stall_handler, &seen);
    vut_event_set(&g.registered);
    g_assert_true(vut_event_wait(&nc.gate, VUT_WAIT_MS)); /* at most 10 s */
    g_assert_false(seen.ok);
    g_assert_cmpint(seen.code, ==, ETIMEDOUT);
    g_assert_nonnull(strstr(seen.message, "stalled"));
    g_assert_nonnull(strstr(seen.message, "DMA_WRITE"));
    g_assert_cmpint(seen.elapsed_us, >=, 50 * G_TIME_SPAN_MILLISECOND);
    g_assert_cmpint(seen.elapsed_us, <, 1100 * G_TIME_SPAN_MILLISECOND);
    g_assert_cmpint(seen.state, ==, VFIO_PROXY_ERROR);
    g_assert_cmpint(nc.calls, ==, 1);
    g_assert_cmpint(nc.code, ==, ETIMEDOUT);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_ERROR);
    vut_event_set(&g.done);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    g_free(seen.message);
    vut_event_clear(&g.registered);
    vut_event_clear(&g.done);
    vut_event_clear(&nc.gate);
}

static void script_hangup(int sock, void *opaque G_GNUC_UNUSED)
{
    char buf[64];
    VFIOUserHdr hdr;

    srv_version(sock);
    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    shutdown(sock, SHUT_RDWR);
}

static void test_hangup_wakes(void)
{
    Peer *p = peer_start(script_hangup, NULL);
    VFIOUserProxy *proxy = client_new(p, 10000);
    NotifyCount nc = {0};
    VFIOUserRequest req;
    GError *err = NULL;
    gint64 t0, t1;
    char buf[8];

    vut_event_init(&nc.gate);
    vfio_user_proxy_set_failure_notify(proxy, count_notify, &nc);
    t0 = g_get_monotonic_time();
    g_assert_false(client_call(proxy, VFIO_USER_REGION_READ, "x", 1, buf,
                               sizeof(buf), &req, &err));
    t1 = g_get_monotonic_time();
    assert_error(err, ECONNRESET, "REGION_READ");
    g_clear_error(&err);
    g_assert_cmpint(t1 - t0, <, G_TIME_SPAN_SECOND);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_ERROR);
    g_assert_true(vut_event_wait(&nc.gate, VUT_WAIT_MS));
    /* Later calls fail at once with the original cause. */
    g_assert_false(client_call(proxy, VFIO_USER_REGION_READ, "x", 1, buf,
                               sizeof(buf), &req, &err));
    assert_error(err, ECONNRESET, "failed earlier");
    g_clear_error(&err);
    vfio_user_proxy_close(proxy);
    g_assert_cmpint(nc.calls, ==, 1);
    g_assert_cmpint(nc.code, ==, ECONNRESET);
    peer_join(p);
    vut_event_clear(&nc.gate);
}

typedef struct FailCall {
    VFIOUserProxy *proxy;
    int code;
} FailCall;

static gpointer failing_call_thread(gpointer opaque)
{
    FailCall *fc = opaque;
    VFIOUserRequest req;
    GError *err = NULL;
    char buf[8];

    g_assert_false(client_call(fc->proxy, VFIO_USER_REGION_READ, "y", 1, buf,
                               sizeof(buf), &req, &err));
    fc->code = err->code;
    g_error_free(err);
    return NULL;
}

static void script_garbage(int sock, void *opaque G_GNUC_UNUSED)
{
    char buf[64];
    VFIOUserHdr hdr;

    srv_version(sock);
    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    vfio_user_hdr_init(&hdr, hdr.id, hdr.cmd, 8, VFIO_USER_F_TYPE_REPLY);
    g_assert_cmpint(write(sock, &hdr, sizeof(hdr)), ==, sizeof(hdr));
    g_assert_true(srv_wait_eof(sock));
}

/* A header with size < 16 fails the proxy and wakes both waiters. */
static void test_garbage_wakes_all(void)
{
    Peer *p = peer_start(script_garbage, NULL);
    VFIOUserProxy *proxy = client_new(p, 10000);
    FailCall a = {proxy, 0}, b = {proxy, 0};
    GThread *ta = g_thread_new("a", failing_call_thread, &a);
    GThread *tb = g_thread_new("b", failing_call_thread, &b);
    gint64 t0 = g_get_monotonic_time();

    g_thread_join(ta);
    g_thread_join(tb);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, G_TIME_SPAN_SECOND);
    g_assert_cmpint(a.code, ==, EPROTO);
    g_assert_cmpint(b.code, ==, EPROTO);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_ERROR);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

static void script_close_waiting(int sock, void *opaque)
{
    char buf[64];
    VFIOUserHdr hdr;

    srv_version(sock);
    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    vut_event_set(opaque);
    g_assert_true(srv_wait_eof(sock));
}

/* close() while another thread waits: it returns ECANCELED, no hang. */
static void test_close_while_waiting(void)
{
    VutEvent gate;
    Peer *p;
    FailCall fc = {NULL, 0};
    GThread *t;

    vut_event_init(&gate);
    p = peer_start(script_close_waiting, &gate);
    fc.proxy = client_new(p, 10000);
    t = g_thread_new("waiter", failing_call_thread, &fc);
    g_assert_true(vut_event_wait(
        &gate, VUT_WAIT_MS)); /* the request is on the wire: it is waiting */
    vfio_user_proxy_close(fc.proxy);
    g_thread_join(t);
    g_assert_cmpint(fc.code, ==, ECANCELED);
    peer_join(p);
    vut_event_clear(&gate);
}

static void close_in_notify(VFIOUserProxy *proxy,
                            const GError *err G_GNUC_UNUSED, void *opaque)
{
    vfio_user_proxy_close(proxy);
    vut_event_set(opaque);
}

static void script_hangup_now(int sock, void *opaque)
{
    srv_version(sock);
    g_assert_true(vut_event_wait(opaque, VUT_WAIT_MS));
    shutdown(sock, SHUT_RDWR);
}

/* The failure notify may close the proxy (on the receive thread). */
static void test_close_from_notify(void)
{
    VutEvent registered, closed;
    Peer *p;
    VFIOUserProxy *proxy;

    vut_event_init(&registered);
    vut_event_init(&closed);
    p = peer_start(script_hangup_now, &registered);
    proxy = client_new(p, 0);
    vfio_user_proxy_set_failure_notify(proxy, close_in_notify, &closed);
    vut_event_set(&registered);
    g_assert_true(vut_event_wait(&closed, VUT_WAIT_MS));
    /*
     * The receive thread frees the proxy after the notify returns and
     * nothing signals that moment: watch its socket go away (bounded).
     */
    for (int i = 0; i < 5000 && fcntl(p->client_fd, F_GETFD) >= 0; i++) {
        g_usleep(1000);
    }
    g_assert_cmpint(fcntl(p->client_fd, F_GETFD), ==, -1);
    peer_join(p);
    vut_event_clear(&registered);
    vut_event_clear(&closed);
}

/* ---- Posted requests ---- */

static void script_posted_error(int sock, void *opaque G_GNUC_UNUSED)
{
    char buf[64];
    VFIOUserHdr hdr;

    srv_version(sock);
    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_REGION_WRITE);
    g_assert_cmpuint(hdr.flags, ==,
                     VFIO_USER_F_TYPE_REQUEST | VFIO_USER_F_NO_REPLY);
    srv_error(sock, &hdr, EINVAL);
    srv_echo_one(sock);
    g_assert_true(srv_wait_eof(sock));
}

/*
 * A failed posted write is logged once, naming the device as the user
 * did (the label), then the command and the cause: no socket path.
 */
static void test_posted_error(void)
{
    Peer *p = peer_start(script_posted_error, NULL);
    VFIOUserProxy *proxy = client_new_labelled(p, 0, "vfio-user-pci 'dev0'");
    g_autofree char *want =
        g_strdup_printf("vfio-user-pci 'dev0': posted REGION_WRITE failed: %s",
                        g_strerror(EINVAL));
    struct iovec iov = {"data", 4};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_REGION_WRITE,
        .iov = &iov,
        .iovcnt = 1,
    };
    VFIOUserProxyStats st;
    GError *err = NULL;

    g_assert_true(vfio_user_proxy_post(proxy, &req, &err));
    g_assert_no_error(err);
    client_ping(proxy, "after the posted write");
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.posted, ==, 1);
    g_assert_cmpuint(st.posted_errors, ==, 1);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    g_assert_true(log_has_line(want));
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

/* ---- Failing request handlers ---- */

static bool refusing_handler(VFIOUserProxy *proxy G_GNUC_UNUSED,
                             const VFIOUserHdr *hdr G_GNUC_UNUSED, int *fds,
                             size_t nfds, void *opaque G_GNUC_UNUSED,
                             GError **errp)
{
    vfio_user_close_fds(fds, nfds);
    return vfio_user_error_set(errp, EPROTO, "DMA request outside any mapping");
}

static void script_refused_request(int sock, void *opaque G_GNUC_UNUSED)
{
    VFIOUserDMARW rw = {.addr = 0xdead0000, .count = 8};
    char buf[64];
    VFIOUserHdr hdr;

    srv_version(sock);
    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    srv_request(sock, 1, VFIO_USER_DMA_READ, &rw, sizeof(rw));
    g_assert_true(srv_wait_eof(sock));
}

/* A handler that returns false fails the connection and the waiter. */
static void test_handler_failure(void)
{
    Peer *p = peer_start(script_refused_request, NULL);
    VFIOUserProxy *proxy = client_new(p, 10000);
    NotifyCount nc = {0};
    VFIOUserRequest req;
    GError *err = NULL;
    char buf[8];

    vut_event_init(&nc.gate);
    vfio_user_proxy_set_request_handler(proxy, refusing_handler, NULL);
    vfio_user_proxy_set_failure_notify(proxy, count_notify, &nc);
    g_assert_false(client_call(proxy, VFIO_USER_REGION_READ, "z", 1, buf,
                               sizeof(buf), &req, &err));
    assert_error(err, EPROTO, "outside any mapping");
    g_clear_error(&err);
    g_assert_true(vut_event_wait(&nc.gate, VUT_WAIT_MS));
    g_assert_cmpint(nc.calls, ==, 1);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_ERROR);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    vut_event_clear(&nc.gate);
}

/* ---- Closed proxies leave no fd ---- */

/* new_from_fd/close cycles leave the fd table as it was. */
static void test_fd_cycle_socketpair(void)
{
    unsigned before = vut_count_fds();

    for (int i = 0; i < 5; i++) {
        Peer *p = peer_start(script_version_then_eof, NULL);

        vfio_user_proxy_close(client_new(p, 0));
        peer_join(p);
    }
    g_assert_cmpuint(vut_count_fds(), ==, before);
}

int main(int argc, char **argv)
{
    proxy_test_init(&argc, &argv);

    g_test_add_func("/proxy/fail/timeout-late-reply", test_timeout_late_reply);
    g_test_add_func("/proxy/fail/stalled-reply", test_stalled_reply);
    g_test_add_func("/proxy/fail/server-stops-reading",
                    test_server_stops_reading);
    g_test_add_data_func("/proxy/fail/stalled-request-payload",
                         GINT_TO_POINTER(false), test_stalled_request);
    g_test_add_data_func("/proxy/fail/stalled-request-discard",
                         GINT_TO_POINTER(true), test_stalled_request);
    g_test_add_func("/proxy/fail/hangup-wakes", test_hangup_wakes);
    g_test_add_func("/proxy/fail/garbage-wakes-all", test_garbage_wakes_all);
    g_test_add_func("/proxy/fail/handler-failure", test_handler_failure);
    g_test_add_func("/proxy/close/while-waiting", test_close_while_waiting);
    g_test_add_func("/proxy/close/from-notify", test_close_from_notify);
    g_test_add_func("/proxy/close/fd-cycle", test_fd_cycle_socketpair);
    g_test_add_func("/proxy/posted/error-reply", test_posted_error);
    g_test_add_data_func("/proxy/poll-us/timeout-late-reply",
                         test_timeout_late_reply, test_poll_us);
    g_test_add_data_func("/proxy/poll-us/stalled-reply", test_stalled_reply,
                         test_poll_us);
    g_test_add_data_func("/proxy/poll-us/hangup-wakes", test_hangup_wakes,
                         test_poll_us);
    return g_test_run();
}
