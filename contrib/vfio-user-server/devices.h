/*
 * Sample devices of vfio-user-server: private interface between the
 * devices (edu.c, ram.c, pio.c) and the program (main.c) or the unit tests.
 *
 * A device type describes itself to a VusServer (PCI identity, regions,
 * interrupts, reset) in create() and keeps its own state; destroy() frees
 * that state and must run after vus_server_free() (the server may call the
 * device's callbacks until it is freed).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VFIO_USER_SAMPLE_DEVICES_H
#define VFIO_USER_SAMPLE_DEVICES_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "vfio-user/server.h"

/* g_log domain of the sample devices (the library logs under its own). */
#define SAMPLE_LOG_DOMAIN "vfio-user-sample"

typedef struct SampleDeviceType {
    const char *name;        /* "edu", "ram": the --device argument */
    const char *description; /* one line for --help */
    void *(*create)(VusServer *srv, GError **errp);
    /* Optional: create with a --netdev value (network devices only). */
    void *(*create_net)(VusServer *srv, const char *netdev, GError **errp);
    /* Optional: stop the device's threads; before vus_server_free(). */
    void (*stop)(void *dev);
    void (*destroy)(void *dev);
} SampleDeviceType;

extern const SampleDeviceType sample_edu_type;
extern const SampleDeviceType sample_ram_type;
extern const SampleDeviceType sample_pio_type;
extern const SampleDeviceType sample_virtio_net_type;

/* The device named @name, or NULL. */
const SampleDeviceType *sample_device_find(const char *name);

/* "edu, ram, pio": the known names, for messages; g_free() it. */
char *sample_device_names(void);

/* One line per device, "  name    description", for --help; g_free() it. */
char *sample_device_help(void);

/* ---- edu: register layout of BAR0 (see edu.c) ---- */

#define EDU_PCI_VENDOR_ID 0x1234
#define EDU_PCI_DEVICE_ID 0x11e8
#define EDU_PCI_REVISION 0x10
#define EDU_PCI_CLASS 0x00ff00
#define EDU_BAR0_SIZE (1024 * 1024)

#define EDU_REG_ID 0x00
#define EDU_REG_LIVENESS 0x04
#define EDU_REG_FACTORIAL 0x08
#define EDU_REG_STATUS 0x20
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE 0x60
#define EDU_REG_IRQ_ACK 0x64
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_COUNT 0x90
#define EDU_REG_DMA_CMD 0x98

#define EDU_ID_VALUE 0x010000edu

#define EDU_STATUS_COMPUTING 0x01
#define EDU_STATUS_IRQ_FACT 0x80

#define EDU_IRQ_FACT 0x001
#define EDU_IRQ_DMA 0x100

#define EDU_DMA_CMD_START 0x1u
#define EDU_DMA_CMD_TO_RAM 0x2u /* 0: RAM to device, 1: device to RAM */
#define EDU_DMA_CMD_IRQ 0x4u
#define EDU_DMA_CMD_ERROR (1u << 31) /* our extension: last DMA failed */

/* Device address of the DMA buffer; QEMU's is 4 KiB, ours 1 MiB. */
#define EDU_DMA_BUF_ADDR 0x40000
#define EDU_DMA_BUF_SIZE (1024 * 1024)

/* ---- ram: identity and BAR layouts (see ram.c) ---- */

#define RAM_PCI_VENDOR_ID 0x4e58
#define RAM_PCI_DEVICE_ID 0x0001
#define RAM_PCI_REVISION 0x01
#define RAM_PCI_CLASS 0x050000
#define RAM_BAR0_SIZE (1024 * 1024)
#define RAM_BAR0_HOLE_OFFSET (512 * 1024)
#define RAM_BAR0_HOLE_SIZE 4096
#define RAM_BAR2_SIZE 4096

#define RAM_REG_ID 0x00
#define RAM_REG_SCRATCH 0x04
#define RAM_REG_READ_COUNT 0x08
#define RAM_REG_BAR0_SIZE 0x0c
#define RAM_REG_IRQ 0x10

#define RAM_ID_VALUE 0x4e580001u

/* ---- pio: identity and the I/O BAR's registers (see pio.c) ---- */

#define PIO_PCI_VENDOR_ID 0x4e58
#define PIO_PCI_DEVICE_ID 0x0002
#define PIO_PCI_REVISION 0x01
#define PIO_PCI_CLASS 0x078000
#define PIO_BAR0_SIZE 8

#define PIO_REG_SCRATCH 0x00
#define PIO_REG_INTX 0x04
#define PIO_REG_INTX_WRITES 0x05
#define PIO_REG_ID 0x06

#define PIO_ID_VALUE 0x5049

/*
 * --mem-file: keep BAR0's memory in @path (set before create), so a server
 * restarted with the same file serves the same contents.
 */
void sample_ram_set_mem_file(const char *path);

#endif /* VFIO_USER_SAMPLE_DEVICES_H */
