/*
 * libFuzzer target: the client library's handling of everything a server
 * can send once VERSION is negotiated.
 *
 * Per input: a socketpair; a valid VERSION reply is queued before the
 * proxy connects; a feeder thread plays the server: it accepts the three
 * DMA maps of a small container (anonymous guest RAM, so the maps are
 * served by DMA_READ/DMA_WRITE messages), then sends the input as the
 * server's further messages, while the main thread drives the client
 * (device init and I/O, raw proxy calls, or one call that waits while the
 * input's DMA requests are served).
 *
 * Input layout: byte 0 selects the behaviour (bit 0: give each reply the
 * id of the client request it follows; bits 1-2: the client workload;
 * bit 3: every reply carries a 64 KiB memfd (region fds), bit 4: and an
 * eventfd (io fds)),
 * then messages, cut at the size in each header (a bad size sends the
 * rest raw).  Every wait is bounded by a 50 ms message timeout and the
 * feeder hangs up after the last byte, so nothing waits for long.
 *
 * Oracles besides the sanitizers: guest memory outside the writable maps
 * (the read-only map and the unmapped gaps) never changes, and no fd
 * outlives the input.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib.h>

#include "hw/vfio-user/container.h"
#include "hw/vfio-user/device.h"
#include "hw/vfio-user/proxy.h"
#include "vfio-user/caps.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

#define MSG_TIMEOUT_MS 50
#define WAIT_REQUEST_MS 20
#define GUEST_SIZE 0x10000
#define N_MAPS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* iova, offset in guest[], size, read-only */
static const struct {
    uint64_t iova;
    size_t off;
    uint64_t size;
    bool ro;
} maps[N_MAPS] = {
    {0x10000, 0x1000, 0x4000, false},
    {0x14000, 0x5000, 0x4000, true},
    {0x20000, 0xa000, 0x2000, false},
};

static uint8_t guest[GUEST_SIZE];

typedef struct Feeder {
    int sock;
    const uint8_t *data;
    size_t size;
    int fds[2]; /* sent with every reply: a memfd, an eventfd (or -1) */
    size_t nfds;
    bool patch_ids;
} Feeder;

static bool wait_readable(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    return poll(&pfd, 1, ms) > 0;
}

/*
 * Read client messages until a request arrives (within @ms); its header
 * goes to @req.  Replies (to DMA requests of the input) are skipped.
 * Returns false on timeout, EOF or error.
 */
static bool next_request(int sock, VFIOUserHdr *req, int ms)
{
    for (;;) {
        int fds[VFIO_USER_MAX_FDS];
        size_t nfds;
        bool ok;

        if (!wait_readable(sock, ms) ||
            !vfio_user_msg_recv_hdr(sock, req, fds, &nfds, VFIO_USER_MAX_FDS,
                                    1u << 24, NULL)) {
            return false;
        }
        vfio_user_close_fds(fds, nfds);
        ok = vfio_user_msg_discard(sock, req->size - sizeof(*req), NULL);
        if (!ok) {
            return false;
        }
        if (!vfio_user_hdr_is_reply(req)) {
            return true;
        }
    }
}

static bool send_all(int sock, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = send(sock, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

/* Send @len bytes with copies of @fds on the first byte. */
static bool send_with_fds(int sock, const void *buf, size_t len, const int *fds,
                          size_t nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 2)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *c;

    if (!nfds || !len) {
        return send_all(sock, buf, len);
    }
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1) {
        return false;
    }
    return send_all(sock, (const uint8_t *)buf + 1, len - 1);
}

/* Accept the container's DMA_MAPs (the VERSION request is skipped). */
static bool feed_maps(int sock)
{
    for (int i = 0; i < N_MAPS;) {
        VFIOUserHdr req, hdr;

        if (!next_request(sock, &req, 1000)) {
            return false;
        }
        if (req.cmd != VFIO_USER_DMA_MAP) {
            continue;
        }
        vfio_user_hdr_init(&hdr, req.id, req.cmd, sizeof(hdr),
                           VFIO_USER_F_TYPE_REPLY);
        if (!send_all(sock, &hdr, sizeof(hdr))) {
            return false;
        }
        i++;
    }
    return true;
}

