/*
 * virtio-net: the libslirp backend and the device thread.
 *
 * One thread per device polls slirp's sockets, slirp's timers and an
 * eventfd that the transport writes on every kick or reset, and does all
 * the queue work: guest frames from the transmit queue go to slirp_input()
 * (after vnet_frame_allowed()), frames slirp sends go into buffers of the
 * receive queue, or wait in a short backlog until the driver adds some.
 * Every byte of guest memory is reached through vus_dma_read() and
 * vus_dma_write() or their vectored forms (a chain's buffers, a used
 * element with its index: one call), so the device works in every DMA
 * access mode.
 *
 * The network (QEMU's -netdev user defaults): 10.0.2.0/24, host 10.0.2.2
 * (slirp connects to it on the host's 127.0.0.1), DHCP from 10.0.2.15, no
 * DNS (slirp's DNS forwarding is off), no IPv6.  Nothing leaves for other
 * addresses: the transmit path drops it (tx_filtered).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <slirp/libslirp.h>
#include "vfio-user/error.h"
#include "virtio-net.h"

#define VNET_MAX_HOSTFWD 8
#define VNET_RX_BACKLOG 256
#define VNET_TX_BURST 256 /* chains per pass, so that rx gets its turn */

typedef struct VnetHostFwd {
    bool udp;
    struct in_addr host_addr;
    int host_port;
    struct in_addr guest_addr;
    int guest_port;
} VnetHostFwd;

typedef struct VnetTimer {
    SlirpTimerId id;
    void *cb_opaque;
    int64_t expire_ms; /* -1: not armed */
} VnetTimer;

struct VnetBackend {
    VnetHostFwd fwd[VNET_MAX_HOSTFWD];
    unsigned nr_fwd;

    VnetDevice *dev;
    Slirp *slirp;
    GThread *thread;
    int wake_fd;
    gint quit; /* atomic */

    /* Device thread only. */
    GArray *pfds;      /* struct pollfd; [0] is wake_fd */
    GPtrArray *timers; /* VnetTimer*, owned */
    VnetSync sync;
    Vring ring[VNET_NUM_QUEUES];
    bool live[VNET_NUM_QUEUES]; /* ring set up for sync.gen */
    bool used[VNET_NUM_QUEUES]; /* buffers returned this pass */
    GQueue backlog;             /* GBytes* frames for the guest */
    VringChain chain;
    uint8_t buf[VNET_HDR_LEN + VNET_MAX_FRAME];

    GMutex stats_lock;
    VnetStats stats;
};

/* ---- netdev option ---- */

/*
 * Decimal digits only, 1 to 65535.  Not g_ascii_string_to_unsigned(): it
 * takes errno != 0 after its g_ascii_strtoull() for an error, and the
 * first g_ascii_strtoull() of a process can leave errno set on success
 * (GLib 2.74: EAGAIN from a futex wait on GLib's g_once lock while another
 * thread holds it, and the server's threads run by then), so a valid port
 * failed now and then.
 */
static bool vnet_parse_port(const char *s, int *port)
{
    int v = 0;

    for (; *s; s++) {
        if (!g_ascii_isdigit(*s)) {
            return false;
        }
        v = v * 10 + (*s - '0');
        if (v > 65535) {
            return false;
        }
    }
    if (!v) { /* "", or 0 */
        return false;
    }
    *port = v;
    return true;
}

