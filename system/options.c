/*
 * Command-line parsing for vfio-user-vmm (the vl.c of this machine):
 * "-opt value" with QEMU-style "type,key=value,..." lists (",," is a
 * literal comma), property tables with types and defaults for ",help", and
 * cross-checks between options.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "hw/pci/pci.h"
#include "system/machine.h"
#include "system/options.h"
#include "vfio-user/error.h"

#define MACHINE_TYPE "vfio-user-vmm"

typedef struct PropHelp {
    const char *name;
    const char *type;
    const char *def;
    const char *help;
} PropHelp;

static const PropHelp device_props[] = {
    {"socket", "str", "(required)", "UNIX socket of the vfio-user server"},
    {"id", "str", "dev<slot>", "name for the monitor (device_del, info)"},
    {"dma-access", "auto|mmap|file-io|message", "auto",
     "how the server reaches guest RAM"},
    {"x-msg-timeout", "uint32", "5000", "reply timeout in milliseconds"},
    {"x-poll-us", "uint32", "0",
     "busy-poll this long for a reply before sleeping (helps when the "
     "server runs on another CPU)"},
    {"x-no-posted-writes", "bool", "off",
     "wait for a reply to every BAR write"},
    {"x-no-write-multi", "bool", "off",
     "send batched posted writes one message each"},
    {"x-pci-vendor-id", "uint16", "from the server", "override"},
    {"x-pci-device-id", "uint16", "from the server", "override"},
    {"x-pci-sub-vendor-id", "uint16", "from the server", "override"},
    {"x-pci-sub-device-id", "uint16", "from the server", "override"},
};

static const PropHelp object_props[] = {
    {"id", "str", "(required)", "name used by -machine memory-backend="},
    {"size", "size", "(required)", "bytes, K/M/G/T suffixes"},
    {"mem-path", "str", "(file: required)", "file or directory"},
    {"share", "bool", "on for memfd, off otherwise",
     "MAP_SHARED; off keeps the fd from devices"},
    {"offset", "size", "0", "file only: where guest RAM starts in it"},
    {"seal", "bool", "on", "memfd only: seal its size against the server"},
};

static void prop_help(GString *out, const char *type, const PropHelp *p,
                      size_t n)
{
    g_string_append_printf(out, "%s options:\n", type);
    for (size_t i = 0; i < n; i++) {
        g_string_append_printf(out, "  %-20s <%s> - %s (default: %s)\n",
                               p[i].name, p[i].type, p[i].help, p[i].def);
    }
}

void vmm_usage(GString *out)
{
    g_string_append(
        out,
        "usage: vfio-user-vmm [options]\n"
        "A minimal machine hosting vfio-user-pci devices, driven by qtest\n"
        "and a monitor (no CPU).\n\n"
        "-m SIZE                 guest RAM size (default 128M; no suffix = "
        "MiB)\n"
        "-object memory-backend-ram|memfd|file,id=ID,size=SIZE[,mem-path=P]"
        "\n                        [,share=on|off][,offset=OFF][,seal=on|off]\n"
        "-machine [" MACHINE_TYPE ",]memory-backend=ID\n"
        "                        guest RAM from that backend (default:\n"
        "                        anonymous memory-backend-ram of -m size)\n"
        "-device vfio-user-pci,socket=PATH[,id=ID][,dma-access=MODE]...\n"
        "                        (-device vfio-user-pci,help lists all)\n"
        "-qtest stdio|unix:PATH  qtest protocol (connects to PATH)\n"
        "-monitor stdio|unix:PATH[,server,nowait]\n"
        "                        human monitor, prompt '(vfio-user) '\n"
        "-D FILE                 write log messages to FILE\n"
        "-pidfile FILE           write the process id to FILE\n"
        "-version                print the version\n"
        "-help                   this text\n\n"
        "Guest memory map: RAM at 0 (above 0xb0000000 bytes: rest at 4G),\n"
        "PCI ECAM 0xb0000000 (01.0 at 0xb0008000), BARs from 0xc0000000\n"
        "(64-bit: 0x8000000000), MSI window 0xfee00000-0xfeefffff.\n"
        "Ports (inb/outb...): PCI config 0xcf8/0xcfc, I/O BARs from 0x1000.\n"
        "qtest extensions: msi_pop, msi_wait MS, msi_count, irq_level N.\n");
}

void vmm_options_init(VmmOptions *o)
{
    memset(o, 0, sizeof(*o));
    o->ram_size = VMM_DEFAULT_RAM_SIZE;
    o->objects = g_ptr_array_new();
    o->devices = g_ptr_array_new();
}

static void free_object(gpointer p)
{
    host_memory_options_clear(p);
    g_free(p);
}

static void free_device(gpointer p)
{
    vfio_user_pci_options_clear(p);
    g_free(p);
}

void char_spec_free(CharSpec *c)
{
    if (c) {
        g_free(c->path);
        g_free(c);
    }
}

void vmm_options_clear(VmmOptions *o)
{
    if (o->objects) {
        g_ptr_array_set_free_func(o->objects, free_object);
        g_ptr_array_free(o->objects, true);
    }
    if (o->devices) {
        g_ptr_array_set_free_func(o->devices, free_device);
        g_ptr_array_free(o->devices, true);
    }
    g_free(o->machine_backend);
    char_spec_free(o->qtest);
    char_spec_free(o->monitor);
    g_free(o->logfile);
    g_free(o->pidfile);
    if (o->print) {
        g_string_free(o->print, true);
    }
    memset(o, 0, sizeof(*o));
}

/* ---- value parsers ---- */

