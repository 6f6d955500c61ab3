/*
 * The proxy's fast path: a caller that finds the socket free reads its own
 * reply, and deals with whatever else arrives first as the receive thread
 * would (hw/vfio-user/proxy-recv.c).
 *
 * Most cases set rx_yield_us to a minute, so that the receive thread never
 * takes the socket back by itself during the test: every call then takes
 * the fast path, which own_reads proves.  Covered: back-to-back calls; a
 * server request (DMA_READ) that arrives while the caller reads, served on
 * the caller's thread; a handler's blocking call (EDEADLK) and close(); a
 * timeout and the stall rule; the server dying while the caller reads; a
 * second caller that sleeps while the first reads, and two threads calling
 * at once; posted writes and the ordering fence; a server request that
 * arrives while nobody calls (the receive thread takes the socket back),
 * or that the caller's receive took along with its reply.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hw/vfio-user/proxy.h"
#include "fake-peer.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

#define LONG_YIELD_US (60u * 1000 * 1000)
#define CALLS 100
#define WAIT_MS 5000

static VFIOUserProxy *fp_client(Peer *p, uint32_t timeout_ms, uint32_t yield_us)
{
    VFIOUserProxyOptions opts;
    GError *err = NULL;
    VFIOUserProxy *proxy;

    vfio_user_proxy_options_init(&opts);
    opts.msg_timeout_ms = timeout_ms;
    opts.rx_yield_us = yield_us;
    proxy = vfio_user_proxy_new_from_fd(p->client_fd, &opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(proxy);
    return proxy;
}

/* Echo request (DEVICE_GET_INFO with @word as payload). */
static bool fp_call(VFIOUserProxy *proxy, const char *word, char *reply,
                    size_t size, GError **errp)
{
    struct iovec iov = {(void *)word, strlen(word)};
    struct iovec riov = {reply, size};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_INFO,
        .iov = &iov,
        .iovcnt = 1,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
    };

    memset(reply, 0, size);
    if (!vfio_user_proxy_call(proxy, &req, errp)) {
        return false;
    }
    g_assert_cmpuint(req.reply_len, ==, strlen(word));
    return true;
}

static void fp_ping(VFIOUserProxy *proxy, const char *word)
{
    char buf[64];
    GError *err = NULL;

    fp_call(proxy, word, buf, sizeof(buf), &err);
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, word);
}

static VFIOUserProxyStats fp_stats(VFIOUserProxy *proxy)
{
    VFIOUserProxyStats st;

    vfio_user_proxy_get_stats(proxy, &st);
    return st;
}

/* The next whole message into @buf (*@len bytes); false at EOF. */
static bool srv_next(int sock, VFIOUserHdr *hdr, void *buf, size_t size,
                     size_t *len)
{
    GError *err = NULL;
    size_t nfds;

    if (!vfio_user_msg_recv_hdr(sock, hdr, NULL, &nfds, 0, 1 << 16, &err)) {
        g_assert_error(err, VFIO_USER_ERROR, ECONNRESET);
        g_error_free(err);
        return false;
    }
    *len = hdr->size - sizeof(*hdr);
    g_assert_cmpuint(*len, <=, size);
    g_assert_true(vfio_user_msg_recv_body(sock, buf, *len, &err));
    return true;
}

/* Echo every request until the client goes; posted ones get no reply. */
static void echo_loop(int sock)
{
    char buf[256];
    VFIOUserHdr hdr;
    size_t n;

    while (srv_next(sock, &hdr, buf, sizeof(buf), &n)) {
        if (!(hdr.flags & VFIO_USER_F_NO_REPLY)) {
            srv_reply(sock, &hdr, buf, n, NULL, 0);
        }
    }
}

static void script_echo(int sock, void *opaque G_GNUC_UNUSED)
{
    srv_version(sock);
    echo_loop(sock);
}

/* ---- Back-to-back calls ---- */

