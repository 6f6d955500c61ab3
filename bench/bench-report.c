/*
 * vfu-bench results: the table of figures, the targets, and their output
 * as plain text or JSON.  Each figure may name the limit it is compared
 * with; the ratio value / limit is computed when printing.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <json-glib/json-glib.h>
#include "bench.h"

static const char *const sections[] = {
    "limits", "dma", "region", "memory", "scale", "net", "dma-sweep",
};

typedef struct BenchError {
    char section[16];
    char *what;
    char *message;
} BenchError;

static GArray *results;   /* BenchResult */
static GPtrArray *errors; /* BenchError */
static GArray *targets;   /* BenchTarget */

void bench_add(const char *section, const char *key, const char *label,
               const char *unit, double value, const char *limit_key)
{
    BenchFigure f = {.value = value, .best = value};

    bench_add_figure(section, key, label, unit, &f, limit_key);
}

void bench_add_figure(const char *section, const char *key, const char *label,
                      const char *unit, const BenchFigure *f,
                      const char *limit_key)
{
    BenchResult r = {
        .value = f->value,
        .best = f->best,
        .limit_value = f->limit_value,
        .limit_best = f->limit_best,
    };

    if (!results) {
        results = g_array_new(FALSE, TRUE, sizeof(BenchResult));
    }
    g_strlcpy(r.section, section, sizeof(r.section));
    g_strlcpy(r.key, key, sizeof(r.key));
    g_strlcpy(r.label, label, sizeof(r.label));
    g_strlcpy(r.unit, unit, sizeof(r.unit));
    g_strlcpy(r.limit_key, limit_key ? limit_key : "", sizeof(r.limit_key));
    g_array_append_val(results, r);
}

const BenchResult *bench_find(const char *key)
{
    for (guint i = 0; results && i < results->len; i++) {
        const BenchResult *r = &g_array_index(results, BenchResult, i);

        if (!strcmp(r->key, key)) {
            return r;
        }
    }
    return NULL;
}

void bench_add_error(const char *section, const char *what, const GError *err)
{
    BenchError *e = g_new0(BenchError, 1);

    if (!errors) {
        errors = g_ptr_array_new();
    }
    g_strlcpy(e->section, section, sizeof(e->section));
    e->what = g_strdup(what);
    e->message = g_strdup(err ? err->message : "failed");
    g_ptr_array_add(errors, e);
    fprintf(stderr, "vfu-bench: %s: %s: %s\n", section, what, e->message);
}

void bench_add_target(const char *name, double value, double median,
                      double threshold, bool at_least, bool available)
{
    BenchTarget t = {
        .value = value,
        .median = median,
        .threshold = threshold,
        .at_least = at_least,
        .available = available,
    };

    if (!targets) {
        targets = g_array_new(FALSE, TRUE, sizeof(BenchTarget));
    }
    g_strlcpy(t.name, name, sizeof(t.name));
    t.met = available && (at_least ? value >= threshold : value <= threshold);
    g_array_append_val(targets, t);
}

void bench_add_bound(const char *name, const char *bound, double value,
                     double median, bool available)
{
    bench_add_target(name, value, median, 0, true, available);
    g_array_index(targets, BenchTarget, targets->len - 1).bound = bound;
}

/* The limit of @r, or NULL. */
static const BenchResult *limit_of(const BenchResult *r)
{
    return r->limit_key[0] ? bench_find(r->limit_key) : NULL;
}

/* The limit's value for @r: the paired one, else the looked-up one. */
static double limit_value(const BenchResult *r)
{
    const BenchResult *l = limit_of(r);

    return r->limit_value > 0 ? r->limit_value : l ? l->value : 0;
}

/* The limit's label ("paired" when measured next to the figure). */
static char *limit_label(const BenchResult *r)
{
    const BenchResult *l = limit_of(r);
    const char *name = l ? l->label : r->limit_key;

    return r->limit_value > 0 ? g_strdup_printf("%s, paired", name)
                              : g_strdup(name);
}

bool bench_ratio_best(const char *key, double *ratio)
{
    const BenchResult *r = bench_find(key), *l = r ? limit_of(r) : NULL;
    double lv = 0;

    if (r && r->limit_value > 0) {
        lv = r->limit_best;
    } else if (l) {
        lv = l->best;
    }
    if (!r || lv <= 0 || r->best <= 0) {
        return false;
    }
    *ratio = r->best / lv;
    return true;
}

