/*
 * QEMU-style option lists, in the key=value and in the JSON form.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "system/keyval.h"
#include "vfio-user/error.h"

#define KEYVAL_JSON_MAX_DEPTH 8

void keyval_free(gpointer p)
{
    KeyVal *kv = p;

    g_free(kv->key);
    g_free(kv->val);
    g_free(kv);
}

KeyVal *keyval_new(const char *key, const char *val)
{
    KeyVal *kv = g_new0(KeyVal, 1);

    kv->key = g_strdup(key);
    kv->val = g_strdup(val);
    return kv;
}

GPtrArray *keyval_split(const char *s)
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

bool keyval_want_help(GPtrArray *items)
{
    for (guint i = 0; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (!kv->val && (!strcmp(kv->key, "help") || !strcmp(kv->key, "?"))) {
            return true;
        }
    }
    return false;
}

const char *keyval_type(GPtrArray *items, const char *key)
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

KeyVal *keyval_find(GPtrArray *items, const char *key)
{
    for (guint i = 0; i < items->len; i++) {
        KeyVal *kv = g_ptr_array_index(items, i);

        if (!strcmp(kv->key, key)) {
            return kv;
        }
    }
    return NULL;
}

static bool json_scalar(JsonNode *n, const char *key, char **out, GError **errp)
{
    GType t = json_node_get_value_type(n);

    if (t == G_TYPE_STRING) {
        *out = g_strdup(json_node_get_string(n));
    } else if (t == G_TYPE_INT64) {
        *out = g_strdup_printf("%" PRId64, json_node_get_int(n));
    } else if (t == G_TYPE_BOOLEAN) {
        *out = g_strdup(json_node_get_boolean(n) ? "on" : "off");
    } else {
        return vfio_user_error_set(
            errp, EINVAL, "%s: expected a string, an integer or a boolean",
            key);
    }
    return true;
}

static bool json_flatten(JsonObject *obj, const char *prefix, int depth,
                         GPtrArray *items, GError **errp)
{
    g_autoptr(GList) members = json_object_get_members(obj);

    if (depth > KEYVAL_JSON_MAX_DEPTH) {
        return vfio_user_error_set(errp, EINVAL, "%s: nested too deeply",
                                   prefix);
    }
    for (GList *l = members; l; l = l->next) {
        const char *name = l->data;
        JsonNode *n = json_object_get_member(obj, name);
        g_autofree char *key =
            prefix ? g_strconcat(prefix, ".", name, NULL) : g_strdup(name);
        char *val = NULL;
        KeyVal *kv;

        if (JSON_NODE_HOLDS_OBJECT(n)) {
            if (!json_flatten(json_node_get_object(n), key, depth + 1, items,
                              errp)) {
                return false;
            }
            continue;
        }
        if (!JSON_NODE_HOLDS_VALUE(n)) {
            return vfio_user_error_set(
                errp, EINVAL,
                "%s: expected a string, an integer, a boolean or an object",
                key);
        }
        if (!json_scalar(n, key, &val, errp)) {
            return false;
        }
        kv = keyval_new(key, NULL);
        kv->val = val;
        g_ptr_array_add(items, kv);
    }
    return true;
}

GPtrArray *keyval_from_json(const char *json, const char *type_key,
                            GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GPtrArray) rest = g_ptr_array_new_with_free_func(keyval_free);
    GPtrArray *items;
    GError *err = NULL;
    JsonNode *root;
    KeyVal *type;

    if (!json_parser_load_from_data(parser, json, -1, &err)) {
        vfio_user_error_set(errp, EINVAL, "JSON parse error: %s", err->message);
        g_error_free(err);
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        vfio_user_error_set(errp, EINVAL, "expected a JSON object");
        return NULL;
    }
    if (!json_flatten(json_node_get_object(root), NULL, 0, rest, errp)) {
        return NULL;
    }
    type = keyval_find(rest, type_key);
    if (!type) {
        vfio_user_error_set(errp, EINVAL, "'%s' is missing", type_key);
        return NULL;
    }
    items = g_ptr_array_new_with_free_func(keyval_free);
    g_ptr_array_add(items, keyval_new(type->key, type->val));
    for (guint i = 0; i < rest->len; i++) {
        KeyVal *kv = g_ptr_array_index(rest, i);

        if (kv != type) {
            g_ptr_array_add(items, keyval_new(kv->key, kv->val));
        }
    }
    return items;
}
