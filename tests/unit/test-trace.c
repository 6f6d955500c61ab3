/*
 * Unit tests for util/trace.c and the generated trace-events.h: enabling
 * points by name, glob and log domain, disabling, -trace parsing (events
 * files, errors, help), what an enabled point logs, that a disabled one
 * does not evaluate its arguments, and the log writer's filtering.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "trace-events.h"
#include "vfio-user/error.h"
#include "vfu-test.h"

/* The fields of the last trace record logged. */
static char *last_domain, *last_point, *last_message;
static unsigned records;

static GLogWriterOutput capture_writer(GLogLevelFlags level,
                                       const GLogField *fields, gsize n,
                                       gpointer data)
{
    if (!vfio_user_log_is_trace(fields, n)) {
        return g_log_writer_default(level, fields, n, data);
    }
    g_assert_cmpint(level, ==, G_LOG_LEVEL_DEBUG);
    g_clear_pointer(&last_domain, g_free);
    g_clear_pointer(&last_point, g_free);
    g_clear_pointer(&last_message, g_free);
    for (gsize i = 0; i < n; i++) {
        char **dst = !strcmp(fields[i].key, "GLIB_DOMAIN") ? &last_domain
                     : !strcmp(fields[i].key, VFIO_USER_TRACE_FIELD)
                         ? &last_point
                     : !strcmp(fields[i].key, "MESSAGE") ? &last_message
                                                         : NULL;
        if (dst) {
            *dst = g_strdup(fields[i].value);
        }
    }
    records++;
    return G_LOG_WRITER_HANDLED;
}

/* How many points of the catalog are in domain @name. */
static unsigned points_in(const char *name)
{
    unsigned n = 0;

    for (unsigned i = 0; i < VFIO_USER_TRACE_N_POINTS; i++) {
        n += !strcmp(
            vfio_user_trace_domains[vfio_user_trace_points[i].domain].name,
            name);
    }
    return n;
}

static unsigned points_on(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < VFIO_USER_TRACE_N_POINTS; i++) {
        n += vfio_user_trace_on(i);
    }
    return n;
}

static void test_enable_by_name(void)
{
    vfio_user_trace_reset();
    g_assert_cmpuint(points_on(), ==, 0);
    g_assert_cmpuint(vfio_user_trace_enable("proxy_send"), ==, 1);
    g_assert_true(trace_proxy_send_enabled());
    g_assert_false(trace_proxy_recv_enabled());
    g_assert_cmpuint(points_on(), ==, 1);

    g_assert_cmpuint(vfio_user_trace_enable("proxy_*"), ==,
                     points_in("vfio-user-proxy"));
    g_assert_cmpuint(points_on(), ==, points_in("vfio-user-proxy"));
    g_assert_false(trace_dma_map_enabled());

    g_assert_cmpuint(vfio_user_trace_enable("-proxy_send"), ==, 1);
    g_assert_false(trace_proxy_send_enabled());
    g_assert_true(trace_proxy_recv_enabled());
    g_assert_cmpuint(vfio_user_trace_enable("no_such_point"), ==, 0);
    vfio_user_trace_reset();
    g_assert_cmpuint(points_on(), ==, 0);
}

static void test_enable_by_domain(void)
{
    vfio_user_trace_reset();
    g_assert_cmpuint(vfio_user_trace_enable("vfio-user-dma"), ==, 1);
    g_assert_cmpuint(points_on(), ==, points_in("vfio-user-dma"));
    g_assert_true(trace_dma_map_enabled());

    /* QEMU's spelling: '_' matches the '-' of domain names. */
    vfio_user_trace_reset();
    g_assert_cmpuint(vfio_user_trace_enable("vfio_user_d*"), ==, 2);
    g_assert_cmpuint(points_on(), ==,
                     points_in("vfio-user-dma") +
                         points_in("vfio-user-device"));
    g_assert_cmpuint(vfio_user_trace_enable("-vfio-user-device"), ==, 1);
    g_assert_cmpuint(points_on(), ==, points_in("vfio-user-dma"));

    /* A domain without points still matches: it is not a typo. */
    g_assert_cmpuint(points_in("vfio-user-vmm"), ==, 0);
    g_assert_cmpuint(vfio_user_trace_enable("vfio-user-vmm"), ==, 1);
    vfio_user_trace_enable("*");
    g_assert_cmpuint(points_on(), ==, VFIO_USER_TRACE_N_POINTS);
    vfio_user_trace_reset();
}

static int evaluated;

static const char *side_effect(void)
{
    evaluated++;
    return "VERSION";
}

static void test_emit(void)
{
    vfio_user_trace_reset();
    records = 0;
    trace_proxy_send("/tmp/s.sock", side_effect(), 7, 40);
    g_assert_cmpint(evaluated, ==, 0); /* off: arguments not evaluated */
    g_assert_cmpuint(records, ==, 0);

    vfio_user_trace_enable("proxy_send");
    trace_proxy_send("/tmp/s.sock", side_effect(), 7, 40);
    g_assert_cmpint(evaluated, ==, 1);
    g_assert_cmpuint(records, ==, 1);
    g_assert_cmpstr(last_domain, ==, "vfio-user-proxy");
    g_assert_cmpstr(last_point, ==, "proxy_send");
    g_assert_cmpstr(last_message, ==,
                    "proxy_send /tmp/s.sock: send VERSION id 7 size 40");

    vfio_user_trace_enable("server_version_twice");
    trace_server_version_twice();
    g_assert_cmpstr(last_domain, ==, "vfio-user-server");
    g_assert_cmpstr(last_message, ==,
                    "server_version_twice VERSION sent twice; rejected");
    vfio_user_trace_enable("dma_unmap");
    trace_dma_unmap("ram0", 0x1000, UINT64_MAX);
    g_assert_cmpstr(last_message, ==,
                    "dma_unmap unmap ram0 iova=0x1000 size=0xffffffffffffffff");
    g_assert_cmpuint(records, ==, 3);
    vfio_user_trace_reset();
}

