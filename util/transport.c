/*
 * Whole-message I/O on AF_UNIX stream sockets with SCM_RIGHTS fds.
 *
 * The stream gives no message boundaries, so every helper here loops until
 * the exact byte count has moved, retrying EINTR.  Fds are only accepted
 * with the first bytes of a header; fds anywhere else are a protocol error.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "trace-events.h"

#define VFIO_USER_MAX_IOV 64

static const char *const cmd_names[VFIO_USER_MAX_COMMAND] = {
    [VFIO_USER_VERSION] = "VERSION",
    [VFIO_USER_DMA_MAP] = "DMA_MAP",
    [VFIO_USER_DMA_UNMAP] = "DMA_UNMAP",
    [VFIO_USER_DEVICE_GET_INFO] = "DEVICE_GET_INFO",
    [VFIO_USER_DEVICE_GET_REGION_INFO] = "DEVICE_GET_REGION_INFO",
    [VFIO_USER_DEVICE_GET_REGION_IO_FDS] = "DEVICE_GET_REGION_IO_FDS",
    [VFIO_USER_DEVICE_GET_IRQ_INFO] = "DEVICE_GET_IRQ_INFO",
    [VFIO_USER_DEVICE_SET_IRQS] = "DEVICE_SET_IRQS",
    [VFIO_USER_REGION_READ] = "REGION_READ",
    [VFIO_USER_REGION_WRITE] = "REGION_WRITE",
    [VFIO_USER_DMA_READ] = "DMA_READ",
    [VFIO_USER_DMA_WRITE] = "DMA_WRITE",
    [VFIO_USER_DEVICE_RESET] = "DEVICE_RESET",
    [VFIO_USER_DIRTY_PAGES] = "DIRTY_PAGES",
    [VFIO_USER_REGION_WRITE_MULTI] = "REGION_WRITE_MULTI",
    [VFIO_USER_DEVICE_FEATURE] = "DEVICE_FEATURE",
    [VFIO_USER_MIG_DATA_READ] = "MIG_DATA_READ",
    [VFIO_USER_MIG_DATA_WRITE] = "MIG_DATA_WRITE",
};

const char *vfio_user_cmd_name(unsigned cmd)
{
    if (cmd < VFIO_USER_MAX_COMMAND && cmd_names[cmd]) {
        return cmd_names[cmd];
    }
    return "UNKNOWN";
}

void vfio_user_close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
}

/* Advance @iov/@iovcnt past @done bytes (modifies the caller's copy). */
static void iov_advance(struct iovec **iov, int *iovcnt, size_t done)
{
    while (*iovcnt > 0 && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        (*iovcnt)--;
    }
    if (*iovcnt > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
    size_t n = 0;

    for (int i = 0; i < iovcnt; i++) {
        n += iov[i].iov_len;
    }
    return n;
}

/* ---- The AF_UNIX socket implementation ---- */

typedef struct SockTransport {
    VfioUserTransport base;
} SockTransport;

static ssize_t sock_send(VfioUserTransport *t, const struct iovec *iov,
                         int iovcnt, const int *fds, size_t nfds, int flags)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * VFIO_USER_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = iovcnt,
    };

    if (!nfds && iovcnt == 1) {
        /* One piece, no fds: send() spares the kernel the msghdr. */
        return send(t->fd, iov[0].iov_base, iov[0].iov_len,
                    MSG_NOSIGNAL | flags);
    }
    if (nfds) {
        struct cmsghdr *cmsg;

        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }
    return sendmsg(t->fd, &msg, MSG_NOSIGNAL | flags);
}

/*
 * Take the SCM_RIGHTS fds a recvmsg() put in @msg into @fds (room for
 * VFIO_USER_MAX_FDS) and return their count; fds beyond that are closed.
 * @truncated says whether any were lost (MSG_CTRUNC or too many).
 */
static size_t cmsg_fds(struct msghdr *msg, int *fds, bool *truncated)
{
    size_t n = 0;

    *truncated = (msg->msg_flags & MSG_CTRUNC) != 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t k;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0)) {
            continue;
        }
        k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
            if (n < VFIO_USER_MAX_FDS) {
                fds[n++] = fd;
            } else {
                close(fd);
                *truncated = true;
            }
        }
    }
    return n;
}

