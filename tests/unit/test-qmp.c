/*
 * QMP pieces that need no socket: -qmp and -mon mode=control parsing,
 * argument checking against a command's list, and error classes.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <string.h>
#include <glib.h>
#include "system/options.h"
#include "system/qmp.h"

static bool parse(VmmOptions *o, GError **errp, const char *a0, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    va_list ap;
    const char *a;

    g_ptr_array_add(argv, (char *)"vfio-user-vmm");
    va_start(ap, a0);
    for (a = a0; a; a = va_arg(ap, const char *)) {
        g_ptr_array_add(argv, (char *)a);
    }
    va_end(ap);
    vmm_options_init(o);
    return vmm_parse_args(o, argv->len, (char **)argv->pdata, errp);
}

static void test_qmp_option(void)
{
    VmmOptions o;
    GError *err = NULL;
    MonSpec *m;

    g_assert_true(parse(&o, &err, "-qmp", "unix:/tmp/q.sock,server=on,wait=off",
                        "-qmp", "unix:/tmp/r.sock,server,nowait", NULL));
    g_assert_no_error(err);
    g_assert_cmpuint(o.mons->len, ==, 2);
    for (guint i = 0; i < 2; i++) {
        m = g_ptr_array_index(o.mons, i);
        g_assert_true(m->control);
        g_assert_false(m->pretty);
        g_assert_true(m->chr.server);
    }
    m = g_ptr_array_index(o.mons, 0);
    g_assert_cmpstr(m->chr.path, ==, "/tmp/q.sock");
    vmm_options_clear(&o);

    g_assert_false(parse(&o, &err, "-qmp", "tcp:localhost:4444", NULL));
    g_assert_nonnull(strstr(err->message, "-qmp: expected stdio or unix:PATH"));
    g_clear_error(&err);
    vmm_options_clear(&o);
}

static void test_mon_modes(void)
{
    VmmOptions o;
    GError *err = NULL;
    MonSpec *m;

    g_assert_true(parse(
        &o, &err, "-chardev", "socket,id=a,path=/tmp/a,server=on", "-mon",
        "chardev=a,mode=control,pretty=on", "-chardev",
        "socket,id=b,path=/tmp/b,server=on", "-mon", "b,mode=readline", NULL));
    g_assert_no_error(err);
    m = g_ptr_array_index(o.mons, 0);
    g_assert_true(m->control && m->pretty);
    g_assert_cmpstr(m->chr.path, ==, "/tmp/a");
    m = g_ptr_array_index(o.mons, 1);
    g_assert_false(m->control || m->pretty);
    vmm_options_clear(&o);

    g_assert_false(parse(&o, &err, "-chardev", "socket,id=a,path=/tmp/a",
                         "-mon", "chardev=a,mode=qmp", NULL));
    g_assert_nonnull(strstr(err->message, "-mon: unknown option 'mode'"));
    g_clear_error(&err);
    vmm_options_clear(&o);
}

static JsonObject *args_of(const char *json)
{
    g_autoptr(JsonParser) p = json_parser_new();

    g_assert_true(json_parser_load_from_data(p, json, -1, NULL));
    return json_object_ref(json_node_get_object(json_parser_get_root(p)));
}

static void check(const char *cmd, const char *json, const char *want)
{
    const QmpCommand *c = qmp_command_find(cmd);
    JsonObject *a = json ? args_of(json) : NULL;
    GError *err = NULL;
    bool ok;

    g_assert_nonnull(c);
    ok = qmp_check_args(c, a, &err);
    if (!want) {
        g_assert_no_error(err);
        g_assert_true(ok);
    } else {
        g_assert_false(ok);
        g_assert_cmpstr(err->message, ==, want);
        g_assert_cmpstr(qmp_error_class(err), ==, "GenericError");
        g_error_free(err);
    }
    if (a) {
        json_object_unref(a);
    }
}

static void test_check_args(void)
{
    check("device_del", "{\"id\":\"x\"}", NULL);
    check("device_del", NULL, "Parameter 'id' is missing");
    check("device_del", "{}", "Parameter 'id' is missing");
    check("device_del", "{\"id\":3}",
          "Invalid parameter type for 'id', expected: string");
    check("device_del", "{\"id\":\"x\",\"y\":1}",
          "Parameter 'y' is unexpected");
    check("query-status", "{\"x\":null}", "Parameter 'x' is unexpected");
    check("qmp_capabilities", "{\"enable\":[]}", NULL);
    check("qmp_capabilities", "{\"enable\":[\"oob\", 1]}",
          "Invalid parameter type for 'enable', expected: array");
    check("human-monitor-command", "{\"command-line\":\"help\"}", NULL);
    check("human-monitor-command",
          "{\"command-line\":\"help\",\"cpu-index\":true}",
          "Invalid parameter type for 'cpu-index', expected: integer");
    check("human-monitor-command", "{\"command-line\":null}",
          "Invalid parameter type for 'command-line', expected: string");
    /* device_add passes every property on to the -device parser */
    check("device_add", "{\"driver\":\"vfio-user-pci\",\"socket\":{}}", NULL);
    check("device_add", "{\"socket\":\"/x\"}", "Parameter 'driver' is missing");
    g_assert_null(qmp_command_find("query-cpus"));
}

static void test_error_class(void)
{
    GError *e = g_error_new(QMP_ERROR, QMP_ERROR_DEVICE_NOT_FOUND, "x");

    g_assert_cmpstr(qmp_error_class(e), ==, "DeviceNotFound");
    e->code = QMP_ERROR_COMMAND_NOT_FOUND;
    g_assert_cmpstr(qmp_error_class(e), ==, "CommandNotFound");
    g_error_free(e);
    e = g_error_new(G_FILE_ERROR, G_FILE_ERROR_NOENT, "x");
    g_assert_cmpstr(qmp_error_class(e), ==, "GenericError");
    g_error_free(e);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp/option", test_qmp_option);
    g_test_add_func("/qmp/mon-modes", test_mon_modes);
    g_test_add_func("/qmp/check-args", test_check_args);
    g_test_add_func("/qmp/error-class", test_error_class);
    return g_test_run();
}
