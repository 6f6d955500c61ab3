/*
 * libvfio-user-server core: lifetime, listening socket, request dispatch
 * and VERSION negotiation; the serving loop is in serve.c.
 *
 * Requests that arrive while the server waits for the reply to one of its
 * own requests (DMA_READ/DMA_WRITE issued from a device callback, or from a
 * device thread) are read whole and queued (request.c); the loop handles
 * them after the current handler returns, in arrival order.  This keeps one
 * reader of the socket at a time and never runs a handler inside another
 * handler.
 *
 * Hot path: the connection is read through a per-connection buffer (rx.c):
 * one recvmsg() takes a request with its payload, or a whole run of posted
 * writes; replies are built in another buffer, the header in front, and
 * sent with one sendmsg() of one piece, so steady REGION_* traffic
 * allocates nothing.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "internal.h"
#include "trace-events.h"

size_t vus_server_max_msg_size(VusServer *srv)
{
    /* What we receive is bounded by our own offer, not the peer's. */
    uint64_t xfer = MIN(srv->opts.caps.max_data_xfer_size,
                        (uint64_t)VFIO_USER_CAPS_MAX_XFER);

    /* Header + the largest fixed part (DMA/region rw) + data. */
    return sizeof(VFIOUserHdr) + sizeof(VFIOUserDMARW) + MAX(xfer, 65536);
}