static ssize_t sock_recv(VfioUserTransport *t, struct iovec *iov, int iovcnt,
                         int *fds, size_t *nfds, bool *truncated, int flags)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * VFIO_USER_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {
        .msg_iov = iov,
        .msg_iovlen = iovcnt,
        .msg_control = ctl.buf,
        .msg_controllen = sizeof(ctl.buf),
    };
    ssize_t n = recvmsg(t->fd, &msg, MSG_CMSG_CLOEXEC | flags);

    *nfds = 0;
    *truncated = false;
    if (n < 0) {
        return n;
    }
    *nfds = cmsg_fds(&msg, fds, truncated);
    return n;
}

static void sock_shutdown(VfioUserTransport *t, int how)
{
    shutdown(t->fd, how);
}

static void sock_close(VfioUserTransport *t)
{
    close(t->fd);
    g_free(t);
}

static const VfioUserTransportOps sock_ops = {
    .send = sock_send,
    .recv = sock_recv,
    .shutdown = sock_shutdown,
    .close = sock_close,
};

VfioUserTransport *vfio_user_transport_socket_new(int sock)
{
    SockTransport *st = g_new0(SockTransport, 1);

    st->base.ops = &sock_ops;
    st->base.fd = sock;
    return &st->base;
}

/* The socket API: the same functions on a borrowed socket. */
#define SOCK_TR(sock) (&(VfioUserTransport){.ops = &sock_ops, .fd = (sock)})

/* ---- Messages, on any transport ---- */

static ssize_t tr_send_some(VfioUserTransport *t, const struct iovec *iov,
                            int iovcnt, const int *fds, size_t nfds, int flags,
                            GError **errp)
{
    ssize_t n;

    if (iovcnt < 1 || iovcnt > VFIO_USER_MAX_IOV || nfds > VFIO_USER_MAX_FDS) {
        vfio_user_error_set(errp, EINVAL, "bad message: %d pieces, %zu fds",
                            iovcnt, nfds);
        return -1;
    }
    do {
        n = t->ops->send(t, iov, iovcnt, fds, nfds, flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return 0;
    }
    if (n < 0) {
        vfio_user_error_set(errp, errno, "send failed: %s", g_strerror(errno));
    }
    return n;
}

ssize_t vfio_user_tr_send_some(VfioUserTransport *t, const struct iovec *iov,
                               int iovcnt, const int *fds, size_t nfds,
                               GError **errp)
{
    return tr_send_some(t, iov, iovcnt, fds, nfds, MSG_DONTWAIT, errp);
}

ssize_t vfio_user_tr_send_some_wait(VfioUserTransport *t,
                                    const struct iovec *iov, int iovcnt,
                                    const int *fds, size_t nfds, GError **errp)
{
    return tr_send_some(t, iov, iovcnt, fds, nfds, 0, errp);
}

ssize_t vfio_user_msg_send_some(int sock, const struct iovec *iov, int iovcnt,
                                const int *fds, size_t nfds, GError **errp)
{
    return vfio_user_tr_send_some(SOCK_TR(sock), iov, iovcnt, fds, nfds, errp);
}

void vfio_user_iov_advance(struct iovec **iov, int *iovcnt, size_t done)
{
    iov_advance(iov, iovcnt, done);
}

bool vfio_user_tr_sendv(VfioUserTransport *t, const struct iovec *iov_in,
                        int iovcnt, const int *fds, size_t nfds, GError **errp)
{
    struct iovec iov_buf[VFIO_USER_MAX_IOV];
    struct iovec *iov = iov_buf;
    size_t left;

    if (iovcnt < 1 || iovcnt > VFIO_USER_MAX_IOV) {
        return vfio_user_error_set(errp, EINVAL,
                                   "message has %d pieces (max %d)", iovcnt,
                                   VFIO_USER_MAX_IOV);
    }
    if (nfds > VFIO_USER_MAX_FDS) {
        return vfio_user_error_set(errp, E2BIG,
                                   "%zu fds in one message (max %d)", nfds,
                                   VFIO_USER_MAX_FDS);
    }
    memcpy(iov_buf, iov_in, sizeof(*iov) * iovcnt);
    left = iov_total(iov, iovcnt);
    while (left > 0) {
        ssize_t n = t->ops->send(t, iov, iovcnt, fds, nfds, 0);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return vfio_user_error_set(errp, errno, "send failed: %s",
                                       g_strerror(errno));
        }
        /* The fds went with the first bytes; never send them twice. */
        fds = NULL;
        nfds = 0;
        left -= n;
        iov_advance(&iov, &iovcnt, n);
    }
    return true;
}

