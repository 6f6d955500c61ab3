/*
 * Command-line options for character devices and monitors (-qtest's and
 * -monitor's "stdio|unix:PATH,...", -chardev, -mon, -qmp), and the QEMU
 * options vfio-user-vmm accepts so that libqtest and management tools can
 * start it unchanged (-accel qtest, -display none, -S, -name, ...).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include "system/keyval.h"
#include "system/log.h"
#include "system/options.h"
#include "vfio-user/error.h"

void char_spec_clear(CharSpec *c)
{
    g_clear_pointer(&c->path, g_free);
    g_clear_pointer(&c->log_path, g_free);
}

void char_spec_free(CharSpec *c)
{
    if (c) {
        char_spec_clear(c);
        g_free(c);
    }
}

/* server[=on|off], nowait, wait=on|off: true if @kv was one of them. */
static bool char_socket_flag(CharSpec *out, const KeyVal *kv)
{
    bool b = true;

    if (!strcmp(kv->key, "server") &&
        (!kv->val || vmm_parse_bool(kv->val, &b))) {
        out->server = b;
        return true;
    }
    /* We never block waiting for a client: wait=on acts as wait=off. */
    return (!strcmp(kv->key, "nowait") && !kv->val) ||
           (!strcmp(kv->key, "wait") && kv->val && vmm_parse_bool(kv->val, &b));
}

bool vmm_parse_char(const char *s, CharSpec *out, GError **errp)
{
    g_autoptr(GPtrArray) items = NULL;
    KeyVal *first;

    memset(out, 0, sizeof(*out));
    if (!strcmp(s, "stdio")) {
        out->is_stdio = true;
        return true;
    }
    if (!g_str_has_prefix(s, "unix:") || !s[5] || s[5] == ',') {
        // clang-format off
        return vfio_user_error_set(errp, EINVAL, "expected stdio or unix:PATH, got '%s'", s);
        // clang-format on
    }
    items = keyval_split(s + 5);
    first = g_ptr_array_index(items, 0);
    out->path = first->val ? g_strconcat(first->key, "=", first->val, NULL)
                           : g_strdup(first->key);
    for (guint i = 1; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (!char_socket_flag(out, kv)) {
            g_clear_pointer(&out->path, g_free);
            // clang-format off
            return vfio_user_error_set(errp, EINVAL, "unknown socket option '%s' (expected server, nowait or wait=off)", kv->key);
            // clang-format on
        }
    }
    return true;
}

/* -chardev socket,id=ID,path=PATH[,server=on|off][,wait=on|off] or
 * -chardev stdio,id=ID */
bool vmm_parse_chardev_opt(VmmOptions *o, const char *arg, GError **errp)
{
    g_autoptr(GPtrArray) items = keyval_split(arg);
    const char *type = keyval_type(items, "backend");
    ChardevSpec *c = g_new0(ChardevSpec, 1);

    g_ptr_array_add(o->chardevs, c);
    if (!type || (strcmp(type, "socket") && strcmp(type, "stdio"))) {
        // clang-format off
        return vfio_user_error_set(errp, EINVAL, "-chardev %s: unsupported backend (available: socket with path=, stdio)", type ? type : arg);
        // clang-format on
    }
    c->chr.is_stdio = !strcmp(type, "stdio");
    for (guint i = 1; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (!strcmp(kv->key, "id") && kv->val) {
            g_free(c->id);
            c->id = g_strdup(kv->val);
        } else if (!strcmp(kv->key, "path") && kv->val && !c->chr.is_stdio) {
            g_free(c->chr.path);
            c->chr.path = g_strdup(kv->val);
        } else if (c->chr.is_stdio || !char_socket_flag(&c->chr, kv)) {
            // clang-format off
            return vfio_user_error_set(errp, EINVAL, "-chardev %s: unknown option '%s' (expected id=, path=, server=, wait=)", type, kv->key);
            // clang-format on
        }
    }
    if (!c->id) {
        return vfio_user_error_set(errp, EINVAL,
                                   "-chardev %s: id=ID is required", type);
    }
    if (!c->chr.is_stdio && !c->chr.path) {
        // clang-format off
        return vfio_user_error_set(errp, EINVAL, "-chardev socket,id=%s: path=PATH is required (only UNIX sockets are supported)", c->id);
        // clang-format on
    }
    for (guint i = 0; i + 1 < o->chardevs->len; i++) {
        ChardevSpec *x = g_ptr_array_index(o->chardevs, i);

        if (!g_strcmp0(x->id, c->id)) {
            return vfio_user_error_set(errp, EEXIST,
                                       "-chardev: duplicate id '%s'", c->id);
        }
    }
    return true;
}