/* Send the input message by message; replies follow client requests. */
static void feed_input(Feeder *f)
{
    size_t pos = 0;
    bool lockstep = true;

    while (pos < f->size) {
        size_t left = f->size - pos, len = left;
        uint8_t msg[65536 + 16];
        VFIOUserHdr hdr, req;

        if (left >= sizeof(hdr)) {
            memcpy(&hdr, f->data + pos, sizeof(hdr));
            if (hdr.size >= sizeof(hdr) && hdr.size <= left) {
                len = hdr.size;
            }
        }
        memcpy(msg, f->data + pos, len);
        if (len >= sizeof(hdr) && vfio_user_hdr_is_reply(&hdr) && lockstep) {
            if (next_request(f->sock, &req, WAIT_REQUEST_MS)) {
                if (f->patch_ids) {
                    memcpy(msg, &req.id, sizeof(req.id));
                }
            } else {
                lockstep = false;
            }
        }
        if (!send_with_fds(f->sock, msg, len, f->fds,
                           len >= sizeof(hdr) && vfio_user_hdr_is_reply(&hdr)
                               ? f->nfds
                               : 0)) {
            return;
        }
        pos += len;
    }
}

static gpointer feeder_main(gpointer opaque)
{
    Feeder *f = opaque;
    char sink[4096];

    if (feed_maps(f->sock)) {
        feed_input(f);
    }
    shutdown(f->sock, SHUT_WR);
    /* Drain until the client closes, so that it never blocks on a send. */
    while (wait_readable(f->sock, 5000) &&
           recv(f->sock, sink, sizeof(sink), 0) > 0) {
    }
    return NULL;
}

static void queue_version_reply(int sock)
{
    static const char json[] =
        "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":65536,\"pgsizes\":4096,\"write_multiple\":true}}";
    uint8_t buf[sizeof(VFIOUserHdr) + 4 + sizeof(json)];
    VFIOUserHdr hdr;
    uint16_t v[2] = {0, 1};

    vfio_user_hdr_init(&hdr, 0, VFIO_USER_VERSION, sizeof(buf),
                       VFIO_USER_F_TYPE_REPLY);
    memcpy(buf, &hdr, sizeof(hdr));
    memcpy(buf + sizeof(hdr), v, sizeof(v));
    memcpy(buf + sizeof(hdr) + 4, json, sizeof(json));
    if (!send_all(sock, buf, sizeof(buf))) {
        abort();
    }
}

static void workload_device(VFIOUserProxy *p)
{
    VFIOUserDevice dev;
    struct vfio_irq_info irq;
    uint64_t v = 0x1122334455667788ull;
    int efd[2] = {eventfd(0, EFD_CLOEXEC), -1};

    if (vfio_user_device_init(&dev, p, NULL)) {
        vfio_user_region_read(&dev, 0, 0, &v, sizeof(v), NULL);
        vfio_user_region_write(&dev, 0, 8, &v, 4, true, NULL);
        vfio_user_region_write(&dev, 0, 8, &v, 4, false, NULL);
        vfio_user_device_get_irq_info(&dev, 0, &irq, NULL);
        vfio_user_device_set_irqs(
            &dev, 0, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0,
            2, efd, NULL, NULL);
        vfio_user_device_get_region_io_fds(&dev, 0, NULL);
        vfio_user_device_reset(&dev, NULL);
        vfio_user_device_cleanup(&dev);
    }
    close(efd[0]);
}

static void workload_raw(VFIOUserProxy *p)
{
    uint8_t reply[256], q[32] = {32};
    int fds[4];
    struct iovec iov = {.iov_base = q, .iov_len = sizeof(q)};
    struct iovec riov = {.iov_base = reply, .iov_len = sizeof(reply)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_GET_REGION_INFO,
        .iov = &iov,
        .iovcnt = 1,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
        .reply_fds = fds,
        .reply_max_fds = 4,
    };

    if (vfio_user_proxy_call(p, &req, NULL)) {
        vfio_user_close_fds(fds, req.reply_nfds);
    }
    req.cmd = VFIO_USER_REGION_WRITE;
    req.reply_fds = NULL;
    req.reply_max_fds = 0;
    vfio_user_proxy_post(p, &req, NULL);
    req.cmd = VFIO_USER_DEVICE_GET_INFO;
    req.iov = NULL;
    req.iovcnt = 0;
    vfio_user_proxy_call(p, &req, NULL);
}