static void test_own_replies(void)
{
    Peer *p = peer_start(script_echo, NULL);
    VFIOUserProxy *proxy = fp_client(p, 5000, LONG_YIELD_US);
    VFIOUserProxyStats st;

    for (unsigned i = 0; i < CALLS; i++) {
        fp_ping(proxy, i % 2 ? "odd" : "even");
    }
    st = fp_stats(proxy);
    g_assert_cmpuint(st.replies, ==, CALLS);
    g_assert_cmpuint(st.own_reads, ==, CALLS);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

/* ---- A server request while the caller reads ---- */

static const char dma_data[] = "guest bytes";

typedef struct HandlerSeen {
    GThread *thread; /* where the handler ran */
    int served;
    bool close_it; /* the handler closes the proxy */
} HandlerSeen;

static bool fp_dma_handler(VFIOUserProxy *proxy, const VFIOUserHdr *hdr,
                           int *fds G_GNUC_UNUSED, size_t nfds G_GNUC_UNUSED,
                           void *opaque, GError **errp)
{
    HandlerSeen *seen = opaque;
    VFIOUserDMARW rw;
    struct iovec in = {&rw, sizeof(rw)};
    struct iovec out[2] = {{&rw, sizeof(rw)},
                           {(void *)dma_data, sizeof(dma_data)}};
    GError *err = NULL;
    char buf[16];

    g_assert_cmpuint(hdr->cmd, ==, VFIO_USER_DMA_READ);
    if (!vfio_user_proxy_recv_payload(proxy, &in, 1, errp)) {
        return false;
    }
    seen->thread = g_thread_self();
    seen->served++;
    /* A blocking call from a handler could never get its reply. */
    g_assert_false(fp_call(proxy, "nested", buf, sizeof(buf), &err));
    g_assert_error(err, VFIO_USER_ERROR, EDEADLK);
    g_error_free(err);
    if (seen->close_it) {
        vfio_user_proxy_close(proxy);
        return true;
    }
    return vfio_user_proxy_send_reply(proxy, hdr, out, 2, errp);
}

/* Before it answers, the server reads guest memory (DMA_READ). */
static void script_dma_first(int sock, void *opaque)
{
    VFIOUserDMARW rw = {.addr = 0x1000, .count = sizeof(dma_data)};
    const HandlerSeen *seen = opaque;
    char buf[64], dma[64];
    VFIOUserHdr hdr, dhdr;
    size_t n;

    srv_version(sock);
    n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    srv_request(sock, 0x77, VFIO_USER_DMA_READ, &rw, sizeof(rw));
    if (!seen->close_it) {
        g_assert_cmpuint(srv_recv(sock, &dhdr, dma, sizeof(dma), NULL, NULL),
                         ==, sizeof(rw) + sizeof(dma_data));
        g_assert_cmpuint(dhdr.id, ==, 0x77);
        g_assert_cmpmem(dma + sizeof(rw), sizeof(dma_data), dma_data,
                        sizeof(dma_data));
        srv_reply(sock, &hdr, buf, n, NULL, 0);
    }
    g_assert_true(srv_wait_eof(sock));
}

static void test_server_request(void)
{
    HandlerSeen seen = {NULL, 0, false};
    Peer *p = peer_start(script_dma_first, &seen);
    VFIOUserProxy *proxy = fp_client(p, 5000, LONG_YIELD_US);
    VFIOUserProxyStats st;

    vfio_user_proxy_set_request_handler(proxy, fp_dma_handler, &seen);
    fp_ping(proxy, "after dma");
    g_assert_cmpint(seen.served, ==, 1);
    g_assert_true(seen.thread == g_thread_self());
    st = fp_stats(proxy);
    g_assert_cmpuint(st.own_reads, ==, 1);
    g_assert_cmpuint(st.server_requests, ==, 1);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

/* A handler on the caller's thread closes the proxy: the call fails. */
static void test_close_in_handler(void)
{
    HandlerSeen seen = {NULL, 0, true};
    Peer *p = peer_start(script_dma_first, &seen);
    VFIOUserProxy *proxy = fp_client(p, 5000, LONG_YIELD_US);
    GError *err = NULL;
    char buf[16];

    vfio_user_proxy_set_request_handler(proxy, fp_dma_handler, &seen);
    g_assert_false(fp_call(proxy, "closed", buf, sizeof(buf), &err));
    g_assert_error(err, VFIO_USER_ERROR, ECANCELED);
    g_error_free(err);
    g_assert_true(seen.thread == g_thread_self());
    /* The receive thread frees the proxy once we have left it. */
    peer_join(p);
}

/* ---- Timeout, stall, late reply ---- */

static void script_late(int sock, void *opaque)
{
    char buf[64];
    VFIOUserHdr hdr;
    size_t n;

    srv_version(sock);
    n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    g_assert_true(vut_event_wait(opaque, WAIT_MS)); /* the call timed out */
    srv_reply(sock, &hdr, buf, n, NULL, 0);
    echo_loop(sock);
}

static void test_timeout(void)
{
    VutEvent timed_out;
    Peer *p;
    VFIOUserProxy *proxy;
    VFIOUserProxyStats st;
    GError *err = NULL;
    gint64 t0, deadline = vut_deadline_ms(WAIT_MS);
    char buf[16];

    vut_event_init(&timed_out);
    p = peer_start(script_late, &timed_out);
    proxy = fp_client(p, 200, LONG_YIELD_US);
    t0 = g_get_monotonic_time();
    g_assert_false(fp_call(proxy, "late", buf, sizeof(buf), &err));
    g_assert_error(err, VFIO_USER_ERROR, ETIMEDOUT);
    g_clear_error(&err);
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 200 * 1000);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 1200 * 1000);
    /* Until the server answers, requests fail at once. */
    g_assert_false(fp_call(proxy, "refused", buf, sizeof(buf), &err));
    g_assert_error(err, VFIO_USER_ERROR, ETIMEDOUT);
    g_clear_error(&err);
    vut_event_set(&timed_out);
    /* The receive thread watches for the late reply, with a long yield. */
    do {
        st = fp_stats(proxy);
        g_thread_yield();
    } while (!st.late_replies && g_get_monotonic_time() < deadline);
    g_assert_cmpuint(st.late_replies, ==, 1);
    g_assert_cmpuint(st.fast_fails, ==, 1);
    g_assert_cmpuint(st.timeouts, ==, 1);
    fp_ping(proxy, "again");
    vfio_user_proxy_close(proxy);
    peer_join(p);
    vut_event_clear(&timed_out);
}

