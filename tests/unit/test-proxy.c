/*
 * Unit tests for the vfio-user client connection (hw/vfio-user/proxy.c):
 * connect errors, VERSION negotiation, request/reply matching, scatter,
 * fds, timeouts, posted requests, server-to-client requests and the
 * failure model, against a fake server on a thread over real sockets.
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

#include "test-proxy-helpers.h"
#include "vfu-test.h"

/* Warnings of the proxy's log domain, captured instead of aborting. */
static GMutex log_lock;
static GString *log_warnings;

static void log_capture(const gchar *domain G_GNUC_UNUSED,
                        GLogLevelFlags level G_GNUC_UNUSED, const gchar *msg,
                        gpointer opaque G_GNUC_UNUSED)
{
    g_mutex_lock(&log_lock);
    g_string_append_printf(log_warnings, "%s\n", msg);
    g_mutex_unlock(&log_lock);
}

static bool log_contains(const char *needle)
{
    bool found;

    g_mutex_lock(&log_lock);
    found = strstr(log_warnings->str, needle) != NULL;
    g_mutex_unlock(&log_lock);
    return found;
}

/* ---- Small client-side helpers ---- */

/* x-poll-us of the proxies client_new() makes (see test_poll_us()). */
static uint32_t client_poll_us;

static VFIOUserProxy *client_new(Peer *p, uint32_t timeout_ms)
{
    VFIOUserProxyOptions opts;
    GError *err = NULL;
    VFIOUserProxy *proxy;

    vfio_user_proxy_options_init(&opts);
    opts.msg_timeout_ms = timeout_ms;
    opts.poll_us = client_poll_us;
    proxy = vfio_user_proxy_new_from_fd(p->client_fd, &opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(proxy);
    return proxy;
}

/* Blocking request with one payload buffer and one reply buffer. */
static bool client_call(VFIOUserProxy *proxy, uint16_t cmd, const void *data,
                        size_t len, void *reply, size_t reply_size,
                        VFIOUserRequest *out, GError **errp)
{
    struct iovec iov = {(void *)data, len};
    struct iovec riov = {reply, reply_size};

    *out = (VFIOUserRequest){
        .cmd = cmd,
        .iov = &iov,
        .iovcnt = len ? 1 : 0,
        .reply_iov = &riov,
        .reply_iovcnt = reply_size ? 1 : 0,
    };
    return vfio_user_proxy_call(proxy, out, errp);
}

/* Round trip with the echo server step below; asserts it works. */
static void client_ping(VFIOUserProxy *proxy, const char *word)
{
    char buf[64] = "";
    VFIOUserRequest req;
    GError *err = NULL;

    g_assert_true(client_call(proxy, VFIO_USER_DEVICE_GET_INFO, word,
                              strlen(word), buf, sizeof(buf), &req, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(req.reply_len, ==, strlen(word));
    g_assert_cmpmem(buf, req.reply_len, word, strlen(word));
}

/* Server side of client_ping(): echo one request's payload. */
static void srv_echo_one(int sock)
{
    char buf[256];
    VFIOUserHdr hdr;
    size_t n = srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);

    srv_reply(sock, &hdr, buf, n, NULL, 0);
}

static void script_version_then_eof(int sock, void *opaque G_GNUC_UNUSED)
{
    srv_version(sock);
    g_assert_true(srv_wait_eof(sock));
}

static void assert_error(GError *err, int code, const char *needle)
{
    g_assert_nonnull(err);
    g_assert_true(err->domain == VFIO_USER_ERROR);
    g_assert_cmpint(err->code, ==, code);
    if (!strstr(err->message, needle)) {
        g_error("'%s' not in error '%s'", needle, err->message);
    }
}

/* ---- Connect errors (a temporary directory with real paths) ---- */

static void test_connect_missing(void)
{
    g_autofree char *dir = vut_sock_dir_new("proxy");
    g_autofree char *path = g_build_filename(dir, "none.sock", NULL);
    GError *err = NULL;

    g_assert_null(vfio_user_proxy_connect(path, NULL, &err));
    assert_error(err, ENOENT, "no such file");
    g_assert_nonnull(strstr(err->message, path));
    g_error_free(err);
    vut_sock_dir_remove(dir, NULL);
}

static void test_connect_not_socket(void)
{
    g_autofree char *dir = vut_sock_dir_new("proxy");
    g_autofree char *path = g_build_filename(dir, "plain", NULL);
    GError *err = NULL;

    g_assert_true(g_file_set_contents(path, "x", 1, NULL));
    g_assert_null(vfio_user_proxy_connect(path, NULL, &err));
    assert_error(err, ENOTSOCK, "is not a socket");
    g_assert_nonnull(strstr(err->message, path));
    g_error_free(err);
    vut_sock_dir_remove(dir, path);
}

static void test_connect_refused(void)
{
    g_autofree char *dir = vut_sock_dir_new("proxy");
    g_autofree char *path = g_build_filename(dir, "dead.sock", NULL);
    GError *err = NULL;
    int s = vut_unix_bind(path); /* bound, never listening */

    g_assert_null(vfio_user_proxy_connect(path, NULL, &err));
    assert_error(err, ECONNREFUSED, "nothing listening");
    g_assert_nonnull(strstr(err->message, path));
    g_error_free(err);
    close(s);
    vut_sock_dir_remove(dir, path);
}

static void test_connect_too_long(void)
{
    g_autofree char *path = g_strnfill(200, 'a');
    GError *err = NULL;

    g_assert_null(vfio_user_proxy_connect(path, NULL, &err));
    assert_error(err, ENAMETOOLONG, "too long");
    g_error_free(err);
}

static gpointer accept_and_serve(gpointer opaque)
{
    int s = accept4(GPOINTER_TO_INT(opaque), NULL, NULL, SOCK_CLOEXEC);

    g_assert_cmpint(s, >=, 0);
    script_version_then_eof(s, NULL);
    close(s);
    return NULL;
}

/* A real listening socket: connect, negotiate, close; no fd left behind. */
static void test_connect_cycle_fds(void)
{
    g_autofree char *dir = vut_sock_dir_new("proxy");
    g_autofree char *path = g_build_filename(dir, "srv.sock", NULL);
    int ls = vut_unix_bind(path);
    unsigned before;

    g_assert_cmpint(listen(ls, 4), ==, 0);
    before = vut_count_fds();
    for (int i = 0; i < 3; i++) {
        GThread *t =
            g_thread_new("accept", accept_and_serve, GINT_TO_POINTER(ls));
        GError *err = NULL;
        VFIOUserProxy *proxy = vfio_user_proxy_connect(path, NULL, &err);

        g_assert_no_error(err);
        g_assert_cmpstr(vfio_user_proxy_path(proxy), ==, path);
        g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_CONNECTED);
        g_assert_cmpuint(vfio_user_proxy_caps(proxy)->max_msg_fds, ==, 8);
        vfio_user_proxy_close(proxy);
        g_thread_join(t);
    }
    g_assert_cmpuint(vut_count_fds(), ==, before);
    close(ls);
    vut_sock_dir_remove(dir, path);
}

/* ---- Negotiation ---- */

typedef struct VersionCase {
    uint16_t major;
    const char *json;
    VFIOUserCaps client_caps;
} VersionCase;

static void script_version_case(int sock, void *opaque)
{
    VersionCase *vc = opaque;
    size_t jlen = vc->json ? strlen(vc->json) + 1 : 0;
    g_autofree char *p = g_malloc(4 + jlen);
    uint16_t v[2] = {vc->major, 3};

    memcpy(p, v, sizeof(v));
    if (vc->json) {
        memcpy(p + 4, vc->json, jlen);
    }
    srv_version_raw(sock, p, 4 + jlen, VFIO_USER_VERSION, 0,
                    VFIO_USER_F_TYPE_REPLY, 0, &vc->client_caps);
    srv_wait_eof(sock);
}

static void test_negotiate_merge(void)
{
    VersionCase vc = {
        .json =
            "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":65536,\"pgsizes\":4096,\"max_dma_maps\":100000,\"unknown_key\":[1,2]}}",
    };
    Peer *p = peer_start(script_version_case, &vc);
    VFIOUserProxy *proxy = client_new(p, 0);
    const VFIOUserCaps *m = vfio_user_proxy_caps(proxy);
    const VFIOUserCaps *s = vfio_user_proxy_server_caps(proxy);

    g_assert_cmpuint(s->max_msg_fds, ==, 8);
    g_assert_cmpuint(s->max_data_xfer_size, ==, 65536);
    g_assert_cmpuint(s->minor, ==, 3);
    g_assert_cmpuint(m->max_msg_fds, ==, 8); /* theirs smaller */
    g_assert_cmpuint(m->max_data_xfer_size, ==, 65536);
    g_assert_cmpuint(m->max_dma_maps, ==, 65535); /* ours smaller */
    g_assert_cmpuint(m->minor, ==, VFIO_USER_MINOR_VER);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    /* What we offered reached the server. */
    g_assert_cmpuint(vc.client_caps.max_msg_fds, ==, 16);
    g_assert_cmpuint(vc.client_caps.max_data_xfer_size, ==, 1024 * 1024);
}

static void test_negotiate_defaults(void)
{
    VersionCase vc = {.json = NULL};
    Peer *p = peer_start(script_version_case, &vc);
    VFIOUserProxy *proxy = client_new(p, 0);
    const VFIOUserCaps *m = vfio_user_proxy_caps(proxy);
    const VFIOUserCaps *s = vfio_user_proxy_server_caps(proxy);

    g_assert_cmpuint(s->max_msg_fds, ==, VFIO_USER_DEF_MAX_MSG_FDS);
    g_assert_cmpuint(s->max_data_xfer_size, ==, VFIO_USER_DEF_MAX_XFER);
    g_assert_cmpuint(s->pgsizes, ==, VFIO_USER_DEF_PGSIZES);
    g_assert_cmpuint(m->max_msg_fds, ==, 1);
    g_assert_false(m->write_multiple);
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

/* The negotiation must fail with @code and @needle in the message. */
static void expect_version_failure(VersionCase *vc, int code,
                                   const char *needle)
{
    Peer *p = peer_start(script_version_case, vc);
    GError *err = NULL;
    unsigned before = vut_count_fds();

    g_assert_null(vfio_user_proxy_new_from_fd(p->client_fd, NULL, &err));
    assert_error(err, code, needle);
    g_assert_nonnull(strstr(err->message, "version negotiation failed"));
    g_error_free(err);
    peer_join(p);
    g_assert_cmpuint(vut_count_fds(), ==, before - 2); /* both ends closed */
}

static void test_negotiate_bad_json(void)
{
    VersionCase vc = {.json = "{\"capabilities\":{\"max_msg_fds\":"};

    expect_version_failure(&vc, EINVAL, "JSON");
}

static void test_negotiate_wrong_type(void)
{
    VersionCase vc = {.json = "{\"capabilities\":{\"max_msg_fds\":\"8\"}}"};

    expect_version_failure(&vc, EINVAL, "max_msg_fds");
}

static void test_negotiate_major(void)
{
    VersionCase vc = {.major = 1, .json = "{}"};

    expect_version_failure(&vc, EINVAL, "major");
}

typedef struct BadReply {
    uint16_t cmd;
    uint16_t id_delta;
    uint32_t flags;
    int errnum;
} BadReply;

static void script_bad_version_reply(int sock, void *opaque)
{
    BadReply *b = opaque;
    uint16_t v[2] = {0, 1};

    srv_version_raw(sock, v, sizeof(v), b->cmd, b->id_delta, b->flags,
                    b->errnum, NULL);
    srv_wait_eof(sock);
}

static void expect_bad_reply(BadReply *b, int code, const char *needle)
{
    Peer *p = peer_start(script_bad_version_reply, b);
    GError *err = NULL;

    g_assert_null(vfio_user_proxy_new_from_fd(p->client_fd, NULL, &err));
    assert_error(err, code, needle);
    g_error_free(err);
    peer_join(p);
}

static void test_negotiate_error_reply(void)
{
    BadReply b = {VFIO_USER_VERSION, 0,
                  VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR, ENOTSUP};

    expect_bad_reply(&b, ENOTSUP, "rejected VERSION");
}

static void test_negotiate_wrong_reply(void)
{
    BadReply other_cmd = {VFIO_USER_DMA_MAP, 0, VFIO_USER_F_TYPE_REPLY, 0};
    BadReply other_id = {VFIO_USER_VERSION, 7, VFIO_USER_F_TYPE_REPLY, 0};
    BadReply request = {VFIO_USER_DMA_READ, 0, VFIO_USER_F_TYPE_REQUEST, 0};

    expect_bad_reply(&other_cmd, EPROTO, "DMA_MAP reply");
    expect_bad_reply(&other_id, EPROTO, "id 7");
    expect_bad_reply(&request, EPROTO, "instead of the VERSION reply");
}

static void script_version_silent(int sock, void *opaque G_GNUC_UNUSED)
{
    char buf[4096];
    VFIOUserHdr hdr;

    srv_recv(sock, &hdr, buf, sizeof(buf), NULL, NULL);
    g_assert_true(srv_wait_eof(sock));
}

static void test_negotiate_timeout(void)
{
    Peer *p = peer_start(script_version_silent, NULL);
    VFIOUserProxyOptions opts;
    GError *err = NULL;

    vfio_user_proxy_options_init(&opts);
    opts.msg_timeout_ms = 100;
    g_assert_null(vfio_user_proxy_new_from_fd(p->client_fd, &opts, &err));
    assert_error(err, ETIMEDOUT, "100 ms");
    g_error_free(err);
    peer_join(p);
}

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

static void test_posted_error(void)
{
    Peer *p = peer_start(script_posted_error, NULL);
    VFIOUserProxy *proxy = client_new(p, 0);
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
    g_assert_true(log_contains("posted REGION_WRITE failed"));
    vfio_user_proxy_close(proxy);
    peer_join(p);
}

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
 * Back-to-back calls: every reply reaches its caller through the receive
 * thread (no caller reads the socket any more).
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
    g_assert_cmpuint(st.own_reads, ==, 0);
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

/* The same behaviour with busy-polling (x-poll-us) turned on. */
static void test_poll_us(gconstpointer data)
{
    GTestFunc fn = (GTestFunc)data;

    client_poll_us = 200;
    fn();
    client_poll_us = 0;
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
    g_test_init(&argc, &argv, NULL);
    /* Proxy warnings are checked by the tests, not fatal. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    log_warnings = g_string_new(NULL);
    g_log_set_handler("vfio-user-proxy", G_LOG_LEVEL_WARNING, log_capture,
                      NULL);

    g_test_add_func("/proxy/connect/missing", test_connect_missing);
    g_test_add_func("/proxy/connect/not-socket", test_connect_not_socket);
    g_test_add_func("/proxy/connect/refused", test_connect_refused);
    g_test_add_func("/proxy/connect/too-long", test_connect_too_long);
    g_test_add_func("/proxy/connect/cycle-fds", test_connect_cycle_fds);
    g_test_add_func("/proxy/negotiate/merge", test_negotiate_merge);
    g_test_add_func("/proxy/negotiate/defaults", test_negotiate_defaults);
    g_test_add_func("/proxy/negotiate/bad-json", test_negotiate_bad_json);
    g_test_add_func("/proxy/negotiate/wrong-type", test_negotiate_wrong_type);
    g_test_add_func("/proxy/negotiate/major", test_negotiate_major);
    g_test_add_func("/proxy/negotiate/error-reply", test_negotiate_error_reply);
    g_test_add_func("/proxy/negotiate/wrong-reply", test_negotiate_wrong_reply);
    g_test_add_func("/proxy/negotiate/timeout", test_negotiate_timeout);
    g_test_add_func("/proxy/call/roundtrip-scatter", test_roundtrip_scatter);
    g_test_add_func("/proxy/call/reply-fds", test_reply_fds);
    g_test_add_func("/proxy/call/out-of-order", test_out_of_order);
    g_test_add_func("/proxy/call/unknown-reply", test_unknown_reply);
    g_test_add_func("/proxy/call/oversized-reply", test_oversized_reply);
    g_test_add_func("/proxy/call/too-many-fds", test_too_many_fds);
    g_test_add_func("/proxy/call/id-wrap", test_id_wrap);
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
    g_test_add_data_func("/proxy/poll-us/timeout-late-reply",
                         test_timeout_late_reply, test_poll_us);
    g_test_add_data_func("/proxy/poll-us/stalled-reply", test_stalled_reply,
                         test_poll_us);
    g_test_add_data_func("/proxy/poll-us/hangup-wakes", test_hangup_wakes,
                         test_poll_us);
    g_test_add_data_func("/proxy/vectors/sample-client-server",
                         "libvfio-user-sample-client-server.jsonl",
                         test_vector_replay);
    g_test_add_data_func("/proxy/vectors/gpio-client",
                         "libvfio-user-gpio-client.jsonl", test_vector_replay);
    g_test_add_data_func("/proxy/vectors/access-modes",
                         "libvfio-user-access-modes.jsonl", test_vector_replay);
    return g_test_run();
}
