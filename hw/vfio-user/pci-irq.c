/*
 * vfio-user-pci interrupts beside pci.c: INTx as a level and the checks of
 * the server's GET_IRQ_INFO answers.  See pci-irq.h.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#undef G_LOG_DOMAIN /* the VMM library's default */
#define G_LOG_DOMAIN "vfio-user-pci"
#include <errno.h>
#include <unistd.h>
#include "pci-irq.h"
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
        uint16_t ctrl = pci_get_config(pdev, pdev->msi.cap + PCI_MSI_FLAGS, 2);

        msi_cap = 1u << MIN((ctrl & PCI_MSI_FLAGS_QMASK) >> 1, 5u);
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
