/*
 * qtest of server faults on the real binaries: a server that dies or
 * stays silent during version negotiation (the VMM must refuse to start,
 * quickly or after x-msg-timeout), a server killed while a region read
 * waits for its reply, and a server killed while an edu DMA command is in
 * flight in message mode: before the server read it, in the middle of the
 * server's DMA_WRITE or of the VMM's DMA_READ reply, and racing the
 * transfer.  In every case the VMM must stay up (or exit
 * cleanly when it cannot start), report the failure, read the device as
 * all-ones and release the connection; nothing waits for the message
 * timeout when the peer is gone.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "libqtest.h"
#include "edu-machine.h"
#include "fault-rig.h"
#include "vfio-user/protocol.h"

/* Generous bounds: a loaded 2-core machine under sanitizers. */
#define FAULTS_QUICK_S 3.0

/* Start a VMM against @fs that must fail; its stderr, time, status. */
static char *faults_vmm_must_fail(FakeServer *fs, unsigned timeout_ms,
                                  double *elapsed, int *status)
{
    char *err = NULL;
    QTestState *qts;
    gint64 t0 = g_get_monotonic_time();

    qts = qtest_try_init(
        &err, status,
        "-m 64M -device vfio-user-pci,socket=%s,id=edu0,x-msg-timeout=%u",
        fs->path, timeout_ms);
    *elapsed = faults_elapsed(t0);
    g_assert_null(qts);
    g_test_message("VMM exited after %.3f s: %s", *elapsed, err);
    g_assert_true(WIFEXITED(*status));
    g_assert_cmpint(WEXITSTATUS(*status), !=, 0);
    /* the error names the device and the socket */
    g_assert_nonnull(strstr(err, "edu0"));
    g_assert_nonnull(strstr(err, fs->path));
    return err;
}

/*
 * The VMM refuses to start with exactly @want on stderr: the device once,
 * as typed, then the cause (no "vfio-user: PATH:" from inner layers).
 */
static void faults_exact_error(const char *device, const char *cause)
{
    g_autofree char *err = NULL;
    g_autofree char *want =
        g_strdup_printf("vfio-user-vmm: -device %s: %s\n", device, cause);
    int status;

    g_assert_null(qtest_try_init(&err, &status, "-m 64M -device %s", device));
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_cmpstr(err, ==, want);
}

/* A silent server: the exact timeout message, without and with id=. */
static void test_faults_message_timeout(void)
{
    static const char *const ids[] = {"", ",id=edu0"};

    for (unsigned i = 0; i < G_N_ELEMENTS(ids); i++) {
        FakeServer *fs = fake_server_start(false);
        g_autofree char *dev = g_strdup_printf(
            "vfio-user-pci,socket=%s,x-msg-timeout=200%s", fs->path, ids[i]);

        faults_exact_error(
            dev, "version negotiation failed: no VERSION reply within 200 ms");
        fake_server_join(fs);
        fake_server_free(fs);
    }
}

/* A socket nobody listens on: the exact message, without and with id=. */
static void test_faults_message_refused(void)
{
    static const char *const ids[] = {"", ",id=edu0"};
    g_autofree char *dir = qtest_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "refused.sock", NULL);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    for (unsigned i = 0; i < G_N_ELEMENTS(ids); i++) {
        g_autofree char *dev =
            g_strdup_printf("vfio-user-pci,socket=%s%s", path, ids[i]);

        faults_exact_error(
            dev, "cannot connect: nothing listening (connection refused)");
    }
    close(fd);
    unlink(path);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/*
 * The server dies after start: the VMM's message names the device as the
 * user typed it (the -device argument without id=, never the default id
 * "dev1"; "vfio-user-pci 'ID'" with id=).
 */
