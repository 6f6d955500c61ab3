/*
 * virtio-net: a modern (virtio 1.x) virtio-pci network device whose
 * backend is libslirp (virtio-net-slirp.c).  The transport lives here:
 * PCI identity, the virtio capabilities, the registers of BAR0, feature
 * negotiation, queue set-up, reset and interrupts.
 *
 * PCI 1af4:1041 (virtio 1.x network), class 0x020000, INTx pin A, MSI-X
 * with 3 vectors (table and PBA in BAR1).  Vendor capabilities point into
 * BAR0 (16 KiB, every access served by a callback):
 *
 *   0x0000  common configuration (56 bytes, struct virtio_pci_common_cfg)
 *   0x1000  ISR status (1 byte, read clears: bit 0 queue, bit 1 config)
 *   0x2000  device configuration (struct virtio_net_config: MAC, status)
 *   0x3000  notifications: queue N at 0x3000 + 4 * N (multiplier 4),
 *           each one an ioeventfd offered through GET_REGION_IO_FDS
 *
 * Queues: 0 receive, 1 transmit, up to 256 entries each (split rings).
 * Features: VERSION_1, MAC, STATUS; no offloads, no merged buffers, no
 * indirect descriptors, no event index.  The optional VIRTIO_PCI_CAP_PCI_CFG
 * access window is not offered.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <linux/pci_regs.h>
#include "virtio-net.h"
#include "trace-events.h"

#define VNET_PCI_VENDOR_ID 0x1af4
#define VNET_PCI_DEVICE_ID 0x1041
#define VNET_PCI_CLASS 0x020000
#define VNET_BAR0_SIZE 0x4000
#define VNET_BAR1_SIZE 0x1000
#define VNET_COMMON_OFF 0x0000
#define VNET_COMMON_LEN 0x38
#define VNET_ISR_OFF 0x1000
#define VNET_DEVCFG_OFF 0x2000
#define VNET_DEVCFG_LEN 12
#define VNET_NOTIFY_OFF 0x3000
#define VNET_NOTIFY_MULT 4

_Static_assert(sizeof(struct virtio_pci_common_cfg) == VNET_COMMON_LEN,
               "common configuration layout");
_Static_assert(VNET_HDR_LEN == 12, "virtio-net header of virtio 1.x");

static void vnet_irq(VnetDevice *dev, uint16_t vector)
{
    VusServer *srv = dev->srv;

    if (vector < VNET_NUM_VECTORS &&
        vus_irq_enabled(srv, VFIO_PCI_MSIX_IRQ_INDEX, vector)) {
        vus_irq_trigger(srv, VFIO_PCI_MSIX_IRQ_INDEX, vector);
    } else if (!vus_irq_enabled(srv, VFIO_PCI_MSIX_IRQ_INDEX, 0)) {
        vus_irq_trigger(srv, VFIO_PCI_INTX_IRQ_INDEX, 0);
    }
}

void vnet_sync(VnetDevice *dev, VnetSync *s)
{
    g_mutex_lock(&dev->lock);
    s->gen = dev->reset_gen;
    dev->acked_gen = dev->reset_gen;
    s->running = (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
                 !(dev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
    memcpy(s->q, dev->q, sizeof(s->q));
    memcpy(s->kick, dev->kick, sizeof(s->kick));
    memset(dev->kick, 0, sizeof(dev->kick));
    g_mutex_unlock(&dev->lock);
}

void vnet_fail(VnetDevice *dev, uint32_t gen, const char *why)
{
    bool raise = false;
    uint16_t vector = VIRTIO_MSI_NO_VECTOR;

    g_mutex_lock(&dev->lock);
    if (dev->reset_gen == gen && !(dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)) {
        dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
        dev->needs_reset_count++;
        dev->isr |= VIRTIO_PCI_ISR_CONFIG;
        vector = dev->config_vector;
        raise = (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) != 0;
        g_message("virtio-net: device needs reset: %s", why);
    }
    g_mutex_unlock(&dev->lock);
    if (raise) {
        vnet_irq(dev, vector);
    }
}

void vnet_notify_queue(VnetDevice *dev, uint32_t gen, unsigned q)
{
    uint16_t vector;

    g_mutex_lock(&dev->lock);
    if (dev->reset_gen != gen) {
        g_mutex_unlock(&dev->lock);
        return;
    }
    dev->isr |= 1;
    vector = dev->q[q].vector;
    g_mutex_unlock(&dev->lock);
    vnet_irq(dev, vector);
}

/* Lock held.  Forget the driver's set-up; the device thread follows. */
static void vnet_reset_locked(VnetDevice *dev)
{
    if (dev->status || dev->reset_gen == dev->acked_gen) {
        dev->old_status = dev->status;
    }
    dev->status = 0;
    dev->dfselect = dev->gfselect = 0;
    dev->driver_features = 0;
    dev->queue_select = 0;
    dev->config_vector = VIRTIO_MSI_NO_VECTOR;
    dev->isr = 0;
    for (unsigned i = 0; i < VNET_NUM_QUEUES; i++) {
        dev->q[i] =
            (VnetQueue){.size = VRING_MAX_SIZE, .vector = VIRTIO_MSI_NO_VECTOR};
        dev->kick[i] = false;
    }
    dev->reset_gen++;
}

