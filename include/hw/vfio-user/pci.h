/*
 * vfio-user-pci: a PCI device of the machine whose function lives in a
 * vfio-user server.  Config space is read from the server with local
 * virtualisation (BARs, MSI, MSI-X, interrupt line, id overrides); BAR
 * accesses go to mmapped sparse areas or region messages; interrupts come
 * back as eventfds (INTx, MSI, MSI-X) served on the main loop.
 *
 * INTx model (a level, as VFIO gives it): the eventfd firing raises the
 * device's interrupt line.  After each guest access to a BAR of the device
 * while the line is up, the client sends SET_IRQS UNMASK for INTx (the end
 * of interrupt, see hw/vfio-user/pci-irq.h); a server whose device still
 * asserts INTx signals the eventfd again before it replies, and the line
 * simply stays up; otherwise it goes down.  INTx Disable in the command
 * register keeps the line down (hw/pci), Interrupt Status is the server's.
 * With Bus Master Enable clear no MSI/MSI-X goes out (they stay pending)
 * and no DMA_READ/DMA_WRITE of the server is served.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_PCI_H
#define HW_VFIO_USER_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/vfio-user/container.h"
#include "hw/vfio-user/proxy.h"
#include "vfio-user/caps.h"

typedef struct Machine Machine;
typedef struct PCIDevice PCIDevice;

#define VFIO_USER_PCI_TYPE "vfio-user-pci"

/* -device vfio-user-pci,... as parsed. */
typedef struct VFIOUserPCIOptions {
    char *id;      /* NULL: pci_host_default_id() ("dev1") */
    char *socket;  /* required; "fd:N" for an inherited socket */
    char *label;   /* the device in messages, see vmm_parse_device() */
    int socket_fd; /* socket.type=fd: connected socket to take; else -1 */
    VFIOUserDMAAccess dma_access;
    uint32_t msg_timeout_ms;
    uint32_t poll_us; /* x-poll-us: spin before sleeping on a reply */
    bool no_posted_writes;
    bool no_write_multi;   /* x-no-write-multi: never batch posted writes */
    uint32_t reconnect_ms; /* retry a failed server every N ms; 0 = off */
    int32_t vendor_id;     /* x-pci-*: -1 = take the server's */
    int32_t device_id;
    int32_t sub_vendor_id;
    int32_t sub_device_id;
} VFIOUserPCIOptions;

void vfio_user_pci_options_init(VFIOUserPCIOptions *o);
void vfio_user_pci_options_clear(VFIOUserPCIOptions *o);

/*
 * The device as the user named it, for messages (g_free it):
 * "vfio-user-pci 'ID'" when @id is given, else @arg (the -device or
 * device_add argument) as typed.  Every message names the device with it,
 * once: the inner layers get it through VFIOUserProxyOptions.label.
 */
char *vfio_user_pci_label(const char *id, const char *arg);

/*
 * Connect, negotiate, DMA-map the machine's RAM, read the device and plug
 * it into slot @slot of bus 0.  Errors give the cause and the command
 * only; the caller says which -device or device_add it was.  Later
 * messages, the proxy's and the container's too, name the device by
 * @o->label (as the user named it), else vfio_user_pci_label(ID, NULL).
 */
PCIDevice *vfio_user_pci_realize(Machine *m, const VFIOUserPCIOptions *o,
                                 unsigned slot, GError **errp);

/* The options @d was made with (its id filled in); NULL if @d is not one. */
const VFIOUserPCIOptions *vfio_user_pci_get_options(PCIDevice *d);

/* A snapshot of one device, for QMP's query-vfio-user. */
#define VFIO_USER_PCI_STATUS_MAPS 16
typedef struct VFIOUserPCIStatus {
    const char *socket;
    const char *state; /* connected, failed or a reconnect state's name */
    bool connected;    /* caps, maps and stats below are valid */
    VFIOUserCaps caps; /* as negotiated */
    VFIOUserDMAAccess dma_access; /* as asked for (dma-access=) */
    size_t nr_maps;               /* may exceed VFIO_USER_PCI_STATUS_MAPS */
    VFIOUserDMAMapInfo maps[VFIO_USER_PCI_STATUS_MAPS];
    VFIOUserProxyStats msgs;
    VFIOUserDMAStats dma;
    uint64_t errors;
    char *last_error; /* owned; NULL if none */
} VFIOUserPCIStatus;

/* Fill @st if @d is a vfio-user-pci device (false otherwise).  Main
 * thread; free st->last_error afterwards. */
bool vfio_user_pci_status(PCIDevice *d, VFIOUserPCIStatus *st);

/*
 * Told on the main loop when a device's server fails (@event
 * "failed", @reason the error), when a reconnect succeeds ("reconnected")
 * and when reconnecting gives up ("gave-up").  One function for all
 * devices; NULL: none.
 */
typedef void (*VFIOUserPCIEventFn)(PCIDevice *d, const char *event,
                                   const char *reason);
void vfio_user_pci_set_event_fn(VFIOUserPCIEventFn fn);

#endif /* HW_VFIO_USER_PCI_H */
