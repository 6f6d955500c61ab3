/*
 * Unit tests for the vfio-user client connection (hw/vfio-user/proxy.c):
 * connect errors and VERSION negotiation (capability merge, defaults,
 * malformed or wrong replies, timeout), against a fake server on a
 * thread over real sockets.
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

/* ---- Connect errors (a temporary directory with real paths) ---- */

static void test_connect_missing(void)
{
    g_autofree char *dir = vut_sock_dir_new("proxy");
    g_autofree char *path = g_build_filename(dir, "none.sock", NULL);
    GError *err = NULL;

    g_assert_null(vfio_user_proxy_connect(path, NULL, &err));
    assert_error(err, ENOENT, "no such file");
    g_assert_null(strstr(err->message, path)); /* the caller names it */
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
    g_assert_null(strstr(err->message, path)); /* the caller names it */
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
    g_assert_null(strstr(err->message, path)); /* the caller names it */
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

int main(int argc, char **argv)
{
    proxy_test_init(&argc, &argv);

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
    return g_test_run();
}
