/*
 * The client's I/O design under load and against slow peers (issue 12):
 *
 * - a caller whose message does not fit in the socket while the server
 *   streams DMA requests at us: both complete (the receive thread never
 *   waits behind a blocked sender);
 * - a 1 MiB DMA_READ reply while the server, not reading, sends a 1 MiB
 *   DMA_WRITE: the reply's waiting send gives up and the client reads;
 * - a server dribbling one byte per half timeout, in a DMA_WRITE payload
 *   (an unmap, as device_del does, returns within the timeout + 1 s) and
 *   in a reply (the call returns within the timeout + 1 s); the connection
 *   fails with a reason;
 * - error replies to 100 outstanding posted writes: all 100 counted.
 *
 * Each scripted server runs on its own thread against a socketpair; every
 * blocking operation of the script is bounded by socket timeouts, so an
 * old client that deadlocks makes the test fail, not hang.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <linux/sockios.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "hw/vfio-user/container.h"
#include "hw/vfio-user/proxy.h"
#include "fake-peer.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

#define MIB (1024 * 1024)
#define RAM_SIZE (2 * MIB)
#define DRIBBLE_BYTES 16

typedef struct Script {
    uint32_t timeout_ms; /* the client's x-msg-timeout */
    VutEvent step;       /* the script reached its interesting part */
    bool ok;             /* the script ran to its end */
    char why[128];
    uint8_t *expect; /* DMA_WRITE data / what DMA_READ must return */
} Script;

static void script_init(Script *s, uint32_t timeout_ms)
{
    memset(s, 0, sizeof(*s));
    s->timeout_ms = timeout_ms;
    vut_event_init(&s->step);
}

static void script_clear(Script *s)
{
    vut_event_clear(&s->step);
    g_free(s->expect);
}

static bool script_fail(Script *s, const char *why, GError *err)
{
    g_snprintf(s->why, sizeof(s->why), "%s: %s", why,
               err ? err->message : "unexpected");
    g_clear_error(&err);
    return false;
}

