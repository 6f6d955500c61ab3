/*
 * vfio-user client: surviving a restart of the server (see reconnect.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-reconnect"
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <linux/pci_regs.h>
#include "hw/vfio-user/reconnect.h"
#include "vfio-user/error.h"
#include "trace-events.h"

/* ---- the retry state machine ---- */

void vfio_user_reconnect_init(VFIOUserReconnect *r, const char *name,
                              uint32_t interval_ms,
                              VFIOUserReconnectAttempt attempt, void *opaque)
{
    memset(r, 0, sizeof(*r));
    r->name = g_strdup(name);
    r->interval_ms = interval_ms;
    r->attempt = attempt;
    r->opaque = opaque;
}

void vfio_user_reconnect_cleanup(VFIOUserReconnect *r)
{
    if (r->timer) {
        g_source_remove(r->timer);
        r->timer = 0;
    }
    g_clear_pointer(&r->name, g_free);
    g_clear_pointer(&r->last_error, g_free);
}

static void reconnect_set_error(VFIOUserReconnect *r, const char *msg)
{
    g_free(r->last_error);
    r->last_error = g_strdup(msg);
}

static gboolean reconnect_tick(gpointer p)
{
    VFIOUserReconnect *r = p;
    g_autoptr(GError) err = NULL;
    VFIOUserReconnectResult res = r->attempt(r->opaque, &err);
    uint64_t ms = (g_get_monotonic_time() - r->since_us) / 1000;

    switch (res) {
    case VFIO_USER_RECONNECT_OK:
        r->timer = 0;
        r->state = VFIO_USER_RECONNECT_IDLE;
        r->reconnects++;
        r->last_ms = ms;
        g_message("%s: reconnected after %" PRIu64 " ms (%" PRIu64
                  " failed attempts); the device was reset",
                  r->name, ms, r->retries);
        return G_SOURCE_REMOVE;
    case VFIO_USER_RECONNECT_GIVE_UP:
        r->timer = 0;
        r->state = VFIO_USER_RECONNECT_GAVE_UP;
        reconnect_set_error(r, err ? err->message : "unknown error");
        g_message("%s: gave up reconnecting: %s", r->name, r->last_error);
        return G_SOURCE_REMOVE;
    case VFIO_USER_RECONNECT_RETRY:
        break;
    }
    r->retries++;
    reconnect_set_error(r, err ? err->message : "unknown error");
    trace_reconnect_attempt(r->name, r->retries, r->last_error);
    return G_SOURCE_CONTINUE;
}

void vfio_user_reconnect_start(VFIOUserReconnect *r, const char *why)
{
    if (!r->interval_ms || r->state != VFIO_USER_RECONNECT_IDLE) {
        return;
    }
    r->state = VFIO_USER_RECONNECT_RECONNECTING;
    r->retries = 0;
    r->disconnects++;
    r->since_us = g_get_monotonic_time();
    reconnect_set_error(r, why);
    g_message("%s: reconnecting every %u ms", r->name, r->interval_ms);
    r->timer = g_timeout_add(r->interval_ms, reconnect_tick, r);
}

bool vfio_user_reconnect_active(const VFIOUserReconnect *r)
{
    return r->state != VFIO_USER_RECONNECT_IDLE;
}

const char *vfio_user_reconnect_state_name(VFIOUserReconnectState s)
{
    switch (s) {
    case VFIO_USER_RECONNECT_IDLE:
        return "connected";
    case VFIO_USER_RECONNECT_RECONNECTING:
        return "reconnecting";
    case VFIO_USER_RECONNECT_GAVE_UP:
        return "gave-up";
    }
    return "?";
}

void vfio_user_reconnect_info(const VFIOUserReconnect *r, GString *out)
{
    if (!r->interval_ms) {
        g_string_append(out, "  reconnect: off (reconnect-ms=0)\n");
        return;
    }
    g_string_append_printf(
        out,
        "  reconnect-ms %u: %s, retries %" PRIu64 ", disconnects %" PRIu64
        ", reconnects %" PRIu64 ", last outage %" PRIu64 " ms\n",
        r->interval_ms, vfio_user_reconnect_state_name(r->state), r->retries,
        r->disconnects, r->reconnects, r->last_ms);
    if (r->last_error) {
        g_string_append_printf(out, "  reconnect last error: %s\n",
                               r->last_error);
    }
}

