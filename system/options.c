/*
 * Command-line parsing for vfio-user-vmm (the vl.c of this machine):
 * "-opt value" with QEMU-style "type,key=value,..." lists (",," is a
 * literal comma), value parsers shared by the options, and cross-checks
 * between options.  -device is in options-device.c, -object, -machine,
 * -numa and -m in options-machine.c, -chardev, -mon, -qmp in
 * options-char.c.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "options-internal.h"
#include "system/machine.h"
#include "vfio-user/error.h"

void vmm_prop_help_line(GString *out, const char *name, const char *type,
                        const char *help, const char *def, bool required)
{
    g_string_append_printf(out, "  %-20s <%s> - %s", name, type, help);
    if (required) {
        g_string_append(out, " (required)");
    } else if (def) {
        g_string_append_printf(out, " (default: %s)", def);
    }
    g_string_append_c(out, '\n');
}

void vmm_usage(GString *out)
{
    g_string_append(
        out,
        "usage: vfio-user-vmm [options]\n"
        "A minimal machine hosting vfio-user-pci devices, driven by qtest\n"
        "and a monitor (no CPU).\n\n"
        "-m SIZE                 guest RAM size (default 128M; no suffix = MiB)\n"
        "-object memory-backend-ram|memfd|file,id=ID,size=SIZE[,mem-path=P]\n                        [,share=on|off][,offset=OFF][,seal=on|off]\n"
        "                        (-object TYPE,help lists what TYPE takes)\n"
        "-machine, -M [" MACHINE_TYPE ",]memory-backend=ID\n"
        "                        guest RAM from that backend (default:\n"
        "                        anonymous memory-backend-ram of -m size)\n"
        "-numa node,memdev=ID    the same (one NUMA node)\n"
        "-device vfio-user-pci,socket=PATH[,id=ID][,addr=SLOT][,dma-access=MODE]...\n"
        "-device '{\"driver\":\"vfio-user-pci\",\"socket\":{\"type\":\"unix\",\"path\":PATH},...}'\n"
        "                        (-device vfio-user-pci,help lists all)\n"
        "-qtest stdio|unix:PATH[,server]\n"
        "                        qtest protocol (connects to PATH)\n"
        "-qtest-log FILE         copy of the qtest traffic\n"
        "-monitor stdio|unix:PATH[,server,nowait]\n"
        "                        human monitor, prompt '(vfio-user) '\n"
        "-chardev socket,id=ID,path=PATH[,server=on,wait=off] | stdio,id=ID\n"
        "-mon chardev=ID[,mode=readline|control][,pretty=on|off]\n"
        "                        human monitor or (mode=control) QMP on a chardev\n"
        "-qmp stdio|unix:PATH,server=on,wait=off\n"
        "                        QMP, QEMU's JSON machine protocol\n"
        "-S                      run state 'prelaunch' (there is no CPU)\n"
        "-name NAME              a name for the machine\n"
        "-D FILE                 write log and trace output to FILE\n"
        "-trace [enable=]PATTERN[,events=FILE][,file=FILE] | help\n"
        "                        trace points matching PATTERN (-trace help)\n"
        "-pidfile FILE           write the process id to FILE (locked)\n"
        "-run-with exit-with-parent=on  quit when the parent process dies\n"
        "-accel qtest, -machine accel=qtest, -display none, -nographic,\n"
        "-nodefaults, -audio none, -net none, -nic none, -vga none,\n"
        "-serial none, -parallel none, -no-shutdown, -no-reboot, -no-hpet,\n"
        "-enable-fips, -no-user-config: accepted, nothing to do\n"
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
    o->device_args = g_ptr_array_new_with_free_func(g_free);
    o->device_slots = g_array_new(false, false, sizeof(int));
    o->chardevs = g_ptr_array_new();
    o->mons = g_ptr_array_new();
}

static void free_chardev(gpointer p)
{
    ChardevSpec *c = p;

    g_free(c->id);
    char_spec_clear(&c->chr);
    g_free(c);
}

static void free_mon(gpointer p)
{
    MonSpec *m = p;

    char_spec_clear(&m->chr);
    g_free(m);
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
    if (o->device_args) {
        g_ptr_array_free(o->device_args, true);
    }
    if (o->device_slots) {
        g_array_free(o->device_slots, true);
    }
    if (o->chardevs) {
        g_ptr_array_set_free_func(o->chardevs, free_chardev);
        g_ptr_array_free(o->chardevs, true);
    }
    if (o->mons) {
        g_ptr_array_set_free_func(o->mons, free_mon);
        g_ptr_array_free(o->mons, true);
    }
    g_free(o->qtest_log);
    g_free(o->trace_file);
    g_free(o->name);
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

bool vmm_parse_uint_max(const char *s, uint64_t max, uint64_t *out)
{
    char *e;

    return parse_u64(s, out, &e) && !*e && *out <= max;
}

/* ---- -device ---- */

bool vmm_valid_id(const char *id)
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

bool vmm_prop_set_string(const char *name, const char *val, bool is_id,
                         char **field, GError **errp)
{
    if (is_id && !vmm_valid_id(val)) {
        return vfio_user_error_set(
            errp, EINVAL,
            "%s: expected a letter then letters, digits, '-', '_' or '.', got '%s'",
            name, val);
    }
    g_free(*field);
    *field = g_strdup(val);
    return true;
}