static bool parse_u64(const char *s, uint64_t *out, char **end)
{
    char *e;

    if (!s || !g_ascii_isdigit(*s)) {
        return false;
    }
    errno = 0;
    *out = strtoull(s, &e, 0);
    if (errno || e == s) {
        return false;
    }
    *end = e;
    return true;
}

bool vmm_parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
    uint64_t v, unit = default_unit;
    char *e;

    if (!parse_u64(s, &v, &e)) {
        return false;
    }
    if (*e) {
        switch (g_ascii_toupper(*e)) {
        case 'B':
            unit = 1;
            break;
        case 'K':
            unit = 1ULL << 10;
            break;
        case 'M':
            unit = 1ULL << 20;
            break;
        case 'G':
            unit = 1ULL << 30;
            break;
        case 'T':
            unit = 1ULL << 40;
            break;
        default:
            return false;
        }
        if (e[1]) {
            return false;
        }
    }
    if (v && unit > UINT64_MAX / v) {
        return false;
    }
    *out = v * unit;
    return true;
}

bool vmm_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"on", "yes", "true", "y"};
    static const char *const no[] = {"off", "no", "false", "n"};

    for (unsigned i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_strcmp0(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (g_strcmp0(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_uint_max(const char *s, uint64_t max, uint64_t *out)
{
    char *e;

    return parse_u64(s, out, &e) && !*e && *out <= max;
}

/* ---- key=value lists ---- */

typedef struct KeyVal {
    char *key;
    char *val; /* NULL for a bare word */
} KeyVal;

static void keyval_free(gpointer p)
{
    KeyVal *kv = p;

    g_free(kv->key);
    g_free(kv->val);
    g_free(kv);
}

/* Split "a,b=c,d=e,,f" into items; ",," is a literal comma. */
static GPtrArray *keyval_split(const char *s)
{
    GPtrArray *items = g_ptr_array_new_with_free_func(keyval_free);
    GString *cur = g_string_new(NULL);

    for (const char *p = s;; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
            continue;
        }
        if (*p && *p != ',') {
            g_string_append_c(cur, *p);
            continue;
        }
        if (cur->len) {
            KeyVal *kv = g_new0(KeyVal, 1);
            char *eq = strchr(cur->str, '=');

            kv->key =
                g_strndup(cur->str, eq ? (gsize)(eq - cur->str) : cur->len);
            kv->val = eq ? g_strdup(eq + 1) : NULL;
            g_ptr_array_add(items, kv);
        }
        g_string_truncate(cur, 0);
        if (!*p) {
            break;
        }
    }
    g_string_free(cur, true);
    return items;
}

static bool want_help(GPtrArray *items)
{
    for (guint i = 0; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (!kv->val && (!strcmp(kv->key, "help") || !strcmp(kv->key, "?"))) {
            return true;
        }
    }
    return false;
}

/* ---- -device ---- */

static const char *const dma_names[] = {
    [VFIO_USER_DMA_ACCESS_AUTO] = "auto",
    [VFIO_USER_DMA_ACCESS_MMAP] = "mmap",
    [VFIO_USER_DMA_ACCESS_FILE_IO] = "file-io",
    [VFIO_USER_DMA_ACCESS_MESSAGE] = "message",
};

static bool valid_id(const char *id)
{
    if (!g_ascii_isalpha(*id)) {
        return false;
    }
    for (const char *p = id; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-_.", *p)) {
            return false;
        }
    }
    return true;
}

static bool device_id_prop(int32_t *dst, const KeyVal *kv, GError **errp)
{
    uint64_t v;

    if (!parse_uint_max(kv->val, 0xffff, &v)) {
        return vfu_error_set(errp, EINVAL,
                             "%s: expected a number from 0 to "
                             "0xffff, got '%s'",
                             kv->key, kv->val);
    }
    *dst = v;
    return true;
}

/* One KEY=VALUE property of a -device or -object. */
typedef bool (*PropFn)(void *target, const KeyVal *kv, GError **errp);

/* Apply items[1..] (items[0] is the type) to @target; stop at an error. */
static void apply_props(GPtrArray *items, PropFn fn, void *target,
                        GError **errp)
{
    for (guint i = 1; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (!kv->val) {
            vfu_error_set(errp, EINVAL, "%s: expected %s=VALUE", kv->key,
                          kv->key);
            return;
        }
        if (!fn(target, kv, errp)) {
            return;
        }
    }
}

static bool device_prop(void *target, const KeyVal *kv, GError **errp)
{
    VFIOUserPCIOptions *d = target;
    uint64_t v;

    if (!strcmp(kv->key, "socket")) {
        g_free(d->socket);
        d->socket = g_strdup(kv->val);
    } else if (!strcmp(kv->key, "id")) {
        if (!valid_id(kv->val)) {
            return vfu_error_set(errp, EINVAL,
                                 "id: expected a letter then "
                                 "letters, digits, '-', '_' or '.', got '%s'",
                                 kv->val);
        }
        g_free(d->id);
        d->id = g_strdup(kv->val);
    } else if (!strcmp(kv->key, "dma-access")) {
        for (v = 0; v < G_N_ELEMENTS(dma_names); v++) {
            if (!strcmp(kv->val, dma_names[v])) {
                d->dma_access = v;
                return true;
            }
        }
        return vfu_error_set(errp, EINVAL,
                             "dma-access: expected auto, mmap, "
                             "file-io or message, got '%s'",
                             kv->val);
    } else if (!strcmp(kv->key, "x-msg-timeout")) {
        if (!parse_uint_max(kv->val, UINT32_MAX, &v) || !v) {
            return vfu_error_set(errp, EINVAL,
                                 "x-msg-timeout: expected "
                                 "milliseconds from 1 to 4294967295, got "
                                 "'%s'",
                                 kv->val);
        }
        d->msg_timeout_ms = v;
    } else if (!strcmp(kv->key, "x-poll-us")) {
        if (!parse_uint_max(kv->val, 1000000, &v)) {
            return vfu_error_set(errp, EINVAL,
                                 "x-poll-us: expected microseconds "
                                 "from 0 to 1000000, got '%s'",
                                 kv->val);
        }
        d->poll_us = v;
    } else if (!strcmp(kv->key, "x-no-posted-writes")) {
        if (!vmm_parse_bool(kv->val, &d->no_posted_writes)) {
            return vfu_error_set(errp, EINVAL,
                                 "x-no-posted-writes: expected "
                                 "on or off, got '%s'",
                                 kv->val);
        }
    } else if (!strcmp(kv->key, "x-no-write-multi")) {
        if (!vmm_parse_bool(kv->val, &d->no_write_multi)) {
            return vfu_error_set(errp, EINVAL,
                                 "x-no-write-multi: expected "
                                 "on or off, got '%s'",
                                 kv->val);
        }
    } else if (!strcmp(kv->key, "x-pci-vendor-id")) {
        return device_id_prop(&d->vendor_id, kv, errp);
    } else if (!strcmp(kv->key, "x-pci-device-id")) {
        return device_id_prop(&d->device_id, kv, errp);
    } else if (!strcmp(kv->key, "x-pci-sub-vendor-id")) {
        return device_id_prop(&d->sub_vendor_id, kv, errp);
    } else if (!strcmp(kv->key, "x-pci-sub-device-id")) {
        return device_id_prop(&d->sub_device_id, kv, errp);
    } else {
        return vfu_error_set(errp, EINVAL,
                             "unknown property '%s' (see "
                             "-device " VFIO_USER_PCI_TYPE ",help)",
                             kv->key);
    }
    return true;
}

/* The first item names the type: "foo" or "driver=foo" / "qom-type=". */
static const char *keyval_type(GPtrArray *items, const char *key)
{
    KeyVal *kv = items->len ? g_ptr_array_index(items, 0) : NULL;

    if (!kv) {
        return NULL;
    }
    if (!kv->val) {
        return kv->key;
    }
    return !strcmp(kv->key, key) ? kv->val : NULL;
}

static bool parse_device(VmmOptions *o, const char *arg, GError **errp)
{
    g_autoptr(GPtrArray) items = keyval_split(arg);
    const char *type = keyval_type(items, "driver");
    VFIOUserPCIOptions *d;
    GError *err = NULL;

    if (type && (!strcmp(type, "help") || !strcmp(type, "?"))) {
        o->print = g_string_new("available devices:\n  " VFIO_USER_PCI_TYPE
                                "  a PCI device served by a vfio-user "
                                "server\n");
        return true;
    }
    if (!type || strcmp(type, VFIO_USER_PCI_TYPE)) {
        return vfu_error_set(errp, EINVAL,
                             "-device %s: unknown device type "
                             "(available: " VFIO_USER_PCI_TYPE ")",
                             type ? type : arg);
    }
    if (want_help(items)) {
        o->print = g_string_new(NULL);
        prop_help(o->print, VFIO_USER_PCI_TYPE, device_props,
                  G_N_ELEMENTS(device_props));
        return true;
    }
    d = g_new(VFIOUserPCIOptions, 1);
    vfio_user_pci_options_init(d);
    g_ptr_array_add(o->devices, d);
    apply_props(items, device_prop, d, &err);
    if (!err && (!d->socket || !*d->socket)) {
        vfu_error_set(&err, EINVAL, "socket=PATH is required");
    }
    if (err) {
        g_propagate_prefixed_error(errp, err,
                                   "-device " VFIO_USER_PCI_TYPE ": ");
        return false;
    }
    return true;
}

/* ---- -object ---- */

static bool object_prop(void *target, const KeyVal *kv, GError **errp)
{
    HostMemoryOptions *m = target;

    if (!strcmp(kv->key, "id")) {
        if (!valid_id(kv->val)) {
            return vfu_error_set(errp, EINVAL,
                                 "id: expected a letter then "
                                 "letters, digits, '-', '_' or '.', got '%s'",
                                 kv->val);
        }
        g_free(m->id);
        m->id = g_strdup(kv->val);
    } else if (!strcmp(kv->key, "size") || !strcmp(kv->key, "offset")) {
        uint64_t *dst = kv->key[0] == 's' ? &m->size : &m->offset;

        if (!vmm_parse_size(kv->val, 1, dst)) {
            return vfu_error_set(errp, EINVAL,
                                 "%s: expected a size like "
                                 "64M, got '%s'",
                                 kv->key, kv->val);
        }
        if (dst == &m->offset && m->type != HOSTMEM_FILE) {
            return vfu_error_set(errp, EINVAL,
                                 "offset: only "
                                 "memory-backend-file has it");
        }
    } else if (!strcmp(kv->key, "mem-path") && m->type == HOSTMEM_FILE) {
        g_free(m->mem_path);
        m->mem_path = g_strdup(kv->val);
    } else if (!strcmp(kv->key, "share")) {
        if (!vmm_parse_bool(kv->val, &m->share)) {
            return vfu_error_set(errp, EINVAL,
                                 "share: expected on or off, "
                                 "got '%s'",
                                 kv->val);
        }
        m->share_set = true;
    } else if (!strcmp(kv->key, "seal") && m->type == HOSTMEM_MEMFD) {
        if (!vmm_parse_bool(kv->val, &m->seal)) {
            return vfu_error_set(errp, EINVAL,
                                 "seal: expected on or off, got '%s'", kv->val);
        }
        m->seal_set = true;
    } else {
        return vfu_error_set(errp, EINVAL,
                             "unknown property '%s' (see "
                             "-object %s,help)",
                             kv->key, host_mem_type_name(m->type));
    }
    return true;
}

static bool object_check(VmmOptions *o, HostMemoryOptions *m, GError **errp)
{
    if (!m->id) {
        return vfu_error_set(errp, EINVAL, "id=ID is required");
    }
    if (!m->size) {
        return vfu_error_set(errp, EINVAL, "size=SIZE is required");
    }
    if (m->type == HOSTMEM_FILE && !m->mem_path) {
        return vfu_error_set(errp, EINVAL, "mem-path=PATH is required");
    }
    for (guint i = 0; i + 1 < o->objects->len; i++) {
        HostMemoryOptions *x = g_ptr_array_index(o->objects, i);

        if (!strcmp(x->id, m->id)) {
            return vfu_error_set(errp, EEXIST, "duplicate id '%s'", m->id);
        }
    }
    return true;
}

static bool parse_object(VmmOptions *o, const char *arg, GError **errp)
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
        return vfu_error_set(errp, EINVAL,
                             "-object %s: unknown object type "
                             "(available: memory-backend-ram, "
                             "memory-backend-memfd, memory-backend-file)",
                             type ? type : arg);
    }
    if (want_help(items)) {
        o->print = g_string_new(NULL);
        prop_help(o->print, type, object_props, G_N_ELEMENTS(object_props));
        return true;
    }
    m = g_new0(HostMemoryOptions, 1);
    m->type = t;
    g_ptr_array_add(o->objects, m);
    apply_props(items, object_prop, m, &err);
    if (err || !object_check(o, m, &err)) {
        g_propagate_prefixed_error(errp, err, "-object %s: ", type);
        return false;
    }
    return true;
}