void vus_server_wake(VusServer *srv)
{
    uint64_t one = 1;

    if (write(srv->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        vus_warn("cannot wake the server loop: %s", g_strerror(errno));
    }
}

void vus_server_drain_wake(VusServer *srv)
{
    uint64_t v;

    if (read(srv->wake_fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: another waiter drained it first */
    }
}

/*
 * End the serving loop's blocking read, if it is in one.  The callers set
 * "stopping" (atomic) or "broken" (under the lock) first, and the loop
 * sets reader_blocked before it checks both: one of the two sides sees
 * the other's store (sequentially consistent atomics, or the lock).
 * sock_lock keeps the transport from being closed under shutdown().
 */
static void kick_reader(VusServer *srv)
{
    if (!g_atomic_int_get(&srv->reader_blocked)) {
        return;
    }
    g_mutex_lock(&srv->sock_lock);
    if (srv->tr) {
        srv->tr->ops->shutdown(srv->tr, SHUT_RD);
    }
    g_mutex_unlock(&srv->sock_lock);
}

void vus_server_mark_broken(VusServer *srv, GError *err)
{
    if (!srv->broken) {
        srv->broken = true;
        srv->broken_err = err;
        /* A device thread may have found it: end the loop. */
        vus_server_wake(srv);
        kick_reader(srv);
    } else {
        g_error_free(err);
    }
}

static bool check_stale_socket(const struct sockaddr_un *sa, GError **errp)
{
    struct stat st;
    int fd;

    if (lstat(sa->sun_path, &st) < 0) {
        return true;
    }
    if (!S_ISSOCK(st.st_mode)) {
        return vfio_user_error_set(
            errp, EEXIST, "%s exists and is not a socket", sa->sun_path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return vfio_user_error_set(errp, errno, "socket: %s",
                                   g_strerror(errno));
    }
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
        close(fd);
        return vfio_user_error_set(errp, EADDRINUSE,
                                   "%s: another server is listening there",
                                   sa->sun_path);
    }
    close(fd);
    if (unlink(sa->sun_path) < 0 && errno != ENOENT) {
        return vfio_user_error_set(errp, errno,
                                   "cannot remove stale socket %s: %s",
                                   sa->sun_path, g_strerror(errno));
    }
    return true;
}

static bool server_listen(VusServer *srv, const char *path, GError **errp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof(sa.sun_path)) {
        return vfio_user_error_set(errp, ENAMETOOLONG,
                                   "socket path too long: %s", path);
    }
    strcpy(sa.sun_path, path);
    if (!check_stale_socket(&sa, errp)) {
        return false;
    }
    srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv->listen_fd < 0) {
        return vfio_user_error_set(errp, errno, "socket: %s",
                                   g_strerror(errno));
    }
    if (bind(srv->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(srv->listen_fd, 4) < 0) {
        return vfio_user_error_set(errp, errno, "cannot listen on %s: %s", path,
                                   g_strerror(errno));
    }
    srv->socket_path = g_strdup(path);
    trace_server_listening(path);
    return true;
}

VusServer *vus_server_new(const char *socket_path, const VusServerOptions *opts,
                          GError **errp)
{
    VusServer *srv;

    if (opts && opts->dma_msg_window > VUS_SERVER_MAX_DMA_MSG_WINDOW) {
        vfio_user_error_set(
            errp, EINVAL, "dma_msg_window %u is above the maximum, %u",
            opts->dma_msg_window, VUS_SERVER_MAX_DMA_MSG_WINDOW);
        return NULL;
    }
    srv = g_new0(VusServer, 1);
    g_rec_mutex_init(&srv->lock);
    g_mutex_init(&srv->sock_lock);
    srv->listen_fd = -1;
    srv->sock = -1;
    if (opts) {
        srv->opts = *opts;
    }
    if (!srv->opts.dma_timeout_ms) {
        srv->opts.dma_timeout_ms = VUS_SERVER_DEF_DMA_TIMEOUT_MS;
    }
    if (!srv->opts.caps.max_data_xfer_size) {
        vfio_user_caps_init_ours(&srv->opts.caps);
    }
    if (!srv->opts.dma_msg_window) {
        srv->opts.dma_msg_window = VUS_SERVER_DEF_DMA_MSG_WINDOW;
    }
    vus_pending_init(srv);
    vus_regions_init(srv);
    vus_dma_init(srv);
    srv->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (srv->wake_fd < 0) {
        vfio_user_error_set(errp, errno, "eventfd: %s", g_strerror(errno));
        vus_server_free(srv);
        return NULL;
    }
    if (socket_path && !server_listen(srv, socket_path, errp)) {
        vus_server_free(srv);
        return NULL;
    }
    return srv;
}

/*
 * A client that stops in the middle of a message (or stops reading our
 * replies) would hold the server, and its lock, forever: socket timeouts of
 * dma_timeout_ms turn that into an error that drops the connection.  Waits
 * between messages are not limited: the receive timeout is on only while
 * a read inside a message may wait (vus_rx_set_timeout()).
 */
static void set_send_timeout(VusServer *srv, int sock)
{
    struct timeval tv = {
        .tv_sec = srv->opts.dma_timeout_ms / 1000,
        .tv_usec = (srv->opts.dma_timeout_ms % 1000) * 1000,
    };

    if (setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
        trace_server_sockopt_failed(g_strerror(errno));
    }
}

static bool attach(VusServer *srv, VfioUserTransport *tr, bool timeouts,
                   GError **errp)
{
    g_rec_mutex_lock(&srv->lock);
    if (srv->tr) {
        g_rec_mutex_unlock(&srv->lock);
        vfio_user_transport_close(tr);
        return vfio_user_error_set(errp, EBUSY,
                                   "a client is already connected");
    }
    srv->tr = tr;
    srv->sock = tr->fd;
    srv->rcv_timeout = timeouts;
    srv->rcv_timeout_on = false;
    srv->negotiated = false;
    srv->broken = false;
    g_clear_error(&srv->broken_err);
    g_rec_mutex_unlock(&srv->lock);
    return true;
}

bool vus_server_attach(VusServer *srv, int sock, GError **errp)
{
    set_send_timeout(srv, sock);
    return attach(srv, vfio_user_transport_socket_new(sock), true, errp);
}

bool vus_server_attach_transport(VusServer *srv, VfioUserTransport *tr,
                                 GError **errp)
{
    return attach(srv, tr, false, errp);
}

bool vus_server_listen_fd(VusServer *srv, int fd, GError **errp)
{
    int on = 0;
    socklen_t len = sizeof(on);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0) {
        return vfio_user_error_set(errp, errno, "fd %d: %s", fd,
                                   g_strerror(errno));
    }
    if (!on) {
        return vfio_user_error_set(errp, EINVAL,
                                   "fd %d is not a listening socket", fd);
    }
    if (srv->listen_fd >= 0) {
        return vfio_user_error_set(errp, EBUSY, "server already listens");
    }
    srv->listen_fd = fd;
    return true;
}

