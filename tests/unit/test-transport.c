/*
 * Transport tests: whole messages over real AF_UNIX sockets, partial I/O,
 * fd passing, fd floods, oversized and malformed headers.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <glib.h>
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

static void make_pair(int sv[2])
{
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
}

static void send_raw(int sock, const void *buf, size_t len, const int *fds,
                     size_t nfds)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    g_autoptr(GError) err = NULL;

    g_assert_true(vfio_user_msg_sendv(sock, &iov, 1, fds, nfds, &err));
    g_assert_no_error(err);
}

/* A 3 MiB message through a socket with tiny buffers: many partial writes
 * and reads on both sides, the bytes arrive intact. */
typedef struct {
    int sock;
    size_t len;
    guint8 *data;
} Sender;

static gpointer sender_thread(gpointer opaque)
{
    Sender *s = opaque;
    VFIOUserHdr hdr;
    g_autoptr(GError) err = NULL;

    vfio_user_hdr_init(&hdr, 7, VFIO_USER_REGION_WRITE, sizeof(hdr) + s->len,
                       0);
    g_assert_true(
        vfio_user_msg_send(s->sock, &hdr, s->data, s->len, NULL, 0, &err));
    return NULL;
}

static void test_partial_io(void)
{
    int sv[2], small = 4096;
    Sender s;
    VFIOUserHdr hdr;
    size_t nfds;
    g_autofree guint8 *got = NULL;
    g_autoptr(GError) err = NULL;
    GThread *t;

    make_pair(sv);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    s.sock = sv[0];
    s.len = 3 * 1024 * 1024;
    s.data = g_malloc(s.len);
    for (size_t i = 0; i < s.len; i++) {
        s.data[i] = (guint8)(i * 131 + 7);
    }
    t = g_thread_new("sender", sender_thread, &s);
    g_assert_true(
        vfio_user_msg_recv_hdr(sv[1], &hdr, NULL, &nfds, 0, 16 << 20, &err));
    g_assert_cmpuint(hdr.id, ==, 7);
    g_assert_cmpuint(hdr.size, ==, sizeof(hdr) + s.len);
    got = g_malloc(s.len);
    /* Scatter into three pieces to exercise the iovec advance. */
    struct iovec iov[3] = {
        {got, 5}, {got + 5, 1000000}, {got + 1000005, s.len - 1000005}};
    g_assert_true(vfio_user_msg_recv_bodyv(sv[1], iov, 3, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(got, s.len, s.data, s.len);
    g_thread_join(t);
    g_free(s.data);
    close(sv[0]);
    close(sv[1]);
}

/* The header arrives one byte at a time: still one message. */
static void test_header_byte_by_byte(void)
{
    int sv[2];
    VFIOUserHdr hdr, in;
    size_t nfds;
    g_autoptr(GError) err = NULL;

    make_pair(sv);
    vfio_user_hdr_init(&hdr, 0x1234, VFIO_USER_DEVICE_RESET, sizeof(hdr), 0);
    for (size_t i = 0; i < sizeof(hdr); i++) {
        g_assert_cmpint(write(sv[0], (char *)&hdr + i, 1), ==, 1);
    }
    g_assert_true(
        vfio_user_msg_recv_hdr(sv[1], &in, NULL, &nfds, 0, 4096, &err));
    g_assert_cmpmem(&in, sizeof(in), &hdr, sizeof(hdr));
    close(sv[0]);
    close(sv[1]);
}

static void test_fd_passing(void)
{
    int sv[2], efd = eventfd(0, EFD_CLOEXEC), fds[4];
    VFIOUserHdr hdr;
    size_t nfds;
    uint64_t v = 5;
    g_autoptr(GError) err = NULL;

    make_pair(sv);
    vfio_user_hdr_init(&hdr, 1, VFIO_USER_DMA_MAP, sizeof(hdr), 0);
    send_raw(sv[0], &hdr, sizeof(hdr), &efd, 1);
    g_assert_true(
        vfio_user_msg_recv_hdr(sv[1], &hdr, fds, &nfds, 4, 4096, &err));
    g_assert_cmpuint(nfds, ==, 1);
    g_assert_cmpint(fds[0], !=, efd);
    g_assert_cmpint(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
    /* Same eventfd underneath: a write on one is seen on the other. */
    g_assert_cmpint(write(fds[0], &v, sizeof(v)), ==, sizeof(v));
    v = 0;
    g_assert_cmpint(read(efd, &v, sizeof(v)), ==, sizeof(v));
    g_assert_cmpuint(v, ==, 5);
    close(fds[0]);
    close(efd);
    close(sv[0]);
    close(sv[1]);
}

/* 40 fds when 2 are allowed: 2 kept, 38 closed, nothing leaked. */
static void test_fd_flood(void)
{
    int sv[2], fds[40], got[2];
    unsigned before;
    VFIOUserHdr hdr;
    size_t nfds;
    g_autoptr(GError) err = NULL;

    make_pair(sv);
    before = vut_count_fds();
    for (int i = 0; i < 40; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC);
    }
    vfio_user_hdr_init(&hdr, 1, VFIO_USER_DEVICE_SET_IRQS, sizeof(hdr), 0);
    send_raw(sv[0], &hdr, sizeof(hdr), fds, 40);
    for (int i = 0; i < 40; i++) {
        close(fds[i]);
    }
    g_assert_true(
        vfio_user_msg_recv_hdr(sv[1], &hdr, got, &nfds, 2, 4096, &err));
    g_assert_cmpuint(nfds, ==, 2);
    g_assert_cmpuint(vut_count_fds(), ==, before + 2);
    vfio_user_close_fds(got, nfds);
    g_assert_cmpuint(vut_count_fds(), ==, before);
    close(sv[0]);
    close(sv[1]);
}

/* The receiver accepts no fds at all: every fd is closed. */
static void test_fds_not_expected(void)
{
    int sv[2], efd = eventfd(0, EFD_CLOEXEC);
    unsigned before;
    VFIOUserHdr hdr;
    size_t nfds;
    g_autoptr(GError) err = NULL;

    make_pair(sv);
    vfio_user_hdr_init(&hdr, 1, VFIO_USER_DEVICE_RESET, sizeof(hdr), 0);
    send_raw(sv[0], &hdr, sizeof(hdr), &efd, 1);
    close(efd);
    before = vut_count_fds();
    g_assert_true(
        vfio_user_msg_recv_hdr(sv[1], &hdr, NULL, &nfds, 0, 4096, &err));
    g_assert_cmpuint(nfds, ==, 0);
    g_assert_cmpuint(vut_count_fds(), ==, before);
    close(sv[0]);
    close(sv[1]);
}

/* Fds that arrive with body bytes are a protocol error, and closed. */
static void test_fds_in_body(void)
{
    int sv[2], efd = eventfd(0, EFD_CLOEXEC);
    unsigned before;
    VFIOUserHdr hdr;
    size_t nfds;
    char body[8] = "abcdefg";
    g_autoptr(GError) err = NULL;

    make_pair(sv);
    vfio_user_hdr_init(&hdr, 1, VFIO_USER_REGION_WRITE, sizeof(hdr) + 8, 0);
    send_raw(sv[0], &hdr, sizeof(hdr), NULL, 0);
    send_raw(sv[0], body, sizeof(body), &efd, 1);
    close(efd);
    before = vut_count_fds();
    g_assert_true(
        vfio_user_msg_recv_hdr(sv[1], &hdr, NULL, &nfds, 0, 4096, &err));
    g_assert_false(vfio_user_msg_recv_body(sv[1], body, sizeof(body), &err));
    g_assert_error(err, VFIO_USER_ERROR, EPROTO);
    g_assert_cmpuint(vut_count_fds(), ==, before);
    close(sv[0]);
    close(sv[1]);
}

/* A header announcing more than the limit is refused before any body is
 * read; one smaller than a header too. */
static void test_oversized(void)
{
    int sv[2];
    VFIOUserHdr hdr;
    size_t nfds;
    GError *err = NULL;

    make_pair(sv);
    vfio_user_hdr_init(&hdr, 1, VFIO_USER_REGION_WRITE, 0x7fffffff, 0);
    send_raw(sv[0], &hdr, sizeof(hdr), NULL, 0);
    g_assert_false(vfio_user_msg_recv_hdr(sv[1], &hdr, NULL, &nfds, 0,
                                          1024 * 1024 + 16, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPROTO);
    g_assert_nonnull(strstr(err->message, "size"));
    g_clear_error(&err);

    vfio_user_hdr_init(&hdr, 2, VFIO_USER_REGION_WRITE, 15, 0);
    send_raw(sv[0], &hdr, sizeof(hdr), NULL, 0);
    g_assert_false(
        vfio_user_msg_recv_hdr(sv[1], &hdr, NULL, &nfds, 0, 4096, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPROTO);
    g_clear_error(&err);

    vfio_user_hdr_init(&hdr, 3, VFIO_USER_REGION_WRITE, 16, 7);
    send_raw(sv[0], &hdr, sizeof(hdr), NULL, 0);
    g_assert_false(
        vfio_user_msg_recv_hdr(sv[1], &hdr, NULL, &nfds, 0, 4096, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPROTO);
    g_assert_nonnull(strstr(err->message, "type"));
    g_clear_error(&err);
    close(sv[0]);
    close(sv[1]);
}

static void test_eof(void)
{
    int sv[2];
    VFIOUserHdr hdr;
    size_t nfds;
    GError *err = NULL;

    make_pair(sv);
    close(sv[0]);
    g_assert_false(
        vfio_user_msg_recv_hdr(sv[1], &hdr, NULL, &nfds, 0, 4096, &err));
    g_assert_error(err, VFIO_USER_ERROR, ECONNRESET);
    g_clear_error(&err);
    close(sv[1]);

    /* EOF in the middle of a header or body is EPROTO. */
    make_pair(sv);
    g_assert_cmpint(write(sv[0], "\x01\x00\x09", 3), ==, 3);
    close(sv[0]);
    g_assert_false(
        vfio_user_msg_recv_hdr(sv[1], &hdr, NULL, &nfds, 0, 4096, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPROTO);
    g_clear_error(&err);
    close(sv[1]);

    make_pair(sv);
    vfio_user_hdr_init(&hdr, 1, VFIO_USER_REGION_WRITE, 64, 0);
    send_raw(sv[0], &hdr, sizeof(hdr), NULL, 0);
    close(sv[0]);
    g_assert_true(
        vfio_user_msg_recv_hdr(sv[1], &hdr, NULL, &nfds, 0, 4096, &err));
    g_assert_false(vfio_user_msg_discard(sv[1], 48, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPROTO);
    g_clear_error(&err);
    close(sv[1]);
}

/* Sending to a closed peer is EPIPE, not a SIGPIPE that kills us. */
static void test_send_to_closed(void)
{
    int sv[2];
    VFIOUserHdr hdr;
    GError *err = NULL;

    make_pair(sv);
    close(sv[1]);
    vfio_user_hdr_init(&hdr, 1, VFIO_USER_DEVICE_RESET, sizeof(hdr), 0);
    g_assert_false(vfio_user_msg_send(sv[0], &hdr, NULL, 0, NULL, 0, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPIPE);
    g_clear_error(&err);
    close(sv[0]);
}

static void test_error_reply(void)
{
    int sv[2];
    VFIOUserHdr req, rep;
    size_t nfds;
    g_autoptr(GError) err = NULL;

    make_pair(sv);
    vfio_user_hdr_init(&req, 99, VFIO_USER_DMA_MAP, 48, 0);
    g_assert_true(vfio_user_msg_send_error(sv[0], &req, EEXIST, &err));
    g_assert_true(
        vfio_user_msg_recv_hdr(sv[1], &rep, NULL, &nfds, 0, 4096, &err));
    g_assert_cmpuint(rep.id, ==, 99);
    g_assert_cmpuint(rep.cmd, ==, VFIO_USER_DMA_MAP);
    g_assert_cmpuint(rep.size, ==, 16);
    g_assert_true(vfio_user_hdr_is_reply(&rep));
    g_assert_cmpuint(rep.flags & VFIO_USER_F_ERROR, !=, 0);
    g_assert_cmpuint(rep.error, ==, EEXIST);
    close(sv[0]);
    close(sv[1]);
}

static void test_cmd_names(void)
{
    g_assert_cmpstr(vfio_user_cmd_name(VFIO_USER_DMA_READ), ==, "DMA_READ");
    g_assert_cmpstr(vfio_user_cmd_name(0), ==, "UNKNOWN");
    g_assert_cmpstr(vfio_user_cmd_name(60000), ==, "UNKNOWN");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/transport/partial-io", test_partial_io);
    g_test_add_func("/transport/header-byte-by-byte", test_header_byte_by_byte);
    g_test_add_func("/transport/fd-passing", test_fd_passing);
    g_test_add_func("/transport/fd-flood", test_fd_flood);
    g_test_add_func("/transport/fds-not-expected", test_fds_not_expected);
    g_test_add_func("/transport/fds-in-body", test_fds_in_body);
    g_test_add_func("/transport/oversized", test_oversized);
    g_test_add_func("/transport/eof", test_eof);
    g_test_add_func("/transport/send-to-closed", test_send_to_closed);
    g_test_add_func("/transport/error-reply", test_error_reply);
    g_test_add_func("/transport/cmd-names", test_cmd_names);
    return g_test_run();
}
