/*
 * -object memory-backend-*, -machine, -numa and -m: guest RAM and where
 * it comes from, and their cross-checks.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "options-internal.h"
#include "system/machine.h"
#include "vfio-user/error.h"

/* ---- -object: the property table is system/memory.c's ---- */

static void object_help(GString *out, HostMemType t)
{
    size_t n;
    const HostMemProp *props = host_mem_props(&n);
    static const char *const prop_type_names[] = {
        [HOSTMEM_PROP_ID] = "str",
        [HOSTMEM_PROP_STRING] = "str",
        [HOSTMEM_PROP_SIZE] = "size",
        [HOSTMEM_PROP_BOOL] = "bool",
    };

    g_string_append_printf(out, "%s options:\n", host_mem_type_name(t));
    for (size_t i = 0; i < n; i++) {
        const HostMemProp *p = &props[i];

        if (p->types & HOSTMEM_TYPE_BIT(t)) {
            vmm_prop_help_line(out, p->name, prop_type_names[p->type], p->help,
                               p->def, p->required & HOSTMEM_TYPE_BIT(t));
        }
    }
}

/* Set @p in @m from @val. */
static bool object_prop_set(const HostMemProp *p, HostMemoryOptions *m,
                            const char *val, GError **errp)
{
    void *field = (char *)m + p->offset;

    switch (p->type) {
    case HOSTMEM_PROP_ID:
    case HOSTMEM_PROP_STRING:
        return vmm_prop_set_string(p->name, val, p->type == HOSTMEM_PROP_ID,
                                   field, errp);
    case HOSTMEM_PROP_SIZE:
        if (!vmm_parse_size(val, 1, field)) {
            return vfio_user_error_set(errp, EINVAL,
                                       "%s: expected a size like 64M, got '%s'",
                                       p->name, val);
        }
        return true;
    case HOSTMEM_PROP_BOOL:
        *(bool *)((char *)m + p->given) = true;
        return vmm_prop_set_bool(p->name, val, field, errp);
    }
    g_assert_not_reached();
}

static bool object_prop(void *target, const KeyVal *kv, GError **errp)
{
    HostMemoryOptions *m = target;
    const HostMemProp *p = host_mem_prop_find(kv->key);
    bool takes = p && (p->types & HOSTMEM_TYPE_BIT(m->type));
    g_autofree char *only = NULL;

    if (!takes && !(p && p->only_error)) {
        return vfio_user_error_set(
            errp, EINVAL, "unknown property '%s' (see -object %s,help)",
            kv->key, host_mem_type_name(m->type));
    }
    if (!object_prop_set(p, m, kv->val, errp)) {
        return false;
    }
    if (!takes) {
        only = host_mem_prop_type_names(p);
        return vfio_user_error_set(errp, EINVAL, "%s: only %s has it", p->name,
                                   only);
    }
    return true;
}

static bool object_check(VmmOptions *o, HostMemoryOptions *m, GError **errp)
{
    size_t n;
    const HostMemProp *props = host_mem_props(&n);

    for (size_t i = 0; i < n; i++) {
        const HostMemProp *p = &props[i];

        if ((p->required & HOSTMEM_TYPE_BIT(m->type)) &&
            !host_mem_prop_given(p, m)) {
            return vfio_user_error_set(errp, EINVAL, "%s=%s is required",
                                       p->name, p->metavar);
        }
    }
    for (guint i = 0; i + 1 < o->objects->len; i++) {
        HostMemoryOptions *x = g_ptr_array_index(o->objects, i);

        if (!strcmp(x->id, m->id)) {
            return vfio_user_error_set(errp, EEXIST, "duplicate id '%s'",
                                       m->id);
        }
    }
    return true;
}

bool vmm_parse_object_opt(VmmOptions *o, const char *arg, GError **errp)
{
    g_autoptr(GPtrArray) items = keyval_split(arg);
    const char *type = keyval_type(items, "qom-type");
    HostMemoryOptions *m;
    HostMemType t;
    GError *err = NULL;

    if (type && (!strcmp(type, "help") || !strcmp(type, "?"))) {
        o->print = g_string_new("available objects:\n"
                                "  memory-backend-ram\n"
                                "  memory-backend-memfd\n"
                                "  memory-backend-file\n");
        return true;
    }
    if (!host_mem_type_parse(type, &t)) {
        return vfio_user_error_set(
            errp, EINVAL,
            "-object %s: unknown object type (available: memory-backend-ram, memory-backend-memfd, memory-backend-file)",
            type ? type : arg);
    }
    if (keyval_want_help(items)) {
        o->print = g_string_new(NULL);
        object_help(o->print, t);
        return true;
    }
    m = g_new0(HostMemoryOptions, 1);
    m->type = t;
    g_ptr_array_add(o->objects, m);
    vmm_apply_props(items, object_prop, m, &err);
    if (err || !object_check(o, m, &err)) {
        g_propagate_prefixed_error(errp, err, "-object %s: ", type);
        return false;
    }
    return true;
}

/* ---- -machine, -m, chardevs ---- */

