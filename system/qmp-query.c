/*
 * QMP query-pci: bus 0 and its devices in the shape of QEMU's PciInfo
 * (qapi/pci.json), read from configuration space as `info pci` does.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "hw/pci/pci_host.h"
#include "system/qmp.h"

/* One BAR as a PciMemoryRegion; an unmapped BAR has address -1. */
static JsonObject *qmp_pci_region(PCIDevice *d, int i)
{
    const PCIBar *b = &d->bars[i];
    JsonObject *r = json_object_new();
    bool io = b->type & PCI_BASE_ADDRESS_SPACE_IO;

    json_object_set_int_member(r, "bar", i);
    json_object_set_string_member(r, "type", io ? "io" : "memory");
    json_object_set_int_member(r, "address", (gint64)pci_bar_address(d, i));
    json_object_set_int_member(r, "size", (gint64)b->size);
    if (!io) {
        json_object_set_boolean_member(r, "prefetch",
                                       b->type & PCI_BASE_ADDRESS_MEM_PREFETCH);
        json_object_set_boolean_member(r, "mem_type_64",
                                       b->type & PCI_BASE_ADDRESS_MEM_TYPE_64);
    }
    return r;
}

static JsonObject *qmp_pci_ids(PCIDevice *d)
{
    JsonObject *id = json_object_new();

    json_object_set_int_member(id, "vendor",
                               pci_config_read(d, PCI_VENDOR_ID, 2));
    json_object_set_int_member(id, "device",
                               pci_config_read(d, PCI_DEVICE_ID, 2));
    json_object_set_int_member(id, "subsystem-vendor",
                               pci_config_read(d, PCI_SUBSYSTEM_VENDOR_ID, 2));
    json_object_set_int_member(id, "subsystem",
                               pci_config_read(d, PCI_SUBSYSTEM_ID, 2));
    return id;
}

static JsonObject *qmp_pci_device(PCIDevice *d)
{
    JsonObject *o = json_object_new();
    JsonObject *cls = json_object_new();
    JsonArray *regions = json_array_new();
    uint8_t pin = pci_config_read(d, PCI_INTERRUPT_PIN, 1);

    json_object_set_int_member(o, "bus", 0);
    json_object_set_int_member(o, "slot", d->devfn >> 3);
    json_object_set_int_member(o, "function", d->devfn & 7);
    json_object_set_int_member(cls, "class",
                               pci_config_read(d, PCI_CLASS_DEVICE, 2));
    json_object_set_object_member(o, "class_info", cls);
    json_object_set_object_member(o, "id", qmp_pci_ids(d));
    if (pin) {
        json_object_set_int_member(o, "irq",
                                   pci_config_read(d, PCI_INTERRUPT_LINE, 1));
    }
    json_object_set_int_member(o, "irq_pin", pin);
    json_object_set_string_member(o, "qdev_id", d->id ? d->id : "");
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        if (d->bars[i].size) {
            json_array_add_object_element(regions, qmp_pci_region(d, i));
        }
    }
    json_object_set_array_member(o, "regions", regions);
    return o;
}

JsonNode *qmp_query_pci(Machine *m, JsonObject *args, GError **errp)
{
    JsonArray *buses = json_array_new();
    JsonArray *devs = json_array_new();
    JsonObject *bus = json_object_new();
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);

    (void)args;
    (void)errp;
    for (int s = 0; s < PCI_SLOT_MAX; s++) {
        if (m->pci->slots[s]) {
            json_array_add_object_element(devs,
                                          qmp_pci_device(m->pci->slots[s]));
        }
    }
    json_object_set_int_member(bus, "bus", 0);
    json_object_set_array_member(bus, "devices", devs);
    json_array_add_object_element(buses, bus);
    json_node_take_array(n, buses);
    return n;
}