bool bench_ratio(const char *key, double *ratio)
{
    const BenchResult *r = bench_find(key);
    double lv = r ? limit_value(r) : 0;

    if (!r || lv <= 0 || r->value <= 0) {
        return false;
    }
    *ratio = r->value / lv;
    return true;
}

static char *cpu_model(void)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents("/proc/cpuinfo", &text, NULL, NULL)) {
        return g_strdup("unknown");
    }
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        const char *colon = strchr(lines[i], ':');

        if (g_str_has_prefix(lines[i], "model name") && colon) {
            return g_strstrip(g_strdup(colon + 1));
        }
    }
    return g_strdup("unknown");
}

static void print_machine_text(void)
{
    g_autofree char *model = cpu_model();
    struct utsname u;

    uname(&u);
    printf("vfu-bench: %ld CPUs online (%s), Linux %s, %s run%s\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, u.release,
           bench_cfg.quick ? "quick" : "full",
           bench_alloc_counting() ? "" : ", no allocation counts");
    printf(
        "placements: same = client and server on CPU %d; split = client on CPU %d, server on CPU %d\n",
        bench_cfg.cpu_a, bench_cfg.cpu_a, bench_cfg.cpu_b);
    printf(
        "load average: %.2f at the start, %.2f at the end (other work on the machine skews every figure)\n",
        bench_cfg.load_start, bench_loadavg());
}

static void print_result_text(const BenchResult *r)
{
    double lv = limit_value(r);

    printf("  %-46s %12.2f %-10s", r->label, r->value, r->unit);
    if (lv > 0) {
        g_autofree char *ll = limit_label(r);

        printf(" %7.3f x %s", r->value / lv, ll);
    }
    printf("\n");
}

/* Anything recorded in section @name?  (dma-sweep runs only on request.) */
static bool section_used(const char *name)
{
    for (guint i = 0; results && i < results->len; i++) {
        if (!strcmp(g_array_index(results, BenchResult, i).section, name)) {
            return true;
        }
    }
    for (guint i = 0; errors && i < errors->len; i++) {
        const BenchError *e = g_ptr_array_index(errors, i);

        if (!strcmp(e->section, name)) {
            return true;
        }
    }
    return false;
}

void bench_report_text(void)
{
    print_machine_text();
    for (size_t s = 0; s < G_N_ELEMENTS(sections); s++) {
        if (!strcmp(sections[s], "dma-sweep") && !section_used(sections[s])) {
            continue;
        }
        printf("\n== %s ==\n", sections[s]);
        for (guint i = 0; results && i < results->len; i++) {
            const BenchResult *r = &g_array_index(results, BenchResult, i);

            if (!strcmp(r->section, sections[s])) {
                print_result_text(r);
            }
        }
        for (guint i = 0; errors && i < errors->len; i++) {
            const BenchError *e = g_ptr_array_index(errors, i);

            if (!strcmp(e->section, sections[s])) {
                printf("  ERROR %s: %s\n", e->what, e->message);
            }
        }
    }
    printf("\n== targets ==\n");
    for (guint i = 0; targets && i < targets->len; i++) {
        const BenchTarget *t = &g_array_index(targets, BenchTarget, i);

        if (t->bound) {
            printf("    %-58s %8.3f    %-15s (median %.3f)\n", t->name,
                   t->value, t->available ? t->bound : "not measured",
                   t->median);
            continue;
        }
        printf("  %-60s %8.3f %s %-6.2f %-8s (median %.3f)\n", t->name,
               t->value, t->at_least ? ">=" : "<=", t->threshold,
               !t->available ? "not measured"
               : t->met      ? "met"
                             : "NOT MET",
               t->median);
    }
}

static void json_result(JsonBuilder *b, const BenchResult *r)
{
    double lv = limit_value(r);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "key");
    json_builder_add_string_value(b, r->key);
    json_builder_set_member_name(b, "label");
    json_builder_add_string_value(b, r->label);
    json_builder_set_member_name(b, "unit");
    json_builder_add_string_value(b, r->unit);
    json_builder_set_member_name(b, "value");
    json_builder_add_double_value(b, isfinite(r->value) ? r->value : 0);
    json_builder_set_member_name(b, "best");
    json_builder_add_double_value(b, isfinite(r->best) ? r->best : 0);
    if (lv > 0) {
        json_builder_set_member_name(b, "limit");
        json_builder_add_string_value(b, r->limit_key);
        json_builder_set_member_name(b, "limit_value");
        json_builder_add_double_value(b, lv);
        json_builder_set_member_name(b, "limit_paired");
        json_builder_add_boolean_value(b, r->limit_value > 0);
        json_builder_set_member_name(b, "ratio");
        json_builder_add_double_value(b, r->value / lv);
    }
    json_builder_end_object(b);
}

