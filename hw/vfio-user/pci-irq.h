/*
 * vfio-user-pci interrupts beside pci.c: INTx as a level (end of interrupt
 * with a resample of the device's line) and the GET_IRQ_INFO checks made
 * at realize.  Private to hw/vfio-user/.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_PCI_IRQ_H
#define HW_VFIO_USER_PCI_IRQ_H

#include <stdbool.h>
#include <glib.h>
#include "hw/pci/pci.h"
#include "hw/vfio-user/device.h"

/*
 * INTx of one device, main thread only.  @asserted: the guest's line is up
 * for it (the INTx eventfd fired and no end of interrupt found the device
 * quiet since).
 */
typedef struct VUPCIIntx {
    bool present; /* the server offers INTx with an eventfd */
    bool asserted;
} VUPCIIntx;

/* The INTx eventfd fired: the device raised its line. */
void vupci_intx_fired(VUPCIIntx *x, PCIDevice *pdev);

/*
 * End of interrupt after a guest access to a BAR of the device, while the
 * line is up: SET_IRQS UNMASK makes a server whose device still asserts
 * INTx signal @fd again before it replies, so the line stays up when @fd
 * has been signalled and goes down otherwise.  A failed UNMASK lowers it.
 */
void vupci_intx_eoi(VUPCIIntx *x, PCIDevice *pdev, VFIOUserDevice *vdev,
                    int fd);

/* INTx disarmed (teardown, reset, failure): the line goes down. */
void vupci_intx_lower(VUPCIIntx *x, PCIDevice *pdev);

/*
 * GET_IRQ_INFO for every irq index the device has: INTx is usable when
 * @pin is 1..4 and the server offers a vector with an eventfd; the MSI
 * and MSI-X vector counts must equal what the capabilities in config space
 * say (and a server that offers vectors without a capability is logged).
 */
bool vupci_irq_info_check(VUPCIIntx *x, PCIDevice *pdev, VFIOUserDevice *vdev,
                          uint8_t pin, GError **errp);

#endif /* HW_VFIO_USER_PCI_IRQ_H */
