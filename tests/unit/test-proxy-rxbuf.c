/*
 * The proxy's receive buffer (include/hw/vfio-user/proxy-rxbuf.h), on an
 * AF_UNIX socket pair (one recvmsg() per fill) and on the in-memory
 * transport (a header per fill, no read-ahead): several messages in one
 * fill (a socket's) or one header per fill (the in-memory one), a
 * message split across fills, fds with the message they came with and
 * not another, fds inside a body or glued to a header by the kernel, a
 * header claiming more than the limit, end of stream in a message, a
 * payload larger than the buffer.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <glib.h>
#include "hw/vfio-user/proxy-rxbuf.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

#define MAX_MSG 65536

/* The two ends: ours reads through rb, the peer writes raw bytes. */
typedef struct Pair {
    VfioUserTransport *ours, *peer;
    VFIOUserRxBuf rb;
    unsigned fds0;
} Pair;

static void pair_open(Pair *p, gconstpointer mem)
{
    g_autoptr(GError) err = NULL;
    VfioUserTransport *t[2];
    int sv[2];

    p->fds0 = vut_count_fds();
    if (GPOINTER_TO_INT(mem)) {
        g_assert_true(vfio_user_transport_mem_pair(t, &err));
        g_assert_no_error(err);
    } else {
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
        t[0] = vfio_user_transport_socket_new(sv[0]);
        t[1] = vfio_user_transport_socket_new(sv[1]);
    }
    p->ours = t[0];
    p->peer = t[1];
    vfio_user_rxbuf_init(&p->rb, p->ours);
    g_assert_cmpint(p->rb.sock, ==, !GPOINTER_TO_INT(mem));
}

/* Close both ends; every fd a test received must be closed by now. */
static void pair_close(Pair *p)
{
    vfio_user_rxbuf_destroy(&p->rb);
    vfio_user_transport_close(p->ours);
    vfio_user_transport_close(p->peer);
    g_assert_cmpuint(vut_count_fds(), ==, p->fds0);
}

/* One write of @len raw bytes from the peer, with @fds on its first byte. */
static void peer_write(Pair *p, const void *buf, size_t len, const int *fds,
                       size_t nfds)
{
    g_autoptr(GError) err = NULL;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    g_assert_true(vfio_user_tr_sendv(p->peer, &iov, 1, fds, nfds, &err));
    g_assert_no_error(err);
}

/* A message @id with @len payload bytes (byte i is id + i) in @out. */
static size_t build_msg(uint8_t *out, uint16_t id, size_t len)
{
    VFIOUserHdr hdr;

    vfio_user_hdr_init(&hdr, id, VFIO_USER_DMA_READ, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REQUEST);
    memcpy(out, &hdr, sizeof(hdr));
    for (size_t i = 0; i < len; i++) {
        out[sizeof(hdr) + i] = (uint8_t)(id + i);
    }
    return sizeof(hdr) + len;
}

static void peer_msg(Pair *p, uint16_t id, size_t len, const int *fds,
                     size_t nfds)
{
    g_autofree uint8_t *m = g_malloc(sizeof(VFIOUserHdr) + len);

    peer_write(p, m, build_msg(m, id, len), fds, nfds);
}

/* Fill once without waiting; it must bring something. */
static void fill_once(Pair *p)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(vfio_user_rxbuf_fill(&p->rb, MSG_DONTWAIT, &err), ==,
                    VFIO_USER_RX_DATA);
    g_assert_no_error(err);
}

/*
 * Take message @id with @len payload bytes: its header (with the fds it
 * came with, returned in @fds, *@nfds set) and its payload, checked.
 */
