/*
 * vfu-bench: measure the vfio-user client and server libraries against
 * the limits of the machine, in one run, and print the figures side by
 * side (text or JSON) with the targets of the benchmark issue.
 *
 *   vfu-bench [--quick] [--json] [--only SECTION]
 *   vfu-bench --op NAME [--count N]   (for counting system calls)
 *
 * Sections: limits, dma, region, memory, scale, net, and dma-sweep, which
 * runs only when asked for (--only dma-sweep).  The limits are measured
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
#include "vfio-user/server.h"

static const struct {
    const char *name;
    void (*run)(void);
    bool on_request; /* only with --only NAME */
} sections[] = {
    {"limits", bench_limits},
    {"dma", bench_dma},
    {"region", bench_region},
    {"memory", bench_memory},
    {"scale", bench_scale},
    {"net", bench_net},
    {"dma-sweep", bench_dma_sweep, true},
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
    gint64 count = 10000, chunk = 0, window = 0;
    GOptionEntry entries[] = {
        {"quick", 'q', 0, G_OPTION_ARG_NONE, &quick,
         "Short runs (CI smoke test, a few seconds)", NULL},
        {"json", 'j', 0, G_OPTION_ARG_NONE, &json,
         "Print JSON instead of a text table", NULL},
        {"only", 'o', 0, G_OPTION_ARG_STRING, &only,
         "Run one section (limits, dma, region, memory, scale, net, dma-sweep); the limits run too",
         "SECTION"},
        {"op", 0, 0, G_OPTION_ARG_STRING, &op,
         "Only run operation NAME --count times, on one CPU (see bench/count-syscalls.py)",
         "NAME"},
        {"count", 0, 0, G_OPTION_ARG_INT64, &count,
         "How many times --op runs (default 10000)", "N"},
        {"dma-chunk", 0, 0, G_OPTION_ARG_INT64, &chunk,
         "Servers split message DMA into requests of at most BYTES (default: max_data_xfer_size)",
         "BYTES"},
        {"dma-window", 0, 0, G_OPTION_ARG_INT64, &window,
         "Servers keep N message DMA requests in flight (default 2, at most 16)",
         "N"},
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
            "vfu-bench: unknown section '%s' (limits, dma, region, memory, scale, net, dma-sweep)\n",
            only);
        return 2;
    }
    if (chunk < 0 || chunk > G_MAXUINT32 || window < 0 ||
        window > VUS_SERVER_MAX_DMA_MSG_WINDOW) {
        fprintf(stderr,
                "vfu-bench: --dma-chunk or --dma-window out of range\n");
        return 2;
    }
    bench_server_set_dma_msg((uint32_t)chunk, (uint32_t)window);
    signal(SIGPIPE, SIG_IGN);
    bench_config_init(quick);
    if (op) {
        return bench_ops_main(op, count > 0 ? (uint64_t)count : 1);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(sections); i++) {
        if ((!only && !sections[i].on_request) || i == 0 ||
            (only && !strcmp(only, sections[i].name))) {
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
