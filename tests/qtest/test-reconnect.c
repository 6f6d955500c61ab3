/*
 * qtest of vfio-user-pci,reconnect-ms=N on the real binaries: the sample
 * server is killed with SIGKILL (idle, in the middle of a DMA by messages,
 * while a region read waits for its reply) and started again on the same
 * socket; the device must work again within reconnect-ms + 1 s, with DMA
 * verified in every access mode, the interrupts re-armed, and the VMM
 * holding as many fds and mappings as before.  Also: 100 kill/restart
 * cycles, a restart as a different device (gives up, names the
 * difference), as a server that predates access modes (falls back), as a
 * peer that refuses negotiation (keeps retrying, shows the error), and
 * reconnect-ms=0 (stays failed, as before).  Every wait polls the monitor
 * or a socket with a deadline.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include "libqtest.h"
#include "libqtest-child.h"
#include "edu-machine.h"
#include "fault-rig.h"
#include "vfio-user/protocol.h"

#define RC_MS 50
#define RC_SRC 0x100000
#define RC_DST 0x800000

typedef struct RcCase {
    const char *backend; /* edu_machine_start() backends */
    const char *access;
    const char *mode; /* the mode info must show */
} RcCase;

static const RcCase rc_cases[] = {
    {"memfd", "auto", "mmap"},
    {"memfd", "file-io", "file-io"},
    {"ram", "auto", "message"},
};

/* `info vfio-user` once it contains @needle (deadline: the qtest one). */
static char *rc_wait_info(QTestState *qts, const char *needle)
{
    gint64 deadline = qtest_deadline(qtest_timeout_ms());

    for (;;) {
        char *info = qtest_hmp(qts, "info vfio-user");

        if (strstr(info, needle)) {
            return info;
        }
        if (g_get_monotonic_time() >= deadline) {
            g_error("'%s' never showed in info vfio-user:\n%s", needle, info);
        }
        g_free(info);
    }
}

/* `info vfio-user` once the retry count reached @min. */
static char *rc_wait_retries(QTestState *qts, unsigned min)
{
    gint64 deadline = qtest_deadline(qtest_timeout_ms());

    for (;;) {
        char *info = rc_wait_info(qts, ", retries ");
        unsigned n = 0;

        g_assert_cmpint(sscanf(strstr(info, ", retries "), ", retries %u", &n),
                        ==, 1);
        if (n >= min) {
            return info;
        }
        if (g_get_monotonic_time() >= deadline) {
            g_error("retries stayed at %u:\n%s", n, info);
        }
        g_free(info);
    }
}

static void rc_wait_reconnects(QTestState *qts, unsigned n)
{
    g_autofree char *needle = g_strdup_printf("reconnects %u,", n);

    g_free(rc_wait_info(qts, needle));
    g_free(rc_wait_info(qts, "state connected"));
}

static EduMachine *rc_start(QTestServer *srv, const RcCase *c, const char *dir,
                            unsigned ms)
{
    g_autofree char *extra =
        g_strdup_printf("reconnect-ms=%u -pidfile %s/vmm.pid", ms, dir);

    return edu_machine_start(srv, c->backend, c->access, extra);
}

/*
 * File-backed mappings of @pid (BARs mmapped from the server's memfd,
 * guest RAM, libraries) plus its threads: what a leaked connection would
 * leave.  Anonymous mappings are left out: the allocator (ASan's too)
 * grows and keeps them on its own.
 */
static unsigned rc_count_maps(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/maps", (int)pid);
    g_autofree char *task = g_strdup_printf("/proc/%d/task", (int)pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GDir *d = g_dir_open(task, 0, NULL);
    unsigned n = 0;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        char name[256] = "";

        /* gconv: loaded once, by the first log line glib converts */
        if (sscanf(lines[i], "%*s %*s %*s %*s %*s %255s", name) == 1 &&
            name[0] != '[' && !strstr(name, "/gconv/")) {
            n++;
        }
    }
    g_assert_nonnull(d);
    while (g_dir_read_name(d)) {
        n++;
    }
    g_dir_close(d);
    return n;
}

