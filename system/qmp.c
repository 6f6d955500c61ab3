/*
 * QMP sessions (see include/system/qmp.h): the wire protocol on top of a
 * character device and a JSON stream, request checking and dispatch,
 * replies and events.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "hw/pci/pci_host.h"
#include "system/chardev.h"
#include "system/json-stream.h"
#include "system/qmp.h"

/* Main-thread only. */
struct QmpMonitor {
    Machine *m;
    CharLine *chr;
    JsonStream *in;
    bool pretty;
    bool connected;
    bool negotiated; /* qmp_capabilities done: commands and events */
};

static GList *qmp_monitors; /* QmpMonitor *, for events */

GQuark qmp_error_quark(void)
{
    return g_quark_from_static_string("qmp-error-quark");
}

const char *qmp_error_class(const GError *err)
{
    if (err->domain == QMP_ERROR) {
        switch (err->code) {
        case QMP_ERROR_COMMAND_NOT_FOUND:
            return "CommandNotFound";
        case QMP_ERROR_DEVICE_NOT_FOUND:
            return "DeviceNotFound";
        default:
            break;
        }
    }
    return "GenericError";
}

/* Write @obj (taken) as one message. */
static void qmp_send(QmpMonitor *q, JsonObject *obj)
{
    g_autoptr(GString) out = g_string_new(NULL);
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);

    json_node_take_object(node, obj);
    json_stream_format(out, node, q->pretty);
    json_node_unref(node);
    g_string_append(out, "\r\n");
    if (q->connected) {
        char_line_write(q->chr, out->str);
    }
}

static void qmp_send_error(QmpMonitor *q, const GError *err, JsonNode *id)
{
    JsonObject *reply = json_object_new();
    JsonObject *e = json_object_new();

    json_object_set_string_member(e, "class", qmp_error_class(err));
    json_object_set_string_member(e, "desc", err->message);
    json_object_set_object_member(reply, "error", e);
    if (id) {
        json_object_set_member(reply, "id", json_node_copy(id));
    }
    qmp_send(q, reply);
}

void qmp_event_send(const char *name, JsonObject *data)
{
    gint64 now = g_get_real_time();

    for (GList *l = qmp_monitors; l; l = l->next) {
        QmpMonitor *q = l->data;
        JsonObject *ev, *ts;

        if (!q->connected || !q->negotiated) {
            continue;
        }
        ev = json_object_new();
        ts = json_object_new();
        json_object_set_string_member(ev, "event", name);
        if (data) {
            json_object_set_object_member(ev, "data", json_object_ref(data));
        }
        json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
        json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
        json_object_set_object_member(ev, "timestamp", ts);
        qmp_send(q, ev);
    }
    if (data) {
        json_object_unref(data);
    }
}

/* The members of a request: execute (a string), arguments, id. */
static bool qmp_check_request(JsonObject *req, const char **name,
                              JsonObject **args, GError **errp)
{
    g_autoptr(GList) members = json_object_get_members(req);
    JsonNode *exec = json_object_get_member(req, "execute");
    JsonNode *a = json_object_get_member(req, "arguments");

    for (GList *l = members; l; l = l->next) {
        const char *k = l->data;

        if (strcmp(k, "execute") && strcmp(k, "arguments") && strcmp(k, "id")) {
            g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                        "QMP input member '%s' is unexpected", k);
            return false;
        }
    }
    if (!exec) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "QMP input lacks member 'execute'");
        return false;
    }
    if (!JSON_NODE_HOLDS_VALUE(exec) ||
        json_node_get_value_type(exec) != G_TYPE_STRING) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "QMP input member 'execute' must be a string");
        return false;
    }
    if (a && !JSON_NODE_HOLDS_OBJECT(a)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "QMP input member 'arguments' must be an object");
        return false;
    }
    *name = json_node_get_string(exec);
    *args = a ? json_node_get_object(a) : NULL;
    return true;
}

/* Find the command, honouring the negotiation state. */
static const QmpCommand *qmp_lookup(QmpMonitor *q, const char *name,
                                    GError **errp)
{
    const QmpCommand *cmd = qmp_command_find(name);
    bool caps = !strcmp(name, "qmp_capabilities");

    if (!q->negotiated && !caps) {
        // clang-format off
        g_set_error(errp, QMP_ERROR, QMP_ERROR_COMMAND_NOT_FOUND, "Expecting capabilities negotiation with 'qmp_capabilities'");
        // clang-format on
        return NULL;
    }
    if (q->negotiated && caps) {
        // clang-format off
        g_set_error(errp, QMP_ERROR, QMP_ERROR_COMMAND_NOT_FOUND, "Capabilities negotiation is already complete, command ignored");
        // clang-format on
        return NULL;
    }
    if (!cmd) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_COMMAND_NOT_FOUND,
                    "The command %s has not been found", name);
    }
    return cmd;
}

