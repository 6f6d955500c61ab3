/*
 * Every entry of the -device vfio-user-pci property table: a valid value
 * parses (in the key=value and in the JSON form) and lands in its field, a
 * bad one is refused with an error naming the property, and ",help" lists
 * it with its type.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "system/options-device.h"

/* KEY=VALUE settings that are valid / bad for @p ("" when unknown). */
static void prop_values(const VmmDeviceProp *p, char **good, char **bad)
{
    const char *n = p->name;

    switch (p->type) {
    case VMM_PROP_STRING:
        *good = g_strdup_printf("%s=/x", n);
        *bad = g_strdup_printf("%s=", n);
        return;
    case VMM_PROP_ID:
        *good = g_strdup_printf("%s=a1-_.", n);
        *bad = g_strdup_printf("%s=1a", n);
        return;
    case VMM_PROP_BOOL:
        *good = g_strdup_printf("%s=on", n);
        *bad = g_strdup_printf("%s=maybe", n);
        return;
    case VMM_PROP_UINT32:
        *good = g_strdup_printf("%s=%" G_GUINT64_FORMAT, n, p->max);
        *bad = p->min ? g_strdup_printf("%s=%" G_GUINT64_FORMAT, n, p->min - 1)
                      : g_strdup_printf("%s=%" G_GUINT64_FORMAT, n, p->max + 1);
        return;
    case VMM_PROP_PCI_ID:
        *good = g_strdup_printf("%s=0xffff", n);
        *bad = g_strdup_printf("%s=0x10000", n);
        return;
    case VMM_PROP_DMA_ACCESS:
        *good = g_strdup_printf("%s=message", n);
        *bad = g_strdup_printf("%s=fast", n);
        return;
    case VMM_PROP_SLOT:
        *good = g_strdup_printf("%s=0x1f", n);
        *bad = g_strdup_printf("%s=0x20", n);
        return;
    case VMM_PROP_SOCKET:
        if (!strcmp(n, "socket.str")) {
            *good = g_strdup("socket.type=fd,socket.str=7");
            *bad = g_strdup("socket.type=fd,socket.str=x");
        } else if (!strcmp(n, "socket.path")) {
            *good = g_strdup("socket.type=unix,socket.path=/p");
            *bad = g_strdup("socket.type=unix,socket.path=");
        } else {
            *good = g_strdup_printf("%s=unix,socket.path=/p", n);
            *bad = g_strdup_printf("%s=tcp,socket.path=/p", n);
        }
        return;
    }
    *good = g_strdup("");
    *bad = g_strdup("");
}

/* The field @p sets, after its valid value. */
static void check_field(const VmmDeviceProp *p, const VFIOUserPCIOptions *d,
                        int slot)
{
    const char *field = (const char *)d + p->offset;

    switch (p->type) {
    case VMM_PROP_STRING:
        g_assert_cmpstr(*(char *const *)field, ==, "/x");
        break;
    case VMM_PROP_ID:
        g_assert_cmpstr(*(char *const *)field, ==, "a1-_.");
        break;
    case VMM_PROP_BOOL:
        g_assert_true(*(const bool *)field);
        break;
    case VMM_PROP_UINT32:
        g_assert_cmpuint(*(const uint32_t *)field, ==, p->max);
        break;
    case VMM_PROP_PCI_ID:
        g_assert_cmpint(*(const int32_t *)field, ==, 0xffff);
        break;
    case VMM_PROP_DMA_ACCESS:
        g_assert_cmpint(*(const VFIOUserDMAAccess *)field, ==,
                        VFIO_USER_DMA_ACCESS_MESSAGE);
        break;
    case VMM_PROP_SLOT:
        g_assert_cmpint(slot, ==, 0x1f);
        break;
    case VMM_PROP_SOCKET:
        g_assert_true(!strcmp(d->socket, "/p") || !strcmp(d->socket, "fd:7"));
        break;
    }
}

static bool parse(const char *spec, VFIOUserPCIOptions *d, int *slot,
                  GError **errp)
{
    g_autoptr(GString) help = g_string_new(NULL);
    bool ok;

    vfio_user_pci_options_init(d);
    ok = vmm_parse_device(spec, d, slot, help, errp);
    g_assert_cmpuint(help->len, ==, 0);
    return ok;
}

