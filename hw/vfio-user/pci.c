/*
 * vfio-user-pci: the machine's PCI device backed by a vfio-user server.
 *
 * Config space comes from the server's config region with these bytes
 * virtualised locally: BARs (sizes from region info, addresses kept here,
 * so sizing and reprogramming never reach the server), the expansion ROM
 * register (no ROM), the interrupt line, the x-pci-* id overrides, and the
 * MSI / MSI-X capability registers.  Every other write, including the
 * command register and the MSI/MSI-X registers, is forwarded; the command
 * register is also mirrored locally for BAR decoding.
 *
 * Interrupts: exactly one of INTx, MSI or MSI-X is armed at a time,
 * following what the guest enabled.  Each vector gets an eventfd handed to
 * the server with SET_IRQS and watched by a GLib source on the main
 * context; MSI and MSI-X masking and pending bits are emulated in
 * hw/pci/msi.c.  INTx: see include/hw/vfio-user/pci.h.
 *
 * Failure: the proxy's failure notify (any thread) marks the device failed;
 * from then on config and BAR reads return all-ones and writes are
 * dropped, and `info vfio-user` shows why.  The machine keeps running.
 * With reconnect-ms=N the connection is then dropped on the main loop and
 * retried every N ms (reconnect.h); a server that comes back as the same
 * device gets the DMA maps again, is reset (DEVICE_RESET), gets the
 * command register and MSI/MSI-X enables the guest programmed, and the
 * interrupts are armed again (vupci_reconnect_attempt()).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#undef G_LOG_DOMAIN /* the VMM library's default */
#define G_LOG_DOMAIN "vfio-user-pci"
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib-unix.h>
#include "hw/pci/pci.h"
#include "hw/pci/pci_host.h"
#include "hw/vfio-user/device.h"
#include "hw/vfio-user/pci.h"
#include "hw/vfio-user/reconnect.h"
#include "pci-irq.h"
#include "system/machine.h"
#include "vfio-user/error.h"
#include "trace-events.h"

#define CONFIG_INDEX VFIO_PCI_CONFIG_REGION_INDEX

typedef enum VUPCIIrqMode {
    VUPCI_IRQ_NONE,
    VUPCI_IRQ_INTX,
    VUPCI_IRQ_MSI,
    VUPCI_IRQ_MSIX,
} VUPCIIrqMode;

static const uint32_t irq_index[] = {
    [VUPCI_IRQ_INTX] = VFIO_PCI_INTX_IRQ_INDEX,
    [VUPCI_IRQ_MSI] = VFIO_PCI_MSI_IRQ_INDEX,
    [VUPCI_IRQ_MSIX] = VFIO_PCI_MSIX_IRQ_INDEX,
};

typedef struct VFIOUserPCIDevice VFIOUserPCIDevice;

typedef struct VUPCIVector {
    VFIOUserPCIDevice *dev;
    unsigned vector;
    int fd;
    guint source;
} VUPCIVector;

/*
 * Everything is main-thread only except: failed (atomic, set by the failure
 * notify on the proxy's thread) and last_error/errors (under err_lock).
 */
struct VFIOUserPCIDevice {
    PCIDevice pdev; /* first: PCIDevice * and VFIOUserPCIDevice * convert */
    VFIOUserPCIOptions opts;
    VFIOUserProxy *proxy;
    VFIOUserContainer *container;
    VFIOUserDevice vdev;
    bool vdev_ready;
    VUPCIIrqMode irq_mode;
    unsigned nr_vectors;
    VUPCIVector *vectors;
    VUPCIIntx intx; /* pci-irq.c */
    /* Per BAR, bytes [lo, hi) that posted writes may still be changing */
    int failed;
    GMutex err_lock;
    char *last_error;
    uint64_t errors;
    guint fail_idle; /* main-loop callback after a failure, under err_lock */
    VFIOUserDMAReplay *dma;       /* the machine's sections, replayed */
    VFIOUserDeviceIdentity ident; /* as first seen; a restart must match */
    VFIOUserReconnect rc;
    int attempting; /* atomic: a reconnect attempt runs (no log line) */
};

static VFIOUserPCIDevice *vupci(PCIDevice *d)
{
    return (VFIOUserPCIDevice *)d;
}

static bool vupci_failed(VFIOUserPCIDevice *dev)
{
    /* The proxy enters ERROR before its failure notify has run. */
    return __atomic_load_n(&dev->failed, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&dev->vdev.failed, __ATOMIC_ACQUIRE) ||
           (dev->proxy &&
            vfio_user_proxy_state(dev->proxy) == VFIO_PROXY_ERROR);
}

static void vupci_note_error(VFIOUserPCIDevice *dev, const char *what,
                             const GError *err)
{
    g_mutex_lock(&dev->err_lock);
    dev->errors++;
    /* Once the connection failed, its cause stays the error shown. */
    if (!vupci_failed(dev)) {
        g_free(dev->last_error);
        dev->last_error = g_strdup_printf("%s: %s", what, err->message);
    }
    g_mutex_unlock(&dev->err_lock);
    if (!vupci_failed(dev)) {
        g_warning("vfio-user-pci '%s': %s: %s", dev->pdev.id, what,
                  err->message);
    }
}

