/*
 * libvfio-user-server private definitions shared by the server/ files.
 *
 * server.c     lifetime, accept, the serving loop, dispatch, VERSION
 * region.c     regions, DEVICE_GET_INFO, region info / io fds, REGION_*
 * irq.c        irq info, SET_IRQS, triggering
 * dma.c        DMA_MAP / DMA_UNMAP, the map table, vfu_dma_read/write,
 *              server-to-client requests (vfu_server_send_request & co)
 * pci-config.c generic PCI config space
 *
 * Locking: VfuServer.lock (a GRecMutex) guards everything in VfuServer
 * except "stopping" (atomic) and the immutable wake_fd.  The serving loop
 * holds it while it handles a message and drops it only while it waits in
 * poll(), so device callbacks run with it held and may call vfu_dma_*() and
 * vfu_irq_trigger() (recursive).  Another device thread takes it around
 * each DMA or trigger.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SERVER_INTERNAL_H
#define SERVER_INTERNAL_H

#include <inttypes.h>
#include "vfio-user/server.h"
#include "vfio-user/transport.h"

/*
 * Debug lines are checked before they are formatted: formatting allocates,
 * and the serving loop logs every request.
 */
#if GLIB_CHECK_VERSION(2, 68, 0)
#define vfu_srv_debug(...)                                                     \
    do {                                                                       \
        if (!g_log_writer_default_would_drop(G_LOG_LEVEL_DEBUG,                \
                                             VFU_SERVER_LOG_DOMAIN)) {         \
            g_log(VFU_SERVER_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, __VA_ARGS__);      \
        }                                                                      \
    } while (0)
#else
#define vfu_srv_debug(...)                                                     \
    g_log(VFU_SERVER_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, __VA_ARGS__)
#endif
#define vfu_srv_info(...)                                                      \
    g_log(VFU_SERVER_LOG_DOMAIN, G_LOG_LEVEL_INFO, __VA_ARGS__)
#define vfu_srv_warn(...)                                                      \
    g_log(VFU_SERVER_LOG_DOMAIN, G_LOG_LEVEL_WARNING, __VA_ARGS__)

#define VFU_MAX_IOEVENTFDS 16 /* per region */

/*
 * One received message: header, payload, fds we own.  The payload is
 * g_malloc'd for queued messages (vfu_msg_free()), and points into the
 * connection's receive buffer for the one the serving loop reads.
 */
typedef struct VfuMsg {
    VFIOUserHdr hdr;
    uint8_t *payload;
    size_t len;
    int fds[VFU_MAX_FDS];
    size_t nfds;
} VfuMsg;

/* What a handler answers on success (payload may be NULL). */
typedef struct VfuReply {
    void *payload; /* g_free'd, unless from vfu_server_reply_buf() */
    size_t len;
    int fds[VFU_MAX_FDS]; /* not owned: sent, never closed here */
    size_t nfds;
} VfuReply;

typedef struct VfuIoEventFd {
    int fd;
    uint64_t offset;
    uint32_t size;
    bool use_datamatch;
    uint64_t datamatch;
} VfuIoEventFd;

typedef struct VfuRegion {
    uint64_t size;  /* 0: not declared */
    uint32_t flags; /* VFU_REGION_F_* */
    uint32_t bar_flags;
    VfuRegionAccessFn access;
    void *opaque;
    int mem_fd; /* memfd of a memory-backed region, or -1 */
    void *mem;
    VfuSparseArea sparse[VFU_MAX_SPARSE_AREAS];
    size_t nr_sparse;
    bool has_type;
    uint32_t type;
    uint32_t subtype;
    VfuIoEventFd ioeventfds[VFU_MAX_IOEVENTFDS];
    size_t nr_ioeventfds;
} VfuRegion;

typedef struct VfuIrq {
    uint32_t count;
    int *efds; /* count entries, -1 = none */
    bool *masked;
    bool *pending; /* triggered while masked */
    uint64_t undelivered;
    bool level; /* INTx only: the line as vfu_irq_set_level() left it */
} VfuIrq;

