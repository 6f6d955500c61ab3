/*
 * libqtest: spawned children and the one wait primitive.
 *
 * Every child's stdout and stderr are pipes read into buffers whenever the
 * library waits for anything (so a child writing a lot never blocks while
 * the test waits for it), and stderr is echoed to ours as it arrives so
 * a failing test's log shows what the VMM and server said.  Exit is seen
 * through a pidfd where the kernel has them, by polling otherwise.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "libqtest.h"
#include "libqtest-child.h"

/* Children not yet freed; every wait reads their output. */
static GPtrArray *live_children;

gint64 qtest_deadline(int ms)
{
    return g_get_monotonic_time() + (gint64)ms * 1000;
}

int qtest_timeout_ms(void)
{
    const char *env = g_getenv("QTEST_TIMEOUT_S");
    int s = env ? atoi(env) : 0;

    return (s > 0 ? s : 30) * 1000;
}

static int qtest_pidfd_open(GPid pid)
{
#ifdef SYS_pidfd_open
    return syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/*
 * In the child before exec: die with the test.  A test that fails aborts
 * without running its cleanup; its servers must not live on.
 */
static void qtest_child_setup(gpointer parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)GPOINTER_TO_INT(parent)) {
        _exit(127); /* the test died before prctl() */
    }
}

QTestChild *qtest_child_spawn(const char *name, char **argv)
{
    QTestChild *c = g_new0(QTestChild, 1);
    GError *err = NULL;
    int in_fd;

    if (!g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                  qtest_child_setup, GINT_TO_POINTER(getpid()),
                                  &c->pid, &in_fd, &c->out_fd, &c->err_fd,
                                  &err)) {
        g_error("cannot start %s (%s): %s", name, argv[0], err->message);
    }
    close(in_fd); /* the child's stdin reads EOF */
    c->name = g_strdup(name);
    c->pidfd = qtest_pidfd_open(c->pid);
    c->out = g_string_new(NULL);
    c->err = g_string_new(NULL);
    if (!live_children) {
        live_children = g_ptr_array_new();
    }
    g_ptr_array_add(live_children, c);
    if (g_getenv("QTEST_LOG")) {
        gchar *cmd = g_strjoinv(" ", argv);

        g_printerr("[%s] started: %s\n", name, cmd);
        g_free(cmd);
    }
    return c;
}

/* Read what is available on one of @c's pipes. */
static void child_read(QTestChild *c, int *fdp, GString *buf, bool echo)
{
    char tmp[65536];
    ssize_t n = read(*fdp, tmp, sizeof(tmp));

    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    if (n <= 0) {
        close(*fdp);
        *fdp = -1;
        return;
    }
    g_string_append_len(buf, tmp, n);
    if (echo) {
        g_printerr("[%s] %.*s%s", c->name, (int)n, tmp,
                   tmp[n - 1] == '\n' ? "" : "\n");
    }
}

static void child_reap(QTestChild *c)
{
    int status;

    if (c->exited) {
        return;
    }
    if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
        c->exited = true;
        c->status = status;
        if (c->pidfd >= 0) {
            close(c->pidfd);
            c->pidfd = -1;
        }
    }
}

/* Add @c's fds to @pfd; returns the new count. */
static unsigned child_add_fds(QTestChild *c, struct pollfd *pfd, unsigned n)
{
    int fds[3] = {c->out_fd, c->err_fd, c->exited ? -1 : c->pidfd};

    for (unsigned i = 0; i < 3; i++) {
        pfd[n].fd = fds[i];
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        n++;
    }
    return n;
}