/* Check and run one request; the reply value, or NULL with @errp. */
static JsonNode *qmp_dispatch(QmpMonitor *q, JsonNode *value, GError **errp)
{
    const QmpCommand *cmd;
    const char *name;
    JsonObject *args;
    JsonNode *ret;

    if (!JSON_NODE_HOLDS_OBJECT(value)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "QMP input must be a JSON object");
        return NULL;
    }
    if (!qmp_check_request(json_node_get_object(value), &name, &args, errp)) {
        return NULL;
    }
    cmd = qmp_lookup(q, name, errp);
    if (!cmd || !qmp_check_args(cmd, args, errp)) {
        return NULL;
    }
    ret = cmd->fn(q->m, args, errp);
    if (ret && !strcmp(cmd->name, "qmp_capabilities")) {
        q->negotiated = true;
    }
    if (q->m && q->m->pci) {
        pci_host_flush(q->m->pci); /* e.g. after human-monitor-command xp */
    }
    return ret;
}

/* Actions waiting for the current reply (QmpDeferredFn), oldest first. */
static GArray *qmp_deferred;
static guint qmp_deferred_idle;

static void qmp_run_deferred(void)
{
    g_clear_handle_id(&qmp_deferred_idle, g_source_remove);
    while (qmp_deferred && qmp_deferred->len) {
        QmpDeferredFn fn = g_array_index(qmp_deferred, QmpDeferredFn, 0);

        g_array_remove_index(qmp_deferred, 0);
        fn();
    }
}

static gboolean qmp_deferred_cb(gpointer p)
{
    (void)p;
    qmp_deferred_idle = 0;
    qmp_run_deferred();
    return G_SOURCE_REMOVE;
}

void qmp_after_reply(QmpDeferredFn fn)
{
    if (!qmp_deferred) {
        qmp_deferred = g_array_new(false, false, sizeof(QmpDeferredFn));
    }
    g_array_append_val(qmp_deferred, fn);
    if (!qmp_deferred_idle) {
        qmp_deferred_idle = g_idle_add(qmp_deferred_cb, NULL);
    }
}

static void qmp_input(JsonNode *value, const GError *err, void *opaque)
{
    QmpMonitor *q = opaque;
    g_autoptr(GError) local = NULL;
    JsonNode *id = NULL;
    JsonNode *ret;
    JsonObject *reply;

    if (!value) {
        qmp_send_error(q, err, NULL);
        return;
    }
    if (JSON_NODE_HOLDS_OBJECT(value)) {
        id = json_object_get_member(json_node_get_object(value), "id");
    }
    ret = qmp_dispatch(q, value, &local);
    if (!ret) {
        qmp_send_error(q, local, id);
    } else {
        reply = json_object_new();
        json_object_set_member(reply, "return", ret);
        if (id) {
            json_object_set_member(reply, "id", json_node_copy(id));
        }
        qmp_send(q, reply);
    }
    qmp_run_deferred();
}

static void qmp_opened(CharLine *c, void *opaque)
{
    QmpMonitor *q = opaque;
    JsonObject *greeting = json_object_new();
    JsonObject *qmp = json_object_new();

    q->chr = c; /* stdio is opened before char_line_new() returns */
    q->connected = true;
    q->negotiated = false;
    json_stream_reset(q->in);
    json_object_set_member(qmp, "version", qmp_version_info());
    json_object_set_array_member(qmp, "capabilities", json_array_new());
    json_object_set_object_member(greeting, "QMP", qmp);
    qmp_send(q, greeting);
}

static void qmp_data(CharLine *c, const char *buf, size_t len, void *opaque)
{
    QmpMonitor *q = opaque;

    (void)c;
    json_stream_feed(q->in, buf, len);
}

/* A client left: the next one (on a listening socket) starts afresh. */
static void qmp_closed(CharLine *c, bool final, void *opaque)
{
    QmpMonitor *q = opaque;

    (void)c;
    (void) final; /* unlike the human monitor, QMP's EOF does not quit */
    q->connected = false;
    q->negotiated = false;
}

static const CharLineOps qmp_chr_ops = {
    .opened = qmp_opened,
    .data = qmp_data,
    .closed = qmp_closed,
};

QmpMonitor *qmp_monitor_new(Machine *m, const CharSpec *spec, bool pretty,
                            GError **errp)
{
    QmpMonitor *q = g_new0(QmpMonitor, 1);

    q->m = m;
    q->pretty = pretty;
    q->in = json_stream_new(qmp_input, q);
    qmp_monitors = g_list_append(qmp_monitors, q);
    q->chr = char_line_new(spec, &qmp_chr_ops, q, errp);
    if (!q->chr) {
        g_prefix_error(errp, "-qmp: ");
        qmp_monitor_free(q);
        return NULL;
    }
    return q;
}

void qmp_monitor_free(QmpMonitor *q)
{
    if (q) {
        qmp_monitors = g_list_remove(qmp_monitors, q);
        char_line_free(q->chr);
        json_stream_free(q->in);
        g_free(q);
    }
}
