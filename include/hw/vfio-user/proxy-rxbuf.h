/*
 * vfio-user client: the receive buffer of a connection's reader.
 *
 * The reader of a connection (hw/vfio-user/proxy-recv.c) takes messages
 * through this buffer, so that one system call brings a header together
 * with its payload, and with whatever else has arrived: a few replies, or
 * a run of server requests.  On an AF_UNIX socket one fill is one
 * recvmsg() of as much as the buffer holds.  Other transports (the
 * in-memory one of tests and fuzzers) get the rest of the next header
 * only, so they read as they did before the buffer: a header, then its
 * payload straight.
 *
 * File descriptors stay with the message they came with.  The kernel
 * attaches an SCM_RIGHTS set to the first byte of the sender's write and
 * ends a receive that returns it with the end of that write: bytes of
 * earlier writes may come in front of it, never bytes of a later one.  So
 * each set is kept with the stream positions [lo, hi) of the receive that
 * brought it, and goes to the message in which the receive ends (hi) if
 * the receive overlaps that message's header: the last message whose
 * header the receive overlaps, the rule of the server's buffer
 * (server/rx.c).  Fds sent apart from a header, with the start of its body,
 * but glued to the header by the kernel in one receive cannot be told from
 * fds sent with it; they go to that message.  Fds that no header can take
 * (a receive inside a body) are a protocol error, EPROTO, as in
 * util/transport.c.  On other transports each header is read on its own,
 * so fds after it are always inside a body.
 *
 * Payloads are never read into the buffer on purpose: what was read ahead
 * is copied out, and the rest goes straight from the transport to where
 * the caller wants it (e.g. guest memory), so the buffer's size bounds the
 * copy and the peer's length fields never size an allocation.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_PROXY_RXBUF_H
#define HW_VFIO_USER_PROXY_RXBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>
#include "vfio-user/protocol.h"
#include "vfio-user/transport.h"

/* Bytes read ahead at most: a few hundred small messages. */
#define VFIO_USER_RXBUF_SIZE 8192
/* Fd sets kept at once (each message has at most one). */
#define VFIO_USER_RXBUF_SETS 4

/* The fds of one receive, and the stream positions [lo, hi) it read. */
typedef struct VFIOUserRxFds {
    uint64_t lo, hi;
    size_t n;
    int fds[VFIO_USER_MAX_FDS];
} VFIOUserRxFds;

typedef struct VFIOUserRxBuf {
    VfioUserTransport *tr; /* not owned */
    bool sock;             /* tr is a socket: fill the whole buffer */
    bool eof;              /* a receive returned end of stream */
    size_t start, end;     /* the unread bytes are buf[start, end) */
    uint64_t pos;          /* stream position of buf[start] */
    size_t nsets;
    VFIOUserRxFds sets[VFIO_USER_RXBUF_SETS];
    uint8_t buf[VFIO_USER_RXBUF_SIZE];
} VFIOUserRxBuf;

typedef enum VFIOUserRxStatus {
    VFIO_USER_RX_DATA, /* bytes came */
    VFIO_USER_RX_EOF,  /* end of stream, nothing came */
    VFIO_USER_RX_NONE, /* nothing yet (MSG_DONTWAIT, or the receive timeout) */
    VFIO_USER_RX_FAIL, /* receive error or bad fds (errp set) */
} VFIOUserRxStatus;

/* Set up @rb (caller-allocated) to read @tr. */
void vfio_user_rxbuf_init(VFIOUserRxBuf *rb, VfioUserTransport *tr);

/* Close the fds still kept; @rb may then be freed. */
void vfio_user_rxbuf_destroy(VFIOUserRxBuf *rb);

/* Bytes read and not yet taken. */
static inline size_t vfio_user_rxbuf_avail(const VFIOUserRxBuf *rb)
{
    return rb->end - rb->start;
}

/* True when a whole header is buffered. */
static inline bool vfio_user_rxbuf_has_hdr(const VFIOUserRxBuf *rb)
{
    return vfio_user_rxbuf_avail(rb) >= sizeof(VFIOUserHdr);
}

/*
 * One receive, only while no whole header is buffered: on a socket, what
 * has arrived, up to the buffer's room; elsewhere the rest of the header.
 * @flags: 0 (blocks; a socket's receive timeout bounds it) or MSG_DONTWAIT.
 */
VFIOUserRxStatus vfio_user_rxbuf_fill(VFIOUserRxBuf *rb, int flags,
                                      GError **errp);

/*
 * Fill until a whole header is buffered, calling @wait when nothing has
 * come (see VfioUserWait; NULL: block in the receive).  End of stream
 * before a byte of it: ECONNRESET "peer closed the connection"; after:
 * EPROTO.
 */
bool vfio_user_rxbuf_need_hdr(VFIOUserRxBuf *rb, const VfioUserWait *wait,
                              GError **errp);

/*
 * Take the buffered header into @hdr, check it as vfio_user_msg_recv_hdr()
 * does (size in [16, @max_msg_size], a known type), and give it the fds it
 * came with: at most @max_fds into @fds (*@nfds set), the rest closed.
 * Fds that came inside a body are EPROTO.  On error no fd is left in @fds.
 */
bool vfio_user_rxbuf_take_hdr(VFIOUserRxBuf *rb, VFIOUserHdr *hdr, int *fds,
                              size_t *nfds, size_t max_fds, size_t max_msg_size,
                              GError **errp);

/*
 * Read @len payload bytes into the front of @iov (any number of pieces):
 * what is buffered, then straight from the transport, waiting with @wait.
 */
bool vfio_user_rxbuf_readv(VFIOUserRxBuf *rb, const struct iovec *iov,
                           int iovcnt, size_t len, const VfioUserWait *wait,
                           GError **errp);

/* Drop @len payload bytes, buffered first, then from the transport. */
bool vfio_user_rxbuf_discard(VFIOUserRxBuf *rb, size_t len,
                             const VfioUserWait *wait, GError **errp);

#endif /* HW_VFIO_USER_PROXY_RXBUF_H */
