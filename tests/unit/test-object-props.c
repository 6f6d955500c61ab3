/*
 * Every entry of the -object memory-backend-* property table, for every
 * backend type: where the type takes it, a valid value parses and lands in
 * its field, a bad one is refused with an error naming the property, and
 * ",help" lists it; elsewhere it is refused and not listed.  A required
 * one that is missing is named, by the parser and by the backend.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "system/memory.h"
#include "system/options.h"
#include "vfio-user/error.h"

static const HostMemType types[] = {HOSTMEM_RAM, HOSTMEM_MEMFD, HOSTMEM_FILE};

/* A value of @p's type that parses, and one that does not (or NULL). */
static const char *good_value(const HostMemProp *p)
{
    static const char *const good[] = {
        [HOSTMEM_PROP_ID] = "a1-_.",
        [HOSTMEM_PROP_STRING] = "/x",
        [HOSTMEM_PROP_SIZE] = "4K",
        [HOSTMEM_PROP_BOOL] = "on",
    };

    return good[p->type];
}

static char *bad_error(const HostMemProp *p, const char **bad)
{
    switch (p->type) {
    case HOSTMEM_PROP_ID:
        *bad = "1a";
        return g_strdup_printf(
            "%s: expected a letter then letters, digits, '-', '_' or '.', got '1a'",
            p->name);
    case HOSTMEM_PROP_SIZE:
        *bad = "big";
        return g_strdup_printf("%s: expected a size like 64M, got 'big'",
                               p->name);
    case HOSTMEM_PROP_BOOL:
        *bad = "maybe";
        return g_strdup_printf("%s: expected on or off, got 'maybe'", p->name);
    case HOSTMEM_PROP_STRING:
        break;
    }
    *bad = NULL; /* any string will do */
    return NULL;
}

/*
 * Parse -object TYPE,... with the required properties other than @skip,
 * then @extra (or nothing), as the machine's RAM.  The options are left
 * in @o (cleared by the caller) on success.
 */
static bool parse_object(VmmOptions *o, HostMemType t, const HostMemProp *skip,
                         const char *extra, GError **errp)
{
    g_autoptr(GString) spec = g_string_new(host_mem_type_name(t));
    g_autofree char *machine = NULL;
    const char *id = "a";
    size_t n;
    const HostMemProp *props = host_mem_props(&n);
    char *argv[5] = {(char *)"vfio-user-vmm", (char *)"-object", NULL,
                     (char *)"-machine", NULL};

    for (size_t i = 0; i < n; i++) {
        if (&props[i] != skip && (props[i].required & HOSTMEM_TYPE_BIT(t))) {
            g_string_append_printf(
                spec, ",%s=%s", props[i].name,
                props[i].type == HOSTMEM_PROP_ID ? id : good_value(&props[i]));
        }
    }
    if (extra) {
        g_string_append_printf(spec, ",%s", extra);
        if (g_str_has_prefix(extra, "id=")) {
            id = extra + 3;
        }
    }
    machine = g_strdup_printf("memory-backend=%s", id);
    argv[2] = spec->str;
    argv[4] = machine;
    vmm_options_init(o);
    return vmm_parse_args(o, G_N_ELEMENTS(argv), argv, errp);
}