/* ---- The server dies while the caller reads ---- */

typedef struct Failure {
    GMutex lock;
    int calls;
    int code;
} Failure;

static void fp_notify(VFIOUserProxy *proxy G_GNUC_UNUSED, const GError *err,
                      void *opaque)
{
    Failure *f = opaque;

    g_mutex_lock(&f->lock);
    f->calls++;
    f->code = err->code;
    g_mutex_unlock(&f->lock);
}

static void script_die(int sock, void *opaque G_GNUC_UNUSED)
{
    char buf[64];
    VFIOUserHdr hdr;

    srv_version(sock);
    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    shutdown(sock, SHUT_RDWR);
}

static void test_peer_dies(void)
{
    Peer *p = peer_start(script_die, NULL);
    VFIOUserProxy *proxy = fp_client(p, 10000, LONG_YIELD_US);
    Failure f = {.calls = 0};
    GError *err = NULL;
    gint64 t0;
    char buf[16];

    g_mutex_init(&f.lock);
    vfio_user_proxy_set_failure_notify(proxy, fp_notify, &f);
    t0 = g_get_monotonic_time();
    g_assert_false(fp_call(proxy, "dies", buf, sizeof(buf), &err));
    g_assert_error(err, VFIO_USER_ERROR, ECONNRESET);
    g_clear_error(&err);
    /* At once, not after the 10 s timeout. */
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 5000 * 1000);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_ERROR);
    g_assert_cmpuint(fp_stats(proxy).own_reads, ==, 1);
    g_assert_false(fp_call(proxy, "after", buf, sizeof(buf), &err));
    g_assert_error(err, VFIO_USER_ERROR, ECONNRESET);
    g_clear_error(&err);
    vfio_user_proxy_close(proxy);
    /* close() joined the receive thread: the notify ran, once. */
    g_assert_cmpint(f.calls, ==, 1);
    g_assert_cmpint(f.code, ==, ECONNRESET);
    g_mutex_clear(&f.lock);
    peer_join(p);
}