static void workload_wait(VFIOUserProxy *p)
{
    uint8_t reply[16];
    struct iovec riov = {.iov_base = reply, .iov_len = sizeof(reply)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DEVICE_RESET,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
    };

    vfio_user_proxy_call(p, &req, NULL);
}

/* Guest RAM the server may never change: the read-only map, the gaps. */
static bool guest_intact(void)
{
    for (size_t i = 0; i < GUEST_SIZE; i++) {
        bool writable = false;

        for (int m = 0; m < N_MAPS; m++) {
            if (!maps[m].ro && i >= maps[m].off &&
                i < maps[m].off + maps[m].size) {
                writable = true;
            }
        }
        if (!writable && guest[i] != (uint8_t)(i * 13 + 1)) {
            return false;
        }
    }
    return true;
}

static void run_client(int sock, uint8_t ctl)
{
    VFIOUserProxyOptions o;
    VFIOUserContainer *c;
    VFIOUserProxy *p;
    bool mapped = true;

    vfio_user_proxy_options_init(&o);
    o.msg_timeout_ms = MSG_TIMEOUT_MS;
    p = vfio_user_proxy_new_from_fd(sock, &o, NULL);
    if (!p) {
        abort(); /* the VERSION reply is valid */
    }
    c = vfio_user_container_new(p, VFIO_USER_DMA_ACCESS_AUTO);
    for (int m = 0; m < N_MAPS && mapped; m++) {
        VFIOUserDMASection s = {
            .name = "fuzz-ram",
            .iova = maps[m].iova,
            .size = maps[m].size,
            .host = guest + maps[m].off,
            .fd = -1,
            .readonly = maps[m].ro,
        };

        mapped = vfio_user_container_map(c, &s, NULL);
    }
    if (mapped) {
        switch ((ctl >> 1) & 3) {
        case 0:
            workload_device(p);
            break;
        case 1:
            workload_raw(p);
            break;
        default:
            workload_wait(p);
            break;
        }
    }
    vfio_user_container_free(c);
    vfio_user_proxy_close(p);
}

static void quiet_log(const gchar *domain, GLogLevelFlags level,
                      const gchar *message, gpointer opaque)
{
    (void)domain;
    (void)level;
    (void)message;
    (void)opaque;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const domains[] = {
        "vfio-user-proxy",
        "vfio-user-dma",
        "vfio-user-device",
    };
    static bool init;
    unsigned fds0;
    Feeder f = {0};
    GThread *t;
    int sv[2];

    if (size < 1 || size > 65536) {
        return 0;
    }
    if (!init) {
        init = true;
        g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
        for (size_t i = 0; i < G_N_ELEMENTS(domains); i++) {
            g_log_set_handler(domains[i],
                              G_LOG_LEVEL_MASK & ~G_LOG_LEVEL_CRITICAL,
                              quiet_log, NULL);
        }
    }
    /* Counted per input: libFuzzer itself opens fds between inputs. */
    fds0 = vut_count_fds();
    for (size_t i = 0; i < GUEST_SIZE; i++) {
        guest[i] = (uint8_t)(i * 13 + 1);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        abort();
    }
    queue_version_reply(sv[1]);
    f.sock = sv[1];
    f.data = data + 1;
    f.size = size - 1;
    f.patch_ids = data[0] & 1;
    f.fds[0] = f.fds[1] = -1;
    if (data[0] & 8) {
        f.fds[f.nfds] = memfd_create("fuzz-region", MFD_CLOEXEC);
        if (f.fds[f.nfds] < 0 || ftruncate(f.fds[f.nfds], 0x10000) < 0) {
            abort();
        }
        f.nfds++;
    }
    if (data[0] & 16) {
        f.fds[f.nfds++] = eventfd(0, EFD_CLOEXEC);
    }
    t = g_thread_new("fuzz-feeder", feeder_main, &f);
    run_client(sv[0], data[0]);
    g_thread_join(t);
    close(sv[1]);
    vfio_user_close_fds(f.fds, f.nfds);
    if (!guest_intact() || vut_count_fds() != fds0) {
        abort();
    }
    return 0;
}