/* "tcp:[127.0.0.1]:PORT-[GUESTADDR]:GUESTPORT" (QEMU's spelling). */
static bool vnet_parse_hostfwd(const char *s, VnetHostFwd *f, GError **errp)
{
    g_auto(GStrv) sides = g_strsplit(s, "-", 2);
    g_auto(GStrv) h = NULL;
    g_auto(GStrv) g = NULL;

    if (!sides[0] || !sides[1]) {
        goto bad;
    }
    h = g_strsplit(sides[0], ":", -1);
    g = g_strsplit(sides[1], ":", -1);
    if (g_strv_length(h) != 3 || g_strv_length(g) != 2) {
        goto bad;
    }
    if (!strcmp(h[0], "tcp")) {
        f->udp = false;
    } else if (!strcmp(h[0], "udp")) {
        f->udp = true;
    } else {
        goto bad;
    }
    if (*h[1] && strcmp(h[1], "127.0.0.1")) {
        return vfio_user_error_set(
            errp, EINVAL,
            "hostfwd: host address must be 127.0.0.1 (loopback only), not '%s'",
            h[1]);
    }
    f->host_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!*g[0]) {
        inet_pton(AF_INET, "10.0.2.15", &f->guest_addr);
    } else if (inet_pton(AF_INET, g[0], &f->guest_addr) != 1) {
        goto bad;
    }
    if (!vnet_parse_port(h[2], &f->host_port) ||
        !vnet_parse_port(g[1], &f->guest_port)) {
        goto bad;
    }
    return true;
bad:
    return vfio_user_error_set(
        errp, EINVAL,
        "hostfwd '%s': expected tcp|udp:[127.0.0.1]:PORT-[GUESTADDR]:GUESTPORT",
        s);
}

VnetBackend *vnet_backend_new(const char *netdev, GError **errp)
{
    g_auto(GStrv) opts = g_strsplit(netdev, ",", -1);
    VnetBackend *be;

    if (!opts[0] || strcmp(opts[0], "user")) {
        vfio_user_error_set(errp, EINVAL,
                            "--netdev: unknown backend '%s' (only 'user')",
                            opts[0] ? opts[0] : "");
        return NULL;
    }
    be = g_new0(VnetBackend, 1);
    be->wake_fd = -1;
    g_mutex_init(&be->stats_lock);
    g_queue_init(&be->backlog);
    for (unsigned i = 1; opts[i]; i++) {
        if (!g_str_has_prefix(opts[i], "hostfwd=")) {
            vfio_user_error_set(
                errp, EINVAL,
                "--netdev user: unknown option '%s' (only hostfwd=)", opts[i]);
            goto fail;
        }
        if (be->nr_fwd == VNET_MAX_HOSTFWD) {
            vfio_user_error_set(errp, EINVAL,
                                "--netdev user: more than %d hostfwd",
                                VNET_MAX_HOSTFWD);
            goto fail;
        }
        if (!vnet_parse_hostfwd(opts[i] + strlen("hostfwd="),
                                &be->fwd[be->nr_fwd], errp)) {
            goto fail;
        }
        be->nr_fwd++;
    }
    return be;
fail:
    vnet_backend_free(be);
    return NULL;
}

/* ---- guest memory through the library ---- */

static bool vnet_mem_read(void *opaque, uint64_t addr, void *buf, size_t len,
                          GError **errp)
{
    return vus_dma_read(opaque, addr, buf, len, errp);
}

static bool vnet_mem_write(void *opaque, uint64_t addr, const void *buf,
                           size_t len, GError **errp)
{
    return vus_dma_write(opaque, addr, buf, len, errp);
}

static bool vnet_mem_rwv(void *opaque, const VringIov *iov, size_t n,
                         bool is_write, GError **errp)
{
    VusDmaSeg segs[VRING_MAX_SIZE];

    g_assert(n <= G_N_ELEMENTS(segs));
    for (size_t i = 0; i < n; i++) {
        segs[i] = (VusDmaSeg){iov[i].addr, iov[i].buf, iov[i].len};
    }
    return is_write ? vus_dma_writev(opaque, segs, n, errp)
                    : vus_dma_readv(opaque, segs, n, errp);
}

static VringMem vnet_mem(VnetBackend *be)
{
    return (VringMem){.read = vnet_mem_read,
                      .write = vnet_mem_write,
                      .rwv = vnet_mem_rwv,
                      .opaque = be->dev->srv};
}

/* ---- the filter ---- */

bool vnet_frame_allowed(const uint8_t *frame, size_t len)
{
    uint16_t type;
    uint32_t dst;

    if (len < 14) {
        return false;
    }
    type = (uint16_t)(frame[12] << 8 | frame[13]);
    if (type == 0x0806) { /* ARP */
        return true;
    }
    if (type != 0x0800 || len < 14 + 20) {
        return false;
    }
    memcpy(&dst, frame + 14 + 16, 4);
    dst = ntohl(dst);
    return (dst & 0xffffff00u) == 0x0a000200u || dst == 0xffffffffu;
}