static void json_machine(JsonBuilder *b)
{
    g_autofree char *model = cpu_model();
    struct utsname u;

    uname(&u);
    json_builder_set_member_name(b, "machine");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "nproc");
    json_builder_add_int_value(b, sysconf(_SC_NPROCESSORS_ONLN));
    json_builder_set_member_name(b, "cpu_model");
    json_builder_add_string_value(b, model);
    json_builder_set_member_name(b, "kernel");
    json_builder_add_string_value(b, u.release);
    json_builder_set_member_name(b, "cpu_same");
    json_builder_add_int_value(b, bench_cfg.cpu_a);
    json_builder_set_member_name(b, "cpu_split_server");
    json_builder_add_int_value(b, bench_cfg.cpu_b);
    json_builder_set_member_name(b, "loadavg_start");
    json_builder_add_double_value(b, bench_cfg.load_start);
    json_builder_set_member_name(b, "loadavg_end");
    json_builder_add_double_value(b, bench_loadavg());
    json_builder_end_object(b);
    json_builder_set_member_name(b, "quick");
    json_builder_add_boolean_value(b, bench_cfg.quick);
    json_builder_set_member_name(b, "alloc_counting");
    json_builder_add_boolean_value(b, bench_alloc_counting());
}

static void json_sections(JsonBuilder *b)
{
    json_builder_set_member_name(b, "sections");
    json_builder_begin_object(b);
    for (size_t s = 0; s < G_N_ELEMENTS(sections); s++) {
        json_builder_set_member_name(b, sections[s]);
        json_builder_begin_array(b);
        for (guint i = 0; results && i < results->len; i++) {
            const BenchResult *r = &g_array_index(results, BenchResult, i);

            if (!strcmp(r->section, sections[s])) {
                json_result(b, r);
            }
        }
        json_builder_end_array(b);
    }
    json_builder_end_object(b);
}

static void json_errors_targets(JsonBuilder *b)
{
    json_builder_set_member_name(b, "errors");
    json_builder_begin_array(b);
    for (guint i = 0; errors && i < errors->len; i++) {
        const BenchError *e = g_ptr_array_index(errors, i);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "section");
        json_builder_add_string_value(b, e->section);
        json_builder_set_member_name(b, "what");
        json_builder_add_string_value(b, e->what);
        json_builder_set_member_name(b, "message");
        json_builder_add_string_value(b, e->message);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "targets");
    json_builder_begin_array(b);
    for (guint i = 0; targets && i < targets->len; i++) {
        const BenchTarget *t = &g_array_index(targets, BenchTarget, i);

        if (t->bound) {
            continue; /* its figure is in the region section */
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, t->name);
        json_builder_set_member_name(b, "value");
        json_builder_add_double_value(b, isfinite(t->value) ? t->value : 0);
        json_builder_set_member_name(b, "median");
        json_builder_add_double_value(b, isfinite(t->median) ? t->median : 0);
        json_builder_set_member_name(b, "comparison");
        json_builder_add_string_value(b, t->at_least ? ">=" : "<=");
        json_builder_set_member_name(b, "threshold");
        json_builder_add_double_value(b, t->threshold);
        json_builder_set_member_name(b, "met");
        if (t->available) {
            json_builder_add_boolean_value(b, t->met);
        } else {
            json_builder_add_null_value(b);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

void bench_report_json(void)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "program");
    json_builder_add_string_value(b, "vfu-bench");
    json_machine(b);
    json_sections(b);
    json_errors_targets(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

static void error_free(gpointer p)
{
    BenchError *e = p;

    g_free(e->what);
    g_free(e->message);
    g_free(e);
}

void bench_report_free(void)
{
    if (results) {
        g_array_free(results, TRUE);
        results = NULL;
    }
    if (errors) {
        g_ptr_array_set_free_func(errors, error_free);
        g_ptr_array_free(errors, TRUE);
        errors = NULL;
    }
    if (targets) {
        g_array_free(targets, TRUE);
        targets = NULL;
    }
}
