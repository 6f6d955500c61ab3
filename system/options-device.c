/*
 * -device vfio-user-pci and device_add: one property table drives the
 * parsing of "vfio-user-pci,KEY=VALUE,..." and of the JSON form (both
 * come here as KeyVal items) and the ",help" text.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "hw/pci/pci.h"
#include "options-internal.h"
#include "system/options-device.h"
#include "vfio-user/error.h"

#define OPT(field) offsetof(VFIOUserPCIOptions, field)

static const VmmDeviceProp device_props[] = {
    {"socket", VMM_PROP_STRING, OPT(socket), .required = true,
     .help = "UNIX socket of the vfio-user server"},
    {"socket.type", VMM_PROP_SOCKET, .help_type = "unix|fd",
     .help = "SocketAddress form of socket (JSON: \"socket\":{...})"},
    {"socket.path", VMM_PROP_SOCKET, .help_type = "str",
     .help = "with socket.type=unix: the path"},
    {"socket.str", VMM_PROP_SOCKET, .help_type = "int",
     .help = "with socket.type=fd: an fd the VMM inherited, already connected"},
    {"id", VMM_PROP_ID, OPT(id), .def = "dev<slot>",
     .help = "name for the monitor (device_del, info)"},
    {"addr", VMM_PROP_SLOT, .def = "first free",
     .help = "PCI slot 0x1..0x1f (function 0 only)"},
    {"dma-access", VMM_PROP_DMA_ACCESS, OPT(dma_access), .def = "auto",
     .help = "how the server reaches guest RAM"},
    {"x-msg-timeout", VMM_PROP_UINT32, OPT(msg_timeout_ms), 1, UINT32_MAX,
     "milliseconds from 1 to 4294967295", .def = "5000",
     .help = "reply timeout in milliseconds"},
    {"x-poll-us", VMM_PROP_UINT32, OPT(poll_us), 0, 1000000,
     "microseconds from 0 to 1000000", .def = "0",
     .help =
         "busy-poll this long for a reply before sleeping (helps when the server runs on another CPU)"},
    {"x-no-posted-writes", VMM_PROP_BOOL, OPT(no_posted_writes), .def = "off",
     .help = "wait for a reply to every BAR write"},
    {"x-no-write-multi", VMM_PROP_BOOL, OPT(no_write_multi), .def = "off",
     .help = "send batched posted writes one message each"},
    {"reconnect-ms", VMM_PROP_UINT32, OPT(reconnect_ms), 0, 3600000,
     "0 to 3600000 ms", .def = "0",
     .help = "after the server fails, reconnect every N ms (0: stay failed)"},
    {"x-pci-vendor-id", VMM_PROP_PCI_ID, OPT(vendor_id),
     .def = "from the server", .help = "override"},
    {"x-pci-device-id", VMM_PROP_PCI_ID, OPT(device_id),
     .def = "from the server", .help = "override"},
    {"x-pci-sub-vendor-id", VMM_PROP_PCI_ID, OPT(sub_vendor_id),
     .def = "from the server", .help = "override"},
    {"x-pci-sub-device-id", VMM_PROP_PCI_ID, OPT(sub_device_id),
     .def = "from the server", .help = "override"},
};

static const char *const prop_type_names[] = {
    [VMM_PROP_STRING] = "str",    [VMM_PROP_ID] = "str",
    [VMM_PROP_BOOL] = "bool",     [VMM_PROP_UINT32] = "uint32",
    [VMM_PROP_PCI_ID] = "uint16", [VMM_PROP_DMA_ACCESS] = NULL,
    [VMM_PROP_SLOT] = "slot",     [VMM_PROP_SOCKET] = "str",
};

const VmmDeviceProp *vmm_device_props(size_t *n)
{
    *n = G_N_ELEMENTS(device_props);
    return device_props;
}

static const VmmDeviceProp *device_prop_find(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(device_props); i++) {
        if (!strcmp(device_props[i].name, name)) {
            return &device_props[i];
        }
    }
    return NULL;
}

static void device_help(GString *out)
{
    g_autoptr(GString) modes = g_string_new(NULL);

    for (VFIOUserDMAAccess a = VFIO_USER_DMA_ACCESS_AUTO;
         a <= VFIO_USER_DMA_ACCESS_MESSAGE; a++) {
        g_string_append_printf(modes, "%s%s", modes->len ? "|" : "",
                               vfio_user_dma_access_name(a));
    }
    g_string_append_printf(out, "%s options:\n", VFIO_USER_PCI_TYPE);
    for (size_t i = 0; i < G_N_ELEMENTS(device_props); i++) {
        const VmmDeviceProp *p = &device_props[i];
        const char *type = p->help_type ? p->help_type
                           : p->type == VMM_PROP_DMA_ACCESS
                               ? modes->str
                               : prop_type_names[p->type];

        vmm_prop_help_line(out, p->name, type, p->help, p->def, p->required);
    }
}

/* Set field @p of @d from @val (not VMM_PROP_SLOT, VMM_PROP_SOCKET). */
static bool device_prop_set(const VmmDeviceProp *p, VFIOUserPCIOptions *d,
                            const char *val, GError **errp)
{
    void *field = (char *)d + p->offset;
    uint64_t v;

    switch (p->type) {
    case VMM_PROP_ID:
    case VMM_PROP_STRING:
        return vmm_prop_set_string(p->name, val, p->type == VMM_PROP_ID, field,
                                   errp);
    case VMM_PROP_BOOL:
        return vmm_prop_set_bool(p->name, val, field, errp);
    case VMM_PROP_UINT32:
        if (!vmm_parse_uint_max(val, p->max, &v) || v < p->min) {
            return vfio_user_error_set(errp, EINVAL,
                                       "%s: expected %s, got '%s'", p->name,
                                       p->expect, val);
        }
        *(uint32_t *)field = v;
        return true;
    case VMM_PROP_PCI_ID:
        if (!vmm_parse_uint_max(val, 0xffff, &v)) {
            return vfio_user_error_set(
                errp, EINVAL,
                "%s: expected a number from 0 to 0xffff, got '%s'", p->name,
                val);
        }
        *(int32_t *)field = v;
        return true;
    case VMM_PROP_DMA_ACCESS:
        return vfio_user_dma_access_parse(val, field, errp);
    case VMM_PROP_SLOT:
    case VMM_PROP_SOCKET:
        break;
    }
    g_assert_not_reached();
}

