/*
 * Transport seam tests: the in-memory pair (messages, fds passed and
 * closed, end of stream, partial messages, the fd boundary a receive
 * keeps, its pollable fd) and the socket implementation through the ops
 * table.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <glib.h>
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

#define MAX_MSG 4096

static void mem_pair(VfioUserTransport *t[2])
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vfio_user_transport_mem_pair(t, &err));
    g_assert_no_error(err);
}

static void send_msg(VfioUserTransport *t, uint16_t id, const char *payload,
                     const int *fds, size_t nfds)
{
    g_autoptr(GError) err = NULL;
    size_t len = payload ? strlen(payload) : 0;
    VFIOUserHdr hdr;

    vfio_user_hdr_init(&hdr, id, VFIO_USER_REGION_READ, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REQUEST);
    g_assert_true(vfio_user_tr_send(t, &hdr, payload, len, fds, nfds, &err));
    g_assert_no_error(err);
}

static void send_bytes(VfioUserTransport *t, const void *buf, size_t len,
                       const int *fds, size_t nfds)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    g_autoptr(GError) err = NULL;

    g_assert_true(vfio_user_tr_sendv(t, &iov, 1, fds, nfds, &err));
    g_assert_no_error(err);
}

/* Receive one message; its payload into @buf (NUL-terminated). */
static bool recv_msg(VfioUserTransport *t, VFIOUserHdr *hdr, char *buf,
                     int *fds, size_t *nfds, GError **errp)
{
    struct iovec iov = {.iov_base = buf};

    if (!vfio_user_tr_recv_hdr_wait(t, hdr, fds, nfds, 8, MAX_MSG, NULL,
                                    errp)) {
        return false;
    }
    iov.iov_len = hdr->size - sizeof(*hdr);
    buf[iov.iov_len] = 0;
    return vfio_user_tr_recv_bodyv_wait(t, &iov, 1, NULL, errp);
}

static void test_mem_messages(void)
{
    VfioUserTransport *t[2];
    g_autoptr(GError) err = NULL;
    char buf[MAX_MSG];
    VFIOUserHdr hdr;
    size_t nfds;

    mem_pair(t);
    send_msg(t[0], 7, "hello", NULL, 0);
    send_msg(t[0], 8, NULL, NULL, 0);
    send_msg(t[1], 9, "back", NULL, 0);
    g_assert_true(recv_msg(t[1], &hdr, buf, NULL, &nfds, &err));
    g_assert_cmpuint(hdr.id, ==, 7);
    g_assert_cmpstr(buf, ==, "hello");
    g_assert_true(recv_msg(t[1], &hdr, buf, NULL, &nfds, &err));
    g_assert_cmpuint(hdr.id, ==, 8);
    g_assert_cmpstr(buf, ==, "");
    g_assert_true(recv_msg(t[0], &hdr, buf, NULL, &nfds, &err));
    g_assert_cmpuint(hdr.id, ==, 9);
    g_assert_cmpstr(buf, ==, "back");
    g_assert_no_error(err);
    vfio_user_transport_close(t[0]);
    vfio_user_transport_close(t[1]);
}