static ChardevSpec *find_chardev(VmmOptions *o, const char *id)
{
    for (guint i = 0; i < o->chardevs->len; i++) {
        ChardevSpec *c = g_ptr_array_index(o->chardevs, i);

        if (!g_strcmp0(c->id, id)) {
            return c;
        }
    }
    return NULL;
}

/* -mon [chardev=]ID[,mode=control|readline][,pretty=on|off] */
bool vmm_parse_mon_opt(VmmOptions *o, const char *arg, GError **errp)
{
    g_autoptr(GPtrArray) items = keyval_split(arg);
    const char *id = keyval_type(items, "chardev");
    bool pretty = false, control = false;
    ChardevSpec *c;
    MonSpec *m;

    for (guint i = id ? 1 : 0; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (!strcmp(kv->key, "mode") && kv->val &&
            (!strcmp(kv->val, "control") || !strcmp(kv->val, "readline"))) {
            control = !strcmp(kv->val, "control");
        } else if (!strcmp(kv->key, "pretty") && kv->val &&
                   vmm_parse_bool(kv->val, &pretty)) {
            continue;
        } else {
            // clang-format off
            return vfio_user_error_set(errp, EINVAL, "-mon: unknown option '%s' (expected chardev=ID, mode=control|readline)", kv->key);
            // clang-format on
        }
    }
    if (!id) {
        return vfio_user_error_set(errp, EINVAL,
                                   "-mon: chardev=ID is required");
    }
    c = find_chardev(o, id);
    if (!c) {
        return vfio_user_error_set(
            errp, ENOENT, "-mon chardev=%s: no -chardev with that id", id);
    }
    if (c->used) {
        return vfio_user_error_set(
            errp, EBUSY, "-mon chardev=%s: chardev is already in use", id);
    }
    c->used = true;
    m = g_new0(MonSpec, 1);
    m->chr = c->chr;
    m->chr.path = g_strdup(c->chr.path);
    m->control = control;
    m->pretty = pretty;
    g_ptr_array_add(o->mons, m);
    return true;
}

/* -qmp unix:PATH,server=on,wait=off or -qmp stdio: a QMP monitor. */
bool vmm_parse_qmp_opt(VmmOptions *o, const char *arg, GError **errp)
{
    MonSpec *m = g_new0(MonSpec, 1);

    if (!vmm_parse_char(arg, &m->chr, errp)) {
        g_free(m);
        g_prefix_error(errp, "-qmp: ");
        return false;
    }
    m->control = true;
    g_ptr_array_add(o->mons, m);
    return true;
}

/* ---- QEMU options with nothing (or little) to do here ---- */

bool vmm_compat_flag(VmmOptions *o, const char *name)
{
    static const char *const noops[] = {
        "nographic", "nodefaults", "no-user-config", "no-shutdown",
        "no-reboot", "no-hpet",    "enable-fips",
    };

    if (!strcmp(name, "S")) {
        o->start_stopped = true;
        return true;
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(noops); i++) {
        if (!strcmp(name, noops[i])) {
            return true;
        }
    }
    return false;
}