bool vmm_prop_set_bool(const char *name, const char *val, bool *field,
                       GError **errp)
{
    if (!vmm_parse_bool(val, field)) {
        return vfio_user_error_set(
            errp, EINVAL, "%s: expected on or off, got '%s'", name, val);
    }
    return true;
}

/* One KEY=VALUE property of a -device or -object. */
void vmm_apply_props(GPtrArray *items, VmmPropFn fn, void *target,
                     GError **errp)
{
    for (guint i = 1; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (!kv->val) {
            vfio_user_error_set(errp, EINVAL, "%s: expected %s=VALUE", kv->key,
                                kv->key);
            return;
        }
        if (!fn(target, kv, errp)) {
            return;
        }
    }
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
    if (!vmm_check_machine(o, errp)) {
        return false;
    }
    for (guint i = 0; i < o->chardevs->len; i++) {
        ChardevSpec *c = g_ptr_array_index(o->chardevs, i);

        if (!c->used) {
            g_warning("-chardev id=%s: not used by any -mon", c->id);
        }
    }
    if (o->qtest_log && o->qtest && strcmp(o->qtest_log, "/dev/null")) {
        g_free(o->qtest->log_path);
        o->qtest->log_path = g_strdup(o->qtest_log);
    }
    if (o->ram_size > VMM_MAX_RAM_SIZE) {
        return vfio_user_error_set(errp, EINVAL,
                                   "-m: at most %llu bytes of RAM",
                                   (unsigned long long)VMM_MAX_RAM_SIZE);
    }
    if (!vmm_check_devices(o, errp)) {
        return false;
    }
    for (guint i = 0; i < o->mons->len; i++) {
        MonSpec *m = g_ptr_array_index(o->mons, i);
        unsigned n = m->chr.is_stdio + (o->qtest && o->qtest->is_stdio) +
                     (o->monitor && o->monitor->is_stdio);

        for (guint j = 0; j < i; j++) {
            n += ((MonSpec *)g_ptr_array_index(o->mons, j))->chr.is_stdio;
        }
        if (m->chr.is_stdio && n > 1) {
            // clang-format off
            return vfio_user_error_set(errp, EINVAL, "%s stdio: standard input is already used by another -qtest, -monitor, -qmp or -mon", m->control ? "-qmp" : "-mon");
            // clang-format on
        }
    }
    if (o->qtest && o->monitor && o->qtest->is_stdio && o->monitor->is_stdio) {
        return vfio_user_error_set(
            errp, EINVAL,
            "-qtest stdio and -monitor stdio cannot share standard input");
    }
    return true;
}

static bool vmm_parse_one(VmmOptions *o, const char *name, const char *arg,
                          GError **errp)
{
    if (!strcmp(name, "m")) {
        return vmm_parse_mem_opt(o, arg, errp);
    } else if (!strcmp(name, "object")) {
        return vmm_parse_object_opt(o, arg, errp);
    } else if (!strcmp(name, "machine") || !strcmp(name, "M")) {
        return vmm_parse_machine_opt(o, name, arg, errp);
    } else if (!strcmp(name, "device")) {
        return vmm_parse_device_opt(o, arg, errp);
    } else if (!strcmp(name, "qtest")) {
        return parse_chardev(&o->qtest, name, arg, errp);
    } else if (!strcmp(name, "monitor") && !strcmp(arg, "none")) {
        g_clear_pointer(&o->monitor, char_spec_free);
        return true;
    } else if (!strcmp(name, "monitor")) {
        return parse_chardev(&o->monitor, name, arg, errp);
    } else if (!strcmp(name, "numa")) {
        return vmm_parse_numa_opt(o, arg, errp);
    } else if (vmm_compat_takes_arg(name)) {
        return vmm_parse_compat_opt(o, name, arg, errp);
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
    "m",     "object",  "machine", "M",       "device",
    "qtest", "monitor", "D",       "pidfile", "numa",
};

bool vmm_parse_args(VmmOptions *o, int argc, char **argv, GError **errp)
{
    for (int i = 1; i < argc && !o->print; i++) {
        const char *name = argv[i];
        bool known = false;

        if (name[0] != '-' || !name[1]) {
            return vfio_user_error_set(
                errp, EINVAL, "unexpected argument '%s' (see -help)", name);
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
        if (vmm_compat_flag(o, name)) {
            continue;
        }
        known = vmm_compat_takes_arg(name);
        for (unsigned k = 0; k < G_N_ELEMENTS(opts_with_arg); k++) {
            known |= !strcmp(name, opts_with_arg[k]);
        }
        if (!known) {
            return vfio_user_error_set(
                errp, EINVAL, "unknown option '%s' (see -help)", argv[i]);
        }
        if (i + 1 >= argc) {
            return vfio_user_error_set(errp, EINVAL, "-%s: missing argument",
                                       name);
        }
        if (!vmm_parse_one(o, name, argv[++i], errp)) {
            return false;
        }
    }
    return o->print || vmm_check(o, errp);
}
