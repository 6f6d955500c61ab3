/*
 * qtest of a server that dribbles: the real edu server behind a relay in
 * this process that, once switched on, passes the server's bytes to the
 * VMM one at a time, half an x-msg-timeout apart.  During a DMA_WRITE
 * payload, device_del and quit must return within x-msg-timeout + 1 s and
 * the device must be failed with a reason; a guest read whose reply
 * dribbles returns all-ones within the same bound.
 *
 * The old client held the DMA map table's lock while a DMA_WRITE trickled
 * in and timed out per system call, so each byte restarted the clock: the
 * relay gives up after a few seconds, which the old client needed to get
 * unstuck.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "libqtest.h"
#include "edu-machine.h"

#define TIMEOUT_MS 600
#define DRIBBLE_MAX 10 /* bytes the relay dribbles before it hangs up */

typedef struct Relay {
    char *dir;
    char *path; /* where the VMM connects */
    const char *target;
    int listen_fd;
    int stop_fd;
    GThread *thread;
    gint dribble;   /* atomic: pass server bytes one at a time */
    gint fast;      /* atomic: but pass this many at once first */
    int started_fd; /* eventfd: the fast part has gone through */
} Relay;

/* Close the fds of a received control buffer (we passed copies on). */
static void relay_close_fds(void *control, size_t len)
{
    struct msghdr msg = {.msg_control = control, .msg_controllen = len};

    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        int nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

        for (int i = 0; c->cmsg_type == SCM_RIGHTS && i < nfd; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            close(fd);
        }
    }
}

/*
 * Pass one recvmsg() worth (at most @max bytes) and its fds on; the bytes
 * passed, or 0 on EOF or an error.
 */
static size_t relay_pass(int from, int to, size_t max)
{
    char buf[65536];
    union {
        char b[CMSG_SPACE(sizeof(int) * 64)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = MIN(max, sizeof(buf))};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.b,
                         .msg_controllen = sizeof(ctl.b)};
    ssize_t n = recvmsg(from, &msg, MSG_CMSG_CLOEXEC);
    size_t done = 0, clen;
    bool ok = true;

    if (n <= 0) {
        return 0;
    }
    clen = msg.msg_controllen;
    if (!clen) {
        msg.msg_control = NULL;
    }
    iov.iov_len = n;
    while (ok && done < (size_t)n) {
        ssize_t w = sendmsg(to, &msg, MSG_NOSIGNAL);

        ok = w > 0;
        done += ok ? w : 0;
        iov.iov_base = buf + done;
        iov.iov_len = n - done;
        msg.msg_control = NULL;
        msg.msg_controllen = 0;
    }
    relay_close_fds(ctl.b, clen);
    return ok ? (size_t)n : 0;
}