static bool device_prop(void *target, const KeyVal *kv, GError **errp)
{
    const VmmDeviceProp *p = device_prop_find(kv->key);

    if (!p) {
        return vfio_user_error_set(
            errp, EINVAL,
            "unknown property '%s' (see -device " VFIO_USER_PCI_TYPE ",help)",
            kv->key);
    }
    if (p->type == VMM_PROP_SLOT || p->type == VMM_PROP_SOCKET) {
        return true; /* taken before the others, see device_parse_props() */
    }
    return device_prop_set(p, target, kv->val, errp);
}

/* socket.type=unix,socket.path=P | socket.type=fd,socket.str=N */
static bool device_socket_address(GPtrArray *items, VFIOUserPCIOptions *d,
                                  GError **errp)
{
    KeyVal *type = keyval_find(items, "socket.type");
    KeyVal *path = keyval_find(items, "socket.path");
    KeyVal *str = keyval_find(items, "socket.str");
    uint64_t fd;

    for (guint i = 1; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (g_str_has_prefix(kv->key, "socket.") &&
            !device_prop_find(kv->key)) {
            return vfio_user_error_set(
                errp, EINVAL,
                "%s: unknown SocketAddress member (expected type, path or str)",
                kv->key);
        }
    }
    if (!type && !path && !str) {
        return true;
    }
    if (!type || !type->val) {
        return vfio_user_error_set(errp, EINVAL,
                                   "socket.type: required (unix or fd)");
    }
    if (!strcmp(type->val, "unix")) {
        if (!path || !path->val || !*path->val || str) {
            return vfio_user_error_set(
                errp, EINVAL,
                "socket: a unix SocketAddress needs path (and nothing else)");
        }
        g_free(d->socket);
        d->socket = g_strdup(path->val);
        return true;
    }
    if (strcmp(type->val, "fd")) {
        return vfio_user_error_set(
            errp, EINVAL,
            "socket.type: only unix and fd are supported, got '%s'", type->val);
    }
    if (!str || !str->val || path ||
        !vmm_parse_uint_max(str->val, INT32_MAX, &fd)) {
        return vfio_user_error_set(
            errp, EINVAL,
            "socket: an fd SocketAddress needs str=N, the number of an fd the VMM inherited");
    }
    d->socket_fd = fd;
    g_free(d->socket);
    d->socket = g_strdup_printf("fd:%d", (int)fd);
    return true;
}

/* addr=SLOT or SLOT.0 (hex, like QEMU: addr=5, addr=0x5, addr=05.0) */
static bool device_addr(const KeyVal *kv, int *slot, GError **errp)
{
    g_autofree char *s = g_strdup(kv->val ? kv->val : "");
    char *dot = strchr(s, '.');
    char *end;
    unsigned long v;

    if (dot && strcmp(dot, ".0") && strcmp(dot, ".00")) {
        return vfio_user_error_set(errp, EINVAL,
                                   "addr: only function 0 exists, got '%s'", s);
    }
    if (dot) {
        *dot = 0;
    }
    errno = 0;
    v = strtoul(s, &end, 16);
    if (!*s || *end || errno || v < 1 || v >= PCI_SLOT_MAX) {
        return vfio_user_error_set(
            errp, EINVAL, "addr: expected a slot from 0x1 to 0x1f, got '%s'",
            kv->val ? kv->val : "");
    }
    *slot = v;
    return true;
}

