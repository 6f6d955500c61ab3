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
#include <string.h>
#include "hw/pci/pci_host.h"
#include "pci-internal.h"
#include "system/machine.h"
#include "vfio-user/error.h"
#include "trace-events.h"

bool vupci_failed(VFIOUserPCIDevice *dev)
{
    /* The proxy enters ERROR before its failure notify has run. */
    return __atomic_load_n(&dev->failed, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&dev->vdev.failed, __ATOMIC_ACQUIRE) ||
           (dev->proxy &&
            vfio_user_proxy_state(dev->proxy) == VFIO_PROXY_ERROR);
}

void vupci_note_error(VFIOUserPCIDevice *dev, const char *what,
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
        g_warning("%s: %s: %s", dev->label, what, err->message);
    }
}

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

    (void)proxy;
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
        g_message("%s: the server failed: %s; the device now reads all-ones",
                  dev->label, err->message);
    }
    g_mutex_lock(&dev->err_lock);
    if (!dev->fail_idle) {
        dev->fail_idle = g_idle_add(vupci_failed_main, dev);
    }
    g_mutex_unlock(&dev->err_lock);
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
    g_free(dev->label);
    g_mutex_clear(&dev->err_lock);
    g_free(dev);
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

const char *vupci_state(VFIOUserPCIDevice *dev)
{
    return !vupci_failed(dev) ? "connected"
           : vfio_user_reconnect_active(&dev->rc)
               ? vfio_user_reconnect_state_name(dev->rc.state)
               : "failed";
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

void vfio_user_pci_options_init(VFIOUserPCIOptions *o)
{
    memset(o, 0, sizeof(*o));
    o->dma_access = VFIO_USER_DMA_ACCESS_AUTO;
    o->msg_timeout_ms = VFIO_USER_DEF_MSG_TIMEOUT_MS;
    o->vendor_id = o->device_id = o->sub_vendor_id = o->sub_device_id = -1;
    o->socket_fd = -1;
}

char *vfio_user_pci_label(const char *id, const char *arg)
{
    return id ? g_strdup_printf("%s '%s'", VFIO_USER_PCI_TYPE, id)
              : g_strdup(arg);
}

void vfio_user_pci_options_clear(VFIOUserPCIOptions *o)
{
    g_clear_pointer(&o->id, g_free);
    g_clear_pointer(&o->socket, g_free);
    g_clear_pointer(&o->label, g_free);
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
    popts.label = dev->label;
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

    pci_device_init(&dev->pdev, &vupci_ops, id);
    /* As the user named it; a default id only for callers without one. */
    dev->label = o->label ? g_strdup(o->label) : vfio_user_pci_label(id, NULL);
    dev->pdev.label = dev->label;
    g_mutex_init(&dev->err_lock);
    dev->opts = *o;
    dev->opts.id = g_strdup(id);
    dev->opts.socket = g_strdup(o->socket);
    dev->opts.label = g_strdup(o->label);
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
    vfio_user_reconnect_init(&dev->rc, dev->label, o->reconnect_ms,
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
