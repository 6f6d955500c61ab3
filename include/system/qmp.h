/*
 * QMP, QEMU's machine protocol, on a character device (-qmp, -mon
 * mode=control): a greeting, capabilities negotiation, then commands as
 * JSON objects {"execute": NAME, "arguments": {...}, "id": ANY} answered
 * with {"return": ...} or {"error": {"class", "desc"}}, and asynchronous
 * events.  Single-threaded: everything runs on the main loop.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_QMP_H
#define SYSTEM_QMP_H

#include <stdbool.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include "system/machine.h"
#include "system/options.h"

/* The error classes a reply carries ("class"), as QEMU names them. */
#define QMP_ERROR qmp_error_quark()
GQuark qmp_error_quark(void);
typedef enum QmpErrorClass {
    QMP_ERROR_GENERIC,           /* GenericError */
    QMP_ERROR_COMMAND_NOT_FOUND, /* CommandNotFound */
    QMP_ERROR_DEVICE_NOT_FOUND,  /* DeviceNotFound */
} QmpErrorClass;

/* The class name of @err: its QMP_ERROR code, else GenericError. */
const char *qmp_error_class(const GError *err);

typedef struct QmpMonitor QmpMonitor;

QmpMonitor *qmp_monitor_new(Machine *m, const CharSpec *spec, bool pretty,
                            GError **errp);
void qmp_monitor_free(QmpMonitor *q);

/*
 * Send event @name with @data (an object; taken; NULL: none) to every
 * client past capabilities negotiation, stamped with the current time.
 */
void qmp_event_send(const char *name, JsonObject *data);

/*
 * Run @fn once the reply of the command being executed has gone out: at
 * once after that reply when the command came over QMP (so the end of
 * the client's input cannot come in between), else from an idle callback.
 */
typedef void (*QmpDeferredFn)(void);
void qmp_after_reply(QmpDeferredFn fn);

/*
 * The actions behind commands both monitors have, with their events, so
 * that the human monitor (also through human-monitor-command) sends the
 * same events as QMP: DEVICE_DELETED for a device already removed, RESET
 * (sent after the current reply) for a reset done now, and SHUTDOWN then
 * the end of the main loop, after the current reply.
 */
void qmp_device_deleted(const char *id);
void qmp_system_reset(Machine *m);
void qmp_quit(void);

/* ---- commands (system/qmp-cmds.c) ---- */

typedef enum QmpArgType {
    QMP_ARG_STR,
    QMP_ARG_INT,
    QMP_ARG_BOOL,
    QMP_ARG_STR_LIST,
} QmpArgType;

typedef struct QmpArg {
    const char *name;
    QmpArgType type;
    bool optional;
} QmpArg;

/* The "return" value (taken by the caller), or NULL with @errp set. */
typedef JsonNode *(*QmpCommandFn)(Machine *m, JsonObject *args, GError **errp);

typedef struct QmpCommand {
    const char *name;
    QmpCommandFn fn;
    const QmpArg *args; /* ends with {NULL}; checked before fn runs */
    bool any_args;      /* args lists the required ones; others pass */
} QmpCommand;

/* NULL if there is no such command. */
const QmpCommand *qmp_command_find(const char *name);
/* The table, for query-commands; ends with {NULL}. */
const QmpCommand *qmp_command_table(void);

/*
 * Check @args (may be NULL: none) against @cmd's list: a missing, extra
 * or wrongly typed member is a GenericError ("Parameter 'id' is missing").
 */
bool qmp_check_args(const QmpCommand *cmd, JsonObject *args, GError **errp);

/* An empty object node ({}), the return value of most commands. */
JsonNode *qmp_empty_return(void);

/* query-version's value, also in the greeting. */
JsonNode *qmp_version_info(void);

/* query-pci (system/qmp-query.c). */
JsonNode *qmp_query_pci(Machine *m, JsonObject *args, GError **errp);

/* query-vfio-user, and its events (system/qmp-vfio-user.c). */
JsonNode *qmp_query_vfio_user(Machine *m, JsonObject *args, GError **errp);
/* Send VFIO_USER_SERVER_FAILED, VFIO_USER_SERVER_RECONNECTED and
 * VFIO_USER_RECONNECT_GAVE_UP from now on. */
void qmp_vfio_user_events_init(void);

#endif /* SYSTEM_QMP_H */
