/*
 * qtest of hostile peers on the real binaries (issue "hostile peers,
 * round 2"): a peer that shrinks a file the other side has mapped, an
 * idle or second client, and what the server's VERSION reply offers.
 *
 * The test plays the hostile side by taking a copy of the fd the peer
 * really holds (pidfd_getfd) and truncating it, as that peer could.  Each
 * case checks that the victim process survives, says why the access
 * failed, and holds no more fds than before.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include "libqtest.h"
#include "system/machine.h"
#include "edu-machine.h"
#include "fault-rig.h"
#include "vfio-user/protocol.h"

#define HOSTILE_QUICK_S 3.0
#define RAM_SLOT 1

/* A copy (pidfd_getfd) of @pid's first fd whose link starts with @prefix. */
static int hostile_grab_fd(GPid pid, const char *prefix)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)pid);
    GDir *d = g_dir_open(path, 0, NULL);
    int pidfd = syscall(SYS_pidfd_open, pid, 0);
    const char *name;
    int fd = -1;

    g_assert_nonnull(d);
    g_assert_cmpint(pidfd, >=, 0);
    while (fd < 0 && (name = g_dir_read_name(d))) {
        g_autofree char *link = g_strdup_printf("%s/%s", path, name);
        g_autofree char *target = g_file_read_link(link, NULL);

        if (target && g_str_has_prefix(target, prefix)) {
            fd = syscall(SYS_pidfd_getfd, pidfd,
                         (int)g_ascii_strtoll(name, NULL, 10), 0);
        }
    }
    g_dir_close(d);
    close(pidfd);
    if (fd < 0) {
        g_error("no fd '%s*' in process %d", prefix, (int)pid);
    }
    return fd;
}

/* faults_count_fds(), and the fds listed in the test log. */
static unsigned hostile_fds(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)pid);
    g_autoptr(GString) all = g_string_new(NULL);
    GDir *d = g_dir_open(path, 0, NULL);
    const char *name;
    unsigned n = 0;

    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *link = g_strdup_printf("%s/%s", path, name);
        g_autofree char *target = g_file_read_link(link, NULL);

        g_string_append_printf(all, " %s:%s", name, target ? target : "?");
        n++;
    }
    g_dir_close(d);
    g_test_message("process %d has %u fds:%s", (int)pid, n, all->str);
    return n;
}

/* Does any fd or mapping of @pid name @what (e.g. "memfd:ram0")? */
static bool hostile_holds(GPid pid, const char *what)
{
    g_autofree char *maps_path = g_strdup_printf("/proc/%d/maps", (int)pid);
    g_autofree char *fd_path = g_strdup_printf("/proc/%d/fd", (int)pid);
    g_autofree char *maps = NULL;
    GDir *d = g_dir_open(fd_path, 0, NULL);
    const char *name;
    bool found;

    g_assert_true(g_file_get_contents(maps_path, &maps, NULL, NULL));
    found = strstr(maps, what) != NULL;
    g_assert_nonnull(d);
    while (!found && (name = g_dir_read_name(d))) {
        g_autofree char *link = g_strdup_printf("%s/%s", fd_path, name);
        g_autofree char *target = g_file_read_link(link, NULL);

        found = target && strstr(target, what);
    }
    g_dir_close(d);
    return found;
}

/* Sockets among @pid's fds (the listening one, and clients'). */
static unsigned hostile_sockets(GPid pid)
{
    unsigned socks;

    hostile_fds(pid);
    faults_count_fds(pid, &socks);
    return socks;
}

static bool hostile_alive(GPid pid)
{
    return kill(pid, 0) == 0;
}