/* ---- -machine, -m, chardevs ---- */

static bool parse_machine(VmmOptions *o, const char *arg, GError **errp)
{
    g_autoptr(GPtrArray) items = keyval_split(arg);

    for (guint i = 0; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);
        const char *type = !kv->val                   ? kv->key
                           : !strcmp(kv->key, "type") ? kv->val
                                                      : NULL;

        if (type && (!strcmp(type, "help") || !strcmp(type, "?"))) {
            o->print = g_string_new("available machines:\n  " MACHINE_TYPE
                                    "  (the only one; options: "
                                    "memory-backend=ID)\n");
            return true;
        }
        if (type && i == 0 && !strcmp(type, MACHINE_TYPE)) {
            continue;
        }
        if (type) {
            return vfu_error_set(errp, EINVAL,
                                 "-machine: unknown machine "
                                 "type '%s' (available: " MACHINE_TYPE ")",
                                 type);
        }
        if (strcmp(kv->key, "memory-backend")) {
            return vfu_error_set(errp, EINVAL,
                                 "-machine: unknown property "
                                 "'%s' (expected memory-backend=ID)",
                                 kv->key);
        }
        g_free(o->machine_backend);
        o->machine_backend = g_strdup(kv->val);
    }
    return true;
}

static bool parse_mem(VmmOptions *o, const char *arg, GError **errp)
{
    const char *s = g_str_has_prefix(arg, "size=") ? arg + 5 : arg;

    if (!vmm_parse_size(s, 1ULL << 20, &o->ram_size) || !o->ram_size) {
        return vfu_error_set(errp, EINVAL,
                             "-m: expected a size like 512M, "
                             "got '%s'",
                             arg);
    }
    o->ram_size_set = true;
    return true;
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
        return vfu_error_set(errp, EINVAL,
                             "expected stdio or unix:PATH, "
                             "got '%s'",
                             s);
    }
    items = keyval_split(s + 5);
    first = g_ptr_array_index(items, 0);
    out->path = first->val ? g_strconcat(first->key, "=", first->val, NULL)
                           : g_strdup(first->key);
    for (guint i = 1; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);
        bool b = true;

        if (!strcmp(kv->key, "server") &&
            (!kv->val || vmm_parse_bool(kv->val, &b))) {
            out->server = b;
        } else if ((!strcmp(kv->key, "nowait") && !kv->val) ||
                   (!strcmp(kv->key, "wait") && kv->val &&
                    vmm_parse_bool(kv->val, &b))) {
            continue; /* we never block waiting for a client */
        } else {
            g_clear_pointer(&out->path, g_free);
            return vfu_error_set(errp, EINVAL,
                                 "unknown socket option '%s' "
                                 "(expected server, nowait or wait=off)",
                                 kv->key);
        }
    }
    return true;
}

