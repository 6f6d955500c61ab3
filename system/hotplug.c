/*
 * Run-time device_add / device_del (see include/system/hotplug.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include "hw/pci/pci_host.h"
#include "hw/vfio-user/pci.h"
#include "system/hotplug.h"
#include "system/options.h"
#include "vfio-user/error.h"

int hotplug_pick_slot(Machine *m, int want, GError **errp)
{
    int slot = want;

    if (want < 0) {
        slot = pci_host_free_slot(m->pci);
        if (slot < 0) {
            vfio_user_error_set(errp, ENOSPC, "no free PCI slot");
        }
        return slot;
    }
    if (want == 0 || want >= PCI_SLOT_MAX) {
        vfio_user_error_set(errp, EINVAL, "PCI slot 0x%x does not exist", want);
        return -1;
    }
    if (m->pci->slots[want]) {
        vfio_user_error_set(errp, EBUSY,
                            "PCI slot 0x%x is already in use by '%s'", want,
                            m->pci->slots[want]->id);
        return -1;
    }
    return slot;
}

bool hotplug_device_help(const char *spec, GString *out)
{
    VFIOUserPCIOptions o;
    g_autoptr(GString) help = g_string_new(NULL);
    int slot;
    bool ok;

    vfio_user_pci_options_init(&o);
    ok = vmm_parse_device_spec(spec, &o, &slot, help, NULL) && help->len;
    vfio_user_pci_options_clear(&o);
    if (ok) {
        g_string_append_len(out, help->str, help->len);
    }
    return ok;
}

/* Parse @spec and pick its slot; refuse a help request and a taken id. */
static int hotplug_prepare(Machine *m, const char *spec, VFIOUserPCIOptions *o,
                           GError **errp)
{
    g_autoptr(GString) help = g_string_new(NULL);
    int slot;

    if (!vmm_parse_device_spec(spec, o, &slot, help, errp)) {
        return -1;
    }
    if (help->len) {
        vfio_user_error_set(errp, EINVAL, "asks for help, adds no device");
        return -1;
    }
    slot = hotplug_pick_slot(m, slot, errp);
    if (slot < 0) {
        return -1;
    }
    /* Without id= it gets a free one (pci_host_default_id()). */
    if (o->id && pci_host_find(m->pci, o->id)) {
        vfio_user_error_set(errp, EEXIST, "duplicate device id '%s'", o->id);
        return -1;
    }
    return slot;
}

bool hotplug_device_add(Machine *m, const char *spec, GError **errp)
{
    VFIOUserPCIOptions o;
    GError *err = NULL;
    PCIDevice *d = NULL;
    int slot;

    vfio_user_pci_options_init(&o);
    slot = hotplug_prepare(m, spec, &o, &err);
    if (slot >= 0) {
        d = vfio_user_pci_realize(m, &o, slot, &err);
    }
    if (d && !pci_host_firmware_init_slot(m->pci, slot, &err)) {
        pci_host_unplug(m->pci, d->id, NULL);
        d = NULL;
    }
    vfio_user_pci_options_clear(&o);
    if (!d) {
        g_propagate_prefixed_error(errp, err, "%s: ", spec);
        return false;
    }
    return true;
}

bool hotplug_device_del(Machine *m, const char *id, GError **errp)
{
    return pci_host_unplug(m->pci, id, errp);
}