/* ---- A second caller while the first reads ---- */

typedef struct Second {
    VFIOUserProxy *proxy;
    VutEvent sent; /* the script has both requests */
    const char *word;
    bool ok;
} Second;

static gpointer second_thread(gpointer opaque)
{
    Second *s = opaque;
    char buf[64];
    GError *err = NULL;

    s->ok = fp_call(s->proxy, s->word, buf, sizeof(buf), &err) &&
            !strcmp(buf, s->word);
    g_clear_error(&err);
    return NULL;
}

/* Take two requests, answer the second first, then the first. */
static void script_two(int sock, void *opaque)
{
    Second *s = opaque;
    char a[64], b[64];
    VFIOUserHdr ha, hb;
    size_t na, nb;

    srv_version(sock);
    na = srv_recv(sock, &ha, a, sizeof(a), NULL, NULL);
    nb = srv_recv(sock, &hb, b, sizeof(b), NULL, NULL);
    vut_event_set(&s->sent);
    srv_reply(sock, &hb, b, nb, NULL, 0);
    srv_reply(sock, &ha, a, na, NULL, 0);
    echo_loop(sock);
}

static gpointer first_thread(gpointer opaque)
{
    Second *s = opaque;

    fp_ping(s->proxy, "first");
    return NULL;
}

static void test_second_caller(void)
{
    Second s = {.word = "second"};
    Peer *p;
    GThread *a, *b;
    VFIOUserProxyStats st;

    vut_event_init(&s.sent);
    p = peer_start(script_two, &s);
    s.proxy = fp_client(p, 5000, LONG_YIELD_US);
    a = g_thread_new("first", first_thread, &s);
    b = g_thread_new("second", second_thread, &s);
    g_assert_true(vut_event_wait(&s.sent, WAIT_MS));
    g_thread_join(a);
    g_thread_join(b);
    g_assert_true(s.ok);
    st = fp_stats(s.proxy);
    g_assert_cmpuint(st.replies, ==, 2);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    /* One read both replies, or its own and the receive thread the other. */
    g_assert_cmpuint(st.own_reads, ==, 1);
    fp_ping(s.proxy, "after both");
    vfio_user_proxy_close(s.proxy);
    peer_join(p);
    vut_event_clear(&s.sent);
}

typedef struct Caller {
    VFIOUserProxy *proxy;
    char word[16];
    bool ok;
} Caller;

static gpointer caller_thread(gpointer opaque)
{
    Caller *c = opaque;

    c->ok = true;
    for (unsigned i = 0; i < CALLS && c->ok; i++) {
        char buf[64];
        GError *err = NULL;

        c->ok = fp_call(c->proxy, c->word, buf, sizeof(buf), &err) &&
                !strcmp(buf, c->word);
        g_clear_error(&err);
    }
    return NULL;
}

