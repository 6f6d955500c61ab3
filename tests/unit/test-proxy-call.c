/*
 * Unit tests for the vfio-user client connection (hw/vfio-user/proxy.c):
 * blocking calls and reply matching (scatter, reply fds, out-of-order and
 * unknown replies, oversized replies, too many fds, message id wrap), and
 * replays of the recorded sessions in tests/data.
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

/* ---- Requests and replies ---- */

static void script_roundtrip(int sock, void *opaque G_GNUC_UNUSED)
{
    static const char reply[] = "0123456789abcdefghijklm"; /* 24 with NUL */
    char buf[64];
    VFIOUserHdr hdr;
    size_t n;

    srv_version(sock);
    n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_DEVICE_GET_REGION_INFO);
    g_assert_cmpuint(hdr.flags, ==, VFIO_USER_F_TYPE_REQUEST);
    g_assert_cmpmem(buf, n, "hello world", 11);
    srv_reply(sock, &hdr, reply, sizeof(reply), NULL, 0);
    g_assert_true(srv_wait_eof(sock));
}

/* Payload in two iovecs; reply scattered into three caller buffers. */
static void test_roundtrip_scatter(void)
{
    Peer *p = peer_start(script_roundtrip, NULL);
    VFIOUserProxy *proxy = client_new(p, 0);
    char a[5], b[10], c[16];
    struct iovec iov[2] = {{"hello ", 6}, {"world", 5}};
    struct iovec riov[3] = {{a, 5}, {b, 10}, {c, 16}};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_REGION_INFO,
        .iov = iov,
        .iovcnt = 2,
        .reply_iov = riov,
        .reply_iovcnt = 3,
    };
    VFIOUserProxyStats st;
    GError *err = NULL;

    memset(c, '#', sizeof(c));
    g_assert_true(vfio_user_proxy_call(proxy, &req, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(req.reply_len, ==, 24);
    g_assert_cmpint(req.reply_errno, ==, 0);
    g_assert_cmpmem(a, 5, "01234", 5);
    g_assert_cmpmem(b, 10, "56789abcde", 10);
    g_assert_cmpmem(c, 9, "fghijklm", 9);
    g_assert_cmpint(c[9], ==, '#'); /* nothing beyond the reply */
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.requests, ==, 1);
    g_assert_cmpuint(st.replies, ==, 1);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

static int memfd_with(const char *text)
{
    int fd = memfd_create("proxy-test", MFD_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, text, strlen(text)), ==, (ssize_t)strlen(text));
    return fd;
}

static void script_reply_fds(int sock, void *opaque)
{
    VutEvent *closed = opaque;
    char buf[64];
    VFIOUserHdr hdr;

    srv_version(sock);
    for (int round = 0; round < 2; round++) {
        int fds[3];

        srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
        fds[0] = memfd_with("fd0");
        fds[1] = memfd_with("fd1");
        fds[2] = memfd_with("fd2");
        srv_reply(sock, &hdr, "ok", 2, fds, 3);
        vfio_user_close_fds(fds, 3);
        vut_event_set(&closed[round]);
    }
    g_assert_true(srv_wait_eof(sock));
}

