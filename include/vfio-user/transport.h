/*
 * Message transport: AF_UNIX stream sockets with fds in SCM_RIGHTS, or an
 * in-memory pair, behind one ops table.
 *
 * Both sides (client proxy and server library) move whole vfio-user
 * messages with these calls.  They hide partial reads and writes and EINTR,
 * receive fds close-on-exec, never leak an fd (extra or unexpected fds are
 * closed), and check a header before anything is allocated for the body.
 *
 * A message is received in two steps so that a caller can decide where the
 * payload goes (e.g. straight into guest memory) after seeing the header:
 *     vfio_user_msg_recv_hdr()  -> header + the fds that came with it
 *     vfio_user_msg_recv_body() / vfio_user_msg_recv_bodyv() /
 * vfio_user_msg_discard()
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VFIO_USER_TRANSPORT_H
#define VFIO_USER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <glib.h>
#include "vfio-user/protocol.h"

/* Hard ceiling on fds per message, whatever a peer negotiates. */
#define VFIO_USER_MAX_FDS 64

/*
 * The transport seam: every function below moves bytes and fds through
 * the ops of a VfioUserTransport.  Two implementations: an AF_UNIX stream
 * socket (SCM_RIGHTS), which the functions taking an "int sock" use, and
 * an in-memory pair (util/transport-mem.c) for tests and fuzzers, which
 * runs a client and a server in one thread without a system call per
 * message.  Both keep the socket's stream semantics: no message
 * boundaries, fds attached to the first byte of the send that carried
 * them, and a receive that returns fds ends at the end of that send.
 */
typedef struct VfioUserTransport VfioUserTransport;

typedef struct VfioUserTransportOps {
    /*
     * Send as much of @iov as goes, with @fds on its first byte (the
     * receiver gets copies; the caller keeps its own).  @flags:
     * MSG_DONTWAIT or 0.  Bytes sent, or -1 with errno (EAGAIN: full).
     */
    ssize_t (*send)(VfioUserTransport *t, const struct iovec *iov, int iovcnt,
                    const int *fds, size_t nfds, int flags);
    /*
     * Receive into @iov: bytes read, 0 at end of stream, -1 with errno
     * (EAGAIN: nothing yet, with MSG_DONTWAIT or after a receive timeout).
     * Fds that came are stored (close-on-exec) in @fds, room for
     * VFIO_USER_MAX_FDS, *@nfds set; *@truncated when some were lost.
     */
    ssize_t (*recv)(VfioUserTransport *t, struct iovec *iov, int iovcnt,
                    int *fds, size_t *nfds, bool *truncated, int flags);
    /* shutdown(2): SHUT_RD ends a blocked or later receive with EOF. */
    void (*shutdown)(VfioUserTransport *t, int how);
    /* Close and free the transport. */
    void (*close)(VfioUserTransport *t);
} VfioUserTransportOps;

struct VfioUserTransport {
    const VfioUserTransportOps *ops;
    /* poll() it: POLLIN when a receive would not wait, POLLOUT for room */
    int fd;
};

/* A heap socket transport that owns @sock (closed by its close op). */
VfioUserTransport *vfio_user_transport_socket_new(int sock);

/*
 * Two connected in-memory ends: what one sends the other receives.
 * Unbounded (a send never waits), thread-safe (a blocking receive waits
 * for the peer), fds passed as duplicates.  Each end's fd is an eventfd
 * that polls readable while that end has something to receive (or EOF).
 * Closing one end is end of stream for the other; a send to a closed
 * peer fails with EPIPE.
 */
bool vfio_user_transport_mem_pair(VfioUserTransport *ends[2], GError **errp);

static inline void vfio_user_transport_close(VfioUserTransport *t)
{
    if (t) {
        t->ops->close(t);
    }
}

/* The message functions below, on any transport. */
bool vfio_user_tr_sendv(VfioUserTransport *t, const struct iovec *iov,
                        int iovcnt, const int *fds, size_t nfds, GError **errp);
ssize_t vfio_user_tr_send_some(VfioUserTransport *t, const struct iovec *iov,
                               int iovcnt, const int *fds, size_t nfds,
                               GError **errp);
/*
 * The same, but a send that finds the socket full waits for room, up to
 * the socket's send timeout (SO_SNDTIMEO), which the caller must have set.
 */
ssize_t vfio_user_tr_send_some_wait(VfioUserTransport *t,
                                    const struct iovec *iov, int iovcnt,
                                    const int *fds, size_t nfds, GError **errp);
bool vfio_user_tr_send(VfioUserTransport *t, const VFIOUserHdr *hdr,
                       const void *payload, size_t len, const int *fds,
                       size_t nfds, GError **errp);
bool vfio_user_tr_send_error(VfioUserTransport *t, const VFIOUserHdr *req,
                             int errnum, GError **errp);

/*
 * Send one message: @iov holds the header and payload (the header's size
 * field must equal the iov total).  @fds go with the first byte.  Loops over
 * short writes and EINTR; MSG_NOSIGNAL, so a dead peer is EPIPE, not SIGPIPE.
 */
