/*
 * Line-oriented character devices (stdio, UNIX socket client or server)
 * for qtest and the monitors, driven by the GLib main loop; QMP takes the
 * bytes as they come (CharLineOps.data).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>
#include "system/chardev.h"
#include "vfio-user/error.h"

/* Longest line: a b64write of qtest's largest transfer fits. */
#define CHAR_MAX_LINE (64u * 1024 * 1024)

/* Main-thread only. */
struct CharLine {
    const CharLineOps *ops;
    void *opaque;
    bool is_stdio;
    bool server;
    char *path;
    int listen_fd;
    int in_fd;
    int out_fd;
    guint listen_src;
    guint in_src;
    guint idle_src;
    bool paused;
    bool broken; /* output failed: drop further output */
    bool eof;    /* input ended; close once the buffered lines ran */
    GString *inbuf;
    gsize head;      /* inbuf bytes before head were handed out */
    gsize scanned;   /* bytes after head known to hold no newline */
    bool discarding; /* dropping the rest of an overlong line */
    FILE *log;       /* -qtest-log: "[R +secs] line" / "[S +secs] text" */
    gint64 log_start;
};

static void char_line_log(CharLine *c, char dir, const char *s)
{
    double t = (g_get_monotonic_time() - c->log_start) / 1e6;
    size_t n = strlen(s);

    fprintf(c->log, "[%c +%f] %.*s\n", dir, t,
            (int)(n && s[n - 1] == '\n' ? n - 1 : n), s);
    fflush(c->log);
}

static gboolean char_line_readable(gint fd, GIOCondition cond, gpointer p);
static void char_line_hangup(CharLine *c);

/* Hand out complete lines; a line is parsed in place, never re-scanned. */
static void char_line_process(CharLine *c)
{
    while (!c->paused && c->in_fd >= 0) {
        char *start = c->inbuf->str + c->head;
        gsize avail = c->inbuf->len - c->head;
        char *nl = memchr(start + c->scanned, '\n', avail - c->scanned);

        if (!nl) {
            c->scanned = avail;
            break;
        }
        *nl = 0;
        if (nl > start && nl[-1] == '\r') {
            nl[-1] = 0;
        }
        c->head += nl - start + 1;
        c->scanned = 0;
        if (c->log) {
            char_line_log(c, 'R', start);
        }
        c->ops->line(c, start, c->opaque);
    }
    if (c->head == c->inbuf->len) {
        g_string_truncate(c->inbuf, 0);
        c->head = 0;
    } else if (c->head > 65536 && c->head > c->inbuf->len / 2) {
        g_string_erase(c->inbuf, 0, c->head);
        c->head = 0;
    }
    if (c->eof && !c->paused) {
        char_line_hangup(c);
    }
}

static gboolean char_line_idle(gpointer p)
{
    CharLine *c = p;

    c->idle_src = 0;
    char_line_process(c);
    return G_SOURCE_REMOVE;
}

static void char_line_attach(CharLine *c, int in_fd, int out_fd)
{
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->broken = false;
    c->eof = false;
    c->discarding = false;
    g_string_truncate(c->inbuf, 0);
    c->head = c->scanned = 0;
    c->in_src = g_unix_fd_add(in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                              char_line_readable, c);
    if (c->ops->opened) {
        c->ops->opened(c, c->opaque);
    }
}

static gboolean char_line_accept(gint fd, GIOCondition cond, gpointer p)
{
    CharLine *c = p;
    int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

    (void)cond;
    if (conn < 0) {
        return G_SOURCE_CONTINUE;
    }
    c->listen_src = 0;
    char_line_attach(c, conn, conn);
    return G_SOURCE_REMOVE; /* one client at a time */
}

static void char_line_detach(CharLine *c)
{
    if (c->in_src) {
        g_source_remove(c->in_src);
        c->in_src = 0;
    }
    if (!c->is_stdio && c->in_fd >= 0) {
        close(c->in_fd);
    }
    c->in_fd = c->out_fd = -1;
}

/* The peer is gone and every line it sent has been handled. */
static void char_line_hangup(CharLine *c)
{
    c->eof = false;
    char_line_detach(c);
    if (c->server) {
        c->listen_src =
            g_unix_fd_add(c->listen_fd, G_IO_IN, char_line_accept, c);
    }
    c->ops->closed(c, !c->server, c->opaque);
}

/* Drop input up to the end of an overlong line; false if none yet. */
static bool char_line_skip_overlong(CharLine *c, const char **buf, ssize_t *n)
{
    const char *nl = memchr(*buf, '\n', *n);

    if (!nl) {
        return false;
    }
    *n -= nl + 1 - *buf;
    *buf = nl + 1;
    c->discarding = false;
    if (c->ops->overlong) {
        c->ops->overlong(c, c->opaque);
    }
    return true;
}