/* Bound every send and receive of the script (a deadlocked client). */
static void script_bound(int sock, uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Receive one whole message; false (and why) on error. */
static bool script_recv(Script *s, int sock, VFIOUserHdr *hdr, void *buf,
                        size_t size, const char *what)
{
    GError *err = NULL;
    size_t nfds;

    if (!vfio_user_msg_recv_hdr(sock, hdr, NULL, &nfds, 0, 1 << 24, &err)) {
        return script_fail(s, what, err);
    }
    if (hdr->size - sizeof(*hdr) > size) {
        return script_fail(s, what, NULL);
    }
    if (!vfio_user_msg_recv_body(sock, buf, hdr->size - sizeof(*hdr), &err)) {
        return script_fail(s, what, err);
    }
    return true;
}

/* Answer every request with its own payload until the client goes. */
static void script_echo_until_eof(int sock)
{
    g_autofree uint8_t *buf = g_malloc(MIB + 64);
    VFIOUserHdr hdr;
    GError *err = NULL;
    size_t nfds;

    while (vfio_user_msg_recv_hdr(sock, &hdr, NULL, &nfds, 0, 1 << 24, &err) &&
           hdr.size - sizeof(hdr) <= MIB + 64 &&
           vfio_user_msg_recv_body(sock, buf, hdr.size - sizeof(hdr), &err)) {
        if (vfio_user_hdr_is_reply(&hdr) ||
            (hdr.flags & VFIO_USER_F_NO_REPLY)) {
            continue;
        }
        hdr.flags = VFIO_USER_F_TYPE_REPLY;
        if (!vfio_user_msg_send(sock, &hdr, buf, hdr.size - sizeof(hdr), NULL,
                                0, &err)) {
            break;
        }
    }
    g_clear_error(&err);
}

/* VERSION, then accept one DMA_MAP. */
static bool script_start(Script *s, int sock)
{
    uint8_t buf[64];
    VFIOUserHdr hdr;
    GError *err = NULL;

    srv_version(sock);
    if (!script_recv(s, sock, &hdr, buf, sizeof(buf), "DMA_MAP")) {
        return false;
    }
    if (!vfio_user_msg_send(sock,
                            &(VFIOUserHdr){.id = hdr.id,
                                           .cmd = hdr.cmd,
                                           .size = sizeof(hdr),
                                           .flags = VFIO_USER_F_TYPE_REPLY},
                            NULL, 0, NULL, 0, &err)) {
        return script_fail(s, "DMA_MAP reply", err);
    }
    return true;
}

typedef struct Client {
    Peer *peer;
    VFIOUserProxy *proxy;
    VFIOUserContainer *c;
    uint8_t *ram;
} Client;

static void client_start(Client *cl, ServerScript fn, Script *s)
{
    VFIOUserProxyOptions opts;
    VFIOUserDMASection sec = {
        .name = "ram0", .iova = 0, .size = RAM_SIZE, .fd = -1};
    GError *err = NULL;

    cl->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(cl->ram != MAP_FAILED);
    memset(cl->ram, 0x11, RAM_SIZE);
    sec.host = cl->ram;
    cl->peer = peer_start(fn, s);
    vfio_user_proxy_options_init(&opts);
    opts.msg_timeout_ms = s->timeout_ms;
    cl->proxy = vfio_user_proxy_new_from_fd(cl->peer->client_fd, &opts, &err);
    g_assert_no_error(err);
    cl->c = vfio_user_container_new(cl->proxy, VFIO_USER_DMA_ACCESS_MESSAGE);
    g_assert_true(vfio_user_container_map(cl->c, &sec, &err));
    g_assert_no_error(err);
}

static void client_end(Client *cl)
{
    vfio_user_container_free(cl->c);
    vfio_user_proxy_close(cl->proxy);
    peer_join(cl->peer);
    munmap(cl->ram, RAM_SIZE);
}

/* ---- a blocked sender never stalls the receive thread ---- */

/*
 * While the client's 1 MiB posted write is stuck half-way in the socket
 * (we do not read), send a DMA_READ and then a 1 MiB DMA_WRITE, and only
 * then read everything.  The old client's receive thread waited for the
 * send lock with the DMA_WRITE unread: neither side moved until the
 * timeout.
 */
static void script_blocked_sender(int sock, void *opaque)
{
    Script *s = opaque;
    struct pollfd pfd = {.fd = sock, .events = POLLIN};
    g_autofree uint8_t *big = g_malloc(MIB + 64);
    VFIOUserDMARW rw = {.addr = 0, .count = 4096};
    VFIOUserHdr hdr;
    GError *err = NULL;
    struct iovec iov[3];

    script_bound(sock, 3 * s->timeout_ms);
    if (!script_start(s, sock)) {
        goto out;
    }
    /* The client has begun its posted write. */
    if (poll(&pfd, 1, 10000) != 1) {
        script_fail(s, "no posted write", NULL);
        goto out;
    }
    vfio_user_hdr_init(&hdr, 0x100, VFIO_USER_DMA_READ,
                       sizeof(hdr) + sizeof(rw), VFIO_USER_F_TYPE_REQUEST);
    if (!vfio_user_msg_send(sock, &hdr, &rw, sizeof(rw), NULL, 0, &err)) {
        script_fail(s, "DMA_READ", err);
        goto out;
    }
    rw = (VFIOUserDMARW){.addr = 8192, .count = MIB};
    vfio_user_hdr_init(&hdr, 0x101, VFIO_USER_DMA_WRITE,
                       sizeof(hdr) + sizeof(rw) + MIB,
                       VFIO_USER_F_TYPE_REQUEST);
    iov[0] = (struct iovec){.iov_base = &hdr, .iov_len = sizeof(hdr)};
    iov[1] = (struct iovec){.iov_base = &rw, .iov_len = sizeof(rw)};
    iov[2] = (struct iovec){.iov_base = s->expect, .iov_len = MIB};
    if (!vfio_user_msg_sendv(sock, iov, 3, NULL, 0, &err)) {
        script_fail(s, "DMA_WRITE (the client stopped reading)", err);
        goto out;
    }
    if (!script_recv(s, sock, &hdr, big, MIB + 64, "posted write") ||
        hdr.cmd != VFIO_USER_REGION_WRITE || memcmp(big + 16, s->expect, MIB)) {
        script_fail(s, "posted write data", NULL);
        goto out;
    }
    if (!script_recv(s, sock, &hdr, big, MIB + 64, "DMA_READ reply") ||
        hdr.id != 0x100 || (hdr.flags & VFIO_USER_F_ERROR) ||
        hdr.size != sizeof(hdr) + sizeof(rw) + 4096 ||
        big[sizeof(rw)] != 0x11) {
        script_fail(s, "DMA_READ reply", NULL);
        goto out;
    }
    if (!script_recv(s, sock, &hdr, big, MIB + 64, "DMA_WRITE reply") ||
        hdr.id != 0x101 || (hdr.flags & VFIO_USER_F_ERROR)) {
        script_fail(s, "DMA_WRITE reply", NULL);
        goto out;
    }
    s->ok = true;
out:
    vut_event_set(&s->step);
    script_echo_until_eof(sock);
}

static void test_blocked_sender(void)
{
    g_autofree uint8_t *data = g_malloc(MIB);
    struct iovec iov[2];
    VFIOUserRegionRW rw = {.offset = 0, .region = 0, .count = MIB};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_REGION_WRITE, .iov = iov, .iovcnt = 2};
    Script s;
    Client cl;
    GError *err = NULL;

    script_init(&s, 1000);
    s.expect = g_malloc(MIB);
    for (size_t i = 0; i < MIB; i++) {
        s.expect[i] = (uint8_t)(i * 7 + 1);
    }
    memcpy(data, s.expect, MIB);
    client_start(&cl, script_blocked_sender, &s);
    iov[0] = (struct iovec){.iov_base = &rw, .iov_len = sizeof(rw)};
    iov[1] = (struct iovec){.iov_base = data, .iov_len = MIB};
    g_assert_true(vfio_user_proxy_post(cl.proxy, &req, &err));
    g_assert_no_error(err);
    g_assert_true(vut_event_wait(&s.step, 20000));
    if (!s.ok) {
        g_test_fail_printf("server script: %s", s.why);
    }
    g_assert_cmpint(vfio_user_proxy_state(cl.proxy), ==, VFIO_PROXY_CONNECTED);
    g_assert_cmpmem(cl.ram + 8192, MIB, s.expect, MIB);
    client_end(&cl);
    script_clear(&s);
}