static void vupci_irq_teardown(VFIOUserPCIDevice *dev);
static void vupci_disconnect(VFIOUserPCIDevice *dev);

static VFIOUserPCIEventFn vupci_event_fn; /* main thread only */

void vfio_user_pci_set_event_fn(VFIOUserPCIEventFn fn)
{
    vupci_event_fn = fn;
}

/* On the main loop after a failure: drop the interrupt eventfds (and,
 * with reconnect-ms, the whole connection) */
static gboolean vupci_failed_main(gpointer p)
{
    VFIOUserPCIDevice *dev = p;
    g_autofree char *why = NULL;

    g_mutex_lock(&dev->err_lock);
    dev->fail_idle = 0;
    why = g_strdup(dev->last_error);
    g_mutex_unlock(&dev->err_lock);
    if (!vupci_failed(dev)) {
        return G_SOURCE_REMOVE; /* a failed reconnect attempt, retried */
    }
    if (vupci_event_fn && !vfio_user_reconnect_active(&dev->rc)) {
        vupci_event_fn(&dev->pdev, "failed", why); /* once per outage */
    }
    vupci_irq_teardown(dev);
    if (dev->opts.reconnect_ms) {
        vupci_disconnect(dev);
        vfio_user_reconnect_start(&dev->rc, why);
    }
    return G_SOURCE_REMOVE;
}

static void vupci_failure_notify(VFIOUserProxy *proxy, const GError *err,
                                 void *opaque)
{
    VFIOUserPCIDevice *dev = opaque;

    g_mutex_lock(&dev->err_lock);
    dev->errors++;
    g_free(dev->last_error);
    dev->last_error = g_strdup_printf("connection failed: %s", err->message);
    g_mutex_unlock(&dev->err_lock);
    __atomic_store_n(&dev->failed, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&dev->vdev.failed, true, __ATOMIC_RELEASE);
    /* A message, not a printerr: -D FILE must capture it too. */
    if (__atomic_load_n(&dev->attempting, __ATOMIC_ACQUIRE)) {
        /* one failed attempt: counted by the retries, not logged */
        trace_pci_reconnect_failed(dev->pdev.id, err->message);
    } else {
        g_message(
            "vfio-user-pci '%s': server %s failed: %s; the device now reads all-ones",
            dev->pdev.id, vfio_user_proxy_path(proxy), err->message);
    }
    g_mutex_lock(&dev->err_lock);
    if (!dev->fail_idle) {
        dev->fail_idle = g_idle_add(vupci_failed_main, dev);
    }
    g_mutex_unlock(&dev->err_lock);
}

/* ---- interrupts ---- */

static gboolean vupci_vector_ready(gint fd, GIOCondition cond, gpointer p)
{
    VUPCIVector *v = p;
    VFIOUserPCIDevice *dev = v->dev;
    uint64_t cnt;

    (void)cond;
    if (read(fd, &cnt, sizeof(cnt)) != sizeof(cnt)) {
        return G_SOURCE_CONTINUE;
    }
    switch (dev->irq_mode) {
    case VUPCI_IRQ_INTX:
        vupci_intx_fired(&dev->intx, &dev->pdev);
        break;
    case VUPCI_IRQ_MSI:
        msi_notify(&dev->pdev, v->vector);
        break;
    case VUPCI_IRQ_MSIX:
        msix_notify(&dev->pdev, v->vector);
        break;
    case VUPCI_IRQ_NONE:
        break;
    }
    return G_SOURCE_CONTINUE;
}

static void vupci_irq_teardown(VFIOUserPCIDevice *dev)
{
    GError *err = NULL;

    if (dev->irq_mode != VUPCI_IRQ_NONE && !vupci_failed(dev) &&
        !vfio_user_device_set_irqs(&dev->vdev, irq_index[dev->irq_mode],
                                   VFIO_IRQ_SET_DATA_NONE |
                                       VFIO_IRQ_SET_ACTION_TRIGGER,
                                   0, 0, NULL, NULL, &err)) {
        vupci_note_error(dev, "disabling interrupts", err);
        g_clear_error(&err);
    }
    for (unsigned i = 0; i < dev->nr_vectors; i++) {
        g_source_remove(dev->vectors[i].source);
        close(dev->vectors[i].fd);
    }
    g_clear_pointer(&dev->vectors, g_free);
    dev->nr_vectors = 0;
    vupci_intx_lower(&dev->intx, &dev->pdev);
    dev->irq_mode = VUPCI_IRQ_NONE;
}