/* DMA both ways, the map's mode, and an MSI. */
static void rc_check_device(EduMachine *m, const RcCase *c)
{
    g_autofree char *line = edu_info_map_line(m->qts, "ram0");
    uint64_t addr = 0;
    uint32_t data = 0;

    edu_check_identity(m);
    edu_assert_map_mode(line, c->mode, false);
    edu_check_dma(m, 64 * 1024, RC_SRC, RC_DST);
    /* MSI stays enabled across the restart: the new eventfd must work */
    qtest_writel(m->qts, m->bar0 + 0x60, 0x4);
    g_assert_true(qtest_wait_msi(m->qts, &addr, &data, qtest_timeout_ms()));
    g_assert_cmphex(data, ==, 0x4b);
    qtest_writel(m->qts, m->bar0 + 0x64, 0x4);
}

/* The server is gone: the device answers all-ones at once. */
static void rc_check_disconnected(EduMachine *m)
{
    gint64 t0 = g_get_monotonic_time();

    g_free(rc_wait_info(m->qts, "state reconnecting"));
    g_assert_cmphex(qtest_readl(m->qts, m->bar0), ==, 0xffffffff);
    qtest_writel(m->qts, m->bar0 + 0x04, 1);
    g_assert_cmphex(qpci_config_readw(m->qts, EDU_SLOT, PCI_VENDOR_ID), ==,
                    0xffff);
    g_test_message("info and 3 accesses while disconnected: %.3f s",
                   faults_elapsed(t0));
    g_assert_cmpfloat(faults_elapsed(t0), <, 1.0);
}

/* Restart, wait for the reconnect, check the deadline and the device. */
static void rc_restart_and_check(QTestServer *srv, EduMachine *m,
                                 const RcCase *c, unsigned n)
{
    gint64 t0;
    double s;

    qtest_server_restart(srv, "edu", "-v");
    t0 = g_get_monotonic_time();
    rc_wait_reconnects(m->qts, n);
    s = faults_elapsed(t0);
    g_test_message("reconnected %.3f s after the restart", s);
    g_assert_cmpfloat(s, <, RC_MS / 1000.0 + 1.0);
    rc_check_device(m, c);
}

static void rc_counts(const char *dir, unsigned *fds, unsigned *socks,
                      unsigned *maps)
{
    GPid vmm = faults_vmm_pid(dir);

    *fds = faults_count_fds(vmm, socks);
    *maps = rc_count_maps(vmm);
}

