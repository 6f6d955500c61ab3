/*
 * vfio-user-server: serve one sample device (edu, ram, pio, virtio-net) on
 * a UNIX socket.
 *
 *     vfio-user-server --device edu --socket-path=/run/edu.sock [-v]
 *         [--negotiation-timeout MS]
 *     vfio-user-server --device virtio-net --netdev user --socket-path PATH
 *     vfio-user-server --device edu --fd=N
 *
 * The backend program conventions of the specification: --socket-path
 * (--socket is the same option), or --fd with a UNIX socket the parent
 * created: a listening one (clients are accepted on it) or a connected one
 * (that client is served, then the program exits).  The JSON description
 * of the program is vfio-user-server.json, installed in
 * DATADIR/vfio-user/.
 *
 * Clients are served one after another until SIGTERM or SIGINT (or, with
 * --once, until the first client disconnects).  When the socket listens, one
 * line "vfio-user-server: listening on PATH (device NAME)" ("on fd N" for
 * --fd) goes to stdout, so that scripts and tests can wait for it.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <glib-unix.h>
#include "devices.h"
#include "vfio-user/trace.h"

#define PROG "vfio-user-server"
#define SAMPLE_NO_FD G_MININT

typedef struct SampleOptions {
    char *device;
    char *netdev;
    char *socket;
    gint fd; /* --fd, SAMPLE_NO_FD when absent */
    char *pidfile;
    char *mem_file;
    gboolean legacy_dma_map;
    gboolean unsealed_regions;
    gboolean once;
    gboolean verbose;
    char **trace;   /* --trace, each as vfio-user-vmm's -trace */
    bool help_done; /* --trace help printed: exit with success */
    gint negotiation_timeout_ms;
} SampleOptions;

/*
 * Signal handling: SIGTERM/SIGINT are turned into GSources of a private
 * main context that a thread runs, so the handler itself only sets a flag
 * and stops the server from an ordinary thread.  The sources exist from
 * the start, so a signal that arrives while the server is being set up
 * still ends the program cleanly.  @quit, @done and @srv are atomic (@srv
 * is set once the server exists); the other fields are set before the
 * thread starts.
 */
typedef struct SampleSignals {
    VusServer *srv;
    GMainContext *ctx;
    GThread *thread;
    gint quit; /* a signal came */
    gint done; /* the thread must end */
} SampleSignals;

static gboolean sample_on_signal(gpointer opaque)
{
    SampleSignals *sig = opaque;

    VusServer *srv;

    g_atomic_int_set(&sig->quit, 1);
    srv = g_atomic_pointer_get(&sig->srv);
    if (srv) {
        vus_server_stop(srv);
    }
    return G_SOURCE_CONTINUE;
}

static gpointer sample_signal_thread(gpointer opaque)
{
    SampleSignals *sig = opaque;

    /* Not a GMainLoop: its quit is lost when it comes before the run. */
    g_main_context_push_thread_default(sig->ctx);
    while (!g_atomic_int_get(&sig->done)) {
        g_main_context_iteration(sig->ctx, true);
    }
    g_main_context_pop_thread_default(sig->ctx);
    return NULL;
}

static void sample_signals_start(SampleSignals *sig)
{
    static const int signals[] = {SIGTERM, SIGINT};

    sig->ctx = g_main_context_new();
    for (size_t i = 0; i < G_N_ELEMENTS(signals); i++) {
        GSource *src = g_unix_signal_source_new(signals[i]);

        g_source_set_callback(src, sample_on_signal, sig, NULL);
        g_source_attach(src, sig->ctx);
        g_source_unref(src);
    }
    sig->thread = g_thread_new("signals", sample_signal_thread, sig);
}

/* From now on a signal stops @srv (also if one came already). */
static void sample_signals_set_server(SampleSignals *sig, VusServer *srv)
{
    g_atomic_pointer_set(&sig->srv, srv);
    if (g_atomic_int_get(&sig->quit)) {
        vus_server_stop(srv);
    }
}