typedef struct VfuDmaMap {
    uint64_t addr;
    uint64_t size;
    uint64_t fd_offset;
    uint32_t flags;
    VfuDmaMode mode;
    bool has_fd;
    int fd;          /* file-io mode only, else -1 */
    void *mmap_base; /* mmap mode: what munmap() gets */
    size_t mmap_len;
    uint8_t *mem; /* mmap mode: byte at addr */
    uint64_t bytes_read;
    uint64_t bytes_written;
} VfuDmaMap;

typedef struct VfuPciConfig VfuPciConfig;
typedef struct VfuAdmission VfuAdmission;

struct VfuServer {
    GRecMutex lock;
    VfuServerOptions opts;
    char *socket_path;
    int listen_fd;
    int sock;                /* connected client or -1 */
    int wake_fd;             /* eventfd: stop request or queued messages */
    gint stopping;           /* atomic */
    VfuAdmission *admission; /* refuses other clients meanwhile (admission.c) */
    bool negotiated;
    bool broken; /* connection must be dropped */
    GError *broken_err;
    VFIOUserCaps caps; /* negotiated */
    uint16_t next_id;  /* for DMA_READ/DMA_WRITE requests */
    GQueue *pending;   /* VfuMsg* that arrived during a DMA wait */
    size_t pending_bytes;
    /*
     * Per-connection buffers of the serving loop, so that a steady stream
     * of REGION_* requests allocates nothing: the request being served
     * (payload in rx_buf) and the reply payload.  Sized from our own limit
     * (vfu_server_max_msg_size()), never from a peer's header; freed on
     * disconnect.  Only the loop's thread uses them (lock held).
     */
    VfuMsg rx;
    uint8_t *rx_buf;
    size_t rx_cap;
    uint8_t *tx_buf;
    size_t tx_cap;

    VfuRegion regions[VFU_MAX_REGIONS];
    uint32_t num_regions;
    VfuIrq irqs[VFIO_PCI_NUM_IRQS];
    VfuPciConfig *pci;
    VfuDeviceOps ops;
    void *ops_opaque;

    GArray *maps; /* VfuDmaMap*, sorted by addr, no overlap */
};

/* server.c */
void vfu_msg_free(VfuMsg *msg);
size_t vfu_server_max_msg_size(VfuServer *srv);
void vfu_server_mark_broken(VfuServer *srv, GError *err);
/* Wake the serving loop out of poll() (stop, queued messages, broken). */
void vfu_server_wake(VfuServer *srv);

/* What reading a message header without waiting for one gave. */
typedef enum VfuRecvResult {
    VFU_RECV_OK,
    VFU_RECV_NONE, /* nothing has arrived yet */
    VFU_RECV_ERROR,
} VfuRecvResult;

/*
 * Read a header and its fds if one has started to arrive, else
 * VFU_RECV_NONE: one recvmsg(MSG_DONTWAIT) instead of a poll() before every
 * read.  The rest of a split header is waited for (bounded by the socket
 * timeout); the header gets the checks of vfu_msg_recv_hdr() against
 * vfu_server_max_msg_size().  On error no fd is left open.
 */
VfuRecvResult vfu_server_recv_hdr(VfuServer *srv, VFIOUserHdr *hdr, int *fds,
                                  size_t *nfds, GError **errp);

/*
 * The connection's reply buffer, for a handler's reply payload of @len
 * bytes (at most max_data_xfer_size + a 16-byte fixed part); the
 * dispatcher does not free it.
 */
void *vfu_server_reply_buf(VfuServer *srv, size_t len);

/* Handlers: return 0 (reply from @reply) or a positive errno. */
typedef int (*VfuHandler)(VfuServer *srv, VfuMsg *msg, VfuReply *reply);