/*
 * Ask for 1 MiB with a DMA_READ, then, without reading, send a 1 MiB
 * DMA_WRITE: the client's reply and our request each fill the socket.
 * The client's first send of a large reply may wait for room; it must
 * give up and read, or neither side moves until the timeout.
 */
static void script_read_while_sending(int sock, void *opaque)
{
    Script *s = opaque;
    g_autofree uint8_t *big = g_malloc(MIB + 64);
    VFIOUserDMARW rw = {.addr = 0, .count = MIB};
    VFIOUserHdr hdr;
    GError *err = NULL;
    struct iovec iov[3];

    script_bound(sock, 3 * s->timeout_ms);
    if (!script_start(s, sock)) {
        goto out;
    }
    vfio_user_hdr_init(&hdr, 0x300, VFIO_USER_DMA_READ,
                       sizeof(hdr) + sizeof(rw), VFIO_USER_F_TYPE_REQUEST);
    if (!vfio_user_msg_send(sock, &hdr, &rw, sizeof(rw), NULL, 0, &err)) {
        script_fail(s, "DMA_READ", err);
        goto out;
    }
    rw = (VFIOUserDMARW){.addr = MIB, .count = MIB};
    vfio_user_hdr_init(&hdr, 0x301, VFIO_USER_DMA_WRITE,
                       sizeof(hdr) + sizeof(rw) + MIB,
                       VFIO_USER_F_TYPE_REQUEST);
    iov[0] = (struct iovec){.iov_base = &hdr, .iov_len = sizeof(hdr)};
    iov[1] = (struct iovec){.iov_base = &rw, .iov_len = sizeof(rw)};
    iov[2] = (struct iovec){.iov_base = s->expect, .iov_len = MIB};
    if (!vfio_user_msg_sendv(sock, iov, 3, NULL, 0, &err)) {
        script_fail(s, "DMA_WRITE (the client stopped reading)", err);
        goto out;
    }
    if (!script_recv(s, sock, &hdr, big, MIB + 64, "DMA_READ reply") ||
        hdr.id != 0x300 || (hdr.flags & VFIO_USER_F_ERROR) ||
        hdr.size != sizeof(hdr) + sizeof(rw) + MIB || big[sizeof(rw)] != 0x11 ||
        big[sizeof(rw) + MIB - 1] != 0x11) {
        script_fail(s, "DMA_READ reply", NULL);
        goto out;
    }
    if (!script_recv(s, sock, &hdr, big, MIB + 64, "DMA_WRITE reply") ||
        hdr.id != 0x301 || (hdr.flags & VFIO_USER_F_ERROR)) {
        script_fail(s, "DMA_WRITE reply", NULL);
        goto out;
    }
    s->ok = true;
out:
    vut_event_set(&s->step);
    script_echo_until_eof(sock);
}

