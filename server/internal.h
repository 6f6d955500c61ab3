/*
 * libvfio-user-server private definitions shared by the server/ files.
 *
 * server.c     lifetime, accept, dispatch, VERSION
 * serve.c      the serving loop: waiting, reading, posted-write runs
 * rx.c         buffered receive of the connection (fds kept with messages)
 * request.c    server-to-client requests, the queue of requests that
 *              arrive while one waits
 * region.c     regions, DEVICE_GET_INFO, region info / io fds, REGION_*
 * irq.c        irq info, SET_IRQS, triggering
 * dma.c        DMA_MAP / DMA_UNMAP, the map table, vus_dma_read/write,
 *              the message-mode DMA pipeline
 * pci-config.c generic PCI config space
 *
 * Locking: VusServer.lock (a GRecMutex) guards everything in VusServer
 * except "stopping" and reader_blocked (atomic) and the immutable
 * wake_fd.  The serving loop holds it while it handles a message and
 * drops it only while it waits in poll() or in its blocking recvmsg(), so
 * device callbacks run with it held and may call vus_dma_*() and
 * vus_irq_trigger() (recursive).  Another device thread takes it around
 * each DMA or trigger.  During the blocking recvmsg() the receive buffer
 * belongs to the loop: it happens only when no other thread reads the
 * connection (no message-mode map).  sock_lock, innermost, guards
 * srv->tr against a concurrent close while another thread shuts it down.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SERVER_INTERNAL_H
#define SERVER_INTERNAL_H

#include <inttypes.h>
#include "vfio-user/server.h"
#include "vfio-user/transport.h"

/* User-facing warnings; trace output goes through trace-events.h. */
#define vus_warn(...)                                                          \
    g_log(VUS_SERVER_LOG_DOMAIN, G_LOG_LEVEL_WARNING, __VA_ARGS__)

#define VUS_MAX_IOEVENTFDS 16 /* per region */

/*
 * One received message: header, payload, fds we own.  The payload points
 * into the connection's receive buffer for the one the serving loop reads,
 * into the queue's scratch buffer for a queued one.
 */
typedef struct VfioUserMsg {
    VFIOUserHdr hdr;
    uint8_t *payload;
    size_t len;
    int fds[VFIO_USER_MAX_FDS];
    size_t nfds;
} VfioUserMsg;

/* What a handler answers on success (payload may be NULL). */
typedef struct VusReply {
    void *payload; /* g_free'd, unless from vus_server_reply_buf() */
    size_t len;
    int fds[VFIO_USER_MAX_FDS]; /* not owned: sent, never closed here */
    size_t nfds;
} VusReply;

typedef struct VusIoEventFd {
    int fd;
    uint64_t offset;
    uint32_t size;
    bool use_datamatch;
    uint64_t datamatch;
} VusIoEventFd;

typedef struct VusRegion {
    uint64_t size;  /* 0: not declared */
    uint32_t flags; /* VUS_REGION_F_* */
    uint32_t bar_flags;
    VusRegionAccessFn access;
    void *opaque;
    int mem_fd; /* memfd of a memory-backed region, or -1 */
    void *mem;
    VusSparseArea sparse[VUS_MAX_SPARSE_AREAS];
    size_t nr_sparse;
    bool has_type;
    uint32_t type;
    uint32_t subtype;
    VusIoEventFd ioeventfds[VUS_MAX_IOEVENTFDS];
    size_t nr_ioeventfds;
} VusRegion;

typedef struct VusIrq {
    uint32_t count;
    int *efds; /* count entries, -1 = none */
    bool *masked;
    bool *pending; /* triggered while masked */
    uint64_t undelivered;
    bool level; /* INTx only: the line as vus_irq_set_level() left it */
} VusIrq;

typedef struct VusDmaMap {
    uint64_t addr;
    uint64_t size;
    uint64_t fd_offset;
    uint32_t flags;
    VusDmaMode mode;
    bool has_fd;
    int fd;          /* file-io mode only, else -1 */
    void *mmap_base; /* mmap mode: what munmap() gets */
    size_t mmap_len;
    uint8_t *mem; /* mmap mode: byte at addr */
    uint64_t bytes_read;
    uint64_t bytes_written;
} VusDmaMap;