/* ---- queues ---- */

static void vnet_stat_add(VnetBackend *be, uint64_t *counter, uint64_t n)
{
    g_mutex_lock(&be->stats_lock);
    *counter += n;
    g_mutex_unlock(&be->stats_lock);
}

/* The driver broke a rule: stop using the rings until a reset. */
static void vnet_broken(VnetBackend *be, GError *err)
{
    vnet_fail(be->dev, be->sync.gen, err->message);
    g_error_free(err);
    memset(be->live, 0, sizeof(be->live));
}

/* Take a new snapshot; set up rings the driver enabled. */
static void vnet_resync(VnetBackend *be)
{
    uint32_t old = be->sync.gen;
    GError *err = NULL;

    vnet_sync(be->dev, &be->sync);
    if (be->sync.gen != old || !be->sync.running) {
        memset(be->live, 0, sizeof(be->live));
    }
    if (be->sync.gen != old) {
        g_queue_clear_full(&be->backlog, (GDestroyNotify)g_bytes_unref);
    }
    if (!be->sync.running) {
        return;
    }
    for (unsigned i = 0; i < VNET_NUM_QUEUES; i++) {
        const VnetQueue *q = &be->sync.q[i];

        if (be->live[i] || !q->enabled) {
            continue;
        }
        be->ring[i] = (Vring){.num = q->size,
                              .desc = q->desc,
                              .avail = q->avail,
                              .used = q->used};
        if (!vring_check_config(&be->ring[i], &err)) {
            g_prefix_error(&err, "queue %u: ", i);
            vnet_broken(be, err);
            return;
        }
        be->live[i] = true;
        be->sync.kick[i] = true; /* look at what is already there */
    }
}

/* One guest frame (virtio-net header first) to slirp. */
static void vnet_tx_one(VnetBackend *be, const VringMem *mem)
{
    VringChain *c = &be->chain;
    size_t len = (size_t)c->out_bytes;
    GError *err = NULL;

    if (c->nin || len < VNET_HDR_LEN) {
        vfio_user_error_set(&err, EINVAL,
                            "tx chain %u: %u writable, %zu bytes (header %u)",
                            c->head, c->nin, len, VNET_HDR_LEN);
        vnet_broken(be, err);
        return;
    }
    if (!vring_chain_read(c, mem, be->buf, len, &err) ||
        !vring_push(&be->ring[VNET_TXQ], mem, c->head, 0, &err)) {
        vnet_broken(be, err);
        return;
    }
    be->used[VNET_TXQ] = true;
    len -= VNET_HDR_LEN;
    if (!vnet_frame_allowed(be->buf + VNET_HDR_LEN, len)) {
        vnet_stat_add(be, &be->stats.tx_filtered, 1);
        return;
    }
    g_mutex_lock(&be->stats_lock);
    be->stats.tx_packets++;
    be->stats.tx_bytes += len;
    g_mutex_unlock(&be->stats_lock);
    slirp_input(be->slirp, be->buf + VNET_HDR_LEN, (int)len);
}

/* Send what the driver queued; true when chains may be left. */
static bool vnet_tx(VnetBackend *be)
{
    VringMem mem = vnet_mem(be);
    GError *err = NULL;

    for (unsigned n = 0; n < VNET_TX_BURST; n++) {
        if (!be->live[VNET_TXQ]) {
            return false;
        }
        switch (vring_pop(&be->ring[VNET_TXQ], &mem,
                          VNET_HDR_LEN + VNET_MAX_FRAME, &be->chain, &err)) {
        case VRING_POP_ERROR:
            vnet_broken(be, err);
            return false;
        case VRING_POP_EMPTY:
            return false;
        case VRING_POP_OK:
            vnet_tx_one(be, &mem);
            break;
        }
    }
    return true;
}