static char *write_file(const char *text)
{
    char *path = NULL;
    int fd = g_file_open_tmp("trace-events-XXXXXX", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, text, strlen(text)), ==, (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_parse(void)
{
    g_autoptr(GString) help = g_string_new(NULL);
    g_autofree char *events =
        write_file("# comment\n\n  dma_*  \n-dma_unmap\nproxy_recv\n");
    g_autofree char *arg = g_strdup_printf("events=%s,file=/tmp/t.log", events);
    g_autofree char *file = NULL;
    GError *err = NULL;

    vfio_user_trace_reset();
    g_assert_true(vfio_user_trace_parse("-trace", arg, help, &file, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(file, ==, "/tmp/t.log");
    g_assert_cmpuint(help->len, ==, 0);
    g_assert_true(trace_dma_map_enabled());
    g_assert_false(trace_dma_unmap_enabled());
    g_assert_true(trace_proxy_recv_enabled());
    g_assert_cmpuint(points_on(), ==, points_in("vfio-user-dma"));

    g_assert_true(vfio_user_trace_parse("-trace", "enable=proxy_send,device_*",
                                        help, &file, &err));
    g_assert_true(trace_proxy_send_enabled());
    g_assert_true(trace_device_failed_enabled());

    g_assert_false(
        vfio_user_trace_parse("-trace", "size=3", help, &file, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_assert_nonnull(strstr(err->message, "-trace: unknown option 'size=3'"));
    g_clear_error(&err);
    g_assert_false(vfio_user_trace_parse("--trace", "events=/nonexistent/trace",
                                         help, &file, &err));
    g_assert_error(err, VFIO_USER_ERROR, ENOENT);
    g_assert_nonnull(strstr(err->message, "--trace events=/nonexistent"));
    g_clear_error(&err);
    unlink(events);
    vfio_user_trace_reset();
}

static void test_help(void)
{
    g_autoptr(GString) help = g_string_new(NULL);
    g_autofree char *file = NULL;

    g_assert_true(vfio_user_trace_parse("-trace", "help", help, &file, NULL));
    for (unsigned d = 0; vfio_user_trace_domains[d].name; d++) {
        g_assert_nonnull(strstr(help->str, vfio_user_trace_domains[d].name));
    }
    for (unsigned i = 0; i < VFIO_USER_TRACE_N_POINTS; i++) {
        g_autofree char *line =
            g_strdup_printf("\n  %s(%s)\n", vfio_user_trace_points[i].name,
                            vfio_user_trace_points[i].args);

        g_assert_nonnull(strstr(help->str, line));
    }
    g_assert_nonnull(strstr(help->str, "\n  server_version_twice()\n"));
    g_assert_cmpuint(points_on(), ==, 0); /* help enables nothing */
}

/* The writer: trace records always, other debug output only if asked. */
static void test_log_write(void)
{
    FILE *f = tmpfile();
    const GLogField trace[] = {
        {"GLIB_DOMAIN", "vfio-user-dma", -1},
        {VFIO_USER_TRACE_FIELD, "dma_map", -1},
        {"MESSAGE", "dma_map traced", -1},
    };
    const GLogField debug[] = {
        {"GLIB_DOMAIN", "not-asked-for", -1},
        {"MESSAGE", "plain debug", -1},
    };
    const GLogField warning[] = {
        {"GLIB_DOMAIN", "not-asked-for", -1},
        {"MESSAGE", "a warning", -1},
    };
    char buf[4096];
    size_t n;

    g_assert_nonnull(f);
    vfio_user_log_write(f, G_LOG_LEVEL_DEBUG, trace, G_N_ELEMENTS(trace));
    vfio_user_log_write(f, G_LOG_LEVEL_DEBUG, debug, G_N_ELEMENTS(debug));
    vfio_user_log_write(f, G_LOG_LEVEL_WARNING, warning, G_N_ELEMENTS(warning));
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    g_assert_nonnull(strstr(buf, "vfio-user-dma-DEBUG"));
    g_assert_nonnull(strstr(buf, "dma_map traced\n"));
    g_assert_null(strstr(buf, "plain debug"));
    g_assert_nonnull(strstr(buf, "a warning\n"));
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    g_unsetenv("G_MESSAGES_DEBUG"); /* test_log_write() drops debug output */
    g_log_set_writer_func(capture_writer, NULL, NULL);
    g_test_add_func("/trace/enable-by-name", test_enable_by_name);
    g_test_add_func("/trace/enable-by-domain", test_enable_by_domain);
    g_test_add_func("/trace/emit", test_emit);
    g_test_add_func("/trace/parse", test_parse);
    g_test_add_func("/trace/help", test_help);
    g_test_add_func("/trace/log-write", test_log_write);
    ret = g_test_run();
    g_clear_pointer(&last_domain, g_free);
    g_clear_pointer(&last_point, g_free);
    g_clear_pointer(&last_message, g_free);
    return ret;
}
