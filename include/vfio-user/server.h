/*
 * libvfio-user-server: the server side of the vfio-user protocol.
 *
 * This is the only header a device author includes.  A device is described
 * once (PCI identity, regions, interrupts, reset), then the library listens
 * on a UNIX socket, negotiates VERSION, answers every request and lets the
 * device reach guest memory (DMA) in whichever access mode the client chose
 * for each map: "mmap", "file-io" or "message".
 *
 * Typical use:
 *
 *     VusServer *srv = vus_server_new("/run/dev.sock", NULL, &err);
 *     VusPciDesc pci = { .vendor_id = 0x1234, .device_id = 0x11e8, ... };
 *     vus_server_setup_pci(srv, &pci, &err);
 *     VusRegionDesc bar0 = { .size = 4096, .flags = VUS_REGION_F_RW,
 *                            .access = my_bar0_access, .opaque = dev };
 *     vus_server_setup_region(srv, VFIO_PCI_BAR0_REGION_INDEX, &bar0,
 *                             NULL, &err);
 *     while (vus_server_accept(srv, &err)) {
 *         vus_server_run(srv, &err);   // one client, until it hangs up
 *     }
 *     vus_server_free(srv);
 *
 * Threading: vus_server_run() serves requests on the calling thread and
 * calls the device's callbacks there.  vus_dma_read(), vus_dma_write() and
 * vus_irq_trigger() may be called from those callbacks and from any other
 * thread of the device; they serialise on the server's (recursive) lock.
 * In message mode the caller waits (up to dma_timeout_ms) for the client's
 * reply; requests the client sends meanwhile are queued (bounded) and
 * served after the current handler returns, never inside it.
 *
 * Logging: g_log domain "vfio-user-server"; trace points of that domain
 * (trace-events) are on with G_MESSAGES_DEBUG=vfio-user-server.
 * The point server_dma_map traces each map: "dma map 0x0+0x20000000
 * mode=mmap fd=yes".
 *
 * What a client gets back (errno of the error reply):
 *   malformed request, bad index/offset/count/argsz/flags/fd count: EINVAL;
 *   access against a region's read/write flags: EPERM; DMA_MAP over an
 *   existing map: EEXIST; more maps than max_dma_maps: ENOSPC; DMA_UNMAP of
 *   a range that is not exactly one map: ENOENT; dirty bitmaps, migration,
 *   DEVICE_FEATURE: ENOTSUP; unknown command: ENOSYS.  A request with the
 *   no-reply flag gets no reply on success but an error reply on failure.
 *   A bad VERSION (or any request before it) is answered with EINVAL and the
 *   connection is closed; so is a message larger than the negotiated
 *   limit (closed without a reply).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VFIO_USER_SERVER_H
#define VFIO_USER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <glib.h>
#include <linux/vfio.h>
#include "vfio-user/caps.h"
#include "vfio-user/error.h"
#include "vfio-user/protocol.h"

#define VUS_SERVER_LOG_DOMAIN "vfio-user-server"

typedef struct VusServer VusServer;

/* ---- Server object and its connection ---- */

#define VUS_SERVER_DEF_DMA_TIMEOUT_MS 5000
#define VUS_SERVER_DEF_NEGOTIATION_TIMEOUT_MS 10000
#define VUS_SERVER_DEF_DMA_MSG_WINDOW 2
#define VUS_SERVER_MAX_DMA_MSG_WINDOW 16

typedef struct VusServerOptions {
    /*
     * Behave like a server that predates DMA access modes: any DMA_MAP flag
     * bit other than read/write is EINVAL; an fd means mmap, none means
     * messages.  Used to test the client's fallback.
     */
    bool legacy_dma_map;
    /*
     * Wait for a DMA_READ/WRITE reply, and longest stall inside one message
     * (either direction) before the client is dropped; 0 = 5000.
     */
    uint32_t dma_timeout_ms;
    /*
     * Message-mode DMA: the largest DMA_READ/DMA_WRITE request a transfer
     * is split into (0 = max_data_xfer_size; never more than the
     * negotiated max_data_xfer_size), and how many requests are in flight
     * at once (0 = VUS_SERVER_DEF_DMA_MSG_WINDOW; more than
     * VUS_SERVER_MAX_DMA_MSG_WINDOW is EINVAL).  See
     * docs/devel/performance.rst for what the defaults were chosen on.
     */
    uint32_t dma_msg_chunk;
    uint32_t dma_msg_window;
    /*
     * How long a client accepted by vus_server_accept() may take to start
     * its VERSION request before it is dropped; 0 = 10000.  Meanwhile and
     * while it is served, other clients get an EBUSY reply to VERSION.
     */
    uint32_t negotiation_timeout_ms;
    /*
     * Do not seal the memfds of memory-backed regions against resizing
     * (they are sealed by default, so that a client cannot shrink them
     * under the device).  Used to test a client against a server that
     * shrinks a BAR's fd.
     */
    bool unsealed_regions;
    VFIOUserCaps caps; /* offered in VERSION; zeroed = our defaults */
} VusServerOptions;

