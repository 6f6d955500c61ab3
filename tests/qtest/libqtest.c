/*
 * libqtest: start vfio-user-server and vfio-user-vmm, speak qtest and the
 * monitor to the VMM.  See libqtest.h for the model.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "libqtest.h"
#include "libqtest-child.h"

#define QTEST_MAX_IRQ 256

struct QTestServer {
    QTestChild *child;
    bool killed; /* by the test: no clean exit expected */
    char *dir;
    char *socket;
};

/* One running VMM.  Single-threaded test code only. */
struct QTestState {
    QTestChild *vmm;
    char *dir;
    int qfd;       /* qtest connection */
    int mfd;       /* monitor connection */
    GString *qbuf; /* received, not yet consumed qtest bytes */
    GString *mbuf; /* same for the monitor */
    bool irq_level[QTEST_MAX_IRQ];
    unsigned irq_raised[QTEST_MAX_IRQ];
};

/* ---- scratch directories ---- */

char *qtest_make_tmpdir(void)
{
    GError *err = NULL;
    char *dir = g_dir_make_tmp("vfu-qtest-XXXXXX", &err);

    if (!dir) {
        g_error("cannot create a temporary directory: %s", err->message);
    }
    return dir;
}

void qtest_cleanup_tmpdir(char *dir)
{
    GDir *d;
    const char *name;

    if (!dir) {
        return;
    }
    d = g_dir_open(dir, 0, NULL);
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);

        g_unlink(path);
    }
    if (d) {
        g_dir_close(d);
    }
    g_rmdir(dir);
    g_free(dir);
}

static const char *qtest_binary(const char *env)
{
    const char *path = g_getenv(env);

    if (!path || !*path) {
        g_error("%s is not set: run the test through meson", env);
    }
    return path;
}

/* ---- the sample server ---- */

/* Spawn the server on srv->socket and wait for its ready line. */
static void qtest_server_spawn(QTestServer *srv, const char *device,
                               const char *extra)
{
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv = NULL;
    GError *err = NULL;
    gint64 deadline = qtest_deadline(qtest_timeout_ms());

    cmd = g_strdup_printf("'%s' --device %s --socket '%s' %s",
                          qtest_binary("VFU_SERVER"), device, srv->socket,
                          extra ? extra : "");
    if (!g_shell_parse_argv(cmd, NULL, &argv, &err)) {
        g_error("bad server arguments '%s': %s", cmd, err->message);
    }
    srv->child = qtest_child_spawn("server", argv);
    while (!strstr(srv->child->out->str, "listening on")) {
        if (srv->child->exited || g_get_monotonic_time() >= deadline) {
            qtest_dump_children();
            g_error("vfio-user-server %s before it was ready",
                    srv->child->exited ? "exited" : "timed out");
        }
        qtest_pump(-1, deadline);
    }
}

QTestServer *qtest_server_start(const char *device, const char *extra)
{
    static unsigned counter;
    QTestServer *srv = g_new0(QTestServer, 1);

    srv->dir = qtest_make_tmpdir();
    srv->socket = g_strdup_printf("%s/%s-%u.sock", srv->dir, device, counter++);
    qtest_server_spawn(srv, device, extra);
    return srv;
}

void qtest_server_restart(QTestServer *srv, const char *device,
                          const char *extra)
{
    if (!srv->child->exited) {
        srv->killed = true;
        qtest_child_kill(srv->child, SIGKILL);
    }
    qtest_child_assert_sane(srv->child, !srv->killed);
    qtest_child_free(srv->child);
    srv->killed = false;
    qtest_server_spawn(srv, device, extra);
}

const char *qtest_server_socket(QTestServer *srv)
{
    return srv->socket;
}

int qtest_server_pid(QTestServer *srv)
{
    return (int)srv->child->pid;
}

bool qtest_server_wait_stderr(QTestServer *srv, const char *needle,
                              int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);

    while (!strstr(srv->child->err->str, needle)) {
        if (srv->child->exited || g_get_monotonic_time() >= deadline) {
            g_printerr("qtest: no '%s' from the server\n", needle);
            return false;
        }
        qtest_pump(-1, deadline);
    }
    return true;
}