/* One frame into the next receive buffer; false when there is none. */
static bool vnet_rx_one(VnetBackend *be, const uint8_t *frame, size_t len)
{
    struct virtio_net_hdr_v1 hdr = {.num_buffers = GUINT16_TO_LE(1)};
    VringMem mem = vnet_mem(be);
    VringChain *c = &be->chain;
    GError *err = NULL;

    if (!be->live[VNET_RXQ]) {
        return false;
    }
    switch (vring_pop(&be->ring[VNET_RXQ], &mem, UINT32_MAX, c, &err)) {
    case VRING_POP_ERROR:
        vnet_broken(be, err);
        return false;
    case VRING_POP_EMPTY:
        return false;
    case VRING_POP_OK:
        break;
    }
    if (c->nout) {
        vfio_user_error_set(&err, EINVAL,
                            "receive chain %u has %u readable descriptors",
                            c->head, c->nout);
    } else if (vring_chain_write(c, &mem, 0, &hdr, sizeof(hdr), &err) &&
               vring_chain_write(c, &mem, sizeof(hdr), frame, len, &err)) {
        vring_push(&be->ring[VNET_RXQ], &mem, c->head,
                   (uint32_t)(sizeof(hdr) + len), &err);
    }
    if (err) {
        vnet_broken(be, err);
        return false;
    }
    be->used[VNET_RXQ] = true;
    g_mutex_lock(&be->stats_lock);
    be->stats.rx_packets++;
    be->stats.rx_bytes += len;
    g_mutex_unlock(&be->stats_lock);
    return true;
}

/* Move the backlog into receive buffers while there are some. */
static void vnet_rx_flush(VnetBackend *be)
{
    GBytes *b;

    while ((b = g_queue_peek_head(&be->backlog))) {
        gsize len;
        const uint8_t *p = g_bytes_get_data(b, &len);

        if (!vnet_rx_one(be, p, len)) {
            return;
        }
        g_bytes_unref(g_queue_pop_head(&be->backlog));
    }
}

/* Interrupts for the queues that returned buffers this pass. */
static void vnet_irqs(VnetBackend *be)
{
    VringMem mem = vnet_mem(be);

    for (unsigned i = 0; i < VNET_NUM_QUEUES; i++) {
        GError *err = NULL;

        if (!be->used[i]) {
            continue;
        }
        be->used[i] = false;
        if (!be->live[i]) {
            continue;
        }
        if (vring_want_interrupt(&be->ring[i], &mem, &err)) {
            if (err) {
                vnet_broken(be, err);
                continue;
            }
            vnet_notify_queue(be->dev, be->sync.gen, i);
        }
    }
}

/* ---- slirp callbacks ---- */

static ssize_t vnet_send_packet(const void *buf, size_t len, void *opaque)
{
    VnetBackend *be = opaque;

    if (len > VNET_MAX_FRAME) {
        vnet_stat_add(be, &be->stats.rx_dropped, 1);
        return (ssize_t)len;
    }
    if (!g_queue_is_empty(&be->backlog) || !vnet_rx_one(be, buf, len)) {
        if (g_queue_get_length(&be->backlog) >= VNET_RX_BACKLOG) {
            vnet_stat_add(be, &be->stats.rx_dropped, 1);
        } else {
            g_queue_push_tail(&be->backlog, g_bytes_new(buf, len));
        }
    }
    return (ssize_t)len;
}

static void vnet_guest_error(const char *msg, void *opaque)
{
    (void)opaque;
    g_message("virtio-net: slirp: guest error: %s", msg);
}

static int64_t vnet_clock_ns(void *opaque)
{
    (void)opaque;
    return g_get_monotonic_time() * 1000;
}

static void *vnet_timer_new_opaque(SlirpTimerId id, void *cb_opaque,
                                   void *opaque)
{
    VnetBackend *be = opaque;
    VnetTimer *t = g_new0(VnetTimer, 1);

    t->id = id;
    t->cb_opaque = cb_opaque;
    t->expire_ms = -1;
    g_ptr_array_add(be->timers, t);
    return t;
}

