/*
 * QMP commands (see include/system/qmp.h): the table, argument checking,
 * and the commands that act on the machine (device_add, device_del,
 * system_reset, quit, human-monitor-command) or report simple state.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>
#include "hw/pci/pci_host.h"
#include "system/hotplug.h"
#include "system/json-stream.h"
#include "system/monitor.h"
#include "system/qmp.h"
#include "system/runstate.h"

JsonNode *qmp_empty_return(void)
{
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);

    json_node_take_object(n, json_object_new());
    return n;
}

static JsonNode *qmp_object_node(JsonObject *o)
{
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);

    json_node_take_object(n, o);
    return n;
}

static const char *qmp_arg_type_name(QmpArgType t)
{
    switch (t) {
    case QMP_ARG_STR:
        return "string";
    case QMP_ARG_INT:
        return "integer";
    case QMP_ARG_BOOL:
        return "boolean";
    default:
        return "array";
    }
}

static bool qmp_arg_type_ok(QmpArgType t, JsonNode *v)
{
    GType vt = JSON_NODE_HOLDS_VALUE(v) ? json_node_get_value_type(v) : 0;

    switch (t) {
    case QMP_ARG_STR:
        return vt == G_TYPE_STRING;
    case QMP_ARG_INT:
        return vt == G_TYPE_INT64;
    case QMP_ARG_BOOL:
        return vt == G_TYPE_BOOLEAN;
    default:
        if (!JSON_NODE_HOLDS_ARRAY(v)) {
            return false;
        }
        for (guint i = 0; i < json_array_get_length(json_node_get_array(v));
             i++) {
            JsonNode *e = json_array_get_element(json_node_get_array(v), i);

            if (!qmp_arg_type_ok(QMP_ARG_STR, e)) {
                return false;
            }
        }
        return true;
    }
}

static const QmpArg *qmp_arg_find(const QmpCommand *cmd, const char *name)
{
    for (const QmpArg *a = cmd->args; a && a->name; a++) {
        if (!strcmp(a->name, name)) {
            return a;
        }
    }
    return NULL;
}

bool qmp_check_args(const QmpCommand *cmd, JsonObject *args, GError **errp)
{
    g_autoptr(GList) members = args ? json_object_get_members(args) : NULL;

    for (GList *l = members; l; l = l->next) {
        const QmpArg *a = qmp_arg_find(cmd, l->data);

        if (!a && !cmd->any_args) {
            g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Parameter '%s' is unexpected", (char *)l->data);
            return false;
        }
        if (a &&
            !qmp_arg_type_ok(a->type, json_object_get_member(args, a->name))) {
            g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Invalid parameter type for '%s', expected: %s",
                        a->name, qmp_arg_type_name(a->type));
            return false;
        }
    }
    for (const QmpArg *a = cmd->args; a && a->name; a++) {
        if (!a->optional && !(args && json_object_has_member(args, a->name))) {
            g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Parameter '%s' is missing", a->name);
            return false;
        }
    }
    return true;
}

static JsonNode *qmp_capabilities(Machine *m, JsonObject *args, GError **errp)
{
    JsonArray *enable = NULL;

    (void)m;
    if (args && json_object_has_member(args, "enable")) {
        enable = json_object_get_array_member(args, "enable");
    }
    if (enable && json_array_get_length(enable)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Capability '%s' is not available",
                    json_array_get_string_element(enable, 0));
        return NULL;
    }
    return qmp_empty_return();
}

static JsonNode *qmp_query_status(Machine *m, JsonObject *args, GError **errp)
{
    JsonObject *o = json_object_new();

    (void)m;
    (void)args;
    (void)errp;
    json_object_set_boolean_member(o, "running", vmm_is_running());
    json_object_set_string_member(o, "status", vmm_run_status());
    return qmp_object_node(o);
}

JsonNode *qmp_version_info(void)
{
    g_auto(GStrv) v = g_strsplit(VMM_VERSION, ".", 3);
    JsonObject *o = json_object_new();
    JsonObject *qemu = json_object_new();
    static const char *const part[] = {"major", "minor", "micro"};

    for (unsigned i = 0; i < G_N_ELEMENTS(part); i++) {
        bool have = g_strv_length(v) > i;

        json_object_set_int_member(qemu, part[i],
                                   have ? strtol(v[i], NULL, 10) : 0);
    }
    json_object_set_object_member(o, "qemu", qemu);
    json_object_set_string_member(o, "package", "vfio-user-vmm " VMM_VERSION);
    return qmp_object_node(o);
}

static JsonNode *qmp_query_version(Machine *m, JsonObject *args, GError **errp)
{
    (void)m;
    (void)args;
    (void)errp;
    return qmp_version_info();
}

static JsonNode *qmp_query_commands(Machine *m, JsonObject *args, GError **errp)
{
    JsonArray *list = json_array_new();
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);

    (void)m;
    (void)args;
    (void)errp;
    for (const QmpCommand *c = qmp_command_table(); c->name; c++) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "name", c->name);
        json_array_add_object_element(list, o);
    }
    json_node_take_array(n, list);
    return n;
}

/* The arguments are the JSON -device form already. */
static JsonNode *qmp_device_add(Machine *m, JsonObject *args, GError **errp)
{
    g_autoptr(GString) spec = g_string_new(NULL);
    JsonNode *n = qmp_object_node(json_object_ref(args));

    json_stream_format(spec, n, false);
    json_node_unref(n);
    if (!hotplug_device_add(m, spec->str, errp)) {
        return NULL;
    }
    return qmp_empty_return();
}