typedef struct VusPciConfig VusPciConfig;
typedef struct VusAdmission VusAdmission;

/*
 * Buffered receive (rx.c).  Unread bytes are buf[start, end); pos is the
 * stream position of buf[start].  Each fd set is kept with the stream
 * positions of the recvmsg() that brought it, until the header that owns
 * it is parsed.
 */
#define VUS_RX_FDSETS 8
typedef struct VusRxFdSet {
    uint64_t lo, hi;
    size_t n;
    int fds[VFIO_USER_MAX_FDS];
} VusRxFdSet;

typedef struct VusRx {
    uint8_t *buf;
    size_t cap;
    size_t start, end;
    uint64_t pos;
    VusRxFdSet sets[VUS_RX_FDSETS];
    size_t nsets;
    /* The buffer holding the request being handled (bytes before start
     * are in use: do not move them), or NULL. */
    uint8_t *pinned;
    uint8_t *spare; /* the other buffer, for reading on while pinned */
    size_t spare_cap;
} VusRx;

/*
 * Requests that arrived during a DMA wait (request.c), in arrival order,
 * as records {uint32_t nfds, header, payload} in bytes[off..]; their fds
 * in fds[fd_off..].  Bounded by VUS_PENDING_MAX bytes.
 */
typedef struct VusPending {
    GByteArray *bytes;
    size_t off;
    GArray *fds; /* int */
    size_t fd_off;
    uint8_t *scratch; /* the record being handled */
    size_t scratch_cap;
} VusPending;

struct VusServer {
    GRecMutex lock;
    VusServerOptions opts;
    char *socket_path;
    int listen_fd;
    VfioUserTransport *tr;   /* the connected client, or NULL */
    int sock;                /* tr's pollable fd, or -1 */
    int wake_fd;             /* eventfd: stop request or queued messages */
    gint stopping;           /* atomic */
    VusAdmission *admission; /* refuses other clients meanwhile (admission.c) */
    bool negotiated;
    bool broken; /* connection must be dropped */
    GError *broken_err;
    VFIOUserCaps caps;  /* negotiated */
    uint16_t next_id;   /* for DMA_READ/DMA_WRITE requests */
    VusPending pending; /* requests that arrived during a DMA wait */
    /*
     * Per-connection buffers, so that a steady stream of REGION_* requests
     * allocates nothing: the receive buffer (the payload of the request
     * being served, in msg, points into it) and the reply payload.  Sized
     * from our own limit (vus_server_max_msg_size()), never from a peer's
     * header; freed on disconnect.
     */
    VusRx rx;
    VfioUserMsg msg;
    /*
     * The serving loop reads with the lock dropped, in a blocking
     * recvmsg(), when no other thread can read the connection (server.c);
     * reader_blocked (atomic) says so, so that vus_server_stop() and
     * vus_server_mark_broken() can end that read with shutdown(), under
     * sock_lock.
     */
    GMutex sock_lock;
    gint reader_blocked;
    /*
     * Whether the socket's receive timeout is ours to set (a socket given
     * to vus_server_attach()), and whether it is set now (rx.c).
     */
    bool rcv_timeout;
    bool rcv_timeout_on;
    uint8_t *tx_buf;
    size_t tx_cap;

    VusRegion regions[VUS_MAX_REGIONS];
    size_t nr_ioeventfds; /* of all regions together */
    uint32_t num_regions;
    VusIrq irqs[VFIO_PCI_NUM_IRQS];
    VusPciConfig *pci;
    VusDeviceOps ops;
    void *ops_opaque;

    GArray *maps;       /* VusDmaMap*, sorted by addr, no overlap */
    size_t nr_msg_maps; /* of them in message mode */
};