/* ---- what must stay the same ---- */

static bool identity_config(VFIOUserDevice *dev, uint32_t off, void *buf,
                            size_t len, GError **errp)
{
    if (!vfio_user_region_read(dev, VFIO_PCI_CONFIG_REGION_INDEX, off, buf, len,
                               errp)) {
        g_prefix_error(errp, "reading config 0x%x: ", off);
        return false;
    }
    return true;
}

static uint32_t cfg32(const uint8_t *c, unsigned off)
{
    return c[off] | c[off + 1] << 8 | c[off + 2] << 16 |
           (uint32_t)c[off + 3] << 24;
}

/* The standard capability list of the 256-byte header @c. */
static void identity_caps(VFIOUserDeviceIdentity *id, const uint8_t *c)
{
    uint8_t pos =
        (c[PCI_STATUS] & PCI_STATUS_CAP_LIST) ? c[PCI_CAPABILITY_LIST] & ~3 : 0;

    while (pos >= 0x40 && pos <= 0xf0 &&
           id->num_caps < VFIO_USER_IDENTITY_MAX_CAPS) {
        uint8_t cap_id = c[pos];
        uint16_t flags = c[pos + 2] | c[pos + 3] << 8;
        uint32_t shape = 0;
        uint64_t layout = 0;

        if (cap_id == PCI_CAP_ID_MSI) {
            shape = flags & ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
        } else if (cap_id == PCI_CAP_ID_MSIX) {
            shape = flags & PCI_MSIX_FLAGS_QSIZE;
            layout = (uint64_t)cfg32(c, pos + PCI_MSIX_TABLE) << 32 |
                     cfg32(c, pos + PCI_MSIX_PBA);
        }
        id->cap[id->num_caps] = shape << 16 | (uint32_t)pos << 8 | cap_id;
        id->cap_layout[id->num_caps++] = layout;
        pos = c[pos + PCI_CAP_LIST_NEXT] & ~3;
    }
}