static void test_faults_message_runtime(void)
{
    static const char *const ids[] = {"", ",id=edu0"};

    for (unsigned i = 0; i < G_N_ELEMENTS(ids); i++) {
        QTestServer *srv = qtest_server_start("edu", NULL);
        g_autofree char *dev = g_strdup_printf(
            "vfio-user-pci,socket=%s%s", qtest_server_socket(srv), ids[i]);
        QTestState *qts = qtest_init("-m 64M -device %s", dev);
        g_autofree char *want = g_strdup_printf(
            "%s: the server failed: ", *ids[i] ? "vfio-user-pci 'edu0'" : dev);

        qtest_server_kill(srv);
        g_assert_true(qtest_vmm_wait_stderr(qts, want, qtest_timeout_ms()));
        g_assert_cmpuint(qtest_vmm_stderr_count(qts, "dev1"), ==, 0);
        qtest_quit(qts);
        qtest_server_free(srv);
    }
}

/* The server hangs up before answering VERSION: fail fast. */
static void test_faults_negotiation_dies(void)
{
    FakeServer *fs = fake_server_start(true);
    g_autofree char *err = NULL;
    double elapsed;
    int status;

    err = faults_vmm_must_fail(fs, 20000, &elapsed, &status);
    g_assert_nonnull(strstr(err, "version negotiation failed"));
    g_assert_nonnull(strstr(err, "peer closed the connection"));
    g_assert_null(strstr(err, "within"));
    g_assert_cmpfloat(elapsed, <, FAULTS_QUICK_S); /* timeout is 20 s */
    fake_server_join(fs);
    g_assert_true(fs->got_version);
    fake_server_free(fs);
}

/* The server accepts and stays silent: fail after x-msg-timeout. */
static void test_faults_negotiation_silent(void)
{
    FakeServer *fs = fake_server_start(false);
    g_autofree char *err = NULL;
    double elapsed;
    int status;

    err = faults_vmm_must_fail(fs, 300, &elapsed, &status);
    g_assert_nonnull(strstr(err, "version negotiation failed"));
    g_assert_nonnull(strstr(err, "within 300 ms"));
    g_assert_cmpfloat(elapsed, >=, 0.3);
    g_assert_cmpfloat(elapsed, <, FAULTS_QUICK_S);
    fake_server_join(fs);
    g_assert_true(fs->got_version);
    g_assert_true(fs->saw_eof); /* the connection ended with the VMM */
    fake_server_free(fs);
}

/*
 * Stop the server, send the qtest command @cmd, wait until the request
 * it causes sits unread in the stopped server's socket, then kill -9 the
 * server; returns the qtest reply and its time in *@elapsed.
 */
static char *faults_kill_during(QTestServer *srv, QTestState *qts,
                                const char *cmd, double *elapsed)
{
    GPid server = faults_server_pid();
    int conn = faults_steal_conn(server, 0);
    char *reply;
    gint64 t0;
    int queued = 0;

    faults_stop(server);
    g_assert_cmpint(ioctl(conn, FIONREAD, &queued), ==, 0);
    g_assert_cmpint(queued, ==, 0);
    t0 = g_get_monotonic_time();
    qtest_command_send(qts, "%s", cmd);
    g_assert_true(faults_wait_readable(conn));
    g_assert_cmpint(ioctl(conn, FIONREAD, &queued), ==, 0);
    g_assert_cmpint(queued, >=, (int)sizeof(VFIOUserHdr));
    close(conn);
    qtest_server_kill(srv);
    reply = qtest_command_recv(qts);
    *elapsed = faults_elapsed(t0);
    return reply;
}

/* Open fds (and sockets) of the same machine without any device. */
static unsigned faults_baseline_fds(unsigned *sockets)
{
    g_autofree char *dir = qtest_make_tmpdir();
    QTestState *qts = qtest_init(
        "-m 64M -object memory-backend-ram,id=ram0,size=64M -machine memory-backend=ram0 -pidfile %s/vmm.pid",
        dir);
    unsigned n = faults_count_fds(faults_vmm_pid(dir), sockets);

    qtest_quit(qts);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
    return n;
}

/* A machine with the edu on @srv, anonymous RAM, a pid file. */
static EduMachine *faults_machine_start(QTestServer *srv, const char *dir,
                                        const char *access, bool posted)
{
    g_autofree char *extra = g_strdup_printf(
        "x-msg-timeout=20000,x-no-posted-writes=%s -pidfile %s/vmm.pid",
        posted ? "off" : "on", dir);

    return edu_machine_start(srv, "ram", access, extra);
}