static gpointer relay_main(gpointer opaque)
{
    Relay *r = opaque;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct pollfd pfd[3];
    unsigned dribbled = 0;
    int cfd, sfd;

    pfd[0] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
    pfd[1] = (struct pollfd){.fd = r->stop_fd, .events = POLLIN};
    if (poll(pfd, 2, qtest_timeout_ms()) != 1 || pfd[1].revents) {
        return NULL;
    }
    cfd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(sa.sun_path, r->target, sizeof(sa.sun_path));
    g_assert_cmpint(connect(sfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    for (;;) {
        bool slow = g_atomic_int_get(&r->dribble);
        int ms = slow ? TIMEOUT_MS / 2 : -1;

        pfd[0] = (struct pollfd){.fd = cfd, .events = POLLIN};
        size_t fast = (size_t)g_atomic_int_get(&r->fast);

        pfd[1] =
            (struct pollfd){.fd = sfd, .events = slow && !fast ? 0 : POLLIN};
        pfd[2] = (struct pollfd){.fd = r->stop_fd, .events = POLLIN};
        if (poll(pfd, 3, ms) < 0 && errno != EINTR) {
            break;
        }
        if (pfd[2].revents) {
            break;
        }
        if ((pfd[0].revents & (POLLIN | POLLHUP)) &&
            !relay_pass(cfd, sfd, SIZE_MAX)) {
            break;
        }
        if (pfd[1].revents & (POLLIN | POLLHUP)) {
            size_t n = relay_pass(sfd, cfd, slow ? fast : SIZE_MAX);

            if (!n) {
                break;
            }
            if (slow) {
                uint64_t one = 1;

                /* The fast part; once it is through, the dribble began. */
                if (g_atomic_int_add(&r->fast, -(int)n) == (int)n) {
                    g_assert_cmpint(write(r->started_fd, &one, sizeof(one)), ==,
                                    sizeof(one));
                }
                continue;
            }
        }
        if (slow && !(pfd[0].revents & POLLIN)) {
            /* Half a timeout passed: one more byte, if there is one. */
            struct pollfd sp = {.fd = sfd, .events = POLLIN};

            if (poll(&sp, 1, 0) == 1 &&
                (++dribbled > DRIBBLE_MAX || !relay_pass(sfd, cfd, 1))) {
                break;
            }
        }
    }
    close(cfd);
    close(sfd);
    return NULL;
}

static Relay *relay_start(const char *target)
{
    Relay *r = g_new0(Relay, 1);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    r->dir = qtest_make_tmpdir();
    r->path = g_build_filename(r->dir, "relay.sock", NULL);
    r->target = target;
    r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(sa.sun_path, r->path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(r->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), ==,
                    0);
    g_assert_cmpint(listen(r->listen_fd, 1), ==, 0);
    r->stop_fd = eventfd(0, EFD_CLOEXEC);
    r->started_fd = eventfd(0, EFD_CLOEXEC);
    r->thread = g_thread_new("relay", relay_main, r);
    return r;
}

static void relay_free(Relay *r)
{
    uint64_t one = 1;

    g_assert_cmpint(write(r->stop_fd, &one, sizeof(one)), ==, sizeof(one));
    g_thread_join(r->thread);
    close(r->stop_fd);
    close(r->started_fd);
    close(r->listen_fd);
    unlink(r->path);
    qtest_cleanup_tmpdir(r->dir);
    g_free(r->path);
    g_free(r);
}

typedef struct Rig {
    QTestServer *srv;
    Relay *relay;
    QTestState *qts;
    uint64_t bar0;
} Rig;

static void rig_start(Rig *g)
{
    g->srv = qtest_server_start("edu", NULL);
    g->relay = relay_start(qtest_server_socket(g->srv));
    g->qts = qtest_init(
        "-m 64M -object memory-backend-ram,id=ram0,size=64M -machine memory-backend=ram0 -device vfio-user-pci,socket=%s,id=edu0,x-msg-timeout=%u",
        g->relay->path, TIMEOUT_MS);
    g->bar0 = qpci_bar_addr(g->qts, EDU_SLOT, 0, NULL);
    g_assert_cmphex(qtest_readl(g->qts, g->bar0), ==, EDU_ID);
}

static void rig_stop(Rig *g)
{
    relay_free(g->relay);
    qtest_server_free(g->srv);
}

/*
 * Start a 4 KiB device -> RAM transfer: its DMA_WRITE header goes through
 * at once, its payload is dribbled.  Returns once the header is through:
 * the doorbell is a posted write, and a device_del that reached the server
 * before its DMA began would find nothing stalled.
 */
static void rig_dribble_dma(Rig *g)
{
    struct pollfd started = {.fd = g->relay->started_fd, .events = POLLIN};

    qtest_writeq(g->qts, g->bar0 + 0x80, EDU_BUF);
    qtest_writeq(g->qts, g->bar0 + 0x88, 0x100000);
    qtest_writeq(g->qts, g->bar0 + 0x90, 4096);
    g_assert_cmphex(qtest_readl(g->qts, g->bar0), ==, EDU_ID); /* all in */
    g_atomic_int_set(&g->relay->fast, 32); /* header + address, count */
    g_atomic_int_set(&g->relay->dribble, 1);
    qtest_writel(g->qts, g->bar0 + 0x98, 0x3); /* posted: returns at once */
    g_assert_cmpint(poll(&started, 1, qtest_timeout_ms()), ==, 1);
}

static void assert_within_timeout(gint64 t0, const char *what)
{
    double s = (g_get_monotonic_time() - t0) / 1e6;

    g_test_message("%s after %.3f s", what, s);
    g_assert_cmpfloat(s, <, (TIMEOUT_MS + 1000) / 1000.0);
}

static void test_dribble_device_del(void)
{
    Rig g;
    g_autofree char *out = NULL;
    gint64 t0;

    rig_start(&g);
    rig_dribble_dma(&g);
    t0 = g_get_monotonic_time();
    out = qtest_hmp(g.qts, "device_del edu0");
    assert_within_timeout(t0, "device_del");
    g_assert_true(qtest_vmm_wait_stderr(g.qts, "stalled", 5000));
    g_assert_true(qtest_vmm_running(g.qts));
    qtest_quit(g.qts);
    rig_stop(&g);
}

static void test_dribble_quit(void)
{
    Rig g;
    gint64 t0;

    rig_start(&g);
    rig_dribble_dma(&g);
    t0 = g_get_monotonic_time();
    qtest_quit(g.qts);
    assert_within_timeout(t0, "quit");
    rig_stop(&g);
}

static void test_dribble_reply(void)
{
    g_autofree char *info = NULL;
    Rig g;
    gint64 t0;

    rig_start(&g);
    g_atomic_int_set(&g.relay->dribble, 1);
    t0 = g_get_monotonic_time();
    g_assert_cmphex(qtest_readl(g.qts, g.bar0), ==, 0xffffffff);
    assert_within_timeout(t0, "a read with a dribbled reply");
    /* The reply began late: its own deadline fails the device soon after. */
    g_assert_true(qtest_vmm_wait_stderr(g.qts, "stalled", 5000));
    assert_within_timeout(t0, "the failure of the device");
    info = qtest_hmp(g.qts, "info vfio-user");
    g_assert_nonnull(strstr(info, "state failed"));
    g_assert_nonnull(strstr(info, "stalled"));
    t0 = g_get_monotonic_time();
    qtest_quit(g.qts);
    assert_within_timeout(t0, "quit");
    rig_stop(&g);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io-stall/dma-write/device-del", test_dribble_device_del);
    g_test_add_func("/io-stall/dma-write/quit", test_dribble_quit);
    g_test_add_func("/io-stall/reply", test_dribble_reply);
    return g_test_run();
}