static void expect_error(HostMemType t, const HostMemProp *skip,
                         const char *extra, const char *msg)
{
    g_autofree char *want =
        g_strdup_printf("-object %s: %s", host_mem_type_name(t), msg);
    g_autoptr(GError) err = NULL;
    VmmOptions o;

    g_assert_false(parse_object(&o, t, skip, extra, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, want);
    vmm_options_clear(&o);
}

/* @p on a type that takes it: a good value lands, a bad one is named. */
static void prop_taken(const HostMemProp *p, HostMemType t)
{
    g_autofree char *good = g_strdup_printf("%s=%s", p->name, good_value(p));
    g_autofree char *bad_set = NULL;
    g_autofree char *msg = NULL;
    const char *bad;
    HostMemoryOptions *m;
    VmmOptions o;

    g_assert_true(parse_object(&o, t, p, good, NULL));
    g_assert_cmpuint(o.objects->len, ==, 1);
    m = g_ptr_array_index(o.objects, 0);
    g_assert_true(host_mem_prop_given(p, m));
    vmm_options_clear(&o);
    msg = bad_error(p, &bad);
    if (bad) {
        bad_set = g_strdup_printf("%s=%s", p->name, bad);
        expect_error(t, p, bad_set, msg);
    }
    if (p->required & HOSTMEM_TYPE_BIT(t)) {
        g_autofree char *req =
            g_strdup_printf("%s=%s is required", p->name, p->metavar);

        expect_error(t, p, NULL, req);
    }
}

/* @p on a type that does not take it: refused with the current words. */
static void prop_refused(const HostMemProp *p, HostMemType t)
{
    g_autofree char *set = g_strdup_printf("%s=%s", p->name, good_value(p));
    g_autofree char *only = host_mem_prop_type_names(p);
    g_autofree char *msg =
        p->only_error
            ? g_strdup_printf("%s: only %s has it", p->name, only)
            : g_strdup_printf("unknown property '%s' (see -object %s,help)",
                              p->name, host_mem_type_name(t));

    expect_error(t, NULL, set, msg);
}

/* ",help" of @t lists @p (name and type) exactly when @t takes it. */
static void prop_help(const HostMemProp *p, HostMemType t)
{
    g_autofree char *line = g_strdup_printf("\n  %-20s <", p->name);
    g_autofree char *arg = g_strdup_printf("%s,help", host_mem_type_name(t));
    char *argv[] = {(char *)"vfio-user-vmm", (char *)"-object", arg};
    VmmOptions o;

    vmm_options_init(&o);
    g_assert_true(vmm_parse_args(&o, G_N_ELEMENTS(argv), argv, NULL));
    g_assert_nonnull(o.print);
    g_assert_cmpint(strstr(o.print->str, line) != NULL, ==,
                    (p->types & HOSTMEM_TYPE_BIT(t)) != 0);
    if (p->types & HOSTMEM_TYPE_BIT(t)) {
        g_autofree char *tail =
            p->required & HOSTMEM_TYPE_BIT(t)
                ? g_strdup_printf("%s (required)\n", p->help)
            : p->def ? g_strdup_printf("%s (default: %s)\n", p->help, p->def)
                     : g_strdup_printf("%s\n", p->help);

        g_assert_nonnull(strstr(o.print->str, tail));
    }
    vmm_options_clear(&o);
}

/*
 * The backend checks the same table: a property its type does not take,
 * or a required one missing, is refused.
 */
static void prop_backend(const HostMemProp *p, HostMemType t)
{
    HostMemoryOptions mo = {
        .type = t,
        .id = (char *)"b",
        .size = 1 << 20,
        .mem_path = t == HOSTMEM_FILE ? (char *)"/nonexistent-dir/x" : NULL,
    };
    char *field = (char *)&mo + p->offset;
    g_autoptr(GError) err = NULL;
    g_autofree char *want = NULL;

    if (p->types & HOSTMEM_TYPE_BIT(t)) {
        if (!(p->required & HOSTMEM_TYPE_BIT(t)) ||
            p->type == HOSTMEM_PROP_SIZE) {
            return; /* a missing size has its own check */
        }
        *(char **)field = NULL;
        want = g_strdup_printf("%s needs %s", host_mem_type_name(t), p->name);
    } else {
        g_autofree char *only = host_mem_prop_type_names(p);

        if (p->type == HOSTMEM_PROP_BOOL) {
            *(bool *)((char *)&mo + p->given) = true;
        } else if (p->type == HOSTMEM_PROP_SIZE) {
            *(uint64_t *)field = 4096;
        } else {
            *(char **)field = (char *)"/x";
        }
        want = g_strdup_printf("%s is for %s only", p->name, only);
    }
    g_assert_null(host_memory_backend_new(&mo, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_assert_cmpstr(err->message, ==, want);
}

static void test_prop(gconstpointer data)
{
    const HostMemProp *p = data;

    for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
        if (p->types & HOSTMEM_TYPE_BIT(types[i])) {
            prop_taken(p, types[i]);
        } else {
            prop_refused(p, types[i]);
        }
        prop_help(p, types[i]);
        prop_backend(p, types[i]);
    }
}

int main(int argc, char **argv)
{
    size_t n;
    const HostMemProp *props = host_mem_props(&n);

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < n; i++) {
        g_autofree char *path =
            g_strdup_printf("/object-props/prop/%s", props[i].name);

        g_test_add_data_func(path, &props[i], test_prop);
    }
    return g_test_run();
}