bool vfio_user_msg_sendv(int sock, const struct iovec *iov, int iovcnt,
                         const int *fds, size_t nfds, GError **errp);

/*
 * Non-blocking: send as much of @iov as the socket takes now
 * (MSG_DONTWAIT), with @fds on the first byte.  Returns the bytes sent,
 * 0 when the socket is full (nothing sent, fds not sent either), or -1
 * with @errp set.  The caller advances its iov (vfio_user_iov_advance()) and
 * passes the fds only until a call has sent a byte.
 */
ssize_t vfio_user_msg_send_some(int sock, const struct iovec *iov, int iovcnt,
                                const int *fds, size_t nfds, GError **errp);
/* Skip @done bytes of *@iov / *@iovcnt (adjusts the caller's array). */
void vfio_user_iov_advance(struct iovec **iov, int *iovcnt, size_t done);

/*
 * For the _wait receive variants: the socket is read with MSG_DONTWAIT
 * and, whenever it has nothing, @fn is called to wait until it may have
 * something; @fn returns false (with @errp set) to give up, e.g. when the
 * message's deadline has passed.  This is how a reader bounds a whole
 * message rather than each system call.
 */
typedef struct VfioUserWait {
    bool (*fn)(int sock, void *opaque, GError **errp);
    void *opaque;
} VfioUserWait;

bool vfio_user_tr_recv_hdr_wait(VfioUserTransport *t, VFIOUserHdr *hdr,
                                int *fds, size_t *nfds, size_t max_fds,
                                size_t max_msg_size, const VfioUserWait *wait,
                                GError **errp);
bool vfio_user_tr_recv_bodyv_wait(VfioUserTransport *t, struct iovec *iov,
                                  int iovcnt, const VfioUserWait *wait,
                                  GError **errp);
bool vfio_user_tr_discard_wait(VfioUserTransport *t, size_t len,
                               const VfioUserWait *wait, GError **errp);

bool vfio_user_msg_recv_hdr_wait(int sock, VFIOUserHdr *hdr, int *fds,
                                 size_t *nfds, size_t max_fds,
                                 size_t max_msg_size, const VfioUserWait *wait,
                                 GError **errp);
bool vfio_user_msg_recv_bodyv_wait(int sock, struct iovec *iov, int iovcnt,
                                   const VfioUserWait *wait, GError **errp);
bool vfio_user_msg_discard_wait(int sock, size_t len, const VfioUserWait *wait,
                                GError **errp);

/* Convenience: header + one payload buffer (may be NULL/0). */
bool vfio_user_msg_send(int sock, const VFIOUserHdr *hdr, const void *payload,
                        size_t len, const int *fds, size_t nfds, GError **errp);

/*
 * Receive exactly one header, plus the fds sent with it.  At most @max_fds
 * fds are stored in @fds (*@nfds set); any beyond are closed, and so is
 * everything when the control data was truncated (MSG_CTRUNC is an error).
 * End of stream before the first byte: error code ECONNRESET with message
 * "peer closed the connection"; in the middle of a header: EPROTO.
 * The header is then checked: size >= 16, size <= @max_msg_size, a known
 * message type.  On any error no fd is left open.
 */
bool vfio_user_msg_recv_hdr(int sock, VFIOUserHdr *hdr, int *fds, size_t *nfds,
                            size_t max_fds, size_t max_msg_size, GError **errp);

/* Receive exactly @len payload bytes.  Fds arriving here are closed (EPROTO).
 */
bool vfio_user_msg_recv_body(int sock, void *buf, size_t len, GError **errp);
bool vfio_user_msg_recv_bodyv(int sock, struct iovec *iov, int iovcnt,
                              GError **errp);

/* Read and drop @len payload bytes (bounded stack buffer, no allocation). */
bool vfio_user_msg_discard(int sock, size_t len, GError **errp);

/* Fill in a header. */
static inline void vfio_user_hdr_init(VFIOUserHdr *hdr, uint16_t id,
                                      uint16_t cmd, uint32_t size,
                                      uint32_t flags)
{
    hdr->id = id;
    hdr->cmd = cmd;
    hdr->size = size;
    hdr->flags = flags;
    hdr->error = 0;
}

static inline bool vfio_user_hdr_is_reply(const VFIOUserHdr *hdr)
{
    return (hdr->flags & VFIO_USER_F_TYPE_MASK) == VFIO_USER_F_TYPE_REPLY;
}

/* Send a header-only error reply to request @req with @errnum. */
bool vfio_user_msg_send_error(int sock, const VFIOUserHdr *req, int errnum,
                              GError **errp);

/* Close @n fds in @fds (skipping -1 entries) and set them to -1. */
void vfio_user_close_fds(int *fds, size_t n);

/* Name of a command for logs ("DMA_MAP"), "UNKNOWN" if out of range. */
const char *vfio_user_cmd_name(unsigned cmd);

#endif /* VFIO_USER_TRANSPORT_H */