/* kill -9 while idle, restart, for each access mode; nothing leaked. */
static void test_rc_idle(gconstpointer opaque)
{
    const RcCase *c = opaque;
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = rc_start(srv, c, dir, RC_MS);
    unsigned fds0, socks0, maps0, fds1, socks1, maps1;
    g_autofree char *info = NULL;

    qpci_msi_enable(m->qts, EDU_SLOT, EDU_MSI_ADDR, 0x4b);
    rc_check_device(m, c);
    /* a first cycle: the C library keeps what its first one allocates */
    qtest_server_restart(srv, "edu", NULL);
    rc_wait_reconnects(m->qts, 1);
    rc_counts(dir, &fds0, &socks0, &maps0);
    qtest_server_kill(srv);
    rc_check_disconnected(m);
    info = rc_wait_info(m->qts, "dma maps: none while disconnected");
    rc_restart_and_check(srv, m, c, 2);
    g_assert_true(qtest_vmm_wait_stderr(
        m->qts, "vfio-user-pci 'edu0': reconnected after ",
        qtest_timeout_ms()));
    rc_counts(dir, &fds1, &socks1, &maps1);
    g_test_message("fds %u/%u sockets %u/%u maps %u/%u", fds0, fds1, socks0,
                   socks1, maps0, maps1);
    g_assert_cmpuint(fds1, ==, fds0);
    g_assert_cmpuint(socks1, ==, socks0);
    g_assert_cmpuint(maps1, ==, maps0);
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/*
 * kill -9 while the server is inside a DMA by messages: the command is
 * in, the VMM is frozen, the server resumes and sends its DMA_READ (RAM
 * to device), and dies there.
 */
static void test_rc_mid_dma(void)
{
    const RcCase *c = &rc_cases[2];
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    g_autofree char *extra = g_strdup_printf(
        "reconnect-ms=%u,x-no-posted-writes=on -pidfile %s/vmm.pid", RC_MS,
        dir);
    EduMachine *m = edu_machine_start(srv, c->backend, c->access, extra);
    GPid vmm = faults_vmm_pid(dir), server = faults_server_pid();
    int sconn = faults_steal_conn(server, 0);
    int vconn = faults_steal_conn(vmm, server);
    g_autofree char *reply = NULL;
    VFIOUserHdr hdr;

    qpci_msi_enable(m->qts, EDU_SLOT, EDU_MSI_ADDR, 0x4b);
    qtest_writeq(m->qts, m->bar0 + 0x80, RC_SRC);
    qtest_writeq(m->qts, m->bar0 + 0x88, EDU_BUF);
    qtest_writeq(m->qts, m->bar0 + 0x90, 1024 * 1024);
    faults_stop(server);
    qtest_command_send(m->qts, "writel 0x%" PRIx64 " 0x1", m->bar0 + 0x98);
    hdr = faults_peek_hdr(sconn);
    g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_REGION_WRITE);
    faults_stop(vmm);
    qtest_server_signal(srv, SIGCONT);
    hdr = faults_peek_hdr(vconn);
    g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_DMA_READ);
    close(sconn);
    close(vconn);
    qtest_server_kill(srv);
    g_assert_cmpint(kill(vmm, SIGCONT), ==, 0);
    reply = qtest_command_recv(m->qts);
    g_assert_cmpstr(reply, ==, "OK");
    rc_check_disconnected(m);
    rc_restart_and_check(srv, m, c, 1);
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/* kill -9 while a REGION_READ waits for its reply: all-ones, then back. */
static void test_rc_mid_region_access(void)
{
    const RcCase *c = &rc_cases[0];
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = rc_start(srv, c, dir, RC_MS);
    GPid server = faults_server_pid();
    int sconn = faults_steal_conn(server, 0);
    g_autofree char *reply = NULL;
    VFIOUserHdr hdr;

    qpci_msi_enable(m->qts, EDU_SLOT, EDU_MSI_ADDR, 0x4b);
    faults_stop(server);
    qtest_command_send(m->qts, "readl 0x%" PRIx64, m->bar0 + 0x08);
    hdr = faults_peek_hdr(sconn);
    g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_REGION_READ);
    close(sconn);
    qtest_server_kill(srv);
    reply = qtest_command_recv(m->qts);
    g_assert_cmpstr(reply, ==, "OK 0x00000000ffffffff");
    rc_check_disconnected(m);
    rc_restart_and_check(srv, m, c, 1);
    /* the client reset the device it found again */
    g_assert_true(qtest_server_wait_output(srv, "device reset: done",
                                           qtest_timeout_ms()));
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

#define RC_CYCLES 100

