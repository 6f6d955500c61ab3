/*
 * -device vfio-user-pci (and device_add): its properties as one table
 * that drives parsing, ",help" and the JSON form ('{"driver":...}', whose
 * members are flattened to the same keys by system/keyval.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_OPTIONS_DEVICE_H
#define SYSTEM_OPTIONS_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "hw/vfio-user/pci.h"

typedef enum VmmDevicePropType {
    VMM_PROP_STRING,     /* char *, replaced */
    VMM_PROP_ID,         /* char *: a letter, then [A-Za-z0-9-_.] */
    VMM_PROP_BOOL,       /* bool: on/off, yes/no, true/false, y/n */
    VMM_PROP_UINT32,     /* uint32_t from min to max */
    VMM_PROP_PCI_ID,     /* int32_t from 0 to 0xffff (-1: unset) */
    VMM_PROP_DMA_ACCESS, /* VFIOUserDMAAccess by name */
    VMM_PROP_SLOT,       /* addr=: the PCI slot, not a field */
    VMM_PROP_SOCKET,     /* socket.type|path|str: one SocketAddress */
} VmmDevicePropType;

typedef struct VmmDeviceProp {
    const char *name;
    VmmDevicePropType type;
    size_t offset;         /* of the field in VFIOUserPCIOptions */
    uint64_t min, max;     /* VMM_PROP_UINT32 */
    const char *expect;    /* VMM_PROP_UINT32: "expected EXPECT, got 'V'" */
    const char *help_type; /* NULL: the type's name */
    const char *def;       /* for ,help; NULL: no default to name */
    bool required;         /* for ,help */
    const char *help;
} VmmDeviceProp;

/* The table, in the order of ",help". */
const VmmDeviceProp *vmm_device_props(size_t *n);

/*
 * One -device argument, "vfio-user-pci,KEY=VALUE,..." or its JSON form
 * '{"driver":"vfio-user-pci",...}' (also what device_add takes), into @d
 * (initialised by the caller).  socket= is a path, or a SocketAddress:
 * socket.type=unix,socket.path=P or socket.type=fd,socket.str=N (an fd
 * the VMM inherited).  addr=SLOT[.0] picks the PCI slot (*@slot, else
 * -1).  *@help is set when "help" was asked for (the text is in @help).
 * d->label names the device in later messages as the user did:
 * "vfio-user-pci 'ID'" for id=ID, else @arg as typed.
 */
bool vmm_parse_device(const char *arg, VFIOUserPCIOptions *d, int *slot,
                      GString *help, GError **errp);
/* The same with errors that do not start with the type ("socket=PATH is
 * required"), for callers that prefix the whole spec (device_add). */
bool vmm_parse_device_spec(const char *spec, VFIOUserPCIOptions *d, int *slot,
                           GString *help, GError **errp);

#endif /* SYSTEM_OPTIONS_DEVICE_H */
