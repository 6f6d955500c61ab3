/*
 * Run-time device_add / device_del of vfio-user-pci devices, for the human
 * monitor and QMP alike.  A hot-plugged device is set up as one of the
 * command line: connected, its DMA maps of guest RAM made, its interrupts
 * armed, then "firmware" gives its BARs free space in the windows, writes
 * its interrupt line and enables decoding and bus mastering
 * (pci_host_firmware_init_slot()).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_HOTPLUG_H
#define SYSTEM_HOTPLUG_H

#include <stdbool.h>
#include <glib.h>
#include "system/machine.h"

/*
 * Add the device @spec describes, in -device syntax: keyval
 * ("vfio-user-pci,socket=PATH,id=X,addr=0x5") or JSON
 * ('{"driver":"vfio-user-pci","socket":{"type":"unix","path":"P"}}').
 * It goes into slot addr= (EBUSY naming the device there if taken) or the
 * first free one (ENOSPC if none); an id= already in use is refused
 * (EEXIST), without id= it is named by pci_host_default_id().  Every
 * error message starts with "@spec: ".
 */
bool hotplug_device_add(Machine *m, const char *spec, GError **errp);

/* Unplug and destroy device @id: its DMA maps, interrupts, connection. */
bool hotplug_device_del(Machine *m, const char *id, GError **errp);

/*
 * When @spec asks for help ("help", "vfio-user-pci,help"), append the
 * text to @out and return true; false for any other spec.
 */
bool hotplug_device_help(const char *spec, GString *out);

/*
 * The slot a device goes into: @want (1..31, from addr=) when it is free,
 * else an EBUSY error naming its occupant; with @want < 0 the first free
 * slot, else ENOSPC.  -1 on error.
 */
int hotplug_pick_slot(Machine *m, int want, GError **errp);

#endif /* SYSTEM_HOTPLUG_H */