void qmp_device_deleted(const char *id)
{
    g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", id);
    JsonObject *ev = json_object_new();

    json_object_set_string_member(ev, "device", id);
    json_object_set_string_member(ev, "path", path);
    qmp_event_send("DEVICE_DELETED", ev);
}

static JsonNode *qmp_device_del(Machine *m, JsonObject *args, GError **errp)
{
    const char *id = json_object_get_string_member(args, "id");
    g_autofree char *copy = g_strdup(id);

    if (!pci_host_find(m->pci, id)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", id);
        return NULL;
    }
    if (!hotplug_device_del(m, id, errp)) {
        return NULL;
    }
    qmp_device_deleted(copy);
    return qmp_empty_return();
}

/* RESET and SHUTDOWN carry who asked and why, as in QEMU. */
static JsonObject *qmp_cause(const char *reason)
{
    JsonObject *o = json_object_new();

    json_object_set_boolean_member(o, "guest", false);
    json_object_set_string_member(o, "reason", reason);
    return o;
}

/* After the reply went out, as QEMU orders them. */
static void qmp_reset_event(void)
{
    qmp_event_send("RESET", qmp_cause("host-qmp-system-reset"));
}

void qmp_system_reset(Machine *m)
{
    machine_reset(m);
    qmp_after_reply(qmp_reset_event);
}

static JsonNode *qmp_system_reset_cmd(Machine *m, JsonObject *args,
                                      GError **errp)
{
    (void)args;
    (void)errp;
    qmp_system_reset(m);
    return qmp_empty_return();
}

/* After the reply went out: SHUTDOWN, then the main loop ends. */
static void qmp_shutdown(void)
{
    qmp_event_send("SHUTDOWN", qmp_cause("host-qmp-quit"));
    vmm_request_quit();
}

void qmp_quit(void)
{
    qmp_after_reply(qmp_shutdown);
}

static JsonNode *qmp_quit_cmd(Machine *m, JsonObject *args, GError **errp)
{
    (void)m;
    (void)args;
    (void)errp;
    qmp_quit();
    return qmp_empty_return();
}

static JsonNode *qmp_hmp(Machine *m, JsonObject *args, GError **errp)
{
    g_autoptr(GString) out = g_string_new(NULL);
    JsonNode *n;

    if (json_object_has_member(args, "cpu-index") &&
        json_object_get_int_member(args, "cpu-index") != 0) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter 'cpu-index' expects 0 (there is no other CPU)");
        return NULL;
    }
    monitor_execute(m, json_object_get_string_member(args, "command-line"),
                    out);
    n = json_node_new(JSON_NODE_VALUE);
    json_node_set_string(n, out->str);
    return n;
}

static const QmpArg caps_args[] = {{"enable", QMP_ARG_STR_LIST, true}, {0}};
static const QmpArg id_args[] = {{"id", QMP_ARG_STR, false}, {0}};
static const QmpArg driver_args[] = {
    {"driver", QMP_ARG_STR, false}, {"id", QMP_ARG_STR, true}, {0}};
static const QmpArg hmp_args[] = {{"command-line", QMP_ARG_STR, false},
                                  {"cpu-index", QMP_ARG_INT, true},
                                  {0}};

static const QmpCommand qmp_commands[] = {
    {"qmp_capabilities", qmp_capabilities, caps_args, false},
    {"query-commands", qmp_query_commands, NULL, false},
    {"query-status", qmp_query_status, NULL, false},
    {"query-version", qmp_query_version, NULL, false},
    {"query-pci", qmp_query_pci, NULL, false},
    {"query-vfio-user", qmp_query_vfio_user, NULL, false},
    {"device_add", qmp_device_add, driver_args, true},
    {"device_del", qmp_device_del, id_args, false},
    {"system_reset", qmp_system_reset_cmd, NULL, false},
    {"quit", qmp_quit_cmd, NULL, false},
    {"human-monitor-command", qmp_hmp, hmp_args, false},
    {NULL},
};

const QmpCommand *qmp_command_table(void)
{
    return qmp_commands;
}

const QmpCommand *qmp_command_find(const char *name)
{
    for (const QmpCommand *c = qmp_commands; c->name; c++) {
        if (!strcmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}