static void test_read_while_sending(void)
{
    Script s;
    Client cl;

    script_init(&s, 1000);
    s.expect = g_malloc(MIB);
    for (size_t i = 0; i < MIB; i++) {
        s.expect[i] = (uint8_t)(i * 5 + 3);
    }
    client_start(&cl, script_read_while_sending, &s);
    g_assert_true(vut_event_wait(&s.step, 20000));
    if (!s.ok) {
        g_test_fail_printf("server script: %s", s.why);
    }
    g_assert_cmpint(vfio_user_proxy_state(cl.proxy), ==, VFIO_PROXY_CONNECTED);
    g_assert_cmpmem(cl.ram + MIB, MIB, s.expect, MIB);
    client_end(&cl);
    script_clear(&s);
}

/* ---- dribbling servers: one byte per half timeout ---- */

/* Send @n bytes of @p one at a time, half a timeout apart. */
static void script_dribble(Script *s, int sock, const uint8_t *p, size_t n)
{
    struct pollfd pfd = {.fd = sock, .events = POLLRDHUP};

    for (size_t i = 0; i < n; i++) {
        if (send(sock, p + i, 1, MSG_NOSIGNAL) != 1) {
            return; /* the client gave up on us: fine */
        }
        /* The pause is the server's behaviour; a hang-up ends it early. */
        if (poll(&pfd, 1, (int)s->timeout_ms / 2) != 0) {
            return;
        }
    }
}

/* Wait until the client has read everything we sent (5 s at most). */
static bool script_wait_read(int sock)
{
    for (gint64 end = vut_deadline_ms(5000); g_get_monotonic_time() < end;) {
        int left = -1;

        if (ioctl(sock, SIOCOUTQ, &left) < 0 || left == 0) {
            return left == 0;
        }
        g_thread_yield();
    }
    return false;
}