static bool vupci_irq_setup(VFIOUserPCIDevice *dev, VUPCIIrqMode mode,
                            unsigned n, GError **errp)
{
    g_autofree int *fds = g_new(int, n);

    dev->vectors = g_new0(VUPCIVector, n);
    for (unsigned i = 0; i < n; i++) {
        VUPCIVector *v = &dev->vectors[i];

        v->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (v->fd < 0) {
            vfio_user_error_set(errp, errno, "eventfd: %s", g_strerror(errno));
            break;
        }
        v->dev = dev;
        v->vector = i;
        v->source = g_unix_fd_add(v->fd, G_IO_IN, vupci_vector_ready, v);
        fds[i] = v->fd;
        dev->nr_vectors++;
    }
    dev->irq_mode = mode;
    if (dev->nr_vectors < n ||
        !vfio_user_device_set_irqs(&dev->vdev, irq_index[mode],
                                   VFIO_IRQ_SET_DATA_EVENTFD |
                                       VFIO_IRQ_SET_ACTION_TRIGGER,
                                   0, n, fds, NULL, errp)) {
        dev->irq_mode = VUPCI_IRQ_NONE; /* nothing armed on the server */
        vupci_irq_teardown(dev);
        return false;
    }
    return true;
}

/* Arm whichever of INTx / MSI / MSI-X the guest's config asks for. */
static void vupci_update_irqs(VFIOUserPCIDevice *dev)
{
    VUPCIIrqMode mode = VUPCI_IRQ_NONE;
    unsigned n = 0;
    GError *err = NULL;

    if (msix_enabled(&dev->pdev)) {
        mode = VUPCI_IRQ_MSIX;
        n = msix_nr_vectors(&dev->pdev);
    } else if (msi_enabled(&dev->pdev)) {
        mode = VUPCI_IRQ_MSI;
        n = msi_nr_vectors(&dev->pdev);
    } else if (dev->intx.present) {
        mode = VUPCI_IRQ_INTX;
        n = 1;
    }
    if (vupci_failed(dev) || (mode == dev->irq_mode && n == dev->nr_vectors)) {
        return;
    }
    vupci_irq_teardown(dev);
    if (mode != VUPCI_IRQ_NONE && !vupci_irq_setup(dev, mode, n, &err)) {
        vupci_note_error(dev, "arming interrupts", err);
        g_clear_error(&err);
    }
}

/*
 * Posted-write ordering (reads and mmapped accesses never pass posted
 * writes, posted writes stay in order) is kept by device.c: it fences
 * before any mmapped access or ioeventfd signal while posted writes are
 * unacknowledged.
 */

/* ---- config space ---- */

/* Bytes never forwarded to the server: BARs, ROM, line, id overrides. */
static bool vupci_local_byte(VFIOUserPCIDevice *dev, uint32_t off)
{
    const VFIOUserPCIOptions *o = &dev->opts;

    return (off >= PCI_BASE_ADDRESS_0 && off < PCI_CARDBUS_CIS) ||
           (off >= PCI_ROM_ADDRESS && off < PCI_ROM_ADDRESS + 4) ||
           off == PCI_INTERRUPT_LINE || (off < 2 && o->vendor_id >= 0) ||
           (off >= 2 && off < 4 && o->device_id >= 0) ||
           (off >= 0x2c && off < 0x2e && o->sub_vendor_id >= 0) ||
           (off >= 0x2e && off < 0x30 && o->sub_device_id >= 0);
}

/* Raw read from the server; all-ones on error. */
static uint32_t vupci_server_config(VFIOUserPCIDevice *dev, uint32_t off,
                                    unsigned len)
{
    uint32_t val = UINT32_MAX;
    GError *err = NULL;

    if (!vfio_user_region_read(&dev->vdev, CONFIG_INDEX, off, &val, len,
                               &err)) {
        if (!vupci_failed(dev)) {
            vupci_note_error(dev, "config read", err);
        }
        g_clear_error(&err);
        return (uint32_t)((1ULL << (8 * len)) - 1);
    }
    return len == 4 ? val : val & (uint32_t)((1u << (8 * len)) - 1);
}

static uint32_t vupci_config_read(PCIDevice *d, uint32_t off, unsigned len)
{
    VFIOUserPCIDevice *dev = vupci(d);
    uint32_t val = 0;
    bool all_local = true;

    if (vupci_failed(dev)) {
        return (uint32_t)((1ULL << (8 * len)) - 1);
    }
    for (unsigned i = 0; i < len; i++) {
        all_local &= d->emulated[off + i] != 0;
    }
    if (!all_local) {
        val = vupci_server_config(dev, off, len);
    }
    for (unsigned i = 0; i < len; i++) {
        if (d->emulated[off + i]) {
            val &= ~(0xffu << (8 * i));
            val |= (uint32_t)d->config[off + i] << (8 * i);
        }
    }
    return val;
}

static bool vupci_touches(uint32_t off, unsigned len, uint32_t start,
                          uint32_t size)
{
    return start && off < start + size && off + len > start;
}

static void vupci_config_write(PCIDevice *d, uint32_t off, uint32_t val,
                               unsigned len)
{
    VFIOUserPCIDevice *dev = vupci(d);
    GError *err = NULL;
    bool forward = false;

    if (vupci_failed(dev)) {
        return;
    }
    for (unsigned i = 0; i < len; i++) {
        forward |= !vupci_local_byte(dev, off + i);
    }
    if (forward) {
    }
    if (forward && !vfio_user_region_write(&dev->vdev, CONFIG_INDEX, off, &val,
                                           len, false, &err)) {
        vupci_note_error(dev, "config write", err);
        g_clear_error(&err);
    }
    pci_default_config_write(d, off, val, len);
    if (vupci_touches(off, len, PCI_COMMAND, 2)) {
        vfio_user_container_set_bus_master(dev->container,
                                           pci_command(d) & PCI_COMMAND_MASTER);
    }
    if (vupci_touches(off, len, d->msi.cap, 24) ||
        vupci_touches(off, len, d->msix.cap, 4)) {
        vupci_update_irqs(dev);
    }
}