static void take_msg(Pair *p, uint16_t id, size_t len, int *fds, size_t *nfds)
{
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *buf = g_malloc(len + 1);
    struct iovec iov[2] = {
        {.iov_base = buf, .iov_len = len / 2},
        {.iov_base = buf + len / 2, .iov_len = len - len / 2},
    };
    int dummy[VFIO_USER_MAX_FDS];
    size_t n = 0;
    VFIOUserHdr hdr;

    g_assert_true(vfio_user_rxbuf_need_hdr(&p->rb, NULL, &err));
    g_assert_true(vfio_user_rxbuf_take_hdr(&p->rb, &hdr, fds ? fds : dummy, &n,
                                           VFIO_USER_MAX_FDS, MAX_MSG, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(hdr.id, ==, id);
    g_assert_cmpuint(hdr.size, ==, sizeof(hdr) + len);
    if (nfds) {
        *nfds = n;
    } else {
        g_assert_cmpuint(n, ==, 0); /* no fds expected */
    }
    g_assert_true(vfio_user_rxbuf_readv(&p->rb, iov, 2, len, NULL, &err));
    g_assert_no_error(err);
    for (size_t i = 0; i < len; i++) {
        g_assert_cmpuint(buf[i], ==, (uint8_t)(id + i));
    }
}

/* Is @a a received copy of @b (the same open file)? */
static bool same_file(int a, int b)
{
    struct stat sa, sb;

    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_ino == sb.st_ino &&
           sa.st_dev == sb.st_dev;
}

/*
 * Three messages written apart, all taken by one fill on a socket; on the
 * in-memory transport a fill takes one header and nothing more.
 */
static void test_several_in_one_fill(gconstpointer mem)
{
    Pair p;

    pair_open(&p, mem);
    peer_msg(&p, 1, 4, NULL, 0);
    peer_msg(&p, 2, 0, NULL, 0);
    peer_msg(&p, 3, 100, NULL, 0);
    fill_once(&p);
    g_assert_cmpuint(vfio_user_rxbuf_avail(&p.rb), ==,
                     GPOINTER_TO_INT(mem) ? 16 : 3 * 16 + 104);
    take_msg(&p, 1, 4, NULL, NULL);
    take_msg(&p, 2, 0, NULL, NULL);
    take_msg(&p, 3, 100, NULL, NULL);
    g_assert_cmpuint(vfio_user_rxbuf_avail(&p.rb), ==, 0);
    g_assert_cmpuint(p.rb.pos, ==, 3 * 16 + 104);
    pair_close(&p);
}

/* A message whose header and payload come in pieces, across fills. */
static void test_split_across_fills(gconstpointer mem)
{
    uint8_t m[16 + 40];
    size_t len = build_msg(m, 7, 40);
    Pair p;

    pair_open(&p, mem);
    peer_write(&p, m, 5, NULL, 0);
    fill_once(&p);
    g_assert_false(vfio_user_rxbuf_has_hdr(&p.rb));
    peer_write(&p, m + 5, 15, NULL, 0);
    fill_once(&p);
    g_assert_true(vfio_user_rxbuf_has_hdr(&p.rb));
    g_assert_cmpuint(vfio_user_rxbuf_avail(&p.rb), ==,
                     GPOINTER_TO_INT(mem) ? 16 : 20);
    /* The rest of the payload comes later and is read straight. */
    peer_write(&p, m + 20, len - 20, NULL, 0);
    peer_msg(&p, 8, 3, NULL, 0);
    take_msg(&p, 7, 40, NULL, NULL);
    take_msg(&p, 8, 3, NULL, NULL);
    pair_close(&p);
}

/*
 * The first piece of a header carries an fd, so that a receive ends early
 * and the fill's second part lands behind a gap: the bytes close up and
 * the fd goes with the header it overlaps.
 */
static void test_fd_with_header_piece(gconstpointer mem)
{
    uint8_t m[16 + 12];
    size_t len = build_msg(m, 11, 12), n;
    int got[VFIO_USER_MAX_FDS];
    Pair p;
    int fd;

    pair_open(&p, mem);
    fd = eventfd(0, EFD_CLOEXEC);
    peer_write(&p, m, 5, &fd, 1);
    peer_write(&p, m + 5, len - 5, NULL, 0);
    peer_msg(&p, 12, 1, NULL, 0);
    fill_once(&p);
    take_msg(&p, 11, 12, got, &n);
    g_assert_cmpuint(n, ==, 1);
    g_assert_true(same_file(got[0], fd));
    close(got[0]);
    close(fd);
    take_msg(&p, 12, 1, NULL, NULL);
    pair_close(&p);
}

/* A payload larger than the buffer: the rest goes straight to the caller. */
static void test_larger_than_buffer(gconstpointer mem)
{
    Pair p;

    pair_open(&p, mem);
    peer_msg(&p, 9, 3 * VFIO_USER_RXBUF_SIZE + 5, NULL, 0);
    peer_msg(&p, 10, 6, NULL, 0);
    take_msg(&p, 9, 3 * VFIO_USER_RXBUF_SIZE + 5, NULL, NULL);
    take_msg(&p, 10, 6, NULL, NULL);
    pair_close(&p);
}

/*
 * Fds written with messages 2 and 3 reach those messages and no other,
 * although one fill may bring all three (the kernel glues the bytes of
 * message 1 in front of message 2's).
 */
static void test_fds_with_their_message(gconstpointer mem)
{
    int got[VFIO_USER_MAX_FDS];
    size_t n;
    Pair p;
    int a, b;

    pair_open(&p, mem);
    a = eventfd(0, EFD_CLOEXEC);
    b = eventfd(0, EFD_CLOEXEC);
    peer_msg(&p, 1, 8, NULL, 0);
    peer_msg(&p, 2, 8, &a, 1);
    peer_msg(&p, 3, 0, (int[]){b, a}, 2);
    take_msg(&p, 1, 8, got, &n);
    g_assert_cmpuint(n, ==, 0);
    take_msg(&p, 2, 8, got, &n);
    g_assert_cmpuint(n, ==, 1);
    g_assert_true(same_file(got[0], a));
    close(got[0]);
    take_msg(&p, 3, 0, got, &n);
    g_assert_cmpuint(n, ==, 2);
    g_assert_true(same_file(got[0], b));
    g_assert_true(same_file(got[1], a));
    vfio_user_close_fds(got, n);
    close(a);
    close(b);
    pair_close(&p);
}

/* More fds than the message may take: the rest are closed. */
static void test_fds_beyond_limit(gconstpointer mem)
{
    g_autoptr(GError) err = NULL;
    int fds[5], got[VFIO_USER_MAX_FDS];
    VFIOUserHdr hdr;
    size_t n;
    Pair p;

    pair_open(&p, mem);
    for (int i = 0; i < 5; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC);
    }
    peer_msg(&p, 4, 0, fds, 5);
    vfio_user_close_fds(fds, 5);
    g_assert_true(vfio_user_rxbuf_need_hdr(&p.rb, NULL, &err));
    g_assert_true(
        vfio_user_rxbuf_take_hdr(&p.rb, &hdr, got, &n, 2, MAX_MSG, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(n, ==, 2);
    vfio_user_close_fds(got, n);
    pair_close(&p);
}

/* Take the next header; it must fail with @code and leave no fd open. */
static void take_fails(Pair *p, int code)
{
    g_autoptr(GError) err = NULL;
    int got[VFIO_USER_MAX_FDS];
    VFIOUserHdr hdr;
    size_t n = 0;

    if (vfio_user_rxbuf_need_hdr(&p->rb, NULL, &err)) {
        g_assert_false(vfio_user_rxbuf_take_hdr(
            &p->rb, &hdr, got, &n, VFIO_USER_MAX_FDS, MAX_MSG, &err));
    }
    g_assert_error(err, VFIO_USER_ERROR, code);
    g_assert_cmpuint(n, ==, 0);
}

/* Take the next header, which must pass and bring no fd. */
static void take_hdr_only(Pair *p, VFIOUserHdr *hdr)
{
    g_autoptr(GError) err = NULL;
    int got[VFIO_USER_MAX_FDS];
    size_t n = 0;

    g_assert_true(vfio_user_rxbuf_need_hdr(&p->rb, NULL, &err));
    g_assert_true(vfio_user_rxbuf_take_hdr(&p->rb, hdr, got, &n,
                                           VFIO_USER_MAX_FDS, MAX_MSG, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(n, ==, 0);
}

/* Read @hdr's payload, which must fail with EPROTO. */
static void payload_fails(Pair *p, const VFIOUserHdr *hdr)
{
    g_autoptr(GError) err = NULL;
    uint8_t buf[64];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};

    g_assert_cmpuint(hdr->size - sizeof(*hdr), <=, sizeof(buf));
    g_assert_false(vfio_user_rxbuf_readv(&p->rb, &iov, 1,
                                         hdr->size - sizeof(*hdr), NULL, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPROTO);
}

/*
 * The fd cases: a pair, message 5 with an 8-byte payload built in @m
 * (24 bytes), and an eventfd to send with some part of it.
 */
static int fd_case_open(Pair *p, gconstpointer mem, uint8_t *m)
{
    pair_open(p, mem);
    build_msg(m, 5, 8);
    return eventfd(0, EFD_CLOEXEC);
}

/*
 * An fd written with the payload, after its header was taken: the
 * payload's receive brings it, inside a body: EPROTO.
 */
static void test_fds_in_body(gconstpointer mem)
{
    uint8_t m[16 + 8];
    VFIOUserHdr hdr;
    Pair p;
    int fd;

    fd = fd_case_open(&p, mem, m);
    peer_write(&p, m, 16, NULL, 0);
    take_hdr_only(&p, &hdr);
    peer_write(&p, m + 16, 8, &fd, 1);
    close(fd);
    payload_fails(&p, &hdr);
    pair_close(&p);
}

/*
 * An fd written with the last bytes of a payload whose first bytes were
 * read ahead with the header, another message following: EPROTO, the fd
 * not given to the next message.
 */
static void test_fds_in_body_tail(gconstpointer mem)
{
    uint8_t m[16 + 8];
    VFIOUserHdr hdr;
    Pair p;
    int fd;

    fd = fd_case_open(&p, mem, m);
    peer_write(&p, m, 20, NULL, 0);
    take_hdr_only(&p, &hdr);
    peer_write(&p, m + 20, 4, &fd, 1);
    close(fd);
    peer_msg(&p, 6, 0, NULL, 0);
    payload_fails(&p, &hdr);
    pair_close(&p);
}

/*
 * An fd written with the payload, apart from its header but before the
 * header was read.  On a socket one receive takes both writes, and the
 * kernel hands the fd over with them: it cannot be told from an fd sent
 * with the header, and goes to the message (as the server's buffer does).
 * On the in-memory transport the header is read alone, so the fd comes
 * with the payload's receive: EPROTO.
 */
static void test_fds_glued_to_header(gconstpointer mem)
{
    uint8_t m[16 + 8];
    int got[VFIO_USER_MAX_FDS];
    size_t n = 0;
    Pair p;
    int fd;

    fd = fd_case_open(&p, mem, m);
    peer_write(&p, m, 16, NULL, 0);
    peer_write(&p, m + 16, 8, &fd, 1);
    if (GPOINTER_TO_INT(mem)) {
        VFIOUserHdr hdr;

        take_hdr_only(&p, &hdr);
        payload_fails(&p, &hdr);
    } else {
        take_msg(&p, 5, 8, got, &n);
        g_assert_cmpuint(n, ==, 1);
        g_assert_true(same_file(got[0], fd));
        close(got[0]);
    }
    close(fd);
    pair_close(&p);
}

/*
 * A header claiming more than the limit (or less than a header): refused
 * before its payload, its fds closed.
 */
static void test_size_out_of_bounds(gconstpointer mem)
{
    static const uint32_t sizes[] = {MAX_MSG + 1, UINT32_MAX, 15, 0};

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        VFIOUserHdr hdr;
        Pair p;
        int fd;

        pair_open(&p, mem);
        fd = eventfd(0, EFD_CLOEXEC);
        vfio_user_hdr_init(&hdr, 1, VFIO_USER_DMA_WRITE, sizes[i],
                           VFIO_USER_F_TYPE_REQUEST);
        peer_write(&p, &hdr, sizeof(hdr), &fd, 1);
        close(fd);
        take_fails(&p, EPROTO);
        g_assert_cmpuint(p.rb.pos, ==, 0); /* not taken */
        pair_close(&p);
    }
}

/* End of stream: at a boundary, inside a header, inside a payload. */
static void test_eof(gconstpointer mem)
{
    g_autoptr(GError) err = NULL;
    uint8_t m[16 + 32], out[32];
    struct iovec iov = {.iov_base = out, .iov_len = sizeof(out)};
    int got[1];
    VFIOUserHdr hdr;
    size_t n;
    Pair p;

    pair_open(&p, mem);
    build_msg(m, 2, 32);
    peer_write(&p, m, 16 + 10, NULL, 0);
    p.peer->ops->shutdown(p.peer, SHUT_WR);
    g_assert_true(vfio_user_rxbuf_need_hdr(&p.rb, NULL, &err));
    g_assert_true(
        vfio_user_rxbuf_take_hdr(&p.rb, &hdr, got, &n, 1, MAX_MSG, &err));
    g_assert_false(vfio_user_rxbuf_readv(&p.rb, &iov, 1, 32, NULL, &err));
    g_assert_error(err, VFIO_USER_ERROR, EPROTO);
    pair_close(&p);

    pair_open(&p, mem);
    peer_write(&p, m, 9, NULL, 0);
    p.peer->ops->shutdown(p.peer, SHUT_WR);
    take_fails(&p, EPROTO);
    pair_close(&p);

    pair_open(&p, mem);
    peer_msg(&p, 3, 0, NULL, 0);
    p.peer->ops->shutdown(p.peer, SHUT_WR);
    take_msg(&p, 3, 0, NULL, NULL);
    take_fails(&p, ECONNRESET);
    pair_close(&p);
}

/* Nothing there: a non-blocking fill says so and changes nothing. */
static void test_nothing_yet(gconstpointer mem)
{
    g_autoptr(GError) err = NULL;
    Pair p;

    pair_open(&p, mem);
    g_assert_cmpint(vfio_user_rxbuf_fill(&p.rb, MSG_DONTWAIT, &err), ==,
                    VFIO_USER_RX_NONE);
    g_assert_no_error(err);
    g_assert_cmpuint(vfio_user_rxbuf_avail(&p.rb), ==, 0);
    pair_close(&p);
}

static void add(const char *name, GTestDataFunc fn)
{
    g_autofree char *sock = g_strdup_printf("/proxy-rxbuf/socket/%s", name);
    g_autofree char *mem = g_strdup_printf("/proxy-rxbuf/mem/%s", name);

    g_test_add_data_func(sock, GINT_TO_POINTER(0), fn);
    g_test_add_data_func(mem, GINT_TO_POINTER(1), fn);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add("several-in-one-fill", test_several_in_one_fill);
    add("split-across-fills", test_split_across_fills);
    add("fd-with-header-piece", test_fd_with_header_piece);
    add("larger-than-buffer", test_larger_than_buffer);
    add("fds-with-their-message", test_fds_with_their_message);
    add("fds-beyond-limit", test_fds_beyond_limit);
    add("fds-in-body", test_fds_in_body);
    add("fds-in-body-tail", test_fds_in_body_tail);
    add("fds-glued-to-header", test_fds_glued_to_header);
    add("size-out-of-bounds", test_size_out_of_bounds);
    add("eof", test_eof);
    add("nothing-yet", test_nothing_yet);
    return g_test_run();
}
