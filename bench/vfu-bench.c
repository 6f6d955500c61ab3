/*
 * vfu-bench: measure the vfio-user client and server libraries against
 * the limits of the machine, in one run, and print the figures side by
 * side (text or JSON) with the targets of the benchmark issue.
 *
 *   vfu-bench [--quick] [--json] [--only SECTION]
 *   vfu-bench --op NAME [--count N]   (for counting system calls)
 *
 * Sections: limits, dma, region, memory, scale, net.  The limits are measured
 * in every run (the other sections are compared with them) unless
 * another section is not wanted at all: "--only limits".
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "bench.h"

static const struct {
    const char *name;
    void (*run)(void);
} sections[] = {
    {"limits", bench_limits}, {"dma", bench_dma},     {"region", bench_region},
    {"memory", bench_memory}, {"scale", bench_scale}, {"net", bench_net},
};

static bool section_known(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(sections); i++) {
        if (!strcmp(sections[i].name, name)) {
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    gboolean quick = FALSE, json = FALSE;
    g_autofree char *only = NULL, *op = NULL;
    gint64 count = 10000;
    GOptionEntry entries[] = {
        {"quick", 'q', 0, G_OPTION_ARG_NONE, &quick,
         "Short runs (CI smoke test, a few seconds)", NULL},
        {"json", 'j', 0, G_OPTION_ARG_NONE, &json,
         "Print JSON instead of a text table", NULL},
        {"only", 'o', 0, G_OPTION_ARG_STRING, &only,
         "Run one section (limits, dma, region, memory, scale, net); the limits run too",
         "SECTION"},
        {"op", 0, 0, G_OPTION_ARG_STRING, &op,
         "Only run operation NAME --count times, on one CPU (see bench/count-syscalls.py)",
         "NAME"},
        {"count", 0, 0, G_OPTION_ARG_INT64, &count,
         "How many times --op runs (default 10000)", "N"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- vfio-user client/server benchmarks");
    g_autoptr(GError) err = NULL;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "vfu-bench: %s\n", err->message);
        return 2;
    }
    if (only && !section_known(only)) {
        fprintf(
            stderr,
            "vfu-bench: unknown section '%s' (limits, dma, region, memory, scale, net)\n",
            only);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    bench_config_init(quick);
    if (op) {
        return bench_ops_main(op, count > 0 ? (uint64_t)count : 1);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(sections); i++) {
        if (!only || i == 0 || !strcmp(only, sections[i].name)) {
            if (!json) {
                fprintf(stderr, "vfu-bench: measuring %s...\n",
                        sections[i].name);
            }
            sections[i].run();
        }
    }
    bench_targets();
    if (json) {
        bench_report_json();
    } else {
        bench_report_text();
    }
    bench_report_free();
    return 0;
}