/* Two threads calling at once, with the default yield and a long one. */
static void test_two_callers(gconstpointer data)
{
    Peer *p = peer_start(script_echo, NULL);
    VFIOUserProxy *proxy = fp_client(p, 5000, GPOINTER_TO_UINT(data));
    Caller c[2] = {{proxy, "left", false}, {proxy, "right", false}};
    GThread *t[2];
    VFIOUserProxyStats st;

    for (int i = 0; i < 2; i++) {
        t[i] = g_thread_new(c[i].word, caller_thread, &c[i]);
    }
    for (int i = 0; i < 2; i++) {
        g_thread_join(t[i]);
        g_assert_true(c[i].ok);
    }
    st = fp_stats(proxy);
    g_assert_cmpuint(st.replies, ==, 2 * CALLS);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    g_assert_cmpuint(st.timeouts, ==, 0);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

/* ---- Posted writes and the fence ---- */

#define POSTED 50

/*
 * Record the one payload byte of every posted write; a call must find all
 * of them there, in order (a read never passes a posted write).
 */
static void script_posted(int sock, void *opaque G_GNUC_UNUSED)
{
    uint8_t seen[POSTED];
    unsigned n = 0;
    char buf[64];
    VFIOUserHdr hdr;

    size_t len;

    srv_version(sock);
    while (srv_next(sock, &hdr, buf, sizeof(buf), &len)) {
        if (hdr.flags & VFIO_USER_F_NO_REPLY) {
            g_assert_cmpuint(len, ==, 1);
            g_assert_cmpuint(n, <, POSTED);
            seen[n++] = (uint8_t)buf[0];
            continue;
        }
        g_assert_cmpuint(n, ==, POSTED);
        for (unsigned i = 0; i < POSTED; i++) {
            g_assert_cmpuint(seen[i], ==, i);
        }
        srv_reply(sock, &hdr, buf, len, NULL, 0);
    }
}

static void test_posted_order(void)
{
    Peer *p = peer_start(script_posted, NULL);
    VFIOUserProxy *proxy = fp_client(p, 5000, LONG_YIELD_US);
    VFIOUserProxyStats st;
    GError *err = NULL;

    for (unsigned i = 0; i < POSTED; i++) {
        uint8_t v = (uint8_t)i;
        struct iovec iov = {&v, 1};
        VFIOUserRequest req = {
            .cmd = VFIO_USER_REGION_WRITE, .iov = &iov, .iovcnt = 1};

        g_assert_true(vfio_user_proxy_post(proxy, &req, &err));
        g_assert_no_error(err);
    }
    g_assert_true(vfio_user_proxy_posted_unacked(proxy));
    fp_ping(proxy, "fence");
    /* Its reply proves every earlier posted write handled. */
    g_assert_false(vfio_user_proxy_posted_unacked(proxy));
    st = fp_stats(proxy);
    g_assert_cmpuint(st.posted, ==, POSTED);
    g_assert_cmpuint(st.own_reads, ==, 1);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

/* ---- A server request while nobody calls ---- */

static void script_unsolicited(int sock, void *opaque)
{
    VFIOUserDMARW rw = {.addr = 0x2000, .count = sizeof(dma_data)};
    char buf[64], dma[64];
    VFIOUserHdr hdr, dhdr;
    size_t n;

    (void)opaque;
    srv_version(sock);
    n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    srv_reply(sock, &hdr, buf, n, NULL, 0);
    /* The call is over: the receive thread must take the socket back. */
    srv_request(sock, 0x99, VFIO_USER_DMA_READ, &rw, sizeof(rw));
    g_assert_cmpuint(srv_recv(sock, &dhdr, dma, sizeof(dma), NULL, NULL), ==,
                     sizeof(rw) + sizeof(dma_data));
    g_assert_cmpuint(dhdr.id, ==, 0x99);
    echo_loop(sock);
}

static void test_unsolicited(void)
{
    HandlerSeen seen = {NULL, 0, false};
    Peer *p = peer_start(script_unsolicited, NULL);
    VFIOUserProxy *proxy = fp_client(p, 5000, 0); /* the default yield */
    gint64 deadline = vut_deadline_ms(WAIT_MS);
    VFIOUserProxyStats st;

    vfio_user_proxy_set_request_handler(proxy, fp_dma_handler, &seen);
    fp_ping(proxy, "before");
    do {
        st = fp_stats(proxy);
        g_thread_yield();
    } while (!st.server_requests && g_get_monotonic_time() < deadline);
    /* Served by the receive thread, nobody calling. */
    vfio_user_proxy_set_request_handler(proxy, NULL, NULL);
    g_assert_cmpint(seen.served, ==, 1);
    g_assert_true(seen.thread != g_thread_self());
    fp_ping(proxy, "after");
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

/* ---- A server request read ahead with a reply ---- */

/* The reply and a DMA_READ in one write: one receive takes both. */
static void script_read_ahead(int sock, void *opaque G_GNUC_UNUSED)
{
    VFIOUserDMARW rw = {.addr = 0x3000, .count = sizeof(dma_data)};
    VFIOUserHdr hdr, rhdr, qhdr, dhdr;
    char buf[64], dma[64];
    GError *err = NULL;
    size_t n;

    srv_version(sock);
    n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    vfio_user_hdr_init(&rhdr, hdr.id, hdr.cmd, sizeof(rhdr) + n,
                       VFIO_USER_F_TYPE_REPLY);
    vfio_user_hdr_init(&qhdr, 0x55, VFIO_USER_DMA_READ,
                       sizeof(qhdr) + sizeof(rw), VFIO_USER_F_TYPE_REQUEST);
    g_assert_true(vfio_user_msg_sendv(sock,
                                      (struct iovec[]){{&rhdr, sizeof(rhdr)},
                                                       {buf, n},
                                                       {&qhdr, sizeof(qhdr)},
                                                       {&rw, sizeof(rw)}},
                                      4, NULL, 0, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(srv_recv(sock, &dhdr, dma, sizeof(dma), NULL, NULL), ==,
                     sizeof(rw) + sizeof(dma_data));
    g_assert_cmpuint(dhdr.id, ==, 0x55);
    echo_loop(sock);
}

/*
 * The caller's receive also took the DMA_READ behind its reply.  It is
 * served although nobody calls again and the receive thread would leave
 * the socket to callers for a minute: what is buffered goes to it.
 */
static void test_read_ahead_request(void)
{
    HandlerSeen seen = {NULL, 0, false};
    Peer *p = peer_start(script_read_ahead, NULL);
    VFIOUserProxy *proxy = fp_client(p, 5000, LONG_YIELD_US);
    gint64 deadline = vut_deadline_ms(WAIT_MS);
    VFIOUserProxyStats st;

    vfio_user_proxy_set_request_handler(proxy, fp_dma_handler, &seen);
    fp_ping(proxy, "ahead");
    do {
        st = fp_stats(proxy);
        g_thread_yield();
    } while (!st.server_requests && g_get_monotonic_time() < deadline);
    vfio_user_proxy_set_request_handler(proxy, NULL, NULL);
    g_assert_cmpint(seen.served, ==, 1);
    g_assert_true(seen.thread != g_thread_self());
    fp_ping(proxy, "after");
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/proxy-fastpath/own-replies", test_own_replies);
    g_test_add_func("/proxy-fastpath/server-request", test_server_request);
    g_test_add_func("/proxy-fastpath/close-in-handler", test_close_in_handler);
    g_test_add_func("/proxy-fastpath/timeout", test_timeout);
    g_test_add_func("/proxy-fastpath/peer-dies", test_peer_dies);
    g_test_add_func("/proxy-fastpath/second-caller", test_second_caller);
    g_test_add_data_func("/proxy-fastpath/two-callers/default-yield",
                         GUINT_TO_POINTER(0), test_two_callers);
    g_test_add_data_func("/proxy-fastpath/two-callers/long-yield",
                         GUINT_TO_POINTER(LONG_YIELD_US), test_two_callers);
    g_test_add_func("/proxy-fastpath/posted-order", test_posted_order);
    g_test_add_func("/proxy-fastpath/unsolicited", test_unsolicited);
    g_test_add_func("/proxy-fastpath/read-ahead-request",
                    test_read_ahead_request);
    return g_test_run();
}