static void sample_signals_stop(SampleSignals *sig)
{
    g_atomic_int_set(&sig->done, 1);
    g_main_context_wakeup(sig->ctx);
    g_thread_join(sig->thread);
    g_main_context_unref(sig->ctx);
}

/* Written once while the options are parsed, then read by any thread. */
static FILE *sample_log;

/* Every log message and trace point to stderr (or --trace file=). */
static GLogWriterOutput sample_log_writer(GLogLevelFlags level,
                                          const GLogField *fields,
                                          gsize n_fields, gpointer data)
{
    (void)data;
    vfio_user_log_write(sample_log ? sample_log : stderr, level, fields,
                        n_fields);
    return G_LOG_WRITER_HANDLED;
}

/* -v and --trace: false when the program is to exit (help, or an error). */
static bool sample_trace(SampleOptions *opts)
{
    g_autoptr(GString) help = g_string_new(NULL);
    g_autofree char *file = NULL;
    GError *err = NULL;

    if (opts->verbose) {
        vfio_user_trace_enable(VUS_SERVER_LOG_DOMAIN);
        vfio_user_trace_enable(SAMPLE_LOG_DOMAIN);
    }
    for (char **t = opts->trace; t && *t && !help->len; t++) {
        if (!vfio_user_trace_parse("--trace", *t, help, &file, &err)) {
            g_printerr(PROG ": %s\n", err->message);
            g_error_free(err);
            return false;
        }
    }
    if (help->len) {
        fputs(help->str, stdout);
        opts->help_done = true;
        return false;
    }
    if (file) {
        sample_log = fopen(file, "a");
        if (!sample_log) {
            g_printerr(PROG ": --trace file=%s: %s\n", file, g_strerror(errno));
            return false;
        }
        setvbuf(sample_log, NULL, _IOLBF, 0);
    }
    return true;
}