/*
 * Create a server listening on @socket_path (NULL: no listening socket, use
 * vus_server_attach()).  A stale socket file is replaced; a path where a
 * live server answers is EADDRINUSE.  @opts may be NULL (defaults).
 */
VusServer *vus_server_new(const char *socket_path, const VusServerOptions *opts,
                          GError **errp);

/* Wait for one client on the listening socket (blocking). */
bool vus_server_accept(VusServer *srv, GError **errp);

/*
 * Listen on @fd, a UNIX socket already bound and listening (created by a
 * parent, the "--fd" convention); the server takes it.  Server created
 * with a NULL socket path.  EINVAL if @fd is not a listening socket.
 */
bool vus_server_listen_fd(VusServer *srv, int fd, GError **errp);

/* Serve an already connected socket instead (the server takes @sock). */
bool vus_server_attach(VusServer *srv, int sock, GError **errp);

/*
 * Serve a client on any transport (include/vfio-user/transport.h), e.g.
 * one end of an in-memory pair in a test or fuzzer; the server takes @tr.
 * The socket timeouts of vus_server_attach() are not set on it: an
 * in-memory receive waits until the peer sends or closes.
 */
typedef struct VfioUserTransport VfioUserTransport;
bool vus_server_attach_transport(VusServer *srv, VfioUserTransport *tr,
                                 GError **errp);

/*
 * Serve the attached client until it disconnects.  Returns true when the
 * client hung up or vus_server_stop() was called, false with @errp set when
 * the connection was dropped for a protocol violation.  Either way the
 * client's DMA maps and irq eventfds are gone afterwards, the device state
 * is kept and the server can accept the next client.
 */
bool vus_server_run(VusServer *srv, GError **errp);

/*
 * Make a blocked vus_server_accept()/vus_server_run() return (any thread,
 * async-signal-safe: one eventfd write).  The server stays stopped.
 */
void vus_server_stop(VusServer *srv);

/*
 * Closes the socket, unlinks the socket file, frees region memory.  Call it
 * once no thread is inside vus_server_accept()/vus_server_run().
 */
void vus_server_free(VusServer *srv);

/* Negotiated capabilities of the current connection (NULL before). */
const VFIOUserCaps *vus_server_caps(VusServer *srv);

/* ---- Device description ---- */

/*
 * Region access callback: @len bytes at offset @off of the region, into or
 * from @buf.  Returns @len on success or a negative errno (sent to the
 * client as the error of the reply).  Offsets and lengths are already
 * checked against the region size.
 */
typedef ssize_t (*VusRegionAccessFn)(void *opaque, bool is_write, uint64_t off,
                                     void *buf, size_t len);

#define VUS_REGION_F_READ (1u << 0)
#define VUS_REGION_F_WRITE (1u << 1)
#define VUS_REGION_F_RW (VUS_REGION_F_READ | VUS_REGION_F_WRITE)

/* How a BAR region appears in config space (ignored for other regions). */
#define VUS_BAR_F_IO (1u << 0)       /* I/O space BAR */
#define VUS_BAR_F_MEM64 (1u << 1)    /* 64-bit memory BAR (uses 2 slots) */
#define VUS_BAR_F_PREFETCH (1u << 2) /* prefetchable memory */

typedef struct VusSparseArea {
    uint64_t offset;
    uint64_t size;
} VusSparseArea;

#define VUS_MAX_REGIONS 16 /* VFIO_PCI_NUM_REGIONS (9) + device-specific */
#define VUS_MAX_SPARSE_AREAS 16