static void vnet_reset(VnetDevice *dev)
{
    g_mutex_lock(&dev->lock);
    vnet_reset_locked(dev);
    g_mutex_unlock(&dev->lock);
    vnet_backend_wake(dev->be);
}

static void vnet_write_status(VnetDevice *dev, uint8_t val)
{
    if (!val) {
        vnet_reset_locked(dev);
        return;
    }
    if ((val & VIRTIO_CONFIG_S_FEATURES_OK) &&
        !(dev->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
        ((dev->driver_features & ~VNET_FEATURES) ||
         !(dev->driver_features & (1ull << VIRTIO_F_VERSION_1)))) {
        /* Features we did not offer, or a legacy driver: refused. */
        val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
    }
    /* The driver cannot clear NEEDS_RESET but by a reset. */
    dev->status = val | (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* Common configuration as the driver reads it (lock held). */
static void vnet_common_read(VnetDevice *dev, struct virtio_pci_common_cfg *c)
{
    uint16_t sel = dev->queue_select;
    const VnetQueue *q = sel < VNET_NUM_QUEUES ? &dev->q[sel] : NULL;
    uint64_t df = dev->dfselect < 2 ? VNET_FEATURES >> (32 * dev->dfselect) : 0;
    uint64_t gf =
        dev->gfselect < 2 ? dev->driver_features >> (32 * dev->gfselect) : 0;

    memset(c, 0, sizeof(*c));
    c->device_feature_select = GUINT32_TO_LE(dev->dfselect);
    c->device_feature = GUINT32_TO_LE((uint32_t)df);
    c->guest_feature_select = GUINT32_TO_LE(dev->gfselect);
    c->guest_feature = GUINT32_TO_LE((uint32_t)gf);
    c->msix_config = GUINT16_TO_LE(dev->config_vector);
    c->num_queues = GUINT16_TO_LE(VNET_NUM_QUEUES);
    /*
     * Until the device thread has followed a reset, the driver reads the
     * old status (non-zero: reset in progress), but only until it starts
     * again: once it writes a status, it reads what it wrote.
     */
    c->device_status = dev->reset_gen != dev->acked_gen && !dev->status
                           ? dev->old_status
                           : dev->status;
    c->queue_select = GUINT16_TO_LE(sel);
    if (q) {
        c->queue_size = GUINT16_TO_LE(q->size);
        c->queue_msix_vector = GUINT16_TO_LE(q->vector);
        c->queue_enable = GUINT16_TO_LE(q->enabled);
        c->queue_notify_off = GUINT16_TO_LE(sel);
        c->queue_desc_lo = GUINT32_TO_LE((uint32_t)q->desc);
        c->queue_desc_hi = GUINT32_TO_LE((uint32_t)(q->desc >> 32));
        c->queue_avail_lo = GUINT32_TO_LE((uint32_t)q->avail);
        c->queue_avail_hi = GUINT32_TO_LE((uint32_t)(q->avail >> 32));
        c->queue_used_lo = GUINT32_TO_LE((uint32_t)q->used);
        c->queue_used_hi = GUINT32_TO_LE((uint32_t)(q->used >> 32));
    }
}

static void set_half(uint64_t *reg, bool hi, uint32_t val)
{
    if (hi) {
        *reg = (*reg & 0xffffffffull) | ((uint64_t)val << 32);
    } else {
        *reg = (*reg & ~0xffffffffull) | val;
    }
}

static uint16_t vnet_vector(uint16_t v)
{
    return v < VNET_NUM_VECTORS ? v : VIRTIO_MSI_NO_VECTOR;
}

/* Writes to the selected queue's registers (lock held). */
static void vnet_queue_write(VnetDevice *dev, uint64_t off, uint32_t val)
{
    VnetQueue *q;

    if (dev->queue_select >= VNET_NUM_QUEUES) {
        return;
    }
    q = &dev->q[dev->queue_select];
    switch (off) {
    case VIRTIO_PCI_COMMON_Q_SIZE:
        q->size = (uint16_t)val;
        break;
    case VIRTIO_PCI_COMMON_Q_MSIX:
        q->vector = vnet_vector((uint16_t)val);
        break;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        q->enabled |= (val & 1) != 0; /* writing 0 is not allowed */
        break;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
    case VIRTIO_PCI_COMMON_Q_DESCHI:
        set_half(&q->desc, off == VIRTIO_PCI_COMMON_Q_DESCHI, val);
        break;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
    case VIRTIO_PCI_COMMON_Q_AVAILHI:
        set_half(&q->avail, off == VIRTIO_PCI_COMMON_Q_AVAILHI, val);
        break;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
    case VIRTIO_PCI_COMMON_Q_USEDHI:
        set_half(&q->used, off == VIRTIO_PCI_COMMON_Q_USEDHI, val);
        break;
    }
}

/* Width of the register at @off of the common configuration, 0 if none. */
static size_t vnet_common_width(uint64_t off)
{
    switch (off) {
    case VIRTIO_PCI_COMMON_STATUS:
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        return 1;
    case VIRTIO_PCI_COMMON_MSIX:
    case VIRTIO_PCI_COMMON_NUMQ:
    case VIRTIO_PCI_COMMON_Q_SELECT:
    case VIRTIO_PCI_COMMON_Q_SIZE:
    case VIRTIO_PCI_COMMON_Q_MSIX:
    case VIRTIO_PCI_COMMON_Q_ENABLE:
    case VIRTIO_PCI_COMMON_Q_NOFF:
        return 2;
    default:
        return off < VNET_COMMON_LEN && !(off & 3) ? 4 : 0;
    }
}

static void vnet_common_write(VnetDevice *dev, uint64_t off, uint32_t val)
{
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        dev->dfselect = val;
        break;
    case VIRTIO_PCI_COMMON_GFSELECT:
        dev->gfselect = val;
        break;
    case VIRTIO_PCI_COMMON_GF:
        if (dev->gfselect < 2 && !(dev->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
            set_half(&dev->driver_features, dev->gfselect == 1, val);
        }
        break;
    case VIRTIO_PCI_COMMON_MSIX:
        dev->config_vector = vnet_vector((uint16_t)val);
        break;
    case VIRTIO_PCI_COMMON_STATUS:
        vnet_write_status(dev, (uint8_t)val);
        break;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        dev->queue_select = (uint16_t)val;
        break;
    default:
        vnet_queue_write(dev, off, val);
        break;
    }
}

static void vnet_common_access(VnetDevice *dev, bool is_write, uint64_t off,
                               uint8_t *buf, size_t len)
{
    struct virtio_pci_common_cfg c;
    uint32_t val = 0;

    if (!is_write) {
        vnet_common_read(dev, &c);
        if (off < VNET_COMMON_LEN && len <= VNET_COMMON_LEN - off) {
            memcpy(buf, (uint8_t *)&c + off, len);
        } else {
            memset(buf, 0, len);
        }
        return;
    }
    if (vnet_common_width(off) != len) {
        trace_virtio_net_ignored_write(len, (unsigned)off);
        return;
    }
    memcpy(&val, buf, len);
    vnet_common_write(dev, off, GUINT32_FROM_LE(val));
}

static void vnet_devcfg_read(VnetDevice *dev, uint64_t off, uint8_t *buf,
                             size_t len)
{
    uint8_t cfg[VNET_DEVCFG_LEN] = {0};
    uint16_t link = GUINT16_TO_LE(VIRTIO_NET_S_LINK_UP);

    memcpy(cfg, dev->mac, 6);
    memcpy(cfg + 6, &link, 2);
    memset(buf, 0, len);
    if (off < sizeof(cfg)) {
        memcpy(buf, cfg + off, MIN(len, sizeof(cfg) - off));
    }
}

static ssize_t vnet_bar0_access(void *opaque, bool is_write, uint64_t off,
                                void *buf, size_t len)
{
    VnetDevice *dev = opaque;
    bool wake = false;

    g_mutex_lock(&dev->lock);
    if (off < VNET_ISR_OFF) {
        uint32_t gen = dev->reset_gen;

        vnet_common_access(dev, is_write, off, buf, len);
        wake = dev->reset_gen != gen ||
               (is_write && off == VIRTIO_PCI_COMMON_STATUS);
    } else if (off < VNET_DEVCFG_OFF) {
        if (!is_write) {
            memset(buf, 0, len);
            if (off == VNET_ISR_OFF) {
                *(uint8_t *)buf = dev->isr;
                dev->isr = 0;
            }
        }
    } else if (off < VNET_NOTIFY_OFF) {
        if (!is_write) {
            vnet_devcfg_read(dev, off - VNET_DEVCFG_OFF, buf, len);
        }
    } else if (is_write) {
        uint64_t q = (off - VNET_NOTIFY_OFF) / VNET_NOTIFY_MULT;

        if (q < VNET_NUM_QUEUES) {
            dev->kick[q] = true;
            wake = true;
        }
    } else {
        memset(buf, 0, len);
    }
    g_mutex_unlock(&dev->lock);
    if (wake) {
        vnet_backend_wake(dev->be);
    }
    return (ssize_t)len;
}

/* BAR1 holds the MSI-X table and PBA, which the client emulates. */
static ssize_t vnet_bar1_access(void *opaque, bool is_write, uint64_t off,
                                void *buf, size_t len)
{
    (void)opaque;
    (void)off;
    if (!is_write) {
        memset(buf, 0, len);
    }
    return (ssize_t)len;
}

static int vnet_device_reset(void *opaque)
{
    vnet_reset(opaque);
    return 0;
}

static void vnet_disconnected(void *opaque)
{
    vnet_reset(opaque);
}

static bool vnet_add_cap(VusServer *srv, uint8_t type, uint32_t off,
                         uint32_t len, GError **errp)
{
    struct virtio_pci_notify_cap nc = {0};
    size_t size =
        type == VIRTIO_PCI_CAP_NOTIFY_CFG ? sizeof(nc) : sizeof(nc.cap);

    nc.cap.cap_len = (uint8_t)size;
    nc.cap.cfg_type = type;
    nc.cap.bar = 0;
    nc.cap.offset = GUINT32_TO_LE(off);
    nc.cap.length = GUINT32_TO_LE(len);
    nc.notify_off_multiplier = GUINT32_TO_LE(VNET_NOTIFY_MULT);
    return vus_server_add_pci_cap(srv, PCI_CAP_ID_VNDR, &nc, size, errp);
}

static bool vnet_setup(VnetDevice *dev, GError **errp)
{
    static const VusDeviceOps ops = {
        .reset = vnet_device_reset,
        .disconnected = vnet_disconnected,
    };
    VusServer *srv = dev->srv;
    VusRegionDesc bar0 = {
        .size = VNET_BAR0_SIZE,
        .flags = VUS_REGION_F_RW,
        .access = vnet_bar0_access,
        .opaque = dev,
    };
    VusRegionDesc bar1 = {
        .size = VNET_BAR1_SIZE,
        .flags = VUS_REGION_F_RW,
        .access = vnet_bar1_access,
        .opaque = dev,
    };
    VusPciDesc pci = {
        .vendor_id = VNET_PCI_VENDOR_ID,
        .device_id = VNET_PCI_DEVICE_ID,
        .subsys_vendor_id = VNET_PCI_VENDOR_ID,
        .subsys_id = 0x1100,
        .class_code = VNET_PCI_CLASS,
        .revision = 1, /* virtio 1.x devices have revision 1 or more */
        .intx_pin = 1,
        .msix_vectors = VNET_NUM_VECTORS,
        .msix_bar = 1,
        .msix_table_offset = 0,
        .msix_pba_offset = 0x800,
    };

    if (!vus_server_setup_region(srv, VFIO_PCI_BAR0_REGION_INDEX, &bar0, NULL,
                                 errp) ||
        !vus_server_setup_region(srv, VFIO_PCI_BAR1_REGION_INDEX, &bar1, NULL,
                                 errp) ||
        !vus_server_setup_pci(srv, &pci, errp) ||
        !vnet_add_cap(srv, VIRTIO_PCI_CAP_COMMON_CFG, VNET_COMMON_OFF,
                      VNET_COMMON_LEN, errp) ||
        !vnet_add_cap(srv, VIRTIO_PCI_CAP_NOTIFY_CFG, VNET_NOTIFY_OFF,
                      VNET_NOTIFY_MULT * VNET_NUM_QUEUES, errp) ||
        !vnet_add_cap(srv, VIRTIO_PCI_CAP_ISR_CFG, VNET_ISR_OFF, 1, errp) ||
        !vnet_add_cap(srv, VIRTIO_PCI_CAP_DEVICE_CFG, VNET_DEVCFG_OFF,
                      VNET_DEVCFG_LEN, errp)) {
        return false;
    }
    for (unsigned i = 0; i < VNET_NUM_QUEUES; i++) {
        if (!vus_server_add_ioeventfd(srv, VFIO_PCI_BAR0_REGION_INDEX,
                                      VNET_NOTIFY_OFF + VNET_NOTIFY_MULT * i, 2,
                                      false, 0, errp)) {
            return false;
        }
    }
    vus_server_set_device_ops(srv, &ops, dev);
    return true;
}

static void vnet_stop(void *opaque)
{
    VnetDevice *dev = opaque;

    if (dev && dev->be) {
        vnet_backend_stop(dev->be);
    }
}

static void vnet_destroy(void *opaque)
{
    VnetDevice *dev = opaque;

    if (dev) {
        vnet_stop(dev);
        vnet_backend_free(dev->be);
        g_mutex_clear(&dev->lock);
        g_free(dev);
    }
}

static void *vnet_create_net(VusServer *srv, const char *netdev, GError **errp)
{
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    VnetDevice *dev = g_new0(VnetDevice, 1);

    dev->srv = srv;
    memcpy(dev->mac, mac, sizeof(mac));
    g_mutex_init(&dev->lock);
    vnet_reset_locked(dev);
    dev->acked_gen = dev->reset_gen;
    dev->be = vnet_backend_new(netdev ? netdev : "user", errp);
    if (!dev->be || !vnet_setup(dev, errp) ||
        !vnet_backend_start(dev->be, dev, errp)) {
        vnet_destroy(dev);
        return NULL;
    }
    return dev;
}

static void *vnet_create(VusServer *srv, GError **errp)
{
    return vnet_create_net(srv, NULL, errp);
}

const SampleDeviceType sample_virtio_net_type = {
    .name = "virtio-net",
    .description = "virtio 1.x network device, libslirp backend (--netdev)",
    .create = vnet_create,
    .create_net = vnet_create_net,
    .stop = vnet_stop,
    .destroy = vnet_destroy,
};