static bool sample_parse(int argc, char **argv, SampleOptions *opts)
{
    char *names = sample_device_names();
    char *dev_help = g_strdup_printf("device to serve: %s", names);
    char *desc = sample_device_help();
    GOptionEntry entries[] = {
        {"device", 'd', 0, G_OPTION_ARG_STRING, &opts->device, dev_help,
         "NAME"},
        {"socket-path", 's', 0, G_OPTION_ARG_FILENAME, &opts->socket,
         "UNIX socket to listen on", "PATH"},
        {"socket", 0, 0, G_OPTION_ARG_FILENAME, &opts->socket,
         "the same as --socket-path", "PATH"},
        {"fd", 0, 0, G_OPTION_ARG_INT, &opts->fd,
         "serve on this UNIX socket made by the parent (listening or connected); not with --socket-path",
         "FDNUM"},
        {"netdev", 0, 0, G_OPTION_ARG_STRING, &opts->netdev,
         "virtio-net backend: user[,hostfwd=tcp:127.0.0.1:PORT-:GUESTPORT]",
         "SPEC"},
        {"legacy-dma-map", 0, 0, G_OPTION_ARG_NONE, &opts->legacy_dma_map,
         "act as a server without DMA access modes (mode bits are EINVAL)",
         NULL},
        {"unsealed-regions", 0, 0, G_OPTION_ARG_NONE, &opts->unsealed_regions,
         "do not seal the memfds of memory BARs (to test clients)", NULL},
        {"once", 0, 0, G_OPTION_ARG_NONE, &opts->once,
         "exit after the first client disconnects", NULL},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opts->verbose,
         "trace the library and the device (--trace 'vfio-user-server,vfio-user-sample')",
         NULL},
        {"trace", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts->trace,
         "trace points: [enable=]PATTERN, events=FILE, file=FILE or help, as vfio-user-vmm's -trace",
         "SPEC"},
        {"negotiation-timeout", 0, 0, G_OPTION_ARG_INT,
         &opts->negotiation_timeout_ms,
         "drop a client that sends no VERSION within MS (default 10000)", "MS"},
        {"mem-file", 0, 0, G_OPTION_ARG_FILENAME, &opts->mem_file,
         "ram: keep BAR0 memory in FILE, to survive a restart", "FILE"},
        {"pidfile", 0, 0, G_OPTION_ARG_FILENAME, &opts->pidfile,
         "write the process id to FILE (removed on exit)", "FILE"},
        {NULL}};
    GOptionContext *ctx =
        g_option_context_new("- sample vfio-user device server");
    GError *err = NULL;
    bool ok;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx, desc);
    ok = g_option_context_parse(ctx, &argc, &argv, &err);

    if (!ok) {
        g_printerr(PROG ": %s (see --help)\n", err->message);
        g_error_free(err);
    } else if (!sample_trace(opts)) {
        ok = false;
    } else if (argc > 1) {
        g_printerr(PROG ": unexpected argument '%s' (see --help)\n", argv[1]);
        ok = false;
    } else if (!opts->device) {
        g_printerr(PROG ": --device is required (one of: %s)\n", names);
        ok = false;
    } else if (!sample_device_find(opts->device)) {
        g_printerr(PROG ": unknown device '%s' (known devices: %s)\n",
                   opts->device, names);
        ok = false;
    } else if (opts->netdev && !sample_device_find(opts->device)->create_net) {
        g_printerr(PROG
                   ": --netdev is only for network devices (virtio-net)\n");
        ok = false;
    } else if (opts->mem_file && strcmp(opts->device, "ram")) {
        g_printerr(PROG ": --mem-file is for the ram device only\n");
        ok = false;
    } else if (opts->fd != SAMPLE_NO_FD && opts->fd < 0) {
        g_printerr(PROG ": --fd=%d is not a file descriptor\n", opts->fd);
        ok = false;
    } else if (opts->socket && opts->fd >= 0) {
        g_printerr(PROG ": --fd cannot be used with --socket-path\n");
        ok = false;
    } else if (!opts->socket && opts->fd < 0) {
        g_printerr(PROG ": --socket-path PATH or --fd FDNUM is required\n");
        ok = false;
    } else if (opts->negotiation_timeout_ms < 0) {
        g_printerr(PROG ": --negotiation-timeout: expected milliseconds\n");
        ok = false;
    }
    g_option_context_free(ctx);
    g_free(dev_help);
    g_free(desc);
    g_free(names);
    return ok;
}

/*
 * --fd: a UNIX stream socket, listening (taken as the listening socket) or
 * connected (*@connected set; served as the one client).
 */
static bool sample_adopt_fd(VusServer *srv, int fd, bool *connected)
{
    int type = 0, listening = 0;
    socklen_t len = sizeof(type);
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    GError *err = NULL;
    bool ok;

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 ||
        sa.ss_family != AF_UNIX || type != SOCK_STREAM) {
        g_printerr(PROG ": --fd=%d is not a UNIX stream socket\n", fd);
        return false;
    }
    len = sizeof(listening);
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    *connected = !listening;
    ok = listening ? vus_server_listen_fd(srv, fd, &err)
                   : vus_server_attach(srv, fd, &err);
    if (!ok) {
        g_printerr(PROG ": cannot serve on --fd=%d: %s\n", fd, err->message);
        g_error_free(err);
    }
    return ok;
}

static VusServer *sample_listen(const SampleOptions *opts, bool *connected)
{
    VusServerOptions sopts = {
        .legacy_dma_map = opts->legacy_dma_map,
        .unsealed_regions = opts->unsealed_regions,
        .negotiation_timeout_ms = (uint32_t)opts->negotiation_timeout_ms,
    };
    GError *err = NULL;
    VusServer *srv = vus_server_new(opts->socket, &sopts, &err);

    if (srv && opts->fd >= 0 && !sample_adopt_fd(srv, opts->fd, connected)) {
        vus_server_free(srv);
        return NULL;
    }
    if (!srv) {
        if (err->code == EADDRINUSE) {
            g_printerr(PROG ": socket %s is in use by a running server\n",
                       opts->socket);
        } else {
            g_printerr(PROG ": cannot listen on %s: %s\n", opts->socket,
                       err->message);
        }
        g_error_free(err);
    }
    return srv;
}