typedef struct VusRegionDesc {
    uint64_t size;
    uint32_t flags;     /* VUS_REGION_F_* */
    uint32_t bar_flags; /* VUS_BAR_F_*, BAR regions only */
    /*
     * Callback for accesses that come as messages.  With @mem it may be
     * NULL: messages then read/write the memory directly.
     */
    VusRegionAccessFn access;
    void *opaque;
    /*
     * Memory-backed: the library allocates a memfd of @size bytes, maps it
     * and returns the pointer from vus_server_setup_region(); the client is
     * offered mmap of it (whole region, or only @sparse areas if given).
     */
    bool mem;
    /*
     * With @mem: keep the memory in this file instead of a memfd (created
     * if missing; must be empty or @size bytes), so that its contents
     * outlive the server process and a restarted server serves the same
     * bytes.  NULL: a memfd, gone with the process.
     */
    const char *mem_path;
    const VusSparseArea *sparse;
    size_t nr_sparse;
    /* Optional VFIO_REGION_INFO_CAP_TYPE. */
    bool has_type;
    uint32_t type;
    uint32_t subtype;
} VusRegionDesc;

/*
 * Declare region @index (VFIO_PCI_BAR0_REGION_INDEX... or device-specific
 * up to VUS_MAX_REGIONS - 1).  *@mem_out gets the memory of a memory-backed
 * region (may be NULL).  The config region is provided by
 * vus_server_setup_pci() and cannot be declared here.
 */
bool vus_server_setup_region(VusServer *srv, uint32_t index,
                             const VusRegionDesc *desc, void **mem_out,
                             GError **errp);

/*
 * Offer an ioeventfd for a write of @size bytes at @offset of region
 * @index (optionally only when the value equals @datamatch).  The library
 * creates the eventfd, hands it out in GET_REGION_IO_FDS and, when the
 * client signals it, calls the region's access callback with a write of
 * @datamatch (0 without datamatch).  The region needs a callback.
 */
bool vus_server_add_ioeventfd(VusServer *srv, uint32_t index, uint64_t offset,
                              uint32_t size, bool use_datamatch,
                              uint64_t datamatch, GError **errp);

/* PCI identity and capabilities; the library serves config space. */
typedef struct VusPciDesc {
    uint16_t vendor_id;
    uint16_t device_id;
    uint16_t subsys_vendor_id;
    uint16_t subsys_id;
    uint32_t class_code; /* base << 16 | sub << 8 | prog-if */
    uint8_t revision;
    uint8_t intx_pin;      /* 0 none, 1..4 = INTA..INTD */
    bool extended_config;  /* 4 KiB config space instead of 256 bytes */
    uint32_t msi_vectors;  /* 0 = no MSI capability, else 1..32 */
    uint32_t msix_vectors; /* 0 = no MSI-X capability, else 1..2048 */
    uint8_t msix_bar;      /* BAR index holding table and PBA */
    uint32_t msix_table_offset;
    uint32_t msix_pba_offset;
    bool express; /* add a minimal PCI Express capability */
    /*
     * Device registers in config space: accesses to bytes outside the
     * standard header and the capabilities the library built (0x40 up,
     * except the capabilities) go here; NULL = they read 0, writes ignored.
     */
    VusRegionAccessFn config_access;
    void *config_opaque;
} VusPciDesc;

/*
 * Build config space (region VFIO_PCI_CONFIG_REGION_INDEX) and the irq
 * counts (INTx 1 if a pin is set, MSI, MSI-X).  Call after the BAR regions
 * are declared (their sizes and VUS_BAR_F_* make the BARs).
 */
bool vus_server_setup_pci(VusServer *srv, const VusPciDesc *desc,
                          GError **errp);

/*
 * Append capability @id (e.g. PCI_CAP_ID_VNDR) of @len bytes to the list,
 * after those vus_server_setup_pci() built.  @data holds all @len bytes;
 * the library fills in the first two (id, next).  Read-only to the client,
 * kept across reset.  ENOSPC when it does not fit below 0x100.
 */
bool vus_server_add_pci_cap(VusServer *srv, uint8_t id, const void *data,
                            size_t len, GError **errp);

/* Direct access to config space (e.g. to read the command register). */
uint8_t *vus_pci_config_space(VusServer *srv);

/* Interrupts: @count vectors for VFIO_PCI_{INTX,MSI,MSIX,ERR,REQ}_IRQ_INDEX. */
bool vus_server_setup_irq(VusServer *srv, uint32_t index, uint32_t count,
                          GError **errp);

typedef struct VusDeviceOps {
    /* DEVICE_RESET: 0 or a negative errno.  NULL = reset always succeeds. */
    int (*reset)(void *opaque);
    /* Client connected (after VERSION) / disconnected; may be NULL. */
    void (*connected)(void *opaque);
    void (*disconnected)(void *opaque);
} VusDeviceOps;