/* Wait for and accept one connection: 1 got *@fd, 0 again, -1 error. */
static int server_accept_one(VusServer *srv, int *fd, GError **errp)
{
    struct pollfd pfd[2] = {
        {.fd = srv->listen_fd, .events = POLLIN},
        {.fd = srv->wake_fd, .events = POLLIN},
    };

    if (g_atomic_int_get(&srv->stopping)) {
        vfio_user_error_set(errp, ECANCELED, "server stopped");
        return -1;
    }
    *fd = vus_admission_take_next(srv); /* came as the last one left */
    if (*fd >= 0) {
        return 1;
    }
    if (poll(pfd, 2, -1) < 0) {
        if (errno == EINTR) {
            return 0;
        }
        vfio_user_error_set(errp, errno, "poll: %s", g_strerror(errno));
        return -1;
    }
    if (pfd[1].revents) {
        vus_server_drain_wake(
            srv); /* a stop, or left over from the last client */
    }
    if (!(pfd[0].revents & POLLIN)) {
        return 0;
    }
    *fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (*fd >= 0) {
        return 1;
    }
    if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        vfio_user_error_set(errp, errno, "accept: %s", g_strerror(errno));
        return -1;
    }
    return 0;
}

bool vus_server_accept(VusServer *srv, GError **errp)
{
    int fd, r;

    if (srv->listen_fd < 0) {
        return vfio_user_error_set(errp, EINVAL,
                                   "server has no listening socket");
    }
    for (;;) {
        r = server_accept_one(srv, &fd, errp);
        if (r < 0) {
            return false;
        }
        if (r == 0) {
            continue;
        }
        trace_server_connected(srv->socket_path ? srv->socket_path
                                                : "passed fd");
        /* Others are refused from now on; this one must speak soon. */
        vus_admission_start(srv, fd);
        if (vus_admission_wait_first(srv, fd)) {
            return vus_server_attach(srv, fd, errp);
        }
        vus_admission_stop(srv);
        close(fd);
    }
}

void vus_server_stop(VusServer *srv)
{
    g_atomic_int_set(&srv->stopping, 1);
    vus_server_wake(srv);
    kick_reader(srv);
}

static void server_disconnect(VusServer *srv)
{
    vus_admission_stop(srv);
    vus_dma_unmap_all(srv);
    vus_irqs_disconnect(srv);
    vus_regions_disconnect(srv);
    vus_pending_clear(srv);
    vus_rx_reset(srv);
    g_clear_pointer(&srv->tx_buf, g_free);
    srv->tx_cap = 0;
    if (srv->tr) {
        g_mutex_lock(&srv->sock_lock);
        vfio_user_transport_close(srv->tr);
        srv->tr = NULL;
        srv->sock = -1;
        g_mutex_unlock(&srv->sock_lock);
        if (srv->negotiated && srv->ops.disconnected) {
            srv->ops.disconnected(srv->ops_opaque);
        }
    }
    srv->negotiated = false;
}

void vus_server_free(VusServer *srv)
{
    if (!srv) {
        return;
    }
    g_rec_mutex_lock(&srv->lock);
    server_disconnect(srv);
    vus_regions_cleanup(srv);
    vus_irqs_cleanup(srv);
    vus_pci_config_free(srv->pci);
    g_array_unref(srv->maps);
    vus_pending_free(srv);
    g_clear_error(&srv->broken_err);
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        if (srv->socket_path) { /* a passed socket is not ours to unlink */
            unlink(srv->socket_path);
        }
    }
    if (srv->wake_fd >= 0) {
        close(srv->wake_fd);
    }
    g_free(srv->socket_path);
    g_rec_mutex_unlock(&srv->lock);
    g_rec_mutex_clear(&srv->lock);
    g_mutex_clear(&srv->sock_lock);
    g_free(srv);
}

const VFIOUserCaps *vus_server_caps(VusServer *srv)
{
    return srv->negotiated ? &srv->caps : NULL;
}

void vus_server_set_device_ops(VusServer *srv, const VusDeviceOps *ops,
                               void *opaque)
{
    g_rec_mutex_lock(&srv->lock);
    srv->ops = *ops;
    srv->ops_opaque = opaque;
    g_rec_mutex_unlock(&srv->lock);
}

/*
 * The reply buffer keeps room for the header in front of the payload, so
 * that a reply built there goes out as one piece: a sendmsg() of one iovec
 * costs measurably less than of two.
 */