/* 100 kill/restart cycles at reconnect-ms=5: no fd or mapping leaked. */
static void test_rc_cycles(void)
{
    const RcCase *c = &rc_cases[2];
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = rc_start(srv, c, dir, 5);
    unsigned fds0, socks0, maps0, fds1, socks1, maps1;
    gint64 t0 = g_get_monotonic_time();

    qpci_msi_enable(m->qts, EDU_SLOT, EDU_MSI_ADDR, 0x4b);
    /* one cycle first: the C library keeps what a first one allocates */
    qtest_server_restart(srv, "edu", NULL);
    rc_wait_reconnects(m->qts, 1);
    rc_counts(dir, &fds0, &socks0, &maps0);
    for (unsigned i = 2; i <= RC_CYCLES + 1; i++) {
        qtest_server_restart(srv, "edu", NULL);
        rc_wait_reconnects(m->qts, i);
        edu_check_identity(m);
    }
    rc_counts(dir, &fds1, &socks1, &maps1);
    g_test_message("%u cycles in %.3f s; fds %u/%u maps %u/%u", RC_CYCLES + 1,
                   faults_elapsed(t0), fds0, fds1, maps0, maps1);
    rc_check_device(m, c);
    g_assert_cmpuint(fds1, ==, fds0);
    g_assert_cmpuint(socks1, ==, socks0);
    g_assert_cmpuint(maps1, ==, maps0);
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/* A ram server where the edu was: gives up and says what differs. */
static void test_rc_different_device(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = rc_start(srv, &rc_cases[0], dir, RC_MS);
    g_autofree char *info = NULL;

    qtest_server_restart(srv, "ram", NULL);
    info = rc_wait_info(m->qts, "state gave-up");
    g_assert_nonnull(strstr(
        info, "a different device answered: vendor id 0x4e58, was 0x1234"));
    g_assert_true(qtest_vmm_wait_stderr(
        m->qts,
        "vfio-user-pci 'edu0': gave up reconnecting: a different device answered",
        qtest_timeout_ms()));
    g_assert_cmphex(qtest_readl(m->qts, m->bar0), ==, 0xffffffff);
    g_assert_true(qtest_vmm_running(m->qts));
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/* Restarted as a server that predates access modes: the legacy maps. */
static void test_rc_legacy_server(gconstpointer opaque)
{
    const RcCase *c = opaque;
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = rc_start(srv, c, dir, RC_MS);
    g_autofree char *info = NULL;
    RcCase legacy = *c;

    qpci_msi_enable(m->qts, EDU_SLOT, EDU_MSI_ADDR, 0x4b);
    qtest_server_restart(srv, "edu", "--legacy-dma-map");
    rc_wait_reconnects(m->qts, 1);
    info = qtest_hmp(m->qts, "info vfio-user");
    /*
     * memfd: the mode bit is refused, the fd alone means mmap to such a
     * server; ram: no bit is sent, messages need no fallback.
     */
    legacy.mode = !strcmp(c->backend, "ram") ? "message" : "mmap";
    g_assert_cmpint(!!strstr(info, "server predates access modes: fallback"),
                    ==, strcmp(c->backend, "ram") != 0);
    rc_check_device(m, &legacy);
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/*
 * A peer on the socket, until stopped: answers VERSION with EINVAL, or
 * (@hangup) accepts it and DMA_MAP, and hangs up at the next request
 * (DEVICE_GET_INFO), while the client waits for the reply.
 */
typedef struct Refuser {
    bool hangup;
    int lfd;
    int stop[2];
    unsigned refused;
    GThread *thread;
} Refuser;

static bool refuser_recv_hdr(int fd, VFIOUserHdr *hdr)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, qtest_timeout_ms()) == 1 &&
           recv(fd, hdr, sizeof(*hdr), MSG_WAITALL) == sizeof(*hdr);
}

static void refuser_answer(int fd, bool hangup)
{
    struct VFIO_USER_PACKED {
        VFIOUserHdr hdr;
        VFIOUserVersion v;
    } reply = {0};
    size_t len = sizeof(reply.hdr);
    uint8_t payload[4096];

    if (!refuser_recv_hdr(fd, &reply.hdr)) {
        return;
    }
    if (reply.hdr.size < len || reply.hdr.size - len > sizeof(payload) ||
        recv(fd, payload, reply.hdr.size - len, MSG_WAITALL) !=
            (ssize_t)(reply.hdr.size - len)) {
        return;
    }
    reply.hdr.flags = VFIO_USER_F_TYPE_REPLY;
    if (hangup) {
        reply.v.minor = 1; /* 0.1, no capabilities: the defaults */
        len += sizeof(reply.v);
    } else {
        reply.hdr.flags |= VFIO_USER_F_ERROR;
        reply.hdr.error = EINVAL;
    }
    reply.hdr.size = len;
    g_assert_cmpint(send(fd, &reply, len, MSG_NOSIGNAL), ==, len);
    /* then DMA_MAP is fine, and the connection ends at the next request */
    while (hangup && refuser_recv_hdr(fd, &reply.hdr) &&
           reply.hdr.cmd == VFIO_USER_DMA_MAP &&
           reply.hdr.size >= sizeof(reply.hdr) &&
           reply.hdr.size - sizeof(reply.hdr) <= sizeof(payload) &&
           recv(fd, payload, reply.hdr.size - sizeof(reply.hdr), MSG_WAITALL) ==
               (ssize_t)(reply.hdr.size - sizeof(reply.hdr))) {
        reply.hdr.flags = VFIO_USER_F_TYPE_REPLY;
        reply.hdr.size = sizeof(reply.hdr);
        g_assert_cmpint(send(fd, &reply.hdr, sizeof(reply.hdr), MSG_NOSIGNAL),
                        ==, sizeof(reply.hdr));
    }
}

static gpointer refuser_thread(gpointer opaque)
{
    Refuser *r = opaque;
    struct pollfd p[2] = {{.fd = r->lfd, .events = POLLIN},
                          {.fd = r->stop[0], .events = POLLIN}};

    while (poll(p, 2, qtest_timeout_ms()) > 0 && !p[1].revents) {
        int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd >= 0) {
            refuser_answer(fd, r->hangup);
            close(fd);
            __atomic_add_fetch(&r->refused, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static Refuser *refuser_start(const char *path, bool hangup)
{
    Refuser *r = g_new0(Refuser, 1);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    r->hangup = hangup;
    unlink(path);
    r->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(r->lfd, >=, 0);
    g_assert_cmpint(bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(r->lfd, 4), ==, 0);
    g_assert_cmpint(pipe(r->stop), ==, 0);
    r->thread = g_thread_new("refuser", refuser_thread, r);
    return r;
}

static void refuser_stop(Refuser *r, const char *path)
{
    g_assert_cmpint(write(r->stop[1], "x", 1), ==, 1);
    g_thread_join(r->thread);
    close(r->lfd);
    close(r->stop[0]);
    close(r->stop[1]);
    unlink(path);
    g_free(r);
}

/* A peer that refuses negotiation: retried, reported, then the real one. */
static void test_rc_refused(void)
{
    const RcCase *c = &rc_cases[0];
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = rc_start(srv, c, dir, RC_MS);
    g_autofree char *info = NULL;
    Refuser *r;

    qpci_msi_enable(m->qts, EDU_SLOT, EDU_MSI_ADDR, 0x4b);
    qtest_server_kill(srv);
    r = refuser_start(qtest_server_socket(srv), false);
    info = rc_wait_retries(m->qts, 2);
    g_test_message("%s", info);
    g_assert_nonnull(strstr(info, "state reconnecting"));
    g_assert_nonnull(strstr(info, "reconnect last error:"));
    g_assert_nonnull(strstr(info, "Invalid argument"));
    g_assert_cmphex(qtest_readl(m->qts, m->bar0), ==, 0xffffffff);
    refuser_stop(r, qtest_server_socket(srv));
    rc_restart_and_check(srv, m, c, 1);
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/*
 * A peer that accepts VERSION and hangs up at the first request: each
 * attempt fails after connecting, and is counted, not logged.
 */
static void test_rc_hangup(void)
{
    const RcCase *c = &rc_cases[0];
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = rc_start(srv, c, dir, 5);
    g_autofree char *info = NULL;
    Refuser *r;

    qpci_msi_enable(m->qts, EDU_SLOT, EDU_MSI_ADDR, 0x4b);
    qtest_server_kill(srv);
    r = refuser_start(qtest_server_socket(srv), true);
    info = rc_wait_retries(m->qts, 5);
    g_test_message("%s", info);
    g_assert_nonnull(strstr(info, "state reconnecting"));
    g_assert_nonnull(strstr(info, "reconnect last error:"));
    refuser_stop(r, qtest_server_socket(srv));
    rc_restart_and_check(srv, m, c, 1);
    /* one line for the outage, one for the start of the retries */
    g_assert_cmpuint(qtest_vmm_stderr_count(m->qts, "failed:"), ==, 1);
    g_assert_cmpuint(
        qtest_vmm_stderr_count(
            m->qts, "vfio-user-pci 'edu0': reconnecting every 5 ms\n"),
        ==, 1);
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/* reconnect-ms=0: the device stays failed and never connects again. */
static void test_rc_off(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = rc_start(srv, &rc_cases[0], dir, 0);
    g_autofree char *info = NULL;
    unsigned socks = 0;

    qtest_server_kill(srv);
    g_free(rc_wait_info(m->qts, "state failed"));
    qtest_server_restart(srv, "edu", NULL);
    /* the old code's machinery: a failed device keeps its maps listed */
    info = qtest_hmp(m->qts, "info vfio-user");
    g_assert_nonnull(strstr(info, "reconnect: off"));
    g_assert_nonnull(strstr(info, "state failed"));
    g_assert_null(strstr(info, "while disconnected"));
    g_assert_cmphex(qtest_readl(m->qts, m->bar0), ==, 0xffffffff);
    /* the new server has its listening socket and no client */
    faults_count_fds(faults_server_pid(), &socks);
    g_assert_cmpuint(socks, ==, 1);
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/* device_del while reconnecting: the retry timer goes with the device. */
static void test_rc_device_del(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = rc_start(srv, &rc_cases[0], dir, 1);
    g_autofree char *info = NULL;
    g_autofree char *pci = NULL;

    qtest_server_kill(srv);
    g_free(rc_wait_retries(m->qts, 3));
    g_free(qtest_hmp(m->qts, "device_del edu0"));
    qtest_server_restart(srv, "edu", NULL);
    info = qtest_hmp(m->qts, "info vfio-user");
    g_assert_null(strstr(info, "edu0"));
    pci = qtest_hmp(m->qts, "info pci");
    g_assert_null(strstr(pci, "edu0"));
    g_assert_true(qtest_vmm_running(m->qts));
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/*
 * The ram device restarted with --mem-file keeps BAR0's bytes (mmapped
 * area and message-only hole); its registers come back reset.  Without
 * the file the memory starts from zeros: the option is what matters.
 */
static void test_rc_ram_mem_file(gconstpointer opaque)
{
    bool persist = GPOINTER_TO_INT(opaque);
    g_autofree char *dir = qtest_make_tmpdir();
    g_autofree char *extra =
        persist ? g_strdup_printf("--mem-file %s/bar0", dir) : NULL;
    QTestServer *srv = qtest_server_start("ram", extra);
    QTestState *qts;
    uint64_t bar0, bar2, size;
    unsigned fds0, socks0, maps0, fds1, socks1, maps1;

    qts = qtest_init(
        "-m 32M -object memory-backend-memfd,id=ram0,size=32M -machine memory-backend=ram0 -device vfio-user-pci,socket=%s,id=ramdev,reconnect-ms=%u -pidfile %s/vmm.pid",
        qtest_server_socket(srv), RC_MS, dir);
    bar0 = qpci_bar_addr(qts, 1, 0, &size);
    bar2 = qpci_bar_addr(qts, 1, 2, &size);
    qtest_writel(qts, bar0 + 0x100, 0x600dcafe);   /* mmapped */
    qtest_writel(qts, bar0 + 0x80010, 0xfeedf00d); /* the hole */
    qtest_writel(qts, bar2 + 0x04, 0x1234);        /* scratch */
    g_assert_cmphex(qtest_readl(qts, bar2 + 0x04), ==, 0x1234);
    rc_counts(dir, &fds0, &socks0, &maps0);
    qtest_server_restart(srv, "ram", extra);
    rc_wait_reconnects(qts, 1);
    /* BAR0 is mmapped from the server's fd: the old mapping is gone */
    rc_counts(dir, &fds1, &socks1, &maps1);
    g_test_message("fds %u/%u maps %u/%u", fds0, fds1, maps0, maps1);
    g_assert_cmpuint(fds1, ==, fds0);
    g_assert_cmpuint(maps1, ==, maps0);
    g_assert_cmphex(qtest_readl(qts, bar0 + 0x100), ==,
                    persist ? 0x600dcafe : 0);
    g_assert_cmphex(qtest_readl(qts, bar0 + 0x80010), ==,
                    persist ? 0xfeedf00d : 0);
    g_assert_cmphex(qtest_readl(qts, bar2 + 0x04), ==, 0);
    g_assert_cmphex(qtest_readl(qts, bar2), ==, 0x4e580001);
    qtest_quit(qts);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(rc_cases); i++) {
        g_autofree char *idle =
            g_strdup_printf("/reconnect/idle/%s", rc_cases[i].mode);

        g_test_add_data_func(idle, &rc_cases[i], test_rc_idle);
    }
    g_test_add_func("/reconnect/mid-dma/message", test_rc_mid_dma);
    g_test_add_func("/reconnect/mid-region-access", test_rc_mid_region_access);
    g_test_add_func("/reconnect/cycles", test_rc_cycles);
    g_test_add_func("/reconnect/different-device", test_rc_different_device);
    g_test_add_data_func("/reconnect/legacy-server/mmap", &rc_cases[0],
                         test_rc_legacy_server);
    g_test_add_data_func("/reconnect/legacy-server/message", &rc_cases[2],
                         test_rc_legacy_server);
    g_test_add_func("/reconnect/refused", test_rc_refused);
    g_test_add_func("/reconnect/hangup", test_rc_hangup);
    g_test_add_func("/reconnect/off", test_rc_off);
    g_test_add_func("/reconnect/device-del", test_rc_device_del);
    g_test_add_data_func("/reconnect/ram/mem-file", GINT_TO_POINTER(true),
                         test_rc_ram_mem_file);
    g_test_add_data_func("/reconnect/ram/no-mem-file", GINT_TO_POINTER(false),
                         test_rc_ram_mem_file);
    return g_test_run();
}
