/*
 * vfio-user-pci interrupts: one eventfd per vector of whichever of INTx,
 * MSI or MSI-X the guest enabled, handed to the server with SET_IRQS and
 * watched on the main context; INTx as a level and the checks of the
 * server's GET_IRQ_INFO answers (see pci-irq.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#undef G_LOG_DOMAIN /* the VMM library's default */
#define G_LOG_DOMAIN "vfio-user-pci"
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib-unix.h>
#include "pci-internal.h"
#include "vfio-user/error.h"
#include "trace-events.h"

void vupci_intx_fired(VUPCIIntx *x, PCIDevice *pdev)
{
    x->asserted = true;
    pci_set_irq(pdev, true);
}

void vupci_intx_lower(VUPCIIntx *x, PCIDevice *pdev)
{
    if (x->asserted) {
        x->asserted = false;
        pci_set_irq(pdev, false);
    }
}

void vupci_intx_eoi(VUPCIIntx *x, PCIDevice *pdev, VFIOUserDevice *vdev, int fd)
{
    GError *err = NULL;
    uint64_t cnt;

    if (!x->asserted) {
        return;
    }
    if (!vfio_user_device_set_irqs(vdev, VFIO_PCI_INTX_IRQ_INDEX,
                                   VFIO_IRQ_SET_DATA_NONE |
                                       VFIO_IRQ_SET_ACTION_UNMASK,
                                   0, 1, NULL, NULL, &err)) {
        trace_pci_intx_unmask_failed(pdev->id, err->message);
        g_clear_error(&err);
        vupci_intx_lower(x, pdev);
        return;
    }
    /* The server signalled before its reply if the device still asserts. */
    if (fd >= 0 && read(fd, &cnt, sizeof(cnt)) == sizeof(cnt)) {
        return;
    }
    vupci_intx_lower(x, pdev);
}

static bool vupci_irq_info(VFIOUserDevice *vdev, uint32_t index,
                           struct vfio_irq_info *info, GError **errp)
{
    if (index >= vdev->num_irqs) {
        info->count = 0;
        info->flags = 0;
        return true;
    }
    if (!vfio_user_device_get_irq_info(vdev, index, info, errp)) {
        g_prefix_error(errp, "GET_IRQ_INFO for irq index %u: ", index);
        return false;
    }
    return true;
}

/* Vector count of @what's capability (0: none) against the server's. */
static bool vupci_irq_count_check(PCIDevice *pdev, const char *what,
                                  unsigned cap_vectors, uint32_t count,
                                  GError **errp)
{
    if (cap_vectors && count != cap_vectors) {
        // clang-format off
        return vfio_user_error_set(errp, EINVAL,
                             "the server offers %u %s vectors but its %s capability has %u",
                             count, what, what, cap_vectors);
        // clang-format on
    }
    if (!cap_vectors && count) {
        trace_pci_vectors_without_cap(pdev->id, count, what);
    }
    return true;
}

bool vupci_irq_info_check(VUPCIIntx *x, PCIDevice *pdev, VFIOUserDevice *vdev,
                          uint8_t pin, GError **errp)
{
    struct vfio_irq_info info;
    unsigned msi_cap = 0;

    /* ERR and REQ: asked, but not used, so an error is only logged. */
    for (uint32_t i = VFIO_PCI_ERR_IRQ_INDEX;
         i < vdev->num_irqs && i < VFIO_PCI_NUM_IRQS; i++) {
        GError *err = NULL;

        if (!vupci_irq_info(vdev, i, &info, &err)) {
            trace_pci_irq_info_failed(pdev->id, err->message);
            g_clear_error(&err);
        }
    }
    if (!vupci_irq_info(vdev, VFIO_PCI_INTX_IRQ_INDEX, &info, errp)) {
        return false;
    }
    x->present = pin >= 1 && pin <= 4 && info.count >= 1 &&
                 (info.flags & VFIO_IRQ_INFO_EVENTFD);
    if (pdev->msi.cap) {
        unsigned ctrl = pci_get_config(pdev, pdev->msi.cap + PCI_MSI_FLAGS, 2);
        unsigned qmask = (ctrl & PCI_MSI_FLAGS_QMASK) >> 1;

        msi_cap = 1u << MIN(qmask, 5u);
    }
    if (!vupci_irq_info(vdev, VFIO_PCI_MSI_IRQ_INDEX, &info, errp) ||
        !vupci_irq_count_check(pdev, "MSI", msi_cap, info.count, errp)) {
        return false;
    }
    if (!vupci_irq_info(vdev, VFIO_PCI_MSIX_IRQ_INDEX, &info, errp) ||
        !vupci_irq_count_check(pdev, "MSI-X", pdev->msix.nvec, info.count,
                               errp)) {
        return false;
    }
    return true;
}

static const uint32_t irq_index[] = {
    [VUPCI_IRQ_INTX] = VFIO_PCI_INTX_IRQ_INDEX,
    [VUPCI_IRQ_MSI] = VFIO_PCI_MSI_IRQ_INDEX,
    [VUPCI_IRQ_MSIX] = VFIO_PCI_MSIX_IRQ_INDEX,
};

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

void vupci_irq_teardown(VFIOUserPCIDevice *dev)
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
void vupci_update_irqs(VFIOUserPCIDevice *dev)
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
