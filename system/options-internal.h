/*
 * Helpers shared by the system/options*.c parsers.  Private to system/.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_OPTIONS_INTERNAL_H
#define SYSTEM_OPTIONS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "system/keyval.h"
#include "system/options.h"

#define MACHINE_TYPE "vfio-user-vmm"

/* A digits-only number (0x... and 0... as strtoull) of at most @max. */
bool vmm_parse_uint_max(const char *s, uint64_t max, uint64_t *out);

/* An id: a letter, then letters, digits, '-', '_' or '.'. */
bool vmm_valid_id(const char *id);

/*
 * Setters of the -device and -object property tables; errors read
 * "NAME: expected ..., got 'VAL'".  @is_id: @val must be an id.
 */
bool vmm_prop_set_string(const char *name, const char *val, bool is_id,
                         char **field, GError **errp);
bool vmm_prop_set_bool(const char *name, const char *val, bool *field,
                       GError **errp);

/*
 * One line per property of ",help": "  NAME <TYPE> - HELP", then
 * " (required)", or " (default: DEF)" when @def is given.
 */
void vmm_prop_help_line(GString *out, const char *name, const char *type,
                        const char *help, const char *def, bool required);

/* One KEY=VALUE property of a -device or -object. */
typedef bool (*VmmPropFn)(void *target, const KeyVal *kv, GError **errp);

/* Apply items[1..] (items[0] is the type) to @target; stop at an error. */
void vmm_apply_props(GPtrArray *items, VmmPropFn fn, void *target,
                     GError **errp);

/* -object, -machine, -numa, -m (system/options-machine.c). */
bool vmm_parse_object_opt(VmmOptions *o, const char *arg, GError **errp);
bool vmm_parse_machine_opt(VmmOptions *o, const char *name, const char *arg,
                           GError **errp);
bool vmm_parse_numa_opt(VmmOptions *o, const char *arg, GError **errp);
bool vmm_parse_mem_opt(VmmOptions *o, const char *arg, GError **errp);
/* The RAM backend -machine names exists and fits -m; unused ones warn. */
bool vmm_check_machine(VmmOptions *o, GError **errp);

/* -device (system/options-device.c); ids unique, no more than the slots. */
bool vmm_parse_device_opt(VmmOptions *o, const char *arg, GError **errp);
bool vmm_check_devices(VmmOptions *o, GError **errp);

#endif /* SYSTEM_OPTIONS_INTERNAL_H */
