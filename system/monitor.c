/*
 * Human monitor of vfio-user-vmm: the session (banner, prompt, one command
 * per line) and the command table, a few of QEMU's HMP commands (help,
 * info, xp, device_add, device_del, system_reset, quit).  The info
 * subcommands live in monitor-info.c.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "hw/pci/pci_host.h"
#include "system/chardev.h"
#include "system/hotplug.h"
#include "system/monitor.h"
#include "system/monitor-info.h"
#include "system/qmp.h"
#include "system/runstate.h"

#define XP_MAX_BYTES (64 * 1024)

/* Main-thread only. */
struct Monitor {
    Machine *m;
    CharLine *chr;
};

/* A command line split into words (at most 4 kept), and as typed. */
typedef struct MonitorArgs {
    char **w;
    unsigned n;
    const char *line;
} MonitorArgs;

static bool xp_parse_fmt(const char *fmt, unsigned *count, char *format,
                         unsigned *size)
{
    char *end;

    *count = 1;
    *format = 'x';
    *size = 4;
    if (g_ascii_isdigit(*fmt)) {
        unsigned long c = strtoul(fmt, &end, 10);

        if (c == 0 || c > XP_MAX_BYTES) {
            return false;
        }
        *count = c;
        fmt = end;
    }
    for (; *fmt; fmt++) {
        if (strchr("xduoc", *fmt)) {
            *format = *fmt;
        } else if (strchr("bhwg", *fmt)) {
            *size = *fmt == 'b' ? 1 : *fmt == 'h' ? 2 : *fmt == 'w' ? 4 : 8;
        } else {
            return false;
        }
    }
    if (*format == 'c') {
        *size = 1;
    }
    return (uint64_t)*count * *size <= XP_MAX_BYTES;
}

static void xp_value(GString *out, char format, unsigned size, uint64_t v)
{
    int bits = size * 8;

    switch (format) {
    case 'x':
        g_string_append_printf(out, " 0x%0*" PRIx64, size * 2, v);
        break;
    case 'o':
        g_string_append_printf(out, " %#" PRIo64, v);
        break;
    case 'u':
        g_string_append_printf(out, " %" PRIu64, v);
        break;
    case 'd':
        if (bits < 64 && (v & (1ULL << (bits - 1)))) {
            v |= ~0ULL << bits; /* sign-extend */
        }
        g_string_append_printf(out, " %" PRId64, (int64_t)v);
        break;
    default:
        g_string_append_printf(out, g_ascii_isprint(v) ? " '%c'" : " \\x%02x",
                               (int)v);
        break;
    }
}

static void monitor_xp(Machine *m, const MonitorArgs *a, GString *out)
{
    char **w = a->w;
    unsigned n = a->n;
    unsigned count, size, row;
    char format;
    uint64_t addr;
    const char *fmt = n == 3 ? w[1] : "/";
    const char *at = n == 3 ? w[2] : w[1];
    char *end;

    if (n < 2 || n > 3 || fmt[0] != '/' ||
        !xp_parse_fmt(fmt + 1, &count, &format, &size)) {
        g_string_append(
            out, "usage: xp /FMT ADDR (FMT: [count][x|d|u|o|c][b|h|w|g])\n");
        return;
    }
    errno = 0;
    addr = strtoull(at, &end, 0);
    if (errno || *end || !g_ascii_isdigit(*at)) {
        g_string_append_printf(out, "invalid address '%s'\n", at);
        return;
    }
    row = size == 1 ? 8 : 16;
    for (unsigned i = 0; i < count; i++) {
        uint64_t pa = addr + (uint64_t)i * size;

        if ((i * size) % row == 0) {
            g_string_append_printf(out, "%s%016" PRIx64 ":", i ? "\n" : "", pa);
        }
        xp_value(out, format, size, machine_ldq(m, pa, size));
    }
    g_string_append_c(out, '\n');
}

/* device_add SPEC: the rest of the line, spaces and all (JSON). */
static void monitor_device_add(Machine *m, const MonitorArgs *a, GString *out)
{
    g_autoptr(GError) err = NULL;
    const char *spec = a->line;

    while (g_ascii_isspace(*spec)) {
        spec++;
    }
    spec += strlen("device_add");
    while (g_ascii_isspace(*spec)) {
        spec++;
    }
    if (!*spec) {
        g_string_append(
            out,
            "usage: device_add DRIVER[,PROP=VALUE...] or device_add JSON (as -device)\n");
    } else if (!hotplug_device_help(spec, out) &&
               !hotplug_device_add(m, spec, &err)) {
        g_string_append_printf(out, "%s\n", err->message);
    }
}

static void monitor_device_del(Machine *m, const MonitorArgs *a, GString *out)
{
    g_autoptr(GError) err = NULL;

    if (a->n != 2) {
        g_string_append(out, "usage: device_del ID\n");
    } else if (!hotplug_device_del(m, a->w[1], &err)) {
        g_string_append_printf(out, "%s\n", err->message);
    } else {
        qmp_device_deleted(a->w[1]);
    }
}

static void monitor_info(Machine *m, const MonitorArgs *a, GString *out)
{
    if (a->n == 1) {
        monitor_info_list(out);
    } else if (a->n > 2) {
        g_string_append(out, "usage: info [SUBCOMMAND] (info lists them)\n");
    } else if (!monitor_info_run(m, a->w[1], out)) {
        g_string_append_printf(out, "unknown command: 'info %s' (try info)\n",
                               a->w[1]);
    }
}