bool qtest_pump(int fd, gint64 deadline)
{
    guint nc = live_children ? live_children->len : 0;
    g_autofree struct pollfd *pfd = g_new0(struct pollfd, nc * 3 + 1);
    bool echo_out = g_getenv("QTEST_LOG") != NULL;
    bool need_tick = false;
    gint64 now = g_get_monotonic_time();
    int timeout_ms, r;
    unsigned n = 0;

    for (guint i = 0; i < nc; i++) {
        QTestChild *c = g_ptr_array_index(live_children, i);

        n = child_add_fds(c, pfd, n);
        need_tick |= !c->exited && c->pidfd < 0;
    }
    pfd[n].fd = fd;
    pfd[n].events = POLLIN;
    timeout_ms = now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
    if (need_tick && timeout_ms > 20) {
        timeout_ms = 20; /* no pidfd: look at waitpid() now and then */
    }
    r = poll(pfd, n + 1, timeout_ms);
    if (r < 0 && errno != EINTR) {
        g_error("poll: %s", g_strerror(errno));
    }
    for (guint i = 0; i < nc; i++) {
        QTestChild *c = g_ptr_array_index(live_children, i);
        struct pollfd *p = &pfd[i * 3];

        if (p[0].revents) {
            child_read(c, &c->out_fd, c->out, echo_out);
        }
        if (p[1].revents) {
            child_read(c, &c->err_fd, c->err, true);
        }
        child_reap(c);
    }
    return fd >= 0 && r > 0 && pfd[n].revents;
}

bool qtest_child_wait(QTestChild *c, gint64 deadline)
{
    child_reap(c);
    while (!c->exited || c->out_fd >= 0 || c->err_fd >= 0) {
        if (g_get_monotonic_time() >= deadline) {
            return c->exited;
        }
        qtest_pump(-1, deadline);
        child_reap(c);
        if (c->exited && (c->out_fd >= 0 || c->err_fd >= 0)) {
            /* Drain what is left; a grandchild holding a pipe is cut off */
            gint64 soon = MIN(deadline, qtest_deadline(1000));

            while ((c->out_fd >= 0 || c->err_fd >= 0) &&
                   g_get_monotonic_time() < soon) {
                qtest_pump(-1, soon);
            }
            break;
        }
    }
    return true;
}

void qtest_child_kill(QTestChild *c, int sig)
{
    child_reap(c);
    if (!c->exited) {
        kill(c->pid, sig);
    }
    if (!qtest_child_wait(c, qtest_deadline(qtest_timeout_ms()))) {
        kill(c->pid, SIGKILL);
        qtest_child_wait(c, qtest_deadline(qtest_timeout_ms()));
    }
}

void qtest_child_free(QTestChild *c)
{
    if (!c) {
        return;
    }
    if (!c->exited) {
        qtest_child_kill(c, SIGKILL);
    }
    g_ptr_array_remove(live_children, c);
    if (c->out_fd >= 0) {
        close(c->out_fd);
    }
    if (c->err_fd >= 0) {
        close(c->err_fd);
    }
    if (c->pidfd >= 0) {
        close(c->pidfd);
    }
    g_spawn_close_pid(c->pid);
    g_string_free(c->out, TRUE);
    g_string_free(c->err, TRUE);
    g_free(c->name);
    g_free(c);
}

void qtest_child_assert_sane(QTestChild *c, bool clean_exit)
{
    static const char *const reports[] = {
        "runtime error:",  "AddressSanitizer", "LeakSanitizer",
        "ThreadSanitizer", "CRITICAL **",      "ERROR **",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(reports); i++) {
        if (strstr(c->err->str, reports[i])) {
            g_printerr("qtest: %s reported '%s' (see its stderr above)\n",
                       c->name, reports[i]);
            g_assert_null(strstr(c->err->str, reports[i]));
        }
    }
    if (clean_exit && c->exited &&
        (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0)) {
        g_printerr("qtest: %s exited with wait status 0x%x\n", c->name,
                   c->status);
        g_assert_true(WIFEXITED(c->status));
        g_assert_cmpint(WEXITSTATUS(c->status), ==, 0);
    }
}

void qtest_dump_children(void)
{
    for (guint i = 0; live_children && i < live_children->len; i++) {
        QTestChild *c = g_ptr_array_index(live_children, i);

        g_printerr("---- %s (pid %d%s) stdout:\n%s\n", c->name, (int)c->pid,
                   c->exited ? ", exited" : "", c->out->str);
    }
}