bool vfio_user_msg_sendv(int sock, const struct iovec *iov, int iovcnt,
                         const int *fds, size_t nfds, GError **errp)
{
    return vfio_user_tr_sendv(SOCK_TR(sock), iov, iovcnt, fds, nfds, errp);
}

bool vfio_user_tr_send(VfioUserTransport *t, const VFIOUserHdr *hdr,
                       const void *payload, size_t len, const int *fds,
                       size_t nfds, GError **errp)
{
    struct iovec iov[2] = {
        {.iov_base = (void *)hdr, .iov_len = sizeof(*hdr)},
        {.iov_base = (void *)payload, .iov_len = len},
    };

    return vfio_user_tr_sendv(t, iov, len ? 2 : 1, fds, nfds, errp);
}

bool vfio_user_msg_send(int sock, const VFIOUserHdr *hdr, const void *payload,
                        size_t len, const int *fds, size_t nfds, GError **errp)
{
    return vfio_user_tr_send(SOCK_TR(sock), hdr, payload, len, fds, nfds, errp);
}

bool vfio_user_tr_send_error(VfioUserTransport *t, const VFIOUserHdr *req,
                             int errnum, GError **errp)
{
    VFIOUserHdr hdr;

    vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr),
                       VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR);
    hdr.error = errnum;
    return vfio_user_tr_send(t, &hdr, NULL, 0, NULL, 0, errp);
}

bool vfio_user_msg_send_error(int sock, const VFIOUserHdr *req, int errnum,
                              GError **errp)
{
    return vfio_user_tr_send_error(SOCK_TR(sock), req, errnum, errp);
}

/*
 * Keep the fds of one receive in @fds, closing whatever does not fit.
 * Returns false when the control data was truncated (all of them closed).
 */
static bool take_fds(const int *got, size_t ngot, bool truncated, int *fds,
                     size_t *nfds, size_t max_fds, bool accept_fds,
                     size_t *dropped)
{
    for (size_t i = 0; i < ngot; i++) {
        if (!truncated && accept_fds && *nfds < max_fds) {
            fds[(*nfds)++] = got[i];
        } else {
            close(got[i]);
            (*dropped)++;
        }
    }
    return !truncated;
}

/*
 * Read exactly iov-total bytes.  @fds == NULL means no fds are expected
 * here: any that arrive are closed and the read fails with EPROTO.
 * EOF before the first byte of a header is reported as ECONNRESET.
 */
static bool recv_exact(VfioUserTransport *t, struct iovec *iov, int iovcnt,
                       int *fds, size_t *nfds, size_t max_fds,
                       const VfioUserWait *wait, GError **errp)
{
    size_t total = iov_total(iov, iovcnt), got = 0, dropped = 0;
    size_t none = 0;

    while (got < total) {
        int rfds[VFIO_USER_MAX_FDS];
        size_t nr = 0;
        bool trunc = false;
        ssize_t n = t->ops->recv(t, iov, iovcnt, rfds, &nr, &trunc,
                                 wait ? MSG_DONTWAIT : 0);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (wait && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!wait->fn(t->fd, wait->opaque, errp)) {
                    return false;
                }
                continue;
            }
            return vfio_user_error_set(errp, errno, "receive failed: %s",
                                       g_strerror(errno));
        }
        if (!take_fds(rfds, nr, trunc, fds, fds ? nfds : &none,
                      fds ? max_fds : 0, fds != NULL, &dropped)) {
            return vfio_user_error_set(errp, EPROTO,
                                       "file descriptors were truncated");
        }
        if (!fds && dropped) {
            return vfio_user_error_set(
                errp, EPROTO, "file descriptors inside a message body");
        }
        if (n == 0) {
            if (got == 0 && fds) {
                return vfio_user_error_set(errp, ECONNRESET,
                                           "peer closed the connection");
            }
            return vfio_user_error_set(
                errp, EPROTO, "peer closed the connection mid-message");
        }
        got += n;
        iov_advance(&iov, &iovcnt, n);
    }
    if (dropped) {
        trace_transport_fds_dropped(dropped);
    }
    return true;
}

bool vfio_user_msg_recv_hdr(int sock, VFIOUserHdr *hdr, int *fds, size_t *nfds,
                            size_t max_fds, size_t max_msg_size, GError **errp)
{
    return vfio_user_tr_recv_hdr_wait(SOCK_TR(sock), hdr, fds, nfds, max_fds,
                                      max_msg_size, NULL, errp);
}