static void monitor_system_reset(Machine *m, const MonitorArgs *a, GString *out)
{
    (void)a;
    (void)out;
    qmp_system_reset(m);
}

static void monitor_quit(Machine *m, const MonitorArgs *a, GString *out)
{
    (void)m;
    (void)a;
    (void)out;
    qmp_quit();
}

static void monitor_help(Machine *m, const MonitorArgs *a, GString *out);

typedef struct MonitorCmd {
    const char *names; /* "quit|q": the name, then its short forms */
    const char *params;
    const char *help;
    void (*run)(Machine *m, const MonitorArgs *a, GString *out);
} MonitorCmd;

static const MonitorCmd monitor_cmds[] = {
    {"help|?", "[cmd]", "list the commands, or explain one", monitor_help},
    {"info", "[subcommand]", "print machine state; alone: list the subcommands",
     monitor_info},
    {"xp", "/fmt addr",
     "dump guest physical memory at addr; fmt: [count][x|d|u|o|c][b|h|w|g]",
     monitor_xp},
    {"device_add", "driver[,prop=value][,...]",
     "hot-plug a device, spelt as for -device (device_add vfio-user-pci,help lists the properties)",
     monitor_device_add},
    {"device_del", "id",
     "unplug device id (its DMA maps removed, its server disconnected)",
     monitor_device_del},
    {"system_reset", "", "reset every device and redo the firmware PCI setup",
     monitor_system_reset},
    {"quit|q", "", "stop the VMM", monitor_quit},
};

/* @c->names is "a|b": is @word one of them? */
static bool monitor_cmd_is(const MonitorCmd *c, const char *word)
{
    g_auto(GStrv) names = g_strsplit(c->names, "|", -1);

    return g_strv_contains((const char *const *)names, word);
}

static const MonitorCmd *monitor_cmd_find(const char *word)
{
    for (size_t i = 0; i < G_N_ELEMENTS(monitor_cmds); i++) {
        if (monitor_cmd_is(&monitor_cmds[i], word)) {
            return &monitor_cmds[i];
        }
    }
    return NULL;
}

/* QEMU's help line: "name params -- help". */
static void monitor_help_one(const MonitorCmd *c, GString *out)
{
    g_string_append_printf(out, "%s %s -- %s\n", c->names, c->params, c->help);
}

/* help: every command; help CMD: that one; help info: the subcommands. */
static void monitor_help(Machine *m, const MonitorArgs *a, GString *out)
{
    const MonitorCmd *c = a->n == 2 ? monitor_cmd_find(a->w[1]) : NULL;

    (void)m;
    if (a->n == 2 && !strcmp(a->w[1], "info")) {
        monitor_info_list(out);
    } else if (c) {
        monitor_help_one(c, out);
    } else if (a->n > 1) {
        g_string_append_printf(out, "unknown command: '%s'\n", a->w[1]);
    } else {
        for (size_t i = 0; i < G_N_ELEMENTS(monitor_cmds); i++) {
            monitor_help_one(&monitor_cmds[i], out);
        }
    }
}

void monitor_execute(Machine *m, const char *line, GString *out)
{
    g_auto(GStrv) all = g_strsplit_set(line, " \t", -1);
    char *w[4] = {0};
    MonitorArgs a = {.w = w, .line = line};
    const MonitorCmd *c;

    for (unsigned i = 0; all[i]; i++) {
        if (*all[i] && a.n < G_N_ELEMENTS(w)) {
            w[a.n++] = all[i];
        }
    }
    if (!a.n) {
        return;
    }
    c = monitor_cmd_find(w[0]);
    if (c) {
        c->run(m, &a, out);
    } else {
        g_string_append_printf(out, "unknown command: '%s' (try help)\n", w[0]);
    }
}

static void monitor_opened(CharLine *c, void *opaque)
{
    (void)opaque;
    char_line_write(
        c,
        "vfio-user-vmm monitor - type 'help' for more information\n" MONITOR_PROMPT);
}

static void monitor_line(CharLine *c, const char *line, void *opaque)
{
    Monitor *mon = opaque;
    GString *out = g_string_new(NULL);

    monitor_execute(mon->m, line, out);
    if (mon->m->pci) {
        pci_host_flush(mon->m->pci); /* e.g. after xp's reads and writes */
    }
    g_string_append(out, MONITOR_PROMPT);
    char_line_write(c, out->str);
    g_string_free(out, true);
}

static void monitor_closed(CharLine *c, bool final, void *opaque)
{
    (void)c;
    (void)opaque;
    if (final) {
        vmm_request_quit();
    }
}

static void monitor_overlong(CharLine *c, void *opaque)
{
    (void)opaque;
    char_line_write(c, "line too long, ignored\n" MONITOR_PROMPT);
}

static const CharLineOps monitor_chr_ops = {
    .opened = monitor_opened,
    .line = monitor_line,
    .closed = monitor_closed,
    .overlong = monitor_overlong,
};

Monitor *monitor_new(Machine *m, const CharSpec *spec, GError **errp)
{
    Monitor *mon = g_new0(Monitor, 1);

    mon->m = m;
    mon->chr = char_line_new(spec, &monitor_chr_ops, mon, errp);
    if (!mon->chr) {
        g_prefix_error(errp, "-monitor: ");
        g_free(mon);
        return NULL;
    }
    return mon;
}

void monitor_free(Monitor *mon)
{
    if (mon) {
        char_line_free(mon->chr);
        g_free(mon);
    }
}
