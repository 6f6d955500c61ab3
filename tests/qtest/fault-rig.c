/*
 * Qtest support for fault tests: a fake vfio-user server in the test
 * process, and looking into the VMM and server processes (pid, open fds,
 * a copy of a process's connected socket, stopping it for certain).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "libqtest.h"
#include "fault-rig.h"

double faults_elapsed(gint64 t0)
{
    return (g_get_monotonic_time() - t0) / 1e6;
}

/* Wait up to the qtest deadline for @fd to be readable. */
bool faults_wait_readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r;

    do {
        r = poll(&pfd, 1, qtest_timeout_ms());
    } while (r < 0 && errno == EINTR);
    return r == 1;
}

static bool fake_server_read_version(int fd)
{
    VFIOUserHdr hdr;
    ssize_t n;

    if (!faults_wait_readable(fd)) {
        return false;
    }
    n = recv(fd, &hdr, sizeof(hdr), MSG_WAITALL);
    if (n != sizeof(hdr) || hdr.cmd != VFIO_USER_VERSION ||
        (hdr.flags & VFIO_USER_F_TYPE_REPLY) || hdr.size < sizeof(hdr) ||
        hdr.size > 65536) {
        return false;
    }
    /* the JSON too: a close with unread data would be a reset */
    {
        g_autofree char *body = g_malloc(hdr.size - sizeof(hdr) + 1);
        size_t want = hdr.size - sizeof(hdr);

        return recv(fd, body, want, MSG_WAITALL) == (ssize_t)want;
    }
}

static gpointer fake_server_thread(gpointer opaque)
{
    FakeServer *fs = opaque;
    char buf[4096];
    int fd;

    if (!faults_wait_readable(fs->lfd)) {
        return NULL;
    }
    fd = accept4(fs->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    fs->got_version = fake_server_read_version(fd);
    while (!fs->die && faults_wait_readable(fd)) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);

        if (n == 0) {
            fs->saw_eof = true;
            break;
        }
        if (n < 0 && errno != EINTR) {
            break;
        }
    }
    close(fd);
    return NULL;
}

FakeServer *fake_server_start(bool die)
{
    FakeServer *fs = g_new0(FakeServer, 1);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    fs->die = die;
    fs->dir = qtest_make_tmpdir();
    fs->path = g_strdup_printf("%s/fake.sock", fs->dir);
    g_assert_cmpuint(strlen(fs->path), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, fs->path);
    fs->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fs->lfd, >=, 0);
    g_assert_cmpint(bind(fs->lfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fs->lfd, 1), ==, 0);
    fs->thread = g_thread_new("fake-server", fake_server_thread, fs);
    return fs;
}

/* Wait for the thread (its waits have deadlines). */
void fake_server_join(FakeServer *fs)
{
    g_thread_join(g_steal_pointer(&fs->thread));
}

void fake_server_free(FakeServer *fs)
{
    close(fs->lfd);
    g_free(fs->path);
    qtest_cleanup_tmpdir(fs->dir);
    g_free(fs);
}

/* The VMM's process id, from the pid file it wrote under @dir. */
GPid faults_vmm_pid(const char *dir)
{
    g_autofree char *path = g_strdup_printf("%s/vmm.pid", dir);
    g_autofree char *text = NULL;
    GError *err = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        g_error("pid file: %s", err->message);
    }
    return (GPid)g_ascii_strtoll(text, NULL, 10);
}

/* Number of open fds of @pid, and how many of them are sockets. */
unsigned faults_count_fds(GPid pid, unsigned *sockets)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)pid);
    GDir *d = g_dir_open(path, 0, NULL);
    const char *name;
    unsigned n = 0;

    g_assert_nonnull(d);
    *sockets = 0;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *link = g_strdup_printf("%s/%s", path, name);
        g_autofree char *target = g_file_read_link(link, NULL);

        n++;
        if (target && g_str_has_prefix(target, "socket:")) {
            (*sockets)++;
        }
    }
    g_dir_close(d);
    return n;
}

/* The process id of our only running sample server. */
GPid faults_server_pid(void)
{
    g_autofree char *want = realpath(g_getenv("VFU_SERVER"), NULL);
    GDir *d = g_dir_open("/proc", 0, NULL);
    const char *name;
    GPid found = 0;

    g_assert_nonnull(want);
    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *exe = g_strdup_printf("/proc/%s/exe", name);
        g_autofree char *target = g_file_read_link(exe, NULL);
        g_autofree char *stat = g_strdup_printf("/proc/%s/stat", name);
        g_autofree char *text = NULL;
        const char *p;

        if (!target || strcmp(target, want) != 0 ||
            !g_file_get_contents(stat, &text, NULL, NULL) ||
            !(p = strrchr(text, ')'))) {
            continue;
        }
        /* ") S PPID ..." */
        if (g_ascii_strtoll(p + 4, NULL, 10) == getpid()) {
            g_assert_cmpint(found, ==, 0);
            found = (GPid)g_ascii_strtoll(name, NULL, 10);
        }
    }
    g_dir_close(d);
    g_assert_cmpint(found, >, 0);
    return found;
}

/*
 * SIGSTOP our child @pid and wait until it is stopped: kill() returns
 * before the target stops, and a message could slip through meanwhile.
 */
void faults_stop(GPid pid)
{
    siginfo_t info = {0};
    int r;

    g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
    do {
        r = waitid(P_PID, pid, &info, WSTOPPED | WEXITED | WNOWAIT);
    } while (r < 0 && errno == EINTR);
    g_assert_cmpint(r, ==, 0);
    g_assert_cmpint(info.si_code, ==, CLD_STOPPED);
}

/* Is @fd a connected socket whose peer is @peer (any peer if 0)? */
static bool faults_is_conn_to(int fd, GPid peer)
{
    struct ucred cred;
    int listening = 1;
    socklen_t len = sizeof(listening);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) ||
        listening) {
        return false; /* not a socket, or a listening one */
    }
    len = sizeof(cred);
    return !peer || (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) &&
                     cred.pid == peer);
}

/*
 * A duplicate (pidfd_getfd) of @owner's connected socket to @peer (or to
 * anyone when 0), so that the test can see messages arrive while the
 * owner is stopped.
 */
int faults_steal_conn(GPid owner, GPid peer)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)owner);
    GDir *d = g_dir_open(path, 0, NULL);
    int pidfd = syscall(SYS_pidfd_open, owner, 0);
    const char *name;
    int conn = -1;

    g_assert_nonnull(d);
    g_assert_cmpint(pidfd, >=, 0);
    while (conn < 0 && (name = g_dir_read_name(d))) {
        int target = (int)g_ascii_strtoll(name, NULL, 10);
        int fd = syscall(SYS_pidfd_getfd, pidfd, target, 0);

        if (fd < 0) {
            g_assert_cmpint(errno, ==, EBADF); /* closed meanwhile */
        } else if (faults_is_conn_to(fd, peer)) {
            conn = fd;
        } else {
            close(fd);
        }
    }
    g_dir_close(d);
    close(pidfd);
    g_assert_cmpint(conn, >=, 0);
    return conn;
}

/* The first message header waiting in @fd, left in place. */
VFIOUserHdr faults_peek_hdr(int fd)
{
    VFIOUserHdr hdr;

    g_assert_true(faults_wait_readable(fd));
    g_assert_cmpint(recv(fd, &hdr, sizeof(hdr), MSG_PEEK | MSG_DONTWAIT), ==,
                    sizeof(hdr));
    return hdr;
}