static gboolean char_line_readable(gint fd, GIOCondition cond, gpointer p)
{
    CharLine *c = p;
    static char rbuf[65536]; /* main thread only */
    const char *buf = rbuf;
    ssize_t n;

    (void)cond;
    n = read(fd, rbuf, sizeof(rbuf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return G_SOURCE_CONTINUE;
    }
    if (c->ops->data && n > 0) {
        c->ops->data(c, rbuf, n, c->opaque);
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        c->in_src = 0;
        c->eof = true;
        c->discarding = false;
        if (c->inbuf->len > c->head &&
            c->inbuf->str[c->inbuf->len - 1] != '\n') {
            g_string_append_c(c->inbuf, '\n'); /* a last unterminated line */
        }
        char_line_process(c);
        return G_SOURCE_REMOVE;
    }
    if (c->discarding && !char_line_skip_overlong(c, &buf, &n)) {
        return G_SOURCE_CONTINUE;
    }
    g_string_append_len(c->inbuf, buf, n);
    if (c->inbuf->len - c->head > CHAR_MAX_LINE &&
        !memchr(c->inbuf->str + c->head + c->scanned, '\n',
                c->inbuf->len - c->head - c->scanned)) {
        g_string_truncate(c->inbuf, c->head);
        c->scanned = 0;
        c->discarding = true;
        return G_SOURCE_CONTINUE;
    }
    char_line_process(c);
    return G_SOURCE_CONTINUE;
}

static int char_line_socket(const char *path, bool server, GError **errp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        vfio_user_error_set(errp, ENAMETOOLONG, "socket path '%s' is too long",
                            path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        vfio_user_error_set(errp, errno, "socket: %s", g_strerror(errno));
        return -1;
    }
    if (server && stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path); /* a stale socket of an earlier run */
    }
    if (server ? (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
                  listen(fd, 1) < 0)
               : connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        vfio_user_error_set(errp, errno, "cannot %s '%s': %s",
                            server ? "listen on" : "connect to", path,
                            g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

CharLine *char_line_new(const CharSpec *spec, const CharLineOps *ops,
                        void *opaque, GError **errp)
{
    CharLine *c = g_new0(CharLine, 1);
    int fd = -1;

    c->ops = ops;
    c->opaque = opaque;
    c->listen_fd = c->in_fd = c->out_fd = -1;
    c->inbuf = g_string_new(NULL);
    c->is_stdio = spec->is_stdio;
    c->server = !spec->is_stdio && spec->server;
    c->path = g_strdup(spec->path);
    if (spec->log_path) {
        c->log = fopen(spec->log_path, "a");
        if (!c->log) {
            vfio_user_error_set(errp, errno, "-qtest-log %s: %s",
                                spec->log_path, g_strerror(errno));
            char_line_free(c);
            return NULL;
        }
        c->log_start = g_get_monotonic_time();
    }
    if (!c->is_stdio) {
        fd = char_line_socket(spec->path, c->server, errp);
        if (fd < 0) {
            char_line_free(c);
            return NULL;
        }
    }
    if (c->is_stdio) {
        char_line_attach(c, STDIN_FILENO, STDOUT_FILENO);
    } else if (c->server) {
        c->listen_fd = fd;
        c->listen_src = g_unix_fd_add(fd, G_IO_IN, char_line_accept, c);
    } else {
        char_line_attach(c, fd, fd);
    }
    return c;
}

void char_line_free(CharLine *c)
{
    if (!c) {
        return;
    }
    char_line_detach(c);
    if (c->listen_src) {
        g_source_remove(c->listen_src);
    }
    if (c->idle_src) {
        g_source_remove(c->idle_src);
    }
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        unlink(c->path);
    }
    if (c->log) {
        fclose(c->log);
    }
    g_free(c->path);
    g_string_free(c->inbuf, true);
    g_free(c);
}

void char_line_write(CharLine *c, const char *s)
{
    size_t len = strlen(s);

    if (c->log && len) {
        char_line_log(c, 'S', s);
    }
    while (len && c->out_fd >= 0 && !c->broken) {
        ssize_t n = write(c->out_fd, s, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            c->broken = true; /* the reader is gone; input EOF will follow */
            break;
        }
        s += n;
        len -= n;
    }
}

void char_line_printf(CharLine *c, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *s = NULL;

    va_start(ap, fmt);
    s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char_line_write(c, s);
}

void char_line_pause(CharLine *c, bool paused)
{
    c->paused = paused;
    if (!paused && !c->idle_src) {
        c->idle_src = g_idle_add(char_line_idle, c);
    }
}