bool vfio_user_msg_recv_hdr_wait(int sock, VFIOUserHdr *hdr, int *fds,
                                 size_t *nfds, size_t max_fds,
                                 size_t max_msg_size, const VfioUserWait *wait,
                                 GError **errp)
{
    return vfio_user_tr_recv_hdr_wait(SOCK_TR(sock), hdr, fds, nfds, max_fds,
                                      max_msg_size, wait, errp);
}

bool vfio_user_tr_recv_hdr_wait(VfioUserTransport *t, VFIOUserHdr *hdr,
                                int *fds, size_t *nfds, size_t max_fds,
                                size_t max_msg_size, const VfioUserWait *wait,
                                GError **errp)
{
    struct iovec iov = {.iov_base = hdr, .iov_len = sizeof(*hdr)};
    int dummy[1];
    unsigned type;

    *nfds = 0;
    if (!fds) {
        fds = dummy;
        max_fds = 0;
    }
    if (max_fds > VFIO_USER_MAX_FDS) {
        max_fds = VFIO_USER_MAX_FDS;
    }
    if (!recv_exact(t, &iov, 1, fds, nfds, max_fds, wait, errp)) {
        vfio_user_close_fds(fds, *nfds);
        *nfds = 0;
        return false;
    }
    type = hdr->flags & VFIO_USER_F_TYPE_MASK;
    if (hdr->size < sizeof(*hdr) || hdr->size > max_msg_size ||
        type > VFIO_USER_F_TYPE_REPLY) {
        vfio_user_close_fds(fds, *nfds);
        *nfds = 0;
        if (type > VFIO_USER_F_TYPE_REPLY) {
            return vfio_user_error_set(
                errp, EPROTO, "message %u (%s) has unknown type %u", hdr->id,
                vfio_user_cmd_name(hdr->cmd), type);
        }
        return vfio_user_error_set(
            errp, EPROTO, "message %u (%s) has size %u, outside [%zu, %zu]",
            hdr->id, vfio_user_cmd_name(hdr->cmd), hdr->size, sizeof(*hdr),
            max_msg_size);
    }
    return true;
}

bool vfio_user_msg_recv_bodyv(int sock, struct iovec *iov, int iovcnt,
                              GError **errp)
{
    return vfio_user_tr_recv_bodyv_wait(SOCK_TR(sock), iov, iovcnt, NULL, errp);
}

bool vfio_user_msg_recv_bodyv_wait(int sock, struct iovec *iov, int iovcnt,
                                   const VfioUserWait *wait, GError **errp)
{
    return vfio_user_tr_recv_bodyv_wait(SOCK_TR(sock), iov, iovcnt, wait, errp);
}

bool vfio_user_tr_recv_bodyv_wait(VfioUserTransport *t, struct iovec *iov_in,
                                  int iovcnt, const VfioUserWait *wait,
                                  GError **errp)
{
    struct iovec iov[VFIO_USER_MAX_IOV];

    if (iovcnt > VFIO_USER_MAX_IOV) {
        return vfio_user_error_set(errp, EINVAL, "too many receive buffers");
    }
    if (iovcnt == 0 || iov_total(iov_in, iovcnt) == 0) {
        return true;
    }
    memcpy(iov, iov_in, sizeof(*iov) * iovcnt);
    return recv_exact(t, iov, iovcnt, NULL, NULL, 0, wait, errp);
}

bool vfio_user_msg_recv_body(int sock, void *buf, size_t len, GError **errp)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};

    return vfio_user_msg_recv_bodyv(sock, &iov, 1, errp);
}

bool vfio_user_msg_discard(int sock, size_t len, GError **errp)
{
    return vfio_user_tr_discard_wait(SOCK_TR(sock), len, NULL, errp);
}

bool vfio_user_msg_discard_wait(int sock, size_t len, const VfioUserWait *wait,
                                GError **errp)
{
    return vfio_user_tr_discard_wait(SOCK_TR(sock), len, wait, errp);
}

bool vfio_user_tr_discard_wait(VfioUserTransport *t, size_t len,
                               const VfioUserWait *wait, GError **errp)
{
    char sink[4096];

    while (len > 0) {
        size_t n = MIN(len, sizeof(sink));
        struct iovec iov = {.iov_base = sink, .iov_len = n};

        if (!vfio_user_tr_recv_bodyv_wait(t, &iov, 1, wait, errp)) {
            return false;
        }
        len -= n;
    }
    return true;
}