/* Largest BARs we place: half the 32-bit window, half the 64-bit one. */
#define VUPCI_MAX_BAR32 (1ULL << 29)
#define VUPCI_MAX_BAR64 (1ULL << 38)
#define VUPCI_MAX_BAR_IO 256 /* the PCI spec's limit for an I/O BAR */

/* BAR size: a power of two, at least 16 bytes (memory) or 4 (I/O). */
static uint64_t vupci_pow2(uint64_t size, bool io)
{
    uint64_t p = io ? 4 : 16;

    while (p < size && p) {
        p <<= 1;
    }
    return p;
}

static void vupci_setup_bars(VFIOUserPCIDevice *dev)
{
    PCIDevice *d = &dev->pdev;

    for (int i = 0; i < PCI_NUM_BARS; i++) {
        uint32_t reg = vupci_server_config(dev, PCI_BASE_ADDRESS_0 + 4 * i, 4);
        uint64_t size =
            i < (int)dev->vdev.num_regions ? dev->vdev.regions[i].size : 0;
        uint32_t type;

        if (!size) {
            pci_device_set_bar(d, i, 0, 0);
            continue;
        }
        if (reg & PCI_BASE_ADDRESS_SPACE_IO) {
            type = PCI_BASE_ADDRESS_SPACE_IO;
        } else {
            type = reg & (PCI_BASE_ADDRESS_MEM_TYPE_MASK |
                          PCI_BASE_ADDRESS_MEM_PREFETCH);
            if (i == PCI_NUM_BARS - 1) {
                type &= ~PCI_BASE_ADDRESS_MEM_TYPE_MASK;
            }
        }
        if (size > ((type & PCI_BASE_ADDRESS_SPACE_IO) ? VUPCI_MAX_BAR_IO
                    : (type & PCI_BASE_ADDRESS_MEM_TYPE_64)
                        ? VUPCI_MAX_BAR64
                        : VUPCI_MAX_BAR32)) {
            /* A server's absurd size must not wrap the sizing mask. */
            g_message("vfio-user-pci '%s': BAR%d of 0x%" PRIx64
                      " bytes is too large; left unimplemented",
                      d->id, i, size);
            pci_device_set_bar(d, i, 0, 0);
            continue;
        }
        pci_device_set_bar(
            d, i, vupci_pow2(size, type & PCI_BASE_ADDRESS_SPACE_IO), type);
        if (type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
            i++; /* the upper half, emulated by pci_device_set_bar() */
        }
    }
    pci_device_emulate(d, PCI_ROM_ADDRESS, 4, 0);
    pci_device_emulate(d, PCI_INTERRUPT_LINE, 1, 0xff);
    /* The command register is read from the server but mirrored here. */
    d->wmask[PCI_COMMAND] = 0xff;
    d->wmask[PCI_COMMAND + 1] = 0xff;
}

static void vupci_setup_ids(VFIOUserPCIDevice *dev)
{
    const VFIOUserPCIOptions *o = &dev->opts;
    const struct {
        int32_t val;
        uint32_t off;
    } ids[] = {
        {o->vendor_id, PCI_VENDOR_ID},
        {o->device_id, PCI_DEVICE_ID},
        {o->sub_vendor_id, PCI_SUBSYSTEM_VENDOR_ID},
        {o->sub_device_id, PCI_SUBSYSTEM_ID},
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(ids); i++) {
        if (ids[i].val >= 0) {
            pci_device_emulate(&dev->pdev, ids[i].off, 2, 0);
            pci_set_config(&dev->pdev, ids[i].off, ids[i].val, 2);
        }
    }
}