/* A DMA_WRITE whose payload dribbles in. */
static void script_dribble_dma(int sock, void *opaque)
{
    Script *s = opaque;
    struct VFIO_USER_PACKED {
        VFIOUserHdr hdr;
        VFIOUserDMARW rw;
    } head;
    uint8_t data[DRIBBLE_BYTES];

    script_bound(sock, 20 * s->timeout_ms);
    if (!script_start(s, sock)) {
        vut_event_set(&s->step);
        return;
    }
    vfio_user_hdr_init(&head.hdr, 0x200, VFIO_USER_DMA_WRITE,
                       sizeof(head) + 4096, VFIO_USER_F_TYPE_REQUEST);
    head.rw = (VFIOUserDMARW){.addr = 0, .count = 4096};
    memset(data, 0xd1, sizeof(data));
    if (send(sock, &head, sizeof(head), MSG_NOSIGNAL) != sizeof(head) ||
        send(sock, data, 1, MSG_NOSIGNAL) != 1) {
        vut_event_set(&s->step);
        return;
    }
    /* Once the client has read all that, it is inside the payload. */
    s->ok = script_wait_read(sock);
    /*
     * One byte more, then the dribble's pause: the message is half its
     * timeout old when the test starts the unmap, so that the stall, and
     * not the unmap's own timeout of the same length, ends the unmap.
     */
    script_dribble(s, sock, data + 1, 1);
    s->ok = s->ok && script_wait_read(sock);
    vut_event_set(&s->step);
    script_dribble(s, sock, data + 2, sizeof(data) - 2);
    script_echo_until_eof(sock);
}

/*
 * device_del unmaps guest RAM while the server dribbles a DMA_WRITE into
 * it: the unmap returns within the timeout + 1 s, the connection failed
 * with a reason.  The old client held the map table's lock while the
 * bytes trickled in and per-byte timeouts never fired.
 */
static void test_dribble_dma_write(void)
{
    Script s;
    Client cl;
    GError *err = NULL;
    gint64 t0;

    script_init(&s, 400);
    client_start(&cl, script_dribble_dma, &s);
    g_assert_true(vut_event_wait(&s.step, 10000));
    g_assert_true(s.ok);
    t0 = g_get_monotonic_time();
    g_assert_false(vfio_user_container_unmap(cl.c, 0, RAM_SIZE, &err));
    g_assert_cmpint(g_get_monotonic_time() - t0, <,
                    (s.timeout_ms + 1000) * G_TIME_SPAN_MILLISECOND);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "stalled"));
    g_clear_error(&err);
    g_assert_cmpint(vfio_user_proxy_state(cl.proxy), ==, VFIO_PROXY_ERROR);
    client_end(&cl);
    script_clear(&s);
}

/* A reply that dribbles in. */
static void script_dribble_reply(int sock, void *opaque)
{
    Script *s = opaque;
    uint8_t buf[64], data[DRIBBLE_BYTES];
    VFIOUserHdr hdr;

    script_bound(sock, 20 * s->timeout_ms);
    srv_version(sock);
    if (!script_recv(s, sock, &hdr, buf, sizeof(buf), "request")) {
        return;
    }
    hdr.flags = VFIO_USER_F_TYPE_REPLY;
    hdr.size = sizeof(hdr) + 32;
    if (send(sock, &hdr, sizeof(hdr), MSG_NOSIGNAL) != sizeof(hdr)) {
        return;
    }
    memset(data, 0, sizeof(data));
    s->ok = true;
    script_dribble(s, sock, data, sizeof(data));
    script_echo_until_eof(sock);
}

/* A caller waiting for a dribbled reply: back within the timeout + 1 s. */
static void test_dribble_reply(void)
{
    uint8_t buf[64];
    struct iovec riov = {.iov_base = buf, .iov_len = sizeof(buf)};
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)};
    struct iovec iov = {.iov_base = &q, .iov_len = sizeof(q)};
    VFIOUserRequest req = {.cmd = VFIO_USER_DEVICE_GET_INFO,
                           .iov = &iov,
                           .iovcnt = 1,
                           .reply_iov = &riov,
                           .reply_iovcnt = 1};
    VFIOUserProxyOptions opts;
    VFIOUserProxy *proxy;
    Script s;
    Peer *p;
    GError *err = NULL;
    gint64 t0;

    script_init(&s, 400);
    p = peer_start(script_dribble_reply, &s);
    vfio_user_proxy_options_init(&opts);
    opts.msg_timeout_ms = s.timeout_ms;
    proxy = vfio_user_proxy_new_from_fd(p->client_fd, &opts, &err);
    g_assert_no_error(err);
    t0 = g_get_monotonic_time();
    g_assert_false(vfio_user_proxy_call(proxy, &req, &err));
    g_assert_cmpint(g_get_monotonic_time() - t0, <,
                    (s.timeout_ms + 1000) * G_TIME_SPAN_MILLISECOND);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "stalled"));
    g_clear_error(&err);
    g_assert_true(s.ok);
    g_assert_cmpint(vfio_user_proxy_state(proxy), ==, VFIO_PROXY_ERROR);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    script_clear(&s);
}