/* server.c */
size_t vus_server_max_msg_size(VusServer *srv);
void vus_server_mark_broken(VusServer *srv, GError *err);
/* Wake the serving loop out of poll() (stop, queued messages, broken). */
void vus_server_wake(VusServer *srv);
void vus_server_drain_wake(VusServer *srv);
/* Handle one request and send its reply, if it gets one. */
void vus_server_handle(VusServer *srv, VfioUserMsg *msg);

/* serve.c: serve until the client goes, a stop, or a broken connection. */
void vus_serve_loop(VusServer *srv);

/* What reading a message header without waiting for one gave. */
typedef enum VfioUserRecvResult {
    VFIO_USER_RECV_OK,
    VFIO_USER_RECV_NONE, /* nothing has arrived yet */
    VFIO_USER_RECV_ERROR,
} VfioUserRecvResult;

/* rx.c: reading the connection through the receive buffer. */
size_t vus_rx_avail(VusServer *srv);
/* Close the fds held, free the buffer (disconnect). */
void vus_rx_reset(VusServer *srv);
/*
 * One recvmsg() of at most @max bytes into the buffer (@flags: 0 or
 * MSG_DONTWAIT).  The byte count, 0 at end of stream, -1 when nothing came
 * (MSG_DONTWAIT, or the socket's receive timeout), -2 on error.
 */
ssize_t vus_rx_fill(VusServer *srv, size_t max, int flags, GError **errp);
/* A whole message (or a header the checks refuse) is buffered. */
bool vus_rx_has_msg(VusServer *srv);
/*
 * The next header and its fds, from the buffer, or read without waiting
 * (VFIO_USER_RECV_NONE when nothing has arrived); the rest of a header that has
 * started is waited for (socket timeout).  A read asks for up to @ahead
 * bytes.  The header gets the checks of vfio_user_msg_recv_hdr() against
 * vus_server_max_msg_size().  On error no fd is left open.
 */
VfioUserRecvResult vus_rx_hdr(VusServer *srv, VFIOUserHdr *hdr, int *fds,
                              size_t *nfds, size_t ahead, GError **errp);
/* The next @len bytes, in the buffer (valid until the next rx call). */
bool vus_rx_payload(VusServer *srv, size_t len, size_t ahead, uint8_t **p,
                    GError **errp);
/* The next bytes into @iov (at most 4 pieces): buffered ones, then read. */
bool vus_rx_bodyv(VusServer *srv, const struct iovec *iov, int iovcnt,
                  GError **errp);
bool vus_rx_discard(VusServer *srv, size_t len, GError **errp);
/*
 * While pinned, bytes already returned by vus_rx_payload() stay where they
 * are (a handler runs with its request in the buffer).
 */
void vus_rx_pin(VusServer *srv, bool pin);
/*
 * Turn the socket's receive timeout (dma_timeout_ms) on before a read
 * inside a message, off before the wait between messages (a recvmsg()
 * with a timeout arms a timer each time it sleeps).  A system call only
 * when it changes, and only on a socket of vus_server_attach().
 */
void vus_rx_set_timeout(VusServer *srv, bool on);

/* request.c: the queue of requests that arrived during a DMA wait. */
void vus_pending_init(VusServer *srv);
void vus_pending_free(VusServer *srv);
void vus_pending_clear(VusServer *srv);
/* Take the oldest (payload valid until the next call); false if none. */
bool vus_pending_pop(VusServer *srv, VfioUserMsg *msg);

/*
 * The connection's reply buffer, for a handler's reply payload of @len
 * bytes (at most max_data_xfer_size + a 16-byte fixed part); the
 * dispatcher does not free it, and sends the reply from it in one piece
 * (the header goes in the room kept in front of the payload).
 */
void *vus_server_reply_buf(VusServer *srv, size_t len);

/* Handlers: return 0 (reply from @reply) or a positive errno. */
typedef int (*VusHandler)(VusServer *srv, VfioUserMsg *msg, VusReply *reply);

