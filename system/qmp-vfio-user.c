/*
 * QMP query-vfio-user and the vfio-user-pci events: per device its
 * connection state, the negotiated capabilities, each DMA map with its
 * access mode, message counters and the last error; events when a
 * device's server fails, is reconnected, or reconnecting gives up.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "hw/pci/pci_host.h"
#include "hw/vfio-user/pci.h"
#include "system/qmp.h"

static JsonObject *qmp_vu_caps(const VFIOUserCaps *c)
{
    JsonObject *o = json_object_new();
    JsonObject *v = json_object_new();

    json_object_set_int_member(v, "major", c->major);
    json_object_set_int_member(v, "minor", c->minor);
    json_object_set_object_member(o, "version", v);
    json_object_set_int_member(o, "max-msg-fds", c->max_msg_fds);
    json_object_set_int_member(o, "max-data-xfer-size",
                               (gint64)c->max_data_xfer_size);
    json_object_set_int_member(o, "pgsizes", (gint64)c->pgsizes);
    json_object_set_int_member(o, "max-dma-maps", c->max_dma_maps);
    json_object_set_boolean_member(o, "write-multiple", c->write_multiple);
    json_object_set_boolean_member(o, "posted-errors", c->posted_errors);
    return o;
}

static JsonObject *qmp_vu_map(const VFIOUserDMAMapInfo *m)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "name", m->name);
    json_object_set_int_member(o, "iova", (gint64)m->iova);
    json_object_set_int_member(o, "size", (gint64)m->size);
    json_object_set_string_member(o, "access",
                                  vfio_user_dma_access_name(m->mode));
    json_object_set_int_member(o, "flags", m->flags);
    json_object_set_boolean_member(o, "fd-sent", m->sent_fd);
    json_object_set_boolean_member(o, "proc-self-mem", m->via_proc_self_mem);
    json_object_set_int_member(o, "bytes-read", (gint64)m->bytes_read);
    json_object_set_int_member(o, "bytes-written", (gint64)m->bytes_written);
    return o;
}

static JsonObject *qmp_vu_counters(const VFIOUserPCIStatus *st)
{
    JsonObject *o = json_object_new();
    const VFIOUserProxyStats *p = &st->msgs;

    json_object_set_int_member(o, "requests", (gint64)p->requests);
    json_object_set_int_member(o, "posted", (gint64)p->posted);
    json_object_set_int_member(o, "replies", (gint64)p->replies);
    json_object_set_int_member(o, "error-replies", (gint64)p->error_replies);
    json_object_set_int_member(o, "posted-errors", (gint64)p->posted_errors);
    json_object_set_int_member(o, "unknown-replies",
                               (gint64)p->unknown_replies);
    json_object_set_int_member(o, "timeouts", (gint64)p->timeouts);
    json_object_set_int_member(o, "late-replies", (gint64)p->late_replies);
    json_object_set_int_member(o, "server-requests",
                               (gint64)p->server_requests);
    json_object_set_int_member(o, "dma-reads", (gint64)st->dma.dma_reads);
    json_object_set_int_member(o, "dma-writes", (gint64)st->dma.dma_writes);
    json_object_set_int_member(o, "dma-rejected", (gint64)st->dma.dma_rejected);
    return o;
}

static JsonObject *qmp_vu_device(PCIDevice *d, const VFIOUserPCIStatus *st)
{
    JsonObject *o = json_object_new();
    JsonArray *maps = json_array_new();

    json_object_set_string_member(o, "id", d->id);
    json_object_set_int_member(o, "slot", d->devfn >> 3);
    json_object_set_string_member(o, "socket", st->socket);
    json_object_set_string_member(o, "state", st->state);
    json_object_set_string_member(o, "dma-access",
                                  vfio_user_dma_access_name(st->dma_access));
    if (st->connected) {
        json_object_set_object_member(o, "caps", qmp_vu_caps(&st->caps));
        for (size_t i = 0; i < MIN(st->nr_maps, G_N_ELEMENTS(st->maps)); i++) {
            json_array_add_object_element(maps, qmp_vu_map(&st->maps[i]));
        }
        json_object_set_object_member(o, "counters", qmp_vu_counters(st));
    }
    json_object_set_array_member(o, "dma-maps", maps);
    json_object_set_int_member(o, "errors", (gint64)st->errors);
    if (st->last_error) {
        json_object_set_string_member(o, "last-error", st->last_error);
    }
    return o;
}

JsonNode *qmp_query_vfio_user(Machine *m, JsonObject *args, GError **errp)
{
    JsonArray *list = json_array_new();
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);

    (void)args;
    (void)errp;
    for (int s = 1; s < PCI_SLOT_MAX; s++) {
        PCIDevice *d = m->pci->slots[s];
        VFIOUserPCIStatus st;

        if (d && vfio_user_pci_status(d, &st)) {
            json_array_add_object_element(list, qmp_vu_device(d, &st));
            g_free(st.last_error);
        }
    }
    json_node_take_array(n, list);
    return n;
}

static void qmp_vu_event(PCIDevice *d, const char *event, const char *reason)
{
    JsonObject *o = json_object_new();
    g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", d->id);
    VFIOUserPCIStatus st;
    const char *name = !strcmp(event, "failed") ? "VFIO_USER_SERVER_FAILED"
                       : !strcmp(event, "reconnected")
                           ? "VFIO_USER_SERVER_RECONNECTED"
                           : "VFIO_USER_RECONNECT_GAVE_UP";

    json_object_set_string_member(o, "device", d->id);
    json_object_set_string_member(o, "path", path);
    if (vfio_user_pci_status(d, &st)) {
        json_object_set_string_member(o, "socket", st.socket);
        g_free(st.last_error);
    }
    if (reason) {
        json_object_set_string_member(o, "reason", reason);
    }
    qmp_event_send(name, o);
}

void qmp_vfio_user_events_init(void)
{
    vfio_user_pci_set_event_fn(qmp_vu_event);
}