/*
 * The device is failed: at once when @now (a waiter was woken by the
 * failure, which the proxy records first), else within the deadline (a
 * posted write does not wait for the failure).  Then the reason shows in
 * `info vfio-user` and on stderr, naming the device.
 */
static void faults_assert_failed(EduMachine *m, bool now)
{
    gint64 deadline = g_get_monotonic_time() + qtest_timeout_ms() * 1000LL;
    bool state = false, reason = false;

    while (!reason) {
        g_autofree char *info = qtest_hmp(m->qts, "info vfio-user");

        state = strstr(info, "state failed") != NULL;
        /* the failure notify or the woken request, whichever came last */
        reason = state && strstr(info, ", last: ");
        if (now) {
            g_assert_true(state);
        }
        if (!reason && g_get_monotonic_time() >= deadline) {
            g_error("device not reported failed: %s", info);
        }
    }
    g_assert_true(qtest_vmm_wait_stderr(m->qts, "'edu0'", qtest_timeout_ms()));
    g_assert_true(qtest_vmm_running(m->qts));
}

/*
 * kill -9 while a REGION_READ waits for its reply (the server is stopped
 * first so the read is really outstanding): all-ones, quickly.
 */
static void test_faults_blocking_read(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = faults_machine_start(srv, dir, "auto", true);
    g_autofree char *reply = NULL;
    g_autofree char *cmd = NULL;
    double elapsed;

    edu_check_identity(m);
    qtest_writel(m->qts, m->bar0 + 0x08, 10); /* factorial */
    /* answered after the posted write: the server's queue is empty */
    g_assert_cmpuint(qtest_readl(m->qts, m->bar0 + 0x08), ==, 3628800);
    cmd = g_strdup_printf("readl 0x%" PRIx64, m->bar0 + 0x08);
    reply = faults_kill_during(srv, m->qts, cmd, &elapsed);
    g_test_message("blocked read answered after %.3f s", elapsed);
    g_assert_cmpstr(reply, ==, "OK 0x00000000ffffffff");
    g_assert_cmpfloat(elapsed, <, FAULTS_QUICK_S); /* timeout is 20 s */
    faults_assert_failed(m, true);
    g_assert_cmphex(qtest_readl(m->qts, m->bar0), ==, 0xffffffff);
    qtest_writel(m->qts, 0x3000, 0x600dcafe);
    g_assert_cmphex(qtest_readl(m->qts, 0x3000), ==, 0x600dcafe);
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

#define FAULTS_DMA_DST 0x400000
#define FAULTS_GUARD 0x100000

/* Fill the destination @dst and one guard region on either side. */
static void faults_fill_guards(QTestState *qts, uint64_t dst, uint8_t *pattern)
{
    for (size_t i = 0; i < FAULTS_GUARD; i++) {
        pattern[i] = (i * 13 + 5) & 0xff;
    }
    qtest_memwrite(qts, dst - FAULTS_GUARD, pattern, FAULTS_GUARD);
    qtest_memset(qts, dst, 0x5a, EDU_BUF_SIZE);
    qtest_memwrite(qts, dst + EDU_BUF_SIZE, pattern, FAULTS_GUARD);
}

static void faults_check_guards(QTestState *qts, uint64_t dst,
                                const uint8_t *pattern)
{
    g_autofree uint8_t *back = g_malloc(FAULTS_GUARD);

    qtest_memread(qts, dst - FAULTS_GUARD, back, FAULTS_GUARD);
    g_assert_cmpmem(back, FAULTS_GUARD, pattern, FAULTS_GUARD);
    qtest_memread(qts, dst + EDU_BUF_SIZE, back, FAULTS_GUARD);
    g_assert_cmpmem(back, FAULTS_GUARD, pattern, FAULTS_GUARD);
}

/* Program a 1 MiB transfer @src -> @dst, all but the command. */
static void faults_dma_program(QTestState *qts, uint64_t bar0, uint64_t src,
                               uint64_t dst)
{
    qtest_writeq(qts, bar0 + 0x80, src);
    qtest_writeq(qts, bar0 + 0x88, dst);
    qtest_writeq(qts, bar0 + 0x90, EDU_BUF_SIZE);
    /* answered after the posted writes: the server's queue is empty */
    g_assert_cmphex(qtest_readq(qts, bar0 + 0x88), ==, dst);
}

/*
 * kill -9 while the DMA command write is unanswered (message-mode DMA,
 * anonymous RAM), the write posted or waiting for its reply (@opaque):
 * the write completes, the device reads all-ones,
 * guest RAM outside the destination is intact, device_del works and
 * drops the dead connection's fds.
 */
static void test_faults_dma(gconstpointer opaque)
{
    bool posted = GPOINTER_TO_INT(opaque);
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = faults_machine_start(srv, dir, "message", posted);
    g_autofree uint8_t *pattern = g_malloc(FAULTS_GUARD);
    g_autofree char *reply = NULL;
    g_autofree char *out = NULL;
    GPid pid = faults_vmm_pid(dir);
    g_autofree char *cmd = NULL;
    unsigned fds_live, fds_failed, fds_del, socks_live, socks_failed, socks_del;
    unsigned fds_base, socks_base;
    double elapsed;

    edu_check_identity(m);
    edu_check_dma(m, 64 * 1024, 0x100000, 0x200000); /* DMA works */
    faults_fill_guards(m->qts, FAULTS_DMA_DST, pattern);
    faults_dma_program(m->qts, m->bar0, EDU_BUF, FAULTS_DMA_DST);
    fds_live = faults_count_fds(pid, &socks_live);

    cmd = g_strdup_printf("writel 0x%" PRIx64 " 0x3", m->bar0 + 0x98);
    reply = faults_kill_during(srv, m->qts, cmd, &elapsed);
    g_test_message("DMA command write completed after %.3f s", elapsed);
    g_assert_cmpstr(reply, ==, "OK");
    g_assert_cmpfloat(elapsed, <, FAULTS_QUICK_S); /* timeout is 20 s */
    faults_assert_failed(m, !posted);
    g_assert_cmphex(qtest_readl(m->qts, m->bar0 + 0x98), ==, 0xffffffff);
    faults_check_guards(m->qts, FAULTS_DMA_DST, pattern);
    fds_failed = faults_count_fds(pid, &socks_failed);

    out = qtest_hmp(m->qts, "device_del edu0");
    g_test_message("device_del: %s", out);
    g_assert_cmphex(qpci_config_readw(m->qts, EDU_SLOT, 0), ==, 0xffff);
    fds_del = faults_count_fds(pid, &socks_del);
    fds_base = faults_baseline_fds(&socks_base);
    g_test_message(
        "VMM fds: live %u (%u sockets), failed %u (%u), after device_del %u (%u), without the device %u (%u)",
        fds_live, socks_live, fds_failed, socks_failed, fds_del, socks_del,
        fds_base, socks_base);
    /* no fd appeared because of the failure; device_del released all */
    g_assert_cmpuint(fds_failed, <=, fds_live);
    g_assert_cmpuint(socks_del, <, socks_live);
    g_assert_cmpuint(fds_del, ==, fds_base);
    g_assert_cmpuint(socks_del, ==, socks_base);
    faults_check_guards(m->qts, FAULTS_DMA_DST, pattern);
    edu_machine_stop(m);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/*
 * Bring the transfer of a DMA command to its middle.  The command waits
 * in the stopped server's socket, the VMM is frozen, the server goes on
 * and starts its DMA.  Device -> RAM (@to_ram): its 1 MiB DMA_WRITE
 * cannot get through the frozen VMM.  RAM -> device: its DMA_READ has
 * arrived; the server is stopped again, the VMM thawed and blocked while
 * sending the 1 MiB reply.
 */
static void faults_freeze_mid_dma(QTestServer *srv, EduMachine *m, GPid vmm,
                                  bool to_ram)
{
    GPid server = faults_server_pid();
    int sconn = faults_steal_conn(server, 0);
    int vconn = faults_steal_conn(vmm, server);
    VFIOUserHdr hdr;

    faults_stop(server);
    qtest_command_send(m->qts, "writel 0x%" PRIx64 " 0x%x", m->bar0 + 0x98,
                       to_ram ? 0x3 : 0x1);
    hdr = faults_peek_hdr(sconn);
    g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_REGION_WRITE);
    faults_stop(vmm);
    qtest_server_signal(srv, SIGCONT);
    hdr = faults_peek_hdr(vconn);
    g_assert_cmpuint(hdr.cmd, ==,
                     to_ram ? VFIO_USER_DMA_WRITE : VFIO_USER_DMA_READ);
    if (!to_ram) {
        faults_stop(server);
        g_assert_cmpint(kill(vmm, SIGCONT), ==, 0);
        hdr = faults_peek_hdr(sconn);
        g_assert_cmpuint(hdr.cmd, ==, VFIO_USER_DMA_READ);
        g_assert_true(hdr.flags & VFIO_USER_F_TYPE_REPLY);
    }
    g_test_message("%s of %u bytes stuck on the way",
                   to_ram ? "DMA_WRITE request" : "DMA_READ reply", hdr.size);
    /* our copies would hold the connection open */
    close(sconn);
    close(vconn);
}

#define FAULTS_DMA_SRC 0x1000000

/* Give the device's 1 MiB buffer known contents @dev by a DMA. */
static void faults_load_device(EduMachine *m, uint8_t *dev)
{
    for (size_t i = 0; i < EDU_BUF_SIZE; i++) {
        dev[i] = (i * 7 + (i >> 9) + 3) & 0xff;
    }
    qtest_memwrite(m->qts, FAULTS_DMA_SRC, dev, EDU_BUF_SIZE);
    g_assert_true(edu_dma_try(m, FAULTS_DMA_SRC, EDU_BUF, EDU_BUF_SIZE, 0x1));
}

/*
 * The destination after a broken-off transfer: RAM -> device leaves it
 * as it was; device -> RAM may have stored a prefix of the device's data
 * (the client writes a DMA_WRITE's data as it arrives), never more.
 */
static void faults_check_partial(QTestState *qts, bool to_ram,
                                 const uint8_t *dev)
{
    g_autofree uint8_t *ram = g_malloc(EDU_BUF_SIZE);
    size_t k = 0;

    qtest_memread(qts, FAULTS_DMA_DST, ram, EDU_BUF_SIZE);
    while (to_ram && k < EDU_BUF_SIZE && ram[k] == dev[k]) {
        k++;
    }
    g_test_message("%zu of %u destination bytes written", k, EDU_BUF_SIZE);
    g_assert_cmpuint(k, <, EDU_BUF_SIZE); /* it did break off */
    for (size_t i = k; i < EDU_BUF_SIZE; i++) {
        if (ram[i] != 0x5a) {
            g_error("destination byte 0x%zx changed to 0x%02x", i, ram[i]);
        }
    }
}

/*
 * kill -9 in the middle of the server's DMA by messages (the direction
 * is @opaque, the command write waits for its reply): the VMM resumes,
 * the write completes at once, the device is failed, RAM around the
 * destination is intact (inside it: see faults_check_partial), and after
 * device_del the VMM holds the fds of a VMM that never had the device.
 */
static void test_faults_dma_mid_transfer(gconstpointer opaque)
{
    bool to_ram = GPOINTER_TO_INT(opaque);
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    EduMachine *m = faults_machine_start(srv, dir, "message", false);
    g_autofree uint8_t *pattern = g_malloc(FAULTS_GUARD);
    g_autofree uint8_t *dev = g_malloc(EDU_BUF_SIZE);
    g_autofree char *reply = NULL;
    GPid vmm = faults_vmm_pid(dir);
    unsigned fds, socks, fds_base, socks_base;
    gint64 t0;
    double elapsed;

    edu_check_identity(m);
    faults_load_device(m, dev);
    faults_fill_guards(m->qts, FAULTS_DMA_DST, pattern);
    faults_dma_program(m->qts, m->bar0, to_ram ? EDU_BUF : FAULTS_DMA_DST,
                       to_ram ? FAULTS_DMA_DST : EDU_BUF);
    faults_freeze_mid_dma(srv, m, vmm, to_ram);
    qtest_server_kill(srv);
    t0 = g_get_monotonic_time();
    g_assert_cmpint(kill(vmm, SIGCONT), ==, 0);
    reply = qtest_command_recv(m->qts);
    elapsed = faults_elapsed(t0);
    g_test_message("DMA command write completed %.3f s after the kill",
                   elapsed);
    g_assert_cmpstr(reply, ==, "OK");
    g_assert_cmpfloat(elapsed, <, FAULTS_QUICK_S); /* timeout is 20 s */
    faults_assert_failed(m, true);
    g_assert_cmphex(qtest_readl(m->qts, m->bar0 + 0x98), ==, 0xffffffff);
    faults_check_guards(m->qts, FAULTS_DMA_DST, pattern);
    faults_check_partial(m->qts, to_ram, dev);
    g_free(qtest_hmp(m->qts, "device_del edu0"));
    fds = faults_count_fds(vmm, &socks);
    edu_machine_stop(m);
    fds_base = faults_baseline_fds(&socks_base);
    g_test_message(
        "VMM fds after device_del: %u (%u sockets), without the device %u (%u)",
        fds, socks, fds_base, socks_base);
    g_assert_cmpuint(fds, ==, fds_base);
    g_assert_cmpuint(socks, ==, socks_base);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

#define FAULTS_RACERS 4

/* Racer @i's destination: 3 MiB apart, room for the guards. */
static uint64_t faults_racer_dst(int i)
{
    return FAULTS_DMA_DST + (uint64_t)i * 0x300000;
}

/* One VMM with FAULTS_RACERS message-mode edu devices, one per server. */
static QTestState *faults_racers_start(QTestServer **srv, const char *dir)
{
    g_autoptr(GString) args = g_string_new(
        "-m 64M -object memory-backend-ram,id=ram0,size=64M -machine memory-backend=ram0");

    for (int i = 0; i < FAULTS_RACERS; i++) {
        srv[i] = qtest_server_start("edu", NULL);
        g_string_append_printf(
            args,
            " -device vfio-user-pci,socket=%s,id=edu%d,dma-access=message,x-msg-timeout=20000,x-no-posted-writes=on",
            qtest_server_socket(srv[i]), i);
    }
    g_string_append_printf(args, " -pidfile %s/vmm.pid", dir);
    return qtest_init("%s", args->str);
}

/* Wait until `info vfio-user` shows @n failed devices. */
static void faults_wait_failed_count(QTestState *qts, unsigned n)
{
    gint64 deadline = g_get_monotonic_time() + qtest_timeout_ms() * 1000LL;

    for (;;) {
        g_autofree char *info = qtest_hmp(qts, "info vfio-user");
        unsigned seen = 0;

        for (const char *p = info; (p = strstr(p, "state failed")); p++) {
            seen++;
        }
        if (seen == n) {
            return;
        }
        if (g_get_monotonic_time() >= deadline) {
            g_error("%u devices failed, expected %u: %s", seen, n, info);
        }
    }
}

/* Where the kills landed: the DMA bytes each device got (information). */
static void faults_log_dma_bytes(QTestState *qts)
{
    g_autofree char *info = qtest_hmp(qts, "info vfio-user");
    const char *key = "dma bytes: message read ";
    int i = 0;

    for (const char *p = info; (p = strstr(p, key)); p++, i++) {
        uint64_t rd = 0, wr = 0;

        g_assert_cmpint(
            sscanf(p + strlen(key), "%" SCNu64 " written %" SCNu64, &rd, &wr),
            ==, 2);
        g_test_message("device %d: %" PRIu64
                       " of %u DMA bytes written to RAM before the kill",
                       i, wr, EDU_BUF_SIZE);
    }
    g_assert_cmpint(i, ==, FAULTS_RACERS);
}

/*
 * kill -9 right after the DMA command, without stopping the server
 * first, the write waiting for its reply: the kill lands before, during
 * or after the server's DMA_WRITE messages, and whatever the moment the
 * write completes, the device then
 * reads all-ones, RAM around the destination is intact, the VMM lives;
 * after device_del of all of them the VMM holds the fds of a VMM that
 * never had a device.
 */
static void test_faults_dma_racing(void)
{
    QTestServer *srv[FAULTS_RACERS];
    g_autofree char *dir = qtest_make_tmpdir();
    QTestState *qts = faults_racers_start(srv, dir);
    g_autofree uint8_t *pattern = g_malloc(FAULTS_GUARD);
    unsigned fds, socks, fds_base, socks_base;

    for (int i = 0; i < FAULTS_RACERS; i++) {
        uint64_t bar0 = qpci_bar_addr(qts, i + 1, 0, NULL);
        g_autofree char *reply = NULL;
        gint64 t0;
        double elapsed;

        g_assert_cmphex(qtest_readl(qts, bar0), ==, EDU_ID);
        faults_fill_guards(qts, faults_racer_dst(i), pattern);
        faults_dma_program(qts, bar0, EDU_BUF, faults_racer_dst(i));
        t0 = g_get_monotonic_time();
        qtest_command_send(qts, "writel 0x%" PRIx64 " 0x3", bar0 + 0x98);
        qtest_server_kill(srv[i]);
        reply = qtest_command_recv(qts);
        elapsed = faults_elapsed(t0);
        g_test_message("edu%d: DMA command write completed after %.3f s", i,
                       elapsed);
        g_assert_cmpstr(reply, ==, "OK");
        g_assert_cmpfloat(elapsed, <, FAULTS_QUICK_S); /* timeout is 20 s */
        /* the server is reaped: whatever was in flight, it is failed now */
        g_assert_cmphex(qtest_readl(qts, bar0 + 0x98), ==, 0xffffffff);
        faults_check_guards(qts, faults_racer_dst(i), pattern);
        faults_wait_failed_count(qts, i + 1);
    }
    faults_log_dma_bytes(qts);
    for (int i = 0; i < FAULTS_RACERS; i++) {
        g_free(qtest_hmp(qts, "device_del edu%d", i));
    }
    g_assert_true(qtest_vmm_running(qts));
    fds = faults_count_fds(faults_vmm_pid(dir), &socks);
    qtest_quit(qts);
    fds_base = faults_baseline_fds(&socks_base);
    g_test_message(
        "VMM fds after device_del: %u (%u sockets), without devices %u (%u)",
        fds, socks, fds_base, socks_base);
    g_assert_cmpuint(fds, ==, fds_base);
    g_assert_cmpuint(socks, ==, socks_base);
    for (int i = 0; i < FAULTS_RACERS; i++) {
        qtest_server_free(srv[i]);
    }
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/faults/negotiation/server-dies",
                    test_faults_negotiation_dies);
    g_test_add_func("/faults/negotiation/server-silent",
                    test_faults_negotiation_silent);
    g_test_add_func("/faults/message/negotiation-timeout",
                    test_faults_message_timeout);
    g_test_add_func("/faults/message/connection-refused",
                    test_faults_message_refused);
    g_test_add_func("/faults/message/runtime", test_faults_message_runtime);
    g_test_add_func("/faults/blocking-read", test_faults_blocking_read);
    g_test_add_data_func("/faults/dma/posted", GINT_TO_POINTER(true),
                         test_faults_dma);
    g_test_add_data_func("/faults/dma/waited", GINT_TO_POINTER(false),
                         test_faults_dma);
    g_test_add_data_func("/faults/dma/mid-transfer/to-ram",
                         GINT_TO_POINTER(true), test_faults_dma_mid_transfer);
    g_test_add_data_func("/faults/dma/mid-transfer/from-ram",
                         GINT_TO_POINTER(false), test_faults_dma_mid_transfer);
    g_test_add_func("/faults/dma/racing", test_faults_dma_racing);
    return g_test_run();
}