/* region.c */
void vus_regions_init(VusServer *srv);
void vus_regions_cleanup(VusServer *srv);
void vus_regions_disconnect(VusServer *srv);
int vus_handle_device_get_info(VusServer *srv, VfioUserMsg *msg, VusReply *r);
int vus_handle_region_info(VusServer *srv, VfioUserMsg *msg, VusReply *r);
int vus_handle_region_io_fds(VusServer *srv, VfioUserMsg *msg, VusReply *r);
int vus_handle_region_read(VusServer *srv, VfioUserMsg *msg, VusReply *r);
int vus_handle_region_write(VusServer *srv, VfioUserMsg *msg, VusReply *r);
int vus_handle_region_write_multi(VusServer *srv, VfioUserMsg *msg,
                                  VusReply *r);
/* Fill @fds with the ioeventfds to poll; returns how many (<= @max). */
size_t vus_regions_poll_fds(VusServer *srv, int *fds, size_t max);
void vus_regions_ioeventfd_fired(VusServer *srv, int fd);
bool vus_regions_have_ioeventfds(VusServer *srv);

/* irq.c */
void vus_irqs_cleanup(VusServer *srv);
void vus_irqs_disconnect(VusServer *srv);
int vus_handle_irq_info(VusServer *srv, VfioUserMsg *msg, VusReply *r);
int vus_handle_set_irqs(VusServer *srv, VfioUserMsg *msg, VusReply *r);

/* dma.c */
void vus_dma_init(VusServer *srv);
void vus_dma_unmap_all(VusServer *srv);
int vus_handle_dma_map(VusServer *srv, VfioUserMsg *msg, VusReply *r);
int vus_handle_dma_unmap(VusServer *srv, VfioUserMsg *msg, VusReply *r);

/* irq.c: the guest cleared INTx Disable; signal what waited for it. */
void vus_irq_intx_enabled(VusServer *srv);

/* pci-config.c */
bool vus_pci_config_create(VusServer *srv, const VusPciDesc *desc,
                           GError **errp);
void vus_pci_config_free(VusPciConfig *pci);
void vus_pci_config_reset(VusPciConfig *pci);
/* PCI_STATUS_INTERRUPT follows the INTx line; INTx Disable of command. */
void vus_pci_config_set_intx_status(VusPciConfig *pci, bool level);
bool vus_pci_config_intx_disabled(const VusPciConfig *pci);
ssize_t vus_pci_config_access(void *opaque, bool is_write, uint64_t off,
                              void *buf, size_t len);

/*
 * Server-to-client requests (DMA_READ/DMA_WRITE), in two halves so that a
 * caller can keep several in flight.  vus_server_send_request() sends one
 * (payload in @iov, at most 3 pieces; its id in *@id); a failure breaks the
 * connection.  vus_server_wait_reply() waits for the reply header to @id
 * (the client answers in order); requests arriving meanwhile are queued.
 * On success the reply payload (reply->size - 16 bytes) is still to be
 * read (vus_rx_bodyv()); receives ask for @ahead bytes at a time, so that
 * a small reply comes in one recvmsg() with its header, while a large
 * payload goes straight to its destination (@ahead: its header's size).  An
 * error reply is returned as its errno (body consumed); a timeout is ETIMEDOUT;
 * anything else breaks the connection.
 */
bool vus_server_send_request(VusServer *srv, uint16_t cmd,
                             const struct iovec *iov, int iovcnt, uint16_t *id,
                             GError **errp);
bool vus_server_wait_reply(VusServer *srv, uint16_t id, uint16_t cmd,
                           size_t ahead, VFIOUserHdr *reply, GError **errp);

/* admission.c: negotiation deadline, refusing a second client */
unsigned vus_admission_timeout_ms(VusServer *srv);
/* Wait for @sock's first bytes (deadline, stop); false: drop it. */
bool vus_admission_wait_first(VusServer *srv, int sock);
/*
 * While @served_fd is served: answer newcomers EBUSY (listening servers
 * only).  A newcomer that arrives after the served client hung up is kept:
 * vus_admission_take_next() returns it (or -1) once stopped.
 */
void vus_admission_start(VusServer *srv, int served_fd);
void vus_admission_stop(VusServer *srv);
int vus_admission_take_next(VusServer *srv);

#endif /* SERVER_INTERNAL_H */