static bool parse_chardev(CharSpec **dst, const char *opt, const char *arg,
                          GError **errp)
{
    CharSpec c;
    GError *err = NULL;

    if (!vmm_parse_char(arg, &c, &err)) {
        g_propagate_prefixed_error(errp, err, "-%s: ", opt);
        return false;
    }
    char_spec_free(*dst);
    *dst = g_memdup2(&c, sizeof(c));
    return true;
}

/* ---- the command line ---- */

static bool vmm_check(VmmOptions *o, GError **errp)
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
            return vfu_error_set(errp, ENOENT,
                                 "-machine memory-backend=%s: "
                                 "no -object with that id",
                                 o->machine_backend);
        }
        if (o->ram_size_set && o->ram_size != m->size) {
            return vfu_error_set(errp, EINVAL,
                                 "-machine memory-backend=%s: "
                                 "backend size %" PRIu64 " differs from -m "
                                 "%" PRIu64,
                                 m->id, m->size, o->ram_size);
        }
        o->ram_size = m->size;
    }
    if (o->ram_size > VMM_MAX_RAM_SIZE) {
        return vfu_error_set(errp, EINVAL, "-m: at most %llu bytes of RAM",
                             (unsigned long long)VMM_MAX_RAM_SIZE);
    }
    for (guint i = 0; i < o->devices->len; i++) {
        VFIOUserPCIOptions *a = g_ptr_array_index(o->devices, i);

        for (guint j = 0; j < i && a->id; j++) {
            VFIOUserPCIOptions *b = g_ptr_array_index(o->devices, j);

            if (!g_strcmp0(a->id, b->id)) {
                return vfu_error_set(errp, EEXIST,
                                     "-device: duplicate id "
                                     "'%s'",
                                     a->id);
            }
        }
    }
    if (o->devices->len > PCI_SLOT_MAX - 1) {
        return vfu_error_set(errp, ENOSPC, "-device: at most %d devices",
                             PCI_SLOT_MAX - 1);
    }
    if (o->qtest && o->monitor && o->qtest->is_stdio && o->monitor->is_stdio) {
        return vfu_error_set(errp, EINVAL,
                             "-qtest stdio and -monitor stdio "
                             "cannot share standard input");
    }
    return true;
}