static void test_reply_fds(void)
{
    VutEvent closed[2];
    Peer *p;
    VFIOUserProxy *proxy;
    unsigned before;
    char buf[8], text[4] = "";
    struct iovec riov = {buf, sizeof(buf)};
    int fds[4] = {-1, -1, -1, -1};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_REGION_IO_FDS,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
        .reply_fds = fds,
        .reply_max_fds = 4,
    };
    GError *err = NULL;

    vut_event_init(&closed[0]);
    vut_event_init(&closed[1]);
    p = peer_start(script_reply_fds, closed);
    proxy = client_new(p, 0);
    before = vut_count_fds();
    g_assert_true(vfio_user_proxy_call(proxy, &req, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(req.reply_nfds, ==, 3);
    for (int i = 0; i < 3; i++) {
        g_autofree char *want = g_strdup_printf("fd%d", i);

        g_assert_cmpint(pread(fds[i], text, 3, 0), ==, 3);
        g_assert_cmpmem(text, 3, want, 3);
    }
    g_assert_true(vut_event_wait(&closed[0], VUT_WAIT_MS));
    g_assert_cmpuint(vut_count_fds(), ==, before + 3);
    vfio_user_close_fds(fds, 3);

    /* Room for one fd: the other two are closed, not leaked. */
    req.reply_max_fds = 1;
    g_assert_true(vfio_user_proxy_call(proxy, &req, &err));
    g_assert_cmpuint(req.reply_nfds, ==, 1);
    g_assert_true(vut_event_wait(&closed[1], VUT_WAIT_MS));
    g_assert_cmpuint(vut_count_fds(), ==, before + 1);
    vfio_user_close_fds(fds, 1);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    vut_event_clear(&closed[0]);
    vut_event_clear(&closed[1]);
}

/* Two requests from two threads, answered in the opposite order. */
static void script_out_of_order(int sock, void *opaque G_GNUC_UNUSED)
{
    char b1[64], b2[64];
    VFIOUserHdr h1, h2;
    size_t n1, n2;

    srv_version(sock);
    n1 = srv_recv(sock, &h1, b1, sizeof(b1), NULL, NULL);
    n2 = srv_recv(sock, &h2, b2, sizeof(b2), NULL, NULL);
    g_assert_cmpuint(h1.id, !=, h2.id);
    srv_reply(sock, &h2, b2, n2, NULL, 0);
    srv_reply(sock, &h1, b1, n1, NULL, 0);
    g_assert_true(srv_wait_eof(sock));
}

static gpointer ping_thread(gpointer opaque)
{
    VFIOUserProxy **pp = opaque;

    client_ping(pp[0], (const char *)pp[1]);
    return NULL;
}

static void test_out_of_order(void)
{
    Peer *p = peer_start(script_out_of_order, NULL);
    VFIOUserProxy *proxy = client_new(p, 0);
    void *arg1[2] = {proxy, "first thread"};
    void *arg2[2] = {proxy, "second thread, longer"};
    GThread *t1 = g_thread_new("c1", ping_thread, arg1);
    GThread *t2 = g_thread_new("c2", ping_thread, arg2);
    VFIOUserProxyStats st;

    g_thread_join(t1);
    g_thread_join(t2);
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.replies, ==, 2);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

/* An unsolicited reply (with payload and an fd) before the real one. */
static void script_unknown_reply(int sock, void *opaque G_GNUC_UNUSED)
{
    char buf[64], junk[32] = {0};
    VFIOUserHdr hdr, fake;
    size_t n;
    int fd;

    srv_version(sock);
    n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    fd = memfd_with("stray"); /* after the client counted its fds */
    fake = hdr;
    fake.id = hdr.id + 100;
    srv_reply(sock, &fake, junk, sizeof(junk), &fd, 1);
    close(fd);
    srv_reply(sock, &hdr, buf, n, NULL, 0);
    srv_echo_one(sock);
    g_assert_true(srv_wait_eof(sock));
}

static void test_unknown_reply(void)
{
    Peer *p = peer_start(script_unknown_reply, NULL);
    VFIOUserProxy *proxy = client_new(p, 0);
    unsigned before = vut_count_fds();
    VFIOUserProxyStats st;

    client_ping(proxy, "real reply");
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.unknown_replies, ==, 1);
    g_assert_cmpuint(st.replies, ==, 1);
    g_assert_cmpuint(vut_count_fds(), ==, before); /* the stray fd was closed */
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_CONNECTED);
    client_ping(proxy, "still works");
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

static void script_oversized(int sock, void *opaque G_GNUC_UNUSED)
{
    char buf[64], big[100];
    VFIOUserHdr hdr;

    memset(big, 'x', sizeof(big));
    srv_version(sock);
    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    srv_reply(sock, &hdr, big, sizeof(big), NULL, 0);
    srv_echo_one(sock);
    g_assert_true(srv_wait_eof(sock));
}

static void test_oversized_reply(void)
{
    Peer *p = peer_start(script_oversized, NULL);
    VFIOUserProxy *proxy = client_new(p, 0);
    char small[8];
    VFIOUserRequest req;
    GError *err = NULL;

    g_assert_false(client_call(proxy, VFIO_USER_REGION_READ, NULL, 0, small,
                               sizeof(small), &req, &err));
    assert_error(err, EMSGSIZE, "100 bytes");
    g_clear_error(&err);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_CONNECTED);
    client_ping(proxy, "next");
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

/* Ids wrap after 65536 messages and skip an id still waiting. */
typedef struct WrapCase {
    VutEvent a_sent;
    unsigned posted;
} WrapCase;

static void script_id_wrap(int sock, void *opaque)
{
    WrapCase *wc = opaque;
    char a_buf[64], buf[64];
    VFIOUserHdr a, hdr;
    size_t a_len, n;

    srv_version(sock);
    a_len = srv_recv(sock, &a, a_buf, sizeof(a_buf), NULL, NULL);
    vut_event_set(&wc->a_sent);
    for (;;) {
        n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
        if (!(hdr.flags & VFIO_USER_F_NO_REPLY)) {
            break;
        }
        wc->posted++;
    }
    g_assert_cmpuint(hdr.id, !=, a.id);
    srv_reply(sock, &hdr, buf, n, NULL, 0);
    srv_reply(sock, &a, a_buf, a_len, NULL, 0);
    g_assert_true(srv_wait_eof(sock));
}