void qtest_server_signal(QTestServer *srv, int sig)
{
    g_assert_false(srv->child->exited);
    g_assert_cmpint(kill(srv->child->pid, sig), ==, 0);
}

void qtest_server_kill(QTestServer *srv)
{
    srv->killed = true;
    qtest_child_kill(srv->child, SIGKILL);
}

bool qtest_server_wait_output(QTestServer *srv, const char *needle,
                              int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);

    while (!strstr(srv->child->out->str, needle) &&
           !strstr(srv->child->err->str, needle)) {
        if (srv->child->exited || g_get_monotonic_time() >= deadline) {
            g_printerr("qtest: no '%s' from the server\n", needle);
            return false;
        }
        qtest_pump(-1, deadline);
    }
    return true;
}

bool qtest_server_wait_exit(QTestServer *srv, int timeout_ms, int *status)
{
    if (!qtest_child_wait(srv->child, qtest_deadline(timeout_ms))) {
        return false;
    }
    *status = srv->child->status;
    return true;
}

void qtest_server_free(QTestServer *srv)
{
    if (!srv) {
        return;
    }
    if (!srv->child->exited) {
        qtest_child_kill(srv->child, SIGTERM);
    }
    qtest_child_assert_sane(srv->child, !srv->killed);
    qtest_child_free(srv->child);
    qtest_cleanup_tmpdir(srv->dir);
    g_free(srv->socket);
    g_free(srv);
}

/* ---- sockets ---- */

static int qtest_listen(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(addr.sun_path));
    strcpy(addr.sun_path, path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(fd, 1) < 0) {
        g_error("cannot listen on %s: %s", path, g_strerror(errno));
    }
    return fd;
}

static void qtest_fail(QTestState *s, const char *what)
{
    qtest_dump_children();
    g_error("qtest: %s (VMM %s)", what,
            s->vmm->exited ? "exited" : "still running");
}

/* Read more bytes from @fd into @buf until @deadline; false on EOF. */
static bool qtest_fill(int fd, GString *buf, gint64 deadline, bool *timeout)
{
    char tmp[65536];
    ssize_t n;

    *timeout = false;
    if (!qtest_pump(fd, deadline)) {
        *timeout = g_get_monotonic_time() >= deadline;
        return true;
    }
    n = read(fd, tmp, sizeof(tmp));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    if (n <= 0) {
        return false;
    }
    g_string_append_len(buf, tmp, n);
    return true;
}

/*
 * Send all of @buf without ever blocking: while the socket is full, keep
 * reading what the VMM sends back (into @in) and the children's output.
 */
static void qtest_send_all(QTestState *s, int fd, GString *in, const char *buf,
                           size_t len)
{
    gint64 deadline = qtest_deadline(qtest_timeout_ms());

    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT};
        char tmp[65536];

        if (n > 0) {
            buf += n;
            len -= n;
            continue;
        }
        if (n < 0 && errno != EINTR && errno != EAGAIN) {
            qtest_fail(s, "cannot send to the VMM");
        }
        if (g_get_monotonic_time() >= deadline) {
            qtest_fail(s, "timed out sending to the VMM");
        }
        qtest_pump(-1, 0);
        if (poll(&pfd, 1, 50) > 0 && (pfd.revents & POLLIN)) {
            n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
            if (n == 0) {
                qtest_fail(s, "the VMM closed the connection");
            }
            if (n > 0) {
                g_string_append_len(in, tmp, n);
            }
        }
    }
}

/* ---- starting and stopping the VMM ---- */

static char **qtest_vmm_argv(QTestState *s, const char *args)
{
    g_autofree char *cmd = NULL;
    GError *err = NULL;
    char **argv;

    cmd = g_strdup_printf(
        "'%s' %s -qtest unix:%s/qtest.sock -monitor unix:%s/monitor.sock",
        qtest_binary("VFU_VMM"), args, s->dir, s->dir);
    if (!g_shell_parse_argv(cmd, NULL, &argv, &err)) {
        g_error("bad VMM arguments '%s': %s", cmd, err->message);
    }
    return argv;
}