bool vfio_user_device_identity_read(VFIOUserDevice *dev,
                                    VFIOUserDeviceIdentity *id, GError **errp)
{
    uint8_t hdr[256];

    memset(id, 0, sizeof(*id));
    if (!identity_config(dev, 0, hdr, sizeof(hdr), errp)) {
        return false;
    }
    identity_caps(id, hdr);
    id->vendor_id = hdr[0] | hdr[1] << 8;
    id->device_id = hdr[2] | hdr[3] << 8;
    id->class_rev = cfg32(hdr, PCI_CLASS_REVISION);
    for (int i = 0; i < 6; i++) {
        id->bar_type[i] = hdr[0x10 + 4 * i] & 0xf;
    }
    id->sub_vendor_id = hdr[0x2c] | hdr[0x2d] << 8;
    id->sub_device_id = hdr[0x2e] | hdr[0x2f] << 8;
    id->num_regions = dev->num_regions;
    id->num_irqs = dev->num_irqs;
    for (uint32_t i = 0;
         i < MIN(dev->num_regions, VFIO_USER_IDENTITY_MAX_REGIONS); i++) {
        id->region_size[i] = dev->regions[i].size;
        id->region_rw[i] =
            dev->regions[i].flags &
            (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
    }
    for (uint32_t i = 0; i < MIN(dev->num_irqs, VFIO_USER_IDENTITY_MAX_IRQS);
         i++) {
        struct vfio_irq_info info;

        if (!vfio_user_device_get_irq_info(dev, i, &info, errp)) {
            g_prefix_error(errp, "irq %u: ", i);
            return false;
        }
        id->irq_count[i] = info.count;
    }
    return true;
}

#define ID_CHECK(field, what, ...)                                             \
    do {                                                                       \
        if (was->field != now->field) {                                        \
            return vfio_user_error_set(errp, ENODEV,                           \
                                       "a different device answered: " what    \
                                       " 0x%" PRIx64 ", was 0x%" PRIx64,       \
                                       ##__VA_ARGS__, (uint64_t)now->field,    \
                                       (uint64_t)was->field);                  \
        }                                                                      \
    } while (0)

bool vfio_user_device_identity_compare(const VFIOUserDeviceIdentity *was,
                                       const VFIOUserDeviceIdentity *now,
                                       GError **errp)
{
    ID_CHECK(vendor_id, "vendor id");
    ID_CHECK(device_id, "device id");
    ID_CHECK(sub_vendor_id, "subsystem vendor id");
    ID_CHECK(sub_device_id, "subsystem id");
    ID_CHECK(class_rev, "class code and revision");
    for (int i = 0; i < 6; i++) {
        ID_CHECK(bar_type[i], "BAR%d type bits", i);
    }
    ID_CHECK(num_caps, "number of capabilities");
    for (uint32_t i = 0; i < now->num_caps; i++) {
        ID_CHECK(cap[i], "capability %u (flags << 16 | offset << 8 | id)", i);
        ID_CHECK(cap_layout[i], "capability %u table and PBA", i);
    }
    ID_CHECK(num_regions, "number of regions");
    for (uint32_t i = 0;
         i < MIN(now->num_regions, VFIO_USER_IDENTITY_MAX_REGIONS); i++) {
        ID_CHECK(region_size[i], "region %u size", i);
        ID_CHECK(region_rw[i], "region %u read/write flags", i);
    }
    ID_CHECK(num_irqs, "number of irq indexes");
    for (uint32_t i = 0; i < MIN(now->num_irqs, VFIO_USER_IDENTITY_MAX_IRQS);
         i++) {
        ID_CHECK(irq_count[i], "irq %u vector count", i);
    }
    return true;
}

/* ---- the machine's DMA maps ---- */

struct VFIOUserDMAReplay {
    GArray *secs; /* VFIOUserDMASection, name owned */
};

static void replay_clear_sec(gpointer p)
{
    VFIOUserDMASection *s = p;

    g_free((char *)s->name);
}

VFIOUserDMAReplay *vfio_user_dma_replay_new(void)
{
    VFIOUserDMAReplay *l = g_new0(VFIOUserDMAReplay, 1);

    l->secs = g_array_new(FALSE, TRUE, sizeof(VFIOUserDMASection));
    g_array_set_clear_func(l->secs, replay_clear_sec);
    return l;
}

void vfio_user_dma_replay_free(VFIOUserDMAReplay *l)
{
    if (l) {
        g_array_free(l->secs, TRUE);
        g_free(l);
    }
}

void vfio_user_dma_replay_add(VFIOUserDMAReplay *l, const VFIOUserDMASection *s)
{
    VFIOUserDMASection copy = *s;

    copy.name = g_strdup(s->name ? s->name : "");
    g_array_append_val(l->secs, copy);
}

bool vfio_user_dma_replay_remove(VFIOUserDMAReplay *l, uint64_t iova,
                                 uint64_t size)
{
    for (guint i = 0; i < l->secs->len; i++) {
        VFIOUserDMASection *s = &g_array_index(l->secs, VFIOUserDMASection, i);

        if (s->iova == iova && s->size == size) {
            g_array_remove_index(l->secs, i);
            return true;
        }
    }
    return false;
}

unsigned vfio_user_dma_replay_count(const VFIOUserDMAReplay *l)
{
    return l->secs->len;
}

bool vfio_user_dma_replay_apply(const VFIOUserDMAReplay *l,
                                VFIOUserContainer *c, GError **errp)
{
    for (guint i = 0; i < l->secs->len; i++) {
        if (!vfio_user_container_map(
                c, &g_array_index(l->secs, VFIOUserDMASection, i), errp)) {
            return false;
        }
    }
    return true;
}
