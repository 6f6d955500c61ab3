/*
 * QEMU-style option lists: "type,key=value,..." (",," is a literal comma)
 * and the JSON form of the same ('{"driver":"type","key":value,...}'),
 * both turned into one list of KEY=VALUE items.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_KEYVAL_H
#define SYSTEM_KEYVAL_H

#include <stdbool.h>
#include <glib.h>

typedef struct KeyVal {
    char *key;
    char *val; /* NULL for a bare word */
} KeyVal;

void keyval_free(gpointer p);
KeyVal *keyval_new(const char *key, const char *val);

/* Split "a,b=c,d=e,,f" into KeyVal items. */
GPtrArray *keyval_split(const char *s);

/* A bare "help" or "?" among the items. */
bool keyval_want_help(GPtrArray *items);

/* The first item names the type: "foo" or "@key=foo". */
const char *keyval_type(GPtrArray *items, const char *key);

/*
 * The JSON form: an object whose member @type_key (e.g. "driver") comes
 * out first, as "@type_key=VALUE"; strings stay as they are, numbers are
 * written in decimal, booleans as on/off, and nested objects become
 * dotted keys ("socket":{"path":"x"} -> socket.path=x).  Arrays and null
 * are refused.  Errors say what is wrong with the JSON.
 */
GPtrArray *keyval_from_json(const char *json, const char *type_key,
                            GError **errp);

/* The item named @key, or NULL. */
KeyVal *keyval_find(GPtrArray *items, const char *key);

#endif /* SYSTEM_KEYVAL_H */