static bool vmm_parse_one(VmmOptions *o, const char *name, const char *arg,
                          GError **errp)
{
    if (!strcmp(name, "m")) {
        return parse_mem(o, arg, errp);
    } else if (!strcmp(name, "object")) {
        return parse_object(o, arg, errp);
    } else if (!strcmp(name, "machine") || !strcmp(name, "M")) {
        return parse_machine(o, arg, errp);
    } else if (!strcmp(name, "device")) {
        return parse_device(o, arg, errp);
    } else if (!strcmp(name, "qtest")) {
        return parse_chardev(&o->qtest, name, arg, errp);
    } else if (!strcmp(name, "monitor") && !strcmp(arg, "none")) {
        g_clear_pointer(&o->monitor, char_spec_free);
        return true;
    } else if (!strcmp(name, "monitor")) {
        return parse_chardev(&o->monitor, name, arg, errp);
    } else if (!strcmp(name, "D")) {
        g_free(o->logfile);
        o->logfile = g_strdup(arg);
    } else if (!strcmp(name, "pidfile")) {
        g_free(o->pidfile);
        o->pidfile = g_strdup(arg);
    }
    return true;
}

static const char *const opts_with_arg[] = {
    "m", "object", "machine", "M", "device", "qtest", "monitor", "D", "pidfile",
};