void *vus_server_reply_buf(VusServer *srv, size_t len)
{
    size_t cap = vus_server_max_msg_size(srv);

    g_assert(len <= cap - sizeof(VFIOUserHdr));
    if (srv->tx_cap < cap) {
        g_free(srv->tx_buf);
        srv->tx_buf = g_malloc(cap);
        srv->tx_cap = cap;
    }
    return srv->tx_buf + sizeof(VFIOUserHdr);
}

/* Send the reply to @req: header @hdr, the payload and fds of @r. */
static bool send_reply(VusServer *srv, VFIOUserHdr *hdr, const VusReply *r,
                       GError **errp)
{
    struct iovec iov;

    if (!r->len || !srv->tx_buf || r->payload != srv->tx_buf + sizeof(*hdr)) {
        return vfio_user_tr_send(srv->tr, hdr, r->payload, r->len, r->fds,
                                 r->nfds, errp);
    }
    memcpy(srv->tx_buf, hdr, sizeof(*hdr));
    iov = (struct iovec){.iov_base = srv->tx_buf, .iov_len = hdr->size};
    return vfio_user_tr_sendv(srv->tr, &iov, 1, r->fds, r->nfds, errp);
}

static int handle_version(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    g_autoptr(GError) err = NULL;
    VFIOUserCaps theirs, merged, answer;
    g_autofree char *desc = NULL;

    if (srv->negotiated) {
        trace_server_version_twice();
        return EINVAL;
    }
    if (!vfio_user_caps_parse_version(msg->payload, msg->len, &theirs, &err) ||
        !vfio_user_caps_merge(&srv->opts.caps, &theirs, &merged, &err)) {
        trace_server_version_rejected(err->message);
        vus_server_mark_broken(srv, g_steal_pointer(&err));
        return EINVAL;
    }
    /* Optional features: only those the client proposed (the spec). */
    answer = srv->opts.caps;
    answer.minor = merged.minor;
    answer.write_multiple = merged.write_multiple;
    answer.posted_errors = merged.posted_errors;
    r->payload = vfio_user_caps_build_version(&answer, &r->len);
    srv->caps = merged;
    srv->negotiated = true;
    desc = vfio_user_caps_describe(&merged);
    trace_server_negotiated(desc);
    if (srv->ops.connected) {
        srv->ops.connected(srv->ops_opaque);
    }
    return 0;
}

static int handle_unsupported(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    (void)srv;
    (void)r;
    trace_server_unsupported(vfio_user_cmd_name(msg->hdr.cmd));
    return ENOTSUP;
}

static int handle_wrong_direction(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    (void)srv;
    (void)r;
    trace_server_request_from_client(vfio_user_cmd_name(msg->hdr.cmd));
    return EINVAL;
}

static int handle_reset(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    int ret = 0;

    (void)r;
    if (msg->len != 0) {
        return EINVAL;
    }
    if (srv->pci) {
        vus_pci_config_reset(srv->pci);
    }
    if (srv->ops.reset) {
        ret = srv->ops.reset(srv->ops_opaque);
    }
    if (srv->pci) { /* the device may keep INTx up across its reset */
        vus_pci_config_set_intx_status(
            srv->pci, srv->irqs[VFIO_PCI_INTX_IRQ_INDEX].level);
    }
    trace_server_reset(ret ? g_strerror(-ret) : "done");
    return ret < 0 ? -ret : (ret ? EIO : 0);
}

static const VusHandler handlers[VFIO_USER_MAX_COMMAND] = {
    [VFIO_USER_VERSION] = handle_version,
    [VFIO_USER_DMA_MAP] = vus_handle_dma_map,
    [VFIO_USER_DMA_UNMAP] = vus_handle_dma_unmap,
    [VFIO_USER_DEVICE_GET_INFO] = vus_handle_device_get_info,
    [VFIO_USER_DEVICE_GET_REGION_INFO] = vus_handle_region_info,
    [VFIO_USER_DEVICE_GET_REGION_IO_FDS] = vus_handle_region_io_fds,
    [VFIO_USER_DEVICE_GET_IRQ_INFO] = vus_handle_irq_info,
    [VFIO_USER_DEVICE_SET_IRQS] = vus_handle_set_irqs,
    [VFIO_USER_REGION_READ] = vus_handle_region_read,
    [VFIO_USER_REGION_WRITE] = vus_handle_region_write,
    [VFIO_USER_DMA_READ] = handle_wrong_direction,
    [VFIO_USER_DMA_WRITE] = handle_wrong_direction,
    [VFIO_USER_DEVICE_RESET] = handle_reset,
    [VFIO_USER_DIRTY_PAGES] = handle_unsupported,
    [VFIO_USER_REGION_WRITE_MULTI] = vus_handle_region_write_multi,
    [VFIO_USER_DEVICE_FEATURE] = handle_unsupported,
    [VFIO_USER_MIG_DATA_READ] = handle_unsupported,
    [VFIO_USER_MIG_DATA_WRITE] = handle_unsupported,
};