/* addr= and the SocketAddress first (they combine), then the rest. */
static bool device_parse_props(GPtrArray *items, VFIOUserPCIOptions *d,
                               int *slot, GError **errp)
{
    KeyVal *addr = keyval_find(items, "addr");
    GError *err = NULL;

    if ((addr && !device_addr(addr, slot, errp)) ||
        !device_socket_address(items, d, errp)) {
        return false;
    }
    vmm_apply_props(items, device_prop, d, &err);
    if (err) {
        g_propagate_error(errp, err);
        return false;
    }
    if (!d->socket || !*d->socket) {
        return vfio_user_error_set(errp, EINVAL, "socket=PATH is required");
    }
    return true;
}

static GPtrArray *device_items(const char *arg, GError **errp)
{
    const char *p = arg;

    while (g_ascii_isspace(*p)) {
        p++;
    }
    if (*p == '{') {
        return keyval_from_json(p, "driver", errp);
    }
    return keyval_split(arg);
}

/* -device or device_add; @type_prefix: errors start with "TYPE: ". */
static bool device_parse(const char *arg, VFIOUserPCIOptions *d, int *slot,
                         GString *help, bool type_prefix, GError **errp)
{
    g_autoptr(GPtrArray) items = NULL;
    const char *type;
    GError *err = NULL;

    *slot = -1;
    items = device_items(arg, errp);
    if (!items) {
        return false;
    }
    type = keyval_type(items, "driver");
    if (type && (!strcmp(type, "help") || !strcmp(type, "?"))) {
        g_string_append(help, "available devices:\n  " VFIO_USER_PCI_TYPE
                              "  a PCI device served by a vfio-user server\n");
        return true;
    }
    if (!type || strcmp(type, VFIO_USER_PCI_TYPE)) {
        vfio_user_error_set(
            errp, ENODEV,
            "unknown device type (available: " VFIO_USER_PCI_TYPE ")");
        if (type_prefix) {
            g_prefix_error(errp, "%s: ", type ? type : arg);
        }
        return false;
    }
    if (keyval_want_help(items)) {
        device_help(help);
        return true;
    }
    if (!device_parse_props(items, d, slot, &err)) {
        g_propagate_prefixed_error(errp, err, "%s",
                                   type_prefix ? VFIO_USER_PCI_TYPE ": " : "");
        return false;
    }
    /* Before any default id: the user's id=, else what was typed. */
    g_free(d->label);
    d->label = vfio_user_pci_label(d->id, arg);
    return true;
}

bool vmm_parse_device(const char *arg, VFIOUserPCIOptions *d, int *slot,
                      GString *help, GError **errp)
{
    return device_parse(arg, d, slot, help, true, errp);
}

bool vmm_parse_device_spec(const char *spec, VFIOUserPCIOptions *d, int *slot,
                           GString *help, GError **errp)
{
    return device_parse(spec, d, slot, help, false, errp);
}

bool vmm_parse_device_opt(VmmOptions *o, const char *arg, GError **errp)
{
    VFIOUserPCIOptions *d = g_new(VFIOUserPCIOptions, 1);
    GString *help = g_string_new(NULL);
    GError *err = NULL;
    int slot;

    vfio_user_pci_options_init(d);
    g_ptr_array_add(o->devices, d);
    g_ptr_array_add(o->device_args, g_strdup(arg));
    if (!vmm_parse_device(arg, d, &slot, help, &err)) {
        g_string_free(help, true);
        g_propagate_prefixed_error(errp, err, "-device ");
        return false;
    }
    g_array_append_val(o->device_slots, slot);
    if (help->len) {
        o->print = help;
    } else {
        g_string_free(help, true);
    }
    return true;
}

bool vmm_check_devices(VmmOptions *o, GError **errp)
{
    for (guint i = 0; i < o->devices->len; i++) {
        VFIOUserPCIOptions *a = g_ptr_array_index(o->devices, i);

        for (guint j = 0; j < i && a->id; j++) {
            VFIOUserPCIOptions *b = g_ptr_array_index(o->devices, j);

            if (!g_strcmp0(a->id, b->id)) {
                return vfio_user_error_set(errp, EEXIST,
                                           "-device: duplicate id '%s'", a->id);
            }
        }
    }
    if (o->devices->len > PCI_SLOT_MAX - 1) {
        return vfio_user_error_set(errp, ENOSPC, "-device: at most %d devices",
                                   PCI_SLOT_MAX - 1);
    }
    return true;
}