static void test_id_wrap(void)
{
    WrapCase wc = {.posted = 0};
    Peer *p;
    VFIOUserProxy *proxy;
    void *arg[2];
    GThread *t;
    struct iovec iov = {"w", 1};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_REGION_WRITE,
        .iov = &iov,
        .iovcnt = 1,
    };
    GError *err = NULL;

    vut_event_init(&wc.a_sent);
    p = peer_start(script_id_wrap, &wc);
    proxy = client_new(p, 10000);
    arg[0] = proxy;
    arg[1] = "held across the wrap";
    t = g_thread_new("held", ping_thread, arg);
    g_assert_true(vut_event_wait(&wc.a_sent, VUT_WAIT_MS));
    for (unsigned i = 0; i < 65535; i++) {
        g_assert_true(vfio_user_proxy_post(proxy, &req, &err));
    }
    client_ping(proxy, "after the wrap");
    g_thread_join(t);
    g_assert_cmpuint(wc.posted, ==, 65535);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    vut_event_clear(&wc.a_sent);
}

/* ---- Send-side limits ---- */

static void test_too_many_fds(void)
{
    Peer *p = peer_start(script_version_then_eof, NULL);
    VFIOUserProxy *proxy = client_new(p, 0);
    int fds[9];
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_SET_IRQS,
        .fds = fds,
        .nfds = 9,
    };
    GError *err = NULL;

    for (int i = 0; i < 9; i++) {
        fds[i] = 0;
    }
    g_assert_false(vfio_user_proxy_call(proxy, &req, &err));
    assert_error(err, E2BIG, "at most 8");
    g_clear_error(&err);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_CONNECTED);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

static void test_vector_replay(gconstpointer file)
{
    VecReplay vr;
    Peer *p;
    VFIOUserProxy *proxy;
    const VFIOUserCaps *s, *m;
    VFIOUserProxyStats st;

    vr.pairs = vec_load(file, &vr.version);
    g_assert_cmpuint(vr.pairs->len, >, 10);
    p = peer_start(script_vec_replay, &vr);
    proxy = client_new(p, 0);
    s = vfio_user_proxy_server_caps(proxy);
    m = vfio_user_proxy_caps(proxy);
    g_assert_cmpuint(s->minor, ==, 2);
    g_assert_cmpuint(s->max_msg_fds, ==, 8);
    g_assert_cmpuint(m->minor, ==, 1);
    g_assert_cmpuint(m->max_msg_fds, ==, 8);
    g_assert_cmpuint(m->max_data_xfer_size, ==, 1048576);
    for (guint i = 0; i < vr.pairs->len; i++) {
        VecPair *v = g_ptr_array_index(vr.pairs, i);
        size_t len, rlen;
        const void *data = g_bytes_get_data(v->request, &len);
        const void *want = g_bytes_get_data(v->reply, &rlen);
        char buf[4096];
        VFIOUserRequest req;
        GError *err = NULL;

        g_assert_true(client_call(proxy, v->cmd, data, len, buf, sizeof(buf),
                                  &req, &err));
        g_assert_no_error(err);
        g_assert_cmpint(req.reply_errno, ==, v->errnum);
        if (!v->errnum) {
            g_assert_cmpmem(buf, req.reply_len, want, rlen);
        }
    }
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.replies, ==, vr.pairs->len);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    g_ptr_array_unref(vr.pairs);
    g_bytes_unref(vr.version);
}

int main(int argc, char **argv)
{
    proxy_test_init(&argc, &argv);

    g_test_add_func("/proxy/call/roundtrip-scatter", test_roundtrip_scatter);
    g_test_add_func("/proxy/call/reply-fds", test_reply_fds);
    g_test_add_func("/proxy/call/out-of-order", test_out_of_order);
    g_test_add_func("/proxy/call/unknown-reply", test_unknown_reply);
    g_test_add_func("/proxy/call/oversized-reply", test_oversized_reply);
    g_test_add_func("/proxy/call/too-many-fds", test_too_many_fds);
    g_test_add_func("/proxy/call/id-wrap", test_id_wrap);
    g_test_add_data_func("/proxy/vectors/sample-client-server",
                         "libvfio-user-sample-client-server.jsonl",
                         test_vector_replay);
    g_test_add_data_func("/proxy/vectors/gpio-client",
                         "libvfio-user-gpio-client.jsonl", test_vector_replay);
    g_test_add_data_func("/proxy/vectors/access-modes",
                         "libvfio-user-access-modes.jsonl", test_vector_replay);
    return g_test_run();
}