/* Accept the VMM's two connections; false if it exited first. */
static bool qtest_accept_both(QTestState *s, int lq, int lm)
{
    gint64 deadline = qtest_deadline(qtest_timeout_ms());

    /* A connection waits in the backlog, so the order does not matter. */
    while (s->qfd < 0 || s->mfd < 0) {
        int lfd = s->qfd < 0 ? lq : lm;

        if (s->vmm->exited) {
            return false;
        }
        if (g_get_monotonic_time() >= deadline) {
            qtest_fail(s, "timed out waiting for the VMM to connect");
        }
        if (qtest_pump(lfd, deadline)) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

            g_assert_cmpint(fd, >=, 0);
            *(lfd == lq ? &s->qfd : &s->mfd) = fd;
        }
    }
    return true;
}

static char *qtest_mon_read_reply(QTestState *s);
static void qtest_stop(QTestState *s, bool check);

static QTestState *qtest_vinit(char **errout, int *status, const char *fmt,
                               va_list ap)
{
    QTestState *s = g_new0(QTestState, 1);
    g_autofree char *args = g_strdup_vprintf(fmt, ap);
    g_autofree char *qpath = NULL;
    g_autofree char *mpath = NULL;
    g_auto(GStrv) argv = NULL;
    int lq, lm;
    bool ok;

    s->dir = qtest_make_tmpdir();
    s->qfd = s->mfd = -1;
    s->qbuf = g_string_new(NULL);
    s->mbuf = g_string_new(NULL);
    qpath = g_strdup_printf("%s/qtest.sock", s->dir);
    mpath = g_strdup_printf("%s/monitor.sock", s->dir);
    lq = qtest_listen(qpath);
    lm = qtest_listen(mpath);
    argv = qtest_vmm_argv(s, args);
    s->vmm = qtest_child_spawn("vmm", argv);
    ok = qtest_accept_both(s, lq, lm);
    close(lq);
    close(lm);
    if (!ok) {
        if (!errout) {
            qtest_fail(s, "the VMM exited during start-up");
        }
        qtest_child_wait(s->vmm, qtest_deadline(qtest_timeout_ms()));
        *errout = g_strdup(s->vmm->err->str);
        *status = s->vmm->status;
        qtest_child_assert_sane(s->vmm, false);
        qtest_stop(s, false);
        return NULL;
    }
    g_free(qtest_mon_read_reply(s)); /* banner and first prompt */
    g_free(qtest_command(s, "irq_intercept_in ioapic"));
    return s;
}

QTestState *qtest_init(const char *fmt, ...)
{
    QTestState *s;
    va_list ap;

    va_start(ap, fmt);
    s = qtest_vinit(NULL, NULL, fmt, ap);
    va_end(ap);
    return s;
}

QTestState *qtest_try_init(char **errout, int *status, const char *fmt, ...)
{
    QTestState *s;
    va_list ap;

    va_start(ap, fmt);
    s = qtest_vinit(errout, status, fmt, ap);
    va_end(ap);
    return s;
}

/* Stop the VMM (if still running) and free everything. */
static void qtest_stop(QTestState *s, bool check)
{
    gint64 deadline = qtest_deadline(qtest_timeout_ms());
    bool quit_ok = true;

    if (!s->vmm->exited && s->mfd >= 0) {
        send(s->mfd, "quit\n", 5, MSG_NOSIGNAL);
    }
    if (!qtest_child_wait(s->vmm, deadline)) {
        qtest_dump_children();
        g_printerr("qtest: the VMM did not quit, killing it\n");
        qtest_child_kill(s->vmm, SIGKILL);
        quit_ok = false;
    }
    if (check) {
        g_assert_true(quit_ok);
        qtest_child_assert_sane(s->vmm, true);
    }
    if (s->qfd >= 0) {
        close(s->qfd);
    }
    if (s->mfd >= 0) {
        close(s->mfd);
    }
    qtest_child_free(s->vmm);
    qtest_cleanup_tmpdir(s->dir);
    g_string_free(s->qbuf, TRUE);
    g_string_free(s->mbuf, TRUE);
    g_free(s);
}