bool vmm_parse_args(VmmOptions *o, int argc, char **argv, GError **errp)
{
    for (int i = 1; i < argc && !o->print; i++) {
        const char *name = argv[i];
        bool known = false;

        if (name[0] != '-' || !name[1]) {
            return vfu_error_set(errp, EINVAL,
                                 "unexpected argument '%s' "
                                 "(see -help)",
                                 name);
        }
        name += name[1] == '-' ? 2 : 1;
        if (!strcmp(name, "help") || !strcmp(name, "h")) {
            o->print = g_string_new(NULL);
            vmm_usage(o->print);
            return true;
        }
        if (!strcmp(name, "version")) {
            o->print = g_string_new("vfio-user-vmm version " VMM_VERSION "\n");
            return true;
        }
        for (unsigned k = 0; k < G_N_ELEMENTS(opts_with_arg); k++) {
            known |= !strcmp(name, opts_with_arg[k]);
        }
        if (!known) {
            return vfu_error_set(errp, EINVAL,
                                 "unknown option '%s' (see "
                                 "-help)",
                                 argv[i]);
        }
        if (i + 1 >= argc) {
            return vfu_error_set(errp, EINVAL, "-%s: missing argument", name);
        }
        if (!vmm_parse_one(o, name, argv[++i], errp)) {
            return false;
        }
    }
    return o->print || vmm_check(o, errp);
}