/* Options whose only accepted value is "none" (nothing to attach). */
static const char *const none_only[] = {
    "display", "audio", "net", "nic", "vga", "serial", "parallel",
};

bool vmm_compat_takes_arg(const char *name)
{
    static const char *const with_arg[] = {
        "accel", "name",    "qtest-log", "run-with",
        "trace", "chardev", "mon",       "qmp",
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(with_arg); i++) {
        if (!strcmp(name, with_arg[i])) {
            return true;
        }
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(none_only); i++) {
        if (!strcmp(name, none_only[i])) {
            return true;
        }
    }
    return false;
}

static bool parse_name(VmmOptions *o, const char *arg, GError **errp)
{
    g_autoptr(GPtrArray) items = keyval_split(arg);

    for (guint i = 0; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (i == 0 && !kv->val) {
            g_free(o->name);
            o->name = g_strdup(kv->key);
        } else if (!strcmp(kv->key, "guest") && kv->val) {
            g_free(o->name);
            o->name = g_strdup(kv->val);
        } else if (!strcmp(kv->key, "process") ||
                   !strcmp(kv->key, "debug-threads")) {
            continue; /* QEMU's thread and process naming: not applicable */
        } else {
            return vfio_user_error_set(
                errp, EINVAL,
                "-name: unknown option '%s' (expected NAME or guest=NAME)",
                kv->key);
        }
    }
    return true;
}

static bool parse_run_with(VmmOptions *o, const char *arg, GError **errp)
{
    g_autoptr(GPtrArray) items = keyval_split(arg);

    for (guint i = 0; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (strcmp(kv->key, "exit-with-parent") || !kv->val ||
            !vmm_parse_bool(kv->val, &o->exit_with_parent)) {
            // clang-format off
            return vfio_user_error_set(errp, EINVAL, "-run-with: unsupported option '%s' (expected exit-with-parent=on|off)", kv->key);
            // clang-format on
        }
    }
    return true;
}

static bool parse_accel(const char *arg, GError **errp)
{
    g_autoptr(GPtrArray) items = keyval_split(arg);
    const char *type = keyval_type(items, "accel");

    if (g_strcmp0(type, "qtest") || items->len > 1) {
        // clang-format off
        return vfio_user_error_set(errp, EINVAL, "-accel %s: there is no CPU to accelerate; only -accel qtest is accepted", arg);
        // clang-format on
    }
    return true;
}

bool vmm_parse_compat_opt(VmmOptions *o, const char *name, const char *arg,
                          GError **errp)
{
    if (!strcmp(name, "chardev")) {
        return vmm_parse_chardev_opt(o, arg, errp);
    } else if (!strcmp(name, "mon")) {
        return vmm_parse_mon_opt(o, arg, errp);
    } else if (!strcmp(name, "qmp")) {
        return vmm_parse_qmp_opt(o, arg, errp);
    } else if (!strcmp(name, "accel")) {
        return parse_accel(arg, errp);
    } else if (!strcmp(name, "name")) {
        return parse_name(o, arg, errp);
    } else if (!strcmp(name, "run-with")) {
        return parse_run_with(o, arg, errp);
    } else if (!strcmp(name, "qtest-log")) {
        g_free(o->qtest_log);
        o->qtest_log = g_strdup(arg);
        return true;
    } else if (!strcmp(name, "trace")) {
        GString *help = g_string_new(NULL);
        bool ok = vmm_trace_parse(arg, help, &o->trace_file, errp);

        if (ok && help->len) {
            o->print = help;
            return true;
        }
        g_string_free(help, true);
        return ok;
    }
    if (strcmp(arg, "none") &&
        !(!strcmp(name, "audio") && !strcmp(arg, "driver=none"))) {
        // clang-format off
        return vfio_user_error_set(errp, EINVAL, "-%s %s: not supported (the VMM has no %s; only -%s none is accepted)", name, arg, name, name);
        // clang-format on
    }
    return true;
}
