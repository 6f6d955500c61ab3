/*
 * vfio-user-pci's device state, shared by its files (private to
 * hw/vfio-user/): pci.c (failure, lifecycle, realize), pci-config.c
 * (config space), pci-bar.c (BARs), pci-irq.c (interrupts), pci-info.c
 * (`info vfio-user`).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_PCI_INTERNAL_H
#define HW_VFIO_USER_PCI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/pci/pci.h"
#include "hw/vfio-user/device.h"
#include "hw/vfio-user/pci.h"
#include "hw/vfio-user/reconnect.h"
#include "pci-irq.h"

#define CONFIG_INDEX VFIO_PCI_CONFIG_REGION_INDEX

typedef enum VUPCIIrqMode {
    VUPCI_IRQ_NONE,
    VUPCI_IRQ_INTX,
    VUPCI_IRQ_MSI,
    VUPCI_IRQ_MSIX,
} VUPCIIrqMode;

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
    char *label; /* the device in messages (opts.label or from the id) */
    VFIOUserProxy *proxy;
    VFIOUserContainer *container;
    VFIOUserDevice vdev;
    bool vdev_ready;
    VUPCIIrqMode irq_mode;
    unsigned nr_vectors;
    VUPCIVector *vectors;
    VUPCIIntx intx; /* pci-irq.c */
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

static inline VFIOUserPCIDevice *vupci(PCIDevice *d)
{
    return (VFIOUserPCIDevice *)d;
}

/* pci.c: the connection failed (or is failing); an error of @what. */
bool vupci_failed(VFIOUserPCIDevice *dev);
void vupci_note_error(VFIOUserPCIDevice *dev, const char *what,
                      const GError *err);

/* pci.c: "connected", "failed" or the reconnect state's name. */
const char *vupci_state(VFIOUserPCIDevice *dev);

/* pci-config.c: raw server config read (all-ones on error), the guest's
 * config accesses, and the local config shadow at realize. */
uint32_t vupci_server_config(VFIOUserPCIDevice *dev, uint32_t off,
                             unsigned len);
uint32_t vupci_config_read(PCIDevice *d, uint32_t off, unsigned len);
void vupci_config_write(PCIDevice *d, uint32_t off, uint32_t val, unsigned len);
bool vupci_init_config(VFIOUserPCIDevice *dev, GError **errp);

/* pci-bar.c: BAR sizes and types from the server, ioeventfds, accesses. */
void vupci_setup_bars(VFIOUserPCIDevice *dev);
void vupci_get_io_fds(VFIOUserPCIDevice *dev);
void vupci_bar_rw(PCIDevice *d, int bar, uint64_t off, void *buf, uint64_t len,
                  bool is_write);

/* pci-irq.c: arm whichever of INTx / MSI / MSI-X the guest enabled;
 * disarm all. */
void vupci_update_irqs(VFIOUserPCIDevice *dev);
void vupci_irq_teardown(VFIOUserPCIDevice *dev);

/* pci-info.c: `info vfio-user` */
void vupci_info(PCIDevice *d, GString *out);

#endif /* HW_VFIO_USER_PCI_INTERNAL_H */