static int hostile_connect(QTestServer *srv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sa.sun_path, qtest_server_socket(srv), sizeof(sa.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

/* Wait for the server to close @fd (EOF); seconds it took. */
static double hostile_wait_eof(int fd)
{
    gint64 t0 = g_get_monotonic_time();
    char c;

    g_assert_true(faults_wait_readable(fd));
    g_assert_cmpint(recv(fd, &c, 1, MSG_DONTWAIT), ==, 0);
    return faults_elapsed(t0);
}

/*
 * The idle server's sockets, once it has dropped one client (a request before
 * VERSION): by then every thread of its start-up has opened what it keeps.
 * The server closes a client's socket last, so at its EOF all is released.
 */
static unsigned hostile_idle_fds(QTestServer *srv)
{
    VFIOUserHdr hdr = {.cmd = VFIO_USER_DEVICE_RESET, .size = sizeof(hdr)};
    int fd = hostile_connect(srv);

    g_assert_cmpint(send(fd, &hdr, sizeof(hdr), MSG_NOSIGNAL), ==, sizeof(hdr));
    g_assert_true(faults_wait_readable(fd));
    /* the error reply, then EOF */
    g_assert_cmpint(recv(fd, &hdr, sizeof(hdr), MSG_WAITALL), ==, sizeof(hdr));
    hostile_wait_eof(fd);
    close(fd);
    return hostile_sockets(qtest_server_pid(srv));
}

/* ---- 1: guest RAM shrunk by the server ---- */

static QTestState *hostile_vmm_memfd(QTestServer *srv, const char *dir,
                                     const char *seal, const char *access)
{
    return qtest_init(
        "-m 64M -object memory-backend-memfd,id=ram0,size=64M%s -machine memory-backend=ram0 -pidfile %s/vmm.pid -device vfio-user-pci,socket=%s,id=edu0,dma-access=%s",
        seal, dir, qtest_server_socket(srv), access);
}

/* seal=on (default): the server's copy of guest RAM cannot be resized. */
static void test_hostile_ram_sealed(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    /* file-io: the server keeps the fd it was sent */
    QTestState *qts = hostile_vmm_memfd(srv, dir, "", "file-io");
    int fd = hostile_grab_fd(qtest_server_pid(srv), "/memfd:ram0");

    qtest_writel(qts, 0x1000, 0x5ea1ed);
    g_assert_cmpint(ftruncate(fd, 0), ==, -1);
    g_assert_cmpint(errno, ==, EPERM);
    g_assert_cmpint(ftruncate(fd, 128 << 20), ==, -1);
    g_assert_cmpint(errno, ==, EPERM);
    close(fd);
    g_assert_cmphex(qtest_readl(qts, 0x1000), ==, 0x5ea1ed);
    qtest_quit(qts);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/*
 * The server truncates guest RAM it holds an fd of (@file: a shared
 * memory-backend-file, else a memfd with seal=off); the VMM must live on.
 */
static void test_hostile_ram_truncated(gconstpointer opaque)
{
    bool file = GPOINTER_TO_INT(opaque);
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    g_autofree char *prefix =
        file ? g_strdup_printf("%s/guest-ram", dir) : g_strdup("/memfd:ram0");
    QTestState *qts;
    GPid vmm;
    int fd;
    unsigned fds_before, fds_after, socks;

    /* file-io: the server keeps the fd it was sent */
    if (file) {
        qts = qtest_init(
            "-m 64M -object memory-backend-file,id=ram0,size=64M,mem-path=%s,share=on -machine memory-backend=ram0 -pidfile %s/vmm.pid -device vfio-user-pci,socket=%s,id=edu0,dma-access=file-io",
            prefix, dir, qtest_server_socket(srv));
    } else {
        qts = hostile_vmm_memfd(srv, dir, ",seal=off", "file-io");
    }
    vmm = faults_vmm_pid(dir);
    fd = hostile_grab_fd(qtest_server_pid(srv), prefix);
    qtest_writel(qts, 0x1000, 0x12345678);
    fds_before = faults_count_fds(vmm, &socks);
    g_assert_cmpint(ftruncate(fd, 0), ==, 0);
    close(fd);
    g_assert_cmphex(qtest_readl(qts, 0x1000), ==, 0xffffffff);
    qtest_writel(qts, 0x2000, 1); /* dropped, not fatal */
    g_assert_cmphex(qtest_readb(qts, 0x2000), ==, 0xff);
    g_assert_true(qtest_vmm_wait_stderr(
        qts, "guest RAM 'ram0' at 0x1000 is gone", qtest_timeout_ms()));
    g_assert_true(qtest_vmm_running(qts));
    fds_after = faults_count_fds(vmm, &socks);
    g_assert_cmpuint(fds_after, ==, fds_before);
    qtest_quit(qts);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/* ---- 2: a mmapped BAR shrunk by the server ---- */

/* The server library seals its BAR memfds: the client cannot shrink one. */
static void test_hostile_bar_sealed(void)
{
    QTestServer *srv = qtest_server_start("ram", NULL);
    g_autofree char *dir = qtest_make_tmpdir();
    QTestState *qts = hostile_vmm_memfd(srv, dir, "", "auto");
    uint64_t bar0 = qpci_bar_addr(qts, RAM_SLOT, 0, NULL);
    int fd = hostile_grab_fd(faults_vmm_pid(dir), "/memfd:vfu-region-0");

    qtest_writel(qts, bar0 + 0x80000, 0x600d); /* the hole: a message */
    g_assert_cmpint(ftruncate(fd, 0), ==, -1);
    g_assert_cmpint(errno, ==, EPERM);
    close(fd);
    /* the server still serves the hole from that memory */
    g_assert_cmphex(qtest_readl(qts, bar0 + 0x80000), ==, 0x600d);
    g_assert_true(hostile_alive(qtest_server_pid(srv)));
    qtest_quit(qts);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/* A server that does not seal its BAR memfd shrinks it under the VMM. */
static void test_hostile_bar_truncated(void)
{
    QTestServer *srv = qtest_server_start("ram", "--unsealed-regions");
    g_autofree char *dir = qtest_make_tmpdir();
    QTestState *qts = hostile_vmm_memfd(srv, dir, "", "auto");
    GPid vmm = faults_vmm_pid(dir);
    uint64_t bar0 = qpci_bar_addr(qts, RAM_SLOT, 0, NULL);
    unsigned fds_before, fds_after, socks;
    g_autofree char *info = NULL;
    int fd;

    qtest_writel(qts, bar0 + 0x100, 0xabcdef01);
    g_assert_cmphex(qtest_readl(qts, bar0 + 0x100), ==, 0xabcdef01);
    fds_before = faults_count_fds(vmm, &socks);
    fd = hostile_grab_fd(qtest_server_pid(srv), "/memfd:vfu-region-0");
    g_assert_cmpint(ftruncate(fd, 0), ==, 0);
    close(fd);
    /* the mmapped load faults: the device fails, not the VMM */
    g_assert_cmphex(qtest_readl(qts, bar0 + 0x100), ==, 0xffffffff);
    qtest_writel(qts, bar0 + 0x200, 1);
    g_assert_cmphex(qtest_readl(qts, bar0 + 0x200), ==, 0xffffffff);
    g_assert_true(qtest_vmm_wait_stderr(
        qts,
        ": vfio-user-pci 'edu0': device failed: region 0: mmapped read at 0x100 faulted (SIGBUS)",
        qtest_timeout_ms()));
    g_assert_true(qtest_vmm_running(qts));
    info = qtest_hmp(qts, "info vfio-user");
    g_test_message("%s", info);
    g_assert_nonnull(strstr(info, "state failed"));
    fds_after = faults_count_fds(vmm, &socks);
    g_assert_cmpuint(fds_after, <=, fds_before);
    qtest_quit(qts);
    qtest_server_kill(srv); /* its own memory is gone too */
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/* ---- 3: a DMA memfd shrunk by the client ---- */

static void test_hostile_dma_truncated(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    GPid spid = qtest_server_pid(srv);
    g_autofree char *dir = qtest_make_tmpdir();
    unsigned fds_idle = hostile_idle_fds(srv);
    QTestState *qts = hostile_vmm_memfd(srv, dir, ",seal=off", "mmap");
    EduMachine m2 = {0};
    uint64_t bar0 = qpci_bar_addr(qts, EDU_SLOT, 0, NULL);
    g_autofree char *info = NULL;
    int fd;

    /* a transfer works while the file is whole */
    qtest_writeq(qts, bar0 + 0x80, 0x100000);
    qtest_writeq(qts, bar0 + 0x88, EDU_BUF);
    qtest_writeq(qts, bar0 + 0x90, 4096);
    qtest_writel(qts, bar0 + 0x98, 0x1);
    g_assert_cmphex(qtest_readl(qts, bar0 + 0x98), ==, 0);

    g_assert_true(hostile_holds(spid, "memfd:ram0")); /* mapped */
    fd = hostile_grab_fd(faults_vmm_pid(dir), "/memfd:ram0");
    g_assert_cmpint(ftruncate(fd, 0), ==, 0);
    close(fd);
    /* RAM -> device: the server's copy out of the mapping faults */
    qtest_writel(qts, bar0 + 0x98, 0x1);
    g_assert_true(
        qtest_server_wait_stderr(srv, "faulted (SIGBUS)", qtest_timeout_ms()));
    g_assert_true(qtest_server_wait_stderr(srv, "dropping the client",
                                           qtest_timeout_ms()));
    g_assert_true(qtest_vmm_wait_stderr(qts, "'edu0'", qtest_timeout_ms()));
    g_assert_cmphex(qtest_readl(qts, bar0), ==, 0xffffffff);
    info = qtest_hmp(qts, "info vfio-user");
    g_assert_nonnull(strstr(info, "state failed"));
    g_assert_true(hostile_alive(spid));
    /* the dropped client's socket, fds and mappings are gone */
    g_assert_cmpuint(hostile_sockets(spid), ==, fds_idle);
    g_assert_false(hostile_holds(spid, "memfd:ram0"));
    qtest_quit(qts);

    /* and the next client is served */
    m2.qts = hostile_vmm_memfd(srv, dir, "", "mmap");
    m2.bar0 = qpci_bar_addr(m2.qts, EDU_SLOT, 0, NULL);
    edu_check_identity(&m2);
    edu_check_dma(&m2, 64 * 1024, 0x100000, 0x200000);
    qtest_quit(m2.qts);
    qtest_server_free(srv);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
}

/* ---- 4: idle and second clients ---- */

/* Send VERSION with @json as capabilities; the reply header and payload. */
static char *hostile_version(int fd, const char *json, VFIOUserHdr *reply)
{
    size_t jlen = strlen(json) + 1;
    size_t len = sizeof(VFIOUserHdr) + sizeof(VFIOUserVersion) + jlen;
    g_autofree uint8_t *msg = g_malloc0(len);
    VFIOUserHdr hdr = {
        .id = 0, .cmd = VFIO_USER_VERSION, .size = (uint32_t)len};
    VFIOUserVersion v = {.major = 0, .minor = 1};
    char *payload;

    memcpy(msg, &hdr, sizeof(hdr));
    memcpy(msg + sizeof(hdr), &v, sizeof(v));
    memcpy(msg + sizeof(hdr) + sizeof(v), json, jlen);
    g_assert_cmpint(send(fd, msg, len, MSG_NOSIGNAL), ==, (ssize_t)len);
    g_assert_true(faults_wait_readable(fd));
    g_assert_cmpint(recv(fd, reply, sizeof(*reply), MSG_WAITALL), ==,
                    sizeof(*reply));
    g_assert_cmpuint(reply->size, >=, sizeof(*reply));
    g_assert_cmpuint(reply->size, <, 65536);
    payload = g_malloc0(reply->size - sizeof(*reply) + 1);
    if (reply->size > sizeof(*reply)) {
        g_assert_cmpint(
            recv(fd, payload, reply->size - sizeof(*reply), MSG_WAITALL), ==,
            (ssize_t)(reply->size - sizeof(*reply)));
    }
    return payload;
}

/* A client that connects and says nothing is dropped at the deadline. */
static void test_hostile_idle_client(void)
{
    QTestServer *srv = qtest_server_start("edu", "--negotiation-timeout 300");
    GPid spid = qtest_server_pid(srv);
    unsigned fds_idle = hostile_idle_fds(srv);
    EduMachine *m;
    int fd = hostile_connect(srv);
    double t = hostile_wait_eof(fd);

    g_test_message("idle client dropped after %.3f s", t);
    g_assert_cmpfloat(t, >=, 0.25);
    g_assert_cmpfloat(t, <, HOSTILE_QUICK_S);
    close(fd);
    g_assert_cmpuint(hostile_sockets(spid), ==, fds_idle);
    /* the next client is served */
    m = edu_machine_start(srv, "memfd", "auto", NULL);
    edu_check_identity(m);
    edu_machine_stop(m);
    qtest_server_free(srv);
}

#define HOSTILE_CAPS "{\"capabilities\":{\"max_msg_fds\":8}}"

/*
 * While one client is served, another gets an immediate EBUSY reply to
 * VERSION, and a second VMM reports why it cannot start.
 */
static void test_hostile_busy(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    GPid spid = qtest_server_pid(srv);
    EduMachine *m = edu_machine_start(srv, "memfd", "auto", NULL);
    unsigned fds_served = hostile_sockets(spid);
    g_autofree char *err = NULL;
    g_autofree char *payload = NULL;
    VFIOUserHdr reply;
    gint64 t0;
    double elapsed;
    int status, fd;
    QTestState *qts;

    fd = hostile_connect(srv);
    payload = hostile_version(fd, HOSTILE_CAPS, &reply);
    g_assert_cmpuint(reply.cmd, ==, VFIO_USER_VERSION);
    g_assert_true(reply.flags & VFIO_USER_F_ERROR);
    g_assert_cmpuint(reply.error, ==, EBUSY);
    hostile_wait_eof(fd);
    close(fd);
    g_assert_cmpuint(hostile_sockets(spid), ==, fds_served);

    t0 = g_get_monotonic_time();
    qts = qtest_try_init(
        &err, &status,
        "-m 64M -device vfio-user-pci,socket=%s,id=edu1,x-msg-timeout=20000",
        qtest_server_socket(srv));
    elapsed = faults_elapsed(t0);
    g_assert_null(qts);
    g_test_message("second VMM exited after %.3f s: %s", elapsed, err);
    g_assert_nonnull(strstr(err, "device busy: another client is connected"));
    g_assert_cmpfloat(elapsed, <, HOSTILE_QUICK_S); /* timeout is 20 s */
    /* the first client was not disturbed */
    edu_check_identity(m);
    edu_check_dma(m, 4096, 0x100000, 0x200000);
    edu_machine_stop(m);
    g_assert_true(hostile_alive(spid));
    qtest_server_free(srv);
}

/* ---- 9: the VERSION reply offers only what was proposed ---- */

static void test_hostile_version_subset(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    VFIOUserHdr reply;
    int fd;

    for (int i = 0; i < 2; i++) {
        g_autofree char *payload = NULL;
        const char *json;

        fd = hostile_connect(srv);
        payload = hostile_version(
            fd,
            i ? "{\"capabilities\":{\"max_msg_fds\":8,\"write_multiple\":true}}"
              : HOSTILE_CAPS,
            &reply);
        g_assert_false(reply.flags & VFIO_USER_F_ERROR);
        g_assert_cmpuint(reply.size, >, sizeof(reply) + 4);
        json = payload + sizeof(VFIOUserVersion);
        g_test_message("proposed write_multiple: %s; reply: %s",
                       i ? "yes" : "no", json);
        g_assert_true(strstr(json, "\"max_msg_fds\"") != NULL);
        g_assert_cmpint(strstr(json, "write_multiple") != NULL, ==, i);
        close(fd);
    }
    qtest_server_free(srv);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hostile/ram/sealed", test_hostile_ram_sealed);
    g_test_add_data_func("/hostile/ram/truncated/memfd", GINT_TO_POINTER(0),
                         test_hostile_ram_truncated);
    g_test_add_data_func("/hostile/ram/truncated/file", GINT_TO_POINTER(1),
                         test_hostile_ram_truncated);
    g_test_add_func("/hostile/bar/sealed", test_hostile_bar_sealed);
    g_test_add_func("/hostile/bar/truncated", test_hostile_bar_truncated);
    g_test_add_func("/hostile/dma/truncated", test_hostile_dma_truncated);
    g_test_add_func("/hostile/client/idle", test_hostile_idle_client);
    g_test_add_func("/hostile/client/busy", test_hostile_busy);
    g_test_add_func("/hostile/version/subset", test_hostile_version_subset);
    return g_test_run();
}