/* ---- every error reply to a posted write is counted ---- */

#define POSTED_N 100

/* Take POSTED_N posted writes, refuse them all, then answer a request. */
static void script_refuse_posted(int sock, void *opaque)
{
    Script *s = opaque;
    VFIOUserHdr hdr[POSTED_N];
    uint8_t buf[64];
    GError *err = NULL;

    script_bound(sock, 10000);
    srv_version(sock);
    for (unsigned i = 0; i < POSTED_N; i++) {
        if (!script_recv(s, sock, &hdr[i], buf, sizeof(buf), "posted") ||
            !(hdr[i].flags & VFIO_USER_F_NO_REPLY)) {
            return;
        }
    }
    for (unsigned i = 0; i < POSTED_N; i++) {
        if (!vfio_user_msg_send_error(sock, &hdr[i], EINVAL, &err)) {
            script_fail(s, "error reply", err);
            return;
        }
    }
    s->ok = true;
    script_echo_until_eof(sock);
}

static void test_posted_errors_counted(void)
{
    uint32_t v = 0;
    VFIOUserRegionRW rw = {.offset = 0, .region = 0, .count = 4};
    struct iovec iov[2] = {{.iov_base = &rw, .iov_len = sizeof(rw)},
                           {.iov_base = &v, .iov_len = 4}};
    uint8_t buf[64];
    struct iovec riov = {.iov_base = buf, .iov_len = sizeof(buf)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_REGION_WRITE, .iov = iov, .iovcnt = 2};
    VFIOUserProxyOptions opts;
    VFIOUserProxyStats st;
    VFIOUserProxy *proxy;
    Script s;
    Peer *p;
    GError *err = NULL;

    script_init(&s, 5000);
    p = peer_start(script_refuse_posted, &s);
    vfio_user_proxy_options_init(&opts);
    proxy = vfio_user_proxy_new_from_fd(p->client_fd, &opts, &err);
    g_assert_no_error(err);
    for (unsigned i = 0; i < POSTED_N; i++) {
        g_assert_true(vfio_user_proxy_post(proxy, &req, &err));
    }
    /* Its reply comes after the 100 error replies. */
    req.reply_iov = &riov;
    req.reply_iovcnt = 1;
    g_assert_true(vfio_user_proxy_call(proxy, &req, &err));
    g_assert_no_error(err);
    g_assert_true(s.ok);
    vfio_user_proxy_get_stats(proxy, &st);
    g_assert_cmpuint(st.posted, ==, POSTED_N);
    g_assert_cmpuint(st.posted_errors, ==, POSTED_N);
    g_assert_cmpuint(st.unknown_replies, ==, 0);
    vfio_user_proxy_close(proxy);
    peer_join(p);
    script_clear(&s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* Posted-write failures and unmap failures are warnings, on purpose. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    g_test_add_func("/proxy-io/blocked-sender", test_blocked_sender);
    g_test_add_func("/proxy-io/read-while-sending", test_read_while_sending);
    g_test_add_func("/proxy-io/dribble/dma-write", test_dribble_dma_write);
    g_test_add_func("/proxy-io/dribble/reply", test_dribble_reply);
    g_test_add_func("/proxy-io/posted-errors-counted",
                    test_posted_errors_counted);
    return g_test_run();
}