/* The receiver gets working duplicates; unread fds close with the end. */
static void test_mem_fds(void)
{
    unsigned fds0 = vut_count_fds();
    VfioUserTransport *t[2];
    g_autoptr(GError) err = NULL;
    int p[2], fds[8];
    char buf[MAX_MSG], c = 0;
    VFIOUserHdr hdr;
    size_t nfds;

    mem_pair(t);
    g_assert_cmpint(pipe(p), ==, 0);
    send_msg(t[0], 1, "fd", &p[1], 1);
    send_msg(t[0], 2, "unread", p, 2);
    close(p[1]);
    g_assert_true(recv_msg(t[1], &hdr, buf, fds, &nfds, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(nfds, ==, 1);
    g_assert_cmpint(fds[0], !=, p[1]);
    g_assert_cmpint(write(fds[0], "x", 1), ==, 1);
    g_assert_cmpint(read(p[0], &c, 1), ==, 1);
    g_assert_cmpint(c, ==, 'x');
    close(fds[0]);
    close(p[0]);
    /* Message 2 and its two fds are never read. */
    vfio_user_transport_close(t[1]);
    vfio_user_transport_close(t[0]);
    g_assert_cmpuint(vut_count_fds(), ==, fds0);
}

/* A peer's close is end of stream; a send to a closed peer is EPIPE. */
static void test_mem_eof(void)
{
    VfioUserTransport *t[2];
    GError *err = NULL;
    char buf[MAX_MSG];
    VFIOUserHdr hdr;
    size_t nfds;

    mem_pair(t);
    send_msg(t[0], 1, "last", NULL, 0);
    vfio_user_transport_close(t[0]);
    g_assert_true(recv_msg(t[1], &hdr, buf, NULL, &nfds, &err));
    g_assert_false(recv_msg(t[1], &hdr, buf, NULL, &nfds, &err));
    g_assert_error(err, VFIO_USER_ERROR, ECONNRESET);
    g_clear_error(&err);
    vfio_user_hdr_init(&hdr, 1, VFIO_USER_VERSION, sizeof(hdr), 0);
    g_assert_false(vfio_user_tr_send(t[1], &hdr, NULL, 0, NULL, 0, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPIPE);
    g_clear_error(&err);
    vfio_user_transport_close(t[1]);
}

/* Messages cut short by the peer's close: EPROTO, never a whole message. */
static void test_mem_partial(void)
{
    static const char *const names[] = {"header", "body"};

    for (int cut = 0; cut < 2; cut++) {
        VfioUserTransport *t[2];
        GError *err = NULL;
        uint8_t raw[sizeof(VFIOUserHdr) + 8];
        char buf[MAX_MSG];
        VFIOUserHdr hdr;
        size_t nfds;

        g_test_message("cut in the %s", names[cut]);
        mem_pair(t);
        vfio_user_hdr_init(&hdr, 3, VFIO_USER_REGION_WRITE, sizeof(raw), 0);
        memcpy(raw, &hdr, sizeof(hdr));
        memset(raw + sizeof(hdr), 0xab, 8);
        /* One byte at a time: a receive gathers bytes across sends. */
        for (size_t i = 0; i < (cut ? sizeof(raw) - 4 : 10); i++) {
            send_bytes(t[0], raw + i, 1, NULL, 0);
        }
        vfio_user_transport_close(t[0]);
        g_assert_false(recv_msg(t[1], &hdr, buf, NULL, &nfds, &err));
        g_assert_error(err, VFIO_USER_ERROR, EPROTO);
        g_assert_nonnull(strstr(err->message, "mid-message"));
        g_clear_error(&err);
        vfio_user_transport_close(t[1]);
    }
}

/*
 * A receive that takes a send's fds ends with that send, and fds that
 * come with body bytes are a protocol error (both as on a socket).
 */
static void test_mem_fd_boundary(void)
{
    unsigned fds0 = vut_count_fds();
    VfioUserTransport *t[2];
    GError *err = NULL;
    uint8_t a[16] = {1}, b[16] = {2}, c[16] = {3}, in[48];
    struct iovec iov = {.iov_base = in, .iov_len = sizeof(in)};
    int fds[VFIO_USER_MAX_FDS];
    size_t nfds;
    bool trunc;

    mem_pair(t);
    send_bytes(t[0], a, sizeof(a), NULL, 0);
    send_bytes(t[0], b, sizeof(b), &t[0]->fd, 1);
    send_bytes(t[0], c, sizeof(c), NULL, 0);
    g_assert_cmpint(t[1]->ops->recv(t[1], &iov, 1, fds, &nfds, &trunc, 0), ==,
                    32);
    g_assert_cmpuint(nfds, ==, 1);
    g_assert_false(trunc);
    g_assert_cmpint(in[16], ==, 2);
    close(fds[0]);
    /* c is a body here; fds with it are refused and closed. */
    send_bytes(t[0], c, sizeof(c), &t[0]->fd, 1);
    iov.iov_len = 32;
    g_assert_false(vfio_user_tr_recv_bodyv_wait(t[1], &iov, 1, NULL, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPROTO);
    g_clear_error(&err);
    vfio_user_transport_close(t[0]);
    vfio_user_transport_close(t[1]);
    g_assert_cmpuint(vut_count_fds(), ==, fds0);
}

static bool never_wait(int fd, void *opaque, GError **errp)
{
    (void)fd;
    *(bool *)opaque = true;
    return vfio_user_error_set(errp, ETIMEDOUT, "would wait");
}

/* The end's fd polls readable exactly while a receive would not wait. */
static void test_mem_poll(void)
{
    VfioUserTransport *t[2];
    GError *err = NULL;
    bool waited = false;
    VfioUserWait w = {.fn = never_wait, .opaque = &waited};
    char buf[MAX_MSG];
    VFIOUserHdr hdr;
    size_t nfds;

    mem_pair(t);
    g_assert_false(vut_readable(t[1]->fd, 0));
    g_assert_false(vfio_user_tr_recv_hdr_wait(t[1], &hdr, NULL, &nfds, 0,
                                              MAX_MSG, &w, &err));
    g_assert_true(waited);
    g_assert_error(err, VFIO_USER_ERROR, ETIMEDOUT);
    g_clear_error(&err);
    send_msg(t[0], 5, "x", NULL, 0);
    g_assert_true(vut_readable(t[1]->fd, 0));
    g_assert_false(vut_readable(t[0]->fd, 0));
    g_assert_true(recv_msg(t[1], &hdr, buf, NULL, &nfds, &err));
    g_assert_false(vut_readable(t[1]->fd, 0));
    t[0]->ops->shutdown(t[0], SHUT_WR);
    g_assert_true(vut_readable(t[1]->fd, 0));
    g_assert_false(recv_msg(t[1], &hdr, buf, NULL, &nfds, &err));
    g_assert_error(err, VFIO_USER_ERROR, ECONNRESET);
    g_clear_error(&err);
    vfio_user_transport_close(t[0]);
    vfio_user_transport_close(t[1]);
}

static gpointer blocked_reader(gpointer opaque)
{
    VfioUserTransport *t = opaque;
    char buf[MAX_MSG];
    VFIOUserHdr hdr;
    GError *err = NULL;
    size_t nfds;
    bool ok = recv_msg(t, &hdr, buf, NULL, &nfds, &err);
    int code = ok ? 0 : err->code;

    g_clear_error(&err);
    return GINT_TO_POINTER(code);
}

/* shutdown(SHUT_RD) ends a receive that waits in another thread. */
static void test_mem_shutdown_wakes(void)
{
    VfioUserTransport *t[2];
    GThread *th;

    mem_pair(t);
    th = g_thread_new("reader", blocked_reader, t[1]);
    t[1]->ops->shutdown(t[1], SHUT_RD);
    g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(th)), ==, ECONNRESET);
    vfio_user_transport_close(t[0]);
    vfio_user_transport_close(t[1]);
}

/* The socket implementation through the ops table. */
static void test_socket_ops(void)
{
    unsigned fds0 = vut_count_fds();
    VfioUserTransport *t[2];
    GError *err = NULL;
    char buf[MAX_MSG];
    VFIOUserHdr hdr;
    int sv[2], fds[8];
    size_t nfds;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    t[0] = vfio_user_transport_socket_new(sv[0]);
    t[1] = vfio_user_transport_socket_new(sv[1]);
    g_assert_cmpint(t[0]->fd, ==, sv[0]);
    send_msg(t[0], 11, "over a socket", &sv[0], 1);
    g_assert_true(recv_msg(t[1], &hdr, buf, fds, &nfds, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(hdr.id, ==, 11);
    g_assert_cmpstr(buf, ==, "over a socket");
    g_assert_cmpuint(nfds, ==, 1);
    close(fds[0]);
    t[0]->ops->shutdown(t[0], SHUT_WR);
    g_assert_false(recv_msg(t[1], &hdr, buf, NULL, &nfds, &err));
    g_assert_error(err, VFIO_USER_ERROR, ECONNRESET);
    g_clear_error(&err);
    vfio_user_transport_close(t[0]);
    vfio_user_transport_close(t[1]);
    g_assert_cmpuint(vut_count_fds(), ==, fds0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/transport-mem/messages", test_mem_messages);
    g_test_add_func("/transport-mem/fds", test_mem_fds);
    g_test_add_func("/transport-mem/eof", test_mem_eof);
    g_test_add_func("/transport-mem/partial", test_mem_partial);
    g_test_add_func("/transport-mem/fd-boundary", test_mem_fd_boundary);
    g_test_add_func("/transport-mem/poll", test_mem_poll);
    g_test_add_func("/transport-mem/shutdown-wakes", test_mem_shutdown_wakes);
    g_test_add_func("/transport-socket/ops", test_socket_ops);
    return g_test_run();
}