static void vnet_timer_free(void *timer, void *opaque)
{
    VnetBackend *be = opaque;

    g_ptr_array_remove_fast(be->timers, timer); /* frees it */
}

static void vnet_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    ((VnetTimer *)timer)->expire_ms = expire_ms;
}

static void vnet_poll_fd_nop(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

static void vnet_notify(void *opaque)
{
    vnet_backend_wake(opaque);
}

static const SlirpCb vnet_slirp_cb = {
    .send_packet = vnet_send_packet,
    .guest_error = vnet_guest_error,
    .clock_get_ns = vnet_clock_ns,
    .timer_free = vnet_timer_free,
    .timer_mod = vnet_timer_mod,
    .register_poll_fd = vnet_poll_fd_nop,
    .unregister_poll_fd = vnet_poll_fd_nop,
    .notify = vnet_notify,
    .timer_new_opaque = vnet_timer_new_opaque,
};

static int vnet_add_poll(int fd, int events, void *opaque)
{
    VnetBackend *be = opaque;
    struct pollfd p = {.fd = fd};

    if (events & SLIRP_POLL_IN) {
        p.events |= POLLIN;
    }
    if (events & SLIRP_POLL_OUT) {
        p.events |= POLLOUT;
    }
    if (events & SLIRP_POLL_PRI) {
        p.events |= POLLPRI;
    }
    g_array_append_val(be->pfds, p);
    return (int)be->pfds->len - 1;
}

static int vnet_get_revents(int idx, void *opaque)
{
    VnetBackend *be = opaque;
    short r = g_array_index(be->pfds, struct pollfd, idx).revents;
    int ev = 0;

    ev |= (r & POLLIN) ? SLIRP_POLL_IN : 0;
    ev |= (r & POLLOUT) ? SLIRP_POLL_OUT : 0;
    ev |= (r & POLLPRI) ? SLIRP_POLL_PRI : 0;
    ev |= (r & POLLERR) ? SLIRP_POLL_ERR : 0;
    ev |= (r & POLLHUP) ? SLIRP_POLL_HUP : 0;
    return ev;
}

/* ---- the device thread ---- */

/* Milliseconds to the first armed timer, or -1. */
static int vnet_timers_timeout(VnetBackend *be, int timeout)
{
    int64_t now = g_get_monotonic_time() / 1000;

    for (guint i = 0; i < be->timers->len; i++) {
        VnetTimer *t = g_ptr_array_index(be->timers, i);
        int64_t left;

        if (t->expire_ms < 0) {
            continue;
        }
        left = MAX(t->expire_ms - now, 0);
        if (timeout < 0 || left < timeout) {
            timeout = (int)MIN(left, (int64_t)G_MAXINT);
        }
    }
    return timeout;
}

static void vnet_timers_run(VnetBackend *be)
{
    int64_t now = g_get_monotonic_time() / 1000;

    for (guint i = 0; i < be->timers->len; i++) {
        VnetTimer *t = g_ptr_array_index(be->timers, i);

        if (t->expire_ms >= 0 && t->expire_ms <= now) {
            t->expire_ms = -1;
            slirp_handle_timer(be->slirp, t->id, t->cb_opaque);
        }
    }
}

/* Queue work after a wake-up; true when more is waiting. */
static bool vnet_work(VnetBackend *be)
{
    bool more = false;

    vnet_resync(be);
    if (be->sync.kick[VNET_RXQ] || !g_queue_is_empty(&be->backlog)) {
        vnet_rx_flush(be);
    }
    if (be->sync.kick[VNET_TXQ] && vnet_tx(be)) {
        more = true;
        g_mutex_lock(&be->dev->lock);
        be->dev->kick[VNET_TXQ] = true;
        g_mutex_unlock(&be->dev->lock);
    }
    return more;
}

static void vnet_drain_wake(VnetBackend *be)
{
    uint64_t v;

    while (read(be->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR) {
    }
}

static gpointer vnet_thread(gpointer opaque)
{
    VnetBackend *be = opaque;
    bool more = false;

    while (!g_atomic_int_get(&be->quit)) {
        struct pollfd wake = {.fd = be->wake_fd, .events = POLLIN};
        uint32_t slirp_timeout = UINT32_MAX;
        int timeout, ret;

        g_array_set_size(be->pfds, 0);
        g_array_append_val(be->pfds, wake);
        slirp_pollfds_fill(be->slirp, &slirp_timeout, vnet_add_poll, be);
        timeout = slirp_timeout == UINT32_MAX ? -1 : (int)slirp_timeout;
        timeout = more ? 0 : vnet_timers_timeout(be, timeout);
        ret = poll((struct pollfd *)be->pfds->data, be->pfds->len, timeout);
        if (ret < 0 && errno != EINTR) {
            g_warning("virtio-net: poll: %s", g_strerror(errno));
        }
        if (g_array_index(be->pfds, struct pollfd, 0).revents & POLLIN) {
            vnet_drain_wake(be);
        }
        more = vnet_work(be);
        slirp_pollfds_poll(be->slirp, ret < 0, vnet_get_revents, be);
        vnet_timers_run(be);
        vnet_irqs(be);
    }
    return NULL;
}

bool vnet_backend_start(VnetBackend *be, VnetDevice *dev, GError **errp)
{
    SlirpConfig cfg = {
        .version = 4,
        .restricted = 0,
        .in_enabled = true,
        .in6_enabled = false,
        .disable_dns = true,
        .disable_host_loopback = false,
        .if_mtu = 1500,
        .if_mru = 1500,
    };

    inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
    inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
    inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
    inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
    inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
    be->dev = dev;
    be->pfds = g_array_new(false, false, sizeof(struct pollfd));
    be->timers = g_ptr_array_new_with_free_func(g_free);
    be->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (be->wake_fd < 0) {
        return vfio_user_error_set(errp, errno, "eventfd: %s",
                                   g_strerror(errno));
    }
    be->slirp = slirp_new(&cfg, &vnet_slirp_cb, be);
    if (!be->slirp) {
        return vfio_user_error_set(errp, EINVAL, "slirp_new failed");
    }
    for (unsigned i = 0; i < be->nr_fwd; i++) {
        VnetHostFwd *f = &be->fwd[i];

        errno = 0;
        if (slirp_add_hostfwd(be->slirp, f->udp, f->host_addr, f->host_port,
                              f->guest_addr, f->guest_port) < 0) {
            /* slirp keeps the errno of the socket call that failed */
            int err = errno ? errno : EADDRINUSE;

            return vfio_user_error_set(
                errp, err, "hostfwd: cannot listen on %s 127.0.0.1:%d: %s",
                f->udp ? "udp" : "tcp", f->host_port, g_strerror(err));
        }
    }
    be->sync.gen = dev->reset_gen;
    be->thread = g_thread_new("virtio-net", vnet_thread, be);
    return true;
}

void vnet_backend_wake(VnetBackend *be)
{
    uint64_t one = 1;

    if (be && be->wake_fd >= 0) {
        while (write(be->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR) {
        }
    }
}

void vnet_backend_stop(VnetBackend *be)
{
    if (be && be->thread) {
        g_atomic_int_set(&be->quit, 1);
        vnet_backend_wake(be);
        g_thread_join(be->thread);
        be->thread = NULL;
    }
}

void vnet_backend_free(VnetBackend *be)
{
    if (!be) {
        return;
    }
    vnet_backend_stop(be);
    if (be->slirp) {
        slirp_cleanup(be->slirp);
    }
    if (be->timers) {
        g_ptr_array_free(be->timers, true);
    }
    if (be->pfds) {
        g_array_free(be->pfds, true);
    }
    if (be->wake_fd >= 0) {
        close(be->wake_fd);
    }
    g_queue_clear_full(&be->backlog, (GDestroyNotify)g_bytes_unref);
    g_mutex_clear(&be->stats_lock);
    g_free(be);
}

void vnet_backend_stats(VnetBackend *be, VnetStats *st)
{
    g_mutex_lock(&be->stats_lock);
    *st = be->stats;
    g_mutex_unlock(&be->stats_lock);
}