static int dispatch(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    uint16_t cmd = msg->hdr.cmd;

    if (!srv->negotiated && cmd != VFIO_USER_VERSION) {
        vus_server_mark_broken(srv, g_error_new(VFIO_USER_ERROR, EPROTO,
                                                "%s before VERSION",
                                                vfio_user_cmd_name(cmd)));
        return EINVAL;
    }
    if (msg->nfds > srv->opts.caps.max_msg_fds) {
        trace_server_too_many_fds(vfio_user_cmd_name(cmd), msg->nfds,
                                  srv->opts.caps.max_msg_fds);
        return EINVAL;
    }
    if (cmd >= VFIO_USER_MAX_COMMAND || !handlers[cmd]) {
        trace_server_unknown_cmd(cmd);
        return ENOSYS;
    }
    return handlers[cmd](srv, msg, r);
}

/*
 * Handle one request and answer it.  Requests with the no-reply flag get
 * no reply on success, and an error reply on failure only when the client
 * asked for that with "x-vfu-posted-errors" (our extension).
 */
void vus_server_handle(VusServer *srv, VfioUserMsg *msg)
{
    VusReply r;
    VFIOUserHdr hdr;
    GError *err = NULL;
    int ret;

    /* Not the fd array: per message, handlers set fds[0..nfds) only. */
    r.payload = NULL;
    r.len = 0;
    r.nfds = 0;
    trace_server_recv(vfio_user_cmd_name(msg->hdr.cmd), msg->hdr.id,
                      msg->hdr.size, msg->nfds);
    ret = dispatch(srv, msg, &r);
    vfio_user_close_fds(msg->fds, msg->nfds);
    if (ret) {
        trace_server_reply_error(vfio_user_cmd_name(msg->hdr.cmd), msg->hdr.id,
                                 ret, g_strerror(ret));
        if ((msg->hdr.flags & VFIO_USER_F_NO_REPLY) &&
            !srv->caps.posted_errors) {
            /* The client did not ask for error replies to posted ones. */
        } else if (srv->tr &&
                   !vfio_user_tr_send_error(srv->tr, &msg->hdr, ret, &err)) {
            vus_server_mark_broken(srv, err);
        }
    } else if (!(msg->hdr.flags & VFIO_USER_F_NO_REPLY) && srv->tr) {
        vfio_user_hdr_init(&hdr, msg->hdr.id, msg->hdr.cmd, sizeof(hdr) + r.len,
                           VFIO_USER_F_TYPE_REPLY);
        if (!send_reply(srv, &hdr, &r, &err)) {
            vus_server_mark_broken(srv, err);
        }
    }
    if (!srv->tx_buf || r.payload != srv->tx_buf + sizeof(hdr)) {
        g_free(r.payload);
    }
}

bool vus_server_run(VusServer *srv, GError **errp)
{
    bool ok;

    g_rec_mutex_lock(&srv->lock);
    if (srv->sock < 0) {
        g_rec_mutex_unlock(&srv->lock);
        return vfio_user_error_set(errp, ENOTCONN, "no client connected");
    }
    vus_serve_loop(srv);
    ok = !srv->broken_err || srv->broken_err->code == ECONNRESET;
    if (srv->broken_err) {
        trace_server_client_gone(srv->broken_err->message);
        if (!ok) {
            g_propagate_error(errp, g_steal_pointer(&srv->broken_err));
        }
    }
    g_clear_error(&srv->broken_err);
    server_disconnect(srv);
    srv->broken = false;
    g_rec_mutex_unlock(&srv->lock);
    return ok;
}