/* region.c */
void vfu_regions_init(VfuServer *srv);
void vfu_regions_cleanup(VfuServer *srv);
void vfu_regions_disconnect(VfuServer *srv);
int vfu_handle_device_get_info(VfuServer *srv, VfuMsg *msg, VfuReply *r);
int vfu_handle_region_info(VfuServer *srv, VfuMsg *msg, VfuReply *r);
int vfu_handle_region_io_fds(VfuServer *srv, VfuMsg *msg, VfuReply *r);
int vfu_handle_region_read(VfuServer *srv, VfuMsg *msg, VfuReply *r);
int vfu_handle_region_write(VfuServer *srv, VfuMsg *msg, VfuReply *r);
int vfu_handle_region_write_multi(VfuServer *srv, VfuMsg *msg, VfuReply *r);
/* Fill @fds with the ioeventfds to poll; returns how many (<= @max). */
size_t vfu_regions_poll_fds(VfuServer *srv, int *fds, size_t max);
void vfu_regions_ioeventfd_fired(VfuServer *srv, int fd);
bool vfu_regions_have_ioeventfds(VfuServer *srv);

/* irq.c */
void vfu_irqs_cleanup(VfuServer *srv);
void vfu_irqs_disconnect(VfuServer *srv);
int vfu_handle_irq_info(VfuServer *srv, VfuMsg *msg, VfuReply *r);
int vfu_handle_set_irqs(VfuServer *srv, VfuMsg *msg, VfuReply *r);

/* dma.c */
void vfu_dma_init(VfuServer *srv);
void vfu_dma_unmap_all(VfuServer *srv);
int vfu_handle_dma_map(VfuServer *srv, VfuMsg *msg, VfuReply *r);
int vfu_handle_dma_unmap(VfuServer *srv, VfuMsg *msg, VfuReply *r);

/* irq.c: the guest cleared INTx Disable; signal what waited for it. */
void vfu_irq_intx_enabled(VfuServer *srv);

/* pci-config.c */
bool vfu_pci_config_create(VfuServer *srv, const VfuPciDesc *desc,
                           GError **errp);
void vfu_pci_config_free(VfuPciConfig *pci);
void vfu_pci_config_reset(VfuPciConfig *pci);
/* PCI_STATUS_INTERRUPT follows the INTx line; INTx Disable of command. */
void vfu_pci_config_set_intx_status(VfuPciConfig *pci, bool level);
bool vfu_pci_config_intx_disabled(const VfuPciConfig *pci);
ssize_t vfu_pci_config_access(void *opaque, bool is_write, uint64_t off,
                              void *buf, size_t len);

/*
 * Server-to-client requests (DMA_READ/DMA_WRITE), in two halves so that a
 * caller can keep several in flight.  vfu_server_send_request() sends one
 * (payload in @iov, at most 3 pieces; its id in *@id); a failure breaks the
 * connection.  vfu_server_wait_reply() waits for the reply header to @id
 * (the client answers in order); requests arriving meanwhile are queued.
 * On success the reply payload (reply->size - 16 bytes) is still in the
 * socket for the caller to read.  An error reply is returned as its errno
 * (body consumed); a timeout is ETIMEDOUT; anything else breaks the
 * connection.
 */
bool vfu_server_send_request(VfuServer *srv, uint16_t cmd,
                             const struct iovec *iov, int iovcnt, uint16_t *id,
                             GError **errp);
bool vfu_server_wait_reply(VfuServer *srv, uint16_t id, uint16_t cmd,
                           VFIOUserHdr *reply, GError **errp);

/* admission.c: negotiation deadline, refusing a second client */
unsigned vfu_admission_timeout_ms(VfuServer *srv);
/* Wait for @sock's first bytes (deadline, stop); false: drop it. */
bool vfu_admission_wait_first(VfuServer *srv, int sock);
/*
 * While @served_fd is served: answer newcomers EBUSY (listening servers
 * only).  A newcomer that arrives after the served client hung up is kept:
 * vfu_admission_take_next() returns it (or -1) once stopped.
 */
void vfu_admission_start(VfuServer *srv, int served_fd);
void vfu_admission_stop(VfuServer *srv);
int vfu_admission_take_next(VfuServer *srv);

#endif /* SERVER_INTERNAL_H */