/* "a=b,c=d" as JSON members: "a":"b","c":"d" */
static char *json_members(const char *kv)
{
    g_auto(GStrv) items = g_strsplit(kv, ",", -1);
    GString *out = g_string_new(NULL);

    for (unsigned i = 0; items[i]; i++) {
        char *eq = strchr(items[i], '=');

        g_assert_nonnull(eq);
        *eq = 0;
        g_string_append_printf(out, ",\"%s\":\"%s\"", items[i], eq + 1);
    }
    return g_string_free(out, false);
}

static void test_prop(gconstpointer data)
{
    const VmmDeviceProp *p = data;
    g_autofree char *good = NULL, *bad = NULL;
    g_autofree char *spec = NULL, *json = NULL, *members = NULL;
    g_autofree char *base = g_strndup(p->name, strcspn(p->name, "."));
    g_autoptr(GError) err = NULL;
    /* socket= is required; a SocketAddress stands for it. */
    const char *sock = p->type == VMM_PROP_SOCKET ? "" : "socket=/s,";
    const char *jsock = p->type == VMM_PROP_SOCKET ? "" : ",\"socket\":\"/s\"";
    VFIOUserPCIOptions d;
    int slot;

    prop_values(p, &good, &bad);
    g_assert_cmpstr(good, !=, "");
    spec = g_strdup_printf("vfio-user-pci,%s%s", sock, good);
    g_assert_true(parse(spec, &d, &slot, &err));
    g_assert_no_error(err);
    check_field(p, &d, slot);
    vfio_user_pci_options_clear(&d);

    members = json_members(good);
    json =
        g_strdup_printf("{\"driver\":\"vfio-user-pci\"%s%s}", jsock, members);
    g_assert_true(parse(json, &d, &slot, &err));
    g_assert_no_error(err);
    check_field(p, &d, slot);
    vfio_user_pci_options_clear(&d);

    g_free(spec);
    spec = g_strdup_printf("vfio-user-pci,%s%s", sock, bad);
    g_assert_false(parse(spec, &d, &slot, &err));
    g_assert_nonnull(err);
    g_test_message("%s: %s", spec, err->message);
    g_assert_true(g_str_has_prefix(err->message, "vfio-user-pci: "));
    g_assert_true(
        g_str_has_prefix(err->message + strlen("vfio-user-pci: "), base));
    vfio_user_pci_options_clear(&d);
}

static void test_help_lists_all(void)
{
    g_autoptr(GString) help = g_string_new(NULL);
    size_t n;
    const VmmDeviceProp *props = vmm_device_props(&n);
    VFIOUserPCIOptions d;
    int slot;

    vfio_user_pci_options_init(&d);
    g_assert_true(
        vmm_parse_device("vfio-user-pci,help", &d, &slot, help, NULL));
    g_assert_cmpuint(n, >, 0);
    for (size_t i = 0; i < n; i++) {
        g_autofree char *line = g_strdup_printf("\n  %-20s <", props[i].name);
        g_autofree char *tail =
            props[i].required
                ? g_strdup_printf("%s (required)\n", props[i].help)
            : props[i].def ? g_strdup_printf("%s (default: %s)\n",
                                             props[i].help, props[i].def)
                           : g_strdup_printf("%s\n", props[i].help);

        g_assert_nonnull(strstr(help->str, line));
        g_assert_nonnull(strstr(help->str, tail));
    }
    g_assert_null(strstr(help->str, "(default: )"));
    g_assert_nonnull(strstr(help->str, "<auto|mmap|file-io|message>"));
    vfio_user_pci_options_clear(&d);
}

int main(int argc, char **argv)
{
    size_t n;
    const VmmDeviceProp *props = vmm_device_props(&n);

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < n; i++) {
        g_autofree char *path =
            g_strdup_printf("/device-props/prop/%s", props[i].name);

        g_test_add_data_func(path, &props[i], test_prop);
    }
    g_test_add_func("/device-props/help", test_help_lists_all);
    return g_test_run();
}