/* Walk the server's capability list; emulate MSI and MSI-X. */
static bool vupci_setup_caps(VFIOUserPCIDevice *dev, GError **errp)
{
    PCIDevice *d = &dev->pdev;
    uint8_t pos;
    unsigned guard = 0;

    if (!(vupci_server_config(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) {
        return true;
    }
    pos = vupci_server_config(dev, PCI_CAPABILITY_LIST, 1) & ~3;
    while (pos >= 0x40 && guard++ < 48) {
        uint8_t id = vupci_server_config(dev, pos + PCI_CAP_LIST_ID, 1);
        uint16_t ctrl = vupci_server_config(dev, pos + 2, 2);

        if (id == PCI_CAP_ID_MSI && !d->msi.cap && pos <= 256 - 24) {
            msi_init(d, pos, ctrl);
        } else if (id == PCI_CAP_ID_MSIX && !d->msix.cap &&
                   !msix_init(d, pos, ctrl,
                              vupci_server_config(dev, pos + PCI_MSIX_TABLE, 4),
                              vupci_server_config(dev, pos + PCI_MSIX_PBA, 4),
                              errp)) {
            return false;
        }
        pos = vupci_server_config(dev, pos + PCI_CAP_LIST_NEXT, 1) & ~3;
    }
    return true;
}

/* ---- BARs ---- */

/* A plain part of a BAR access; beyond the region (BARs are rounded up to
 * a power of two) reads all-ones and drops writes. */
static void vupci_region_rw(VFIOUserPCIDevice *dev, int bar, uint64_t off,
                            uint8_t *p, uint64_t n, bool is_write)
{
    const VFIOUserRegion *r = &dev->vdev.regions[bar];
    GError *err = NULL;
    bool ok, posted;

    if (off >= r->size || n > r->size - off) {
        uint64_t inside = off < r->size ? r->size - off : 0;

        if (!is_write) {
            memset(p + inside, 0xff, n - inside);
        }
        n = inside;
    }
    if (!n) {
        return;
    }
    /* Port writes are never posted (PCI: I/O writes are non-posted). */
    posted = !(dev->pdev.bars[bar].type & PCI_BASE_ADDRESS_SPACE_IO);
    ok = is_write
             ? vfio_user_region_write(&dev->vdev, bar, off, p, n, posted, &err)
             : vfio_user_region_read(&dev->vdev, bar, off, p, n, &err);
    if (!ok) {
        vupci_note_error(dev, is_write ? "BAR write" : "BAR read", err);
        g_clear_error(&err);
    }
}

static void vupci_bar_rw(PCIDevice *d, int bar, uint64_t off, void *buf,
                         uint64_t len, bool is_write)
{
    VFIOUserPCIDevice *dev = vupci(d);
    uint8_t *p = buf;

    if (vupci_failed(dev)) {
        if (!is_write) {
            memset(buf, 0xff, len);
        }
        return;
    }
    while (len) {
        uint64_t plain, n = msix_bar_rw(d, bar, off, p, len, is_write, &plain);

        if (!n) {
            n = plain;
            vupci_region_rw(dev, bar, off, p, n, is_write);
        }
        off += n;
        p += n;
        len -= n;
    }
    /* After the access: an acknowledging write lets the line go down. */
    if (dev->irq_mode == VUPCI_IRQ_INTX && dev->nr_vectors) {
        vupci_intx_eoi(&dev->intx, d, &dev->vdev, dev->vectors[0].fd);
    }
}

/* ---- lifecycle ---- */

static void vupci_reset(PCIDevice *d)
{
    VFIOUserPCIDevice *dev = vupci(d);
    GError *err = NULL;
    uint16_t zero = 0;

    vupci_irq_teardown(dev);
    if (!vupci_failed(dev)) {
        if (!vfio_user_device_reset(&dev->vdev, &err)) {
            vupci_note_error(dev, "device reset", err);
            g_clear_error(&err);
        }
        if (!vfio_user_region_write(&dev->vdev, CONFIG_INDEX, PCI_COMMAND,
                                    &zero, 2, false, &err)) {
            vupci_note_error(dev, "config reset", err);
            g_clear_error(&err);
        }
    }
    pci_device_reset_config(d);
    vfio_user_container_set_bus_master(dev->container, false);
    vupci_update_irqs(dev);
}

static void vupci_destroy(PCIDevice *d)
{
    VFIOUserPCIDevice *dev = vupci(d);

    vfio_user_reconnect_cleanup(&dev->rc);
    vupci_disconnect(dev);
    /* The receive thread is gone: no new failure callback can appear. */
    if (dev->fail_idle) {
        g_source_remove(dev->fail_idle);
    }
    vfio_user_dma_replay_free(dev->dma);
    pci_device_finalize(d);
    vfio_user_pci_options_clear(&dev->opts);
    g_free(dev->last_error);
    g_mutex_clear(&dev->err_lock);
    g_free(dev);
}

/* ---- monitor ---- */

static const PCIDeviceOps vupci_ops;

static const char *vupci_state(VFIOUserPCIDevice *dev)
{
    return !vupci_failed(dev) ? "connected"
           : vfio_user_reconnect_active(&dev->rc)
               ? vfio_user_reconnect_state_name(dev->rc.state)
               : "failed";
}

static void vupci_info_maps(VFIOUserPCIDevice *dev, GString *out)
{
    VFIOUserDMAMapInfo maps[16];
    size_t n =
        vfio_user_container_maps(dev->container, maps, G_N_ELEMENTS(maps));
    uint64_t msg_rd = 0, msg_wr = 0;

    g_string_append_printf(out, "  dma maps: %zu%s\n", n,
                           vfio_user_container_legacy_server(dev->container)
                               ? " (server predates access modes: fallback)"
                               : "");
    for (size_t i = 0; i < MIN(n, G_N_ELEMENTS(maps)); i++) {
        const VFIOUserDMAMapInfo *m = &maps[i];

        g_string_append_printf(out,
                               "    %s: iova 0x%" PRIx64 " size 0x%" PRIx64
                               " mode %s flags 0x%x fd %s%s",
                               m->name, m->iova, m->size,
                               vfio_user_dma_access_name(m->mode), m->flags,
                               m->sent_fd ? "sent" : "not sent",
                               m->via_proc_self_mem ? " (/proc/self/mem)" : "");
        if (m->mode == VFIO_USER_DMA_ACCESS_MESSAGE) {
            g_string_append_printf(
                out, ", served read %" PRIu64 " written %" PRIu64 " bytes",
                m->bytes_read, m->bytes_written);
            msg_rd += m->bytes_read;
            msg_wr += m->bytes_written;
        }
        g_string_append_c(out, '\n');
    }
    g_string_append_printf(
        out,
        "  dma bytes: message read %" PRIu64 " written %" PRIu64
        "; mmap and file-io: done by the server, not seen by the client\n",
        msg_rd, msg_wr);
}

static void vupci_info(PCIDevice *d, GString *out)
{
    VFIOUserPCIDevice *dev = vupci(d);
    VFIOUserProxyStats ps = {0};
    VFIOUserDMAStats ds = {0};
    g_autofree char *caps =
        dev->proxy ? vfio_user_caps_describe(vfio_user_proxy_caps(dev->proxy))
                   : g_strdup("(not connected)");
    static const char *const modes[] = {"none", "INTx", "MSI", "MSI-X"};

    if (dev->proxy) {
        vfio_user_proxy_get_stats(dev->proxy, &ps);
        vfio_user_container_stats(dev->container, &ds);
    }
    g_string_append_printf(out, "%s: %s at 00:%02x.0, socket %s, state %s\n",
                           d->id, VFIO_USER_PCI_TYPE, d->devfn >> 3,
                           dev->opts.socket, vupci_state(dev));
    g_string_append_printf(out, "  caps: %s\n", caps);
    vfio_user_reconnect_info(&dev->rc, out);
    g_string_append_printf(
        out,
        "  dma-access %s, x-msg-timeout %u ms, x-poll-us %u, posted writes %s, interrupts %s (vectors: %u)\n",
        vfio_user_dma_access_name(dev->opts.dma_access),
        dev->opts.msg_timeout_ms, dev->opts.poll_us,
        dev->vdev.posted_writes ? "on" : "off", modes[dev->irq_mode],
        dev->nr_vectors);
    if (dev->container) {
        vupci_info_maps(dev, out);
    } else {
        g_string_append_printf(
            out,
            "  dma maps: none while disconnected (%u sections to map again)\n",
            vfio_user_dma_replay_count(dev->dma));
    }
    g_string_append_printf(
        out,
        "  messages: requests %" PRIu64 " posted %" PRIu64 " replies %" PRIu64
        " error-replies %" PRIu64 " posted-errors %" PRIu64
        " unknown-replies %" PRIu64 " timeouts %" PRIu64
        " late-replies %" PRIu64 " fast-fails %" PRIu64
        " server-requests %" PRIu64 " fences %" PRIu64 "\n",
        ps.requests, ps.posted, ps.replies, ps.error_replies, ps.posted_errors,
        ps.unknown_replies, ps.timeouts, ps.late_replies, ps.fast_fails,
        ps.server_requests,
        __atomic_load_n(&dev->vdev.fences, __ATOMIC_RELAXED));
    g_string_append_printf(
        out,
        "  write-multi %s: %" PRIu64 " messages carried %" PRIu64
        " posted writes\n",
        dev->vdev.write_multi ? "on" : "off",
        __atomic_load_n(&dev->vdev.multi_msgs, __ATOMIC_RELAXED),
        __atomic_load_n(&dev->vdev.multi_writes, __ATOMIC_RELAXED));
    g_string_append_printf(
        out,
        "  dma requests served: read %" PRIu64 " write %" PRIu64
        " rejected %" PRIu64 " (bus master off %" PRIu64 ")\n",
        ds.dma_reads, ds.dma_writes, ds.dma_rejected, ds.dma_no_master);
    g_mutex_lock(&dev->err_lock);
    g_string_append_printf(out, "  errors: %" PRIu64 "%s%s\n", dev->errors,
                           dev->last_error ? ", last: " : "",
                           dev->last_error ? dev->last_error : "");
    g_mutex_unlock(&dev->err_lock);
}

bool vfio_user_pci_status(PCIDevice *d, VFIOUserPCIStatus *st)
{
    VFIOUserPCIDevice *dev = vupci(d);

    memset(st, 0, sizeof(*st));
    if (d->ops != &vupci_ops) {
        return false;
    }
    st->socket = dev->opts.socket;
    st->state = vupci_state(dev);
    st->dma_access = dev->opts.dma_access;
    st->connected = dev->proxy && dev->container;
    if (st->connected) {
        st->caps = *vfio_user_proxy_caps(dev->proxy);
        st->nr_maps = vfio_user_container_maps(dev->container, st->maps,
                                               G_N_ELEMENTS(st->maps));
        vfio_user_proxy_get_stats(dev->proxy, &st->msgs);
        vfio_user_container_stats(dev->container, &st->dma);
    }
    g_mutex_lock(&dev->err_lock);
    st->errors = dev->errors;
    st->last_error = g_strdup(dev->last_error);
    g_mutex_unlock(&dev->err_lock);
    return true;
}

static void vupci_flush(PCIDevice *pdev)
{
    VFIOUserPCIDevice *dev = (VFIOUserPCIDevice *)pdev;

    if (dev->vdev_ready) {
        vfio_user_device_flush(&dev->vdev);
    }
}

static const PCIDeviceOps vupci_ops = {
    .type = VFIO_USER_PCI_TYPE,
    .config_read = vupci_config_read,
    .config_write = vupci_config_write,
    .bar_rw = vupci_bar_rw,
    .reset = vupci_reset,
    .destroy = vupci_destroy,
    .info = vupci_info,
    .flush = vupci_flush,
};

void vfio_user_pci_options_init(VFIOUserPCIOptions *o)
{
    memset(o, 0, sizeof(*o));
    o->dma_access = VFIO_USER_DMA_ACCESS_AUTO;
    o->msg_timeout_ms = VFIO_USER_DEF_MSG_TIMEOUT_MS;
    o->vendor_id = o->device_id = o->sub_vendor_id = o->sub_device_id = -1;
    o->socket_fd = -1;
}

void vfio_user_pci_options_clear(VFIOUserPCIOptions *o)
{
    g_clear_pointer(&o->id, g_free);
    g_clear_pointer(&o->socket, g_free);
}

/* Undo vupci_connect(): also what the guest sees as the device's reset
 * when the server went away (no interrupts, no DMA maps). */
static void vupci_disconnect(VFIOUserPCIDevice *dev)
{
    vupci_irq_teardown(dev);
    g_clear_pointer(&dev->container, vfio_user_container_free);
    if (dev->vdev_ready) {
        vfio_user_device_cleanup(&dev->vdev);
        dev->vdev_ready = false;
    }
    g_clear_pointer(&dev->proxy, vfio_user_proxy_close);
    dev->vdev.proxy = NULL;
}

/* A fresh proxy, the recorded DMA maps, the device's regions. */
static bool vupci_connect(VFIOUserPCIDevice *dev, GError **errp)
{
    VFIOUserProxyOptions popts;

    vfio_user_proxy_options_init(&popts);
    popts.msg_timeout_ms = dev->opts.msg_timeout_ms;
    popts.poll_us = dev->opts.poll_us;
    if (dev->opts.socket_fd >= 0) {
        /* socket.type=fd: the proxy takes the inherited socket. */
        dev->proxy =
            vfio_user_proxy_new_from_fd(dev->opts.socket_fd, &popts, errp);
    } else {
        dev->proxy = vfio_user_proxy_connect(dev->opts.socket, &popts, errp);
    }
    if (!dev->proxy) {
        return false;
    }
    vfio_user_proxy_set_failure_notify(dev->proxy, vupci_failure_notify, dev);
    dev->container = vfio_user_container_new(dev->proxy, dev->opts.dma_access);
    if (!vfio_user_dma_replay_apply(dev->dma, dev->container, errp) ||
        !vfio_user_device_init(&dev->vdev, dev->proxy, errp)) {
        return false;
    }
    dev->vdev_ready = true;
    dev->vdev.posted_writes = !dev->opts.no_posted_writes;
    /* Batches are flushed at the end of every guest access run. */
    dev->vdev.write_multi = !dev->opts.no_write_multi;
    if (!(dev->vdev.flags & VFIO_DEVICE_FLAGS_PCI) ||
        dev->vdev.num_regions <= CONFIG_INDEX ||
        dev->vdev.regions[CONFIG_INDEX].size < 256) {
        return vfio_user_error_set(
            errp, ENODEV,
            "the server does not offer a PCI device with a config region");
    }
    return true;
}

/*
 * Ask for the ioeventfds of each writable BAR (GET_REGION_IO_FDS), so that
 * writes the server marked (doorbells) signal an eventfd instead of
 * sending a message.  A server without them just answers with none, or
 * with an error: both leave the BAR on messages.
 */
static void vupci_get_io_fds(VFIOUserPCIDevice *dev)
{
    for (uint32_t i = 0; i < PCI_NUM_BARS && i < dev->vdev.num_regions; i++) {
        const VFIOUserRegion *r = &dev->vdev.regions[i];
        GError *err = NULL;

        if (!r->size || !(r->flags & VFIO_REGION_INFO_FLAG_WRITE)) {
            continue;
        }
        if (!vfio_user_device_get_region_io_fds(&dev->vdev, i, &err)) {
            trace_pci_bar_no_ioeventfd(dev->pdev.id, i, err->message);
            g_clear_error(&err);
        }
    }
}

static bool vupci_init_config(VFIOUserPCIDevice *dev, GError **errp)
{
    uint8_t pin;

    dev->pdev.config_size =
        MIN(dev->vdev.regions[CONFIG_INDEX].size, (uint64_t)PCI_CONFIG_MAX);
    vupci_setup_ids(dev);
    vupci_setup_bars(dev);
    vupci_get_io_fds(dev);
    if (!vupci_setup_caps(dev, errp)) {
        return false;
    }
    pin = vupci_server_config(dev, PCI_INTERRUPT_PIN, 1);
    if (!vupci_irq_info_check(&dev->intx, &dev->pdev, &dev->vdev, pin, errp)) {
        return false;
    }
    /* Config shadow starts from the server's command register. */
    pci_set_config(&dev->pdev, PCI_COMMAND,
                   vupci_server_config(dev, PCI_COMMAND, 2), 2);
    vfio_user_container_set_bus_master(dev->container, pci_command(&dev->pdev) &
                                                           PCI_COMMAND_MASTER);
    pci_set_config(&dev->pdev, PCI_INTERRUPT_PIN, pin, 1);
    return true;
}

/* The server is back and is the same device: make it the guest's again. */
static bool vupci_restore(VFIOUserPCIDevice *dev, GError **errp)
{
    PCIDevice *d = &dev->pdev;
    const struct {
        uint32_t off;
        bool present;
    } regs[] = {
        {PCI_COMMAND, true},
        {d->msi.cap + PCI_MSI_FLAGS, d->msi.cap != 0},
        {d->msix.cap + PCI_MSIX_FLAGS, d->msix.cap != 0},
    };

    /* The specification: reset the device after the server went away. */
    if ((dev->vdev.flags & VFIO_DEVICE_FLAGS_RESET) &&
        !vfio_user_device_reset(&dev->vdev, errp)) {
        return false;
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(regs); i++) {
        uint16_t v = d->config[regs[i].off] | d->config[regs[i].off + 1] << 8;

        if (regs[i].present &&
            !vfio_user_region_write(&dev->vdev, CONFIG_INDEX, regs[i].off, &v,
                                    2, false, errp)) {
            g_prefix_error(errp, "restoring config 0x%x: ", regs[i].off);
            return false;
        }
    }
    vupci_update_irqs(dev);
    return true;
}

static VFIOUserReconnectResult vupci_reconnect_attempt(void *opaque,
                                                       GError **errp)
{
    VFIOUserPCIDevice *dev = opaque;
    VFIOUserDeviceIdentity now;
    VFIOUserReconnectResult res = VFIO_USER_RECONNECT_RETRY;

    /* Guest accesses run on this thread too: none sees the attempt. */
    __atomic_store_n(&dev->attempting, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&dev->failed, 0, __ATOMIC_RELEASE);
    if (vupci_connect(dev, errp) &&
        vfio_user_device_identity_read(&dev->vdev, &now, errp)) {
        if (!vfio_user_device_identity_compare(&dev->ident, &now, errp)) {
            res = VFIO_USER_RECONNECT_GIVE_UP;
        } else if (vupci_restore(dev, errp)) {
            if (!vupci_failed(dev)) {
                __atomic_store_n(&dev->attempting, 0, __ATOMIC_RELEASE);
                if (vupci_event_fn) {
                    vupci_event_fn(&dev->pdev, "reconnected", NULL);
                }
                return VFIO_USER_RECONNECT_OK;
            }
            vfio_user_error_set(errp, ECONNRESET, "the server failed again");
        }
    }
    __atomic_store_n(&dev->failed, 1, __ATOMIC_RELEASE);
    vupci_disconnect(dev); /* joins the receive thread: no notify after */
    __atomic_store_n(&dev->attempting, 0, __ATOMIC_RELEASE);
    if (res == VFIO_USER_RECONNECT_GIVE_UP && vupci_event_fn) {
        vupci_event_fn(&dev->pdev, "gave-up",
                       errp && *errp ? (*errp)->message : "unknown error");
    }
    return res;
}

PCIDevice *vfio_user_pci_realize(Machine *m, const VFIOUserPCIOptions *o,
                                 unsigned slot, GError **errp)
{
    VFIOUserPCIDevice *dev = g_new0(VFIOUserPCIDevice, 1);
    g_autofree char *id =
        o->id ? g_strdup(o->id) : pci_host_default_id(m->pci, slot, NULL);
    g_autofree char *rc_name = NULL;

    pci_device_init(&dev->pdev, &vupci_ops, id);
    g_mutex_init(&dev->err_lock);
    dev->opts = *o;
    dev->opts.id = g_strdup(id);
    dev->opts.socket = g_strdup(o->socket);
    dev->dma = vfio_user_dma_replay_new();
    for (unsigned i = 0; i < m->nr_sections; i++) {
        const RAMSection *s = &m->sections[i];
        VFIOUserDMASection sec = {
            .name = s->name,
            .iova = s->gpa,
            .size = s->size,
            .host = s->host,
            .fd = s->fd,
            .fd_offset = s->fd_offset,
        };

        vfio_user_dma_replay_add(dev->dma, &sec);
    }
    rc_name = g_strdup_printf("%s '%s'", VFIO_USER_PCI_TYPE, id);
    vfio_user_reconnect_init(&dev->rc, rc_name, o->socket, o->reconnect_ms,
                             vupci_reconnect_attempt, dev);
    if (!vupci_connect(dev, errp) ||
        (o->reconnect_ms &&
         !vfio_user_device_identity_read(&dev->vdev, &dev->ident, errp)) ||
        !vupci_init_config(dev, errp) ||
        !pci_host_plug(m->pci, &dev->pdev, slot, errp)) {
        vupci_destroy(&dev->pdev);
        return NULL;
    }
    vupci_update_irqs(dev);
    return &dev->pdev;
}

const VFIOUserPCIOptions *vfio_user_pci_get_options(PCIDevice *d)
{
    return d->ops == &vupci_ops ? &vupci(d)->opts : NULL;
}