void qtest_quit(QTestState *s)
{
    qtest_stop(s, true);
}

bool qtest_vmm_wait_stderr(QTestState *s, const char *needle, int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);

    while (!strstr(s->vmm->err->str, needle)) {
        if (g_get_monotonic_time() >= deadline) {
            g_printerr("qtest: no '%s' from the VMM\n", needle);
            return false;
        }
        qtest_pump(-1, deadline);
    }
    return true;
}

unsigned qtest_vmm_stderr_count(QTestState *s, const char *needle)
{
    unsigned n = 0;

    qtest_pump(-1, 0);
    for (const char *p = s->vmm->err->str; (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

bool qtest_vmm_running(QTestState *s)
{
    qtest_pump(-1, 0);
    return !s->vmm->exited;
}

/* ---- qtest lines ---- */

/* Record an asynchronous line; false if @line is not one. */
static bool qtest_async_line(QTestState *s, const char *line)
{
    unsigned irq;

    if (sscanf(line, "IRQ raise %u", &irq) == 1 && irq < QTEST_MAX_IRQ) {
        s->irq_level[irq] = true;
        s->irq_raised[irq]++;
        return true;
    }
    if (sscanf(line, "IRQ lower %u", &irq) == 1 && irq < QTEST_MAX_IRQ) {
        s->irq_level[irq] = false;
        return true;
    }
    return false;
}

/*
 * Next reply line, recording asynchronous lines on the way.  With
 * @timeout_ms < 0 only asynchronous lines are expected: returns "" once
 * some were recorded, NULL when none came within -@timeout_ms.
 */
static char *qtest_recv_line(QTestState *s, int timeout_ms)
{
    gint64 deadline = qtest_deadline(ABS(timeout_ms));
    bool got_async = false;

    for (;;) {
        char *nl = memchr(s->qbuf->str, '\n', s->qbuf->len);
        bool timeout;

        if (nl) {
            char *line = g_strndup(s->qbuf->str, nl - s->qbuf->str);

            g_string_erase(s->qbuf, 0, nl - s->qbuf->str + 1);
            if (qtest_async_line(s, line)) {
                g_free(line);
                got_async = true;
                continue;
            }
            if (timeout_ms < 0) {
                g_printerr("qtest: unexpected line '%s'\n", line);
                qtest_fail(s, "unexpected reply");
            }
            return line;
        }
        if (got_async && timeout_ms < 0) {
            return g_strdup("");
        }
        if (!qtest_fill(s->qfd, s->qbuf, deadline, &timeout)) {
            qtest_fail(s, "the VMM closed the qtest connection");
        }
        if (timeout) {
            if (timeout_ms < 0) {
                return NULL;
            }
            qtest_fail(s, "timed out waiting for a qtest reply");
        }
    }
}

static char *qtest_send_cmd(QTestState *s, int timeout_ms, const char *cmd)
{
    g_autofree char *line = g_strconcat(cmd, "\n", NULL);

    qtest_send_all(s, s->qfd, s->qbuf, line, strlen(line));
    return qtest_recv_line(s, timeout_ms);
}

static char *qtest_vcommand_raw(QTestState *s, int timeout_ms, const char *fmt,
                                va_list ap)
{
    g_autofree char *cmd = g_strdup_vprintf(fmt, ap);

    return qtest_send_cmd(s, timeout_ms, cmd);
}

char *qtest_command(QTestState *s, const char *fmt, ...)
{
    g_autofree char *reply = NULL;
    va_list ap;

    va_start(ap, fmt);
    reply = qtest_vcommand_raw(s, qtest_timeout_ms(), fmt, ap);
    va_end(ap);
    if (strncmp(reply, "OK", 2) != 0) {
        g_printerr("qtest: reply '%.200s'\n", reply);
        qtest_fail(s, "command failed");
    }
    return g_strdup(g_strchug(reply + 2));
}

void qtest_command_send(QTestState *s, const char *fmt, ...)
{
    g_autofree char *cmd = NULL;
    g_autofree char *line = NULL;
    va_list ap;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    line = g_strconcat(cmd, "\n", NULL);
    qtest_send_all(s, s->qfd, s->qbuf, line, strlen(line));
}

char *qtest_command_recv(QTestState *s)
{
    return qtest_recv_line(s, qtest_timeout_ms());
}

static uint64_t qtest_read_n(QTestState *s, const char *op, uint64_t addr)
{
    g_autofree char *r = qtest_command(s, "%s 0x%" PRIx64, op, addr);

    return g_ascii_strtoull(r, NULL, 0);
}

static void qtest_write_n(QTestState *s, const char *op, uint64_t addr,
                          uint64_t val)
{
    g_free(qtest_command(s, "%s 0x%" PRIx64 " 0x%" PRIx64, op, addr, val));
}

uint8_t qtest_readb(QTestState *s, uint64_t addr)
{
    return qtest_read_n(s, "readb", addr);
}

uint16_t qtest_readw(QTestState *s, uint64_t addr)
{
    return qtest_read_n(s, "readw", addr);
}

uint32_t qtest_readl(QTestState *s, uint64_t addr)
{
    return qtest_read_n(s, "readl", addr);
}

uint64_t qtest_readq(QTestState *s, uint64_t addr)
{
    return qtest_read_n(s, "readq", addr);
}

void qtest_writeb(QTestState *s, uint64_t addr, uint8_t val)
{
    qtest_write_n(s, "writeb", addr, val);
}

void qtest_writew(QTestState *s, uint64_t addr, uint16_t val)
{
    qtest_write_n(s, "writew", addr, val);
}

void qtest_writel(QTestState *s, uint64_t addr, uint32_t val)
{
    qtest_write_n(s, "writel", addr, val);
}

void qtest_writeq(QTestState *s, uint64_t addr, uint64_t val)
{
    qtest_write_n(s, "writeq", addr, val);
}

uint8_t qtest_inb(QTestState *s, uint16_t port)
{
    return qtest_read_n(s, "inb", port);
}

uint16_t qtest_inw(QTestState *s, uint16_t port)
{
    return qtest_read_n(s, "inw", port);
}

uint32_t qtest_inl(QTestState *s, uint16_t port)
{
    return qtest_read_n(s, "inl", port);
}

void qtest_outb(QTestState *s, uint16_t port, uint8_t val)
{
    qtest_write_n(s, "outb", port, val);
}

void qtest_outw(QTestState *s, uint16_t port, uint16_t val)
{
    qtest_write_n(s, "outw", port, val);
}

void qtest_outl(QTestState *s, uint16_t port, uint32_t val)
{
    qtest_write_n(s, "outl", port, val);
}

/* Bytes per b64read/b64write/memset command (the VMM takes 16 MiB). */
#define QTEST_XFER_CHUNK (4u * 1024 * 1024)

static void qtest_memread_chunk(QTestState *s, uint64_t addr, void *buf,
                                size_t len)
{
    g_autofree char *r = NULL;
    g_autofree guchar *data = NULL;
    gsize n;

    r = qtest_command(s, "b64read 0x%" PRIx64 " 0x%zx", addr, len);
    data = g_base64_decode(r, &n);
    if (n != len) {
        g_printerr("qtest: b64read of %zu bytes returned %zu\n", len,
                   (size_t)n);
        qtest_fail(s, "short b64read");
    }
    memcpy(buf, data, len);
}

void qtest_memread(QTestState *s, uint64_t addr, void *buf, size_t len)
{
    for (size_t done = 0; done < len; done += QTEST_XFER_CHUNK) {
        qtest_memread_chunk(s, addr + done, (uint8_t *)buf + done,
                            MIN(len - done, QTEST_XFER_CHUNK));
    }
}

void qtest_memwrite(QTestState *s, uint64_t addr, const void *buf, size_t len)
{
    for (size_t done = 0; done < len; done += QTEST_XFER_CHUNK) {
        size_t n = MIN(len - done, QTEST_XFER_CHUNK);
        g_autofree char *b64 = g_base64_encode((const guchar *)buf + done, n);

        g_free(qtest_command(s, "b64write 0x%" PRIx64 " 0x%zx %s", addr + done,
                             n, b64));
    }
}

void qtest_memset(QTestState *s, uint64_t addr, uint8_t val, size_t len)
{
    for (size_t done = 0; done < len; done += QTEST_XFER_CHUNK) {
        g_free(qtest_command(s, "memset 0x%" PRIx64 " 0x%zx 0x%02x",
                             addr + done,
                             MIN(len - done, (size_t)QTEST_XFER_CHUNK), val));
    }
}

/* ---- interrupts ---- */

bool qtest_irq_level(QTestState *s, int irq)
{
    g_assert(irq >= 0 && irq < QTEST_MAX_IRQ);
    return s->irq_level[irq];
}

unsigned qtest_irq_raised(QTestState *s, int irq)
{
    g_assert(irq >= 0 && irq < QTEST_MAX_IRQ);
    return s->irq_raised[irq];
}

bool qtest_wait_irq_raise(QTestState *s, int irq, unsigned seen, int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);

    g_assert(irq >= 0 && irq < QTEST_MAX_IRQ);
    while (s->irq_raised[irq] <= seen) {
        gint64 left = deadline - g_get_monotonic_time();

        if (left <= 0) {
            return false;
        }
        g_free(qtest_recv_line(s, -(int)MAX(1, left / 1000)));
    }
    return true;
}

bool qtest_wait_msi(QTestState *s, uint64_t *addr, uint32_t *data,
                    int timeout_ms)
{
    g_autofree char *cmd = g_strdup_printf("msi_wait %d", timeout_ms);
    /* the VMM answers when an MSI lands or after timeout_ms */
    g_autofree char *r =
        qtest_send_cmd(s, timeout_ms + qtest_timeout_ms(), cmd);

    if (!strcmp(r, "OK none")) {
        return false;
    }
    if (sscanf(r, "OK %" SCNx64 " %" SCNx32, addr, data) != 2) {
        g_printerr("qtest: msi_wait -> '%s'\n", r);
        qtest_fail(s, "bad msi_wait reply");
    }
    return true;
}

/* ---- the monitor ---- */

#define QTEST_MON_PROMPT "(vfio-user) "

/* Read until the prompt; returns what came before it. */
static char *qtest_mon_read_reply(QTestState *s)
{
    gint64 deadline = qtest_deadline(qtest_timeout_ms());
    size_t plen = strlen(QTEST_MON_PROMPT);
    char *out;

    while (s->mbuf->len < plen || memcmp(s->mbuf->str + s->mbuf->len - plen,
                                         QTEST_MON_PROMPT, plen) != 0) {
        bool timeout;

        if (!qtest_fill(s->mfd, s->mbuf, deadline, &timeout)) {
            qtest_fail(s, "the VMM closed the monitor connection");
        }
        if (timeout) {
            g_printerr("monitor said so far: '%s'\n", s->mbuf->str);
            qtest_fail(s, "timed out waiting for the monitor prompt");
        }
    }
    g_string_truncate(s->mbuf, s->mbuf->len - plen);
    out = g_strdup(s->mbuf->str);
    g_string_truncate(s->mbuf, 0);
    return out;
}

char *qtest_hmp(QTestState *s, const char *fmt, ...)
{
    g_autofree char *cmd = NULL;
    g_autofree char *line = NULL;
    char *out;
    va_list ap;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    line = g_strconcat(cmd, "\n", NULL);
    qtest_send_all(s, s->mfd, s->mbuf, line, strlen(line));
    out = qtest_mon_read_reply(s);
    /* Drop an echo of the command, if the monitor echoes. */
    if (g_str_has_prefix(out, line)) {
        memmove(out, out + strlen(line), strlen(out) - strlen(line) + 1);
    }
    return out;
}