void vus_server_set_device_ops(VusServer *srv, const VusDeviceOps *ops,
                               void *opaque);

/* ---- Interrupts ---- */

/*
 * Signal vector @vector of irq @index: writes the eventfd the client set
 * with SET_IRQS.  Returns true when an eventfd was signalled; false when
 * there is none or the vector is masked (then it is counted as pending and
 * delivered on unmask / counted as undelivered).
 */
bool vus_irq_trigger(VusServer *srv, uint32_t index, uint32_t vector);

/*
 * INTx as a level: assert (true) or deassert the device's INTx line.  The
 * library keeps the level, mirrors it in PCI_STATUS_INTERRUPT, signals the
 * INTx eventfd when the line goes up and again whenever the client unmasks
 * INTx while it is still up (its end of interrupt), and holds it back while
 * the guest sets INTx Disable in the command register.  Returns false when
 * the device has no INTx or a rising line reached no eventfd (masked,
 * disabled or none assigned: delivered later, as for vus_irq_trigger()).
 */
bool vus_irq_set_level(VusServer *srv, bool asserted);
/* The level vus_irq_set_level() left. */
bool vus_irq_level(VusServer *srv);

/* Does @index/@vector have an eventfd assigned right now? */
bool vus_irq_enabled(VusServer *srv, uint32_t index, uint32_t vector);

/* Triggers that found no eventfd, per irq index. */
uint64_t vus_irq_undelivered(VusServer *srv, uint32_t index);

/* ---- DMA: guest memory as the client mapped it ---- */

typedef enum VusDmaMode {
    VUS_DMA_MODE_MMAP,    /* "mmap": memcpy through our mapping of the fd */
    VUS_DMA_MODE_FILE_IO, /* "file-io": pread/pwrite on the fd */
    VUS_DMA_MODE_MESSAGE, /* "message": DMA_READ/DMA_WRITE to the client */
} VusDmaMode;

const char *vus_dma_mode_name(VusDmaMode mode);

/*
 * Copy guest memory [@addr, @addr + @len) into @buf (or @buf into it).  The
 * range may span adjacent maps; each part uses its map's mode and must be
 * allowed by its map's read/write permission.  Unmapped bytes: EFAULT;
 * permission: EPERM; client error or timeout in message mode: that errno /
 * ETIMEDOUT.  Message-mode transfers are split at max_data_xfer_size
 * (or the smaller dma_msg_chunk), dma_msg_window requests in flight.
 * In mmap mode a naturally aligned 2-, 4- or 8-byte access is a single
 * load or store (a ring index is never read torn).
 */
bool vus_dma_read(VusServer *srv, uint64_t addr, void *buf, size_t len,
                  GError **errp);
bool vus_dma_write(VusServer *srv, uint64_t addr, const void *buf, size_t len,
                   GError **errp);

/* One piece of a vectored transfer: guest [addr, addr + len) and @buf. */
typedef struct VusDmaSeg {
    uint64_t addr;
    void *buf; /* vus_dma_writev() only reads it */
    size_t len;
} VusDmaSeg;

/*
 * vus_dma_read() / vus_dma_write() of @nsegs pieces, in order, as one
 * call.  Every piece is checked (EFAULT, EPERM as above) before any byte
 * moves; @segs NULL with pieces: EINVAL.  In message mode the requests of
 * all the pieces share the dma_msg_window: the next piece's request is on
 * its way while the client answers the one before, where a call per piece
 * waits for each reply before asking for more.  A piece in another mode
 * waits until the message pieces before it are done.  The pieces of a
 * write land in order, each visible before the next (a ring element, then
 * the index that publishes it); the client handles its requests in order.
 * On failure, which of the pieces arrived is unspecified.
 */
bool vus_dma_readv(VusServer *srv, const VusDmaSeg *segs, size_t nsegs,
                   GError **errp);
bool vus_dma_writev(VusServer *srv, const VusDmaSeg *segs, size_t nsegs,
                    GError **errp);

typedef struct VusDmaMapInfo {
    uint64_t addr;
    uint64_t size;
    uint64_t fd_offset;
    uint32_t flags; /* DMA_MAP flags as the client sent them */
    VusDmaMode mode;
    bool has_fd;
    uint64_t bytes_read;    /* by vus_dma_read() */
    uint64_t bytes_written; /* by vus_dma_write() */
} VusDmaMapInfo;

/* Snapshot of the current maps, sorted by address; g_array_unref() it. */
GArray *vus_dma_get_maps(VusServer *srv);

#endif /* VFIO_USER_SERVER_H */