/* -machine or -M (@name as typed). */
bool vmm_parse_machine_opt(VmmOptions *o, const char *name, const char *arg,
                           GError **errp)
{
    g_autoptr(GPtrArray) items = keyval_split(arg);

    for (guint i = 0; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);
        const char *type = !kv->val                   ? kv->key
                           : !strcmp(kv->key, "type") ? kv->val
                                                      : NULL;

        if (type && (!strcmp(type, "help") || !strcmp(type, "?"))) {
            o->print =
                g_string_new("available machines:\n  " MACHINE_TYPE
                             "  (the only one; options: memory-backend=ID)\n");
            return true;
        }
        if (type && i == 0 && !strcmp(type, MACHINE_TYPE)) {
            continue;
        }
        if (type) {
            return vfio_user_error_set(
                errp, EINVAL,
                "-%s: unknown machine type '%s' (available: " MACHINE_TYPE ")",
                name, type);
        }
        if (!strcmp(kv->key, "accel") && !g_strcmp0(kv->val, "qtest")) {
            continue; /* libqtest's spelling; there is no CPU anyway */
        }
        if (strcmp(kv->key, "memory-backend")) {
            return vfio_user_error_set(
                errp, EINVAL,
                "-%s: unknown property '%s' (expected memory-backend=ID or accel=qtest)",
                name, kv->key);
        }
        if (o->machine_backend &&
            g_str_has_prefix(o->machine_backend_opt, "-numa") &&
            strcmp(o->machine_backend, kv->val)) {
            return vfio_user_error_set(
                errp, EINVAL,
                "-%s memory-backend=%s: the machine has one NUMA node and its RAM is already '%s' (-numa node,memdev)",
                name, kv->val, o->machine_backend);
        }
        g_free(o->machine_backend);
        o->machine_backend = g_strdup(kv->val);
        o->machine_backend_opt =
            *name == 'M' ? "-M memory-backend" : "-machine memory-backend";
    }
    return true;
}

/* -numa node[,nodeid=0][,memdev=ID]: one node, its memory is guest RAM. */
bool vmm_parse_numa_opt(VmmOptions *o, const char *arg, GError **errp)
{
    g_autoptr(GPtrArray) items = keyval_split(arg);
    const char *type = keyval_type(items, "type");

    if (g_strcmp0(type, "node")) {
        return vfio_user_error_set(
            errp, EINVAL, "-numa %s: only -numa node,memdev=ID is supported",
            arg);
    }
    for (guint i = 1; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (!strcmp(kv->key, "memdev") && kv->val) {
            if (o->machine_backend && strcmp(o->machine_backend, kv->val)) {
                // clang-format off
                return vfio_user_error_set( errp, EINVAL, "-numa node,memdev=%s: the machine has one NUMA node and its RAM is already '%s'", kv->val, o->machine_backend);
                // clang-format on
            }
            g_free(o->machine_backend);
            o->machine_backend = g_strdup(kv->val);
            o->machine_backend_opt = "-numa node,memdev";
        } else if (!strcmp(kv->key, "nodeid") && !g_strcmp0(kv->val, "0")) {
            continue;
        } else {
            // clang-format off
            return vfio_user_error_set(errp, EINVAL, "-numa node: unsupported option '%s' (expected memdev=ID, nodeid=0)", kv->key);
            // clang-format on
        }
    }
    return true;
}

bool vmm_parse_mem_opt(VmmOptions *o, const char *arg, GError **errp)
{
    const char *s = g_str_has_prefix(arg, "size=") ? arg + 5 : arg;

    if (!vmm_parse_size(s, 1ULL << 20, &o->ram_size) || !o->ram_size) {
        return vfio_user_error_set(
            errp, EINVAL, "-m: expected a size like 512M, got '%s'", arg);
    }
    o->ram_size_set = true;
    return true;
}

bool vmm_check_machine(VmmOptions *o, GError **errp)
{
    if (o->machine_backend) {
        HostMemoryOptions *m = NULL;

        for (guint i = 0; i < o->objects->len; i++) {
            HostMemoryOptions *x = g_ptr_array_index(o->objects, i);

            if (!strcmp(x->id, o->machine_backend)) {
                m = x;
            }
        }
        if (!m) {
            return vfio_user_error_set(
                errp, ENOENT, "%s=%s: no -object with that id",
                o->machine_backend_opt, o->machine_backend);
        }
        if (o->ram_size_set && o->ram_size != m->size) {
            return vfio_user_error_set(
                errp, EINVAL,
                "%s=%s: backend size %" PRIu64 " differs from -m %" PRIu64,
                o->machine_backend_opt, m->id, m->size, o->ram_size);
        }
        o->ram_size = m->size;
    }
    for (guint i = 0; i < o->objects->len; i++) {
        HostMemoryOptions *x = g_ptr_array_index(o->objects, i);

        if (g_strcmp0(x->id, o->machine_backend)) {
            // clang-format off
            g_warning( "-object %s,id=%s: memory backend not used as guest RAM (use -machine memory-backend=%s or -numa node,memdev=%s)", host_mem_type_name(x->type), x->id, x->id, x->id);
            // clang-format on
        }
    }
    return true;
}
