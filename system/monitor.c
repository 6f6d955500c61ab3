/*
 * Human monitor of vfio-user-vmm: a few HMP commands of QEMU's (info pci,
 * xp, device_add, device_del, system_reset, quit) plus `info vfio-user`.
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
#include "system/runstate.h"

#define XP_MAX_BYTES (64 * 1024)

/* Main-thread only. */
struct Monitor {
    Machine *m;
    CharLine *chr;
};

static const char help_text[] =
    "help                    this text\n"
    "info pci                PCI devices, their BARs and interrupts\n"
    "info vfio-user          per device: connection, capabilities, DMA maps\n"
    "                        and access modes, message counters, errors\n"
    "info memory             guest RAM sections and their backend\n"
    "xp /FMT ADDR            dump guest physical memory; FMT is\n"
    "                        [count][x|d|u|o|c][b|h|w|g], e.g. xp /4xw 0x1000\n"
    "device_add SPEC         hot-plug a device; SPEC as for -device\n"
    "                        (device_add vfio-user-pci,help for properties)\n"
    "device_del ID           unplug a device (unmaps DMA, disconnects)\n"
    "system_reset            reset every device and redo the PCI setup\n"
    "quit                    stop the VMM\n";

static void monitor_info_memory(Machine *m, GString *out)
{
    const HostMemoryBackend *b = m->ram;

    g_string_append_printf(out, "backend %s (%s), size 0x%" PRIx64 "%s%s%s\n",
                           b->opts.id, host_mem_type_name(b->opts.type),
                           b->opts.size, b->opts.mem_path ? ", mem-path " : "",
                           b->opts.mem_path ? b->opts.mem_path : "",
                           b->shared ? ", shared" : ", private");
    for (unsigned i = 0; i < m->nr_sections; i++) {
        const RAMSection *s = &m->sections[i];

        g_string_append_printf(out,
                               "  gpa 0x%010" PRIx64 "-0x%010" PRIx64
                               " fd %s offset 0x%" PRIx64 "\n",
                               s->gpa, s->gpa + s->size - 1,
                               s->fd >= 0 ? "yes" : "no", s->fd_offset);
    }
}

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

static void monitor_xp(Machine *m, char **w, unsigned n, GString *out)
{
    unsigned count, size, line;
    char format;
    uint64_t addr;
    const char *fmt = n == 3 ? w[1] : "/";
    const char *a = n == 3 ? w[2] : w[1];
    char *end;

    if (n < 2 || n > 3 || fmt[0] != '/' ||
        !xp_parse_fmt(fmt + 1, &count, &format, &size)) {
        g_string_append(
            out, "usage: xp /FMT ADDR (FMT: [count][x|d|u|o|c][b|h|w|g])\n");
        return;
    }
    errno = 0;
    addr = strtoull(a, &end, 0);
    if (errno || *end || !g_ascii_isdigit(*a)) {
        g_string_append_printf(out, "invalid address '%s'\n", a);
        return;
    }
    line = size == 1 ? 8 : 16;
    for (unsigned i = 0; i < count; i++) {
        uint64_t at = addr + (uint64_t)i * size;

        if ((i * size) % line == 0) {
            g_string_append_printf(out, "%s%016" PRIx64 ":", i ? "\n" : "", at);
        }
        xp_value(out, format, size, machine_ldq(m, at, size));
    }
    g_string_append_c(out, '\n');
}

/* device_add SPEC: the rest of the line, spaces and all (JSON). */
static void monitor_device_add(Machine *m, const char *line, GString *out)
{
    g_autoptr(GError) err = NULL;
    const char *spec = line;

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

void monitor_execute(Machine *m, const char *line, GString *out)
{
    g_auto(GStrv) all = g_strsplit_set(line, " \t", -1);
    char *w[4] = {0};
    unsigned n = 0;
    g_autoptr(GError) err = NULL;

    for (unsigned i = 0; all[i]; i++) {
        if (*all[i] && n < G_N_ELEMENTS(w)) {
            w[n++] = all[i];
        }
    }
    if (!n) {
        return;
    }
    if (!strcmp(w[0], "help") || !strcmp(w[0], "?")) {
        g_string_append(out, help_text);
    } else if (!strcmp(w[0], "info") && n == 2 && !strcmp(w[1], "pci")) {
        pci_host_info(m->pci, out);
    } else if (!strcmp(w[0], "info") && n == 2 && !strcmp(w[1], "vfio-user")) {
        pci_host_device_info(m->pci, out);
    } else if (!strcmp(w[0], "info") && n == 2 && !strcmp(w[1], "memory")) {
        monitor_info_memory(m, out);
    } else if (!strcmp(w[0], "info")) {
        g_string_append(out, "info: expected pci, vfio-user or memory\n");
    } else if (!strcmp(w[0], "xp")) {
        monitor_xp(m, w, n, out);
    } else if (!strcmp(w[0], "device_add")) {
        monitor_device_add(m, line, out);
    } else if (!strcmp(w[0], "device_del") && n == 2) {
        if (!hotplug_device_del(m, w[1], &err)) {
            g_string_append_printf(out, "%s\n", err->message);
        }
    } else if (!strcmp(w[0], "device_del")) {
        g_string_append(out, "usage: device_del ID\n");
    } else if (!strcmp(w[0], "system_reset")) {
        machine_reset(m);
    } else if (!strcmp(w[0], "quit") || !strcmp(w[0], "q")) {
        vmm_request_quit();
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