static bool sample_write_pidfile(const char *path)
{
    char *pid = g_strdup_printf("%d\n", (int)getpid());
    GError *err = NULL;
    bool ok = g_file_set_contents(path, pid, -1, &err);

    if (!ok) {
        g_printerr(PROG ": cannot write pid file: %s\n", err->message);
        g_error_free(err);
    }
    g_free(pid);
    return ok;
}

/*
 * Serve clients until stopped; false when accepting failed.  @connected:
 * the client is attached already (--fd with a connected socket).
 */
static bool sample_serve(VusServer *srv, SampleSignals *sig, bool once,
                         bool connected)
{
    GError *err = NULL;

    while (!g_atomic_int_get(&sig->quit)) {
        if (!connected && !vus_server_accept(srv, &err)) {
            if (g_atomic_int_get(&sig->quit)) {
                break;
            }
            g_printerr(PROG ": accept failed: %s\n", err->message);
            g_error_free(err);
            return false;
        }
        if (!vus_server_run(srv, &err)) {
            g_warning("client dropped: %s", err->message);
            g_clear_error(&err);
        }
        if (once || connected) {
            break;
        }
    }
    g_clear_error(&err);
    return true;
}

int main(int argc, char **argv)
{
    SampleOptions opts = {.fd = SAMPLE_NO_FD};
    SampleSignals sig = {0};
    const SampleDeviceType *type = NULL;
    VusServer *srv = NULL;
    void *dev = NULL;
    GError *err = NULL;
    bool pidfile_written = false, connected = false;
    int ret = EXIT_FAILURE;

    /* stdout carries the ready line only: logs of every level to stderr. */
    g_log_set_writer_func(sample_log_writer, NULL, NULL);
    if (!sample_parse(argc, argv, &opts)) {
        ret = opts.help_done ? EXIT_SUCCESS : EXIT_FAILURE;
        goto out;
    }
    sample_signals_start(&sig);
    type = sample_device_find(opts.device);
    srv = sample_listen(&opts, &connected);
    if (!srv) {
        goto out;
    }
    if (opts.mem_file) {
        sample_ram_set_mem_file(opts.mem_file);
    }
    dev = type->create_net ? type->create_net(srv, opts.netdev, &err)
                           : type->create(srv, &err);
    if (!dev) {
        g_printerr(PROG ": cannot set up device %s: %s\n", type->name,
                   err->message);
        g_error_free(err);
        goto out;
    }
    if (opts.pidfile) {
        pidfile_written = sample_write_pidfile(opts.pidfile);
        if (!pidfile_written) {
            goto out;
        }
    }
    sample_signals_set_server(&sig, srv);
    if (opts.socket) {
        printf(PROG ": listening on %s (device %s)\n", opts.socket, type->name);
    } else {
        printf(PROG ": %s on fd %d (device %s)\n",
               connected ? "serving" : "listening", opts.fd, type->name);
    }
    fflush(stdout);
    if (sample_serve(srv, &sig, opts.once, connected)) {
        ret = EXIT_SUCCESS;
    }
out:
    if (sig.thread) {
        sample_signals_stop(&sig);
    }
    if (dev && type->stop) {
        type->stop(dev); /* its threads use the server */
    }
    if (srv) {
        vus_server_free(srv);
    }
    if (dev) {
        type->destroy(dev);
    }
    if (pidfile_written) {
        unlink(opts.pidfile);
    }
    g_free(opts.device);
    g_free(opts.netdev);
    g_free(opts.socket);
    g_free(opts.pidfile);
    g_free(opts.mem_file);
    g_strfreev(opts.trace);
    if (sample_log) {
        FILE *f = sample_log;

        sample_log = NULL;
        fclose(f);
    }
    return ret;
}
